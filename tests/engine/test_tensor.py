"""Tensor behaviour beyond single ops: dtypes, graph freeing, in-place detection, no_grad,
stepping, anomalies, gradcheck's own failure reports."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import Tensor, backward_steps, gradcheck, tensor


def f64(a, requires_grad=True):
    return tensor(a, requires_grad=requires_grad, dtype=np.float64)


# -- dtypes ------------------------------------------------------------------------------
def test_float32_by_default_and_float64_on_request():
    assert tensor([1.0, 2]).dtype == np.float32
    assert tensor([1, 2]).dtype == np.int64 and tensor([True]).dtype == bool  # as PyTorch
    assert tensor(np.arange(3.0)).dtype == np.float32  # numpy float64 data too
    assert tensor([1.0], dtype=np.float64).dtype == np.float64
    assert engine.randn(2, 3).dtype == engine.zeros(2).dtype == np.float32


def test_no_silent_upcast():
    x = tensor([1.0, 2.0])
    assert (x * np.float64(2.5)).dtype == np.float32
    assert (x + np.arange(2.0)).dtype == np.float32        # a float64 numpy array joins x's dtype
    assert (x * tensor([1, 2], dtype=np.int64)).dtype == np.float32
    with pytest.raises(TypeError, match="add: dtype mismatch float32 vs float64"):
        x + tensor([1.0, 2.0], dtype=np.float64)


def test_a_tensor_made_from_a_tensor_keeps_its_dtype():
    """torch.tensor(t), torch.Tensor(t) and nn.Parameter(t) keep t's dtype: a float64 tensor
    became float32 (silently halving the precision of a float64 gradient check's
    Parameters). Numbers and numpy arrays still take the default float dtype."""
    import nn
    t64 = tensor([1.0, 1e-9], dtype=np.float64)
    for made in (tensor(t64), Tensor(t64), nn.Parameter(t64), tensor(tensor([1, 2]))):
        assert made.dtype == made.data.dtype
    assert tensor(t64).dtype == Tensor(t64).dtype == nn.Parameter(t64).dtype == np.float64
    assert float(nn.Parameter(t64).data[1]) == 1e-9  # not rounded to float32's 1e-9
    assert tensor(tensor([1, 2])).dtype == np.int64
    assert tensor(t64, dtype=np.float32).dtype == np.float32  # dtype= still decides
    copy = tensor(t64)
    copy.data[0] = 5.0
    assert t64.data[0] == 1.0  # a copy, as torch.tensor(t)


def test_tensor_copies_its_input():
    a = np.ones(3)
    t = tensor(a)
    a[0] = 5
    assert t.data[0] == 1


# -- backward rules ------------------------------------------------------------------------
def test_non_scalar_root_needs_grad():
    x = tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 20.0])


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tensor([1.0]).sum().backward()


def test_second_backward_through_freed_graph_raises_unless_retained():
    x = tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward of 'mul'.*second time.*retain_graph=True"):
        y.backward()
    z = (x * x).sum()
    x.grad = None
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(x.grad, 2 * 2 * x.data)  # leaves accumulate


def test_intermediate_grads_are_recomputed_not_compounded():
    x = tensor([3.0], requires_grad=True)
    h = x * 2
    y = (h * h).sum()
    y.backward(retain_graph=True)
    first = h.grad.data.copy()
    y.backward()
    np.testing.assert_array_equal(h.grad, first)
    np.testing.assert_array_equal(x.grad, 2 * 2 * (2 * 2 * 3.0))


def test_inplace_change_of_saved_input_is_detected():
    w = tensor([1.0, 2.0], requires_grad=True)
    x = tensor([3.0, 4.0])
    y = (w * x).sum()
    x[0] = 10.0  # x was saved by mul
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*version 1.*"
                                           r"expected version 0"):
        y.backward()


def test_inplace_on_tensor_requiring_grad_is_refused_while_recording():
    w = tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad .* in-place"):
        w[0] = 2.0
    with engine.no_grad():
        w.add_(tensor([1.0]), alpha=-0.5)
    assert w.data[0] == 0.5 and w._version == 1


def test_optimizer_style_update_then_old_graph_backward_raises():
    w = tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with engine.no_grad():
        w.add_(np.ones(2))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_repeated_indices_accumulate():
    x = tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_broadcast_gradients_sum_back_to_input_shapes():
    a = tensor(np.ones((2, 1, 3)), requires_grad=True)
    b = tensor(np.ones((4, 1)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (2, 1, 3) and b.grad.shape == (4, 1)
    np.testing.assert_array_equal(a.grad, np.full((2, 1, 3), 4.0))
    np.testing.assert_array_equal(b.grad, np.full((4, 1), 6.0))


# -- no_grad, detach, seeds -------------------------------------------------------------------
def test_no_grad_as_context_and_decorator():
    x = tensor([1.0], requires_grad=True)
    with engine.no_grad():
        assert not (x * 2).requires_grad

    @engine.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    assert (x * 2).requires_grad and engine.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = tensor([2.0], requires_grad=True)
    y = (x * x).detach() * x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0])


def test_manual_seed_makes_draws_reproducible():
    engine.manual_seed(7)
    a = engine.randn(5).data, engine.rand(2).data
    engine.manual_seed(7)
    b = engine.randn(5).data, engine.rand(2).data
    assert all((p == q).all() for p, q in zip(a, b, strict=True))


def test_a_thread_of_its_own_generator_leaves_the_shared_one_alone():
    import threading
    engine.manual_seed(7)
    got = {}

    def worker():  # as a DataLoader worker: its own generator, reseeded in the thread
        engine.set_thread_rng(np.random.default_rng(1))
        got["own"] = engine.rand(2).numpy()
        engine.manual_seed(2)
        got["reseeded"] = engine.randint(0, 100, (3,)).tolist()
        got["previous"] = type(engine.set_thread_rng(None)).__name__

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    np.testing.assert_array_equal(got["own"],
                                  np.random.default_rng(1).random(2).astype(np.float32))
    assert got["reseeded"] == np.random.default_rng(2).integers(0, 100, 3).tolist()
    assert got["previous"] == "Generator"
    np.testing.assert_array_equal(engine.rand(2).numpy(),  # the main thread: untouched
                                  np.random.default_rng(7).random(2).astype(np.float32))
    with pytest.raises(TypeError, match="set_thread_rng: expected a numpy.random.Generator"):
        engine.set_thread_rng(7)


# -- stable softmax ---------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1000.0, -1000.0])
def test_softmax_and_log_softmax_stable_at_large_inputs(scale):
    x = tensor(np.array([[1.0, 2.0, 3.0]]) * scale, requires_grad=True)
    p = x.softmax(axis=1)
    lp = x.log_softmax(axis=1)
    assert np.isfinite(p.data).all() and np.isfinite(lp.data).all()
    np.testing.assert_allclose(p.data.sum(), 1.0, rtol=1e-6)
    lp.sum().backward()
    assert np.isfinite(x.grad).all()


def test_softmax_matches_course_slide():
    # Slides (003, EXERCISES.md): softmax of scores (2, 1, -0.1) = (0.671, 0.247, 0.082).
    p = tensor([2.0, 1.0, -0.1], dtype=np.float64).softmax()
    np.testing.assert_allclose(p.data, [0.671, 0.247, 0.082], atol=1e-3)


# -- backward_steps on tensors -------------------------------------------------------------------
def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    x = tensor(rng.standard_normal((5, 3)), name="x")
    w1 = tensor(rng.standard_normal((3, 4)), requires_grad=True, name="W1")
    w2 = tensor(rng.standard_normal((4, 1)), requires_grad=True, name="W2")
    loss = ((x @ w1).tanh() @ w2).sigmoid().mean()
    return loss, (w1, w2)


def test_backward_steps_on_tensors_give_backward_grads_and_readable_text():
    loss, (w1, w2) = _mlp()
    loss.backward()
    ref = w1.grad.clone(), w2.grad.clone()
    loss2, (v1, v2) = _mlp()
    steps = list(backward_steps(loss2))
    np.testing.assert_array_equal(v1.grad, ref[0])
    np.testing.assert_array_equal(v2.grad, ref[1])
    text = "\n".join(map(str, steps))
    assert "d(A·B)/dA = G·Bᵀ" in text and "(4, 1)" in text and "‖·‖" in text
    assert "W1 is a leaf" in text


def test_steps_show_only_grads_known_so_far():
    loss, (w1, _) = _mlp()
    it = backward_steps(loss)
    first = next(it)
    assert first.node is loss and w1.grad is None
    list(it)
    assert w1.grad is not None


# -- anomaly mode ----------------------------------------------------------------------------------
def test_detect_anomaly_forward_names_op_and_user_line():
    x = tensor([0.0, 1.0], requires_grad=True)
    with engine.detect_anomaly():
        with pytest.raises(engine.AnomalyError, match=r"forward of 'log'.*test_tensor\.py:\d+"):
            x.log()
    x.log()  # outside the context: -inf, no error


def test_detect_anomaly_backward_names_op():
    x = tensor([0.0, 4.0], requires_grad=True)
    with engine.detect_anomaly():
        y = x.sqrt()  # finite forward, infinite derivative at 0
        with pytest.raises(engine.AnomalyError, match=r"backward of 'sqrt'.*test_tensor\.py"):
            y.sum().backward()


# -- gradcheck itself -----------------------------------------------------------------------------
class _WrongTanh(engine.Op):
    name, formula = "wrong_tanh", "deliberately wrong: d/du = 1 − tanh u"
    differentiable = False  # keep it out of the registry meta-test's op list

    def forward(self, x):
        out = np.tanh(x)
        self.save(out)
        return out

    def backward(self, g, x, out):
        return g * (1 - out)


class _WrongTanhRecorded(_WrongTanh):
    differentiable = True
    name = None  # no public name: not a registered op


def test_gradcheck_reports_input_element_and_values():
    x = f64([0.3, -0.7])
    # Worst element: u = −0.7, where the wrong rule gives 1 − tanh(u) = 1.604 instead of
    # 1 − tanh²(u) = 0.6347.
    with pytest.raises(engine.GradcheckError,
                       match=r"input 0 \(shape \(2,\)\), element \(1,\).*analytic 1\.604\d* "
                             r"vs numeric 0\.6347"):
        gradcheck(lambda t: _WrongTanhRecorded.apply(t).sum(), x)


def test_gradcheck_random_directions_catch_errors_on_large_inputs():
    big = f64(np.random.default_rng(0).uniform(-1, 1, (80, 80)))
    assert gradcheck(lambda t: (t.tanh() * t).sum(axis=0), big)
    with pytest.raises(engine.GradcheckError, match="random direction"):
        gradcheck(lambda t: _WrongTanhRecorded.apply(t).sum(axis=0), big)


def test_gradcheck_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t.sum(), tensor([1.0], requires_grad=True))


def test_gradcheck_on_value_functions():
    a, b = engine.Value(0.4), engine.Value(-1.1)
    assert gradcheck(lambda p, q: (p * q).tanh() + p ** 2, a, b)


def test_repr_shows_shape_dtype_op():
    x = tensor([[1.0, 2.0]], requires_grad=True, name="x")
    r = repr(x * 2)
    assert "shape=(1, 2)" in r and "float32" in r and "grad_fn=<MulBackward>" in r
    assert "name='x'" in repr(x) and "requires_grad=True" in repr(x)
    assert isinstance(np.asarray(x.detach()), np.ndarray) and len(x) == 1
    assert (x * 0).sum().item() == 0.0


def test_tensor_is_a_leaf_until_an_op_makes_it():
    x = tensor([1.0], requires_grad=True)
    assert x.is_leaf and not (x * 2).is_leaf and isinstance(x * 2, Tensor)


def test_slice_gradients_accumulate_in_place_without_touching_shared_arrays():
    # Overlapping basic slices, a re-used node whose op hands the same array to both parents
    # (add), and a leaf reached by slice and dense paths: the walk's in-place sums must give
    # the finite-difference gradient, and the upstream arrays must not be modified.
    def f(x, w):
        a = x * w
        b = a + a                      # add's backward passes one array to both parents
        s = b[:, 0:2] * b[:, 1:3]      # overlapping slices of one node
        return (s.sum(axis=1) + b[1] + x[0].tanh() + x[:, 2] * 3.0).sum()

    rng = np.random.default_rng(0)
    x = engine.tensor(rng.standard_normal((3, 3)), requires_grad=True, dtype=np.float64)
    w = engine.tensor(rng.standard_normal((3, 3)), requires_grad=True, dtype=np.float64)
    assert engine.gradcheck(f, x, w)
    # add's backward hands one array to both of its parents: summing them must not write
    # into that array, which is also b's .grad.
    c = np.arange(9.0).reshape(3, 3)
    a = x * 1.0
    b = a + a
    (b * c).sum().backward()
    np.testing.assert_array_equal(b.grad, c)
    np.testing.assert_array_equal(a.grad, 2 * c)
    seed = np.ones((2, 2))
    y = (x * 1.0)[0:2, 0:2]
    y.backward(seed)
    np.testing.assert_array_equal(seed, np.ones((2, 2)))  # the caller's array is untouched


def test_backward_steps_show_slice_gradients_as_arrays():
    x = engine.tensor(np.arange(4.0), requires_grad=True, dtype=np.float64)
    steps = list(engine.backward_steps((x[1:3] * 2.0).sum()))
    getitem = next(s for s in steps if s.op == "getitem")
    assert isinstance(getitem.parent_grads[0], np.ndarray)
    np.testing.assert_array_equal(getitem.parent_grads[0], [0, 2, 2, 0])


def test_leaf_keeps_a_fresh_gradient_without_a_copy_and_accumulates_correctly():
    """A Linear op's weight gradient is a new GEMM result that no other node holds: the leaf
    keeps it as its .grad (no copy). Accumulating a second backward adds into it in place
    without touching anything else; x·W used twice (two contributions) sums them."""
    import nn
    rng = np.random.default_rng(0)
    x = engine.tensor(rng.standard_normal((5, 3)), dtype=np.float64)
    w = engine.tensor(rng.standard_normal((4, 3)), dtype=np.float64, requires_grad=True)
    g1 = rng.standard_normal((5, 4))
    y = nn.F.linear(x, w)
    y.backward(engine.tensor(g1, dtype=np.float64))
    first = w.grad.data
    np.testing.assert_allclose(first, g1.T @ x.data, rtol=1e-14)
    assert first.flags.owndata and first.flags.writeable
    kept = first.copy()
    y2 = nn.F.linear(x, w) + nn.F.linear(2 * x, w)   # two contributions in one walk
    y2.backward(engine.tensor(g1, dtype=np.float64))
    np.testing.assert_allclose(w.grad.data, kept + 3 * (g1.T @ x.data), rtol=1e-13)
    np.testing.assert_array_equal(kept, g1.T @ x.data)  # the first result was not shared
    # backward_steps reports the step's gradients: the leaf keeps a copy there
    w.grad = None
    steps = list(engine.backward_steps(nn.F.linear(x, w).sum()))
    reported = [s for s in steps if s.node is w]
    assert reported and not np.shares_memory(w.grad.data, reported[0].grad)


def test_pytorchs_device_lines_run_on_the_cpu():
    """The first lines of most PyTorch scripts: the device is the CPU, moving to it is a
    no-op, .cpu().numpy() works, and a GPU is refused only when something moves to it."""
    import engine as torch
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert str(device) == "cpu" and repr(device) == "device(type='cpu')"
    assert torch.cuda.device_count() == 0 and not torch.backends.mps.is_available()
    torch.cuda.manual_seed_all(0)  # ignored without CUDA, as PyTorch
    torch.backends.cudnn.benchmark = True
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(device) is x and x.device == "cpu" and x.device == device and not x.is_cuda
    np.testing.assert_array_equal(x.detach().cpu().numpy(), [1.0, 2.0])
    assert (str(torch.device("cuda:1")), torch.device("cuda", 0).index) == ("cuda:1", 0)
    with pytest.raises(RuntimeError, match=r"to: stepgrad runs on the CPU only .*'cuda:1'"):
        x.to(torch.device("cuda:1"))
    with pytest.raises(RuntimeError, match=r"cuda: stepgrad runs on the CPU only"):
        x.cuda()
    import nn
    model = nn.Linear(2, 1)
    assert model.to(device) is model
    with pytest.raises(RuntimeError, match=r"Linear.cuda: stepgrad runs on the CPU only"):
        model.cuda()
    with pytest.raises(ValueError, match="expected one of cpu, cuda"):
        torch.device("gpu")


def test_legacy_type_names():
    x = tensor([1.0, 2.0])
    assert (x.type(), x.long().type(), x.double().type()) == (
        "torch.FloatTensor", "torch.LongTensor", "torch.DoubleTensor")
    assert x.type(np.float64).dtype == np.float64
    assert x.type("torch.IntTensor").dtype == np.int32
    with pytest.raises(ValueError, match="unknown tensor type 'torch.Foo'"):
        x.type("torch.Foo")


# -- random fills in place: normal_, uniform_, bernoulli_ ------------------------------------
def test_random_fills_draw_from_the_seeded_generator_in_place():
    """``w.normal_(0, 0.02)`` / ``uniform_(-s, s)`` / ``bernoulli_(p)`` (the init and
    dropout-mask idioms of PyTorch tutorials) fill the tensor itself, from the generator
    ``engine.manual_seed`` seeds (the same draws as numpy's Generator with that seed)."""
    engine.manual_seed(7)
    w = engine.empty(200, 300)
    same = w.data
    assert w.normal_(0.5, 0.02) is w and w.data is same
    ref = np.random.default_rng(7)
    np.testing.assert_array_equal(w.data, ref.normal(0.5, 0.02, (200, 300)).astype(np.float32))
    assert abs(w.data.mean() - 0.5) < 1e-3 and abs(w.data.std() - 0.02) < 1e-3
    w.uniform_(-0.1, 0.1)
    np.testing.assert_array_equal(w.data, ref.uniform(-0.1, 0.1, (200, 300)).astype(np.float32))
    assert w.data.min() >= -0.1 and w.data.max() < 0.1
    w.uniform_(**{"from": 2, "to": 3})  # PyTorch's keyword names
    assert w.data.min() >= 2 and w.data.max() < 3
    m = engine.empty(200, 300).bernoulli_(0.25)
    assert set(np.unique(m.data)) == {0.0, 1.0} and abs(m.data.mean() - 0.25) < 0.01
    per_row = engine.tensor([[0.0], [1.0]]).expand(2, 5)
    np.testing.assert_array_equal(engine.empty(2, 5).bernoulli_(per_row).data,
                                  [[0] * 5, [1] * 5])
    g = np.random.default_rng(3)
    np.testing.assert_array_equal(engine.empty(4, dtype=engine.float64).normal_(generator=g).data,
                                  np.random.default_rng(3).normal(0, 1, 4))


def test_random_fills_follow_the_in_place_rules():
    """A leaf that requires grad is refused (as PyTorch), unless under no_grad; an integer
    tensor cannot hold normal or uniform draws; a bad std, range or p is named; a tensor a
    backward still needs says it was changed."""
    w = engine.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="normal_: a leaf Variable that requires grad"):
        w.normal_()
    with engine.no_grad():
        w.normal_()
    assert w.requires_grad and (w.data != 0).any()
    with pytest.raises(RuntimeError, match="uniform_: expects a floating point tensor, got int64"):
        engine.zeros(3, dtype=engine.int64).uniform_()
    assert engine.zeros(3, dtype=engine.int64).bernoulli_(1.0).data.tolist() == [1, 1, 1]
    with pytest.raises(RuntimeError, match="expects std >= 0.0, but found std -1"):
        engine.zeros(3).normal_(0, -1)
    with pytest.raises(RuntimeError, match=r"\[from, to\) range, but found from=1 > to=0"):
        engine.zeros(3).uniform_(1, 0)
    with pytest.raises(RuntimeError, match="bernoulli_: expects 0 <= p <= 1"):
        engine.zeros(3).bernoulli_(1.5)
    with pytest.raises(TypeError, match="generator must be a numpy Generator"):
        engine.zeros(3).normal_(generator=42)
    x = engine.ones(3, requires_grad=True)
    h = x * 2
    y = (h * h).sum()
    h.normal_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_assigning_a_tensor_to_data_stores_its_array():
    """PyTorch's manual update ``w.data = w.data - lr * w.grad`` has a Tensor on the right
    here (``.data`` is numpy, ``w.grad`` a Tensor): it was stored as it was, leaving w with a
    Tensor for data (its repr broken, its dtype a method). The array is stored, shared as
    PyTorch's ``.data =`` shares storage, and the version counter does not move (PyTorch's
    ``.data`` is invisible to autograd)."""
    w = engine.tensor([1.0, 2.0, -3.0], requires_grad=True)
    for _ in range(3):
        w.grad = None
        (w * w).sum().backward()        # d/dw Σw² = 2w
        before, version = w.data.copy(), w._version
        w.data = w.data - 0.1 * w.grad
        assert type(w.data) is np.ndarray and w.data.dtype == np.float32
        np.testing.assert_allclose(w.data, before * 0.8, rtol=1e-6)
        assert w._version == version
    np.testing.assert_allclose(w.data, np.array([1.0, 2.0, -3.0]) * 0.8 ** 3, rtol=1e-6)
    assert "tensor([" in repr(w)
    other = engine.tensor([[1.0, 2.0]])
    w.data = other                      # another shape, as PyTorch allows; the array shared
    assert w.shape == (1, 2) and w.data is other.data
    w.data = np.zeros(4, np.float32)    # arrays as before
    assert w.shape == (4,)


@pytest.mark.parametrize("args,want", [
    ((0, 5, 1.5), [0, 1, 2, 3, 4]), ((0.5, 5.7, 1), [0, 1, 2, 3, 4]),
    ((-2.5, 2, 1), [-2, -1, 0, 1]), ((0, -5, -1.5), [0, -1, -2, -3, -4]),
    ((1.9, 7.9, 2.9), [1, 3, 5])])
def test_arange_with_an_integer_dtype_truncates_its_arguments_first(args, want):
    """PyTorch's integer arange takes start, end and step as integers (toward 0) before
    counting; numpy's counts in floats and casts after: arange(0, 5, 1.5, dtype=int64) was
    [0, 1, 3, 4] where PyTorch gives 0 … 4, and a step below 1 gave a row of zeros."""
    got = engine.arange(*args, dtype=engine.int64)
    assert got.dtype == np.int64 and got.tolist() == want
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        engine.arange(0, 1, 0.3, dtype=engine.int64)
    torch = pytest.importorskip("torch")
    assert torch.arange(*args, dtype=torch.int64).tolist() == want


def test_pytorch_keyword_names_for_shapes_and_dims():
    """PyTorch's keyword spellings (``x.permute(dims=...)``, ``reshape(shape=)``, ``view(size=)``,
    ``flip(dims=)``, ``expand(size=)``, ``broadcast_to(size=)``, ``split(split_size=)``,
    ``mean(dtype=)``) were TypeErrors; they mean what the positional forms mean."""
    x = engine.arange(6.0).reshape(2, 3)
    assert x.reshape(shape=(3, 2)).tolist() == x.reshape(3, 2).tolist()
    assert x.view(size=(3, 2)).tolist() == x.view(3, 2).tolist()
    assert x.permute(dims=(1, 0)).tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert x.flip(dims=(1,)).tolist() == [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]
    assert x.expand(size=(2, 2, 3)).shape == x.broadcast_to(size=(2, 2, 3)).shape == (2, 2, 3)
    assert x.broadcast_to(shape=(2, 2, 3)).shape == (2, 2, 3)   # numpy's name too
    assert [p.tolist() for p in x.split(split_size=2, dim=1)] == [[[0.0, 1.0], [3.0, 4.0]],
                                                                   [[2.0], [5.0]]]
    m = engine.tensor([1, 2, 4]).mean(dtype=engine.float64)
    assert m.dtype == np.float64 and m.item() == 7 / 3
    with pytest.raises(TypeError, match=r"permute\(\) takes its dims"):
        x.permute(1, dims=(1, 0))
    with pytest.raises(TypeError, match="broadcast_to"):
        x.broadcast_to()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-50, 50).filter(lambda v: abs(v - round(v)) > 1e-3), min_size=1,
                max_size=6))
def test_frac_absolute_signbit(values):
    """frac = x − trunc(x) (gradient 1, away from the integers where trunc jumps), absolute
    = abs, signbit true for negatives and −0.0 (PyTorch's)."""
    a = np.array(values)
    x = engine.tensor(a, dtype=engine.float64, requires_grad=True)
    np.testing.assert_allclose(x.frac().data, a - np.trunc(a), rtol=0, atol=1e-12)
    assert gradcheck(lambda t: t.frac(), x)
    np.testing.assert_array_equal(engine.absolute(x).data, np.abs(a))
    assert engine.tensor([-0.0, 0.0, -1.0, 2.0]).signbit().tolist() == [True, False, True, False]
    torch = pytest.importorskip("torch")
    t = torch.tensor(a, requires_grad=True)
    torch.frac(t).sum().backward()
    x.grad = None
    engine.frac(x).sum().backward()
    np.testing.assert_allclose(x.frac().data, torch.frac(t).detach().numpy(), atol=1e-12)
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())
