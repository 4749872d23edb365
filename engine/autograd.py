"""The graph walk shared by Value and Tensor: backward, backward_steps, no_grad, anomaly mode.

A graph node (a ``Value`` or a ``Tensor``) has an ordered ``parents`` tuple and knows how to
turn the gradient it received into one gradient per parent (``node._grads_for_parents(g)``).
Everything else -- ordering, accumulation, un-broadcasting, stepping, anomaly checks -- lives
here, once, so ``backward()`` and ``backward_steps()`` can never disagree.

Gradient bookkeeping, as in PyTorch:
- leaves (nodes without parents) *accumulate* ``.grad`` across backward calls until zeroed;
- intermediate nodes get ``.grad`` *assigned* on every walk, so calling ``backward()`` twice
  never compounds intermediate gradients (micrograd issue #53).
"""
from __future__ import annotations

import contextlib
import os
import traceback

import numpy as np

_state = {"grad_enabled": True, "anomaly": False}
_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))


# Modules currently running (outermost first). nn.Module.__call__ pushes itself so that each
# op can record where it ran (``Tensor.scope``) and pictures can group ops by module. The
# engine only stores the objects; it knows nothing about what a module is.
scope_stack: list = []


def is_grad_enabled() -> bool:
    return _state["grad_enabled"]


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: ops inside record no graph (inference, optimizer steps).

    >>> from engine import tensor, no_grad
    >>> x = tensor([1.0, 2.0], requires_grad=True)
    >>> with no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __enter__(self):
        self._prev = _state["grad_enabled"]
        _state["grad_enabled"] = False
        return self

    def __exit__(self, *exc):
        _state["grad_enabled"] = self._prev
        return False


class enable_grad(no_grad):
    """The opposite of ``no_grad`` (re-enables recording inside a no_grad block)."""

    def __enter__(self):
        self._prev = _state["grad_enabled"]
        _state["grad_enabled"] = True
        return self


class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly()`` by the first op whose output or gradient is NaN/Inf."""


class detect_anomaly(contextlib.ContextDecorator):
    """Context in which the first op producing NaN/Inf (forward or backward) raises.

    The error names the op and the line of user code that created the node, so a loss
    that turns ``nan`` can be traced to its source::

        with engine.detect_anomaly():
            loss = model(x).log().mean()   # AnomalyError: forward of 'log' produced -inf ...
            loss.backward()
    """

    def __enter__(self):
        self._prev = _state["anomaly"]
        _state["anomaly"] = True
        return self

    def __exit__(self, *exc):
        _state["anomaly"] = self._prev
        return False


def anomaly_enabled() -> bool:
    return _state["anomaly"]


def user_site() -> str:
    """``file:line`` of the innermost stack frame outside the engine package (anomaly reports)."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_ENGINE_DIR):
            return f"{frame.filename}:{frame.lineno} ({frame.line})"
    return "<unknown>"


def _nonfinite(x) -> bool:
    if isinstance(x, float):
        return x != x or x in (float("inf"), float("-inf"))
    x = np.asarray(x)
    return x.dtype.kind in "fc" and not np.isfinite(x).all()


def check_forward(op_name: str, out, site: str) -> None:
    """Anomaly mode: raise if a forward result is not finite."""
    if _nonfinite(out):
        raise AnomalyError(f"detect_anomaly: forward of '{op_name}' produced NaN/Inf; "
                           f"the op was created at {site}")


# ---------------------------------------------------------------------------------------------
# Op: the base of every tensor op (one op = forward + backward + a one-line formula).
# ---------------------------------------------------------------------------------------------

_FREED_MSG = ("Trying to backward through the graph a second time (or directly access saved "
              "arrays after they have already been freed). Saved intermediate values of the "
              "graph are freed when you call .backward(). Specify retain_graph=True if you need "
              "to backward through the graph a second time.")


class Op:
    """A differentiable tensor operation.

    Subclasses define ``name``, ``formula`` (one line: the local derivative, shown by
    ``backward_steps`` and in graph labels), ``forward(*arrays, **params) -> ndarray`` and
    ``backward(g) -> tuple`` (one gradient per input, ``None`` where ``needs_grad`` is False).
    ``forward`` stores the arrays its backward needs with ``self.save(...)``; they are freed
    after backward unless ``retain_graph=True``.

    Un-broadcasting is not an op's concern: the graph walk sums each returned gradient back
    to its input's shape.
    """

    name = "op"
    formula = ""
    differentiable = True
    saved = ()

    def save(self, *arrays):
        self.saved = arrays

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, g):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """Extra words for a backward step (shapes, params); empty by default."""
        return ""

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors (or array-likes) and record it in the graph when needed."""
        from .tensor import Tensor, as_tensor

        like = next((t for t in inputs if isinstance(t, Tensor)), None)
        tensors = tuple(as_tensor(t, like) for t in inputs)
        floats = {t.dtype for t in tensors if t.dtype.kind == "f"}
        if len(floats) > 1:
            raise TypeError(f"{cls.name}: dtype mismatch {' vs '.join(sorted(map(str, floats)))}"
                            f" (shapes {[t.shape for t in tensors]}); convert one with "
                            f".astype(...) -- stepgrad never upcasts silently")
        if floats and len(floats) != len(tensors):
            # Integer/boolean operands join the float dtype (numpy would upcast to float64).
            fdtype = floats.pop()
            tensors = tuple(t if t.dtype.kind == "f" else Tensor._wrap(t.data.astype(fdtype))
                            for t in tensors)
        op = cls()
        record = _state["grad_enabled"] and cls.differentiable
        op.needs_grad = tuple(record and t.requires_grad for t in tensors)
        record = record and any(op.needs_grad)
        try:
            data = op.forward(*(t.data for t in tensors), **params)
        except ValueError as e:
            if str(e).startswith(cls.name + ":"):
                raise
            raise ValueError(f"{cls.name}: {e} (input shapes "
                             f"{', '.join(str(t.shape) for t in tensors)})") from None
        out = Tensor._wrap(data, requires_grad=record)
        if record:
            out.parents = tensors
            out.op = cls.name
            out._ctx = op
            if scope_stack:
                out.scope = tuple(scope_stack)
            # Version counters: an in-place change of an input after this point must make
            # backward raise instead of silently using the modified array.
            op.versions = tuple(t._version for t in tensors)
            if _state["anomaly"]:
                op.site = user_site()
        if _state["anomaly"]:
            check_forward(cls.name, out.data, getattr(op, "site", None) or user_site())
        return out


# ---------------------------------------------------------------------------------------------
# The walk.
# ---------------------------------------------------------------------------------------------

def topo_order(root) -> list:
    """Nodes reachable from ``root`` in reverse topological order (root first).

    Iterative depth-first search with an explicit stack: a 10⁶-node chain never touches
    Python's recursion limit. Each node is visited once even when re-used (``b = a + a``).
    Nodes hash by identity, so they key the ``seen`` set directly.
    """
    order, seen = [], set()
    stack = [(root, False)]
    push, pop, append, mark = stack.append, stack.pop, order.append, seen.add
    while stack:
        node, expanded = pop()
        if expanded:
            append(node)  # all its parents are already in `order`
        elif node not in seen:
            mark(node)
            push((node, True))
            for parent in reversed(node.parents):  # first parent explored first
                if parent not in seen:
                    push((parent, False))
    order.reverse()
    return order


class SliceGrad:
    """The gradient of a basic slice ``x[index]``: zero everywhere but ``index``, kept sparse.

    ``GetItem.backward`` returns one instead of a zero-filled array of ``x``'s shape, so a
    recurrent layer taking ``xw[:, t]`` at each of T steps costs T slice additions in the walk,
    not T full-size arrays (T² work). ``np.asarray`` gives the dense array.
    """

    __slots__ = ("shape", "index", "g")

    def __init__(self, shape, index, g):
        self.shape, self.index, self.g = shape, index, g

    dtype = property(lambda self: self.g.dtype)

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, self.g.dtype)
        out[self.index] = self.g
        return out

    def __array__(self, dtype=None, copy=None):
        d = self.dense()
        return d if dtype is None else d.astype(dtype, copy=False)


def _accumulate(prev, pg, owned: bool):
    """prev + pg, in place when ``prev`` is an array this walk allocated (``owned``): the
    arrays ops return may be shared with other nodes or read-only views, so those are never
    written into."""
    if type(prev) is SliceGrad:
        prev, owned = prev.dense(), True
    if type(pg) is SliceGrad:
        if not owned:
            prev = prev.copy()
        prev[pg.index] += pg.g
        return prev
    if owned:
        prev += pg
        return prev
    return prev + pg


def walk(root, seed, retain_graph=False):
    """Generator over backprop: for each node (reverse topological order) it sets the node's
    ``.grad``, computes one gradient per parent (already fitted to the parent's shape), sends
    them on and yields ``(node, grad, parent_grads)``. Exhausting it *is* ``backward()``.
    """
    pending = {root: seed}
    owned = set()  # nodes whose pending gradient is a sum this walk allocated
    take, peek = pending.pop, pending.get  # bound once: this loop runs once per node
    anomaly = _state["anomaly"]
    for node in topo_order(root):
        g = take(node, None)
        if g is None:  # not on a path from the root (can happen for nodes not needing grad)
            continue
        if type(g) is SliceGrad:
            g = g.dense()
        node._store_grad(g)
        parents = node.parents
        if not parents:
            yield node, g, ()
            continue
        grads = node._grads_for_parents(g, retain_graph)
        for parent, pg in zip(parents, grads, strict=True):
            if pg is None or not parent.requires_grad:
                continue
            if anomaly and _nonfinite(pg.g if type(pg) is SliceGrad else pg):
                raise AnomalyError(
                    f"detect_anomaly: backward of '{node.op}' produced NaN/Inf in the gradient "
                    f"of its input {parent._short()}; the op was created at "
                    f"{node._site()}")
            prev = peek(parent)
            if prev is None:
                pending[parent] = pg
            else:
                pending[parent] = _accumulate(prev, pg, parent in owned)
                owned.add(parent)
        yield node, g, grads


def run_backward(root, seed, retain_graph=False) -> None:
    for _ in walk(root, seed, retain_graph):
        pass


# ---------------------------------------------------------------------------------------------
# Stepping through backprop in a REPL.
# ---------------------------------------------------------------------------------------------

def _fmt(x) -> str:
    """A number or a short summary of an array (shape, a few entries, norm)."""
    if isinstance(x, (float, int, np.floating)):
        return f"{float(x):.4g}"
    x = np.asarray(x)
    if x.size == 1:
        return f"{float(x.reshape(())):.4g}"
    head = ", ".join(f"{v + 0.0:.3g}" for v in x.ravel()[:3])  # + 0.0: print −0 as 0
    more = ", …" if x.size > 3 else ""
    return f"{x.shape} [{head}{more}] ‖·‖={float(np.linalg.norm(x)):.4g}"


class Step:
    """One step of backprop: a node, the gradient it received, what it passes to each parent.

    Attributes: ``index`` (0-based), ``node``, ``op`` (name, "" for a leaf), ``grad`` (upstream
    gradient received), ``parent_grads`` (tuple, aligned with ``node.parents``), ``formula``
    (the op's local-derivative formula), ``local`` (the local derivatives as numbers for scalar
    nodes, else None), ``done`` (nodes whose gradient is final so far, this one included).
    """

    def __init__(self, index, node, grad, parent_grads, done):
        self.index, self.node, self.grad = index, node, grad
        # Slice gradients are shown dense: a student inspecting a step sees plain arrays.
        self.parent_grads = tuple(pg.dense() if type(pg) is SliceGrad else pg
                                  for pg in parent_grads)
        self.done = done
        self.op = node.op
        self.formula = node._formula()
        self.local = node._local_numbers()
        ctx = getattr(node, "_ctx", None)
        self.detail = ctx.describe() if ctx is not None else ""

    def __repr__(self) -> str:
        name = self.node._short()
        if not self.node.parents:
            return f"step {self.index}: {name} is a leaf; its grad is now {_fmt(self.node.grad)}"
        args = ", ".join(p._short() for p in self.node.parents)
        lines = [f"step {self.index}: {name} = {self.op}({args}) received grad {_fmt(self.grad)}"]
        if self.formula:
            lines.append(f"  rule: {self.formula}" + (f"  [{self.detail}]" if self.detail else ""))
        for i, (p, pg) in enumerate(zip(self.node.parents, self.parent_grads, strict=True)):
            local = ""
            if self.local is not None and self.local[i] is not None:
                local = f" = {_fmt(self.grad)} × {_fmt(self.local[i])}"
            if pg is None or not p.requires_grad:
                sent = "nothing (a constant, or no gradient needed)"
            else:
                sent = _fmt(pg) + local
            lines.append(f"  → {p._short()}: {sent}")
        return "\n".join(lines)

    __str__ = __repr__


def backward_steps(root, grad=None, retain_graph=False):
    """Iterate over backprop one node at a time (reverse topological order).

    Each yielded :class:`Step` prints the node, its op, the upstream gradient it received,
    the local-derivative formula with its numbers, and what it passes to each parent.
    Exhausting the iterator leaves exactly the gradients ``root.backward()`` gives.

    >>> from engine import Value, backward_steps
    >>> x = Value(0.5, label="x"); y = (x * 2).tanh(); y.label = "y"
    >>> steps = list(backward_steps(y))
    >>> print(steps[0])
    step 0: y = tanh(<mul 1>) received grad 1
      rule: d(tanh u)/du = 1 − tanh²u
      → <mul 1>: 0.42 = 1 × 0.42
    >>> print(steps[1])
    step 1: <mul 1> = mul(x, 2) received grad 0.42
      rule: d(a·b)/da = b, d(a·b)/db = a
      → x: 0.8399 = 0.42 × 2
      → 2: nothing (a constant, or no gradient needed)
    >>> round(x.grad, 4)
    0.8399
    """
    seed = root._seed_grad(grad)
    done = []
    for i, (node, g, pgrads) in enumerate(walk(root, seed, retain_graph)):
        done.append(node)
        yield Step(i, node, g, pgrads, tuple(done))
