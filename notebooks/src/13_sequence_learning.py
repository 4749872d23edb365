# %% [markdown]
# # 13 · Sequence learning: recurrence, the unfolded graph, parameter sharing, 1-D convolution
#
# **What the course asks** (course 004, "Deep Learning 05" didactic modules, *Sequence
# Learning* and *Redes Recorrentes RNN*; the course's own notebook is `recursivo.ipynb`):
#
# - **Recurrence.** The value corrected from month to month, v(m) = v(m−1)·(1 + i), is a
#   recurrence: the value at month m refers to the value one step earlier, by the same rule
#   every month. Write it as a recursive algorithm in Python.
# - **Unfolding.** For a finite number of months it can be written out ("unfolded"):
#   v(3) = v(2)(1+i), v(2) = v(1)(1+i), v(1) = v(0)(1+i), v(0) = V. Computational graphs with
#   a recurrence likewise have a compact form and an unfolded one.
# - **An RNN.** Inputs x at t−1, t, t+1; hidden state ("memory") s_t = f(x_t U + W s_{t−1});
#   output o_t = V s_t (W, U, V: the memory, input and output weights). A recurrent network is
#   one with a recurrence arc in its graph: feed-forward nets approximate non-recurrent
#   functions, RNNs recurrent ones.
# - **Questions** (after Goodfellow, Bengio & Courville, *Deep Learning*, ch. 10, to the second
#   paragraph of p. 368): what is the advantage of parameter sharing, already seen in CNNs?
#   What is the difference between a 1-D convolution and a recurrent network? Why do we need
#   RNNs for time series (sequences in general) when we have feed-forward nets?
#
# The course prints no numbers for these items; every figure below is ours, and every
# data set is made here (the items are about the structure of the computation, not about a
# data set).

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # nothing long here: the same run either way

# %%
# %matplotlib inline
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

import engine
import nn
import viz
from engine import Tensor, Value

matplotlib.rcParams["figure.dpi"] = 80  # small images: the committed notebook stays light
started = time.perf_counter()

# %% [markdown]
# ## `004-recurrence`, `004-recursivo` — the corrected value, a recursive algorithm
# The course's `recursivo.ipynb` is not printed; this is the function its text describes:
# v(0) = V, v(m) = v(m−1)·(1 + i). The closed form V·(1 + i)^m checks it.

# %%
def v(m, V=1000.0, i=0.01):
    """The value after m months at rate i: v(0) = V, v(m) = v(m − 1)·(1 + i)."""
    if m == 0:
        return V
    return v(m - 1, V, i) * (1 + i)


print(f"{'m':>3} | {'v(m), recursive':>16} | {'V·(1+i)^m':>12}")
for m in (0, 1, 2, 3, 12, 24):
    print(f"{m:>3} | {v(m):>16.4f} | {1000 * 1.01 ** m:>12.4f}")

# %% [markdown]
# ## `004-unfold` — the unfolded form, as a graph
# The same recursion run on stepgrad `Value`s records every multiplication: the graph of
# v(3) *is* the unfolded form, v(0) = V → v(1) → v(2) → v(3), with the one rate i feeding
# every month.

# %%
V0, rate = Value(1000.0, label="V = v(0)"), Value(0.01, label="i")


def v_graph(m):
    if m == 0:
        return V0
    out = v_graph(m - 1) * (1 + rate)
    out.label = f"v({m})"
    return out


v3 = v_graph(3)
print(f"v(3) = {v3.data:.4f}")
viz.draw_graph(v3)

# %% [markdown]
# The compact (rolled) form needs a loop, which a graph of values cannot hold; a recurrent
# layer can. v(m) is a one-unit linear RNN: state h_m = (1 + i)·h_{m−1} + 1·x_m, with the
# deposit V as the input of month 0 and nothing after (x = V, 0, 0, 0). Weights: recurrent
# W = 1 + i, input U = 1, no bias. Its rolled picture has the recurrence arc; unrolled over
# four months it is the chain above.

# %%
deposit = nn.RNN(1, 1, nonlinearity="linear", bias=False, batch_first=True)
deposit.load_state_dict({"weight_ih_l0": np.array([[1.0]], np.float32),
                         "weight_hh_l0": np.array([[1.01]], np.float32)})
x_months = np.array([[1000.0], [0.0], [0.0], [0.0]], np.float32)  # (T, features)
states, _ = deposit(Tensor(x_months[None]))
print("RNN states h_0..h_3:", np.round(states.data[0, :, 0], 4), " recursion:",
      [round(v(m), 4) for m in range(4)])
viz.draw_rolled(deposit)

# %%
viz.draw_unrolled(deposit, x_months)

# %% [markdown]
# ## `004-rnn-def` — s_t = f(x_t U + W s_{t−1}), o_t = V s_t
# An `nn.RNN` without biases is exactly the course's memory equation (f = tanh); a `Linear`
# without bias applied to every s_t is the output V s_t. In stepgrad's (PyTorch's) names,
# U = `weight_ih_l0`ᵀ (x_t is a row, so x_t U), W = `weight_hh_l0` and V = `head.weight`.
# The equations written out in numpy give the same numbers, step by step.

# %%
engine.manual_seed(0)
rnn = nn.RNN(2, 3, bias=False, batch_first=True)        # 2 inputs, a memory of 3 units
head = nn.Linear(3, 1, bias=False)    # o_t = V s_t
x_seq = np.random.default_rng(0).normal(size=(3, 2)).astype(np.float32)  # x at t−1, t, t+1
s_all, _ = rnn(Tensor(x_seq[None]))
o_all = head(s_all)

U, W, Vout = (rnn.weight_ih_l0.data.T, rnn.weight_hh_l0.data, head.weight.data)
s = np.zeros(3, np.float32)
by_hand = []
print(f"U {U.shape}, W {W.shape}, V {Vout.shape}")
for t, name in enumerate(("t−1", "t", "t+1")):
    s = np.tanh(x_seq[t] @ U + W @ s)           # s_t = f(x_t U + W s_{t−1})
    o = Vout @ s                                # o_t = V s_t
    by_hand.append(o[0])
    print(f"{name:>4}: s = {np.round(s, 5)}  o = {o[0]:+.5f}   stepgrad: "
          f"s = {np.round(s_all.data[0, t], 5)}  o = {o_all.data[0, t, 0]:+.5f}")
gap = np.abs(np.array(by_hand) - o_all.data[0, :, 0]).max()
print(f"max |o by hand − o from stepgrad| = {gap:.1e}")

# %% [markdown]
# The course's figure, drawn from the run above: inputs at t−1, t, t+1, the memory handed
# from step to step (purple), the shared weights drawn once.

# %%
viz.draw_unrolled(rnn, x_seq)

# %% [markdown]
# ## `004-q-sharing` — what does parameter sharing buy?
# **Answer.** The same weights are used at every time step (as a CNN uses the same kernel at
# every position). So (1) the number of parameters does not grow with the length of the
# sequence; (2) the model can be applied to sequences of any length, including lengths never
# seen in training; (3) what is learnt at one time step is used at all of them — a pattern is
# recognised wherever it occurs in time, and every step of every training sequence is a
# training example for the same weights (statistical strength shared across time).
#
# **By counting.** For windows of T values with one feature: a recurrent layer of 8 units and
# a Linear(8 → 1) read-out against a feed-forward net with a hidden layer of 8 on the
# flattened window, and against an "unshared" recurrence with its own W, U and bias at each
# step.

# %%
def count(module):
    return sum(p.numel() for p in module.parameters())


print(f"{'T':>6} | {'RNN(1→8)+Linear':>16} | {'MLP T→8→1':>10} | {'own weights per step':>21}")
for T in (10, 100, 1000):
    rnn_params = count(nn.RNN(1, 8, single_bias=True, batch_first=True)) + count(nn.Linear(8, 1))
    mlp_params = count(nn.Sequential(nn.Linear(T, 8), nn.Tanh(), nn.Linear(8, 1)))
    unshared = T * (count(nn.RNN(1, 8, single_bias=True, batch_first=True))) + count(nn.Linear(8, 1))
    print(f"{T:>6} | {rnn_params:>16,} | {mlp_params:>10,} | {unshared:>21,}")

# %% [markdown]
# **By gradients.** In the unrolled graph the one weight matrix W_hh is used at every step,
# so backprop brings it one contribution per step, and `.grad` is their **sum**. To see the
# contributions, the same forward pass is written out with a separate copy W_t of W_hh at
# each step (same values): each copy gets its own gradient, and the shared weight's gradient
# in `nn.RNN` is exactly their sum.

# %%
engine.manual_seed(1)
T = 5
cell = nn.RNN(1, 3, single_bias=True, batch_first=True)
xs = np.random.default_rng(2).normal(size=(1, T, 1)).astype(np.float32)  # (1, T, 1)
target = np.float32(0.5)
_, h_last = cell(Tensor(xs))
loss = ((h_last.sum() - target) ** 2)
loss.backward()
shared_grad = np.asarray(cell.weight_hh_l0.grad)

copies = [Tensor(cell.weight_hh_l0.data.copy(), requires_grad=True) for _ in range(T)]
h = engine.zeros(1, 3)
for t in range(T):  # h_t = tanh(x_t W_ihᵀ + b + h_{t−1} W_tᵀ), one copy W_t per step
    h = (Tensor(xs[:, t]) @ cell.weight_ih_l0.detach().T + cell.bias_ih_l0.detach()
         + h @ copies[t].T).tanh()
((h.sum() - target) ** 2).backward()
per_step = [np.asarray(c.grad) for c in copies]
print(f"{'step t':>6} | ‖∂loss/∂W_t‖")
for t, g in enumerate(per_step):
    print(f"{t:>6} | {np.linalg.norm(g):.6f}" + ("   (h_{−1} = 0: W is multiplied by 0)"
                                                  if t == 0 else ""))
print(f"   sum | {np.linalg.norm(sum(per_step)):.6f}")
print(f"nn.RNN's weight_hh_l0.grad: ‖·‖ = {np.linalg.norm(shared_grad):.6f}; "
      f"max |Σ_t ∂loss/∂W_t − grad| = {np.abs(sum(per_step) - shared_grad).max():.2e}")

# %% [markdown]
# The same accumulation, step by step, in the backprop player: a scalar RNN
# h_t = tanh(w·h_{t−1} + u·x_t) over three steps, loss (h_3 − y)². Step through it (buttons,
# slider or arrow keys): each time backprop reaches a use of **w** or **u**, the text shows
# the contribution and the leaf's `.grad` grows; after the last step w.grad is the sum of its
# three contributions.

# %%
w, u = Value(0.8, label="w"), Value(0.5, label="u")
h = Value(0.0, label="h₀")
for t, xt in enumerate((1.0, -0.5, 0.25), start=1):
    h = (w * h + u * Value(xt, label=f"x{t}")).tanh()
    h.label = f"h{t}"
error = h - Value(0.3, label="y")
loss_v = error * error  # (h₃ − y)²
loss_v.label = "loss"
player = viz.player(loss_v, title="a scalar RNN, 3 steps: w and u are shared")
player

# %%
w_lines = [line for text in player.texts for line in text.splitlines() if "→ w:" in line]
print("every contribution to w.grad, in backprop's order:")
for line in w_lines:
    print("  ", line.strip())
print(f"sum of the contributions = w.grad = {w.grad:.6f}  (the first use of w multiplies "
      f"it by h₀ = 0, so it contributes 0)")

# %% [markdown]
# ## `004-q-conv1d` — 1-D convolution or recurrent network?
# **Answer** (Goodfellow et al., 10.1). Both share parameters across time. A 1-D convolution
# shares a small kernel: each output is a function of a few *neighbouring inputs* (k of them
# for kernel size k; depth widens the window, but it stays finite), and all time steps are
# computed at once, in parallel — a shallow sharing. An RNN shares its whole transition:
# each output is a function of the *previous output (state)*, computed by the same update
# rule, so h_t depends on every input before it — an unbounded memory — but the steps must be
# computed one after the other, and the gradient reaches far inputs only through a long
# product of Jacobians.
#
# Measured: the gradient of the last output with respect to every input, for a convolution
# with kernel 3, two such layers stacked, and a recurrent layer.
#
# The 1-D convolution is written here with `engine.conv2d` on (N, C, 1, L) and a (F, C, 1, k)
# kernel (this notebook was written before `engine.conv1d` reached stepgrad's main line);
# it is checked against numpy's `correlate`, and against `engine.conv1d` where that exists.

# %%
def conv1d(x, w, b=None, padding=0):
    """1-D cross-correlation: x (N, C, L), w (F, C, k) → (N, F, L − k + 1 + 2·padding)."""
    out = engine.conv2d(x.unsqueeze(2), w.unsqueeze(2), b, padding=(0, padding))
    return out.squeeze(2)


rng = np.random.default_rng(0)
signal, kernel = rng.normal(size=12).astype(np.float32), rng.normal(size=3).astype(np.float32)
ours = conv1d(Tensor(signal[None, None]), Tensor(kernel[None, None])).data[0, 0]
print("conv1d via conv2d = numpy correlate:",
      np.allclose(ours, np.correlate(signal, kernel, mode="valid"), atol=1e-6))
if hasattr(engine, "conv1d"):  # where stepgrad has it, the two must agree
    native = engine.conv1d(Tensor(signal[None, None]), Tensor(kernel[None, None])).data[0, 0]
    print("engine.conv1d agrees:", np.allclose(native, ours, atol=1e-6))
else:
    print("engine.conv1d: not in this version of stepgrad")

# %%
L = 20
engine.manual_seed(0)
k1 = Tensor(rng.normal(size=(1, 1, 3)).astype(np.float32))
k2 = Tensor(rng.normal(size=(1, 1, 3)).astype(np.float32))
recurrent = nn.RNN(1, 4, single_bias=True, batch_first=True)


def last_output_gradient(f):
    x = Tensor(rng.normal(size=(1, 1, L)).astype(np.float32), requires_grad=True)
    f(x).backward()
    return np.abs(np.asarray(x.grad)[0, 0])


dependence = {
    "conv k=3 (1 layer)": last_output_gradient(lambda x: conv1d(x, k1, padding=1)[0, 0, -2]),
    "conv k=3 (2 layers)": last_output_gradient(
        lambda x: conv1d(conv1d(x, k1, padding=1).tanh(), k2, padding=1)[0, 0, -3]),
    "RNN (4 units)": last_output_gradient(
        lambda x: recurrent(x.permute(0, 2, 1))[1].sum()),
}
fig, ax = plt.subplots(figsize=(7, 3))
for (name, g), marker in zip(dependence.items(), ("o", "s", "^"), strict=True):
    ax.semilogy(np.arange(L), np.maximum(g, 1e-12), marker + "-", ms=4, label=name)
ax.set_xlabel("input time step t")
ax.set_ylabel("|∂ output / ∂ x_t|")
ax.set_ylim(1e-9, 10)
ax.set_title("which inputs one output depends on (zero plotted at 1e-12)")
ax.legend(frameon=False, fontsize=8)
plt.show()
for name, g in dependence.items():
    print(f"{name:>20}: depends on {int(np.sum(g > 0))} of {L} inputs")

# %% [markdown]
# And the cost structure: the convolution is one op for all L positions; the RNN's graph,
# drawn step by step (`nn.layers.recurrent.stepwise`, what `viz.draw_unrolled` draws), grows
# with L, one step after another. (For training, `nn.RNN` runs those L steps inside one op,
# as PyTorch's C++ loop does: one node, the same sequential work.)

# %%
def rnn_stepwise(x):
    with nn.layers.recurrent.stepwise(recurrent):
        return recurrent(x.permute(0, 2, 1))[0]


for name, f in (("conv k=3", lambda x: conv1d(x, k1, padding=1)), ("RNN", rnn_stepwise)):
    out = f(Tensor(np.zeros((1, 1, L), np.float32), requires_grad=True))
    print(f"{name:>9}: {len(engine.topo_order(out)):>3} nodes in the graph for L = {L}")

# %% [markdown]
# ## `004-q-why-rnn` — why RNNs when we have feed-forward nets?
# **The text's answer.** Recurrent networks have loops: feedback and a memory over time, so
# they learn and generalise across *sequences* of inputs, where an MLP learns individual,
# fixed-size patterns.
#
# **Shown.** Task: the running total of a sequence of numbers (a memory that never
# forgets). A Keras-style `SimpleRNN(1, activation=None)` and a `Dense(1)` on a window of the
# last 10 values are trained on sequences of length 10 — where both can be exact — then
# tested on longer sequences. The MLP only ever sees its window; the RNN's state carries
# everything before it, at any length.

# %%
from nn.keras import Sequential  # noqa: E402
from nn.keras.layers import Dense, SimpleRNN  # noqa: E402
from nn.keras.optimizers import Adam  # noqa: E402


def running_total(n, length, seed):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, length, 1)).astype(np.float32)
    return x, x.sum(axis=1)


x_tr, y_tr = running_total(256, 10, seed=1)
engine.manual_seed(0)
rnn_model = Sequential([SimpleRNN(1, activation=None, use_bias=False, input_shape=(None, 1))])
rnn_model.compile(optimizer=Adam(learning_rate=0.05), loss="mse")
rnn_model.fit(x_tr, y_tr, epochs=40, batch_size=32, verbose=0)
mlp_model = Sequential([Dense(1, input_shape=(10,))])
mlp_model.compile(optimizer=Adam(learning_rate=0.05), loss="mse")
mlp_model.fit(x_tr[..., 0], y_tr, epochs=40, batch_size=32, verbose=0)

W_in, W_rec = rnn_model.get_weights()
print(f"SimpleRNN weights: input {W_in.ravel()[0]:.4f}, recurrent {W_rec.ravel()[0]:.4f} "
      f"(an exact running total: 1 and 1)")
print(f"{'length':>6} | {'RNN mse':>9} | {'MLP on last 10 mse':>18} | {'variance of target':>18}")
for length in (10, 20, 50):
    x_te, y_te = running_total(200, length, seed=100 + length)
    e_rnn = float(np.mean((rnn_model.predict(x_te, verbose=0) - y_te) ** 2))
    e_mlp = float(np.mean((mlp_model.predict(x_te[:, -10:, 0], verbose=0) - y_te) ** 2))
    print(f"{length:>6} | {e_rnn:>9.4f} | {e_mlp:>18.4f} | {float(np.var(y_te)):>18.2f}")

# %%
print(f"whole notebook: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## What we observed
# (The whole notebook runs in about 5 s; nothing in it depends on FAST.)
#
# | id | course | ours |
# |---|---|---|
# | `004-recurrence`, `004-recursivo` | v(m) = v(m−1)(1 + i), code not printed | the recursive function = V(1 + i)^m; v(3) = 1030.301 (V = 1000, i = 1 %) |
# | `004-unfold` | v(3) = v(2)(1+i) … v(0) = V; "compact and unfolded" graphs | the `Value` graph of v(3); a one-unit linear RNN (W = 1 + i) rolled and unrolled, states 1000, 1010, 1020.1, 1030.301 |
# | `004-rnn-def` | s_t = f(x_t U + W s_{t−1}), o_t = V s_t | numpy by hand = `nn.RNN(bias=False)` + `Linear(bias=False)` to 1·10⁻⁸ at t−1, t, t+1 |
# | `004-q-sharing` | question | 89 parameters at any window length; MLP 97 / 817 / 8,017 and per-step weights 809 / 8,009 / 80,009 at T = 10 / 100 / 1000; Σ per-step gradients = shared gradient (3·10⁻⁸) |
# | `004-q-conv1d` | question | one output of a k = 3 convolution depends on 3 inputs, two layers on 5, the RNN on all 20 |
# | `004-q-why-rnn` | loops give memory over sequences | trained on length 10: SimpleRNN exact at 20 and 50; MLP on the last 10: MSE 9.7 and 34.8 (target variance 20.4, 43.7) |
#
# - **Recurrence, unfolding:** the recursive function and the closed form agree; the graph the
#   recursion records on `Value`s *is* the unfolded form, with the one rate i feeding every
#   month; the compact form with its loop needs a recurrent layer.
# - **Sharing:** the shared W_hh's gradient equals the sum of the gradients of per-step
#   copies, and the player shows w.grad built up from one contribution per use (the first use
#   multiplies w by h₀ = 0 and adds nothing). The advantages: a parameter count independent
#   of the length, any length at test time, and every step of every sequence training the
#   same weights.
# - **1-D convolution vs RNN:** both share weights over time; the convolution's reach is a
#   fixed window (3 inputs, 5 with two layers) computed in parallel (one op for all 20
#   positions, 5 graph nodes), the RNN's reaches every earlier input, one step after another
#   (91 graph nodes for 20 steps), with a gradient that decays with distance.
# - **Why RNNs:** the linear SimpleRNN learns the running total exactly (weights 1 and 1) and
#   stays exact at lengths never seen; the MLP, exact at length 10, cannot see past its window.
