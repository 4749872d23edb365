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
    # The common 2x2, stride 2, unpadded pool gets its own loop: a tournament of two pairs
    # written with selects instead of branches. On real activations which of the four wins is
    # a coin toss, and the general loop's data-dependent branches mispredict about once per
    # window (measured: 0.13 -> 0.10 ms on (128, 32, 7, 7), 0.36 -> 0.29 ms on (128, 16, 28,
    # 28), 2 threads). Strict ">" keeps the first of equal values, as the general loop does.
    pairs = (kh == 2 and kw == 2 and sh == 2 and sw == 2 and top == 0 and left == 0
             and dh == 1 and dw == 1)
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(Ho):
            ow0 = 0
            if pairs and 2 * oh + 1 < H:
                ow0 = min(Wo, W // 2)  # full windows; a ceil-mode edge window goes below
                h = 2 * oh
                for ow in range(ow0):
                    w = 2 * ow
                    a, b = x[n, c, h, w], x[n, c, h, w + 1]
                    d, e = x[n, c, h + 1, w], x[n, c, h + 1, w + 1]
                    top_best, top_arg = max(a, b), h * W + w + (b > a)
                    low_best, low_arg = max(d, e), (h + 1) * W + w + (e > d)
                    low_wins = low_best > top_best
                    best = max(top_best, low_best)
                    arg = top_arg + low_wins * (low_arg - top_arg)
                    if a + b + d + e != a + b + d + e:  # a NaN (or inf - inf): the careful way
                        best, arg = a, h * W + w
                        for k in range(1, 4):
                            v = x[n, c, h + k // 2, w + k % 2]
                            if v > best or v != v:
                                best, arg = v, (h + k // 2) * W + w + k % 2
                    out[n, c, oh, ow] = best
                    idx[n, c, oh, ow] = arg
            h0, h1 = _taps_inside(oh * sh - top, kh, dh, H)
            for ow in range(ow0, Wo):
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
