"""The GRU over a whole sequence as one op (``gru``, what ``nn.GRU`` and Keras's ``GRU`` run),
instead of about fourteen graph ops per timestep.

``xw`` (N, T, 3H) holds each step's input part x·W_ihᵀ + b_ih (gates r, z, n: PyTorch's
order), ``h0`` (N, H) the initial state, ``w_hh`` (3H, H) the recurrent weight and ``b_hh``
(3H,) its bias, which stays inside the reset gate's product for n (PyTorch's GRU, Keras's
``reset_after=True``). With hw = hₜ₋₁·W_hhᵀ + b_hh::

    r = σ(xw_r + hw_r),  z = σ(xw_z + hw_z),  n = tanh(xw_n + r⊙hw_n)
    hₜ = (1 − z)⊙n + z⊙hₜ₋₁

Through time (dh the gradient reaching hₜ): dn = dh⊙(1 − z)⊙(1 − n²), dz = dh⊙(hₜ₋₁ −
n)⊙z(1 − z), dr = dn⊙hw_n⊙r(1 − r); the gradient of xw is (dr, dz, dn), of hw (dr, dz,
dn⊙r), so dhₜ₋₁ = dh⊙z + dhw·W_hh, and dW_hh = Σₜ dhwₜᵀ·hₜ₋₁, db_hh = Σₜ dhwₜ (one GEMM
and one GEMV over all steps).

The forward is the step graph's own numpy calls, so the outputs have the bits of
``nn.GRU(..., fused=False)``; the backward runs one Numba loop a step
(engine/fast/kernels/rnn.py) beside the GEMM.
"""
from __future__ import annotations

import numpy as np

from ..ops import xp
from ..ops.base import Op
from ..ops.linalg import column_sums
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, register
from .kernels import rnn as kernels
from .rnn import check_sequence_input, recurrent_weight_grad, step_by_step_hint


class GRUSequence(Op):
    name, twice = "gru", False
    twice_hint = step_by_step_hint("GRU")
    formula = ("r, z = σ(xw + hw), n = tanh(xw_n + r⊙hw_n), hₜ = (1 − z)⊙n + z⊙hₜ₋₁ with "
               "hw = hₜ₋₁·W_hhᵀ + b_hh;  dW_hh = Σₜ dhwₜᵀ·hₜ₋₁, db_hh = Σₜ dhwₜ")

    def forward(self, xw, h0, w_hh, b_hh):
        N, T, H = _check_sequence(xw, h0, w_hh, b_hh)
        dt = xw.dtype
        y = np.empty((N, T, H), dt)
        # Per step, for the backward: r, z, n and hw_n (the recurrent part of n).
        saved = np.empty((4, T, N, H), dt)
        whh_t, h = w_hh.T, h0
        for t in range(T):  # the step graph's calls, in its order (same bits)
            hw = np.matmul(h, whh_t) + b_hh
            xr = xw[:, t]
            r = xp.sigmoid(xr[:, :H] + hw[:, :H])
            z = xp.sigmoid(xr[:, H:2 * H] + hw[:, H:2 * H])
            n = np.tanh(xr[:, 2 * H:] + r * hw[:, 2 * H:])
            y[:, t] = (1 - z) * n + z * h
            saved[0, t], saved[1, t], saved[2, t], saved[3, t] = r, z, n, hw[:, 2 * H:]
            h = y[:, t]
        self.save(saved)
        return y

    def backward(self, g, xw, h0, w_hh, b_hh, out):
        (saved,) = self.saved
        N, T, G = xw.shape
        H = G // 3
        dt = xw.dtype
        dxw = np.empty((N, T, G), dt)
        dhw = np.empty((N, T, G), dt)
        dh, dh_mm = np.zeros((N, H), dt), np.zeros((N, H), dt)
        g = np.ascontiguousarray(g, dt)
        for t in range(T - 1, -1, -1):
            h_prev = h0 if t == 0 else out[:, t - 1]
            # dh (in place) = g[:, t] + dh (the direct part) + dh_mm (through W_hh), then
            # step t's gradients: dxw[:, t], dhw[:, t] and the new direct part dh·z.
            kernels.gru_step_backward(g, t, dh, dh_mm, saved, np.ascontiguousarray(h_prev),
                                      dxw, dhw)
            np.matmul(dhw[:, t], w_hh, out=dh_mm)  # dhₜ₋₁ through the GEMM
        dw = recurrent_weight_grad(dhw, h0, out) if self.needs_grad[2] else None
        db = column_sums(dhw.reshape(N * T, G)) if self.needs_grad[3] else None
        return dxw, dh + dh_mm, dw, db


def _check_sequence(xw, h0, w_hh, b_hh):
    N, T, H = check_sequence_input("gru", "GRU", xw, 3)
    G = 3 * H
    if h0.shape != (N, H) or w_hh.shape != (G, H) or b_hh.shape != (G,):
        raise ValueError(f"gru: for xw {xw.shape} the state must be {(N, H)}, w_hh {(G, H)} "
                         f"and b_hh {(G,)}; got h0 {h0.shape}, w_hh {w_hh.shape}, b_hh "
                         f"{b_hh.shape}")
    return N, T, H


def gru(xw, h0, w_hh, b_hh):
    """A whole GRU sequence in one op: xw (N, T, 3H) = x·W_ihᵀ + b_ih for every step (gates
    r, z, n), the initial state h0 (N, H), the recurrent weight w_hh (3H, H) and bias b_hh
    (3H,) → (N, T, H), every hₜ. ``nn.GRU`` calls it.

    >>> import engine
    >>> one = engine.ones(1, 1, 3)   # r = z = σ(1), n = tanh(1): h = (1 − σ(1))·tanh(1)
    >>> gru(one, engine.zeros(1, 1), engine.ones(3, 1), engine.zeros(3)).data.round(4)
    array([[[0.2048]]], dtype=float32)
    """
    return GRUSequence.apply(xw, h0, w_hh, b_hh)


# ----------------------------------------------------------------------------- registry
def _sig(x):
    return 1 / (1 + np.exp(-x))


def _gru_ref(xw, h0, w_hh, b_hh):
    H = h0.shape[1]
    h, ys = h0, []
    for t in range(xw.shape[1]):
        hw = h @ w_hh.T + b_hh
        r = _sig(xw[:, t, :H] + hw[:, :H])
        z = _sig(xw[:, t, H:2 * H] + hw[:, H:2 * H])
        n = np.tanh(xw[:, t, 2 * H:] + r * hw[:, 2 * H:])
        h = (1 - z) * n + z * h
        ys.append(h)
    return np.stack(ys, axis=1)


def _shapes(rng):
    n, t, h = (int(v) for v in rng.integers(1, 4, size=3))
    return (n, t, 3 * h), (n, h), (3 * h, h), (3 * h,)


register(OpSpec("gru", gru, _gru_ref, arity=4, shapes=_shapes, ops=("gru",), twice=False,
                errors=(ErrorCase(lambda: gru(T(2, 3, 4), T(2, 1), T(3, 1), T(3)), ValueError,
                                  r"gru: xw must be \(N, T, 3H\) .*\(2, 3, 4\)"),
                        ErrorCase(lambda: gru(T(2, 3, 6), T(2, 2), T(6, 2), T(3)), ValueError,
                                  r"gru: .*b_hh \(6,\); .*b_hh \(3,\)"))))
