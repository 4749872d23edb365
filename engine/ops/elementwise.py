"""Elementwise ops: forward, backward and formula side by side, one class each.

``backward(g, x, out)`` gets the upstream gradient, the inputs and the output. It is written
once and serves ``Tensor`` (numpy arrays), ``Value`` (numbers) and ``create_graph=True``
(Tensors), so the scalar graph teaches the tensor one (minitorch's ``log`` / ``log_back``).
Broadcasting is the graph walk's business: a binary op returns gradients of the broadcast
shape and the walk sums them back to each input's shape.
"""
from __future__ import annotations

import math

import numpy as np

from .. import testing
from ..testing import Bad, T, away_from_zero, clip_safe, half_grid, normal, positive, spec
from . import xp
from .base import Op

_INF = float("inf")


def _scalar_log(x):
    # IEEE semantics like numpy (log 0 = -inf, log of a negative = nan), not math's ValueError,
    # so the scalar and tensor graphs behave alike and detect_anomaly can report it.
    return math.log(x) if x > 0 else (-_INF if x == 0 else float("nan"))


def _scalar_sigmoid(x):
    # Stable on both sides: never exp of a large positive number.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


# ----------------------------------------------------------------------------- unary ops
@spec(ref=np.negative)
class Neg(Op):
    name, formula, linear = "neg", "d(−u)/du = −1", True
    scalar = staticmethod(lambda x: -x)

    def forward(self, x):
        return -x

    def backward(self, g, x, out):
        return -g


@spec(ref=np.exp)
class Exp(Op):
    name, formula, float_only = "exp", "d(eᵘ)/du = eᵘ", True
    scalar = staticmethod(xp.exp_float)

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, x, out):
        return g * out


@spec(ref=np.log, domain=(positive,))
class Log(Op):
    name, formula, float_only = "log", "d(ln u)/du = 1/u", True
    scalar = staticmethod(_scalar_log)

    def forward(self, x):
        return np.log(x)

    def backward(self, g, x, out):
        return g / x


@spec(ref=np.sqrt, domain=(positive,))
class Sqrt(Op):
    name, formula, float_only = "sqrt", "d(√u)/du = 1/(2√u)", True
    scalar = staticmethod(lambda x: math.sqrt(x) if x >= 0 else float("nan"))

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g, x, out):
        return g * 0.5 / out


@spec(ref=np.abs, domain=(away_from_zero,))
class Abs(Op):
    name, formula = "abs", "d|u|/du = sign(u)"
    scalar = staticmethod(abs)

    def forward(self, x):
        return np.abs(x)

    def backward(self, g, x, out):
        return g * xp.sign(x)


@spec(ref=np.tanh)
class Tanh(Op):
    name, formula, float_only = "tanh", "d(tanh u)/du = 1 − tanh²u", True
    scalar = staticmethod(math.tanh)

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, x, out):
        return g * (1 - out * out)


@spec(ref=lambda x: 1 / (1 + np.exp(-x)))
class Sigmoid(Op):
    name, formula, float_only = "sigmoid", "dσ(u)/du = σ(u)(1 − σ(u))", True
    scalar = staticmethod(_scalar_sigmoid)

    def forward(self, x):
        return xp.sigmoid(x)

    def backward(self, g, x, out):
        return g * out * (1 - out)


@spec(ref=lambda x: np.maximum(x, 0), domain=(away_from_zero,))
class ReLU(Op):
    name, formula = "relu", "d relu(u)/du = 1 if u > 0 else 0"
    scalar = staticmethod(lambda x: x if x > 0 or x != x else 0.0)  # NaN stays NaN

    def forward(self, x):
        return xp.relu(x)  # np.maximum(x, 0); a parallel kernel on big arrays

    def backward(self, g, x, out):
        return xp.relu_grad(g, x)  # g where x > 0, else 0 (a select: inf there gives 0)


@spec(call=lambda x: x.leaky_relu(0.1), ref=lambda x: np.where(x > 0, x, 0.1 * x),
      domain=(away_from_zero,))
class LeakyReLU(Op):
    name, formula, float_only = "leaky_relu", "d/du = 1 if u > 0 else slope", True

    def forward(self, x, *, slope=0.01):
        self.slope = slope
        return np.where(x > 0, x, x * x.dtype.type(slope))

    def backward(self, g, x, out):
        return xp.where(x > 0, g, g * self.slope)

    def describe(self):
        return f"slope={self.slope}"


@spec(call=lambda x: x.clip(-1.0, 1.0), ref=lambda x: np.clip(x, -1, 1), domain=(clip_safe,),
      errors=(Bad(lambda: T(2).clip(), TypeError, r"clip: at least one of min or max"),))
class Clip(Op):
    """``min(max(u, lo), hi)`` (PyTorch's clamp; lo > hi gives hi). The bounds are inputs,
    numbers or tensors that broadcast with u; ``bounds`` names which are given ("lo", "hi").
    Dtypes join as for any op: an int tensor clamped at 2.5 becomes float (PyTorch's)."""

    name = "clip"
    formula = ("d clip(u, lo, hi)/du = 1 where lo ≤ u ≤ hi, else 0; d/dlo = 1 where u < lo "
               "(and lo < hi); d/dhi = 1 where u > hi (or hi < lo)")

    @staticmethod
    def args(lo, hi, op="clip"):
        """The inputs after ``u`` and the params for ``lo``/``hi`` (None: no such bound)."""
        if lo is None and hi is None:
            raise TypeError(f"{op}: at least one of min or max must not be None (as in PyTorch)")
        given = [(n, v) for n, v in (("lo", lo), ("hi", hi)) if v is not None]
        return [v for _, v in given], {"bounds": tuple(n for n, _ in given)}

    def forward(self, x, *values, bounds=("lo", "hi")):
        self.bounds = bounds
        b = dict(zip(bounds, values, strict=True))
        self.shown = [str(b[n].item()) if n in b and b[n].size == 1 else
                      "tensor" if n in b else "None" for n in ("lo", "hi")]
        out = x
        if "lo" in b:
            out = np.maximum(out, b["lo"])  # NaN in u or in a bound stays NaN, as PyTorch
        if "hi" in b:
            out = np.minimum(out, b["hi"])
        return np.asarray(out)

    def backward(self, g, x, *values, out):
        b = dict(zip(self.bounds, values, strict=True))
        lo, hi = b.get("lo"), b.get("hi")
        # PyTorch's masks (clamp_backward_min_max): ties go to u.
        inside = (x >= lo) & (x <= hi) if lo is not None and hi is not None else (
            x >= lo if lo is not None else x <= hi)
        grads = [xp.where(inside, g, 0.0) if self.needs_grad[0] else None]
        for i, name in enumerate(self.bounds, 1):
            if not self.needs_grad[i]:
                grads.append(None)
            elif name == "lo":
                grads.append(xp.where((x < lo) & (lo < hi) if hi is not None else x < lo,
                                      g, 0.0))
            else:
                grads.append(xp.where((x > hi) | (hi < lo) if lo is not None else x > hi,
                                      g, 0.0))
        return tuple(grads)

    def describe(self):
        return f"range=[{self.shown[0]}, {self.shown[1]}]"


testing.register(testing.OpSpec("clip_tensor_bounds", lambda x, lo, hi: x.clip(lo, hi),
                                lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), arity=3,
                                broadcast=True, ops=("clip",),
                                values=(half_grid(0.1), half_grid(0.4), half_grid(0.7))))
testing.register(testing.OpSpec("clip_tensor_min", lambda x, lo: x.clamp(min=lo), np.maximum,
                                arity=2, broadcast=True, ops=("clip",),
                                values=(half_grid(0.1), half_grid(0.4))))


class Step(Op):
    """Piecewise-constant functions: their derivative is 0 wherever it exists."""

    formula = "d/du = 0 (piecewise constant)"

    def backward(self, g, x, out):
        return g * 0


@spec(ref=np.floor, domain=(half_grid(0.25),))
class Floor(Step):
    name = "floor"
    forward = staticmethod(np.floor)


@spec(ref=np.ceil, domain=(half_grid(0.25),))
class Ceil(Step):
    name = "ceil"
    forward = staticmethod(np.ceil)


@spec(ref=np.trunc, domain=(half_grid(0.25),))
class Trunc(Step):
    name = "trunc"
    forward = staticmethod(np.trunc)


@spec(ref=np.sign, domain=(away_from_zero,))
class Sign(Step):
    name = "sign"

    def forward(self, x):
        return np.nan_to_num(np.sign(x), nan=0.0)  # sign(NaN) is 0 in PyTorch (numpy: NaN)


@spec(call=lambda x: x.round(1), ref=lambda x: np.round(x, 1), domain=(half_grid(0.03),))
class Round(Step):
    name = "round"

    def forward(self, x, *, decimals=0):
        self.decimals = decimals
        return np.round(x, decimals)  # half to even, as PyTorch


# ---------------------------------------------------------------------------- binary ops
@spec(ref=np.add, arity=2, broadcast=True,
      errors=(Bad(lambda: T(2, 3) + T(4), ValueError, r"add: .*\(2, ?3\).*\(4,\)"),))
class Add(Op):
    name, formula, linear = "add", "d(a + b)/da = 1, d(a + b)/db = 1", True
    scalar = staticmethod(lambda a, b: a + b)

    def forward(self, a, b):
        return a + b

    def backward(self, g, a, b, out):
        return g, g


@spec(ref=np.subtract, arity=2, broadcast=True)
class Sub(Op):
    name, formula, linear = "sub", "d(a − b)/da = 1, d(a − b)/db = −1", True
    scalar = staticmethod(lambda a, b: a - b)

    def forward(self, a, b):
        return a - b

    def backward(self, g, a, b, out):
        return g, -g


@spec(ref=np.multiply, arity=2, broadcast=True,
      errors=(Bad(lambda: T(3) * T(3, dtype=np.float64), TypeError,
                  r"mul: dtype mismatch float32 vs float64"),))
class Mul(Op):
    name, formula = "mul", "d(a·b)/da = b, d(a·b)/db = a"
    scalar = staticmethod(lambda a, b: a * b)

    def forward(self, a, b):
        return a * b

    def backward(self, g, a, b, out):
        return g * b, g * a


@spec(ref=np.divide, arity=2, broadcast=True, domain=(normal, away_from_zero))
class Div(Op):
    name, formula, float_only = "div", "d(a/b)/da = 1/b, d(a/b)/db = −a/b²", True
    scalar = staticmethod(lambda a, b: a / b)

    def forward(self, a, b):
        return a / b

    def backward(self, g, a, b, out):
        return g / b, -g * out / b


@spec(ref=np.power, arity=2, broadcast=True, domain=(positive, normal))
class Pow(Op):
    name, formula = "pow", "d(aᵇ)/da = b·aᵇ⁻¹, d(aᵇ)/db = aᵇ·ln a"
    scalar = staticmethod(lambda a, b: a ** b)

    def forward(self, a, b):
        return np.power(a, b)

    def backward(self, g, a, b, out):
        # PyTorch's conventions where the formulas give 0·∞: d(a⁰)/da = 0 (so polynomial
        # features x**0 have a gradient at x = 0) and d(0ᵇ)/db = 0 for b ≥ 0.
        da = db = None
        if self.needs_grad[0]:
            da = xp.where(b == 0, 0.0, g * b * a ** (b - 1))
        if self.needs_grad[1]:
            db = xp.where((a == 0) & (b >= 0), 0.0, g * out * xp.log(a))
        return da, db


@spec(call=lambda a, b: a.maximum(b), ref=np.maximum, arity=2, broadcast=True,
      domain=(half_grid(0.25), half_grid(0.75)))
class Maximum(Op):
    name, formula = "maximum", "d max(a,b)/da = 1 where a > b (ties split ½–½)"

    def forward(self, a, b):
        return np.maximum(a, b)

    def backward(self, g, a, b, out):
        return _pick(g, a > b, a == b), _pick(g, a < b, a == b)


@spec(call=lambda a, b: a.minimum(b), ref=np.minimum, arity=2, broadcast=True,
      domain=(half_grid(0.25), half_grid(0.75)))
class Minimum(Op):
    name, formula = "minimum", "d min(a,b)/da = 1 where a < b (ties split ½–½)"

    def forward(self, a, b):
        return np.minimum(a, b)

    def backward(self, g, a, b, out):
        return _pick(g, a < b, a == b), _pick(g, a > b, a == b)


def _pick(g, wins, tie):
    """maximum's and minimum's gradient for one input: g where it wins, g/2 on a tie (as
    PyTorch), else 0 -- selected, not g times the masks, which would make an inf in g NaN
    (inf·0) where the other input wins (``maximum(x, 0).sqrt()`` at x < 0)."""
    return xp.where(wins, g, xp.where(tie, g * 0.5, 0.0))


def _where_call(a, b, c):
    from ..functional import where
    return where(c.data > 0, a, b)


@spec(call=_where_call, ref=lambda a, b, c: np.where(c > 0, a, b), arity=3,
      shapes=lambda rng: ((3, 2), (2,), (3, 2)) if rng.random() < 0.5 else ((2,), (2,), (2,)),
      domain=(normal, normal, away_from_zero))
class Where(Op):
    name, formula, linear = "where", "d where(c, a, b)/da = c, /db = not c", True

    def forward(self, a, b, *, cond):
        self.cond = np.asarray(cond, bool)
        return np.where(self.cond, a, b)

    def backward(self, g, a, b, out):
        return xp.where(self.cond, g, 0.0), xp.where(self.cond, 0.0, g)
