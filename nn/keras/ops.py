"""``keras.ops``: the Keras 3 ops that custom losses, metrics and ``Lambda`` layers of Keras's
guides call (``from keras import ops`` → ``from nn.keras import ops``), with Keras's
(numpy's) arguments, on Tensors (with gradients) or arrays::

    def custom_mean_squared_error(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

Each is a Tensor method or an ``engine`` function under Keras's name. Where Keras and
PyTorch differ, Keras's meaning is kept: ``std``/``var`` divide by n (numpy's ddof=0, not
PyTorch's n − 1), ``max``/``min`` return the values (PyTorch's ``max(dim)`` gives a pair).
An op not listed here is an AttributeError that says so.

>>> import numpy as np
>>> float(mean(square(np.array([1.0, 2.0]) - np.array([0.0, 0.0]))))
2.5
>>> float(std(np.array([1.0, 3.0])))   # Keras's: ÷ n
1.0
"""
from __future__ import annotations

import numpy as np

import engine
from engine import Tensor

__all__ = ["convert_to_tensor", "cast", "mean", "sum", "max", "min", "std", "var", "argmax",
           "argmin", "logsumexp", "square", "sqrt", "abs", "absolute", "exp", "log", "log1p",
           "sign", "tanh", "sigmoid", "relu", "softmax", "log_softmax", "maximum", "minimum",
           "clip", "where", "power", "matmul", "reshape", "transpose", "expand_dims",
           "squeeze", "concatenate", "stack", "ones_like", "zeros_like"]


def convert_to_tensor(x, dtype=None):
    """``x`` as a Tensor (a Tensor as it is; ``dtype`` casts)."""
    t = x if isinstance(x, Tensor) else engine.tensor(np.asarray(x))
    return t if dtype is None else cast(t, dtype)


def cast(x, dtype):
    return convert_to_tensor(x).astype(np.dtype(dtype))


def _t(x):
    return convert_to_tensor(x)


# -- reductions (axis=None: all; keepdims as numpy) ------------------------------------------
def mean(x, axis=None, keepdims=False):
    return _t(x).mean(axis=axis, keepdims=keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    return _t(x).sum(axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name: the values
    return _t(x).amax(axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name: the values
    return _t(x).amin(axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    """Keras's (numpy's) standard deviation: ÷ n (PyTorch's ``std`` divides by n − 1)."""
    return _t(x).std(axis=axis, keepdims=keepdims, correction=0)


def var(x, axis=None, keepdims=False):
    """Keras's (numpy's) variance: ÷ n (PyTorch's ``var`` divides by n − 1)."""
    return _t(x).var(axis=axis, keepdims=keepdims, correction=0)


def argmax(x, axis=None, keepdims=False):
    return _t(x).argmax(axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    return _t(x).argmin(axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    return _t(x).logsumexp(axis=axis, keepdims=keepdims)


# -- elementwise --------------------------------------------------------------------------------
def square(x): return _t(x).square()
def sqrt(x): return _t(x).sqrt()
def abs(x): return _t(x).abs()  # noqa: A001 - Keras's name
def exp(x): return _t(x).exp()
def log(x): return _t(x).log()
def log1p(x): return _t(x).log1p()
def sign(x): return _t(x).sign()
def tanh(x): return _t(x).tanh()
def sigmoid(x): return _t(x).sigmoid()
def relu(x): return _t(x).relu()
def softmax(x, axis=-1): return _t(x).softmax(axis=axis)
def log_softmax(x, axis=-1): return _t(x).log_softmax(axis=axis)
def maximum(x1, x2): return engine.maximum(x1, x2)
def minimum(x1, x2): return engine.minimum(x1, x2)
def clip(x, x_min, x_max): return _t(x).clip(x_min, x_max)
def where(condition, x1, x2): return engine.where(condition, x1, x2)
def power(x1, x2): return _t(x1) ** x2
def ones_like(x): return engine.ones_like(_t(x))
def zeros_like(x): return engine.zeros_like(_t(x))


absolute = abs


# -- shapes ---------------------------------------------------------------------------------------
def matmul(x1, x2): return _t(x1) @ x2
def reshape(x, newshape): return _t(x).reshape(newshape)
def expand_dims(x, axis): return _t(x).unsqueeze(axis)
def squeeze(x, axis=None): return _t(x).squeeze(axis)
def concatenate(xs, axis=0): return engine.concatenate([_t(x) for x in xs], axis=axis)
def stack(x, axis=0): return engine.stack([_t(t) for t in x], axis=axis)


def transpose(x, axes=None):
    """numpy's transpose: ``axes`` a permutation (None: all dims reversed)."""
    x = _t(x)
    return x.permute(*(reversed(range(x.ndim)) if axes is None else axes))


def __getattr__(name):
    raise AttributeError(f"keras.ops.{name} is not in stepgrad's nn.keras.ops (it has: "
                         f"{', '.join(__all__)}); compute with the Tensor's methods "
                         f"(x.{name}(...)) or engine's functions instead")
