"""nn.optim: optimizers against their equations (float64 references written here), against
torch.optim when torch is installed, state dicts (resume = one run, bit for bit), frozen
parameters, clipping and schedulers."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from nn import optim
from nn.optim import (
    SGD,
    Adam,
    AdamW,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    RMSprop,
    StepLR,
    clip_grad_norm_,
    clip_grad_value_,
)

# The tiny problem: f(w) = Σ c·(w − t)², gradient 2c(w − t), plus a second parameter b with
# f(b) = Σ (b − 1)⁴, gradient 4(b − 1)³, so that two parameters and a non-quadratic term are
# covered.
W0 = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]])
T = np.array([[1.0, 0.0], [-1.0, 2.0], [0.5, 0.5]])
C = np.array([[1.0, 2.0], [0.5, 1.0], [3.0, 0.1]])
B0 = np.array([0.0, 2.5])


def grads64(w, b):
    return 2 * C * (w - T), 4 * (b - 1) ** 3


def make_params(dtype=np.float32):
    return (engine.Tensor(W0, requires_grad=True, dtype=dtype, name="w"),
            engine.Tensor(B0, requires_grad=True, dtype=dtype, name="b"))


def loss_of(w, b):
    d = b - 1
    return (engine.Tensor(C, dtype=w.dtype) * (w - engine.Tensor(T, dtype=w.dtype)) ** 2).sum() \
        + (d * d * d * d).sum()


def run(opt_cls, steps, dtype=np.float32, **kw):
    w, b = make_params(dtype)
    opt = opt_cls([w, b], **kw)
    for _ in range(steps):
        opt.zero_grad()
        loss_of(w, b).backward()
        opt.step()
    return w, b, opt


# -- float64 references, straight from the documented equations ---------------------------
def ref_sgd(steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    ps, bufs = [W0.copy(), B0.copy()], [None, None]
    for _ in range(steps):
        gs = grads64(*ps)
        for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
            g = g + weight_decay * p
            if momentum:
                bufs[i] = g.copy() if bufs[i] is None else momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            ps[i] = p - lr * g
    return ps


def ref_adam(steps, lr, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    ps = [W0.copy(), B0.copy()]
    ms, vs = [0 * p for p in ps], [0 * p for p in ps]
    for t in range(1, steps + 1):
        gs = grads64(*ps)
        for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
            if decoupled:
                p = p - lr * weight_decay * p
            else:
                g = g + weight_decay * p
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            m_hat, v_hat = ms[i] / (1 - b1 ** t), vs[i] / (1 - b2 ** t)
            ps[i] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return ps


def ref_rmsprop(steps, lr, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0,
                centered=False):
    ps = [W0.copy(), B0.copy()]
    vs, gas, bufs = [0 * p for p in ps], [0 * p for p in ps], [0 * p for p in ps]
    for _ in range(steps):
        gs = grads64(*ps)
        for i, (p, g) in enumerate(zip(ps, gs, strict=True)):
            g = g + weight_decay * p
            vs[i] = alpha * vs[i] + (1 - alpha) * g * g
            v = vs[i]
            if centered:
                gas[i] = alpha * gas[i] + (1 - alpha) * g
                v = v - gas[i] ** 2
            if momentum > 0:
                bufs[i] = momentum * bufs[i] + g / (np.sqrt(v) + eps)
                ps[i] = p - lr * bufs[i]
            else:
                ps[i] = p - lr * g / (np.sqrt(v) + eps)
    return ps


CASES = [
    (SGD, ref_sgd, dict(lr=0.05)),
    (SGD, ref_sgd, dict(lr=0.05, momentum=0.9)),
    (SGD, ref_sgd, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (SGD, ref_sgd, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    (Adam, ref_adam, dict(lr=0.1)),
    (Adam, ref_adam, dict(lr=0.1, betas=(0.8, 0.99), weight_decay=0.2)),
    (AdamW, lambda n, **k: ref_adam(n, decoupled=True, eps=1e-8, **k),
     dict(lr=0.1, weight_decay=0.3)),
    (RMSprop, ref_rmsprop, dict(lr=0.01)),
    (RMSprop, ref_rmsprop, dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    (RMSprop, ref_rmsprop, dict(lr=0.01, alpha=0.9, centered=True)),
]
IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for c, _, kw in CASES]


@pytest.mark.parametrize("cls, ref, kw", CASES, ids=IDS)
@pytest.mark.parametrize("steps", [1, 3])
def test_matches_equations(cls, ref, kw, steps):
    w, b, opt = run(cls, steps, **kw)
    rw, rb = ref(steps, **kw)
    np.testing.assert_allclose(w.data, rw, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(b.data, rb, rtol=2e-5, atol=1e-6)
    # Never a float64 array mixed into a float32 model.
    assert w.dtype == b.dtype == np.float32
    for state in opt.state.values():
        for v in state.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32


def test_sgd_momentum_by_hand():
    # w = 1, f = w², lr 0.1, μ 0.9: g1 = 2, b1 = 2, w1 = 0.8; g2 = 1.6, b2 = 0.9·2 + 1.6 = 3.4,
    # w2 = 0.8 − 0.34 = 0.46.
    w = engine.tensor([1.0], requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    for expected in (0.8, 0.46):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        assert w.data[0] == pytest.approx(expected, rel=1e-6)
    assert opt.state[w]["momentum_buffer"][0] == pytest.approx(3.4, rel=1e-6)


def test_adam_by_hand():
    # First step of Adam: m̂ = g, v̂ = g², so Δ = lr·g/(|g| + eps).
    # Second step with g1 = 2, g2 = 1 (β = 0.9, 0.999): m2 = 0.9·0.2 + 0.1 = 0.28, m̂ = 0.28/0.19,
    # v2 = 0.999·0.004 + 0.001 = 0.004996, v̂ = 0.004996/0.001999.
    w = engine.tensor([0.0], requires_grad=True)
    opt = Adam([w], lr=0.01)
    w.grad = engine.tensor([2.0])
    opt.step()
    step1 = -0.01 * 2 / (2 + 1e-7)
    assert w.data[0] == pytest.approx(step1, rel=1e-6)
    w.grad = engine.tensor([1.0])
    opt.step()
    step2 = -0.01 * (0.28 / 0.19) / (math.sqrt(0.004996 / 0.001999) + 1e-7)
    assert w.data[0] == pytest.approx(step1 + step2, rel=1e-5)
    assert opt.state[w]["step"] == 2


def test_default_eps_of_adamw_and_rmsprop_is_pytorchs():
    # PyTorch's eps 1e-8 (API.md names 1e-7 for Adam only). It shows with tiny gradients:
    # g = 1e-7, first step of AdamW: Δ = lr·g/(|g| + eps) = 0.1·1e-7/1.1e-7; of RMSprop
    # (α = 0.99): √v = √(0.01·g²) = 1e-8, Δ = 0.01·1e-7/(1e-8 + 1e-8) = 0.05.
    for cls, kw, expected in ((AdamW, dict(lr=0.1, weight_decay=0.0), 1 - 0.1 / 1.1),
                              (RMSprop, dict(lr=0.01), 0.95)):
        w = engine.tensor([1.0], dtype=np.float64, requires_grad=True)
        opt = cls([w], **kw)
        w.grad = engine.tensor([1e-7], dtype=np.float64)
        opt.step()
        assert opt.param_groups[0]["eps"] == 1e-8
        assert w.data[0] == pytest.approx(expected, rel=1e-12)


def test_maximize_and_amsgrad_by_hand():
    # maximize: ascend. SGD on f = w², grad 2w = 2 at w = 1: w ← 1 + 0.1·2.
    w = engine.tensor([1.0], dtype=np.float64, requires_grad=True)
    opt = SGD([w], lr=0.1, maximize=True)
    (w * w).sum().backward()
    opt.step()
    assert w.data[0] == 1.2
    # AMSGrad divides by the largest v so far. Gradients 2 then 0.01 (β = 0.9, 0.999):
    # v1 = 0.004, v2 = 0.999·0.004 + 0.001·0.0001 = 0.0039961 < v1, so it uses 0.004;
    # m2 = 0.9·0.2 + 0.1·0.01 = 0.181.
    w = engine.tensor([0.0], dtype=np.float64, requires_grad=True)
    opt = Adam([w], lr=0.01, eps=0.0, amsgrad=True)
    w.grad = engine.tensor([2.0], dtype=np.float64)
    opt.step()
    w.grad = engine.tensor([0.01], dtype=np.float64)
    opt.step()
    step1 = -0.01 * 1.0  # m̂ = g, v̂ = g²: the first step is lr·sign(g)
    step2 = -0.01 * (0.181 / 0.19) / math.sqrt(0.004 / (1 - 0.999 ** 2))
    assert w.data[0] == pytest.approx(step1 + step2, rel=1e-12)
    assert opt.state[w]["max_exp_avg_sq"][0] == pytest.approx(0.004, rel=1e-12)
    # A checkpoint written before these options existed still loads (they take defaults).
    sd = opt.state_dict()
    for g in sd["param_groups"]:
        del g["amsgrad"], g["maximize"]
    fresh = Adam([engine.tensor([0.0], dtype=np.float64, requires_grad=True)], lr=0.5)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["amsgrad"] is False and fresh.param_groups[0]["lr"] == 0.01


def test_float64_parameters_keep_float64_state():
    w, b, opt = run(Adam, 2, dtype=np.float64, lr=0.1)
    assert w.dtype == np.float64
    assert opt.state[w]["exp_avg"].dtype == np.float64
    np.testing.assert_allclose(w.data, ref_adam(2, lr=0.1)[0], rtol=1e-12)


@given(lr=st.floats(1e-3, 0.2), momentum=st.sampled_from([0.0, 0.5, 0.9]),
       weight_decay=st.sampled_from([0.0, 0.01, 0.3]), nesterov=st.booleans())
def test_sgd_property(lr, momentum, weight_decay, nesterov):
    nesterov = nesterov and momentum > 0
    kw = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    w, b, _ = run(SGD, 3, dtype=np.float64, **kw)
    rw, rb = ref_sgd(3, **kw)
    np.testing.assert_allclose(w.data, rw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.data, rb, rtol=1e-10, atol=1e-12)


@given(lr=st.floats(1e-3, 0.2), b1=st.floats(0.0, 0.95), b2=st.floats(0.5, 0.9999),
       weight_decay=st.sampled_from([0.0, 0.05]), decoupled=st.booleans())
def test_adam_property(lr, b1, b2, weight_decay, decoupled):
    cls = AdamW if decoupled else Adam
    kw = dict(lr=lr, betas=(b1, b2), weight_decay=weight_decay)
    w, b, _ = run(cls, 3, dtype=np.float64, **kw)
    rw, rb = ref_adam(3, decoupled=decoupled, eps=1e-8 if decoupled else 1e-7, **kw)
    np.testing.assert_allclose(w.data, rw, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.data, rb, rtol=1e-9, atol=1e-12)


# -- torch (optional) ---------------------------------------------------------------------
TORCH_CASES = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.5, dampening=0.5)),
    ("Adam", dict(lr=0.05, eps=1e-7)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-7, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, eps=1e-7)),
    ("AdamW", dict(lr=0.05)),  # the defaults: PyTorch's eps 1e-8, weight_decay 0.01
    ("AdamW", dict(lr=0.05, eps=1e-7, weight_decay=0.5)),
    ("RMSprop", dict(lr=0.01, eps=1e-7)),
    ("RMSprop", dict(lr=0.01)),  # the default eps: PyTorch's 1e-8
    ("SGD", dict()),  # PyTorch's default lr 1e-3
    ("SGD", dict(lr=1e-4, momentum=0.9, maximize=True)),  # ascent: small steps
    ("Adam", dict(lr=0.05, eps=1e-7, amsgrad=True)),
    ("AdamW", dict(lr=0.05, amsgrad=True, maximize=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("RMSprop", dict(lr=0.01, eps=1e-7, momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.005, eps=1e-7, alpha=0.9, centered=True)),
]


def torch_problem(torch, name, kw, dtype):
    """The tiny problem's parameters in torch, and one step of torch.optim.<name> on it."""
    tw = torch.tensor(W0, dtype=dtype, requires_grad=True)
    tb = torch.tensor(B0, dtype=dtype, requires_grad=True)
    tc, tt = torch.tensor(C, dtype=dtype), torch.tensor(T, dtype=dtype)
    topt = getattr(torch.optim, name)([tw, tb], foreach=False, **kw)

    def step():
        topt.zero_grad()
        (tc * (tw - tt) ** 2).sum().add((tb - 1).pow(4).sum()).backward()
        topt.step()
    return tw, tb, step, topt


def step_both(n, torch_step, opt, w, b):
    """n steps of torch's optimizer and of ours, side by side."""
    for _ in range(n):
        torch_step()
        opt.zero_grad()
        loss_of(w, b).backward()
        opt.step()


def assert_same(w, b, tw, tb, **tol):
    np.testing.assert_allclose(w.data, tw.detach().numpy(), **tol)
    np.testing.assert_allclose(b.data, tb.detach().numpy(), **tol)


def check_against_torch(name, kw, dtype=np.float32, state_tol=None, **tol):
    """20 steps of nn.optim.<name> and torch.optim.<name> side by side on the tiny problem in
    ``dtype``: the same parameters (to ``tol``), and the same state as torch's state_dict
    (names, step counts, contents to ``state_tol``, by default ``tol``)."""
    torch = pytest.importorskip("torch")
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    tw, tb, torch_step, topt = torch_problem(torch, name, kw, tdtype)
    w, b = make_params(dtype)
    opt = getattr(optim, name)([w, b], **kw)
    step_both(20, torch_step, opt, w, b)
    assert_same(w, b, tw, tb, **tol)
    # Same state layout and contents as torch's state_dict.
    ts, ours = topt.state_dict(), opt.state_dict()
    assert ours["param_groups"][0]["params"] == ts["param_groups"][0]["params"]
    assert set(ours["state"]) == set(ts["state"])
    for i, entry in ours["state"].items():
        assert set(entry) == set(ts["state"][i])
        for k, v in entry.items():
            tv = ts["state"][i][k]
            if k == "step":
                assert v == int(tv)
            else:
                np.testing.assert_allclose(v, tv.numpy(), **(state_tol or tol))


@pytest.mark.parametrize("name, kw", TORCH_CASES,
                         ids=[f"{n}-{'-'.join(map(str, k.values()))}" for n, k in TORCH_CASES])
def test_matches_torch_for_20_steps(name, kw):
    check_against_torch(name, kw, rtol=1e-4, atol=1e-5)


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=s).astype(np.float32) for s in [(3, 4), (5,), (2, 2, 2)]]
    for norm_type in (2.0, 1.0, 3.0, math.inf):
        ts = [torch.zeros(a.shape, requires_grad=True) for a in arrays]
        ps = [engine.zeros(*a.shape, requires_grad=True) for a in arrays]
        for t, p, a in zip(ts, ps, arrays, strict=True):
            t.grad, p.grad = torch.tensor(a), engine.tensor(a)
        tn = torch.nn.utils.clip_grad_norm_(ts, 0.5, norm_type=norm_type)
        n = clip_grad_norm_(ps, 0.5, norm_type=norm_type)
        assert n.shape == () and n.dtype == np.float32 == tn.numpy().dtype  # torch's: 0-d
        assert float(n) == pytest.approx(float(tn), rel=1e-5)
        for t, p in zip(ts, ps, strict=True):
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-5, atol=1e-7)
    # Edge cases: a NaN gradient, and a norm a hair below max_norm (float64).
    for grads, max_norm in (([[np.nan, 1.0], [1.0, 2.0]], 1.0), ([[3.0, 4.0]], 5.0),
                            ([[3.0, 4.0]], 5.0 + 5e-7), ([[np.inf, 1.0]], 1.0)):
        ts = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in grads]
        ps = [engine.zeros(2, dtype=np.float64, requires_grad=True) for _ in grads]
        for t, p, g in zip(ts, ps, grads, strict=True):
            t.grad = torch.tensor(g, dtype=torch.float64)
            p.grad = engine.tensor(g, dtype=np.float64)
        tn = torch.nn.utils.clip_grad_norm_(ts, max_norm)
        n = clip_grad_norm_(ps, max_norm)
        assert n.dtype == np.float64 == tn.numpy().dtype
        assert float(n) == pytest.approx(float(tn), nan_ok=True)
        for t, p in zip(ts, ps, strict=True):
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-15)


# -- state dicts ---------------------------------------------------------------------------
RESUME_CASES = [(SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
                (Adam, dict(lr=0.1, weight_decay=0.01)), (AdamW, dict(lr=0.1)),
                (RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
                (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
                (optim.Adamax, dict(lr=0.05, weight_decay=0.01)),
                (optim.NAdam, dict(lr=0.05, weight_decay=0.01, decoupled_weight_decay=True)),
                (optim.RAdam, dict(lr=0.05, weight_decay=0.01)),  # past ρ_t > 5 by step 8
                (optim.Adadelta, dict(lr=1.0, weight_decay=0.01))]


@pytest.mark.parametrize("cls, kw", RESUME_CASES, ids=[c.__name__ for c, _ in RESUME_CASES])
def test_resume_through_nn_save_equals_one_run(cls, kw, tmp_path):
    n = 4
    w_full, b_full, _ = run(cls, 2 * n, **kw)

    w, b, opt = run(cls, n, **kw)
    nn.save({"params": [w.data, b.data], "optim": opt.state_dict()}, tmp_path / "ckpt.npz")
    ckpt = nn.load(tmp_path / "ckpt.npz")
    w2, b2 = make_params()  # fresh parameters and a fresh optimizer
    with engine.no_grad():
        w2.copy_(ckpt["params"][0])
        b2.copy_(ckpt["params"][1])
    opt2 = cls([w2, b2], lr=123.0)  # a wrong lr: the state dict's hyper-parameters win
    opt2.load_state_dict(ckpt["optim"])
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for _ in range(n):
        opt2.zero_grad()
        loss_of(w2, b2).backward()
        opt2.step()
    assert np.array_equal(w2.data, w_full.data) and np.array_equal(b2.data, b_full.data)


def test_state_dict_layout_and_copies():
    w, b, opt = run(Adam, 2, lr=0.1)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sd["param_groups"] == [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-7,
                                   "weight_decay": 0.0, "amsgrad": False, "maximize": False,
                                   "params": [0, 1]}]
    assert sd["state"][0]["step"] == 2 and isinstance(sd["state"][0]["step"], int)
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    sd["state"][0]["exp_avg"][...] = 99  # a copy: the optimizer's state is untouched
    assert not (opt.state[w]["exp_avg"] == 99).any()
    # Loading copies too, into the parameter's dtype.
    sd64 = opt.state_dict()
    sd64["state"][0]["exp_avg"] = sd64["state"][0]["exp_avg"].astype(np.float64)
    opt.load_state_dict(sd64)
    assert opt.state[w]["exp_avg"].dtype == np.float32
    sd64["state"][0]["exp_avg"][...] = 7
    assert not (opt.state[w]["exp_avg"] == 7).any()


def test_load_state_dict_errors():
    w, b, opt = run(Adam, 1, lr=0.1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="2 parameters in the state dict, 1 here"):
        Adam([make_params()[0]]).load_state_dict(sd)
    bad = opt.state_dict()
    bad["state"][1]["exp_avg"] = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        Adam(list(make_params())).load_state_dict(bad)
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: state \['exp_avg', "
                                         r"'exp_avg_sq', 'step'\] of parameter 0 is not a "
                                         r"SGD's \(\['momentum_buffer'\]\)"):
        SGD(list(make_params()), lr=0.1).load_state_dict(sd)
    groups_only = {"state": {}, "param_groups": sd["param_groups"]}
    with pytest.raises(ValueError, match="different optimizer"):
        SGD(list(make_params()), lr=0.1).load_state_dict(groups_only)
    # a Keras rule's state (Keras's 'momentum' velocity) is not PyTorch's momentum_buffer
    params = list(make_params())
    for p in params:
        p.grad = engine.ones_like(p)
    keras_sgd = nn.keras.optimizers.KerasSGD(params, lr=0.1, momentum=0.9)
    keras_sgd.step()
    with pytest.raises(ValueError, match=r"state \['momentum'\] of parameter 0 is not a "
                                         r"SGD's"):
        SGD(list(make_params()), lr=0.1, momentum=0.9).load_state_dict(keras_sgd.state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        Adam(list(make_params())).load_state_dict({"w": 1})
    fresh = Adam(list(make_params()), lr=0.5)
    with pytest.raises(ValueError):
        fresh.load_state_dict(bad)
    assert fresh.param_groups[0]["lr"] == 0.5 and not fresh.state  # nothing half-loaded


def test_load_state_dict_refuses_flags_it_would_ignore():
    w, b, opt = run(Adam, 1, lr=0.1)
    for key, value, match in (("capturable", True, "capturable=True; stepgrad's Adam runs "
                                                   "with capturable=False only"),
                              ("differentiable", True, "differentiable=True"),
                              ("decoupled_weight_decay", True, "load it into the other one"),
                              ("learning_rate", 0.1, "unknown hyper-parameter 'learning_rate'")):
        sd = opt.state_dict()
        sd["param_groups"][0][key] = value
        with pytest.raises(ValueError, match=match):
            Adam(list(make_params())).load_state_dict(sd)
    sd = opt.state_dict()
    sd["param_groups"][0].update(foreach=None, fused=None, capturable=False)
    fresh = Adam(list(make_params()))
    fresh.load_state_dict(sd)  # PyTorch's neutral flags: accepted, and not kept
    assert "foreach" not in fresh.param_groups[0] and "capturable" not in fresh.param_groups[0]
    sd["state"][0]["exp_avg"] = "zeros"
    with pytest.raises(TypeError, match="state 'exp_avg' of parameter 0 is a str"):
        Adam(list(make_params())).load_state_dict(sd)


@pytest.mark.parametrize("name, kw", [("SGD", dict(lr=0.05, momentum=0.9)),
                                      ("SGD", dict(lr=0.05)),
                                      ("Adam", dict(lr=0.1, eps=1e-8)), ("AdamW", dict(lr=0.1)),
                                      ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True))])
def test_load_a_torch_optimizer_state_dict(name, kw):
    # PyTorch's state_dict (tensors, a float step, its flags) continues here as in PyTorch.
    torch = pytest.importorskip("torch")
    _, _, w, b, tw, tb = resume_from_torch_state(torch, name, kw, 3)
    assert_same(w, b, tw, tb, rtol=1e-12, atol=1e-14)


def resume_from_torch_state(torch, name, kw, steps):
    """``steps`` of torch.optim.<name> on the tiny problem (float64), its state_dict loaded
    into ours, then ``steps`` more on both sides: (ours, torch's state dict, w, b, tw, tb)."""
    tw, tb, torch_step, topt = torch_problem(torch, name, kw, torch.float64)
    for _ in range(steps):
        torch_step()
    w = engine.tensor(tw.detach().numpy().copy(), dtype=np.float64, requires_grad=True)
    b = engine.tensor(tb.detach().numpy().copy(), dtype=np.float64, requires_grad=True)
    opt = getattr(optim, name)([w, b], **kw)
    sd = topt.state_dict()
    opt.load_state_dict(sd)
    step_both(steps, torch_step, opt, w, b)
    return opt, sd, w, b, tw, tb


# -- what gets updated ---------------------------------------------------------------------
@pytest.mark.parametrize("cls, kw", RESUME_CASES, ids=[c.__name__ for c, _ in RESUME_CASES])
def test_frozen_and_gradless_params_are_untouched(cls, kw):
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    model[0].freeze()
    spare = engine.tensor([1.0, 2.0], requires_grad=True)  # never gets a gradient
    before = {k: v.copy() for k, v in model.state_dict().items()}
    opt = cls(list(model.parameters()) + [spare], **kw)
    x = engine.randn(8, 3)
    for _ in range(3):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    after = model.state_dict()
    for key in ("0.weight", "0.bias"):
        assert np.array_equal(after[key], before[key])
    assert not np.array_equal(after["2.weight"], before["2.weight"])
    assert spare.data.tolist() == [1.0, 2.0]
    frozen = {id(model[0].weight), id(model[0].bias), id(spare)}
    assert not any(id(p) in frozen for p in opt.state)
    # A frozen parameter that still carries an old gradient is skipped too.
    model[0].weight.grad = engine.ones_like(model[0].weight)
    opt.step()
    assert np.array_equal(model.state_dict()["0.weight"], before["0.weight"])


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: Adam(ps, lr=0.1),
                                  lambda ps: AdamW(ps, lr=0.1), lambda ps: RMSprop(ps, lr=0.1)],
                         ids=["SGD", "Adam (fused kernel)", "AdamW", "RMSprop"])
@pytest.mark.parametrize("size", [2, 5000], ids=["small", "fused-size"])
def test_step_bumps_version_so_stale_graphs_raise(make, size):
    w = engine.tensor(np.linspace(1.0, 2.0, size), requires_grad=True)
    opt = make([w])
    y = (w * w).sum()
    y2 = (w * w).sum()
    y.backward()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y2.backward()


def test_zero_grad_and_generator_params():
    engine.manual_seed(0)
    model = nn.Linear(2, 1)
    opt = SGD(model.parameters(), lr=0.1)  # a generator: materialised once
    assert len(opt.param_groups[0]["params"]) == 2
    model(engine.ones(1, 2)).sum().backward()
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(engine.ones(1, 2)).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in model.parameters())


def test_param_groups_with_own_hyper_parameters():
    w, b = make_params()
    opt = SGD([{"params": [w]}, {"params": [b], "lr": 0.0}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.0]
    assert opt.param_groups[1]["momentum"] == 0.9
    loss_of(w, b).backward()
    opt.step()
    assert np.array_equal(b.data, B0.astype(np.float32)) and not np.array_equal(w.data, W0)
    assert opt.state_dict()["param_groups"][1]["params"] == [1]
    assert "Parameter Group 1" in repr(opt)


def test_constructor_errors():
    w, b = make_params()
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam(iter([]))
    with pytest.raises(ValueError, match="invalid learning rate -0.1"):
        SGD([w], lr=-0.1)
    with pytest.raises(ValueError, match="invalid learning rate"):
        Adam([w], lr=float("nan"))
    with pytest.raises(TypeError, match="model.parameters"):
        Adam(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="single Tensor"):
        Adam(w)
    with pytest.raises(ValueError, match="more than once"):
        SGD([w, b, w], lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW([w], weight_decay=-1)
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        SGD([{"params": [w], "learning_rate": 0.1}], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        SGD([w * 2], lr=0.1)


def test_closure_is_evaluated_and_returned():
    w, b = make_params()
    opt = SGD([w, b], lr=0.01)

    def closure():
        opt.zero_grad()
        loss = loss_of(w, b)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(loss_of(*make_params()).item())
    assert not np.array_equal(w.data, W0.astype(np.float32))


# -- clipping ------------------------------------------------------------------------------
def test_clip_grad_norm_returns_pre_clip_norm_and_rescales():
    a, b = engine.zeros(2, requires_grad=True), engine.zeros(1, requires_grad=True)
    a.grad, b.grad = engine.tensor([3.0, 4.0]), engine.tensor([12.0])
    c = engine.zeros(1, requires_grad=True)  # no grad: ignored
    total = clip_grad_norm_([a, b, c], max_norm=2.6)
    assert isinstance(total, engine.Tensor) and total.shape == () and not total.requires_grad
    assert total.dtype == np.float32 and total.item() == pytest.approx(13.0)
    new_norm = math.sqrt(float((a.grad ** 2).sum() + (b.grad ** 2).sum()))
    assert new_norm == pytest.approx(2.6, rel=1e-5)
    np.testing.assert_allclose(a.grad, [0.6, 0.8], rtol=1e-5)  # direction kept
    assert a.grad.dtype == np.float32
    # Under the limit: unchanged, norm still returned.
    assert clip_grad_norm_([a, b], max_norm=10.0).item() == pytest.approx(2.6, rel=1e-5)
    np.testing.assert_allclose(a.grad, [0.6, 0.8], rtol=1e-5)
    assert clip_grad_norm_(a, max_norm=1.0, norm_type=math.inf).item() == pytest.approx(
        0.8, rel=1e-5)
    assert clip_grad_norm_([c], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite_and_value():
    a = engine.zeros(2, requires_grad=True)
    a.grad = engine.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        clip_grad_norm_([a], 1.0, error_if_nonfinite=True)
    a.grad = engine.tensor([-3.0, 0.25])
    clip_grad_value_([a], 0.5)
    assert a.grad.tolist() == [-0.5, 0.25] and a.grad.dtype == np.float32
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_([a], -1.0)
    # PyTorch's rule: a NaN norm makes every gradient NaN (not only the one holding the NaN),
    # and a norm within 1e-6 of max_norm is still scaled by max_norm / (norm + 1e-6).
    a.grad, b = engine.tensor([np.nan, 1.0]), engine.zeros(2, requires_grad=True)
    b.grad = engine.tensor([1.0, 2.0])
    assert math.isnan(clip_grad_norm_([a, b], 1.0))
    assert np.isnan(b.grad.numpy()).all()
    b = engine.zeros(2, dtype=np.float64, requires_grad=True)
    b.grad = engine.tensor([3.0, 4.0], dtype=np.float64)
    assert clip_grad_norm_([b], 5.0).item() == 5.0
    np.testing.assert_array_equal(b.grad, np.array([3.0, 4.0]) * (5 / (5 + 1e-6)))


# -- schedulers ----------------------------------------------------------------------------
def one_param_opt(lr=0.1, cls=SGD):
    return cls([engine.zeros(1, requires_grad=True)], lr=lr)


def test_exponential_and_step_lr():
    opt = one_param_opt(0.1)
    s = ExponentialLR(opt, gamma=0.9)
    assert s.get_last_lr() == [0.1] and opt.param_groups[0]["initial_lr"] == 0.1
    lrs = [s.get_last_lr()[0]]
    for _ in range(4):
        s.step()
        lrs.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, [0.1 * 0.9 ** e for e in range(5)], rtol=1e-15)
    assert s.on_epoch_begin(10) == [pytest.approx(0.1 * 0.9 ** 10)]  # Keras hook: any epoch

    opt = one_param_opt(1.0)
    s = StepLR(opt, step_size=3, gamma=0.5)
    got = [s.on_epoch_begin(e)[0] for e in range(8)]
    assert got == [1.0] * 3 + [0.5] * 3 + [0.25] * 2


def test_lambda_lr_exercise_7b_schedule():
    # Exercise 001 Ex7B: Adam(0.02); from epoch 10 on, lr ← round(lr·exp(−0.05), 4).
    def schedule(epoch, lr):
        return lr if epoch < 10 else np.round(lr * np.exp(-0.05), 4)

    expected, lr = [], 0.02  # computed here, independently of the scheduler
    for epoch in range(25):
        if epoch >= 10:
            lr = round(lr * math.exp(-0.05), 4)
        expected.append(lr)
    # The course's printed rates ("Taxa atual") for epochs 10..24 agree.
    assert expected[10:] == [0.019, 0.0181, 0.0172, 0.0164, 0.0156, 0.0148, 0.0141, 0.0134,
                             0.0127, 0.0121, 0.0115, 0.0109, 0.0104, 0.0099, 0.0094]

    opt = one_param_opt(0.02, Adam)
    s = LambdaLR(opt, schedule)
    keras_way = [s.on_epoch_begin(e)[0] for e in range(25)]
    assert keras_way == pytest.approx(expected, abs=1e-12)
    assert all(type(v) is float for v in keras_way)

    opt = one_param_opt(0.02, Adam)
    s = LambdaLR(opt, schedule)
    torch_way = [s.get_last_lr()[0]]
    for _ in range(24):
        s.step()
        torch_way.append(opt.param_groups[0]["lr"])
    assert torch_way == keras_way


def test_lambda_lr_applies_fn_once_per_epoch():
    calls = []

    def halve(epoch, lr):
        calls.append(epoch)
        return lr / 2

    opt = one_param_opt(1.0)
    s = LambdaLR(opt, halve)  # applies epoch 0
    s.on_epoch_begin(0)  # fit's first call: already applied, nothing happens
    s.on_epoch_begin(1)
    assert calls == [0, 1] and opt.param_groups[0]["lr"] == 0.25


def test_scheduler_state_dict_and_resume():
    opt = one_param_opt(0.1)
    s = ExponentialLR(opt, gamma=0.5)
    s.step()
    s.step()
    sd = s.state_dict()
    assert sd["last_epoch"] == 2 and "optimizer" not in sd
    # PyTorch's checkpoint recipe restores both: the optimizer carries the lr in use, and the
    # next step multiplies that lr (restoring the scheduler alone continues from 0.1, in
    # PyTorch as here).
    opt2 = one_param_opt(0.1)
    s2 = ExponentialLR(opt2, gamma=0.5)
    opt2.load_state_dict(opt.state_dict())
    s2.load_state_dict(sd)
    s2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)
    # Resuming by last_epoch needs the 'initial_lr' a scheduler left in the groups.
    with pytest.raises(KeyError, match="initial_lr"):
        ExponentialLR(one_param_opt(), gamma=0.5, last_epoch=3)
    opt3 = one_param_opt(0.1)
    opt3.load_state_dict(opt.state_dict())  # carries lr 0.025 and initial_lr 0.1
    s3 = ExponentialLR(opt3, gamma=0.5, last_epoch=2)
    s3.step()
    assert s3.get_last_lr() == [pytest.approx(0.1 * 0.5 ** 3)]


def test_scheduler_errors():
    with pytest.raises(ValueError, match="gamma"):
        ExponentialLR(one_param_opt(), gamma=0)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(one_param_opt(), step_size=0)
    with pytest.raises(TypeError, match="callable"):
        LambdaLR(one_param_opt(), 0.5)
    with pytest.raises(TypeError, match="requires 3 arguments"):
        LambdaLR(one_param_opt(), lambda a, b, c: 0.1)
    with pytest.raises(TypeError, match="once"):
        LambdaLR(one_param_opt(), lambda e: 1.0, lr_lambda=lambda e: 1.0)
    with pytest.raises(ValueError, match="expected 1 functions"):
        LambdaLR(one_param_opt(), [lambda e: 1.0, lambda e: 1.0])
    opt = one_param_opt()
    s = StepLR(opt, step_size=1)
    opt.add_param_group({"params": [engine.zeros(1, requires_grad=True)]})
    with pytest.raises(ValueError, match="build the scheduler after adding the group"):
        s.step()
    s = LambdaLR(one_param_opt(), lambda e, lr: lr if e < 1 else -1.0)
    with pytest.raises(ValueError, match="epoch 1 is -1.0"):
        s.step()
    with pytest.raises(TypeError, match="optimizer"):
        StepLR([1, 2], step_size=1)


def test_schedulers_match_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(lambda o: ExponentialLR(o, gamma=0.8),
                          lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8)),
                         (lambda o: StepLR(o, step_size=2, gamma=0.3),
                          lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.3))]:
        opt = one_param_opt(0.5)
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
        s, ts = ours(opt), theirs(topt)
        for _ in range(7):
            assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
            topt.step()
            s.step()
            ts.step()


def _chained_lrs(make, n=12, set_lr_at=None, groups=(0.5,)):
    """The lr of every group after each of n steps, setting every group's lr to 0.05 by hand
    before step ``set_lr_at``; ``make`` builds the scheduler(s) from the optimizer."""
    opt = SGD([{"params": [engine.zeros(1, requires_grad=True)], "lr": lr} for lr in groups],
              lr=1.0)
    scheds, out = make(opt), []
    for e in range(n):
        if e == set_lr_at:
            for g in opt.param_groups:
                g["lr"] = 0.05
        for s in scheds:
            s.step()
        out.append([g["lr"] for g in opt.param_groups])
    return out


def test_schedulers_chain_from_the_lr_in_use():
    # A learning rate set by hand between epochs carries on, as in PyTorch (the schedulers
    # scale the lr in use), instead of being overwritten by the closed form from base_lr.
    # Expected values written out: StepLR(2, 0.5) from 0.5, the lr set to 0.05 before step 3.
    got = _chained_lrs(lambda o: [StepLR(o, 2, 0.5)], n=6, set_lr_at=3)
    assert [g[0] for g in got] == [0.5, 0.25, 0.25, 0.025, 0.025, 0.0125]
    got = _chained_lrs(lambda o: [ExponentialLR(o, 0.5)], n=4, set_lr_at=2)
    assert [g[0] for g in got] == [0.25, 0.125, 0.025, 0.0125]
    # Two schedulers on one optimizer compose: ×0.5 each step and ×0.1 every 2nd step.
    got = _chained_lrs(lambda o: [ExponentialLR(o, 0.5), StepLR(o, 2, 0.1)], n=2)
    assert [g[0] for g in got] == pytest.approx([0.25, 0.0125], rel=1e-15)
    # Without outside changes the chained cosine equals its closed form (to rounding).
    got = _chained_lrs(lambda o: [CosineAnnealingLR(o, T_max=5, eta_min=0.01)], n=12)
    closed = [0.01 + 0.49 * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(1, 13)]
    assert [g[0] for g in got] == pytest.approx(closed, rel=1e-12)
    # Jumping to an epoch (Keras's hook, PyTorch's step(epoch)) uses the closed form.
    opt = one_param_opt(1.0)
    s = StepLR(opt, 2, 0.5)
    opt.param_groups[0]["lr"] = 7.0
    assert s.on_epoch_begin(5) == [0.25] and s.on_epoch_begin(5) == [0.25]  # again: as is


def test_multistep_and_linear_lr_by_hand():
    got = _chained_lrs(lambda o: [MultiStepLR(o, [2, 4, 4], 0.5)], n=5, groups=(1.0,))
    assert [g[0] for g in got] == [1.0, 0.5, 0.5, 0.125, 0.125]  # epochs 1..5; 4 twice: ÷4
    got = _chained_lrs(lambda o: [LinearLR(o, 0.5, 1.0, 4)], n=5, groups=(0.8,))
    assert [g[0] for g in got] == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.8], rel=1e-14)
    opt = one_param_opt(1.0)  # epoch 0 is applied on construction: the warm-up starts low
    assert LinearLR(opt, start_factor=0.25).get_last_lr() == [0.25]
    with pytest.raises(ValueError, match="start_factor must be in"):
        LinearLR(one_param_opt(), start_factor=0)
    with pytest.raises(ValueError, match="milestones must be ints"):
        MultiStepLR(one_param_opt(), [1.5])


def test_lambda_lr_pytorch_form():
    # fn(epoch) with one required argument is PyTorch's factor of the base lr; a later
    # parameter with a default is not filled with the lr (it was, silently).
    def warmup(epoch, steps=4):
        return min(1.0, (epoch + 1) / steps)

    opt = SGD([{"params": [engine.zeros(1, requires_grad=True)], "lr": 0.1},
               {"params": [engine.zeros(1, requires_grad=True)], "lr": 0.02}], lr=1.0)
    s = LambdaLR(opt, lr_lambda=warmup)
    lrs = [s.get_last_lr()]
    for _ in range(4):
        s.step()
        lrs.append(s.get_last_lr())
    np.testing.assert_allclose(lrs, [[0.025, 0.005], [0.05, 0.01], [0.075, 0.015],
                                     [0.1, 0.02], [0.1, 0.02]], rtol=1e-15)
    # One function per group, and a 0-d numpy factor.
    opt = SGD([{"params": [engine.zeros(1, requires_grad=True)], "lr": 1.0},
               {"params": [engine.zeros(1, requires_grad=True)], "lr": 2.0}], lr=1.0)
    s = LambdaLR(opt, [lambda e: 0.5 ** e, lambda e: np.float64(1 / (e + 1))])
    s.step()
    s.step()
    assert s.get_last_lr() == [0.25, 2 / 3] and all(type(v) is float for v in s.get_last_lr())


def test_schedulers_chain_like_torch():
    torch = pytest.importorskip("torch")
    tsched = torch.optim.lr_scheduler
    pairs = [
        (lambda o: [StepLR(o, 3, 0.5)], lambda o: [tsched.StepLR(o, 3, 0.5)]),
        (lambda o: [ExponentialLR(o, 0.9)], lambda o: [tsched.ExponentialLR(o, 0.9)]),
        (lambda o: [CosineAnnealingLR(o, 7, 0.001)],
         lambda o: [tsched.CosineAnnealingLR(o, 7, 0.001)]),
        (lambda o: [CosineAnnealingLR(o, 4.5)], lambda o: [tsched.CosineAnnealingLR(o, 4.5)]),
        (lambda o: [LambdaLR(o, lambda e, w=5: min(1, (e + 1) / w))],
         lambda o: [tsched.LambdaLR(o, lambda e, w=5: min(1, (e + 1) / w))]),
        (lambda o: [ExponentialLR(o, 0.9), StepLR(o, 3, 0.5)],
         lambda o: [tsched.ExponentialLR(o, 0.9), tsched.StepLR(o, 3, 0.5)]),
        (lambda o: [MultiStepLR(o, [3, 7, 7, 12], 0.5)],
         lambda o: [tsched.MultiStepLR(o, [3, 7, 7, 12], 0.5)]),
        (lambda o: [LinearLR(o)], lambda o: [tsched.LinearLR(o)]),
        (lambda o: [LinearLR(o, 0.5, 0.1, 8)], lambda o: [tsched.LinearLR(o, 0.5, 0.1, 8)]),
        (lambda o: [LinearLR(o, 0.1, total_iters=4), CosineAnnealingLR(o, 20)],
         lambda o: [tsched.LinearLR(o, 0.1, total_iters=4), tsched.CosineAnnealingLR(o, 20)]),
    ]
    for ours, theirs in pairs:
        for set_lr_at in (None, 5):
            def torch_lrs(n=30, theirs=theirs, set_lr_at=set_lr_at):
                opt = torch.optim.SGD(
                    [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}
                     for lr in (0.5, 0.1)], lr=1.0)
                scheds, out = theirs(opt), []
                for e in range(n):
                    if e == set_lr_at:
                        for g in opt.param_groups:
                            g["lr"] = 0.05
                    opt.step()
                    for s in scheds:
                        s.step()
                    out.append([g["lr"] for g in opt.param_groups])
                return out
            np.testing.assert_allclose(_chained_lrs(ours, 30, set_lr_at, (0.5, 0.1)),
                                       torch_lrs(), rtol=1e-13)


# -- LBFGS -----------------------------------------------------------------------------------
def _breast_cancer():
    datasets = pytest.importorskip("sklearn.datasets")
    x, y = datasets.load_breast_cancer(return_X_y=True)
    return (x - x.mean(0)) / x.std(0), y.astype(np.float64)


def _logreg_closure(opt, w, b, x, y, C=1.0):
    """scikit-learn's L2 logistic regression objective divided by C·n:
    (1/n) Σ [log(1 + e^z) − y z] + ‖w‖² / (2 C n), z = x w + b (intercept not penalised)."""
    xt, yt, n = engine.tensor(x, dtype=np.float64), engine.tensor(y, dtype=np.float64), len(y)

    def closure():
        opt.zero_grad()
        z = xt @ w + b
        softplus = z.relu() + (1 + (-z.abs()).exp()).log()  # log(1 + e^z), stably
        loss = (softplus - yt * z).mean() + (w * w).sum() / (2 * C * n)
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_logistic_regression_reaches_sklearn(line_search_fn):
    linear_model = pytest.importorskip("sklearn.linear_model")
    x, y = _breast_cancer()
    ref = linear_model.LogisticRegression(C=1.0, solver="lbfgs", tol=1e-12,
                                          max_iter=10000).fit(x, y)
    w = engine.tensor(np.zeros(x.shape[1]), requires_grad=True, dtype=np.float64)
    b = engine.tensor(np.zeros(1), requires_grad=True, dtype=np.float64)
    opt = optim.LBFGS([w, b], line_search_fn=line_search_fn, history_size=10, max_iter=200,
                      tolerance_change=1e-12)
    closure = _logreg_closure(opt, w, b, x, y)
    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(w.data, ref.coef_[0], atol=1e-4)
    np.testing.assert_allclose(b.data, ref.intercept_, atol=1e-4)


@pytest.mark.parametrize("line_search_fn, history_size", [(None, 100), (None, 5),
                                                          ("strong_wolfe", 100),
                                                          ("strong_wolfe", 5)])
def test_lbfgs_equals_torch_in_float64(line_search_fn, history_size):
    torch = pytest.importorskip("torch")
    x, y = _breast_cancer()
    w = engine.tensor(np.zeros(x.shape[1]), requires_grad=True, dtype=np.float64)
    b = engine.tensor(np.zeros(1), requires_grad=True, dtype=np.float64)
    opt = optim.LBFGS([w, b], line_search_fn=line_search_fn, history_size=history_size)
    closure = _logreg_closure(opt, w, b, x, y)
    tw = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    tb = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.LBFGS([tw, tb], line_search_fn=line_search_fn,
                             history_size=history_size)
    tx, ty, n = torch.tensor(x), torch.tensor(y), len(y)

    def tclosure():
        topt.zero_grad()
        z = tx @ tw + tb
        loss = (z.relu() + torch.log(1 + torch.exp(-z.abs())) - ty * z).mean() \
            + (tw * tw).sum() / (2 * n)
        loss.backward()
        return loss

    for _ in range(6):
        ours, theirs = opt.step(closure), topt.step(tclosure)
        assert ours.item() == pytest.approx(theirs.item(), rel=1e-12, abs=1e-14)
        np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=0, atol=1e-10)
    state, tstate = opt.state[w], topt.state[tw]
    assert (state["func_evals"], state["n_iter"]) == (tstate["func_evals"], tstate["n_iter"])


def test_lbfgs_rosenbrock_and_resume_bit_for_bit():
    # Rosenbrock's minimum is (1, 1) (f = 0), a classic test of quasi-Newton methods.
    def run(steps, state=None):
        p = engine.tensor([-1.5, 2.0], requires_grad=True, dtype=np.float64)
        opt = optim.LBFGS([p], line_search_fn="strong_wolfe", history_size=6, max_iter=5)
        if state is not None:
            with engine.no_grad():
                p.copy_(state[0])
            opt.load_state_dict(state[1])

        def closure():
            opt.zero_grad()
            loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
            loss.backward()
            return loss
        for _ in range(steps):
            opt.step(closure)
        return p, opt

    p, _ = run(30)
    np.testing.assert_allclose(p.data, [1.0, 1.0], atol=1e-6)
    p_all, _ = run(6)
    p_half, opt_half = run(3)
    import os
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "lbfgs.npz")
    nn.save({"p": p_half.data, "opt": opt_half.state_dict()}, path)
    back = nn.load(path)
    p_resumed, _ = run(3, state=(back["p"], back["opt"]))
    np.testing.assert_array_equal(p_resumed.data, p_all.data)


def test_lbfgs_errors():
    p = engine.tensor([1.0], requires_grad=True, dtype=np.float64)
    with pytest.raises(TypeError, match="needs a closure"):
        optim.LBFGS([p]).step()
    with pytest.raises(ValueError, match="'strong_wolfe'"):
        optim.LBFGS([p], line_search_fn="armijo")
    with pytest.raises(ValueError, match="per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [engine.tensor([1.0], requires_grad=True)]}])
    with pytest.raises(TypeError, match="one dtype"):
        optim.LBFGS([p, engine.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="history_size must be an int >= 1"):
        optim.LBFGS([p], history_size=0)
    with pytest.raises(ValueError, match="parameters have 1 numbers"):
        optim.LBFGS([p]).load_state_dict({"state": {0: {"d": np.zeros(3)}},
                                          "param_groups": optim.LBFGS([p]).state_dict()[
                                              "param_groups"]})


# -- CosineAnnealingLR, ReduceLROnPlateau ---------------------------------------------------
def _one_param_sgd(lr):
    return SGD([engine.zeros(1, requires_grad=True)], lr=lr)


def test_cosine_annealing_by_hand():
    s = optim.CosineAnnealingLR(_one_param_sgd(0.1), T_max=4, eta_min=0.02)
    got = [s.get_last_lr()[0]]
    for _ in range(8):
        s.step()
        got.append(s.get_last_lr()[0])
    # by hand: 0.02 + 0.08 (1 + cos(π e / 4)) / 2; periodic beyond T_max as PyTorch's
    hand = [0.02 + 0.08 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(9)]
    assert got == pytest.approx(hand, rel=1e-12)
    assert got[4] == pytest.approx(0.02) and got[8] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="T_max must be a number > 0"):
        optim.CosineAnnealingLR(_one_param_sgd(0.1), T_max=0)


def test_cosine_annealing_vs_torch():
    torch = pytest.importorskip("torch")
    s = optim.CosineAnnealingLR(_one_param_sgd(0.1), T_max=4, eta_min=0.02)
    got = [s.get_last_lr()[0]]
    for _ in range(8):
        s.step()
        got.append(s.get_last_lr()[0])
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    ts = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=4, eta_min=0.02)
    theirs = [ts.get_last_lr()[0]]
    for _ in range(8):
        topt.step()
        ts.step()
        theirs.append(ts.get_last_lr()[0])
    assert got == pytest.approx(theirs, rel=1e-12)


PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.95, 0.899, 0.89, 0.9, 0.91, 0.92, 0.5, 0.5, 0.5, 0.5,
                   0.49999, 0.6, 0.7]


def test_reduce_lr_on_plateau_by_hand():
    # patience 1, factor 0.5, rel threshold 1e-4 (min mode):
    # 1.0 best; 0.9 best; 0.9 bad1; 0.95 bad2 → cut to 0.5; 0.899 best (< 0.9·0.9999);
    # 0.89 best; 0.9 bad1; 0.91 bad2 → 0.25; 0.92 bad1; 0.5 best; 0.5 bad1; 0.5 bad2 → 0.125;
    # 0.5 bad1; 0.49999 bad2 (not < 0.5·0.9999) → 0.0625; 0.6 bad1; 0.7 bad2 → 0.03125
    s = optim.ReduceLROnPlateau(_one_param_sgd(1.0), patience=1, factor=0.5)
    lrs = []
    for m in PLATEAU_METRICS:
        s.step(m)
        lrs.append(s.get_last_lr()[0])
    assert lrs == [1, 1, 1, .5, .5, .5, .5, .25, .25, .25, .25, .125, .125, .0625, .0625,
                   .03125]
    with pytest.raises(ValueError, match="factor must be in"):
        optim.ReduceLROnPlateau(_one_param_sgd(1.0), factor=1.0)
    with pytest.raises(ValueError, match="mode must be"):
        optim.ReduceLROnPlateau(_one_param_sgd(1.0), mode="up")


@pytest.mark.parametrize("kw", [
    dict(patience=1, factor=0.5),
    dict(patience=0, factor=0.3, cooldown=2, min_lr=0.05),
    dict(mode="max", patience=2, threshold_mode="abs", threshold=0.01),
    dict(patience=1, threshold=0.1, threshold_mode="rel", eps=0.2),
])
def test_reduce_lr_on_plateau_vs_torch(kw):
    torch = pytest.importorskip("torch")
    s = optim.ReduceLROnPlateau(_one_param_sgd(1.0), **kw)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    for m in PLATEAU_METRICS:
        s.step(m)
        topt.step()
        ts.step(m)
        assert s.get_last_lr() == ts.get_last_lr()
        assert (s.num_bad_epochs, s.cooldown_counter) == (ts.num_bad_epochs,
                                                          ts.cooldown_counter)


@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.float32, np.float64]),
       wd=st.sampled_from([0.0, 0.1]), decoupled=st.booleans())
def test_fused_adam_gives_the_numpy_formulas_bits(seed, dtype, wd, decoupled):
    """Adam's one-pass kernel (engine/fast/kernels/optim.py) against the numpy expressions
    it replaces, run by the same optimizer with the kernel switched off: equal to the bit,
    float32 and float64, over 15 steps with zero, tiny and huge gradient entries."""
    from nn.optim import optimizers
    calls, kernel = [], optimizers.adam
    rng = np.random.default_rng(seed)
    shape = (optimizers.FUSED_MIN_SIZE // 64, 64)  # big enough for the kernel
    w0 = rng.standard_normal(shape).astype(dtype)
    fused, plain = (engine.tensor(w0.copy(), requires_grad=True) for _ in range(2))
    cls = AdamW if decoupled else Adam
    opts = [cls([fused], lr=0.01, weight_decay=wd), cls([plain], lr=0.01, weight_decay=wd)]
    for _ in range(15):
        g = rng.standard_normal(shape).astype(dtype) * 10.0 ** rng.integers(-8, 8, shape)
        g[0, 0] = 0.0
        fused.grad, plain.grad = engine.tensor(g), engine.tensor(g.copy())
        with pytest.MonkeyPatch.context() as m:   # the kernel runs (and is counted)
            m.setattr(optimizers, "adam", lambda *a: calls.append(1) or kernel(*a))
            opts[0].step()
        with pytest.MonkeyPatch.context() as m:
            m.setattr(optimizers, "FUSED_MIN_SIZE", 2**62)   # the numpy expressions
            m.setattr(optimizers, "_kernel_ready", lambda: False)
            opts[1].step()
    assert len(calls) == 15
    np.testing.assert_array_equal(fused.data, plain.data)
    for key in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_array_equal(opts[0].state[fused][key], opts[1].state[plain][key])


def test_small_parameters_take_the_adam_kernel_once_it_is_loaded():
    """Below FUSED_MIN_SIZE the numpy expressions run until some big parameter has loaded the
    kernel; after that small parameters take the kernel too, with the same bits."""
    from nn.optim import optimizers
    big = engine.tensor(np.ones(optimizers.FUSED_MIN_SIZE), requires_grad=True)
    big.grad = engine.ones(*big.shape)
    Adam([big]).step()                       # loads (or compiles) the kernel
    assert optimizers._kernel_ready()
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(5).astype(np.float32)
    fused, plain = (engine.tensor(w0.copy(), requires_grad=True) for _ in range(2))
    opts, calls, kernel = [Adam([fused], lr=0.1), Adam([plain], lr=0.1)], [], optimizers.adam
    for _ in range(5):
        g = rng.standard_normal(5).astype(np.float32)
        fused.grad, plain.grad = engine.tensor(g), engine.tensor(g.copy())
        with pytest.MonkeyPatch.context() as m:
            m.setattr(optimizers, "adam", lambda *a: calls.append(1) or kernel(*a))
            m.setattr(optimizers, "_kernel_ready", lambda: True)
            opts[0].step()
        with pytest.MonkeyPatch.context() as m:
            m.setattr(optimizers, "_kernel_ready", lambda: False)
            opts[1].step()
    assert len(calls) == 5
    np.testing.assert_array_equal(fused.data, plain.data)
    assert not np.array_equal(fused.data, w0)


@pytest.mark.parametrize("name, kw", [("Adam", dict(lr=0.01)), ("Adam", dict(weight_decay=0.1)),
                                      ("AdamW", dict(lr=0.01, weight_decay=0.5))])
def test_fused_adam_matches_torch_in_float64(name, kw):
    """A parameter big enough for the fused kernel, 30 steps of a quartic loss, against
    torch.optim in float64: the same rule, so agreement to rounding."""
    torch = pytest.importorskip("torch")
    from nn.optim import optimizers
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((optimizers.FUSED_MIN_SIZE // 32, 40))
    tw = torch.tensor(w0, requires_grad=True)
    w = engine.tensor(w0, requires_grad=True, dtype=np.float64)  # (float32 by default)
    topt = getattr(torch.optim, name)([tw], eps=1e-7, foreach=False, **kw)
    opt = getattr(optim, name)([w], eps=1e-7, **kw)
    for _ in range(30):
        topt.zero_grad()
        ((tw - 0.5) ** 4).sum().backward()
        topt.step()
        opt.zero_grad()
        ((w - 0.5) ** 4).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(opt.state[w]["exp_avg_sq"],
                               topt.state[tw]["exp_avg_sq"].numpy(), rtol=1e-12)


# -- OneCycleLR and CosineAnnealingWarmRestarts ---------------------------------------------
def _two_groups(cls, **kw):
    return cls([{"params": [engine.zeros(1, requires_grad=True)], "lr": 0.5},
                {"params": [engine.zeros(1, requires_grad=True)], "lr": 0.1}], **kw)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _one_cycle_run(opt, sched, n):
    """(lrs, momenta) of each group at steps 0..n, stepping n times."""
    out = []
    for step in range(n + 1):
        if step:
            sched.step()
        out.append(([g["lr"] for g in opt.param_groups], _momenta(opt)))
    return out


ONE_CYCLE_CASES = [
    ("SGD", dict(momentum=0.9), dict(max_lr=0.1, total_steps=50)),
    ("SGD", dict(momentum=0.9), dict(max_lr=[0.1, 0.5], epochs=4, steps_per_epoch=7,
                                     anneal_strategy="linear", base_momentum=[0.8, 0.7])),
    ("SGD", dict(), dict(max_lr=0.2, total_steps=40, pct_start=0.25, three_phase=True)),
    ("SGD", dict(momentum=0.5), dict(max_lr=0.2, total_steps=33, three_phase=True,
                                     anneal_strategy="linear", div_factor=10.0,
                                     final_div_factor=100.0, max_momentum=0.99)),
    ("SGD", dict(), dict(max_lr=0.3, total_steps=17, cycle_momentum=False, pct_start=0.0)),
    ("Adam", dict(betas=(0.9, 0.99)), dict(max_lr=[0.01, 0.02], total_steps=25)),
    ("AdamW", dict(), dict(max_lr=0.01, total_steps=30, anneal_strategy="linear",
                           three_phase=True, pct_start=0.4)),
    ("RMSprop", dict(momentum=0.3), dict(max_lr=0.05, total_steps=12, pct_start=1.0 - 1e-9)),
]


@pytest.mark.parametrize("name, opt_kw, kw", ONE_CYCLE_CASES,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(ONE_CYCLE_CASES)])
def test_one_cycle_matches_torch(name, opt_kw, kw):
    torch = pytest.importorskip("torch")
    total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
    opt = _two_groups(getattr(optim, name), **opt_kw)
    ours = _one_cycle_run(opt, optim.OneCycleLR(opt, **kw), total)
    topt = getattr(torch.optim, name)(
        [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in (0.5, 0.1)],
        **opt_kw)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **kw)
    theirs = []
    for step in range(total + 1):  # PyTorch allows total_steps step() calls, up to step total
        if step:
            topt.step()
            tsched.step()
        theirs.append(([g["lr"] for g in topt.param_groups], _momenta(topt)))
    assert ours == theirs  # the same arithmetic: bit for bit, momentum (β₁) too
    for key in ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"):
        assert [g.get(key) for g in opt.param_groups] == \
            [g.get(key) for g in topt.param_groups]
    with pytest.raises(ValueError, match="Tried to step"):
        tsched.step()
    s_ours = optim.OneCycleLR(_two_groups(getattr(optim, name), **opt_kw), **kw)
    s_ours.on_epoch_begin(total)
    with pytest.raises(ValueError, match=f"tried to step {total + 1} times"):
        s_ours.step()


def test_one_cycle_by_hand():
    opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    s = optim.OneCycleLR(opt, max_lr=2.0, total_steps=20, pct_start=0.25)
    run = _one_cycle_run(opt, s, 19)
    lrs, moms = [r[0][0] for r in run], [r[1][0] for r in run]
    # (the cosine's end + (start − end)/2·(cos + 1) rounds: approx, to 1e-14)
    assert lrs[0] == pytest.approx(2.0 / 25, rel=1e-14)      # max_lr / div_factor
    assert lrs[4] == pytest.approx(2.0, rel=1e-14)           # peak: step pct_start·total − 1
    assert lrs[19] == pytest.approx(2.0 / 25 / 1e4, rel=1e-12)  # initial_lr / final_div
    assert moms[:1] + moms[4:5] + moms[19:] == pytest.approx([0.95, 0.85, 0.95], rel=1e-14)
    assert lrs[2] == pytest.approx(0.08 + (2.0 - 0.08) * (1 - math.cos(math.pi / 2)) / 2)
    assert max(lrs) == lrs[4] and all(a > b for a, b in zip(lrs[4:], lrs[5:], strict=False))
    g = opt.param_groups[0]
    assert (g["initial_lr"], g["max_lr"], g["min_lr"]) == (0.08, 2.0, 0.08 / 1e4)
    assert (g["max_momentum"], g["base_momentum"]) == (0.95, 0.85)
    assert set(g) - set(opt.defaults) - {"params"} <= set(optim.optimizers.SCHEDULER_KEYS)
    # Linear, three phases: up, back down to initial_lr (symmetric), then to min_lr.
    opt = Adam([engine.zeros(1, requires_grad=True)], lr=1.0)
    s = optim.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.2, three_phase=True,
                         anneal_strategy="linear", div_factor=10.0, final_div_factor=10.0)
    run = _one_cycle_run(opt, s, 9)
    np.testing.assert_allclose([r[0][0] for r in run],
                               [0.1, 1.0, 0.1] + [0.1 - k * 0.09 / 7 for k in range(1, 7)]
                               + [0.1 / 10], rtol=1e-12)  # min_lr = initial_lr / 10
    assert [r[1][0] for r in run][:3] == pytest.approx([0.95, 0.85, 0.95], rel=1e-14)  # β₁
    assert opt.param_groups[0]["betas"][1] == 0.999


def test_one_cycle_errors():
    with pytest.raises(ValueError, match="tried to step 6 times; total_steps is 5"):
        s = optim.OneCycleLR(one_param_opt(), max_lr=0.1, total_steps=5, cycle_momentum=False)
        for _ in range(6):
            s.step()
    assert s.last_epoch == 5  # the refused step changed nothing
    lbfgs = optim.LBFGS([engine.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="no momentum or betas"):
        optim.OneCycleLR(lbfgs, max_lr=0.1, total_steps=5)
    optim.OneCycleLR(lbfgs, max_lr=0.1, total_steps=5, cycle_momentum=False)
    with pytest.raises(ValueError, match="total_steps, or epochs and steps_per_epoch"):
        optim.OneCycleLR(one_param_opt(), max_lr=0.1, epochs=3)
    with pytest.raises(ValueError, match="pct_start must be a float"):
        optim.OneCycleLR(one_param_opt(), max_lr=0.1, total_steps=5, pct_start=1)
    with pytest.raises(ValueError, match="anneal_strategy"):
        optim.OneCycleLR(one_param_opt(), max_lr=0.1, total_steps=5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr has 2 values"):
        optim.OneCycleLR(one_param_opt(), max_lr=[0.1, 0.2], total_steps=5)
    with pytest.raises(ValueError, match="base_momentum must be a number in"):
        optim.OneCycleLR(one_param_opt(cls=Adam), max_lr=0.1, total_steps=5, base_momentum=1.0)
    # pct_start·total_steps = 1 leaves an empty phase: PyTorch divides by zero, we say why.
    opt = SGD([engine.zeros(1, requires_grad=True)], lr=0.3, momentum=0.9)
    with pytest.raises(ValueError, match="empty phase"):
        optim.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=0.1)
    assert set(opt.param_groups[0]) == set(opt.defaults) | {"params"}  # nothing written
    with pytest.raises(KeyError, match="max_lr"):  # resuming needs a OneCycleLR's groups
        o = one_param_opt()
        o.param_groups[0]["initial_lr"] = 0.1
        optim.OneCycleLR(o, max_lr=0.1, total_steps=5, last_epoch=2)


def test_one_cycle_empty_phase_is_torchs_zero_division():
    torch = pytest.importorskip("torch")
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3, momentum=0.9)
    with pytest.raises(ZeroDivisionError):
        torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.1, total_steps=10, pct_start=0.1)


@pytest.mark.parametrize("cls, kw", [(SGD, dict(momentum=0.9, lr=0.01)), (Adam, dict(lr=0.01))])
def test_one_cycle_checkpoint_resume_equals_one_run(cls, kw, tmp_path):
    n, total = 6, 15
    sched_kw = dict(max_lr=0.05, total_steps=total, anneal_strategy="linear")

    def train(opt, sched, w, b, steps):
        for _ in range(steps):
            opt.zero_grad()
            loss_of(w, b).backward()
            opt.step()
            sched.step()

    w, b = make_params()
    opt = cls([w, b], **kw)
    sched = optim.OneCycleLR(opt, **sched_kw)
    train(opt, sched, w, b, 2 * n)

    w1, b1 = make_params()
    opt1 = cls([w1, b1], **kw)
    sched1 = optim.OneCycleLR(opt1, **sched_kw)
    train(opt1, sched1, w1, b1, n)
    nn.save({"params": [w1.data, b1.data], "optim": opt1.state_dict(),
             "sched": sched1.state_dict()}, tmp_path / "ckpt.npz")
    ckpt = nn.load(tmp_path / "ckpt.npz")
    for resume_by in ("state_dict", "last_epoch"):
        w2, b2 = make_params()
        with engine.no_grad():
            w2.copy_(ckpt["params"][0])
            b2.copy_(ckpt["params"][1])
        opt2 = cls([w2, b2], **kw)
        if resume_by == "state_dict":  # PyTorch's recipe: scheduler first, then both states
            sched2 = optim.OneCycleLR(opt2, **sched_kw)
            opt2.load_state_dict(ckpt["optim"])  # holds max_lr, min_lr, max/base_momentum
            sched2.load_state_dict(ckpt["sched"])
        else:  # the groups carry what a resumed OneCycleLR reads
            opt2.load_state_dict(ckpt["optim"])
            sched2 = optim.OneCycleLR(opt2, **sched_kw, last_epoch=n)
        assert opt2.param_groups[0]["max_lr"] == 0.05
        train(opt2, sched2, w2, b2, n)
        assert np.array_equal(w2.data, w.data) and np.array_equal(b2.data, b.data)
        assert opt2.param_groups == [dict(g, params=g2["params"]) for g, g2 in
                                     zip(opt.param_groups, opt2.param_groups, strict=True)]
    bad = opt1.state_dict()
    bad["param_groups"][0]["max_lrr"] = 0.1  # other unknown keys are still refused
    with pytest.raises(ValueError, match="max_lrr"):
        opt2.load_state_dict(bad)


def test_one_cycle_in_fit_is_refused_and_the_callback_recipe_works():
    x = np.linspace(-1, 1, 32).reshape(-1, 1)
    y = 2 * x
    model = nn.Linear(1, 1)
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.OneCycleLR(opt, max_lr=0.1, epochs=3, steps_per_epoch=4)
    with pytest.raises(ValueError, match="stepped after every batch.*on_batch_end"):
        nn.fit(model, x, y, loss="mse", optimizer=opt, scheduler=sched, epochs=3,
               batch_size=8, verbose=0)
    used = []

    class OneCycle(nn.Callback):  # the recipe in OneCycleLR's docstring
        changes_lr = True

        def on_batch_begin(self, batch, logs=None):
            used.append(opt.param_groups[0]["lr"])

        def on_batch_end(self, batch, logs=None):
            if sched.last_epoch < sched.total_steps - 1:
                sched.step()

    h = nn.fit(model, x, y, loss="mse", optimizer=opt, epochs=3, batch_size=8, verbose=0,
               callbacks=[OneCycle()])
    expected = _one_cycle_run(*(lambda o: (o, optim.OneCycleLR(o, max_lr=0.1, epochs=3,
                                                                steps_per_epoch=4)))(
        SGD([engine.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)), 11)
    assert used == [r[0][0] for r in expected]
    assert h.history["lr"] == used[::4]


def _warm_restart_lrs(sched, epochs):
    out = [sched.get_last_lr()]
    for e in epochs:
        sched.step(e)
        out.append(sched.get_last_lr() + [sched.last_epoch])
    return out


WARM_RESTART_CASES = [dict(T_0=3), dict(T_0=2, T_mult=2, eta_min=0.01), dict(T_0=1, T_mult=3),
                      dict(T_0=5, T_mult=1, eta_min=0.05)]


@pytest.mark.parametrize("kw", WARM_RESTART_CASES, ids=str)
def test_cosine_warm_restarts_matches_torch(kw):
    torch = pytest.importorskip("torch")
    iters = 4
    schedules = [  # per epoch; per batch (fractional); interleaved and jumping
        [None] * 30,
        [e + i / iters for e in range(8) for i in range(iters)][1:],
        [None] * 5 + [26, None, None, 2.5, None, 13.75, 111, None, 0, None],
    ]
    for epochs in schedules:
        opt = _two_groups(SGD)
        ours = _warm_restart_lrs(optim.CosineAnnealingWarmRestarts(opt, **kw), epochs)
        topt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}
                                for lr in (0.5, 0.1)])
        theirs = _warm_restart_lrs(torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            topt, **kw), epochs)
        assert ours == theirs


def test_cosine_warm_restarts_by_hand_and_in_fit():
    opt = one_param_opt(1.0)
    s = optim.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.1)
    # cycles of 2, 4, 8 epochs: T_cur = 0 1 | 0 1 2 3 | 0 1 ...
    t_cur_t_i = [(0, 2), (1, 2), (0, 4), (1, 4), (2, 4), (3, 4), (0, 8), (1, 8)]
    hand = [0.1 + 0.9 * (1 + math.cos(math.pi * t / ti)) / 2 for t, ti in t_cur_t_i]
    got = [s.get_last_lr()[0]] + [s.on_epoch_begin(e)[0] for e in range(1, 8)]
    assert got == pytest.approx(hand, rel=1e-15)
    s.step(3.5)  # T_cur = 1.5 of a 4-epoch cycle
    assert s.get_last_lr() == [pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 1.5 / 4)))]
    assert s.last_epoch == 3
    s3 = optim.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.1, last_epoch=4)
    s3.step()  # resumed after epoch 4: epoch 5 is T_cur 3 of 4
    assert s3.get_last_lr() == [pytest.approx(hand[5], rel=1e-15)]
    for bad in (dict(T_0=0), dict(T_0=2, T_mult=0), dict(T_0=2.5), dict(T_0=2, eta_min=-1)):
        with pytest.raises(ValueError, match="T_0|T_mult|eta_min"):
            optim.CosineAnnealingWarmRestarts(one_param_opt(), **bad)
    with pytest.raises(ValueError, match="epoch must be a number >= 0"):
        s.step(-0.5)
    # nn.fit steps it per epoch: history['lr'] is the schedule.
    x = np.linspace(-1, 1, 16).reshape(-1, 1)
    model = nn.Linear(1, 1)
    opt = SGD(model.parameters(), lr=1.0)
    s = optim.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.1)
    h = nn.fit(model, x, 0 * x, loss="mse", optimizer=opt, scheduler=s, epochs=8,
               batch_size=8, verbose=0)
    assert h.history["lr"] == pytest.approx(hand, rel=1e-15)


def test_new_schedulers_are_exported():
    from nn.optim import lr_scheduler
    for name in ("OneCycleLR", "CosineAnnealingWarmRestarts"):
        assert getattr(optim, name) is getattr(lr_scheduler, name)
        assert name in optim.__all__ and name in lr_scheduler.__all__
        assert name in optim.__doc__ and name in optim.schedulers.__doc__
