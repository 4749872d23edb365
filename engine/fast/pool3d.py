"""Pooling over (N, C, D, H, W) volumes, PyTorch's ``F.max_pool3d``, ``F.avg_pool3d``,
``F.adaptive_avg_pool3d``, ``F.adaptive_max_pool3d`` and ``F.max_unpool3d``, with the 2-D
pools' semantics (``engine/fast/pool.py``: output sizes, ``ceil_mode``, ``dilation``,
``count_include_pad``, ``divisor_override``, adaptive windows); unbatched (C, D, H, W)
input runs as a batch of one.

Vectorized numpy, no Numba kernel (yet): a loop over the window's kd·kh·kw taps, each tap
one strided slice of the padded input covering every output cell at once (as conv3d's,
``engine/fast/conv3d.py``). Max pooling keeps, per output cell, the running maximum and
where it came from (the flat position d·H·W + h·W + w in its (D, H, W) volume: PyTorch's
indices); a tap replaces it when strictly larger, or NaN (PyTorch's rule: ties keep the
first tap in C order, NaN propagates). Its backward adds dy at those positions.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops.base import Op
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, distinct, normal, register
from .conv import batch_of_one, check_nd
from .pool import (
    MaxUnpool2d,
    PoolGeometry,
    _adaptive_params,
    _avg_divisor_params,
    _pool_params,
    _pool_shapes,
    _tensor,
    _unpool_params,
    _window,
    adaptive_avg_pool_reference,
    adaptive_max_pool_reference,
    adaptive_windows,
    avg_pool_reference,
    check_divisor_override,
    max_pool_reference,
    max_unpool,
    max_unpool_reference,
)

LAYOUT = "(N, C, D, H, W)"


class TapWindows(PoolGeometry):
    """A pool's validated geometry (``PoolGeometry``) plus what the vectorized 3-D pools
    need: the padded input and its kernel taps, each tap one strided slice of it covering
    every output cell at once."""

    def after(self):
        """Padding after each spatial dim: as far as the last window reaches past the input
        (less than ``padding`` if it stops short, more for a ceil-mode window hanging past)."""
        return tuple(max(0, (o - 1) * s + d * (k - 1) + 1 - p - m) for o, s, d, k, p, m in
                     zip(self.out, self.stride, self.dilation, self.kernel, self.padding,
                         self.sizes, strict=True))

    def first(self):
        """Per dim, the first input cell each window reads (PyTorch's ``while (start < 0)
        start += dilation``; PoolGeometry refused windows of padding only)."""
        cells = []
        for s, p, d, o in zip(self.stride, self.padding, self.dilation, self.out, strict=True):
            start = np.arange(o) * s - p
            cells.append(start + (np.maximum(0, -start) + d - 1) // d * d)
        return cells

    def pad(self, x, fill):
        """x padded with ``fill``: ``padding`` before each spatial dim, ``after()`` after."""
        lead = ((0, 0),) * (x.ndim - len(self.sizes))
        return np.pad(x, lead + tuple(zip(self.padding, self.after(), strict=True)),
                      constant_values=fill)

    def padded_shape(self, lead):
        return lead + tuple(m + p + a for m, p, a in zip(self.sizes, self.padding,
                                                         self.after(), strict=True))

    def crop(self, a):
        return a[(...,) + tuple(slice(p, p + m) for p, m in zip(self.padding, self.sizes,
                                                                  strict=True))]

    def taps(self):
        """(slice, position) per window tap in C order: the tap's strided slice of the padded
        input (every output cell at once) and, per dim, the input positions it reads."""
        for tap in np.ndindex(*self.kernel):
            sl = tuple(slice(t * d, t * d + s * (o - 1) + 1, s) for t, d, s, o in
                       zip(tap, self.dilation, self.stride, self.out, strict=True))
            pos = [np.arange(o) * s - p + t * d for t, d, s, p, o in
                   zip(tap, self.dilation, self.stride, self.padding, self.out, strict=True)]
            yield (...,) + sl, pos

    def flat(self, pos):
        """Per-dim positions (one array per dim) → flat positions in the volume, shaped
        as the output (broadcast over the dims)."""
        return np.ravel_multi_index(np.ix_(*pos), self.sizes, mode="clip")


def scatter_at(g, idx, x_shape):
    """dx of a max pool: dy (N, C, *out) added at the flat positions ``idx`` (the same
    shape) of each (n, c) volume; windows that share a winner add up."""
    N, C = x_shape[:2]
    size = math.prod(x_shape[2:])
    where = (idx.reshape(N * C, -1) + np.arange(N * C)[:, None] * size).ravel()
    dx = np.bincount(where, weights=g.reshape(-1).astype(np.float64), minlength=N * C * size)
    return dx.astype(g.dtype, copy=False).reshape(x_shape)


class _ArgmaxPool(Op):
    """What the two 3-D max pools share: each saves its windows' flat argmax positions
    (``keep_indices``, which also hands them to a ``return_indices`` caller) and sends dy
    there (``scatter_at``)."""
    twice = False

    def keep_indices(self, idx, index_sink):
        self.save(idx)
        if index_sink is not None:
            index_sink.append(idx)

    def backward(self, g, x, out):
        return scatter_at(g, self.saved[0], x.shape)


class MaxPool3d(_ArgmaxPool):
    name = "max_pool3d"
    formula = "dx = dy at each window's argmax, 0 elsewhere (overlaps add up)"

    def forward(self, x, *, kernel, stride=None, padding=0, dilation=1, ceil_mode=False,
                index_sink=None):
        check_nd(self.name, x, 5, layout=LAYOUT)
        win = self.win = TapWindows(self.name, x.shape, kernel, stride, padding, ceil_mode,
                                    dilation)
        xp_ = win.pad(x, -np.inf)
        out = np.full(x.shape[:2] + win.out, -np.inf, x.dtype)
        # Until a tap wins, the index is the window's first input cell (PyTorch's), so that
        # an all −inf window points inside the input too.
        idx = np.broadcast_to(win.flat(win.first()), out.shape).copy()
        for sl, pos in win.taps():
            v = xp_[sl]
            take = (v > out) | np.isnan(v)
            np.copyto(out, v, where=take)
            np.copyto(idx, np.broadcast_to(win.flat(pos), out.shape), where=take)
        self.keep_indices(idx, index_sink)
        return out

    def describe(self):
        return f"{self.win.sizes} → {self.win.out}, {self.win.params()}"


class AvgPool3d(Op):
    name = "avg_pool3d"
    twice = False
    formula = ("dx = dy / window size (or divisor_override), spread over each window "
               "(overlaps add up)")

    def forward(self, x, *, kernel, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True, divisor_override=None):
        check_nd(self.name, x, 5, layout=LAYOUT)
        win = self.win = TapWindows(self.name, x.shape, kernel, stride, padding, ceil_mode)
        if any(m < k for m, k in zip(win.sizes, win.kernel, strict=True)):
            # PyTorch's avg_pool3d (not its max_pool3d, nor avg_pool2d) refuses this
            raise ValueError(f"{self.name}: input {x.shape} is smaller than the kernel "
                             f"{win.kernel} in a spatial dim, which PyTorch's avg_pool3d refuses "
                             f"even with padding: use a smaller kernel")
        divisor = check_divisor_override(self.name, divisor_override)
        self.divisor = divisor if divisor is not None else self._counts(count_include_pad)
        xp_ = win.pad(x, 0.0)
        total = np.zeros(x.shape[:2] + win.out, x.dtype)
        for sl, _ in win.taps():
            total += xp_[sl]
        return (total / self.divisor).astype(x.dtype, copy=False)

    def _counts(self, count_include_pad):
        """Each window's divisor, PyTorch's rule, as a product of one count per dim: the
        window clipped to the padded input (a ceil-mode window hanging past the padding
        counts only up to it), and to the input itself without ``count_include_pad``."""
        win = self.win
        counts = np.ones(win.out)
        for axis, (m, k, s, p, o) in enumerate(zip(win.sizes, win.kernel, win.stride,
                                                   win.padding, win.out, strict=True)):
            start = np.arange(o) * s - p
            end = np.minimum(start + k, m + p)
            n = end - start if count_include_pad else \
                np.minimum(end, m) - np.maximum(start, 0)
            counts = counts * n.reshape((-1,) + (1,) * (len(win.out) - 1 - axis))
        return counts

    def backward(self, g, x, out):
        win = self.win
        share = g / self.divisor
        dxp = np.zeros(win.padded_shape(x.shape[:2]), g.dtype)
        for sl, _ in win.taps():
            dxp[sl] += share
        return np.ascontiguousarray(win.crop(dxp))

    def describe(self):
        extra = f", divisor_override {self.divisor}" if np.ndim(self.divisor) == 0 else ""
        return f"{self.win.sizes} → {self.win.out}, {self.win.params()}{extra}"


def max_pool3d(x, kernel_size=None, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, kernel=None):
    """Max over (kd, kh, kw) windows of ``x`` (N, C, D, H, W), or unbatched (C, D, H, W)
    (PyTorch's ``F.max_pool3d``); stride defaults to the kernel; ``dilation`` spaces the
    taps. ``return_indices=True`` returns ``(out, indices)``: int64, the flat position
    d·H·W + h·W + w of each maximum in its (D, H, W) volume (``max_unpool3d`` takes them).

    >>> import numpy as np, engine
    >>> from engine.fast.pool3d import max_pool3d
    >>> x = engine.tensor(np.arange(27.0).reshape(1, 1, 3, 3, 3))
    >>> out, idx = max_pool3d(x, 2, stride=1, return_indices=True)
    >>> out.data[0, 0, 0], idx.data[0, 0, 1]
    (array([[13., 14.],
           [16., 17.]], dtype=float32), array([[22, 23],
           [25, 26]]))
    """
    kernel = _window("max_pool3d", kernel_size, kernel)

    def run(x):
        sink = [] if return_indices else None
        out = MaxPool3d.apply(x, kernel=kernel, stride=stride, padding=padding,
                              dilation=dilation, ceil_mode=ceil_mode, index_sink=sink)
        return (out, _tensor(sink[0].astype(np.int64))) if return_indices else out

    return batch_of_one("max_pool3d", x, LAYOUT, run)


def avg_pool3d(x, kernel_size=None, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, *, kernel=None):
    """Mean over (kd, kh, kw) windows of ``x`` (N, C, D, H, W), or unbatched (C, D, H, W)
    (PyTorch's ``F.avg_pool3d``): padded zeros count in the mean unless
    ``count_include_pad=False``; ``divisor_override`` d (a nonzero int) divides every
    window's sum by d instead.

    >>> import engine
    >>> from engine.fast.pool3d import avg_pool3d
    >>> x = engine.ones(1, 1, 1, 2, 2)
    >>> avg_pool3d(x, (1, 2, 2), stride=1, padding=(0, 1, 1)).data[0, 0, 0]
    array([[0.25, 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 0.25]], dtype=float32)
    """
    kernel = _window("avg_pool3d", kernel_size, kernel)
    return batch_of_one("avg_pool3d", x, LAYOUT, lambda x: AvgPool3d.apply(
        x, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
        count_include_pad=count_include_pad, divisor_override=divisor_override))


# ----------------------------------------------------------------------------- adaptive
class AdaptiveAvgPool3d(Op):
    """A window's mean is the mean over D of the means over H of the means over W (each
    window is a box): three (out × size) averaging matrices, one per dim, applied in turn;
    the backward applies their transposes."""

    name = "adaptive_avg_pool3d"
    twice = False
    formula = "dx = dy / window size, spread over each (adaptive) window"

    def forward(self, x, *, output_size):
        self.out, windows = adaptive_windows(self.name, x, output_size, LAYOUT)
        self.mats = []
        for (starts, ends), m in zip(windows, x.shape[2:], strict=True):
            cells = np.arange(m)
            inside = (cells >= starts[:, None]) & (cells < ends[:, None])
            self.mats.append((inside / (ends - starts)[:, None]).astype(x.dtype))
        return self._apply(x, self.mats)

    @staticmethod
    def _apply(a, mats):
        for axis, m in enumerate(mats, start=2):
            a = np.moveaxis(np.tensordot(a, m, axes=([axis], [1])), -1, axis)
        return np.ascontiguousarray(a)

    def backward(self, g, x, out):
        return self._apply(g, [m.T for m in self.mats])

    def describe(self):
        return f"{tuple(m.shape[1] for m in self.mats)} → {self.out}"


class AdaptiveMaxPool3d(_ArgmaxPool):
    name = "adaptive_max_pool3d"
    formula = "dx = dy at each (adaptive) window's argmax, 0 elsewhere"

    def forward(self, x, *, output_size, index_sink=None):
        self.out, windows = adaptive_windows(self.name, x, output_size, LAYOUT)
        N, C, *sizes = x.shape
        out = np.empty((N, C) + self.out, x.dtype)
        idx = np.empty(out.shape, np.int64)
        for o in np.ndindex(*self.out):
            box = tuple(slice(w[0][i], w[1][i]) for w, i in zip(windows, o, strict=True))
            win = x[(slice(None), slice(None)) + box]
            flat = win.reshape(N, C, -1)
            nan = np.isnan(flat)
            # the first maximum, or the last NaN (PyTorch's `val > max || isnan(val)`)
            at = np.where(nan.any(-1), flat.shape[-1] - 1 - np.argmax(nan[..., ::-1], -1),
                          np.argmax(flat, -1))
            local = np.unravel_index(at, win.shape[2:])
            idx[(...,) + o] = np.ravel_multi_index(
                tuple(loc + b.start for loc, b in zip(local, box, strict=True)), sizes)
            out[(...,) + o] = np.take_along_axis(flat, at[..., None], -1)[..., 0]
        self.keep_indices(idx, index_sink)
        return out

    def describe(self):
        return f"→ {self.out}"


def adaptive_avg_pool3d(x, output_size):
    """Average pooling of ``x`` (N, C, D, H, W), or unbatched (C, D, H, W), to
    ``output_size`` (an int, a triple, None in it for "as the input"), PyTorch's
    ``F.adaptive_avg_pool3d``: window i along a dim of size m covers floor(i·m/o) …
    ceil((i+1)·m/o) − 1. ``adaptive_avg_pool3d(x, 1)`` is global average pooling.

    >>> import numpy as np, engine
    >>> from engine.fast.pool3d import adaptive_avg_pool3d
    >>> x = engine.tensor(np.arange(5.0).reshape(1, 1, 1, 1, 5))
    >>> adaptive_avg_pool3d(x, (1, 1, 3)).data      # windows [0, 1], [1, 2, 3], [3, 4]
    array([[[[[0.5, 2. , 3.5]]]]], dtype=float32)
    """
    return batch_of_one("adaptive_avg_pool3d", x, LAYOUT,
                        lambda x: AdaptiveAvgPool3d.apply(x, output_size=output_size))


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """Max pooling of ``x`` (N, C, D, H, W), or unbatched (C, D, H, W), to ``output_size``
    (windows as ``adaptive_avg_pool3d``), PyTorch's ``F.adaptive_max_pool3d``;
    ``return_indices=True`` returns ``(out, indices)`` as ``max_pool3d``.

    >>> import numpy as np, engine
    >>> from engine.fast.pool3d import adaptive_max_pool3d
    >>> x = engine.tensor(np.arange(8.0).reshape(1, 1, 2, 2, 2))
    >>> adaptive_max_pool3d(x, 1, return_indices=True)[1].data.ravel()
    array([7])
    """
    def run(x):
        sink = [] if return_indices else None
        out = AdaptiveMaxPool3d.apply(x, output_size=output_size, index_sink=sink)
        return (out, _tensor(sink[0])) if return_indices else out

    return batch_of_one("adaptive_max_pool3d", x, LAYOUT, run)


# ----------------------------------------------------------------------------- unpooling
class MaxUnpool3d(MaxUnpool2d):
    """max_pool3d's partial inverse: each value goes back to its flat position d·H·W + h·W
    + w (``indices``) in zeros of the output volume (MaxUnpool2d's scatter, in 3-D)."""

    name = "max_unpool3d"
    layout, cells = LAYOUT, "volumes"


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value of ``x`` (N, C, D, H, W) back at ``indices`` (from ``max_pool3d(...,
    return_indices=True)``, the same shape) in zeros of (N, C, Do, Ho, Wo), ``Do = (D − 1)·
    stride − 2·padding + kernel_size`` (or ``output_size``: (Do, Ho, Wo) or the whole shape);
    unbatched (C, D, H, W) too. PyTorch's ``F.max_unpool3d``.

    >>> import numpy as np, engine
    >>> from engine.fast.pool3d import max_pool3d, max_unpool3d
    >>> x = engine.tensor(np.arange(8.0).reshape(1, 1, 2, 2, 2))
    >>> y, idx = max_pool3d(x, 2, return_indices=True)
    >>> max_unpool3d(y, idx, 2).data.ravel()
    array([0., 0., 0., 0., 0., 0., 0., 7.], dtype=float32)
    """
    return max_unpool(MaxUnpool3d, x, indices, kernel_size, stride, padding, output_size)


# ----------------------------------------------------------------------------- registry
# (references, parameter and shape generators: pool.py's, for any number of dims)
def _volumes(rng):
    return _pool_shapes(rng, 3, 5)


register(OpSpec(
    "max_pool3d", lambda x, **p: max_pool3d(x, **p), max_pool_reference,
    shapes=_volumes, params=lambda rng, shapes: _pool_params(rng, shapes, True),
    values=(distinct,), ops=("max_pool3d",), twice=False,
    errors=(
        ErrorCase(lambda: max_pool3d(T(8, 8, 8), 2), ValueError,
                  r"max_pool3d: expected a 4-D \(unbatched\) \(C, D, H, W\) or 5-D \(batched\) "
                  r"\(N, C, D, H, W\) input, got shape \(8, 8, 8\)"),
        ErrorCase(lambda: max_pool3d(T(1, 1, 2, 4, 4), 3), ValueError,
                  r"max_pool3d: kernel 3x3x3 is larger than the padded input 2x4x4 \(input "
                  r"\(1, 1, 2, 4, 4\), padding \(0, 0, 0\)\)"),
        ErrorCase(lambda: max_pool3d(T(1, 1, 8, 8, 8), 2, padding=(0, 2, 0)), ValueError,
                  r"max_pool3d: padding \(0, 2, 0\) must be at most half the kernel "
                  r"\(2, 2, 2\)"),
        ErrorCase(lambda: max_pool3d(T(1, 1, 2, 2, 2), 2, padding=1, dilation=3), ValueError,
                  r"max_pool3d: window 0 along a dim of size 2 reads only padding"),
        ErrorCase(lambda: max_pool3d(T(1, 1, 4, 4, 4), (2, 2)), ValueError,
                  r"max_pool3d: kernel_size must be an int ≥ 1 or a sequence of 3, "
                  r"got \(2, 2\)"),
    )))
register(OpSpec(
    "avg_pool3d", lambda x, **p: avg_pool3d(x, **p), avg_pool_reference,
    shapes=_volumes, params=_avg_divisor_params, values=(normal,), ops=("avg_pool3d",),
    twice=False,
    errors=(
        ErrorCase(lambda: avg_pool3d(T(1, 1, 4, 4, 4), 2, divisor_override=0), ValueError,
                  r"avg_pool3d: divisor_override must not be zero"),
        ErrorCase(lambda: avg_pool3d(T(1, 1, 4, 4, 4), 2, divisor_override=2.0), TypeError,
                  r"avg_pool3d: divisor_override must be an int or None, got 2.0 \(float\)"),
        ErrorCase(lambda: avg_pool3d(T(1, 1, 4, 4, 4)), TypeError,
                  r"avg_pool3d: give the window size once"),
    )))
register(OpSpec(
    "adaptive_avg_pool3d", lambda x, **p: adaptive_avg_pool3d(x, **p),
    adaptive_avg_pool_reference, shapes=_volumes, params=_adaptive_params,
    values=(normal,), ops=("adaptive_avg_pool3d",), twice=False,
    errors=(
        ErrorCase(lambda: adaptive_avg_pool3d(T(1, 2, 5, 5), (2, 2)), ValueError,
                  r"adaptive_avg_pool3d: output_size must be an int ≥ 0 or a 3-tuple"),
        ErrorCase(lambda: adaptive_avg_pool3d(T(1, 2, 0, 5, 5), 2), ValueError,
                  r"adaptive_avg_pool3d: the input \(1, 2, 0, 5, 5\) has an empty spatial"),
    )))
register(OpSpec(
    "adaptive_max_pool3d", lambda x, **p: adaptive_max_pool3d(x, **p),
    adaptive_max_pool_reference, shapes=_volumes, params=_adaptive_params,
    values=(distinct,), ops=("adaptive_max_pool3d",), twice=False,
    errors=(
        ErrorCase(lambda: adaptive_max_pool3d(T(2, 5, 5), 1), ValueError,
                  r"adaptive_max_pool3d: expected a 4-D \(unbatched\) \(C, D, H, W\) or 5-D"),
    )))
register(OpSpec(
    "max_unpool3d", lambda x, indices, output_size: MaxUnpool3d.apply(
        x, indices=indices, output_size=output_size),
    max_unpool_reference, shapes=lambda rng: _pool_shapes(rng, 3, 2),
    params=_unpool_params, values=(normal,), ops=("max_unpool3d",),
    errors=(
        ErrorCase(lambda: max_unpool3d(T(1, 1, 1, 1, 2), np.array([[[[[0, 99]]]]]), 2),
                  ValueError, r"max_unpool3d: found an invalid max index 99 \(output volumes "
                              r"are 2x2x4"),
        ErrorCase(lambda: max_unpool3d(T(1, 1, 2, 2, 2), np.zeros((1, 1, 2, 2), int), 2),
                  ValueError, r"max_unpool3d: indices of shape \(1, 1, 2, 2\) do not match "
                              r"the input \(1, 1, 2, 2, 2\)"),
    )))
