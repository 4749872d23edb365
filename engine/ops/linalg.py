"""Matrix product (batched, numpy's ``@`` semantics), the GEMM behind Linear and conv."""
from __future__ import annotations

import numpy as np

from ..autograd import Op


def _swap(m):
    return np.swapaxes(m, -1, -2)


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
        self.save(a, b)
        self.shapes = (a.shape, b.shape)
        return np.matmul(a, b)

    def backward(self, g):
        a, b = self.saved
        # Promote 1-D operands to matrices so one pair of formulas covers every case.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        da = db = None
        if self.needs_grad[0]:
            da = g2 @ _swap(b2)
            da = da.reshape(da.shape[:-2] + (da.shape[-1],)) if a.ndim == 1 else da
        if self.needs_grad[1]:
            db = _swap(a2) @ g2
            db = db[..., 0] if b.ndim == 1 else db
        return da, db

    def describe(self):
        return f"{self.shapes[0]} @ {self.shapes[1]}"
