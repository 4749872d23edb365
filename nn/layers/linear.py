"""Linear (Keras: Dense) and Flatten."""
from __future__ import annotations

from .. import functional as F
from ..module import Module, Parameter
from .init import glorot_uniform, zeros


class Linear(Module):
    """``y = x Wᵀ + b``: x (..., in_features) → y (..., out_features).

    ``weight`` is (out_features, in_features) as in PyTorch; Glorot-uniform init, zero bias.

    >>> Linear(13, 16).weight.shape
    (16, 13)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(glorot_uniform((out_features, in_features), in_features,
                                               out_features))
        self.bias = Parameter(zeros(out_features)) if bias else None
        if dtype is not None:
            self.to(dtype)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` (default: all but the batch dim):
    (N, C, H, W) → (N, C·H·W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)
