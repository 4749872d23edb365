"""nn.summary (Keras-style counts) and nn.attacks.fgsm."""
import numpy as np
import pytest

import engine
import nn


def test_summary_table_and_counts():
    model = nn.Sequential(nn.Linear(4, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(),
                          nn.Linear(8, 2))
    s = nn.summary(model, (4,))
    text = str(s)
    assert "1 (BatchNorm1d)" in text and "(None, 8)" in text and "(None, 2)" in text
    assert [r[3] for r in s.rows] == [32, 32, 0, 18]  # BN: γ, β and the two moving stats
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (82, 66, 16)
    model[0].freeze()
    assert nn.summary(model, (4,)).trainable_params == 34
    assert model.training  # summary restores the mode


def test_summary_of_the_course_cnn():
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(288, 10))
    s = nn.summary(model, (1, 28, 28))
    assert s.rows[-1][2] == "(None, 10)" and s.rows[-3][2] == "(None, 32, 3, 3)"
    assert s.total_params == 160 + 4640 + 9248 + 2890


def test_fgsm_moves_each_pixel_by_epsilon_in_the_gradient_sign():
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (5, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1])
    before = [p.grad for p in model.parameters()]
    adv = nn.attacks.fgsm(model, x, labels, 0.1)
    np.testing.assert_allclose(np.abs(adv.data - x), 0.1, rtol=1e-5)
    # Direction: the loss goes up.
    loss = lambda z: nn.F.cross_entropy(model(engine.tensor(z)), labels).item()  # noqa: E731
    assert loss(adv.data) > loss(x)
    assert [p.grad for p in model.parameters()] == before
    clipped = nn.attacks.fgsm(model, x, labels, 1.0, clip=(-0.6, 0.6))
    assert np.abs(clipped.data).max() <= 0.6


def test_fgsm_matches_a_hand_computed_gradient_sign():
    model = nn.Linear(2, 2)
    with engine.no_grad():
        model.weight.copy_(np.array([[1.0, -2.0], [0.5, 0.5]]))
        model.bias.zero_()
    x = np.array([[0.3, 0.1]], np.float32)
    # d CE/dx = Wᵀ (softmax(Wx) − onehot(0)); softmax(Wx) = softmax([0.1, 0.2]).
    p = np.exp([0.1, 0.2]) / np.exp([0.1, 0.2]).sum()
    grad = np.array([[1.0, 0.5], [-2.0, 0.5]]) @ (p - [1, 0])
    adv = nn.attacks.fgsm(model, x, [0], 0.05)
    np.testing.assert_allclose(adv.data, x + 0.05 * np.sign(grad), rtol=1e-6)
    with pytest.raises(ValueError):
        nn.attacks.fgsm(model, x, [7], 0.05)
