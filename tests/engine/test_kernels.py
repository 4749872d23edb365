"""The Numba kernels on plain arrays, against slow, obvious references (direct Python loops).

Geometry here is drawn freely (any padding on each side, stride, dilation), not through the
ops' argument rules, so the kernels are checked on every layout the wrappers can produce.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from engine.fast.kernels import (
    avg_pool_backward,
    avg_pool_forward,
    col2im,
    col2im_scatter,
    col2im_shift,
    column_masks,
    im2col,
    im2col_shift,
    max_pool_2x2_backward,
    max_pool_2x2_forward,
    max_pool_backward,
    max_pool_forward,
    relu_backward,
    relu_backward_serial,
    relu_forward,
    relu_forward_serial,
    window_tables,
)
from engine.fast.kernels.blas import gemm
from engine.fast.kernels.direct import (
    backward_tall,
    conv3x3_backward,
    conv3x3_forward,
    forward_tall,
    from_tall_images,
    tall_shape,
    to_tall_images,
    to_tall_sum_images,
)
from engine.fast.pool import pool_output_size

DTYPES = [np.float64, np.float32]


@pytest.fixture(scope="session", autouse=True)
def warm_jit():
    """Load (or compile, once per machine) every kernel for both dtypes before any test runs."""
    for dt in DTYPES:
        x = np.ones((1, 1, 3, 3), dt)
        for kind in KINDS:
            cols = run_im2col(kind, x, (2, 2, 1, 1, 0, 0, 1, 1, 2, 3))
            run_col2im(kind, cols, x, (2, 2, 1, 1, 0, 0, 1, 1, 2, 3))
        out, idx = np.empty((1, 1, 2, 2), dt), np.empty((1, 1, 2, 2), np.int32)
        max_pool_forward(x, out, idx, 2, 2, 1, 1, 0, 0)
        max_pool_backward(out, idx, x.reshape(1, 1, 9))
        avg_pool_forward(x, out, 2, 2, 1, 1, 0, 0, True, 0)
        avg_pool_backward(out, x, 2, 2, 1, 1, 0, 0, True, 0)
        w = np.ones((2, 1, 3, 3), dt)
        for relu in (False, True):
            _, xt = conv3x3_forward(x, w, None, scratch, relu=relu)
        conv3x3_backward(np.ones((1, 2, 3, 3), dt), xt, w, scratch)
        for masked in (False, True):
            to_tall_sum_images(x, np.empty(tall_shape(1, 3, 3, 1), dt), np.empty((1, 1)), x, masked,
                               0, 1)


# --------------------------------------------------------------------------- im2col / col2im
# (implementation, per_sample layout): the table kernels take any geometry (col2im by input
# pixel, or by output pixel: 'scatter'), the shift kernels stride 1 with Wo = W; each writes
# either column layout.
KINDS = [("tables", False), ("tables", True), ("shift", False), ("shift", True),
         ("scatter", False), ("scatter", True)]
KIND_IDS = ["tables", "tables-per-sample", "shift", "shift-per-sample", "scatter",
            "scatter-per-sample"]


def to_layout(cols, n, per_sample):
    """(K, N·P) -> the kernel's layout: (N·K, P) when per_sample."""
    k = cols.shape[0]
    return cols.reshape(k, n, -1).transpose(1, 0, 2).reshape(n * k, -1) if per_sample else cols


def from_layout(cols, n, k, per_sample):
    return cols.reshape(n, k, -1).transpose(1, 0, 2).reshape(k, -1) if per_sample else cols


def run_im2col(kind, x, args, check_guards=False):
    """The column matrix of x by one kernel, returned as (K, N·P) whatever its layout."""
    impl, per_sample = kind
    n, c, h, w = x.shape
    kh, kw, sh, sw, top, left, dh, dw, ho, wo = args
    k, p = c * kh * kw, ho * wo
    cols, guards_intact = guarded((n * k, p) if per_sample else (k, n * p), x.dtype)
    x3 = x.reshape(n, c, -1)
    if impl == "shift":
        im2col_shift(x3, cols, h, w, kh, kw, top, left, dh, dw, ho,
                     column_masks(w, ho, kw, left, dw), per_sample)
    else:
        im2col(x3, cols, window_tables(h, w, *args)[0], per_sample)
    assert guards_intact(), "the kernel wrote outside its output"
    return from_layout(cols, n, k, per_sample)


def run_col2im(kind, cols, dx, args):
    """col2im of cols (K, N·P) into dx (N, C, H, W) by one kernel."""
    impl, per_sample = kind
    n, c, h, w = dx.shape
    kh, kw, sh, sw, top, left, dh, dw, ho, wo = args
    cols = np.ascontiguousarray(to_layout(cols, n, per_sample))
    dx3 = dx.reshape(n, c, -1)
    if impl == "shift":
        col2im_shift(cols, dx3, h, w, kh, kw, top, left, dh, dw, ho,
                     column_masks(w, ho, kw, left, dw), per_sample)
    elif impl == "scatter":
        col2im_scatter(cols, dx3, window_tables(h, w, *args)[0], per_sample)
    else:
        col2im(cols, dx3, window_tables(h, w, *args)[1], per_sample)


@st.composite
def conv_geometry(draw, kind=KINDS[0]):
    """x shape and (kh, kw, sh, sw, top, left, dh, dw, Ho, Wo) with any bottom/right padding."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    top, bottom = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    left, right = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if kind[0] == "shift":  # stride 1 and Wo = W: left + right = ew − 1
        sh = sw = 1
        left = min(left, ew - 1)
        right = ew - 1 - left
    # Grow the padding until the dilated kernel fits (keeps every draw useful).
    bottom += max(0, eh - (h + top + bottom))
    right += max(0, ew - (w + left + right))
    ho, wo = (h + top + bottom - eh) // sh + 1, (w + left + right - ew) // sw + 1
    return (n, c, h, w), (kh, kw, sh, sw, top, left, dh, dw, ho, wo)


def guarded(shape, dtype, pad=64):
    """A NaN-filled C-contiguous array inside a larger buffer, and a check that the kernel
    wrote nothing outside it (Numba does no bounds checks)."""
    n = int(np.prod(shape))
    buf = np.full(n + 2 * pad, 7.0, dtype)
    buf[pad:pad + n] = np.nan
    return buf[pad:pad + n].reshape(shape), lambda: (buf[:pad] == 7).all() and (
        buf[pad + n:] == 7).all()


def im2col_reference(x, kh, kw, sh, sw, top, left, dh, dw, ho, wo):
    n_, c_, h_, w_ = x.shape
    cols = np.zeros((c_ * kh * kw, n_ * ho * wo), x.dtype)
    for n in range(n_):
        for c in range(c_):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(ho):
                        for ow in range(wo):
                            ih, iw = oh * sh - top + i * dh, ow * sw - left + j * dw
                            r, col = (c * kh + i) * kw + j, (n * ho + oh) * wo + ow
                            if 0 <= ih < h_ and 0 <= iw < w_:
                                cols[r, col] = x[n, c, ih, iw]
    return cols


def col2im_reference(cols, shape, kh, kw, sh, sw, top, left, dh, dw, ho, wo):
    n_, c_, h_, w_ = shape
    dx = np.zeros(shape, cols.dtype)
    for n in range(n_):
        for c in range(c_):
            for i in range(kh):
                for j in range(kw):
                    for oh in range(ho):
                        for ow in range(wo):
                            ih, iw = oh * sh - top + i * dh, ow * sw - left + j * dw
                            r, col = (c * kh + i) * kw + j, (n * ho + oh) * wo + ow
                            if 0 <= ih < h_ and 0 <= iw < w_:
                                dx[n, c, ih, iw] += cols[r, col]
    return dx


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_im2col_matches_loops(kind, dtype, data, seed):
    shape, args = data.draw(conv_geometry(kind))
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(run_im2col(kind, x, args), im2col_reference(x, *args))


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_col2im_matches_loops_and_is_the_adjoint(kind, dtype, data, seed):
    shape, args = data.draw(conv_geometry(kind))
    kh, kw, ho, wo = args[0], args[1], args[-2], args[-1]
    rng = np.random.default_rng(seed)
    cols = rng.standard_normal((shape[1] * kh * kw, shape[0] * ho * wo)).astype(dtype)
    dx, guards_intact = guarded(shape, dtype)  # col2im overwrites: no accumulation into dx
    run_col2im(kind, cols, dx, args)
    assert guards_intact(), "the kernel wrote outside its output"
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12}
    np.testing.assert_allclose(dx, col2im_reference(cols, shape, *args), **tol)
    # <im2col(x), cols> = <x, col2im(cols)>: col2im is im2col's transpose.
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(np.vdot(im2col_reference(x, *args), cols.astype(np.float64)),
                               np.vdot(x, dx.astype(np.float64)), rtol=1e-4, atol=1e-6)


def test_window_tables_are_cached_and_read_only():
    a = window_tables(5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5, 5)
    assert window_tables(5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5, 5) is a
    assert not a[0].flags.writeable and a[0].dtype == np.int32
    # centre tap of a 'same' 3x3: output pixel p reads input pixel p
    np.testing.assert_array_equal(a[0][4], np.arange(25))
    np.testing.assert_array_equal(a[1][4], np.arange(25))


# --------------------------------------------------------------------------- pooling
@st.composite
def pool_geometry(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    ceil = draw(st.booleans())
    kh, kw = min(kh, h + 2 * ph), min(kw, w + 2 * pw)
    ph, pw = min(ph, kh // 2), min(pw, kw // 2)
    ho = pool_output_size(h, kh, sh, ph, ceil)
    wo = pool_output_size(w, kw, sw, pw, ceil)
    return (n, c, h, w), (kh, kw, sh, sw, ph, pw), (ho, wo)


def windows(shape, args, out_hw):
    """Yield (oh, ow, rows, cols) of every window, clipped to the input."""
    _, _, h, w = shape
    kh, kw, sh, sw, ph, pw = args
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            h0, w0 = oh * sh - ph, ow * sw - pw
            yield oh, ow, range(max(h0, 0), min(h0 + kh, h)), range(max(w0, 0), min(w0 + kw, w))


def distinct_values(rng, shape, dtype):
    """A random permutation of 0..n−1 (shifted): no two values tie, so argmax is unique."""
    return (rng.permutation(int(np.prod(shape))) - 3.5).reshape(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=pool_geometry(), seed=st.integers(0, 2**32 - 1))
def test_max_pool_kernels_match_loops(dtype, geo, seed):
    shape, args, (ho, wo) = geo
    rng = np.random.default_rng(seed)
    x = distinct_values(rng, shape, dtype)
    out, idx = np.empty(shape[:2] + (ho, wo), dtype), np.empty(shape[:2] + (ho, wo), np.int32)
    max_pool_forward(x, out, idx, *args)
    g = rng.standard_normal(out.shape).astype(dtype)
    ref_out, ref_dx = np.empty_like(out), np.zeros_like(x)
    for n in range(shape[0]):
        for c in range(shape[1]):
            for oh, ow, hs, ws in windows(shape, args, (ho, wo)):
                best = max((x[n, c, h, w], h, w) for h in hs for w in ws)
                ref_out[n, c, oh, ow] = best[0]
                assert idx[n, c, oh, ow] == best[1] * shape[3] + best[2]
                ref_dx[n, c, best[1], best[2]] += g[n, c, oh, ow]
    np.testing.assert_array_equal(out, ref_out)
    dx = np.full(shape, np.nan, dtype)
    max_pool_backward(g, idx, dx.reshape(shape[0], shape[1], -1))
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@given(geo=pool_geometry(), include_pad=st.booleans(), seed=st.integers(0, 2**32 - 1),
       divisor=st.sampled_from([0, 0, 1, 3, -2]))
def test_avg_pool_kernels_match_loops(dtype, geo, include_pad, seed, divisor):
    shape, args, (ho, wo) = geo
    kh, kw, _, _, ph, pw = args
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    out = np.empty(shape[:2] + (ho, wo), dtype)
    avg_pool_forward(x, out, *args, include_pad, divisor)
    g = rng.standard_normal(out.shape).astype(dtype)
    ref_out, ref_dx = np.empty_like(out), np.zeros(shape)
    _, _, h, w = shape
    for oh, ow, hs, ws in windows(shape, args, (ho, wo)):
        if divisor:  # divisor_override: the same d for every window, whatever it covers
            count = divisor
        elif include_pad:  # padding cells count, cells past the padding (ceil mode) do not
            h0, w0 = oh * args[2] - ph, ow * args[3] - pw
            count = (min(h0 + kh, h + ph) - h0) * (min(w0 + kw, w + pw) - w0)
        else:
            count = len(hs) * len(ws)
        window = (slice(None), slice(None), slice(hs.start, hs.stop), slice(ws.start, ws.stop))
        ref_out[:, :, oh, ow] = x[window].sum(axis=(2, 3)) / count
        ref_dx[window] += (g[:, :, oh, ow] / count)[:, :, None, None]
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12}
    np.testing.assert_allclose(out, ref_out, **tol)
    dx = np.full(shape, np.nan, dtype)
    avg_pool_backward(g, dx, *args, include_pad, divisor)
    np.testing.assert_allclose(dx, ref_dx, **tol)


def test_max_pool_nan_propagates_and_ties_pick_the_first():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]], [[5.0, 5.0], [5.0, 5.0]]]])
    out, idx = np.empty((1, 2, 1, 1)), np.empty((1, 2, 1, 1), np.int32)
    max_pool_forward(x, out, idx, 2, 2, 2, 2, 0, 0)
    assert np.isnan(out[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1   # as PyTorch
    assert out[0, 1, 0, 0] == 5.0 and idx[0, 1, 0, 0] == 0      # first of equal values


@pytest.mark.parametrize("values", [(-np.inf, -1.0, 0.0, 1.0, np.inf, np.nan), (-1.0, 0.0, 1.0)],
                         ids=["nan-inf-ties", "ties-only"])
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(2, 7),
                       st.integers(2, 7)),
       seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float32, np.float64]))
def test_max_pool_2x2_kernels_match_the_first_max_rule(values, shape, seed, dtype):
    """The 2x2 / stride 2 kernels pick winners with selects, not branches, and take the
    careful way for a window holding a NaN (or inf − inf); backward finds the winner again
    in x. On values full of ties (the select path) and of NaNs and infinities (the careful
    one) both must answer as PyTorch's scan in row-major order does (``val > maxval ||
    isnan(val)``): the last NaN if there is one, else the first of the largest; the general
    kernel (indices stored) must agree with them, and the pixels no window covers (odd sizes)
    get 0."""
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array(values), shape).astype(dtype)
    n, c, h, w = shape
    out = np.empty((n, c, h // 2, w // 2), dtype)
    max_pool_2x2_forward(x, out)
    g = rng.uniform(1, 2, out.shape).astype(dtype)
    dx = np.full(shape, np.nan, dtype)
    max_pool_2x2_backward(x, g, dx)
    ref_dx = np.zeros(shape, dtype)
    for (i, j, oh, ow), _ in np.ndenumerate(out):
        cells = [(2 * oh + a, 2 * ow + b) for a in (0, 1) for b in (0, 1)]
        vals = np.array([x[i, j, p, q] for p, q in cells])
        nan = np.isnan(vals)
        k = 3 - int(np.argmax(nan[::-1])) if nan.any() else int(np.argmax(vals))
        np.testing.assert_array_equal(out[i, j, oh, ow], vals[k])
        ref_dx[(i, j) + cells[k]] = g[i, j, oh, ow]
    np.testing.assert_array_equal(dx, ref_dx)
    out_general, idx = np.empty_like(out), np.empty(out.shape, np.int32)
    max_pool_forward(x, out_general, idx, 2, 2, 2, 2, 0, 0)
    np.testing.assert_array_equal(out_general, out)
    dx_general = np.empty((n, c, h * w), dtype)
    max_pool_backward(g, idx, dx_general)
    np.testing.assert_array_equal(dx_general.reshape(shape), dx)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_kernels_take_chunks_of_a_larger_array(kind, seed):
    """The conv wrapper passes x[n0:n1] and dx[n0:n1]: views into bigger arrays."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, 2, 4, 4))
    args = (3, 3, 1, 1, 1, 1, 1, 1, 4, 4)
    whole = run_im2col(kind, x, args)
    part = run_im2col(kind, x[2:4], args)
    np.testing.assert_array_equal(part, whole[:, 32:64])
    dx = np.zeros_like(x)
    run_col2im(kind, part, dx[2:4], args)
    assert not dx[:2].any() and not dx[4:].any()
    np.testing.assert_allclose(dx[2:4], col2im_reference(part, (2, 2, 4, 4), *args))


# --------------------------------------------------------------------------- direct 3x3
def scratch(name, shape, dtype):
    """The wrappers' scratch-buffer hook: a fresh NaN-filled array (garbage in, so a kernel
    that reads a scratch entry before writing it shows up as NaN)."""
    return np.full(shape, np.nan, dtype)


def tall_reference(x):
    """The tall layout built with np.pad (engine/fast/kernels/direct.py's module docstring)."""
    n, c, h, w = x.shape
    per_image = np.zeros((c, n, h + 1, w + 1), x.dtype)
    per_image[:, :, 1:, :w] = x.transpose(1, 0, 2, 3)   # a zero row above, a zero column after
    flat = per_image.reshape(c, -1)
    return np.concatenate([np.zeros((c, 1), x.dtype), flat,
                           np.zeros((c, w + 1 + 1), x.dtype)], axis=1)  # last zero row, guard


def conv3x3_reference(x, w, b=None):
    """conv2d(x, w, b, padding=1) for 3x3 w, through np.pad and sliding windows."""
    win = np.lib.stride_tricks.sliding_window_view(
        np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3))   # (N, C, H, W, 3, 3)
    out = np.einsum("nchwij,fcij->nfhw", win, w)
    return out if b is None else out + b[:, None, None]


def conv3x3_grads_reference(x, w, g):
    """(dx, dw) of Σ g·conv3x3_reference(x, w): every tap (i, j) sends g·w to the input pixel
    it read and g·x to the weight."""
    n, c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + wd] += np.einsum("nfhw,fc->nchw", g, w[:, :, i, j])
            dw[:, :, i, j] = np.einsum("nfhw,nchw->fc", g, xp[:, :, i:i + h, j:j + wd])
    return dxp[:, :, 1:-1, 1:-1], dw


def conv3x3_im2col(x, w):
    """The general path on the same input: im2col kernel + one GEMM (the op's other route)."""
    n, c, h, wd = x.shape
    args = (3, 3, 1, 1, 1, 1, 1, 1, h, wd)
    cols = run_im2col(KINDS[0], x, args)                        # (C·9, N·H·W)
    return (w.reshape(w.shape[0], -1) @ cols).reshape(-1, n, h, wd).transpose(1, 0, 2, 3)


@st.composite
def direct_shapes(draw):
    """Batch, channels, filters and image sizes, 1x1 images and odd sizes included."""
    return (draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 7)),
            draw(st.integers(1, 9)), draw(st.integers(1, 9)))


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=direct_shapes(), seed=st.integers(0, 2**32 - 1))
def test_tall_layout_round_trip(dtype, shape, seed):
    n, c, _, h, w = shape
    x = np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(dtype)
    xt = np.full(tall_shape(n, h, w, c + 2), np.nan, dtype)  # two extra channels: all zero
    to_tall_images(x, xt, 0, n)
    np.testing.assert_array_equal(xt[:c], tall_reference(x))
    assert not xt[c:].any()
    back = np.full((n, c, h, w), np.nan, dtype)
    from_tall_images(xt, back, np.zeros(c, dtype), False, 0, n)
    np.testing.assert_array_equal(back, x)
    bias = np.arange(c, dtype=dtype) - 1.0
    from_tall_images(xt, back, bias, True, 0, n)   # + bias, then relu
    np.testing.assert_array_equal(back, np.maximum(x + bias[:, None, None], 0))
    xt2, sums = np.full(tall_shape(n, h, w, c), np.nan, dtype), np.full((n, c), np.nan)
    to_tall_sum_images(x, xt2, sums, x, False, 0, n)  # the same layout, each plane's sum
    np.testing.assert_array_equal(xt2, tall_reference(x))
    np.testing.assert_allclose(sums, x.astype(np.float64).sum(axis=(2, 3)), rtol=1e-6,
                               atol=1e-9)
    mask = np.roll(x, 1)                      # masked: x where mask > 0, else 0
    to_tall_sum_images(x, xt2, sums, mask, True, 0, n)
    kept = np.where(mask > 0, x, 0)
    np.testing.assert_array_equal(xt2, tall_reference(kept))
    np.testing.assert_allclose(sums, kept.astype(np.float64).sum(axis=(2, 3)), rtol=1e-6,
                               atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=direct_shapes(), bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_direct_conv3x3_matches_references_and_im2col(dtype, shape, bias, seed):
    n, c, f, h, w = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((f, c, 3, 3)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype) if bias else None
    g = rng.standard_normal((n, f, h, w)).astype(dtype)
    x64, w64, g64 = (a.astype(np.float64) for a in (x, wt, g))
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}

    out, xt = conv3x3_forward(x, wt, b, scratch)
    assert out.dtype == dtype and out.shape == (n, f, h, w)
    np.testing.assert_allclose(out, conv3x3_reference(x64, w64, b), **tol)
    general = conv3x3_im2col(x, wt) + (0 if b is None else b[:, None, None])
    np.testing.assert_allclose(out, general, **tol)
    np.testing.assert_array_equal(xt, tall_reference(x))

    dx, dw, db = conv3x3_backward(g, xt, wt, scratch)
    ref_dx, ref_dw = conv3x3_grads_reference(x64, w64, g64)
    assert dx.dtype == dw.dtype == db.dtype == dtype
    np.testing.assert_allclose(dx, ref_dx, **tol)
    np.testing.assert_allclose(dw, ref_dw, **tol)
    np.testing.assert_allclose(db, g64.sum(axis=(0, 2, 3)), **tol)
    # Only what is asked for.
    assert conv3x3_backward(g, xt, wt, scratch, need_dx=False)[0] is None
    assert conv3x3_backward(g, None, wt, scratch, need_dw=False)[1] is None
    assert conv3x3_backward(g, xt, wt, scratch, need_db=False)[2] is None


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=direct_shapes(), seed=st.integers(0, 2**32 - 1))
def test_direct_conv3x3_relu_is_relu_of_the_conv(dtype, shape, seed):
    n, c, f, h, w = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((f, c, 3, 3)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    plain, xt = conv3x3_forward(x, wt, b, scratch)
    fused, _ = conv3x3_forward(x, wt, b, scratch, relu=True)
    np.testing.assert_array_equal(fused, np.maximum(plain, 0))
    # Backward through the fused relu: the plain backward of g masked by (output > 0).
    g = rng.standard_normal((n, f, h, w)).astype(dtype)
    want = conv3x3_backward(np.where(fused > 0, g, 0).astype(dtype), xt, wt, scratch)
    got = conv3x3_backward(g, xt, wt, scratch, relu_out=fused)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2], rtol=1e-6, atol=1e-6)  # summed in float64


@settings(max_examples=10)
@given(blocks=st.integers(1, 9), shape=direct_shapes(), seed=st.integers(0, 2**32 - 1))
def test_direct_kernels_any_block_count(blocks, shape, seed):
    """The drivers split the batch into ``blocks`` ranges of images (one per parallel task),
    each converting, convolving and converting back its own images: any count up to the
    batch gives the same numbers, and buffers that start full of NaN leave no trace (every
    zero a task reads, it or its neighbour writes)."""
    n, c, f, h, w = shape
    blocks = min(blocks, n)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((f, c, 3, 3))
    xt, yt = (np.full(tall_shape(n, h, w, k), np.nan) for k in (c, f))
    out = np.full((n, f, h, w), np.nan)
    forward_tall(x, wt, np.zeros(f), False, xt, yt, out, blocks)
    np.testing.assert_allclose(out, conv3x3_reference(x, wt), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(xt, tall_reference(x))
    g = rng.standard_normal((n, f, h, w))
    gt, dxt = np.full(tall_shape(n, h, w, f), np.nan), np.full(tall_shape(n, h, w, c), np.nan)
    sums, dx = np.full((n, f), np.nan), np.full((n, c, h, w), np.nan)
    partial = np.full((blocks, f, c, 9), np.nan)
    flipped = np.ascontiguousarray(wt[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    backward_tall(g, g, False, xt, flipped, gt, sums, dxt, dx, partial, True, True, blocks)
    ref_dx, ref_dw = conv3x3_grads_reference(x, wt, g)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(partial.sum(axis=0).reshape(f, c, 3, 3), ref_dw, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(sums, g.sum(axis=(2, 3)), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- relu
SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 3.0, -2.0])


@settings(max_examples=30)
@given(n=st.sampled_from([1, 7, 16383, 16384, 16385, 40000]), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_relu_kernels_give_numpys_bits(n, seed, dtype):
    """Forward = np.maximum(x, 0), backward = np.where(x > 0, g, 0), to the bit, over lengths
    around the 16384-element blocks, with NaN, ±inf, ±0 and denormals in both x and g: the
    parallel kernels and the serial ones."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    for a in (x, g):
        spots = rng.integers(0, n, min(n, 50))
        a[spots] = rng.choice(SPECIALS, spots.size)
    for forward, backward in ((relu_forward, relu_backward),
                              (relu_forward_serial, relu_backward_serial)):
        out = np.full(n, 7.0, dtype)
        forward(x, out)
        np.testing.assert_array_equal(out, np.maximum(x, 0))
        backward(g, x, out)  # a select: an inf or NaN in g where x <= 0 gives 0
        np.testing.assert_array_equal(out, np.where(x > 0, g, 0))


def test_relu_op_takes_the_kernels_by_size(monkeypatch):
    """The op (engine/ops/xp.py) uses the parallel kernels from FAST_RELU_MIN elements on, the
    serial ones from SERIAL_RELU_MIN, numpy below; all give the same values and gradients."""
    import engine
    from engine.ops import xp
    calls = []
    names = ("relu_forward", "relu_backward", "relu_forward_serial", "relu_backward_serial")
    for name in names:
        kernel = getattr(xp.kernels, name)
        monkeypatch.setattr(xp.kernels, name,
                            lambda *a, _k=kernel, _n=name: calls.append(_n) or _k(*a))
    rng = np.random.default_rng(0)
    big = rng.standard_normal(xp.FAST_RELU_MIN, dtype=np.float32)
    big[::97] = np.nan
    for size, expect in ((xp.FAST_RELU_MIN, list(names[:2])),
                         (xp.FAST_RELU_MIN - 1, list(names[2:])),
                         (xp.SERIAL_RELU_MIN, list(names[2:])),
                         (xp.SERIAL_RELU_MIN - 1, []), (1000, [])):
        calls.clear()
        x = engine.tensor(big[:size], requires_grad=True)
        y = x.relu()
        g = rng.standard_normal(size).astype(np.float32)
        y.backward(engine.tensor(g))
        assert calls == expect
        np.testing.assert_array_equal(y.data, np.maximum(big[:size], 0))
        np.testing.assert_array_equal(x.grad.data, g * (big[:size] > 0))


# --------------------------------------------------------------------------- LSTM loops
@settings(max_examples=25)
@given(n=st.integers(1, 5), h=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_lstm_step_loops_against_the_numpy_expressions(n, h, seed, dtype):
    """lstm_c / lstm_h through engine/fast/kernels/lstm.py against the numpy expressions
    beside them (the kernel switched off). Backward, from the same saved values: the same
    bits. Forward: the loops' exp and tanh are exp32/tanh32 in float32 (within 2 ulp), libm's
    in float64, so agreement to a few ulp."""
    from engine.fast import lstm
    rng = np.random.default_rng(seed)
    gates = rng.standard_normal((n, 4 * h)).astype(dtype) * 3
    c_prev = rng.standard_normal((n, h)).astype(dtype)
    dy = rng.standard_normal((n, h)).astype(dtype)
    rtol = 4e-7 if dtype == np.float32 else 1e-15
    for cls, args in ((lstm.LSTMCellState, (gates, c_prev)),
                      (lstm.LSTMCellHidden, (gates, c_prev))):
        outs, grads = [], []
        for kernel_on in (True, False):
            with pytest.MonkeyPatch.context() as m:
                if not kernel_on:
                    m.setattr(lstm, "_kernel_ok", lambda *a: False)
                op = cls()
                outs.append(op.forward(*args))
            for backward_kernel in (True, False):   # the forward's saved values, both ways
                with pytest.MonkeyPatch.context() as m:
                    if not backward_kernel:
                        m.setattr(lstm, "_kernel_ok", lambda *a: False)
                    slice_grad, other = op.backward(dy, *args, out=outs[-1])
                grads.append((slice_grad.g, other))
        assert outs[0].dtype == outs[1].dtype == dtype
        np.testing.assert_allclose(outs[0], outs[1], rtol=rtol, atol=rtol)
        for (a, b), (c, d) in ((grads[0], grads[1]), (grads[2], grads[3])):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)


def _blas_or_skip():
    from engine.fast.kernels import blas
    if blas.found() is None:
        pytest.skip("numpy's BLAS is not an OpenBLAS the bridge knows (MKL, Accelerate)")
    return blas


@njit(cache=False)
def _bridge_product(ptr, wide, trans_b, m, n, k, a, a_off, lda, b, ldb, c, c_off, ldc):
    """C[c_off…] = A[a_off…]·op(B) through blas.gemm, offsets in elements."""
    size = a.itemsize
    gemm(ptr, wide, False, trans_b, m, n, k, a.dtype.type(1), a.ctypes.data + a_off * size, lda,
         b.ctypes.data, ldb, 0.0, c.ctypes.data + c_off * size, ldc)


@settings(max_examples=30)
@given(m=st.integers(1, 9), n=st.integers(1, 9), k=st.integers(1, 9), pad=st.integers(0, 3),
       trans=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**32 - 1))
def test_blas_bridge_gemm_equals_numpy_matmul(m, n, k, pad, trans, dtype, seed):
    """engine/fast/kernels/blas.py's gemm, called from Numba, is numpy's own GEMM: the same
    bits as np.matmul on the same operands where numpy calls GEMM too (both sides of the
    product have 2 or more rows/columns; else it calls dot or GEMV: agreement to rounding),
    for row strides wider than the rows and B transposed or not."""
    blas = _blas_or_skip()
    rng = np.random.default_rng(seed)
    big_a = rng.standard_normal((m, k + pad)).astype(dtype)
    b = rng.standard_normal((n, k) if trans else (k, n)).astype(dtype)
    c = np.full((m, n + pad), np.nan, dtype)
    _bridge_product(blas.address(dtype), blas.found()[2], trans, m, n, k, big_a, 0, k + pad,
                    b, k if trans else n, c, 0, n + pad)
    expect = np.matmul(big_a[:, :k], b.T if trans else b)
    if m > 1 and n > 1:
        np.testing.assert_array_equal(c[:, :n], expect)
    exact = np.matmul(big_a[:, :k].astype(np.float64), (b.T if trans else b).astype(np.float64))
    np.testing.assert_allclose(c[:, :n], exact, rtol=1e-5 if dtype == np.float32 else 1e-13,
                               atol=1e-5 if dtype == np.float32 else 1e-13)
    assert np.isnan(c[:, n:]).all()  # nothing written past each row


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 6), t=st.integers(1, 5), h=st.integers(2, 5), two=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_lstm_sequence_in_one_call_equals_the_per_step_loop(n, t, h, two, dtype, seed):
    """The sequence op run as one kernel call (GEMM through the BLAS bridge, the batch's
    rows in one or two parts) against its per-step Python loop (np.matmul + the step loop):
    in one part, the same bits forward and for the gradients of xw, h0 and c0, odd and even
    T (the cell gradient's buffers swap every step). In two parts each step's GEMM runs on
    half the rows, which OpenBLAS may round differently from the whole batch's (its Haswell
    float64 kernel does, by an ulp, at H ≥ 4 when a half has 1, 3, ... rows): there, agreement
    within a few ulp of the largest value. W_hh's and the bias's gradients are sums over all
    rows and steps, which two parts add in another order: each within float rounding of the
    float64 sums of the same terms (|error| ≤ 8·eps·Σ|terms|)."""
    from engine.fast import lstm
    _blas_or_skip()
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in
              ((n, t, 4 * h), (n, h), (n, h), (4 * h, h), (4 * h,))]
    arrays[3] *= 0.5
    g = rng.standard_normal((n, t, 2 * h)).astype(dtype)
    results = []
    for plan in ("one call", "loop"):
        with pytest.MonkeyPatch.context() as mp:
            if plan == "loop":
                mp.setattr(lstm, "_one_call_plan", lambda *a: None)
            else:
                real = lstm._one_call_plan

                def forced(xw, w_hh, real=real):
                    p = real(xw, w_hh)
                    return p[:2] + (2 if two else 1,)
                mp.setattr(lstm, "_one_call_plan", forced)
            op = lstm.LSTMSequence()
            op.needs_grad = (True,) * 5
            y = op.forward(*arrays)
            grads = op.backward(g, *arrays, out=y)
            results.append([y, *grads])
    eps = np.finfo(dtype).eps
    for a, b in zip(results[0][:4], results[1][:4], strict=True):
        if two:
            np.testing.assert_allclose(a, b, rtol=0, atol=64 * eps * max(1, np.abs(b).max()))
        else:
            np.testing.assert_array_equal(a, b)
    y, dgates = (r.astype(np.float64) for r in results[1][:2])
    h_prev = np.concatenate([arrays[1][:, None].astype(np.float64), y[:, :-1, :h]], axis=1)
    flat_g, flat_h = dgates.reshape(-1, 4 * h), h_prev.reshape(-1, h)
    for got, exact, size in ((4, flat_g.T @ flat_h, np.abs(flat_g).T @ np.abs(flat_h)),
                             (5, flat_g.sum(axis=0), np.abs(flat_g).sum(axis=0))):
        for r in results:
            assert np.all(np.abs(r[got] - exact) <= 8 * eps * size + 1e-30), got


@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1e-3, 1.0, 10.0, 60.0]))
def test_exp32_and_tanh32_stay_within_2_ulp(seed, scale):
    """The float32 exp and tanh of the LSTM loops against float64 numpy, rounded: within 2 ulp
    (numpy's own float32 exp is within 2.5 here), NaN kept, exp(−inf) = 0, exp(inf) = inf,
    tanh saturating at ±1;
    float64 input takes libm's functions (numpy's values to an ulp)."""
    from engine.fast.kernels.floatmath import exp_array, tanh_array
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(4096) * scale).astype(np.float32)
    x = np.concatenate([x, np.float32([0.0, -0.0, 0.625, -0.625, 1e-30, -87.0, 88.0])])
    for kernel, ref, keep in ((exp_array, np.exp, (x > -87) & (x < 88)),
                              (tanh_array, np.tanh, np.ones(x.size, bool))):
        out = np.empty_like(x)
        kernel(x, out)
        exact = ref(x.astype(np.float64))[keep]
        ulps = np.abs(out[keep] - exact) / np.spacing(np.abs(exact).astype(np.float32))
        assert ulps.max() <= 2.0, (kernel.__name__, x[keep][ulps.argmax()])
        x64 = x.astype(np.float64)
        out64 = np.empty_like(x64)
        kernel(x64, out64)
        np.testing.assert_allclose(out64, ref(x64), rtol=1e-15)
    special = np.float32([np.nan, np.inf, -np.inf, 200.0, -200.0])
    out = np.empty_like(special)
    tanh_array(special, out)
    np.testing.assert_array_equal(out, [np.nan, 1, -1, 1, -1])
    exp_array(special, out)
    np.testing.assert_array_equal(out, [np.nan, np.inf, 0, np.inf, 0])


# ------------------------------------------------------------------ small calls, one thread
def test_small_kernel_calls_run_on_the_calling_thread_alone(monkeypatch):
    """Below SERIAL_BELOW elements a kernel runs with Numba's thread count set to 1 for the
    call (waking the pool costs more than the work), restored afterwards; big calls keep the
    pool. The answer is the same either way."""
    import numba

    from engine.fast import kernels, threads
    entered, real = [], threads.one_thread

    def spy():
        entered.append(True)
        return real()

    monkeypatch.setattr(threads, "one_thread", spy)
    before = numba.get_num_threads()
    for n in (1, 400):  # 4·49 elements per image: 1 image is small, 400 are not
        x = np.random.default_rng(n).standard_normal((n, 4, 7, 7))
        out, idx = np.empty((n, 4, 3, 3)), np.empty((n, 4, 3, 3), np.int32)
        small = x.size + out.size + idx.size < kernels.SERIAL_BELOW
        assert small == (n == 1)
        kernels.max_pool_forward(x, out, idx, 2, 2, 2, 2, 0, 0)
        assert entered == [True]  # entered by the small call only
        assert numba.get_num_threads() == before
        windows = x[:, :, :6, :6].reshape(n, 4, 3, 2, 3, 2)
        np.testing.assert_array_equal(out, windows.max(axis=(3, 5)))


# ------------------------------------------------------------------------- K = 1 products
@settings(max_examples=20)
@given(m=st.integers(1, 5000), k=st.integers(1, 200), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_k1_products_give_matmuls_bits(m, k, seed, dtype):
    """(m, 1)·(1, k) through the op's K = 1 paths (the Numba loop from OUTER_KERNEL_MIN
    outputs, numpy's broadcast below) against numpy's matmul: the same bits, a transposed
    right operand (Linear's Wᵀ) included; NaN and inf pass through."""
    import engine
    from engine.ops import linalg
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, 1)).astype(dtype)
    w = rng.standard_normal((k, 1)).astype(dtype)
    a[rng.integers(0, m)] = np.nan
    w[rng.integers(0, k)] = np.inf
    with np.errstate(invalid="ignore"):
        expect = np.matmul(a, np.ascontiguousarray(w.T))
        got = linalg._product(a, w.T)
        y = linalg.Linear.apply(engine.tensor(a, dtype=dtype), engine.tensor(w, dtype=dtype))
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(y.data, expect)
    assert got.dtype == y.dtype == dtype
