"""``keras.losses``: Keras's loss classes and functions, for ``compile(loss=...)`` and for
calling on their own, in Keras's argument order ``loss(y_true, y_pred)``::

    model.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    bce = losses.BinaryCrossentropy()
    bce(y_true, y_pred)                    # a scalar Tensor: the batch's mean loss
    losses.mean_squared_error(y_true, y_pred)   # the per-sample losses (N,), as Keras

Each loss has Keras's per-sample formula (an elementwise loss is averaged over the last axis)
and Keras's reduction of the per-sample values ℓ_i with sample weights w_i:
'sum_over_batch_size' (default; also 'mean') ``Σ w_i·ℓ_i / n`` with n the number of values
(not Σ w_i), 'sum' ``Σ w_i·ℓ_i``, 'mean_with_sample_weight' ``Σ w_i·ℓ_i / Σ w_i``, 'none'
the weighted values. The formulas are those of the loss names ``fit`` takes ('mse',
'binary_crossentropy', ...: ``nn.training``), with Keras's options around them
(``from_logits``, ``label_smoothing``); on probabilities they clip to [1e-7, 1 − 1e-7] as
Keras. Inputs may be numpy arrays or Tensors; the result is a Tensor (``.item()``).
"""
from __future__ import annotations

import numpy as np

from engine import Tensor

from .. import functional as F
from ._common import Configured, same_rank

__all__ = ["Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error",
           "mean_absolute_error", "huber", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "LogCosh", "KLDivergence", "Poisson", "Hinge",
           "SquaredHinge", "CategoricalHinge", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "log_cosh", "kl_divergence", "kld", "poisson", "hinge",
           "squared_hinge", "categorical_hinge", "mean_absolute_percentage_error", "mape",
           "mean_squared_logarithmic_error", "msle", "get"]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _as_tensor(a, dtype=None):
    """An input as a Tensor: Tensors as they are, arrays in float32 (Keras's floatx)."""
    if isinstance(a, Tensor):
        return a
    a = np.asarray(a)
    return Tensor(a, dtype=dtype or (np.float32 if a.dtype.kind in "iufb" else None))


def _rows(fn, pred, target, labels, reduction):
    """``fn(pred (M, C), target, reduction)`` on predictions of any rank (..., C): the
    leading dims are flattened into rows and the per-row losses put back in their shape
    (Keras's losses take sequences (N, T, C) too)."""
    if pred.ndim <= 2:
        return fn(pred, target, reduction)
    lead, c = tuple(pred.shape[:-1]), pred.shape[-1]
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels and t.shape == lead + (1,):
        t = t.reshape(lead)
    want = lead if labels else lead + (c,)
    if t.shape != want:
        raise ValueError(f"targets of shape {t.shape} for predictions of shape "
                         f"{tuple(pred.shape)}: expected {want}")
    per = fn(pred.reshape(-1, c), t.reshape((-1,) if labels else (-1, c)), "none")
    per = per.reshape(lead)
    return per if reduction == "none" else per.mean()


class Loss(Configured):
    """Keras's ``Loss(name=None, reduction='sum_over_batch_size')``: ``loss(y_true, y_pred,
    sample_weight=None)`` → the reduced loss (a Tensor); ``call(y_true, y_pred)`` → the
    per-sample losses. stepgrad's subclasses give ``_formula(pred, target, reduction)``
    (reduction 'mean', or 'none': the terms); yours, as Keras's guides write them, override
    ``call(y_true, y_pred)`` (Tensors, y_true in y_pred's dtype and rank) and return the
    per-sample losses, which the reduction averages. ``compile(loss=...)`` takes any of
    them.

    >>> class Halved(Loss):
    ...     def call(self, y_true, y_pred):
    ...         return ((y_true - y_pred) ** 2).mean(axis=-1) / 2
    >>> Halved()(np.zeros((2, 3)), np.ones((2, 3))).item()
    0.5
    """

    _default_name = "loss"

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{', '.join(map(repr, _REDUCTIONS))}, got {reduction!r}")
        if dtype is not None:
            raise ValueError(f"{type(self).__name__}: dtype= is not supported (the loss "
                             "computes in the predictions' dtype)")
        self.name = name or self._default_name
        self.reduction = "none" if reduction is None else reduction

    def _own_call(self) -> bool:  # a subclass of the user's, Keras's way
        return type(self).call is not Loss.call

    def _formula(self, pred, target, reduction):
        if not self._own_call():
            raise NotImplementedError(f"{type(self).__name__}: a Loss subclass must define "
                                      "call(self, y_true, y_pred) returning the per-sample "
                                      "losses (Keras's way)")
        # your call(y_true, y_pred), Keras's order, with Keras's inputs: y_true in y_pred's
        # dtype, its shape as given (before, a subclass defining call raised a bare
        # NotImplementedError in fit)
        from ..training import _align
        pred = _as_tensor(pred)
        target = _as_tensor(target, pred.dtype)
        if target.dtype != pred.dtype:
            target = target.astype(pred.dtype)
        if _align(pred, target) is not target:  # (N,) against (N, 1): see _inputs
            raise ValueError(
                f"{type(self).__name__}.call: y_true has shape {tuple(target.shape)} and y_pred "
                f"{tuple(pred.shape)}; Keras gives a Loss subclass's call() both as they are, "
                f"so y_true - y_pred would broadcast to another shape (a silently wrong "
                f"loss). Give the targets the predictions' rank (y.reshape(-1, 1) for one "
                f"output), or align them inside call()")
        values = self.call(target, pred)
        if not isinstance(values, Tensor):
            raise TypeError(f"{type(self).__name__}.call returned a {type(values).__name__}; "
                            "it must compute on its Tensor arguments and return a Tensor")
        return values if reduction == "none" else values.mean()

    _labels = False  # sparse losses take integer labels: no rank alignment, no float cast

    def _inputs(self, y_true, y_pred):
        pred = _as_tensor(y_pred)
        if self._labels:
            return pred, (y_true.data if isinstance(y_true, Tensor) else np.asarray(y_true))
        target = _as_tensor(y_true, pred.dtype)
        if self._own_call():  # Keras aligns no ranks for it: y_true (N,) against y_pred
            return pred, target  # (N, 1) broadcasts there, and _formula refuses it
        return same_rank(target, pred)[::-1]

    def _loss(self):
        from ..training import _Loss
        return _Loss(self.name, self._formula, self.reduction, align=not self._own_call())

    def call(self, y_true, y_pred):
        """Keras's per-sample losses (N,) (an elementwise loss averaged over the last
        axis)."""
        return self._loss().per_sample(*self._inputs(y_true, y_pred))

    def __call__(self, y_true, y_pred, sample_weight=None):
        from ..training import _reduce_weighted
        pred, target = self._inputs(y_true, y_pred)
        values = self._loss().per_sample(pred, target)
        if self.reduction == "none":
            if sample_weight is None:
                return values
            w = np.asarray(sample_weight, dtype=values.dtype)
            return values * Tensor(w.reshape(w.shape + (1,) * (values.ndim - w.ndim)),
                                   dtype=values.dtype)
        return _reduce_weighted(values, sample_weight, self.reduction, self.name)

    def _fit_loss(self):
        """The loss as ``fit`` calls it: ``(pred, target, sample_weight=None)``."""
        if self.reduction == "none":
            raise ValueError(f"{type(self).__name__}(reduction='none') gives one loss per "
                             "sample; fit and evaluate need one number per batch: keep the "
                             "default reduction ('sum_over_batch_size')")
        return self._loss()

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class MeanSquaredError(Loss):
    """Keras's ``MeanSquaredError()``: ``mean((y_true − y_pred)², axis=-1)`` per sample
    (``F.mse_loss``, 'mse')."""

    _default_name = "mean_squared_error"

    def _formula(self, pred, target, reduction):
        return F.mse_loss(pred, target, reduction=reduction)


class MeanAbsoluteError(Loss):
    """Keras's ``MeanAbsoluteError()``: ``mean(|y_true − y_pred|, axis=-1)`` per sample
    (``F.mae_loss``, 'mae')."""

    _default_name = "mean_absolute_error"

    def _formula(self, pred, target, reduction):
        return F.mae_loss(pred, target, reduction=reduction)


class Huber(Loss):
    """Keras's ``Huber(delta=1.0)``: per value e = y_pred − y_true, ``½e²`` if |e| ≤ δ
    else ``δ·|e| − ½δ²``, averaged over the last axis (``F.huber_loss``: the same
    function)."""

    _default_name = "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name, reduction, dtype)
        if not delta > 0:
            raise ValueError(f"Huber: delta must be > 0, got {delta!r}")
        self.delta = float(delta)

    def _formula(self, pred, target, reduction):
        return F.huber_loss(pred, target, reduction=reduction, delta=self.delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


_EPSILON = 1e-7  # Keras's backend.epsilon()


class _Elementwise(Loss):
    """A loss given by ``_terms(pred, y)`` (y the target as a Tensor of the predictions'
    dtype): elementwise terms, averaged over the last axis per sample (Keras's
    ``mean(..., axis=-1)``), or one value per sample over the last axis."""

    def _formula(self, pred, target, reduction):
        terms = self._terms(pred, F._target(target, pred, self.name))
        return terms if reduction == "none" else terms.mean()


def _hinge_labels(y):
    """Keras's ``convert_binary_labels_to_hinge``: targets all 0 or 1 become −1/+1; others
    are kept."""
    return y * 2.0 - 1.0 if np.isin(y.data, (0, 1)).all() else y


class LogCosh(_Elementwise):
    """Keras's ``LogCosh()`` ('log_cosh'): per value e = y_pred − y_true,
    ``log(cosh e) = e + softplus(−2e) − log 2``, averaged over the last axis."""

    _default_name = "log_cosh"

    def _terms(self, pred, y):
        e = pred - y
        return e + F.softplus(e * -2.0) - float(np.log(2.0))


class MeanAbsolutePercentageError(_Elementwise):
    """Keras's ``MeanAbsolutePercentageError()`` ('mape'): ``100·mean(|y_true − y_pred| /
    max(|y_true|, 1e-7), axis=-1)``."""

    _default_name = "mean_absolute_percentage_error"

    def _terms(self, pred, y):
        return ((y - pred) / y.abs().clip(_EPSILON, None)).abs() * 100.0


class MeanSquaredLogarithmicError(_Elementwise):
    """Keras's ``MeanSquaredLogarithmicError()`` ('msle'): ``mean((log(max(y_pred, ε) + 1)
    − log(max(y_true, ε) + 1))², axis=-1)``, ε = 1e-7."""

    _default_name = "mean_squared_logarithmic_error"

    def _terms(self, pred, y):
        d = (pred.clip(_EPSILON, None) + 1.0).log() - (y.clip(_EPSILON, None) + 1.0).log()
        return d * d


class Poisson(_Elementwise):
    """Keras's ``Poisson()`` ('poisson'): ``mean(y_pred − y_true·log(y_pred + 1e-7),
    axis=-1)``."""

    _default_name = "poisson"

    def _terms(self, pred, y):
        return pred - y * (pred + _EPSILON).log()


class Hinge(_Elementwise):
    """Keras's ``Hinge()`` ('hinge'): ``mean(max(1 − y_true·y_pred, 0), axis=-1)``, targets
    −1/+1 (0/1 targets are converted to −1/+1 first, as Keras)."""

    _default_name = "hinge"

    def _terms(self, pred, y):
        return (1.0 - _hinge_labels(y) * pred).relu()


class SquaredHinge(_Elementwise):
    """Keras's ``SquaredHinge()`` ('squared_hinge'): ``mean(max(1 − y_true·y_pred, 0)²,
    axis=-1)``, 0/1 targets converted to −1/+1 as Keras."""

    _default_name = "squared_hinge"

    def _terms(self, pred, y):
        h = (1.0 - _hinge_labels(y) * pred).relu()
        return h * h


class CategoricalHinge(_Elementwise):
    """Keras's ``CategoricalHinge()`` ('categorical_hinge'): per sample, with one-hot y,
    ``max(max((1 − y)·y_pred) − Σ y·y_pred + 1, 0)``."""

    _default_name = "categorical_hinge"

    def _terms(self, pred, y):
        pos = (y * pred).sum(axis=-1)
        neg = ((1.0 - y) * pred).amax(axis=-1)
        return (neg - pos + 1.0).relu()


class KLDivergence(_Elementwise):
    """Keras's ``KLDivergence()`` ('kl_divergence', 'kld'): per sample, both clipped to
    [1e-7, 1], ``Σ y_true·log(y_true / y_pred)`` over the last axis (a sum, not a mean)."""

    _default_name = "kl_divergence"

    def _terms(self, pred, y):
        y, p = y.clip(_EPSILON, 1.0), pred.clip(_EPSILON, 1.0)
        return (y * (y / p).log()).sum(axis=-1)


def _check_axis(who, axis):
    if axis != -1:
        raise ValueError(f"{who}: only axis=-1 (the classes in the last dim) is supported, "
                         f"got {axis!r}")


class _SmoothedCrossentropy(Loss):
    """The options Keras's BinaryCrossentropy and CategoricalCrossentropy share:
    ``from_logits=False, label_smoothing=0.0, axis=-1`` (axis -1 only)."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name, reduction, dtype)
        who = type(self).__name__
        _check_axis(who, axis)
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"{who}: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing!r}")
        self.from_logits, self.axis = bool(from_logits), axis
        self.label_smoothing = float(label_smoothing)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Keras's ``BinaryCrossentropy(from_logits=False, label_smoothing=0.0)``: per value
    ``−[y·ln p + (1 − y)·ln(1 − p)]``, averaged over the last axis; p = the predictions
    clipped to [1e-7, 1 − 1e-7], or sigmoid(logits) computed stably with
    ``from_logits=True``. ``label_smoothing`` s moves the targets to ``y·(1 − s) + s/2``."""

    _default_name = "binary_crossentropy"

    def _formula(self, pred, target, reduction):
        from ..training import _binary_crossentropy
        y = F._target(target, pred, self.name)
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            return F.binary_cross_entropy_with_logits(pred, y, reduction=reduction)
        return _binary_crossentropy(pred, y, reduction=reduction)


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Keras's ``CategoricalCrossentropy(from_logits=False, label_smoothing=0.0)``: per
    sample ``−Σ_c y_c·ln p_c`` over one-hot (or probability) rows y; p = the rows
    renormalised and clipped to [1e-7, 1 − 1e-7] (Keras's 'categorical_crossentropy'), or
    softmax(logits) with ``from_logits=True`` (``ln p = log_softmax``: ``F.cross_entropy``
    on probability targets). ``label_smoothing`` s moves the targets to ``y·(1 − s) + s/C``.
    Predictions (N, C) or (N, ..., C)."""

    _default_name = "categorical_crossentropy"

    def _formula(self, pred, target, reduction):
        return _rows(self._rows, pred, target, False, reduction)

    def _rows(self, pred, target, reduction):
        from ..training import _categorical_crossentropy
        y = F._target(target, pred, self.name)
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + self.label_smoothing / pred.shape[-1]
        if self.from_logits:
            return F.cross_entropy(pred, y, reduction=reduction)
        return _categorical_crossentropy(pred, y, sparse=False, reduction=reduction)


class SparseCategoricalCrossentropy(Loss):
    """Keras's ``SparseCategoricalCrossentropy(from_logits=False)``: per sample ``−ln
    p_label`` for integer labels (N,) or (N, 1) (or (N, ..., ) for predictions (N, ...,
    C)); p = the rows renormalised and clipped to [1e-7, 1 − 1e-7], or softmax(logits)
    with ``from_logits=True`` (``F.cross_entropy``). ``ignore_class`` is not supported."""

    _default_name = "sparse_categorical_crossentropy"
    _labels = True

    def __init__(self, from_logits=False, ignore_class=None, axis=-1,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name, reduction, dtype)
        _check_axis("SparseCategoricalCrossentropy", axis)
        if ignore_class is not None:
            raise ValueError("SparseCategoricalCrossentropy: ignore_class= is not supported")
        self.from_logits, self.axis, self.ignore_class = bool(from_logits), axis, None

    def _formula(self, pred, target, reduction):
        return _rows(self._rows, pred, target, True, reduction)

    def _rows(self, pred, target, reduction):
        from ..training import _categorical_crossentropy
        if self.from_logits:
            t = target.data if isinstance(target, Tensor) else np.asarray(target)
            if t.ndim == 2 and t.shape[1] == 1:
                t = t.reshape(-1)  # labels (N, 1), as Keras squeezes them
            return F.cross_entropy(pred, t, reduction=reduction)
        return _categorical_crossentropy(pred, target, sparse=True, reduction=reduction)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "axis": self.axis}


# ----------------------------------------------------------------- Keras's loss functions
def _function(cls, name, doc):
    """Keras's loss function ``fn(y_true, y_pred)``: the per-sample losses of ``cls()``."""

    def fn(y_true, y_pred, **options):
        return cls(**options).call(y_true, y_pred)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    fn._fit_loss = lambda: cls(name=name)._fit_loss()  # compile(loss=losses.<name>)
    return fn


mean_squared_error = _function(MeanSquaredError, "mean_squared_error",
                               "Keras's ``mean_squared_error(y_true, y_pred)``: the per-sample "
                               "``mean((y_true − y_pred)², axis=-1)``.")
mean_absolute_error = _function(MeanAbsoluteError, "mean_absolute_error",
                                "Keras's ``mean_absolute_error(y_true, y_pred)``: the "
                                "per-sample ``mean(|y_true − y_pred|, axis=-1)``.")
huber = _function(Huber, "huber", "Keras's ``huber(y_true, y_pred, delta=1.0)``: the "
                                  "per-sample Huber losses.")
binary_crossentropy = _function(BinaryCrossentropy, "binary_crossentropy",
                                "Keras's ``binary_crossentropy(y_true, y_pred, "
                                "from_logits=False, label_smoothing=0.0)``: per sample.")
categorical_crossentropy = _function(CategoricalCrossentropy, "categorical_crossentropy",
                                     "Keras's ``categorical_crossentropy(y_true, y_pred, "
                                     "from_logits=False, label_smoothing=0.0)``: per sample.")
sparse_categorical_crossentropy = _function(SparseCategoricalCrossentropy,
                                            "sparse_categorical_crossentropy",
                                            "Keras's ``sparse_categorical_crossentropy(y_true, "
                                            "y_pred, from_logits=False)``: per sample.")

log_cosh = _function(LogCosh, "log_cosh", "Keras's ``log_cosh(y_true, y_pred)``: per sample.")
kl_divergence = _function(KLDivergence, "kl_divergence",
                          "Keras's ``kl_divergence(y_true, y_pred)``: per sample.")
poisson = _function(Poisson, "poisson", "Keras's ``poisson(y_true, y_pred)``: per sample.")
hinge = _function(Hinge, "hinge", "Keras's ``hinge(y_true, y_pred)``: per sample.")
squared_hinge = _function(SquaredHinge, "squared_hinge",
                          "Keras's ``squared_hinge(y_true, y_pred)``: per sample.")
categorical_hinge = _function(CategoricalHinge, "categorical_hinge",
                              "Keras's ``categorical_hinge(y_true, y_pred)``: per sample.")
mean_absolute_percentage_error = _function(
    MeanAbsolutePercentageError, "mean_absolute_percentage_error",
    "Keras's ``mean_absolute_percentage_error(y_true, y_pred)``: per sample.")
mean_squared_logarithmic_error = _function(
    MeanSquaredLogarithmicError, "mean_squared_logarithmic_error",
    "Keras's ``mean_squared_logarithmic_error(y_true, y_pred)``: per sample.")
kld, mape, msle = kl_divergence, mean_absolute_percentage_error, mean_squared_logarithmic_error

CLASSES = {cls.__name__: cls for cls in (MeanSquaredError, MeanAbsoluteError, Huber,
                                         BinaryCrossentropy, CategoricalCrossentropy,
                                         SparseCategoricalCrossentropy, LogCosh, KLDivergence,
                                         Poisson, Hinge, SquaredHinge, CategoricalHinge,
                                         MeanAbsolutePercentageError,
                                         MeanSquaredLogarithmicError)}

# The loss names compile and fit take besides the ones nn.training knows ('mse', 'mae',
# 'binary_crossentropy', ...): Keras's function names and aliases, each the class's formula.
NAMES = {"huber": Huber, "log_cosh": LogCosh,
         "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
         "poisson": Poisson,
         "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
         "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
         "mean_absolute_percentage_error": MeanAbsolutePercentageError,
         "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError,
         "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "hinge": Hinge}


def get(identifier):
    """A loss from a class name ('BinaryCrossentropy'), a Loss, or a saved config."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in CLASSES:
        return CLASSES[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in CLASSES:
        return CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    raise ValueError(f"unknown loss {identifier!r}; known classes: {', '.join(CLASSES)} (or "
                     "pass a loss name such as 'mse' to compile)")
