"""``keras.datasets``-style loaders over ``nn.datasets``: ``boston_housing.load_data()``
(offline: the table shipped with mlxtend, Keras's split), ``mnist.load_data()``,
``fashion_mnist.load_data()`` (cached files; see ``nn.datasets``)."""
from __future__ import annotations

from types import SimpleNamespace

from .. import datasets as _d

__all__ = ["boston_housing", "mnist", "fashion_mnist"]

boston_housing = SimpleNamespace(load_data=_d.boston_housing)
mnist = SimpleNamespace(load_data=_d.mnist)
fashion_mnist = SimpleNamespace(load_data=_d.fashion_mnist)
