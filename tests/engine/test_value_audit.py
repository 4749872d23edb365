"""engine.Value against PyTorch's 0-d float64 tensors: every operator and its gradient at the
edges (0, negative bases, overflow, NaN), reflected forms, graphs that reuse a node, backward
twice, and the Python protocols a student uses on a number (float(), f-strings, abs()).
Expected values are written by hand from the formulas; torch, when installed, must agree."""
import math

import numpy as np
import pytest

import engine
from engine import Value

INF, NAN = math.inf, math.nan
L2 = math.log(2.0)

# name, f (works on Values and on torch tensors), inputs, by-hand (output, [d out / d input])
CASES = [
    ("add", lambda a, b: a + b, (2.0, -3.0), (-1.0, [1.0, 1.0])),
    ("sub", lambda a, b: a - b, (2.0, -3.0), (5.0, [1.0, -1.0])),
    ("mul", lambda a, b: a * b, (2.0, -3.0), (-6.0, [-3.0, 2.0])),
    ("div", lambda a, b: a / b, (3.0, -2.0), (-1.5, [-0.5, -0.75])),  # 1/b, -a/b²
    ("2 + v", lambda a: 2 + a, (4.0,), (6.0, [1.0])),
    ("2 - v", lambda a: 2 - a, (4.0,), (-2.0, [-1.0])),
    ("2 * v", lambda a: 2 * a, (4.0,), (8.0, [2.0])),
    ("2 / v", lambda a: 2 / a, (4.0,), (0.5, [-0.125])),  # -2/v²
    ("2 ** v", lambda a: 2 ** a, (3.0,), (8.0, [8.0 * L2])),  # 2ᵛ ln 2
    ("(-2) ** v", lambda a: (-2) ** a, (2.0,), (4.0, [NAN])),  # 4 · ln(-2)
    ("0 ** v", lambda a: 0 ** a, (2.0,), (0.0, [0.0])),  # PyTorch: d(0ᵇ)/db = 0 for b ≥ 0
    ("-v", lambda a: -a, (2.0,), (-2.0, [-1.0])),
    ("v ** 3", lambda a: a ** 3, (-2.0,), (-8.0, [12.0])),
    ("v ** 2.5", lambda a: a ** 2.5, (4.0,), (32.0, [20.0])),  # 2.5 · 4^1.5
    ("v ** -2", lambda a: a ** -2, (2.0,), (0.25, [-0.25])),  # -2 · 2⁻³
    ("v ** 0.5 at 0", lambda a: a ** 0.5, (0.0,), (0.0, [INF])),
    ("v ** 0 at 0", lambda a: a ** 0, (0.0,), (1.0, [0.0])),  # PyTorch: d(a⁰)/da = 0
    ("v ** 1 at 0", lambda a: a ** 1, (0.0,), (0.0, [1.0])),
    ("v ** -1 at 0", lambda a: a ** -1, (0.0,), (INF, [-INF])),
    ("v ** -1 at -0", lambda a: a ** -1, (-0.0,), (-INF, [-INF])),
    ("a ** b", lambda a, b: a ** b, (2.0, 3.0), (8.0, [12.0, 8.0 * L2])),
    ("a ** b, a < 0", lambda a, b: a ** b, (-2.0, 3.0), (-8.0, [12.0, NAN])),
    ("a ** b at 0, 0", lambda a, b: a ** b, (0.0, 0.0), (1.0, [0.0, 0.0])),
    ("exp", lambda a: a.exp(), (0.0,), (1.0, [1.0])),
    ("exp overflow", lambda a: a.exp(), (1000.0,), (INF, [INF])),
    ("exp underflow", lambda a: a.exp(), (-1000.0,), (0.0, [0.0])),
    ("log", lambda a: a.log(), (2.0,), (L2, [0.5])),
    ("log 0", lambda a: a.log(), (0.0,), (-INF, [INF])),
    ("log of a negative", lambda a: a.log(), (-1.0,), (NAN, [-1.0])),  # 1/u still
    ("tanh", lambda a: a.tanh(), (0.0,), (0.0, [1.0])),
    ("tanh saturated", lambda a: a.tanh(), (30.0,), (1.0, [0.0])),
    ("sigmoid", lambda a: a.sigmoid(), (0.0,), (0.5, [0.25])),
    ("sigmoid far left", lambda a: a.sigmoid(), (-800.0,), (0.0, [0.0])),
    ("sigmoid far right", lambda a: a.sigmoid(), (800.0,), (1.0, [0.0])),
    ("relu +", lambda a: a.relu(), (0.5,), (0.5, [1.0])),
    ("relu at 0", lambda a: a.relu(), (0.0,), (0.0, [0.0])),  # PyTorch's choice at the kink
    ("relu -", lambda a: a.relu(), (-0.5,), (0.0, [0.0])),
    ("sqrt 0", lambda a: a.sqrt(), (0.0,), (0.0, [INF])),
    ("sqrt of a negative", lambda a: a.sqrt(), (-4.0,), (NAN, [NAN])),
    ("a * a + a", lambda a: a * a + a, (3.0,), (12.0, [7.0])),  # a node used twice
    ("b = a + a; b + b", lambda a: (a + a) + (a + a), (3.0,), (12.0, [4.0])),
    ("a / a", lambda a: a / a, (3.0,), (1.0, [0.0])),
    ("a ** a", lambda a: a ** a, (2.0,), (4.0, [4.0 * (1 + L2)])),  # aᵃ(1 + ln a)
    ("inf - inf", lambda a: a - a, (INF,), (NAN, [0.0])),
    ("inf * 0", lambda a, b: a * b, (INF, 0.0), (NAN, [0.0, INF])),
    ("1e308 * 10", lambda a, b: a * b, (1e308, 10.0), (INF, [10.0, 1e308])),
]


def _same(got, want):
    return (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-12,
                                                                          abs=1e-15)


def _value_result(f, xs):
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


@pytest.mark.parametrize("name, f, xs, want", CASES, ids=[c[0] for c in CASES])
def test_value_ops_and_gradients_by_hand(name, f, xs, want):
    data, grads = _value_result(f, xs)
    assert _same(data, want[0]), (name, data, want[0])
    assert all(_same(g, w) for g, w in zip(grads, want[1], strict=True)), (name, grads, want)


@pytest.mark.parametrize("name, f, xs, want", CASES, ids=[c[0] for c in CASES])
def test_value_ops_and_gradients_match_torch(name, f, xs, want):
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*ts)
    out.backward()
    data, grads = _value_result(f, xs)
    assert _same(data, out.item())
    assert all(_same(g, t.grad.item()) for g, t in zip(grads, ts, strict=True)), \
        (name, grads, [t.grad.item() for t in ts])


def test_a_value_is_a_number_to_python_as_a_0d_tensor():
    # float(v), int(v), v.item() and f"{v:.2f}" were TypeErrors (and so was drawing a graph
    # whose gradients are Values, below); abs(v) had no __abs__.
    v = Value(-2.75)
    assert float(v) == -2.75 and type(float(v)) is float
    assert int(v) == -2 and v.item() == -2.75
    assert f"{v:.2f}" == "-2.75" and f"{v}" == repr(v)
    a = abs(v)
    a.backward()
    assert (a.data, a.op, v.grad) == (2.75, "abs", -1.0)  # d|u|/du = sign(u)
    torch = pytest.importorskip("torch")
    t = torch.tensor(-2.75, dtype=torch.float64, requires_grad=True)
    ta = abs(t)
    ta.backward()
    assert (float(t), int(t), t.item(), f"{t:.2f}") == (float(v), int(v), v.item(), f"{v:.2f}")
    assert (ta.item(), t.grad.item()) == (a.data, v.grad)


def test_graph_with_create_graph_gradients_can_be_drawn():
    # backward(create_graph=True) leaves Values in .grad; draw_graph formatted them with
    # float() and raised TypeError.
    viz = pytest.importorskip("viz")
    x = Value(0.5, label="x")
    y = x.tanh()
    y.backward(create_graph=True)
    want = 1 - math.tanh(0.5) ** 2
    assert x.grad.data == pytest.approx(want, rel=1e-15)
    src = viz.draw_graph(y).source
    assert f"{want:.4g}" in src
    assert viz.draw_graph(y, color_by="grad").source


@pytest.mark.parametrize("make", [lambda: Value(0.0).log(), lambda: Value(1000.0).exp() * 0.0,
                                  lambda: Value(NAN).relu(), lambda: Value(0.0) ** -1])
def test_drawing_and_stepping_infinities_and_nans(make):
    viz = pytest.importorskip("viz")
    root = make()
    steps = list(engine.backward_steps(root))
    assert all(str(s) for s in steps)
    assert viz.draw_graph(root, color_by="grad").source
    assert viz.draw_step(steps[-1]).source


@pytest.mark.parametrize("name, f", [("log", lambda x: x.log()), ("sqrt", lambda x: x.sqrt())])
def test_create_graph_at_zero_gives_the_infinities_plain_backward_gives(name, f):
    # log's backward is g / u: with create_graph it divided a Value by a zero Value and
    # raised "Value div: division of 1.0 by zero" (an op the user never wrote), where
    # backward() and PyTorch give inf. By hand at u = +0: (ln u)' = 1/u = inf,
    # (ln u)'' = -1/u² = -inf; (√u)' = 1/(2√u) = inf, (√u)'' = -1/(4u^1.5) = -inf.
    x = Value(0.0)
    (g,) = engine.grad(f(x), x, create_graph=True)
    (g2,) = engine.grad(g, x)
    assert (g.data, float(g2)) == (INF, -INF)
    plain = Value(0.0)
    f(plain).backward()
    assert plain.grad == g.data
    with pytest.raises(ZeroDivisionError, match="Value div"):  # the user's own division
        Value(1.0) / x
    torch = pytest.importorskip("torch")
    for x0 in (0.0, -0.0):
        x = Value(x0)
        (g,) = engine.grad(f(x), x, create_graph=True)
        (g2,) = engine.grad(g, x)
        t = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        (tg,) = torch.autograd.grad(f(t), t, create_graph=True)
        (tg2,) = torch.autograd.grad(tg, t)
        assert (g.data, float(g2)) == (tg.item(), tg2.item())


def test_relu_passes_no_gradient_where_off_even_an_infinite_one():
    # relu's backward multiplied, g·(x > 0): sqrt(relu(x)) at x < 0 has a finite loss but
    # sqrt's inf gradient at 0 became inf·0 = NaN in x.grad (PyTorch selects: 0). By hand:
    # d√relu(x)/dx = 0 where x < 0, 1/(2√x) = 0.25 at x = 4. One op serves Value and Tensor
    # (numpy below SERIAL_RELU_MIN elements, the serial kernel, then the parallel one).
    from engine.ops import xp
    v = Value(-1.0)
    v.relu().sqrt().backward()
    assert v.grad == 0.0
    for n in (2, xp.SERIAL_RELU_MIN, xp.FAST_RELU_MIN):
        for dtype in (np.float32, np.float64):
            x = np.full(n, 4.0, dtype)
            x[::2] = -1.0
            t = engine.tensor(x, requires_grad=True, dtype=dtype)
            loss = t.relu().sqrt().sum()
            loss.backward()
            assert loss.item() == 2.0 * (n // 2)
            np.testing.assert_array_equal(t.grad.data, np.where(x > 0, 0.25, 0.0))
            assert t.grad.dtype == dtype
    torch = pytest.importorskip("torch")
    tt = torch.tensor([-1.0, 4.0], requires_grad=True)
    tt.relu().sqrt().sum().backward()
    t = engine.tensor([-1.0, 4.0], requires_grad=True)
    t.relu().sqrt().sum().backward()
    np.testing.assert_array_equal(t.grad.data, tt.grad.numpy())


MASKED = [  # op, by hand: d out/d x is 1 where "on" (True below), 0 where "off"
    ("maximum(x, 0)", lambda x, m: m.maximum(x, m.zeros_like(x)), [False, False, True, True]),
    ("minimum(x, 0)", lambda x, m: m.minimum(x, m.zeros_like(x)), [True, True, False, False]),
    # (PyTorch's max() selects; its amax() multiplies, NaN: stepgrad's one op selects)
    ("max()", lambda x, m: x.max(), [False, False, False, True]),
    ("min()", lambda x, m: x.min(), [True, False, False, False]),
    ("hardtanh", lambda x, m: x.hardtanh() if m is engine else m.nn.functional.hardtanh(x),
     [False, True, True, False]),
    ("relu6 (hardtanh 0..6)", lambda x, m: x.hardtanh(0.0, 6.0) if m is engine
     else m.nn.functional.relu6(x), [False, False, True, True]),
]


@pytest.mark.parametrize("name, f, on", MASKED, ids=[c[0] for c in MASKED])
def test_an_infinite_upstream_gradient_stays_out_of_masked_inputs(name, f, on):
    # These backward formulas multiplied g by their 0/1 masks: an inf in g gave inf·0 = NaN
    # where the input is "off" (maximum's ½-tie term even made every element NaN), where
    # PyTorch selects (0 there). An inf arrives from sqrt or log at 0 downstream.
    x0 = np.array([-2.0, -0.5, 0.5, 2.0])
    x = engine.tensor(x0, requires_grad=True, dtype=np.float64)
    out = f(x, engine)
    out.backward(np.full(out.shape, INF))
    np.testing.assert_array_equal(x.grad.data, np.where(on, INF, 0.0))
    torch = pytest.importorskip("torch")
    t = torch.tensor(x0, requires_grad=True)
    tout = f(t, torch)
    tout.backward(torch.full(tout.shape, INF, dtype=torch.float64))
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_value_maximum_of_an_off_input_gets_no_infinite_gradient():
    x = Value(-1.0)
    engine.maximum(x, Value(0.0)).sqrt().backward()  # √max(x, 0): 0 where x < 0
    assert x.grad == 0.0
    a, b = Value(1.0), Value(1.0)
    engine.maximum(a, b).backward()
    assert (a.grad, b.grad) == (0.5, 0.5)  # a tie splits the gradient, as PyTorch


def test_backward_twice_accumulates_in_leaves_as_torch():
    # Leaves accumulate (PyTorch's rule); intermediates are recomputed, not accumulated
    # (micrograd #53; documented in engine/value.py -- PyTorch keeps no intermediate grad
    # unless retain_grad() is called).
    a = Value(2.0)
    b = a * a
    c = b + a
    c.backward()
    c.backward()
    assert (a.grad, b.grad, c.grad) == (10.0, 1.0, 1.0)  # 2 · (2a + 1)
    torch = pytest.importorskip("torch")
    ta = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tc = ta * ta + ta
    tc.backward(retain_graph=True)
    tc.backward()
    assert ta.grad.item() == a.grad
    c.zero_grad()
    assert (a.grad, b.grad, c.grad) == (0.0, 0.0, 0.0)


def test_loud_edges_name_the_op():
    # PyTorch gives inf/nan here; the scalar graph refuses, naming the op and the numbers.
    with pytest.raises(ZeroDivisionError, match=r"Value div: division of 2\.0 by zero"):
        Value(2.0) / 0.0
    with pytest.raises(ZeroDivisionError, match="Value div"):
        2 / Value(0.0)
    with pytest.raises(ValueError, match=r"Value pow: -8\.0 \*\* 0\.5 is not real"):
        Value(-8.0) ** 0.5
    with pytest.raises(OverflowError, match=r"Value pow: 10\.0 \*\* 400\.0 is too large"):
        Value(10.0) ** 400
    with pytest.raises(TypeError, match="compare: expected a number, got a str"):
        _ = Value(1.0) < "2"
    assert (Value(2.0) == "2") is False  # as torch: == with a string is False
    with pytest.raises(TypeError, match="expected a number, got a ndarray"):
        Value(1.0) * np.array([1.0, 2.0])
