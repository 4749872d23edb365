# %% [markdown]
# # 2 · Losses: the course's tables, computed with stepgrad
#
# **What the exercises ask** (course 001, exercises 1 and 3; slides 003):
#
# 1. A logistic regression gives probabilities ŷ for 10 points with labels y. Compute four
#    losses on those outputs — quadratic (MSE), binary cross-entropy, 0-1 loss and hinge
#    (hinge uses y ∈ {−1, 1} and ŷʰ = 2(ŷ − 0.5)). The course's means: **0.1421, 0.4487,
#    0.2000, 0.6805**. Also train the logistic regression itself.
# 2. A 5-class classifier at random initialisation outputs uniform probabilities 0.2:
#    categorical cross-entropy = −ln 0.2 ≈ **1.6**, quadratic loss summed over the vector
#    = **0.8**.
# 3. Slides: softmax of the scores (2, 1, −0.1) is **(0.671, 0.247, 0.082)**; the log loss
#    −1/N Σ Σ y log p; two doctors who are both right can have different log losses.

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # CI: fewer optimisation steps

# %%
import numpy as np

import engine
import nn
from nn import functional as F

y = np.array([0, 0, 0, 1, 0, 1, 0, 1, 1, 1], dtype=np.float64)
y_hat = np.array([0.133, 0.178, 0.325, 0.433, 0.49, 0.547, 0.576, 0.682, 0.792, 0.84])
p = engine.tensor(y_hat, dtype=np.float64)

table = {
    "quadratic (MSE)": (F.mse_loss(p, y).item(), 0.1421),
    "binary cross-entropy": (F.binary_cross_entropy(p, y).item(), 0.4487),
    "0-1 loss": (F.zero_one_loss(p, y), 0.2000),
    "hinge": (F.hinge_loss(2 * (p - 0.5), 2 * y - 1).item(), 0.6805),
}
print(f"{'loss':<22}{'stepgrad':>10}{'course':>10}")
for name, (ours, course) in table.items():
    print(f"{name:<22}{ours:>10.4f}{course:>10.4f}")

# %% [markdown]
# The course printed ŷ rounded to three decimals but computed its means from the unrounded
# outputs, so the last digit can differ (0.1424 vs 0.1421). The 0-1 loss counts the two
# points on the wrong side of 0.5 (ŷ = 0.547 with y = 1 is right; ŷ = 0.576 with y = 0 and
# ŷ = 0.433 with y = 1 are wrong).
#
# ## Training the logistic regression
# The course fits it with lbfgs on 10 one-dimensional points. We do not have the course's x
# values, so we make a comparable set: x on a line, labels mostly increasing with x. Gradient
# descent on the binary cross-entropy with the engine, parameters w and b as tensors:

# %%
x = np.linspace(-2, 2, 10)
w = engine.tensor([0.0], requires_grad=True, dtype=np.float64)
b = engine.tensor([0.0], requires_grad=True, dtype=np.float64)
opt = nn.optim.SGD([w, b], lr=0.5)
steps = 200 if FAST else 2000
for step in range(steps):
    prob = (engine.tensor(x, dtype=np.float64) * w + b).sigmoid()
    loss = F.binary_cross_entropy(prob, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"after {steps} steps: w = {w.item():.3f}, b = {b.item():.3f}, BCE = {loss.item():.4f}")
print("ŷ =", np.round(prob.data, 3))
print(f"accuracy = {F.accuracy(prob, y):.2f}")

# %% [markdown]
# ## Exercise 3: five classes at random initialisation

# %%
logits = engine.tensor(np.zeros((1, 5)), dtype=np.float64)  # equal scores → 0.2 each
probs = logits.softmax(axis=1)
one_hot = np.eye(5)[[2]]
print("probabilities:", probs.data.round(3))
print(f"categorical cross-entropy = {F.cross_entropy(logits, [2]).item():.4f}  (course: −ln 0.2 ≈ 1.6)")
print(f"quadratic, summed over the vector = "
      f"{F.mse_loss(probs, one_hot, reduction='sum').item():.4f}  (course: 0.8)")

# %% [markdown]
# ## Softmax and log loss (slides 003)

# %%
scores = engine.tensor([2.0, 1.0, -0.1], dtype=np.float64)
print("softmax(2, 1, −0.1) =", scores.softmax().data.round(3), " (slides: 0.671 0.247 0.082)")

labels = np.array([0, 1, 2, 1])
doctor_a = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.3, 0.6, 0.1]])
doctor_b = np.array([[0.5, 0.3, 0.2], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4], [0.4, 0.45, 0.15]])
for name, table_ in (("doctor A", doctor_a), ("doctor B", doctor_b)):
    logp = engine.tensor(np.log(table_), dtype=np.float64)
    print(f"{name}: accuracy {F.accuracy(table_, labels):.2f}, "
          f"log loss {F.nll_loss(logp, labels).item():.4f}")

# %% [markdown]
# ## What we observed
# - The four losses on the course's ŷ: 0.1424 / 0.4494 / 0.2000 / 0.6816 against the course's
#   0.1421 / 0.4487 / 0.2000 / 0.6805 — equal up to the rounding of the printed ŷ.
# - Uniform five-class output: cross-entropy 1.6094 (= −ln 0.2) and quadratic 0.8, as the course.
# - Softmax of (2, 1, −0.1) = (0.671, 0.247, 0.082), as the slides.
# - Both doctors pick every right class (accuracy 1.0) but the confident one has the lower log
#   loss (0.3618 vs 0.8311): log loss rewards calibrated confidence, accuracy does not.
