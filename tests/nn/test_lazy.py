"""PyTorch's lazy layers (nn.LazyLinear, LazyConv1d/2d, LazyConvTranspose1d/2d,
LazyBatchNorm1d/2d): the first call infers the input size and the layer becomes the eager one
in place. Compared with the eager layer of that size (same seed: same weights, no torch
needed), with numpy references, and with torch's lazy modules (values and gradients, float64),
plus optimizers built before the first call, load_state_dict into a layer not initialized
yet, the refusals, and the d2l.ai snippets that use them."""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn

RNG = np.random.default_rng(0)

# (id, lazy layer, the eager layer for input size n, input shape): each option passed through
CASES = [
    ("Linear", lambda L: L.LazyLinear(5), lambda L, n: L.Linear(n, 5), (4, 7)),
    ("Linear_no_bias_3d", lambda L: L.LazyLinear(3, bias=False),
     lambda L, n: L.Linear(n, 3, bias=False), (2, 4, 6)),
    ("Conv2d_lenet", lambda L: L.LazyConv2d(6, kernel_size=5, padding=2),
     lambda L, n: L.Conv2d(n, 6, kernel_size=5, padding=2), (2, 1, 12, 12)),
    ("Conv2d_stride_dilation_groups", lambda L: L.LazyConv2d(4, 3, stride=2, padding=(1, 2),
                                                             dilation=2, groups=2, bias=False),
     lambda L, n: L.Conv2d(n, 4, 3, stride=2, padding=(1, 2), dilation=2, groups=2, bias=False),
     (2, 4, 9, 9)),
    ("Conv2d_same_reflect", lambda L: L.LazyConv2d(4, 3, padding="same", padding_mode="reflect"),
     lambda L, n: L.Conv2d(n, 4, 3, padding="same", padding_mode="reflect"), (2, 3, 6, 6)),
    ("Conv2d_circular_unbatched", lambda L: L.LazyConv2d(2, 3, padding=1,
                                                         padding_mode="circular"),
     lambda L, n: L.Conv2d(n, 2, 3, padding=1, padding_mode="circular"), (3, 5, 5)),
    ("Conv1d_same_dilated_groups", lambda L: L.LazyConv1d(4, 3, padding="same", dilation=2,
                                                          groups=2),
     lambda L, n: L.Conv1d(n, 4, 3, padding="same", dilation=2, groups=2), (2, 4, 10)),
    ("Conv1d_replicate_unbatched", lambda L: L.LazyConv1d(4, 3, stride=2, padding=1,
                                                          padding_mode="replicate"),
     lambda L, n: L.Conv1d(n, 4, 3, stride=2, padding=1, padding_mode="replicate"), (3, 10)),
    ("ConvTranspose2d", lambda L: L.LazyConvTranspose2d(4, 3, stride=2, padding=1,
                                                        output_padding=1, groups=2),
     lambda L, n: L.ConvTranspose2d(n, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 5, 5)),
    ("ConvTranspose1d", lambda L: L.LazyConvTranspose1d(3, 4, stride=2, bias=False, dilation=2),
     lambda L, n: L.ConvTranspose1d(n, 3, 4, stride=2, bias=False, dilation=2), (2, 5, 6)),
    ("BatchNorm2d", lambda L: L.LazyBatchNorm2d(), lambda L, n: L.BatchNorm2d(n), (4, 3, 5, 5)),
    ("BatchNorm2d_eps_cumulative", lambda L: L.LazyBatchNorm2d(eps=1e-3, momentum=None),
     lambda L, n: L.BatchNorm2d(n, eps=1e-3, momentum=None), (3, 2, 4, 4)),
    ("BatchNorm1d_no_bias", lambda L: L.LazyBatchNorm1d(momentum=0.3, bias=False),
     lambda L, n: L.BatchNorm1d(n, momentum=0.3, bias=False), (6, 4)),
    ("BatchNorm1d_3d_no_affine", lambda L: L.LazyBatchNorm1d(affine=False),
     lambda L, n: L.BatchNorm1d(n, affine=False), (4, 3, 5)),
    ("BatchNorm1d_no_running_stats", lambda L: L.LazyBatchNorm1d(track_running_stats=False),
     lambda L, n: L.BatchNorm1d(n, track_running_stats=False), (5, 3)),
]
INFERRED = {"Linear": "in_features", "BatchNorm1d": "num_features",
            "BatchNorm2d": "num_features"}  # the convolutions: in_channels


def _inferred(m):
    return INFERRED.get(type(m).__name__.removeprefix("Lazy"), "in_channels")


def _size(case_id, shape):
    """The input size the layer must infer: Linear's last dim, else the channel dim."""
    if case_id.startswith("Linear"):
        return shape[-1]
    spatial = 2 if "2d" in case_id else 1
    return shape[-spatial - 1] if not case_id.startswith("BatchNorm") else shape[1]


def _run(model, x, g):
    """Output, input gradient and parameter gradients (by name) of model(x)·g."""
    xt = engine.tensor(x, dtype=np.float64, requires_grad=True)
    out = model(xt)
    out.backward(g)
    return out.data, xt.grad.data, {k: p.grad.data for k, p in model.named_parameters()}


# ------------------------------------------------------------------ the eager layer, no torch
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_first_call_is_the_eager_layer_of_the_input_size(case):
    """The first call infers the size, becomes the eager class (not a subclass), and is that
    layer: the same draws as the eager constructor (same seed, same weights), the same output,
    gradients and running statistics, call after call."""
    case_id, lazy, eager, shape = case
    n = _size(case_id, shape)
    x = RNG.standard_normal(shape)
    g = RNG.standard_normal(eager(nn, n)(engine.tensor(x, dtype=np.float32)).shape)
    ours = lazy(nn).double()
    assert getattr(ours, _inferred(ours)) is None and ours.has_uninitialized_params()
    engine.manual_seed(7)  # before the draws: ours at its first call, ref's at construction
    first = _run(ours, x, g)
    engine.manual_seed(7)
    ref = eager(nn, n).double()
    assert type(ours) is type(ref) and type(ours).__name__ == case_id.split("_")[0]
    results = [(first, _run(ref, x, g))]
    ours.zero_grad()
    ref.zero_grad()
    results.append((_run(ours, x, g), _run(ref, x, g)))  # and call after call
    for pair in results:
        for a, b in zip(*pair, strict=True):
            if isinstance(a, dict):
                assert a.keys() == b.keys()
                for k in a:
                    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
            else:
                np.testing.assert_array_equal(a, b)
    assert getattr(ours, _inferred(ours)) == n and repr(ours) == repr(ref)
    for (k, a), (k2, b) in zip(ours.state_dict().items(), ref.state_dict().items(), strict=True):
        assert k == k2 and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_init_bounds_are_the_eager_layers():
    """stepgrad's layers draw Glorot-uniform weights, U(±√(6/(fan_in + fan_out))), and zero
    biases (Keras's, stepgrad's documented default; PyTorch draws Kaiming-uniform, ±1/√fan_in),
    and so do the lazy ones; BatchNorm starts at γ = 1, β = 0, mean 0, variance 1."""
    engine.manual_seed(0)
    lin = nn.LazyLinear(300)
    lin(engine.zeros(2, 500))
    bound = np.sqrt(6 / (500 + 300))
    w = lin.weight.data
    assert w.shape == (300, 500) and np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 0.01 * bound and abs(w.var() - bound ** 2 / 3) < 0.02 * bound ** 2
    np.testing.assert_array_equal(lin.bias.data, np.zeros(300, np.float32))
    conv = nn.LazyConv2d(16, 5, groups=2)
    conv(engine.zeros(1, 8, 9, 9))
    bound = np.sqrt(6 / (4 * 25 + 8 * 25))  # fans C/groups·k·k and F/groups·k·k
    assert conv.weight.shape == (16, 4, 5, 5)
    assert bound * 0.95 < np.abs(conv.weight.data).max() <= bound
    up = nn.LazyConvTranspose2d(6, 3, groups=3)
    up(engine.zeros(1, 9, 4, 4))
    bound = np.sqrt(6 / (3 * 9 + 2 * 9))  # weight (C_in, C_out/groups, k, k)
    assert up.weight.shape == (9, 2, 3, 3) and np.abs(up.weight.data).max() <= bound
    bn = nn.LazyBatchNorm2d().eval()
    bn(engine.randn(2, 3, 4, 4))
    for t, v in ((bn.weight, 1), (bn.bias, 0), (bn.running_mean, 0), (bn.running_var, 1)):
        np.testing.assert_array_equal(t.data, np.full(3, v, np.float32))
    assert int(bn.num_batches_tracked.item()) == 0  # eval: nothing counted


@given(lead=st.lists(st.integers(1, 3), min_size=1, max_size=3), n_in=st.integers(1, 6),
       n_out=st.integers(1, 5), seed=st.integers(0, 2 ** 31 - 1))
def test_lazy_linear_against_numpy(lead, n_in, n_out, seed):
    """x (..., in) → x Wᵀ + b, W (out, in) found at the first call; dW = Σ gᵀx, db = Σ g,
    dx = g W, all on the Parameter objects listed before that call."""
    rng = np.random.default_rng(seed)
    x, layer = rng.standard_normal((*lead, n_in)), nn.LazyLinear(n_out).double()
    held = list(layer.parameters())
    xt = engine.tensor(x, dtype=np.float64, requires_grad=True)
    y = layer(xt)
    w, b = layer.weight.data, layer.bias.data
    assert w.shape == (n_out, n_in) and layer.in_features == n_in
    np.testing.assert_allclose(y.data, x @ w.T + b, rtol=1e-12, atol=1e-14)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    assert held[0] is layer.weight and held[1] is layer.bias
    np.testing.assert_allclose(held[0].grad.data, g.reshape(-1, n_out).T @ x.reshape(-1, n_in),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(held[1].grad.data, g.reshape(-1, n_out).sum(0), rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(xt.grad.data, g @ w, rtol=1e-12, atol=1e-14)


@given(n=st.integers(1, 3), c=st.integers(1, 4), length=st.integers(3, 9),
       k=st.integers(1, 3), stride=st.integers(1, 2), dilation=st.integers(1, 2),
       seed=st.integers(0, 2 ** 31 - 1))
def test_lazy_conv1d_against_numpy(n, c, length, k, stride, dilation, seed):
    """y[n, f, t] = b[f] + Σ_c Σ_j w[f, c, j]·x[n, c, t·stride + j·dilation], with C read off
    the first input."""
    if dilation * (k - 1) >= length:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, length))
    conv = nn.LazyConv1d(3, k, stride=stride, dilation=dilation).double()
    y = conv(engine.tensor(x, dtype=np.float64)).data
    w, b = conv.weight.data, conv.bias.data
    assert conv.in_channels == c and w.shape == (3, c, k)
    out_len = (length - dilation * (k - 1) - 1) // stride + 1
    ref = np.stack([np.einsum("ncj,fcj->nf", x[:, :, t * stride + dilation * np.arange(k)], w)
                    for t in range(out_len)], axis=-1) + b[:, None]
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-13)


# ------------------------------------------------------------------------------------- torch
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_lazy_layer_matches_torch(case):
    """Both lazy layers (float64) see the same first input: both become the same eager class
    with the same sizes and state entries. torch given our weights then gives our first call's
    output and gradients; BatchNorm's running statistics after the first call agree (both
    start at 0 and 1); then, on torch's weights, a few training steps agree. A fresh lazy
    layer loading torch's state dict agrees in eval mode."""
    torch = pytest.importorskip("torch")
    case_id, lazy, _, shape = case
    x = RNG.standard_normal(shape)
    theirs, ours = lazy(torch.nn).double(), lazy(nn).double()
    theirs(torch.tensor(x))  # torch: initialized by its first call
    ox = engine.tensor(x, dtype=np.float64, requires_grad=True)
    oo = ours(ox)
    own = dict(ours.named_parameters())
    assert type(ours).__name__ == type(theirs).__name__ == case_id.split("_")[0]
    assert type(ours) is getattr(nn, case_id.split("_")[0])
    assert getattr(ours, _inferred(ours)) == getattr(theirs, _inferred(ours))
    assert {k: tuple(v.shape) for k, v in theirs.state_dict().items()} == \
        {k: v.shape for k, v in ours.state_dict().items()}
    for key, value in theirs.state_dict().items():  # the buffers: BatchNorm's statistics
        if key in dict(ours.named_buffers()):
            np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-12,
                                       atol=1e-14, err_msg=key)
    # torch with our weights, on the same input: our first call's output and gradients
    with torch.no_grad():
        for key, p in theirs.named_parameters():
            p.copy_(torch.tensor(own[key].data))
    g = RNG.standard_normal(oo.shape)

    def same_step(oo, ox):
        """torch's forward and backward on x agree with ours (output, x's and the
        parameters' gradients)."""
        tx = torch.tensor(x, requires_grad=True)
        to = theirs(tx)
        to.backward(torch.tensor(g))
        oo.backward(g)
        np.testing.assert_allclose(oo.data, to.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
        for key, p in theirs.named_parameters():
            np.testing.assert_allclose(own[key].grad.data, p.grad.numpy(),
                                       rtol=1e-10, atol=1e-12, err_msg=key)

    same_step(oo, ox)
    # torch's weights (and statistics) into ours: two more steps agree
    ours.load_state_dict(theirs.state_dict())
    for _ in range(2):
        theirs.zero_grad()
        ours.zero_grad()
        ox = engine.tensor(x, dtype=np.float64, requires_grad=True)
        same_step(ours(ox), ox)
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-12,
                                       atol=1e-14, err_msg=key)
    fresh = lazy(nn).double()
    fresh.load_state_dict(theirs.state_dict())  # its sizes from torch's state dict
    assert type(fresh) is type(ours) and repr(fresh) == repr(ours)
    theirs.eval()
    np.testing.assert_allclose(fresh.eval()(engine.tensor(x, dtype=np.float64)).data,
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def _lenet_bn(L):
    """A small d2l-style CNN: every lazy kind in one model. No bias before a BatchNorm: when
    the ReLUs between are active for every sample, the BatchNorm removes its shift and its
    gradient is zero up to rounding, which Adam scales up to ~lr·1e-16/eps."""
    return L.Sequential(L.LazyConv2d(4, kernel_size=3, padding=1, bias=False),
                        L.LazyBatchNorm2d(), L.ReLU(), L.AvgPool2d(2, 2),
                        L.LazyConv2d(6, 3, bias=False), L.ReLU(), L.Flatten(),
                        L.LazyLinear(8, bias=False), L.LazyBatchNorm1d(), L.ReLU(),
                        L.LazyLinear(3))


def _mlp(L):
    return L.Sequential(L.LazyLinear(16), L.ReLU(), L.LazyLinear(3))


@pytest.mark.parametrize("kind", ["SGD_momentum", "Adam"])
@pytest.mark.parametrize("build", [_mlp, _lenet_bn], ids=["mlp", "cnn"])
def test_optimizer_built_before_the_first_forward_trains_as_torch(kind, build):
    """PyTorch lets model.parameters() go to an optimizer before the first call (the
    placeholders are materialized in place); so does stepgrad. After that call torch's
    weights are copied across (in place, into the same objects); then both take the same
    steps."""
    torch = pytest.importorskip("torch")
    shape = (6, 5) if build is _mlp else (6, 2, 8, 8)
    x, y = RNG.standard_normal(shape), RNG.standard_normal((6, 3))
    theirs, ours = build(torch.nn).double(), build(nn).double()
    if kind == "Adam":
        topt = torch.optim.Adam(theirs.parameters(), lr=0.01, eps=1e-8)
        opt = nn.optim.Adam(ours.parameters(), lr=0.01, eps=1e-8)
    else:
        topt = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
        opt = nn.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    held = [p for group in opt.param_groups for p in group["params"]]
    assert all(type(p) is nn.UninitializedParameter for p in held)
    with torch.no_grad():
        theirs(torch.tensor(x))
    with engine.no_grad():
        ours(engine.tensor(x, dtype=np.float64))
    ours.load_state_dict(theirs.state_dict())
    assert [id(p) for p in ours.parameters()] == [id(p) for p in held]
    assert all(type(p) is nn.Parameter for p in held)
    start = {k: v.copy() for k, v in ours.state_dict().items()}
    for _ in range(3):
        topt.zero_grad()
        opt.zero_grad()
        tloss = torch.nn.functional.mse_loss(theirs(torch.tensor(x)), torch.tensor(y))
        loss = nn.F.mse_loss(ours(engine.tensor(x, dtype=np.float64)),
                             engine.tensor(y, dtype=np.float64))
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
        tloss.backward()
        loss.backward()
        topt.step()
        opt.step()
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=key)
    moved = [k for k, p in ours.named_parameters() if not np.array_equal(p.data, start[k])]
    assert moved == [k for k, _ in ours.named_parameters()]  # every parameter was trained


def test_optimizer_built_before_the_first_forward_without_torch():
    """The same steps as an optimizer built after the first call, on a copy of the model
    taken then; and every parameter moves."""
    engine.manual_seed(1)
    model = _lenet_bn(nn)
    opt = nn.optim.Adam(model.parameters(), lr=0.01)
    x, y = engine.randn(4, 2, 8, 8), engine.tensor([0, 2, 1, 1])
    with engine.no_grad():
        model(x)
    twin = copy.deepcopy(model)
    twin_opt = nn.optim.Adam(twin.parameters(), lr=0.01)
    start = [p.data.copy() for p in model.parameters()]
    for _ in range(3):
        for m, o in ((model, opt), (twin, twin_opt)):
            o.zero_grad()
            nn.F.cross_entropy(m(x), y).backward()
            o.step()
    for (k, a), b in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert all(not np.array_equal(p.data, s) for p, s in zip(model.parameters(), start,
                                                             strict=True))


# ---------------------------------------------------------------------------- load_state_dict
def test_load_state_dict_initializes_from_the_state_dicts_shapes():
    """PyTorch materializes a lazy layer from the state dict it loads; here it also becomes
    the eager layer then (PyTorch waits for the first call), with the sizes the shapes
    show: Linear's weight dim 1, a convolution's dim 1 × groups, a transposed one's dim 0,
    BatchNorm's statistics without affine parameters."""
    src = nn.Sequential(nn.Conv2d(6, 4, 3, groups=2), nn.BatchNorm2d(4, affine=False),
                        nn.ConvTranspose2d(4, 6, 2, groups=2), nn.Flatten(), nn.Linear(6 * 9, 2))
    src(engine.randn(2, 6, 4, 4))  # running statistics that are not the initial ones
    lazy = nn.Sequential(nn.LazyConv2d(4, 3, groups=2), nn.LazyBatchNorm2d(affine=False),
                         nn.LazyConvTranspose2d(6, 2, groups=2), nn.Flatten(), nn.LazyLinear(2))
    opt = nn.optim.SGD(lazy.parameters(), lr=0.1)
    assert repr(lazy.load_state_dict(src.state_dict())) == "<All keys matched successfully>"
    assert repr(lazy) == repr(src)
    for (k, a), b in zip(lazy.state_dict().items(), src.state_dict().values(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg=k)
    x = engine.randn(2, 6, 4, 4)
    np.testing.assert_array_equal(lazy(x).data, src(x).data)
    nn.F.mse_loss(lazy(x), engine.zeros(2, 2)).backward()
    before = lazy[4].weight.data.copy()
    opt.step()  # the optimizer built before the load holds the loaded parameters
    assert not np.array_equal(lazy[4].weight.data, before)


def test_a_refused_load_leaves_the_layers_lazy():
    """Every entry is checked before any layer changes: a shape that disagrees (named with
    both shapes), or a weight whose shape cannot give the input size, leaves the model as it
    was; a state dict without a layer's entries (strict=False) leaves that layer lazy."""
    src = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    lazy = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(5))
    with pytest.raises(ValueError, match=r"size mismatch for 2.weight: the state dict has "
                                         r"shape \(2, 4\), the model has shape \(5, 4\)"):
        lazy.load_state_dict(src.state_dict())
    assert type(lazy[0]) is nn.LazyLinear and type(lazy[2]) is nn.LazyLinear
    with pytest.raises(ValueError, match=r"'0.weight' of shape \(4,\) cannot give "
                                         r"LazyLinear's in_features"):
        lazy.load_state_dict({"0.weight": np.zeros(4), "0.bias": np.zeros(4)}, strict=False)
    missing, unexpected = lazy.load_state_dict({"0.weight": np.ones((4, 3), np.float32),
                                                "0.bias": np.zeros(4, np.float32)},
                                               strict=False)
    assert missing == ["2.weight", "2.bias"] and unexpected == []
    assert type(lazy[0]) is nn.Linear and lazy[0].in_features == 3
    assert type(lazy[2]) is nn.LazyLinear
    assert lazy(engine.ones(1, 3)).shape == (1, 5)


def test_state_dict_before_the_first_call_is_refused():
    """PyTorch's state_dict holds <UninitializedParameter> objects, which no file format here
    can store: stepgrad refuses, naming the parameter and saying what to do."""
    model = nn.Sequential(nn.LazyLinear(4))
    with pytest.raises(RuntimeError, match=r"LazyLinear: parameter '0.weight' is not "
                                           r"initialized yet.*Run a forward pass first"):
        model.state_dict()
    with pytest.raises(RuntimeError, match=r"LazyBatchNorm1d: buffer 'running_mean' is not "
                                           r"initialized yet"):
        nn.LazyBatchNorm1d(affine=False).state_dict()


# ------------------------------------------------------------------------------------ errors
def test_an_uninitialized_parameter_refuses_its_data():
    """Its shape, values, arithmetic and numpy copies raise (PyTorch: "Can't access the
    shape of an uninitialized parameter"); its dtype and requires_grad exist."""
    layer = nn.LazyLinear(4)
    w = layer.weight
    assert repr(w) == "<UninitializedParameter>" and type(w) is nn.UninitializedParameter
    assert w.dtype == np.float32 and w.requires_grad and nn.Parameter in type(w).__mro__
    assert type(nn.LazyBatchNorm2d().running_var) is nn.UninitializedBuffer
    for touch in (lambda: w.shape, lambda: w.data, lambda: w.detach().numpy(), lambda: w * 2,
                  lambda: w.numel(), lambda: nn.init.xavier_uniform_(w)):
        with pytest.raises(RuntimeError, match=r"LazyLinear: parameter 'weight' is not "
                                               r"initialized yet: a lazy layer takes its shape "
                                               r"from the first input.*model\(x\[:1\]\)"):
            touch()


def test_a_bad_first_input_is_refused_and_the_layer_stays_lazy():
    cases = [(nn.LazyConv2d(4, 3), (2, 3), r"LazyConv2d: expected 3-D \(unbatched\) or 4-D "
                                            r"\(batched\) input, got shape \(2, 3\)"),
             (nn.LazyConv1d(4, 3), (2, 3, 4, 5), r"LazyConv1d: expected 2-D \(unbatched\) or "
                                                  r"3-D \(batched\) input, got shape"),
             (nn.LazyBatchNorm2d(), (2, 3), r"LazyBatchNorm2d: expected input of \(4,\) dims "
                                            r"\(channels in dim 1\), got shape \(2, 3\)"),
             (nn.LazyBatchNorm1d(), (2, 3, 4, 5), r"LazyBatchNorm1d: expected input of "
                                                  r"\(2, 3\) dims"),
             (nn.LazyLinear(3), (), r"LazyLinear: input of shape \(\): expected "
                                    r"\(\.\.\., in_features\)"),
             # the eager layer's own check, on the size found
             (nn.LazyConv2d(6, 3, groups=2), (1, 3, 5, 5), r"Conv2d: groups=2 must divide "
                                                           r"in_channels=3")]
    for layer, shape, message in cases:
        kind = type(layer)
        with pytest.raises(ValueError, match=message):
            layer(engine.zeros(*shape))
        assert type(layer) is kind and layer.has_uninitialized_params()
    layer(engine.zeros(1, 4, 5, 5))  # a good input after a refused one
    assert type(layer) is nn.Conv2d and layer.weight.shape == (6, 2, 3, 3)


def test_constructor_options_are_checked_at_construction():
    with pytest.raises(ValueError, match=r"LazyConv2d: groups=4 must divide out_channels=6"):
        nn.LazyConv2d(6, 3, groups=4)
    with pytest.raises(ValueError, match=r"padding_mode must be one of"):
        nn.LazyConv1d(6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"only padding_mode='zeros' is supported"):
        nn.LazyConvTranspose2d(6, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\]"):
        nn.LazyBatchNorm2d(momentum=2.0)
    with pytest.warns(UserWarning, match=r"LazyBatchNorm1d: momentum=0.9 weights the new "
                                         r"batch"):  # Keras's convention: once, here
        nn.LazyBatchNorm1d(momentum=0.9)


def test_later_inputs_get_the_eager_layers_errors():
    """After the first call the sizes are fixed: another input size is the eager layer's
    error, as in PyTorch (a LazyLinear does not re-infer)."""
    layer, conv, bn = nn.LazyLinear(4), nn.LazyConv2d(6, 3), nn.LazyBatchNorm2d()
    layer(engine.ones(2, 3))
    conv(engine.ones(1, 3, 5, 5))
    bn(engine.ones(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) has 5 features but "
                                         r"the weight of shape \(4, 3\) expects 3"):
        layer(engine.ones(2, 5))
    with pytest.raises(ValueError, match=r"conv2d: channel mismatch: input \(1, 4, 5, 5\) has "
                                         r"4 channels"):
        conv(engine.ones(1, 4, 5, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input of \(4,\) dims with 3 "
                                         r"channels"):
        bn(engine.ones(2, 4, 2, 2))


def test_dtype_follows_the_module_as_in_torch():
    """The parameters are made in the module's dtype (``dtype=``, or ``.double()`` before the
    first call), not the input's: a float64 input into a float32 model is the eager layer's
    dtype error, as torch's "mat1 and mat2 must have the same dtype"."""
    layer = nn.LazyLinear(3).double()
    assert layer.weight.dtype == np.float64
    layer(engine.ones(2, 4, dtype=np.float64))
    assert layer.weight.dtype == layer.bias.dtype == np.float64
    bn = nn.LazyBatchNorm1d(dtype=np.float64)
    bn(engine.ones(2, 3, dtype=np.float64))
    assert bn.running_mean.dtype == bn.weight.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64
    with pytest.raises(TypeError, match=r"linear: dtype mismatch float32 vs float64"):
        nn.LazyLinear(3)(engine.ones(2, 4, dtype=np.float64))


def test_model_level_functions_before_the_first_call():
    """count_params, the Keras summary() and to_torch/export_onnx refuse a model not
    initialized yet, naming the layer; nn.summary(model, input_shape) runs the model (as it
    builds Keras's lazy Dense), which initializes it, and shows the eager model's table."""
    lenet = nn.Sequential(nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
                          nn.AvgPool2d(2, 2), nn.Flatten(), nn.LazyLinear(10))
    with pytest.raises(ValueError, match=r"count_params: LazyConv2d, LazyLinear not built"):
        lenet.count_params()
    with pytest.raises(RuntimeError, match=r"nn.to_torch: layer '0' \(LazyConv2d\) has no "
                                           r"weights yet.*Run a forward pass first"):
        nn.to_torch(lenet)
    with pytest.raises(RuntimeError, match=r"nn.export_onnx: layer '0' \(LazyConv2d\)"):
        nn.export_onnx(lenet, np.zeros((1, 1, 28, 28), np.float32), "never_written.onnx")
    eager = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
                          nn.AvgPool2d(2, 2), nn.Flatten(), nn.Linear(6 * 14 * 14, 10))
    table = nn.summary(lenet, (1, 28, 28))
    assert str(table) == str(nn.summary(eager, (1, 28, 28)))
    assert table.total_params == 6 * 26 + 1176 * 10 + 10 == lenet.count_params()
    assert repr(lenet) == repr(eager)


def test_to_torch_and_from_torch():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.LazyConv2d(3, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(),
                          nn.LazyLinear(2))
    x = RNG.standard_normal((2, 1, 5, 5)).astype(np.float32)
    model(engine.tensor(x))
    theirs = nn.to_torch(model.eval())
    assert type(theirs[0]) is torch.nn.Conv2d and type(theirs[4]) is torch.nn.Linear
    np.testing.assert_allclose(theirs(torch.tensor(x)).detach().numpy(),
                               model(engine.tensor(x)).data, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match=r"nn.from_torch: 0 is a torch.nn.LazyLinear not "
                                        r"initialized yet.*forward pass in torch first"):
        nn.from_torch(torch.nn.Sequential(torch.nn.LazyLinear(3)))


# ----------------------------------------------------------------------------- module plumbing
def test_repr_deepcopy_freeze_hooks_and_reset():
    layer = nn.LazyConv2d(6, kernel_size=5, padding=2)
    assert repr(layer) == "LazyConv2d(None, 6, kernel_size=(5, 5), stride=1, padding=2)"
    assert repr(nn.LazyLinear(3)) == "LazyLinear(in_features=None, out_features=3, bias=True)"
    assert repr(nn.LazyBatchNorm1d()) == "LazyBatchNorm1d(None, eps=1e-05, momentum=0.1)"
    # a copy before the first call is lazy and independent
    twin = copy.deepcopy(layer)
    twin(engine.zeros(1, 2, 8, 8))
    assert type(twin) is nn.Conv2d and type(layer) is nn.LazyConv2d
    assert layer.weight is not twin.weight and type(layer.weight) is nn.UninitializedParameter
    # a copy after it is the eager layer's copy
    layer(engine.zeros(1, 3, 8, 8))
    again = copy.deepcopy(layer)
    assert type(again) is nn.Conv2d and again.weight is not layer.weight
    np.testing.assert_array_equal(again.weight.data, layer.weight.data)
    # frozen before the first call: still frozen after it
    frozen = nn.Sequential(nn.LazyLinear(2)).freeze()
    frozen(engine.ones(1, 3))
    assert not frozen[0].weight.requires_grad and not frozen[0].bias.requires_grad
    # hooks registered before the first call stay (the object is the same)
    seen, hooked = [], nn.LazyLinear(2)
    hooked.register_forward_hook(lambda m, args, out: seen.append((type(m).__name__,
                                                                   out.shape)))
    hooked(engine.ones(3, 4))
    hooked(engine.ones(1, 4))
    assert seen == [("Linear", (3, 2)), ("Linear", (1, 2))]
    # reset_parameters: nothing to draw before the first call (PyTorch's), a redraw after it
    lazy = nn.LazyLinear(3)
    lazy.reset_parameters()
    assert lazy.has_uninitialized_params()
    lazy(engine.ones(1, 4))
    before = lazy.weight.data.copy()
    lazy.reset_parameters()
    assert not np.array_equal(before, lazy.weight.data) and not hasattr(lazy, "_lazy_options")


# ---------------------------------------------------------------------------- d2l.ai snippets
def _train(net, x, y, steps, lr):
    opt = nn.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_d2l_mlp():
    """d2l 5.1/6.4: ``net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10));
    net(X)`` then training; the weights exist after the call (``net[0].weight.shape``)."""
    engine.manual_seed(0)
    net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
    X = engine.rand(2, 20)
    assert net(X).shape == (2, 10)
    assert net[0].weight.shape == (256, 20) and net[2].weight.shape == (10, 256)
    x, y = engine.randn(16, 20), engine.tensor(np.arange(16) % 10)
    losses = _train(net, x, y, 20, 0.1)
    assert losses[-1] < 0.5 * losses[0]


def _init_cnn(module):
    """d2l's init_cnn: Xavier for the layers whose type(...) == nn.Linear or nn.Conv2d."""
    if type(module) == nn.Linear or type(module) == nn.Conv2d:  # noqa: E721 (d2l's code)
        nn.init.xavier_uniform_(module.weight)
        return 1
    return 0


@pytest.mark.parametrize("with_bn", [False, True], ids=["LeNet", "BNLeNet"])
def test_d2l_lenet(with_bn):
    """d2l 7.6 LeNet and 8.5 BNLeNet (concise), with ``apply_init``: a dry run, then
    ``net.apply(init_cnn)``, which finds the eager types; then training steps."""
    engine.manual_seed(0)

    def bn(kind):
        return [getattr(nn, kind)()] if with_bn else []

    net = nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), *bn("LazyBatchNorm2d"), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), *bn("LazyBatchNorm2d"), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(120), *bn("LazyBatchNorm1d"), nn.Sigmoid(),
        nn.LazyLinear(84), *bn("LazyBatchNorm1d"), nn.Sigmoid(),
        nn.LazyLinear(10))
    x = engine.randn(8, 1, 28, 28)
    net(x[:2])  # apply_init's dry run
    counted = []
    net.apply(lambda m: counted.append(_init_cnn(m)))
    assert sum(counted) == 5
    assert [m.in_features for m in net if type(m) is nn.Linear] == [400, 120, 84]
    y = engine.tensor(np.arange(8) % 10)
    losses = _train(net, x, y, 15, 0.5 if with_bn else 0.9)
    assert losses[-1] < losses[0]


def test_fit_and_compile_build_lazy_layers_first():
    """nn.fit and model.compile/fit build lazy layers from the first batch (as Keras's lazy
    Dense) before making the optimizer."""
    engine.manual_seed(0)
    x = RNG.standard_normal((32, 5)).astype(np.float32)
    y = (x.sum(1) > 0).astype(np.int64)
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    history = nn.fit(net, x, y, loss="cross_entropy", optimizer="adam", epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3 and type(net[0]) is nn.Linear
    keras_style = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    keras_style.compile(optimizer="sgd", loss="cross_entropy")
    keras_style.fit(x, y, epochs=1, verbose=0)
    assert keras_style.count_params() == 5 * 8 + 8 + 8 * 2 + 2
