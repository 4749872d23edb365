"""nn.save_safetensors / load_safetensors, nn.to_torch / from_torch, nn.export_onnx.

References are the other libraries themselves: safetensors' own readers, PyTorch's modules
running their own kernels, onnxruntime running the exported graph. Each optional package
is skipped (with the reason) when missing; `make test` installs them (the dev extra), except
torch, which is optional everywhere.
"""
import builtins
import sys

import numpy as np
import pytest

import engine
import nn
from nn import interchange

RNG = np.random.default_rng(0)


def randomize(model, seed=0):
    """Non-trivial weights and BatchNorm statistics (fresh BN layers are an identity)."""
    rng = np.random.default_rng(seed)
    for key, t in nn.serialization.state_tensors(model).items():
        # scaled by 1/√fan-in, so that activations stay O(1) through deep stacks
        fan_in = int(np.prod(t.shape[1:])) if len(t.shape) > 1 else 4
        values = rng.standard_normal(t.shape) * 1.5 / np.sqrt(fan_in)
        if key.endswith("running_var"):
            values = rng.uniform(0.5, 2.0, t.shape)
        with engine.no_grad():
            t.copy_(values.astype(t.dtype))
    return model


def run(model, x):
    with engine.no_grad():
        out = model(engine.Tensor(x, dtype=x.dtype))
    if isinstance(out, tuple):
        out, state = out
        state = [s.data for s in state] if isinstance(state, tuple) else [state.data]
        return [out.data, *state]
    return [out.data]


def hide(monkeypatch, name):
    """Make `import name` fail, as on a machine without the package."""
    real_import = builtins.__import__

    def fake(mod, *args, **kwargs):
        if mod == name or mod.startswith(name + "."):
            raise ImportError(f"No module named {mod!r}")
        return real_import(mod, *args, **kwargs)

    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        monkeypatch.delitem(sys.modules, key)
    monkeypatch.setattr(builtins, "__import__", fake)


# ---------------------------------------------------------------------------- safetensors
def test_safetensors_round_trip_read_by_safetensors_itself(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy", reason="safetensors is not installed")
    model = randomize(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                                    nn.Flatten(), nn.Linear(4 * 26 * 26, 3)))
    path = nn.save_safetensors(model, tmp_path / "m.safetensors")
    theirs = st_numpy.load_file(str(path))
    ours = model.state_dict()
    # safetensors orders by dtype size, then name (BatchNorm's int64 counter comes first)
    assert sorted(theirs) == sorted(ours)
    for key, value in ours.items():
        assert theirs[key].dtype == value.dtype
        assert theirs[key].tobytes() == value.tobytes()  # bit for bit
    back = nn.load_safetensors(path)
    fresh = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 26 * 26, 3))
    fresh.load_state_dict(back)
    x = RNG.standard_normal((2, 1, 28, 28)).astype(np.float32)
    model.eval(), fresh.eval()
    np.testing.assert_array_equal(run(model, x)[0], run(fresh, x)[0])


def test_safetensors_read_and_written_by_torch(tmp_path):
    pytest.importorskip("safetensors", reason="safetensors is not installed")
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from safetensors.torch import load_file, save_file
    model = randomize(nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2)))
    nn.save_safetensors(model, tmp_path / "ours.safetensors")
    theirs = load_file(str(tmp_path / "ours.safetensors"))
    for key, value in model.state_dict().items():
        assert torch.equal(theirs[key], torch.from_numpy(value))
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
    save_file(tmodel.state_dict(), str(tmp_path / "torch.safetensors"))
    model.load_state_dict(nn.load_safetensors(tmp_path / "torch.safetensors"))
    x = RNG.standard_normal((3, 5)).astype(np.float32)
    expected = tmodel(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(run(model, x)[0], expected, rtol=0, atol=1e-6)


def test_safetensors_refusals(tmp_path):
    pytest.importorskip("safetensors", reason="safetensors is not installed")
    with pytest.raises(TypeError, match="'names' has dtype <U1"):
        nn.save_safetensors({"names": np.array(["a"])}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="Module or a state dict"):
        nn.save_safetensors([np.zeros(2)], tmp_path / "x.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......")
    with pytest.raises(ValueError, match="not a readable safetensors file") as info:
        nn.load_safetensors(bad)
    assert str(bad) in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.safetensors"]


def test_missing_optional_packages_say_what_to_install(monkeypatch, tmp_path):
    hide(monkeypatch, "safetensors")
    with pytest.raises(ImportError, match=r"pip install safetensors \(or pip install "
                                          r"'stepgrad\[interchange\]'\)"):
        nn.save_safetensors(nn.Linear(2, 2), tmp_path / "x.safetensors")
    hide(monkeypatch, "onnx")
    with pytest.raises(ImportError, match="pip install onnx"):
        nn.export_onnx(nn.Linear(2, 2), np.zeros((1, 2), np.float32), tmp_path / "x.onnx")
    hide(monkeypatch, "torch")
    with pytest.raises(ImportError, match="needs the 'torch' package.*pip install torch"):
        nn.to_torch(nn.Linear(2, 2))


# ---------------------------------------------------------------------------- PyTorch
def layer_cases():
    """(name, stepgrad module factory, input shape): every layer with a torch.nn twin."""
    return [
        ("linear", lambda: nn.Linear(6, 4), (5, 6)),
        ("linear_nobias_3d", lambda: nn.Linear(6, 4, bias=False), (2, 3, 6)),
        ("conv", lambda: nn.Conv2d(3, 5, 3, stride=2, padding=1), (2, 3, 9, 9)),
        ("conv_same_dilated_groups", lambda: nn.Conv2d(4, 6, (3, 2), padding="same",
                                                       dilation=2, groups=2), (2, 4, 8, 7)),
        ("conv_valid_nobias", lambda: nn.Conv2d(2, 3, 2, padding="valid", bias=False),
         (1, 2, 5, 5)),
        ("maxpool_ceil", lambda: nn.MaxPool2d(2, ceil_mode=True), (2, 3, 7, 7)),
        ("maxpool_pad_stride", lambda: nn.MaxPool2d(3, stride=1, padding=1), (2, 3, 6, 6)),
        ("avgpool_pad", lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 7, 8)),
        ("avgpool_ceil", lambda: nn.AvgPool2d(2, ceil_mode=True), (2, 2, 5, 5)),
        ("avgpool_no_pad_count", lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True,
                                                      count_include_pad=False), (2, 3, 8, 7)),
        ("avgpool_divisor", lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, divisor_override=5),
         (2, 3, 8, 7)),
        ("global_avg", lambda: nn.GlobalAvgPool2d(), (2, 3, 4, 5)),
        ("flatten", lambda: nn.Flatten(), (2, 3, 4, 5)),
        ("flatten_mid", lambda: nn.Flatten(1, 2), (2, 3, 4, 5)),
        ("bn1d", lambda: nn.BatchNorm1d(4), (6, 4)),
        ("bn1d_3d", lambda: nn.BatchNorm1d(4, affine=False), (6, 4, 3)),
        ("bn2d", lambda: nn.BatchNorm2d(3, eps=1e-3, momentum=0.2), (4, 3, 5, 5)),
        ("dropout", lambda: nn.Dropout(0.3), (4, 7)),
        ("relu", lambda: nn.ReLU(), (4, 7)),
        ("leaky", lambda: nn.LeakyReLU(0.2), (4, 7)),
        ("sigmoid", lambda: nn.Sigmoid(), (4, 7)),
        ("tanh", lambda: nn.Tanh(), (4, 7)),
        ("softmax", lambda: nn.Softmax(dim=1), (4, 7, 2)),
        ("identity", lambda: nn.Identity(), (4, 7)),
        ("rnn", lambda: nn.RNN(3, 5, batch_first=True), (2, 6, 3)),
        ("rnn_relu_time_first", lambda: nn.RNN(3, 5, nonlinearity="relu", batch_first=False),
         (6, 2, 3)),
        ("lstm", lambda: nn.LSTM(3, 4, batch_first=True), (2, 5, 3)),
        ("gru", lambda: nn.GRU(3, 4, bias=False, batch_first=True), (2, 5, 3)),
        ("lstm_stacked_bidirectional", lambda: nn.LSTM(3, 4, 2, batch_first=True,
                                                       bidirectional=True), (2, 5, 3)),
        ("transformer_encoder", lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                       norm_first=True, activation="gelu"), 2,
            norm=nn.LayerNorm(8), enable_nested_tensor=False), (2, 5, 8)),
        ("rnn_cell", lambda: nn.RNNCell(3, 4), (2, 3)),
        ("lstm_cell", lambda: nn.LSTMCell(3, 4), (2, 3)),
        ("gru_cell", lambda: nn.GRUCell(3, 4), (2, 3)),
        ("seed_cnn", lambda: nn.models.seed_cnn(), (3, 1, 28, 28)),
        ("conv_reflect", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
         (2, 2, 6, 6)),
        ("bn2d_no_running_stats", lambda: nn.BatchNorm2d(3, track_running_stats=False),
         (4, 3, 5, 5)),
        ("layer_norm", lambda: nn.LayerNorm((3, 4)), (2, 3, 4)),
        ("layer_norm_no_bias", lambda: nn.LayerNorm(4, bias=False), (2, 4)),
        ("group_norm", lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3)),
        ("instance_norm", lambda: nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 4)),
        # PyTorch 2's bias=False: a scale without a shift (the torch side was refused)
        ("bn1d_no_bias", lambda: nn.BatchNorm1d(4, bias=False), (5, 4)),
        ("group_norm_no_bias", lambda: nn.GroupNorm(2, 4, bias=False), (2, 4, 3)),
        ("instance_norm_no_bias", lambda: nn.InstanceNorm1d(3, affine=True, bias=False),
         (2, 3, 5)),
        ("dropout2d", lambda: nn.Dropout2d(0.3), (2, 3, 4, 4)),
        ("dropout3d_alpha", lambda: nn.Sequential(nn.Dropout3d(0.3), nn.AlphaDropout(0.2)),
         (2, 3, 2, 4, 4)),
        ("unflatten", lambda: nn.Unflatten(1, (2, 3)), (4, 6)),
        ("activations", lambda: nn.Sequential(nn.GELU(approximate="tanh"), nn.ELU(0.5),
                                              nn.SELU(), nn.SiLU(), nn.Mish(),
                                              nn.Softplus(2.0, 10.0), nn.PReLU(),
                                              nn.Hardtanh(-0.5, 0.5), nn.ReLU6(),
                                              nn.LogSoftmax(dim=1)), (4, 7)),
        ("pixel_pads", lambda: nn.Sequential(nn.PixelShuffle(2), nn.ZeroPad2d((1, 0, 2, 1)),
                                             nn.ReflectionPad2d(1), nn.ReplicationPad2d(1),
                                             nn.ConstantPad2d((1, 2, 1, 0), 0.5), nn.Softmax2d(),
                                             nn.PixelUnshuffle(2)), (2, 4, 3, 3)),
        ("glu_shrinks_lrn", lambda: nn.Sequential(nn.LocalResponseNorm(3, 0.2, 0.6, 1.5),
                                                  nn.GLU(1), nn.Softshrink(0.2),
                                                  nn.Hardshrink(0.1), nn.Tanhshrink()),
         (2, 6, 3, 3)),
        ("mlp_bn_dropout", lambda: nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16),
                                                 nn.ReLU(), nn.Dropout(0.5),
                                                 nn.Linear(16, 3), nn.Softmax(dim=-1)),
         (5, 8)),
    ]


def torch_outputs(tmodule, torch, x):
    with torch.no_grad():
        out = tmodule(torch.from_numpy(x))
    if isinstance(out, tuple):
        out, state = out
        states = list(state) if isinstance(state, tuple) else [state]
        return [out.numpy(), *[s.numpy() for s in states]]
    return [out.numpy()]


@pytest.mark.parametrize("name, make, shape", layer_cases(), ids=[c[0] for c in layer_cases()])
def test_to_torch_and_back_give_the_same_outputs(name, make, shape):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    engine.manual_seed(0)
    model = randomize(make())
    if "bn" in name or "dropout" in name:
        model.eval()  # train-mode batch statistics: test_train_mode_batch_norm_...
    tmodule = nn.to_torch(model)
    assert list(tmodule.state_dict()) == list(model.state_dict())  # num_batches_tracked too
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    ours, theirs = run(model, x), torch_outputs(tmodule, torch, x)
    assert [a.shape for a in ours] == [b.shape for b in theirs]
    err = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs, strict=True))
    assert err <= 1e-5, err  # float32: both sides round differently, within 1e-5

    back = nn.from_torch(tmodule)
    assert type(back) is type(model) or name == "global_avg"
    for a, b in zip(run(back, x), ours, strict=True):
        np.testing.assert_array_equal(a, b)  # the same weights: the same computation


@pytest.mark.parametrize("name, make, shape", [c for c in layer_cases()
                                               if c[0] not in ("dropout", "mlp_bn_dropout")],
                         ids=[c[0] for c in layer_cases()
                              if c[0] not in ("dropout", "mlp_bn_dropout")])
def test_float64_round_trip_equal_to_1e_6(name, make, shape):
    """In float64 rounding is out of the way: a wrong formula could not hide in 1e-6."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    engine.manual_seed(0)
    model = randomize(make())
    model.eval()
    t64 = nn.to_torch(model).double()
    ours64 = nn.from_torch(t64)  # float64 weights, as from_torch keeps dtypes
    assert all(p.dtype == np.float64 for p in ours64.parameters())
    x = np.random.default_rng(2).standard_normal(shape)
    for a, b in zip(run(ours64, x), torch_outputs(t64, torch, x), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_train_mode_batch_norm_and_flags_carry_over():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    model = randomize(nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU()))
    model[0].weight.requires_grad = False
    tmodule = nn.to_torch(model)
    assert tmodule.training and tmodule[1].training
    assert not tmodule[0].weight.requires_grad and tmodule[0].bias.requires_grad
    x = np.random.default_rng(3).standard_normal((8, 4)).astype(np.float32)
    a, b = run(model, x)[0], torch_outputs(tmodule, torch, x)[0]
    np.testing.assert_allclose(a, b, atol=1e-5)  # batch statistics
    np.testing.assert_allclose(model[1].running_mean.data, tmodule[1].running_mean.numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(model[1].running_var.data, tmodule[1].running_var.numpy(),
                               atol=1e-5)
    tmodule.eval()
    back = nn.from_torch(tmodule)
    assert not back.training and not back[1].training
    assert not back[0].weight.requires_grad


def test_from_torch_of_torch_initialised_modules():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    torch.manual_seed(0)
    tnn = torch.nn
    from collections import OrderedDict
    tmodel = tnn.Sequential(OrderedDict([
        ("conv", tnn.Conv2d(1, 4, 3, padding=1)), ("bn", tnn.BatchNorm2d(4)),
        ("act", tnn.ReLU()), ("pool", tnn.AvgPool2d(2)),
        ("gap", tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten())),
        ("fc", tnn.Linear(4, 3))])).eval()
    ours = nn.from_torch(tmodel)
    assert list(ours.state_dict()) == list(tmodel.state_dict())  # num_batches_tracked too
    assert isinstance(ours.gap, nn.GlobalAvgPool2d)
    x = np.random.default_rng(4).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(run(ours, x)[0], torch_outputs(tmodel, torch, x)[0], atol=1e-6)


def test_untranslatable_modules_are_refused_by_name():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    with pytest.raises(TypeError, match=r"b4 is a Sequential|ResidualBlock"):
        nn.to_torch(nn.models.resnet(blocks=1))
    with pytest.raises(TypeError, match="stateful=True"):
        nn.to_torch(nn.Sequential(nn.RNN(2, 3, stateful=True, batch_first=True)))
    with pytest.raises(TypeError, match="padding='same' with stride 2"):
        nn.to_torch(nn.Conv2d(1, 2, 3, stride=2, padding="same"))

    class MyLinear(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

    with pytest.raises(TypeError, match="MyLinear overrides forward"):
        nn.to_torch(MyLinear(2, 2))
    with pytest.raises(TypeError, match="proj_size"):
        nn.from_torch(torch.nn.LSTM(2, 3, proj_size=2, batch_first=True))
    # Softmax() without dim: stepgrad makes PyTorch's implicit choice, so it converts
    x3 = torch.randn(2, 3, 4, dtype=torch.float64)
    for tm in (torch.nn.Softmax(), torch.nn.LogSoftmax()):
        with pytest.warns(UserWarning):
            want = tm(x3).numpy()
        with pytest.warns(UserWarning, match="using dim 0"):
            got = nn.from_torch(tm)(engine.tensor(x3.numpy(), dtype=np.float64))
        np.testing.assert_allclose(got.data, want, rtol=1e-12)
    with pytest.raises(TypeError, match="torch.nn.modules.*ConvTranspose3d"):  # (Conv3d is in)
        nn.from_torch(torch.nn.Sequential(torch.nn.ConvTranspose3d(4, 2, 3)))
    with pytest.raises(TypeError, match="InstanceNorm with track_running_stats=True"):
        nn.from_torch(torch.nn.InstanceNorm2d(3, track_running_stats=True))


# ---------------------------------------------------------------------------- ONNX
def onnx_session(path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def onnx_cases():
    return [
        ("seed_cnn_pretrained", lambda: nn.pretrained.load_seed_cnn(), (5, 1, 28, 28)),
        ("seed_cnn_random", lambda: randomize(nn.models.seed_cnn()), (3, 1, 28, 28)),
        ("mlp", lambda: randomize(nn.Sequential(nn.Linear(10, 32), nn.Tanh(),
                                                nn.Linear(32, 16), nn.ReLU(),
                                                nn.Linear(16, 4))), (7, 10)),
        ("mlp_bn_dropout_softmax", lambda: randomize(nn.Sequential(
            nn.Linear(8, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.1), nn.Dropout(0.5),
            nn.Linear(16, 3), nn.Softmax(dim=-1))), (6, 8)),
        ("cnn_more_layers", lambda: randomize(nn.Sequential(
            nn.Conv2d(2, 4, 3, padding="same"), nn.BatchNorm2d(4), nn.Sigmoid(),
            nn.AvgPool2d(3, stride=2, padding=1),
            nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
            nn.Conv2d(4, 4, 3, stride=2,
                                                            padding="same", bias=False),
            nn.MaxPool2d(2, ceil_mode=True), nn.Identity(), nn.GlobalAvgPool2d(),
            nn.Linear(4, 2))), (2, 2, 15, 13)),
        ("linear_3d_flatten_mid", lambda: randomize(nn.Sequential(
            nn.Flatten(1, 2), nn.Linear(5, 3))), (2, 3, 4, 5)),
        ("layer_norm_activations", lambda: randomize(nn.Sequential(
            nn.Linear(6, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, 8), nn.ELU(0.5),
            nn.SELU(), nn.SiLU(), nn.Softplus(), nn.PReLU(), nn.Hardtanh(-0.5, 0.7),
            nn.ReLU6(), nn.LayerNorm(8, bias=False), nn.LogSoftmax(dim=1))), (5, 6)),
        ("instance_norm_prelu_unflatten", lambda: randomize(nn.Sequential(
            nn.Conv2d(2, 3, 3, padding=1), nn.InstanceNorm2d(3, affine=True), nn.PReLU(3),
            nn.Dropout2d(0.2), nn.InstanceNorm2d(3), nn.Flatten(), nn.Unflatten(1, (3, 20)),
            nn.LayerNorm((3, 20)))), (2, 2, 4, 5)),
        # no dim: PyTorch's implicit one, dim 1 on 4-D input (the export writes it out)
        ("softmax_implicit_dim", lambda: nn.Sequential(nn.Softmax()), (2, 3, 4, 5)),
    ]


@pytest.mark.parametrize("name, make, shape", onnx_cases(), ids=[c[0] for c in onnx_cases()])
def test_export_onnx_matches_onnxruntime(tmp_path, name, make, shape):
    onnx = pytest.importorskip("onnx", reason="onnx is not installed")
    engine.manual_seed(0)
    model = make()
    model.train()  # export must use eval mode and then give the mode back
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    path = nn.export_onnx(model, x[:1], tmp_path / f"{name}.onnx")
    assert model.training
    proto = onnx.load(str(path))
    assert {i.name for i in proto.graph.initializer} >= {  # (the counter: not inference)
        k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    session = onnx_session(path)
    model.eval()
    expected = run(model, x)[0]
    got = session.run(None, {"input": x})[0]  # another batch size than the example's
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_export_onnx_refuses_what_it_cannot_translate(tmp_path):
    pytest.importorskip("onnx", reason="onnx is not installed")
    with pytest.raises(TypeError, match="ResidualBlock"):
        nn.export_onnx(nn.models.resnet(blocks=1), np.zeros((1, 1, 8, 8), np.float32),
                       tmp_path / "r.onnx")
    with pytest.raises(TypeError, match="padding_mode='reflect' is not exported"):
        nn.export_onnx(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"),
                       np.zeros((1, 1, 5, 5), np.float32), tmp_path / "c.onnx")
    with pytest.raises(TypeError, match=r"GELU\(approximate='tanh'\) is not exported"):
        nn.export_onnx(nn.GELU(approximate="tanh"), np.zeros((1, 3), np.float32),
                       tmp_path / "g.onnx")
    with pytest.raises(TypeError, match=r"AvgPool2d: divisor_override=3 is not exported"):
        nn.export_onnx(nn.AvgPool2d(2, divisor_override=3), np.zeros((1, 1, 4, 4), np.float32),
                       tmp_path / "a.onnx")
    with pytest.raises(TypeError, match="LSTM, which cannot be exported"):
        nn.export_onnx(nn.LSTM(2, 3, batch_first=True), np.zeros((1, 4, 2), np.float32),
                       tmp_path / "l.onnx")
    assert list(tmp_path.iterdir()) == []


def test_interchange_names_are_in_nn():
    for name in interchange.__all__:
        assert getattr(nn, name) is getattr(interchange, name)


def test_export_onnx_keeps_a_pools_dilation(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(3, dilation=2))
    x = np.random.default_rng(0).standard_normal((2, 1, 11, 11)).astype(np.float32)
    nn.export_onnx(model, engine.tensor(x), tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    out = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, model(engine.tensor(x)).data, atol=1e-5)


def test_embedding_to_torch_and_back():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    engine.manual_seed(0)
    model = nn.Sequential(nn.Embedding(12, 4, padding_idx=0), nn.Flatten(), nn.Linear(12, 2))
    x = np.array([[1, 0, 5], [11, 3, 3]])
    tmodule = nn.to_torch(model)
    assert tmodule[0].padding_idx == 0
    with torch.no_grad():
        theirs = tmodule(torch.from_numpy(x)).numpy()
    ours = model(engine.tensor(x)).data
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    back = nn.from_torch(tmodule)
    np.testing.assert_array_equal(back(engine.tensor(x)).data, ours)
    with pytest.raises(TypeError, match="sparse=True"):
        nn.from_torch(torch.nn.Sequential(torch.nn.Embedding(5, 2, sparse=True)))
    # max_norm, norm_type and scale_grad_by_freq cross over both ways (not dropped)
    back = nn.from_torch(torch.nn.Sequential(torch.nn.Embedding(
        5, 2, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True)))
    assert (back[0].max_norm, back[0].norm_type, back[0].scale_grad_by_freq) == (1.0, 1.0, True)
    there = nn.to_torch(back)[0]
    assert (there.max_norm, there.norm_type, there.scale_grad_by_freq) == (1.0, 1.0, True)


def test_multihead_attention_to_torch_and_back():
    """MultiheadAttention takes (query, key, value): converted both ways with every option
    that changes its parameters (kdim/vdim, no bias, bias_kv, zero_attn)."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    engine.manual_seed(0)
    rng = np.random.default_rng(3)
    for kw in ({"kdim": 6, "vdim": 5}, {"bias": False, "add_bias_kv": True,
                                        "add_zero_attn": True}):
        model = randomize(nn.MultiheadAttention(8, 2, batch_first=True, **kw))
        q = rng.standard_normal((3, 4, 8)).astype(np.float32)
        k = rng.standard_normal((3, 5, kw.get("kdim", 8))).astype(np.float32)
        v = rng.standard_normal((3, 5, kw.get("vdim", 8))).astype(np.float32)
        tmodule = nn.to_torch(model)
        assert set(tmodule.state_dict()) == set(model.state_dict())
        with torch.no_grad():
            theirs = tmodule(*(torch.from_numpy(a) for a in (q, k, v)))
        ours = model(*(engine.tensor(a) for a in (q, k, v)))
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-5, atol=1e-6)
        back = nn.from_torch(tmodule)
        for a, b in zip(back(*(engine.tensor(a) for a in (q, k, v))), ours, strict=True):
            np.testing.assert_array_equal(a.data, b.data)
