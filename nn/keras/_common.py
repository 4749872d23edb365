"""What the Keras layers share: the data layouts (``data_format``), the checks of
constructor arguments, the sample shape a first layer may declare (``input_shape=``) and
Keras's ``name=`` keyword."""
from __future__ import annotations

import functools
import math

import numpy as np


def image_format(who, data_format):
    """Keras's data_format: None means ``keras.backend.image_data_format()`` (by default
    'channels_last'). The 1-D layers read it too, as Keras's: (N, steps, channels)."""
    from .backend import image_data_format
    fmt = image_data_format() if data_format is None else str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{who}: data_format must be 'channels_last' (Keras's default, "
                         f"channels in the last dim) or 'channels_first' (channels in dim 1), "
                         f"got {data_format!r}")
    return fmt


def images(who, x, fmt):
    """x (N, H, W, C) or (N, C, H, W) → stepgrad's (N, C, H, W)."""
    if x.ndim != 4:
        layout = "(N, H, W, C)" if fmt == "channels_last" else "(N, C, H, W)"
        raise ValueError(f"{who}: expected images {layout} ({fmt}), got shape {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2) if fmt == "channels_last" else x


def sequences(who, x, fmt):
    """x (N, steps, C) or (N, C, steps) → stepgrad's (N, C, steps) (``nn.Conv1d``'s)."""
    if x.ndim != 3:
        layout = "(N, steps, channels)" if fmt == "channels_last" else "(N, channels, steps)"
        raise ValueError(f"{who}: expected sequences {layout} ({fmt}), got shape "
                         f"{tuple(x.shape)}")
    return x.permute(0, 2, 1) if fmt == "channels_last" else x


def refuse(who, why="", **given):
    """Keras arguments stepgrad does not implement: each must keep its default (None or
    False); anything else is a ValueError naming it (it would be silently ignored)."""
    for name, value in given.items():
        if value is not None and value is not False:
            raise ValueError(f"{who}: {name}= is not supported in stepgrad (got {value!r})"
                             + (f"; {why}" if why else ""))


def positive_int(who, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: {name} must be an int >= 1, got {value!r}")
    return int(value)


def sample_shape(who, input_shape, ndim=None):
    """``input_shape=`` as Keras takes it on a first layer: one sample's shape (no batch
    dim), a tuple of sizes (None: any size). None passes."""
    if input_shape is None:
        return None
    shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    if not shape or not all(d is None or (isinstance(d, (int, np.integer))
                                          and not isinstance(d, bool) and d >= 1)
                            for d in shape) or (ndim is not None and len(shape) != ndim):
        want = f"{ndim} sizes" if ndim is not None else "sizes"
        raise ValueError(f"{who}: input_shape is one sample's shape ({want}, without the batch "
                         f"dim), got {input_shape!r}")
    return tuple(None if d is None else int(d) for d in shape)


def same_rank(target, pred):
    """Keras's ``squeeze_or_expand_to_same_rank(y_true, y_pred)`` (Tensors or arrays): ranks
    one apart with a trailing 1 on the bigger one → the smaller one gets a trailing 1 too
    (or, for ranks above 1, the bigger one loses it)."""
    t, p = target.ndim, pred.ndim
    if t == p + 1 and target.shape[-1] == 1:
        if p == 1:
            pred = pred.reshape(tuple(pred.shape) + (1,))
        else:
            target = target.reshape(tuple(target.shape[:-1]))
    elif p == t + 1 and pred.shape[-1] == 1:
        if t == 1:
            target = target.reshape(tuple(target.shape) + (1,))
        else:
            pred = pred.reshape(tuple(pred.shape[:-1]))
    return target, pred


def float_input(x):
    """Keras's layers compute in float32: an integer input (pixels as uint8, say) is cast,
    a float one kept."""
    return x if x.dtype.kind == "f" else x.astype(np.float32)


class Configured:
    """Keras's config round trip for loss and metric objects: ``from_config(get_config())``
    rebuilds the object (what ``model.save`` stores), and the repr shows the config."""

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def build_or_check(layer, who, channels, x):
    """A lazy conv layer's first call builds it for ``channels`` input channels (in x's float
    dtype, float32 for integer input); a later call with other channels is refused."""
    if not layer.built:
        layer.build(channels, x.dtype if x.dtype.kind == "f" else np.float32)
    elif channels != layer.in_channels:
        raise ValueError(f"{who}: input with {channels} channels, the layer was built for "
                         f"{layer.in_channels}")


class ConvConfig:
    """``build``, ``get_config`` and the repr Keras's Conv1D and Conv2D share. A built layer
    whose model declared no input shape saves one (``_saved_sizes``: its sizes besides the
    channels), enough to rebuild the parameters at load."""

    _saved_sizes = ()

    def build(self, in_channels, dtype=np.float32):
        """Create ``weight`` (filters, in_channels/groups, *kernel_size) and ``bias``
        (filters,), drawn with Keras's fans of its kernel (*kernel_size, C/groups, filters):
        k·C/groups in, k·filters out (k the kernel's size)."""
        from ..module import Parameter
        if in_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: {in_channels} input channels are not "
                             f"divisible by groups={self.groups}")
        kernel, bias = self._inits
        self.in_channels = int(in_channels)
        cg, k = self.in_channels // self.groups, math.prod(self.kernel_size)
        self.weight = Parameter(kernel.draw((self.filters, cg, *self.kernel_size), cg * k,
                                            self.filters * k), dtype=dtype)
        self.bias = Parameter(bias.draw((self.filters,), self.filters, self.filters),
                              dtype=dtype) if self.use_bias else None
        self.built = True

    def get_config(self):
        from .saving import initialized_config
        config = initialized_config(self)
        if self.built and self.input_shape is None:
            config["input_shape"] = ((*self._saved_sizes, self.in_channels)
                                     if self.data_format == "channels_last"
                                     else (self.in_channels, *self._saved_sizes))
        return config

    def extra_repr(self):
        size = self.in_channels if self.built else "not built"
        return (f"{self.filters}, kernel_size={self.kernel_size}, strides={self.strides}, "
                f"padding={self.padding!r}, activation={self.activation!r}, "
                f"in_channels={size}, {self.data_format}")


def accept_name(cls):
    """Give the Keras layer class ``cls`` Keras's ``name=`` keyword (``Dense(10,
    name="predictions")``, on nearly every layer of keras.io's Functional API listings): the
    name is kept as ``layer.keras_name``; a Functional model registers the layer under it
    (``get_layer(name)``, summaries, ``model.layers``) and a Sequential's ``get_layer`` finds
    it. Not part of the saved config (the names of a saved Sequential are its indices).
    Returns ``cls``, its ``__init__`` wrapped once."""
    init = cls.__init__
    if getattr(init, "_takes_keras_name", False):
        return cls

    @functools.wraps(init)
    def __init__(self, *args, name=None, **kwargs):  # noqa: N807 - the wrapped __init__
        init(self, *args, **kwargs)
        keep_name(self, name)

    __init__._takes_keras_name = True
    cls.__init__ = __init__
    return cls


def keep_name(layer, name):
    """``layer.keras_name = name`` (Keras's ``name=``; None: none given); returns layer."""
    if name is not None:
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"{type(layer).__name__}: name must be a non-empty string "
                             f"without '.', got {name!r}")
        layer.__dict__["keras_name"] = name
    return layer
