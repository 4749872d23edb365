"""Keras's shape, normalisation and activation layers: ``LayerNormalization``,
``Normalization``, ``Reshape``, ``Permute``, ``RepeatVector``, ``UpSampling2D``,
``ZeroPadding2D``, ``Rescaling``, ``LeakyReLU``, ``ReLU``, ``Softmax`` and ``Lambda``.

``LeakyReLU``, ``ReLU`` and ``Softmax`` are the classes ``KerasLeakyReLU``, ``KerasReLU`` and
``KerasSoftmax`` (``nn.keras.layers`` gives them Keras's names): PyTorch's ``nn.LeakyReLU``,
``nn.ReLU`` and ``nn.Softmax`` keep theirs, and a saved model names each class once.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

import engine

from .. import functional as F
from ..module import Module, Parameter
from ._common import float_input, image_format, images, positive_int, refuse, sample_shape

__all__ = ["LayerNormalization", "Normalization", "Reshape", "Permute", "RepeatVector",
           "UpSampling2D", "ZeroPadding2D", "Rescaling", "KerasLeakyReLU", "KerasReLU",
           "KerasSoftmax", "Lambda"]


class LayerNormalization(Module):
    """Keras's ``LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True,
    beta_initializer='zeros', gamma_initializer='ones')``: each sample normalised over
    ``axis`` (an int or a list of them), ``y = (x − mean) / √(var + epsilon) · gamma +
    beta`` with the biased variance (divided by the count), mean and var over the axes.
    ``gamma`` and ``beta`` have the shape of the input at those axes and are made at the
    first call (``weight`` and ``bias`` here; ``get_weights()`` gives ``[gamma, beta]``).

    The axes must be the last dims of the input (-1, or e.g. [-2, -1]: the layout of
    Keras's torch kernel; other axes are refused). Note Keras's epsilon, 1e-3, is not
    ``nn.LayerNorm``'s 1e-5.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, input_shape=None):
        super().__init__()
        from . import initializers
        who = "LayerNormalization"
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                               for a in axes):
            raise TypeError(f"{who}: axis must be an int or a list of ints, got {axis!r}")
        refuse(who, beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
               beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if rms_scaling:
            raise ValueError(f"{who}: rms_scaling=True is not supported (Keras deprecates it: "
                             "it scales by the variance, not the root mean square)")
        if not epsilon > 0:
            raise ValueError(f"{who}: epsilon must be > 0, got {epsilon!r}")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self._inits = initializers.get(gamma_initializer), initializers.get(beta_initializer)
        self.weight = self.bias = None
        self.built, self.param_shape = False, None
        self.input_shape = sample_shape(who, input_shape)
        if self.input_shape is not None:
            self.build((None,) + self.input_shape)

    def _axes(self, ndim):
        """The normalised axes as positive dims of an ndim input; refused unless they are
        the last dims (and not the batch's)."""
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        pos = sorted({a % ndim if -ndim <= a < ndim else -1 for a in axes})
        if pos[0] < 1 or len(pos) != len(axes) or pos != list(range(ndim - len(pos), ndim)):
            raise ValueError(f"LayerNormalization: axis={self.axis} on a {ndim}-D input: the "
                             f"axes must be the last dims of the input, after the batch dim "
                             f"(e.g. -1, or [-2, -1])")
        return tuple(pos)

    def build(self, shape, dtype=np.float32):
        """Create gamma (``weight``) and beta (``bias``) of the input's shape at the axes;
        ``shape`` is the input's, batch dim first (its other sizes may be None)."""
        axes = self._axes(len(shape))
        pshape = tuple(shape[a] for a in axes)
        if None in pshape:
            raise ValueError(f"LayerNormalization: the input's sizes at axis={self.axis} must "
                             f"be known, got {tuple(shape)}")
        gamma, beta = self._inits
        self.param_shape, self._ndim = pshape, len(shape)
        if self.scale:
            self.weight = Parameter(gamma(pshape), dtype=dtype)
        if self.center:
            self.bias = Parameter(beta(pshape), dtype=dtype)
        self.built = True

    def forward(self, x):
        x = float_input(x)
        if not self.built:
            self.build(x.shape, x.dtype)
        axes = self._axes(x.ndim)
        shape = tuple(x.shape[a] for a in axes)
        if shape != self.param_shape:
            raise ValueError(f"LayerNormalization: input of shape {tuple(x.shape)} has "
                             f"{shape} at axis={self.axis}; the layer was built for "
                             f"{self.param_shape}")
        return F.layer_norm(x, shape, self.weight, self.bias, self.epsilon)

    def get_config(self):
        from .initializers import serialize
        config = {"axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                  "scale": self.scale,
                  "gamma_initializer": serialize(self._inits[0], self.gamma_initializer),
                  "beta_initializer": serialize(self._inits[1], self.beta_initializer),
                  "input_shape": self.input_shape}
        if self.built and self.input_shape is None:  # enough to rebuild the parameters
            config["input_shape"] = (None,) * (self._ndim - 1 - len(self.param_shape)) \
                + self.param_shape
        return config

    def extra_repr(self):
        shape = self.param_shape if self.built else "not built"
        return f"axis={self.axis}, epsilon={self.epsilon}, shape={shape}"


class Reshape(Module):
    """Keras's ``Reshape(target_shape)``: each sample to ``target_shape`` (one entry may
    be -1: the size that keeps the number of values), (N, ...) → (N, *target_shape)."""

    def __init__(self, target_shape, input_shape=None):
        super().__init__()
        shape = tuple(target_shape) if isinstance(target_shape, (tuple, list)) else None
        if (shape is None or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                                     and (d >= 1 or d == -1) for d in shape)
                or sum(d == -1 for d in shape) > 1):
            raise ValueError(f"Reshape: target_shape must be a tuple of sizes >= 1 with at "
                             f"most one -1, got {target_shape!r}")
        self.target_shape = tuple(int(d) for d in shape)
        self.input_shape = sample_shape("Reshape", input_shape)

    def forward(self, x):
        size = math.prod(x.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(f"Reshape: samples of shape {tuple(x.shape[1:])} ({size} "
                                 f"values) cannot take target_shape {self.target_shape}")
            shape = tuple(size // known if d == -1 else d for d in self.target_shape)
        elif known != size:
            raise ValueError(f"Reshape: samples of shape {tuple(x.shape[1:])} hold {size} "
                             f"values, target_shape {self.target_shape} holds {known}")
        else:
            shape = self.target_shape
        return x.reshape((x.shape[0],) + shape)

    def extra_repr(self):
        return f"target_shape={self.target_shape}"


class Permute(Module):
    """Keras's ``Permute(dims)``: the sample dims reordered, counting from 1 (the batch dim
    stays first): ``Permute((2, 1))`` turns (N, steps, features) into (N, features,
    steps)."""

    def __init__(self, dims, input_shape=None):
        super().__init__()
        dims = tuple(dims) if isinstance(dims, (tuple, list)) else None
        if dims is None or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1, ..., k (the sample "
                             f"dims, counted from 1), got {dims!r}")
        self.dims = tuple(int(d) for d in dims)
        self.input_shape = sample_shape("Permute", input_shape)

    def forward(self, x):
        if x.ndim != len(self.dims) + 1:
            raise ValueError(f"Permute: dims={self.dims} permutes samples of "
                             f"{len(self.dims)} dims, got input of shape {tuple(x.shape)}")
        return x.permute(0, *self.dims)

    def extra_repr(self):
        return f"dims={self.dims}"


class RepeatVector(Module):
    """Keras's ``RepeatVector(n)``: (N, features) → (N, n, features), the vector repeated
    n times (an encoder's summary fed to every step of a decoder)."""

    def __init__(self, n):
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"RepeatVector: n must be an int, got {type(n).__name__}")
        self.n = positive_int("RepeatVector", "n", n)

    def forward(self, x):
        if x.ndim != 2:
            raise ValueError(f"RepeatVector: expected (N, features) input, got shape "
                             f"{tuple(x.shape)}")
        return x.reshape(x.shape[0], 1, x.shape[1]).repeat(1, self.n, 1)

    def extra_repr(self):
        return f"n={self.n}"


class UpSampling2D(Module):
    """Keras's ``UpSampling2D(size=(2, 2), data_format=None, interpolation='nearest')``:
    each pixel repeated size[0] times down and size[1] times across, (N, H, W, C) →
    (N, H·size[0], W·size[1], C). Only 'nearest' (Keras's default) is implemented."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest"):
        super().__init__()
        from engine.fast.conv import pair
        self.size = pair(size, "size", "UpSampling2D", 1)
        self.data_format = image_format("UpSampling2D", data_format)
        if not isinstance(interpolation, str) or interpolation.lower() != "nearest":
            raise ValueError(f"UpSampling2D: only interpolation='nearest' is supported, got "
                             f"{interpolation!r}")
        self.interpolation = "nearest"

    def forward(self, x):
        images("UpSampling2D", x, self.data_format)  # checks the shape
        h = 1 if self.data_format == "channels_last" else 2
        return x.repeat_interleave(self.size[0], dim=h).repeat_interleave(self.size[1],
                                                                          dim=h + 1)

    def extra_repr(self):
        return f"size={self.size}, {self.data_format}"


def _padding_2d(padding):
    """Keras's ZeroPadding2D padding as ((top, bottom), (left, right))."""
    from engine.fast.conv import pair
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        padding = (padding, padding)
    if not isinstance(padding, (tuple, list)) or len(padding) != 2:
        raise ValueError(f"ZeroPadding2D: padding must be an int, a pair (height, width) or "
                         f"a pair of pairs ((top, bottom), (left, right)), got {padding!r}")
    return tuple(pair(p, "padding", "ZeroPadding2D", 0) for p in padding)


class ZeroPadding2D(Module):
    """Keras's ``ZeroPadding2D(padding=(1, 1), data_format=None)``: rows of zeros above and
    below, columns left and right; ``padding`` is an int, (rows, cols) for both sides, or
    ((top, bottom), (left, right)). (N, H, W, C) → (N, H + top + bottom, W + left + right,
    C)."""

    def __init__(self, padding=(1, 1), data_format=None, input_shape=None):
        super().__init__()
        self.padding = _padding_2d(padding)
        self.data_format = image_format("ZeroPadding2D", data_format)
        self.input_shape = sample_shape("ZeroPadding2D", input_shape, 3)

    def forward(self, x):
        images("ZeroPadding2D", x, self.data_format)  # checks the shape
        (top, bottom), (left, right) = self.padding
        pads = (left, right, top, bottom) if self.data_format == "channels_first" \
            else (0, 0, left, right, top, bottom)  # F.pad: last dim first
        return F.pad(x, pads)

    def extra_repr(self):
        return f"padding={self.padding}, {self.data_format}"


def _number_or_list(value, who, name):
    """A scale/offset as Keras takes it: a number, or an array (per channel)."""
    a = np.asarray(value, dtype=np.float64)
    if a.dtype.kind not in "f" or not np.isfinite(a).all():
        raise ValueError(f"{who}: {name} must be a finite number or array, got {value!r}")
    return float(a) if a.ndim == 0 else a.tolist()


class Rescaling(Module):
    """Keras's ``Rescaling(scale, offset=0.0)``: ``y = x·scale + offset`` in float32 (uint8
    pixels included): ``Rescaling(1./255)`` maps [0, 255] to [0, 1]. ``scale`` and
    ``offset`` may be arrays (one value per channel, the last dim; the channel dim when
    ``keras.backend.image_data_format()`` is 'channels_first', as in Keras)."""

    def __init__(self, scale, offset=0.0, input_shape=None):
        super().__init__()
        self.scale = _number_or_list(scale, "Rescaling", "scale")
        self.offset = _number_or_list(offset, "Rescaling", "offset")
        self.input_shape = sample_shape("Rescaling", input_shape)

    def forward(self, x):
        from .backend import image_data_format
        x = float_input(x)
        scale = np.asarray(self.scale, x.dtype)
        if scale.ndim and image_data_format() == "channels_first":  # Keras's reshape
            scale = scale.reshape(scale.shape + (1,) * (3 - scale.ndim))
        return x * engine.tensor(scale, dtype=x.dtype) + engine.tensor(
            np.asarray(self.offset, x.dtype), dtype=x.dtype)

    def extra_repr(self):
        return f"scale={self.scale}, offset={self.offset}"


class Normalization(Module):
    """Keras's ``Normalization(axis=-1, mean=None, variance=None, invert=False)``: the
    features (the last dim) standardised with a mean and variance that ``adapt(data)``
    measures on the data (per feature, over every other dim; the variance divided by n, as
    Keras's) or that ``mean=``/``variance=`` give::

        y = (x − mean) / max(√variance, 1e-7)        (invert=True: y = mean + x·max(...))

    Adapted statistics are non-trainable weights, ``get_weights()`` → ``[mean, variance,
    count]`` (Keras's ``count`` stays 0), made at ``adapt`` or at the first call (mean 0,
    variance 1); given ones are constants (no weights), as in Keras. Only ``axis=-1``.

    >>> norm = Normalization()
    >>> norm.adapt(np.array([[1.0, 10.0], [3.0, 30.0]]))
    >>> norm(engine.tensor([[2.0, 50.0]])).numpy()
    array([[0., 3.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, input_shape=None):
        super().__init__()
        who = "Normalization"
        if axis != -1:
            raise ValueError(f"{who}: only axis=-1 (one mean and variance per feature, the "
                             f"last dim) is supported, got axis={axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError(f"{who}: give both mean and variance, or neither (adapt)")
        self.axis, self.invert = axis, bool(invert)
        self.mean = None if mean is None else _number_or_list(mean, who, "mean")
        self.variance = None if variance is None else _number_or_list(variance, who,
                                                                       "variance")
        self.input_shape = sample_shape(who, input_shape)
        self.built = self.mean is not None  # given statistics: nothing to build
        if not self.built and self.input_shape is not None:
            self.build(self.input_shape[-1])

    def build(self, features, dtype=np.float32):
        """The statistics' buffers for ``features`` features: mean 0, variance 1."""
        self.register_buffer("adapt_mean", np.zeros(features, dtype))
        self.register_buffer("adapt_variance", np.ones(features, dtype))
        self.register_buffer("count", np.array(0, np.int32))  # Keras's int: never counts
        self.built = True

    def adapt(self, data):
        """Measure the mean and (biased) variance of each feature of ``data`` (an array or
        Tensor (..., features)) over all its other dims, as Keras's ``adapt``."""
        if self.mean is not None:
            raise ValueError("Normalization.adapt: the layer was given mean= and variance=")
        a = np.asarray(data.detach().numpy() if isinstance(data, engine.Tensor) else data,
                       np.float64)
        if a.ndim < 1 or a.shape[-1] == 0 or a.size == 0:
            raise ValueError(f"Normalization.adapt: expected data (..., features), got shape "
                             f"{a.shape}")
        a = a.reshape(-1, a.shape[-1])
        if not self.built:
            self.build(a.shape[1])
        elif a.shape[1] != self.adapt_mean.shape[0]:
            raise ValueError(f"Normalization.adapt: {a.shape[1]} features, the layer has "
                             f"{self.adapt_mean.shape[0]}")
        self.adapt_mean.data[...] = a.mean(0)
        self.adapt_variance.data[...] = a.var(0)

    def forward(self, x):
        x = float_input(x)
        if not self.built:
            self.build(x.shape[-1], x.dtype)
        if self.mean is not None:
            mean = engine.tensor(np.asarray(self.mean, x.dtype), dtype=x.dtype)
            var = np.asarray(self.variance, np.float64)
        else:
            if x.shape[-1] != self.adapt_mean.shape[0]:
                raise ValueError(f"Normalization: input of shape {tuple(x.shape)} has "
                                 f"{x.shape[-1]} features, the layer {self.adapt_mean.shape[0]}")
            mean, var = self.adapt_mean.astype(x.dtype), self.adapt_variance.data
        std = engine.tensor(np.maximum(np.sqrt(var), 1e-7).astype(x.dtype), dtype=x.dtype)
        return mean + x * std if self.invert else (x - mean) / std

    def get_config(self):
        config = {"axis": self.axis, "mean": self.mean, "variance": self.variance,
                  "invert": self.invert, "input_shape": self.input_shape}
        if self.built and self.mean is None and self.input_shape is None:  # to rebuild the
            config["input_shape"] = (self.adapt_mean.shape[0],)  # buffers model.save wrote
        return config

    def extra_repr(self):
        return "given mean and variance" if self.mean is not None else (
            f"{self.adapt_mean.shape[0]} features" if self.built else "not built")


class KerasLeakyReLU(Module):
    """Keras's ``LeakyReLU(negative_slope=0.3)`` (``nn.keras.layers.LeakyReLU``): ``x`` for
    x ≥ 0, ``negative_slope·x`` below. Keras's default slope is 0.3 (PyTorch's
    ``nn.LeakyReLU``: 0.01); Keras 2's ``alpha=`` is taken with Keras 3's warning."""

    keras_class = "LeakyReLU"

    def __init__(self, negative_slope=0.3, alpha=None):
        super().__init__()
        if alpha is not None:
            negative_slope = alpha
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=2)
        if negative_slope is None or not negative_slope >= 0:
            raise ValueError(f"LeakyReLU: negative_slope must be a number >= 0, got "
                             f"{negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return float_input(x).leaky_relu(self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class KerasReLU(Module):
    """Keras's ``ReLU(max_value=None, negative_slope=0.0, threshold=0.0)``
    (``nn.keras.layers.ReLU``)::

        y = min(x, max_value)                  for x > threshold
        y = negative_slope · (x − threshold)   for x ≤ threshold

    (the defaults give max(x, 0)). As Keras, the clip to max_value applies to the upper
    branch only and none of the three may be negative."""

    keras_class = "ReLU"

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0):
        super().__init__()
        for name, value in (("max_value", max_value), ("negative_slope", negative_slope),
                            ("threshold", threshold)):
            if (value is None and name != "max_value") or (value is not None
                                                           and not value >= 0):
                raise ValueError(f"ReLU: {name} must be a number >= 0, got {value!r}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope, self.threshold = float(negative_slope), float(threshold)

    def forward(self, x):
        x = float_input(x)
        slope, top, t = self.negative_slope, self.max_value, self.threshold
        if top is None and t == 0:
            return x.relu() if slope == 0 else x.leaky_relu(slope)
        y = engine.where(x > t, x, 0.0) if t else x.relu()  # Keras's order of the steps
        if top is not None:
            y = y.clip(0.0, top)
        return y if slope == 0 else y - slope * (t - x).relu()

    def extra_repr(self):
        return (f"max_value={self.max_value}, negative_slope={self.negative_slope}, "
                f"threshold={self.threshold}")


class KerasSoftmax(Module):
    """Keras's ``Softmax(axis=-1)`` (``nn.keras.layers.Softmax``): ``exp(x) / Σ exp(x)``
    over ``axis`` (an int, or a tuple of axes taken together)."""

    keras_class = "Softmax"

    def __init__(self, axis=-1):
        super().__init__()
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
        if not axes or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                               for a in axes):
            raise TypeError(f"Softmax: axis must be an int or a tuple of ints, got {axis!r}")
        self.axis = tuple(int(a) for a in axes) if isinstance(axis, (tuple, list)) \
            else int(axis)

    def forward(self, x, mask=None):
        refuse("Softmax", "masks are not carried by stepgrad's Keras layers", mask=mask)
        x = float_input(x)
        if isinstance(self.axis, tuple) and len(self.axis) > 1:
            return (x - x.logsumexp(axis=self.axis, keepdims=True)).exp()
        axis = self.axis[0] if isinstance(self.axis, tuple) else self.axis
        return x.softmax(axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class Lambda(Module):
    """Keras's ``Lambda(function, output_shape=None, arguments=None)``: ``y =
    function(x, **arguments)``, where ``x`` is a stepgrad Tensor (write the function with
    Tensor methods: ``lambda x: x.mean(axis=1)``, not TensorFlow's ops); a function with a
    ``training`` argument gets the layer's mode. ``output_shape`` is accepted and not
    needed (shapes are found by running). A model holding a Lambda cannot be saved with
    ``model.save`` (a file never holds code): ``save_weights`` works."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None,
                 input_shape=None):
        super().__init__()
        import inspect
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got "
                            f"{type(function).__name__}")
        refuse("Lambda", "stepgrad's Keras layers carry no masks", mask=mask)
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError("Lambda: arguments must be a dict of keyword arguments")
        self.function, self.output_shape = function, output_shape
        self.arguments = dict(arguments or {})
        try:
            self._training = "training" in inspect.signature(function).parameters
        except (TypeError, ValueError):
            self._training = False
        self.input_shape = sample_shape("Lambda", input_shape)

    def forward(self, x):
        kwargs = dict(self.arguments)
        if self._training:
            kwargs["training"] = self.training
        return self.function(x, **kwargs)

    def get_config(self):
        from .saving import UnsavableArchitecture
        name = getattr(self.function, "__name__", type(self.function).__name__)
        raise UnsavableArchitecture(
            f"Lambda: its function ({name}) is Python code, which a model file does not hold "
            "(loading never runs code); save the weights (model.save_weights(path)) and "
            "rebuild the model with the same code, or make the function a layer (an "
            "nn.Module subclass) and load with custom_objects=")

    def extra_repr(self):
        return getattr(self.function, "__name__", type(self.function).__name__)
