"""Embedding's max_norm (in-place renormalisation of the looked-up rows) and
scale_grad_by_freq (each row's gradient divided by its count in the batch): by hand, the
version counter, finite differences, then against PyTorch over a few SGD steps."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F


def P(a, dtype=np.float64):
    return engine.from_numpy(np.array(a, dtype=dtype)).requires_grad_(True)


# ------------------------------------------------------------------------ torch-free
def test_max_norm_renormalises_looked_up_rows_in_place_by_hand():
    w = P([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    v = w._version
    out = F.embedding(engine.tensor([[0, 1], [0, 1]]), w, max_norm=1.0)
    s = 1.0 / (5.0 + 1e-7)  # PyTorch's max_norm / (norm + 1e-7)
    np.testing.assert_allclose(w.data, [[3 * s, 4 * s], [0.3, 0.4], [6.0, 8.0]], rtol=1e-15)
    np.testing.assert_allclose(out.data[0], [[3 * s, 4 * s], [0.3, 0.4]], rtol=1e-15)
    assert w._version == v + 1  # row 2 not looked up: untouched
    F.embedding(engine.tensor([2]), w, max_norm=2.0, norm_type=1.0)  # |6| + |8| = 14
    np.testing.assert_allclose(w.data[2], [6 * 2 / (14 + 1e-7), 8 * 2 / (14 + 1e-7)],
                               rtol=1e-15)


def test_max_norm_gradient_skips_the_renormalisation():
    # out = renormed rows; the gradient is the lookup's (dy summed per row), not the
    # renormalisation's Jacobian, which PyTorch leaves out too.
    w = P([[3.0, 4.0], [0.3, 0.4]])
    out = F.embedding(engine.tensor([0, 0, 1]), w, max_norm=1.0)
    out.backward(np.array([[1.0, 2.0], [10.0, 20.0], [5.0, 7.0]]))
    np.testing.assert_array_equal(np.asarray(w.grad), [[11.0, 22.0], [5.0, 7.0]])


def test_scale_grad_by_freq_divides_by_the_count_in_the_batch():
    w = P(np.zeros((4, 2)))
    out = F.embedding(engine.tensor([[1, 1, 3], [1, 0, 3]]), w, scale_grad_by_freq=True)
    out.backward(np.ones((2, 3, 2)))
    np.testing.assert_allclose(np.asarray(w.grad), [[1, 1], [1, 1], [0, 0], [1, 1]])
    np.testing.assert_array_equal(out.data, 0.0)


def test_a_graph_that_saved_the_weight_refuses_backward_after_a_renorm():
    emb = nn.Embedding(5, 3, max_norm=1.0, dtype=np.float64)
    tied = (emb.weight * emb.weight).sum()  # mul saved the weight's old values
    y = emb(engine.tensor([3, 4]))
    with pytest.raises(RuntimeError, match=r"backward of 'mul': one of the tensors needed for "
                                           r"gradient computation has been modified by an "
                                           r"inplace operation"):
        (tied + y.sum()).backward()
    # Two lookups alone are fine: the lookup's gradient does not read the weight's values.
    y1, y2 = emb(engine.tensor([0, 1])), emb(engine.tensor([1, 2]))
    (y1.sum() + y2.sum()).backward()
    np.testing.assert_array_equal(np.asarray(emb.weight.grad).sum(1), [3, 6, 3, 0, 0])


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), freq=st.booleans())
def test_gradients_match_finite_differences(seed, freq):
    # Rows kept well inside max_norm (no renormalisation while differencing: its kink at
    # norm = max_norm is avoided); with scale_grad_by_freq the gradient is the finite
    # differences' divided by each row's count, by definition.
    rng = np.random.default_rng(seed)
    table = rng.uniform(-0.3, 0.3, (6, 3))  # norms < 0.52 < max_norm
    idx = engine.tensor(rng.integers(0, 6, (2, 4)))
    g = rng.standard_normal((2, 4, 3))
    assert engine.gradcheck(lambda t: F.embedding(idx, t, max_norm=2.0) * engine.from_numpy(g),
                            P(table))
    w = P(table)
    (F.embedding(idx, w, max_norm=2.0, scale_grad_by_freq=freq) * engine.from_numpy(g)).sum() \
        .backward()
    plain = P(table)
    (F.embedding(idx, plain) * engine.from_numpy(g)).sum().backward()
    counts = np.maximum(np.bincount(idx.data.reshape(-1), minlength=6), 1)[:, None]
    np.testing.assert_allclose(np.asarray(w.grad),
                               np.asarray(plain.grad) / (counts if freq else 1), rtol=1e-13,
                               atol=1e-15)
    np.testing.assert_array_equal(w.data, table)  # nothing over max_norm: untouched


def test_refusals():
    with pytest.raises(ValueError, match=r"embedding: sparse=True is not supported in stepgrad "
                                         r"\(gradients are dense"):
        F.embedding(engine.tensor([0]), P(np.ones((2, 2))), sparse=True)
    with pytest.raises(ValueError, match=r"embedding: max_norm must be a number >= 0, got -1"):
        F.embedding(engine.tensor([0]), P(np.ones((2, 2))), max_norm=-1)
    with pytest.raises(ValueError, match=r"Embedding: sparse=True is not supported"):
        nn.Embedding(3, 2, sparse=True)


# ------------------------------------------------------------------------ PyTorch
OPTIONS = [dict(max_norm=1.0), dict(max_norm=1.5, norm_type=1.0),
           dict(max_norm=0.7, norm_type=float("inf")), dict(scale_grad_by_freq=True),
           dict(max_norm=1.0, scale_grad_by_freq=True, padding_idx=2)]


def _train_side_by_side(ours, theirs, lookup, dtype, tol, steps=4, seed=0):
    """SGD steps on both; weights before each forward, outputs, gradients, final weights."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    o_opt = nn.optim.SGD(ours.parameters(), lr=0.3)
    t_opt = torch.optim.SGD(theirs.parameters(), lr=0.3)
    for _ in range(steps):
        idx = rng.integers(0, ours.num_embeddings, (3, 5))
        y, ty = lookup(ours, engine.tensor(idx)), lookup(theirs, torch.tensor(idx))
        np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=tol,
                                   atol=tol)  # renormalised in place by the forward
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=tol, atol=tol)
        g = rng.standard_normal(y.shape).astype(dtype)
        (y * engine.from_numpy(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(np.asarray(ours.weight.grad), theirs.weight.grad.numpy(),
                                   rtol=tol, atol=tol)
        o_opt.step(), t_opt.step(), o_opt.zero_grad(), t_opt.zero_grad()
    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=tol,
                               atol=tol)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-13), (np.float32, 1e-6)])
@pytest.mark.parametrize("kw", OPTIONS)
def test_embedding_options_match_pytorch_over_sgd_steps(kw, dtype, tol):
    torch = pytest.importorskip("torch")
    table = (np.random.default_rng(1).standard_normal((7, 4)) * 1.5).astype(dtype)
    ours = nn.Embedding(7, 4, _weight=table.copy(), **kw)
    theirs = torch.nn.Embedding(7, 4, _weight=torch.tensor(table.copy()), **kw)
    _train_side_by_side(ours, theirs, lambda m, i: m(i), dtype, tol)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("kw", [dict(max_norm=1.0), dict(scale_grad_by_freq=True),
                                dict(max_norm=0.8, norm_type=3.0, scale_grad_by_freq=True,
                                     padding_idx=1)])
def test_embedding_bag_options_match_pytorch(kw, mode):
    torch = pytest.importorskip("torch")
    if mode == "max" and kw.get("scale_grad_by_freq"):
        with pytest.raises(ValueError, match="max mode does not support scaling"):
            torch.nn.EmbeddingBag(7, 4, mode=mode, **kw)(torch.tensor([[0, 1]]))
        with pytest.raises(ValueError, match=r"embedding_bag: mode='max' does not support "
                                             r"scale_grad_by_freq=True \(as in PyTorch\)"):
            nn.EmbeddingBag(7, 4, mode=mode, **kw)(engine.tensor([[0, 1]]))
        return
    table = np.random.default_rng(2).standard_normal((7, 4)) * 1.5
    ours = nn.EmbeddingBag(7, 4, mode=mode, _weight=table.copy(), **kw)
    if not kw.get("scale_grad_by_freq"):
        theirs = torch.nn.EmbeddingBag(7, 4, mode=mode, _weight=torch.tensor(table.copy()),
                                       **kw)
        _train_side_by_side(ours, theirs, lambda m, i: m(i), np.float64, 1e-13)
        return
    # PyTorch 2.13's CPU embedding_bag divides by the wrong count when counts differ
    # (pytorch/pytorch#190063, fixed after 2.13; its CUDA path and nn.Embedding are right):
    # the reference is torch's nn.Embedding with the same options, bags summed / averaged.
    theirs = torch.nn.Embedding(7, 4, _weight=torch.tensor(table.copy()), **kw)
    pad = kw.get("padding_idx")

    def lookup(m, i):
        if m is ours:
            return m(i)
        keep = (i != pad if pad is not None else torch.ones_like(i, dtype=bool))[..., None]
        total = (m(i) * keep).sum(1)
        return total if mode == "sum" else total / keep.sum(1).clamp(min=1)

    _train_side_by_side(ours, theirs, lookup, np.float64, 1e-13)


def test_embedding_bag_scale_grad_by_freq_divides_by_the_true_count():
    """[1, 1, 3]: row 1 gets 2 · 1/2, row 3 gets 1 · 1/1 (the documented rule; PyTorch
    2.13's CPU kernel gives row 3 0.5, its issue #190063)."""
    w = P(np.zeros((4, 2)))
    F.embedding_bag(engine.tensor([[1, 1, 3]]), w, mode="sum",
                    scale_grad_by_freq=True).sum().backward()
    np.testing.assert_array_equal(np.asarray(w.grad)[:, 0], [0.0, 1.0, 0.0, 1.0])
