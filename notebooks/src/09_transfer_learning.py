# %% [markdown]
# # 9 · Transfer learning: X against O with 10 + 10 images
#
# **What the course asks** (course 004, "Deep Learning 05" didactic modules; the course's own
# notebooks are `transfer_MobileNet.ipynb` and `cnn_ox.ipynb`):
#
# 1. Make a small data set of X's and O's, labelled (one folder per class).
# 2. Take a pretrained network (the course: MobileNet V2), **drop its output layer** and feed
#    the output of the layer before it into a new model.
# 3. Add a `Dense(10, relu)` layer, 4. then a `Dense(2, softmax)` layer.
# 5. Compile with the loss `"binary_crossentropy"`.
# 6. Build the training set from the two folders: **10 positives and 10 negatives**.
# 7. Train for 100 epochs, then 200; look at how the model fits `Xtn[0]` (an O) and `Xtn[12]`
#    (an X). Only the new layers train (12,821 parameters in the course; MobileNet's 2,257,984
#    stay as they were).
#
# Then test on new images ("what about a larger test set?") and train a CNN of the same kind
# **from scratch** on the same images, for comparison. The course warns that with so few
# images the comparison is not conclusive — "the idea was only to show the two roads and
# observe the results" — and asks who will enlarge the data set. It prints no accuracies.
#
# **Here.** The pretrained network is the course CNN stepgrad ships, trained on handwritten
# digits (`nn.pretrained.load_seed_cnn()`, see notebook 4) — much smaller than MobileNet, and
# trained on images much closer to ours: 28×28 grey, white strokes on black. The X's and O's
# are drawn by this notebook (numpy only): 10 + 10 for training, as in the course, and a
# larger test set of new drawings. "From scratch" is the very same architecture with fresh
# random weights, every layer trained.

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # CI: fewer epochs, test images and seeds

# %%
# %matplotlib inline
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

import engine
import nn
import nn.pretrained
import viz
from engine import Tensor

F = nn.F
matplotlib.rcParams["figure.dpi"] = 80  # small images: the committed notebook stays light

N_TRAIN = 10                              # per class, as in the course
N_TEST = 25 if FAST else 100              # per class
EPOCHS_1, EPOCHS_2 = (10, 20) if FAST else (100, 200)  # the course's 100, then 200
SEEDS = (0,) if FAST else (0, 1, 2, 3, 4)
SWEEP = () if FAST else (3, 30)           # other training-set sizes (per class), 3 seeds
CLASSES = ("O", "X")                      # label 0 = O, 1 = X
started = time.perf_counter()

# %% [markdown]
# ## The X-vs-O images
# Each image is drawn on a 28×28 grid with its own random position, size, stroke width,
# rotation, pen pressure and noise: an O is a (slightly wobbly) ring, round or oval; an X is
# two strokes whose ends are jittered by hand. Pixels are 0..255 with white ink on black, as
# in MNIST, and the model gets them normalised the same way (`2·X − 1`).

# %%
def _distance_to_segment(px, py, x0, y0, x1, y1):
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(px - (x0 + t * dx), py - (y0 + t * dy))


def draw(letter, rng, size=28):
    """One size×size image of an 'X' or an 'O', float32 pixels 0..255 (ink bright)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float) + 0.5
    cx, cy = size / 2 + rng.uniform(-4, 4, 2)        # position
    r = rng.uniform(6, 10)                            # size (half the height)
    width = rng.uniform(1.2, 3.2)                     # stroke width, pixels
    angle = rng.uniform(-0.5, 0.5)                    # rotation, radians
    u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)   # the letter's own frame
    v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    if letter == "O":
        a, b = r * rng.uniform(0.65, 1.1), r          # round or oval
        theta = np.arctan2(v / b, u / a)
        wobble = 1 + rng.uniform(0, 0.08) * np.sin(rng.integers(2, 4) * theta
                                                   + rng.uniform(0, 2 * np.pi))
        distance = np.abs(np.hypot(u / a, v / b) / wobble - 1) * np.sqrt(a * b)
    else:
        spread = rng.uniform(0.6, 1.0)                # how wide the X opens
        strokes = []
        for sign in (1, -1):
            jitter = rng.normal(0, 1.0, 4)            # the hand: stroke ends move
            strokes.append((-sign * r * spread + jitter[0], -r + jitter[1],
                            sign * r * spread + jitter[2], r + jitter[3]))
        distance = np.minimum(*[_distance_to_segment(u, v, *s) for s in strokes])
    ink = np.clip(width / 2 + 0.5 - distance, 0, 1)   # anti-aliased stroke
    ink *= rng.uniform(0.75, 1.0)                     # pen pressure
    ink += rng.normal(0, rng.uniform(0.0, 0.12), ink.shape)  # noise
    return (255 * np.clip(ink, 0, 1)).astype(np.float32)


def x_vs_o(n_per_class, seed):
    """n O's (label 0) then n X's (label 1): images (2n, 28, 28) 0..255, labels (2n,)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n_per_class)
    return np.stack([draw(CLASSES[k], rng) for k in labels]), labels


train_px, y_train = x_vs_o(N_TRAIN, seed=0)
test_px, y_test = x_vs_o(N_TEST, seed=1)     # other draws: images never seen in training
x_train, x_test = nn.pretrained.normalise(train_px), nn.pretrained.normalise(test_px)
onehot_train = np.eye(2, dtype=np.float32)[y_train]  # Keras's targets for 2 softmax outputs
onehot_test = np.eye(2, dtype=np.float32)[y_test]
print(f"training {x_train.shape} ({N_TRAIN} O + {N_TRAIN} X), test {x_test.shape} "
      f"({N_TEST} O + {N_TEST} X)")
viz.show_images(train_px, labels=y_train, class_names=CLASSES, ncols=10)

# %% [markdown]
# Some of the test images:

# %%
some = np.r_[0:8, N_TEST:N_TEST + 8]
viz.show_images(test_px[some], labels=y_test[some], class_names=CLASSES, ncols=8)

# %% [markdown]
# ## `004-tl-model` — the transfer model
# The pretrained CNN ends with `Linear(288, 10)` (the digit scores). Dropping it leaves the
# convolutional layers and the flatten: a 288-number description of any 28×28 image.
# `Sequential` slicing (`cnn[:-1]`) returns a new `Sequential` holding the *same* layer
# objects; `freeze()` stops their parameters from getting gradients, and the optimizers skip
# parameters without one. On top: `Linear(288, 10)` → ReLU → `Linear(10, 2)` → Softmax.

# %%
def head():
    return [nn.Linear(288, 10), nn.ReLU(), nn.Linear(10, 2), nn.Softmax(axis=1)]


def transfer_model(seed):
    engine.manual_seed(seed)  # the new head's initial weights
    features = nn.pretrained.load_seed_cnn()[:-1].freeze()
    return nn.Sequential(features, *head())


def scratch_model(seed):
    engine.manual_seed(seed)  # every weight random
    return nn.Sequential(nn.models.seed_cnn()[:-1], *head())


print(transfer_model(0))
summary = nn.summary(transfer_model(0), (1, 28, 28))
print(summary)
# The course's head sits on MobileNet V2's 1,280 features: Dense(10) + Dense(2) would have
# 1,280·10 + 10 + 10·2 + 2 = 12,832 parameters; its printed 12,821 is 12,810 + 11, a 1-unit
# output (Dense(1)).
print(f"{'':>24} | {'course (MobileNet V2)':>21} | {'ours (course CNN)':>17}")
print(f"{'trainable (new layers)':>24} | {12_821:>21,} | {summary.trainable_params:>17,}")
print(f"{'frozen (pretrained)':>24} | {2_257_984:>21,} | {summary.non_trainable_params:>17,}")
print(f"{'head on 1,280 features':>24} | Dense(10)+Dense(2): {1280 * 10 + 10 + 10 * 2 + 2:,}; "
      f"Dense(10)+Dense(1): {1280 * 10 + 10 + 10 + 1:,}")

# %% [markdown]
# 2,912 trainable parameters (the course: 12,821 — its head sits on MobileNet's 1,280
# features) and 14,048 frozen ones (the course: 2,257,984).
#
# ### Binary cross-entropy on two softmax outputs
# Keras's `binary_crossentropy` treats each of the two outputs as its own yes/no probability
# and averages the two terms. With a softmax the two outputs are p and 1 − p, so for a one-hot
# target both terms are the same number, −ln p(true class): on this model the course's loss
# *is* the categorical cross-entropy, so the choice is harmless. Numerically:

# %%
probs = Tensor([[0.7, 0.3], [0.2, 0.8], [0.9, 0.1]])
targets = np.eye(2, dtype=np.float32)[[0, 0, 1]]
bce = F.binary_cross_entropy(probs, targets).item()
cce = float(np.mean(-np.log(probs.data[np.arange(3), [0, 0, 1]])))
print(f"binary cross-entropy {bce:.6f}   categorical cross-entropy {cce:.6f}")

# %% [markdown]
# ## `004-tl-train` — training: 100 epochs, then 200
# Both models train on the same 20 images, with Adam at Keras's default learning rate
# (0.001; the course's optimizer is not shown, Adam is Keras's usual choice) and Keras's
# default batch size (32: all 20 images in one batch, one update per epoch). Training runs to
# epoch 100, then continues to epoch 200. The test images are never trained on: every 10
# epochs a callback records the test loss and accuracy, for the curves only.
# Several seeds: for the transfer model the seed only changes the new head's initial
# weights; from scratch it changes every weight.

# %%
class EveryTenEpochs(nn.Callback):
    """Test loss and accuracy every 10 epochs (evaluation only)."""

    def __init__(self):
        self.epochs, self.loss, self.accuracy = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % 10 == 0:
            r = nn.evaluate(self.model, x_test, onehot_test, loss="binary_crossentropy",
                            metrics=["accuracy"], batch_size=100, return_dict=True)
            self.epochs.append(epoch + 1)
            self.loss.append(r["loss"])
            self.accuracy.append(r["accuracy"])


def run(make, seed, x=x_train, onehot=onehot_train):
    model = make(seed)
    opt = nn.optim.Adam(model.parameters(), lr=1e-3)
    monitor = EveryTenEpochs()
    kwargs = dict(loss="binary_crossentropy", optimizer=opt, metrics=["accuracy"],
                  callbacks=[monitor], verbose=0)
    h1 = nn.fit(model, x, onehot, epochs=EPOCHS_1, **kwargs)
    at_1 = dict(test=acc_on_test(model), fit=probabilities(model, x_train[[0, 12]]))
    h2 = nn.fit(model, x, onehot, epochs=EPOCHS_2, initial_epoch=EPOCHS_1, **kwargs)
    at_2 = dict(test=acc_on_test(model), fit=probabilities(model, x_train[[0, 12]]))
    loss = h1.history["loss"] + h2.history["loss"]
    return dict(model=model, loss=loss, monitor=monitor, at_1=at_1, at_2=at_2)


def probabilities(model, x):
    return nn.predict(model, x)


def acc_on_test(model):
    return float(np.mean(probabilities(model, x_test).argmax(axis=1) == y_test))


runs = {"transfer": [], "scratch": []}
t0 = time.perf_counter()
for seed in SEEDS:
    runs["transfer"].append(run(transfer_model, seed))
t_transfer = time.perf_counter() - t0
t0 = time.perf_counter()
for seed in SEEDS:
    runs["scratch"].append(run(scratch_model, seed))
t_scratch = time.perf_counter() - t0
print(f"{len(SEEDS)} seeds × {EPOCHS_2} epochs: transfer {t_transfer:.0f} s, "
      f"from scratch {t_scratch:.0f} s")

# %% [markdown]
# ### Did the frozen layers change?
# The first sub-module of the transfer model is the pretrained feature extractor. Compared
# with the weights in the shipped file, array by array, after 200 epochs of training:

# %%
shipped = nn.pretrained.load_seed_cnn().state_dict()
for kind in ("transfer", "scratch"):
    model = runs[kind][0]["model"]
    after = model[0].state_dict()
    diffs = {k: float(np.max(np.abs(after[k] - shipped[k]))) for k in after}
    print(f"{kind:>8}: feature layers, max |Δw| per array vs the shipped file: "
          + ", ".join(f"{k} {d:.3g}" for k, d in diffs.items()))
model = runs["transfer"][0]["model"]
print("transfer: every frozen array identical, bit for bit:",
      all(np.array_equal(model[0].state_dict()[k], shipped[k]) for k in shipped
          if k in model[0].state_dict()))
print("transfer: requires_grad of the frozen parameters:",
      {p.requires_grad for p in model[0].parameters()},
      "  of the head:", {p.requires_grad for layer in list(model)[1:]
                          for p in layer.parameters()})

# %% [markdown]
# (For the model from scratch the comparison is only a reminder that its feature layers have
# nothing to do with the shipped ones: they started random.)
#
# ## `004-tl-test`, `004-cnn-ox` — test accuracy: transfer against a CNN from scratch

# %%
def table(kind, when):
    return np.array([r[when]["test"] for r in runs[kind]])


print(f"test accuracy on {2 * N_TEST} new images (chance: 0.5), {len(SEEDS)} seeds")
print(f"{'':>14} {'epoch':>6} | " + " ".join(f"seed {s:<2}" for s in SEEDS)
      + f" | {'mean':>5} {'min':>5} {'max':>5}")
for kind in ("transfer", "scratch"):
    for when, ep in (("at_1", EPOCHS_1), ("at_2", EPOCHS_2)):
        a = table(kind, when)
        print(f"{kind:>14} {ep:>6} | " + " ".join(f"{v:>7.3f}" for v in a)
              + f" | {a.mean():>5.3f} {a.min():>5.3f} {a.max():>5.3f}")

# %% [markdown]
# The course's check on two training images, `Xtn[0]` (an O) and `Xtn[12]` (an X): the
# predicted probabilities (O, X), seed 0.

# %%
for kind in ("transfer", "scratch"):
    r = runs[kind][0]
    for when, ep in (("at_1", EPOCHS_1), ("at_2", EPOCHS_2)):
        p0, p12 = r[when]["fit"]
        print(f"{kind:>8}, epoch {ep:>3}: Xtn[0] (O) → {np.round(p0, 3)}   "
              f"Xtn[12] (X) → {np.round(p12, 3)}")

# %% [markdown]
# ### Loss curves
# Training loss every epoch (thin lines: one per seed) and test loss every 10 epochs.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
for kind, colour in (("transfer", "C0"), ("scratch", "C1")):
    for i, r in enumerate(runs[kind]):
        label = kind if i == 0 else None
        axes[0].plot(np.arange(1, EPOCHS_2 + 1), r["loss"], color=colour, lw=0.8, label=label)
        axes[1].plot(r["monitor"].epochs, r["monitor"].loss, "o-", color=colour, ms=2,
                     lw=0.8, label=label)
for ax, title in zip(axes, ("training loss (20 images)", f"test loss ({2 * N_TEST} images)"),
                     strict=True):
    ax.axvline(EPOCHS_1, color="grey", lw=0.8)
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
axes[0].set_ylabel("binary cross-entropy")
fig.tight_layout()
plt.show()

# %% [markdown]
# What the two models get wrong on the test set (seed 0, after 200 epochs):

# %%
for kind in ("transfer", "scratch"):
    p = probabilities(runs[kind][0]["model"], x_test)
    wrong = np.flatnonzero(p.argmax(axis=1) != y_test)
    print(f"{kind}: {len(wrong)} of {len(y_test)} wrong")
    if len(wrong):
        show = wrong[:16]
        display(viz.show_images(test_px[show], labels=y_test[show], predictions=p[show],  # noqa: F821
                                class_names=CLASSES, ncols=8))

# %% [markdown]
# ## More training images
# The course asks who will enlarge the data set. The same comparison (200 epochs, 3 seeds)
# with 3 and 30 images per class, beside the 10 per class above.

# %%
sweep = {N_TRAIN: {k: table(k, "at_2")[:3] for k in runs}} if SWEEP else {}
t0 = time.perf_counter()
for n in SWEEP:
    px, labels = x_vs_o(n, seed=10 + n)
    xs, oh = nn.pretrained.normalise(px), np.eye(2, dtype=np.float32)[labels]
    sweep[n] = {}
    for kind, make in (("transfer", transfer_model), ("scratch", scratch_model)):
        sweep[n][kind] = np.array([run(make, seed, x=xs, onehot=oh)["at_2"]["test"]
                                   for seed in SEEDS[:3]])
if SWEEP:
    print(f"sweep in {time.perf_counter() - t0:.0f} s\n")
    print(f"{'images per class':>16} | {'transfer: mean (min–max)':>24} | "
          f"{'scratch: mean (min–max)':>24}")
    for n in sorted(sweep):
        cells = [f"{a.mean():.3f} ({a.min():.3f}–{a.max():.3f})"
                 for a in (sweep[n]["transfer"], sweep[n]["scratch"])]
        print(f"{n:>16} | {cells[0]:>24} | {cells[1]:>24}")
else:
    print("(skipped with FAST)")

# %%
print(f"whole notebook: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## What we observed
# | id | course | ours |
# |---|---|---|
# | `004-tl-model` | MobileNet V2 without its output layer, Dense(10, relu), Dense(2, softmax), binary cross-entropy | the course CNN without its output layer, frozen, the same head and loss |
# | `004-tl-train` | 12,821 trainable and 2,257,984 frozen parameters; 100 then 200 epochs; Xtn[0], Xtn[12] | 2,912 trainable, 14,048 frozen (bit for bit unchanged after training); Xtn[0] and Xtn[12] ≥ 0.99 for their class |
# | `004-tl-test` | test on `oxteste`; enlarge the test set (no accuracy printed) | 200 new drawings: 0.969 / 0.972 after 100 / 200 epochs (5 seeds) |
# | `004-cnn-ox` | the CNN from scratch, "not conclusive" | 0.867 / 0.886, much more seed-dependent; the gap shrinks with 30 images per class |
#
# (Full run: 20 training images, 200 new test images, 5 seeds, plus the sweep; half a minute
# on an idle 2-core CPU, several times that on a busy one. Every number is reproducible: fixed seeds.)
#
# - **Freezing works.** After 200 epochs the six arrays of the pretrained feature layers are
#   bit for bit those of the shipped file (max |Δw| = 0) and have `requires_grad=False`; only
#   the 2,912 parameters of the new head trained (14,048 frozen).
# - **Transfer beats scratch on 20 images.** Test accuracy on 200 new drawings after 100 /
#   200 epochs, mean of 5 seeds: transfer **0.969 / 0.972** (seeds from 0.935 to 0.990),
#   from scratch **0.867 / 0.886** (0.665 to 0.955). Transfer is also much steadier: for the
#   model from scratch the seed matters about as much as the method, which is the course's
#   warning about tiny data sets in numbers.
# - **Both fit the training images.** The course's check: `Xtn[0]` (O) and `Xtn[12]` (X) get
#   ≥ 0.99 for their class at epoch 100 in both models (seed 0). From scratch the training
#   loss goes lower (≈ 10⁻⁴ against 10⁻³ to 10⁻²) while the test loss stays higher
#   (≈ 0.15 to 0.6 against 0.03 to 0.1) and stops improving after about 50 epochs: it
#   memorises 20 images. The transfer model's test loss keeps creeping down to epoch 200.
# - **A failure mode of tiny data.** One scratch seed (seed 1) stalls at a training loss of
#   0.25: for every training O all ten ReLU units of the head are at zero, so the ten O's
#   get the same output (0.604 for O) and only the output bias still learns for them. It
#   still puts all 20 training images on the right side, but reaches 0.760 on the test set.
# - **The mistakes** (seed 0) are all O's read as X (7 of 200 for transfer, 9 for scratch):
#   thin, small or oval rings.
# - **More training images** (3 seeds): with 3 per class, transfer 0.963 against 0.875 from
#   scratch; with 10, 0.980 against 0.868; with 30, 0.988 against 0.970. The advantage of
#   the pretrained features is largest when data is scarcest and shrinks as the training set
#   grows: 3 images per class with transfer (0.963) come close to 30 per class from scratch
#   (0.970).
# - The course prints no accuracies. Two differences to keep in mind: our pretrained network
#   is tiny (MobileNet V2 has 2.26 M frozen parameters) and was trained on handwritten
#   digits, which look much more like hand-drawn X's and O's than MobileNet's photographs do
#   — a favourable case for transfer.
