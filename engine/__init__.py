"""stepgrad's autodiff core: scalar ``Value`` graphs and numpy-backed ``Tensor`` graphs.

>>> from engine import Value
>>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
>>> c = a * b + a ** 2; c.backward()   # dc/da = b + 2a = 1, dc/db = a = 2
>>> a.grad, b.grad
(1.0, 2.0)
"""
from stepgrad._shadow import check_siblings as _check_siblings  # first: a clear error
_check_siblings(__name__, __file__)  # if a local file hides a package this one needs
from .autograd import (
                       AnomalyError,
                       Op,
                       backward_steps,
                       detect_anomaly,
                       enable_grad,
                       is_grad_enabled,
                       no_grad,
)
from .creation import arange, eye, full, ones, ones_like, rand, randn, tensor, zeros, zeros_like
from .functional import cat, concatenate, maximum, minimum, split, stack, where
from .gradcheck import GradcheckError, gradcheck
from .memory import keep_freed_memory
from .ops.conv import conv2d
from .ops.lstm import lstm_c, lstm_h
from .ops.pool import avg_pool2d, max_pool2d
from .random import get_rng, manual_seed
from .tensor import Tensor
from .value import Constant, Value

keep_freed_memory()  # page faults were a third of a CNN training step (engine/memory.py)

__all__ = [
    "AnomalyError", "Constant", "GradcheckError", "Op", "Tensor", "Value", "arange",
    "avg_pool2d", "backward_steps", "cat", "concatenate", "conv2d", "detect_anomaly",
    "enable_grad", "eye", "full", "get_rng", "gradcheck", "is_grad_enabled",
    "keep_freed_memory", "lstm_c", "lstm_h",
    "manual_seed", "max_pool2d", "maximum", "minimum", "no_grad", "ones", "ones_like", "rand",
    "randn", "split", "stack", "tensor", "where", "zeros", "zeros_like",
]
