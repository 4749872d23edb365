"""Lines from PyTorch's official tutorials ("Learn the Basics", "NLP From Scratch") that
stepgrad refused, run the PyTorch way: expected values by hand or from numpy, and from torch
itself where installed (a differential sweep of the tutorials found them)."""
import numpy as np
import pytest

import engine

F64 = np.float64


# -- "Learn the Basics", every page: the device line ----------------------------------------
def test_accelerator_line_picks_the_cpu():
    torch_like = engine
    device = (torch_like.accelerator.current_accelerator().type
              if torch_like.accelerator.is_available() else "cpu")
    assert device == "cpu"
    assert engine.accelerator.current_accelerator() is None
    assert engine.accelerator.device_count() == 0
    assert engine.zeros(2).to(device).device == engine.device("cpu")


def test_accelerator_matches_torch_on_a_cpu():
    torch = pytest.importorskip("torch")
    if torch.accelerator.is_available():
        pytest.skip("this machine has an accelerator")
    assert engine.accelerator.current_accelerator() is torch.accelerator.current_accelerator()
    assert engine.accelerator.device_count() == torch.accelerator.device_count()


# -- "Tensors": out= ---------------------------------------------------------------------------
def test_out_writes_the_result_into_out_and_returns_it():
    a = engine.tensor([[1.0, 2.0], [3.0, 4.0]])
    y3 = engine.zeros(2, 2)
    view = y3.numpy()
    r = engine.matmul(a, a.T, out=y3)
    assert r is y3
    np.testing.assert_array_equal(view, [[5.0, 11.0], [11.0, 25.0]])  # by hand; memory kept
    z3 = engine.zeros(2, 2)
    engine.mul(a, a, out=z3)
    np.testing.assert_array_equal(z3.data, [[1.0, 4.0], [9.0, 16.0]])
    result = engine.empty(2, 2)
    engine.add(a, 1, out=result)
    np.testing.assert_array_equal(result.data, [[2.0, 3.0], [4.0, 5.0]])
    o = engine.zeros(2, dtype=F64)  # float32 result cast into a float64 out, as PyTorch
    engine.add(engine.ones(2), 1, out=o)
    assert o.dtype == F64 and o.data.tolist() == [2.0, 2.0]
    v, i = engine.zeros(2), engine.zeros(2, dtype=engine.int64)
    r = engine.max(engine.tensor([[1.0, 3.0], [4.0, 2.0]]), 1, out=(v, i))
    assert r.values is v and r.indices is i
    assert v.data.tolist() == [3.0, 4.0] and i.data.tolist() == [1, 0]


def test_out_refusals_name_the_op():
    w = engine.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add\(\): functions with out=.*requires grad"):
        engine.add(w, 1, out=engine.zeros(2))
    with engine.no_grad():  # no graph: allowed, as PyTorch
        assert engine.add(w, 1, out=engine.zeros(2)).data.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match=r"add\(\): result type float32 can't be cast to "
                                           r"the desired output type int64"):
        engine.add(engine.ones(2), 1, out=engine.zeros(2, dtype=engine.int64))
    with pytest.raises(RuntimeError, match=r"mul\(\): out= has shape \(3,\) but the result "
                                           r"has shape \(2,\)"):
        engine.mul(engine.ones(2), 2, out=engine.zeros(3))
    with pytest.raises(TypeError, match=r"mul\(\): out= must be a Tensor"):
        engine.mul(engine.ones(2), 2, out=np.zeros(2))


def test_out_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for name, args in (("matmul", lambda m, t: (t(a), t(a).T)), ("mul", lambda m, t: (t(a), 2.5)),
                       ("add", lambda m, t: (t(a), t(a))), ("exp", lambda m, t: (t(a),))):
        ours, theirs = engine.zeros(3, 3 if name == "matmul" else 4), torch.zeros(
            3, 3 if name == "matmul" else 4)
        getattr(engine, name)(*args(engine, engine.tensor), out=ours)
        getattr(torch, name)(*args(torch, torch.tensor), out=theirs)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


# -- "Transforms": the one-hot target transform -------------------------------------------------
def test_scatter_with_a_0d_index_on_a_vector():
    # target_transform = Lambda(lambda y: torch.zeros(10, dtype=torch.float)
    #                                      .scatter_(0, torch.tensor(y), value=1))
    one_hot = engine.zeros(10, dtype=engine.float).scatter_(0, engine.tensor(3), value=1)
    np.testing.assert_array_equal(one_hot.data, np.eye(10, dtype=np.float32)[3])
    z = engine.zeros(4)
    assert z.scatter(0, engine.tensor(2), engine.tensor(5.0)).data.tolist() == [0, 0, 5, 0]
    assert z.scatter(0, engine.tensor(2), engine.tensor([5.0, 6.0])).data.tolist() == [0, 0, 5, 0]
    assert z.scatter_add(0, engine.tensor(1), engine.tensor(2.0)).data.tolist() == [0, 2, 0, 0]
    g = engine.arange(5.0).gather(0, engine.tensor(2))
    assert g.shape == () and g.item() == 2.0
    with pytest.raises(ValueError, match="scatter: index has 0 dims but the input has 2"):
        engine.zeros(2, 3).scatter(0, engine.tensor(1), value=1)  # PyTorch refuses it too


def test_scatter_and_gather_with_a_0d_index_gradients():
    x = engine.tensor([1.0, 2.0, 3.0], dtype=F64, requires_grad=True)
    s = engine.tensor(4.0, dtype=F64, requires_grad=True)
    w = np.array([1.0, 2.0, 3.0])
    (x.scatter(0, engine.tensor(1), s) * engine.tensor(w, dtype=F64)).sum().backward()
    assert x.grad.data.tolist() == [1.0, 0.0, 3.0] and s.grad.item() == 2.0  # by hand
    assert engine.gradcheck(lambda a, b: a.scatter(0, engine.tensor(1), b), x, s)
    assert engine.gradcheck(lambda a: a.gather(0, engine.tensor(2)), x)


def test_scatter_0d_index_matches_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in (
            (engine.zeros(10).scatter_(0, engine.tensor(4), value=1),
             torch.zeros(10).scatter_(0, torch.tensor(4), value=1)),
            (engine.zeros(3).scatter_add(0, engine.tensor(2), engine.tensor(7.0)),
             torch.zeros(3).scatter_add(0, torch.tensor(2), torch.tensor(7.0))),
            (engine.arange(4.0).gather(0, engine.tensor(3)),
             torch.arange(4.0).gather(0, torch.tensor(3)))):
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.data, theirs.numpy())


# -- "Generating names with a character-level RNN": legacy constructors, unsqueeze_ -------------
def test_legacy_typed_constructors():
    for name, dtype in (("FloatTensor", np.float32), ("DoubleTensor", np.float64),
                        ("HalfTensor", np.float16), ("LongTensor", np.int64),
                        ("IntTensor", np.int32), ("ShortTensor", np.int16),
                        ("CharTensor", np.int8), ("ByteTensor", np.uint8),
                        ("BoolTensor", np.bool_)):
        make = getattr(engine, name)
        t = make([1, 0, 2])
        assert t.dtype == dtype and t.data.tolist() == np.array([1, 0, 2], dtype).tolist()
        assert make(2, 3).shape == (2, 3) and make(2, 3).dtype == dtype  # ints: a shape
        assert make().shape == (0,)
    engine.set_default_dtype(F64)
    try:
        assert engine.FloatTensor([1.5]).dtype == np.float32  # always float32, as PyTorch
    finally:
        engine.set_default_dtype(np.float32)


def test_legacy_constructors_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor",
                 "ByteTensor"):
        ours, theirs = getattr(engine, name)([3, 0, 1]), getattr(torch, name)([3, 0, 1])
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_array_equal(ours.data, theirs.numpy())
        assert getattr(engine, name)(2, 3).shape == tuple(getattr(torch, name)(2, 3).shape)


def test_unsqueeze_and_squeeze_in_place():
    target = engine.LongTensor([5, 2, 27])
    memory = target.numpy()
    assert target.unsqueeze_(-1) is target and target.shape == (3, 1)
    target[0, 0] = 9  # the same memory, as PyTorch's in-place view ops
    assert memory.tolist() == [9, 2, 27]
    assert target.squeeze_().shape == (3,)
    assert engine.zeros(1, 3, 1).squeeze_(dim=2).shape == (1, 3)
    assert engine.zeros(3).unsqueeze_(dim=0).shape == (1, 3)
    with pytest.raises(RuntimeError, match=r"unsqueeze_: changes the shape of a tensor that "
                                           r"requires grad.*x = x.unsqueeze"):
        engine.zeros(3, requires_grad=True).unsqueeze_(0)
    y = engine.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="squeeze_: changes the shape"):
        y.squeeze_()


def test_unsqueeze_in_place_matches_torch():
    torch = pytest.importorskip("torch")
    for dim in (0, 1, -1, -2):
        ours, theirs = engine.zeros(2, 3), torch.zeros(2, 3)
        ours.unsqueeze_(dim)
        theirs.unsqueeze_(dim)
        assert ours.shape == tuple(theirs.shape)
    ours, theirs = engine.zeros(1, 2, 1), torch.zeros(1, 2, 1)
    assert ours.squeeze_().shape == tuple(theirs.squeeze_().shape)


# -- "Learning PyTorch with examples": a custom autograd Function ---------------------------------
class LegendrePolynomial3(engine.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


class MulConstant(engine.autograd.Function):
    @staticmethod
    def forward(ctx, tensor, constant):
        ctx.constant = constant
        return tensor * constant

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.constant, None


def test_function_forward_and_backward_by_hand():
    x = np.array([-0.8, 0.1, 0.6])
    t = engine.tensor(x, dtype=F64, requires_grad=True)
    y = LegendrePolynomial3.apply(t)
    np.testing.assert_allclose(y.data, 0.5 * (5 * x ** 3 - 3 * x), rtol=1e-15)
    y.backward(engine.tensor([1.0, 2.0, 3.0], dtype=F64))
    np.testing.assert_allclose(t.grad.data, np.array([1, 2, 3]) * 1.5 * (5 * x ** 2 - 1),
                               rtol=1e-15)
    assert engine.gradcheck(LegendrePolynomial3.apply, engine.tensor(x, dtype=F64,
                                                                      requires_grad=True))
    c = engine.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    MulConstant.apply(c, 3.0).sum().backward()
    assert c.grad.data.tolist() == [3.0, 3.0]
    assert y.grad_fn.label() == "LegendrePolynomial3"


def test_function_ctx_and_no_grad():
    seen = {}

    class Probe(engine.autograd.Function):
        @staticmethod
        def forward(ctx, a, k, b):
            seen["needs"] = ctx.needs_input_grad
            seen["recording"] = engine.is_grad_enabled()
            return a * k + b

        @staticmethod
        def backward(ctx, g):
            return g * 2.0, None, g

    a = engine.tensor([1.0], requires_grad=True)
    b = engine.tensor([5.0])
    out = Probe.apply(a, 2.0, b)
    assert seen == {"needs": (True, False, False), "recording": False}
    assert out.requires_grad and out.data.tolist() == [7.0]
    with engine.no_grad():
        assert not Probe.apply(a, 2.0, b).requires_grad


def test_function_mistakes_are_named():
    class Wrong(engine.autograd.Function):
        @staticmethod
        def forward(ctx, a, k):
            return a * k

        @staticmethod
        def backward(ctx, g):
            return g * 2.0  # one gradient for two arguments

    a = engine.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"Wrong.backward returned 1 gradient\(s\) for 2 "
                                        r"forward argument\(s\)"):
        Wrong.apply(a, 2.0).sum().backward()

    class NotTensor(engine.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a.data * 2

    with pytest.raises(TypeError, match=r"NotTensor.forward returned a ndarray: return one "
                                        r"Tensor"):
        NotTensor.apply(a)
    x = engine.tensor([0.3], dtype=F64, requires_grad=True)
    with pytest.raises(RuntimeError, match="autograd.Function is not twice differentiable"):
        engine.grad(LegendrePolynomial3.apply(x).sum(), x, create_graph=True)
    with pytest.raises(TypeError, match=r"call LegendrePolynomial3.apply"):
        LegendrePolynomial3()


def test_function_matches_torch():
    torch = pytest.importorskip("torch")

    class TorchLegendre(torch.autograd.Function):
        forward = staticmethod(LegendrePolynomial3.forward)
        backward = staticmethod(LegendrePolynomial3.backward)

    x = np.linspace(-1.5, 1.5, 7)
    ours = engine.tensor(x, dtype=F64, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    (engine.tensor(2.0, dtype=F64) * LegendrePolynomial3.apply(ours)).sum().backward()
    (2.0 * TorchLegendre.apply(theirs)).sum().backward()
    np.testing.assert_allclose(LegendrePolynomial3.apply(ours).data,
                               TorchLegendre.apply(theirs).detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-14)


# -- "Classifying names with a character-level RNN": torch.Generator().manual_seed(2024) ----------
def test_generator_is_a_seeded_numpy_generator():
    g = engine.Generator().manual_seed(2024)
    assert isinstance(g, np.random.Generator) and g.initial_seed() == 2024
    np.testing.assert_array_equal(g.permutation(10), np.random.default_rng(2024).permutation(10))
    g.manual_seed(2024)  # reseeds in place
    np.testing.assert_array_equal(g.permutation(10), np.random.default_rng(2024).permutation(10))
    with pytest.raises(ValueError, match="Generator: stepgrad runs on the CPU only"):
        engine.Generator(device="cuda")


def test_random_split_with_a_generator_as_the_tutorial():
    from nn.data import TensorDataset, random_split
    ds = TensorDataset(engine.arange(20))
    a = random_split(ds, [.85, .15], generator=engine.Generator().manual_seed(2024))
    b = random_split(ds, [.85, .15], generator=engine.Generator().manual_seed(2024))
    assert [len(s) for s in a] == [17, 3]  # floor(20·0.85) = 17, by hand (PyTorch's sizes)
    assert list(a[0].indices) == list(b[0].indices)


def test_generator_split_sizes_match_torch():
    torch = pytest.importorskip("torch")
    from nn.data import TensorDataset, random_split
    for n, fr in ((20, [.85, .15]), (7, [.5, .5]), (10, [.34, .33, .33])):
        ours = random_split(TensorDataset(engine.arange(n)), fr,
                            generator=engine.Generator().manual_seed(1))
        theirs = torch.utils.data.random_split(torch.utils.data.TensorDataset(torch.arange(n)),
                                               fr, generator=torch.Generator().manual_seed(1))
        assert [len(s) for s in ours] == [len(s) for s in theirs]


# -- `import engine as torch`: torch.save, torch.optim, ... say where they live -------------------
def test_torch_names_kept_in_nn_say_where():
    for name, where in (("save", r"nn.save\(obj, path\)"), ("load", r"nn.load\(path\)"),
                        ("optim", r"nn.optim"), ("nn", r"the package nn"),
                        ("utils", r"nn.data for torch.utils.data"), ("Size", "a tuple here")):
        with pytest.raises(AttributeError, match=rf"no attribute '{name}': PyTorch's "
                                                 rf"torch.{name} is {where}"):
            getattr(engine, name)
    assert not hasattr(engine, "no_such_name")
    with pytest.raises(AttributeError, match=r"^module 'engine' has no attribute 'nope'$"):
        engine.nope  # noqa: B018


# -- "Learning PyTorch with examples": device= on the creation functions -------------------------
def test_creation_functions_take_a_cpu_device():
    import math
    device = engine.device("cpu")
    dtype = engine.float
    x = engine.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    a = engine.randn((), device=device, dtype=dtype, requires_grad=True)
    c = engine.full((), 0.3, device=device, dtype=dtype, requires_grad=True)
    assert x.shape == (2000,) and x.dtype == np.float32
    np.testing.assert_allclose(x.data[[0, -1]], [-math.pi, math.pi], rtol=1e-6)
    assert a.shape == () and a.requires_grad and c.item() == np.float32(0.3)
    one = engine.ones(2)
    for made in (engine.tensor([1.0], device="cpu"), engine.zeros(2, device=device),
                 engine.ones(2, device=device), engine.empty(2, device=device),
                 engine.eye(2, device=device), engine.arange(3, device=device),
                 engine.rand(2, device=device), engine.randint(0, 3, (2,), device=device),
                 engine.randperm(3, device=device), engine.zeros_like(one, device=device),
                 engine.ones_like(one, device=device), engine.full_like(one, 2.0, device=device),
                 engine.empty_like(one, device=device), engine.rand_like(one, device=device),
                 engine.randn_like(one, device=device), engine.normal(0.0, 1.0, (2,),
                                                                      device=device)):
        assert made.device == device
    with pytest.raises(ValueError, match="zeros: stepgrad runs on the CPU only, got "
                                         "device='cuda'"):
        engine.zeros(2, device="cuda")


def test_device_keyword_matches_torch():
    torch = pytest.importorskip("torch")
    ours = engine.linspace(-1.0, 1.0, 7, device=engine.device("cpu"), dtype=engine.float)
    theirs = torch.linspace(-1.0, 1.0, 7, device=torch.device("cpu"), dtype=torch.float)
    np.testing.assert_allclose(ours.data, theirs.numpy(), atol=1e-7)  # float32 rounding
    assert engine.full((), 0.3, device="cpu").item() == torch.full((), 0.3, device="cpu").item()


# -- PyTorch's size= keyword on the shape-taking creation functions -------------------------------
def test_size_keyword():
    for make in (engine.zeros, engine.ones, engine.empty, engine.rand, engine.randn):
        assert make(size=(2, 3)).shape == (2, 3)
        assert make(size=[4]).shape == (4,)
        assert make(size=()).shape == ()
    np.testing.assert_array_equal(engine.ones(size=(2, 2)).data, np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"zeros\(\): the shape is given twice"):
        engine.zeros(2, size=(3,))


def test_size_keyword_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ("zeros", "ones", "empty", "rand", "randn"):
        assert getattr(engine, name)(size=(2, 3)).shape == tuple(
            getattr(torch, name)(size=(2, 3)).shape)
