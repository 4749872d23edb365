"""Function forms of tensor ops: those that take several tensors (concatenate/cat, stack,
split, where, maximum, minimum, einsum, meshgrid) and ``engine.sin(x)``-style spellings of
the Tensor methods, as ``torch.sin(x)`` (the methods live on Tensor)."""
from __future__ import annotations

import numpy as np

from .ops import compose as CO
from .ops import elementwise as E
from .ops import indexing as I
from .ops import shape as S
from .ops.base import index_array, norm_axis
from .tensor import Tensor, _pick, as_tensor


def concatenate(tensors, axis=0, *, dim=None) -> Tensor:
    """Join tensors along an existing axis; gradients are split back."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    return S.Concatenate.apply(*tensors, axis=_pick("cat", axis, dim, "dim", 0))


cat = concatenate


def stack(tensors, axis=0, *, dim=None) -> Tensor:
    """Join same-shape tensors along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    return S.Stack.apply(*tensors, axis=_pick("stack", axis, dim, "dim", 0))


def split(t, split_size_or_sections, axis=0, *, dim=None):
    """PyTorch's split: an int gives chunks of that size (the last may be smaller), a list
    gives the size of each chunk. Each chunk is a differentiable slice of ``t``."""
    t = as_tensor(t)
    axis = norm_axis("split", _pick("split", axis, dim, "dim", 0), t.shape)
    n = t.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        if split_size_or_sections < 1:
            raise ValueError(f"split: chunk size must be ≥ 1, got {split_size_or_sections}")
        sizes = [min(split_size_or_sections, n - i) for i in range(0, n, split_size_or_sections)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} sum to {sum(sizes)}, but axis {axis} of "
                             f"shape {t.shape} has {n}")
    out, start = [], 0
    for size in sizes:
        out.append(t[(slice(None),) * axis + (slice(start, start + size),)])
        start += size
    return tuple(out)


def where(cond, a=None, b=None) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcasting); no gradient to ``cond``.
    ``where(cond)`` alone is ``nonzero(cond, as_tuple=True)``, as PyTorch."""
    if a is None and b is None:
        return as_tensor(cond).nonzero(as_tuple=True)
    if a is None or b is None:
        raise TypeError("where: give both a and b (or neither, for the indices of cond)")
    cond = index_array(cond)
    if cond.dtype != bool:
        raise TypeError(f"where: the condition must be a bool tensor, got {cond.dtype} "
                        f"(compare first: x > 0)")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a)
    return E.Where.apply(a, b, cond=cond)


def maximum(a, b) -> Tensor:
    return E.Maximum.apply(a, b)


def minimum(a, b) -> Tensor:
    return E.Minimum.apply(a, b)


def in_place(x, fn, name="in_place") -> Tensor:
    """``fn(x)`` written into x's memory, and x returned, with PyTorch's in-place rules (the
    path ``relu_``, ``add_`` and the other in-place methods take): ``fn`` maps a Tensor to a
    Tensor of the same shape, built from ops. Under no_grad only the memory changes; while
    recording, a leaf that requires grad and a view are refused, and x becomes fn's output
    (its old value keeps its place in the graph), its version moving so that a backward which
    saved the old x says it was modified. ``name`` names the operation in errors
    (``nn.functional``'s ``inplace=True`` passes ``'leaky_relu_'`` and the like).

    >>> import engine
    >>> h = engine.tensor([-1.0, 2.0]) * 1
    >>> engine.in_place(h, lambda t: t.leaky_relu(0.5), "leaky_relu_") is h, h.data
    (True, array([-0.5,  2. ], dtype=float32))
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expects a Tensor to write into, got {type(x).__name__}")
    return x._inplace(name, fn)


def einsum(equation, *operands) -> Tensor:
    """Einstein summation, as ``torch.einsum``: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``.
    Operands may also come as one list; ``...`` broadcasts; an output without ``...`` sums
    the ellipsis dims. The gradient of each operand is another einsum (any number of
    operands, repeated letters such as ``ii`` included)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    ts = [as_tensor(o) if not isinstance(o, Tensor) else o for o in operands]
    return I.Einsum.apply(*ts, equation=equation)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (PyTorch's default ``indexing='ij'``)."""
    return I.meshgrid(*tensors, indexing=indexing)


def _method(name, doc=""):
    """``engine.name(t, ...)`` = ``t.name(...)`` (numbers and arrays become tensors), with
    PyTorch's ``out=`` (see ``write_out``)."""
    def fn(input, *args, out=None, **kwargs):
        result = getattr(as_tensor(input), name)(*args, **kwargs)
        return result if out is None else write_out(name, result, out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"``engine.{name}(t, ...)`` is ``t.{name}(...)`` (torch.{name})."
    return fn


def write_out(name, result, out):
    """PyTorch's ``out=`` (``torch.matmul(a, b, out=c)``): ``result`` written into ``out``
    (a Tensor, or a tuple of them for ``max``/``sort``-style results), which is returned.
    Refused as in PyTorch: a result that requires grad (out= records no gradient) and a dtype
    the result cannot be cast to. Refused here: an ``out`` of another shape (PyTorch resizes
    it, with a deprecation warning unless it is empty)."""
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{name}(): out= must be a tuple of {len(result)} tensors for this "
                            f"result, got {type(out).__name__}")
        for r, o in zip(result, out, strict=True):
            write_out(name, r, o)
        return type(result)(*out) if hasattr(result, "_fields") else tuple(out)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): out= must be a Tensor, got {type(out).__name__}")
    if result.requires_grad:
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support "
                           f"automatic differentiation, but one of the arguments requires "
                           f"grad: use the returned tensor (y = engine.{name}(...))")
    if out.shape != result.shape:
        raise RuntimeError(f"{name}(): out= has shape {out.shape} but the result has shape "
                           f"{result.shape}: give an out of the result's shape (PyTorch would "
                           f"resize out), or use the returned tensor")
    if not np.can_cast(result.dtype, out.dtype, "same_kind"):
        raise RuntimeError(f"{name}(): result type {result.dtype} can't be cast to the "
                           f"desired output type {out.dtype}")
    out.copy_(result)  # no graph: result needs no grad (copy_ casts as PyTorch's out= does)
    return out


METHOD_FUNCTIONS = (
    "exp log sqrt abs tanh sigmoid relu sin cos tan asin acos atan sinh cosh asinh acosh atanh "
    "atan2 log2 log10 log1p exp2 expm1 rsqrt square sign erf floor ceil round trunc fmod "
    "remainder floor_divide logaddexp copysign lerp isnan isinf isfinite logical_not "
    "logical_and logical_or logical_xor clamp clip sum mean var std prod norm amax amin "
    "logsumexp argmax argmin cumsum cumprod cummax cummin logcumsumexp sort argsort topk "
    "kthvalue median quantile unique diff flip roll repeat_interleave tile chunk unbind "
    "unflatten movedim narrow "
    "select diag diagonal trace tril triu gather scatter scatter_add index_select masked_fill "
    "masked_select nonzero reshape flatten transpose permute squeeze unsqueeze swapaxes "
    "softmax log_softmax matmul equal allclose max min any all add sub mul div pow neg "
    "subtract multiply divide negative mm bmm mv dot outer "
    "nansum nanmean nan_to_num aminmax count_nonzero take index_add addcmul addcdiv isclose "
    "bincount t histc mode numel broadcast_to eq ne lt gt le ge argwhere index_fill clone "
    "detach scatter_reduce index_put index_put_ index_copy masked_scatter take_along_dim put "
    "unique_consecutive nanmedian msort renorm absolute frac signbit").split()
# Kept in a dict, not this module's globals: max/min/sum/abs/all/any would shadow the
# builtins this module uses. engine/__init__ exports them.
FUNCTIONS = {name: _method(name) for name in METHOD_FUNCTIONS}


def var_mean(input, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """``(var, mean)`` of ``input`` over ``dim`` (torch.var_mean)."""
    return CO.var_mean(as_tensor(input), dim, correction=correction, keepdim=keepdim,
                       unbiased=unbiased)


def std_mean(input, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """``(std, mean)`` of ``input`` over ``dim`` (torch.std_mean)."""
    return CO.std_mean(as_tensor(input), dim, correction=correction, keepdim=keepdim,
                       unbiased=unbiased)


def cdist(x1, x2, p=2.0):
    """Distances between every row of x1 (..., P, M) and of x2 (..., R, M) → (..., P, R)."""
    return CO.cdist(as_tensor(x1), as_tensor(x2), p)


def searchsorted(sorted_sequence, values, *, right=False, side=None):
    """Insertion indices of ``values`` in the 1-D ``sorted_sequence`` (int64)."""
    return CO.searchsorted(sorted_sequence, values, right=right, side=side)


def bucketize(input, boundaries, *, right=False):
    """The bucket index of each entry given sorted 1-D ``boundaries`` (int64)."""
    return CO.bucketize(input, boundaries, right=right)
