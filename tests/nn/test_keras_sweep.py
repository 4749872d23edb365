"""Keras tutorial code run as a student types it, against real Keras 3 (torch backend).

Expected values: literals printed by Keras 3.15.1 (KERAS_BACKEND=torch, torch 2.13.0) from
the snippet quoted above each test, and an independent numpy reference (plain gradient
descent on a linear model, written out by hand). Keras itself is not needed to run them.
"""
import numpy as np
import pytest

import nn
from nn import keras

X = np.arange(16, dtype="float32").reshape(8, 2) / 10
Y = (X @ np.array([1.0, -2.0]) + 0.5).astype("float32")
W0, B0 = np.array([[0.3], [0.2]], "float32"), np.array([0.1], "float32")


def linear_model():
    """Dense(1) on 2 features with fixed weights, SGD(0.1), mse + mae (the Keras snippets'
    ``model_()``)."""
    m = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    m.set_weights([W0, B0])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    return m


def gd_step(w, b, x, y, lr):
    """One SGD step of mse on y ≈ x·w + b, by hand: returns (w, b, loss, mae) with the loss
    and mae before the step. d(mean r²)/dw = 2·xᵀr/n, d/db = 2·mean(r)."""
    r = (x @ w).ravel() + b[0] - y
    loss, mae = np.mean(r ** 2), np.mean(np.abs(r))
    return w - lr * 2 * x.T @ r[:, None] / len(x), b - lr * 2 * r.mean(keepdims=True), loss, mae


# Keras (the "Writing your own callbacks" guide's CustomLearningRateScheduler, cut down):
#   class SetLR(keras.callbacks.Callback):
#       def on_epoch_begin(self, epoch, logs=None):
#           lr = self.model.optimizer.learning_rate
#           self.model.optimizer.learning_rate = 0.5 if epoch == 1 else float(np.array(lr))
#   m = model_()
#   h = m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[SetLR()])
#   h.history["loss"], [w.ravel().tolist() for w in m.get_weights()]
KERAS_LOSSES = [1.2294000387191772, 0.42406928539276123, 0.6533474326133728]
KERAS_WEIGHTS = [[0.15570440888404846, 0.07862722873687744], [0.32922935485839844]]


def test_optimizer_learning_rate_set_in_a_callback_is_used():
    # model.optimizer.learning_rate = ... made a new attribute no step read: the lr silently
    # stayed 0.1 (losses 1.229, 0.758, 0.497 instead of Keras's).
    class SetLR(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            lr = self.model.optimizer.learning_rate
            self.model.optimizer.learning_rate = 0.5 if epoch == 1 else float(np.array(lr))

    m = linear_model()
    h = m.fit(X, Y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[SetLR()])
    w, b, losses = W0.astype(np.float64), B0.astype(np.float64), []
    for lr in (0.1, 0.5, 0.5):
        w, b, loss, _ = gd_step(w, b, X, Y, lr)
        losses.append(loss)
    np.testing.assert_allclose(h.history["loss"], losses, rtol=1e-5)
    np.testing.assert_allclose(h.history["loss"], KERAS_LOSSES, rtol=1e-5)
    got = m.get_weights()
    np.testing.assert_allclose(got[0].ravel(), KERAS_WEIGHTS[0], rtol=1e-5)
    np.testing.assert_allclose(got[1], KERAS_WEIGHTS[1], rtol=1e-5)
    np.testing.assert_allclose(got[0], w, rtol=1e-5)
    assert m.optimizer.learning_rate == 0.5 == m.optimizer.param_groups[0]["lr"]


def test_optimizer_learning_rate_refuses_bad_values_and_mixed_groups():
    p, q = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(2))
    opt = nn.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.2}], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD.learning_rate: .*different learning rates"):
        _ = opt.learning_rate
    opt.learning_rate = np.float32(0.25)  # sets every group
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.25]
    with pytest.raises(ValueError, match=r"SGD.learning_rate: invalid learning rate"):
        opt.learning_rate = -1.0
