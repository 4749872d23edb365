"""The convolution-family layers: Conv1d, ConvTranspose2d, MaxPool1d/AvgPool1d, MaxUnpool2d,
the adaptive pools and Upsample -- shapes, init, training, and the same outputs and
gradients as torch.nn's modules with copied weights (when torch is installed)."""
import re

import numpy as np
import pytest

import engine
import nn


def test_conv1d_and_conv_transpose2d_parameters_and_shapes():
    engine.manual_seed(0)
    conv = nn.Conv1d(4, 6, 5, padding=2, groups=2)
    assert conv.weight.shape == (6, 2, 5) and conv.bias.shape == (6,)
    assert conv(engine.randn(3, 4, 20)).shape == (3, 6, 20)
    limit = (6 / (2 * 5 + 3 * 5)) ** 0.5  # Glorot with fans C/groups·k and F/groups·k
    assert np.abs(conv.weight.data).max() <= limit
    up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, bias=False)
    assert up.weight.shape == (8, 4, 3, 3) and up.bias is None   # PyTorch's layout: C_in first
    assert up(engine.randn(2, 8, 7, 7)).shape == (2, 4, 14, 14)
    plain = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1)
    assert plain(engine.randn(2, 8, 7, 7)).shape == (2, 4, 13, 13)
    assert plain(engine.randn(2, 8, 7, 7), output_size=(2, 4, 14, 14)).shape == (2, 4, 14, 14)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of "
                                         r"\(15, 15\), but valid sizes .* range from 13 to 14"):
        plain(engine.randn(2, 8, 7, 7), output_size=(15, 15))
    assert "output_padding=1" in repr(up) and "kernel_size=(5,)" in repr(conv)



@pytest.mark.parametrize("layer,n", [(nn.Conv1d, 1), (nn.Conv2d, 2), (nn.Conv3d, 3),
                                     (nn.ConvTranspose1d, 1), (nn.ConvTranspose2d, 2),
                                     (nn.ConvTranspose3d, 3)])
def test_conv_layers_check_kernel_size_where_built(layer, n):
    """Every convolution layer refuses a kernel_size that is not an int >= 1 or n of them,
    naming itself, when built (Conv2d(1, 1, 0) was a ZeroDivisionError, ConvTranspose2d
    built a (3,) kernel and failed only in forward)."""
    name = layer.__name__
    many = "a pair of them" if n == 2 else f"a sequence of {n}"
    for bad in (0, -1, (3,) * (n + 1), 3.0, True) + (((3,) * (n - 1),) if n > 1 else ()):
        with pytest.raises(ValueError, match=rf"{name}: kernel_size must be an int ≥ 1 or "
                                             rf"{many}, got {re.escape(repr(bad))}"):
            layer(2, 2, bad)
    # what is accepted: an int (numpy's too) or n of them, kept as an n-tuple of ints
    for good in (3, np.int64(3), [3] * n, (3,) * n):
        m = layer(2, 2, good)
        assert m.kernel_size == (3,) * n and m.weight.shape == (2, 2) + (3,) * n
        assert all(type(k) is int for k in m.kernel_size)


def test_pool_unpool_upsample_layers():
    x = engine.randn(2, 3, 8, 8)
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, idx = pool(x)
    back = unpool(y, idx)
    assert back.shape == x.shape and idx.dtype == np.int64
    kept = back.data != 0   # each kept value is its window's maximum, in its place
    np.testing.assert_array_equal(back.data[kept], x.data[kept])
    assert kept.reshape(2, 3, 4, 2, 4, 2).sum(axis=(3, 5)).max() == 1
    assert nn.MaxPool2d(3, dilation=2)(x).shape == (2, 3, 2, 2)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    assert nn.AdaptiveAvgPool2d((None, 2))(x).shape == (2, 3, 8, 2)
    avg = nn.AvgPool2d(2, divisor_override=np.int64(3))  # kept as the plain int it checked
    assert type(avg.divisor_override) is int and repr(avg).endswith("divisor_override=3)")
    # The kernel sums each window in float64 (a float32 sum can cancel to a few ulps off)
    np.testing.assert_allclose(avg(x).data,
                               x.data.astype(np.float64).reshape(2, 3, 4, 2, 4, 2).sum((3, 5)) / 3,
                               rtol=1e-6)
    out, idx = nn.AdaptiveMaxPool2d(3, return_indices=True)(x)
    assert out.shape == idx.shape == (2, 3, 3, 3)
    assert nn.Upsample(scale_factor=2)(x).shape == (2, 3, 16, 16)
    assert nn.UpsamplingBilinear2d(size=5)(x).shape == (2, 3, 5, 5)
    seq = engine.randn(2, 3, 10)
    assert nn.MaxPool1d(2)(seq).shape == nn.AvgPool1d(3, 1, 1)(seq).shape[:2] + (5,)
    assert "dilation=2" in repr(nn.MaxPool2d(3, dilation=2))
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=False)"


def test_a_conv_autoencoder_learns_to_reconstruct():
    # Encoder Conv2d (stride 2) → decoder ConvTranspose2d (stride 2, output_padding 1): the
    # reconstruction loss must fall when every gradient reaches its parameter.
    engine.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
                          nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1))
    opt = nn.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(engine.tensor(x)), engine.tensor(x))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_a_conv1d_model_predicts_a_sine_wave():
    # The course's question "1-D convolution vs RNN": a 1-D convolution over the window
    # (here (N, 1, window)) is a next-value predictor too, and fits the sine series.
    engine.manual_seed(0)
    (x, y), (x_test, y_test) = nn.datasets.sine_series(n=300, window=10)
    to_channels = lambda a: engine.tensor(a.transpose(0, 2, 1))  # noqa: E731
    model = nn.Sequential(nn.Conv1d(1, 8, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8 * 8, 1))
    nn.fit(model, to_channels(x), y, loss=nn.functional.mse_loss,
           optimizer=nn.optim.Adam(model.parameters(), lr=0.01), epochs=30, verbose=0)
    with engine.no_grad():
        err = nn.functional.mse_loss(model(to_channels(x_test)), engine.tensor(y_test)).item()
    assert err < 0.01   # the series' variance is 0.5


# ------------------------------------------------------------------------ PyTorch
def _copy_to_torch(ours, theirs, torch):
    with torch.no_grad():
        for name, p in ours.named_parameters():
            getattr(theirs, name).copy_(torch.tensor(p.data))


CASES = [
    ("Conv1d", (4, 6, 3), dict(stride=2, padding=1, dilation=2, groups=2), (2, 4, 15)),
    ("Conv1d", (3, 5, 4), dict(padding="same"), (2, 3, 9)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1), (2, 4, 5, 6)),
    ("ConvTranspose2d", (4, 6, (2, 3)), dict(stride=(1, 2), groups=2, dilation=(2, 1)),
     (2, 4, 3, 4)),
    ("MaxPool1d", (3,), dict(stride=2, padding=1, dilation=2, ceil_mode=True), (2, 3, 11)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 11)),
    ("MaxPool2d", (3,), dict(stride=2, dilation=2), (2, 3, 9, 8)),
    ("AdaptiveAvgPool2d", ((3, 5),), {}, (2, 3, 7, 9)),
    ("AdaptiveMaxPool2d", (4,), {}, (2, 3, 7, 9)),
    ("Upsample", (), dict(scale_factor=1.5, mode="bilinear"), (2, 3, 5, 4)),
    ("Upsample", (), dict(size=(7, 3), mode="nearest"), (2, 3, 5, 4)),
    ("UpsamplingBilinear2d", (), dict(scale_factor=2), (2, 3, 5, 4)),
    ("UpsamplingNearest2d", (), dict(size=9), (2, 3, 5, 4)),
]


@pytest.mark.filterwarnings("ignore:Using padding=.same.")  # torch: even kernel, a copy
@pytest.mark.parametrize("name,args,kwargs,shape", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_layers_match_torch(name, args, kwargs, shape):
    torch = pytest.importorskip("torch")
    engine.manual_seed(0)
    ours = getattr(nn, name)(*args, **kwargs).double()
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    _copy_to_torch(ours, theirs, torch)
    x = np.random.default_rng(1).permutation(int(np.prod(shape))).reshape(shape) * 0.1
    xt, tx = engine.tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(
        x, requires_grad=True)
    out, tout = ours(xt), theirs(tx)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(np.asarray(xt.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for pname, p in ours.named_parameters():
        np.testing.assert_allclose(np.asarray(p.grad), getattr(theirs, pname).grad.numpy(),
                                   rtol=1e-10, atol=1e-12)


def test_unpool_layers_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((2, 3, 9, 7))
    y, idx = nn.MaxPool2d(2, return_indices=True)(engine.tensor(x, dtype=np.float64))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.data, tidx.numpy())
    ours = nn.MaxUnpool2d(2)(y, idx, output_size=x.shape)
    theirs = torch.nn.MaxUnpool2d(2)(ty, tidx, output_size=x.shape)
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_to_torch_keeps_a_pools_dilation():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.MaxPool2d(3, dilation=2))
    theirs = nn.to_torch(ours)
    assert theirs[0].dilation == 2
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)
    np.testing.assert_array_equal(ours(engine.tensor(x)).data, theirs(torch.tensor(x)).numpy())
    back = nn.from_torch(theirs)
    assert back[0].dilation in (2, (2, 2))
