"""PyTorch names students type that were missing: F.relu_ and the other in-place spellings,
F.rrelu / nn.RReLU, F.rms_norm / nn.RMSNorm, the adaptive 1-D pools as functions (and
AdaptiveMaxPool1d's return_indices), the *_with_indices pools, nn.Unfold / nn.Fold. Each
against a formula or the path it is built on, gradcheck in float64 (inputs away from kinks),
and PyTorch where installed."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F
from engine.fast.pool import adaptive_avg_pool_reference, adaptive_max_pool_reference

F64 = np.float64


def t64(a, grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=grad)


def away_from_zero(rng, shape, gap=0.1):
    a = rng.uniform(gap, 2.0, shape)
    return a * rng.choice([-1.0, 1.0], shape)


# ------------------------------------------------------------------ in-place spellings
INPLACE = [("relu_", (), "relu"), ("elu_", (0.7,), "elu"), ("selu_", (), "selu"),
           ("celu_", (0.5,), "celu"), ("leaky_relu_", (0.2,), "leaky_relu"),
           ("hardtanh_", (-0.5, 0.8), "hardtanh"), ("threshold_", (0.3, -2.0), "threshold"),
           ("rrelu_", (0.1, 0.3), "rrelu")]


@pytest.mark.parametrize("name,args,plain", INPLACE)
def test_inplace_spellings_write_into_x_what_the_function_returns(name, args, plain):
    a = away_from_zero(np.random.default_rng(0), (3, 4))
    x = t64(a, grad=True)
    y = x * 1.0
    out = getattr(F, name)(y, *args)
    assert out is y and y._version == 1
    want = getattr(F, plain)(t64(a), *args)
    np.testing.assert_array_equal(y.data, want.data)
    assert engine.gradcheck(lambda x: getattr(F, name)(x * 1.0, *args), t64(a, grad=True))
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(F, name)(t64(a, grad=True), *args)


@pytest.mark.parametrize("name,args,plain", INPLACE[:-1])
def test_inplace_spellings_match_torch(name, args, plain):
    torch = pytest.importorskip("torch")
    a = away_from_zero(np.random.default_rng(1), (3, 4))
    x, xt = t64(a, grad=True), torch.tensor(a, requires_grad=True)
    y, yt = getattr(F, name)(x * 1.0, *args), getattr(torch.nn.functional, name)(xt * 1.0, *args)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-15)


# ------------------------------------------------------------------------------ rrelu
_SLOPE = st.integers(0, 500).map(lambda k: k / 1000)  # no subnormal slopes: y / x stays exact


@given(_SLOPE, _SLOPE, st.integers(0, 2**16))
def test_rrelu_training_draws_a_slope_per_element_and_its_gradient_is_that_slope(lo, width,
                                                                                seed):
    up = lo + width
    a = away_from_zero(np.random.default_rng(seed), (4, 5))
    engine.manual_seed(seed)
    x = t64(a, grad=True)
    y = F.rrelu(x, lo, up, training=True)
    y.backward(engine.ones_like(y))
    neg = a < 0
    np.testing.assert_array_equal(y.data[~neg], a[~neg])
    slope = y.data[neg] / a[neg]
    assert np.all(slope >= lo - 1e-12) and np.all(slope <= up + 1e-12)
    np.testing.assert_allclose(x.grad.data[neg], slope, rtol=1e-12)
    assert np.all(x.grad.data[~neg] == 1.0)
    engine.manual_seed(seed)  # the same seed, the same slopes
    np.testing.assert_array_equal(F.rrelu(t64(a), lo, up, training=True).data, y.data)

    def fn(x):  # a fixed draw for every evaluation of the finite differences
        engine.manual_seed(seed)
        return F.rrelu(x, lo, up, training=True)
    assert engine.gradcheck(fn, t64(a, grad=True))


def test_rrelu_eval_is_a_leaky_relu_with_the_mean_slope_and_the_layer_follows_the_mode():
    a = away_from_zero(np.random.default_rng(2), (6,))
    np.testing.assert_allclose(F.rrelu(t64(a), 0.1, 0.3).data, np.where(a >= 0, a, 0.2 * a),
                               rtol=1e-15)
    layer = nn.RReLU(0.1, 0.3)
    layer.eval()
    np.testing.assert_allclose(layer(t64(a)).data, np.where(a >= 0, a, 0.2 * a), rtol=1e-15)
    layer.train()
    engine.manual_seed(3)
    slopes = layer(t64(a)).data[a < 0] / a[a < 0]
    assert np.ptp(slopes) > 0  # drawn, not the mean
    with pytest.raises(ValueError, match="rrelu: the lower bound 0.5 must not exceed"):
        F.rrelu(t64(a), 0.5, 0.2)
    with pytest.raises(ValueError, match="RReLU: the lower bound"):
        nn.RReLU(0.5, 0.2)


def test_rrelu_eval_matches_torch():
    torch = pytest.importorskip("torch")
    a = away_from_zero(np.random.default_rng(4), (3, 5))
    x, xt = t64(a, grad=True), torch.tensor(a, requires_grad=True)
    y, yt = F.rrelu(x, 0.05, 0.4), torch.nn.functional.rrelu(xt, 0.05, 0.4)
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-15)


# --------------------------------------------------------------------------- rms_norm
@given(st.integers(1, 3), st.integers(1, 5), st.booleans(), st.sampled_from([None, 1e-3]),
       st.integers(0, 2**16))
def test_rms_norm_is_its_formula_and_gradchecks(n, d, weighted, eps, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.2, 2.0, (n, 2, d)) * rng.choice([-1.0, 1.0], (n, 2, d))
    w = rng.uniform(0.5, 1.5, (2, d)) if weighted else None
    e = np.finfo(F64).eps if eps is None else eps
    want = a / np.sqrt((a * a).mean(axis=(1, 2), keepdims=True) + e)
    want = want * w if weighted else want
    out = F.rms_norm(t64(a), (2, d), None if w is None else t64(w), eps)
    np.testing.assert_allclose(out.data, want, rtol=1e-13)
    inputs = [t64(a, grad=True)] + ([t64(w, grad=True)] if weighted else [])
    assert engine.gradcheck(lambda x, *w: F.rms_norm(x, (2, d), *(w or [None]), eps), *inputs)


def test_rms_norm_layer_and_refusals():
    layer = nn.RMSNorm([3])
    assert layer.weight.shape == (3,) and layer.eps is None
    x = engine.tensor([[3.0, 4.0, 0.0]])
    np.testing.assert_allclose(layer(x).data, [[3 / np.sqrt(25 / 3), 4 / np.sqrt(25 / 3), 0.0]],
                               rtol=1e-6)
    layer.weight.data[:] = 2.0
    layer.reset_parameters()
    assert (layer.weight.data == 1.0).all()
    assert nn.RMSNorm(3, elementwise_affine=False).weight is None
    with pytest.raises(ValueError, match=r"rms_norm: normalized_shape \(4,\) must be the last"):
        F.rms_norm(x, 4)


def test_rms_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    a, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4))
    for eps in (None, 1e-2):
        x, xt = t64(a, grad=True), torch.tensor(a, requires_grad=True)
        wo, wt = t64(w, grad=True), torch.tensor(w, requires_grad=True)
        y, yt = F.rms_norm(x, (3, 4), wo, eps), torch.nn.functional.rms_norm(xt, (3, 4), wt, eps)
        (y * y * y).sum().backward()
        (yt * yt * yt).sum().backward()
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-13)
        np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(wo.grad.data, wt.grad.numpy(), rtol=1e-12)
    f32 = engine.tensor(a.astype(np.float32))  # eps None: float32's epsilon, as torch's
    np.testing.assert_allclose(nn.RMSNorm(4, elementwise_affine=False)(f32).data,
                               torch.nn.RMSNorm(4, elementwise_affine=False)(
                                   torch.tensor(a.astype(np.float32))).numpy(), rtol=1e-6)


# ------------------------------------------------------------------------ 1-D pools
@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**16))
def test_adaptive_1d_pools_are_the_2d_windows(c, length, size, seed):
    a = np.random.default_rng(seed).permutation(c * length * 2).reshape(2, c, length) * 0.1
    want_avg = adaptive_avg_pool_reference(a[:, :, None, :], (1, size))[:, :, 0, :]
    want_max = adaptive_max_pool_reference(a[:, :, None, :], (1, size))[:, :, 0, :]
    np.testing.assert_allclose(F.adaptive_avg_pool1d(t64(a), size).data, want_avg, rtol=1e-14)
    out, idx = F.adaptive_max_pool1d(t64(a), (size,), return_indices=True)
    np.testing.assert_array_equal(out.data, want_max)
    np.testing.assert_array_equal(np.take_along_axis(a, idx.data, axis=2), want_max)
    np.testing.assert_array_equal(F.adaptive_max_pool1d(t64(a[0]), size).data, want_max[0])
    assert engine.gradcheck(lambda x: F.adaptive_avg_pool1d(x, size), t64(a, grad=True))
    assert engine.gradcheck(lambda x: F.adaptive_max_pool1d(x, size), t64(a, grad=True))


def test_with_indices_spellings_and_the_1d_layer_indices():
    rng = np.random.default_rng(6)
    x3, x4 = t64(rng.permutation(2 * 3 * 8).reshape(2, 3, 8)), t64(rng.standard_normal((2, 3,
                                                                                          6, 5)))
    pairs = [(F.max_pool1d_with_indices(x3, 2), F.max_pool1d(x3, 2, return_indices=True)),
             (F.max_pool2d_with_indices(x4, 2), F.max_pool2d(x4, 2, return_indices=True)),
             (F.adaptive_max_pool1d_with_indices(x3, 3), F.adaptive_max_pool1d(x3, 3, True)),
             (F.adaptive_max_pool2d_with_indices(x4, (2, 3)), F.adaptive_max_pool2d(x4, (2, 3),
                                                                                    True)),
             (nn.AdaptiveMaxPool1d(3, return_indices=True)(x3), F.adaptive_max_pool1d(x3, 3,
                                                                                       True))]
    for got, want in pairs:
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g.data, w.data)
    with pytest.raises(ValueError, match="adaptive_avg_pool1d: output_size must be an int"):
        F.adaptive_avg_pool1d(x3, (3, 4))
    with pytest.raises(ValueError, match=r"adaptive_max_pool1d: expected a 2-D .* got shape"):
        F.adaptive_max_pool1d(x4, 3)


def test_1d_pools_and_with_indices_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(7)
    a3 = rng.permutation(2 * 3 * 7).reshape(2, 3, 7) * 0.1
    a4 = rng.permutation(2 * 3 * 6 * 5).reshape(2, 3, 6, 5) * 0.1
    cases = [(lambda f, x: f.adaptive_avg_pool1d(x, 3), a3),
             (lambda f, x: f.adaptive_max_pool1d(x, 4, True), a3),
             (lambda f, x: f.adaptive_max_pool1d(x[0], (2,)), a3),
             (lambda f, x: f.max_pool1d_with_indices(x, 3, 2), a3),
             (lambda f, x: f.max_pool2d_with_indices(x, 2), a4),
             (lambda f, x: f.adaptive_max_pool2d_with_indices(x, (4, 2)), a4)]
    for fn, a in cases:
        x, xt = t64(a, grad=True), torch.tensor(a, requires_grad=True)
        y, yt = fn(F, x), fn(tf, xt)
        if isinstance(yt, tuple):
            np.testing.assert_array_equal(y[1].data, yt[1].numpy())
            y, yt = y[0], yt[0]
        (y * y).sum().backward()
        (yt * yt).sum().backward()
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-15)
        np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-15)


# --------------------------------------------------------------------- Unfold / Fold
def test_unfold_and_fold_layers_are_the_functions():
    rng = np.random.default_rng(8)
    x = t64(rng.standard_normal((2, 3, 5, 6)))
    u = nn.Unfold((2, 3), dilation=1, padding=1, stride=2)
    np.testing.assert_array_equal(u(x).data, F.unfold(x, (2, 3), 1, 1, 2).data)
    cols = t64(rng.standard_normal((2, 3 * 4, 12)))
    f = nn.Fold((4, 5), 2, padding=0, stride=1)
    np.testing.assert_array_equal(f(cols).data, F.fold(cols, (4, 5), 2).data)
    assert "output_size=(4, 5), kernel_size=2" in repr(f)


def test_new_layers_through_torch_and_back():
    torch = pytest.importorskip("torch")
    engine.manual_seed(0)
    model = nn.Sequential(nn.Unfold(2), nn.RMSNorm(9, eps=1e-4), nn.RReLU(0.1, 0.2),
                          nn.Fold((4, 4), 2, stride=1))
    model.eval()
    theirs = nn.to_torch(model).eval()
    assert [type(m).__name__ for m in theirs] == ["Unfold", "RMSNorm", "RReLU", "Fold"]
    a = np.random.default_rng(9).standard_normal((2, 1, 4, 4)).astype(np.float32)
    y = model.forward(engine.tensor(a).reshape(2, 1, 4, 4))
    np.testing.assert_allclose(y.data, theirs(torch.tensor(a)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    back = nn.from_torch(theirs)
    assert [type(m).__name__ for m in back] == ["Unfold", "RMSNorm", "RReLU", "Fold"]
    assert back[1].eps == 1e-4 and back[2].lower == 0.1 and back[3].output_size == (4, 4)


# ------------------------------------------------------------------- conv_transpose1d
@st.composite
def transposed_1d(draw):
    g = draw(st.integers(1, 2))
    c, o = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    p = draw(st.integers(0, (d * (k - 1)) // 2))
    op = draw(st.integers(0, max(s, d) - 1))
    return draw(st.integers(1, 2)), c, draw(st.integers(1, 5)), o, k, s, p, op, g, d


@given(transposed_1d(), st.integers(0, 2**16))
def test_conv_transpose1d_is_the_2d_definition_on_one_row(case, seed):
    from engine.fast.conv import conv_transpose2d_reference
    n, c, length, o, k, s, p, op, g, d = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((n, c, length)), rng.standard_normal((c, o // g, k)), \
        rng.standard_normal(o)
    want = conv_transpose2d_reference(x[:, :, None], w[:, :, None], b, (1, s), (0, p), (0, op),
                                      g, (1, d))[:, :, 0]
    out = F.conv_transpose1d(t64(x), t64(w), t64(b), s, p, op, g, d)
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-12)
    assert engine.gradcheck(lambda x, w, b: F.conv_transpose1d(x, w, b, (s,), p, op, g, (d,)),
                            t64(x, True), t64(w, True), t64(b, True))


def test_conv_transpose1d_layer():
    engine.manual_seed(0)
    layer = nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, groups=2)
    assert layer.weight.shape == (4, 3, 3) and layer.kernel_size == (3,)
    bound = np.sqrt(6 / (2 * 3 + 3 * 3))  # Glorot: fan_in C_in/g·k, fan_out C_out/g·k
    assert 0.5 * bound < np.abs(layer.weight.data).max() <= bound
    x = engine.randn(2, 4, 7)
    assert layer(x).shape == (2, 6, 13)
    assert layer(x, output_size=[14]).shape == (2, 6, 14)
    assert layer(x[0], output_size=(6, 14)).shape == (6, 14)
    np.testing.assert_array_equal(layer(x, output_size=14).data,
                                  F.conv_transpose1d(x, layer.weight, layer.bias, 2, 1, 1,
                                                     2).data)
    with pytest.raises(ValueError, match=r"ConvTranspose1d: requested an output size of "
                                         r"\(16,\), but valid sizes .* range from 13 to 14"):
        layer(x, output_size=16)
    with pytest.raises(ValueError, match="ConvTranspose1d: only padding_mode='zeros'"):
        nn.ConvTranspose1d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="ConvTranspose1d: groups=2 must divide"):
        nn.ConvTranspose1d(3, 2, 3, groups=2)
    with pytest.raises(ValueError, match=r"conv_transpose1d: weight must be \(C_in"):
        F.conv_transpose1d(x, engine.ones(4, 3, 1, 3))
    assert nn.ConvTranspose1d(2, 3, 2, dtype=np.float64).weight.dtype == np.float64


def test_conv_transpose1d_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    for n, c, length, o, k, s, p, op, g, d in [(2, 4, 7, 6, 3, 2, 1, 1, 2, 1),
                                               (1, 3, 5, 2, 4, 1, 0, 0, 1, 2),
                                               (2, 2, 6, 4, 2, 3, 2, 2, 2, 3)]:
        x, w, b = rng.standard_normal((n, c, length)), rng.standard_normal((c, o // g, k)), \
            rng.standard_normal(o)
        ours = [t64(a, True) for a in (x, w, b)]
        theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = F.conv_transpose1d(*ours, s, p, op, g, d)
        yt = torch.nn.functional.conv_transpose1d(*theirs, s, p, op, g, d)
        G = rng.standard_normal(yt.shape)
        (y * t64(G)).sum().backward()
        (yt * torch.tensor(G)).sum().backward()
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-13, atol=1e-13)
        for a, at in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a.grad.data, at.grad.numpy(), rtol=1e-12, atol=1e-13)


# ------------------------------------------------- LP pools, unpool1d, shuffle, circular pads
@given(st.sampled_from([1.0, 2.0, 3.5]), st.integers(1, 3), st.integers(1, 3), st.booleans(),
       st.integers(0, 2**16))
def test_lp_pools_are_the_power_mean_of_each_window(p, k, s, ceil_mode, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 2.0, (2, 2, 5, 6))
    out = F.lp_pool2d(t64(x), p, k, s, ceil_mode)
    ho, wo = out.shape[2:]
    want = np.empty(out.shape)
    for i in range(ho):
        for j in range(wo):  # a ceil-mode window may run over the edge: its part inside
            win = x[:, :, i * s:i * s + k, j * s:j * s + k]
            want[:, :, i, j] = ((win ** p).sum(axis=(2, 3)) * k * k / win[0, 0].size) ** (1 / p)
    np.testing.assert_allclose(out.data, want, rtol=1e-12)
    assert engine.gradcheck(lambda x: F.lp_pool2d(x, p, k, s, ceil_mode), t64(x, True))
    row = x[:, :, 0]
    out1 = F.lp_pool1d(t64(row), p, k, s)
    want1 = np.stack([((row[..., i * s:i * s + k] ** p).sum(-1)) ** (1 / p)
                      for i in range(out1.shape[-1])], -1)
    np.testing.assert_allclose(out1.data, want1, rtol=1e-12)
    assert engine.gradcheck(lambda r: nn.LPPool1d(p, k, s)(r), t64(row, True))


def test_max_unpool1d_puts_each_value_back_and_channel_shuffle_and_circular_pads():
    rng = np.random.default_rng(11)
    a = rng.permutation(2 * 3 * 7).reshape(2, 3, 7).astype(F64)
    y, idx = F.max_pool1d(t64(a), 3, 2, 1, return_indices=True)
    back = F.max_unpool1d(y, idx, 3, 2, 1, output_size=[7])
    want = np.zeros_like(a)
    np.put_along_axis(want, idx.data, y.data, axis=2)
    np.testing.assert_array_equal(back.data, want)
    np.testing.assert_array_equal(nn.MaxUnpool1d(3, 2, 1)(y[0], idx[0], output_size=7).data,
                                  want[0])
    assert F.max_unpool1d(y, idx, 3, 2, 1).shape == (2, 3, 7)
    y2, idx2 = F.max_pool1d(t64(a), 2, return_indices=True)  # windows apart: no index twice
    assert engine.gradcheck(lambda v: F.max_unpool1d(v, idx2, 2), t64(y2.data, True))
    x = t64(np.arange(2 * 6 * 2).reshape(2, 6, 2), True)
    shuffled = F.channel_shuffle(x, 2)
    np.testing.assert_array_equal(shuffled.data[0, :, 0], [0, 6, 2, 8, 4, 10])
    np.testing.assert_array_equal(nn.ChannelShuffle(3)(x).data[0, :, 0], [0, 4, 8, 2, 6, 10])
    assert engine.gradcheck(lambda x: F.channel_shuffle(x, 3), x)
    with pytest.raises(ValueError, match="channel_shuffle: number of channels must be "
                                         "divisible by groups, got 6 channels and 4 groups"):
        F.channel_shuffle(x, 4)
    seq = t64([[[1.0, 2.0, 3.0]]])
    np.testing.assert_array_equal(nn.CircularPad1d((1, 2))(seq).data, [[[3, 1, 2, 3, 1, 2]]])
    img = t64(np.arange(4.0).reshape(1, 1, 2, 2))
    np.testing.assert_array_equal(nn.CircularPad2d(1)(img).data[0, 0],
                                  [[3, 2, 3, 2], [1, 0, 1, 0], [3, 2, 3, 2], [1, 0, 1, 0]])


def test_triplet_margin_with_distance_loss():
    rng = np.random.default_rng(12)
    a, p, n = (rng.standard_normal((4, 3)) for _ in range(3))

    def dist(x, y):
        return ((x - y) ** 2).sum(-1) ** 0.5
    want = np.maximum(np.linalg.norm(a - p, axis=1) - np.linalg.norm(a - n, axis=1) + 0.5, 0)
    got = F.triplet_margin_with_distance_loss(t64(a), t64(p), t64(n), distance_function=dist,
                                              margin=0.5, reduction="none")
    np.testing.assert_allclose(got.data, want, rtol=1e-12)
    swapped = np.minimum(np.linalg.norm(a - n, axis=1), np.linalg.norm(p - n, axis=1))
    layer = nn.TripletMarginWithDistanceLoss(distance_function=dist, swap=True, margin=0.5)
    np.testing.assert_allclose(layer(t64(a), t64(p), t64(n)).data,
                               np.maximum(np.linalg.norm(a - p, axis=1) - swapped + 0.5, 0).mean())
    assert engine.gradcheck(lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n),
                            t64(a, True), t64(p, True), t64(n, True))
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
        nn.TripletMarginWithDistanceLoss(margin=0)
    with pytest.raises(RuntimeError, match="same number of dims, got 2, 2 and 1"):
        F.triplet_margin_with_distance_loss(t64(a), t64(p), t64(n[0]))


def test_pools_shuffle_pads_and_triplet_match_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(13)
    x4, x3 = rng.uniform(0.2, 2, (2, 3, 6, 7)), rng.uniform(0.2, 2, (2, 3, 9))
    perm = rng.permutation(2 * 3 * 7).reshape(2, 3, 7).astype(F64)
    _, idx = tf.max_pool1d(torch.tensor(perm), 3, 2, 1, return_indices=True)
    pooled = tf.max_pool1d(torch.tensor(perm), 3, 2, 1).numpy()
    trip = [rng.standard_normal((4, 5)) for _ in range(3)]
    cases = [(lambda f, x: f.lp_pool2d(x, 3.5, (3, 2), 2, True), [x4]),
             (lambda f, x: f.lp_pool1d(x, 2, 3, 2), [x3]),
             (lambda f, x: f.channel_shuffle(x, 3), [x3.reshape(2, 9, 3)[:, :6]]),
             (lambda f, x: f.max_unpool1d(x, idx if f is tf else engine.tensor(idx.numpy()), 3,
                                          2, 1, output_size=[7]), [pooled]),
             (lambda f, *t: f.triplet_margin_with_distance_loss(*t, swap=True), trip)]
    for fn, arrays in cases:
        ours, theirs = [t64(a, True) for a in arrays], [torch.tensor(a, requires_grad=True)
                                                         for a in arrays]
        y, yt = fn(F, *ours), fn(tf, *theirs)
        G = rng.standard_normal(yt.shape)
        (y * t64(G)).sum().backward()
        (yt * torch.tensor(G)).sum().backward()
        np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-13, atol=1e-14)
        for a, at in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a.grad.data, at.grad.numpy(), rtol=1e-12, atol=1e-14)
    for ours, theirs in ((nn.CircularPad1d((1, 2)), torch.nn.CircularPad1d((1, 2))),
                         (nn.CircularPad2d((1, 2, 0, 3)), torch.nn.CircularPad2d((1, 2, 0, 3)))):
        a = x3 if isinstance(ours, nn.CircularPad1d) else x4
        np.testing.assert_array_equal(ours(t64(a)).data, theirs(torch.tensor(a)).numpy())
