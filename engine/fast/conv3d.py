"""conv3d and conv_transpose3d (PyTorch's ``F.conv3d`` / ``F.conv_transpose3d``): the
convolutions of video clips and medical volumes, x (N, C, D, H, W).

Vectorized numpy, no Numba kernel (yet): one GEMM per kernel tap, "shift and add". Tap
t = (i, j, l) of a (kd, kh, kw) kernel reads, for every output cell at once, one strided
slice of the zero-padded input, ``x_t = xp[:, :, i·dd :: sd, j·dh :: sh, l·dw :: sw]``
(Do × Ho × Wo cells), so per channel group, with ``W_t = w[:, :, i, j, l]`` (F, C/groups)::

    forward   y = Σ_t W_t · x_t (+ b)
    backward  dW_t = dy · x_tᵀ        dx_t += W_tᵀ · dy  (added back into tap t's slice)
              db = Σ dy

These are im2col's products, tap by tap: no column matrix kd·kh·kw times the input's size.
conv_transpose3d is conv3d's input gradient (its forward and dW are conv3d's two backward
products, its dx conv3d's forward), as conv_transpose2d is conv2d's. The helpers work for
any number of spatial dims (the tests check them against conv2d too).

Padding: an int or (pd, ph, pw) pads both sides; ``'valid'`` is 0; ``'same'`` as conv2d's
(TensorFlow's rule; with stride 1 it is PyTorch's). Unbatched (C, D, H, W) input runs as a
batch of one (``conv.batch_of_one``), as PyTorch allows.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..ops.base import Op
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, normal, register
from .conv import (
    _convt_params,
    _convt_shapes,
    batch_of_one,
    check_channels,
    check_nd,
    ntuple,
    padding_amounts,
    transpose_sizes,
)

LAYOUT = "(N, C, D, H, W)"


def _x(sizes):
    """Sizes as "3x4x5" for the messages."""
    return "x".join(map(str, sizes))


class VolumeGeometry:
    """Validated sizes of one convolution over any number n of spatial dims: x (N, C,
    *sizes), w (F, C/groups, *kernel), b (F,) or None; ``stride``, ``dilation`` n-tuples,
    ``pads`` n (before, after) pairs, ``out`` the output sizes, PyTorch's rule
    ``(size + before + after − d·(k − 1) − 1) // s + 1``."""

    def __init__(self, op, x_shape, w_shape, b_shape, stride, padding, dilation, groups):
        n = len(x_shape) - 2
        self.stride = ntuple(stride, n, "stride", op, 1)
        self.dilation = ntuple(dilation, n, "dilation", op, 1)
        check_channels(op, x_shape, w_shape, b_shape, groups)
        self.sizes, self.kernel = tuple(x_shape[2:]), tuple(w_shape[2:])
        self.pads = padding_amounts(op, padding, self.sizes, self.kernel, self.stride,
                                    self.dilation)
        extent = tuple(d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel, strict=True))
        self.padded = tuple(m + a + b for m, (a, b) in zip(self.sizes, self.pads, strict=True))
        if any(e > m for e, m in zip(extent, self.padded, strict=True)):
            raise ValueError(f"{op}: kernel {_x(self.kernel)} (dilation {_x(self.dilation)}, "
                             f"extent {_x(extent)}) is larger than the padded input "
                             f"{_x(self.padded)} (input {x_shape}, weight {w_shape}, padding "
                             f"{self.pads})")
        self.out = tuple((m - e) // s + 1 for m, e, s in zip(self.padded, extent, self.stride,
                                                             strict=True))
        self.N, self.C, self.F = x_shape[0], x_shape[1], w_shape[0]
        self.groups, self.Cg, self.Fg = groups, w_shape[1], w_shape[0] // groups
        self.P = math.prod(self.out)  # output cells per sample

    def taps(self):
        """(tap, slice) for each kernel tap in C order: the tap's index into w's spatial dims
        and the strided slice of the padded input it reads for every output cell."""
        for tap in itertools.product(*map(range, self.kernel)):
            yield tap, (slice(None), slice(None)) + tuple(
                slice(t * d, t * d + s * (o - 1) + 1, s) for t, d, s, o in
                zip(tap, self.dilation, self.stride, self.out, strict=True))

    def pad(self, x):
        """x zero-padded by ``pads`` (x itself when there is no padding)."""
        if not any(a or b for a, b in self.pads):
            return x
        return np.pad(x, ((0, 0), (0, 0)) + self.pads)

    def crop(self, xp):
        """The input's cells of a padded array (``pad``'s inverse on shapes)."""
        return xp[(slice(None), slice(None)) + tuple(
            slice(a, a + m) for (a, _), m in zip(self.pads, self.sizes, strict=True))]

    def params(self):
        return (f"stride {self.stride}, padding {self.pads}, dilation {self.dilation}, "
                f"groups {self.groups}")


# ----------------------------------------------------------------------------- the products
def conv_forward(geo, x, w, b=None):
    """y = Σ_t W_t · x_t (+ b): x (N, C, *sizes), w (F, C/groups, *kernel) → (N, F, *out)."""
    N, G, Cg, Fg, P = geo.N, geo.groups, geo.Cg, geo.Fg, geo.P
    xp = geo.pad(x)
    out = np.zeros((N, G, Fg, P), np.result_type(x, w))
    for tap, sl in geo.taps():
        # (G, Fg, Cg) @ (N, G, Cg, P): one batched GEMM per tap, every group at once
        out += np.matmul(w[(slice(None), slice(None)) + tap].reshape(G, Fg, Cg),
                         xp[sl].reshape(N, G, Cg, P))
    out = out.reshape((N, geo.F) + geo.out)
    return out if b is None else out + b.reshape((1, -1) + (1,) * len(geo.out))


def conv_input_grad(geo, g, w):
    """dx for dy = ``g`` (N, F, *out): each tap's W_tᵀ · dy added into its slice of a padded
    zero array, then the padding cropped off (what fell there reads no input)."""
    N, G, Cg, Fg, P = geo.N, geo.groups, geo.Cg, geo.Fg, geo.P
    dxp = np.zeros((N, geo.C) + geo.padded, np.result_type(g, w))
    gg = g.reshape(N, G, Fg, P)
    for tap, sl in geo.taps():
        wt = w[(slice(None), slice(None)) + tap].reshape(G, Fg, Cg).transpose(0, 2, 1)
        dxp[sl] += np.matmul(wt, gg).reshape((N, geo.C) + geo.out)
    return np.ascontiguousarray(geo.crop(dxp))


def conv_weight_grad(geo, x, g):
    """dW_t = dy · x_tᵀ summed over the batch and the output cells: x (N, C, *sizes), dy =
    ``g`` (N, F, *out) → (F, C/groups, *kernel)."""
    N, G, Cg, Fg, P = geo.N, geo.groups, geo.Cg, geo.Fg, geo.P
    xp = geo.pad(x)
    # dy with (batch, cell) as one GEMM dimension: (G, Fg, N·P), made once for every tap
    gt = g.reshape(N, G, Fg, P).transpose(1, 2, 0, 3).reshape(G, Fg, N * P)
    dw = np.empty((geo.F, Cg) + geo.kernel, np.result_type(x, g))
    for tap, sl in geo.taps():
        xt = xp[sl].reshape(N, G, Cg, P).transpose(1, 0, 3, 2).reshape(G, N * P, Cg)
        dw[(slice(None), slice(None)) + tap] = np.matmul(gt, xt).reshape(geo.F, Cg)
    return dw


def _spatial_axes(a):
    return (0,) + tuple(range(2, a.ndim))


# ----------------------------------------------------------------------------- the ops
class Conv3d(Op):
    name = "conv3d"
    twice = False
    formula = "y = Σ_taps W_t·x_t + b;  dx_t = W_tᵀ·dy, dW_t = dy·x_tᵀ, db = Σ dy"

    def forward(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        op = self.name
        check_nd(op, x, 5, layout=LAYOUT)
        check_nd(op, w, 5, "weight", "(F, C/groups, kd, kh, kw)")
        if b is not None and b.ndim != 1:
            raise ValueError(f"{op}: bias must be 1-D (F,), got shape {b.shape}")
        self.geo = VolumeGeometry(op, x.shape, w.shape, None if b is None else b.shape,
                                  stride, padding, dilation, groups)
        self.shapes = (x.shape, w.shape)
        return conv_forward(self.geo, x, w, b)

    def backward(self, g, x, w, *b, out):
        need = tuple(self.needs_grad) + (False,) * (3 - len(self.needs_grad))
        dx = conv_input_grad(self.geo, g, w) if need[0] else None
        dw = conv_weight_grad(self.geo, x, g) if need[1] else None
        db = g.sum(axis=_spatial_axes(g)) if need[2] else None
        return (dx, dw, db)[:len(self.needs_grad)]

    def describe(self):
        (x, w), geo = self.shapes, self.geo
        return f"x {x} ⊛ W {w} → {(geo.N, geo.F) + geo.out}, {geo.params()}"


class ConvTranspose3d(Op):
    """The adjoint of conv3d with respect to its input: every input cell spreads its value
    times the kernel over the output (stride apart), overlaps adding up. With ``geo`` the
    conv3d whose input gradient this is (input (N, C_out, *out), weight w read as (F = C_in,
    C_out/groups, *kernel))::

        forward   out = conv_input_grad(x) + b     backward  dx = conv3d(dy, W)
                                                             dW = conv_weight_grad(dy, x)
    """

    name = "conv_transpose3d"
    twice = False
    formula = "out = Σ_t W_tᵀ·x spread at tap t + b;  dx = conv3d(dy, W), dW_t = x·dy_tᵀ"

    def forward(self, x, w, b=None, *, stride=1, padding=0, output_padding=0, groups=1,
                dilation=1):
        op = self.name
        check_nd(op, x, 5, layout="(N, C_in, D, H, W)")
        check_nd(op, w, 5, "weight", "(C_in, C_out/groups, kd, kh, kw)")
        if b is not None and b.ndim != 1:
            raise ValueError(f"{op}: bias must be 1-D (C_out,), got shape {b.shape}")
        s, p, o, d, out = transpose_sizes(op, x.shape, w.shape, None if b is None else b.shape,
                                          stride, padding, output_padding, groups, dilation,
                                          "(C_in, C_out/groups, kd, kh, kw)")
        self.geo = geo = VolumeGeometry(op, (x.shape[0], w.shape[1] * groups) + out, w.shape,
                                        None, s, p, d, groups)
        self.x_sizes, self.output_padding = x.shape[2:], o
        # x as that conv3d's output gradient: an output_padding reaching the stride gives
        # the conv3d outputs that no cell of x feeds; they get zeros
        xg = x
        if geo.out != x.shape[2:]:
            xg = np.zeros((geo.N, geo.F) + geo.out, x.dtype)
            xg[(slice(None), slice(None)) + tuple(slice(0, m) for m in x.shape[2:])] = x
        self.save(xg)
        self.shapes = (x.shape, w.shape)
        y = conv_input_grad(geo, xg, w)
        return y if b is None else y + b.reshape(1, -1, 1, 1, 1)

    def backward(self, g, x, w, *b, out):
        (xg,), geo = self.saved, self.geo
        need = tuple(self.needs_grad) + (False,) * (3 - len(self.needs_grad))
        dx = dw = None
        if need[0]:
            dx = conv_forward(geo, g, w)
            dx = np.ascontiguousarray(dx[(slice(None), slice(None)) + tuple(
                slice(0, m) for m in self.x_sizes)])
        if need[1]:
            dw = conv_weight_grad(geo, g, xg)
        db = g.sum(axis=_spatial_axes(g)) if need[2] else None
        return (dx, dw, db)[:len(self.needs_grad)]

    def describe(self):
        (x, w), geo = self.shapes, self.geo
        return (f"x {x} ⊛ᵀ W {w} → {(geo.N, geo.C) + geo.sizes}, stride {geo.stride}, "
                f"padding {tuple(a for a, _ in geo.pads)}, output_padding "
                f"{self.output_padding}, dilation {geo.dilation}, groups {geo.groups}")


def conv3d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation, as PyTorch's ``F.conv3d``) of ``x`` (N, C, D, H, W)
    with ``w`` (F, C/groups, kd, kh, kw), ``b`` (F,) or None → (N, F, Do, Ho, Wo),
    ``Do = (D + 2·pd − dd·(kd − 1) − 1) // sd + 1`` (Ho, Wo alike); unbatched x (C, D, H, W)
    → (F, Do, Ho, Wo), as PyTorch. ``stride``, ``padding``, ``dilation``: an int or a triple;
    ``padding`` also ``'valid'`` or ``'same'``. Vectorized numpy (one GEMM per kernel tap, see
    the module docstring), not a Numba kernel: fine for course-sized volumes.

    >>> import engine
    >>> from engine.fast.conv3d import conv3d
    >>> x = engine.ones(1, 1, 3, 3, 3, requires_grad=True)
    >>> y = conv3d(x, engine.ones(2, 1, 2, 2, 2))      # each output sums a 2×2×2 cube
    >>> y.shape, float(y.data[0, 0, 0, 0, 0])
    ((1, 2, 2, 2, 2), 8.0)
    >>> y.sum().backward(); x.grad[0, 0, 0]            # corners are in 1 window, 2 filters
    tensor([[2., 4., 2.],
            [4., 8., 4.],
            [2., 4., 2.]], shape=(3, 3), dtype=float32)
    """
    weights = (w,) if b is None else (w, b)
    return batch_of_one("conv3d", x, LAYOUT, lambda x: Conv3d.apply(
        x, *weights, stride=stride, padding=padding, dilation=dilation, groups=groups))


def conv_transpose3d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 3-D convolution (PyTorch's ``F.conv_transpose3d``, a 3-D U-Net's
    upsampling): x (N, C_in, D, H, W), w (C_in, C_out/groups, kd, kh, kw), b (C_out,) or None
    → (N, C_out, Do, Ho, Wo) with ``Do = (D − 1)·stride − 2·padding + dilation·(kd − 1) +
    output_padding + 1`` (Ho, Wo alike); unbatched x (C_in, D, H, W) → (C_out, Do, Ho, Wo).
    ``output_padding`` (smaller than the stride or the dilation, per dim) adds cells at the
    far end of each dim, to pick which size a strided conv3d is inverted to.

    >>> import engine
    >>> from engine.fast.conv3d import conv_transpose3d
    >>> x = engine.tensor([[[[[1.0, 2.0]]]]])                     # (1, 1, 1, 1, 2)
    >>> conv_transpose3d(x, engine.ones(1, 1, 2, 2, 2), stride=2).data[0, 0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.]], dtype=float32)
    """
    weights = (w,) if b is None else (w, b)
    return batch_of_one("conv_transpose3d", x, "(N, C_in, D, H, W)",
                        lambda x: ConvTranspose3d.apply(
                            x, *weights, stride=stride, padding=padding,
                            output_padding=output_padding, groups=groups, dilation=dilation))


# ----------------------------------------------------------------------------- references
def conv3d_reference(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """The definition, one output cell at a time: out[n, f, o] = b[f] + Σ_c Σ_t w[f, c, t]·
    xp[n, g(f)·Cg + c, o·s + t·d] (xp the zero-padded x; slow, for tests)."""
    (N, _, *sizes), (F, Cg, *kernel) = x.shape, w.shape
    s, d = ntuple(stride, 3, "stride", "ref", 1), ntuple(dilation, 3, "dilation", "ref", 1)
    pads = padding_amounts("ref", padding, sizes, kernel, s, d)
    xp = np.pad(x, ((0, 0), (0, 0)) + pads)
    out_sizes = [(m + a + bb - dd * (k - 1) - 1) // ss + 1
                 for m, (a, bb), dd, k, ss in zip(sizes, pads, d, kernel, s, strict=True)]
    out = np.zeros([N, F] + out_sizes, np.result_type(x, w))
    Fg = F // groups
    for f in range(F):
        c0 = f // Fg * Cg                 # the first input channel of f's group
        for o in np.ndindex(*out_sizes):
            win = xp[(slice(None), slice(c0, c0 + Cg)) + tuple(
                slice(oo * ss, oo * ss + dd * (k - 1) + 1, dd)
                for oo, ss, dd, k in zip(o, s, d, kernel, strict=True))]
            out[(slice(None), f) + o] = (win * w[f]).sum(axis=(1, 2, 3, 4))
    return out if b is None else out + b.reshape(1, -1, 1, 1, 1)


def conv_transpose3d_reference(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                               dilation=1):
    """The definition, one input cell at a time: x[n, c, i] adds x·w[c] to the output window
    whose corner is i·s − p, taps d apart (built on a larger array, then cropped)."""
    s, p = ntuple(stride, 3, "s", "ref", 1), ntuple(padding, 3, "p", "ref", 0)
    o, d = ntuple(output_padding, 3, "o", "ref", 0), ntuple(dilation, 3, "d", "ref", 1)
    (N, C, *sizes), (_, Cog, *kernel) = x.shape, w.shape
    out_sizes = [(m - 1) * ss - 2 * pp + dd * (k - 1) + oo + 1
                 for m, ss, pp, dd, k, oo in zip(sizes, s, p, d, kernel, o, strict=True)]
    big = np.zeros([N, Cog * groups] + [m + 2 * pp + dd * k + ss for m, pp, dd, k, ss in
                                        zip(out_sizes, p, d, kernel, s, strict=True)],
                   np.result_type(x, w))
    Cg = C // groups
    for c in range(C):
        o0 = c // Cg * Cog                # the first output channel of c's group
        for i in np.ndindex(*sizes):
            win = big[(slice(None), slice(o0, o0 + Cog)) + tuple(
                slice(ii * ss, ii * ss + dd * (k - 1) + 1, dd)
                for ii, ss, dd, k in zip(i, s, d, kernel, strict=True))]
            win += x[(slice(None), c) + i][:, None, None, None, None] * w[c][None]
    out = big[(slice(None), slice(None)) + tuple(slice(pp, pp + m) for pp, m in
                                                 zip(p, out_sizes, strict=True))]
    return out if b is None else out + b.reshape(1, -1, 1, 1, 1)


# ----------------------------------------------------------------------------- registry
def _conv3d_shapes(rng):
    groups = int(rng.choice([1, 1, 2]))
    n, cg, fg = (int(v) for v in rng.integers(1, 3, size=3))
    sizes = tuple(int(v) for v in rng.integers(1, 5, size=3))
    kernel = tuple(int(v) for v in rng.integers(1, 3, size=3))
    shapes = ((n, cg * groups) + sizes, (fg * groups, cg) + kernel)
    return shapes + ((fg * groups,),) if rng.random() < 0.5 else shapes


def _conv3d_params(rng, shapes):
    (_, c, *sizes), (_, cg, *kernel) = shapes[:2]
    padding = [0, 1, (0, 1, 2), "same", "valid"][int(rng.integers(0, 5))]
    pads = {"same": (9,) * 3, "valid": (0,) * 3}.get(padding) if isinstance(padding, str) \
        else ntuple(padding, 3, "padding", "conv3d", 0)
    dil = []
    for k, m, p in zip(kernel, sizes, pads, strict=True):
        fits = [d for d in (1, 2) if d * (k - 1) + 1 <= m + 2 * p]
        dil.append(int(rng.choice(fits)) if fits else 1)
        if not fits:
            padding = "same"
    return {"stride": tuple(int(v) for v in rng.integers(1, 3, size=3)), "padding": padding,
            "dilation": tuple(dil), "groups": c // cg}


register(OpSpec(
    "conv3d", lambda x, w, b=None, **p: conv3d(x, w, b, **p), conv3d_reference,
    arity=2, shapes=_conv3d_shapes, params=_conv3d_params, values=(normal,), ops=("conv3d",),
    twice=False,
    errors=(
        ErrorCase(lambda: conv3d(T(3, 5, 5), T(4, 3, 3, 3, 3)), ValueError,
                  r"conv3d: expected a 4-D \(unbatched\) \(C, D, H, W\) or 5-D \(batched\) "
                  r"\(N, C, D, H, W\) input, got shape \(3, 5, 5\)"),
        ErrorCase(lambda: conv3d(T(1, 3, 5, 5, 5), T(4, 3, 3, 3)), ValueError,
                  r"conv3d: expected a 5-D weight \(F, C/groups, kd, kh, kw\), got shape "
                  r"\(4, 3, 3, 3\)"),
        ErrorCase(lambda: conv3d(T(1, 3, 5, 5, 5), T(4, 2, 3, 3, 3)), ValueError,
                  r"conv3d: channel mismatch: input \(1, 3, 5, 5, 5\) has 3 channels but "
                  r"weight \(4, 2, 3, 3, 3\) with groups=1 expects 2"),
        ErrorCase(lambda: conv3d(T(1, 4, 5, 5, 5), T(6, 2, 3, 3, 3), groups=3), ValueError,
                  r"conv3d: groups=3 must divide both the 4 input channels and the 6 filters"),
        ErrorCase(lambda: conv3d(T(1, 1, 2, 6, 6), T(1, 1, 3, 3, 3)), ValueError,
                  r"conv3d: kernel 3x3x3 \(dilation 1x1x1, extent 3x3x3\) is larger than the "
                  r"padded input 2x6x6 \(input \(1, 1, 2, 6, 6\)"),
        ErrorCase(lambda: conv3d(T(1, 1, 5, 5, 5), T(1, 1, 3, 3, 3), T(2)), ValueError,
                  r"conv3d: bias of shape \(2,\) does not match the 1 filters"),
        ErrorCase(lambda: conv3d(T(1, 1, 5, 5, 5), T(1, 1, 3, 3, 3), stride=(1, 2)), ValueError,
                  r"conv3d: stride must be an int ≥ 1 or a sequence of 3, got \(1, 2\)"),
        ErrorCase(lambda: conv3d(T(1, 1, 5, 5, 5), T(1, 1, 3, 3, 3), padding="full"),
                  ValueError, r"conv3d: padding must be an int, a 3-tuple, 'same' or 'valid', "
                              r"got 'full'"),
    )))


register(OpSpec(
    "conv_transpose3d", lambda x, w, b=None, **p: conv_transpose3d(x, w, b, **p),
    conv_transpose3d_reference, arity=2, shapes=lambda rng: _convt_shapes(rng, 3, 3, 2),
    params=lambda rng, shapes: _convt_params(rng, shapes, most=2),
    values=(normal,), ops=("conv_transpose3d",), twice=False,
    errors=(
        ErrorCase(lambda: conv_transpose3d(T(1, 2, 3, 3, 3), T(3, 4, 3, 3, 3)), ValueError,
                  r"conv_transpose3d: channel mismatch: input \(1, 2, 3, 3, 3\) has 2 channels "
                  r"but weight \(3, 4, 3, 3, 3\) \(C_in, C_out/groups, kd, kh, kw\) expects 3"),
        ErrorCase(lambda: conv_transpose3d(T(1, 2, 3, 3, 3), T(2, 4, 3, 3, 3), stride=2,
                                           output_padding=(0, 2, 0)), ValueError,
                  r"conv_transpose3d: output_padding \(0, 2, 0\) must be smaller than either "
                  r"the stride \(2, 2, 2\) or the dilation \(1, 1, 1\)"),
        ErrorCase(lambda: conv_transpose3d(T(1, 2, 3, 3, 3), T(2, 4, 3, 3, 3), padding=3),
                  ValueError, r"conv_transpose3d: output size -1x-1x-1 is too small"),
        ErrorCase(lambda: conv_transpose3d(T(1, 2, 3, 3, 3), T(2, 4, 3, 3, 3), padding="same"),
                  ValueError, r"conv_transpose3d: padding must be an int or a 3-tuple"),
        ErrorCase(lambda: conv_transpose3d(T(2, 3, 3), T(2, 4, 3, 3, 3)), ValueError,
                  r"conv_transpose3d: expected a 4-D \(unbatched\) \(C_in, D, H, W\) or 5-D "
                  r"\(batched\) \(N, C_in, D, H, W\) input, got shape \(2, 3, 3\)"),
    )))
