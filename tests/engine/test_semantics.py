"""PyTorch's semantics where students copy PyTorch code: in-place updates, version counters
shared by views, per-thread grad mode, re-entrant no_grad, return conventions, gradient edge
cases, axis validation, dtype inference, and gradients of gradients (issues 11 and 17).

Each numbered block is one item of issue 11; each test failed before the change it covers.
"""
import threading

import numpy as np
import pytest

import engine
import nn
from engine import Value, tensor

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed (optional: "
                                 "pip install torch==2.13.0)")


def f64(a, requires_grad=True):
    return tensor(a, requires_grad=requires_grad, dtype=np.float64)


# -- 1. manual SGD with -= under no_grad ------------------------------------------------------
def test_manual_sgd_with_isub_under_no_grad_trains():
    engine.manual_seed(0)
    x = engine.randn(64, 3)
    y = x @ tensor([[1.0], [-2.0], [0.5]]) + 0.3
    model = nn.Linear(3, 1)
    for _ in range(300):
        loss = ((model(x) - y) ** 2).mean()
        model.zero_grad()
        loss.backward()
        with engine.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad          # rebinding here trained nothing before
    assert loss.item() < 1e-4
    a = tensor([1.0, 2.0], requires_grad=True)
    (a * a).sum().backward()
    with engine.no_grad():
        a -= 0.1 * a.grad
    assert a.requires_grad and a.is_leaf and np.allclose(a.data, [0.8, 1.6])


# -- 2. in-place on a leaf that requires grad while recording ---------------------------------
@pytest.mark.parametrize("update", [lambda w: w.__isub__(0.1), lambda w: w.add_(1.0),
                                    lambda w: w.mul_(2.0), lambda w: w.zero_()])
def test_inplace_on_a_grad_leaf_raises_pytorchs_error(update):
    w = tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation"):
        update(w)
    assert w.is_leaf and w._version == 0


def test_inplace_on_a_non_leaf_is_recorded_like_pytorch():
    w = f64([1.0, 2.0])
    h = w * 3                 # non-leaf
    h += w * w                # h = 3w + w²: recorded
    h *= 2                    # h = 2(3w + w²)
    h.sum().backward()
    np.testing.assert_allclose(w.grad.data, 2 * (3 + 2 * w.data))
    z = f64([1.0, 2.0])
    y = z.exp()               # exp's backward reads its output …
    y += 1                    # … whose old value is kept for it
    y.sum().backward()
    np.testing.assert_allclose(z.grad.data, np.exp(z.data))


# -- 3. views share the version counter ---------------------------------------------------------
@pytest.mark.parametrize("view", [lambda x: x.detach(), lambda x: x[0:2],
                                  lambda x: x.reshape(2, 2), lambda x: x.reshape(2, 2).T])
def test_changing_a_saved_tensor_through_a_view_is_detected(view):
    w = f64([1.0, 2.0, 3.0, 4.0])
    x = f64([1.0, 2.0, 3.0, 4.0], requires_grad=False)
    y = (w * x).sum()          # mul saved x
    with engine.no_grad():
        view(x).mul_(10.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("view", [lambda a: a[:2], lambda a: a.reshape(3, 1)[:2, 0],
                                  lambda a: a[:2].T])
def test_a_view_taken_before_its_source_got_a_history_in_place_is_refused(view):
    """a = zeros(3); v = a[:2]; a.copy_(2x): PyTorch re-bases v on a's new history (the
    gradient of (v·w).sum() reaches x: 2w). stepgrad's v would silently give x no gradient,
    so using v while recording is refused, saying to take the view after the in-place op."""
    x, w = f64([1.0, 2.0, 3.0]), f64([5.0, 7.0])
    a = f64([0.0, 0.0, 0.0], requires_grad=False)
    v = view(a)
    a.copy_(x * 2)
    for use in (lambda: (v * w).sum(), lambda: v.sum().backward()):
        with pytest.raises(RuntimeError, match=r"view .* taken before an in-place op gave its "
                                               r"source a gradient history.*take the view "
                                               r"after the in-place op"):
            use()
    with engine.no_grad():
        np.testing.assert_array_equal((v * w).data, [10.0, 28.0])  # not recording: fine
    (view(a) * w).sum().backward()  # taken after: the gradient reaches x
    np.testing.assert_array_equal(x.grad.data, [10.0, 14.0, 0.0])


def test_views_that_pytorch_keeps_detached_stay_usable():
    """Not refused (PyTorch gives them no part in the history either): a detach() of the
    source, a view taken under no_grad, a leaf's view before requires_grad_()."""
    x, w = f64([1.0, 2.0, 3.0]), f64([1.0, 1.0, 1.0])
    a = f64([0.0, 0.0, 0.0], requires_grad=False)
    d = a.detach()
    a.copy_(x * 2)
    (d * w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0, 6.0])
    b = x * 2
    with engine.no_grad():
        v = b[:2]
    (v * w[:2]).sum().backward()
    leaf = f64([1.0, 2.0], requires_grad=False)
    early = leaf[:1]
    leaf.requires_grad_()
    assert (early * w[:1]).sum().item() == 1.0


def test_retain_graph_then_step_then_backward_raises_instead_of_using_new_weights():
    engine.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    loss = model(engine.randn(4, 3)).sum() ** 2
    loss.backward(retain_graph=True)
    opt.step()                  # Linear saved weight.T, a view of the weight
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# -- 4. per-thread grad mode, anomaly mode and scopes -------------------------------------------
def test_no_grad_in_one_thread_does_not_stop_training_in_another():
    errors, started, release = [], threading.Event(), threading.Event()

    def inference():
        with engine.no_grad():
            started.set()
            release.wait(5)

    t = threading.Thread(target=inference)
    t.start()
    started.wait(5)
    try:
        assert engine.is_grad_enabled()
        w = tensor([1.0], requires_grad=True)
        (w * 2).sum().backward()
        assert w.grad.item() == 2.0
    except Exception as e:  # pragma: no cover - the failure being tested
        errors.append(e)
    finally:
        release.set()
        t.join()
    assert not errors


def test_conv2d_from_two_threads_equals_the_serial_result():
    rng = np.random.default_rng(0)
    xs = [tensor(rng.standard_normal((4, 3, 12, 12))) for _ in range(8)]
    w = tensor(rng.standard_normal((5, 3, 3, 3)))
    serial = [engine.conv2d(x, w, padding=1).data for x in xs]
    results = {}

    def run(k):
        for i in range(k, len(xs), 2):
            for _ in range(5):
                out = engine.conv2d(xs[i], w, padding=1).data
                results.setdefault(i, []).append(out)

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, outs in results.items():
        for out in outs:
            np.testing.assert_array_equal(out, serial[i])


# -- 5. re-entrant no_grad as a decorator -------------------------------------------------------
def test_recursive_no_grad_decorator_restores_grad_mode():
    @engine.no_grad()
    def depth(n):
        assert not engine.is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(5) == 5
    assert engine.is_grad_enabled()
    with engine.no_grad():
        with engine.enable_grad():
            assert engine.is_grad_enabled()
        assert not engine.is_grad_enabled()
    assert engine.is_grad_enabled()


# -- 6. return conventions ------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 2, 5])
def test_max_dim_returns_values_and_indices(batch):
    rng = np.random.default_rng(batch)
    out = tensor(rng.standard_normal((batch, 4)))
    _, pred = out.max(1)
    np.testing.assert_array_equal(pred.data, out.data.argmax(1))
    values, indices = out.max(dim=1, keepdim=True)
    assert values.shape == indices.shape == (batch, 1)
    assert out.max().item() == out.data.max() and out.amax(1).shape == (batch,)


# -- 7. gradient edges --------------------------------------------------------------------------
def test_pow_gradients_at_zero_follow_pytorch():
    x = f64([0.0, 1.0, 2.0])
    engine.stack([x ** k for k in range(3)]).sum().backward()   # polynomial features
    np.testing.assert_allclose(x.grad.data, [0 + 1 + 0, 0 + 1 + 2, 0 + 1 + 4])
    e = f64([2.0, -1.0])
    (tensor(0.0, dtype=np.float64) ** e).sum().backward()
    np.testing.assert_array_equal(e.grad.data, [0.0, -np.inf])


def test_vector_dot_product_and_every_matmul_rank_backward():
    for sa, sb in [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3,)),
                   ((3,), (4, 3, 2)), ((4, 2, 3), (3, 5)), ((1, 2, 3), (4, 3, 5))]:
        rng = np.random.default_rng(0)
        a, b = f64(rng.standard_normal(sa)), f64(rng.standard_normal(sb))
        assert engine.gradcheck(lambda p, q: p @ q, a, b), (sa, sb)


def test_mean_of_nothing_is_nan():
    with np.errstate(invalid="ignore"):
        assert np.isnan(tensor(np.zeros((0, 3))).mean().item())
        assert engine.zeros(0, 3).mean(axis=0).shape == (3,)


# -- 8. axes are validated, never wrapped --------------------------------------------------------
@pytest.mark.parametrize("call", [lambda t: t.permute(1, 2), lambda t: t.flatten(4, -2),
                                  lambda t: t.transpose(0, 5), lambda t: t.sum(axis=2),
                                  lambda t: t.softmax(dim=3), lambda t: t.unsqueeze(4),
                                  lambda t: nn.Flatten(2)(t)])
def test_out_of_range_axes_raise_index_error_naming_the_shape(call):
    with pytest.raises(IndexError, match=r"out of range for a tensor of shape \(2, 3\)"):
        call(engine.zeros(2, 3))


# -- 9. bad values are refused -------------------------------------------------------------------
def test_bad_values_are_refused_clearly():
    with pytest.raises(TypeError, match="tensor\\(None\\)"):
        tensor(None)
    with pytest.raises(TypeError, match="mean\\(\\): could not infer output dtype"):
        tensor([1, 2]).mean()
    with pytest.raises(TypeError, match="the two graphs do not mix"):
        Value(2.0) * tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="not a mix"):
        tensor([1.0], requires_grad=True) * Value(2.0)
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(engine.ones(1, 3))


def test_integer_tensors_promote_in_float_ops():
    s = tensor([0, 1]).sigmoid()
    assert s.dtype == np.float32 and np.allclose(s.data, [0.5, 0.7310586])
    assert (tensor([1, 2]) / 2).dtype == np.float32
    assert (tensor([1, 2]) + 1).dtype == np.int64 and (tensor([1, 2]) * 2.5).dtype == np.float32


# -- dtype inference and interop ------------------------------------------------------------------
def test_dtype_inference_as_pytorch():
    assert tensor([1, 2, 3]).dtype == np.int64
    assert tensor([True, False]).dtype == bool
    assert tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert tensor([1.0]).dtype == np.float32 and tensor(np.ones(2)).dtype == np.float32
    a = np.ones(3)
    t = engine.from_numpy(a)
    a[0] = 5
    assert t.dtype == np.float64 and t.data[0] == 5
    engine.set_default_dtype(np.float64)
    try:
        assert tensor([1.0]).dtype == engine.zeros(2).dtype == np.float64
    finally:
        engine.set_default_dtype(np.float32)


def test_grad_is_a_tensor_with_tensor_methods():
    w = tensor([3.0, 4.0], requires_grad=True)
    (w * w).sum().backward()
    assert isinstance(w.grad, engine.Tensor) and w.grad.grad_fn is None
    assert (w.grad ** 2).sum().sqrt().item() == pytest.approx(10.0)
    w.grad.zero_()
    assert w.grad.sum().item() == 0.0
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor"):
        w.grad = np.zeros(2)
    v = Value(2.0)
    (v * v).backward()
    assert isinstance(v.grad, float) and v.grad == 4.0


# -- modules change dtype -------------------------------------------------------------------------
def test_model_double_and_load_state_dict_keep_the_module_dtype():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    assert model.double() is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert all(b.dtype == np.float64 for _, b in model.named_buffers()
               if b.dtype.kind == "f")
    out = model(tensor(np.ones((4, 2)), dtype=np.float64))
    assert out.dtype == np.float64
    state = {k: v.astype(np.float32) for k, v in model.state_dict().items()}
    with pytest.warns(UserWarning, match="cast from float32 to float64"):
        model.load_state_dict(state)
    assert model[0].weight.dtype == np.float64
    model.float()
    assert model[0].weight.dtype == np.float32
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and "Linear" in seen
    assert nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64


# -- gradients of gradients (issue 17) ------------------------------------------------------------
def test_second_derivative_of_tanh_matches_the_formula():
    x = f64(np.linspace(-2, 2, 7))
    (d1,) = engine.grad(x.tanh().sum(), x, create_graph=True)
    (d2,) = engine.grad(d1.sum(), x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(d1.data, 1 - t * t, rtol=1e-14)
    np.testing.assert_allclose(d2.data, -2 * t * (1 - t * t), rtol=1e-12, atol=1e-15)


def test_value_graph_create_graph_gives_value_gradients():
    x = Value(0.5, label="x")
    y = x.tanh() * x
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value)
    dx = x.grad
    x.grad = 0.0
    dx.backward()
    t = np.tanh(0.5)
    # y = x·tanh x: y'' = 2(1 − t²) − 2x·t(1 − t²)
    assert x.grad == pytest.approx(2 * (1 - t * t) - 2 * 0.5 * t * (1 - t * t), rel=1e-12)


def test_hessian_jacobian_hvp_against_finite_differences():
    rng = np.random.default_rng(0)
    x = f64(rng.standard_normal(4), requires_grad=False)

    def f(t):
        return (t.tanh() * t.sigmoid()).sum() + (t ** 3).sum() * 0.1

    h = engine.hessian(f, x).data
    eps = 1e-5
    num = np.zeros((4, 4))
    for j in range(4):
        up, dn = x.data.copy(), x.data.copy()
        up[j] += eps
        dn[j] -= eps
        xu, xd = f64(up), f64(dn)
        f(xu).backward()
        f(xd).backward()
        num[:, j] = (xu.grad.data - xd.grad.data) / (2 * eps)
    np.testing.assert_allclose(h, num, atol=1e-7)
    np.testing.assert_allclose(h, h.T, atol=1e-14)
    v = rng.standard_normal(4)
    _, hv = engine.hvp(f, x, v)
    np.testing.assert_allclose(hv.data, h @ v, atol=1e-12)
    j = engine.jacobian(lambda t: t.tanh(), x).data
    np.testing.assert_allclose(j, np.diag(1 - np.tanh(x.data) ** 2), atol=1e-14)


def test_conv_refuses_create_graph_by_name():
    x = f64(np.ones((1, 1, 4, 4)))
    w = f64(np.ones((1, 1, 3, 3)))
    with pytest.raises(RuntimeError, match="conv2d is not twice differentiable"):
        engine.grad(engine.conv2d(x, w).sum(), [x, w], create_graph=True)


def test_backward_steps_step_through_a_second_backward():
    x = f64([0.3, -0.2])
    (g,) = engine.grad((x.tanh() ** 2).sum(), x, create_graph=True)
    steps = list(engine.backward_steps(g.sum(), retain_graph=True))
    x.grad = None
    g.sum().backward()  # the same gradients, by stepping and by backward
    assert steps and any("tanh" in s.op or "pow" in s.op or "mul" in s.op for s in steps)


# -- against PyTorch ------------------------------------------------------------------------------
@needs_torch
def test_grad_of_grad_through_an_mlp_equals_torch():
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    w1, w2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 3))

    def ours():
        x, a, b = f64(xs), f64(w1), f64(w2)
        h = (x @ a).tanh() * (x @ a).sigmoid()
        logits = h @ b
        loss = nn.F.cross_entropy(logits, labels) + (logits.softmax(1) *
                                                     logits.log_softmax(1)).sum() * 0.1
        ga, gb = engine.grad(loss, [a, b], create_graph=True)
        gx = engine.grad((ga * ga).sum() + (gb ** 2).sum(), [x, a, b])
        return [g.data for g in gx]

    def theirs():
        x, a, b = (torch.tensor(v, requires_grad=True) for v in (xs, w1, w2))
        h = (x @ a).tanh() * (x @ a).sigmoid()
        logits = h @ b
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels)) + (
            logits.softmax(1) * logits.log_softmax(1)).sum() * 0.1
        ga, gb = torch.autograd.grad(loss, [a, b], create_graph=True)
        gx = torch.autograd.grad((ga * ga).sum() + (gb ** 2).sum(), [x, a, b])
        return [g.numpy() for g in gx]

    for o, t in zip(ours(), theirs(), strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-12)


@needs_torch
def test_hessian_of_a_ten_parameter_function_equals_torch():
    rng = np.random.default_rng(2)
    x0 = rng.standard_normal(10)
    m = rng.standard_normal((10, 10))

    def f_ours(t):
        return ((t.reshape(1, 10) @ f64(m, False)).tanh() ** 2).sum() + t.exp().sum() * 0.1

    def f_torch(t):
        return ((t.reshape(1, 10) @ torch.tensor(m)).tanh() ** 2).sum() + t.exp().sum() * 0.1

    ours = engine.hessian(f_ours, f64(x0, False)).data
    theirs = torch.autograd.functional.hessian(f_torch, torch.tensor(x0)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("style", ["manual", "optimizer"])
def test_two_thousand_training_steps_match_torch_step_for_step(style):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((32, 4)), rng.standard_normal((32, 1))
    w1, b1 = rng.standard_normal((8, 4)) * 0.5, np.zeros(8)
    w2, b2 = rng.standard_normal((1, 8)) * 0.5, np.zeros(1)

    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(),
                                 torch.nn.Linear(8, 1)).double()
    state = {"0.weight": w1, "0.bias": b1, "2.weight": w2, "2.bias": b2}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    xo, yo, xt, yt = f64(x, False), f64(y, False), torch.tensor(x), torch.tensor(y)
    opt_o = nn.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    for step in range(2000):
        lo = ((ours(xo) - yo) ** 2).mean()
        lt = ((theirs(xt) - yt) ** 2).mean()
        if style == "manual":
            ours.zero_grad()
            theirs.zero_grad()
            lo.backward()
            lt.backward()
            with engine.no_grad():
                for p in ours.parameters():
                    p -= 0.05 * p.grad
            with torch.no_grad():
                for p in theirs.parameters():
                    p -= 0.05 * p.grad
        else:
            opt_o.zero_grad()
            opt_t.zero_grad()
            lo.backward()
            lt.backward()
            opt_o.step()
            opt_t.step()
        assert abs(lo.item() - lt.item()) <= 1e-10 * max(1.0, abs(lt.item())), step
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


# -- DLPack (issue 16) ----------------------------------------------------------------------------
def test_dlpack_round_trip_shares_memory():
    a = tensor([1.0, 2.0, 3.0])
    b = engine.from_dlpack(a)
    b.data[0] = 9.0
    assert a.data[0] == 9.0 and b.dtype == np.float32
    with pytest.raises(RuntimeError, match="requires grad"):
        tensor([1.0], requires_grad=True).__dlpack__()


@needs_torch
def test_dlpack_to_and_from_torch():
    a = tensor(np.arange(6.0).reshape(2, 3), dtype=np.float64)
    t = torch.from_dlpack(a)
    t[0, 0] = 42.0
    assert a.data[0, 0] == 42.0 and t.dtype == torch.float64
    back = engine.from_dlpack(torch.arange(4, dtype=torch.int32))
    assert back.dtype == np.int32 and back.tolist() == [0, 1, 2, 3]


def test_linear_weight_gradient_is_laid_out_like_the_weight():
    """x @ W.T (Linear's form) sends W its gradient C-contiguous, as W is (so optimizers
    update it with no copy), with the same values as the plain formula dW = gᵀ·x."""
    rng = np.random.default_rng(0)
    x = engine.tensor(rng.standard_normal((5, 7)), dtype=np.float64)
    w = engine.tensor(rng.standard_normal((3, 7)), dtype=np.float64, requires_grad=True)
    g = rng.standard_normal((5, 3))
    (x @ w.T).backward(engine.tensor(g, dtype=np.float64))
    assert w.grad.data.flags.c_contiguous
    np.testing.assert_allclose(w.grad.data, g.T @ x.data, rtol=1e-13)


def test_pytorchs_dtype_names():
    """dtype=engine.float32, x.to(engine.long): PyTorch's names for numpy's types (torch.float
    is float32); a star-import leaves the builtins float, int and bool alone."""
    assert (engine.float32, engine.float, engine.float64, engine.double) == \
        (np.float32, np.float32, np.float64, np.float64)
    assert (engine.int64, engine.long, engine.int32, engine.int, engine.bool, engine.half) == \
        (np.int64, np.int64, np.int32, np.int32, np.bool_, np.float16)
    x = engine.zeros(2, dtype=engine.float64)
    assert x.dtype == np.float64 and x.to(engine.long).dtype == np.int64
    namespace = {}
    exec("from engine import *", namespace)
    assert "float" not in namespace and "int" not in namespace and "bool" not in namespace
    assert "t" not in namespace and "mode" not in namespace  # a script's own names
    assert namespace["take"] is engine.take and callable(engine.t) and callable(engine.mode)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")  # torch's
def test_leaves_never_share_a_grad_after_create_graph():
    """(x + z) sends one gradient object to both leaves: each leaf keeps its own copy (as
    PyTorch's AccumulateGrad clones), so a later backward adds into x.grad only."""
    x, z = f64([1.0, 2.0]), f64([3.0, 4.0])
    ((x + z) * 2).sum().backward(create_graph=True)
    assert x.grad is not z.grad
    (x * 1).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0] and z.grad.tolist() == [2.0, 2.0]
    x, z = f64([1.0, 2.0]), f64([3.0, 4.0])
    (x + z).sum().backward(create_graph=True)  # the seed's read-only broadcast, before
    (x * 1).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0] and z.grad.tolist() == [1.0, 1.0]
    x, g = f64([1.0, 2.0]), f64([5.0, 6.0], requires_grad=False)
    x.backward(g, create_graph=True)  # a leaf root: its grad is not the user's seed tensor
    (x * 1).sum().backward()
    assert x.grad.tolist() == [6.0, 7.0] and g.tolist() == [5.0, 6.0]
    x = f64([1.0, 2.0])
    (x * x).sum().backward(create_graph=True)  # a grad with a graph keeps it (2x)
    (gx,) = engine.grad(x.grad.sum(), x)
    assert gx.tolist() == [2.0, 2.0]
    if torch is not None:
        tx, tz = (torch.tensor(a, dtype=torch.float64, requires_grad=True)
                  for a in ([1.0, 2.0], [3.0, 4.0]))
        ((tx + tz) * 2).sum().backward(create_graph=True)
        (tx * 1).sum().backward()
        assert tx.grad.tolist() == [3.0, 3.0] and tz.grad.tolist() == [2.0, 2.0]


def test_grad_gives_a_repeated_input_its_gradient_at_each_place():
    x = f64([1.0, 2.0])
    for kwargs in ({}, {"allow_unused": True}):
        gs = engine.grad((x * x).sum(), [x, x], retain_graph=True, **kwargs)
        assert [g.tolist() for g in gs] == [[2.0, 4.0], [2.0, 4.0]]  # 2x twice
    if torch is not None:
        tx = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
        gs = torch.autograd.grad((tx * tx).sum(), [tx, tx], allow_unused=True)
        assert [g.tolist() for g in gs] == [[2.0, 4.0], [2.0, 4.0]]


def test_grad_mode_decorators_cover_generators_bare_use_and_set_grad_enabled():
    x = f64([1.0])

    @engine.no_grad()
    def gen():
        for _ in range(2):
            yield engine.is_grad_enabled(), (x * 2).requires_grad

    assert list(gen()) == [(False, False), (False, False)] and engine.is_grad_enabled()

    @engine.no_grad()
    def running_total():  # send() and the caller's mode between resumptions
        total = 0
        while True:
            total += yield total, engine.is_grad_enabled()

    g = running_total()
    assert next(g) == (0, False) and engine.is_grad_enabled()
    assert g.send(3) == (3, False)
    g.close()

    @engine.no_grad
    def bare():
        return engine.is_grad_enabled()

    @engine.inference_mode
    def bare_inference():
        return engine.is_grad_enabled()

    assert bare() is False and bare.__name__ == "bare" and bare_inference() is False
    with engine.no_grad():
        with engine.inference_mode(False):
            assert engine.is_grad_enabled()  # inference_mode(False) turns recording on
        assert (engine.enable_grad(lambda: engine.is_grad_enabled()))()
    with engine.set_grad_enabled(False):  # the transfer-learning tutorial's phase switch
        assert not (x * 2).requires_grad
    assert engine.is_grad_enabled()

    @engine.set_grad_enabled(False)
    def off():
        return engine.is_grad_enabled()

    assert engine.is_grad_enabled() and off() is False and engine.is_grad_enabled()
    try:
        engine.set_grad_enabled(False)  # the function form stays in force
        assert not engine.is_grad_enabled()
    finally:
        engine.set_grad_enabled(True)
    with pytest.raises(TypeError, match="set_grad_enabled\\(\\): argument 'mode' must be bool"):
        engine.set_grad_enabled(1)
    with pytest.raises(TypeError, match="write @engine.set_grad_enabled\\(False\\)"):
        engine.set_grad_enabled(bare)
    assert engine.is_grad_enabled()
    if torch is not None:
        @torch.no_grad()
        def tgen():
            yield torch.is_grad_enabled()

        @torch.no_grad
        def tbare():
            return torch.is_grad_enabled()

        @torch.set_grad_enabled(False)
        def toff():
            return torch.is_grad_enabled()

        assert list(tgen()) == [False] and tbare() is False and toff() is False
        assert torch.is_grad_enabled()
        with torch.no_grad(), torch.inference_mode(False):
            assert torch.is_grad_enabled()
        with pytest.raises(TypeError):
            torch.set_grad_enabled(1)


def test_tensor_hooks_see_and_replace_the_summed_gradient():
    # y = 3x used twice: the hook sees the summed dL/dy once per backward and its return
    # value is what flows on to x (and into a leaf's .grad for a hook on the leaf).
    x = tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = x * 3
    seen = []
    handle = y.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 2)
    loss = (y * y + y).sum()  # dL/dy = 2y + 1 = [7, 13]; doubled; dL/dx = 3·that
    loss.backward(retain_graph=True)
    assert [s.tolist() for s in seen] == [[7.0, 13.0]]
    assert x.grad.tolist() == [42.0, 78.0]
    handle.remove()
    x.grad = None
    loss.backward()
    assert x.grad.tolist() == [21.0, 39.0] and len(seen) == 1  # removed: not called again
    w = tensor([1.0, -1.0], requires_grad=True)
    with w.register_hook(lambda g: g.clamp(min=0)):  # a leaf: the hooked value is stored
        (w * tensor([-2.0, 5.0])).sum().backward()
    assert w.grad.tolist() == [0.0, 5.0]
    z = tensor([1.0, 2.0], requires_grad=True)
    z.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match="must return None or a Tensor of the gradient's "
                                           r"shape \(2,\)"):
        (z * 2).sum().backward()
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tensor([1.0]).register_hook(lambda g: g)


def test_retain_grad_accumulates_a_non_leafs_grad():
    # stepgrad fills a non-leaf's .grad with the latest pass; retain_grad makes it add up.
    x = tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = x * 3
    assert not y.retains_grad
    y.retain_grad()
    z = (y * y).sum()  # dz/dy = 2y = [6, 12]
    z.backward(retain_graph=True)
    z.backward()
    assert y.retains_grad and y.grad.tolist() == [12.0, 24.0]
    x.retain_grad()  # a leaf: nothing to do
    assert not x.retains_grad and x.grad.tolist() == [36.0, 72.0]


def test_hooks_and_retain_grad_match_torch():
    torch = pytest.importorskip("torch")
    out = []
    for lib in (engine, torch):
        x = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
        y = (x * x).tanh()
        y.retain_grad()
        y.register_hook(lambda g: g * g)
        x.register_hook(lambda g: g + 1)
        loss = (y * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        out.append([np.asarray(t.grad.detach().numpy()) for t in (x, y)])
    for a, b in zip(*out, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13)
