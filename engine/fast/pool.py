"""max_pool2d and avg_pool2d over NCHW tensors, with PyTorch's semantics.

``kernel``, ``stride`` (default: the kernel) and ``padding`` are ints or (h, w) pairs;
padding is at most half the kernel (so no window lies entirely in padding). Output size per
spatial dim, PyTorch's rule::

    out = (size + 2·pad − kernel) // stride + 1                       (floor, the default)
    out = ceil((size + 2·pad − kernel) / stride) + 1                   (ceil_mode=True)
          minus 1 if that last window would start past the input and the left padding

``ceil_mode`` keeps the partial window at the bottom/right edge: Keras' 'same' pooling with
pool 2 and stride 2 (7 → 4) is ``max_pool2d(x, 2, ceil_mode=True)``.

Max pooling keeps the argmax of every window; its backward sends dy there. Average pooling
divides by the window size counting the padding (``count_include_pad=True``, PyTorch's
default), but never the part of a ceil-mode window hanging past the padding.
"""
from __future__ import annotations

import numpy as np

from ..ops.base import Op
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, distinct, normal, register
from .conv import check_4d, pair
from .kernels import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward
from .memory import keep_freed_memory


def pool_output_size(size, k, s, pad, ceil_mode):
    """PyTorch's ``pooling_output_shape`` (dilation 1)."""
    out = (size + 2 * pad - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + pad:
        out -= 1  # the last window must start inside the input or the left padding
    return out


class PoolGeometry:
    """Validated sizes of one pooling call."""

    def __init__(self, op, x_shape, kernel, stride, padding, ceil_mode):
        N, C, H, W = x_shape
        self.kh, self.kw = pair(kernel, "kernel", op, 1)
        self.sh, self.sw = pair(kernel if stride is None else stride, "stride", op, 1)
        self.ph, self.pw = pair(padding, "padding", op, 0)
        if 2 * self.ph > self.kh or 2 * self.pw > self.kw:
            raise ValueError(f"{op}: padding {(self.ph, self.pw)} must be at most half the "
                             f"kernel {(self.kh, self.kw)} (input {x_shape})")
        if self.kh > H + 2 * self.ph or self.kw > W + 2 * self.pw:
            raise ValueError(f"{op}: kernel {self.kh}x{self.kw} is larger than the padded input "
                             f"{H + 2 * self.ph}x{W + 2 * self.pw} (input {x_shape}, padding "
                             f"{(self.ph, self.pw)})")
        self.Ho = pool_output_size(H, self.kh, self.sh, self.ph, ceil_mode)
        self.Wo = pool_output_size(W, self.kw, self.sw, self.pw, ceil_mode)
        self.N, self.C, self.H, self.W = N, C, H, W

    def args(self):
        return self.kh, self.kw, self.sh, self.sw, self.ph, self.pw

    def params(self):
        return (f"kernel {(self.kh, self.kw)}, stride {(self.sh, self.sw)}, "
                f"padding {(self.ph, self.pw)}")


class MaxPool2d(Op):
    name = "max_pool2d"
    twice = False
    formula = "dx = dy at each window's argmax, 0 elsewhere (overlaps add up)"

    def forward(self, x, *, kernel, stride=None, padding=0, ceil_mode=False):
        check_4d("max_pool2d", x)
        geo = self.geo = PoolGeometry("max_pool2d", x.shape, kernel, stride, padding, ceil_mode)
        out = np.empty((geo.N, geo.C, geo.Ho, geo.Wo), x.dtype)
        idx = np.empty(out.shape, np.int32)  # flat h·W + w in the plane: int32 halves traffic
        max_pool_forward(np.ascontiguousarray(x), out, idx, *geo.args())
        self.save(idx)
        return out

    def backward(self, g, *inputs, out):
        (idx,) = self.saved
        geo = self.geo
        dx = np.empty((geo.N, geo.C, geo.H * geo.W), g.dtype)
        max_pool_backward(np.ascontiguousarray(g), idx, dx)
        return (dx.reshape(geo.N, geo.C, geo.H, geo.W),)

    def describe(self):
        return f"{(self.geo.N, self.geo.C, self.geo.H, self.geo.W)} → {self.geo.params()}"


class AvgPool2d(Op):
    name = "avg_pool2d"
    twice = False
    formula = "dx = dy / window size, spread over each window (overlaps add up)"

    def forward(self, x, *, kernel, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True):
        check_4d("avg_pool2d", x)
        geo = self.geo = PoolGeometry("avg_pool2d", x.shape, kernel, stride, padding, ceil_mode)
        self.include_pad = bool(count_include_pad)
        out = np.empty((geo.N, geo.C, geo.Ho, geo.Wo), x.dtype)
        avg_pool_forward(np.ascontiguousarray(x), out, *geo.args(), self.include_pad)
        return out

    def backward(self, g, *inputs, out):
        geo = self.geo
        dx = np.empty((geo.N, geo.C, geo.H, geo.W), g.dtype)
        avg_pool_backward(np.ascontiguousarray(g), dx, *geo.args(), self.include_pad)
        return (dx,)

    def describe(self):
        return f"{(self.geo.N, self.geo.C, self.geo.H, self.geo.W)} → {self.geo.params()}"


def max_pool2d(x, kernel, stride=None, padding=0, ceil_mode=False):
    """Max over (kh, kw) windows of NCHW ``x``; stride defaults to the kernel.

    >>> import numpy as np, engine
    >>> from engine.fast.pool import max_pool2d
    >>> x = engine.tensor(np.arange(49.0).reshape(1, 1, 7, 7), requires_grad=True)
    >>> max_pool2d(x, 2).shape, max_pool2d(x, 2, ceil_mode=True).shape   # Keras 'same': 7 → 4
    ((1, 1, 3, 3), (1, 1, 4, 4))
    >>> max_pool2d(x, 3, stride=2).data[0, 0]
    array([[16., 18., 20.],
           [30., 32., 34.],
           [44., 46., 48.]], dtype=float32)
    """
    keep_freed_memory()  # from the first pool on (memory.py)
    return MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)


def avg_pool2d(x, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over (kh, kw) windows of NCHW ``x``; padding counts in the mean by default.

    >>> import engine
    >>> from engine.fast.pool import avg_pool2d
    >>> x = engine.ones(1, 1, 2, 2)
    >>> avg_pool2d(x, 2, stride=1, padding=1).data[0, 0]     # corners: 1 input cell of 4
    array([[0.25, 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 0.25]], dtype=float32)
    """
    keep_freed_memory()
    return AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=padding,
                           ceil_mode=ceil_mode, count_include_pad=count_include_pad)


# ----------------------------------------------------------------------------- references
def _windows(x, geo, fill):
    """x padded with ``fill`` (plus room for ceil-mode edge windows) and a window getter."""
    extra_h = max(0, (geo.Ho - 1) * geo.sh + geo.kh - (geo.H + 2 * geo.ph))
    extra_w = max(0, (geo.Wo - 1) * geo.sw + geo.kw - (geo.W + 2 * geo.pw))
    xp = np.pad(x, ((0, 0), (0, 0), (geo.ph, geo.ph + extra_h), (geo.pw, geo.pw + extra_w)),
                constant_values=fill)
    return xp, lambda a, oh, ow: a[..., oh * geo.sh:oh * geo.sh + geo.kh,
                                   ow * geo.sw:ow * geo.sw + geo.kw]


def max_pool2d_reference(x, kernel, stride=None, padding=0, ceil_mode=False):
    """The definition, one window at a time (slow; for tests and the op registry)."""
    geo = PoolGeometry("max_pool2d", x.shape, kernel, stride, padding, ceil_mode)
    xp, win = _windows(x, geo, -np.inf)
    out = np.empty((geo.N, geo.C, geo.Ho, geo.Wo), x.dtype)
    for oh in range(geo.Ho):
        for ow in range(geo.Wo):
            out[:, :, oh, ow] = win(xp, oh, ow).max(axis=(2, 3))
    return out


def avg_pool2d_reference(x, kernel, stride=None, padding=0, ceil_mode=False,
                         count_include_pad=True):
    """Window sums over a zero-padded x, divided by the count of cells that count."""
    geo = PoolGeometry("avg_pool2d", x.shape, kernel, stride, padding, ceil_mode)
    xp, win = _windows(x, geo, 0.0)
    # 1 where a cell counts: the input only, or the input and its padding.
    counts = np.pad(np.ones((geo.H, geo.W)), ((geo.ph, geo.ph), (geo.pw, geo.pw)),
                    constant_values=1.0 if count_include_pad else 0.0)
    counts = np.pad(counts, ((0, xp.shape[2] - counts.shape[0]),
                             (0, xp.shape[3] - counts.shape[1])))
    out = np.empty((geo.N, geo.C, geo.Ho, geo.Wo), x.dtype)
    for oh in range(geo.Ho):
        for ow in range(geo.Wo):
            out[:, :, oh, ow] = win(xp, oh, ow).sum(axis=(2, 3)) / win(counts, oh, ow).sum()
    return out


# ----------------------------------------------------------------------------- registry
def _pool_shapes(rng):
    n, c = (int(v) for v in rng.integers(1, 3, size=2))
    return ((n, c) + tuple(int(v) for v in rng.integers(1, 8, size=2)),)


def _pool_params(rng, shapes):
    _, _, h, w = shapes[0]
    kernel = tuple(int(rng.integers(1, min(size, 3) + 1)) for size in (h, w))
    stride = None if rng.random() < 0.3 else tuple(int(v) for v in rng.integers(1, 4, size=2))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    return {"kernel": kernel, "stride": stride, "padding": padding,
            "ceil_mode": bool(rng.random() < 0.5)}


def _avg_params(rng, shapes):
    return dict(_pool_params(rng, shapes), count_include_pad=bool(rng.random() < 0.5))


register(OpSpec(
    "max_pool2d", lambda x, **p: max_pool2d(x, **p), max_pool2d_reference,
    shapes=_pool_shapes, params=_pool_params, values=(distinct,), ops=("max_pool2d",),
    twice=False,
    errors=(
        ErrorCase(lambda: max_pool2d(T(3, 8, 8), 2), ValueError,
                  r"max_pool2d: expected a 4-D input .*\(3, 8, 8\)"),
        ErrorCase(lambda: max_pool2d(T(1, 1, 2, 2), 3), ValueError,
                  r"max_pool2d: kernel 3x3 is larger than the padded input 2x2 .*\(1, 1, 2, 2\)"),
        ErrorCase(lambda: max_pool2d(T(1, 1, 8, 8), 2, padding=2), ValueError,
                  r"max_pool2d: padding \(2, 2\) must be at most half the kernel"),
    )))
register(OpSpec(
    "avg_pool2d", lambda x, **p: avg_pool2d(x, **p), avg_pool2d_reference,
    shapes=_pool_shapes, params=_avg_params, values=(normal,), ops=("avg_pool2d",),
    twice=False,
    errors=(
        ErrorCase(lambda: avg_pool2d(T(1, 1, 4, 4), (2, 0)), ValueError,
                  r"avg_pool2d: kernel must be an int ≥ 1 or a pair of them, got \(2, 0\)"),
    )))
