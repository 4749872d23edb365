"""nn.TransformerDecoderLayer, nn.TransformerDecoder and nn.Transformer (PyTorch's translation
tutorial model): the layer's wiring (post- and pre-norm) against its submodules, what the masks
mean (a causal target sees no future; masked memory is not read), gradcheck in float64, and
PyTorch's own modules with the same weights (outputs and every gradient), names, order and
conversion."""
import warnings

import numpy as np
import pytest

import engine
import nn

F64 = np.float64


def t64(a, grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=grad)


def small(norm_first=False, **kw):
    engine.manual_seed(0)
    kw = {"dim_feedforward": 12, "dropout": 0.0, "batch_first": True, **kw}
    return nn.Transformer(8, 2, 2, 2, norm_first=norm_first, **kw).double()


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_is_its_three_blocks(norm_first):
    engine.manual_seed(1)
    layer = nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0, batch_first=True,
                                       norm_first=norm_first).double()
    rng = np.random.default_rng(0)
    x, mem = t64(rng.standard_normal((2, 3, 8))), t64(rng.standard_normal((2, 5, 8)))

    def sa(h):
        return layer.self_attn(h, h, h, need_weights=False)[0]

    def mha(h):
        return layer.multihead_attn(h, mem, mem, need_weights=False)[0]

    def ff(h):
        return layer.linear2(nn.F.relu(layer.linear1(h)))
    if norm_first:
        h = x + sa(layer.norm1(x))
        h = h + mha(layer.norm2(h))
        want = h + ff(layer.norm3(h))
    else:
        h = layer.norm1(x + sa(x))
        h = layer.norm2(h + mha(h))
        want = layer.norm3(h + ff(h))
    np.testing.assert_allclose(layer(x, mem).data, want.data, rtol=1e-13, atol=1e-14)


def test_causal_target_sees_no_future_and_masked_memory_is_not_read():
    model = small()
    model.eval()
    rng = np.random.default_rng(2)
    src, tgt = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 4, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=F64)
    pad = np.zeros((2, 5), bool)
    pad[:, 3:] = True  # the last two source positions are padding
    out = model(t64(src), t64(tgt), tgt_mask=mask, memory_key_padding_mask=engine.tensor(pad),
                src_key_padding_mask=engine.tensor(pad)).data
    tgt2, src2 = tgt.copy(), src.copy()
    tgt2[:, 2:] += 5.0  # change the future of positions 0 and 1
    src2[:, 3:] -= 7.0  # change only the padding
    out2 = model(t64(src2), t64(tgt2), tgt_mask=mask, memory_key_padding_mask=engine.tensor(pad),
                 src_key_padding_mask=engine.tensor(pad)).data
    np.testing.assert_allclose(out2[:, :2], out[:, :2], rtol=1e-12, atol=1e-13)
    assert np.abs(out2[:, 2:] - out[:, 2:]).max() > 1e-3  # the changed positions do change
    unmasked = model(t64(src), t64(tgt2)).data
    assert np.abs(unmasked[:, :2] - out[:, :2]).max() > 1e-3  # without the mask they see it


def test_transformer_gradcheck():
    engine.manual_seed(3)
    model = nn.Transformer(4, 2, 1, 1, dim_feedforward=6, dropout=0.0,
                           batch_first=True).double()
    rng = np.random.default_rng(3)
    src, tgt = t64(rng.standard_normal((1, 3, 4)), True), t64(rng.standard_normal((1, 2, 4)),
                                                               True)
    mask = nn.Transformer.generate_square_subsequent_mask(2, dtype=F64)
    assert engine.gradcheck(lambda s, t: model(s, t, tgt_mask=mask), src, tgt)


def test_parameters_in_pytorchs_order_and_xavier_start():
    model = small()
    layer_keys = [k for k in model.state_dict() if k.startswith("decoder.layers.0.")]
    assert [k.split(".", 3)[3] for k in layer_keys] == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
        "self_attn.out_proj.bias", "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias",
        "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias", "linear1.weight",
        "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias",
        "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias"]
    assert "encoder.norm.weight" in model.state_dict() and "decoder.norm.bias" in \
        model.state_dict()
    w = model.decoder.layers[1].linear1.weight.data  # (12, 8): Xavier-uniform bound √(6/20)
    assert np.abs(w).max() <= np.sqrt(6 / 20) and np.abs(w).max() > 0.5 * np.sqrt(6 / 20)


def test_transformer_refusals_and_layout_warning():
    model = small()
    with pytest.raises(RuntimeError, match="batch number of src and tgt must be equal, got 2 "
                                           "and 3"):
        model(t64(np.zeros((2, 5, 8))), t64(np.zeros((3, 4, 8))))
    with pytest.raises(RuntimeError, match="feature number of src and tgt must be equal to "
                                           "d_model 8"):
        model(t64(np.zeros((2, 5, 8))), t64(np.zeros((2, 4, 6))))
    with pytest.raises(ValueError, match="both be batched"):
        model(t64(np.zeros((2, 5, 8))), t64(np.zeros((4, 8))))
    with pytest.raises(ValueError, match="TransformerDecoderLayer: d_model must be divisible"):
        nn.TransformerDecoderLayer(9, 2, batch_first=True)
    with pytest.raises(TypeError, match="TransformerDecoder: decoder_layer must be a Module"):
        nn.TransformerDecoder("layer", 2)
    with pytest.warns(UserWarning, match="Transformer: batch_first not given"):
        nn.Transformer(8, 2, 1, 1, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Transformer(8, 2, 1, 1, 12, batch_first=False)  # said: no warning


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(norm_first, batch_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Transformer(8, 2, 2, 2, dim_feedforward=12, dropout=0.0,
                                  batch_first=batch_first, norm_first=norm_first).double()
    ours = small(norm_first, batch_first=batch_first)
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd)
    ours.load_state_dict({k: v.numpy() for k, v in sd.items()})
    rng = np.random.default_rng(4)
    N, S, T = 3, 5, 4
    src = rng.standard_normal((N, S, 8) if batch_first else (S, N, 8))
    tgt = rng.standard_normal((N, T, 8) if batch_first else (T, N, 8))
    pad, tpad = np.zeros((N, S), bool), np.zeros((N, T), bool)
    pad[0, -2:], tpad[1, -1] = True, True
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for masks in ({}, {"tgt_mask": mask},
                  {"tgt_mask": mask, "src_key_padding_mask": pad, "memory_key_padding_mask": pad,
                   "tgt_key_padding_mask": tpad}):
        xs, xt = t64(src, True), torch.tensor(src, requires_grad=True)
        ys, yt = t64(tgt, True), torch.tensor(tgt, requires_grad=True)
        with warnings.catch_warnings():  # both warn about the float/bool mask mix
            warnings.simplefilter("ignore")
            out = ours(xs, ys, **{k: engine.tensor(v, dtype=F64 if v.dtype == F64 else None)
                                  for k, v in masks.items()})
            ref = theirs(xt, yt, **{k: torch.tensor(v) for k, v in masks.items()})
        G = rng.standard_normal(ref.shape)
        (out * t64(G)).sum().backward()
        (ref * torch.tensor(G)).sum().backward()
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(ys.grad.data, yt.grad.numpy(), rtol=1e-11, atol=1e-13)
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-13,
                                       err_msg=name)
        ours.zero_grad()
        theirs.zero_grad()


def test_transformer_through_torch_and_back():
    torch = pytest.importorskip("torch")
    engine.manual_seed(5)
    ours = nn.Transformer(8, 2, 2, 1, dim_feedforward=12, dropout=0.0, batch_first=True,
                          activation="gelu")
    theirs = nn.to_torch(ours).eval()
    assert type(theirs) is torch.nn.Transformer and len(theirs.decoder.layers) == 1
    rng = np.random.default_rng(5)
    src = rng.standard_normal((2, 5, 8)).astype(np.float32)
    tgt = rng.standard_normal((2, 3, 8)).astype(np.float32)
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    want = ours(engine.tensor(src), engine.tensor(tgt), tgt_mask=mask).data
    got = theirs(torch.tensor(src), torch.tensor(tgt), tgt_mask=torch.tensor(mask.data))
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-5, atol=1e-6)
    back = nn.from_torch(theirs)
    assert type(back) is nn.Transformer and back.decoder.layers[0].activation == "gelu"
    np.testing.assert_array_equal(back(engine.tensor(src), engine.tensor(tgt),
                                       tgt_mask=mask).data, want)
