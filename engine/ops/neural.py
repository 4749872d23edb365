"""softmax and log_softmax along an axis, stable for large |x| (max subtracted first)."""
from __future__ import annotations

import numpy as np

from ..testing import axis_param, spec
from . import xp
from .base import Op, norm_axis


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@spec(call=lambda x, axis: x.softmax(axis), ref=_softmax, params=axis_param, min_dims=1)
class Softmax(Op):
    name, formula, float_only = "softmax", "dy/du = y ⊙ (g − Σ g·y)  with y = softmax(u)", True

    def forward(self, x, *, axis=-1):
        self.axis = norm_axis("softmax", axis, x.shape)
        if x.size == 0:
            return x.copy()
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, g, x, out):
        return out * (g - (g * out).sum(axis=self.axis, keepdims=True))


@spec(call=lambda x, axis: x.log_softmax(axis), ref=lambda x, axis: np.log(_softmax(x, axis)),
      params=axis_param, min_dims=1)
class LogSoftmax(Op):
    name, formula, float_only = "log_softmax", "d/du = g − softmax(u) · Σ g", True

    def forward(self, x, *, axis=-1):
        self.axis = norm_axis("log_softmax", axis, x.shape)
        if x.size == 0:
            return x.copy()
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, g, x, out):
        return g - xp.exp(out) * g.sum(axis=self.axis, keepdims=True)
