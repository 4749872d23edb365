"""PyTorch functions that are compositions of existing ops: no op class, so no new gradient
formula — each gradient is the chain rule through ops that are checked already.

- NaN-aware reductions: ``nansum``, ``nanmean`` (NaNs count as absent: their gradient is 0),
  ``nan_to_num`` (replaced entries get gradient 0, as PyTorch's).
- Pairs of reductions: ``aminmax``, ``var_mean``, ``std_mean``; ``count_nonzero`` (int64).
- Fused-looking arithmetic: ``addcmul`` (x + v·a·b), ``addcdiv`` (x + v·a/b), ``isclose``.
- Indexing: ``take`` (flat indices), ``index_add`` (out of place), ``pixel_shuffle`` and
  ``pixel_unshuffle`` (a reshape and a permute).
- Distances and norms: ``cdist`` (every pair of rows), ``renorm`` (slices scaled down to a
  maximum norm), ``pairwise_distance`` (row by row, PyTorch's ``F.pairwise_distance`` with
  its ε added to the difference).
- Counting and searching, no gradient (int64): ``bincount``, ``bucketize``, ``searchsorted``;
  ``histc`` (counts in the input's float dtype); ``mode`` (the value picked with ``gather``,
  so its gradient goes to the returned index, as PyTorch's).
- torch's long tail (the last section): joins (``hstack`` … ``cartesian_prod``), products
  (``addmm`` … ``dist``), ``rot90``, ``diag_embed``, small formulas (``logit`` …
  ``trapezoid``) and index helpers (``logspace``, ``triu_indices``, ``tril_indices``).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..testing import Bad, OpSpec, T, register
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


def renorm(x, p, dim, maxnorm):
    """Each slice of x along ``dim`` (``x.select(dim, i)``) whose p-norm is above ``maxnorm``
    scaled down by maxnorm / (norm + 1e-7) (PyTorch's ``renorm`` and its ε), the others
    left as they are. ``p`` > 0 (inf too); x is a float tensor of at least 2 dims.
    Differentiable, the factor too (it depends on the slice's values).

    >>> import engine
    >>> x = engine.tensor([[3.0, 4.0], [0.3, 0.4]], dtype=engine.float64)
    >>> x.renorm(2, 0, 1.0).data.round(6)
    array([[0.6, 0.8],
           [0.3, 0.4]])
    """
    from ..functional import where
    if x.ndim < 2:
        raise ValueError(f"renorm: input needs at least 2 dims, got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"renorm: expects a floating point tensor, got {x.dtype} (convert "
                        f"with .float() first)")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) \
            or not p > 0:
        raise ValueError(f"renorm: p must be a positive number (inf too), got {p!r} (PyTorch "
                         f"refuses non-positive norms)")
    if not maxnorm >= 0:
        raise ValueError(f"renorm: maxnorm must be >= 0, got {maxnorm}")
    axis = norm_axis("renorm", dim, x.shape)
    norms = x.norm(float(p), dim=tuple(d for d in range(x.ndim) if d != axis), keepdim=True)
    return x * where(norms.data > maxnorm, maxnorm / (norms + 1e-7), 1.0)


def _renorm_ref(x, p, dim, maxnorm):
    """Slice by slice, as the definition reads (for the tests)."""
    out = x.copy()
    for i in range(x.shape[dim]):
        piece = np.take(x, i, axis=dim)
        norm = np.linalg.norm(piece.ravel(), ord=p)
        if norm > maxnorm:
            out[(slice(None),) * dim + (i,)] = piece * (maxnorm / (norm + 1e-7))
    return out


class _RenormSpec(OpSpec):
    """maxnorm is drawn after x: in the middle of the widest gap between the slices' norms
    (far from every norm, where the factor switches on), or, with one slice, half its norm."""

    def sample(self, rng, shapes=None, dtype=np.float64):
        shape = shapes[0] if shapes else tuple(int(n) for n in rng.integers(1, 4, size=2))
        x = rng.standard_normal(shape)
        p = float(rng.choice([1.0, 2.0, 3.0, np.inf]))
        dim = int(rng.integers(0, len(shape)))
        norms = np.sort([np.linalg.norm(np.take(x, i, axis=dim).ravel(), ord=p)
                         for i in range(shape[dim])])
        gaps = np.diff(norms)
        maxnorm = norms[0] / 2 if not len(gaps) else norms[np.argmax(gaps)] + gaps.max() / 2
        return [x.astype(dtype)], {"p": p, "dim": dim, "maxnorm": float(maxnorm)}


register(_RenormSpec("renorm", lambda x, **kw: x.renorm(**kw), _renorm_ref, min_dims=2,
                     errors=(Bad(lambda: T(3).renorm(2, 0, 1.0), ValueError,
                                 r"renorm: input needs at least 2 dims, got shape \(3,\)"),
                             Bad(lambda: T(2, 2).renorm(0, 0, 1.0), ValueError,
                                 r"renorm: p must be a positive number"))))


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


# ------------------------------------------------------------ more of torch's functions
# Joins, products and small formulas students call as torch.<name>, each composed of the
# ops above (cat, reshape, matmul, einsum, where, …): no new gradient formula.
def _all(tensors):
    _, as_tensor = _tensor()
    return [as_tensor(t) for t in tensors]


def _given(tensors):
    """The tensors of ``f(a, b)`` or ``f([a, b])``, as Tensors."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    return _all(tensors)


def _atleast(tensors, k):
    """The tensors (as ``_given``) each with at least k dims, numpy's and PyTorch's rule:
    () → (1,)·k; (n,) → (1, n) for k = 2, (1, n, 1) for k = 3; (m, n) → (m, n, 1) for k = 3."""
    def grow(t):
        if t.ndim >= k:
            return t
        if t.ndim == 0:
            return t.reshape((1,) * k)
        if t.ndim == 1:
            return t.reshape((1, t.shape[0], 1) if k == 3 else (1, t.shape[0]))
        return t.unsqueeze(-1)  # (m, n) with k = 3
    return [grow(t) for t in _given(tensors)]


def _one_or_tuple(ts):
    return ts[0] if len(ts) == 1 else tuple(ts)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d one as (1,)); one tensor in, one out."""
    return _one_or_tuple(_atleast(tensors, 1))


def atleast_2d(*tensors):
    """At least 2 dims: () → (1, 1), (n,) → (1, n)."""
    return _one_or_tuple(_atleast(tensors, 2))


def atleast_3d(*tensors):
    """At least 3 dims: () → (1, 1, 1), (n,) → (1, n, 1), (m, n) → (m, n, 1)."""
    return _one_or_tuple(_atleast(tensors, 3))


def _cat(tensors, dim):
    from ..functional import cat
    return cat(tensors, dim=dim)


def hstack(tensors):
    """Join along dim 1 (dim 0 for 1-D tensors): ``torch.hstack``."""
    ts = _atleast((tensors,), 1)
    return _cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    """Join rows: 1-D tensors become rows (``torch.vstack`` / ``row_stack``)."""
    return _cat(_atleast((tensors,), 2), 0)


def dstack(tensors):
    """Join along dim 2 after ``atleast_3d`` (``torch.dstack``)."""
    return _cat(_atleast((tensors,), 3), 2)


def column_stack(tensors):
    """Join columns: 0-d and 1-D tensors become columns (n, 1) (``torch.column_stack``)."""
    ts = [t.reshape(-1, 1) if t.ndim < 2 else t for t in _all(tensors)]
    return _cat(ts, 1)


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (views; gradients summed back)."""
    ts = _given(tensors)
    shape = np.broadcast_shapes(*[t.shape for t in ts])
    return tuple(t.broadcast_to(shape) for t in ts)


def addmm(x, mat1, mat2, *, beta=1, alpha=1):
    """``beta·x + alpha·(mat1 @ mat2)`` (``torch.addmm``; mat1 (n, m), mat2 (m, p), x
    broadcasting to (n, p)). With beta = 0, x is ignored (NaN in it too), as PyTorch."""
    if mat1.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"addmm: mat1 and mat2 must be matrices, got {mat1.shape} and "
                           f"{mat2.shape}")
    return _scaled_sum(x, mat1 @ mat2, beta, alpha)


def addmv(x, mat, vec, *, beta=1, alpha=1):
    """``beta·x + alpha·(mat @ vec)`` (``torch.addmv``)."""
    if mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"addmv: expected a matrix and a vector, got {mat.shape} and "
                           f"{vec.shape}")
    return _scaled_sum(x, mat @ vec, beta, alpha)


def baddbmm(x, batch1, batch2, *, beta=1, alpha=1):
    """``beta·x + alpha·(batch1 @ batch2)`` over a batch of matrices (``torch.baddbmm``)."""
    if batch1.ndim != 3 or batch2.ndim != 3:
        raise RuntimeError(f"baddbmm: batch1 and batch2 must be 3-D, got {batch1.shape} and "
                           f"{batch2.shape}")
    return _scaled_sum(x, batch1 @ batch2, beta, alpha)


def _scaled_sum(x, product, beta, alpha):
    out = product if alpha == 1 else product * alpha
    if beta == 0:
        return out
    x = _all([x])[0]
    return (x if beta == 1 else x * beta) + out


def tensordot(a, b, dims=2):
    """Sum over the last ``dims`` dims of a and the first of b (an int), or over the listed
    pairs (``([a dims], [b dims])``): ``torch.tensordot``, as a permute, a reshape and one
    matmul."""
    a, b = _all([a, b])
    if isinstance(dims, (int, np.integer)):
        if dims < 0 or dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot: dims {dims} must be between 0 and the operands' "
                               f"dims {a.ndim}, {b.ndim}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in dims)
        da = [norm_axis("tensordot", d, a.shape) for d in da]
        db = [norm_axis("tensordot", d, b.shape) for d in db]
    if len(da) != len(db) or any(a.shape[i] != b.shape[j] for i, j in zip(da, db, strict=True)):
        raise RuntimeError(f"tensordot: contracted dims {da} of {a.shape} and {db} of "
                           f"{b.shape} must pair up with equal sizes")
    fa, fb = [d for d in range(a.ndim) if d not in da], [d for d in range(b.ndim) if d not in db]
    k = int(np.prod([a.shape[d] for d in da]))
    left = a.permute(*fa, *da).reshape(-1, k)
    right = b.permute(*db, *fb).reshape(k, -1)
    return (left @ right).reshape(*[a.shape[d] for d in fa], *[b.shape[d] for d in fb])


def kron(a, b):
    """The Kronecker product (``torch.kron``): the dims paired from the right (the shorter
    one padded with leading 1s), out[i·m + k] = a[i]·b[k] in each dim."""
    a, b = _all([a, b])
    n = max(a.ndim, b.ndim)
    sa, sb = (1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape
    ea = a.reshape(*[v for s in sa for v in (s, 1)])
    eb = b.reshape(*[v for s in sb for v in (1, s)])
    return (ea * eb).reshape(*[x * y for x, y in zip(sa, sb, strict=True)])


def cross(a, b, dim=None):
    """The cross product of 3-vectors along ``dim`` (``torch.cross``). dim None is PyTorch's
    deprecated default, warned about as there: the first dim of size 3 (``linalg.cross`` and
    the future default use the last)."""
    import warnings
    a, b = _all([a, b])
    shape = np.broadcast_shapes(a.shape, b.shape)
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated. Please "
                      "either pass the dim explicitly or simply use torch.linalg.cross. "
                      "(PyTorch's warning: stepgrad takes the first dim of size 3, as PyTorch)",
                      UserWarning, stacklevel=2)
        sizes3 = [d for d, s in enumerate(shape) if s == 3]
        if not sizes3:
            raise RuntimeError(f"cross: no dimension of size 3 in input {shape}")
        dim = sizes3[0]
    dim = norm_axis("cross", dim, shape)
    if a.shape[dim - a.ndim] != 3 or b.shape[dim - b.ndim] != 3:
        raise RuntimeError(f"cross: inputs dimension {dim} must have length 3, got {a.shape} "
                           f"and {b.shape}")

    def part(t, i):
        return t.narrow(dim - t.ndim, i, 1)
    from ..functional import cat
    return cat([part(a, 1) * part(b, 2) - part(a, 2) * part(b, 1),
                part(a, 2) * part(b, 0) - part(a, 0) * part(b, 2),
                part(a, 0) * part(b, 1) - part(a, 1) * part(b, 0)], dim=dim)


def dist(a, b, p=2):
    """The p-norm of a − b (``torch.dist``)."""
    a, b = _all([a, b])
    return (a - b).norm(p)


def rot90(x, k=1, dims=(0, 1)):
    """Rotate by 90° k times in the plane of ``dims``, from the first towards the second
    (``torch.rot90``): a flip and a transpose."""
    d0, d1 = (norm_axis("rot90", d, x.shape) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"rot90: the two dims must differ, got {tuple(dims)}")
    k %= 4
    if k == 1:
        return x.flip(d1).transpose(d0, d1)
    if k == 2:
        return x.flip((d0, d1))
    if k == 3:
        return x.flip(d0).transpose(d0, d1)
    return x.clone()


def logit(x, eps=None):
    """log(p / (1 − p)), p clamped to [eps, 1 − eps] when eps is given (``torch.logit``)."""
    p = x if eps is None else x.clamp(eps, 1 - eps)
    return (p / (1 - p)).log()


def xlogy(x, y):
    """x·log(y), 0 where x = 0 (even at y = 0; NaN stays NaN): ``torch.xlogy``. The
    gradients are x's log(y) and y's x/y, with 0 for x at x = y = 0 (PyTorch's) and 0 for y
    there too (the function is 0 along x = 0; PyTorch gives NaN)."""
    from ..functional import where
    Tensor, _ = _tensor()
    x, y = _all([x, y])
    xd, yd = np.broadcast_arrays(x.data, y.data)
    constant = (xd == 0) & ~np.isnan(yd) & ~((yd > 0) & np.isfinite(yd))  # log(y) unusable
    ones = Tensor._make(np.ones(yd.shape, y.dtype))
    return x * where(constant, ones, y).log()  # x = 0 there, so the product is 0


def deg2rad(x):
    return x * (np.pi / 180)


def rad2deg(x):
    return x * (180 / np.pi)


def fmax(a, b):
    """The elementwise maximum, a NaN losing to a number (``torch.fmax``); at a tie the first
    argument is taken, and its gradient is whole (PyTorch's)."""
    return _first_unless(np.greater_equal, a, b)


def fmin(a, b):
    """The elementwise minimum, a NaN losing to a number (``torch.fmin``); ties as fmax."""
    return _first_unless(np.less_equal, a, b)


def _first_unless(keeps, a, b):
    """a where ``keeps(a, b)`` or b is NaN, else b: PyTorch's fmax/fmin, gradient included
    (all of it to the one taken, the first at a tie; a NaN loses to a number)."""
    from ..functional import where
    a, b = _all([a, b])
    with np.errstate(invalid="ignore"):
        take_a = keeps(a.data, b.data) | np.isnan(b.data)
    return where(take_a, a, b)


def diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """Matrices with x's last dim on their ``offset`` diagonal (``torch.diag_embed``):
    (…, n) → (…, n + |offset|, n + |offset|). Only the default dims (the last two)."""
    if (dim1, dim2) != (-2, -1):
        raise NotImplementedError("diag_embed: only dim1=-2, dim2=-1 are supported in "
                                  "stepgrad (permute the result)")
    from ..functional import einsum
    n = x.shape[-1]
    m = n + abs(offset)
    place = np.zeros((n, m, m), x.dtype)
    i = np.arange(n)
    place[i, i + max(0, -offset), i + max(0, offset)] = 1
    Tensor, _ = _tensor()
    return einsum("...i,ijk->...jk", x, Tensor._make(place))


def cov(x, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in x's rows, observations in its columns
    (a 1-D x: one variable → a 0-d variance): ``torch.cov`` without weights."""
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov: fweights and aweights are not supported in stepgrad")
    if x.ndim > 2:
        raise RuntimeError(f"cov: expected input to have two or fewer dimensions but got an "
                           f"input with {x.ndim} dimensions")
    one = x.ndim < 2
    v = x.reshape(1, -1) if one else x
    centred = v - v.mean(1, keepdim=True)
    c = (centred @ centred.t()) / max(v.shape[1] - correction, 0)
    return c.reshape(()) if one else c


def corrcoef(x):
    """Pearson correlation coefficients of x's rows (``torch.corrcoef``), clipped to
    [−1, 1] as PyTorch."""
    c = cov(x)
    if c.ndim == 0:
        return c / c
    d = c.diagonal().sqrt()
    return (c / d.reshape(-1, 1) / d.reshape(1, -1)).clamp(-1, 1)


def block_diag(*tensors):
    """A block-diagonal matrix of the 2-D tensors given (0-d and 1-D taken as one row):
    ``torch.block_diag``."""
    blocks = [t.reshape(1, -1) if t.ndim < 2 else t for t in _all(tensors)]
    if any(b.ndim != 2 for b in blocks):
        raise RuntimeError("block_diag: input tensors must have 2 or fewer dimensions")
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows.append(b.pad(((0, 0), (left, width - left - b.shape[1]))))
        left += b.shape[1]
    return _cat(rows, 0)


def cartesian_prod(*tensors):
    """Every combination of the 1-D tensors' elements, one per row (``torch.cartesian_prod``;
    one tensor: itself)."""
    ts = _all(tensors)
    if len(ts) == 1:
        return ts[0]
    from ..functional import meshgrid, stack
    return stack([g.reshape(-1) for g in meshgrid(*ts, indexing="ij")], dim=1)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """∫ y by the trapezoid rule along ``dim`` (``torch.trapezoid`` / ``trapz``): spacing
    ``dx`` (default 1) or sample points ``x``."""
    dim = norm_axis("trapezoid", dim, y.shape)
    n = y.shape[dim]
    mid = (y.narrow(dim, 1, n - 1) + y.narrow(dim, 0, n - 1)) / 2
    if x is None:
        return mid.sum(dim) * (1.0 if dx is None else dx)
    x = _all([x])[0]
    axis = dim - y.ndim if x.ndim > 1 else 0  # x's dim, counted from the end as y's
    xd = x.narrow(axis, 1, n - 1) - x.narrow(axis, 0, n - 1)
    if x.ndim == 1 and y.ndim > 1:
        xd = xd.reshape(*[n - 1 if d == dim else 1 for d in range(y.ndim)])
    return (mid * xd).sum(dim)


def logspace(start, end, steps, base=10.0, dtype=None):
    """``base ** linspace(start, end, steps)`` (``torch.logspace``), no gradient."""
    Tensor, _ = _tensor()
    return Tensor(np.power(float(base), np.linspace(start, end, steps)), dtype=dtype)


def triu_indices(row, col, offset=0):
    """The (2, n) int64 indices of the upper triangle of a (row, col) matrix from the
    ``offset`` diagonal (``torch.triu_indices``)."""
    return _int64(np.stack(np.triu_indices(row, offset, col)))


def tril_indices(row, col, offset=0):
    """The lower triangle's indices (``torch.tril_indices``)."""
    return _int64(np.stack(np.tril_indices(row, offset, col)))
