# %% [markdown]
# # 12 · "Maior dúvida da aula": the students' questions, answered with computations
#
# Course 002 collects the questions students left after a class on neural networks (and
# answers a few with slides). Each question below gets a short written answer and, where
# one exists, a computation with stepgrad that shows it. They are grouped by the class's
# own topics: **backpropagation** (questions 8, 9, 10, 12, 14, 16), **activations and the
# bias** (11, 13), **representations** (4, 5: sparse codes and the autoencoder), the
# **softmax** slide (cat, dog, frog, car) and the **PyTorch data loading** listing.
#
# Answered elsewhere: question 1 (2 × 50 epochs = 100 epochs?) in notebook 06; questions 2
# (L1 vs L2), 3 (exploding gradients), 6 (dropout), 7 (normalisation, BatchNorm) and 15 (NaN:
# where does it come from?) in notebook 07, beside the slides' BatchNorm table.
#
# **Data:** Fashion-MNIST (60,000 + 10,000 images of clothing, from Debian's package
# `dataset-fashion-mnist` through `nn.datasets.fashion_mnist`) for the autoencoder, the
# timing and the data loaders; small synthetic problems (named as such) where a question
# is about a mechanism rather than a data set.

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # CI: small subsets, 1–2 epochs, 1 timing repeat

# %%
# One thread for numpy's BLAS and one for stepgrad's Numba kernels (set before either is
# loaded): question 16 measures the CPU time of each layer, which threads waiting for each
# other would inflate.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
# %matplotlib inline
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

import engine
import nn
import viz
from engine import Tensor
from engine.ops import xp

F = nn.F
matplotlib.rcParams["figure.dpi"] = 80  # small images: the committed notebook stays light
started = time.perf_counter()

N_AE = 2_000 if FAST else 60_000      # autoencoder training images (q5)
AE_EPOCHS = 1 if FAST else 10
N_SMALL = 200                          # the deliberately tiny training set of q5
SMALL_EPOCHS = 20 if FAST else 300
N_PROBE = 1_000 if FAST else 10_000    # images for the linear probes of q4
TIME_REPEATS = 2 if FAST else 7        # q16: repeats of each timing (the median is shown)
DEEP_STEPS = 20 if FAST else 300       # q13: training steps of the deep nets

(fx_train, fy_train), (fx_test, fy_test) = nn.datasets.fashion_mnist(download=False)
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot")
print(f"Fashion-MNIST: train {fx_train.shape}, test {fx_test.shape}")

# %% [markdown]
# ## Backpropagation
#
# ### `002-q9` — "the 3Blue1Brown videos show the computations well"
# Not a question but a comment; the slides list the playlist ("But what is a neural
# network?", "Gradient descent, how neural networks learn", "What is backpropagation really
# doing?", "Backpropagation calculus") and "A friendly introduction to Neural Networks".
# The same computations, step by step, on a network small enough to follow — one sigmoid
# neuron feeding another, as in "Backpropagation calculus": `viz.player` shows every step of
# backward (buttons, slider or arrow keys): which node receives its gradient, by which rule,
# with the numbers.

# %%
w1, b1 = engine.tensor(0.8, requires_grad=True, name="w1"), engine.tensor(
    -0.2, requires_grad=True, name="b1")
w2, b2 = engine.tensor(1.5, requires_grad=True, name="w2"), engine.tensor(
    0.1, requires_grad=True, name="b2")
x_in = engine.tensor(1.0, name="x")
a1 = (w1 * x_in + b1).sigmoid()
a1.name = "a1"
a2 = (w2 * a1 + b2).sigmoid()
a2.name = "a2"
cost = (a2 - 1.0) ** 2
cost.name = "C"
viz.player(cost, title="C = (σ(w2·σ(w1·x + b1) + b2) − 1)²")

# %% [markdown]
# ### `002-q8` — can any activation function be used with backpropagation?
# **No.** Backpropagation multiplies, layer by layer, by the activation's derivative f′(z),
# so f must be differentiable almost everywhere (ReLU's kink at one point is fine) and its
# derivative must carry information: a step function has f′ = 0 wherever it is defined, so
# no gradient reaches the layers before it. And f must be non-linear, or the whole network
# collapses into one linear map. On the XOR-like "two circles" problem (a synthetic data set:
# points inside or outside a circle), the same 2-16-1 network with different activations,
# trained by the same gradient descent:

# %%
rng = np.random.default_rng(0)
xy = rng.uniform(-1, 1, (400, 2)).astype(np.float32)
inside = ((xy ** 2).sum(axis=1) < 0.5).astype(np.float32)  # a circle: not linearly separable


def step(z):
    return (z > 0).astype(np.float32)  # a comparison: no gradient flows through it


ACTIVATIONS = {"relu": lambda z: z.relu(), "tanh": lambda z: z.tanh(),
               "sigmoid": lambda z: z.sigmoid(), "|z| (kink at 0)": lambda z: z.abs(),
               "identity (linear)": lambda z: z, "step (f′ = 0)": step}


def train_two_layer(act, steps=300 if FAST else 2000, lr=0.5):
    engine.manual_seed(0)
    hidden, out = nn.Linear(2, 16), nn.Linear(16, 1)
    opt = nn.optim.SGD(list(hidden.parameters()) + list(out.parameters()), lr=lr)
    xt = Tensor(xy)
    for _ in range(steps):
        logit = out(act(hidden(xt)))[:, 0]
        loss = F.binary_cross_entropy_with_logits(logit, inside)
        opt.zero_grad()
        loss.backward()
        opt.step()
    first_grad = hidden.weight.grad
    reached = first_grad is not None and float(np.abs(np.asarray(first_grad)).max()) > 0
    acc = float(((logit.data > 0) == inside).mean())
    return loss.item(), acc, reached


print(f"{'activation':<20}{'loss':>8}{'accuracy':>10}   gradient reaches the first layer?")
for name, act in ACTIVATIONS.items():
    loss, acc, reached = train_two_layer(act)
    print(f"{name:<20}{loss:>8.3f}{acc:>10.3f}   {'yes' if reached else 'no'}")

# %% [markdown]
# relu, tanh, sigmoid and |z| all learn the circle (|z| and relu are not differentiable at
# 0 — the engine uses a subgradient there, which is all backpropagation needs). The linear
# network stays at the accuracy of a straight line, and behind the step function the first
# layer receives no gradient at all: only the output layer learns, on 16 random features.
#
# ### `002-q10` — can the error be backpropagated to only a "part" of the network?
# **Yes**, two ways. *Freezing*: parameters with `requires_grad=False` (`layer.freeze()`,
# Keras's `layer.trainable = False`) get no gradient and the optimizer leaves them alone —
# transfer learning (notebook 09) freezes a pretrained network this way. *Cutting the
# graph*: `h.detach()` makes the backward pass stop at h — nothing before it gets a gradient.
# Backward also skips the work for the cut-off part.

# %%
engine.manual_seed(0)
net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
net[0].freeze()  # the first layer: no gradient, not updated
opt = nn.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.5)
before = [p.data.copy() for p in net.parameters()]
for _ in range(50):
    loss = F.binary_cross_entropy_with_logits(net(Tensor(xy))[:, 0], inside)
    opt.zero_grad()
    loss.backward()
    opt.step()
for (name, p), old in zip(net.named_parameters(), before, strict=True):
    print(f"{name:<9} requires_grad={p.requires_grad!s:<5} grad is None: {p.grad is None!s:<5} "
          f"changed: {not np.array_equal(p.data, old)}")

# detach(): the gradient stops at the cut, whatever requires_grad says
net[0].unfreeze()
net.zero_grad()
h = net[1](net[0](Tensor(xy))).detach()  # cut after the first block
loss = F.binary_cross_entropy_with_logits(net[2:](h)[:, 0], inside)
loss.backward()
print("\nwith detach() after layer 1:",
      {name: p.grad is not None for name, p in net.named_parameters()})

# %% [markdown]
# ### `002-q14` — which delta updates a weight: the whole network's error, or the layer's own?
# **Both, in a sense: the layer's own delta, which is computed from the whole network's
# error.** The update of W⁽ˡ⁾ is ∂C/∂W⁽ˡ⁾ = δ⁽ˡ⁾ · a⁽ˡ⁻¹⁾ᵀ, where δ⁽ˡ⁾ = ∂C/∂z⁽ˡ⁾ is the
# delta *at that layer*; but δ⁽ˡ⁾ is obtained from the next layer's,
# δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ f′(z⁽ˡ⁾), all the way back from the output error
# δ⁽ᴸ⁾ = ∂C/∂a⁽ᴸ⁾ ⊙ f′(z⁽ᴸ⁾). There is no separate "error of a hidden layer": there are no
# targets for it. Computed by hand for a 2-3-2-1 sigmoid network and
# one example, against the engine's gradients:

# %%
engine.manual_seed(0)
mlp3 = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 2), nn.Sigmoid(),
                     nn.Linear(2, 1), nn.Sigmoid())
mlp3 = mlp3.double()  # float64: the comparison below is to rounding error
x0, t0 = np.array([[0.5, -1.0]]), np.array([[1.0]])
out = mlp3(engine.tensor(x0, dtype=np.float64))
C = 0.5 * ((out - engine.tensor(t0, dtype=np.float64)) ** 2).sum()
mlp3.zero_grad()
C.backward()

# by hand: forward, keeping z and a of every layer
Ws = [np.asarray(mlp3[i].weight.data, dtype=np.float64) for i in (0, 2, 4)]
bs = [np.asarray(mlp3[i].bias.data, dtype=np.float64) for i in (0, 2, 4)]
a, zs, acts = x0, [], [x0]
for W, b in zip(Ws, bs, strict=True):
    z = a @ W.T + b
    a = 1 / (1 + np.exp(-z))
    zs.append(z)
    acts.append(a)
sig_prime = [1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z))) for z in zs]
delta = (acts[-1] - t0) * sig_prime[-1]           # output layer: from the error
deltas = [delta]
for k in (1, 0):                                  # hidden layers: from the next delta
    delta = (delta @ Ws[k + 1]) * sig_prime[k]
    deltas.insert(0, delta)
for k, i in enumerate((0, 2, 4)):
    by_hand = deltas[k].T @ acts[k]
    engine_grad = np.asarray(mlp3[i].weight.grad)
    print(f"layer {k + 1}: δ = {np.round(deltas[k][0], 5)}   max |δ·aᵀ − engine's ∂C/∂W| = "
          f"{np.abs(by_hand - engine_grad).max():.1e}")

# %% [markdown]
# ### `002-q12` — must backpropagation be worked out by hand for every model?
# **No.** Automatic differentiation (stepgrad's engine, PyTorch's autograd, TensorFlow's
# GradientTape) builds the graph during the forward pass and applies each op's local rule
# backwards — the computation above, done for any composition of ops. Working it out by hand
# is worth it to *understand* a behaviour (why gradients vanish through sigmoids, question
# 13; why a relu unit dies), to write a new op with its backward rule, or to debug one. For
# the last, the tool is a gradient check: compare the backward rule with finite differences.
# A new op with a deliberately wrong rule is caught at once:

# %%
class WrongSoftplus(engine.Op):
    """softplus(x) = ln(1 + eˣ) whose backward rule has a bug: 2σ(x) instead of σ(x)."""
    name = "softplus_with_a_bug"
    formula = "d softplus(u)/du = 2σ(u)   (wrong: should be σ(u))"

    def forward(self, x):
        return np.logaddexp(0.0, x)

    def backward(self, g, x, out):
        return g * 2 * xp.sigmoid(x)


x_check = engine.tensor(np.linspace(-2, 2, 5), dtype=np.float64, requires_grad=True)
try:
    engine.gradcheck(lambda t: WrongSoftplus.apply(t).sum(), x_check)
    print("gradcheck passed")
except engine.GradcheckError as e:
    print(f"{type(e).__name__}: {str(e)[:300]}")
print("the engine's own softplus passes:",
      engine.gradcheck(lambda t: F.softplus(t).sum(), x_check))

# %% [markdown]
# ### `002-q16` — is backpropagation the costliest step of training? How to speed it up?
# **Usually yes, but by a factor of about two, not orders of magnitude.** For each layer,
# backward computes the gradient with respect to the weights *and* with respect to the
# input: two products of the size of the forward one (for a dense layer y = xWᵀ:
# ∂W = gᵀx and ∂x = gW), so backward costs about twice the forward — plus the bookkeeping of
# the graph. Measured here layer by layer on a real network: the ResNet of course 001's
# exercise 10 (186,058 parameters, notebook 08), one SGD-with-momentum iteration on a batch of
# 64 Fashion-MNIST images.
#
# How it is measured: stepgrad has no module hooks, so the network is *stepped*: each
# layer's input is made a fresh leaf (`h.detach().requires_grad_()`), the layer's forward is
# timed alone, and in backward each layer's output receives the gradient that arrived at
# the next layer's input (`out.backward(g)`), timed alone. The first layer's input needs no
# gradient (the data), exactly as in training. The stepped total is checked against a
# plain `loss.backward()` of the whole network.

# %%
# CPU time of this process, not wall time: the machine is shared with other jobs, and time
# spent waiting for a core is not a cost of the network. One thread (set at the top), so
# the process's CPU time is the work done.
clock = time.process_time


def time_by_layer(model, x, y, repeats=TIME_REPEATS, optimizer=None):
    """Median seconds of each layer's forward and backward over `repeats` iterations,
    the loss's forward and backward, and the optimizer's step."""
    layers = list(model)
    fwd = np.zeros((repeats, len(layers) + 1))
    bwd = np.zeros((repeats, len(layers) + 1))
    step = np.zeros(repeats)
    for r in range(repeats):
        model.zero_grad()
        inputs, outputs = [], []
        h = Tensor(x)
        for i, layer in enumerate(layers):
            if i > 0:
                h = h.detach().requires_grad_()
            inputs.append(h)
            t = clock()
            h = layer(h)
            fwd[r, i] = clock() - t
            outputs.append(h)
        logits = h.detach().requires_grad_()
        t = clock()
        loss = F.cross_entropy(logits, y)
        fwd[r, -1] = clock() - t
        t = clock()
        loss.backward()
        bwd[r, -1] = clock() - t
        g = logits.grad
        for i in reversed(range(len(layers))):
            t = clock()
            outputs[i].backward(g)
            bwd[r, i] = clock() - t
            g = inputs[i].grad
        if optimizer is not None:
            t = clock()
            optimizer.step()
            step[r] = clock() - t
    return np.median(fwd, axis=0), np.median(bwd, axis=0), float(np.median(step))


def time_whole(model, x, y, repeats=TIME_REPEATS):
    fwd, bwd = [], []
    for _ in range(repeats):
        model.zero_grad()
        t = clock()
        loss = F.cross_entropy(model(engine.tensor(x, dtype=x.dtype)), y)
        fwd.append(clock() - t)
        t = clock()
        loss.backward()
        bwd.append(clock() - t)
    return float(np.median(fwd)), float(np.median(bwd))


def layer_names(model):
    return [f"{name}: {type(layer).__name__}" for name, layer in model.named_children()] + [
        "loss: cross_entropy"]


def timing_table(model, x, y, title, repeats=TIME_REPEATS):
    opt = nn.optim.SGD(model.parameters(), lr=0.05, momentum=0.8)
    time_by_layer(model, x, y, repeats=1, optimizer=opt)  # warm-up (first calls, caches)
    fwd, bwd, step = time_by_layer(model, x, y, repeats, optimizer=opt)
    whole_f, whole_b = time_whole(model, x, y, repeats)
    names = layer_names(model)
    print(f"{title}\n{'layer':<24}{'forward ms':>11}{'backward ms':>12}{'bwd/fwd':>8}"
          f"{'share of the iteration':>24}")
    total = fwd.sum() + bwd.sum() + step
    for name, f, b in zip(names, fwd, bwd, strict=True):
        print(f"{name:<24}{1e3 * f:>11.1f}{1e3 * b:>12.1f}{b / f:>8.1f}{(f + b) / total:>24.1%}")
    print(f"{'optimizer step (SGD)':<24}{'':>11}{'':>12}{'':>8}{step / total:>24.1%}"
          f"   ({1e3 * step:.1f} ms)")
    print(f"{'total, stepped':<24}{1e3 * fwd.sum():>11.1f}{1e3 * bwd.sum():>12.1f}"
          f"{bwd.sum() / fwd.sum():>8.1f}")
    print(f"{'total, whole network':<24}{1e3 * whole_f:>11.1f}{1e3 * whole_b:>12.1f}"
          f"{whole_b / whole_f:>8.1f}")
    return names, fwd, bwd, step


batch = 16 if FAST else 64
xb = (fx_train[:batch].astype(np.float32) / 255)[:, None]
yb = fy_train[:batch]
engine.manual_seed(1)
resnet = nn.models.resnet()
res_names, res_f, res_b, res_step = timing_table(
    resnet, xb, yb, f"ResNet (exercise 10), batch of {batch} Fashion-MNIST images, "
                    f"median of {TIME_REPEATS}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
ypos = np.arange(len(res_names))
ax.barh(ypos - 0.2, 1e3 * res_f, height=0.4, label="forward")
ax.barh(ypos + 0.2, 1e3 * res_b, height=0.4, label="backward")
ax.set_yticks(ypos, res_names)
ax.invert_yaxis()
ax.set_xlabel("CPU milliseconds per iteration")
ax.set_title(f"ResNet of exercise 10, batch {batch}: time per layer (Fashion-MNIST)")
ax.legend(frameon=False)
plt.show()

# %% [markdown]
# Every convolution block's backward costs 1.9–2.2 times its forward, and the three
# residual blocks take 98 % of the iteration (the first one, at full 28×28 resolution, 59 %);
# the SGD step is 0.1 %. The same measurement on the course's BatchNorm MLP
# (784-256-128-64-10 with BN, notebook 07), a much smaller network:

# %%
from nn.keras import Sequential  # noqa: E402 - the course's Keras listing
from nn.keras.layers import Activation, BatchNormalization, Dense  # noqa: E402


def bn_mlp():
    model = Sequential()
    model.add(Dense(256, use_bias=False, input_shape=(784,)))
    model.add(BatchNormalization())
    model.add(Activation("relu"))
    for units in (128, 64):
        model.add(Dense(units, use_bias=False))
        model.add(BatchNormalization())
        model.add(Activation("relu"))
    model.add(Dense(10))  # logits: the loss applies the softmax
    return model


mlp_batch = 128
xm = fx_train[:mlp_batch].reshape(mlp_batch, -1).astype(np.float32) / 255
engine.manual_seed(0)
mlp_bn = bn_mlp()
mlp_bn(Tensor(xm))  # build the Dense layers (input sizes inferred at the first call)
_ = timing_table(mlp_bn, xm, fy_train[:mlp_batch],
                 f"BN MLP, batch {mlp_batch}, median of {5 * TIME_REPEATS}",
                 repeats=5 * TIME_REPEATS)

# %% [markdown]
# Here backward is no dearer than forward (0.9–1.0×): each op takes well under a millisecond,
# so the fixed cost of running an op (Python, the graph's bookkeeping) weighs as much as the
# arithmetic, and the first `Dense` computes only ∂W in backward — its input is the data,
# which needs no gradient. The optimizer step, negligible for the ResNet, is 6 % of this
# iteration. So: for networks whose layers do real work (convolutions, large matrices),
# backward is the costliest step, about twice the forward; for tiny ones, the overheads are.
#
# **How to make it cheaper** — what the slides point to, measured where we can:
#
# - **Larger batches** ("Train longer, generalize better", "An empirical model of large-batch
#   training", "Large batch training of convolutional networks"): fewer iterations per epoch,
#   and the cost of an iteration grows less than its batch where fixed costs dominate. On
#   this CPU the gain per image is small (below: 4.2 ms at batch 8, 4.0 at 128) and batch 512
#   is dearer per image (its activations no longer fit in the caches); on a GPU, where small
#   batches leave most of the chip idle, it is large. The papers are about keeping the
#   *accuracy* of small batches while doing so (learning-rate scaling, warm-up, LARS).
# - **Lower precision** (mixed precision training, tensor cores): half the bytes per number,
#   and hardware that multiplies them faster. On a CPU, float32 against float64 shows the
#   first half of that (below: 1.9× faster).
# - **Less memory** ("Low-memory neural network training"): recompute activations in
#   backward instead of storing them (checkpointing), trading time for memory.
# - **Do not backpropagate what you do not train**: frozen layers (question 10) skip their
#   weight gradients, and evaluation runs under `engine.no_grad()` with no graph at all.

# %%
def seconds_per_image(model, x, y, repeats=TIME_REPEATS):
    f, b = time_whole(model, x, y, repeats)
    return (f + b) / len(x)


sizes = (8, 16) if FAST else (8, 32, 128, 512)
engine.manual_seed(1)
resnet = nn.models.resnet()
per_image = {}
for n in sizes:
    x_n = (fx_train[:n].astype(np.float32) / 255)[:, None]
    seconds_per_image(resnet, x_n, fy_train[:n], repeats=1)  # warm-up
    per_image[n] = seconds_per_image(resnet, x_n, fy_train[:n])
print("ResNet, forward + backward, CPU milliseconds per image:")
for n, s in per_image.items():
    print(f"  batch {n:>4}: {1e3 * s:6.2f}")

n64 = 16 if FAST else 64
x64 = (fx_train[:n64].astype(np.float32) / 255)[:, None]
engine.manual_seed(1)
res32 = nn.models.resnet()
res64 = nn.models.resnet()
res64.load_state_dict(res32.state_dict())
res64 = res64.double()  # the same weights in float64
t32 = seconds_per_image(res32, x64, fy_train[:n64])
t64 = seconds_per_image(res64, x64.astype(np.float64), fy_train[:n64])
with engine.no_grad():
    t = clock()
    for _ in range(TIME_REPEATS):
        res32(Tensor(x64))
    t_nograd = (clock() - t) / TIME_REPEATS / n64
print(f"\nbatch {n64}: float64 {1e3 * t64:.2f} ms per image, float32 {1e3 * t32:.2f} "
      f"({t64 / t32:.1f}× faster)")
print(f"forward only under engine.no_grad(): {1e3 * t_nograd:.2f} ms per image "
      f"({t32 / t_nograd:.1f}× less than forward + backward)")

# %% [markdown]
# ## Activations and the bias
#
# ### `002-q11` — the bias: empirical? the same as in linear regression? why one per layer?
# **It is a parameter learned like the weights, not chosen by hand** (Keras and stepgrad
# start it at 0), and it is exactly the intercept of linear regression: a neuron computes
# f(w·x + b), a linear regression followed by f. Each neuron needs its own, because b sets
# *where* its activation turns on: relu(w·x + b) has its kink at x = −b/w. Without biases in
# the hidden layer every relu unit bends at x = 0, and the network can only draw lines that
# bend at the origin; a bias in the last layer only shifts the whole curve up or down. A
# 1-16-1 relu network fitted to y = |x − 1| − sin(2x) on [−3, 3] (a synthetic curve):

# %%
from nn.keras.optimizers import Adam  # noqa: E402

x_curve = np.linspace(-3, 3, 200, dtype=np.float32)[:, None]
y_curve = (np.abs(x_curve - 1) - np.sin(2 * x_curve)).astype(np.float32)
curve_fits = {}
for label, hidden_bias, out_bias in (("bias in every layer", True, True),
                                     ("bias only in the output layer", False, True),
                                     ("no bias", False, False)):
    engine.manual_seed(0)
    model = Sequential([Dense(16, activation="relu", use_bias=hidden_bias, input_shape=(1,)),
                        Dense(1, use_bias=out_bias)])
    model.compile(optimizer=Adam(learning_rate=0.02), loss="mse")
    model.fit(x_curve, y_curve, epochs=60 if FAST else 600, batch_size=50, verbose=0)
    curve_fits[label] = (model.evaluate(x_curve, y_curve, verbose=0), model.predict(x_curve,
                                                                                    verbose=0))
    print(f"{label:<32} MSE {curve_fits[label][0]:.4f}")
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(x_curve, y_curve, "k", lw=3, alpha=0.3, label="target")
for label, (_, pred) in curve_fits.items():
    ax.plot(x_curve, pred, label=label)
ax.axvline(0, color="grey", lw=0.5)
ax.legend(frameon=False, fontsize=8)
ax.set_title("1-16-1 relu network (synthetic curve)")
plt.show()

# %% [markdown]
# ### `002-q13` — why does ReLU tend to do better than the logistic function in larger networks?
# **Because the gradient that reaches the early layers is a product of one factor per layer,
# and the logistic function's factor is small.** σ′(z) = σ(z)(1 − σ(z)) ≤ 0.25, so through ten
# sigmoid layers the gradient shrinks by up to 0.25¹⁰ ≈ 10⁻⁶ (vanishing gradient) and the
# first layers barely learn; relu′ is exactly 1 for every active unit, so the gradient keeps
# its size. ReLU is also cheaper (a comparison, no exponential), its outputs are sparse (see
# question 4), and it does not saturate for large inputs. Two 10-hidden-layer networks of
# 64 units, Keras's default (Glorot) initialisation, on Fashion-MNIST: the gradient of each
# layer's weights at initialisation, then training with the same SGD.

# %%
def deep_net(activation, depth=10, width=64):
    model = Sequential([Dense(width, activation=activation, input_shape=(784,))])
    for _ in range(depth - 1):
        model.add(Dense(width, activation=activation))
    model.add(Dense(10))
    return model


x_deep = fx_train[:6000].reshape(6000, -1).astype(np.float32) / 255
y_deep = fy_train[:6000]
grad_norms, deep_hist = {}, {}
for activation in ("sigmoid", "relu"):
    engine.manual_seed(0)
    model = deep_net(activation)
    loss = F.cross_entropy(model(Tensor(x_deep[:256])), y_deep[:256])
    loss.backward()
    grad_norms[activation] = [float(np.linalg.norm(np.asarray(layer.weight.grad)))
                              for layer in model]
    model.zero_grad()
    model.compile(optimizer=nn.keras.optimizers.SGD(learning_rate=0.1), loss="cross_entropy",
                  metrics=["accuracy"])
    epochs = max(1, DEEP_STEPS * 64 // len(x_deep))
    deep_hist[activation] = model.fit(x_deep, y_deep, batch_size=64, epochs=epochs, verbose=0,
                                      validation_data=(fx_test[:2000].reshape(2000, -1) / 255,
                                                       fy_test[:2000]))
fig, ax = plt.subplots(figsize=(6, 3.2))
for activation, norms in grad_norms.items():
    ax.semilogy(np.arange(1, len(norms) + 1), norms, "o-", label=activation)
ax.set_xlabel("layer (1 = first)")
ax.set_ylabel("‖∂loss/∂W‖ at initialisation")
ax.set_title("10 hidden layers of 64 units, Fashion-MNIST batch of 256")
ax.legend(frameon=False)
plt.show()
for activation, h in deep_hist.items():
    norms = grad_norms[activation]
    print(f"{activation:<8} gradient of layer 1 / layer 11: {norms[0] / norms[-1]:.1e}   after "
          f"{len(h.history['loss'])} epochs ({len(h.history['loss']) * len(x_deep) // 64} steps):"
          f" training loss {h.history['loss'][-1]:.3f}, test accuracy "
          f"{h.history['val_accuracy'][-1]:.3f}")

# %% [markdown]
# ## Representations
#
# ### `002-q5` — the autoencoder: isn't a model that compresses its input overfitted?
# **Not by itself.** Overfitting means doing much better on the training data than on new
# data; compression says nothing about that. An autoencoder is trained to reproduce its
# input through a narrow layer (the *code*), and whether it overfits is measured like for
# any model: its reconstruction error on images it never saw against its error on its
# training images. The narrow code works *against* memorising (the network cannot copy the
# pixels through it), so trained on enough images it generalises; trained long on few
# images it does overfit — shown by the same measurement.
#
# The network (Keras style, as the class's listings): 784 → 256 → **32** → 256 → 784, relu
# and a sigmoid output, binary cross-entropy on the pixels (in [0, 1]), Adam.

# %%
def autoencoder(code=32):
    encoder = Sequential([Dense(256, activation="relu", input_shape=(784,)),
                          Dense(code, activation="relu")])
    decoder = Sequential([Dense(256, activation="relu", input_shape=(code,)),
                          Dense(784, activation="sigmoid")])
    return encoder, decoder, Sequential([encoder, decoder])


ae_train = fx_train[:N_AE].reshape(N_AE, -1).astype(np.float32) / 255
N_AE_TEST = 1_000 if FAST else 10_000
ae_test = fx_test[:N_AE_TEST].reshape(N_AE_TEST, -1).astype(np.float32) / 255


def reconstruction_mse(model, x):
    return float(((model.predict(x, verbose=0, batch_size=1000) - x) ** 2).mean())


t0 = time.perf_counter()
engine.manual_seed(0)
encoder, decoder, ae = autoencoder()
ae.compile(optimizer="adam", loss="binary_crossentropy")
ae_hist = ae.fit(ae_train, ae_train, epochs=AE_EPOCHS, batch_size=256, verbose=0,
                 validation_data=(ae_test, ae_test))
print(f"{N_AE} training images, {AE_EPOCHS} epochs: {time.perf_counter() - t0:.0f} s")
ae.summary()

engine.manual_seed(0)
_, _, ae_small = autoencoder()
ae_small.compile(optimizer="adam", loss="binary_crossentropy")
small_hist = ae_small.fit(ae_train[:N_SMALL], ae_train[:N_SMALL], epochs=SMALL_EPOCHS,
                          batch_size=32, verbose=0, validation_data=(ae_test, ae_test))
print(f"\n{'mean squared error per pixel':<46}{'training images':>16}{'unseen images':>15}"
      f"{'ratio':>7}")
for label, model, x_fit in ((f"trained on {N_AE} images, {AE_EPOCHS} epochs", ae, ae_train),
                            (f"trained on {N_SMALL} images, {SMALL_EPOCHS} epochs", ae_small,
                             ae_train[:N_SMALL])):
    tr, te = reconstruction_mse(model, x_fit), reconstruction_mse(model, ae_test)
    print(f"{label:<46}{tr:>16.4f}{te:>15.4f}{te / tr:>7.1f}")

# %%
fig = viz.plot_curve(np.arange(1, SMALL_EPOCHS + 1),
                     {"training loss (200 images)": small_hist.history["loss"],
                      f"loss on the {N_AE_TEST:,} unseen test images":
                          small_hist.history["val_loss"]},
                     xlabel="epoch", ylabel="binary cross-entropy",
                     title=f"autoencoder on {N_SMALL} Fashion-MNIST images: it overfits")

# %% [markdown]
# Reconstructions of unseen test images (top: the image; middle: the autoencoder trained on
# many images; bottom: the one trained on 200). The code of 32 numbers is a 24× compression.

# %%
shown = ae_test[:8]
rows = np.concatenate([shown, ae.predict(shown, verbose=0), ae_small.predict(shown, verbose=0)])
viz.show_images(rows.reshape(-1, 1, 28, 28), ncols=8)

# %% [markdown]
# ### `002-q4` — why do neural networks seek *sparse* representations?
# A sparse representation describes each input with a few active features out of many.
# The intuitions: (1) **separability** — mapped non-linearly into many dimensions, where each
# input switches on its own few units, points become (nearly) linearly separable, which is
# what the last, linear layer needs (Cover's theorem); (2) **disentangling** — a unit that is
# on for few kinds of input stands for something specific, and a small change of the input
# changes few units; (3) **efficiency** — zeros cost nothing downstream. ReLU networks
# produce sparse codes by themselves (a unit is exactly 0 whenever its input is negative);
# an L1 penalty on the activations asks for more.
#
# (1) on the synthetic circle of question 8: a linear classifier on the two coordinates
# cannot separate inside from outside; the same linear classifier on 256 *random* relu
# features of the point (fixed, not trained; about half of them exactly 0 for any point)
# can:

# %%
def linear_classifier_accuracy(features, labels, epochs=100 if FAST else 300):
    engine.manual_seed(0)
    probe = Sequential([Dense(1, activation="sigmoid", input_shape=(features.shape[1],))])
    probe.compile(optimizer=Adam(learning_rate=0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    probe.fit(features, labels, epochs=epochs, batch_size=100, verbose=0)
    return probe.evaluate(features, labels, verbose=0)[1]


rng = np.random.default_rng(1)
W_random = rng.normal(size=(2, 256)).astype(np.float32)
b_random = rng.uniform(-1, 1, 256).astype(np.float32)
random_relu = np.maximum(xy @ W_random + b_random, 0)
print(f"random relu features: {np.mean(random_relu == 0):.0%} exactly zero")
print(f"linear classifier on (x, y):                accuracy "
      f"{linear_classifier_accuracy(xy, inside):.3f}")
print(f"linear classifier on 256 sparse relu codes: accuracy "
      f"{linear_classifier_accuracy(random_relu, inside):.3f}")

# %% [markdown]
# (2) on the autoencoder above, trained without labels: how sparse its 256-unit hidden layer
# is, and whether the classes use different units (mean activation of each unit per class).
# And, honestly, (1) on real data: a softmax regression on the 784 pixels against the same
# classifier on the 256 sparse features, both z-scored.

# %%
hidden_layer = encoder[0]
with engine.no_grad():
    probe_x = fx_train[:N_PROBE].reshape(N_PROBE, -1).astype(np.float32) / 255
    test_x = ae_test[:2000]
    feats_train = hidden_layer(Tensor(probe_x)).data
    feats_test = hidden_layer(Tensor(test_x)).data
zero_share = (feats_train == 0).mean()
per_image = (feats_train > 0).sum(axis=1)
print(f"hidden layer: {zero_share:.0%} of the activations are exactly 0; an image switches "
      f"on {np.median(per_image):.0f} of 256 units (median; 10–90 %: "
      f"{np.percentile(per_image, 10):.0f}–{np.percentile(per_image, 90):.0f})")


def softmax_regression_accuracy(train_features, test_features, epochs=3 if FAST else 20):
    mean, std = train_features.mean(axis=0), train_features.std(axis=0) + 1e-6
    engine.manual_seed(0)
    probe = Sequential([Dense(10, input_shape=(train_features.shape[1],))])
    probe.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    probe.fit((train_features - mean) / std, fy_train[:N_PROBE], epochs=epochs,
              batch_size=128, verbose=0)
    return probe.evaluate((test_features - mean) / std, fy_test[:len(test_features)],
                          verbose=0)[1]


print(f"softmax regression on the 784 pixels:          test accuracy "
      f"{softmax_regression_accuracy(probe_x, test_x):.3f}")
print(f"softmax regression on the 256 sparse features: test accuracy "
      f"{softmax_regression_accuracy(feats_train, feats_test):.3f}")

class_means = np.stack([feats_train[fy_train[:N_PROBE] == c].mean(axis=0) for c in range(10)])
order = np.argsort(np.argmax(class_means, axis=0))
fig, ax = plt.subplots(figsize=(7, 2.6))
ax.imshow(class_means[:, order], aspect="auto", cmap="magma")
ax.set_yticks(range(10), FASHION, fontsize=7)
ax.set_xlabel("hidden unit (sorted by the class that uses it most)")
ax.set_title("mean activation of each hidden unit, per class (autoencoder, no labels used)")
plt.show()

# %% [markdown]
# The circle shows the intuition at work. On Fashion-MNIST, the autoencoder's sparse
# features (learned to *reconstruct*, not to classify) are no easier for a linear classifier
# than the pixels themselves: sparsity helps when the features are the right ones, which is
# what training a classifier end to end is for.

# %% [markdown]
# ## `002-softmax-4class` — one shared softmax for cat, dog, frog, car
# The slide (Prof. Sandra Avila, MC886/MO444): the output layer's four separate activations
# are replaced by one softmax, f(z)ₖ = e^{zₖ} / Σⱼ e^{zⱼ}, so the four outputs are
# probabilities that sum to 1, trained against one-hot targets ([1 0 0 0] for cat, ...).
# The slide's scores:

# %%
classes = ("cat", "dog", "frog", "car")
scores = engine.tensor([5.1, 3.2, -1.7, -2.0], dtype=np.float64)
exp_scores = scores.exp()
probs = scores.softmax(axis=0)
course_exp, course_p = (164.0, 24.5, 0.18, 0.13), (0.87, 0.13, 0.00, 0.00)
print(f"{'class':<6}{'score':>7}{'exp':>10}{'course':>8}{'softmax':>9}{'course':>8}")
for k, c in enumerate(classes):
    print(f"{c:<6}{scores.data[k]:>7.1f}{exp_scores.data[k]:>10.2f}{course_exp[k]:>8}"
          f"{probs.data[k]:>9.3f}{course_p[k]:>8.2f}")
print(f"sum of exp = {exp_scores.data.sum():.2f};  softmax sums to {probs.data.sum():.3f}")
one_hot_cat = np.array([1.0, 0, 0, 0])
print(f"cross-entropy if the image is a cat: −ln {probs.data[0]:.3f} = "
      f"{F.cross_entropy(scores[None], [0]).item():.3f};  gradient with respect to the scores "
      f"(p − y): {np.round(probs.data - one_hot_cat, 3)}")

# %% [markdown]
# ## `002-dataloader` — the PyTorch data loading listing, as written
# The class's "Thumbnail Classification" notebook (its images are not given): a random
# 75 / 25 split of one dataset by index, one `SubsetRandomSampler` per part, and a
# `DataLoader` with batches of 10 and 4 workers for each. Here the dataset is 2,000
# Fashion-MNIST images in a `Dataset` class of our own (an image as (1, 28, 28) in [0, 1]
# and its label), and the listing runs as written, with stepgrad's imports; one line
# differs: `torch.randperm(n)` is `engine.get_rng().permutation(n)` (the engine's seeded
# generator; `engine.randperm(n)` exists too, but gives a Tensor, and the set checks below
# want plain indices). `num_workers=4` fetches batches in 4 threads.

# %%
from nn.data import DataLoader, Dataset, SubsetRandomSampler  # noqa: E402


class Thumbnails(Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return (self.images[i][None].astype(np.float32) / 255), int(self.labels[i])


engine.manual_seed(0)
data = Thumbnails(fx_train[:2000], fy_train[:2000])

train_size = int(0.75*len(data))
idx = engine.get_rng().permutation(len(data))  # torch.randperm(len(data))
train_sampler = SubsetRandomSampler(idx[0:train_size])
test_sampler = SubsetRandomSampler(idx[train_size:])

train_loader = DataLoader(data, sampler=train_sampler,
                          batch_size=10, num_workers=4)

test_loader = DataLoader(data, sampler=test_sampler,
                         batch_size=10, num_workers=4)

xb0, yb0 = next(iter(train_loader))
print(f"train: {train_size} images in {len(train_loader)} batches; test: "
      f"{len(data) - train_size} images in {len(test_loader)} batches; a batch: "
      f"x {xb0.shape} {xb0.dtype}, y {yb0.tolist()}")
print("the two parts are disjoint and cover the data:",
      set(idx[:train_size]).isdisjoint(idx[train_size:]) and
      len(set(idx.tolist())) == len(data))

# %% [markdown]
# "Implementing the architecture" is empty in the listing; a small CNN, trained the PyTorch
# way on `train_loader` and evaluated on `test_loader`:

# %%
engine.manual_seed(0)
cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(8 * 14 * 14, 10))
optimizer = nn.optim.Adam(cnn.parameters(), lr=1e-3)
for epoch in range(1 if FAST else 3):
    cnn.train()
    for images, labels in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(cnn(Tensor(images)), labels)
        loss.backward()
        optimizer.step()
    cnn.eval()
    correct = 0
    with engine.no_grad():
        for images, labels in test_loader:
            correct += int((cnn(Tensor(images)).data.argmax(axis=1) == labels).sum())
    print(f"epoch {epoch + 1}: last batch loss {loss.item():.3f}, test accuracy "
          f"{correct / (len(data) - train_size):.3f}")

# %%
print(f"whole notebook: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## What we observed
# (Full run: 2.5 minutes on a shared 2-core CPU, most of it the two autoencoders;
# `STEPGRAD_FAST=1`: about 11 s. Data: Fashion-MNIST for the autoencoder, the timings, the
# deep nets and the data loaders; a synthetic circle (q8, q4) and a synthetic curve (q11).)
#
# - **q8:** on the circle, relu, tanh, sigmoid and |z| reach 0.95–1.00 accuracy; the linear
#   network 0.57 and the step function 0.58, with no gradient reaching its first layer.
# - **q10:** the frozen layer has `grad` None and unchanged weights after 50 steps;
#   `detach()` after layer 1 leaves layer 1 without gradient.
# - **q14:** the δ-rule by hand equals the engine's ∂C/∂W to 4·10⁻¹⁸ in every layer.
# - **q12:** `gradcheck` catches a softplus whose backward is 2σ instead of σ (analytic
#   1.76 against numeric 0.88).
# - **q16:** ResNet of exercise 10, batch 64, one thread: forward 88 ms, backward 172 ms
#   (1.9×) of CPU time, the whole network measured in one piece agreeing (87 / 170 ms); the
#   three residual blocks are 98 % of the iteration, the SGD step 0.1 %. The small BN MLP:
#   backward ≈ forward (0.9–1.0×), SGD step 6 %. Per image: 4.2 ms at batch 8, 4.0 at 128,
#   4.8 at 512; float64 1.9× slower than float32; forward alone under `no_grad` 3.0× cheaper
#   than forward + backward.
# - **q11:** the 1-16-1 relu net fits the curve to MSE 0.098 with biases, 0.867 with a bias
#   only in the output layer, 0.943 with none.
# - **q13:** at initialisation the first layer of a 10-layer sigmoid net gets 1.3·10⁻⁶ of the
#   last layer's gradient (relu: 3.6×); after 281 SGD steps the sigmoid net is still at
#   chance (test accuracy 0.102, loss 2.309), the relu net at 0.592.
# - **q5:** trained on 60,000 images, the autoencoder's reconstruction error is the same on
#   unseen images (MSE per pixel 0.0113 against 0.0111: not overfitted); trained 300 epochs
#   on 200 images it is 9.6× worse on unseen ones (0.0281 against 0.0029: overfitted).
# - **q4:** 256 random relu features (47 % zeros) make the circle linearly separable
#   (accuracy 1.000 against 0.583 on the coordinates). The autoencoder's hidden layer is 47 %
#   zeros; on it a softmax regression gets 0.839, on the pixels 0.852.
# - **Softmax slide:** exp 164.02, 24.53, 0.18, 0.14 and probabilities 0.868, 0.130,
#   0.001, 0.001 (course: 164.0, 24.5, 0.18, 0.13 and 0.87, 0.13, 0.00, 0.00).
# - **DataLoader listing:** 1,500 / 500 images in 150 / 50 batches of 10, disjoint; a small
#   CNN trained on `train_loader` reaches 0.798 on `test_loader` after 3 epochs.

