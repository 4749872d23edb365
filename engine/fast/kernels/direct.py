"""Direct 3×3, stride-1, padding-1 convolutions: no column matrix, no BLAS.

The layout ("tall" images). For one channel, the whole batch is laid out as one tall image:
every image row is followed by one zero (the right padding of that row and, read from the
next row, its left padding) and every image by one zero row (the bottom padding of that image
and the top padding of the next)::

    row 0                    zeros                       (top padding of image 0)
    rows 1 … H               image 0, each row + one 0
    row H + 1                zeros
    rows H + 2 … 2H + 1      image 1
    …
    row N·(H + 1)            zeros                       (bottom padding of image N − 1)

With row pitch ``Wp = W + 1`` and ``R = N·(H + 1) + 1`` rows, pixel (n, h, w) sits at flat
position ``q = (n·(H + 1) + 1 + h)·Wp + w``, stored at index ``q + 1`` of a ``(channels,
R·Wp + 2)`` array (one guard element at each end, read by the corner taps of the first and
last positions). Every zero a 3×3 window with padding 1 needs is then already in place, and
tap (i, j) of output position q reads input position ``q + d(i, j)`` with one constant
``d(i, j) = (i − 1)·Wp + (j − 1)``. So a convolution is, per (filter, channel) pair, nine
shifted multiply-adds over one long contiguous array — a loop LLVM vectorizes — and the
padding positions of the output are computed too (they are dropped when the output is read
back: ``from_tall_images``). The waste is 1 − H·W / ((H + 1)(W + 1)): 23 % at 7×7, 13 % at 14×14.

The loops (each over a range of positions or of images, called inside the drivers below):

- ``conv_range(xt, w, yt, Wp, q0, q1)``: ``yt[f, q] = Σ_c Σ_ij w[f, c, i, j]·xt[c, q + d(i, j)]``
  for stored positions q0 … q1 − 1. Three filters per pass: 27 weights stay in registers while
  one pass over the pixels reads each of the nine shifted inputs once for three outputs (four
  filters run out of the 32 vector registers). The forward pass, and also dX: dX is this
  convolution of the (zero-padded) tall dY with the weights transposed (filters ↔ channels)
  and flipped (tap (i, j) ↔ (2 − i, 2 − j)).
- ``dw_range(xt, gt, partial, Wp, q0, q1)``: ``partial[f, c, 3·i + j] = Σ_q gt[f, q]·xt[c, q +
  d(i, j)]`` over the range (gt zero on every padding position, so only real outputs count).
  Two filters per pass: 18 register accumulators.
- ``to_tall_images`` / ``to_tall_sum_images`` / ``from_tall_images``: images n0 … n1 − 1
  between NCHW and the tall layout (from_tall_images adds the bias and optionally applies relu on
  the way out; to_tall_sum_images also sums each plane, for the bias gradient).

The drivers, one parallel region each: ``forward_tall`` (to tall, convolve, back) and
``backward_tall`` (dY to tall with the bias sums, dX, dW). Each splits the batch into
``blocks`` ranges of whole images, one ``prange`` task each, and a task does every step for
its images: the tall rows of an image range depend only on those images (and on the zero row
below the last one, which the task writes as well: the next task writes the same zeros
there). One region instead of three (forward) or four (backward): waking Numba's sleeping
thread costs ~45 µs per region on a 2-core VM, where a 7×7 layer's whole forward takes 1.3 ms.
A block holds about 4,096 stored positions per channel, so its rows stay in cache between
passes.

Float behaviour: ``fastmath={"contract"}`` lets LLVM fuse a·b + c into one FMA (one
rounding instead of two); the dW kernel also allows ``reassoc`` so its sums can be split
into vector lanes. No flag that changes NaN/Inf handling is used.
"""
from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

FILTERS_PER_PASS = 3  # conv_range computes this many output channels per pass


@njit(cache=True, inline="always")
def _taps(w, f, c):
    """The nine weights of (filter f, channel c) as a tuple (kept in registers by LLVM)."""
    return (w[f, c, 0, 0], w[f, c, 0, 1], w[f, c, 0, 2],
            w[f, c, 1, 0], w[f, c, 1, 1], w[f, c, 1, 2],
            w[f, c, 2, 0], w[f, c, 2, 1], w[f, c, 2, 2])


@njit(cache=True, inline="always")
def _dot9(a, xu, xm, xd, k):
    """Σ_ij a[3i + j]·x[k + d(i, j)], with xu, xm, xd the input viewed from one position up
    and left, left, and down and left of the block's first output (so every index is k + a
    constant: LLVM then proves the loop's loads and stores independent and vectorizes it)."""
    return (a[0] * xu[k] + a[1] * xu[k + 1] + a[2] * xu[k + 2]
            + a[3] * xm[k] + a[4] * xm[k + 1] + a[5] * xm[k + 2]
            + a[6] * xd[k] + a[7] * xd[k + 1] + a[8] * xd[k + 2])


@njit(cache=True, inline="always")
def split_range(b, blocks, lo, hi):
    """[start, stop) of block b when [lo, hi) is split into ``blocks`` near-equal ranges."""
    n = hi - lo
    return lo + n * b // blocks, lo + n * (b + 1) // blocks


@njit(cache=True, inline="always", fastmath={"contract"})
def _pass3(y0, y1, y2, a0, a1, a2, xu, xm, xd, n, first):
    """y_i[k] (=, or += unless first) Σ_ij a_i[3i + j]·x[k + d(i, j)] for three filters."""
    if first:
        for k in range(n):
            y0[k] = _dot9(a0, xu, xm, xd, k)
            y1[k] = _dot9(a1, xu, xm, xd, k)
            y2[k] = _dot9(a2, xu, xm, xd, k)
    else:
        for k in range(n):
            y0[k] += _dot9(a0, xu, xm, xd, k)
            y1[k] += _dot9(a1, xu, xm, xd, k)
            y2[k] += _dot9(a2, xu, xm, xd, k)


@njit(cache=True, inline="always", fastmath={"contract"})
def _pass2(y0, y1, a0, a1, xu, xm, xd, n, first):
    """_pass3 for the last two filters."""
    if first:
        for k in range(n):
            y0[k] = _dot9(a0, xu, xm, xd, k)
            y1[k] = _dot9(a1, xu, xm, xd, k)
    else:
        for k in range(n):
            y0[k] += _dot9(a0, xu, xm, xd, k)
            y1[k] += _dot9(a1, xu, xm, xd, k)


@njit(cache=True, inline="always", fastmath={"contract"})
def _pass1(y0, a0, xu, xm, xd, n, first):
    """_pass3 for the last filter."""
    if first:
        for k in range(n):
            y0[k] = _dot9(a0, xu, xm, xd, k)
    else:
        for k in range(n):
            y0[k] += _dot9(a0, xu, xm, xd, k)


@njit(cache=True, inline="always", fastmath={"contract"})
def conv_range(xt, w, yt, Wp, q0, q1):
    """yt[f, q] = Σ_c Σ_ij w[f, c, i, j]·xt[c, q + d(i, j)] for stored positions q0 … q1 − 1
    (see the module docstring). xt (C, S), w (F, C, 3, 3), yt (F, S)."""
    C = xt.shape[0]
    F = w.shape[0]
    n = q1 - q0
    if n <= 0:
        return
    for f in range(0, F, FILTERS_PER_PASS):
        nf = min(FILTERS_PER_PASS, F - f)  # 3, except for the last pass (1 or 2)
        for c in range(C):
            xu = xt[c, q0 - Wp - 1:q1 - Wp + 1]
            xm = xt[c, q0 - 1:q1 + 1]
            xd = xt[c, q0 + Wp - 1:q1 + Wp + 1]
            if nf == 3:
                _pass3(yt[f, q0:q1], yt[f + 1, q0:q1], yt[f + 2, q0:q1], _taps(w, f, c),
                       _taps(w, f + 1, c), _taps(w, f + 2, c), xu, xm, xd, n, c == 0)
            elif nf == 2:
                _pass2(yt[f, q0:q1], yt[f + 1, q0:q1], _taps(w, f, c), _taps(w, f + 1, c),
                       xu, xm, xd, n, c == 0)
            else:
                _pass1(yt[f, q0:q1], _taps(w, f, c), xu, xm, xd, n, c == 0)


@njit(cache=True, inline="always", fastmath={"contract", "reassoc"})
def dw_range(xt, gt, partial, Wp, q0, q1):
    """partial[f, c, 3·i + j] = Σ_{q0 ≤ q < q1} gt[f, q]·xt[c, q + d(i, j)].

    xt (C, S), gt (F, S) with zeros on every padding position, partial (F, C, 9)."""
    C = xt.shape[0]
    F = gt.shape[0]
    n = max(q1 - q0, 0)
    for f in range(0, F, 2):
        g0 = gt[f, q0:q0 + n]
        g1 = gt[min(f + 1, F - 1), q0:q0 + n]  # an odd F's last filter: g1 = g0, discarded
        for c in range(C):
            xu = xt[c, q0 - Wp - 1:q0 + n - Wp + 1]  # views as in conv_range
            xm = xt[c, q0 - 1:q0 + n + 1]
            xd = xt[c, q0 + Wp - 1:q0 + n + Wp + 1]
            s00 = s01 = s02 = s03 = s04 = s05 = s06 = s07 = s08 = xt.dtype.type(0)
            s10 = s11 = s12 = s13 = s14 = s15 = s16 = s17 = s18 = xt.dtype.type(0)
            for k in range(n):
                x0, x1, x2 = xu[k], xu[k + 1], xu[k + 2]
                x3, x4, x5 = xm[k], xm[k + 1], xm[k + 2]
                x6, x7, x8 = xd[k], xd[k + 1], xd[k + 2]
                e, h = g0[k], g1[k]
                s00 += e * x0
                s01 += e * x1
                s02 += e * x2
                s03 += e * x3
                s04 += e * x4
                s05 += e * x5
                s06 += e * x6
                s07 += e * x7
                s08 += e * x8
                s10 += h * x0
                s11 += h * x1
                s12 += h * x2
                s13 += h * x3
                s14 += h * x4
                s15 += h * x5
                s16 += h * x6
                s17 += h * x7
                s18 += h * x8
            p = partial[f, c]
            p[0], p[1], p[2], p[3], p[4] = s00, s01, s02, s03, s04
            p[5], p[6], p[7], p[8] = s05, s06, s07, s08
            if f + 1 < F:
                p = partial[f + 1, c]
                p[0], p[1], p[2], p[3], p[4] = s10, s11, s12, s13, s14
                p[5], p[6], p[7], p[8] = s15, s16, s17, s18


@njit(cache=True, inline="always")
def _zero_rows(xt, n0, n1, N, img, Wp):
    """The zeros around images n0 … n1 − 1 in every channel of xt: their top rows, the row
    below the last and the element before the first top row (the corner taps of the range's
    first and last pixels read them; they belong to the neighbouring ranges too, which write
    the same zeros there) and, at the end of the batch, the guard element."""
    S = xt.shape[1]
    for c in range(xt.shape[0]):
        xt[c, n0 * img] = 0  # n0 = 0: the first guard element
        for n in range(n0, n1):
            xt[c, n * img + 1:n * img + 1 + Wp] = 0
        xt[c, n1 * img + 1:n1 * img + 1 + Wp] = 0
        if n1 == N:
            xt[c, S - 1] = 0


@njit(cache=True, inline="always")
def to_tall_images(x, xt, n0, n1):
    """Images n0 … n1 − 1 of NCHW x (N, C, H, W) into the tall layout xt (C2, R·Wp + 2),
    C2 ≥ C, with every padding position around them 0; channels C … C2 − 1 all 0."""
    N, C, H, W = x.shape
    C2 = xt.shape[0]
    Wp = W + 1
    img = (H + 1) * Wp  # stored entries per image: its top zero row + H rows
    if n1 <= n0:
        return
    _zero_rows(xt, n0, n1, N, img, Wp)
    for n in range(n0, n1):
        for c in range(C2):
            for h in range(H):
                k0 = n * img + 1 + (h + 1) * Wp
                r = xt[c, k0:k0 + Wp]
                if c < C:
                    xs = x[n, c, h]
                    for v in range(W):
                        r[v] = xs[v]
                else:
                    r[:W] = 0
                r[W] = 0


@njit(cache=True, inline="always", fastmath={"reassoc"})  # reassoc: the sum may use lanes
def to_tall_sum_images(x, xt, sums, mask, masked, n0, n1):
    """``to_tall_images(x, xt, n0, n1)`` (C2 = C) that also writes sums[n, c] = Σ_hw of what
    it wrote (float64; the bias gradient is Σ_n sums[n]): one pass over dY instead of two.
    With ``masked``, x is multiplied by 0 wherever ``mask`` (same shape as x) is not > 0:
    relu's backward, mask being relu's output, fused into the same pass (x·(mask > 0), so a
    NaN in x stays NaN, as with the separate relu op)."""
    N, C, H, W = x.shape
    Wp = W + 1
    img = (H + 1) * Wp
    if n1 <= n0:
        return
    _zero_rows(xt, n0, n1, N, img, Wp)
    zero = x.dtype.type(0)
    for n in range(n0, n1):
        for c in range(C):
            total = 0.0
            for h in range(H):
                k0 = n * img + 1 + (h + 1) * Wp
                r = xt[c, k0:k0 + Wp]
                xs = x[n, c, h]
                if masked:
                    ms = mask[n, c, h]
                    for v in range(W):  # × (mask > 0), as the relu op's backward: 3x faster
                        val = xs[v] * x.dtype.type(ms[v] > zero)  # than a select (measured)
                        r[v] = val
                        total += val
                else:
                    for v in range(W):
                        r[v] = xs[v]
                        total += xs[v]
                r[W] = 0
            sums[n, c] = total


@njit(cache=True, inline="always")
def from_tall_images(yt, out, bias, relu, n0, n1):
    """out[n, f, h, w] = yt[f, position of (n, h, w)] + bias[f], then max(·, 0) if relu
    (NaN stays NaN), for images n0 … n1 − 1. yt (F2, S) with F2 ≥ F; out (N, F, H, W)."""
    _, F, H, W = out.shape
    Wp = W + 1
    img = (H + 1) * Wp
    for n in range(n0, n1):
        for f in range(F):
            bf = bias[f]
            for h in range(H):
                k0 = n * img + 1 + (h + 1) * Wp
                r = yt[f, k0:k0 + W]
                o = out[n, f, h]
                if relu:
                    for v in range(W):
                        y = r[v] + bf
                        o[v] = 0 if y < 0 else y
                else:
                    for v in range(W):
                        o[v] = r[v] + bf


@njit(cache=True, inline="always")
def _positions(n0, n1, H, W):
    """[first, stop) stored positions of the rows of images n0 … n1 − 1 (with the zero rows
    between them, computed and not read back)."""
    Wp = W + 1
    img = (H + 1) * Wp
    return n0 * img + Wp + 1, n1 * img + 1


@njit(parallel=True, cache=True, fastmath={"contract"})
def forward_tall(x, w, bias, relu, xt, yt, out, blocks):
    """out = conv(x, w) + bias (then relu), through the tall layout: per block of images,
    x → xt, the convolution into yt, yt → out. One parallel region."""
    N, _, H, W = x.shape
    for b in prange(blocks):
        n0, n1 = split_range(b, blocks, 0, N)
        if n1 > n0:
            to_tall_images(x, xt, n0, n1)
            q0, q1 = _positions(n0, n1, H, W)
            conv_range(xt, w, yt, W + 1, q0, q1)
            from_tall_images(yt, out, bias, relu, n0, n1)


@njit(parallel=True, cache=True, fastmath={"contract", "reassoc"})
def backward_tall(g, mask, masked, xt, wt, gt, sums, dxt, dx, partial, need_dx, need_dw,
                  blocks):
    """Per block of images: dY (g, masked by relu's output if ``masked``) → gt with the bias
    sums; dX = conv(gt, wt) (wt: w transposed and flipped) → dx if ``need_dx``; partial[b]
    = block b's part of dW if ``need_dw``. One parallel region."""
    N, _, H, W = g.shape
    zero = np.zeros(dx.shape[1], dx.dtype)
    for b in prange(blocks):
        n0, n1 = split_range(b, blocks, 0, N)
        if n1 > n0:
            to_tall_sum_images(g, gt, sums, mask, masked, n0, n1)
            q0, q1 = _positions(n0, n1, H, W)
            if need_dx:
                conv_range(gt, wt, dxt, W + 1, q0, q1)
                from_tall_images(dxt, dx, zero, False, n0, n1)
            if need_dw:
                dw_range(xt, gt, partial[b], W + 1, q0, q1)
        elif need_dw:
            partial[b] = 0


def tall_shape(N, H, W, channels):
    """Shape of the tall array of ``channels`` rows for (N, ·, H, W) images."""
    return channels, (N * (H + 1) + 1) * (W + 1) + 2


def blocks_for(N, H, W, threads, block_entries=4096):
    """How many blocks of whole images to split a batch of N into: a multiple of ``threads``
    (at most N), each about ``block_entries`` stored positions per channel (so a block's rows
    stay in cache between passes)."""
    n = max(1, N * (H + 1) * (W + 1) // block_entries)
    return min(N, max(threads, -(-n // threads) * threads))


def conv3x3_forward(x, w, b, scratch, relu=False):
    """conv2d(x, w, b, padding=1) for a 3×3 kernel, stride 1: (out (N, F, H, W), xt).

    x (N, C, H, W), w (F, C, 3, 3), b (F,) or None, all C-contiguous of one float dtype.
    ``xt`` is x in the tall layout, to keep for the weight gradient. ``scratch(name, shape,
    dtype)`` returns a reusable buffer (contents undefined) for temporaries. ``relu=True``
    returns max(conv, 0) instead.
    """
    N, C, H, W = x.shape
    F = w.shape[0]
    xt = np.empty(tall_shape(N, H, W, C), x.dtype)
    yt = scratch("direct_y", tall_shape(N, H, W, F), x.dtype)
    out = np.empty((N, F, H, W), x.dtype)
    forward_tall(x, w, np.zeros(F, x.dtype) if b is None else b, relu, xt, yt, out,
                 blocks_for(N, H, W, get_num_threads()))
    return out, xt


def conv3x3_backward(g, xt, w, scratch, need_dx=True, need_dw=True, need_db=True,
                     relu_out=None):
    """Gradients of conv3x3_forward's output for dY = g: (dx, dw, db), None where not needed.

    g (N, F, H, W) C-contiguous; xt the forward's tall x (needed for dw); w (F, C, 3, 3)
    (needed for dx). dx = conv of the zero-padded dY with w transposed and flipped;
    dW[f, c, i, j] = Σ_q dY[f, q]·x[c, q + d(i, j)] (module docstring); db = Σ dY, summed
    while dY is copied into the tall layout. ``relu_out``: the output of a forward run with
    ``relu=True``; dY is then g where relu_out > 0, else 0.
    """
    N, F, H, W = g.shape
    C = w.shape[1] if w is not None else xt.shape[0]
    gt = scratch("direct_g", tall_shape(N, H, W, F), g.dtype)
    sums = scratch("direct_db", (N, F), np.float64)
    blocks = blocks_for(N, H, W, get_num_threads())
    masked = relu_out is not None
    if need_dx:
        wt = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, F, 3, 3)
        dxt = scratch("direct_dx", tall_shape(N, H, W, C), g.dtype)
        dx = np.empty((N, C, H, W), g.dtype)
    else:  # placeholders of the right types, not touched
        wt, dxt, dx = np.empty((0, F, 3, 3), g.dtype), gt[:0], np.empty((0, C, H, W), g.dtype)
    partial = scratch("direct_dw", (blocks, F, C, 9), g.dtype) if need_dw else \
        np.empty((blocks, F, C, 9), g.dtype)
    backward_tall(g, relu_out if masked else g, masked, xt if need_dw else gt, wt, gt, sums,
                  dxt, dx, partial, need_dx, need_dw, blocks)
    db = sums.sum(axis=0).astype(g.dtype) if need_db else None
    dw = partial.sum(axis=0).reshape(F, C, 3, 3) if need_dw else None
    return (dx if need_dx else None), dw, db
