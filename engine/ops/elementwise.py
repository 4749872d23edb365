"""Elementwise ops. Each class holds the forward, the local derivative and its formula.

The ``local`` derivatives are written so they work on Python floats *and* numpy arrays:
``engine.Value`` (the scalar graph) uses exactly the same math as ``engine.Tensor``, so
the scalar graph teaches the tensor one (minitorch's ``log`` / ``log_back`` pairs).

Broadcasting is handled by the graph walk, not here: a binary op's backward returns
gradients of the broadcast shape and the walk sums them back to each input's shape.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Op

_INF = float("inf")


def _scalar_log(x):
    # IEEE semantics like numpy (log 0 = -inf, log of a negative = nan), not math's ValueError,
    # so the scalar and tensor graphs behave alike and detect_anomaly can report it.
    return math.log(x) if x > 0 else (-_INF if x == 0 else float("nan"))


def _scalar_exp(x):
    return math.exp(x) if x < 709.78 else _INF


def _scalar_sigmoid(x):
    # Stable on both sides: never exp of a large positive number.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _array_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


# ----------------------------------------------------------------------------- unary ops
class Unary(Op):
    """``out = f(x)``; ``dx = g · f'(x)`` with ``f'`` given by ``local(x, out)``."""

    array_fn = None   # numpy form (Tensor)
    scalar_fn = None  # float form (Value)

    def forward(self, x):
        out = type(self).array_fn(x)
        self.save(x, out)
        return out

    def backward(self, g):
        x, out = self.saved
        return (g * self.local(x, out),)

    @staticmethod
    def local(x, out):  # pragma: no cover - abstract
        raise NotImplementedError


class Neg(Unary):
    name, formula = "neg", "d(−u)/du = −1"
    array_fn, scalar_fn = staticmethod(np.negative), staticmethod(lambda x: -x)

    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)

    @staticmethod
    def local(x, out):
        return -1.0


class Exp(Unary):
    name, formula = "exp", "d(eᵘ)/du = eᵘ"
    array_fn, scalar_fn = staticmethod(np.exp), staticmethod(_scalar_exp)

    @staticmethod
    def local(x, out):
        return out


class Log(Unary):
    name, formula = "log", "d(ln u)/du = 1/u"
    array_fn, scalar_fn = staticmethod(np.log), staticmethod(_scalar_log)

    @staticmethod
    def local(x, out):
        return 1.0 / x


class Sqrt(Unary):
    name, formula = "sqrt", "d(√u)/du = 1/(2√u)"
    array_fn, scalar_fn = staticmethod(np.sqrt), staticmethod(math.sqrt)

    @staticmethod
    def local(x, out):
        return 0.5 / out


class Abs(Unary):
    name, formula = "abs", "d|u|/du = sign(u)"
    array_fn, scalar_fn = staticmethod(np.abs), staticmethod(abs)

    @staticmethod
    def local(x, out):
        return np.sign(x) if isinstance(x, np.ndarray) else float((x > 0) - (x < 0))


class Tanh(Unary):
    name, formula = "tanh", "d(tanh u)/du = 1 − tanh²u"
    array_fn, scalar_fn = staticmethod(np.tanh), staticmethod(math.tanh)

    @staticmethod
    def local(x, out):
        return 1.0 - out * out


class Sigmoid(Unary):
    name, formula = "sigmoid", "dσ(u)/du = σ(u)(1 − σ(u))"
    array_fn, scalar_fn = staticmethod(_array_sigmoid), staticmethod(_scalar_sigmoid)

    @staticmethod
    def local(x, out):
        return out * (1.0 - out)


class ReLU(Unary):
    name, formula = "relu", "d relu(u)/du = 1 if u > 0 else 0"
    array_fn = staticmethod(lambda x: np.maximum(x, 0).astype(x.dtype, copy=False))
    scalar_fn = staticmethod(lambda x: x if x > 0 else 0.0)

    def forward(self, x):
        out = np.maximum(x, 0).astype(x.dtype, copy=False)
        self.save(x, None)  # only the sign pattern of x is needed
        return out

    @staticmethod
    def local(x, out):
        return (x > 0).astype(x.dtype) if isinstance(x, np.ndarray) else float(x > 0)


class LeakyReLU(Op):
    name, formula = "leaky_relu", "d/du = 1 if u > 0 else slope"

    def forward(self, x, *, slope=0.01):
        self.slope = slope
        self.save(x)
        return np.where(x > 0, x, x * x.dtype.type(slope))

    def backward(self, g):
        (x,) = self.saved
        return (np.where(x > 0, g, g * g.dtype.type(self.slope)),)

    def describe(self):
        return f"slope={self.slope}"


class Clip(Op):
    name, formula = "clip", "d clip(u)/du = 1 inside [lo, hi], 0 outside"

    def forward(self, x, *, lo=None, hi=None):
        self.lo, self.hi = lo, hi
        self.save(x)
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved
        inside = np.ones(x.shape, bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return (g * inside,)

    def describe(self):
        return f"range=[{self.lo}, {self.hi}]"


# ---------------------------------------------------------------------------- binary ops
class Binary(Op):
    """``out = f(a, b)`` with numpy broadcasting; ``local(a, b, out)`` gives (∂out/∂a, ∂out/∂b)."""

    def forward(self, a, b):
        out = self.array_fn(a, b)
        self.save(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        da, db = self.local(a, b, out)
        return (g * da if self.needs_grad[0] else None,
                g * db if self.needs_grad[1] else None)


class Add(Binary):
    name, formula = "add", "d(a + b)/da = 1, d(a + b)/db = 1"
    array_fn = staticmethod(np.add)

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g

    @staticmethod
    def local(a, b, out):
        return 1.0, 1.0


class Sub(Binary):
    name, formula = "sub", "d(a − b)/da = 1, d(a − b)/db = −1"
    array_fn = staticmethod(np.subtract)

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g

    @staticmethod
    def local(a, b, out):
        return 1.0, -1.0


class Mul(Binary):
    name, formula = "mul", "d(a·b)/da = b, d(a·b)/db = a"
    array_fn = staticmethod(np.multiply)

    def forward(self, a, b):
        self.save(a, b, None)
        return a * b

    @staticmethod
    def local(a, b, out):
        return b, a


class Div(Binary):
    name, formula = "div", "d(a/b)/da = 1/b, d(a/b)/db = −a/b²"
    array_fn = staticmethod(np.divide)

    @staticmethod
    def local(a, b, out):
        return 1.0 / b, -out / b


class Pow(Binary):
    name, formula = "pow", "d(aᵇ)/da = b·aᵇ⁻¹, d(aᵇ)/db = aᵇ·ln a"
    array_fn = staticmethod(np.power)

    @staticmethod
    def local(a, b, out):
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            with np.errstate(divide="ignore", invalid="ignore"):
                # ln a only matters where the exponent needs a gradient; a ≤ 0 gives nan there.
                return b * a ** (b - 1), out * np.log(np.where(a > 0, a, np.nan))
        return b * a ** (b - 1), (out * math.log(a) if a > 0 else float("nan"))

    def backward(self, g):
        a, b, out = self.saved
        da = g * (b * a ** (b - 1)) if self.needs_grad[0] else None
        db = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                db = g * out * np.log(np.where(a > 0, a, np.nan)).astype(out.dtype)
        return da, db


class Maximum(Binary):
    name, formula = "maximum", "d max(a,b)/da = 1 where a > b (ties split ½–½)"

    def forward(self, a, b):
        self.save(a, b, None)
        return np.maximum(a, b)

    @staticmethod
    def local(a, b, out):
        # Ties split the gradient evenly, as PyTorch does for maximum/minimum.
        da = (a > b) + 0.5 * (a == b)
        return da.astype(a.dtype), (1 - da).astype(a.dtype)


class Minimum(Binary):
    name, formula = "minimum", "d min(a,b)/da = 1 where a < b (ties split ½–½)"

    def forward(self, a, b):
        self.save(a, b, None)
        return np.minimum(a, b)

    @staticmethod
    def local(a, b, out):
        da = (a < b) + 0.5 * (a == b)
        return da.astype(a.dtype), (1 - da).astype(a.dtype)


class Where(Op):
    name, formula = "where", "d where(c, a, b)/da = c, /db = ¬c"

    def forward(self, cond, a, b):
        self.save(cond.astype(bool))
        return np.where(cond.astype(bool), a, b)

    def backward(self, g):
        (c,) = self.saved
        zero = np.zeros((), g.dtype)
        return None, np.where(c, g, zero), np.where(c, zero, g)


SCALAR_OPS = {cls.name: cls for cls in (Neg, Exp, Log, Tanh, Sigmoid, ReLU, Add, Sub, Mul,
                                        Div, Pow)}
"""The ops engine.Value uses, by name: Value looks its local derivatives up here."""
