"""The graph model every picture is drawn from: read once, shared by ``draw_graph``,
``draw_step``, the backprop player and ``draw_unrolled``.

:class:`GraphModel` walks the graph that ends at the roots and records, for every node: a
stable DOT name (its position in the walk, never ``id()``), its consumers, the name a reader
knows it by, its kind (parameter, input, intermediate, loss) and its module scope (the
modules whose forward made it; a parameter is filed under the module that owns it). Nothing
here changes the graph: it only reads ``data``, ``grad``, ``op``, ``parents``, ``scope`` and
names.
"""
from __future__ import annotations

import numpy as np

from engine import BackwardOf, Tensor, Value, topo_order

from .text import display_name, numbers


def walk(roots) -> list:
    """Every node reachable from ``roots``, roots first (consumers before their parents), in
    a deterministic order."""
    order, seen = [], set()
    for r in roots:
        for n in topo_order(r):
            if n not in seen:
                seen.add(n)
                order.append(n)
    return order


def param_names(model=None, params=None) -> dict:
    """id(parameter) → its dotted name, from ``model.named_parameters()`` and/or ``params``
    (a dict or ``(name, tensor)`` pairs)."""
    names = {}
    if model is not None:
        names.update({id(p): n for n, p in model.named_parameters()})
    if params is not None:
        items = params.items() if hasattr(params, "items") else params
        names.update({id(p): n for n, p in items})
    return names


def is_time_step(s) -> bool:
    """A recurrent layer's ``TimeStep`` marker on the scope stack (not a Module)."""
    return hasattr(s, "t") and hasattr(s, "layer")


def is_backward_pass(s) -> bool:
    """The marker of ops recorded by a ``create_graph=True`` backward (engine.BackwardOf)."""
    return isinstance(s, BackwardOf)


class GraphModel:
    """The graph ending at ``root`` (a Value or Tensor, or a list of them), read once.

    Attributes: ``roots``; ``order`` (every node, roots first); ``ids`` (node → DOT name
    ``v0``, ``v1`` …); ``consumers`` (node → the nodes using it, in walk order); ``names``
    (node → display name, "" when it has none); ``kinds`` (node → 'loss', 'parameter',
    'input' or 'intermediate'); ``scopes`` (node → tuple of the scope objects around it,
    outermost first); ``scope_labels`` (id(scope object) → "0: Linear", "t = 2", …).

    >>> from engine import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> m = GraphModel(a * b + a)
    >>> [m.ids[n] for n in m.order], m.kinds[a], m.kinds[m.roots[0]], m.names[b]
    (['v0', 'v1', 'v2', 'v3'], 'input', 'loss', 'b')
    """

    def __init__(self, root, model=None, params=None, what="draw_graph"):
        roots = tuple(root) if isinstance(root, (list, tuple)) else (root,)
        for r in roots:
            if not isinstance(r, (Value, Tensor)):
                raise TypeError(f"{what}: expected an engine.Value or engine.Tensor, got "
                                f"{type(r).__name__}")
        self.roots = roots
        self.order = walk(roots)
        self.ids = {n: f"v{i}" for i, n in enumerate(self.order)}
        self.consumers = {n: [] for n in self.order}
        for n in self.order:
            for p in n.parents:
                if not any(c is n for c in self.consumers[p]):  # == is elementwise
                    self.consumers[p].append(n)
        given = param_names(model, params)
        self.given = set(given)  # ids named by model=/params=: parameters by declaration
        self.names = {n: display_name(n, given) for n in self.order}
        self.kinds = {n: self._kind(n) for n in self.order}
        self.scopes = {n: self._scope(n) for n in self.order}
        self.scope_labels = self._scope_labels(model)

    # -- kinds ------------------------------------------------------------------------------
    def _kind(self, n) -> str:
        if any(n is r for r in self.roots):
            return "loss"
        if n.parents:
            return "intermediate" if n.requires_grad else "input"
        if id(n) in self.given:
            return "parameter"
        if isinstance(n, Value):  # a scalar leaf: an input unless declared a parameter
            return "input"
        return "parameter" if n.requires_grad else "input"

    def is_constant(self, n) -> bool:
        """An unnamed number that entered an op (the 2 of ``x * 2``, the 1 of ``1 − p``):
        drawn inside its consumer's op label, not as a node of its own."""
        return (not n.parents and not n.requires_grad and not self.names[n]
                and np.ndim(n.data) == 0 and bool(self.consumers[n]))

    # -- scopes -----------------------------------------------------------------------------
    def _scope(self, n) -> tuple:
        scope = tuple(getattr(n, "scope", ()))
        if scope or n.parents or isinstance(n, Value):
            return scope
        # A parameter was made outside every forward: file it under the module owning it.
        for c in self.consumers[n]:
            cs = tuple(getattr(c, "scope", ()))
            for i, m in enumerate(cs):
                if any(p is n for p in getattr(m, "_parameters", {}).values()):
                    return cs[:i + 1]
        return ()

    def _scope_labels(self, model) -> dict:
        """Dotted module names (from ``model``, else from the outermost modules in the
        graph) with the type: ``0: Linear``; the outermost module is its type name."""
        known = {}
        outer = [model] if model is not None else []
        for n in reversed(self.order):
            s = self.scopes[n]
            if s and not is_time_step(s[0]) and all(s[0] is not o for o in outer):
                outer.append(s[0])
        for o in outer:
            if hasattr(o, "named_modules"):
                for name, m in o.named_modules():
                    if id(m) not in known:
                        known[id(m)] = f"{name}: {type(m).__name__}" if name else \
                            type(m).__name__
        labels, counts = {}, {}
        for n in reversed(self.order):  # forward order: the first module gets index 0
            for s in self.scopes[n]:
                if id(s) in labels:
                    continue
                if is_time_step(s):
                    labels[id(s)] = f"t = {s.t}"
                elif is_backward_pass(s):
                    labels[id(s)] = f"backward of {s.node.op}"
                elif id(s) in known:
                    labels[id(s)] = known[id(s)]
                else:
                    k = counts.get(type(s).__name__, 0)
                    counts[type(s).__name__] = k + 1
                    labels[id(s)] = f"{type(s).__name__} #{k}"
        return labels

    def module_name(self, s) -> str:
        """The dotted name of scope object ``s`` ("" for the outermost model)."""
        label = self.scope_labels.get(id(s), "")
        return label.split(": ")[0] if ": " in label else ""

    # -- gradients --------------------------------------------------------------------------
    @staticmethod
    def grad_magnitude(n, grad="unset"):
        """|grad| of a Value, the norm of a Tensor's grad (NaN if any entry is not finite);
        None when it has none. ``grad`` overrides the node's own ``.grad``."""
        if not n.requires_grad:
            return None
        g = n.grad if isinstance(grad, str) else grad
        if g is None:
            return None
        g = numbers(g, np.float64)
        return float(np.sqrt(np.sum(g * g))) if np.isfinite(g).all() else float("nan")
