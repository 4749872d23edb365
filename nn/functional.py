"""The stateless math of nn: activations, losses, penalties and metrics (also ``nn.F``).

Losses take a prediction Tensor and a target (Tensor or numpy array) and a ``reduction``:
'mean' (default), 'sum' or 'none'. Shapes must match exactly where the math is elementwise:
a (N, 1) prediction against an (N,) target would silently broadcast to (N, N) in numpy, so
it is an error here.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

import engine
from engine import (  # noqa: F401 (PyTorch's F)
    Tensor,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose2d,
    interpolate,
    max_pool1d,
    max_pool2d,
    max_unpool2d,
    no_grad,
)
from engine.fast.unfold import fold, unfold  # noqa: F401 (PyTorch's F.fold, F.unfold)
from engine.ops.compose import pairwise_distance, pixel_shuffle, pixel_unshuffle  # noqa: F401
from engine.ops.indexing import one_hot, pad  # noqa: F401 (re-exported: PyTorch's F.pad)
from engine.ops.linalg import Linear
from engine.ops.neural import CrossEntropy

_EPS = 1e-7  # Keras's epsilon: probabilities are clipped to [eps, 1 − eps] before log


# ------------------------------------------------------------------------------ activations
def relu(x, inplace=False):
    """max(x, 0); ``inplace=True`` writes it into x (PyTorch's rules for in-place ops)."""
    return x.relu_() if inplace else x.relu()
def sigmoid(x): return x.sigmoid()
def tanh(x): return x.tanh()
def leaky_relu(x, negative_slope=0.01): return x.leaky_relu(negative_slope)


def softmax(x, dim=None, *, axis=None):
    """``e^(x_i) / Σ_j e^(x_j)`` along ``dim`` (PyTorch; ``axis=`` numpy's name; default -1)."""
    return x.softmax(_dim("softmax", dim, axis, x.ndim))


def log_softmax(x, dim=None, *, axis=None):
    return x.log_softmax(_dim("log_softmax", dim, axis, x.ndim))


def softmin(x, dim=None, *, axis=None):
    """``softmax(−x)`` along ``dim``."""
    return x.softmin(_dim("softmin", dim, axis, x.ndim))


def _dim(op, dim, axis, ndim):
    if dim is not None and axis is not None:
        raise TypeError(f"{op}: got both dim= and axis= (same meaning)")
    if dim is None and axis is None:
        implicit_dim_warning(op, ndim, stacklevel=4)  # the caller of F.softmax
        return -1
    return dim if dim is not None else axis


def implicit_dim_warning(op, ndim, stacklevel):
    """Without a dim the softmaxes take the last one (Keras's choice). PyTorch's deprecated
    implicit choice agrees up to 2-D input and not above (dim 0 for 3-D, 1 for 4-D and
    more): code written for it would get other numbers without an error, so it is said."""
    if ndim >= 3:
        warnings.warn(f"{op}: no dim given: stepgrad takes the last dim (-1); PyTorch's "
                      f"implicit choice for {ndim}-D input is dim {0 if ndim == 3 else 1} (and "
                      f"deprecated). Pass dim= to say which", UserWarning, stacklevel=stacklevel)


# PyTorch's activation functions (formulas and kinks: engine/ops/activations.py).
def gelu(x, approximate="none"): return x.gelu(approximate)
def softplus(x, beta=1.0, threshold=20.0): return x.softplus(beta, threshold)
def elu(x, alpha=1.0): return x.elu(alpha)
def selu(x): return x.selu()
def celu(x, alpha=1.0): return x.celu(alpha)
def silu(x): return x.silu()
def mish(x): return x.mish()
def relu6(x): return x.relu6()
def hardtanh(x, min_val=-1.0, max_val=1.0): return x.hardtanh(min_val, max_val)
def hardsigmoid(x): return x.hardsigmoid()
def hardswish(x): return x.hardswish()
def logsigmoid(x): return x.logsigmoid()
def softsign(x): return x.softsign()
def prelu(x, weight): return x.prelu(weight)


def normalize(x, p=2.0, dim=1, eps=1e-12):
    """``x / max(‖x‖_p, eps)`` along ``dim``: rows (dim 1) scaled to unit length."""
    return x.normalize(p, dim, eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps))`` along ``dim`` (x1 and x2 broadcast).

    As PyTorch, the clamp to ``eps`` changes the norms' values but not their gradient (it
    is applied without recording): below eps the gradient is the unclamped formula's."""
    x1, x2 = _tensors(x1, x2)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    n1, n2 = (x.norm(2, dim=dim, keepdim=True) for x in (x1, x2))
    n1 = n1 + (n1.clamp(min=eps) - n1).detach()
    n2 = n2 + (n2.clamp(min=eps) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)


def _tensors(*xs):
    like = next((x for x in xs if isinstance(x, Tensor)), None)
    return tuple(x if isinstance(x, Tensor) else engine.from_numpy(
        np.asarray(x, like.dtype if like is not None else engine.get_default_dtype()))
        for x in xs)


# The convolution family (conv1d, conv2d, conv_transpose2d, the pools, adaptive pools,
# max_unpool2d, interpolate) is engine's, imported above; PyTorch's older names for resizing:
def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """PyTorch's deprecated name of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(input, size, scale_factor, mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def linear(x, weight, bias=None):
    """``y = x Wᵀ + b`` with x (..., in), W (out, in), b (out,) → y (..., out): one op,
    ``linear`` (engine/ops/linalg.py)."""
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, D) picked by the integer ``input`` (any shape S)
    → (*S, D), PyTorch's ``F.embedding``. Gradients of repeated indices add up; the row
    ``padding_idx`` gets none (its value is still returned). Indices must lie in
    [0, num_embeddings): a negative one is refused, not read from the end."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise ValueError("embedding: max_norm, scale_grad_by_freq and sparse are not "
                         "supported in stepgrad")
    idx = input.data if isinstance(input, engine.Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers (int64 or int32), got dtype "
                        f"{idx.dtype}: convert them with .long()")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {int(bad)} is out of range for a table of {n} "
                         f"rows (indices run from 0 to {n - 1})")
    rows = weight.index_select(0, engine.tensor(idx.reshape(-1)))
    if padding_idx is not None:
        padding_idx = padding_idx + n if padding_idx < 0 else padding_idx
        keep = engine.tensor((idx.reshape(-1) != padding_idx)[:, None])
        rows = engine.where(keep, rows, rows.detach())  # same values, no gradient there
    return rows.reshape(idx.shape + (weight.shape[1],))


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1 − p),
    so the expected activation is unchanged and evaluation needs no rescaling."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    return _drop(x, p, x.shape)


def _drop(x, p, mask_shape):
    """x times a kept-with-probability-(1 − p) mask of ``mask_shape`` (broadcast over x),
    scaled by 1/(1 − p): dropout's and dropout2d's one masking step."""
    keep = engine.get_rng().random(mask_shape) >= p
    return x * engine.from_numpy((keep / (1 - p)).astype(x.dtype))


def dropout2d(x, p=0.5, training=True):
    """Channel dropout: zero whole channels of (N, C, H, W) (or (C, H, W)) with probability
    p, scale the rest by 1/(1 − p) (PyTorch's ``dropout2d``)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout2d: p must be in [0, 1), got {p}")
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected (N, C, H, W) or (C, H, W) input, got shape "
                         f"{x.shape}")
    if not training or p == 0:
        return x
    return _drop(x, p, x.shape[:-2] + (1, 1))


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """``(x − mean) / √(var + eps)`` over the last ``len(normalized_shape)`` dims (biased
    variance), then ``· weight + bias`` (PyTorch's ``layer_norm``); differentiable."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the last dims of the "
                         f"input, got shape {x.shape}")
    dims = tuple(range(x.ndim - k, x.ndim))
    centred = x - x.mean(dims, keepdim=True)
    y = centred / ((centred * centred).mean(dims, keepdim=True) + eps).sqrt()
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample's channels in ``num_groups`` groups (PyTorch's ``group_norm``):
    x (N, C, …) read as (N, G, C/G·…), ``(x − mean) / √(var + eps)`` per (sample, group)
    with the biased variance, then ``· weight[c] + bias[c]`` per channel; differentiable."""
    if x.ndim < 2 or num_groups < 1 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} must divide the channels (dim 1) "
                         f"of the input, got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    y = layer_norm(x.reshape(n, num_groups, -1), (int(np.prod(x.shape[1:])) // num_groups,),
                   eps=eps)
    y = y.reshape(*x.shape)
    per_channel = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    return y if bias is None else y + bias.reshape(per_channel)


def threshold(x, threshold, value):
    """x where x > ``threshold``, else ``value`` (PyTorch's ``F.threshold``; gradient 1 where
    kept, 0 where replaced)."""
    return engine.where(x.data > threshold, x, np.asarray(value, x.dtype))


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    """Normalise each (sample, channel) plane of x (N, C, …) over its own values (PyTorch's
    ``instance_norm`` without running statistics): ``group_norm`` with one group per
    channel."""
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected (N, C, L) or (N, C, H, W) input, got shape "
                         f"{x.shape}")
    return group_norm(x, x.shape[1], weight, bias, eps)


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


def l1_loss(pred, target, reduction="mean"):
    """PyTorch's name for the mean absolute error ``mean(|ŷ − y|)``."""
    return mae_loss(pred, target, reduction)


def _weighted(loss, weight, name):
    if weight is None:
        return loss
    w = weight if isinstance(weight, Tensor) else engine.from_numpy(np.asarray(weight,
                                                                                  loss.dtype))
    try:
        np.broadcast_shapes(w.shape, loss.shape)
    except ValueError:
        raise ValueError(f"{name}: weight of shape {w.shape} does not broadcast to the loss's "
                         f"shape {loss.shape}") from None
    return loss * w


def binary_cross_entropy(prob, target, weight=None, reduction="mean"):
    """``−w·[y ln p + (1 − y) ln(1 − p)]`` on probabilities p, clipped to [1e-7, 1 − 1e-7] as
    Keras does (so p = 0 or 1 gives a large finite loss, not inf; PyTorch instead clamps
    each log at −100 -- the two agree unless p is within 1e-7 of 0 or 1).

    Probabilities and targets must lie in [0, 1] (NaN is refused too): logits belong to
    ``binary_cross_entropy_with_logits``."""
    y = _target(target, prob, "binary_cross_entropy")
    _in_unit_interval(prob, "binary_cross_entropy", "probabilities (the input)",
                      " (for logits use binary_cross_entropy_with_logits)")
    _in_unit_interval(y, "binary_cross_entropy", "targets", "")
    p = prob.clip(_EPS, 1 - _EPS)
    loss = -(y * p.log() + (1 - y) * (1 - p).log())
    return _reduce(_weighted(loss, weight, "binary_cross_entropy"), reduction,
                   "binary_cross_entropy")


def _in_unit_interval(t, name, what, hint):
    a = np.asarray(t.data)
    bad = ~((a >= 0) & (a <= 1))
    if bad.any():
        raise ValueError(f"{name}: all {what} must be in [0, 1], got {float(a[bad].flat[0])!r} "
                         f"({int(bad.sum())} of {a.size} outside){hint}")


def binary_cross_entropy_with_logits(logits, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """BCE on logits x, exact and stable (PyTorch's formula):
    ``(1 − y)·x + (1 + (pos_weight − 1)·y) · softplus(−x)``, times ``weight``.

    ``pos_weight`` (one per class, broadcast along the last dim) scales the positive term:
    > 1 raises recall, < 1 precision."""
    y = _target(target, logits, "binary_cross_entropy_with_logits")
    soft = (-logits).softplus(threshold=float("inf"))  # ln(1 + e^(−x)), exact, no overflow
    if pos_weight is None:
        loss = (1 - y) * logits + soft
    else:
        pw = pos_weight if isinstance(pos_weight, Tensor) else engine.from_numpy(
            np.asarray(pos_weight, logits.dtype))
        loss = (1 - y) * logits + (1 + (pw - 1) * y) * soft
    return _reduce(_weighted(loss, weight, "binary_cross_entropy_with_logits"), reduction,
                   "binary_cross_entropy_with_logits")


def _labels(target, shape, classes, name, ignore_index=None):
    """Integer class labels of ``shape`` (integer-valued floats accepted), each in
    [0, classes) or equal to ``ignore_index``."""
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            raise ValueError(f"{name}: integer class labels expected, got non-integer floats")
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: class labels must be integers, got {labels.dtype}")
    if labels.shape != tuple(shape):
        raise ValueError(f"{name}: labels of shape {labels.shape} do not match the input: "
                         f"expected shape {tuple(shape)} (the input's shape without the class "
                         f"dim)")
    bad = ((labels < 0) | (labels >= classes)) & (labels != ignore_index)
    if bad.any():
        raise ValueError(f"{name}: label {labels[bad][0]} out of range for {classes} classes"
                         + (f" (and not ignore_index={ignore_index})"
                            if ignore_index is not None else ""))
    return labels


def _class_layout(x, name):
    """(class dim, number of classes, shape of one label per position): input (C,), (N, C)
    or (N, C, d1, …) as PyTorch."""
    if x.ndim == 0:
        raise ValueError(f"{name}: the input needs a class dim: (C,), (N, C) or "
                         f"(N, C, d1, ...), got a 0-d tensor")
    cdim = 0 if x.ndim == 1 else 1
    return cdim, x.shape[cdim], x.shape[:cdim] + x.shape[cdim + 1:]


def _class_weight(weight, c, like, name):
    if weight is None:
        return None
    w = weight if isinstance(weight, Tensor) else engine.from_numpy(np.asarray(weight,
                                                                                  like.dtype))
    if w.shape != (c,):
        raise ValueError(f"{name}: weight must have one entry per class, shape ({c},), got "
                         f"{w.shape}")
    return w


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood ``−w[y]·log p[y]`` of log-probabilities, as PyTorch: input
    (C,), (N, C) or (N, C, d1, …), integer labels of the input's shape without C.

    Labels equal to ``ignore_index`` add nothing; 'mean' divides by the summed weights of
    the labels that count (their number without ``weight``)."""
    cdim, c, lshape = _class_layout(log_probs, "nll_loss")
    labels = _labels(target, lshape, c, "nll_loss", ignore_index)
    w = _class_weight(weight, c, log_probs, "nll_loss")
    return _nll(log_probs, labels, w, ignore_index, reduction, cdim)


def _nll(log_probs, labels, w, ignore_index, reduction, cdim):
    """nll_loss on validated labels and weights."""
    keep = np.asarray(labels != ignore_index)
    if w is None and reduction in ("mean", "sum") and keep.all() and keep.size:
        # Every label counts, no weights (a training step's usual loss): the same sums in
        # three ops instead of eight, with the same bits (the count is exact; −Σp = Σ(−p)).
        total = log_probs.gather(cdim, np.expand_dims(labels, cdim)).sum()
        return total / -keep.size if reduction == "mean" else -total
    safe = np.where(keep, labels, 0)
    picked = log_probs.gather(cdim, np.expand_dims(safe, cdim)).squeeze(cdim)
    if w is None:
        wy = engine.from_numpy(np.asarray(keep, log_probs.dtype))
    else:
        wy = w[safe] * engine.from_numpy(np.asarray(keep, log_probs.dtype))
    loss = -picked * wy
    if reduction == "mean":
        return loss.sum() / wy.sum()  # 0/0 = NaN when every label is ignored, as PyTorch
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy of logits (log-sum-exp, stable), as PyTorch: input (C,),
    (N, C) or (N, C, d1, …).

    ``target`` is integer labels (the input's shape without C) or class probabilities /
    one-hot rows (the input's shape): ``−Σ_c w_c·y_c·log_softmax(x)_c``. ``weight`` weighs
    the classes, ``ignore_index`` skips labels, ``label_smoothing`` ε mixes the target with
    the uniform distribution: (1 − ε)·y + ε/C."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    cdim, c, lshape = _class_layout(logits, "cross_entropy")
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    w = _class_weight(weight, c, logits, "cross_entropy")
    if t.shape != logits.shape:
        labels = _labels(t, lshape, c, "cross_entropy", ignore_index)
        if (w is None and not label_smoothing and reduction in ("mean", "sum") and labels.size
                and (labels != ignore_index).all()):
            # A training step's usual loss: one op (engine/ops/neural.py) for the four below.
            return CrossEntropy.apply(logits, labels=labels, reduction=reduction)
    logp = logits.log_softmax(axis=cdim)
    wshape = (c,) + (1,) * (logits.ndim - cdim - 1)
    if t.shape == logits.shape:  # probabilities
        y = _target(target, logits, "cross_entropy")
        if label_smoothing:
            y = y * (1 - label_smoothing) + label_smoothing / c
        terms = logp * y if w is None else logp * y * w.reshape(wshape)
        loss = -terms.sum(axis=cdim)
        if reduction == "mean":  # over the positions (N·d1·…), never the weights
            return loss.sum() / int(np.prod(lshape))
        return _reduce(loss, reduction, "cross_entropy")
    nll = _nll(logp, labels, w, ignore_index, reduction, cdim)
    if not label_smoothing:
        return nll
    keep = engine.from_numpy(np.asarray(labels != ignore_index, logits.dtype))
    smooth = -(logp if w is None else logp * w.reshape(wshape)).sum(axis=cdim) * keep
    if reduction == "mean":
        denom = keep.sum() if w is None else (w[np.where(labels != ignore_index, labels, 0)]
                                              * keep).sum()
        smooth = smooth.sum() / denom
    else:
        smooth = _reduce(smooth, reduction, "cross_entropy")
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / c)


def smooth_l1_loss(pred, target, reduction="mean", beta=1.0):
    """``½d²/β`` where d = |ŷ − y| < β, else ``d − ½β`` (β = 0: the L1 loss)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = (pred - _target(target, pred, "smooth_l1_loss")).abs()
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    small = d.data < beta
    return _reduce(engine.where(small, d * d * (0.5 / beta), d - 0.5 * beta), reduction,
                   "smooth_l1_loss")


def huber_loss(pred, target, reduction="mean", delta=1.0):
    """``½d²`` where d = |ŷ − y| < δ, else ``δ(d − ½δ)`` (= δ · smooth_l1 with β = δ)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = (pred - _target(target, pred, "huber_loss")).abs()
    small = d.data < delta
    return _reduce(engine.where(small, d * d * 0.5, (d - 0.5 * delta) * delta), reduction,
                   "huber_loss")


def kl_div(input, target, reduction="mean", log_target=False):
    """KL divergence with ``input`` = log-probabilities: pointwise ``y·(ln y − x)`` (0 where
    y = 0), or ``e^y·(y − x)`` with ``log_target=True``. ``reduction='batchmean'`` divides
    the sum by the batch size (the true KL per sample); 'mean' by the element count, as
    PyTorch."""
    y = _target(target, input, "kl_div")
    if log_target:
        loss = y.exp() * (y - input)
    else:
        pos = y.data > 0  # y·ln y → 0 as y → 0; log of 1 there keeps its gradient finite
        loss = engine.where(pos, y * engine.where(pos, y, 1.0).log(), 0.0) - y * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"kl_div: reduction must be 'batchmean', 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    return _reduce(loss, reduction, "kl_div")


def cosine_embedding_loss(x1, x2, target, margin=0.0, reduction="mean"):
    """``1 − cos(x1, x2)`` for y = 1, ``max(0, cos − margin)`` for y = −1 (rows of (N, D)
    inputs, or two vectors), cos with PyTorch's ε = 1e-12 inside the norms."""
    x1, x2 = _tensors(x1, x2)
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if not np.isin(y, (-1, 1)).all():
        raise ValueError("cosine_embedding_loss: targets must be 1 or −1")
    dim = 1 if x1.ndim == 2 else 0
    if x1.shape != x2.shape or x1.ndim not in (1, 2) or y.shape != x1.shape[:dim]:
        raise ValueError(f"cosine_embedding_loss: inputs of shapes {x1.shape}, {x2.shape} and "
                         f"target {y.shape}: expected (N, D), (N, D), (N) or (D), (D), ()")
    cos = (x1 * x2).sum(axis=dim) / (((x1 * x1).sum(axis=dim) + 1e-12)
                                     * ((x2 * x2).sum(axis=dim) + 1e-12)).sqrt()
    loss = (engine.where(y == 1, 1 - cos, 0.0)
            + engine.where(y == -1, (cos - margin).clamp(min=0), 0.0))
    return _reduce(loss, reduction, "cosine_embedding_loss")


def _pm_one(target, like, name):
    """Labels y ∈ {−1, +1} as a constant tensor of ``like``'s dtype (refused otherwise)."""
    y = _target(target, like, name, same_shape=False)
    if not np.isin(y.data, (-1, 1)).all():
        raise ValueError(f"{name}: targets must be 1 or −1")
    return y


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """``max(0, −y·(x1 − x2) + margin)``: y = 1 wants x1 ranked above x2, y = −1 below."""
    y = _pm_one(target, input1, "margin_ranking_loss")
    loss = (-y * (input1 - input2) + margin).clamp(min=0)
    return _reduce(loss, reduction, "margin_ranking_loss")


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """``x`` where y = 1, ``max(0, margin − x)`` where y = −1 (x a distance)."""
    y = _pm_one(target, input, "hinge_embedding_loss")
    loss = (engine.where(y.data == 1, input, 0.0)
            + engine.where(y.data == -1, (margin - input).clamp(min=0), 0.0))
    return _reduce(loss, reduction, "hinge_embedding_loss")


def soft_margin_loss(input, target, reduction="mean"):
    """``log(1 + e^(−y·x))`` (softplus, stable) for y ∈ {−1, +1}."""
    y = _pm_one(target, input, "soft_margin_loss")
    return _reduce((-y * input).softplus(threshold=float("inf")), reduction,
                   "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """``−mean_c [y·log σ(x) + (1 − y)·log σ(−x)]`` per sample (x (N, C), y in {0, 1})."""
    y = _target(target, input, "multilabel_soft_margin_loss")
    loss = -(y * input.logsigmoid() + (1 - y) * (-input).logsigmoid())
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(dim=-1), reduction, "multilabel_soft_margin_loss")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        reduction="mean"):
    """``max(d(a, p) − d(a, n) + margin, 0)`` with d the pairwise p-distance (ε added to
    the difference, as ``pairwise_distance``); ``swap``: d(a, n) becomes min(d(a, n),
    d(p, n)) (Balntas et al.)."""
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = engine.minimum(d_an, pairwise_distance(positive, negative, p, eps))
    return _reduce((d_ap - d_an + margin).clamp(min=0), reduction, "triplet_margin_loss")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """``½(log max(var, ε) + (x − y)² / max(var, ε))`` (+ ½ log 2π with ``full``): the
    negative log-likelihood of y under N(x, var). The clamp of var to ε does not stop its
    gradient (PyTorch clamps a copy without recording it)."""
    y = _target(target, input, "gaussian_nll_loss")
    v = var if isinstance(var, Tensor) else engine.from_numpy(np.asarray(var, input.dtype))
    if v.shape != input.shape:
        v = v.expand(*input.shape) if v.ndim == input.ndim else v.reshape(
            *(v.shape + (1,) * (input.ndim - v.ndim))).expand(*input.shape)
    if (v.data < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entries")
    v = v + engine.from_numpy(np.maximum(v.data, eps) - v.data)  # clamped value, var's grad
    loss = 0.5 * (v.log() + (input - y) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Poisson negative log-likelihood: ``e^x − y·x`` (``log_input``, x = log rate) or
    ``x − y·log(x + ε)``; ``full`` adds Stirling's ``y·log y − y + ½ log(2πy)`` where y > 1."""
    y = _target(target, input, "poisson_nll_loss")
    loss = input.exp() - y * input if log_input else input - y * (input + eps).log()
    if full:
        yd = y.data
        big = yd > 1
        safe = np.where(big, yd, 2.0)
        stirling = np.where(big, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe),
                            0.0).astype(input.dtype)
        loss = loss + engine.from_numpy(stirling)
    return _reduce(loss, reduction, "poisson_nll_loss")


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
