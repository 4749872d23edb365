"""PyTorch's ``torch.optim.lr_scheduler`` path to the schedulers (nn/optim/schedulers.py)."""
from .schedulers import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)

__all__ = ["CosineAnnealingLR", "CosineAnnealingWarmRestarts", "ExponentialLR", "LambdaLR",
           "LinearLR", "LRScheduler", "MultiStepLR", "OneCycleLR", "ReduceLROnPlateau", "StepLR"]
