"""Tensor creation, with PyTorch's names: tensor from_numpy zeros ones full empty eye arange
linspace rand randn randint and the ``*_like`` forms.

Floats get the default dtype (float32; ``engine.set_default_dtype``) unless ``dtype=`` says
otherwise; ``arange`` and ``full`` with integers give int64 as in PyTorch. Random draws come
from the generator ``engine.manual_seed`` seeds.
"""
from __future__ import annotations

import functools

import numpy as np

from .device import cpu_only
from .random import generator_or_default, get_rng
from .tensor import Tensor, from_dlpack, from_numpy, get_default_dtype

__all__ = ["tensor", "from_numpy", "from_dlpack", "zeros", "ones", "full", "empty", "eye",
           "arange", "linspace",
           "rand", "randn", "randint", "zeros_like", "ones_like", "full_like", "empty_like",
           "rand_like", "randn_like", "multinomial", "bernoulli", "normal", "poisson",
           "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
           "CharTensor", "ByteTensor", "BoolTensor"]


def _on_cpu(fn):
    """PyTorch's ``device=`` keyword (``torch.randn((), device=device, dtype=dtype)`` in
    "Learning PyTorch with examples"): None or the CPU; another device is refused by name."""
    @functools.wraps(fn)
    def make(*args, device=None, **kwargs):
        cpu_only(fn.__name__, device)
        return fn(*args, **kwargs)
    return make


def _shape(shape, size=None, who=""):
    """A shape from ``*shape`` (ints, or one tuple/list) or PyTorch's ``size=`` keyword."""
    if size is not None:
        if shape:
            raise TypeError(f"{who}(): the shape is given twice ({shape!r} and size={size!r})")
        shape = (size,)
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"a shape is non-negative ints, got {shape!r}")
    return shape


@_on_cpu
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


def _typed(name, dtype):
    """PyTorch's legacy typed constructors (``torch.LongTensor([1, 2])``, in older tutorials):
    data → a tensor of that dtype (always that one: ``FloatTensor`` is float32 whatever the
    default); int arguments → a shape, as PyTorch's (zeros here: ``engine.empty``'s values)."""
    def make(*data):
        if not data:
            return empty(0, dtype=dtype)
        if all(type(n) is int for n in data):
            return empty(*data, dtype=dtype)
        if len(data) != 1:
            raise TypeError(f"{name}(): expected one sequence or array of data, or int sizes, "
                            f"got {len(data)} arguments")
        return tensor(data[0], dtype=dtype)
    make.__name__ = make.__qualname__ = name
    make.__doc__ = (f"``{name}(data)`` is ``engine.tensor(data, dtype={np.dtype(dtype).name})``;"
                    f" ``{name}(2, 3)`` a tensor of that shape (PyTorch's legacy constructor).")
    return make


FloatTensor, DoubleTensor, HalfTensor = (_typed("FloatTensor", np.float32),
                                         _typed("DoubleTensor", np.float64),
                                         _typed("HalfTensor", np.float16))
LongTensor, IntTensor, ShortTensor = (_typed("LongTensor", np.int64),
                                      _typed("IntTensor", np.int32),
                                      _typed("ShortTensor", np.int16))
CharTensor, ByteTensor, BoolTensor = (_typed("CharTensor", np.int8), _typed("ByteTensor", np.uint8),
                                      _typed("BoolTensor", np.bool_))


def _make(array, dtype, requires_grad, name=""):
    return Tensor(array, requires_grad=requires_grad, dtype=dtype or get_default_dtype(),
                  name=name)


@_on_cpu
def zeros(*shape, size=None, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.zeros(_shape(shape, size, "zeros")), dtype, requires_grad, name)


@_on_cpu
def ones(*shape, size=None, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.ones(_shape(shape, size, "ones")), dtype, requires_grad, name)


@_on_cpu
def empty(*shape, size=None, dtype=None, requires_grad=False, name="") -> Tensor:
    """Uninitialised in PyTorch; zeros here (no garbage a student could mistake for data)."""
    return zeros(*shape, size=size, dtype=dtype, requires_grad=requires_grad, name=name)


@_on_cpu
def full(shape, fill_value, dtype=None, requires_grad=False, name="") -> Tensor:
    """``fill_value`` everywhere; its type sets the dtype when ``dtype`` is None (as PyTorch)."""
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (shape,))
    return Tensor(np.full(shape, fill_value), requires_grad=requires_grad, dtype=dtype, name=name)


def _like(t, dtype):
    return np.shape(t), dtype or getattr(t, "dtype", None)


@_on_cpu
def zeros_like(t, dtype=None, requires_grad=False, name="") -> Tensor:
    shape, dtype = _like(t, dtype)
    return Tensor(np.zeros(shape), requires_grad, dtype or get_default_dtype(), name)


@_on_cpu
def ones_like(t, dtype=None, requires_grad=False, name="") -> Tensor:
    shape, dtype = _like(t, dtype)
    return Tensor(np.ones(shape), requires_grad, dtype or get_default_dtype(), name)


@_on_cpu
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


@_on_cpu
def rand(*shape, size=None, dtype=None, requires_grad=False, name="") -> Tensor:
    """Uniform on [0, 1); ``dtype`` a float dtype (default float32)."""
    dtype = _float_dtype("rand", dtype)
    return _make(get_rng().random(_shape(shape, size, "rand")), dtype, requires_grad, name)


@_on_cpu
def randn(*shape, size=None, dtype=None, requires_grad=False, name="") -> Tensor:
    """Standard normal; ``dtype`` a float dtype (default float32)."""
    dtype = _float_dtype("randn", dtype)
    return _make(get_rng().standard_normal(_shape(shape, size, "randn")), dtype,
                 requires_grad, name)


@_on_cpu
def rand_like(t, dtype=None, requires_grad=False) -> Tensor:
    """``rand`` of ``t``'s shape and dtype (an integer ``t`` needs a float ``dtype=``)."""
    shape, dtype = _like(t, dtype)
    return rand(*shape, dtype=_float_dtype("rand_like", dtype), requires_grad=requires_grad)


@_on_cpu
def randn_like(t, dtype=None, requires_grad=False) -> Tensor:
    """``randn`` of ``t``'s shape and dtype (an integer ``t`` needs a float ``dtype=``)."""
    shape, dtype = _like(t, dtype)
    return randn(*shape, dtype=_float_dtype("randn_like", dtype), requires_grad=requires_grad)


@_on_cpu
def randperm(n, dtype=np.int64, requires_grad=False) -> Tensor:
    """A random permutation of 0 … n − 1 (PyTorch's ``torch.randperm``), int64."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be an integer ≥ 0, got {n!r}")
    return Tensor(get_rng().permutation(int(n)), dtype=dtype, requires_grad=requires_grad)


@_on_cpu
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


@_on_cpu
def arange(start, end=None, step=1, dtype=None, requires_grad=False, name="") -> Tensor:
    """``start, start + step, …`` up to ``end`` (excluded); ``arange(n)`` is 0 … n − 1. Like
    PyTorch: integers give int64, any float argument gives the default float; a zero step,
    or a step that walks away from ``end`` (``arange(0, 1, -1)``), is an error, not an
    empty tensor."""
    if end is None:
        start, end = 0, start
    if dtype is not None and np.dtype(dtype).kind in "iu":
        # An integer dtype takes start, end and step as integers first, truncated toward 0
        # as PyTorch's: arange(0, 5, 1.5, dtype=int64) is 0 … 4, arange(0, 1, 0.3, ...) a
        # zero step (numpy counted in floats and cast after: [0, 1, 3, 4], [0, 0, 0, 0]).
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is not None and np.dtype(dtype) == bool:
        raise TypeError("arange: dtype bool is not supported (as in PyTorch)")
    return Tensor(np.arange(start, end, step), requires_grad=requires_grad, dtype=dtype,
                  name=name)


@_on_cpu
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


@_on_cpu
def eye(n, m=None, dtype=None, requires_grad=False, name="") -> Tensor:
    return _make(np.eye(n, m), dtype, requires_grad, name)


# ------------------------------------------------------------------------------ sampling
def _float_data(what, t, name="input"):
    a = t.data if isinstance(t, Tensor) else np.asarray(t)
    if a.dtype.kind != "f":
        raise RuntimeError(f"{what}: only supports floating-point dtypes for {name}, got "
                           f"{a.dtype}")
    return a


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Category indices drawn with probabilities proportional to the non-negative weights
    ``input`` (C,) or (N, C) (PyTorch's ``torch.multinomial``, a char-RNN's sampling step)
    → int64 (num_samples,) or (N, num_samples). Without ``replacement`` a category is drawn
    at most once, so ``num_samples`` may not exceed a row's categories of nonzero weight
    (PyTorch documents this and then draws zero-weight categories: refused here). No
    gradient."""
    what = "multinomial"
    w = _float_data(what, input)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"{what}: prob_dist must be 1 or 2 dim, got shape {w.shape}")
    if not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
        raise RuntimeError(f"{what}: cannot sample n_sample <= 0 samples (got {num_samples!r})")
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
    if not np.all(np.isfinite(rows) & (rows >= 0)):
        raise RuntimeError(f"{what}: probability tensor contains either `inf`, `nan` or "
                           f"element < 0")
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise RuntimeError(f"{what}: invalid multinomial distribution (sum of probabilities "
                           f"<= 0) in row {int(np.flatnonzero(totals <= 0)[0])}")
    nonzero = (rows > 0).sum(axis=1)
    if not replacement and num_samples > nonzero.min():
        raise RuntimeError(f"{what}: without replacement, num_samples ({num_samples}) must not "
                           f"exceed the categories of nonzero probability ({int(nonzero.min())}"
                           f" in a row); pass replacement=True to draw categories again")
    rng = generator_or_default(what, generator)
    out = np.empty((rows.shape[0], num_samples), np.int64)
    for i, (row, total) in enumerate(zip(rows, totals, strict=True)):
        if replacement:  # inverse CDF: the first category whose cumulative weight exceeds u
            out[i] = np.searchsorted(np.cumsum(row), rng.random(num_samples) * total, "right")
        else:
            out[i] = rng.choice(row.size, size=num_samples, replace=False, p=row / total)
    return Tensor(out.reshape(w.shape[:-1] + (num_samples,)), dtype=np.int64)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1.0 with probability ``input`` (elementwise; or with probability ``p`` everywhere,
    in ``input``'s shape), else 0.0, in ``input``'s float dtype (``torch.bernoulli``). No
    gradient."""
    what = "bernoulli"
    a = _float_data(what, input)
    prob = a if p is None else np.broadcast_to(np.asarray(p, np.float64), a.shape)
    if prob.size and not np.all((prob >= 0) & (prob <= 1)):
        raise RuntimeError(f"{what}: expects 0 <= p <= 1 for every probability, got "
                           f"{prob[~((prob >= 0) & (prob <= 1))][:3].tolist()}")
    draw = generator_or_default(what, generator).random(a.shape) < prob
    return Tensor(draw.astype(a.dtype), dtype=a.dtype)


@_on_cpu
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None) -> Tensor:
    """Draws from N(mean, std²) (``torch.normal``): ``mean`` and ``std`` tensors (or one of
    them a number) broadcast together and give the shape; two numbers need ``size``. The
    tensors' float dtype (else ``dtype`` or the default float). No gradient."""
    what = "normal"
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors and size is None:
        raise TypeError(f"{what}: with a number mean and std, give size= (a tuple)")
    m = np.asarray(mean.data if isinstance(mean, Tensor) else mean, np.float64)
    sd = np.asarray(std.data if isinstance(std, Tensor) else std, np.float64)
    if sd.size and not np.all(sd >= 0):
        raise RuntimeError(f"{what}: expects std >= 0.0, but found std "
                           f"{sd[~(sd >= 0)].ravel()[0]}")
    try:
        shape = np.broadcast_shapes(m.shape, sd.shape) if size is None else tuple(size)
        np.broadcast_shapes(shape, m.shape, sd.shape)
    except ValueError:
        raise RuntimeError(f"{what}: mean {m.shape} and std {sd.shape} do not broadcast"
                           + ("" if size is None else f" to size {tuple(size)}")) from None
    out_dtype = tensors[0].dtype if tensors else _float_dtype(what, dtype)
    for t in tensors:
        _float_data(what, t, "mean and std")
    draw = generator_or_default(what, generator).normal(m, sd, shape)
    return Tensor(np.asarray(draw).astype(out_dtype), dtype=out_dtype)


def poisson(input, *, generator=None) -> Tensor:
    """Poisson counts with rates ``input`` (elementwise, ≥ 0), in its float dtype
    (``torch.poisson``). No gradient."""
    what = "poisson"
    rates = _float_data(what, input)
    if rates.size and not np.all(rates >= 0):
        raise RuntimeError(f"{what}: invalid Poisson rate, expected rate to be non-negative")
    draw = generator_or_default(what, generator).poisson(rates.astype(np.float64))
    return Tensor(draw.astype(rates.dtype), dtype=rates.dtype)
