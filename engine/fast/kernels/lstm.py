"""The LSTM's elementwise loops: the steps of the whole-sequence op ``lstm`` and of the step
ops ``lstm_c``/``lstm_h`` (``engine/fast/lstm.py``), forward and backward.

At the sizes recurrent layers run (N = 64, H = 32: 2,048 values a step) numpy's cost is its
per-call overhead: a forward step written with numpy made seven calls (23.6 µs, the GEMM's
5.9 included); here it is the GEMM and one loop. Serial (no thread pool): the work per call is
far too small to split. Each formula is written once, in the ``_*`` helpers, and inlined
where it is used, so the sequence op and the step ops compute the same bits.

exp and tanh are ``fexp``/``ftanh`` (engine/fast/kernels/floatmath.py): for float32 formulas
LLVM vectorizes (numpy's SIMD speed without a call per step), libm's for float64.
"""
from __future__ import annotations

from numba import njit, prange

from .blas import SERIAL_GEMM, gemm
from .direct import split_range
from .floatmath import fexp, ftanh


# ------------------------------------------------------------------------ the formulas
@njit(cache=True, inline="always")
def _sigmoid(x, one):
    """σ(x) from e = e^(−|x|): 1/(1 + e) for x ≥ 0, e/(1 + e) below (never overflows);
    engine/ops/xp.py's ``sigmoid`` with fexp for numpy's exp."""
    e = fexp(-abs(x))
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


# -------------------------------------------------------------- the step ops' forward
@njit(cache=True, error_model="numpy")
def lstm_c_forward(gates, c_prev, i, f, g, c):
    """i, f, g (N, H) = σ(gates' i), σ(gates' f), tanh(gates' g); c = i·g + f·c_prev."""
    N, H = c.shape
    one = c.dtype.type(1)
    for n in range(N):
        zi, zf, zg = gates[n, :H], gates[n, H:2 * H], gates[n, 2 * H:3 * H]
        ir, fr, g_r, cr, pr = i[n], f[n], g[n], c[n], c_prev[n]
        for h in range(H):
            ir[h] = _sigmoid(zi[h], one)
        for h in range(H):
            fr[h] = _sigmoid(zf[h], one)
        for h in range(H):
            g_r[h] = ftanh(zg[h])
        for h in range(H):
            cr[h] = ir[h] * g_r[h] + fr[h] * pr[h]


@njit(cache=True, error_model="numpy")
def lstm_h_forward(gates, c, o, tc, hid):
    """o (N, H) = σ(gates' o), tc = tanh(c), hid = o·tc."""
    N, H = c.shape
    one = c.dtype.type(1)
    for n in range(N):
        zo, orow, tr, cr, hr = gates[n, 3 * H:], o[n], tc[n], c[n], hid[n]
        for h in range(H):
            orow[h] = _sigmoid(zo[h], one)
        for h in range(H):
            tr[h] = ftanh(cr[h])
        for h in range(H):
            hr[h] = orow[h] * tr[h]


# ------------------------------------------------------------ the sequence op's steps
@njit(cache=True, error_model="numpy")
def lstm_step_forward(gates, xw, t, bias, acts, tc, y, c0):
    """Step t after its GEMM, in one call. gates (N, 4H) = hₜ₋₁·W_hhᵀ, overwritten with
    z = (xw[:, t] + bias) + gates (the step ops' order of operations); acts[t] = σ(z_i),
    σ(z_f), tanh(z_g), σ(z_o); y[:, t, H:] = cₜ = σ(i)·tanh(g) + σ(f)·cₜ₋₁ (cₜ₋₁ =
    y[:, t − 1, H:], c0 at t = 0); tc[t] = tanh(cₜ); y[:, t, :H] = hₜ = σ(o)·tanh(cₜ). xw
    (N, T, 4H), acts (T, N, 4H), tc (T, N, H), y (N, T, 2H): whole arrays and t, so that every
    row below is contiguous for the compiler (views passed in have unknown strides, and their
    loops do not vectorize)."""
    _forward_rows(gates, xw, t, bias, acts, tc, y, c0, 0, c0.shape[0])


@njit(cache=True, inline="always", error_model="numpy")
def _forward_rows(gates, xw, t, bias, acts, tc, y, c0, n0, n1):
    """``lstm_step_forward`` on the rows n0 … n1 − 1 of the batch."""
    H = c0.shape[1]
    one = acts.dtype.type(1)
    # Row by row, one output per loop, each over a view from its index 0: LLVM vectorizes
    # these (a loop over range(3H, 4H) of the whole row ran 1.7x slower, and one loop writing
    # several arrays needs more aliasing checks than it will make).
    for n in range(n0, n1):
        z, xr, ar = gates[n], xw[n, t], acts[t, n]
        for k in range(4 * H):
            z[k] = (xr[k] + bias[k]) + z[k]
        zs, a_s = z[:2 * H], ar[:2 * H]
        for k in range(2 * H):
            a_s[k] = _sigmoid(zs[k], one)
        zg, ag = z[2 * H:3 * H], ar[2 * H:3 * H]
        for k in range(H):
            ag[k] = ftanh(zg[k])
        zo, ao = z[3 * H:], ar[3 * H:]
        for k in range(H):
            ao[k] = _sigmoid(zo[k], one)
        ai, af = ar[:H], ar[H:2 * H]
        cp = c0[n] if t == 0 else y[n, t - 1, H:]
        cr, hr, tr = y[n, t, H:], y[n, t, :H], tc[t, n]
        for h in range(H):
            cr[h] = ai[h] * ag[h] + af[h] * cp[h]
        for h in range(H):
            tr[h] = ftanh(cr[h])
        for h in range(H):
            hr[h] = ao[h] * tr[h]


@njit(cache=True, error_model="numpy")
def lstm_step_backward(g, t, dh_next, dc_next, acts, tc, y, c0, dgates, dc_prev):
    """Step t backward. dh = g[:, t, :H] + dh_next (from the output and from step t + 1),
    dc = g[:, t, H:] + dc_next + (dc through hₜ); acts (T, N, 4H) = σ(i), σ(f), tanh(g),
    σ(o); tc (T, N, H) = tanh(c); cₜ₋₁ = y[:, t − 1, H:] (c0 at t = 0). Writes
    dgates[:, t] (N, T, 4H: the step's gradient of its pre-activations) and dc_prev = dc·σ(f).
    Whole arrays and t, as lstm_step_forward."""
    _backward_rows(g, t, dh_next, dc_next, acts, tc, y, c0, dgates, dc_prev, 0, c0.shape[0])


@njit(cache=True, inline="always", error_model="numpy")
def _backward_rows(g, t, dh_next, dc_next, acts, tc, y, c0, dgates, dc_prev, n0, n1):
    """``lstm_step_backward`` on the rows n0 … n1 − 1 of the batch."""
    H = c0.shape[1]
    one = acts.dtype.type(1)
    for n in range(n0, n1):  # rows, one output per loop (vectorized; see _forward_rows)
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


# ------------------------------------------------------- the whole sequence in one call
@njit(parallel=True, cache=True, error_model="numpy")
def lstm_sequence_forward(gemm_ptr, wide, parts, xw, h0, c0, whh_t, bias, acts, tc, y, gates):
    """The sequence op's forward in one call: for t = 0 … T − 1, gates = hₜ₋₁·whh_t (numpy's
    BLAS, through ``blas.gemm`` at ``gemm_ptr``; hₜ₋₁ = h0 at t = 0, else y[:, t − 1, :H])
    then ``lstm_step_forward``'s loops. The batch's rows are split into ``parts`` runs, one
    per thread, each going through all T steps alone (rows never meet in a recurrence).
    xw (N, T, 4H), h0, c0 (N, H), whh_t = W_hhᵀ (H, 4H), bias (4H,), all C-contiguous; as
    lstm_step_forward's, gates (N, 4H) scratch."""
    N, T, G = xw.shape
    H = G // 4
    size = xw.itemsize
    one = xw.dtype.type(1)
    for p in prange(parts):
        n0, n1 = split_range(p, parts, 0, N)
        for t in range(T):
            if t == 0:
                h_at, h_stride = h0.ctypes.data + n0 * H * size, H
            else:
                h_at, h_stride = y.ctypes.data + (n0 * T + t - 1) * 2 * H * size, T * 2 * H
            gemm(gemm_ptr, wide, False, False, n1 - n0, G, H, one, h_at, h_stride,
                 whh_t.ctypes.data, G, 0.0, gates.ctypes.data + n0 * G * size, G)
            _forward_rows(gates, xw, t, bias, acts, tc, y, c0, n0, n1)


@njit(parallel=True, cache=True, error_model="numpy")
def lstm_sequence_backward(gemm_ptr, wide, parts, g, h0, acts, tc, y, c0, w_hh, dgates, dh,
                           dc, dc_prev, dw_parts, db_parts, weights):
    """The sequence op's backward through time in one call: for t = T − 1 … 0,
    ``lstm_step_backward``'s loops then dhₜ₋₁ = dgatesₜ·W_hh (numpy's BLAS at ``gemm_ptr``),
    the rows split into ``parts`` runs as in lstm_sequence_forward. dh, dc (N, H) start at 0
    and end as the gradients of h0 and of c0 (dc, or dc_prev for an odd T: the two swap
    every step).

    With ``weights``, each part then also sums its rows' share of the weight gradients
    (their sums over the parts are W_hh's and the bias's): dw_parts[p] (G, H) = Σ_rows Σₜ
    dgatesₜᵀ·hₜ₋₁ (hₜ₋₁ = h0 at t = 0, else y[:, t − 1, :H]) as one GEMM per row over its
    steps t ≥ 1 (in runs of steps small enough for OpenBLAS to run on the calling thread:
    ``blas.SERIAL_GEMM``) and one for t = 0 over the part's rows, and
    db_parts[p] (G,) = Σ_rows Σₜ dgatesₜ. On their own threads, in the same region: no
    hand-over to BLAS's thread pool between two kernels."""
    N, T, G = dgates.shape
    H = G // 4
    size = dgates.itemsize
    one = dgates.dtype.type(1)
    for p in prange(parts):
        n0, n1 = split_range(p, parts, 0, N)
        dc_next, dc_now = dc, dc_prev
        for t in range(T - 1, -1, -1):
            _backward_rows(g, t, dh, dc_next, acts, tc, y, c0, dgates, dc_now, n0, n1)
            gemm(gemm_ptr, wide, False, False, n1 - n0, H, G, one,
                 dgates.ctypes.data + (n0 * T + t) * G * size, T * G, w_hh.ctypes.data, H, 0.0,
                 dh.ctypes.data + n0 * H * size, H)
            dc_next, dc_now = dc_now, dc_next
        if weights:
            dw, db = dw_parts[p], db_parts[p]
            dw[:] = 0
            db[:] = 0
            gemm(gemm_ptr, wide, True, False, G, H, n1 - n0, one,  # t = 0: h0's rows
                 dgates.ctypes.data + n0 * T * G * size, T * G, h0.ctypes.data + n0 * H * size,
                 H, 1.0, dw.ctypes.data, H)
            step = max(1, SERIAL_GEMM // (G * H))
            for n in range(n0, n1):
                for t0 in range(1, T, step):
                    t1 = min(T, t0 + step)
                    gemm(gemm_ptr, wide, True, False, G, H, t1 - t0, one,
                         dgates.ctypes.data + (n * T + t0) * G * size, G,
                         y.ctypes.data + (n * T + t0 - 1) * 2 * H * size, 2 * H, 1.0,
                         dw.ctypes.data, H)
                for t in range(T):
                    dg = dgates[n, t]
                    for k in range(G):
                        db[k] += dg[k]

