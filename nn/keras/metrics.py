"""``keras.metrics``: Keras's metric classes, for ``compile(metrics=[...])`` and on their
own, in Keras's argument order::

    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=[metrics.BinaryAccuracy(), metrics.AUC()])
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y_true, y_pred); m.result()        # a scalar Tensor; reset_state()
    m(y_true, y_pred)                                 # update_state, then result()

A metric's value is a mean over samples (each sample's values averaged first, as Keras's
``Mean`` metrics), weighted by ``sample_weight`` when ``update_state`` is given one
(``Σ w_i·v_i / Σ w_i``); ``AUC`` accumulates a confusion matrix instead. In ``fit`` and
``evaluate`` a metric is the mean over the epoch's samples, not weighted (Keras's
``metrics=``; ``weighted_metrics`` is not supported). Names: a class's Keras name
('binary_accuracy', 'auc', ...) or ``name=``; the history keys are these names.

``Accuracy`` is Keras's exact-equality accuracy (``y_true == y_pred``, for integer
predictions): for probabilities use ``BinaryAccuracy``, ``CategoricalAccuracy``,
``SparseCategoricalAccuracy``, or the string 'accuracy' (which picks one by shape).
"""
from __future__ import annotations

import numpy as np

import engine
from engine import Tensor

from ._common import Configured, same_rank

__all__ = ["Metric", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "AUC", "get"]


def _array(a):
    return np.asarray(a.data if isinstance(a, Tensor) else a)


class Metric(Configured):
    """Keras's ``Metric(name=None)``: ``update_state(y_true, y_pred, sample_weight=None)``,
    ``result()``, ``reset_state()``; calling it updates and returns the result."""

    _default_name = "metric"

    def __init__(self, name=None, dtype=None):
        if dtype is not None:
            raise ValueError(f"{type(self).__name__}: dtype= is not supported")
        self.name = name or self._default_name
        self.reset_state()

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    def get_config(self):
        return {"name": self.name}


class _MeanMetric(Metric):
    """A mean of per-sample values ``_values(pred, target)`` → (N,) (Keras's
    ``MeanMetricWrapper``): total ``Σ w_i·v_i``, count ``Σ w_i`` (w = 1 without weights)."""

    def reset_state(self):
        self.total, self.count = 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._values(y_pred, y_true)
        if sample_weight is None:
            w = np.ones(len(values))
        else:
            w = np.asarray(_array(sample_weight), np.float64)
            w = np.broadcast_to(w, values.shape) if w.ndim == 0 else w.reshape(len(w), -1)
            if w.ndim == 2 and w.shape[1] == 1:
                w = w[:, 0]
            if w.shape != values.shape:
                raise ValueError(f"{self.name}: sample_weight of shape {np.shape(sample_weight)} "
                                 f"for {len(values)} samples: give one weight per sample")
        self.total += float(np.sum(values * w))
        self.count += float(np.sum(w))

    def result(self):
        return engine.tensor(self.total / self.count if self.count else 0.0)  # divide_no_nan

    def _fit_metric(self):
        """(name, fn(pred, target) → the batch's mean) for ``fit``: unweighted, as Keras's
        ``metrics=``."""
        def batch_mean(pred, target):
            return float(np.mean(self._values(pred, target)))
        batch_mean.__name__ = self.name
        return self.name, batch_mean

    def _values(self, pred, target):
        """The per-sample values (N,): each sample's terms averaged."""
        v = np.asarray(self._terms(pred, target), np.float64)
        return v.reshape(len(v), -1).mean(axis=1) if v.ndim > 1 else v


class Accuracy(_MeanMetric):
    """Keras's ``Accuracy()``: how often ``y_pred == y_true`` exactly, value by value (for
    class predictions; probabilities never equal their 0/1 targets: use
    ``BinaryAccuracy``/``CategoricalAccuracy``)."""

    _default_name = "accuracy"

    def _terms(self, pred, target):
        t, p = same_rank(_array(target), _array(pred))
        if np.broadcast_shapes(t.shape, p.shape) != p.shape:
            raise ValueError(f"{self.name}: {p.shape} predictions but {t.shape} targets")
        return (t == p).astype(np.float64)


class BinaryAccuracy(_MeanMetric):
    """Keras's ``BinaryAccuracy(threshold=0.5)``: how often ``(y_pred > threshold) ==
    y_true``, output by output (the string 'binary_accuracy''s formula)."""

    _default_name = "binary_accuracy"

    def __init__(self, name=None, dtype=None, threshold=0.5):
        if not 0 <= threshold <= 1:
            raise ValueError(f"BinaryAccuracy: threshold must be in [0, 1], got {threshold!r}")
        self.threshold = float(threshold)
        super().__init__(name, dtype)

    def _terms(self, pred, target):
        from ..training import _binary_matches
        return _binary_matches(pred, target, self.threshold)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


def _argmax_checked(who, pred, target, labels):
    """(argmax of the predictions over their last axis, the true classes): one-hot rows of
    the predictions' shape, or (``labels``) integer labels of its shape less the classes
    (a trailing 1 allowed)."""
    p, t = _array(pred), _array(target)
    lead = p.shape[:-1]
    if labels:
        if t.shape == lead + (1,):
            t = t.reshape(lead)
        if p.ndim < 2 or t.shape != lead:
            raise ValueError(f"{who}: integer labels of shape {lead} (or {lead + (1,)}) for "
                             f"predictions of shape {p.shape}, got {t.shape} (one-hot targets "
                             "go to CategoricalAccuracy)")
        return p.argmax(axis=-1), t
    if p.ndim < 2 or t.shape != p.shape:
        raise ValueError(f"{who}: one-hot targets of the predictions' shape {p.shape}, got "
                         f"{t.shape} (integer labels go to SparseCategoricalAccuracy)")
    return p.argmax(axis=-1), t.argmax(axis=-1)


class CategoricalAccuracy(_MeanMetric):
    """Keras's ``CategoricalAccuracy()``: how often the argmax of the predictions (N, C)
    is the argmax of the one-hot targets (N, C)."""

    _default_name = "categorical_accuracy"

    def _terms(self, pred, target):
        guess, truth = _argmax_checked(self.name, pred, target, labels=False)
        return (guess == truth).astype(np.float64)


class SparseCategoricalAccuracy(_MeanMetric):
    """Keras's ``SparseCategoricalAccuracy()``: how often the argmax of the predictions
    (N, C) is the integer label (N,) or (N, 1)."""

    _default_name = "sparse_categorical_accuracy"

    def _terms(self, pred, target):
        guess, truth = _argmax_checked(self.name, pred, target, labels=True)
        return (guess == truth).astype(np.float64)


class MeanSquaredError(_MeanMetric):
    """Keras's ``metrics.MeanSquaredError()``: the mean of ``(y_true − y_pred)²`` (the loss
    'mse''s formula, ``F.mse_loss``)."""

    _default_name = "mean_squared_error"

    def _terms(self, pred, target):
        from .losses import MeanSquaredError as Loss
        return Loss(reduction="none")(target, pred).data


class MeanAbsoluteError(_MeanMetric):
    """Keras's ``metrics.MeanAbsoluteError()``: the mean of ``|y_true − y_pred|`` (the loss
    'mae''s formula, ``F.mae_loss``)."""

    _default_name = "mean_absolute_error"

    def _terms(self, pred, target):
        from .losses import MeanAbsoluteError as Loss
        return Loss(reduction="none")(target, pred).data


class AUC(Metric):
    """Keras's ``AUC(num_thresholds=200, curve='ROC', summation_method='interpolation',
    thresholds=None, from_logits=False)``: the area under the ROC curve, from counts of
    true/false positives and negatives at the thresholds 0 − ε, 1/(T−1), …, (T−2)/(T−1),
    1 + ε (T = num_thresholds), accumulated over every batch (in ``fit``: over the epoch):
    a prediction p (clipped to [0, 1]) counts as positive at a threshold below it, a target
    counts as positive when non-zero. With the recall R and the false-positive rate P at each
    threshold, ``AUC = Σ_i (P_i − P_{i+1})·(R_i + R_{i+1})/2`` ('interpolation'; 'minoring'
    and 'majoring' take the min / max of the two heights). Not supported: curve='PR',
    ``multi_label``, ``label_weights``, uneven ``thresholds``."""

    _default_name = "auc"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if str(curve).upper() != "ROC":
            raise ValueError(f"AUC: only curve='ROC' is supported, got {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring', got {summation_method!r}")
        if multi_label or num_labels is not None or label_weights is not None:
            raise ValueError("AUC: multi_label, num_labels and label_weights are not "
                             "supported (all outputs count as one binary problem)")
        if thresholds is not None:
            raise ValueError("AUC: thresholds= is not supported; give num_thresholds (evenly "
                             "spaced thresholds)")
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) \
                or num_thresholds <= 1:
            raise ValueError(f"AUC: num_thresholds must be an int > 1, got {num_thresholds!r}")
        self.num_thresholds, self.curve = num_thresholds, "ROC"
        self.summation_method, self.from_logits = summation_method, bool(from_logits)
        super().__init__(name, dtype)

    @property
    def thresholds(self):
        n = self.num_thresholds
        return [-1e-7] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + 1e-7]

    def reset_state(self):
        n = self.num_thresholds
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        pred = _array(y_pred)
        p = np.asarray(pred, np.float32)
        if self.from_logits:
            p = 1 / (1 + np.exp(-p))
        y = _array(y_true)
        if y.size != p.size:
            raise ValueError(f"{self.name}: {p.shape} predictions but {y.shape} targets")
        p = np.clip(p.reshape(-1), 0, 1)
        y = (y.reshape(-1) != 0).astype(np.float64)
        w = np.ones_like(y) if sample_weight is None else np.broadcast_to(
            np.asarray(_array(sample_weight), np.float64).reshape(
                (-1,) + (1,) * (pred.ndim - 1)), pred.shape).reshape(-1)
        # Keras's bucket of p: ceil(p·(T − 1)) − 1 (floored at 0), in float32; a threshold
        # counts p as positive from its bucket up (a reversed cumulative sum)
        t = self.num_thresholds
        bucket = np.maximum(np.ceil(p * np.float32(t - 1)) - 1, 0).astype(np.int64)
        pos = np.bincount(bucket, weights=y * w, minlength=t)[::-1].cumsum()[::-1]
        neg = np.bincount(bucket, weights=(1 - y) * w, minlength=t)[::-1].cumsum()[::-1]
        self.true_positives += pos
        self.false_positives += neg
        self.false_negatives += (y * w).sum() - pos
        self.true_negatives += ((1 - y) * w).sum() - neg

    def _value(self):
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        with np.errstate(invalid="ignore", divide="ignore"):  # Keras's divide_no_nan
            recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
            fp_rate = np.where(fp + tn > 0, fp / (fp + tn), 0.0)
        low, high = recall[:-1], recall[1:]
        heights = {"interpolation": (low + high) / 2, "minoring": np.minimum(low, high),
                   "majoring": np.maximum(low, high)}[self.summation_method]
        return float(np.sum((fp_rate[:-1] - fp_rate[1:]) * heights))

    def result(self):
        return engine.tensor(self._value())

    def get_config(self):
        return {"name": self.name, "num_thresholds": self.num_thresholds, "curve": "ROC",
                "summation_method": self.summation_method, "from_logits": self.from_logits}

    def _fit_metric(self):
        return self.name, _StatefulAdapter(self)


class _StatefulAdapter:
    """A stateful metric as ``fit`` drives it (``nn.training._Running``): reset at the start
    of an epoch (or evaluation), updated batch by batch with ``(pred, target)``, read."""

    def __init__(self, metric):
        self.metric = metric
        self.__name__ = metric.name

    def fit_reset(self):
        self.metric.reset_state()

    def fit_update(self, pred, target):
        self.metric.update_state(target, pred)

    def fit_result(self):
        return self.metric._value()


CLASSES = {cls.__name__: cls for cls in (Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                         SparseCategoricalAccuracy, MeanSquaredError,
                                         MeanAbsoluteError, AUC)}
SNAKE_NAMES = {"auc": AUC}  # the metric strings the loss-name table does not cover


def get(identifier):
    """A metric from a class name ('AUC'), a Metric, or a saved config."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and (identifier in CLASSES or identifier in SNAKE_NAMES):
        return (CLASSES.get(identifier) or SNAKE_NAMES[identifier])()
    if isinstance(identifier, dict) and identifier.get("class_name") in CLASSES:
        return CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    raise ValueError(f"unknown metric {identifier!r}; known classes: {', '.join(CLASSES)}")

