"""Function forms of tensor ops that take several tensors: concatenate (cat) stack split where
maximum minimum (the methods live on Tensor; these are the ``engine.`` spellings)."""
from __future__ import annotations

import numpy as np

from .ops import elementwise as E
from .ops import shape as S
from .ops.base import norm_axis
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


def where(cond, a, b) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcasting); no gradient to ``cond``."""
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
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
