"""``reset_parameters()`` (and BatchNorm's ``reset_running_stats()``), PyTorch's names: the
k-fold idiom ``model.apply(lambda m: m.reset_parameters() if hasattr(m, 'reset_parameters')
else None)`` must start each fold from fresh weights. Before, no layer had the method, so
that loop skipped every layer silently and each fold trained on from the last one."""
import numpy as np
import pytest

import engine
import nn

LAYERS = {
    "Linear": lambda: nn.Linear(5, 3),
    "Linear, no bias": lambda: nn.Linear(5, 3, bias=False),
    "Bilinear": lambda: nn.Bilinear(3, 4, 2),
    "Embedding, padding_idx": lambda: nn.Embedding(6, 3, padding_idx=2),
    "Conv2d, groups": lambda: nn.Conv2d(4, 6, 3, groups=2),
    "Conv1d": lambda: nn.Conv1d(2, 4, 5),
    "ConvTranspose2d, groups": lambda: nn.ConvTranspose2d(4, 6, 3, groups=2),
    "LSTM, 2 layers, bidirectional": lambda: nn.LSTM(3, 4, 2, batch_first=True,
                                                     bidirectional=True),
    "GRU": lambda: nn.GRU(3, 4, batch_first=True),
    "RNNCell": lambda: nn.RNNCell(3, 2),
    "LSTMCell": lambda: nn.LSTMCell(3, 2),
    "BatchNorm2d": lambda: nn.BatchNorm2d(3),
    "BatchNorm1d, momentum=None": lambda: nn.BatchNorm1d(3, momentum=None),
    "LayerNorm": lambda: nn.LayerNorm((2, 3)),
    "GroupNorm": lambda: nn.GroupNorm(2, 4),
    "InstanceNorm2d, affine": lambda: nn.InstanceNorm2d(3, affine=True),
    "PReLU": lambda: nn.PReLU(3, 0.1),
}


def _state(m):
    return {k: np.array(v.data, copy=True) for k, v in m.state_dict().items()}


@pytest.mark.parametrize("name", LAYERS)
def test_reset_parameters_draws_the_initial_values_again_in_place(name):
    """After training-like changes, reset_parameters() (under the same seed) gives exactly
    what constructing the layer gives: the same draws in the same order, running statistics
    and their counter back to 0/1/0. The Parameters stay the same objects (an optimizer
    holding them keeps training them)."""
    engine.manual_seed(5)
    fresh = _state(LAYERS[name]())
    m = LAYERS[name]()
    params = list(m.parameters())
    with engine.no_grad():
        for p in params:
            p.data[...] += 1.5
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):  # move the running statistics
        shape = (8, 3) if isinstance(m, nn.BatchNorm1d) else (8, 3, 2, 2)
        m(engine.tensor(np.random.default_rng(0).standard_normal(shape) * 3 + 2))
        assert m.num_batches_tracked.item() == 1
    changed = _state(m)
    assert any(not np.array_equal(changed[k], fresh[k]) for k in fresh)
    engine.manual_seed(5)
    m.reset_parameters()
    after = _state(m)
    assert after.keys() == fresh.keys()
    for k in fresh:
        assert after[k].dtype == fresh[k].dtype, k
        np.testing.assert_array_equal(after[k], fresh[k], err_msg=k)
    assert all(a is b for a, b in zip(m.parameters(), params, strict=True))


def test_the_k_fold_idiom_starts_each_fold_from_fresh_weights():
    """PyTorch's k-fold tutorial code: the reset reaches every layer through Module.apply,
    gives the weights a new model would get, and the same optimizer trains them."""
    def build():
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 1))

    def reset_weights(m):
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()

    engine.manual_seed(0)
    new = _state(build())
    model = build()
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    x = engine.tensor(np.random.default_rng(1).standard_normal((16, 4)))
    y = engine.tensor(np.random.default_rng(2).standard_normal((16, 1)))
    for _ in range(3):  # fold 1
        opt.zero_grad()
        nn.F.mse_loss(model(x), y).backward()
        opt.step()
    engine.manual_seed(0)
    model.apply(reset_weights)
    for k, v in _state(model).items():
        np.testing.assert_array_equal(v, new[k], err_msg=k)
    opt.zero_grad()
    nn.F.mse_loss(model(x), y).backward()
    opt.step()  # fold 2 trains the reset parameters
    assert not np.array_equal(model[0].weight.data, new["0.weight"])


def test_batchnorm_reset_running_stats_as_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    ours, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((6, 3)).astype(np.float32) * 2 + 1
        ours(engine.tensor(x))
        theirs(torch.from_numpy(x))
    with engine.no_grad():
        ours.weight.data[...] = 3.0
    with torch.no_grad():
        theirs.weight.fill_(3.0)
    ours.reset_running_stats()
    theirs.reset_running_stats()
    for name in ("running_mean", "running_var", "num_batches_tracked", "weight", "bias"):
        np.testing.assert_array_equal(getattr(ours, name).data,
                                      getattr(theirs, name).detach().numpy(), err_msg=name)


@pytest.mark.parametrize("make", [
    lambda: nn.keras.layers.Dense(3, kernel_initializer="he_normal"),
    lambda: nn.keras.layers.Conv2D(2, 3),
    lambda: nn.keras.layers.Conv1D(2, 3),
    lambda: nn.keras.layers.BatchNormalization(),
    lambda: nn.keras.layers.Embedding(5, 2),
    lambda: nn.keras.layers.LSTM(4),
], ids=["Dense", "Conv2D", "Conv1D", "BatchNormalization", "Embedding", "LSTM"])
def test_keras_layers_refuse_pytorchs_reset_parameters(make):
    """A Keras layer draws with its own initializers: the PyTorch-style parent's rule would
    re-draw a he_normal Dense as Glorot-uniform without a word, so it is refused."""
    layer = make()
    with pytest.raises(TypeError, match=r"reset_parameters\(\) is PyTorch's; this Keras layer"):
        layer.reset_parameters()
