"""The LSTM's elementwise loops: the backward passes of the step ops ``lstm_c``/``lstm_h``,
and the per-timestep loops of the whole-sequence op ``lstm`` (``engine/fast/lstm.py``).

At the sizes recurrent layers run (N = 64, H = 32: 2,048 values a step) numpy's cost is its
per-call overhead: ``lstm_c``'s backward makes ~12 numpy calls (12.6 µs) and ``lstm_h``'s 6
(6.1 µs); these loops take 5.7 and 2.8 µs. Serial (no thread pool): the work per call is far
too small to split. The formulas are the numpy code's, operation by operation and in the
arrays' dtype (``one`` is 1 in that dtype, so float32 stays float32): the same bits. Each
formula is written once, in the ``_*`` helpers, and inlined where it is used.

exp and tanh stay numpy's: numpy computes them with SIMD, a Numba loop one value at a time
through libm (measured: 2.3 vs 0.5 ns a value; the forward step 30 → 43 µs). So the
sequence's forward loop passes ``e = exp(−|gates|)`` and the tanh values in.
"""
from __future__ import annotations

from numba import njit


# ------------------------------------------------------------------------ the formulas
@njit(cache=True, inline="always")
def _sigmoid(x, e, one):
    """σ(x) from e = exp(−|x|): 1/(1 + e) for x ≥ 0, e/(1 + e) below (never overflows);
    engine/ops/xp.py's ``sigmoid``, value for value."""
    return (one if x >= 0 else e) / (one + e)


@njit(cache=True, inline="always")
def _hidden_backward(e, ov, tv, one):
    """h = σ(o)·tanh(c) → (do, dc) for dh = e: dh·tanh(c)·σ'(o), dh·σ(o)·(1 − tanh²c)."""
    return e * tv * ov * (one - ov), e * ov * (one - tv * tv)


@njit(cache=True, inline="always")
def _state_backward(e, iv, fv, gv, cp, one):
    """c = σ(i)·tanh(g) + σ(f)·c₋₁ → (di, df, dg, dc₋₁) for dc = e."""
    return (e * gv * iv * (one - iv), e * cp * fv * (one - fv), e * iv * (one - gv * gv),
            e * fv)


# -------------------------------------------------------------- the step ops' backward
@njit(cache=True, error_model="numpy")
def lstm_c_backward(dc, i, f, g, c_prev, d, dc_prev):
    """d (N, 3H) = [dc·g·i·(1 − i), dc·c_prev·f·(1 − f), dc·i·(1 − g²)]; dc_prev = dc·f."""
    N, H = dc.shape
    one = d.dtype.type(1)
    for n in range(N):
        for h in range(H):
            d[n, h], d[n, H + h], d[n, 2 * H + h], dc_prev[n, h] = _state_backward(
                dc[n, h], i[n, h], f[n, h], g[n, h], c_prev[n, h], one)


@njit(cache=True, error_model="numpy")
def lstm_h_backward(dh, o, tc, do, dc):
    """do = dh·tc·o·(1 − o); dc = dh·o·(1 − tc²). All (N, H)."""
    N, H = dh.shape
    one = do.dtype.type(1)
    for n in range(N):
        for h in range(H):
            do[n, h], dc[n, h] = _hidden_backward(dh[n, h], o[n, h], tc[n, h], one)


# ------------------------------------------------------------ the sequence op's steps
@njit(cache=True, error_model="numpy")
def lstm_gates_in(gates, xw, t, bias, neg_abs):
    """gates (N, 4H) = (xw[:, t] + bias) + gates (h·W_hhᵀ there); neg_abs = −|gates| (for
    e = exp of it). xw (N, T, 4H) is x·W_ihᵀ for every step, bias (4H,) the summed biases."""
    N, G = gates.shape
    for n in range(N):
        for k in range(G):
            v = (xw[n, t, k] + bias[k]) + gates[n, k]  # the step ops' order of operations
            gates[n, k] = v
            neg_abs[n, k] = -abs(v)


@njit(cache=True, error_model="numpy")
def lstm_state_forward(gates, e, acts, y, t, c0):
    """Step t's cell state. From the pre-activations ``gates`` (N, 4H), e = exp(−|gates|) and
    acts[t, :, 2H:3H] = tanh(g) already there: acts[t, :, i, f, o] = σ(·) and
    y[:, t, H:] = cₜ = σ(i)·tanh(g) + σ(f)·cₜ₋₁, with cₜ₋₁ = y[:, t − 1, H:] (c0 at t = 0).
    acts (T, N, 4H), y (N, T, 2H): whole arrays and t, so that every row below is contiguous
    for the compiler (views passed in have unknown strides, and their loops do not vectorize)."""
    N, H = c0.shape
    one = acts.dtype.type(1)
    # Row by row, one output per loop: LLVM vectorizes these (one loop writing acts and c
    # needs more aliasing checks than it will make, and ran 30 % slower).
    for n in range(N):
        gr, er, ar = gates[n], e[n], acts[t, n]
        for k in range(2 * H):
            ar[k] = _sigmoid(gr[k], er[k], one)
        for k in range(3 * H, 4 * H):
            ar[k] = _sigmoid(gr[k], er[k], one)
        cp = c0[n] if t == 0 else y[n, t - 1, H:]
        cr = y[n, t, H:]
        for h in range(H):
            cr[h] = ar[h] * ar[2 * H + h] + ar[H + h] * cp[h]


@njit(cache=True, error_model="numpy")
def lstm_step_backward(g, t, dh_next, dc_next, acts, tc, y, c0, dgates, dc_prev):
    """Step t backward. dh = g[:, t, :H] + dh_next (from the output and from step t + 1),
    dc = g[:, t, H:] + dc_next + (dc through hₜ); acts (T, N, 4H) = σ(i), σ(f), tanh(g),
    σ(o); tc (T, N, H) = tanh(c); cₜ₋₁ = y[:, t − 1, H:] (c0 at t = 0). Writes
    dgates[:, t] (N, T, 4H: the step's gradient of its pre-activations) and dc_prev = dc·σ(f).
    Whole arrays and t, as lstm_state_forward."""
    N, H = c0.shape
    one = acts.dtype.type(1)
    for n in range(N):  # rows, one output per loop (vectorized; see lstm_state_forward)
        ho, co, hn, cn = g[n, t, :H], g[n, t, H:], dh_next[n], dc_next[n]
        a, tr, dg, dcp = acts[t, n], tc[t, n], dgates[n, t], dc_prev[n]
        cp = c0[n] if t == 0 else y[n, t - 1, H:]
        for h in range(H):  # dc, kept in dc_prev's row until its last loop
            dcp[h] = co[h] + cn[h] + _hidden_backward(ho[h] + hn[h], a[3 * H + h], tr[h], one)[1]
        for h in range(H):
            dg[3 * H + h] = _hidden_backward(ho[h] + hn[h], a[3 * H + h], tr[h], one)[0]
        for h in range(H):
            dg[h] = _state_backward(dcp[h], a[h], a[H + h], a[2 * H + h], cp[h], one)[0]
        for h in range(H):
            dg[H + h] = _state_backward(dcp[h], a[h], a[H + h], a[2 * H + h], cp[h], one)[1]
        for h in range(H):
            dg[2 * H + h] = _state_backward(dcp[h], a[h], a[H + h], a[2 * H + h], cp[h], one)[2]
        for h in range(H):
            dcp[h] = _state_backward(dcp[h], a[h], a[H + h], a[2 * H + h], cp[h], one)[3]
