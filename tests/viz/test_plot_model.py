"""viz.plot_model: Keras's layer picture of a model, Sequential or Functional."""
import re
import struct

import numpy as np
import pytest

import engine
import nn
import viz
from nn.keras.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    Input,
    MaxPooling2D,
    add,
    concatenate,
    subtract,
)

from .helpers import needs_dot, nodes, text, visible_edges


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
                  "flatten: Flatten", "dense: Dense", "8 parameters", "(None, 8, 8, 5)"):
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


# ------------------------------------------------------------ several inputs and outputs
# Shapes below are hand-derived (batch of 2 zeros): Conv2D 3×3 'valid' on 8×8 → 6×6, 3·3·1·4
# + 4 = 40 parameters; MaxPooling2D 2 → 3×3; 3·3·4 = 36; Dense(8) on 3: 32; 36 + 8 = 44;
# Dense(1) on 44: 45 — the counts of Keras 3.15's summary of the same model.
def _two_inputs():
    engine.manual_seed(0)
    image = Input(shape=(8, 8, 1), name="image")
    meta = Input(shape=(3,), name="meta")
    x = Flatten()(MaxPooling2D((2, 2))(Conv2D(4, (3, 3), activation="relu")(image)))
    m = Dense(8, activation="relu")(meta)
    return nn.keras.Model(inputs=[image, meta],
                          outputs=Dense(1, activation="sigmoid")(concatenate([x, m])))


def _boxes(g):
    """Box title (before the shape) → (DOT name, the box's text)."""
    out = {}
    for name, attrs in nodes(g).items():
        t = text(attrs)
        if t:
            out[t.split(" (")[0]] = (name, t)
    return out


def _arrows(g, boxes):
    names = {v[0]: k for k, v in boxes.items()}
    return {(names.get(t), names.get(h)) for t, h, _ in visible_edges(g)}


def test_plot_model_of_a_two_input_model(tmp_path):
    model = _two_inputs()
    g = viz.plot_model(model, to_file=tmp_path / "m.dot", show_shapes=True)
    assert (tmp_path / "m.dot").read_text() == g.source
    boxes = _boxes(g)
    assert set(boxes) == {"image: InputLayer", "meta: InputLayer", "conv2d: Conv2D",
                          "max_pooling2d: MaxPooling2D", "flatten: Flatten", "dense: Dense",
                          "concatenate: Concatenate", "dense_1: Dense"}
    assert boxes["image: InputLayer"][1] == "image: InputLayer (None, 8, 8, 1)"
    assert boxes["meta: InputLayer"][1] == "meta: InputLayer (None, 3)"
    for title, shape, params in [("conv2d: Conv2D", "(None, 6, 6, 4)", "40 parameters"),
                                 ("flatten: Flatten", "(None, 36)", None),
                                 ("dense: Dense", "(None, 8)", "32 parameters"),
                                 ("concatenate: Concatenate", "(None, 44)", None),
                                 ("dense_1: Dense", "(None, 1)", "45 parameters")]:
        assert shape in boxes[title][1], title
        assert params is None or params in boxes[title][1], title
    assert _arrows(g, boxes) == {
        ("image: InputLayer", "conv2d: Conv2D"),
        ("conv2d: Conv2D", "max_pooling2d: MaxPooling2D"),
        ("max_pooling2d: MaxPooling2D", "flatten: Flatten"),
        ("meta: InputLayer", "dense: Dense"),
        ("flatten: Flatten", "concatenate: Concatenate"),
        ("dense: Dense", "concatenate: Concatenate"),
        ("concatenate: Concatenate", "dense_1: Dense")}
    # both inputs on the first rank, the first Input first in the text
    first = re.search(r"\{\s*rank=min\s*(\w+)\s*(\w+)\s*\}", g.source)
    assert first and [first.group(1), first.group(2)] == [boxes["image: InputLayer"][0],
                                                         boxes["meta: InputLayer"][0]]
    assert "float32" not in g.source  # show_dtype=False: no dtype anywhere


def test_plot_model_of_two_outputs_unnamed_inputs_and_batch_norm():
    engine.manual_seed(0)
    a, b = Input((4,)), Input((6,))
    n = BatchNormalization()(add([Dense(5)(a), Dense(5)(b)]))
    model = nn.keras.Model([a, b], [Dense(1)(n), Dense(3, activation="softmax")(n)])
    g = viz.plot_model(model, to_file=None)
    boxes = _boxes(g)
    # Keras's names of unnamed Inputs; BatchNormalization's 4·5 weights (Keras's count);
    # its moving statistics are inside its box, not loose input boxes
    assert set(boxes) == {"input_layer: InputLayer", "input_layer_1: InputLayer",
                          "dense: Dense", "dense_1: Dense", "add: Add",
                          "batch_normalization: BatchNormalization", "dense_2: Dense",
                          "dense_3: Dense"}
    assert "20 parameters" in boxes["batch_normalization: BatchNormalization"][1]
    output_fill = 'BGCOLOR="#b9e8b9"'
    outputs = [k for k, (name, _) in boxes.items() if output_fill in nodes(g)[name]]
    assert outputs == ["dense_2: Dense", "dense_3: Dense"]  # both outputs, in order
    assert ("batch_normalization: BatchNormalization", "dense_3: Dense") in _arrows(g, boxes)


def test_plot_model_draws_an_integer_input_no_gradient_reaches_and_a_shared_layer():
    text_in = Input(shape=(None,), name="title", dtype="int32")
    meta = Input(shape=(2,), name="meta")
    pooled = GlobalAveragePooling1D()(Embedding(100, 8)(text_in))
    model = nn.keras.Model([text_in, meta], Dense(1)(concatenate([pooled, meta])))
    g = viz.plot_model(model, to_file=None)
    boxes = _boxes(g)
    assert boxes["title: InputLayer"][1] == "title: InputLayer (None, None)"  # open length
    assert "(None, None, 8)" in boxes["embedding: Embedding"][1]
    assert ("title: InputLayer", "embedding: Embedding") in _arrows(g, boxes)
    assert ("meta: InputLayer", "concatenate: Concatenate") in _arrows(g, boxes)
    left, right = Input((4,), name="left"), Input((4,), name="right")
    shared = Dense(3)
    model = nn.keras.Model([left, right], subtract([shared(left), shared(right)]))
    g = viz.plot_model(model, to_file=None)
    boxes = _boxes(g)
    arrows = {(t, h): attrs for t, h, attrs in visible_edges(g)}
    assert (boxes["left: InputLayer"][0], boxes["dense: Dense"][0]) in arrows
    assert (boxes["right: InputLayer"][0], boxes["dense: Dense"][0]) in arrows
    assert 'label="2 tensors"' in arrows[(boxes["dense: Dense"][0],
                                          boxes["subtract: Subtract"][0])]


def test_keras_spelling_of_plot_model(tmp_path):
    from nn import keras
    assert keras.utils.plot_model is viz.plot_model
    model = _two_inputs()
    model.get_layer("conv2d").trainable = False
    g = keras.utils.plot_model(model, to_file=tmp_path / "model.dot", show_shapes=True,
                               show_dtype=False, show_layer_names=True, rankdir="TB",
                               expand_nested=False, dpi=200, show_layer_activations=True,
                               show_trainable=True)
    assert "rankdir=TB" in g.source
    boxes = _boxes(g)
    conv = boxes["conv2d: Conv2D"][1]
    assert "activation: relu" in conv and "40 parameters, non-trainable" in conv
    assert "activation: sigmoid" in boxes["dense_1: Dense"][1]
    assert "45 parameters, trainable" in boxes["dense_1: Dense"][1]
    assert "activation" not in boxes["flatten: Flatten"][1]  # no activation attribute
    g = viz.plot_model(model, to_file=None, show_shapes=False, show_layer_names=False,
                       show_dtype=True, rankdir="LR")
    titles = [text(a) for a in nodes(g).values() if text(a)]
    assert "rankdir=LR" in g.source
    assert "Conv2D float32 | 40 parameters" in titles and "InputLayer float32" in titles
    assert not any("(None, " in t or "conv2d" in t for t in titles)
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        viz.plot_model(model, to_file=None, dpi=0)
    with pytest.raises(ValueError, match="rankdir must be"):
        viz.plot_model(model, to_file=None, rankdir="XY")
    with pytest.raises(ValueError, match=r"2 inputs \(image, meta\); input_shape gives 1"):
        viz.plot_model(model, to_file=None, input_shape=[(8, 8, 1)])
    assert "(None, 6, 6, 1)" in viz.plot_model(_one_input_sequential(), to_file=None,
                                            input_shape=(6, 6, 1)).source


def _one_input_sequential():
    return nn.keras.Sequential([Conv2D(2, (1, 1)), MaxPooling2D((1, 1))])


@needs_dot
def test_plot_model_dpi_sets_the_png_resolution_only(tmp_path):
    model = _two_inputs()

    def png_size(path):
        head = path.read_bytes()[:24]
        return struct.unpack(">II", head[16:24])

    viz.plot_model(model, to_file=tmp_path / "a.png", rankdir="TB")
    g = viz.plot_model(model, to_file=tmp_path / "b.png", rankdir="TB", dpi=192)
    w96, h96 = png_size(tmp_path / "a.png")
    w192, h192 = png_size(tmp_path / "b.png")
    assert w192 == pytest.approx(2 * w96, rel=0.05) and h192 == pytest.approx(2 * h96, rel=0.05)
    assert "dpi" not in g.source  # the returned picture (notebooks) stays at 96 dpi
