"""Optimizers (SGD, Adam, AdamW, RMSprop, LBFGS), learning-rate schedulers (ExponentialLR,
StepLR, MultiStepLR, LinearLR, LambdaLR, CosineAnnealingLR, CosineAnnealingWarmRestarts,
OneCycleLR, ReduceLROnPlateau) and gradient clipping.

>>> import engine
>>> from nn import optim
>>> w = engine.tensor([3.0], requires_grad=True)
>>> opt = optim.SGD([w], lr=0.25)
>>> for _ in range(2):
...     opt.zero_grad(); (w * w).sum().backward(); opt.step()   # w ← w − 0.25·2w = w/2
>>> w.data
array([0.75], dtype=float32)
"""
from . import lr_scheduler  # noqa: F401 (torch.optim.lr_scheduler.StepLR)
from .clip import clip_grad_norm_, clip_grad_value_
from .lbfgs import LBFGS
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from .schedulers import (CosineAnnealingLR, CosineAnnealingWarmRestarts, ExponentialLR,
                         LambdaLR, LinearLR, LRScheduler, MultiStepLR, OneCycleLR,
                         ReduceLROnPlateau, StepLR)

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "LBFGS", "LRScheduler",
           "ExponentialLR", "StepLR", "MultiStepLR", "LinearLR", "LambdaLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "OneCycleLR", "ReduceLROnPlateau",
           "clip_grad_norm_", "clip_grad_value_"]
