"""nn.utils.rnn: padded and packed batches of sequences (PyTorch's torch.nn.utils.rnn), and
the recurrent layers on packed input. The reference for a packed batch is each sequence
run on its own (a batch of one, no padding): what packing means."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)


def t64(a, grad=False):
    return engine.tensor(a, dtype=np.float64, requires_grad=grad)


def test_pad_and_pack_by_hand():
    a, b, c = t64([[1.], [2.], [3.]]), t64([[4.]]), t64([[5.], [6.]])
    padded = pad_sequence([a, b, c], batch_first=True, padding_value=-1)
    np.testing.assert_array_equal(padded.data[..., 0], [[1, 2, 3], [4, -1, -1], [5, 6, -1]])
    np.testing.assert_array_equal(pad_sequence([a, b, c], padding_value=-1).data[..., 0].T,
                                  padded.data[..., 0])
    left = pad_sequence([a, b, c], batch_first=True, padding_side="left")
    np.testing.assert_array_equal(left.data[..., 0], [[1, 2, 3], [0, 0, 4], [0, 5, 6]])
    # time-major packing of the sequences sorted longest first: a, c, b
    p = pack_padded_sequence(padded, [3, 1, 2], batch_first=True, enforce_sorted=False)
    np.testing.assert_array_equal(p.data.data[:, 0], [1, 5, 4, 2, 6, 3])
    np.testing.assert_array_equal(p.batch_sizes.data, [3, 2, 1])
    np.testing.assert_array_equal(p.sorted_indices.data, [0, 2, 1])
    np.testing.assert_array_equal(p.unsorted_indices.data, [0, 2, 1])
    back, lengths = pad_packed_sequence(p, batch_first=True, padding_value=9, total_length=4)
    np.testing.assert_array_equal(back.data[..., 0], [[1, 2, 3, 9], [4, 9, 9, 9],
                                                      [5, 6, 9, 9]])
    np.testing.assert_array_equal(lengths.data, [3, 1, 2])
    assert lengths.dtype == np.int64
    for got, want in zip(unpack_sequence(p), (a, b, c), strict=True):
        np.testing.assert_array_equal(got.data, want.data)
    for got, want in zip(unpad_sequence(padded, [3, 1, 2], batch_first=True), (a, b, c),
                         strict=True):
        np.testing.assert_array_equal(got.data, want.data)
    sorted_pack = pack_sequence([a, c, b])  # already longest first: no indices
    assert sorted_pack.sorted_indices is None and sorted_pack.unsorted_indices is None
    np.testing.assert_array_equal(sorted_pack.data.data[:, 0], [1, 5, 4, 2, 6, 3])


def test_bad_batches_are_refused_by_name():
    x = engine.zeros(3, 4, 2)
    with pytest.raises(ValueError, match=r"lengths \[1, 4, 2\] must be sorted in decreasing "
                                         r"order .*enforce_sorted=False"):
        pack_padded_sequence(x, [1, 4, 2], batch_first=True)
    with pytest.raises(ValueError, match=r"every length must be at least 1, got \[4, 0, 2\]"):
        pack_padded_sequence(x, [4, 0, 2], batch_first=True, enforce_sorted=False)
    with pytest.raises(ValueError, match="a length of 5 is longer than the padded input's 4"):
        pack_padded_sequence(x, [5, 1, 2], batch_first=True, enforce_sorted=False)
    with pytest.raises(ValueError, match=r"lengths must be B = 3 integers"):
        pack_padded_sequence(x, [2, 1], batch_first=True)
    with pytest.raises(ValueError, match=r"lengths must be B = 3 integers"):
        pack_padded_sequence(x, [2.5, 1, 1], batch_first=True)
    p = pack_padded_sequence(x, [4, 2, 1], batch_first=True)
    with pytest.raises(ValueError, match="total_length=3 is shorter than the longest "
                                         r"sequence \(4 steps\)"):
        pad_packed_sequence(p, total_length=3)
    with pytest.raises(ValueError, match="empty list of sequences"):
        pad_sequence([])
    with pytest.raises(TypeError, match="expected a list of Tensors"):
        pad_sequence(x)
    with pytest.raises(ValueError, match=r"same trailing shape .*sequence 1 \(2, 3\)"):
        pad_sequence([engine.zeros(2, 2), engine.zeros(2, 3)])


def test_padding_and_packing_pass_gradients():
    rng = np.random.default_rng(1)
    seqs = [t64(rng.standard_normal((n, 2)), grad=True) for n in (2, 4, 1)]
    w = t64(rng.standard_normal((7, 2)))

    def through_both(*s):
        p = pack_padded_sequence(pad_sequence(list(s), batch_first=True), [2, 4, 1],
                                 batch_first=True, enforce_sorted=False)
        padded, _ = pad_packed_sequence(p, padding_value=3.0)
        return (p.data * w).sum() + (padded * padded).sum()

    assert engine.gradcheck(through_both, *seqs)


def _each_alone(layer, x, lengths, h0=None):
    """(outputs per sequence (Lᵢ, D·H), final states (L·D, B, H)): each sequence on its own."""
    outs, finals = [], []
    for i, n in enumerate(lengths):
        state = None if h0 is None else h0[:, i:i + 1]
        out, h = layer(x[i:i + 1, :n], state)
        outs.append(out[0])
        finals.append(h)
    return outs, engine.cat(finals, axis=1)


@given(lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4), bi=st.booleans(),
       layers=st.integers(1, 2), kind=st.sampled_from(["RNN", "GRU"]), fused=st.booleans())
def test_packed_input_runs_each_sequence_for_its_own_length(lengths, bi, layers, kind, fused):
    engine.manual_seed(4)
    layer = getattr(nn, kind)(2, 3, layers, batch_first=True, bidirectional=bi, fused=fused,
                              dtype=np.float64)
    rng = np.random.default_rng(len(lengths))
    x = t64(rng.standard_normal((len(lengths), max(lengths), 2)), grad=True)
    h0 = t64(rng.standard_normal((layers * (2 if bi else 1), len(lengths), 3)), grad=True)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, h = layer(packed, h0)
    assert isinstance(out, PackedSequence)
    np.testing.assert_array_equal(out.batch_sizes.data, packed.batch_sizes.data)
    got = unpack_sequence(out)
    want, want_h = _each_alone(layer, x, lengths, h0)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.data, w.data, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.data, want_h.data, rtol=1e-12, atol=1e-14)
    # gradients: the same as the sum of the per-sequence runs' losses
    ((out.data * out.data).sum() + h.sum()).backward()
    grads = [x.grad.data.copy(), h0.grad.data.copy()] + [p.grad.data.copy()
                                                         for p in layer.parameters()]
    x.grad = h0.grad = None
    layer.zero_grad()
    want, want_h = _each_alone(layer, x, lengths, h0)
    (sum((w * w).sum() for w in want) + want_h.sum()).backward()
    for a, b in zip(grads, [x.grad.data, h0.grad.data] + [p.grad.data
                                                          for p in layer.parameters()],
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_packed_lstm_gives_each_sequences_final_cell_state():
    engine.manual_seed(5)
    layer = nn.LSTM(2, 3, 2, batch_first=True, bidirectional=True, dtype=np.float64)
    x = t64(np.random.default_rng(2).standard_normal((3, 4, 2)))
    out, (h, c) = layer(pack_padded_sequence(x, [4, 2, 3], batch_first=True,
                                             enforce_sorted=False))
    for i, n in enumerate((4, 2, 3)):
        alone, (hi, ci) = layer(x[i:i + 1, :n])
        np.testing.assert_allclose(h.data[:, i], hi.data[:, 0], rtol=1e-12)
        np.testing.assert_allclose(c.data[:, i], ci.data[:, 0], rtol=1e-12)
        np.testing.assert_allclose(unpack_sequence(out)[i].data, alone.data[0], rtol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bi", [False, True])
def test_packed_layers_match_torch(kind, bi):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from torch.nn.utils import rnn as tr
    theirs = getattr(torch.nn, kind)(3, 4, 2, batch_first=True, bidirectional=bi).double()
    ours = getattr(nn, kind)(3, 4, 2, batch_first=True, bidirectional=bi, dtype=np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    lengths = [2, 5, 1, 5, 3]
    x = np.random.default_rng(3).standard_normal((5, 5, 3))
    tx, ox = torch.tensor(x, requires_grad=True), t64(x, grad=True)
    tp = tr.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=True,
                                 enforce_sorted=False)
    op = pack_padded_sequence(ox, lengths, batch_first=True, enforce_sorted=False)
    np.testing.assert_array_equal(op.sorted_indices.data, tp.sorted_indices.numpy())
    tout, tst = theirs(tp)
    oout, ost = ours(op)
    tpad, _ = tr.pad_packed_sequence(tout, batch_first=True)
    opad, _ = pad_packed_sequence(oout, batch_first=True)
    ts, os_ = (tst if kind == "LSTM" else (tst,)), (ost if kind == "LSTM" else (ost,))
    ((tpad * tpad).sum() + sum(s.sum() for s in ts)).backward()
    ((opad * opad).sum() + sum(s.sum() for s in os_)).backward()
    pairs = [(opad.data, tpad), (oout.data.data, tout.data), (ox.grad.data, tx.grad)] + \
        [(a.data, b) for a, b in zip(os_, ts, strict=True)] + \
        [(getattr(ours, n).grad.data, p.grad) for n, p in theirs.named_parameters()]
    for a, b in pairs:
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)
