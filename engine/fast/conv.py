"""conv2d: direct Numba kernels for 3×3 stride-1 padding-1 convolutions; im2col (a Numba
kernel) + GEMMs (numpy's BLAS), the batch in L2-sized chunks, for every other geometry.
conv1d is conv2d over (N, C, 1, L); conv_transpose2d is conv2d's input gradient (its
forward and dW are conv2d's two backward GEMMs, its dx conv2d's forward).

The direct path (``engine/fast/kernels/direct.py``, taken when ``ConvGeometry.direct`` and
``DIRECT_3X3``): the seed CNN's, ResNet's and Inception's 3×3 layers. It computes the same
sums without a column matrix and without BLAS (so no hand-over between Numba's and OpenBLAS's
thread pools); single-threaded it is about as fast as im2col + OpenBLAS, and its parallel
loops need no BLAS threads. Everything below describes the general path.

Shapes: x (N, C, H, W), weight (F, C/groups, kh, kw), bias (F,), out (N, F, Ho, Wo) with
``Ho = (H + top + bottom − dh·(kh − 1) − 1) // sh + 1`` (Wo alike), P = Ho·Wo. With ``cols``
the column matrix of ``engine/fast/kernels/im2col.py`` (one column per output pixel, K = C·kh·kw
rows) and ``Wm = weight.reshape(F, K)``, per channel group::

    forward   Y  = Wm · cols (+ b)
    backward  dW = dY · colsᵀ      dcols = Wmᵀ · dY      dx = col2im(dcols)      db = Σ dY

How the work is laid out (each choice measured on the seed CNN's layers, bench/conv_pool.py):

- Chunks: the batch runs in chunks whose column matrix fits in a core's L2 (``CHUNK_BYTES``):
  im2col writes a chunk and BLAS reads it while it is still in cache.
- Layout: for small images (P < ``PER_SAMPLE_MIN_P``) one GEMM covers the whole chunk, and its
  (F, n·P) result is transposed into NCHW; for large ones one GEMM per sample writes NCHW
  directly (the transpose cost more than the many GEMMs save).
- Columns for dW: kept from the forward when small (``KEEP_COLS_BYTES``), otherwise rebuilt
  chunk by chunk in backward: rebuilding into a cache-hot buffer beat writing and re-reading
  megabytes of fresh memory.
- Scratch arrays come from a pool reused across calls (``workspace``), so steady-state calls
  do not page-fault fresh memory in (~1 µs per 4 KiB page).

Unbatched input (PyTorch's (C, H, W), (C, L) for conv1d) runs as a batch of one: the public
functions add and remove the batch axis in one place, ``batch_of_one``; the ops see 4-D only.

Padding: an int or (ph, pw) pads both sides; ``'valid'`` is 0; ``'same'`` follows TensorFlow
(out = ceil(in / stride); an odd total puts the extra row/column at the bottom/right).
"""
from __future__ import annotations

import math
import threading

import numpy as np

from ..ops.base import Op
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, normal, register
from .kernels import (
    KERNEL_DTYPES,
    col2im,
    col2im_scatter,
    col2im_shift,
    column_masks,
    conv3x3_backward,
    conv3x3_forward,
    im2col,
    im2col_shift,
    window_tables,
)
from .memory import keep_freed_memory

CHUNK_BYTES = 1 << 20       # column-matrix bytes per chunk: about half the 2 MiB L2 of a core
KEEP_COLS_BYTES = 4 << 20   # keep the forward's columns for dW up to this size, else rebuild
PER_SAMPLE_MIN_P = 400      # output pixels per sample from which one GEMM per sample wins
DIRECT_3X3 = True           # 3×3 stride-1 padding-1 convs take the direct kernels (False: im2col)


# ----------------------------------------------------------------------------- arguments
def ntuple(v, n, what, op, minimum):
    """``v`` (an int or a sequence of ``n`` ints) as an n-tuple, each ≥ ``minimum`` (None:
    any int); else a ValueError naming ``op`` and ``what``."""
    if type(v) is int and (minimum is None or v >= minimum):  # the common case, quickly
        return (v,) * n
    vals = (v,) * n if isinstance(v, (int, np.integer)) else tuple(v) if isinstance(
        v, (tuple, list)) else None
    if (vals is None or len(vals) != n or isinstance(v, bool)
            or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                       and (minimum is None or a >= minimum) for a in vals)):
        many = "a pair of them" if n == 2 else f"a sequence of {n}"
        bound = "" if minimum is None else f" ≥ {minimum}"
        raise ValueError(f"{op}: {what} must be an int{bound} or {many}, got {v!r}")
    return tuple(int(a) for a in vals)


def pair(v, what, op, minimum):
    """``v`` (an int or a pair of ints) as a pair, each ≥ ``minimum``; else a ValueError."""
    return ntuple(v, 2, what, op, minimum)


def check_nd(op, x, ndim, what="input", layout="(N, C, H, W)"):
    """``x`` has ``ndim`` dims and a float dtype; else an error naming ``op`` and the shape."""
    if x.ndim != ndim:
        raise ValueError(f"{op}: expected a {ndim}-D {what} {layout}, got shape {x.shape}")
    if x.dtype not in KERNEL_DTYPES:
        raise TypeError(f"{op}: {what} must be float32 or float64, got {x.dtype}")


def check_4d(op, x, what="input", layout="(N, C, H, W)"):
    check_nd(op, x, 4, what, layout)


def unbatched(op, x, layout):
    """Whether ``x`` is PyTorch's unbatched form of an input whose batched ``layout`` is
    "(N, …)": False for the batched form (or not an array: the op says what it is), True for
    the same without N (one dim fewer); any other number of dims is a ValueError naming both.
    """
    ndim = layout.count(",") + 1
    if getattr(x, "ndim", ndim) == ndim:
        return False
    if x.ndim == ndim - 1:
        return True
    raise ValueError(f"{op}: expected a {ndim - 1}-D (unbatched) {layout.replace('N, ', '', 1)} "
                     f"or {ndim}-D (batched) {layout} input, got shape {tuple(x.shape)}")


def batch_of_one(op, x, layout, run, *more):
    """``run(x, *more)`` for an op whose batched input has the ``layout`` "(N, …)", which
    also takes PyTorch's unbatched form (the same without N).

    Batched ``x`` goes straight to ``run`` (no extra op, no copy). Unbatched ``x`` runs as a
    batch of one: a leading axis of 1 added to it (and to the arrays in ``more``, e.g.
    max_unpool2d's indices) and removed from the result (from each, when ``run`` returns a
    tuple such as (out, indices)). Any other number of dims is refused (``unbatched``).

    >>> import engine
    >>> from engine.fast.conv import conv2d
    >>> conv2d(engine.ones(3, 5, 5), engine.ones(2, 3, 3, 3)).shape   # (C, H, W) → (F, H', W')
    (2, 3, 3)
    """
    if not unbatched(op, x, layout):
        return run(x, *more)
    out = run(*(a.reshape((1,) + tuple(a.shape)) for a in (x,) + more))
    if isinstance(out, tuple):
        return tuple(o.reshape(o.shape[1:]) for o in out)
    return out.reshape(out.shape[1:])


def same_padding(size, k, s, d):
    """TensorFlow's 'same': (before, after) so that out = ceil(size / s)."""
    total = max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def padding_amounts(op, padding, sizes, kernel, strides, dilations, minimum=0):
    """The (before, after) padding of each spatial dim of input ``sizes`` ((L,), (H, W) or
    (D, H, W)) that a convolution's ``padding`` means: an int or one per dim (both sides
    alike, each ≥ ``minimum``; None: negative crops, as PyTorch's padding modes), 'valid'
    (none) or
    'same' (``same_padding`` from ``kernel``, ``strides`` and ``dilations``, one per dim),
    strings in any case. Anything else is a ValueError naming ``op``."""
    n = len(sizes)
    if isinstance(padding, str):
        if padding.lower() == "same":
            return tuple(same_padding(*dim) for dim in
                         zip(sizes, kernel, strides, dilations, strict=True))
        if padding.lower() == "valid":
            return ((0, 0),) * n
        many = "a 1-tuple" if n == 1 else "a pair" if n == 2 else f"a {n}-tuple"
        raise ValueError(f"{op}: padding must be an int, {many}, 'same' or 'valid', "
                         f"got {padding!r}")
    return tuple((p, p) for p in ntuple(padding, n, "padding", op, minimum))


def check_channels(op, x_shape, w_shape, b_shape, groups):
    """A convolution's channels agree: input (N, C, …), weight (F, C/groups, …), bias (F,)
    or None, ``groups`` a positive int dividing C and F; else a ValueError naming ``op`` and
    the shapes. Shared by conv1d, conv2d and conv3d."""
    C, (F, Cg) = x_shape[1], w_shape[:2]
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if C % groups or F % groups:
        raise ValueError(f"{op}: groups={groups} must divide both the {C} input channels "
                         f"and the {F} filters (input {x_shape}, weight {w_shape})")
    if Cg * groups != C:
        raise ValueError(f"{op}: channel mismatch: input {x_shape} has {C} channels but "
                         f"weight {w_shape} with groups={groups} expects {Cg * groups}")
    if b_shape is not None and tuple(b_shape) != (F,):
        raise ValueError(f"{op}: bias of shape {tuple(b_shape)} does not match the {F} "
                         f"filters of weight {w_shape}")


class ConvGeometry:
    """Validated sizes of one conv2d call (everything but the arrays).

    A 1-D convolution (``x_shape`` (N, C, L), ``w_shape`` (F, C/groups, k); int or 1-tuple
    stride, padding and dilation) is the 2-D one on (N, C, 1, L) with a (1, k) kernel: the
    sizes below are then those of that 2-D convolution, and the error messages speak of the
    1-D shapes the caller gave.
    """

    def __init__(self, x_shape, w_shape, b_shape, stride, padding, dilation, groups,
                 op="conv2d"):
        self.op, self.one_d = op, len(x_shape) == 3
        if self.one_d:  # the 2-D convolution of (N, C, 1, L) with (F, C/groups, 1, k)
            (N, C, W), (F, Cg, kw), H, kh = x_shape, w_shape, 1, 1
            self.sh, self.sw = 1, ntuple(stride, 1, "stride", op, 1)[0]
            self.dh, self.dw = 1, ntuple(dilation, 1, "dilation", op, 1)[0]
        else:
            N, C, H, W = x_shape
            F, Cg, kh, kw = w_shape
            self.sh, self.sw = pair(stride, "stride", op, 1)
            self.dh, self.dw = pair(dilation, "dilation", op, 1)
        check_channels(op, x_shape, w_shape, b_shape, groups)
        if self.one_d:
            (top, bottom), ((left, right),) = (0, 0), padding_amounts(
                op, padding, (W,), (kw,), (self.sw,), (self.dw,))
        else:
            (top, bottom), (left, right) = padding_amounts(
                op, padding, (H, W), (kh, kw), (self.sh, self.sw), (self.dh, self.dw))
        eh, ew = self.dh * (kh - 1) + 1, self.dw * (kw - 1) + 1  # dilated kernel extent
        if eh > H + top + bottom or ew > W + left + right:
            two = not self.one_d
            size = (lambda h, w: f"{h}x{w}") if two else (lambda h, w: f"{w}")
            pads = (top, bottom, left, right) if two else (left, right)
            raise ValueError(f"{op}: kernel {size(kh, kw)} (dilation {size(self.dh, self.dw)}, "
                             f"extent {size(eh, ew)}) is larger than the padded input "
                             f"{size(H + top + bottom, W + left + right)} (input {x_shape}, "
                             f"weight {w_shape}, padding {pads})")
        self.N, self.C, self.H, self.W, self.F, self.kh, self.kw = N, C, H, W, F, kh, kw
        self.groups, self.Cg, self.Fg = groups, Cg, F // groups
        self.top, self.bottom, self.left, self.right = top, bottom, left, right
        self.Ho = (H + top + bottom - eh) // self.sh + 1
        self.Wo = (W + left + right - ew) // self.sw + 1
        self.P = self.Ho * self.Wo           # output pixels per sample
        self.Kg = Cg * kh * kw               # GEMM depth per group
        self.K = C * kh * kw                 # rows of the column matrix

    @property
    def direct(self):
        """Whether the direct 3×3 kernels apply (engine/fast/kernels/direct.py): a 3×3 kernel,
        stride 1, dilation 1, one group, padding 1 on every side."""
        return ((self.kh, self.kw, self.sh, self.sw, self.dh, self.dw, self.groups) ==
                (3, 3, 1, 1, 1, 1, 1) and self.top == self.bottom == self.left == self.right == 1)

    def plan(self, itemsize, keep_cols):
        """Pick the column layout and chunk size for this call (see the module docstring)."""
        self.per_sample = self.P >= PER_SAMPLE_MIN_P
        self.shift = self.sh == self.sw == 1 and self.Wo == self.W
        self.nb = max(1, min(self.N, CHUNK_BYTES // max(1, self.K * self.P * itemsize)))
        self.keep_cols = keep_cols and self.N * self.K * self.P * itemsize <= KEEP_COLS_BYTES

    def chunks(self):
        """(n0, n1, cols shape) for each chunk of the batch."""
        for n0 in range(0, self.N, self.nb):
            n1 = min(self.N, n0 + self.nb)
            n = n1 - n0
            yield n0, n1, (n * self.K, self.P) if self.per_sample else (self.K, n * self.P)

    def to_columns(self, x3, cols):
        """im2col of x3 (n, C, H·W) into cols, with the faster kernel that applies."""
        if self.shift:
            im2col_shift(x3, cols, self.H, self.W, self.kh, self.kw, self.top, self.left,
                         self.dh, self.dw, self.Ho, self._masks(), self.per_sample)
        else:
            im2col(x3, cols, self._tables()[0], self.per_sample)

    def from_columns(self, cols, dx3):
        """col2im of cols into dx3 (n, C, H·W): the shift kernel when it applies, else the
        table kernel that loops over fewer pixels (output pixels when strided)."""
        if self.shift:
            col2im_shift(cols, dx3, self.H, self.W, self.kh, self.kw, self.top, self.left,
                         self.dh, self.dw, self.Ho, self._masks(), self.per_sample)
        elif self.P < self.H * self.W:
            col2im_scatter(cols, dx3, self._tables()[0], self.per_sample)
        else:
            col2im(cols, dx3, self._tables()[1], self.per_sample)

    def _masks(self):
        return column_masks(self.W, self.Ho, self.kw, self.left, self.dw)

    def _tables(self):
        return window_tables(self.H, self.W, self.kh, self.kw, self.sh, self.sw, self.top,
                             self.left, self.dh, self.dw, self.Ho, self.Wo)


# ----------------------------------------------------------------------------- scratch pool
_POOL = threading.local()  # one pool per thread: two threads never share a scratch buffer


def workspace(name, shape, dtype):
    """A scratch array of ``shape`` (contents undefined), reusing one growing buffer per name.

    Freed multi-MB temporaries go back to the OS and every first touch of a fresh page costs a
    page fault (~1 µs per 4 KiB): reusing the buffer keeps steady-state calls fault-free.
    Only for temporaries that die before the call returns. Each thread has its own pool.
    """
    n = math.prod(shape) if isinstance(shape, tuple) else int(shape)
    pool = _POOL.__dict__
    buf = pool.get((name, np.dtype(dtype)))
    if buf is None or buf.size < n:
        buf = pool[(name, np.dtype(dtype))] = np.empty(max(n, 1), dtype)
    return buf[:n].reshape(shape)


# ----------------------------------------------------------------------------- the GEMMs
def columns_forward(geo, x, w, b=None):
    """conv2d of C-contiguous ``x`` (N, C, H, W) with ``w`` (F, C/groups, kh, kw) by im2col and
    one GEMM per chunk (the general path; ``geo.plan`` first). Returns (out, kept): the
    columns kept for dW (a flat array, when ``geo.keep_cols``) or None."""
    N, F, P, G, Fg, Kg = geo.N, geo.F, geo.P, geo.groups, geo.Fg, geo.Kg
    w3, x3 = w.reshape(G, Fg, Kg), x.reshape(N, geo.C, -1)
    out = np.empty((N, F, geo.Ho, geo.Wo), x.dtype)
    # Columns kept for dW (when small enough) instead of rebuilt in backward.
    kept = np.empty(N * geo.K * P, x.dtype) if geo.keep_cols else None
    per = geo.K * P  # column-matrix entries per sample
    for n0, n1, shape in geo.chunks():
        n = n1 - n0
        cols = (kept[n0 * per:n1 * per] if geo.keep_cols
                else workspace("cols", n * per, x.dtype)).reshape(shape)
        geo.to_columns(x3[n0:n1], cols)
        out_n = out[n0:n1].reshape(n, G, Fg, P)
        if geo.per_sample:  # one GEMM per sample, straight into NCHW
            np.matmul(w3, cols.reshape(n, G, Kg, P), out=out_n)
            if b is not None:
                out_n += b.reshape(G, Fg, 1)
        else:               # one GEMM for the chunk, then (F, n, P) -> (n, F, P)
            y = workspace("y", (G, Fg, n * P), x.dtype)
            np.matmul(w3, cols.reshape(G, Kg, n * P), out=y)
            y = y.reshape(F, n, P).transpose(1, 0, 2)
            if b is None:
                out_n.reshape(n, F, P)[...] = y
            else:
                np.add(y, b.reshape(F, 1), out=out_n.reshape(n, F, P))
    return out, kept


def columns_backward(geo, g, w=None, x=None, kept=None):
    """The gradients of ``columns_forward``'s output for dY = ``g`` (N, F, Ho, Wo),
    C-contiguous: (dx, dW), each None unless asked for by passing what it needs::

        dx = col2im(Wᵀ · dY)     (pass w)
        dW = dY · colsᵀ          (pass x, or the ``kept`` columns of the forward)

    The same two products are conv_transpose2d's forward (its input as dY) and its weight
    gradient (its output gradient as x). ``geo.plan`` first.
    """
    N, F, P, G, Fg, Kg = geo.N, geo.F, geo.P, geo.groups, geo.Fg, geo.Kg
    dt = g.dtype
    need_dx, need_dw = w is not None, x is not None or kept is not None
    dx = np.empty((N, geo.C, geo.H, geo.W), dt) if need_dx else None
    dw = np.zeros((G, Fg, Kg), dt) if need_dw else None
    wt = w.reshape(G, Fg, Kg).transpose(0, 2, 1) if need_dx else None
    x3 = x.reshape(N, geo.C, -1) if x is not None else None
    dx3 = dx.reshape(N, geo.C, -1) if need_dx else None
    per = geo.K * P
    for n0, n1, shape in geo.chunks():
        n = n1 - n0
        if geo.per_sample:  # dY as it comes: (n, G, Fg, P)
            dy = g[n0:n1].reshape(n, G, Fg, P)
        else:               # dY with channels as rows, as the forward GEMM made it
            dy = workspace("dy", (G, Fg, n * P), dt)
            dy.reshape(F, n, P)[...] = g[n0:n1].reshape(n, F, P).transpose(1, 0, 2)
        if need_dw:
            if kept is not None:
                cols = kept[n0 * per:n1 * per].reshape(shape)
            else:
                cols = workspace("cols", shape, dt)
                geo.to_columns(x3[n0:n1], cols)
            if geo.per_sample:
                colsT = cols.reshape(n, G, Kg, P).transpose(0, 1, 3, 2)
                dw += np.matmul(dy, colsT, out=workspace("dw", (n, G, Fg, Kg), dt)).sum(0)
            else:
                colsT = cols.reshape(G, Kg, n * P).transpose(0, 2, 1)
                dw += np.matmul(dy, colsT, out=workspace("dw", (G, Fg, Kg), dt))
        if need_dx:
            dshape = (n, G, Kg, P) if geo.per_sample else (G, Kg, n * P)
            dcols = np.matmul(wt, dy, out=workspace("dcols", dshape, dt))
            geo.from_columns(dcols.reshape(shape), dx3[n0:n1])
    dw = None if dw is None else dw.reshape(geo.F, geo.Cg, geo.kh, geo.kw)
    return dx, dw


# ----------------------------------------------------------------------------- the ops
class Conv2d(Op):
    name = "conv2d"
    twice = False
    formula = "dx = col2im(Wᵀ·dy), dW = dy·colsᵀ, db = Σ dy"

    def forward(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1, relu=False):
        check_4d("conv2d", x)
        check_4d("conv2d", w, "weight", "(F, C/groups, kh, kw)")
        if b is not None and b.ndim != 1:
            raise ValueError(f"conv2d: bias must be 1-D (F,), got shape {b.shape}")
        self.geo = ConvGeometry(x.shape, w.shape, None if b is None else b.shape,
                                stride, padding, dilation, groups)
        return self.run(x, w, b, relu)

    def run(self, x, w, b, relu=False):
        """The convolution of 4-D x and w by ``self.geo`` (validated), saving for backward."""
        geo = self.geo
        self.relu = bool(relu)
        need = getattr(self, "needs_grad", (True,) * 3)
        x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
        if DIRECT_3X3 and geo.direct and w.dtype == x.dtype and (b is None or b.dtype == x.dtype):
            out, xt = conv3x3_forward(x, w, b, workspace, relu=self.relu)
            # dW needs x (kept in the kernels' tall layout); dx needs w.
            self.save(xt if need[1] else None, w if need[0] else None, None)
            self.shapes = (x.shape, w.shape, out.shape)
            return out
        geo.plan(x.itemsize, keep_cols=need[1])
        out, kept = columns_forward(geo, x, w, b)
        if self.relu:
            np.maximum(out, 0, out=out)
        # dW needs the columns (kept, or x to rebuild them); dx needs w.
        self.save(x if need[1] and kept is None else None, w if need[0] else None, kept)
        self.shapes = (x.shape, w.shape, out.shape)
        return out

    def backward(self, g, *inputs, out):
        x, w, kept = self.saved
        relu_out = out if self.relu else None  # with relu=True, dy passes where out > 0
        geo = self.geo
        need = tuple(self.needs_grad) + (False,) * (3 - len(self.needs_grad))
        g = np.ascontiguousarray(g)  # upstream gradients can be broadcast or strided views
        dt = g.dtype
        if not hasattr(geo, "per_sample") and (need[0] or need[1]):  # the direct kernels
            grads = conv3x3_backward(g, x, w, workspace, need[0], need[1], need[2], relu_out)
            return grads[:len(self.needs_grad)]
        if relu_out is not None:  # through the fused relu: dy where the output is > 0
            g = np.where(relu_out > 0, g, 0).astype(dt, copy=False)
        db = g.sum(axis=(0, 2, 3)) if need[2] else None
        dx = dw = None
        if need[0] or need[1]:
            dx, dw = columns_backward(geo, g, w if need[0] else None,
                                      x if need[1] and kept is None else None,
                                      kept if need[1] else None)
        return (dx, dw, db)[:len(self.needs_grad)]

    def describe(self):
        x, w, out = self.shapes
        geo = self.geo
        return (f"x {x} ⊛ W {w} → {out}, stride {(geo.sh, geo.sw)}, padding "
                f"{(geo.top, geo.bottom, geo.left, geo.right)}, dilation {(geo.dh, geo.dw)}, "
                f"groups {geo.groups}" + (", then relu" if self.relu else ""))


class Conv1d(Conv2d):
    """conv2d on (N, C, 1, L) with a (F, C/groups, 1, k) kernel: the same kernels, reshaped."""

    name = "conv1d"
    formula = "as conv2d on (N, C, 1, L): dx = col2im(Wᵀ·dy), dW = dy·colsᵀ, db = Σ dy"

    def forward(self, x, w, b=None, *, stride=1, padding=0, dilation=1, groups=1):
        check_nd("conv1d", x, 3, layout="(N, C, L)")
        check_nd("conv1d", w, 3, "weight", "(F, C/groups, k)")
        if b is not None and b.ndim != 1:
            raise ValueError(f"conv1d: bias must be 1-D (F,), got shape {b.shape}")
        self.geo = ConvGeometry(x.shape, w.shape, None if b is None else b.shape,
                                stride, padding, dilation, groups, op="conv1d")
        self.shapes1 = (x.shape, w.shape)
        out = self.run(x[:, :, None, :], w[:, :, None, :], b)
        return out.reshape(out.shape[0], out.shape[1], out.shape[3])

    def backward(self, g, *inputs, out):
        (x_shape, w_shape), geo = self.shapes1, self.geo
        grads = super().backward(g.reshape(geo.N, geo.F, 1, geo.Wo), out=None)
        dx, dw = grads[0], grads[1] if len(grads) > 1 else None
        return ((None if dx is None else dx.reshape(x_shape),
                 None if dw is None else dw.reshape(w_shape)) + tuple(grads[2:]))

    def describe(self):
        (x, w), geo = self.shapes1, self.geo
        return (f"x {x} ⊛ W {w} → {(geo.N, geo.F, geo.Wo)}, stride {geo.sw}, padding "
                f"{(geo.left, geo.right)}, dilation {geo.dw}, groups {geo.groups}")


def transpose_sizes(op, x_shape, w_shape, b_shape, stride, padding, output_padding, groups,
                    dilation, layout):
    """A transposed convolution's arguments checked, for any number of spatial dims n: x
    (N, C_in, *sizes), w (C_in, C_out/groups, *kernel) (``layout`` names w's dims in the
    messages). Returns (stride, padding, output_padding, dilation, out), n-tuples each, with
    PyTorch's ``out = (size − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1``.
    """
    n, C, Cw = len(x_shape) - 2, x_shape[1], w_shape[0]
    s, d = ntuple(stride, n, "stride", op, 1), ntuple(dilation, n, "dilation", op, 1)
    if isinstance(padding, str):
        many = "a pair" if n == 2 else f"a {n}-tuple"
        raise ValueError(f"{op}: padding must be an int or {many} (there is no 'same' or "
                         f"'valid' for a transposed convolution), got {padding!r}")
    p = ntuple(padding, n, "padding", op, 0)
    o = ntuple(output_padding, n, "output_padding", op, 0)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if C != Cw:
        raise ValueError(f"{op}: channel mismatch: input {x_shape} has {C} channels but "
                         f"weight {w_shape} {layout} expects {Cw}")
    if C % groups:
        raise ValueError(f"{op}: groups={groups} must divide the {C} input channels "
                         f"(input {x_shape}, weight {w_shape})")
    if not all(oo < ss or oo < dd for oo, ss, dd in zip(o, s, d, strict=True)):
        raise ValueError(f"{op}: output_padding {o} must be smaller than either the "
                         f"stride {s} or the dilation {d}, in each dim")
    out = tuple((m - 1) * ss - 2 * pp + dd * (k - 1) + oo + 1 for m, ss, pp, dd, k, oo in
                zip(x_shape[2:], s, p, d, w_shape[2:], o, strict=True))
    if min(out) < 1:
        raise ValueError(f"{op}: output size {'x'.join(map(str, out))} is too small (input "
                         f"{x_shape}, weight {w_shape}, stride {s}, padding {p}, dilation "
                         f"{d}, output_padding {o}): reduce the padding")
    Cout = w_shape[1] * groups
    if b_shape is not None and tuple(b_shape) != (Cout,):
        raise ValueError(f"{op}: bias of shape {tuple(b_shape)} does not match the {Cout} "
                         f"output channels of weight {w_shape} with groups={groups}")
    return s, p, o, d, out


def transpose_geometry(x_shape, w_shape, b_shape, stride, padding, output_padding, groups,
                       dilation):
    """The conv2d whose input gradient conv_transpose2d computes, validated for the
    transposed call (``transpose_sizes``): x (N, C_in, H, W), w (C_in, C_out/groups, kh, kw)
    → out (N, C_out, Ho, Wo) with ``Ho = (H − 1)·sh − 2·ph + dh·(kh − 1) + oph + 1`` (PyTorch's
    rule; Wo alike).

    The returned ConvGeometry is that conv2d's: input (N, C_out, Ho, Wo), weight w read as
    (F = C_in, C_out/groups, kh, kw). Its output is H × W, or larger when output_padding
    reaches the stride (allowed below the dilation): ``geo.H_in, geo.W_in`` keep H, W.
    """
    op = "conv_transpose2d"
    s, p, o, d, (Ho, Wo) = transpose_sizes(op, x_shape, w_shape, b_shape, stride, padding,
                                           output_padding, groups, dilation,
                                           "(C_in, C_out/groups, kh, kw)")
    N, C, H, W = x_shape
    geo = ConvGeometry((N, w_shape[1] * groups, Ho, Wo), w_shape, None, s, p, d, groups,
                       op=op)
    geo.H_in, geo.W_in, geo.output_padding = H, W, o
    return geo


class ConvTranspose2d(Op):
    """The adjoint of conv2d with respect to its input: every input pixel spreads its value
    times the kernel over the output (stride apart), overlaps adding up. With the conv2d of
    ``transpose_geometry`` (columns ``cols``, one column per input pixel here)::

        forward   out = col2im(Wᵀ · x) + b          (conv2d's dx, with x as dY)
        backward  dx  = conv2d(dy, W)    dW = x · cols(dy)ᵀ    db = Σ dy

    so the forward and dW are conv2d's two backward GEMMs, and dx its forward GEMM.
    """

    name = "conv_transpose2d"
    twice = False
    formula = "out = col2im(Wᵀ·x) + b; dx = conv2d(dy, W), dW = x·cols(dy)ᵀ, db = Σ dy"

    def forward(self, x, w, b=None, *, stride=1, padding=0, output_padding=0, groups=1,
                dilation=1):
        op = "conv_transpose2d"
        check_4d(op, x)
        check_4d(op, w, "weight", "(C_in, C_out/groups, kh, kw)")
        if b is not None and b.ndim != 1:
            raise ValueError(f"{op}: bias must be 1-D (C_out,), got shape {b.shape}")
        geo = self.geo = transpose_geometry(x.shape, w.shape, None if b is None else b.shape,
                                            stride, padding, output_padding, groups, dilation)
        need = getattr(self, "needs_grad", (True,) * 3)
        xg = self.as_gradient(np.ascontiguousarray(x))
        w = np.ascontiguousarray(w)
        geo.plan(x.itemsize, keep_cols=False)
        out = columns_backward(geo, xg, w=w)[0]
        if b is not None:
            out += b.reshape(1, -1, 1, 1)
        self.save(xg if need[1] else None, w if need[0] else None)
        self.shapes = (x.shape, w.shape, out.shape)
        return out

    def as_gradient(self, x):
        """x as conv2d's output gradient: zero rows/columns appended when output_padding
        reaches the stride (that conv2d then has outputs no input pixel of ours feeds)."""
        geo = self.geo
        if (geo.Ho, geo.Wo) == (geo.H_in, geo.W_in):
            return x
        xg = np.zeros((geo.N, geo.F, geo.Ho, geo.Wo), x.dtype)
        xg[:, :, :geo.H_in, :geo.W_in] = x
        return xg

    def backward(self, g, *inputs, out):
        xg, w = self.saved
        geo = self.geo
        need = tuple(self.needs_grad) + (False,) * (3 - len(self.needs_grad))
        g = np.ascontiguousarray(g)
        dx = dw = None
        # dy's columns serve dx (conv2d(dy, W)) and dW (x · colsᵀ): built once when both.
        geo.plan(g.itemsize, keep_cols=need[0] and need[1])
        kept = None
        if need[0]:
            y, kept = columns_forward(geo, g, w)
            dx = (y if y.shape[2:] == (geo.H_in, geo.W_in)
                  else np.ascontiguousarray(y[:, :, :geo.H_in, :geo.W_in]))
        if need[1]:
            dw = columns_backward(geo, xg, x=None if kept is not None else g, kept=kept)[1]
        db = g.sum(axis=(0, 2, 3)) if need[2] else None
        return (dx, dw, db)[:len(self.needs_grad)]

    def describe(self):
        x, w, out = self.shapes
        geo = self.geo
        return (f"x {x} ⊛ᵀ W {w} → {out}, stride {(geo.sh, geo.sw)}, padding "
                f"{(geo.top, geo.left)}, output_padding {geo.output_padding}, dilation "
                f"{(geo.dh, geo.dw)}, groups {geo.groups}")


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, relu=False):
    """2-D convolution (cross-correlation, as in PyTorch) of ``x`` (N, C, H, W) with ``w``
    → (N, F, Ho, Wo); PyTorch's unbatched ``x`` (C, H, W) gives (F, Ho, Wo) (a batch of
    one); any other number of dims is refused.

    ``w`` has shape (F, C/groups, kh, kw), ``b`` (F,) or None. ``padding``: int, (ph, pw),
    ``'same'`` (TensorFlow's rule, extra on the bottom/right) or ``'valid'``. ``relu=True``
    returns max(conv2d(...), 0) as one op (Keras's ``Conv2D(activation='relu')``): the same
    values and gradients as ``conv2d(...).relu()`` (relu's gradient is 0 at 0, as PyTorch's),
    without the separate relu pass over the output forward and over dy backward.

    >>> import numpy as np, engine
    >>> from engine.fast.conv import conv2d
    >>> x = engine.ones(1, 1, 4, 4, requires_grad=True)
    >>> w = engine.ones(2, 1, 3, 3, requires_grad=True)
    >>> y = conv2d(x, w, padding=1)
    >>> y.shape
    (1, 2, 4, 4)
    >>> y.data[0, 0]
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]], dtype=float32)
    >>> y.sum().backward(); x.grad[0, 0, 0]   # each corner pixel is seen by 4 windows, 2 filters
    tensor([ 8., 12., 12.,  8.], shape=(4,), dtype=float32)
    """
    keep_freed_memory()  # from the first conv on (memory.py): freed buffers are reused
    weights = (w,) if b is None else (w, b)
    return batch_of_one("conv2d", x, "(N, C, H, W)", lambda x: Conv2d.apply(
        x, *weights, stride=stride, padding=padding, dilation=dilation, groups=groups,
        relu=relu))


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation, as PyTorch's ``F.conv1d``) of ``x`` (N, C, L) with
    ``w`` (F, C/groups, k), ``b`` (F,) or None → (N, F, Lo), ``Lo = (L + 2p − d·(k − 1) − 1)
    // s + 1``; unbatched ``x`` (C, L) → (F, Lo), as PyTorch. ``padding``: an int, ``'same'``
    (extra on the right) or ``'valid'``.

    It is conv2d on (N, C, 1, L) with a 1 × k kernel: the same Numba kernels and GEMMs.
    A sequence model's view: each output step sees a window of k input steps (a recurrent
    net's step sees one, plus its state).

    >>> import engine
    >>> from engine.fast.conv import conv1d
    >>> x = engine.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    >>> conv1d(x, engine.tensor([[[1.0, -1.0]]])).data       # x[t] − x[t + 1]
    array([[[-1., -1., -1.]]], dtype=float32)
    """
    keep_freed_memory()
    weights = (w,) if b is None else (w, b)
    return batch_of_one("conv1d", x, "(N, C, L)", lambda x: Conv1d.apply(
        x, *weights, stride=stride, padding=padding, dilation=dilation, groups=groups))


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution (PyTorch's ``F.conv_transpose2d``, the adjoint of conv2d
    with respect to its input: the decoder half of an autoencoder).

    x (N, C_in, H, W), w (C_in, C_out/groups, kh, kw), b (C_out,) or None → (N, C_out, Ho, Wo)
    with ``Ho = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1``;
    unbatched x (C_in, H, W) → (C_out, Ho, Wo), as PyTorch.
    ``output_padding`` (smaller than the stride or the dilation) adds rows/columns at the
    bottom/right, to pick which size a strided conv2d is inverted to (7 → 14 vs 7 → 13).

    >>> import engine
    >>> from engine.fast.conv import conv_transpose2d
    >>> x = engine.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> conv_transpose2d(x, engine.ones(1, 1, 2, 2), stride=2).data[0, 0]  # each pixel → 2×2
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]], dtype=float32)
    """
    keep_freed_memory()
    weights = (w,) if b is None else (w, b)
    return batch_of_one("conv_transpose2d", x, "(N, C_in, H, W)", lambda x: ConvTranspose2d.apply(
        x, *weights, stride=stride, padding=padding, output_padding=output_padding,
        groups=groups, dilation=dilation))


def conv_transpose1d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-D convolution (PyTorch's ``F.conv_transpose1d``): x (N, C_in, L), w
    (C_in, C_out/groups, k), b (C_out,) or None → (N, C_out, Lo) with ``Lo = (L − 1)·stride
    − 2·padding + dilation·(k − 1) + output_padding + 1``; unbatched x (C_in, L) → (C_out,
    Lo). It is conv_transpose2d on (N, C_in, 1, L) with a 1 × k kernel.

    >>> import engine
    >>> from engine.fast.conv import conv_transpose1d
    >>> conv_transpose1d(engine.tensor([[[1.0, 2.0]]]), engine.ones(1, 1, 2), stride=2).data
    array([[[1., 1., 2., 2.]]], dtype=float32)
    """
    op = "conv_transpose1d"
    if getattr(w, "ndim", 3) != 3:
        raise ValueError(f"{op}: weight must be (C_in, C_out/groups, k), got shape "
                         f"{tuple(w.shape)}")
    (s,), (d,) = ntuple(stride, 1, "stride", op, 1), ntuple(dilation, 1, "dilation", op, 1)
    (p,), (o,) = ntuple(padding, 1, "padding", op, 0), ntuple(output_padding, 1,
                                                                "output_padding", op, 0)

    def run(x):
        return conv_transpose2d(x.unsqueeze(2), w.unsqueeze(2), b, stride=(1, s),
                                padding=(0, p), output_padding=(0, o), groups=groups,
                                dilation=(1, d)).squeeze(2)
    return batch_of_one(op, x, "(N, C_in, L)", run)


# ----------------------------------------------------------------------------- reference
def conv2d_reference(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """The definition, one output pixel at a time (slow; for tests and the op registry)."""
    geo = ConvGeometry(x.shape, w.shape, None if b is None else b.shape, stride, padding,
                       dilation, groups)
    xp = np.pad(x, ((0, 0), (0, 0), (geo.top, geo.bottom), (geo.left, geo.right)))
    out = np.zeros((geo.N, geo.F, geo.Ho, geo.Wo), np.result_type(x, w))
    for grp in range(groups):
        cs, fs = slice(grp * geo.Cg, (grp + 1) * geo.Cg), slice(grp * geo.Fg, (grp + 1) * geo.Fg)
        for oh in range(geo.Ho):
            for ow in range(geo.Wo):
                h, v = oh * geo.sh, ow * geo.sw
                patch = xp[:, cs, h:h + geo.dh * (geo.kh - 1) + 1:geo.dh,
                           v:v + geo.dw * (geo.kw - 1) + 1:geo.dw]        # (N, Cg, kh, kw)
                out[:, fs, oh, ow] = np.einsum("nckl,fckl->nf", patch, w[fs])
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def conv1d_reference(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """The definition, one output step at a time: out[n, f, t] = b[f] + Σ_c Σ_i
    w[f, c, i]·x[n, c, t·s − left + i·d] (0 outside x)."""
    s, d = ntuple(stride, 1, "stride", "conv1d", 1)[0], ntuple(dilation, 1, "d", "conv1d", 1)[0]
    N, C, L = x.shape
    F, Cg, k = w.shape
    ((left, right),) = padding_amounts("conv1d", padding, (L,), (k,), (s,), (d,))
    xp = np.pad(x, ((0, 0), (0, 0), (left, right)))
    Lo = (L + left + right - d * (k - 1) - 1) // s + 1
    out = np.zeros((N, F, Lo), np.result_type(x, w))
    Fg = F // groups
    for f in range(F):
        c0 = f // Fg * Cg                 # the first input channel of f's group
        for t in range(Lo):
            win = xp[:, c0:c0 + Cg, t * s:t * s + d * (k - 1) + 1:d]   # (N, Cg, k)
            out[:, f, t] = (win * w[f]).sum(axis=(1, 2))
    return out if b is None else out + b.reshape(1, -1, 1)


def conv_transpose2d_reference(x, w, b=None, stride=1, padding=0, output_padding=0,
                               groups=1, dilation=1):
    """The definition, one input pixel at a time: x[n, c, h, v] adds x·w[c, o] to the output
    window whose corner is (h·sh − ph, v·sw − pw), taps dilation apart (slow)."""
    (sh, sw), (ph, pw) = pair(stride, "s", "t", 1), pair(padding, "p", "t", 0)
    (oh, ow), (dh, dw) = pair(output_padding, "o", "t", 0), pair(dilation, "d", "t", 1)
    N, C, H, W = x.shape
    _, Cog, kh, kw = w.shape
    Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    # Build on an output padded by ph/pw on every side (plus room for the taps), then crop.
    big = np.zeros((N, Cog * groups, Ho + 2 * ph + dh * kh + sh, Wo + 2 * pw + dw * kw + sw),
                   np.result_type(x, w))
    Cg = C // groups
    for c in range(C):
        o0 = c // Cg * Cog                # the first output channel of c's group
        for h in range(H):
            for v in range(W):
                win = big[:, o0:o0 + Cog, h * sh:h * sh + dh * (kh - 1) + 1:dh,
                          v * sw:v * sw + dw * (kw - 1) + 1:dw]
                win += x[:, c, h, v][:, None, None, None] * w[c][None]
    out = big[:, :, ph:ph + Ho, pw:pw + Wo]
    return out if b is None else out + b.reshape(1, -1, 1, 1)


# ----------------------------------------------------------------------------- registry
def _conv_shapes(rng):
    groups = int(rng.choice([1, 1, 2, 3]))
    n, cg, fg = (int(v) for v in rng.integers(1, 3, size=3))
    h, w = (int(v) for v in rng.integers(1, 7, size=2))
    kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    shapes = ((n, cg * groups, h, w), (fg * groups, cg, kh, kw))
    return shapes + ((fg * groups,),) if rng.random() < 0.5 else shapes


def _conv_params(rng, shapes):
    (_, c, h, w), (_, cg, kh, kw) = shapes[:2]
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = [0, 1, 2, (int(rng.integers(0, 3)), int(rng.integers(0, 3))), "same", "valid"][
        int(rng.integers(0, 6))]
    pads = {"same": (9, 9), "valid": (0, 0)}.get(padding) if isinstance(padding, str) else \
        pair(padding, "padding", "conv2d", 0)
    # The largest dilation (≤ 2) whose kernel extent fits; 'same' if even 1 does not fit.
    dil = []
    for k, size, p in ((kh, h, pads[0]), (kw, w, pads[1])):
        fits = [d for d in (1, 2) if d * (k - 1) + 1 <= size + 2 * p]
        dil.append(int(rng.choice(fits)) if fits else 1)
        if not fits:
            padding = "same"
    return {"stride": stride, "padding": padding, "dilation": tuple(dil), "groups": c // cg}


register(OpSpec(
    "conv2d", lambda x, w, b=None, **p: conv2d(x, w, b, **p), conv2d_reference,
    arity=2, shapes=_conv_shapes, params=_conv_params, values=(normal,), ops=("conv2d",),
    twice=False,
    errors=(
        ErrorCase(lambda: conv2d(T(3, 5), T(4, 3, 3, 3)), ValueError,
                  r"conv2d: expected a 3-D \(unbatched\) \(C, H, W\) or 4-D \(batched\) "
                  r"\(N, C, H, W\) input, got shape \(3, 5\)"),
        ErrorCase(lambda: conv2d(T(1, 3, 5, 5), T(4, 2, 3, 3)), ValueError,
                  r"conv2d: channel mismatch: input \(1, 3, 5, 5\) .* weight \(4, 2, 3, 3\)"),
        ErrorCase(lambda: conv2d(T(1, 4, 5, 5), T(6, 2, 3, 3), groups=3),
                  ValueError,
                  r"conv2d: groups=3 must divide .*\(1, 4, 5, 5\).*\(6, 2, 3, 3\)"),
        ErrorCase(lambda: conv2d(T(1, 1, 2, 2), T(1, 1, 5, 5), padding=1),
                  ValueError,
                  r"conv2d: kernel 5x5 .* larger than the padded input 4x4 .*\(1, 1, 2, 2\)"),
        ErrorCase(lambda: conv2d(T(1, 1, 5, 5), T(1, 1, 3, 3), padding="full"),
                  ValueError, r"conv2d: padding must be .*'full'"),
    )))


def _conv1d_shapes(rng):
    groups = int(rng.choice([1, 1, 2]))
    n, cg, fg = (int(v) for v in rng.integers(1, 3, size=3))
    length, k = int(rng.integers(1, 9)), int(rng.integers(1, 4))
    shapes = ((n, cg * groups, length), (fg * groups, cg, k))
    return shapes + ((fg * groups,),) if rng.random() < 0.5 else shapes


def _conv1d_params(rng, shapes):
    (_, c, length), (_, cg, k) = shapes[:2]
    padding = [0, 1, 2, "same", "valid"][int(rng.integers(0, 5))]
    pad = {"same": 9, "valid": 0}.get(padding, padding)
    fits = [d for d in (1, 2, 3) if d * (k - 1) + 1 <= length + 2 * pad]
    if not fits:
        padding, fits = "same", [1]
    return {"stride": int(rng.integers(1, 3)), "padding": padding,
            "dilation": int(rng.choice(fits)), "groups": c // cg}


register(OpSpec(
    "conv1d", lambda x, w, b=None, **p: conv1d(x, w, b, **p), conv1d_reference,
    arity=2, shapes=_conv1d_shapes, params=_conv1d_params, values=(normal,), ops=("conv1d",),
    twice=False,
    errors=(
        ErrorCase(lambda: conv1d(T(2, 3, 5, 5), T(4, 3, 3)), ValueError,
                  r"conv1d: expected a 2-D \(unbatched\) \(C, L\) or 3-D \(batched\) "
                  r"\(N, C, L\) input, got shape \(2, 3, 5, 5\)"),
        ErrorCase(lambda: conv1d(T(1, 2, 5), T(3, 3, 2)), ValueError,
                  r"conv1d: channel mismatch: input \(1, 2, 5\) .* weight \(3, 3, 2\)"),
        ErrorCase(lambda: conv1d(T(1, 2, 5), T(3, 2, 7)), ValueError,
                  r"conv1d: kernel 7 \(dilation 1, extent 7\) is larger than the padded "
                  r"input 5 \(input \(1, 2, 5\), weight \(3, 2, 7\), padding \(0, 0\)\)"),
        ErrorCase(lambda: conv1d(T(1, 2, 5), T(3, 2, 2), stride=(1, 1)), ValueError,
                  r"conv1d: stride must be an int ≥ 1 or a sequence of 1, got \(1, 1\)"),
    )))


def _convt_shapes(rng, dims=2, largest=4, kernel=3):
    """(x, w) or (x, w, b) of a transposed convolution over ``dims`` spatial dims of 1 to
    ``largest`` cells, with a kernel of 1 to ``kernel`` (conv_transpose3d's too)."""
    groups = int(rng.choice([1, 1, 2]))
    n, cg, og = (int(v) for v in rng.integers(1, 3, size=3))
    sizes = tuple(int(v) for v in rng.integers(1, largest + 1, size=dims))
    k = tuple(int(v) for v in rng.integers(1, kernel + 1, size=dims))
    shapes = ((n, cg * groups) + sizes, (cg * groups, og) + k)
    return shapes + ((og * groups,),) if rng.random() < 0.5 else shapes


def _convt_params(rng, shapes, most=3):
    """Parameters for ``_convt_shapes``' shapes: strides and groups up to ``most``."""
    (_, c, *sizes), (_, og, *kernel) = shapes[:2]
    # groups: fixed by the bias (C_out = og·groups) when there is one, else any divisor of C_in.
    groups = shapes[2][0] // og if len(shapes) > 2 else int(
        rng.choice([g for g in range(1, most + 1) if c % g == 0]))
    stride = tuple(int(v) for v in rng.integers(1, most + 1, size=len(sizes)))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=len(sizes)))
    # output_padding below the stride or the dilation; padding keeps the output ≥ 1.
    out_pad = tuple(int(rng.integers(0, max(s, d)))
                    for s, d in zip(stride, dilation, strict=True))
    padding = tuple(int(rng.integers(0, 1 + ((m - 1) * s + d * (k - 1) + o) // 2))
                    for m, s, d, k, o in zip(sizes, stride, dilation, kernel, out_pad,
                                             strict=True))
    return {"stride": stride, "padding": padding, "output_padding": out_pad,
            "groups": groups, "dilation": dilation}


register(OpSpec(
    "conv_transpose2d", lambda x, w, b=None, **p: conv_transpose2d(x, w, b, **p),
    conv_transpose2d_reference, arity=2, shapes=_convt_shapes, params=_convt_params,
    values=(normal,), ops=("conv_transpose2d",), twice=False,
    errors=(
        ErrorCase(lambda: conv_transpose2d(T(1, 2, 3, 3), T(3, 4, 3, 3)), ValueError,
                  r"conv_transpose2d: channel mismatch: input \(1, 2, 3, 3\) has 2 channels "
                  r"but weight \(3, 4, 3, 3\) .* expects 3"),
        ErrorCase(lambda: conv_transpose2d(T(1, 2, 3, 3), T(2, 4, 3, 3), stride=2,
                                           output_padding=2), ValueError,
                  r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either the "
                  r"stride \(2, 2\) or the dilation \(1, 1\)"),
        ErrorCase(lambda: conv_transpose2d(T(1, 2, 3, 3), T(2, 4, 3, 3), padding=3), ValueError,
                  r"conv_transpose2d: output size -1x-1 is too small \(input \(1, 2, 3, 3\)"),
        ErrorCase(lambda: conv_transpose2d(T(1, 2, 3, 3), T(2, 4, 3, 3), T(3)), ValueError,
                  r"conv_transpose2d: bias of shape \(3,\) does not match the 4 output"),
        ErrorCase(lambda: conv_transpose2d(T(1, 3, 3, 3), T(3, 4, 3, 3), groups=2), ValueError,
                  r"conv_transpose2d: groups=2 must divide the 3 input channels"),
        ErrorCase(lambda: conv_transpose2d(T(1, 2, 3, 3), T(2, 4, 3, 3), padding="same"),
                  ValueError, r"conv_transpose2d: padding must be an int or a pair"),
    )))
