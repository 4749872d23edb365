"""Keras's API over stepgrad: the Model methods every ``nn.Module`` has (``compile``,
``fit``, ``evaluate``, ``predict``, ``summary``, ``save``, ``get_weights``...) and the
``keras.*`` names a Keras listing imports, so that only its import lines change::

    from nn.keras import Sequential                 # from keras import Sequential
    from nn.keras.layers import Dense               # from keras.layers import Dense
    from nn.keras.optimizers import SGD             # from keras.optimizers import SGD
    from nn.keras.callbacks import LearningRateScheduler

Submodules: ``layers``, ``optimizers``, ``callbacks``, ``initializers``, ``utils``
(``to_categorical``), ``models`` (``Sequential``, ``Model``, ``load_model``), ``datasets``,
``saving``, ``backend`` (``image_data_format``), ``functional`` (the Functional API),
``losses`` (``BinaryCrossentropy(from_logits=True)``, ...), ``metrics``
(``SparseCategoricalAccuracy()``, ``AUC()``, ...), ``regularizers`` (``l2(0.01)``) and
``ops`` (``ops.mean``, ``ops.square``, ...: Keras 3's ops for custom losses).
``nn.keras.model`` holds the Model methods (mixed into ``nn.Module``).
"""
from .model import KerasModelMixin

__all__ = ["KerasModelMixin", "Model", "Sequential", "load_model", "Input"]


def __getattr__(name):
    # The submodules import nn.layers and nn.module, which import this package: load them
    # on first use, not here.
    import importlib
    if name in ("Sequential", "load_model", "Model"):
        return getattr(importlib.import_module(".models", __name__), name)
    if name == "Input":  # keras.Input, as keras.layers.Input
        return importlib.import_module(".layers", __name__).Input
    if name in ("layers", "optimizers", "callbacks", "initializers", "utils", "models",
                "datasets", "saving", "weights", "functional", "backend", "losses", "metrics",
                "regularizers", "ops"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
