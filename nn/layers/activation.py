"""Activation layers: thin Modules over the elementwise ops, so they show up in summaries."""
from __future__ import annotations

from ..module import Module


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x):
        return x.relu()


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope · x``."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return x.leaky_relu(self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """``1 / (1 + e^(−x))``."""

    def forward(self, x):
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class Softmax(Module):
    """``e^(x_i) / Σ_j e^(x_j)`` along ``axis`` (PyTorch calls it ``dim``)."""

    def __init__(self, axis: int = -1, dim: int | None = None):
        super().__init__()
        self.axis = axis if dim is None else dim

    def forward(self, x):
        return x.softmax(self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class Identity(Module):
    """Returns its input (a placeholder, e.g. a removed head in transfer learning)."""

    def forward(self, x):
        return x
