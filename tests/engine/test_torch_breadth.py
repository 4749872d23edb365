"""PyTorch idioms students copy, beyond the core API: numpy arrays meeting Tensors (operators
with an ndarray on the left, numpy ufuncs on Tensors, the manual-SGD ``w.data -= lr * w.grad``),
in-place methods (``exp_``, ``masked_fill_``, ``scatter_``, …), layout queries (``stride``,
``is_contiguous``), ``backward(inputs=)`` and ``poisson_nll_loss(full=True)``. Each matches
PyTorch (compared when torch is importable) or raises an error saying what to write."""
import operator

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine

F64 = np.float64


def _torch():
    return pytest.importorskip("torch")


# ---------------------------------------------------------------------------------------------
# numpy arrays and scalars on the left of an operator: the Tensor's reflected operator runs
# (a Tensor with a gradient), exactly as before Tensor defined __array_ufunc__.
# ---------------------------------------------------------------------------------------------

# operator, the method of the right operand Python reflects it to
ARITH = [(operator.add, "__radd__"), (operator.sub, "__rsub__"), (operator.mul, "__rmul__"),
         (operator.truediv, "__rtruediv__"), (operator.pow, "__rpow__"),
         (operator.mod, "__rmod__"), (operator.floordiv, "__rfloordiv__")]
COMPARE = [(operator.lt, "__gt__"), (operator.le, "__ge__"), (operator.gt, "__lt__"),
           (operator.ge, "__le__"), (operator.eq, "__eq__"), (operator.ne, "__ne__")]
LEFTS = [np.array([1.5, -2.0]), np.array([1.5, -2.0], np.float32), np.array(2.0),
         np.float64(2.0), np.float32(0.5), np.int64(2), np.array([1, 3]), np.bool_(True)]


def _outcome(fn, data=(3.0, 4.0)):
    """What ``fn(t)`` gives, comparably: its type, dtype, graph flag, values and the gradient
    of its sum w.r.t. ``t`` (a tensor of ``data``), or the exception type."""
    t = engine.tensor(data, requires_grad=True)
    try:
        out = fn(t)
    except Exception as e:  # noqa: BLE001 (the type is the outcome)
        return ("raises", type(e))
    grad = None
    if isinstance(out, engine.Tensor) and out.requires_grad:
        out.sum().backward()
        grad = repr(t.grad.data.tolist())  # (repr: NaN equals NaN)
    values = out.detach() if isinstance(out, engine.Tensor) else out
    return (type(out), getattr(out, "dtype", None), getattr(out, "requires_grad", None),
            repr(np.asarray(values).tolist()), grad)


@pytest.mark.parametrize("op, reflected", ARITH + COMPARE)
@pytest.mark.parametrize("left", LEFTS, ids=repr)
@pytest.mark.parametrize("data", [(3.0, 4.0), (3.0,), 3.0], ids=["(2,)", "(1,)", "()"])
def test_numpy_on_the_left_runs_the_tensors_reflected_operator(left, op, reflected, data):
    got = _outcome(lambda t: op(left, t), data)
    want = _outcome(lambda t: getattr(t, reflected)(left), data)
    assert got == want
    if got[0] is engine.Tensor and reflected in dict(ARITH).values():
        assert got[2] is True  # a gradient flows to the tensor


def test_numpy_matmul_and_logic_on_the_left():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = engine.tensor([[0.5], [-1.0]], requires_grad=True)
    out = a @ w
    assert type(out) is engine.Tensor and out.op == "matmul" and out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_allclose(w.grad.data, a.sum(0, keepdims=True).T)
    i, ti = np.array([6, 5]), engine.tensor([3, 1])
    for op in (operator.and_, operator.or_, operator.xor):
        out = op(i, ti)
        assert type(out) is engine.Tensor and out.tolist() == op(i, ti.data).tolist()
    m = np.array([True, False]) & engine.tensor([True, True])
    assert type(m) is engine.Tensor and m.tolist() == [True, False]
    for op in (operator.lshift, operator.rshift, divmod):  # no Tensor op: refused as before
        with pytest.raises(TypeError):
            op(i, ti)


@pytest.mark.parametrize("fn", [np.exp, np.isfinite, np.isnan, np.sqrt, np.negative, np.abs,
                                np.sin, np.square, np.sign, np.floor],
                         ids=lambda f: f.__name__)
def test_numpy_ufuncs_on_a_tensor_give_numpy_arrays(fn):
    t = engine.tensor([0.25, 4.0])  # (one that requires grad is refused: below)
    out = fn(t)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, fn(t.data))
    w = engine.tensor([0.25, 4.0], requires_grad=True)
    with engine.no_grad():
        np.testing.assert_array_equal(fn(w), fn(w.data))
    with pytest.raises(RuntimeError, match=rf"np\.{fn.__name__}: Can't call numpy\(\)"):
        fn(w)


# ---------------------------------------------------------------------------------------------
# numpy on a tensor that requires grad: refused, as PyTorch refuses it (the array would have no
# graph: loss = (np.exp(w) * x).sum() would leave w.grad None and the optimizer would skip w).
# ---------------------------------------------------------------------------------------------

# numpy calls on t (and u, of the same kind); a is an ndarray
NUMPY_CALLS = {
    "np.exp": lambda t, u, a: np.exp(t),
    "np.tanh": lambda t, u, a: np.tanh(t),
    "np.add(t, t)": lambda t, u, a: np.add(t, t),
    "np.isfinite": lambda t, u, a: np.isfinite(t),
    "np.exp(out=)": lambda t, u, a: np.exp(t, out=a),
    "np.add.reduce": lambda t, u, a: np.add.reduce(t),
    "np.asarray": lambda t, u, a: np.asarray(t),
    "np.asarray(dtype=)": lambda t, u, a: np.asarray(t, dtype=np.float64),
    "np.array": lambda t, u, a: np.array(t),
    "np.concatenate": lambda t, u, a: np.concatenate([t, u]),
    "np.stack": lambda t, u, a: np.stack([t, u]),
    "np.where": lambda t, u, a: np.where(a > 0, t, 0),
    "np.allclose": lambda t, u, a: np.allclose(t, a),
    "np.linalg.norm": lambda t, u, a: np.linalg.norm(t),
    "array -= t": lambda t, u, a: np.subtract(a, t, out=a),
    "array[:] = t": lambda t, u, a: a.__setitem__(slice(None), t),
    "np.float32(0-d)": lambda t, u, a: np.float32(t.sum()),
    "t.numpy()": lambda t, u, a: t.numpy(),
}
UFUNC_CALLS = {"np.exp": "np.exp", "np.tanh": "np.tanh", "np.add(t, t)": "np.add",
               "np.isfinite": "np.isfinite", "np.exp(out=)": "np.exp",
               "np.add.reduce": "np.add.reduce", "array -= t": "np.subtract"}
# leaf or computed (non-leaf), requiring grad or not, with gradients recorded or under no_grad
KINDS = ["leaf", "non-leaf", "leaf, no_grad", "non-leaf, no_grad", "no requires_grad"]


def _numpy_call(lib, call, kind):
    """("refused", message) or ("ran", the numbers) for NUMPY_CALLS[call] in ``lib``."""
    w = lib.tensor([0.5, 2.0], requires_grad=True)
    v = lib.tensor([1.5, 3.0], requires_grad=True)
    t, u = ((w * 1, v * 1) if kind.startswith("non-leaf") else (w, v) if kind != "no "
            "requires_grad" else (lib.tensor([0.5, 2.0]), lib.tensor([1.5, 3.0])))
    a = np.ones(2, np.float32)
    try:
        if "no_grad" in kind:
            with lib.no_grad():
                out = NUMPY_CALLS[call](t, u, a)
        else:
            out = NUMPY_CALLS[call](t, u, a)
    except RuntimeError as e:
        return "refused", str(e)
    out = a if out is None else out  # (the writes into a)
    return "ran", np.asarray(out.detach().numpy() if hasattr(out, "detach") else out)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("call", NUMPY_CALLS)
def test_numpy_on_a_tensor_that_requires_grad_is_refused_while_recording(call, kind):
    # Hand-written expectation (PyTorch 2.13's, as run): refused exactly when the tensor
    # requires grad and gradients are recorded; otherwise numpy's numbers of the data.
    outcome, got = _numpy_call(engine, call, kind)
    if kind in ("leaf", "non-leaf"):
        assert outcome == "refused"
        assert "Can't call numpy() on Tensor that requires grad" in got
        assert "tensor.detach().numpy()" in got
        if call in UFUNC_CALLS:  # a ufunc: named in the message
            assert got.startswith(UFUNC_CALLS[call] + ": "), got
    else:
        assert outcome == "ran"
        _, want = _numpy_call(engine, call, "leaf, no_grad")  # same numbers either way
        np.testing.assert_array_equal(got, want)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # torch's
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("call", NUMPY_CALLS)
def test_numpy_refusals_match_torch(call, kind):
    torch = _torch()
    ours, got = _numpy_call(engine, call, kind)
    theirs, want = _numpy_call(torch, call, kind)
    assert ours == theirs, (got, want)
    if ours == "ran":
        np.testing.assert_allclose(got, want, rtol=1e-6)
    else:
        assert "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() " \
               "instead" in want and "Can't call numpy() on Tensor that requires grad. Use " \
               "tensor.detach().numpy() instead" in got


def test_the_student_bug_raises_instead_of_skipping_w():
    # (np.exp(w) * x).sum() lost w's graph: w.grad stayed None, SGD skipped w, no error
    w = engine.tensor([0.1, -0.2], requires_grad=True)
    x = engine.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"np\.exp: .*detach\(\)\.numpy\(\).*t\.exp\(\)"):
        (np.exp(w) * x).sum()
    (w.exp() * x).sum().backward()  # what the message points to: the gradient arrives
    np.testing.assert_allclose(w.grad.data, np.exp([0.1, -0.2]) * [1.0, 2.0], rtol=1e-6)
    with pytest.raises(RuntimeError, match="Can't call numpy"):  # plt.plot(w) and friends
        np.concatenate([w, x])


def test_what_keeps_working_on_a_tensor_that_requires_grad():
    # PyTorch returns these (numbers, on purpose); an array on the left keeps the graph
    w = engine.tensor([1.5, -2.0], requires_grad=True)
    assert float(w[0]) == 1.5 and int(w[1]) == -2 and w[0].item() == 1.5
    assert w.tolist() == [1.5, -2.0] and f"{w.sum():.2f}" == "-0.50"
    assert np.shape(w) == (2,) and np.ndim(w) == 1
    y = np.array([2.0, 3.0]) * w + np.float32(1)
    assert type(y) is engine.Tensor and y.requires_grad
    y.sum().backward()
    assert w.grad.tolist() == [2.0, 3.0]
    np.testing.assert_array_equal(np.asarray(w.detach()), [1.5, -2.0])
    np.testing.assert_array_equal(w.detach().numpy(), [1.5, -2.0])


def test_np_array_copies_and_asarray_shares_as_for_arrays():
    # np.array(t) used to return t's own memory: a "snapshot" that later updates changed
    t = engine.tensor([1.0, 2.0])
    snap, view = np.array(t), np.asarray(t)
    t.data[0] = 5.0
    assert snap.tolist() == [1.0, 2.0] and view.tolist() == [5.0, 2.0]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="copy"):  # numpy's rule: no copy allowed, one needed
        np.array(t, dtype=np.float64, copy=False)
    assert np.shares_memory(np.array(t, copy=False), t.data)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # torch's
def test_np_array_copies_as_torch():
    torch = _torch()
    ours, theirs = engine.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    a, b = np.array(ours), np.array(theirs)
    ours.data[0], theirs[0] = 5.0, 5.0
    assert a.tolist() == b.tolist() == [1.0, 2.0]


def test_numpy_ufunc_methods_and_mixed_calls_give_numpy_results():
    t, a = engine.tensor([1.0, 2.0]), np.array([3.0, 0.5])
    for out, want in ((np.add(t, t), t.data + t.data), (np.maximum(t, a), [3.0, 2.0]),
                      (np.maximum(a, t), [3.0, 2.0]), (np.add(t, a), t.data + a),
                      (np.add.accumulate(t), [1.0, 3.0]), (np.multiply.outer(t, a),
                                                           np.multiply.outer(t.data, a))):
        assert type(out) is np.ndarray
        np.testing.assert_allclose(out, want)
    s = np.add.reduce(t)
    assert type(s) is np.float32 and s == 3.0
    acc = np.zeros(2)
    np.add.at(acc, [0, 0], engine.tensor([1.0, 2.0]))
    assert acc.tolist() == [3.0, 0.0]
    # explicit np.add(ndarray, tensor) is what ``ndarray + tensor`` runs: same values
    np.testing.assert_allclose(np.asarray(np.add(a, t)), a + t.data, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# The manual SGD idiom: w.data is a numpy array, updated in place.
# ---------------------------------------------------------------------------------------------

def _sgd_steps(update, lib, dtype):
    """Three manual-SGD steps on sum(w²·c) in ``lib`` (engine or torch), ``update(w, lr)``."""
    w = lib.tensor([1.0, -2.0, 3.0], dtype=dtype, requires_grad=True)
    c = lib.tensor([0.5, 1.0, 2.0], dtype=dtype)
    for _ in range(3):
        (w * w * c).sum().backward()
        with lib.no_grad():
            update(w, 0.1)
        w.grad = None
    return w


def _isub(w, lr): w.data -= lr * w.grad
def _iadd(w, lr): w.data += -lr * w.grad
def _imul(w, lr): w.data *= 1 - lr * w.grad
def _idiv(w, lr): w.data /= 1 + lr * w.grad * w.grad


@pytest.mark.parametrize("update", [_isub, _iadd, _imul, _idiv], ids=lambda f: f.__name__)
def test_manual_sgd_through_data_updates_the_array_in_place(update):
    torch = _torch()
    got = _sgd_steps(update, engine, F64)
    ref = _sgd_steps(update, torch, torch.float64)
    assert type(got.data) is np.ndarray and got.data.dtype == np.float64
    np.testing.assert_allclose(got.data, ref.detach().numpy(), rtol=1e-12)
    # the array is written in place: the same object, seen through views of the tensor
    w = engine.tensor([1.0, 2.0], requires_grad=True)
    arr, view = w.data, w.detach()
    (w * w).sum().backward()
    with engine.no_grad():
        update(w, 0.5)
    assert w.data is arr and type(view.data) is np.ndarray
    np.testing.assert_array_equal(view.data, w.data)


def test_data_sub_method_is_numpys_attribute_error():
    # w.data is a numpy array (the contract): PyTorch's w.data.sub_(...) is not there; the
    # statement form w.data -= ... (above) is, or w.sub_(...) under no_grad.
    w = engine.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(AttributeError, match="sub_"):
        w.data.sub_(w)


def test_data_update_outside_no_grad_and_with_graph_tensors():
    w = engine.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w.data -= 0.25 * w.grad  # no graph on the right: fine in or out of no_grad, as torch
    assert type(w.data) is np.ndarray and w.data.tolist() == [0.5, 1.0]
    y = w * 3  # requires grad: numbers written into an array would silently lose the graph
    with pytest.raises(RuntimeError, match=r"subtract.*requires grad.*no_grad|detach"):
        w.data -= y
    assert type(w.data) is np.ndarray and w.data.tolist() == [0.5, 1.0]
    with engine.no_grad():
        w.data -= w  # under no_grad only the numbers matter
    assert w.data.tolist() == [0.0, 0.0]


def test_data_update_with_numpy_out_keeps_numpy_rules():
    a = np.zeros(2, np.int64)
    with pytest.raises(TypeError):  # numpy's casting rule: float into an int array
        a += engine.tensor([0.5, 1.5])
    out = np.empty(2)
    np.multiply(engine.tensor([1.0, 2.0]), 3.0, out=out)
    assert out.tolist() == [3.0, 6.0]
    with pytest.raises(TypeError, match="out="):
        np.add(np.ones(2), np.ones(2), out=engine.zeros(2))
    with pytest.raises(TypeError):  # nor np.add.at into a tensor (no version counted)
        np.add.at(engine.zeros(2), [0], 1.0)


# ---------------------------------------------------------------------------------------------
# In-place methods: torch's values, version counter and autograd rules (engine's _inplace).
# ---------------------------------------------------------------------------------------------

UNARY_ = ["exp_", "log_", "sqrt_", "abs_", "neg_", "sigmoid_", "tanh_", "relu_", "square_"]


def _away_from_zero(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.2, 2.0, size=shape)


def _domain(name, a):
    return np.abs(a) if name in ("log_", "sqrt_") else a


@pytest.mark.parametrize("name", UNARY_)
def test_unary_inplace_matches_torch(name):
    torch = _torch()
    a = _domain(name, _away_from_zero((2, 3)))
    t, tt = engine.tensor(a, dtype=F64), torch.tensor(a)
    assert getattr(t, name)() is t and t._version == 1
    getattr(tt, name)()
    np.testing.assert_allclose(t.data, tt.numpy(), rtol=1e-13)
    # through a non-leaf, the gradient flows through the in-place op (torch's rule)
    x, xt = engine.tensor(a, dtype=F64, requires_grad=True), torch.tensor(a, requires_grad=True)
    for lib_x in (x, xt):
        y = lib_x * 1.5
        getattr(y, name)()
        (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match=f"{name}: a leaf Variable that requires grad"):
        getattr(x, name)()
    with engine.no_grad():  # allowed there, as the optimizers' updates
        getattr(x, name)()
    # a saved input changed in place afterwards: backward refuses, as torch
    z = engine.tensor(a, dtype=F64, requires_grad=True) * 1.0
    w = z.exp() * z
    getattr(z, name)()
    with pytest.raises(RuntimeError, match="modified by an inplace operation|in place"):
        w.sum().backward()


def test_inplace_on_int_tensor_refuses_the_float_result():
    with pytest.raises(RuntimeError, match="exp_: result type float.* can't be cast.*int64"):
        engine.tensor([1, 2]).exp_()
    t = engine.tensor([-1, 2])
    assert t.abs_().tolist() == [1, 2] and t.neg_().tolist() == [-1, -2]
    assert t.square_().tolist() == [1, 4] and t.dtype == np.int64


def test_clamp_min_max_match_torch():
    torch = _torch()
    a = np.array([[-2.0, -0.5, 0.3], [1.2, 2.5, -1.0]])
    lo = np.array([0.0, -1.0, 0.5])
    for name, args in (("clamp_min", (0.1,)), ("clamp_max", (0.2,)), ("clamp_min", (lo,)),
                       ("clamp_max", (lo,))):
        x, xt = engine.tensor(a, requires_grad=True, dtype=F64), torch.tensor(a, requires_grad=True)
        b = engine.tensor(args[0], dtype=F64) if isinstance(args[0], np.ndarray) else args[0]
        bt = torch.tensor(args[0]) if isinstance(args[0], np.ndarray) else args[0]
        out, ref = getattr(x, name)(b), getattr(xt, name)(bt)
        np.testing.assert_allclose(out.data, ref.detach().numpy())
        (out * out).sum().backward()
        (ref * ref).sum().backward()
        np.testing.assert_allclose(x.grad.data, xt.grad.numpy())
        t, tt = engine.tensor(a, dtype=F64), torch.tensor(a)
        assert getattr(t, name + "_")(b) is t and t._version == 1
        getattr(tt, name + "_")(bt)
        np.testing.assert_allclose(t.data, tt.numpy())


def _fill_cases(lib):
    """(method, args) for the indexing in-place methods, in ``lib``'s spelling."""
    idx = lib.tensor([[0, 2, 1], [2, 0, 0]])
    rows = lib.tensor([0, 2, 0])
    mask = lib.tensor([[True, False, True, False]])
    return [("masked_fill_", (mask, -1.5)), ("index_fill_", (1, lib.tensor([3, 0]), 2.5)),
            ("index_add_", (0, rows, "src34")), ("scatter_", (1, idx, "src23")),
            ("scatter_", (0, idx, "src23")), ("scatter_add_", (1, idx, "src23")),
            ("scatter_add_", (0, idx, "src23"))]


@pytest.mark.parametrize("case", range(7))
def test_indexing_inplace_matches_torch(case):
    torch = _torch()
    rng = np.random.default_rng(case)
    a, srcs = rng.standard_normal((3, 4)), {"src34": rng.standard_normal((3, 4)),
                                            "src23": rng.standard_normal((2, 3))}
    results = []
    for lib, mk in ((engine, lambda v, **k: engine.tensor(v, dtype=F64, **k)),
                    (torch, lambda v, **k: torch.tensor(v, **k))):
        name, args = _fill_cases(lib)[case]
        src = None
        args = list(args)
        if isinstance(args[-1], str):
            src = mk(srcs[args[-1]], requires_grad=True)
            args[-1] = src
        # values and version, plain
        t = mk(a)
        assert getattr(t, name)(*[x.detach() if x is src else x for x in args]) is t
        assert t._version == 1
        # gradients through a non-leaf, to self and to src
        x = mk(a, requires_grad=True)
        y = x * 2.0
        getattr(y, name)(*args)
        (y * y).sum().backward()
        results.append((t.detach().numpy().copy(), y.detach().numpy(), x.grad.numpy(),
                        None if src is None else src.grad.numpy()))
    for got, want in zip(*results, strict=True):
        if got is not None or want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12)


def test_indexing_inplace_errors_and_value_tensor():
    torch = _torch()
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_: a leaf Variable"):
        x.masked_fill_(engine.tensor([True, False]), 0.0)
    with pytest.raises(TypeError, match="scatter_: reduce='multiply' is not supported"):
        engine.zeros(3).scatter_(0, engine.tensor([0]), engine.ones(1), reduce="multiply")
    with pytest.raises(IndexError, match="index_fill: index 5 is out of range"):
        engine.zeros(3).index_fill_(0, engine.tensor([5]), 1.0)
    # a 0-d value tensor that requires grad gets the filled places' gradient, as in torch
    v, vt = engine.tensor(2.0, dtype=F64, requires_grad=True), torch.tensor(2.0,
                                                                           requires_grad=True)
    for val, lib in ((v, engine), (vt, torch)):
        y = lib.zeros(3, 2, dtype=lib.float64)
        y.index_fill_(0, lib.tensor([0, 2]), val)
        (y * y).sum().backward()
    assert v.grad.item() == vt.grad.item() == 16.0



_DIAG_SHAPES = [(3, 3), (5, 2), (7, 3), (2, 5), (1, 4), (4, 1), (3, 3, 3), (0, 3)]


@given(shape=st.sampled_from(_DIAG_SHAPES), wrap=st.booleans(),
       value=st.floats(-3, 3, allow_nan=False))
def test_fill_diagonal_is_numpy_fill_diagonal_and_cuts_the_gradient_there(shape, wrap, value):
    a = np.random.default_rng(len(shape)).standard_normal(shape)
    want = a * 2.0
    np.fill_diagonal(want, value, wrap=wrap)  # numpy's rule, which PyTorch's follows
    diag = np.zeros(shape, bool)
    np.fill_diagonal(diag, True, wrap=wrap)
    x = engine.tensor(a, dtype=F64, requires_grad=True)
    y = x * 2.0
    assert y.fill_diagonal_(value, wrap=wrap) is y and y._version == 1
    np.testing.assert_array_equal(y.data, want)
    (y * y).sum().backward()  # d/dx (2x)² = 8x off the diagonal, 0 on the filled places
    np.testing.assert_allclose(x.grad.data, np.where(diag, 0.0, 8.0 * a), rtol=1e-15)

    def fn(x):
        y = x * 2.0
        return y.fill_diagonal_(value, wrap=wrap)
    if a.size:
        assert engine.gradcheck(fn, engine.tensor(a, dtype=F64, requires_grad=True))


def test_fill_diagonal_matches_torch_and_refuses_its_cases():
    torch = _torch()
    rng = np.random.default_rng(0)
    for shape in _DIAG_SHAPES:
        for wrap in (False, True):
            a = rng.standard_normal(shape)
            x, xt = engine.tensor(a, dtype=F64, requires_grad=True), torch.tensor(a,
                                                                                 requires_grad=True)
            y, yt = x * 2.0, xt * 2.0
            y.fill_diagonal_(-1.5, wrap=wrap)
            yt.fill_diagonal_(-1.5, wrap=wrap)
            (y * y).sum().backward()
            (yt * yt).sum().backward()
            np.testing.assert_array_equal(y.data, yt.detach().numpy())
            np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())
    ints, ints_t = engine.zeros(3, 3, dtype=engine.int64), torch.zeros(3, 3, dtype=torch.int64)
    np.testing.assert_array_equal(ints.fill_diagonal_(2.7).data, ints_t.fill_diagonal_(2.7))
    with pytest.raises(RuntimeError, match=r"fill_diagonal_: .*at least 2 dimensions.*\(3,\)"):
        engine.zeros(3).fill_diagonal_(1.0)
    with pytest.raises(RuntimeError, match=r"fill_diagonal_: all dimensions .*\(2, 3, 3\)"):
        engine.zeros(2, 3, 3).fill_diagonal_(1.0)
    with pytest.raises(RuntimeError, match="fill_diagonal_: a leaf Variable"):
        engine.zeros(2, 2, requires_grad=True).fill_diagonal_(1.0)


# finite differences (float64), inputs kept away from kinks by construction
_mag = st.floats(0.2, 2.0)
_sign = st.sampled_from([-1.0, 1.0])


def _arrays(shape, positive=False):
    mags = hnp.arrays(F64, shape, elements=_mag)
    if positive:
        return mags
    return st.tuples(mags, hnp.arrays(F64, shape, elements=_sign)).map(lambda p: p[0] * p[1])


@pytest.mark.parametrize("name", UNARY_ + ["clamp_min_", "clamp_max_"])
@given(data=st.data())
def test_unary_inplace_gradients_match_finite_differences(name, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
    a = data.draw(_arrays(shape, positive=name in ("log_", "sqrt_")))
    args = {"clamp_min_": (0.1,), "clamp_max_": (-0.1,)}.get(name, ())  # |a| ≥ 0.2: no tie
    x = engine.tensor(a, dtype=F64, requires_grad=True)
    assert engine.gradcheck(lambda u: getattr(u * 1.0, name)(*args), x)


@given(data=st.data())
def test_indexing_inplace_gradients_match_finite_differences(data):
    n, m = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x = engine.tensor(data.draw(hnp.arrays(F64, (n, m), elements=st.floats(-2, 2))),
                      dtype=F64, requires_grad=True)
    k = data.draw(st.integers(1, 3))
    index = data.draw(hnp.arrays(np.int64, (k, m), elements=st.integers(0, n - 1)))
    rows = data.draw(hnp.arrays(np.int64, (k,), elements=st.integers(0, n - 1)))
    src = engine.tensor(data.draw(hnp.arrays(F64, (k, m), elements=st.floats(-2, 2))),
                        dtype=F64, requires_grad=True)
    value = engine.tensor(data.draw(st.floats(-2, 2)), dtype=F64, requires_grad=True)
    mask = engine.tensor(data.draw(hnp.arrays(bool, (m,))))
    # scatter_ writes each place once: distinct rows per column (repeats are unspecified)
    perm = np.stack([np.random.default_rng(j).permutation(n)[:min(k, n)] for j in range(m)], 1)
    checks = [
        (lambda u, s: (u * 1.0).scatter_add_(0, index, s), (x, src)),
        (lambda u, s: (u * 1.0).index_add_(0, rows, s, alpha=0.5), (x, src)),
        (lambda u, s: (u * 1.0).scatter_(0, perm, s[:min(k, n)]), (x, src)),
        (lambda u, v: (u * 1.0).masked_fill_(mask, v), (x, value)),
        (lambda u, v: (u * 1.0).index_fill_(1, rows % m, v), (x, value)),
    ]
    for fn, inputs in checks:
        assert engine.gradcheck(fn, *inputs)


# ---------------------------------------------------------------------------------------------
# Layout queries and matrix transposes.
# ---------------------------------------------------------------------------------------------

LAYOUTS = [lambda x: x, lambda x: x.transpose(0, 2), lambda x: x[:, ::2], lambda x: x[1:],
           lambda x: x.permute(2, 0, 1), lambda x: x[:, :1].expand(2, 3, 4),
           lambda x: x.unsqueeze(1), lambda x: x[0], lambda x: x.mT, lambda x: x[..., 1]]


@pytest.mark.parametrize("layout", range(len(LAYOUTS)))
def test_stride_and_is_contiguous_match_torch(layout):
    torch = _torch()
    x = LAYOUTS[layout](engine.arange(24.0).reshape(2, 3, 4))
    xt = LAYOUTS[layout](torch.arange(24.0).reshape(2, 3, 4))
    assert x.shape == tuple(xt.shape) and x.tolist() == xt.tolist()
    assert x.stride() == xt.stride()
    assert [x.stride(d) for d in range(-x.ndim, x.ndim)] == [xt.stride(d) for d in
                                                              range(-x.ndim, x.ndim)]
    assert x.is_contiguous() == xt.is_contiguous()
    assert x.contiguous().is_contiguous()


def test_matrix_transposes_match_torch():
    torch = _torch()
    a = np.arange(24.0).reshape(2, 3, 4)
    x = engine.tensor(a, dtype=F64, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    for attr in ("mT", "mH"):
        assert getattr(x, attr).tolist() == getattr(xt, attr).tolist()
    (x.mT * engine.tensor(np.arange(24.0).reshape(2, 4, 3), dtype=F64)).sum().backward()
    (xt.mT * torch.arange(24.0, dtype=torch.float64).reshape(2, 4, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())
    assert x[0].H.tolist() == xt[0].H.tolist() == a[0].T.tolist()
    with pytest.raises(RuntimeError, match="mT is only supported on matrices"):
        _ = engine.ones(3).mT
    with pytest.raises(RuntimeError, match="H is only supported on matrices.*use .mH"):
        _ = x.H


# ---------------------------------------------------------------------------------------------
# backward(inputs=...): only those tensors' .grad is filled, as torch.
# ---------------------------------------------------------------------------------------------

def test_backward_inputs_matches_torch():
    torch = _torch()
    out = {}
    for lib in (engine, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([0.5, -1.0], requires_grad=True)
        b = a * w
        b.retain_grad()
        c = (b * b).sum()
        c.backward(inputs=[b, a], retain_graph=True)
        first = (a.grad.tolist(), b.grad.tolist(), w.grad)
        c.backward(None, True, False, [a])  # positional, as torch's signature
        c.backward(inputs=w, retain_graph=True)  # one tensor
        z = lib.tensor([1.0], requires_grad=True)
        c.backward(inputs=[z], retain_graph=True)  # unused: its grad stays None
        out[lib.__name__] = (first, a.grad.tolist(), b.grad.tolist(), w.grad.tolist(), z.grad)
    assert out["engine"] == out["torch"]
    a = engine.tensor([1.0], requires_grad=True)
    c = (a * 2).sum()
    with pytest.raises(RuntimeError, match="inputs= cannot be empty"):
        c.backward(inputs=[], retain_graph=True)
    with pytest.raises(RuntimeError, match=r"inputs\[1\] does not require grad"):
        c.backward(inputs=[a, engine.tensor([1.0])], retain_graph=True)
    engine.autograd.backward(c, inputs=[a])
    assert a.grad.tolist() == [2.0]


# ---------------------------------------------------------------------------------------------
# nn.functional.poisson_nll_loss(full=True): the Stirling term is part of the target's graph.
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_poisson_nll_full_gradients_match_torch(log_input, reduction):
    torch = _torch()
    from nn import functional as F
    x = np.array([0.3, -0.5, 1.2, 0.1, 2.0, 0.7])
    x = x if log_input else np.abs(x) + 0.1
    y = np.array([0.0, 0.5, 1.0, 2.0, 3.5, 7.0])
    a, b = (engine.tensor(v, dtype=F64, requires_grad=True) for v in (x, y))
    at, bt = (torch.tensor(v, requires_grad=True) for v in (x, y))
    loss = F.poisson_nll_loss(a, b, log_input=log_input, full=True, reduction=reduction)
    ref = torch.nn.functional.poisson_nll_loss(at, bt, log_input=log_input, full=True,
                                               reduction=reduction)
    np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=1e-12)
    loss.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(a.grad.data, at.grad.numpy(), rtol=1e-12)
    # target: torch's gradient where it is a number; at y = 0 torch gives NaN (0·∞ in its
    # masked Stirling term), stepgrad the derivative of the loss there (no Stirling term)
    tg = bt.grad.numpy()
    np.testing.assert_allclose(b.grad.data[1:], tg[1:], rtol=1e-12)
    assert np.isnan(tg[0]) and np.isfinite(b.grad.data[0])
    n = 1 if reduction != "mean" else len(x)
    assert b.grad.data[0] == pytest.approx((-x[0] if log_input else -np.log(x[0] + 1e-8)) / n)


@given(data=st.data())
def test_poisson_nll_full_target_gradient_matches_finite_differences(data):
    from nn import functional as F
    n = data.draw(st.integers(1, 5))
    x = data.draw(hnp.arrays(F64, n, elements=st.floats(-1, 1)))
    # targets away from the Stirling term's switch at y = 1 (a jump)
    y = data.draw(hnp.arrays(F64, n, elements=st.one_of(st.floats(0.1, 0.8),
                                                        st.floats(1.3, 6))))
    a, b = (engine.tensor(v, dtype=F64, requires_grad=True) for v in (x, y))
    assert engine.gradcheck(lambda u, v: F.poisson_nll_loss(u, v, full=True), a, b)
