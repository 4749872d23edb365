# %% [markdown]
# # 6 · Optimizers and schedules: SGD vs Adam, Boston Housing, batch sizes, resuming
#
# **What the exercises ask** (course 001, Keras; course 002 for the last item):
#
# - **Exercise 4.** Compare SGD and Adam. Both update the parameters iteratively with the
#   gradient, but Adam keeps a bias-corrected running mean of past gradients (first moment)
#   and uses the second moment of the gradient to scale the step of each parameter.
# - **Exercise 7.** Boston Housing with Keras's split (404 training / 102 test houses),
#   features z-scored with the training mean and standard deviation. Network: Dense 16 → 8 → 1,
#   **all relu** (the output too), **369 parameters**; loss MSE, metric MAE, 50 epochs, numpy
#   seed 1, the test set passed as validation data.
#   **A:** Adam with its defaults → course: train MSE ≈ **21** (MAE ≈ 3), validation MSE ≈ **28**
#   (MAE ≈ 4).
#   **B:** Adam with lr 0.02 and, from epoch 10 on, `lr ← round(lr·exp(−0.05), 4)` each epoch
#   (a Keras `LearningRateScheduler(fn(epoch, lr))`) → course: train MSE ≈ **7** (MAE ≈ 2),
#   validation MSE ≈ **23** (MAE ≈ 3).
# - **Exercise 8.** The same net, Adam lr 0.02 decayed by exp(−0.1) per epoch from epoch 6;
#   batch sizes 2, 4, …, 256 trained for ⌊log₂(512·batch)⌋ epochs, then the test MSE. The
#   course's table: **22.5, 19.1, 23.9, 21.6, 25.3, 23.7, 30.7, 129.8**.
# - **Course 002, question 1.** Is training 2 × 50 epochs the same as 100 epochs in one go?
#   Only if everything that changes during training is saved and restored — the weights, the
#   optimizer's state and the random generator that shuffles the batches.

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # CI: fewer epochs, batch sizes and seeds

# %%
# %matplotlib inline
import math
import tempfile
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

import engine
import nn
import viz

matplotlib.rcParams["figure.dpi"] = 80  # small images: the committed notebook stays light

EPOCHS = 5 if FAST else 50                            # exercises 4 and 7
BATCHES = (2, 32, 256) if FAST else (2, 4, 8, 16, 32, 64, 128, 256)
EPOCH_CAP = 3 if FAST else None                      # FAST only: cap exercise 8's epochs
SEEDS = (1, 2) if FAST else tuple(range(1, 11))      # exercise 8: the spread over seeds
N_RESUME = 3 if FAST else 50                         # 2 × N epochs against 2N
started = time.perf_counter()

# %% [markdown]
# ## Exercise 4: SGD and Adam, update by update
# On a long narrow valley, f(w) = ½(w₁² + c·w₂²) with c = 100, from (−4, 1): the gradient is a
# hundred times steeper across the valley than along it. SGD's step is the learning rate
# times the gradient, and the steep direction sets the largest rate that does not diverge
# (2/c = 0.02), so with lr = 0.019 it zig-zags across the valley and crawls along it. Adam
# divides each coordinate's step by the root of that coordinate's running mean square
# gradient, √v̂: both coordinates move by about the learning rate per step, whatever their
# scale — rescaling a coordinate does not change Adam's path at all.

# %%
def valley(w, c=100.0):
    scale = engine.tensor([0.5, c / 2], dtype=np.float64)
    return (scale * w * w).sum()


def path(make_optimizer, steps=60, c=100.0):
    w = engine.tensor([-4.0, 1.0], requires_grad=True, dtype=np.float64)
    opt = make_optimizer([w])
    points = [w.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        valley(w, c).backward()
        opt.step()
        points.append(w.data.copy())
    return np.array(points), opt


sgd_path, _ = path(lambda p: nn.optim.SGD(p, lr=0.019))
adam_path, adam = path(lambda p: nn.optim.Adam(p, lr=0.3))
u, v = np.meshgrid(np.linspace(-4.5, 1.5, 120), np.linspace(-1.3, 1.3, 120))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.contour(u, v, 0.5 * u ** 2 + 50 * v ** 2, levels=np.geomspace(0.05, 100, 12), colors="0.8",
           linewidths=0.8)
ax.plot(*sgd_path.T, "o-", ms=2.5, lw=1, label="SGD, lr 0.019")
ax.plot(*adam_path.T, "o-", ms=2.5, lw=1, label="Adam, lr 0.3")
ax.plot(0, 0, "k*", ms=8)
ax.set_xlabel("w₁")
ax.set_ylabel("w₂")
ax.legend(frameon=False, loc="upper right")
plt.show()
for name, p in (("SGD", sgd_path), ("Adam", adam_path)):
    print(f"{name:>4}: after 60 steps w = ({p[-1, 0]:+.4f}, {p[-1, 1]:+.4f}), "
          f"f = {0.5 * p[-1, 0] ** 2 + 50 * p[-1, 1] ** 2:.2e}")
for c in (1.0, 20.0):
    other, _ = path(lambda p: nn.optim.Adam(p, lr=0.3), c=c)
    print(f"Adam on c = {c:>3g} instead of 100: max |Δw| along the path = "
          f"{np.abs(other - adam_path).max():.1e}")

# %% [markdown]
# The first Adam step shows the bias correction at work: after one gradient g₁, the running
# means are m₁ = (1 − β₁)·g₁ and v₁ = (1 − β₂)·g₁², far too small; dividing by (1 − β₁) and
# (1 − β₂) gives back m̂₁ = g₁ and v̂₁ = g₁², so the first step is lr·g₁/|g₁| = ±lr in every
# coordinate.

# %%
_, adam_one = path(lambda p: nn.optim.Adam(p, lr=0.3), steps=1)
(state,) = adam_one.state.values()
g1 = np.array([-4.0, 100.0])  # ∇f at (−4, 1)
b1, b2 = adam_one.param_groups[0]["betas"]
print("g₁ =", g1, "  m₁ =", state["exp_avg"], "  v₁ =", state["exp_avg_sq"])
print("m̂₁ = m₁/(1−β₁) =", state["exp_avg"] / (1 - b1), "  v̂₁ = v₁/(1−β₂) =",
      state["exp_avg_sq"] / (1 - b2))
print("first step:", np.round(adam_path[1] - adam_path[0], 6), " (= −lr·sign(g₁), lr = 0.3)")

# %% [markdown]
# ## Boston Housing: the data and the network
# `nn.datasets.boston_housing()` reproduces `keras.datasets.boston_housing.load_data()`
# (404 / 102, seed 113). The features are z-scored with the **training** mean and standard
# deviation (the test set must not leak into them), exactly as the course's code does.

# %%
(x_train, y_train), (x_test, y_test) = nn.datasets.boston_housing()
mean, std = x_train.mean(axis=0), x_train.std(axis=0)
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
print(f"train {x_train.shape}, test {x_test.shape}; price (k$) mean {y_train.mean():.1f}, "
      f"sd {y_train.std():.1f}")


def dnn():
    """Dense(16, relu) → Dense(8, relu) → Dense(1, relu), as the course (output relu too)."""
    return nn.Sequential(nn.Linear(13, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(),
                         nn.Linear(8, 1), nn.ReLU())


summary = nn.summary(dnn(), (13,))
print(summary)
assert summary.total_params == 369  # the course's model.summary()

# %% [markdown]
# ### Exercise 4 on Boston: SGD against Adam, same net, same initial weights
# Keras's defaults: SGD lr 0.01, Adam lr 0.001. Adam is not always faster: its step is about
# lr per weight, and with lr 0.001 the net needs many epochs to grow outputs of the size of
# the prices (≈ 22). SGD's step is proportional to the (large) initial gradient.

# %%
curves = {}
for name, make in (("SGD lr 0.01", lambda p: nn.optim.SGD(p, lr=0.01)),
                   ("SGD lr 0.001, momentum 0.9",
                    lambda p: nn.optim.SGD(p, lr=0.001, momentum=0.9)),
                   ("Adam lr 0.001", lambda p: nn.optim.Adam(p)),
                   ("Adam lr 0.01", lambda p: nn.optim.Adam(p, lr=0.01))):
    engine.manual_seed(1)
    model = dnn()
    h = nn.fit(model, x_train, y_train, loss="mse", optimizer=make(model.parameters()),
               epochs=EPOCHS, batch_size=32, validation_data=(x_test, y_test), verbose=0)
    curves[name] = h.history["val_loss"]
    print(f"{name:<28} train MSE {h.history['loss'][-1]:7.2f}   "
          f"test MSE {h.history['val_loss'][-1]:7.2f}")
viz.plot_curve(np.arange(1, EPOCHS + 1), curves, xlabel="epoch", ylabel="test MSE",
               title="same net, same start, four optimizers", logy=True)

# %% [markdown]
# ## Exercise 7: A (Adam defaults) against B (lr 0.02 with a Keras-style decay)
# `nn.optim.LambdaLR` takes Keras's `fn(epoch, lr)` (epochs from 0, the rate in use) and
# `nn.fit(..., scheduler=...)` applies it at the start of every epoch, recording the rate
# in `history.history['lr']`. Each net starts from `engine.manual_seed(1)` (the course seeds
# numpy with 1 and TensorFlow with 2: the weights are not TensorFlow's, only the recipe is).

# %%
def schedule_b(epoch, lr):
    return lr if epoch < 10 else round(lr * math.exp(-0.05), 4)


def run(lr=None, schedule=None, epochs=EPOCHS, seed=1, batch_size=32, validation=True):
    engine.manual_seed(seed)
    model = dnn()
    opt = nn.optim.Adam(model.parameters()) if lr is None else \
        nn.optim.Adam(model.parameters(), lr=lr)
    sched = nn.optim.LambdaLR(opt, schedule) if schedule else None
    h = nn.fit(model, x_train, y_train, loss="mse", metrics=["mae"], optimizer=opt,
               scheduler=sched, epochs=epochs, batch_size=batch_size, verbose=0,
               validation_data=(x_test, y_test) if validation else None)
    return model, h


model_a, hist_a = run()
model_b, hist_b = run(lr=0.02, schedule=schedule_b)
course = {"A": (21, 3, 28, 4), "B": (7, 2, 23, 3)}
print(f"last epoch ({EPOCHS}){'':<6}{'train MSE':>10}{'train MAE':>10}{'val MSE':>9}"
      f"{'val MAE':>9}")
for name, h in (("A", hist_a), ("B", hist_b)):
    ours = [h.history[k][-1] for k in ("loss", "mae", "val_loss", "val_mae")]
    print(f"{name} stepgrad{'':<10}" + "".join(f"{v:>10.2f}" if i < 2 else f"{v:>9.2f}"
                                               for i, v in enumerate(ours)))
    print(f"{name} course{'':<12}" + "".join(f"{v:>10}" if i < 2 else f"{v:>9}"
                                             for i, v in enumerate(course[name])))

# %% [markdown]
# Our seed 1 is not the course's seed (TensorFlow draws its initial weights from its own
# generator), so one run is one sample. The same two recipes from ten starting points:

# %%
spread = {"A": [], "B": []}
for seed in SEEDS:
    spread["A"].append(run(seed=seed)[1].history)
    spread["B"].append(run(lr=0.02, schedule=schedule_b, seed=seed)[1].history)
print(f"seeds {SEEDS[0]}–{SEEDS[-1]}, last epoch:   train MSE (min–max)      val MSE (min–max)")
for name, hs in spread.items():
    tr = np.array([h["loss"][-1] for h in hs])
    va = np.array([h["val_loss"][-1] for h in hs])
    print(f"{name}  {tr.mean():6.1f} ± {tr.std():4.1f} ({tr.min():5.1f}–{tr.max():5.1f})"
          f"    {va.mean():6.1f} ± {va.std():4.1f} ({va.min():5.1f}–{va.max():5.1f})"
          f"    course: {course[name][0]} / {course[name][2]}")

# %%
viz.plot_history(hist_a, log_scale=True)

# %%
viz.plot_history(hist_b, log_scale=True)

# %% [markdown]
# The schedule itself can be checked against the course's printout, which logs the rate at
# the start of each epoch ("Taxa atual"): the rates used in epochs 36 to 47 (counted from 1)
# were 0.0054, 0.0051, 0.0049, 0.0047, 0.0045, 0.0043, 0.0041, 0.0039, 0.0037, 0.0035,
# 0.0033, 0.0031.

# %%
course_rates = [0.0054, 0.0051, 0.0049, 0.0047, 0.0045, 0.0043, 0.0041, 0.0039, 0.0037,
                0.0035, 0.0033, 0.0031]
ours_rates = hist_b.history["lr"][35:47]
print("ours:  ", ours_rates)
print("course:", course_rates[:len(ours_rates)])
print("identical:", ours_rates == course_rates[:len(ours_rates)])

# %% [markdown]
# ## Exercise 8: the batch-size sweep
# Adam lr 0.02, `lr ← round(lr·exp(−0.1), 4)` from epoch 6, ⌊log₂(512·batch)⌋ epochs, no
# validation data during training, then the test MSE. The course ran one seed per batch size;
# we run seed 1 and also seeds 1–10, because one run of a 369-parameter net with a relu output
# depends a lot on where it starts (a dead output unit predicts 0 for every house).

# %%
def schedule_8(epoch, lr):
    return lr if epoch < 6 else round(lr * math.exp(-0.1), 4)


COURSE_8 = {2: 22.4658, 4: 19.1443, 8: 23.9285, 16: 21.6256, 32: 25.3148, 64: 23.7474,
            128: 30.6913, 256: 129.7601}
table = {}
t0 = time.perf_counter()
for batch in BATCHES:
    epochs = int(math.floor(math.log2(512 * batch)))
    if EPOCH_CAP:
        epochs = min(epochs, EPOCH_CAP)
    mses = []
    for seed in SEEDS:
        model, _ = run(lr=0.02, schedule=schedule_8, epochs=epochs, seed=seed,
                       batch_size=batch, validation=False)
        mses.append(nn.evaluate(model, x_test, y_test, loss="mse"))
    table[batch] = (epochs, mses)
print(f"{len(BATCHES) * len(SEEDS)} trainings in {time.perf_counter() - t0:.0f} s\n")
print(f"{'batch':>5} {'epochs':>6} | {'ours, seed 1':>12} {f'ours, {len(SEEDS)} seeds':>17}"
      f" | {'course':>7}")
for batch, (epochs, mses) in table.items():
    print(f"{batch:>5} {epochs:>6} | {mses[0]:>12.1f} "
          f"{np.mean(mses):>9.1f} ± {np.std(mses):>5.1f} | {COURSE_8[batch]:>7.1f}")
ranked = sorted(table, key=lambda b: np.mean(table[b][1]))
print(f"\nby the mean over seeds: best {ranked[:2]}, worst {ranked[-2:]} "
      f"(course: best 4 and 16, worst 128 and 256)")

# %%
fig = viz.plot_curve(list(table), {
    "course (one run)": [COURSE_8[b] for b in table],
    "ours, seed 1": [table[b][1][0] for b in table],
    f"ours, mean of {len(SEEDS)} seeds": [np.mean(table[b][1]) for b in table]},
    xlabel="batch size", ylabel="test MSE", title="exercise 8", logx=True, logy=True)
ax = fig.axes[0]
ax.fill_between(list(table), [np.min(table[b][1]) for b in table],
                [np.max(table[b][1]) for b in table], alpha=0.15, color="tab:green",
                label="ours, min–max over seeds")
ax.legend(frameon=False)
fig

# %% [markdown]
# ## 2 × N epochs = 2N epochs, if everything is saved
# Exercise 7B (Adam lr 0.02 with the decay) trained for 2N epochs in one go, against N epochs,
# a save to disk, a fresh process's worth of objects (new model, new optimizer, built from a
# different seed so nothing is left over), a load, and N more epochs
# (`nn.fit(..., initial_epoch=N)`). What has to be saved:
#
# - the model's weights: `model.state_dict()`;
# - the optimizer's state: Adam's moments m and v, its step count t (the bias corrections
#   depend on it) and the current learning rate — `optimizer.state_dict()`;
# - the random generator that shuffles the batches: `engine.get_rng().bit_generator.state`;
# - the scheduler's position (`scheduler.state_dict()`). A Keras-style `fn(epoch, lr)` reads
#   the rate from the optimizer, so here the optimizer's state already carries it.
#
# `nn.save` writes such a nest of dicts and arrays (no pickle); `nn.ModelCheckpoint` and
# `nn.load_checkpoint` do exactly this as a callback.

# %%
def fresh(seed):
    engine.manual_seed(seed)
    model = dnn()
    opt = nn.optim.Adam(model.parameters(), lr=0.02)
    return model, opt, nn.optim.LambdaLR(opt, schedule_b)


def train(model, opt, sched, epochs, initial_epoch=0, callbacks=()):
    return nn.fit(model, x_train, y_train, loss="mse", optimizer=opt, scheduler=sched,
                  epochs=epochs, initial_epoch=initial_epoch, batch_size=32, verbose=0,
                  callbacks=callbacks)


def max_weight_difference(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return max(float(np.abs(sa[k] - sb[k]).max()) for k in sa)


# 2N epochs in one go
one_go, opt, sched = fresh(1)
train(one_go, opt, sched, 2 * N_RESUME)

# N epochs, then save everything
folder = tempfile.mkdtemp()
path = os.path.join(folder, "resume.npz")
first, opt, sched = fresh(1)
train(first, opt, sched, N_RESUME)
nn.save({"model": first.state_dict(), "optimizer": opt.state_dict(),
         "scheduler": sched.state_dict(), "rng": engine.get_rng().bit_generator.state,
         "epoch": N_RESUME}, path)
print(f"saved {os.path.getsize(path)} bytes after {N_RESUME} epochs\n")


def resume(restore_optimizer=True, restore_rng=True):
    ckpt = nn.load(path)
    model, opt, sched = fresh(seed=99)  # new objects with other weights: all must be overwritten
    model.load_state_dict(ckpt["model"])
    if restore_optimizer:
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
    if restore_rng:
        engine.get_rng().bit_generator.state = ckpt["rng"]
    train(model, opt, sched, 2 * N_RESUME, initial_epoch=ckpt["epoch"])
    return model


print(f"{N_RESUME} + {N_RESUME} epochs against {2 * N_RESUME}, max |Δweight|:")
print(f"  weights + optimizer + RNG restored:   {max_weight_difference(resume(), one_go)}")
print(f"  weights + RNG, a fresh optimizer:     "
      f"{max_weight_difference(resume(restore_optimizer=False), one_go):.3g}")
print(f"  weights + optimizer, RNG not restored: "
      f"{max_weight_difference(resume(restore_rng=False), one_go):.3g}")

# %% [markdown]
# The same with the callback: `ModelCheckpoint` writes model, optimizer, scheduler and RNG
# state after every epoch; `load_checkpoint` restores them and returns the epoch to resume
# from.

# %%
path2 = os.path.join(folder, "ckpt.npz")
model, opt, sched = fresh(1)
train(model, opt, sched, N_RESUME, callbacks=[nn.ModelCheckpoint(path2)])
model, opt, sched = fresh(seed=99)
done = nn.load_checkpoint(path2, model, opt, sched)
train(model, opt, sched, 2 * N_RESUME, initial_epoch=done)
diff = max_weight_difference(model, one_go)
print(f"ModelCheckpoint + load_checkpoint, resumed at epoch {done}: max |Δweight| = {diff}")
assert diff == 0.0

# %%
print(f"whole notebook: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## What we observed
# (Full run: about a minute on a 2-core CPU.)
#
# - **Exercise 4.** On the valley f = ½(w₁² + 100·w₂²), 60 steps: SGD at its largest stable
#   rate is still at w₁ = −1.27 (f = 0.80), Adam at f = 0.009. Adam's path is the same
#   (to 2·10⁻⁷) when the valley is 1 or 20 instead of 100 times steeper across: it does not
#   see the scale of a coordinate. Its first step is exactly ±lr in each coordinate, the bias
#   correction at work (m̂₁ = g₁, v̂₁ = g₁²). On Boston, though, Keras's default Adam
#   (lr 0.001) is the slowest of the four: test MSE 28.0 after 50 epochs against 16.5 for SGD
#   lr 0.01, 16.2 for SGD with momentum and 19.2 for Adam lr 0.01 — Adam is not always better
#   (the course's point in exercise 4).
# - **Exercise 7** (`nn.summary`: 369 parameters, as the course), last epoch, seed 1:
#
#   | | train MSE | train MAE | val MSE | val MAE |
#   |---|---|---|---|---|
#   | A, stepgrad | 20.53 | 3.18 | 28.02 | 4.06 |
#   | A, course | ≈ 21 | ≈ 3 | ≈ 28 | ≈ 4 |
#   | B, stepgrad | 6.52 | 1.89 | 18.67 | 2.78 |
#   | B, course | ≈ 7 | ≈ 2 | ≈ 23 | ≈ 3 |
#
#   Over seeds 1–10: A 23.2 ± 4.1 / 29.3 ± 3.7, B 7.2 ± 0.6 / 20.0 ± 2.1 (train / val MSE);
#   the course's numbers sit inside our spread. The course's conclusion holds: B has lower
#   errors, A the smaller gap between training and validation. The learning rates of
#   `LambdaLR` with the course's `fn(epoch, lr)` equal the course's printed rates exactly
#   (0.0054 … 0.0031 for epochs 36–47).
# - **Exercise 8**, test MSE (ours seed 1 / ours mean ± sd of 10 seeds / course):
#   batch 2: 25.2 / 21.4 ± 3.4 / 22.5; 4: 24.1 / 19.6 ± 2.9 / 19.1; 8: 21.1 / 21.0 ± 2.2 / 23.9;
#   16: 23.1 / 21.8 ± 1.7 / 21.6; 32: 22.2 / 23.5 ± 1.8 / 25.3; 64: 23.7 / 24.9 ± 2.0 / 23.7;
#   128: 29.5 / 31.1 ± 5.2 / 30.7; 256: 75.7 / 77.0 ± 26.2 / 129.8. Worst two: 128 and 256, as
#   the course; best two by the mean: 4 and 8 (course: 4 and 16; 16 is 0.8 behind 8 with a
#   spread of 2). Batch 256 gets 17 epochs of 2 updates: 34 updates are not enough, and the
#   spread over seeds (± 26) shows how little a single run says there.
# - **2 × 50 = 100 epochs:** with the weights, the optimizer state and the shuffling
#   generator restored, the max |Δweight| against 100 epochs in one go is **0.0**, by hand
#   with `nn.save`/`nn.load` and with `ModelCheckpoint` + `load_checkpoint`. With a fresh
#   optimizer (Adam's moments and step count reset, the learning rate back to 0.02) it is
#   0.398; without restoring the generator (other batches) 0.0035.
