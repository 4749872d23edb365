"""Computation-graph pictures: ``draw_graph`` (a Value or Tensor graph) and ``draw_step`` (the
same graph at one step of ``engine.backward_steps``).

What is drawn: one record node per value (its label or parameter name; shape and dtype for a
tensor; data and grad -- a scalar in full to 4 significant digits, a tensor as a short
summary), one small ellipse per op, edges in ``parents`` order, and a legend cluster. Node
names come from the position of each value in the graph walk (never ``id()``), so the same
graph gives the same DOT text run after run.

Nothing here changes the graph: the drawing only reads ``data``, ``grad``, ``op``,
``parents`` and ``scope``.
"""
from __future__ import annotations

import html
import math
from collections import deque

import numpy as np

from engine import topo_order
from engine.tensor import Tensor
from engine.value import Constant, Value

from .render import Graph

# (fill, border) per kind of value; the legend shows the same pairs.
KINDS = {
    "input": ("#ffe9a8", "#b8860b"),
    "parameter": ("#bcd7ff", "#1f5fbf"),
    "output": ("#b9e8b9", "#2e8b2e"),
    "constant": ("#eeeeee", "#888888"),
}
_PLAIN = ("#ffffff", "#000000")   # intermediate values
_GREY = ("#f4f4f4", "#bbbbbb", "#999999")  # fill, border, font of "not reached yet"
_HIGHLIGHT = "#d62728"
_NONFINITE = "#ff00ff"  # NaN/Inf gradients: a colour the scale never produces
# Reversed ColorBrewer RdYlBu: blue = vanishing gradient, red = exploding; pale middle keeps
# black text readable on every colour.
_SCALE = ["#4575b4", "#74add1", "#abd9e9", "#e0f3f8", "#ffffbf", "#fee090", "#fdae61",
          "#f46d43", "#d73027"]
FONT = "Helvetica"


# ---------------------------------------------------------------------------- formatting
def fmt_num(x) -> str:
    """A scalar to 4 significant digits (``nan``/``inf`` spelled out, no ``-0``)."""
    return f"{float(x) + 0.0:.4g}"


def summary(a) -> str:
    """A short description of an array: the numbers when there are at most 4, else its mean
    and norm (with a count of NaN/Inf entries when there are any).

    >>> summary(np.array([1.0, -2.5])), summary(np.ones((3, 4)))
    ('[1, -2.5]', 'μ 1  ‖·‖ 3.46')
    """
    a = np.asarray(a)
    if a.size == 0:
        return "(empty)"
    if a.size == 1:
        return fmt_num(a.reshape(-1)[0])
    if a.size <= 4:
        return "[" + ", ".join(f"{float(v) + 0.0:.3g}" for v in a.reshape(-1)) + "]"
    a = a.astype(np.float64)
    text = f"μ {a.mean() + 0.0:.3g}  ‖·‖ {np.linalg.norm(a):.3g}"
    bad = int(np.size(a) - np.isfinite(a).sum())
    return text + (f"  ({bad} NaN/Inf)" if bad else "")


def esc(text) -> str:
    """Escape the characters that structure a DOT record label."""
    out = str(text).replace("\\", "\\\\")
    for ch in "{}|<>\"":
        out = out.replace(ch, "\\" + ch)
    return out


def record(fields, vertical: bool, rankdir: str) -> str:
    """A record label whose fields stack vertically or run horizontally whatever the rankdir
    (in LR layouts graphviz flips a record's orientation; braces flip it back)."""
    body = " | ".join(esc(f) for f in fields)
    flipped = rankdir in ("LR", "RL")
    return "{ " + body + " }" if vertical != flipped else body


def fmt_index(index) -> str:
    """getitem's index as a reader would have typed it.

    >>> fmt_index((slice(None), slice(3, 6))), fmt_index((np.arange(4), [0, 1, 1, 0]))
    ('[:, 3:6]', '[[0, 1, 2, 3], [0, 1, 1, 0]]')
    """
    parts = []
    for i in index if isinstance(index, tuple) else (index,):
        if isinstance(i, slice):
            s = ("" if i.start is None else str(i.start)) + ":" + \
                ("" if i.stop is None else str(i.stop))
            parts.append(s + (f":{i.step}" if i.step not in (None, 1) else ""))
        elif i is Ellipsis:
            parts.append("…")
        elif isinstance(i, (list, np.ndarray)):
            arr = np.asarray(i)
            parts.append(str(arr.tolist()) if arr.size <= 4 else f"<{arr.dtype} {arr.shape}>")
        else:
            parts.append(repr(i))
    return "[" + ", ".join(parts) + "]"


def op_label(node) -> str:
    """The op's name, plus a short detail when it says something the value nodes don't."""
    fn = node.grad_fn
    if fn is None:
        return node.op
    if node.op == "getitem" and hasattr(fn, "index"):
        return "getitem\\n" + fmt_index(fn.index)
    return fn.label().replace(" ", "\\n", 1)  # the op labels itself; DOT's own line break


def formula(node) -> str:
    """The op's local-derivative formula (a tooltip in SVG), with its parameters if short."""
    fn = node.grad_fn
    text = fn.formula if fn is not None else ""
    extra = fn.describe() if fn is not None else ""
    return text + (f"  [{extra}]" if extra else "")


def grad_magnitude(node):
    """|grad| of a Value, the norm of a Tensor's grad; None when it has none to show."""
    if not node.requires_grad:
        return None
    if isinstance(node, Value):
        return abs(node.grad)
    if node.grad is None:
        return None
    g = np.asarray(node.grad, dtype=np.float64)
    return float(np.sqrt(np.sum(g * g))) if np.isfinite(g).all() else float("nan")


# ---------------------------------------------------------------------------- colour scale
def _hex(rgb):
    return "#" + "".join(f"{int(round(c)):02x}" for c in rgb)


def scale_colour(t: float) -> str:
    """Position ``t`` in [0, 1] on the gradient scale → ``#rrggbb`` (linear in RGB)."""
    t = min(max(t, 0.0), 1.0) * (len(_SCALE) - 1)
    i = min(int(t), len(_SCALE) - 2)
    a = [int(_SCALE[i][k:k + 2], 16) for k in (1, 3, 5)]
    b = [int(_SCALE[i + 1][k:k + 2], 16) for k in (1, 3, 5)]
    f = t - i
    return _hex([x + (y - x) * f for x, y in zip(a, b, strict=True)])


def is_dark(colour: str) -> bool:
    """Whether black text would be hard to read on ``#rrggbb`` (relative luminance)."""
    r, g, b = (int(colour[k:k + 2], 16) / 255 for k in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45


class GradScale:
    """Maps |grad| to a colour on a log10 scale centred on 1 (the gradient backprop starts
    with at the root): pale = about 1, blue = vanishing, red = exploding. The scale spans
    ±max(2, the largest |log10| in the graph) decades, so it stretches to fit the extremes."""

    def __init__(self, magnitudes):
        logs = [abs(math.log10(m)) for m in magnitudes if m is not None and 0 < m < math.inf]
        span = max([2] + [math.ceil(v) for v in logs])
        self.lo, self.hi = -span, span

    def colour(self, m) -> str:
        if m is None:
            return _PLAIN[0]
        if not math.isfinite(m):
            return _NONFINITE
        if m == 0:
            return scale_colour(0.0)  # zero is the extreme of vanishing: bottom of the scale
        return scale_colour((math.log10(m) - self.lo) / (self.hi - self.lo))

    def ticks(self):
        """A few integer log10 values (at most 6) spanning the scale, low to high."""
        step = max(1, math.ceil((self.hi - self.lo) / 5))
        ticks = list(range(self.lo, self.hi + 1, step))
        return ticks if ticks[-1] == self.hi else ticks + [self.hi]


# ---------------------------------------------------------------------------- legend
def legend_html(kinds=KINDS, scale=None, extra=()) -> str:
    """An HTML-like table: a swatch per kind of node (and the gradient scale if given)."""
    rows = ['<TR><TD COLSPAN="2"><B>legend</B></TD></TR>']

    def row(fill, border, text, width=2):
        rows.append(f'<TR><TD BGCOLOR="{fill}" COLOR="{border}" BORDER="{width}" WIDTH="24">'
                    f'</TD><TD ALIGN="LEFT" BORDER="0">{html.escape(text)}</TD></TR>')

    for name, (fill, border) in kinds.items():
        row("#ffffff" if scale is not None else fill, border, name)
    row("#ffffff", "#000000", "op (hover: its rule)", 1)
    for fill, border, text in extra:
        row(fill, border, text)
    if scale is not None:
        rows.append('<TR><TD COLSPAN="2"><B>log10 |grad|</B></TD></TR>')
        for k in reversed(scale.ticks()):
            row(scale.colour(10.0 ** k), "#666666", f"{k:+d}", 1)
        row(scale.colour(0.0), "#666666", "0 (exactly)", 1)
        row(_NONFINITE, "#666666", "NaN / Inf", 1)
        row("#ffffff", "#666666", "no grad", 1)
    return ('<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="3" CELLPADDING="2">'
            + "".join(rows) + "</TABLE>>")


def add_legend(g, html_label: str) -> None:
    with g.subgraph(name="cluster_legend") as c:
        c.attr(label="", style="rounded,dashed", color="#999999")
        c.node("legend", label=html_label, shape="plaintext", fontsize="10")


# ---------------------------------------------------------------------------- walking
def walk(roots) -> list:
    """Every node reachable from ``roots``, roots first, in a deterministic order."""
    order, seen = [], set()
    for r in roots:
        for n in topo_order(r):
            if n not in seen:
                seen.add(n)
                order.append(n)
    return order


def param_names(model=None, params=None) -> dict:
    """id(parameter) → its dotted name, from ``model.named_parameters()`` and/or ``params``."""
    names = {}
    if model is not None:
        names.update({id(p): n for n, p in model.named_parameters()})
    if params is not None:
        items = params.items() if hasattr(params, "items") else params
        names.update({id(p): n for n, p in items})
    return names


def kind(node, roots, names) -> str:
    """'output', 'input', 'parameter', 'constant' or '' (an intermediate value)."""
    if any(node is r for r in roots):
        return "output"
    if node.parents:
        return ""
    if isinstance(node, Constant):
        return "constant"
    if id(node) in names:
        return "parameter"
    if isinstance(node, Value):
        return "input"
    if node.requires_grad:  # a leaf that gets a gradient: a Parameter or a hand-made weight
        return "parameter"
    if not node.name and node.data.ndim == 0:  # a number that met a tensor (x * 2)
        return "constant"
    return "input"


def _keep(roots, order, max_nodes):
    """The ``max_nodes`` nodes nearest to the roots (breadth first), or all of them."""
    if max_nodes is None or len(order) <= max_nodes:
        return set(order)
    kept, queue = set(), deque(roots)
    while queue and len(kept) < max_nodes:
        n = queue.popleft()
        if n in kept:
            continue
        kept.add(n)
        queue.extend(p for p in n.parents if p not in kept)
    return kept


# ---------------------------------------------------------------------------- module clusters
def scope_names(order, model=None) -> dict:
    """id(scope element) → cluster label: dotted module names from ``model`` when given,
    else the type name with an index; recurrent ``TimeStep`` markers become "t = k"."""
    known = {}
    if model is not None:
        for name, m in model.named_modules():
            known[id(m)] = f"{name}: {type(m).__name__}" if name else type(m).__name__
    labels, counts = {}, {}
    for node in reversed(order):  # forward order: the first layer gets index 0
        for s in getattr(node, "scope", ()):
            if id(s) in labels:
                continue
            if hasattr(s, "t") and hasattr(s, "layer"):
                labels[id(s)] = f"t = {s.t}"
            elif id(s) in known:
                labels[id(s)] = known[id(s)]
            else:
                k = counts.get(type(s).__name__, 0)
                counts[type(s).__name__] = k + 1
                labels[id(s)] = f"{type(s).__name__} #{k}"
    return labels


def owner_scope(param, consumers) -> tuple:
    """The scope path of the module that owns ``param`` (found among its consumers' scopes)."""
    for c in consumers:
        scope = getattr(c, "scope", ())
        for i, m in enumerate(scope):
            if any(p is param for p in getattr(m, "_parameters", {}).values()):
                return tuple(scope[:i + 1])
    return ()


class Clusters:
    """Nodes filed under nested cluster paths, emitted as nested ``subgraph cluster_*``."""

    def __init__(self):
        self.nodes = {(): []}   # path (tuple of scope ids) → [(name, attrs)]
        self.labels = {}
        self.order = [()]

    def add(self, path, name, **attrs):
        path = tuple(path)
        for k in range(1, len(path) + 1):
            if path[:k] not in self.nodes:
                self.nodes[path[:k]] = []
                self.order.append(path[:k])
        self.nodes[path].append((name, attrs))

    def emit(self, g):
        index = {p: i for i, p in enumerate(self.order)}

        def fill(graph, path):
            for name, attrs in self.nodes[path]:
                graph.node(name, **attrs)
            for child in self.order:
                if len(child) == len(path) + 1 and child[:len(path)] == path:
                    with graph.subgraph(name=f"cluster_{index[child]}") as c:
                        c.attr(label=self.labels.get(child, ""), style="rounded",
                               color="#7f7f7f", fontcolor="#555555")
                        fill(c, child)

        fill(g, ())


# ---------------------------------------------------------------------------- the drawing
def _new_graph(rankdir, label=None):
    g = Graph("stepgrad")
    g.attr(rankdir=rankdir, fontname=FONT, fontsize="11")
    if label:
        g.attr(label=label, labelloc="t", labeljust="l")
    g.attr("node", fontname=FONT, fontsize="10")
    g.attr("edge", fontname=FONT, fontsize="9", arrowsize="0.7")
    return g


def _fields(n, k, names, show_data, show_grad, pending) -> list:
    """A value's record fields: title, shape and dtype (tensors), data, grad."""
    if k == "constant":
        return [fmt_num(n.data) if isinstance(n, Value) else summary(n.data)]
    if isinstance(n, Value):  # micrograd's one-line record: label | data | grad
        title = names.get(id(n)) or n.label
        fields = ([title] if title else []) + ([f"data {fmt_num(n.data)}"] if show_data else [])
        if show_grad:
            fields.append("grad ?" if pending else f"grad {fmt_num(n.grad)}")
        return fields
    title = names.get(id(n)) or n.name
    fields = ([title] if title else []) + [f"{n.shape} {n.dtype}"]
    if show_data:
        fields.append("data " + summary(n.data))
    if show_grad and n.requires_grad:  # an input that needs no gradient gets no grad line
        fields.append("grad ?" if pending else
                      "grad " + ("None" if n.grad is None else summary(n.grad)))
    return fields


def _build(root, *, show_data=True, show_grad=True, color_by=None, rankdir="LR",
           group_modules=False, max_nodes=300, model=None, params=None, step=None):
    if color_by not in (None, "grad"):
        raise ValueError(f"draw_graph: color_by must be None or 'grad', got {color_by!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    roots = tuple(root) if isinstance(root, (list, tuple)) else (root,)
    for r in roots:
        if not isinstance(r, (Value, Tensor)):
            raise TypeError(f"draw_graph: expected an engine.Value or engine.Tensor, got "
                            f"{type(r).__name__}")
    order = walk(roots)
    ids = {n: f"v{i}" for i, n in enumerate(order)}  # position in the walk, never id()
    kept = _keep(roots, order, max_nodes)
    names = param_names(model, params)
    done = set(step.done) if step is not None else None
    consumers = {}
    for n in order:
        for p in n.parents:
            consumers.setdefault(p, []).append(n)

    scale = None
    if color_by == "grad":
        scale = GradScale([grad_magnitude(n) for n in order
                           if done is None or n in done])

    clusters = Clusters()
    if group_modules:
        labels = scope_names(order, model)

    def path_of(n):
        if not group_modules:
            return ()
        scope = getattr(n, "scope", ())
        if not scope and not n.parents and isinstance(n, Tensor):
            scope = owner_scope(n, consumers.get(n, ()))
        path = tuple(id(s) for s in scope)
        for k in range(1, len(path) + 1):
            clusters.labels[path[:k]] = labels[path[k - 1]]
        return path

    edges = []
    for n in order:
        if n not in kept:
            continue
        vid = ids[n]
        k = kind(n, roots, names)
        fill, border = KINDS.get(k, _PLAIN)
        pending = done is not None and n.requires_grad and n not in done
        fields = _fields(n, k, names, show_data, show_grad, pending)
        attrs = dict(shape="record", style="filled", fillcolor=fill, color=border,
                     label=record(fields, isinstance(n, Tensor), rankdir))
        if k:
            attrs["penwidth"] = "1.5"
        if scale is not None and not pending:
            m = grad_magnitude(n)
            attrs["fillcolor"] = scale.colour(m)
            if is_dark(attrs["fillcolor"]):
                attrs["fontcolor"] = "#ffffff"
            if m is not None and not math.isfinite(m):
                attrs["penwidth"] = "3"
        if k == "constant":
            attrs["fontsize"] = "9"
        if pending:
            attrs.update(fillcolor=_GREY[0], color=_GREY[1], fontcolor=_GREY[2])
        current = step is not None and n is step.node
        if current:
            attrs.update(color=_HIGHLIGHT, penwidth="3.5")
        path = path_of(n)
        clusters.add(path, vid, **attrs)
        if not n.parents:
            continue
        oid = vid + "_op"
        oattrs = dict(label=op_label(n), shape="ellipse", fontsize="10", height="0.3",
                      margin="0.04,0.02", tooltip=formula(n) or n.op)
        if len(n.parents) > 1:
            oattrs["ordering"] = "in"  # operands drawn in argument order (a − b: a on top)
        if pending:
            oattrs.update(color=_GREY[1], fontcolor=_GREY[2])
        if current:
            oattrs.update(color=_HIGHLIGHT, fontcolor=_HIGHLIGHT, penwidth="2.5")
        clusters.add(path, oid, **oattrs)
        edges.append((oid, vid, dict(color=_GREY[1]) if pending else {}))
        for i, p in enumerate(n.parents):  # parents order = the op's argument order
            eattrs = dict(color=_GREY[1]) if pending else {}
            if current and step.parent_grads and i < len(step.parent_grads):
                pg = step.parent_grads[i]
                if pg is not None and p.requires_grad:
                    eattrs = dict(label=f"grad {summary(pg)}", fontcolor=_HIGHLIGHT,
                                  color=_HIGHLIGHT, dir="back", arrowtail="normal")
            if p in kept:
                edges.append((ids[p], oid, eattrs))
            else:
                edges.append(("more", oid, dict(style="dashed", color="#999999")))

    g = _new_graph(rankdir, _step_title(step) if step is not None else None)
    clusters.emit(g)
    if len(kept) < len(order):
        g.node("more", shape="note", style="filled", fillcolor="#fff8dc", fontsize="10",
               label=f"… {len(order) - len(kept)} more values not drawn "
                     f"(max_nodes={max_nodes});\\npass a larger max_nodes, or draw a "
                     f"sub-graph (e.g. an intermediate tensor)")
    seen = set()
    for tail, head, eattrs in edges:
        if tail == "more":  # one dashed edge per consumer is enough
            if (tail, head) in seen:
                continue
            seen.add((tail, head))
        g.edge(tail, head, **eattrs)
    extra = ()
    if step is not None:
        extra = ((_PLAIN[0], _HIGHLIGHT, "current step"),
                 (_GREY[0], _GREY[1], "grad not known yet"))
    add_legend(g, legend_html(scale=scale, extra=extra))
    return g


def _step_title(step) -> str:
    # The printed step (micrograd-style text), left-justified above the picture.
    lines = str(step).splitlines()
    return "".join(line.replace("\\", "\\\\").replace('"', '\\"') + "\\l" for line in lines)


def draw_graph(root, show_data=True, show_grad=True, color_by=None, rankdir="LR",
               group_modules=False, max_nodes=300, model=None, params=None) -> Graph:
    """Draw the computation graph that ends at ``root`` (a Value or a Tensor).

    Drawn: a record per value (label or parameter name; shape and dtype for tensors; data
    and grad -- scalars to 4 significant digits, tensors as their numbers when at most 4,
    else mean and norm), an ellipse per op (hover for its derivative rule in SVG), edges in
    ``parents`` order, and a legend cluster: inputs (yellow), parameters (blue), the output
    (green), constants (grey).

    - ``color_by='grad'`` fills each value by log10 of its gradient's magnitude (norm for
      tensors) on a blue (vanishing) → red (exploding) scale spanning this graph's
      gradients; NaN/Inf is magenta with a thick border; the legend shows the scale.
    - ``group_modules=True`` clusters the values made inside each Module's forward under the
      module's name (dotted names from ``model.named_modules()`` when ``model`` is given,
      else ``Linear #0``-style) and files each parameter under the module that owns it.
    - ``max_nodes`` keeps the values nearest to the root (breadth first) and collapses the
      rest into one note node, rather than drawing a hairball.
    - ``model`` / ``params`` (a dict or ``named_parameters()`` pairs) name the parameters.

    Returns a :class:`viz.render.Graph` (a ``graphviz.Digraph``): Jupyter shows it inline,
    ``.source`` is the DOT text, ``viz.save(g, "graph.svg")`` writes a file.

    >>> from engine import Value
    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b; c.label = "c"; c.backward()
    >>> g = draw_graph(c)
    >>> 'digraph' in g.source and 'data -6' in g.source and 'grad -3' in g.source
    True
    """
    return _build(root, show_data=show_data, show_grad=show_grad, color_by=color_by,
                  rankdir=rankdir, group_modules=group_modules, max_nodes=max_nodes,
                  model=model, params=params)


def draw_step(step, show_data=True, color_by=None, rankdir="LR", group_modules=False,
              max_nodes=300, model=None, params=None) -> Graph:
    """Draw the graph at one step of ``engine.backward_steps``.

    The step's node and its op are outlined in red, and the gradients it sends to its
    parents label their edges (red arrows pointing back); values whose gradient is final
    (``step.done``) show it, values still waiting for theirs are greyed with ``grad ?``.
    The printed step (rule and numbers) is the picture's title. The root is ``step.done[0]``
    (backprop always starts there), so the layout is the same at every step.

    >>> from engine import Value, backward_steps
    >>> x = Value(0.5, label="x"); y = (x * 2).tanh(); y.label = "y"
    >>> steps = list(backward_steps(y))
    >>> g = draw_step(steps[1])   # y and 2x have their gradients; x does not yet
    >>> 'digraph' in g.source and 'x | data 0.5 | grad ?' in g.source
    True
    """
    return _build(step.done[0], show_data=show_data, show_grad=True, color_by=color_by,
                  rankdir=rankdir, group_modules=group_modules, max_nodes=max_nodes,
                  model=model, params=params, step=step)
