"""Activation functions with PyTorch's names, formulas and gradients at the kinks.

Two need an op class: ``softplus`` (stable for large inputs, PyTorch's ``threshold``) and
``hardtanh`` (its gradient is 0 *at* the bounds, where ``clip``'s is 1, as PyTorch's clamp).
The others are compositions of ops (each a function here, a Tensor method and an
``nn.functional`` entry), so their gradients -- first and second -- follow from the ops'.
At a kink they give what PyTorch gives: elu'(0) = α, relu6'(0) = relu6'(6) = 0,
hardswish'(−3) = 0 and hardswish'(3) = 1 (the tests compare them there).
"""
from __future__ import annotations

import math

import numpy as np

from ..testing import Bad, OpSpec, T, away_from_zero, clip_safe, normal, register, spec
from . import xp
from .base import Op


def _softplus_ref(x, beta=1.0, threshold=20.0):
    z = beta * x
    return np.where(z > threshold, x, np.log1p(np.exp(np.minimum(z, threshold))) / beta)


def _softplus_domain(rng, shape):
    """Normal values, and some beyond the threshold 20 (but not at it: the output switches
    there)."""
    x = rng.standard_normal(shape) * 2
    return np.where(rng.random(shape) < 0.2, rng.uniform(21, 25, size=shape), x)


@spec(call=lambda x, **p: x.softplus(**p), ref=_softplus_ref, domain=(_softplus_domain,),
      params=lambda rng, shapes: {"beta": float(rng.choice([1.0, 0.5])), "threshold": 20.0})
class Softplus(Op):
    name, float_only = "softplus", True
    formula = "d softplus(u)/du = σ(βu) (= 1 where βu > threshold, where out = u)"

    def forward(self, x, *, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold
        z = x * x.dtype.type(beta)
        # ln(1 + eᶻ) = max(z, 0) + ln(1 + e^(−|z|)): never overflows.
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / x.dtype.type(beta)
        return np.where(z > threshold, x, soft)

    def backward(self, g, x, out):
        z = x * self.beta
        return xp.where(z > self.threshold, g, g * xp.sigmoid(z))

    def describe(self):
        return f"beta={self.beta}, threshold={self.threshold}"


@spec(call=lambda x: x.hardtanh(), ref=lambda x: np.clip(x, -1, 1), domain=(clip_safe,),
      errors=(Bad(lambda: T(2).hardtanh(1.0, -1.0), ValueError,
                  r"hardtanh: min_val 1.0 must not exceed max_val -1.0"),))
class Hardtanh(Op):
    name = "hardtanh"
    formula = "d hardtanh(u)/du = 1 strictly inside (min_val, max_val), 0 elsewhere"

    def forward(self, x, *, min_val=-1.0, max_val=1.0):
        if min_val > max_val:
            raise ValueError(f"hardtanh: min_val {min_val} must not exceed max_val {max_val}")
        self.lo, self.hi = min_val, max_val
        return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)

    def backward(self, g, x, out):
        # selected, not multiplied by the mask: an inf in g gives 0 outside, as PyTorch's
        return xp.where((x > self.lo) & (x < self.hi), g, 0.0)

    def describe(self):
        return f"range=({self.lo}, {self.hi})"


# ---------------------------------------------------------------------- compositions
_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def gelu(x, approximate="none"):
    """``u·Φ(u)`` = ½u(1 + erf(u/√2)); ``approximate='tanh'``:
    ½u(1 + tanh(√(2/π)(u + 0.044715u³)))."""
    if approximate == "none":
        return x * 0.5 * (1 + (x * _SQRT_HALF).erf())
    if approximate == "tanh":
        return x * 0.5 * (1 + ((x + x * x * x * 0.044715) * _SQRT_2_OVER_PI).tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def elu(x, alpha=1.0):
    """``u`` where u > 0, else α(eᵘ − 1). (The exponential sees min(u, 0) only, so a large u
    never gives inf·0 = NaN in the gradient.)"""
    return xp.where(x.data > 0, x, x.clamp(max=0).expm1() * alpha)


def selu(x):
    """``scale · elu(u, α)`` with PyTorch's (self-normalising) constants."""
    return elu(x, SELU_ALPHA) * SELU_SCALE


def celu(x, alpha=1.0):
    """``u`` where u > 0, else α(e^(u/α) − 1)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides the input)")
    return xp.where(x.data > 0, x, (x.clamp(max=0) * (1 / alpha)).expm1() * alpha)


def silu(x):
    """``u·σ(u)`` (swish)."""
    return x * x.sigmoid()


def mish(x):
    """``u·tanh(softplus(u))``."""
    return x * x.softplus().tanh()


def relu6(x):
    """``min(max(u, 0), 6)`` (hardtanh(u, 0, 6): gradient 0 at 0 and at 6, as PyTorch)."""
    return x.hardtanh(0.0, 6.0)


def hardsigmoid(x):
    """``relu6(u + 3)/6``."""
    return (x + 3).hardtanh(0.0, 6.0) * (1 / 6)


def hardswish(x):
    """``u · relu6(u + 3)/6``."""
    return x * hardsigmoid(x)


def logsigmoid(x):
    """``ln σ(u) = −softplus(−u)`` (stable for large |u|; exact: no softplus threshold)."""
    return -(-x).softplus(threshold=float("inf"))


def softsign(x):
    """``u / (1 + |u|)``."""
    return x / (x.abs() + 1)


def softmin(x, dim):
    """``softmax(−u)`` along ``dim``."""
    return (-x).softmax(dim)


def prelu(x, weight):
    """``u`` where u > 0, else w·u; ``weight`` has 1 entry or one per channel (dim 1)."""
    n = weight.numel()
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be 1-D (1 or C entries), got shape {weight.shape}")
    if n != 1:
        channels = x.shape[1] if x.ndim >= 2 else x.shape[0] if x.ndim == 1 else 1
        if n != channels:
            raise ValueError(f"prelu: weight has {n} entries but the input of shape {x.shape} "
                             f"has {channels} channels (dim 1); use 1 or {channels} entries")
        if x.ndim >= 2:
            weight = weight.reshape((1, n) + (1,) * (x.ndim - 2))
    return xp.where(x.data > 0, x, weight * x)


def normalize(x, p=2.0, dim=1, eps=1e-12):
    """``u / max(‖u‖_p, eps)`` along ``dim`` (unit vectors; a zero vector stays zero)."""
    return x / x.norm(p, dim=dim, keepdim=True).clamp(min=eps)


def _act(name, call, ref, domain=(away_from_zero,), **kw):
    register(OpSpec(name, call, ref, values=domain, **kw))


def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)


def _elu_ref(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0, x)


def _axis(rng, shapes):
    n = len(shapes[0])
    return {"dim": int(rng.integers(-n, n))}


def _prelu_shapes(rng):
    return ((int(rng.integers(1, 4)), 3, int(rng.integers(1, 4))), (3,) if rng.random() < 0.5
            else (1,))


def _prelu_ref(x, w):
    w = w.reshape((1, -1, 1)) if w.size > 1 else w
    return np.where(x > 0, x, w * x)


def _normalize_ref(x, dim):
    return x / np.maximum(np.sqrt((x * x).sum(axis=dim, keepdims=True)), 1e-12)


def _hard_values(kinks, lo=-5.0, hi=5.0):
    def make(rng, shape):
        x = rng.uniform(lo, hi, size=shape)
        for k in kinks:  # push values within 0.2 of a kink 0.4 away from it
            near = np.abs(x - k) < 0.2
            x = np.where(near, np.where(x >= k, x + 0.4, x - 0.4), x)
        return x
    return make


_act("gelu", lambda x: x.gelu(), lambda x: x * 0.5 * (1 + _erf(x / np.sqrt(2))), (normal,))
_act("gelu_tanh", lambda x: x.gelu(approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), (normal,),
     errors=(Bad(lambda: T(2).gelu(approximate="erf"), ValueError,
                 r"gelu: approximate must be 'none' or 'tanh', got 'erf'"),))
_act("elu", lambda x: x.elu(0.7), lambda x: _elu_ref(x, 0.7))
_act("selu", lambda x: x.selu(), lambda x: SELU_SCALE * _elu_ref(x, SELU_ALPHA))
_act("celu", lambda x: x.celu(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(
    np.minimum(x, 0) / 0.5)))
_act("silu", lambda x: x.silu(), lambda x: x * _sigmoid(x), (normal,))
_act("mish", lambda x: x.mish(), lambda x: x * np.tanh(_softplus(x)), (normal,))
_act("relu6", lambda x: x.relu6(), lambda x: np.clip(x, 0, 6), (_hard_values((0.0, 6.0), -2, 8),))
_act("hardsigmoid", lambda x: x.hardsigmoid(), lambda x: np.clip(x + 3, 0, 6) / 6,
     (_hard_values((-3.0, 3.0)),))
_act("hardswish", lambda x: x.hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6,
     (_hard_values((-3.0, 3.0)),))
_act("logsigmoid", lambda x: x.logsigmoid(), lambda x: -_softplus(-x), (normal,))
_act("softsign", lambda x: x.softsign(), lambda x: x / (1 + np.abs(x)))
_act("softmin", lambda x, dim: x.softmin(dim), lambda x, dim: np.exp(-x - np.log(np.exp(
    -x).sum(axis=dim, keepdims=True))), (normal,), params=_axis, min_dims=1)
_act("prelu", lambda x, w: x.prelu(w), _prelu_ref, (away_from_zero, normal), arity=2,
     shapes=_prelu_shapes)
_act("normalize", lambda x, dim: x.normalize(dim=dim), _normalize_ref, (normal,), params=_axis,
     min_dims=1)
