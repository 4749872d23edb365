"""torch.linalg's decompositions and what is built on them (engine/linalg.py,
engine/ops/linalg.py): cholesky, qr, svd, svdvals, eigh, eigvalsh, slogdet, logdet, pinv,
pinverse, matrix_power, matrix_exp, lstsq, matrix_rank, matrix_norm, norm.

Numpy references and identities (no torch needed), finite differences in float64 with
hypothesis on well-conditioned inputs built by construction (SPD, distinct singular values /
eigenvalues), the refusals' messages, and torch (values and gradients; for svd and eigh only
quantities that do not depend on the vectors' signs)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine.ops.linalg import column_signs

L = engine.linalg
F64 = np.float64


def t64(a, grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=grad)


def orthonormal(rng, m, k, batch=()):
    return np.linalg.qr(rng.standard_normal(batch + (m, k)))[0]


def distinct_singular(rng, m, n, batch=()):
    """U·diag(s)·Vᵀ with s ≥ 1, at least 0.5 apart: full rank, no ties."""
    k = min(m, n)
    s = 1 + np.argsort(rng.random(batch + (k,)), -1) + rng.uniform(0, 0.5, batch + (k,))
    return (orthonormal(rng, m, k, batch) * s[..., None, :]) @ np.swapaxes(
        orthonormal(rng, n, k, batch), -1, -2)


def symmetric_distinct(rng, n, batch=()):
    w = np.argsort(rng.random(batch + (n,)), -1) - n / 2 + rng.uniform(0, 0.5, batch + (n,))
    v = orthonormal(rng, n, n, batch)
    return (v * w[..., None, :]) @ np.swapaxes(v, -1, -2)


def spd(rng, n, batch=()):
    x = rng.standard_normal(batch + (n, n))
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


seeds = st.integers(0, 2**32 - 1)
sides = st.integers(1, 4)
batches = st.sampled_from([(), (2,), (2, 1)])


# ------------------------------------------------------------------ numpy references, identities
def test_cholesky_is_the_spd_factor():
    rng = np.random.default_rng(0)
    a = spd(rng, 4, (3,))
    low = L.cholesky(t64(a)).data
    np.testing.assert_allclose(low @ np.swapaxes(low, -1, -2), a, rtol=1e-13, atol=1e-13)
    assert np.all(np.triu(low, 1) == 0) and np.all(np.diagonal(low, 0, -2, -1) > 0)
    np.testing.assert_allclose(L.cholesky(t64(a), upper=True).data, np.swapaxes(low, -1, -2))


def test_qr_svd_eigh_reconstruct_and_are_orthonormal():
    rng = np.random.default_rng(1)
    for m, n in [(4, 2), (3, 3), (2, 5)]:
        a = rng.standard_normal((2, m, n))
        k = min(m, n)
        q, r = L.qr(t64(a))
        assert q.shape == (2, m, k) and r.shape == (2, k, n)
        np.testing.assert_allclose(q.data @ r.data, a, atol=1e-13)
        np.testing.assert_allclose(np.swapaxes(q.data, -1, -2) @ q.data, np.broadcast_to(
            np.eye(k), (2, k, k)), atol=1e-13)
        assert np.all(np.tril(r.data, -1) == 0)
        qc, rc = L.qr(t64(a), mode="complete")
        assert qc.shape == (2, m, m) and rc.shape == (2, m, n)
        np.testing.assert_allclose(qc.data @ rc.data, a, atol=1e-13)
        q0, r0 = L.qr(t64(a), mode="r")
        assert q0.shape == (0,) and np.array_equal(r0.data, r.data)
        for full in (True, False):
            u, s, vh = L.svd(t64(a), full_matrices=full)
            assert (u.shape, vh.shape) == (((2, m, m), (2, n, n)) if full else
                                           ((2, m, k), (2, k, n)))
            np.testing.assert_allclose((u.data[..., :k] * s.data[..., None, :]) @
                                       vh.data[..., :k, :], a, atol=1e-13)
            for x in (u.data, np.swapaxes(vh.data, -1, -2)):  # orthonormal, extra ones too
                np.testing.assert_allclose(np.swapaxes(x, -1, -2) @ x,
                                           np.broadcast_to(np.eye(x.shape[-1]), x.shape[:-2] +
                                                           (x.shape[-1],) * 2), atol=1e-13)
        np.testing.assert_allclose(s.data, np.linalg.svd(a, compute_uv=False), rtol=1e-13)
        np.testing.assert_allclose(L.svdvals(t64(a)).data, s.data, rtol=1e-13)
    sym = symmetric_distinct(rng, 4, (3,))
    w, v = L.eigh(t64(sym))
    np.testing.assert_allclose(w.data, np.linalg.eigvalsh(sym), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(np.swapaxes(v.data, -1, -2) @ sym @ v.data,
                               w.data[..., :, None] * np.eye(4), atol=1e-13)
    np.testing.assert_array_equal(L.eigvalsh(t64(sym)).data, w.data)
    np.testing.assert_array_equal(L.eigh(t64(sym), UPLO="U").eigenvalues.data, w.data)


def test_named_tuples_have_torchs_fields():
    a = t64(np.diag([3.0, 2.0]))
    assert L.qr(a)._fields == ("Q", "R")
    assert L.svd(a)._fields == ("U", "S", "Vh")
    assert L.eigh(a)._fields == ("eigenvalues", "eigenvectors")
    assert L.slogdet(a)._fields == ("sign", "logabsdet")
    assert L.lstsq(a, a)._fields == ("solution", "residuals", "rank", "singular_values")


def test_vector_signs_are_the_documented_rule_whatever_the_layout_batch_or_dtype():
    rng = np.random.default_rng(2)
    a, sym = rng.standard_normal((3, 5, 4)), symmetric_distinct(rng, 4, (3,))
    u, _, vh = L.svd(t64(a))
    v = L.eigh(t64(sym)).eigenvectors.data
    extra = np.swapaxes(L.svd(t64(np.swapaxes(a, -1, -2))).Vh.data[..., 4:, :], -1, -2)
    for x in (u.data, v, extra):  # largest |entry| of a column > 0 (Vh's rows follow U's
        top = np.take_along_axis(x, np.abs(x).argmax(-2)[..., None, :], -2)  # but the extra
        assert np.all(top > 0)  # ones of full_matrices, which have their own)
    np.testing.assert_array_equal(column_signs(u.data), 1)
    # The same factors for a Fortran-ordered copy, a transposed view, one matrix of the batch
    # and float32 (signs equal, values to float32's precision)
    for other in (np.asfortranarray(a), np.swapaxes(np.swapaxes(a, -1, -2).copy(), -1, -2)):
        np.testing.assert_allclose(L.svd(t64(other)).U.data, u.data, atol=1e-12)
    np.testing.assert_allclose(L.svd(t64(a[1])).U.data, u.data[1], atol=1e-12)
    np.testing.assert_allclose(L.svd(engine.tensor(a, dtype=np.float32)).U.data, u.data,
                               atol=1e-4)
    np.testing.assert_allclose(L.eigh(engine.tensor(sym, dtype=np.float32)).eigenvectors.data, v,
                               atol=1e-4)


def test_slogdet_logdet_pinv_power_exp_lstsq_rank_norms_match_numpy():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 4, 4)) + 2 * np.eye(4)
    sign, logabsdet = L.slogdet(t64(a))
    want = np.linalg.slogdet(a)
    np.testing.assert_array_equal(sign.data, want[0])
    np.testing.assert_allclose(logabsdet.data, want[1], rtol=1e-13)
    assert not sign.requires_grad and t64(a, True).slogdet().logabsdet.requires_grad
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(engine.logdet(t64(a)).data, np.log(np.linalg.det(a)))
    assert engine.logdet(t64(np.zeros((2, 2)))).item() == -math.inf
    for m, n in [(5, 3), (3, 3), (2, 4)]:
        b = rng.standard_normal((m, n))
        np.testing.assert_allclose(L.pinv(t64(b)).data, np.linalg.pinv(b), atol=1e-13)
    low = np.array([[1.0, 2.0], [2.0, 4.0]])  # rank 1: Penrose's four conditions
    p = L.pinv(t64(low)).data
    for lhs, rhs in [(low @ p @ low, low), (p @ low @ p, p), ((low @ p).T, low @ p),
                     ((p @ low).T, p @ low)]:
        np.testing.assert_allclose(lhs, rhs, atol=1e-14)
    np.testing.assert_allclose(engine.pinverse(t64(low)).data, p, atol=1e-14)
    np.testing.assert_allclose(L.pinv(t64(low + low.T), hermitian=True).data,
                               np.linalg.pinv(low + low.T), atol=1e-14)
    for k in (-3, -1, 0, 1, 2, 5):
        np.testing.assert_allclose(t64(a).matrix_power(k).data, np.linalg.matrix_power(a, k),
                                   rtol=1e-12, atol=1e-12)
    # e^A: a diagonal matrix, a nilpotent one (a finite series), e^A·e^−A = I, a big norm
    np.testing.assert_allclose(L.matrix_exp(t64(np.diag([1.0, -2.0]))).data,
                               np.diag(np.exp([1.0, -2.0])), rtol=1e-15)
    nil = np.triu(rng.standard_normal((4, 4)), 1)
    np.testing.assert_allclose(engine.matrix_exp(t64(nil)).data,
                               np.eye(4) + nil + nil @ nil / 2 + nil @ nil @ nil / 6, atol=1e-14)
    mid = 2 * rng.standard_normal((3, 3))  # (scaled and squared: ‖A‖₁ > θ₁₃)
    np.testing.assert_allclose(t64(mid).matrix_exp().data @ L.matrix_exp(t64(-mid)).data,
                               np.eye(3), atol=1e-11)
    rot = np.array([[0.0, -1.0], [1.0, 0.0]]) * 1.3  # e^{θJ} is the rotation by θ
    np.testing.assert_allclose(L.matrix_exp(t64(rot)).data,
                               [[np.cos(1.3), -np.sin(1.3)], [np.sin(1.3), np.cos(1.3)]],
                               atol=1e-15)
    tall, rhs = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 2))
    x, res, rank, sv = L.lstsq(t64(tall), t64(rhs), driver="gelsd")
    for i in range(2):
        want = np.linalg.lstsq(tall[i], rhs[i], rcond=None)
        np.testing.assert_allclose(x.data[i], want[0], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(res.data[i], want[1], rtol=1e-12)
        assert rank.data[i] == want[2]
        np.testing.assert_allclose(sv.data[i], want[3], rtol=1e-13)
    vec = L.lstsq(t64(tall[0]), t64(rhs[0, :, 0])).solution
    np.testing.assert_allclose(vec.data, np.linalg.lstsq(tall[0], rhs[0, :, 0], rcond=None)[0],
                               rtol=1e-12, atol=1e-13)
    deficient = np.outer([1.0, 2.0, 3.0], [1.0, 1.0])  # min-norm solution, as numpy's
    np.testing.assert_allclose(L.lstsq(t64(deficient), t64(np.ones((3, 1)))).solution.data,
                               np.linalg.lstsq(deficient, np.ones((3, 1)), rcond=None)[0],
                               atol=1e-14)
    for mat in (deficient, tall, spd(rng, 3)):
        np.testing.assert_array_equal(L.matrix_rank(t64(mat)).data, np.linalg.matrix_rank(mat))
    assert L.matrix_rank(t64(deficient)).dtype == np.int64
    assert L.matrix_rank(t64(np.diag([1.0, 1e-3])), atol=1e-2).item() == 1
    for o in ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf):
        np.testing.assert_allclose(L.matrix_norm(t64(tall), o).data,
                                   np.linalg.norm(tall, o, axis=(-2, -1)), rtol=1e-13)
        np.testing.assert_allclose(L.norm(t64(tall[0]), o).data, np.linalg.norm(tall[0], o),
                                   rtol=1e-13)
        np.testing.assert_allclose(  # other dims, keepdim
            L.matrix_norm(t64(tall), o, dim=(0, 2), keepdim=True).data,
            np.linalg.norm(tall, o, axis=(0, 2), keepdims=True), rtol=1e-13)


# ------------------------------------------------------------------- gradients: finite differences
def check(fn, *arrays):
    assert engine.gradcheck(fn, *[t64(a, True) for a in arrays])


@given(seeds, sides, batches, st.booleans())
def test_cholesky_gradient(seed, n, batch, upper):
    rng = np.random.default_rng(seed)
    check(lambda a: L.cholesky((a + a.mT) / 2, upper=upper), spd(rng, n, batch))


@given(seeds, sides, batches)
def test_eigh_gradient_through_values_and_vectors(seed, n, batch):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(batch + (n, n))
    check(lambda a: (L.eigh(a).eigenvectors * t64(w)).sum() ** 2 + L.eigvalsh(a).sum(),
          symmetric_distinct(rng, n, batch))


@given(seeds, sides, sides, batches, st.booleans())
def test_svd_gradient_through_every_factor(seed, m, n, batch, full):
    rng = np.random.default_rng(seed)
    k = min(m, n)
    w = rng.standard_normal((3,) + batch + (max(m, n),) * 2)

    def loss(a):
        u, s, vh = L.svd(a, full_matrices=full)  # only the first k columns / rows are used
        return ((u[..., :k] * t64(w[0, ..., :m, :k])).sum() + (vh[..., :k, :] * t64(
            w[1, ..., :k, :n])).sum() ** 2 + (s * t64(w[2, ..., 0, :k])).sum())
    check(loss, distinct_singular(rng, m, n, batch))
    check(lambda a: L.svdvals(a), distinct_singular(rng, m, n, batch))


@given(seeds, sides, sides, batches)
def test_qr_gradient(seed, m, n, batch):
    rng = np.random.default_rng(seed)
    check(lambda a: L.qr(a).Q.sin().sum() + (L.qr(a).R ** 2).sum(),
          distinct_singular(rng, m, n, batch))
    if m <= n:  # 'complete' is differentiable there (it is 'reduced')
        check(lambda a: L.qr(a, mode="complete").Q, distinct_singular(rng, m, n, batch))


@given(seeds, sides, batches)
def test_slogdet_logdet_matrix_power_matrix_exp_gradients(seed, n, batch):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (n, n)) + 3 * np.eye(n)
    check(lambda x: L.slogdet(x).logabsdet, a)
    check(lambda x: engine.logdet(x), spd(rng, n, batch))
    for k in (-2, 0, 3):
        check(lambda x, k=k: L.matrix_power(x, k), a)
    check(L.matrix_exp, rng.standard_normal(batch + (n, n)))
    assert engine.gradgradcheck(L.matrix_exp, t64(rng.standard_normal((n, n)), True))


@given(seeds, sides, sides, batches)
def test_pinv_lstsq_matrix_norm_gradients(seed, m, n, batch):
    rng = np.random.default_rng(seed)
    a = distinct_singular(rng, m, n, batch)
    check(L.pinv, a)
    check(lambda x, b: L.lstsq(x, b).solution, a, rng.standard_normal(batch + (m, 2)))
    for o in ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf):  # (distinct sums: no ties)
        check(lambda x, o=o: L.matrix_norm(x, o), a + 0.01 * rng.standard_normal(a.shape))


# ----------------------------------------------------------------------------------- refusals
def test_refusals_name_the_op_and_what_to_do():
    with pytest.raises(RuntimeError, match=r"linalg.cholesky: The factorization could not be "
                       r"completed because the input is not positive-definite \(the leading "
                       r"minor of order 2 is not positive-definite\)"):
        L.cholesky(t64([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(RuntimeError, match=r"linalg.cholesky: \(Batch element 1\): .* order 3"):
        L.cholesky(t64([np.eye(3), np.diag([1.0, 2.0, -1.0])]))
    with pytest.raises(ValueError, match=r"linalg.cholesky: the input is not symmetric \(max "
                                         r"\|A − Aᵀ\| = 2\): PyTorch would read only one "
                                         r"triangle"):
        L.cholesky(t64([[1.0, 0.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match=r"linalg.eigh: the input \(matrix \[1\] of the batch\) "
                                         r"is not symmetric"):
        L.eigh(t64([np.eye(2), [[1.0, 1.0], [0.0, 1.0]]]))
    with pytest.raises(ValueError, match="UPLO must be 'L' or 'U', got 'X'"):
        L.eigvalsh(t64(np.eye(2)), UPLO="X")
    for fn in (L.cholesky, L.eigh, L.slogdet, L.matrix_exp, L.inv):
        with pytest.raises(ValueError, match=r"expected a square matrix .* got shape \(2, 3\)"):
            fn(t64(np.ones((2, 3))))
    for fn in (L.svd, L.qr, L.pinv, L.svdvals):
        with pytest.raises(ValueError, match=r"must have at least 2 dimensions.* shape \(3,\)"):
            fn(t64(np.ones(3)))
        with pytest.raises(TypeError, match="expected a float matrix, got int64"):
            fn(engine.tensor([[1, 2], [3, 4]]))
    with pytest.raises(TypeError, match="linalg.cholesky: expected a float matrix, got int64"):
        L.cholesky(engine.tensor([[1, 0], [0, 1]]))
    with pytest.raises(ValueError, match=r"linalg.matrix_power: expected a square matrix"):
        L.matrix_power(t64(np.ones((2, 3))), 2)
    with pytest.raises(TypeError, match="linalg.matrix_power: the exponent must be an int"):
        L.matrix_power(t64(np.eye(2)), 0.5)
    with pytest.raises(RuntimeError, match="inverse: the matrix .* is singular"):
        L.matrix_power(t64(np.zeros((2, 2))), -1)
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Order 3 not supported"):
        L.matrix_norm(t64(np.eye(2)), 3)
    with pytest.raises(RuntimeError, match="driver=` is only supported on CUDA"):
        L.svd(t64(np.eye(2)), driver="gesvd")
    with pytest.raises(RuntimeError, match=r"linalg.lstsq: parameter `driver` should be one of"):
        L.lstsq(t64(np.eye(2)), t64(np.eye(2)), driver="x")
    with pytest.raises(ValueError, match=r"linalg.lstsq: A \(3, 2\) and B \(2, 1\) do not"):
        L.lstsq(t64(np.ones((3, 2))), t64(np.ones((2, 1))))


def backward_error(loss, a, match):
    x = t64(a, True)
    with pytest.raises(RuntimeError, match=match):
        loss(x).backward()


def test_ill_defined_gradients_are_refused_where_torch_gives_inf_nan_or_drops_terms():
    w = t64(np.arange(9.0).reshape(3, 3))
    # repeated eigenvalue / singular value, and a loss that sees the vectors' choice
    backward_error(lambda x: (L.eigh(x).eigenvectors * w).sum(), np.diag([1.0, 1.0, 2.0]),
                   r"linalg.eigh: eigenvalues 0 and 1 are equal \(or nearly\)")
    backward_error(lambda x: (L.svd(x).U * w).sum(), np.diag([2.0, 2.0, 1.0]),
                   r"linalg.svd: singular values 0 and 1 are equal")
    # … but a loss on the values, or on the span (A's reconstruction), is fine with ties
    for loss in (lambda x: L.eigh(x).eigenvalues.sum(),
                 lambda x: (lambda r: ((r.eigenvectors * r.eigenvalues[None]) @
                                       r.eigenvectors.mT * w).sum())(L.eigh(x))):
        x = t64(np.diag([1.0, 1.0, 2.0]), True)
        loss(x).backward()
        assert np.all(np.isfinite(x.grad.data))
    x = t64(np.eye(3), True)
    L.svdvals(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.eye(3))
    backward_error(lambda x: L.svd(x).U.sum(), np.ones((4, 2)) + np.eye(4, 2),
                   r"linalg.svd: the loss depends on the last 2 columns of U, which "
                   r"full_matrices=True adds.*Use full_matrices=False")
    backward_error(lambda x: L.svd(x, full_matrices=False).U.sum(), np.ones((4, 2)),
                   r"linalg.svd: A \(4, 2\) is rank-deficient")
    backward_error(lambda x: L.qr(x).Q.sum(), np.ones((3, 2)),
                   r"linalg.qr: the first 2 columns of A \(3, 2\) are linearly dependent")
    backward_error(lambda x: L.qr(x, mode="r").R.sum(), np.eye(3, 2),
                   r"The derivative of linalg.qr depends on Q, which is not computed when "
                   r"mode='r'")
    backward_error(lambda x: L.qr(x, mode="complete").R.sum(), np.eye(3, 2),
                   r"not differentiable when mode='complete' and nrows > ncols")
    backward_error(lambda x: L.slogdet(x).logabsdet, np.zeros((2, 2)),
                   r"linalg.slogdet: A \(2, 2\) is singular .* the gradient of log\|det A\| "
                   r"there is infinite")
    with pytest.raises(RuntimeError, match="linalg.svd is not twice differentiable"):
        x = t64(np.eye(2), True)
        engine.grad(L.svdvals(x).sum(), [x], create_graph=True)


# -------------------------------------------------------------------------------------- torch
def compare(ours_fn, torch_fn, arrays, rng, rtol=1e-10, atol=1e-12):
    """Values and the gradients of Σ G·out (G random, one per output) against torch."""
    torch = pytest.importorskip("torch")
    ours = [t64(a, True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, yt = ours_fn(*ours), torch_fn(*theirs)
    y, yt = (y, yt) if isinstance(yt, (tuple, list)) else ((y,), (yt,))
    loss, loss_t, worst = 0, 0, 0.0
    for a, b in zip(y, yt, strict=True):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=rtol, atol=atol)
        worst = max(worst, float(np.abs(a.data - b.detach().numpy()).max(initial=0)))
        if b.requires_grad:
            g = rng.standard_normal(tuple(b.shape))
            loss, loss_t = loss + (a * t64(g)).sum(), loss_t + (b * torch.tensor(g)).sum()
    loss.backward()
    loss_t.backward()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=rtol, atol=atol)
        worst = max(worst, float(np.abs(a.grad.data - b.grad.numpy()).max()))
    return worst


def test_decompositions_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    worst = {}
    sym = spd(rng, 4, (2,))
    worst["cholesky"] = compare(L.cholesky, torch.linalg.cholesky, [sym], rng)
    worst["cholesky upper"] = compare(lambda a: L.cholesky(a, upper=True),
                                      lambda a: torch.linalg.cholesky(a, upper=True), [sym], rng)
    for m, n in [(5, 3), (3, 3), (2, 4)]:  # QR: the same Householder signs (LAPACK's)
        a = distinct_singular(rng, m, n, (2,))
        worst[f"qr {m}x{n}"] = compare(lambda x: tuple(L.qr(x)), torch.linalg.qr, [a], rng)
        worst[f"svdvals {m}x{n}"] = compare(L.svdvals, torch.linalg.svdvals, [a], rng)
        worst[f"pinv {m}x{n}"] = compare(L.pinv, torch.linalg.pinv, [a], rng)
        # svd: sign-free quantities (S, the reconstruction, |U|, |Vh|), one loss on them all
        wu, wv = rng.standard_normal((2, m, min(m, n))), rng.standard_normal((2, min(m, n), n))

        def sign_free(lib, x, wu=wu, wv=wv):
            u, s, vh = lib.linalg.svd(x, full_matrices=False)
            k = lambda v: torch.tensor(v) if lib is torch else t64(v)  # noqa: E731
            return (s, (u * s[..., None, :]) @ vh, (u * u * k(wu)).sum((-2, -1)),
                    (vh * vh * k(wv)).sum((-2, -1)))
        worst[f"svd {m}x{n}"] = compare(lambda x: sign_free(engine, x),
                                        lambda x: sign_free(torch, x), [a], rng)
    s = symmetric_distinct(rng, 4, (2,))
    ww = rng.standard_normal((4, 4))

    def eig_free(lib, x):
        w, v = lib.linalg.eigh(x)
        k = torch.tensor(ww) if lib is torch else t64(ww)
        return w, (v * v * k).sum((-2, -1)), lib.linalg.eigvalsh(x)
    worst["eigh"] = compare(lambda x: eig_free(engine, x), lambda x: eig_free(torch, x), [s], rng)
    a = rng.standard_normal((2, 3, 3)) + 2 * np.eye(3)
    a[1] = -a[1]
    worst["slogdet"] = compare(lambda x: tuple(L.slogdet(x)), torch.linalg.slogdet, [a], rng)
    worst["logdet"] = compare(engine.logdet, torch.logdet, [spd(rng, 3)], rng)
    worst["pinverse"] = compare(lambda x: x.pinverse(), lambda x: x.pinverse(),
                                [np.outer([1.0, 2.0, 3.0], [1.0, -1.0])], rng)
    for k in (-3, 0, 1, 4):
        worst[f"matrix_power {k}"] = compare(lambda x, k=k: x.matrix_power(k),
                                             lambda x, k=k: x.matrix_power(k), [a], rng)
    for scale in (0.1, 1.0, 6.0):
        worst[f"matrix_exp ×{scale}"] = compare(
            engine.matrix_exp, torch.matrix_exp, [scale * rng.standard_normal((2, 4, 4))], rng,
            rtol=1e-9)
    tall, b = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 2))
    for driver in (None, "gels", "gelsy", "gelsd", "gelss"):
        ours = L.lstsq(t64(tall), t64(b), driver=driver)
        theirs = torch.linalg.lstsq(torch.tensor(tall), torch.tensor(b), driver=driver)
        for f in ours._fields:
            o, th = getattr(ours, f), getattr(theirs, f)
            assert o.shape == tuple(th.shape) and o.dtype == th.numpy().dtype, (driver, f)
            np.testing.assert_allclose(o.data, th.numpy(), rtol=1e-10, atol=1e-12)
    worst["lstsq"] = compare(lambda x, y: L.lstsq(x, y).solution,
                             lambda x, y: torch.linalg.lstsq(x, y).solution, [tall, b], rng)
    worst["lstsq vector"] = compare(lambda x, y: L.lstsq(x, y).solution,
                                    lambda x, y: torch.linalg.lstsq(x, y).solution,
                                    [tall[0], b[0, :, 0]], rng)
    for o in ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf):
        worst[f"matrix_norm {o}"] = compare(lambda x, o=o: L.matrix_norm(x, o),
                                            lambda x, o=o: torch.linalg.matrix_norm(x, o),
                                            [tall], rng)
        worst[f"norm {o}"] = compare(lambda x, o=o: L.norm(x, o, dim=(0, 2), keepdim=True),
                                     lambda x, o=o: torch.linalg.norm(x, o, dim=(0, 2),
                                                                       keepdim=True),
                                     [tall], rng)
    for o in (None, 1, 3, math.inf):
        worst[f"vector_norm {o}"] = compare(lambda x, o=o: L.norm(x, o, dim=1),
                                            lambda x, o=o: torch.linalg.norm(x, o, dim=1),
                                            [tall], rng)
    for mat in (np.outer([1.0, 2.0], [3.0, 4.0]), tall, np.diag([1.0, 1e-3])):
        for kw in ({}, {"atol": 1e-2}, {"rtol": 0.5}):
            assert np.array_equal(L.matrix_rank(t64(mat), **kw).data,
                                  torch.linalg.matrix_rank(torch.tensor(mat), **kw).numpy())
    print("max |ours − torch|:", max(worst.values()), max(worst, key=worst.get))
    assert max(worst.values()) < 1e-9, worst


def test_matrix_exp_matches_scipy_at_large_norms():
    expm = pytest.importorskip("scipy.linalg").expm
    rng = np.random.default_rng(7)
    for scale in (1e-3, 1.0, 20.0):
        a = scale * rng.standard_normal((2, 5, 5))
        np.testing.assert_allclose(L.matrix_exp(t64(a)).data, expm(a), rtol=1e-10,
                                   atol=1e-12 * np.abs(expm(a)).max())


def test_repeated_singular_values_torch_gives_nan_where_we_refuse():
    torch = pytest.importorskip("torch")
    x = torch.tensor(np.diag([1.0, 1.0, 2.0]), requires_grad=True)
    (torch.linalg.eigh(x).eigenvectors * torch.arange(9.0, dtype=torch.float64).reshape(3, 3)
     ).sum().backward()
    assert not torch.isfinite(x.grad).all()  # what our refusal stands in for
