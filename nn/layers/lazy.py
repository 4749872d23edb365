"""PyTorch's lazy layers: ``LazyLinear``, ``LazyConv1d``/``2d``, ``LazyConvTranspose1d``/``2d``,
``LazyBatchNorm1d``/``2d`` (d2l.ai's way to write a model): the eager layer without its input
size (``in_features``, ``in_channels``, ``num_features``), which the first call reads off its
input. ``LazyConv3d``, ``LazyConvTranspose3d`` and ``LazyBatchNorm3d`` alike.

Until that call the layer's parameters (and BatchNorm's running statistics) are placeholders,
``nn.UninitializedParameter``/``UninitializedBuffer``: they have a dtype and
``requires_grad``, and reading their values or shape raises, saying to run a forward pass
first. The first call builds the eager layer of the size it found, exactly as
``Linear(in_features, ...)`` would (the same constructor, the same draws: the same weights
for the same seed), and the lazy layer becomes it in place: its class is then the eager one
(``type(m) is nn.Linear``) and its placeholders that layer's parameters -- the same objects,
so an optimizer given ``model.parameters()`` before the first call trains them.
``load_state_dict`` into a layer not initialized yet takes the sizes from the state dict.

>>> import engine, nn
>>> net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
>>> net[0]
LazyLinear(in_features=None, out_features=256, bias=True)
>>> net(engine.zeros(2, 20)).shape
(2, 10)
>>> net[0]
Linear(in_features=20, out_features=256, bias=True)
"""
from __future__ import annotations

import warnings
from itertools import chain

import numpy as np

from ..module import Module, UninitializedBuffer, UninitializedParameter, _symbolic, is_lazy
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .norm import BatchNorm1d, BatchNorm2d, BatchNorm3d


class LazyModuleMixin:
    """What makes a layer lazy (PyTorch's ``LazyModuleMixin``); a lazy class lists it first,
    then its eager class, which it names as ``cls_to_become``. ``_inferred`` is the
    constructor argument that the input gives, ``_size_from_input(shape)`` reads it off the
    first input's shape, and ``_state_sizes`` (entry, axis) says where a state dict shows it.

    ``built`` is False (the flag of stepgrad's lazy Keras layers): ``nn.fit``,
    ``model.compile``, ``count_params``, ``get_weights`` and ``to_torch`` read it.
    """

    cls_to_become: type = None
    _inferred = ""
    _state_sizes: tuple = ()
    _per_group = False  # a convolution's weight shows in_channels / groups
    built = False

    def __init__(self, **options):
        # The eager constructor, on the smallest input size, checks the options and sets every
        # attribute; its tensors then give way to placeholders. Nothing is drawn
        # (reset_parameters is this class's no-op), as in PyTorch.
        self.cls_to_become.__init__(self, **{self._inferred: options.get("groups", 1)},
                                    **options)
        for registry, make in (("_parameters", UninitializedParameter),
                               ("_buffers", UninitializedBuffer)):
            for name, t in list(self.__dict__[registry].items()):
                if t is not None and t.dtype.kind == "f":  # (not BatchNorm's counter)
                    placeholder = make(t.requires_grad, t.dtype)
                    placeholder._owner = type(self).__name__, name
                    setattr(self, name, placeholder)
        object.__setattr__(self, self._inferred, None)
        object.__setattr__(self, "_lazy_options",
                           {k: v for k, v in options.items() if k != "dtype"})

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer is still a placeholder (PyTorch's)."""
        return any(is_lazy(t) for t in chain(self._parameters.values(),
                                             self._buffers.values()))

    def reset_parameters(self):
        """Nothing to draw before the first forward, which draws (PyTorch's)."""

    def __call__(self, *args, **kwargs):
        if (args or kwargs) and not (args and _symbolic(args[0])):  # (Keras's graph records)
            self.initialize_parameters(*args, **kwargs)
        return Module.__call__(self, *args, **kwargs)  # (no super(): the class has changed)

    def initialize_parameters(self, *args, **kwargs) -> None:
        """Take the input size from the forward's input (its first argument) and become the
        eager layer (PyTorch's name)."""
        x = args[0] if args else next(iter(kwargs.values()))
        self._become(self._twin(self._size_from_input(tuple(np.shape(x)))))

    def _twin(self, size):
        """The eager layer of input size ``size``, made in the placeholders' dtype (that of
        ``model.to(dtype)``, if any), as its constructor makes it."""
        dtype = next((t.dtype for t in chain(self._parameters.values(), self._buffers.values())
                      if is_lazy(t)), self.__dict__.get("dtype_"))
        with warnings.catch_warnings():  # (its constructor's warnings were given by ours)
            warnings.simplefilter("ignore")
            return self.cls_to_become(**{self._inferred: size}, **self._lazy_options,
                                      dtype=dtype)

    def _twin_from_state(self, state, prefix):
        """The eager layer whose sizes ``state`` shows (``load_state_dict``, before anything is
        checked or copied), or None when it has no entry that tells."""
        for name, axis in self._state_sizes:
            key = prefix + name
            if key in state:
                shape = tuple(np.shape(state[key]))
                if len(shape) <= axis:
                    raise ValueError(f"load_state_dict: {key!r} of shape {shape} cannot give "
                                     f"{type(self).__name__}'s {self._inferred} (its dim "
                                     f"{axis})")
                return self._twin(shape[axis] * (self.groups if self._per_group else 1))
        return None

    def _become(self, twin) -> None:
        """Turn into ``twin``'s class, each placeholder materialized in place with ``twin``'s
        values (a tensor that is no placeholder, BatchNorm's counter, is kept)."""
        cls = self.cls_to_become
        for registry in ("_parameters", "_buffers"):
            mine = self.__dict__[registry]
            for name, t in twin.__dict__[registry].items():
                if is_lazy(mine.get(name)):
                    mine[name].materialize(t.shape, t.dtype)
                    mine[name].data[...] = t.data
        object.__setattr__(self, self._inferred, getattr(twin, self._inferred))
        del self.__dict__["_lazy_options"]
        self.__class__ = cls


class LazyLinear(LazyModuleMixin, Linear):
    """``nn.Linear`` whose ``in_features`` is the last dim of its first input: x (..., in) →
    (..., out_features). Initialised at that call as ``Linear(in, out_features)`` is
    (Glorot-uniform weight, zero bias), and then a ``Linear``.

    >>> import engine
    >>> layer = LazyLinear(3)
    >>> layer(engine.ones(4, 5)).shape, type(layer).__name__, layer.weight.shape
    ((4, 3), 'Linear', (3, 5))
    """

    cls_to_become = Linear
    _inferred, _state_sizes = "in_features", (("weight", 1),)

    def __init__(self, out_features: int, bias: bool = True, dtype=None):
        LazyModuleMixin.__init__(self, out_features=out_features, bias=bias, dtype=dtype)

    def _size_from_input(self, shape):
        if not shape:
            raise ValueError(f"{type(self).__name__}: input of shape {shape}: expected "
                             f"(..., in_features), at least 1-D")
        return shape[-1]


class _LazyConv(LazyModuleMixin):
    """A convolution whose ``in_channels`` is the channel dim of its first input, batched
    (N, C, *spatial) or unbatched (C, *spatial)."""

    _inferred, _state_sizes, _per_group = "in_channels", (("weight", 1),), True

    def __init__(self, **options):
        groups, out = options["groups"], options["out_channels"]
        if isinstance(groups, int) and groups > 0 and out % groups:
            # (the eager check would also show the stand-in in_channels)
            raise ValueError(f"{type(self).__name__}: groups={groups} must divide "
                             f"out_channels={out}")
        LazyModuleMixin.__init__(self, **options)

    def _size_from_input(self, shape):
        n = len(self.kernel_size)
        if len(shape) not in (n + 1, n + 2):
            raise ValueError(f"{type(self).__name__}: expected {n + 1}-D (unbatched) or "
                             f"{n + 2}-D (batched) input, got shape {shape}")
        return shape[-n - 1]


class LazyConv2d(_LazyConv, Conv2d):
    """``nn.Conv2d`` whose ``in_channels`` is the C of its first input (N, C, H, W) or
    (C, H, W); the other arguments are Conv2d's. Then a ``Conv2d``, initialised as
    ``Conv2d(C, out_channels, ...)`` is.

    >>> import engine
    >>> conv = LazyConv2d(6, kernel_size=5, padding=2)
    >>> conv(engine.zeros(2, 1, 28, 28)).shape, conv.in_channels
    ((2, 6, 28, 28), 1)
    """

    cls_to_become = Conv2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        _LazyConv.__init__(self, out_channels=out_channels, kernel_size=kernel_size,
                           stride=stride, padding=padding, dilation=dilation, groups=groups,
                           bias=bias, padding_mode=padding_mode, dtype=dtype)


class LazyConv1d(_LazyConv, Conv1d):
    """``nn.Conv1d`` whose ``in_channels`` is the C of its first input (N, C, L) or (C, L).

    >>> import engine
    >>> LazyConv1d(4, 3, padding="same")(engine.zeros(2, 5, 10)).shape
    (2, 4, 10)
    """

    cls_to_become = Conv1d
    __init__ = LazyConv2d.__init__


class LazyConvTranspose2d(_LazyConv, ConvTranspose2d):
    """``nn.ConvTranspose2d`` whose ``in_channels`` is the C of its first input (N, C, H, W)
    or (C, H, W); ``forward(x, output_size=...)`` as ConvTranspose2d's.

    >>> import engine
    >>> LazyConvTranspose2d(3, 2, stride=2)(engine.zeros(1, 8, 4, 4)).shape
    (1, 3, 8, 8)
    """

    cls_to_become = ConvTranspose2d
    # its weight is (C_in, C_out/groups, *kernel): in_channels whole, in dim 0
    _state_sizes, _per_group = (("weight", 0),), False

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", dtype=None):
        _LazyConv.__init__(self, out_channels=out_channels, kernel_size=kernel_size,
                           stride=stride, padding=padding, output_padding=output_padding,
                           groups=groups, bias=bias, dilation=dilation,
                           padding_mode=padding_mode, dtype=dtype)


class LazyConvTranspose1d(_LazyConv, ConvTranspose1d):
    """``nn.ConvTranspose1d`` whose ``in_channels`` is the C of its first input (N, C, L) or
    (C, L)."""

    cls_to_become = ConvTranspose1d
    _state_sizes, _per_group = LazyConvTranspose2d._state_sizes, False
    __init__ = LazyConvTranspose2d.__init__


class _LazyBatchNorm(LazyModuleMixin):
    """Batch norm whose ``num_features`` is dim 1 (C) of its first input; the running
    statistics are placeholders too, the batch counter is not (PyTorch's)."""

    _inferred = "num_features"
    _state_sizes = (("weight", 0), ("bias", 0), ("running_mean", 0), ("running_var", 0))

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=None, *, bias: bool = True):
        LazyModuleMixin.__init__(self, eps=eps, momentum=momentum, affine=affine,
                                 track_running_stats=track_running_stats, dtype=dtype,
                                 bias=bias)

    def _size_from_input(self, shape):
        if len(shape) not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected input of {self._dims} dims "
                             f"(channels in dim 1), got shape {shape}")
        return shape[1]


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """``nn.BatchNorm1d`` whose ``num_features`` is the C of its first input (N, C) or
    (N, C, L).

    >>> import engine
    >>> bn = LazyBatchNorm1d()
    >>> bn(engine.randn(4, 3)).shape, bn.running_mean.shape
    ((4, 3), (3,))
    """

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """``nn.BatchNorm2d`` whose ``num_features`` is the C of its first input (N, C, H, W)."""

    cls_to_become = BatchNorm2d


class LazyConv3d(_LazyConv, Conv3d):
    """``nn.Conv3d`` whose ``in_channels`` is the C of its first input (N, C, D, H, W) or
    (C, D, H, W).

    >>> import engine
    >>> LazyConv3d(4, 3, padding=1)(engine.zeros(1, 2, 4, 5, 5)).shape
    (1, 4, 4, 5, 5)
    """

    cls_to_become = Conv3d
    __init__ = LazyConv2d.__init__


class LazyConvTranspose3d(_LazyConv, ConvTranspose3d):
    """``nn.ConvTranspose3d`` whose ``in_channels`` is the C of its first input
    (N, C, D, H, W) or (C, D, H, W)."""

    cls_to_become = ConvTranspose3d
    _state_sizes, _per_group = LazyConvTranspose2d._state_sizes, False
    __init__ = LazyConvTranspose2d.__init__


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    """``nn.BatchNorm3d`` whose ``num_features`` is the C of its first input
    (N, C, D, H, W)."""

    cls_to_become = BatchNorm3d
