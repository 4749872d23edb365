"""Dropout: inverted scaling, active only in training mode.

PyTorch's ``inplace=True`` is taken, as by the activation layers: the layer writes into its
input and returns it (``F.dropout(x, p, training, inplace=True)``)."""
from __future__ import annotations

from .. import functional as F
from ..module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` during training and scale the survivors by
    ``1/(1 − p)``; in eval mode the identity."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training, inplace=self.inplace)

    def extra_repr(self):
        return f"p={self.p}"


class Dropout2d(Dropout):
    """Zero whole channels of (N, C, H, W) with probability ``p`` during training, scale the
    rest by ``1/(1 − p)`` (``F.dropout2d``); in eval mode the identity. 3-D input is read as
    PyTorch reads it, (N, C, L) with a warning, not as an unbatched (C, H, W)."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training, inplace=self.inplace)


class Dropout1d(Dropout):
    """Zero whole channels of (N, C, L) (or unbatched (C, L)) with probability ``p`` during
    training, scale the rest by ``1/(1 − p)`` (``F.dropout1d``, PyTorch's ``nn.Dropout1d``);
    in eval mode the identity."""

    def forward(self, x):
        return F.dropout1d(x, self.p, self.training, inplace=self.inplace)


class Dropout3d(Dropout):
    """Zero whole channels of (N, C, D, H, W) (or unbatched (C, D, H, W)) with probability
    ``p`` during training, scale the rest by ``1/(1 − p)`` (``F.dropout3d``); in eval mode
    the identity."""

    def forward(self, x):
        return F.dropout3d(x, self.p, self.training, inplace=self.inplace)


class AlphaDropout(Dropout):
    """Dropout for SELU networks (``F.alpha_dropout``): dropped units take SELU's negative
    saturation value, then an affine map keeps zero mean and unit variance; in eval mode the
    identity."""

    def forward(self, x):
        return F.alpha_dropout(x, self.p, self.training, inplace=self.inplace)
