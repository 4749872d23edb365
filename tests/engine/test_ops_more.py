"""The long tail of ops (engine/ops/maths.py, activations.py, scans.py, indexing.py) beyond
the registry's property tests (test_ops.py: forward, first and second derivatives): the
Value path, error messages that name the alternative, PyTorch's indexing order, keyword
spellings and edge cases (zeros, huge inputs).

Comparisons with PyTorch itself are in test_torch_ops.py (skipped without torch)."""
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
