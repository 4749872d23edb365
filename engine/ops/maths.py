"""More elementwise maths, PyTorch's names: trigonometric and hyperbolic functions, log1p,
expm1, erf, atan2, fmod, remainder (``%``), floor division (``//``), logaddexp, copysign.

Same protocol as ``elementwise.py``: ``backward`` is written once with operators and the
helpers of ``engine.ops.xp``, so it runs on arrays, on numbers (``Value``) and on Tensors
(``create_graph=True``). No float ``scalar`` forms yet: a ``Value`` runs these through
``forward`` on 0-d arrays (``Value(0.5).sin()`` works, a little slower).

Functions that are plain compositions of ops -- log2, log10, exp2, rsqrt, square, lerp, ...
-- are not op classes: they are defined at the end of this file and
registered for the same tests, so they are twice differentiable for free.
"""
from __future__ import annotations

import math

import numpy as np

from ..testing import Bad, OpSpec, T, away_from_zero, normal, positive, register, spec, unit
from . import xp
from .base import Op

_INV_SQRT_PI_2 = 2.0 / math.sqrt(math.pi)  # d erf(u)/du = 2/√π · e^(−u²)


def above_one(rng, shape):
    """In (1.2, 3): acosh."""
    return rng.uniform(1.2, 3.0, size=shape)


def above_minus_one(rng, shape):
    """In (−0.8, 3): log1p."""
    return rng.uniform(-0.8, 3.0, size=shape)


# --------------------------------------------------------------------- trigonometric
@spec(ref=np.sin)
class Sin(Op):
    name, formula, float_only = "sin", "d(sin u)/du = cos u", True

    def forward(self, x):
        return np.sin(x)

    def backward(self, g, x, out):
        return g * xp.cos(x)


@spec(ref=np.cos)
class Cos(Op):
    name, formula, float_only = "cos", "d(cos u)/du = −sin u", True

    def forward(self, x):
        return np.cos(x)

    def backward(self, g, x, out):
        return -g * xp.sin(x)


def _moderate(rng, shape):
    """In (−1.2, 1.2): tan away from its poles at ±π/2."""
    return rng.uniform(-1.2, 1.2, size=shape)


@spec(ref=np.tan, domain=(_moderate,))
class Tan(Op):
    name, formula, float_only = "tan", "d(tan u)/du = 1 + tan²u", True

    def forward(self, x):
        return np.tan(x)

    def backward(self, g, x, out):
        return g * (1 + out * out)


@spec(ref=np.arcsin, domain=(unit,))
class Asin(Op):
    name, formula, float_only = "asin", "d(asin u)/du = 1/√(1 − u²)", True

    def forward(self, x):
        return np.arcsin(x)

    def backward(self, g, x, out):
        return g / xp.sqrt(1 - x * x)


@spec(ref=np.arccos, domain=(unit,))
class Acos(Op):
    name, formula, float_only = "acos", "d(acos u)/du = −1/√(1 − u²)", True

    def forward(self, x):
        return np.arccos(x)

    def backward(self, g, x, out):
        return -g / xp.sqrt(1 - x * x)


@spec(ref=np.arctan)
class Atan(Op):
    name, formula, float_only = "atan", "d(atan u)/du = 1/(1 + u²)", True

    def forward(self, x):
        return np.arctan(x)

    def backward(self, g, x, out):
        return g / (1 + x * x)


@spec(call=lambda y, x: y.atan2(x), ref=np.arctan2, arity=2, broadcast=True,
      domain=(away_from_zero, away_from_zero))
class Atan2(Op):
    name, float_only = "atan2", True
    formula = "d atan2(y, x)/dy = x/(x² + y²), /dx = −y/(x² + y²); 0 at the origin"

    def forward(self, y, x):
        return np.arctan2(y, x)

    def backward(self, g, y, x, out):
        r2 = x * x + y * y
        r2 = xp.where(r2 == 0, 1.0, r2)  # at y = x = 0 both gradients are 0, as PyTorch's
        return g * x / r2, -g * y / r2


# ------------------------------------------------------------------------ hyperbolic
@spec(ref=np.sinh)
class Sinh(Op):
    name, formula, float_only = "sinh", "d(sinh u)/du = cosh u", True

    def forward(self, x):
        return np.sinh(x)

    def backward(self, g, x, out):
        return g * xp.cosh(x)


@spec(ref=np.cosh)
class Cosh(Op):
    name, formula, float_only = "cosh", "d(cosh u)/du = sinh u", True

    def forward(self, x):
        return np.cosh(x)

    def backward(self, g, x, out):
        return g * xp.sinh(x)


@spec(ref=np.arcsinh)
class Asinh(Op):
    name, formula, float_only = "asinh", "d(asinh u)/du = 1/√(u² + 1)", True

    def forward(self, x):
        return np.arcsinh(x)

    def backward(self, g, x, out):
        return g / xp.sqrt(x * x + 1)


@spec(ref=np.arccosh, domain=(above_one,))
class Acosh(Op):
    name, formula, float_only = "acosh", "d(acosh u)/du = 1/√(u² − 1)", True

    def forward(self, x):
        return np.arccosh(x)

    def backward(self, g, x, out):
        return g / xp.sqrt(x * x - 1)


@spec(ref=np.arctanh, domain=(unit,))
class Atanh(Op):
    name, formula, float_only = "atanh", "d(atanh u)/du = 1/(1 − u²)", True

    def forward(self, x):
        return np.arctanh(x)

    def backward(self, g, x, out):
        return g / (1 - x * x)


# ------------------------------------------------------------- logs, exps and erf
@spec(ref=np.log1p, domain=(above_minus_one,))
class Log1p(Op):
    name, formula, float_only = "log1p", "d ln(1 + u)/du = 1/(1 + u)", True

    def forward(self, x):
        return np.log1p(x)

    def backward(self, g, x, out):
        return g / (1 + x)


@spec(ref=np.expm1)
class Expm1(Op):
    name, formula, float_only = "expm1", "d(eᵘ − 1)/du = eᵘ", True

    def forward(self, x):
        return np.expm1(x)

    def backward(self, g, x, out):
        return g * (out + 1)


_ERF = []  # the compiled ufunc, built on first use (compiling costs ~0.3 s)


def erf_array(x):
    """The error function of an array, elementwise (libm's erf through a Numba ufunc: numpy
    has none, and scipy is not a dependency)."""
    if not _ERF:
        import numba

        # float32 first: a ufunc takes the first loop its input casts to safely
        @numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
        def erf(v):
            return math.erf(v)
        _ERF.append(erf)
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    return _ERF[0](x)


@spec(ref=np.vectorize(math.erf, otypes=[float]))
class Erf(Op):
    name, formula, float_only = "erf", "d erf(u)/du = 2/√π · e^(−u²)", True

    def forward(self, x):
        return erf_array(x)

    def backward(self, g, x, out):
        return g * _INV_SQRT_PI_2 * xp.exp(-(x * x))


# ---------------------------------------------------------- remainders and division
def _check_int_divisor(op, a, b):
    if np.asarray(b).dtype.kind in "iub" and np.asarray(a).dtype.kind in "iub" \
            and (np.asarray(b) == 0).any():
        raise ZeroDivisionError(f"{op}: integer division by zero (a divisor is 0)")


def dividend(rng, shape):
    """Half-integers ±(0.5 … 3.5) with a small jitter: with a divisor from ``divisor``,
    a/b stays ≥ 0.13 away from an integer (where fmod and remainder jump)."""
    return (rng.integers(0, 4, size=shape) + 0.5 + rng.uniform(-0.05, 0.05, size=shape)) \
        * rng.choice([-1.0, 1.0], size=shape)


def divisor(rng, shape):
    return rng.uniform(1.0, 1.1, size=shape) * rng.choice([-1.0, 1.0], size=shape)


@spec(call=lambda a, b: a.fmod(b), ref=np.fmod, arity=2, broadcast=True,
      domain=(dividend, divisor),
      errors=(Bad(lambda: T(2, dtype=np.int64).fmod(T(2, dtype=np.int64) * 0), ZeroDivisionError,
                  r"fmod: integer division by zero"),))
class Fmod(Op):
    name = "fmod"
    formula = "a − trunc(a/b)·b: d/da = 1, d/db = −trunc(a/b)"

    def forward(self, a, b):
        _check_int_divisor("fmod", a, b)
        return np.fmod(a, b)  # the sign of the dividend (C's fmod)

    def backward(self, g, a, b, out):
        return g, -g * xp.trunc(a / b)


@spec(call=lambda a, b: a % b, ref=np.remainder, arity=2, broadcast=True,
      domain=(dividend, divisor))
class Remainder(Op):
    name = "remainder"
    formula = "a − floor(a/b)·b: d/da = 1, d/db = −floor(a/b)"

    def forward(self, a, b):
        _check_int_divisor("remainder", a, b)
        return np.remainder(a, b)  # the sign of the divisor (Python's %)

    def backward(self, g, a, b, out):
        return g, -g * xp.floor(a / b)


@spec(call=lambda a, b: a // b, ref=np.floor_divide, arity=2, broadcast=True,
      domain=(dividend, divisor))
class FloorDivide(Op):
    name = "floor_divide"
    formula = "floor(a/b) is piecewise constant: d/da = d/db = 0"

    def forward(self, a, b):
        _check_int_divisor("floor_divide", a, b)
        return np.floor_divide(a, b)  # exact: 1 // 0.1 is 9, not floor(1/0.1) = 10

    def backward(self, g, a, b, out):
        return g * 0, g * 0


# ------------------------------------------------------------------ two-input smooth ops
@spec(call=lambda a, b: a.logaddexp(b), ref=np.logaddexp, arity=2, broadcast=True)
class LogAddExp(Op):
    name, float_only = "logaddexp", True
    formula = "d ln(eᵃ + eᵇ)/da = e^(a − out), /db = e^(b − out)"

    def forward(self, a, b):
        return np.logaddexp(a, b)  # max(a, b) + log1p(e^(−|a − b|)): never overflows

    def backward(self, g, a, b, out):
        return g * xp.exp(a - out), g * xp.exp(b - out)


@spec(call=lambda a, b: a.copysign(b), ref=np.copysign, arity=2, broadcast=True,
      domain=(away_from_zero, away_from_zero))
class CopySign(Op):
    name, float_only = "copysign", True
    formula = "|a| with b's sign: d/da = ±1 (sign(a)·sign(out)), d/db = 0"

    def forward(self, a, b):
        return np.copysign(a, b)

    def backward(self, g, a, b, out):
        # PyTorch's rule: out/a, and 0 where a = 0.
        safe = xp.where(a == 0, 1.0, a)
        return xp.where(a == 0, 0.0, g * out / safe), g * 0


# ------------------------------------------------------------------ compositions
_LN2, _LN10 = math.log(2.0), math.log(10.0)


def log2(x):
    """log₂ u = ln u / ln 2."""
    return x.log() * (1 / _LN2)


def log10(x):
    """log₁₀ u = ln u / ln 10."""
    return x.log() * (1 / _LN10)


def exp2(x):
    """2ᵘ = e^(u·ln 2)."""
    return (x * _LN2).exp()


def rsqrt(x):
    """1/√u."""
    return 1 / x.sqrt()


def square(x):
    """u² as u·u (exact; pow would go through a log for its exponent's gradient)."""
    return x * x


def lerp(start, end, weight):
    """``start + weight·(end − start)``; weight a number or a tensor (broadcasting)."""
    return start + weight * (end - start)


def _composite(name, fn, ref, domain=(normal,), arity=1, broadcast=False, **kw):
    register(OpSpec(name, fn, ref, arity=arity, broadcast=broadcast, values=domain, **kw))


_composite("log2", lambda x: x.log2(), np.log2, (positive,))
_composite("log10", lambda x: x.log10(), np.log10, (positive,))
_composite("exp2", lambda x: x.exp2(), np.exp2)
_composite("rsqrt", lambda x: x.rsqrt(), lambda x: 1 / np.sqrt(x), (positive,))
_composite("square", lambda x: x.square(), np.square)
_composite("lerp", lambda a, b, w: a.lerp(b, w), lambda a, b, w: a + w * (b - a), arity=3,
           broadcast=True)
_composite("div_trunc", lambda a, b: a.div(b, rounding_mode="trunc"),
           lambda a, b: np.trunc(a / b), (dividend, divisor), arity=2, broadcast=True)
_composite("reciprocal", lambda x: x.reciprocal(), np.reciprocal, (away_from_zero,))
