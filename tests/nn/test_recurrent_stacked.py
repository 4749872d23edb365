"""Stacked (num_layers > 1) and bidirectional RNN / LSTM / GRU layers: PyTorch's semantics.

The reference here is written out in numpy from PyTorch's documented equations (one cell
per kind, then layers and directions composed as PyTorch's docs say: the reverse direction
reads the sequence from its end, a layer's output is [forward | reverse] on the last dim,
layer l > 0 reads layer l − 1's output, states indexed l·D + d); torch itself is compared
when it is installed.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from nn import functional as F

KINDS = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _cell(kind, x_t, state, w_ih, w_hh, b_ih, b_hh):
    """One step of PyTorch's cell equations, in numpy."""
    h = state[0] if kind == "LSTM" else state
    gi, gh = x_t @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if kind == "RNN":
        return np.tanh(gi + gh)
    H = h.shape[1]
    if kind == "GRU":
        r = _sig(gi[:, :H] + gh[:, :H])
        z = _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h
    g = gi + gh
    i, f, gg, o = _sig(g[:, :H]), _sig(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), \
        _sig(g[:, 3 * H:])
    c = f * state[1] + i * gg
    return o * np.tanh(c), c


def reference(kind, layer, x, h0, c0=None, masks=()):
    """(outputs (N, T, D·H), h_n, c_n) of ``layer``'s weights by the equations, x (N, T, F)
    batch-first; ``masks[l]`` multiplies layer l's output (dropout between layers)."""
    D = 2 if layer.bidirectional else 1
    p = {n: t.data for n, t in layer.named_parameters()}
    G = KINDS[kind] * layer.hidden_size
    hn, cn, inp = [], [], x
    for lay in range(layer.num_layers):
        outs = []
        for d in range(D):
            k, sfx = lay * D + d, f"_l{lay}" + ("_reverse" if d else "")
            b_ih, b_hh = p.get("bias_ih" + sfx, np.zeros(G)), p.get("bias_hh" + sfx, np.zeros(G))
            state = (h0[k], c0[k]) if kind == "LSTM" else h0[k]
            seq = inp[:, ::-1] if d else inp
            ys = []
            for t in range(seq.shape[1]):
                state = _cell(kind, seq[:, t], state, p["weight_ih" + sfx], p["weight_hh" + sfx],
                              b_ih, b_hh)
                ys.append(state[0] if kind == "LSTM" else state)
            y = np.stack(ys, axis=1)
            outs.append(y[:, ::-1] if d else y)
            hn.append(state[0] if kind == "LSTM" else state)
            cn.append(state[1] if kind == "LSTM" else None)
        inp = np.concatenate(outs, axis=2)
        if lay < len(masks):
            inp = inp * masks[lay]
    return inp, np.stack(hn), (np.stack(cn) if kind == "LSTM" else None)


def t64(a):
    return engine.tensor(a, dtype=np.float64)


def make(kind, layers, bi, fused=True, **kw):
    engine.manual_seed(3)
    layer = getattr(nn, kind)(3, 4, layers, batch_first=True, bidirectional=bi, fused=fused,
                              dtype=np.float64, **kw)
    rng = np.random.default_rng(5)
    for p in layer.parameters():  # biases too (they start at zero)
        p.data[...] = rng.uniform(-0.6, 0.6, p.shape)
    return layer


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("layers,bi", [(2, False), (1, True), (3, True)])
def test_stacked_and_bidirectional_layers_follow_the_equations(kind, layers, bi, fused):
    layer = make(kind, layers, bi, fused)
    D = 2 if bi else 1
    names = [n for n, _ in layer.named_parameters()]
    want = [f"{w}_l{lay}{'_reverse' * d}" for lay in range(layers) for d in range(D)
            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == want  # PyTorch's names and order: torch state dicts load
    assert layer.weight_ih_l0.shape == (KINDS[kind] * 4, 3)
    if layers > 1:
        assert layer.weight_ih_l1.shape == (KINDS[kind] * 4, D * 4)
    rng = np.random.default_rng(6)
    x, h0, c0 = (rng.standard_normal(s) for s in ((2, 5, 3), (layers * D, 2, 4),
                                                   (layers * D, 2, 4)))
    want_out, want_h, want_c = reference(kind, layer, x, h0, c0)
    xt = engine.tensor(x, dtype=np.float64)
    state = (t64(h0), t64(c0)) if kind == "LSTM" else t64(h0)
    out, st_ = layer(xt, state)
    h = st_[0] if kind == "LSTM" else st_
    assert out.shape == (2, 5, D * 4) and h.shape == (layers * D, 2, 4)
    np.testing.assert_allclose(out.data, want_out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h.data, want_h, rtol=1e-12, atol=1e-13)
    if kind == "LSTM":
        np.testing.assert_allclose(st_[1].data, want_c, rtol=1e-12, atol=1e-13)
    # by hand: the reverse direction's final state is its output at t = 0, the forward's at T − 1
    np.testing.assert_array_equal(h.data[-1], out.data[:, 0, 4:] if bi else out.data[:, -1])
    # no state given: zeros, as PyTorch
    zeros = np.zeros((layers * D, 2, 4))
    np.testing.assert_allclose(layer(xt)[0].data, reference(kind, layer, x, zeros, zeros)[0],
                               rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_stacked_bidirectional_gradients_match_finite_differences(kind):
    layer = make(kind, 2, True, fused=True)
    rng = np.random.default_rng(9)
    x = engine.tensor(rng.standard_normal((2, 3, 3)), dtype=np.float64, requires_grad=True)
    h0 = engine.tensor(rng.standard_normal((4, 2, 4)), dtype=np.float64, requires_grad=True)
    w = engine.tensor(rng.standard_normal((2, 3, 8)), dtype=np.float64)
    params = list(layer.parameters())

    def loss(x, h0, *_):
        out, st_ = layer(x, (h0, h0 * 0.5) if kind == "LSTM" else h0)
        h = st_[0] if kind == "LSTM" else st_
        return (out * w).sum() + (h * h).sum()

    assert engine.gradcheck(loss, x, h0, *params)


@given(layers=st.integers(1, 3), bi=st.booleans(), steps=st.integers(1, 4),
       batch=st.integers(1, 3), kind=st.sampled_from(sorted(KINDS)))
def test_fused_and_step_by_step_agree(layers, bi, steps, batch, kind):
    """The sequence ops and the step-by-step graph give the same numbers and gradients for
    any stacking (the reverse direction runs through flip in both)."""
    runs = []
    for fused in (True, False):
        layer = make(kind, layers, bi, fused)
        x = engine.tensor(np.random.default_rng(steps).standard_normal((batch, steps, 3)),
                          dtype=np.float64, requires_grad=True)
        out, _ = layer(x)
        (out * out).sum().backward()
        runs.append((out.data, x.grad.data, layer.weight_hh_l0.grad.data))
    for a, b in zip(*runs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_dropout_acts_between_layers_in_training_only(kind):
    """PyTorch: dropout on each layer's output but the last, in training mode."""
    layer = make(kind, 3, True, dropout=0.5)
    x = np.random.default_rng(2).standard_normal((2, 4, 3))
    zeros = np.zeros((6, 2, 4))
    engine.manual_seed(11)  # the masks the layer will draw, in its order: layer 0, then 1
    masks = [F.dropout(engine.ones(2, 4, 8, dtype=np.float64), 0.5).data for _ in range(2)]
    assert all(0 < (m == 0).mean() < 1 for m in masks)
    engine.manual_seed(11)
    out, _ = layer(engine.tensor(x, dtype=np.float64))
    np.testing.assert_allclose(out.data, reference(kind, layer, x, zeros, zeros, masks)[0],
                               rtol=1e-12, atol=1e-13)
    layer.eval()
    np.testing.assert_allclose(layer(engine.tensor(x, dtype=np.float64))[0].data,
                               reference(kind, layer, x, zeros, zeros)[0], rtol=1e-12,
                               atol=1e-13)


def test_states_of_stacked_layers_are_checked_and_kept():
    layer = make("LSTM", 2, True)
    x = t64(np.zeros((3, 5, 3)))
    bad = engine.zeros(2, 3, 4, dtype=np.float64)
    with pytest.raises(ValueError, match=r"LSTM: the initial state h_0 must be \(num_layers·2 "
                                         r"directions, batch, hidden\) = \(4, 3, 4\) \(PyTorch's "
                                         r"layout; num_layers=2, bidirectional=True\), got "
                                         r"\(2, 3, 4\)"):
        layer(x, (bad, bad))
    with pytest.raises(ValueError, match=r"must be \(num_layers·2 directions, batch, hidden\)"):
        layer(x, (t64(np.zeros((3, 4))),) * 2)  # (N, H) only for one layer
    assert "num_layers=2, batch_first=True, bidirectional=True" in repr(layer)
    # stateful: the second call starts from the kept states of every layer (one direction:
    # the reverse one would read a different sequence)
    uni = make("GRU", 2, False, stateful=True)
    seq = np.random.default_rng(4).standard_normal((3, 6, 3))
    first, _ = uni(t64(seq[:, :2]))
    second, h = uni(t64(seq[:, 2:]))
    whole = reference("GRU", uni, seq, np.zeros((2, 3, 4)))
    np.testing.assert_allclose(np.concatenate([first.data, second.data], axis=1), whole[0],
                               rtol=1e-12)
    np.testing.assert_allclose(h.data, whole[1], rtol=1e-12)
    assert isinstance(uni.state, list) and [s.shape for s in uni.state] == [(3, 4)] * 2
    one = make("LSTM", 1, False, stateful=True)  # one layer: the state as before, (h, c)
    one(t64(seq))
    assert isinstance(one.state, tuple) and [s.shape for s in one.state] == [(3, 4)] * 2


@pytest.mark.parametrize("kind,layers,bi", [("LSTM", 2, False), ("GRU", 1, True),
                                             ("RNN", 2, True)])
def test_pictures_draw_every_layer_and_direction(kind, layers, bi):
    """viz.draw_unrolled and draw_rolled draw stacked and bidirectional layers (a row, a
    cell, per layer and direction; tests/viz/test_recurrent.py checks the pictures)."""
    import viz
    layer = make(kind, layers, bi)
    rows = [f"layer {lay} {arrow}" for lay in range(layers) for arrow in "→←"[:1 + bi]]
    unrolled = viz.draw_unrolled(layer, np.zeros((3, 3)), fit=False).source
    rolled = viz.draw_rolled(layer).source
    for source in (unrolled, rolled):
        for name, _ in layer.named_parameters():
            assert f"<B>{name}</B>" in source
        assert all(row in source for row in rows)


def test_keras_weight_lists_cover_every_layer_and_direction():
    """get_weights lists each layer and direction in turn (Keras's Bidirectional order:
    forward then backward), and set_weights puts them back where they came from."""
    from nn.keras.weights import get_weights, set_weights
    for kind in sorted(KINDS):
        layer = make(kind, 2, True)
        arrays = get_weights(layer)
        per = 3 if kind == "GRU" else 4  # GRU: Keras's two biases stacked into one array
        assert len(arrays) == 4 * per
        np.testing.assert_array_equal(arrays[per], layer.weight_ih_l0_reverse.data.T
                                      if kind != "GRU" else arrays[per])
        np.testing.assert_array_equal(arrays[-per], layer.weight_ih_l1_reverse.data.T
                                      if kind != "GRU" else arrays[-per])
        before = {n: p.data.copy() for n, p in layer.named_parameters()}
        for p in layer.parameters():
            p.data[...] = 0
        set_weights(layer, arrays)
        for n, p in layer.named_parameters():
            np.testing.assert_array_equal(p.data, before[n])


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("layers,bi,batch_first", [(2, False, True), (2, True, False),
                                                   (3, True, True)])
def test_stacked_layers_match_torch(kind, layers, bi, batch_first):
    """float64 against torch.nn.{RNN,LSTM,GRU}: outputs, final states and the gradients of
    the input, the initial states and every parameter; and both ways through interchange."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    D = 2 if bi else 1
    theirs = getattr(torch.nn, kind)(3, 4, layers, batch_first=batch_first,
                                     bidirectional=bi).double()
    ours = getattr(nn, kind)(3, 4, layers, batch_first=batch_first, bidirectional=bi,
                             dtype=np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(12)
    x, h0, c0 = (rng.standard_normal(s) for s in ((5, 6, 3), (layers * D, 5 if batch_first
                                                                      else 6, 4),
                                                   (layers * D, 5 if batch_first else 6, 4)))
    w = rng.standard_normal((5, 6, D * 4))
    mine = [engine.tensor(a, dtype=np.float64, requires_grad=True) for a in (x, h0, c0)]
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    lstm = kind == "LSTM"
    out, st_ = ours(mine[0], (mine[1], mine[2]) if lstm else mine[1])
    tout, tst = theirs(tx, (th, tc) if lstm else th)
    hs, ths = (st_ if lstm else (st_,)), (tst if lstm else (tst,))
    ((out * t64(w)).sum() + sum((h * h).sum() for h in hs)).backward()
    ((tout * torch.from_numpy(w)).sum() + sum((h * h).sum() for h in ths)).backward()
    pairs = [(out.data, tout)] + [(a.data, b) for a, b in zip(hs, ths, strict=True)] + \
        [(t.grad.data, u.grad) for t, u in zip(mine, (tx, th, tc), strict=True)
         if u.grad is not None] + \
        [(getattr(ours, n).grad.data, p.grad) for n, p in theirs.named_parameters()]
    for a, b in pairs:
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    # interchange: the same layer both ways
    back = nn.from_torch(theirs)
    assert (back.num_layers, back.bidirectional) == (layers, bi)
    there = nn.to_torch(ours)
    assert (there.num_layers, there.bidirectional) == (layers, bi)
    with torch.no_grad():
        state = (t64(h0), t64(c0)) if lstm else t64(h0)
        np.testing.assert_allclose(back(t64(x), state)[0].data, tout.detach().numpy(),
                                   rtol=1e-10)
        tstate = (torch.from_numpy(h0), torch.from_numpy(c0)) if lstm else torch.from_numpy(h0)
        np.testing.assert_allclose(there(torch.from_numpy(x), tstate)[0].numpy(), out.data,
                                   rtol=1e-10)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("batch_first", [True, False])
def test_unbatched_input_is_a_batch_of_one(kind, batch_first):
    """PyTorch's unbatched x (T, F): outputs (T, D·H), states (L·D, H) in and out, the same
    numbers as the batch of one."""
    engine.manual_seed(3)
    layer = getattr(nn, kind)(3, 4, 2, batch_first=batch_first, bidirectional=True,
                              dtype=np.float64)
    rng = np.random.default_rng(8)
    x, h0, c0 = (rng.standard_normal(s) for s in ((5, 3), (4, 4), (4, 4)))
    lstm = kind == "LSTM"
    out, st_ = layer(t64(x), (t64(h0), t64(c0)) if lstm else t64(h0))
    xb = x[None] if batch_first else x[:, None]
    ref, ref_st = layer(t64(xb), (t64(h0[:, None]), t64(c0[:, None])) if lstm
                        else t64(h0[:, None]))
    assert out.shape == (5, 8)
    np.testing.assert_array_equal(out.data, ref.data[0] if batch_first else ref.data[:, 0])
    for a, b in zip(st_ if lstm else (st_,), ref_st if lstm else (ref_st,), strict=True):
        assert a.shape == (4, 4)
        np.testing.assert_array_equal(a.data, b.data[:, 0])
    with pytest.raises(ValueError, match=r"for unbatched input \(time, features\) the initial "
                                         r"state h_0 must be \(num_layers·directions, hidden\) "
                                         r"= \(4, 4\), got \(4, 1, 4\)"):
        layer(t64(x), (t64(h0[:, None]),) * 2 if lstm else t64(h0[:, None]))


@pytest.mark.parametrize("make", [lambda: nn.RNN(3, 4, nonlinearity="relu", batch_first=True),
                                  lambda: nn.RNNCell(3, 4, nonlinearity="relu")],
                         ids=["RNN", "RNNCell"])
def test_nonlinearity_is_fixed_at_construction(make):
    """``rnn.nonlinearity = 'tanh'`` on a built layer ran tanh in the step graph and relu in
    the fused kernel (and PyTorch ignores the change: its mode is fixed in the constructor):
    refused now, naming what to do; the layer keeps computing with relu."""
    layer = make()
    with pytest.raises(AttributeError, match=r"build it with nonlinearity='tanh'"):
        layer.nonlinearity = "tanh"
    assert layer.nonlinearity == "relu"
    x = engine.tensor(np.random.default_rng(0).standard_normal((2, 5, 3)))
    if isinstance(layer, nn.RNN):
        fused, _ = layer(x)
        layer.fused = False
        steps, _ = layer(x)
        np.testing.assert_allclose(fused.data, steps.data, rtol=1e-5, atol=1e-6)
        assert (fused.data >= 0).all()  # relu's
    else:
        assert (layer(x[:, 0]).data >= 0).all()
