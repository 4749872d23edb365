"""The walks under engine.grad and backward(inputs=): they run only the ops on a path to the
inputs (as PyTorch), after one topological sort, with one set of input checks.

Every test failed before the change it covers (grad and backward(inputs=) ran and freed every
op of the graph; grad(y, []) returned ()).
"""
import numpy as np
import pytest

import engine
from engine import Value

F64 = np.float64


def t(a, requires_grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=requires_grad)


def data(x):
    return np.asarray(x.data) if isinstance(x, engine.Tensor) else np.asarray(x)


def close(ours, expected, tol=1e-6):
    assert len(ours) == len(expected)
    for o, e in zip(ours, expected, strict=True):
        assert data(o).shape == np.shape(e)
        np.testing.assert_allclose(data(o), e, rtol=tol, atol=tol)


A = [1.0, -2.0, 0.5]


def counting_op(calls):
    """An identity op that counts its backward runs (registered; removed by the caller)."""
    class Counted(engine.Op):
        name = "counted_identity_functional_test"
        formula = "d(u)/du = 1"

        def forward(self, a):
            return a.copy()

        def backward(self, g, a, out):
            calls.append(1)
            return g
    return Counted


def test_grad_and_backward_inputs_run_only_the_ops_leading_to_the_inputs():
    """As PyTorch: a branch that leads to no input is neither computed nor freed, so
    ``grad(y, x)`` then ``grad(y, w)`` works without retain_graph (it raised "backward through
    the graph a second time")."""
    calls = []
    op = counting_op(calls)
    try:
        x, w = t([1.0, 2.0], True), t([3.0, 4.0], True)
        y = (op.apply(x).exp() + w.exp()).sum()
        (gw,) = engine.grad(y, w)
        assert calls == []
        close((gw,), (np.exp([3.0, 4.0]),), 1e-12)
        (gx,) = engine.grad(y, x)
        assert calls == [1]
        close((gx,), (np.exp([1.0, 2.0]),), 1e-12)
        y = (op.apply(x).exp() + w.exp()).sum()
        y.backward(inputs=[w])
        assert calls == [1] and x.grad is None
        y.backward(inputs=[x])
        close((x.grad, w.grad), (np.exp([1.0, 2.0]), np.exp([3.0, 4.0])), 1e-12)
    finally:
        del engine.OPS[op.name]


def test_grad_and_backward_share_the_input_checks():
    x = t(A, True)
    y = (x * 2).sum()
    for call in (lambda: engine.grad(y, []), lambda: y.backward(inputs=[], retain_graph=True)):
        with pytest.raises(RuntimeError, match="inputs= cannot be empty"):
            call()
    for call in (lambda: engine.grad(y, [x, t(A)]),
                 lambda: y.backward(inputs=[x, t(A)], retain_graph=True)):
        with pytest.raises(RuntimeError, match=r"inputs\[1\] does not require grad"):
            call()


def test_value_seed_keeps_its_graph_under_create_graph():
    """engine.grad(y, x, grad_outputs=u, create_graph=True) is differentiable in u for Values
    as for Tensors (the seed was turned into a constant): d/du (u·dy/dx) = dy/dx."""
    x, u = Value(0.5), Value(0.0)
    (g,) = engine.grad(x.sin(), x, grad_outputs=u, create_graph=True)
    (dgdu,) = engine.grad(g, u)
    assert dgdu == pytest.approx(np.cos(0.5))


def make(lib, vals):
    import torch
    return torch.tensor(vals, dtype=torch.float64) if lib == "torch" else t(vals)


def leaves(r):
    return [r.detach().numpy() if not isinstance(r, engine.Tensor) else data(r)]


def test_second_grad_on_a_disjoint_branch_equals_torch():
    torch = pytest.importorskip("torch")
    res = []
    for lib in ("torch", "engine"):
        x = make(lib, [1.0, 2.0]).requires_grad_()
        w = make(lib, [3.0, 4.0]).requires_grad_()
        y = (x.exp() + w.sin()).sum()
        g = (torch.autograd.grad if lib == "torch" else engine.grad)
        res.append([leaves(g(y, x)[0])[0], leaves(g(y, w)[0])[0]])
        y = (x.exp() * 2 + w.sin()).sum()
        y.backward(inputs=[x])
        y.backward(inputs=[w])
        res[-1] += [leaves(x.grad)[0], leaves(w.grad)[0]]
    for o, th in zip(res[1], res[0], strict=True):
        np.testing.assert_allclose(o, th, rtol=1e-12)
