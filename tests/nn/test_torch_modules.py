"""nn modules against torch.nn modules of the same name, built with the same weights (copied
through the state dict): outputs, the input's gradient, every parameter's gradient and the
buffers (running statistics) after a few training steps, in float64. Skipped without torch."""
import numpy as np
import pytest

import engine
import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

RNG = np.random.default_rng(0)
X2, X3, X4 = (RNG.standard_normal(s) for s in ((4, 6), (2, 3, 10), (2, 3, 8, 8)))

# (name, constructor taking the nn module namespace, input, options)
CASES = [
    ("GroupNorm", lambda L: L.GroupNorm(3, 6), RNG.standard_normal((2, 6, 5)), {}),
    ("GroupNorm_one_group", lambda L: L.GroupNorm(1, 3), X4, {}),
    ("GroupNorm_no_affine", lambda L: L.GroupNorm(3, 3, affine=False), X4, {}),
    ("InstanceNorm2d", lambda L: L.InstanceNorm2d(3), X4, {}),
    ("InstanceNorm2d_affine", lambda L: L.InstanceNorm2d(3, affine=True), X4, {}),
    ("InstanceNorm1d", lambda L: L.InstanceNorm1d(3), X3, {}),
    # PyTorch 2's keyword bias=False: a scale without a shift (it was a TypeError)
    ("BatchNorm1d_no_bias_train", lambda L: L.BatchNorm1d(6, bias=False), X2,
     {"train": True, "steps": 2}),
    ("BatchNorm2d_no_bias", lambda L: L.BatchNorm2d(3, 1e-3, None, bias=False), X4, {}),
    ("GroupNorm_no_bias", lambda L: L.GroupNorm(3, 6, bias=False),
     RNG.standard_normal((2, 6, 5)), {}),
    ("InstanceNorm2d_no_bias", lambda L: L.InstanceNorm2d(3, affine=True, bias=False), X4, {}),
    # PyTorch's unbatched (C, L) and (C, H, W) input (it was refused)
    ("InstanceNorm1d_unbatched", lambda L: L.InstanceNorm1d(3, affine=True), X3[0], {}),
    ("InstanceNorm2d_unbatched", lambda L: L.InstanceNorm2d(3), X4[0], {}),
    ("BatchNorm2d_no_running_stats_train", lambda L: L.BatchNorm2d(3, track_running_stats=False),
     X4, {"train": True}),
    ("BatchNorm2d_no_running_stats_eval", lambda L: L.BatchNorm2d(3, track_running_stats=False),
     X4, {}),
    ("BatchNorm1d_train_3_steps", lambda L: L.BatchNorm1d(6), X2, {"train": True, "steps": 3}),
    ("Conv2d_reflect", lambda L: L.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), X4, {}),
    ("Conv2d_replicate_stride", lambda L: L.Conv2d(3, 4, 3, stride=2, padding=(1, 2),
                                                   padding_mode="replicate"), X4, {}),
    ("Conv2d_circular", lambda L: L.Conv2d(3, 2, 5, padding=2, padding_mode="circular"), X4, {}),
    ("Conv2d_reflect_same", lambda L: L.Conv2d(3, 2, 4, padding="same", padding_mode="reflect"),
     X4, {}),
    ("Conv1d_circular_dilated", lambda L: L.Conv1d(3, 4, 3, padding=2, dilation=2,
                                                   padding_mode="circular"), X3, {}),
    ("Conv1d_reflect_same", lambda L: L.Conv1d(3, 2, 4, padding="same", padding_mode="reflect"),
     X3, {}),
    ("BatchNorm2d_no_affine_train", lambda L: L.BatchNorm2d(3, affine=False, momentum=0.3),
     X4, {"train": True, "steps": 2}),
    ("LayerNorm_no_bias", lambda L: L.LayerNorm((3, 10), bias=False), X3, {}),
    # a numpy int (x.shape[-1] of a numpy computation) was "'numpy.int64' is not iterable"
    ("LayerNorm_numpy_int", lambda L: L.LayerNorm(np.int64(10), 1e-3), X3, {}),
    ("Dropout_p1_train", lambda L: L.Dropout(1.0), X2, {"train": True}),
    ("Softmax2d", lambda L: L.Softmax2d(), X4, {}),
    ("Threshold", lambda L: L.Threshold(0.1, 20.0), X2, {}),
    ("PixelShuffle", lambda L: L.PixelShuffle(2), RNG.standard_normal((2, 8, 3, 3)), {}),
    ("PixelUnshuffle", lambda L: L.PixelUnshuffle(2), X4, {}),
    ("ZeroPad2d", lambda L: L.ZeroPad2d((1, 2, 0, 3)), X4, {}),
    ("ConstantPad1d", lambda L: L.ConstantPad1d(2, 3.5), X3, {}),
    ("ReflectionPad2d", lambda L: L.ReflectionPad2d(2), X4, {}),
    ("ReflectionPad1d", lambda L: L.ReflectionPad1d((1, 3)), X3, {}),
    ("ReplicationPad2d", lambda L: L.ReplicationPad2d((1, 0, 2, 1)), X4, {}),
    ("ReplicationPad1d", lambda L: L.ReplicationPad1d(2), X3, {}),
    ("ZeroPad1d", lambda L: L.ZeroPad1d(1), X3, {}),
    ("PairwiseDistance", lambda L: L.PairwiseDistance(p=1.5), X2, {"extra": [X2[::-1].copy()]}),
    ("CosineSimilarity", lambda L: L.CosineSimilarity(dim=0), X2, {"extra": [X2[::-1].copy()]}),
    ("Bilinear", lambda L: L.Bilinear(6, 4, 3), X2, {"extra": [RNG.standard_normal((4, 4))]}),
    ("Bilinear_no_bias", lambda L: L.Bilinear(6, 6, 2, bias=False), X2, {"extra": [X2 * 2]}),
    ("AdaptiveAvgPool1d", lambda L: L.AdaptiveAvgPool1d(4), X3, {}),
    ("AdaptiveMaxPool1d", lambda L: L.AdaptiveMaxPool1d(3), X3, {}),
    # losses: the input gets the gradient; the other arguments are constants
    ("MarginRankingLoss", lambda L: L.MarginRankingLoss(0.3), X2[:, 0].copy(),
     {"extra": [X2[:, 1].copy(), np.array([1.0, -1.0, 1.0, -1.0])]}),
    ("HingeEmbeddingLoss", lambda L: L.HingeEmbeddingLoss(0.5, reduction="sum"), X2,
     {"extra": [np.where(X2 > 0, 1.0, -1.0)]}),
    ("SoftMarginLoss", lambda L: L.SoftMarginLoss(), X2 * 30, {"extra": [np.sign(X2)]}),
    ("MultiLabelSoftMarginLoss", lambda L: L.MultiLabelSoftMarginLoss(), X2,
     {"extra": [(X2 > 0).astype(float)]}),
    ("TripletMarginLoss", lambda L: L.TripletMarginLoss(margin=2.0), X2,
     {"extra": [X2 * 0.5, X2[::-1].copy()]}),
    ("TripletMarginLoss_swap_p1", lambda L: L.TripletMarginLoss(p=1, swap=True,
                                                                reduction="none"), X2,
     {"extra": [X2 * 0.5, X2[::-1].copy()]}),
    ("GaussianNLLLoss", lambda L: L.GaussianNLLLoss(), X2,
     {"extra": [X2 * 0.5, np.abs(X2) + 0.1]}),
    ("GaussianNLLLoss_full_small_var", lambda L: L.GaussianNLLLoss(full=True, eps=0.05), X2,
     {"extra": [X2 * 0.5, np.abs(X2) * 0.1]}),
    ("PoissonNLLLoss", lambda L: L.PoissonNLLLoss(), X2, {"extra": [np.abs(X2) * 3]}),
    ("PoissonNLLLoss_rates_full", lambda L: L.PoissonNLLLoss(log_input=False, full=True),
     np.abs(X2) + 0.1, {"extra": [np.round(np.abs(X2) * 3)]}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_module_matches_torch(case):
    name, make, x, opts = case
    torch.manual_seed(0)
    theirs = make(tnn).double()
    ours = make(nn).to(np.float64)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()
                          if "num_batches" not in k})
    theirs.train(opts.get("train", False))
    ours.train(opts.get("train", False))
    for _ in range(opts.get("steps", 1)):
        tx = torch.tensor(x, requires_grad=True)
        ox = engine.tensor(x, dtype=np.float64, requires_grad=True)
        extra = opts.get("extra", [])
        to = theirs(tx, *(torch.tensor(e) for e in extra))
        oo = ours(ox, *(engine.tensor(e, dtype=np.float64) for e in extra))
        assert oo.shape == tuple(to.shape), name
        np.testing.assert_allclose(oo.data, to.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = RNG.standard_normal(oo.shape)
        to.backward(torch.tensor(g))
        oo.backward(g)
        np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in theirs.state_dict().items():
        if "num_batches" not in key:
            np.testing.assert_allclose(np.asarray(ours.state_dict()[key]), value.numpy(),
                                       rtol=1e-10, atol=1e-12, err_msg=key)
    own = dict(ours.named_parameters())
    for key, p in theirs.named_parameters():
        np.testing.assert_allclose(own[key].grad.data, p.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=key)



def test_gaussian_nll_loss_gradient_reaches_a_clamped_var():
    """PyTorch clamps var to eps on a copy it does not record, so the gradient of var is the
    unclamped formula's at the clamped value, and it reaches var: the same here."""
    x, y = np.array([0.5, -1.0]), np.array([0.0, 0.0])
    v = np.array([1e-9, 2.0])
    ov = engine.tensor(v, dtype=np.float64, requires_grad=True)
    tv = torch.tensor(v, requires_grad=True)
    nn.F.gaussian_nll_loss(engine.tensor(x, dtype=np.float64), y, ov).backward()
    torch.nn.functional.gaussian_nll_loss(torch.tensor(x), torch.tensor(y), tv).backward()
    np.testing.assert_allclose(ov.grad.data, tv.grad.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative entries"):
        nn.F.gaussian_nll_loss(engine.tensor(x), y, -np.ones(2))
    with pytest.raises(ValueError, match="margin_ranking_loss: targets must be 1 or −1"):
        nn.F.margin_ranking_loss(engine.tensor(x), engine.tensor(y), np.array([1.0, 0.0]))


@pytest.mark.parametrize("name,shape", [("InstanceNorm1d", (2, 3, 1)),
                                        ("InstanceNorm2d", (2, 3, 1, 1))])
def test_instance_norm_layers_refuse_one_spatial_element_as_torch(name, shape):
    """One value per (sample, channel): its variance is 0 and the output would be the bias
    alone; torch refuses, so does stepgrad (F.instance_norm with torch's signature)."""
    with pytest.raises(ValueError, match="Expected more than 1 spatial element"):
        getattr(tnn, name)(3)(torch.ones(shape))
    with pytest.raises(ValueError, match=r"instance_norm: expected more than 1 spatial element "
                                         r"when training"):
        getattr(nn, name)(3)(engine.ones(*shape))
