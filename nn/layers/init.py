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
