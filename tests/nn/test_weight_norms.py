"""nn.utils.weight_norm / spectral_norm (and their removal) and Module.register_parameter:
the reparametrized weight against its formula, the power iteration against the SVD, the
gradients by finite differences, and PyTorch's modules with the same state (outputs, every
gradient and the power iteration's buffers over several training steps)."""
import types
import warnings

import numpy as np
import pytest

import engine
import nn
from nn.utils.norms import _SpectralNorm, _WeightNorm

F64 = np.float64


def t64(a, grad=False):
    return engine.tensor(np.asarray(a, F64), dtype=F64, requires_grad=grad)


@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_weight_norm_is_g_times_the_unit_direction(dim):
    engine.manual_seed(0)
    layer = nn.Conv2d(3, 4, 3).double()
    w = layer.weight.data.copy()
    x = t64(np.random.default_rng(0).standard_normal((2, 3, 5, 5)))
    before = layer(x).data
    nn.utils.weight_norm(layer, dim=dim)
    assert [n for n, _ in layer.named_parameters()] == ["bias", "weight_g", "weight_v"]
    assert layer.weight_g.dtype == layer.weight_v.dtype == F64  # the layer's dtype kept
    axes = None if dim in (None, -1) else tuple(d for d in range(4) if d != dim)
    np.testing.assert_allclose(layer.weight_g.data, np.sqrt((w * w).sum(axis=axes,
                                                                        keepdims=axes is not None)))
    np.testing.assert_allclose(layer(x).data, before, rtol=1e-13)  # the same weight at first
    with engine.no_grad():
        layer.weight_g.mul_(2.0)
    layer(x)  # the weight is recomputed before each call
    np.testing.assert_allclose(layer.weight.data, 2 * w, rtol=1e-13)
    rng = np.random.default_rng(1)
    g = t64(layer.weight_g.data * rng.uniform(0.5, 1.5, layer.weight_g.shape), True)
    v = t64(w + 0.1 * rng.standard_normal(w.shape), True)
    hook = _WeightNorm("weight", None if dim == -1 else dim)
    assert engine.gradcheck(lambda g, v: hook.compute(types.SimpleNamespace(weight_g=g,
                                                                            weight_v=v)), g, v)


def test_spectral_norm_divides_by_the_largest_singular_value():
    engine.manual_seed(1)
    layer = nn.utils.spectral_norm(nn.Linear(5, 4).double(), n_power_iterations=3)
    w = layer.weight_orig.data
    x = t64(np.ones((1, 5)))
    for _ in range(20):  # training mode: each call runs the power iteration
        layer(x)
    sigma = np.linalg.svd(w, compute_uv=False)[0]
    np.testing.assert_allclose(layer.weight.data, w / sigma, rtol=1e-8)
    np.testing.assert_allclose(np.linalg.svd(layer.weight.data, compute_uv=False)[0], 1.0,
                               rtol=1e-8)
    assert sorted(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    layer.eval()
    u = layer.weight_u.data.copy()
    layer(x)
    np.testing.assert_array_equal(layer.weight_u.data, u)  # eval: no iteration
    hook = _SpectralNorm("weight", 1, 0, 1e-12)
    state = types.SimpleNamespace(weight_u=layer.weight_u, weight_v=layer.weight_v)
    w64 = t64(w, True)

    def weight(wo):
        state.weight_orig = wo
        return hook.compute(state, False)
    assert engine.gradcheck(weight, w64)


def test_spectral_norm_rows_are_dim_1_for_transposed_convolutions():
    layer = nn.utils.spectral_norm(nn.ConvTranspose2d(3, 2, 3))
    assert layer.weight_u.shape == (2,) and layer.weight_v.shape == (3 * 9,)


def test_removal_and_refusals():
    layer = nn.utils.weight_norm(nn.Linear(3, 2))
    value = layer.weight.data.copy()
    nn.utils.remove_weight_norm(layer)
    assert [n for n, _ in layer.named_parameters()] == ["bias", "weight"]
    np.testing.assert_allclose(layer.weight.data, value, rtol=1e-6)
    layer = nn.utils.spectral_norm(nn.Linear(3, 2))
    nn.utils.remove_spectral_norm(layer)
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    with pytest.raises(ValueError, match="remove_weight_norm: weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="weight_norm: ReLU has no parameter 'weight'"):
        nn.utils.weight_norm(nn.ReLU())
    for again in (nn.utils.weight_norm, nn.utils.spectral_norm):
        with pytest.raises(RuntimeError, match="cannot register two weight_norm/spectral_norm"):
            again(nn.utils.weight_norm(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="expected n_power_iterations to be positive"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)


def test_register_parameter():
    m = nn.Module()
    m.register_parameter("w", nn.Parameter(np.ones(2, np.float32)))
    m.register_parameter("b", None)
    assert [n for n, _ in m.named_parameters()] == ["w"] and m.b is None
    m.register_buffer("stat", engine.zeros(2))
    with pytest.raises(KeyError, match="attribute 'stat' already exists \\(a buffer\\)"):
        m.register_parameter("stat", nn.Parameter(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="cannot assign a Tensor as a parameter"):
        m.register_parameter("x", engine.ones(2))
    with pytest.raises(KeyError, match="without '.'"):
        m.register_parameter("a.b", None)


def test_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)

    def copy(ours, theirs):
        sd = theirs.state_dict()
        assert sorted(ours.state_dict()) == sorted(sd)
        ours.double().load_state_dict({k: v.double().numpy() for k, v in sd.items()})

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's weight_norm deprecation
        pairs = [(nn.utils.weight_norm(nn.Conv2d(3, 4, 3), dim=dim),
                  torch.nn.utils.weight_norm(torch.nn.Conv2d(3, 4, 3), dim=dim).double(),
                  (2, 3, 5, 5)) for dim in (0, 1, None)]
        pairs += [(nn.utils.spectral_norm(nn.Linear(4, 3), n_power_iterations=2),
                   torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3), n_power_iterations=2)
                   .double(), (2, 4)),
                  (nn.utils.spectral_norm(nn.ConvTranspose2d(3, 2, 3)),
                   torch.nn.utils.spectral_norm(torch.nn.ConvTranspose2d(3, 2, 3)).double(),
                   (2, 3, 4, 4))]
    for ours, theirs, shape in pairs:
        copy(ours, theirs)
        for _ in range(3):  # training steps: the buffers move the same way
            x = rng.standard_normal(shape)
            y, yt = ours(t64(x)), theirs(torch.tensor(x))
            G = rng.standard_normal(yt.shape)
            ours.zero_grad()
            theirs.zero_grad()
            (y * t64(G)).sum().backward()
            (yt * torch.tensor(G)).sum().backward()
            np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-13)
            for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
                np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-11, atol=1e-13,
                                           err_msg=name)
            for (name, b), q in zip(ours.named_buffers(), theirs.buffers(), strict=True):
                np.testing.assert_allclose(b.data, q.numpy(), rtol=1e-12, atol=1e-14,
                                           err_msg=name)
