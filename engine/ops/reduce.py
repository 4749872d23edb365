"""Reductions: sum, mean, var, std, amax/amin (max/min), logsumexp.

Every reduction takes ``axis`` (an int, a tuple, or None for all; an empty tuple means all
too, as PyTorch's ``dim=()``, except for logsumexp and prod, which refuse it, as PyTorch)
and ``keepdims``. Backward puts the reduced axes back as size-1 dims (``expand``) so the
gradient broadcasts against the input; the picture label names the axes only when not all
of them are reduced. Integer and bool sums and products are int64; float16 sums and means
accumulate in float32 (both as PyTorch).
"""
from __future__ import annotations

import numpy as np

from ..testing import Bad, OpSpec, T, distinct, np_axis, reduce_params, register, spec
from . import xp
from .base import Op, reduce_axes


class Reduce(Op):
    """Shared by the reductions: which axes, keepdims, and the way back."""

    empty_dim_is_all = True  # dim=() reduces over every dim (PyTorch); False: refused

    def setup(self, x, axis, keepdims):
        self.shape, self.keepdims = x.shape, bool(keepdims)
        if not self.empty_dim_is_all and isinstance(axis, (tuple, list)) and not len(axis):
            raise ValueError(f"{self.name}: dim={axis!r} (an empty list of dims) is refused, as "
                             f"in PyTorch; pass dim=None to reduce over every dim of shape "
                             f"{x.shape}")
        self.axes = reduce_axes(self.name, axis, x.shape)
        self.n = int(np.prod([x.shape[a] for a in self.axes]))  # elements per output entry

    def expand(self, g):
        """``g`` with the reduced axes back as size-1 dims (it then broadcasts to the input)."""
        if self.keepdims or not self.axes:
            return g
        return g.reshape(tuple(1 if i in self.axes else n for i, n in enumerate(self.shape)))

    def label(self):
        if len(self.axes) == len(self.shape):
            return self.name
        return f"{self.name} axis={self.axes[0] if len(self.axes) == 1 else self.axes}"

    def describe(self):
        return f"axis={self.axes}"


def result_dtype(dtype, requested=None):
    """The dtype of a sum, prod, cumsum or cumprod, as PyTorch: ``requested`` if given, int64
    for bools and every integer type (uint8 included: never numpy's uint64), else the
    input's own."""
    if requested is not None:
        return np.dtype(requested)
    return np.dtype(np.int64) if dtype.kind in "biu" else dtype


def _acc(dtype):
    """What a sum or mean accumulates in: float16 in float32 (as PyTorch, so 6e4 + 6e4 does
    not overflow on the way to a mean of 6e4; the result is cast back), else ``dtype``."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _floats_only(op, x):
    if x.dtype.kind not in "fc":
        raise TypeError(f"{op}(): could not infer output dtype. Input dtype must be either a "
                        f"floating point or complex dtype. Got: {x.dtype} (convert with "
                        f".float() or .double() first, as in PyTorch)")


@spec(call=lambda x, **p: x.sum(**p), params=reduce_params,
      ref=lambda x, axis, keepdims: np.sum(x, axis=np_axis(axis), keepdims=keepdims),
      errors=(Bad(lambda: T(2, 3).sum(axis=2), IndexError, r"sum: dim 2 is out of range"),))
class Sum(Reduce):
    name, formula, linear = "sum", "d(Σ u)/du = 1 for every element", True

    def forward(self, x, *, axis=None, keepdims=False, dtype=None):
        self.setup(x, axis, keepdims)
        res = result_dtype(x.dtype, dtype)
        return np.asarray(x.sum(axis=self.axes, keepdims=self.keepdims, dtype=_acc(res)), res)

    def backward(self, g, x, out):
        return xp.broadcast_to(self.expand(g), self.shape)


@spec(call=lambda x, **p: x.mean(**p), params=reduce_params,
      ref=lambda x, axis, keepdims: np.mean(x, axis=np_axis(axis), keepdims=keepdims),
      errors=(Bad(lambda: T(2, dtype=np.int64).mean(), TypeError,
                  r"mean\(\): could not infer output dtype"),))
class Mean(Reduce):
    name, formula, linear = "mean", "d(mean u)/du = 1/n for every element", True

    def forward(self, x, *, axis=None, keepdims=False):
        _floats_only("mean", x)
        self.setup(x, axis, keepdims)
        acc = _acc(x.dtype)  # float16 is summed and divided in float32, as PyTorch
        with np.errstate(invalid="ignore", divide="ignore"):  # mean of nothing is NaN
            return np.asarray(x.sum(axis=self.axes, keepdims=self.keepdims, dtype=acc)
                              / acc.type(self.n), x.dtype)

    def backward(self, g, x, out):
        return xp.broadcast_to(self.expand(g) / self.n, self.shape)


@spec(call=lambda x, **p: x.var(**p, correction=0), params=reduce_params,
      ref=lambda x, axis, keepdims: np.var(x, axis=np_axis(axis), keepdims=keepdims))
class Var(Reduce):
    name, formula = "var", "d var(u)/du = 2(u − mean u)/(n − correction)"

    def forward(self, x, *, axis=None, keepdims=False, correction=1):
        _floats_only("var", x)
        self.setup(x, axis, keepdims)
        self.denom = max(self.n - correction, 0)
        centered = x - x.mean(axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # n ≤ correction: inf/NaN
            return np.asarray((centered * centered).sum(axis=self.axes, keepdims=self.keepdims)
                              / x.dtype.type(self.denom))

    def backward(self, g, x, out):
        centered = x - x.mean(axis=self.axes, keepdims=True)
        return self.expand(g) * (centered * (2 / self.denom if self.denom else np.inf))


@spec(call=lambda x, **p: x.std(**p), params=reduce_params,  # correction=1: sides ≥ 2
      shapes=lambda rng: ((int(rng.integers(2, 5)), int(rng.integers(2, 4))),),
      ref=lambda x, axis, keepdims: np.std(x, axis=np_axis(axis), keepdims=keepdims, ddof=1))
class Std(Var):
    name = "std"
    formula = "d std(u)/du = (u − mean u)/((n − correction)·std u); 0 where std u = 0"

    def forward(self, x, *, axis=None, keepdims=False, correction=1):
        return np.sqrt(super().forward(x, axis=axis, keepdims=keepdims, correction=correction))

    def backward(self, g, x, out):
        # d√v/dv = 1/(2√v), set to 0 where the std is 0 (a constant slice), as PyTorch does:
        # the gradient there is 0, not 0·∞ = NaN. (1.0 in the denominator keeps it finite.)
        zero = out == 0
        return super().backward(xp.where(zero, 0.0, g / (2 * xp.where(zero, 1.0, out))), x, out)


register(OpSpec("std_correction0", lambda x, **p: x.std(**p, correction=0),  # size-1 groups:
                lambda x, axis, keepdims: np.std(x, axis=np_axis(axis), keepdims=keepdims),
                params=reduce_params, ops=("std",)))  # std 0, gradient 0 (masked)


@spec(call=lambda x, **p: x.amax(**p), params=reduce_params, domain=(distinct,),
      ref=lambda x, axis, keepdims: np.max(x, axis=np_axis(axis), keepdims=keepdims))
class Max(Reduce):
    name, formula = "max", "d max(u)/du = 1 at the maximum (ties share it), 0 elsewhere"
    pick = staticmethod(np.max)

    def forward(self, x, *, axis=None, keepdims=False):
        self.setup(x, axis, keepdims)
        if self.n == 0:
            raise IndexError(f"{self.name}: cannot reduce over an empty dimension (shape "
                             f"{x.shape}, axis {self.axes}): it has no maximum or minimum")
        return np.asarray(self.pick(x, axis=self.axes, keepdims=self.keepdims))

    def backward(self, g, x, out):
        hit = x == self.expand(out)
        share = self.expand(g) / hit.astype(g.dtype).sum(axis=self.axes, keepdims=True)
        # Selected, not share·hit: an inf in g stays inf at the maximum and 0 elsewhere, as
        # PyTorch's (inf·0 would be NaN).
        return xp.where(hit, share, 0.0)


@spec(call=lambda x, **p: x.amin(**p), params=reduce_params, domain=(distinct,),
      ref=lambda x, axis, keepdims: np.min(x, axis=np_axis(axis), keepdims=keepdims))
class Min(Max):
    name, formula = "min", "d min(u)/du = 1 at the minimum (ties share it), 0 elsewhere"
    pick = staticmethod(np.min)


def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=np_axis(axis), keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=np_axis(axis), keepdims=True))
    return out if keepdims else np.squeeze(out, axis=np_axis(axis) if axis is not None else None)


@spec(call=lambda x, **p: x.logsumexp(**p), ref=_logsumexp, params=reduce_params)
class LogSumExp(Reduce):
    name, formula, float_only = "logsumexp", "d logΣeᵘ/du = softmax(u)", True
    empty_dim_is_all = False

    def forward(self, x, *, axis=None, keepdims=False):
        self.setup(x, axis, keepdims)
        if self.n == 0:  # the log of an empty sum
            return np.full(np.sum(x, axis=self.axes, keepdims=self.keepdims).shape, -np.inf,
                           x.dtype)
        m = np.max(x, axis=self.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf rows: avoid inf - inf
        out = m + np.log(np.sum(np.exp(x - m), axis=self.axes, keepdims=True))
        return out if self.keepdims else np.squeeze(out, self.axes)

    def backward(self, g, x, out):
        return self.expand(g) * xp.exp(x - self.expand(out))
