"""``keras.models``: ``Sequential`` and ``load_model``."""
from ..module import Sequential
from .saving import load_model

__all__ = ["Sequential", "load_model"]
