"""``keras.backend``: the image layout the Keras layers assume when ``data_format`` is None.

``image_data_format()`` is ``'channels_last'`` ((N, H, W, C), Keras's default) unless
``set_image_data_format('channels_first')`` chose stepgrad's own (N, C, H, W). It is read
when a layer is made: ``Conv2D``, ``MaxPooling2D`` and ``GlobalAveragePooling2D`` with
``data_format=None`` keep the format current at their construction.
"""
from __future__ import annotations

__all__ = ["image_data_format", "set_image_data_format"]

_FORMATS = ("channels_last", "channels_first")
_current = ["channels_last"]


def image_data_format() -> str:
    """The default image layout of the Keras layers: 'channels_last' or 'channels_first'."""
    return _current[0]


def set_image_data_format(data_format: str) -> None:
    """Set the default image layout for Keras layers made from now on."""
    if data_format not in _FORMATS:
        raise ValueError(f"set_image_data_format: expected 'channels_last' or "
                         f"'channels_first', got {data_format!r}")
    _current[0] = data_format
