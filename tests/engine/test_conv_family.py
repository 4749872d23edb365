"""The convolution family beyond conv2d and the 2-D pools: conv1d, conv_transpose2d, dilated
max pooling and its indices, max_unpool2d, the 1-D and adaptive pools, interpolate.

Independent checks without torch (the adjoint identity of conv_transpose2d, loops, the plans
of the column GEMMs); then every op against PyTorch, values and gradients (skipped when
torch is not installed). The op registry (tests/engine/test_ops.py) adds forward-vs-reference,
float32, memory layouts and finite differences for each of them.
"""
import re
import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import engine
from engine import gradcheck
from engine.fast import conv as conv_mod
from engine.fast.conv import (
    conv1d,
    conv2d,
    conv2d_reference,
    conv_transpose2d,
    conv_transpose2d_reference,
    transpose_geometry,
)
from engine.fast.interpolate import interpolate
from engine.fast.pool import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    max_pool1d,
    max_pool2d,
    max_pool_reference,
    max_unpool2d,
)


def T(a, requires_grad=True, dtype=np.float64):
    return engine.from_numpy(np.asarray(a).astype(dtype, copy=False)).requires_grad_(requires_grad)


def grad(t):
    return np.asarray(t.grad)


@st.composite
def convt_configs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg, og = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dilation = draw(st.one_of(st.just(1), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    out_pad = (draw(st.integers(0, max(sh, dh) - 1)), draw(st.integers(0, max(sw, dw) - 1)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    try:
        transpose_geometry((n, cg * groups, h, w), (cg * groups, og, kh, kw), None, stride,
                           padding, out_pad, groups, dilation)
    except ValueError:
        assume(False)  # output size < 1: an error case, tested in the registry
    return dict(x=(n, cg * groups, h, w), w=(cg * groups, og, kh, kw), bias=draw(st.booleans()),
                params=dict(stride=stride, padding=padding, output_padding=out_pad,
                            groups=groups, dilation=dilation))


@st.composite
def plans(draw):
    """Chunk size, column layout and kept-vs-rebuilt columns of the column GEMMs."""
    return {"CHUNK_BYTES": draw(st.sampled_from([1, 300, conv_mod.CHUNK_BYTES])),
            "PER_SAMPLE_MIN_P": draw(st.sampled_from([1, 10**9])),
            "KEEP_COLS_BYTES": draw(st.sampled_from([0, conv_mod.KEEP_COLS_BYTES]))}


# ------------------------------------------------------------------------ conv_transpose2d
@given(cfg=convt_configs(), plan=plans(), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_is_the_adjoint_of_conv2d(cfg, plan, seed):
    # <conv2d(u, w), x> = <u, conv_transpose2d(x, w)> for every u of the output's shape:
    # the definition of a transposed convolution, checked against conv2d's loop reference.
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    p = cfg["params"]
    with mock.patch.multiple(conv_mod, **plan):
        y = conv_transpose2d(T(x, False), T(w, False), **p).data
    u = rng.standard_normal(y.shape)
    conv_p = {k: v for k, v in p.items() if k != "output_padding"}
    cu = conv2d_reference(u, w, **conv_p)[:, :, :x.shape[2], :x.shape[3]]
    assert np.vdot(cu, x) == pytest.approx(np.vdot(u, y), rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(y, conv_transpose2d_reference(x, w, **p), rtol=1e-10, atol=1e-12)


@given(cfg=convt_configs(), plan=plans(), need=st.sampled_from(
    [(True, True, True), (True, False, False), (False, True, True), (False, True, False)]),
    seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_gradients_under_every_plan(cfg, plan, need, seed):
    # dx = conv2d(dy, w) and dW = x·cols(dy)ᵀ, checked against the loop reference's
    # gradients (the reference is linear: its gradients are reference calls on dy).
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    b = rng.standard_normal(cfg["w"][1] * cfg["params"]["groups"])
    p = cfg["params"]
    ts = [T(x, need[0]), T(w, need[1]), T(b, need[2])]
    with mock.patch.multiple(conv_mod, **plan):
        out = conv_transpose2d(*ts, **p)
        g = rng.standard_normal(out.shape)
        out.backward(g)
    conv_p = {k: v for k, v in p.items() if k != "output_padding"}
    if need[0]:
        dx = conv2d_reference(g, w, **conv_p)[:, :, :x.shape[2], :x.shape[3]]
        np.testing.assert_allclose(grad(ts[0]), dx, rtol=1e-10, atol=1e-11)
    if need[1]:  # d<g, out>/dW[c, o, i, j] by the reference's linearity in w
        dw = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            e = np.zeros_like(w)
            e[idx] = 1.0
            dw[idx] = np.vdot(g, conv_transpose2d_reference(x, e, **p))
        np.testing.assert_allclose(grad(ts[1]), dw, rtol=1e-10, atol=1e-11)
    if need[2]:
        np.testing.assert_allclose(grad(ts[2]), g.sum(axis=(0, 2, 3)), rtol=1e-12)
    for t, asked in zip(ts, need, strict=True):
        assert (t.grad is None) == (not asked)


@pytest.mark.parametrize("params,w_shape", [
    (dict(stride=2, padding=1, output_padding=1), (2, 3, 3, 3)),   # the decoder's 7 → 14
    (dict(stride=1, dilation=3, output_padding=2), (2, 3, 2, 2)),  # output_padding ≥ stride
    (dict(stride=(2, 1), padding=(0, 1), groups=2), (2, 2, 3, 2)),  # 2 groups of 1 → 2
])
def test_conv_transpose2d_gradcheck(params, w_shape):
    rng = np.random.default_rng(0)
    c_out = w_shape[1] * params.get("groups", 1)
    x, w, b = (T(rng.standard_normal((2, 2, 3, 4))), T(rng.standard_normal(w_shape)),
               T(rng.standard_normal(c_out)))
    assert gradcheck(lambda x, w, b: conv_transpose2d(x, w, b, **params), x, w, b)


def test_conv_transpose2d_shapes_and_describe():
    x = engine.randn(2, 8, 7, 7, requires_grad=True)
    w = engine.randn(8, 4, 3, 3, requires_grad=True)
    y = conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
    assert y.shape == (2, 4, 14, 14)   # inverts Conv2d(4, 8, 3, stride=2, padding=1): 14 → 7
    assert conv_transpose2d(x, w, stride=2, padding=1).shape == (2, 4, 13, 13)
    step = next(s for s in engine.backward_steps(y.sum()) if s.op == "conv_transpose2d")
    assert "col2im" in step.formula and "output_padding (1, 1)" in step.detail
    with pytest.raises(RuntimeError, match="conv_transpose2d is not twice differentiable"):
        engine.grad(conv_transpose2d(x, w, stride=2).sum(), [w], create_graph=True)


# ------------------------------------------------------------------------ conv1d
@given(n=st.integers(1, 3), cg=st.integers(1, 3), fg=st.integers(1, 3),
       groups=st.sampled_from([1, 2]), length=st.integers(1, 12), k=st.integers(1, 5),
       stride=st.integers(1, 3), dilation=st.integers(1, 3),
       padding=st.one_of(st.integers(0, 3), st.sampled_from(["same", "valid"])),
       seed=st.integers(0, 2**32 - 1))
def test_conv1d_is_conv2d_over_one_row(n, cg, fg, groups, length, k, stride, dilation, padding,
                                       seed):
    assume(dilation * (k - 1) + 1 <= length + 2 * (padding if isinstance(padding, int) else
                                                   (9 if padding == "same" else 0)))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cg * groups, length))
    w, b = rng.standard_normal((fg * groups, cg, k)), rng.standard_normal(fg * groups)
    pad2 = padding if isinstance(padding, str) else (0, padding)
    p2 = dict(stride=(1, stride), padding=pad2, dilation=(1, dilation), groups=groups)
    ref = conv2d_reference(x[:, :, None], w[:, :, None], b, **p2)[:, :, 0]
    ts = [T(x), T(w), T(b)]
    out = conv1d(*ts, stride=stride, padding=padding, dilation=dilation, groups=groups)
    np.testing.assert_allclose(out.data, ref, rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    t2 = [T(x[:, :, None]), T(w[:, :, None]), T(b)]
    conv2d(*t2, **p2).backward(g[:, :, None])
    for a, r in zip(ts, t2, strict=True):
        np.testing.assert_allclose(grad(a), grad(r).reshape(grad(a).shape), rtol=1e-10,
                                   atol=1e-12)


def test_conv1d_describe_names_the_1d_shapes():
    y = conv1d(engine.randn(2, 3, 10, requires_grad=True), engine.randn(4, 3, 5), padding=2)
    step = next(s for s in engine.backward_steps(y.sum()) if s.op == "conv1d")
    assert "(2, 3, 10)" in step.detail and "(4, 3, 5)" in step.detail and y.shape == (2, 4, 10)


# ------------------------------------------------------------------------ pooling
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(3, 9),
                       st.integers(3, 9)),
       k=st.integers(1, 3), d=st.integers(1, 3), s=st.integers(1, 3), ceil=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_dilated_max_pool_gradient_goes_to_the_argmax(shape, k, d, s, ceil, seed):
    assume(d * (k - 1) + 1 <= min(shape[2], shape[3]))  # the window fits both ways
    rng = np.random.default_rng(seed)
    x = (rng.permutation(int(np.prod(shape))) * 0.5).reshape(shape)
    xt = T(x)
    out, idx = max_pool2d(xt, k, s, 0, d, ceil, return_indices=True)
    np.testing.assert_array_equal(out.data, max_pool_reference(x, k, s, 0, d, ceil))
    plane = x.reshape(shape[0], shape[1], -1)
    np.testing.assert_array_equal(np.take_along_axis(plane, idx.data.reshape(
        shape[0], shape[1], -1), 2).reshape(out.shape), out.data)   # the indices point at it
    g = rng.standard_normal(out.shape)
    out.backward(g)
    dx = np.zeros_like(plane)
    for (n, c), _ in np.ndenumerate(dx[:, :, 0]):
        np.add.at(dx[n, c], idx.data[n, c].ravel(), g[n, c].ravel())
    np.testing.assert_allclose(grad(xt), dx.reshape(shape), rtol=1e-12)


def test_pools_take_kernel_size_or_kernel_once():
    x = engine.ones(1, 1, 4, 4)
    assert max_pool2d(x, kernel_size=2).shape == max_pool2d(x, kernel=2).shape == (1, 1, 2, 2)
    assert engine.avg_pool2d(x, kernel_size=(2, 1)).shape == (1, 1, 2, 4)
    with pytest.raises(TypeError, match="avg_pool2d: give the window size once"):
        engine.avg_pool2d(x)
    with pytest.raises(ValueError, match="max_pool2d: dilation must be an int ≥ 1"):
        max_pool2d(x, 2, 2, 0, True)   # ceil_mode moved after dilation, as in PyTorch


def test_max_unpool_inverts_a_pool_where_the_maxima_were():
    x = T(np.arange(16.0).reshape(1, 1, 4, 4)[:, :, ::-1].copy())
    y, idx = max_pool2d(x, 2, return_indices=True)
    up = max_unpool2d(y, idx, 2)
    want = np.where(x.data == max_pool2d(x, 2).data.repeat(2, 2).repeat(2, 3), x.data, 0)
    np.testing.assert_array_equal(up.data, want)
    assert max_unpool2d(y, idx, 2, output_size=(5, 5)).shape == (1, 1, 5, 5)
    assert max_unpool2d(y, idx, 2, output_size=(1, 1, 5, 4)).shape == (1, 1, 5, 4)


def test_max_unpool2d_is_twice_differentiable():
    rng = np.random.default_rng(0)
    x = T(rng.standard_normal((1, 2, 2, 2)))
    idx = np.array([[[[0, 3], [9, 14]], [[1, 2], [4, 15]]]])
    assert engine.gradgradcheck(lambda t: max_unpool2d(t, idx, 2) ** 2, x)


def test_adaptive_pools_cover_every_cell_and_equal_global_pooling_at_one():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 7))
    np.testing.assert_allclose(adaptive_avg_pool2d(T(x), 1).data, x.mean(axis=(2, 3),
                                                                       keepdims=True))
    np.testing.assert_array_equal(adaptive_max_pool2d(T(x), 1).data, x.max(axis=(2, 3),
                                                                           keepdims=True))
    assert adaptive_avg_pool2d(T(x), (None, 3)).shape == (2, 3, 5, 3)
    # equal windows when the size divides: the same as avg_pool2d
    x2 = rng.standard_normal((1, 2, 6, 6))
    np.testing.assert_allclose(adaptive_avg_pool2d(T(x2), 3).data,
                               engine.avg_pool2d(T(x2), 2).data, rtol=1e-12)


def test_one_d_pools_are_the_2d_ones_over_a_row():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9))
    as_2d = max_pool2d(T(x[:, :, None]), (1, 3), (1, 2), (0, 1)).data[:, :, 0]
    np.testing.assert_array_equal(max_pool1d(T(x), 3, 2, 1).data, as_2d)
    np.testing.assert_allclose(avg_pool1d(T(x), 2).data,
                               (x[:, :, 0:8:2] + x[:, :, 1:8:2]) / 2, rtol=1e-12)
    with pytest.raises(ValueError, match=r"max_pool1d: padding 2 must be at most half the "
                                         r"kernel 3"):
        max_pool1d(T(x), 3, padding=2)


# ------------------------------------------------------------------------ interpolate
def test_interpolate_nearest_and_bilinear_by_hand():
    x = T(np.array([[[[0.0, 1.0], [2.0, 3.0]]]]))
    np.testing.assert_array_equal(interpolate(x, scale_factor=2).data[0, 0],
                                  [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    # align_corners=False: output pixel centres at (o + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25
    # (clamped at 0 and at the last pixel): weights 0, 0.25, 0.75, 1 along each axis.
    row = np.array([0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(interpolate(x, scale_factor=2, mode="bilinear").data[0, 0],
                               2 * row[:, None] + row[None, :], rtol=1e-12)
    np.testing.assert_allclose(interpolate(x, size=(3, 3), mode="bilinear",
                                           align_corners=True).data[0, 0],
                               [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]], rtol=1e-12)


def test_interpolate_gradient_sends_dy_back_with_the_same_weights():
    x = T(np.zeros((1, 1, 3)))
    y = interpolate(x, size=5, mode="linear", align_corners=True)  # sources 0, .5, 1, 1.5, 2
    y.backward(np.ones(y.shape))
    np.testing.assert_allclose(grad(x)[0, 0], [1.5, 2.0, 1.5], rtol=1e-12)
    assert engine.gradgradcheck(lambda t: interpolate(t, scale_factor=1.5, mode="linear") ** 2,
                                T(np.random.default_rng(0).standard_normal((1, 2, 4))))


def test_interpolate_area_is_adaptive_average_pooling():
    x = np.random.default_rng(3).standard_normal((1, 2, 7, 5))
    np.testing.assert_array_equal(interpolate(T(x), size=(3, 2), mode="area").data,
                                  adaptive_avg_pool2d(T(x), (3, 2)).data)
    assert interpolate(T(x[:, :, 0]), scale_factor=0.5, mode="area").shape == (1, 2, 2)


# ------------------------------------------------------------------------ PyTorch
torch_missing = pytest.mark.skipif(not __import__("importlib").util.find_spec("torch"),
                                   reason="torch is not installed")


def _compare(ours_out, theirs_out, ours_in, theirs_in, rng, tol=1e-10):
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(ours_out.data, theirs_out.detach().numpy(), rtol=tol, atol=tol)
    g = rng.standard_normal(ours_out.shape).astype(ours_out.dtype)
    ours_out.backward(g)
    theirs_out.backward(torch.tensor(g))
    for a, b in zip(ours_in, theirs_in, strict=True):
        np.testing.assert_allclose(grad(a), b.grad.numpy(), rtol=tol, atol=tol)


@torch_missing
@settings(max_examples=30)
@given(cfg=convt_configs(), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose2d_matches_pytorch(cfg, seed):
    import torch
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])]
    if cfg["bias"]:
        arrays.append(rng.standard_normal(cfg["w"][1] * cfg["params"]["groups"]))
    ours = [T(a) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    _compare(conv_transpose2d(*ours, **cfg["params"]),
             torch.nn.functional.conv_transpose2d(*theirs, **cfg["params"]), ours, theirs, rng)


@torch_missing
@settings(max_examples=30)
@given(n=st.integers(1, 3), c=st.integers(1, 4), f=st.integers(1, 4), length=st.integers(1, 20),
       k=st.integers(1, 5), stride=st.integers(1, 3), dilation=st.integers(1, 2),
       padding=st.one_of(st.integers(0, 3), st.just("valid"), st.just("same")),
       seed=st.integers(0, 2**32 - 1))
def test_conv1d_matches_pytorch(n, c, f, length, k, stride, dilation, padding, seed):
    import torch
    if padding == "same":
        stride = 1  # PyTorch: 'same' only for stride 1
    assume(dilation * (k - 1) + 1 <= length + 2 * (padding if isinstance(padding, int) else
                                                   (9 if padding == "same" else 0)))
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, c, length)), rng.standard_normal((f, c, k)),
              rng.standard_normal(f)]
    ours, theirs = [T(a) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays]
    p = dict(stride=stride, padding=padding, dilation=dilation)
    with warnings.catch_warnings():  # PyTorch's note on 'same' with even kernels
        warnings.simplefilter("ignore")
        tout = torch.nn.functional.conv1d(*theirs, **p)
    _compare(conv1d(*ours, **p), tout, ours, theirs, rng)


@st.composite
def pool_configs(draw, one_d=False):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    size = (draw(st.integers(1, 10)),) if one_d else (draw(st.integers(1, 10)),
                                                      draw(st.integers(1, 10)))
    k = tuple(draw(st.integers(1, 4)) for _ in size)
    d = tuple(draw(st.integers(1, 3)) for _ in size)
    s = tuple(draw(st.integers(1, 4)) for _ in size)
    p = tuple(draw(st.integers(0, kk // 2)) for kk in k)
    ceil = draw(st.booleans())
    for n_, k_, d_, p_ in zip(size, k, d, p, strict=True):
        assume(d_ * (k_ - 1) + 1 <= n_ + 2 * p_)
    unpack = (lambda t: t[0]) if one_d else (lambda t: t)
    return (n, c) + size, dict(kernel_size=unpack(k), stride=unpack(s), padding=unpack(p),
                               dilation=unpack(d), ceil_mode=ceil)


@torch_missing
@settings(max_examples=30)
@given(cfg=pool_configs(), one_d=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_dilated_max_pools_and_indices_match_pytorch(cfg, one_d, seed):
    import torch
    F = torch.nn.functional
    shape, p = cfg
    if one_d:
        shape = shape[:3]
        p = {k: (v[1] if isinstance(v, tuple) else v) for k, v in p.items()}
        assume(p["dilation"] * (p["kernel_size"] - 1) + 1 <= shape[2] + 2 * p["padding"])
    rng = np.random.default_rng(seed)
    x = (rng.permutation(int(np.prod(shape))) * 0.25).reshape(shape)
    ours_fn, theirs_fn = (max_pool1d, F.max_pool1d) if one_d else (max_pool2d, F.max_pool2d)
    try:
        out, idx = ours_fn(T(x), **p, return_indices=True)
    except ValueError as e:
        assume("reads only padding" not in str(e))  # PyTorch returns -inf there
        raise
    tout, tidx = theirs_fn(torch.tensor(x), **p, return_indices=True)
    np.testing.assert_array_equal(out.data, tout.numpy())
    np.testing.assert_array_equal(idx.data, tidx.numpy())
    xt, tx = T(x), torch.tensor(x, requires_grad=True)
    _compare(ours_fn(xt, **p), theirs_fn(tx, **p), [xt], [tx], rng)


@torch_missing
@settings(max_examples=20)
@given(cfg=pool_configs(one_d=True), include_pad=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_avg_pool1d_matches_pytorch(cfg, include_pad, seed):
    import torch
    shape, p = cfg
    p = {k: v for k, v in p.items() if k != "dilation"}
    assume(p["kernel_size"] <= shape[2] + 2 * p["padding"])
    x = np.random.default_rng(seed).standard_normal(shape)
    xt, tx = T(x), torch.tensor(x, requires_grad=True)
    _compare(avg_pool1d(xt, **p, count_include_pad=include_pad),
             torch.nn.functional.avg_pool1d(tx, **p, count_include_pad=include_pad), [xt], [tx],
             np.random.default_rng(seed + 1))


@torch_missing
@settings(max_examples=20)
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(2, 9),
                       st.integers(2, 9)),
       k=st.integers(2, 3), s=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_max_unpool2d_matches_pytorch(shape, k, s, seed):
    # Indices from PyTorch's own pool, unpooled to the pool's input size (the usual call:
    # a floor-mode pool may have dropped rows). Overlapping windows (s < k) repeat some
    # indices: the gradient then goes to every input naming the position (PyTorch's gather).
    import torch
    F = torch.nn.functional
    assume(k <= min(shape[2:]))
    rng = np.random.default_rng(seed)
    y, tidx = F.max_pool2d(torch.tensor(rng.standard_normal(shape)), k, s, return_indices=True)
    yt, ty = T(y.numpy()), y.clone().requires_grad_(True)
    size = shape[2:]
    _compare(max_unpool2d(yt, tidx.numpy(), k, s, output_size=size),
             F.max_unpool2d(ty, tidx, k, s, output_size=size), [yt], [ty], rng, tol=0)
    # indices as an engine tensor (what max_pool2d returns) work the same
    np.testing.assert_array_equal(
        max_unpool2d(T(y.numpy()), engine.tensor(tidx.numpy()), k, s, output_size=size).data,
        F.max_unpool2d(y, tidx, k, s, output_size=size).numpy())


@torch_missing
@settings(max_examples=30)
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 11),
                       st.integers(1, 11)),
       out=st.tuples(st.one_of(st.none(), st.integers(1, 12)), st.integers(1, 12)),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_pools_match_pytorch(shape, out, seed):
    import torch
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    x = (rng.permutation(int(np.prod(shape))) * 0.25).reshape(shape)
    for ours_fn, theirs_fn in ((adaptive_avg_pool2d, F.adaptive_avg_pool2d),
                               (adaptive_max_pool2d, F.adaptive_max_pool2d)):
        xt, tx = T(x), torch.tensor(x, requires_grad=True)
        _compare(ours_fn(xt, out), theirs_fn(tx, out), [xt], [tx], rng, tol=1e-12)
    _, idx = adaptive_max_pool2d(T(x), out, return_indices=True)
    np.testing.assert_array_equal(idx.data, F.adaptive_max_pool2d(torch.tensor(x), out,
                                                                  return_indices=True)[1].numpy())


@st.composite
def interp_configs(draw):
    dims = draw(st.sampled_from([1, 2]))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + tuple(
        draw(st.integers(1, 9)) for _ in range(dims))
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "area",
                                 "linear" if dims == 1 else "bilinear"]))
    p = {"mode": mode}
    if mode.endswith("linear"):
        p["align_corners"] = draw(st.booleans())
    if draw(st.booleans()):
        p["size"] = tuple(draw(st.integers(1, 20)) for _ in range(dims))
    else:
        p["scale_factor"] = tuple(draw(st.sampled_from([0.3, 0.5, 0.7, 1.0, 1.3, 1.5, 2.0, 2.5,
                                                        3.0, 10 / 7])) for _ in range(dims))
        assume(all(int(n * s) >= 1 for n, s in zip(shape[2:], p["scale_factor"], strict=True)))
        if mode != "area" and draw(st.booleans()):
            p["recompute_scale_factor"] = True
    return shape, p


@torch_missing
@settings(max_examples=60)
@given(cfg=interp_configs(), dtype=st.sampled_from([np.float64, np.float32]),
       seed=st.integers(0, 2**32 - 1))
def test_interpolate_matches_pytorch(cfg, dtype, seed):
    import torch
    shape, p = cfg
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    xt, tx = T(x, dtype=dtype), torch.tensor(x, requires_grad=True)
    out = interpolate(xt, **p)
    tout = torch.nn.functional.interpolate(tx, **p)
    assert out.shape == tuple(tout.shape) and out.dtype == dtype
    tol = 1e-10 if dtype == np.float64 else 2e-5
    if _pytorch_1d_nearest_backward_differs(shape, p, out.shape):
        # PyTorch's 1-D nearest backward takes a size shortcut its forward does not: its
        # gradient is not its forward's transpose there. Values as PyTorch; the gradient as
        # the transpose of what was computed: <A x, g> = <x, Aᵀ g> for this linear map.
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=tol, atol=tol)
        g = np.random.default_rng(seed + 1).standard_normal(out.shape)
        out.backward(g.astype(dtype))
        np.testing.assert_allclose((out.data * g).sum(), (x * grad(xt)).sum(), rtol=1e-5)
        return
    _compare(out, tout, [xt], [tx], np.random.default_rng(seed + 1), tol=tol)


def _pytorch_1d_nearest_backward_differs(shape, p, out_shape):
    """Whether PyTorch's 1-D 'nearest' backward reads o or o // 2 (the size kept or
    doubled) where its forward reads floor(o / scale_factor) (another index)."""
    n, m = shape[-1], out_shape[-1]
    if len(shape) != 3 or p["mode"] != "nearest" or "scale_factor" not in p or \
            p.get("recompute_scale_factor") or m not in (n, 2 * n):
        return False
    scale = np.float32(1.0 / p["scale_factor"][0])
    forward = np.minimum(np.floor(np.arange(m, dtype=np.float32) * scale).astype(int), n - 1)
    return not np.array_equal(forward, np.arange(m) * n // m)


def test_nearest_1d_reads_floor_o_over_s_and_its_gradient_is_the_transpose():
    """Size 2 scaled by 1.3 stays 2: PyTorch's 1-D forward reads pixel 0 twice (index
    floor(o / 1.3)), its 2-D kernel keeps both pixels (size unchanged: index o). stepgrad
    does the same; its 1-D gradient sends both dy back to pixel 0, the transpose of that
    forward (PyTorch's 1-D backward shortcuts to [dy0, dy1]: not its forward's gradient)."""
    x = np.array([[[3.0, 5.0]]])
    xt = T(x)
    out = interpolate(xt, scale_factor=1.3)
    np.testing.assert_array_equal(out.data, [[[3.0, 3.0]]])
    out.backward(np.array([[[1.0, 2.0]]]))
    np.testing.assert_array_equal(grad(xt), [[[3.0, 0.0]]])
    x2 = np.arange(4.0).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(interpolate(T(x2), scale_factor=1.3).data, x2)


@torch_missing
def test_nearest_size_shortcuts_as_pytorchs_kernels():
    import torch
    x, x2 = np.array([[[3.0, 5.0]]]), np.arange(4.0).reshape(1, 1, 2, 2)
    for a in (x, x2):
        np.testing.assert_array_equal(
            interpolate(T(a), scale_factor=1.3).data,
            torch.nn.functional.interpolate(torch.tensor(a), scale_factor=1.3).numpy())


@torch_missing
def test_nearest_float32_source_index_as_pytorch():
    # 14 → 20: scale 0.7f is just below 0.7, so floor(o · scale) is one less than the exact
    # floor(o · 14 / 20) for some o; PyTorch computes in float32, and so does stepgrad.
    import torch
    for n_in, n_out in ((14, 20), (7, 10), (3, 5), (20, 14), (9, 13)):
        x = np.arange(float(n_in)).reshape(1, 1, n_in)
        ours = interpolate(T(x), size=n_out).data
        theirs = torch.nn.functional.interpolate(torch.tensor(x), size=n_out).numpy()
        np.testing.assert_array_equal(ours, theirs)


@st.composite
def unfold_configs(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    hw = tuple(draw(st.integers(max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]), 8)) for i in (0, 1))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + hw
    return shape, {"kernel_size": k, "dilation": d, "padding": p, "stride": s}


@torch_missing
@settings(max_examples=40)
@given(cfg=unfold_configs(), seed=st.integers(0, 2**32 - 1))
def test_unfold_and_fold_match_pytorch(cfg, seed):
    """F.unfold and F.fold (its transpose): values and gradients as torch's, float64."""
    import torch

    from nn import functional as F
    shape, p = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    xt, tx = T(x), torch.tensor(x, requires_grad=True)
    cols, tcols = F.unfold(xt, **p), torch.nn.functional.unfold(tx, **p)
    _compare(cols, tcols, [xt], [tx], rng)
    c = rng.standard_normal(cols.shape)
    ct, tc = T(c), torch.tensor(c, requires_grad=True)
    _compare(F.fold(ct, shape[2:], **p), torch.nn.functional.fold(tc, shape[2:], **p), [ct],
             [tc], rng)


def test_unfold_is_convolution_as_a_dot_product_and_twice_differentiable():
    """w.reshape(F, −1) @ unfold(x) is conv2d (the course's convolution as a dot product);
    unfold and fold are each other's gradient, so second derivatives exist."""
    from nn import functional as F
    rng = np.random.default_rng(0)
    x, w = T(rng.standard_normal((2, 3, 5, 6))), T(rng.standard_normal((4, 3, 3, 3)))
    by_dot = (w.reshape(4, -1) @ F.unfold(x, 3, padding=1, stride=2)).reshape(2, 4, 3, 3)
    np.testing.assert_allclose(by_dot.data, conv2d(x, w, padding=1, stride=2).data,
                               rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda t: (F.unfold(t, 2, stride=1) ** 2).sum(),
                     T(rng.standard_normal((1, 2, 3, 3))))
    (gx,) = engine.grad((F.unfold(x, 2) ** 2).sum(), [x], create_graph=True)
    (ggx,) = engine.grad(gx.sum(), [x])  # d/dx Σ fold(2·unfold(x)) = fold(2·unfold(1))
    np.testing.assert_allclose(ggx.data, F.fold(2 * F.unfold(engine.ones_like(x), 2), (5, 6),
                                                2).data)


# ----------------------------------------------------------------------------- unbatched input
# PyTorch's conv and pool functions and modules take one sample without its batch axis:
# (C, H, W) for the 2-D ones, (C, L) for the 1-D ones (checked on torch 2.13). stepgrad runs
# it as a batch of one (engine.fast.conv.batch_of_one). Each case: name, unbatched input
# shape, make(F, L, P) → the call (F: engine or torch.nn.functional; L: nn or torch.nn; P: the
# weights as that library's tensors), keyword arguments of the call.
_W = {k: np.random.default_rng(5).standard_normal(s) for k, s in
      {"c2": (4, 3, 3, 3), "b4": (4,), "c1": (4, 3, 3), "ct": (3, 2, 3, 3), "b2": (2,)}.items()}


def _pool_unpool(pool, unpool):
    return lambda x: unpool(*pool(x), output_size=tuple(x.shape[-2:]))


UNBATCHED = [
    ("conv2d", (3, 6, 7), lambda F, L, P: lambda x: F.conv2d(x, P["c2"], P["b4"], stride=(2, 1),
                                                              padding=1), {}),
    ("conv2d_direct_3x3", (3, 5, 6), lambda F, L, P: lambda x: F.conv2d(x, P["c2"], padding=1),
     {}),
    ("conv1d", (3, 9), lambda F, L, P: lambda x: F.conv1d(x, P["c1"], P["b4"], padding="same"),
     {}),
    ("conv_transpose2d", (3, 4, 5), lambda F, L, P: lambda x: F.conv_transpose2d(
        x, P["ct"], P["b2"], stride=2, output_padding=1), {}),
    ("max_pool2d", (2, 7, 6), lambda F, L, P: lambda x: F.max_pool2d(x, 3, 2, 1,
                                                                      return_indices=True), {}),
    ("max_pool1d", (3, 9), lambda F, L, P: lambda x: F.max_pool1d(x, 2, ceil_mode=True,
                                                                   return_indices=True), {}),
    ("avg_pool2d", (2, 7, 6), lambda F, L, P: lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
     {}),
    ("avg_pool1d", (3, 9), lambda F, L, P: lambda x: F.avg_pool1d(x, 3, 2, 1,
                                                                   count_include_pad=False), {}),
    ("adaptive_avg_pool2d", (2, 7, 6), lambda F, L, P: lambda x: F.adaptive_avg_pool2d(
        x, (3, None)), {}),
    ("adaptive_max_pool2d", (2, 7, 6), lambda F, L, P: lambda x: F.adaptive_max_pool2d(
        x, (4, 3), return_indices=True), {}),
    ("max_unpool2d", (2, 7, 6), lambda F, L, P: lambda x: F.max_unpool2d(
        *F.max_pool2d(x, 2, return_indices=True), 2, output_size=tuple(x.shape[-2:])), {}),
    ("Conv2d", (3, 6, 7), lambda F, L, P: L.Conv2d(3, 4, 3, stride=2, padding=(1, 2)), {}),
    ("Conv2d_reflect", (3, 6, 7), lambda F, L, P: L.Conv2d(3, 4, 3, padding=1,
                                                           padding_mode="reflect"), {}),
    ("Conv1d", (3, 9), lambda F, L, P: L.Conv1d(3, 4, 3, stride=2, dilation=2), {}),
    ("ConvTranspose2d", (3, 4, 5), lambda F, L, P: L.ConvTranspose2d(3, 2, 3, stride=2), {}),
    ("ConvTranspose2d_output_size", (3, 4, 5), lambda F, L, P: L.ConvTranspose2d(3, 2, 3,
                                                                                 stride=2),
     {"output_size": (10, 12)}),
    ("MaxPool2d", (2, 7, 6), lambda F, L, P: L.MaxPool2d(2, return_indices=True), {}),
    ("AvgPool2d", (2, 7, 6), lambda F, L, P: L.AvgPool2d(3, 2, 1), {}),
    ("MaxPool1d", (3, 9), lambda F, L, P: L.MaxPool1d(3, 2, 1, return_indices=True), {}),
    ("AvgPool1d", (3, 9), lambda F, L, P: L.AvgPool1d(2), {}),
    ("AdaptiveAvgPool2d", (2, 7, 6), lambda F, L, P: L.AdaptiveAvgPool2d(2), {}),
    ("AdaptiveMaxPool2d", (2, 7, 6), lambda F, L, P: L.AdaptiveMaxPool2d((3, 2),
                                                                         return_indices=True), {}),
    ("AdaptiveAvgPool1d", (3, 9), lambda F, L, P: L.AdaptiveAvgPool1d(4), {}),
    ("AdaptiveMaxPool1d", (3, 9), lambda F, L, P: L.AdaptiveMaxPool1d(4), {}),
    ("MaxUnpool2d", (2, 7, 6), lambda F, L, P: _pool_unpool(L.MaxPool2d(2, return_indices=True),
                                                            L.MaxUnpool2d(2)), {}),
]
UNBATCHED_IDS = [c[0] for c in UNBATCHED]


def _distinct(shape, seed=0):
    """Distinct values a quarter apart: no ties in any max window."""
    return np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.25


def _ours(make):
    """The call in stepgrad, float64, with its parameter tensors (weights and module's)."""
    import nn
    params = {k: T(v) for k, v in _W.items()}
    f = make(engine, nn, params)
    if isinstance(f, nn.Module):
        f.to(np.float64)
        return f, list(params.values()) + list(f.parameters())
    return f, list(params.values())


def _run(f, x, kw, g):
    """f(x) (outputs as a tuple), backward of the first output with ``g``."""
    outs = f(x, **kw)
    outs = outs if isinstance(outs, tuple) else (outs,)
    outs[0].backward(g)
    return outs


@pytest.mark.parametrize("case", UNBATCHED, ids=UNBATCHED_IDS)
def test_unbatched_input_is_a_batch_of_one(case):
    """f(x) for unbatched x is f(x[None]) without its batch axis, exactly: outputs, indices,
    the input's gradient and the weights' gradients."""
    _, shape, make, kw = case
    x = _distinct(shape)
    f, params = _ours(make)
    xt = T(x)
    outs = f(xt, **kw)
    outs = outs if isinstance(outs, tuple) else (outs,)
    g = np.random.default_rng(1).standard_normal(outs[0].shape)
    outs[0].backward(g)
    grads = [np.array(p.grad) if p.grad is not None else None for p in params]
    for p in params:
        p.grad = None
    xb = T(x[None])
    outs_b = _run(f, xb, kw, g[None])
    for o, ob in zip(outs, outs_b, strict=True):
        assert o.shape == ob.shape[1:] and ob.shape[0] == 1 and o.ndim == len(shape)
        assert o.dtype == ob.dtype
        np.testing.assert_array_equal(o.data, ob.data[0])
    np.testing.assert_array_equal(grad(xt), grad(xb)[0])
    for gp, p in zip(grads, params, strict=True):
        assert (gp is None) == (p.grad is None)
        if gp is not None:
            np.testing.assert_array_equal(gp, grad(p))


@torch_missing
@pytest.mark.parametrize("case", UNBATCHED, ids=UNBATCHED_IDS)
def test_unbatched_input_matches_pytorch(case):
    """The unbatched call against PyTorch's, float64: output shape and values, indices, the
    input's gradient and the weights' gradients."""
    torch = pytest.importorskip("torch")
    name, shape, make, kw = case
    x = _distinct(shape)
    f, params = _ours(make)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in _W.items()}
    torch.manual_seed(0)
    tf = make(torch.nn.functional, torch.nn, tparams)
    tparam_list = list(tparams.values())
    if isinstance(tf, torch.nn.Module):
        tf.double()
        f.load_state_dict({k: v.detach().numpy().copy() for k, v in tf.state_dict().items()})
        tparam_list += list(tf.parameters())
    xt, tx = T(x), torch.tensor(x, requires_grad=True)
    theirs = tf(tx, **kw)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    g = np.random.default_rng(1).standard_normal(tuple(theirs[0].shape))
    theirs[0].backward(torch.tensor(g))
    ours = _run(f, xt, kw, g)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs, strict=True):
        assert o.shape == tuple(t.shape), name
        np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-12, atol=1e-12)
        assert np.dtype(o.dtype) == np.dtype(str(t.dtype).removeprefix("torch."))
    np.testing.assert_allclose(grad(xt), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    for p, tp in zip(params, tparam_list, strict=True):
        if tp.grad is None:
            assert p.grad is None, name
        else:
            np.testing.assert_allclose(grad(p), tp.grad.numpy(), rtol=1e-12, atol=1e-12)


def _refused_shapes(shape):
    """One dim fewer than the unbatched form and one more than the batched one."""
    return [shape[1:], (1, 1) + shape]


def _refusal(name, shape, bad):
    n = len(shape)
    if name == "Conv2d_reflect":  # the module pads first: F.pad refuses, as torch's F.pad does
        return r"pad: reflect padding of 2 dim\(s\) needs a 3-D or 4-D input"
    return (rf"expected a {n}-D \(unbatched\) \(C[^)]*\) or {n + 1}-D \(batched\) \(N, C[^)]*\) "
            rf"input, got shape {re.escape(str(bad))}")


@pytest.mark.parametrize("case", UNBATCHED, ids=UNBATCHED_IDS)
def test_what_pytorch_refuses_stays_refused(case):
    """2-D input to conv2d, 1-D to conv1d, 5-D to either...: a ValueError naming both shapes
    accepted (the test below checks that torch refuses the same calls)."""
    name, shape, make, kw = case
    f, _ = _ours(make)
    for bad in _refused_shapes(shape):
        with pytest.raises(ValueError, match=_refusal(name, shape, bad)):
            f(T(_distinct(bad)), **kw)


@torch_missing
@pytest.mark.parametrize("case", UNBATCHED, ids=UNBATCHED_IDS)
def test_pytorch_refuses_the_refused_shapes(case):
    torch = pytest.importorskip("torch")
    _, shape, make, kw = case
    tf = make(torch.nn.functional, torch.nn,
              {k: torch.tensor(v) for k, v in _W.items()})
    for bad in _refused_shapes(shape):
        with pytest.raises((RuntimeError, ValueError, NotImplementedError, IndexError)):
            tf(torch.tensor(_distinct(bad)), **kw)


def test_unbatched_max_unpool2d_takes_pytorchs_output_sizes_and_indices():
    """Unbatched max_unpool2d: output_size (H, W) or (N, C, H, W), as PyTorch (which refuses
    (C, H, W) for 3-D and 4-D input alike); indices must have the input's shape."""
    x = T(_distinct((2, 5, 7)))
    y, idx = max_pool2d(x, 2, return_indices=True)
    assert idx.shape == y.shape == (2, 2, 3) and idx.dtype == np.int64
    full = max_unpool2d(y, idx, 2, output_size=(1, 2, 5, 7))
    np.testing.assert_array_equal(full.data, max_unpool2d(y, idx, 2, output_size=(5, 7)).data)
    assert full.shape == (2, 5, 7)
    with pytest.raises(ValueError, match=r"max_unpool2d: output_size must be \(H, W\) or "
                                         r"\(N, C, H, W\), got \(2, 5, 7\)"):
        max_unpool2d(y, idx, 2, output_size=(2, 5, 7))
    with pytest.raises(ValueError, match=r"max_unpool2d: indices of shape \(1, 2, 2, 3\) do "
                                         r"not match the input \(2, 2, 3\)"):
        max_unpool2d(y, idx.reshape(1, 2, 2, 3), 2)


@torch_missing
def test_unbatched_max_unpool2d_output_sizes_as_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    y, idx = F.max_pool2d(torch.tensor(_distinct((2, 5, 7))), 2, return_indices=True)
    assert F.max_unpool2d(y, idx, 2, output_size=(1, 2, 5, 7)).shape == (2, 5, 7)
    with pytest.raises(ValueError):
        F.max_unpool2d(y, idx, 2, output_size=(2, 5, 7))
    with pytest.raises(RuntimeError):
        F.max_unpool2d(y, idx[None], 2)


def test_unbatched_conv_transpose2d_output_size_forms():
    """ConvTranspose2d(x, output_size=...): (H, W) or the whole output shape, (C, H, W) for
    unbatched x and (N, C, H, W) for batched x, as PyTorch; the other length is refused."""
    import nn
    m = nn.ConvTranspose2d(3, 2, 3, stride=2).to(np.float64)
    x = T(_distinct((3, 4, 5)))
    assert m(x, output_size=(2, 10, 12)).shape == (2, 10, 12)
    np.testing.assert_array_equal(m(x, output_size=(99, 10, 12)).data,  # C is not read (torch)
                                  m(x[None], output_size=(1, 2, 10, 12)).data[0])
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_size must be \(H, W\) or "
                                         r"\(C, H, W\) for 3-D input, got \(1, 2, 10, 12\)"):
        m(x, output_size=(1, 2, 10, 12))
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_size must be \(H, W\) or "
                                         r"\(N, C, H, W\) for 4-D input, got \(2, 10, 12\)"):
        m(x[None], output_size=(2, 10, 12))
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of "
                                         r"\(11, 12\), but valid sizes for input \(3, 4, 5\) "
                                         r"range from 9 to 10 in dim 0"):
        m(x, output_size=(11, 12))
    with pytest.raises(ValueError, match=r"ConvTranspose2d: expected a 3-D \(unbatched\) "
                                         r"\(C_in, H, W\) or 4-D .* got shape \(4, 5\)"):
        m(x[0], output_size=(10, 12))


@torch_missing
def test_unbatched_conv_transpose2d_output_size_forms_as_pytorch():
    torch = pytest.importorskip("torch")
    m = torch.nn.ConvTranspose2d(3, 2, 3, stride=2)
    x = torch.tensor(_distinct((3, 4, 5)), dtype=torch.float32)
    assert m(x, output_size=(2, 10, 12)).shape == (2, 10, 12)
    assert m(x, output_size=(99, 10, 12)).shape == (2, 10, 12)
    for bad, size in ((x, (1, 2, 10, 12)), (x[None], (2, 10, 12)), (x, (11, 12))):
        with pytest.raises(ValueError):
            m(bad, output_size=size)


def test_three_d_input_keeps_its_batched_reading_where_pytorch_has_one():
    """3-D input to the 1-D ops is (N, C, L), to interpolate (N, C, L) too: only conv2d and
    the 2-D pools read it as (C, H, W)."""
    x = T(_distinct((2, 3, 8)))
    assert max_pool1d(x, 2).shape == (2, 3, 4) and max_pool2d(x, 2).shape == (2, 1, 4)
    assert interpolate(x, scale_factor=2).shape == (2, 3, 16)
    with pytest.raises(ValueError, match=r"interpolate: expected a 3-D \(N, C, L\) or 4-D "):
        interpolate(T(_distinct((3, 8))), scale_factor=2)
