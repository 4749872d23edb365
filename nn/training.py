"""Keras-style training: ``fit``, ``evaluate``, ``predict``, ``History`` and callbacks.

``fit`` follows Keras's semantics where Keras users would notice a difference:

- ``validation_split`` holds out the LAST fraction of ``x``/``y``, taken before shuffling;
- the training set is shuffled every epoch (with ``engine.get_rng()``, so
  ``engine.manual_seed`` makes a run reproducible);
- the epoch's ``loss`` (and each metric) is the mean of the batch values weighted by the
  batch sizes, each computed before that batch's update, as Keras reports it;
- ``sample_weight=``/``class_weight=`` weight the loss as Keras's: a batch's loss is
  ``Σ w_i·ℓ_i / n`` (n its size), the metrics stay unweighted;
- validation runs at the end of each epoch in eval mode, under ``no_grad``;
- ``epochs`` (default 1) is the index of the last epoch + 1: ``fit(..., epochs=6,
  initial_epoch=3)`` trains epochs 3, 4, 5 (a resumed run);
- ``evaluate`` returns the loss alone, or ``[loss, *metrics]`` (a dict with
  ``return_dict=True``);
- the data may be arrays, or (``x`` alone) a DataLoader, a Dataset or a generator of
  ``(x, y)`` batches; the optimizer may be a name ('adam', ...) with Keras's defaults.

Every ``nn.Module`` also has these as methods, Keras's way (``model.compile(...)``,
``model.fit(...)``): see ``nn.keras.model``.

Losses by name: 'mse' 'mae' 'binary_crossentropy' 'hinge' (elementwise, on probabilities
for BCE, as Keras), 'categorical_crossentropy' / 'sparse_categorical_crossentropy'
(Keras: on PROBABILITIES, e.g. after a Softmax layer; one-hot or integer targets),
'cross_entropy' (PyTorch: on LOGITS; integer or one-hot targets). A target of shape (N,)
against a prediction of shape (N, 1) is reshaped to (N, 1), as Keras does.

Resuming exactly (50 + 50 epochs = 100 epochs, bit for bit) needs the model, the optimizer
and the random generator that shuffles: ``ModelCheckpoint`` saves all three and
``load_checkpoint`` restores them.
"""
from __future__ import annotations

import functools
import itertools
import math
import warnings
from numbers import Integral

import numpy as np

import engine
from engine import Tensor

from .optim.clip import clip_grad_norm_
from .serialization import load_checkpoint  # all-or-nothing; public as nn.load_checkpoint

__all__ = ["History", "fit", "evaluate", "predict", "Callback", "EarlyStopping",
           "ModelCheckpoint", "LearningRateScheduler", "TerminateOnNaN", "load_checkpoint"]

_EPS = 1e-7  # Keras's epsilon: probabilities are clipped to [eps, 1 − eps] before log


# ------------------------------------------------------------------------ losses and metrics
def _align(pred, target, loss_fn=None):
    """Keras reshapes a (N,) target to a (N, 1) prediction; so do we, for every loss but a
    Keras ``Loss`` subclass's own ``call`` (``loss_fn.align`` False): Keras gives that
    the target as it is (and ``nn.keras.losses.Loss`` refuses a rank that differs)."""
    if not getattr(loss_fn, "align", True):
        return target
    if (isinstance(pred, Tensor) and pred.ndim >= 1 and pred.shape[-1] == 1
            and target.ndim == pred.ndim - 1 and target.shape == pred.shape[:-1]):
        return target.reshape(pred.shape)
    return target


def _categorical_crossentropy(prob, target, sparse=None, reduction="mean"):
    """Keras's categorical cross-entropy on probabilities (N, C): rows are renormalised,
    clipped to [1e-7, 1 − 1e-7], then ``−Σ_c y_c ln p_c`` (one-hot y) or ``−ln p_label``
    per sample, averaged (``reduction='none'``: the (N,) values).
    ``sparse=False`` (Keras's 'categorical_crossentropy') takes one-hot or probability rows
    only, ``sparse=True`` ('sparse_categorical_crossentropy') integer labels only, as Keras
    (the other kind is refused there); None takes either."""
    from . import functional as F
    if prob.ndim != 2:
        raise ValueError(f"categorical_crossentropy: predictions must be (N, C), got "
                         f"{prob.shape}")
    if (prob.data < 0).any() or (prob.data > 1).any():
        raise ValueError("categorical_crossentropy: predictions must be probabilities (in "
                         "[0, 1], e.g. the output of a Softmax layer); for logits use "
                         "loss='cross_entropy'")
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if sparse is not None:
        rows = t.ndim == prob.ndim and t.shape[-1] == prob.shape[-1] and prob.shape[-1] > 1
        if sparse and (rows or t.dtype.kind == "f" and np.any(t != np.round(t))):
            raise ValueError(f"sparse_categorical_crossentropy: targets must be integer labels "
                             f"(N,) or (N, 1), got shape {t.shape} (one-hot rows are "
                             f"loss='categorical_crossentropy', as in Keras)")
        if not sparse and not rows:
            raise ValueError(f"categorical_crossentropy: targets must be one-hot (or "
                             f"probability) rows of the predictions' shape {prob.shape}, got "
                             f"{t.shape} (integer labels are "
                             f"loss='sparse_categorical_crossentropy', as in Keras)")
    logp = (prob / prob.sum(axis=1, keepdims=True)).clip(_EPS, 1 - _EPS).log()
    if t.ndim == 2 and t.shape[1] == 1 and prob.shape[1] != 1:
        t = t.reshape(-1)  # Keras's sparse labels may come as (N, 1)
    if t.ndim == 2:
        if t.shape != prob.shape:
            raise ValueError(f"categorical_crossentropy: prediction shape {prob.shape} and "
                             f"target shape {t.shape} differ")
        y = Tensor(t, dtype=logp.dtype)
        per_sample = -(y * logp).sum(axis=1)
        return per_sample if reduction == "none" else per_sample.mean()
    return F.nll_loss(logp, t, reduction=reduction)


def _binary_crossentropy(prob, target, reduction="mean"):
    """Keras's binary cross-entropy on probabilities: p clipped to [eps, 1 − eps] (eps =
    1e-7), then −mean(y·ln p + (1 − y)·ln(1 − p)) (``reduction='none'``: each term).
    (``F.binary_cross_entropy`` is PyTorch's, which clamps each log at −100 instead: the two
    differ within 1e-7 of 0 or 1.)"""
    from . import functional as F
    if (prob.data < 0).any() or (prob.data > 1).any():
        raise ValueError("binary_crossentropy: predictions must be probabilities (in [0, 1], "
                         "e.g. the output of a Sigmoid layer); for logits use "
                         "loss='binary_crossentropy_with_logits'")
    y = F._target(target, prob, "binary_crossentropy")
    p = prob.clip(_EPS, 1 - _EPS)
    terms = -(y * p.log() + (1 - y) * (1 - p).log())
    return terms if reduction == "none" else terms.mean()


def _cross_entropy(logits, target, reduction="mean"):
    """PyTorch's cross_entropy on logits; warns when the inputs look like probabilities."""
    from . import functional as F
    d = logits.data
    if d.ndim == 2 and d.shape[1] > 1 and (d >= 0).all() and (d <= 1).all() \
            and np.allclose(d.sum(axis=1), 1, atol=1e-4):
        warnings.warn("loss='cross_entropy' takes logits, but the model's outputs look like "
                      "probabilities (rows in [0, 1] summing to 1): drop the final Softmax, "
                      "or use loss='categorical_crossentropy'", stacklevel=7)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.ndim == 2 and t.shape[1] == 1 and d.ndim == 2 and d.shape[1] != 1:
        target = t.reshape(-1)
    return F.cross_entropy(logits, target, reduction=reduction)


_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight")


def _per_sample(values, pred):
    """Keras's per-sample losses from a loss's terms: terms of the prediction's shape
    (N, ..., d) are averaged over the last axis (Keras's ``mean(..., axis=-1)``); per-sample
    values (N,) pass."""
    if values.ndim >= 2 and tuple(values.shape) == tuple(pred.shape):
        return values.mean(axis=-1)
    return values


def _reduce_weighted(values, sample_weight, reduction, who="loss"):
    """Keras's ``reduce_weighted_values``: the per-sample losses times their sample
    weights, then summed ('sum'), or that sum over the number of values
    ('sum_over_batch_size', Keras's default: NOT over the sum of the weights) or over the
    sum of the weights ('mean_with_sample_weight'). Weights (N,) go with losses (N,); a
    trailing axis of 1 on either side is dropped first, as Keras's
    ``squeeze_or_expand_to_same_rank``; other shapes are refused."""
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor)
                       else sample_weight, dtype=values.dtype)
        if values.ndim == w.ndim + 1 and values.shape[-1] == 1:
            w = w[..., None]
        elif w.ndim == values.ndim + 1 and w.shape[-1] == 1:
            w = w[..., 0]
        if w.shape != tuple(values.shape):
            raise ValueError(f"{who}: sample weights of shape {w.shape} for per-sample losses "
                             f"of shape {tuple(values.shape)}: give one weight per loss value "
                             f"(shape {tuple(values.shape)})")
        values = values * Tensor(w, dtype=values.dtype)
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and w is not None:
        denominator = float(w.sum())
        return total / denominator if denominator else total * 0.0  # Keras's divide_no_nan
    return total / values.numel()


class _Loss:
    """A loss ``fit`` and ``evaluate`` know the formula of (a name, or an
    ``nn.keras.losses`` object): ``loss(pred, target, sample_weight=None)`` → the batch's
    loss (Keras's reduction, default the mean; weighted per sample when weights are given),
    and ``loss.per_sample(pred, target)`` → Keras's per-sample losses. ``fn(pred, target,
    reduction)`` is the formula ('mean' or 'none': the terms)."""

    def __init__(self, name, fn, reduction="sum_over_batch_size", align=True):
        self.__name__, self.fn, self.reduction = name, fn, reduction
        self.align = align  # False: the targets reach fn as given (see _align)

    def per_sample(self, pred, target):
        return _per_sample(self.fn(pred, target, reduction="none"), pred)

    def __call__(self, pred, target, sample_weight=None):
        if sample_weight is None and self.reduction in _MEAN_REDUCTIONS:
            return self.fn(pred, target, reduction="mean")  # one formula, the plain mean
        return _reduce_weighted(self.per_sample(pred, target), sample_weight,
                                self.reduction, self.__name__)

    def __repr__(self):
        return f"<loss {self.__name__}>"


def _batch_loss(loss_fn, pred, target, sample_weight=None):
    """The loss of one batch as fit/evaluate take it: ``loss_fn(pred, target)``, or with
    sample weights Keras's weighted reduction of its per-sample values: known for the named
    and Keras losses; an ``nn.functional`` loss is asked for its terms (``reduction='none'``);
    another function must return one value per sample."""
    if isinstance(loss_fn, _Loss):
        return loss_fn(pred, target, sample_weight)
    if sample_weight is None:
        return loss_fn(pred, target)
    from . import functional as F
    name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
    if getattr(F, name, None) is loss_fn:
        values = _per_sample(loss_fn(pred, target, reduction="none"), pred)
    else:
        values = loss_fn(pred, target)
    if not isinstance(values, Tensor) or values.ndim == 0 or values.shape[0] != len(pred):
        raise ValueError(f"loss {name!r} returned {getattr(values, 'shape', type(values))}: "
                         "with sample weights (or class weights) a loss function must return "
                         f"one value per sample, shape ({len(pred)},) (Keras then averages "
                         "the weighted values), not their mean")
    return _reduce_weighted(values, sample_weight, "sum_over_batch_size", name)


def _loss_table():
    from . import functional as F
    table = {
        "mse": F.mse_loss, "mean_squared_error": F.mse_loss,
        "mae": F.mae_loss, "mean_absolute_error": F.mae_loss,
        "binary_crossentropy": _binary_crossentropy,
        "binary_crossentropy_with_logits": F.binary_cross_entropy_with_logits,
        "categorical_crossentropy": functools.partial(_categorical_crossentropy,
                                                      sparse=False),
        "sparse_categorical_crossentropy": functools.partial(_categorical_crossentropy,
                                                             sparse=True),
        "cross_entropy": _cross_entropy,
    }
    from .keras import losses  # Keras's other names: 'huber', 'kld', 'mape', 'hinge', ...
    return {**{name: _Loss(name, fn) for name, fn in table.items()},
            **{name: cls(name=name)._fit_loss() for name, cls in losses.NAMES.items()}}


def _binary_matches(pred, target, threshold=0.5):
    """Keras's binary accuracy, sample by sample: each output thresholded
    (``y_pred > threshold``) and compared with its target as given, as (N, outputs) 0/1
    values; predictions (N, ...) and targets of the same size ((N,) against (N, 1) too)."""
    from . import functional as F
    p, t = F._values(pred, target)
    guess, truth = (p.reshape(-1) > threshold).astype(t.dtype), t.reshape(-1)
    if guess.shape != truth.shape:
        raise ValueError(f"binary_accuracy: {p.shape} predictions but {t.shape} targets")
    return (guess == truth).astype(np.float64).reshape(len(p), -1)


def _metric_table():
    from . import functional as F

    def mae(pred, target):
        return F.mae_loss(pred, target).item()

    def mse(pred, target):
        return F.mse_loss(pred, target).item()

    def binary_accuracy(pred, target):
        """Keras's: every output thresholded at 0.5 and compared with its target as given
        (``y_true == (y_pred > 0.5)``: a soft target such as 0.9 never counts, as in Keras;
        multi-label outputs count each label), the mean over all of them."""
        return float(np.mean(_binary_matches(pred, target)))

    acc = F.accuracy
    return {"accuracy": acc, "acc": acc, "binary_accuracy": binary_accuracy,
            "categorical_accuracy": acc, "sparse_categorical_accuracy": acc, "mae": mae,
            "mean_absolute_error": mae, "mse": mse, "mean_squared_error": mse}


def _resolve_loss(loss):
    as_fit_loss = getattr(loss, "_fit_loss", None)  # an nn.keras.losses object or function
    if callable(as_fit_loss):
        return as_fit_loss()
    if callable(loss):
        return loss
    table = _loss_table()
    if isinstance(loss, str) and loss in table:
        return table[loss]
    raise ValueError(f"unknown loss {loss!r}; pass a function (e.g. nn.F.mse_loss) or one of: "
                     f"{', '.join(sorted(table))}")


def _keras_metric_class(name):
    """The ``nn.keras.metrics`` class a metric string names ('AUC', 'auc',
    'BinaryAccuracy'), or None."""
    from .keras import metrics
    return metrics.CLASSES.get(name) or metrics.SNAKE_NAMES.get(name)


def _resolve_metrics(metrics):
    """(name, function) per metric. 'accuracy' is Keras 3's choice by shape, whatever the
    loss (``F.accuracy``): one output column → binary accuracy (thresholded at 0.5 against
    the targets as given); several → the argmax, against labels (N,)/(N, 1) or one-hot rows
    (a multi-label output under binary_crossentropy too, as Keras 3 scores it)."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    table, out = _metric_table(), []
    for m in metrics:
        as_fit_metric = getattr(m, "_fit_metric", None)  # an nn.keras.metrics object
        if callable(as_fit_metric):
            out.append(as_fit_metric())
        elif callable(m):
            out.append((getattr(m, "__name__", type(m).__name__), m))
        elif isinstance(m, str) and m in table:
            out.append((m, table[m]))
        elif isinstance(m, str) and (cls := _keras_metric_class(m)) is not None:
            out.append((m, cls(name=m)._fit_metric()[1]))  # 'auc', 'AUC'
        else:
            raise ValueError(f"unknown metric {m!r}; pass a function or one of: "
                             f"{', '.join(sorted(table))}")
    names = [n for n, _ in out]
    if len(set(names)) != len(names) or "loss" in names:
        raise ValueError(f"metric names must be distinct and not 'loss', got {names}")
    return out


def _scalar(value, what):
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{what} returned a tensor of shape {value.shape}; expected a "
                             "scalar (use reduction='mean')")
        return float(value.item())
    return float(value)


# ------------------------------------------------------------------------------------ data
def _model_dtype(model):
    if getattr(model, "dtype_", None) is not None:  # set by model.to(dtype) / .double()
        return model.dtype_
    params = getattr(model, "parameters", None)
    for p in (params() if callable(params) else ()):
        return p.dtype
    return np.dtype(np.float32)


def _as_array(a, who, name):
    arr = a.data if isinstance(a, Tensor) else np.asarray(a)
    if arr.ndim == 0:
        raise ValueError(f"{who}: {name} must have a first (sample) axis, got a scalar")
    return arr


def _prepare_x(x, who, dtype):
    """Inputs in the model's dtype (float32 unless the model is float64)."""
    x = _as_array(x, who, "x")
    return x if x.dtype == dtype else x.astype(dtype)


class _Inputs:
    """The input arrays of a model with several Inputs (``model.fit([x1, x2], y)``), taken
    together: ``len`` is the number of samples and indexing takes the same samples of every
    array, so batches, shuffling and ``validation_split`` treat all inputs alike (Keras's)."""

    def __init__(self, arrays):
        self.arrays = list(arrays)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, idx):
        return _Inputs(a[idx] for a in self.arrays)


def _model_x(who, inputs, x, dtype, name="x"):
    """``x`` as the model takes it, in the model's dtype (``_prepare_x``). ``inputs``: the
    model's ``Input`` layers (a Functional model's; else empty). With several Inputs, ``x``
    is a list or tuple of arrays, one per Input in order, or a dict keyed by the Inputs'
    names (extra keys ignored, as Keras), taken as an ``_Inputs``; a model with one named
    Input takes such a dict too."""
    if isinstance(x, _Inputs):
        return x
    names = [getattr(t, "name", None) for t in inputs]
    if isinstance(x, dict):
        if not inputs or None in names:
            raise ValueError(f"{who}: {name} is a dict (keys {sorted(map(str, x))}); a dict "
                             "of inputs needs a Functional model whose Inputs are named: "
                             "Input(shape, name='...') (or pass a list, one array per Input "
                             "in order)")
        missing = [n for n in names if n not in x]
        if missing:
            raise ValueError(f"{who}: {name} has keys {sorted(map(str, x))} but the model's "
                             f"Inputs are named {names}: {missing} missing")
        x = [x[n] for n in names]
        if len(x) == 1:
            x = x[0]
    if len(inputs) <= 1:
        return _prepare_x(x, who, dtype)
    if not isinstance(x, (list, tuple)) or len(x) != len(inputs):
        got = (f"a {type(x).__name__} of {len(x)}" if isinstance(x, (list, tuple))
               else f"one {type(x).__name__}")
        raise ValueError(f"{who}: the model has {len(inputs)} inputs; pass {name} as a list of "
                         f"{len(inputs)} arrays, one per Input in order (or a dict keyed by "
                         f"the Inputs' names), got {got}")
    arrays = [_prepare_x(a, who, dtype) for a in x]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"{who}: the arrays of {name} disagree in length (samples): "
                         f"{[len(a) for a in arrays]}")
    return _Inputs(arrays)


def _tensors(xb):
    """A batch of inputs as Tensors in their dtype (one per Input for an ``_Inputs``)."""
    if isinstance(xb, _Inputs):
        return _Inputs(Tensor(a, dtype=a.dtype) for a in xb.arrays)
    return Tensor(xb, dtype=xb.dtype)


def _call(model, xb):
    """The model on a batch (``_tensors``): ``model(x)``, or ``model(x1, x2, ...)`` with
    several inputs."""
    return model(*xb.arrays) if isinstance(xb, _Inputs) else model(xb)


def _forward(model, xb, who):
    """``_call``'s output, which must be one Tensor (fit and evaluate: one loss)."""
    return _output(_call(model, xb), who)


def _prepare_y(y, who, dtype):
    """Integer labels stay int64 (cross-entropy takes them); everything else the model's dtype."""
    y = _as_array(y, who, "y")
    if y.dtype.kind in "iu":
        return y.astype(np.int64, copy=False)
    return y if y.dtype == dtype else y.astype(dtype)


def _check_lengths(who, x, y, names=("x", "y")):
    if len(x) != len(y):
        raise ValueError(f"{who}: {names[0]} and {names[1]} disagree in length: "
                         f"len({names[0]})={len(x)}, len({names[1]})={len(y)}")
    if len(x) == 0:
        raise ValueError(f"{who}: no samples (len({names[0]}) = 0)")


def _sample_weights(who, sample_weight, n, dtype):
    """``sample_weight=`` as an array of one finite weight >= 0 per sample: (N,) (or (N, 1),
    or one per output value for per-step losses)."""
    w = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight)
    if w.dtype.kind not in "iuf" or w.ndim == 0 or len(w) != n:
        raise ValueError(f"{who}: sample_weight must be an array of one weight per sample, "
                         f"shape ({n},); got {getattr(w, 'shape', w)!r}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{who}: sample weights must be finite and >= 0")
    return w.astype(dtype)


def _class_weights(who, y, class_weight):
    """Keras's ``class_weight_to_sample_weights``: each sample's weight is that of its class
    (1 for a class not in the dict); the class of a one-hot row is its argmax, of a 0/1
    target (N,) or (N, 1) its rounded value."""
    y = np.asarray(y)
    if y.ndim > 1:
        y = y.argmax(axis=-1) if y.shape[-1] != 1 else y[..., 0]
    classes = np.round(y).astype(np.int64).reshape(len(y), -1)
    if classes.shape[1] != 1:
        raise ValueError(f"{who}: class_weight needs one class per sample; targets of shape "
                         f"{np.shape(y)} hold several")
    return np.array([class_weight.get(int(c), 1.0) for c in classes[:, 0]], np.float64)


def _check_class_weight(who, class_weight, sample_weight):
    if class_weight is None:
        return None
    if sample_weight is not None:
        raise ValueError(f"{who}: give class_weight or sample_weight, not both (as Keras)")
    if not isinstance(class_weight, dict) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool)
            and isinstance(v, (int, float, np.number)) and np.isfinite(v) and v >= 0
            for k, v in class_weight.items()):
        raise ValueError(f"{who}: class_weight must be a dict {{class index: weight >= 0}}, "
                         f"got {class_weight!r}")
    return {int(k): float(v) for k, v in class_weight.items()}


def _check_int(who, name, value, low):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{who}: {name} must be an int >= {low}, got {value!r}")
    return int(value)


def _verbosity(who, verbose):
    """Keras's verbose: 'auto' is 1 (a progress bar), 0 silent, 2 one line per epoch."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"{who}: verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def _batches(n, batch_size, order=None):
    for start in range(0, n, batch_size):
        yield (slice(start, start + batch_size) if order is None
               else order[start:start + batch_size])


def _is_loader(x):
    from .data import DataLoader
    return isinstance(x, DataLoader)


def _is_array_like(x):
    return isinstance(x, (np.ndarray, Tensor, list, tuple)) or hasattr(x, "__array__")


def _is_batch_list(x, n_inputs=1):
    """A list of ``(x, y)`` batches (arrays or Tensors), not nested lists of numbers, nor
    Keras's ``[x, y]`` / ``[x, y, sample_weight]`` written as a list (Keras reads a list as
    that tuple): every item is a pair (or triple) whose x is an array for a one-input model,
    a list/tuple/dict of arrays (one per Input) for a model with ``n_inputs`` > 1. So
    ``[[x1, x2], y]`` for a two-input model is the pair (x, y), not two batches."""
    def batch(item):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            return False
        xb, *rest = item
        if n_inputs > 1:
            ok = isinstance(xb, dict) or (isinstance(xb, (tuple, list))
                                          and len(xb) == n_inputs)
        else:
            ok = isinstance(xb, (np.ndarray, Tensor))
        return ok and all(isinstance(a, (np.ndarray, Tensor)) for a in rest)
    return isinstance(x, list) and len(x) > 0 and all(batch(item) for item in x)


class _Source:
    """Where the batches of one fit/evaluate/predict come from, converted to the model's dtype.

    ``kind`` is 'arrays' (x, y numpy arrays: batched, shuffled, split here), 'dataset' (a
    map-style Dataset, batched by a DataLoader with batch_size and shuffle, or an
    ``IterableDataset``: its stream of samples batched in its order, never shuffled, as
    PyTorch's DataLoader does), 'loader' (a
    DataLoader or any re-iterable of batches: iterated afresh each epoch) or 'iterator' (a
    one-shot generator: each epoch takes ``steps`` batches, or runs to its end).
    """

    def __init__(self, who, x, y, batch_size, dtype, need_y=True, names=("x", "y"),
                 sample_weight=None, inputs=()):
        from .data import DataLoader, IterableDataset, _is_dataset
        self.who, self.dtype, self.need_y, self.inputs = who, dtype, need_y, list(inputs)
        self.x = self.y = self.loader = self.iterator = self.sw = None
        self._carry = None  # steps_per_epoch on arrays: [the pass's batches, batches taken]
        given_batch_size = batch_size is not None
        batch_size = _check_int(who, "batch_size", 32 if batch_size is None else batch_size, 1)
        self.batch_size = batch_size
        several = isinstance(x, (_Inputs, dict)) or (
            len(self.inputs) > 1 and isinstance(x, (list, tuple))
            and not _is_batch_list(x, len(self.inputs)))
        # (a list / dict of arrays, one per Input, is arrays)
        self.iterable = isinstance(x, IterableDataset)  # samples, not batches: batched here
        if not several and not _is_dataset(x) and not self.iterable and (
                _is_loader(x) or _is_batch_list(x, len(self.inputs)) or (
                hasattr(x, "__iter__") and not _is_array_like(x))):
            if y is not None:
                raise ValueError(f"{who}: y must be None when x is a {type(x).__name__} "
                                 "(its batches carry the targets)")
            if given_batch_size:
                raise ValueError(f"{who}: do not give batch_size when x is a "
                                 f"{type(x).__name__}: its batches are already made (as Keras)")
            if hasattr(x, "__next__"):  # a generator: one pass only
                self.kind, self.iterator = "iterator", x
            else:
                self.kind, self.loader = "loader", x
        elif (_is_dataset(x) or self.iterable) and not several:
            if y is not None:
                raise ValueError(f"{who}: y must be None when x is a dataset "
                                 f"({type(x).__name__}); its items carry the targets")
            self.kind = "dataset"
            self.dataset = x
            self.loader = DataLoader(x, batch_size=batch_size)
        else:
            self.kind = "arrays"
            self.x = _model_x(who, self.inputs, x, dtype, names[0])
            if y is None:
                if need_y:
                    raise ValueError(f"{who}: y is missing: pass the targets, or x as a "
                                     "DataLoader, a Dataset or a generator of (x, y) batches")
            else:
                self.y = _prepare_y(y, who, dtype)
                _check_lengths(who, self.x, self.y, names)
            if len(self.x) == 0:
                raise ValueError(f"{who}: no samples (len({names[0]}) = 0)")
        if sample_weight is not None:
            if self.kind != "arrays":
                raise ValueError(f"{who}: sample_weight= needs x and y as arrays (as Keras); "
                                 f"x is a {type(x).__name__}")
            self.sw = _sample_weights(who, sample_weight, len(self.x), dtype)

    # -- shapes and sizes ------------------------------------------------------------------
    def steps(self, steps=None):
        """Batches per pass when known (the progress bar's total), else None."""
        if steps is not None:
            return steps
        if self.kind == "arrays":
            return math.ceil(len(self.x) / self.batch_size)
        try:
            return len(self.loader) if self.loader is not None else None
        except TypeError:
            return None

    def first_x(self):
        """One input batch (or sample) to build lazy layers with, without losing data or
        drawing from the random generator (a shuffling loader is not iterated)."""
        from .data import DataLoader, default_collate
        if self.kind == "arrays":
            return self.x[:1]
        if self.kind == "iterator":
            first = next(self.iterator)
            self.iterator = itertools.chain([first], self.iterator)
            return self._split(first)[0]
        loader = self.loader
        if isinstance(loader, DataLoader) and not self.iterable:
            if loader.x is not None:
                return _prepare_x(loader.x[:1], self.who, self.dtype)
            batch = (loader.collate_fn or default_collate)([loader.dataset[0]])
            return self._split(batch)[0]
        return self._split(next(iter(loader)))[0]

    # -- batches ---------------------------------------------------------------------------
    def _split(self, batch):
        """(x, y) of one batch from a loader or generator, as arrays in the model's dtype."""
        who = self.who
        if isinstance(batch, (tuple, list)):
            if len(batch) == 2:
                xb, yb = batch
            elif len(batch) == 1 and not self.need_y:
                xb, yb = batch[0], None
            elif len(batch) == 3:
                raise ValueError(f"{who}: got (x, y, sample_weight) batches; sample weights "
                                 "are not supported: yield (x, y) batches")
            else:
                raise ValueError(f"{who}: a batch must be a pair (x, y); got a "
                                 f"{type(batch).__name__} of {len(batch)} items")
        elif isinstance(batch, dict):
            raise ValueError(f"{who}: got a dict batch (keys {sorted(batch)}); yield (x, y) "
                             "pairs")
        elif not self.need_y:
            xb, yb = batch, None
        else:
            raise ValueError(f"{who}: a batch must be a pair (x, y), got a "
                             f"{type(batch).__name__}; a loader over inputs only can go to "
                             "predict, not fit or evaluate")
        xb = _model_x(who, self.inputs, xb, self.dtype)
        if yb is not None:
            yb = _prepare_y(yb, who, self.dtype)
            _check_lengths(who, xb, yb)
        return xb, yb

    def epoch(self, shuffle=False, steps=None):
        """Yield (x_batch, y_batch, sample_weight_batch) numpy triples for one pass (y_batch
        None without targets, sample_weight_batch None without sample weights).

        Raises ``_OutOfData`` when a one-shot generator has nothing left at the start.
        """
        if self.kind == "arrays" and steps is not None:
            yield from self._carried_epoch(shuffle, steps)
            return
        if self.kind == "arrays":
            n = len(self.x)
            order = engine.get_rng().permutation(n) if shuffle else None
            for idx in _batches(n, self.batch_size, order):
                yield self._take(idx)
            return
        if self.kind == "dataset" and shuffle and not self.iterable:
            from .data import DataLoader
            self.loader = DataLoader(self.dataset, batch_size=self.batch_size, shuffle=True)
        elif self.kind == "dataset":
            from .data import DataLoader
            self.loader = DataLoader(self.dataset, batch_size=self.batch_size)
        it = self.iterator if self.kind == "iterator" else iter(self.loader)
        for b in itertools.count():
            if steps is not None and b >= steps:
                return
            try:
                batch = next(it)
            except StopIteration:
                if b == 0 and self.kind == "iterator":
                    raise _OutOfData() from None
                return
            yield (*self._split(batch), None)

    def _take(self, idx):
        """The (x, y, sample_weight) of the samples ``idx`` of arrays."""
        return (self.x[idx], None if self.y is None else self.y[idx],
                None if self.sw is None else self.sw[idx])

    def split_off(self, at):
        """The samples from ``at`` on, as a new source (validation_split's), kept off this
        one: x, y and sample weights alike."""
        tail = _Source(self.who, self.x[at:], self.y[at:], self.batch_size, self.dtype,
                       sample_weight=None if self.sw is None else self.sw[at:],
                       inputs=self.inputs)
        self.x, self.y = self.x[:at], self.y[:at]
        self.sw = None if self.sw is None else self.sw[:at]
        return tail

    def _carried_epoch(self, shuffle, steps):
        """``steps`` batches of arrays, Keras's ``steps_per_epoch`` rule: a pass over the
        data is spread over epochs (the next epoch carries on where this one stopped, so
        every batch gets its turn); a new, re-shuffled pass starts once one is used up, and
        an epoch that reaches the end of a pass stops there, with Keras's warning. (Each
        epoch restarted at the first batch: the rest of the data was never seen.)"""
        n = len(self.x)
        total = math.ceil(n / self.batch_size)
        if self._carry is None:
            order = engine.get_rng().permutation(n) if shuffle else None
            self._carry = [_batches(n, self.batch_size, order), 0]
        batches = self._carry[0]
        for _ in range(steps):
            if self._carry[1] >= total:
                warnings.warn(f"{self.who}: steps_per_epoch={steps} but a pass over the data "
                              f"has {total} batches: this epoch stops at the end of the pass "
                              f"(Keras's rule; the next epoch starts a new pass)", stacklevel=4)
                break
            idx = next(batches)
            self._carry[1] += 1
            yield self._take(idx)
        if self._carry[1] >= total:
            self._carry = None


class _OutOfData(Exception):
    pass


def _output(out, who):
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}: the model returned a {type(out).__name__}; it must return one "
                        "Tensor (e.g. take outputs[:, -1] of a recurrent layer in forward)")
    return out


def _set_training(model, mode):
    train = getattr(model, "train", None)
    if callable(train):
        train(mode)


def _bar(total, desc, verbose, unit="batch"):
    from .callbacks import progress_bar  # stdout as Keras; tqdm's widget in Jupyter
    return progress_bar(total, desc, verbose, unit=unit)


def _run_eval(model, source, loss_fn, metric_fns, steps=None, verbose=0, desc="evaluate",
              callbacks=()):
    """Sample-weighted means of the loss and metrics over a source, eval mode, no_grad.
    ``callbacks`` get Keras's test hooks: ``on_test_begin``, ``on_test_batch_begin/end``
    (the logs so far) and ``on_test_end`` (the final logs)."""
    was_training = getattr(model, "training", True)
    _set_training(model, False)
    running = _Running(metric_fns)
    bar = _bar(source.steps(steps), desc, verbose)
    for cb in callbacks:
        cb.on_test_begin({})
    try:
        with engine.no_grad():
            for b, (xb, yb, swb) in enumerate(source.epoch(steps=steps)):
                xb, yb = _tensors(xb), Tensor(yb, dtype=yb.dtype)
                for cb in callbacks:
                    cb.on_test_batch_begin(b, {})
                pred, _, batch_loss = _forward_loss(model, loss_fn, xb, yb, swb, source.who)
                value = _scalar(batch_loss, "loss")
                running.add(value, pred, yb, len(xb))
                bar.update(1)
                for cb in callbacks:
                    cb.on_test_batch_end(b, running.logs())
    except _OutOfData:
        raise ValueError(f"{source.who}: the generator is exhausted (it was used up "
                         "before); pass a fresh one, or a DataLoader") from None
    finally:
        bar.close()
        _set_training(model, was_training)
    if running.seen == 0:
        raise ValueError(f"{source.who}: no batches to evaluate")
    logs = running.logs()
    for cb in callbacks:
        cb.on_test_end(dict(logs))
    return logs


class _Running:
    """The loss and metrics of an epoch so far, as Keras's trackers keep them: the loss and
    each metric function's values are averaged over the samples (each batch counts its
    size: Keras's mean of the per-batch losses weighted by batch size); a metric that keeps
    its own state (``nn.keras.metrics.AUC``) is reset, updated with every batch and read."""

    def __init__(self, metric_fns):
        self.metric_fns, self.seen = metric_fns, 0
        self.stateful = {name for name, fn in metric_fns if _stateful(fn)}
        self.totals = dict.fromkeys(["loss"] + [n for n, _ in metric_fns
                                                if n not in self.stateful], 0.0)
        self.results = {}  # each stateful metric's value after the last batch
        for name, fn in metric_fns:
            if name in self.stateful:
                fn.fit_reset()

    def add(self, loss_value, pred, target, k):
        """Count one batch of k samples with targets as given; returns its logs (the batch's
        loss and metric values; a stateful metric's value so far). The metrics get the
        targets aligned (``_align``), but a Keras user's metric function
        (``raw_targets``) gets them as given, as Keras gives them."""
        self.seen += k
        self.totals["loss"] += loss_value * k
        logs = {"loss": loss_value}
        aligned = _align(pred, target)
        with engine.no_grad():  # metrics on the same (pre-update) predictions
            for name, fn in self.metric_fns:
                if name in self.stateful:
                    fn.fit_update(pred, aligned)
                    logs[name] = self.results[name] = fn.fit_result()
                else:
                    t = target if getattr(fn, "raw_targets", False) else aligned
                    logs[name] = _scalar(fn(pred, t), f"metric {name!r}")
                    self.totals[name] += logs[name] * k
        return logs

    def logs(self):
        """The means so far, in the order loss, metrics (fit's progress bar reads them after
        every batch: a stateful metric's value is the one ``add`` computed)."""
        return {"loss": self.totals["loss"] / self.seen,
                **{name: self.results[name] if name in self.stateful
                   else self.totals[name] / self.seen for name, _ in self.metric_fns}}


def _stateful(fn):
    """A metric with its own state over the epoch (``fit_reset``, ``fit_update(pred,
    target)``, ``fit_result()``: ``nn.keras.metrics.AUC``'s)."""
    return callable(getattr(fn, "fit_update", None))


# --------------------------------------------------------------------------- the optimizer
def resolve_optimizer(optimizer, model, who="fit"):
    """An optimizer for ``model``: ``optimizer`` itself (an ``nn.optim`` one: PyTorch's
    rules), or one built on ``model.parameters()`` from a name ('sgd', 'adam', 'rmsprop',
    'adamw': Keras's default hyper-parameters) or a Keras-style spec
    (``nn.keras.optimizers.Adam(0.02)``): those follow Keras 3's update rules
    (``nn.keras.optimizers.KerasSGD``, ``KerasAdam``, ...; subclasses of nn.optim's)."""
    if hasattr(optimizer, "step") and hasattr(optimizer, "param_groups"):
        return optimizer
    from .keras import optimizers as keras_optimizers
    if isinstance(optimizer, str) or isinstance(optimizer, keras_optimizers.KerasOptimizer):
        spec = keras_optimizers.get(optimizer)
        params = list(model.parameters())
        if not params:
            raise ValueError(f"{who}: the model has no parameters yet (lazy layers are built "
                             "by the first batch); nothing to optimize")
        return spec.build(params)
    raise TypeError(f"{who}: optimizer must be an nn.optim optimizer, a name ('sgd', 'adam', "
                    f"'rmsprop', 'adamw') or an nn.keras.optimizers spec, got "
                    f"{type(optimizer).__name__}")


def _check_optimizer_covers_model(model, optimizer, who):
    """The optimizer must update exactly the model's trainable parameters: one built for
    another model (or before layers were replaced) would train nothing, without a word."""
    named = getattr(model, "named_parameters", None)
    if not callable(named):
        return
    own = list(named())
    own_ids = {id(p) for _, p in own}
    opt_params = [p for g in optimizer.param_groups for p in g["params"]]
    foreign = [p for p in opt_params if id(p) not in own_ids]
    if foreign:
        shapes = ", ".join(str(tuple(p.shape)) for p in foreign[:4])
        raise ValueError(f"{who}: the optimizer holds {len(foreign)} parameter(s) that are not "
                         f"the model's (shapes {shapes}{', ...' if len(foreign) > 4 else ''}): "
                         "was it built for another model, or before layers were replaced? "
                         "Build it on model.parameters()")
    in_opt = {id(p) for p in opt_params}
    missing = [name for name, p in own if p.requires_grad and id(p) not in in_opt]
    if missing:
        listed = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ValueError(f"{who}: the model's trainable parameters {listed} are not in the "
                         "optimizer: they would get gradients but never change. Build the "
                         "optimizer on model.parameters() (after lazy layers such as "
                         "nn.Dense without input_shape are built by a first call), or "
                         "freeze them (module.freeze(), p.requires_grad = False)")


def _needs_build(model):
    modules = getattr(model, "modules", None)
    return callable(modules) and any(getattr(m, "built", True) is False for m in modules())


def _model_inputs(who, model, several_outputs=False):
    """The model's ``Input`` layers (a Functional model's, in order; else none): ``x`` is
    then one array per Input (``_model_x``). A model with several outputs is refused by name
    unless ``several_outputs`` (predict): one loss per output is not supported."""
    outputs = getattr(model, "_output_list", ())
    if len(outputs) > 1 and not several_outputs:
        raise NotImplementedError(
            f"{who}: the model has {len(outputs)} outputs; {who} takes a model with one output "
            f"(one loss) in stepgrad. Train one model per output, or concatenate the outputs "
            f"into one layer and give one loss for it (predict works with several outputs)")
    return list(getattr(model, "_input_list", ()))


def build_model(model, x_sample):
    """Build lazy layers (``nn.Dense`` without an input size, ``nn.SimpleRNN``...) with one
    forward pass on ``x_sample`` (an array of one or a few samples; a list of arrays for a
    model with several inputs), in eval mode under ``no_grad``. A no-op when every layer is
    built."""
    if not _needs_build(model):
        return
    was_training = getattr(model, "training", True)
    _set_training(model, False)
    try:
        with engine.no_grad():
            xs = (x_sample.arrays if isinstance(x_sample, _Inputs)  # one per input
                  else x_sample if isinstance(x_sample, list) else [x_sample])
            model(*[Tensor(x, dtype=x.dtype) for x in map(np.asarray, xs)])
    finally:
        _set_training(model, was_training)


# --------------------------------------------------------------------------------- History
class Callback:
    """Base class of fit's callbacks: override the hooks you need.

    ``fit`` sets ``model``, ``optimizer``, ``scheduler`` (or None) and ``params`` (epochs,
    steps, batch_size, ...) before ``on_train_begin``. ``logs`` at epoch end hold 'loss',
    the metrics, 'val_*' entries and 'lr' and 'learning_rate' (when a schedule runs). Set
    ``self.model.stop_training = True`` to stop after the current epoch (as in Keras).
    """

    model = None
    optimizer = None
    scheduler = None
    params: dict = {}
    changes_lr = False  # True: fit records the lr of each epoch in the logs ('lr')

    def set_model(self, model): self.model = model
    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    # Keras 3's batch hooks, with Keras's logs: the means over the epoch so far (on_batch_end
    # gets the batch's own values, which a learning-rate finder plots). fit called only
    # on_batch_*: a Keras callback's on_train_batch_end was silently never run.
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    # Keras's test hooks: fit's validation after each epoch (logs: the means so far)
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass


class History(Callback):
    """What ``fit`` returns: ``history`` maps 'loss', each metric, 'val_loss', 'val_<metric>'
    and 'lr' = 'learning_rate' (when the lr is scheduled) to one value per epoch; ``epoch``
    lists the epochs (0-based; ``[3, 4, 5]`` for ``fit(..., epochs=6, initial_epoch=3)``);
    ``params`` holds fit's settings (epochs, steps, verbose, ...) and ``model`` the model,
    as in Keras.

    >>> h = History(); h.on_epoch_end(0, {"loss": 2.0}); h.on_epoch_end(1, {"loss": 1.5})
    >>> h.history, h.epoch
    ({'loss': [2.0, 1.5]}, [0, 1])
    """

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History(epochs={len(self.epoch)}, last: {last or 'none'})"


# -------------------------------------------------------------------------------- training
def fit(model, x, y=None, *, loss, optimizer, epochs=1, batch_size=None, validation_data=None,
        validation_split=0.0, metrics=(), callbacks=(), scheduler=None, shuffle=True,
        verbose=1, initial_epoch=0, clipnorm=None, steps_per_epoch=None, sample_weight=None,
        class_weight=None) -> History:
    """Train ``model`` on ``x`` (N, ...) and ``y`` (N, ...) with mini-batches, Keras style.

    Each batch: ``optimizer.zero_grad()``, ``loss(model(x_b), y_b).backward()``,
    ``optimizer.step()`` (for an optimizer that needs a closure, such as ``LBFGS``,
    ``optimizer.step(closure)`` with a closure doing those three on the batch).

    - ``x``, ``y``: numpy arrays or Tensors (batched here: ``batch_size``, default 32, and
      shuffled every epoch when ``shuffle``); or ``x`` alone as a ``DataLoader`` or any
      re-iterable of ``(x, y)`` batches (iterated afresh each epoch; its own order),
      a map-style ``Dataset`` of ``(x, y)`` samples (batched with ``batch_size``), an
      ``IterableDataset`` of ``(x, y)`` samples (batched with ``batch_size`` in its
      stream's order: ``shuffle`` does not apply, as in PyTorch's DataLoader), or a
      Python generator of ``(x, y)`` batches (``steps_per_epoch`` batches per epoch, or to
      its end; when it runs dry training stops with a warning, as Keras).
      Batches become Tensors in the model's dtype; integer ``y`` stays int64 (labels).
    - ``loss``: a function ``loss(pred, target) -> scalar Tensor``, a name (see the
      module docstring) or an ``nn.keras.losses`` object; ``metrics``: functions
      ``(pred, target) -> float``, names ('accuracy', 'mae', 'mse', 'auc') or
      ``nn.keras.metrics`` objects, recorded under their names.
    - ``optimizer``: an ``nn.optim`` optimizer on the model's parameters, or a name
      ('sgd', 'adam', 'rmsprop', 'adamw', with Keras's defaults) or an
      ``nn.keras.optimizers`` spec, built here on ``model.parameters()``. Raises when the
      optimizer does not cover exactly the model's trainable parameters.
    - ``epochs`` (default 1) is the index of the epoch to stop at: ``epochs=6,
      initial_epoch=3`` trains epochs 3, 4, 5 (a resumed run).
    - ``validation_data=(x_val, y_val)`` (or a DataLoader / Dataset / list of batches), or
      ``validation_split`` in (0, 1): the last fraction of x/y (before shuffling) is held
      out, arrays only. ``validation_data`` wins if both.
    - ``scheduler``: an ``nn.optim`` scheduler; its ``on_epoch_begin(epoch)`` runs before
      each epoch (and ``on_epoch_end(epoch, logs)`` after it, for ``ReduceLROnPlateau``), and
      the lr used is recorded in ``history['lr']`` (also recorded when a callback that
      changes it is given, e.g. ``LearningRateScheduler``). Only param group 0's lr.
    - ``verbose``: 0 silent, 1 or 'auto' a progress bar per epoch
      (``nn.callbacks.progress_bar``: stdout, Jupyter's widget), 2 one line per epoch.
    - ``clipnorm``: clip the gradients of all the optimizer's parameters together to this
      global L2 norm before each step (``nn.optim.clip_grad_norm_``; Keras calls it
      ``global_clipnorm``).
    - ``sample_weight`` (N,) (arrays only) or ``class_weight={class: weight}`` (each
      sample weighted by its class's weight; 1 for classes not listed; the class of a
      one-hot row is its argmax), not both: Keras's weighted loss, each batch's loss being
      ``Σ_i w_i·ℓ_i / n`` over its n samples (divided by the batch size, not by Σ w_i), so
      the epoch's loss is ``Σ w_i·ℓ_i / N``. The metrics are not weighted (Keras's
      ``metrics=``); ``validation_split`` takes the last sample weights along (class weights
      apply to training batches only), and ``validation_data`` may be ``(x, y, weights)``.

    Lazy layers (``nn.Dense`` without ``input_shape``) are built from the first batch
    before anything else. Returns a ``History``.

    >>> import engine, numpy as np, nn
    >>> from nn.optim import SGD
    >>> _ = engine.manual_seed(0)
    >>> x = np.linspace(-1, 1, 64).reshape(-1, 1); y = 3 * x + 1
    >>> model = nn.Linear(1, 1)
    >>> opt = SGD(model.parameters(), lr=0.1)
    >>> h = fit(model, x, y, loss="mse", optimizer=opt, epochs=40, batch_size=16, verbose=0)
    >>> h.history["loss"][-1] < 1e-3, np.round(model.weight.data, 2)
    (True, array([[3.]], dtype=float32))
    """
    engine.keep_freed_memory()  # training from here on: reuse freed buffers (engine/fast/memory.py)
    who = "fit"
    inputs = _model_inputs(who, model)
    loss_fn = _resolve_loss(loss)
    metric_fns = _resolve_metrics(metrics)
    epochs = _check_int(who, "epochs", epochs, 1)
    initial_epoch = _check_int(who, "initial_epoch", initial_epoch, 0)
    verbose = _verbosity(who, verbose)
    if steps_per_epoch is not None:
        steps_per_epoch = _check_int(who, "steps_per_epoch", steps_per_epoch, 1)
    if scheduler is not None and not callable(getattr(scheduler, "on_epoch_begin", None)):
        raise TypeError(f"{who}: scheduler must be an nn.optim scheduler (with "
                        f"on_epoch_begin(epoch)), got {type(scheduler).__name__}")
    if getattr(scheduler, "per_batch", False):
        raise ValueError(f"{who}: {type(scheduler).__name__} is stepped after every batch (as "
                         "in PyTorch) and scheduler= is stepped once per epoch; step it from "
                         "a callback's on_batch_end instead (recipe in its docstring, "
                         f"help(nn.optim.{type(scheduler).__name__}))")
    if clipnorm is not None and not (isinstance(clipnorm, (int, float)) and clipnorm > 0):
        raise ValueError(f"{who}: clipnorm must be a positive number, got {clipnorm!r}")
    dtype = _model_dtype(model)
    class_weight = _check_class_weight(who, class_weight, sample_weight)
    source = _Source(who, x, y, batch_size, dtype, sample_weight=sample_weight, inputs=inputs)

    val = None
    if validation_data is not None:
        val = _validation_source(who, validation_data, batch_size, dtype, inputs)
    elif validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"{who}: validation_split must be in [0, 1), got "
                             f"{validation_split!r}")
        if source.kind != "arrays":
            raise ValueError(f"{who}: validation_split needs x and y as arrays, x is a "
                             f"{type(x).__name__}; pass validation_data instead (as Keras)")
        n_all = len(source.x)
        split_at = int(math.floor(n_all * (1.0 - validation_split)))  # Keras's rounding
        if split_at in (0, n_all):
            raise ValueError(f"{who}: validation_split={validation_split} of {n_all} samples "
                             f"leaves {split_at} for training and {n_all - split_at} for "
                             "validation; both need at least one")
        val = source.split_off(split_at)  # its sample weights too; no class weights

    if _needs_build(model):  # lazy layers first: the optimizer needs them
        build_model(model, source.first_x())
    if dtype != _model_dtype(model):  # a lazy model had no parameter to take a dtype from
        raise ValueError(f"{who}: the model's first parameters appeared in dtype "
                         f"{_model_dtype(model)} after the build, batches were {dtype}")
    optimizer, clipnorm, clipped, needs_closure = _step_setup(model, optimizer, clipnorm, who)

    steps = source.steps(steps_per_epoch)
    history = History()
    callbacks = list(callbacks) + [history]  # History last, as in Keras
    record_lr = scheduler is not None or any(getattr(c, "changes_lr", False) for c in callbacks)
    params = dict(epochs=epochs, steps=steps, batch_size=source.batch_size,
                  samples=len(source.x) if source.kind == "arrays" else None,
                  verbose=verbose, do_validation=val is not None,
                  metrics=[m for m, _ in metric_fns])
    history.params = params
    for cb in callbacks:
        cb.set_model(model)
        cb.optimizer, cb.scheduler, cb.params = optimizer, scheduler, params
    if initial_epoch >= epochs:
        warnings.warn(f"fit: initial_epoch={initial_epoch} >= epochs={epochs}: nothing to "
                      "train (epochs is the index to stop at, as in Keras)", stacklevel=2)
    model.stop_training = False
    for cb in callbacks:
        cb.on_train_begin({})

    for epoch in range(initial_epoch, epochs):
        if scheduler is not None:
            scheduler.on_epoch_begin(epoch)
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {})
        lr = float(optimizer.param_groups[0]["lr"])
        _set_training(model, True)
        running = _Running(metric_fns)
        bar = _bar(steps, f"Epoch {epoch + 1}/{epochs}", verbose)
        out_of_data = False
        try:
            for b, (xb, yb, swb) in enumerate(source.epoch(shuffle=shuffle,
                                                          steps=steps_per_epoch)):
                if class_weight is not None:
                    swb = _class_weights(who, yb, class_weight)
                xb, yb = _tensors(xb), Tensor(yb, dtype=yb.dtype)
                for cb in callbacks:
                    cb.on_batch_begin(b, {"size": len(xb)})
                    cb.on_train_batch_begin(b, {})
                value, pred, _ = _train_step(model, optimizer, loss_fn, xb, yb, swb, clipped,
                                             clipnorm, needs_closure, who)
                batch_logs = running.add(value, pred, yb, len(xb))
                means = running.logs()
                bar.set_postfix({m: f"{v:.4g}" for m, v in means.items()}, refresh=False)
                bar.update(1)
                for cb in callbacks:
                    cb.on_batch_end(b, batch_logs)
                    cb.on_train_batch_end(b, dict(means))
                if getattr(model, "stop_training", False):
                    break  # e.g. TerminateOnNaN: the epoch's logs cover the batches seen
        except _OutOfData:
            out_of_data = True
        else:
            if running.seen == 0:
                raise ValueError(f"{who}: epoch {epoch + 1} had no batches (an empty loader?)")
            logs = running.logs()
            if val is not None:
                val_logs = _run_eval(model, val, loss_fn, metric_fns, callbacks=callbacks)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            if record_lr:  # Keras 2's key and Keras 3's: callbacks (CSVLogger, a
                logs["lr"] = logs["learning_rate"] = lr  # monitor) see both
            bar.set_postfix({m: f"{v:.4g}" for m, v in logs.items()})
        finally:
            bar.close()
        if out_of_data:
            warnings.warn("fit: your input ran out of data; interrupting training. Make sure "
                          "the generator can yield at least steps_per_epoch * epochs batches "
                          "(or pass a DataLoader, which is iterated afresh every epoch)",
                          stacklevel=2)
            break
        if verbose == 2:
            print(f"Epoch {epoch + 1}/{epochs} - "
                  + " - ".join(f"{k}: {v:.4g}" for k, v in logs.items()))  # stdout, as Keras
        if scheduler is not None and callable(getattr(scheduler, "on_epoch_end", None)):
            scheduler.on_epoch_end(epoch, logs)  # e.g. ReduceLROnPlateau: for the next epoch
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if getattr(model, "stop_training", False):
            break
    for cb in callbacks:
        cb.on_train_end({})
    return history


def train_on_batch(model, x, y, *, loss, optimizer, metrics=(), clipnorm=None,
                   sample_weight=None, class_weight=None):
    """One optimizer step on the whole batch ``(x, y)`` in training mode (Keras's
    ``Model.train_on_batch``): returns ``(logs, optimizer)``, the logs ``{'loss': ...,
    <metric>: ...}`` from the predictions before the step, and the optimizer (built here
    from a name or recipe, as ``fit`` builds it: keep it for the next batch). Lazy layers
    are built from x first; ``sample_weight``/``class_weight`` as in ``fit``."""
    engine.keep_freed_memory()
    who = "train_on_batch"
    inputs = _model_inputs(who, model)
    loss_fn, metric_fns = _resolve_loss(loss), _resolve_metrics(metrics)
    class_weight = _check_class_weight(who, class_weight, sample_weight)
    dtype = _model_dtype(model)
    xb, yb = _model_x(who, inputs, x, dtype), _prepare_y(_as_array(y, who, "y"), who, dtype)
    _check_lengths(who, xb, yb)
    swb = None if sample_weight is None else _sample_weights(who, sample_weight, len(xb),
                                                             dtype)
    if class_weight is not None:
        swb = _class_weights(who, yb, class_weight)
    if _needs_build(model):
        build_model(model, xb[:1])
    optimizer, clipnorm, clipped, needs_closure = _step_setup(model, optimizer, clipnorm, who)
    was_training = getattr(model, "training", True)
    _set_training(model, True)
    try:
        running, target = _Running(metric_fns), Tensor(yb, dtype=yb.dtype)
        value, pred, _ = _train_step(model, optimizer, loss_fn, _tensors(xb), target, swb,
                                     clipped, clipnorm, needs_closure, who)
        running.add(value, pred, target, len(xb))
    finally:
        _set_training(model, was_training)
    return running.logs(), optimizer


def _step_setup(model, optimizer, clipnorm, who):
    """What fit and train_on_batch step with: ``(optimizer, clipnorm, clipped,
    needs_closure)``, the optimizer built on the model from a name or recipe (and checked to
    cover it), the clipping norm (a Keras recipe's ``global_clipnorm`` when none is given),
    the parameters clipped, and whether the optimizer re-evaluates the loss (LBFGS)."""
    if clipnorm is None:
        clipnorm = getattr(optimizer, "global_clipnorm", None)
    optimizer = resolve_optimizer(optimizer, model, who)
    _check_optimizer_covers_model(model, optimizer, who)
    clipped = [p for g in optimizer.param_groups for p in g["params"]]
    return optimizer, clipnorm, clipped, bool(getattr(optimizer, "requires_closure", False))


def _train_step(model, optimizer, loss_fn, xb, yb, swb, clipped, clipnorm, needs_closure,
                who):
    """One optimizer step on the batch (xb, yb) (sample weights ``swb`` or None):
    ``(loss value, predictions, aligned targets)``, from before the update."""
    if needs_closure:
        return _closure_step(model, optimizer, loss_fn, xb, yb, swb, clipped, clipnorm, who)
    optimizer.zero_grad()
    pred, yb, batch_loss = _forward_loss(model, loss_fn, xb, yb, swb, who)
    value = _scalar(batch_loss, "loss")
    batch_loss.backward()
    if clipnorm is not None:
        clip_grad_norm_(clipped, clipnorm)
    optimizer.step()
    return value, pred, yb


def _forward_loss(model, loss_fn, xb, yb, swb, who):
    """``(predictions, aligned targets, the batch's loss)``: the loss function's value plus
    Keras's additional losses, the model's regularization penalties (``model.losses``:
    weight penalties and this pass's activity penalties; ``nn.keras.regularizers``), added
    unweighted as Keras's ``total_loss = loss + Σ losses`` (the loss fit reports)."""
    from .keras import regularizers
    if not regularizers.IN_USE:
        pred = _forward(model, xb, who)
        yb = _align(pred, yb, loss_fn)
        return pred, yb, _batch_loss(loss_fn, pred, yb, swb)
    with regularizers.collecting() as activity:
        pred = _forward(model, xb, who)
    yb = _align(pred, yb, loss_fn)
    batch_loss = _batch_loss(loss_fn, pred, yb, swb)
    for penalty in regularizers.model_penalties(model, activity):
        batch_loss = batch_loss + penalty.astype(batch_loss.dtype)
    return pred, yb, batch_loss


def _closure_step(model, optimizer, loss_fn, xb, yb, swb, clipped, clipnorm, who):
    """One step of an optimizer that re-evaluates the loss (LBFGS): the value and
    predictions logged are those of the first evaluation, before any update."""
    first = {}

    def closure():
        optimizer.zero_grad()
        pred, target, batch_loss = _forward_loss(model, loss_fn, xb, yb, swb, who)
        batch_loss.backward()
        if clipnorm is not None:
            clip_grad_norm_(clipped, clipnorm)
        if not first:
            first.update(pred=pred.detach(), target=target)
        return batch_loss

    value = _scalar(optimizer.step(closure), "loss")
    return value, first["pred"], first["target"]


def _validation_source(who, validation_data, batch_size, dtype, inputs=()):
    if isinstance(validation_data, (tuple, list)) and not _is_loader(validation_data) \
            and not _is_batch_list(validation_data, len(inputs)):
        if len(validation_data) not in (2, 3):
            raise ValueError(f"{who}: validation_data must be a pair (x_val, y_val) (or "
                             "(x_val, y_val, sample_weight_val)), a DataLoader or a Dataset")
        xv, yv, *swv = validation_data
        if not _is_array_like(xv) and not isinstance(xv, dict):
            raise ValueError(f"{who}: validation_data=(x_val, y_val) needs arrays, x_val is a "
                             f"{type(xv).__name__}")
        return _Source(who, xv, yv, batch_size, dtype, names=("x_val", "y_val"),
                       sample_weight=swv[0] if swv else None, inputs=inputs)
    if hasattr(validation_data, "__next__"):
        raise ValueError(f"{who}: validation_data is a one-shot generator: it would be empty "
                         "after the first epoch; pass a DataLoader, a Dataset, a list of "
                         "batches or (x_val, y_val)")
    return _Source(who, validation_data, None, None if not _is_dataset_like(validation_data)
                   else batch_size, dtype, inputs=inputs)


def _is_dataset_like(x):
    from .data import IterableDataset, _is_dataset
    return _is_dataset(x) or isinstance(x, IterableDataset)


def evaluate(model, x, y=None, *, loss, metrics=(), batch_size=None, return_dict=False,
             verbose=0, steps=None, sample_weight=None, callbacks=()):
    """Loss and metrics of ``model`` on ``x``, ``y``, in eval mode under ``no_grad``:
    sample-weighted means over batches of ``batch_size`` (default 32).

    Keras's return form: the loss alone (a float) when there are no metrics, else the list
    ``[loss, metric_1, ...]`` in the order given, so ``test_loss, test_acc =
    evaluate(..., metrics=['accuracy'])`` unpacks as in Keras; ``return_dict=True`` gives
    ``{'loss': ..., <metric name>: ...}``. ``x``/``y``/``loss``/``metrics`` as in ``fit``
    (a DataLoader, Dataset or generator of batches works too; ``steps`` caps the batches);
    ``sample_weight`` (N,) weights the loss as in ``fit`` (not the metrics). ``callbacks``
    get Keras's ``on_test_begin``, ``on_test_batch_begin/end`` and ``on_test_end``.

    >>> import numpy as np, nn
    >>> model = nn.Linear(2, 1)
    >>> loss, mae = evaluate(model, np.zeros((5, 2)), np.zeros(5), loss="mse", metrics=["mae"])
    >>> loss, mae
    (0.0, 0.0)
    >>> evaluate(model, np.zeros((5, 2)), np.zeros(5), loss="mse", return_dict=True)
    {'loss': 0.0}
    """
    who = "evaluate"
    inputs = _model_inputs(who, model)
    loss_fn, metric_fns = _resolve_loss(loss), _resolve_metrics(metrics)
    verbose = _verbosity(who, verbose)
    if steps is not None:
        steps = _check_int(who, "steps", steps, 1)
    source = _Source(who, x, y, batch_size, _model_dtype(model), sample_weight=sample_weight,
                     inputs=inputs)
    if _needs_build(model):
        build_model(model, source.first_x())
    callbacks = list(callbacks or [])
    for cb in callbacks:
        cb.set_model(model)
    logs = _run_eval(model, source, loss_fn, metric_fns, steps=steps, verbose=verbose,
                     callbacks=callbacks)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose=0, steps=None) -> np.ndarray:
    """``model(x)`` batch by batch (``batch_size``, default 32) in eval mode under
    ``no_grad``, as one numpy array (N, ...): the outputs of the batches concatenated.
    ``x``: an array or Tensor, or a DataLoader / Dataset / generator whose batches are
    inputs or ``(x, y)`` pairs (y is ignored, as Keras).

    >>> import numpy as np, nn
    >>> predict(nn.Linear(3, 2), np.ones((70, 3))).shape
    (70, 2)
    """
    who = "predict"
    inputs = _model_inputs(who, model, several_outputs=True)
    outputs = getattr(model, "_output_list", ())
    verbose = _verbosity(who, verbose)
    if steps is not None:
        steps = _check_int(who, "steps", steps, 1)
    source = _Source(who, x, None, batch_size, _model_dtype(model), need_y=False,
                     inputs=inputs)
    if _needs_build(model):
        build_model(model, source.first_x())
    was_training = getattr(model, "training", True)
    _set_training(model, False)
    outs = []
    bar = _bar(source.steps(steps), who, verbose)
    try:
        with engine.no_grad():
            for xb, _, _ in source.epoch(steps=steps):
                xb = _tensors(xb)
                out = _call(model, xb)
                several = type(out) in (list, tuple) and len(outputs) > 1
                outs.append([_output(o, who).data for o in out] if several
                            else _output(out, who).data)
                bar.update(1)
    except _OutOfData:
        raise ValueError(f"{who}: the generator is exhausted") from None
    finally:
        bar.close()
        _set_training(model, was_training)
    if not outs:
        raise ValueError(f"{who}: no samples (len(x) = 0)")
    if len(outputs) > 1:  # Keras's: one array per output
        return [np.concatenate(column, axis=0) for column in zip(*outs, strict=True)]
    return np.concatenate(outs, axis=0)


# ------------------------------------------------------------------------------- callbacks
def _monitor_op(mode, monitor, who):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":  # Keras: accuracies are maximised, everything else minimised
        mode = "max" if "acc" in monitor else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs (Keras). ``mode`` 'min', 'max' or 'auto' (max for accuracies).

    With ``restore_best_weights`` the model gets back the weights of its best epoch when
    training ends (stopped early or not: Keras 3's behaviour). After ``fit``:
    ``stopped_epoch`` (0 if it never stopped), ``best``, ``best_epoch``.
    ``start_from_epoch=k`` ignores the epochs before epoch k (0-based, as Keras: a warm-up
    that neither counts towards the patience nor sets the best).
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False, baseline=None, verbose=0, start_from_epoch=0):
        self.monitor, self.patience = monitor, _check_int("EarlyStopping", "patience",
                                                          patience, 0)
        self.start_from_epoch = _check_int("EarlyStopping", "start_from_epoch",
                                           start_from_epoch, 0)
        self.min_delta = abs(float(min_delta))
        self.mode = _monitor_op(mode, monitor, "EarlyStopping")
        self.restore_best_weights, self.baseline, self.verbose = (restore_best_weights,
                                                                  baseline, verbose)

    def _better(self, current, reference):
        if reference is None:
            return True
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = None, None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"EarlyStopping: monitor {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs or {})})", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._better(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


def _rng_state():
    return engine.get_rng().bit_generator.state


class ModelCheckpoint(Callback):
    """Save a checkpoint with ``nn.save`` at the end of each epoch (atomically: temporary
    file + rename, so a crash never leaves half a file).

    The file holds ``{'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
    'epoch': epochs done, 'rng': engine.get_rng().bit_generator.state}`` plus
    ``'scheduler'`` when fit has one; ``save_weights_only`` keeps 'model' and 'epoch'.
    ``load_checkpoint`` restores it. Unless ``save_weights_only``, the file also holds the
    model's architecture (as data) and its ``compile`` settings when they can be written,
    so ``nn.load_model(path)`` rebuilds the model from it, as Keras's. ``filepath`` may
    hold Keras-style fields: ``'ckpt-{epoch:02d}-{val_loss:.2f}.npz'`` (epoch from 1).

    With ``save_best_only`` a file is written only when ``monitor`` improves on the best
    so far (strictly; 'min', 'max' or 'auto' = max for accuracies), starting from
    ``initial_value_threshold`` when given; with ``monitor`` missing from the logs it
    warns and writes nothing (Keras writes anyway, which could replace the best model).
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto",
                 save_weights_only=False, verbose=0, initial_value_threshold=None):
        self.filepath, self.monitor = filepath, monitor
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = _monitor_op(mode, monitor, "ModelCheckpoint")
        self.verbose, self.best = verbose, initial_value_threshold

    # `best` survives between fit calls (as in Keras): continuing training with the same
    # callback never overwrites the best file with a worse model.

    def on_epoch_end(self, epoch, logs=None):
        from .serialization import make_checkpoint, save
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save best model only with {self.monitor!r} "
                              f"in the logs (available: {sorted(logs)}); skipping",
                              stacklevel=2)
                return
            if self.best is not None and not (current < self.best if self.mode == "min"
                                              else current > self.best):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            self.best = current
        path = str(self.filepath)
        if "{" in path:
            path = path.format(epoch=epoch + 1, **logs)
        full = not self.save_weights_only
        ckpt = make_checkpoint(self.model, epoch + 1, self.optimizer if full else None,
                               self.scheduler if full else None, rng=full)
        if full:
            from .keras.saving import model_file_entries
            ckpt.update({k: v for k, v in model_file_entries(self.model).items()
                         if k not in ckpt})
        save(ckpt, path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved {path}")


class LearningRateScheduler(Callback):
    """Keras's callback: at the start of each epoch, ``lr ← schedule(epoch, lr)`` (epochs
    from 0, ``lr`` the optimizer's current rate), for every param group; a schedule of one
    argument is ``lr ← schedule(epoch)`` (Keras 3 takes both). ``fit`` records the rate of
    each epoch in ``history.history['lr']`` (Keras 2's key) and ``['learning_rate']``
    (Keras 3's); the logs callbacks see hold both.

    The course's exercise 7B, for instance::

        def schedule(epoch, lr):
            return lr if epoch < 10 else round(lr * math.exp(-0.05), 4)
        fit(..., callbacks=[LearningRateScheduler(schedule)])
    """

    changes_lr = True

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError("LearningRateScheduler: schedule must be callable "
                            "schedule(epoch, lr) -> lr")
        self.schedule, self.verbose = schedule, verbose
        # Keras tries schedule(epoch, lr) and falls back to schedule(epoch) on a TypeError;
        # the signature says it here, so a TypeError inside the schedule is not swallowed.
        from .optim.schedulers import _lambda_form
        try:
            self._one_argument = _lambda_form(schedule) == "torch"
        except TypeError:
            raise TypeError("LearningRateScheduler: schedule must take (epoch, lr) or "
                            "(epoch)") from None

    def on_epoch_begin(self, epoch, logs=None):
        lr = (self.schedule(epoch) if self._one_argument else
              self.schedule(epoch, float(self.optimizer.param_groups[0]["lr"])))
        if hasattr(lr, "item") and getattr(lr, "size", 1) == 1:
            lr = lr.item()  # np.round returns a numpy scalar
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) \
                or lr < 0:
            raise ValueError(f"LearningRateScheduler: schedule({epoch}, lr) returned {lr!r}; "
                             "it must return a finite number >= 0")
        for group in self.optimizer.param_groups:
            group["lr"] = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite (Keras)."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True
