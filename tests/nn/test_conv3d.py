"""The 3-D convolution and pooling family (conv3d, conv_transpose3d, max/avg/adaptive pools,
max_unpool3d, BatchNorm3d, InstanceNorm3d, their layers, lazy forms and interchange).

Without torch: the one-output-cell-at-a-time loop references, identities (a depth-1 conv3d
is conv2d, conv_transpose3d is conv3d's adjoint, a pool's indices point at its maxima) and
hypothesis finite differences in float64 (inputs and weights; pools on well-separated
values, so no window has a tie). With torch: values and every gradient for each option.
The op registry (tests/engine/test_ops.py) adds forward-vs-reference, float32, layouts and
the error messages of each op.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import engine
import nn
from engine import gradcheck
from engine.fast.conv import conv2d
from engine.fast.conv3d import conv3d_reference, conv_transpose3d_reference
from engine.fast.pool import avg_pool_reference, max_pool_reference

F = nn.functional


def zip_(*arrays):
    return zip(*arrays, strict=True)


def T(a, requires_grad=True, dtype=np.float64):
    return engine.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def separated(rng, shape):
    """Values 0.1 apart in random order: every window's maximum is unique by far more than
    the finite-difference step, so max pooling is differentiable there."""
    return rng.permutation(np.arange(int(np.prod(shape)))).reshape(shape) * 0.1 - 1.0


# ----------------------------------------------------------------------------- strategies
@st.composite
def conv_configs(draw, transposed=False):
    groups = draw(st.sampled_from([1, 1, 2]))
    n, cg, fg = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    sizes = tuple(draw(st.integers(1, 4)) for _ in range(3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(3))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(3))
    bias = draw(st.booleans())
    if transposed:
        out_pad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip_(stride, dilation))
        padding = tuple(draw(st.integers(0, ((m - 1) * s + d * (k - 1) + o) // 2))
                        for m, s, d, k, o in zip_(sizes, stride, dilation, kernel, out_pad))
        params = dict(stride=stride, padding=padding, output_padding=out_pad, groups=groups,
                      dilation=dilation)
        x, w, b = (n, cg * groups) + sizes, (cg * groups, fg) + kernel, fg * groups
    else:
        padding = draw(st.one_of(st.integers(0, 2), st.tuples(*[st.integers(0, 2)] * 3),
                                 st.just("valid"), st.just("same")))
        if padding == "same":
            stride = (1, 1, 1)  # PyTorch allows 'same' with stride 1 only
        pads = {"same": (9,) * 3, "valid": (0,) * 3}.get(padding) if isinstance(
            padding, str) else (padding,) * 3 if isinstance(padding, int) else padding
        assume(all(d * (k - 1) + 1 <= m + 2 * p
                   for d, k, m, p in zip_(dilation, kernel, sizes, pads)))
        params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        x, w, b = (n, cg * groups) + sizes, (fg * groups, cg) + kernel, fg * groups
    return {"x": x, "w": w, "b": b if bias else None, "params": params}


@st.composite
def pool_configs(draw, dilation=True):
    sizes = tuple(draw(st.integers(1, 5)) for _ in range(3))
    dil = tuple(draw(st.integers(1, 2)) if dilation else 1 for _ in range(3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(3))
    assume(all(d * (k - 1) + 1 <= m + k // 2 * 2 for d, k, m in zip_(dil, kernel, sizes)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    assume(all(d * (k - 1) + 1 <= m + 2 * p for d, k, m, p in zip_(dil, kernel, sizes, padding)))
    stride = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * 3)))
    params = dict(kernel_size=kernel, stride=stride, padding=padding,
                  ceil_mode=draw(st.booleans()))
    if dilation:
        params["dilation"] = dil
    x = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + sizes
    return {"x": x, "params": params}


def _pool_ok(fn, x, params):
    """Whether the window parameters are valid (invalid ones are error cases, tested in the
    registry): a window of padding only is refused."""
    try:
        fn(engine.zeros(*x, dtype=np.float64), **params)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------- no torch
@settings(max_examples=20, deadline=None)
@given(cfg=conv_configs(), seed=st.integers(0, 2**32 - 1))
def test_conv3d_matches_the_loop_reference_and_finite_differences(cfg, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    b = None if cfg["b"] is None else rng.standard_normal(cfg["b"])
    ours = engine.conv3d(T(x), T(w), None if b is None else T(b), **cfg["params"])
    np.testing.assert_allclose(ours.data, conv3d_reference(x, w, b, **cfg["params"]),
                               rtol=1e-12, atol=1e-12)
    args = [T(x), T(w)] + ([] if b is None else [T(b)])
    assert gradcheck(lambda *a: engine.conv3d(*a, **cfg["params"]), *args)


@settings(max_examples=20, deadline=None)
@given(cfg=conv_configs(transposed=True), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose3d_matches_the_loop_reference_and_finite_differences(cfg, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    b = None if cfg["b"] is None else rng.standard_normal(cfg["b"])
    p = cfg["params"]
    ours = engine.conv_transpose3d(T(x), T(w), None if b is None else T(b), **p)
    np.testing.assert_allclose(ours.data, conv_transpose3d_reference(x, w, b, **p),
                               rtol=1e-12, atol=1e-12)
    args = [T(x), T(w)] + ([] if b is None else [T(b)])
    assert gradcheck(lambda *a: engine.conv_transpose3d(*a, **p), *args)


@settings(max_examples=20, deadline=None)
@given(cfg=conv_configs(), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose3d_is_the_adjoint_of_conv3d(cfg, seed):
    # <conv3d(x, w), y> = <x, conv_transpose3d(y, w)> for the matching geometry (no bias)
    p = cfg["params"]
    assume(not isinstance(p["padding"], str))
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])
    y = engine.conv3d(T(x), T(w), **p).data
    g = rng.standard_normal(y.shape)
    # the output_padding that gives back x's size (what a floor-mode conv dropped)
    out_pad = tuple(m - ((o - 1) * s - 2 * pp + d * (k - 1) + 1) for m, o, s, pp, d, k in zip_(
        cfg["x"][2:], y.shape[2:], p["stride"], (p["padding"],) * 3 if isinstance(
            p["padding"], int) else p["padding"], p["dilation"], cfg["w"][2:]))
    assume(all(o < max(s, d) for o, s, d in zip_(out_pad, p["stride"], p["dilation"])))
    back = engine.conv_transpose3d(T(g), T(w), output_padding=out_pad, **p).data
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, back), rtol=1e-10,
                               atol=1e-12 * np.abs(y).sum() * np.abs(g).max())  # (≈ 0 sums)


def test_a_depth_one_conv3d_is_conv2d():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 4, 1, 6, 7)), rng.standard_normal((6, 2, 1, 3, 2))
    ours = engine.conv3d(T(x), T(w), stride=(1, 2, 1), padding=(0, 1, 2), groups=2)
    plain = conv2d(T(x[:, :, 0]), T(w[:, :, 0]), stride=(2, 1), padding=(1, 2), groups=2)
    np.testing.assert_allclose(ours.data[:, :, 0], plain.data, rtol=1e-12, atol=1e-12)



def test_the_1d_2d_and_3d_pools_share_one_geometry():
    """One window geometry for the three pool families: a line of 9 pooled with kernel 3,
    stride 2, padding 1 gives the by-hand windows [-1, 1], [1, 3], … [7, 9] as (N, C, L),
    (N, C, 1, L) and (N, C, 1, 1, L), indices included; the same bad parameters are refused
    in the same words, with each dim count's own notation."""
    rng = np.random.default_rng(3)
    line = separated(rng, (2, 3, 9))
    starts = range(-1, 9, 2)
    want_max = np.stack([line[..., max(s, 0):s + 3].max(-1) for s in starts], -1)
    want_idx = np.stack([max(s, 0) + line[..., max(s, 0):s + 3].argmax(-1) for s in starts], -1)
    want_avg = np.stack([line[..., max(s, 0):s + 3].sum(-1) / 3 for s in starts], -1)
    for dims, (max_pool, avg_pool) in ((1, (F.max_pool1d, F.avg_pool1d)),
                                       (2, (F.max_pool2d, F.avg_pool2d)),
                                       (3, (F.max_pool3d, F.avg_pool3d))):
        one = (1,) * (dims - 1)  # the size-1 dims in front of the line
        x = T(line.reshape((2, 3) + one + (9,)))
        window = dict(kernel_size=one + (3,), stride=one + (2,), padding=(0,) * len(one) + (1,))
        out, idx = max_pool(x, return_indices=True, **window)
        np.testing.assert_array_equal(out.data.reshape(2, 3, 5), want_max)
        np.testing.assert_array_equal(idx.data.reshape(2, 3, 5), want_idx)
        np.testing.assert_allclose(avg_pool(x, **window).data.reshape(2, 3, 5), want_avg,
                                   rtol=1e-12)

    words = {1: ("2", "3", "5", "4", "0"),   # padding, kernel, big kernel, padded input, no pad
             2: (r"\(2, 2\)", r"\(3, 3\)", "5x5", "4x4", r"\(0, 0\)"),
             3: (r"\(2, 2, 2\)", r"\(3, 3, 3\)", "5x5x5", "4x4x4", r"\(0, 0, 0\)")}
    for dims, (pad, kernel, big, padded, no_pad) in words.items():
        op = f"max_pool{dims}d"
        pool = getattr(F, op)
        with pytest.raises(ValueError, match=rf"{op}: padding {pad} must be at most half the "
                                             rf"kernel {kernel} \(input"):
            pool(engine.zeros(*(1, 1) + (9,) * dims), 3, padding=2)
        with pytest.raises(ValueError, match=rf"{op}: kernel {big} is larger than the padded "
                                             rf"input {padded} \(input .*, padding {no_pad}\)"):
            pool(engine.zeros(*(1, 1) + (4,) * dims), 5)
        with pytest.raises(ValueError, match=rf"{op}: window 0 along a dim of size 2 reads only "
                                             rf"padding \(kernel 2, dilation 3, padding 1"):
            pool(engine.zeros(*(1, 1) + (2,) * dims), 2, padding=1, dilation=3)


@settings(max_examples=25, deadline=None)
@given(cfg=pool_configs(), seed=st.integers(0, 2**32 - 1))
def test_max_pool_reference_indices_and_finite_differences(cfg, seed):
    assume(_pool_ok(engine.max_pool3d, cfg["x"], cfg["params"]))
    x = separated(np.random.default_rng(seed), cfg["x"])
    out, idx = engine.max_pool3d(T(x), return_indices=True, **cfg["params"])
    np.testing.assert_array_equal(out.data, max_pool_reference(x, **cfg["params"]))
    # each index points at its window's maximum, in the flattened (D, H, W) volume
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    np.testing.assert_array_equal(np.take_along_axis(
        flat, idx.data.reshape(x.shape[0], x.shape[1], -1), 2).reshape(out.shape), out.data)
    assert gradcheck(lambda t: engine.max_pool3d(t, **cfg["params"]), T(x))


@settings(max_examples=25, deadline=None)
@given(cfg=pool_configs(dilation=False), include=st.booleans(),
       divisor=st.sampled_from([None, None, 3, -2]), seed=st.integers(0, 2**32 - 1))
def test_avg_pool_reference_and_finite_differences(cfg, include, divisor, seed):
    assume(_pool_ok(engine.avg_pool3d, cfg["x"], cfg["params"]))
    x = np.random.default_rng(seed).standard_normal(cfg["x"])
    p = dict(cfg["params"], count_include_pad=include, divisor_override=divisor)
    np.testing.assert_allclose(engine.avg_pool3d(T(x), **p).data, avg_pool_reference(x, **p),
                               rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda t: engine.avg_pool3d(t, **p), T(x))


@settings(max_examples=25, deadline=None)
@given(sizes=st.tuples(*[st.integers(1, 5)] * 3), out=st.tuples(*[st.integers(1, 6)] * 3),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_pools_by_their_windows_and_finite_differences(sizes, out, seed):
    x = separated(np.random.default_rng(seed), (2, 2) + sizes)
    avg = engine.adaptive_avg_pool3d(T(x), out).data
    mx, idx = engine.adaptive_max_pool3d(T(x), out, return_indices=True)
    for o in np.ndindex(*out):  # window i over m cells: floor(i·m/n) … ceil((i+1)·m/n) − 1
        box = tuple(slice(i * m // n, -(-(i + 1) * m // n)) for i, m, n in zip_(o, sizes, out))
        np.testing.assert_allclose(avg[(...,) + o], x[(...,) + box].mean(axis=(2, 3, 4)),
                                   rtol=1e-12, atol=1e-15)  # (a mean can round to ~0)
        np.testing.assert_array_equal(mx.data[(...,) + o], x[(...,) + box].max(axis=(2, 3, 4)))
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(2, 2, -1), idx.data.reshape(
        2, 2, -1), 2).reshape(mx.shape), mx.data)
    assert gradcheck(lambda t: engine.adaptive_avg_pool3d(t, out), T(x))
    assert gradcheck(lambda t: engine.adaptive_max_pool3d(t, out), T(x))


def test_global_pools_and_unpool_round_trip():
    x = separated(np.random.default_rng(1), (2, 3, 4, 4, 6))
    np.testing.assert_allclose(nn.AdaptiveAvgPool3d(1)(T(x)).data[..., 0, 0, 0],
                               x.mean(axis=(2, 3, 4)), rtol=1e-12)
    np.testing.assert_array_equal(nn.AdaptiveMaxPool3d((1, 1, 1))(T(x)).data[..., 0, 0, 0],
                                  x.max(axis=(2, 3, 4)))
    y, idx = nn.MaxPool3d(2, return_indices=True)(T(x))
    back = nn.MaxUnpool3d(2)(y, idx).data
    kept = back != 0   # each window's maximum back in its place, zeros elsewhere
    np.testing.assert_array_equal(back[kept], x[kept])
    assert kept.reshape(2, 3, 2, 2, 2, 2, 3, 2).sum(axis=(3, 5, 7)).max() == 1
    assert gradcheck(lambda t: engine.max_unpool3d(t, idx, 2), T(y.data))


def test_unbatched_input_is_a_batch_of_one():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((4, 2, 2, 2, 2)), \
        rng.standard_normal(4)
    for fn in (lambda t: engine.conv3d(t, T(w), T(b), padding=1),
               lambda t: engine.conv_transpose3d(t, T(w.transpose(1, 0, 2, 3, 4)), stride=2),
               lambda t: engine.max_pool3d(t, 2, ceil_mode=True),
               lambda t: engine.avg_pool3d(t, 2, padding=1),
               lambda t: engine.adaptive_avg_pool3d(t, (2, 1, 3)),
               lambda t: engine.adaptive_max_pool3d(t, 2),
               nn.InstanceNorm3d(2, affine=True, dtype=np.float64)):
        one, batch = fn(T(x)), fn(T(x[None]))
        assert one.shape == batch.shape[1:]
        np.testing.assert_allclose(one.data, batch.data[0], rtol=1e-12)
    out, idx = engine.max_pool3d(T(x), 2, return_indices=True)
    assert out.shape == idx.shape == (2, 1, 2, 2)


def test_layers_shapes_init_and_reprs():
    engine.manual_seed(0)
    conv = nn.Conv3d(4, 6, (3, 3, 1), padding=(1, 1, 0), groups=2)
    assert conv.weight.shape == (6, 2, 3, 3, 1) and conv.bias.shape == (6,)
    assert conv(engine.randn(2, 4, 5, 6, 7)).shape == (2, 6, 5, 6, 7)
    limit = (6 / (2 * 9 + 3 * 9)) ** 0.5  # Glorot with fans C/groups·k and F/groups·k
    assert 0 < np.abs(conv.weight.data).max() <= limit
    up = nn.ConvTranspose3d(8, 4, 3, stride=2, padding=1, bias=False)
    assert up.weight.shape == (8, 4, 3, 3, 3) and up.bias is None
    assert up(engine.randn(1, 8, 3, 4, 5)).shape == (1, 4, 5, 7, 9)
    assert up(engine.randn(1, 8, 3, 4, 5), output_size=(6, 8, 9)).shape == (1, 4, 6, 8, 9)
    assert repr(nn.Conv3d(2, 4, 3)) == "Conv3d(2, 4, kernel_size=(3, 3, 3), stride=1, padding=0)"
    assert repr(nn.MaxPool3d(2)) == "MaxPool3d(kernel_size=2, stride=2, padding=0, ceil_mode=False)"
    assert "output_padding" not in repr(nn.ConvTranspose3d(2, 2, 2))
    assert "dilation=(1, 2, 1)" in repr(nn.MaxPool3d(3, dilation=(1, 2, 1)))
    bn = nn.BatchNorm3d(3)
    bn(engine.randn(2, 3, 2, 2, 2))
    assert int(bn.num_batches_tracked.item()) == 1


def test_lazy_3d_layers_take_their_channels_from_the_first_input():
    conv = nn.LazyConv3d(4, 3, padding=1)
    assert conv(engine.zeros(2, 5, 3, 4, 4)).shape == (2, 4, 3, 4, 4)
    assert type(conv) is nn.Conv3d and conv.weight.shape == (4, 5, 3, 3, 3)
    up = nn.LazyConvTranspose3d(2, 2, stride=2)
    assert up(engine.zeros(6, 2, 2, 2)).shape == (2, 4, 4, 4)  # unbatched (C, D, H, W)
    assert type(up) is nn.ConvTranspose3d and up.weight.shape == (6, 2, 2, 2, 2)
    bn = nn.LazyBatchNorm3d()
    bn(engine.randn(2, 7, 2, 2, 2))
    assert type(bn) is nn.BatchNorm3d and bn.running_mean.shape == (7,)
    with pytest.raises(ValueError, match=r"LazyConv3d: expected 4-D \(unbatched\) or 5-D "
                                         r"\(batched\) input, got shape \(2, 5, 4\)"):
        nn.LazyConv3d(4, 3)(engine.zeros(2, 5, 4))


def test_bad_input_is_refused_naming_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"conv3d: expected a 4-D \(unbatched\) \(C, D, H, W\) "
                                         r"or 5-D \(batched\) \(N, C, D, H, W\) input, got "
                                         r"shape \(2, 4, 5\)"):
        nn.Conv3d(4, 2, 3)(engine.zeros(2, 4, 5))
    with pytest.raises(ValueError, match=r"conv3d: channel mismatch: input \(1, 3, 4, 4, 4\) "
                                         r"has 3 channels but weight \(2, 4, 3, 3, 3\)"):
        nn.Conv3d(4, 2, 3)(engine.zeros(1, 3, 4, 4, 4))
    with pytest.raises(ValueError, match=r"Conv3d: groups=3 must divide in_channels=4"):
        nn.Conv3d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match=r"Conv3d: padding_mode must be one of"):
        nn.Conv3d(4, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"Conv3d: kernel_size must be an int ≥ 1 or a "
                                         r"sequence of 3, got \(3, 3\)"):
        nn.Conv3d(4, 6, (3, 3))
    with pytest.raises(ValueError, match=r"ConvTranspose3d: requested an output size of "
                                         r"\(7, 7, 7\), but valid sizes .* range from 5 to 6"):
        nn.ConvTranspose3d(2, 2, 3, stride=2, padding=1)(engine.zeros(1, 2, 3, 3, 3),
                                                          output_size=(7, 7, 7))
    with pytest.raises(ValueError, match=r"BatchNorm3d: expected input of \(5,\) dims with 3 "
                                         r"channels in dim 1, got shape \(2, 3, 4, 4\)"):
        nn.BatchNorm3d(3)(engine.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm3d: expected more than 1 value per "
                                         r"channel when training"):
        nn.BatchNorm3d(3)(engine.zeros(1, 3, 1, 1, 1))
    with pytest.raises(ValueError, match=r"avg_pool3d: input \(1, 1, 1, 1, 5\) is smaller "
                                         r"than the kernel \(2, 2, 2\) .* even with padding"):
        nn.AvgPool3d(2, padding=1, stride=1)(engine.zeros(1, 1, 1, 1, 5))
    with pytest.raises(ValueError, match=r"AvgPool3d: divisor_override must not be zero"):
        nn.AvgPool3d(2, divisor_override=0)
    with pytest.raises(ValueError, match=r"max_pool3d: kernel 3x3x3 is larger than the padded "
                                         r"input 2x4x4"):
        nn.MaxPool3d(3)(engine.zeros(1, 1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"adaptive_max_pool3d: output_size must be an int "
                                         r"≥ 0 or a 3-tuple of them"):
        nn.AdaptiveMaxPool3d((2, 2))(engine.zeros(1, 1, 4, 4, 4))
    with pytest.raises(ValueError, match=r"max_unpool3d: invalid output_size \(9, 4, 4\) "
                                         r"\(dim 0 must be between 2 and 6, exclusive"):
        y, idx = nn.MaxPool3d(2, return_indices=True)(engine.zeros(1, 1, 4, 4, 4))
        nn.MaxUnpool3d(2)(y, idx, output_size=(9, 4, 4))


# ----------------------------------------------------------------------------- with torch
def _compare(ours_out, theirs_out, ours_in, theirs_in, seed, tol=1e-10):
    """Values and the gradient of every input, for the same random upstream gradient."""
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(ours_out.data, theirs_out.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(seed).standard_normal(ours_out.shape)
    ours_out.backward(g)
    theirs_out.backward(torch.tensor(g))
    for a, b in zip(ours_in, theirs_in, strict=True):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=tol, atol=tol)


def _pair_of(arrays):
    torch = pytest.importorskip("torch")
    return ([T(a) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays])


def _torch_conv_case(name, cfg, seed):
    """engine.<name> and torch's on one drawn config: values and every gradient."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])]
    if cfg["b"] is not None:
        arrays.append(rng.standard_normal(cfg["b"]))
    ours, theirs = _pair_of(arrays)
    _compare(getattr(engine, name)(*ours, **cfg["params"]),
             getattr(torch.nn.functional, name)(*theirs, **cfg["params"]), ours, theirs, seed)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=40, deadline=None)
@given(cfg=conv_configs(), seed=st.integers(0, 2**32 - 1))
def test_conv3d_matches_pytorch(cfg, seed):
    _torch_conv_case("conv3d", cfg, seed)


@settings(max_examples=40, deadline=None)
@given(cfg=conv_configs(transposed=True), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose3d_matches_pytorch(cfg, seed):
    _torch_conv_case("conv_transpose3d", cfg, seed)


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch: even kernel, a copy
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 0, 1), "same"])
def test_conv3d_layer_padding_modes_match_pytorch(mode, padding):
    torch = pytest.importorskip("torch")
    ours = nn.Conv3d(4, 6, (3, 2, 3), padding=padding, padding_mode=mode, groups=2,
                     dilation=(1, 2, 1), dtype=np.float64)
    theirs = torch.nn.Conv3d(4, 6, (3, 2, 3), padding=padding, padding_mode=mode, groups=2,
                             dilation=(1, 2, 1)).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    x = np.random.default_rng(3).standard_normal((2, 4, 5, 6, 7))
    xo, xt = _pair_of([x])
    _compare(ours(xo[0]), theirs(xt[0]), xo + [ours.weight, ours.bias],
             xt + [theirs.weight, theirs.bias], 3)


@settings(max_examples=40, deadline=None)
@given(cfg=pool_configs(), seed=st.integers(0, 2**32 - 1))
def test_max_pool3d_matches_pytorch_with_indices(cfg, seed):
    torch = pytest.importorskip("torch")
    assume(_pool_ok(engine.max_pool3d, cfg["x"], cfg["params"]))
    x = separated(np.random.default_rng(seed), cfg["x"])
    ours, theirs = _pair_of([x])
    (o, oi), (t, ti) = (engine.max_pool3d(ours[0], return_indices=True, **cfg["params"]),
                        torch.nn.functional.max_pool3d(theirs[0], return_indices=True,
                                                       **cfg["params"]))
    np.testing.assert_array_equal(oi.data, ti.numpy())
    _compare(o, t, ours, theirs, seed, tol=0)


def test_max_pool3d_ties_and_nan_as_pytorch():
    # ties: the first tap in C order wins; NaN wins over numbers (the last NaN seen)
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 2, 3, 4, 4))
    x[0, 1, 1, 2, 2] = x[0, 1, 0, 1, 3] = np.nan
    x[0, 0, 2, 3, 3] = -np.inf
    for p in (dict(kernel_size=2, stride=1), dict(kernel_size=3, padding=1, stride=2),
              dict(kernel_size=2, ceil_mode=True, dilation=(1, 1, 2))):
        ours, theirs = _pair_of([x])
        o, oi = engine.max_pool3d(ours[0], return_indices=True, **p)
        t, ti = torch.nn.functional.max_pool3d(theirs[0], return_indices=True, **p)
        np.testing.assert_array_equal(o.data, t.detach().numpy())
        np.testing.assert_array_equal(oi.data, ti.numpy())
        o, oi = engine.adaptive_max_pool3d(ours[0], (2, 3, 2), return_indices=True)
        t, ti = torch.nn.functional.adaptive_max_pool3d(theirs[0], (2, 3, 2), True)
        np.testing.assert_array_equal(o.data, t.detach().numpy())
        np.testing.assert_array_equal(oi.data, ti.numpy())


@settings(max_examples=40, deadline=None)
@given(cfg=pool_configs(dilation=False), include=st.booleans(),
       divisor=st.sampled_from([None, None, 3, -2]), seed=st.integers(0, 2**32 - 1))
def test_avg_pool3d_matches_pytorch(cfg, include, divisor, seed):
    torch = pytest.importorskip("torch")
    assume(_pool_ok(engine.avg_pool3d, cfg["x"], cfg["params"]))
    x = np.random.default_rng(seed).standard_normal(cfg["x"])
    p = dict(cfg["params"], count_include_pad=include, divisor_override=divisor)
    ours, theirs = _pair_of([x])
    _compare(engine.avg_pool3d(ours[0], **p), torch.nn.functional.avg_pool3d(theirs[0], **p),
             ours, theirs, seed)


@settings(max_examples=40, deadline=None)
@given(sizes=st.tuples(*[st.integers(1, 6)] * 3),
       out=st.tuples(*[st.one_of(st.none(), st.integers(1, 7))] * 3),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_pools_match_pytorch(sizes, out, seed):
    torch = pytest.importorskip("torch")
    x = separated(np.random.default_rng(seed), (2, 3) + sizes)
    ours, theirs = _pair_of([x])
    _compare(engine.adaptive_avg_pool3d(ours[0], out),
             torch.nn.functional.adaptive_avg_pool3d(theirs[0], out), ours, theirs, seed)
    ours, theirs = _pair_of([x])
    (o, oi), (t, ti) = (engine.adaptive_max_pool3d(ours[0], out, return_indices=True),
                        torch.nn.functional.adaptive_max_pool3d(theirs[0], out, True))
    np.testing.assert_array_equal(oi.data, ti.numpy())
    _compare(o, t, ours, theirs, seed, tol=0)


def test_max_unpool3d_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = separated(np.random.default_rng(4), (2, 2, 5, 4, 5))
    y, idx = torch.nn.functional.max_pool3d(torch.tensor(x), 2, return_indices=True)
    ours, theirs = _pair_of([y.numpy()])
    _compare(engine.max_unpool3d(ours[0], engine.tensor(idx.numpy()), 2, output_size=x.shape),
             torch.nn.functional.max_unpool3d(theirs[0], idx, 2, output_size=x.shape),
             ours, theirs, 4, tol=0)


@pytest.mark.parametrize("affine,track,momentum", [(True, True, 0.1), (False, True, None),
                                                   (True, False, 0.1)])
def test_batch_norm3d_matches_pytorch_in_training_and_eval(affine, track, momentum):
    torch = pytest.importorskip("torch")
    ours = nn.BatchNorm3d(3, momentum=momentum, affine=affine, track_running_stats=track,
                          dtype=np.float64)
    theirs = torch.nn.BatchNorm3d(3, momentum=momentum, affine=affine,
                                  track_running_stats=track).double()
    rng = np.random.default_rng(5)
    for step in range(2):
        x = rng.standard_normal((2, 3, 2, 3, 4)) * 2 + 1
        xo, xt = _pair_of([x])
        params_o = [ours.weight, ours.bias] if affine else []
        params_t = [theirs.weight, theirs.bias] if affine else []
        for p in params_o + params_t:
            p.grad = None
        _compare(ours(xo[0]), theirs(xt[0]), xo + params_o, xt + params_t, step)
    if track:
        np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(),
                                   rtol=1e-12, atol=1e-15)
    ours.eval()
    theirs.eval()
    xo, xt = _pair_of([rng.standard_normal((1, 3, 2, 2, 2))])
    _compare(ours(xo[0]), theirs(xt[0]), xo, xt, 7)


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm3d_matches_pytorch(affine):
    torch = pytest.importorskip("torch")
    ours = nn.InstanceNorm3d(3, affine=affine, dtype=np.float64)
    theirs = torch.nn.InstanceNorm3d(3, affine=affine).double()
    if affine:
        with torch.no_grad():
            ours.weight.data[:] = [0.5, 2.0, -1.0]
            theirs.weight.copy_(torch.tensor(ours.weight.data))
    x = np.random.default_rng(6).standard_normal((2, 3, 2, 3, 4))
    xo, xt = _pair_of([x])
    params_o = [ours.weight, ours.bias] if affine else []
    params_t = [theirs.weight, theirs.bias] if affine else []
    _compare(ours(xo[0]), theirs(xt[0]), xo + params_o, xt + params_t, 6)
    xo, xt = _pair_of([x[0]])  # unbatched (C, D, H, W)
    _compare(ours(xo[0]), theirs(xt[0]), xo, xt, 8)


def test_to_torch_and_from_torch_translate_a_3d_network():
    torch = pytest.importorskip("torch")
    engine.manual_seed(0)
    ours = nn.Sequential(
        nn.Conv3d(2, 4, 3, stride=(1, 2, 1), padding=1, padding_mode="replicate"),
        nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2, ceil_mode=True, dilation=(1, 1, 1)),
        nn.AvgPool3d(2, padding=1, count_include_pad=False, divisor_override=None),
        nn.InstanceNorm3d(4, affine=True)).double()
    theirs = nn.to_torch(ours)
    assert [type(m).__name__ for m in theirs] == ["Conv3d", "BatchNorm3d", "ReLU", "MaxPool3d",
                                                  "AvgPool3d", "InstanceNorm3d"]
    x = np.random.default_rng(7).standard_normal((2, 2, 5, 6, 7))
    np.testing.assert_allclose(ours(T(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    back = nn.from_torch(theirs)
    assert [type(m) for m in back] == [type(m) for m in ours]
    np.testing.assert_allclose(back(T(x)).data, ours(T(x)).data, rtol=1e-12, atol=1e-12)


def test_a_tiny_3d_cnn_learns():
    # A video-classification shape: Conv3d → BatchNorm3d → ReLU → MaxPool3d → global pool →
    # Linear. The loss must fall when every gradient reaches its parameter.
    engine.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 4, 6, 6)).astype(np.float32)
    y = (x[:, 0, :2].mean(axis=(1, 2, 3)) > x[:, 0, 2:].mean(axis=(1, 2, 3))).astype(np.int64)
    model = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(),
                          nn.MaxPool3d(2), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    opt = nn.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(model(engine.tensor(x)), engine.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]
