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

A stacked or bidirectional layer (``num_layers > 1``, ``bidirectional=True``) is drawn as a
grid: one column per timestep as above, and in it one row per layer and direction (the
``part`` l·D + d of its ``TimeStep`` markers), named "layer 0 →", "layer 0 ←", ... in its
first step. Forward rows pass their state left to right, reverse rows right to left (they
start at the last step). The sequence-wide ops outside the steps -- x·W_ihᵀ + b for every t,
the reverse rows' flips, and between layers stack, cat and dropout -- are not drawn: each
column has its input ``x_t`` under it, each step's input label says what it takes
(``x₂ · weight_ih_l0_reverseᵀ + b``), layer l > 0 takes layer l − 1's outputs at the same t
(both directions side by side in a box ``y_t`` between the layers), and a bidirectional
layer's output is a box ``y_t`` over each column. States carry their row in their name:
``→h₂⁽¹⁾`` is layer 1's forward state after step 2. A one-layer, one-way layer is drawn as
before.
"""
from __future__ import annotations

import contextlib
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


_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _parts(layer):
    """(num_layers, directions) of a layer or cell: (1, 1) unless stacked or bidirectional."""
    return getattr(layer, "num_layers", 1), 2 if getattr(layer, "bidirectional", False) else 1


def _suffix(part, D) -> str:
    """The weights' suffix of row ``part`` (PyTorch's names): _l0, _l0_reverse, _l1, ..."""
    layer, d = divmod(part, D)
    return f"_l{layer}" + ("_reverse" if d else "")


def _row_name(part, D) -> str:
    """A row's label: part l·D + d is "layer l →" (forward) or "layer l ←" (reverse)."""
    layer, d = divmod(part, D)
    return f"layer {layer} {'←' if d else '→'}"


def _layer_tag(layer, L) -> str:
    """Layer ``layer`` of a stacked layer as a superscript (⁽¹⁾); nothing if there is one."""
    return f"⁽{str(layer).translate(_SUP)}⁾" if L > 1 else ""


def _tagged(letter, t, part, L, D) -> str:
    """A state's name with its row: ``h₂`` for a one-layer, one-way layer; an arrow before it
    for a bidirectional one (→h₂, ←h₂), the layer as a superscript for a stacked one
    (h₂⁽¹⁾). ``t`` is a number or a subscript already written (``_t``)."""
    layer, d = divmod(part, D)
    index = t if isinstance(t, str) else _sub(t)
    arrow = ("←" if d else "→") if D == 2 else ""
    return arrow + letter + index + _layer_tag(layer, L)


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
        self.L, self.D = _parts(layer)
        self.stacked = self.L * self.D > 1
        # Dropout between layers acts in training mode: said where a layer takes its input.
        self.dropped = self.L > 1 and bool(getattr(layer, "dropout", 0)) and layer.training
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
        marks = {n: next((s for s in gm.scopes[n] if isinstance(s, TimeStep) and
                          s.layer is layer), None) for n in gm.order}
        self.step = {n: None if m is None else m.t for n, m in marks.items()}
        # (t, part) of a step's op: its timestep and its row (layer l, direction d: l·D + d)
        self.cell = {n: None if m is None else (m.t, m.part) for n, m in marks.items()}
        self.T = x.shape[1] if layer.batch_first else x.shape[0]
        T = self.T
        shown = set(range(first)) | set(range(T - last, T)) if T > max_steps else set(range(T))
        self.hidden = [t for t in range(T) if t not in shown]
        self.own = {id(p) for p in layer.parameters()}
        self.roots = set(roots)
        self.between = self._between()
        # A stacked layer's inputs, drawn a step at a time (x₂ in column t = 2): what each
        # layer's forward row reads, (N, T, ·) (x, then [→h | ←h], dropped out), and what
        # outside the layer made x.
        self.layer_in = {}
        for n in gm.order:
            for c in gm.consumers[n] if n in self.between and n.op == "linear" else ():
                if self.cell[c] is not None and self.cell[c][1] % self.D == 0:
                    self.layer_in[self.cell[c][1] // self.D] = n.parents[0]
        self.x_seq = self.layer_in.get(0)
        self.inputs = list(dict.fromkeys(
            p for n in gm.order if n in self.between for p in n.parents
            if p not in self.between and self.step[p] is None and not self.is_weight(p)
            and not self.is_const(p)))
        named = [gm.names[n] for n in gm.order if n in self.between and not n.parents
                 and gm.names[n] and not self.is_weight(n)] + \
            [gm.names[n] for n in self.inputs if gm.names[n]]
        self.x_name = named[0] if self.stacked and named else "x"
        self.out_chain, self.y_seq = self._output_chain()

    def y_node(self, lay) -> bool:
        """Whether layer ``lay``'s outputs get a box ``y_t`` per column: its two directions
        side by side (or dropped out) feeding the next layer, or the output over the grid."""
        if lay < self.L - 1:
            return (self.D == 2 or self.dropped) and lay + 1 in self.layer_in
        return self.y_seq is not None

    def y_name(self, lay, t) -> str:
        return f"y{_sub(t)}{_layer_tag(lay, self.L)}"

    def _between(self):
        """A stacked layer's sequence-wide ops before its steps (x·W_ihᵀ + b for every t,
        the flips of the reverse rows, and between two layers stack, cat and dropout) and
        what only they use (the input, the bias sums): not drawn. Each step takes its input
        at its t instead -- layer 0's from a box ``x_t`` in its column, layer l > 0's from
        the states below it (``feeders``). Empty for a one-layer, one-way layer."""
        if not self.stacked:
            return set()
        gm, step, layer = self.gm, self.step, self.layer
        before = {}  # used by a step
        for n in gm.order:  # consumers first
            before[n] = any(step[c] is not None or before[c] for c in gm.consumers[n])
        between = {n for n in gm.order if step[n] is None and before[n] and n.op and
                   any(s is layer for s in gm.scopes[n]) and not self.is_transposed_weight(n)}
        for n in gm.order:  # leaves only they use: the input (and its flipped copy), masks
            if not n.parents and gm.consumers[n] and all(c in between for c in gm.consumers[n]):
                between.add(n)
        return between

    def _output_chain(self):
        """A bidirectional layer's output sequence and the ops gathering it from the last
        layer's steps (each row's stack, the reverse row's flip, their cat): drawn as one
        box ``y_t`` per column over the last layer's two rows, and the output box."""
        if self.D == 1:
            return set(), None
        gm, last = self.gm, range((self.L - 1) * self.D, self.L * self.D)
        chain = set()
        for n in gm.order[::-1]:  # parents first
            if self.step[n] is not None or not n.parents or n in self.between or \
                    not any(s is self.layer for s in gm.scopes[n]):
                continue
            cells = [self.cell[p] for p in n.parents]
            if n.op == "stack" and all(c is not None and c[1] == cells[0][1] for c in cells) \
                    and cells[0][1] in last:
                chain.add(n)  # a row's outputs, every t
            elif all(p in chain for p in n.parents):
                chain.add(n)  # flipped, side by side, permuted
        ends = [n for n in chain if not any(c in chain for c in gm.consumers[n])]
        return (chain, ends[0]) if len(ends) == 1 else (set(), None)

    def feeders(self, p, t):
        """The states at time ``t`` that reach ``p`` (an op between layers): the outputs of
        the layer below that a step at ``t`` takes, in row order."""
        out, todo, seen = [], [p], set()
        while todo:
            q = todo.pop()
            for r in q.parents:
                if id(r) in seen:
                    continue
                seen.add(id(r))
                if self.step[r] is not None:
                    if self.step[r] == t and self.is_state(r):
                        out.append(r)
                elif r in self.between:
                    todo.append(r)
        return sorted(out, key=lambda r: self.cell[r][1])

    # -- rows (stacked and bidirectional layers) -------------------------------------------
    @property
    def parts(self):
        return range(self.L * self.D)

    def part(self, n):
        return self.cell[n][1]

    def reverse(self, part) -> bool:
        """Whether row ``part`` runs backwards in time (its first step is t = T − 1)."""
        return part % self.D == 1

    def start(self, part) -> int:
        return self.T - 1 if self.reverse(part) else 0

    def row_name(self, part) -> str:
        return _row_name(part, self.D)

    def tagged(self, letter, t, part) -> str:
        return _tagged(letter, t, part, self.L, self.D)

    # -- what a node is -------------------------------------------------------------------
    def is_weight(self, n):
        return id(n) in self.own

    def is_transposed_weight(self, n):  # W.T: named in the op that uses it
        return n.op == "permute" and len(n.parents) == 1 and self.is_weight(n.parents[0])

    def is_const(self, n):  # a number that met a tensor (the 1 of 1 − z): in its op's label
        return self.gm.is_constant(n)

    def is_state(self, n):
        """A value a step hands on: used outside its step, or returned by the module."""
        cell = self.cell[n]
        return cell is not None and n.op != "" and (
            n in self.roots or any(self.cell[c] != cell for c in self.gm.consumers[n]))

    def state_label(self, n):
        # An LSTM's cell state: the fused step's lstm_c, or (one op per gate) the state its
        # own step takes tanh of (h = o ⊙ tanh(c)).
        letter = "h"
        if n.op == "lstm_c" or isinstance(self.layer, LSTM) and any(
                c.op == "tanh" and self.cell[c] == self.cell[n] for c in self.gm.consumers[n]):
            letter = "c"
        return self.tagged(letter, self.step[n], self.part(n))

    def step_input(self, n):  # the step's part of a sequence-wide tensor
        return n.op == "getitem" and self.step[n] is not None and \
            self.step[n.parents[0]] is None

    def step_input_text(self, n):
        """A stacked layer's step input in words, at its real time t (a reverse row's index
        into its flipped sequence is not): ``x₂ · weight_ih_l0_reverseᵀ + b``; for layer
        l > 0 the output below it, ``y₂⁽⁰⁾ · weight_ih_l1ᵀ + b`` (its box: both directions
        side by side, or dropped out) or ``h₂⁽⁰⁾ · weight_ih_l1ᵀ + b``."""
        src, t = n.parents[0], self.step[n]
        weight = next((p for p in src.parents if self.is_weight(p)), None) \
            if src.op == "linear" else None
        if weight is None:
            return fmt_index(getattr(n.grad_fn, "index", None))
        if self.part(n) < self.D:  # layer 0: the input sequence
            what = f"{self.x_name}{_sub(t)}"
        elif self.y_node(self.part(n) // self.D - 1):
            what = self.y_name(self.part(n) // self.D - 1, t)
        else:
            what = " | ".join(self.state_label(h) for h in self.feeders(src, t))
        bias = " + b" if len(src.parents) > 2 else ""
        return f"{what} ·\n{self.gm.names[weight]}ᵀ{bias}"

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
                return self.step_input_text(n) if self.stacked else fmt_index(index)
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

    A stacked or bidirectional layer (``num_layers``, ``bidirectional``) is drawn as a grid:
    a column per timestep, and in it a row per layer and direction (bottom to top: layer 0 →,
    layer 0 ←, layer 1 →, ...), each named in its first step; a → row's state goes from t to
    t + 1, a ← row's from t + 1 to t (its start state is right of the last step); the input
    x_t is under each column, and each layer's outputs at t feed the row above (both
    directions side by side, in a box y_t, and so is a bidirectional layer's output). The
    heading lists each row's weights; ``level='step'`` draws a box per step and row, the
    cell's equations said once above the grid; the steps not drawn are a "⋯" box per row.

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
    stacked, T = u.stacked, u.T
    # Layer ops that run once for all timesteps and feed the steps (x W_ihᵀ + b); none for
    # a stacked layer (not drawn, u.between: each step takes its input at its t).
    pre = set()
    for n in order:  # consumers come before their parents in this order
        if step[n] is None and n.op and n not in u.between and \
                any(s is layer for s in gm.scopes[n]) and \
                any(step[c] is not None or c in pre for c in consumers[n]) and \
                not u.is_transposed_weight(n):
            pre.add(n)
    pre_inputs = {n for n in order if not n.parents and not u.is_weight(n) and
                  not u.is_const(n) and consumers[n] and all(c in pre for c in consumers[n])}
    # The states before the first step (zeros unless given): leaves the first step of a
    # row uses (t = 0; a reverse row's is t = T − 1).
    u.inits, init_part, init_c = {}, {}, {}
    for n in order:
        if n.parents or u.is_weight(n) or u.is_const(n):
            continue
        firsts = [c for c in consumers[n] if u.cell[c] is not None and
                  step[c] == u.start(u.part(c))]
        if firsts:
            is_c = isinstance(layer, LSTM) and any(c.op in ("lstm_c", "mul")
                                                   for c in consumers[n]) and \
                not any(c.op == "matmul" for c in consumers[n])
            init_c[n] = is_c
            k = init_part[n] = u.part(firsts[0])
            t0 = T if u.reverse(k) else -1
            u.inits[n] = u.tagged("c" if is_c else "h", t0, k)

    what = kind_name + (f" with {u.L} layers" if u.L > 1 else "") + (
        ", bidirectional," if u.D == 2 else "")
    title = f"{what} unrolled over {T} timesteps ({dtype})"
    if len(hidden) == 1 and stacked:
        title += f" (step {hidden[0]} not drawn)"
    elif hidden:
        title += f" (steps {hidden[0]}…{hidden[-1]} not drawn)"
    lines = [title]
    if stacked:
        rows_are = ("One row per layer and direction: a → row passes its state to the right "
                    "(t → t + 1), a ← row to the left (it reads the sequence from its end)"
                    if u.D == 2 else "One row per layer, passing its state to the right "
                                     "(t → t + 1)")
        lines.append(rows_are + ("; layer l > 0 takes the outputs of layer l − 1 at the same t"
                                 if u.L > 1 else "") + (
            f" (dropout p={layer.dropout:g} on them: training mode)" if u.dropped else "") +
            ".")
        start = next(iter(u.inits), None)
        if start is not None:
            lines.append(f"{u.tagged('h', -1, 0)} and the like: the states before the first "
                         f"step" + (" (h_T: a ← row's, it starts at t = T − 1)" if u.D == 2
                                    else "") + f"; every state is {tuple(start.shape)}.")
        if level == "step":
            lines.append(f"Each box is one step of one row; the {kind_name} cell, with the "
                         f"row's weights (x_t what it reads, h_{{t−1}} its previous state" +
                         (": h_{t+1} in a ← row" if u.D == 2 else "") + "):")
            eqs = _equations(layer)  # two a line: the picture's height is for the steps
            lines += ["    " + "      ".join(eqs[i:i + 2]) for i in range(0, len(eqs), 2)]
    g = Graph("unrolled")
    g.attr(rankdir="BT", fontname=FONT, fontsize=str(style.TITLE_PT), newrank="true",
           nodesep="0.12", ranksep="0.25")
    g.attr("node", fontname=FONT, fontsize=str(style.MIN_PT), margin="0.04,0.02")
    g.attr("edge", fontname=FONT, fontsize=str(style.MIN_PT), arrowsize="0.7")

    def box(graph, n, title, kind="intermediate", **extra):
        fill, border, _ = KINDS[kind]
        item = Item(ids[n], [n], n, kind, title)
        graph.node(ids[n], shape="plaintext", margin="0", width="0", height="0",
                   label=value_table(item, "LR", show_data, None, False, fill, border, 0,
                                     root_dtype=dtype, halo=None), **extra)

    def op_node(graph, n, **extra):
        if u.step_input(n):  # a small label on the way in, not an ellipse
            tip = f"x{_sub(step[n])} · W_ihᵀ + b: this step's part of the input"
            if stacked:
                tip = (f"t = {step[n]}, {u.row_name(u.part(n))}: this step's part of its "
                       f"input times W_ihᵀ plus bias, computed for every t at once")
            graph.node(ids[n] + "_op", label=dot_lines(u.op_text(n)), shape="plaintext",
                       height="0", width="0", margin="0.02", tooltip=tip)
            return
        graph.node(ids[n] + "_op", label=dot_lines(u.op_text(n)), shape="ellipse",
                   height="0.3",
                   tooltip=n.grad_fn.formula if n.grad_fn is not None else n.op, **extra)

    has_box = set()
    # The weights, once, in the picture's heading (not nodes: no edge has to reach them,
    # and they take no room from the steps); every op using one names it.
    weights = [p for p in layer.parameters() if p in gm.ids]
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
                elif n in pre_inputs:
                    box(c, n, gm.names[n], gm.kinds[n])  # the input sequence itself
                    has_box.add(n)
    # Everything else outside the steps: the input, the first states, heads, losses.
    bottom = []
    for n in order:
        if step[n] is not None or n in pre or u.is_weight(n) or u.is_transposed_weight(n) \
                or u.is_const(n) or n in u.inits or n in pre_inputs or n in u.between:
            continue
        uses = consumers[n]
        if uses and all(step[c] in hidden for c in uses):
            continue  # only feeds steps not drawn
        if n in u.out_chain:  # the y_t boxes gather it: only the whole output is drawn
            if n is u.y_seq:
                box(g, n, gm.names[n] or "output", "loss" if n in u.roots else "intermediate")
                has_box.add(n)
            continue
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
        box(g, n, u.inits[n] + ("" if stacked else f", before t = {u.start(init_part[n])}"),
            "input")
        has_box.add(n)

    def seq_box(graph, name, seq, t, title, kind, tip):
        """A stacked layer's sequence at step t, in its column (x_t; y_t between layers and
        over the grid): not a node of the graph, a step of one."""
        fill, border, _ = KINDS[kind]
        value = Tensor(seq[:, t], dtype=dtype)
        item = Item(name, [value], value, kind, title)
        graph.node(name, shape="plaintext", margin="0", width="0", height="0", group=f"t{t}",
                   tooltip=tip, label=value_table(item, "TB", show_data, None, False, fill,
                                                  border, 0, compact=2, root_dtype=dtype,
                                                  halo=None))

    def seq_boxes(graph, t):
        if u.x_seq is not None:
            seq_box(graph, f"x_in{t}", u.x_seq.data, t, f"{u.x_name}{_sub(t)}",
                    "intermediate" if u.inputs else "input", f"the layer's input at t = {t}")
        for lay in range(u.L):
            if not u.y_node(lay):
                continue
            last = lay == u.L - 1
            if not last:
                seq = u.layer_in[lay + 1].data
            else:  # the output, batch first
                seq = u.y_seq.data if layer.batch_first else np.swapaxes(u.y_seq.data, 0, 1)
            both = f"layer {lay}'s two directions side by side" if u.D == 2 else \
                f"layer {lay}'s output"
            seq_box(graph, f"y{lay}_{t}", seq, t, u.y_name(lay, t) + (
                " (dropout)" if u.dropped and not last else ""), "intermediate",
                f"t = {t}: {both}" + (", dropped out (training mode)" if u.dropped and not last
                                      else "") + (", the output" if last else ""))

    def ellipsis(k):  # the node standing for the steps not drawn (in row k)
        return f"ellipsis_p{k}" if stacked else "ellipsis"

    for k_col, ts in enumerate(clusters):
        if len(ts) > 1 or ts[0] in hidden:  # a node, no cluster: no label to cross
            if not stacked:
                text = f"⋯ t = {ts[0]} … {ts[-1]} ⋯\n{len(ts)} more steps:\nthe same ops,\n" \
                       f"the same weights"
            else:  # one box per row: just the steps
                text = f"⋯ t = {ts[0]} … {ts[-1]} ⋯" if len(ts) > 1 else f"⋯ t = {ts[0]} ⋯"
            for k in u.parts:
                g.node(ellipsis(k), label=dot_lines(text), shape="box", style="rounded,dashed",
                       color="#999999")
            continue
        t = ts[0]
        if level == "step":  # one box for the whole step: its equations and its states
            if stacked:
                seq_boxes(g, t)
            for k in u.parts:
                name = f"step{t}_p{k}" if stacked else f"step{t}"
                g.node(name, shape="plaintext", margin="0", width="0", height="0",
                       label=_step_box(u, t, kind_name, show_data, k),
                       **({"group": f"t{t}"} if stacked else {}),
                       tooltip=f"step t = {t}: " + " → ".join(
                           n.op for n in reversed(order) if u.cell[n] == (t, k) and n.op))
                for n in order:
                    if u.cell[n] == (t, k):
                        step_box[n] = name
            continue
        with g.subgraph(name=f"cluster_t{t}") as c:
            # labelloc "b" is the top in a bottom-to-top layout: away from the edges coming
            # up from the input box.
            # Left half: label top left; right half: top right -- the edges from the
            # states to the output leave towards the middle, away from the label.
            c.attr(label=f"t = {t}", style="rounded", color="#7f7f7f", fontcolor="#333333",
                   labelloc="b", labeljust="l" if k_col < len(clusters) / 2 else "r")
            if stacked:
                seq_boxes(c, t)
            for k in u.parts:
                # A stacked layer's row: a box of its own in the column.
                with c.subgraph(name=f"cluster_t{t}_p{k}") if stacked else \
                        contextlib.nullcontext(c) as r:
                    if stacked:
                        r.attr(label="", style="rounded,dashed", color="#bbbbbb")
                    if stacked and k_col == 0:  # the row's name, in its first step: a node,
                        # which edges go round (beside the row's top state, see below)
                        r.node(f"row{k}", label=f"<<B>{html.escape(u.row_name(k))}</B>>",
                               shape="plaintext", margin="0.02", width="0", height="0",
                               fontcolor="#333333")
                    # A stacked layer's column is kept straight (the same group).
                    column = {"group": f"t{t}"} if stacked else {}
                    for n in order:
                        if u.cell[n] != (t, k) or u.is_transposed_weight(n):
                            continue
                        op_node(r, n, **column)
                        if u.is_state(n):
                            box(r, n, u.state_label(n),
                                "loss" if n in u.roots else "intermediate", **column)
                            has_box.add(n)

    def source(p):
        if step[p] in hidden:
            return ellipsis(u.part(p))
        if p in step_box:
            return step_box[p]
        return ids[p] if p in has_box else ids[p] + "_op"

    edges, seen = [], set()

    def skip(passes):
        return {"weight": "0"} if passes else {}

    def add(tail, head, attrs):
        if tail != head and (tail, head) not in seen:
            seen.add((tail, head))
            edges.append((tail, head, attrs))

    for n in order:
        if not n.parents or u.is_transposed_weight(n) or n in u.between or n in u.out_chain:
            continue
        if step[n] in hidden:
            head = ellipsis(u.part(n))
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
            if p in u.between:  # the step's input at its t: x_t, or layer l − 1's outputs
                if step[n] is None or step[n] in hidden:
                    continue
                # An edge passing the other row of a layer (x_t into the ← row, →h into
                # the y_t above the ← row) does not pull the boxes out of their column.
                t, lay = step[n], u.part(n) // u.D
                if lay == 0:
                    if u.x_seq is not None:
                        add(f"x_in{t}", head, skip(u.reverse(u.part(n))))
                    continue
                y = f"y{lay - 1}_{t}" if u.y_node(lay - 1) else head
                for s in u.feeders(p, t):
                    add(source(s), y, skip(y != head and not u.reverse(u.part(s))))
                add(y, head, skip(y != head and u.reverse(u.part(n))))
                continue
            attrs = {}
            if (u.is_state(p) or p in u.inits) and step[n] is not None and \
                    step[n] != step[p] and level == "step":
                attrs = dict(color=style.STATE, penwidth="2.2")  # boxes side by side: flat
                if stacked and u.reverse(u.part(n)):
                    attrs["reverse"] = True  # from t + 1 on the right to t on its left
            elif p in u.inits:
                # Forward (a flat edge on the entry row): the start state left of t = 0; a
                # reverse row's is right of t = T − 1, the edge written the other way.
                attrs = dict(color=style.STATE, penwidth="2.2")
                if stacked and u.reverse(init_part[p]):
                    attrs["reverse"] = True
            elif u.is_state(p) and step[n] is not None and step[n] != step[p]:
                # The state handed to the next step. Written head -> tail with dir=back: the
                # arrow still points forward in time, but for the layout it runs from the
                # bottom of step t + 1 to the top of step t, so the steps share ranks and sit
                # side by side, time running across the picture. (A reverse row's: from the
                # bottom of step t to the top of step t + 1, the arrow pointing from t + 1.)
                attrs = dict(color=style.STATE, penwidth="2.2", reverse=True)
            add(source(p), head, attrs)
    if u.y_seq is not None:  # the last layer's two rows into y_t, and y_t into the output
        for t in range(T):
            for n in order:  # the output's parts: the states its gathering ops take
                if step[n] == t and any(c in u.out_chain for c in consumers[n]):
                    add(source(n), ids[u.y_seq] if t in hidden else f"y{u.L - 1}_{t}",
                        skip(not u.reverse(u.part(n)) and t not in hidden))
            if t not in hidden:
                add(f"y{u.L - 1}_{t}", ids[u.y_seq], {})
    for n in u.inputs:  # what made a stacked layer's input, into each x_t shown
        if n in has_box and u.x_seq is not None:
            for t in shown:
                add(ids[n], f"x_in{t}", {})
    for tail, head, attrs in edges:
        if attrs.pop("reverse", False):
            g.edge(head, tail, dir="back", **attrs)
        else:
            g.edge(tail, head, **attrs)
    # Time runs across the picture in order: dot has no left-to-right constraint between
    # clusters, so each step gets an invisible anchor in the bottom row (outside every
    # cluster, where invisible flat edges do fix the order) with edges up into the step's
    # entry ops; the first anchor holds the starting states, the last the weights.
    entries, anchors = {k: [] for k in u.parts}, []
    tops = {}  # (column, row) → the row's states there: the next row sits above them
    bottoms = {}  # (column, row) → where the row starts there: entries and its input
    for k_col, ts in enumerate(clusters):
        if len(ts) > 1 or ts[0] in hidden:
            heads = {k: [ellipsis(k)] for k in u.parts}
            for k in u.parts:
                tops[k_col, k] = bottoms[k_col, k] = [ellipsis(k)]
        elif level == "step":
            heads = {k: [f"step{ts[0]}_p{k}" if stacked else f"step{ts[0]}"] for k in u.parts}
            for k in u.parts:
                entries[k] += heads[k]
                tops[k_col, k] = bottoms[k_col, k] = heads[k]
        else:
            heads = {}
            for k in u.parts:
                # The step's entry: the op taking the previous state (h · W_hhᵀ). The
                # step's part of the input may sit under it, which keeps the cluster narrow.
                ops = [n for n in order if u.cell[n] == (ts[0], k) and
                       not u.is_transposed_weight(n)]
                heads[k] = [ids[n] + "_op" for n in ops if not any(
                    u.cell[p] == (ts[0], k) and not u.is_transposed_weight(p)
                    for p in n.parents) and not u.step_input(n)]
                entries[k] += heads[k]
                tops[k_col, k] = [ids[n] for n in ops if u.is_state(n)]
                bottoms[k_col, k] = heads[k] + [ids[n] + "_op" for n in ops
                                                if u.step_input(n)]
        anchors.append((f"time{k_col}", [f"x_in{ts[0]}"] if stacked and u.x_seq is not None
                        and ts[0] not in hidden else heads[0]))
        if stacked and k_col == 0 and level != "step":  # a row's name left of its top
            for k in u.parts:
                if tops[k_col, k]:
                    with g.subgraph() as s:
                        s.attr(rank="same")
                        s.node(f"row{k}")
                        s.node(tops[k_col, k][0])
                    g.edge(f"row{k}", tops[k_col, k][0], style="invis")
        if stacked:  # each row above the one before it, in every column (y_t between
            # two layers is: it keeps them apart, in the middle of its column)
            for k in list(u.parts)[1:]:
                if k % u.D == 0 and u.y_node(k // u.D - 1) and len(ts) == 1 and \
                        ts[0] not in hidden:
                    continue
                for a in tops[k_col, k - 1][:1]:
                    for h in bottoms[k_col, k]:
                        g.edge(a, h, style="invis", weight="4")
    # The states before the first step: h beside the op taking it, on the entry row (left
    # of t = 0; a reverse row's right of t = T − 1), anchored there; c (an LSTM's) may sit
    # above it (a stacked layer's: tied to its row's h, on the rank of the op taking it).
    first_in = {k: [ids[n] for n in u.inits if init_part[n] == k and any(
        ids[c] + "_op" in entries[k] or step_box.get(c) in entries[k] for c in consumers[n])
        and not (stacked and init_c[n] and level != "step")] for k in u.parts}
    ends = [[ids[n] for n in u.inits if ids[n] in first_in[init_part[n]] and
             u.reverse(init_part[n]) == back] for back in (False, True)] if stacked else \
        [[ids[n] for n in u.inits], []]
    if ends[0]:
        anchors.insert(0, ("time_init", ends[0]))
    if ends[1]:
        anchors.append(("time_end", ends[1]))
    for name, heads in anchors:
        g.node(name, shape="point", style="invis", width="0")
        for h in heads:
            g.edge(name, h, style="invis")
    for (a, _), (b, _) in zip(anchors, anchors[1:], strict=False):
        g.edge(a, b, style="invis", weight="10")
    for k in u.parts:
        with g.subgraph() as s:
            s.attr(rank="same")
            for a in entries[k] + ([ellipsis(k)] if hidden else []) + first_in[k]:
                s.node(a)
    for n in u.inits if stacked else ():
        k = init_part[n]
        if ids[n] not in first_in[k] and first_in[k]:
            g.edge(first_in[k][0], ids[n], style="invis")
            with g.subgraph() as s:
                s.attr(rank="same")
                s.node(ids[n])
                for c in consumers[n]:
                    if u.cell[c] is not None and step[c] not in hidden and c not in step_box:
                        s.node(ids[c] + "_op")
    with g.subgraph() as s:  # the weights, the input and the time anchors: the bottom row
        s.attr(rank="same")
        for n in bottom:
            s.node(ids[n])
        for name, _ in anchors:
            s.node(name)
    rows = style.legend({"parameter", "input", "intermediate", "loss"},
                        extra=(("#ffffff", style.STATE, "state passed to the next step"),))
    per = "layer and direction" if u.L > 1 and u.D == 2 else "layer" if u.L > 1 else \
        "direction"
    groups = [(None, weights)] if not stacked else [
        (u.row_name(k), [p for p in weights if gm.names[p].endswith(_suffix(k, u.D))])
        for k in u.parts]
    g.attr(label=style.graph_label(style.text_rows(lines + ([note] if note else [])), rows,
                                   _weights_row(gm, groups, show_data, per)),
           labelloc="t", labeljust="l")
    return g


def _step_box(u, t, kind, show_data, part=0) -> str:
    """One timestep as a box: its equations (``_EQUATIONS``, at this t) and its states; for
    row ``part`` of a stacked or bidirectional layer the step in the cell's form
    (``_row_step``: the equations are said once, over the grid)."""
    if not u.stacked:
        lines = [eq.replace("_{t−1}", _sub(t - 1)).replace("_t", _sub(t))
                 for eq in _equations(u.layer)]
        head = f"t = {t}"
    else:
        lines = _row_step(u.layer, part, t, u.dropped)
        head = f"t = {t}, {u.row_name(part)}"
    rows = [f'<TR><TD ALIGN="LEFT"><B>{html.escape(head)}</B></TD></TR>']
    rows += [f'<TR><TD ALIGN="LEFT">{html.escape(line)}</TD></TR>' for line in lines]
    for n in u.gm.order[::-1]:
        if u.cell[n] == (t, part) and u.is_state(n):
            # (a stacked layer's states all have one shape: said once, in the caption)
            text = f"<B>{html.escape(u.state_label(n))}</B>" + (
                "" if u.stacked else f" {tuple(n.shape)}")
            if show_data and u.stacked:  # (room for the arrow, which dot measures short)
                text += "&#160; = " + html.escape(summary(n.data))
            elif show_data:
                text += " " + html.escape("data " + summary(n.data))
            rows.append(f'<TR><TD ALIGN="LEFT">{text}</TD></TR>')
    return ('<<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0" CELLSPACING="0" '
            f'CELLPADDING="2" BGCOLOR="{style.GROUP_FILL}" COLOR="{style.GROUP_BORDER}">'
            + "".join(rows) + "</TABLE>>")


def _row_step(layer, part, t, dropped=False) -> list:
    """Step ``t`` of row ``part`` of a stacked or bidirectional layer in the cell's form, its
    states named with their row: ``←h₂⁽¹⁾ = GRU cell(y₂⁽⁰⁾, ←h₃⁽¹⁾)`` (a reverse row's
    previous state is the one at t + 1). Layer l > 0 reads layer l − 1's output at t: its
    ``y_t`` box (both directions side by side, or dropped out), else its h_t."""
    L, D = _parts(layer)
    lay, d = divmod(part, D)
    prev, x = t + 1 if d else t - 1, f"x{_sub(t)}"
    if lay > 0:
        x = f"y{_sub(t)}{_layer_tag(lay - 1, L)}" if D == 2 or dropped else \
            _tagged("h", t, part - D, L, D)
    kind, h, h_prev = _kind(layer), _tagged("h", t, part, L, D), _tagged("h", prev, part, L, D)
    if kind == "LSTM":
        return [f"{h}, {_tagged('c', t, part, L, D)} = LSTM cell({x}, {h_prev}, "
                f"{_tagged('c', prev, part, L, D)})"]
    return [f"{h} = {kind} cell({x}, {h_prev})"]


def _weights_row(gm, groups, show_data, per="layer and direction") -> list:
    """The layer's weights as rows of parameter boxes for the heading: one row, or (a
    stacked or bidirectional layer) one ``per`` layer and direction, one line per box,
    ``groups`` being (row name or None, weights) pairs."""
    if not any(ws for _, ws in groups):
        return []
    fill, border, _ = KINDS["parameter"]
    rows, stacked = [], groups[0][0] is not None
    if stacked:
        rows.append(f'<TR><TD ALIGN="LEFT" BORDER="0" COLSPAN="{1 + len(groups[0][1])}">'
                    f'<FONT COLOR="{style.SHARED}">weights, the same at every step (one row '
                    f'per {per}):</FONT></TD></TR>')
    for name, weights in groups:
        head = "weights, the same at every step:" if name is None else name
        cells = ['<TD ALIGN="%s" BORDER="0"><FONT COLOR="%s">%s</FONT></TD>'
                 % ("LEFT" if name is None else "RIGHT", style.SHARED, html.escape(head))]
        for n in weights:
            text = f"<B>{html.escape(gm.names[n])}</B> {tuple(n.shape)}"
            if show_data:
                text += (" " if stacked else "<BR/>") + html.escape("data " + summary(n.data))
            cells.append(f'<TD BGCOLOR="{fill}" COLOR="{border}" BORDER="2">{text}</TD>')
        rows.append("<TR>" + "".join(cells) + "</TR>")
    return ['<TR><TD ALIGN="LEFT" BORDER="0"><TABLE BORDER="0" CELLSPACING="4" '
            'CELLPADDING="2">' + "".join(rows) + "</TABLE></TD></TR>"]


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


def _record(fields, vertical) -> str:
    """A record node's label: its fields (their own | { } < > escaped) one above the other
    (``vertical``: rankdir TB or BT, which turns records) or side by side."""
    fields = [re.sub(r"([|{}<>])", r"\\\1", f) for f in fields]
    return "{ " + " | ".join(fields) + " }" if vertical else " | ".join(fields)


def _record_node(g, name, fields, kind, vertical, **extra):
    """A value of ``draw_rolled`` (x_t, h_t, a weight): a record filled as its kind."""
    fill, border, _ = KINDS[kind]
    g.node(name, label=_record(fields, vertical), shape="record", style="filled",
           fillcolor=fill, color=border, **extra)


def _recurrence(g, state, cell, label):
    """The recurrence: next step, ``state`` comes back into ``cell`` as the previous one."""
    g.edge(state, cell, label=label, color=style.STATE, fontcolor=style.STATE, penwidth="2",
           style="dashed", constraint="false")


def _rolled_legend() -> list:
    return style.legend({"parameter", "input", "intermediate"}, group=True,
                        extra=(("#ffffff", style.STATE, "the state comes back next step"),))


def draw_rolled(module, rankdir=None) -> Graph:
    """Draw a recurrent layer in its compact, rolled form.

    Drawn: the input x_t → the cell (its equations) → h_t, the cell's weights (their names
    and shapes) feeding the cell, and the recurrence: an edge from h_t back into the cell
    labelled "h_{t−1}" (and for an LSTM, c_t back as "c_{t−1}"), with the legend in the
    picture. ``module`` is an RNN, LSTM, GRU, one of their cells, or a model containing one.

    A stacked or bidirectional layer is drawn bottom to top (``rankdir`` 'BT'; a one-layer,
    one-way one left to right, 'LR'): the input, then one cell per layer and direction
    (a layer's two directions side by side), each with its own weights listed in it
    (``weight_ih_l1``, ``weight_hh_l0_reverse``, ...) and its recurrence loop (a reverse
    cell's previous state is the one at t + 1), each layer's outputs (both directions side
    by side, after dropout if the layer has it) going up into the next; the equations once,
    under the title.

    >>> import nn
    >>> g = draw_rolled(nn.LSTM(2, 3, batch_first=True))
    >>> 'h_{t−1}' in g.source and 'c_{t−1}' in g.source
    True
    >>> 'weight_hh_l1_reverse' in draw_rolled(nn.GRU(2, 3, 2, batch_first=True,
    ...                                              bidirectional=True)).source
    True
    """
    name, layer = find_recurrent(module, _LAYERS + _CELLS)
    L, D = _parts(layer)
    if L * D > 1:
        return _draw_rolled_stacked(name, layer, rankdir or "BT")
    rankdir = rankdir or "LR"
    kind = _kind(layer)
    H, F = layer.hidden_size, layer.input_size
    prefix = name + "." if name else ""
    vertical = rankdir in ("TB", "BT")
    g = Graph("rolled")
    g.attr(rankdir=rankdir, fontname=FONT, fontsize=str(style.TITLE_PT))
    g.attr("node", fontname=FONT, fontsize=str(style.MIN_PT))
    g.attr("edge", fontname=FONT, fontsize=str(style.MIN_PT), arrowsize="0.7")
    _record_node(g, "x", ["x_t", f"(batch, {F})"], "input", vertical)
    lines = _equations(layer)
    g.node("cell", label=f"{kind} cell\\n\\n" + "".join(s + "\\l" for s in lines),
           shape="box", style="rounded,filled", fillcolor=style.GROUP_FILL, penwidth="1.5",
           color=style.GROUP_BORDER)
    with g.subgraph(name="cluster_weights") as c:
        c.attr(label="weights (the same at every t)", style="rounded,dashed",
               color=style.SHARED, fontcolor=style.SHARED)
        for i, (pname, p) in enumerate(layer.named_parameters()):
            _record_node(c, f"w{i}", [prefix + pname, str(p.shape)], "parameter", vertical,
                         penwidth="1.5")
            g.edge(f"w{i}", "cell", color=style.SHARED)
    g.edge("x", "cell")
    for key in ["h", "c"] if kind == "LSTM" else ["h"]:
        _record_node(g, key, [f"{key}_t", f"(batch, {H})"], "intermediate", vertical)
        g.edge("cell", key)
        _recurrence(g, key, "cell", f"{key}_{{t−1}}")
    g.attr(label=style.graph_label(style.text_rows(
        [f"{type(layer).__name__} (rolled): input size {F}, hidden size {H}"]),
        _rolled_legend()), labelloc="t", labeljust="l")
    return g


def _draw_rolled_stacked(name, layer, rankdir) -> Graph:
    """``draw_rolled`` of a stacked or bidirectional layer: a cell per layer and direction."""
    kind, (L, D) = _kind(layer), _parts(layer)
    H, F = layer.hidden_size, layer.input_size
    prefix = name + "." if name else ""
    vertical = rankdir in ("TB", "BT")
    g = Graph("rolled")
    g.attr(rankdir=rankdir, fontname=FONT, fontsize=str(style.TITLE_PT), newrank="true",
           nodesep="0.6", ranksep="0.35")
    g.attr("node", fontname=FONT, fontsize=str(style.MIN_PT))
    g.attr("edge", fontname=FONT, fontsize=str(style.MIN_PT), arrowsize="0.7")
    _record_node(g, "x", ["x_t", f"(batch, {F})"], "input", vertical)
    params = dict(layer.named_parameters())
    states = ["h", "c"] if kind == "LSTM" else ["h"]
    pfill, pborder, _ = KINDS["parameter"]
    below = ["x"]  # what the next layer's cells read
    for lay in range(L):
        with g.subgraph() as same:  # a layer's directions side by side
            same.attr(rank="same")
            for d in range(D):
                k = lay * D + d
                rows = [f'<TR><TD><B>{html.escape(f"{kind} cell, {_row_name(k, D)}")}</B>'
                        f'</TD></TR>',
                        f'<TR><TD><FONT COLOR="{style.SHARED}">its weights, the same at '
                        f'every t:</FONT></TD></TR>']
                for pname, p in params.items():
                    if pname.endswith(_suffix(k, D)):
                        rows.append(f'<TR><TD BGCOLOR="{pfill}" COLOR="{pborder}" BORDER="1">'
                                    f'<B>{html.escape(prefix + pname)}</B> {p.shape}</TD></TR>')
                same.node(f"cell{k}", shape="plaintext", margin="0",
                          label='<<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0" '
                                'CELLSPACING="3" CELLPADDING="2" '
                                f'BGCOLOR="{style.GROUP_FILL}" COLOR="{style.GROUP_BORDER}">'
                                + "".join(rows) + "</TABLE>>")
        for d in range(D):
            k = lay * D + d
            for src in below:
                g.edge(src, f"cell{k}")
            for key in states:
                _record_node(g, f"{key}{k}", [_tagged(key, "_t", k, L, D), f"(batch, {H})"],
                             "intermediate", vertical)
                g.edge(f"cell{k}", f"{key}{k}")
                # The recurrence (a reverse cell's next step is t − 1: its state comes back
                # as the one at t + 1).
                _recurrence(g, f"{key}{k}", f"cell{k}",
                            _tagged(key, "_{t+1}" if d else "_{t−1}", k, L, D))
        outs = [f"h{lay * D + d}" for d in range(D)]
        dropped = layer.dropout and lay < L - 1
        if D == 2 or dropped:
            names = [_tagged("h", "_t", lay * D + d, L, D) for d in range(D)]
            joined = names[0] if D == 1 else "[" + " | ".join(names) + "]"
            what = f"y_t{_layer_tag(lay, L)} = " + (
                f"dropout({joined})" if dropped else joined)
            _record_node(g, f"y{lay}", [what if lay < L - 1 else f"output: {what}",
                                        f"(batch, {D * H})"],
                         "intermediate" if lay < L - 1 else "loss", vertical)
            for o in outs:
                g.edge(o, f"y{lay}")
            outs = [f"y{lay}"]
        below = outs
    how = (f"{L} layers" if L > 1 else "one layer") + (", bidirectional" if D == 2 else "") + (
        f", dropout p={layer.dropout:g} between layers (training mode)" if L > 1 and
        layer.dropout else "")
    notes = [f"{type(layer).__name__} (rolled): {how}; input size {F}, hidden size {H}",
             "Every cell, with its own weights (x_t is what it reads; h_{t−1} its previous "
             "state):"]
    notes += ["    " + line for line in _equations(layer)]
    notes += ["Layer l > 0 reads the outputs of layer l − 1 at the same t"
              + (" (both directions side by side)" if D == 2 else "") + "."] if L > 1 else []
    notes += ["A ← cell reads the sequence from its end: its previous state is the one at "
              "t + 1."] if D == 2 else []
    g.attr(label=style.graph_label(style.text_rows(notes), _rolled_legend()), labelloc="t",
           labeljust="l")
    return g
