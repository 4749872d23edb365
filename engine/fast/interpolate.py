"""interpolate (PyTorch's ``F.interpolate`` / ``nn.Upsample``): resizing (N, C, L) and
(N, C, H, W) tensors by 'nearest', 'nearest-exact', 'linear' / 'bilinear', 'bicubic'
(4-D) or 'area'.

Every mode but 'area' is a fixed linear map applied along each spatial axis in turn: output
position o of an axis reads one, two or four input positions::

    nearest          out[o] = x[i0[o]]
    (bi)linear       out[o] = l0[o]·x[i0[o]] + l1[o]·x[i1[o]]       (l0 + l1 = 1)
    bicubic          out[o] = Σ_{k=-1..2} W(t[o] − k)·x[clamp(i0[o] + k, 0, in − 1)]
                     W = Keys' cubic kernel with A = −0.75 (PyTorch's, OpenCV's):
                       W(d) = (A+2)|d|³ − (A+3)|d|² + 1        for |d| ≤ 1
                       W(d) = A|d|³ − 5A|d|² + 8A|d| − 4A       for 1 < |d| < 2

so the whole op is ``out = A_H · x · A_Wᵀ`` per plane, with sparse A's, and its gradient is
the transpose ``dx = A_Hᵀ · dy · A_W``: each dy[o] goes back to the input positions o read,
times the same weights. The forward and the transpose are two ops here (``interpolate`` and
``interpolate_adjoint``), each the other's backward: both linear, so the gradient of the
gradient is exact too (create_graph works). Pure numpy: ``take`` for the reads, sorted
segment sums (``add.reduceat``) for the transpose.

Source positions follow PyTorch's CPU code to the rounding (``aten/native/UpSample.h``):

- nearest: ``i0 = min(floor(o·scale), in − 1)`` in float32 (OpenCV's rule, which shifts the
  picture by half a pixel); on (N, C, H, W) input an axis whose size stays or doubles reads
  ``i0 = o`` or ``o // 2`` whatever the scale factor (PyTorch's 2-D kernel,
  ``nearest_idx``); its 1-D kernel has no such shortcut, so a (N, C, L) input of 2 scaled by
  1.3 reads pixel 0 twice, as PyTorch's forward does. (PyTorch's 1-D *backward* does take
  the shortcut, so its gradient there is not its forward's: stepgrad's is, the transpose of
  the map it applied.) nearest-exact: ``floor((o + 0.5)·scale)`` (Pillow's and
  scikit-image's);
- linear, ``align_corners=False`` (default): ``src = max(scale·(o + 0.5) − 0.5, 0)``, pixel
  centres aligned; ``align_corners=True``: ``src = o·(in − 1)/(out − 1)``, corner pixels
  aligned; ``i0 = floor(src)``, ``i1 = i0 + 1`` (clipped), ``l1 = src − i0``;
- bicubic: the same ``src`` but not clamped at 0 (an output left of pixel 0's centre reads
  taps −2 … 1, clamped to pixel 0: the border pixel repeated), ``t = src − i0``; no
  identity shortcut when the size stays (PyTorch's cubic kernel has none: size 2 scaled by
  1.3 is resampled; PyTorch's cubic *backward* does copy dy when no size changes, so its
  gradient there is not its forward's: stepgrad's is, the transpose of the map it applied).
  The output is not clipped: cubic overshoots near edges (ringing), as in PyTorch;

with ``scale = in / out``, or ``1 / scale_factor`` when a scale factor is given (unless
``recompute_scale_factor=True``), in the input's float type (float32 for nearest).
'area' is ``adaptive_avg_pool2d`` (engine/fast/pool.py).
"""
from __future__ import annotations

import math

import numpy as np

from ..ops.base import Op
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, normal, register

MODES = {3: ("nearest", "nearest-exact", "linear", "area"),
         4: ("nearest", "nearest-exact", "bilinear", "bicubic", "area")}


# ----------------------------------------------------------------------------- one axis
CUBIC_A = -0.75  # PyTorch's and OpenCV's Keys parameter (Pillow and Keys' paper use -0.5)


def cubic_weights(t, ft):
    """The 4 Keys weights (A = -0.75) of taps i0-1, i0, i0+1, i0+2 for the fraction t of
    the source position past i0 (PyTorch's ``get_cubic_upsample_coefficients``, same
    operation order, in the float type ``ft``). They sum to 1 and reproduce linear
    functions exactly; at t = 0 they are (0, 1, 0, 0)."""
    A = ft(CUBIC_A)

    def near(d):   # |d| <= 1: ((A + 2)·d − (A + 3))·d² + 1
        return ((A + ft(2)) * d - (A + ft(3))) * d * d + ft(1)

    def far(d):    # 1 < |d| < 2: ((A·d − 5A)·d + 8A)·d − 4A
        return ((A * d - ft(5) * A) * d + ft(8) * A) * d - ft(4) * A

    u = ft(1) - t
    return far(t + ft(1)), near(t), near(u), far(u + ft(1))


def axis_plan(n_in, n_out, mode, align_corners, scale_factor, dtype, shortcuts=True):
    """(idx, w) for one axis: out[o] = Σ_k w[k][o]·x[idx[k][o]], with one tap for the
    nearest modes (w None: out[o] = x[idx[0][o]]), two for linear, four for cubic. Each
    idx[k] is int64 and non-decreasing in o (the transpose relies on it); weights are
    ``dtype``. ``shortcuts``: 'nearest' reads o or o // 2 when the size stays or doubles
    (PyTorch's 2-D kernel; its 1-D one computes every index from the scale)."""
    o = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        f32 = np.float32
        scale = (f32(1.0 / scale_factor) if scale_factor is not None and scale_factor > 0
                 else f32(n_in) / f32(n_out))
        if mode == "nearest-exact":
            # floorf((o + 0.5) · scale): the product in double, rounded to float by floorf.
            src = ((o + 0.5) * np.float64(scale)).astype(f32)
        elif shortcuts and n_out == n_in:
            return (o,), None
        elif shortcuts and n_out == 2 * n_in:
            return (o >> 1,), None
        else:
            src = o.astype(f32) * scale
        return (np.minimum(np.floor(src).astype(np.int64), n_in - 1),), None
    ft = np.dtype(dtype).type  # PyTorch's opmath type: float for float32, double for float64
    cubic = mode == "bicubic"
    if n_out == n_in and not cubic:  # PyTorch's linear kernels copy; its cubic one does not
        return (o, o), (np.ones(n_out, dtype), np.zeros(n_out, dtype))
    if align_corners:
        scale = ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
        src = scale * o.astype(dtype)
    else:
        scale = (ft(1.0 / scale_factor) if scale_factor is not None and scale_factor > 0
                 else ft(n_in) / ft(n_out))
        src = scale * (o.astype(dtype) + ft(0.5)) - ft(0.5)
        if not cubic:  # linear clamps the source at 0; cubic keeps it (its taps are clamped)
            src = np.maximum(src, ft(0))
    # PyTorch's guard_index_and_lambda: i0 = min(floorf(src), in − 1), t = clamp(src − i0).
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)
    t = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    if cubic:  # taps i0 − 1 … i0 + 2, clamped into the image: the border pixel repeated
        idx = tuple(np.clip(i0 + k, 0, n_in - 1) for k in (-1, 0, 1, 2))
        return idx, tuple(w.astype(dtype) for w in cubic_weights(t, ft))
    return (i0, i0 + (i0 < n_in - 1)), ((ft(1) - t).astype(dtype), t)


def _along(w, axis, ndim):
    """Weights (n,) shaped to broadcast along ``axis`` of an ``ndim``-D array."""
    return w.reshape((-1,) + (1,) * (ndim - axis - 1))


def apply_axis(x, axis, plan):
    """x resampled along ``axis`` by one axis plan (the forward map)."""
    idx, w = plan
    if w is None:
        return np.take(x, idx[0], axis=axis)
    out = np.take(x, idx[0], axis=axis) * _along(w[0], axis, x.ndim)
    for i, wk in zip(idx[1:], w[1:], strict=True):
        out += np.take(x, i, axis=axis) * _along(wk, axis, x.ndim)
    return out


def _scatter_sorted(v, idx, n, axis):
    """y (size n along ``axis``) with y[j] = Σ over o with idx[o] = j of v[o] (idx sorted)."""
    shape = list(v.shape)
    shape[axis] = n
    y = np.zeros(shape, v.dtype)
    if idx.size == 0:
        return y
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])  # where each run of j begins
    where = [slice(None)] * v.ndim
    where[axis] = idx[starts]
    y[tuple(where)] = np.add.reduceat(v, starts, axis=axis)
    return y


def adjoint_axis(g, axis, plan, n_in):
    """The transpose of ``apply_axis``: each g[o] sent back to every tap idx[k][o] times
    its weight, summed per input position."""
    idx, w = plan
    if w is None:
        return _scatter_sorted(g, idx[0], n_in, axis)
    out = _scatter_sorted(g * _along(w[0], axis, g.ndim), idx[0], n_in, axis)
    for i, wk in zip(idx[1:], w[1:], strict=True):
        out += _scatter_sorted(g * _along(wk, axis, g.ndim), i, n_in, axis)
    return out


# ----------------------------------------------------------------------------- the ops
class Interpolate(Op):
    name = "interpolate"
    linear = True
    formula = "out = A·x (each output a weighted pick of input pixels); dx = Aᵀ·dy"

    def forward(self, x, *, plans, in_size, mode):
        self.plans, self.in_size, self.mode = plans, in_size, mode
        self.x_shape = x.shape
        out = x
        for k, plan in enumerate(plans):
            out = apply_axis(out, 2 + k, plan)
        return out

    def backward(self, g, x, out):
        if isinstance(g, np.ndarray):
            return adjoint(g, self.plans, self.in_size)
        return InterpolateAdjoint.apply(g, plans=self.plans, in_size=self.in_size,
                                        mode=self.mode)

    def describe(self):
        return (f"{self.x_shape} → {self.mode}, spatial size "
                f"{tuple(len(p[0][0]) for p in self.plans)}")


class InterpolateAdjoint(Op):
    """interpolate's transpose (its gradient, as an op so that it can be differentiated)."""

    name = "interpolate_adjoint"
    linear = True
    formula = "dx = Aᵀ·dy (interpolate's transpose); its gradient is interpolate again"

    def forward(self, g, *, plans, in_size, mode):
        self.plans, self.in_size, self.mode = plans, in_size, mode
        return adjoint(g, plans, in_size)

    def backward(self, g, x, out):
        if isinstance(g, np.ndarray):
            out = g
            for k, plan in enumerate(self.plans):
                out = apply_axis(out, 2 + k, plan)
            return out
        return Interpolate.apply(g, plans=self.plans, in_size=self.in_size, mode=self.mode)


def adjoint(g, plans, in_size):
    for k, plan in reversed(list(enumerate(plans))):
        g = adjoint_axis(g, 2 + k, plan, in_size[k])
    return g


# ----------------------------------------------------------------------------- the function
def output_size(op, x_shape, size, scale_factor, recompute_scale_factor):
    """(sizes, scale factors) per spatial dim, by PyTorch's rules: exactly one of ``size``
    and ``scale_factor``; sizes from a scale factor are floor(in · scale); the factors are
    kept for the source positions unless ``recompute_scale_factor``."""
    dims = len(x_shape) - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor" +
                         (" (got both)" if size is not None else ""))
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * dims
        if len(sizes) != dims:
            raise ValueError(f"{op}: size {size!r} has {len(sizes)} values for the {dims} "
                             f"spatial dims of the input {x_shape}")
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in sizes):
            raise TypeError(f"{op}: size must be an int or a tuple of ints, got {size!r}")
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an "
                             f"explicit size")
        scales = (None,) * dims
    else:
        scales = (tuple(scale_factor) if isinstance(scale_factor, (tuple, list))
                  else (scale_factor,) * dims)
        if len(scales) != dims:
            raise ValueError(f"{op}: scale_factor {scale_factor!r} has {len(scales)} values "
                             f"for the {dims} spatial dims of the input {x_shape}")
        if not all(isinstance(s, (int, float, np.integer, np.floating))
                   and not isinstance(s, bool) and s > 0 for s in scales):
            raise ValueError(f"{op}: scale_factor must be a positive number or a tuple of "
                             f"them, got {scale_factor!r}")
        sizes = tuple(math.floor(float(n) * float(s))
                      for n, s in zip(x_shape[2:], scales, strict=True))
        scales = (None,) * dims if recompute_scale_factor else tuple(float(s) for s in scales)
    if min(sizes) < 1 or min(x_shape[2:]) < 1:
        raise ValueError(f"{op}: input and output sizes must be > 0, got input {x_shape} and "
                         f"output size {tuple(int(v) for v in sizes)}")
    return tuple(int(v) for v in sizes), scales


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize ``x`` (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor`` (PyTorch's
    ``F.interpolate``). ``mode``: 'nearest' (default), 'nearest-exact', 'linear' (3-D),
    'bilinear' (4-D), 'bicubic' (4-D; Keys' kernel, A = −0.75, border pixels repeated,
    output not clipped), 'area' (adaptive average pooling). ``align_corners`` ('linear',
    'bilinear', 'bicubic' only; default False): True maps the corner pixels of input and
    output onto each other. ``antialias=True`` is refused.

    >>> import engine
    >>> from engine.fast.interpolate import interpolate
    >>> x = engine.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> interpolate(x, scale_factor=2).data[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]], dtype=float32)
    >>> interpolate(x, size=3, mode="bilinear", align_corners=True).data[0, 0]
    array([[1. , 1.5, 2. ],
           [2. , 2.5, 3. ],
           [3. , 3.5, 4. ]], dtype=float32)
    >>> step = engine.tensor([[[[0.0, 0.0, 1.0, 1.0]]]])  # cubic overshoots a step (as torch)
    >>> [round(float(v), 4) for v in interpolate(step, size=(1, 8), mode="bicubic").data[0, 0, 0]]
    [0.0, -0.0352, -0.1055, 0.2266, 0.7734, 1.1055, 1.0352, 1.0]
    """
    op = "interpolate"
    shape = tuple(x.shape)
    if len(shape) not in MODES:
        raise ValueError(f"{op}: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got "
                         f"shape {shape}")
    if np.dtype(x.dtype).kind != "f":
        raise TypeError(f"{op}: expects a float tensor, got {x.dtype} (convert it with "
                        f".float() or .double())")
    if mode not in MODES[3] + MODES[4]:
        raise ValueError(f"{op}: mode {mode!r} is not supported; stepgrad has "
                         f"{', '.join(repr(m) for m in dict.fromkeys(MODES[3] + MODES[4]))}")
    if mode not in MODES[len(shape)]:
        other = {"linear": "'bilinear' for 4-D", "bilinear": "'linear' for 3-D",
                 "bicubic": "'linear' for 3-D, or add a dim with x.unsqueeze(2)"}[mode]
        raise ValueError(f"{op}: mode {mode!r} needs a {3 if mode == 'linear' else 4}-D "
                         f"input, got shape {shape} (use {other})")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported in stepgrad")
    if align_corners is not None and mode not in ("linear", "bilinear", "bicubic"):
        raise ValueError(f"{op}: align_corners can only be set with the modes 'linear', "
                         f"'bilinear' and 'bicubic', not {mode!r}")
    if mode == "area" and scale_factor is not None:
        recompute_scale_factor = True  # PyTorch: 'area' always works from the output size
    sizes, scales = output_size(op, shape, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        from .pool import adaptive_avg_pool2d
        if len(shape) == 3:
            return adaptive_avg_pool2d(x.unsqueeze(2), (1, sizes[0])).squeeze(2)
        return adaptive_avg_pool2d(x, sizes)
    plans = tuple(axis_plan(n, m, mode, bool(align_corners), s, x.dtype, len(shape) == 4)
                  for n, m, s in zip(shape[2:], sizes, scales, strict=True))
    return Interpolate.apply(x, plans=plans, in_size=shape[2:], mode=mode)


# ----------------------------------------------------------------------------- reference
def source_weights(n_in, n_out, mode, align_corners, scale_factor, dtype, shortcuts=True):
    """Dense (n_out, n_in) interpolation matrix, one output at a time, transcribing
    PyTorch's scalar functions (``nearest_idx``, ``area_pixel_compute_source_index``,
    ``guard_index_and_lambda``) with numpy scalars of the same float types."""
    A = np.zeros((n_out, n_in))
    f32, ft = np.float32, np.dtype(dtype).type
    for o in range(n_out):
        if mode.startswith("nearest"):
            s = (f32(1.0 / scale_factor) if scale_factor else f32(f32(n_in) / f32(n_out)))
            if mode == "nearest-exact":
                i = min(int(math.floor(f32((o + 0.5) * float(s)))), n_in - 1)
            elif shortcuts and n_out == n_in:
                i = o
            elif shortcuts and n_out == 2 * n_in:
                i = o // 2
            else:
                i = min(int(math.floor(f32(f32(o) * s))), n_in - 1)
            A[o, i] = 1.0
            continue
        cubic = mode == "bicubic"
        if n_out == n_in and not cubic:
            A[o, o] = 1.0
            continue
        if align_corners:
            s = ft(ft(n_in - 1) / ft(n_out - 1)) if n_out > 1 else ft(0)
            src = ft(s * ft(o))
        else:
            s = ft(1.0 / scale_factor) if scale_factor else ft(ft(n_in) / ft(n_out))
            src = ft(s * (ft(o) + ft(0.5)) - ft(0.5))
            src = src if src >= 0 or cubic else ft(0)
        i0 = min(int(math.floor(f32(src))), n_in - 1)
        lam = min(max(float(src) - i0, 0.0), 1.0)
        if cubic:
            # Keys' kernel W(d), A = -0.75, at the distances 1 + t, t, 1 − t, 2 − t of the
            # four taps; taps outside the image read the nearest border pixel.
            def W(d, a=CUBIC_A):
                d = abs(d)
                if d <= 1:
                    return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
                return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a if d < 2 else 0.0
            for k in (-1, 0, 1, 2):
                A[o, min(max(i0 + k, 0), n_in - 1)] += W(k - lam)
            continue
        A[o, i0] += 1.0 - lam
        A[o, i0 + (1 if i0 < n_in - 1 else 0)] += lam
    return A


def interpolate_reference(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                          recompute_scale_factor=None):
    """``A_H · x · A_Wᵀ`` with dense matrices (einsum), for 'nearest', 'nearest-exact', the
    linear modes and 'bicubic'."""
    sizes, scales = output_size("interpolate", x.shape, size, scale_factor,
                                recompute_scale_factor)
    mats = [source_weights(n, m, mode, bool(align_corners), s, x.dtype, x.ndim == 4)
            for n, m, s in zip(x.shape[2:], sizes, scales, strict=True)]
    if x.ndim == 3:
        return np.einsum("ol,ncl->nco", mats[0], x)
    return np.einsum("ph,nchw,qw->ncpq", mats[0], x, mats[1])


# ----------------------------------------------------------------------------- registry
def _interp_shapes(rng):
    n, c = (int(v) for v in rng.integers(1, 3, size=2))
    spatial = tuple(int(v) for v in rng.integers(1, 7, size=int(rng.integers(1, 3))))
    return ((n, c) + spatial,)


def _interp_params(rng, shapes):
    x_shape = shapes[0]
    dims = len(x_shape) - 2
    modes = ["nearest", "nearest-exact"] + (["linear"] if dims == 1 else ["bilinear", "bicubic"])
    mode = str(rng.choice(modes))
    params = {"mode": mode}
    if mode.endswith(("linear", "cubic")):
        params["align_corners"] = bool(rng.random() < 0.5)
    if rng.random() < 0.5:
        params["size"] = tuple(int(v) for v in rng.integers(1, 10, size=dims))
    else:
        params["scale_factor"] = tuple(float(v) for v in rng.choice(
            [0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0], size=dims))
        if min(int(n * s) for n, s in zip(x_shape[2:], params["scale_factor"], strict=True)) < 1:
            params["scale_factor"] = 2.0
        if rng.random() < 0.3:
            params["recompute_scale_factor"] = True
    return params


def _adjoint_call(g, in_shape, mode, align_corners=None):
    """interpolate_adjoint on its own: the transpose of interpolating ``in_shape`` to g's size."""
    plans = tuple(axis_plan(n, m, mode, bool(align_corners), None, g.dtype)
                  for n, m in zip(in_shape[2:], g.shape[2:], strict=True))
    return InterpolateAdjoint.apply(g, plans=plans, in_size=in_shape[2:], mode=mode)


def _adjoint_reference(g, in_shape, mode, align_corners=None):
    mats = [source_weights(n, m, mode, bool(align_corners), None, g.dtype)
            for n, m in zip(in_shape[2:], g.shape[2:], strict=True)]
    if g.ndim == 3:
        return np.einsum("ol,nco->ncl", mats[0], g)
    return np.einsum("ph,ncpq,qw->nchw", mats[0], g, mats[1])


def _adjoint_params(rng, shapes):
    """The interpolate call whose output g is: an input size and a mode."""
    g_shape = shapes[0]
    params = _interp_params(rng, shapes)
    params = {k: v for k, v in params.items() if k in ("mode", "align_corners")}
    params["in_shape"] = g_shape[:2] + tuple(int(v) for v in rng.integers(1, 7, size=len(
        g_shape) - 2))
    return params


register(OpSpec(
    "interpolate", lambda x, **p: interpolate(x, **p), interpolate_reference,
    shapes=_interp_shapes, params=_interp_params, values=(normal,), ops=("interpolate",),
    errors=(
        ErrorCase(lambda: interpolate(T(1, 1, 4, 4), size=3, mode="linear"), ValueError,
                  r"interpolate: mode 'linear' needs a 3-D input, got shape \(1, 1, 4, 4\) "
                  r"\(use 'bilinear' for 4-D\)"),
        ErrorCase(lambda: interpolate(T(1, 1, 4, 4), size=3, mode="lanczos"), ValueError,
                  r"interpolate: mode 'lanczos' is not supported; stepgrad has 'nearest'"),
        ErrorCase(lambda: interpolate(T(1, 1, 4), size=3, mode="bicubic"), ValueError,
                  r"interpolate: mode 'bicubic' needs a 4-D input, got shape \(1, 1, 4\)"),
        ErrorCase(lambda: interpolate(T(1, 1, 4, 4), size=3, mode="bicubic", antialias=True),
                  NotImplementedError, r"interpolate: antialias=True is not supported"),
        ErrorCase(lambda: interpolate(T(1, 1, 4, 4), size=3, align_corners=True), ValueError,
                  r"interpolate: align_corners can only be set with the modes 'linear', "
                  r"'bilinear' and 'bicubic', not 'nearest'"),
        ErrorCase(lambda: interpolate(T(1, 1, 4, 4), size=3, scale_factor=2), ValueError,
                  r"interpolate: give exactly one of size and scale_factor \(got both\)"),
        ErrorCase(lambda: interpolate(T(1, 1, 4, 4), size=(2, 2, 2)), ValueError,
                  r"interpolate: size \(2, 2, 2\) has 3 values for the 2 spatial dims of the "
                  r"input \(1, 1, 4, 4\)"),
        ErrorCase(lambda: interpolate(T(1, 1, 5, 5), scale_factor=0.1), ValueError,
                  r"interpolate: input and output sizes must be > 0, got input \(1, 1, 5, 5\) "
                  r"and output size \(0, 0\)"),
        ErrorCase(lambda: interpolate(T(1, 1, 4, dtype=np.int64), size=2), TypeError,
                  r"interpolate: expects a float tensor, got int64"),
        ErrorCase(lambda: interpolate(T(4, 4), size=2), ValueError,
                  r"interpolate: expected a 3-D \(N, C, L\) or 4-D \(N, C, H, W\) input"),
    )))
register(OpSpec(
    "interpolate_adjoint", _adjoint_call,
    _adjoint_reference, shapes=_interp_shapes, params=_adjoint_params, values=(normal,),
    ops=("interpolate_adjoint",)))
