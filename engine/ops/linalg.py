"""Matrix product (batched, numpy's ``@`` semantics), the GEMM behind Linear and conv."""
from __future__ import annotations

import numpy as np

from ..autograd import Node
from ..fast import kernels
from ..testing import Bad, T, normal, spec
from . import xp
from .base import Op


def _matmul_shapes(rng):
    kind = int(rng.integers(0, 5))
    n, k, m = (int(v) for v in rng.integers(1, 5, size=3))
    if kind == 0:
        return (n, k), (k, m)
    if kind == 1:  # batched with broadcasting batch dims
        b = int(rng.integers(1, 4))
        return (b, n, k), (1, k, m) if rng.random() < 0.5 else (k, m)
    if kind == 2:
        return (k,), (k, m) if rng.random() < 0.5 else (2, k, m)
    if kind == 3:
        return (n, k), (k,) if rng.random() < 0.5 else (k,)
    return (k,), (k,)


OUTER_KERNEL_MIN = 4096  # outputs from which the K = 1 product loads its Numba loop


def _product(a, b):
    """``a @ b`` for operands of at least 2 dims. At K = 1 it is an outer product (an LSTM's
    or a Linear(1, ·)'s x·W_ihᵀ on one input feature): each entry is one product, so
    broadcasting gives matmul's bits, 3.5x faster than OpenBLAS's GEMM ((3200, 1)·(1, 128):
    0.13 vs 0.46 ms), and for big 2-D float operands one Numba loop 6x faster still (19 µs,
    engine/fast/kernels/elementwise.py)."""
    if a.shape[-1] == 1 and a.ndim > 1 and b.ndim > 1:
        if (a.ndim == b.ndim == 2 and a.shape[0] * b.shape[1] >= OUTER_KERNEL_MIN
                and type(a) is type(b) is np.ndarray and a.dtype == b.dtype
                and a.dtype in kernels.KERNEL_DTYPES):
            out = np.empty((a.shape[0], b.shape[1]), a.dtype)
            kernels.outer_product(np.ascontiguousarray(a[:, 0]), np.ascontiguousarray(b[0]), out)
            return out
        return np.multiply(a, b)
    return np.matmul(a, b)


def column_sums(g):
    """Σ over the rows of a 2-D gradient (a bias's gradient). Many rows of a float array
    (an LSTM's 3,200 (batch × time) rows of 128 gates) are summed as one GEMV, ones·G:
    numpy's sum(axis=0) walks the array once more at memory speed (1.6 MB: 79 against 26 µs).
    Tensors (create_graph) take .sum, the recorded op."""
    if type(g) is np.ndarray and g.shape[0] >= 256 and g.dtype.kind == "f" and g.ndim == 2:
        return np.ones(g.shape[0], g.dtype) @ g
    return g.sum(axis=0)


@spec(call=lambda a, b: a @ b, ref=np.matmul, arity=2, shapes=_matmul_shapes,
      errors=(Bad(lambda: T(2, 3) @ T(4, 5), ValueError, r"matmul: shapes \(2, 3\) and \(4, 5\)"),))
class MatMul(Op):
    name, formula = "matmul", "d(A·B)/dA = G·Bᵀ, d(A·B)/dB = Aᵀ·G"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dim, got shapes "
                             f"{a.shape} and {b.shape} (use * for scalars)")
        ka, kb = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                             f"{ka} (last dim of a) != {kb} (dim {-2 if b.ndim > 1 else 0} of b)")
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dims of shapes {a.shape} and {b.shape} "
                             f"do not broadcast") from None
        self.shapes = (a.shape, b.shape)
        return _product(a, b)

    def backward(self, g, a, b, out):
        if a.ndim == 1 and b.ndim == 1:  # a dot product
            return g * b, g * a
        # A 1-D operand is a matrix with one row (a) or one column (b): promote, use the
        # matrix formulas, drop the added axis again (the walk sums any batch dims away).
        if a.ndim == 1:
            g2 = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
            da = (g2 @ xp.swap_last(b)) if self.needs_grad[0] else None
            db = a.reshape((a.shape[0], 1)) @ g2 if self.needs_grad[1] else None
            return (None if da is None else da.reshape(da.shape[:-2] + da.shape[-1:])), db
        if b.ndim == 1:
            g2 = g.reshape(g.shape + (1,))
            da = g2 @ b.reshape((1, b.shape[0])) if self.needs_grad[0] else None
            db = (xp.swap_last(a) @ g2) if self.needs_grad[1] else None
            return da, (None if db is None else db.reshape(db.shape[:-1]))
        db = None
        if self.needs_grad[1]:
            # When b is a transposed view (Linear's weight.T), the same product computed as
            # (Gᵀ·A)ᵀ lays dB out like b, so the parameter's gradient (dB transposed back) is
            # C-contiguous, as the parameter is: optimizers then need no copy.
            transposed = type(b) is np.ndarray and g.ndim == b.ndim == 2 and \
                b.flags.f_contiguous and not b.flags.c_contiguous
            db = (g.T @ a).T if transposed else xp.swap_last(a) @ g
        return (g @ xp.swap_last(b) if self.needs_grad[0] else None), db

    def describe(self):
        return f"{self.shapes[0]} @ {self.shapes[1]}"


def _linear_shapes(rng):
    k, m = (int(v) for v in rng.integers(1, 5, size=2))
    lead = [(), (int(rng.integers(1, 5)),), (2, int(rng.integers(1, 4)))][int(rng.integers(0, 3))]
    return lead + (k,), (m, k), (m,)


@spec(call=lambda x, w, b: Linear.apply(x, w, b), ref=lambda x, w, b: x @ w.T + b, arity=3,
      shapes=_linear_shapes,
      errors=(Bad(lambda: Linear.apply(T(2, 3), T(4, 5)), ValueError,
                  r"linear: input of shape \(2, 3\) has 3 features but the weight of shape "
                  r"\(4, 5\) expects 5"),
              Bad(lambda: Linear.apply(T(2, 3), T(4, 3), T(3)), ValueError,
                  r"linear: bias of shape \(3,\) does not match the weight's 4 outputs")))
class Linear(Op):
    """``y = x·Wᵀ + b`` (PyTorch's ``F.linear``, its ``addmm``): x (..., in), W (out, in),
    b (out,) or none → y (..., out). One op where ``x @ W.T + b`` is three (the transpose,
    the product, the sum), so a layer is one node in pictures and in the backward walk."""

    name, formula = "linear", "y = x·Wᵀ + b: dx = G·W, dW = Gᵀ·x, db = Σ G over the rows"
    fresh_grads = True  # every gradient is a new GEMM/GEMV result (or a reshape of one)

    def forward(self, x, w, b=None):
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} has "
                             f"{x.shape[-1] if x.ndim else 0} features but the weight of "
                             f"shape {w.shape} expects "
                             f"{w.shape[1] if w.ndim == 2 else '(out, in) weight'}")
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias of shape {b.shape} does not match the weight's "
                             f"{w.shape[0]} outputs (expected ({w.shape[0]},))")
        self.shapes, self.has_bias = (x.shape, w.shape), b is not None
        y = _product(x.reshape(-1, x.shape[-1]), w.T)  # BLAS reads W transposed in place
        if b is not None:
            if np.result_type(y, b) == y.dtype:
                y += b  # y is this op's own array: no second (N, out) array
            else:
                y = y + b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g, x, w, b=None, out=None):
        # Rows: every leading dim of x is a batch dim. Written with operators only, so the
        # same lines run on Tensors (create_graph: second derivatives).
        g2 = g.reshape(-1, w.shape[0])
        need = self.needs_grad
        dx = (g2 @ w).reshape(x.shape) if need[0] else None
        # Gᵀ·x is (out, in): laid out like W, C-contiguous (optimizers need no copy).
        dw = xp.swap_last(g2) @ x.reshape(-1, x.shape[-1]) if need[1] else None
        if len(need) < 3:
            return dx, dw
        return dx, dw, (column_sums(g2) if need[2] else None)

    def label(self):
        return "linear x·Wᵀ + b" if self.has_bias else "linear x·Wᵀ"

    def describe(self):
        x, w = self.shapes
        return f"x {x} · Wᵀ {w[::-1]}" + (" + b" if self.has_bias else "")


# ------------------------------------------------------------- inverse, determinant, solve
def _square_shapes(rng):
    n = int(rng.integers(1, 5))
    return ((n, n),) if rng.random() < 0.5 else ((int(rng.integers(1, 4)), n, n),)


def _well_conditioned(rng, shape):
    """A random matrix plus 3·I: far from singular, so the finite differences are tame."""
    return rng.standard_normal(shape) + 3.0 * np.eye(shape[-1])


def _check_square(op, a):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{op}: expected a square matrix or a batch of them (…, n, n), got "
                         f"shape {a.shape}")
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: expected a float matrix, got {a.dtype} (convert it with "
                        f".float() or .double())")


def _singular(op, a):
    return RuntimeError(f"{op}: the matrix (shape {a.shape}) is singular: it has no inverse "
                        f"(PyTorch: 'the inversion could not be completed because the input "
                        f"matrix is singular')")


@spec(ref=np.linalg.inv, shapes=_square_shapes, domain=(_well_conditioned,),
      errors=(Bad(lambda: Inverse.apply(T(2, 3)), ValueError,
                  r"inverse: expected a square matrix or a batch of them \(…, n, n\), got "
                  r"shape \(2, 3\)"),
              Bad(lambda: Inverse.apply(T(2, 2) * 0), RuntimeError,
                  r"inverse: the matrix \(shape \(2, 2\)\) is singular")))
class Inverse(Op):
    name, formula = "inverse", "d(A⁻¹) = −A⁻¹·dA·A⁻¹, so dA = −A⁻ᵀ·G·A⁻ᵀ"

    def forward(self, a):
        _check_square(self.name, a)
        try:
            return np.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise _singular(self.name, a) from None

    def backward(self, g, a, out):
        t = xp.swap_last(out)
        return -(t @ g @ t)  # operators only: Tensors too (second derivatives)


@spec(ref=np.linalg.det, shapes=_square_shapes, domain=(_well_conditioned,),
      errors=(Bad(lambda: Det.apply(T(3)), ValueError, r"det: expected a square matrix"),))
class Det(Op):
    name, formula = "det", "d det(A) / dA = det(A)·A⁻ᵀ (the cofactor matrix)"
    twice = False
    twice_hint = "; for second derivatives write det through engine.inverse"

    def forward(self, a):
        _check_square(self.name, a)
        return np.asarray(np.linalg.det(a))

    def backward(self, g, a, out):
        return np.asarray(g)[..., None, None] * _cofactors(a)


def _cofactors(a):
    """The cofactor matrices C (C[i, j] = (−1)^(i+j)·det of a without row i and column j),
    d det / dA: det(A)·A⁻ᵀ where A is invertible, from the minors where it is not."""
    det = np.linalg.det(a)
    if np.all(np.abs(det) > 1e-12 * np.abs(a).max(axis=(-2, -1), initial=1.0) ** a.shape[-1]):
        return det[..., None, None] * np.swapaxes(np.linalg.inv(a), -1, -2)
    n = a.shape[-1]
    if n == 1:
        return np.ones_like(a)
    out = np.empty_like(a)
    for i in range(n):
        rows = [r for r in range(n) if r != i]
        for j in range(n):
            cols = [c for c in range(n) if c != j]
            out[..., i, j] = (-1) ** (i + j) * np.linalg.det(a[..., rows, :][..., :, cols])
    return out


def _solve_shapes(rng):
    n, k = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    return [((n, n), (n, k)), ((n, n), (n,)), ((2, n, n), (2, n, k))][int(rng.integers(0, 3))]


def _np_solve(a, b):
    return np.linalg.solve(a, b[..., None])[..., 0] if b.ndim == 1 else np.linalg.solve(a, b)


@spec(ref=_np_solve, arity=2, shapes=_solve_shapes, domain=(_well_conditioned, normal),
      errors=(Bad(lambda: Solve.apply(T(3, 3), T(2, 1)), ValueError,
                  r"solve: A \(3, 3\) and B \(2, 1\) do not match"),))
class Solve(Op):
    name, formula = "solve", "X = A⁻¹B: dB = A⁻ᵀ·G, dA = −dB·Xᵀ"

    def forward(self, a, b):
        _check_square(self.name, a)
        vector = b.ndim == 1
        fits = a.ndim == 2 and b.shape[0] == a.shape[-1] if vector else \
            b.ndim == a.ndim and b.shape[-2] == a.shape[-1]
        if not fits:
            raise ValueError(f"solve: A {a.shape} and B {b.shape} do not match: B must be "
                             f"(n,) with a single A (n, n), or (…, n, k) with A's dims")
        self.vector = vector
        try:
            return _np_solve(a, b)
        except np.linalg.LinAlgError:
            raise _singular(self.name, a) from None
        except ValueError as e:  # batch dims that do not broadcast
            raise ValueError(f"solve: A {a.shape} and B {b.shape}: {e}") from None

    def backward(self, g, a, b, out):
        g2, x = (g.reshape(-1, 1), out.reshape(-1, 1)) if self.vector else (g, out)
        db = xp.solve(xp.swap_last(a), g2)  # Aᵀ·dB = G
        da = -(db @ xp.swap_last(x)) if self.needs_grad[0] else None
        return da, (db.reshape(-1) if self.vector else db) if self.needs_grad[1] else None


# ----------------------------------------------------- decompositions (ops with several outputs)
# An Op has one output, so a decomposition returns its factors packed side by side along a last
# axis (…, |U| + |S| + |Vh|); engine.linalg slices them apart. The walk then hands backward
# one packed gradient, zeros where a factor was not used: unpack() splits it the same way.
def pack(arrays, batch):
    return np.concatenate([x.reshape(batch + (-1,)) for x in arrays], axis=-1)


def unpack(packed, parts):
    """The factors (arrays or Tensors) of a packed output: slices of its last axis, reshaped
    to ``parts`` (their shapes without the batch dims)."""
    out, start, batch = [], 0, packed.shape[:-1]
    for shape in parts:
        size = int(np.prod(shape))
        out.append(packed[..., start:start + size].reshape(batch + tuple(shape)))
        start += size
    return out


def _check_matrix(op, a):
    if a.ndim < 2:
        raise ValueError(f"{op}: the input must have at least 2 dimensions (…, m, n), got "
                         f"shape {a.shape}")
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: expected a float matrix, got {a.dtype} (convert it with "
                        f".float() or .double())")


def _symmetric_part(op, a, uplo="L"):
    """(A + Aᵀ)/2 of a matrix that must be symmetric. PyTorch reads one triangle and ignores
    the other, so a non-symmetric input gives it a silently wrong answer: refused here. Using
    the symmetric part (not one triangle) makes the gradient, symmetric as PyTorch's, the
    true derivative of the forward."""
    if uplo not in ("L", "U"):
        raise ValueError(f"{op}: UPLO must be 'L' or 'U', got {uplo!r}")
    at = np.swapaxes(a, -1, -2)
    scale = np.abs(a).max(axis=(-2, -1), initial=0.0)
    off = np.abs(a - at).max(axis=(-2, -1), initial=0.0)
    bad = off > 1e-5 * scale  # rounding (A·Aᵀ in float32) passes, a real asymmetry does not
    if np.any(bad):
        where = "" if a.ndim == 2 else f" (matrix {np.argwhere(bad)[0].tolist()} of the batch)"
        raise ValueError(f"{op}: the input{where} is not symmetric (max |A − Aᵀ| = "
                         f"{off[bad].flat[0]:.3g}): PyTorch would read only one triangle and "
                         f"silently ignore the other. Symmetrise it, (A + A.mT) / 2, or use "
                         f"an SVD for a general matrix")
    return (a + at) / 2


def column_signs(vecs):
    """±1 for each column of ``vecs`` (…, m, k): the sign that makes its largest-magnitude
    entry (the first one on a tie) positive. Singular and eigenvectors have no sign of their
    own, and LAPACKs differ (PyTorch's MKL and numpy's OpenBLAS disagree on a quarter of
    them): this rule makes stepgrad's the same on every machine."""
    if vecs.shape[-2] == 0:
        return np.ones(vecs.shape[:-2] + vecs.shape[-1:], vecs.dtype)
    top = np.take_along_axis(vecs, np.abs(vecs).argmax(axis=-2)[..., None, :], axis=-2)
    return np.where(top[..., 0, :] < 0, -1, 1).astype(vecs.dtype)


def fix_signs(vecs):
    """``vecs`` with its columns flipped by ``column_signs``."""
    return vecs * column_signs(vecs)[..., None, :] + 0.0  # (+ 0: no −0 from flipped zeros)


def _tol(dtype, n):
    return 10 * max(n, 1) * np.finfo(dtype).eps


def _by_gaps(op, vals, num, what):
    """num_ij / (vals_j − vals_i) off the diagonal (0 on it): how eigen/singular vectors turn.
    Where two values tie the quotient is undefined (PyTorch returns inf/NaN): 0 when the loss
    does not see the mixing (num_ij ≈ 0: it depends on their span only), else refused."""
    gaps = vals[..., None, :] - vals[..., :, None]
    eye = np.eye(vals.shape[-1], dtype=bool)
    tol = _tol(vals.dtype, vals.shape[-1])
    tie = (np.abs(gaps) <= tol * np.abs(vals).max(axis=-1, keepdims=True)[..., None]) & ~eye
    if np.any(tie & (np.abs(num) > tol * np.abs(num).max(initial=0.0))):
        i, j = np.argwhere(tie & (np.abs(num) > 0))[0][-2:]
        raise RuntimeError(f"{op}: {what} {i} and {j} are equal (or nearly): the vectors of "
                           f"a repeated value are not unique, and the loss depends on which "
                           f"are returned, so its gradient is not defined (PyTorch returns "
                           f"inf/NaN). Make the loss depend on the values only, or on the "
                           f"vectors' span")
    return np.where(tie | eye, 0, num / np.where(tie | eye, 1, gaps))


def _skew(x):
    return x - np.swapaxes(x, -1, -2)


def _diag_embed(v):
    return v[..., :, None] * np.eye(v.shape[-1], dtype=v.dtype)


_ONCE = "; second derivatives of decompositions are not in stepgrad"


def _orthonormal(rng, m, k, batch=()):
    return np.linalg.qr(rng.standard_normal(batch + (m, k)))[0]


def _spd(rng, shape):
    """A·Aᵀ + n·I: symmetric positive-definite, well conditioned."""
    x = rng.standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def _spaced(rng, batch, k, lo):
    """k values at least 0.5 apart from ``lo`` up, in random order (no ties by construction)."""
    return lo + np.argsort(rng.random(batch + (k,)), axis=-1) + rng.uniform(0, 0.5, batch + (k,))


def _symmetric_distinct(rng, shape):
    """V·diag(w)·Vᵀ with eigenvalues w at least 0.5 apart (signs mixed)."""
    n, batch = shape[-1], shape[:-2]
    v = _orthonormal(rng, n, n, batch)
    w = _spaced(rng, batch, n, -n / 2)
    return (v * w[..., None, :]) @ np.swapaxes(v, -1, -2)


def _distinct_singular(rng, shape):
    """U·diag(s)·Vᵀ with singular values s ≥ 1 at least 0.5 apart (full rank, no ties)."""
    (m, n), batch = shape[-2:], shape[:-2]
    k = min(m, n)
    u, v = _orthonormal(rng, m, k, batch), _orthonormal(rng, n, k, batch)
    return (u * _spaced(rng, batch, k, 1.0)[..., None, :]) @ np.swapaxes(v, -1, -2)


def _matrix_shapes(rng):
    m, n = (int(v) for v in rng.integers(1, 5, size=2))
    return ((m, n),) if rng.random() < 0.5 else ((int(rng.integers(1, 3)), m, n),)


def _not_pd(op, a):
    """PyTorch's message, with the order of the first leading minor that is not positive."""
    flat = a.reshape((-1,) + a.shape[-2:])
    for b, x in enumerate(flat):
        for k in range(1, x.shape[-1] + 1):
            try:
                np.linalg.cholesky(x[:k, :k])
            except np.linalg.LinAlgError:
                where = f"(Batch element {b}): " if a.ndim > 2 else ""
                return RuntimeError(
                    f"{op}: {where}The factorization could not be completed because the input "
                    f"is not positive-definite (the leading minor of order {k} is not "
                    f"positive-definite). Check how the matrix is built, or add a small "
                    f"multiple of the identity, A + ε·I, if it is only semi-definite")
    return RuntimeError(f"{op}: the factorization failed (NaN or inf in the input?)")


def _cholesky_ref(a, upper=False):
    low = np.linalg.cholesky((a + np.swapaxes(a, -1, -2)) / 2)
    return np.swapaxes(low, -1, -2) if upper else low


@spec(ref=_cholesky_ref, shapes=_square_shapes, domain=(_spd,),
      params=lambda rng, shapes: {"upper": bool(rng.integers(0, 2))},
      errors=(Bad(lambda: Cholesky.apply(T(2, 2) - 2 * T(2, 2) * T(2)), RuntimeError,
                  r"linalg.cholesky: The factorization could not be completed because the "
                  r"input is not positive-definite \(the leading minor of order 1"),
              Bad(lambda: Cholesky.apply(T(2, 3)), ValueError, r"linalg.cholesky: expected a "
                  r"square matrix or a batch of them \(…, n, n\), got shape \(2, 3\)")))
class Cholesky(Op):
    """L lower-triangular with A = L·Lᵀ, positive diagonal (Lᵀ with ``upper``)."""
    name, twice, twice_hint = "linalg.cholesky", False, _ONCE
    formula = ("A = L·Lᵀ: dA = L⁻ᵀ·Φ(Lᵀ·G)·L⁻¹, Φ(X) = X's lower triangle, symmetrised, "
               "diagonal halved")

    def forward(self, a, upper=False):
        _check_square(self.name, a)
        self.upper = upper
        try:
            low = np.linalg.cholesky(_symmetric_part(self.name, a))
        except np.linalg.LinAlgError:
            raise _not_pd(self.name, a) from None
        return np.swapaxes(low, -1, -2) if upper else low

    def backward(self, g, a, out):
        low, g = (np.swapaxes(out, -1, -2), np.swapaxes(g, -1, -2)) if self.upper else (out, g)
        phi = np.tril(np.swapaxes(low, -1, -2) @ g)  # PyTorch's cholesky_backward
        phi = (phi + np.swapaxes(np.tril(phi, -1), -1, -2)) / 2
        inv = np.linalg.inv(low)
        return np.swapaxes(inv, -1, -2) @ phi @ inv


def _eigh_ref(a, eigenvectors=True):
    w, v = np.linalg.eigh((a + np.swapaxes(a, -1, -2)) / 2)
    return pack([w, fix_signs(v)], a.shape[:-2]) if eigenvectors else w


@spec(ref=_eigh_ref, shapes=_square_shapes, domain=(_symmetric_distinct,),
      params=lambda rng, shapes: {"eigenvectors": bool(rng.integers(0, 2))},
      errors=(Bad(lambda: Eigh.apply(T(2, 2).cumsum(0)), ValueError,
                  r"linalg.eigh: the input is not symmetric \(max \|A − Aᵀ\| = 1\)"),
              Bad(lambda: Eigh.apply(T(3)), ValueError, r"linalg.eigh: expected a square")))
class Eigh(Op):
    """Eigenvalues L (ascending) and eigenvectors V (columns, signs by ``fix_signs``) of a
    symmetric A = V·diag(L)·Vᵀ, packed (L, V); only L with ``eigenvectors=False``."""
    name, twice, twice_hint = "linalg.eigh", False, _ONCE
    formula = "A = V·diag(L)·Vᵀ: dA = V·[diag(gL) + ½skew(Vᵀ·gV) / (L_j − L_i)]·Vᵀ"

    def forward(self, a, UPLO="L", eigenvectors=True):  # noqa: N803 (PyTorch's keyword)
        _check_square(self.name, a)
        w, v = np.linalg.eigh(_symmetric_part(self.name, a, UPLO))
        self.values_only, self.parts = not eigenvectors, ((a.shape[-1],), a.shape[-2:])
        if not eigenvectors:
            self.save(v)
            return w
        return pack([w, fix_signs(v)], a.shape[:-2])

    def backward(self, g, a, out):
        if self.values_only:
            (v,), gw, gv = self.saved, g, None
        else:
            (w, v), (gw, gv) = unpack(out, self.parts), unpack(g, self.parts)
        vt = np.swapaxes(v, -1, -2)
        if gv is None or not gv.any():  # values only: V·diag(gL)·Vᵀ
            return (v * gw[..., None, :]) @ vt
        inner = _by_gaps(self.name, w, _skew(vt @ gv) / 2, "eigenvalues") + _diag_embed(gw)
        return v @ inner @ vt


def _svd_ref(a, full_matrices=True, compute_uv=True):
    if not compute_uv:
        return np.linalg.svd(a, compute_uv=False)
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    u = fix_signs(u)
    vh = np.linalg.solve(_diag_embed(s), np.swapaxes(u, -1, -2) @ a)  # Vh = S⁻¹·Uᵀ·A
    return pack([u, s, vh], a.shape[:-2])


@spec(ref=_svd_ref, shapes=_matrix_shapes, domain=(_distinct_singular,),
      params=lambda rng, shapes: {"full_matrices": False,
                                  "compute_uv": bool(rng.integers(0, 2))},
      errors=(Bad(lambda: SVD.apply(T(3)), ValueError,
                  r"linalg.svd: the input must have at least 2 dimensions"),
              Bad(lambda: SVD.apply(T(2, 2, dtype=np.int64)), TypeError,
                  r"linalg.svd: expected a float matrix, got int64")))
class SVD(Op):
    """A = U·diag(S)·Vh, S descending, packed (U, S, Vh); U's columns signed by ``fix_signs``,
    Vh's rows to match (rows beyond min(m, n) by the same rule). Only S without
    ``compute_uv``."""
    name, twice, twice_hint = "linalg.svd", False, _ONCE
    formula = ("A = U·diag(S)·Vh: dA = U·[diag(gS) + (skew(Uᵀ·gU)·S + S·skew(Vh·gVhᵀ)) / "
               "(S_j² − S_i²)]·Vh, plus (I − UUᵀ)·gU·S⁻¹·Vh (m > n) or U·S⁻¹·gVh·(I − VVᵀ)")

    def forward(self, a, full_matrices=True, compute_uv=True):
        _check_matrix(self.name, a)
        m, n = a.shape[-2:]
        self.values_only, self.full, k = not compute_uv, full_matrices, min(m, n)
        u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
        if not compute_uv:
            self.save(u[..., :k], vh[..., :k, :])
            return s
        flip = column_signs(u)
        u = u * flip[..., None, :] + 0.0
        vh = np.concatenate([vh[..., :k, :] * flip[..., :k, None],  # rows beyond k: own signs
                             vh[..., k:, :] * column_signs(np.swapaxes(vh[..., k:, :], -1, -2))[
                                 ..., :, None]], axis=-2) + 0.0
        self.parts = (u.shape[-2:], (k,), vh.shape[-2:])
        return pack([u, s, vh], a.shape[:-2])

    def backward(self, g, a, out):
        if self.values_only:
            u, vh = self.saved
            return (u * g[..., None, :]) @ vh
        (u, s, vh), (gu, gs, gvh) = unpack(out, self.parts), unpack(g, self.parts)
        (m, n), k = a.shape[-2:], s.shape[-1]
        if self.full and (gu[..., k:].any() or gvh[..., k:, :].any()):
            raise RuntimeError(
                f"linalg.svd: the loss depends on the last {max(m, n) - k} "
                f"{'columns of U' if m > n else 'rows of Vh'}, which full_matrices=True adds: "
                f"any orthonormal completion is as good, so that gradient is not defined "
                f"(PyTorch drops it silently). Use full_matrices=False")
        u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
        ut, v = np.swapaxes(u, -1, -2), np.swapaxes(vh, -1, -2)
        use_u, use_v = gu.any(), gvh.any()
        if not (use_u or use_v):  # values only: U·diag(gS)·Vh
            return (u * gs[..., None, :]) @ vh
        num = _skew(ut @ gu) * s[..., None, :] + s[..., :, None] * _skew(vh @ gvh.swapaxes(-1, -2))
        inner = _by_gaps(self.name, s * s, num, "singular values") + _diag_embed(gs)
        if (m > n and use_u) or (m < n and use_v):
            small = s <= _tol(s.dtype, max(m, n)) * s.max(axis=-1, keepdims=True)
            if np.any(small):
                raise RuntimeError(
                    f"linalg.svd: A {a.shape} is rank-deficient (a singular value is 0): the "
                    f"{'columns of U' if m > n else 'rows of Vh'} of a zero singular value are "
                    f"not unique, so the gradient of a loss on them is not defined (PyTorch "
                    f"returns inf/NaN)")
        if m > n and use_u:  # (I − U·Uᵀ)·gU·S⁻¹: the part of gU outside U's span
            gus = gu / s[..., None, :]
            return (u @ inner + gus - u @ (ut @ gus)) @ vh
        if m < n and use_v:
            sgvh = gvh / s[..., :, None]
            return u @ (inner @ vh + sgvh - (sgvh @ v) @ vh)
        return u @ inner @ vh


def _qr_square_backward(q, r, gq, gr):
    """A = Q·R with R square (m ≥ n): dA = (gQ + Q·copyltu(M))·R⁻ᵀ, M = R·gRᵀ − gQᵀ·Q, where
    copyltu(M) is M's lower triangle copied onto the upper one (PyTorch's linalg_qr_backward)."""
    m = r @ np.swapaxes(gr, -1, -2) - np.swapaxes(gq, -1, -2) @ q
    m = np.tril(m) + np.swapaxes(np.tril(m, -1), -1, -2)
    return np.swapaxes(np.linalg.solve(r, np.swapaxes(gq + q @ m, -1, -2)), -1, -2)


def _qr_ref(a, mode="reduced"):
    return pack(np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced"),
                a.shape[:-2])


@spec(ref=_qr_ref, shapes=_matrix_shapes, domain=(_distinct_singular,),
      errors=(Bad(lambda: QR.apply(T(3, 2), mode="full"), ValueError,
                  r"linalg.qr: mode must be 'reduced', 'complete' or 'r', got 'full'"),
              Bad(lambda: QR.apply(T(3)), ValueError, r"linalg.qr: the input must have at "
                  r"least 2 dimensions")))
class QR(Op):
    """A = Q·R, Q with orthonormal columns, R upper-triangular, packed (Q, R). Signs are
    LAPACK's Householder QR (PyTorch's too; R's diagonal may be negative): each Householder
    step's sign is fixed by the data, so the same input always gives the same factors."""
    name, twice, twice_hint = "linalg.qr", False, _ONCE
    formula = "A = Q·R: dA = (gQ + Q·copyltu(R·gRᵀ − gQᵀ·Q))·R⁻ᵀ (for m < n on A's first m columns)"

    def forward(self, a, mode="reduced"):
        if mode not in ("reduced", "complete", "r"):
            raise ValueError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got "
                             f"{mode!r}")
        _check_matrix("linalg.qr", a)
        q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        self.mode, self.parts = mode, (q.shape[-2:], r.shape[-2:])
        return pack([q, r], a.shape[:-2])

    def backward(self, g, a, out):
        (m, n), (q, r), (gq, gr) = a.shape[-2:], unpack(out, self.parts), unpack(g, self.parts)
        if self.mode == "r":  # PyTorch's refusals, word for word
            raise RuntimeError("linalg.qr: The derivative of linalg.qr depends on Q, which is "
                               "not computed when mode='r'. Please use linalg.qr(A, "
                               "mode='reduced') if you are going to differentiate through "
                               "linalg.qr.")
        if self.mode == "complete" and m > n:
            raise RuntimeError("linalg.qr: The QR decomposition is not differentiable when "
                               "mode='complete' and nrows > ncols.")
        k = min(m, n)
        d = np.abs(np.diagonal(r[..., :k, :k], axis1=-2, axis2=-1))
        if np.any(d <= _tol(r.dtype, max(m, n)) * np.abs(r).max(axis=(-2, -1))[..., None]):
            raise RuntimeError(f"linalg.qr: the first {k} columns of A {a.shape} are linearly "
                               f"dependent (R has a 0 on its diagonal): Q is not unique "
                               f"there, so the gradient is not defined (PyTorch returns "
                               f"inf/NaN)")
        if m >= n:
            return _qr_square_backward(q, r, gq, gr)
        # A = Q·[X | Y] = [Q·X | Q·Y]: Y = Qᵀ·(A's last columns) feeds gY back into gQ.
        x, gx, gy = r[..., :m], gr[..., :m], gr[..., m:]
        ga_x = _qr_square_backward(q, x, gq + a[..., m:] @ np.swapaxes(gy, -1, -2), gx)
        return np.concatenate([ga_x, q @ gy], axis=-1)


def _slogdet_ref(a):
    """From det itself (not slogdet, which the op calls): the matrices are small and well
    conditioned, so det neither overflows nor underflows."""
    d = np.linalg.det(a)
    return np.stack([np.sign(d), np.log(np.abs(d))], axis=-1)


@spec(ref=_slogdet_ref, shapes=_square_shapes, domain=(_well_conditioned,),
      errors=(Bad(lambda: SlogDet.apply(T(2, 3)), ValueError,
                  r"linalg.slogdet: expected a square matrix"),))
class SlogDet(Op):
    """(sign, log|det A|) packed along a last axis of 2; only log|det| has a gradient."""
    name = "linalg.slogdet"
    formula = "d log|det A| / dA = A⁻ᵀ (the sign is piecewise constant)"

    def forward(self, a):
        _check_square(self.name, a)
        return np.stack(np.linalg.slogdet(a), axis=-1)

    def backward(self, g, a, out):
        n = a.shape[-1]
        if not isinstance(out, np.ndarray):  # create_graph: the data decides
            out = out.data
        if np.any(out[..., 0] == 0):
            raise RuntimeError(f"linalg.slogdet: A {a.shape} is singular (log|det A| = −inf): "
                               f"the gradient of log|det A| there is infinite (PyTorch returns "
                               f"inf/NaN)")
        glog = g[..., 1].reshape(g.shape[:-1] + (1, 1))
        return xp.solve(xp.swap_last(a), glog * np.eye(n, dtype=a.dtype))  # A⁻ᵀ·g


def cutoff(s, shape, atol, rtol):
    """PyTorch's threshold for a singular value to count (pinv, matrix_rank): max(atol,
    rtol·σ_max), rtol defaulting to eps·max(m, n) when neither is given, to 0 when only
    atol is."""
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else np.finfo(s.dtype).eps * max(shape)
    top = s.max(axis=-1, initial=0.0) if s.shape[-1] else np.zeros(s.shape[:-1], s.dtype)
    return np.maximum(0.0 if atol is None else atol, rtol * top)[..., None]


def _pinv_ref(a):
    return np.linalg.pinv(a)


@spec(ref=_pinv_ref, shapes=_matrix_shapes, domain=(_distinct_singular,),
      errors=(Bad(lambda: Pinv.apply(T(3)), ValueError,
                  r"linalg.pinv: the input must have at least 2 dimensions"),))
class Pinv(Op):
    """A⁺ (…, n, m) of A (…, m, n) from its SVD, singular values at or below ``cutoff`` taken
    as 0; ``hermitian`` (a symmetric A, refused otherwise) changes nothing else."""
    name = "linalg.pinv"
    formula = ("dA = −(A⁺·G·A⁺)ᵀ + (I − A·A⁺)ᵀ·Gᵀ·A⁺·A⁺ᵀ + A⁺ᵀ·A⁺·Gᵀ·(I − A⁺·A)ᵀ "
               "(constant rank: PyTorch's pinv_backward)")

    def forward(self, a, atol=None, rtol=None, hermitian=False):
        _check_matrix("linalg.pinv", a)
        if hermitian:
            _check_square("linalg.pinv", a)
            a = _symmetric_part("linalg.pinv", a)
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        keep = s > cutoff(s, a.shape[-2:], atol, rtol)
        s_inv = np.where(keep, 1 / np.where(keep, s, 1), 0).astype(a.dtype)
        return (np.swapaxes(vh, -1, -2) * s_inv[..., None, :]) @ np.swapaxes(u, -1, -2)

    def backward(self, g, a, out):
        # Operators only: second derivatives too. m ≤ n and m > n order the products so the
        # big intermediate is the smaller square.
        p, t = out, xp.swap_last
        pt, gt = t(p), t(g)
        if a.shape[-2] <= a.shape[-1]:
            k = gt @ p
            kpt = k @ pt
            return -t(p @ k) + kpt - (a @ p) @ kpt + (pt @ p) @ (gt - k @ a)
        k = p @ gt
        ptk = pt @ k
        return -t(k @ p) + ((gt - a @ k) @ p) @ pt + ptk - (ptk @ p) @ a


# Higham (2005)'s scaling and squaring with the degree-13 Padé approximant: exact to rounding
# for ‖A/2ˢ‖₁ ≤ θ₁₃ (scipy.linalg.expm's method; scipy is not a stepgrad dependency).
_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
           129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
           40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def expm(a):
    """e^A of each matrix in a batch (…, n, n), in float64, returned in a's dtype."""
    x = np.asarray(a, np.float64)
    out = np.empty_like(x)
    eye = np.eye(x.shape[-1])
    b = _PADE13
    for i in np.ndindex(x.shape[:-2]):
        m = x[i]
        norm = np.abs(m).sum(axis=0).max(initial=0.0)
        s = max(0, int(np.ceil(np.log2(norm / _THETA13)))) if norm > 0 else 0
        m = m / 2.0 ** s
        m2 = m @ m
        m4 = m2 @ m2
        m6 = m4 @ m2
        u = m @ (m6 @ (b[13] * m6 + b[11] * m4 + b[9] * m2) + b[7] * m6 + b[5] * m4 +
                 b[3] * m2 + b[1] * eye)
        v = m6 @ (b[12] * m6 + b[10] * m4 + b[8] * m2) + b[6] * m6 + b[4] * m4 + b[2] * m2 \
            + b[0] * eye
        r = np.linalg.solve(v - u, v + u)
        for _ in range(s):
            r = r @ r
        out[i] = r
    return out.astype(a.dtype, copy=False)


def _expm_taylor(a):
    """The reference: Σ (A/2ˢ)ᵏ/k! to 30 terms with ‖A/2ˢ‖ < ½, squared s times."""
    s = int(max(0, np.ceil(np.log2(np.abs(a).sum(axis=-2).max(initial=1e-300) * 2 + 1e-300))))
    x, term = a / 2.0 ** s, np.broadcast_to(np.eye(a.shape[-1]), a.shape)
    out = term.copy()
    for k in range(1, 30):
        term = term @ x / k
        out = out + term
    for _ in range(s):
        out = out @ out
    return out


@spec(ref=_expm_taylor, shapes=_square_shapes,
      errors=(Bad(lambda: MatrixExp.apply(T(2, 3)), ValueError,
                  r"linalg.matrix_exp: expected a square matrix"),))
class MatrixExp(Op):
    """e^A = Σ Aᵏ/k! of a square matrix or a batch of them."""
    name = "linalg.matrix_exp"
    formula = "dA = the top-right block of exp([[Aᵀ, G], [0, Aᵀ]]) (the Fréchet derivative at Aᵀ)"

    def forward(self, a):
        _check_square(self.name, a)
        return expm(a)

    def backward(self, g, a, out):
        # Written with pads and this op itself, so that it runs on Tensors as well.
        n, lead = a.shape[-1], [(0, 0)] * (a.ndim - 2)
        at = xp.swap_last(a)
        big = xp.pad(at, lead + [(0, n), (0, n)]) + xp.pad(at, lead + [(n, 0), (n, 0)]) + \
            xp.pad(g, lead + [(0, n), (n, 0)])
        return (MatrixExp.apply(big) if isinstance(big, Node) else expm(big))[..., :n, n:]
