"""nn.EmbeddingBag and F.embedding_bag (PyTorch's text-classification tutorial layer): against a
bag-by-bag numpy reference (values and the table's gradient), gradcheck in float64, PyTorch
where installed, the refusals, and the layer through to_torch/from_torch."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F

F64 = np.float64


def reference(idx, W, offsets, mode, psw=None, include_last_offset=False, padding_idx=None):
    """(B, D) by one bag at a time; and d(Σ out·G)/dW for G = ones."""
    idx = np.asarray(idx)
    if idx.ndim == 2:
        bags = [list(range(r * idx.shape[1], (r + 1) * idx.shape[1])) for r in range(idx.shape[0])]
        flat = idx.reshape(-1)
    else:
        flat = idx
        offs = list(offsets[:-1] if include_last_offset else offsets)
        ends = offs[1:] + [len(flat)]
        bags = [list(range(a, b)) for a, b in zip(offs, ends, strict=True)]
    psw = None if psw is None else np.asarray(psw).reshape(-1)
    out = np.zeros((len(bags), W.shape[1]))
    dW = np.zeros_like(W)
    for b, members in enumerate(bags):
        members = [m for m in members if flat[m] != padding_idx]
        if not members:
            continue
        rows = W[flat[members]]
        if mode == "max":
            win = rows.argmax(axis=0)
            out[b] = rows.max(axis=0)
            for col, m in enumerate(win):
                dW[flat[members[m]], col] += 1
            continue
        scale = np.ones(len(members)) if psw is None else psw[members]
        if mode == "mean":
            scale = scale / len(members)
        out[b] = (rows * scale[:, None]).sum(axis=0)
        for m, s in zip(members, scale, strict=True):
            dW[flat[m]] += s
    return out, dW


@st.composite
def bag_cases(draw):
    n_rows = draw(st.integers(1, 8))
    mode = draw(st.sampled_from(["sum", "mean", "max"]))
    padding_idx = draw(st.one_of(st.none(), st.integers(0, n_rows - 1)))
    if draw(st.booleans()):  # 2-D: fixed-length bags
        B, L = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        idx = np.array(draw(st.lists(st.integers(0, n_rows - 1), min_size=B * L,
                                     max_size=B * L))).reshape(B, L)
        offsets, ilo = None, False
    else:
        idx = np.array(draw(st.lists(st.integers(0, n_rows - 1), min_size=0, max_size=10)),
                       np.int64)
        cuts = sorted(draw(st.lists(st.integers(0, idx.size), min_size=0, max_size=4)))
        offsets = [0] + cuts
        ilo = draw(st.booleans())
        if ilo:
            offsets = offsets + [idx.size]
    psw = None
    if mode == "sum" and draw(st.booleans()):
        psw = np.random.default_rng(idx.size).uniform(-2, 2, idx.shape)
    return idx, n_rows, offsets, mode, psw, ilo, padding_idx


@given(bag_cases(), st.integers(0, 2**16))
def test_embedding_bag_matches_a_bag_by_bag_reference(case, seed):
    idx, n_rows, offsets, mode, psw, ilo, padding_idx = case
    W = np.random.default_rng(seed).standard_normal((n_rows, 3))
    want, want_dW = reference(idx, W, offsets, mode, psw, ilo, padding_idx)
    w = engine.tensor(W, dtype=F64, requires_grad=True)
    out = F.embedding_bag(engine.tensor(idx), w,
                          None if offsets is None else engine.tensor(np.array(offsets, np.int64)),
                          mode=mode, include_last_offset=ilo, padding_idx=padding_idx,
                          per_sample_weights=None if psw is None else engine.tensor(psw,
                                                                                    dtype=F64))
    assert out.shape == want.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(w.grad.data, want_dW, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_gradcheck(mode):
    rng = np.random.default_rng(1)
    W = engine.tensor(rng.standard_normal((7, 4)), dtype=F64, requires_grad=True)
    idx = engine.tensor([1, 2, 4, 5, 4, 3, 0, 6])
    offsets = engine.tensor([0, 3, 3, 6])  # an empty bag too
    psw = engine.tensor(rng.uniform(0.5, 2, 8), dtype=F64, requires_grad=True)
    if mode == "sum":
        assert engine.gradcheck(lambda w, p: F.embedding_bag(idx, w, offsets, mode=mode,
                                                             per_sample_weights=p), W, psw)
    else:
        assert engine.gradcheck(lambda w: F.embedding_bag(idx, w, offsets, mode=mode), W)


def test_embedding_bag_matches_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(0)
    W = rng.standard_normal((10, 3))
    cases = [([1, 2, 4, 5, 4, 3, 2, 9], [0, 4], {}), ([1, 2, 4, 5, 4, 3, 2, 9], [0, 2, 2, 5], {}),
             ([1, 2, 4, 5, 4, 3, 2, 9], [0, 3, 8], {"include_last_offset": True}),
             ([[1, 2, 4], [5, 4, 3]], None, {}), ([1, 0, 0, 4, 0], [0, 2, 3], {"padding_idx": 0}),
             ([[0, 0], [1, 4]], None, {"padding_idx": 0}), ([1, 1, 3, 1], [0, 2], {"psw": True})]
    for idx, offsets, kw in cases:
        psw = rng.standard_normal(np.shape(idx)) if kw.pop("psw", False) else None
        for mode in ("sum", "mean", "max") if psw is None else ("sum",):
            w, wt = engine.tensor(W, dtype=F64, requires_grad=True), torch.tensor(W,
                                                                                requires_grad=True)
            p = None if psw is None else engine.tensor(psw, dtype=F64, requires_grad=True)
            pt = None if psw is None else torch.tensor(psw, requires_grad=True)
            out = F.embedding_bag(engine.tensor(idx), w, None if offsets is None else
                                  engine.tensor(offsets), mode=mode, per_sample_weights=p, **kw)
            ref = tf.embedding_bag(torch.tensor(idx), wt, None if offsets is None else
                                   torch.tensor(offsets), mode=mode, per_sample_weights=pt, **kw)
            G = rng.standard_normal(ref.shape)
            (out * engine.tensor(G, dtype=F64)).sum().backward()
            (ref * torch.tensor(G)).sum().backward()
            np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-12, atol=1e-12)
            if p is not None:
                np.testing.assert_allclose(p.grad.data, pt.grad.numpy(), rtol=1e-12)


def test_embedding_bag_refusals():
    w = engine.randn(10, 3)
    x = engine.tensor([1, 2, 3, 4])
    cases = [
        (lambda: F.embedding_bag(x, w, engine.tensor([1, 2])), ValueError,
         r"offsets\[0\] has to be 0"),
        (lambda: F.embedding_bag(x, w, engine.tensor([0, 3, 2])), ValueError, "must not decrease"),
        (lambda: F.embedding_bag(x, w, engine.tensor([0, 9])), ValueError, "input's length 4"),
        (lambda: F.embedding_bag(x, w), ValueError, "1-D input needs offsets"),
        (lambda: F.embedding_bag(x.reshape(2, 2), w, engine.tensor([0, 1])), ValueError,
         r"2-D \(2, 2\).*offsets has to be None"),
        (lambda: F.embedding_bag(x, w, engine.tensor([0, 2, 3]), include_last_offset=True),
         ValueError, "last offset must be the input's length 4"),
        (lambda: F.embedding_bag(x, w, engine.tensor([0, 2]), per_sample_weights=engine.ones(4)),
         ValueError, "only supported for mode='sum'"),
        (lambda: F.embedding_bag(x, w, engine.tensor([0, 2]), mode="sum",
                                 per_sample_weights=engine.ones(3)), ValueError,
         r"per_sample_weights \(3,\) must have the input's shape \(4,\)"),
        (lambda: F.embedding_bag(x, w, engine.tensor([0]), mode="median"), ValueError,
         "one of sum, mean or max"),
        (lambda: F.embedding_bag(engine.tensor([1.0, 2.0]), w, engine.tensor([0])), TypeError,
         "indices must be integers"),
        (lambda: F.embedding_bag(engine.tensor([1, 12]), w, engine.tensor([0])), IndexError,
         r"index 1 of input takes value 12, which is not in the table's range \[0, 10\)"),
        (lambda: F.embedding_bag(x, w, engine.tensor([[0]])), ValueError, "offsets has to be 1-D"),
        (lambda: F.embedding_bag(x, w, engine.tensor([0]), padding_idx=10), ValueError,
         "padding_idx 10 must be within the 10 rows"),
        (lambda: nn.EmbeddingBag(10, 3, mode="median"), ValueError, "one of sum, mean or max"),
        (lambda: nn.EmbeddingBag(10, 3, sparse=True), ValueError, "EmbeddingBag: .*sparse"),
    ]
    for call, error, pattern in cases:
        with pytest.raises(error, match=f"(embedding_bag|EmbeddingBag): .*{pattern}|{pattern}"):
            call()


def test_embedding_bag_layer_tutorial_use_and_from_pretrained():
    engine.manual_seed(0)
    bag = nn.EmbeddingBag(20, 4, sparse=False)  # the text-classification tutorial's layer
    assert bag.mode == "mean" and bag.weight.shape == (20, 4)
    text, offsets = engine.tensor([3, 7, 7, 1, 19]), engine.tensor([0, 2])
    out = bag(text, offsets)
    np.testing.assert_allclose(out.data, [bag.weight.data[[3, 7]].mean(0),
                                          bag.weight.data[[7, 1, 19]].mean(0)], rtol=1e-6)
    out.sum().backward()
    assert bag.weight.grad.data[7].tolist() == pytest.approx([0.5 + 1 / 3] * 4)
    padded = nn.EmbeddingBag(5, 2, padding_idx=1)
    assert not padded.weight.data[1].any()
    W = np.arange(12.0).reshape(6, 2)
    frozen = nn.EmbeddingBag.from_pretrained(engine.tensor(W), mode="max")
    assert not frozen.weight.requires_grad and frozen.mode == "max"
    np.testing.assert_array_equal(frozen(engine.tensor([[0, 5, 2]])).data, [[10.0, 11.0]])
    assert nn.EmbeddingBag.from_pretrained(W, freeze=False).weight.requires_grad


def test_embedding_bag_through_torch_and_back():
    torch = pytest.importorskip("torch")
    engine.manual_seed(1)
    model = nn.Sequential(nn.EmbeddingBag(12, 4, mode="max", padding_idx=1), nn.Linear(4, 2))
    theirs = nn.to_torch(model)
    assert isinstance(theirs[0], torch.nn.EmbeddingBag) and theirs[0].mode == "max"
    assert theirs[0].padding_idx == 1
    x = np.array([[2, 3, 1], [4, 1, 1]])
    np.testing.assert_allclose(model(engine.tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    back = nn.from_torch(torch.nn.Sequential(torch.nn.EmbeddingBag(
        12, 4, mode="sum", include_last_offset=True), torch.nn.Linear(4, 2)))
    assert isinstance(back[0], nn.EmbeddingBag) and back[0].mode == "sum"
    assert back[0].include_last_offset
    with pytest.raises(TypeError, match="EmbeddingBag with sparse=True"):
        nn.from_torch(torch.nn.Sequential(torch.nn.EmbeddingBag(5, 2, sparse=True)))
    back = nn.from_torch(torch.nn.Sequential(torch.nn.EmbeddingBag(5, 2, max_norm=1.0)))
    assert back[0].max_norm == 1.0 and nn.to_torch(back)[0].max_norm == 1.0
