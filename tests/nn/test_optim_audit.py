"""Audit of nn.optim against torch.optim (float64, same weights, same loss): the mismatches
found, each pinned against PyTorch (or by hand when torch is absent)."""
import warnings

import numpy as np
import pytest

import engine
from nn import optim

RNG = np.random.default_rng(0)
W0 = [RNG.normal(size=(4, 3)), RNG.normal(size=(3,)), RNG.normal(size=(3, 2))]
X, Y = RNG.normal(size=(8, 4)), RNG.normal(size=(8, 2))


def _loss(ps, torch=None):
    if torch is not None:
        h = torch.tanh(torch.tensor(X) @ ps[0] + ps[1])
        return ((h @ ps[2] - torch.tensor(Y)) ** 2).mean()
    h = (engine.tensor(X, dtype=np.float64) @ ps[0] + ps[1]).tanh()
    return ((h @ ps[2] - engine.tensor(Y, dtype=np.float64)) ** 2).mean()


def _params(torch):
    tp = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in W0]
    sp = [engine.tensor(w.copy(), dtype=np.float64, requires_grad=True) for w in W0]
    return tp, sp


def _train(torch, to, so, tp, sp, steps=20, between=None):
    worst = 0.0
    for k in range(steps):
        if between is not None:
            so = between(k, to, so) or so
        for opt, ps, t in ((to, tp, torch), (so, sp, None)):
            opt.zero_grad()
            _loss(ps, t).backward()
            opt.step()
        worst = max(worst, max(float(np.abs(a.detach().numpy() - b.data).max())
                               for a, b in zip(tp, sp, strict=True)))
    return worst


# -- positional arguments in PyTorch's order -------------------------------------------------

def test_rmsprop_takes_torchs_positional_order():
    # torch.optim.RMSprop(params, lr, alpha, eps, weight_decay, momentum, centered): ours had
    # momentum before weight_decay, so this call ran with momentum 0.1 and weight decay 0.5.
    torch = pytest.importorskip("torch")
    tp, sp = _params(torch)
    args = (0.01, 0.9, 1e-8, 0.1, 0.5, True)
    to, so = torch.optim.RMSprop(tp, *args), optim.RMSprop(sp, *args)
    assert so.param_groups[0]["weight_decay"] == 0.1 and so.param_groups[0]["momentum"] == 0.5
    assert _train(torch, to, so, tp, sp) < 1e-13


def test_sgd_in_torchs_positional_order_raises_instead_of_running():
    # torch: SGD(params, lr, momentum, dampening, weight_decay, nesterov); API.md's order has
    # nesterov 4th. SGD(p, 0.1, 0.9, 0, 5e-4, True) ran with dampening=True (= 1: the
    # momentum buffer never saw another gradient) and no nesterov.
    w = engine.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="dampening=.*by keyword"):
        optim.SGD([w], 0.1, 0.9, 0, 5e-4, True)
    with pytest.raises(TypeError, match="nesterov must be True or False"):
        optim.SGD([w], 0.1, 0.9, 0.1)
    # API.md's order still works.
    opt = optim.SGD([w], 0.1, 0.9, True, 0.01)
    assert opt.param_groups[0]["nesterov"] is True and opt.param_groups[0]["weight_decay"] == 0.01


def test_sgd_keywords_match_torch():
    torch = pytest.importorskip("torch")
    tp, sp = _params(torch)
    kw = dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=5e-4, nesterov=True,
              foreach=False, differentiable=False, fused=None)
    assert _train(torch, torch.optim.SGD(tp, **kw), optim.SGD(sp, **kw), tp, sp) < 1e-13
    with pytest.raises(ValueError, match="fused=True"):
        optim.SGD(sp, lr=0.1, fused=True)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_amsgrad_is_the_sixth_positional_argument(name):
    torch = pytest.importorskip("torch")
    tp, sp = _params(torch)
    args = (0.01, (0.9, 0.99), 1e-8, 0.1, True)
    to, so = getattr(torch.optim, name)(tp, *args), getattr(optim, name)(sp, *args)
    assert so.param_groups[0]["amsgrad"] is True
    assert _train(torch, to, so, tp, sp) < 1e-13


def test_adam_decoupled_weight_decay_is_torchs_and_its_state_loads():
    torch = pytest.importorskip("torch")
    tp, sp = _params(torch)
    kw = dict(lr=0.01, eps=1e-8, weight_decay=0.3, decoupled_weight_decay=True)
    to, so = torch.optim.Adam(tp, **kw), optim.Adam(sp, **kw)

    def reload(k, to, so):  # halfway: continue from torch's state_dict
        if k == 10:
            fresh = optim.Adam(sp, **kw)
            fresh.load_state_dict(to.state_dict())
            return fresh

    assert _train(torch, to, so, tp, sp, between=reload) < 1e-13
    with pytest.raises(ValueError, match="decoupled_weight_decay=True"):
        optim.Adam(sp, eps=1e-8).load_state_dict(to.state_dict())
    for key in ("foreach", "capturable", "differentiable", "fused"):
        with pytest.raises(ValueError, match=f"Adam: {key}=True"):
            optim.Adam(sp, **{key: True})


# -- schedulers ---------------------------------------------------------------------------------

def _sgd_pair(torch, lrs=(0.1, 0.03)):
    tp, sp = _params(torch)
    to = torch.optim.SGD([{"params": tp[:1], "lr": lrs[0]}, {"params": tp[1:], "lr": lrs[1]}],
                         momentum=0.9)
    so = optim.SGD([{"params": sp[:1], "lr": lrs[0]}, {"params": sp[1:], "lr": lrs[1]}],
                   momentum=0.9)
    return to, so


def test_multiplicative_lr_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.optim import lr_scheduler as T
    to, so = _sgd_pair(torch)
    fns = [lambda e: 0.9 if e % 3 else 0.5, lambda e: 1.0 / (1.0 + 0.1 * e)]
    ts, ss = T.MultiplicativeLR(to, fns), optim.lr_scheduler.MultiplicativeLR(so, fns)
    for k in range(30):
        assert ss.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-14)
        assert [g["lr"] for g in so.param_groups] == pytest.approx(
            [g["lr"] for g in to.param_groups], rel=1e-14)
        if k == 12:  # a hand-set lr is carried on, as PyTorch's
            to.param_groups[0]["lr"] = so.param_groups[0]["lr"] = 0.2
        to.step(), so.step()
        ts.step(), ss.step()
    sd = ss.state_dict()
    assert "lr_lambdas" not in sd and sd["last_epoch"] == 30
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        optim.MultiplicativeLR(so, [fns[0]])


def _step_order_warnings(make, lib, optimizer_first):
    opt = lib["opt"]()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched = make(lib["mod"], opt)
        lrs = []
        for _ in range(4):
            if optimizer_first:
                opt.step()
            sched.step()
            if not optimizer_first:
                opt.step()
            lrs.append(sched.get_last_lr())
    return sum("before `optimizer.step()`" in str(w.message) for w in caught), lrs


@pytest.mark.parametrize("make", [
    lambda M, o: M.StepLR(o, 1, 0.5),
    lambda M, o: M.OneCycleLR(o, 1.0, total_steps=10),
    lambda M, o: M.SequentialLR(o, [M.LinearLR(o, 0.1, total_iters=2),
                                    M.ExponentialLR(o, 0.8)], [2]),
    lambda M, o: M.ChainedScheduler([M.LinearLR(o, 0.1, total_iters=2),
                                     M.ExponentialLR(o, 0.8)]),
    lambda M, o: M.CosineAnnealingWarmRestarts(o, 2),   # PyTorch's does not warn
], ids=["StepLR", "OneCycleLR", "SequentialLR", "ChainedScheduler", "WarmRestarts"])
def test_scheduler_step_before_optimizer_step_warns_as_torch(make):
    torch = pytest.importorskip("torch")
    from torch.optim import lr_scheduler as T
    w = torch.zeros(1, requires_grad=True)
    p = engine.zeros(1, requires_grad=True)
    libs = {"torch": dict(mod=T, opt=lambda: torch.optim.SGD([w], lr=0.1, momentum=0.9)),
            "ours": dict(mod=optim.lr_scheduler,
                         opt=lambda: optim.SGD([p], lr=0.1, momentum=0.9))}
    for optimizer_first in (False, True):
        (n_t, lr_t), (n_s, lr_s) = (_step_order_warnings(make, libs[k], optimizer_first)
                                    for k in ("torch", "ours"))
        assert n_s == n_t
        np.testing.assert_allclose(lr_s, lr_t, rtol=1e-14)
        if optimizer_first:
            assert n_s == 0


def test_multistep_lr_loads_a_torch_state_dict():
    # torch keeps milestones as a Counter {epoch: times}: loading it broke the next step().
    torch = pytest.importorskip("torch")
    from torch.optim import lr_scheduler as T
    to, so = _sgd_pair(torch)
    ts = T.MultiStepLR(to, [3, 6, 6, 9], gamma=0.5)
    ss = optim.MultiStepLR(so, [1], gamma=0.5)
    for _ in range(4):
        to.step(), ts.step()
    so.load_state_dict(to.state_dict())
    ss.load_state_dict(ts.state_dict())
    assert ss.milestones == [3, 6, 6, 9]
    for _ in range(10):
        to.step(), so.step()
        ts.step(), ss.step()
        assert ss.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-14)


def test_reduce_lr_on_plateau_takes_a_group_added_later_as_torch():
    torch = pytest.importorskip("torch")
    from torch.optim import lr_scheduler as T
    tp, sp = _params(torch)
    to, so = torch.optim.SGD(tp[:2], lr=0.1), optim.SGD(sp[:2], lr=0.1)
    kw = dict(patience=0, min_lr=0.01, factor=0.5)
    ts, ss = T.ReduceLROnPlateau(to, **kw), optim.ReduceLROnPlateau(so, **kw)
    for k in range(8):
        if k == 2:
            to.add_param_group({"params": [tp[2]], "lr": 0.5})
            so.add_param_group({"params": [sp[2]], "lr": 0.5})
        ts.step(3.0), ss.step(3.0)
        assert [g["lr"] for g in so.param_groups] == [g["lr"] for g in to.param_groups]
        assert ss.get_last_lr() == ts.get_last_lr()
    so2 = optim.SGD([sp[0]], lr=0.1)
    s2 = optim.ReduceLROnPlateau(so2, min_lr=[0.01], patience=0)
    so2.add_param_group({"params": [sp[1]]})
    with pytest.raises(ValueError, match="min_lr has 1 values"):
        s2.step(1.0)


# -- the audit's broad comparison, kept as a regression -----------------------------------------

@pytest.mark.parametrize("name, kw", [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.05, maximize=False)),
    ("Adam", dict(lr=0.01, eps=1e-8, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.9))),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, alpha=0.8)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3)),
])
def test_groups_gradless_steps_added_group_hand_set_lr_and_torch_state(name, kw):
    # Two groups, a parameter without grad on some steps (skipped, no state), a group added at
    # step 5, a hand-set lr at step 8, and torch's state_dict loaded at step 12.
    torch = pytest.importorskip("torch")
    tp, sp = _params(torch)
    to = getattr(torch.optim, name)([{"params": tp[:1], "weight_decay": 0.1}], **kw)
    so = getattr(optim, name)([{"params": sp[:1], "weight_decay": 0.1}], **kw)
    worst = 0.0
    for k in range(20):
        if k == 5:
            for o, ps in ((to, tp), (so, sp)):
                o.add_param_group({"params": ps[1:], "lr": 0.003})
        if k == 8:
            to.param_groups[1]["lr"] = so.param_groups[1]["lr"] = 0.02
        if k == 12:
            fresh = getattr(optim, name)([{"params": sp[:1]}], **kw)
            fresh.add_param_group({"params": sp[1:]})
            fresh.load_state_dict(to.state_dict())
            so = fresh
        for o, ps, t in ((to, tp, torch), (so, sp, None)):
            o.zero_grad()
            _loss(ps, t).backward()
            if k % 3 == 0:
                ps[1].grad = None
        to.step(), so.step()
        worst = max(worst, max(float(np.abs(a.detach().numpy() - b.data).max())
                               for a, b in zip(tp, sp, strict=True)))
    assert worst < 1e-13
    t_steps = {k: int(v["step"]) for k, v in to.state_dict()["state"].items() if "step" in v}
    s_steps = {k: v["step"] for k, v in so.state_dict()["state"].items() if "step" in v}
    assert s_steps == t_steps
