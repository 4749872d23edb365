"""Pooling over NCHW tensors, with PyTorch's semantics: max_pool2d, avg_pool2d, their 1-D
forms over (N, C, L), max_unpool2d, and the adaptive pools. Each also takes PyTorch's
unbatched input, (C, H, W) or (C, L), as a batch of one (``conv.batch_of_one``).

``kernel_size`` (``kernel=`` works too), ``stride`` (default: the kernel), ``padding`` and,
for max pooling, ``dilation`` are ints or (h, w) pairs; padding is at most half the kernel.
Output size per spatial dim, PyTorch's rule, with the dilated extent e = d·(k − 1) + 1::

    out = (size + 2·pad − e) // stride + 1                            (floor, the default)
    out = ceil((size + 2·pad − e) / stride) + 1                        (ceil_mode=True)
          minus 1 if that last window would start past the input and the left padding

``ceil_mode`` keeps the partial window at the bottom/right edge: Keras' 'same' pooling with
pool 2 and stride 2 (7 → 4) is ``max_pool2d(x, 2, ceil_mode=True)``.

Max pooling keeps the argmax of every window (``return_indices=True`` returns it, the flat
position h·W + w in each plane, for ``max_unpool2d``); its backward sends dy there. Average
pooling divides by the window size counting the padding (``count_include_pad=True``,
PyTorch's default), but never the part of a ceil-mode window hanging past the padding;
2-D average pooling's ``divisor_override`` d (PyTorch's) divides every window's sum by d
instead, whatever the window covers.

Adaptive pooling fixes the output size instead: output row i pools input rows
``floor(i·H/Ho) … ceil((i + 1)·H/Ho) − 1`` (columns alike), so windows may differ in size
and overlap by a row. ``adaptive_avg_pool2d(x, 1)`` is global average pooling.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops import xp
from ..ops.base import Op
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, distinct, normal, register
from .conv import batch_of_one, check_4d, check_nd, ntuple
from .kernels import (
    adaptive_avg_backward,
    adaptive_avg_forward,
    adaptive_max_forward,
    avg_pool_backward,
    avg_pool_forward,
    max_pool_2x2_backward,
    max_pool_2x2_forward,
    max_pool_backward,
    max_pool_forward,
)
from .memory import keep_freed_memory


def pool_output_size(size, k, s, pad, ceil_mode, dilation=1):
    """PyTorch's ``pooling_output_shape``."""
    out = (size + 2 * pad - dilation * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + pad:
        out -= 1  # the last window must start inside the input or the left padding
    return out


class PoolGeometry:
    """Validated sizes of one pooling call over the n = 1, 2 or 3 spatial dims of
    ``x_shape`` (N, C, *sizes): ``kernel``, ``stride`` (None: the kernel), ``padding`` and
    ``dilation`` (ints or n-tuples) kept as n-tuples, and ``out`` the output sizes
    (``pool_output_size``). Error messages show a parameter as a 1-D caller writes it (one
    number) or as a tuple. The 2-D kernels run a 1-D pool as the 2-D one over (N, C, 1, L)
    with a 1 × k window (``plane``)."""

    def __init__(self, op, x_shape, kernel, stride, padding, ceil_mode, dilation=1):
        n = len(x_shape) - 2
        self.op, self.x_shape, self.sizes = op, x_shape, tuple(x_shape[2:])
        k = self.kernel = ntuple(kernel, n, "kernel_size", op, 1)
        s = self.stride = k if stride is None else ntuple(stride, n, "stride", op, 1)
        p = self.padding = ntuple(padding, n, "padding", op, 0)
        d = self.dilation = ntuple(dilation, n, "dilation", op, 1)
        # Plain loops (the 2-D pools build this on every call). Each check covers every dim
        # before the next runs: a padding error in any dim wins over a size error.
        extent, padded, out = [], [], []
        for m, kk, pp, dd in zip(self.sizes, k, p, d, strict=True):
            if 2 * pp > kk:
                raise ValueError(f"{op}: padding {self.show(p)} must be at most half the "
                                 f"kernel {self.show(k)} (input {x_shape})")
            extent.append(dd * (kk - 1) + 1)
            padded.append(m + 2 * pp)
        for m, kk, ss, pp, dd, e, mp in zip(self.sizes, k, s, p, d, extent, padded,
                                            strict=True):
            o = pool_output_size(m, kk, ss, pp, ceil_mode, dd)
            # ceil_mode keeps one window reaching past the end (PyTorch's; Keras's 'same'
            # pool of a 1-cell map), so a larger kernel is refused only where none fits.
            if e > mp and o < 1:
                dil = ("" if set(d) == {1} else
                       f" (dilation {_size(d)}, extent {_size(extent)})")
                raise ValueError(f"{op}: kernel {_size(k)}{dil} is larger than the padded "
                                 f"input {_size(padded)} (input {x_shape}, padding "
                                 f"{self.show(p)})")
            out.append(o)
        self.out = tuple(out)
        # A dilated window can step over the whole input from the padding (PyTorch then
        # returns -inf and an index outside the plane): refused. Only the windows starting in
        # the left padding can (pool_output_size starts the last one inside the input).
        for m, kk, ss, pp, dd, o in zip(self.sizes, k, s, p, d, out, strict=True):
            for i in range(min(o, -(-pp // ss))):
                start = i * ss - pp
                if start + (dd - 1 - start) // dd * dd >= m:  # the first input cell it reads
                    raise ValueError(f"{op}: window {i} along a dim of size {m} reads only "
                                     f"padding (kernel {kk}, dilation {dd}, padding {pp}, "
                                     f"input {x_shape}): reduce the padding or the dilation")

    def show(self, t):
        """An n-tuple parameter as the caller gave it: one number for 1-D, else the tuple."""
        return t[0] if len(t) == 1 else t

    def params(self):
        s = self.show
        dil = "" if set(self.dilation) == {1} else f", dilation {s(self.dilation)}"
        return (f"kernel {s(self.kernel)}, stride {s(self.stride)}, "
                f"padding {s(self.padding)}" + dil)

    def plane(self):
        """The 2-D kernels' view of a 1-D or 2-D pool: the (N, C, H, W) input and
        (N, C, Ho, Wo) output shapes and (kh, kw, sh, sw, ph, pw, dh, dw), a 1-D pool being
        the 2-D one over (N, C, 1, L) with a 1 × k window."""
        one = (1,) * (2 - len(self.sizes))  # 1-D: a plane of one row, a window of one row
        (H, W), (Ho, Wo) = one + self.sizes, one + self.out
        (kh, kw), (sh, sw), (dh, dw) = one + self.kernel, one + self.stride, one + self.dilation
        ph, pw = (0,) * len(one) + self.padding
        N, C = self.x_shape[:2]
        return (N, C, H, W), (N, C, Ho, Wo), (kh, kw, sh, sw, ph, pw, dh, dw)

    def halves(self):
        """Whether this is the 2 × 2, stride 2, unpadded pool whose windows all lie inside the
        input (floor mode, or even sizes): ``max_pool_2x2_*``'s case."""
        return (self.kernel == self.stride == (2, 2) and self.padding == (0, 0)
                and self.dilation == (1, 1) and self.out == (self.sizes[0] // 2,
                                                             self.sizes[1] // 2))


def _size(t):
    """Sizes as "HxW" ("DxHxW"; one number for 1-D)."""
    return "x".join(map(str, t))


def _window(op, kernel_size, kernel):
    """The window size given once, as PyTorch's ``kernel_size=`` or stepgrad's ``kernel=``."""
    if (kernel is None) == (kernel_size is None):
        raise TypeError(f"{op}: give the window size once, as kernel_size= (PyTorch) or "
                        f"kernel=" + (" (got both)" if kernel is not None else ""))
    return kernel_size if kernel is None else kernel


class MaxPool2d(Op):
    name = "max_pool2d"
    twice = False
    formula = "dx = dy at each window's argmax, 0 elsewhere (overlaps add up)"

    def forward(self, x, *, kernel, stride=None, padding=0, dilation=1, ceil_mode=False,
                index_sink=None):
        check_4d(self.name, x)
        self.geo = PoolGeometry(self.name, x.shape, kernel, stride, padding, ceil_mode,
                                dilation)
        return self.run(x, index_sink)

    def run(self, x, index_sink):
        """Pool 4-D x by ``self.geo``; ``index_sink`` (a list) receives the argmax indices."""
        geo = self.geo
        x_shape, out_shape, args = geo.plane()
        x = np.ascontiguousarray(x.reshape(x_shape))
        out = np.empty(out_shape, x.dtype)
        if index_sink is None and geo.halves():  # backward finds the winners again in x
            max_pool_2x2_forward(x, out)
            self.save()  # nothing: an empty self.saved tells backward so
        else:
            idx = np.empty(out.shape, np.int32)  # flat h·W + w in the plane: int32 halves traffic
            max_pool_forward(x, out, idx, *args)
            self.save(idx)
            if index_sink is not None:
                index_sink.append(idx)
        return out.reshape(x_shape[:2] + geo.out) if len(geo.out) == 1 else out

    def backward(self, g, x, out):
        geo = self.geo
        (N, C, H, W), out_shape, _ = geo.plane()
        g = np.ascontiguousarray(g).reshape(out_shape)
        if self.saved:  # the indices the general kernel stored
            (idx,) = self.saved
            dx = np.empty((N, C, H * W), g.dtype)
            max_pool_backward(g, idx, dx)
        else:
            dx = np.empty((N, C, H, W), g.dtype)
            max_pool_2x2_backward(np.ascontiguousarray(x.reshape(dx.shape)), g, dx)
        return (dx.reshape(geo.x_shape),)

    def describe(self):
        return f"{self.geo.x_shape} → {self.geo.params()}"


class MaxPool1d(MaxPool2d):
    name = "max_pool1d"
    formula = "dx = dy at each window's argmax, 0 elsewhere (overlaps add up)"

    def forward(self, x, *, kernel, stride=None, padding=0, dilation=1, ceil_mode=False,
                index_sink=None):
        check_nd(self.name, x, 3, layout="(N, C, L)")
        self.geo = PoolGeometry(self.name, x.shape, kernel, stride, padding, ceil_mode,
                                dilation)
        return self.run(x, index_sink)


def check_divisor_override(op, divisor_override):
    """PyTorch's ``divisor_override``: None, or a nonzero int (negative too, as PyTorch),
    returned as a plain int. A float or bool is a TypeError, 0 a ValueError."""
    d = divisor_override
    if d is None:
        return None
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{op}: divisor_override must be an int or None, got {d!r} "
                        f"({type(d).__name__})")
    if d == 0:
        raise ValueError(f"{op}: divisor_override must not be zero (it divides every "
                         f"window's sum)")
    if not -2**63 <= d < 2**63:
        raise ValueError(f"{op}: divisor_override {d} does not fit in an int64")
    return int(d)


class AvgPool2d(Op):
    name = "avg_pool2d"
    twice = False
    formula = ("dx = dy / window size (or divisor_override), spread over each window "
               "(overlaps add up)")

    def forward(self, x, *, kernel, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True, divisor_override=None):
        check_4d(self.name, x)
        self.geo = PoolGeometry(self.name, x.shape, kernel, stride, padding, ceil_mode)
        return self.run(x, count_include_pad,
                        check_divisor_override(self.name, divisor_override))

    def run(self, x, count_include_pad, divisor_override=None):
        geo = self.geo
        self.include_pad = bool(count_include_pad)
        # The kernels read 0 as "no override" (0 itself is refused above).
        self.divisor = 0 if divisor_override is None else divisor_override
        x_shape, out_shape, args = geo.plane()
        out = np.empty(out_shape, x.dtype)
        avg_pool_forward(np.ascontiguousarray(x.reshape(x_shape)), out, *args[:6],
                         self.include_pad, self.divisor)
        return out.reshape(x_shape[:2] + geo.out) if len(geo.out) == 1 else out

    def backward(self, g, *inputs, out):
        geo = self.geo
        x_shape, out_shape, args = geo.plane()
        dx = np.empty(x_shape, g.dtype)
        avg_pool_backward(np.ascontiguousarray(g).reshape(out_shape), dx, *args[:6],
                          self.include_pad, self.divisor)
        return (dx.reshape(geo.x_shape),)

    def describe(self):
        divisor = f", divisor_override {self.divisor}" if self.divisor else ""
        return f"{self.geo.x_shape} → {self.geo.params()}{divisor}"


class AvgPool1d(AvgPool2d):
    name = "avg_pool1d"
    formula = "dx = dy / window size, spread over each window (overlaps add up)"

    def forward(self, x, *, kernel, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True):
        check_nd(self.name, x, 3, layout="(N, C, L)")
        self.geo = PoolGeometry(self.name, x.shape, kernel, stride, padding, ceil_mode)
        return self.run(x, count_include_pad)


def _max_pool(cls, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              kernel, layout):
    keep_freed_memory()  # from the first pool on (memory.py)
    kernel = _window(cls.name, kernel_size, kernel)

    def run(x):
        sink = [] if return_indices else None
        out = cls.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                        ceil_mode=ceil_mode, index_sink=sink)
        if not return_indices:
            return out
        return out, _tensor(sink[0].astype(np.int64).reshape(out.shape))

    return batch_of_one(cls.name, x, layout, run)


def _tensor(a):
    from ..tensor import Tensor  # at call time: engine.tensor imports the ops
    return Tensor(a)


def max_pool2d(x, kernel_size=None, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, kernel=None):
    """Max over (kh, kw) windows of ``x`` (N, C, H, W), or PyTorch's unbatched (C, H, W);
    stride defaults to the kernel.

    ``dilation`` spaces the window's taps (a 3 × 3 window with dilation 2 spans 5 × 5).
    ``return_indices=True`` returns ``(out, indices)``: int64, the flat position h·W + w of
    each maximum in its (H, W) plane (what ``max_unpool2d`` takes), shaped as ``out``.

    >>> import numpy as np, engine
    >>> from engine.fast.pool import max_pool2d
    >>> x = engine.tensor(np.arange(49.0).reshape(1, 1, 7, 7), requires_grad=True)
    >>> max_pool2d(x, 2).shape, max_pool2d(x, 2, ceil_mode=True).shape   # Keras 'same': 7 → 4
    ((1, 1, 3, 3), (1, 1, 4, 4))
    >>> max_pool2d(x, 3, stride=2).data[0, 0]
    array([[16., 18., 20.],
           [30., 32., 34.],
           [44., 46., 48.]], dtype=float32)
    >>> max_pool2d(x, kernel_size=2, stride=3, return_indices=True)[1]
    tensor([[[[ 8, 11],
              [29, 32]]]], shape=(1, 1, 2, 2), dtype=int64)
    """
    return _max_pool(MaxPool2d, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, kernel, "(N, C, H, W)")


def max_pool1d(x, kernel_size=None, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, kernel=None):
    """Max over windows of k steps of ``x`` (N, C, L) → (N, C, Lo), or unbatched (C, L) →
    (C, Lo) as PyTorch: max_pool2d over (N, C, 1, L) with a 1 × k window (indices are
    positions along L)."""
    return _max_pool(MaxPool1d, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices, kernel, "(N, C, L)")


def avg_pool2d(x, kernel_size=None, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, *, kernel=None):
    """Mean over (kh, kw) windows of ``x`` (N, C, H, W), or PyTorch's unbatched (C, H, W);
    padding counts in the mean by default (``count_include_pad``).

    ``divisor_override`` d (PyTorch's; a nonzero int): every window's sum, zero padding
    included, is divided by d instead of a cell count, so ``count_include_pad`` no longer
    matters; the gradient spreads dy / d over each window.

    >>> import engine
    >>> from engine.fast.pool import avg_pool2d
    >>> x = engine.ones(1, 1, 2, 2)
    >>> avg_pool2d(x, 2, stride=1, padding=1).data[0, 0]     # corners: 1 input cell of 4
    array([[0.25, 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 0.25]], dtype=float32)
    >>> avg_pool2d(x, 2, stride=1, padding=1, divisor_override=1).data[0, 0]  # window sums
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]], dtype=float32)
    """
    keep_freed_memory()
    kernel = _window("avg_pool2d", kernel_size, kernel)
    return batch_of_one("avg_pool2d", x, "(N, C, H, W)", lambda x: AvgPool2d.apply(
        x, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
        count_include_pad=count_include_pad, divisor_override=divisor_override))


def avg_pool1d(x, kernel_size=None, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, *, kernel=None):
    """Mean over windows of k steps of ``x`` (N, C, L) → (N, C, Lo), or unbatched (C, L) →
    (C, Lo) as PyTorch (which has no ``divisor_override`` here either)."""
    keep_freed_memory()
    kernel = _window("avg_pool1d", kernel_size, kernel)
    return batch_of_one("avg_pool1d", x, "(N, C, L)", lambda x: AvgPool1d.apply(
        x, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
        count_include_pad=count_include_pad))


# ----------------------------------------------------------------------------- unpooling
def unpool_output_size(op, x_shape, kernel_size, stride, padding, output_size, n=2):
    """PyTorch's ``_unpool_output_size``: (H − 1)·s − 2p + k by default; an explicit
    ``output_size`` ((H, W) or (N, C, H, W); (D, H, W) or (N, C, D, H, W) for n = 3) must
    lie strictly within one stride of it."""
    k = ntuple(kernel_size, n, "kernel_size", op, 1)
    s = k if stride is None else ntuple(stride, n, "stride", op, 1)
    p = ntuple(padding, n, "padding", op, 0)
    default = tuple((x_shape[2 + d] - 1) * s[d] + k[d] - 2 * p[d] for d in range(n))
    if output_size is None:
        size = default
    else:
        size = tuple(output_size)
        if len(size) == n + 2:
            size = size[2:]
        if len(size) != n or not all(isinstance(v, (int, np.integer)) for v in size):
            dims = "H, W" if n == 2 else "D, H, W"
            raise ValueError(f"{op}: output_size must be ({dims}) or (N, C, {dims}), got "
                             f"{output_size!r}")
        for d in range(n):
            lo, hi = default[d] - s[d], default[d] + s[d]
            if not lo < size[d] < hi:
                raise ValueError(f"{op}: invalid output_size {tuple(output_size)} (dim {d} "
                                 f"must be between {lo} and {hi}, exclusive; input {x_shape}, "
                                 f"kernel {k}, stride {s}, padding {p})")
    if min(size) < 1:
        raise ValueError(f"{op}: output size {size} is too small (input {x_shape}, kernel {k}, "
                         f"stride {s}, padding {p})")
    return tuple(int(v) for v in size)


class MaxUnpool2d(Op):
    """max_pool2d's partial inverse: each value goes back to where its maximum came from
    (``indices``: flat h·W + w in the output plane), zeros elsewhere. A scatter, so the
    gradient is the gather of dy at the indices (written with ops: twice differentiable)."""

    name = "max_unpool2d"
    linear = True
    formula = "dx = dy gathered at the indices"
    layout, cells = "(N, C, H, W)", "planes"  # MaxUnpool3d's: (N, C, D, H, W), volumes

    def forward(self, x, *, indices, output_size):
        op = self.name
        check_nd(op, x, len(output_size) + 2, layout=self.layout)
        idx = np.asarray(indices)  # of x's shape: max_unpool checked it, on the user's shapes
        if idx.dtype.kind not in "iu":
            raise TypeError(f"{op}: indices must be integers (max_pool{len(output_size)}d's "
                            f"return_indices), got {idx.dtype}")
        N, C = x.shape[:2]
        size = math.prod(output_size)
        flat = idx.reshape(N, C, -1).astype(np.intp)
        bad = (flat < 0) | (flat >= size)
        if bad.any():
            raise ValueError(f"{op}: found an invalid max index {flat[bad][0]} (output "
                             f"{self.cells} are {_size(output_size)}, input {x.shape})")
        out = np.zeros((N, C, size), x.dtype)
        np.put_along_axis(out, flat, x.reshape(N, C, -1), axis=2)  # repeats: the last wins
        self.flat, self.x_shape = flat, x.shape
        return out.reshape((N, C) + tuple(output_size))

    def backward(self, g, x, out):
        N, C = self.x_shape[:2]
        return xp.gather(g.reshape(N, C, -1), 2, self.flat).reshape(self.x_shape)

    def describe(self):
        return f"{self.x_shape} → {self.cells} of {self.flat.shape[2]} values"


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value of ``x`` (N, C, H, W) back at ``indices`` (from ``max_pool2d(...,
    return_indices=True)``, the same shape) in zeros of (N, C, Ho, Wo), ``Ho = (H − 1)·stride
    − 2·padding + kernel_size`` (or ``output_size``, (Ho, Wo) or (N, C, Ho, Wo), to undo a
    floor-mode pool that dropped a row). Unbatched ``x`` and indices (C, H, W) give
    (C, Ho, Wo), as PyTorch.

    >>> import engine
    >>> from engine.fast.pool import max_pool2d, max_unpool2d
    >>> x = engine.tensor([[[[1.0, 2.0], [4.0, 3.0]]]])
    >>> y, idx = max_pool2d(x, 2, return_indices=True)
    >>> max_unpool2d(y, idx, 2).data[0, 0]
    array([[0., 0.],
           [4., 0.]], dtype=float32)
    """
    return max_unpool(MaxUnpool2d, x, indices, kernel_size, stride, padding, output_size)


def max_unpool(cls, x, indices, kernel_size, stride, padding, output_size):
    """max_unpool2d or max_unpool3d (``cls``, the op): indices checked against x as given,
    the output size worked out on the batched shapes."""
    from ..tensor import Tensor  # at call time: engine.tensor imports the ops
    op, n = cls.name, cls.layout.count(",") - 1
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.shape != tuple(x.shape):  # here, on the shapes given (not a batch of one's)
        raise ValueError(f"{op}: indices of shape {idx.shape} do not match the input "
                         f"{tuple(x.shape)}")

    def run(x, idx):
        size = unpool_output_size(op, tuple(x.shape), kernel_size, stride, padding,
                                  output_size, n)
        return cls.apply(x, indices=idx, output_size=size)

    return batch_of_one(op, x, cls.layout, run, idx)


# ----------------------------------------------------------------------------- adaptive
def adaptive_size(op, x_shape, output_size, n=2):
    """(Ho, Wo) from an int, a pair, or a pair with None (None keeps that input size); n
    sizes from an int or an n-tuple for n spatial dims."""
    sizes = (output_size,) * n if not isinstance(output_size, (tuple, list)) \
        else tuple(output_size)
    if len(sizes) != n or not all(v is None or (isinstance(v, (int, np.integer))
                                                and not isinstance(v, bool) and v >= 0)
                                  for v in sizes):
        many = "a pair of them" if n == 2 else f"a {n}-tuple of them"
        raise ValueError(f"{op}: output_size must be an int ≥ 0 or {many} (None keeps "
                         f"the input's size), got {output_size!r}")
    return tuple(int(x_shape[2 + d] if v is None else v) for d, v in enumerate(sizes))


def adaptive_windows(op, x, output_size, layout="(N, C, H, W)"):
    """The output sizes of an adaptive pool of ``x`` (``layout``'s dims, none of the spatial
    ones empty) and, per spatial dim of m cells pooled to o, its windows' (starts, ends),
    int64 (PyTorch's ``start_index``/``end_index``): window i is
    [floor(i·m/o), ceil((i+1)·m/o))."""
    n = layout.count(",") - 1
    check_nd(op, x, n + 2, layout=layout)
    if 0 in x.shape[2:]:
        raise ValueError(f"{op}: the input {x.shape} has an empty spatial dim")
    out = adaptive_size(op, x.shape, output_size, n)
    windows = []
    for m, o in zip(x.shape[2:], out, strict=True):
        i = np.arange(o, dtype=np.int64)
        windows.append(((i * m) // o, ((i + 1) * m + o - 1) // o))
    return out, windows


class AdaptivePool(Op):
    """What both adaptive pools share: the window tables of one call."""

    twice = False

    def windows(self, x, output_size):
        """The kernels' window tables: row starts, row ends, column starts, column ends."""
        self.out_size, (rows, cols) = adaptive_windows(self.name, x, output_size)
        self.x_shape = x.shape
        return rows + cols

    def describe(self):
        return f"{self.x_shape} → {self.out_size}"


class AdaptiveAvgPool2d(AdaptivePool):
    name = "adaptive_avg_pool2d"
    formula = "dx = dy / window size, spread over each (adaptive) window"

    def forward(self, x, *, output_size):
        self.tables = self.windows(x, output_size)
        out = np.empty(x.shape[:2] + self.out_size, x.dtype)
        adaptive_avg_forward(np.ascontiguousarray(x), out, *self.tables)
        return out

    def backward(self, g, x, out):
        dx = np.empty(self.x_shape, g.dtype)
        adaptive_avg_backward(np.ascontiguousarray(g), dx, *self.tables)
        return dx


class AdaptiveMaxPool2d(AdaptivePool):
    name = "adaptive_max_pool2d"
    formula = "dx = dy at each (adaptive) window's argmax, 0 elsewhere"

    def forward(self, x, *, output_size, index_sink=None):
        tables = self.windows(x, output_size)
        out = np.empty(x.shape[:2] + self.out_size, x.dtype)
        idx = np.empty(out.shape, np.int32)
        adaptive_max_forward(np.ascontiguousarray(x), out, idx, *tables)
        self.save(idx)
        if index_sink is not None:
            index_sink.append(idx)
        return out

    def backward(self, g, x, out):
        (idx,) = self.saved
        N, C, H, W = self.x_shape
        dx = np.empty((N, C, H * W), g.dtype)
        max_pool_backward(np.ascontiguousarray(g), idx, dx)
        return dx.reshape(self.x_shape)


def adaptive_avg_pool2d(x, output_size):
    """Average pooling of ``x`` (N, C, H, W), or PyTorch's unbatched (C, H, W), to
    ``output_size`` (an int, a pair, None for "as the input"), whatever the input size:
    window i covers rows floor(i·H/Ho) … ceil((i+1)·H/Ho) − 1.

    >>> import numpy as np, engine
    >>> from engine.fast.pool import adaptive_avg_pool2d
    >>> x = engine.tensor(np.arange(5.0).reshape(1, 1, 1, 5))
    >>> adaptive_avg_pool2d(x, (1, 3)).data      # windows [0, 1], [1, 2, 3], [3, 4]
    array([[[[0.5, 2. , 3.5]]]], dtype=float32)
    """
    keep_freed_memory()
    return batch_of_one("adaptive_avg_pool2d", x, "(N, C, H, W)",
                        lambda x: AdaptiveAvgPool2d.apply(x, output_size=output_size))


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Max pooling of ``x`` (N, C, H, W), or PyTorch's unbatched (C, H, W), to
    ``output_size`` (windows as ``adaptive_avg_pool2d``); ``return_indices=True`` returns
    ``(out, indices)`` as ``max_pool2d``."""
    keep_freed_memory()

    def run(x):
        sink = [] if return_indices else None
        out = AdaptiveMaxPool2d.apply(x, output_size=output_size, index_sink=sink)
        return (out, _tensor(sink[0].astype(np.int64))) if return_indices else out

    return batch_of_one("adaptive_max_pool2d", x, "(N, C, H, W)", run)


# ----------------------------------------------------------------------------- references
# One per pool, for any number of spatial dims (the 1-, 2- and 3-D ops' registry entries).
def _padded(a, geo, fill, past=None):
    """``a`` (…, *sizes) padded with ``fill`` by ``geo.padding`` on both sides, then with
    ``past`` (default ``fill``) as far as a ceil-mode edge window hangs past the padding."""
    lead = ((0, 0),) * (a.ndim - len(geo.sizes))
    a = np.pad(a, lead + tuple((p, p) for p in geo.padding), constant_values=fill)
    extra = tuple(max(0, (o - 1) * s + d * (k - 1) + 1 - n)
                  for o, s, d, k, n in zip(geo.out, geo.stride, geo.dilation, geo.kernel,
                                           a.shape[len(lead):], strict=True))
    return np.pad(a, lead + tuple((0, e) for e in extra),
                  constant_values=fill if past is None else past)


def _window_at(a, geo, o):
    """Output cell ``o``'s window (its kernel taps) of the padded ``a``."""
    return a[(...,) + tuple(slice(i * s, i * s + d * (k - 1) + 1, d) for i, s, d, k in
                            zip(o, geo.stride, geo.dilation, geo.kernel, strict=True))]


def max_pool_reference(x, kernel_size=None, stride=None, padding=0, dilation=1,
                       ceil_mode=False, return_indices=False, *, kernel=None):
    """The definition, one window at a time (slow; for tests and the op registry): each
    output cell the max of its window over a −inf-padded x, (N, C, L), (N, C, H, W) or
    (N, C, D, H, W)."""
    op = f"max_pool{x.ndim - 2}d"
    geo = PoolGeometry(op, x.shape, _window(op, kernel_size, kernel), stride, padding,
                       ceil_mode, dilation)
    xp, axes = _padded(x, geo, -np.inf), tuple(range(2, x.ndim))
    out = np.empty(x.shape[:2] + geo.out, x.dtype)
    for o in np.ndindex(*geo.out):
        out[(...,) + o] = _window_at(xp, geo, o).max(axis=axes)
    return out


def avg_pool_reference(x, kernel_size=None, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True, divisor_override=None, *, kernel=None):
    """Window sums over a zero-padded x, divided by ``divisor_override`` if given, else by
    the count of cells that count (read off a padded array of ones); any spatial dims."""
    op = f"avg_pool{x.ndim - 2}d"
    geo = PoolGeometry(op, x.shape, _window(op, kernel_size, kernel), stride, padding,
                       ceil_mode)
    xp, axes = _padded(x, geo, 0.0), tuple(range(2, x.ndim))
    # 1 where a cell counts: the input only, or the input and its padding; never past it.
    counts = _padded(np.ones(geo.sizes), geo, 1.0 if count_include_pad else 0.0, 0.0)
    out = np.empty(x.shape[:2] + geo.out, x.dtype)
    for o in np.ndindex(*geo.out):
        divisor = (_window_at(counts, geo, o).sum() if divisor_override is None
                   else divisor_override)
        out[(...,) + o] = _window_at(xp, geo, o).sum(axis=axes) / divisor
    return out


def max_unpool_reference(x, indices, output_size):
    """Zeros of (N, C) + output_size, each x value written at its flat index in its (n, c)
    plane or volume."""
    N, C = x.shape[:2]
    out = np.zeros((N, C, math.prod(output_size)), x.dtype)
    for n, c, *cell in np.ndindex(*x.shape):
        out[n, c, indices[(n, c, *cell)]] = x[(n, c, *cell)]
    return out.reshape((N, C) + tuple(output_size))


def _adaptive_reference(x, output_size, reduce):
    out_size = adaptive_size("ref", x.shape, output_size, n=x.ndim - 2)
    out = np.empty(x.shape[:2] + out_size, x.dtype)
    for o in np.ndindex(*out_size):
        box = tuple(slice(math.floor(i * m / n), math.ceil((i + 1) * m / n))
                    for i, m, n in zip(o, x.shape[2:], out_size, strict=True))
        out[(...,) + o] = reduce(x[(...,) + box], axis=tuple(range(2, x.ndim)))
    return out


def adaptive_avg_pool_reference(x, output_size):
    """Each output cell the mean of its window (floor/ceil of i·m/o, by floats)."""
    return _adaptive_reference(x, output_size, np.mean)


def adaptive_max_pool_reference(x, output_size):
    return _adaptive_reference(x, output_size, np.max)


# ----------------------------------------------------------------------------- registry
# Shared by the 1-, 2- and 3-D pools (pool3d.py registers its ops with them).
def _pool_shapes(rng, dims=2, largest=7):
    """One (N, C, *sizes) input shape with ``dims`` spatial sizes of 1 to ``largest``."""
    n, c = (int(v) for v in rng.integers(1, 3, size=2))
    return ((n, c) + tuple(int(v) for v in rng.integers(1, largest + 1, size=dims)),)


def _pool_params(rng, shapes, dilation=False):
    size = shapes[0][2:]
    one_d = len(size) == 1
    params = {}
    for _ in range(20):  # a dilated window reading only padding is an error case: redraw
        dil = tuple(int(rng.integers(1, 3)) if dilation else 1 for _ in size)
        kernel = tuple(int(rng.integers(1, max(1, min((n - 1) // d + 1, 3)) + 1))
                       for n, d in zip(size, dil, strict=True))
        stride = None if rng.random() < 0.3 else tuple(int(rng.integers(1, 4)) for _ in size)
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        params = {"kernel_size": kernel, "stride": stride, "padding": padding,
                  "ceil_mode": bool(rng.random() < 0.5)}
        if dilation:
            params["dilation"] = dil
        if one_d:  # ints, as a 1-D caller writes them
            params = {k: v[0] if isinstance(v, tuple) else v for k, v in params.items()}
        try:
            PoolGeometry("max_pool", shapes[0], kernel, stride, padding, params["ceil_mode"],
                         dil)
            return params
        except ValueError:
            continue
    return dict(params, padding=0, ceil_mode=False)


def _avg_params(rng, shapes):
    return dict(_pool_params(rng, shapes), count_include_pad=bool(rng.random() < 0.5))


def _avg_divisor_params(rng, shapes):
    """avg_pool1d's parameters plus, about half the time, a divisor_override (negative ones
    too: PyTorch takes any nonzero int): avg_pool2d's and avg_pool3d's."""
    divisor = None if rng.random() < 0.5 else int(rng.choice([-3, -1, 1, 2, 5]))
    return dict(_avg_params(rng, shapes), divisor_override=divisor)


register(OpSpec(
    "max_pool2d", lambda x, **p: max_pool2d(x, **p), max_pool_reference,
    shapes=_pool_shapes, params=lambda rng, shapes: _pool_params(rng, shapes, dilation=True),
    values=(distinct,), ops=("max_pool2d",), twice=False,
    errors=(
        ErrorCase(lambda: max_pool2d(T(8, 8), 2), ValueError,
                  r"max_pool2d: expected a 3-D \(unbatched\) \(C, H, W\) or 4-D \(batched\) "
                  r"\(N, C, H, W\) input, got shape \(8, 8\)"),
        ErrorCase(lambda: max_pool2d(T(1, 1, 2, 2), 3), ValueError,
                  r"max_pool2d: kernel 3x3 is larger than the padded input 2x2 .*\(1, 1, 2, 2\)"),
        ErrorCase(lambda: max_pool2d(T(1, 1, 4, 4), 3, dilation=2), ValueError,
                  r"max_pool2d: kernel 3x3 \(dilation 2x2, extent 5x5\) is larger than the "
                  r"padded input 4x4"),
        ErrorCase(lambda: max_pool2d(T(1, 1, 8, 8), 2, padding=2), ValueError,
                  r"max_pool2d: padding \(2, 2\) must be at most half the kernel"),
        ErrorCase(lambda: max_pool2d(T(1, 1, 2, 2), 2, padding=1, dilation=3), ValueError,
                  r"max_pool2d: window 0 along a dim of size 2 reads only padding"),
        ErrorCase(lambda: max_pool2d(T(1, 1, 4, 4), 2, kernel=2), TypeError,
                  r"max_pool2d: give the window size once, as kernel_size= \(PyTorch\) or "
                  r"kernel= \(got both\)"),
    )))
register(OpSpec(
    "max_pool1d", lambda x, **p: max_pool1d(x, **p), max_pool_reference,
    shapes=lambda rng: _pool_shapes(rng, 1),
    params=lambda rng, shapes: _pool_params(rng, shapes, dilation=True),
    values=(distinct,), ops=("max_pool1d",), twice=False,
    errors=(
        ErrorCase(lambda: max_pool1d(T(3, 8, 8, 8), 2), ValueError,
                  r"max_pool1d: expected a 2-D \(unbatched\) \(C, L\) or 3-D \(batched\) "
                  r"\(N, C, L\) input, got shape \(3, 8, 8, 8\)"),
        ErrorCase(lambda: max_pool1d(T(1, 1, 2), 3), ValueError,
                  r"max_pool1d: kernel 3 is larger than the padded input 2 \(input "
                  r"\(1, 1, 2\), padding 0\)"),
        ErrorCase(lambda: max_pool1d(T(1, 1, 8), (2, 2)), ValueError,
                  r"max_pool1d: kernel_size must be an int ≥ 1 or a sequence of 1, got \(2, 2\)"),
    )))
register(OpSpec(
    "avg_pool2d", lambda x, **p: avg_pool2d(x, **p), avg_pool_reference,
    shapes=_pool_shapes, params=_avg_divisor_params, values=(normal,), ops=("avg_pool2d",),
    twice=False,
    errors=(
        ErrorCase(lambda: avg_pool2d(T(1, 1, 4, 4), (2, 0)), ValueError,
                  r"avg_pool2d: kernel_size must be an int ≥ 1 or a pair of them, got \(2, 0\)"),
        ErrorCase(lambda: avg_pool2d(T(1, 1, 4, 4)), TypeError,
                  r"avg_pool2d: give the window size once"),
        ErrorCase(lambda: avg_pool2d(T(1, 1, 4, 4), 2, divisor_override=0), ValueError,
                  r"avg_pool2d: divisor_override must not be zero"),
        ErrorCase(lambda: avg_pool2d(T(1, 1, 4, 4), 2, divisor_override=2.0), TypeError,
                  r"avg_pool2d: divisor_override must be an int or None, got 2.0 \(float\)"),
        ErrorCase(lambda: avg_pool2d(T(1, 1, 4, 4), 2, divisor_override=True), TypeError,
                  r"avg_pool2d: divisor_override must be an int or None, got True \(bool\)"),
    )))
register(OpSpec(
    "avg_pool1d", lambda x, **p: avg_pool1d(x, **p), avg_pool_reference,
    shapes=lambda rng: _pool_shapes(rng, 1), params=_avg_params, values=(normal,),
    ops=("avg_pool1d",), twice=False,
    errors=(
        ErrorCase(lambda: avg_pool1d(T(1, 1, 8), 4, padding=3), ValueError,
                  r"avg_pool1d: padding 3 must be at most half the kernel 4 \(input "
                  r"\(1, 1, 8\)\)"),
    )))


def _unpool_params(rng, shapes):
    """Indices as a max pool with stride ≥ kernel makes them: one position per window,
    windows apart (no repeats, so the finite differences see a plain scatter)."""
    N, C, *sizes = shapes[0]
    n = len(sizes)
    k = tuple(int(v) for v in rng.integers(1, 4 if n < 3 else 3, size=n))
    s = tuple(int(kk + rng.integers(0, 2)) for kk in k)
    size = tuple((m - 1) * ss + kk for m, ss, kk in zip(sizes, s, k, strict=True))
    pos = [np.arange(m).reshape([-1 if a == i else 1 for a in range(n)]) * ss
           + rng.integers(0, kk, size=(N, C, *sizes))
           for i, (m, ss, kk) in enumerate(zip(sizes, s, k, strict=True))]
    return {"indices": np.ravel_multi_index(pos, size), "output_size": size}


register(OpSpec(
    "max_unpool2d", lambda x, indices, output_size: MaxUnpool2d.apply(
        x, indices=indices, output_size=output_size),
    max_unpool_reference, shapes=lambda rng: _pool_shapes(rng, 2, 3),
    params=_unpool_params, values=(normal,), ops=("max_unpool2d",),
    errors=(
        ErrorCase(lambda: max_unpool2d(T(1, 1, 1, 2), np.array([[[[0, 9]]]]), 2), ValueError,
                  r"max_unpool2d: found an invalid max index 9 \(output planes are 2x4"),
        ErrorCase(lambda: max_unpool2d(T(1, 1, 2, 2), np.zeros((1, 1, 2), int), 2), ValueError,
                  r"max_unpool2d: indices of shape \(1, 1, 2\) do not match the input "
                  r"\(1, 1, 2, 2\)"),
        ErrorCase(lambda: max_unpool2d(T(1, 1, 2, 2), np.zeros((1, 1, 2, 2), int), 2,
                                       output_size=(6, 4)), ValueError,
                  r"max_unpool2d: invalid output_size \(6, 4\) \(dim 0 must be between 2 "
                  r"and 6, exclusive"),
        ErrorCase(lambda: max_unpool2d(T(1, 1, 2, 2), np.zeros((1, 1, 2, 2)), 2), TypeError,
                  r"max_unpool2d: indices must be integers"),
    )))


def _adaptive_params(rng, shapes):
    sizes = [int(rng.integers(1, m + 3)) for m in shapes[0][2:]]
    if rng.random() < 0.2:
        sizes[int(rng.integers(0, len(sizes)))] = None
    return {"output_size": sizes[0] if rng.random() < 0.3 and None not in sizes
            else tuple(sizes)}


register(OpSpec(
    "adaptive_avg_pool2d", lambda x, **p: adaptive_avg_pool2d(x, **p),
    adaptive_avg_pool_reference, shapes=_pool_shapes, params=_adaptive_params,
    values=(normal,), ops=("adaptive_avg_pool2d",), twice=False,
    errors=(
        ErrorCase(lambda: adaptive_avg_pool2d(T(1, 1, 2, 5, 5), 2), ValueError,
                  r"adaptive_avg_pool2d: expected a 3-D \(unbatched\) \(C, H, W\) or 4-D "
                  r"\(batched\) \(N, C, H, W\) input, got shape \(1, 1, 2, 5, 5\)"),
        ErrorCase(lambda: adaptive_avg_pool2d(T(1, 2, 5, 5), (2, 2, 2)), ValueError,
                  r"adaptive_avg_pool2d: output_size must be an int ≥ 0 or a pair"),
    )))
register(OpSpec(
    "adaptive_max_pool2d", lambda x, **p: adaptive_max_pool2d(x, **p),
    adaptive_max_pool_reference, shapes=_pool_shapes, params=_adaptive_params,
    values=(distinct,), ops=("adaptive_max_pool2d",), twice=False,
    errors=(
        ErrorCase(lambda: adaptive_max_pool2d(T(1, 2, 5, 5), -1), ValueError,
                  r"adaptive_max_pool2d: output_size must be an int ≥ 0 or a pair .*-1"),
    )))
