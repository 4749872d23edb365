"""Losses, penalties and metrics: the course's reference figures, stability, gradients, errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
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


def test_bce_clips_like_keras():
    loss = F.binary_cross_entropy(t64([0.0, 1.0]), [1.0, 0.0], reduction="none")
    np.testing.assert_allclose(loss.data, -np.log(1e-7), rtol=1e-6)


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
