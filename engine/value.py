"""Value: the scalar graph (micrograd's idea, with the engine's shared op table).

A ``Value`` holds one float. Operators and methods build a graph of Values; ``backward()``
fills ``.grad`` of every node reachable from the root.

Design notes (why it looks like this):
- No closure per node. micrograd stores a ``_backward`` closure on every node, which makes
  every node a reference cycle; on this machine >90 % of graph-building time then goes to
  Python's cycle collector. Here a node only stores its op *name*; the local derivative is
  looked up in ``engine.ops.elementwise`` at backward time -- the same formulas the Tensor
  ops use.
- ``parents`` is an ordered tuple, never a set: ``a * a`` keeps both edges.
- The graph walk is iterative (``engine.autograd``): a 10⁶-node chain backpropagates fine.
- Leaf gradients accumulate across ``backward()`` calls until you zero them (PyTorch's rule);
  intermediate gradients are recomputed on each call, so they never compound.
"""
from __future__ import annotations

from . import autograd
from .ops.elementwise import SCALAR_OPS, Exp, Log, ReLU, Sigmoid, Tanh

_state = autograd._state


class Value:
    """A scalar node: ``data`` (float), ``grad`` (float), ``label``, ``op``, ``parents``.

    >>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
    >>> c = a * b + a ** 2; c.backward()
    >>> c.data, a.grad, b.grad
    (-2.0, 1.0, 2.0)
    """

    # Parents live in two slots rather than a tuple: one GC-tracked object per node instead of
    # two halves the work Python's cycle collector spends traversing a growing graph
    # (measured: graph building ~2x faster). ``parents`` builds the tuple on demand.
    __slots__ = ("data", "grad", "label", "op", "_a", "_b")
    requires_grad = True

    def __init__(self, data, label: str = ""):
        if isinstance(data, Value):
            raise TypeError("Value(data): data is already a Value; use it directly")
        self.data = float(data)
        self.grad = 0.0
        self.label = label
        self.op = ""
        self._a = self._b = None

    @property
    def parents(self) -> tuple:
        """The input nodes, in order (``a * a`` has ``(a, a)``)."""
        a = self._a
        if a is None:
            return ()
        b = self._b
        return (a,) if b is None else (a, b)

    # -- building ---------------------------------------------------------------------------
    @staticmethod
    def _node(data, op, a, b=None):
        # Bypasses __init__: graph building is the hot path of the scalar engine.
        out = Value.__new__(Value)
        out.data, out.grad, out.label, out.op, out._a, out._b = data, 0.0, "", op, a, b
        if _state["anomaly"]:
            autograd.check_forward(op, data, autograd.user_site())
        return out

    def __add__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        return Value._node(self.data + other.data, "add", self, other)

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        return Value._node(self.data * other.data, "mul", self, other)

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        return Value._node(self.data - other.data, "sub", self, other)

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        if other.data == 0.0:
            raise ZeroDivisionError(f"Value div: division of {self.data!r} by zero")
        return Value._node(self.data / other.data, "div", self, other)

    def __pow__(self, other):
        other = other if isinstance(other, Value) else Constant(other)
        try:
            data = self.data ** other.data
        except ZeroDivisionError:
            data = float("inf")
        if isinstance(data, complex):
            raise ValueError(f"Value pow: {self.data!r} ** {other.data!r} is not real")
        return Value._node(data, "pow", self, other)

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
        return Value._node(-self.data, "neg", self)

    def exp(self):
        return Value._node(Exp.scalar_fn(self.data), "exp", self)

    def log(self):
        return Value._node(Log.scalar_fn(self.data), "log", self)

    def tanh(self):
        return Value._node(Tanh.scalar_fn(self.data), "tanh", self)

    def sigmoid(self):
        return Value._node(Sigmoid.scalar_fn(self.data), "sigmoid", self)

    def relu(self):
        return Value._node(ReLU.scalar_fn(self.data), "relu", self)

    # -- backward ---------------------------------------------------------------------------
    def backward(self, grad: float = 1.0) -> None:
        """Fill ``.grad`` of every node reachable from this one (d self / d node).

        Leaves accumulate: call ``zero_grad`` (or set ``.grad = 0``) between steps.
        """
        autograd.run_backward(self, self._seed_grad(grad))

    def zero_grad(self) -> None:
        """Set ``.grad = 0`` on every node of this graph."""
        for node in autograd.topo_order(self):
            node.grad = 0.0

    # Hooks the shared graph walk calls (engine.autograd.walk).
    def _seed_grad(self, grad):
        return 1.0 if grad is None else float(grad)

    def _store_grad(self, g):
        if self._a is not None:
            self.grad = g
        else:
            self.grad += g

    def _grads_for_parents(self, g, retain_graph):
        a, b = self._a, self._b
        if b is None:
            return (g * _LOCAL[self.op](a.data, self.data),)
        da, db = _LOCAL[self.op](a.data, b.data, self.data)
        return g * da, g * db

    def _formula(self):
        return SCALAR_OPS[self.op].formula if self.op else ""

    def _local_numbers(self):
        if not self.op:
            return None
        local = SCALAR_OPS[self.op].local
        ps = self.parents
        if len(ps) == 1:
            return (float(local(ps[0].data, self.data)),)
        return tuple(float(d) for d in local(ps[0].data, ps[1].data, self.data))

    def _site(self):
        return "<scalar graph>"

    def _short(self) -> str:
        return self.label or f"<{self.op or 'leaf'} {self.data:.4g}>"

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        op = f", op={self.op!r}" if self.op else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label}{op})"


class Constant(Value):
    """A number that entered a Value expression (``a + 1``): a leaf that needs no gradient."""

    __slots__ = ()
    requires_grad = False

    def __init__(self, data):
        # Set directly (no label formatting): constants are made on every `v + 1.0`.
        self.data, self.grad, self.label, self.op = float(data), 0.0, "", ""
        self._a = self._b = None

    def _short(self) -> str:
        return self.label or f"{self.data:g}"


_LOCAL = {name: cls.local for name, cls in SCALAR_OPS.items()}
