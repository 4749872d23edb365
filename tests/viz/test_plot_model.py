"""viz.plot_model: Keras's layer picture of a model, Sequential or Functional."""
import numpy as np
import pytest

import engine
import nn
import viz
from nn.keras.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D, concatenate


def test_plot_model_of_a_functional_model(tmp_path):
    engine.manual_seed(0)
    inp = Input(shape=(8, 8, 1))
    a = Conv2D(4, (1, 1), padding="same", activation="relu")(inp)
    b = MaxPooling2D((3, 3), strides=(1, 1), padding="same")(inp)
    x = Dense(3)(Flatten()(concatenate([a, b])))
    model = nn.keras.Model(inputs=inp, outputs=x)
    model.train()
    g = viz.plot_model(model, to_file=tmp_path / "model.dot")
    src = (tmp_path / "model.dot").read_text()
    assert src == g.source
    for label in ("conv2d: Conv2D", "max_pooling2d: MaxPooling2D", "concatenate: Concatenate",
                  "flatten: Flatten", "dense: Dense", "8 parameters", "(2, 8, 8, 5)"):
        assert label in src, label
    assert "input / constant" in src     # the input is drawn as the input, not a parameter
    assert model.training and all(m.training for _, m in model.named_modules())  # restored


def test_plot_model_of_a_sequential_takes_the_shape_summary_knows():
    shapeless = nn.Sequential(nn.Flatten(), nn.Linear(12, 1))
    with pytest.raises(ValueError, match=r"plot_model: the model declares no input shape"):
        viz.plot_model(shapeless, to_file=None)
    assert "1: Linear" in viz.plot_model(shapeless, to_file=None, input_shape=(3, 4)).source
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))  # Linear says (4,)
    g = viz.plot_model(model, to_file=None)
    assert "0: Linear" in g.source and "2: Linear" in g.source
    keras_model = nn.keras.Sequential([Dense(3, input_shape=(4,)), Dense(1)])
    assert "1: Dense" in viz.plot_model(keras_model, to_file=None).source
    assert np.isfinite(keras_model(engine.zeros(2, 4)).data).all()
