"""Max and average pooling over NCHW arrays, forward and backward.

Window (oh, ow) of a (kh, kw) pool with stride (sh, sw) and padding (top, left) covers input
rows ``oh·sh − top … oh·sh − top + kh − 1`` (columns alike), clipped to the input. The
wrappers in ``engine/fast/pool.py`` pick Ho and Wo (floor or ceil mode, PyTorch's rule), so
every window here overlaps the input.

- max: out = the window's largest value (NaN wins, as in PyTorch); ``idx`` keeps its flat
  position h·W + w in the (n, c) plane, and backward sends each dy to that one pixel.
- avg: out = window sum / divisor, where the divisor counts the padding cells inside
  ``[−top, H + top) × [−left, W + left)`` when ``count_include_pad`` (PyTorch's default),
  else only the input cells. Backward spreads dy / divisor over the window.

Overlapping windows (stride < kernel) accumulate in backward. Every kernel runs one
(sample, channel) plane per parallel task, so no two tasks write the same memory.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def max_pool_forward(x, out, idx, kh, kw, sh, sw, top, left):
    """out[n, c, oh, ow] = max of the window; idx (same shape, int32) = its flat h·W + w."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    # The common 2x2, stride 2, unpadded pool gets a loop LLVM can vectorize across windows
    # (the general loop's runtime-sized 2x2 inner loops run scalar: 4x slower, measured).
    pairs = kh == 2 and kw == 2 and sh == 2 and sw == 2 and top == 0 and left == 0
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
                    best, arg = x[n, c, h, w], h * W + w
                    v = x[n, c, h, w + 1]
                    if v > best or v != v:
                        best, arg = v, h * W + w + 1
                    v = x[n, c, h + 1, w]
                    if v > best or v != v:
                        best, arg = v, (h + 1) * W + w
                    v = x[n, c, h + 1, w + 1]
                    if v > best or v != v:
                        best, arg = v, (h + 1) * W + w + 1
                    out[n, c, oh, ow] = best
                    idx[n, c, oh, ow] = arg
            h0 = oh * sh - top
            h1 = min(h0 + kh, H)
            h0 = max(h0, 0)
            for ow in range(ow0, Wo):
                w0 = ow * sw - left
                w1 = min(w0 + kw, W)
                w0 = max(w0, 0)
                best = -np.inf
                arg = h0 * W + w0
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        v = x[n, c, h, w]
                        if v > best or v != v:  # v != v: NaN propagates, like PyTorch
                            best = v
                            arg = h * W + w
                out[n, c, oh, ow] = best
                idx[n, c, oh, ow] = arg


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
def _divisor(h0, w0, kh, kw, H, W, top, left, count_include_pad):
    """PyTorch's avg_pool divisor for the window starting at (h0, w0) (padded coordinates)."""
    if count_include_pad:
        return (min(h0 + kh, H + top) - h0) * (min(w0 + kw, W + left) - w0)
    return (min(h0 + kh, H) - max(h0, 0)) * (min(w0 + kw, W) - max(w0, 0))


@njit(parallel=True, cache=True)
def avg_pool_forward(x, out, kh, kw, sh, sw, top, left, count_include_pad):
    """out[n, c, oh, ow] = Σ window / divisor (see the module docstring for the divisor)."""
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for oh in range(Ho):
            hs = oh * sh - top
            h0 = max(hs, 0)
            h1 = min(hs + kh, H)
            for ow in range(Wo):
                ws = ow * sw - left
                w0 = max(ws, 0)
                w1 = min(ws + kw, W)
                s = 0.0  # float64 accumulator: float32 windows sum without extra rounding
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        s += x[n, c, h, w]
                out[n, c, oh, ow] = s / _divisor(hs, ws, kh, kw, H, W, top, left,
                                                 count_include_pad)


@njit(parallel=True, cache=True)
def avg_pool_backward(dy, dx, kh, kw, sh, sw, top, left, count_include_pad):
    """dx (N, C, H, W), overwritten: each dy[n, c, oh, ow] / divisor added over its window."""
    N, C, H, W = dx.shape
    Ho, Wo = dy.shape[2], dy.shape[3]
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        dx[n, c] = 0
        for oh in range(Ho):
            hs = oh * sh - top
            h0 = max(hs, 0)
            h1 = min(hs + kh, H)
            for ow in range(Wo):
                ws = ow * sw - left
                w0 = max(ws, 0)
                w1 = min(ws + kw, W)
                g = dy[n, c, oh, ow] / _divisor(hs, ws, kh, kw, H, W, top, left,
                                                count_include_pad)
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        dx[n, c, h, w] += g
