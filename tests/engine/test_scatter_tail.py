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


# ------------------------------------------------ index_put, index_copy, put, masked_scatter
def test_index_put_against_numpy_repeats_keep_the_last_value_or_add_up():
    x = np.arange(12.0).reshape(3, 4)
    rows, cols = np.array([0, 2, 0, -1]), np.array([1, 3, 1, 0])
    v = np.array([10.0, 20.0, 30.0, 40.0])
    want = x.copy()
    want[rows, cols] = v  # numpy's: (0, 1) written twice keeps 30
    got = t64(x).index_put((engine.tensor(rows), engine.tensor(cols)), t64(v))
    np.testing.assert_array_equal(got.data, want)
    want = x.copy()
    np.add.at(want, (rows, cols), v)
    got = t64(x).index_put((rows, cols), t64(v), accumulate=True)
    np.testing.assert_array_equal(got.data, want)
    # masks, broadcast index tensors, one index for the leading dim with a row of values
    mask = np.array([True, False, True])
    np.testing.assert_array_equal(t64(x).index_put((mask,), t64(7.0)).data,
                                  np.where(mask[:, None], 7.0, x))
    want = x.copy()
    want[np.array([[0], [1]]), np.array([1, 2])] = -1.0
    np.testing.assert_array_equal(
        t64(x).index_put((np.array([[0], [1]]), np.array([1, 2])), t64(-1.0)).data, want)
    want = x.copy()
    want[[2, 0]] = [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(
        t64(x).index_put([np.array([2, 0])], t64([1.0, 2.0, 3.0, 4.0])).data, want)


@given(seed=st.integers(0, 2**32 - 1))
def test_index_put_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    a, b, k = (int(n) for n in rng.integers(1, 4, size=3))
    rows, cols = rng.integers(-a, a, size=k), rng.integers(0, b, size=k)  # repeats happen
    accumulate = bool(rng.integers(0, 2))
    x, v = rng.standard_normal((a, b)), rng.standard_normal(k if rng.random() < 0.7 else 1)
    assert engine.gradcheck(lambda t, u: t.index_put((rows, cols), u, accumulate),
                            t64(x, True), t64(v, True))
    # the value left at a place written twice alone has a gradient; accumulate: every value
    t, u = t64(x, True), t64(v, True)
    out = t.index_put((rows, cols), u, accumulate)
    out.backward(np.ones((a, b)))
    kept = np.zeros((a, b), int) - 1
    spread = np.arange(k) if v.size == k else np.zeros(k, int)
    for i in range(k):
        kept[rows[i], cols[i]] = i
    expect = np.zeros(v.size)
    for i in range(k):
        if accumulate or kept[rows[i], cols[i]] == i:
            expect[spread[i]] += 1.0
    np.testing.assert_array_equal(u.grad.data, expect)
    np.testing.assert_array_equal(t.grad.data, np.ones((a, b)) if accumulate else
                                  (kept < 0).astype(float))


def test_index_put_refusals_name_the_op():
    x = engine.zeros(3, 4)
    with pytest.raises(IndexError, match=r"index_put: index 3 is out of bounds for dim 0 with "
                                         r"size 3 \(tensor shape \(3, 4\)\)"):
        x.index_put((engine.tensor([3]),), engine.tensor([5.0]))
    with pytest.raises(IndexError, match="index_put: index -5 is out of bounds for dim 1"):
        x.index_put((engine.tensor([0]), engine.tensor([-5])), engine.tensor([5.0]))
    with pytest.raises(TypeError, match="index_put: indices must be int64 or bool tensors, got "
                                        r"float32 at indices\[0\]"):
        x.index_put((engine.tensor([0.0]),), engine.tensor([5.0]))
    with pytest.raises(TypeError, match="index_put: expected self and values to have the same "
                                        "dtype, got float32 and float64"):
        x.index_put((engine.tensor([0]),), t64([5.0]))
    with pytest.raises(ValueError, match=r"index_put: values of shape \(3,\) cannot be "
                                         r"broadcast to the indexed shape \(2, 4\)"):
        x.index_put((engine.tensor([0, 1]),), engine.ones(3))
    with pytest.raises(TypeError, match=r"index_put: indices\[0\] is None"):
        x.index_put((None, engine.tensor([1])), engine.tensor(5.0))
    with pytest.raises(TypeError, match="index_put: indices must be a tuple of tensors"):
        x.index_put(engine.tensor([0]), engine.tensor(5.0))
    with pytest.raises(IndexError, match=r"index_put: too many indices for a tensor of shape "
                                         r"\(3, 4\)"):
        x.index_put((engine.tensor([0]),) * 3, engine.tensor(5.0))
    with pytest.raises(IndexError, match=r"index_put: the index tensors' shapes \[\(2,\), "
                                         r"\(3,\)\] do not broadcast"):
        x.index_put((engine.tensor([0, 1]), engine.tensor([0, 1, 2])), engine.tensor(5.0))
    with pytest.raises(IndexError, match=r"index_put: the mask indices\[0\] has shape \(2,\) "
                                         r"but the dims it indexes have shape \(3,\)"):
        x.index_put((engine.tensor([True, False]),), engine.tensor(5.0))
    with pytest.raises(TypeError, match="index_put: indices must be int64 or bool tensors, "
                                        "got uint8"):
        x.index_put((engine.tensor(np.array([1, 0, 1], np.uint8)),), engine.tensor(5.0))


def test_index_copy_and_put_against_numpy_and_finite_differences():
    rng = np.random.default_rng(5)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
    index = np.array([3, 0, 3])  # 3 twice: the last slice stays
    want = x.copy()
    want[:, 3], want[:, 0] = src[:, 2], src[:, 1]
    np.testing.assert_array_equal(t64(x).index_copy(1, index, t64(src)).data, want)
    np.testing.assert_array_equal(engine.index_copy(t64(x), -1, index, t64(src)).data, want)
    assert engine.gradcheck(lambda a, b: a.index_copy(1, index, b), t64(x, True), t64(src, True))
    assert t64(1.0).index_copy(0, np.array([0]), t64(5.0)).item() == 5.0
    flat_index = np.array([[0, 11], [-1, 4]])  # any shape; -1 is the last element
    vals = rng.standard_normal((2, 2))
    want = x.copy().reshape(-1)
    np.put(want, flat_index, vals)
    np.testing.assert_array_equal(t64(x).put(flat_index, t64(vals)).data, want.reshape(3, 4))
    want = x.copy().reshape(-1)
    np.add.at(want, flat_index.reshape(-1), vals.reshape(-1))
    np.testing.assert_array_equal(engine.put(t64(x), flat_index, t64(vals), True).data,
                                  want.reshape(3, 4))
    for acc in (False, True):
        assert engine.gradcheck(lambda a, b, acc=acc: a.put(flat_index, b, acc), t64(x, True),
                                t64(vals, True))


def test_index_copy_and_put_refusals():
    x = engine.zeros(3, 4)
    with pytest.raises(IndexError, match=r"index_copy: index -1 is out of bounds for dim 1 "
                                         r"with size 4"):
        x.index_copy(1, engine.tensor([-1]), engine.ones(3, 1))  # (PyTorch refuses it too)
    with pytest.raises(IndexError, match="index_copy: index 4 is out of bounds"):
        x.index_copy(1, engine.tensor([4]), engine.ones(3, 1))
    with pytest.raises(ValueError, match=r"index_copy: source of shape \(3, 1\) does not fit: "
                                         r"with 2 indices along dim 1 of a tensor of shape "
                                         r"\(3, 4\) it must have shape \(3, 2\)"):
        x.index_copy(1, engine.tensor([0, 1]), engine.ones(3, 1))
    with pytest.raises(IndexError, match=r"index_copy: the index must be 1-D or 0-d"):
        x.index_copy(1, engine.tensor([[0]]), engine.ones(3, 1))
    with pytest.raises(TypeError, match="index_copy: expected self and source to have the same "
                                        "dtype"):
        x.index_copy(1, engine.tensor([0]), t64(np.ones((3, 1))))
    with pytest.raises(TypeError, match="index_copy: the index must be an integer tensor"):
        x.index_copy(1, engine.tensor([0.0]), engine.ones(3, 1))
    with pytest.raises(IndexError, match=r"put: index 12 is out of range for a tensor of 12 "
                                         r"elements \(shape \(3, 4\)\)"):
        x.put(engine.tensor([12]), engine.tensor([1.0]))
    with pytest.raises(IndexError, match="put: index -13 is out of range"):
        x.put(engine.tensor([-13]), engine.tensor([1.0]))
    with pytest.raises(IndexError, match=r"put: expected source and index to have the same "
                                         r"number of elements, got 1 \(shape \(1,\)\) and 2"):
        x.put(engine.tensor([0, 1]), engine.tensor([1.0]))
    with pytest.raises(TypeError, match="put: expected self and source to have the same dtype"):
        x.put(engine.tensor([0]), engine.tensor([1]))


def test_masked_scatter_against_numpy_and_finite_differences():
    rng = np.random.default_rng(6)
    x, src = rng.standard_normal((2, 3)), rng.standard_normal(8)
    mask = np.array([[True, False, True], [False, True, True]])
    want = x.copy()
    want[mask] = src[:4]  # row-major order of the true places
    np.testing.assert_array_equal(t64(x).masked_scatter(engine.tensor(mask), t64(src)).data,
                                  want)
    # x and the mask broadcast together (out of place); a mask broadcast over x's rows
    got = engine.masked_scatter(t64(x[0]), mask, t64(src))
    np.testing.assert_array_equal(got.data, np.where(mask, _scattered(mask, src), x[0]))
    row = np.array([False, True, True])
    want = x.copy()
    want[np.broadcast_to(row, (2, 3))] = src[:4]
    np.testing.assert_array_equal(t64(x).masked_scatter(row, t64(src)).data, want)
    assert engine.gradcheck(lambda a, b: a.masked_scatter(mask, b), t64(x, True),
                            t64(src, True))
    assert engine.gradcheck(lambda a, b: a.masked_scatter(mask, b), t64(x[0], True),
                            t64(src, True))
    s = t64(src, True)
    t64(x).masked_scatter(mask, s).sum().backward()
    np.testing.assert_array_equal(s.grad.data, [1, 1, 1, 1, 0, 0, 0, 0])  # only those read


def _scattered(mask, src):
    """src's first elements at mask's true places, in row-major order, zeros elsewhere."""
    out = np.zeros(mask.shape)
    k = 0
    for i in np.ndindex(mask.shape):
        if mask[i]:
            out[i], k = src[k], k + 1
    return out


def test_masked_scatter_refusals():
    x = engine.zeros(2, 3)
    mask = engine.tensor([[True, False, True], [False, True, True]])
    with pytest.raises(ValueError, match=r"masked_scatter: the mask \(shape \(2, 3\)\) has 4 "
                                         r"true places but source has only 3 elements"):
        x.masked_scatter(mask, engine.arange(3.0))
    with pytest.raises(TypeError, match="masked_scatter: the mask must be a bool tensor, got "
                                        "int64"):
        x.masked_scatter(engine.tensor([[1, 0, 1], [0, 1, 1]]), engine.arange(6.0))
    with pytest.raises(TypeError, match="masked_scatter: expected self and source to have the "
                                        "same dtype, got float32 and int64"):
        x.masked_scatter(mask, engine.arange(6))
    with pytest.raises(ValueError, match=r"masked_scatter: mask of shape \(2,\) and tensor of "
                                         r"shape \(2, 3\) do not broadcast"):
        x.masked_scatter(engine.tensor([True, False]), engine.arange(6.0))
    with pytest.raises(RuntimeError, match=r"masked_scatter_: output with shape \(3,\) doesn't "
                                           r"match the broadcast shape \(2, 3\)"):
        engine.zeros(3).masked_scatter_(mask, engine.arange(6.0))  # in place: no growing


def test_in_place_index_writes_follow_the_in_place_rules():
    src = t64([[1.0], [2.0]], True)
    x = t64(np.zeros((2, 3)))
    assert x.index_copy_(1, np.array([2]), src) is x and x._version == 1
    assert x.requires_grad  # src requires grad: recorded
    x.index_put_((np.array([0]), np.array([0])), t64([5.0]))
    x.put_(np.array([4]), t64([6.0]), accumulate=True)
    x.masked_scatter_(np.array([False, True, False]), t64([7.0, 8.0]))
    np.testing.assert_array_equal(x.data, [[5.0, 7.0, 1.0], [0.0, 8.0, 2.0]])
    assert x._version == 4
    (x * t64([[1.0, 1.0, 3.0], [1.0, 1.0, 4.0]])).sum().backward()
    np.testing.assert_array_equal(src.grad.data, [[3.0], [4.0]])
    for name, args in [("index_put_", ((np.array([0]),), t64(1.0))),
                       ("index_copy_", (0, np.array([0]), t64([[1.0, 1.0]]))),
                       ("put_", (np.array([0]), t64([1.0]))),
                       ("masked_scatter_", (np.array([True, False]), t64([1.0, 1.0])))]:
        with pytest.raises(RuntimeError, match=f"{name}: a leaf Variable that requires grad"):
            getattr(t64(np.zeros((2, 2)), True), name)(*args)
    engine.index_put_(x, (np.array([1]),), t64(0.0))  # torch.index_put_ as a function
    np.testing.assert_array_equal(x.data[1], [0.0, 0.0, 0.0])


def test_index_writes_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    T = torch.tensor
    x = rng.standard_normal((3, 4))
    rows, cols = np.array([0, 2, -1, 1]), np.array([1, 3, 0, 1])  # no repeats (undefined)
    mask = np.array([[True, False, True, False], [False, True, True, True], [False] * 4])
    cases = [  # (ours, torch's, inputs)
        (lambda a, v: a.index_put((rows, cols), v), lambda a, v: a.index_put(
            (T(rows), T(cols)), v), [x, rng.standard_normal(4)]),
        (lambda a, v: a.index_put((rows[:2], cols[:2]), v, True), lambda a, v: a.index_put(
            (T(rows[:2]), T(cols[:2])), v, accumulate=True), [x, rng.standard_normal(1)]),
        (lambda a, v: a.index_put((np.array([0, 0, 2]), np.array([1, 1, 1])), v, True),
         lambda a, v: a.index_put((T([0, 0, 2]), T([1, 1, 1])), v, accumulate=True),
         [x, rng.standard_normal(3)]),
        (lambda a, v: a.index_put((mask[1],), v), lambda a, v: a.index_put((T(mask[1]),), v),
         [rng.standard_normal((4, 2)), rng.standard_normal(2)]),
        (lambda a, s: a.index_copy(1, np.array([3, 0]), s),
         lambda a, s: a.index_copy(1, T([3, 0]), s), [x, rng.standard_normal((3, 2))]),
        (lambda a, s: a.index_copy(0, np.array(2), s), lambda a, s: a.index_copy(0, T(2), s),
         [x, rng.standard_normal((1, 4))]),
        (lambda a, s: a.put(np.array([[0, -1], [5, 6]]), s),
         lambda a, s: a.put(T([[0, -1], [5, 6]]), s), [x, rng.standard_normal((2, 2))]),
        (lambda a, s: a.put(np.array([3, 3, -9]), s, True),
         lambda a, s: a.put(T([3, 3, -9]), s, accumulate=True), [x, rng.standard_normal(3)]),
        (lambda a, s: a.masked_scatter(mask, s), lambda a, s: a.masked_scatter(T(mask), s),
         [x, rng.standard_normal(9)]),
        (lambda a, s: a.masked_scatter(mask, s), lambda a, s: a.masked_scatter(T(mask), s),
         [x[0], rng.standard_normal(9)]),  # x broadcast to the mask's shape
    ]
    for ours, theirs, arrays in cases:
        mine = ours_grads(ours, arrays, g := rng.standard_normal(
            ours(*[t64(a) for a in arrays]).shape))
        ref = torch_grads(torch, theirs, arrays, g)
        assert_close(mine[0], ref[0], rtol=0, atol=0)
        for a, b in zip(mine[1], ref[1], strict=True):
            assert_close(a, b, rtol=0, atol=0)
    # repeated positions without accumulate: the same value as PyTorch on the CPU (its
    # docs: undefined); the gradient differs on purpose (PyTorch gives every repeat one)
    v = rng.standard_normal(3)
    ours = t64(x).index_put((np.array([1, 1, 2]), np.array([0, 0, 3])), t64(v))
    ref = T(x).index_put((T([1, 1, 2]), T([0, 0, 3])), T(v))
    np.testing.assert_array_equal(ours.data, ref.numpy())


# -------------------------------------------------------------------------- take_along_dim
@given(seed=st.integers(0, 2**32 - 1))
def test_take_along_dim_is_numpys_take_along_axis(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(1, 4))))
    x = rng.standard_normal(shape)
    if rng.random() < 0.3:
        idx = rng.integers(0, x.size, size=int(rng.integers(0, 5)))
        want, call = np.take_along_axis(x.ravel(), idx, 0), lambda t: t.take_along_dim(idx)
    else:
        dim = int(rng.integers(-len(shape), len(shape)))
        ishape = [1 if rng.random() < 0.3 else n for n in shape]  # broadcasts against x
        ishape[dim] = int(rng.integers(1, 4))
        idx = rng.integers(-shape[dim], shape[dim], size=ishape)  # negatives count back
        want, call = np.take_along_axis(x, idx, dim), lambda t: engine.take_along_dim(t, idx,
                                                                                      dim)
    np.testing.assert_array_equal(call(t64(x)).data, want)
    assert engine.gradcheck(call, t64(x, True))  # repeated picks add up


def test_take_along_dim_refusals():
    a = engine.arange(12.0).reshape(3, 4)
    with pytest.raises(IndexError, match=r"take_along_dim: index 4 is out of bounds for dim 1 "
                                         r"with size 4 \(shape \(3, 4\)\)"):
        a.take_along_dim(engine.tensor([[4]]), 1)  # PyTorch wraps it around to 0, silently
    with pytest.raises(IndexError, match=r"take_along_dim: index -1 is out of range for a "
                                         r"tensor of 12 elements"):
        a.take_along_dim(engine.tensor([-1]))  # dim=None: PyTorch refuses negatives too
    with pytest.raises(ValueError, match=r"take_along_dim: input and indices should have the "
                                         r"same number of dims, got shapes \(3, 4\) and \(2,\)"):
        a.take_along_dim(engine.tensor([0, 1]), 1)
    with pytest.raises(ValueError, match=r"take_along_dim: input of shape \(3, 4\) and indices "
                                         r"of shape \(2, 1\) do not broadcast outside dim 1"):
        a.take_along_dim(engine.tensor([[0], [1]]), 1)
    with pytest.raises(TypeError, match="take_along_dim: the index must be an integer tensor"):
        a.take_along_dim(engine.tensor([[1.0]]), 1)
    with pytest.raises(IndexError, match="take_along_dim: dim 0 given but the tensor is 0-d"):
        engine.tensor(5.0).take_along_dim(engine.tensor(0), 0)


def test_take_along_dim_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4))
    for idx, dim in [(np.array([5, 0, 11, 5]), None), (np.array([[1, 2], [0, 0]]), None),
                     (np.array([[0], [2], [-1]]), 1), (np.array([[0, 1, 2, 3]]), 1),
                     (np.array([[2], [0], [1]]), 0), (np.array([[-3, -1, 0, 0]] * 2), 0),
                     (x.argmax(1)[:, None], 1)]:
        g = rng.standard_normal(np.take_along_axis(x.ravel() if dim is None else x,
                                                   idx.ravel() if dim is None else idx,
                                                   0 if dim is None else dim).shape)
        args = dict(i=idx, d=dim)
        mine = ours_grads(lambda a, i, d: a.take_along_dim(i, d), [x], g, args)
        ref = torch_grads(torch, lambda a, i, d: torch.take_along_dim(a, torch.tensor(i), d),
                          [x], g, args)
        assert_close(mine[0], ref[0], rtol=0, atol=0)
        assert_close(mine[1][0], ref[1][0], rtol=0, atol=0)


# ---------------------------------------------------------------------- unique_consecutive
def runs_reference(seq):
    """(values, inverse, counts) of the runs of equal neighbours, by walking the sequence."""
    values, inverse, counts = [], [], []
    for v in seq:
        if values and (v == values[-1]).all():
            counts[-1] += 1
        else:
            values.append(v)
            counts.append(1)
        inverse.append(len(values) - 1)
    return values, inverse, counts


@given(seed=st.integers(0, 2**32 - 1))
def test_unique_consecutive_against_a_walk(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=tuple(int(n) for n in rng.integers(1, 5, size=2)))
    values, inverse, counts = engine.unique_consecutive(engine.tensor(x), return_inverse=True,
                                                        return_counts=True)
    v, i, c = runs_reference([np.array(e) for e in x.ravel()])
    assert values.tolist() == [int(e) for e in v] and counts.tolist() == c
    assert inverse.shape == x.shape and inverse.data.ravel().tolist() == i
    dim = int(rng.integers(0, 2))
    values, inverse, counts = engine.tensor(x).unique_consecutive(True, True, dim=dim)
    v, i, c = runs_reference(list(np.moveaxis(x, dim, 0)))
    np.testing.assert_array_equal(values.data, np.moveaxis(np.array(v), 0, dim))
    assert inverse.tolist() == i and counts.tolist() == c
    assert values.dtype == np.int64 and not values.requires_grad


def test_unique_consecutive_edges_and_torch():
    out = engine.tensor([nan, nan, 1.0, 1.0]).unique_consecutive(return_counts=True)
    assert np.isnan(out[0].data[:2]).all() and out[1].tolist() == [1, 1, 2]  # NaN ≠ NaN
    v, i, c = engine.tensor(5.0).unique_consecutive(True, True)  # 0-d: PyTorch's shapes
    assert v.shape == (1,) and i.shape == () and c.tolist() == [1]
    assert engine.unique_consecutive(engine.tensor([True, True, False])).tolist() == \
        [True, False]
    with pytest.raises(ValueError, match=r"unique_consecutive: shape \(2, 0\) has an empty dim "
                                         r"other than dim 0"):
        engine.zeros(2, 0).unique_consecutive(dim=0)
    with pytest.raises(IndexError, match="unique_consecutive: dim 2 is out of range"):
        engine.zeros(2, 2).unique_consecutive(dim=2)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    for x, dims in ((rng.integers(0, 2, size=(4, 3)), (None, 0, 1)),
                    (rng.integers(0, 3, size=7), (None, 0)),
                    (np.array([[1, 1], [1, 1], [2, 3], [1, 1]]), (None, 0, 1)),
                    (np.zeros((0, 2), int), (None, 0))):  # (dim 1 of it: refused by both)
        for dim in dims:
            ours = engine.tensor(x).unique_consecutive(True, True, dim)
            ref = torch.tensor(x).unique_consecutive(True, True, dim)
            for a, b in zip(ours, ref, strict=True):
                assert a.shape == tuple(b.shape)
                np.testing.assert_array_equal(a.data, b.numpy())


# ------------------------------------------------------------------------ nanmedian, msort
def nanmedian_reference(x, dim):
    """The lower median of each slice's non-NaN values (NaN where there are none)."""
    moved = np.moveaxis(x, dim, -1)
    out = np.full(moved.shape[:-1], nan)
    for i in np.ndindex(out.shape):
        v = np.sort(moved[i][~np.isnan(moved[i])])
        if v.size:
            out[i] = v[(v.size - 1) // 2]
    return out


@given(seed=st.integers(0, 2**32 - 1))
def test_nanmedian_against_the_definition_and_finite_differences(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(1, 5, size=2))
    x = rng.permutation(np.arange(float(np.prod(shape)))).reshape(shape) * 0.3  # no ties
    planted = rng.random(shape) < 0.4
    x = np.where(planted, nan, x)
    dim = int(rng.integers(-2, 2))
    values, indices = t64(x).nanmedian(dim)
    np.testing.assert_array_equal(values.data, nanmedian_reference(x, dim))
    picked = np.take_along_axis(x, np.expand_dims(indices.data, dim), dim).squeeze(dim)
    np.testing.assert_array_equal(picked, values.data)  # the index points at the value
    whole = t64(x).nanmedian()
    finite = np.sort(x[~np.isnan(x)])
    assert np.isnan(whole.item()) if not finite.size else whole.item() == \
        finite[(finite.size - 1) // 2]

    def f(t):  # NaNs planted by the graph: they stay NaN, their gradient 0
        return engine.where(planted, nan, t).nanmedian(dim).values.nan_to_num(0.0)
    assert engine.gradcheck(f, t64(np.where(planted, 0.0, x), True))


def test_nanmedian_gradients_and_torch():
    # no dim: equal values share the gradient; all NaN: the NaNs share it (PyTorch's)
    z = t64([1.0, 2.0, nan, 2.0, 2.0, 3.0], True)
    z.nanmedian().backward()
    np.testing.assert_allclose(z.grad.data, [0, 1 / 3, 0, 1 / 3, 1 / 3, 0])
    z = t64([nan, nan], True)
    out = z.nanmedian()
    out.backward()
    assert np.isnan(out.item()) and z.grad.tolist() == [0.5, 0.5]
    z = t64([nan, 1.0, nan], True)  # median() keeps the NaN: shared by the NaNs, as PyTorch
    z.median().backward()
    assert z.grad.tolist() == [0.5, 0.0, 0.5]
    # an all-NaN slice: NaN at its first element (PyTorch's index there is an artefact of
    # its selection: 0 up to 3 elements, 2 for 4); an integer tensor is median's
    v, i = t64([[nan] * 4, [1.0, nan, 3.0, 2.0]]).nanmedian(1)
    assert np.isnan(v.data[0]) and v.data[1] == 2.0 and i.tolist() == [0, 3]
    assert engine.tensor([1, 3, 2, 4]).nanmedian().item() == 2
    with pytest.raises(IndexError, match="nanmedian: cannot take the median of an empty"):
        engine.tensor([]).nanmedian()
    with pytest.raises(IndexError, match=r"nanmedian: dim 1 of shape \(2, 0\) is empty"):
        engine.zeros(2, 0).nanmedian(1)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    for _ in range(20):
        x = rng.integers(0, 4, size=(4, 5)).astype(float)  # ties: index choice compared too
        x[(rng.random(x.shape) < 0.4) & (np.arange(4)[:, None] != 1) & (np.arange(5) != 0)] = nan
        # (row 1 and column 0 keep numbers: no all-NaN slice longer than 3, whose index
        # differs; a short one is compared below)
        for dim in (0, 1, -1):
            for keepdim in (False, True):
                g = rng.standard_normal(x.shape[:dim % 2] + x.shape[dim % 2 + 1:])
                ours = t64(x, True)
                v, i = ours.nanmedian(dim, keepdim)
                v.backward(g.reshape(v.shape))
                tx = torch.tensor(x, requires_grad=True)
                tv, ti = tx.nanmedian(dim, keepdim)
                (tv * torch.tensor(g.reshape(v.shape))).sum().backward()
                assert_close(v.data, tv.detach().numpy(), rtol=0, atol=0)
                np.testing.assert_array_equal(i.data, ti.numpy())
                assert_close(ours.grad.data, tx.grad.numpy(), rtol=0, atol=0)
        ours, tx = t64(x, True), torch.tensor(x, requires_grad=True)
        ours.nanmedian().backward()
        tx.nanmedian().backward()
        assert_close(ours.grad.data, tx.grad.numpy(), rtol=1e-15, atol=0)
        np.testing.assert_array_equal(engine.msort(t64(x)).data, torch.msort(torch.tensor(x)))
    short = np.array([[nan, nan, nan], [2.0, nan, 1.0]])
    v, i = t64(short).nanmedian(1)
    tv, ti = torch.tensor(short).nanmedian(1)
    assert_close(v.data, tv.numpy(), rtol=0, atol=0)
    np.testing.assert_array_equal(i.data, ti.numpy())


# ---------------------------------------------------------------------------------- renorm
@given(seed=st.integers(0, 2**32 - 1))
def test_renorm_against_the_definition_and_finite_differences(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(tuple(int(n) for n in rng.integers(1, 4, size=3)))
    p = float(rng.choice([1.0, 2.0, 3.0, 0.5, np.inf]))
    dim = int(rng.integers(-3, 3))
    norms = [np.linalg.norm(np.take(x, i, dim).ravel(), p) for i in range(x.shape[dim])]
    maxnorm = float(np.median(norms)) * 0.9  # some slices above, some not
    if min(abs(n - maxnorm) for n in norms) < 1e-3:  # (at the kink the factor switches on)
        maxnorm *= 0.8
    want = x.copy()
    for i, n in enumerate(norms):
        if n > maxnorm:
            want[(slice(None),) * (dim % 3) + (i,)] *= maxnorm / (n + 1e-7)
    np.testing.assert_allclose(t64(x).renorm(p, dim, maxnorm).data, want, rtol=1e-13)
    assert engine.gradcheck(lambda t: engine.renorm(t, p, dim, maxnorm), t64(x, True))


def test_renorm_refusals_in_place_and_torch():
    with pytest.raises(ValueError, match=r"renorm: input needs at least 2 dims, got shape "
                                         r"\(2,\)"):
        engine.ones(2).renorm(2, 0, 1.0)
    for p in (0, -1.0):
        with pytest.raises(ValueError, match=f"renorm: p must be a positive number.*got {p}"):
            engine.ones(2, 2).renorm(p, 0, 1.0)
    with pytest.raises(ValueError, match="renorm: maxnorm must be >= 0, got -1"):
        engine.ones(2, 2).renorm(2, 0, -1)
    with pytest.raises(TypeError, match="renorm: expects a floating point tensor, got int64"):
        engine.tensor([[1, 2]]).renorm(2, 0, 1.0)
    with pytest.raises(IndexError, match="renorm: dim 2 is out of range"):
        engine.ones(2, 2).renorm(2, 2, 1.0)
    w = t64([[3.0, 4.0], [0.3, 0.4]])
    with engine.no_grad():  # an embedding's max_norm-style update
        assert w.renorm_(2, 0, 1.0) is w and w._version == 1
    np.testing.assert_allclose(w.data, [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    for p, dim, maxnorm in [(2, 0, 1.0), (1, 1, 2.0), (float("inf"), 0, 0.5), (3, -1, 1.5),
                            (0.5, 1, 4.0), (2, 2, 0.0)]:
        x = rng.standard_normal((3, 4, 2))
        g = rng.standard_normal(x.shape)
        args = dict(p=p, dim=dim, maxnorm=maxnorm)
        mine = ours_grads(lambda a, **kw: a.renorm(**kw), [x], g, args)
        ref = torch_grads(torch, lambda a, **kw: a.renorm(**kw), [x], g, args)
        assert_close(mine[0], ref[0], rtol=1e-13, atol=1e-15)
        assert_close(mine[1][0], ref[1][0], rtol=1e-10, atol=1e-13)
        y = engine.tensor(x.astype(np.float32))  # float32 too, and in place
        y.renorm_(p, dim, maxnorm)
        np.testing.assert_allclose(y.data, torch.tensor(x, dtype=torch.float32).renorm_(
            p, dim, maxnorm).numpy(), rtol=2e-6, atol=1e-7)


# ------------------------------------------------------------------ names, as PyTorch has them
NEW_METHODS = ("scatter_reduce scatter_reduce_ index_put index_put_ index_copy index_copy_ "
               "masked_scatter masked_scatter_ take_along_dim put put_ unique_consecutive "
               "nanmedian msort renorm renorm_").split()
NEW_FUNCTIONS = ("scatter_reduce index_put index_put_ index_copy masked_scatter take_along_dim "
                 "put unique_consecutive nanmedian msort renorm").split()


def test_the_new_names_exist():
    assert all(hasattr(engine.Tensor, n) for n in NEW_METHODS)
    assert all(callable(getattr(engine, n)) for n in NEW_FUNCTIONS)
    np.testing.assert_array_equal(  # a function form on a list: as torch.take_along_dim
        engine.take_along_dim([[1.0, 2.0]], np.array([[1]]), 1).data, [[2.0]])


def test_only_methods_pytorch_has():
    torch = pytest.importorskip("torch")
    assert [n for n in NEW_METHODS if not hasattr(torch.Tensor, n)] == []
    assert [n for n in NEW_FUNCTIONS if not hasattr(torch, n)] == []
    for name in ("bucketize", "searchsorted", "einsum", "cdist"):  # functions only, in both
        assert not hasattr(torch.Tensor, name) and not hasattr(engine.Tensor, name)
