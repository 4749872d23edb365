"""Losses, penalties and metrics: the course's reference figures, stability, gradients, errors."""
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from nn import functional as F

# Exercise 1 (course 001): a logistic regression's outputs on 10 points.
Y = np.array([0, 0, 0, 1, 0, 1, 0, 1, 1, 1], dtype=np.float64)
P = np.array([0.133, 0.178, 0.325, 0.433, 0.49, 0.547, 0.576, 0.682, 0.792, 0.84])


def t64(a, requires_grad=False):
    return engine.tensor(a, dtype=np.float64, requires_grad=requires_grad)


def test_exercise_1_reference_losses():
    p = t64(P)
    # The course prints ŷ to 3 decimals ("≈") but computed its means from the unrounded
    # outputs; the rounding alone moves them by a few 1e-4 (0.14236 and 0.44937 from the
    # printed ŷ), hence tolerances of about 1e-3.
    assert F.mse_loss(p, Y).item() == pytest.approx(0.1421, abs=1e-3)
    assert F.binary_cross_entropy(p, Y).item() == pytest.approx(0.4487, abs=1e-3)
    assert F.zero_one_loss(p, Y) == pytest.approx(0.2)
    hinge = F.hinge_loss(2 * (p - 0.5), 2 * Y - 1)
    assert hinge.item() == pytest.approx(0.6805, abs=1.5e-3)  # 0.6816 from the printed ŷ


def test_exercise_3_uniform_five_classes():
    logits = t64(np.zeros((1, 5)))  # uniform probabilities 0.2
    assert F.cross_entropy(logits, [2]).item() == pytest.approx(-np.log(0.2))
    assert F.cross_entropy(logits, np.eye(5)[[2]]).item() == pytest.approx(1.6094, abs=1e-4)
    probs = logits.softmax(axis=1)
    quadratic = F.mse_loss(probs, np.eye(5)[[2]], reduction="sum")
    assert quadratic.item() == pytest.approx(0.8)


def test_doctors_log_loss_table_slides_003():
    # Two doctors both pick the right class; the more confident one has the lower log loss.
    y = np.array([0, 1])
    confident = np.log(np.array([[0.9, 0.1], [0.2, 0.8]]))
    hesitant = np.log(np.array([[0.6, 0.4], [0.45, 0.55]]))
    a = F.nll_loss(t64(confident), y).item()
    b = F.nll_loss(t64(hesitant), y).item()
    assert a == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2) and a < b
    assert F.accuracy(confident, y) == F.accuracy(hesitant, y) == 1.0


def test_accuracy_rules_and_length_error():
    """Argmax for (N, C) predictions (labels, (N, 1) labels or one-hot rows), 0.5 for one
    column against the targets as given; a length mismatch names both shapes."""
    rows = np.array([[0.9, 0.7], [0.4, 0.6], [0.2, 0.1]])
    assert F.accuracy(rows, [0, 1, 1]) == pytest.approx(2 / 3)
    assert F.accuracy(rows, [[0], [1], [1]]) == pytest.approx(2 / 3)
    assert F.accuracy(engine.tensor(rows), [[1, 0], [0, 1], [0, 1]]) == pytest.approx(2 / 3)
    column = np.array([[0.9], [0.2], [0.6]])
    assert F.accuracy(column, [1, 0, 0]) == pytest.approx(2 / 3)
    assert F.accuracy(column, [[0.8], [0.1], [0.7]]) == 0.0  # soft targets are not 0/1
    with pytest.raises(ValueError, match=r"^accuracy: \(3, 1\) predictions but \(4,\) targets$"):
        F.accuracy(column, np.zeros(4))
    with pytest.raises(ValueError, match=r"^accuracy: \(3, 1\) predictions but \(3, 2\) "
                                         r"targets$"):
        F.accuracy(column, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^accuracy: \(3, 2\) predictions but \(2,\) targets$"):
        F.accuracy(rows, [0, 1])
    with pytest.raises(ValueError, match=r"accuracy: one-hot targets \(2, 4\) for \(2, 3\) "
                                         r"predictions: the rows must have the same 3"):
        F.accuracy(np.eye(3)[:2], np.eye(4)[:2])  # argmax of each would compare silently


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reductions(reduction):
    p = t64([[1.0, 2.0], [3.0, 4.0]])
    out = F.mse_loss(p, np.zeros((2, 2)), reduction=reduction)
    expected = {"mean": 7.5, "sum": 30.0, "none": [[1, 4], [9, 16]]}[reduction]
    np.testing.assert_allclose(out.data, expected)


def test_cross_entropy_stable_at_large_logits():
    x = t64([[1000.0, 0.0, -1000.0]], requires_grad=True)
    loss = F.cross_entropy(x, [1])
    assert loss.item() == pytest.approx(1000.0)
    loss.backward()
    np.testing.assert_allclose(x.grad, [[1.0, -1.0, 0.0]], atol=1e-12)


def test_bce_with_logits_exact_and_stable():
    x = t64([-800.0, 0.0, 800.0])
    loss = F.binary_cross_entropy_with_logits(x, [1.0, 1.0, 0.0], reduction="none")
    np.testing.assert_allclose(loss.data, [800.0, np.log(2), 800.0])


# p at and next to the edges, where a clip (Keras's 1e-7) and PyTorch's clamps differ
_EDGE_P = [0.0, 1.0, 1e-8, 1 - 1e-9, 0.3, 0.0, 1.0]
_EDGE_Y = [1.0, 0.0, 1.0, 0.0, 0.25, 0.0, 1.0]


def test_bce_clamps_each_log_at_minus_100_as_pytorch_by_hand():
    """−[y·max(ln p, −100) + (1 − y)·max(ln(1 − p), −100)]; dL/dp = (p − y)/max(p(1 − p),
    1e-12) with PyTorch's 1e-12 a C float (9.99999996e-13); dL/dy = ln(1 − p) − ln p."""
    p, y = t64(_EDGE_P, True), t64(_EDGE_Y, True)
    loss = F.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, 8 * np.log(10), 9 * np.log(10),
                                           -(0.25 * np.log(0.3) + 0.75 * np.log(0.7)), 0, 0],
                               rtol=1e-7, atol=0)  # ln(1 − (1 − 1e-9)) = ln 1e-9 to 1e-7
    loss.backward(np.ones(7))
    eps = 9.99999996e-13
    np.testing.assert_allclose(p.grad.data, [-1 / eps, 1 / eps, -1e8, 1e9, 0.05 / 0.21, 0, 0],
                               rtol=1e-7)
    np.testing.assert_allclose(y.grad.data[2:5], [8 * np.log(10), -9 * np.log(10),
                                                  np.log(0.7 / 0.3)], rtol=1e-7)
    assert list(y.grad.data[[0, 1, 5, 6]]) == [np.inf, -np.inf, np.inf, -np.inf]
    # float32: 1 − 1e-9 rounds to 1, so that element is p = 1 against y = 0
    p32 = engine.tensor(_EDGE_P, requires_grad=True)
    F.binary_cross_entropy(p32, _EDGE_Y, reduction="sum").backward()
    assert p32.grad.dtype == np.float32 and p32.grad.data[3] == np.float32(1 / eps)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bce_matches_torch_at_the_edges(dtype):
    torch = _torch()
    for make in (lambda p, y: F.binary_cross_entropy(p, y, reduction="none"),
                 lambda p, y: __import__("nn").BCELoss(reduction="none")(p, y)):
        p = engine.tensor(_EDGE_P, dtype=dtype, requires_grad=True)
        y = engine.tensor(_EDGE_Y, dtype=dtype, requires_grad=True)
        tp = torch.tensor(_EDGE_P, dtype=getattr(torch, dtype), requires_grad=True)
        ty = torch.tensor(_EDGE_Y, dtype=getattr(torch, dtype), requires_grad=True)
        out, tout = make(p, y), torch.nn.functional.binary_cross_entropy(tp, ty,
                                                                          reduction="none")
        g = np.linspace(0.5, 2, 7).astype(dtype)
        out.backward(g)
        tout.backward(torch.tensor(g))
        np.testing.assert_array_equal(out.data, tout.detach().numpy())
        np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())
        np.testing.assert_allclose(y.grad.data, ty.grad.numpy(), rtol=1e-6 if dtype ==
                                   "float32" else 1e-14)  # ±inf equal; finite to an ulp or so


def test_bce_weight_and_pos_weight_broadcast_to_the_input_shape_only():
    """PyTorch broadcasts weight (and pos_weight) to the input's shape and refuses one that
    would change it: a (3,) weight with (3, 1) input would give a (3, 3) loss."""
    p, t = t64(np.full((3, 1), 0.5)), np.ones((3, 1))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(3,\) does not "
                                         r"broadcast to the input's shape \(3, 1\) \(it would "
                                         r"make the loss \(3, 3\)\)"):
        F.binary_cross_entropy(p, t, weight=np.ones(3))
    import nn
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(3,\)"):
        nn.BCELoss(weight=engine.ones(3))(p, t)
    logits = t64(np.zeros((3, 1)))
    for kw in ({"weight": np.ones(3)}, {"pos_weight": np.ones(3)},
               {"pos_weight": np.ones((2, 3, 1))}):
        what = next(iter(kw))
        with pytest.raises(ValueError, match=rf"binary_cross_entropy_with_logits: {what} of "
                                             r"shape .* does not broadcast to the input's shape "
                                             r"\(3, 1\)"):
            F.binary_cross_entropy_with_logits(logits, t, **kw)
    # accepted: a column weight for (3, 2) input, one pos_weight per class (last dim)
    w = np.array([[1.0], [2.0], [3.0]])
    loss = F.binary_cross_entropy(t64(np.full((3, 2), 0.5)), np.ones((3, 2)), weight=w,
                                  reduction="none")
    np.testing.assert_allclose(loss.data, np.log(2) * np.array([[1, 1], [2, 2], [3, 3]]))
    loss = F.binary_cross_entropy_with_logits(t64(np.zeros((2, 3))), np.ones((2, 3)),
                                              pos_weight=[1.0, 2.0, 3.0], reduction="none")
    np.testing.assert_allclose(loss.data, np.log(2) * np.array([[1, 2, 3], [1, 2, 3]]))


@pytest.mark.parametrize("fn,kw", [
    ("binary_cross_entropy", {"weight": (3,)}),
    ("binary_cross_entropy_with_logits", {"weight": (3,)}),
    ("binary_cross_entropy_with_logits", {"pos_weight": (3,)}),
    ("binary_cross_entropy_with_logits", {"pos_weight": (2, 3, 1)}),
    ("binary_cross_entropy", {"weight": (3, 1)}),
    ("binary_cross_entropy_with_logits", {"weight": (1,), "pos_weight": (3, 1)}),
])
def test_bce_weights_refused_or_accepted_as_torch(fn, kw):
    torch = _torch()
    x = np.full((3, 1), 0.4)
    t = np.array([[1.0], [0.0], [0.5]])
    arrays = {k: np.arange(1.0, 1 + np.prod(s)).reshape(s) for k, s in kw.items()}
    try:
        want = getattr(torch.nn.functional, fn)(
            torch.tensor(x), torch.tensor(t), reduction="none",
            **{k: torch.tensor(a) for k, a in arrays.items()}).numpy()
    except RuntimeError:
        with pytest.raises(ValueError, match=r"does not broadcast to the input's shape"):
            getattr(F, fn)(t64(x), t, reduction="none", **arrays)
        return
    got = getattr(F, fn)(t64(x), t, reduction="none", **arrays)
    np.testing.assert_allclose(got.data, want, rtol=1e-12)


def test_a_target_of_another_float_dtype_that_requires_grad_is_refused():
    """Converting it would cut its gradient (target.grad would stay None, PyTorch gives it
    one): refused, saying what to do. A constant target is still converted."""
    pred = engine.tensor([0.5, 1.5], requires_grad=True)  # float32
    target = t64([1.0, 1.0], requires_grad=True)
    for loss in (F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.binary_cross_entropy_with_logits):
        with pytest.raises(TypeError, match=rf"{loss.__name__.replace('l1_loss', '(l1|mae)_loss')}"
                                            r": the target \(float64, shape \(2,\)\) requires "
                                            r"grad but the input is float32.*Cast one side"):
            loss(pred, target)
    # a constant float64 target: converted, as before
    out = F.mse_loss(pred, t64([1.0, 1.0]))
    assert out.dtype == np.float32 and out.item() == pytest.approx(0.25)
    # cast as the message says: both get gradients, mse's (2/N)(ŷ − y) by hand
    loss = F.mse_loss(pred, target.float())
    loss.backward()
    np.testing.assert_allclose(pred.grad.data, [-0.5, 0.5])
    np.testing.assert_allclose(target.grad.data, [0.5, -0.5])


def test_casting_the_target_gives_torchs_gradients():
    torch = _torch()
    x, y = np.array([0.5, 1.5, -2.0]), np.array([1.0, 0.25, -1.0])
    pred, target = engine.tensor(x, requires_grad=True), t64(y, requires_grad=True)
    tp = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    tt = torch.tensor(y, requires_grad=True)
    torch.nn.functional.mse_loss(tp, tt).backward()  # torch: mixed dtypes, both get grads
    with pytest.raises(TypeError, match="mse_loss: the target"):
        F.mse_loss(pred, target)
    F.mse_loss(pred.double(), target).backward()
    np.testing.assert_allclose(pred.grad.data, tp.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(target.grad.data, tt.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["mse", "mae", "bce", "bce_logits", "ce_labels", "ce_probs",
                                  "hinge"])
@given(seed=st.integers(0, 2**31))
def test_loss_gradients(name, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 3))
    labels = rng.integers(0, 3, 4)
    target = {
        "mse": rng.standard_normal((4, 3)),
        "mae": x + rng.choice([-1, 1], (4, 3)) * rng.uniform(0.2, 1, (4, 3)),  # no kink
        "bce": rng.random((4, 3)),
        "bce_logits": rng.random((4, 3)),
        "ce_labels": labels,
        "ce_probs": rng.dirichlet(np.ones(3), 4),
        "hinge": rng.choice([-1.0, 1.0], (4, 3)),
    }[name]
    if name == "hinge":  # keep 1 − y·x away from 0
        x = target * (1 + rng.choice([-1, 1], (4, 3)) * rng.uniform(0.2, 1, (4, 3)))
    fn = {
        "mse": F.mse_loss, "mae": F.mae_loss,
        "bce": lambda p, t: F.binary_cross_entropy(p.sigmoid(), t),
        "bce_logits": F.binary_cross_entropy_with_logits,
        "ce_labels": F.cross_entropy, "ce_probs": F.cross_entropy, "hinge": F.hinge_loss,
    }[name]
    assert engine.gradcheck(lambda t: fn(t, target), t64(x, requires_grad=True))


def test_penalties():
    a, b = t64([1.0, -2.0], True), t64([[3.0]], True)
    assert F.l1_penalty([a, b]).item() == 6.0
    assert F.l2_penalty([a, b]).item() == 14.0
    F.l1_penalty([a, b]).backward()
    np.testing.assert_array_equal(a.grad, [1.0, -1.0])


def test_loss_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"mse_loss: prediction shape \(3, 1\) and target shape "
                                         r"\(3,\) differ"):
        F.mse_loss(t64(np.zeros((3, 1))), np.zeros(3))
    with pytest.raises(ValueError, match="cross_entropy|nll_loss: label 5 out of range for 3"):
        F.cross_entropy(t64(np.zeros((2, 3))), [0, 5])
    with pytest.raises(ValueError, match="reduction"):
        F.mae_loss(t64([1.0]), [1.0], reduction="avg")
    with pytest.raises(ValueError, match="hinge_loss: targets must be"):
        F.hinge_loss(t64([1.0]), [0.0])


# ----------------------------------------------------------------------- PyTorch's losses
def test_bce_refuses_values_outside_0_1_and_nan():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all targets must be in "
                                         r"\[0, 1\], got 2.0"):
        F.binary_cross_entropy(t64([0.5]), [2.0])
    with pytest.raises(ValueError, match=r"all targets must be in \[0, 1\], got nan"):
        F.binary_cross_entropy(t64([0.5]), [np.nan])
    with pytest.raises(ValueError, match=r"all probabilities \(the input\) must be in \[0, 1\], "
                                         r"got 1.5 .*binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(t64([1.5]), [1.0])
    with pytest.raises(ValueError, match=r"probabilities .* got nan"):
        F.binary_cross_entropy(t64([np.nan]), [1.0])


def test_cross_entropy_and_nll_errors_name_shapes_and_options():
    with pytest.raises(ValueError, match=r"cross_entropy: labels of shape \(2, 3\) do not match "
                                         r"the input: expected shape \(2, 4\)"):
        F.cross_entropy(t64(np.zeros((2, 5, 4))), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\)"):
        F.nll_loss(t64(np.zeros((2, 3))), [0, 1], weight=np.ones(2))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        F.cross_entropy(t64(np.zeros((2, 3))), [0, 1], label_smoothing=1.5)
    with pytest.raises(ValueError, match="kl_div: reduction must be 'batchmean', 'mean'"):
        F.kl_div(t64([0.0]), [1.0], reduction="batch")


def test_nll_loss_ignore_index_and_weights_by_hand():
    logp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]))
    w = np.array([1.0, 2.0, 3.0])
    loss = F.nll_loss(t64(logp), [0, 1, -100], weight=w)
    # the third label is ignored: (1·ln 2 + 2·(−ln 0.8)) / (1 + 2)
    assert loss.item() == pytest.approx((np.log(2) - 2 * np.log(0.8)) / 3)
    with np.errstate(invalid="ignore"):
        assert np.isnan(F.nll_loss(t64(logp), [-100, -100, -100]).item())  # 0/0, as PyTorch


torch = None


def _torch():
    global torch
    torch = pytest.importorskip("torch")
    return torch


def _ids(cases):
    return [c[0] for c in cases]


_R = np.random.default_rng(3)
_LOGITS, _LABELS = _R.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
_IMG, _IMG_LABELS = _R.standard_normal((2, 4, 3, 2)), _R.integers(0, 4, (2, 3, 2))
_PROBS = _R.dirichlet(np.ones(4), 5)
_W = np.array([0.5, 1.0, 2.0, 1.5])

LOSS_CASES = [
    ("ce", [_LOGITS], lambda x: F.cross_entropy(x, _LABELS),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(_LABELS))),
    ("ce_weight_sum", [_LOGITS], lambda x: F.cross_entropy(x, _LABELS, _W, reduction="sum"),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(_LABELS), t.tensor(_W),
                                                reduction="sum")),
    ("ce_ignore_weight_smooth", [_LOGITS],
     lambda x: F.cross_entropy(x, [0, 3, -100, 1, 2], _W, label_smoothing=0.2),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([0, 3, -100, 1, 2]), t.tensor(_W),
                                                label_smoothing=0.2)),
    ("ce_ignore_index_7_none", [_LOGITS],
     lambda x: F.cross_entropy(x, [0, 7, 2, 1, 7], ignore_index=7, reduction="none",
                               label_smoothing=0.1),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor([0, 7, 2, 1, 7]), ignore_index=7,
                                                reduction="none", label_smoothing=0.1)),
    ("ce_smooth", [_LOGITS], lambda x: F.cross_entropy(x, _LABELS, label_smoothing=0.3),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(_LABELS), label_smoothing=0.3)),
    ("ce_spatial", [_IMG], lambda x: F.cross_entropy(x, _IMG_LABELS, _W),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(_IMG_LABELS), t.tensor(_W))),
    ("ce_spatial_smooth_none", [_IMG],
     lambda x: F.cross_entropy(x, _IMG_LABELS, reduction="none", label_smoothing=0.1),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(_IMG_LABELS), reduction="none",
                                                label_smoothing=0.1)),
    ("ce_1d", [_LOGITS[0]], lambda x: F.cross_entropy(x, np.array(2)),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(2))),
    ("ce_probs", [_LOGITS], lambda x: F.cross_entropy(x, _PROBS, _W, label_smoothing=0.1),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(_PROBS), t.tensor(_W),
                                                label_smoothing=0.1)),
    ("ce_probs_sum", [_LOGITS], lambda x: F.cross_entropy(x, _PROBS, reduction="sum"),
     lambda t, x: t.nn.functional.cross_entropy(x, t.tensor(_PROBS), reduction="sum")),
    ("nll_spatial_ignore", [_IMG],
     lambda x: F.nll_loss(x.log_softmax(1), np.where(_IMG_LABELS == 1, -100, _IMG_LABELS), _W),
     lambda t, x: t.nn.functional.nll_loss(x.log_softmax(1), t.tensor(
         np.where(_IMG_LABELS == 1, -100, _IMG_LABELS)), t.tensor(_W))),
    ("nll_1d", [_LOGITS[1]], lambda x: F.nll_loss(x, np.array(3), reduction="sum"),
     lambda t, x: t.nn.functional.nll_loss(x, t.tensor(3), reduction="sum")),
    ("bce", [_R.uniform(0.05, 0.95, (3, 4))], lambda p: F.binary_cross_entropy(
        p, _PROBS[:3], _W), lambda t, p: t.nn.functional.binary_cross_entropy(
        p, t.tensor(_PROBS[:3]), t.tensor(_W))),
    ("bce_logits_pos_weight", [_LOGITS * 10], lambda x: F.binary_cross_entropy_with_logits(
        x, _PROBS, pos_weight=_W), lambda t, x: t.nn.functional.binary_cross_entropy_with_logits(
        x, t.tensor(_PROBS), pos_weight=t.tensor(_W))),
    ("bce_logits_weight_none", [_LOGITS], lambda x: F.binary_cross_entropy_with_logits(
        x, _PROBS, _W[:, None][:1], "none"),
     lambda t, x: t.nn.functional.binary_cross_entropy_with_logits(
        x, t.tensor(_PROBS), t.tensor(_W[:, None][:1]), reduction="none")),
    ("smooth_l1", [_LOGITS], lambda x: F.smooth_l1_loss(x, _PROBS, beta=0.5),
     lambda t, x: t.nn.functional.smooth_l1_loss(x, t.tensor(_PROBS), beta=0.5)),
    ("smooth_l1_beta0", [_LOGITS], lambda x: F.smooth_l1_loss(x, _PROBS, beta=0.0),
     lambda t, x: t.nn.functional.smooth_l1_loss(x, t.tensor(_PROBS), beta=0.0)),
    ("huber", [_LOGITS * 2], lambda x: F.huber_loss(x, _PROBS, "sum", 1.5),
     lambda t, x: t.nn.functional.huber_loss(x, t.tensor(_PROBS), reduction="sum", delta=1.5)),
    ("kl_div_batchmean", [np.log(_PROBS[::-1].copy())],
     lambda x: F.kl_div(x, np.where(_PROBS > 0.3, 0.0, _PROBS), "batchmean"),
     lambda t, x: t.nn.functional.kl_div(x, t.tensor(np.where(_PROBS > 0.3, 0.0, _PROBS)),
                                         reduction="batchmean")),
    ("kl_div_log_target", [_LOGITS], lambda x: F.kl_div(x, np.log(_PROBS), "sum", True),
     lambda t, x: t.nn.functional.kl_div(x, t.tensor(np.log(_PROBS)), reduction="sum",
                                         log_target=True)),
    ("mse", [_LOGITS], lambda x: F.mse_loss(x, _PROBS),
     lambda t, x: t.nn.functional.mse_loss(x, t.tensor(_PROBS))),
    ("l1", [_LOGITS], lambda x: F.l1_loss(x, _PROBS, "sum"),
     lambda t, x: t.nn.functional.l1_loss(x, t.tensor(_PROBS), reduction="sum")),
    ("cosine_similarity", [_LOGITS, np.vstack([_LOGITS[:4] * 0.5, np.zeros((1, 4))])],
     lambda a, b: F.cosine_similarity(a, b), lambda t, a, b: t.nn.functional.cosine_similarity(
        a, b)),
    ("cosine_similarity_tiny", [_LOGITS * 1e-5, _LOGITS[::-1] * 1e-3],
     lambda a, b: F.cosine_similarity(a, b, dim=0, eps=1e-4),
     lambda t, a, b: t.nn.functional.cosine_similarity(a, b, dim=0, eps=1e-4)),
    ("cosine_embedding", [_LOGITS, _LOGITS[::-1].copy()],
     lambda a, b: F.cosine_embedding_loss(a, b, [1, -1, -1, 1, -1], margin=0.1),
     lambda t, a, b: t.nn.functional.cosine_embedding_loss(a, b, t.tensor([1, -1, -1, 1, -1]),
                                                           margin=0.1)),
    ("pad_constant_value", [_IMG], lambda x: F.pad(x, (1, -1, 2, 0), value=2.5),
     lambda t, x: t.nn.functional.pad(x, (1, -1, 2, 0), value=2.5)),
    ("softmax_dim", [_IMG], lambda x: F.softmax(x, dim=1),
     lambda t, x: t.nn.functional.softmax(x, dim=1)),
    ("log_softmax_dim", [_IMG], lambda x: F.log_softmax(x, dim=-2),
     lambda t, x: t.nn.functional.log_softmax(x, dim=-2)),
    ("max_pool2d_kernel_size", [_IMG], lambda x: F.max_pool2d(x, kernel_size=2, stride=1),
     lambda t, x: t.nn.functional.max_pool2d(x, kernel_size=2, stride=1)),
    ("avg_pool2d_kernel_size", [_IMG], lambda x: F.avg_pool2d(x, kernel_size=(2, 1)),
     lambda t, x: t.nn.functional.avg_pool2d(x, kernel_size=(2, 1))),
]


@pytest.mark.parametrize("case", LOSS_CASES, ids=_ids(LOSS_CASES))
def test_losses_match_torch(case):
    """Same float64 inputs through nn.functional and torch.nn.functional: values and input
    gradients agree to 1e-10."""
    t = _torch()
    _, arrays, ours_fn, torch_fn = case
    ours = [t64(a, requires_grad=True) for a in arrays]
    theirs = [t.tensor(a, requires_grad=True) for a in arrays]
    out_o, out_t = ours_fn(*ours), torch_fn(t, *theirs)
    np.testing.assert_allclose(out_o.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(0).standard_normal(out_t.shape)
    out_o.backward(g)
    out_t.backward(t.tensor(g))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(np.asarray(a.grad), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_one_hot_and_its_errors():
    out = F.one_hot(engine.tensor([2, 0]), 3)
    assert out.tolist() == [[0, 0, 1], [1, 0, 0]] and out.dtype == np.int64
    assert F.one_hot(engine.tensor([1, 3])).shape == (2, 4)
    with pytest.raises(ValueError, match="one_hot: class value 3 is not smaller than "
                                         "num_classes = 3"):
        F.one_hot(engine.tensor([3]), 3)
    with pytest.raises(TypeError, match="one_hot: expects integer class labels"):
        F.one_hot(engine.tensor([1.0]), 3)


def test_pool_kernel_size_keyword_once():
    x = engine.ones(1, 1, 4, 4)
    assert F.max_pool2d(x, kernel=2).shape == F.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    with pytest.raises(TypeError, match="max_pool2d: give the window size once"):
        F.max_pool2d(x, 2, kernel=2)


@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_is_one_op_and_matches_torch(x_shape, bias):
    """F.linear (every nn.Linear) is one op, x·Wᵀ + b over any leading dims: values and the
    gradients of x, W and b equal torch's F.linear in float64; second derivatives work."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    rng = np.random.default_rng(len(x_shape))
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((4, 3))]
    arrays += [rng.standard_normal(4)] if bias else []
    ours = [engine.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = F.linear(*ours), torch.nn.functional.linear(*theirs)
    assert y.grad_fn.name == "linear" and y.grad_fn.inputs[0] is ours[0]
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-12, atol=1e-12)
    x, w = (engine.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays[:2])
    (gx,) = engine.grad((F.linear(x, w) ** 2).sum(), [x], create_graph=True)
    (gw,) = engine.grad(gx.sum(), [w])  # d/dW Σ 2(x·Wᵀ)·W
    tx, tw = (torch.tensor(a, requires_grad=True) for a in arrays[:2])
    (tgx,) = torch.autograd.grad((torch.nn.functional.linear(tx, tw) ** 2).sum(), [tx],
                                 create_graph=True)
    (tgw,) = torch.autograd.grad(tgx.sum(), [tw])
    np.testing.assert_allclose(gw.data, tgw.numpy(), rtol=1e-12, atol=1e-12)


def test_linear_refuses_mismatched_shapes_by_name():
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 3\) has 3 features but "
                                         r"the weight of shape \(4, 5\) expects 5"):
        F.linear(engine.zeros(2, 3), engine.zeros(4, 5))
    with pytest.raises(ValueError, match=r"linear: bias of shape \(3,\) does not match the "
                                         r"weight's 4 outputs"):
        F.linear(engine.zeros(2, 3), engine.zeros(4, 3), engine.zeros(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(128, 10), (7, 3), (5, 4, 6), (3,)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_one_op_equals_the_general_path(dtype, shape, reduction):
    """Labels all counted, no class weights: cross_entropy is one op (a row kernel for 2-D
    input); the general path (log_softmax, gather, weights, sums: weights of ones take it)
    gives the same values and gradients to rounding."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    labels = rng.integers(0, shape[0 if len(shape) == 1 else 1],
                          () if len(shape) == 1 else (shape[0],) + shape[2:])
    a, b = (engine.tensor(x, dtype=dtype, requires_grad=True) for _ in range(2))
    short = F.cross_entropy(a, labels, reduction=reduction)
    general = F.cross_entropy(b, labels, reduction=reduction,
                              weight=np.ones(x.shape[0 if len(shape) == 1 else 1], dtype))
    assert [op.name for op in _ops(short)] == ["cross_entropy"]
    assert len(list(_ops(general))) > 3
    short.backward()
    general.backward()
    # atol: softmax − 1 near p = 1 cancels (a few ulp of 1.0 in float32)
    tol = dict(rtol=2e-6, atol=5e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    assert short.dtype == general.dtype == dtype
    np.testing.assert_allclose(short.data, general.data, **tol)
    np.testing.assert_allclose(a.grad.data, b.grad.data, **tol)


@pytest.mark.parametrize("shape", [(6, 4), (4,), (3, 4, 2)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_one_op_matches_torch_to_second_order(shape, reduction):
    """The one-op cross_entropy against torch's in float64: the loss, its gradient, and the
    gradient of ‖∂L/∂x‖² (create_graph through the op's backward)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 2
    labels = rng.integers(0, shape[0 if len(shape) == 1 else 1],
                          () if len(shape) == 1 else (shape[0],) + shape[2:])
    a = engine.tensor(x, dtype=np.float64, requires_grad=True)
    loss = F.cross_entropy(a, labels, reduction=reduction)
    assert loss.grad_fn.name == "cross_entropy"
    (g,) = engine.grad(loss, a, create_graph=True)
    (g * g).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(t, torch.tensor(labels), reduction=reduction)
    (tg,) = torch.autograd.grad(tloss, t, create_graph=True)
    (tg * tg).sum().backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-13)
    np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def _ops(t):
    """The ops of t's graph."""
    seen, stack = set(), [t]
    while stack:
        n = stack.pop()
        if n.grad_fn is not None and id(n) not in seen:
            seen.add(id(n))
            yield n.grad_fn
            stack.extend(n.grad_fn.inputs)


@pytest.mark.parametrize("rows", [3, 255, 256, 3200])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_bias_gradient_sums_the_rows(rows, dtype):
    """The bias gradient of F.linear is Σ over the rows of G (a GEMV from 256 rows on):
    against numpy's float64 sum, for the weight and input gradients beside it too."""
    rng = np.random.default_rng(rows)
    x = engine.tensor(rng.standard_normal((rows, 4)), dtype=dtype, requires_grad=True)
    w = engine.tensor(rng.standard_normal((6, 4)), dtype=dtype, requires_grad=True)
    b = engine.tensor(rng.standard_normal(6), dtype=dtype, requires_grad=True)
    g = rng.standard_normal((rows, 6)).astype(dtype)
    F.linear(x, w, b).backward(engine.tensor(g, dtype=dtype))
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(b.grad.data, g.astype(np.float64).sum(axis=0), rtol=tol,
                               atol=tol * rows)
    np.testing.assert_allclose(w.grad.data, g.T.astype(np.float64) @ x.data, rtol=tol,
                               atol=tol * rows)
    np.testing.assert_allclose(x.grad.data, g @ w.data, rtol=tol, atol=tol)
    assert b.grad.dtype == dtype


# ------------------------------------------------- instance_norm: PyTorch's signature
def test_instance_norm_running_stats_by_hand():
    """x (1, 1, 3) = [1, 2, 3]: μ = 2, biased σ² = 2/3, unbiased 1. PyTorch's order: input,
    running_mean, running_var, weight, bias, use_input_stats, momentum, eps."""
    x = t64([[[1.0, 2.0, 3.0]]])
    rm, rv = t64([1.0]), t64([4.0])
    y = F.instance_norm(x, rm, rv, t64([2.0]), t64([0.5]), momentum=0.5, eps=0.0)
    np.testing.assert_allclose(y.data, 2 * np.array([[[-1, 0, 1]]]) / np.sqrt(2 / 3) + 0.5)
    np.testing.assert_allclose([rm.item(), rv.item()], [0.5 * 1 + 0.5 * 2, 0.5 * 4 + 0.5 * 1])
    y = F.instance_norm(x, t64([1.0]), t64([3.0]), use_input_stats=False, eps=1.0)
    np.testing.assert_allclose(y.data, [[[0.0, 0.5, 1.0]]])  # (x − 1)/√(3 + 1)
    arr_m, arr_v = np.zeros(1), np.ones(1)  # numpy buffers are updated in place too
    F.instance_norm(x, arr_m, arr_v, momentum=1.0)
    np.testing.assert_allclose([arr_m[0], arr_v[0]], [2.0, 1.0])


def test_instance_norm_refuses_what_pytorch_refuses():
    x = t64(np.arange(6.0).reshape(1, 2, 3))
    w = engine.ones(2, dtype=np.float64, requires_grad=True)
    with pytest.raises(ValueError, match=r"instance_norm: running_mean requires grad: running "
                                         r"statistics are buffers.*pass weight= and bias= by "
                                         r"name"):
        F.instance_norm(x, w, engine.zeros(2, dtype=np.float64, requires_grad=True))
    with pytest.raises(ValueError, match="running_mean and running_var must either both be "
                                         "None or neither"):
        F.instance_norm(x, t64([0.0, 0.0]))
    with pytest.raises(ValueError, match="use_input_stats=False normalises with the running"):
        F.instance_norm(x, use_input_stats=False)
    with pytest.raises(ValueError, match=r"expected more than 1 spatial element when training, "
                                         r"got input size \(2, 2, 1\)"):
        F.instance_norm(t64(np.ones((2, 2, 1))))
    with pytest.raises(ValueError, match=r"instance_norm: running_var must have one entry per "
                                         r"channel, shape \(2,\), got \(3,\)"):
        F.instance_norm(x, np.zeros(2), np.ones(3))


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_matches_torch(use_input_stats):
    torch = _torch()
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    ours = [t64(a, True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    orm, orv, trm, trv = t64(rm), t64(rv), torch.tensor(rm), torch.tensor(rv)
    out = F.instance_norm(ours[0], orm, orv, ours[1], ours[2], use_input_stats, 0.3, 1e-3)
    tout = torch.nn.functional.instance_norm(theirs[0], trm, trv, theirs[1], theirs[2],
                                             use_input_stats, 0.3, 1e-3)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(orm.data, trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(orv.data, trv.numpy(), rtol=1e-12)
    g = rng.standard_normal(x.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    for a, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=1e-9, atol=1e-12)
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument "
                                           "'running_mean'"):  # torch refuses it too
        torch.nn.functional.instance_norm(theirs[0], theirs[1], theirs[2])


# ---------------------------------------------- ranking / margin losses: shapes as torch
def test_margin_losses_refuse_targets_that_would_broadcast_to_n_by_n():
    x = t64(np.zeros((3, 1)))
    y = np.array([1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match=r"margin_ranking_loss: input1 \(3, 1\), input2 \(3, 1\) "
                                         r"and target \(3,\) must have the same number of dims"):
        F.margin_ranking_loss(x, x, y)
    with pytest.raises(ValueError, match=r"soft_margin_loss: target of shape \(3,\) does not "
                                         r"broadcast to the input's shape \(3, 1\) \(it would "
                                         r"make the loss \(3, 3\)\)"):
        F.soft_margin_loss(x, y)
    with pytest.raises(ValueError, match=r"hinge_embedding_loss: target of shape \(3,\)"):
        F.hinge_embedding_loss(x, y)
    with pytest.raises(ValueError, match=r"multilabel_soft_margin_loss: weight of shape \(3,\) "
                                         r"does not broadcast to the input's shape \(3, 1\)"):
        F.multilabel_soft_margin_loss(x, np.ones((3, 1)), weight=np.ones(3))
    # what broadcasts without changing the input's shape still does: by hand
    assert F.soft_margin_loss(t64([0.0, 0.0]), [1.0]).item() == pytest.approx(np.log(2))
    assert F.margin_ranking_loss(t64([1.0, 3.0]), t64([2.0]), [1.0], margin=0.5).item() == \
        pytest.approx((1.5 + 0.0) / 2)  # max(0, −(1 − 2) + .5), max(0, −(3 − 2) + .5)


@pytest.mark.parametrize("name,shapes", [
    ("margin_ranking_loss", [(3, 1), (3, 1), (3,)]),
    ("margin_ranking_loss", [(3,), (3, 1), (3,)]),
    ("margin_ranking_loss", [(3,), (1,), (3,)]),
    ("margin_ranking_loss", [(3,), (3,), (1,)]),
    ("soft_margin_loss", [(3, 1), (3,)]),
    ("soft_margin_loss", [(3,), (1,)]),
    ("soft_margin_loss", [(2, 3), (2, 3)]),
])
def test_margin_losses_refuse_or_accept_shapes_as_torch(name, shapes):
    torch = _torch()
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in shapes[:-1]]
    y = np.where(rng.random(shapes[-1]) < 0.5, -1.0, 1.0)
    try:
        want = getattr(torch.nn.functional, name)(*map(torch.tensor, arrays + [y]),
                                                   reduction="none").numpy()
    except RuntimeError:
        with pytest.raises(ValueError, match=name):
            getattr(F, name)(*[t64(a) for a in arrays], y, reduction="none")
        return
    got = getattr(F, name)(*[t64(a) for a in arrays], y, reduction="none")
    np.testing.assert_allclose(got.data, want, rtol=1e-12)


# ------------------------------------------------------ softmax without dim: torch's dim
@pytest.mark.parametrize("ndim,dim", [(0, 0), (1, 0), (2, 1), (3, 0), (4, 1), (5, 1)])
def test_softmax_without_dim_takes_torchs_implicit_dim(ndim, dim):
    """PyTorch's legacy rule: dim 0 for 0-, 1- and 3-D input, dim 1 otherwise; from 3-D on
    (where that is not the last dim) a warning says which dim and to pass dim=."""
    import warnings

    import nn
    x = t64(np.random.default_rng(ndim).standard_normal((2, 3, 2, 2, 2)[:ndim]))
    e = np.exp(x.data)
    want = e / e.sum(axis=dim, keepdims=True) if ndim else np.ones(())
    calls = {"F.softmax": (lambda: F.softmax(x), want),
             "F.log_softmax": (lambda: F.log_softmax(x), np.log(want)),
             "Softmax": (lambda: nn.Softmax()(x), want),
             "LogSoftmax": (lambda: nn.LogSoftmax()(x), np.log(want))}
    for name, (call, expected) in calls.items():
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            out = call()
        np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-15)
        if ndim >= 3:
            op = name.split(".")[-1]
            assert len(rec) == 1 and rec[0].filename == __file__
            assert f"{op}: no dim given: using dim {dim}" in str(rec[0].message)
            assert "Pass dim=" in str(rec[0].message)
        else:
            assert not rec


@pytest.mark.parametrize("ndim", range(6))
def test_softmax_family_without_dim_matches_torch(ndim):
    import warnings

    import nn
    torch = _torch()
    x = np.random.default_rng(ndim).standard_normal((2, 3, 2, 2, 2)[:ndim])
    pairs = [(F.softmax, torch.nn.functional.softmax), (F.log_softmax,
                                                        torch.nn.functional.log_softmax),
             (F.softmin, torch.nn.functional.softmin), (nn.Softmax(), torch.nn.Softmax()),
             (nn.LogSoftmax(), torch.nn.LogSoftmax()), (nn.Softmin(), torch.nn.Softmin())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours(t64(x)).data, theirs(torch.tensor(x)).numpy(),
                                       rtol=1e-12, atol=1e-15)


# -------------------------------------------------- dropout2d on 3-D input: (N, C, L)
def test_dropout2d_reads_3d_input_as_n_c_l_and_warns():
    import nn
    engine.manual_seed(0)
    x = engine.ones(6, 8, 5)
    for call in (lambda: F.dropout2d(x, 0.5), lambda: nn.Dropout2d(0.5)(x)):
        with pytest.warns(UserWarning, match=r"dropout2d: Received a 3D input .* interpreted as "
                                             r"shape \(N, C, L\)"):
            out = call().data
        assert set(np.unique(out)) <= {0.0, 2.0}
        assert (out.min(-1) == out.max(-1)).all()  # whole (n, c) rows: masks of shape (N, C, 1)
        assert not (out.min(0) == out.max(0)).all()  # not one (C, H, W)-style mask for all n
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input"):  # eval too, as torch
        assert nn.Dropout2d(0.5).eval()(x) is x
    out = F.dropout1d(x, 0.5).data  # what the warning advises: the same channel rows, quietly
    assert (out.min(-1) == out.max(-1)).all()
    with pytest.raises(ValueError, match=r"dropout1d: expected \(N, C, L\) or \(C, L\) input"):
        F.dropout1d(engine.ones(2, 3, 4, 5))


def test_dropout2d_warning_is_torchs():
    import warnings
    torch = _torch()
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        torch.nn.Dropout2d(0.5)(torch.ones(2, 3, 4))
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        F.dropout2d(engine.ones(2, 3, 4), 0.5)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    engine.manual_seed(1)
    torch.manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.nn.functional.dropout2d(torch.ones(64, 4, 3), 0.5).numpy()
        o = F.dropout2d(engine.ones(64, 4, 3), 0.5).data
    for out in (t, o):  # the same structure: each (n, c) row all kept or all dropped
        assert (out.min(-1) == out.max(-1)).all() and 0.3 < (out[..., 0] == 0).mean() < 0.7


# ------------------------------------------------- F.embedding: padding_idx must be a row
@pytest.mark.parametrize("padding_idx", [6, 10, -7])
def test_embedding_padding_idx_out_of_range_is_refused_as_torch(padding_idx):
    """Out of range, padding_idx matches no index: taken silently, the row a student meant
    (often the vocabulary size, one past the end) would still be trained. PyTorch asserts."""
    torch = _torch()
    table, idx = np.arange(18.0).reshape(6, 3), np.array([[0, 5, 2]])
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        torch.nn.functional.embedding(torch.tensor(idx), torch.tensor(table), padding_idx)
    with pytest.raises(ValueError, match=rf"embedding: padding_idx {padding_idx} must be "
                                         rf"within the 6 rows of the table \(from -6 to 5\)"):
        F.embedding(engine.tensor(idx), t64(table, requires_grad=True), padding_idx)


@pytest.mark.parametrize("padding_idx", [None, 0, 5, -1, -6])
def test_embedding_padding_idx_gradient_matches_torch(padding_idx):
    torch = _torch()
    table, idx = np.random.default_rng(0).standard_normal((6, 3)), np.array([[0, 5, 2, 5, 0]])
    g = np.random.default_rng(1).standard_normal((1, 5, 3))
    w = t64(table, requires_grad=True)
    F.embedding(engine.tensor(idx), w, padding_idx).backward(t64(g))
    tw = torch.tensor(table, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx).backward(torch.tensor(g))
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-14, atol=0)


# ------------------------------------------ kl_div: reduction='mean' warns, as PyTorch's
def test_kl_div_mean_warns_as_torch_and_batchmean_is_quiet():
    """'mean' divides by the element count, not the batch size: C times less than the KL per
    sample, the classic silent slip that PyTorch warns about (its KLDivLoss's default)."""
    import warnings

    import nn
    torch = _torch()
    logp = np.log(np.random.default_rng(0).dirichlet(np.ones(4), 3))
    q = np.random.default_rng(1).dirichlet(np.ones(4), 3)
    with pytest.warns(UserWarning) as theirs:
        want = torch.nn.functional.kl_div(torch.tensor(logp), torch.tensor(q))
    for call in (lambda: F.kl_div(t64(logp), q), lambda: nn.KLDivLoss()(t64(logp), q)):
        with pytest.warns(UserWarning) as ours:
            got = call()
        assert [str(w.message) for w in ours] == ["kl_div: " + str(w.message) for w in theirs]
        assert got.item() == pytest.approx(want.item(), rel=1e-12)
    assert ours[0].filename.endswith("loss.py")  # the module's call, as PyTorch's does
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduction in ("batchmean", "sum", "none"):
            F.kl_div(t64(logp), q, reduction=reduction)


# ------------------------------------------ softmax family: dtype= casts first, as PyTorch
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("src, dst", [(np.float32, np.float64), (np.float64, np.float32),
                                      (np.float64, np.float64)])
def test_softmax_family_dtype_casts_the_input_first_as_torch(name, src, dst):
    """``F.softmax(scores, dim=-1, dtype=torch.float32)``, as attention code writes it: the
    output has ``dtype``, the input's gradient its own dtype."""
    torch = _torch()
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((3, 4)).astype(src), rng.standard_normal((3, 4)).astype(dst)
    ours_x = engine.tensor(x, dtype=src, requires_grad=True)
    ours = getattr(F, name)(ours_x, dim=1, dtype=dst)
    ours.backward(engine.tensor(g, dtype=dst))
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs = getattr(torch.nn.functional, name)(theirs_x, dim=1, dtype=tdtype[dst])
    theirs.backward(torch.tensor(g))
    assert ours.dtype == dst and ours_x.grad.dtype == src
    tol = 1e-12 if src == dst == np.float64 else 1e-5
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(ours_x.grad.data, theirs_x.grad.numpy(), rtol=tol, atol=tol)
    with pytest.raises(TypeError, match=rf"{name}: dtype must be a floating type .*got int64"):
        getattr(F, name)(ours_x, dim=1, dtype=np.int64)


# ------------------------------ nll_loss / cross_entropy: ignore_index must be an int
@pytest.mark.parametrize("call", [
    lambda x, y: F.nll_loss(x, y, None, False),  # PyTorch: size_average=False, a sum
    lambda x, y: F.cross_entropy(x, y, None, False),
    lambda x, y: F.cross_entropy(x, y, ignore_index=True),
    lambda x, y: F.nll_loss(x, y, ignore_index=-100.0),
    lambda x, y: F.cross_entropy(x, np.eye(3)[[0, 1, 2, 0]], ignore_index=None),
], ids=["nll-positional-size_average", "ce-positional-size_average", "ce-bool", "nll-float",
        "ce-probabilities-none"])
def test_ignore_index_that_is_not_an_int_is_refused_as_torch(call):
    """PyTorch's 4th positional argument is the deprecated size_average, stepgrad's (and
    PyTorch's 5th) ignore_index: read as an index, False silently skipped every label 0."""
    import nn
    x = t64(np.log(np.full((4, 3), 1 / 3)), requires_grad=True)
    y = np.array([0, 1, 2, 0])
    with pytest.raises(TypeError, match=r"ignore_index must be an int, got .*size_average"):
        call(x, y)
    for module in (nn.NLLLoss, nn.CrossEntropyLoss):  # refused when made (PyTorch's 2nd)
        with pytest.raises(TypeError, match=r"ignore_index must be an int, got False.*2nd"):
            module(None, False)


def test_ignore_index_numpy_int_matches_torch():
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((4, 3))
    y = np.array([0, 1, 2, 0])
    ours = F.cross_entropy(t64(x), y, ignore_index=np.int64(0))
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y), ignore_index=0)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)


# ------------------------------------------- gaussian_nll_loss: var's shapes, PyTorch's rule
@pytest.mark.parametrize("var_shape", [(4, 3, 2), (4, 3), (4, 3, 1), (1, 3, 2), (4, 1, 2),
                                       "number", (4,), (3, 2), (2,), (4, 1, 1), (), (1, 1, 2),
                                       (4, 3, 2, 1)])
def test_gaussian_nll_loss_var_shapes_as_torch(var_shape):
    """Accepted: the input's shape, without its last dim, or with one dim of size 1; the
    values and both gradients are PyTorch's. Other shapes PyTorch refuses: refused by name
    (they were broadcast, or failed inside expand)."""
    torch = _torch()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    v = 0.7 if var_shape == "number" else rng.uniform(0.5, 2.0, var_shape)
    tx = torch.tensor(x, requires_grad=True)
    tv = v if var_shape == "number" else torch.tensor(v, requires_grad=True)
    try:
        theirs = torch.nn.functional.gaussian_nll_loss(tx, torch.tensor(y), tv, reduction="sum")
    except ValueError as e:
        assert "var is of incorrect size" in str(e)
        with pytest.raises(ValueError, match=rf"gaussian_nll_loss: var of shape "
                                             rf"{re.escape(str(var_shape))} does not fit the "
                                             rf"input of shape \(4, 3, 2\)"):
            F.gaussian_nll_loss(t64(x), y, t64(v, requires_grad=True))
        return
    ox = t64(x, requires_grad=True)
    ov = v if var_shape == "number" else t64(v, requires_grad=True)
    ours = F.gaussian_nll_loss(ox, y, ov, reduction="sum")
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-12)
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-12)
    if var_shape != "number":
        np.testing.assert_allclose(ov.grad.data, tv.grad.numpy(), rtol=1e-12)


# ------------------------------------- mse_loss, l1_loss, huber_loss: PyTorch's weight=
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name, kwargs", [("mse_loss", {}), ("l1_loss", {}),
                                          ("huber_loss", {"delta": 0.7})])
def test_elementwise_losses_weight_matches_torch(name, kwargs, reduction):
    """'mean' is Σ w·loss / Σ w for mse and l1 but the plain mean of w·loss for huber, as
    PyTorch 2.13; the weight gets its gradient too."""
    torch = _torch()
    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.random((4, 3))
    ox, ow = t64(x, requires_grad=True), t64(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ours = getattr(F, name)(ox, y, reduction=reduction, weight=ow, **kwargs)
    theirs = getattr(torch.nn.functional, name)(tx, torch.tensor(y), reduction=reduction,
                                                weight=tw, **kwargs)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(theirs.shape)
    ours.backward(t64(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ow.grad.data, tw.grad.numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        getattr(torch.nn.functional, name)(tx, torch.tensor(y), weight=tw[:1], **kwargs)
    shown = "mae_loss" if name == "l1_loss" else name
    with pytest.raises(ValueError, match=rf"{shown}: weight of shape \(1, 3\) must have the "
                                         rf"input's shape \(4, 3\)"):
        getattr(F, name)(ox, y, weight=ow[:1], **kwargs)


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, lambda a, b, weight: F.huber_loss(
    a, b, weight=weight, delta=0.5)], ids=["mse", "l1", "huber"])
def test_elementwise_weighted_losses_gradcheck(fn):
    rng = np.random.default_rng(1)
    x, y, w = rng.standard_normal((3, 2)), rng.standard_normal((3, 2)), rng.random((3, 2))
    assert engine.gradcheck(lambda a, ww: fn(a, y, weight=ww), t64(x, requires_grad=True),
                            t64(w, requires_grad=True))


# ----------------------------------- glu, tanhshrink, softshrink, hardshrink: PyTorch's
_SHRINKS = {
    "glu": lambda f, x: f.glu(x), "glu_dim0": lambda f, x: f.glu(x, 0),
    "glu_dim1_kw": lambda f, x: f.glu(x, dim=1),
    "tanhshrink": lambda f, x: f.tanhshrink(x),
    "softshrink": lambda f, x: f.softshrink(x),
    "softshrink_1.2": lambda f, x: f.softshrink(x, 1.2),
    "hardshrink": lambda f, x: f.hardshrink(x),
    "hardshrink_lambd_0.9": lambda f, x: f.hardshrink(x, lambd=0.9),
}


@pytest.mark.parametrize("call", _SHRINKS.values(), ids=_SHRINKS.keys())
def test_glu_and_shrinks_match_torch_and_gradcheck(call):
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((4, 6)) * 2
    x[np.abs(np.abs(x) - 0.5) < 0.05] += 0.2  # off the kinks at ±λ, for the finite differences
    x[np.abs(np.abs(x) - 1.2) < 0.05] += 0.2
    x[np.abs(np.abs(x) - 0.9) < 0.05] += 0.2
    ox, tx = t64(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = call(F, ox), call(torch.nn.functional, tx)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
    g = np.random.default_rng(1).standard_normal(theirs.shape)
    ours.backward(t64(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert engine.gradcheck(lambda t: call(F, t), t64(x, requires_grad=True))


def test_glu_and_softshrink_refuse_what_torch_refuses():
    with pytest.raises(ValueError, match=r"glu: dim -1 of the input \(2, 3\) must exist and "
                                         r"have an even size"):
        F.glu(engine.ones(2, 3))
    with pytest.raises(ValueError, match=r"glu: dim 2 of the input \(2, 4\)"):
        F.glu(engine.ones(2, 4), 2)
    with pytest.raises(ValueError, match="glu: does not take a 0-d tensor"):
        F.glu(engine.tensor(1.0))
    with pytest.raises(ValueError, match="softshrink: lambd must be non-negative, got -1"):
        F.softshrink(engine.ones(3), -1)


# ------------------------------- multi_margin_loss (the SVM loss), multilabel_margin_loss
_MARGIN_X = np.random.default_rng(2).standard_normal((5, 4))
_MARGIN_Y = np.array([1, 0, 3, 3, 2])
_MARGIN_SETS = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [1, -1, 2, 0], [-1, 0, 0, 0],
                         [2, 2, -1, 0]])  # up to the first −1; a class listed twice counts twice
_MARGINS = {
    "multi_margin": lambda f, t, x: f.multi_margin_loss(x, t.tensor(_MARGIN_Y)),
    "multi_margin_p2_weight_sum": lambda f, t, x: f.multi_margin_loss(
        x, t.tensor(_MARGIN_Y), p=2, margin=0.4, weight=t.tensor(np.array([0.5, 1, 2, 3.0])),
        reduction="sum"),
    "multi_margin_none_positional": lambda f, t, x: f.multi_margin_loss(
        x, t.tensor(_MARGIN_Y), 1, 0.7, None, reduction="none"),
    "multi_margin_one_sample": lambda f, t, x: f.multi_margin_loss(x[0], t.tensor(2)),
    "multilabel_margin": lambda f, t, x: f.multilabel_margin_loss(x, t.tensor(_MARGIN_SETS)),
    "multilabel_margin_none": lambda f, t, x: f.multilabel_margin_loss(
        x, t.tensor(_MARGIN_SETS), reduction="none"),
    "multilabel_margin_one_sample": lambda f, t, x: f.multilabel_margin_loss(
        x[1], t.tensor(_MARGIN_SETS[0])),
}


@pytest.mark.parametrize("call", _MARGINS.values(), ids=_MARGINS.keys())
def test_multi_margin_losses_match_torch_and_gradcheck(call):
    torch = _torch()
    ox, tx = t64(_MARGIN_X, requires_grad=True), torch.tensor(_MARGIN_X, requires_grad=True)
    ours = call(F, _EngineAsTorch, ox)
    theirs = call(torch.nn.functional, torch, tx)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)
    g = np.random.default_rng(3).standard_normal(theirs.shape)
    ours.backward(t64(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(ox.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert engine.gradcheck(lambda t: call(F, _EngineAsTorch, t),
                            t64(_MARGIN_X, requires_grad=True))


class _EngineAsTorch:
    """``t.tensor`` for the calls above: engine's, float arrays as float64."""
    @staticmethod
    def tensor(a):
        a = np.asarray(a)
        return engine.tensor(a, dtype=np.float64) if a.dtype.kind == "f" else engine.tensor(a)


def test_multi_margin_losses_refuse_what_torch_refuses():
    x = t64(_MARGIN_X)
    with pytest.raises(ValueError, match="multi_margin_loss: p must be 1 or 2, got 3"):
        F.multi_margin_loss(x, _MARGIN_Y, p=3)
    with pytest.raises(ValueError, match="multi_margin_loss: label 4 out of range"):
        F.multi_margin_loss(x, _MARGIN_Y + 1)
    with pytest.raises(ValueError, match=r"multi_margin_loss: weight must have one entry per "
                                         r"class, shape \(4,\)"):
        F.multi_margin_loss(x, _MARGIN_Y, weight=np.ones(3))
    with pytest.raises(ValueError, match=r"multi_margin_loss: expected \(N, C\) or \(C,\)"):
        F.multi_margin_loss(t64(np.zeros((2, 3, 4))), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="multilabel_margin_loss: class index 7 out of range"):
        F.multilabel_margin_loss(x, _MARGIN_SETS + 4)
    with pytest.raises(ValueError, match=r"multilabel_margin_loss: the target must be integer "
                                         r"class indices of the input's shape \(5, 4\)"):
        F.multilabel_margin_loss(x, _MARGIN_Y)


def test_size_average_replaces_reduction_and_positional_bools_say_what_to_do():
    """Hand-derived: size_average=False is the sum, reduce=False the elementwise losses,
    and they override a reduction given beside them (PyTorch's rule). A bool where the
    reduction goes (PyTorch's old positional size_average) is refused with the way out;
    HuberLoss, newer than the keywords in PyTorch too, does not take them."""
    a = engine.tensor([[1.0, 2.0], [3.0, 5.0]])
    b = engine.tensor([[0.0, 0.0], [1.0, 1.0]])
    with pytest.warns(UserWarning, match=r"mse_loss: .*reduction='sum'"):
        assert nn.F.mse_loss(a, b, size_average=False).item() == 1 + 4 + 4 + 16
    with pytest.warns(UserWarning, match=r"reduction='none'"):
        assert nn.F.l1_loss(a, b, reduce=False).tolist() == [[1, 2], [2, 4]]
    with pytest.warns(UserWarning, match=r"reduction='mean'"):
        assert nn.F.mse_loss(a, b, "sum", size_average=True).item() == 25 / 4
    with pytest.raises(ValueError, match=r"got False \(PyTorch's old size_average/reduce "
                                         r"arguments\? pass them by name"):
        nn.F.mse_loss(a, b, False)
    with pytest.raises(ValueError, match=r"MSELoss: .*got False \(PyTorch's old"):
        nn.MSELoss(False)
    with pytest.raises(TypeError, match="size_average"):
        nn.HuberLoss(size_average=False)


@pytest.mark.parametrize("name,args", [
    ("leaky_relu", (0.2,)), ("elu", (0.7,)), ("selu", ()), ("celu", (1.3,)), ("silu", ()),
    ("mish", ()), ("relu6", ()), ("hardtanh", (-0.5, 0.8)), ("hardsigmoid", ()),
    ("hardswish", ()), ("threshold", (0.1, -2.0))])
def test_in_place_activations_gradcheck(name, args):
    """``inplace=True`` writes the activation into its input (a non-leaf here); the gradient
    through the rewritten graph matches finite differences (values kept off the kinks)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0.3, 2.5, (3, 4)) * rng.choice([-1, 1], (3, 4))

    def f(t):
        h = t * 1.5
        out = getattr(F, name)(h, *args, inplace=True)
        assert out is h
        return out

    assert engine.gradcheck(f, t64(x, requires_grad=True))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training):
    """F.batch_norm's gradient in x, weight and bias against finite differences, with batch
    statistics (training) and with fixed running ones."""
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((4, 3, 2)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = t64(rng.standard_normal(3)), t64(rng.uniform(0.5, 2, 3))
    assert engine.gradcheck(
        lambda a, ww, bb: F.batch_norm(a, rm, rv, ww, bb, training=training, momentum=0.0),
        t64(x, requires_grad=True), t64(w, requires_grad=True), t64(b, requires_grad=True))


@given(size=st.integers(1, 7), seed=st.integers(0, 2**32 - 1))
def test_local_response_norm_gradcheck_and_refusals(size, seed):
    """AlexNet's LRN over any window size (also wider than the channels): finite
    differences agree with its gradient; bad input and sizes are named."""
    rng = np.random.default_rng(seed)
    x = t64(rng.standard_normal((2, 5, 3)), requires_grad=True)
    assert engine.gradcheck(lambda t: F.local_response_norm(t, size, alpha=0.5, k=1.2), x)
    with pytest.raises(ValueError, match="expected 3-D or higher input"):
        F.local_response_norm(engine.randn(2, 5), 3)
    with pytest.raises(ValueError, match="size must be a positive int"):
        nn.LocalResponseNorm(0)(engine.randn(2, 5, 3))


@given(seed=st.integers(0, 2**32 - 1), tau=st.sampled_from([0.3, 1.0, 2.5]),
       dim=st.sampled_from([-1, 0]))
def test_gumbel_softmax_samples_and_straight_through_gradient(seed, tau, dim):
    """softmax((logits + g)/tau) with g ~ Gumbel from the seeded generator; hard=True is the
    one-hot of that sample's argmax forward and the soft sample's gradient backward
    (PyTorch's straight-through estimator); the soft sample's gradient agrees with finite
    differences for fixed noise."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((4, 5))
    w = t64(rng.standard_normal((4, 5)))
    grads, samples = [], []
    for hard in (False, True):
        x = t64(logits, requires_grad=True)
        engine.manual_seed(seed)
        y = F.gumbel_softmax(x, tau=tau, hard=hard, dim=dim)
        (y * w).sum().backward()
        grads.append(x.grad.data)
        samples.append(y.data)
    soft, hard = samples
    engine.manual_seed(seed)
    g = engine.get_rng().gumbel(size=(4, 5))
    np.testing.assert_allclose(soft, F.softmax(t64((logits + g) / tau), dim=dim).data,
                               rtol=1e-12)
    np.testing.assert_array_equal(hard.argmax(dim), soft.argmax(dim))
    np.testing.assert_allclose(hard.sum(dim), 1.0, rtol=1e-12)
    assert set(np.round(hard, 12).ravel()) <= {0.0, 1.0}
    np.testing.assert_array_equal(grads[1], grads[0])
    assert engine.gradcheck(lambda t: F.softmax((t + t64(g)) / tau, dim=dim),
                            t64(logits, requires_grad=True))
    with pytest.raises(ValueError, match="tau must be positive"):
        F.gumbel_softmax(t64(logits), tau=0)


def test_threshold_keeps_nan():
    # F.threshold replaced a NaN by value (x > t is false for NaN), hiding it from anomaly
    # checks; PyTorch replaces where x <= t, so a NaN goes through, with its gradient.
    x = engine.tensor([np.nan, -1.0, 0.5, 2.0], dtype=np.float64, requires_grad=True)
    out = F.threshold(x, 0.5, -7.0)
    np.testing.assert_array_equal(out.data, [np.nan, -7.0, -7.0, 2.0])
    out.backward(engine.ones(4, dtype=np.float64))
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 0.0, 1.0])
    torch = pytest.importorskip("torch")
    t = torch.tensor([np.nan, -1.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    tout = torch.nn.functional.threshold(t, 0.5, -7.0)
    tout.backward(torch.ones(4, dtype=torch.float64))
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_positional_size_average_never_lands_silently_in_a_float_option():
    """PyTorch's ``F.poisson_nll_loss(x, y, log_input, full, size_average, eps, ...)``: our
    5th positional is eps, so ``(x, y, True, False, False)`` (PyTorch: the sum) once gave eps
    = 0 and the mean. Refused now by name; the keyword call gives the hand-derived sum
    (e^0.5 − 2·0.5) + (e^1 − 3·1), and an int eps is still a number, as in PyTorch
    (log_input=False: x − y·log(x + ε))."""
    x, y = t64([[0.5, 1.0]]), t64([[2.0, 3.0]])
    for legacy in (False, True, None):
        with pytest.raises(TypeError, match=r"poisson_nll_loss: eps must be a number, got "
                                            + re.escape(repr(legacy)) + r"\. \(PyTorch's 5th "
                                            r"positional argument is the deprecated "
                                            r"size_average"):
            F.poisson_nll_loss(x, y, True, False, legacy)
    with pytest.raises(TypeError, match="eps must be a number, got False"):
        nn.PoissonNLLLoss(True, False, False)(x, y)
    expected = (np.exp(0.5) - 1.0) + (np.exp(1.0) - 3.0)
    assert F.poisson_nll_loss(x, y, True, False, reduction="sum").item() == pytest.approx(
        expected, rel=1e-14)
    rate = t64([[0.5, 2.0]])
    assert F.poisson_nll_loss(rate, y, False, False, 1).item() == pytest.approx(
        ((0.5 - 2 * np.log(1.5)) + (2.0 - 3 * np.log(3.0))) / 2, rel=1e-14)


def test_cross_entropy_positional_legacy_arguments_are_named_in_the_error():
    """``F.cross_entropy(x, y, None, None, 1, None)`` (PyTorch's size_average, ignore_index,
    reduce in positions 4–6) stopped on a bare "'<=' not supported" TypeError; now the
    refusal names the slot and the way out, whichever slot is hit first."""
    x = t64([[0.5, 1.0, -1.0]])
    with pytest.raises(TypeError, match=r"cross_entropy: ignore_index must be an int, got "
                                        r"None\. \(PyTorch's 4th positional"):
        F.cross_entropy(x, np.array([1]), None, None, 1, None)
    with pytest.raises(TypeError, match=r"cross_entropy: label_smoothing must be a number, "
                                        r"got None\. \(PyTorch's 6th positional argument is "
                                        r"the deprecated reduce"):
        F.cross_entropy(x, np.array([1]), None, -100, "mean", None)
