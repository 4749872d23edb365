# %% [markdown]
# # 5 · Recurrent networks: time series, a linear RNN by hand, unrolled pictures, an LSTM
#
# **What the exercises ask**
# - Course 000 (Flux), RNN-a…d: pick a time series, split train/test, preprocess into windows;
#   train a recurrent net with Flux's semantics — `RNNCell(in, out)`:
#   h' = tanh(W_xh·x + W_hh·h + b); `Recur` keeps the hidden state between calls and `reset!`
#   clears it (stepgrad: `nn.RNN(..., stateful=True)` and `reset_state()`); plot the loss per
#   epoch; predict the test set.
# - Course 004: a SimpleRNN with a **linear** activation, S_t = x_t·W_i + S_{t−1}·W_s + bias,
#   predicts the next value of sin(x) with x in steps of π/10; read its weights and reproduce
#   its predictions by hand for the inputs [sin(0.31)] and [sin(0.31), sin(0.62)]. Also the
#   "stock" RNN: windows of 10 samples, 4 cells, Dense(1). Recurrent graphs have a compact
#   (rolled) form and an unfolded one: draw both.
# - Slides 003: LSTM input is 3-D (samples, timesteps, features): `LSTM(32,
#   input_shape=(50, 2))` then Dense(1).

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # CI: short series, few epochs

# %%
import numpy as np

import engine
import nn
import viz

EPOCHS = 3 if FAST else 60


class SequenceRegressor(nn.Module):
    """A recurrent layer, then Linear on its final hidden state: (N, T, F) → (N, 1)."""

    def __init__(self, rnn, hidden):
        super().__init__()
        self.rnn = rnn
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        _, state = self.rnn(x)
        return self.head(state[0] if isinstance(state, tuple) else state)


def windows(series, width):
    """Sliding windows (N, width, 1) and the next value after each (N, 1)."""
    x = np.stack([series[i:i + width] for i in range(len(series) - width)])
    return x[..., None].astype(np.float32), series[width:, None].astype(np.float32)

# %% [markdown]
# ## RNN-a/b/c/d: a series, windows, a stateful RNN, loss per epoch, test predictions
# No market data ships offline, so the "stock" series is made here: a random walk with drift
# and a weekly cycle (seeded). First 80 % for training, the rest for testing — in time order.

# %%
rng = np.random.default_rng(7)
n = 300 if FAST else 1500
t = np.arange(n)
price = 100 + np.cumsum(rng.normal(0.05, 1.0, n)) + 3 * np.sin(2 * np.pi * t / 7)
split = int(0.8 * n)
mean, std = price[:split].mean(), price[:split].std()  # statistics of the training part only
z = (price - mean) / std
x_train, y_train = windows(z[:split], 10)
x_test, y_test = windows(z[split - 10:], 10)  # the test windows start with the last train values
print("train windows", x_train.shape, "test windows", x_test.shape)

engine.manual_seed(0)
model = SequenceRegressor(nn.RNN(1, 4), 4)  # the course: 4 cells, Dense(1)
history = nn.fit(model, x_train, y_train, loss="mse", optimizer=nn.optim.Adam(model.parameters(), lr=0.01),
                 epochs=EPOCHS, batch_size=32, validation_data=(x_test, y_test), verbose=0)
viz.plot_history(history)

# %%
pred = nn.predict(model, x_test)
test_mse = float(np.mean((pred - y_test) ** 2))
naive_mse = float(np.mean((x_test[:, -1] - y_test) ** 2))  # "tomorrow = today"
print(f"test MSE (standardised units): RNN {test_mse:.4f}, naive last-value {naive_mse:.4f}")
viz.plot_curve(np.arange(len(y_test)), np.c_[y_test * std + mean, pred * std + mean],
               xlabel="test day", ylabel="price", title="test set: truth and RNN prediction",
               labels=("truth", "prediction"))

# %% [markdown]
# ### Flux's `Recur` semantics: a stateful RNN fed chunk by chunk
# With `stateful=True` the layer keeps its final state between calls (detached: gradients
# stop at the chunk boundary) until `reset_state()` — Flux's `Recur` and `reset!`. Here the
# whole training series is fed as consecutive chunks of 20 steps, predicting every next value,
# with `reset_state()` at the start of each epoch.

# %%
engine.manual_seed(1)
cell = nn.RNN(1, 8, stateful=True)
head = nn.Linear(8, 1)
params = list(cell.parameters()) + list(head.parameters())
opt = nn.optim.Adam(params, lr=0.01)
series = engine.tensor(z[:split, None][None])  # (1, T, 1)
losses = []
for epoch in range(EPOCHS):
    cell.reset_state()  # Flux: reset!(model)
    total = 0.0
    for start in range(0, split - 21, 20):
        out, _ = cell(series[:, start:start + 20])
        loss = nn.F.mse_loss(head(out), series[:, start + 1:start + 21])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    losses.append(total / len(range(0, split - 21, 20)))
viz.plot_curve(np.arange(1, EPOCHS + 1), losses, xlabel="epoch", ylabel="mse",
               title="stateful RNN, chunks of 20 steps")
print(f"final epoch loss {losses[-1]:.4f}")

# %% [markdown]
# ## Course 004: a linear SimpleRNN on sin(x), weights read and predictions by hand

# %%
x_axis = np.arange(0, 40 if FAST else 200) * np.pi / 10
x_sin, y_sin = windows(np.sin(x_axis), 2)
def train_linear_rnn(seed):
    engine.manual_seed(seed)
    rnn = nn.RNN(1, 1, nonlinearity="linear")  # S_t = x_t·W_i + S_{t−1}·W_s + bias
    opt = nn.optim.Adam(rnn.parameters(), lr=0.05)
    for epoch in range(100 if FAST else 500):
        _, h = rnn(engine.tensor(x_sin))
        loss = nn.F.mse_loss(h, y_sin)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return rnn, loss.item()


lin, mse = train_linear_rnn(seed=0)
Wi = lin.weight_ih_l0.item()
Ws = lin.weight_hh_l0.item()
bias = lin.bias_ih_l0.item() + lin.bias_hh_l0.item()  # PyTorch keeps two biases; Keras one
print(f"training mse {mse:.2e};  Wi = {Wi:.4f}, Ws = {Ws:.4f}, bias = {bias:.4f}")
print(f"theory: sin(t + d) = 2cos(d)·sin(t) − sin(t − d), so Wi = 2cos(π/10) = "
      f"{2 * np.cos(np.pi / 10):.4f} and Ws·Wi = −1 (Ws = {-1 / (2 * np.cos(np.pi / 10)):.4f})")
_, stuck = train_linear_rnn(seed=2)
print(f"from another start (seed 2, W_i < 0 initially) Adam stalls at mse {stuck:.3f}: the "
      f"loss in (W_i, W_s) has a second, poor basin")

s1 = np.sin(0.31) * Wi + 0 * Ws + bias
s2 = np.sin(0.62) * Wi + s1 * Ws + bias
_, h1 = lin(engine.tensor([[[np.sin(0.31)]]]))
_, h2 = lin(engine.tensor([[[np.sin(0.31)], [np.sin(0.62)]]]))
print(f"[sin(0.31)]             model {h1.item():.6f}   by hand {s1:.6f}")
print(f"[sin(0.31), sin(0.62)]  model {h2.item():.6f}   by hand {s2:.6f}")

# %% [markdown]
# ## Rolled and unrolled
# The compact form has the recurrence edge on the hidden state; unfolded in time, each step is
# a cluster holding its input, ops and state, and the shared weights are drawn once, outside,
# with an edge into every step.

# %%
viz.draw_rolled(lin)

# %%
viz.draw_unrolled(lin, np.sin(x_axis[:4])[:, None])

# %%
viz.draw_unrolled(nn.LSTM(1, 2), np.sin(x_axis[:12])[:, None])

# %% [markdown]
# ## An LSTM on (samples, timesteps, features) input
# The slides' `LSTM(32, input_shape=(50, 2))` then Dense(1). A task that needs memory over all
# 50 steps (the "adding problem"): feature 0 is a random value, feature 1 marks two positions;
# the target is the sum of the two marked values. Predicting the mean (≈ 1.0) gives MSE ≈ 0.17.

# %%
def adding_problem(n, steps=50, seed=0):
    r = np.random.default_rng(seed)
    x = np.zeros((n, steps, 2), np.float32)
    x[..., 0] = r.random((n, steps))
    for i in range(n):
        a, b = r.choice(steps, 2, replace=False)
        x[i, [a, b], 1] = 1.0
    return x, (x[..., 0] * x[..., 1]).sum(axis=1, keepdims=True)


xa, ya = adding_problem(256 if FAST else 2000)
xa_test, ya_test = adding_problem(200, seed=1)
engine.manual_seed(3)
lstm_model = SequenceRegressor(nn.LSTM(2, 32), 32)
print(nn.summary(lstm_model, (50, 2)))
hist = nn.fit(lstm_model, xa, ya, loss="mse", optimizer=nn.optim.Adam(lstm_model.parameters(), lr=0.005),
              epochs=2 if FAST else 40, batch_size=32, validation_data=(xa_test, ya_test), verbose=0)
print(f"LSTM test mse {hist.history['val_loss'][-1]:.4f} (predicting the mean: "
      f"{float(np.var(ya_test)):.4f})")
viz.plot_history(hist, log_scale=True)

# %% [markdown]
# ## What we observed
# - The windowed random-walk series: the 4-cell RNN reaches a test MSE of 0.0120 (standardised
#   units) against 0.0266 for the naive "tomorrow = today" forecast; loss per epoch falls
#   smoothly for train and test.
# - The stateful RNN fed in chunks (Flux's `Recur`/`reset!`) trains as well: final epoch loss 0.0114.
# - The linear SimpleRNN learns the exact recurrence of the sine: W_i = 1.9021 = 2cos(π/10),
#   W_s = −0.5257 (W_s·W_i = −1), training MSE ≈ 1e-14. Its predictions for [sin(0.31)] and
#   [sin(0.31), sin(0.62)] (0.580256 and 0.800136) are reproduced by hand from the weights to
#   all printed digits. From a start with W_i < 0 Adam stalls in a poor basin (MSE 0.207).
# - The LSTM(32) on (samples, 50, 2) input solves the adding problem: test MSE 0.0014 against
#   0.174 for predicting the mean.
