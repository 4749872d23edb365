"""softmax and log_softmax along an axis, stable for large |x| (max subtracted first)."""
from __future__ import annotations

import numpy as np

from ..autograd import Op


def _check_axis(op, axis, ndim):
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor with {ndim} dims")


class Softmax(Op):
    name, formula = "softmax", "dy/du = y ⊙ (g − Σ g·y)  with y = softmax(u)"

    def forward(self, x, *, axis=-1):
        _check_axis("softmax", axis, x.ndim)
        self.axis = axis
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        y = e / e.sum(axis=axis, keepdims=True)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return (y * (g - (g * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Op):
    name, formula = "log_softmax", "d/du = g − softmax(u) · Σ g"

    def forward(self, x, *, axis=-1):
        _check_axis("log_softmax", axis, x.ndim)
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        self.save(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return (g - np.exp(out) * g.sum(axis=self.axis, keepdims=True),)
