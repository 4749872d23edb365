"""Keras's layer names, as ``from nn.keras.layers import Dense, Dropout, LSTM``.

``Dense``, ``SimpleRNN``, ``LSTM``, ``GRU`` and ``BatchNormalization`` infer their input
size at the first call (or take ``input_shape=``); ``Dropout(rate)``, ``Flatten()`` and
``GlobalAveragePooling2D()`` return stepgrad's layers. Layouts are stepgrad's: images are
(N, C, H, W) (Keras: (N, H, W, C)), so BatchNormalization normalises dim 1 of 4-D input.
Keras's convolution and pooling layers (``Conv2D``, ``MaxPooling2D``) and the Functional API
are not here: use ``nn.Conv2d``/``nn.MaxPool2d`` (channels first, input channels given).
"""
from __future__ import annotations

import numpy as np

from ..layers import Dense, GlobalAvgPool2d, KerasGRU, KerasLSTM, SimpleRNN
from ..layers import Dropout as _Dropout
from ..layers import Flatten as _Flatten
from ..layers.linear import activation_fn
from ..layers.norm import _BatchNorm
from ..module import Module, Parameter

__all__ = ["Dense", "Dropout", "Flatten", "Activation", "BatchNormalization", "SimpleRNN",
           "LSTM", "GRU", "GlobalAveragePooling2D"]

LSTM = KerasLSTM
GRU = KerasGRU


def Dropout(rate, noise_shape=None, seed=None):  # noqa: N802 - Keras's name
    """Keras's ``Dropout(rate)``: ``nn.Dropout(p=rate)`` (inverted dropout, training only)."""
    if noise_shape is not None or seed is not None:
        raise ValueError("Dropout: noise_shape and seed are not supported (seed with "
                         "engine.manual_seed)")
    return _Dropout(rate)


def Flatten():  # noqa: N802 - Keras's name
    """Keras's ``Flatten()``: ``nn.Flatten()`` (all dims but the batch; channels-first order)."""
    return _Flatten()


def GlobalAveragePooling2D():  # noqa: N802 - Keras's name
    """``nn.GlobalAvgPool2d()``: (N, C, H, W) → (N, C)."""
    return GlobalAvgPool2d()


class Activation(Module):
    """Keras's ``Activation('relu')``: apply an activation by name ('relu', 'sigmoid',
    'tanh', 'softmax', 'linear')."""

    def __init__(self, activation):
        super().__init__()
        if not isinstance(activation, str):
            raise TypeError("Activation: give the activation's name, e.g. 'relu'")
        self.activation = activation
        self._fn = activation_fn("Activation", activation)

    def forward(self, x):
        return x if self._fn is None else self._fn(x)

    def extra_repr(self):
        return repr(self.activation)


class BatchNormalization(_BatchNorm):
    """Keras's ``BatchNormalization(momentum=0.99, epsilon=0.001, center=True,
    scale=True)`` with the number of features inferred at the first call: input (N, F)
    (statistics per feature, ``axis=-1`` or 1) or stepgrad's (N, C, H, W) images with
    ``axis=1`` (per channel; Keras's default ``axis=-1`` would mean the last dim of its
    (N, H, W, C) images, so it is refused on 4-D input rather than read another way).

    Keras's ``momentum`` weights the OLD running statistics: it is stored as PyTorch's
    ``momentum = 1 − 0.99 = 0.01``. The running variance is updated with the unbiased batch
    variance (PyTorch's; Keras uses the biased one, a factor n/(n−1) apart)."""

    _dims = (2, 4)

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 input_dim=None):
        Module.__init__(self)
        if axis not in (-1, 1):
            raise ValueError(f"BatchNormalization: axis must be -1 (features; channels are "
                             f"dim 1 in stepgrad's (N, C, H, W) layout), got {axis!r}")
        if bool(center) != bool(scale):
            raise ValueError("BatchNormalization: center and scale must both be True or both "
                             "False")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum}")
        self.axis, self.keras_momentum, self.center, self.scale = axis, momentum, center, scale
        self.eps, self.momentum = float(epsilon), 1.0 - float(momentum)
        self.num_features, self.weight, self.bias, self.built = None, None, None, False
        if input_dim is not None:
            self.build(int(input_dim))

    def build(self, num_features, dtype=np.float32):
        self.num_features = int(num_features)
        if self.center:
            self.weight = Parameter(np.ones(num_features), dtype=dtype)
            self.bias = Parameter(np.zeros(num_features), dtype=dtype)
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))
        self.built = True

    def forward(self, x):
        if x.ndim == 4 and self.axis == -1:
            # Keras's axis=-1 on images is their last dim: channels of (N, H, W, C). Taking
            # dim 1 here instead would normalise over image rows without a word.
            raise ValueError(
                f"BatchNormalization: axis=-1 (Keras's default) on 4-D input {tuple(x.shape)} "
                f"means the last dim, the channels of Keras's (N, H, W, C) images; stepgrad's "
                f"images are (N, C, H, W): pass axis=1 for per-channel statistics (and "
                f"x.permute(0, 3, 1, 2) to turn Keras-layout images into stepgrad's)")
        if not self.built:
            if x.ndim not in self._dims:
                self._check(x)
            self.build(x.shape[1], x.dtype if x.dtype.kind == "f" else np.float32)
        return super().forward(x)

    def _check(self, x):
        if x.ndim not in self._dims or (self.built and x.shape[1] != self.num_features):
            raise ValueError("BatchNormalization: expected (N, F) or (N, C, H, W) input"
                             + (f" with {self.num_features} features in dim 1"
                                if self.built else "") + f", got shape {tuple(x.shape)}")

    def get_config(self):
        return {"axis": self.axis, "momentum": self.keras_momentum, "epsilon": self.eps,
                "center": self.center, "scale": self.scale,
                "input_dim": self.num_features if self.built else None}

    def extra_repr(self):
        n = self.num_features if self.built else "not built"
        return f"{n}, epsilon={self.eps}, momentum={self.keras_momentum} (Keras's)"
