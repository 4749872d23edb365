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
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "AUC",
           "RootMeanSquaredError", "Precision", "Recall", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "KLDivergence", "Poisson", "Hinge", "SquaredHinge",
           "CategoricalHinge", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "TopKCategoricalAccuracy",
           "SparseTopKCategoricalAccuracy", "get"]


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


class RootMeanSquaredError(_MeanMetric):
    """Keras's ``RootMeanSquaredError()``: ``√(mean of (y_true − y_pred)²)`` over everything
    seen: in ``fit`` the root of the epoch's mean squared error (not a mean of the batches'
    roots), as Keras accumulates it."""

    _default_name = "root_mean_squared_error"

    def _terms(self, pred, target):
        return MeanSquaredError._terms(self, pred, target)

    def _value(self):
        return float(np.sqrt(self.total / self.count)) if self.count else 0.0

    def result(self):
        return engine.tensor(self._value())

    def _fit_metric(self):
        return self.name, _StatefulAdapter(self)


class _Confusion(Metric):
    """Keras's ``Precision``/``Recall(thresholds=None, top_k=None, class_id=None)``: every
    output value is a prediction, positive when ``y_pred > threshold`` (default 0.5), its
    target positive when non-zero; true/false positives and false negatives are counted
    over everything seen (in ``fit``: over the epoch, as Keras), weighted by
    ``sample_weight``. Not supported: several thresholds, ``top_k``, ``class_id``."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        who = type(self).__name__
        if top_k is not None or class_id is not None:
            raise ValueError(f"{who}: top_k= and class_id= are not supported (every output "
                             "counts as one binary prediction)")
        if isinstance(thresholds, (list, tuple)):
            if len(thresholds) != 1:
                raise ValueError(f"{who}: one threshold only, got {thresholds!r} (make one "
                                 f"{who} per threshold)")
            thresholds = thresholds[0]
        if thresholds is not None and (isinstance(thresholds, bool)
                                       or not 0 <= thresholds <= 1):
            raise ValueError(f"{who}: thresholds must be a number in [0, 1], got "
                             f"{thresholds!r}")
        self.thresholds = thresholds
        self.threshold = 0.5 if thresholds is None else float(thresholds)
        super().__init__(name, dtype)

    def reset_state(self):
        self.true_positives = self.false_positives = self.false_negatives = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        p, y = _array(y_pred), _array(y_true)
        if y.size != p.size:
            raise ValueError(f"{self.name}: {p.shape} predictions but {y.shape} targets")
        guess, truth = (p.reshape(-1) > self.threshold), (y.reshape(-1) != 0)
        w = np.ones(guess.shape) if sample_weight is None else np.broadcast_to(
            np.asarray(_array(sample_weight), np.float64).reshape(
                (-1,) + (1,) * (p.ndim - 1)), p.shape).reshape(-1)
        self.true_positives += float(w[guess & truth].sum())
        self.false_positives += float(w[guess & ~truth].sum())
        self.false_negatives += float(w[~guess & truth].sum())

    def _value(self):
        tp, other = self.true_positives, self._other()
        return tp / (tp + other) if tp + other else 0.0  # Keras's divide_no_nan

    def result(self):
        return engine.tensor(self._value())

    def get_config(self):
        return {"name": self.name, "thresholds": self.thresholds}

    def _fit_metric(self):
        return self.name, _StatefulAdapter(self)


class Precision(_Confusion):
    """Keras's ``Precision(thresholds=None)``: TP / (TP + FP) (see ``_Confusion``)."""

    _default_name = "precision"

    def _other(self):
        return self.false_positives


class Recall(_Confusion):
    """Keras's ``Recall(thresholds=None)``: TP / (TP + FN) (see ``_Confusion``)."""

    _default_name = "recall"

    def _other(self):
        return self.false_negatives


def _loss_metric(loss_name, name, keras_name):
    """Keras's metric class of a loss (``metrics.KLDivergence``, 'mape', ...): the mean over
    samples of the loss's per-sample values (``nn.keras.losses``' formula)."""
    def _terms(self, pred, target):
        from . import losses
        return getattr(losses, loss_name)(reduction="none").call(target, pred).data

    return type(name, (_MeanMetric,), {
        "_default_name": keras_name, "_terms": _terms, "__module__": __name__,
        "__doc__": f"Keras's ``metrics.{name}()``: the mean of the per-sample "
                   f"``losses.{loss_name}`` values."})


MeanAbsolutePercentageError = _loss_metric("MeanAbsolutePercentageError",
                                           "MeanAbsolutePercentageError",
                                           "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _loss_metric("MeanSquaredLogarithmicError",
                                           "MeanSquaredLogarithmicError",
                                           "mean_squared_logarithmic_error")
KLDivergence = _loss_metric("KLDivergence", "KLDivergence", "kl_divergence")
Poisson = _loss_metric("Poisson", "Poisson", "poisson")
Hinge = _loss_metric("Hinge", "Hinge", "hinge")
SquaredHinge = _loss_metric("SquaredHinge", "SquaredHinge", "squared_hinge")
CategoricalHinge = _loss_metric("CategoricalHinge", "CategoricalHinge", "categorical_hinge")
BinaryCrossentropy = _loss_metric("BinaryCrossentropy", "BinaryCrossentropy",
                                  "binary_crossentropy")
class TopKCategoricalAccuracy(_MeanMetric):
    """Keras's ``TopKCategoricalAccuracy(k=5)``: how often the true class (the argmax of
    the one-hot targets (N, C)) is among the ``k`` highest predictions — its score at least
    the k-th largest, ties counting as in (Keras's ``in_top_k``)."""

    _default_name = "top_k_categorical_accuracy"
    _labels = False

    def __init__(self, k=5, name=None, dtype=None):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{type(self).__name__}: k must be an int >= 1, got {k!r}")
        self.k = int(k)
        super().__init__(name, dtype)

    def _terms(self, pred, target):
        p = _array(pred)
        _, truth = _argmax_checked(self.name, pred, target, labels=self._labels)
        if self.k > p.shape[-1]:
            raise ValueError(f"{self.name}: k={self.k} is more than the {p.shape[-1]} classes "
                             f"of predictions {p.shape}")
        kth = np.sort(p, axis=-1)[..., -self.k]  # the k-th largest score of each row
        true_score = np.take_along_axis(p, truth[..., None].astype(np.int64), axis=-1)[..., 0]
        return (true_score >= kth).astype(np.float64)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """Keras's ``SparseTopKCategoricalAccuracy(k=5)``: ``TopKCategoricalAccuracy`` with
    integer labels (N,) or (N, 1)."""

    _default_name = "sparse_top_k_categorical_accuracy"
    _labels = True

    def __init__(self, k=5, name=None, dtype=None, from_sorted_ids=False):
        if from_sorted_ids:
            raise ValueError("SparseTopKCategoricalAccuracy: from_sorted_ids=True is not "
                             "supported (give the predictions' scores)")
        super().__init__(k, name, dtype)


CategoricalCrossentropy = _loss_metric("CategoricalCrossentropy", "CategoricalCrossentropy",
                                       "categorical_crossentropy")
SparseCategoricalCrossentropy = _loss_metric("SparseCategoricalCrossentropy",
                                             "SparseCategoricalCrossentropy",
                                             "sparse_categorical_crossentropy")

CLASSES = {cls.__name__: cls for cls in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, AUC, RootMeanSquaredError, Precision, Recall,
    MeanAbsolutePercentageError, MeanSquaredLogarithmicError, KLDivergence, Poisson, Hinge,
    SquaredHinge, CategoricalHinge, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy)}
# the metric strings the loss-name table of nn.training does not cover, as Keras 3's
# keras.metrics.get takes them (the string given names the history key, as Keras)
SNAKE_NAMES = {"auc": AUC, "precision": Precision, "recall": Recall,
               "root_mean_squared_error": RootMeanSquaredError,
               **{n: MeanAbsolutePercentageError
                  for n in ("mape", "MAPE", "mean_absolute_percentage_error")},
               **{n: MeanSquaredLogarithmicError
                  for n in ("msle", "MSLE", "mean_squared_logarithmic_error")},
               **{cls._default_name: cls for cls in (
                   KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge,
                   BinaryCrossentropy, CategoricalCrossentropy,
                   SparseCategoricalCrossentropy, TopKCategoricalAccuracy,
                   SparseTopKCategoricalAccuracy)}}


def get(identifier):
    """A metric from a class name ('AUC'), a Metric, or a saved config."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and (identifier in CLASSES or identifier in SNAKE_NAMES):
        return (CLASSES.get(identifier) or SNAKE_NAMES[identifier])()
    if isinstance(identifier, dict) and identifier.get("class_name") in CLASSES:
        return CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    raise ValueError(f"unknown metric {identifier!r}; known classes: {', '.join(CLASSES)}")

