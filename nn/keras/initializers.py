"""Keras's weight initializers, drawn from engine's generator (``engine.manual_seed``).

``Initializer(shape)`` works as in Keras, on Keras's layouts: a Dense kernel is
(in, units), fans ``fan_in = shape[0]``, ``fan_out = shape[1]`` (times the receptive field
for convolution kernels). stepgrad's layers keep PyTorch's layouts ((units, in) for Dense)
and call ``initializer.draw(shape, fan_in, fan_out)`` with the same fans, so a distribution
depends only on the fans, as in Keras; 'glorot_uniform' draws exactly what ``nn.Linear``
draws.

Truncated normals are cut at two standard deviations (re-drawn), and the variance-scaling
ones divide the standard deviation by 0.87962566103423978 (the std of a unit normal cut at
±2), as Keras does.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal",
           "TruncatedNormal", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
           "LecunUniform", "LecunNormal", "Orthogonal", "get"]

_TRUNC_STD = 0.87962566103423978


def _rng():
    from engine import get_rng
    return get_rng()


def keras_fans(shape):
    """Keras's ``compute_fans``: (fan_in, fan_out) of a kernel in Keras's layout."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(shape, mean, stddev):
    rng = _rng()
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():  # re-draw what falls outside ±2 std
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return mean + stddev * z


class Initializer:
    """Base class: ``draw(shape, fan_in, fan_out)`` → float32 array; ``init(shape)`` draws
    with Keras's fans of ``shape``."""

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = keras_fans(shape)
        out = self.draw(tuple(shape), fan_in, fan_out)
        return out if dtype is None else out.astype(dtype)

    def draw(self, shape, fan_in, fan_out):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def draw(self, shape, fan_in, fan_out):
        return np.zeros(shape, np.float32)


class Ones(Initializer):
    def draw(self, shape, fan_in, fan_out):
        return np.ones(shape, np.float32)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = float(value)

    def draw(self, shape, fan_in, fan_out):
        return np.full(shape, self.value, np.float32)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    """U(minval, maxval) (Keras's defaults ±0.05). The course's 002-bn-3 uses
    ``RandomUniform(minval=-5, maxval=5)``."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        if not minval < maxval:
            raise ValueError(f"RandomUniform: need minval < maxval, got {minval}, {maxval}")
        self.minval, self.maxval = float(minval), float(maxval)
        _refuse_seed(seed, "RandomUniform")

    def draw(self, shape, fan_in, fan_out):
        return _rng().uniform(self.minval, self.maxval, size=shape).astype(np.float32)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = float(mean), float(stddev)
        _refuse_seed(seed, "RandomNormal")

    def draw(self, shape, fan_in, fan_out):
        return (self.mean + self.stddev * _rng().standard_normal(shape)).astype(np.float32)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """Normal(mean, stddev) re-drawn outside mean ± 2·stddev."""

    def draw(self, shape, fan_in, fan_out):
        return _truncated_normal(shape, self.mean, self.stddev).astype(np.float32)


class _VarianceScaling(Initializer):
    scale, mode, distribution = 1.0, "fan_avg", "uniform"

    def draw(self, shape, fan_in, fan_out):
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return _rng().uniform(-limit, limit, size=shape).astype(np.float32)
        std = math.sqrt(variance) / _TRUNC_STD
        return _truncated_normal(shape, 0.0, std).astype(np.float32)


class GlorotUniform(_VarianceScaling):
    """U(−a, a), ``a = √(6 / (fan_in + fan_out))`` (Keras's default): the draws of
    ``nn.layers.init.glorot_uniform``, so ``Dense`` and ``Linear`` start alike."""

    def draw(self, shape, fan_in, fan_out):
        from ..layers.init import glorot_uniform
        return glorot_uniform(shape, fan_in, fan_out)


class GlorotNormal(_VarianceScaling):
    distribution = "truncated_normal"


class HeUniform(_VarianceScaling):
    scale, mode = 2.0, "fan_in"


class HeNormal(_VarianceScaling):
    scale, mode, distribution = 2.0, "fan_in", "truncated_normal"


class LecunUniform(_VarianceScaling):
    mode = "fan_in"


class LecunNormal(_VarianceScaling):
    mode, distribution = "fan_in", "truncated_normal"


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal one, signs fixed
    by diag(R) (Keras's recurrent-kernel default); ``gain`` scales it."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = float(gain)
        _refuse_seed(seed, "Orthogonal")

    def draw(self, shape, fan_in, fan_out):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = (rows, cols) if rows >= cols else (cols, rows)
        q, r = np.linalg.qr(_rng().standard_normal(flat))
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(np.float32)

    def get_config(self):
        return {"gain": self.gain}


def _refuse_seed(seed, name):
    if seed is not None:
        raise ValueError(f"{name}: seed= is not supported; seed every draw with "
                         "engine.manual_seed(n)")


_NAMES = {"zeros": Zeros, "ones": Ones, "constant": Constant,
          "random_uniform": RandomUniform, "random_normal": RandomNormal,
          "truncated_normal": TruncatedNormal, "glorot_uniform": GlorotUniform,
          "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
          "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
          "orthogonal": Orthogonal}
_CLASSES = {cls.__name__: cls for cls in _NAMES.values()}
_NAMES.update({"uniform": RandomUniform, "normal": RandomNormal, "one": Ones,
               "zero": Zeros})  # Keras's aliases ('uniform' is Embedding's default)


class _Callable(Initializer):
    """A user function ``fn(shape, dtype=None)`` in Keras's layout (2-D kernels are the
    transpose of ours: it is called with the reversed shape and its result transposed)."""

    def __init__(self, fn):
        self.fn = fn

    def draw(self, shape, fan_in, fan_out):
        keras_shape = tuple(reversed(shape)) if len(shape) == 2 else shape
        out = np.asarray(self.fn(keras_shape), dtype=np.float32)
        if out.shape != keras_shape:
            raise ValueError(f"initializer {self.fn!r} returned shape {out.shape} for "
                             f"shape {keras_shape}")
        return out.T if len(shape) == 2 else out


def get(identifier):
    """An Initializer from a name ('glorot_uniform', 'GlorotUniform', 'orthogonal', ...),
    an Initializer, a ``{'class_name': ..., 'config': {...}}`` dict, or a callable."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown initializer {identifier!r}; known: "
                             f"{', '.join(sorted(_NAMES))}")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier):
        return _Callable(identifier)
    raise TypeError(f"initializer must be a name, an Initializer or a callable, got "
                    f"{type(identifier).__name__}")


def serialize(init, original):
    """What a layer's config stores: the name it was given, or ``{'class_name', 'config'}``;
    a plain function cannot be stored (ValueError)."""
    if isinstance(original, str):
        return original
    if isinstance(init, _Callable):
        raise ValueError(f"initializer {init.fn!r} is a function: it cannot be saved as data; "
                         "use a name or an nn.keras.initializers class")
    return {"class_name": type(init).__name__, "config": init.get_config()}
