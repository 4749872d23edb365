"""viz.draw_unrolled / draw_rolled: one cluster per timestep in time order, the weights drawn
once (in the heading) and named by the ops using them, state edges from t to t + 1, the
state before t = 0 beside the first step, no edge over a label, the legend inside, and a
5-step LSTM that fits the box."""
import json
import re

import numpy as np
import pytest

import engine
import nn
import viz
from viz import recurrent as vrec
from viz import style as vstyle
from viz.render import svg_size

from .helpers import cells, edges, needs_dot, nodes, svg_font_sizes, svg_scale, text


def unrolled(cls=nn.RNN, T=4, F=2, H=3, seed=0, layer_kw=None, **kw):
    engine.manual_seed(seed)
    layer = cls(F, H, **{"batch_first": True, **(layer_kw or {})})
    x = np.random.default_rng(seed).normal(size=(T, F)).astype(np.float32)
    kw.setdefault("fit", False)
    return layer, viz.draw_unrolled(layer, x, **kw)


def clusters(g):
    """cluster label → set of node names declared inside it."""
    stack, out = [], {}
    for line in g.source.splitlines():
        s = line.strip()
        if s.startswith("subgraph cluster"):
            stack.append([None, set()])
        elif s == "}" and stack:
            label, members = stack.pop()
            out[label] = members
        elif stack and (m := re.match(r'^"?([\w.]+)"? \[', s)) and "->" not in s:
            stack[-1][1].add(m.group(1))
        elif stack and stack[-1][0] is None and "->" not in s and \
                (m := re.search(r'\blabel=(?:"([^"]*)"|([\w.]+))', s)):
            stack[-1][0] = m.group(1) if m.group(1) is not None else m.group(2)
    return out


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
