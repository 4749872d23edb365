"""The backward passes of the LSTM step's two ops (``engine/fast/lstm.py``) as single loops.

At the sizes recurrent layers run (N = 64, H = 32: 2,048 values a step) numpy's cost is its
per-call overhead: ``lstm_c``'s backward makes ~12 numpy calls (12.6 µs) and ``lstm_h``'s 6
(6.1 µs); these loops take 5.7 and 2.8 µs. Serial (no thread pool): the work per call is far
too small to split. The formulas are the numpy code's, operation by operation and in the
arrays' dtype (``one`` is 1 in that dtype, so float32 stays float32): the same bits.

The forward passes stay numpy: they need exp and tanh, which numpy computes with SIMD and a
Numba loop one value at a time through libm (measured: slower, 30 → 43 µs).
"""
from __future__ import annotations

from numba import njit


@njit(cache=True, error_model="numpy")
def lstm_c_backward(dc, i, f, g, c_prev, d, dc_prev):
    """d (N, 3H) = [dc·g·i·(1 − i), dc·c_prev·f·(1 − f), dc·i·(1 − g²)]; dc_prev = dc·f."""
    N, H = dc.shape
    one = d.dtype.type(1)
    for n in range(N):
        for h in range(H):
            e, iv, fv, gv = dc[n, h], i[n, h], f[n, h], g[n, h]
            d[n, h] = e * gv * iv * (one - iv)
            d[n, H + h] = e * c_prev[n, h] * fv * (one - fv)
            d[n, 2 * H + h] = e * iv * (one - gv * gv)
            dc_prev[n, h] = e * fv


@njit(cache=True, error_model="numpy")
def lstm_h_backward(dh, o, tc, do, dc):
    """do = dh·tc·o·(1 − o); dc = dh·o·(1 − tc²). All (N, H)."""
    N, H = dh.shape
    one = do.dtype.type(1)
    for n in range(N):
        for h in range(H):
            e, ov, tv = dh[n, h], o[n, h], tc[n, h]
            do[n, h] = e * tv * ov * (one - ov)
            dc[n, h] = e * ov * (one - tv * tv)
