"""Keras's API on stepgrad: the course's Keras listings run with only their import lines (and
data) changed; Model methods, Keras layers and parameter counts, get/set_weights in Keras's
layouts (checked against Keras's equations written here in numpy), whole-model save/load."""
import math
import os

import numpy as np
import pytest

import engine
import nn


def blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 20))
    y = (x[:, :3].sum(axis=1) + 0.5 * rng.normal(size=n) > 0).astype(np.float64)
    return x, y


# ------------------------------------------------------------------ course 003: road map
def run_keras(X_train, X_test, y_train, y_test):
    """Course 003, "roteiro keras", as printed; only the three import lines changed
    (``from keras ...`` → ``from nn.keras ...``)."""

    from sklearn.metrics import log_loss  # the listing's notebook imports it earlier

    from nn.keras import Sequential
    from nn.keras.layers import Dense
    from nn.keras.optimizers import SGD

    model = Sequential()
    model.add(Dense(10, activation='sigmoid', input_dim = X_train.shape[1]))  # noqa: E251
    model.add(Dense(5, activation='sigmoid'))
    model.add(Dense(1, activation='sigmoid'))
    sgd = SGD(lr = 0.5)  # noqa: E251
    model.compile(optimizer = sgd,  # noqa: E251
                  loss='binary_crossentropy',
                  metrics=['accuracy'])

    model.fit(x = X_train, y = y_train, epochs = 1000, batch_size = len(X_train),  # noqa: E251
              validation_data = (X_test, y_test), verbose = 0)  # noqa: E251

    y_pred_kr = model.predict(X_test)

    print('Log loss - Keras:', log_loss(y_test, y_pred_kr))

    return model


def test_course_003_keras_road_map(capsys):
    pytest.importorskip("sklearn")
    from sklearn.metrics import log_loss
    x, y = blobs(200)
    X_train, X_test, y_train, y_test = x[:150], x[150:], y[:150], y[150:]
    engine.manual_seed(0)
    model = run_keras(X_train, X_test, y_train, y_test)
    printed = capsys.readouterr().out  # predict's progress bar is on stdout too, as Keras's
    (line,) = [line for line in printed.splitlines() if line.startswith("Log loss - Keras: ")]
    logloss = float(line.split(":")[1])
    # sklearn's log loss of the predictions = the model's binary cross-entropy (evaluate)
    loss, acc = model.evaluate(X_test, y_test, verbose=0)
    assert logloss == pytest.approx(loss, rel=1e-4) and acc > 0.75
    assert model.history.history["loss"][-1] < 0.05  # 150 samples, 271 parameters: fitted
    assert logloss == pytest.approx(log_loss(y_test, model.predict(X_test, verbose=0)))
    # 1000 full-batch epochs: 1000 SGD steps of lr 0.5 (Keras's SGD(lr=0.5))
    assert model.optimizer.param_groups[0]["lr"] == 0.5
    assert model.history.epoch == list(range(1000)) and model.history.params["steps"] == 1
    model.summary()
    table = capsys.readouterr().out
    rows = [line.split() for line in table.splitlines() if "(Dense)" in line]
    assert [r[-1] for r in rows] == ["210", "55", "6"]  # the course's summary
    assert [" ".join(r[2:4]) for r in rows] == ["(None, 10)", "(None, 5)", "(None, 1)"]
    assert "Total params: 271" in table and "Trainable params: 271" in table


# ------------------------------------------------------------------ course 001: exercise 7
def boston():
    (x_train, y_train), (x_test, y_test) = nn.datasets.boston_housing()
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


def schedule(epoch, lr):
    return lr if epoch < 10 else np.round(lr * np.exp(-0.05), 4)


def test_boston_exercise_7_keras_way_equals_nn_fit_bit_for_bit():
    from nn.keras.callbacks import LearningRateScheduler
    from nn.keras.layers import Dense
    from nn.keras.optimizers import Adam
    x_train, y_train, x_test, y_test = boston()
    epochs = 50

    engine.manual_seed(1)
    model = nn.Sequential([Dense(16, "relu"), Dense(8, "relu"), Dense(1)])
    model.compile(optimizer=Adam(0.02), loss="mse", metrics=["mae"])
    keras_way = model.fit(x_train, y_train, epochs=epochs, verbose=0,
                          callbacks=[LearningRateScheduler(schedule)],
                          validation_data=(x_test, y_test))

    for how in ("callback", "scheduler"):  # the nn.fit versions (notebook 06's, with the
        engine.manual_seed(1)              # Keras rule that Adam(0.02) builds)
        ref = nn.Sequential(nn.Linear(13, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(),
                            nn.Linear(8, 1))
        opt = nn.keras.optimizers.KerasAdam(ref.parameters(), lr=0.02)
        extra = (dict(callbacks=[nn.LearningRateScheduler(schedule)]) if how == "callback"
                 else dict(scheduler=nn.optim.LambdaLR(opt, schedule)))
        fit_way = nn.fit(ref, x_train, y_train, loss="mse", metrics=["mae"], optimizer=opt,
                         epochs=epochs, batch_size=32, validation_data=(x_test, y_test),
                         verbose=0, **extra)
        assert keras_way.history == fit_way.history  # every float, bit for bit
        assert keras_way.epoch == fit_way.epoch
        for a, b in zip(model.parameters(), ref.parameters(), strict=True):
            np.testing.assert_array_equal(a.data, b.data)
    assert set(keras_way.history) == {"loss", "mae", "val_loss", "val_mae", "lr",
                                      "learning_rate"}
    assert keras_way.history["lr"][10:14] == pytest.approx([0.019, 0.0181, 0.0172, 0.0164])
    assert keras_way.history["val_loss"][-1] < 40  # the course: ≈ 23


def test_course_001_exercise_7a_listing():
    """Course 001, exercise 7 (A), as printed; the import lines changed
    (``tensorflow.keras`` → ``nn.keras``, TensorFlow's ``set_seed`` → engine's)."""
    import numpy as np
    from numpy.random import seed

    from engine import manual_seed as set_seed
    from nn import keras
    from nn.keras.datasets import boston_housing
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    mean = x_train.mean(axis=0)
    x_train -= mean
    std = x_train.std(axis=0)
    x_train /= std
    x_test -= mean
    x_test /= std

    seed(1)
    set_seed(2)
    model1 = keras.Sequential()
    model1.add(keras.layers.Dense(16, activation="relu", input_shape=(x_train.shape[1],)))
    model1.add(keras.layers.Dense(8, activation="relu"))
    model1.add(keras.layers.Dense(1, activation="relu"))
    model1.summary()

    epochs = 5  # the course: 50
    model1.compile(optimizer="adam",
                   loss='mse', metrics=['mae'])
    history = model1.fit(x_train, y_train, epochs=epochs,
                         validation_data=(x_test, y_test), verbose=1)
    # ---- checks
    assert model1.count_params() == 369
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert history.epoch == [0, 1, 2, 3, 4] and np is not None
    assert model1.optimizer.param_groups[0]["lr"] == 0.001  # Keras's 'adam'
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]


# ------------------------------------------------------------------ Model methods
def test_fit_history_evaluate_predict_and_validation_split():
    x, y = blobs(100)
    engine.manual_seed(0)
    model = nn.Sequential([nn.Dense(8, activation="tanh"), nn.Dense(1, activation="sigmoid")])
    with pytest.raises(RuntimeError, match="must call compile"):
        model.fit(x, y)
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=3, batch_size=10, validation_split=0.2, verbose=0)
    assert model.history is h and h.model is model and h.epoch == [0, 1, 2]
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert h.params["steps"] == 8 and h.params["samples"] == 80  # the first 80 train
    # the LAST 20 % (unshuffled) is the validation set, as Keras
    last = model.evaluate(x[80:], y[80:], batch_size=10, verbose=0, return_dict=True)
    assert last == {"loss": h.history["val_loss"][-1], "accuracy": h.history["val_accuracy"][-1]}
    loss, acc = model.evaluate(x, y, verbose=0)
    model.compile(optimizer=model.optimizer, loss="binary_crossentropy")
    assert model.evaluate(x, y, verbose=0) == pytest.approx(loss)  # no metrics: the loss
    p = model.predict(x, verbose=0)
    assert p.shape == (100, 1) and ((p > 0) & (p < 1)).all()
    h2 = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)  # optimizer state kept
    assert h2.epoch == [3, 4] and h2.optimizer is model.optimizer


def test_compile_optimizer_names_recipes_and_lazy_binding():
    from nn.keras.optimizers import RMSprop
    model = nn.Sequential([nn.Dense(4), nn.Dense(1)])
    model.compile(optimizer=RMSprop(0.01, rho=0.8), loss="mse")
    assert isinstance(model.optimizer, RMSprop)  # not built yet: no input shape known
    model.fit(np.ones((6, 3)), np.ones(6), verbose=0)
    group = model.optimizer.param_groups[0]
    assert isinstance(model.optimizer, nn.optim.RMSprop)
    assert (group["lr"], group["alpha"], group["eps"]) == (0.01, 0.8, 1e-7)
    built = nn.Sequential([nn.Dense(4, input_shape=(3,)), nn.Dense(1)])
    built.compile(optimizer="SGD", loss="mse")  # input shape known: built at compile
    assert isinstance(built.optimizer, nn.optim.SGD)
    assert built.optimizer.param_groups[0]["lr"] == 0.01
    assert len(built.optimizer.param_groups[0]["params"]) == 4
    with pytest.raises(ValueError, match="unknown loss"):
        built.compile(optimizer="sgd", loss="msqe")
    with pytest.raises(ValueError, match="give a loss"):
        built.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        built.compile(optimizer="lion", loss="mse")
    with pytest.raises(ValueError, match="weight_decay"):
        nn.keras.optimizers.SGD(weight_decay=0.1)
    with pytest.raises(ValueError, match="validation_batch_size= is not supported"):
        built.fit(np.ones((6, 3)), np.ones(6), validation_batch_size=2, verbose=0)


def test_summary_input_shape_sources_and_none_batch():
    model = nn.Sequential([nn.Dense(256, activation="relu"), nn.Dense(10, "softmax")])
    with pytest.raises(ValueError, match="input shape is unknown"):
        model.summary()
    s = nn.summary(model, (None, 784))  # Keras's form, batch None
    assert s.total_params == 784 * 256 + 256 + 2570
    lines = []
    model.summary(print_fn=lines.append)  # now built: the first Dense knows its input
    assert "Total params: 203,530" in lines[0]
    with pytest.raises(ValueError, match="position 1"):
        nn.summary(model, (None, None))
    m2 = nn.Sequential([nn.Dense(3), nn.Dense(1)])
    m2.compile(optimizer="sgd", loss="mse")
    m2.fit(np.ones((4, 7)), np.ones(4), verbose=0)
    out = []
    m2.summary(print_fn=out.append)
    assert "Total params: 28" in out[0]  # 7·3 + 3 + 3 + 1


def test_sequential_add_and_list():
    seq = nn.Sequential()
    seq.add(nn.Dense(2, input_dim=3))
    seq.add(nn.ReLU())
    assert len(seq) == 2 and len(nn.Sequential([nn.ReLU(), nn.Tanh()])) == 2
    with pytest.raises(TypeError, match="expected a layer"):
        seq.add("relu")
    with pytest.raises(TypeError, match="only a Sequential"):
        nn.Linear(2, 2).add(nn.ReLU())


# ------------------------------------------------------------------ Dense
def test_dense_is_linear_plus_activation_and_lazy():
    x = engine.tensor(np.random.default_rng(0).normal(size=(5, 13)))
    engine.manual_seed(3)
    dense = nn.Dense(16, activation="relu")
    assert not dense.built and list(dense.parameters()) == []
    out = dense(x)
    engine.manual_seed(3)
    lin = nn.Linear(13, 16)
    np.testing.assert_array_equal(dense.weight.data, lin.weight.data)  # the same draws
    np.testing.assert_array_equal(out.data, lin(x).relu().data)
    for act, fn in [("sigmoid", lambda z: 1 / (1 + np.exp(-z))), ("tanh", np.tanh),
                    ("linear", lambda z: z),
                    ("softmax", lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True))]:
        d = nn.Dense(4, act)
        z = x.data @ np.zeros((13, 4))  # build, then compare with numpy on its weights
        d(x)
        z = x.data.astype(np.float64) @ d.weight.data.T.astype(np.float64)
        np.testing.assert_allclose(d(x).data, fn(z), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="has 3 features, the layer was built for 13"):
        dense(engine.zeros(2, 3))
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        nn.Dense(2, "relux")
    with pytest.raises(ValueError, match="units must be an int >= 1"):
        nn.Dense(0)
    with pytest.raises(ValueError, match="not both"):
        nn.Dense(2, input_shape=(3,), input_dim=3)
    nobias = nn.Dense(3, use_bias=False, input_dim=2, kernel_initializer="zeros")
    assert nobias.bias is None and (nobias.weight.data == 0).all()
    assert "units=3" in repr(nobias) and "not built" in repr(nn.Dense(2))


def test_initializers_follow_keras_formulas():
    from nn.keras import initializers as I
    engine.manual_seed(0)
    u = I.RandomUniform(minval=-5, maxval=5)((200, 300))  # course 002-bn-3
    assert u.min() >= -5 and u.max() < 5 and abs(u.std() - 10 / math.sqrt(12)) < 0.05
    fan_in, fan_out = 200, 300
    g = I.GlorotNormal()((fan_in, fan_out))  # std √(2 / (fan_in + fan_out)), cut at 2σ
    assert abs(g.std() - math.sqrt(2 / (fan_in + fan_out))) < 0.002
    assert np.abs(g).max() <= 2 * math.sqrt(2 / 500) / 0.87962566103423978 + 1e-7
    he = I.HeUniform()((fan_in, fan_out))
    assert np.abs(he).max() <= math.sqrt(6 / fan_in)
    q = I.Orthogonal()((32, 128))
    np.testing.assert_allclose(q @ q.T, np.eye(32), atol=1e-5)
    layer = nn.Dense(8, kernel_initializer=I.RandomUniform(-5, 5), input_dim=4)
    assert layer.weight.shape == (8, 4) and np.abs(layer.weight.data).max() <= 5
    with pytest.raises(ValueError, match="unknown initializer"):
        I.get("glorot")


# ------------------------------------------------------------------ recurrent layers
def test_lstm_32_on_50_by_2_has_4480_parameters():
    from nn.keras.layers import LSTM, Dense
    model = nn.Sequential()
    model.add(LSTM(32, input_shape=(50, 2)))  # course 003's slide
    model.add(Dense(1))
    s = nn.summary(model, (50, 2))
    assert [r[3] for r in s.rows] == [4480, 33] and s.total_params == 4513
    assert [r[2] for r in s.rows] == ["(None, 32)", "(None, 1)"]
    # PyTorch's layout has two biases: 4,608; single_bias gives Keras's count.
    assert sum(p.numel() for p in nn.LSTM(2, 32, batch_first=True).parameters()) == 4608
    layer = nn.LSTM(2, 32, single_bias=True, batch_first=True)
    assert sum(p.numel() for p in layer.parameters()) == 4480


def test_pytorch_lstm_count_is_4608():
    torch = pytest.importorskip("torch")
    assert sum(p.numel() for p in torch.nn.LSTM(2, 32, batch_first=True).parameters()) == 4608


def test_stock_example_simplernn_4_dense_1_has_29_parameters():
    model = nn.Sequential([nn.SimpleRNN(4, input_shape=(10, 1)), nn.Dense(1)])
    out = []
    model.summary(print_fn=out.append)
    assert "Total params: 29" in out[0]
    shapes = [w.shape for w in model.get_weights()]  # course 004-stock-2: Keras's shapes
    assert shapes == [(1, 4), (4, 4), (4,), (4, 1), (1,)]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def keras_reference(kind, weights, x, units):
    """Keras's recurrent equations on get_weights() (Keras's layouts), in float64."""
    kernel, recurrent = weights[0].astype(np.float64), weights[1].astype(np.float64)
    bias = weights[2].astype(np.float64)
    n, steps, _ = x.shape
    h = np.zeros((n, units))
    c = np.zeros((n, units))
    outs = []
    for t in range(steps):
        xt = x[:, t]
        if kind == "rnn":
            h = np.tanh(xt @ kernel + h @ recurrent + bias)
        elif kind == "lstm":  # gates i, f, c, o
            z = xt @ kernel + h @ recurrent + bias
            i, f = sigmoid(z[:, :units]), sigmoid(z[:, units:2 * units])
            g, o = np.tanh(z[:, 2 * units:3 * units]), sigmoid(z[:, 3 * units:])
            c = f * c + i * g
            h = o * np.tanh(c)
        else:  # GRU, reset_after: gates z, r, h; bias (2, 3·units)
            xz = xt @ kernel + bias[0]
            hz = h @ recurrent + bias[1]
            z = sigmoid(xz[:, :units] + hz[:, :units])
            r = sigmoid(xz[:, units:2 * units] + hz[:, units:2 * units])
            hh = np.tanh(xz[:, 2 * units:] + r * hz[:, 2 * units:])
            h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, axis=1)


@pytest.mark.parametrize("kind, cls, count", [
    ("rnn", nn.SimpleRNN, 3 * 5 + 25 + 5),
    ("lstm", nn.keras.layers.LSTM, 4 * (3 * 5 + 25 + 5)),
    ("gru", nn.keras.layers.GRU, 3 * (3 * 5 + 25 + 10)),
])
def test_keras_recurrent_layers_follow_keras_equations(kind, cls, count):
    engine.manual_seed(0)
    x = np.random.default_rng(1).normal(size=(4, 6, 3))
    layer = cls(5, return_sequences=True)
    out = layer(engine.tensor(x)).data
    weights = layer.get_weights()
    assert sum(w.size for w in weights) == count == layer.count_params()
    np.testing.assert_allclose(out, keras_reference(kind, weights, x, 5), rtol=1e-5,
                               atol=1e-6)
    last = cls(5)
    with pytest.raises(ValueError, match="not built yet"):
        last.set_weights(weights)  # as Keras: a layer gets its weights once built
    last(engine.tensor(x))
    last.set_weights(weights)
    np.testing.assert_allclose(last(engine.tensor(x)).data, out[:, -1], rtol=1e-6)
    both = cls(5, return_state=True, input_shape=(6, 3))
    both.set_weights(weights)
    result = both(engine.tensor(x))
    assert isinstance(result, list) and len(result) == (3 if kind == "lstm" else 2)
    if kind == "lstm":  # Keras's unit_forget_bias: the forget gate's bias starts at 1
        assert (weights[2][5:10] == 1).all() and (weights[2][:5] == 0).all()
    if kind == "rnn":  # orthogonal recurrent kernel
        np.testing.assert_allclose(weights[1] @ weights[1].T, np.eye(5), atol=1e-5)


def test_sine_rnn_reproduced_by_hand_from_get_weights():
    """Course 004-sine-rnn: a linear SimpleRNN; output = S_t = input·Wi + S_{t−1}·Ws + bias,
    reproduced from model.get_weights() for [sin(0.31)] and [[sin(0.31)], [sin(0.62)]]."""
    engine.manual_seed(0)
    model = nn.Sequential([nn.SimpleRNN(1, activation="linear", input_shape=(None, 1))])
    model.compile(optimizer="adam", loss="mse")
    xs = np.sin(np.arange(60) * np.pi / 10)
    windows = np.stack([xs[i:i + 2] for i in range(50)])[..., None]
    model.fit(windows, xs[2:52, None], epochs=3, verbose=0)
    wi, ws, b = (w.item() for w in model.get_weights())
    one = model.predict(np.array([[[np.sin(0.31)]]]), verbose=0).item()
    assert one == pytest.approx(np.sin(0.31) * wi + b, rel=1e-6)
    two = model.predict(np.array([[[np.sin(0.31)], [np.sin(0.62)]]]), verbose=0).item()
    s1 = np.sin(0.31) * wi + b
    assert two == pytest.approx(np.sin(0.62) * wi + s1 * ws + b, rel=1e-6)


def test_gru_refuses_single_bias_and_keras_lstm_options():
    with pytest.raises(ValueError, match="GRU: single_bias is not supported"):
        nn.GRU(2, 3, single_bias=True, batch_first=True)
    with pytest.raises(ValueError, match="recurrent_activation='sigmoid'"):
        nn.keras.layers.LSTM(4, recurrent_activation="hard_sigmoid")
    with pytest.raises(ValueError, match=r"\(batch, timesteps, features\)"):
        nn.SimpleRNN(3)(engine.zeros(2, 3))


# ------------------------------------------------------------------ weights
def test_get_set_weights_use_keras_layouts():
    engine.manual_seed(0)
    model = nn.Sequential([nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Dense(4, input_dim=2 * 4 * 4),
                           nn.keras.layers.BatchNormalization(), nn.Dense(1)])
    x = engine.tensor(np.random.default_rng(0).normal(size=(3, 1, 6, 6)))
    model(x)
    w = model.get_weights()
    assert [a.shape for a in w] == [(3, 3, 1, 2), (2,), (32, 4), (4,), (4,), (4,), (4,), (4,),
                                    (4, 1), (1,)]
    np.testing.assert_array_equal(w[2], model[2].weight.data.T)
    np.testing.assert_array_equal(w[0][:, :, 0, 1], model[0].weight.data[1, 0])
    before = model.state_dict()
    model.set_weights([a * 2 for a in w])
    np.testing.assert_array_equal(model[2].weight.data, 2 * before["2.weight"])
    model.set_weights(w)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    bad = list(w)
    bad[8] = np.zeros((1, 4))
    with pytest.raises(ValueError, match=r"weight 8 .*shape \(1, 4\), expected \(4, 1\)"):
        model.set_weights(bad)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="has 10 weight arrays, got 9"):
        model.set_weights(w[:9])


def test_batch_normalization_keras_style():
    bn = nn.keras.layers.BatchNormalization()
    out = bn(engine.tensor(np.arange(12.0).reshape(4, 3)))
    assert bn.num_features == 3 and bn.momentum == pytest.approx(0.01)  # 1 − 0.99
    np.testing.assert_allclose(out.data.mean(0), 0, atol=1e-6)
    s = nn.summary(nn.Sequential([nn.Dense(8, input_dim=4),
                                  nn.keras.layers.BatchNormalization()]), (4,))
    assert (s.trainable_params, s.non_trainable_params) == (40 + 16, 16)  # as Keras
    with pytest.raises(ValueError, match=r"\(N, F\), \(N, C, L\) or \(N, C, H, W\)"):
        nn.keras.layers.BatchNormalization()(engine.zeros(2, 3, 4, 5, 6))  # (N, T, C) works


def test_keras_batch_normalization_axis_on_images():
    """Keras's default axis=-1 on (N, H, W, C) images: statistics per channel, the last dim
    (as Keras); axis=1 on stepgrad's (N, C, H, W). Both the same numbers, transposed."""
    x = np.random.default_rng(0).standard_normal((8, 5, 5, 3)) * 4 + 2
    last = nn.keras.layers.BatchNormalization()
    out = last(engine.tensor(x))
    assert last.num_features == 3 and out.shape == (8, 5, 5, 3)
    np.testing.assert_allclose(out.data.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    first = nn.keras.layers.BatchNormalization(axis=1)
    out1 = first(engine.tensor(x.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(out1.data.transpose(0, 2, 3, 1), out.data, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(last.running_mean.data, first.running_mean.data, rtol=1e-6)


# ------------------------------------------------------------------ save / load_model
def zoo():
    L = nn.keras.layers
    return [
        nn.Sequential([nn.Dense(8, "relu", input_shape=(5,)), L.Dropout(0.2),
                       L.BatchNormalization(), nn.Dense(3), L.Activation("softmax")]),
        nn.Sequential([nn.SimpleRNN(4, return_sequences=True), L.LSTM(3), nn.Dense(1)]),
        nn.Sequential([L.GRU(4), nn.Dense(2, kernel_initializer=nn.keras.initializers
                                          .RandomUniform(-1, 1))]),
        nn.Sequential(nn.Conv2d(1, 2, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(2 * 2 * 2, 2), nn.Softmax(dim=1)),
        nn.models.seed_cnn(),
        nn.LSTM(3, 4, single_bias=True, batch_first=True),
    ]


INPUTS = [(6, 5), (2, 7, 5), (2, 7, 5), (3, 1, 4, 4), (2, 1, 28, 28), (2, 6, 3)]


@pytest.mark.parametrize("i", range(len(INPUTS)))
def test_save_and_load_model_round_trip(tmp_path, i):
    engine.manual_seed(i)
    model = zoo()[i]
    x = engine.tensor(np.random.default_rng(i).normal(size=INPUTS[i]))
    model.train()
    model(x)  # build lazy layers, move BatchNorm's statistics
    model.eval()
    with engine.no_grad():
        want = model(x)
    path = tmp_path / "model.keras.npz"
    model.save(path)
    assert os.listdir(tmp_path) == ["model.keras.npz"]
    loaded = nn.load_model(path)
    assert type(loaded) is type(model) and repr(loaded) == repr(model)
    loaded.eval()
    with engine.no_grad():
        got = loaded(x)
    if isinstance(want, tuple):
        want, got = want[0], got[0]
    np.testing.assert_array_equal(got.data, want.data)
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items(),
                               strict=True):
        assert k == k2 and a.dtype == b.dtype and np.array_equal(a, b)


def test_load_model_restores_compile_optimizer_state_and_frozen(tmp_path):
    x, y = blobs(60)
    engine.manual_seed(0)
    model = nn.Sequential([nn.Dense(6, "tanh"), nn.Dense(1, "sigmoid")])
    model.compile(optimizer=nn.keras.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    model[0].bias.requires_grad = False
    model.compile(optimizer=nn.optim.Adam([model[0].weight, *model[1].parameters()], lr=0.01),
                  loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = nn.load_model(tmp_path / "m.npz")
    assert not loaded[0].bias.requires_grad
    assert type(loaded.optimizer) is nn.optim.Adam
    assert loaded.optimizer.state_dict()["state"][0]["step"] == 2  # 2 batches of 32
    engine.manual_seed(9)
    h1 = model.fit(x, y, epochs=2, verbose=0)
    engine.manual_seed(9)
    h2 = loaded.fit(x, y, epochs=2, verbose=0)
    assert h1.history == h2.history  # continuing after load = continuing: bit for bit
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    uncompiled = nn.load_model(tmp_path / "m.npz", compile=False)
    with pytest.raises(RuntimeError, match="must call compile"):
        uncompiled.evaluate(x, y)


def test_save_refuses_what_is_not_data_and_loads_no_code(tmp_path):
    class Net(nn.Module):
        def __init__(self, hidden=3):
            super().__init__()
            self.hidden = hidden
            self.fc = nn.Linear(2, hidden)

        def forward(self, x):
            return self.fc(x)

    net = Net(4)
    net.save(tmp_path / "net.npz")
    with pytest.raises(ValueError, match=r"class 'Net'.*custom_objects=\{'Net': Net\}"):
        nn.load_model(tmp_path / "net.npz")
    back = nn.load_model(tmp_path / "net.npz", custom_objects={"Net": Net})
    np.testing.assert_array_equal(back.fc.weight.data, net.fc.weight.data)

    with pytest.raises(ValueError, match="activation.*function.*cannot be saved"):
        nn.Sequential([nn.Dense(2, activation=lambda t: t.relu(), input_dim=2)]).save(
            tmp_path / "f.npz")
    block = nn.models.InceptionModule(1, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="'in_channels' is not kept as self.in_channels"):
        block.save(tmp_path / "i.npz")
    model = nn.Sequential([nn.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss=lambda p, t: ((p - t) ** 2).mean())
    with pytest.warns(UserWarning, match="no training configuration"):
        model.save(tmp_path / "fn.npz")
    assert not hasattr(nn.load_model(tmp_path / "fn.npz"), "_keras_compiled")
    nn.save({"model": {}}, tmp_path / "weights.npz")
    with pytest.raises(ValueError, match="no architecture"):
        nn.load_model(tmp_path / "weights.npz")
    import zipfile  # the file is JSON + .npy: nothing in it is pickled or executed
    names = zipfile.ZipFile(tmp_path / "net.npz").namelist()
    assert names[0] == "__stepgrad__.json" and all(n.endswith(".npy") for n in names[1:])


def test_save_and_load_weights(tmp_path):
    engine.manual_seed(0)
    a = nn.Sequential([nn.Dense(3, input_dim=2)])
    b = nn.Sequential([nn.Dense(3, input_dim=2)])
    a.save_weights(tmp_path / "w.npz")
    b.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(a[0].weight.data, b[0].weight.data)


# ------------------------------------------------------------------ callbacks, utils
def test_keras_reduce_lr_on_plateau_cuts_after_patience_bad_epochs():
    from nn.keras.callbacks import ReduceLROnPlateau
    # x = 0, y = 0: zero gradients, a constant loss: every epoch after the first is bad.
    # Keras's rule with patience=2: cut after 2 bad epochs (PyTorch's after 3). cooldown=2:
    # the counter drops to 1 after epoch 3 (not counted), to 0 after epoch 4 (counted, as
    # Keras decrements first): lr per epoch 1, 1, 1, .5, .5, .5, .25 by hand.
    model = nn.Sequential([nn.Dense(1, input_dim=2)])
    model.compile(optimizer=nn.keras.optimizers.SGD(1.0), loss="mse")
    h = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=7, verbose=0,
                  callbacks=[ReduceLROnPlateau(monitor="loss", patience=2, factor=0.5,
                                               cooldown=2)])
    assert h.history["lr"] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]


def test_to_categorical():
    from nn.keras.utils import to_categorical
    np.testing.assert_array_equal(to_categorical([1, 0, 2]), np.eye(3)[[1, 0, 2]])
    assert to_categorical(np.array([[3], [1]]), 5).shape == (2, 5)
    with pytest.raises(ValueError, match="does not fit num_classes=2"):
        to_categorical([0, 2], 2)
    with pytest.raises(ValueError, match="whole numbers"):
        to_categorical([0.5])


def test_load_model_keeps_float64(tmp_path):
    engine.manual_seed(0)
    model = nn.Sequential([nn.Dense(3, input_dim=2), nn.Dense(1)])
    model(engine.zeros(1, 2))
    model.double()
    model.save(tmp_path / "m.npz")
    loaded = nn.load_model(tmp_path / "m.npz")
    assert [p.dtype for p in loaded.parameters()] == [np.dtype(np.float64)] * 4
    x = np.random.default_rng(0).normal(size=(5, 2))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_load_model_restores_eval_mode(tmp_path):
    model = nn.Sequential([nn.Dense(3, input_shape=(2,)), nn.Dropout(0.5), nn.Dense(1)])
    model.build((None, 2)) if hasattr(model, "build") else model(engine.zeros(1, 2))
    model.eval()
    model.save(tmp_path / "m.stepgrad")
    back = nn.load_model(tmp_path / "m.stepgrad")
    assert not back.training and not any(m.training for m in back.modules())
    model.train()
    model.save(tmp_path / "t.stepgrad")
    assert nn.load_model(tmp_path / "t.stepgrad").training


# ------------------------------------------------------------------ Keras 3's update rules
def _steps(opt, w, grads, lrs=None):
    """Run ``opt`` on the one-weight ``w`` with these gradients (and learning rates)."""
    out = []
    for i, g in enumerate(grads):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[i]
        w.grad = engine.tensor([g])
        opt.step()
        out.append(float(w.data[0]))
    return out


def _one_weight(value=1.0):
    return engine.tensor([value], requires_grad=True)


def test_keras_rmsprop_rule_by_hand():
    # Keras: v ← ρv + (1−ρ)g²;  θ ← θ − γ·g/√(v + ε)   (PyTorch: γ·g/(√v + ε))
    w = _one_weight()
    got = _steps(nn.keras.optimizers.RMSprop(0.01).build([w]), w, [2.0, 1.0])
    v1 = 0.1 * 4
    w1 = 1 - 0.01 * 2 / math.sqrt(v1 + 1e-7)
    v2 = 0.9 * v1 + 0.1 * 1
    w2 = w1 - 0.01 * 1 / math.sqrt(v2 + 1e-7)
    assert got == pytest.approx([w1, w2], rel=1e-6)
    # centered, momentum 0.5: ḡ ← ρḡ + (1−ρ)g; Δ = γg/√(v − ḡ² + ε); m ← μm + Δ; θ ← θ − m
    w = _one_weight()
    opt = nn.keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True).build([w])
    got = _steps(opt, w, [2.0, 1.0])
    m1 = 0.01 * 2 / math.sqrt(0.4 - 0.2 ** 2 + 1e-7)
    a2 = 0.9 * 0.2 + 0.1 * 1
    m2 = 0.5 * m1 + 0.01 * 1 / math.sqrt(0.46 - a2 ** 2 + 1e-7)
    assert got == pytest.approx([1 - m1, 1 - m1 - m2], rel=1e-6)
    assert sorted(opt.state[w]) == ["grad_avg", "momentum", "square_avg", "step"]
    # the defaults ('rmsprop': ρ = 0.9, γ = 0.001) and PyTorch's rule apart
    w, u = _one_weight(), _one_weight()
    keras_way = _steps(nn.keras.optimizers.get("rmsprop").build([w]), w, [1e-4, 1e-4])
    torch_way = _steps(nn.optim.RMSprop([u], lr=0.001, alpha=0.9, eps=1e-7), u, [1e-4, 1e-4])
    v1, v2 = 0.1 * 1e-8, 0.19 * 1e-8
    assert keras_way == pytest.approx([1 - 1e-7 / math.sqrt(v1 + 1e-7),
                                       1 - 1e-7 / math.sqrt(v1 + 1e-7)
                                       - 1e-7 / math.sqrt(v2 + 1e-7)], rel=1e-6)
    assert abs((1 - torch_way[1]) / (1 - keras_way[1]) - 1) > 0.5  # ε inside or outside √


def test_keras_adam_and_adamw_rules_by_hand():
    # Keras: θ ← θ − γ·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε), ε added before the bias correction
    def by_hand(grads, lr=0.1, b1=0.9, b2=0.999, eps=1e-7, wd=0.0):
        theta, m, v, out = 1.0, 0.0, 0.0, []
        for t, g in enumerate(grads, 1):
            theta -= theta * wd * lr
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            theta -= lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (math.sqrt(v) + eps)
            out.append(theta)
        return out

    grads = [1e-6, 2e-6]  # small: ε matters
    w = _one_weight()
    got = _steps(nn.keras.optimizers.Adam(0.1).build([w]), w, grads)
    assert got == pytest.approx(by_hand(grads), rel=1e-6)
    # by hand, the first step: m = 1e-7, v = 1e-15, √(0.001)/0.1·0.1·1e-7/(√1e-15 + 1e-7)
    assert 1 - got[0] == pytest.approx(0.02402532, rel=1e-5)
    u = _one_weight()
    torch_way = _steps(nn.optim.Adam([u], lr=0.1), u, grads)
    assert 1 - torch_way[0] == pytest.approx(0.1 * 1 / 1.1, rel=1e-5)  # PyTorch's ε: 0.0909
    w = _one_weight()
    got = _steps(nn.keras.optimizers.AdamW(0.1, weight_decay=0.5).build([w]), w, grads)
    assert got == pytest.approx(by_hand(grads, wd=0.5), rel=1e-6)
    # large parameters take the fused kernel: the same rule
    big = engine.tensor(np.ones(5000, np.float32), requires_grad=True)
    opt = nn.keras.optimizers.Adam(0.1).build([big])
    for g in grads:
        big.grad = engine.tensor(np.full(5000, g, np.float32))
        opt.step()
    np.testing.assert_allclose(big.data, by_hand(grads)[-1], rtol=1e-6)


def test_keras_sgd_momentum_keeps_the_velocity_across_learning_rate_changes():
    # Keras: v ← μv − γg; θ ← θ + v. γ = 0.1 then 0.01, g = 1, μ = 0.9:
    # v = −0.1, θ = 0.9; v = 0.9·(−0.1) − 0.01 = −0.1, θ = 0.8
    w = _one_weight()
    opt = nn.keras.optimizers.SGD(0.1, momentum=0.9).build([w])
    assert _steps(opt, w, [1.0, 1.0], lrs=[0.1, 0.01]) == pytest.approx([0.9, 0.8])
    assert list(opt.state[w]) == ["momentum"]
    np.testing.assert_allclose(opt.state[w]["momentum"], [-0.1])
    # PyTorch's b ← μb + g, θ ← θ − γb: b = 1, θ = 0.9; b = 1.9, θ = 0.9 − 0.019 = 0.881
    u = _one_weight()
    assert _steps(nn.optim.SGD([u], lr=0.1, momentum=0.9), u, [1.0, 1.0],
                  lrs=[0.1, 0.01]) == pytest.approx([0.9, 0.881])
    # nesterov: θ ← θ + μv − γg: θ = 1 − 0.09 − 0.1 = 0.81; then 0.81 − 0.09 − 0.01 = 0.71
    w = _one_weight()
    opt = nn.keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True).build([w])
    assert _steps(opt, w, [1.0, 1.0], lrs=[0.1, 0.01]) == pytest.approx([0.81, 0.71])


def test_optimizer_names_build_keras_rules():
    from nn.keras.optimizers import KerasAdam, KerasAdamW, KerasRMSprop, KerasSGD
    for name, cls, torch_cls in [("sgd", KerasSGD, nn.optim.SGD),
                                 ("adam", KerasAdam, nn.optim.Adam),
                                 ("RMSprop", KerasRMSprop, nn.optim.RMSprop),
                                 ("adamw", KerasAdamW, nn.optim.AdamW)]:
        model = nn.Sequential([nn.Dense(2, input_shape=(3,))])
        model.compile(optimizer=name, loss="mse")
        assert type(model.optimizer) is cls and isinstance(model.optimizer, torch_cls)
        result = nn.fit(nn.Sequential([nn.Dense(2, input_shape=(3,))]), np.ones((4, 3)),
                        np.ones((4, 2)), loss="mse", optimizer=name, verbose=0)
        assert type(result.optimizer) is cls
    group = model.optimizer.param_groups[0]
    assert (group["weight_decay"], group["eps"]) == (0.004, 1e-7)  # Keras's AdamW defaults


def test_keras_optimizer_state_saves_and_resumes(tmp_path):
    from nn.keras.optimizers import SGD, KerasSGD
    x, y = blobs(64)

    def compiled():
        engine.manual_seed(3)
        model = nn.Sequential([nn.Dense(4, "tanh", input_shape=(20,)), nn.Dense(1, "sigmoid")])
        model.compile(optimizer=SGD(0.1, momentum=0.9), loss="binary_crossentropy")
        return model

    model = compiled()
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    state = model.optimizer.state_dict()
    assert set(state["state"][0]) == {"momentum"}
    model.save(tmp_path / "m.npz")
    nn.save(nn.serialization.make_checkpoint(model, 2, model.optimizer, rng=False),
            tmp_path / "ck.npz")
    loaded = nn.load_model(tmp_path / "m.npz")
    assert type(loaded.optimizer) is KerasSGD
    resumed = compiled()
    assert nn.load_checkpoint(tmp_path / "ck.npz", resumed, resumed.optimizer) == 2
    h = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    for other in (loaded, resumed):  # continuing after a load = continuing: bit for bit
        assert other.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history == h
        for a, b in zip(model.parameters(), other.parameters(), strict=True):
            np.testing.assert_array_equal(a.data, b.data)
    # PyTorch's momentum buffer is another quantity: refused, not loaded
    torch_sgd = nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for p in model.parameters():
        p.grad = engine.ones_like(p)
    torch_sgd.step()
    with pytest.raises(ValueError, match="momentum_buffer"):
        KerasSGD(model.parameters(), lr=0.1, momentum=0.9).load_state_dict(
            torch_sgd.state_dict())
    with pytest.raises(ValueError, match="holds the state of a SGD optimizer"):
        nn.save(nn.serialization.make_checkpoint(model, 1, torch_sgd, rng=False),
                tmp_path / "torch.npz")
        nn.load_checkpoint(tmp_path / "torch.npz", resumed, resumed.optimizer)


def test_keras_batchnorm_moving_variance_uses_the_biased_batch_variance():
    x = engine.tensor([[0.0, 1.0], [1.0, 1.0], [2.0, 3.0], [5.0, 3.0]])
    bn = nn.keras.layers.BatchNormalization()
    bn.train()
    bn(x)
    # column 0: mean 2, biased variance (4 + 1 + 0 + 9)/4 = 3.5 (unbiased: 14/3)
    # column 1: mean 2, biased variance 1 (unbiased: 4/3)
    np.testing.assert_allclose(bn.running_mean.data, [0.99 * 0 + 0.01 * 2] * 2, rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.data, [0.99 + 0.01 * 3.5, 0.99 + 0.01 * 1],
                               rtol=1e-6)
    torch_bn = nn.BatchNorm1d(2)  # PyTorch's keeps the unbiased one
    torch_bn.train()
    torch_bn(x)
    np.testing.assert_allclose(torch_bn.running_var.data, [0.9 + 0.1 * 14 / 3, 0.9 + 0.1 * 4 / 3],
                               rtol=1e-6)
    images = engine.tensor(np.arange(16, dtype=np.float32).reshape(2, 2, 2, 2))  # (N, H, W, C)
    bn = nn.keras.layers.BatchNormalization(momentum=0.5)
    bn.train()
    bn(images)
    # channel 0: 0, 2, ..., 14: mean 7, biased variance (7² + 5² + 3² + 1²)·2/8 = 21
    np.testing.assert_allclose(bn.running_var.data, [0.5 + 0.5 * 21] * 2, rtol=1e-6)


# ------------------------------------------------------------------ Functional layer order
def test_functional_layers_follow_keras_graph_order():
    L = nn.keras.layers
    i = L.Input((3,))
    a_dense, outer, inner = L.Dense(3), L.Dense(3), L.Dense(3)
    a = a_dense(i)                     # the short branch, written first
    b = outer(inner(i))                # the deep branch
    model = nn.keras.Model(inputs=i, outputs=L.add([a, b]))
    # Keras orders by depth from the outputs (inner: 2; a_dense, outer: 1, by the order a
    # walk from the outputs reaches them; Add: 0): keras.Model.layers is [inner, a, outer, add]
    layers = [m for _, m in model.named_children()]
    assert layers[:3] == [inner, a_dense, outer] and type(layers[3]).__name__ == "Add"
    model.predict(np.zeros((1, 3), np.float32), verbose=0)  # builds the Dense layers
    weights = [np.full((3, 3), k, np.float32) for k in (1, 2, 3)]
    zero = np.zeros(3, np.float32)
    model.set_weights([weights[0], zero, weights[1], zero, weights[2], zero])
    np.testing.assert_array_equal(inner.weight.data, weights[0].T)  # Keras's first kernel
    np.testing.assert_array_equal(a_dense.weight.data, weights[1].T)
    np.testing.assert_array_equal(outer.weight.data, weights[2].T)
    x = np.ones((1, 3), np.float32)
    # a = x·W_a = [6, 6, 6]; b = (x·W_inner)·W_outer = [3, 3, 3]·W_outer = [27, 27, 27]
    np.testing.assert_allclose(model.predict(x, verbose=0), [[6 + 27] * 3])


def test_functional_shared_layer_order():
    L = nn.keras.layers
    i = L.Input((3,))
    s, x_, y_, z = L.Dense(3), L.Dense(3), L.Dense(3), L.Dense(3)
    out = z(L.add([s(i), s(x_(y_(i)))]))  # s called at depth 2 twice
    model = nn.keras.Model(inputs=i, outputs=out)
    # depths: z 0, add 1, s 2 (both calls), x 3, y 4 → [y, x, s, add, z], as Keras
    layers = [m for _, m in model.named_children()]
    assert [layers[k] for k in (0, 1, 2, 4)] == [y_, x_, s, z]
    assert type(layers[3]).__name__ == "Add"


def test_functional_runs_calls_after_their_arguments_and_refuses_a_stray_input():
    """The one walk that gives Keras's layer order also gives the order forward runs the
    calls in (each after its arguments: not the layers' order) and finds an Input the model
    was not given."""
    L = nn.keras.layers
    i, j = L.Input((3,)), L.Input((3,))
    a_dense, outer, inner = L.Dense(3), L.Dense(3), L.Dense(3)
    a, b = a_dense(i), outer(inner(i))
    model = nn.keras.Model(inputs=i, outputs=L.add([a, b]))
    assert [c.layer for c in model._calls][:3] == [a_dense, inner, outer]
    assert [m for _, m in model.named_children()][:3] == [inner, a_dense, outer]
    with pytest.raises(ValueError, match=r"Model: an output depends on an Input\(\.\.\.\) that "
                                         r"is not among the model's inputs"):
        nn.keras.Model(inputs=i, outputs=L.add([a, L.Dense(3)(j)]))


def test_keras_rules_against_real_keras():  # needs keras (not installed in CI)
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("compares with Keras's torch backend")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    cases = [("rmsprop", "rmsprop"),
             (keras.optimizers.SGD(0.1, momentum=0.9), nn.keras.optimizers.SGD(0.1, 0.9)),
             (keras.optimizers.Adam(0.01), nn.keras.optimizers.Adam(0.01))]
    for k_opt, s_opt in cases:
        km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                               keras.layers.BatchNormalization(), keras.layers.Dense(1)])
        sm = nn.keras.Sequential([nn.keras.layers.Input((3,)),
                                  nn.keras.layers.Dense(4, activation="tanh"),
                                  nn.keras.layers.BatchNormalization(),
                                  nn.keras.layers.Dense(1)])
        sm.predict(x[:2], verbose=0)
        sm.set_weights(km.get_weights())
        km.compile(k_opt, "mse")
        sm.compile(s_opt, "mse")
        sched = lambda e, lr: 0.1 * 0.3 ** e if e else lr  # noqa: E731
        kh = km.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
                    callbacks=[keras.callbacks.LearningRateScheduler(sched)])
        sh = sm.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
                    callbacks=[nn.keras.callbacks.LearningRateScheduler(sched)])
        np.testing.assert_allclose(sh.history["loss"], kh.history["loss"], rtol=1e-4)
        for a, b in zip(km.get_weights(), sm.get_weights(), strict=True):
            np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)


def test_saving_a_model_never_called_keeps_the_weights_it_will_use(tmp_path):
    # Sequential([Input(shape), ...]) builds its lazy layers at the first call; saved before
    # any call, the file held no weights and load_model's model drew new random ones at its
    # first call: other predictions than the original's, no error. save() builds it first.
    from nn.keras import Sequential
    from nn.keras.layers import Dense, Input
    engine.manual_seed(0)
    model = Sequential([Input(shape=(4,)), Dense(3), Dense(2)])
    model.save(tmp_path / "m.keras")
    loaded = nn.load_model(tmp_path / "m.keras")
    assert [w.shape for w in loaded.get_weights()] == [(4, 3), (3,), (3, 2), (2,)]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_a_model_with_a_declared_input_shape_has_all_its_weights_before_the_first_call():
    """Keras builds Sequential([Input(shape), ...]) (and a first layer's input_shape=) at
    construction: get_weights, count_params and the weight files see every layer before any
    call (Keras 3.15: 4 arrays, 19 parameters here). stepgrad builds lazy layers from the
    declared shape when they are asked for; they returned [] and 0 (or only the first
    layer's). An unknown shape: count_params refuses, as Keras does."""
    from nn.keras import layers as L
    for model in (nn.keras.Sequential([L.Input((4,)), L.Dense(3, activation="relu"),
                                       L.Dense(1)]),
                  nn.keras.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(1)])):
        assert [w.shape for w in model.get_weights()] == [(4, 3), (3,), (3, 1), (1,)]
        assert model.count_params() == 4 * 3 + 3 + 3 + 1
    fresh = nn.keras.Sequential([L.Input((4,)), L.Dense(2)])
    fresh.set_weights([np.ones((4, 2), np.float32), np.arange(2, dtype=np.float32)])
    np.testing.assert_array_equal(fresh(engine.ones(1, 4)).data, [[4, 5]])
    lazy = nn.keras.Sequential([L.Dense(3), L.Dense(1)])
    assert lazy.get_weights() == []
    with pytest.raises(ValueError, match=r"count_params: Dense, Dense not built yet .*"
                                         r"input_shape="):
        lazy.count_params()
    # a stateful layer forgets the build's pass: the next batch may have another size
    rnn = nn.keras.Sequential([L.Input((5, 2)), L.SimpleRNN(4, stateful=True), L.Dense(1)])
    assert len(rnn.get_weights()) == 5 and rnn[1].state is None
    assert rnn(engine.zeros(3, 5, 2)).shape == (3, 1)


def test_a_model_saved_after_a_one_cycle_schedule_loads(tmp_path):
    """OneCycleLR writes its bookkeeping (max_lr, min_lr, ...) into the optimizer's groups;
    model.save took them for constructor arguments and load_model raised TypeError (Adam
    has no max_lr). The file now loads, with the lr in use and the optimizer state."""
    from nn.keras import layers as L
    model = nn.keras.Sequential([L.Input((2,)), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((4, 2), np.float32), np.ones((4, 1), np.float32), epochs=1, verbose=0)
    schedule = nn.optim.OneCycleLR(model.optimizer, max_lr=0.1, total_steps=10)
    schedule.step()
    model.save(tmp_path / "m.keras")
    loaded = nn.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.param_groups[0]["lr"] == model.optimizer.param_groups[0]["lr"]
    np.testing.assert_array_equal(loaded.optimizer.state_dict()["state"][0]["exp_avg"],
                                  model.optimizer.state_dict()["state"][0]["exp_avg"])
    opt = nn.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    opt.add_param_group({"params": [nn.Parameter([1.0])], "lr": 0.2, "initial_lr": 0.2,
                         "max_lr": 0.5})  # a group copied from a scheduled optimizer's
