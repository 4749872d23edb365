"""Reductions: sum mean var max min logsumexp (differentiable), argmax argmin (not).

Every reduction takes ``axis`` (int, tuple or None for all) and ``keepdims``. Backward
re-inserts the reduced axes (``_expand``) so the gradient broadcasts against the input.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Op


def norm_axis(axis, ndim, op="reduce"):
    """``axis`` as a sorted tuple of non-negative ints; clear error when out of range."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dims")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def _expand(g, shape, axes, keepdims):
    """Put the reduced ``axes`` back as size-1 dims so ``g`` broadcasts to ``shape``."""
    return g if keepdims else np.expand_dims(g, axes) if axes else g


class Sum(Op):
    name, formula = "sum", "d(Σ u)/du = 1 for every element"

    def forward(self, x, *, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = x.shape, norm_axis(axis, x.ndim, "sum"), keepdims
        return np.asarray(x.sum(axis=self.axes, keepdims=keepdims))

    def backward(self, g):
        return (np.broadcast_to(_expand(g, self.shape, self.axes, self.keepdims), self.shape),)

    def describe(self):
        return f"axis={self.axes}"


class Mean(Sum):
    name, formula = "mean", "d(mean u)/du = 1/n for every element"

    def forward(self, x, *, axis=None, keepdims=False):
        out = super().forward(x, axis=axis, keepdims=keepdims)
        self.n = int(np.prod([x.shape[a] for a in self.axes])) if self.axes else 1
        return (out / x.dtype.type(max(self.n, 1))).astype(x.dtype, copy=False)

    def backward(self, g):
        (dx,) = super().backward(g)
        return (dx / g.dtype.type(self.n),)


class Var(Op):
    name, formula = "var", "d var(u)/du = 2(u − mean u)/(n − correction)"

    def forward(self, x, *, axis=None, keepdims=False, correction=1):
        self.axes, self.keepdims = norm_axis(axis, x.ndim, "var"), keepdims
        n = int(np.prod([x.shape[a] for a in self.axes])) if self.axes else 1
        self.denom = x.dtype.type(max(n - correction, 0))
        centered = x - x.mean(axis=self.axes, keepdims=True)
        self.save(centered)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray((centered * centered).sum(axis=self.axes, keepdims=keepdims)
                              / self.denom).astype(x.dtype, copy=False)

    def backward(self, g):
        (centered,) = self.saved
        g = _expand(g, centered.shape, self.axes, self.keepdims)
        return (g * (2 * centered / self.denom),)


class Max(Op):
    name, formula = "max", "d max(u)/du = 1 at the maximum (ties share it), 0 elsewhere"
    _pick = staticmethod(np.max)

    def forward(self, x, *, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError(f"{self.name}: cannot reduce an empty tensor of shape {x.shape}")
        self.axes, self.keepdims = norm_axis(axis, x.ndim, self.name), keepdims
        out = np.asarray(self._pick(x, axis=self.axes, keepdims=True))
        self.save(x, out)
        return out if keepdims else np.squeeze(out, self.axes) if self.axes else out

    def backward(self, g):
        x, out = self.saved
        hit = x == out
        count = hit.sum(axis=self.axes, keepdims=True)
        return (_expand(g, x.shape, self.axes, self.keepdims) * hit / count.astype(g.dtype),)


class Min(Max):
    name, formula = "min", "d min(u)/du = 1 at the minimum (ties share it), 0 elsewhere"
    _pick = staticmethod(np.min)


class LogSumExp(Op):
    name, formula = "logsumexp", "d logΣeᵘ/du = softmax(u)"

    def forward(self, x, *, axis=None, keepdims=False):
        self.axes, self.keepdims = norm_axis(axis, x.ndim, "logsumexp"), keepdims
        m = np.max(x, axis=self.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf rows: avoid inf - inf
        out = m + np.log(np.sum(np.exp(x - m), axis=self.axes, keepdims=True))
        self.save(x, out)
        return out if keepdims else np.squeeze(out, self.axes) if self.axes else out

    def backward(self, g):
        x, out = self.saved
        return (_expand(g, x.shape, self.axes, self.keepdims) * np.exp(x - out),)
