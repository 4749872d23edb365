"""Max and average pooling over NCHW arrays, forward and backward.

Window (oh, ow) of a (kh, kw) pool with stride (sh, sw), padding (top, left) and dilation
(dh, dw) covers input rows ``oh·sh − top + i·dh`` for i = 0 … kh − 1 (columns alike), those
inside the input (average pooling has no dilation: dh = dw = 1). The wrappers in
``engine/fast/pool.py`` pick Ho and Wo (floor or ceil mode, PyTorch's rule) and check that
every window here reads at least one input pixel.

Adaptive pooling (``adaptive_*``) takes each window from tables instead: output row oh
covers input rows ``hs[oh] … he[oh] − 1`` (``floor(oh·H/Ho)`` to ``ceil((oh + 1)·H/Ho)``,
PyTorch's rule), columns alike.

- max: out = the window's largest value (NaN wins, as in PyTorch); ``idx`` keeps its flat
  position h·W + w in the (n, c) plane, and backward sends each dy to that one pixel.
  The CNN's 2 × 2 / stride 2 pool has its own pair (``max_pool_2x2_*``): forward stores no
  index and backward finds each window's winner again in x.
- avg: out = window sum / divisor, where the divisor counts the padding cells inside
  ``[−top, H + top) × [−left, W + left)`` when ``count_include_pad`` (PyTorch's default),
  else only the input cells; a nonzero ``divisor_override`` d replaces it for every window
  (PyTorch's; 0 means none). Backward spreads dy / divisor over the window.

Overlapping windows (stride < kernel) accumulate in backward. Every kernel runs one
(sample, channel) plane per parallel task, so no two tasks write the same memory.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def max_pool_forward(x, out, idx, kh, kw, sh, sw, top, left, dh=1, dw=1):
    """out[n, c, oh, ow] = max of the window; idx (same shape, int32) = its flat h·W + w."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(Ho):
            h0, h1 = _taps_inside(oh * sh - top, kh, dh, H)
            for ow in range(Wo):
                w0, w1 = _taps_inside(ow * sw - left, kw, dw, W)
                best = -np.inf
                arg = h0 * W + w0
                for h in range(h0, h1, dh):
                    for w in range(w0, w1, dw):
                        v = x[n, c, h, w]
                        if v > best or v != v:  # v != v: NaN propagates, like PyTorch
                            best = v
                            arg = h * W + w
                out[n, c, oh, ow] = best
                idx[n, c, oh, ow] = arg


@njit(cache=True, inline="always")
def _winner4(a, b, d, e):
    """The largest of a 2 × 2 window [[a, b], [d, e]] and its place (dh, dw), by the rule of
    the general loop above and PyTorch's row-major scan (``v > best or v != v``): the first
    of equal values, the last NaN if there is one.

    On real activations which of the four wins is a coin toss, so the common case is written
    as selects and arithmetic, not branches that mispredict about once per window; a window
    whose sum is NaN (a NaN, or inf − inf) takes the careful way."""
    top_b = b > a
    top = b if top_b else a
    low_e = e > d
    low = e if low_e else d
    low_wins = low > top
    if a + b + d + e == a + b + d + e:
        return (low if low_wins else top), np.int64(low_wins), np.int64(
            top_b + low_wins * (low_e - top_b))
    best, dh, dw = a, 0, 0
    if b > best or b != b:
        best, dh, dw = b, 0, 1
    if d > best or d != d:
        best, dh, dw = d, 1, 0
    if e > best or e != e:
        best, dh, dw = e, 1, 1
    return best, np.int64(dh), np.int64(dw)


@njit(parallel=True, cache=True)
def max_pool_2x2_forward(x, out):
    """The CNN's common pool (2 × 2, stride 2, no padding, windows inside the input):
    out[n, c, oh, ow] = the largest of x[n, c, 2·oh : 2·oh + 2, 2·ow : 2·ow + 2], without
    indices. ``max_pool_2x2_backward`` finds each window's winner again from x: storing an
    index per window took as long as the rest of the forward pass (measured on (128, 32, 7,
    7) and (128, 16, 28, 28), 2 threads: forward 0.19 -> 0.09 ms and 0.94 -> 0.57 ms)."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(Ho):
            h = 2 * oh
            for ow in range(Wo):
                w = 2 * ow
                out[n, c, oh, ow] = _winner4(x[n, c, h, w], x[n, c, h, w + 1],
                                             x[n, c, h + 1, w], x[n, c, h + 1, w + 1])[0]


@njit(parallel=True, cache=True)
def max_pool_2x2_backward(x, dy, dx):
    """dx (N, C, H, W), overwritten: each dy[n, c, oh, ow] at its window's winner in x (the
    pixel ``max_pool_2x2_forward`` took), 0 at the window's other three pixels and at the last
    row or column that no window covers (odd H or W)."""
    N, C, H, W = x.shape
    Ho, Wo = dy.shape[2], dy.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        if H > 2 * Ho:
            for w in range(W):
                dx[n, c, H - 1, w] = 0
        if W > 2 * Wo:
            for h in range(H):
                dx[n, c, h, W - 1] = 0
        for oh in range(Ho):
            h = 2 * oh
            for ow in range(Wo):
                w = 2 * ow
                _, wh, ww = _winner4(x[n, c, h, w], x[n, c, h, w + 1],
                                     x[n, c, h + 1, w], x[n, c, h + 1, w + 1])
                dx[n, c, h, w] = 0
                dx[n, c, h, w + 1] = 0
                dx[n, c, h + 1, w] = 0
                dx[n, c, h + 1, w + 1] = 0
                dx[n, c, h + wh, w + ww] = dy[n, c, oh, ow]


@njit(cache=True, inline="always")
def _taps_inside(start, k, d, size):
    """[first, stop) of the taps start + i·d (i < k) inside [0, size), stepping by d: the
    first tap at or after 0 (PyTorch's ``while (hstart < 0) hstart += dilation``)."""
    first = start
    if first < 0:
        first += (-first + d - 1) // d * d
    return first, min(start + (k - 1) * d + 1, size)


@njit(parallel=True, cache=True)
def max_pool_backward(dy, idx, dx):
    """dx (N, C, H·W), overwritten: dx[n, c, idx[n, c, oh, ow]] += dy[n, c, oh, ow]."""
    N, C, Ho, Wo = dy.shape
    for nc in prange(N * C):  # one plane per task: overlapping windows add up without races
        n = nc // C
        c = nc % C
        dx[n, c] = 0
        for oh in range(Ho):
            for ow in range(Wo):
                dx[n, c, idx[n, c, oh, ow]] += dy[n, c, oh, ow]


@njit(cache=True, inline="always")
def _divisor(h0, w0, kh, kw, H, W, top, left, count_include_pad, divisor_override):
    """PyTorch's avg_pool divisor for the window starting at (h0, w0) (padded coordinates):
    ``divisor_override`` when nonzero, else the cells that count."""
    if divisor_override != 0:
        return divisor_override
    if count_include_pad:
        return (min(h0 + kh, H + top) - h0) * (min(w0 + kw, W + left) - w0)
    return (min(h0 + kh, H) - max(h0, 0)) * (min(w0 + kw, W) - max(w0, 0))


@njit(parallel=True, cache=True)
def avg_pool_forward(x, out, kh, kw, sh, sw, top, left, count_include_pad,
                     divisor_override):
    """out[n, c, oh, ow] = Σ window / divisor (see the module docstring for the divisor)."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(Ho):
            hs = oh * sh - top
            h0, h1 = _taps_inside(hs, kh, 1, H)
            for ow in range(Wo):
                ws = ow * sw - left
                w0, w1 = _taps_inside(ws, kw, 1, W)
                s = 0.0  # float64 accumulator: float32 windows sum without extra rounding
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        s += x[n, c, h, w]
                out[n, c, oh, ow] = s / _divisor(hs, ws, kh, kw, H, W, top, left,
                                                 count_include_pad, divisor_override)


@njit(parallel=True, cache=True)
def avg_pool_backward(dy, dx, kh, kw, sh, sw, top, left, count_include_pad,
                      divisor_override):
    """dx (N, C, H, W), overwritten: each dy[n, c, oh, ow] / divisor added over its window."""
    N, C, H, W = dx.shape
    Ho, Wo = dy.shape[2], dy.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        dx[n, c] = 0
        for oh in range(Ho):
            hs = oh * sh - top
            h0, h1 = _taps_inside(hs, kh, 1, H)
            for ow in range(Wo):
                ws = ow * sw - left
                w0, w1 = _taps_inside(ws, kw, 1, W)
                g = dy[n, c, oh, ow] / _divisor(hs, ws, kh, kw, H, W, top, left,
                                                count_include_pad, divisor_override)
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        dx[n, c, h, w] += g


@njit(parallel=True, cache=True)
def adaptive_max_forward(x, out, idx, hs, he, ws, we):
    """out[n, c, oh, ow] = max over rows hs[oh] … he[oh] − 1 and columns ws[ow] … we[ow] − 1;
    idx (int32) its flat h·W + w (first maximum in row-major order; NaN wins)."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(Ho):
            for ow in range(Wo):
                best = -np.inf
                arg = hs[oh] * W + ws[ow]
                for h in range(hs[oh], he[oh]):
                    for w in range(ws[ow], we[ow]):
                        v = x[n, c, h, w]
                        if v > best or v != v:
                            best = v
                            arg = h * W + w
                out[n, c, oh, ow] = best
                idx[n, c, oh, ow] = arg


@njit(parallel=True, cache=True)
def adaptive_avg_forward(x, out, hs, he, ws, we):
    """out[n, c, oh, ow] = mean over rows hs[oh] … he[oh] − 1, columns ws[ow] … we[ow] − 1."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(Ho):
            for ow in range(Wo):
                s = 0.0  # float64 accumulator, as avg_pool_forward
                for h in range(hs[oh], he[oh]):
                    for w in range(ws[ow], we[ow]):
                        s += x[n, c, h, w]
                out[n, c, oh, ow] = s / ((he[oh] - hs[oh]) * (we[ow] - ws[ow]))


@njit(parallel=True, cache=True)
def adaptive_avg_backward(dy, dx, hs, he, ws, we):
    """dx (N, C, H, W), overwritten: each dy[n, c, oh, ow] / window size added over its
    window (windows may overlap: they add up)."""
    N, C, H, W = dx.shape
    Ho, Wo = dy.shape[2], dy.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        dx[n, c] = 0
        for oh in range(Ho):
            for ow in range(Wo):
                g = dy[n, c, oh, ow] / ((he[oh] - hs[oh]) * (we[ow] - ws[ow]))
                for h in range(hs[oh], he[oh]):
                    for w in range(ws[ow], we[ow]):
                        dx[n, c, h, w] += g
