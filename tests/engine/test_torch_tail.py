"""torch's long tail as compositions (engine/ops/compose.py): joins (hstack vstack dstack
column_stack atleast_*d broadcast_tensors block_diag cartesian_prod), products (addmm addmv
baddbmm tensordot kron cross dist), shapes (rot90 diag_embed), formulas (logit xlogy deg2rad
rad2deg fmax fmin cov corrcoef trapezoid) and index/number helpers (logspace triu_indices
tril_indices is_tensor finfo iinfo): against numpy's functions, gradcheck in float64, and
torch (values and gradients) where installed."""
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine

F64 = np.float64
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 names it trapz


def t64(a, grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=grad)


RNG = np.random.default_rng(0)
A, B, V = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)), RNG.standard_normal(4)


def test_joins_are_numpys():
    for ours, theirs, args in [(engine.hstack, np.hstack, (A, B)), (engine.hstack, np.hstack,
                                                                     (V, V)),
                               (engine.vstack, np.vstack, (V, V)), (engine.row_stack, np.vstack,
                                                                    (A, B)),
                               (engine.dstack, np.dstack, (A, B)), (engine.dstack, np.dstack,
                                                                    (V, V)),
                               (engine.column_stack, np.column_stack, (V[:3], A))]:
        np.testing.assert_array_equal(ours([t64(a) for a in args]).data, theirs(args))
    for k, f in ((1, np.atleast_1d), (2, np.atleast_2d), (3, np.atleast_3d)):
        for a in (np.float64(2.0), V, A):
            assert getattr(engine, f"atleast_{k}d")(t64(a)).shape == f(a).shape
    x, y = engine.broadcast_tensors(t64(A[:1]), t64(V))
    assert x.shape == y.shape == (1, 4)
    blocks = engine.block_diag(t64(A[:2, :2]), t64(3.0), t64(V[:3]))
    want = np.zeros((4, 6))
    want[:2, :2], want[2, 2], want[3, 3:] = A[:2, :2], 3.0, V[:3]
    np.testing.assert_array_equal(blocks.data, want)
    prod = engine.cartesian_prod(t64([1.0, 2.0]), t64([3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(prod.data, list(itertools.product([1, 2], [3, 4, 5])))
    assert engine.is_tensor(prod) and not engine.is_tensor(A)


def test_products_are_numpys():
    m1, m2 = RNG.standard_normal((3, 5)), RNG.standard_normal((5, 4))
    np.testing.assert_allclose(engine.addmm(t64(A), t64(m1), t64(m2), beta=0.5, alpha=2).data,
                               0.5 * A + 2 * m1 @ m2, rtol=1e-14)
    nan = np.full((3, 4), np.nan)  # beta = 0 ignores the input, NaN too (PyTorch)
    np.testing.assert_allclose(t64(nan).addmm(t64(m1), t64(m2), beta=0).data, m1 @ m2)
    np.testing.assert_allclose(engine.addmv(t64(A[:, 0]), t64(m1), t64(m2[:, 0])).data,
                               A[:, 0] + m1 @ m2[:, 0], rtol=1e-14)
    b1, b2 = RNG.standard_normal((2, 3, 5)), RNG.standard_normal((2, 5, 4))
    np.testing.assert_allclose(engine.baddbmm(t64(A), t64(b1), t64(b2)).data, A + b1 @ b2,
                               rtol=1e-14)
    t1, t2 = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((4, 3, 5))
    np.testing.assert_allclose(engine.tensordot(t64(t1), t64(t2), ([1, 2], [1, 0])).data,
                               np.tensordot(t1, t2, ([1, 2], [1, 0])), rtol=1e-13)
    np.testing.assert_allclose(engine.tensordot(t64(V), t64(V), 0).data, np.tensordot(V, V, 0))
    np.testing.assert_array_equal(engine.kron(t64(A[:2, :3]), t64(V)).data, np.kron(A[:2, :3], V))
    c1, c2 = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    np.testing.assert_allclose(engine.cross(t64(c1), t64(c2), dim=1).data, np.cross(c1, c2),
                               rtol=1e-14)
    with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated"):
        first = engine.cross(t64(c1.T), t64(c2.T))  # (3, 2): dim 0, the first of size 3
    np.testing.assert_allclose(first.data, np.cross(c1, c2).T, rtol=1e-14)
    assert engine.dist(t64(A), t64(B), 3).item() == pytest.approx(
        (np.abs(A - B) ** 3).sum() ** (1 / 3))


def test_shapes_and_formulas_are_numpys():
    t = RNG.standard_normal((2, 3, 4))
    for k in (-1, 0, 1, 2, 3, 5):
        np.testing.assert_array_equal(engine.rot90(t64(t), k, (1, 2)).data,
                                      np.rot90(t, k, (1, 2)))
    for off in (0, 1, -2):
        emb = engine.diag_embed(t64(A), off).data
        assert emb.shape == (3, 4 + abs(off), 4 + abs(off))
        for r in range(3):
            np.testing.assert_array_equal(emb[r], np.diag(A[r], off))
    p = RNG.uniform(0.05, 0.95, 5)
    np.testing.assert_allclose(engine.logit(t64(p)).data, np.log(p / (1 - p)))
    np.testing.assert_allclose(t64(p).logit(0.2).data, np.log(np.clip(p, .2, .8) /
                                                              (1 - np.clip(p, .2, .8))))
    x, y = np.array([0.0, 0.0, 2.0, 0.0, 1.5]), np.array([0.0, np.nan, 3.0, 2.0, 0.5])
    np.testing.assert_array_equal(engine.xlogy(t64(x), t64(y)).data,
                                  [0.0, np.nan, 2 * np.log(3.0), 0.0, 1.5 * np.log(0.5)])
    np.testing.assert_allclose(engine.deg2rad(t64([180.0])).data, [np.pi])
    np.testing.assert_allclose(engine.rad2deg(t64([np.pi])).data, [180.0])
    a, b = np.array([1.0, np.nan, 3.0, np.nan]), np.array([2.0, 1.0, np.nan, np.nan])
    np.testing.assert_array_equal(engine.fmax(t64(a), t64(b)).data, np.fmax(a, b))
    np.testing.assert_array_equal(engine.fmin(t64(a), t64(b)).data, np.fmin(a, b))
    # a tie: the first argument is taken, with the whole gradient (PyTorch's rule)
    x, y = t64([2.0, 1.0], True), t64([2.0, 3.0], True)
    (engine.fmax(x, y) + engine.fmin(x, y)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 1.0])
    np.testing.assert_array_equal(y.grad.data, [0.0, 1.0])
    np.testing.assert_allclose(engine.cov(t64(A)).data, np.cov(A), rtol=1e-13)
    np.testing.assert_allclose(t64(A).cov(correction=0).data, np.cov(A, ddof=0), rtol=1e-13)
    np.testing.assert_allclose(engine.cov(t64(V)).data, np.cov(V), rtol=1e-13)
    np.testing.assert_allclose(engine.corrcoef(t64(A)).data, np.corrcoef(A), rtol=1e-13)
    xs = np.cumsum(np.abs(V))
    np.testing.assert_allclose(engine.trapezoid(t64(A), t64(xs)).data, _trapezoid(A, xs),
                               rtol=1e-13)
    y3, x2 = RNG.standard_normal((2, 3, 4)), np.cumsum(RNG.uniform(0.1, 1, (3, 4)), axis=-1)
    np.testing.assert_allclose(engine.trapezoid(t64(y3), t64(x2)).data, _trapezoid(y3, x2),
                               rtol=1e-13)  # x with fewer dims than y, broadcast
    np.testing.assert_allclose(engine.trapz(t64(A), dx=2.0, dim=0).data,
                               _trapezoid(A, dx=2.0, axis=0), rtol=1e-13)


def test_index_and_number_helpers():
    np.testing.assert_allclose(engine.logspace(0, 2, 3).data, [1, 10, 100])
    assert engine.logspace(0, 3, 4, base=2, dtype=F64).data.tolist() == [1, 2, 4, 8]
    for r, c, o in ((3, 4, 1), (4, 3, -1), (2, 2, 0)):
        np.testing.assert_array_equal(engine.triu_indices(r, c, o).data, np.triu_indices(r, o, c))
        np.testing.assert_array_equal(engine.tril_indices(r, c, o).data, np.tril_indices(r, o, c))
    assert engine.triu_indices(3, 3).dtype == np.int64
    assert engine.finfo(engine.float32).eps == np.finfo(np.float32).eps
    assert engine.iinfo(engine.int64).max == 2**63 - 1


def test_refusals():
    with pytest.raises(RuntimeError, match=r"addmm: mat1 and mat2 must be matrices"):
        engine.addmm(t64(A), t64(V), t64(A))
    with pytest.raises(RuntimeError, match=r"tensordot: contracted dims \[1\] of \(3, 4\) and "
                                           r"\[0\] of \(3, 4\) must pair up"):
        engine.tensordot(t64(A), t64(B), 1)
    with pytest.raises(RuntimeError, match="cross: inputs dimension 1 must have length 3"):
        engine.cross(t64(A), t64(B), dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="cross: no dimension of size 3"):
            engine.cross(t64(V), t64(V))
    with pytest.raises(RuntimeError, match="rot90: the two dims must differ"):
        engine.rot90(t64(A), 1, (1, 1))
    with pytest.raises(NotImplementedError, match="diag_embed: only dim1=-2, dim2=-1"):
        engine.diag_embed(t64(A), 0, 0, 1)
    with pytest.raises(NotImplementedError, match="cov: fweights and aweights"):
        engine.cov(t64(A), fweights=t64(V))
    with pytest.raises(RuntimeError, match="block_diag: input tensors must have 2 or fewer"):
        engine.block_diag(t64(np.zeros((2, 2, 2))))


_small = st.integers(0, 2**16)


@given(_small)
def test_gradcheck_of_the_differentiable_ones(seed):
    rng = np.random.default_rng(seed)

    def g(*shape):
        return t64(rng.standard_normal(shape), True)
    m, n = g(2, 3), g(3, 2)
    assert engine.gradcheck(lambda x, a, b: engine.addmm(x, a, b, beta=0.5, alpha=2),
                            g(2, 2), m, n)
    assert engine.gradcheck(lambda a, b: engine.tensordot(a, b, ([1], [0])), m, n)
    assert engine.gradcheck(engine.kron, g(2, 2), g(3))
    assert engine.gradcheck(lambda a, b: engine.cross(a, b, dim=-1), g(2, 3), g(2, 3))
    assert engine.gradcheck(lambda a: engine.rot90(a, 1), m)
    assert engine.gradcheck(lambda a: engine.diag_embed(a, 1), m)
    assert engine.gradcheck(engine.cov, g(3, 5))
    assert engine.gradcheck(engine.corrcoef, g(3, 5))
    assert engine.gradcheck(lambda y: engine.trapezoid(y, dx=0.5), m)
    assert engine.gradcheck(lambda a, b: engine.block_diag(a, b), m, g(2))
    p = t64(rng.uniform(0.1, 0.9, (2, 3)), True)
    assert engine.gradcheck(engine.logit, p)
    x = t64(rng.uniform(0.5, 2.0, 4) * rng.choice([-1, 1], 4), True)
    y = t64(rng.uniform(0.5, 2.0, 4), True)
    assert engine.gradcheck(engine.xlogy, x, y)
    assert engine.gradcheck(lambda a, b: engine.dist(a, b, 3), g(2, 3), g(2, 3))


def test_xlogy_gradients_at_x_zero():
    x, y = t64([0.0, 0.0], True), t64([2.0, 0.0], True)
    engine.xlogy(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [np.log(2.0), 0.0])  # PyTorch's
    np.testing.assert_array_equal(y.grad.data, [0.0, 0.0])  # 0 along x = 0 (PyTorch: NaN)


def test_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    t1, t2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 3, 5))
    cases = [
        (lambda e, a, b: e.hstack([a, b]), [A, B]), (lambda e, a, b: e.vstack([a, b]), [V, V]),
        (lambda e, a, b: e.dstack([a, b]), [A, B]),
        (lambda e, a, b: e.column_stack([a, b]), [V[:3], A]),
        (lambda e, x, a, b: e.addmm(x, a, b, beta=0.5, alpha=2),
         [A, rng.standard_normal((3, 5)), rng.standard_normal((5, 4))]),
        (lambda e, x, a, b: e.baddbmm(x, a, b), [A, rng.standard_normal((2, 3, 5)),
                                                 rng.standard_normal((2, 5, 4))]),
        (lambda e, a, b: e.tensordot(a, b, ([1, 2], [1, 0])), [t1, t2]),
        (lambda e, a, b: e.kron(a, b), [A[:2, :3], V]),
        (lambda e, a, b: e.cross(a, b, dim=-1), [A[:, :3], B[:, :3]]),
        (lambda e, a, b: e.dist(a, b, 3), [A, B]),
        (lambda e, a: e.rot90(a, 3, (1, 2)), [t1]),
        (lambda e, a: e.logit(a, 0.2), [rng.uniform(0.05, 0.95, (3, 4))]),
        (lambda e, a, b: e.xlogy(a, b), [np.array([0.0, 2.0, 1.5, 0.0]),
                                         np.array([0.5, 3.0, 0.5, 2.0])]),
        (lambda e, a, b: e.fmax(a, b), [np.array([1.0, np.nan, 3.0, 2.0]),
                                        np.array([2.0, 1.0, np.nan, 2.0])]),
        (lambda e, a, b: e.fmin(a, b), [np.array([1.0, np.nan, 3.0, 2.0]),
                                        np.array([2.0, 1.0, np.nan, 2.0])]),
        (lambda e, a: e.diag_embed(a, -2), [A]),
        (lambda e, a: e.cov(a), [A]), (lambda e, a: e.corrcoef(a), [A]),
        (lambda e, a, b, c: e.block_diag(a, b, c), [A[:2, :2], np.array(3.0), V[:3]]),
        (lambda e, a, b: e.cartesian_prod(a, b), [V[:2], V[:3]]),
        (lambda e, a, b: e.trapezoid(a, b), [A, np.cumsum(np.abs(V))]),
    ]
    for fn, arrays in cases:
        ours = [t64(a, True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        y, yt = fn(engine, *ours), fn(torch, *theirs)
        assert y.shape == tuple(yt.shape)
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
        G = rng.standard_normal(yt.shape)
        (y * t64(G)).sum().backward()
        (yt * torch.tensor(G)).sum().backward()
        for a, at in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a.grad.data, at.grad.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_array_equal(engine.triu_indices(3, 4, 1).data,
                                  torch.triu_indices(3, 4, 1).numpy())
    np.testing.assert_allclose(engine.logspace(0, 2, 3).data, torch.logspace(0, 2, 3).numpy())


# ---------------------------------------------------------------- inverse, det, solve
def test_det_gradient_of_a_singular_matrix_is_the_cofactor_matrix():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])  # rank 2
    x = t64(a, True)
    x.det().backward()
    eps, numeric = 1e-6, np.zeros_like(a)
    for i in range(3):
        for j in range(3):
            e = np.zeros_like(a)
            e[i, j] = eps
            numeric[i, j] = (np.linalg.det(a + e) - np.linalg.det(a - e)) / (2 * eps)
    np.testing.assert_allclose(x.grad.data, numeric, atol=1e-8)
    assert np.abs(x.grad.data).max() > 1  # not the zeros PyTorch 2.13 returns here


def test_inverse_det_solve_refusals_and_names():
    with pytest.raises(RuntimeError, match=r"inverse: the matrix \(shape \(2, 2\)\) is "
                                           r"singular"):
        engine.inverse(engine.zeros(2, 2))
    with pytest.raises(RuntimeError, match="solve: the matrix .* is singular"):
        engine.linalg.solve(engine.zeros(2, 2), engine.ones(2))
    with pytest.raises(ValueError, match=r"solve: A \(2, 2\) and B \(3,\) do not match"):
        engine.linalg.solve(engine.eye(2), engine.ones(3))
    with pytest.raises(TypeError, match="inverse: expected a float matrix"):
        engine.inverse(engine.tensor([[1, 0], [0, 1]]))
    a = t64(RNG.standard_normal((3, 3)) + 3 * np.eye(3))
    np.testing.assert_allclose((a @ a.inverse()).data, np.eye(3), atol=1e-14)
    assert engine.det(a).item() == pytest.approx(np.linalg.det(a.data))


def test_inverse_det_solve_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((2, 3, 2))
    cases = [(lambda e, x: e.linalg.inv(x), [a]), (lambda e, x: e.det(x), [a]),
             (lambda e, x: x.inverse(), [a[0]]), (lambda e, x, y: e.linalg.solve(x, y), [a, b]),
             (lambda e, x, y: e.linalg.solve(x, y), [a[0], b[0, :, 0]])]
    for fn, arrays in cases:
        ours = [t64(v, True) for v in arrays]
        theirs = [torch.tensor(v, requires_grad=True) for v in arrays]
        y, yt = fn(engine, *ours), fn(torch, *theirs)
        G = rng.standard_normal(yt.shape)
        (y * t64(G)).sum().backward()
        (yt * torch.tensor(G)).sum().backward()
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-14)
        for v, vt in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(v.grad.data, vt.grad.numpy(), rtol=1e-10, atol=1e-13)


# ------------------------------------------------------------- in-place spellings, new_*
INPLACE = [("sin", ()), ("cos", ()), ("tan", ()), ("asin", ()), ("acos", ()), ("atan", ()),
           ("sinh", ()), ("cosh", ()), ("asinh", ()), ("atanh", ()), ("sign", ()),
           ("floor", ()), ("ceil", ()), ("round", ()), ("trunc", ()), ("reciprocal", ()),
           ("log2", ()), ("log10", ()), ("log1p", ()), ("exp2", ()), ("expm1", ()),
           ("rsqrt", ()), ("erf", ()), ("pow", (2.5,)), ("fmod", (0.3,)),
           ("remainder", (0.3,)), ("nan_to_num", ()), ("logit", ()), ("deg2rad", ()),
           ("rad2deg", ())]


@pytest.mark.parametrize("name,args", INPLACE)
def test_inplace_spellings_are_the_method_written_back(name, args):
    a = np.random.default_rng(3).uniform(0.2, 0.8, (3, 4))
    x, x2 = t64(a, True), t64(a, True)
    y = x * 1.0
    assert getattr(y, name + "_")(*args) is y and y._version == 1
    want = getattr(x2 * 1.0, name)(*args)
    np.testing.assert_array_equal(y.data, want.data)
    (y * y).sum().backward()
    (want * want).sum().backward()
    np.testing.assert_array_equal(x.grad.data, x2.grad.data)
    with pytest.raises(RuntimeError, match=f"{name}_: a leaf Variable"):
        getattr(t64(a, True), name + "_")(*args)
    with engine.no_grad():  # an optimizer-style update of a leaf is fine
        leaf = t64(a, True)
        getattr(leaf, name + "_")(*args)
        np.testing.assert_array_equal(leaf.data, want.data)


def test_inplace_with_tensor_arguments_and_integer_refusal():
    a = np.random.default_rng(4).uniform(0.2, 0.8, 5)
    y = t64(a)
    y.lerp_(t64(2 * a), 0.25)
    np.testing.assert_allclose(y.data, a + 0.25 * a)
    y = t64(a)
    y.atan2_(t64(a + 1))
    np.testing.assert_allclose(y.data, np.arctan2(a, a + 1))
    with pytest.raises(RuntimeError, match="sin_: result type float32 can't be cast to the "
                                           "desired output type int64"):
        engine.tensor([1, 2]).sin_()


def test_new_methods_keep_this_tensors_dtype():
    z = t64([1.0, 2.0])
    assert z.new_zeros(2, 3).shape == (2, 3) and z.new_zeros(2, 3).dtype == F64
    np.testing.assert_array_equal(z.new_ones((2,)).data, [1.0, 1.0])
    np.testing.assert_array_equal(z.new_full((2,), 7).data, [7.0, 7.0])
    assert z.new_tensor([1, 2]).dtype == F64  # this tensor's dtype, not the data's
    assert z.new_empty(3).shape == (3,) and z.new_zeros(2, dtype=np.int64).dtype == np.int64
    assert z.new_zeros(2, requires_grad=True).requires_grad
    assert z.is_floating_point() and not engine.tensor([1]).is_floating_point()
    assert z.nelement() == 2 and z.element_size() == 8


def test_inplace_spellings_and_new_match_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(5).uniform(0.2, 0.8, (3, 4))
    for name, args in INPLACE:
        y, yt = t64(a), torch.tensor(a)
        getattr(y, name + "_")(*args)
        getattr(yt, name + "_")(*args)
        np.testing.assert_allclose(y.data, yt.numpy(), rtol=1e-14, atol=1e-15, err_msg=name)
    t, tt = t64([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64)
    for ours, theirs in ((t.new_tensor([1, 2]), tt.new_tensor([1, 2])),
                         (t.new_full((2, 1), 3), tt.new_full((2, 1), 3)),
                         (t.new_ones(2, 2), tt.new_ones(2, 2))):
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == "float64"
        np.testing.assert_array_equal(ours.data, theirs.numpy())
