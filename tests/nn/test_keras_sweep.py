"""Keras tutorial code run as a student types it, against real Keras 3 (torch backend).

Expected values: literals printed by Keras 3.15.1 (KERAS_BACKEND=torch, torch 2.13.0) from
the snippet quoted above each test, and an independent numpy reference (plain gradient
descent on a linear model, written out by hand). Keras itself is not needed to run them.
"""
import numpy as np
import pytest

import engine
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


# Keras:
#   log = []
#   class Log(keras.callbacks.Callback):
#       def on_train_batch_end(self, batch, logs=None):
#           log.append(("train", batch, logs["loss"], logs["mae"]))
#       def on_test_batch_end(self, batch, logs=None):
#           log.append(("test", batch, logs["loss"], logs["mae"]))
#       def on_test_begin(self, logs=None): log.append(("test_begin",))
#       def on_test_end(self, logs=None): log.append(("test_end", logs["loss"]))
#   m = model_()
#   h = m.fit(x[:6], y[:6], batch_size=4, epochs=1, shuffle=False, verbose=0,
#             validation_data=(x[6:], y[6:]), callbacks=[Log()])
#   m.evaluate(x, y, batch_size=3, verbose=0, callbacks=[Log()])
KERAS_LOG = [("train", 0, 0.18539997935295105, 0.35999998450279236),
             ("train", 1, 0.4988618791103363, 0.5904399752616882),
             ("test_begin",),
             ("test", 0, 0.7601972222328186, 0.8658236265182495),
             ("test_end", 0.7601972222328186),
             ("test_begin",),
             ("test", 0, 0.09773752093315125, 0.263842910528183),
             ("test", 1, 0.12500232458114624, 0.30809086561203003),
             ("test", 2, 0.28380104899406433, 0.4475240707397461),
             ("test_end", 0.28380104899406433)]


def test_keras_batch_and_test_hooks_run_with_keras_logs():
    # on_train_batch_end and the test hooks were never called (fit called on_batch_* only),
    # and evaluate(callbacks=...) was refused.
    log = []

    class Log(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            log.append(("train", batch, logs["loss"], logs["mae"]))

        def on_test_batch_end(self, batch, logs=None):
            log.append(("test", batch, logs["loss"], logs["mae"]))

        def on_test_begin(self, logs=None): log.append(("test_begin",))
        def on_test_end(self, logs=None): log.append(("test_end", logs["loss"]))

    m = linear_model()
    m.fit(X[:6], Y[:6], batch_size=4, epochs=1, shuffle=False, verbose=0,
          validation_data=(X[6:], Y[6:]), callbacks=[Log()])
    m.evaluate(X, Y, batch_size=3, verbose=0, callbacks=[Log()])
    assert [e[0] for e in log] == [e[0] for e in KERAS_LOG]
    for got, want in zip(log, KERAS_LOG, strict=True):  # batch index, loss, mae
        np.testing.assert_allclose(got[1:], want[1:], rtol=1e-5)
    # by hand: a batch's logs are the sample-weighted means over the epoch so far
    w, b = W0.astype(np.float64), B0.astype(np.float64)
    w, b, l0, a0 = gd_step(w, b, X[:4], Y[:4], 0.1)
    w, b, l1, a1 = gd_step(w, b, X[4:6], Y[4:6], 0.1)
    np.testing.assert_allclose([log[0][2], log[1][2]], [l0, (4 * l0 + 2 * l1) / 6], rtol=1e-5)
    np.testing.assert_allclose([log[0][3], log[1][3]], [a0, (4 * a0 + 2 * a1) / 6], rtol=1e-5)


def test_on_batch_end_keeps_each_batch_own_loss():
    # stepgrad's on_batch_end (learning-rate finders plot it) still gets each batch's value
    seen = []

    class Batch(keras.callbacks.Callback):
        def on_batch_end(self, batch, logs=None): seen.append(logs["loss"])

    m = linear_model()
    m.fit(X[:6], Y[:6], batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[Batch()])
    w, b, l0, _ = gd_step(W0.astype(np.float64), B0.astype(np.float64), X[:4], Y[:4], 0.1)
    l1 = gd_step(w, b, X[4:6], Y[4:6], 0.1)[2]
    np.testing.assert_allclose(seen, [l0, l1], rtol=1e-5)


# Keras ("The Sequential model" guide):
#   model = keras.Sequential([layers.Dense(2, activation="relu"),
#                             layers.Dense(3, activation="relu"), layers.Dense(4)])
#   model.build((None, 4))
#   len(model.weights), [w.shape for w in model.get_weights()], model.count_params()
#   → 6 [(4, 2), (2,), (2, 3), (3,), (3, 4), (4,)] 35; summary(): "Total params: 35"
def test_sequential_build_creates_the_weights(capsys):
    # model.build was an AttributeError
    layers = keras.layers
    model = keras.Sequential([layers.Dense(2, activation="relu"),
                              layers.Dense(3, activation="relu"), layers.Dense(4)])
    model.build((None, 4))
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(4, 2), (2,), (2, 3), (3,), (3, 4), (4,)]
    assert model.count_params() == 35 == (4 * 2 + 2) + (2 * 3 + 3) + (3 * 4 + 4)
    model.summary()
    assert "Total params: 35" in capsys.readouterr().out
    assert model.input_shape == (None, 4) and model.output_shape == (None, 4)


def test_build_after_compile_binds_the_optimizer_and_refuses_bad_shapes():
    model = keras.Sequential([keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    model.build((32, 5))  # a fixed batch size is fine
    assert hasattr(model.optimizer, "param_groups") and model.optimizer.learning_rate == 0.01
    for bad in ((4,), (None, None), 4, (None, 0)):
        with pytest.raises(ValueError, match=r"Sequential.build: input_shape must be"):
            keras.Sequential([keras.layers.Dense(3)]).build(bad)


# Keras ("Timeseries classification from scratch": Conv1D then BatchNormalization):
#   x = np.arange(24, dtype="float32").reshape(2, 4, 3) ** 1.5 / 10
#   bn = keras.layers.BatchNormalization()
#   y = bn(x, training=True); bn.get_weights()
KERAS_BN_Y_FIRST_ROW = [[-1.22855, -1.271499, -1.300694], [-1.068536, -1.066904, -1.067523]]
KERAS_BN_Y_LAST = [1.734952, 1.715275, 1.699844]
KERAS_BN_MOVING_MEAN = [0.03989483788609505, 0.044502925127744675, 0.04941773787140846]
KERAS_BN_MOVING_VAR = [1.095440149307251, 1.1070489883422852, 1.1182887554168701]


def test_batch_normalization_on_sequences_is_per_channel():
    # (N, T, C) input (a Conv1D's output) was refused ("expected (N, F) or (N, C, H, W)")
    x = np.arange(24, dtype="float32").reshape(2, 4, 3) ** 1.5 / 10
    bn = keras.layers.BatchNormalization()
    bn.train()
    y = bn(engine.tensor(x)).detach().numpy()
    mean, var = x.mean((0, 1)), x.var((0, 1))  # by hand: per channel over N and T, ÷ n
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y[0, :2], KERAS_BN_Y_FIRST_ROW, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y[1, 3], KERAS_BN_Y_LAST, rtol=1e-5, atol=1e-6)
    gamma, beta, moving_mean, moving_var = bn.get_weights()
    np.testing.assert_allclose(moving_mean, 0.01 * mean, rtol=1e-5)
    np.testing.assert_allclose(moving_var, 0.99 + 0.01 * var, rtol=1e-5)
    np.testing.assert_allclose(moving_mean, KERAS_BN_MOVING_MEAN, rtol=1e-5)
    np.testing.assert_allclose(moving_var, KERAS_BN_MOVING_VAR, rtol=1e-5)
    bn.eval()  # inference: the moving statistics, per channel
    y = bn(engine.tensor(x)).detach().numpy()
    np.testing.assert_allclose(y, (x - moving_mean) / np.sqrt(moving_var + 1e-3), rtol=1e-5)


# Keras (the Functional API and "Training & evaluation" guides' model, one layer unnamed):
#   inputs = keras.Input(shape=(784,), name="digits")
#   x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
#   x = layers.Dense(64, activation="relu", name="dense_2")(x)
#   x = layers.Dense(64, activation="relu")(x)
#   outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
#   model = keras.Model(inputs=inputs, outputs=outputs)
#   [layer.name for layer in model.layers], model.summary()
#   → ['digits', 'dense_1', 'dense_2', 'dense', 'predictions'];
#     rows "dense_1 (Dense) (None, 64) 50,240", ..., "predictions (Dense) (None, 10) 650"
def test_layer_name_keyword_names_the_functional_layers(capsys):
    # Dense(..., name="predictions") was a TypeError (unexpected keyword argument 'name')
    layers = keras.layers
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    assert [n for n, _ in model.named_children()] == ["dense_1", "dense_2", "dense",
                                                      "predictions"]
    assert model.get_layer("predictions") is model.layers[-1]
    model.summary()
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["predictions", "(Dense)", "(None,", "10)", "650"] in rows
    assert ["dense_1", "(Dense)", "(None,", "64)", "50,240"] in rows  # 784·64 + 64
    assert model.model_name == "functional"


def test_layer_name_keyword_elsewhere():
    layers = keras.layers
    seq = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(3, name="hidden"),
                            layers.Dropout(0.5, name="drop"), layers.Flatten(name="flat"),
                            layers.Dense(1)])
    assert seq.get_layer("hidden") is seq[1] and seq.get_layer("drop") is seq[2]
    assert seq.get_layer("3") is seq[3]  # the registered names still work
    assert layers.LSTM(2, name="enc").keras_name == "enc"
    assert layers.Conv2D(2, 3, name="c").keras_name == "c"
    a = keras.Input(shape=(2,))
    with pytest.raises(ValueError, match=r"Model: the layer name 'd' is used more than once"):
        keras.Model(a, layers.Dense(1, name="d")(layers.Dense(2, name="d")(a)))
    with pytest.raises(ValueError, match=r"Dense: name must be a non-empty string"):
        layers.Dense(2, name="a.b")


# Keras ("The Sequential model" guide):
#   model = keras.Sequential([layers.Dense(2, activation="relu", input_shape=(4,))],
#                            name="my_sequential")
#   model.summary()  → first line: Model: "my_sequential"
def test_sequential_name_titles_the_summary_and_is_saved(tmp_path, capsys):
    # keras.Sequential([...], name=...) was a TypeError
    model = keras.Sequential([keras.layers.Dense(2, activation="relu", input_shape=(4,))],
                             name="my_sequential")
    model.summary()
    assert capsys.readouterr().out.splitlines()[0] == 'Model: "my_sequential"'
    model.save(tmp_path / "m.keras")
    assert nn.load_model(tmp_path / "m.keras").model_name == "my_sequential"
    with pytest.raises(ValueError, match=r"Sequential: name must be a non-empty string"):
        keras.Sequential([], name="")


# Keras ("Training & evaluation with the built-in methods": a custom Loss subclass):
#   class CustomMSE(keras.losses.Loss):
#       def __init__(self, regularization_factor=0.1, name="custom_mse"):
#           super().__init__(name=name)
#           self.regularization_factor = regularization_factor
#       def call(self, y_true, y_pred):
#           mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
#           reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
#           return mse + reg * self.regularization_factor
#   m = model_(); m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
#                           loss=CustomMSE())
#   h = m.fit(x, y.reshape(-1, 1), batch_size=4, epochs=2, shuffle=False, verbose=0)
#   h.history["loss"], m.evaluate(x, y.reshape(-1, 1), verbose=0)
# With y of shape (8,) instead, Keras's call() gets y_true (4,) and y_pred (4, 1) and
# y_true - y_pred broadcasts to (4, 4): history [1.0375, 0.2817], a different loss.
KERAS_CUSTOM_LOSSES = [1.052408218383789, 0.24610719084739685]
KERAS_CUSTOM_EVAL = 0.1955152451992035


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ((y_true - y_pred) ** 2).mean(axis=-1)
        reg = ((0.5 - y_pred) ** 2).mean(axis=-1)
        return mse + reg * self.regularization_factor


def test_loss_subclass_with_call_trains_as_keras():
    # a Loss subclass defining call() raised a bare NotImplementedError in fit
    m = linear_model()
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=CustomMSE())
    h = m.fit(X, Y.reshape(-1, 1), batch_size=4, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(h.history["loss"], KERAS_CUSTOM_LOSSES, rtol=1e-5)
    np.testing.assert_allclose(m.evaluate(X, Y.reshape(-1, 1), verbose=0), KERAS_CUSTOM_EVAL,
                               rtol=1e-5)
    # by hand: per sample r² + 0.1·(0.5 − p)², p = x·w + b; SGD on batches of 4
    w, b, losses = W0.astype(np.float64).ravel(), float(B0[0]), []
    for _ in range(2):
        seen = []
        for i in (0, 4):
            xb, yb = X[i:i + 4], Y[i:i + 4]
            p = xb @ w + b
            seen.append(np.mean((p - yb) ** 2 + 0.1 * (0.5 - p) ** 2))
            g = (2 * (p - yb) + 0.2 * (p - 0.5)) / 4
            w, b = w - 0.1 * xb.T @ g, b - 0.1 * g.sum()
        losses.append(np.mean(seen))
    np.testing.assert_allclose(h.history["loss"], losses, rtol=1e-5)


def test_loss_subclass_call_refuses_targets_of_another_rank():
    # Keras broadcasts y_true (N,) against y_pred (N, 1) in call(): a loss over (N, N) pairs
    # (1.0375 above); stepgrad's alignment would silently give another number than Keras
    m = linear_model()
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=CustomMSE())
    with pytest.raises(ValueError, match=r"CustomMSE.call: y_true has shape \(4,\) and y_pred "
                                         r"\(4, 1\).*y.reshape\(-1, 1\)"):
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match=r"CustomMSE.call: y_true has shape \(8,\)"):
        CustomMSE()(Y, np.zeros((8, 1), np.float32))
    # equal ranks: the reduction of call's values, Keras's mean
    value = CustomMSE()(Y.reshape(-1, 1), np.zeros((8, 1), np.float32)).item()
    np.testing.assert_allclose(value, np.mean(Y ** 2 + 0.1 * 0.25), rtol=1e-6)


def test_loss_subclass_without_call_says_what_to_define():
    class Empty(keras.losses.Loss):
        pass

    with pytest.raises(NotImplementedError, match=r"Empty: a Loss subclass must define call"):
        Empty()(np.zeros((2, 1)), np.zeros((2, 1)))


def test_keras_ops_custom_losses_as_the_guide_writes_them():
    # `from keras import ops` had no stepgrad counterpart (nn.keras.ops was an AttributeError)
    from nn.keras import ops

    class GuideMSE(keras.losses.Loss):  # the guide's CustomMSE, verbatim
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
            reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    m = linear_model()
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=GuideMSE())
    h = m.fit(X, Y.reshape(-1, 1), batch_size=4, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(h.history["loss"], KERAS_CUSTOM_LOSSES, rtol=1e-5)

    def custom_mean_squared_error(y_true, y_pred):  # the guide's function form
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    m = linear_model()
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
              loss=custom_mean_squared_error)
    h = m.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(h.history["loss"], [KERAS_LOSSES[0]], rtol=1e-5)  # = mse


# Keras: x = np.array([[1.0, 2.0, 4.0], [0.5, -3.0, 2.0]], "float32")
#   ops.std(x, axis=-1), ops.var(x), ops.max(x, axis=1), ops.transpose(x),
#   ops.clip(x, 0.0, 1.5), ops.logsumexp(x, axis=0)
def test_keras_ops_keep_keras_meanings():
    from nn.keras import ops
    x = np.array([[1.0, 2.0, 4.0], [0.5, -3.0, 2.0]], "float32")
    checks = [(ops.std(x, axis=-1), [1.2472190856933594, 2.0949676036834717], x.std(-1)),
              (ops.var(x), 4.534722328186035, x.var()),  # ÷ n, not PyTorch's n − 1
              (ops.max(x, axis=1), [4.0, 2.0], x.max(1)),  # values, not (values, indices)
              (ops.transpose(x), [[1.0, 0.5], [2.0, -3.0], [4.0, 2.0]], x.T),
              (ops.clip(x, 0.0, 1.5), [[1.0, 1.5, 1.5], [0.5, 0.0, 1.5]], x.clip(0, 1.5)),
              (ops.logsumexp(x, axis=0), [1.4740769863128662, 2.0067152976989746,
                                          4.126927852630615], np.log(np.exp(x).sum(0)))]
    for got, keras_value, numpy_value in checks:
        np.testing.assert_allclose(got.numpy(), keras_value, rtol=1e-6)
        np.testing.assert_allclose(got.numpy(), numpy_value, rtol=1e-6)
    with pytest.raises(AttributeError, match=r"keras.ops.digamma is not in stepgrad"):
        _ = ops.digamma


# Keras ("Training & evaluation": custom loss and metric functions, per-sample values):
#   def custom_mean_squared_error(y_true, y_pred):
#       return ops.mean(ops.square(y_true - y_pred), axis=-1)
#   def max_abs_error(y_true, y_pred):
#       return ops.max(ops.abs(y_true - y_pred), axis=-1)
#   m = model_(); m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
#                           loss=custom_mean_squared_error, metrics=[max_abs_error])
#   sw = np.linspace(0.5, 2.0, 8).astype("float32")
#   h = m.fit(x, y.reshape(-1, 1), batch_size=4, epochs=2, shuffle=False, verbose=0,
#             sample_weight=sw)
# With y (8,) instead, Keras aligns the loss's targets but not the metric's: max_abs_error
# gets y_true (4,) and y_pred (4, 1), and broadcasts (history [1.0978, 0.7560]).
KERAS_FN_HISTORY = {"loss": [1.7595630884170532, 0.22678691148757935],
                    "max_abs_error": [0.8428156971931458, 0.45595091581344604]}


def custom_mean_squared_error(y_true, y_pred):
    from nn.keras import ops
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def max_abs_error(y_true, y_pred):
    from nn.keras import ops
    return ops.max(ops.abs(y_true - y_pred), axis=-1)


def test_loss_and_metric_functions_returning_per_sample_values():
    # a loss function returning (N,) was refused ("expected a scalar"), a metric too
    m = linear_model()
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
              loss=custom_mean_squared_error, metrics=[max_abs_error])
    sw = np.linspace(0.5, 2.0, 8).astype("float32")
    h = m.fit(X, Y.reshape(-1, 1), batch_size=4, epochs=2, shuffle=False, verbose=0,
              sample_weight=sw)
    for key, values in KERAS_FN_HISTORY.items():
        np.testing.assert_allclose(h.history[key], values, rtol=1e-5)
    # by hand: Keras's weighted loss Σ w·r² / n per batch; the metric unweighted, mean |r|
    w, b, losses, maxes = W0.astype(np.float64).ravel(), float(B0[0]), [], []
    for _ in range(2):
        seen, top = [], []
        for i in (0, 4):
            xb, yb, wb = X[i:i + 4], Y[i:i + 4], sw[i:i + 4]
            r = xb @ w + b - yb
            seen.append(np.mean(wb * r ** 2))
            top.append(np.mean(np.abs(r)))
            g = 2 * wb * r / 4
            w, b = w - 0.1 * xb.T @ g, b - 0.1 * g.sum()
        losses.append(np.mean(seen))
        maxes.append(np.mean(top))
    np.testing.assert_allclose(h.history["loss"], losses, rtol=1e-5)
    np.testing.assert_allclose(h.history["max_abs_error"], maxes, rtol=1e-5)


def test_metric_function_refuses_targets_keras_would_broadcast():
    # y (N,) for a (N, 1) output: Keras's metric function broadcasts y_true - y_pred to
    # (N, N) (1.0978 above); stepgrad aligned the targets: another number, no error
    m = linear_model()
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
              loss=custom_mean_squared_error, metrics=[max_abs_error])
    with pytest.raises(ValueError, match=r"metric 'max_abs_error': y_true has shape \(4,\) "
                                         r"and y_pred \(4, 1\).*y.reshape\(-1, 1\)"):
        m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    # the loss function alone takes y (N,): Keras aligns a loss function's targets
    m = linear_model()
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
              loss=custom_mean_squared_error, metrics=["mae"])
    h = m.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0,
              sample_weight=np.linspace(0.5, 2.0, 8).astype("float32"))
    np.testing.assert_allclose(h.history["loss"], KERAS_FN_HISTORY["loss"], rtol=1e-5)
    # labels (N,) against class scores (N, C) pass as they are, as in Keras
    seq = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3, activation="softmax")])

    def label_hits(y_true, y_pred):
        return (y_pred.argmax(axis=-1) == y_true).astype(np.float32)
    seq.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=[label_hits])
    seq.set_weights([np.eye(2, 3, dtype=np.float32), np.zeros(3, np.float32)])
    ev = seq.evaluate(X, np.array([1, 1, 1, 1, 0, 0, 0, 0]), verbose=0)
    np.testing.assert_allclose(ev[1], 0.5)  # argmax is column 1 for every row of X


# Keras ("Structured data classification from scratch": a Normalization layer adapted on
# the training data):
#   x = (np.arange(24, dtype="float32").reshape(8, 3) ** 1.3) * np.array([1, 10, 0.1],
#                                                                           "float32") + 5
#   norm = keras.layers.Normalization(); norm.adapt(x)
#   norm.get_weights(), norm(x[:2])
#   keras.layers.Normalization(mean=3.0, variance=4.0, invert=True)([[1.0, 2.0]])
#   model = keras.Sequential([keras.Input(shape=(3,)), norm, keras.layers.Dense(1)])
#   model.count_params()                       → 11 (summary: normalization 7, dense 4)
KERAS_NORM_MEAN = [28.264556884765625, 262.4442138671875, 7.834982872009277]
KERAS_NORM_VAR = [306.6379699707031, 32932.17578125, 3.495774984359741]
KERAS_NORM_Y = [[-1.3285619020462036, -1.3635375499725342, -1.3845832347869873],
                [-1.090360403060913, -1.084549069404602, -1.082877278327942]]


def test_normalization_adapt_as_keras(tmp_path):
    # keras.layers.Normalization was an AttributeError
    x = (np.arange(24, dtype="float32").reshape(8, 3) ** 1.3) * np.array([1, 10, 0.1],
                                                                           "float32") + 5
    norm = keras.layers.Normalization()
    norm.adapt(x)
    mean, var, count = norm.get_weights()
    np.testing.assert_allclose(mean, KERAS_NORM_MEAN, rtol=1e-6)
    np.testing.assert_allclose(var, KERAS_NORM_VAR, rtol=1e-6)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(0), rtol=1e-6)
    np.testing.assert_allclose(var, x.astype(np.float64).var(0), rtol=1e-6)  # ÷ n
    assert count == 0
    y = norm(engine.tensor(x[:2])).numpy()
    np.testing.assert_allclose(y, KERAS_NORM_Y, rtol=1e-5)
    np.testing.assert_allclose(y, (x[:2] - x.mean(0)) / x.std(0), rtol=1e-5)
    inv = keras.layers.Normalization(mean=3.0, variance=4.0, invert=True)
    np.testing.assert_allclose(inv(engine.tensor([[1.0, 2.0]])).numpy(), [[5.0, 7.0]])
    assert inv.get_weights() == []  # given statistics are constants, as Keras's
    model = keras.Sequential([keras.Input(shape=(3,)), norm, keras.layers.Dense(1)])
    assert model.count_params() == 11 == 3 + 3 + 1 + 4
    model.save(tmp_path / "norm.keras")  # the adapted statistics are saved and loaded
    np.testing.assert_array_equal(nn.load_model(tmp_path / "norm.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    # adapted on sequences (N, T, C): per feature over N and T
    n3 = keras.layers.Normalization()
    n3.adapt(x.reshape(2, 4, 3))
    np.testing.assert_allclose(n3.get_weights()[0], KERAS_NORM_MEAN, rtol=1e-6)
    with pytest.raises(ValueError, match=r"Normalization: only axis=-1"):
        keras.layers.Normalization(axis=1)
    with pytest.raises(ValueError, match=r"Normalization.adapt: 2 features, the layer has 3"):
        norm.adapt(np.zeros((4, 2)))


# Keras (the top-5 accuracy of keras.io's image classification examples):
#   p = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]], "float32")
#   y = np.array([2, 0, 2])
#   keras.metrics.SparseTopKCategoricalAccuracy(k=2)(y, p)                  → 0.6666666865
#   keras.metrics.TopKCategoricalAccuracy(k=1)(to_categorical(y, 3), p)     → 0.0
#   m = Sequential([Input(shape=(2,)), Dense(6, activation="softmax")]); m.set_weights(W6)
#   m.compile(optimizer=SGD(learning_rate=0.5), loss="sparse_categorical_crossentropy",
#             metrics=["sparse_top_k_categorical_accuracy",
#                      keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
#   m.fit(x, labels, batch_size=4, epochs=2, shuffle=False, verbose=0).history
KERAS_TOPK_HISTORY = {"loss": [1.8754491806030273, 1.8082013130187988],
                      "sparse_top_k_categorical_accuracy": [0.75, 0.75], "top2": [0.25, 0.375]}


def test_top_k_accuracy_metrics():
    # 'sparse_top_k_categorical_accuracy' and the TopK classes were unknown metrics
    metrics = keras.metrics
    p = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]], "float32")
    y = np.array([2, 0, 2])
    # by hand: row 1's label scores 0.4 ≥ the 2nd largest 0.4; row 2's 0.3 ties the 2nd
    # largest 0.3 (a tie counts as in); row 3's 0.1 < 0.3
    assert float(metrics.SparseTopKCategoricalAccuracy(k=2)(y, p)) == pytest.approx(2 / 3)
    assert float(metrics.TopKCategoricalAccuracy(k=1)(keras.utils.to_categorical(y, 3),
                                                       p)) == 0.0
    m = keras.Sequential([keras.Input(shape=(2,)),
                          keras.layers.Dense(6, activation="softmax")])
    m.set_weights([np.array([[0.3, -0.2, 0.5, 0.1, -0.4, 0.2],
                             [0.2, 0.1, -0.3, 0.4, 0.3, -0.1]], "float32"),
                   np.zeros(6, "float32")])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5),
              loss="sparse_categorical_crossentropy",
              metrics=["sparse_top_k_categorical_accuracy",
                       metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    h = m.fit(X, np.array([0, 1, 2, 3, 4, 5, 0, 1]), batch_size=4, epochs=2, shuffle=False,
              verbose=0)
    for key, values in KERAS_TOPK_HISTORY.items():
        np.testing.assert_allclose(h.history[key], values, rtol=1e-5)
    with pytest.raises(ValueError, match=r"top_k_categorical_accuracy: k=5 is more than the 3"):
        metrics.SparseTopKCategoricalAccuracy()(y, p)
