"""Recurrent nets in pictures: ``draw_unrolled`` (the graph unfolded in time, one cluster per
timestep) and ``draw_rolled`` (the compact cell with its recurrence edge).

``draw_unrolled`` runs the layer and reads the graph it records: every op made while the
layer's ``TimeStep(t)`` marker was on the scope stack goes into cluster "t = t". Inside a
cluster the ops are drawn with the records that matter -- the step's slice of the input and
the states it hands on (h, and c for an LSTM); the intermediate tensors between two ops are
left out so that a timestep reads as its equations. The layer's parameters are drawn once,
outside the clusters, with an edge into every step that uses them. ``x W_ihᵀ + b`` is computed
by the layer for all timesteps at once (one GEMM), so it is drawn once, before the steps,
and each step takes its slice ``[:, t]`` of it.
"""
from __future__ import annotations

import numpy as np

import engine
from engine import Tensor
from nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, TimeStep

from .graph import (
    FONT,
    KINDS,
    add_legend,
    fmt_index,
    formula,
    legend_html,
    op_label,
    record,
    summary,
    walk,
)
from .render import Graph

_LAYERS = (RNN, LSTM, GRU)
_CELLS = (RNNCell, LSTMCell, GRUCell)
_GATES = {LSTM: "ifgo", LSTMCell: "ifgo", GRU: "rzn", GRUCell: "rzn"}
_STATE = "#6a3d9a"   # the hidden-state edges from step t to t + 1
_SHARED = "#1f5fbf"  # edges from the shared weights
_SUB = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")


def _sub(t) -> str:
    return str(t).translate(_SUB)


def find_recurrent(module, kinds=_LAYERS):
    """``module`` itself if it is one of ``kinds``, else its first such sub-module, with its
    dotted name ("" for the module itself)."""
    for name, m in module.named_modules() if hasattr(module, "named_modules") else ():
        if isinstance(m, kinds):
            return name, m
    wanted = "/".join(k.__name__ for k in kinds)
    raise TypeError(f"expected an {wanted} or a model containing one, got "
                    f"{type(module).__name__}")


def _as_sequence(x_seq, layer):
    """A (batch, time, features) Tensor (or (time, batch, features) if not batch_first)."""
    like = next(layer.parameters())
    if isinstance(x_seq, Tensor):
        x = x_seq
    else:
        x = Tensor(np.asarray(x_seq), dtype=like.dtype)
    if x.ndim == 2:  # (T, F): add the batch dim where the layer expects it
        x = Tensor(x.data[None] if layer.batch_first else x.data[:, None], dtype=x.dtype,
                   name=x.name or "x")
    elif not x.name and x.op == "":
        x = Tensor(x.data, dtype=x.dtype, name="x")  # a labelled copy; the caller's is untouched
    if x.ndim != 3:
        raise ValueError(f"draw_unrolled: x_seq must be (T, F) or (1, T, F), got shape "
                         f"{x.shape}")
    return x


def _flatten(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten(o)]
    return []


def _gate_label(node, layer):
    """``getitem [:, 3:6]`` of a gate pre-activation → ``f [:, 3:6]`` (LSTM/GRU gate names)."""
    gates, H = _GATES.get(type(layer)), layer.hidden_size
    index = getattr(node.grad_fn, "index", None)
    if gates and isinstance(index, tuple) and len(index) == 2 and isinstance(index[1], slice):
        start = index[1].start or 0
        if node.shape[-1] == H and node.parents[0].shape[-1] == len(gates) * H:
            return f"gate {gates[start // H]}\\n{fmt_index(index)}"
    return op_label(node)


def draw_unrolled(module, x_seq, max_steps=6, first=3, last=2, show_data=True,
                  rankdir="BT") -> Graph:
    """Run a recurrent module on ``x_seq`` and draw it unfolded in time.

    ``module``: an ``nn.RNN``/``LSTM``/``GRU`` or a model containing one (the first is
    unrolled). ``x_seq``: (T, F) or (1, T, F), array or Tensor. Drawn: one cluster per
    timestep ("t = 0", ...) with that step's input slice, its ops (LSTM/GRU gates named) and
    the states it produces (h_t, and c_t for an LSTM); purple edges carry the state from step
    t to t + 1; the layer's parameters are drawn once, outside the clusters, with an edge into
    every step; ``x W_ihᵀ + b`` (computed for all steps at once) sits before the steps.
    Sequences longer than ``max_steps`` show the ``first`` and ``last`` steps with an
    ellipsis cluster between. The module is run forward once; a stateful layer's kept state
    is restored afterwards.

    >>> import engine, nn
    >>> _ = engine.manual_seed(0)
    >>> g = draw_unrolled(nn.RNN(2, 3), np.zeros((4, 2)))
    >>> 'digraph' in g.source and 'label="t = 3"' in g.source
    True
    """
    if first < 1 or last < 1:
        raise ValueError("draw_unrolled: first and last must be at least 1")
    layer_name, layer = find_recurrent(module)
    x = _as_sequence(x_seq, layer)
    kept_state = layer.state
    try:
        with engine.enable_grad():
            out = module(x)
    finally:
        layer.state = kept_state  # drawing must not advance a stateful layer
    roots = [t for t in _flatten(out) if t.requires_grad]
    if not roots:
        raise ValueError("draw_unrolled: the module's output records no graph (are its "
                         "parameters frozen?)")
    order = walk(roots)
    ids = {n: f"v{i}" for i, n in enumerate(order)}
    consumers = {}
    for n in order:
        for p in n.parents:
            consumers.setdefault(p, []).append(n)

    def step_of(n):
        for s in getattr(n, "scope", ()):
            if isinstance(s, TimeStep) and s.layer is layer:
                return s.t
        return None

    step = {n: step_of(n) for n in order}
    T = x.shape[1] if layer.batch_first else x.shape[0]
    if T > max_steps:
        shown = set(range(first)) | set(range(T - last, T))
    else:
        shown = set(range(T))
    hidden = [t for t in range(T) if t not in shown]

    own = {id(p): n for n, p in layer.named_parameters()}
    prefix = layer_name + "." if layer_name else ""
    names = {id(p): n for n, p in module.named_parameters()}
    shared = [n for n in order if id(n) in own]

    def transposed_param(n):  # W.T of a weight: drawn as an edge from W labelled .T
        return (n.op == "permute" and len(n.parents) == 1 and id(n.parents[0]) in names
                and n.ndim == 2)

    # States: what a step hands on (used outside the step, or returned by the module).
    is_root = set(roots)

    def is_state(n):
        t = step[n]
        return t is not None and n.op != "" and (
            n in is_root or any(step[c] != t for c in consumers.get(n, ())))

    def state_label(n):
        # An LSTM's cell state: the fused step's lstm_c, or (one op per gate) the state its
        # own step takes tanh of (h = o ⊙ tanh(c)).
        if n.op == "lstm_c" or isinstance(layer, LSTM) and any(
                c.op == "tanh" and step[c] == step[n] for c in consumers.get(n, ())):
            return f"c{_sub(step[n])}"
        return f"h{_sub(step[n])}"

    def step_input(n):  # the step's slice of a sequence-wide tensor
        return n.op == "getitem" and step[n] is not None and step[n.parents[0]] is None

    # Layer ops that run once for all timesteps and feed the steps (x W_ihᵀ + b).
    pre = set()
    for n in order:  # consumers come before their parents in this order
        if step[n] is None and n.op and layer in getattr(n, "scope", ()) and \
                any(step[c] is not None or c in pre for c in consumers.get(n, ())):
            pre.add(n)

    g = Graph("unrolled")
    g.attr(rankdir=rankdir, fontname=FONT, fontsize="11", newrank="true",
           label=f"{type(layer).__name__} unrolled over {T} timesteps"
                 + (f" (steps {first}…{T - last - 1} elided)" if hidden else ""),
           labelloc="t")
    g.attr("node", fontname=FONT, fontsize="10")
    g.attr("edge", fontname=FONT, fontsize="9", arrowsize="0.7")

    def value_node(graph, n, title, kind=""):
        fill, border = KINDS.get(kind, ("#ffffff", "#000000"))
        fields = ([title] if title else []) + [f"{n.shape}"]
        if show_data:
            fields.append(summary(n.data))
        graph.node(ids[n], label=record(fields, True, rankdir), shape="record",
                   style="filled", fillcolor=fill, color=border,
                   penwidth="1.5" if kind else "1")

    def is_const(n):  # a number that met a tensor (the 1 of 1 − z): folded into its op
        return not n.parents and not n.requires_grad and not n.name and n.data.ndim == 0

    def op_node(graph, n):
        label = _gate_label(n, layer) if n.op == "getitem" else op_label(n)
        if any(is_const(p) for p in n.parents):
            args = ", ".join(summary(p.data) if is_const(p) else "·" for p in n.parents)
            label = f"{n.op}({args})"
        graph.node(ids[n] + "_op", label=label, shape="ellipse", fontsize="10", height="0.3",
                   margin="0.04,0.02", tooltip=formula(n) or n.op)

    has_record = set()
    # Shared weights, once, outside every timestep.
    with g.subgraph(name="cluster_shared") as c:
        c.attr(label=f"shared weights ({type(layer).__name__}, used at every t)",
               style="rounded,dashed", color=_SHARED, fontcolor=_SHARED)
        for p in shared:
            value_node(c, p, names.get(id(p), prefix + own[id(p)]), "parameter")
            has_record.add(p)
    if pre:
        with g.subgraph(name="cluster_pre") as c:
            c.attr(label="for all t at once (one GEMM)", style="rounded,dotted",
                   color="#7f7f7f", fontcolor="#555555")
            for n in order:
                if n in pre and not transposed_param(n):
                    op_node(c, n)
                    if not any(c2 in pre for c2 in consumers.get(n, ())):
                        value_node(c, n, "x·W_ihᵀ + b  (all t)")
                        has_record.add(n)
    # Everything else outside the steps: the input, initial states, heads, losses.
    bottom = [p for p in shared]
    for n in order:
        if step[n] is not None or n in pre or id(n) in own or transposed_param(n) or \
                is_const(n):
            continue
        uses = consumers.get(n, ())
        if uses and all(step[c] in hidden for c in uses):
            continue  # only feeds elided steps
        if not n.parents:
            bottom.append(n)
            if any(c.op == "matmul" and step[c] == 0 for c in uses):
                title = "h (initial)"
            elif any(step[c] == 0 for c in uses):
                title = "c (initial)" if isinstance(layer, LSTM) else "state (initial)"
            else:
                title = names.get(id(n)) or n.name
            value_node(g, n, title, "input" if not n.requires_grad else "parameter")
        else:
            op_node(g, n)
            value_node(g, n, names.get(id(n)) or n.name, "output" if n in is_root else "")
        has_record.add(n)
    # One cluster per shown timestep; the hidden ones become a single ellipsis cluster.
    clusters = [(t,) for t in sorted(shown) if t < first] + (
        [tuple(hidden)] if hidden else []) + [(t,) for t in sorted(shown) if t >= first]
    for ts in clusters:
        if len(ts) > 1 or ts[0] in hidden:
            with g.subgraph(name="cluster_t_ellipsis") as c:
                c.attr(label=f"t = {ts[0]} … {ts[-1]}", style="rounded,dashed",
                       color="#999999")
                c.node("ellipsis", label=f"⋯ {len(ts)} more steps ⋯\\n(same ops, same "
                                         f"weights)", shape="plaintext", fontsize="11")
            continue
        t = ts[0]
        with g.subgraph(name=f"cluster_t{t}") as c:
            c.attr(label=f"t = {t}", style="rounded", color="#7f7f7f", fontcolor="#333333")
            for n in order:
                if step[n] != t or transposed_param(n):
                    continue
                op_node(c, n)
                if is_state(n):
                    value_node(c, n, state_label(n), "output" if n in is_root else "")
                    has_record.add(n)
                elif step_input(n):
                    value_node(c, n, f"x{_sub(t)}·W_ihᵀ + b")
                    has_record.add(n)

    def source(p):
        """(DOT name, edge attrs) an edge from value ``p`` starts at."""
        if transposed_param(p):
            colour = _SHARED if id(p.parents[0]) in own else "#000000"
            return ids[p.parents[0]], dict(label=".T", color=colour, fontcolor=colour)
        if step[p] in hidden:
            return "ellipsis", {}
        if id(p) in own:
            return ids[p], dict(color=_SHARED)
        return (ids[p] if p in has_record else ids[p] + "_op"), {}

    edges, seen = [], set()

    def add(tail, head, attrs):
        if tail != head and (tail, head) not in seen:
            seen.add((tail, head))
            edges.append((tail, head, attrs))

    for n in order:
        if not n.parents or transposed_param(n):
            continue
        if step[n] in hidden:
            head = "ellipsis"
        else:
            head = ids[n] + "_op"
            if n in has_record:
                add(head, ids[n], {})
        for p in n.parents:
            if is_const(p):
                continue
            tail, attrs = source(p)
            if is_state(p) and step[n] is not None and step[n] != step[p]:
                # The state handed to the next step. Written head -> tail with dir=back: the
                # arrow still points forward in time, but for the layout it runs from the
                # bottom of step t + 1 to the top of step t, so the steps share ranks and sit
                # side by side as a chain, time running across the picture.
                attrs = dict(attrs, color=_STATE, penwidth="2.2", reverse=True)
            add(tail, head, attrs)
    for tail, head, attrs in edges:
        if attrs.pop("reverse", False):
            g.edge(head, tail, dir="back", tailport="w", headport="e", **attrs)
        else:
            g.edge(tail, head, **attrs)
    # Time runs across the picture in order. dot has no hard left-to-right constraint
    # between clusters, so each step gets an invisible anchor in the bottom row (outside
    # every cluster, where invisible flat edges do fix the order) with edges up into the
    # step's entry ops (which share one rank) and its states: crossings are fewest with the
    # steps in anchor order. A first anchor holds the initial states, left of every step.
    entries, anchors = [], []
    inits = [ids[n] for n in bottom if id(n) not in own
             and any(step[c] == 0 for c in consumers.get(n, ()))]
    if inits:
        anchors.append(("time_init", inits))
    for k, ts in enumerate(clusters):
        if len(ts) > 1 or ts[0] in hidden:
            heads = ["ellipsis"]
        else:
            ops = [n for n in order if step[n] == ts[0] and not transposed_param(n)]
            heads = [ids[n] + "_op" for n in ops if not any(
                step[p] == ts[0] and not transposed_param(p) for p in n.parents)]
            entries += heads
            heads = heads + [ids[n] for n in ops if n in has_record]
        anchors.append((f"time{k}", heads))
    for name, heads in anchors:
        g.node(name, shape="point", style="invis", width="0")
        for h in heads:
            g.edge(name, h, style="invis")
    for (a, _), (b, _) in zip(anchors, anchors[1:], strict=False):
        g.edge(a, b, style="invis", weight="10")
    with g.subgraph() as s:
        s.attr(rank="same")
        for a in entries + (["ellipsis"] if hidden else []):
            s.node(a)
    with g.subgraph() as s:  # shared weights, the input and the time anchors: the bottom row
        s.attr(rank="same")
        for n in bottom:
            if ids[n] not in inits:
                s.node(ids[n])
        for name, _ in anchors:
            s.node(name)
    add_legend(g, legend_html(kinds={k: KINDS[k] for k in ("input", "parameter", "output")},
                              extra=(("#ffffff", _STATE, "state passed to the next step"),)))
    return g


_EQUATIONS = {
    "RNN": ["h_t = {act}x_t W_ihᵀ + b_ih + h_{{t−1}} W_hhᵀ + b_hh{close}"],
    "LSTM": ["[i f g o] = x_t W_ihᵀ + b_ih + h_{{t−1}} W_hhᵀ + b_hh",
             "i, f, o = σ(·),  g = tanh(·)",
             "c_t = f ⊙ c_{{t−1}} + i ⊙ g",
             "h_t = o ⊙ tanh(c_t)"],
    "GRU": ["r = σ(x_t W_irᵀ + b_ir + h_{{t−1}} W_hrᵀ + b_hr)",
            "z = σ(x_t W_izᵀ + b_iz + h_{{t−1}} W_hzᵀ + b_hz)",
            "n = tanh(x_t W_inᵀ + b_in + r ⊙ (h_{{t−1}} W_hnᵀ + b_hn))",
            "h_t = (1 − z) ⊙ n + z ⊙ h_{{t−1}}"],
}


def draw_rolled(module, rankdir="LR") -> Graph:
    """Draw a recurrent layer in its compact, rolled form.

    Drawn: the input x_t → the cell (its equations) → h_t, the cell's weights (their names
    and shapes) feeding the cell, and the recurrence: an edge from h_t back into the cell
    labelled "h_{t−1}" (and for an LSTM, c_t back as "c_{t−1}"). ``module`` is an RNN, LSTM,
    GRU, one of their cells, or a model containing one.

    >>> import nn
    >>> g = draw_rolled(nn.LSTM(2, 3))
    >>> 'h_{t−1}' in g.source and 'c_{t−1}' in g.source
    True
    """
    name, layer = find_recurrent(module, _LAYERS + _CELLS)
    kind = type(layer).__name__.replace("Cell", "")
    act = getattr(layer, "nonlinearity", "tanh")
    H, F = layer.hidden_size, layer.input_size
    prefix = name + "." if name else ""
    g = Graph("rolled")
    g.attr(rankdir=rankdir, fontname=FONT, fontsize="11",
           label=f"{type(layer).__name__} (rolled): input size {F}, hidden size {H}",
           labelloc="t")
    g.attr("node", fontname=FONT, fontsize="10")
    g.attr("edge", fontname=FONT, fontsize="10", arrowsize="0.7")
    fill, border = KINDS["input"]
    g.node("x", label=record(["x_t", f"(batch, {F})"], True, rankdir), shape="record",
           style="filled", fillcolor=fill, color=border)
    linear = act in ("linear", "identity")  # nonlinearity="linear": no function around it
    lines = [eq.format(act="" if linear else act + "(", close="" if linear else ")")
             for eq in _EQUATIONS[kind]]
    g.node("cell", label=f"{kind} cell\\n\\n" + "".join(s + "\\l" for s in lines),
           shape="box", style="rounded,filled", fillcolor="#f7f7f7", penwidth="1.5")
    with g.subgraph(name="cluster_weights") as c:
        c.attr(label="weights (the same at every t)", style="rounded,dashed", color=_SHARED,
               fontcolor=_SHARED)
        fill, border = KINDS["parameter"]
        for i, (pname, p) in enumerate(layer.named_parameters()):
            c.node(f"w{i}", label=record([prefix + pname, str(p.shape)], True, rankdir),
                   shape="record", style="filled", fillcolor=fill, color=border)
            g.edge(f"w{i}", "cell", color=_SHARED)
    fill, border = KINDS["output"]
    g.edge("x", "cell")
    states = [("h", "h_t"), ("c", "c_t")] if kind == "LSTM" else [("h", "h_t")]
    for key, label in states:
        g.node(key, label=record([label, f"(batch, {H})"], True, rankdir), shape="record",
               style="filled", fillcolor=fill, color=border)
        g.edge("cell", key)
        # The recurrence: next step, this state comes back in as the previous one.
        g.edge(key, "cell", label=f"{key}_{{t−1}}", color=_STATE, fontcolor=_STATE,
               penwidth="2", style="dashed", constraint="false")
    return g
