"""``keras.models``: ``Sequential``, ``Model`` (the Functional API) and ``load_model``."""
from ..module import Sequential
from .functional import Model
from .saving import load_model

__all__ = ["Model", "Sequential", "load_model"]
