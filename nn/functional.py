"""The stateless math of nn: activations, losses, penalties and metrics (also ``nn.F``).

Losses take a prediction Tensor and a target (Tensor or numpy array) and a ``reduction``:
'mean' (default), 'sum' or 'none'. Shapes must match exactly where the math is elementwise:
a (N, 1) prediction against an (N,) target would silently broadcast to (N, N) in numpy, so
it is an error here.
"""
from __future__ import annotations

import numpy as np

import engine
from engine import Tensor, avg_pool2d, conv2d, max_pool2d, no_grad  # noqa: F401 (re-exported)

_EPS = 1e-7  # Keras's epsilon: probabilities are clipped to [eps, 1 − eps] before log


# ------------------------------------------------------------------------------ activations
def relu(x): return x.relu()
def sigmoid(x): return x.sigmoid()
def tanh(x): return x.tanh()
def leaky_relu(x, negative_slope=0.01): return x.leaky_relu(negative_slope)
def softmax(x, axis=-1): return x.softmax(axis)
def log_softmax(x, axis=-1): return x.log_softmax(axis)


def linear(x, weight, bias=None):
    """``y = x Wᵀ + b`` with x (..., in), W (out, in), b (out,) → y (..., out)."""
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1]} features but the "
                         f"weight of shape {weight.shape} expects {weight.shape[1]}")
    y = x @ weight.T
    return y if bias is None else y + bias


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1 − p),
    so the expected activation is unchanged and evaluation needs no rescaling."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = engine.get_rng().random(x.shape) >= p
    return x * engine.from_numpy((keep / (1 - p)).astype(x.dtype))


# ------------------------------------------------------------------------------------ losses
def _target(target, like, name, same_shape=True):
    t = target if isinstance(target, Tensor) else engine.from_numpy(np.asarray(target, like.dtype))
    if t.dtype != like.dtype and t.dtype.kind == "f":
        t = engine.from_numpy(t.data.astype(like.dtype))
    if same_shape and t.shape != like.shape:
        raise ValueError(f"{name}: prediction shape {like.shape} and target shape {t.shape} "
                         f"differ (reshape one: silent broadcasting would give a wrong loss)")
    return t


def _reduce(loss, reduction, name):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse_loss(pred, target, reduction="mean"):
    """Mean squared error ``mean((ŷ − y)²)``."""
    d = pred - _target(target, pred, "mse_loss")
    return _reduce(d * d, reduction, "mse_loss")


def mae_loss(pred, target, reduction="mean"):
    """Mean absolute error ``mean(|ŷ − y|)``."""
    return _reduce((pred - _target(target, pred, "mae_loss")).abs(), reduction, "mae_loss")


def binary_cross_entropy(prob, target, reduction="mean"):
    """``−[y ln p + (1 − y) ln(1 − p)]`` on probabilities p, clipped to [1e-7, 1 − 1e-7] as
    Keras does (so p = 0 or 1 gives a large finite loss, not inf)."""
    y = _target(target, prob, "binary_cross_entropy")
    p = prob.clip(_EPS, 1 - _EPS)
    return _reduce(-(y * p.log() + (1 - y) * (1 - p).log()), reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """BCE on logits x, exact and stable: ``max(x, 0) − x·y + ln(1 + e^(−|x|))``."""
    y = _target(target, logits, "binary_cross_entropy_with_logits")
    loss = logits.relu() - logits * y + ((-logits.abs()).exp() + 1).log()
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _labels(target, n, classes, name):
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            raise ValueError(f"{name}: integer class labels expected, got non-integer floats")
        labels = labels.astype(np.int64)
    if labels.shape != (n,):
        raise ValueError(f"{name}: labels of shape {labels.shape} do not match a batch of {n} "
                         f"(expected shape ({n},))")
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        raise ValueError(f"{name}: label {labels[bad][0]} out of range for {classes} classes")
    return labels


def nll_loss(log_probs, target, reduction="mean"):
    """Negative log-likelihood ``−log p[label]`` of log-probabilities (N, C), labels (N,)."""
    if log_probs.ndim != 2:
        raise ValueError(f"nll_loss: log-probabilities must be (N, C), got {log_probs.shape}")
    n, c = log_probs.shape
    labels = _labels(target, n, c, "nll_loss")
    return _reduce(-log_probs[np.arange(n), labels], reduction, "nll_loss")


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy of logits (N, C) (log-sum-exp, stable).

    ``target`` is integer labels (N,) or a probability / one-hot matrix (N, C):
    ``−Σ_c y_c · log_softmax(x)_c``.
    """
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got {logits.shape}")
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.ndim == 2:
        y = _target(target, logits, "cross_entropy")
        return _reduce(-(y * logits.log_softmax(axis=1)).sum(axis=1), reduction, "cross_entropy")
    return nll_loss(logits.log_softmax(axis=1), t, reduction)


def hinge_loss(pred, target, reduction="mean"):
    """``max(0, 1 − y·ŷ)`` with labels y ∈ {−1, +1}."""
    y = _target(target, pred, "hinge_loss")
    if not np.isin(y.data, (-1, 1)).all():
        raise ValueError("hinge_loss: targets must be −1 or +1")
    return _reduce((1 - y * pred).relu(), reduction, "hinge_loss")


# -------------------------------------------------------------------------------- penalties
def l1_penalty(params):
    """``Σ |θ|`` over all the given parameters (add ``λ·l1_penalty(...)`` to the loss)."""
    terms = [p.abs().sum() for p in params]
    return sum(terms[1:], terms[0]) if terms else Tensor(0.0)


def l2_penalty(params):
    """``Σ θ²`` over all the given parameters (weight decay is ``λ/2 ·`` this)."""
    terms = [(p * p).sum() for p in params]
    return sum(terms[1:], terms[0]) if terms else Tensor(0.0)


# ---------------------------------------------------------------------------------- metrics
@no_grad()
def accuracy(pred, target) -> float:
    """Fraction correct. (N, C) predictions: argmax against labels (N,) or one-hot (N, C);
    (N,) or (N, 1) probabilities: thresholded at 0.5 against 0/1 targets."""
    p = np.asarray(pred.data if isinstance(pred, Tensor) else pred)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if p.ndim == 2 and p.shape[1] > 1:
        guess = p.argmax(axis=1)
        truth = t.argmax(axis=1) if t.ndim == 2 else t.reshape(-1)
    else:
        guess = (p.reshape(-1) > 0.5).astype(np.int64)
        truth = t.reshape(-1)
    if guess.shape != truth.shape:
        raise ValueError(f"accuracy: {guess.shape[0]} predictions but {truth.shape[0]} targets")
    return float(np.mean(guess == truth))


def zero_one_loss(pred, target) -> float:
    """``1 − accuracy``: the fraction misclassified."""
    return 1.0 - accuracy(pred, target)
