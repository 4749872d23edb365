"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, NAdam, RAdam, Adadelta, LBFGS),
learning-rate schedulers (ExponentialLR, StepLR, MultiStepLR, ConstantLR, LinearLR,
PolynomialLR, LambdaLR, MultiplicativeLR, CosineAnnealingLR, CosineAnnealingWarmRestarts,
CyclicLR, OneCycleLR,
ReduceLROnPlateau, and the combinators SequentialLR and ChainedScheduler) and gradient
clipping.

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
from .optimizers import (SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, Optimizer, RAdam,
                         RMSprop)
from .schedulers import (ChainedScheduler, ConstantLR, CosineAnnealingLR,
                         CosineAnnealingWarmRestarts, CyclicLR, ExponentialLR, LambdaLR,
                         LinearLR, LRScheduler, MultiplicativeLR, MultiStepLR, OneCycleLR,
                         PolynomialLR, ReduceLROnPlateau, SequentialLR, StepLR)

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam",
           "Adadelta", "LBFGS", "LRScheduler", "ExponentialLR", "StepLR", "MultiStepLR",
           "ConstantLR", "LinearLR", "PolynomialLR", "LambdaLR", "MultiplicativeLR",
           "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR", "ReduceLROnPlateau",
           "SequentialLR", "ChainedScheduler", "clip_grad_norm_", "clip_grad_value_"]
