"""The scalar graph: ops against math, gradients against finite differences, micrograd's
regressions (#90 deep chain, #64 re-used non-leaf, #53 double backward), stepping."""
import math
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import Value, backward_steps, gradcheck

away = st.floats(0.2, 3.0).flatmap(lambda m: st.sampled_from([m, -m]))
pos = st.floats(0.3, 3.0)
any_x = st.floats(-3.0, 3.0)

UNARY = {
    "neg": (lambda v: -v, lambda x: -x, any_x),
    "exp": (lambda v: v.exp(), math.exp, any_x),
    "log": (lambda v: v.log(), math.log, pos),
    "tanh": (lambda v: v.tanh(), math.tanh, any_x),
    "sigmoid": (lambda v: v.sigmoid(), lambda x: 1 / (1 + math.exp(-x)), any_x),
    "relu": (lambda v: v.relu(), lambda x: max(x, 0.0), away),
    "sqrt": (lambda v: v.sqrt(), math.sqrt, pos),
    "abs": (lambda v: v.abs(), abs, away),
}
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, any_x, any_x),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, any_x, any_x),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, any_x, any_x),
    "div": (lambda a, b: a / b, lambda a, b: a / b, any_x, away),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, pos, any_x),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_value_ops(name, data):
    op, ref, domain = UNARY[name]
    x = data.draw(domain)
    assert op(Value(x)).data == pytest.approx(ref(x), rel=1e-12, abs=1e-12)
    assert gradcheck(lambda v: op(v), Value(x))


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_value_ops_and_reflected_numbers(name, data):
    op, ref, da, db = BINARY[name]
    a, b = data.draw(da), data.draw(db)
    assert op(Value(a), Value(b)).data == pytest.approx(ref(a, b), rel=1e-12, abs=1e-12)
    assert op(a, Value(b)).data == pytest.approx(ref(a, b), rel=1e-12, abs=1e-12)
    assert op(Value(a), b).data == pytest.approx(ref(a, b), rel=1e-12, abs=1e-12)
    assert gradcheck(lambda x, y: op(x, y), Value(a), Value(b))


def test_every_value_op_is_tested():
    from engine.ops.base import scalar_ops
    assert set(scalar_ops()) == set(UNARY) | set(BINARY)


def test_parents_are_an_ordered_tuple_keeping_both_edges_of_a_times_a():
    a = Value(3.0)
    b = a * a
    assert b.parents == (a, a) and isinstance(b.parents, tuple)
    b.backward()
    assert a.grad == 6.0


def test_million_node_chain_backpropagates_without_recursion():
    limit = sys.getrecursionlimit()
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0 and sys.getrecursionlimit() == limit


def test_reused_nonleaf_micrograd_64():
    a = Value(-5.0)
    b = a + a
    c = b + b
    c.backward()
    assert (b.grad, a.grad) == (2.0, 4.0)


def test_backward_twice_never_compounds_intermediates_micrograd_53():
    a = Value(2.0)
    b = a * 3.0
    c = b * b
    c.backward()
    first = (b.grad, a.grad)
    c.backward()
    assert b.grad == first[0]          # intermediate: recomputed, same value
    assert a.grad == 2 * first[1]      # leaf: accumulates, as in PyTorch
    c.zero_grad()
    c.backward()
    assert a.grad == first[1]


def test_backward_steps_leave_exactly_the_backward_grads():
    def build():
        x, w = Value(0.7, label="x"), Value(-1.3, label="w")
        out = ((x * w).tanh() + x ** 2).sigmoid() * w
        return x, w, out
    x1, w1, o1 = build()
    o1.backward()
    x2, w2, o2 = build()
    steps = list(backward_steps(o2))
    assert (x2.grad, w2.grad) == (x1.grad, w1.grad)
    nodes = engine.autograd.topo_order(o2)
    assert len(steps) == sum(n.requires_grad for n in nodes)  # every node but the constant 2
    assert steps[0].node is o2 and steps[0].grad == 1.0


def test_step_text_shows_formula_and_numbers():
    x = Value(0.5, label="x")
    y = x.tanh()
    y.label = "y"
    (step, _) = list(backward_steps(y))
    text = str(step)
    local = 1 - math.tanh(0.5) ** 2
    assert "d(tanh u)/du = 1 − tanh²u" in text
    assert f"{local:.4g}" in text and "→ x" in text
    assert step.local == (pytest.approx(local),)


def test_value_anomaly_names_op():
    with engine.detect_anomaly():
        with pytest.raises(engine.AnomalyError, match="'log'"):
            Value(0.0).log()
    assert Value(0.0).log().data == -math.inf  # outside anomaly mode: IEEE, like numpy


def test_value_errors_are_clear():
    with pytest.raises(ZeroDivisionError, match="div"):
        Value(1.0) / 0.0
    with pytest.raises(TypeError, match="already a Value"):
        Value(Value(1.0))


def test_values_follow_pytorchs_0d_tensors_at_the_edges():
    # exp overflows to inf only past the true limit and keeps NaN; relu keeps NaN; 0 to a
    # negative odd power is signed infinity (IEEE and PyTorch); == compares the data; a
    # Value of 0.0 is false; numpy arrays do not swallow a Value into an object array.
    assert Value(709.781).exp().data == math.exp(709.781)
    assert Value(710.0).exp().data == math.inf
    assert math.isnan(Value(float("nan")).exp().data)
    assert math.isnan(Value(float("nan")).relu().data)
    assert (Value(-0.0) ** -1).data == -math.inf and (Value(-0.0) ** -2).data == math.inf
    assert Value(2.0) == Value(2.0) and Value(2.0) == 2 and not (Value(2.0) != 2.0)
    assert len({Value(1.0), Value(1.0)}) == 2  # still two nodes: hashing is by identity
    assert not Value(0.0) and Value(-1.0)
    with pytest.raises(TypeError, match="expected a number, got a ndarray"):
        np.array([1.0, 2.0]) * Value(3.0)


def test_create_graph_keeps_pow_and_maximum_special_cases():
    # The backward formulas test b == 0 and a == b; with create_graph their operands are
    # Values, whose == compared identity (always False): NaN and lost gradients.
    x = Value(0.0)
    (g,) = engine.grad(x ** 0, x, create_graph=True)
    assert float(getattr(g, "data", g)) == 0.0
    y = Value(2.0)
    (g,) = engine.grad(Value(0.0) ** y, y, create_graph=True)
    assert float(getattr(g, "data", g)) == 0.0
    a, b = Value(1.0), Value(1.0)
    ga, gb = engine.grad(engine.maximum(a, b), [a, b], create_graph=True)
    assert (ga.data, gb.data) == (0.5, 0.5)


def test_value_edges_match_torch():
    torch = pytest.importorskip("torch")
    for fn in (lambda v: v.exp(), lambda v: v.relu(), lambda v: v ** -1, lambda v: v ** -3):
        for x in (709.781, 710.0, -0.0, 0.0, float("nan"), -2.0):
            t = fn(torch.tensor(x, dtype=torch.float64)).item()
            try:
                got = fn(Value(x)).data
            except ZeroDivisionError:
                got = None
            assert got == t or (math.isnan(got) and math.isnan(t)), (x, got, t)
