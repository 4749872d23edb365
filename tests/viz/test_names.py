"""Names everywhere: Module names its parameters (nn/module.py), backward_steps and the
pictures show them without extra arguments, and each step's rule is written in the names
of the operands of the node it explains (viz.rule / viz.step_text)."""
import numpy as np
import pytest

import engine
import nn
import viz
from engine import Value, backward_steps
from viz.text import grad_summary, rule, step_text, summary

from .helpers import cells, nodes


# ------------------------------------------------------------------------------ nn.Module
def test_modules_name_their_parameters_by_the_full_dotted_path():
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Linear(3, 1)))
    assert [p.name for p in model.parameters()] == \
        ["0.weight", "0.bias", "2.0.weight", "2.0.bias"]

    class Net(nn.Module):
        def __init__(self, features):
            super().__init__()
            self.features = features
            self.fc1 = nn.Linear(1, 2)
            self.fc1.weight.name = "W_out"  # the user's own name is kept

        def forward(self, x):
            return self.fc1(self.features(x))

    net = Net(model)  # the full path from the outermost model
    assert [n for n, _ in net.named_parameters()] == \
        ["features.0.weight", "features.0.bias", "features.2.0.weight", "features.2.0.bias",
         "fc1.weight", "fc1.bias"]
    assert [p.name for p in net.parameters()] == \
        ["features.0.weight", "features.0.bias", "features.2.0.weight", "features.2.0.bias",
         "W_out", "fc1.bias"]
    model[0](engine.zeros(1, 2))  # calling a part alone keeps the outer names
    assert model[0].weight.name == "features.0.weight"
    named = nn.Linear(2, 2)
    named.weight = nn.Parameter(np.ones((2, 2)), name="mine")
    assert named.weight.name == "mine"
    assert nn.Parameter([1.0]).name == ""  # outside a module: no name invented


def test_a_layer_building_its_weights_at_the_first_call_gets_the_full_name():
    class Lazy(nn.Module):
        def forward(self, x):
            if "w" not in self._parameters:
                self.w = nn.Parameter(np.ones((x.shape[1], 1)))
            return x @ self.w

    model = nn.Sequential(nn.Linear(2, 2), Lazy())
    model(engine.zeros(3, 2))
    assert model[1].w.name == "1.w"


def test_backward_steps_and_pictures_show_module_names_without_model():
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))
    x = engine.tensor([[1.0, 2.0]], name="x")
    loss = model(x).sum()
    texts = [str(s) for s in backward_steps(loss, retain_graph=True)]
    assert any(t.startswith("step") and "0.weight is a leaf" in t for t in texts)
    assert any("2.bias is a leaf" in t for t in texts)
    g = viz.draw_graph(loss, fit=False)
    titles = [cells(a)[0] for a in nodes(g).values() if "TABLE" in a and cells(a)]
    assert {"0.weight (3, 2)", "0.bias (3,)", "2.weight (1, 3)", "2.bias (1,)"} <= set(titles)


# ------------------------------------------------------------------------------ rules
def test_rules_use_the_operands_names():
    a, b, c, f = (Value(v, label=k) for k, v in (("a", 2.0), ("b", -3.0), ("c", 10.0),
                                                    ("f", -2.0)))
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    # Karpathy's lecture: the rule of L = d·f names d and f, not the generic a and b.
    assert rule(L) == "d(d·f)/dd = f, d(d·f)/df = d"
    assert rule(d) == "d(e + c)/de = 1, d(e + c)/dc = 1"
    assert rule(e) == "d(a·b)/da = b, d(a·b)/db = a"
    x = Value(0.5, label="x")
    assert rule(x ** 3) == "d(x^3)/dx = 3·x^(3−1)"  # no rule for the constant exponent
    assert rule(x.exp()) == "d(e^x)/dx = e^x"
    assert rule(x.tanh()) == "d(tanh x)/dx = 1 − tanh²x"
    assert rule((x * 2).tanh()) == "d(tanh u)/du = 1 − tanh²u  with u = <mul 1>"
    y = Value(1.0, label="b")  # b is taken: the unnamed operand gets another letter
    assert rule(y + x * 2) == "d(b + u)/db = 1, d(b + u)/du = 1  with u = <mul 1>"
    assert rule(x * 2 + x * 2) == "d(a + b)/da = 1, d(a + b)/db = 1  with a = <mul 1>, " \
                                  "b = <mul 1>"
    W = engine.randn(3, 2, requires_grad=True, name="W")
    X = engine.randn(4, 3, name="X")
    assert rule(X @ W) == "d(X·W)/dW = Xᵀ·G"  # X needs no gradient: its part is left out
    assert rule(X @ W.T.T) == "d(X·W.T.T)/d(W.T.T) = Xᵀ·G"  # a dotted name in brackets
    assert rule(W.sum()) == "d(Σ W)/dW = 1 for every element"
    # Linear's x @ W.T with a module's name: (W.T)ᵀ is written W.
    lin = engine.randn(3, 2, requires_grad=True, name="0.weight")
    h = engine.randn(4, 2, requires_grad=True, name="h")
    assert rule(h @ lin.T) == "d(h·0.weight.T)/dh = G·0.weight, " \
                              "d(h·0.weight.T)/d(0.weight.T) = hᵀ·G"
    assert rule(W) == ""  # a leaf has no rule
    # A formula without the generic symbols is kept as it is.
    pooled = engine.max_pool2d(engine.randn(1, 1, 4, 4, requires_grad=True), 2)
    assert rule(pooled) == pooled.grad_fn.formula


def test_step_text_is_backward_steps_text_with_the_named_rule():
    d, f = Value(4.0, label="d"), Value(-2.0, label="f")
    L = d * f
    L.label = "L"
    step = next(iter(backward_steps(L)))
    plain, named = str(step).splitlines(), step_text(step).splitlines()
    assert plain[1] == "  rule: d(a·b)/da = b, d(a·b)/db = a"
    assert named[1] == "  rule: d(d·f)/dd = f, d(d·f)/df = d"
    assert named[:1] + named[2:] == plain[:1] + plain[2:]  # every other line unchanged
    leaf = list(backward_steps(Value(1.0, label="z") * 2))[-1]
    assert step_text(leaf) == str(leaf)


def test_summaries_show_what_students_need():
    assert summary(np.array([1.0, -2.5])) == "[1, -2.5]"
    assert summary(np.arange(6.0)) == f"μ 2.5 σ {np.std(np.arange(6.0)):.3g}"
    # A gradient whose entries cancel: the norm, not a mean near 0 that reads as "vanishing".
    g = np.array([[3.0, -3.0, 1.0], [-1.0, 2.0, -2.0]])
    assert grad_summary(g) == f"‖·‖ {np.linalg.norm(g):.3g}" == "‖·‖ 5.29"
    assert grad_summary(np.array([np.nan, 1.0, 2.0, 3.0, 4.0])) == \
        f"‖·‖ {np.linalg.norm([1.0, 2, 3, 4]):.3g} (1 NaN/Inf)"
    with pytest.raises(TypeError, match="rule: expected an engine.Value or engine.Tensor"):
        rule(3.0)
