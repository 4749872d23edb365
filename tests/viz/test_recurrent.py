"""viz.draw_unrolled / draw_rolled: one cluster per timestep, shared weights once with edges
into every step, state edges from t to t + 1, the ellipsis for long sequences."""
import json
import re
import shutil

import numpy as np
import pytest

import engine
import nn
import viz
from viz import recurrent as vrec

from .test_graph import clusters, edges, label, nodes

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed")


def unrolled(cls=nn.RNN, T=4, F=2, H=3, seed=0, layer_kw=None, **kw):
    engine.manual_seed(seed)
    layer = cls(F, H, **(layer_kw or {}))
    x = np.random.default_rng(seed).normal(size=(T, F)).astype(np.float32)
    return layer, viz.draw_unrolled(layer, x, **kw)


def step_clusters(g):
    return {k: v for k, v in clusters(g).items() if k and k.startswith("t = ")}


def named(g, text):
    """DOT names of the record nodes whose first field is ``text``."""
    return [n for n, attrs in nodes(g).items()
            if "record" in attrs and label(attrs).strip("{ ").split(" |")[0] == text]


def owner(cl, node):
    return next((k for k, members in cl.items() if node in members), None)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_one_cluster_per_timestep_with_input_ops_and_state(cls):
    _, g = unrolled(cls, T=4)
    cl = step_clusters(g)
    assert sorted(cl) == [f"t = {t}" for t in range(4)]
    ns = nodes(g)
    for t in range(4):
        members = cl[f"t = {t}"]
        labels = [label(ns[n]) for n in members]
        assert any(f"x{vrec._sub(t)}·W_ihᵀ + b" in s for s in labels)  # the step's input
        assert any(s.startswith(f"{{ h{vrec._sub(t)} |") for s in labels)  # its hidden state
        assert any(n.endswith("_op") and label(ns[n]).startswith("matmul") for n in members)
        assert any(f"getitem\\n[:, {t}]" == label(ns[n]) for n in members)
    # Same ops in every step: each timestep holds the same number of nodes.
    assert len({len(m) for m in cl.values()}) == 1


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_shared_weights_drawn_once_outside_with_edges_into_every_step(cls):
    layer, g = unrolled(cls, T=5)
    cl = clusters(g)
    steps = step_clusters(g)
    for pname, _ in layer.named_parameters():
        found = named(g, pname)
        assert len(found) == 1, pname  # once
        assert owner(steps, found[0]) is None  # outside every timestep
        assert found[0] in cl["shared weights (LSTM, used at every t)".replace(
            "LSTM", cls.__name__)]
    w_hh = named(g, "weight_hh_l0")[0]
    reached = {owner(steps, h) for t, h, attrs in edges(g) if t == w_hh}
    assert reached == set(steps)  # an edge into every step
    assert all('label=".T"' in attrs for t, h, attrs in edges(g) if t == w_hh)
    # x W_ihᵀ + b is computed once for all t and feeds every step through its slice.
    xw = named(g, "x·W_ihᵀ + b  (all t)")
    assert len(xw) == 1 and owner(steps, xw[0]) is None
    assert {owner(steps, h) for t, h, _ in edges(g) if t == xw[0]} == set(steps)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_state_edges_go_from_step_t_to_step_t_plus_1(cls):
    _, g = unrolled(cls, T=4)
    steps = step_clusters(g)
    hops = set()
    for tail, head, attrs in edges(g):
        if vrec._STATE in attrs:
            # Written head -> tail with dir=back (layout trick): the arrow points forward.
            assert "dir=back" in attrs
            src, dst = owner(steps, head), owner(steps, tail)
            hops.add((int(src[4:]), int(dst[4:])))
    assert {(t, t + 1) for t in range(3)} <= hops
    assert all(b == a + 1 for a, b in hops)
    init = named(g, "h (initial)")
    assert len(init) == 1 and owner(steps, init[0]) is None


def test_fused_lstm_steps_hold_one_state_op_each():
    _, g = unrolled(nn.LSTM, T=3)
    for t in range(3):
        assert len(named(g, f"h{vrec._sub(t)}")) == 1
        assert len(named(g, f"c{vrec._sub(t)}")) == 1
    all_nodes = nodes(g)
    for cl in step_clusters(g).values():
        ops = [label(all_nodes[n]) for n in cl if "record" not in all_nodes[n]]
        assert sum("lstm_c" in o for o in ops) == sum("lstm_h" in o for o in ops) == 1, ops
    assert "gate i" not in g.source


def test_lstm_states_and_gates_are_named():
    _, g = unrolled(nn.LSTM, T=3, layer_kw={"fused": False})
    for t in range(3):
        assert len(named(g, f"h{vrec._sub(t)}")) == 1
        assert len(named(g, f"c{vrec._sub(t)}")) == 1
    assert named(g, "c (initial)") and named(g, "h (initial)")
    for gate in "ifgo":
        assert g.source.count(f'"gate {gate}\\n') == 3  # one per step
    _, gru = unrolled(nn.GRU, T=2)
    assert gru.source.count('"gate r\\n') == 4  # x and h parts, two steps
    assert "sub(1, ·)" in gru.source  # the constant of 1 − z folded into its op


def test_long_sequences_show_first_and_last_steps_around_an_ellipsis():
    layer, g = unrolled(nn.RNN, T=12)
    cl = step_clusters(g)
    assert sorted(cl) == ["t = 0", "t = 1", "t = 10", "t = 11", "t = 2", "t = 3 … 9"]
    assert "⋯ 7 more steps ⋯" in g.source
    assert "steps 3…9 elided" in g.source
    assert len(named(g, "weight_hh_l0")) == 1
    state = [(t, h) for t, h, attrs in edges(g) if vrec._STATE in attrs]
    # h₂ flows into the ellipsis, and the ellipsis into step 10 (edges are written reversed).
    assert any(t == "ellipsis" and owner(cl, h) == "t = 2" for t, h in state)
    assert any(h == "ellipsis" and owner(cl, t) == "t = 10" for t, h in state)
    _, g2 = unrolled(nn.RNN, T=12, max_steps=20)
    assert len(step_clusters(g2)) == 12
    with pytest.raises(ValueError, match="first and last"):
        viz.draw_unrolled(layer, np.zeros((12, 2)), first=0)


def test_model_containing_a_recurrent_layer_and_input_shapes():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(2, 3)
            self.fc = nn.Linear(3, 1)

        def forward(self, x):
            _, h = self.rnn(x)
            return self.fc(h)

    engine.manual_seed(1)
    net = Net()
    x = np.random.default_rng(0).normal(size=(4, 2))
    g = viz.draw_unrolled(net, x)
    assert sorted(step_clusters(g)) == [f"t = {t}" for t in range(4)]
    assert len(named(g, "rnn.weight_hh_l0")) == 1 and len(named(g, "fc.weight")) == 1
    # (T, F), (1, T, F) and a Tensor give the same picture, run after run.
    same = [viz.draw_unrolled(net, x).source, viz.draw_unrolled(net, x[None]).source,
            viz.draw_unrolled(net, engine.tensor(x[None], name="x")).source]
    assert all(s == g.source for s in same)
    assert "0x" not in g.source
    with pytest.raises(TypeError, match="RNN/LSTM/GRU"):
        viz.draw_unrolled(nn.Linear(2, 2), x)
    with pytest.raises(TypeError):
        viz.draw_unrolled(nn.RNNCell(2, 3), x)


def test_drawing_does_not_change_a_stateful_layer():
    layer = nn.LSTM(2, 3, stateful=True)
    viz.draw_unrolled(layer, np.ones((3, 2)))
    assert layer.state is None
    layer(engine.ones(1, 3, 2))
    kept = layer.state
    viz.draw_unrolled(layer, np.ones((3, 2)))
    assert layer.state is kept


@pytest.mark.parametrize("cls,states", [(nn.RNN, ["h"]), (nn.LSTM, ["h", "c"]),
                                        (nn.GRU, ["h"]), (nn.LSTMCell, ["h", "c"])])
def test_draw_rolled_has_the_cell_weights_and_recurrence_edges(cls, states):
    layer = cls(2, 3)
    g = viz.draw_rolled(layer)
    recurrence = [(t, h, a) for t, h, a in edges(g) if "t−1" in a]
    assert sorted(re.search(r'label="(\w)_', a).group(1) for _, _, a in recurrence) == \
        sorted(states)
    assert all(h == "cell" and t in states for t, h, _ in recurrence)
    for pname, p in layer.named_parameters():
        assert g.source.count(f"{pname} | {p.shape}") == 1
    assert "x_t" in g.source and "h_t" in g.source
    assert "cell" in nodes(g) and ("c_t = f ⊙ c_{t−1} + i ⊙ g" in g.source) == ("c" in states)


def test_draw_rolled_names_weights_inside_a_model():
    model = nn.Sequential(nn.Linear(2, 2))
    model.add_module("rnn", nn.RNN(2, 4, nonlinearity="relu"))
    g = viz.draw_rolled(model)
    assert "rnn.weight_ih_l0" in g.source and "h_t = relu(x_t W_ihᵀ" in g.source
    linear = viz.draw_rolled(nn.RNN(1, 1, nonlinearity="linear")).source
    assert "h_t = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh\\l" in linear
    with pytest.raises(TypeError):
        viz.draw_rolled(nn.Linear(2, 2))


@needs_dot
def test_unrolled_renders_with_time_running_left_to_right():
    # dot places clusters heuristically; the picture pins the steps in time order.
    for cls, T in ((nn.RNN, 5), (nn.LSTM, 3), (nn.GRU, 9)):
        _, g = unrolled(cls, T=T)
        layout = json.loads(g.pipe(format="json"))
        boxes = sorted((float(o["bb"].split(",")[0]), o["label"]) for o in layout["objects"]
                       if o.get("name", "").startswith("cluster_t"))
        first_t = [int(re.search(r"\d+", lab).group()) for _, lab in boxes]
        assert first_t == sorted(first_t), (cls.__name__, boxes)
    svg = viz.draw_rolled(nn.LSTM(2, 3)).pipe(format="svg", encoding="utf-8")
    assert "<svg" in svg and "h_{t−1}" in svg


def test_hidden_size_one_initial_state_is_not_mistaken_for_a_constant():
    layer = nn.RNN(1, 1, nonlinearity="linear")
    g = viz.draw_unrolled(layer, np.sin(np.arange(4.0))[:, None])
    assert len(named(g, "h (initial)")) == 1
    assert "matmul(0, ·)" not in g.source
    assert "h_t = x_t W_ihᵀ" in viz.draw_rolled(layer).source
