"""Binary cross-entropy of probabilities as one op, with PyTorch's clamps (its CPU kernel):
each log is clamped at −100 in the forward, and the gradient divides by max(p(1 − p), 1e-12),
so p = 0 or 1 gives a finite loss (100 at worst) and a finite gradient, as in PyTorch.

Composed from log and clamp instead, p = 0 would give 0·∞ = NaN in the gradient: hence an op.
``nn.functional.binary_cross_entropy`` calls it (and adds weight and reduction)."""
from __future__ import annotations

import numpy as np

from ..testing import Bad, T, spec
from . import xp
from .base import Op

LOG_FLOOR = -100.0  # PyTorch's clamp of each log term
# PyTorch's floor of p(1 − p) in the gradient's denominator: 1e-12 as a C float, so
# 9.99999996e-13 (dL/dp at p = 0, y = 1 is −1.000000004e12 in float64, as PyTorch's).
GRAD_EPS = float(np.float32(1e-12))


def _bce_ref(p, y):
    """The textbook formula, −[y ln p + (1 − y) ln(1 − p)] (the registry draws p in
    [0.05, 0.95], where the op's clamps are inactive)."""
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _probs(rng, shape):
    """p in [0.05, 0.95]: away from the clamps (their kinks) and from 0 and 1."""
    return rng.uniform(0.05, 0.95, size=shape)


def _targets(rng, shape):
    return rng.uniform(0.0, 1.0, size=shape)


def _check(p, y):
    """Same shapes (an (N, 1) against an (N,) would broadcast to (N, N)), values in [0, 1]
    (NaN refused): PyTorch's rules, whoever calls the op."""
    if p.shape != y.shape:
        raise ValueError(f"binary_cross_entropy: input shape {p.shape} and target shape "
                         f"{y.shape} differ (reshape one: silent broadcasting would give a "
                         f"wrong loss)")
    for a, what, hint in ((p, "probabilities (the input)",
                           " (for logits use binary_cross_entropy_with_logits)"),
                          (y, "targets", "")):
        bad = ~((a >= 0) & (a <= 1))
        if bad.any():
            raise ValueError(f"binary_cross_entropy: all {what} must be in [0, 1], got "
                             f"{float(a[bad].flat[0])!r} ({int(bad.sum())} of {a.size} "
                             f"outside){hint}")


@spec(ref=_bce_ref, arity=2, domain=(_probs, _targets),
      errors=(Bad(lambda: BinaryCrossEntropy.apply(T(3, 1) * 0.5, T(3)), ValueError,
                  r"binary_cross_entropy: input shape \(3, 1\) and target shape \(3,\) differ"),
              Bad(lambda: BinaryCrossEntropy.apply(T(2) * 1.5, T(2)), ValueError,
                  r"binary_cross_entropy: all probabilities \(the input\) must be in \[0, 1\], "
                  r"got 1.5 \(2 of 2 outside\) \(for logits")))
class BinaryCrossEntropy(Op):
    """Elementwise binary cross-entropy of probabilities p against targets y (same shape,
    both in [0, 1]), PyTorch's clamped form::

        L = −[y·max(ln p, −100) + (1 − y)·max(ln(1 − p), −100)]
        dL/dp = (p − y) / max(p(1 − p), 1e-12)        dL/dy = −logit p = −ln(p/(1 − p))

    (the target's gradient is unclamped, ±inf at p = 0 or 1, as PyTorch's; ln(1 − p) is
    numpy's log1p(−p) in the forward, PyTorch's choice)."""

    name, float_only = "binary_cross_entropy", True
    formula = "dL/dp = (p − y)/max(p(1 − p), 1e-12);  dL/dy = −ln(p/(1 − p))"

    def forward(self, p, y):
        _check(p, y)
        with np.errstate(divide="ignore"):
            out = (y - 1) * np.maximum(np.log1p(-p), LOG_FLOOR) \
                - y * np.maximum(np.log(p), LOG_FLOOR)
        return out.astype(p.dtype, copy=False)

    def backward(self, g, p, y, out):
        dp = g * (p - y) / xp.clamp_min((1 - p) * p, GRAD_EPS) if self.needs_grad[0] else None
        if not self.needs_grad[1]:
            return dp, None
        with np.errstate(divide="ignore"):
            return dp, g * -xp.log(p / (1 - p))
