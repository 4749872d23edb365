"""engine.vjp / jvp / jacobian / hessian / vhp / hvp as ``torch.autograd.functional``: values
(finite differences, hand derivations, PyTorch), return structures, strict and create_graph;
and the walks under them: ``engine.grad`` and ``backward(inputs=)`` run only the ops on a path
to the inputs (as PyTorch), once.

Every test failed before the change it covers (hvp/hessian took no tuples, strict or
create_graph; jacobian gave zeros under no_grad and ran one backward pass per row *and input*;
vjp/jvp/vhp did not exist; grad and backward(inputs=) ran and freed every op of the graph).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import engine
from engine import Value

F64 = np.float64


def t(a, requires_grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=requires_grad)


def data(x):
    return np.asarray(x.data) if isinstance(x, engine.Tensor) else np.asarray(x)


# -- smooth functions (no kinks) and finite differences from their values alone ---------------
def vector_fn(a, b):
    """(3,), (2, 3) -> ((2,), (3,)): two outputs, each depending on both inputs."""
    return (b @ a).sin() * a.sum(), (a.tanh() * b).sum(0) + (b * b).sum(0)


def scalar_fn(a, b):
    """(3,), (2, 3) -> (): a smooth scalar with every second derivative block nonzero."""
    return ((b @ a).sin() ** 2).sum() + (a.tanh() * b).sum() * a.sum() + (b ** 3).sum() * 0.1


def numpy_fn(fn):
    """fn on float64 arrays, giving a tuple of arrays (its outputs)."""
    def f(*arrays_):
        out = fn(*(t(x) for x in arrays_))
        return tuple(data(o) for o in (out if isinstance(out, tuple) else (out,)))
    return f


def directional(fn, xs, vs, h=1e-6):
    """(f(x + h·v) − f(x − h·v)) / 2h for each output: J·v by central differences."""
    f = numpy_fn(fn)
    up = f(*(x + h * v for x, v in zip(xs, vs, strict=True)))
    down = f(*(x - h * v for x, v in zip(xs, vs, strict=True)))
    return tuple((u - d) / (2 * h) for u, d in zip(up, down, strict=True))


def numeric_vjp(fn, xs, vs, h=1e-6):
    """vᵀJ for each input: the directional derivative along every unit vector e_k, dotted
    with v."""
    res = []
    for j, x in enumerate(xs):
        g = np.zeros(x.shape)
        for k in np.ndindex(x.shape):
            e = [np.zeros(y.shape) for y in xs]
            e[j][k] = 1.0
            g[k] = sum((d * v).sum() for d, v in zip(directional(fn, xs, e, h), vs, strict=True))
        res.append(g)
    return tuple(res)


def numeric_hvp(fn, xs, vs, h=1e-4):
    """H·v of a scalar fn by second differences of its values only:
    (H·v)_k ≈ [f(x+h·e_k+h·v) − f(x+h·e_k−h·v) − f(x−h·e_k+h·v) + f(x−h·e_k−h·v)] / 4h²."""
    f = numpy_fn(fn)
    res = []
    for j, x in enumerate(xs):
        g = np.zeros(x.shape)
        for k in np.ndindex(x.shape):
            total = 0.0
            for se, sv in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                moved = [y + sv * h * v for y, v in zip(xs, vs, strict=True)]
                moved[j] = moved[j].copy()
                moved[j][k] += se * h
                total += se * sv * float(f(*moved)[0])
            g[k] = total / (4 * h * h)
        res.append(g)
    return tuple(res)


def close(ours, expected, tol=1e-6):
    assert len(ours) == len(expected)
    for o, e in zip(ours, expected, strict=True):
        assert data(o).shape == np.shape(e)
        np.testing.assert_allclose(data(o), e, rtol=tol, atol=tol)


def floats(shape, bound=1.5):
    return arrays(F64, shape, elements=st.floats(-bound, bound, allow_nan=False,
                                                  allow_infinity=False, width=64))


@given(floats(3), floats((2, 3)), floats(2), floats(3))
def test_vjp_equals_finite_differences(a, b, va, vb):
    out, (ga, gb) = engine.vjp(vector_fn, (t(a), t(b)), (t(va), t(vb)))
    close(out, numpy_fn(vector_fn)(a, b), 1e-12)
    close((ga, gb), numeric_vjp(vector_fn, (a, b), (va, vb)))
    # one input, one output: bare Tensors in and out
    out, g = engine.vjp(lambda x: vector_fn(x, t(b))[1], t(a), t(vb))
    assert isinstance(g, engine.Tensor) and g.shape == (3,)
    close((g,), numeric_vjp(lambda x: vector_fn(x, t(b))[1], (a,), (vb,)))


@given(floats(3), floats((2, 3)), floats(3), floats((2, 3)))
def test_jvp_equals_finite_differences(a, b, va, vb):
    out, (ja, jb) = engine.jvp(vector_fn, (t(a), t(b)), (t(va), t(vb)))
    close((ja, jb), directional(vector_fn, (a, b), (va, vb)))
    out, j = engine.jvp(lambda x: vector_fn(x, t(b))[0], t(a), t(va))
    assert isinstance(j, engine.Tensor) and j.shape == (2,)
    close((j,), directional(lambda x: vector_fn(x, t(b))[0], (a,), (va,)))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
@given(a=floats(3), b=floats((2, 3)), va=floats(3), vb=floats((2, 3)))
def test_hvp_and_vhp_equal_second_differences(name, a, b, va, vb):
    product = getattr(engine, name)
    out, (ha, hb) = product(scalar_fn, (t(a), t(b)), (t(va), t(vb)))
    assert out.shape == () and float(out) == pytest.approx(float(numpy_fn(scalar_fn)(a, b)[0]))
    close((ha, hb), numeric_hvp(scalar_fn, (a, b), (va, vb)), 1e-5)
    out, h = product(lambda x: scalar_fn(x, t(b)), t(a), t(va))
    close((h,), numeric_hvp(lambda x: scalar_fn(x, t(b)), (a,), (va,)), 1e-5)


@given(floats(3), floats((2, 3)))
def test_hessian_of_two_inputs_equals_second_differences(a, b):
    """H[i][j] has shape inputs[i].shape + inputs[j].shape; column k of H[i][j] is H·e_k."""
    hess = engine.hessian(scalar_fn, (t(a), t(b)))
    xs = (a, b)
    for j, x in enumerate(xs):
        for k in np.ndindex(x.shape):
            e = [np.zeros(y.shape) for y in xs]
            e[j][k] = 1.0
            for i, col in enumerate(numeric_hvp(scalar_fn, xs, e)):
                h = data(hess[i][j])
                assert h.shape == xs[i].shape + x.shape
                np.testing.assert_allclose(h[(...,) + k], col, rtol=1e-5, atol=1e-5)


# -- hand derivations (no PyTorch needed) -------------------------------------------------------
A, B, VA, VB = [1.0, -2.0, 0.5], [0.3, 0.7, -1.1], [0.5, 1.0, -1.5], [2.0, -1.0, 0.25]


def prod_fn(a, b):
    """Σ a²·b: ∇ = (2ab, a²); H = [[diag 2b, diag 2a], [diag 2a, 0]]."""
    return (a * a * b).sum()


def hand_hv(a, b, va, vb):
    a, b, va, vb = map(np.array, (a, b, va, vb))
    return 2 * b * va + 2 * a * vb, 2 * a * va


@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_returns_the_pair_and_takes_a_tuple_of_inputs(name):
    """``_, (ha, hb) = engine.hvp(f, (a, b), (va, vb))`` as PyTorch; hvp refused tuples."""
    out, (ha, hb) = getattr(engine, name)(prod_fn, (t(A), t(B)), (t(VA), t(VB)))
    assert float(out) == pytest.approx(float(np.sum(np.square(A) * B)))
    close((ha, hb), hand_hv(A, B, VA, VB), 1e-12)
    # a one-tuple of inputs gives a one-tuple of products (a bare v is taken for it)
    out, hv = getattr(engine, name)(lambda a: prod_fn(a, t(B)), (t(A),), t(VA))
    assert isinstance(hv, tuple) and len(hv) == 1
    close(hv, (2 * np.array(B) * VA,), 1e-12)


def test_hvp_of_a_single_element_input_takes_v_none():
    out, hv = engine.hvp(lambda x: x ** 4, t(0.5))
    assert float(hv) == pytest.approx(12 * 0.25)  # 12x²·1
    with pytest.raises(RuntimeError, match="v can only be None"):
        engine.hvp(lambda x: (x ** 4).sum(), t(A))
    with pytest.raises(RuntimeError, match=r"invalid size: should be \(3,\).*got \(2,\)"):
        engine.hvp(lambda x: (x ** 4).sum(), t(A), t([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="single element"):
        engine.hvp(lambda x: x ** 4, t(A), t(VA))


def test_hessian_of_two_inputs_by_hand():
    (haa, hab), (hba, hbb) = engine.hessian(prod_fn, (t(A), t(B)))
    close((haa, hab, hba, hbb), (np.diag(2 * np.array(B)), np.diag(2 * np.array(A)),
                                 np.diag(2 * np.array(A)), np.zeros((3, 3))), 1e-12)
    assert engine.hessian(lambda a: (a ** 3).sum().reshape(1, 1), t(A)).shape == (3, 3)


def test_vjp_jvp_by_hand():
    a, va = np.array(A), np.array(VA)
    out, g = engine.vjp(lambda x: x.exp() * x, t(A), t(VA))   # d(x·eˣ) = (1 + x)eˣ
    close((out, g), (a * np.exp(a), va * (1 + a) * np.exp(a)), 1e-12)
    out, j = engine.jvp(lambda x: x.exp() * x, t(A), t(VA))
    close((j,), (va * (1 + a) * np.exp(a),), 1e-12)
    out, j = engine.jvp(lambda x: x, t(A), t(VA))  # the identity: J·v = v
    close((j,), (va,), 0)
    out, g = engine.vjp(lambda x: (x ** 3).sum(), t(A))  # one element: v = 1
    close((g,), (3 * a * a,), 1e-12)


def test_unused_inputs_give_zeros_and_strict_raises():
    out, (ga, gb) = engine.vjp(lambda a, b: a * 2, (t(A), t(B)), t(VA))
    close((ga, gb), (2 * np.array(VA), np.zeros(3)), 0)
    out, j = engine.jvp(lambda a, b: a * 2, (t(A), t(B)), (t(VA), t(VB)))  # b moves nothing
    close((j,), (2 * np.array(VA),), 0)
    for name, v in (("vjp", t(VA)), ("jvp", (t(VA), t(VB)))):
        with pytest.raises(RuntimeError, match=f"{name}: .*independent of input 1.*strict"):
            getattr(engine, name)(lambda a, b: a * 2, (t(A), t(B)), v, strict=True)
    for name in ("hvp", "vhp"):
        fn = getattr(engine, name)
        out, (ha, hb) = fn(lambda a, b: (a ** 3).sum(), (t(A), t(B)), (t(VA), t(VB)))
        close((ha, hb), (6 * np.array(A) * VA, np.zeros(3)), 1e-12)
        with pytest.raises(RuntimeError, match=f"{name}: .*independent of input 1.*strict"):
            fn(lambda a, b: (a ** 3).sum(), (t(A), t(B)), (t(VA), t(VB)), strict=True)
        # linear: the Hessian is 0 (strict: the jacobian does not depend on the input)
        close(fn(lambda a: (a * 3).sum(), t(A), t(VA))[1:], (np.zeros(3),), 0)
        with pytest.raises(RuntimeError, match="jacobian .* independent of the input"):
            fn(lambda a: (a * 3).sum(), t(A), t(VA), strict=True)
    ja, jb = engine.jacobian(lambda a, b: a * 2, (t(A), t(B)))
    close((ja, jb), (2 * np.eye(3), np.zeros((3, 3))), 0)
    with pytest.raises(RuntimeError, match="output 0 .* independent of input 1.*strict"):
        engine.jacobian(lambda a, b: a * 2, (t(A), t(B)), strict=True)
    with pytest.raises(RuntimeError, match="does not require gradients"):
        engine.jacobian(lambda a: t(B), t(A), strict=True)
    close((engine.hessian(lambda a: (a * 3).sum(), t(A)),), (np.zeros((3, 3)),), 0)
    with pytest.raises(RuntimeError, match="independent of the input.*strict"):
        engine.hessian(lambda a: (a * 3).sum(), t(A), strict=True)


def test_create_graph_results_differentiate_back_to_the_inputs():
    """With create_graph the results keep their graph back to x (PyTorch): for f = Σx³,
    hvp = 6x·v so d Σ(hvp)/dx = 6v; jacobian = diag(3x²) so d Σ J / dx = 6x."""
    a, va = np.array(A), np.array(VA)
    for name in ("hvp", "vhp"):
        x = t(A, requires_grad=True)
        out, hv = getattr(engine, name)(lambda z: (z ** 3).sum(), x, t(VA), create_graph=True)
        assert out.requires_grad and hv.requires_grad
        hv.sum().backward()
        close((x.grad,), (6 * va,), 1e-12)
    for fn, expected in ((lambda x: engine.jacobian(lambda z: z ** 3, x, create_graph=True),
                          6 * a),
                         (lambda x: engine.hessian(lambda z: (z ** 4).sum(), x,
                                                   create_graph=True), 24 * a),
                         (lambda x: engine.vjp(lambda z: z ** 3, x, t(VA),
                                               create_graph=True)[1], 6 * a * va),
                         (lambda x: engine.jvp(lambda z: z ** 3, x, t(VA),
                                               create_graph=True)[1], 6 * a * va)):
        x = t(A, requires_grad=True)
        res = fn(x)
        assert res.requires_grad
        res.sum().backward()
        close((x.grad,), (expected,), 1e-12)
    # without create_graph: detached results, and x.grad untouched
    x = t(A, requires_grad=True)
    out, hv = engine.hvp(lambda z: (z ** 3).sum(), x, t(VA))
    assert not out.requires_grad and not hv.requires_grad and x.grad is None


def test_jacobian_under_no_grad_is_the_jacobian():
    """Under no_grad fn's output recorded nothing and jacobian returned zeros, silently;
    PyTorch's functions enable grad inside."""
    with engine.no_grad():
        j = engine.jacobian(lambda x: x ** 3, t(A))
        h = engine.hessian(lambda x: (x ** 3).sum(), t(A))
        _, hv = engine.hvp(lambda x: (x ** 3).sum(), t(A), t(VA))
    a = np.array(A)
    close((j, h, hv), (np.diag(3 * a * a), np.diag(6 * a), 6 * a * np.array(VA)), 1e-12)
    assert engine.is_grad_enabled()


def test_refusals_say_what_to_do():
    with pytest.raises(NotImplementedError, match="forward-mode.*reverse-mode"):
        engine.jacobian(lambda x: x, t(A), strategy="forward-mode")
    with pytest.raises(ValueError, match="strategy"):
        engine.jacobian(lambda x: x, t(A), strategy="backward")
    with pytest.raises(RuntimeError, match="strict=True and vectorize=True"):
        engine.jacobian(lambda x: x, t(A), strict=True, vectorize=True)
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple"):
        engine.vjp(lambda x: 3.0, t(A))
    with pytest.raises(TypeError, match="float Tensors"):
        engine.jacobian(lambda x: x, engine.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="tuple of invalid length: should be 2"):
        engine.hvp(prod_fn, (t(A), t(B)), (t(VA),))


def test_value_graphs_give_floats():
    x, y = Value(0.3), Value(2.0)
    (j,) = engine.jacobian(lambda a, b: a * b.exp(), (x, y))[:1]
    assert j == pytest.approx(np.exp(2.0))
    out, (jx, jy) = engine.vjp(lambda a, b: a * b.exp(), (x, y), 1.0)
    assert (jx, jy) == pytest.approx((np.exp(2.0), 0.3 * np.exp(2.0)))
    out, j = engine.jvp(lambda a, b: a * b.exp(), (x, y), (1.0, 0.5))
    assert j == pytest.approx(np.exp(2.0) * (1 + 0.5 * 0.3))
    out, hv = engine.hvp(lambda a: a ** 3, x, 2.0)
    assert (out, hv) == pytest.approx((0.027, 6 * 0.3 * 2.0))
    assert engine.hessian(lambda a, b: a * a * b, (x, y))[0][1] == pytest.approx(2 * 0.3)


# -- the folds: one backward pass per Jacobian row; only the ops leading to the inputs ---------
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


def test_jacobian_of_three_inputs_runs_one_backward_pass_per_row():
    calls = []
    op = counting_op(calls)
    try:
        a, b, c = t([1.0, 2.0, 3.0, 4.0]), t([0.5, 0.5, 0.5, 0.5]), t([1.0, -1.0, 2.0, 0.0])
        ja, jb, jc = engine.jacobian(lambda x, y, z: op.apply(x * y + z), (a, b, c))
        assert len(calls) == 4  # one per output element (it was 12: one per row and input)
        close((ja, jb, jc), (np.diag(b.data), np.diag(a.data), np.eye(4)), 0)
    finally:
        del engine.OPS[op.name]


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


# -- against PyTorch --------------------------------------------------------------------------
X0, Y0, V0 = [1.0, -2.0, 0.5], [0.3, 0.7], [0.5, 1.0, -1.5]


def make(lib, vals):
    import torch
    return torch.tensor(vals, dtype=torch.float64) if lib == "torch" else t(vals)


def structure(r):
    """Nested tuples of (shape, requires_grad, dtype name) -- or the error's type."""
    if isinstance(r, tuple):
        return tuple(structure(x) for x in r)
    return (tuple(r.shape), bool(r.requires_grad), str(r.dtype).replace("torch.", ""))


def leaves(r):
    if isinstance(r, tuple):
        return [y for x in r for y in leaves(x)]
    return [r.detach().numpy() if hasattr(r, "numpy") and not isinstance(r, engine.Tensor)
            else data(r)]


def cube(a):
    return (a ** 3).sum() + a[0] * a[1]


CASES = {  # name: (function name, func, inputs, v) -- lib-independent pieces
    "vjp": ("vjp", lambda a: a.tanh() * a, lambda m: m(X0), lambda m: m(V0)),
    "vjp tuples": ("vjp", lambda a, b: (a * b.sum(), b.exp()), lambda m: (m(X0), m(Y0)),
                   lambda m: (m(V0), m(Y0))),
    "vjp unused": ("vjp", lambda a, b: a * 2, lambda m: (m(X0), m(Y0)), lambda m: m(V0)),
    "vjp constant": ("vjp", lambda a: a.detach() * 0 + 1, lambda m: m(X0), lambda m: m(V0)),
    "vjp v=None": ("vjp", lambda a: (a ** 3).sum(), lambda m: m(X0), lambda m: None),
    "jvp": ("jvp", lambda a: a.tanh() * a, lambda m: m(X0), lambda m: m(V0)),
    "jvp tuples": ("jvp", lambda a, b: (a * b.sum(), b.exp()), lambda m: (m(X0), m(Y0)),
                   lambda m: (m(V0), m(Y0))),
    "jvp unused": ("jvp", lambda a, b: a * 2, lambda m: (m(X0), m(Y0)),
                   lambda m: (m(V0), m(Y0))),
    "jvp linear": ("jvp", lambda a: a * 2, lambda m: m(X0), lambda m: m(V0)),
    "jvp identity": ("jvp", lambda a: a, lambda m: m(X0), lambda m: m(V0)),
    "vhp": ("vhp", cube, lambda m: m(X0), lambda m: m(V0)),
    "hvp": ("hvp", cube, lambda m: m(X0), lambda m: m(V0)),
    "hvp tuples": ("hvp", lambda a, b: (a ** 2).sum() * (b ** 3).sum(),
                   lambda m: (m(X0), m(Y0)), lambda m: (m(V0), m(Y0))),
    "vhp tuples": ("vhp", lambda a, b: (a ** 2).sum() * (b ** 3).sum(),
                   lambda m: (m(X0), m(Y0)), lambda m: (m(V0), m(Y0))),
    "hvp one-tuple": ("hvp", cube, lambda m: (m(X0),), lambda m: (m(V0),)),
    "hvp unused": ("hvp", lambda a, b: (a ** 3).sum(), lambda m: (m(X0), m(Y0)),
                   lambda m: (m(V0), m(Y0))),
    "hvp linear": ("hvp", lambda a: (a * 3).sum(), lambda m: m(X0), lambda m: m(V0)),
    "hvp quadratic": ("hvp", lambda a: (a * a).sum(), lambda m: m(X0), lambda m: m(V0)),
    "hvp v=None": ("hvp", lambda a: a ** 4, lambda m: m(0.4), lambda m: None),
    "hvp out (1,)": ("hvp", lambda a: (a ** 3).sum().reshape(1), lambda m: m(X0),
                     lambda m: m(V0)),
    "jacobian": ("jacobian", lambda a: a.exp() * a, lambda m: m(X0), None),
    "jacobian tuples": ("jacobian", lambda a, b: (a * b.sum(), b.exp()),
                        lambda m: (m(X0), m(Y0)), None),
    "jacobian unused": ("jacobian", lambda a, b: a * 2, lambda m: (m(X0), m(Y0)), None),
    "jacobian 0-d in": ("jacobian", lambda a: a * a * 2, lambda m: m(0.4), None),
    "jacobian scalar out": ("jacobian", cube, lambda m: m(X0), None),
    "hessian": ("hessian", cube, lambda m: m(X0), None),
    "hessian tuples": ("hessian", lambda a, b: (a ** 2).sum() * (b ** 3).sum(),
                       lambda m: (m(X0), m(Y0)), None),
    "hessian unused": ("hessian", lambda a, b: (a ** 3).sum(), lambda m: (m(X0), m(Y0)),
                       None),
    "hessian linear": ("hessian", lambda a: (a * 3).sum(), lambda m: m(X0), None),
    "hessian (1, 1) out": ("hessian", lambda a: (a ** 3).sum().reshape(1, 1),
                           lambda m: m(X0), None),
}


def run_case(lib, case, create_graph, strict):
    import torch
    import torch.autograd.functional as AF
    fname, func, inputs, v = CASES[case]
    F = AF if lib == "torch" else engine
    args = (func, inputs(lambda vals: make(lib, vals)))
    if v is not None:
        args += (v(lambda vals: make(lib, vals)),)
    try:
        with (torch.no_grad() if lib == "torch" else engine.no_grad()):  # (enabled inside)
            return getattr(F, fname)(*args, create_graph=create_graph, strict=strict)
    except RuntimeError as e:
        return e


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_structures_values_and_errors_equal_torch(case, create_graph, strict):
    pytest.importorskip("torch")
    theirs = run_case("torch", case, create_graph, strict)
    ours = run_case("engine", case, create_graph, strict)
    if isinstance(theirs, Exception):
        assert type(ours) is RuntimeError, f"torch raised {theirs!r}, we gave {ours!r}"
        assert "strict mode" in str(ours)
        return
    assert not isinstance(ours, Exception), f"we raised {ours!r}; torch gave a result"
    assert structure(ours) == structure(theirs)
    for o, th in zip(leaves(ours), leaves(theirs), strict=True):
        np.testing.assert_allclose(o, th, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["jacobian", "hessian", "vjp", "jvp", "vhp", "hvp"])
def test_create_graph_gradients_equal_torch(name):
    """Σ(result) backpropagated to the user's x: the same x.grad as PyTorch."""
    torch = pytest.importorskip("torch")
    import torch.autograd.functional as AF
    grads = []
    for lib, F in (("torch", AF), ("engine", engine)):
        x = make(lib, X0).requires_grad_()
        v = make(lib, V0)
        if name in ("jacobian", "hessian"):
            res = getattr(F, name)(cube if name == "hessian" else (lambda a: a.sin() * a),
                                   x, create_graph=True)
        elif name in ("vjp", "jvp"):
            res = getattr(F, name)(lambda a: a.sin() * a, x, v, create_graph=True)[1]
        else:
            res = getattr(F, name)(lambda a: (a.sin() * a * a).sum(), x, v,
                                   create_graph=True)[1]
        (res * res).sum().backward()
        grads.append(x.grad.numpy() if lib == "torch" else data(x.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)
    assert torch.is_grad_enabled()


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


def test_jvp_through_a_fused_kernel_says_why_it_is_refused():
    # jvp's double-backward trick (and hvp, vhp, hessian) needs create_graph through every
    # op: a fused kernel's refusal names those functions, not only the flag the caller
    # never passed.
    x = engine.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"max_pool2d is not twice differentiable.*"
                                           r"engine\.hessian, hvp, vhp, jvp"):
        engine.jvp(lambda t: engine.max_pool2d(t, 2), x, engine.ones(1, 1, 4, 4))


def test_grad_stops_at_a_non_leaf_input_and_keeps_its_saved_arrays():
    # As PyTorch: grad(y, h) for a computed h is h's gradient; h's own backward (toward x)
    # is not run, so the graph below h is not freed and grad(h.sum(), x) still works.
    x = t([0.5, -1.0, 2.0], requires_grad=True)
    h = x * x.exp()
    (dh,) = engine.grad((h * h).sum(), h)
    np.testing.assert_allclose(data(dh), 2 * data(h))
    (dx,) = engine.grad(h.sum(), x)
    np.testing.assert_allclose(data(dx), (1 + data(x)) * np.exp(data(x)))
