"""model.summary() of Functional models as Keras 3.15 prints it: a row per Input and layer in
Keras's order, output shapes with a None batch (and None where an Input leaves a size open),
parameter counts, "Connected to" when the model branches, and the totals.

Every expected table below was printed by Keras 3.15.1 (torch backend) for the same model,
its layers named as stepgrad names them (``name=`` in the Keras script), e.g.::

    image = keras.Input(shape=(8, 8, 1), name="image"); meta = keras.Input(shape=(3,), ...)
    x = layers.Conv2D(4, (3, 3), activation="relu", name="conv2d")(image) ...
    keras.Model(inputs=[image, meta], outputs=out, name="A").summary()

Keras's box-drawing table is written here as rows (layer (type), output shape, param #,
connected to); the memory sizes Keras adds to the totals ("(468.00 B)") are not printed.
"""
import re

import engine
import nn
from nn.keras import layers as L
from nn.keras.layers import Input


def table(model):
    """(title, rows split into their columns, header, totals) of ``model.summary()``."""
    lines = []
    model.summary(print_fn=lines.append)
    assert len(lines) == 1
    text = lines[0].splitlines()
    rules = [i for i, line in enumerate(text) if line and set(line) == {"="}]
    assert len(rules) == 3, text
    header = re.split(r"\s{2,}", text[rules[0] + 1].strip())
    rows = [tuple(re.split(r"\s{2,}", line.strip())) for line in text[rules[1] + 1:rules[2]]]
    totals = text[rules[2] + 1:]
    return text[0], rows, header, totals


def two_inputs():
    engine.manual_seed(0)
    image = Input(shape=(8, 8, 1), name="image")
    meta = Input(shape=(3,), name="meta")
    x = L.Conv2D(4, (3, 3), activation="relu")(image)
    x = L.MaxPooling2D((2, 2))(x)
    x = L.Flatten()(x)
    m = L.Dense(8, activation="relu")(meta)
    out = L.Dense(1, activation="sigmoid")(L.concatenate([x, m]))
    return nn.keras.Model(inputs=[image, meta], outputs=out, name="A")


def test_two_inputs_as_keras():
    title, rows, header, totals = table(two_inputs())
    assert title == 'Model: "A"'
    assert header == ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    # Keras 3.15.1: the Inputs sit at their depth in the graph (meta after max_pooling2d)
    assert rows == [
        ("image (InputLayer)", "(None, 8, 8, 1)", "0", "-"),
        ("conv2d (Conv2D)", "(None, 6, 6, 4)", "40", "image[0][0]"),
        ("max_pooling2d (MaxPooling2D)", "(None, 3, 3, 4)", "0", "conv2d[0][0]"),
        ("meta (InputLayer)", "(None, 3)", "0", "-"),
        ("flatten (Flatten)", "(None, 36)", "0", "max_pooling2d[0][0]"),
        ("dense (Dense)", "(None, 8)", "32", "meta[0][0]"),
        ("concatenate (Concatenate)", "(None, 44)", "0", "flatten[0][0], dense[0][0]"),
        ("dense_1 (Dense)", "(None, 1)", "45", "concatenate[0][0]"),
    ]
    assert totals == ["Total params: 117", "Trainable params: 117", "Non-trainable params: 0"]


def test_unnamed_inputs_two_outputs_and_batch_norm_as_keras():
    engine.manual_seed(0)
    a, b = Input((4,)), Input((6,))
    n = L.BatchNormalization()(L.add([L.Dense(5)(a), L.Dense(5)(b)]))
    model = nn.keras.Model([a, b], [L.Dense(1)(n), L.Dense(3, activation="softmax")(n)],
                           name="B")
    model.train()
    title, rows, _, totals = table(model)
    assert rows == [  # Keras 3.15.1
        ("input_layer (InputLayer)", "(None, 4)", "0", "-"),
        ("input_layer_1 (InputLayer)", "(None, 6)", "0", "-"),
        ("dense (Dense)", "(None, 5)", "25", "input_layer[0][0]"),
        ("dense_1 (Dense)", "(None, 5)", "35", "input_layer_1[0][0]"),
        ("add (Add)", "(None, 5)", "0", "dense[0][0], dense_1[0][0]"),
        ("batch_normalization (BatchNormalization)", "(None, 5)", "20", "add[0][0]"),
        ("dense_2 (Dense)", "(None, 1)", "6", "batch_normalization[0][0]"),
        ("dense_3 (Dense)", "(None, 3)", "18", "batch_normalization[0][0]"),
    ]
    assert totals == ["Total params: 104", "Trainable params: 94", "Non-trainable params: 10"]
    assert model.training and all(m.training for m in model.modules())  # modes kept


def test_shared_layer_lists_each_call_as_keras():
    a, b = Input((4,), name="left"), Input((4,), name="right")
    shared = L.Dense(3)
    out = L.Dense(1)(L.subtract([shared(a), shared(b)]))
    _, rows, _, totals = table(nn.keras.Model([a, b], out, name="C"))
    assert rows == [  # Keras 3.15.1: dense[1][0] is the second call's output
        ("left (InputLayer)", "(None, 4)", "0", "-"),
        ("right (InputLayer)", "(None, 4)", "0", "-"),
        ("dense (Dense)", "(None, 3)", "15", "left[0][0], right[0][0]"),
        ("subtract (Subtract)", "(None, 3)", "0", "dense[0][0], dense[1][0]"),
        ("dense_1 (Dense)", "(None, 1)", "4", "subtract[0][0]"),
    ]
    assert totals[0] == "Total params: 19"


def test_open_sequence_length_is_none_as_keras():
    title_in = Input(shape=(None,), name="title", dtype="int32")
    meta = Input(shape=(2,), name="meta")
    g = L.GlobalAveragePooling1D()(L.Embedding(100, 8)(title_in))
    model = nn.keras.Model([title_in, meta], L.Dense(1)(L.concatenate([g, meta])), name="F")
    _, rows, _, totals = table(model)
    assert rows == [  # Keras 3.15.1
        ("title (InputLayer)", "(None, None)", "0", "-"),
        ("embedding (Embedding)", "(None, None, 8)", "800", "title[0][0]"),
        ("global_average_pooling1d (GlobalAveragePooling1D)", "(None, 8)", "0",
         "embedding[0][0]"),
        ("meta (InputLayer)", "(None, 2)", "0", "-"),
        ("concatenate (Concatenate)", "(None, 10)", "0",
         "global_average_pooling1d[0][0], meta[0][0]"),
        ("dense (Dense)", "(None, 1)", "11", "concatenate[0][0]"),
    ]
    assert totals[0] == "Total params: 811"


def test_one_input_branching_and_chain_as_keras():
    engine.manual_seed(0)
    inp = Input(shape=(8, 8, 1))
    a = L.Conv2D(4, (1, 1), padding="same", activation="relu")(inp)
    b = L.MaxPooling2D((3, 3), strides=(1, 1), padding="same")(inp)
    model = nn.keras.Model(inp, L.Dense(3)(L.Flatten()(L.concatenate([a, b]))), name="D")
    _, rows, header, totals = table(model)
    assert header[-1] == "Connected to"
    assert rows == [  # Keras 3.15.1
        ("input_layer (InputLayer)", "(None, 8, 8, 1)", "0", "-"),
        ("conv2d (Conv2D)", "(None, 8, 8, 4)", "8", "input_layer[0][0]"),
        ("max_pooling2d (MaxPooling2D)", "(None, 8, 8, 1)", "0", "input_layer[0][0]"),
        ("concatenate (Concatenate)", "(None, 8, 8, 5)", "0",
         "conv2d[0][0], max_pooling2d[0][0]"),
        ("flatten (Flatten)", "(None, 320)", "0", "concatenate[0][0]"),
        ("dense (Dense)", "(None, 3)", "963", "flatten[0][0]"),
    ]
    assert totals[0] == "Total params: 971"
    # A chain: Keras's three columns, the Input's row first, the default name.
    inp = Input(shape=(5,))
    chain = nn.keras.Model(inp, L.Dense(2)(L.Dense(4, activation="relu")(inp)))
    title, rows, header, totals = table(chain)
    assert title == 'Model: "functional"'
    assert header == ["Layer (type)", "Output Shape", "Param #"]
    assert rows == [("input_layer (InputLayer)", "(None, 5)", "0"),
                    ("dense (Dense)", "(None, 4)", "24"), ("dense_1 (Dense)", "(None, 2)", "10")]
    assert totals == ["Total params: 34", "Trainable params: 34", "Non-trainable params: 0"]


def test_frozen_layer_counts_as_non_trainable_and_sequential_is_unchanged():
    model = two_inputs()
    model.get_layer("conv2d").trainable = False
    _, rows, _, totals = table(model)
    assert rows[1][2] == "40"  # still its parameters, as Keras
    assert totals == ["Total params: 117", "Trainable params: 77", "Non-trainable params: 40"]
    seq = nn.keras.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(1)])
    title, rows, header, _ = table(seq)
    assert header == ["Layer (type)", "Output Shape", "Param #"]
    assert [r[0] for r in rows] == ["0 (Dense)", "1 (Dense)"]  # no Input row, as before


def test_summary_leaves_the_model_usable():
    model = two_inputs()
    model.summary(print_fn=lambda s: None)
    out = model(engine.zeros(3, 8, 8, 1), engine.zeros(3, 3))
    assert out.shape == (3, 1)
