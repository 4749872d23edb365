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


# -- Module registration, state and hooks as PyTorch's (each: by hand, and against torch) ---
def _three(make):
    """A make.Module (make: nn or torch.nn) with three small layers a, b, c."""
    model = make.Module()
    model.a, model.b, model.c = make.Linear(2, 2), make.Linear(2, 2), make.Linear(2, 1)
    return model


def _reassign(make, parameter, ones):
    """Re-assign a parameter, a sub-module, a tied weight and a ModuleDict key in place."""
    m = _three(make)
    m.a.weight = parameter(ones(2, 2))
    m.b = make.Linear(2, 2)
    m.c.weight = m.a.weight
    heads = make.ModuleDict({"x": make.ReLU(), "y": make.Tanh()})
    heads["x"] = make.Sigmoid()
    return m, heads


def test_reassigning_a_parameter_or_module_keeps_its_place():
    m, heads = _reassign(nn, nn.Parameter, engine.ones)
    assert [n for n, _ in m.named_parameters()] == [
        "a.weight", "a.bias", "b.weight", "b.bias", "c.bias"]  # c.weight is a.weight: once
    assert list(m.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias", "c.weight",
                                    "c.bias"]
    assert list(heads) == ["x", "y"] and type(heads["x"]).__name__ == "Sigmoid"
    layer = nn.Linear(3, 2)
    layer.weight = nn.Parameter(engine.ones(2, 3))
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(layer.parameters()).data[:6],
                                  np.ones(6))
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        layer.weight = engine.ones(2, 3)  # would silently stop training it
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'a'"):
        m.a = 3
    layer.bias = None  # None unregisters, as PyTorch
    assert list(layer.state_dict()) == ["weight"] and layer.bias is None


def test_reassigning_keeps_place_as_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    ours, our_heads = _reassign(nn, nn.Parameter, engine.ones)
    theirs, their_heads = _reassign(torch.nn, torch.nn.Parameter, torch.ones)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(our_heads) == list(their_heads)
    with pytest.raises(TypeError):
        theirs.a.weight = torch.ones(2, 2)


class _Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("cnt", engine.zeros(1))
        self.register_buffer("spare", engine.ones(2))

    def forward(self, x):
        self.cnt = self.cnt + 1
        return x


def test_assigning_a_tensor_to_a_buffer_updates_the_buffer():
    m = _Counter()
    m(engine.zeros(1))
    m(engine.zeros(1))
    state = m.state_dict()
    assert list(state) == ["cnt", "spare"]
    np.testing.assert_array_equal(state["cnt"], [2.0])
    assert [n for n, _ in m.named_buffers()] == ["cnt", "spare"]
    m.spare = None  # None removes it from the state, as PyTorch
    assert list(m.state_dict()) == ["cnt"]
    with pytest.raises(TypeError, match="cannot assign 'int' as buffer 'cnt'"):
        m.cnt = 3
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        nn.Linear(1, 1).register_buffer("weight", np.zeros(1))


def test_buffer_assignment_as_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")

    class TorchCounter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("cnt", torch.zeros(1))

        def forward(self, x):
            self.cnt = self.cnt + 1
            return x

    ours, theirs = _Counter(), TorchCounter()
    for _ in range(3):
        ours(engine.zeros(1))
        theirs(torch.zeros(1))
    np.testing.assert_array_equal(ours.state_dict()["cnt"], theirs.state_dict()["cnt"].numpy())


def _nested(make):
    """A model whose shared Linear sits under two parents; returns (model, names by id)."""
    shared = make.Linear(1, 1)
    model = make.Sequential(make.Sequential(make.Linear(1, 1), shared),
                            make.Sequential(shared, make.ReLU()), make.Tanh())
    return model, {id(m): name or "root" for name, m in model.named_modules()}


def test_apply_visits_children_first_in_registration_order():
    model, names = _nested(nn)
    order = []
    assert model.apply(lambda m: order.append(names[id(m)])) is model
    # each child's apply (its own children first), then the module: the shared layer twice
    assert order == ["0.0", "0.1", "0", "0.1", "1.1", "1", "2", "root"]


def test_apply_order_as_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    orders = []
    for make in (nn, torch.nn):
        model, names = _nested(make)
        orders.append([])
        model.apply(lambda m, out=orders[-1], names=names: out.append(names[id(m)]))
    assert orders[0] == orders[1]


def _twice(make):
    shared, model = make.Linear(2, 1), make.Module()
    model.p, model.q = shared, shared
    return model


def test_module_registered_twice_is_in_the_state_dict_under_both_names():
    model = _twice(nn)
    assert list(model.state_dict()) == ["p.weight", "p.bias", "q.weight", "q.bias"]
    assert len(list(model.parameters())) == 2 and len(list(model.children())) == 1
    f32 = np.float32
    state = {"p.weight": np.array([[1.0, 2.0]], f32), "p.bias": np.array([3.0], f32),
             "q.weight": np.array([[1.0, 2.0]], f32), "q.bias": np.array([3.0], f32)}
    model.load_state_dict(state)
    np.testing.assert_array_equal(model.q.weight.data, [[1.0, 2.0]])
    state["q.bias"] = np.array([4.0], f32)  # PyTorch keeps the last one silently: refuse
    with pytest.raises(ValueError, match="'p.bias' and 'q.bias' name the same tensor"):
        model.load_state_dict(state)
    np.testing.assert_array_equal(model.p.bias.data, [3.0])  # nothing half-loaded


def test_module_registered_twice_loads_torch_state_dict():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    ours, theirs = _twice(nn), _twice(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.load_state_dict(theirs.state_dict()) == ([], [])
    np.testing.assert_array_equal(ours.q.weight.data, theirs.q.weight.detach().numpy())


def test_load_state_dict_returns_missing_and_unexpected_keys():
    layer = nn.Linear(2, 1)
    missing, unexpected = layer.load_state_dict({"weight": np.zeros((1, 2), np.float32),
                                                 "extra": np.zeros(1)}, strict=False)
    assert (missing, unexpected) == (["bias"], ["extra"])
    result = layer.load_state_dict(nn.Linear(2, 1).state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"


def test_load_state_dict_result_as_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    state = {"weight": np.zeros((1, 2), np.float32), "extra": np.zeros(1, np.float32)}
    ours = nn.Linear(2, 1).load_state_dict(state, strict=False)
    theirs = torch.nn.Linear(2, 1).load_state_dict(
        {k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    assert tuple(ours) == tuple(theirs) and repr(ours) == repr(theirs)
    assert repr(nn.Linear(1, 1).load_state_dict(nn.Linear(1, 1).state_dict())) == repr(
        torch.nn.Linear(1, 1).load_state_dict(torch.nn.Linear(1, 1).state_dict()))


def test_half_to_cpu_and_devices():
    layer = nn.BatchNorm1d(2)
    assert layer.half() is layer and layer.weight.dtype == np.float16
    assert layer.running_mean.dtype == np.float16
    assert layer.to("cpu") is layer and layer.weight.dtype == np.float16
    layer.to("cpu", engine.float64)
    assert layer.weight.dtype == np.float64
    layer.to(engine.zeros(1, dtype=np.float32))  # a tensor's dtype, as PyTorch
    assert layer.weight.dtype == np.float32 and layer.cpu() is layer
    with pytest.raises(RuntimeError, match="CPU only .* device 'cuda:0' is not available"):
        layer.to("cuda:0")
    with pytest.raises(RuntimeError, match="device 'mps'"):
        layer.to(device="mps")
    with pytest.raises(TypeError, match="expected a dtype .* got 'banana'"):
        layer.to("banana")
    with pytest.raises(TypeError, match="a floating point dtype, got int64"):
        layer.to(np.int64)


def test_sequential_setitem_and_delitem():
    from collections import OrderedDict
    model = nn.Sequential(OrderedDict([("fc1", nn.Linear(1, 2)), ("act", nn.ReLU()),
                                       ("fc2", nn.Linear(2, 1))]))
    model[-1] = nn.Linear(2, 3)  # keeps the name and the place
    assert list(model.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert model(engine.zeros(4, 1)).shape == (4, 3)
    with pytest.raises(TypeError, match="Sequential: item 0 must be a Module, got NoneType"):
        model[0] = None  # would silently skip the layer
    with pytest.raises(IndexError, match="index 3 is out of range"):
        model[3] = nn.ReLU()
    del model[0]  # the rest renamed 0, 1, as PyTorch
    assert list(model.state_dict()) == ["1.weight", "1.bias"]
    assert [type(m).__name__ for m in model] == ["ReLU", "Linear"]
    assert not hasattr(model, "fc1") and model[1] is getattr(model, "1")
    five = nn.Sequential(*[nn.Linear(1, 1) for _ in range(5)])
    del five[1:4]
    assert list(five.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_sequential_setitem_delitem_as_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from collections import OrderedDict
    keys = []
    for make in (nn, torch.nn):
        model = make.Sequential(OrderedDict([("fc1", make.Linear(1, 2)), ("act", make.ReLU()),
                                             ("fc2", make.Linear(2, 1))]))
        model[-1] = make.Linear(2, 3)
        keys.append(list(model.state_dict()))
        del model[:1]
        keys.append(list(model.state_dict()))
    assert keys[:2] == keys[2:]


def test_sequential_delitem_renumbers_as_torch():
    """After a deletion PyTorch renames a Sequential's layers '0', '1', ..., whatever their
    names were: an ordered dict's, or a slice's (which keeps the whole model's names)."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from collections import OrderedDict
    seen = []
    for make in (nn, torch.nn):
        named = make.Sequential(OrderedDict([("a", make.ReLU()), ("b", make.Tanh()),
                                             ("c", make.Linear(1, 1))]))
        del named[1]
        five = make.Sequential(*[make.Linear(1, 1) for _ in range(5)])
        tail = five[2:]  # '2', '3', '4'
        keys = [list(named._modules), [hasattr(named, k) for k in "abc"],
                [type(m).__name__ for m in named], list(tail.state_dict())]
        del tail[-1]
        keys.append(list(tail.state_dict()))
        del five[::2]
        keys.append(list(five.state_dict()))
        seen.append(keys)
    assert seen[0] == seen[1]
    assert seen[0][0] == ["0", "1"] and seen[0][3][0] == "2.weight"
    assert seen[0][4] == ["0.weight", "0.bias", "1.weight", "1.bias"]


def _hooked(make, ones, log):
    layer = make.Linear(2, 2)
    handles = [
        layer.register_forward_pre_hook(lambda m, args: args[0] * 2),
        layer.register_forward_pre_hook(lambda m, args: log.append(type(args).__name__),
                                        prepend=True),
        layer.register_forward_hook(lambda m, args, out: out * 0 + args[0].sum()),
        layer.register_forward_hook(lambda m, args, kwargs, out: log.append(
            (sorted(kwargs), out.shape[-1])), with_kwargs=True)]
    return layer, layer(ones(1, 2)), handles


def test_forward_hooks_replace_inputs_and_outputs():
    log = []
    layer, out, handles = _hooked(nn, engine.ones, log)
    np.testing.assert_array_equal(out.data, [[4.0, 4.0]])  # input doubled, output = its sum
    assert log == ["tuple", ([], 2)]  # the prepended pre-hook first
    handles[0].remove()
    handles[0].remove()  # twice: harmless
    handles[2].remove()
    np.testing.assert_allclose(layer(engine.ones(1, 2)).data,
                               layer.weight.data.sum(1)[None] + layer.bias.data, rtol=1e-6)
    with layer.register_forward_pre_hook(lambda m, a, k: ((a[0] * 0,), k), with_kwargs=True):
        np.testing.assert_array_equal(layer(engine.ones(1, 2)).data, layer.bias.data[None])
    np.testing.assert_array_equal(layer(engine.zeros(1, 2)).data, layer.bias.data[None])
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        with layer.register_forward_pre_hook(lambda m, a, k: 3, with_kwargs=True):
            layer(engine.ones(1, 2))
    seen = []
    layer.register_forward_hook(lambda m, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError):
        layer(engine.ones(1, 3))  # forward fails: the always_call hook still ran
    assert seen == [None]
    with pytest.raises(NotImplementedError, match="register_backward_hook .* use "
                                                  "register_full_backward_hook"):
        layer.register_backward_hook(lambda m, gi, go: None)


def test_forward_hooks_as_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    our_log, their_log = [], []
    ours, out, _ = _hooked(nn, engine.ones, our_log)
    theirs, tout, _ = _hooked(torch.nn, torch.ones, their_log)
    assert our_log == their_log
    np.testing.assert_array_equal(out.data, tout.detach().numpy())


def test_hooked_call_runs_forward_as_the_plain_call():
    """Hooks or not, forward runs one frame below __call__: a warning of the layer's pointing
    at the caller (Softmax without dim) points at the caller's line in both; an error in a
    pre-hook still runs the always_call hooks (on the inputs the earlier pre-hooks made,
    output None) and, once every hook is removed, the module is a plain one again."""
    import warnings
    layer, x = nn.Softmax(), engine.ones(2, 3, 4)
    log = []
    handles = [layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,)),
               layer.register_forward_pre_hook(lambda m, args: 1 / 0),
               layer.register_forward_hook(lambda m, args, out: log.append(
                   (float(args[0].data.max()), out)), always_call=True)]
    with pytest.raises(ZeroDivisionError):
        layer(x)
    assert log == [(2.0, None)]
    handles[1].remove()
    for hooked in (True, False):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            layer(x)
        assert len(rec) == 1 and rec[0].filename == __file__, hooked
        assert layer._hooked is hooked
        for h in handles:
            h.remove()
    assert len(log) == 2 and log[1][0] == 2.0  # the hooks ran on the hooked call only


def test_parameter_list_and_dict_register_their_parameters():
    """PyTorch's ParameterList/ParameterDict: the parameters are the holder's (named
    'ps.0', 'pd.a'), plain tensors become Parameters, the optimizer sees them."""
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = nn.ParameterList([engine.zeros(2), nn.Parameter(engine.ones(3))])
            self.pd = nn.ParameterDict({"a": engine.zeros(1)})

        def forward(self):
            return self.ps[0].sum() + (self.ps[1] * 2).sum() + self.pd["a"].sum()

    h = Holder()
    assert list(h.state_dict()) == ["ps.0", "ps.1", "pd.a"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in h.parameters())
    h.ps.append(engine.ones(1))
    h.pd["b"] = np.zeros(2, np.float32)
    assert [n for n, _ in h.named_parameters()] == ["ps.0", "ps.1", "ps.2", "pd.a", "pd.b"]
    h.ps[-1] = engine.full((1,), 5.0)
    assert h.ps[2].data.tolist() == [5.0] and len(h.ps) == 3 and len(h.ps[1:]) == 2
    h().backward()
    np.testing.assert_array_equal(h.ps[1].grad.data, [2, 2, 2])
    assert h.pd.pop("b").shape == (2,) and list(h.pd) == ["a"]
    with pytest.raises(TypeError, match="ParameterList: expected a Parameter or a Tensor, got "
                                        "str"):
        h.ps.append("w")
    with pytest.raises(IndexError, match="index 3 out of range for 3"):
        h.ps[3] = engine.zeros(1)
    with pytest.raises(KeyError, match="keys are names without dots"):
        h.pd["a.b"] = engine.zeros(1)
    with pytest.raises(NotImplementedError, match="ParameterList has no forward"):
        h.ps()


def test_parameter_containers_load_torch_state_dicts():
    torch = pytest.importorskip("torch", reason="torch is not installed")

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = torch.nn.ParameterList([torch.randn(2), torch.randn(3)])
            self.pd = torch.nn.ParameterDict({"a": torch.randn(1)})

    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.ps = nn.ParameterList([engine.zeros(2), engine.zeros(3)])
            self.pd = nn.ParameterDict({"a": engine.zeros(1)})

    theirs, ours = Theirs(), Ours()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(ours.ps[1].data, theirs.ps[1].detach().numpy())


def test_dropout1d_zeroes_whole_channels():
    engine.manual_seed(0)
    layer = nn.Dropout1d(0.5)
    out = layer(engine.ones(4, 6, 5)).data
    kept = out[:, :, 0] != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(out, np.where(kept[:, :, None], 2.0, 0.0) * np.ones(5))
    layer.eval()
    np.testing.assert_array_equal(layer(engine.ones(6, 5)).data, np.ones((6, 5)))


def test_full_backward_hooks_by_hand():
    """y = W·x + b (Linear(2, 1)), loss = Σ 3·y: grad_output = 3 everywhere, grad_input =
    3·W per row; the pre-hook may replace grad_output (here ×2: every gradient doubles), the
    hook grad_input (here + 1 on x's gradient only); no input requiring grad: (None,)."""
    layer = nn.Linear(2, 1, dtype=np.float64)
    layer.load_state_dict({"weight": np.array([[0.5, -1.0]]), "bias": np.array([0.25])})
    x = engine.tensor(np.ones((3, 2)), dtype=np.float64, requires_grad=True)
    seen = []
    pre = layer.register_full_backward_pre_hook(
        lambda m, gout: seen.append(("pre", gout[0].data.tolist())) or (gout[0] * 2,))
    def plus_one(m, gin, gout):
        seen.append(("full", None if gin[0] is None else gin[0].data.tolist(),
                     gout[0].data.tolist()))
        return None if gin[0] is None else (gin[0] + 1,)

    full = layer.register_full_backward_hook(plus_one)
    (layer(x) * 3).sum().backward()
    assert seen == [("pre", [[3.0], [3.0], [3.0]]),
                    ("full", [[3.0, -6.0]] * 3, [[6.0], [6.0], [6.0]])]
    np.testing.assert_array_equal(x.grad.data, [[4.0, -5.0]] * 3)  # 2·3·W + 1
    np.testing.assert_array_equal(layer.weight.grad.data, [[18.0, 18.0]])  # Σ 6·x
    seen.clear()
    layer(engine.tensor(np.ones((1, 2)), dtype=np.float64)).sum().backward()
    assert seen[0] == ("pre", [[1.0]]) and seen[1][1] is None
    pre.remove(), full.remove()
    seen.clear()
    layer(x).sum().backward()
    assert seen == [] and layer._hooked is False  # removed: back to the plain call


def test_full_backward_hooks_with_several_inputs_and_outputs():
    class Product(nn.Module):
        def forward(self, a, b, c, scale=2.0):
            return a * b * scale

    m, calls = Product(), []
    m.register_full_backward_hook(lambda mod, gin, gout: calls.append(gin))
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 5.0], requires_grad=True)
    y = m(a, b, engine.ones(3), 4.0).sum()
    y.backward(retain_graph=True)
    ga, gb, gc, gs = calls[0]  # PyTorch's: zeros for a tensor without gradient, None else
    assert ga.data.tolist() == [12.0, 20.0] and gb.data.tolist() == [4.0, 8.0]
    assert gc.data.tolist() == [0.0, 0.0, 0.0] and gs is None
    y.backward()
    assert len(calls) == 2  # once per backward pass
    m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 0, gin[1], gin[2]))
    with pytest.raises(RuntimeError, match="replaced grad_input, but the module has 2 inputs"):
        m(a, b, engine.ones(3)).sum().backward()
    lstm = nn.LSTM(2, 3, batch_first=True)
    lstm.register_full_backward_pre_hook(lambda mod, gout: None)
    with pytest.raises(NotImplementedError, match="LSTM: backward hooks on a module that "
                                                  "returns several tensors"):
        lstm(engine.zeros(1, 4, 2, requires_grad=True))


def test_full_backward_hooks_as_torch():
    """A gradient-flow printout per layer, the tutorial way, equal to torch's."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    theirs = theirs.double()
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    norms = {"ours": [], "torch": []}
    for who, model in (("ours", ours), ("torch", theirs)):
        for i, layer in enumerate(model):
            layer.register_full_backward_hook(
                lambda m, gin, gout, i=i, who=who: norms[who].append(
                    (i, None if gin[0] is None else float((gin[0] ** 2).sum()),
                     float((gout[0] ** 2).sum()))))
    x = np.random.default_rng(0).standard_normal((6, 4))
    ours(engine.tensor(x, dtype=np.float64)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    assert [n[0] for n in norms["ours"]] == [2, 1, 0] and norms["ours"][-1][1] is None
    for a, b in zip(norms["ours"], norms["torch"], strict=True):
        np.testing.assert_allclose([v for v in a[1:] if v is not None],
                                   [v for v in b[1:] if v is not None], rtol=1e-12)
