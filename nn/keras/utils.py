"""Keras's ``to_categorical`` and ``plot_model`` (``keras.utils.plot_model``)."""
from __future__ import annotations

import numpy as np

__all__ = ["to_categorical", "plot_model"]  # noqa: F822 - plot_model: __getattr__ below


def __getattr__(name):
    # keras.utils.plot_model(model, to_file='model.png', show_shapes=True, rankdir='TB', ...)
    # is viz.plot_model itself (one implementation; Keras's keyword names): loaded on first
    # use, as viz imports nn.
    if name == "plot_model":
        from viz import plot_model
        return plot_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot rows for integer labels: (N,) → (N, num_classes) (default max(y) + 1), as
    ``keras.utils.to_categorical``; a trailing axis of size 1 is dropped first.

    >>> to_categorical([0, 2, 1], 3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.array_equal(y, np.round(y)):
            raise ValueError("to_categorical: labels must be whole numbers")
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise TypeError(f"to_categorical: labels must be integers, got dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, got {y.min()}")
    n = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and y.max() >= n:
        raise ValueError(f"to_categorical: label {y.max()} does not fit num_classes={n}")
    out = np.zeros(y.shape + (n,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out
