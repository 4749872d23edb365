"""Recurrent nets in pictures: ``draw_unrolled`` (the graph unfolded in time, one cluster per
timestep) and ``draw_rolled`` (the compact cell with its recurrence edge).

``draw_unrolled`` runs the layer and reads the graph it records with the same
:class:`viz.model.GraphModel` as ``draw_graph``: every op made while the layer's
``TimeStep(t)`` marker was on the scope stack goes into cluster "t = t". Inside a cluster the
ops are drawn with the values that matter -- the step's part of the input and the states it
hands on (h, and c for an LSTM); the values between two ops of a step are left out so that
a step reads as its equations. The weights are drawn once, in a box of their own; each op
that uses one names it (``h₁ · weight_hh_l0ᵀ``), so no edge has to cross the picture to
reach them. The layer multiplies the whole input sequence by ``W_ihᵀ`` once, before the
steps; that is one box under the steps, and each step takes its part.
"""
from __future__ import annotations

import html
import re

import graphviz
import numpy as np

import engine
from engine import Tensor
from nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, TimeStep, stepwise

from . import style
from .graph import Item, dot_lines, value_table
from .model import GraphModel
from .render import Graph, svg_size
from .style import FONT, KINDS
from .text import fmt_index, op_label, summary

_LAYERS = (RNN, LSTM, GRU)
_CELLS = (RNNCell, LSTMCell, GRUCell)
_GATES = {LSTM: "ifgo", LSTMCell: "ifgo", GRU: "rzn", GRUCell: "rzn"}
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


def _one_layer(layer, what):
    """Pictures draw one layer and one direction: a stacked or bidirectional layer is
    refused by name (its picture would need a row per layer and direction)."""
    if getattr(layer, "num_layers", 1) != 1 or getattr(layer, "bidirectional", False):
        raise NotImplementedError(
            f"{what}: draws a one-layer, one-direction {type(layer).__name__}; this one has "
            f"num_layers={layer.num_layers}, bidirectional={layer.bidirectional}. Draw a "
            f"one-layer copy: nn.{type(layer).__name__}({layer.input_size}, "
            f"{layer.hidden_size}, batch_first={layer.batch_first})")
    return layer


def _as_sequence(x_seq, layer):
    """A (batch, time, features) Tensor (or (time, batch, features) if not batch_first)."""
    like = next(layer.parameters())
    x = x_seq if isinstance(x_seq, Tensor) else Tensor(np.asarray(x_seq), dtype=like.dtype)
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


class _Unrolled:
    """The unrolled picture's decisions, read from a GraphModel."""

    def __init__(self, module, layer, x, max_steps, first, last):
        self.layer = layer
        kept_state = layer.state
        try:
            with engine.enable_grad(), stepwise(layer):  # each timestep's ops, recorded
                # The layer alone: its (N, H) final states, without the (1, N, H) reshape
                # PyTorch's return layout adds after the last step (an op of no step).
                if module is layer:
                    with engine.module_scope(layer):
                        out = layer._run_sequence(x, None)
                else:
                    out = module(x)
        finally:
            layer.state = kept_state  # drawing must not advance a stateful layer
        roots = [t for t in _flatten(out) if t.requires_grad]
        if not roots:
            raise ValueError("draw_unrolled: the module's output records no graph (are its "
                             "parameters frozen?)")
        self.gm = gm = GraphModel(roots, what="draw_unrolled")
        self.step = {n: next((s.t for s in gm.scopes[n]
                              if isinstance(s, TimeStep) and s.layer is layer), None)
                     for n in gm.order}
        self.T = x.shape[1] if layer.batch_first else x.shape[0]
        T = self.T
        shown = set(range(first)) | set(range(T - last, T)) if T > max_steps else set(range(T))
        self.hidden = [t for t in range(T) if t not in shown]
        self.own = {id(p) for p in layer.parameters()}
        self.roots = set(roots)

    # -- what a node is -------------------------------------------------------------------
    def is_weight(self, n):
        return id(n) in self.own

    def is_transposed_weight(self, n):  # W.T: named in the op that uses it
        return n.op == "permute" and len(n.parents) == 1 and self.is_weight(n.parents[0])

    def is_const(self, n):  # a number that met a tensor (the 1 of 1 − z): in its op's label
        return self.gm.is_constant(n)

    def is_state(self, n):
        """A value a step hands on: used outside its step, or returned by the module."""
        t = self.step[n]
        return t is not None and n.op != "" and (
            n in self.roots or any(self.step[c] != t for c in self.gm.consumers[n]))

    def state_label(self, n):
        # An LSTM's cell state: the fused step's lstm_c, or (one op per gate) the state its
        # own step takes tanh of (h = o ⊙ tanh(c)).
        if n.op == "lstm_c" or isinstance(self.layer, LSTM) and any(
                c.op == "tanh" and self.step[c] == self.step[n] for c in self.gm.consumers[n]):
            return f"c{_sub(self.step[n])}"
        return f"h{_sub(self.step[n])}"

    def step_input(self, n):  # the step's part of a sequence-wide tensor
        return n.op == "getitem" and self.step[n] is not None and \
            self.step[n.parents[0]] is None

    def operand(self, p):
        """How an op's label names operand ``p``."""
        if self.is_transposed_weight(p):
            return self.gm.names[p.parents[0]] + "ᵀ"
        if self.is_state(p):
            return self.state_label(p)
        if self.is_weight(p):
            return self.gm.names[p]
        if p in self.inits:
            return self.inits[p]
        if self.gm.names[p]:
            return self.gm.names[p]
        if self.is_const(p):
            return f"{float(np.asarray(p.data).reshape(-1)[0]) + 0.0:.6g}"
        return "·"

    def op_text(self, n):
        """The op in words: what it multiplies or adds when that is known, gate names."""
        if n.op == "getitem":
            gates, H = _GATES.get(type(self.layer)), self.layer.hidden_size
            index = getattr(n.grad_fn, "index", None)
            if gates and isinstance(index, tuple) and len(index) == 2 and \
                    isinstance(index[1], slice) and n.shape[-1] == H and \
                    n.parents[0].shape[-1] == len(gates) * H:
                return f"gate {gates[(index[1].start or 0) // H]}\n{fmt_index(index)}"
            if self.step_input(n):  # step t's part of the input box: just its index
                return fmt_index(index)
            return op_label(n)
        args = [self.operand(p) for p in n.parents]
        named = [a for a in args if a != "·"]
        if n.op == "matmul" and len(args) == 2 and named:
            return f"{args[0]} ·\n{args[1]}"  # two short lines: a narrow ellipse
        if n.op == "linear" and named:  # x·Wᵀ (+ b): the weight by name, transposed
            bias = "" if len(args) < 3 else " + b" if args[2] == "·" else f" +\n{args[2]}"
            return f"{args[0]} ·\n{args[1]}ᵀ{bias}"
        if n.op in ("add", "sub", "mul") and named and len(args) == 2:
            sign = {"add": "+", "sub": "−", "mul": "⊙"}[n.op]
            return f"{args[0]} {sign} {args[1]}"
        return op_label(n)


def draw_unrolled(module, x_seq, max_steps=6, first=3, last=2, show_data=True,
                  level=None, fit=True) -> Graph:
    """Run a recurrent module on ``x_seq`` and draw it unfolded in time.

    ``module``: an ``nn.RNN``/``LSTM``/``GRU`` or a model containing one (the first is
    unrolled). ``x_seq``: (T, F) or (1, T, F), array or Tensor. Drawn: one cluster per
    timestep ("t = 0", ...) with that step's part of the input, its ops (LSTM/GRU gates
    named; each op says what it multiplies, e.g. ``h₁ · weight_hh_l0ᵀ``) and the states it
    hands on (h_t, and c_t for an LSTM); purple edges carry the state from step t to t + 1;
    the state before the first step sits left of it; the weights are drawn once; the input
    times ``W_ihᵀ`` plus bias, computed for every t at once before the steps, is one box
    under them. Sequences longer than ``max_steps`` show the ``first`` and ``last`` steps
    with one "⋯ n more steps ⋯" node between. ``level='step'`` draws each step as one box
    (its equations and states) instead of its ops. The legend is in the picture. With
    ``fit`` the picture fits 1,600 × 1,000 px: fewer steps are drawn (down to three), then
    one box per step (``level=None`` only), and the caption says so. The module is run
    forward once; a stateful layer's kept state is restored afterwards.

    >>> import engine, nn
    >>> _ = engine.manual_seed(0)
    >>> g = draw_unrolled(nn.RNN(2, 3, batch_first=True), np.zeros((4, 2)))
    >>> 'digraph' in g.source and 'label="t = 3"' in g.source
    True
    """
    if first < 1 or last < 1:
        raise ValueError("draw_unrolled: first and last must be at least 1")
    if level not in (None, "op", "step"):
        raise ValueError(f"draw_unrolled: level must be 'op', 'step' or None (whichever "
                         f"fits), got {level!r}")
    _, layer = find_recurrent(module)
    _one_layer(layer, "draw_unrolled")
    x = _as_sequence(x_seq, layer)
    u = _Unrolled(module, layer, x, max_steps, first, last)
    g = _emit(u, show_data, first, level=level or "op")
    if not fit:
        return g
    try:
        size = svg_size(g)
    except graphviz.ExecutableNotFound:  # no Graphviz: nothing to measure
        return g
    box = style.BOX_PX

    def fits(size):
        return size[0] <= box[0] and size[1] <= box[1]

    # Fewer steps first (down to 3 drawn), then one box per step, then fewer of those.
    for lv in ([level] if level else ["op", "step"]):
        shown = u.T if u.T <= max_steps else first + last
        while True:
            if fits(size):
                return g
            if shown <= (3 if lv == "op" and not level else 2):
                break
            shown -= 1  # one step fewer, taken from the middle
            f, la = (shown + 1) // 2, shown // 2
            u = _Unrolled(module, layer, x, shown, f, la)
            g = _emit(u, show_data, f, level=lv,
                      note=f"Only the first {f} and the last {la} steps are drawn, so that "
                           f"the picture fits {box[0]}×{box[1]} px (fit=False draws all).")
            size = svg_size(g)
        if lv == "op" and not level:
            u = _Unrolled(module, layer, x, max_steps, first, last)
            g = _emit(u, show_data, first, level="step",
                      note=f"One box per step (level='step'), so that the picture fits "
                           f"{box[0]}×{box[1]} px; level='op' draws every op.")
            size = svg_size(g)
    return g


def _emit(u: _Unrolled, show_data, first, note=None, level="op") -> Graph:
    step_box = {}  # level "step": node → the box of its step
    gm, layer, step, hidden = u.gm, u.layer, u.step, u.hidden
    order, consumers, ids = gm.order, gm.consumers, gm.ids
    kind_name = type(layer).__name__
    dtype = next(layer.parameters()).dtype  # said in the title, not in every box
    # Layer ops that run once for all timesteps and feed the steps (x W_ihᵀ + b).
    pre = set()
    for n in order:  # consumers come before their parents in this order
        if step[n] is None and n.op and any(s is layer for s in gm.scopes[n]) and \
                any(step[c] is not None or c in pre for c in consumers[n]) and \
                not u.is_transposed_weight(n):
            pre.add(n)
    # The states before the first step (zeros unless given): leaves the first step uses.
    u.inits = {}
    for n in order:
        if not n.parents and not u.is_weight(n) and not u.is_const(n) and \
                any(step[c] == 0 for c in consumers[n]):
            is_c = isinstance(layer, LSTM) and any(c.op in ("lstm_c", "mul")
                                                   for c in consumers[n]) and \
                not any(c.op == "matmul" for c in consumers[n])
            u.inits[n] = ("c" if is_c else "h") + _sub(-1)

    T = u.T
    title = f"{kind_name} unrolled over {T} timesteps ({dtype})" + (
        f" (steps {hidden[0]}…{hidden[-1]} not drawn)" if hidden else "")
    g = Graph("unrolled")
    g.attr(rankdir="BT", fontname=FONT, fontsize=str(style.TITLE_PT), newrank="true",
           nodesep="0.12", ranksep="0.25")
    g.attr("node", fontname=FONT, fontsize=str(style.MIN_PT), margin="0.04,0.02")
    g.attr("edge", fontname=FONT, fontsize=str(style.MIN_PT), arrowsize="0.7")

    def box(graph, n, title, kind="intermediate"):
        fill, border, _ = KINDS[kind]
        item = Item(ids[n], [n], n, kind, title)
        graph.node(ids[n], shape="plaintext", margin="0", width="0", height="0",
                   label=value_table(item, "LR", show_data, None, False, fill, border, 0,
                                     root_dtype=dtype, halo=None))

    def op_node(graph, n):
        if u.step_input(n):  # a small label on the way in, not an ellipse
            graph.node(ids[n] + "_op", label=dot_lines(u.op_text(n)), shape="plaintext",
                       height="0",
                       width="0", margin="0.02", tooltip=f"x{_sub(step[n])} · W_ihᵀ + b: "
                                                         f"this step's part of the input")
            return
        graph.node(ids[n] + "_op", label=dot_lines(u.op_text(n)), shape="ellipse",
                   height="0.3",
                   tooltip=n.grad_fn.formula if n.grad_fn is not None else n.op)

    has_box = set()
    # The weights, once, in the picture's heading (not nodes: no edge has to reach them,
    # and they take no room from the steps); every op using one names it.
    weights = [p for p in layer.parameters() if p in gm.ids]
    pre_inputs = set()
    if pre:
        with g.subgraph(name="cluster_pre") as c:
            c.attr(label="before the steps: the input times W_ihᵀ plus bias, every t at once",
                   style="rounded,dotted", color="#7f7f7f", fontcolor="#555555",
                   labelloc="t")
            for n in order:
                if n in pre:
                    op_node(c, n)
                    if not any(c2 in pre for c2 in consumers[n]):
                        box(c, n, "x · W_ihᵀ + b, all t")
                        has_box.add(n)
                elif not n.parents and not u.is_weight(n) and not u.is_const(n) and \
                        consumers[n] and all(c2 in pre for c2 in consumers[n]):
                    box(c, n, gm.names[n], gm.kinds[n])  # the input sequence itself
                    has_box.add(n)
                    pre_inputs.add(n)
    # Everything else outside the steps: the input, the first states, heads, losses.
    bottom = []
    for n in order:
        if step[n] is not None or n in pre or u.is_weight(n) or u.is_transposed_weight(n) \
                or u.is_const(n) or n in u.inits or n in pre_inputs:
            continue
        uses = consumers[n]
        if uses and all(step[c] in hidden for c in uses):
            continue  # only feeds steps not drawn
        if not n.parents:
            bottom.append(n)
            box(g, n, gm.names[n], gm.kinds[n])
        else:
            op_node(g, n)
            box(g, n, gm.names[n] or ("output" if n in u.roots else ""),
                "loss" if n in u.roots else "intermediate")
        has_box.add(n)
    # One cluster per shown timestep; the hidden ones become one "⋯" cluster.
    shown = sorted({t for t in range(T)} - set(hidden))
    clusters = [(t,) for t in shown if t < first] + ([tuple(hidden)] if hidden else []) + \
        [(t,) for t in shown if t >= first]
    for n in u.inits:  # on the entry row, left of t = 0 (see the anchors below)
        box(g, n, u.inits[n] + ", before t = 0", "input")
        has_box.add(n)
    for k, ts in enumerate(clusters):
        if len(ts) > 1 or ts[0] in hidden:  # a node, no cluster: no label to cross
            g.node("ellipsis", label=dot_lines(f"⋯ t = {ts[0]} … {ts[-1]} ⋯\n{len(ts)} more "
                                                f"steps:\nthe same ops,\nthe same weights"),
                   shape="box",
                   style="rounded,dashed", color="#999999")
            continue
        t = ts[0]
        if level == "step":  # one box for the whole step: its equations and its states
            g.node(f"step{t}", shape="plaintext", margin="0", width="0", height="0",
                   label=_step_box(u, t, kind_name, show_data),
                   tooltip=f"step t = {t}: " + " → ".join(
                       n.op for n in reversed(order) if step[n] == t and n.op))
            for n in order:
                if step[n] == t:
                    step_box[n] = f"step{t}"
            continue
        with g.subgraph(name=f"cluster_t{t}") as c:
            # labelloc "b" is the top in a bottom-to-top layout: away from the edges coming
            # up from the input box.
            # Left half: label top left; right half: top right -- the edges from the
            # states to the output leave towards the middle, away from the label.
            c.attr(label=f"t = {t}", style="rounded", color="#7f7f7f", fontcolor="#333333",
                   labelloc="b", labeljust="l" if k < len(clusters) / 2 else "r")
            for n in order:
                if step[n] != t or u.is_transposed_weight(n):
                    continue
                op_node(c, n)
                if u.is_state(n):
                    box(c, n, u.state_label(n), "loss" if n in u.roots else "intermediate")
                    has_box.add(n)

    def source(p):
        if step[p] in hidden:
            return "ellipsis"
        if p in step_box:
            return step_box[p]
        return ids[p] if p in has_box else ids[p] + "_op"

    edges, seen = [], set()

    def add(tail, head, attrs):
        if tail != head and (tail, head) not in seen:
            seen.add((tail, head))
            edges.append((tail, head, attrs))

    for n in order:
        if not n.parents or u.is_transposed_weight(n):
            continue
        if step[n] in hidden:
            head = "ellipsis"
        elif n in step_box:
            head = step_box[n]
        else:
            head = ids[n] + "_op"
            if n in has_box:
                add(head, ids[n], {})
        for p in n.parents:
            # Weights (and their transposes) are named in the op: no edge across the picture.
            if u.is_const(p) or u.is_weight(p) or u.is_transposed_weight(p):
                continue
            attrs = {}
            if (u.is_state(p) or p in u.inits) and step[n] is not None and \
                    step[n] != step[p] and level == "step":
                attrs = dict(color=style.STATE, penwidth="2.2")  # boxes side by side: flat
            elif p in u.inits:
                # Forward (a flat edge on the entry row): the start state left of t = 0.
                attrs = dict(color=style.STATE, penwidth="2.2")
            elif u.is_state(p) and step[n] is not None and step[n] != step[p]:
                # The state handed to the next step. Written head -> tail with dir=back: the
                # arrow still points forward in time, but for the layout it runs from the
                # bottom of step t + 1 to the top of step t, so the steps share ranks and sit
                # side by side, time running across the picture.
                attrs = dict(color=style.STATE, penwidth="2.2", reverse=True)
            add(source(p), head, attrs)
    for tail, head, attrs in edges:
        if attrs.pop("reverse", False):
            g.edge(head, tail, dir="back", **attrs)
        else:
            g.edge(tail, head, **attrs)
    # Time runs across the picture in order: dot has no left-to-right constraint between
    # clusters, so each step gets an invisible anchor in the bottom row (outside every
    # cluster, where invisible flat edges do fix the order) with edges up into the step's
    # entry ops; the first anchor holds the starting states, the last the weights.
    entries, anchors = [], []
    if u.inits:
        anchors.append(("time_init", [ids[n] for n in u.inits]))
    for k, ts in enumerate(clusters):
        if len(ts) > 1 or ts[0] in hidden:
            heads = ["ellipsis"]
        elif level == "step":
            heads = [f"step{ts[0]}"]
            entries += heads
        else:
            # The step's entry: the op taking the previous state (h · W_hhᵀ). The step's
            # part of the input may sit under it, which keeps the cluster narrow.
            ops = [n for n in order if step[n] == ts[0] and not u.is_transposed_weight(n)]
            heads = [ids[n] + "_op" for n in ops if not any(
                step[p] == ts[0] and not u.is_transposed_weight(p) for p in n.parents)
                and not u.step_input(n)]
            entries += heads
        anchors.append((f"time{k}", heads))
    for name, heads in anchors:
        g.node(name, shape="point", style="invis", width="0")
        for h in heads:
            g.edge(name, h, style="invis")
    for (a, _), (b, _) in zip(anchors, anchors[1:], strict=False):
        g.edge(a, b, style="invis", weight="10")
    with g.subgraph() as s:
        s.attr(rank="same")
        # h before t = 0 beside the op taking it; c (an LSTM's) may sit above it.
        first_in = [ids[n] for n in u.inits if any(
            ids[c] + "_op" in entries or step_box.get(c) in entries for c in consumers[n])]
        for a in entries + (["ellipsis"] if hidden else []) + first_in:
            s.node(a)
    with g.subgraph() as s:  # the weights, the input and the time anchors: the bottom row
        s.attr(rank="same")
        for n in bottom:
            s.node(ids[n])
        for name, _ in anchors:
            s.node(name)
    rows = style.legend({"parameter", "input", "intermediate", "loss"},
                        extra=(("#ffffff", style.STATE, "state passed to the next step"),))
    g.attr(label=style.graph_label(style.text_rows([title] + ([note] if note else [])), rows,
                                   _weights_row(gm, weights, show_data)),
           labelloc="t", labeljust="l")
    return g


def _step_box(u, t, kind, show_data) -> str:
    """One timestep as a box: its equations (``_EQUATIONS``, at this t) and its states."""
    lines = [eq.replace("_{t−1}", _sub(t - 1)).replace("_t", _sub(t))
             for eq in _equations(u.layer)]
    rows = [f'<TR><TD ALIGN="LEFT"><B>t = {t}</B></TD></TR>']
    rows += [f'<TR><TD ALIGN="LEFT">{html.escape(line)}</TD></TR>' for line in lines]
    for n in u.gm.order[::-1]:
        if u.step[n] == t and u.is_state(n):
            text = f"<B>{html.escape(u.state_label(n))}</B> {tuple(n.shape)}"
            if show_data:
                text += " " + html.escape("data " + summary(n.data))
            rows.append(f'<TR><TD ALIGN="LEFT">{text}</TD></TR>')
    return ('<<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0" CELLSPACING="0" '
            f'CELLPADDING="2" BGCOLOR="{style.GROUP_FILL}" COLOR="{style.GROUP_BORDER}">'
            + "".join(rows) + "</TABLE>>")


def _weights_row(gm, weights, show_data) -> list:
    """The layer's weights as a row of parameter boxes for the heading."""
    if not weights:
        return []
    fill, border, _ = KINDS["parameter"]
    cells = ['<TD ALIGN="LEFT" BORDER="0"><FONT COLOR="%s">weights, the same at every '
             'step:</FONT></TD>' % style.SHARED]
    for n in weights:
        text = f"<B>{html.escape(gm.names[n])}</B> {tuple(n.shape)}"
        if show_data:
            text += "<BR/>" + html.escape("data " + summary(n.data))
        cells.append(f'<TD BGCOLOR="{fill}" COLOR="{border}" BORDER="2">{text}</TD>')
    return ['<TR><TD ALIGN="LEFT" BORDER="0"><TABLE BORDER="0" CELLSPACING="4" '
            'CELLPADDING="2"><TR>' + "".join(cells) + "</TR></TABLE></TD></TR>"]


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


def _kind(layer) -> str:
    """'RNN', 'LSTM' or 'GRU' for a layer or cell, Keras-style subclasses included."""
    return "LSTM" if isinstance(layer, (LSTM, LSTMCell)) else \
        "GRU" if isinstance(layer, (GRU, GRUCell)) else "RNN"


def _equations(layer) -> list:
    """The layer's equations, with its activation, and without the bias terms it lacks
    (Keras-style layers keep one bias, ``bias=False`` none)."""
    act = getattr(layer, "nonlinearity", "tanh")
    linear = act in ("linear", "identity")  # nonlinearity="linear": no function around it
    names = [n for n, _ in layer.named_parameters()]
    lines = []
    for eq in _EQUATIONS[_kind(layer)]:
        line = eq.format(act="" if linear else act + "(", close="" if linear else ")")
        for prefix, letter in (("bias_ih", "i"), ("bias_hh", "h")):
            if not any(n.startswith(prefix) for n in names):
                line = re.sub(rf" \+ b_{letter}[a-z]+", "", line)
        lines.append(line)
    return lines


def draw_rolled(module, rankdir="LR") -> Graph:
    """Draw a recurrent layer in its compact, rolled form.

    Drawn: the input x_t → the cell (its equations) → h_t, the cell's weights (their names
    and shapes) feeding the cell, and the recurrence: an edge from h_t back into the cell
    labelled "h_{t−1}" (and for an LSTM, c_t back as "c_{t−1}"), with the legend in the
    picture. ``module`` is an RNN, LSTM, GRU, one of their cells, or a model containing one.

    >>> import nn
    >>> g = draw_rolled(nn.LSTM(2, 3, batch_first=True))
    >>> 'h_{t−1}' in g.source and 'c_{t−1}' in g.source
    True
    """
    name, layer = find_recurrent(module, _LAYERS + _CELLS)
    _one_layer(layer, "draw_rolled")
    kind = _kind(layer)
    H, F = layer.hidden_size, layer.input_size
    prefix = name + "." if name else ""
    g = Graph("rolled")
    g.attr(rankdir=rankdir, fontname=FONT, fontsize=str(style.TITLE_PT))
    g.attr("node", fontname=FONT, fontsize=str(style.MIN_PT))
    g.attr("edge", fontname=FONT, fontsize=str(style.MIN_PT), arrowsize="0.7")

    def record(fields):
        return "{ " + " | ".join(fields) + " }" if rankdir in ("TB", "BT") else \
            " | ".join(fields)

    fill, border, _ = KINDS["input"]
    g.node("x", label=record(["x_t", f"(batch, {F})"]), shape="record", style="filled",
           fillcolor=fill, color=border)
    lines = _equations(layer)
    g.node("cell", label=f"{kind} cell\\n\\n" + "".join(s + "\\l" for s in lines),
           shape="box", style="rounded,filled", fillcolor=style.GROUP_FILL, penwidth="1.5",
           color=style.GROUP_BORDER)
    with g.subgraph(name="cluster_weights") as c:
        c.attr(label="weights (the same at every t)", style="rounded,dashed",
               color=style.SHARED, fontcolor=style.SHARED)
        fill, border, _ = KINDS["parameter"]
        for i, (pname, p) in enumerate(layer.named_parameters()):
            c.node(f"w{i}", label=record([prefix + pname, str(p.shape)]), shape="record",
                   style="filled", fillcolor=fill, color=border, penwidth="1.5")
            g.edge(f"w{i}", "cell", color=style.SHARED)
    fill, border, _ = KINDS["intermediate"]
    g.edge("x", "cell")
    states = [("h", "h_t"), ("c", "c_t")] if kind == "LSTM" else [("h", "h_t")]
    for key, label in states:
        g.node(key, label=record([label, f"(batch, {H})"]), shape="record", style="filled",
               fillcolor=fill, color=border)
        g.edge("cell", key)
        # The recurrence: next step, this state comes back in as the previous one.
        g.edge(key, "cell", label=f"{key}_{{t−1}}", color=style.STATE, fontcolor=style.STATE,
               penwidth="2", style="dashed", constraint="false")
    rows = style.legend({"parameter", "input", "intermediate"}, group=True,
                        extra=(("#ffffff", style.STATE, "the state comes back next step"),))
    g.attr(label=style.graph_label(style.text_rows(
        [f"{type(layer).__name__} (rolled): input size {F}, hidden size {H}"]), rows),
        labelloc="t", labeljust="l")
    return g
