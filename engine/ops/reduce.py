"""Reductions: sum, mean, var, amax/amin (max/min), logsumexp.

Every reduction takes ``axis`` (an int, a tuple, or None for all) and ``keepdims``. Backward
puts the reduced axes back as size-1 dims (``expand``) so the gradient broadcasts against
the input; the picture label names the axes only when not all of them are reduced.
"""
from __future__ import annotations

import numpy as np

from ..testing import Bad, T, distinct, np_axis, reduce_params, spec
from . import xp
from .base import Op, norm_axes


class Reduce(Op):
    """Shared by the reductions: which axes, keepdims, and the way back."""

    def setup(self, x, axis, keepdims):
        self.shape, self.keepdims = x.shape, bool(keepdims)
        self.axes = norm_axes(self.name, axis, x.shape)
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
        return np.asarray(x.sum(axis=self.axes, keepdims=self.keepdims, dtype=dtype))

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
        with np.errstate(invalid="ignore", divide="ignore"):  # mean of nothing is NaN
            return np.asarray(x.sum(axis=self.axes, keepdims=self.keepdims)
                              / x.dtype.type(self.n))

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
        hit = (x == self.expand(out)).astype(g.dtype)
        return self.expand(g) * hit / hit.sum(axis=self.axes, keepdims=True)


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
