"""``keras.regularizers``: weight and activity penalties added to the training loss::

    Dense(64, activation="relu", kernel_regularizer=regularizers.l2(0.01))
    Conv2D(32, 3, kernel_regularizer="l1", bias_regularizer=regularizers.L1L2(l1=0.01, l2=0.1),
           activity_regularizer=regularizers.l2(1e-4))

Keras 3's formulas, on the layer's kernel in Keras's layout (the same sums in any layout):

- ``L1(l1=0.01)`` (``l1``, 'l1'): ``l1·Σ|w|``;
- ``L2(l2=0.01)`` (``l2``, 'l2'): ``l2·Σw²`` (no ½);
- ``L1L2(l1=0.0, l2=0.0)`` (``l1_l2``, 'l1l2'): both (Keras's defaults are 0 here).

A kernel or bias penalty counts while its weights are trainable (a frozen layer's do not, as
Keras's); an activity penalty is the regularizer of the layer's output divided by the batch
size, for each call. ``fit``, ``evaluate``, ``train_on_batch`` and the validation loss add
them all to the loss (Keras's ``total_loss = loss + Σ model.losses``: the reported 'loss'
includes them). ``model.losses`` lists them: the activity penalties of each layer's last
call, then the weight penalties in the order of the weights. A regularizer of your own is a
function ``fn(x) -> scalar Tensor`` (or a ``Regularizer`` subclass) of the weight in Keras's
layout (a Dense kernel (in, units), a Conv2D kernel (kh, kw, in, filters)), written with
Tensor operations (``x.abs().sum()``).
"""
from __future__ import annotations

import math
import threading
from numbers import Real

from engine import Tensor

from .. import functional as F
from ..layers.init import keras_no_reset
from ._common import Configured

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize"]


def _factor(who, name, value):
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{who}: {name} must be a number >= 0, got {value!r}")
    return float(value)


class Regularizer(Configured):
    """Keras's ``Regularizer``: ``reg(x)`` → a scalar penalty of the tensor x."""

    def __call__(self, x):
        return x.sum() * 0.0

    def get_config(self):
        return {}


class L1(Regularizer):
    """Keras's ``L1(l1=0.01)``: ``l1·Σ|x|``."""

    def __init__(self, l1=0.01):
        self.l1 = _factor("L1", "l1", 0.01 if l1 is None else l1)

    def __call__(self, x):
        return F.l1_penalty([x]) * self.l1

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """Keras's ``L2(l2=0.01)``: ``l2·Σx²``."""

    def __init__(self, l2=0.01):
        self.l2 = _factor("L2", "l2", 0.01 if l2 is None else l2)

    def __call__(self, x):
        return F.l2_penalty([x]) * self.l2

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """Keras's ``L1L2(l1=0.0, l2=0.0)`` (``l1_l2``): ``l1·Σ|x| + l2·Σx²``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor("L1L2", "l1", 0.0 if l1 is None else l1)
        self.l2 = _factor("L1L2", "l2", 0.0 if l2 is None else l2)

    def __call__(self, x):
        out = x.sum() * 0.0
        if self.l1:
            out = out + F.l1_penalty([x]) * self.l1
        if self.l2:
            out = out + F.l2_penalty([x]) * self.l2
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2  # Keras 3 exports the classes under these names too

CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2, "Regularizer": Regularizer}
_NAMES = {"l1": L1, "l2": L2, "l1l2": L1L2, "regularizer": Regularizer, **CLASSES}


def get(identifier, who="regularizer"):
    """A regularizer from Keras's identifiers: None, a name ('l1', 'l2', 'l1l2', 'L2'), a
    saved config ``{'class_name': 'L2', 'config': {'l2': 0.01}}``, a class, an instance or
    a function of one tensor."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _NAMES:
            hint = (" (Keras 3 has no 'l1_l2' string either: write "
                    "regularizers.l1_l2(l1=0.01, l2=0.01))") if identifier == "l1_l2" else ""
            raise ValueError(f"{who}: unknown regularizer {identifier!r}; use 'l1', 'l2', "
                             f"or regularizers.L1(0.01), L2(0.01), L1L2(l1=..., l2=...){hint}")
        return _NAMES[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in CLASSES:
        return CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise ValueError(f"{who}: could not interpret regularizer {identifier!r}; use 'l1', "
                     "'l2', a regularizers.L1/L2/L1L2 object or a function of one tensor")


def serialize(regularizer):
    """A built-in regularizer as data (what ``model.save`` stores); others as they are."""
    if type(regularizer) in CLASSES.values():
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    return regularizer


# ------------------------------------------------------------------ what layers mix in
_ROLES = ("kernel", "recurrent", "bias")
_collecting = threading.local()
# Whether any layer of this process was given a regularizer: until one is, fit's batches
# skip collecting and walking the model for penalties (models without any pay nothing).
IN_USE = False


class Regularized:
    """Mixed into the Keras layers that take ``kernel_regularizer``, ``bias_regularizer``
    and ``activity_regularizer``: each layer says which tensor is its Keras ``kernel``
    (and ``bias``) in ``_keras_weights()``, and passes its output through ``_activity``."""

    kernel_regularizer = bias_regularizer = activity_regularizer = None

    reset_parameters = keras_no_reset  # its own initializers, not the parent's rule

    def _set_regularizers(self, who, **given):
        for name, value in given.items():
            setattr(self, name, get(value, f"{who}: {name}"))

    def __setattr__(self, name, value):
        # Any way a regularizer is set (the constructor, or layer.kernel_regularizer = ...
        # afterwards) tells fit to look for penalties (IN_USE).
        if name.endswith("_regularizer"):
            global IN_USE
            IN_USE = IN_USE or value is not None
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def _keras_weights(self) -> dict:  # pragma: no cover - each layer gives its own
        raise NotImplementedError

    def weight_penalties(self) -> list:
        """The penalties of the trainable weights that have a regularizer, kernel first."""
        out = []
        roles = [r for r in _ROLES if getattr(self, f"{r}_regularizer", None) is not None]
        if not roles:
            return out
        weights = self._keras_weights()
        for role in roles:
            params = weights.get(role)
            for p in () if params is None else params:
                if p is not None and p.requires_grad:
                    out.append(_scalar(getattr(self, f"{role}_regularizer")(p.keras),
                                       f"{type(self).__name__}: {role}_regularizer"))
        return out

    def _activity(self, y):
        """Keras's activity penalty of this call: ``reg(y) / batch size``, kept as the
        layer's last one (``model.losses``) and given to ``fit``'s collector."""
        if self.activity_regularizer is not None:
            loss = _scalar(self.activity_regularizer(y), f"{type(self).__name__}: "
                                                         "activity_regularizer")
            if y.ndim > 0 and y.shape[0]:
                loss = loss / y.shape[0]
            self.__dict__["_activity_loss"] = loss
            found = getattr(_collecting, "lists", None)
            if found:
                found[-1].append(loss)
        return y

    def activity_penalties(self) -> list:
        loss = self.__dict__.get("_activity_loss")
        return [] if loss is None else [loss]

    def _regularizer_config(self, config):
        for name in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
            if name in config:
                config[name] = serialize(getattr(self, name))
        return config


class KerasWeight:
    """A parameter and its Keras-layout view (built only when a regularizer asks)."""

    def __init__(self, param, to_keras=None):
        self.param, self._to_keras = param, to_keras
        self.requires_grad = param.requires_grad

    @property
    def keras(self):
        return self.param if self._to_keras is None else self._to_keras(self.param)


def conv_keras_weights(layer, axes):
    """A convolution's ``_keras_weights``: its kernel permuted by ``axes`` to Keras's
    layout, and its bias."""
    return {"kernel": [KerasWeight(layer.weight, lambda w: w.permute(*axes))]
            if layer.built else [],
            "bias": [KerasWeight(layer.bias)] if layer.bias is not None else []}


def _scalar(value, who):
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{who} returned a tensor of shape {value.shape}; a regularizer "
                             "must return one number (e.g. 0.01 * (x * x).sum())")
        return value.reshape(())
    if isinstance(value, Real):
        return Tensor(float(value))
    raise TypeError(f"{who} returned a {type(value).__name__}; a regularizer must return a "
                    "scalar Tensor")


class collecting:  # noqa: N801 - used as a context manager, like engine.no_grad
    """``with collecting() as found:`` the activity penalties of the layers called inside
    are appended to ``found`` (``fit`` and ``evaluate`` add them to the batch's loss)."""

    def __enter__(self):
        self.found = []
        if not hasattr(_collecting, "lists"):
            _collecting.lists = []
        _collecting.lists.append(self.found)
        return self.found

    def __exit__(self, *exc):
        _collecting.lists.pop()
        return False


def model_penalties(model, activity=None) -> list:
    """Keras's ``model.losses``: the activity penalties (``activity``: those collected
    during one forward pass; None: each layer's last call's), then the weight penalties."""
    modules = [m for m in model.modules() if isinstance(m, Regularized)] \
        if callable(getattr(model, "modules", None)) else []
    if activity is None:
        activity = [loss for m in modules for loss in m.activity_penalties()]
    return list(activity) + [loss for m in modules for loss in m.weight_penalties()]
