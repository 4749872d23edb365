"""Keras's layers for sequences: ``Embedding``, ``Conv1D``, ``MaxPooling1D``,
``AveragePooling1D``, ``GlobalAveragePooling1D`` and ``GlobalMaxPooling1D``.

Sequences follow Keras: (N, steps, channels) by default (``data_format='channels_last'``),
(N, channels, steps) — the layout of ``nn.Conv1d`` — with ``'channels_first'``. The
channels-last layers transpose to stepgrad's kernels and back, as the image layers do.
"""
from __future__ import annotations

import warnings

import numpy as np

import engine
from engine.fast.conv import ntuple, same_padding

from .. import functional as F
from ..layers import Conv1d, Embedding
from ..layers.init import keras_no_reset
from ..layers.linear import activation_fn
from ..module import Module, Parameter
from ._common import (
    ConvConfig,
    build_or_check,
    image_format,
    positive_int,
    refuse,
    sample_shape,
    sequences,
)
from .regularizers import Regularized, conv_keras_weights

__all__ = ["KerasEmbedding", "Conv1D", "MaxPooling1D", "AveragePooling1D",
           "GlobalAveragePooling1D", "GlobalMaxPooling1D"]


class KerasEmbedding(Embedding):
    """Keras's ``Embedding(input_dim, output_dim, embeddings_initializer='uniform',
    mask_zero=False, weights=None, trainable=True)`` (``nn.keras.layers.Embedding``):
    integer ids (N, ...) → rows of the table ``weight`` (input_dim, output_dim), (N, ...,
    output_dim). The table is Keras's ``embeddings`` as is (``get_weights()`` gives it
    unchanged) and starts U(−0.05, 0.05) ('uniform', Keras's default).

    Float ids are cast to integers first (truncated, as Keras casts them to int32: ``fit``
    hands the model float32 batches). ``weights=[matrix]`` starts from a given table (a
    pretrained one, with ``trainable=False`` to keep it fixed). ``mask_zero=True`` is
    refused: the following layers would not skip the padding. ``input_length`` (Keras 2)
    is accepted with Keras 3's warning; it still tells ``summary()`` the input shape.
    """

    keras_class = "Embedding"

    reset_parameters = keras_no_reset  # its own initializers, not the parent's rule

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, trainable=True, input_length=None, input_shape=None):
        Module.__init__(self)
        from . import initializers
        who = "Embedding"
        self.input_dim = self.num_embeddings = positive_int(who, "input_dim", input_dim)
        self.output_dim = self.embedding_dim = positive_int(who, "output_dim", output_dim)
        refuse(who, embeddings_regularizer=embeddings_regularizer,
               embeddings_constraint=embeddings_constraint)
        if mask_zero:
            raise ValueError("Embedding: mask_zero=True is not supported: stepgrad's Keras "
                             "layers carry no masks, so the layers after it would treat the "
                             "padding zeros as real steps (a silently different result). Keep "
                             "mask_zero=False (the padding is then learned like any id), or "
                             "pack the sequences (nn.utils.rnn.pack_padded_sequence) for "
                             "PyTorch's nn.LSTM/GRU")
        if input_length is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          stacklevel=2)  # Keras 3's words; it ignores the value
        self.padding_idx, self.max_norm, self.scale_grad_by_freq, self.sparse = (None, None,
                                                                                 False, False)
        self.mask_zero = False
        self.embeddings_initializer = embeddings_initializer
        self._init = initializers.get(embeddings_initializer)
        self.input_shape = sample_shape(who, input_shape)
        if self.input_shape is None and input_length is not None:
            self.input_shape = (positive_int(who, "input_length", input_length),)
        # Keras's fans of its (input_dim, output_dim) table: the layout stored here
        self.weight = Parameter(self._init.draw((self.input_dim, self.output_dim),
                                                self.input_dim, self.output_dim))
        if weights is not None:
            table = weights[0] if isinstance(weights, (list, tuple)) and len(weights) == 1 \
                else weights
            table = np.asarray(table)
            if table.shape != (self.input_dim, self.output_dim):
                raise ValueError(f"Embedding: weights hold a table of shape {table.shape}, "
                                 f"expected (input_dim, output_dim) = "
                                 f"{(self.input_dim, self.output_dim)}")
            with engine.no_grad():
                self.weight.copy_(table.astype(self.weight.dtype))
        if not trainable:
            self.weight.requires_grad = False

    def forward(self, x):
        ids = x.data if isinstance(x, engine.Tensor) else np.asarray(x)
        if ids.dtype.kind == "f":
            ids = ids.astype(np.int64)  # Keras: ops.cast(inputs, 'int32'), toward zero
        elif ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding: ids must be integers (or floats holding them), got "
                            f"dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise IndexError(f"Embedding: id {int(bad)} is outside the table of input_dim="
                             f"{self.input_dim} rows (ids run from 0 to {self.input_dim - 1}: "
                             f"input_dim is the vocabulary size + 1 when ids start at 1)")
        return F.embedding(ids, self.weight)

    def get_config(self):
        from .initializers import serialize
        return {"input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": serialize(self._init, self.embeddings_initializer),
                "trainable": bool(self.weight.requires_grad), "input_shape": self.input_shape}

    def extra_repr(self):
        return f"input_dim={self.input_dim}, output_dim={self.output_dim}"


class Conv1D(Regularized, ConvConfig, Conv1d):
    """Keras's ``Conv1D(filters, kernel_size, strides=1, padding='valid', data_format=None,
    dilation_rate=1, groups=1, activation=None, use_bias=True,
    kernel_initializer='glorot_uniform', bias_initializer='zeros', kernel_regularizer=None,
    bias_regularizer=None, activity_regularizer=None, input_shape=None)``.

    Sequences (N, steps, C) → (N, steps', filters) (channels_last, Keras's default), with
    ``out[t] = act(b + Σ_i Σ_c x[t·s + i·d − left, c] · kernel[i, c, f])``, 0 outside x.
    ``padding``: 'valid' (left = 0), 'same' (TensorFlow's rule: steps' = ⌈steps/s⌉, the odd
    padding on the right) or 'causal' (left = d·(k − 1), nothing on the right: output t
    sees inputs up to t only). Parameters are ``nn.Conv1d``'s (``weight`` (filters, C/groups,
    k)); ``get_weights()`` gives Keras's kernel (k, C/groups, filters). The input channels
    come from ``input_shape=(steps, C)`` or the first call. As Keras, strides > 1 together
    with dilation_rate > 1 is refused.
    """

    _saved_sizes = (None,)

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, input_shape=None):
        Module.__init__(self)
        from . import initializers
        who = "Conv1D"
        self.filters = self.out_channels = positive_int(who, "filters", filters)
        self.kernel_size = ntuple(kernel_size, 1, "kernel_size", who, 1)
        self.strides = ntuple(strides, 1, "strides", who, 1)
        self.dilation_rate = ntuple(dilation_rate, 1, "dilation_rate", who, 1)
        self.stride, self.dilation = self.strides[0], self.dilation_rate[0]
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same", "causal"):
            raise ValueError(f"{who}: padding must be 'valid', 'same' or 'causal', got "
                             f"{padding!r}")
        if self.stride > 1 and self.dilation > 1:
            raise ValueError(f"{who}: strides > 1 is not supported together with "
                             f"dilation_rate > 1 (as in Keras); got strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}")
        self.groups = positive_int(who, "groups", groups)
        if self.filters % self.groups:
            raise ValueError(f"{who}: filters={self.filters} must be divisible by "
                             f"groups={self.groups}")
        refuse(who, "stepgrad has no weight constraints", kernel_constraint=kernel_constraint,
               bias_constraint=bias_constraint)
        self._set_regularizers(who, kernel_regularizer=kernel_regularizer,
                               bias_regularizer=bias_regularizer,
                               activity_regularizer=activity_regularizer)
        self.padding = padding.lower()
        self.data_format = image_format(who, data_format)
        self.activation = activation
        self._act = activation_fn(who, activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._inits = initializers.get(kernel_initializer), initializers.get(bias_initializer)
        self.weight = self.bias = self.in_channels = None
        self.built = False
        self.input_shape = sample_shape(who, input_shape, 2)
        if self.input_shape is not None:
            c = self.input_shape[-1 if self.data_format == "channels_last" else 0]
            if c is None:
                raise ValueError(f"{who}: input_shape {self.input_shape} leaves the channels "
                                 "unknown (None)")
            self.build(c)

    def forward(self, x):
        x = sequences("Conv1D", x, self.data_format)
        build_or_check(self, "Conv1D", x.shape[1], x)
        if x.dtype != self.weight.dtype:
            x = x.astype(self.weight.dtype)
        padding = self.padding
        if padding == "causal":  # Keras pads d·(k − 1) steps on the left, then 'valid'
            x = F.pad(x, (self.dilation * (self.kernel_size[0] - 1), 0))
            padding = "valid"
        y = engine.conv1d(x, self.weight, self.bias, stride=self.stride, padding=padding,
                          dilation=self.dilation, groups=self.groups)
        if self._act is not None:
            y = self._act(y)
        return self._activity(y.permute(0, 2, 1) if self.data_format == "channels_last" else y)

    def _keras_weights(self):  # Keras's kernel (k, in/groups, filters)
        return conv_keras_weights(self, (2, 1, 0))

    def get_config(self):
        return self._regularizer_config(super().get_config())


class _Pooling1D(Module):
    """Keras's 1-D pooling arguments (``pool_size=2, strides=None, padding='valid',
    data_format=None``); 'same' padding as TensorFlow's (steps' = ⌈steps/stride⌉, the odd
    padding on the right)."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None):
        super().__init__()
        who = type(self).__name__
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{who}: padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = ntuple(pool_size, 1, "pool_size", who, 1)
        self.strides = self.pool_size if strides is None else ntuple(strides, 1, "strides",
                                                                      who, 1)
        self.padding = padding.lower()
        self.data_format = image_format(who, data_format)

    def forward(self, x):
        who = type(self).__name__
        x = sequences(who, x, self.data_format)
        (k,), (s,) = self.pool_size, self.strides
        if self.padding == "valid" and x.shape[2] < k:
            raise ValueError(f"{who}: {x.shape[2]} steps are fewer than pool_size={k} "
                             "('valid' padding)")
        pads = same_padding(x.shape[2], k, s, 1) if self.padding == "same" else (0, 0)
        y = self._pool(x, k, s, pads)
        return y.permute(0, 2, 1) if self.data_format == "channels_last" else y

    def extra_repr(self):
        return (f"pool_size={self.pool_size}, strides={self.strides}, "
                f"padding={self.padding!r}, {self.data_format}")


class MaxPooling1D(_Pooling1D):
    """Keras's ``MaxPooling1D(pool_size=2, strides=None, padding='valid',
    data_format=None)``: the max of each window of ``pool_size`` steps, (N, steps, C) →
    (N, steps', C) ('same': the padding never wins)."""

    def _pool(self, x, k, s, pads):
        if any(pads):
            x = F.pad(x, pads, value=-np.inf)
        return engine.max_pool1d(x, k, s)


class AveragePooling1D(_Pooling1D):
    """Keras's ``AveragePooling1D(pool_size=2, strides=None, padding='valid',
    data_format=None)``: the mean of each window of ``pool_size`` steps. With 'same' a
    border window averages its input steps only (TensorFlow's rule, as
    ``AveragePooling2D``): ``sum(window) / count(window's input steps)``. (Keras 3.15 on its
    torch backend, when the padding is uneven, repeats the edge steps and counts them: it
    differs from TensorFlow there.)"""

    def _pool(self, x, k, s, pads):
        if not any(pads):
            return engine.avg_pool1d(x, k, s)
        # mean over the zero-padded window / share of it that is input = mean over the input
        share = engine.avg_pool1d(F.pad(engine.ones(1, 1, x.shape[2], dtype=x.dtype), pads),
                                  k, s)
        return engine.avg_pool1d(F.pad(x, pads), k, s) / share


class _GlobalPooling(Module):
    """Keras's global pooling arguments (``data_format=None, keepdims=False``): one value
    per channel over every step (1-D) or pixel (2-D); ``keepdims`` keeps those dims as 1s."""

    _spatial = 1

    def __init__(self, data_format=None, keepdims=False):
        super().__init__()
        self.data_format = image_format(type(self).__name__, data_format)
        self.keepdims = bool(keepdims)

    def forward(self, x):
        who, k = type(self).__name__, self._spatial
        if x.ndim != k + 2:
            layout = ("(N, steps, channels)" if k == 1 else "(N, H, W, C)") \
                if self.data_format == "channels_last" else \
                ("(N, channels, steps)" if k == 1 else "(N, C, H, W)")
            raise ValueError(f"{who}: expected {layout} input ({self.data_format}), got "
                             f"shape {tuple(x.shape)}")
        axes = tuple(range(1, k + 1)) if self.data_format == "channels_last" \
            else tuple(range(2, k + 2))
        return self._reduce(x, axes)

    def extra_repr(self):
        return f"data_format={self.data_format!r}" + (", keepdims=True" if self.keepdims
                                                     else "")


class GlobalAveragePooling1D(_GlobalPooling):
    """Keras's ``GlobalAveragePooling1D(data_format=None, keepdims=False)``: the mean over
    the steps, (N, steps, C) → (N, C) (channels_first: (N, C, steps) → (N, C))."""

    def _reduce(self, x, axes):
        return x.mean(axis=axes, keepdims=self.keepdims)


class GlobalMaxPooling1D(_GlobalPooling):
    """Keras's ``GlobalMaxPooling1D(data_format=None, keepdims=False)``: the max over the
    steps, (N, steps, C) → (N, C)."""

    def _reduce(self, x, axes):
        return x.amax(axis=axes, keepdims=self.keepdims)
