"""Attention (nn/layers/attention.py): scaled_dot_product_attention, MultiheadAttention,
TransformerEncoderLayer, TransformerEncoder.

The reference is written out in numpy from the formula softmax(Q Kᵀ/√d + M) V (heads split
by hand for MultiheadAttention); gradients are checked by finite differences; torch itself
is compared, in float64 to 1e-10, when it is installed (the `torch` fixture skips otherwise).
"""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from nn.layers.attention import generate_square_subsequent_mask
from nn.layers.attention import scaled_dot_product_attention as sdpa

TOL = 1e-10
RNG = np.random.default_rng(0)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def T(a, grad=False):
    return engine.tensor(np.asarray(a, np.float64), dtype=np.float64, requires_grad=grad)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ref_attention(q, k, v, add=None, scale=None):
    """softmax(Q Kᵀ · scale + M) V in numpy (M additive: 0 or −inf, or any float)."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    z = q @ np.swapaxes(k, -1, -2) * scale
    if add is not None:
        z = z + add
    return softmax(z) @ v


def mha(*args, **kw):
    """A float64 MultiheadAttention with every parameter drawn N(0, 1) (nonzero biases)."""
    kw.setdefault("batch_first", False)
    m = nn.MultiheadAttention(*args, **kw).double()
    for p in m.parameters():
        p.data[...] = RNG.standard_normal(p.shape)
    return m


# ------------------------------------------------------------ scaled_dot_product_attention
@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal", "scale"])
def test_sdpa_matches_formula(kind):
    q, k, v = (RNG.standard_normal(s) for s in ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)))
    kw, add, scale = {}, None, None
    if kind == "bool":
        keep = RNG.random((4, 6)) > 0.3
        keep[:, 0] = True  # no fully masked row here (tested on its own)
        kw["attn_mask"], add = keep, np.where(keep, 0.0, -np.inf)
    elif kind == "float":
        kw["attn_mask"] = add = RNG.standard_normal((3, 4, 6))
    elif kind == "causal":
        kw["is_causal"] = True  # L=4 < S=6: the lower triangle of (4, 6), top-left aligned
        add = np.where(np.tril(np.ones((4, 6), bool)), 0.0, -np.inf)
    elif kind == "scale":
        kw["scale"] = scale = 0.37
    out = sdpa(T(q), T(k), T(v), **kw)
    assert out.shape == (2, 3, 4, 7)
    np.testing.assert_allclose(out.data, ref_attention(q, k, v, add, scale), atol=TOL, rtol=0)


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 5), st.integers(1, 4),
       st.integers(1, 3), st.booleans())
def test_sdpa_random_shapes(n, L, S, E, Ev, causal):
    rng = np.random.default_rng(n * 1000 + L * 100 + S * 10 + E)
    q, k, v = rng.standard_normal((n, L, E)), rng.standard_normal((n, S, E)), \
        rng.standard_normal((n, S, Ev))
    add = np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf) if causal else None
    out = sdpa(T(q), T(k), T(v), is_causal=causal).data
    np.testing.assert_allclose(out, ref_attention(q, k, v, add), atol=TOL, rtol=0)


def test_sdpa_unbatched_and_broadcast_batch():
    q, k, v = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 5, 4)), \
        RNG.standard_normal((2, 5, 2))
    assert sdpa(T(q), T(k[0]), T(v[0])).shape == (3, 2)
    out = sdpa(T(q), T(k), T(v))  # q's missing batch dim broadcasts, as in torch
    np.testing.assert_allclose(out.data, ref_attention(q, k, v), atol=TOL, rtol=0)


def test_sdpa_fully_masked_row_is_zero_with_zero_gradient():
    """PyTorch 2.13 returns 0 for a query whose mask excludes every key (not NaN), and no
    gradient flows from it."""
    q, k, v = (T(RNG.standard_normal(s), grad=True) for s in ((3, 4), (5, 4), (5, 2)))
    keep = np.ones((3, 5), bool)
    keep[1] = False
    for mask in (keep, np.where(keep, 0.0, -np.inf)):
        for t in (q, k, v):
            t.grad = None
        out = sdpa(q, k, v, attn_mask=mask)
        assert np.all(out.data[1] == 0) and np.isfinite(out.data).all()
        out.sum().backward()
        assert q.grad.data[1].tolist() == [0.0] * 4
        assert all(np.isfinite(t.grad.data).all() for t in (q, k, v))
        ok = ref_attention(q.data[[0, 2]], k.data, v.data)
        np.testing.assert_allclose(out.data[[0, 2]], ok, atol=TOL, rtol=0)


def test_sdpa_grouped_query_attention():
    q, k, v = RNG.standard_normal((2, 4, 3, 2)), RNG.standard_normal((2, 2, 5, 2)), \
        RNG.standard_normal((2, 2, 5, 3))
    out = sdpa(T(q), T(k), T(v), enable_gqa=True)
    # kv head j serves query heads 2j and 2j + 1
    want = ref_attention(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))
    np.testing.assert_allclose(out.data, want, atol=TOL, rtol=0)
    with pytest.raises(ValueError, match="enable_gqa=True"):
        sdpa(T(q), T(k), T(v))


def test_sdpa_gradcheck():
    q, k, v = (T(RNG.standard_normal(s), grad=True) for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3)))
    bias = T(RNG.standard_normal((3, 4)), grad=True)  # a learned additive mask gets a gradient
    keep = RNG.random((3, 4)) > 0.4
    keep[:, 0] = True
    assert engine.gradcheck(lambda *a: sdpa(*a), q, k, v)
    assert engine.gradcheck(lambda q, k, v, b: sdpa(q, k, v, attn_mask=b), q, k, v, bias)
    assert engine.gradcheck(lambda *a: sdpa(*a, attn_mask=keep, scale=0.3), q, k, v)
    assert engine.gradcheck(lambda *a: sdpa(*a, is_causal=True), q, k, v)


@pytest.mark.parametrize("call, error, match", [
    (lambda q, k, v: sdpa(q, k, v, attn_mask=np.ones((3, 4), bool), is_causal=True),
     ValueError, "attn_mask must not be given with is_causal=True"),
    (lambda q, k, v: sdpa(q, k, v, attn_mask=np.ones((3, 4), np.int64)), TypeError,
     "attn_mask must be a bool or a float mask, got dtype int64"),
    (lambda q, k, v: sdpa(q, k, v, attn_mask=np.ones((4, 4), bool)), ValueError,
     r"attn_mask of shape \(4, 4\) does not broadcast to the scores' shape .* \(2, 3, 4\)"),
    (lambda q, k, v: sdpa(q, k[..., :1], v), ValueError, "query and key must share E"),
    (lambda q, k, v: sdpa(q, k, v[:, :3]), ValueError, "key and value must share S"),
    (lambda q, k, v: sdpa(q.float(), k, v), TypeError, "same dtype"),
    (lambda q, k, v: sdpa(q[0, 0], k, v), ValueError, "at least 2 dims"),
    (lambda q, k, v: sdpa(q, k, v, dropout_p=1.0), ValueError, r"dropout_p must be in \[0, 1\)"),
])
def test_sdpa_refusals(call, error, match):
    q, k, v = T(np.ones((2, 3, 2))), T(np.ones((2, 4, 2))), T(np.ones((2, 4, 5)))
    with pytest.raises(error, match=match):
        call(q, k, v)


def test_sdpa_dropout_is_always_on():
    q, k, v = (T(RNG.standard_normal(s)) for s in ((4, 3), (6, 3), (6, 8)))
    engine.manual_seed(0)
    a = sdpa(q, k, v, dropout_p=0.5).data
    assert not np.allclose(a, sdpa(q, k, v).data)  # a function has no eval mode
    engine.manual_seed(0)
    np.testing.assert_array_equal(a, sdpa(q, k, v, dropout_p=0.5).data)  # seeded


# ---------------------------------------------------------------- MultiheadAttention
def ref_mha(m, q, k, v, add=None):
    """PyTorch's multi-head attention on (N, L, E) arrays, heads split by hand in numpy;
    ``add`` is an additive mask broadcasting to (N, H, L, S). Returns (out, weights per
    head (N, H, L, S))."""
    E, H = m.embed_dim, m.num_heads
    d = E // H
    if m._qkv_same_embed_dim:
        w = m.in_proj_weight.data
        wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
    else:
        wq, wk, wv = m.q_proj_weight.data, m.k_proj_weight.data, m.v_proj_weight.data
    b = np.zeros(3 * E) if m.in_proj_bias is None else m.in_proj_bias.data
    Q, K, V = q @ wq.T + b[:E], k @ wk.T + b[E:2 * E], v @ wv.T + b[2 * E:]
    heads, weights = [], []
    for h in range(H):
        s = slice(h * d, (h + 1) * d)
        z = Q[..., s] @ np.swapaxes(K[..., s], -1, -2) / np.sqrt(d)
        if add is not None:
            z = z + np.broadcast_to(add, add.shape[:-4] + (q.shape[0], H) + z.shape[-2:])[:, h]
        a = softmax(z)
        weights.append(a)
        heads.append(a @ V[..., s])
    out = np.concatenate(heads, -1) @ m.out_proj.weight.data.T
    if m.out_proj.bias is not None:
        out = out + m.out_proj.bias.data
    return out, np.stack(weights, 1)


@pytest.mark.parametrize("layout", ["batch_first", "seq_first", "unbatched"])
def test_mha_matches_heads_split_by_hand(layout):
    m = mha(6, 3, batch_first=layout == "batch_first")
    q, k = RNG.standard_normal((2, 4, 6)), RNG.standard_normal((2, 5, 6))
    pad = np.array([[False, False, True, False, True], [False, True, False, False, False]])
    add = np.where(pad, -np.inf, 0.0)[:, None, None, :]
    want_out, want_w = ref_mha(m, q, k, k, add)
    if layout == "unbatched":
        q, k, pad, add = q[0], k[0], pad[0], add[:1]
        want_out, want_w = want_out[0], want_w[0]
    elif layout == "seq_first":
        q, k = q.swapaxes(0, 1), k.swapaxes(0, 1)
        want_out = want_out.swapaxes(0, 1)
    out, w = m(T(q), T(k), T(k), key_padding_mask=pad)
    assert out.shape == want_out.shape and w.shape == want_w.mean(-3).shape
    np.testing.assert_allclose(out.data, want_out, atol=TOL, rtol=0)
    np.testing.assert_allclose(w.data, want_w.mean(-3), atol=TOL, rtol=0)
    out2, w2 = m(T(q), T(k), T(k), key_padding_mask=pad, average_attn_weights=False)
    np.testing.assert_allclose(w2.data, want_w, atol=TOL, rtol=0)
    out3, none = m(T(q), T(k), T(k), key_padding_mask=pad, need_weights=False)
    assert none is None
    np.testing.assert_allclose(out3.data, want_out, atol=TOL, rtol=0)


def test_mha_masks_by_hand():
    """attn_mask (L, S) bool (True = ignore) and float, and (N·H, L, S) per sample and head
    (sample n, head h at n·H + h), merged with a float key_padding_mask by adding."""
    m = mha(4, 2, batch_first=True)
    x = RNG.standard_normal((2, 3, 4))
    banned = np.array([[False, True, True], [False, False, True], [False, False, False]])
    want, _ = ref_mha(m, x, x, x, np.where(banned, -np.inf, 0.0))
    np.testing.assert_allclose(m(T(x), T(x), T(x), attn_mask=banned)[0].data, want, atol=TOL)
    per_head = RNG.standard_normal((2 * 2, 3, 3))
    kpm = RNG.standard_normal((2, 3))
    want, _ = ref_mha(m, x, x, x, per_head.reshape(2, 2, 3, 3) + kpm[:, None, None, :])
    got = m(T(x), T(x), T(x), attn_mask=per_head, key_padding_mask=kpm)[0]
    np.testing.assert_allclose(got.data, want, atol=TOL)


def test_mha_kdim_vdim_bias_kv_zero_attn_shapes():
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True,
                              batch_first=True)
    assert [n for n, _ in m.named_parameters()] == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k", "bias_v",
        "out_proj.weight", "out_proj.bias"]
    assert m.in_proj_weight is None and m.k_proj_weight.shape == (4, 3)
    q, k, v = engine.randn(2, 6, 4), engine.randn(2, 7, 3), engine.randn(2, 7, 5)
    out, w = m(q, k, v, key_padding_mask=np.zeros((2, 7), bool))
    assert out.shape == (2, 6, 4) and w.shape == (2, 6, 7 + 2)  # + bias row + zero row
    np.testing.assert_allclose(w.data.sum(-1), 1, rtol=1e-5)


def test_mha_initialisation_like_torch():
    engine.manual_seed(0)
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    a = np.sqrt(6 / (8 + 8 * 3))  # xavier_uniform_ on the (3E, E) weight
    assert np.abs(m.in_proj_weight.data).max() <= a and np.abs(m.in_proj_weight.data).max() > a / 2
    assert not m.in_proj_bias.data.any() and not m.out_proj.bias.data.any()
    assert m.in_proj_weight.dtype == np.float32


def test_mha_gradcheck_parameters_and_inputs():
    m = mha(4, 2, batch_first=True)
    x = T(RNG.standard_normal((2, 3, 4)), grad=True)
    params = list(m.parameters())
    assert engine.gradcheck(lambda x, *p: m(x, x, x)[0], x, *params)
    # cross-attention with masks, the weights as output, kdim/vdim, bias_kv, zero attention
    m2 = mha(4, 2, kdim=3, vdim=2, add_bias_kv=True, add_zero_attn=True)
    q, k, v = (T(RNG.standard_normal(s), grad=True) for s in ((3, 2, 4), (2, 2, 3), (2, 2, 2)))
    kpm = np.array([[False, True], [False, False]])
    am = np.array([[True, False], [True, True], [False, False]])  # bias/zero rows stay

    def weights(q, k, v, *p):
        out, w = m2(q, k, v, key_padding_mask=kpm, attn_mask=am, average_attn_weights=False)
        return engine.cat([out.reshape(-1), w.reshape(-1)])

    assert engine.gradcheck(weights, q, k, v, *m2.parameters())


def test_mha_fully_masked_query_like_torch():
    """need_weights=True: NaN (PyTorch's plain softmax); False: 0 before out_proj (the
    attention function's result), so out_proj.bias."""
    m = mha(4, 2, batch_first=True)
    x = T(RNG.standard_normal((2, 3, 4)))
    kpm = np.array([[False, False, True], [True, True, True]])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out, w = m(x, x, x, key_padding_mask=kpm)
    assert np.isnan(out.data[1]).all() and np.isnan(w.data[1]).all()
    assert np.isfinite(out.data[0]).all()
    out, _ = m(x, x, x, key_padding_mask=kpm, need_weights=False)
    np.testing.assert_allclose(out.data[1], np.broadcast_to(m.out_proj.bias.data, (3, 4)))


def test_mha_dropout_train_and_eval():
    m = mha(4, 2, dropout=0.5, batch_first=True)
    x = T(RNG.standard_normal((2, 5, 4)))
    m.eval()
    a, _ = m(x, x, x)
    np.testing.assert_array_equal(a.data, m(x, x, x)[0].data)
    m.train()
    c, _ = m(x, x, x)
    assert not np.allclose(a.data, c.data)
    # the weights returned are the dropped-out ones (PyTorch's): each 0 or 2× its eval value
    _, w_eval = m.eval()(x, x, x, average_attn_weights=False)
    _, w_train = m.train()(x, x, x, average_attn_weights=False)
    dropped = w_train.data == 0
    assert dropped.any() and not dropped.all()
    np.testing.assert_allclose(w_train.data[~dropped], 2 * w_eval.data[~dropped], rtol=1e-12)
    m.eval()
    np.testing.assert_array_equal(m(x, x, x)[0].data, a.data)
    m.train()
    d, _ = m(x, x, x, need_weights=False)  # dropout through the attention function
    assert not np.allclose(d.data, a.data)


def test_mha_is_causal_hint():
    m = mha(4, 2, batch_first=True)
    x = T(RNG.standard_normal((2, 3, 4)))
    causal = generate_square_subsequent_mask(3, dtype=np.float64)
    a = m(x, x, x, attn_mask=causal, need_weights=False, is_causal=True)[0]
    b = m(x, x, x, attn_mask=causal)[0]
    np.testing.assert_allclose(a.data, b.data, atol=TOL)
    with pytest.raises(ValueError, match="pass attn_mask too"):
        m(x, x, x, is_causal=True)
    # PyTorch would ignore this (non-causal) mask and apply the causal one: refused
    with pytest.raises(ValueError, match="is_causal=True says attn_mask is the causal mask"):
        m(x, x, x, attn_mask=np.zeros((3, 3)), need_weights=False, is_causal=True)


@pytest.mark.parametrize("make, match", [
    (lambda: nn.MultiheadAttention(10, 3, batch_first=True),
     "embed_dim must be divisible by num_heads, got embed_dim=10 and num_heads=3"),
    (lambda: nn.MultiheadAttention(0, 1, batch_first=True), "embed_dim must be greater than 0"),
    (lambda: nn.MultiheadAttention(4, 2, dropout=1.0, batch_first=True), r"in \[0, 1\)"),
    (lambda: nn.MultiheadAttention(4, 2, batch_first=True, device="cuda"), "CPU only"),
    (lambda: nn.TransformerEncoderLayer(10, 4, batch_first=True),
     "d_model must be divisible by nhead, got d_model=10 and nhead=4"),
    (lambda: nn.TransformerEncoderLayer(4, 2, activation="tanh", batch_first=True),
     "activation should be 'relu' or 'gelu'"),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, batch_first=True), 0),
     "num_layers must be greater than 0"),
])
def test_constructor_refusals(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("args, kw, match", [
    (((2, 3, 4), (2, 3, 4), (2, 3)), {}, r"all be batched 3-D \(N, L, E\)"),
    (((2, 3, 5), (2, 3, 4), (2, 3, 4)), {}, r"embed_dim=4.*got shapes \(2, 3, 5\)"),
    (((2, 3, 4), (3, 3, 4), (3, 3, 4)), {}, "different batch sizes"),
    (((2, 3, 4), (2, 5, 4), (2, 4, 4)), {}, "same sequence"),
    (((2, 3, 4), (2, 5, 4), (2, 5, 4)), {"key_padding_mask": np.zeros((2, 3), bool)},
     r"key_padding_mask must be \(N, S\) = \(2, 5\).*got \(2, 3\)"),
    (((2, 3, 4), (2, 5, 4), (2, 5, 4)), {"attn_mask": np.zeros((5, 3), bool)},
     r"attn_mask must be \(L, S\) = \(3, 5\) or \(N·num_heads, L, S\) = \(4, 3, 5\)"),
    (((2, 3, 4), (2, 5, 4), (2, 5, 4)), {"attn_mask": np.zeros((3, 5), np.int64)},
     "attn_mask must be a bool or a float mask"),
])
def test_mha_input_refusals(args, kw, match):
    m = nn.MultiheadAttention(4, 2, batch_first=True)
    q, k, v = (engine.zeros(*s) for s in args)
    with pytest.raises((ValueError, TypeError), match=match):
        m(q, k, v, **kw)


def test_batch_first_warns_when_not_given():
    with pytest.warns(UserWarning, match=r"MultiheadAttention: batch_first not given.*"
                                         r"\(sequence, batch, embedding\)"):
        m = nn.MultiheadAttention(4, 2)
    assert m.batch_first is False
    with pytest.warns(UserWarning, match="TransformerEncoderLayer: batch_first") as record:
        layer = nn.TransformerEncoderLayer(4, 2, 8)
    assert len(record) == 1 and layer.self_attn.batch_first is False
    assert record[0].filename == __file__  # pointed at the line that built the layer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.MultiheadAttention(4, 2, batch_first=False)
        nn.TransformerEncoderLayer(4, 2, 8, batch_first=True)


# ------------------------------------------------------------------ Transformer encoder
TORCH_LAYER_KEYS = [
    "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
    "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
    "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]


def test_encoder_layer_names_shapes_and_copies():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    assert list(layer.state_dict()) == TORCH_LAYER_KEYS
    for x in (engine.randn(3, 5, 8), engine.randn(5, 8)):  # batched and unbatched
        assert layer(x).shape == x.shape
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8))
    assert list(enc.state_dict()) == [f"layers.{i}.{k}" for i in (0, 1)
                                      for k in TORCH_LAYER_KEYS] + ["norm.weight", "norm.bias"]
    w0, w1 = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert w0 is not w1 and w0 is not layer.linear1.weight  # deep copies, equal at the start
    np.testing.assert_array_equal(w0.data, w1.data)
    assert enc(engine.randn(3, 5, 8)).shape == (3, 5, 8)


def test_encoder_layer_by_hand():
    """Post-norm: x = norm1(x + SA(x)); x = norm2(x + W2 relu(W1 x + b1) + b2)."""
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True).double()
    for p in layer.parameters():
        p.data[...] = RNG.standard_normal(p.shape)
    x = RNG.standard_normal((2, 3, 4))

    def ln(z, norm):
        mu, var = z.mean(-1, keepdims=True), z.var(-1, keepdims=True)
        return (z - mu) / np.sqrt(var + 1e-5) * norm.weight.data + norm.bias.data

    h = ln(x + ref_mha(layer.self_attn, x, x, x)[0], layer.norm1)
    ff = np.maximum(h @ layer.linear1.weight.data.T + layer.linear1.bias.data, 0)
    want = ln(h + ff @ layer.linear2.weight.data.T + layer.linear2.bias.data, layer.norm2)
    np.testing.assert_allclose(layer(T(x)).data, want, atol=TOL)


def test_encoder_dropout_train_and_eval():
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.3, batch_first=True)
    x = engine.randn(2, 5, 4)
    layer.eval()
    a = layer(x).data
    np.testing.assert_array_equal(a, layer(x).data)
    layer.train()
    assert not np.allclose(layer(x).data, a)


def test_encoder_gradcheck():
    layer = nn.TransformerEncoderLayer(4, 2, 3, dropout=0.0, batch_first=True,
                                       norm_first=True, activation="gelu").double()
    for p in layer.parameters():
        p.data[...] = RNG.standard_normal(p.shape) * 0.5
    enc = nn.TransformerEncoder(layer, 1)
    x = T(RNG.standard_normal((1, 3, 4)), grad=True)
    causal = generate_square_subsequent_mask(3, dtype=np.float64)
    assert engine.gradcheck(lambda x, *p: enc(x, mask=causal), x, *enc.parameters())


# ------------------------------------------------------------------------- against torch
def _copy(ours, theirs, torch):
    """theirs' parameters drawn N(0, 1), then loaded into ours (float64)."""
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_()
    ours.double().load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _compare(ours_params, theirs_params, ours_inputs, theirs_inputs, worst):
    for name, p in theirs_params:
        mine = ours_params[name]
        assert mine.grad is not None, name
        err = np.abs(mine.grad.data - p.grad.numpy())
        assert np.array_equal(np.isnan(mine.grad.data), np.isnan(p.grad.numpy())), name
        worst.append(np.nanmax(err, initial=0))
        assert np.nanmax(err, initial=0) < TOL, (name, np.nanmax(err))
    for mine, theirs in zip(ours_inputs, theirs_inputs, strict=True):
        if theirs.grad is not None:
            worst.append(np.nanmax(np.abs(mine.grad.data - theirs.grad.numpy()), initial=0))
            assert worst[-1] < TOL


def _close(mine, theirs, worst):
    theirs = theirs.detach().numpy()
    assert mine.shape == theirs.shape
    assert np.array_equal(np.isnan(mine.data), np.isnan(theirs))
    worst.append(np.nanmax(np.abs(mine.data - theirs), initial=0))
    assert worst[-1] < TOL, worst[-1]


KPM = np.array([[False, False, True, False], [False, True, True, False]])
AM = np.array([[False, True, False, False], [False, False, True, True], [True, False, False,
                                                                           False]])
MHA_CASES = {
    "self": ({}, {}, "self"),
    "self_batch_first_per_head": ({"batch_first": True}, {"average_attn_weights": False}, "self"),
    "cross_bool_masks": ({"batch_first": True}, {"key_padding_mask": KPM, "attn_mask": AM},
                         "cross"),
    "cross_masks_no_weights": ({}, {"key_padding_mask": KPM, "attn_mask": AM,
                                    "need_weights": False}, "cross"),
    "float_masks_3d": ({}, {"key_padding_mask": RNG.standard_normal((2, 4)),
                            "attn_mask": RNG.standard_normal((2 * 2, 3, 4))}, "cross"),
    "kdim_vdim": ({"kdim": 3, "vdim": 5, "batch_first": True}, {"key_padding_mask": KPM},
                  "cross"),
    "no_bias": ({"bias": False, "num_heads": 1}, {"attn_mask": AM}, "cross"),
    "bias_kv_zero_attn": ({"add_bias_kv": True, "add_zero_attn": True},
                          {"key_padding_mask": KPM, "attn_mask": AM}, "cross"),
    "unbatched": ({"add_zero_attn": True}, {"key_padding_mask": KPM[0],
                                             "attn_mask": RNG.standard_normal((2, 3, 4))},
                  "unbatched"),
    "fully_masked_sample": ({"batch_first": True},
                            {"key_padding_mask": np.array([[False] * 4, [True] * 4])}, "cross"),
    "fully_masked_no_weights": ({"batch_first": True},
                                {"key_padding_mask": np.array([[False] * 4, [True] * 4]),
                                 "need_weights": False}, "cross"),
}
MAX_ERRORS = {}


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_mha_against_torch(torch, case):
    ctor, call, kind = MHA_CASES[case]
    ctor = {"embed_dim": 4, "num_heads": 2, "batch_first": False, **ctor}
    ours, theirs = _copy(nn.MultiheadAttention(**ctor), torch.nn.MultiheadAttention(**ctor)
                         .double(), torch)
    ours.eval(), theirs.eval()
    E, kd, vd = 4, ctor.get("kdim", 4), ctor.get("vdim", 4)
    L, S, N = 3, 4, 2
    if kind == "unbatched":
        shapes = (L, E), (S, kd), (S, vd)
    elif ctor["batch_first"]:
        shapes = (N, L, E), (N, S, kd), (N, S, vd)
    else:
        shapes = (L, N, E), (S, N, kd), (S, N, vd)
    arrays = [RNG.standard_normal(s) for s in shapes]
    if kind == "self":
        arrays = arrays[:1] * 3
    mine = [T(a, grad=True) for a in arrays[:1 if kind == "self" else 3]]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays[:len(mine)]]
    mine, theirs_in = (mine * 3, theirs_in * 3) if kind == "self" else (mine, theirs_in)
    tcall = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in call.items()}
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")  # the all-masked NaN rows; mismatched mask types
        out, w = ours(*mine, **call)
        t_out, t_w = theirs(*theirs_in, **tcall)
        worst = []
        _close(out, t_out, worst)
        assert (w is None) == (t_w is None)
        if w is not None:
            _close(w, t_w, worst)
        cot = RNG.standard_normal(out.shape)
        loss = (out * T(cot)).sum() + (0 if w is None else (w * 0.5).sum())
        t_loss = (t_out * torch.tensor(cot)).sum() + (0 if t_w is None else (t_w * 0.5).sum())
        loss.backward()
        t_loss.backward()
    _compare(dict(ours.named_parameters()), list(theirs.named_parameters()), mine[:3],
             theirs_in[:3], worst)
    MAX_ERRORS[f"mha_{case}"] = max(worst)


SDPA_CASES = {
    "plain": {},
    "bool_mask": {"attn_mask": RNG.random((3, 5)) > 0.3},
    "float_mask": {"attn_mask": RNG.standard_normal((2, 1, 3, 5))},
    "causal": {"is_causal": True},
    "scale": {"scale": 0.3},
    "fully_masked_row": {"attn_mask": np.array([[True] * 5, [False] * 5, [True, False] * 2
                                                + [True]])},
    "gqa": {"enable_gqa": True},
}


@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_against_torch(torch, case):
    kw = SDPA_CASES[case]
    hk = 1 if case == "gqa" else 2
    arrays = [RNG.standard_normal(s) for s in ((2, 2, 3, 4), (2, hk, 5, 4), (2, hk, 5, 6))]
    mine = [T(a, grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    out, t_out = sdpa(*mine, **kw), torch.nn.functional.scaled_dot_product_attention(*theirs,
                                                                                     **tkw)
    worst = []
    _close(out, t_out, worst)
    cot = RNG.standard_normal(out.shape)
    (out * T(cot)).sum().backward()
    (t_out * torch.tensor(cot)).sum().backward()
    _compare({}, [], mine, theirs, worst)
    MAX_ERRORS[f"sdpa_{case}"] = max(worst)


ENC_CASES = {
    "post_norm_relu_seq_first": ({}, {"src_key_padding_mask": KPM}),
    "pre_norm_gelu_batch_first": ({"norm_first": True, "activation": "gelu",
                                   "batch_first": True}, {"src_mask": "causal"}),
    "no_bias_gelu_module": ({"bias": False, "activation": "GELU", "batch_first": True},
                            {"src_mask": "causal", "src_key_padding_mask": KPM}),
    "unbatched_float_mask": ({"norm_first": True}, {"src_mask": RNG.standard_normal((4, 4))}),
}


@pytest.mark.filterwarnings("ignore:.*mismatched src_key_padding_mask")  # bool kpm, float mask
@pytest.mark.parametrize("layers", [0, 2])  # 0: the layer alone; 2: an encoder with a norm
@pytest.mark.parametrize("case", list(ENC_CASES))
def test_transformer_encoder_against_torch(torch, case, layers):
    ctor, call = ENC_CASES[case]
    ctor = {"d_model": 4, "nhead": 2, "dim_feedforward": 6, "batch_first": False, **ctor}
    mine_ctor, their_ctor = dict(ctor), dict(ctor)
    if ctor.get("activation") == "GELU":
        mine_ctor["activation"] = nn.GELU(approximate="tanh")
        their_ctor["activation"] = torch.nn.GELU(approximate="tanh")
    ours = nn.TransformerEncoderLayer(**mine_ctor)
    theirs = torch.nn.TransformerEncoderLayer(**their_ctor).double()
    mask_key = "src_mask"
    if layers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's enable_nested_tensor note
            ours = nn.TransformerEncoder(ours, layers, norm=nn.LayerNorm(4))
            theirs = torch.nn.TransformerEncoder(theirs, layers, norm=torch.nn.LayerNorm(4)
                                                 .double())
        mask_key = "mask"
    _copy(ours, theirs, torch)
    ours.eval(), theirs.eval()
    N, S = 2, 4
    unbatched = case.startswith("unbatched")
    shape = (S, 4) if unbatched else (N, S, 4) if ctor["batch_first"] else (S, N, 4)
    x = RNG.standard_normal(shape)
    call = {(mask_key if k == "src_mask" else k): v for k, v in call.items()}
    if call.get(mask_key) is not None and isinstance(call[mask_key], str):
        call[mask_key] = generate_square_subsequent_mask(S, dtype=np.float64).data
    tcall = {k: torch.tensor(v) for k, v in call.items()}
    mine, t_in = T(x, grad=True), torch.tensor(x, requires_grad=True)
    out, t_out = ours(mine, **call), theirs(t_in, **tcall)
    worst = []
    _close(out, t_out, worst)
    cot = RNG.standard_normal(out.shape)
    (out * T(cot)).sum().backward()
    (t_out * torch.tensor(cot)).sum().backward()
    _compare(dict(ours.named_parameters()), list(theirs.named_parameters()), [mine], [t_in],
             worst)
    MAX_ERRORS[f"encoder{layers}_{case}"] = max(worst)


def test_state_dict_round_trip_to_torch(torch):
    """Ours → torch: the same names and shapes both ways (to_torch is not needed)."""
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 6, batch_first=True), 2)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(
        4, 2, 6, batch_first=True), 2, enable_nested_tensor=False)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    ours.eval(), theirs.eval()
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(engine.tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), atol=1e-5)
