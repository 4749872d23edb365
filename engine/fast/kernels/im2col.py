"""im2col and col2im: the data movement that turns a convolution into matrix products.

For x of shape (N, C, H, W), a kernel (kh, kw), stride (sh, sw), padding (top, left) and
dilation (dh, dw), the output has Ho × Wo pixels, P = Ho·Wo per sample, and K = C·kh·kw. The
column matrix holds, for every output pixel p = oh·Wo + ow of sample n, its receptive field,
one row per (channel, kernel row, kernel column) "tap" r = (c·kh + i)·kw + j::

    value(r, n, p) = x[n, c, oh·sh − top + i·dh, ow·sw − left + j·dw]   (0 in the padding)

stored in one of two layouts (``per_sample``):

- False: ``cols`` (K, N·P), value at ``cols[r, n·P + p]``: one GEMM ``W (F, K) @ cols`` covers
  the whole batch (best when P is small: few, large GEMMs);
- True: ``cols`` (N·K, P), value at ``cols[n·K + r, p]``: one GEMM per sample whose result is
  already in NCHW order (best when P is large: no transpose of the output).

``col2im`` is the adjoint (transpose) of ``im2col``: it adds every column entry back onto the
input pixel it was read from, so pixels shared by overlapping windows accumulate. It turns the
column gradient ``Wᵀ @ dY`` into ``dx``.

Two implementations of each (both tested against the same loop references), and a third
col2im (``col2im_scatter``) that walks im2col's table backwards, for strided geometries:

- ``im2col_shift`` / ``col2im_shift``: stride 1 with Wo = W ('same'-style padding, the usual
  CNN layer). Output pixel p of a tap then reads input pixel p + d for one constant d, so a
  whole (sample, channel, tap) row is one contiguous copy (or add) of P values, with a
  per-column mask (``column_masks``) for the columns that fall into the left/right padding.
- ``im2col`` / ``col2im``: any geometry, through index tables (``window_tables``), built once
  per geometry: for each tap, which input pixel every output pixel reads.

Either way the inner loops run over a whole image plane (P or H·W values) instead of one image
row (Wo values): LLVM vectorizes loops of hundreds of iterations, not of 7 or 14 (measured:
a row-by-row im2col was 3-10x slower on the seed CNN's layers).

Indexing: Numba wraps negative indices (x[-1] is the last element), a compare and a select
per access that also stops LLVM from vectorizing. The inner loops index 1-D views with uint64
offsets, which cannot be negative (5x faster on a plain copy, measured); every offset is
non-negative before its cast.

The kernels are plain Numba functions over C-contiguous arrays; the wrappers in
``engine/fast/conv.py`` own shapes, padding, chunking and buffers. Run with
``NUMBA_DISABLE_JIT=1`` to step through them in pdb as ordinary Python.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit, prange, uint64


@lru_cache(maxsize=64)
def window_tables(H, W, kh, kw, sh, sw, top, left, dh, dw, Ho, Wo):
    """Index tables for one geometry (int32, read-only; cached).

    ``src[t, p]``: the flat input pixel h·W + w that output pixel p reads through kernel tap
    t = i·kw + j, or H·W when that falls in the padding. ``dst[t, q]``: the output pixel that
    reads input pixel q through tap t, or Ho·Wo if none does (one tap maps distinct outputs
    to distinct inputs, so there is at most one).
    """
    oh, ow = np.arange(Ho)[:, None], np.arange(Wo)[None, :]
    p = (oh * Wo + ow).ravel()
    src = np.empty((kh * kw, Ho * Wo), np.int32)
    dst = np.full((kh * kw, H * W), Ho * Wo, np.int32)
    for i in range(kh):
        ih = oh * sh - top + i * dh
        for j in range(kw):
            iw = ow * sw - left + j * dw
            inside = ((ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)).ravel()
            q = (ih * W + iw).ravel()
            src[i * kw + j] = np.where(inside, q, H * W)
            dst[i * kw + j, q[inside]] = p[inside]
    src.flags.writeable = dst.flags.writeable = False
    return src, dst


@njit(cache=True, inline="always")
def _row(cols, n, r, K, P, per_sample):
    """(row array, offset) where tap r of sample n starts, in either layout."""
    if per_sample:
        return cols[n * K + r], uint64(0)
    return cols[r], uint64(n * P)


@njit(parallel=True, cache=True)
def im2col(x, cols, src, per_sample):
    """Fill the column matrix ``cols`` from ``x`` (N, C, H·W) through ``src`` (T, P)."""
    N, C, HW = x.shape
    T, P = src.shape
    last = uint64(HW - 1)
    for nc in prange(N * C):  # one (sample, channel) plane per task: rows never overlap
        n = nc // C
        c = nc % C
        xs = x[n, c]
        for t in range(T):
            row, base = _row(cols, n, c * T + t, C * T, P, per_sample)
            tab = src[t]
            for p in range(uint64(P)):
                q = uint64(tab[p])
                if q <= last:  # a well-predicted branch beat a vectorized gather (measured)
                    row[base + p] = xs[q]
                else:
                    row[base + p] = 0


@njit(parallel=True, cache=True)
def col2im(cols, dx, dst, per_sample):
    """Overwrite ``dx`` (N, C, H·W) with the adjoint of im2col applied to ``cols``.

    dx[n, c, q] = Σ over taps t of value(c·T + t, n, dst[t, q]) (taps that miss q add 0).
    """
    N, C, HW = dx.shape
    T = dst.shape[0]
    P = cols.shape[1] if per_sample else cols.shape[1] // N
    last = uint64(P - 1)
    for nc in prange(N * C):  # each task owns one dx plane: accumulation without races
        n = nc // C
        c = nc % C
        out = dx[n, c]
        out[:] = 0
        for t in range(T):
            row, base = _row(cols, n, c * T + t, C * T, P, per_sample)
            tab = dst[t]
            for q in range(uint64(HW)):
                p = uint64(tab[q])
                if p <= last:
                    out[q] += row[base + p]


@njit(parallel=True, cache=True)
def col2im_scatter(cols, dx, src, per_sample):
    """``col2im`` through im2col's table ``src`` (T, P): every column entry is added onto the
    input pixel it was read from. The same sums as ``col2im``, looping over the P output
    pixels of each tap instead of the H·W input pixels: fewer when strided (a quarter at
    stride 2), as in a transposed convolution's forward. One tap reads distinct input pixels
    from distinct output pixels, so each add lands on its own pixel within a tap.
    """
    N, C, HW = dx.shape
    T, P = src.shape
    last = uint64(HW - 1)
    for nc in prange(N * C):  # each task owns one dx plane: accumulation without races
        n = nc // C
        c = nc % C
        out = dx[n, c]
        out[:] = 0
        for t in range(T):
            row, base = _row(cols, n, c * T + t, C * T, P, per_sample)
            tab = src[t]
            for p in range(uint64(P)):
                q = uint64(tab[p])
                if q <= last:
                    out[q] += row[base + p]


@lru_cache(maxsize=64)
def column_masks(W, Ho, kw, left, dw):
    """``mask[j, p]``: whether output pixel p's column, shifted by kernel column j, lands
    inside the image (0 <= p % W + j·dw − left < W); bool (kw, Ho·W), read-only, cached."""
    ow = np.arange(Ho * W) % W
    mask = np.stack([(ow + j * dw - left >= 0) & (ow + j * dw - left < W) for j in range(kw)])
    mask.flags.writeable = False
    return mask


@njit(cache=True, inline="always")
def _tap_span(i, j, H, W, Ho, top, left, dh, dw, HW):
    """For tap (i, j) of a shift kernel: output pixel p reads input pixel p + d, and only
    output pixels [a, b) read inside the image plane (rows [lo, hi) of the tap, clipped to
    the plane's ends). Returns (d, a, b)."""
    lo = min(Ho, max(0, top - i * dh)) * W
    hi = max(lo, min(Ho, H + top - i * dh) * W)
    d = (i * dh - top) * W + j * dw - left
    a = min(max(lo, -d), hi)
    return d, a, max(a, min(hi, HW - d))


@njit(parallel=True, cache=True)
def im2col_shift(x, cols, H, W, kh, kw, top, left, dh, dw, Ho, masks, per_sample):
    """``im2col`` for stride 1 and Wo = W, x (N, C, H·W): one contiguous copy per tap, with
    ``masks = column_masks(W, Ho, kw, left, dw)`` zeroing the columns that fall off the image
    (they would read the end or the start of the neighbouring image row)."""
    N, C, HW = x.shape
    P = Ho * W
    K = C * kh * kw
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        xs = x[n, c]
        for i in range(kh):
            for j in range(kw):
                row, base = _row(cols, n, (c * kh + i) * kw + j, K, P, per_sample)
                mask = masks[j]
                d, a, b = _tap_span(i, j, H, W, Ho, top, left, dh, dw, HW)
                for k in range(uint64(a)):
                    row[base + k] = 0
                src, dst, m = uint64(max(a + d, 0)), base + uint64(a), uint64(a)  # (b > a: a+d ≥ 0)
                for k in range(uint64(b - a)):
                    row[dst + k] = xs[src + k] if mask[m + k] else 0
                for k in range(uint64(b), uint64(P)):
                    row[base + k] = 0


@njit(parallel=True, cache=True)
def col2im_shift(cols, dx, H, W, kh, kw, top, left, dh, dw, Ho, masks, per_sample):
    """``col2im`` for stride 1 and Wo = W, dx (N, C, H·W): one contiguous add per tap
    (``masks`` as in ``im2col_shift``: off-image columns add nothing)."""
    N, C, HW = dx.shape
    P = Ho * W
    K = C * kh * kw
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        out = dx[n, c]
        out[:] = 0
        for i in range(kh):
            for j in range(kw):
                row, base = _row(cols, n, (c * kh + i) * kw + j, K, P, per_sample)
                mask = masks[j]
                d, a, b = _tap_span(i, j, H, W, Ho, top, left, dh, dw, HW)
                src, dst, m = base + uint64(a), uint64(max(a + d, 0)), uint64(a)
                for k in range(uint64(b - a)):
                    out[dst + k] += row[src + k] if mask[m + k] else 0
