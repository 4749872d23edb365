"""Legible by default: the course's MLP, the seed CNN, a 5-step unrolled LSTM and a 10⁴-node
chain, drawn with the defaults, fit 1,600 × 1,000 px at 96 dpi with no text below 10 pt and
no scaling, and show the parameters' names; bigger graphs say how they were reduced."""
import random
import re

import numpy as np
import pytest

import engine
import nn
import viz
from engine import Value, backward_steps
from viz.render import svg_size

from .helpers import needs_dot, svg_font_sizes, svg_scale

pytestmark = needs_dot
BOX = (1600, 1000)


def assert_legible(g, names=()):
    svg = g.svg()
    w, h = svg_size(svg)
    assert w <= BOX[0] and h <= BOX[1], f"{w} × {h} px does not fit {BOX}"
    assert svg_scale(svg) == (1.0, 1.0), "the picture was scaled down"
    assert min(svg_font_sizes(svg)) >= 10, "text below 10 pt"
    for name in names:
        assert f">{name}<" in svg or f">{name} " in svg or f"{name}</text>" in svg, name
    return svg


def course_mlp(backward=True):
    """Course 003: 2 → 4 → 3 → 1 with sigmoids, binary cross-entropy, on the slides' data."""
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.Sigmoid(),
                          nn.Linear(3, 1), nn.Sigmoid())
    X = engine.tensor([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]], name="X")
    y = engine.tensor([[0.0], [1.0], [1.0]], name="y")
    loss = nn.F.binary_cross_entropy(model(X), y)
    if backward:
        loss.backward()
    return loss


PARAMS = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]


def test_the_course_mlp_fits_with_every_parameter_named():
    loss = course_mlp()
    svg = assert_legible(viz.draw_graph(loss), PARAMS)
    # each nn.Linear is one node: x·Wᵀ + b, the transpose no node of its own (name and
    # formula are one <text> when they fit on one line, two otherwise)
    assert len(re.findall(r">linear(?: x·Wᵀ \+ b)?</text>", svg)) == 3
    assert svg.count("x·Wᵀ + b</text>") == 3
    assert ">permute" not in svg
    assert_legible(viz.draw_graph(loss, color_by="grad", show_data=False), PARAMS)
    layers = assert_legible(viz.draw_graph(loss, level="module"))
    for title in ("0: Linear", "1: Sigmoid", "4: Linear", "5: Sigmoid"):
        assert title in layers
    steps = list(backward_steps(course_mlp(backward=False)))
    for k in (0, len(steps) // 2, len(steps) - 1):
        assert_legible(viz.draw_step(steps[k]))


def test_the_seed_cnn_fits_with_every_parameter_named():
    engine.manual_seed(0)
    model = nn.models.seed_cnn()
    x = engine.randn(2, 1, 28, 28, name="x")
    loss = nn.F.cross_entropy(model(x), np.array([3, 7]))
    loss.backward()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias",
                     "10.weight", "10.bias"]
    svg = assert_legible(viz.draw_graph(loss), names)
    assert svg.count("conv2d") >= 3 and "not drawn" not in svg  # every layer, nothing cut
    assert_legible(viz.draw_graph(loss, level="module"))


def test_a_five_step_unrolled_lstm_fits_with_its_weights_named():
    engine.manual_seed(0)
    g = viz.draw_unrolled(nn.LSTM(1, 3, batch_first=True),
                          np.sin(np.arange(5) * np.pi / 10)[:, None])
    svg = assert_legible(g, ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
    assert all(f"t = {t}" in svg for t in range(5))


def test_a_chain_of_ten_thousand_nodes_fits_and_says_what_is_not_drawn():
    x = Value(0.5, label="x")
    v = x
    for _ in range(9_999):
        v = v * 1.0001
    v.label = "y"
    v.backward()
    svg = assert_legible(viz.draw_graph(v), ["x", "y"])
    assert "… 9,99" in svg and "nodes …" in svg  # the visible marker, with the count
    assert "not drawn" in svg  # and the caption says why


def test_notebook_01s_hand_written_network_fits():
    rng = np.random.default_rng(0)
    X = engine.tensor([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]], dtype=np.float64, name="X")
    y = engine.tensor([[0.0], [1.0], [1.0]], dtype=np.float64, name="y")
    ws = [engine.tensor(rng.normal(0, 0.5, s), requires_grad=True, dtype=np.float64, name=n)
          for s, n in (((2, 4), "W1"), ((1, 4), "b1"), ((4, 3), "W2"), ((1, 3), "b2"),
                       ((3, 1), "W3"), ((1, 1), "b3"))]
    a1 = (X @ ws[0] + ws[1]).sigmoid()
    a2 = (a1 @ ws[2] + ws[3]).sigmoid()
    y_hat = (a2 @ ws[4] + ws[5]).sigmoid()
    J = -(y * y_hat.log() + (1 - y) * (1 - y_hat).log()).sum()
    steps = list(backward_steps(J, retain_graph=True))
    names = ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert_legible(viz.draw_graph(J), names)
    assert_legible(viz.draw_graph(J, color_by="grad", show_data=False), names)
    assert_legible(viz.draw_step(steps[8]), names)


def test_a_big_scalar_mlp_is_reduced_and_says_how():
    # micrograd's MLP(3, [4, 4, 1]) on 4 samples with a squared loss: ~750 values.
    random.seed(0)
    sizes = [3, 4, 4, 1]
    layers = [[([Value(random.uniform(-1, 1), label=f"w{k}.{j}.{i}") for i in range(n_in)],
                Value(0.0, label=f"b{k}.{j}")) for j in range(n_out)]
              for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False))]
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    loss = Value(0.0)
    for x, target in zip(xs, ys, strict=True):
        act = [Value(v) for v in x]
        for layer in layers:
            act = [sum((w * a for w, a in zip(ws, act, strict=True)), b).tanh()
                   for ws, b in layer]
        loss = loss + (act[0] - target) ** 2
    loss.backward()
    g = viz.draw_graph(loss)
    svg = g.svg()
    w, h = svg_size(svg)
    assert w <= BOX[0] and h <= BOX[1]
    assert "not drawn" in svg  # it says so ...
    assert min(svg_font_sizes(svg)) >= 10


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_a_fixed_direction_is_kept(rankdir):
    g = viz.draw_graph(course_mlp(), rankdir=rankdir)
    assert f"rankdir={rankdir}" in g.source
