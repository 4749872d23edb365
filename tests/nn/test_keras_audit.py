"""Keras 3.15 parity found by an audit: each expected value is a literal recorded from a
Keras 3.15.1 run (torch backend, the same data and initial weights; noted as such) or
derived by hand in numpy, never from stepgrad's own output."""
import csv

import numpy as np
import pytest

import engine
import nn
from nn.keras import callbacks as C
from nn.keras import layers as L
from nn.keras import optimizers


# ------------------------------------------------------------------------- count_params
def test_count_params_counts_batchnorm_moving_statistics_as_keras():
    """Keras's count_params() counts every weight, trainable or not; BatchNormalization's
    moving mean and variance too (stepgrad counted the parameters only: 223)."""
    model = nn.keras.Sequential([
        L.Input((8, 8, 3)), L.Conv2D(4, 3, activation="relu", padding="same"),
        L.BatchNormalization(momentum=0.9), L.MaxPooling2D(), L.Conv2D(5, (2, 2), strides=2),
        L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")])
    # Keras 3.15.1: model.count_params() == 231 (112 + 16 + 85 + 18; 8 non-trainable)
    assert model.count_params() == 231
    assert model.count_params() == sum(w.size for w in model.get_weights())


# ---------------------------------------------------------------- learning_rate in the logs
def test_callbacks_and_csv_logger_see_keras_3s_learning_rate_key(tmp_path):
    """Keras 3 logs the rate as 'learning_rate' (ReduceLROnPlateau, LearningRateScheduler):
    a callback reading logs['learning_rate'] and CSVLogger's columns see it. stepgrad put only
    Keras 2's 'lr' in the logs (History alone added 'learning_rate')."""
    seen = []

    class Spy(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(logs["learning_rate"])

    x = np.linspace(-1, 1, 40, dtype=np.float32).reshape(20, 2)
    y = x.sum(axis=1, keepdims=True)
    model = nn.keras.Sequential([L.Input((2,)), L.Dense(1)])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    path = tmp_path / "log.csv"
    # min_delta=10: no epoch after the first improves, so with patience=1 the rate halves at
    # the end of epochs 1 and 2 whatever the weights. Keras 3.15.1, same callbacks:
    # history['learning_rate'] == [0.01, 0.01, 0.005, 0.0025] (float32 rounded)
    h = model.fit(x, y, epochs=4, batch_size=5, shuffle=False, verbose=0, callbacks=[
        C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0),
        C.CSVLogger(path), Spy()])
    assert h.history["learning_rate"] == pytest.approx([0.01, 0.01, 0.005, 0.0025])
    assert seen == h.history["learning_rate"]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert "learning_rate" in rows[0]
    assert [float(r["learning_rate"]) for r in rows] == h.history["learning_rate"]


# ------------------------------------------------------------------- several inputs
def _two_input_data():
    rng = np.random.default_rng(5)
    xa = rng.normal(size=(50, 3)).astype(np.float32).round(2)
    xb = rng.normal(size=(50, 2)).astype(np.float32).round(2)
    y = ((xa.sum(1) - xb[:, 0]) > 0).astype(np.float32)
    return xa, xb, y


# The initial weights of Keras 3.15.1's model (keras.utils.set_random_seed(3)), copied here.
_W0 = [np.array([[0.14580512046813965, -0.5886753797531128, -0.3489774465560913,
                  -0.73436439037323],
                 [-0.8796416521072388, -0.617646336555481, -0.8830460906028748,
                  0.4169125556945801],
                 [0.49000510573387146, -0.6941218972206116, 0.03889156132936478,
                  0.9089590907096863]], np.float32),
       np.zeros(4, np.float32),
       np.array([[-0.9418566226959229, -0.03460384160280228],
                 [1.0741487741470337, -0.2928503751754761]], np.float32),
       np.zeros(2, np.float32),
       np.array([[0.7422388792037964], [-0.12751054763793945], [-0.3395566940307617],
                 [0.3360809087753296], [-0.7876764535903931], [-0.6716372966766357]],
                np.float32),
       np.zeros(1, np.float32)]

# Keras 3.15.1: fit([xa, xb], y, batch_size=16, epochs=3, validation_split=0.2,
# shuffle=False) with SGD(0.3, momentum=0.5), binary_crossentropy, metrics=['accuracy']
# (and the same numbers with dict inputs and validation_data = the last 10 samples).
_KERAS_HISTORY = {"loss": [0.7953336834907532, 0.6135690808296204, 0.5242994427680969],
                  "accuracy": [0.5, 0.625, 0.7250000238418579],
                  "val_loss": [0.5734063386917114, 0.46169012784957886, 0.4054923951625824],
                  "val_accuracy": [0.699999988079071, 0.8999999761581421, 0.8999999761581421]}
_KERAS_LAST_KERNEL = [0.7731698155403137, -0.5060662031173706, -0.6358328461647034,
                      0.3407807946205139, 0.06787494570016861, -0.7972488403320312]
_KERAS_LAST_BIAS = 0.1610855907201767
_KERAS_EVALUATE = [0.45888638496398926, 0.800000011920929]  # evaluate(batch_size=7)
_KERAS_PREDICT = [0.2377167046070099, 0.6480118632316589, 0.33944347500801086,
                  0.5256219506263733]  # predict([xa[:4], xb[:4]])


def _two_input_model():
    a, b = L.Input((3,), name="a"), L.Input((2,), name="b")
    h = L.concatenate([L.Dense(4, activation="tanh")(a), L.Dense(2, activation="relu")(b)])
    model = nn.keras.Model([a, b], L.Dense(1, activation="sigmoid")(h))
    model.set_weights(_W0)
    model.compile(optimizer=optimizers.SGD(0.3, momentum=0.5), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def _check_against_keras(model, h):
    assert list(h.history) == list(_KERAS_HISTORY)
    for key, values in _KERAS_HISTORY.items():
        np.testing.assert_allclose(h.history[key], values, rtol=1e-5, atol=1e-6, err_msg=key)
    kernel, bias = model.get_weights()[-2:]
    np.testing.assert_allclose(kernel.ravel(), _KERAS_LAST_KERNEL, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, [_KERAS_LAST_BIAS], rtol=1e-5, atol=1e-6)


def test_fit_evaluate_predict_take_a_list_of_arrays_one_per_input_as_keras():
    """model.fit([xa, xb], y) with validation_split: the last 20% of every input held out,
    the same batches (and the last partial one) for both inputs; Keras 3.15's numbers."""
    xa, xb, y = _two_input_data()
    model = _two_input_model()
    h = model.fit([xa, xb], y, batch_size=16, epochs=3, validation_split=0.2, shuffle=False,
                  verbose=0)
    _check_against_keras(model, h)
    np.testing.assert_allclose(model.evaluate([xa, xb], y, batch_size=7, verbose=0),
                               _KERAS_EVALUATE, rtol=1e-5)
    np.testing.assert_allclose(model.predict((xa[:4], xb[:4]), verbose=0).ravel(),
                               _KERAS_PREDICT, rtol=1e-5)


def test_fit_and_evaluate_take_a_dict_keyed_by_the_inputs_names_as_keras():
    xa, xb, y = _two_input_data()
    model = _two_input_model()
    h = model.fit({"b": xb[:40], "a": xa[:40]}, y[:40], batch_size=16, epochs=3,
                  shuffle=False, verbose=0,
                  validation_data=({"a": xa[40:], "b": xb[40:], "unused": xa[40:]}, y[40:]))
    _check_against_keras(model, h)
    logs = model.evaluate({"a": xa, "b": xb}, y, verbose=0, return_dict=True)
    np.testing.assert_allclose([logs["loss"], logs["accuracy"]], _KERAS_EVALUATE, rtol=1e-5)
    with pytest.raises(ValueError, match=r"keys \['a'\] but the model's Inputs are named "
                                         r"\['a', 'b'\]: \['b'\] missing"):
        model.evaluate({"a": xa}, y, verbose=0)


def test_shuffling_takes_the_same_samples_of_every_input():
    """With learning rate 0 the epoch's loss is the mean of the per-sample losses of the
    training part, whatever the order, but only if each batch pairs xa[i] with xb[i] and
    y[i]; the held-out part is the last 10 samples (numpy, by hand)."""
    xa, xb, y = _two_input_data()
    a, b = L.Input((3,)), L.Input((2,))
    model = nn.keras.Model([a, b], L.Dense(1)(L.concatenate([a, b])))
    kernel = np.array([[0.5], [-1.0], [2.0], [1.5], [-0.25]], np.float32)
    model.set_weights([kernel, np.zeros(1, np.float32)])
    model.compile(optimizer=optimizers.SGD(0.0), loss="mse")
    engine.manual_seed(0)
    h = model.fit([xa, xb], y, batch_size=7, epochs=2, validation_split=0.2, shuffle=True,
                  verbose=0)
    err = (np.concatenate([xa, xb], axis=1) @ kernel)[:, 0] - y
    np.testing.assert_allclose(h.history["loss"], [np.mean(err[:40] ** 2)] * 2, rtol=1e-5)
    np.testing.assert_allclose(h.history["val_loss"], [np.mean(err[40:] ** 2)] * 2,
                               rtol=1e-5)


def test_several_outputs_predict_a_list_and_fit_refuses_them_by_name():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    a = L.Input((3,))
    model = nn.keras.Model(a, [L.Dense(2)(a), L.Dense(1)(a)])
    k1, b1, k2, b2 = model.get_weights()
    out = model.predict(x, batch_size=3, verbose=0)  # Keras: one array per output
    assert isinstance(out, list) and len(out) == 2
    np.testing.assert_allclose(out[0], x @ k1 + b1, rtol=1e-6)
    np.testing.assert_allclose(out[1], x @ k2 + b2, rtol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match="the model has 2 outputs; fit takes a model "
                                                  "with one output"):
        model.fit(x, np.zeros((4, 1)), verbose=0)


def test_a_dict_needs_named_inputs():
    a, b = L.Input((3,)), L.Input((2,))
    model = nn.keras.Model([a, b], L.Dense(1)(L.concatenate([a, b])))
    with pytest.raises(ValueError, match=r"Input\(shape, name='...'\)"):
        model.predict({"a": np.zeros((2, 3)), "b": np.zeros((2, 2))}, verbose=0)
