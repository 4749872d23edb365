"""Tensor creation, with PyTorch's names: tensor from_numpy zeros ones full empty eye arange
linspace rand randn randint and the ``*_like`` forms.

Floats get the default dtype (float32; ``engine.set_default_dtype``) unless ``dtype=`` says
otherwise; ``arange`` and ``full`` with integers give int64 as in PyTorch. Random draws come
from the generator ``engine.manual_seed`` seeds.
"""
from __future__ import annotations

import numpy as np

from .random import get_rng
from .tensor import Tensor, from_dlpack, from_numpy, get_default_dtype

__all__ = ["tensor", "from_numpy", "from_dlpack", "zeros", "ones", "full", "empty", "eye",
           "arange", "linspace",
           "rand", "randn", "randint", "zeros_like", "ones_like", "full_like", "empty_like",
           "rand_like", "randn_like"]


def _shape(shape):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"a shape is non-negative ints, got {shape!r}")
    return shape


def tensor(data, requires_grad=False, dtype=None, name="") -> Tensor:
    """A new Tensor holding a copy of ``data``: ints → int64, bools → bool, floats → float32.

    >>> tensor([1, 2, 3])
    tensor([1, 2, 3], shape=(3,), dtype=int64)
    >>> tensor([1.0, 2.0])
    tensor([1., 2.], shape=(2,), dtype=float32)
    """
    if type(data) is int:  # the number (Tensor(3) refuses it: PyTorch's is a shape)
        data = np.asarray(data)
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def _make(array, dtype, requires_grad, name=""):
    return Tensor(array, requires_grad=requires_grad, dtype=dtype or get_default_dtype(),
                  name=name)


def zeros(*shape, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.zeros(_shape(shape)), dtype, requires_grad, name)


def ones(*shape, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.ones(_shape(shape)), dtype, requires_grad, name)


def empty(*shape, dtype=None, requires_grad=False, name="") -> Tensor:
    """Uninitialised in PyTorch; zeros here (no garbage a student could mistake for data)."""
    return zeros(*shape, dtype=dtype, requires_grad=requires_grad, name=name)


def full(shape, fill_value, dtype=None, requires_grad=False, name="") -> Tensor:
    """``fill_value`` everywhere; its type sets the dtype when ``dtype`` is None (as PyTorch)."""
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (shape,))
    return Tensor(np.full(shape, fill_value), requires_grad=requires_grad, dtype=dtype, name=name)


def _like(t, dtype):
    return np.shape(t), dtype or getattr(t, "dtype", None)


def zeros_like(t, dtype=None, requires_grad=False, name="") -> Tensor:
    shape, dtype = _like(t, dtype)
    return Tensor(np.zeros(shape), requires_grad, dtype or get_default_dtype(), name)


def ones_like(t, dtype=None, requires_grad=False, name="") -> Tensor:
    shape, dtype = _like(t, dtype)
    return Tensor(np.ones(shape), requires_grad, dtype or get_default_dtype(), name)


def full_like(t, fill_value, dtype=None, requires_grad=False, name="") -> Tensor:
    shape, dtype = _like(t, dtype)
    return full(shape, fill_value, dtype, requires_grad, name)


empty_like = zeros_like


def _float_dtype(what, dtype):
    """A random float draw's dtype: PyTorch has no uniform or normal integers (it raises
    NotImplementedError); a cast would give all zeros, so anything but a float is refused."""
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise TypeError(f"{what}: dtype must be a floating point dtype, got "
                        f"{np.dtype(dtype)} (PyTorch refuses it too); for random integers "
                        f"use engine.randint(low, high, size)")
    return dtype


def rand(*shape, dtype=None, requires_grad=False, name="") -> Tensor:
    """Uniform on [0, 1); ``dtype`` a float dtype (default float32)."""
    dtype = _float_dtype("rand", dtype)
    return _make(get_rng().random(_shape(shape)), dtype, requires_grad, name)


def randn(*shape, dtype=None, requires_grad=False, name="") -> Tensor:
    """Standard normal; ``dtype`` a float dtype (default float32)."""
    dtype = _float_dtype("randn", dtype)
    return _make(get_rng().standard_normal(_shape(shape)), dtype, requires_grad, name)


def rand_like(t, dtype=None, requires_grad=False) -> Tensor:
    """``rand`` of ``t``'s shape and dtype (an integer ``t`` needs a float ``dtype=``)."""
    shape, dtype = _like(t, dtype)
    return rand(*shape, dtype=_float_dtype("rand_like", dtype), requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False) -> Tensor:
    """``randn`` of ``t``'s shape and dtype (an integer ``t`` needs a float ``dtype=``)."""
    shape, dtype = _like(t, dtype)
    return randn(*shape, dtype=_float_dtype("randn_like", dtype), requires_grad=requires_grad)


def randperm(n, dtype=np.int64, requires_grad=False) -> Tensor:
    """A random permutation of 0 … n − 1 (PyTorch's ``torch.randperm``), int64."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be an integer ≥ 0, got {n!r}")
    return Tensor(get_rng().permutation(int(n)), dtype=dtype, requires_grad=requires_grad)


def randint(low, high=None, size=None, dtype=np.int64, requires_grad=False) -> Tensor:
    """Integers in [low, high), as PyTorch: ``randint(high, size)`` starts at 0,
    ``randint(low, high, size)``; ``size`` is required (a tuple)."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high  # randint(high, size)
    elif high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint: missing size (a tuple): randint(high, (n,)) or "
                        "randint(low, high, (n,))")
    if high <= low:
        raise ValueError(f"randint: low ({low}) must be smaller than high ({high})")
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return Tensor(get_rng().integers(low, high, size=size), dtype=dtype,
                  requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, name="") -> Tensor:
    """``start, start + step, …`` up to ``end`` (excluded); ``arange(n)`` is 0 … n − 1. Like
    PyTorch: integers give int64, any float argument gives the default float; a zero step,
    or a step that walks away from ``end`` (``arange(0, 1, -1)``), is an error, not an
    empty tensor."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is not None and np.dtype(dtype) == bool:
        raise TypeError("arange: dtype bool is not supported (as in PyTorch)")
    return Tensor(np.arange(start, end, step), requires_grad=requires_grad, dtype=dtype,
                  name=name)


def linspace(start, end, steps, dtype=None, requires_grad=False, name="") -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive. ``steps`` is an
    int ≥ 0 (a float such as 4.7 or 4.0 is a TypeError, as in PyTorch)."""
    if isinstance(steps, Tensor):
        steps = steps.item() if steps.ndim == 0 and steps.dtype.kind in "iu" else steps
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"linspace: steps must be an int, got {steps!r} "
                        f"({type(steps).__name__})")
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    return _make(np.linspace(start, end, int(steps)), dtype, requires_grad, name)


def eye(n, m=None, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.eye(n, m), dtype, requires_grad, name)
