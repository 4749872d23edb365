"""The few functions backward formulas need beyond operators, for arrays *and* graph nodes.

A backward is written once: on numpy arrays and numbers (a plain ``backward()``) these are
numpy's functions; on Tensors and Values (``create_graph=True``) they are the engine's own
ops, so the gradient is recorded and can be differentiated again. Operators (``+ - * / **
@``, comparisons, ``[...]``) and the methods both share (``sum(axis=, keepdims=)``,
``reshape``, ``astype``) need nothing from here.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Node, SliceGrad
from ..fast import kernels
from .base import OPS


def _node(*xs):
    return any(isinstance(x, Node) for x in xs)


def exp_float(x: float) -> float:
    """e^x of a Python float as numpy's: inf on overflow, NaN stays NaN."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def exp(x):
    if type(x) is float:  # Value graphs stay in Python floats (fast)
        return exp_float(x)
    return x.exp() if _node(x) else np.exp(x)


def log(x):
    if type(x) is float:  # IEEE like numpy: log 0 = -inf, log of a negative = nan
        return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)
    return x.log() if _node(x) else np.log(x)


def tanh(x):
    return x.tanh() if _node(x) else np.tanh(x)


def sigmoid(x):
    if type(x) is float:
        return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
    if _node(x):
        return x.sigmoid()
    e = np.exp(-np.abs(x))  # stable: e^(−|x|) is never above 1
    return np.divide(np.where(x >= 0, 1, e), 1 + e)  # 1/(1 + e) for x ≥ 0, e/(1 + e) below


# relu follows every conv: on big float arrays its forward and backward run as parallel kernels
# (engine/fast/kernels/elementwise.py: numpy's bits, 3-4x faster on the seed CNN's activations),
# on mid-sized ones (an MLP's) the same loops on one thread (numpy's maximum is 4x slower
# there). Below SERIAL_RELU_MIN numpy is as fast, and a tiny model never loads a kernel.
FAST_RELU_MIN = 1 << 18
SERIAL_RELU_MIN = 1 << 12


def _relu_kernel(forward, *arrays):
    """The kernel for these arrays (parallel, serial) or None (numpy's expression)."""
    a = arrays[0]
    if not (type(a) is np.ndarray and a.size >= SERIAL_RELU_MIN
            and a.dtype in kernels.KERNEL_DTYPES
            and all(type(b) is np.ndarray and b.dtype == a.dtype and b.shape == a.shape
                    and b.flags.c_contiguous for b in arrays)):
        return None
    if a.size >= FAST_RELU_MIN:
        return kernels.relu_forward if forward else kernels.relu_backward
    return kernels.relu_forward_serial if forward else kernels.relu_backward_serial


def relu(x):
    """max(x, 0) of an array (NaN stays NaN, as np.maximum)."""
    kernel = _relu_kernel(True, x)
    if kernel is not None:
        out = np.empty_like(x)
        kernel(x.reshape(-1), out.reshape(-1))
        return out
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_grad(g, x):
    """g where x > 0, else 0, for arrays, numbers and nodes: a select, as PyTorch's, not the
    product g·(x > 0), which makes an inf in g where x ≤ 0 (``relu(x).sqrt()``) a NaN."""
    kernel = _relu_kernel(False, x, g)
    if kernel is not None:
        out = np.empty_like(x)
        kernel(g.reshape(-1), x.reshape(-1), out.reshape(-1))
        return out
    return where(x > 0, g, 0.0)


def sign(x):
    """No gradient (piecewise constant): plain data either way."""
    return np.sign(x.data) if _node(x) else np.sign(x)


def where(cond, a, b):
    """``a`` where ``cond``, else ``b``, broadcast together (numpy's where; the engine's
    ``where`` op for graph nodes). Only a Python bool (a Value graph's float comparison)
    simply picks: a numpy bool (a 0-d comparison) must still broadcast, so that
    ``where(b == 0, 0.0, g)`` has g's shape even when ``b`` is one number."""
    if type(cond) is bool:  # one condition for all, on floats: pick
        return a if cond else b
    cond = cond.data if _node(cond) else cond
    return OPS["where"].apply(a, b, cond=cond) if _node(a, b) else np.where(cond, a, b)


def broadcast_to(x, shape):
    return x.broadcast_to(shape) if _node(x) else np.broadcast_to(x, shape)


def permute(x, axes):
    return x.permute(axes) if _node(x) else np.transpose(x, axes)


def swap_last(x):
    """Swap the last two axes (the transpose of a batch of matrices)."""
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return permute(x, axes)


def scatter(g, shape, index):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeats add up): getitem's gradient.

    For basic slices of arrays a sparse ``SliceGrad`` (the walk adds it in place)."""
    if _node(g):
        return OPS["getitem_grad"].apply(g, shape=shape, index=index)
    if not _advanced(index):
        return SliceGrad(shape, index, g)
    out = np.zeros(shape, g.dtype)
    np.add.at(out, index, g)
    return out


def _advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, np.ndarray)) for i in items)


def split(g, bounds, axis):
    """``g`` cut along ``axis`` at ``bounds`` (concatenate's gradient)."""
    if not _node(g):
        return tuple(np.split(g, bounds, axis=axis))
    edges = [0, *bounds, g.shape[axis]]
    lead = (slice(None),) * axis
    return tuple(g[lead + (slice(a, b),)] for a, b in zip(edges[:-1], edges[1:], strict=True))


def unbind(g, axis):
    """The slices of ``g`` along ``axis`` (stack's gradient)."""
    lead = (slice(None),) * axis
    return tuple(g[lead + (i,)] for i in range(g.shape[axis]))


# -- more elementwise functions (the long tail of ops in maths.py, scans.py, indexing.py) ----
def _elementwise(np_fn, method):
    """``np_fn`` on arrays and numbers (a Python float stays a float), ``x.method()`` on nodes."""
    def fn(x):
        if _node(x):
            return getattr(x, method)()
        if type(x) is float:
            with np.errstate(all="ignore"):  # IEEE answers (inf, nan) as for arrays
                return float(np_fn(x))
        return np_fn(x)
    fn.__name__ = method
    return fn


sin = _elementwise(np.sin, "sin")
cos = _elementwise(np.cos, "cos")
sinh = _elementwise(np.sinh, "sinh")
cosh = _elementwise(np.cosh, "cosh")
sqrt = _elementwise(np.sqrt, "sqrt")
abs = _elementwise(np.abs, "abs")  # noqa: A001 (the array/graph form of the builtin)


def clamp_min(x, lo):
    """max(x, lo) for a number ``lo``: numpy's maximum on arrays and numbers, the clip op
    on nodes (backward formulas under create_graph)."""
    return x.clamp(min=lo) if _node(x) else np.maximum(x, lo)


def floor(x):
    """No gradient (piecewise constant): plain data either way, like ``sign``."""
    return np.floor(x.data) if _node(x) else np.floor(x)


def trunc(x):
    return np.trunc(x.data) if _node(x) else np.trunc(x)


def flip(x, axes):
    return x.flip(axes) if _node(x) else np.flip(x, axes)


def roll(x, shifts, axes):
    return x.roll(shifts, axes) if _node(x) else np.roll(x, shifts, axes)


def diagonal(x, offset, dim1, dim2):
    return x.diagonal(offset, dim1, dim2) if _node(x) else np.diagonal(x, offset, dim1, dim2)


def diagonal_grad(g, shape, where):
    """Zeros of ``shape`` with ``g`` on the (offset, dim1, dim2) = ``where`` diagonal."""
    if _node(g):
        return OPS["diagonal_grad"].apply(g, shape=shape, where=where)
    return OPS["diagonal_grad"].embed(g, shape, where)


def cumsum(x, axis):
    return x.cumsum(axis) if _node(x) else np.cumsum(x, axis)


def cumprod(x, axis):
    return x.cumprod(axis) if _node(x) else np.cumprod(x, axis)


def pad(x, pad_width, value=0.0):
    """Constant padding, numpy's ``pad_width`` convention."""
    return x.pad(pad_width, value=value) if _node(x) else np.pad(x, pad_width,
                                                                  constant_values=value)


def gather(x, axis, index):
    """``x`` picked at ``index`` along ``axis`` (PyTorch's gather; index a numpy array)."""
    if _node(x):
        return x.gather(axis, index)
    idx = list(np.indices(index.shape, sparse=True))
    idx[axis] = index
    return x[tuple(idx)]


def scatter_reduce(x, axis, index, src, reduce, include_self):
    """PyTorch's scatter_reduce (index a numpy array): the op on graph nodes, its numpy
    forward on arrays (prod's gradient is built from it)."""
    op = OPS["scatter_reduce"]
    if _node(x, src):
        return op.apply(x, src, axis=axis, index=index, reduce=reduce, include_self=include_self)
    return op.compute(x, axis, index, src, reduce, include_self)


def einsum(equation, *operands):
    if _node(*operands):
        return OPS["einsum"].apply(*operands, equation=equation)
    return np.einsum(equation, *operands, optimize=True)


def solve(a, b):
    """X with A·X = B (B (…, n, k)): the ``solve`` op on graph nodes, numpy's on arrays."""
    if _node(a, b):
        return OPS["solve"].apply(a, b)
    return np.linalg.solve(a, b)
