"""More of Keras's API on stepgrad: the layers Keras tutorials use (Embedding, Conv1D, 1-D and
global pooling, Bidirectional, TimeDistributed, LayerNormalization, the shape and activation
layers, Lambda, the merging layers), sample and class weights in fit/evaluate, the
*_on_batch methods, and ``nn.keras.losses`` / ``nn.keras.metrics``. Expected values are
written here from Keras's formulas (numpy), not taken from stepgrad."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn
from nn.keras import Model, Sequential, load_model, losses, metrics
from nn.keras import layers as L
from nn.keras.optimizers import SGD


def T(a):
    return engine.tensor(np.asarray(a, np.float64), dtype=np.float64)


def rng(seed=0):
    return np.random.default_rng(seed)


def tf_same(size, k, s, d=1):
    """TensorFlow's 'same' padding (before, after) of one dim: out = ⌈size/s⌉."""
    total = max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


# ------------------------------------------------------------------------------- Embedding
def test_embedding_looks_up_rows_and_casts_float_ids_as_keras():
    engine.manual_seed(0)
    emb = L.Embedding(10, 3)
    table = emb.weight.data
    assert table.shape == (10, 3) and np.abs(table).max() <= 0.05  # 'uniform': U(±0.05)
    ids = np.array([[1, 0, 9], [4, 4, 2]])
    np.testing.assert_array_equal(emb(engine.tensor(ids)).data, table[ids])
    # fit hands the model float32 batches: ids are cast to int (truncated, as Keras)
    np.testing.assert_array_equal(emb(engine.tensor(ids + 0.7, dtype=np.float32)).data,
                                  table[ids])
    assert emb.get_weights()[0].shape == (10, 3)  # Keras's `embeddings`, as stored
    with pytest.raises(IndexError, match=r"Embedding: id 10 is outside the table of "
                                         r"input_dim=10 rows"):
        emb(engine.tensor([[10]]))
    with pytest.raises(ValueError, match="mask_zero=True is not supported"):
        L.Embedding(10, 3, mask_zero=True)
    with pytest.raises(ValueError, match="output_dim must be an int >= 1"):
        L.Embedding(10, 0)
    with pytest.raises(ValueError, match="embeddings_regularizer= is not supported"):
        L.Embedding(10, 3, embeddings_regularizer="l2")


def test_embedding_input_length_weights_trainable_and_summary():
    glove = np.arange(12, dtype=np.float32).reshape(4, 3)
    with pytest.warns(UserWarning, match=r"Argument `input_length` is deprecated"):
        emb = L.Embedding(4, 3, weights=[glove], trainable=False, input_length=5)
    np.testing.assert_array_equal(emb.weight.data, glove)
    assert not emb.weight.requires_grad
    model = Sequential([emb, L.GlobalAveragePooling1D(), L.Dense(2)])
    lines = []
    model.summary(print_fn=lines.append)
    table = lines[0]
    assert "0 (Embedding)" in table and "(None, 5, 3)" in table
    assert "Trainable params: 8" in table and "Non-trainable params: 12" in table
    with pytest.raises(ValueError, match=r"weights hold a table of shape \(3, 3\)"):
        L.Embedding(4, 3, weights=[glove[:3]])


# ---------------------------------------------------------------------------------- Conv1D
def conv1d_keras(x, kernel, bias, stride, padding, dilation):
    """Keras's Conv1D on (N, L, C) with its kernel (k, C, F): out[t] = b + Σ_i Σ_c
    x[t·s + i·d − left, c]·kernel[i, c, f], zero outside x."""
    n, length, _ = x.shape
    k = kernel.shape[0]
    if padding == "causal":
        left, right = dilation * (k - 1), 0
    elif padding == "same":
        left, right = tf_same(length, k, stride, dilation)
    else:
        left = right = 0
    xp = np.pad(x, ((0, 0), (left, right), (0, 0)))
    out_len = (length + left + right - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((n, out_len, kernel.shape[2]))
    for t in range(out_len):
        for i in range(k):
            out[:, t] += xp[:, t * stride + i * dilation] @ kernel[i]
    return out + bias


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), f=st.integers(1, 3), length=st.integers(5, 9),
       k=st.integers(1, 4), sd=st.sampled_from([(1, 1), (2, 1), (3, 1), (1, 2), (1, 3)]),
       padding=st.sampled_from(["valid", "same", "causal"]), seed=st.integers(0, 2**31))
def test_conv1d_matches_keras_formula(n, c, f, length, k, sd, padding, seed):
    s, d = sd
    if padding == "valid" and length < d * (k - 1) + 1:
        return
    r = rng(seed)
    x = r.standard_normal((n, length, c))
    layer = L.Conv1D(f, k, strides=s, dilation_rate=d, padding=padding).double()
    layer(T(x))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (k, c, f)  # Keras's layout
    np.testing.assert_allclose(kernel, layer.weight.data.transpose(2, 1, 0))
    np.testing.assert_allclose(layer(T(x)).data, conv1d_keras(x, kernel, bias, s, padding, d),
                               rtol=1e-10, atol=1e-12)


def test_default_initialisers_are_keras_s():
    engine.manual_seed(4)
    conv = L.Conv1D(64, 5)
    conv.build(16)
    limit = np.sqrt(6 / (5 * 16 + 5 * 64))  # Glorot on Keras's kernel (k, C, F): k·C in, k·F out
    w = np.abs(conv.weight.data)
    assert w.max() <= limit and w.max() > 0.99 * limit and not conv.bias.data.any()
    ln = L.LayerNormalization()
    ln(T(np.zeros((2, 3))))
    assert (ln.weight.data == 1).all() and (ln.bias.data == 0).all()
    emb = L.Embedding(200, 50).weight.data  # 'uniform': U(−0.05, 0.05)
    assert np.abs(emb).max() <= 0.05 and np.abs(emb).max() > 0.049


def test_conv1d_causal_gradcheck_groups_and_refusals():
    r = rng(1)
    layer = L.Conv1D(4, 3, padding="causal", dilation_rate=2, groups=2, activation="tanh")
    layer.double()
    x = T(r.standard_normal((2, 6, 4))).requires_grad_(True)
    layer(x)
    assert layer.weight.shape == (4, 2, 3) and layer.get_weights()[0].shape == (3, 2, 4)
    assert engine.gradcheck(lambda x, *_: layer(x), x, layer.weight, layer.bias)
    # causal: output t does not depend on inputs after t
    y0 = layer(x).data
    x2 = x.data.copy()
    x2[:, 4:] += 1.0
    np.testing.assert_array_equal(layer(T(x2)).data[:, :4], y0[:, :4])
    with pytest.raises(ValueError, match=r"strides > 1 is not supported together with "
                                         r"dilation_rate > 1"):
        L.Conv1D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding must be 'valid', 'same' or 'causal'"):
        L.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match="Conv1D: expected sequences"):
        L.Conv1D(2, 3)(T(np.zeros((2, 5))))
    with pytest.raises(ValueError, match="kernel_constraint= is not supported"):
        L.Conv1D(2, 3, kernel_constraint="non_neg")


# --------------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("pool, stride", [(2, None), (3, 1), (4, 2), (2, 3)])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling1d_max_and_average_tf_rule(pool, stride, padding):
    x = rng(2).standard_normal((2, 9, 3))
    s = pool if stride is None else stride
    left, right = tf_same(9, pool, s) if padding == "same" else (0, 0)
    out_len = (9 + left + right - pool) // s + 1
    starts = [t * s - left for t in range(out_len)]
    windows = [x[:, max(a, 0):min(a + pool, 9)] for a in starts]  # the input steps only
    np.testing.assert_allclose(L.MaxPooling1D(pool, stride, padding)(T(x)).data,
                               np.stack([w.max(axis=1) for w in windows], axis=1))
    # TensorFlow's rule: a border window averages its input steps only
    np.testing.assert_allclose(L.AveragePooling1D(pool, stride, padding)(T(x)).data,
                               np.stack([w.mean(axis=1) for w in windows], axis=1))
    first = L.MaxPooling1D(pool, stride, padding, data_format="channels_first")
    np.testing.assert_allclose(first(T(x.transpose(0, 2, 1))).data,
                               L.MaxPooling1D(pool, stride, padding)(T(x)).data.transpose(0, 2,
                                                                                          1))


def test_global_pooling_1d_and_2d():
    x = rng(3).standard_normal((2, 5, 4))
    np.testing.assert_allclose(L.GlobalAveragePooling1D()(T(x)).data, x.mean(axis=1))
    np.testing.assert_allclose(L.GlobalMaxPooling1D()(T(x)).data, x.max(axis=1))
    np.testing.assert_allclose(L.GlobalMaxPooling1D(keepdims=True)(T(x)).data,
                               x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(L.GlobalAveragePooling1D(data_format="channels_first")(
        T(x)).data, x.mean(axis=2))
    img = rng(4).standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(L.GlobalMaxPooling2D()(T(img)).data, img.max(axis=(1, 2)))
    np.testing.assert_allclose(L.GlobalAveragePooling2D(keepdims=True)(T(img)).data,
                               img.mean(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(L.GlobalMaxPooling2D(data_format="channels_first")(T(img)).data,
                               img.max(axis=(2, 3)))
    with pytest.raises(ValueError, match=r"GlobalMaxPooling1D: expected \(N, steps, channels\)"):
        L.GlobalMaxPooling1D()(T(img))


# --------------------------------------------------------------------------- Bidirectional
def simple_rnn(x, kernel, recurrent, bias):
    """Keras's SimpleRNN: h_t = tanh(x_t W + h_{t−1} U + b), h_0 = 0; every h_t."""
    h, out = np.zeros((x.shape[0], kernel.shape[1])), []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        out.append(h)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_reads_backwards_and_merges_as_keras(merge_mode, return_sequences):
    x = rng(5).standard_normal((2, 4, 3))
    engine.manual_seed(1)
    bi = L.Bidirectional(L.SimpleRNN(5, return_sequences=return_sequences),
                         merge_mode=merge_mode).double()
    out = bi(T(x))
    weights = bi.get_weights()  # the forward layer's, then the backward layer's (Keras)
    assert [w.shape for w in weights] == [(3, 5), (5, 5), (5,)] * 2
    fwd = simple_rnn(x, *weights[:3])
    bwd = simple_rnn(x[:, ::-1], *weights[3:])[:, ::-1]  # read reversed, put back in order
    if not return_sequences:
        fwd, bwd = fwd[:, -1], bwd[:, 0]  # the backward state after reading x_T … x_1
    want = {"concat": np.concatenate([fwd, bwd], axis=-1), "sum": fwd + bwd,
            "mul": fwd * bwd, "ave": (fwd + bwd) / 2, None: [fwd, bwd]}[merge_mode]
    if merge_mode is None:
        for got, w in zip(out, want, strict=True):
            np.testing.assert_allclose(got.data, w, rtol=1e-10)
    else:
        np.testing.assert_allclose(out.data, want, rtol=1e-10)


def test_bidirectional_states_gradcheck_summary_and_refusals():
    x = T(rng(6).standard_normal((2, 3, 2))).requires_grad_(True)
    engine.manual_seed(2)
    bi = L.Bidirectional(L.LSTM(3, return_sequences=True, return_state=True)).double()
    out, h_f, c_f, h_b, c_b = bi(x)
    assert out.shape == (2, 3, 6) and h_f.shape == c_b.shape == (2, 3)
    np.testing.assert_allclose(out.data[:, -1, :3], h_f.data)  # forward: last step
    np.testing.assert_allclose(out.data[:, 0, 3:], h_b.data)  # backward: ends at step 0
    gru = L.Bidirectional(L.GRU(2), merge_mode="mul").double()
    gru(x)
    assert engine.gradcheck(lambda x, *_: gru(x), x, *gru.parameters())
    model = Sequential([L.Bidirectional(L.LSTM(4), input_shape=(5, 3)), L.Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)
    per_direction = 4 * (3 * 4 + 4 * 4 + 4)  # Keras's LSTM: one bias
    row = [r for r in lines[0].splitlines() if "Bidirectional" in r][0].split()
    assert row[-1] == str(2 * per_direction) and "(None, 8)" in " ".join(row)
    assert model.count_params() == 2 * per_direction + 9
    with pytest.raises(TypeError, match="Bidirectional: wraps a Keras recurrent layer"):
        L.Bidirectional(L.Dense(3))
    with pytest.raises(ValueError, match="backward_layer= is not supported"):
        L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2))
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        L.Bidirectional(L.LSTM(2), merge_mode="max")


# ------------------------------------------------------------------------- TimeDistributed
def test_time_distributed_dense_and_batchnorm_per_step():
    x = rng(7).standard_normal((3, 4, 2))
    td = L.TimeDistributed(L.Dense(5, activation="tanh")).double()
    y = td(T(x))
    kernel, bias = td.get_weights()
    np.testing.assert_allclose(y.data, np.tanh(x @ kernel + bias), rtol=1e-12)
    bn = L.TimeDistributed(L.BatchNormalization()).double()
    out = bn(T(x)).data  # training: each step normalised with its own batch statistics
    want = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-3)
    np.testing.assert_allclose(out, want, rtol=1e-6)
    mean = np.zeros(2)
    for t in range(4):  # the moving mean is updated once per step, in order
        mean = 0.99 * mean + 0.01 * x[:, t].mean(axis=0)
    np.testing.assert_allclose(bn.layer.running_mean.data, mean, rtol=1e-6)
    with pytest.raises(ValueError, match="TimeDistributed: expected"):
        td(T(x[:, 0]))


# --------------------------------------------------------------------- LayerNormalization
def test_layer_normalization_formula_axes_and_gradcheck():
    x = rng(8).standard_normal((2, 3, 4))
    ln = L.LayerNormalization().double()
    y = ln(T(x)).data
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, want, rtol=1e-10)  # Keras's epsilon: 1e-3
    gamma, beta = rng(9).standard_normal((2, 3, 4))
    both = L.LayerNormalization(axis=[-2, -1], epsilon=0.01).double()
    both(T(x))
    both.set_weights([gamma, beta])
    m, v = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(both(T(x)).data, (x - m) / np.sqrt(v + 0.01) * gamma + beta,
                               rtol=1e-10)
    xg = T(x).requires_grad_(True)
    assert engine.gradcheck(lambda t, *_: both(t), xg, both.weight, both.bias)
    no_beta = L.LayerNormalization(center=False)
    no_beta(T(x))
    assert [w.shape for w in no_beta.get_weights()] == [(4,)]
    with pytest.raises(ValueError, match=r"LayerNormalization: axis=1 on a 3-D input: the axes "
                                         r"must be the last dims"):
        L.LayerNormalization(axis=1)(T(x))
    with pytest.raises(ValueError, match="rms_scaling=True is not supported"):
        L.LayerNormalization(rms_scaling=True)


# ----------------------------------------------------------------- shapes and activations
def test_reshape_permute_repeat_upsampling_zeropadding():
    x = rng(10).standard_normal((2, 3, 4))
    np.testing.assert_array_equal(L.Reshape((-1, 2))(T(x)).data, x.reshape(2, 6, 2))
    np.testing.assert_array_equal(L.Permute((2, 1))(T(x)).data, x.transpose(0, 2, 1))
    v = x[:, 0]
    np.testing.assert_array_equal(L.RepeatVector(3)(T(v)).data, np.stack([v] * 3, axis=1))
    img = rng(11).standard_normal((1, 2, 3, 2))
    np.testing.assert_array_equal(L.UpSampling2D((2, 3))(T(img)).data,
                                  img.repeat(2, axis=1).repeat(3, axis=2))
    np.testing.assert_array_equal(L.ZeroPadding2D(((1, 0), (2, 1)))(T(img)).data,
                                  np.pad(img, ((0, 0), (1, 0), (2, 1), (0, 0))))
    np.testing.assert_array_equal(
        L.ZeroPadding2D(1, data_format="channels_first")(T(img)).data,
        np.pad(img, ((0, 0), (0, 0), (1, 1), (1, 1))))
    with pytest.raises(ValueError, match=r"Reshape: samples of shape \(3, 4\) hold 12 values, "
                                         r"target_shape \(5,\) holds 5"):
        L.Reshape((5,))(T(x))
    with pytest.raises(ValueError, match="Permute: dims must be a permutation"):
        L.Permute((0, 1))
    with pytest.raises(ValueError, match="only interpolation='nearest'"):
        L.UpSampling2D(interpolation="bilinear")


def test_rescaling_and_activations():
    pixels = engine.tensor(np.array([[0, 128, 255]], np.uint8))
    out = L.Rescaling(1 / 255.0, offset=-0.5)(pixels)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, np.array([[0, 128, 255]]) / 255.0 - 0.5, atol=1e-7)
    img = rng(12).standard_normal((1, 2, 2, 3))
    np.testing.assert_allclose(L.Rescaling([1.0, 2.0, 3.0], [0.0, 1.0, 0.0])(T(img)).data,
                               img * [1, 2, 3] + [0, 1, 0])
    x = np.array([-2.0, -0.5, 0.0, 0.4, 1.5, 7.0])
    np.testing.assert_allclose(L.LeakyReLU()(T(x)).data, np.where(x >= 0, x, 0.3 * x))
    with pytest.warns(UserWarning, match="`alpha` is deprecated"):
        assert L.LeakyReLU(alpha=0.1).negative_slope == 0.1

    def keras_relu(x, max_value=None, negative_slope=0.0, threshold=0.0):
        upper = x if max_value is None else np.minimum(x, max_value)
        return np.where(x > threshold, upper, negative_slope * (x - threshold))

    for kw in ({}, {"max_value": 1.0}, {"negative_slope": 0.2}, {"threshold": 0.3},
               {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.2}):
        np.testing.assert_allclose(L.ReLU(**kw)(T(x)).data, keras_relu(x, **kw), err_msg=kw)
    relu = L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2)
    away = T([-1.3, -0.1, 0.5, 0.9, 2.0]).requires_grad_(True)  # off the kinks
    assert engine.gradcheck(lambda t: relu(t), away)
    with pytest.raises(ValueError, match="ReLU: threshold must be a number >= 0"):
        L.ReLU(threshold=-1)
    s = rng(13).standard_normal((2, 3, 4))
    e = np.exp(s - s.max(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(L.Softmax(axis=(1, 2))(T(s)).data,
                               e / e.sum(axis=(1, 2), keepdims=True), rtol=1e-12)
    e = np.exp(s)
    np.testing.assert_allclose(L.Softmax(axis=1)(T(s)).data, e / e.sum(axis=1, keepdims=True),
                               rtol=1e-12)


def test_lambda_applies_its_function_and_refuses_to_be_saved(tmp_path):
    lam = L.Lambda(lambda x, k: x.mean(axis=1) * k, arguments={"k": 3.0})
    x = rng(14).standard_normal((2, 3, 4))
    np.testing.assert_allclose(lam(T(x)).data, x.mean(axis=1) * 3)
    model = Sequential([L.Input((3,)), L.Lambda(lambda x: x * 2), L.Dense(1)])
    with pytest.raises(ValueError, match=r"Lambda: its function \(<lambda>\) is Python code"):
        model.save(tmp_path / "m.npz")
    model.save_weights(tmp_path / "w.npz")  # the weights still save


# ----------------------------------------------------------------------------- merging
def test_merging_layers_and_keras_broadcasting():
    a, b = rng(15).standard_normal((2, 2, 3))
    np.testing.assert_allclose(L.Subtract()([T(a), T(b)]).data, a - b)
    np.testing.assert_allclose(L.Multiply()([T(a), T(b), T(a)]).data, a * b * a)
    np.testing.assert_allclose(L.Average()([T(a), T(b)]).data, (a + b) / 2)
    np.testing.assert_allclose(L.Maximum()([T(a), T(b)]).data, np.maximum(a, b))
    np.testing.assert_allclose(L.Minimum()([T(a), T(b)]).data, np.minimum(a, b))
    seq = rng(16).standard_normal((2, 4, 3))
    # Keras's rule: the lower-rank input gets its new dims after the batch dim (axis 1)
    np.testing.assert_allclose(L.Add()([T(seq), T(a)]).data, seq + a[:, None, :])
    col = rng(17).standard_normal((2, 1))
    np.testing.assert_allclose(L.Multiply()([T(seq), T(col)]).data, seq * col[:, :, None])
    with pytest.raises(ValueError, match=r"Subtract: takes exactly 2 inputs, got 3"):
        L.Subtract()([T(a), T(b), T(a)])
    with pytest.raises(ValueError, match=r"Add: the inputs have incompatible shapes"):
        L.Add()([T(a), T(np.zeros((2, 4)))])
    with pytest.raises(ValueError, match="different batch sizes"):
        L.Add()([T(a), T(np.zeros((3, 3)))])


def test_functional_model_with_the_new_layers_and_keras_names():
    ids = L.Input((6,))
    side = L.Input((4,))
    x = L.Embedding(20, 4)(ids)
    x = L.Bidirectional(L.GRU(3))(x)
    y = L.LeakyReLU()(L.Dense(6)(side))
    merged = L.average([x, y])
    out = L.Dense(1, activation="sigmoid")(L.multiply([merged, L.subtract([x, y])]))
    model = Model([ids, side], out)
    names = [name for name, _ in model.named_children()]
    assert {"embedding", "bidirectional", "leaky_re_lu", "average", "multiply",
            "subtract"} <= set(names)
    xi, xs = rng(18).integers(0, 20, (5, 6)), rng(19).standard_normal((5, 4))
    emb, bi, dense = model.embedding, model.bidirectional, model.dense
    with engine.no_grad():
        h = bi(emb(engine.tensor(xi)))
        side_out = dense(T(xs).astype(np.float32)).leaky_relu(0.3)
        m = (h + side_out) / 2
        want = model.dense_1((m * (h - side_out))).data
    model.eval()
    with engine.no_grad():
        got = model([engine.tensor(xi), T(xs).astype(np.float32)]).data
    np.testing.assert_allclose(got, want, rtol=1e-6)


# ----------------------------------------------------------------- saving and get_weights
def test_sequential_with_the_new_layers_saves_and_loads(tmp_path):
    engine.manual_seed(3)
    model = Sequential([
        L.Input((8,)), L.Embedding(15, 4), L.Conv1D(6, 3, padding="causal", activation="relu"),
        L.MaxPooling1D(2, padding="same"), L.AveragePooling1D(2, 1),
        L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="ave"),
        L.TimeDistributed(L.Dense(2)), L.LayerNormalization(), L.Reshape((-1,)),
        L.RepeatVector(2), L.Permute((2, 1)), L.GlobalMaxPooling1D(), L.LeakyReLU(0.2),
        L.ReLU(max_value=3.0), L.Rescaling(0.5, 0.1), L.Softmax(), L.Dense(2)])
    x = rng(20).integers(0, 15, (3, 8))
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.predict(x, verbose=0), before)
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [w.shape for w in again.get_weights()]
    assert shapes[:3] == [(15, 4), (3, 4, 6), (6,)]  # embeddings, Conv1D kernel (k, C, F)
    again.set_weights(model.get_weights())
    images = Sequential([L.Input((5, 6, 2)), L.ZeroPadding2D(((1, 0), (2, 1))),
                         L.UpSampling2D(2), L.Conv2D(2, 3), L.GlobalMaxPooling2D()])
    images.save(tmp_path / "i.npz")
    xi = rng(21).standard_normal((2, 5, 6, 2))
    np.testing.assert_array_equal(load_model(tmp_path / "i.npz").predict(xi, verbose=0),
                                  images.predict(xi, verbose=0))


# --------------------------------------------------------------- sample and class weights
def linear_model(kernel, bias):
    model = Sequential([L.Dense(1, input_dim=len(kernel))])
    model.set_weights([np.asarray(kernel, np.float32).reshape(-1, 1),
                       np.asarray([bias], np.float32)])
    return model


def test_sample_weight_loss_is_the_weighted_sum_over_the_batch_size():
    x = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]], np.float32)
    y = np.array([1.0, 1.0, 2.0, 2.0, 0.0], np.float32)
    w = np.array([1.0, 0.0, 2.0, 0.5, 3.0], np.float32)
    model = linear_model([0.5], 0.0)
    model.compile(optimizer=SGD(0.0), loss="mse", metrics=["mae"])
    err = 0.5 * x[:, 0] - y
    # Keras: a batch's loss is Σ w_i·ℓ_i / n (not / Σ w_i); the epoch's Σ w_i·ℓ_i / N
    loss, mae = model.evaluate(x, y, sample_weight=w, batch_size=2, verbose=0)
    assert loss == pytest.approx(np.sum(w * err**2) / 5, rel=1e-6)
    assert mae == pytest.approx(np.mean(np.abs(err)), rel=1e-6)  # metrics: unweighted
    h = model.fit(x, y, sample_weight=w, batch_size=2, epochs=1, shuffle=False, verbose=0)
    assert h.history["loss"][0] == pytest.approx(np.sum(w * err**2) / 5, rel=1e-6)
    # the step: the gradient of Σ w_i (k x_i + b − y_i)² / n over the batch
    model = linear_model([0.5], 0.0)
    model.compile(optimizer=SGD(0.1), loss="mse")
    first = model.train_on_batch(x[:2], y[:2], sample_weight=w[:2])
    assert first == pytest.approx(np.sum(w[:2] * err[:2] ** 2) / 2, rel=1e-6)
    dk = np.sum(w[:2] * 2 * err[:2] * x[:2, 0]) / 2
    db = np.sum(w[:2] * 2 * err[:2]) / 2
    kernel, bias = model.get_weights()
    assert kernel[0, 0] == pytest.approx(0.5 - 0.1 * dk) and bias[0] == pytest.approx(-0.1 * db)


def test_class_weight_maps_each_sample_to_its_class_weight():
    x = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
    y = np.array([0, 1, 1, 2])
    probs = np.array([[0.5, 0.3, 0.2]] * 4, np.float32)
    model = Sequential([L.Input((1,)), L.Dense(3, kernel_initializer="zeros",
                                               bias_initializer="zeros"), L.Softmax()])
    model.compile(optimizer=SGD(0.0), loss="sparse_categorical_crossentropy")
    with engine.no_grad():
        model[1].bias.copy_(np.log(probs[0]))
    cw = {0: 2.0, 1: 0.5}  # class 2: weight 1 (not listed)
    per_sample = -np.log(probs[0][y])
    h = model.fit(x, y, class_weight=cw, batch_size=3, epochs=1, shuffle=False, verbose=0)
    w = np.array([2.0, 0.5, 0.5, 1.0])
    assert h.history["loss"][0] == pytest.approx(np.sum(w * per_sample) / 4, rel=1e-6)
    onehot = np.eye(3, dtype=np.float32)[y]  # one-hot rows: the class is the argmax
    model.compile(optimizer=SGD(0.0), loss="categorical_crossentropy")
    h = model.fit(x, onehot, class_weight=cw, batch_size=4, epochs=1, verbose=0)
    assert h.history["loss"][0] == pytest.approx(np.sum(w * per_sample) / 4, rel=1e-6)
    with pytest.raises(ValueError, match="give class_weight or sample_weight, not both"):
        model.fit(x, onehot, class_weight=cw, sample_weight=np.ones(4), verbose=0)
    with pytest.raises(ValueError, match=r"class_weight must be a dict \{class index: weight"):
        model.fit(x, onehot, class_weight=[1.0, 2.0], verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight must be an array of one weight per "
                                         r"sample, shape \(4,\)"):
        model.fit(x, onehot, sample_weight=np.ones(3), verbose=0)


def test_sample_weights_follow_validation_split_and_validation_data():
    x = np.arange(6, dtype=np.float32).reshape(6, 1)
    y = np.zeros(6, np.float32)
    w = np.array([1, 1, 1, 1, 3, 0], np.float32)
    model = linear_model([1.0], 0.0)
    model.compile(optimizer=SGD(0.0), loss="mse")
    h = model.fit(x, y, sample_weight=w, validation_split=1 / 3, verbose=0)
    assert h.history["val_loss"][0] == pytest.approx((3 * 16 + 0 * 25) / 2)
    h = model.fit(x[:4], y[:4], validation_data=(x[4:], y[4:], w[4:]), verbose=0)
    assert h.history["val_loss"][0] == pytest.approx((3 * 16 + 0 * 25) / 2)
    assert h.history["loss"][0] == pytest.approx((0 + 1 + 4 + 9) / 4)


def test_custom_loss_with_sample_weights_must_return_per_sample_values():
    x = np.array([[1.0], [2.0]], np.float32)
    y = np.array([[0.0], [0.0]], np.float32)
    model = linear_model([1.0], 0.0)
    model.compile(optimizer=SGD(0.0), loss=lambda t, p: ((p - t) ** 2).sum(axis=-1))
    assert model.evaluate(x, y, sample_weight=np.array([2.0, 1.0]), verbose=0) == \
        pytest.approx((2 * 1 + 1 * 4) / 2)
    model.compile(optimizer=SGD(0.0), loss=lambda t, p: ((p - t) ** 2).mean())
    with pytest.raises(ValueError, match=r"must return one value per sample, shape \(2,\)"):
        model.evaluate(x, y, sample_weight=np.ones(2), verbose=0)
    model.compile(optimizer=SGD(0.0), loss=nn.F.mse_loss)  # nn.F: asked for its terms
    assert model.evaluate(x, y, sample_weight=np.array([2.0, 1.0]), verbose=0) == \
        pytest.approx(3.0)


def test_on_batch_methods():
    x = np.array([[1.0], [2.0], [3.0]], np.float32)
    y = np.array([[1.0], [1.0], [1.0]], np.float32)
    model = linear_model([0.0], 0.0)
    model.compile(optimizer=SGD(0.5), loss="mse", metrics=["mae"])
    loss, mae = model.train_on_batch(x, y)
    assert (loss, mae) == (pytest.approx(1.0), pytest.approx(1.0))  # before the step
    kernel, bias = model.get_weights()
    assert kernel[0, 0] == pytest.approx(0.5 * 2 * 6 / 3) and bias[0] == pytest.approx(1.0)
    pred = x * 2.0 + 1.0
    np.testing.assert_allclose(model.predict_on_batch(x), pred)
    logs = model.test_on_batch(x, y, return_dict=True)
    assert logs == {"loss": pytest.approx(np.mean((pred - 1) ** 2)),
                    "mae": pytest.approx(np.mean(np.abs(pred - 1)))}
    assert model.get_weights()[0][0, 0] == pytest.approx(2.0)  # test_on_batch: no update
    assert model.training  # train_on_batch keeps the model's mode


# ------------------------------------------------------------------------ keras.losses
def test_losses_match_keras_formulas():
    yt = np.array([[0.0, 1.0], [0.0, 0.0]])
    yp = np.array([[0.6, 0.4], [0.4, 0.6]])
    bce_terms = -(yt * np.log(yp) + (1 - yt) * np.log(1 - yp))
    np.testing.assert_allclose(losses.binary_crossentropy(yt, yp).data, bce_terms.mean(-1),
                               rtol=1e-6)  # Keras's docs: [0.916, 0.714]
    s = 0.2
    smooth = yt * (1 - s) + s / 2
    assert losses.BinaryCrossentropy(label_smoothing=s)(yt, yp).item() == pytest.approx(
        np.mean(-(smooth * np.log(yp) + (1 - smooth) * np.log(1 - yp))), rel=1e-6)
    logits = np.array([[2.0, -1.0], [0.5, 3.0]])
    sig = 1 / (1 + np.exp(-logits))
    assert losses.BinaryCrossentropy(from_logits=True)(yt, logits).item() == pytest.approx(
        np.mean(-(yt * np.log(sig) + (1 - yt) * np.log(1 - sig))), rel=1e-6)
    onehot = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    probs = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    clipped = np.clip(probs, 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(losses.categorical_crossentropy(onehot, probs).data,
                               -(onehot * np.log(clipped)).sum(-1), rtol=1e-5)
    z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    log_softmax = z - np.log(np.exp(z).sum(-1, keepdims=True))
    smooth = onehot * 0.9 + 0.1 / 3
    assert losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
        onehot, z).item() == pytest.approx(np.mean(-(smooth * log_softmax).sum(-1)), rel=1e-6)
    labels = np.array([1, 2])
    assert losses.SparseCategoricalCrossentropy(from_logits=True)(labels, z).item() == \
        pytest.approx(-np.mean(log_softmax[[0, 1], labels]), rel=1e-6)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels[:, None], probs)
                               .data, -np.log(clipped[[0, 1], labels]), rtol=1e-5)
    e = yp - yt
    huber = np.where(np.abs(e) <= 0.5, 0.5 * e**2, 0.5 * np.abs(e) - 0.125)
    assert losses.Huber(delta=0.5)(yt, yp).item() == pytest.approx(huber.mean(), rel=1e-6)
    # reductions: per-sample ℓ = mean over the last axis, weights w
    w = np.array([2.0, 0.5])
    per = ((yp - yt) ** 2).mean(-1)
    assert losses.MeanSquaredError()(yt, yp, sample_weight=w).item() == pytest.approx(
        np.sum(w * per) / 2)
    assert losses.MeanSquaredError(reduction="sum")(yt, yp, sample_weight=w).item() == \
        pytest.approx(np.sum(w * per))
    assert losses.MeanSquaredError(reduction="mean_with_sample_weight")(
        yt, yp, sample_weight=w).item() == pytest.approx(np.sum(w * per) / w.sum())
    np.testing.assert_allclose(losses.MeanAbsoluteError(reduction="none")(yt, yp).data,
                               np.abs(yp - yt).mean(-1), rtol=1e-6)
    # sequences (N, T, C) against labels (N, T)
    seq = rng(22).standard_normal((2, 3, 4))
    lab = rng(23).integers(0, 4, (2, 3))
    lsm = seq - np.log(np.exp(seq).sum(-1, keepdims=True))
    want = -np.take_along_axis(lsm, lab[..., None], -1)[..., 0]
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="none")(lab, T(seq)).data, want, rtol=1e-10)
    with pytest.raises(ValueError, match="ignore_class= is not supported"):
        losses.SparseCategoricalCrossentropy(ignore_class=0)
    with pytest.raises(ValueError, match="only axis=-1"):
        losses.CategoricalCrossentropy(axis=1)


def test_loss_objects_gradcheck():
    z = T(rng(24).standard_normal((3, 4))).requires_grad_(True)
    onehot = np.eye(4)[[0, 3, 1]]
    cce = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    assert engine.gradcheck(lambda t: cce(onehot, t), z)
    bce = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)
    assert engine.gradcheck(lambda t: bce(onehot, t, sample_weight=[1.0, 2.0, 0.5]), z)


def test_compile_with_loss_and_metric_objects_and_save(tmp_path):
    x = rng(25).standard_normal((12, 3)).astype(np.float32)
    labels = np.arange(12) % 3
    model = Sequential([L.Input((3,)), L.Dense(3)])
    model.compile(optimizer="adam",
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[metrics.SparseCategoricalAccuracy(name="acc")])
    h = model.fit(x, labels, epochs=2, batch_size=5, verbose=0, validation_split=0.25)
    assert sorted(h.history) == ["acc", "loss", "val_acc", "val_loss"]
    logits = model.predict(x, verbose=0)
    lsm = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    loss, acc = model.evaluate(x, labels, verbose=0)
    assert loss == pytest.approx(-np.mean(lsm[np.arange(12), labels]), rel=1e-5)
    assert acc == pytest.approx(np.mean(logits.argmax(1) == labels))
    model.save(tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert again.evaluate(x, labels, verbose=0) == pytest.approx([loss, acc])
    # AUC in fit: the counts of the whole epoch, not a mean of per-batch areas
    binary = Sequential([L.Input((3,)), L.Dense(1, activation="sigmoid")])
    binary.compile(optimizer=SGD(0.0), loss="binary_crossentropy", metrics=["auc"])
    y = (labels == 0).astype(np.float32)
    h = binary.fit(x, y, batch_size=5, epochs=1, verbose=0)
    whole = metrics.AUC()
    whole.update_state(y, binary.predict(x, verbose=0))
    assert h.history["auc"][0] == pytest.approx(whole.result().item())
    with pytest.raises(ValueError, match=r"reduction='none'\) gives one loss per sample"):
        model.compile(optimizer="sgd", loss=losses.MeanSquaredError(reduction="none"))


# ----------------------------------------------------------------------- keras.metrics
def test_metrics_formulas_weights_and_refusals():
    acc = metrics.Accuracy()  # exact equality, not the argmax
    assert acc([[1], [2], [3], [4]], [[0], [2], [3], [4]]).item() == 0.75
    assert metrics.Accuracy()([[1.0]], [[0.99]]).item() == 0.0
    binary = metrics.BinaryAccuracy(threshold=0.7)
    binary.update_state([[1], [1], [0], [0]], [[0.98], [0.6], [0.0], [0.8]])
    assert binary.result().item() == 0.5
    binary.update_state([[1], [0]], [[0.9], [0.9]], sample_weight=[1.0, 3.0])
    assert binary.result().item() == pytest.approx((2 + 1) / (4 + 4))  # Σ w·v / Σ w
    binary.reset_state()
    assert binary.result().item() == 0.0
    cat = metrics.CategoricalAccuracy()
    assert cat([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]).item() == 0.5
    sparse = metrics.SparseCategoricalAccuracy()
    assert sparse([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]).item() == 0.5
    mse = metrics.MeanSquaredError()
    assert mse([[0, 1], [0, 0]], [[1, 1], [0, 0]]).item() == pytest.approx(0.25)
    mae = metrics.MeanAbsoluteError()
    mae.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
    assert mae.result().item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one-hot targets of the predictions' shape"):
        metrics.CategoricalAccuracy()([1, 0], [[0.2, 0.8], [0.6, 0.4]])
    with pytest.raises(ValueError, match="integer labels of shape"):
        metrics.SparseCategoricalAccuracy()([[0, 1], [1, 0]], [[0.2, 0.8], [0.6, 0.4]])


def test_auc_from_its_confusion_counts():
    # 3 thresholds: −ε, 0.5, 1 + ε. Positives 0.3, 0.9; negatives 0.1, 0.5.
    auc = metrics.AUC(num_thresholds=3)
    auc.update_state([0, 0, 1, 1], [0.1, 0.5, 0.3, 0.9])
    # at 0.5 (p > 0.5 positive): recall 1/2, false-positive rate 0/2 (0.5 is not above 0.5)
    recall, fpr = np.array([1.0, 0.5, 0.0]), np.array([1.0, 0.0, 0.0])
    want = np.sum((fpr[:-1] - fpr[1:]) * (recall[:-1] + recall[1:]) / 2)
    assert auc.result().item() == pytest.approx(want)
    auc = metrics.AUC()  # Keras's docs: 0.75
    auc.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert auc.result().item() == pytest.approx(0.75)
    auc.update_state([1], [0.0])  # the counts accumulate across calls
    # the area then counts the (positive, negative) pairs ranked right, ties as halves:
    # (0.3, 0), (0.9, 0), (0.9, 0.5), half of (0.0, 0) out of 3 · 2
    assert auc.result().item() == pytest.approx(3.5 / 6)
    with pytest.raises(ValueError, match="only curve='ROC' is supported"):
        metrics.AUC(curve="PR")
    with pytest.raises(ValueError, match="multi_label, num_labels and label_weights are not "
                                         "supported"):
        metrics.AUC(multi_label=True)


def test_warnings_stay_quiet_for_plain_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L.Embedding(5, 2)
        L.Bidirectional(L.LSTM(2))


def test_a_functional_model_with_two_inputs_has_its_weights_and_takes_a_list_of_arrays():
    """Keras builds Model([a, b], out) at construction (Keras 3.15: 4 arrays, 21
    parameters here); fit/evaluate/predict take one array per Input (a list), and refuse
    one array or a list of the wrong length by name (the numbers are checked against Keras
    in test_keras_audit.py)."""
    from nn.keras import layers as L
    a, b = L.Input((4,)), L.Input((2,))
    model = nn.keras.Model([a, b], L.Dense(1)(L.concatenate([L.Dense(3)(a), b])))
    assert [w.shape for w in model.get_weights()] == [(4, 3), (3,), (5, 1), (1,)]
    assert model.count_params() == 21
    xs = [np.zeros((5, 4), np.float32), np.zeros((5, 2), np.float32)]
    model.compile(optimizer="sgd", loss="mse")
    assert model.predict(xs, verbose=0).shape == (5, 1)
    assert len(model.fit(xs, np.zeros((5, 1)), verbose=0).history["loss"]) == 1
    for bad in (xs[0], xs[:1], xs + xs[:1]):
        with pytest.raises(ValueError, match=r"the model has 2 inputs; pass x as a list of 2 "
                                             r"arrays, one per Input"):
            model.evaluate(bad, np.zeros((5, 1)), verbose=0)
    assert model([engine.tensor(x) for x in xs]).shape == (5, 1)


def test_trainable_false_freezes_a_base_model_as_keras():
    """The transfer-learning line: ``base.trainable = False`` (set before the lazy layers are
    built, as tutorials do) keeps the base's weights and BatchNormalization's moving
    statistics through fit, and its BatchNormalization runs in inference mode; the summary
    counts as Keras 3.15's on this model (31 params: 4 trainable, 27 non-trainable); True
    unfreezes every layer again. It was an attribute nothing read: the base trained on."""
    engine.manual_seed(0)
    base = Sequential([L.Input((4,)), L.Dense(3, activation="relu"), L.BatchNormalization()])
    base.trainable = False
    model = Sequential([base, L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in base.get_weights()]
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 4), np.float32), rng.random((16, 1), np.float32)
    head_before = model[1].get_weights()[0].copy()
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, base.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(head_before, model[1].get_weights()[0])  # the head trains
    assert (base.trainable, base[1].trainable, base[2].trainable, model.trainable) == (
        False, False, False, True)
    lines = []
    model.summary(print_fn=lines.append)
    assert "Trainable params: 4" in lines[0] and "Non-trainable params: 27" in lines[0]
    model.train()
    bn_in = engine.tensor(rng.random((5, 3), np.float32))
    np.testing.assert_array_equal(base[2](bn_in).data, base[2].eval()(bn_in).data)
    base.trainable = True
    assert base[1].trainable and all(p.requires_grad for p in model.parameters())


def test_model_layers_and_get_layer_as_keras():
    """Keras 3.15: a Sequential's ``layers`` leave out its Input, a Functional model's start
    with it; ``get_layer`` by index or by registered name, an unknown name listed. The
    freeze-all-but-the-head loop of transfer-learning tutorials then works. A PyTorch
    module's own ``self.layers`` keeps its meaning."""
    seq = Sequential([L.Input((4,)), L.Dense(3), L.Dense(1)])
    assert [type(m).__name__ for m in seq.layers] == ["Dense", "Dense"]
    assert seq.get_layer(index=0) is seq[1] and seq.get_layer("2") is seq[2]
    for layer in seq.layers[:-1]:
        layer.trainable = False
    seq.get_weights()  # builds: the frozen layer's weights are created frozen
    assert [p.requires_grad for p in seq.parameters()] == [False, False, True, True]
    with pytest.raises(ValueError, match=r"No such layer: nope. Existing layers are: "
                                         r"\['0', '1', '2'\]"):
        seq.get_layer("nope")
    i = L.Input((4,))
    functional = Model(i, L.Dense(1)(L.Dense(3)(i)))
    assert [type(m).__name__ for m in functional.layers] == ["InputLayer", "Dense", "Dense"]
    assert functional.get_layer("dense_1") is functional.layers[2]

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 1)])

    assert isinstance(Stack().layers, nn.ModuleList)
    assert list(Stack().state_dict())[0] == "layers.0.weight"
