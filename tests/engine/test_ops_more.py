"""The long tail of ops (engine/ops/maths.py, activations.py, scans.py, indexing.py) beyond
the registry's property tests (test_ops.py: forward, first and second derivatives): the
Value path, error messages that name the alternative, PyTorch's indexing order, keyword
spellings and edge cases (zeros, huge inputs).

Comparisons with PyTorch itself are in test_torch_ops.py (skipped without torch); the tests
at the end (silent mismatches a sweep against PyTorch found) check values written by hand,
then compare with PyTorch when it is installed."""
import numpy as np
import pytest

import engine
from engine import Value


def t64(a, requires_grad=True):
    return engine.tensor(a, dtype=np.float64, requires_grad=requires_grad)


@pytest.mark.parametrize("method,x,expected,grad", [
    ("sin", 0.5, np.sin(0.5), np.cos(0.5)),
    ("atanh", 0.5, np.arctanh(0.5), 1 / 0.75),
    ("erf", 0.3, 0.3286267594591112, 2 / np.sqrt(np.pi) * np.exp(-0.09)),
    ("softplus", -1.0, np.log1p(np.exp(-1.0)), 1 / (1 + np.e)),
    ("log1p", 1e-10, 1e-10 - 5e-21, 1 / (1 + 1e-10)),
])
def test_value_graphs_run_the_new_ops(method, x, expected, grad):
    v = Value(x)
    y = getattr(v, method)()
    y.backward()
    assert y.data == pytest.approx(expected, rel=1e-12)
    assert v.grad == pytest.approx(grad, rel=1e-12)


def test_unknown_keyword_names_the_keyword_to_use():
    x = engine.ones(2, 3)
    with pytest.raises(TypeError, match=r"sum\(\) got an unexpected keyword argument 'axes': "
                                        r"use dim= \(it accepts dim=, keepdim=, axis="):
        x.sum(axes=1)
    with pytest.raises(TypeError, match=r"mean\(\) .*'keep_dims': use keepdim="):
        x.mean(keep_dims=True)
    with pytest.raises(TypeError, match=r"std\(\) .*'ddof': use correction="):
        x.std(ddof=1)
    with pytest.raises(TypeError, match=r"norm\(\) .*'ord': use p="):
        x.norm(ord=2)
    with pytest.raises(TypeError, match=r"cumsum\(\) missing the dim .*x.cumsum\(dim=0\)"):
        x.cumsum()


def test_unsupported_values_list_the_supported_ones():
    x = engine.ones(2, 3)
    with pytest.raises(ValueError, match=r"norm: p='nuc' is not supported .*'fro'"):
        x.norm("nuc")
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh'"):
        x.gelu("sigmoid")
    with pytest.raises(ValueError, match=r"div: rounding_mode must be None, 'trunc' or 'floor'"):
        x.div(2, rounding_mode="round")
    with pytest.raises(ValueError, match=r"meshgrid: indexing must be 'ij' or 'xy'"):
        engine.meshgrid(engine.ones(2), indexing="yx")


def test_indexing_follows_pytorchs_order_where_numpy_differs():
    x = t64(np.arange(24.0).reshape(2, 3, 4), requires_grad=False)
    # An int between a slice and an array: PyTorch selects first, the array dim stays last.
    out = x[0, :, [0, 2]]
    assert out.shape == (3, 2)  # numpy gives (2, 3)
    np.testing.assert_array_equal(out.data, np.arange(24.0).reshape(2, 3, 4)[0][:, [0, 2]])
    assert x[[0, 1], :, [0, 2]].shape == (2, 3)  # separated arrays: both put them first
    assert x[:, 1, [0, 2]].shape == (2, 2)       # adjacent: both keep them in place
    x[0, :, [0, 2]] = t64(-np.ones((3, 2)), requires_grad=False)
    assert (x.data[0][:, [0, 2]] == -1).all()


def test_scan_and_sort_return_named_pairs():
    x = t64([[3.0, 1.0, 2.0]])
    values, indices = x.sort(dim=1)
    assert values.tolist() == [[1.0, 2.0, 3.0]] and indices.tolist() == [[1, 2, 0]]
    assert x.topk(2).indices.tolist() == [[0, 2]]
    assert x.cummax(1).values.tolist() == [[3.0, 3.0, 3.0]]
    assert x.kthvalue(1, 1).values.tolist() == [1.0]


def test_prod_gradient_with_zeros_never_divides():
    x = t64([2.0, 0.0, 3.0, 0.0])
    x.prod().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.0]  # two zeros: every partial product is 0
    y = t64([2.0, 0.0, 3.0])
    y.prod().backward()
    assert y.grad.tolist() == [0.0, 6.0, 0.0]


def test_norm_gradient_at_zero_is_zero_like_pytorch():
    x = t64(np.zeros(3))
    x.norm().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_elu_and_logsigmoid_stay_finite_for_huge_inputs():
    x = t64([-1000.0, 1000.0])
    (x.elu() + x.logsigmoid() + x.softplus() + x.mish()).sum().backward()
    assert np.isfinite(x.grad.data).all()


def test_pad_reflect_matches_numpy_and_folds_the_gradient_back():
    x = t64(np.arange(4.0).reshape(1, 4))
    out = engine.ops.indexing.pad(x, (2, 1), "reflect")
    np.testing.assert_array_equal(out.data, np.pad(np.arange(4.0), (2, 1), mode="reflect")[None])
    out.sum().backward()
    assert x.grad.tolist() == [[1.0, 2.0, 3.0, 1.0]]  # 1 and 2 are mirrored, 2 twice over
    cropped = engine.ops.indexing.pad(x, (-1, -2))
    assert cropped.tolist() == [[1.0]]


def test_einsum_gradient_of_a_repeated_letter_and_of_a_summed_letter():
    a = t64(np.arange(9.0).reshape(3, 3))
    engine.einsum("ii->", a).backward()        # trace: identity gradient
    np.testing.assert_array_equal(a.grad.data, np.eye(3))
    b = t64(np.ones((2, 3)))
    engine.einsum("ij->j", b).backward(np.array([1.0, 2.0, 3.0]))  # i summed: broadcast back
    np.testing.assert_array_equal(b.grad.data, [[1, 2, 3], [1, 2, 3]])


def test_function_forms_and_aliases():
    x = t64([0.5, -0.25], requires_grad=False)
    np.testing.assert_allclose(engine.sin(x).data, np.sin([0.5, -0.25]))
    np.testing.assert_allclose(engine.arange(3).float().add(1, alpha=2).data, [2, 3, 4])
    assert engine.where(x > 0)[0].tolist() == [0]
    assert x.to("cpu") is x and x.to(np.float32).dtype == np.float32
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")
    with pytest.raises(ZeroDivisionError, match="remainder: integer division by zero"):
        engine.tensor([3]) % engine.tensor([0])


def test_named_products_check_ranks():
    with pytest.raises(ValueError, match=r"mm: expects 2-D @ 2-D tensors, got shapes \(3,\)"):
        engine.ones(3).mm(engine.ones(3, 2))
    with pytest.raises(ValueError, match=r"bmm: batch sizes differ"):
        engine.ones(2, 3, 4).bmm(engine.ones(3, 4, 2))


# -- silent mismatches found by a sweep against PyTorch: each test checks a value written by
# hand (so it means something without torch), then PyTorch itself where it is installed.
REDUCTIONS = ["sum", "mean", "amax", "amin", "var", "std", "norm", "nansum", "count_nonzero"]


@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_empty_dim_list_reduces_over_every_dim(name, dim):
    x = [[1.0, 0.0, 2.0], [3.0, 4.0, 8.0]]
    expected = {"sum": 18.0, "mean": 3.0, "amax": 8.0, "amin": 0.0, "var": 8.0,
                "std": np.sqrt(8.0), "norm": np.sqrt(94.0), "nansum": 18.0, "count_nonzero": 5}
    out = getattr(t64(x, False), name)(dim=dim)
    assert out.shape == () and out.item() == pytest.approx(expected[name])
    assert engine.ones(2, 3).sum(dim=dim).item() == 6.0
    assert engine.ones(2, 3).sum(axis=dim, keepdims=True).shape == (1, 1)
    torch = pytest.importorskip("torch")
    ref = getattr(torch.tensor(x, dtype=torch.float64), name)(dim=dim)
    assert out.item() == pytest.approx(ref.item())


@pytest.mark.parametrize("name", ["logsumexp", "prod"])
def test_empty_dim_list_is_refused_where_pytorch_refuses_it(name):
    with pytest.raises(ValueError, match=rf"{name}: dim=\(\) \(an empty list of dims\) is "
                                         rf"refused.*dim=None"):
        getattr(engine.ones(2, 3), name)(dim=())
    torch = pytest.importorskip("torch")
    with pytest.raises((RuntimeError, TypeError)):
        getattr(torch.ones(2, 3), name)(dim=())


@pytest.mark.parametrize("index", [np.s_[::-1], np.s_[:, ::-1], np.s_[1:0:-1]])
def test_negative_slice_steps_are_refused_naming_flip(index):
    x = engine.ones(2, 3)
    with pytest.raises(ValueError, match=r"getitem: step must be greater than zero.*x\.flip"):
        x[index]
    with pytest.raises(ValueError, match=r"setitem: step must be greater than zero.*x\.flip"):
        x[index] = 0.0
    assert x[::2].shape == (1, 3) and x[:, 1::2].shape == (2, 1)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="step must be greater than zero"):
        torch.ones(2, 3)[index]


def test_zero_slice_step_is_refused():
    with pytest.raises(ValueError, match="getitem: slice step cannot be zero"):
        engine.ones(3)[::0]


@pytest.mark.parametrize("exponent", [0, 0.0, "tensor"])
def test_pow_zero_gradient_has_the_input_shape(exponent):
    x = t64([[1.0, -2.0, 0.0], [3.0, 4.0, 5.0]])
    e = engine.tensor(0.0, dtype=np.float64) if exponent == "tensor" else exponent
    (x ** e).sum().backward()
    assert x.grad.shape == (2, 3) and x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, np.zeros((2, 3)))
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x.data, requires_grad=True)
    (tx ** (torch.tensor(0.0, dtype=torch.float64) if exponent == "tensor" else exponent)
     ).sum().backward()
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())


def test_std_of_a_constant_has_gradient_zero():
    x = t64([2.0, 2.0, 2.0])
    x.std().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])
    # per row: a constant row gets 0; the row [1, 2, 3] (std 1) gets (u − 2)/(2·1)
    y = t64([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    y.std(dim=1).sum().backward()
    np.testing.assert_allclose(y.grad.data, [[0, 0, 0], [-0.5, 0, 0.5]])
    v = t64([[1.0, 1.0], [1.0, 3.0]])
    v.var(dim=0, correction=0).sum().backward()   # d var/du = 2(u − mean)/n
    np.testing.assert_allclose(v.grad.data, [[0, -1], [0, 1]])
    s, _ = engine.std_mean(t64([5.0, 5.0]))
    s.backward()
    torch = pytest.importorskip("torch")
    for data, dim in (([2.0, 2.0, 2.0], None), ([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]], 1)):
        a, ta = t64(data), torch.tensor(data, dtype=torch.float64, requires_grad=True)
        a.std(dim=dim).sum().backward()
        ta.std(dim=dim).sum().backward()
        np.testing.assert_allclose(a.grad.data, ta.grad.numpy())


def _clamp_grads(lib, x, lo, hi):
    """out, x.grad, lo.grad, hi.grad of sum(clamp(x, lo, hi)) (None: no such bound)."""
    make = (lambda v: t64(v)) if lib is engine else (
        lambda v: lib.tensor(v, dtype=lib.float64, requires_grad=True))
    x = make(x)
    lo, hi = (None if v is None else make(v) for v in (lo, hi))
    out = x.clamp(min=lo, max=hi)
    out.sum().backward()
    return [np.asarray(t.detach().numpy() if hasattr(t, "detach") else t, float) if t is not None
            else None for t in (out, x.grad, None if lo is None else lo.grad,
                                None if hi is None else hi.grad)]


CLAMP_CASES = [([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], None),
               ([1.0, 2.0, 3.0], None, [2.0, 2.0, 2.0]),
               ([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 3.0, 3.0], [3.0, 3.0, 1.0, 3.0, 2.0])]


@pytest.mark.parametrize("x,lo,hi", CLAMP_CASES)
def test_clamp_tensor_bounds_get_gradients_where_they_are_the_result(x, lo, hi):
    got = _clamp_grads(engine, x, lo, hi)
    # by hand: the bound gets the gradient where it is the result (strictly: a tie goes to
    # x); with min > max the result is max, which gets it all.
    expected = {0: [[2, 2, 3], [0, 1, 1], [1, 0, 0], None],
                1: [[1, 2, 2], [1, 1, 0], None, [0, 0, 1]],
                2: [[1, 1, 1, 3, 2], [0, 1, 0, 1, 0], [1, 0, 0, 0, 0], [0, 0, 1, 0, 1]]}[
        CLAMP_CASES.index((x, lo, hi))]
    for g, e in zip(got, expected, strict=True):
        assert (g is None) == (e is None) and (e is None or np.array_equal(g, e))
    torch = pytest.importorskip("torch")
    for g, t in zip(got, _clamp_grads(torch, x, lo, hi), strict=True):
        assert (g is None) == (t is None) and (t is None or np.array_equal(g, t))


def test_clamp_gradient_reaches_a_bound_when_only_the_bound_requires_grad():
    x = engine.tensor([1.0, 2.0, 3.0])
    m = engine.tensor([[2.0], [1.0]], requires_grad=True)
    y = x.clamp(min=m)                      # broadcasts to (2, 3)
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [[2, 2, 3], [1, 2, 3]])
    np.testing.assert_array_equal(m.grad.data, [[1], [0]])


def test_integer_clamp_with_float_bounds_promotes_and_clamp_in_place_refuses():
    for out in (engine.tensor([1, 5, 3]).clamp(2.5), engine.tensor([1, 5, 3]).clip(2.5)):
        assert out.dtype == np.float32 and out.tolist() == [2.5, 5.0, 3.0]
    both = engine.tensor([1, 5, 3]).clip(2, 4.5)
    assert both.dtype == np.float32 and both.tolist() == [2.0, 4.5, 3.0]
    ints = engine.tensor([1, 5, 3]).clamp(2, 4)
    assert ints.dtype == np.int64 and ints.tolist() == [2, 4, 3]
    t = engine.tensor([1, 5, 3])
    with pytest.raises(RuntimeError, match="clamp_: result type float32 can't be cast to the "
                                           "desired output type int64"):
        t.clamp_(2.5)
    assert t.tolist() == [1, 5, 3]
    with pytest.raises(TypeError, match="at least one of min or max"):
        t.clamp()
    torch = pytest.importorskip("torch")
    ref = torch.tensor([1, 5, 3]).clamp(2.5)
    assert ref.dtype == torch.float32 and ref.tolist() == [2.5, 5.0, 3.0]
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.tensor([1, 5, 3]).clamp_(2.5)


def test_masked_fill_keeps_an_integer_tensors_dtype():
    mask = engine.tensor([True, False, True])
    out = engine.tensor([1, 5, 3]).masked_fill(mask, 2.7)
    assert out.dtype == np.int64 and out.tolist() == [2, 5, 2]
    flags = engine.tensor([False, False, True]).masked_fill(mask, 1)
    assert flags.dtype == bool and flags.tolist() == [True, False, True]
    torch = pytest.importorskip("torch")
    ref = torch.tensor([1, 5, 3]).masked_fill(torch.tensor([True, False, True]), 2.7)
    assert ref.dtype == torch.int64 and ref.tolist() == out.tolist()


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool])
def test_tril_and_triu_keep_the_dtype(dtype):
    x = engine.tensor(np.ones((2, 3), dtype))
    assert x.tril().dtype == x.triu(1).dtype == np.dtype(dtype)
    np.testing.assert_array_equal(x.tril().data, np.array([[1, 0, 0], [1, 1, 0]], dtype))
    np.testing.assert_array_equal(x.triu(1).data, np.array([[0, 1, 1], [0, 0, 1]], dtype))
    torch = pytest.importorskip("torch")
    tx = torch.from_numpy(np.ones((2, 3), dtype))
    np.testing.assert_array_equal(x.tril().data, tx.tril().numpy())
    assert str(tx.triu().dtype).split(".")[1] == {np.int64: "int64", np.int32: "int32",
                                                  bool: "bool"}[dtype]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.uint16, bool])
def test_sums_and_products_of_small_integers_are_int64(dtype):
    flags = dtype is bool
    x = engine.tensor(np.array([True, True, False] if flags else [100, 100, 1], dtype))
    total, product = (2, 0) if flags else (201, 10000)  # beyond int8's (and uint8's) range
    outs = (x.sum(), x.sum(dim=0, keepdim=True), x.prod(), x.cumsum(0), x.cumprod(0),
            x.nansum())
    assert all(o.dtype == np.int64 for o in outs)
    assert x.sum().item() == total and x.cumsum(0).tolist()[-1] == total
    assert x.prod().item() == product and x.sum(dim=0, keepdim=True).tolist() == [total]
    torch = pytest.importorskip("torch")
    tx = torch.from_numpy(x.data)
    for o, t in zip(outs, (tx.sum(), tx.sum(0, keepdim=True), tx.prod(), tx.cumsum(0),
                           tx.cumprod(0), tx.nansum()), strict=True):
        assert t.dtype == torch.int64 and o.tolist() == t.tolist()


def test_float16_sum_and_mean_accumulate_in_float32():
    x = engine.tensor([6e4, 6e4], dtype=np.float16)
    assert x.mean().dtype == np.float16 and x.mean().item() == 60000.0
    cols = engine.tensor([[6e4, 6e4], [6e4, -6e4], [-6e4, 6e4]], dtype=np.float16)
    assert cols.sum(0).tolist() == [60000.0, 60000.0]      # 6e4 + 6e4 = inf in float16
    assert cols.mean(0).tolist() == [20000.0, 20000.0]
    with np.errstate(over="ignore"):  # the result itself overflows, as in PyTorch
        assert x.sum().dtype == np.float16 and np.isinf(x.sum().item())
    torch = pytest.importorskip("torch")
    tc = torch.tensor(cols.data)
    assert tc.sum(0).tolist() == cols.sum(0).tolist()
    assert tc.mean(0).tolist() == cols.mean(0).tolist()
    assert torch.tensor(x.data).mean().item() == x.mean().item()


def test_chunk_of_an_empty_dim_gives_chunks_empty_pieces():
    assert [c.shape for c in engine.zeros(0).chunk(2)] == [(0,), (0,)]
    assert [c.shape for c in engine.zeros(3, 0).chunk(3, 1)] == [(3, 0)] * 3
    assert [c.shape for c in engine.zeros(3).chunk(2)] == [(2,), (1,)]
    torch = pytest.importorskip("torch")
    for n, k in ((0, 2), (0, 3), (3, 2), (5, 3)):
        assert [c.shape for c in engine.zeros(n, 2).chunk(k)] == \
            [tuple(c.shape) for c in torch.zeros(n, 2).chunk(k)]


def test_comparing_with_none_is_a_python_bool():
    t = engine.ones(3)
    assert (t == None) is False and (t != None) is True  # noqa: E711 (the point of the test)
    torch = pytest.importorskip("torch")
    assert (torch.ones(3) == None) is False  # noqa: E711


def test_uint8_index_is_a_boolean_mask_with_a_warning():
    x = engine.tensor([10.0, 20.0, 30.0], requires_grad=True)
    with pytest.warns(UserWarning, match="uint8 index is read as a boolean mask"):
        y = x[engine.tensor([1, 0, 1], dtype=np.uint8)]
    assert y.tolist() == [10.0, 30.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]
    m = engine.arange(6.0).reshape(2, 3)
    with pytest.warns(UserWarning):
        assert m[:, engine.tensor([1, 0, 1], dtype=np.uint8)].tolist() == [[0, 2], [3, 5]]
    z = engine.zeros(3)
    with pytest.raises(RuntimeError, match="setitem: a uint8 index is refused.*bool"):
        z[engine.tensor([1, 0, 1], dtype=np.uint8)] = 5.0
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning):
        ref = torch.tensor([10.0, 20.0, 30.0])[torch.tensor([1, 0, 1], dtype=torch.uint8)]
    assert ref.tolist() == y.tolist()
    with pytest.raises(RuntimeError):
        torch.zeros(3)[torch.tensor([1, 0, 1], dtype=torch.uint8)] = 5.0


# An index, mask or condition Tensor changed in place after the op used it: the gradient is
# the one of what the forward read (a copy is kept), never of the new values. PyTorch raises
# at backward for each of these; both refuse the silently wrong gradient.
def _index_cases(lib, leaf):
    """(name, run) pairs: each run builds y from x with an index/mask tensor, changes the
    index in place, backprops y·w and returns the leaves' gradients."""
    def where():
        x = leaf([1.0, -2.0, 3.0])
        m = x > 0
        y = lib.where(m, x * x, x * 0)
        m.fill_(True)
        y.sum().backward()
        return [x.grad]

    def getitem():
        x = leaf([1.0, 2.0, 3.0, 4.0])
        i = lib.tensor([0, 0, 3])
        y = x[i]
        i.fill_(1)
        (y * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
        return [x.grad]

    def bool_mask():
        x = leaf([1.0, 2.0, 3.0, 4.0])
        m = lib.tensor([True, False, True, False])
        y = x[m]
        m.fill_(True)
        (y * lib.tensor([1.0, 2.0], dtype=lib.float64)).sum().backward()
        return [x.grad]

    def gather():
        x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        i = lib.tensor([[0, 0], [2, 1]])
        y = x.gather(1, i)
        i.zero_()
        (y * y).sum().backward()
        return [x.grad]

    def index_select():
        x = leaf([1.0, 2.0, 3.0])
        i = lib.tensor([0, 2])
        y = x.index_select(0, i)
        i.fill_(1)
        (y * lib.tensor([1.0, 2.0], dtype=lib.float64)).sum().backward()
        return [x.grad]

    def scatter():
        x, s = leaf([1.0, 2.0, 3.0, 4.0]), leaf([1.0, 2.0])
        i = lib.tensor([0, 3])
        y = x.scatter(0, i, s)
        i.fill_(1)
        (y * lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)).sum().backward()
        return [x.grad, s.grad]

    def masked_fill():
        x = leaf([1.0, -2.0, 3.0])
        m = x > 0
        y = x.masked_fill(m, 0.0)
        m.fill_(True)
        (y * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
        return [x.grad]

    return {"where": where, "getitem": getitem, "bool_mask": bool_mask, "gather": gather,
            "index_select": index_select, "scatter": scatter, "masked_fill": masked_fill}


_INDEX_EXPECTED = {  # by hand, from the indices as they were in the forward
    "where": [[2.0, 0.0, 6.0]],                       # 2x where x > 0, else 0
    "getitem": [[3.0, 0.0, 0.0, 3.0]],                # x[0] taken twice (w 1 + 2), x[3] (w 3)
    "bool_mask": [[1.0, 0.0, 2.0, 0.0]],
    "gather": [[[4.0, 0.0, 0.0], [0.0, 10.0, 12.0]]],  # 2·x at (0,0) twice, (1,2), (1,1)
    "index_select": [[1.0, 0.0, 2.0]],
    "scatter": [[0.0, 2.0, 3.0, 0.0], [1.0, 4.0]],     # s lands at 0 and 3
    "masked_fill": [[0.0, 2.0, 0.0]],                  # filled where x > 0: no gradient
}


@pytest.mark.parametrize("name", sorted(_INDEX_EXPECTED))
def test_index_changed_in_place_after_use_keeps_the_forwards_gradient(name):
    grads = _index_cases(engine, t64)[name]()
    for got, want in zip(grads, _INDEX_EXPECTED[name], strict=True):
        np.testing.assert_array_equal(got.data, want)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _index_cases(torch, lambda a: torch.tensor(a, dtype=torch.float64,
                                                   requires_grad=True))[name]()


def test_creation_refuses_what_pytorch_refuses():
    for fn in (engine.randn, engine.rand):
        with pytest.raises(TypeError, match="floating point dtype, got int64.*randint"):
            fn(3, dtype=np.int64)
    with pytest.raises(TypeError, match="rand_like: dtype must be a floating point dtype"):
        engine.rand_like(engine.tensor([1, 2]))
    assert engine.randn(2, dtype=np.float64).dtype == np.float64
    for args in [(0, 1, -1), (1, 0, 1), (0.0, 1.0, -0.5), (-3,)]:
        with pytest.raises(RuntimeError, match="inconsistent with step sign"):
            engine.arange(*args)
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        engine.arange(0, 1, 0)
    assert engine.arange(1, 1, -1).shape == (0,) and engine.arange(3, 0, -1).tolist() == [3, 2, 1]
    for steps in (4.7, 4.0, True):
        with pytest.raises(TypeError, match="linspace: steps must be an int"):
            engine.linspace(0, 1, steps)
    with pytest.raises(RuntimeError, match="steps must be non-negative"):
        engine.linspace(0, 1, -1)
    assert engine.linspace(0, 1, engine.tensor(3)).tolist() == [0.0, 0.5, 1.0]
    torch = pytest.importorskip("torch")
    for fn in (torch.randn, torch.rand):
        with pytest.raises(NotImplementedError):
            fn(3, dtype=torch.int64)
    with pytest.raises(NotImplementedError):
        torch.rand_like(torch.tensor([1, 2]))
    for args in [(0, 1, -1), (1, 0, 1), (0.0, 1.0, -0.5), (-3,), (0, 1, 0)]:
        with pytest.raises(RuntimeError):
            torch.arange(*args)
    for steps in (4.7, 4.0, True):
        with pytest.raises(TypeError):
            torch.linspace(0, 1, steps)
    assert torch.arange(3, 0, -1).tolist() == [3, 2, 1]


def test_copy_casts_to_the_destination_dtype_and_sends_the_gradient_back_in_srcs():
    src = t64([1.5, -2.25])
    h = engine.zeros(2, dtype=np.float32)
    h.copy_(src * 2)
    assert h.dtype == np.float32 and h.tolist() == [3.0, -4.5]
    (h * engine.tensor([3.0, 4.0])).sum().backward()
    assert src.grad.dtype == np.float64 and src.grad.tolist() == [6.0, 8.0]  # 2·w
    i = engine.zeros(2, dtype=np.int64)
    i.copy_(t64([1.7, -2.7], requires_grad=False))
    assert i.tolist() == [1, -2]  # truncated toward zero
    f = engine.zeros(2)
    f.fill_(engine.tensor(2.5, dtype=np.float64))
    assert f.dtype == np.float32 and f.tolist() == [2.5, 2.5]
    with pytest.raises(RuntimeError, match="fill_: only supports a 0-dimension value"):
        f.fill_(engine.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="dtype mismatch"):  # other ops still never upcast
        engine.zeros(2) + engine.zeros(2, dtype=np.float64)
    torch = pytest.importorskip("torch")
    tsrc = torch.tensor([1.5, -2.25], dtype=torch.float64, requires_grad=True)
    th = torch.zeros(2)
    th.copy_(tsrc * 2)
    (th * torch.tensor([3.0, 4.0])).sum().backward()
    assert th.tolist() == h.tolist() and tsrc.grad.tolist() == src.grad.tolist()
    assert tsrc.grad.dtype == torch.float64
    ti = torch.zeros(2, dtype=torch.int64)
    ti.copy_(torch.tensor([1.7, -2.7], dtype=torch.float64))
    assert ti.tolist() == i.tolist()
    with pytest.raises(RuntimeError, match="0-dimension"):
        torch.zeros(2).fill_(torch.tensor([1.0, 2.0]))
