"""More reductions and the scans: prod, norm, cumsum, cumprod, logcumsumexp (op classes);
sort, argsort, topk, kthvalue, median, nanmedian, cummax, cummin (index-picking: an index
array is computed without gradient, then ``gather`` picks the values, so the gradient goes
back to exactly the picked elements, as in PyTorch); unique and unique_consecutive (no
gradient).

Scans take one ``axis`` (PyTorch's ``dim``, required there); reductions any axes.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..testing import Bad, OpSpec, T, axis_param, distinct, reduce_params, register, spec
from . import xp
from .base import Op, norm_axis
from .reduce import Reduce, _floats_only, result_dtype

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
"""What sort, topk, kthvalue, median(dim), cummax and cummin return, as PyTorch:
``values, indices = x.sort(dim)``."""

_INF = float("inf")


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _with_zeros(rng, shape):
    """Normal values with about a fifth set to exactly 0 (prod's gradient must not divide)."""
    x = rng.standard_normal(shape)
    return np.where(rng.random(shape) < 0.2, 0.0, x)


# -------------------------------------------------------------------------------- prod
@spec(call=lambda x, **p: x.prod(**p), params=reduce_params, domain=(_with_zeros,),
      ref=lambda x, axis, keepdims: np.prod(x, axis=_np_axis(axis), keepdims=keepdims))
class Prod(Reduce):
    name, empty_dim_is_all = "prod", False
    formula = "d(Π u)/du_i = the product of the other elements"

    def forward(self, x, *, axis=None, keepdims=False, dtype=None):
        self.setup(x, axis, keepdims)
        return np.asarray(np.prod(x, axis=self.axes, keepdims=self.keepdims,
                                  dtype=result_dtype(x.dtype, dtype)))

    def backward(self, g, x, out):
        return self.expand(g) * _product_of_others(x, self.axes)


def _product_of_others(x, axes):
    """For each element, the product of the *other* elements of its reduction group, without
    dividing (zeros are fine): the exclusive running products from the left and the right.

    The reduced axes are moved to the end and flattened into one of length n."""
    keep = [a for a in range(x.ndim) if a not in axes]
    perm = keep + list(axes)
    moved = xp.permute(x, perm) if perm != list(range(x.ndim)) else x
    lead = moved.shape[:len(keep)]
    n = int(np.prod(moved.shape[len(keep):], dtype=np.int64))
    if n == 0:
        return x * 0
    flat = moved.reshape(lead + (n,))
    edge = [(0, 0)] * len(lead)
    left = xp.cumprod(xp.pad(flat[..., :-1], edge + [(1, 0)], 1.0), -1)
    right = xp.flip(xp.cumprod(xp.flip(xp.pad(flat[..., 1:], edge + [(0, 1)], 1.0), -1), -1), -1)
    others = (left * right).reshape(moved.shape)
    back = [int(i) for i in np.argsort(perm)]
    return xp.permute(others, back) if perm != list(range(x.ndim)) else others


# -------------------------------------------------------------------------------- norm
def _norm_ref(x, ord, axis, keepdims):
    a = np.abs(x)
    ax = _np_axis(axis)
    if ord == _INF:
        return a.max(axis=ax, keepdims=keepdims)
    if ord == -_INF:
        return a.min(axis=ax, keepdims=keepdims)
    return (a ** ord).sum(axis=ax, keepdims=keepdims) ** (1 / ord)


def _norm_params(rng, shapes):
    p = reduce_params(rng, shapes)
    p["ord"] = float(rng.choice([1.0, 2.0, 3.0, 0.5, _INF, -_INF]))
    return p


_NORM_ORDS = "a number (2 by default; 1, 0, inf, -inf, 0.5, 3, …) or 'fro'"


def _distinct_magnitudes(rng, shape):
    """|u| all distinct (≥ 0.05 apart) and ≥ 0.3, random signs: no ties for the max-norm,
    no zero for p < 1."""
    n = int(np.prod(shape))
    mags = 0.3 + (rng.permutation(n) + rng.uniform(0, 0.5, n)) * 0.1
    return (mags * rng.choice([-1.0, 1.0], size=n)).reshape(shape)


@spec(call=lambda x, **p: Norm.apply(x, **p), params=_norm_params, domain=(_distinct_magnitudes,),
      ref=_norm_ref,
      errors=(Bad(lambda: T(2, 2).norm("nuc"), ValueError,
                  r"norm: p='nuc' is not supported .*'fro'"),))
class Norm(Reduce):
    name, float_only = "norm", True
    formula = "d‖u‖ₚ/du = sign(u)·|u|^(p−1) / ‖u‖ₚ^(p−1) (0 where ‖u‖ₚ = 0)"

    def forward(self, x, *, ord=2.0, axis=None, keepdims=False):
        _floats_only("norm", x)
        self.setup(x, axis, keepdims)
        self.ord = float(ord)
        axes, kd = self.axes, self.keepdims
        a = np.abs(x)
        if self.ord == _INF or self.ord == -_INF:
            if self.n == 0:
                raise IndexError(f"norm: the {ord}-norm of an empty dimension is undefined "
                                 f"(shape {x.shape}, axes {axes})")
            return np.asarray((a.max if self.ord > 0 else a.min)(axis=axes, keepdims=kd))
        if self.ord == 0:
            return np.asarray((x != 0).sum(axis=axes, keepdims=kd), dtype=x.dtype)
        if self.ord == 1:
            return np.asarray(a.sum(axis=axes, keepdims=kd))
        if self.ord == 2:
            return np.asarray(np.sqrt((x * x).sum(axis=axes, keepdims=kd)))
        p = x.dtype.type(self.ord)
        return np.asarray((a ** p).sum(axis=axes, keepdims=kd) ** (1 / p))

    def backward(self, g, x, out):
        p, g, out = self.ord, self.expand(g), self.expand(out)
        if p == 0:
            return g * x * 0
        if p == 1:
            return g * xp.sign(x)
        if p == 2:  # x/‖x‖; where ‖x‖ = 0, x is all zeros, so dividing by 1 gives 0
            return g * x / xp.where(out == 0, 1.0, out)
        if p == _INF or p == -_INF:  # to the elements at the max (min) |x|, ties share it
            hit = (xp.abs(x) == out).astype(x.dtype)
            return g * xp.sign(x) * hit / hit.sum(axis=self.axes, keepdims=True)
        a = xp.abs(x)
        zero = a == 0
        power = xp.where(zero, 0.0, xp.sign(x) * xp.where(zero, 1.0, a) ** (p - 1))
        scale = xp.where(out == 0, 1.0, out) ** (p - 1)
        return xp.where(out == 0, 0.0, g * power / scale)

    def label(self):
        return f"{super().label()} p={self.ord:g}"


# -------------------------------------------------------------------------------- scans
def _scan_params(rng, shapes):
    return axis_param(rng, shapes)


@spec(call=lambda x, axis: x.cumsum(axis), ref=lambda x, axis: np.cumsum(x, axis),
      params=_scan_params, min_dims=1,
      errors=(Bad(lambda: T(2, 3).cumsum(2), IndexError, r"cumsum: dim 2 is out of range"),))
class Cumsum(Op):
    name, linear = "cumsum", True
    formula = "d(running sum)/du_i: the sum of the upstream gradient from i to the end"

    def forward(self, x, *, axis, dtype=None):
        self.axis = norm_axis("cumsum", axis, x.shape)
        dtype = result_dtype(x.dtype, dtype)  # ints and bools: int64
        return np.cumsum(x, axis=self.axis, dtype=dtype) if x.ndim else x.astype(dtype)

    def backward(self, g, x, out):
        if x.ndim == 0:
            return g
        return xp.flip(xp.cumsum(xp.flip(g, self.axis), self.axis), self.axis)

    def label(self):
        return f"cumsum dim={self.axis}"


@spec(call=lambda x, axis: x.cumprod(axis), ref=lambda x, axis: np.cumprod(x, axis),
      params=_scan_params, min_dims=1, domain=(_with_zeros,))
class Cumprod(Op):
    name, twice = "cumprod", False
    formula = "d(running product)_j/du_i = Π_{k ≤ j, k ≠ i} u_k for j ≥ i"

    def forward(self, x, *, axis, dtype=None):
        self.axis = norm_axis("cumprod", axis, x.shape)
        dtype = result_dtype(x.dtype, dtype)  # ints and bools: int64
        return np.cumprod(x, axis=self.axis, dtype=dtype) if x.ndim else x.astype(dtype)

    def backward(self, g, x, out):
        if x.ndim == 0:
            return g
        xm, gm, om = (np.moveaxis(a, self.axis, -1) for a in (x, g, out))
        if om.size and (om != 0).all():  # no zero (and no underflow): the quick formula
            grad = np.flip(np.cumsum(np.flip(gm * om, -1), -1), -1) / xm
        else:
            # grad_i = L_i · S_i with L_i = Π_{k<i} u_k and S_i = Σ_{j≥i} g_j Π_{i<k≤j} u_k,
            # S_i = g_i + u_{i+1}·S_{i+1}: one pass from the right, no division.
            n = xm.shape[-1]
            ones = np.ones(xm.shape[:-1] + (1,), xm.dtype)
            left = np.cumprod(np.concatenate([ones, xm[..., :-1]], -1), -1)
            s = np.empty(np.broadcast_shapes(gm.shape, xm.shape), np.result_type(gm, xm))
            if n:
                s[..., n - 1] = gm[..., n - 1]
            for i in range(n - 2, -1, -1):
                s[..., i] = gm[..., i] + xm[..., i + 1] * s[..., i + 1]
            grad = left * s
        return np.moveaxis(grad, -1, self.axis)

    def label(self):
        return f"cumprod dim={self.axis}"


def _logcumsumexp_ref(x, axis):
    m = x.max()
    return np.log(np.cumsum(np.exp(x - m), axis)) + m


@spec(call=lambda x, axis: x.logcumsumexp(axis), ref=_logcumsumexp_ref, params=_scan_params,
      min_dims=1)
class LogCumSumExp(Op):
    name, float_only, twice = "logcumsumexp", True, False
    formula = "d out_j/du_i = e^(u_i − out_j) for j ≥ i"

    def forward(self, x, *, axis):
        self.axis = norm_axis("logcumsumexp", axis, x.shape)
        return np.logaddexp.accumulate(x, axis=self.axis) if x.ndim else x.copy()

    def backward(self, g, x, out):
        if x.ndim == 0:
            return g
        # Σ_{j≥i} g_j e^(u_i − out_j), in log space to never overflow, positive and negative
        # parts of g separately (TensorFlow's formulation).
        ax = self.axis

        def reverse_lcse(v):
            return np.flip(np.logaddexp.accumulate(np.flip(v, ax), axis=ax), ax)

        g = np.broadcast_to(g, out.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = np.where(g > 0, np.log(np.where(g > 0, g, 1)), -np.inf)
            neg = np.where(g < 0, np.log(np.where(g < 0, -g, 1)), -np.inf)
            return np.exp(reverse_lcse(pos - out) + x) - np.exp(reverse_lcse(neg - out) + x)

    def label(self):
        return f"logcumsumexp dim={self.axis}"


# --------------------------------------------------------------- index-picking functions
def _tensor(array):
    from ..tensor import Tensor
    return Tensor._make(np.asarray(array, np.int64))


def argsort_array(a, axis, descending=False):
    """Stable sort order along ``axis``; NaN counts as the largest value (as PyTorch)."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    key = -a if a.dtype.kind != "b" else ~a
    # lexsort: the last key is the primary one -- NaNs first, then by decreasing value.
    return np.lexsort((np.where(nan, 0, key), ~nan), axis=axis)


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along ``dim`` (ascending unless ``descending``); stable."""
    if x.ndim == 0:
        return ValuesIndices(x.clone(), _tensor(0))
    axis = norm_axis("sort", dim, x.shape)
    idx = argsort_array(x.data, axis, descending)
    return ValuesIndices(x.gather(axis, idx), _tensor(idx))


def argsort(x, dim=-1, descending=False, stable=False):
    if x.ndim == 0:
        return _tensor(0)
    return _tensor(argsort_array(x.data, norm_axis("argsort", dim, x.shape), descending))


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (smallest with ``largest=False``) along ``dim``, in order."""
    axis = norm_axis("topk", dim, x.shape)
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise IndexError(f"topk: k = {k} is out of range for dim {dim} of size {n} "
                         f"(shape {x.shape})")
    if x.ndim == 0:
        return ValuesIndices(x.clone(), _tensor(0))
    idx = np.take(argsort_array(x.data, axis, largest), np.arange(k), axis=axis)
    return ValuesIndices(x.gather(axis, idx), _tensor(idx))


def kthvalue(x, k, dim=-1, keepdim=False):
    """The ``k``-th smallest (1-based) along ``dim``, and its index."""
    axis = norm_axis("kthvalue", dim, x.shape)
    n = x.shape[axis] if x.ndim else 1
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue: k = {k} is out of range for dim {dim} of size {n} "
                         f"(shape {x.shape}; k counts from 1)")
    if x.ndim == 0:
        return ValuesIndices(x.clone(), _tensor(0))
    idx = np.take(argsort_array(x.data, axis), [k - 1], axis=axis)
    return _pick(x, axis, idx, keepdim)


def _pick(x, axis, idx, keepdim):
    values = x.gather(axis, idx)
    if not keepdim:
        values, idx = values.squeeze(axis), np.squeeze(idx, axis)
    return ValuesIndices(values, _tensor(idx))


def median(x, dim=None, keepdim=False):
    """The lower median (of an even count, the smaller middle value, as PyTorch); NaN if
    any element is NaN. ``median()``: the value (its gradient shared by the elements equal
    to it, as PyTorch: the NaNs, when it is NaN); ``median(dim)``: (values, indices)."""
    return _median(x, dim, keepdim, "median")


def nanmedian(x, dim=None, keepdim=False):
    """``median`` with the NaNs left out, PyTorch's ``nanmedian``: the lower median of the
    other values (NaN only where all are NaN). ``nanmedian()``: the value, its gradient
    shared by the elements equal to it; ``nanmedian(dim)``: (values, indices), the gradient
    going to the index. Among equal values the index is the one a stable sort puts in the
    middle (PyTorch's choice too); for an all-NaN slice it is that slice's first element
    (PyTorch's is an artefact of its selection algorithm: 0 up to 3 elements, then others).

    >>> import engine
    >>> nan = float("nan")
    >>> engine.tensor([[2.0, nan, 1.0, 5.0], [nan, 4.0, nan, 3.0]]).nanmedian(1).values.data
    array([2., 3.], dtype=float32)
    """
    return _median(x, dim, keepdim, "nanmedian")


def _median(x, dim, keepdim, op):
    skip_nan = op == "nanmedian"
    if dim is None:
        if x.numel() == 0:
            raise IndexError(f"{op}: cannot take the median of an empty tensor")
        flat = x.reshape(-1)
        i = int(_median_index(flat.data[None], 1, skip_nan)[0, 0])
        v = flat.data[i]
        ties = np.flatnonzero(np.isnan(flat.data) if v != v else flat.data == v)
        if len(ties) < 2:
            return flat[i]
        # equal values share the gradient, as PyTorch's median(): NaNs too (their mean is NaN)
        return flat[ties].mean() if v != v else flat[ties].amax()
    axis = norm_axis(op, dim, x.shape)
    if x.ndim == 0:
        return ValuesIndices(x.clone(), _tensor(0))
    if x.shape[axis] == 0:
        raise IndexError(f"{op}: dim {dim} of shape {x.shape} is empty")
    return _pick(x, axis, _median_index(x.data, axis, skip_nan), keepdim)


def _median_index(a, axis, skip_nan=False):
    """Where the lower median sits along ``axis``, in stable sort order (NaN last). A NaN
    makes the median NaN (the first NaN's index); ``skip_nan`` leaves the NaNs out (an
    all-NaN slice gives its first element)."""
    order = argsort_array(a, axis)
    nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    if skip_nan:
        count = (~nan).sum(axis=axis, keepdims=True)
        return np.take_along_axis(order, np.maximum(count - 1, 0) // 2, axis=axis)
    idx = np.take(order, [(a.shape[axis] - 1) // 2], axis=axis)
    first_nan = np.argmax(nan, axis=axis, keepdims=True)
    return np.where(nan.any(axis=axis, keepdims=True), first_nan, idx)


_QUANTILE_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def quantile(x, q, dim=None, keepdim=False, interpolation="linear"):
    """The ``q``-quantiles along ``dim`` (all elements when None), PyTorch's ``quantile``:
    sorted values v, position p = q·(n − 1); 'linear' gives v[⌊p⌋] + (p − ⌊p⌋)·(v[⌈p⌉] −
    v[⌊p⌋]); 'lower', 'higher', 'nearest' (half to even) and 'midpoint' pick or average the
    two neighbours. ``q`` a number: that dim is reduced; a 1-D list/array/Tensor of them: a new
    first dim of len(q). NaN anywhere in a slice gives NaN there. Differentiable (through
    the sort): the gradient goes to the one or two values picked."""
    if interpolation not in _QUANTILE_MODES:
        raise ValueError(f"quantile: interpolation must be one of {_QUANTILE_MODES}, got "
                         f"{interpolation!r}")
    qs = np.asarray(getattr(q, "data", q), dtype=np.float64)
    if qs.ndim > 1:
        raise ValueError(f"quantile: q must be a number or 1-D, got shape {qs.shape}")
    if np.any((qs < 0) | (qs > 1)) or np.any(np.isnan(qs)):
        raise ValueError(f"quantile: q values must be in the range [0, 1], got {qs.tolist()}")
    if dim is None:
        flat = x.reshape(-1)
        out = quantile(flat, q, 0, False, interpolation)
        return out.reshape(out.shape + (1,) * x.ndim) if keepdim else out
    axis = norm_axis("quantile", dim, x.shape)
    n = x.shape[axis]
    if n == 0:
        raise IndexError(f"quantile: dim {dim} of shape {x.shape} is empty")
    v = x.sort(axis).values  # NaN sorts last
    pos = qs.reshape(-1) * (n - 1)
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    if interpolation == "nearest":
        lo = hi = np.round(pos).astype(np.int64)  # half to even, as PyTorch
    elif interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi

    def take(i):  # (len(q), …) with q's axis first
        return v.index_select(axis, _tensor(i)).movedim(axis, 0)

    a, b = take(lo), take(hi)
    if interpolation == "midpoint":
        out = a + (b - a) * 0.5
    elif interpolation == "linear":
        w = (pos - lo).reshape((-1,) + (1,) * (x.ndim - 1)).astype(x.dtype)
        out = a + (b - a) * w  # a constant array: joins a's dtype
    else:
        out = a
    if x.dtype.kind == "f":  # a NaN in the slice: NaN (it sorted last, so check the last)
        nan = np.isnan(v.data.take([-1], axis=axis)).swapaxes(0, axis)
        if nan.any():
            out = out.masked_fill(np.broadcast_to(nan, out.shape), np.nan)
    if keepdim:
        out = out.unsqueeze(axis + 1)
    return out if qs.ndim else out.squeeze(0)


def unique(x, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), as PyTorch's ``unique``: with ``return_inverse`` also
    where each element of x went (x's shape; ``dim`` given: one index per slice), with
    ``return_counts`` how often each occurs; ``dim`` takes distinct slices along that dim.
    No gradient (the result is a selection, not a function of the values). NaNs count as
    distinct from each other, as in PyTorch."""
    from ..tensor import Tensor
    a = x.data
    axis = None if dim is None else norm_axis("unique", dim, x.shape)
    if axis is not None and a.shape[axis] == 0:
        raise IndexError(f"unique: dim {dim} of shape {x.shape} is empty")
    values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True, axis=axis,
                                        equal_nan=False)
    out = [Tensor._make(values)]
    if return_inverse:
        out.append(_tensor(inverse.reshape(a.shape) if axis is None else inverse.reshape(-1)))
    if return_counts:
        out.append(_tensor(counts))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(x, return_inverse=False, return_counts=False, dim=None):
    """One element of each run of equal consecutive values (``[1, 1, 2, 2, 1]`` →
    ``[1, 2, 1]``), PyTorch's ``unique_consecutive``: with ``return_inverse`` also which run
    each element of x belongs to (x's shape; with ``dim``, one per slice), with
    ``return_counts`` each run's length; ``dim`` compares whole slices along that dim. NaNs
    never equal each other (each is a run of its own, as in PyTorch). No gradient.

    >>> import engine
    >>> engine.tensor([1, 1, 2, 2, 3, 1, 1]).unique_consecutive(return_counts=True)[1].data
    array([2, 2, 1, 2])
    """
    from ..tensor import Tensor
    a = x.data
    if dim is None:
        flat = a.reshape(-1)
        runs = flat
        axis = 0
    else:
        axis = norm_axis("unique_consecutive", dim, x.shape)
        if x.ndim == 0:
            raise IndexError(f"unique_consecutive: dim {dim} given but the tensor is 0-d; use "
                             f"dim=None")
        if a.size == 0 and a.shape[axis] != 0:
            raise ValueError(f"unique_consecutive: shape {x.shape} has an empty dim other "
                             f"than dim {dim}, so its slices cannot be compared (as PyTorch)")
        rest = int(np.prod([k for d, k in enumerate(a.shape) if d != axis]))
        runs = np.moveaxis(a, axis, 0).reshape(a.shape[axis], rest)  # one row per slice
    n = runs.shape[0]
    new = np.ones(n, bool)  # where a run starts
    if n > 1:
        differ = runs[1:] != runs[:-1]
        new[1:] = differ if differ.ndim == 1 else differ.any(axis=1)
    starts = np.flatnonzero(new)
    values = flat[starts] if dim is None else np.take(a, starts, axis=axis)
    out = [Tensor._make(values)]
    if return_inverse:
        inverse = np.cumsum(new) - 1
        out.append(_tensor(inverse.reshape(a.shape) if dim is None else inverse))
    if return_counts:
        out.append(_tensor(np.diff(np.append(starts, n))))
    return out[0] if len(out) == 1 else tuple(out)


def _cumulative_extreme(x, dim, which):
    axis = norm_axis(which, dim, x.shape)
    if x.ndim == 0:
        return ValuesIndices(x.clone(), _tensor(0))
    a = x.data
    best = (np.maximum if which == "cummax" else np.minimum).accumulate(a, axis=axis)
    # The index of the last element equal to the running extreme (PyTorch's choice for
    # ties); a NaN becomes the extreme from there on.
    record = (a == best) | (np.isnan(a) if a.dtype.kind == "f" else False)
    shape = [1] * a.ndim
    shape[axis] = a.shape[axis]
    positions = np.where(record, np.arange(a.shape[axis]).reshape(shape), 0)
    idx = np.maximum.accumulate(positions, axis=axis)
    return ValuesIndices(x.gather(axis, idx), _tensor(idx))


def cummax(x, dim):
    """Running maximum along ``dim`` and where it was attained: (values, indices)."""
    return _cumulative_extreme(x, dim, "cummax")


def cummin(x, dim):
    return _cumulative_extreme(x, dim, "cummin")


def _np_sort(x, axis, descending=False):
    s = np.sort(x, axis=axis)
    return np.flip(s, axis) if descending else s


def _sort_params(rng, shapes):
    return {**axis_param(rng, shapes), "descending": bool(rng.integers(0, 2))}


def _topk_params(rng, shapes):
    p = axis_param(rng, shapes)
    return {**p, "k": int(rng.integers(1, shapes[0][p["axis"]] + 1)),
            "largest": bool(rng.integers(0, 2))}


def _topk_ref(x, axis, k, largest):
    return np.take(_np_sort(x, axis, largest), np.arange(k), axis=axis)


def _kth_params(rng, shapes):
    p = axis_param(rng, shapes)
    return {**p, "k": int(rng.integers(1, shapes[0][p["axis"]] + 1))}


def _kth_ref(x, axis, k):
    return np.take(np.sort(x, axis=axis), k - 1, axis=axis)


def _median_ref(x, axis):
    return np.take(np.sort(x, axis=axis), (x.shape[axis] - 1) // 2, axis=axis)


def _cum_ref(fn):
    return lambda x, axis: fn.accumulate(x, axis=axis)


for _name, _call, _ref, _params in [
    ("sort", lambda x, axis, descending: x.sort(axis, descending).values,
     lambda x, axis, descending: _np_sort(x, axis, descending), _sort_params),
    ("topk", lambda x, axis, k, largest: x.topk(k, axis, largest).values, _topk_ref,
     _topk_params),
    ("kthvalue", lambda x, axis, k: x.kthvalue(k, axis).values, _kth_ref, _kth_params),
    ("median_dim", lambda x, axis: x.median(axis).values, _median_ref, axis_param),
    ("cummax", lambda x, axis: x.cummax(axis).values, _cum_ref(np.maximum), axis_param),
    ("cummin", lambda x, axis: x.cummin(axis).values, _cum_ref(np.minimum), axis_param),
]:
    register(OpSpec(_name, _call, _ref, values=(distinct,), params=_params, min_dims=1))

register(OpSpec("median", lambda x: x.median(), lambda x: np.sort(x.ravel())[(x.size - 1) // 2],
                values=(distinct,)))


def _with_nans(rng, shape):
    """Distinct values, some NaN: only where the coordinates have an odd sum, and only when
    no dim has size 1, so every line along every dim keeps a number (an all-NaN slice's
    median is NaN, with no gradient to check; tests/engine/test_scatter_tail.py has them)."""
    x = distinct(rng, shape)
    if 1 in shape:
        return x
    odd = np.indices(shape).sum(axis=0) % 2 == 1
    return np.where(odd & (rng.random(shape) < 0.5), np.nan, x)


def _nanmedian_ref(x, axis=None):
    """The lower median of the non-NaN values, slice by slice (NaN where there are none)."""
    if axis is None:
        v = np.sort(x[~np.isnan(x)])
        return v[(v.size - 1) // 2]
    moved = np.moveaxis(x, axis, -1)
    out = np.full(moved.shape[:-1], np.nan)
    for i in np.ndindex(out.shape):
        v = np.sort(moved[i][~np.isnan(moved[i])])
        if v.size:
            out[i] = v[(v.size - 1) // 2]
    return out


register(OpSpec("nanmedian", lambda x: x.nanmedian(), _nanmedian_ref, values=(_with_nans,),
                errors=(Bad(lambda: T(0).nanmedian(), IndexError,
                            r"nanmedian: cannot take the median of an empty tensor"),)))
register(OpSpec("nanmedian_dim", lambda x, axis: x.nanmedian(axis).values, _nanmedian_ref,
                values=(_with_nans,), params=axis_param, min_dims=1,
                errors=(Bad(lambda: T(2, 3).nanmedian(2), IndexError,
                            r"nanmedian: dim 2 is out of range"),)))


def _quantile_params(rng, shapes):
    ndim = len(shapes[0])
    q = rng.uniform(0, 1, size=int(rng.integers(1, 4))) if rng.random() < 0.5 else \
        float(rng.uniform(0, 1))
    return {"q": q, "axis": int(rng.integers(-ndim, ndim)) if ndim else None,
            "keepdims": bool(rng.integers(0, 2)),
            "interpolation": str(rng.choice(_QUANTILE_MODES))}


def _quantile_ref(x, q, axis, keepdims, interpolation):
    return np.quantile(x, q, axis=axis, keepdims=keepdims, method=interpolation)


register(OpSpec("quantile", lambda x, q, axis, keepdims, interpolation: x.quantile(
    q, axis, keepdims, interpolation=interpolation), _quantile_ref, values=(distinct,),
    params=_quantile_params, min_dims=1,
    errors=(Bad(lambda: T(3).quantile(1.5), ValueError, r"quantile: q values must be in the "
                r"range \[0, 1\], got 1.5"),
            Bad(lambda: T(3).quantile(0.5, interpolation="cubic"), ValueError,
                r"quantile: interpolation must be one of"))))
