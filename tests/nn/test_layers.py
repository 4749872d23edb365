"""Modules and layers: registration, state dicts, modes, freezing, parameter counts, and a
float64 gradcheck of every layer (BatchNorm in both modes, the recurrent layers included)."""
import re
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn


def f64(model):
    """The same model in float64 (gradcheck needs it)."""
    for _, p in model.named_parameters():
        p.data = p.data.astype(np.float64)
    for _, b in model.named_buffers():
        b.data = b.data.astype(np.float64)
    return model


def x64(*shape, seed=0, requires_grad=True):
    rng = np.random.default_rng(seed)
    return engine.tensor(rng.standard_normal(shape), requires_grad=requires_grad,
                         dtype=np.float64)


def check_layer(model, *inputs):
    """gradcheck w.r.t. the inputs and every parameter."""
    params = [p for _, p in model.named_parameters()]
    n_in = len(inputs)
    # The Parameters themselves are the other checked inputs: gradcheck perturbs their data.
    return engine.gradcheck(lambda *ts: _first(model(*ts[:n_in])), *inputs, *params)


def _first(out):
    return out[0] if isinstance(out, tuple) else out


# -- Module machinery ---------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.head = nn.Linear(4, 2)
        self.register_buffer("counter", np.zeros(1))

    def forward(self, x):
        return self.head(self.features(x))


def test_registration_dotted_names_and_order():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    assert list(net.state_dict()) == ["counter", "features.0.weight", "features.0.bias",
                                      "head.weight", "head.bias"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Sequential", "Linear", "ReLU",
                                                          "Linear"]
    assert "(head): Linear(in_features=4, out_features=2, bias=True)" in repr(net)


def test_state_dict_round_trip_and_shape_error():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    bad = a.state_dict()
    bad["head.weight"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"head\.weight.*\(3, 4\).*\(2, 4\)"):
        b.load_state_dict(bad)
    with pytest.raises(KeyError, match="missing keys"):
        b.load_state_dict({})


def test_train_eval_propagate_and_freeze_stops_gradients():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    net.features.freeze()
    out = net(engine.randn(5, 3)).sum()
    out.backward()
    assert net.features[0].weight.grad is None and net.head.weight.grad is not None


def test_linear_layout_and_glorot_bounds():
    engine.manual_seed(0)
    lin = nn.Linear(13, 16)
    assert lin.weight.shape == (16, 13) and lin.bias.shape == (16,)
    limit = np.sqrt(6 / (13 + 16))
    assert np.abs(lin.weight.data).max() <= limit and not lin.bias.data.any()
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) has 5 features"):
        lin(engine.zeros(2, 5))


@pytest.mark.parametrize("sizes,count", [((13, 16, 8, 1), 369), ((20, 10, 5, 1), 271)])
def test_course_parameter_counts(sizes, count):
    layers = []
    for a, b in pairwise(sizes):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers)
    assert sum(p.numel() for p in model.parameters()) == count


# -- gradchecks of layers -------------------------------------------------------------------
@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Linear(3, 2), (4, 3)),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid()), (5, 3)),
    (lambda: nn.Sequential(nn.Linear(3, 3), nn.Softmax()), (2, 3)),
    (lambda: nn.LeakyReLU(0.2), (3, 4)),
    (lambda: nn.Flatten(), (2, 3, 2)),
    (lambda: nn.Identity(), (2, 2)),
])
def test_simple_layers_gradcheck(make, shape):
    engine.manual_seed(1)
    model = f64(make())
    x = x64(*shape)
    if isinstance(model, nn.LeakyReLU):
        x.data[np.abs(x.data) < 0.1] = 0.5  # keep away from the kink
    assert check_layer(model, x)


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm1d, (6, 3)), (nn.BatchNorm1d, (5, 3, 4)),
                                       (nn.BatchNorm2d, (4, 3, 2, 2))])
def test_batchnorm_train_mode_gradcheck_and_statistics(cls, shape):
    bn = f64(cls(3))
    bn.weight.data[:] = [0.5, 1.5, -1.0]
    x = x64(*shape)
    assert check_layer(bn, x)
    y = bn(x).data
    axes = (0,) + tuple(range(2, len(shape)))
    # Normalised per channel: mean 0, biased var 1 before γ, β.
    np.testing.assert_allclose((y / bn.weight.data.reshape((1, 3) + (1,) * (len(shape) - 2)))
                               .mean(axis=axes), 0, atol=1e-9)


def test_batchnorm_eval_uses_running_stats_and_updates_them_in_training():
    bn = f64(nn.BatchNorm1d(2, momentum=0.5))
    x = x64(8, 2, requires_grad=False)
    bn(x)
    np.testing.assert_allclose(bn.running_mean.data, 0.5 * x.data.mean(axis=0))
    np.testing.assert_allclose(bn.running_var.data, 0.5 + 0.5 * x.data.var(axis=0, ddof=1))
    bn.eval()
    before = bn.running_mean.data.copy()
    y = bn(x).data
    np.testing.assert_array_equal(bn.running_mean.data, before)
    expected = (x.data - bn.running_mean.data) / np.sqrt(bn.running_var.data + bn.eps)
    np.testing.assert_allclose(y, expected)
    assert check_layer(bn, x64(3, 2))


def test_dropout_inverted_scaling_only_in_training():
    engine.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = engine.ones(1000, 10)
    y = drop(x).data
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert 0.7 < kept.mean() < 0.8
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x.data)


@pytest.mark.parametrize("make", [
    lambda: nn.RNNCell(3, 4), lambda: nn.RNNCell(3, 4, nonlinearity="relu"),
    lambda: nn.LSTMCell(3, 4), lambda: nn.GRUCell(3, 4),
])
def test_cells_gradcheck(make):
    engine.manual_seed(2)
    cell = f64(make())
    x = x64(2, 3)
    assert check_layer(cell, x)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_take_unbatched_input_and_check_state_shapes(name):
    # PyTorch's unbatched cell: x (in,), state (H,) -> (H,). The zero state was built as
    # (x.shape[0], H) = (3, 4) and broadcast: a (3, 4) answer to a (4,) question.
    engine.manual_seed(4)
    cell = f64(getattr(nn, name)(3, 4))
    x = x64(3, seed=1)
    lstm = name == "LSTMCell"
    for state in (None, "given"):
        if state:
            h = x64(4, seed=2)
            state = (h, h * 0.5) if lstm else h
        out = cell(x, state)
        batched = cell(x.reshape(1, 3), None if state is None else
                       tuple(s.reshape(1, 4) for s in state) if lstm else state.reshape(1, 4))
        for a, b in zip(out if lstm else [out], batched if lstm else [batched], strict=True):
            assert a.shape == (4,)
            np.testing.assert_array_equal(a.data, b.data[0])
    # A state whose batch differs from the input's is refused (it broadcast silently).
    bad = engine.zeros(1, 4, dtype=np.float64)
    with pytest.raises(ValueError, match=rf"{name}: state 0 .* must be \(2, 4\) for input "
                                         rf"\(2, 3\), got \(1, 4\)"):
        cell(x64(2, 3), (bad, bad) if lstm else bad)
    with pytest.raises(ValueError, match=rf"{name}: input must be \(N, 3\)"):
        cell(x64(2, 2, 3))


def test_cells_unbatched_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("RNNCell", "LSTMCell", "GRUCell"):
        t = getattr(torch.nn, name)(3, 4).double()
        ours = f64(getattr(nn, name)(3, 4))
        ours.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
        x = np.random.default_rng(0).standard_normal(3)
        got = ours(engine.tensor(x, dtype=np.float64))
        want = t(torch.tensor(x))
        for a, b in zip(got if name == "LSTMCell" else [got],
                        want if name == "LSTMCell" else [want], strict=True):
            np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"])
def test_recurrent_forward_takes_torchs_hx_keyword(name):
    # PyTorch's forward(input, hx=None): ``lstm(x, hx=(h0, c0))`` was a TypeError
    torch = pytest.importorskip("torch")
    layer = name in ("RNN", "LSTM", "GRU")
    kw = {"num_layers": 2, "batch_first": True} if layer else {}
    t = getattr(torch.nn, name)(3, 4, **kw).double()
    ours = f64(getattr(nn, name)(3, 4, **kw))
    ours.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3) if layer else (2, 3))
    h = rng.standard_normal((2, 2, 4) if layer else (2, 4))
    hx = (h, h * 0.5) if "LSTM" in name else h
    t64 = lambda a: engine.tensor(a, dtype=np.float64)  # noqa: E731
    got = ours(t64(x), hx=tuple(map(t64, hx)) if "LSTM" in name else t64(hx))
    want = t(torch.tensor(x), hx=tuple(map(torch.tensor, hx)) if "LSTM" in name else
             torch.tensor(hx))
    flat = lambda o: [z for y in o for z in flat(y)] if isinstance(o, tuple) else [o]  # noqa: E731
    for a, b in zip(flat(got), flat(want), strict=True):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.filterwarnings("ignore:.*batch_first")
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"])
def test_recurrent_sizes_are_checked_by_name(name):
    # a float or 0 failed deep in the weights' draw ("'float' object cannot be interpreted
    # as an integer", ZeroDivisionError); PyTorch: TypeError / ValueError by name
    with pytest.raises(TypeError, match=rf"{name}: hidden_size must be an int >= 1, got 6.0"):
        getattr(nn, name)(4, 6.0)
    with pytest.raises(ValueError, match=rf"{name}: hidden_size must be an int >= 1, got 0"):
        getattr(nn, name)(4, 0)
    with pytest.raises(TypeError, match=rf"{name}: input_size must be an int >= 1, got 4.0"):
        getattr(nn, name)(4.0, 6)
    assert getattr(nn, name)(np.int64(4), 6).input_size == 4


@pytest.mark.parametrize("make", [
    lambda: nn.RNN(2, 3, batch_first=True),
    lambda: nn.RNN(2, 3, nonlinearity="linear", batch_first=True),
    lambda: nn.LSTM(2, 3, batch_first=True),
    lambda: nn.GRU(2, 3, batch_first=True), lambda: nn.LSTM(2, 3, batch_first=False),
    lambda: nn.LSTM(2, 3, fused=False, batch_first=True),
])
def test_recurrent_layers_gradcheck(make):
    engine.manual_seed(3)
    layer = f64(make())
    x = x64(2, 4, 2)
    assert check_layer(layer, x)


@pytest.mark.parametrize("cls, x_shape", [(nn.LSTM, (3, 5, 2)), (nn.LSTMCell, (3, 2))])
def test_fused_lstm_equals_gate_by_gate(cls, x_shape):
    # The whole-sequence op (engine.lstm), the two-op step (engine.lstm_c / lstm_h) and the
    # one-op-per-gate graph: same numbers.
    results = []
    for fused in ((True, "step", False) if cls is nn.LSTM else (True, False)):
        engine.manual_seed(5)
        kw = {"batch_first": True} if cls is nn.LSTM else {}
        layer = f64(cls(2, 4, fused=fused, **kw))
        x = x64(*x_shape, seed=6)
        out = layer(x)
        h, c = out[1] if cls is nn.LSTM else out
        loss = (h * h).sum() if cls is nn.LSTMCell else out[0].sum() + (c * h).sum()
        loss.backward()
        results.append([h.data, c.data, x.grad] + [p.grad for p in layer.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_lstm_runs_the_sequence_as_one_op_and_stepwise_for_pictures():
    lstm = nn.LSTM(2, 3, batch_first=True)
    x = engine.zeros(4, 6, 2)
    out, (h, c) = lstm(x)
    # h_n (1, N, H) is the one op's last step, sliced and given PyTorch's layer axis
    assert h.grad_fn.inputs[0].grad_fn.inputs[0].grad_fn.name == "lstm"
    assert out.shape == (4, 6, 3) and h.shape == c.shape == (1, 4, 3)
    with nn.layers.recurrent.stepwise(lstm):
        _, (h2, c2) = lstm(x)
    assert lstm.fused is True and h2.grad_fn.inputs[0].grad_fn.name == "lstm_h"
    assert c2.grad_fn.inputs[0].grad_fn.name == "lstm_c"
    engine.manual_seed(1)  # float32, random: the one op computes the step ops' numbers
    lstm = nn.LSTM(3, 16, batch_first=True)
    x = engine.tensor(np.random.default_rng(0).standard_normal((8, 20, 3)))
    out, (h, c) = lstm(x)
    with nn.layers.recurrent.stepwise(lstm):
        out2, (h2, c2) = lstm(x)
    # to the last bit or two: the one op's GEMMs may run on half the batch each, which
    # some BLAS kernels round differently (engine/fast/lstm.py)
    np.testing.assert_allclose(out.data, out2.data, rtol=0, atol=8 * np.finfo(np.float32).eps)
    np.testing.assert_allclose(c.data, c2.data, rtol=0,
                               atol=8 * np.finfo(np.float32).eps * np.abs(c2.data).max())
    half = nn.LSTM(2, 3, batch_first=True).to(np.float16)  # step by step: kernels take f32/64
    _, (h3, _) = half(engine.zeros(4, 6, 2, dtype=np.float16))
    assert h3.grad_fn.inputs[0].grad_fn.name == "lstm_h" and h3.dtype == np.float16
    with pytest.raises(ValueError, match="LSTM: fused must be True .*'step' .*False.*got 'seq'"):
        nn.LSTM(2, 3, fused="seq", batch_first=True)
    # Second derivatives: the fused ops say what to do instead, and that works.
    x = engine.tensor(np.random.default_rng(1).standard_normal((2, 4, 2)), dtype=np.float64,
                      requires_grad=True)
    for fused in (True, "step"):
        _, (h, _) = f64(nn.LSTM(2, 3, fused=fused, batch_first=True))(x)
        with pytest.raises(RuntimeError, match=r"not twice differentiable.*fused=False"):
            engine.grad(h.sum(), [x], create_graph=True)
    _, (h, _) = f64(nn.LSTM(2, 3, fused=False, batch_first=True))(x)
    (gx,) = engine.grad(h.sum(), [x], create_graph=True)
    assert gx.requires_grad


@pytest.mark.parametrize("fused", [True, "step", False])
@pytest.mark.parametrize("kw", [{}, {"bias": False}, {"batch_first": False}],
                         ids=["default", "no-bias", "time-first"])
def test_lstm_matches_torch_values_and_gradients(fused, kw):
    """float64 against torch.nn.LSTM: outputs, final state and the gradients of the input,
    the initial state and every parameter, for a loss reading all of them."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    engine.manual_seed(7)
    ours = f64(nn.LSTM(3, 4, fused=fused, **{"batch_first": True, **kw}))
    theirs = torch.nn.LSTM(3, 4, batch_first=kw.get("batch_first", True),
                           bias=kw.get("bias", True)).double()
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(getattr(ours, name).data))
    rng = np.random.default_rng(8)
    batch = 5 if kw.get("batch_first", True) else 6  # x is (5, 6, 3) either way
    x, h0, c0 = (rng.standard_normal(s) for s in ((5, 6, 3), (1, batch, 4), (1, batch, 4)))
    w = rng.standard_normal((5, 6, 4))
    mine = [engine.tensor(a, dtype=np.float64, requires_grad=True) for a in (x, h0, c0)]
    out, (h, c) = ours(mine[0], (mine[1], mine[2]))
    ((out * engine.tensor(w, dtype=np.float64)).sum() + (h * c).sum()).backward()
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    tout, (th_T, tc_T) = theirs(tx, (th, tc))
    ((tout * torch.from_numpy(w)).sum() + (th_T * tc_T).sum()).backward()
    pairs = [(out.data, tout), (h.data, th_T), (c.data, tc_T)] + \
        [(t.grad.data, u.grad) for t, u in zip(mine, (tx, th, tc), strict=True)] + \
        [(getattr(ours, n).grad.data, p.grad) for n, p in theirs.named_parameters()]
    for a, b in pairs:
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_layers_say_which_layout_they_read(cls):
    """PyTorch reads (time, batch, features) by default, stepgrad (the API contract, Keras)
    (batch, time, features): the same shapes, so a silent guess would give wrong numbers.
    Without batch_first the layer warns, pointing at the caller's line; with it, nothing.
    States are PyTorch's (num_layers, batch, hidden) = (1, N, H), in and out; (N, H) is
    taken too, anything else refused saying what the layer wants."""
    import warnings
    with pytest.warns(UserWarning, match=r"\(batch, time, features\).*PyTorch's default is "
                                         r"\(time, batch, features\).*batch_first=True") as rec:
        layer = cls(2, 3)
    assert rec[0].filename == __file__
    assert layer.batch_first is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls(2, 3, batch_first=True), cls(2, 3, batch_first=False)
    x = engine.zeros(4, 5, 2)
    for bad in ((2, 4, 3), (4, 1, 3), (3,)):
        h0 = engine.zeros(*bad)
        with pytest.raises(ValueError, match=r"h_0 must be \(num_layers, batch, hidden\) = "
                                             r"\(1, 4, 3\) \(PyTorch's layout\) or \(batch, "
                                             r"hidden\) = \(4, 3\) \(this layer has "
                                             r"num_layers=1 and one direction\), got "
                                             + re.escape(str(bad))):
            layer(x, (h0, h0) if cls is nn.LSTM else h0)
    # PyTorch's (1, N, H) state, a cell's (N, H) one and Keras's list form all give the same
    h0 = engine.tensor(np.random.default_rng(0).standard_normal((1, 4, 3)))
    runs = [layer(x, (s, s) if cls is nn.LSTM else s)
            for s in (h0, h0[0])] + [layer(x, [h0[0]] * (2 if cls is nn.LSTM else 1))]
    for out, state in runs:
        np.testing.assert_array_equal(out.data, runs[0][0].data)
        for s in (state if cls is nn.LSTM else (state,)):
            assert s.shape == (1, 4, 3)  # returned as PyTorch returns it
    out, state = layer(x, runs[0][1])  # the returned state goes back in
    assert out.shape == (4, 5, 3)
    if cls is nn.LSTM:
        with pytest.raises(TypeError, match=r"LSTM: the state is the pair \(h_0, c_0\), got "
                                            r"Tensor"):
            layer(x, engine.zeros(4, 3))


@pytest.mark.filterwarnings("ignore:.*batch_first")
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_layers_refuse_the_one_layout_they_would_surely_misread(cls):
    """PyTorch's tutorials feed a sequence of N steps as (N, 1, F) (``embeds.view(len(s), 1,
    -1)``): with batch_first left out, stepgrad's default reads N one-step sequences (no
    recurrence at all; same shapes, other numbers), so that input is refused, saying what to
    pass. Given batch_first (either way), a stateful layer (stepgrad's own option), (1, 1, F)
    and any other shape run."""
    x = engine.tensor(np.random.default_rng(1).standard_normal((5, 1, 2)))
    with pytest.raises(ValueError, match=r"shape \(5, 1, 2\) is 5 sequences of 1 step in "
                                         r"stepgrad's default.*1 sequence of 5 steps in "
                                         r"PyTorch's default.*batch_first=False"):
        cls(2, 3)(x)
    seq = cls(2, 3, batch_first=False)
    out = seq(x)[0]
    # The recurrence by hand: step t of the (T, N, F) = (5, 1, 2) input is one batch-first
    # call on its own, carrying the state along.
    state, steps = None, []
    one = cls(2, 3, batch_first=True)
    one.load_state_dict(seq.state_dict())
    for t in range(5):
        y, state = one(x[t:t + 1].permute(1, 0, 2), state)
        steps.append(y.data[0, 0])
    np.testing.assert_allclose(out.data[:, 0], np.stack(steps), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(cls(2, 3, batch_first=True)(x)[0].shape, (5, 1, 3))
    assert cls(2, 3, stateful=True)(x)[0].shape == (5, 1, 3)
    assert cls(2, 3)(x[:1])[0].shape == (1, 1, 3) and cls(2, 3)(engine.zeros(4, 5, 2))[0].shape \
        == (4, 5, 3)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_layers_take_pytorchs_constructor_arguments(cls):
    """PyTorch's positional order (the third argument is num_layers: PyTorch's docs open
    with nn.LSTM(10, 20, 2)), checked as PyTorch checks it; what stepgrad cannot build is
    refused saying what to write."""
    kw = {"batch_first": True}
    assert cls(10, 20, 1, **kw).num_layers == 1
    layer = cls(10, 20, 2, **kw)
    assert (layer.num_layers, layer.bidirectional) == (2, False)
    assert layer.weight_ih_l1.shape == (layer._gates * 20, 20)
    for bad, err, match in ((0, ValueError, "num_layers must be at least 1, got 0"),
                            (2.0, TypeError, "num_layers must be an int, got 2.0"),
                            (True, TypeError, "num_layers must be an int, got True")):
        with pytest.raises(err, match=f"{cls.__name__}: {match}"):
            cls(10, 20, bad, **kw)
    for bad in (-0.1, 1.0, 1.5, "0.5"):
        with pytest.raises(ValueError, match=r"dropout is the probability .* in \[0, 1\); got "):
            cls(10, 20, 2, dropout=bad, **kw)
    with pytest.raises(TypeError, match="bidirectional must be True or False, got 'yes'"):
        cls(10, 20, bidirectional="yes", **kw)
    with pytest.warns(UserWarning, match=r"dropout=0.5 does nothing with one layer") as rec:
        cls(10, 20, dropout=0.5, **kw)
    assert rec[0].filename == __file__
    layer = cls(10, 20, dtype=np.float64, device="cpu", **kw)
    assert {p.dtype for p in layer.parameters()} == {np.dtype(np.float64)}
    with pytest.raises(ValueError, match="CPU only, got device='cuda'"):
        cls(10, 20, device="cuda", **kw)
    if cls is nn.RNN:  # PyTorch's order: num_layers, then nonlinearity, then bias
        assert cls(10, 20, 1, "relu", False, **kw).bias_ih_l0 is None
    else:
        assert cls(10, 20, 1, False, **kw).bias_ih_l0 is None
    if cls is nn.LSTM:
        with pytest.raises(NotImplementedError, match="proj_size=4"):
            cls(10, 20, proj_size=4, **kw)
    with pytest.raises(TypeError):  # stepgrad's own options are keyword-only
        cls(10, 20, 1, True, True, 0.0, False, 0, True)


def test_softmax_without_dim_says_which_dim_where_it_is_not_the_last():
    """No dim: PyTorch's deprecated implicit choice (dim 0 for 3-D input, dim 1 for 4-D), as
    PyTorch computes it; from 3-D on (where it is not the last dim, Keras's choice) stepgrad
    warns, pointing at the caller, and says what to pass. With a dim, or on 2-D input,
    nothing is said."""
    import warnings
    x3 = engine.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)))
    for call, name in ((lambda: nn.F.softmax(x3), "softmax"),
                       (lambda: nn.F.log_softmax(x3), "log_softmax"),
                       (lambda: nn.Softmax()(x3), "Softmax"),
                       (lambda: nn.LogSoftmax()(x3), "LogSoftmax")):
        with pytest.warns(UserWarning, match=rf"{name}: no dim given: using dim 0, PyTorch's "
                                             r"implicit .* for 3-D input.*Pass dim=") as rec:
            out = call()
        assert rec[0].filename == __file__
        ref = x3.data - np.log(np.exp(x3.data).sum(0, keepdims=True))
        np.testing.assert_allclose(out.data, np.exp(ref) if "log" not in name.lower() else ref,
                                   rtol=1e-6, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.F.softmax(x3, dim=1), nn.Softmax(dim=0)(x3), nn.Softmax(axis=-1)(x3)
        nn.F.softmax(engine.tensor(np.ones((2, 3)))), nn.Softmax()(engine.tensor(np.ones(3)))


def test_rnn_matches_its_equation_by_hand():
    engine.manual_seed(4)
    rnn = f64(nn.RNN(1, 2, batch_first=True))
    x = np.array([[[0.5], [-1.0], [2.0]]])
    out, h = rnn(engine.tensor(x, dtype=np.float64))
    W, U = rnn.weight_ih_l0.data, rnn.weight_hh_l0.data
    b = rnn.bias_ih_l0.data + rnn.bias_hh_l0.data
    s = np.zeros(2)
    for t in range(3):
        s = np.tanh(W @ x[0, t] + U @ s + b)
        np.testing.assert_allclose(out.data[0, t], s)
    assert h.shape == (1, 1, 2)  # PyTorch's (num_layers, batch, hidden)
    np.testing.assert_allclose(h.data[0, 0], s)
    np.testing.assert_allclose(h[-1].data[0], s)  # the PyTorch idiom: h_n[-1] is (N, H)


def test_stateful_rnn_keeps_state_until_reset():
    engine.manual_seed(5)
    rnn = nn.RNN(1, 3, stateful=True, batch_first=True)
    x = engine.randn(2, 4, 1)
    _, h1 = rnn(x)
    _, h2 = rnn(x)
    assert not np.allclose(h1.data, h2.data)  # started from h1, not from zeros
    rnn.reset_state()
    _, h3 = rnn(x)
    np.testing.assert_allclose(h3.data, h1.data, rtol=1e-6)
    with pytest.raises(ValueError, match="stateful layer kept a state for batch 2, got batch 3"):
        rnn(engine.randn(3, 4, 1))


def test_recurrent_input_errors():
    with pytest.raises(ValueError, match=r"LSTM: expected \(batch, time, features\) input "
                                         r"\(or PyTorch's unbatched \(time, features\)\), "
                                         r"got shape \(4, 3, 2, 2\)"):
        nn.LSTM(2, 3, batch_first=True)(engine.zeros(4, 3, 2, 2))
    with pytest.raises(ValueError, match="LSTM: input of shape .* has 5 features"):
        nn.LSTM(2, 3, batch_first=True)(engine.zeros(4, 3, 5))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(1, 1, nonlinearity="cube", batch_first=True)


@pytest.mark.skipif(not __import__("importlib").util.find_spec("torch"), reason="torch absent")
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_match_torch_with_copied_weights(name):
    import torch
    engine.manual_seed(6)
    ours = getattr(nn, name)(3, 4, batch_first=True)
    theirs = getattr(torch.nn, name)(3, 4, batch_first=True)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    out, _ = ours(engine.tensor(x))
    ref, _ = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_batchnorm_warns_about_a_keras_style_momentum():
    with pytest.warns(UserWarning, match=r"Keras's momentum=0.99 is momentum=0.01 here"):
        nn.BatchNorm1d(3, momentum=0.99)
    with pytest.raises(ValueError, match="BatchNorm2d: momentum must be in"):
        nn.BatchNorm2d(3, momentum=1.5)


# ------------------------------------------------------------ PyTorch's activations, losses
ACTIVATIONS = [
    (nn.GELU(), lambda x: x.gelu()), (nn.GELU("tanh"), lambda x: x.gelu("tanh")),
    (nn.Softplus(2.0, 5.0), lambda x: x.softplus(2.0, 5.0)), (nn.ELU(0.5), lambda x: x.elu(0.5)),
    (nn.SELU(), lambda x: x.selu()), (nn.CELU(2.0), lambda x: x.celu(2.0)),
    (nn.SiLU(), lambda x: x.silu()), (nn.Mish(), lambda x: x.mish()),
    (nn.ReLU6(), lambda x: x.relu6()), (nn.Hardtanh(-2, 2), lambda x: x.hardtanh(-2, 2)),
    (nn.Hardsigmoid(), lambda x: x.hardsigmoid()), (nn.Hardswish(), lambda x: x.hardswish()),
    (nn.LogSigmoid(), lambda x: x.logsigmoid()), (nn.Softsign(), lambda x: x.softsign()),
    (nn.Softmin(dim=0), lambda x: x.softmin(0)), (nn.LogSoftmax(dim=1), lambda x: x.log_softmax(1)),
    (nn.ReLU(), lambda x: x.relu()),
]


@pytest.mark.parametrize("module,method", ACTIVATIONS, ids=[repr(m) for m, _ in ACTIVATIONS])
def test_activation_modules_apply_their_function(module, method):
    x = x64(3, 4, seed=1)
    np.testing.assert_array_equal(module(x).data, method(x).data)


IN_PLACE_MODULES = [
    (nn.ReLU, (), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU, (0.2,), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU, (0.7,), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    (nn.Hardtanh, (-0.5, 0.8), lambda x: np.clip(x, -0.5, 0.8)),
    (nn.ReLU6, (), lambda x: np.clip(x, 0, 6)),
    (nn.SiLU, (), lambda x: x / (1 + np.exp(-x))),
    (nn.Threshold, (0.1, -2.0), lambda x: np.where(x > 0.1, x, -2.0)),
]


@pytest.mark.parametrize("module,args,formula", IN_PLACE_MODULES,
                         ids=[m.__name__ for m, _, _ in IN_PLACE_MODULES])
def test_activation_modules_with_inplace_write_into_their_input(module, args, formula):
    """``inplace=True`` (PyTorch's meaning): the input holds the result and is returned; the
    gradient still reaches what the input was made from; without it the input is untouched."""
    a = np.random.default_rng(2).uniform(0.3, 2.5, (3, 4)) * np.array([1, -1, 1, -1])
    x = engine.tensor(a, dtype=engine.float64, requires_grad=True)
    h = x * 1.0
    out = module(*args, inplace=True)(h)
    assert out is h
    np.testing.assert_allclose(h.data, formula(a), rtol=1e-12)
    out.sum().backward()
    y = engine.tensor(a, dtype=engine.float64, requires_grad=True)
    module(*args)(y * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, y.grad.data, rtol=1e-12)
    h = engine.tensor(a, dtype=engine.float64)
    assert module(*args)(h) is not h
    np.testing.assert_array_equal(h.data, a)


def test_prelu_learns_its_slope():
    layer = f64(nn.PReLU(3, init=0.1))
    assert layer.weight.shape == (3,) and np.allclose(layer.weight.data, 0.1)
    x = x64(2, 3, 4, seed=2)
    check_layer(layer, x)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_loss_modules_call_their_functions():
    from nn import functional as F
    x, y = x64(4, 3, seed=3), np.array([0, 2, 1, 2])
    p = engine.tensor(np.random.default_rng(0).random((4, 3)), dtype=np.float64)
    w = engine.tensor([1.0, 2.0, 0.5], dtype=np.float64)
    pairs = [
        (nn.CrossEntropyLoss(w, label_smoothing=0.1)(x, y),
         F.cross_entropy(x, y, w, label_smoothing=0.1)),
        (nn.NLLLoss(reduction="sum")(x.log_softmax(1), y),
         F.nll_loss(x.log_softmax(1), y, reduction="sum")),
        (nn.MSELoss()(x, p), F.mse_loss(x, p)), (nn.L1Loss("sum")(x, p), F.l1_loss(x, p, "sum")),
        (nn.BCELoss()(x.sigmoid(), p), F.binary_cross_entropy(x.sigmoid(), p)),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, p),
         F.binary_cross_entropy_with_logits(x, p, pos_weight=w)),
        (nn.HuberLoss(delta=0.5)(x, p), F.huber_loss(x, p, delta=0.5)),
        (nn.SmoothL1Loss(beta=0.5)(x, p), F.smooth_l1_loss(x, p, beta=0.5)),
        (nn.KLDivLoss("batchmean")(x.log_softmax(1), p), F.kl_div(x.log_softmax(1), p,
                                                                   "batchmean")),
        (nn.CosineEmbeddingLoss(0.2)(x, p, [1, -1, 1, -1]),
         F.cosine_embedding_loss(x, p, [1, -1, 1, -1], 0.2)),
        (nn.CosineSimilarity()(x, p), F.cosine_similarity(x, p)),
    ]
    for module_out, function_out in pairs:
        np.testing.assert_array_equal(module_out.data, function_out.data)
    assert list(nn.CrossEntropyLoss(w).state_dict()) == ["weight"]  # a buffer, as PyTorch
    assert nn.CrossEntropyLoss().state_dict() == {}
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be one of 'mean', 'sum', "
                                         r"'none', got 'avg'"):
        nn.MSELoss("avg")


# ---------------------------------------------------------------------------------- nn.init
def test_init_fans_and_gains_as_pytorch():
    fan = nn.init._calculate_fan_in_and_fan_out
    assert fan(engine.zeros(3, 5)) == (5, 3)                 # Linear (out, in)
    assert fan(engine.zeros(8, 4, 3, 3)) == (36, 72)         # Conv2d (out, in, kh, kw)
    assert fan(engine.zeros(2, 3, 5)) == (15, 10)            # Conv1d
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        fan(engine.zeros(3))
    gain = nn.init.calculate_gain
    assert gain("linear") == gain("conv2d") == gain("sigmoid") == 1
    assert gain("tanh") == pytest.approx(5 / 3) and gain("relu") == pytest.approx(2 ** 0.5)
    assert gain("leaky_relu", 0.2) == pytest.approx((2 / 1.04) ** 0.5)
    assert gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'; supported: 'linear'"):
        gain("gelu")


def test_init_distributions_and_bounds():
    engine.manual_seed(0)
    w = nn.Parameter(np.zeros((400, 300)))
    out = nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert out is w and w.requires_grad                      # in place, under no_grad
    assert w.data.std() == pytest.approx((2 / 300) ** 0.5, rel=0.02)
    nn.init.kaiming_uniform_(w, a=5 ** 0.5)                  # PyTorch Linear's own default
    bound = 3 ** 0.5 * (2 / 6) ** 0.5 / 300 ** 0.5
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.95 * bound
    nn.init.kaiming_normal_(w, mode="fan_out")
    assert w.data.std() == pytest.approx(2 ** 0.5 / 400 ** 0.5, rel=0.02)  # a=0: gain √2
    nn.init.xavier_uniform_(w, gain=2.0)
    limit = 2.0 * (6 / 700) ** 0.5
    assert np.abs(w.data).max() <= limit and np.abs(w.data).max() > 0.95 * limit
    nn.init.xavier_normal_(w)
    assert w.data.std() == pytest.approx((2 / 700) ** 0.5, rel=0.02)
    nn.init.uniform_(w, -0.5, 2.0)
    assert w.data.min() >= -0.5 and w.data.max() < 2.0 and w.data.mean() == pytest.approx(
        0.75, abs=0.01)
    nn.init.normal_(w, 1.0, 0.1)
    assert w.data.mean() == pytest.approx(1.0, abs=0.001)
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.data).max() <= 0.5
    nn.init.constant_(w, 0.3)
    assert (w.data == np.float32(0.3)).all()
    nn.init.zeros_(w), nn.init.ones_(w)
    assert (w.data == 1).all() and w.dtype == np.float32
    with pytest.raises(ValueError, match="mode 'fan_avg' is not supported; use 'fan_in' or"):
        nn.init.kaiming_normal_(w, mode="fan_avg")


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2, 2)])
def test_orthogonal_init_gives_orthonormal_rows_or_columns(shape):
    w = engine.zeros(*shape, dtype=np.float64)
    nn.init.orthogonal_(w, gain=2.0)
    m = w.data.reshape(shape[0], -1) / 2.0
    small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-12)


def test_init_fills_a_parameters_data_in_place():
    # PyTorch's DCGAN tutorial: nn.init.normal_(m.weight.data, 0.0, 0.02). ``.data`` is the
    # parameter's numpy array here: it is filled in place (was: AttributeError on copy_).
    engine.manual_seed(0)
    conv, bn = nn.Conv2d(16, 32, 3), nn.BatchNorm2d(32)
    assert nn.init.normal_(conv.weight.data, 0.0, 0.02) is conv.weight.data
    assert conv.weight.data.std() == pytest.approx(0.02, rel=0.05)
    nn.init.normal_(bn.weight.data, 1.0, 0.02)
    assert bn.weight.data.mean() == pytest.approx(1.0, abs=0.02)
    nn.init.constant_(bn.bias.data, 0.5)
    assert (bn.bias.data == np.float32(0.5)).all() and bn.bias.dtype == np.float32
    nn.init.kaiming_uniform_(conv.weight.data, a=5 ** 0.5)
    bound = (6 / 6) ** 0.5 / (16 * 9) ** 0.5            # gain √(2/6), fan_in 16·3·3
    assert np.abs(conv.weight.data).max() <= bound
    w = nn.Linear(4, 6).weight
    nn.init.orthogonal_(w.data)
    np.testing.assert_allclose(w.data.T @ w.data, np.eye(4), atol=1e-6)
    nn.init.eye_(w.data)
    np.testing.assert_array_equal(w.data, np.eye(6, 4))


def test_layers_keep_their_glorot_default():
    engine.manual_seed(1)
    layer = nn.Linear(300, 200)
    limit = (6 / 500) ** 0.5
    assert np.abs(layer.weight.data).max() <= limit
    assert np.abs(layer.weight.data).max() > 0.95 * limit


def test_init_fans_and_gains_match_torch():
    torch = pytest.importorskip("torch")
    for shape in [(3, 5), (8, 4, 3, 3), (2, 3, 5), (4, 2, 1, 2, 3)]:
        assert nn.init._calculate_fan_in_and_fan_out(engine.zeros(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    for name, param in [("linear", None), ("conv1d", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.3), ("selu", None),
                        ("sigmoid", None), ("conv_transpose2d", None)]:
        assert nn.init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


# ------------------------------------------------------------------------ Embedding
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from([(5,), (2, 3), (2, 2, 2)]),
       padding=st.sampled_from([None, 0, 3, -1]))
def test_embedding_rows_and_gradients(seed, shape, padding):
    """Rows picked by index; repeated indices add their gradients; the padding row gets
    none (its value is still returned). Against np.add.at, in float64."""
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((6, 4))
    emb = nn.Embedding.from_pretrained(engine.tensor(table, dtype=np.float64), freeze=False,
                                       padding_idx=padding)
    idx = rng.integers(0, 6, shape)
    y = emb(engine.tensor(idx))
    assert y.shape == shape + (4,) and y.dtype == np.float64
    np.testing.assert_array_equal(y.data, table[idx])
    g = rng.standard_normal(y.shape)
    y.backward(engine.tensor(g, dtype=np.float64))
    expect = np.zeros_like(table)
    np.add.at(expect, idx.reshape(-1), g.reshape(-1, 4))
    if padding is not None:
        expect[padding] = 0.0
    np.testing.assert_allclose(emb.weight.grad.data, expect, rtol=1e-14, atol=1e-15)


def test_embedding_init_and_bad_indices():
    engine.manual_seed(0)
    emb = nn.Embedding(10, 3, padding_idx=2)
    assert emb.weight.shape == (10, 3) and not emb.weight.data[2].any()
    assert emb.weight.data.std() > 0.5  # standard normal rows, as PyTorch
    with pytest.raises(IndexError, match="index -1 is out of range for a table of 10 rows"):
        emb(engine.tensor([0, -1]))   # numpy would read the last row: refused
    with pytest.raises(IndexError, match="index 10 is out of range"):
        emb(engine.tensor([[10]]))
    with pytest.raises(TypeError, match=r"indices must be integers .*float32.*\.long\(\)"):
        emb(engine.tensor([1.0]))
    with pytest.raises(ValueError, match="sparse=True is not supported"):
        nn.Embedding(10, 3, sparse=True)  # (max_norm works: tests/nn/test_embedding_max_norm.py)
    frozen = nn.Embedding.from_pretrained(engine.ones(4, 2))
    assert not frozen.weight.requires_grad


def test_embedding_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    table = rng.standard_normal((7, 5))
    idx = np.array([[1, 0, 4], [4, 4, 6]])
    ours = nn.Embedding.from_pretrained(engine.tensor(table, dtype=np.float64), freeze=False,
                                        padding_idx=0)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False,
                                                padding_idx=0)
    g = rng.standard_normal((2, 3, 5))
    y = ours(engine.tensor(idx))
    y.backward(engine.tensor(g, dtype=np.float64))
    ty = theirs(torch.tensor(idx))
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-14)


def test_randperm_is_a_seeded_permutation():
    engine.manual_seed(3)
    p = engine.randperm(50)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(50))
    engine.manual_seed(3)
    assert engine.randperm(50).tolist() == p.tolist()
    with pytest.raises(ValueError, match="randperm: n must be an integer"):
        engine.randperm(-1)


def test_embedding_model_saves_and_loads(tmp_path):
    engine.manual_seed(0)
    model = nn.Sequential(nn.Embedding(12, 4, padding_idx=0), nn.Flatten(), nn.Linear(12, 2))
    x = engine.tensor([[1, 0, 5], [11, 3, 3]])
    model.save(tmp_path / "m.stepgrad")
    back = nn.load_model(tmp_path / "m.stepgrad")
    assert back[0].padding_idx == 0
    np.testing.assert_array_equal(back(x).data, model(x).data)


@pytest.mark.parametrize("kind, kw", [("RNN", {"nonlinearity": a})
                                      for a in ("tanh", "relu", "sigmoid", "linear")]
                         + [("GRU", {"bias": True}), ("GRU", {"bias": False})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_recurrent_layers_equal_the_step_graph(kind, kw, dtype):
    """nn.RNN's and nn.GRU's one sequence op (engine.rnn, engine.gru) against the graph of ops
    step by step (fused=False): the outputs to the bit (the same numpy calls), gradients to
    rounding (dW_hh is one GEMM over all steps there, a sum of per-step products here)."""
    results = []
    for fused in (True, False):
        engine.manual_seed(4)
        layer = getattr(nn, kind)(3, 5, batch_first=True, fused=fused, **kw).to(dtype)
        x = engine.tensor(np.random.default_rng(5).standard_normal((4, 6, 3)), dtype=dtype,
                          requires_grad=True)
        h0 = engine.tensor(np.random.default_rng(6).standard_normal((1, 4, 5)), dtype=dtype,
                           requires_grad=True)
        out, h = layer(x, h0)
        names = {op.name for op in _graph_ops(out)}
        assert (kind.lower() in names) == fused and (("matmul" in names) != fused)
        ((out * out).sum() + h.sum() * 0.5).backward()
        results.append([out.data, h.data, x.grad.data, h0.grad.data]
                       + [p.grad.data for p in layer.parameters()])
    np.testing.assert_array_equal(results[0][0], results[1][0])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(results[0][1:], results[1][1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind, kw", [("RNN", {}), ("RNN", {"nonlinearity": "relu"}),
                                      ("GRU", {})])
def test_fused_recurrent_layers_match_torch(kind, kw):
    """nn.RNN and nn.GRU (fused, the default) with torch.nn's weights, float64, an initial
    state given: outputs, h_n and every gradient."""
    torch = pytest.importorskip("torch")
    engine.manual_seed(1)
    layer = f64(getattr(nn, kind)(3, 4, batch_first=True, **kw))
    ref = getattr(torch.nn, kind)(3, 4, batch_first=True, **kw).double()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            p.copy_(torch.tensor(getattr(layer, name).data))
    rng = np.random.default_rng(2)
    x, h0 = rng.standard_normal((5, 7, 3)), rng.standard_normal((1, 5, 4))
    xs = engine.tensor(x, dtype=np.float64, requires_grad=True)
    hs = engine.tensor(h0, dtype=np.float64, requires_grad=True)
    tx, th = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    out, h = layer(xs, hs)
    assert kind.lower() in {op.name for op in _graph_ops(out)}
    tout, tha = ref(tx, th)
    ((out * out).sum() + h.sum()).backward()
    ((tout * tout).sum() + tha.sum()).backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.data, tha.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xs.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(hs.grad.data, th.grad.numpy(), rtol=1e-10, atol=1e-13)
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(getattr(layer, name).grad.data, p.grad.numpy(),
                                   rtol=1e-10, atol=1e-13)


def test_rnn_fused_flag_stepwise_and_float16():
    layer = nn.RNN(2, 3, batch_first=True)
    x = engine.zeros(2, 4, 2)
    out, _ = layer(x)
    assert [op.name for op in _graph_ops(out) if op.name == "rnn"] == ["rnn"]
    with nn.layers.recurrent.stepwise(layer):   # pictures: each step's ops
        out2, _ = layer(x)
    assert layer.fused is True and "rnn" not in {op.name for op in _graph_ops(out2)}
    assert sum(op.name == "tanh" for op in _graph_ops(out2)) == 4
    half = nn.RNN(2, 3, batch_first=True).to(np.float16)
    out3, _ = half(engine.zeros(2, 4, 2, dtype=np.float16))
    assert out3.dtype == np.float16 and "rnn" not in {op.name for op in _graph_ops(out3)}
    with pytest.raises(ValueError, match="RNN: fused must be True .* or False .*got 'seq'"):
        nn.RNN(2, 3, fused="seq", batch_first=True)
    simple = nn.keras.layers.SimpleRNN(3, input_shape=(4, 2))
    assert "rnn" in {op.name for op in _graph_ops(simple(engine.zeros(2, 4, 2)))}


def _graph_ops(t):
    seen, stack = set(), [t]
    while stack:
        n = stack.pop()
        if n.grad_fn is not None and id(n.grad_fn) not in seen:
            seen.add(id(n.grad_fn))
            yield n.grad_fn
            stack.extend(n.grad_fn.inputs)


def test_gru_fused_flag_and_stepwise():
    layer = nn.GRU(2, 3, batch_first=True)
    x = engine.zeros(2, 4, 2)
    assert "gru" in {op.name for op in _graph_ops(layer(x)[0])}
    with nn.layers.recurrent.stepwise(layer):
        out2, _ = layer(x)
    assert layer.fused is True and "gru" not in {op.name for op in _graph_ops(out2)}
    keras_gru = nn.keras.layers.GRU(3, input_shape=(4, 2))
    assert "gru" in {op.name for op in _graph_ops(keras_gru(x))}
    with pytest.raises(ValueError, match="GRU: fused must be True .*got 'x'"):
        nn.GRU(2, 3, fused="x", batch_first=True)
