"""Tensor creation: tensor zeros ones full zeros_like ones_like rand randn arange eye.

All take ``dtype`` (float32 by default) and ``requires_grad``; ``rand``/``randn`` draw from
the generator that ``engine.manual_seed`` seeds.
"""
from __future__ import annotations

import numpy as np

from .random import get_rng
from .tensor import Tensor


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def tensor(data, requires_grad=False, dtype=None, name="") -> Tensor:
    """A new Tensor holding a copy of ``data`` (float32 unless ``dtype`` says otherwise).

    >>> tensor([1, 2, 3])
    tensor([1., 2., 3.], shape=(3,), dtype=float32)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def _make(array, dtype, requires_grad, name=""):
    return Tensor(array, requires_grad=requires_grad, dtype=dtype or np.float32, name=name)


def zeros(*shape, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.zeros(_shape(shape)), dtype, requires_grad, name)


def ones(*shape, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.ones(_shape(shape)), dtype, requires_grad, name)


def full(shape, value, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.full(shape, value), dtype, requires_grad, name)


def zeros_like(t, dtype=None, requires_grad=False, name="") -> Tensor:
    return zeros(np.shape(t), dtype=dtype or getattr(t, "dtype", None),
                 requires_grad=requires_grad, name=name)


def ones_like(t, dtype=None, requires_grad=False, name="") -> Tensor:
    return ones(np.shape(t), dtype=dtype or getattr(t, "dtype", None), requires_grad=requires_grad,
                name=name)


def rand(*shape, dtype=None, requires_grad=False, name="") -> Tensor:
    """Uniform on [0, 1)."""
    return _make(get_rng().random(_shape(shape)), dtype, requires_grad, name)


def randn(*shape, dtype=None, requires_grad=False, name="") -> Tensor:
    """Standard normal."""
    return _make(get_rng().standard_normal(_shape(shape)), dtype, requires_grad, name)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.arange(start, stop, step) if stop is not None else np.arange(start),
                 dtype, requires_grad, name)


def eye(n, m=None, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.eye(n, m), dtype, requires_grad, name)
