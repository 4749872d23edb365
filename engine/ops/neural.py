"""softmax and log_softmax along an axis, stable for large |x| (max subtracted first), and the
softmax cross-entropy of integer labels as one op."""
from __future__ import annotations

import numpy as np

from ..fast.kernels import KERNEL_DTYPES
from ..fast.kernels import softmax as softmax_kernels
from ..testing import Bad, T, axis_param, spec
from . import xp
from .base import Op, norm_axis


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@spec(call=lambda x, axis: x.softmax(axis), ref=_softmax, params=axis_param, min_dims=1)
class Softmax(Op):
    name, formula, float_only = "softmax", "dy/du = y ⊙ (g − Σ g·y)  with y = softmax(u)", True

    def forward(self, x, *, axis=-1):
        self.axis = norm_axis("softmax", axis, x.shape)
        if x.size == 0:
            return x.copy()
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, g, x, out):
        return out * (g - (g * out).sum(axis=self.axis, keepdims=True))


@spec(call=lambda x, axis: x.log_softmax(axis), ref=lambda x, axis: np.log(_softmax(x, axis)),
      params=axis_param, min_dims=1)
class LogSoftmax(Op):
    name, formula, float_only = "log_softmax", "d/du = g − softmax(u) · Σ g", True

    def forward(self, x, *, axis=-1):
        self.axis = norm_axis("log_softmax", axis, x.shape)
        if x.size == 0:
            return x.copy()
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, g, x, out):
        return g - xp.exp(out) * g.sum(axis=self.axis, keepdims=True)


def _ce_shapes(rng):
    c = int(rng.integers(1, 5))
    lead = [(), (int(rng.integers(1, 5)),), (int(rng.integers(1, 4)), c, int(rng.integers(1, 4)))]
    shape = lead[int(rng.integers(0, 3))]
    return ((c,) if shape == () else shape if len(shape) == 3 else shape + (c,)),


def _ce_params(rng, shapes):
    shape = shapes[0]
    axis = 0 if len(shape) == 1 else 1
    lshape = shape[:axis] + shape[axis + 1:]
    return {"labels": rng.integers(0, shape[axis], size=lshape),
            "reduction": ("mean", "sum")[int(rng.integers(0, 2))]}


def _ce_ref(x, labels, reduction):
    axis = 0 if x.ndim == 1 else 1
    logp = np.log(_softmax(x, axis))
    picked = np.take_along_axis(logp, np.expand_dims(labels, axis), axis)
    return -picked.mean() if reduction == "mean" else -picked.sum()


def _check_labels(x, labels, axis, reduction):
    """The op indexes rows by label (a Numba loop, no bounds check): anything else than
    integer labels in [0, C) of x's shape without the class axis is refused here, whoever
    calls the op (``F.cross_entropy`` has checked them already, with its own messages)."""
    labels = np.asarray(labels)
    want = x.shape[:axis] + x.shape[axis + 1:]
    if x.ndim == 0 or labels.dtype.kind not in "iu" or labels.shape != want or not labels.size:
        raise ValueError(f"cross_entropy: integer labels of shape {want} expected for input "
                         f"{x.shape}, got {labels.dtype} labels of shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= x.shape[axis]:
        raise ValueError(f"cross_entropy: labels must be in [0, {x.shape[axis]}), got "
                         f"{labels.min()} … {labels.max()}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"cross_entropy: reduction must be 'mean' or 'sum', got {reduction!r}")


@spec(call=lambda x, labels, reduction: CrossEntropy.apply(x, labels=labels, reduction=reduction),
      ref=_ce_ref, shapes=_ce_shapes, params=_ce_params,
      errors=(Bad(lambda: CrossEntropy.apply(T(2, 3), labels=np.array([0, 3])), ValueError,
                  r"cross_entropy: labels must be in \[0, 3\), got 0 … 3"),
              Bad(lambda: CrossEntropy.apply(T(2, 3), labels=np.array([0.0, 1.0])), ValueError,
                  r"cross_entropy: integer labels of shape \(2,\) expected .*float64"),
              Bad(lambda: CrossEntropy.apply(T(2, 3), labels=np.array([0, 1]), reduction="none"),
                  ValueError, r"reduction must be 'mean' or 'sum'")))
class CrossEntropy(Op):
    """Softmax cross-entropy of integer labels, one op: ``F.cross_entropy``'s training case
    (no class weights, no ignored labels, no smoothing, 'mean' or 'sum').

    x (C,), (N, C) or (N, C, d1, …) with the classes on axis 0 (1-D) or 1; labels the shape
    of x without that axis, each in [0, C) (``F.cross_entropy`` checks them). With
    log p = log_softmax(x) and M the number of labels (1 for 'sum')::

        L = −(1/M)·Σ log p[y]            dL/dx = (softmax(x) − onehot(y))·g/M

    One node where log_softmax, gather, sum and divide are four: a classifier's loss was a
    tenth of the course MLP's training step in Python overhead. The backward is written with
    operators (softmax and a constant one-hot on Tensors under ``create_graph``), so second
    derivatives go through it."""

    name, float_only = "cross_entropy", True
    formula = "L = −mean log softmax(x)[y];  dL/dx = (softmax(x) − onehot(y))·g/M"

    def forward(self, x, *, labels, reduction="mean"):
        axis = self.axis = 0 if x.ndim == 1 else 1
        _check_labels(x, labels, axis, reduction)
        self.labels = np.array(labels, np.intp)  # x's shape without the axis, contiguous
        self.reduction, self.scale = reduction, 1 / labels.size if reduction == "mean" else 1.0
        self.rows = x.ndim == 2 and x.dtype in KERNEL_DTYPES and x.flags.c_contiguous
        if self.rows:  # (N, C): one pass per row (engine/fast/kernels/softmax.py)
            logp = np.empty_like(x)
            total = softmax_kernels.cross_entropy_forward(x, self.labels, logp)
        else:
            shifted = x - x.max(axis=axis, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
            total = np.take_along_axis(logp, self._along(), axis).sum()
        self.save(logp)
        return np.asarray(total / -labels.size if reduction == "mean" else -total, x.dtype)

    def backward(self, g, x, out):
        if isinstance(x, np.ndarray) and self.rows:
            logp = self.saved[0]
            d = np.empty_like(logp)
            softmax_kernels.cross_entropy_backward(logp, self.labels,
                                                   logp.dtype.type(g * self.scale), d)
            return d
        if isinstance(x, np.ndarray):
            d, at = np.exp(self.saved[0]), self._along()
            np.put_along_axis(d, at, np.take_along_axis(d, at, self.axis) - 1, self.axis)
            return d * (g * self.scale).astype(d.dtype, copy=False)
        onehot = np.zeros(x.shape, x.dtype)  # create_graph: the same formula on Tensors
        np.put_along_axis(onehot, self._along(), 1, self.axis)
        return (x.softmax(axis=self.axis) - onehot) * (g * self.scale)

    def _along(self):
        """The labels with the class axis added back, for numpy's *_along_axis."""
        return np.expand_dims(self.labels, self.axis)

    def describe(self):
        return f"{self.labels.size} labels, {self.reduction}"
