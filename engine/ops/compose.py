"""PyTorch functions that are compositions of existing ops: no op class, so no new gradient
formula — each gradient is the chain rule through ops that are checked already.

- NaN-aware reductions: ``nansum``, ``nanmean`` (NaNs count as absent: their gradient is 0),
  ``nan_to_num`` (replaced entries get gradient 0, as PyTorch's).
- Pairs of reductions: ``aminmax``, ``var_mean``, ``std_mean``; ``count_nonzero`` (int64).
- Fused-looking arithmetic: ``addcmul`` (x + v·a·b), ``addcdiv`` (x + v·a/b), ``isclose``.
- Indexing: ``take`` (flat indices), ``index_add`` (out of place), ``pixel_shuffle`` and
  ``pixel_unshuffle`` (a reshape and a permute).
- Distances: ``cdist`` (every pair of rows), ``pairwise_distance`` (row by row, PyTorch's
  ``F.pairwise_distance`` with its ε added to the difference).
- Counting and searching, no gradient (int64): ``bincount``, ``bucketize``, ``searchsorted``;
  ``histc`` (counts in the input's float dtype); ``mode`` (the value picked with ``gather``,
  so its gradient goes to the returned index, as PyTorch's).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .base import index_array, norm_axis, reduce_axes

MinMax = namedtuple("aminmax", ["min", "max"])
Mode = namedtuple("mode", ["values", "indices"])


def _tensor():
    from ..tensor import Tensor, as_tensor
    return Tensor, as_tensor


def _int64(a):
    Tensor, _ = _tensor()
    return Tensor._make(np.asarray(a, np.int64))


# ------------------------------------------------------------------------------- NaN-aware
def _nan_zeroed(x):
    """x with NaNs replaced by 0 (gradient 0 there) and the mask of what was kept."""
    from ..functional import where
    keep = ~np.isnan(x.data)
    return (x if keep.all() else where(keep, x, 0.0)), keep


def nansum(x, dim=None, keepdim=False):
    """Σ over ``dim`` of the non-NaN entries (an all-NaN slice sums to 0)."""
    return _nan_zeroed(x)[0].sum(dim=dim, keepdim=keepdim)


def nanmean(x, dim=None, keepdim=False):
    """The mean of the non-NaN entries over ``dim`` (NaN where a slice has none; that
    slice's entries get gradient 0, where PyTorch's get NaN)."""
    zeroed, keep = _nan_zeroed(x)
    count = keep.sum(axis=reduce_axes("nanmean", dim, x.shape),
                     keepdims=keepdim).astype(x.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 = NaN, as PyTorch
        return zeroed.sum(dim=dim, keepdim=keepdim) / count


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN → ``nan``, +inf → ``posinf``, −inf → ``neginf`` (default: the dtype's largest and
    smallest finite values). The replaced entries get gradient 0."""
    from ..functional import where
    if x.dtype.kind != "f":
        return x
    info = np.finfo(x.dtype)
    d = x.data
    out = x
    for mask, value in ((np.isnan(d), nan), (d == np.inf, info.max if posinf is None else posinf),
                        (d == -np.inf, info.min if neginf is None else neginf)):
        if mask.any():
            out = where(mask, np.asarray(value, x.dtype), out)
    return out


# ------------------------------------------------------------------------------- pairs
def aminmax(x, *, dim=None, keepdim=False):
    """``(min, max)`` over ``dim`` (all entries when None), PyTorch's ``aminmax``."""
    return MinMax(x.amin(dim=dim, keepdim=keepdim), x.amax(dim=dim, keepdim=keepdim))


def var_mean(x, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """``(var, mean)`` over ``dim``; ``correction`` 1 (default) divides by n − 1."""
    return (x.var(dim=dim, keepdim=keepdim, correction=correction, unbiased=unbiased),
            x.mean(dim=dim, keepdim=keepdim))


def std_mean(x, dim=None, *, correction=None, keepdim=False, unbiased=None):
    """``(std, mean)`` over ``dim`` (the same keywords as ``var_mean``)."""
    return (x.std(dim=dim, keepdim=keepdim, correction=correction, unbiased=unbiased),
            x.mean(dim=dim, keepdim=keepdim))


def count_nonzero(x, dim=None):
    """How many entries are not 0 over ``dim`` (int64)."""
    return _int64(np.count_nonzero(x.data, axis=reduce_axes("count_nonzero", dim, x.shape)))


# ------------------------------------------------------------------------------- arithmetic
def addcmul(x, a, b, *, value=1):
    """x + value·a·b (broadcasting)."""
    return x + value * a * b


def addcdiv(x, a, b, *, value=1):
    """x + value·a / b (broadcasting)."""
    return x + value * a / b


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a − b| ≤ atol + rtol·|b| elementwise (bool, no gradient)."""
    Tensor, as_tensor = _tensor()
    return Tensor._make(np.isclose(as_tensor(a).data, as_tensor(b).data, rtol=rtol, atol=atol,
                                   equal_nan=equal_nan))


# ------------------------------------------------------------------------------- indexing
def _index_array(index, op):
    idx = index_array(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got {idx.dtype}")
    return idx


def take(x, index):
    """The entries of x at flat positions ``index`` (x read as 1-D; the result has the
    index's shape). Negative positions count from the end; out of range is an IndexError."""
    idx = _index_array(index, "take")
    n = x.data.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take: index {int(idx.min() if idx.min() < -n else idx.max())} is "
                         f"out of range for a tensor of {n} elements")
    return x.reshape(-1)[idx]


def index_add(x, dim, index, source, *, alpha=1):
    """x with ``alpha·source`` added at positions ``index`` along ``dim`` (repeats add up):
    ``out[..., index[i], ...] += alpha·source[..., i, ...]``. Out of place."""
    idx = _index_array(index, "index_add")
    dim = norm_axis("index_add", dim, x.shape)
    if idx.ndim != 1 or source.ndim != x.ndim or source.shape[dim] != idx.size or any(
            s != n for k, (s, n) in enumerate(zip(source.shape, x.shape, strict=True))
            if k != dim):
        raise ValueError(f"index_add: source of shape {source.shape} does not fit x of shape "
                         f"{x.shape} with {idx.size} indices along dim {dim} (source must be "
                         f"x's shape with {idx.size} at dim {dim})")
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[dim]):
        raise IndexError(f"index_add: index out of range for dim {dim} of size {x.shape[dim]}")
    shape = [1] * x.ndim
    shape[dim] = idx.size
    full = np.broadcast_to(idx.reshape(shape), source.shape)
    return x.scatter_add(dim, full, source if alpha == 1 else alpha * source)


def pixel_shuffle(x, upscale_factor):
    """(N, C·r², H, W) → (N, C, H·r, W·r): each group of r² channels becomes an r×r block."""
    r = int(upscale_factor)
    if x.ndim < 3 or r < 1 or x.shape[-3] % (r * r):
        raise ValueError(f"pixel_shuffle: input of shape {x.shape} needs (..., C·r², H, W) "
                         f"with r = {upscale_factor}")
    *lead, c, h, w = x.shape
    c //= r * r
    k = len(lead)
    y = x.reshape(*lead, c, r, r, h, w)
    perm = list(range(k)) + [k, k + 3, k + 1, k + 4, k + 2]
    return y.permute(*perm).reshape(*lead, c, h * r, w * r)


def pixel_unshuffle(x, downscale_factor):
    """(N, C, H·r, W·r) → (N, C·r², H, W), the inverse of ``pixel_shuffle``."""
    r = int(downscale_factor)
    if x.ndim < 3 or r < 1 or x.shape[-1] % r or x.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: input of shape {x.shape} needs (..., C, H·r, W·r) "
                         f"with r = {downscale_factor}")
    *lead, c, h, w = x.shape
    k = len(lead)
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    perm = list(range(k)) + [k, k + 2, k + 4, k + 1, k + 3]
    return y.permute(*perm).reshape(*lead, c * r * r, h // r, w // r)


# ------------------------------------------------------------------------------- distances
def cdist(x1, x2, p=2.0):
    """The p-norm distance of every row of x1 (..., P, M) to every row of x2 (..., R, M):
    (..., P, R). The gradient at a zero distance is 0 (as PyTorch)."""
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: x1 {x1.shape} and x2 {x2.shape} must be (..., P, M) and "
                         f"(..., R, M) with the same M")
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).norm(p=p, dim=-1)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """‖x1 − x2 + eps‖_p over the last dim, row by row (broadcasting), PyTorch's
    ``F.pairwise_distance``."""
    return (x1 - x2 + eps).norm(p=p, dim=-1, keepdim=keepdim)


# ------------------------------------------------------------------------------- counting
def bincount(x, weights=None, minlength=0):
    """How often each value 0, 1, … occurs in the 1-D non-negative int tensor x (with
    ``weights``: their sums, in the weights' dtype)."""
    Tensor, as_tensor = _tensor()
    a = _index_array(x, "bincount")
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise ValueError(f"bincount: needs a 1-D tensor of non-negative integers, got shape "
                         f"{a.shape}" + (f" with {int(a.min())}" if a.size else ""))
    if weights is None:
        return _int64(np.bincount(a, minlength=minlength))
    w = as_tensor(weights).data
    return Tensor._make(np.bincount(a, w, minlength).astype(
        w.dtype if w.dtype.kind == "f" else np.float64))


def searchsorted(sorted_sequence, values, *, right=False, side=None):
    """For each value, the index where it would go in the 1-D ``sorted_sequence`` to keep
    it sorted: the first such index (``right=False``), or the last (``right=True`` /
    ``side='right'``)."""
    Tensor, as_tensor = _tensor()
    seq = as_tensor(sorted_sequence).data
    if seq.ndim != 1:
        raise ValueError(f"searchsorted: stepgrad takes a 1-D sorted_sequence, got shape "
                         f"{seq.shape} (search each row separately)")
    if side is not None and side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if side is not None and right and side == "left":
        raise ValueError("searchsorted: right=True contradicts side='left'")
    v = values.data if isinstance(values, Tensor) else np.asarray(values)
    return _int64(np.searchsorted(seq, v, side=side or ("right" if right else "left")))


def bucketize(x, boundaries, *, right=False):
    """The bucket of each entry given the 1-D sorted ``boundaries``: i with
    boundaries[i−1] < x ≤ boundaries[i] (``right=True``: boundaries[i−1] ≤ x <
    boundaries[i])."""
    return searchsorted(boundaries, x, right=right)


def histc(x, bins=100, min=0, max=0):  # noqa: A002 (PyTorch's keyword names)
    """Counts of x's values in ``bins`` equal bins over [min, max] (the data's range when
    both are 0; values outside are left out; the top edge counts in the last bin), in x's
    float dtype, as PyTorch's ``histc``. No gradient."""
    Tensor, as_tensor = _tensor()
    d = as_tensor(x).data
    if d.dtype.kind != "f":
        raise TypeError(f"histc: expects a float tensor, got {d.dtype}")
    if int(bins) < 1 or max < min:
        raise ValueError(f"histc: needs bins >= 1 and max >= min, got bins={bins}, min={min}, "
                         f"max={max}")
    lo, hi = float(min), float(max)
    if lo == hi and d.size:
        lo, hi = float(d.min()), float(d.max())
    if lo == hi:  # PyTorch widens an empty range by 1 on each side
        lo, hi = lo - 1, hi + 1
    counts, _ = np.histogram(d[~np.isnan(d)], bins=int(bins), range=(lo, hi))
    return Tensor._make(counts.astype(d.dtype))


def mode(x, dim=-1, keepdim=False):
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest of equally
    frequent ones) and the index of its last occurrence, as PyTorch's ``mode``. The value is
    gathered there, so the gradient goes to that element."""
    Tensor, _ = _tensor()
    if x.ndim == 0:
        return Mode(x.reshape(()) * 1, _int64(0))
    axis = norm_axis("mode", dim, x.shape)
    rows = np.moveaxis(x.data, axis, -1)
    flat = rows.reshape(-1, rows.shape[-1])
    if flat.shape[1] == 0:
        raise IndexError(f"mode: dim {dim} of shape {x.shape} is empty")
    idx = np.empty(flat.shape[0], np.int64)
    for r, row in enumerate(flat):
        values, counts = np.unique(row, return_counts=True)  # ascending: ties → smallest
        v = values[np.argmax(counts)]
        idx[r] = np.flatnonzero(np.isnan(row) if v != v else row == v)[-1]
    idx = np.expand_dims(idx.reshape(rows.shape[:-1]), axis)
    picked = x.gather(axis, Tensor._make(idx))
    if not keepdim:
        picked, idx = picked.squeeze(axis), np.squeeze(idx, axis)
    return Mode(picked, _int64(idx))
