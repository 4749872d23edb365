"""Keras-style training: ``fit``, ``evaluate``, ``predict``, ``History`` and callbacks.

``fit`` follows Keras's semantics where Keras users would notice a difference:

- ``validation_split`` holds out the LAST fraction of ``x``/``y``, taken before shuffling;
- the training set is shuffled every epoch (with ``engine.get_rng()``, so
  ``engine.manual_seed`` makes a run reproducible);
- the epoch's ``loss`` (and each metric) is the sample-weighted mean of the batch values,
  each computed before that batch's update, as Keras reports it;
- validation runs at the end of each epoch in eval mode, under ``no_grad``;
- ``epochs`` is the index of the last epoch + 1: ``fit(..., epochs=6, initial_epoch=3)``
  trains epochs 3, 4, 5 (a resumed run).

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

import math
import warnings
from numbers import Integral

import numpy as np

import engine
from engine import Tensor

from .callbacks import Callback, CSVLogger, TensorBoard, progress_bar  # noqa: F401 (re-exported)
from .optim.clip import clip_grad_norm_
from .serialization import load_checkpoint  # all-or-nothing; public as nn.load_checkpoint

__all__ = ["History", "fit", "evaluate", "predict", "Callback", "EarlyStopping",
           "ModelCheckpoint", "LearningRateScheduler", "TerminateOnNaN", "load_checkpoint",
           "CSVLogger", "TensorBoard"]

_EPS = 1e-7  # Keras's epsilon: probabilities are clipped to [eps, 1 − eps] before log


# ------------------------------------------------------------------------ losses and metrics
def _align(pred, target):
    """Keras reshapes a (N,) target to a (N, 1) prediction; so do we (for every loss)."""
    if (isinstance(pred, Tensor) and pred.ndim >= 1 and pred.shape[-1] == 1
            and target.ndim == pred.ndim - 1 and target.shape == pred.shape[:-1]):
        return target.reshape(pred.shape)
    return target


def _categorical_crossentropy(prob, target):
    """Keras's categorical cross-entropy on probabilities (N, C): rows are renormalised,
    clipped to [1e-7, 1 − 1e-7], then ``−Σ_c y_c ln p_c`` (one-hot y) or ``−ln p_label``."""
    from . import functional as F
    if prob.ndim != 2:
        raise ValueError(f"categorical_crossentropy: predictions must be (N, C), got "
                         f"{prob.shape}")
    if (prob.data < 0).any() or (prob.data > 1).any():
        raise ValueError("categorical_crossentropy: predictions must be probabilities (in "
                         "[0, 1], e.g. the output of a Softmax layer); for logits use "
                         "loss='cross_entropy'")
    logp = (prob / prob.sum(axis=1, keepdims=True)).clip(_EPS, 1 - _EPS).log()
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.ndim == 2 and t.shape[1] == 1 and prob.shape[1] != 1:
        t = t.reshape(-1)  # Keras's sparse labels may come as (N, 1)
    if t.ndim == 2:
        if t.shape != prob.shape:
            raise ValueError(f"categorical_crossentropy: prediction shape {prob.shape} and "
                             f"target shape {t.shape} differ")
        y = Tensor(t, dtype=logp.dtype)
        return -(y * logp).sum(axis=1).mean()
    return F.nll_loss(logp, t)


def _binary_crossentropy(prob, target):
    """Keras's binary cross-entropy on probabilities (nn.F.binary_cross_entropy)."""
    from . import functional as F
    if (prob.data < 0).any() or (prob.data > 1).any():
        raise ValueError("binary_crossentropy: predictions must be probabilities (in [0, 1], "
                         "e.g. the output of a Sigmoid layer); for logits use "
                         "loss='binary_crossentropy_with_logits'")
    return F.binary_cross_entropy(prob, target)


def _cross_entropy(logits, target):
    """PyTorch's cross_entropy on logits; warns when the inputs look like probabilities."""
    from . import functional as F
    d = logits.data
    if d.ndim == 2 and d.shape[1] > 1 and (d >= 0).all() and (d <= 1).all() \
            and np.allclose(d.sum(axis=1), 1, atol=1e-4):
        warnings.warn("loss='cross_entropy' takes logits, but the model's outputs look like "
                      "probabilities (rows in [0, 1] summing to 1): drop the final Softmax, "
                      "or use loss='categorical_crossentropy'", stacklevel=4)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.ndim == 2 and t.shape[1] == 1 and d.ndim == 2 and d.shape[1] != 1:
        target = t.reshape(-1)
    return F.cross_entropy(logits, target)


def _loss_table():
    from . import functional as F
    return {
        "mse": F.mse_loss, "mean_squared_error": F.mse_loss,
        "mae": F.mae_loss, "mean_absolute_error": F.mae_loss,
        "binary_crossentropy": _binary_crossentropy,
        "binary_crossentropy_with_logits": F.binary_cross_entropy_with_logits,
        "categorical_crossentropy": _categorical_crossentropy,
        "sparse_categorical_crossentropy": _categorical_crossentropy,
        "cross_entropy": _cross_entropy,
        "hinge": F.hinge_loss,
    }


def _metric_table():
    from . import functional as F

    def mae(pred, target):
        return F.mae_loss(pred, target).item()

    def mse(pred, target):
        return F.mse_loss(pred, target).item()

    acc = F.accuracy
    return {"accuracy": acc, "acc": acc, "binary_accuracy": acc, "categorical_accuracy": acc,
            "sparse_categorical_accuracy": acc, "mae": mae, "mean_absolute_error": mae,
            "mse": mse, "mean_squared_error": mse}


def _resolve_loss(loss):
    if callable(loss):
        return loss
    table = _loss_table()
    if isinstance(loss, str) and loss in table:
        return table[loss]
    raise ValueError(f"unknown loss {loss!r}; pass a function (e.g. nn.F.mse_loss) or one of: "
                     f"{', '.join(sorted(table))}")


def _resolve_metrics(metrics):
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    table, out = _metric_table(), []
    for m in metrics:
        if callable(m):
            out.append((getattr(m, "__name__", type(m).__name__), m))
        elif isinstance(m, str) and m in table:
            out.append((m, table[m]))
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


def _check_int(who, name, value, low):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{who}: {name} must be an int >= {low}, got {value!r}")
    return int(value)


def _batches(n, batch_size, order=None):
    for start in range(0, n, batch_size):
        yield (slice(start, start + batch_size) if order is None
               else order[start:start + batch_size])


def _output(out, who):
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}: the model returned a {type(out).__name__}; it must return one "
                        "Tensor (e.g. take outputs[:, -1] of a recurrent layer in forward)")
    return out


def _set_training(model, mode):
    train = getattr(model, "train", None)
    if callable(train):
        train(mode)


def _run_eval(model, x, y, loss_fn, metric_fns, batch_size):
    """Sample-weighted means of the loss and metrics over x, y, in eval mode, no_grad."""
    was_training = getattr(model, "training", True)
    _set_training(model, False)
    totals = dict.fromkeys(["loss"] + [n for n, _ in metric_fns], 0.0)
    try:
        with engine.no_grad():
            for idx in _batches(len(x), batch_size):
                xb, yb = Tensor(x[idx], dtype=x.dtype), Tensor(y[idx], dtype=y.dtype)
                pred = _output(model(xb), "evaluate")
                yb = _align(pred, yb)
                k = len(xb)
                totals["loss"] += _scalar(loss_fn(pred, yb), "loss") * k
                for name, fn in metric_fns:
                    totals[name] += _scalar(fn(pred, yb), f"metric {name!r}") * k
    finally:
        _set_training(model, was_training)
    return {k: v / len(x) for k, v in totals.items()}


# --------------------------------------------------------------------------------- History
class History(Callback):
    """What ``fit`` returns: ``history`` maps 'loss', each metric, 'val_loss', 'val_<metric>'
    and 'lr' (when a scheduler runs) to one value per epoch; ``epoch`` lists the epochs
    (0-based; ``[3, 4, 5]`` for ``fit(..., epochs=6, initial_epoch=3)``).

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
def fit(model, x, y, *, loss, optimizer, epochs, batch_size=32, validation_data=None,
        validation_split=0.0, metrics=(), callbacks=(), scheduler=None, shuffle=True,
        verbose=1, initial_epoch=0, clipnorm=None) -> History:
    """Train ``model`` on ``x`` (N, ...) and ``y`` (N, ...) with mini-batches, Keras style.

    Each batch: ``optimizer.zero_grad()``, ``loss(model(x_b), y_b).backward()``,
    ``optimizer.step()``. ``x``/``y`` are numpy arrays or Tensors; batches become Tensors in
    the model's dtype (float32), integer ``y`` stays int64 (class labels).

    - ``loss``: a function ``loss(pred, target) -> scalar Tensor`` or a name (see the
      module docstring); ``metrics``: functions ``(pred, target) -> float`` or names
      ('accuracy', 'mae', 'mse'), recorded under their names.
    - ``validation_data=(x_val, y_val)``, or ``validation_split`` in (0, 1): the last
      fraction of x/y (before shuffling) is held out. ``validation_data`` wins if both.
    - ``scheduler``: an ``nn.optim`` scheduler; its ``on_epoch_begin(epoch)`` runs before
      each epoch, and the lr used is recorded in ``history['lr']`` (also recorded when a
      ``LearningRateScheduler`` callback is given). Only param group 0's lr is recorded.
    - ``verbose``: 0 silent, 1 a progress bar per epoch (``nn.callbacks.progress_bar``:
      stdout, Jupyter's widget), 2 one line per epoch.
    - ``clipnorm``: clip the gradients of all the optimizer's parameters together to this
      global L2 norm before each step (``nn.optim.clip_grad_norm_``; Keras calls it
      ``global_clipnorm``).

    Returns a ``History``.

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
    who = "fit"
    loss_fn = _resolve_loss(loss)
    metric_fns = _resolve_metrics(metrics)
    epochs = _check_int(who, "epochs", epochs, 1)
    initial_epoch = _check_int(who, "initial_epoch", initial_epoch, 0)
    batch_size = _check_int(who, "batch_size", 32 if batch_size is None else batch_size, 1)
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "param_groups"):
        raise TypeError(f"{who}: optimizer must be an nn.optim optimizer, got "
                        f"{type(optimizer).__name__}")
    if scheduler is not None and not callable(getattr(scheduler, "on_epoch_begin", None)):
        raise TypeError(f"{who}: scheduler must be an nn.optim scheduler (with "
                        f"on_epoch_begin(epoch)), got {type(scheduler).__name__}")
    if clipnorm is not None and not (isinstance(clipnorm, (int, float)) and clipnorm > 0):
        raise ValueError(f"{who}: clipnorm must be a positive number, got {clipnorm!r}")
    clipped = [p for g in optimizer.param_groups for p in g["params"]]
    dtype = _model_dtype(model)
    x, y = _prepare_x(x, who, dtype), _prepare_y(y, who, dtype)
    _check_lengths(who, x, y)

    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError(f"{who}: validation_data must be a pair (x_val, y_val)")
        val = (_prepare_x(validation_data[0], who, dtype),
               _prepare_y(validation_data[1], who, dtype))
        _check_lengths(who, *val, names=("x_val", "y_val"))
    elif validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"{who}: validation_split must be in [0, 1), got "
                             f"{validation_split!r}")
        split_at = int(math.floor(len(x) * (1.0 - validation_split)))  # Keras's rounding
        if split_at in (0, len(x)):
            raise ValueError(f"{who}: validation_split={validation_split} of {len(x)} samples "
                             f"leaves {split_at} for training and {len(x) - split_at} for "
                             "validation; both need at least one")
        x, y, val = x[:split_at], y[:split_at], (x[split_at:], y[split_at:])

    n = len(x)
    steps = math.ceil(n / batch_size)
    history = History()
    callbacks = list(callbacks) + [history]  # History last, as in Keras
    record_lr = scheduler is not None or any(isinstance(c, LearningRateScheduler)
                                             for c in callbacks)
    params = dict(epochs=epochs, steps=steps, batch_size=batch_size, samples=n,
                  verbose=verbose, do_validation=val is not None,
                  metrics=[m for m, _ in metric_fns])
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
        order = engine.get_rng().permutation(n) if shuffle else None
        totals = dict.fromkeys(["loss"] + [m for m, _ in metric_fns], 0.0)
        seen = 0
        bar = progress_bar(steps, f"Epoch {epoch + 1}/{epochs}", verbose)
        try:
            for b, idx in enumerate(_batches(n, batch_size, order)):
                xb, yb = Tensor(x[idx], dtype=x.dtype), Tensor(y[idx], dtype=y.dtype)
                for cb in callbacks:
                    cb.on_batch_begin(b, {"size": len(xb)})
                optimizer.zero_grad()
                pred = _output(model(xb), who)
                yb = _align(pred, yb)
                batch_loss = loss_fn(pred, yb)
                value = _scalar(batch_loss, "loss")
                batch_loss.backward()
                if clipnorm is not None:
                    clip_grad_norm_(clipped, clipnorm)
                optimizer.step()
                k = len(xb)
                seen += k
                totals["loss"] += value * k
                batch_logs = {"loss": value}
                with engine.no_grad():  # metrics on the same (pre-update) predictions
                    for name, fn in metric_fns:
                        batch_logs[name] = _scalar(fn(pred, yb), f"metric {name!r}")
                        totals[name] += batch_logs[name] * k
                bar.set_postfix({m: f"{v / seen:.4g}" for m, v in totals.items()},
                                refresh=False)
                bar.update(1)
                for cb in callbacks:
                    cb.on_batch_end(b, batch_logs)
                if getattr(model, "stop_training", False):
                    break  # e.g. TerminateOnNaN: the epoch's logs cover the batches seen
            logs = {m: v / seen for m, v in totals.items()}
            if val is not None:
                val_logs = _run_eval(model, *val, loss_fn, metric_fns, batch_size)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            if record_lr:
                logs["lr"] = lr
            bar.set_postfix({m: f"{v:.4g}" for m, v in logs.items()})
        finally:
            bar.close()
        if verbose == 2:
            print(f"Epoch {epoch + 1}/{epochs} - "
                  + " - ".join(f"{k}: {v:.4g}" for k, v in logs.items()))  # stdout, as Keras
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if getattr(model, "stop_training", False):
            break
    for cb in callbacks:
        cb.on_train_end({})
    return history


def evaluate(model, x, y, *, loss, metrics=(), batch_size=32) -> dict:
    """Loss and metrics of ``model`` on ``x``, ``y``, in eval mode under ``no_grad``.

    Returns a dict ``{'loss': float, <metric name>: float, ...}`` (Keras's
    ``evaluate(..., return_dict=True)``): sample-weighted means over batches of
    ``batch_size``. ``loss``/``metrics`` as in ``fit``.

    >>> import numpy as np, nn
    >>> model = nn.Linear(2, 1)
    >>> sorted(evaluate(model, np.zeros((5, 2)), np.zeros(5), loss="mse", metrics=["mae"]))
    ['loss', 'mae']
    """
    who = "evaluate"
    loss_fn, metric_fns = _resolve_loss(loss), _resolve_metrics(metrics)
    batch_size = _check_int(who, "batch_size", 32 if batch_size is None else batch_size, 1)
    dtype = _model_dtype(model)
    x, y = _prepare_x(x, who, dtype), _prepare_y(y, who, dtype)
    _check_lengths(who, x, y)
    return _run_eval(model, x, y, loss_fn, metric_fns, batch_size)


def predict(model, x, batch_size=32) -> np.ndarray:
    """``model(x)`` batch by batch in eval mode under ``no_grad``, as one numpy array
    (N, ...): the outputs of the batches concatenated.

    >>> import numpy as np, nn
    >>> predict(nn.Linear(3, 2), np.ones((70, 3))).shape
    (70, 2)
    """
    who = "predict"
    batch_size = _check_int(who, "batch_size", 32 if batch_size is None else batch_size, 1)
    x = _prepare_x(x, who, _model_dtype(model))
    was_training = getattr(model, "training", True)
    _set_training(model, False)
    try:
        with engine.no_grad():
            outs = [_output(model(Tensor(x[idx], dtype=x.dtype)), who).data
                    for idx in _batches(len(x), batch_size)]
    finally:
        _set_training(model, was_training)
    if not outs:
        raise ValueError(f"{who}: no samples (len(x) = 0)")
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
    """

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False, baseline=None, verbose=0):
        self.monitor, self.patience = monitor, _check_int("EarlyStopping", "patience",
                                                          patience, 0)
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
    ``load_checkpoint`` restores it. ``filepath`` may hold Keras-style fields:
    ``'ckpt-{epoch:02d}-{val_loss:.2f}.npz'`` (epoch counted from 1).
    With ``save_best_only``, a file is written only when ``monitor`` improves.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto",
                 save_weights_only=False, verbose=0):
        self.filepath, self.monitor = filepath, monitor
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = _monitor_op(mode, monitor, "ModelCheckpoint")
        self.verbose, self.best = verbose, None

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
                return
            self.best = current
        path = str(self.filepath)
        if "{" in path:
            path = path.format(epoch=epoch + 1, **logs)
        full = not self.save_weights_only
        save(make_checkpoint(self.model, epoch + 1, self.optimizer if full else None,
                             self.scheduler if full else None, rng=full), path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved {path}")


class LearningRateScheduler(Callback):
    """Keras's callback: at the start of each epoch, ``lr ← schedule(epoch, lr)`` (epochs
    from 0, ``lr`` the optimizer's current rate), for every param group.

    The course's exercise 7B, for instance::

        def schedule(epoch, lr):
            return lr if epoch < 10 else round(lr * math.exp(-0.05), 4)
        fit(..., callbacks=[LearningRateScheduler(schedule)])
    """

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError("LearningRateScheduler: schedule must be callable "
                            "schedule(epoch, lr) -> lr")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.schedule(epoch, float(self.optimizer.param_groups[0]["lr"]))
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
