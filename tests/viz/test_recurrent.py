"""viz.draw_unrolled / draw_rolled: one cluster per timestep in time order, the weights drawn
once (in the heading) and named by the ops using them, state edges from t to t + 1, the
state before t = 0 beside the first step, no edge over a label, the legend inside, and a
5-step LSTM that fits the box; a one-layer, one-way layer drawn as before stacked layers were
drawn; stacked and bidirectional layers as a grid (a column per timestep, a row per layer and
direction, reverse rows' states going from t + 1 to t) and as stacked cells (draw_rolled)."""
import hashlib
import html
import json
import re
import textwrap

import numpy as np
import pytest

import engine
import nn
import viz
from viz import recurrent as vrec
from viz import style as vstyle
from viz.render import svg_size

from .helpers import cells, edges, needs_dot, nodes, svg_font_sizes, svg_scale, text, visible_edges


def unrolled(cls=nn.RNN, T=4, F=2, H=3, seed=0, layer_kw=None, **kw):
    engine.manual_seed(seed)
    layer = cls(F, H, **{"batch_first": True, **(layer_kw or {})})
    x = np.random.default_rng(seed).normal(size=(T, F)).astype(np.float32)
    kw.setdefault("fit", False)
    return layer, viz.draw_unrolled(layer, x, **kw)


def cluster_tree(g):
    """cluster name → (label, enclosing cluster, the nodes in it, nested clusters' too)."""
    stack, out = [], {}
    for line in g.source.splitlines():
        s = line.strip()
        if m := re.match(r"subgraph (cluster\w*) \{$", s):
            out[m.group(1)] = [None, next((c for c in reversed(stack) if c), None), set()]
            stack.append(m.group(1))
        elif s.endswith("{"):
            stack.append(None)  # a rank group
        elif s == "}" and stack:
            stack.pop()
        elif (m := re.match(r'^"?([\w.]+)"? \[', s)) and "->" not in s:
            for c in stack:
                if c:
                    out[c][2].add(m.group(1))
        elif stack and stack[-1] and out[stack[-1]][0] is None and \
                (m := re.search(r'\blabel=(?:"([^"]*)"|([\w.]+))', s)):
            out[stack[-1]][0] = m.group(1) if m.group(1) is not None else m.group(2)
    return {k: tuple(v) for k, v in out.items()}


def clusters(g):
    """cluster label → set of node names declared inside it."""
    return {label: members for label, _, members in cluster_tree(g).values()}


def step_clusters(g):
    return {k: v for k, v in clusters(g).items() if k and k.startswith("t = ")}


def boxes_titled(g, title):
    return [n for n, a in nodes(g).items() if "TABLE" in a and cells(a)[:1] and
            cells(a)[0].split(" (")[0] == title]


def owner(cl, node):
    return next((k for k, members in cl.items() if node in members), None)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_one_cluster_per_timestep_with_its_input_part_ops_and_state(cls):
    _, g = unrolled(cls, T=4)
    cl = step_clusters(g)
    assert sorted(cl) == [f"t = {t}" for t in range(4)]
    ns = nodes(g)
    for t in range(4):
        members = cl[f"t = {t}"]
        labels = [text(ns[n]) for n in members]
        assert f"[:, {t}]" in labels  # the step's part of the input, a small label
        assert any(s.startswith(f"h{vrec._sub(t)} (1, 3)") for s in labels)  # its state
        prev = f"h{vrec._sub(t - 1)}"
        assert f"{prev} ·\\nweight_hh_l0ᵀ" in labels  # the op says what it multiplies
    # The same ops in every step: each timestep holds the same number of nodes.
    assert len({len(m) for m in cl.values()}) == 1


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_weights_once_in_the_heading_and_no_edge_crosses_the_picture_to_them(cls):
    layer, g = unrolled(cls, T=5)
    heading = re.search(r"weights, the same at every step:(.*?)</TABLE>", g.source).group(1)
    for pname, p in layer.named_parameters():
        assert heading.count(f"<B>{pname}</B> {tuple(p.shape)}") == 1
        assert not boxes_titled(g, pname)  # not a node: no edge to draw
    # The input times W_ihᵀ plus bias is computed once, before the steps, and feeds each.
    xw = boxes_titled(g, "x · W_ihᵀ + b, all t")
    steps = step_clusters(g)
    assert len(xw) == 1 and owner(steps, xw[0]) is None
    assert {owner(steps, h) for t, h, _ in edges(g) if t == xw[0]} == set(steps)
    assert "GEMM" not in g.source  # no jargon


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_state_edges_go_from_step_t_to_step_t_plus_1_and_start_beside_t0(cls):
    _, g = unrolled(cls, T=4)
    steps = step_clusters(g)
    hops = set()
    start = boxes_titled(g, "h₋₁, before t = 0")
    assert len(start) == 1 and owner(steps, start[0]) is None
    start += boxes_titled(g, "c₋₁, before t = 0")  # an LSTM's
    for tail, head, attrs in edges(g):
        if vstyle.STATE not in attrs:
            continue
        if tail in start:  # the first state: a forward edge into step 0
            assert owner(steps, head) == "t = 0" and "dir=back" not in attrs
            continue
        # Written head -> tail with dir=back (layout trick): the arrow points forward.
        assert "dir=back" in attrs
        src, dst = owner(steps, head), owner(steps, tail)
        hops.add((int(src[4:]), int(dst[4:])))
    assert {(t, t + 1) for t in range(3)} <= hops
    assert all(b == a + 1 for a, b in hops)


def test_fused_lstm_steps_hold_one_state_op_each():
    _, g = unrolled(nn.LSTM, T=3)
    for t in range(3):
        assert len(boxes_titled(g, f"h{vrec._sub(t)}")) == 1
        assert len(boxes_titled(g, f"c{vrec._sub(t)}")) == 1
    all_nodes = nodes(g)
    for cl in step_clusters(g).values():
        ops = [text(all_nodes[n]) for n in cl if "TABLE" not in all_nodes[n]]
        assert ops.count("lstm_c") == ops.count("lstm_h") == 1, ops
    assert "gate i" not in g.source
    assert boxes_titled(g, "c₋₁, before t = 0")


def test_lstm_and_gru_gates_are_named():
    _, g = unrolled(nn.LSTM, T=3, layer_kw={"fused": False})
    for t in range(3):
        assert len(boxes_titled(g, f"h{vrec._sub(t)}")) == 1
        assert len(boxes_titled(g, f"c{vrec._sub(t)}")) == 1
    assert boxes_titled(g, "c₋₁, before t = 0") and boxes_titled(g, "h₋₁, before t = 0")
    for gate in "ifgo":
        assert g.source.count(f'"gate {gate}\\n') == 3  # one per step
    _, gru = unrolled(nn.GRU, T=2)
    assert gru.source.count('"gate r\\n') == 4  # x and h parts, two steps
    assert '"1 − ·"' in gru.source  # the 1 of 1 − z is written in its op


def test_long_sequences_show_first_and_last_steps_around_an_ellipsis():
    layer, g = unrolled(nn.RNN, T=12)
    cl = step_clusters(g)
    assert sorted(cl) == ["t = 0", "t = 1", "t = 10", "t = 11", "t = 2"]
    assert "⋯ t = 3 … 9 ⋯\\n7 more steps" in g.source and "ellipsis" in nodes(g)
    assert "steps 3…9 not drawn" in g.source
    state = [(t, h) for t, h, attrs in edges(g) if vstyle.STATE in attrs]
    # h₂ flows into the ellipsis, and the ellipsis into step 10 (edges are written reversed).
    assert any(t == "ellipsis" and owner(cl, h) == "t = 2" for t, h in state)
    assert any(h == "ellipsis" and owner(cl, t) == "t = 10" for t, h in state)
    _, g2 = unrolled(nn.RNN, T=12, max_steps=20)
    assert len(step_clusters(g2)) == 12
    with pytest.raises(ValueError, match="first and last"):
        viz.draw_unrolled(layer, np.zeros((12, 2)), first=0)
    with pytest.raises(ValueError, match="level"):
        viz.draw_unrolled(layer, np.zeros((12, 2)), level="ops")


def test_model_containing_a_recurrent_layer_and_input_shapes():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(2, 3, batch_first=True)
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            _, h = self.rnn(x)
            return self.fc(h)

    engine.manual_seed(1)
    net = Net()
    x = np.random.default_rng(0).normal(size=(4, 2))
    g = viz.draw_unrolled(net, x, fit=False)
    assert sorted(step_clusters(g)) == [f"t = {t}" for t in range(4)]
    assert "<B>rnn.weight_hh_l0</B>" in g.source  # the model's names (Module naming)
    assert boxes_titled(g, "fc.weight")  # the head's weight is an ordinary node
    same = [viz.draw_unrolled(net, x, fit=False).source,
            viz.draw_unrolled(net, x[None], fit=False).source,
            viz.draw_unrolled(net, engine.tensor(x[None], name="x"), fit=False).source]
    assert all(s == g.source for s in same)  # (T, F), (1, T, F), a Tensor: one picture
    assert "0x" not in g.source
    with pytest.raises(TypeError, match="RNN/LSTM/GRU"):
        viz.draw_unrolled(nn.Linear(2, 2), x)
    with pytest.raises(TypeError):
        viz.draw_unrolled(nn.RNNCell(2, 3), x)


def test_drawing_does_not_change_a_stateful_layer():
    layer = nn.LSTM(2, 3, stateful=True, batch_first=True)
    viz.draw_unrolled(layer, np.ones((3, 2)))
    assert layer.state is None
    layer(engine.ones(1, 3, 2))
    kept = layer.state
    viz.draw_unrolled(layer, np.ones((3, 2)))
    assert layer.state is kept


def test_level_step_draws_one_box_per_step_with_its_equations():
    _, g = unrolled(nn.GRU, T=3, level="step")
    boxes = {n: cells(a) for n, a in nodes(g).items() if n.startswith("step")}
    assert sorted(boxes) == ["step0", "step1", "step2"]
    assert boxes["step1"][0] == "t = 1"
    assert "h₁ = (1 − z) ⊙ n + z ⊙ h₀" in boxes["step1"]
    assert any(c.startswith("h₁ (1, 3) data") for c in boxes["step1"])
    flat = [(t, h) for t, h, a in edges(g) if vstyle.STATE in a]
    assert ("step0", "step1") in flat and ("step1", "step2") in flat


@pytest.mark.parametrize("cls,states", [(nn.RNN, ["h"]), (nn.LSTM, ["h", "c"]),
                                        (nn.GRU, ["h"]), (nn.LSTMCell, ["h", "c"])])
def test_draw_rolled_has_the_cell_weights_and_recurrence_edges(cls, states):
    layer = cls(2, 3) if cls is nn.LSTMCell else cls(2, 3, batch_first=True)
    g = viz.draw_rolled(layer)
    recurrence = [(t, h, a) for t, h, a in edges(g) if "t−1" in a]
    assert sorted(re.search(r'label="(\w)_', a).group(1) for _, _, a in recurrence) == \
        sorted(states)
    assert all(h == "cell" and t in states for t, h, _ in recurrence)
    for pname, p in layer.named_parameters():
        assert g.source.count(f"{pname} | {p.shape}") == 1
    assert "x_t" in g.source and "h_t" in g.source
    assert "cell" in nodes(g) and ("c_t = f ⊙ c_{t−1} + i ⊙ g" in g.source) == ("c" in states)
    assert ">parameter<" in g.source  # the legend, inside the picture


def test_draw_rolled_names_weights_inside_a_model():
    model = nn.Sequential(nn.Linear(2, 2))
    model.add_module("rnn", nn.RNN(2, 4, nonlinearity="relu", batch_first=True))
    g = viz.draw_rolled(model)
    assert "rnn.weight_ih_l0" in g.source and "h_t = relu(x_t W_ihᵀ" in g.source
    linear = viz.draw_rolled(nn.RNN(1, 1, nonlinearity="linear", batch_first=True)).source
    assert "h_t = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh\\l" in linear
    with pytest.raises(TypeError):
        viz.draw_rolled(nn.Linear(2, 2))


def _bezier_points(pos):
    pts = [tuple(map(float, p.split(","))) for p in pos.split() if not p.startswith(("e,", "s,"))]
    out = []
    for i in range(0, len(pts) - 3, 3):
        p0, p1, p2, p3 = pts[i:i + 4]
        for k in range(21):
            t = k / 20
            out.append(tuple((1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t * t * c
                             + t ** 3 * d for a, b, c, d in zip(p0, p1, p2, p3, strict=True)))
    return out


@needs_dot
@pytest.mark.parametrize("cls,T", [(nn.RNN, 5), (nn.LSTM, 5), (nn.LSTM, 12), (nn.GRU, 4)])
def test_time_runs_left_to_right_and_no_edge_crosses_a_label(cls, T):
    _, g = unrolled(cls, T=T)
    layout = json.loads(g.pipe(format="json"))
    objs = layout["objects"]
    steps = sorted((float(o["bb"].split(",")[0]), o["label"]) for o in objs
                   if o.get("name", "").startswith("cluster_t"))
    first_t = [int(re.search(r"\d+", lab).group()) for _, lab in steps]
    assert first_t == sorted(first_t), (cls.__name__, steps)
    start = next(o for o in objs if "before t = 0" in str(o.get("label", "")) or
                 o.get("name") in boxes_titled(g, "h₋₁, before t = 0"))
    sx = float(start["pos"].split(",")[0])
    assert sx < steps[0][0]  # the state before t = 0 is left of step 0
    labels = []
    for o in objs:
        if o.get("name", "").startswith("cluster") and "lp" in o:
            x, y = map(float, o["lp"].split(","))
            w, h = float(o["lwidth"]) * 72 / 2, float(o["lheight"]) * 72 / 2
            labels.append((o["label"], x - w + 1, x + w - 1, y - h + 1, y + h - 1))
    assert len(labels) >= min(T, 5)  # every step cluster has its label
    checked = 0
    for e in layout.get("edges", []):
        checked += 1
        if e.get("style") == "invis":
            continue
        for px, py in _bezier_points(e["pos"]):
            for lab, x0, x1, y0, y1 in labels:
                assert not (x0 < px < x1 and y0 < py < y1), (cls.__name__, lab, e["pos"])
    assert checked > 4 * min(T, 5)


@needs_dot
def test_a_five_step_lstm_fits_the_box_with_every_step_drawn():
    engine.manual_seed(0)
    g = viz.draw_unrolled(nn.LSTM(1, 3, batch_first=True),
                          np.sin(np.arange(5) * np.pi / 10)[:, None])
    svg = g.svg()
    w, h = svg_size(svg)
    assert w <= 1600 and h <= 1000, (w, h)
    assert svg_scale(svg) == (1.0, 1.0) and min(svg_font_sizes(svg)) >= 10
    assert sorted(step_clusters(g)) == [f"t = {t}" for t in range(5)]
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert name in svg
    # A GRU step is taller: the picture still fits, one box per step, and says so.
    engine.manual_seed(0)
    gru = viz.draw_unrolled(nn.GRU(1, 3, batch_first=True), np.zeros((5, 1)))
    w, h = svg_size(gru.svg())
    assert w <= 1600 and h <= 1000
    assert "level='step'" in gru.source or "are drawn" in gru.source


def test_hidden_size_one_start_state_is_not_mistaken_for_a_constant():
    layer = nn.RNN(1, 1, nonlinearity="linear", batch_first=True)
    g = viz.draw_unrolled(layer, np.sin(np.arange(4.0))[:, None], fit=False)
    assert len(boxes_titled(g, "h₋₁, before t = 0")) == 1
    assert "h₋₁ ·" in g.source
    assert "h_t = x_t W_ihᵀ" in viz.draw_rolled(layer).source


@pytest.mark.parametrize("make, kind, terms", [
    (lambda: nn.RNN(1, 2, batch_first=True), "RNN", ["b_ih", "b_hh"]),
    (lambda: nn.RNN(1, 2, single_bias=True, batch_first=True), "RNN", ["b_ih"]),
    (lambda: nn.RNN(1, 2, bias=False, batch_first=True), "RNN", []),
    (lambda: nn.keras.layers.SimpleRNN(3, input_shape=(4, 1)), "RNN", ["b_ih"]),
    (lambda: nn.keras.layers.SimpleRNN(3, use_bias=False, input_shape=(4, 1)), "RNN", []),
    (lambda: nn.keras.layers.LSTM(2, input_shape=(3, 1)), "LSTM", ["b_ih"]),
    (lambda: nn.GRU(1, 2, batch_first=True), "GRU", ["b_ir", "b_hr"]),
])
def test_keras_layers_are_drawn_with_the_bias_terms_they_have(make, kind, terms):
    # Keras-style layers (SimpleRNN, nn.keras.layers.LSTM) are drawn as their kind, and an
    # equation never shows a bias the layer does not have (single_bias, bias=False).
    layer = make()
    g = viz.draw_rolled(layer)
    assert f"{kind} cell" in g.source
    shown = set(re.findall(r"b_[a-z]+", g.source))
    assert set(terms) <= shown
    assert not ({"b_ih", "b_hh", "b_ir", "b_hr"} - set(terms)) & shown
    boxes = viz.draw_unrolled(layer, np.zeros((3, 1), np.float32), level="step", fit=False)
    assert set(re.findall(r"b_[a-z]+", boxes.source)) == shown


# -- a one-layer, one-way layer: drawn as before stacked layers were drawn ------------------
def outline(source, tooltips=True):
    """The DOT text as a reader sees it: each HTML-like label as its cells' texts
    («a | b»), tooltips kept or not, lines wrapped at 96 characters."""
    out = []
    for line in source.splitlines():
        line = re.sub(r"label=<(.*)>(?= |\]|$)", lambda m: f"label=«{text(m.group(0))}»",
                      line.strip())
        if not tooltips:
            line = re.sub(r' tooltip="[^"]*"', "", line)
        out += textwrap.wrap(line, 96, subsequent_indent="    ", break_long_words=False,
                             break_on_hyphens=False) or [""]
    return "\n".join(out)


def one_layer(cls, T, draw=viz.draw_unrolled, **kw):
    engine.manual_seed(0)
    layer = cls(2, 3, batch_first=True, **kw.pop("layer_kw", {}))
    x = np.random.default_rng(0).normal(size=(T, 2)).astype(np.float32)
    return draw(layer, x, show_data=False, fit=False, **kw).source


# What the code drew before it drew stacked layers (generated with it, show_data=False so
# that no computed number is in it): the whole picture of a 2-step RNN, tooltips aside ...
RNN_T2 = """\
digraph unrolled {
fontname=Helvetica fontsize=11 newrank=true nodesep=0.12 rankdir=BT ranksep=0.25
node [fontname=Helvetica fontsize=10 margin="0.04,0.02"]
edge [arrowsize=0.7 fontname=Helvetica fontsize=10]
subgraph cluster_pre {
color="#7f7f7f" fontcolor="#555555" label="before the steps: the input times W_ihᵀ plus bias,
    every t at once" labelloc=t style="rounded,dotted"
v12_op [label="x ·\\nweight_ih_l0ᵀ + b" height=0.3 shape=ellipse]
v12 [label=«x · W_ihᵀ + b, all t (1, 2, 3)» height=0 margin=0 shape=plaintext width=0]
v13_op [label="bias_ih_l0 + bias_hh_l0" height=0.3 shape=ellipse]
v17 [label=«x (1, 2, 2)» height=0 margin=0 shape=plaintext width=0]
}
v0_op [label=stack height=0.3 shape=ellipse]
v0 [label=«output (1, 2, 3) float32» height=0 margin=0 shape=plaintext width=0]
v10 [label=«h₋₁, before t = 0 (1, 3)» height=0 margin=0 shape=plaintext width=0]
subgraph cluster_t0 {
color="#7f7f7f" fontcolor="#333333" label="t = 0" labeljust=l labelloc=b style=rounded
v5_op [label=tanh height=0.3 shape=ellipse]
v5 [label=«h₀ (1, 3)» height=0 margin=0 shape=plaintext width=0]
v6_op [label=add height=0.3 shape=ellipse]
v7_op [label="h₋₁ ·\\nweight_hh_l0ᵀ" height=0.3 shape=ellipse]
v11_op [label="[:, 0]" height=0 margin=0.02 shape=plaintext width=0]
}
subgraph cluster_t1 {
color="#7f7f7f" fontcolor="#333333" label="t = 1" labeljust=r labelloc=b style=rounded
v1_op [label=tanh height=0.3 shape=ellipse]
v1 [label=«h₁ (1, 3) float32» height=0 margin=0 shape=plaintext width=0]
v2_op [label=add height=0.3 shape=ellipse]
v3_op [label="h₀ ·\\nweight_hh_l0ᵀ" height=0.3 shape=ellipse]
v4_op [label="[:, 1]" height=0 margin=0.02 shape=plaintext width=0]
}
v0_op -> v0
v5 -> v0_op
v1 -> v0_op
v1_op -> v1
v2_op -> v1_op
v4_op -> v2_op
v3_op -> v2_op
v3_op -> v5 [color="#6a3d9a" dir=back penwidth=2.2]
v12 -> v4_op
v5_op -> v5
v6_op -> v5_op
v11_op -> v6_op
v7_op -> v6_op
v10 -> v7_op [color="#6a3d9a" penwidth=2.2]
v12 -> v11_op
v12_op -> v12
v17 -> v12_op
v13_op -> v12_op
time_init [shape=point style=invis width=0]
time_init -> v10 [style=invis]
time0 [shape=point style=invis width=0]
time0 -> v7_op [style=invis]
time1 [shape=point style=invis width=0]
time1 -> v3_op [style=invis]
time_init -> time0 [style=invis weight=10]
time0 -> time1 [style=invis weight=10]
{
rank=same
v7_op
v3_op
v10
}
{
rank=same
time_init
time0
time1
}
label=«RNN unrolled over 2 timesteps (float32) | parameter | input / constant | intermediate |
    loss / output | state passed to the next step | weights, the same at every step: |
    weight_ih_l0 (3, 2) | weight_hh_l0 (3, 3) | bias_ih_l0 (3,) | bias_hh_l0 (3,)» labeljust=l
    labelloc=t
}"""
# ... and the first 16 hex digits of sha256(outline) of more one-layer pictures.
ONE_LAYER_DIGESTS = {
    "RNN, T=4": "2559b55ab08a3224",
    "LSTM, T=4": "dbd00cfe8993041a",
    "GRU, T=4": "e73ce648eddc121a",
    "RNN, T=9, elided": "fa065bb778e47f56",
    "LSTM, T=9, elided": "e68ae8e7a9dff302",
    "GRU, T=9, elided": "7c2dc44a221bd447",
    "RNN, level='step'": "445adf1947c1588b",
    "LSTM, level='step'": "f9fb27974fb42579",
    "GRU, level='step'": "269c9df53d3a535e",
    "LSTM fused=False, T=3": "5710cf6f95ca2d03",
    "RNN, rolled": "0b1732fa71d0adb8",
    "LSTM, rolled": "a514b9d263b8668a",
    "GRU, rolled": "505358273f1165f0",
}
ONE_LAYER_CASES = {
    **{f"{cls.__name__}, T=4": (cls, 4, {}) for cls in (nn.RNN, nn.LSTM, nn.GRU)},
    **{f"{cls.__name__}, T=9, elided": (cls, 9, {"max_steps": 4, "first": 2, "last": 1})
       for cls in (nn.RNN, nn.LSTM, nn.GRU)},
    **{f"{cls.__name__}, level='step'": (cls, 3, {"level": "step"})
       for cls in (nn.RNN, nn.LSTM, nn.GRU)},
    "LSTM fused=False, T=3": (nn.LSTM, 3, {"layer_kw": {"fused": False}}),
}


def test_a_one_layer_one_way_picture_is_drawn_as_before():
    assert outline(one_layer(nn.RNN, 2), tooltips=False) == RNN_T2
    got = {}
    for name, (cls, T, kw) in ONE_LAYER_CASES.items():
        got[name] = hashlib.sha256(outline(one_layer(cls, T, **kw)).encode()).hexdigest()[:16]
    for cls in (nn.RNN, nn.LSTM, nn.GRU):
        engine.manual_seed(0)
        source = viz.draw_rolled(cls(2, 3, batch_first=True)).source
        got[f"{cls.__name__}, rolled"] = hashlib.sha256(outline(source).encode()).hexdigest()[:16]
    assert got == ONE_LAYER_DIGESTS


# -- stacked and bidirectional layers: a row per layer and direction ------------------------
def stacked(kind="RNN", layers=2, bi=True, T=4, **kw):
    layer_kw = {"num_layers": layers, "bidirectional": bi, **kw.pop("layer_kw", {})}
    return unrolled(getattr(nn, kind), T=T, layer_kw=layer_kw, **kw)


def rows(layers, bi):
    D = 2 if bi else 1
    return [(lay * D + d, f"layer {lay} {'←' if d else '→'}") for lay in range(layers)
            for d in range(D)]


def cell_of(tree, node):
    """(t, part) of the row cluster holding ``node``, or None."""
    for name, (_, _, members) in tree.items():
        if (m := re.fullmatch(r"cluster_t(\d+)_p(\d+)", name)) and node in members:
            return int(m.group(1)), int(m.group(2))
    return None


STACKED = [("LSTM", 2, False), ("GRU", 1, True), ("RNN", 2, True)]


@pytest.mark.parametrize("kind,layers,bi", STACKED)
def test_stacked_grid_a_column_per_timestep_a_row_per_layer_and_direction(kind, layers, bi):
    layer, g = stacked(kind, layers, bi, T=4)
    tree, names = cluster_tree(g), rows(layers, bi)
    columns = {k: v for k, v in tree.items() if re.fullmatch(r"cluster_t\d+", k)}
    assert sorted(v[0] for v in columns.values()) == [f"t = {t}" for t in range(4)]
    for t in range(4):
        inner = {k for k, v in tree.items() if v[1] == f"cluster_t{t}"}
        assert inner == {f"cluster_t{t}_p{k}" for k, _ in names}  # a row in every column
    # One row label per layer and direction, in the row's first step (a node: no edge
    # crosses it).
    ns = nodes(g)
    labels = {n: html.unescape(re.search(r"label=<<B>(.*)</B>>", a).group(1))
              for n, a in ns.items() if n.startswith("row")}
    assert labels == {f"row{k}": name for k, name in names}
    for k, _ in names:
        assert f"row{k}" in tree[f"cluster_t0_p{k}"][2]
    # Every row's steps hold the same ops, and name that row's weights (W_hh in the op
    # taking the state, W_ih in the step's input).
    D = 2 if bi else 1
    for k, _ in names:
        suffix = f"_l{k // D}" + ("_reverse" if k % D else "")  # PyTorch's names
        sizes = set()
        for t in range(4):
            members = tree[f"cluster_t{t}_p{k}"][2] - {f"row{k}"}
            sizes.add(len(members))
            texts = [text(ns[n]) for n in members]
            assert sum(f"weight_hh{suffix}ᵀ" in s for s in texts) == 1, (k, t, texts)
            step_in = [s for s in texts if f"weight_ih{suffix}ᵀ" in s]
            assert len(step_in) == 1
            what = f"x{vrec._sub(t)}" if k < D else \
                f"y{vrec._sub(t)}⁽0⁾".translate(vrec._SUP) if D == 2 else \
                vrec._tagged("h", t, k - D, layers, D)
            assert step_in[0].startswith(what + " ·"), step_in
        assert len(sizes) == 1
    # ... and the heading names every weight of every layer and direction once.
    for pname, p in layer.named_parameters():
        assert g.source.count(f"<B>{pname}</B> {tuple(p.shape)}") == 1
    assert "weights, the same at every step" in g.source


@pytest.mark.parametrize("kind,layers,bi", STACKED)
def test_stacked_state_edges_run_forward_in_a_forward_row_backward_in_a_reverse_row(
        kind, layers, bi):
    _, g = stacked(kind, layers, bi, T=4)
    tree = cluster_tree(g)
    hops, starts = {}, {}
    for tail, head, attrs in edges(g):
        if vstyle.STATE not in attrs:
            continue
        # Written consumer -> state with dir=back: the arrow runs from the state (the DOT
        # head) to the op taking it (the DOT tail); a start state's forward edge is not.
        state, user = (head, tail) if "dir=back" in attrs else (tail, head)
        src, dst = cell_of(tree, state), cell_of(tree, user)
        if src is None:  # the state before the first step
            starts.setdefault(dst[1], set()).add(dst[0])
            continue
        assert src[1] == dst[1]  # a state stays in its row
        hops.setdefault(src[1], set()).add((src[0], dst[0]))
    for k, _ in rows(layers, bi):
        reverse = bi and k % 2 == 1
        want = {(t + 1, t) for t in range(3)} if reverse else {(t, t + 1) for t in range(3)}
        assert hops[k] == want, (k, hops[k])
        assert starts[k] == {3 if reverse else 0}
    # The start states are named for where they enter: h₋₁ left of t = 0, ←h₄ right of t = 3.
    if bi:
        assert "←h₄" in g.source and "→h₋₁" in g.source


def test_stacked_layers_feed_the_next_layer_at_the_same_t():
    # Bidirectional: each column's y_t⁽⁰⁾ takes both directions of layer 0 and feeds both
    # rows of layer 1; the top y_t⁽¹⁾ boxes make the output.
    _, g = stacked("RNN", 2, True, T=3)
    tree, es = cluster_tree(g), edges(g)
    for t in range(3):
        y = f"y0_{t}"
        into = {cell_of(tree, a) for a, b, _ in es if b == y}
        out = {cell_of(tree, b) for a, b, _ in es if a == y}
        assert into == {(t, 0), (t, 1)} and out == {(t, 2), (t, 3)}
        assert {cell_of(tree, a) for a, b, _ in es if b == f"y1_{t}"} == {(t, 2), (t, 3)}
        assert f"x_in{t}" in tree[f"cluster_t{t}"][2]
        assert {cell_of(tree, b) for a, b, _ in es if a == f"x_in{t}"} == {(t, 0), (t, 1)}
    out = boxes_titled(g, "output")
    assert len(out) == 1 and {a for a, b, _ in es if b == out[0]} == {"y1_0", "y1_1", "y1_2"}
    # One way, no dropout: layer 1's step takes h_t⁽⁰⁾ itself.
    _, g = stacked("LSTM", 2, False, T=3)
    tree, ns = cluster_tree(g), nodes(g)
    for t in range(3):
        feeds = [(a, b) for a, b, _ in visible_edges(g) if cell_of(tree, a) == (t, 0) and
                 cell_of(tree, b) == (t, 1)]
        assert len(feeds) == 1
        assert text(ns[feeds[0][0]]).startswith(f"h{vrec._sub(t)}⁽⁰⁾ (1, 3)")
    # Dropout between layers (training mode) is said where layer 1 takes its input.
    _, g = stacked("GRU", 2, False, T=2, layer_kw={"dropout": 0.5})
    dropped = [n for n, a in nodes(g).items() if text(a).startswith("y₀⁽⁰⁾ (dropout) (1, 3)")]
    assert len(dropped) == 1 and "dropout p=0.5" in g.source


def test_stacked_level_step_one_box_per_step_and_row():
    _, g = stacked("RNN", 2, True, T=3, level="step")
    boxes = {n: cells(a) for n, a in nodes(g).items() if n.startswith("step")}
    assert sorted(boxes) == sorted(f"step{t}_p{k}" for t in range(3) for k in range(4))
    assert boxes["step1_p3"][:2] == ["t = 1, layer 1 ←", "←h₁⁽¹⁾ = RNN cell(y₁⁽⁰⁾, ←h₂⁽¹⁾)"]
    assert boxes["step1_p0"][1] == "→h₁⁽⁰⁾ = RNN cell(x₁, →h₀⁽⁰⁾)"
    state = [(a, b, "dir=back" in attrs) for a, b, attrs in edges(g) if vstyle.STATE in attrs]
    assert ("step0_p0", "step1_p0", False) in state  # forward: t → t + 1
    assert ("step0_p1", "step1_p1", True) in state  # reverse: drawn from t + 1 to t
    assert "h_t = tanh(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)" in g.source  # once, above


def test_stacked_long_sequences_elide_the_middle_in_every_row():
    _, g = stacked("LSTM", 2, True, T=9, max_steps=4, first=2, last=1)
    tree = cluster_tree(g)
    columns = sorted(v[0] for k, v in tree.items() if re.fullmatch(r"cluster_t\d+", k))
    assert columns == ["t = 0", "t = 1", "t = 8"]
    assert "steps 2…7 not drawn" in g.source
    es = [(a, b) for a, b, attrs in edges(g) if vstyle.STATE in attrs]
    for k in range(4):
        node = f"ellipsis_p{k}"
        assert node in nodes(g)
        touching = {cell_of(tree, b if a == node else a) for a, b in es if node in (a, b)}
        assert {c for c in touching if c} == {(1, k), (8, k)}  # in from one side, out the other
    _, step = stacked("LSTM", 2, True, T=9, max_steps=4, first=2, last=1, level="step")
    assert {n for n in nodes(step) if n.startswith("step")} == \
        {f"step{t}_p{k}" for t in (0, 1, 8) for k in range(4)}


def test_stacked_layer_in_a_model_and_a_stateful_one():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(2, 3, 2, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(6, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])

    engine.manual_seed(0)
    net = Net()
    g = viz.draw_unrolled(net, np.zeros((3, 2)), fit=False)
    assert "<B>rnn.weight_hh_l1_reverse</B>" in g.source and boxes_titled(g, "fc.weight")
    assert "<B>rnn.weight_ih_l1</B>" in viz.draw_rolled(net).source
    layer = nn.LSTM(2, 3, 2, stateful=True, batch_first=True)
    layer(engine.ones(1, 3, 2))
    kept = layer.state
    viz.draw_unrolled(layer, np.ones((3, 2)))
    assert layer.state is kept


@pytest.mark.parametrize("kind,layers,bi", STACKED + [("LSTM", 2, True)])
def test_draw_rolled_stacked_a_cell_per_layer_and_direction(kind, layers, bi):
    engine.manual_seed(0)
    layer = getattr(nn, kind)(2, 3, layers, batch_first=True, bidirectional=bi)
    g = viz.draw_rolled(layer)
    ns, es = nodes(g), edges(g)
    states = ["h", "c"] if kind == "LSTM" else ["h"]
    D = 2 if bi else 1
    for k, name in rows(layers, bi):
        assert cells(ns[f"cell{k}"])[0] == f"{kind} cell, {name}"
        for pname in dict(layer.named_parameters()):
            if pname.endswith(f"_l{k // D}" + ("_reverse" if k % D else "")):
                assert f"<B>{pname}</B>" in ns[f"cell{k}"]
        loops = [(a, attrs) for a, b, attrs in es if b == f"cell{k}" and vstyle.STATE in attrs]
        assert sorted(a for a, _ in loops) == sorted(f"{s}{k}" for s in states)
        step = "t+1" if k % D else "t−1"
        assert all(f"_{{{step}}}" in attrs for _, attrs in loops)
        # the input flows up: x into layer 0, the layer below (its y if two-way) above it
        below = {a for a, b, attrs in es if b == f"cell{k}" and vstyle.STATE not in attrs}
        assert below == ({"x"} if k < D else {f"y{k // D - 1}"} if D == 2 else {f"h{k - 1}"})
    for pname, p in layer.named_parameters():
        assert g.source.count(f"<B>{pname}</B> {p.shape}") == 1
    assert "rankdir=BT" in g.source and ">parameter<" in g.source


@needs_dot
@pytest.mark.parametrize("kind,layers,bi", STACKED)
def test_stacked_layout_time_across_rows_up_and_a_slide_fits(kind, layers, bi):
    _, g = stacked(kind, layers, bi, T=4)
    objs = json.loads(g.pipe(format="json"))["objects"]
    bb = {o["name"]: [float(v) for v in o["bb"].split(",")] for o in objs if "bb" in o}
    pos = {o["name"]: [float(v) for v in o["pos"].split(",")] for o in objs if "pos" in o}
    xs = [bb[f"cluster_t{t}"][0] for t in range(4)]
    assert xs == sorted(xs)  # time runs left to right
    parts = [k for k, _ in rows(layers, bi)]
    for t in range(4):  # rows bottom to top in every column (dot's y grows upwards)
        ys = [bb[f"cluster_t{t}_p{k}"][1] for k in parts]
        assert ys == sorted(ys) and len(set(ys)) == len(ys), (t, ys)
    # The start states: a forward row's left of t = 0, a reverse row's right of t = 3.
    for n, a in nodes(g).items():
        title = cells(a)[0] if "TABLE" in a else ""
        if re.match(r"^→?[hc]₋₁", title):
            assert pos[n][0] < bb["cluster_t0"][0], title
        elif title.startswith(("←h₄", "←c₄")):
            assert pos[n][0] > bb["cluster_t3"][2], title
    # With fit (the default), a 5-step picture fits a slide and says what it left out.
    engine.manual_seed(0)
    layer = getattr(nn, kind)(2, 3, layers, batch_first=True, bidirectional=bi)
    g = viz.draw_unrolled(layer, np.random.default_rng(0).normal(size=(5, 2)))
    svg = g.svg()
    w, h = svg_size(svg)
    assert w <= 1600 and h <= 1000, (w, h)
    assert svg_scale(svg) == (1.0, 1.0) and min(svg_font_sizes(svg)) >= 10
    said = html.unescape(g.source)
    assert "One box per step (level='step')" in said or "steps are drawn" in said
