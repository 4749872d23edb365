"""PyTorch's containers and helpers students type: nn.ModuleList, nn.ModuleDict,
Module.requires_grad_, nn.utils, nn.optim.lr_scheduler, F.relu(inplace=True)."""
import numpy as np
import pytest

import engine
import nn


class Net(nn.Module):
    def __init__(self, make):
        super().__init__()
        self.layers = make.ModuleList([make.Linear(3, 4), make.Linear(4, 4)])
        self.heads = make.ModuleDict({"a": make.Linear(4, 1), "b": make.Linear(4, 2)})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).relu()
        return self.heads["a"](x), self.heads["b"](x)


def test_module_list_and_dict_register_their_layers():
    net = Net(nn)
    assert list(net.state_dict()) == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias"]
    a, b = net(engine.ones(5, 3))
    assert a.shape == (5, 1) and b.shape == (5, 2)
    (a.sum() + b.sum()).backward()
    assert all(p.grad is not None for p in net.parameters())
    layers = nn.ModuleList([nn.Identity()])
    layers.append(nn.Linear(2, 2))
    layers.insert(0, nn.Linear(2, 3))
    del layers[1]
    assert [type(m).__name__ for m in layers] == ["Linear", "Linear"]
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "1.weight",
                                                         "1.bias"]
    assert isinstance(layers[:1], nn.ModuleList) and len(layers[:1]) == 1
    with pytest.raises(TypeError, match="ModuleList: the appended item is a int, not a Module"):
        layers.append(3)
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        layers(engine.ones(1, 2))
    heads = nn.ModuleDict()
    heads.update({"x": nn.Linear(1, 1)})
    assert "x" in heads and list(heads.keys()) == ["x"] and len(heads) == 1
    with pytest.raises(TypeError, match="ModuleDict: 'y' is a str, not a Module"):
        heads["y"] = "no"


def test_state_dict_keys_and_loading_match_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(3, 4), torch.nn.Linear(4, 4)])
            self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(4, 1),
                                              "b": torch.nn.Linear(4, 2)})

    theirs, ours = TorchNet(), Net(nn)
    assert list(theirs.state_dict()) == list(ours.state_dict())
    ours.load_state_dict(theirs.state_dict())
    np.testing.assert_array_equal(ours.heads["b"].weight.data,
                                  theirs.heads["b"].weight.detach().numpy())


def test_sequential_slices_keep_names_and_ordered_dicts_name_layers():
    from collections import OrderedDict
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4), nn.ReLU(),
                          nn.Linear(4, 1))
    tail = model[2:]
    # PyTorch keeps the names: '2.weight' stays '2.weight' (it was renumbered '0.weight')
    assert list(tail.state_dict()) == ["2.weight", "2.bias", "4.weight", "4.bias"]
    assert tail[0] is model[2] and len(tail) == 3
    tail(engine.zeros(1, 3))  # calling the slice does not rename the model's parameters
    assert [p.name for p in model.parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    named = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 3)), ("act", nn.ReLU()),
                                       ("fc2", nn.Linear(3, 1))]))
    assert list(named.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert named(engine.zeros(5, 2)).shape == (5, 1) and named[2] is named.fc2
    with pytest.raises(ValueError, match="layer name 'a.b'"):
        nn.Sequential({"a.b": nn.ReLU()})


def test_sequential_keys_match_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from collections import OrderedDict
    theirs = torch.nn.Sequential(OrderedDict([("fc1", torch.nn.Linear(2, 3)),
                                              ("act", torch.nn.ReLU()),
                                              ("fc2", torch.nn.Linear(3, 1))]))
    ours = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 3)), ("act", nn.ReLU()),
                                      ("fc2", nn.Linear(3, 1))]))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours[1:].state_dict()) == list(theirs[1:].state_dict())


def test_requires_grad_false_freezes_every_parameter():
    net = Net(nn)
    assert net.layers.requires_grad_(False) is net.layers
    a, _ = net(engine.ones(2, 3))
    a.sum().backward()
    assert all(p.grad is None for p in net.layers.parameters())
    assert all(p.grad is not None for p in net.heads["a"].parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


def test_nn_utils_and_lr_scheduler_paths():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    assert nn.utils.clip_grad_norm_ is nn.optim.clip_grad_norm_
    assert nn.optim.lr_scheduler.StepLR is nn.optim.StepLR
    net, tnet = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    with torch.no_grad():
        tnet.weight.copy_(torch.from_numpy(net.weight.data))
        tnet.bias.copy_(torch.from_numpy(net.bias.data))
    vec = nn.utils.parameters_to_vector(net.parameters())
    np.testing.assert_array_equal(
        vec.data, torch.nn.utils.parameters_to_vector(tnet.parameters()).detach().numpy())
    nn.utils.vector_to_parameters(engine.arange(8, dtype=np.float32), net.parameters())
    np.testing.assert_array_equal(net.bias.data, [6.0, 7.0])
    with pytest.raises(ValueError, match=r"vector_to_parameters: vec of shape \(7,\) for "
                                         r"parameters of 8 elements"):
        nn.utils.vector_to_parameters(engine.zeros(7), net.parameters())


def test_relu_inplace_as_pytorch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    data = np.array([-1.5, 0.0, 2.0, -0.1])
    x = engine.tensor(data, dtype=np.float64, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    y, ty = x * 2, tx * 2
    out, tout = nn.F.relu(y, inplace=True), torch.nn.functional.relu(ty, inplace=True)
    assert out is y
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    (out * engine.tensor([1.0, 2.0, 3.0, 4.0], dtype=np.float64)).sum().backward()
    (tout * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())
    leaf = engine.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        nn.F.relu(leaf, inplace=True)


@pytest.mark.parametrize("shape", [4, (3, 4)])
def test_layer_norm_matches_torch(shape):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    rng = np.random.default_rng(0)
    ours, theirs = nn.LayerNorm(shape).double(), torch.nn.LayerNorm(shape).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(rng.uniform(0.5, 2, theirs.weight.shape)))
        theirs.bias.copy_(torch.from_numpy(rng.standard_normal(theirs.bias.shape)))
    ours.load_state_dict(theirs.state_dict())
    x, g = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    xe = engine.tensor(x, dtype=np.float64, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, tout = ours(xe), theirs(xt)
    out.backward(g)
    tout.backward(torch.from_numpy(g))
    for a, b in ((out.data, tout), (xe.grad.data, xt.grad), (ours.weight.grad.data,
                 theirs.weight.grad), (ours.bias.grad.data, theirs.bias.grad)):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(5,\) must be the last "
                                         r"dims of the input, got shape \(2, 3, 4\)"):
        nn.LayerNorm(5)(engine.zeros(2, 3, 4))


def test_layer_norm_gradcheck():
    from engine import gradcheck
    engine.manual_seed(0)
    layer = nn.LayerNorm((3,)).double()
    x = engine.tensor(np.random.default_rng(2).standard_normal((4, 3)), dtype=np.float64,
                      requires_grad=True)
    w = engine.tensor(np.random.default_rng(3).standard_normal((4, 3)), dtype=np.float64)
    assert gradcheck(lambda t, weight, bias: (nn.F.layer_norm(t, 3, weight, bias) * w).sum(),
                     x, layer.weight, layer.bias)


def test_dropout2d_and_unflatten():
    engine.manual_seed(0)
    x = engine.ones(8, 16, 3, 3)
    out = nn.Dropout2d(0.5)(x).data
    per_channel = out.reshape(8, 16, 9)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # whole channels kept or not
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    layer = nn.Dropout2d(0.5).eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match=r"dropout2d: expected \(N, C, H, W\)"):
        nn.F.dropout2d(engine.ones(2, 3))
    assert nn.Unflatten(1, (1, 28, 28))(engine.zeros(5, 784)).shape == (5, 1, 28, 28)
