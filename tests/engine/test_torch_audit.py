"""Regression tests from an audit against PyTorch: each case was silently different from
PyTorch (a value, shape or gradient) and now matches it or raises. Expected values come from
PyTorch when it is importable, else are derived by hand in the test."""
import warnings

import numpy as np
import pytest

import engine


def _torch():
    return pytest.importorskip("torch")


def test_nested_list_index_is_a_tuple_as_pytorch():
    # PyTorch reads x[[[0, 1], [2, 3]]] as x[[0, 1], [2, 3]] (two index arrays): values
    # x[0, 2] and x[1, 3]; numpy's reading gave a (2, 2, 6) block.
    x = engine.arange(24).reshape(4, 6)
    with pytest.warns(UserWarning, match="tuple"):
        out = x[[[0, 1], [2, 3]]]
    assert out.tolist() == [2, 9]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert x[[[0, 1]]].shape == (2, 6)                      # x[[0, 1]]
        assert x[[engine.tensor(0), 1]].item() == 1             # x[0, 1]
        assert x[[0, slice(None)]].tolist() == list(range(6))   # x[0, :]
        y = engine.zeros(4, 6)
        y[[[0, 1], [2, 3]]] = 1.0
    assert y.sum().item() == 2.0 and y[0, 2].item() == 1.0 and y[1, 3].item() == 1.0
    assert x[[0, 1]].shape == (2, 6)  # a flat list stays one index array, no warning


def test_var_std_positional_order_is_dim_unbiased_keepdim():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    x = engine.tensor(a, dtype=np.float64)
    for fn, ref in (("var", np.var), ("std", np.std)):
        out = getattr(x, fn)(0, True)  # torch: dim=0, unbiased=True (not keepdim)
        assert out.shape == (4,)
        np.testing.assert_allclose(out.data, ref(a, axis=0, ddof=1))
        out = getattr(x, fn)(1, False, True)  # dim=1, unbiased=False, keepdim=True
        assert out.shape == (3, 1)
        np.testing.assert_allclose(out.data, ref(a, axis=1, ddof=0, keepdims=True))
        np.testing.assert_allclose(getattr(engine, fn)(x, 0, False).data, ref(a, axis=0))
        with pytest.raises(TypeError, match="not both"):
            getattr(x, fn)(0, unbiased=True, correction=0)


def test_median_all_shares_the_gradient_between_ties():
    # torch: median() with no dim spreads the gradient evenly over the elements equal to it.
    x = engine.tensor([[1.0, 3, 3, 2], [2, 2, 1, 1], [0, 0, 0, 0]], requires_grad=True)
    m = x.median()
    assert m.item() == 1.0
    m.backward()
    expected = np.zeros((3, 4))
    expected[0, 0] = expected[1, 2] = expected[1, 3] = 1 / 3
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-6)


def test_sign_of_nan_is_zero():
    out = engine.tensor([float("nan"), -2.0, 0.0, 3.0]).sign()
    assert out.tolist() == [0.0, -1.0, 0.0, 1.0]
    torch = _torch()
    t = torch.tensor([float("nan"), -2.0]).sign()
    assert t.tolist() == out.tolist()[:2]


def test_where_with_two_numbers():
    # torch.where(cond, 1.0, 0.0) is a float32 tensor; (1, 0) int64. Was a TypeError from
    # inside as_tensor.
    cond = engine.tensor([1.0, -2.0, 3.0]) > 0
    out = engine.where(cond, 1.0, 0.0)
    assert out.dtype == np.float32 and out.tolist() == [1.0, 0.0, 1.0]
    out = engine.where(cond, 1, 0)
    assert out.dtype == np.int64 and out.tolist() == [1, 0, 1]


def test_diagonal_is_a_view_as_in_pytorch():
    # A.diagonal().add_(lam) (ridge) and x.diagonal().fill_(0) write into A in PyTorch; the
    # diagonal was a copy, so the write was silently lost.
    a = engine.zeros(3, 4)
    a.diagonal().add_(2.0)
    a.diagonal(1).fill_(5.0)
    expected = np.zeros((3, 4), np.float32)
    expected[[0, 1, 2], [0, 1, 2]] = 2.0
    expected[[0, 1, 2], [1, 2, 3]] = 5.0
    np.testing.assert_array_equal(a.data, expected)
    b = engine.arange(24.0).reshape(2, 3, 4)
    b.diagonal(-1, 2, 1).zero_()  # dim2 index − dim1 index = −1: entries [:, k, k + 1]
    assert b[:, 0, 1].tolist() == b[:, 1, 2].tolist() == b[:, 2, 3].tolist() == [0.0, 0.0]
    assert b.sum().item() == 276.0 - (1 + 6 + 11 + 13 + 18 + 23)
    # gradient (and its gradient) unchanged: 1 on the diagonal's places
    x = engine.randn(3, 4, dtype=np.float64, requires_grad=True)
    (x.diagonal(1) * engine.tensor([1.0, 2.0, 3.0], dtype=np.float64)).sum().backward()
    g = np.zeros((3, 4))
    g[[0, 1, 2], [1, 2, 3]] = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(x.grad.data, g)
    assert engine.gradgradcheck(lambda t: t.diagonal(1, 0, 2).pow(3).sum(),
                                engine.randn(2, 3, 4, dtype=np.float64, requires_grad=True))


def test_zero_dim_int_tensor_takes_the_dimensioned_dtype():
    # PyTorch: a 0-d tensor does not widen a same-kind tensor with dims (numpy's rule would
    # make int32 + tensor(2) int64).
    a = engine.tensor([1, 2], dtype=np.int32)
    assert (a + engine.tensor(2)).dtype == np.int32
    assert (engine.tensor(2) * a).dtype == np.int32
    assert (engine.tensor(1, dtype=np.int32) + engine.tensor([1], dtype=np.int8)).dtype == np.int8
    assert (engine.tensor([True]) + engine.tensor(2)).dtype == np.int64  # a higher kind joins
    assert (engine.tensor([1], dtype=np.uint8) + engine.tensor(-1)).tolist() == [0]  # wraps
    assert (engine.tensor(2) + engine.tensor(3, dtype=np.int32)).dtype == np.int64  # both 0-d


def test_atan2_gradient_at_the_origin_is_zero():
    # PyTorch gives 0 for both gradients at y = x = 0 (0/0 made NaN, which then spread
    # through every parameter upstream).
    y = engine.tensor([0.0, 1.0, 0.0], requires_grad=True)
    x = engine.tensor([0.0, 0.0, -2.0], requires_grad=True)
    y.atan2(x).sum().backward()
    np.testing.assert_allclose(y.grad.data, [0.0, 0.0, -0.5])
    np.testing.assert_allclose(x.grad.data, [0.0, -1.0, 0.0])


def test_tensor_constructor_with_int_sizes_is_refused():
    # torch.Tensor(3) is an uninitialized tensor of shape (3,); here it was the number 3.
    with pytest.raises(TypeError, match=r"engine\.zeros\(3\)"):
        engine.Tensor(3)
    with pytest.raises(TypeError, match=r"engine\.zeros\(3, 4\)"):
        engine.Tensor(3, 4)
    assert engine.Tensor(3.0).item() == 3.0  # data other than a bare int is unchanged
    assert engine.Tensor([1.0], True).requires_grad


VIEW_CASES = [  # (how the source is made from a (4, 6) tensor, the shape asked of view)
    ("t", (-1,)), ("t", (6, 2, 2)), ("t", (3, 2, 4)), ("t", (6, 4, 1)), ("t", (1, 6, 4)),
    ("cols", (4, 3)), ("cols", (2, 2, 3)), ("cols", (12,)), ("rows", (6, 2)),
    ("every_other", (2, 2, 3)), ("every_other", (12,)), ("plain", (3, 8)),
    ("permute3", (2, 12)), ("permute3", (6, 2, 2)), ("permute3", (3, 2, 4)),
]


def _view_source(lib, kind):
    base = lib.arange(24.0).reshape(4, 6)
    return {"t": lambda: base.T, "cols": lambda: base[:, :3], "rows": lambda: base[1:3],
            "every_other": lambda: base[:, ::2], "plain": lambda: base,
            "permute3": lambda: base.reshape(2, 3, 4).permute(2, 0, 1)}[kind](), base


@pytest.mark.parametrize("kind,shape", VIEW_CASES, ids=[f"{k}-{s}" for k, s in VIEW_CASES])
def test_view_refuses_where_pytorch_refuses_and_shares_memory_where_it_views(kind, shape):
    """``x.T.view(-1)`` silently copied (``view`` was ``reshape``), so writes through it missed
    x; PyTorch refuses it. Now each view PyTorch can make is made (a write through it reaches
    the source, as in PyTorch) and each it refuses is refused with its message."""
    torch = _torch()
    tsrc, tbase = _view_source(torch, kind)
    osrc, obase = _view_source(engine, kind)
    try:
        tview = tsrc.view(*shape)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="view size is not compatible.*reshape"):
            osrc.view(*shape)
        assert tuple(osrc.reshape(*shape).shape) == tuple(tsrc.reshape(*shape).shape)
        return
    oview = osrc.view(*shape)
    assert tuple(oview.shape) == tuple(tview.shape)
    np.testing.assert_array_equal(oview.data, tview.numpy())
    with engine.no_grad():
        oview.add_(100)
    tview.add_(100)
    np.testing.assert_array_equal(obase.data, tbase.numpy())


@pytest.mark.parametrize("write,torch_refuses", [
    (lambda t: t.add_(1), True), (lambda t: t.mul_(3), True),
    (lambda t: t.__setitem__((0, 0), 5.0), False), (lambda t: t.fill_(2.0), False)],
    ids=["add_", "mul_", "setitem", "fill_"])
def test_writes_into_an_expanded_tensor_are_refused(write, torch_refuses):
    """An expand()ed tensor's rows share memory: PyTorch refuses the in-place ops that read
    it ("more than one element of the written-to tensor refers to a single memory location
    … clone()") and lets plain writes change every row sharing the element; stepgrad said
    numpy's "assignment destination is read-only". Now PyTorch's refusal and advice, for
    every write (loud where PyTorch would change several rows at once); the clone takes it."""
    torch = _torch()
    if torch_refuses:
        with pytest.raises(RuntimeError, match="single memory location"):
            write(torch.zeros(1, 3).expand(2, 3))
    with pytest.raises(RuntimeError, match="single memory location.*clone()"):
        write(engine.zeros(1, 3).expand(2, 3))
    c = engine.zeros(1, 3).expand(2, 3).clone()
    write(c)
    t = torch.zeros(1, 3).expand(2, 3).clone()
    write(t)
    np.testing.assert_array_equal(c.data, t.numpy())


AUGMENTED = [  # (statement, start, operand, expected: the math, written out)
    ("x **= y", [1.0, 2.0, 3.0], 2, [1.0, 4.0, 9.0]),
    ("x //= y", [5, -6, 7], 2, [2, -3, 3]),
    ("x %= y", [5, -6, 7], 4, [1, 2, 3]),          # the divisor's sign, as Python's %
    ("x &= y", [True, True, False], [True, False, False], [True, False, False]),
    ("x |= y", [True, False, False], [False, False, True], [True, False, True]),
    ("x ^= y", [True, False, True], [True, True, False], [False, True, True]),
]


@pytest.mark.parametrize("stmt,start,operand,expected", AUGMENTED,
                         ids=[a[0] for a in AUGMENTED])
def test_augmented_assignments_write_into_the_tensor(stmt, start, operand, expected):
    """``x **= 2`` (and //=, %=, &=, |=, ^=) rebound x to a new tensor: a view of x, or any
    other name for it (an optimizer's list, a model's attribute), silently kept the old
    values. PyTorch writes into x, as for += and *=."""
    def apply(lib):
        x = lib.tensor(start)
        alias, view = x, x[1:]
        scope = {"x": x, "y": lib.tensor(operand) if isinstance(operand, list) else operand}
        exec(stmt, scope)
        assert scope["x"] is alias
        return alias.tolist(), view.tolist()
    assert apply(engine) == (expected, expected[1:])
    torch = pytest.importorskip("torch")
    assert apply(torch) == (expected, expected[1:])


def test_augmented_power_of_a_leaf_that_requires_grad_is_refused():
    # It silently made w a new non-leaf: the optimizer kept stepping the old w. PyTorch
    # refuses, as it does for w += 1; under no_grad both write into w.
    w = engine.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w **= 2
    with engine.no_grad():
        w **= 2
    assert w.is_leaf and w.tolist() == [1.0, 4.0]
    x = engine.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):  # int64 **= 0.5: PyTorch's error
        x **= 0.5


def test_short_char_byte_are_casts():
    # x.short() returned the node's label, a str ('<tensor (2,)>'); PyTorch's is a cast to
    # int16 (char: int8, byte: uint8), truncating toward zero like every float-to-int cast.
    x = engine.tensor([-1.7, 2.5, 100.9])
    for method, dtype, expected in (("short", np.int16, [-1, 2, 100]),
                                    ("char", np.int8, [-1, 2, 100])):
        out = getattr(x, method)()
        assert out.dtype == dtype and out.tolist() == expected
    assert x[1:].byte().dtype == np.uint8 and x[1:].byte().tolist() == [2, 100]
    torch = pytest.importorskip("torch")
    t = torch.tensor([-1.7, 2.5, 100.9])
    for method, dtype in (("short", torch.int16), ("char", torch.int8)):
        assert getattr(t, method)().dtype == dtype
        assert getattr(t, method)().tolist() == getattr(x, method)().tolist()
    assert t[1:].byte().dtype == torch.uint8 and t[1:].byte().tolist() == [2, 100]


@pytest.mark.parametrize("which", ["max", "min"])
def test_max_min_along_dim_0_of_a_zero_dim_tensor(which):
    # x.max(0) on a 0-d tensor ended in "IndexError: tuple index out of range" from inside
    # gather; PyTorch reads the 0-d tensor as one dim of size 1: (x, 0), both 0-d.
    x = engine.tensor(1.5, requires_grad=True)
    for dim in (0, -1):
        values, indices = getattr(x, which)(dim)
        assert values.shape == () and indices.shape == ()
        assert values.item() == 1.5 and indices.item() == 0
    values.backward()
    assert x.grad.item() == 1.0
    with pytest.raises(IndexError):
        getattr(x, which)(1)
    torch = pytest.importorskip("torch")
    t = getattr(torch.tensor(1.5), which)(0)
    assert (t.values.item(), t.indices.item()) == (1.5, 0)
