"""PyTorch's indexing/scatter long tail: scatter_reduce, index_put, index_copy, masked_scatter,
take_along_dim, put, unique_consecutive, nanmedian, msort, renorm and their in-place forms.
Against numpy references (loops written independently of the ops), gradcheck in float64
(hypothesis), and torch (values and gradients) where installed; bad input must fail naming
the op."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine

F64 = np.float64


def t64(a, grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=grad)


# --------------------------------------------------------------- the in-place machinery
def test_inplace_method_records_when_only_an_argument_requires_grad():
    # x does not require grad, y does: the write must be recorded (PyTorch's x.lerp_(y, w)
    # makes x require grad), not done under no_grad with y's gradient silently lost.
    y, w = t64([3.0, 5.0], True), t64([0.25, 0.5], True)
    x = t64([1.0, 2.0])
    assert x.lerp_(y, 0.5) is x and x.requires_grad
    (x * t64([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [0.5, 5.0])  # d lerp / d end = weight
    x = t64([1.0, 2.0])
    x.lerp_(y, weight=w)  # a tensor passed by keyword is seen too
    x.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 3.0])  # end − start


def test_setitem_with_repeated_indices_gives_the_gradient_to_the_value_kept():
    # out[[0, 0]] = [a, b] keeps b (numpy's last write): d out / d a = 0. PyTorch calls the
    # result undefined and hands both a and b the gradient of out[0].
    x = t64(np.zeros(3))
    v = t64([3.0, 5.0], True)
    x[[0, 0, 2]] = engine.cat([v, t64([7.0])])
    np.testing.assert_array_equal(x.data, [5.0, 0.0, 7.0])
    (x * t64([2.0, 1.0, 1.0])).sum().backward()
    np.testing.assert_array_equal(v.grad.data, [0.0, 2.0])
    # a broadcast value written twice: each of its entries reaches out once per kept row
    row = t64([1.0, 2.0], True)
    y = t64(np.zeros((3, 2)))
    y[[0, 2, 0]] = row
    y.sum().backward()
    np.testing.assert_array_equal(row.grad.data, [2.0, 2.0])

    def f(v):
        z = t64(np.zeros((3, 2)))
        z[[1, 0, 1, 1]] = v
        return z * t64(np.arange(6.0).reshape(3, 2))
    assert engine.gradcheck(f, t64(np.random.default_rng(0).standard_normal((4, 2)), True))


# ------------------------------------------------------------------------ shared helpers
REDUCES = ("sum", "prod", "mean", "amax", "amin")
nan = float("nan")


def grid(rng, shape, offset):
    """Integers + offset + a jitter below 0.15: draws with offsets 0.25 and 0.75 never tie,
    and within one draw ties have probability 0 (amax/amin away from their kinks)."""
    return rng.integers(-3, 3, size=shape) + offset + rng.uniform(0, 0.15, size=shape)


def scatter_case(rng, reduce, zeros=False, bigger_src=True):
    """x, dim, index, src for scatter_reduce: repeats in the index; src may be larger than
    the index (only its corner is read); amax/amin values never tie; ``zeros`` plants
    exact zeros (several per place too) for prod."""
    ndim = int(rng.integers(1, 4))
    shape = [int(n) for n in rng.integers(1, 4, size=ndim)]
    dim = int(rng.integers(-ndim, ndim))
    ishape = [int(rng.integers(1, n + 1)) for n in shape]
    ishape[dim] = int(rng.integers(1, 6))
    index = rng.integers(0, shape[dim], size=ishape)
    sshape = [n + int(bigger_src and rng.random() < 0.3) for n in ishape]
    if reduce in ("amax", "amin"):
        x, src = grid(rng, shape, 0.25), grid(rng, sshape, 0.75)
    else:
        x, src = rng.standard_normal(shape), rng.standard_normal(sshape)
    if zeros:
        x = np.where(rng.random(shape) < 0.3, 0.0, x)
        src = np.where(rng.random(sshape) < 0.4, 0.0, src)
    return x, dim, index, src


def reference(x, dim, index, src, reduce, include_self):
    """The definition, place by place: the values reaching each place, then reduced."""
    dim %= x.ndim
    lists = {p: [x[p]] if include_self else [] for p in np.ndindex(x.shape)}
    for i in np.ndindex(index.shape):
        p = list(i)
        p[dim] = index[i]
        lists[tuple(p)].append(src[i])
    out = x.copy()
    for p, vals in lists.items():
        if not vals:
            continue
        if reduce == "mean" and x.dtype.kind in "iu":  # integer mean: rounded down
            out[p] = np.floor_divide(sum(int(v) for v in vals), len(vals))
        else:
            out[p] = {"sum": sum, "prod": np.prod, "mean": np.mean, "amax": max,
                      "amin": min}[reduce](vals)
    return out


def torch_grads(torch, fn, arrays, g, kwargs=None):
    """fn's value and the gradients of (fn · g).sum() w.r.t. each array, in torch."""
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts, **(kwargs or {}))
    (out * torch.tensor(g)).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def ours_grads(fn, arrays, g, kwargs=None):
    ts = [t64(a, True) for a in arrays]
    out = fn(*ts, **(kwargs or {}))
    out.backward(g)
    return out.data, [t.grad.data for t in ts]


def assert_close(a, b, rtol=1e-12, atol=1e-13):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


# ------------------------------------------------------------------------- scatter_reduce
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
@given(seed=st.integers(0, 2**32 - 1))
def test_scatter_reduce_matches_the_definition(reduce, include_self, seed):
    rng = np.random.default_rng(seed)
    x, dim, index, src = scatter_case(rng, reduce, zeros=reduce == "prod")
    out = t64(x).scatter_reduce(dim, engine.tensor(index), t64(src), reduce,
                                include_self=include_self)
    assert out.dtype == F64 and out.shape == x.shape
    assert_close(out.data, reference(x, dim, index, src, reduce, include_self))
    if reduce != "mean" or rng.random() < 0.5:  # integers: the same rule, an int result
        xi, si = rng.integers(-9, 9, size=x.shape), rng.integers(-9, 9, size=src.shape)
        got = engine.tensor(xi).scatter_reduce(dim, index, engine.tensor(si), reduce,
                                               include_self=include_self)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got.data, reference(xi, dim, index, si, reduce,
                                                          include_self))


@pytest.mark.parametrize("reduce", REDUCES)
@given(seed=st.integers(0, 2**32 - 1))
def test_scatter_reduce_gradients_match_finite_differences(reduce, seed):
    # x and src both; prod with exact zeros, one or several per place (no division by them)
    rng = np.random.default_rng(seed)
    x, dim, index, src = scatter_case(rng, reduce, zeros=reduce == "prod")
    include_self = bool(rng.integers(0, 2))
    assert engine.gradcheck(lambda a, b: a.scatter_reduce(dim, index, b, reduce,
                                                          include_self=include_self),
                            t64(x, True), t64(src, True))


def test_scatter_reduce_prod_second_derivatives_with_one_zero_and_refusal_with_two():
    x, index = t64([2.0, 3.0], True), np.array([0, 0, 1, 1])
    one_zero = t64([0.0, 5.0, 1.5, -2.0], True)
    assert engine.gradgradcheck(lambda a, b: a.scatter_reduce(0, index, b, "prod"), x,
                                one_zero)
    two = t64([0.0, 0.0, 1.5, -2.0], True)
    y = x.scatter_reduce(0, index, two, "prod")
    g, = engine.grad(y.sum(), [two])  # first derivatives are fine: 0, 0 and the products
    np.testing.assert_array_equal(g.data, [0.0, 0.0, 3.0 * -2.0, 3.0 * 1.5])
    with pytest.raises(RuntimeError, match=r"scatter_reduce: second derivatives .*'prod'.*two "
                                           r"or more zeros of src"):
        engine.grad(x.scatter_reduce(0, index, two, "prod").sum(), [two], create_graph=True)


def test_scatter_reduce_ties_share_the_gradient_evenly():
    # amax: x's 3 and two of src's 3s tie at place 0 (include_self): a third each
    x, src = t64([3.0, 2.0], True), t64([3.0, 3.0, 1.0, 7.0], True)
    x.scatter_reduce(0, np.array([0, 0, 0, 1]), src, "amax").sum().backward()
    np.testing.assert_allclose(x.grad.data, [1 / 3, 0.0])
    np.testing.assert_allclose(src.grad.data, [1 / 3, 1 / 3, 0.0, 1.0])
    # include_self=False: x's value is left out, also when it equals the result. The two
    # src ties get half each (PyTorch 2.13 counts x as a third one there and gives 1/3
    # each, so the gradients no longer add up to the upstream one).
    x, src = t64([3.0, 0.0], True), t64([3.0, 3.0], True)
    x.scatter_reduce(0, np.array([0, 0]), src, "amax", include_self=False).sum().backward()
    np.testing.assert_array_equal(src.grad.data, [0.5, 0.5])
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0])


def test_scatter_reduce_reads_only_the_index_corner_of_src():
    # src larger than the index: the rest is unread, its gradient 0 (PyTorch refuses the
    # backward there; the forward is the same)
    x, src = t64(np.zeros(3), True), t64([1.0, 2.0, 4.0, 8.0], True)
    out = x.scatter_reduce(0, np.array([2, 2]), src, "sum")
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 3.0])
    (out * t64([1.0, 2.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(src.grad.data, [5.0, 5.0, 0.0, 0.0])


def test_scatter_reduce_integer_bool_and_zero_dim_rules():
    # integer mean rounds down (PyTorch: (-1 + -2) / 2 = -2); uint8 sums wrap
    got = engine.tensor([-1, 2]).scatter_reduce(0, np.array([0]), engine.tensor([-2]), "mean")
    assert got.tolist() == [-2, 2]
    u8 = engine.tensor(np.array([1, 2], np.uint8))
    got = u8.scatter_reduce(0, np.array([0, 0]), engine.tensor(np.array([200, 200], np.uint8)),
                            "mean")
    assert got.dtype == np.uint8 and got.tolist() == [(1 + 400 - 256) // 3, 2]
    b = engine.tensor([True, False])
    assert b.scatter_reduce(0, np.array([1]), engine.tensor([True]), "amax").tolist() == \
        [True, True]
    assert b.scatter_reduce(0, np.array([0]), engine.tensor([False]), "prod").tolist() == \
        [False, False]
    with pytest.raises(TypeError, match="scatter_reduce: reduce='mean' is not defined for bool"):
        b.scatter_reduce(0, np.array([1]), engine.tensor([True]), "mean")
    s = engine.scatter_reduce(t64(2.0), 0, engine.tensor(0), t64(5.0), "sum")
    assert s.shape == () and s.item() == 7.0
    # NaN wins amax and amin, as in PyTorch
    assert np.isnan(t64([1.0, 2.0]).scatter_reduce(0, np.array([0]), t64([nan]), "amin")[0]
                    .item())


def test_scatter_reduce_refusals_name_the_op():
    x = engine.ones(2, 3)
    one = np.array([[0]])
    with pytest.raises(ValueError, match=r"scatter_reduce: reduce must be one of 'sum', "
                                         r"'prod', 'mean', 'amax', 'amin', got 'max' "
                                         r"\(PyTorch's name for it is 'amax'\)"):
        x.scatter_reduce(1, one, engine.ones(1, 1), "max")
    with pytest.raises(ValueError, match="got 'median'"):
        x.scatter_reduce(1, one, engine.ones(1, 1), "median")
    with pytest.raises(IndexError, match=r"scatter_reduce: index -1 is out of bounds for dim "
                                         r"1 with size 3 \(input shape \(2, 3\)\)"):
        x.scatter_reduce(1, np.array([[-1]]), engine.ones(1, 1), "sum")
    with pytest.raises(TypeError, match="scatter_reduce: the index must be an integer tensor"):
        x.scatter_reduce(1, engine.tensor([[0.0]]), engine.ones(1, 1), "sum")
    with pytest.raises(TypeError, match="scatter_reduce: expected self and src to have the "
                                        "same dtype, got float32 and int64"):
        x.scatter_reduce(1, one, engine.tensor([[1]]), "sum")
    with pytest.raises(ValueError, match=r"scatter_reduce: index of shape \(1, 2\) is larger "
                                         r"than src of shape \(1, 1\)"):
        x.scatter_reduce(1, np.array([[0, 1]]), engine.ones(1, 1), "sum")
    with pytest.raises(IndexError, match="scatter_reduce: dim 2 is out of range"):
        x.scatter_reduce(2, one, engine.ones(1, 1), "sum")
    with pytest.raises(TypeError):  # include_self is keyword-only, as in PyTorch
        x.scatter_reduce(1, one, engine.ones(1, 1), "sum", False)


def test_scatter_reduce_in_place():
    x = t64([1.0, 2.0, 3.0])
    src = t64([4.0, 5.0], True)
    assert x.scatter_reduce_(0, np.array([0, 0]), src, "prod") is x and x._version == 1
    np.testing.assert_array_equal(x.data, [20.0, 2.0, 3.0])
    x.sum().backward()  # recorded although only src requires grad
    np.testing.assert_array_equal(src.grad.data, [5.0, 4.0])
    with pytest.raises(RuntimeError, match="scatter_reduce_: a leaf Variable that requires "
                                           "grad"):
        t64([1.0], True).scatter_reduce_(0, np.array([0]), t64([1.0]), "sum")
    with engine.no_grad():
        leaf = t64([1.0, 1.0], True)
        leaf.scatter_reduce_(0, np.array([1]), t64([5.0]), "amax", include_self=False)
    np.testing.assert_array_equal(leaf.data, [1.0, 5.0])


def test_scatter_reduce_matches_torch_for_every_reduce_and_include_self():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    for reduce in REDUCES:
        for include_self in (True, False):
            for _ in range(12):
                x, dim, index, src = scatter_case(rng, reduce, zeros=reduce == "prod",
                                                  bigger_src=False)
                g = rng.standard_normal(x.shape)
                args = dict(d=dim, i=index, r=reduce, s=include_self)
                mine = ours_grads(lambda a, b, d, i, r, s: a.scatter_reduce(
                    d, i, b, r, include_self=s), [x, src], g, args)
                theirs = torch_grads(torch, lambda a, b, d, i, r, s: a.scatter_reduce(
                    d, torch.tensor(i), b, r, include_self=s), [x, src], g, args)
                assert_close(mine[0], theirs[0])
                for ours, ref in zip(mine[1], theirs[1], strict=True):
                    assert_close(ours, ref, rtol=1e-10, atol=1e-12)


def test_scatter_reduce_ties_and_integers_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    for reduce in ("amax", "amin"):
        for include_self in (True, False):
            for _ in range(10):
                # integer values: ties among src, and with x when x is included; with
                # include_self=False x sits between the integers, so it never equals a
                # result (where PyTorch's count differs, see the ties test above)
                x = rng.integers(-2, 3, size=(3, 4)) + (0.0 if include_self else 0.5)
                index = rng.integers(0, 3, size=(5, 4))
                src = rng.integers(-2, 3, size=(5, 4)).astype(float)
                g = rng.standard_normal(x.shape)
                args = dict(i=index, r=reduce, s=include_self)
                mine = ours_grads(lambda a, b, i, r, s: a.scatter_reduce(
                    0, i, b, r, include_self=s), [x, src], g, args)
                theirs = torch_grads(torch, lambda a, b, i, r, s: a.scatter_reduce(
                    0, torch.tensor(i), b, r, include_self=s), [x, src], g, args)
                for ours, ref in zip([mine[0], *mine[1]], [theirs[0], *theirs[1]],
                                     strict=True):
                    assert_close(ours, ref)
    for reduce in REDUCES:
        for dtype in (np.int64, np.uint8):
            x, src = rng.integers(0, 200, size=6).astype(dtype), rng.integers(
                0, 200, size=8).astype(dtype)
            index = rng.integers(0, 6, size=8)
            for include_self in (True, False):
                ours = engine.tensor(x).scatter_reduce(0, index, engine.tensor(src), reduce,
                                                       include_self=include_self)
                ref = torch.tensor(x).scatter_reduce(0, torch.tensor(index), torch.tensor(src),
                                                     reduce, include_self=include_self)
                np.testing.assert_array_equal(ours.data, ref.numpy())
