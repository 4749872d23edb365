"""Value: the scalar graph (micrograd's idea, running the very op classes Tensor uses).

A ``Value`` holds one float. Operators and methods build a graph of Values; ``backward()``
fills ``.grad`` of every node reachable from the root.

Design notes (why it looks like this):
- No closure per node. micrograd stores a ``_backward`` closure on every node, which makes
  every node a reference cycle; on this machine >90 % of graph-building time then goes to
  Python's cycle collector. Here a node stores its op (one shared instance per op class),
  whose ``backward`` -- the same formula the Tensor op uses -- runs at backward time.
- ``parents`` is an ordered tuple, never a set: ``a * a`` keeps both edges.
- The graph walk is iterative (``engine.autograd``): a 10⁶-node chain backpropagates fine.
- Leaf gradients accumulate across ``backward()`` calls until you zero them (PyTorch's rule);
  intermediate gradients are recomputed on each call, so they never compound.
- Every op with one input is a method: ``v.tanh()``, ``v.exp()``, and any op you define.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from . import autograd
from .autograd import Node, state
from .ops import elementwise as E
from .ops.base import OPS, scalar_ops


def _shared(cls):
    op = cls()
    op.needs_grad = (True, True)
    return op


_ADD, _SUB, _MUL, _DIV, _POW, _NEG = map(_shared, (E.Add, E.Sub, E.Mul, E.Div, E.Pow, E.Neg))


class Value(Node):
    """A scalar node: ``data`` (float), ``grad`` (float), ``label``, ``op``, ``parents``.

    >>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
    >>> c = a * b + a ** 2; c.backward()
    >>> c.data, a.grad, b.grad
    (-2.0, 1.0, 2.0)
    """

    # Parents live in two slots rather than a tuple: one GC-tracked object per node instead of
    # two halves the work Python's cycle collector spends traversing a growing graph
    # (measured: graph building ~2x faster). ``parents`` builds the tuple on demand.
    __slots__ = ("data", "grad", "label", "grad_fn", "_a", "_b")
    requires_grad = _rg = True  # (_rg: the flag as the walk reads it, see Tensor)
    shape, dtype = (), None  # what the walk asks of every node (a Value is a 0-d float)

    def __init__(self, data, label: str = ""):
        self.data = _number(data, "Value(data)")
        self.grad = 0.0
        self.label = label
        self.grad_fn = self._a = self._b = None

    @property
    def parents(self) -> tuple:
        """The input nodes, in order (``a * a`` has ``(a, a)``)."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        return (a,) if b is None else (a, b)

    op = property(lambda self: self.grad_fn.name if self.grad_fn is not None else "",
                  doc="Name of the op that made this node ('' for a leaf).")

    # -- building ---------------------------------------------------------------------------
    @staticmethod
    def _node(data, fn, a, b=None):
        # Bypasses __init__: graph building is the hot path of the scalar engine.
        out = Value.__new__(Value)
        out.data, out.grad, out.label, out.grad_fn, out._a, out._b = data, 0.0, "", fn, a, b
        if state.anomaly:
            autograd.check_forward(fn.name, data, autograd.user_site())
        return out

    @staticmethod
    def run_op(cls, inputs, params):
        """Any Op on Values (``Op.apply`` calls this): its float form, or its forward on 0-d
        arrays when it has none."""
        if not 1 <= len(inputs) <= 2:
            raise TypeError(f"{cls.name}: a Value op takes one or two inputs, got {len(inputs)}")
        vals = [x if isinstance(x, Value) else Constant(x) for x in inputs]
        op = cls()
        op.needs_grad = (True,) * len(vals)
        if cls.scalar is not None and not params:
            data = cls.scalar(*(v.data for v in vals))
        else:
            data = op.forward(*(np.asarray(v.data) for v in vals), **params)
        return Value._node(float(data), op, *vals)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        return Value._node(self.data + other.data, _ADD, self, other)

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        return Value._node(self.data * other.data, _MUL, self, other)

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        return Value._node(self.data - other.data, _SUB, self, other)

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        if other.data == 0.0:
            if not (state.scopes and isinstance(state.scopes[-1], autograd.BackwardOf)):
                raise ZeroDivisionError(f"Value div: division of {self.data!r} by zero")
            # A backward formula recorded by create_graph (log's g / u at u = 0): IEEE ±inf
            # or NaN, as the same formula gives in a plain backward() and in PyTorch.
            with np.errstate(all="ignore"):
                return Value._node(float(np.divide(self.data, other.data)), _DIV, self, other)
        return Value._node(self.data / other.data, _DIV, self, other)

    def __pow__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        try:
            data = self.data ** other.data
        except ZeroDivisionError:  # 0 to a negative power: ±inf as IEEE (and PyTorch) say
            b = other.data
            odd = b == int(b) and int(b) % 2 == 1
            data = math.copysign(math.inf, self.data) if odd else math.inf
        except OverflowError:
            raise OverflowError(f"Value pow: {self.data!r} ** {other.data!r} is too large for "
                                f"a float") from None
        if isinstance(data, complex):
            raise ValueError(f"Value pow: {self.data!r} ** {other.data!r} is not real")
        return Value._node(data, _POW, self, other)

    def __radd__(self, other):
        return Constant(other) + self

    def __rmul__(self, other):
        return Constant(other) * self

    def __rsub__(self, other):
        return Constant(other) - self

    def __rtruediv__(self, other):
        return Constant(other) / self

    def __rpow__(self, other):
        return Constant(other) ** self

    def __neg__(self):
        return Value._node(-self.data, _NEG, self)

    # Comparisons give plain bools (no graph); backward formulas use them (relu's x > 0,
    # pow's b == 0, maximum's a == b: with create_graph those operands are Values). == and !=
    # compare the data, as PyTorch's 0-d tensors do; a Value still hashes by identity (the
    # walk keys dicts by node), so two equal Values stay two nodes.
    def __gt__(self, o): return self.data > _number(o, "compare")
    def __ge__(self, o): return self.data >= _number(o, "compare")
    def __lt__(self, o): return self.data < _number(o, "compare")
    def __le__(self, o): return self.data <= _number(o, "compare")

    def __eq__(self, o):
        if isinstance(o, (Value, bool, int, float, np.integer, np.floating)):
            return self.data == _number(o, "compare")
        return NotImplemented

    def __ne__(self, o):
        eq = self.__eq__(o)
        return eq if eq is NotImplemented else not eq

    __hash__ = object.__hash__

    def __bool__(self):
        """``if v:`` tests the value, as PyTorch's 0-d tensors (0.0 is False)."""
        return bool(self.data)

    # To Python a Value is its number, as a 0-d PyTorch tensor is: float(v), int(v), v.item(),
    # f"{v:.3f}" (pictures and printing of create_graph gradients, which are Values, too).
    # Like PyTorch's, these give plain numbers: math.exp(v) is a float outside the graph.
    def __float__(self) -> float:
        return self.data

    def __int__(self) -> int:
        return int(self.data)

    def item(self) -> float:
        """The number, as ``Tensor.item()``: ``v.item() == v.data``."""
        return self.data

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else str(self)

    def __abs__(self):
        """``abs(v)`` is ``v.abs()``: in the graph, as ``abs`` of a PyTorch tensor."""
        return self.abs()

    __array_ufunc__ = None  # numpy defers: array * Value is Value.__rmul__ (a clear error)

    def __getattr__(self, name):
        # Every one-input op is a method (exp, log, tanh, sigmoid, relu, sqrt, your own …):
        # those with a float form get a fast method below; the rest come through here.
        cls = OPS.get(name)
        if cls is None or name.startswith("_"):
            raise AttributeError(f"'Value' object has no attribute {name!r}")
        return lambda **params: cls.apply(self, **params)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(OPS))

    # -- backward ---------------------------------------------------------------------------
    def backward(self, grad: float = 1.0, retain_graph=None, create_graph=False) -> None:
        """Fill ``.grad`` of every node reachable from this one (d self / d node).

        Leaves accumulate: call ``zero_grad`` (or set ``.grad = 0``) between steps. With
        ``create_graph=True`` the gradients are Values, so they can be differentiated again.
        """
        with np.errstate(all="ignore"):
            autograd.backward(self, grad, retain_graph, create_graph)

    def zero_grad(self) -> None:
        """Set ``.grad = 0`` on every node of this graph."""
        for node in autograd.topo_order(self):
            node.grad = 0.0

    # The node protocol (engine.autograd.Node).
    def seed_grad(self, grad, create_graph=False):
        if create_graph and isinstance(grad, Value):
            return grad  # its graph kept, as Tensor's (the gradient is differentiable in it)
        g = 1.0 if grad is None else _number(grad, "backward(grad)")
        return Constant(g) if create_graph else g

    def wrap_grad(self, g):
        return g if isinstance(g, Value) else float(g)

    def receive_grad(self, g, owned=False):
        # Intermediates are assigned, leaves accumulate; g is a float, or a Value when the
        # backward pass is recorded (create_graph) -- + works for both.
        if type(g) is not float and not isinstance(g, Value):
            g = float(g)  # numpy scalars (a custom op's backward) become plain floats
        self.grad = g if self._a is not None else self.grad + g

    def short_label(self) -> str:
        return self.label or f"<{self.op or 'leaf'} {self.data:.4g}>"

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        op = f", op={self.op!r}" if self.op else ""
        grad = f"{self.grad:.6g}" if isinstance(self.grad, float) else repr(self.grad)
        return f"Value(data={self.data:.6g}, grad={grad}{label}{op})"


def _fast_method(cls):
    """``v.name()`` for a one-input op with a float form: one node, no generic dispatch."""
    op, scalar = _shared(cls), cls.scalar

    def method(self):
        return Value._node(scalar(self.data), op, self)
    method.__name__, method.__doc__ = cls.name, f"{cls.name}: {cls.formula}"
    return method


for _cls in scalar_ops().values():
    if len(inspect.signature(_cls.forward).parameters) == 2 and not hasattr(Value, _cls.name):
        setattr(Value, _cls.name, _fast_method(_cls))  # exp log tanh sigmoid relu sqrt abs …


class Constant(Value):
    """A number that entered a Value expression (``a + 1``): a leaf that needs no gradient."""

    __slots__ = ()
    requires_grad = _rg = False

    def __init__(self, data):
        # Set directly (no label formatting): constants are made on every `v + 1.0`.
        self.data, self.grad, self.label = _number(data, "Value op"), 0.0, ""
        self.grad_fn = self._a = self._b = None

    def short_label(self) -> str:
        return self.label or f"{self.data:g}"


def _number(x, what) -> float:
    if isinstance(x, (bool, int, float, np.integer, np.floating)):
        return float(x)
    if isinstance(x, Value):
        if what == "Value(data)":
            raise TypeError("Value(data): data is already a Value; use it directly")
        return x.data
    raise TypeError(f"{what}: expected a number, got a {type(x).__name__} (Values hold one "
                    f"float; use engine.tensor for arrays -- the two graphs do not mix)")
