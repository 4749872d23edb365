"""``engine.linalg``: PyTorch's ``torch.linalg`` — norms (vector and matrix), ``inv``, ``det``,
``solve``, the decompositions (``cholesky``, ``qr``, ``svd``, ``svdvals``, ``eigh``,
``eigvalsh``, ``slogdet``) and what is built on them (``pinv``, ``lstsq``, ``matrix_rank``,
``matrix_power``, ``matrix_exp``). The ops live in engine/ops/linalg.py; a decomposition
returns PyTorch's named tuple, its fields being slices of the op's one packed output.

Inputs are matrices or batches of them (…, m, n). Singular and eigenvectors carry no sign of
their own, and PyTorch's differ between machines: here each column of U (svd) or of the
eigenvectors (eigh) has its largest-magnitude entry positive (``ops.linalg.column_signs``).

>>> import engine
>>> engine.linalg.norm(engine.tensor([[3.0, 4.0], [0.0, 0.0]]))
tensor(5., shape=(), dtype=float32)
>>> engine.linalg.cholesky(engine.tensor([[4.0, 2.0], [2.0, 5.0]])).data
array([[2., 0.],
       [1., 2.]], dtype=float32)
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .ops.linalg import (
    QR,
    SVD,
    Cholesky,
    Det,
    Eigh,
    Inverse,
    MatrixExp,
    Pinv,
    SlogDet,
    Solve,
    cutoff,
    unpack,
)
from .tensor import Tensor, as_tensor

# PyTorch's torch.return_types, field for field
linalg_qr = namedtuple("linalg_qr", ["Q", "R"])
linalg_svd = namedtuple("linalg_svd", ["U", "S", "Vh"])
linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
linalg_slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
linalg_lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def inv(a):
    """A⁻¹ of a square matrix or of each in a batch (…, n, n); a singular one is refused."""
    return Inverse.apply(as_tensor(a))


def det(a):
    """det(A) of a square matrix or of each in a batch (…, n, n) → (…); its gradient is the
    cofactor matrix (singular matrices included)."""
    return Det.apply(as_tensor(a))


def solve(a, b):
    """X with A·X = B (``torch.linalg.solve``): A (…, n, n), B (…, n, k), or B (n,) with one A
    (n, n); without forming A⁻¹."""
    return Solve.apply(as_tensor(a), as_tensor(b))


# ------------------------------------------------------------------------------ decompositions
def cholesky(A, *, upper=False):  # noqa: N803 (PyTorch's argument names)
    """L (…, n, n), lower-triangular with a positive diagonal, such that A = L·Lᵀ, for a
    symmetric positive-definite A (Lᵀ with ``upper=True``). A non-symmetric A is refused
    (PyTorch silently reads its lower triangle); a non-positive-definite one is refused
    naming the first leading minor that is not positive. The gradient is symmetric.

    >>> import engine
    >>> engine.linalg.cholesky(engine.tensor([[1.0, 2.0], [2.0, 8.0]])).data
    array([[1., 0.],
           [2., 2.]], dtype=float32)
    """
    return Cholesky.apply(as_tensor(A), upper=upper)


def qr(A, mode="reduced"):  # noqa: N803
    """``(Q, R)`` with A = Q·R for A (…, m, n), k = min(m, n): 'reduced' Q (…, m, k) and
    R (…, k, n); 'complete' Q (…, m, m), R (…, m, n); 'r' only R (Q is an empty tensor).
    Signs are LAPACK's Householder QR, as PyTorch's (R's diagonal may be negative).
    Differentiable in 'reduced' mode and in 'complete' with m ≤ n (PyTorch's rule), when
    A's first k columns are independent.

    >>> import engine
    >>> Q, R = engine.linalg.qr(engine.tensor([[3.0, 1.0], [4.0, 2.0]]))
    >>> R.data.round(4)
    array([[-5. , -2.2],
           [ 0. ,  0.4]], dtype=float32)
    """
    A = as_tensor(A)
    packed = QR.apply(A, mode=mode)
    q, r = unpack(packed, packed_parts(QR, A, packed))
    return linalg_qr(Tensor(np.zeros(0, A.dtype), dtype=A.dtype) if mode == "r" else q, r)


def svd(A, full_matrices=True, *, driver=None):  # noqa: N803
    """``(U, S, Vh)`` with A = U·diag(S)·Vh for A (…, m, n), k = min(m, n): S (…, k)
    descending; U (…, m, m) and Vh (…, n, n) with ``full_matrices`` (the default, as
    PyTorch's), else U (…, m, k), Vh (…, k, n). Each column of U has its largest-magnitude
    entry positive, Vh's rows follow. Gradients need distinct singular values (ties are
    refused when the loss sees them), no dependence on the columns full_matrices adds,
    and for m ≠ n a full-rank A (else refused: PyTorch returns inf/NaN or drops terms).

    >>> import engine
    >>> U, S, Vh = engine.linalg.svd(engine.tensor([[0.0, 2.0], [1.0, 0.0]]))
    >>> S.data, U.data
    (array([2., 1.], dtype=float32), array([[1., 0.],
           [0., 1.]], dtype=float32))
    """
    _cpu_only(driver, "svd")
    A = as_tensor(A)
    packed = SVD.apply(A, full_matrices=full_matrices)
    return linalg_svd(*unpack(packed, packed_parts(SVD, A, packed)))


def svdvals(A, *, driver=None):  # noqa: N803
    """The singular values S (…, min(m, n)) of A (…, m, n), descending; the gradient is
    U·diag(G)·Vh (defined with ties too).

    >>> import engine
    >>> engine.linalg.svdvals(engine.tensor([[0.0, 2.0], [1.0, 0.0]])).data
    array([2., 1.], dtype=float32)
    """
    _cpu_only(driver, "svdvals")
    return SVD.apply(as_tensor(A), compute_uv=False)


def eigh(A, UPLO="L"):  # noqa: N803
    """``(eigenvalues, eigenvectors)`` of a symmetric A (…, n, n): L (…, n) ascending and V
    (…, n, n) with A = V·diag(L)·Vᵀ, each column's largest-magnitude entry positive. A
    non-symmetric A is refused (PyTorch silently reads the ``UPLO`` triangle). The gradient
    is symmetric and needs distinct eigenvalues where the loss sees the vectors.

    >>> import engine
    >>> L, V = engine.linalg.eigh(engine.tensor([[2.0, 1.0], [1.0, 2.0]]))
    >>> L.data
    array([1., 3.], dtype=float32)
    """
    A = as_tensor(A)
    packed = Eigh.apply(A, UPLO=UPLO)
    return linalg_eigh(*unpack(packed, packed_parts(Eigh, A, packed)))


def eigvalsh(A, UPLO="L"):  # noqa: N803
    """The eigenvalues (…, n), ascending, of a symmetric A (…, n, n); gradient V·diag(G)·Vᵀ.

    >>> import engine
    >>> engine.linalg.eigvalsh(engine.tensor([[2.0, 1.0], [1.0, 2.0]])).data
    array([1., 3.], dtype=float32)
    """
    return Eigh.apply(as_tensor(A), UPLO=UPLO, eigenvectors=False)


def packed_parts(op, A, packed):
    """The factor shapes inside ``op``'s packed output for input A (without batch dims)."""
    (m, n), k = A.shape[-2:], min(A.shape[-2:])
    if op is Eigh:
        return (n,), (n, n)
    if op is QR:
        q_cols = (packed.shape[-1] - 0) // (m + n)  # reduced: k; complete: m (R then m × n)
        return (m, q_cols), (q_cols, n)
    full = packed.shape[-1] != m * k + k + k * n
    return ((m, m), (k,), (n, n)) if full else ((m, k), (k,), (k, n))


def _cpu_only(driver, name):
    if driver is not None:
        raise RuntimeError(f"linalg.{name}: keyword argument `driver=` is only supported on "
                           f"CUDA inputs with cuSOLVER backend (PyTorch's rule); leave it out")


def slogdet(A):  # noqa: N803
    """``(sign, logabsdet)``: det(A) = sign·exp(logabsdet) for A (…, n, n), without
    overflow. sign is ±1 (0 for a singular A, whose logabsdet is −inf) and has no gradient;
    logabsdet's is A⁻ᵀ (refused at a singular A, where it is infinite).

    >>> import engine
    >>> sign, logabsdet = engine.linalg.slogdet(engine.tensor([[0.0, 2.0], [3.0, 0.0]]))
    >>> sign.item(), round(logabsdet.item(), 4)  # det = −6
    (-1.0, 1.7918)
    """
    packed = SlogDet.apply(as_tensor(A))
    return linalg_slogdet(packed[..., 0].detach(), packed[..., 1])


def logdet(A):  # noqa: N803
    """log det(A) (``torch.logdet``): −inf for a singular A, NaN for a negative determinant.

    >>> import engine
    >>> engine.logdet(engine.tensor([[2.0, 0.0], [0.0, 3.0]])).item()  # log 6
    1.7917594909667969
    """
    sign, logabsdet = slogdet(A)
    with np.errstate(divide="ignore", invalid="ignore"):
        return logabsdet + np.log(sign.data)  # log 1 = 0, log 0 = −inf, log −1 = NaN


# ----------------------------------------------------------------------- built on the above
def pinv(A, *, atol=None, rtol=None, hermitian=False):  # noqa: N803
    """The Moore-Penrose pseudo-inverse A⁺ (…, n, m) of A (…, m, n), from the SVD: singular
    values at or below max(atol, rtol·σ_max) count as 0 (rtol = eps·max(m, n) when neither is
    given, 0 when only atol is: PyTorch's rule). ``hermitian=True``: A must be symmetric.
    The gradient holds where the rank does not change (PyTorch's formula).

    >>> import engine
    >>> engine.linalg.pinv(engine.tensor([[1.0, 0.0], [0.0, 0.0]])).data
    array([[1., 0.],
           [0., 0.]], dtype=float32)
    """
    return Pinv.apply(as_tensor(A), atol=atol, rtol=rtol, hermitian=hermitian)


def pinverse(input, rcond=1e-15):  # noqa: A002 (PyTorch's argument name)
    """``torch.pinverse``: ``pinv(input, rtol=rcond)``.

    >>> import engine
    >>> engine.pinverse(engine.tensor([[2.0]])).item()
    0.5
    """
    return pinv(input, rtol=rcond)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):  # noqa: N803
    """The number of singular values of A (…, m, n) above pinv's threshold, as int64 (…).

    >>> import engine
    >>> engine.linalg.matrix_rank(engine.tensor([[1.0, 2.0], [2.0, 4.0]])).item()
    1
    """
    A = as_tensor(A)
    if A.ndim >= 2 and hermitian:
        A = A.detach()
        eigh(A)  # refuses a non-symmetric A, as eigh does
    s = svdvals(A.detach()).data
    return Tensor(np.sum(s > cutoff(s, A.shape[-2:], atol, rtol), axis=-1), dtype=np.int64)


def matrix_power(A, n):  # noqa: N803
    """Aⁿ for A (…, k, k) and an integer n: products by repeated squaring; n = 0 gives the
    identity, n < 0 the power of A⁻¹ (a singular A refused).

    >>> import engine
    >>> engine.linalg.matrix_power(engine.tensor([[1.0, 1.0], [0.0, 1.0]]), 3).data
    array([[1., 3.],
           [0., 1.]], dtype=float32)
    """
    A = as_tensor(A)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"linalg.matrix_power: the exponent must be an int, got {n!r}")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"linalg.matrix_power: expected a square matrix or a batch of them "
                         f"(…, n, n), got shape {A.shape}")
    if n == 0:  # the identity, connected to A so that A gets a (zero) gradient
        return A * 0 + np.eye(A.shape[-1], dtype=A.dtype)
    base, n, out = (inv(A), -n, None) if n < 0 else (A, n, None)
    while True:  # binary powers: Aⁿ with about 2·log₂ n products
        if n & 1:
            out = base if out is None else out @ base
        n >>= 1
        if not n:
            return out
        base = base @ base


def matrix_exp(A):  # noqa: N803
    """e^A = Σ Aᵏ/k! of A (…, n, n) (scaling and squaring with a Padé approximant); the
    gradient is the Fréchet derivative at Aᵀ applied to G.

    >>> import engine
    >>> engine.linalg.matrix_exp(engine.tensor([[0.0, 1.0], [0.0, 0.0]])).data
    array([[1., 1.],
           [0., 1.]], dtype=float32)
    """
    return MatrixExp.apply(as_tensor(A))


_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None):  # noqa: N803
    """``(solution, residuals, rank, singular_values)``: X minimising ‖A·X − B‖ for
    A (…, m, n), B (…, m, k) or (m,) with one A; the minimum-norm X = A⁺·B when A is
    rank-deficient (singular values at or below rcond·σ_max dropped, rcond = eps·max(m, n)
    by default). As PyTorch's CPU drivers: ``rank`` for all but 'gels'; ``singular_values``
    for 'gelsd' and 'gelss'; ``residuals`` (the squared column norms of A·X − B) for all but
    'gelsy' (the default) when m > n and A has full rank; empty tensors otherwise. Only X
    has a gradient, A⁺·B's (PyTorch's).

    >>> import engine
    >>> A = engine.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]); B = engine.tensor([1.0, 2.0, 3.0])
    >>> engine.linalg.lstsq(A, B).solution.data
    array([1., 2.], dtype=float32)
    """
    A, B = as_tensor(A), as_tensor(B)
    if driver is None:
        driver = "gelsy"
    if driver not in _LSTSQ_DRIVERS:
        raise RuntimeError(f"linalg.lstsq: parameter `driver` should be one of "
                           f"{_LSTSQ_DRIVERS}, got {driver!r}")
    if A.ndim < 2:
        raise ValueError(f"linalg.lstsq: A must have at least 2 dimensions, got shape {A.shape}")
    vector = B.ndim == 1 and A.ndim == 2
    B2 = B.unsqueeze(-1) if vector else B
    if B2.ndim < 2 or B2.shape[-2] != A.shape[-2]:
        raise ValueError(f"linalg.lstsq: A {A.shape} and B {B.shape} do not match: B must "
                         f"have A's {A.shape[-2]} rows, (…, {A.shape[-2]}, k) or "
                         f"({A.shape[-2]},) with one A")
    if rcond is None:
        rcond = np.finfo(A.dtype).eps * max(A.shape[-2:])
    x = pinv(A, rtol=rcond) @ B2
    s = svdvals(A.detach()).data
    full = np.sum(s > cutoff(s, A.shape[-2:], None, rcond), axis=-1)
    m, n = A.shape[-2:]
    empty = Tensor(np.zeros(0, A.dtype), dtype=A.dtype)
    residuals = empty
    if driver != "gelsy" and m > n and np.all(full == n):
        residuals = ((A.detach() @ x.detach() - B2) ** 2).sum(axis=-2)
        residuals = residuals[..., 0] if vector else residuals
    rank = empty.astype(np.int64) if driver == "gels" else Tensor(full, dtype=np.int64)
    sv = Tensor(s, dtype=A.dtype) if driver in ("gelsd", "gelss") else empty
    return linalg_lstsq(x[..., 0] if vector else x, residuals, rank, sv)


# ------------------------------------------------------------------------------------ norms
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """‖x‖_ord over ``dim`` (all entries when None, whatever x's shape): ``Tensor.norm``.

    >>> import engine
    >>> engine.linalg.vector_norm(engine.tensor([3.0, -4.0]), 1).item()
    7.0
    """
    return as_tensor(x).norm(p=ord, dim=dim, keepdim=keepdim, dtype=dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: N803
    """A matrix norm over the two dims ``dim`` of A: 'fro' (√Σa²), 'nuc' (Σσ), 2 / −2 (the
    largest / smallest singular value), 1 / −1 (the max / min column sum of |a|), inf / −inf
    (the max / min row sum of |a|).

    >>> import engine
    >>> A = engine.tensor([[1.0, -2.0], [3.0, 4.0]])
    >>> [engine.linalg.matrix_norm(A, o).item() for o in (1, float("inf"))]
    [6.0, 7.0]
    """
    A = as_tensor(A) if dtype is None else as_tensor(A).astype(dtype)
    if A.dtype.kind != "f":
        raise TypeError(f"linalg.matrix_norm: expected a float tensor, got {A.dtype} (convert "
                        f"it with .float() or pass dtype=)")
    if A.ndim < 2:
        raise ValueError(f"linalg.matrix_norm: A must have at least 2 dimensions, got shape "
                         f"{A.shape}")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise ValueError(f"linalg.matrix_norm: dim must be a pair of dims, got {dim!r}")
    d0, d1 = (d % A.ndim if -A.ndim <= d < A.ndim else None for d in dim)
    if d0 is None or d1 is None or d0 == d1:
        raise IndexError(f"linalg.matrix_norm: dim {dim} must be two different dims of a "
                         f"tensor of shape {A.shape}")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        return out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1)) if keepdim else out
    if ord in (1, -1, math.inf, -math.inf):
        total, over = (d0, d1) if ord in (1, -1) else (d1, d0)  # sums down columns for 1
        sums = A.abs().sum(axis=total, keepdims=True)
        out = sums.amax(over, keepdims=True) if ord > 0 else sums.amin(over, keepdims=True)
        return out if keepdim else out.squeeze((d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord!r} not supported (use 'fro', 'nuc', "
                       f"2, -2, 1, -1, inf or -inf)")


def norm(x, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``torch.linalg.norm``: with ``ord=None`` the 2-norm of the vector of all entries over
    ``dim`` (for a matrix, its Frobenius norm). ``ord`` on 1-D input (or with one ``dim``) is
    ``vector_norm``; on 2-D input (or with two dims) ``matrix_norm``.

    >>> import engine
    >>> engine.linalg.norm(engine.tensor([[1.0, 0.0], [0.0, 2.0]]), "nuc").item()
    3.0
    """
    x = as_tensor(x)
    if ord is None:
        return vector_norm(x, 2, dim, keepdim, dtype=dtype)
    if isinstance(dim, int) or (dim is None and x.ndim == 1):
        return vector_norm(x, ord, dim, keepdim, dtype=dtype)
    if dim is None and x.ndim == 2 or isinstance(dim, (tuple, list)) and len(dim) == 2:
        return matrix_norm(x, ord, (-2, -1) if dim is None else tuple(dim), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: with ord={ord!r}, the input must be 1-D or 2-D, or dim "
                       f"one or two dims; got shape {x.shape} and dim={dim!r}")
