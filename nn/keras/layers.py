"""Keras's layer names, as ``from nn.keras.layers import Dense, Conv2D, MaxPooling2D``.

``Dense``, ``Conv2D``, ``SimpleRNN``, ``LSTM``, ``GRU`` and ``BatchNormalization`` infer
their input size at the first call (or take ``input_shape=``); ``Input(shape)`` may open a
``Sequential`` as in Keras. ``Dropout(rate)`` and ``Flatten()`` return stepgrad's layers.

Images follow Keras: ``Conv2D``, ``MaxPooling2D``, ``GlobalAveragePooling2D`` and
``BatchNormalization(axis=-1)`` take (N, H, W, C) by default (``data_format='channels_last'``,
Keras's default), and (N, C, H, W) — stepgrad's own layout, that of ``nn.Conv2d`` — with
``data_format='channels_first'`` (``axis=1`` for BatchNormalization). Channels-last layers
transpose to stepgrad's kernels and back. Layers called on ``Input(...)`` build a Functional
model (``nn.keras.Model(inputs, outputs)``; ``concatenate``, ``add``): see
``nn.keras.functional``.

More of Keras's layers live in ``sequence_layers`` (``Embedding``, ``Conv1D``, 1-D
pooling), ``wrappers`` (``Bidirectional``, ``TimeDistributed``), ``core_layers``
(``LayerNormalization``, ``Normalization``, ``Reshape``, ``Permute``, ``RepeatVector``,
``UpSampling2D``, ``ZeroPadding2D``, ``Rescaling``, ``LeakyReLU``, ``ReLU``, ``Softmax``,
``Lambda``) and
``functional`` (the merging layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``,
``Maximum``, ``Minimum``, ``Concatenate``); all are importable from here.
"""
from __future__ import annotations

import inspect

import numpy as np

import engine
from engine.fast.conv import pair, same_padding

from .. import functional as F
from ..layers import Conv2d, KerasGRU, KerasLSTM, SimpleRNN
from ..layers import Dense as _Dense
from ..layers import Dropout as _Dropout
from ..layers import Flatten as _Flatten
from ..layers.init import keras_no_reset
from ..layers.linear import activation_fn
from ..layers.norm import _BatchNorm
from ..module import Module, Parameter, Symbolic
from ._common import ConvConfig, accept_name, build_or_check, keep_name, refuse
from ._common import image_format as _image_format
from ._common import images as _images
from .core_layers import (
    KerasLeakyReLU,
    KerasReLU,
    KerasSoftmax,
    Lambda,
    LayerNormalization,
    Normalization,
    Permute,
    RepeatVector,
    Rescaling,
    Reshape,
    UpSampling2D,
    ZeroPadding2D,
)
from .functional import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .regularizers import KerasWeight, Regularized, conv_keras_weights
from .sequence_layers import (
    AveragePooling1D,
    Conv1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    KerasEmbedding,
    MaxPooling1D,
    _GlobalPooling,
)
from .wrappers import Bidirectional, TimeDistributed

__all__ = ["Dense", "Dropout", "Flatten", "Activation", "BatchNormalization", "SimpleRNN",
           "LSTM", "GRU", "GlobalAveragePooling2D", "Conv2D", "MaxPooling2D", "AveragePooling2D",
           "Input", "InputLayer", "Concatenate", "concatenate", "Add", "add",
           # sequences
           "Embedding", "Conv1D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Bidirectional", "TimeDistributed",
           # shapes, normalisation, activations
           "LayerNormalization", "Normalization", "Reshape", "Permute", "RepeatVector",
           "UpSampling2D", "ZeroPadding2D", "Rescaling", "LeakyReLU", "ReLU", "Softmax",
           "Lambda",
           # merging
           "Subtract", "Multiply", "Average", "Maximum", "Minimum", "subtract", "multiply",
           "average", "maximum", "minimum"]

# Keras's names for the classes whose Python names differ (PyTorch's nn.LSTM, nn.Embedding,
# nn.LeakyReLU, ... keep theirs: a saved model names each class once)
LSTM = KerasLSTM
GRU = KerasGRU
Embedding = KerasEmbedding
LeakyReLU = KerasLeakyReLU
ReLU = KerasReLU
Softmax = KerasSoftmax


class Dense(Regularized, _Dense):
    """Keras's ``Dense(units, activation=None, use_bias=True,
    kernel_initializer='glorot_uniform', bias_initializer='zeros', kernel_regularizer=None,
    bias_regularizer=None, activity_regularizer=None, input_shape=None)``: ``nn.Dense``
    (``y = act(x Wᵀ + b)``, the input size inferred at the first call) with Keras's
    regularizers (``nn.keras.regularizers``: their penalties join the training loss).
    Constraints are refused.

    >>> layer = Dense(3, kernel_regularizer="l2")
    >>> _ = layer(engine.ones(2, 4)); len(layer.weight_penalties())
    1
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, input_shape=None,
                 input_dim=None):
        refuse("Dense", "stepgrad has no weight constraints", kernel_constraint=kernel_constraint,
               bias_constraint=bias_constraint)
        super().__init__(units, activation, use_bias, kernel_initializer, bias_initializer,
                         input_shape=input_shape, input_dim=input_dim)
        self._set_regularizers("Dense", kernel_regularizer=kernel_regularizer,
                               bias_regularizer=bias_regularizer,
                               activity_regularizer=activity_regularizer)

    def forward(self, x):
        return self._activity(super().forward(x))

    def _keras_weights(self):
        return {"kernel": [KerasWeight(self.weight, lambda w: w.T)] if self.built else [],
                "bias": [KerasWeight(self.bias)] if self.bias is not None else []}

    def get_config(self):
        return self._regularizer_config(super().get_config())


def Dropout(rate, noise_shape=None, seed=None, name=None):  # noqa: N802 - Keras's name
    """Keras's ``Dropout(rate)``: ``nn.Dropout(p=rate)`` (inverted dropout, training only)."""
    if noise_shape is not None or seed is not None:
        raise ValueError("Dropout: noise_shape and seed are not supported (seed with "
                         "engine.manual_seed)")
    return keep_name(_Dropout(rate), name)


def Flatten(name=None):  # noqa: N802 - Keras's name
    """Keras's ``Flatten()``: ``nn.Flatten()`` (all dims but the batch; channels-first order)."""
    return keep_name(_Flatten(), name)


class GlobalAveragePooling2D(_GlobalPooling):
    """Keras's ``GlobalAveragePooling2D(data_format=None, keepdims=False)``: the mean over H
    and W, (N, H, W, C) → (N, C) (channels_first: (N, C, H, W) → (N, C)); ``keepdims``
    gives (N, 1, 1, C) (channels_first (N, C, 1, 1))."""

    _spatial = 2

    def _reduce(self, x, axes):
        return x.mean(axis=axes, keepdims=self.keepdims)


class GlobalMaxPooling2D(_GlobalPooling):
    """Keras's ``GlobalMaxPooling2D(data_format=None, keepdims=False)``: the max over H and
    W, (N, H, W, C) → (N, C)."""

    _spatial = 2

    def _reduce(self, x, axes):
        return x.amax(axis=axes, keepdims=self.keepdims)


class InputLayer(Module, Symbolic):
    """What ``Input(shape)`` returns: the first layer of a ``Sequential``, or the symbolic
    input of a Functional model (``nn.keras.functional``), as in Keras. It checks one
    sample's shape (None: any size) and passes the batch through unchanged. ``name`` keys
    the input in a dict given to ``fit``/``evaluate``/``predict`` (Keras's).

    ``dtype`` is Keras's: the dtype the data is converted to on the way in (default
    float32, Keras's floatx). As in Keras 3, it does not make the layers after it compute
    in that dtype: they keep float32 weights and cast their input to float32, so
    ``Input(shape, dtype='float64')`` gives a float32 model (for a float64 model, build it
    and call ``model.double()``). An integer or bool dtype converts the values as Keras
    does (1.7 → 1 for 'int32', 300 → 44 for 'uint8') before the float layers see them;
    'float16' rounds them to float16. Other dtypes are refused."""

    _DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
               "uint16", "uint32", "uint64", "bool")

    def __init__(self, shape, name=None, dtype=None):
        super().__init__()
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Input: name must be a string, got {name!r}")
        self.name = name
        self.dtype = _input_dtype(dtype, self._DTYPES)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if not shape or not all(d is None or (isinstance(d, int) and d >= 1) for d in shape):
            raise ValueError(f"Input: shape is one sample's shape, e.g. (28, 28, 1); got "
                             f"{shape!r}")
        self.shape = shape

    input_shape = property(lambda self: self.shape, doc="One sample's shape (for summary()).")

    def forward(self, x):
        if x.ndim != len(self.shape) + 1 or any(
                d is not None and d != n for d, n in zip(self.shape, x.shape[1:], strict=True)):
            raise ValueError(f"Input: expected a batch of samples of shape {self.shape}, got "
                             f"input of shape {tuple(x.shape)}")
        if self.dtype is None or self.dtype in ("float32", "float64") or x.dtype == self.dtype:
            return x  # float layers compute in float32 (or the model's dtype) either way
        # Keras's conversion to an integer, bool or float16 Input (truncating, wrapping,
        # rounding), then back to the model's float dtype, as Keras's layers cast it
        with np.errstate(invalid="ignore", over="ignore"):
            data = x.data.astype(self.dtype)
        if x.dtype.kind != "f":
            return engine.tensor(data)
        return engine.tensor(data.astype(x.dtype), dtype=x.dtype)

    def extra_repr(self):
        return (f"shape={self.shape}" + (f", name={self.name!r}" if self.name else "")
                + (f", dtype={self.dtype!r}" if self.dtype else ""))


def _input_dtype(dtype, allowed):
    """Input's ``dtype=`` as Keras's name ('float64'), None kept (float32, Keras's default);
    a dtype stepgrad cannot follow Keras on is refused by name."""
    if dtype is None:
        return None
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else str(dtype)
        name = np.dtype(name).name
    except TypeError:
        name = str(dtype)
    if name not in allowed:
        raise ValueError(f"Input: dtype={dtype!r} is not supported; use one of "
                         f"{', '.join(allowed)} (or leave it out: float32)")
    return name


def Input(shape, batch_size=None, name=None, dtype=None):  # noqa: N802 - Keras's name
    """Keras's ``Input(shape=(28, 28, 1))``: the first element of a ``Sequential``, or an
    input of a Functional model; ``name`` is the key of its array when ``fit``,
    ``evaluate`` or ``predict`` get a dict (``{'image': x1, 'meta': x2}``); ``dtype`` as
    Keras's (see ``InputLayer``: the layers still compute in float32)."""
    if batch_size is not None:
        raise ValueError("Input: batch_size is not supported (any batch size works)")
    return InputLayer(shape, name=name, dtype=dtype)


class Conv2D(Regularized, ConvConfig, Conv2d):
    """Keras's ``Conv2D(filters, kernel_size, strides=(1, 1), padding='valid',
    data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
    kernel_initializer='glorot_uniform', bias_initializer='zeros', kernel_regularizer=None,
    bias_regularizer=None, activity_regularizer=None, input_shape=None)``.

    Images (N, H, W, C) → (N, H', W', filters) by default (channels_last, Keras's); the
    input channels come from ``input_shape`` or the first call. Parameters are
    ``nn.Conv2d``'s (``weight`` (filters, C, kh, kw); ``model.get_weights()`` gives Keras's
    kernel (kh, kw, C, filters)); 'same' padding is TensorFlow's rule. ``activation='relu'``
    runs as conv2d's fused relu.

    >>> import engine
    >>> conv = Conv2D(8, (3, 3), activation="relu")
    >>> conv(engine.zeros(2, 28, 28, 1)).shape, conv.weight.shape
    ((2, 26, 26, 8), (8, 1, 3, 3))
    """

    _saved_sizes = (1, 1)

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, input_shape=None):
        Module.__init__(self)
        from . import initializers
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"Conv2D: filters must be an int >= 1, got {filters!r}")
        refuse("Conv2D", "stepgrad has no weight constraints",
               kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        self._set_regularizers("Conv2D", kernel_regularizer=kernel_regularizer,
                               bias_regularizer=bias_regularizer,
                               activity_regularizer=activity_regularizer)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"Conv2D: padding must be 'valid' or 'same', got {padding!r}")
        self.filters = self.out_channels = filters
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2D", 1)
        self.strides = self.stride = pair(strides, "strides", "Conv2D", 1)
        self.dilation_rate = self.dilation = pair(dilation_rate, "dilation_rate", "Conv2D", 1)
        self.padding, self.groups = padding.lower(), 1
        self.data_format = _image_format("Conv2D", data_format)
        self.activation = activation
        self._act = activation_fn("Conv2D", activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._inits = initializers.get(kernel_initializer), initializers.get(bias_initializer)
        self.weight = self.bias = self.in_channels = None
        self.built = False
        self.input_shape = None
        if input_shape is not None:
            shape = tuple(input_shape)
            if len(shape) != 3:
                raise ValueError(f"Conv2D: input_shape is one image's shape, (H, W, C) for "
                                 f"{self.data_format}; got {input_shape!r}")
            self.input_shape = shape
            self.build(shape[-1] if self.data_format == "channels_last" else shape[0])

    def forward(self, x):
        x = _images("Conv2D", x, self.data_format)
        build_or_check(self, "Conv2D", x.shape[1], x)
        relu = self.activation == "relu"
        y = engine.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                          dilation=self.dilation, relu=relu)
        if self._act is not None and not relu:
            y = self._act(y)
        return self._activity(y.permute(0, 2, 3, 1) if self.data_format == "channels_last"
                              else y)

    def _keras_weights(self):  # Keras's kernel (kh, kw, in, filters)
        return conv_keras_weights(self, (2, 3, 1, 0))

    def get_config(self):
        return self._regularizer_config(super().get_config())


class _Pooling2D(Module):
    """Keras's 2-D pooling layers' arguments (``pool_size=(2, 2), strides=None,
    padding='valid', data_format=None``; images (N, H, W, C) by default) and 'same' padding
    as TensorFlow's (output ⌈H/stride⌉, the extra padding at the bottom/right)."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None):
        super().__init__()
        who = type(self).__name__
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(f"{who}: padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = pair(pool_size, "pool_size", who, 1)
        self.strides = self.pool_size if strides is None else pair(strides, "strides", who, 1)
        self.padding = padding.lower()
        self.data_format = _image_format(who, data_format)

    def _same(self, x):
        """F.pad's (left, right, top, bottom) for 'same' on (N, C, H, W) x (all 0: none)."""
        (top, bottom), (left, right) = (
            same_padding(size, k, s, 1)
            for size, k, s in zip(x.shape[2:], self.pool_size, self.strides, strict=True))
        return left, right, top, bottom

    def forward(self, x):
        x = _images(type(self).__name__, x, self.data_format)
        y = self._pool(x)
        return y.permute(0, 2, 3, 1) if self.data_format == "channels_last" else y

    def extra_repr(self):
        return (f"pool_size={self.pool_size}, strides={self.strides}, "
                f"padding={self.padding!r}, {self.data_format}")


class MaxPooling2D(_Pooling2D):
    """Keras's ``MaxPooling2D(pool_size=(2, 2), strides=None, padding='valid',
    data_format=None)``: the max of each window ('same': the padding never wins)."""

    def _pool(self, x):
        pads = self._same(x) if self.padding == "same" else (0, 0, 0, 0)
        if any(pads):
            x = F.pad(x, pads, value=-np.inf)
        return engine.max_pool2d(x, self.pool_size, self.strides)


class AveragePooling2D(_Pooling2D):
    """Keras's ``AveragePooling2D(pool_size=(2, 2), strides=None, padding='valid',
    data_format=None)``: the mean of each window. With 'same' a border window averages its
    input cells only (TensorFlow's rule: padding is not counted), as
    ``sum(window) / count(window's input cells)``. (Keras 3.15 on its torch backend, when the
    padding is uneven, pads by repeating the edge values and counts them: it differs from
    TensorFlow there.)"""

    def _pool(self, x):
        pads = self._same(x) if self.padding == "same" else (0, 0, 0, 0)
        if not any(pads):
            return engine.avg_pool2d(x, self.pool_size, self.strides)
        # mean over the zero-padded window / share of it that is input = mean over the input
        ones = engine.ones(1, 1, *x.shape[2:], dtype=x.dtype)
        share = engine.avg_pool2d(F.pad(ones, pads), self.pool_size, self.strides)
        return engine.avg_pool2d(F.pad(x, pads), self.pool_size, self.strides) / share


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
    """Keras's ``BatchNormalization(axis=-1, momentum=0.99, epsilon=0.001, center=True,
    scale=True)`` with the number of features inferred at the first call: input (N, F)
    (statistics per feature, ``axis=-1`` or 1), sequences (N, T, C) and images (N, H, W, C)
    with ``axis=-1`` (Keras's default: per channel, the last dim; the mean and variance over
    N and T, or N, H and W), or (N, C, T) and (N, C, H, W) with ``axis=1``.

    Keras's ``momentum`` weights the OLD running statistics: it is stored as PyTorch's
    ``momentum = 1 − 0.99 = 0.01`` too. The moving statistics follow Keras in training::

        moving_mean     ← moving_mean·momentum + mean·(1 − momentum)
        moving_variance ← moving_variance·momentum + variance·(1 − momentum)

    with the BIASED batch variance (divided by n, as Keras's; ``nn.BatchNorm1d/2d`` use the
    unbiased one, as PyTorch's, a factor n/(n−1) apart)."""

    _dims = (2, 3, 4)
    biased_running_var = True  # Keras's moving variance: the batch variance divided by n

    reset_parameters = keras_no_reset  # its own initializers, not the parent's rule

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 input_dim=None):
        Module.__init__(self)
        if axis not in (-1, 1, 3):
            raise ValueError(f"BatchNormalization: axis must be -1 (the last dim: features, "
                             f"or the channels of (N, H, W, C) images) or 1 (channels of "
                             f"(N, C, H, W) images), got {axis!r}")
        axis = -1 if axis == 3 else axis
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
        if x.ndim in (3, 4) and self.axis == -1:
            # Keras's axis=-1 is the last dim: the channels of (N, T, C) sequences (a Conv1D's
            # output) and of (N, H, W, C) images; ours is dim 1. (3-D input was refused.)
            y = self._normalise(x.permute(0, x.ndim - 1, *range(1, x.ndim - 1)))
            return y.permute(0, *range(2, x.ndim), 1)
        return self._normalise(x)

    def _normalise(self, x):
        """Statistics per dim 1 of (N, F), (N, C, L) or (N, C, H, W)."""
        if not self.built:
            if x.ndim not in self._dims:
                self._check(x)
            self.build(x.shape[1], x.dtype if x.dtype.kind == "f" else np.float32)
        if self.training and not self.trainable:  # Keras: frozen, it runs in inference mode
            self.__dict__["training"] = False
            try:
                return super().forward(x)
            finally:
                self.__dict__["training"] = True
        return super().forward(x)  # _BatchNorm's, with the biased variance (biased_running_var)

    def _check(self, x):
        if x.ndim not in self._dims or (self.built and x.shape[1] != self.num_features):
            raise ValueError("BatchNormalization: expected (N, F), (N, C, L) or (N, C, H, W) "
                             "input (axis=-1 takes (N, L, C) and (N, H, W, C))"
                             + (f" with {self.num_features} features in dim 1"
                                if self.built else "") + f", got shape {tuple(x.shape)}")

    def get_config(self):
        return {"axis": self.axis, "momentum": self.keras_momentum, "epsilon": self.eps,
                "center": self.center, "scale": self.scale,
                "input_dim": self.num_features if self.built else None}

    def extra_repr(self):
        n = self.num_features if self.built else "not built"
        return f"{n}, epsilon={self.eps}, momentum={self.keras_momentum} (Keras's)"


# Keras's name= on every layer class exported here whose constructor lacks one (Input and
# InputLayer have their own; the functions Dropout and Flatten take it above).
for _cls in [globals()[n] for n in __all__]:
    if isinstance(_cls, type) and issubclass(_cls, Module) \
            and "name" not in inspect.signature(_cls.__init__).parameters:
        accept_name(_cls)
del _cls
