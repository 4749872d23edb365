"""Matrix product (batched, numpy's ``@`` semantics), the GEMM behind Linear and conv."""
from __future__ import annotations

import numpy as np

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
