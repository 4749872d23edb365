"""unfold and fold (PyTorch's ``F.unfold`` / ``F.fold``): the column matrix of a convolution
as an op of its own, and its transpose.

``unfold(x, kernel_size, dilation, padding, stride)`` takes x (N, C, H, W) to (N, C·kh·kw, L):
column l holds the window of output position l (L = Ho·Wo, PyTorch's size formula), rows in
the order (c, i, j), so ``w.reshape(F, -1) @ unfold(x, ...)`` is conv2d without its bias —
the course's "convolution as a dot product". ``fold(cols, output_size, kernel_size, ...)``
puts every column back in place, summing where windows overlap (col2im); it is unfold's
transpose, so each op's gradient is the other (both linear: second derivatives work too).
Both run the convolution's Numba kernels (``engine/fast/kernels/im2col.py``).
"""
from __future__ import annotations

import numpy as np

from ..ops.base import Op
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, normal, register
from .conv import ConvGeometry, check_4d, pair


def _geometry(op, x_shape, kernel_size, dilation, padding, stride, dtype):
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a pair (PyTorch's {op} has no "
                         f"{padding!r}), got {padding!r}")
    kh, kw = pair(kernel_size, "kernel_size", op, 1)
    geo = ConvGeometry(x_shape, (1, x_shape[1], kh, kw), None, stride, padding, dilation, 1,
                       op=op)
    geo.plan(np.dtype(dtype).itemsize, keep_cols=False)
    geo.per_sample = True  # columns (N·K, L): (N, K, L) after a reshape, PyTorch's layout
    return geo


def _unfold(x, geo):
    cols = np.empty((geo.N * geo.K, geo.P), x.dtype)
    geo.to_columns(np.ascontiguousarray(x).reshape(geo.N, geo.C, geo.H * geo.W), cols)
    return cols.reshape(geo.N, geo.K, geo.P)


def _fold(cols, geo):
    dx = np.empty((geo.N, geo.C, geo.H * geo.W), cols.dtype)
    geo.from_columns(np.ascontiguousarray(cols).reshape(geo.N * geo.K, geo.P), dx)
    return dx.reshape(geo.N, geo.C, geo.H, geo.W)


class Unfold(Op):
    name, linear = "unfold", True
    formula = "cols[n, (c, i, j), l] = x[n, c, window l's pixel (i, j)]; dx = fold(dcols)"

    def forward(self, x, *, kernel_size, dilation=1, padding=0, stride=1):
        check_4d("unfold", x)
        if x.dtype.kind != "f":
            raise TypeError(f"unfold: expects a float tensor, got {x.dtype}")
        self.args = dict(kernel_size=kernel_size, dilation=dilation, padding=padding,
                         stride=stride)
        self.geo = _geometry("unfold", x.shape, kernel_size, dilation, padding, stride,
                             x.dtype)
        return _unfold(x, self.geo)

    def backward(self, g, x, out):
        if isinstance(g, np.ndarray):
            return _fold(g, self.geo)
        return Fold.apply(g, output_size=(self.geo.H, self.geo.W), **self.args)

    def describe(self):
        geo = self.geo
        return (f"({geo.N}, {geo.C}, {geo.H}, {geo.W}) → ({geo.N}, {geo.K}, {geo.P}): "
                f"{geo.kh}×{geo.kw} windows, stride {(geo.sh, geo.sw)}")


class Fold(Op):
    name, linear = "fold", True
    formula = "x[n, c, pixel] = Σ of the columns' entries for that pixel; dcols = unfold(dx)"

    def forward(self, cols, *, output_size, kernel_size, dilation=1, padding=0, stride=1):
        if cols.ndim != 3:
            raise ValueError(f"fold: expects (N, C·kh·kw, L) columns, got shape {cols.shape}")
        if cols.dtype.kind != "f":
            raise TypeError(f"fold: expects a float tensor, got {cols.dtype}")
        kh, kw = pair(kernel_size, "kernel_size", "fold", 1)
        H, W = pair(output_size, "output_size", "fold", 1)
        N, K, L = cols.shape
        if K % (kh * kw):
            raise ValueError(f"fold: dim 1 of the columns ({K}) must be divisible by "
                             f"kh·kw = {kh * kw} (columns {cols.shape})")
        self.args = dict(kernel_size=kernel_size, dilation=dilation, padding=padding,
                         stride=stride)
        self.geo = geo = _geometry("fold", (N, K // (kh * kw), H, W), kernel_size, dilation,
                                   padding, stride, cols.dtype)
        if L != geo.P:
            raise ValueError(f"fold: {L} columns, but an output of {(H, W)} with these windows "
                             f"has {geo.Ho}×{geo.Wo} = {geo.P} blocks")
        return _fold(cols, geo)

    def backward(self, g, cols, out):
        if isinstance(g, np.ndarray):
            return _unfold(g, self.geo)
        return Unfold.apply(g, **self.args)

    def describe(self):
        geo = self.geo
        return (f"({geo.N}, {geo.K}, {geo.P}) → ({geo.N}, {geo.C}, {geo.H}, {geo.W}): "
                f"{geo.kh}×{geo.kw} windows, stride {(geo.sh, geo.sw)}")


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """The sliding windows of x (N, C, H, W) as columns (N, C·kh·kw, L), PyTorch's
    ``F.unfold``: rows ordered (c, i, j), one column per output position.

    >>> import engine
    >>> x = engine.arange(16.0).reshape(1, 1, 4, 4)
    >>> unfold(x, 2, stride=2).data[0]        # each column one 2×2 block
    array([[ 0.,  2.,  8., 10.],
           [ 1.,  3.,  9., 11.],
           [ 4.,  6., 12., 14.],
           [ 5.,  7., 13., 15.]], dtype=float32)
    """
    return Unfold.apply(x, kernel_size=kernel_size, dilation=dilation, padding=padding,
                        stride=stride)


def fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Columns (N, C·kh·kw, L) summed back into images (N, C, H, W) of ``output_size``
    (PyTorch's ``F.fold``; overlapping windows add up): unfold's transpose."""
    return Fold.apply(cols, output_size=output_size, kernel_size=kernel_size,
                      dilation=dilation, padding=padding, stride=stride)


# ----------------------------------------------------------------------------- registry
def _windows(rng, shapes):
    return {"kernel_size": int(rng.integers(1, 3)), "stride": int(rng.integers(1, 3)),
            "padding": int(rng.integers(0, 2)), "dilation": int(rng.integers(1, 3))}


def _unfold_reference(x, kernel_size, dilation=1, padding=0, stride=1):
    k, d, p, s = kernel_size, dilation, padding, stride
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    Ho, Wo = (H + 2 * p - d * (k - 1) - 1) // s + 1, (W + 2 * p - d * (k - 1) - 1) // s + 1
    out = np.empty((N, C, k, k, Ho, Wo), x.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i, j] = xp[:, :, i * d:i * d + s * (Ho - 1) + 1:s,
                                 j * d:j * d + s * (Wo - 1) + 1:s]
    return out.reshape(N, C * k * k, Ho * Wo)


def _image_shapes(rng):
    n, c = (int(v) for v in rng.integers(1, 3, size=2))
    return ((n, c, int(rng.integers(3, 6)), int(rng.integers(3, 6))),)


def _cols_shapes(rng):
    """Columns of 2×2 windows (stride 1) of an h×h image: (n, 4c, (h − 1)²)."""
    n, c, h = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(2, 5))
    return ((n, 4 * c, (h - 1) ** 2),)


def _cols_params(rng, shapes):
    h = int(round(shapes[0][2] ** 0.5)) + 1
    return {"output_size": (h, h), "kernel_size": 2}


def _fold_reference(cols, output_size, kernel_size):
    """Each column's 2×2 window added back into place (stride 1, no padding)."""
    N, K, _ = cols.shape
    H, W = output_size
    out = np.zeros((N, K // 4, H, W))
    blocks = cols.reshape(N, K // 4, 2, 2, H - 1, W - 1)
    for i in range(2):
        for j in range(2):
            out[:, :, i:i + H - 1, j:j + W - 1] += blocks[:, :, i, j]
    return out


register(OpSpec(
    "unfold", lambda x, **p: unfold(x, **p), _unfold_reference,
    shapes=_image_shapes, params=_windows, values=(normal,), ops=("unfold",),
    errors=(
        ErrorCase(lambda: unfold(T(1, 1, 4, 4), 2, padding="same"), ValueError,
                  r"unfold: padding must be an int or a pair \(PyTorch's unfold has no "
                  r"'same'\)"),
        ErrorCase(lambda: unfold(T(1, 1, 2, 2), 3), ValueError,
                  r"unfold: kernel 3x3 .* is larger than the padded input 2x2"),
        ErrorCase(lambda: fold(T(1, 5, 4), (3, 3), 2), ValueError,
                  r"fold: dim 1 of the columns \(5\) must be divisible by kh·kw = 4"),
        ErrorCase(lambda: fold(T(1, 4, 3), (3, 3), 2), ValueError,
                  r"fold: 3 columns, but an output of \(3, 3\) with these windows has "
                  r"2×2 = 4 blocks"),
    )))
register(OpSpec(
    "fold", lambda cols, **p: fold(cols, **p), _fold_reference,
    shapes=_cols_shapes, params=_cols_params, values=(normal,), ops=("fold",)))
