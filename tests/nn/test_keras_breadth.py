"""Keras breadth: Input(dtype=), validation_data as a list, regularizers, go_backwards,
more losses / metrics / optimizers, model.input_shape / output_shape,
EarlyStopping(start_from_epoch=).

Expected numbers are literals recorded from Keras 3.15.1 (torch backend) running the same
code with the same weights (set_weights), unless a comment derives them by hand."""
import numpy as np
import pytest

import engine
from nn import keras
from nn.keras import layers, losses, metrics, regularizers
from nn.keras import optimizers as O
from nn.keras.callbacks import EarlyStopping

TOL = dict(rtol=2e-6, atol=2e-6)


def close(got, want, **tol):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, **(tol or TOL))


# ---------------------------------------------------------------------------- Input(dtype=)
@pytest.mark.parametrize("dtype, x, want", [
    ("int32", [[1.7, -1.7, 2.2]], 2.0),      # Keras 3.15: truncated to 1, -1, 2
    ("uint8", [[300.0, 2.0, 3.0]], 49.0),    # Keras 3.15: 300 wraps to 44
    ("float16", [[1.0001, 0, 0]], 1.0),      # Keras 3.15: rounded to float16's 1.0
    ("float64", [[1.0001, 0, 0]], 1.0001),   # Keras 3.15: the Dense still computes in float32
])
def test_input_dtype_converts_as_keras(dtype, x, want):
    i = keras.Input((3,), dtype=dtype)
    model = keras.Model(i, layers.Dense(1, kernel_initializer="ones")(i))
    out = model.predict(np.array(x), verbose=0)
    assert out.dtype == np.float32 and model.layers[-1].weight.dtype == np.float32
    close(out, [[want]])
    assert i.dtype == dtype


def test_input_dtype_refused_and_saved(tmp_path):
    with pytest.raises(ValueError, match=r"Input: dtype='bfloat16' is not supported; use one"):
        keras.Input((3,), dtype="bfloat16")
    seq = keras.Sequential([keras.Input((3,), dtype="int32"),
                            layers.Dense(1, kernel_initializer="ones")])
    close(seq.predict(np.array([[1.7, -1.7, 2.2]]), verbose=0), [[2.0]])
    seq.save(tmp_path / "m.stepgrad")
    loaded = keras.load_model(tmp_path / "m.stepgrad")
    assert loaded[0].dtype == "int32"
    close(loaded.predict(np.array([[1.7, -1.7, 2.2]]), verbose=0), [[2.0]])


# ------------------------------------------------------------- validation_data as a list
def test_validation_data_list_for_two_inputs():
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    a, b = keras.Input((3,)), keras.Input((2,))
    model = keras.Model([a, b], layers.Dense(1)(layers.concatenate([a, b])))
    model.set_weights([np.arange(5, dtype="float32").reshape(5, 1) / 10 - 0.2,
                       np.array([0.1], "float32")])
    model.compile(O.SGD(0.1), "mse")
    h = model.fit([x1, x2], y, validation_data=[[x1[:5], x2[:5]], y[:5]], epochs=2,
                  batch_size=4, verbose=0, shuffle=False)
    close(h.history["loss"], [1.6539978981018066, 1.046644687652588])
    close(h.history["val_loss"], [1.03941810131073, 0.809367299079895])


# ---------------------------------------------------------------------------- regularizers
def _reg_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3)).astype("float32")
    y = rng.normal(size=(6, 2)).astype("float32")
    w = [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(4,)).astype("float32"),
         rng.normal(size=(4, 2)).astype("float32"), rng.normal(size=(2,)).astype("float32")]
    return x, y, w


@pytest.mark.parametrize("kwargs, want", [
    (dict(kernel_regularizer=regularizers.l1(0.05)),
     ([0.5654570460319519, 0.029635144397616386], 2.6991384029388428,
      [2.6327950954437256, 2.065437078475952], [2.0765087604522705, 1.7930396795272827])),
    (dict(activity_regularizer=regularizers.l1_l2(l1=0.02, l2=0.03)),
     ([0.11709904670715332, 0.029635144397616386], 2.2507803440093994,
      [2.185748338699341, 1.6219455003738403], [1.631506323814392, 1.3515305519104004])),
    (dict(kernel_regularizer="l1", bias_regularizer="l1", activity_regularizer="l2"),
     ([0.021062389016151428, 0.11309140920639038, 0.012105482630431652,
       0.029635144397616386], 2.279940605163574,
      [2.2143614292144775, 1.650368332862854], [1.6599096059799194, 1.3817529678344727])),
])
def test_dense_regularizers_join_the_loss_as_keras(kwargs, want):
    losses_want, eval_want, loss_want, val_want = want
    x, y, w = _reg_data()
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="tanh", **kwargs),
                              layers.Dense(2, kernel_regularizer="l2")])
    model.set_weights(w)
    model.compile(O.SGD(0.1), "mse")
    model(engine.tensor(x))
    close([float(v.item()) for v in model.losses], losses_want)
    close(model.evaluate(x, y, verbose=0, batch_size=6), eval_want)
    h = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0,
                  validation_data=(x, y))
    close(h.history["loss"], loss_want)
    close(h.history["val_loss"], val_want)


def test_conv_regularizers_see_keras_layout():
    def first_row(w):  # layout-dependent: w[0] is Keras's first kernel row
        return (w[0] * w[0]).sum() * 0.1

    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 6, 6, 2)).astype("float32")
    y = rng.normal(size=(4, 3)).astype("float32")
    model = keras.Sequential([
        keras.Input((6, 6, 2)),
        layers.Conv2D(3, 3, kernel_regularizer=first_row, bias_regularizer="l2",
                      activity_regularizer=regularizers.L1(0.001)),
        layers.GlobalAveragePooling2D(), layers.Dense(3, kernel_regularizer=first_row)])
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.3
                       for w in model.get_weights()])
    model.compile(O.Adam(0.01), "mse")
    model(engine.tensor(x))
    close([float(v.item()) for v in model.losses], [0.0530296, 0.1649262, 0.0040862, 0.012419],
          atol=1e-6)
    close(model.evaluate(x, y, verbose=0), 1.9287497997283936)
    h = model.fit(x, y, epochs=2, batch_size=2, shuffle=False, verbose=0)
    close(h.history["loss"], [1.9183688163757324, 1.8354334831237793], rtol=2e-6, atol=2e-6)
    xs = rng.normal(size=(4, 7, 2)).astype("float32")
    ys = rng.normal(size=(4, 5, 3)).astype("float32")
    conv = keras.Sequential([keras.Input((7, 2)), layers.Conv1D(3, 3, kernel_regularizer=first_row,
                                                               activity_regularizer="l2")])
    conv.set_weights([rng.normal(size=w.shape).astype("float32") * 0.3
                      for w in conv.get_weights()])
    conv.compile(O.SGD(0.05), "mae")
    conv(engine.tensor(xs))
    close([float(v.item()) for v in conv.losses], [0.0712647, 0.024772], atol=1e-6)
    h = conv.fit(xs, ys, epochs=2, batch_size=3, shuffle=False, verbose=0)
    close(h.history["loss"], [1.0011577606201172, 0.970946729183197])


def test_regularizer_identifiers_frozen_layers_and_saving(tmp_path):
    assert regularizers.get("l1").get_config() == {"l1": 0.01}       # Keras's defaults
    assert regularizers.get("l2").get_config() == {"l2": 0.01}
    assert regularizers.l1_l2().get_config() == {"l1": 0.0, "l2": 0.0}
    with pytest.raises(ValueError, match="Keras 3 has no 'l1_l2' string"):
        layers.Dense(2, kernel_regularizer="l1_l2")
    with pytest.raises(ValueError, match="kernel_constraint= is not supported"):
        layers.Dense(2, kernel_constraint="non_neg")
    dense = layers.Dense(2, kernel_regularizer=regularizers.L2(0.5), use_bias=False)
    model = keras.Sequential([keras.Input((2,)), dense])
    model.set_weights([np.array([[1.0, 2.0], [0.0, -1.0]], "float32")])
    close([v.item() for v in model.losses], [0.5 * 6.0])  # by hand: 0.5·(1 + 4 + 1)
    dense.trainable = False
    assert model.losses == []                              # Keras: trainable weights only
    dense.trainable = True
    model.compile("sgd", "mse")
    model.save(tmp_path / "m.stepgrad")
    loaded = keras.load_model(tmp_path / "m.stepgrad")
    assert loaded.layers[0].kernel_regularizer.get_config() == {"l2": 0.5}
    close([v.item() for v in loaded.losses], [3.0])


# ---------------------------------------------------------------------------- go_backwards
def test_go_backwards_keeps_the_reading_order():
    # by hand: h = x + h, read 3, 2, 1 → 3, 5, 6 (Keras 3.15 returns [3, 5, 6] too)
    rnn = layers.SimpleRNN(1, activation=None, use_bias=False, kernel_initializer="ones",
                           recurrent_initializer="ones", return_sequences=True,
                           go_backwards=True)
    close(rnn(engine.tensor(np.arange(1, 4, dtype="float32").reshape(1, 3, 1))).data.ravel(),
          [3, 5, 6])


@pytest.mark.parametrize("cls, want", [
    ("LSTM", [[-0.069397, -0.037281, 0.400982, 1.2e-05, 0.217068, -0.108825, -0.378454,
               -0.024418], [-0.378454, -0.024418, -0.038157, 0.007624],
              [-0.533631, -0.446218, -0.067365, 0.024555]]),
    ("GRU", [[-0.683406, 0.450349, -0.338492, 0.066964, -0.006944, 0.151524, -0.339053,
              -0.497365], [-0.339053, -0.497365, 0.28902, -0.304665]]),
])
def test_go_backwards_matches_keras(cls, want):
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype("float32")
    i = keras.Input((4, 3))
    model = keras.Model(i, getattr(layers, cls)(2, return_sequences=True, return_state=True,
                                                go_backwards=True)(i))
    r = np.random.default_rng(4)
    model.set_weights([r.normal(size=w.shape).astype("float32") * 0.5
                       for w in model.get_weights()])
    outs = model(engine.tensor(x))
    for got, expected in zip(outs, want, strict=True):
        close(got.data.ravel()[:8], expected, atol=2e-6)


def test_go_backwards_training_matches_keras():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    y = rng.normal(size=(2, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4, 3)),
                              layers.LSTM(3, go_backwards=True, return_sequences=True),
                              layers.GRU(2, go_backwards=True), layers.Dense(1)])
    r = np.random.default_rng(5)
    model.set_weights([r.normal(size=w.shape).astype("float32") * 0.5
                       for w in model.get_weights()])
    model.compile(O.Adam(0.01), "mse")
    h = model.fit(x, y, epochs=3, batch_size=2, verbose=0, shuffle=False)
    close(h.history["loss"], [0.31946855783462524, 0.3028686046600342, 0.2864229381084442])


# ------------------------------------------------------------------------------- losses
def _loss_data():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(6, 4)).astype("float32")
    ys = {"r": rng.normal(size=(6, 3)).astype("float32"),
          "pos": rng.uniform(0.1, 2, size=(6, 3)).astype("float32"),
          "prob": rng.dirichlet(np.ones(3), size=6).astype("float32"),
          "hot": np.eye(3, dtype="float32")[rng.integers(0, 3, 6)],
          "01": rng.integers(0, 2, size=(6, 3)).astype("float32")}
    w = [rng.normal(size=(4, 3)).astype("float32") * 0.5,
         rng.normal(size=(3,)).astype("float32") * 0.1]
    return x, ys, w


@pytest.mark.parametrize("loss, act, y, want", [
    ("huber", None, "r", (0.63708, [0.625814, 0.548642])),
    (lambda: losses.Huber(delta=0.3), None, "r", (0.272558, [0.271103, 0.261158])),
    ("log_cosh", None, "r", (0.564367, [0.555648, 0.495893])),
    ("kl_divergence", "softmax", "prob", (0.396593, [0.391967, 0.326673])),
    ("kld", "softmax", "prob", (0.396593, [0.391967, 0.326673])),
    ("squared_hinge", "tanh", "01", (1.707579, [1.669598, 1.453811])),
    ("hinge", "tanh", "01", (1.191437, [1.181446, 1.114843])),
    ("poisson", "sigmoid", "pos", (1.447701, [1.445385, 1.409897])),
    ("mape", None, "pos", (189.891312, [697.053162, 3202.767822])),
    ("msle", "sigmoid", "pos", (0.214401, [0.214237, 0.212511])),
    ("categorical_hinge", "softmax", "hot", (1.19554, [1.204133, 1.176352])),
    (lambda: losses.CategoricalHinge(), None, "hot", (2.019271, [2.06169, 1.850153])),
])
def test_more_losses_match_keras(loss, act, y, want):
    x, ys, w = _loss_data()
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation=act)])
    model.set_weights(w)
    model.compile(O.SGD(0.1), loss if isinstance(loss, str) else loss())
    close(model.evaluate(x, ys[y], verbose=0), want[0], rtol=2e-6, atol=1e-6)
    h = model.fit(x, ys[y], epochs=2, batch_size=4, shuffle=False, verbose=0)
    close(h.history["loss"], want[1], rtol=2e-6, atol=1e-6)


# ------------------------------------------------------------------------------- metrics
def test_more_metrics_match_keras():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(10, 4)).astype("float32")
    rng.integers(0, 2, size=(10, 1))
    ypos = rng.uniform(0.1, 2, size=(10, 1)).astype("float32")
    w = [rng.normal(size=(4, 1)).astype("float32"), np.array([0.1], "float32")]
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.set_weights(w)
    model.compile(O.SGD(0.1), "binary_crossentropy", metrics=[
        metrics.Precision(), metrics.Recall(), metrics.Precision(thresholds=0.3, name="p3"),
        "mape", "kl_divergence", metrics.RootMeanSquaredError(), "MSLE", "poisson", "hinge",
        "squared_hinge", "categorical_hinge", "binary_crossentropy"])
    y = ypos > 1
    h = model.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0,
                  validation_data=(x[:7], y[:7])).history
    want = {"loss": [0.39177, 0.380342], "precision": [1.0, 1.0], "recall": [0.75, 0.75],
            "p3": [0.75, 0.75], "mape": [113616616.0, 112167504.0],
            "kl_divergence": [0.259378, 0.249971],
            "root_mean_squared_error": [0.34251, 0.337075], "MSLE": [0.056989, 0.055117],
            "poisson": [0.618962, 0.611619], "hinge": [0.867649, 0.862688],
            "squared_hinge": [0.944546, 0.937954], "categorical_hinge": [0.867649, 0.862688],
            "binary_crossentropy": [0.39177, 0.380342],
            "val_p3": [1.0, 1.0], "val_recall": [0.75, 0.75],
            "val_root_mean_squared_error": [0.358553, 0.35239],
            "val_mape": [44299676.0, 43379560.0], "val_kl_divergence": [0.359727, 0.346863]}
    for key, values in want.items():
        close(h[key], values, rtol=1e-6, atol=1e-6)
    close(model.evaluate(x, y, verbose=0, batch_size=3),
          [0.369437, 1.0, 0.75, 0.75, 109529192.0, 0.242804, 0.331398, 0.053082, 0.604843,
           0.857019, 0.928883, 0.857019, 0.369437], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="top_k= and class_id= are not supported"):
        metrics.Precision(top_k=2)


# ----------------------------------------------------------------------------- optimizers
@pytest.mark.parametrize("opt, want", [
    ("adagrad", [1.2242414, 1.2203865, 1.2176499, 1.2153926]),
    ("nadam", [1.2246807, 1.218293, 1.2130615, 1.2074891]),
    ("adamax", [1.2247759, 1.2168176, 1.2115079, 1.2065021]),
    ("adadelta", [1.223775, 1.2237661, 1.2237574, 1.2237483]),
    (lambda: O.Adagrad(0.05, initial_accumulator_value=0.2),
     [1.2459555, 1.1029764, 1.0270034, 0.9764747]),
    (lambda: O.Nadam(0.02, beta_1=0.8), [1.2450424, 1.1176976, 1.0324686, 0.9639078]),
    (lambda: O.Adamax(0.03), [1.2584299, 1.0507826, 0.9593843, 0.8989422]),
    (lambda: O.Adadelta(1.0, rho=0.9), [1.2245334, 1.2181953, 1.2119852, 1.205809]),
    (lambda: O.Adam(0.05, amsgrad=True), [1.2878003, 0.9287429, 0.803421, 0.7475049]),
])
def test_more_optimizers_match_keras(opt, want):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(12, 4)).astype("float32")
    y = rng.normal(size=(12, 2)).astype("float32")
    w = [rng.normal(size=(4, 5)).astype("float32") * 0.5,
         rng.normal(size=(5,)).astype("float32") * 0.1,
         rng.normal(size=(5, 2)).astype("float32") * 0.5, np.zeros(2, "float32")]
    model = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="tanh"),
                              layers.Dense(2)])
    model.set_weights(w)
    model.compile(opt if isinstance(opt, str) else opt(), "mse")
    h = model.fit(x, y, epochs=4, batch_size=5, shuffle=False, verbose=0)
    close(h.history["loss"], want, rtol=3e-6, atol=3e-6)


# ------------------------------------------------------------------ shapes, EarlyStopping
def test_model_input_and_output_shape():
    seq = keras.Sequential([keras.Input((5, 3)), layers.LSTM(4, return_sequences=True),
                            layers.Flatten(), layers.Dense(2)])
    assert (seq.input_shape, seq.output_shape) == ((None, 5, 3), (None, 2))
    seq = keras.Sequential([layers.Dense(4, input_shape=(7,)), layers.Dense(2)])
    assert (seq.input_shape, seq.output_shape) == ((None, 7), (None, 2))
    conv = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.MaxPooling2D()])
    assert (conv.input_shape, conv.output_shape) == ((None, 8, 8, 3), (None, 3, 3, 4))
    a, b = keras.Input((3,)), keras.Input((2,))
    two = keras.Model([a, b], [layers.Dense(1)(layers.concatenate([a, b])), layers.Dense(3)(a)])
    assert two.input_shape == [(None, 3), (None, 2)]
    assert two.output_shape == [(None, 1), (None, 3)]
    with pytest.raises(AttributeError, match="no input_shape yet"):
        _ = keras.Sequential([layers.Dense(2)]).input_shape


@pytest.mark.parametrize("kwargs, want", [
    (dict(), (2, 1, 1.0)),
    (dict(start_from_epoch=2), (3, 2, 2.0)),
    (dict(start_from_epoch=3, patience=2), (6, 4, 0.5)),
    (dict(start_from_epoch=5, patience=1, restore_best_weights=True), (6, 5, 4.0)),
])
def test_early_stopping_start_from_epoch(kwargs, want):
    model = keras.Sequential([keras.Input((1,)), layers.Dense(1)])
    es = EarlyStopping(monitor="val_loss", **kwargs)
    es.set_model(model)
    model.stop_training = False
    es.on_train_begin()
    for epoch, value in enumerate([5.0, 1.0, 2.0, 3.0, 0.5, 4.0, 4.5, 4.6, 4.7]):
        es.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            break
    assert (es.stopped_epoch, es.best_epoch, es.best) == want
