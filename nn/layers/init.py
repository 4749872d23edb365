"""Weight initialisation: Glorot-uniform (Keras's default) and zeros, drawn from engine's RNG."""
from __future__ import annotations

import math

import numpy as np

import engine


def glorot_uniform(shape, fan_in: int, fan_out: int) -> np.ndarray:
    """U(−a, a) with ``a = √(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010), float32."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return engine.get_rng().uniform(-limit, limit, size=shape).astype(np.float32)


def zeros(shape) -> np.ndarray:
    return np.zeros(shape, np.float32)


def refill(param, values):
    """Write ``values`` into the Parameter ``param`` in place, cast to its dtype: the same
    object afterwards, so an optimizer holding it trains the new values. No graph."""
    param.data[...] = values
    return param


def refill_affine(m):
    """A norm layer's ``weight`` back to ones and ``bias`` to zeros (those it has)."""
    if m.weight is not None:
        refill(m.weight, 1.0)
    if m.bias is not None:
        refill(m.bias, 0.0)


def keras_no_reset(self):
    """Keras's layers draw with their own initializers (``kernel_initializer=`` ...):
    PyTorch's ``reset_parameters`` would draw with the PyTorch-style parent's rule instead,
    so it is refused rather than inherited."""
    raise TypeError(f"{type(self).__name__}: reset_parameters() is PyTorch's; this Keras layer "
                    f"draws with its own initializers: build the layer (or model) again for "
                    f"fresh weights")
