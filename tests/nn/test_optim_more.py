"""nn.optim's Adagrad, Adamax, NAdam, RAdam, Adadelta and the schedulers ConstantLR,
PolynomialLR, CyclicLR, SequentialLR, ChainedScheduler: two steps against the equations
written out here (float64), then against torch.optim / torch.optim.lr_scheduler when torch is
installed (the harness of test_optim.py). Resuming through nn.save and frozen parameters are
covered by test_optim.py's RESUME_CASES, which list these optimizers too."""
import math

import numpy as np
import pytest

import engine
import nn
from nn import optim
from nn.optim import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CyclicLR,
    ExponentialLR,
    LinearLR,
    NAdam,
    PolynomialLR,
    RAdam,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

from .test_optim import check_against_torch, resume_from_torch_state

# -- optimizers: two steps by hand ----------------------------------------------------------
# One float64 parameter θ₀ = W, the gradients G1 then G2 set by hand (so that each step's
# gradient is known without the model).
W = np.array([1.0, -2.0])
G1 = np.array([0.5, -1.5])
G2 = np.array([-0.25, 2.0])


def two_steps(cls, **kw):
    """θ after each of two steps of ``cls(**kw)`` with the gradients G1, G2; and the
    optimizer."""
    w = engine.tensor(W, dtype=np.float64, requires_grad=True)
    opt = cls([w], **kw)
    out = []
    for g in (G1, G2):
        w.grad = engine.tensor(g, dtype=np.float64)
        opt.step()
        out.append(w.data.copy())
    return out[0], out[1], opt


def test_adagrad_by_hand():
    # Plain: s = Σ g², so the first step moves each weight by lr·sign(g) (ε = 1e-10 aside).
    w1, w2, _ = two_steps(Adagrad, lr=0.1)
    np.testing.assert_allclose(w1, [0.9, -1.9], rtol=1e-10)
    np.testing.assert_allclose(w2, w1 - 0.1 * G2 / np.sqrt(G1 ** 2 + G2 ** 2), rtol=1e-10)
    w1, _, _ = two_steps(Adagrad, lr=0.1, maximize=True)  # ascent: the other way
    np.testing.assert_allclose(w1, [1.1, -2.1], rtol=1e-10)
    # γ_t = γ/(1 + (t − 1)·η), g ← g + λ·θ, s ← s + g² from s₀, θ ← θ − γ_t·g/(√s + ε).
    lr, eta, lam, s0, eps = 0.1, 0.5, 0.2, 0.25, 1e-10
    w1, w2, opt = two_steps(Adagrad, lr=lr, lr_decay=eta, weight_decay=lam,
                            initial_accumulator_value=s0)
    g = G1 + lam * W
    s = s0 + g * g
    e1 = W - lr * g / (np.sqrt(s) + eps)
    g = G2 + lam * e1
    s = s + g * g
    e2 = e1 - lr / (1 + eta) * g / (np.sqrt(s) + eps)
    np.testing.assert_allclose(w1, e1, rtol=1e-14)
    np.testing.assert_allclose(w2, e2, rtol=1e-14)
    (state,) = opt.state_dict()["state"].values()
    assert state["step"] == 2 and set(state) == {"step", "sum"}
    np.testing.assert_allclose(state["sum"], s, rtol=1e-14)


def test_adamax_by_hand():
    # Default lr 2e-3: the first step moves each weight by lr (m₁/(1 − β₁) = g, u₁ = |g|).
    w1, _, _ = two_steps(Adamax)
    np.testing.assert_allclose(w1, [0.998, -1.998], rtol=1e-10)  # ε = 1e-8 aside
    lr, b1, b2, lam, eps = 0.1, 0.8, 0.5, 0.1, 1e-8
    w1, w2, opt = two_steps(Adamax, lr=lr, betas=(b1, b2), weight_decay=lam)
    g = G1 + lam * W
    m, u = (1 - b1) * g, np.abs(g) + eps
    e1 = W - lr / (1 - b1) * m / u
    g = G2 + lam * e1
    m = b1 * m + (1 - b1) * g
    u = np.maximum(b2 * u, np.abs(g) + eps)
    e2 = e1 - lr / (1 - b1 ** 2) * m / u
    np.testing.assert_allclose(w1, e1, rtol=1e-14)
    np.testing.assert_allclose(w2, e2, rtol=1e-14)
    # β₂ = 0.5 halves u₁ = (0.6, 1.7) to (0.3, 0.85); |g₂| = (0.19, 1.79): the max picks
    # the decayed norm in the first weight, the new gradient in the second.
    np.testing.assert_allclose(opt.state[opt.param_groups[0]["params"][0]]["exp_inf"],
                               [0.3 + 0.5 * eps, abs(G2[1] + lam * e1[1]) + eps], rtol=1e-14)


@pytest.mark.parametrize("decoupled", [False, True])
def test_nadam_by_hand(decoupled):
    lr, b1, b2, psi, lam, eps = 0.1, 0.9, 0.999, 4e-3, 0.1, 1e-8
    w1, w2, opt = two_steps(NAdam, lr=lr, weight_decay=lam, decoupled_weight_decay=decoupled)
    mu = [b1 * (1 - 0.5 * 0.96 ** (t * psi)) for t in (1, 2, 3)]  # μ₁, μ₂, μ₃
    # Step 1: d₁ = |g| + ε, m₁ = (1 − β₁)·g; Π₁ = μ₁.
    g = G1 if decoupled else G1 + lam * W
    th = W * (1 - lr * lam) if decoupled else W
    m, v = (1 - b1) * g, (1 - b2) * g * g
    d = np.sqrt(v / (1 - b2)) + eps
    e1 = th - lr * g / d - lr * mu[1] / (1 - mu[0] * mu[1]) * m / d  # (1 − μ₁)/(1 − Π₁) = 1
    # Step 2: Π₂ = μ₁μ₂.
    g = G2 if decoupled else G2 + lam * e1
    th = e1 * (1 - lr * lam) if decoupled else e1
    m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    d = np.sqrt(v / (1 - b2 ** 2)) + eps
    p2 = mu[0] * mu[1]
    e2 = th - lr * (1 - mu[1]) / (1 - p2) * g / d - lr * mu[2] / (1 - p2 * mu[2]) * m / d
    np.testing.assert_allclose(w1, e1, rtol=1e-14)
    np.testing.assert_allclose(w2, e2, rtol=1e-14)
    (state,) = opt.state_dict()["state"].values()
    assert set(state) == {"step", "mu_product", "exp_avg", "exp_avg_sq"}
    assert state["mu_product"] == pytest.approx(p2, rel=1e-15)


def test_radam_by_hand():
    # ρ₁ = 1 and ρ₂ = (1 + 3β₂)/(1 + β₂) < 2: no adaptive step yet, θ ← θ − γ·m/(1 − β₁ᵗ).
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    w1, w2, _ = two_steps(RAdam, lr=lr)
    e1 = W - lr * G1  # m₁/(1 − β₁) = g₁
    e2 = e1 - lr * (b1 * (1 - b1) * G1 + (1 - b1) * G2) / (1 - b1 ** 2)
    np.testing.assert_allclose(w1, e1, rtol=1e-14)
    np.testing.assert_allclose(w2, e2, rtol=1e-14)
    # Step 7 from a state set by hand: ρ₇ ≈ 6.99 > 5, the rectified adaptive step.
    w = engine.tensor(W, dtype=np.float64, requires_grad=True)
    opt = RAdam([w], lr=lr)
    m0, v0 = np.array([0.3, -0.2]), np.array([0.04, 0.5])
    sd = opt.state_dict()
    sd["state"] = {0: {"step": 6, "exp_avg": m0, "exp_avg_sq": v0}}
    opt.load_state_dict(sd)
    w.grad = engine.tensor(G1, dtype=np.float64)
    opt.step()
    t = 7
    m, v = b1 * m0 + (1 - b1) * G1, b2 * v0 + (1 - b2) * G1 ** 2
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    assert 6.9 < rho < 7
    r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    expected = W - lr * m / (1 - b1 ** t) * math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps) * r
    np.testing.assert_allclose(w.data, expected, rtol=1e-14)


def test_adadelta_by_hand():
    # The first step is tiny: √(u₀ + ε)/√(v₁ + ε) = √ε/√((1 − ρ)g² + ε).
    w1, _, _ = two_steps(Adadelta)
    np.testing.assert_allclose(w1, W - 1e-3 * G1 / np.sqrt(0.1 * G1 ** 2 + 1e-6), rtol=1e-14)
    lr, rho, eps, lam = 0.5, 0.8, 1e-5, 0.1
    w1, w2, _ = two_steps(Adadelta, lr=lr, rho=rho, eps=eps, weight_decay=lam)
    g = G1 + lam * W
    v = (1 - rho) * g * g
    delta = np.sqrt(eps) / np.sqrt(v + eps) * g
    u = (1 - rho) * delta * delta
    e1 = W - lr * delta
    g = G2 + lam * e1
    v = rho * v + (1 - rho) * g * g
    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
    e2 = e1 - lr * delta
    np.testing.assert_allclose(w1, e1, rtol=1e-14)
    np.testing.assert_allclose(w2, e2, rtol=1e-14)


# -- optimizers against torch.optim ----------------------------------------------------------
MORE_TORCH_CASES = [
    ("Adagrad", dict()),  # PyTorch's defaults: lr 1e-2, eps 1e-10
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5,
                     eps=1e-8)),
    ("Adagrad", dict(lr=0.05, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, momentum_decay=0.01,
                   betas=(0.85, 0.99))),
    ("RAdam", dict()),  # rectified from step 6
    ("RAdam", dict(lr=0.05, weight_decay=0.1, betas=(0.9, 0.99))),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True,
                   betas=(0.5, 0.7))),  # ρ_∞ = 5.67: rectified from step 10 only
    ("RAdam", dict(lr=1e-3, maximize=True)),  # ascent on a quartic: small steps
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.1, maximize=True)),
]


@pytest.fixture
def torch_scalars():
    """A function that sets torch's default dtype, in which torch keeps its scalar state (the
    step, NAdam's mu_product): float64 for a float64 comparison, so that only rounding of the
    parameters' dtype is compared. Restored afterwards."""
    torch = pytest.importorskip("torch")
    default = torch.get_default_dtype()

    def use(dtype):
        torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
        return torch
    yield use
    torch.set_default_dtype(default)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name, kw", MORE_TORCH_CASES,
                         ids=[f"{n}-{'-'.join(map(str, k.values()))}" for n, k in MORE_TORCH_CASES])
def test_matches_torch_for_20_steps(name, kw, dtype, torch_scalars):
    torch_scalars(dtype)
    if dtype == np.float32:  # measured: 2.4e-7 at most (the parameters are about 1)
        check_against_torch(name, kw, dtype, atol=1e-6, rtol=1e-6,
                            state_tol=dict(rtol=1e-5, atol=1e-7))
    else:  # measured: 4.4e-16 at most
        check_against_torch(name, kw, dtype, atol=1e-14, rtol=1e-13)


@pytest.mark.parametrize("name, kw", [("Adagrad", dict(lr=0.1, lr_decay=0.01)),
                                      ("Adamax", dict(lr=0.05)),
                                      ("NAdam", dict(lr=0.05, weight_decay=0.1,
                                                     decoupled_weight_decay=True)),
                                      ("RAdam", dict(lr=0.05)), ("Adadelta", dict())])
def test_load_a_torch_optimizer_state_dict(name, kw, torch_scalars):
    # PyTorch's state_dict (tensors, a float step, NAdam's 0-d mu_product, its flags) goes on
    # here as in PyTorch: 4 steps there, then 4 more on both sides (RAdam rectifies from 6).
    torch = torch_scalars(np.float64)
    opt, sd, w, b, tw, tb = resume_from_torch_state(torch, name, kw, 4)
    assert opt.state_dict()["state"][0]["step"] == 8
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-13, atol=1e-15)
    # A flag stepgrad would ignore is refused, naming it.
    flag = "fused" if name == "Adagrad" else "capturable"
    sd["param_groups"][0][flag] = True
    fresh = getattr(optim, name)([w, b], **kw)
    if flag == "fused":  # PyTorch's kernel choice: same numbers, accepted
        fresh.load_state_dict(sd)
        sd["param_groups"][0]["differentiable"] = True
    with pytest.raises(ValueError, match=f"{name}.load_state_dict: group 0 has "
                                         f"(capturable|differentiable)=True"):
        getattr(optim, name)([w, b], **kw).load_state_dict(sd)


def test_bad_options_are_refused_naming_the_optimizer():
    w = engine.zeros(2, requires_grad=True)
    for cls, kw, match in [
        (Adagrad, dict(foreach=True), "Adagrad: foreach=True is not supported"),
        (Adagrad, dict(fused=True), "Adagrad: fused=True is not supported"),
        (Adamax, dict(differentiable=True), "Adamax: differentiable=True is not supported"),
        (NAdam, dict(capturable=True), "NAdam: capturable=True is not supported"),
        (RAdam, dict(foreach=True), "RAdam: foreach=True"),
        (Adadelta, dict(capturable=True), "Adadelta: capturable=True"),
        (Adagrad, dict(lr_decay=-0.1), "Adagrad: invalid lr_decay -0.1"),
        (Adagrad, dict(initial_accumulator_value=-1), "invalid initial_accumulator_value -1"),
        (Adagrad, dict(lr=-1), "Adagrad: invalid learning rate -1"),
        (Adamax, dict(betas=(1.0, 0.9)), r"Adamax: betas must be two numbers in \[0, 1\)"),
        (NAdam, dict(momentum_decay=-4e-3), "NAdam: invalid momentum_decay -0.004"),
        (RAdam, dict(eps=-1e-8), "RAdam: invalid eps -1e-08"),
        (RAdam, dict(weight_decay=-1), "RAdam: invalid weight_decay -1"),
        (Adadelta, dict(rho=1.5), r"Adadelta: rho must be in \[0, 1\], got 1.5"),
    ]:
        with pytest.raises(ValueError, match=match):
            cls([w], **kw)
    # PyTorch's neutral values are accepted (and change nothing).
    Adagrad([w], foreach=None, fused=None, differentiable=False)
    NAdam([w], foreach=False, capturable=False, differentiable=False)
    # An Adam state is not an Adamax state: refused by name before anything loads.
    w.grad = engine.ones(2)
    adam = Adam([w])
    adam.step()
    adamax = Adamax([w])
    with pytest.raises(ValueError, match=r"state \['exp_avg_sq'\] of parameter 0 is not a "
                                         "Adamax's"):
        adamax.load_state_dict(adam.state_dict())
    assert not adamax.state


def test_param_groups_and_defaults_are_pytorchs():
    w, b = engine.zeros(2, requires_grad=True), engine.zeros(1, requires_grad=True)
    for cls, defaults in [
        (Adagrad, dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                       eps=1e-10, maximize=False)),
        (Adamax, dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                      maximize=False)),
        (NAdam, dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                     momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False)),
        (RAdam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                     decoupled_weight_decay=False, maximize=False)),
        (Adadelta, dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False)),
    ]:
        opt = cls([{"params": [w]}, {"params": [b], "lr": 0.5}])
        assert opt.defaults == defaults
        assert opt.param_groups[1]["lr"] == 0.5
        assert {k: v for k, v in opt.param_groups[0].items() if k != "params"} == defaults


# -- schedulers: by hand -----------------------------------------------------------------------
def lrs_of(make, n, lr=1.0, **opt_kw):
    """The lr of epochs 0..n (PyTorch's loop: build, then step() after each epoch)."""
    opt = SGD([engine.zeros(1, requires_grad=True)], lr=lr, **opt_kw)
    s = make(opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(n):
        s.step()
        out.append(opt.param_groups[0]["lr"])
    return out


def test_constant_and_polynomial_lr_by_hand():
    assert lrs_of(lambda o: ConstantLR(o, factor=0.25, total_iters=3), 5) == \
        [0.25, 0.25, 0.25, 1.0, 1.0, 1.0]
    assert lrs_of(lambda o: ConstantLR(o), 6, lr=0.3) == pytest.approx(
        [0.1] * 5 + [0.3] * 2, rel=1e-15)  # PyTorch's defaults: factor 1/3 for 5 epochs
    # base·(1 − e/T)^p: T = 4, p = 2 → 1, 9/16, 1/4, 1/16, 0, 0
    assert lrs_of(lambda o: PolynomialLR(o, total_iters=4, power=2.0), 5) == pytest.approx(
        [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0], rel=1e-15, abs=1e-300)
    assert lrs_of(lambda o: PolynomialLR(o), 6, lr=0.5) == pytest.approx(
        [0.5, 0.4, 0.3, 0.2, 0.1, 0.0, 0.0], rel=1e-14, abs=1e-300)  # T = 5, p = 1


def test_cyclic_lr_by_hand():
    # step_size_up 2, down 3 (S = 5): up 0.1 → 0.5 in 2 steps, down in 3.
    got = lrs_of(lambda o: CyclicLR(o, 0.1, 0.5, step_size_up=2, step_size_down=3,
                                     cycle_momentum=False), 10)
    assert got == pytest.approx([0.1, 0.3, 0.5, 0.5 - 0.4 / 3, 0.1 + 0.4 / 3, 0.1,
                                 0.3, 0.5, 0.5 - 0.4 / 3, 0.1 + 0.4 / 3, 0.1], rel=1e-14)
    # triangular2 halves the height each cycle; exp_range scales by gamma^step.
    got = lrs_of(lambda o: CyclicLR(o, 0.1, 0.5, step_size_up=2, mode="triangular2",
                                     cycle_momentum=False), 8)
    assert got == pytest.approx([0.1, 0.3, 0.5, 0.3, 0.1, 0.2, 0.3, 0.2, 0.1], rel=1e-14)
    got = lrs_of(lambda o: CyclicLR(o, 0.1, 0.5, step_size_up=2, mode="exp_range", gamma=0.5,
                                     cycle_momentum=False), 4)
    assert got == pytest.approx([0.1, 0.1 + 0.2 * 0.5, 0.1 + 0.4 * 0.25, 0.1 + 0.2 * 0.125,
                                 0.1], rel=1e-14)
    # The momentum moves against the lr: max 0.9 at base_lr, base 0.8 at max_lr.
    opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0, momentum=0.5)
    s = CyclicLR(opt, 0.1, 0.5, step_size_up=2)
    assert opt.param_groups[0]["lr"] == 0.1  # building it sets base_lr, as PyTorch's
    moms = [opt.param_groups[0]["momentum"]]
    for _ in range(4):
        s.step()
        moms.append(opt.param_groups[0]["momentum"])
    assert moms == pytest.approx([0.9, 0.85, 0.8, 0.85, 0.9], rel=1e-14)
    assert (opt.param_groups[0]["max_momentum"], opt.param_groups[0]["base_momentum"]) == \
        (0.9, 0.8)


def test_sequential_and_chained_by_hand():
    # Warm-up ×0.1 for 2 epochs, then ×0.5 per epoch from the base lr (its restart).
    got = lrs_of(lambda o: SequentialLR(o, [ConstantLR(o, 0.1, total_iters=2),
                                            ExponentialLR(o, 0.5)], milestones=[2]), 5)
    assert got == pytest.approx([0.1, 0.1, 1.0, 0.5, 0.25, 0.125], rel=1e-15)
    # Three of them; the milestones count epochs of the whole schedule.
    got = lrs_of(lambda o: SequentialLR(o, [LinearLR(o, 0.5, total_iters=2), StepLR(o, 1, 0.5),
                                            ConstantLR(o, 0.2, total_iters=10)], [3, 5]), 6)
    assert got == pytest.approx([0.5, 0.75, 1.0, 1.0, 0.5, 0.2, 0.2], rel=1e-15)
    # ChainedScheduler: each step, every scheduler scales the lr the previous one left.
    got = lrs_of(lambda o: ChainedScheduler([ConstantLR(o, 0.5, total_iters=2),
                                             ExponentialLR(o, 0.9)]), 3)
    assert got == pytest.approx([0.5, 0.45, 0.81, 0.729], rel=1e-15)


def test_sequential_lr_jumps_to_an_epoch_from_the_base_lr():
    # on_epoch_begin(n) for a non-adjacent n (PyTorch's step(epoch)): the scheduler active at
    # n at its own epoch, closed form; equal to the stepped schedule when nothing else acts.
    def make(o):
        return SequentialLR(o, [LinearLR(o, 0.1, total_iters=4), CosineAnnealingLR(o, 10)],
                            milestones=[4])
    stepped = lrs_of(make, 16)
    opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    s = make(opt)
    for e in (9, 2, 15, 4, 0, 13):
        assert s.on_epoch_begin(e) == [pytest.approx(stepped[e], rel=1e-12)]
        assert s.last_epoch == e


# -- schedulers against torch --------------------------------------------------------------
def _lrs_and_momenta(torch, make, n, set_lr_at, opt_name, opt_kw):
    """Each group's (lr, momentum or β₁) at epochs 0..n, from nn.optim, or from torch.optim if
    ``torch`` is given, with two param groups (lr 0.5 and 0.1), every lr set to 0.05 by hand
    before step ``set_lr_at``. ``make(opt, lr_scheduler_module)`` builds the scheduler."""
    lib = torch.optim if torch else optim
    param = (lambda: torch.zeros(1, requires_grad=True)) if torch \
        else (lambda: engine.zeros(1, requires_grad=True))
    opt = getattr(lib, opt_name)([{"params": [param()], "lr": lr} for lr in (0.5, 0.1)],
                                 lr=1.0, **opt_kw)
    s = make(opt, lib.lr_scheduler)

    def now():
        return [(g["lr"], g["betas"][0] if "betas" in g else g["momentum"])
                for g in opt.param_groups]
    out = [now()]
    for e in range(n):
        if e == set_lr_at:
            for g in opt.param_groups:
                g["lr"] = 0.05
        if torch:
            opt.step()  # PyTorch warns when a scheduler steps before its optimizer
        s.step()
        out.append(now())
    return out


SCHEDULER_CASES = [
    lambda o, m: m.ConstantLR(o),
    lambda o, m: m.ConstantLR(o, factor=0.3, total_iters=7),
    lambda o, m: m.PolynomialLR(o),
    lambda o, m: m.PolynomialLR(o, total_iters=12, power=2.5),
    lambda o, m: m.PolynomialLR(o, total_iters=40, power=0.5),
    lambda o, m: m.CyclicLR(o, 0.01, 0.1, step_size_up=4),
    lambda o, m: m.CyclicLR(o, [0.01, 0.02], [0.1, 0.3], step_size_up=3, step_size_down=5,
                            mode="triangular2"),
    lambda o, m: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, mode="exp_range", gamma=0.95,
                            base_momentum=[0.7, 0.6], max_momentum=0.95),
    lambda o, m: m.CyclicLR(o, 0.01, 0.1, step_size_up=4, cycle_momentum=False,
                            scale_fn=lambda x: 1 / (1 + x), scale_mode="iterations"),
    lambda o, m: m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=5),
                                    m.CosineAnnealingLR(o, 20)], milestones=[5]),
    lambda o, m: m.SequentialLR(o, [m.ConstantLR(o, 0.5, 3), m.ExponentialLR(o, 0.9),
                                    m.StepLR(o, 3, 0.5)], milestones=[4, 10]),
    lambda o, m: m.SequentialLR(o, [m.ExponentialLR(o, 0.9), m.PolynomialLR(o, 8, 2.0)],
                                milestones=[0]),
    lambda o, m: m.SequentialLR(o, [m.LinearLR(o, 0.2, total_iters=3),
                                    m.LambdaLR(o, lambda e: 0.95 ** e)], milestones=[6]),
    lambda o, m: m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=4),
                                    m.CyclicLR(o, 0.01, 0.1, step_size_up=3)], milestones=[4]),
    lambda o, m: m.SequentialLR(o, [m.LinearLR(o, 0.1, total_iters=4),
                                    m.CosineAnnealingWarmRestarts(o, 3, 2)], milestones=[5]),
    lambda o, m: m.ChainedScheduler([m.ConstantLR(o, 0.1, 4), m.ExponentialLR(o, 0.9)]),
    lambda o, m: m.ChainedScheduler([m.LinearLR(o, 0.5, total_iters=6),
                                     m.CosineAnnealingLR(o, 15, 0.001),
                                     m.MultiStepLR(o, [5, 9], 0.5)]),
    lambda o, m: m.ChainedScheduler([m.PolynomialLR(o, 10), m.StepLR(o, 4, 0.5)], optimizer=o),
    lambda o, m: m.ChainedScheduler([m.ExponentialLR(o, 0.9),  # CyclicLR after another:
                                     m.CyclicLR(o, 0.01, 0.1, step_size_up=4)]),  # initial_lr
]


@pytest.mark.parametrize("set_lr_at", [None, 7], ids=["as-is", "lr-set-by-hand"])
@pytest.mark.parametrize("make", SCHEDULER_CASES, ids=[str(i) for i in range(len(SCHEDULER_CASES))])
def test_schedulers_match_torch_over_35_steps(make, set_lr_at):
    torch = pytest.importorskip("torch")
    ours = _lrs_and_momenta(None, make, 35, set_lr_at, "SGD", dict(momentum=0.9))
    theirs = _lrs_and_momenta(torch, make, 35, set_lr_at, "SGD", dict(momentum=0.9))
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)  # measured: bit for bit


def test_cyclic_lr_cycles_adams_beta1_as_torch():
    torch = pytest.importorskip("torch")

    def make(o, m):
        return m.CyclicLR(o, 0.001, 0.01, step_size_up=5, base_momentum=0.85)
    for name in ("Adam", "NAdam", "RAdam", "Adamax"):
        ours = _lrs_and_momenta(None, make, 30, None, name, {})
        np.testing.assert_allclose(ours, _lrs_and_momenta(torch, make, 30, None, name, {}),
                                   rtol=1e-13, atol=0)
    with pytest.raises(ValueError, match="CyclicLR: Adagrad has no momentum or betas"):
        CyclicLR(Adagrad([engine.zeros(1, requires_grad=True)]), 0.01, 0.1)
    CyclicLR(Adagrad([engine.zeros(1, requires_grad=True)]), 0.01, 0.1, cycle_momentum=False)


# -- schedulers: state, fit, errors ------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda o: SequentialLR(o, [LinearLR(o, 0.1, total_iters=3), ExponentialLR(o, 0.8)], [3]),
    lambda o: ChainedScheduler([ConstantLR(o, 0.5, 4), PolynomialLR(o, 12, 2.0)]),
    lambda o: CyclicLR(o, [0.01, 0.02], 0.1, step_size_up=3, mode="triangular2"),
], ids=["SequentialLR", "ChainedScheduler", "CyclicLR"])
def test_scheduler_state_dict_resumes_bit_for_bit(make, tmp_path):
    def fresh():
        opt = SGD([{"params": [engine.zeros(1, requires_grad=True)], "lr": lr}
                   for lr in (0.5, 0.1)], lr=1.0, momentum=0.9)
        return opt, make(opt)

    opt, s = fresh()
    full = []
    for _ in range(10):
        s.step()
        full.append([(g["lr"], g["momentum"]) for g in opt.param_groups])
    opt, s = fresh()
    for _ in range(4):
        s.step()
    nn.save({"opt": opt.state_dict(), "sched": s.state_dict()}, tmp_path / "ck.npz")
    ck = nn.load(tmp_path / "ck.npz")
    opt2, s2 = fresh()
    opt2.load_state_dict(ck["opt"])
    s2.load_state_dict(ck["sched"])
    rest = []
    for _ in range(6):
        s2.step()
        rest.append([(g["lr"], g["momentum"]) for g in opt2.param_groups])
    assert rest == full[4:]


def test_combinators_in_fit_and_their_errors():
    x = np.linspace(-1, 1, 16).reshape(-1, 1)
    model = nn.Linear(1, 1)
    opt = SGD(model.parameters(), lr=1.0)
    s = SequentialLR(opt, [ConstantLR(opt, 0.1, total_iters=2), ExponentialLR(opt, 0.5)], [2])
    h = nn.fit(model, x, 0 * x, loss="mse", optimizer=opt, scheduler=s, epochs=5,
               batch_size=8, verbose=0)
    assert h.history["lr"] == pytest.approx([0.1, 0.1, 1.0, 0.5, 0.25], rel=1e-15)
    # Batch-counting schedulers are refused by nn.fit, inside a combinator too.
    for make in (lambda o: CyclicLR(o, 0.01, 0.1),
                 lambda o: SequentialLR(o, [ConstantLR(o), optim.OneCycleLR(o, 0.1, 10)], [5])):
        opt = SGD(model.parameters(), lr=1.0, momentum=0.9)
        with pytest.raises(ValueError, match="stepped after every batch"):
            nn.fit(model, x, 0 * x, loss="mse", optimizer=opt, scheduler=make(opt), epochs=1,
                   verbose=0)
    opt = SGD(model.parameters(), lr=1.0)
    other = SGD(model.parameters(), lr=1.0)
    a, b = ConstantLR(opt), ExponentialLR(opt, 0.9)
    for call, error, match in [
        (lambda: SequentialLR(opt, [a, b], []), ValueError, "2 schedulers take 1 milestones"),
        (lambda: SequentialLR(opt, [a, b], [2.5]), ValueError,
         r"milestones\[0\] must be an int >= 0, got 2.5"),
        (lambda: SequentialLR(opt, [a, b, a], [4, 2]), ValueError, "increasing order"),
        (lambda: SequentialLR(opt, [], []), ValueError, "at least one scheduler"),
        (lambda: SequentialLR(opt, [a, ExponentialLR(other, 0.9)], [2]), ValueError,
         r"schedulers\[1\] \(ExponentialLR\) drives another optimizer"),
        (lambda: SequentialLR(opt, [a, ReduceLROnPlateau(opt)], [2]), ValueError,
         r"schedulers\[1\] is a ReduceLROnPlateau"),
        (lambda: SequentialLR(opt, [a, "cosine"], [2]), TypeError,
         r"schedulers\[1\] is a str"),
        (lambda: SequentialLR(opt, [a, b], [2], last_epoch=3), ValueError,
         "last_epoch=3; only -1"),
        (lambda: ChainedScheduler([a, ExponentialLR(other, 0.9)]), ValueError,
         "ChainedScheduler: schedulers"),
    ]:
        with pytest.raises(error, match=match):
            call()
    s = ChainedScheduler([ConstantLR(opt), ExponentialLR(opt, 0.9)])
    with pytest.raises(ValueError, match="ChainedScheduler: cannot go from epoch 0 to 3"):
        s.on_epoch_begin(3)
    sd = s.state_dict()
    sd["_schedulers"][1] = {"gamma": 0.9}
    with pytest.raises(ValueError, match=r"the state of schedulers\[1\] has \['gamma'\]"):
        s.load_state_dict(sd)


def test_new_scheduler_errors():
    opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    for call, match in [
        (lambda: ConstantLR(opt, factor=0), r"ConstantLR: factor must be in \(0, 1\], got 0"),
        (lambda: ConstantLR(opt, factor=1.5), "got 1.5"),
        (lambda: ConstantLR(opt, total_iters=0), "ConstantLR: total_iters must be an int >= 1"),
        (lambda: PolynomialLR(opt, total_iters=2.5), "PolynomialLR: total_iters must be an int"),
        (lambda: PolynomialLR(opt, power=-1), "PolynomialLR: power must be a number > 0"),
        (lambda: CyclicLR(opt, 0.1, 1.0, mode="sine", cycle_momentum=False),
         "CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range'"),
        (lambda: CyclicLR(opt, 0.1, 1.0, step_size_up=0, cycle_momentum=False),
         "CyclicLR: step_size_up must be an int >= 1, got 0"),
        (lambda: CyclicLR(opt, 0.1, [1.0, 2.0], cycle_momentum=False),
         "CyclicLR: max_lr has 2 values, the optimizer has 1 param groups"),
        (lambda: CyclicLR(opt, -0.1, 1.0, cycle_momentum=False), "CyclicLR: base_lr must be"),
        (lambda: CyclicLR(opt, 0.1, 1.0, gamma=0, cycle_momentum=False),
         "CyclicLR: gamma must be a number > 0"),
        (lambda: CyclicLR(opt, 0.1, 1.0, scale_mode="epochs", scale_fn=abs,
                          cycle_momentum=False), "CyclicLR: scale_mode must be"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
    with pytest.raises(TypeError, match="CyclicLR: scale_fn must be callable"):
        CyclicLR(opt, 0.1, 1.0, scale_fn=2.0, cycle_momentum=False)


def test_new_classes_are_exported():
    from nn.optim import lr_scheduler
    for name in ("Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta"):
        assert name in optim.__all__ and name in optim.__doc__
        assert name in optim.optimizers.__all__ and name in optim.optimizers.__doc__
    for name in ("ConstantLR", "PolynomialLR", "CyclicLR", "SequentialLR", "ChainedScheduler"):
        assert getattr(optim, name) is getattr(lr_scheduler, name)
        assert name in optim.__all__ and name in lr_scheduler.__all__
        assert name in optim.__doc__ and name in optim.schedulers.__doc__
