"""Dropout: inverted scaling, active only in training mode."""
from __future__ import annotations

from .. import functional as F
from ..module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` during training and scale the survivors by
    ``1/(1 − p)``; in eval mode the identity."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) with probability ``p`` during training, scale the
    rest by ``1/(1 − p)`` (``F.dropout2d``); in eval mode the identity. 3-D input is read as
    PyTorch reads it, (N, C, L) with a warning, not as an unbatched (C, H, W)."""

    def __init__(self, p: float = 0.5):
        super().__init__(p)

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)


class Dropout1d(Dropout):
    """Zero whole channels of (N, C, L) (or unbatched (C, L)) with probability ``p`` during
    training, scale the rest by ``1/(1 − p)`` (``F.dropout1d``, PyTorch's ``nn.Dropout1d``);
    in eval mode the identity."""

    def forward(self, x):
        return F.dropout1d(x, self.p, self.training)
