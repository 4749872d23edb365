"""The backward steps of the Elman RNN (``engine/fast/rnn.py``) and the GRU
(``engine/fast/gru.py``): one loop each instead of four (RNN) or twenty (GRU) numpy calls, which
at N = 64, H = 32 cost their ~1 µs of overhead each, not their arithmetic. Serial: far too
little work per call to split."""
from __future__ import annotations

from numba import njit


@njit(cache=True, error_model="numpy")
def rnn_step_backward(g, y, t, dh, act, dz):
    """dz[:, t] = (g[:, t] + dh)·act'(y[:, t]), with act' from the output y = act(z):
    tanh (act 0) 1 − y², relu (1) y > 0, sigmoid (2) y·(1 − y), identity (3) 1 — the
    activation ops' own backward formulas. g, y, dz (N, T, H), dh (N, H)."""
    N, H = dh.shape
    one = dz.dtype.type(1)
    for n in range(N):
        gr, yr, hr, dr = g[n, t], y[n, t], dh[n], dz[n, t]
        if act == 0:
            for h in range(H):
                dr[h] = (gr[h] + hr[h]) * (one - yr[h] * yr[h])
        elif act == 1:
            for h in range(H):
                dr[h] = (gr[h] + hr[h]) * (yr[h] > 0)
        elif act == 2:
            for h in range(H):
                dr[h] = (gr[h] + hr[h]) * yr[h] * (one - yr[h])
        else:
            for h in range(H):
                dr[h] = gr[h] + hr[h]


@njit(cache=True, error_model="numpy")
def gru_step_backward(g, t, dh, dh_mm, saved, h_prev, dxw, dhw):
    """The GRU's step t backward (engine/fast/gru.py). In: g (N, T, H) the outputs'
    gradient, dh (N, H) the direct part from step t + 1 (dhₜ₊₁⊙z), dh_mm (N, H) the part
    through W_hh, saved (4, T, N, H) = r, z, n, hw_n of every step, h_prev (N, H) = hₜ₋₁.
    Out: dxw[:, t] = (dr, dz, dn) before their activations' inputs, dhw[:, t] = (dr, dz,
    dn⊙r), and dh (in place) = the direct part for step t − 1: dhₜ⊙z."""
    N, H = dh.shape
    one = dh.dtype.type(1)
    for n in range(N):
        gr, dhr, mr, hp = g[n, t], dh[n], dh_mm[n], h_prev[n]
        rr, zr, nr, wr = saved[0, t, n], saved[1, t, n], saved[2, t, n], saved[3, t, n]
        xo, ho = dxw[n, t], dhw[n, t]
        for h in range(H):
            d = (gr[h] + dhr[h]) + mr[h]
            r, z, nv = rr[h], zr[h], nr[h]
            dnp = d * (one - z) * (one - nv * nv)   # through n = tanh(·)
            drp = dnp * wr[h] * r * (one - r)       # through r = σ(·), from r⊙hw_n
            dzp = d * (hp[h] - nv) * z * (one - z)  # through z = σ(·)
            xo[h], xo[H + h], xo[2 * H + h] = drp, dzp, dnp
            ho[h], ho[H + h], ho[2 * H + h] = drp, dzp, dnp * r
            dhr[h] = d * z
