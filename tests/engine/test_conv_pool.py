"""conv2d, max_pool2d, avg_pool2d as Tensor ops: forward and gradients against direct-loop
references over drawn configurations, gradcheck, layouts, chunking, errors, and PyTorch
(when installed)."""
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import engine
from engine import gradcheck
from engine.fast import conv as conv_mod
from engine.fast.conv import ConvGeometry, conv2d, conv2d_reference, same_padding
from engine.fast.pool import (
    avg_pool2d,
    avg_pool_reference,
    max_pool2d,
    max_pool_reference,
    pool_output_size,
)


def T(a, requires_grad=True, dtype=np.float64):
    """A Tensor around ``a`` without copying, so its memory layout reaches the op."""
    return engine.from_numpy(np.asarray(a).astype(dtype, copy=False)).requires_grad_(requires_grad)


def relayout(a, how):
    """The same values as Fortran order, a strided view or a transposed view."""
    if how == "f":
        return np.asfortranarray(a)
    if how == "strided":
        return np.repeat(a, 2, axis=-1)[..., ::2]
    if how == "transposed":
        return np.ascontiguousarray(a.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    return a


layouts = st.sampled_from(["c", "f", "strided", "transposed"])


# ------------------------------------------------------------------------ conv references
def conv2d_backward_reference(x, w, g, stride, padding, dilation, groups):
    """dx, dW, db of Σ g·conv2d(x, w), one output pixel at a time (the forward's loop, run
    backwards: every product x·w in the forward sends g·w to x and g·x to w)."""
    geo = ConvGeometry(x.shape, w.shape, None, stride, padding, dilation, groups)
    xp = np.pad(x, ((0, 0), (0, 0), (geo.top, geo.bottom), (geo.left, geo.right)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for grp in range(groups):
        cs = slice(grp * geo.Cg, (grp + 1) * geo.Cg)
        fs = slice(grp * geo.Fg, (grp + 1) * geo.Fg)
        for oh in range(geo.Ho):
            for ow in range(geo.Wo):
                h, v = oh * geo.sh, ow * geo.sw
                win = (slice(None), cs, slice(h, h + geo.dh * (geo.kh - 1) + 1, geo.dh),
                       slice(v, v + geo.dw * (geo.kw - 1) + 1, geo.dw))
                gg = g[:, fs, oh, ow]                                   # (N, Fg)
                dw[fs] += np.einsum("nf,nckl->fckl", gg, xp[win])
                dxp[win] += np.einsum("nf,fckl->nckl", gg, w[fs])
    dx = dxp[:, :, geo.top:geo.top + geo.H, geo.left:geo.left + geo.W]
    return dx, dw, g.sum(axis=(0, 2, 3))


@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg, fg = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dilation = draw(st.one_of(st.just(1), st.integers(1, 3),
                              st.tuples(st.integers(1, 2), st.integers(1, 2))))
    padding = draw(st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)),
                             st.sampled_from(["same", "valid", "SAME"])))
    try:
        ConvGeometry((n, cg * groups, h, w), (fg * groups, cg, kh, kw), None, stride,
                     padding, dilation, groups)
    except ValueError:
        assume(False)  # kernel larger than the padded input: an error case, tested below
    return dict(x=(n, cg * groups, h, w), w=(fg * groups, cg, kh, kw), bias=draw(st.booleans()),
                params=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


@st.composite
def plans(draw):
    """Settings that steer conv2d's plan: chunk size (tiny ones split even a small batch, the
    last chunk partial), column layout, and keeping the columns vs rebuilding them."""
    return {"DIRECT_3X3": draw(st.booleans()),
            "CHUNK_BYTES": draw(st.sampled_from([1, 200, 1000, conv_mod.CHUNK_BYTES])),
            "PER_SAMPLE_MIN_P": draw(st.sampled_from([1, 10**9])),
            "KEEP_COLS_BYTES": draw(st.sampled_from([0, conv_mod.KEEP_COLS_BYTES]))}


def patched(settings):
    return mock.patch.multiple(conv_mod, **settings)


# ------------------------------------------------------------------------ conv
@given(cfg=conv_configs(), lx=layouts, lw=layouts, plan=plans(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_forward_and_grads_match_loops(cfg, lx, lw, plan, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    b = rng.standard_normal(cfg["w"][0]) if cfg["bias"] else None
    p = cfg["params"]
    ts = [T(relayout(x, lx)), T(relayout(w, lw))] + ([T(b)] if b is not None else [])
    with patched(plan):
        out = conv2d(*ts, **p)
        np.testing.assert_allclose(out.data, conv2d_reference(x, w, b, **p), rtol=1e-10,
                                   atol=1e-12)
        g = rng.standard_normal(out.shape)
        out.backward(relayout(g, lx))
    dx, dw, db = conv2d_backward_reference(x, w, g, **p)
    np.testing.assert_allclose(ts[0].grad, dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ts[1].grad, dw, rtol=1e-10, atol=1e-12)
    if b is not None:
        np.testing.assert_allclose(ts[2].grad, db, rtol=1e-10, atol=1e-12)


@settings(max_examples=15)
@given(cfg=conv_configs(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_float32_stays_float32(cfg, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    xt, wt = T(x, dtype=np.float32), T(w, dtype=np.float32)
    out = conv2d(xt, wt, **cfg["params"])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, conv2d_reference(x, w, **cfg["params"]), rtol=1e-4,
                               atol=1e-4)
    out.sum().backward()  # a broadcast (stride-0) upstream gradient
    assert xt.grad.dtype == wt.grad.dtype == np.float32
    assert xt.grad.shape == x.shape and wt.grad.shape == w.shape


@pytest.mark.parametrize("keep", [0, 1 << 20], ids=["rebuild-cols", "keep-cols"])
@pytest.mark.parametrize("which", [(True, False, False), (False, True, True), (True, True, False)])
def test_conv2d_computes_only_the_gradients_asked_for(which, keep):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), np.ones(3)
    ts = [T(a, requires_grad=r) for a, r in zip((x, w, b), which, strict=True)]
    with patched({"KEEP_COLS_BYTES": keep, "DIRECT_3X3": False}):  # the im2col path's plan
        out = conv2d(*ts, padding=1)
    op = out.grad_fn
    assert (op.saved[0] is None) == (not which[1] or keep > 0)   # x only to rebuild columns
    assert (op.saved[2] is None) == (not which[1] or keep == 0)  # the kept columns
    assert (op.saved[1] is None) == (not which[0])               # w only for dx
    out.backward(np.ones(out.shape))
    ref = conv2d_backward_reference(x, w, np.ones(out.shape), 1, 1, 1, 1)
    for t, r, want in zip(ts, which, ref, strict=True):
        if r:
            np.testing.assert_allclose(t.grad, want, rtol=1e-10)
        else:
            assert t.grad is None


GRADCHECK_CASES = [
    dict(x=(1, 2, 5, 4), w=(3, 2, 3, 2), p=dict(padding=1)),
    dict(x=(2, 1, 6, 6), w=(2, 1, 3, 3), p=dict(stride=2, padding="same")),
    dict(x=(1, 1, 5, 5), w=(1, 1, 2, 2), p=dict(padding="same")),           # asymmetric pad
    dict(x=(1, 4, 5, 5), w=(4, 2, 2, 3), p=dict(groups=2, dilation=(2, 1))),
    dict(x=(2, 3, 4, 4), w=(6, 1, 3, 3), p=dict(groups=3, padding=(1, 0))),  # depthwise ×2
]


@pytest.mark.parametrize("per_sample", [False, True], ids=["batch-gemm", "per-sample-gemm"])
@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=lambda c: str(c["p"]))
def test_conv2d_gradcheck(case, per_sample):
    rng = np.random.default_rng(1)
    x, w = T(rng.standard_normal(case["x"])), T(rng.standard_normal(case["w"]))
    b = T(rng.standard_normal(case["w"][0]))
    with patched({"PER_SAMPLE_MIN_P": 1 if per_sample else 10**9}):
        assert gradcheck(lambda x, w, b: conv2d(x, w, b, **case["p"]), x, w, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(n=st.integers(1, 3), c=st.integers(1, 5), f=st.integers(1, 6), h=st.integers(1, 9),
       w=st.integers(1, 9), padding=st.sampled_from([1, (1, 1), "same", "SAME"]),
       need=st.sampled_from([(True, True, True), (False, True, True), (True, False, False)]),
       seed=st.integers(0, 2**32 - 1))
def test_conv2d_direct_3x3_equals_im2col_and_loops(dtype, n, c, f, h, w, padding, need, seed):
    """3x3, stride 1, padding 1 takes the direct kernels; the im2col path and the loops agree
    on the output and on every gradient asked for."""
    rng = np.random.default_rng(seed)
    x, wt, b = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, 3, 3)), \
        rng.standard_normal(f)
    g = rng.standard_normal((n, f, h, w))
    results = []
    for direct in (True, False):
        ts = [T(a, requires_grad=r, dtype=dtype) for a, r in zip((x, wt, b), need, strict=True)]
        with patched({"DIRECT_3X3": direct}):
            out = conv2d(*ts, padding=padding)
            took_direct = not hasattr(out.grad_fn.geo, "per_sample")
            out.backward(g.astype(dtype))
        assert took_direct == direct
        assert out.dtype == dtype
        results.append([out.data] + [t.grad for t in ts])
    ref = [conv2d_reference(x, wt, b, padding=1)] + list(
        conv2d_backward_reference(x, wt, g, 1, 1, 1, 1))
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    for k, want in enumerate(ref):
        if k == 0 or need[k - 1]:
            np.testing.assert_allclose(results[0][k], want, **tol)
            np.testing.assert_allclose(results[0][k], results[1][k], **tol)
        else:
            assert results[0][k] is None and results[1][k] is None


@pytest.mark.parametrize("shape", [(2, 3, 5, 4, 4), (1, 1, 1, 1, 2), (3, 2, 6, 7, 5)])
def test_conv2d_direct_3x3_gradcheck(shape):
    n, c, f, h, w = shape
    rng = np.random.default_rng(2)
    x, wt = T(rng.standard_normal((n, c, h, w))), T(rng.standard_normal((f, c, 3, 3)))
    b = T(rng.standard_normal(f))
    out = conv2d(x, wt, b, padding=1)
    assert not hasattr(out.grad_fn.geo, "per_sample")  # the direct kernels ran
    assert gradcheck(lambda x, w, b: conv2d(x, w, b, padding=1), x, wt, b)


@pytest.mark.parametrize("params", [dict(padding=1), dict(padding="same", stride=2),
                                    dict(padding=(0, 1), dilation=2)],
                         ids=["direct-3x3", "im2col-stride2", "im2col-dilated"])
@pytest.mark.parametrize("direct", [True, False], ids=["direct-on", "direct-off"])
@settings(max_examples=10)
@given(n=st.integers(1, 2), c=st.integers(1, 3), f=st.integers(1, 4), h=st.integers(5, 8),
       w=st.integers(5, 8), seed=st.integers(0, 2**32 - 1))
def test_conv2d_fused_relu_equals_conv_then_relu(params, direct, n, c, f, h, w, seed):
    rng = np.random.default_rng(seed)
    arrays = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, 3, 3)), \
        rng.standard_normal(f)
    with patched({"DIRECT_3X3": direct}):
        fused_in = [T(a) for a in arrays]
        fused = conv2d(*fused_in, **params, relu=True)
        plain_in = [T(a) for a in arrays]
        plain = conv2d(*plain_in, **params).relu()
        np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12, atol=1e-12)
        # only cases where the mask matters (a 1x5 output can be all positive: drawn again)
        assume((fused.data == 0).any() and (fused.data > 0).any())
        assert "then relu" in fused.grad_fn.describe()
        g = rng.standard_normal(fused.shape)
        fused.backward(g)
        plain.backward(g)
    for a, b in zip(fused_in, plain_in, strict=True):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-10, atol=1e-12)


def test_conv2d_fused_relu_gradcheck():
    rng = np.random.default_rng(5)
    x, wt, b = T(rng.standard_normal((2, 2, 5, 6))), T(rng.standard_normal((3, 2, 3, 3))), \
        T(rng.standard_normal(3))
    for params in (dict(padding=1), dict(padding=0, stride=2)):
        assert gradcheck(lambda x, w, b, p=params: conv2d(x, w, b, relu=True, **p), x, wt, b)


def test_same_padding_follows_tensorflow():
    # stride 1: out = in, extra on the bottom/right for even kernels
    assert same_padding(5, 3, 1, 1) == (1, 1)
    assert same_padding(5, 2, 1, 1) == (0, 1)
    assert same_padding(5, 4, 1, 1) == (1, 2)
    assert same_padding(5, 3, 1, 2) == (2, 2)       # dilation 2: extent 5
    # stride > 1: out = ceil(in / stride)
    assert same_padding(7, 3, 2, 1) == (1, 1)       # out 4
    assert same_padding(6, 3, 2, 1) == (0, 1)       # out 3
    assert same_padding(5, 1, 2, 1) == (0, 0)       # out 3, 1x1 needs none
    for h in range(1, 9):
        for k in range(1, 5):
            for s in range(1, 4):
                geo = ConvGeometry((1, 1, h, h), (1, 1, k, k), None, s, "same", 1, 1)
                assert geo.Ho == geo.Wo == -(-h // s)


def test_same_padding_even_kernel_pads_bottom_right():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((3, 2, 2, 2))
    explicit = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)))
    np.testing.assert_allclose(conv2d(T(x), T(w), padding="same").data,
                               conv2d_reference(explicit, w), rtol=1e-12)


def test_conv2d_outputs_do_not_alias_the_workspace():
    rng = np.random.default_rng(3)
    x1, x2, w = (rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 3, 6, 6)),
                 rng.standard_normal((4, 3, 3, 3)))
    t1 = T(x1)
    y1 = conv2d(t1, T(w))
    before = y1.data.copy()
    y1.backward(np.ones(y1.shape))
    g1 = t1.grad.clone()
    conv2d(T(x2), T(w), padding=1).backward(np.ones((2, 4, 6, 6)))  # reuses the buffers
    np.testing.assert_array_equal(y1.data, before)
    np.testing.assert_array_equal(t1.grad, g1)


def test_conv2d_describe_and_backward_steps():
    x = engine.randn(1, 2, 4, 4, requires_grad=True)
    w = engine.randn(3, 2, 3, 3, requires_grad=True)
    y = conv2d(x, w, padding="same")
    step = next(iter(engine.backward_steps(y.sum())))
    assert step.op == "sum"
    steps = list(engine.backward_steps(conv2d(x, w, padding="same").sum()))
    conv_step = next(s for s in steps if s.op == "conv2d")
    assert "col2im" in conv_step.formula
    assert "(1, 2, 4, 4)" in conv_step.detail and "(3, 2, 3, 3)" in conv_step.detail
    assert y.shape == (1, 3, 4, 4)


CONV_ERRORS = [
    (((3, 5), (4, 3, 3, 3)), {},
     r"conv2d: expected a 3-D \(unbatched\) \(C, H, W\) or 4-D \(batched\) \(N, C, H, W\) "
     r"input, got shape \(3, 5\)"),
    (((1, 1, 3, 5, 5), (4, 3, 3, 3)), {}, r"conv2d: expected a 3-D \(unbatched\) .* got shape "
                                           r"\(1, 1, 3, 5, 5\)"),
    (((1, 3, 5, 5), (4, 3, 3)), {}, r"conv2d: expected a 4-D weight .*\(4, 3, 3\)"),
    (((1, 3, 5, 5), (4, 2, 3, 3)), {},
     r"conv2d: channel mismatch: input \(1, 3, 5, 5\) has 3 channels but weight "
     r"\(4, 2, 3, 3\) with groups=1 expects 2"),
    (((1, 4, 5, 5), (6, 2, 3, 3)), {"groups": 3},
     r"conv2d: groups=3 must divide both the 4 input channels and the 6 filters"),
    (((1, 4, 5, 5), (3, 2, 3, 3)), {"groups": 2}, r"conv2d: groups=2 must divide .* 3 filters"),
    (((1, 1, 2, 2), (1, 1, 5, 5)), {"padding": 1},
     r"conv2d: kernel 5x5 .* larger than the padded input 4x4 \(input \(1, 1, 2, 2\)"),
    (((1, 1, 4, 4), (1, 1, 3, 3)), {"dilation": 2},
     r"conv2d: kernel 3x3 \(dilation 2x2, extent 5x5\) is larger than the padded input 4x4"),
    (((1, 1, 5, 5), (1, 1, 3, 3)), {"padding": "full"},
     r"conv2d: padding must be an int, a pair, 'same' or 'valid', got 'full'"),
    (((1, 1, 5, 5), (1, 1, 3, 3)), {"padding": -1}, r"conv2d: padding must be an int ≥ 0"),
    (((1, 1, 5, 5), (1, 1, 3, 3)), {"stride": 0}, r"conv2d: stride must be an int ≥ 1"),
    (((1, 1, 5, 5), (1, 1, 3, 3)), {"stride": (1, 2, 3)}, r"conv2d: stride must be"),
    (((1, 1, 5, 5), (1, 1, 3, 3)), {"groups": 0}, r"conv2d: groups must be a positive int"),
]


@pytest.mark.parametrize("shapes,params,match", CONV_ERRORS)
def test_conv2d_errors_name_the_op_and_shapes(shapes, params, match):
    with pytest.raises(ValueError, match=match):
        conv2d(engine.ones(*shapes[0]), engine.ones(*shapes[1]), **params)


def test_conv2d_bias_errors():
    x, w = engine.ones(1, 2, 4, 4), engine.ones(3, 2, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: bias of shape \(2,\) does not match the 3"):
        conv2d(x, w, engine.ones(2))
    with pytest.raises(ValueError, match=r"conv2d: bias must be 1-D"):
        conv2d(x, w, engine.ones(3, 1))
    with pytest.raises(TypeError, match="conv2d: dtype mismatch"):
        conv2d(x, engine.ones(3, 2, 3, 3, dtype=np.float64))


# ------------------------------------------------------------------------ pooling
@st.composite
def pool_configs(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kernel = draw(st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))))
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    stride = draw(st.one_of(st.none(), st.integers(1, 4),
                            st.tuples(st.integers(1, 4), st.integers(1, 4))))
    padding = draw(st.one_of(st.integers(0, min(kh, kw) // 2),
                             st.tuples(st.integers(0, kh // 2), st.integers(0, kw // 2))))
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    assume(kh <= h + 2 * ph and kw <= w + 2 * pw)
    return dict(x=(n, c, h, w), params=dict(kernel=kernel, stride=stride, padding=padding,
                                            ceil_mode=draw(st.booleans())))


def pool_windows(shape, params):
    """(oh, ow, window slices into the input) for every output pixel, by PyTorch's rules."""
    _, _, h, w = shape
    k = params["kernel"]
    kh, kw = (k, k) if isinstance(k, int) else k
    s = params["stride"] if params["stride"] is not None else k
    sh, sw = (s, s) if isinstance(s, int) else s
    p = params["padding"]
    ph, pw = (p, p) if isinstance(p, int) else p
    ho = pool_output_size(h, kh, sh, ph, params["ceil_mode"])
    wo = pool_output_size(w, kw, sw, pw, params["ceil_mode"])
    for oh in range(ho):
        for ow in range(wo):
            h0, w0 = oh * sh - ph, ow * sw - pw
            counted = ((min(h0 + kh, h + ph) - h0) * (min(w0 + kw, w + pw) - w0))
            yield oh, ow, (slice(max(h0, 0), min(h0 + kh, h)),
                           slice(max(w0, 0), min(w0 + kw, w))), counted


def max_pool_backward_reference(x, g, params):
    dx = np.zeros_like(x)
    for oh, ow, (hs, ws), _ in pool_windows(x.shape, params):
        win = x[:, :, hs, ws]
        flat = win.reshape(win.shape[0], win.shape[1], -1).argmax(axis=2)
        r, c = np.unravel_index(flat, win.shape[2:])
        for n in range(x.shape[0]):
            for ch in range(x.shape[1]):
                dx[n, ch, hs.start + r[n, ch], ws.start + c[n, ch]] += g[n, ch, oh, ow]
    return dx


def avg_pool_backward_reference(x, g, params, count_include_pad):
    dx = np.zeros_like(x)
    for oh, ow, (hs, ws), counted in pool_windows(x.shape, params):
        n = counted if count_include_pad else (hs.stop - hs.start) * (ws.stop - ws.start)
        dx[:, :, hs, ws] += (g[:, :, oh, ow] / n)[:, :, None, None]
    return dx


def distinct(rng, shape):
    """A random permutation of distinct values: no ties, so every argmax is unique."""
    return (rng.permutation(int(np.prod(shape))) * 0.5 - 3.0).reshape(shape)


@given(cfg=pool_configs(), layout=layouts, seed=st.integers(0, 2**32 - 1))
def test_max_pool2d_forward_and_grad_match_loops(cfg, layout, seed):
    rng = np.random.default_rng(seed)
    x = distinct(rng, cfg["x"])
    xt = T(relayout(x, layout))
    out = max_pool2d(xt, **cfg["params"])
    np.testing.assert_array_equal(out.data, max_pool_reference(x, **cfg["params"]))
    g = rng.standard_normal(out.shape)
    out.backward(relayout(g, layout))
    np.testing.assert_allclose(xt.grad, max_pool_backward_reference(x, g, cfg["params"]),
                               rtol=1e-12)


@given(cfg=pool_configs(), include_pad=st.booleans(), layout=layouts,
       seed=st.integers(0, 2**32 - 1))
def test_avg_pool2d_forward_and_grad_match_loops(cfg, include_pad, layout, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(cfg["x"])
    xt = T(relayout(x, layout))
    p = dict(cfg["params"], count_include_pad=include_pad)
    out = avg_pool2d(xt, **p)
    np.testing.assert_allclose(out.data, avg_pool_reference(x, **p), rtol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    np.testing.assert_allclose(xt.grad, avg_pool_backward_reference(x, g, cfg["params"],
                                                                    include_pad), rtol=1e-12)


@settings(max_examples=15)
@given(cfg=pool_configs(), seed=st.integers(0, 2**32 - 1))
def test_pools_float32_stay_float32(cfg, seed):
    x = distinct(np.random.default_rng(seed), cfg["x"])
    for pool, ref in ((max_pool2d, max_pool_reference), (avg_pool2d, avg_pool_reference)):
        xt = T(x, dtype=np.float32)
        out = pool(xt, **cfg["params"])
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.data, ref(x, **cfg["params"]), rtol=1e-5, atol=1e-5)
        out.sum().backward()
        assert xt.grad.dtype == np.float32 and xt.grad.shape == x.shape


@pytest.mark.parametrize("params", [
    dict(kernel=2), dict(kernel=3, stride=2, padding=1), dict(kernel=(2, 3), stride=1),
    dict(kernel=2, ceil_mode=True), dict(kernel=3, stride=2, padding=1, ceil_mode=True)])
def test_pools_gradcheck(params):
    rng = np.random.default_rng(4)
    x = T(distinct(rng, (2, 2, 5, 5)))  # values 0.5 apart: eps never reorders a window
    assert gradcheck(lambda t: max_pool2d(t, **params), x)
    assert gradcheck(lambda t: avg_pool2d(t, **params), x)
    assert gradcheck(lambda t: avg_pool2d(t, **params, count_include_pad=False), x)


def test_pool_output_sizes_follow_pytorch():
    x = engine.ones(1, 1, 7, 7)
    assert max_pool2d(x, 2).shape == (1, 1, 3, 3)                  # the seed CNN's 7 → 3
    assert max_pool2d(x, 2, ceil_mode=True).shape == (1, 1, 4, 4)  # Keras 'same': 7 → 4
    assert pool_output_size(5, 2, 2, 1, True) == 3  # a 4th window would start in the padding
    assert pool_output_size(6, 2, 2, 1, True) == 4
    assert pool_output_size(5, 3, 2, 0, False) == 2
    assert pool_output_size(5, 3, 2, 0, True) == 2
    assert pool_output_size(6, 3, 2, 0, True) == 3
    assert avg_pool2d(engine.ones(2, 3, 6, 8), (2, 4)).shape == (2, 3, 3, 2)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    x = T(np.ones((1, 1, 2, 2)))
    max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1, 0], [0, 0]])  # as PyTorch


def test_avg_pool_counts_padding_like_pytorch():
    x = engine.ones(1, 1, 3, 3)
    corner = avg_pool2d(x, 3, stride=1, padding=1).data[0, 0, 0, 0]
    assert corner == pytest.approx(4 / 9)
    assert avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False).data[0, 0, 0, 0] == 1


POOL_ERRORS = [
    ((8, 8), dict(kernel=2), r"max_pool2d: expected a 3-D \(unbatched\) \(C, H, W\) or 4-D "
                             r"\(batched\) \(N, C, H, W\) input, got shape \(8, 8\)"),
    ((1, 1, 1, 8, 8), dict(kernel=2), r"max_pool2d: expected a 3-D .* \(1, 1, 1, 8, 8\)"),
    ((1, 1, 2, 2), dict(kernel=3),
     r"kernel 3x3 is larger than the padded input 2x2 .*\(1, 1, 2, 2\)"),
    ((1, 1, 8, 8), dict(kernel=2, padding=2), r"padding \(2, 2\) must be at most half the kernel"),
    ((1, 1, 8, 8), dict(kernel=0), r"kernel_size must be an int ≥ 1"),
    ((1, 1, 8, 8), dict(kernel=2, stride=0), r"stride must be an int ≥ 1"),
    ((1, 1, 8, 8), dict(kernel=2, padding=(1, 2, 3)), r"padding must be an int ≥ 0 or a pair"),
]


@pytest.mark.parametrize("pool", [max_pool2d, avg_pool2d])
@pytest.mark.parametrize("shape,params,match", POOL_ERRORS)
def test_pool_errors_name_the_op_and_shapes(pool, shape, params, match):
    name = pool.__name__
    with pytest.raises(ValueError, match=match.replace("max_pool2d", name)):
        pool(engine.ones(*shape), **params)


def test_pool_describe():
    x = engine.randn(1, 2, 4, 4, requires_grad=True)
    steps = list(engine.backward_steps(max_pool2d(x, 2).sum()))
    s = next(s for s in steps if s.op == "max_pool2d")
    assert "argmax" in s.formula and "(1, 2, 4, 4)" in s.detail


# ------------------------------------------------------------------------ PyTorch
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on even kernels
@settings(max_examples=20)
@given(cfg=conv_configs(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_matches_pytorch(cfg, seed):
    torch = pytest.importorskip("torch")
    p = dict(cfg["params"])
    if isinstance(p["padding"], str):
        s = p["stride"]
        assume(p["padding"] == "valid" or s == 1 or s == (1, 1))  # torch: 'same' only stride 1
        p["padding"] = p["padding"].lower()
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"]),
               rng.standard_normal(cfg["w"][0]))
    xt, wt, bt = T(x), T(w), T(b)
    out = conv2d(xt, wt, bt, **p)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = torch.nn.functional.conv2d(tx, tw, tb, **p)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    for ours, theirs in ((xt, tx), (wt, tw), (bt, tb)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=20)
@given(cfg=pool_configs(), include_pad=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_pools_match_pytorch(cfg, include_pad, seed):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    x = distinct(rng, cfg["x"])
    p = cfg["params"]
    for ours, theirs, extra in ((max_pool2d, F.max_pool2d, {}),
                                (avg_pool2d, F.avg_pool2d, {"count_include_pad": include_pad})):
        xt, tx = T(x), torch.tensor(x, requires_grad=True)
        out = ours(xt, **p, **extra)
        tout = theirs(tx, p["kernel"], p["stride"], p["padding"], ceil_mode=p["ceil_mode"],
                      **extra)
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
        g = rng.standard_normal(out.shape)
        out.backward(g)
        tout.backward(torch.tensor(g))
        np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("call", [
    lambda x: conv2d(x, engine.ones(2, 3, 3, 3, dtype=np.float64), padding=1),
    lambda x: max_pool2d(x, 2),
    lambda x: max_pool2d(x, 2, return_indices=True)[0],
    lambda x: avg_pool2d(x, 2),
    lambda x: avg_pool2d(x, 2, stride=1, padding=1, divisor_override=3),
], ids=["conv2d", "max_pool2d", "max_pool2d_indices", "avg_pool2d", "avg_pool2d_divisor"])
def test_batched_input_takes_no_extra_op_and_unbatched_one_reshape_each_way(call):
    """4-D input goes straight to the op (its graph: the op alone, no copy of x); PyTorch's
    unbatched (C, H, W) adds a batch axis before and removes it after: two reshapes."""
    a = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    x = T(a)
    y = call(x)
    assert [s.op for s in engine.backward_steps(y.sum())][1:-1] == [y.op]
    assert y.parents[0] is x
    y1 = call(T(a[0]))
    assert [s.op for s in engine.backward_steps(y1.sum())][1:-1] == ["reshape", y.op, "reshape"]
    np.testing.assert_array_equal(y1.data, y.data[0])


def test_avg_pool2d_divisor_override_by_hand():
    """PyTorch's divisor_override: each window's sum (zero padding) divided by d, whatever
    count_include_pad says; the gradient spreads dy / d over each window. By hand:

    - ones (4, 4), kernel 2, stride 2, padding 1: a corner window holds 1 input cell, an edge
      one 2, the middle one 4, so 1/d, 2/d, 4/d; every input cell lies in one window: dx = 1/d.
    - 1 … 9 in (3, 3), kernel 2, stride 2, ceil_mode: windows {1, 2, 4, 5}, {3, 6}, {7, 8},
      {9} sum to 12, 9, 15, 9; divided by d = 4 with either count_include_pad (the means
      would be 3, 4.5, 7.5, 9).
    - ones (2, 2), kernel 2, stride 1, padding 1: each input cell lies in 4 windows, so
      dx = 4/d; with d = -2 that is -2 everywhere (PyTorch takes negative divisors)."""
    x = T(np.ones((1, 1, 4, 4)))
    out = avg_pool2d(x, 2, stride=2, padding=1, divisor_override=3)
    np.testing.assert_allclose(out.data[0, 0], np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 3,
                               rtol=1e-15)
    out.sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), np.full((1, 1, 4, 4), 1 / 3), rtol=1e-15)
    nine = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    for include_pad in (True, False):
        out = avg_pool2d(T(nine), 2, 2, 0, True, include_pad, 4)
        np.testing.assert_array_equal(out.data[0, 0], [[3, 2.25], [3.75, 2.25]])
    x = T(np.ones((1, 1, 2, 2)))
    out = avg_pool2d(x, 2, stride=1, padding=1, divisor_override=-2)
    np.testing.assert_array_equal(out.data[0, 0], [[-0.5, -1, -0.5], [-1, -2, -1],
                                                   [-0.5, -1, -0.5]])
    out.sum().backward()
    np.testing.assert_array_equal(np.asarray(x.grad), np.full((1, 1, 2, 2), -2.0))


def test_avg_pool2d_divisor_override_refuses_zero_and_non_ints_as_torch():
    """0 divides by zero (PyTorch: RuntimeError "divisor must be not zero"); a float or a
    bool is not an int (PyTorch: TypeError); numpy ints are ints. avg_pool1d has no
    divisor_override, as PyTorch's."""
    from engine.fast.pool import avg_pool1d
    x = engine.ones(1, 1, 4, 4)
    with pytest.raises(ValueError, match="avg_pool2d: divisor_override must not be zero"):
        avg_pool2d(x, 2, divisor_override=0)
    for bad in (2.0, 2.5, True, "2", np.float64(2)):
        with pytest.raises(TypeError, match=r"avg_pool2d: divisor_override must be an int or "
                                            r"None, got .* \((float|bool|str|float64)\)"):
            avg_pool2d(x, 2, divisor_override=bad)
    np.testing.assert_array_equal(avg_pool2d(x, 2, divisor_override=np.int64(8)).data, 0.5)
    with pytest.raises(TypeError, match="divisor_override"):
        avg_pool1d(engine.ones(1, 1, 4), 2, divisor_override=2)


@pytest.mark.parametrize("k,s,p,ceil", [(3, 2, 1, True), (2, 2, 0, False), (3, 1, 1, False),
                                        ((3, 2), (1, 2), (1, 1), True)])
@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("divisor", [5, -3, 1])
def test_avg_pool2d_divisor_override_matches_torch(k, s, p, ceil, include_pad, divisor):
    """Forward and gradient against PyTorch, float64, ceil-mode windows cut by the edge too."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    ours = T(x, requires_grad=True)
    out = avg_pool2d(ours, k, s, p, ceil, include_pad, divisor)
    theirs = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.avg_pool2d(theirs, k, s, p, ceil, include_pad, divisor)
    g = np.random.default_rng(1).standard_normal(ref.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(ours.grad), theirs.grad.numpy(), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_ceil_mode_keeps_a_window_larger_than_the_input(nd):
    """ceil_mode=True keeps one window that reaches past the end even where the kernel is
    larger than the (padded) input, as PyTorch (and Keras's 'same' pool of a 1-cell map):
    the max / mean of what the window covers. Without ceil_mode no window fits: refused."""
    from nn import functional as F
    max_pool, avg_pool = getattr(F, f"max_pool{nd}d"), getattr(F, f"avg_pool{nd}d")
    one = engine.ones(*(1, 1) + (1,) * nd)
    assert max_pool(one * 3, 2, ceil_mode=True).data.ravel().tolist() == [3.0]
    row = engine.tensor(np.arange(1.0, 4.0).reshape((1, 1) + (1,) * (nd - 1) + (3,)))
    if nd == 3:  # PyTorch's avg_pool3d alone refuses any input smaller than its kernel
        with pytest.raises(ValueError, match="smaller than the kernel"):
            avg_pool(row, 2, ceil_mode=True)
        avg_pool = None
    else:  # windows [1, 2] and [3] (the second reaches past the end): the mean of each
        assert avg_pool(row, 2, ceil_mode=True).data.ravel().tolist() == [1.5, 3.0]
    with pytest.raises(ValueError, match="is larger than the padded input"):
        max_pool(one, 2)
    x = engine.tensor(np.random.default_rng(nd).standard_normal((2, 2) + (1,) * (nd - 1) + (3,)),
                      dtype=np.float64, requires_grad=True)
    for pool in (max_pool, avg_pool) if avg_pool else (max_pool,):
        assert gradcheck(lambda t, pool=pool: pool(t, 4, 3, 1, ceil_mode=True), [x])


def test_ceil_mode_larger_window_matches_torch():
    torch = pytest.importorskip("torch")
    from nn import functional as F
    rng = np.random.default_rng(5)
    for shape, kw in [((2, 3, 1, 1), dict(kernel_size=2, ceil_mode=True)),
                      ((2, 3, 1, 3), dict(kernel_size=(2, 4), stride=(2, 3), padding=(0, 1),
                                          ceil_mode=True)),
                      ((1, 2, 2, 1, 3), dict(kernel_size=(2, 2, 4), stride=(2, 2, 3),
                                             padding=(1, 0, 1), ceil_mode=True))]:
        nd = len(shape) - 2
        a = rng.standard_normal(shape)
        kinds = (("max", {}), ("avg", {"count_include_pad": False}), ("avg", {}))
        for kind, extra in kinds[:1] if nd == 3 else kinds:
            ours = engine.tensor(a, dtype=np.float64, requires_grad=True)
            theirs = torch.tensor(a, requires_grad=True)
            y = getattr(F, f"{kind}_pool{nd}d")(ours, **kw, **extra)
            t = getattr(torch.nn.functional, f"{kind}_pool{nd}d")(theirs, **kw, **extra)
            g = rng.standard_normal(y.shape)
            y.backward(engine.tensor(g, dtype=np.float64))
            t.backward(torch.tensor(g))
            np.testing.assert_allclose(y.data, t.detach().numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12,
                                       atol=1e-12)
