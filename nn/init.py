"""Weight initialisation as ``torch.nn.init``: each function fills a tensor in place (under
``no_grad``, so it works on Parameters) and returns it, drawing from engine's generator
(``engine.manual_seed``).

    >>> import engine, nn
    >>> layer = nn.Linear(256, 128)
    >>> _ = nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")   # std √(2/256)
    >>> _ = nn.init.zeros_(layer.bias)

Fans as PyTorch computes them: for a weight of shape (out, in, *kernel), fan_in =
in·prod(kernel) and fan_out = out·prod(kernel) (so a Linear (out, in) has fan_in = in).
Layers keep their own default (Glorot uniform, Keras's); call these to change it.
"""
from __future__ import annotations

import math

import numpy as np

import engine

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")
_GAINS = "'linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose{1,2,3}d', 'sigmoid', " \
         "'tanh', 'relu', 'leaky_relu', 'selu'"


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The gain that keeps activations' variance steady through ``nonlinearity``: 1 for
    linear layers and sigmoid, 5/3 for tanh, √2 for relu, √(2/(1 + slope²)) for leaky_relu
    (slope ``param``, 0.01 by default), 3/4 for selu."""
    if nonlinearity in _LINEAR:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; supported: "
                     f"{_GAINS}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"Fan in and fan out can not be computed for a tensor with fewer "
                         f"than 2 dimensions (shape {tensor.shape})")
    receptive = int(np.prod(tensor.shape[2:], dtype=np.int64))
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} is not supported; use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write ``values`` into ``tensor`` in place, without recording a graph. ``tensor`` may
    also be a parameter's ``.data`` (its numpy array, filled in place): PyTorch code inits
    ``m.weight.data`` as often as ``m.weight`` (its DCGAN tutorial's ``weights_init``)."""
    if isinstance(tensor, np.ndarray):
        tensor[...] = np.asarray(values, tensor.dtype)
        return tensor
    with engine.no_grad():
        tensor.copy_(np.asarray(values, tensor.dtype))
    return tensor


def _rng():
    return engine.get_rng()


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with draws from U(a, b)."""
    return _fill(tensor, _rng().uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with draws from N(mean, std²)."""
    return _fill(tensor, _rng().normal(mean, std, size=tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Fill with N(mean, std²) draws redrawn until inside [a, b] (PyTorch's bounds are
    absolute values, not multiples of std)."""
    out = _rng().normal(mean, std, size=tensor.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = _rng().normal(mean, std, size=int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def constant_(tensor, val):
    """Fill with ``val``."""
    return _fill(tensor, np.full(tensor.shape, val))


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """The identity matrix (a 2-D tensor only)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor, gain=1.0):
    """Glorot uniform: U(−a, a) with a = gain·√(6/(fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain=1.0):
    """Glorot normal: N(0, std²) with std = gain·√(2/(fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He uniform: U(−b, b) with b = gain·√(3/fan), gain = calculate_gain(nonlinearity, a)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor  # nothing to fill (PyTorch warns)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """He normal: N(0, std²) with std = gain/√fan."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def orthogonal_(tensor, gain=1.0):
    """A (semi-)orthogonal matrix (the tensor flattened to (rows, rest)) times ``gain``:
    the Q of a QR decomposition of a normal draw, signs fixed so it is uniformly
    distributed (Mezzadri, 2007), as PyTorch."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tensor.shape}")
    size = int(np.prod(tensor.shape))  # a Tensor's numel(), or an array's (``w.data``)
    if size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = size // rows
    flat = _rng().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
