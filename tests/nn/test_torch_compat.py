"""PyTorch-style code gives PyTorch's numbers: clip_grad_norm_'s return value, BatchNorm's
num_batches_tracked (and momentum=None), fit/evaluate on an IterableDataset. References are
torch's own results (skipped without torch) or derived by hand, never stepgrad's output."""
import math

import numpy as np
import pytest

import engine
import nn
from nn.data import IterableDataset
from nn.optim import clip_grad_norm_, clip_grad_value_


# ------------------------------------------------------------------ clip_grad_norm_ / value_
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_returns_a_0d_tensor_as_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=s).astype(dtype) for s in [(3, 4), (5,)]]
    ps = [engine.zeros(*g.shape, dtype=dtype, requires_grad=True) for g in grads]
    ts = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
          for g in grads]
    for p, t, g in zip(ps, ts, grads, strict=True):
        p.grad, t.grad = engine.tensor(g, dtype=dtype), torch.from_numpy(g.copy())
    norm = clip_grad_norm_(ps, 0.5)
    tnorm = torch.nn.utils.clip_grad_norm_(ts, 0.5)
    assert isinstance(norm, engine.Tensor) and norm.shape == tuple(tnorm.shape) == ()
    assert norm.dtype == tnorm.numpy().dtype == dtype and not norm.requires_grad
    # the logging line of PyTorch tutorials
    assert isinstance(norm.item(), float)
    assert norm.item() == pytest.approx(tnorm.item(), rel=1e-6)
    exact = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
    assert norm.item() == pytest.approx(exact, rel=1e-7 if dtype == np.float32 else 1e-15)
    assert float(norm) > 0.5 and bool(norm > 0.5)
    for p, t in zip(ps, ts, strict=True):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_of_no_gradients_and_a_list_of_norms():
    torch = pytest.importorskip("torch")
    empty = clip_grad_norm_([engine.zeros(2, requires_grad=True)], 1.0)
    tempty = torch.nn.utils.clip_grad_norm_([torch.zeros(2, requires_grad=True)], 1.0)
    assert empty.shape == () and empty.dtype == tempty.numpy().dtype == np.float32
    assert empty.item() == tempty.item() == 0.0
    # notebook 07 collects the norms in a list and plots np.array(norms)
    norms = []
    for g in ([3.0, 4.0], [np.nan, 1.0], [6.0, 8.0]):
        w = engine.zeros(2, requires_grad=True)
        w.grad = engine.tensor(g)
        norms.append(clip_grad_norm_([w], 1.0))
    arr = np.array(norms)
    assert arr.shape == (3,) and arr.dtype == np.float32
    np.testing.assert_array_equal(np.isfinite(arr), [True, False, True])
    assert arr[0] == 5.0 and arr[2] == 10.0


def test_clip_grad_norm_and_0d_tensors_format_as_numbers():
    w = engine.zeros(2, requires_grad=True)
    w.grad = engine.tensor([3.0, 4.0])
    assert f"{clip_grad_norm_([w], 1.0):.3f}" == "5.000"  # torch: '5.000'
    assert f"{engine.tensor(2.5):>6.2f}|{engine.tensor(7):03d}" == "  2.50|007"
    assert f"{engine.tensor([1.0, 2.0])}" == str(engine.tensor([1.0, 2.0]))  # empty spec
    with pytest.raises(TypeError):  # torch too: a format spec needs a 0-d tensor
        f"{engine.tensor([1.0, 2.0]):.3f}"


def test_clip_grad_value_returns_none_as_torch():
    torch = pytest.importorskip("torch")
    t = torch.zeros(3, requires_grad=True)
    t.grad = torch.tensor([-5.0, 0.5, 2.0])
    w = engine.zeros(3, requires_grad=True)
    w.grad = engine.tensor([-5.0, 0.5, 2.0])
    assert torch.nn.utils.clip_grad_value_([t], 1.0) is None
    assert clip_grad_value_([w], 1.0) is None
    np.testing.assert_array_equal(w.grad.data, t.grad.numpy())


def test_clip_grad_take_torchs_foreach_keyword():
    # PyTorch's choice of (GPU) kernels: its calls ran into a TypeError; same numbers
    torch = pytest.importorskip("torch")
    t = torch.zeros(2, requires_grad=True)
    t.grad = torch.tensor([3.0, 4.0])
    w = engine.zeros(2, requires_grad=True)
    w.grad = engine.tensor([3.0, 4.0])
    got = clip_grad_norm_([w], 1.0, 2.0, False, foreach=False)
    want = torch.nn.utils.clip_grad_norm_([t], 1.0, 2.0, False, foreach=False)
    assert got.item() == pytest.approx(want.item())
    np.testing.assert_allclose(w.grad.data, t.grad.numpy(), rtol=1e-6)
    clip_grad_value_([w], 0.5, foreach=None)
    torch.nn.utils.clip_grad_value_([t], 0.5, foreach=None)
    np.testing.assert_allclose(w.grad.data, t.grad.numpy(), rtol=1e-6)


# -------------------------------------------------------------- BatchNorm num_batches_tracked
BN_CASES = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 2, 3))]


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("cls, shape", BN_CASES)
def test_batchnorm_running_stats_and_counter_follow_torch(cls, shape, momentum):
    torch = pytest.importorskip("torch")
    ours = getattr(nn, cls)(3, momentum=momentum).double()
    theirs = getattr(torch.nn, cls)(3, momentum=momentum).double()
    assert ours.num_batches_tracked.dtype == np.int64 and ours.num_batches_tracked.shape == ()
    rng = np.random.default_rng(1)
    for step in range(6):
        x = rng.normal(2.0, 3.0, size=shape)
        train = step != 3  # an eval step counts nothing and changes no statistic
        ours.train(train), theirs.train(train)
        y = ours(engine.tensor(x, dtype=np.float64))
        ty = theirs(torch.from_numpy(x))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item()
        np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(),
                                   rtol=1e-13)
        np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(),
                                   rtol=1e-13)
    assert ours.num_batches_tracked.item() == 5


def test_batchnorm_momentum_none_is_the_plain_mean_of_the_batch_statistics():
    """Hand-derived: with momentum=None the running mean after k batches is the mean of
    the k batch means, the running variance that of the k unbiased batch variances."""
    bn = nn.BatchNorm1d(1, momentum=None)
    batches = [np.array([[1.0], [3.0]]), np.array([[0.0], [4.0], [8.0]]), np.array([[2.0], [2.0]])]
    for b in batches:
        bn(engine.tensor(b))
    assert bn.num_batches_tracked.item() == 3
    np.testing.assert_allclose(bn.running_mean.data, [(2 + 4 + 2) / 3], rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.data, [(2 + 16 + 0) / 3], rtol=1e-6)
    assert "momentum=None" in repr(bn)


def test_batchnorm_state_dict_loads_into_torch_strictly_and_back():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU())
    for _ in range(3):
        ours(engine.randn(5, 4))
    state = ours.state_dict()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3),
                                 torch.nn.ReLU())
    assert list(state) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})  # strict
    assert theirs[1].num_batches_tracked.item() == 3
    theirs.train()
    theirs(torch.randn(5, 4))
    back = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU())
    back.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert back[1].num_batches_tracked.item() == 4
    assert back[1].num_batches_tracked.dtype == np.int64


def test_a_state_without_the_counter_loads_as_in_torch():
    """A state dict saved before the counter existed: torch (no version metadata) loads it
    strictly and keeps its own count; so do load_state_dict and load_checkpoint."""
    torch = pytest.importorskip("torch")
    tbn = torch.nn.BatchNorm1d(2)
    tbn(torch.randn(4, 2))
    old = {k: v.clone() for k, v in tbn.state_dict().items() if k != "num_batches_tracked"}
    result = tbn.load_state_dict(old)  # strict, a plain dict: no _metadata
    assert result.missing_keys == [] and tbn.num_batches_tracked.item() == 1
    bn = nn.BatchNorm1d(2)
    bn(engine.randn(4, 2))
    assert bn.load_state_dict({k: v.numpy() for k, v in old.items()}) == ([], [])
    assert bn.num_batches_tracked.item() == 1
    np.testing.assert_array_equal(bn.running_mean.data, old["running_mean"].numpy())


def test_only_a_counter_named_and_shaped_as_one_is_let_through():
    # A layer without the counter (track_running_stats=False) takes one from a state dict
    # (a deliberate leniency); any other key that merely ends in num_batches_tracked, or is
    # not a scalar, is unexpected, as PyTorch reports it.
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2, track_running_stats=False))
    state = dict(model.state_dict())
    counter = {"1.num_batches_tracked": np.int64(3)}
    assert model.load_state_dict({**state, **counter}) == ([], [])
    for extra in ({"1.bn_num_batches_tracked": np.int64(3)},
                  {"1.num_batches_tracked": np.zeros(2, np.int64)}):
        assert model.load_state_dict({**state, **extra}, strict=False) == ([], list(extra))
        with pytest.raises(KeyError, match="unexpected keys"):
            model.load_state_dict({**state, **extra})


def test_a_key_ending_in_the_counters_name_is_unexpected_as_in_torch():
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    extra = {"1.bn_num_batches_tracked": torch.tensor(3)}
    theirs = tmodel.load_state_dict({**tmodel.state_dict(), **extra}, strict=False)
    ours = model.load_state_dict({**tmodel.state_dict(), **extra}, strict=False)
    assert list(ours) == [theirs.missing_keys, theirs.unexpected_keys]


def test_a_checkpoint_without_the_counter_loads(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ckpt = nn.serialization.make_checkpoint(model, epoch=2)
    del ckpt["model"]["1.num_batches_tracked"]
    ckpt["model"]["1.running_mean"] = np.array([0.5, -0.5], np.float32)
    nn.save(ckpt, tmp_path / "old.ckpt")
    fresh = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    assert nn.serialization.load_checkpoint(tmp_path / "old.ckpt", fresh) == 2
    np.testing.assert_array_equal(fresh[1].running_mean.data, [0.5, -0.5])
    assert fresh[1].num_batches_tracked.item() == 0


def test_batchnorm_without_running_stats_has_no_counter_as_torch():
    torch = pytest.importorskip("torch")
    bn = nn.BatchNorm2d(3, track_running_stats=False)
    tbn = torch.nn.BatchNorm2d(3, track_running_stats=False)
    assert bn.num_batches_tracked is None and tbn.num_batches_tracked is None
    assert list(bn.state_dict()) == list(tbn.state_dict()) == ["weight", "bias"]


@pytest.mark.parametrize("change", ["stop_tracking", "drop_buffers", "both"])
def test_batchnorm_reads_its_buffers_as_torch_when_tracking_is_changed_later(change):
    # PyTorch's rule: eval uses the running statistics whenever the buffers exist, batch
    # statistics when they are None. ``bn.track_running_stats = False`` on a trained layer
    # gave batch statistics in eval (0.83 off torch); buffers set to None (test-time
    # adaptation code) raised AttributeError.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    bn, tbn = nn.BatchNorm1d(3).double(), torch.nn.BatchNorm1d(3).double()
    for _ in range(2):
        x = rng.normal(size=(8, 3)) * 2 + 1
        bn(engine.tensor(x, dtype=np.float64)), tbn(torch.tensor(x))
    for m in (bn, tbn):
        if change != "drop_buffers":
            m.track_running_stats = False
        if change != "stop_tracking":
            m.running_mean = m.running_var = None
    for train in (False, True, False):
        bn.train(train), tbn.train(train)
        x = rng.normal(size=(8, 3))
        np.testing.assert_allclose(bn(engine.tensor(x, dtype=np.float64)).data,
                                   tbn(torch.tensor(x)).detach().numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=f"training={train}")
    if change == "stop_tracking":  # not updated by the training step
        np.testing.assert_allclose(bn.running_var.data, tbn.running_var.numpy(), rtol=1e-12)
    assert bn.num_batches_tracked.item() == tbn.num_batches_tracked.item()


def test_double_keeps_the_counter_an_integer_as_torch():
    torch = pytest.importorskip("torch")
    bn, tbn = nn.BatchNorm1d(2).double(), torch.nn.BatchNorm1d(2).double()
    assert tbn.num_batches_tracked.dtype == torch.int64
    assert bn.num_batches_tracked.dtype == np.int64 and bn.running_var.dtype == np.float64


def test_to_torch_and_from_torch_carry_the_counter_and_momentum_none():
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2, momentum=None))
    for _ in range(4):
        tmodel(torch.randn(6, 3))
    ours = nn.from_torch(tmodel)
    assert ours[1].momentum is None and ours[1].num_batches_tracked.item() == 4
    x = np.random.default_rng(2).normal(size=(6, 3)).astype(np.float32)
    ours(engine.tensor(x))
    tmodel(torch.from_numpy(x))
    assert ours[1].num_batches_tracked.item() == tmodel[1].num_batches_tracked.item() == 5
    np.testing.assert_allclose(ours[1].running_var.data, tmodel[1].running_var.numpy(),
                               rtol=1e-5)
    back = nn.to_torch(ours)
    assert back[1].momentum is None and back[1].num_batches_tracked.item() == 5
    assert list(back.state_dict()) == list(ours.state_dict())


def test_safetensors_keep_the_counter_0d(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    bn = nn.BatchNorm1d(2)
    bn(engine.randn(3, 2))
    path = nn.save_safetensors(bn, tmp_path / "bn.safetensors")
    raw = safetensors.load_file(str(path))["num_batches_tracked"]
    assert raw.shape == () and raw.dtype == np.int64 and raw == 1


def test_keras_batch_normalization_has_no_counter():
    """Keras's layer: get_weights gives [gamma, beta, moving_mean, moving_variance] and
    count_params 4·C (Keras's numbers for BatchNormalization on 3 features: 12)."""
    layer = nn.keras.layers.BatchNormalization()
    model = nn.keras.Sequential([nn.keras.layers.Input((3,)), layer])
    model(engine.randn(4, 3))
    assert [w.shape for w in model.get_weights()] == [(3,)] * 4
    assert model.count_params() == 12
    assert "num_batches_tracked" not in layer.state_dict()


# ------------------------------------------------------------------ fit on an IterableDataset
class _Stream(IterableDataset):
    """10 samples (x (3,), y scalar), the same stream each pass. Float64 values that float32
    holds exactly: our DataLoader makes float64 numpy data float32 (documented), torch's
    keeps float64; the models here are float64."""

    def __iter__(self):
        rng = np.random.default_rng(0)
        for _ in range(10):
            x = rng.normal(size=3).astype(np.float32).astype(np.float64)
            yield x, np.float64(np.float32(x @ [1.0, -2.0, 0.5] + 0.3))


def test_fit_batches_an_iterable_dataset_in_its_order():
    model = nn.Linear(3, 1).double()
    seen = []
    model.register_forward_hook(lambda m, inp, out: seen.append(inp[0].data.copy()))
    nn.fit(model, _Stream(), loss="mse", optimizer=nn.optim.SGD(model.parameters(), lr=0.0),
           epochs=2, batch_size=4, verbose=0)
    stream = np.stack([x for x, _ in _Stream()])
    assert [len(b) for b in seen] == [4, 4, 2] * 2  # batch_size, never shuffled
    np.testing.assert_array_equal(np.concatenate(seen[:3]), stream)
    np.testing.assert_array_equal(np.concatenate(seen[3:]), stream)


def test_fit_and_evaluate_on_an_iterable_dataset_match_torch():
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Linear(3, 1).double()
    ours = nn.Linear(3, 1).double()
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    tlosses = []
    for _ in range(3):
        total = 0.0
        for xb, yb in torch.utils.data.DataLoader(_TorchStream(), batch_size=4):
            loss = torch.nn.functional.mse_loss(tmodel(xb), yb.reshape(-1, 1))
            topt.zero_grad()
            loss.backward()
            topt.step()
            total += loss.item() * len(xb)
        tlosses.append(total / 10)
    history = nn.fit(ours, _Stream(), loss="mse",
                     optimizer=nn.optim.SGD(ours.parameters(), lr=0.1), epochs=3,
                     batch_size=4, verbose=0)
    np.testing.assert_allclose(history.history["loss"], tlosses, rtol=1e-12)
    for k, v in tmodel.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-12)
    with torch.no_grad():
        xs, ys = (torch.from_numpy(np.array(a)) for a in zip(*_Stream(), strict=True))
        tmse = torch.nn.functional.mse_loss(tmodel(xs.double()), ys.double().reshape(-1, 1))
    tmse = tmse.item()
    got = nn.evaluate(ours, _Stream(), loss="mse",
                      batch_size=3)
    assert got == pytest.approx(tmse, rel=1e-12)


class _TorchStream:
    """_Stream as a torch IterableDataset (built lazily: torch is optional)."""

    def __new__(cls):
        import torch

        class Stream(torch.utils.data.IterableDataset):
            def __iter__(self):
                for x, y in _Stream():
                    yield torch.from_numpy(x), torch.tensor(y)

        return Stream()


def test_fit_on_an_iterable_dataset_refuses_what_needs_arrays():
    model = nn.Linear(3, 1).double()
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="y must be None"):
        nn.fit(model, _Stream(), np.zeros(10), loss="mse", optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match="validation_split needs x and y as arrays"):
        nn.fit(model, _Stream(), loss="mse", optimizer=opt, verbose=0, validation_split=0.2)
    # as validation data it is batched too
    h = nn.fit(model, _Stream(), loss="mse",
               optimizer=opt, verbose=0, batch_size=4, validation_data=_Stream())
    assert len(h.history["val_loss"]) == 1


def test_predict_on_an_iterable_dataset_of_inputs():
    class Inputs(IterableDataset):
        def __iter__(self):
            return iter(np.arange(12.0).reshape(4, 3))

    model = nn.Linear(3, 2).double()
    out = nn.predict(model, Inputs(), batch_size=3)
    w, b = model.weight.data, model.bias.data
    np.testing.assert_allclose(out, np.arange(12.0).reshape(4, 3) @ w.T + b, rtol=1e-12)


def test_a_state_dict_made_float32_entry_by_entry_loads_as_in_torch():
    """``{k: v.float() for k, v in sd.items()}`` makes the counter 3.0: torch loads it; so do
    we (a whole number, exact). A fraction is refused, naming the entry."""
    torch = pytest.importorskip("torch")
    tbn = torch.nn.BatchNorm1d(2).double()
    for _ in range(3):
        tbn(torch.randn(4, 2, dtype=torch.float64))
    floats = {k: v.float() for k, v in tbn.state_dict().items()}
    fresh = torch.nn.BatchNorm1d(2).double()
    fresh.load_state_dict(floats)
    assert fresh.num_batches_tracked.item() == 3
    bn = nn.BatchNorm1d(2).double()
    with pytest.warns(UserWarning, match="cast from float32 to float64, int64"):
        bn.load_state_dict(floats)
    assert bn.num_batches_tracked.item() == 3 and bn.num_batches_tracked.dtype == np.int64
    with pytest.raises(ValueError, match="'num_batches_tracked' holds non-integer values"):
        bn.load_state_dict({**floats, "num_batches_tracked": np.float32(2.5)})
    assert bn.num_batches_tracked.item() == 3
