"""Arguments and defaults of nn that PyTorch-style code uses, against torch (float64): the
cases an audit found silently different, now matching (or refused with a clear error), and
the neighbouring combinations that already matched. Skipped without torch."""
import warnings

import numpy as np
import pytest

import engine
import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
F = nn.F

RNG = np.random.default_rng(4)


def _pair(x, requires_grad=True):
    return (torch.tensor(x, requires_grad=requires_grad),
            engine.tensor(x, dtype=np.float64, requires_grad=requires_grad))


def _check(ours, theirs, ox, tx, grad_rtol=1e-9):
    """Same value (NaN where torch has NaN) and the same gradient of x (NaN included)."""
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = RNG.standard_normal(ours.shape)
    ours.backward(g)
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=grad_rtol, atol=1e-12)


# -- cross_entropy / nll_loss: weight × ignore_index × label_smoothing × reduction ---------
X = RNG.standard_normal((5, 4))
W = np.array([0.5, 2.0, 1.0, 3.0])
X4 = RNG.standard_normal((2, 3, 4, 5))
L4 = RNG.integers(0, 3, (2, 4, 5))
L4[0, 0, :2] = -100


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("labels,ignore", [([0, 3, 1, -100, 2], -100), ([0, 3, 1, 2, 2], 2)])
def test_cross_entropy_options_match_torch(reduction, smoothing, weighted, labels, ignore):
    tx, ox = _pair(X)
    kw = dict(ignore_index=ignore, reduction=reduction, label_smoothing=smoothing)
    theirs = TF.cross_entropy(tx, torch.tensor(labels), torch.tensor(W) if weighted else None,
                              **kw)
    ours = F.cross_entropy(ox, np.array(labels), W if weighted else None, **kw)
    _check(ours, theirs, ox, tx)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_of_spatial_input_with_weights_matches_torch(reduction, smoothing):
    tx, ox = _pair(X4)
    w = np.array([0.2, 1.0, 3.0])
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    _check(nn.CrossEntropyLoss(weight=engine.tensor(w, dtype=np.float64), **kw)(ox, L4),
           torch.nn.CrossEntropyLoss(weight=torch.tensor(w), **kw)(tx, torch.tensor(L4)), ox, tx)


@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_probability_targets_matches_torch(smoothing, weighted):
    p = RNG.random((5, 4))
    p /= p.sum(1, keepdims=True)
    tx, ox = _pair(X)
    tp, op = _pair(p)
    w = W if weighted else None
    theirs = TF.cross_entropy(tx, tp, None if w is None else torch.tensor(w),
                              label_smoothing=smoothing)
    ours = F.cross_entropy(ox, op, w, label_smoothing=smoothing)
    _check(ours, theirs, ox, tx)
    np.testing.assert_allclose(op.grad.data, tp.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kw", [
    dict(),  # every label ignored
    dict(label_smoothing=0.1),
    dict(weight=np.array([1.0, 0.0, 1.0, 1.0])),  # the only counted labels weigh 0
    dict(weight=np.array([1.0, 0.0, 1.0, 1.0]), label_smoothing=0.2),
], ids=["ignored", "ignored_smoothing", "zero_weight", "zero_weight_smoothing"])
def test_cross_entropy_mean_over_no_weight_is_nan_with_torch_gradient(kw):
    """'mean' over labels that weigh nothing is 0/0: NaN, as torch. The gradient is torch's
    too: 0 for ignored labels (a batch of padding leaves the model alone), NaN where a label
    counts with weight 0. It was NaN everywhere (÷ 0 in the backward pass)."""
    labels = np.array([-100, 1, -100]) if "weight" in kw else np.full(3, -100)
    x = RNG.standard_normal((3, 4))
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    for f, tf in ((F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)):
        if f is F.nll_loss and "label_smoothing" in kw:
            continue
        tx, ox = _pair(x)
        theirs, ours = tf(tx, torch.tensor(labels), **tkw), f(ox, labels, **kw)
        assert np.isnan(ours.item()) and np.isnan(theirs.item())
        ours.backward()
        theirs.backward()
        np.testing.assert_array_equal(np.isnan(ox.grad.data), np.isnan(tx.grad.numpy()))
        np.testing.assert_allclose(np.nan_to_num(ox.grad.data), np.nan_to_num(tx.grad.numpy()),
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(4,), (3, 3)])
def test_cross_entropy_refuses_integer_targets_of_the_input_shape(shape):
    """A target of the input's shape is read as class probabilities; torch refuses integer
    ones. Logits (N,) with labels (N,) gave a silent number (the batch read as one sample's
    classes)."""
    x = RNG.standard_normal(shape)
    y = np.zeros(shape, np.int64)
    with pytest.raises(RuntimeError, match="floating point"):
        TF.cross_entropy(torch.tensor(x), torch.tensor(y))
    with pytest.raises(TypeError, match=r"cross_entropy: a target of the input's shape .* "
                                        r"must be floating point, got int64"):
        F.cross_entropy(engine.tensor(x), y)
    with pytest.raises(TypeError, match="target.float()"):
        nn.CrossEntropyLoss()(engine.tensor(x), engine.tensor(y))


# -- other losses ---------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight", [np.array([1.0, 2.0, 0.5, 3.0]), np.array([3.0]),
                                        np.array(2.5)], ids=["per_class", "one", "scalar"])
def test_bce_with_logits_pos_weight_and_weight_match_torch(reduction, pos_weight):
    y = RNG.random((5, 4))
    w = RNG.random((5, 1))
    tx, ox = _pair(X)
    theirs = TF.binary_cross_entropy_with_logits(tx, torch.tensor(y), torch.tensor(w),
                                                 reduction=reduction,
                                                 pos_weight=torch.tensor(pos_weight))
    ours = nn.BCEWithLogitsLoss(weight=engine.tensor(w, dtype=np.float64), reduction=reduction,
                                pos_weight=engine.tensor(pos_weight, dtype=np.float64))(ox, y)
    _check(ours, theirs, ox, tx)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    logp = np.log(RNG.dirichlet(np.ones(4), 5))
    q = RNG.dirichlet(np.ones(4), 5)
    q = np.log(q) if log_target else q
    tx, ox = _pair(logp)
    with pytest.warns(UserWarning) if reduction == "mean" else _no_warning():
        theirs = TF.kl_div(tx, torch.tensor(q), reduction=reduction, log_target=log_target)
    with pytest.warns(UserWarning, match="kl_div: reduction: 'mean'") if reduction == "mean" \
            else _no_warning():  # the same warning, as PyTorch's
        ours = F.kl_div(ox, q, reduction=reduction, log_target=log_target)
    _check(ours, theirs, ox, tx)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.5])
def test_smooth_l1_and_huber_match_torch_at_and_around_the_kink(beta):
    x = np.concatenate([RNG.standard_normal(8) * 2, [beta, -beta, 0.0]])
    tx, ox = _pair(x)
    _check(nn.SmoothL1Loss(beta=beta)(ox, np.zeros_like(x)),
           torch.nn.SmoothL1Loss(beta=beta)(tx, torch.zeros(x.shape, dtype=torch.float64)),
           ox, tx)
    if beta:
        tx, ox = _pair(x)
        _check(nn.HuberLoss(delta=beta, reduction="sum")(ox, np.zeros_like(x)),
               torch.nn.HuberLoss(delta=beta, reduction="sum")(
                   tx, torch.zeros(x.shape, dtype=torch.float64)), ox, tx)


@pytest.mark.parametrize("loss", ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"])
def test_elementwise_losses_refuse_what_torch_would_broadcast_with_a_warning(loss):
    """(N, 1) against (N,): torch warns and broadcasts to an (N, N) loss; refused here."""
    with pytest.warns(UserWarning, match="target size"):
        getattr(torch.nn, loss)()(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match="prediction shape .* and target shape .* differ"):
        getattr(nn, loss)()(engine.zeros(4, 1), engine.zeros(4))


# -- dropout ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,shape", [("Dropout", (4, 5)), ("Dropout1d", (2, 3, 5)),
                                        ("Dropout2d", (2, 3, 4, 4))])
def test_dropout_p_one_zeroes_everything_as_torch(name, shape):
    """p = 1 is allowed by torch (training: x·0, gradient 0; eval: identity); it was refused."""
    x = RNG.standard_normal(shape)
    for train in (True, False):
        tx, ox = _pair(x)
        theirs, ours = getattr(torch.nn, name)(1.0).train(train), getattr(nn, name)(1.0)
        ours.train(train)
        _check(ours(ox), theirs(tx), ox, tx)
    assert (F.dropout(engine.tensor(x), p=1.0).data == 0).all()
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\], got 1.5"):
        getattr(nn, name)(1.5)


# -- pooling and convolutions -------------------------------------------------------------
@pytest.mark.parametrize("k,s,p,ceil", [(3, 2, 1, False), (3, 2, 1, True), (2, None, 0, True),
                                        ((3, 2), (2, 1), (1, 0), True), (4, 3, 2, True)])
@pytest.mark.parametrize("divisor", [None, 4, 5])
@pytest.mark.parametrize("include_pad", [True, False])
def test_avg_pool2d_count_include_pad_and_divisor_override_match_torch(k, s, p, ceil, divisor,
                                                                       include_pad):
    x = RNG.standard_normal((2, 3, 9, 8))
    tx, ox = _pair(x)
    kw = dict(ceil_mode=ceil, count_include_pad=include_pad, divisor_override=divisor)
    _check(F.avg_pool2d(ox, k, s, p, **kw), TF.avg_pool2d(tx, k, s, p, **kw), ox, tx)


@pytest.mark.parametrize("kw", [dict(divisor_override=5), dict(divisor_override=-2),
                                dict(count_include_pad=False),
                                dict(count_include_pad=False, divisor_override=3)])
def test_avg_pool2d_layer_takes_count_include_pad_and_divisor_override_as_torch(kw):
    """nn.AvgPool2d takes both arguments as torch.nn.AvgPool2d (it refused non-defaults):
    the same values and gradients, ceil-mode edge windows included."""
    x = RNG.standard_normal((2, 3, 9, 8))
    tx, ox = _pair(x)
    args = (3, 2, 1, True)
    _check(nn.AvgPool2d(*args, **kw)(ox), torch.nn.AvgPool2d(*args, **kw)(tx), ox, tx)


def test_avg_pool_divisor_override_refusals_as_torch():
    """0 and non-ints are refused (the layer at construction, torch at its first call);
    avg_pool1d and AvgPool1d have no divisor_override in either."""
    x = torch.ones(1, 1, 4, 4)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        torch.nn.AvgPool2d(2, divisor_override=0)(x)
    with pytest.raises(ValueError, match="AvgPool2d: divisor_override must not be zero"):
        nn.AvgPool2d(2, divisor_override=0)
    for bad in (2.0, True):
        with pytest.raises(TypeError, match="must be int"):
            torch.nn.AvgPool2d(2, divisor_override=bad)(x)
        with pytest.raises(TypeError, match="AvgPool2d: divisor_override must be an int"):
            nn.AvgPool2d(2, divisor_override=bad)
    for call in (lambda: TF.avg_pool1d(torch.ones(1, 1, 4), 2, divisor_override=2),
                 lambda: F.avg_pool1d(engine.ones(1, 1, 4), 2, divisor_override=2),
                 lambda: torch.nn.AvgPool1d(2, divisor_override=2),
                 lambda: nn.AvgPool1d(2, divisor_override=2)):
        with pytest.raises(TypeError, match="divisor_override"):
            call()


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's, about its own copy
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "zeros"])
@pytest.mark.parametrize("kw", [dict(padding=2), dict(padding="same"),
                                dict(padding="same", dilation=2),
                                dict(padding=1, stride=2, groups=2)])
def test_conv1d_padding_mode_matches_torch(mode, kw):
    """Conv1d takes PyTorch's padding_mode (it was a TypeError)."""
    x = RNG.standard_normal((2, 4, 11))
    torch.manual_seed(0)
    theirs = torch.nn.Conv1d(4, 6, 4, padding_mode=mode, **kw).double()
    ours = nn.Conv1d(4, 6, 4, padding_mode=mode, **kw).to(np.float64)
    ours.load_state_dict(theirs.state_dict())
    tx, ox = _pair(x)
    _check(ours(ox), theirs(tx), ox, tx)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-9)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("dims,padding,kw", [
    (1, "valid", {}), (1, (2,), dict(stride=2)), (1, -1, {}), (1, np.int64(2), {}),
    (2, "valid", {}), (2, (1, 2), dict(dilation=(2, 1))), (2, (-1, 1), {}),
    (2, np.int64(1), {}), (2, (np.int64(1), 2), dict(stride=np.int64(2))),
    (2, "same", dict(kernel_size=(4, 3), dilation=(1, 2)))])
def test_conv_padding_mode_amounts_match_torch(mode, dims, padding, kw):
    """Conv1d and Conv2d pad by their mode with one amounts rule: 'valid', a tuple per dim,
    negative padding (which crops, as PyTorch's F.pad) and 'same' with dilation."""
    kw = dict(kernel_size=3, padding=padding, padding_mode=mode) | kw
    shape = (2, 2, 9) if dims == 1 else (2, 2, 7, 8)
    cls = "Conv1d" if dims == 1 else "Conv2d"
    x = RNG.standard_normal(shape)
    torch.manual_seed(0)
    theirs = getattr(torch.nn, cls)(2, 3, **kw).double()
    ours = getattr(nn, cls)(2, 3, **kw).to(np.float64)
    ours.load_state_dict(theirs.state_dict())
    tx, ox = _pair(x)
    _check(ours(ox), theirs(tx), ox, tx)


@pytest.mark.parametrize("cls,shape", [("Conv1d", (1, 1, 6)), ("Conv2d", (1, 1, 6, 6))])
def test_conv_padding_strings_read_alike_in_every_padding_mode(cls, shape):
    """A padding string means the same with a padding_mode as without: any case, as
    engine.conv2d reads it (Conv2d read 'Valid' as 'same' under padding_mode='reflect';
    Conv1d raised a TypeError), and an unknown string is refused by name (Conv2d took it
    for 'same'). PyTorch takes only 'same' and 'valid'."""
    x = engine.tensor(RNG.standard_normal(shape))
    for string, size in (("Valid", 4), ("SAME", 6)):
        for mode in ("zeros", "reflect"):
            assert getattr(nn, cls)(1, 1, 3, padding=string, padding_mode=mode)(x).shape[-1] \
                == size
    many = "a 1-tuple" if cls == "Conv1d" else "a pair"
    with pytest.raises(ValueError, match=f"{cls}: padding must be an int, {many}, 'same' or "
                                         "'valid', got 'foo'"):
        getattr(nn, cls)(1, 1, 3, padding="foo", padding_mode="reflect")(x)


def test_conv_transpose2d_takes_padding_mode_zeros_only_as_torch():
    assert nn.ConvTranspose2d(2, 2, 3, padding_mode="zeros")
    with pytest.raises(ValueError):
        torch.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="ConvTranspose2d: only padding_mode='zeros'"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


# -- Module ---------------------------------------------------------------------------------
def _toy(L, zeros):
    class M(L.Module):
        def __init__(self):
            super().__init__()
            self.fc = L.Linear(2, 1)
            self.register_buffer("kept", zeros(2))
            self.register_buffer("scratch", zeros(3), persistent=False)
    return M()


def test_register_buffer_persistent_false_is_left_out_of_the_state_dict():
    theirs, ours = _toy(torch.nn, torch.zeros), _toy(nn, engine.zeros)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert len(list(ours.buffers())) == len(list(theirs.buffers())) == 2
    ours.to(np.float64)
    assert ours.scratch.dtype == np.float64  # still cast by to()
    ours.load_state_dict(ours.state_dict())  # strict: the non-persistent one is not expected
    with pytest.raises(TypeError, match=r"register_buffer\('b', None\)"):
        ours.register_buffer("b", None)


def test_zero_grad_set_to_none_and_recurse_arguments_as_torch():
    for L, t in ((torch.nn, torch.ones), (nn, engine.ones)):
        m = L.Sequential(L.Linear(2, 1))
        m(t(3, 2)).sum().backward()
        m.zero_grad(set_to_none=False)
        assert m[0].weight.grad is not None and not np.asarray(m[0].weight.grad).any()
        m.zero_grad()
        assert m[0].weight.grad is None
        assert list(m.parameters(recurse=False)) == []
        assert [n for n, _ in m.named_parameters(prefix="net", recurse=True)] == \
            ["net.0.weight", "net.0.bias"]


def test_shared_parameters_are_listed_once_and_saved_under_each_name():
    def make(L):
        a = L.Linear(2, 2)
        b = L.Linear(2, 2, bias=False)
        b.weight = a.weight
        return L.Sequential(a, b, a)
    theirs, ours = make(torch.nn), make(nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    missing, unexpected = ours.load_state_dict({"0.weight": np.eye(2, dtype=np.float32)},
                                              strict=False)
    assert missing == ["0.bias", "1.weight", "2.weight", "2.bias"] and unexpected == []


def test_flatten_unflatten_and_train_eval_propagation_as_torch():
    x = RNG.standard_normal((2, 3, 4, 5))
    for start, end in ((1, -1), (0, 2), (2, -1), (-3, -2)):
        assert nn.Flatten(start, end)(engine.tensor(x)).shape == \
            tuple(torch.nn.Flatten(start, end)(torch.tensor(x)).shape)
    assert nn.Unflatten(1, (2, -1))(engine.zeros(2, 12)).shape == (2, 2, 6)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert model.eval() is model and not any(m.training for m in model.modules())
    model[1].train()
    assert [m.training for m in model.modules()] == [False, False, True, True, True]


# ---------------------------------------------------------------- size_average / reduce
LEGACY = [(False, None), (None, False), (True, True), (False, False), (None, True),
          (True, None)]


@pytest.mark.parametrize("size_average, reduce", LEGACY)
def test_losses_take_pytorchs_deprecated_size_average_and_reduce(size_average, reduce):
    """Old tutorials' ``F.binary_cross_entropy(x̂, x, size_average=False)`` (the VAE example)
    and ``nn.MSELoss(size_average=False)``: PyTorch maps them to a reduction, with its
    warning. Compared with torch on functions and modules, values and gradients."""
    rng = np.random.default_rng(0)
    p, y = rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0.1, 0.9, (4, 3))
    labels = [0, 1, 2, 0]
    legacy = {"size_average": size_average, "reduce": reduce}
    cases = [
        (lambda F, a, b, **k: F.binary_cross_entropy(a, b, **k), "F.binary_cross_entropy"),
        (lambda F, a, b, **k: F.mse_loss(a, b, **k), "F.mse_loss"),
        (lambda F, a, b, **k: F.nll_loss(a.log(), labels_of(F), **k), "F.nll_loss"),
        (lambda F, a, b, **k: F.kl_div(a.log(), b, **k), "F.kl_div"),
    ]

    def labels_of(F):
        return torch.tensor(labels) if F is TF else engine.tensor(labels)

    for call, name in cases:
        ours_in = engine.tensor(p, dtype=np.float64, requires_grad=True)
        theirs_in = torch.tensor(p, requires_grad=True)
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            ours = call(nn.F, ours_in, engine.tensor(y, dtype=np.float64), **legacy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = call(TF, theirs_in, torch.tensor(y), **legacy)
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, err_msg=name)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(ours_in.grad.data, theirs_in.grad.numpy(), rtol=1e-12,
                                   err_msg=name)
    for ours_cls, theirs_cls in ((nn.MSELoss, torch.nn.MSELoss), (nn.L1Loss, torch.nn.L1Loss),
                                 (nn.BCELoss, torch.nn.BCELoss)):
        with pytest.warns(UserWarning, match="please use reduction="):
            m = ours_cls(**legacy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = theirs_cls(**legacy)
        assert m.reduction == t.reduction
        ours = m(engine.tensor(p, dtype=np.float64), engine.tensor(y, dtype=np.float64))
        np.testing.assert_allclose(ours.data, t(torch.tensor(p), torch.tensor(y)).numpy(),
                                   rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m, t = nn.NLLLoss(None, size_average=size_average, reduce=reduce), \
            torch.nn.NLLLoss(None, size_average=size_average, reduce=reduce)
    assert m.reduction == t.reduction


# -- inplace=True on the activations and dropouts PyTorch gives it -------------------------
IN_PLACE = [("relu", ()), ("leaky_relu", (0.2,)), ("elu", (0.7,)), ("selu", ()),
            ("celu", (1.3,)), ("silu", ()), ("mish", ()), ("relu6", ()),
            ("hardtanh", (-0.5, 0.8)), ("hardsigmoid", ()), ("hardswish", ()),
            ("threshold", (0.1, -2.0))]


@pytest.mark.parametrize("name,args", IN_PLACE, ids=[n for n, _ in IN_PLACE])
def test_activations_take_inplace_as_pytorch(name, args):
    """``F.leaky_relu(h, 0.2, inplace=True)`` (the DCGAN discriminator's) was a TypeError:
    now, as PyTorch, h holds the result and is returned, and the gradient reaches x through
    the old h; a leaf that requires grad is refused, as PyTorch refuses it. Values kept off
    the kinks (0, ±3, the thresholds)."""
    a = RNG.uniform(0.3, 2.5, (3, 4)) * RNG.choice([-1, 1], (3, 4))
    tx, ox = _pair(a)
    th, oh = tx * 1.5, ox * 1.5
    tout = getattr(TF, name)(th, *args, inplace=True)
    oout = getattr(F, name)(oh, *args, inplace=True)
    assert oout is oh and tout is th
    # PyTorch's celu and hardsigmoid backward use constants rounded to float32 (1/alpha, 1/6)
    _check(oout, tout, ox, tx, 1e-7 if name in ("celu", "hardsigmoid") else 1e-9)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(F, name)(ox, *args, inplace=True)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(TF, name)(tx, *args, inplace=True)
    with engine.no_grad():  # outside the graph only the memory changes, as PyTorch's
        plain = engine.tensor(a, dtype=np.float64)
        assert getattr(F, name)(plain, *args, inplace=True) is plain
    np.testing.assert_allclose(plain.data, getattr(TF, name)(torch.tensor(a), *args).numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("name,shape", [("dropout", (4, 5)), ("dropout1d", (2, 3, 5)),
                                        ("dropout2d", (2, 3, 4, 4))])
def test_dropouts_take_inplace(name, shape):
    """``F.dropout(h, 0.5, training, inplace=True)`` writes the dropped, rescaled h into h
    (PyTorch's); with the same mask the values and x's gradient are the out-of-place ones,
    and in evaluation h comes back untouched."""
    a = RNG.standard_normal(shape)
    x, y = (engine.tensor(a, dtype=np.float64, requires_grad=True) for _ in range(2))
    engine.manual_seed(3)
    h = x * 2.0
    out = getattr(F, name)(h, 0.5, True, inplace=True)
    assert out is h
    engine.manual_seed(3)
    ref = getattr(F, name)(y * 2.0, 0.5, True)
    np.testing.assert_array_equal(out.data, ref.data)
    assert 0 < (out.data == 0).mean() < 1
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.grad.data)
    h = x * 2.0
    assert getattr(F, name)(h, 0.5, False, inplace=True) is h
    np.testing.assert_array_equal(h.data, a * 2.0)


# -- F.batch_norm (functional-style models, MAML's inner loop) ----------------------------
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 4)], ids=["2d", "3d", "4d"])
@pytest.mark.parametrize("training,running,affine", [
    (True, True, True), (True, False, True), (True, True, False), (False, True, True)])
def test_functional_batch_norm_matches_torch(shape, training, running, affine):
    """Values, gradients of x, weight and bias, and the running statistics updated in place
    (momentum 0.3, unbiased variance), against torch.nn.functional.batch_norm."""
    a = RNG.standard_normal(shape) * 2 + 1
    rm, rv = RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    tx, ox = _pair(a)
    tw, ow = _pair(w)
    tb, ob = _pair(b)
    trm, orm = (torch.tensor(rm), engine.tensor(rm, dtype=np.float64)) if running else (None,) * 2
    trv, orv = (torch.tensor(rv), engine.tensor(rv, dtype=np.float64)) if running else (None,) * 2
    args = dict(training=training, momentum=0.3, eps=1e-4)
    theirs = TF.batch_norm(tx, trm, trv, tw if affine else None, tb if affine else None, **args)
    ours = F.batch_norm(ox, orm, orv, ow if affine else None, ob if affine else None, **args)
    _check(ours, theirs, ox, tx)
    if affine:
        np.testing.assert_allclose(ow.grad.data, tw.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ob.grad.data, tb.grad.numpy(), rtol=1e-9, atol=1e-12)
    if running:
        np.testing.assert_allclose(orm.data, trm.numpy(), rtol=1e-12)
        np.testing.assert_allclose(orv.data, trv.numpy(), rtol=1e-12)


def test_functional_batch_norm_refusals():
    x = engine.randn(4, 3)
    with pytest.raises(ValueError, match="training=False normalises with running_mean"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"running_mean must have one entry per channel, "
                                         r"shape \(3,\), got \(4,\)"):
        F.batch_norm(x, engine.zeros(4), engine.ones(3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(engine.randn(1, 3), None, None, training=True)
    w, b = engine.ones(3, requires_grad=True), engine.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="running_mean requires grad.*pass weight= and bias="):
        F.batch_norm(x, w, b, training=True)  # weight and bias in the running tensors' places
    assert (w.data == 1).all()
    with pytest.raises(TypeError, match="running_var must be a Tensor"):
        F.batch_norm(x, engine.zeros(3), np.ones(3))


# -- modules over existing functions: GLU, the shrinks, the margin losses, LocalResponseNorm
@pytest.mark.parametrize("make", [
    lambda m: m.GLU(1), lambda m: m.Hardshrink(0.3), lambda m: m.Softshrink(0.3),
    lambda m: m.Tanhshrink(), lambda m: m.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=1.5),
    lambda m: m.LocalResponseNorm(8), lambda m: m.LocalResponseNorm(2, alpha=0.3)],
    ids=["GLU", "Hardshrink", "Softshrink", "Tanhshrink", "LRN3", "LRN8-more-than-C", "LRN2"])
@pytest.mark.parametrize("shape", [(2, 6, 5), (2, 6, 3, 4)], ids=["3d", "4d"])
def test_layers_over_functions_match_torch(make, shape):
    """Values and gradients against the torch module of the same name (values kept off the
    shrinks' kinks at ±0.3)."""
    a = RNG.uniform(0.35, 2, shape) * RNG.choice([-1, 1], shape)
    tx, ox = _pair(a)
    _check(make(nn)(ox), make(torch.nn)(tx), ox, tx)


@pytest.mark.parametrize("make", [lambda m, w: m.MultiMarginLoss(p=2, margin=0.7, weight=w),
                                  lambda m, w: m.MultiMarginLoss(reduction="sum"),
                                  lambda m, w: m.MultiLabelMarginLoss(reduction="none")],
                         ids=["multi-margin-p2-weight", "multi-margin-sum", "multilabel-margin"])
def test_margin_loss_modules_match_torch(make):
    a = RNG.standard_normal((4, 5))
    tx, ox = _pair(a)
    w = RNG.uniform(0.5, 2, 5)
    multilabel = "multilabel" in repr(make(torch.nn, None)).lower()
    y = (np.array([[3, 0, -1, 1, 1], [1, 2, 4, -1, 0], [0, -1, 0, 0, 0], [4, 3, 2, 1, 0]])
         if multilabel else np.array([0, 3, 4, 1]))
    theirs = make(torch.nn, torch.tensor(w))(tx, torch.tensor(y))
    ours = make(nn, engine.tensor(w, dtype=np.float64))(ox, engine.tensor(y))
    _check(ours, theirs, ox, tx)



# -- F.bilinear, F.pdist (torch's), F.gumbel_softmax (its rules: torch's noise differs) ----
def test_functional_bilinear_and_pdist_match_torch():
    """Values and gradients of F.bilinear (leading dims, bias or none) and F.pdist (p = 2, 1,
    3; one row gives an empty result, as torch)."""
    x1, x2 = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 3, 5))
    w, b = RNG.standard_normal((6, 4, 5)), RNG.standard_normal(6)
    for bias in (b, None):
        (t1, o1), (t2, o2), (tw, ow) = _pair(x1), _pair(x2), _pair(w)
        tb, ob = _pair(bias) if bias is not None else (None, None)
        _check(F.bilinear(o1, o2, ow, ob), TF.bilinear(t1, t2, tw, tb), o1, t1)
        np.testing.assert_allclose(ow.grad.data, tw.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(o2.grad.data, t2.grad.numpy(), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="bilinear: inputs of shapes"):
        F.bilinear(engine.randn(2, 4), engine.randn(3, 5), engine.randn(6, 4, 5))
    a = RNG.standard_normal((5, 3))
    for p in (2.0, 1.0, 3.0):
        tx, ox = _pair(a)
        _check(F.pdist(ox, p), TF.pdist(tx, p), ox, tx)
    assert F.pdist(engine.randn(1, 3)).shape == tuple(TF.pdist(torch.randn(1, 3)).shape) == (0,)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_is_pytorchs_affine_map(p):
    """F.alpha_dropout while training: each element either a·x + α'·a·p (kept) or
    α'·a·(p − 1) (dropped), with PyTorch's a and α' (torch's own output obeys the same two
    formulas with our constants; its mask differs, being its own generator's); the gradient
    is a where kept, 0 where dropped; evaluation leaves x alone."""
    alpha = 1.7580993408473766
    a = 1.0 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    kept_shift, dropped = alpha * a * p, alpha * a * (p - 1)
    x = RNG.standard_normal(4000)
    theirs = TF.alpha_dropout(torch.tensor(x), p, True).numpy()
    ox = engine.tensor(x, dtype=np.float64, requires_grad=True)
    ours = F.alpha_dropout(ox, p, True)
    for y in (theirs, ours.data):
        drop = np.isclose(y, dropped, rtol=0, atol=1e-12)
        np.testing.assert_allclose(y[~drop], a * x[~drop] + kept_shift, rtol=1e-12)
        assert abs(drop.mean() - p) < 0.05
    ours.sum().backward()
    drop = np.isclose(ours.data, dropped, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ox.grad.data, np.where(drop, 0.0, a), rtol=1e-12)
    assert F.alpha_dropout(ox, p, False) is ox and nn.AlphaDropout(p).eval()(ox) is ox


def test_dropout3d_and_dropout_layers_take_inplace():
    """Dropout3d zeros whole (n, c) volumes (5-D) or channels (unbatched 4-D) and rescales the
    rest; nn.Dropout*(p, inplace=True) is accepted as in PyTorch (computed out of place)."""
    engine.manual_seed(1)
    y = F.dropout3d(engine.ones(4, 6, 2, 3, 3), 0.5).data.reshape(4, 6, -1)
    assert set(np.unique(y)) == {0.0, 2.0} and (y.std(-1) == 0).all()
    assert nn.Dropout3d(0.5)(engine.ones(6, 2, 3, 3)).data.reshape(6, -1).std(-1).max() == 0
    with pytest.raises(ValueError, match=r"dropout3d: expected \(N, C, D, H, W\)"):
        F.dropout3d(engine.ones(2, 3, 4), 0.5)
    for layer in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout):
        m, t = layer(0.3, inplace=True), getattr(torch.nn, layer.__name__)(0.3, inplace=True)
        assert (m.p, m.inplace) == (t.p, t.inplace) == (0.3, True)


MODULES_IN_PLACE = [("ReLU", ()), ("LeakyReLU", (0.2,)), ("ELU", (0.7,)), ("CELU", (1.3,)),
                    ("SELU", ()), ("SiLU", ()), ("Mish", ()), ("ReLU6", ()),
                    ("Hardtanh", (-0.5, 0.8)), ("Hardsigmoid", ()), ("Hardswish", ()),
                    ("Threshold", (0.1, -2.0))]


@pytest.mark.parametrize("name,args", MODULES_IN_PLACE, ids=[n for n, _ in MODULES_IN_PLACE])
def test_activation_modules_take_inplace_as_pytorch(name, args):
    """``nn.ReLU(inplace=True)(h)`` writes into h and returns it, as PyTorch's (it computed out
    of place and left h as it was: code that relies on the write, ``self.relu(out); return
    out``, silently returned the pre-activation). Values and x's gradient equal torch's; a
    leaf that requires grad is refused by both."""
    a = RNG.uniform(0.3, 2.5, (3, 4)) * RNG.choice([-1, 1], (3, 4))
    tx, ox = _pair(a)
    th, oh = tx * 1.5, ox * 1.5
    ours, theirs = getattr(nn, name)(*args, inplace=True), getattr(torch.nn, name)(*args,
                                                                                    inplace=True)
    oout, tout = ours(oh), theirs(th)
    assert oout is oh and tout is th
    _check(oout, tout, ox, tx, 1e-7 if name in ("CELU", "Hardsigmoid") else 1e-9)
    with pytest.raises(RuntimeError, match="leaf"):
        ours(ox)
    with pytest.raises(RuntimeError, match="leaf"):
        theirs(tx)


def test_resnet_block_with_inplace_relus_matches_torch():
    """The torchvision way of writing a network: ReLU(inplace=True) after BatchNorm, after
    ``out += identity``, after a Linear, and LeakyReLU / Dropout in place. Ours writes in
    place as PyTorch's does, and outputs and input gradients agree."""
    def build(m):
        class Block(m.Module):
            def __init__(self):
                super().__init__()
                self.c1, self.b1 = m.Conv2d(4, 4, 3, padding=1, bias=False), m.BatchNorm2d(4)
                self.c2, self.b2 = m.Conv2d(4, 4, 3, padding=1, bias=False), m.BatchNorm2d(4)
                self.relu = m.ReLU(inplace=True)

            def forward(self, x):
                out = self.relu(self.b1(self.c1(x)))
                out = self.b2(self.c2(out))
                out += x
                self.relu(out)   # relies on the write, as some hand-written blocks do
                return out

        return m.Sequential(m.Conv2d(3, 4, 3, padding=1), m.ReLU(inplace=True), Block(),
                            m.MaxPool2d(2), m.Conv2d(4, 4, 3, padding=1), m.BatchNorm2d(4),
                            m.LeakyReLU(0.2, inplace=True), m.Flatten(), m.Linear(64, 16),
                            m.ReLU(inplace=True), m.Dropout(0.0, inplace=True), m.Linear(16, 3))

    torch.manual_seed(0)
    theirs = build(torch.nn).double()
    ours = build(nn).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    a = RNG.standard_normal((2, 3, 8, 8))
    tx, ox = _pair(a)
    _check(ours(ox), theirs(tx), ox, tx, 1e-9)


@pytest.mark.parametrize("size_average,reduction", [(False, "sum"), (True, "mean")])
def test_poisson_nll_loss_positional_size_average_is_refused_where_torch_reduces(
        size_average, reduction):
    """torch reads the 5th positional argument as size_average (a reduction); ours is eps,
    which once took the bool silently (a mean with eps = 0 instead of torch's sum). Ours now
    refuses it, and the same call with the reduction named matches torch's positional one
    (values and gradients; log_input=False so that eps counts)."""
    rate = RNG.uniform(0.2, 3.0, (4, 3))
    target = RNG.poisson(2.0, (4, 3)).astype(np.float64)
    tx, ox = _pair(rate)
    with pytest.raises(TypeError, match="poisson_nll_loss: eps must be a number"):
        F.poisson_nll_loss(ox, target, False, False, size_average)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's size_average deprecation warning
        theirs = TF.poisson_nll_loss(tx, torch.tensor(target), False, False, size_average)
    ours = F.poisson_nll_loss(ox, target, False, False, reduction=reduction)
    _check(ours, theirs, ox, tx)
