"""``engine.linalg``: the vector norms of ``torch.linalg`` (matrix norms are not in stepgrad),
``inv``, ``det`` and ``solve`` (engine/ops/linalg.py's ops).

>>> import engine
>>> engine.linalg.norm(engine.tensor([[3.0, 4.0], [0.0, 0.0]]))
tensor(5., shape=(), dtype=float32)
"""
from __future__ import annotations

from .ops.linalg import Det, Inverse, Solve
from .tensor import as_tensor


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


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """‖x‖_ord over ``dim`` (all entries when None, whatever x's shape): ``Tensor.norm``."""
    return as_tensor(x).norm(p=ord, dim=dim, keepdim=keepdim, dtype=dtype)


def norm(x, ord=None, dim=None, keepdim=False, *, dtype=None):
    """``torch.linalg.norm``: with ``ord=None`` the 2-norm of the vector of all entries over
    ``dim`` (for a matrix, its Frobenius norm). A vector order on 1-D input (or one ``dim``)
    is ``vector_norm``; matrix norms (``ord`` on 2-D input, 'nuc', …) are refused."""
    x = as_tensor(x)
    if ord is None or ord == "fro" and (dim is None and x.ndim == 2 or
                                        isinstance(dim, tuple) and len(dim) == 2):
        return vector_norm(x, 2, dim, keepdim, dtype=dtype)
    if isinstance(dim, int) or (dim is None and x.ndim == 1):
        return vector_norm(x, ord, dim, keepdim, dtype=dtype)
    raise NotImplementedError(f"linalg.norm: the matrix norm ord={ord!r} is not in stepgrad "
                              f"(vector norms: linalg.vector_norm(x, ord, dim))")
