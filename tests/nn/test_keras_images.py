"""Keras's image layers on stepgrad: Conv2D, MaxPooling2D, GlobalAveragePooling2D,
BatchNormalization and Input with Keras's (N, H, W, C) layout, against slow references
written on numpy arrays, PyTorch when installed, and Keras's own published numbers."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn
from engine.fast.conv import conv2d_reference, same_padding
from nn.keras.layers import (
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
)


def T(a):
    return engine.tensor(a, dtype=np.float64)


def keras_same(size, k, s, d=1):
    """TensorFlow's 'same' padding (before, after) of one dim."""
    extent = d * (k - 1) + 1
    total = max((-(-size // s) - 1) * s + extent - size, 0)
    return total // 2, total - total // 2


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), f=st.integers(1, 4), h=st.integers(4, 9),
       w=st.integers(4, 9), k=st.sampled_from([(1, 1), (3, 3), (2, 3)]),
       s=st.sampled_from([(1, 1), (2, 2), (1, 2)]), padding=st.sampled_from(["valid", "same"]),
       act=st.sampled_from([None, "relu", "tanh"]), seed=st.integers(0, 2**32 - 1))
def test_conv2d_channels_last_against_a_numpy_reference(n, c, f, h, w, k, s, padding, act,
                                                        seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c))
    layer = Conv2D(f, k, strides=s, padding=padding, activation=act)
    y = layer(T(x))
    wt, b = layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64)
    xc = x.transpose(0, 3, 1, 2)
    if padding == "same":  # TensorFlow's asymmetric padding, made explicit on the input
        (t, bt), (lf, rt) = keras_same(h, k[0], s[0]), keras_same(w, k[1], s[1])
        xc = np.pad(xc, ((0, 0), (0, 0), (t, bt), (lf, rt)))
    ref = conv2d_reference(xc, wt, b, stride=s)
    ref = {None: ref, "relu": np.maximum(ref, 0), "tanh": np.tanh(ref)}[act]
    assert y.shape == ref.transpose(0, 2, 3, 1).shape
    np.testing.assert_allclose(y.data, ref.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


def test_conv2d_channels_last_gradcheck_and_channels_first():
    rng = np.random.default_rng(1)
    layer = Conv2D(3, (3, 3), padding="same", activation="tanh").double()
    layer(T(np.zeros((1, 5, 5, 2))))  # built
    x = T(rng.standard_normal((2, 5, 5, 2))).requires_grad_(True)
    assert engine.gradcheck(lambda x, w, b: _run(layer, x, w, b), x, layer.weight, layer.bias)
    first = Conv2D(3, (3, 3), padding="same", activation="tanh", data_format="channels_first")
    first.build(2, np.float64)
    with engine.no_grad():
        first.weight.copy_(layer.weight)
        first.bias.copy_(layer.bias)
    np.testing.assert_allclose(first(x.permute(0, 3, 1, 2)).data,
                               layer(x).data.transpose(0, 3, 1, 2), rtol=1e-12)


def _run(layer, x, w, b):
    layer.weight, layer.bias = w, b
    return layer(x)


@pytest.mark.parametrize("pool, strides, padding", [((2, 2), None, "valid"),
                                                    ((2, 2), None, "same"),
                                                    ((3, 3), (1, 1), "same"),
                                                    ((3, 2), (2, 1), "same")])
@pytest.mark.parametrize("size", [(7, 7), (8, 5)])
def test_max_pooling_2d_as_tensorflow(pool, strides, padding, size):
    """TensorFlow's max pool: 'same' pads (extra bottom/right) with values that never win."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2,) + size + (3,))
    layer = MaxPooling2D(pool, strides, padding)
    y = layer(T(x).requires_grad_(True))
    s = pool if strides is None else strides
    xp = x
    if padding == "same":
        pads = [keras_same(size[i], pool[i], s[i]) for i in (0, 1)]
        xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=-np.inf)
    ho, wo = (xp.shape[1] - pool[0]) // s[0] + 1, (xp.shape[2] - pool[1]) // s[1] + 1
    ref = np.array([[[xp[:, i * s[0]:i * s[0] + pool[0], j * s[1]:j * s[1] + pool[1]]
                      .max(axis=(1, 2)) for j in range(wo)] for i in range(ho)]])
    ref = ref[0].transpose(2, 0, 1, 3)
    if padding == "same":
        assert ref.shape[1:3] == tuple(-(-n // k) for n, k in zip(size, s, strict=True))
    np.testing.assert_array_equal(y.data, ref)
    assert np.isfinite(y.data).all()


def test_keras_simple_mnist_convnet_listing():
    """Keras's "Simple MNIST convnet" example, its model and compile/fit lines as published
    (data: the MNIST sample instead of keras.datasets.mnist). Its summary's shapes and
    34,826 parameters are Keras's; two epochs on 2,000 images learn the digits."""
    (x_train, y_train), (x_test, y_test) = nn.datasets.mnist_sample()
    x_train, x_test = x_train[:2000] / 255, x_test / 255
    x_train, x_test = np.expand_dims(x_train, -1), np.expand_dims(x_test, -1)
    y_train = nn.keras.utils.to_categorical(y_train[:2000], 10)
    y_test = nn.keras.utils.to_categorical(y_test, 10)
    engine.manual_seed(0)
    model = nn.keras.Sequential([
        Input(shape=(28, 28, 1)),
        Conv2D(32, kernel_size=(3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)),
        Conv2D(64, kernel_size=(3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)),
        Flatten(),
        Dropout(0.5),
        Dense(10, activation="softmax"),
    ])
    s = nn.summary(model, (28, 28, 1))
    assert s.total_params == 34_826
    assert [shape for _, _, shape, _ in s.rows][1:6] == [
        "(None, 26, 26, 32)", "(None, 13, 13, 32)", "(None, 11, 11, 64)", "(None, 5, 5, 64)",
        "(None, 1600)"]
    assert [n for *_, n in s.rows] == [0, 320, 0, 18_496, 0, 0, 0, 16_010]  # Keras's
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=2, validation_split=0.1, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    assert acc > 0.8, acc
    assert [w.shape for w in model.get_weights()[:2]] == [(3, 3, 1, 32), (32,)]  # Keras's


def test_keras_image_model_saves_and_loads(tmp_path):
    engine.manual_seed(0)
    model = nn.keras.Sequential([Conv2D(4, 3, padding="same", activation="relu"),
                                 MaxPooling2D(padding="same"), GlobalAveragePooling2D(),
                                 Dense(2)])
    x = T(np.random.default_rng(0).standard_normal((2, 7, 7, 3))).float()
    y = model(x)
    model.save(tmp_path / "m.stepgrad")
    back = nn.load_model(tmp_path / "m.stepgrad")
    np.testing.assert_array_equal(back(x).data, y.data)


def test_keras_image_layers_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"Conv2D: expected images \(N, H, W, C\)"):
        Conv2D(4, 3)(engine.zeros(2, 28, 28))
    with pytest.raises(ValueError, match="data_format must be 'channels_last'"):
        Conv2D(4, 3, data_format="NHWC")
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        Conv2D(4, 3, padding="causal")
    layer = Conv2D(4, 3)
    layer(engine.zeros(1, 8, 8, 3))
    with pytest.raises(ValueError, match="input with 1 channels, the layer was built for 3"):
        layer(engine.zeros(1, 8, 8, 1))
    with pytest.raises(ValueError, match=r"Input: expected a batch of samples of shape "
                                         r"\(28, 28, 1\), got input of shape \(2, 1, 28, 28\)"):
        Input(shape=(28, 28, 1))(engine.zeros(2, 1, 28, 28))  # channels-first data, refused
    assert Input(shape=(None, 3))(engine.zeros(2, 5, 3)).shape == (2, 5, 3)


def test_global_average_pooling_2d_follows_data_format():
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 3))
    np.testing.assert_allclose(GlobalAveragePooling2D()(T(x)).data, x.mean(axis=(1, 2)))
    np.testing.assert_allclose(
        GlobalAveragePooling2D("channels_first")(T(x.transpose(0, 3, 1, 2))).data,
        x.mean(axis=(1, 2)))


def test_conv2d_channels_last_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 8, 3))
    layer = Conv2D(5, (3, 3), strides=2, padding="valid", activation="relu").double()
    y = layer(T(x))
    tw = torch.tensor(layer.weight.data.astype(np.float64))
    ty = torch.relu(torch.nn.functional.conv2d(torch.tensor(x).permute(0, 3, 1, 2), tw,
                                               torch.tensor(layer.bias.data), stride=2))
    np.testing.assert_allclose(y.data, ty.permute(0, 2, 3, 1).numpy(), rtol=1e-12,
                               atol=1e-12)
    assert same_padding(9, 3, 2, 1) == (1, 1)  # (the 'same' rule used above: TensorFlow's)


# ------------------------------------------------------------------ the Functional API
def inception_listing():
    """Course 001's Inception listing (In [15]) as printed; only the imports changed."""
    from nn import keras
    from nn.keras.layers import Conv2D, Input, MaxPooling2D, concatenate
    num_classes, input_shape = 10, (28, 28, 1)

    def inception_module(layer_in, f1_out, f2_in, f2_out, f3_in, f3_out, f4_out):
        conv1 = Conv2D(f1_out, (1, 1), padding='same', activation='relu')(layer_in)
        conv3 = Conv2D(f2_in, (1, 1), padding='same', activation='relu')(layer_in)
        conv3 = Conv2D(f2_out, (3, 3), padding='same', activation='relu')(conv3)
        conv5 = Conv2D(f3_in, (1, 1), padding='same', activation='relu')(layer_in)
        conv5 = Conv2D(f3_out, (5, 5), padding='same', activation='relu')(conv5)
        pool = MaxPooling2D((3, 3), strides=(1, 1), padding='same')(layer_in)
        pool = Conv2D(f4_out, (1, 1), padding='same', activation='relu')(pool)
        layer_out = concatenate([conv1, conv3, conv5, pool], axis=-1)
        return layer_out
    input_layer = Input(shape=input_shape)
    layer1 = inception_module(input_layer, 32, 32, 32, 32, 32, 16)
    pool1 = MaxPooling2D((2, 2), strides=(2, 2), padding='same')(layer1)
    layer2 = inception_module(pool1, 32, 64, 64, 64, 64, 16)
    pool2 = MaxPooling2D((2, 2), strides=(2, 2), padding='same')(layer2)
    flatt = keras.layers.GlobalAveragePooling2D()(pool2)
    softmax = keras.layers.Dense(num_classes, activation='softmax')(flatt)
    return keras.models.Model(inputs=input_layer, outputs=softmax)


def resnet_listing():
    """Course 001's residual listing (In [16]) as printed; only the imports changed. It
    reads ``layer_in.shape[-1]`` of a symbolic tensor."""
    from nn import keras
    from nn.keras.layers import Conv2D, Input, MaxPooling2D, add
    num_classes, input_shape = 10, (28, 28, 1)

    def residual_block(layer_in, n_filters):
        merge_input = layer_in
        if layer_in.shape[-1] != n_filters:
            merge_input = Conv2D(n_filters, (1, 1), padding='same', activation='relu',
                                 kernel_initializer='he_normal')(layer_in)
        conv1 = Conv2D(n_filters, (3, 3), padding='same', activation='relu',
                       kernel_initializer='he_normal')(layer_in)
        conv2 = Conv2D(n_filters, (3, 3), padding='same', activation='linear',
                       kernel_initializer='he_normal')(conv1)
        layer_out = add([conv2, merge_input])
        layer_out = keras.layers.Activation('relu')(layer_out)
        return layer_out
    visible = Input(shape=input_shape)
    layer1 = residual_block(visible, 64)
    pool1 = MaxPooling2D((2, 2), strides=(2, 2), padding='same')(layer1)
    layer2 = residual_block(pool1, 64)
    pool2 = MaxPooling2D((2, 2), strides=(2, 2), padding='same')(layer2)
    layer3 = residual_block(pool2, 64)
    pool3 = MaxPooling2D((2, 2), strides=(2, 2), padding='same')(layer3)
    flatt = keras.layers.GlobalAveragePooling2D()(pool3)
    softmax = keras.layers.Dense(num_classes, activation='softmax')(flatt)
    return keras.models.Model(inputs=visible, outputs=softmax)


@pytest.mark.parametrize("listing, total, first_rows", [
    (inception_listing, 196_154, [("conv2d", "(None, 28, 28, 32)", 64),
                                  ("conv2d_2", "(None, 28, 28, 32)", 9_248),
                                  ("conv2d_4", "(None, 28, 28, 32)", 25_632)]),
    (resnet_listing, 186_058, [("conv2d", "(None, 28, 28, 64)", 128),
                               ("conv2d_1", "(None, 28, 28, 64)", 640),
                               ("conv2d_2", "(None, 28, 28, 64)", 36_928)]),
], ids=["inception", "resnet"])
def test_course_001_functional_listings_give_the_course_summaries(listing, total,
                                                                  first_rows):
    """The totals and per-layer counts printed in course 001's summaries."""
    engine.manual_seed(0)
    model = listing()
    s = nn.summary(model, model.input_shape)
    assert s.total_params == total
    rows = {name: (shape, n) for name, _, shape, n in s.rows}
    for name, shape, n in first_rows:
        assert rows[name] == (shape, n), name
    x = T(np.random.default_rng(0).standard_normal((3, 28, 28, 1))).float()
    assert model(x).shape == (3, 10)
    np.testing.assert_allclose(model(x).data.sum(axis=1), 1, rtol=1e-5)   # softmax


def test_functional_model_trains_and_replays_in_order():
    from nn.keras import Model
    from nn.keras.layers import Concatenate, Dense, Input
    engine.manual_seed(0)
    inp = Input(shape=(4,))
    a, b = Dense(3, activation="tanh")(inp), Dense(2)(inp)
    out = Dense(1)(Concatenate()([a, b]))
    model = Model(inputs=inp, outputs=out)
    assert list(model._modules) == ["dense", "dense_1", "concatenate", "dense_2"]
    x = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    y = (x[:, :1] * 2 - x[:, 1:2]).astype(np.float32)
    model.compile(optimizer=nn.keras.optimizers.Adam(learning_rate=0.02), loss="mse")
    h = model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    # the same computation by hand, from the registered layers
    xt = engine.tensor(x)
    d, d1, _, d2 = (model._modules[k] for k in model._modules)
    np.testing.assert_allclose(model(xt).data, d2(engine.cat([d(xt), d1(xt)], dim=-1)).data,
                               rtol=1e-6)


def test_functional_api_errors_are_clear(tmp_path):
    from nn.keras import Model
    from nn.keras.layers import Dense, Input
    a, b = Input(shape=(3,)), Input(shape=(3,))
    with pytest.raises(ValueError, match="depends on an Input"):
        Model(inputs=a, outputs=Dense(2)(b))
    with pytest.raises(TypeError, match=r"inputs must come from Input\(shape=...\)"):
        Model(inputs=engine.zeros(3), outputs=Dense(2)(a))
    model = Model(inputs=a, outputs=Dense(2)(a))
    with pytest.raises(ValueError, match="cannot be saved as data yet"):
        model.save(tmp_path / "m.stepgrad")
    assert not (tmp_path / "m.stepgrad").exists()


def test_image_data_format_is_keras_backends_default():
    """Course 001 branches on keras.backend.image_data_format(); a layer made after
    set_image_data_format('channels_first') takes (N, C, H, W)."""
    from nn import keras
    assert keras.backend.image_data_format() == "channels_last"
    try:
        keras.backend.set_image_data_format("channels_first")
        layer = Conv2D(2, 3, padding="same")
        assert layer(engine.zeros(1, 3, 5, 5)).shape == (1, 2, 5, 5)
    finally:
        keras.backend.set_image_data_format("channels_last")
    assert Conv2D(2, 3)(engine.zeros(1, 5, 5, 3)).shape == (1, 3, 3, 2)
    with pytest.raises(ValueError, match="expected 'channels_last' or 'channels_first'"):
        keras.backend.set_image_data_format("NHWC")


def test_average_pooling2d_as_tensorflows_keras():
    # 'valid': plain window means; 'same': a border window averages its input cells only
    # (TensorFlow's rule), e.g. pool 3, stride 2 on 6 pixels pads one cell at the end.
    from nn.keras.layers import AveragePooling2D
    x = np.arange(36, dtype=np.float32).reshape(1, 6, 6, 1)  # (N, H, W, C), value 6h + w
    valid = AveragePooling2D((2, 2))(engine.tensor(x)).data[0, :, :, 0]
    np.testing.assert_allclose(valid, [[3.5, 5.5, 7.5], [15.5, 17.5, 19.5],
                                       [27.5, 29.5, 31.5]])
    same = AveragePooling2D((3, 3), strides=(2, 2), padding="same")(engine.tensor(x))
    # windows start at rows/cols 0, 2, 4; the last one covers rows 4-5 only: means of
    # 6h + w over h, w in {0,1,2}, {2,3,4}, {4,5} -> 6·h̄ + w̄ with h̄, w̄ in 1, 3, 4.5
    hbar = np.array([1.0, 3.0, 4.5])
    np.testing.assert_allclose(same.data[0, :, :, 0], 6 * hbar[:, None] + hbar[None, :],
                               rtol=1e-6)
    g = engine.tensor(x, requires_grad=True)
    AveragePooling2D((3, 3), strides=(2, 2), padding="same")(g).sum().backward()
    assert g.grad.data[0, 5, 5, 0] == pytest.approx(1 / 4)  # in one 2×2 corner window
