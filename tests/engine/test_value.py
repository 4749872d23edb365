"""The scalar graph: ops against math, gradients against finite differences, micrograd's
regressions (#90 deep chain, #64 re-used non-leaf, #53 double backward), stepping."""
import math
import sys

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
