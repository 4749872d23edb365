"""PyTorch's ``torch.optim.lr_scheduler`` path to the schedulers (nn/optim/schedulers.py)."""
from .schedulers import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    ReduceLROnPlateau,
    StepLR,
)

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LambdaLR", "LinearLR", "LRScheduler",
           "MultiStepLR", "ReduceLROnPlateau", "StepLR"]
