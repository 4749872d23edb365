# %% [markdown]
# # 2 · Losses: the course's tables, computed with stepgrad
#
# **Course 001, exercise 1** (Keras/scikit-learn exercises): a logistic regression fitted
# with scikit-learn's lbfgs gives probabilities ŷ for 10 one-dimensional points; compute four
# losses on them per instance and on average, and order them. Exercise 3 (five classes at
# random initialisation) follows.
#
# **Course 003** ("Redes Neurais Artificiais" slides): image classification as a table, the
# softmax, the cross-entropy (log loss) that says which model is "good", its tables (two
# prediction tables, two doctors, ten clients × four labels), and the terms loss / cost /
# objective.
#
# Every table here is the course's own, so our figures sit beside the course's. Where the
# course prints no value (the slides print tables, not their log losses), the column says
# "not printed" and an independent reference (numpy, scikit-learn) stands beside ours.
#
# | id | figure: ours vs the course's |
# |---|---|
# | 001-ex1-losses | means 0.1421 / 0.4486 / 0.2000 / 0.6804 vs 0.1421 / 0.4487 / 0.2000 / 0.6805 |
# | 001-ex1-order | (d) quadratic < 0-1 < cross-entropy < hinge (no letter printed) |
# | 001-ex1-logreg | L-BFGS with L2 (C = 1) reproduces the printed ŷ; w = 0.965 vs 1.523 without L2 on the stand-in x |
# | 003-problem, 003-softmax, 003-good-model | softmax(2, 1, −0.1) = 0.671, 0.247, 0.082 (as printed) |
# | 003-ypred-tables, 003-doctors, 003-logloss-10x4 | 0.667 / 1.413; Paulo 0.805, Georgia 0.078; 1.340 (none printed) |
# | 003-terms | loss per observation, cost over all, objective = what is minimised |

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # CI: fewer gradient-descent steps

# %%
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression  # the course's reference fits
from sklearn.metrics import log_loss

import engine
import nn
from nn import functional as F

np.set_printoptions(precision=3, suppress=True)


def f64(a, **kw):
    return engine.tensor(np.asarray(a, dtype=np.float64), dtype=np.float64, **kw)

# %% [markdown]
# ## `001-ex1-losses` — four losses on the logistic regression's outputs
# The course prints y, ŷ to 3 decimals, and ŷʰ = 2(ŷ − 0.5) to 3 decimals — which gives ŷ to
# 4 decimals (ŷ = ŷʰ/2 + 0.5), so we take ŷ from ŷʰ. The course's own formulas: quadratic
# (y − ŷ)², cross-entropy −[y ln(ŷ + 1e-5) + (1 − y) ln(1 − ŷ + 1e-5)] (the 1e-5 as printed),
# 0-1 on the class (ŷ ≥ 0.5 → 1), hinge max(0, 1 − yʰ·ŷʰ) with yʰ ∈ {−1, 1}. stepgrad's
# `F.mse_loss`, `F.binary_cross_entropy` (which clamps each log at −100, PyTorch's rule,
# instead of adding 1e-5), `F.zero_one_loss` and `F.hinge_loss` give the same per-instance
# values.

# %%
y = np.array([0, 0, 0, 1, 0, 1, 0, 1, 1, 1], dtype=np.float64)
y_hat_3 = np.array([0.133, 0.178, 0.325, 0.433, 0.49, 0.547, 0.576, 0.682, 0.792, 0.84])
y_hat_hi = np.array([-0.735, -0.645, -0.349, -0.134, -0.02, 0.095, 0.151, 0.365, 0.585, 0.687])
y_hat = y_hat_hi / 2 + 0.5          # ŷ to 4 decimals
print("ŷ from ŷʰ:            ", np.array2string(y_hat, precision=4))
print("ŷ printed (3 decimals):", y_hat_3)

p = f64(y_hat)
per_instance = {
    "quadratic": F.mse_loss(p, y, reduction="none").data,
    "cross-entropy": F.binary_cross_entropy(p, y, reduction="none").data,
    "0-1": (np.where(y_hat >= 0.5, 1, 0) != y).astype(int),
    "hinge": F.hinge_loss(f64(y_hat_hi), 2 * y - 1, reduction="none").data,
}
course_per_instance = {
    "quadratic": [0.018, 0.032, 0.106, 0.321, 0.24, 0.205, 0.331, 0.101, 0.043, 0.025],
    "cross-entropy": [0.142, 0.195, 0.394, 0.837, 0.674, 0.603, 0.857, 0.382, 0.233, 0.17],
    "0-1": [0, 0, 0, 1, 0, 0, 1, 0, 0, 0],
    "hinge": [0.265, 0.355, 0.651, 1.134, 0.98, 0.905, 1.151, 0.635, 0.415, 0.313],
}
print("\nper instance (ours, then the course's):")
for name, ours in per_instance.items():
    print(f"  {name:<14}{np.round(ours, 3)}\n  {'':<14}{np.array(course_per_instance[name])}")

# The course's cross-entropy with its +1e-5, written with tensor ops:
ce_course_formula = -(f64(y) * (p + 1e-5).log() + (1 - f64(y)) * (1 - p + 1e-5).log())
means = {
    "quadratic (MSE)": (F.mse_loss(p, y).item(), 0.1421),
    "cross-entropy": (F.binary_cross_entropy(p, y).item(), 0.4487),
    "  (course's +1e-5)": (ce_course_formula.mean().item(), 0.4487),
    "0-1": (F.zero_one_loss(p, y), 0.2000),
    "hinge / SVM": (F.hinge_loss(f64(y_hat_hi), 2 * y - 1).item(), 0.6805),
}
p3 = f64(y_hat_3)
means_3 = [F.mse_loss(p3, y).item(), F.binary_cross_entropy(p3, y).item(), np.nan,
           F.zero_one_loss(p3, y), F.hinge_loss(2 * (p3 - 0.5), 2 * y - 1).item()]
print(f"\n{'mean loss':<20}{'ours':>8}{'course':>8}{'from 3-decimal ŷ':>18}")
for (name, (ours, course)), m3 in zip(means.items(), means_3):
    print(f"{name:<20}{ours:>8.4f}{course:>8.4f}{m3:>18.4f}")

# %% [markdown]
# The per-instance values agree to the printed digit except where ŷ sits on a rounding edge
# (0.674 vs 0.673, 0.603 vs 0.602: the course's unrounded ŷ is not known). The means agree to
# ±1 in the fourth decimal; from the 3-decimal ŷ they would be off by up to 1e-3 (0.4494 vs
# 0.4487), which is why ŷ is taken from ŷʰ. The last ŷ reads "0.84" in our copy of the course,
# but its ŷʰ (0.687), its cross-entropy (0.170, not 0.174) and its quadratic loss (0.025, not
# 0.026) all say 0.8435. The +1e-5 inside the logs changes the mean by 2e-5 only.
#
# ## `001-ex1-order` — the losses from smallest to largest
# Options: (a) hinge, quadratic, cross-entropy, 0-1; (b) quadratic, cross-entropy, hinge, 0-1;
# (c) 0-1, quadratic, cross-entropy, hinge; (d) quadratic, 0-1, cross-entropy, hinge. The
# course prints no letter; sorting the four means:

# %%
four = {"quadratic": means["quadratic (MSE)"][0], "cross-entropy": means["cross-entropy"][0],
        "0-1": means["0-1"][0], "hinge": means["hinge / SVM"][0]}
order = sorted(four, key=four.get)
options = {"a": ["hinge", "quadratic", "cross-entropy", "0-1"],
           "b": ["quadratic", "cross-entropy", "hinge", "0-1"],
           "c": ["0-1", "quadratic", "cross-entropy", "hinge"],
           "d": ["quadratic", "0-1", "cross-entropy", "hinge"]}
print(" < ".join(f"{k} {four[k]:.4f}" for k in order))
print("answer:", [letter for letter, o in options.items() if o == order])

# %% [markdown]
# **Answer: (d)**. Why this order holds here: every instance's quadratic loss (y − ŷ)² is at
# most |y − ŷ| < 1, while its cross-entropy −ln(1 − |y − ŷ|) ≥ |y − ŷ| and its hinge
# 1 − yʰŷʰ = 2|y − ŷ| ≥ |y − ŷ|; hinge exceeds cross-entropy as long as |y − ŷ| < 0.79 (true
# for all ten points: the largest is 0.576). The 0-1 loss counts only the two misclassified points (0.2): above the
# quadratic mean, below the others. On other data 0-1 could move (a model with many slightly
# wrong points has a large 0-1 and small quadratic loss), so the order is this data's.
#
# ## `001-ex1-logreg` — the logistic regression, fitted as the course fits it
# The course fits `LogisticRegression(solver='lbfgs')` and prints `predict_proba(x)[:, 1]`.
# scikit-learn's default has an **L2 penalty with C = 1**: it minimises
# C·Σᵢ BCE(σ(w xᵢ + b), yᵢ) + ½w² (the intercept b is not penalised). The x values are not
# printed (the cell that made them is missing), but the printed ŷ pin them down:
#
# - At the optimum, ∂/∂b = Σ(ŷᵢ − yᵢ) = 0: the printed ŷ sum to 5.0000 = Σy. ✓
# - ∂/∂w = Σ(ŷᵢ − yᵢ)xᵢ + w = 0, and xᵢ = (logit ŷᵢ − b)/w, so w² = −Σ(ŷᵢ − yᵢ) logit ŷᵢ.
#   Without the penalty this sum would have to be 0 — it is −1.32: the printed outputs are
#   **not** an unpenalised fit of any x. With C = 1 it gives w = 1.149, and x up to a shift
#   (we take b = 0).
#
# Then we fit that x with stepgrad: `nn.optim.LBFGS` (PyTorch's algorithm, strong-Wolfe line
# search) on the L2-penalised objective, and plain gradient descent on the unpenalised
# cross-entropy; scikit-learn is the reference. Second, on a stand-in x (10 points evenly
# spaced on [−2, 2] with the course's labels) the same three fits.

# %%
logit = np.log(y_hat / (1 - y_hat))
print(f"Σ(ŷ − y) = {np.sum(y_hat - y):+.4f}   Σ(ŷ − y)·logit ŷ = {np.sum((y_hat - y) * logit):+.4f}")
w_implied = np.sqrt(-np.sum((y_hat - y) * logit))
x_recovered = logit / w_implied
print(f"implied w = {w_implied:.4f}; recovered x (b = 0): {x_recovered.round(3)}")


def fit_lbfgs_l2(x, y, C=1.0):
    """scikit-learn's LogisticRegression(solver='lbfgs', C) objective, minimised with
    nn.optim.LBFGS: C·Σ BCE + ½w² (b unpenalised)."""
    w = engine.zeros(1, dtype=np.float64, requires_grad=True)
    b = engine.zeros(1, dtype=np.float64, requires_grad=True)
    xt, yt = f64(x), f64(y)
    opt = nn.optim.LBFGS([w, b], lr=1, max_iter=200, tolerance_grad=1e-10,
                         tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        prob = (xt * w + b).sigmoid()
        objective = C * F.binary_cross_entropy(prob, yt, reduction="sum") + 0.5 * (w * w).sum()
        objective.backward()
        return objective

    opt.step(closure)
    return w.item(), b.item()


def fit_gd(x, y, steps, lr=0.5):
    """Gradient descent on the mean cross-entropy, no penalty (what this notebook used to do)."""
    w = engine.zeros(1, dtype=np.float64, requires_grad=True)
    b = engine.zeros(1, dtype=np.float64, requires_grad=True)
    opt = nn.optim.SGD([w, b], lr=lr)
    xt = f64(x)
    for _ in range(steps):
        loss = F.binary_cross_entropy((xt * w + b).sigmoid(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.item(), b.item()


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


gd_steps = 300 if FAST else 5000
x_standin = np.linspace(-2, 2, 10)
rows = []
for data_name, x in (("recovered x", x_recovered), ("stand-in x", x_standin)):
    sk = LogisticRegression(solver="lbfgs").fit(x[:, None], y)
    sk_none = LogisticRegression(solver="lbfgs", C=1e12).fit(x[:, None], y)
    fits = {"LBFGS + L2 (C = 1)": fit_lbfgs_l2(x, y),
            "scikit-learn lbfgs, C = 1": (sk.coef_.item(), sk.intercept_.item()),
            f"gradient descent, no L2 ({gd_steps} steps)": fit_gd(x, y, gd_steps),
            "scikit-learn, no penalty": (sk_none.coef_.item(), sk_none.intercept_.item())}
    gap_head = "max |ŷ − course ŷ|" if x is x_recovered else ""
    print(f"\n{data_name + ':':<42}{'w':>6}{'b':>8}   {'ŷ':<63}{gap_head}")
    for name, (w_, b_) in fits.items():
        fitted = sigmoid(w_ * x + b_)
        gap = f"{np.abs(fitted - y_hat).max():>8.1e}" if x is x_recovered else ""
        print(f"  {name:<40}{w_:>6.3f}{b_:>8.3f}   {fitted.round(3)}{gap}")
    rows.append(fits)
print(f"\n{'course ŷ (from ŷʰ):':<59}{np.array2string(y_hat, precision=4)}")

# %% [markdown]
# On the recovered x, stepgrad's L-BFGS with scikit-learn's penalty reproduces the course's ŷ
# and scikit-learn's own fit (2e-5 away: its default tolerance is 1e-4). That ŷ comes
# back is by construction — x was recovered assuming exactly that objective; the evidence is
# elsewhere: Σ(ŷ − y) = 0 holds on the printed numbers (an intercept was fitted) and the
# unpenalised condition fails (a penalty was there). Gradient descent without the penalty
# fits a steeper curve (larger w, ŷ further from 0.5). On the stand-in x: w = 0.965 with the
# L2 term (scikit-learn 0.965) against 1.523 without it — the previous version of this
# notebook fitted without the penalty, so its "course's logistic regression" was not the
# course's.
#
# ## Exercise 3: five classes at random initialisation
# (Answered in full where course 001's exercises are; kept here because it is a loss table.)

# %%
logits = engine.tensor(np.zeros((1, 5)), dtype=np.float64)  # equal scores → 0.2 each
probs = logits.softmax(axis=1)
one_hot = np.eye(5)[[2]]
print("probabilities:", probs.data.round(3))
print(f"categorical cross-entropy = {F.cross_entropy(logits, [2]).item():.4f}  (course: −ln 0.2 ≈ 1.6)")
print(f"quadratic, summed over the vector = "
      f"{F.mse_loss(probs, one_hot, reduction='sum').item():.4f}  (course: 0.8)")

# %% [markdown]
# ## `003-problem` — image classification as a table
# The slides: each image a row of pixels X, each label a one-hot row y over (cão, gato, rato),
# and the model y = softmax(Wᵀx + b) — written out for 3 inputs and 3 classes. The slides
# print four rows of pixels (with "…" in the middle); we keep their first three pixels, scaled
# to [0, 1], as the 3 inputs of the slide's formula. W and b start random (seed 0).

# %%
classes = ["cão", "gato", "rato"]
pixels = np.array([[2, 133, 25, 77], [3, 3, 55, 89], [254, 255, 253, 255], [8, 8, 10, 21]])
Y = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=np.float64)
X3 = f64(pixels[:, :3] / 255.0, name="x")
rng = np.random.default_rng(0)
W = f64(rng.normal(0, 1, (3, 3)), requires_grad=True, name="W")
b = f64(np.zeros(3), requires_grad=True, name="b")
print("W (3 inputs × 3 classes) =\n", W.data, "\nb =", b.data)
P = (X3 @ W + b).softmax(axis=1)   # row form of softmax(Wᵀx + b), all four images at once
print(f"\n{'x (first 3 pixels)':<22}{'y':<10}{'softmax(Wᵀx + b)'}")
for px, yy, pp in zip(pixels, Y, P.data):
    print(f"{str(px[:3]):<22}{classes[int(yy.argmax())]:<10}{pp.round(3)}")

# %% [markdown]
# ## `003-softmax` — scores → probabilities
# The slides' table: scores (2, 1, −0.1), e^scores, their sum (the normalisation factor) and
# the probabilities.

# %%
scores = f64([2.0, 1.0, -0.1])
e = scores.exp()
print(f"{'':6}{'score':>7}{'e^score':>9}{'prob':>8}{'slides':>14}")
for name, s_, e_, pr, course in zip(("y_0", "y_1", "y_2"), scores.data, e.data,
                                    scores.softmax().data, (0.67, 0.25, 0.08)):
    print(f"{name:6}{s_:>7.1f}{e_:>9.3f}{pr:>8.3f}{course:>14.2f}")
print(f"{'sum':6}{'':>7}{e.sum().item():>9.3f}{'':>8}{'11.012':>14}")
print("slides' e^scores: 7.389 2.718 0.905; to 3 decimals the probabilities are 0.671 0.247 0.082")

# %% [markdown]
# ## `003-good-model` — a "good" model errs less and gets more right
# "Good" W and b are found by gradient descent and quantified by the cross-entropy. On the
# four rows above (our 3-pixel stand-in of the slides' images): the cross-entropy and the
# accuracy before and during training.

# %%
opt = nn.optim.SGD([W, b], lr=1.0)
labels = Y.argmax(axis=1)
for step in range(301 if not FAST else 101):
    logits_ = X3 @ W + b
    loss = F.cross_entropy(logits_, Y)          # one-hot targets, as the slides' table
    if step in (0, 10, 50, 100, 300):
        print(f"step {step:>3}: cross-entropy {loss.item():.4f}, "
              f"right {int((logits_.data.argmax(1) == labels).sum())}/4")
    opt.zero_grad()
    loss.backward()
    opt.step()
print("probabilities now:\n", (X3 @ W + b).softmax(axis=1).data.round(3))

# %% [markdown]
# Lower cross-entropy = more probability on the right class for every image: the model errs
# less and gets more right. Accuracy stops moving once every image is right; the
# cross-entropy keeps telling a better model from a worse one — which the next tables show.
#
# ## `003-ypred-tables` — which prediction table is better?
# y_gold: gato, cão, rato, gato. The slides call the first y_pred "smaller cross-entropy" and
# the second "larger" without printing the values. An earlier slide prints the first table's
# last row as (0.40, 0.20, 0.30) (it sums to 0.9) instead of (0.40, 0.20, 0.40): the log
# loss only reads the true class's probability (0.20 for gato), so both give the same value.
# scikit-learn's `log_loss` is the independent reference.

# %%
def logloss(P, Y):
    """−(1/N) Σᵢ Σⱼ yᵢⱼ ln pᵢⱼ on probability and one-hot tables (N, M), with tensors."""
    return -(f64(Y) * f64(P).log()).sum(axis=1).mean().item()


y_gold = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
pred_1 = np.array([[0.06, 0.85, 0.09], [0.77, 0.20, 0.03], [0.32, 0.15, 0.53], [0.40, 0.20, 0.40]])
pred_1_early = pred_1.copy()
pred_1_early[3] = [0.40, 0.20, 0.30]
pred_2 = np.array([[0.60, 0.15, 0.25], [0.24, 0.20, 0.56], [0.32, 0.03, 0.65], [0.40, 0.15, 0.45]])
print(f"{'table':<34}{'stepgrad':>9}{'sklearn':>9}{'accuracy':>10}   slides")
for name, P_, slide in (("first y_pred", pred_1, "smaller (not printed)"),
                        ("first, earlier slide's last row", pred_1_early, ""),
                        ("second y_pred", pred_2, "larger (not printed)")):
    ref = log_loss(y_gold, P_) if np.allclose(P_.sum(1), 1) else float("nan")
    print(f"{name:<34}{logloss(P_, y_gold):>9.3f}{ref:>9.3f}"
          f"{F.accuracy(P_, y_gold):>10.2f}   {slide}")

# %% [markdown]
# First table 0.667, second 1.413: the second is worse on every row (it even ranks the true
# class last on rows 2 and 3; accuracy 0.25 against 0.75).
#
# ## `003-doctors` — two doctors, both 2/2 right: who is "better"?
# Answer key: Q1 disease C, Q2 disease B. Paulo thinks (A, B, C) = Q1 (20%, 30%, 50%),
# Q2 (30%, 40%, 30%); Georgia Q1 (0%, 10%, 90%), Q2 (5%, 95%, 0%).

# %%
answer = np.array([[0, 0, 1], [0, 1, 0]])                      # Q1: C, Q2: B
paulo = np.array([[0.20, 0.30, 0.50], [0.30, 0.40, 0.30]])
georgia = np.array([[0.00, 0.10, 0.90], [0.05, 0.95, 0.00]])
print(f"{'doctor':<10}{'right':>6}{'log loss':>10}{'sklearn':>9}   course")
for name, P_, course in (("Paulo", paulo, "0.805 (not printed)"),
                         ("Georgia", georgia, "0.078 (not printed)")):
    ll = logloss(np.clip(P_, 1e-300, 1), answer)   # 0% on a wrong answer: 0·ln 0 = 0, skip it
    print(f"{name:<10}{int(F.accuracy(P_, answer) * 2):>4}/2{ll:>10.3f}"
          f"{log_loss(answer, P_):>9.3f}   {course}")

# %% [markdown]
# **Georgia**: both pick the right disease every time, but Georgia put 90% and 95% on the
# right answers, Paulo 50% and 40%. Log loss rewards confidence in the right answer (and
# would punish confidence in a wrong one without limit: a 0% on the right answer costs ∞).
# Accuracy cannot tell the two apart.
#
# ## `003-logloss-10x4` — ten clients, four labels
# logloss = −(1/N) Σᵢ Σⱼ yᵢⱼ ln pᵢⱼ on the slides' PREDS and TRUE tables.
# The printed probabilities are rounded (rows sum to 0.999–1.001): our formula reads them as
# given; scikit-learn renormalises each row first. Both give the same value to 3 decimals.

# %%
preds = np.array([
    [0.069, 0.213, 0.698, 0.020], [0.164, 0.426, 0.081, 0.329], [0.278, 0.370, 0.269, 0.083],
    [0.055, 0.405, 0.460, 0.080], [0.124, 0.666, 0.145, 0.066], [0.569, 0.045, 0.214, 0.172],
    [0.421, 0.091, 0.353, 0.135], [0.215, 0.323, 0.279, 0.182], [0.139, 0.123, 0.347, 0.390],
    [0.155, 0.036, 0.311, 0.498]])
true_label = np.array([1, 3, 0, 3, 1, 2, 2, 2, 0, 3])
true = np.eye(4)[true_label]
per_client = F.nll_loss(f64(preds).log(), true_label, reduction="none").data
for i in range(10):
    print(f"client {i}: true label {true_label[i]}, p = {preds[i, true_label[i]]:.3f}, "
          f"−ln p = {per_client[i]:.3f}")
with warnings.catch_warnings():  # rows sum to 0.999–1.001 (rounded): sklearn warns, renormalises
    warnings.simplefilter("ignore", UserWarning)
    sk_ll = log_loss(true_label, preds)
print(f"\nrow sums: {preds.sum(axis=1)}")
print(f"log loss: stepgrad {logloss(preds, true):.4f} (one-hot formula), "
      f"{per_client.mean():.4f} (nll_loss); scikit-learn {sk_ll:.4f} (rows renormalised); "
      "slides: 1.340 (not printed)")

# %% [markdown]
# ## `003-terms` — loss, cost, objective: what is the difference?
# The slides' answer: the **loss** is for one observation, the **cost** over all
# observations, the **objective** is any function optimised during training. In stepgrad's
# terms: `reduction="none"` gives the losses, `"mean"` (or `"sum"`, as the slides' J) the cost,
# and the objective is whatever `backward()` is called on — e.g. the logistic regression above
# minimised cost + penalty. The slides add that this setup (softmax + cross-entropy, as in
# 003-problem) is also called **multinomial logistic classification**.

# %%
x = x_recovered
w_, b_ = rows[0]["LBFGS + L2 (C = 1)"]
prob = f64(sigmoid(w_ * x + b_))
losses = F.binary_cross_entropy(prob, y, reduction="none")
print("losses (one per observation):", losses.data.round(3))
print(f"cost (mean over observations):  {F.binary_cross_entropy(prob, y).item():.4f}")
print(f"objective (C·Σ losses + ½w², what LBFGS minimised): "
      f"{F.binary_cross_entropy(prob, y, reduction='sum').item() + 0.5 * w_ ** 2:.4f}")

# %% [markdown]
# ## What we observed
# - 001-ex1-losses: with ŷ taken from the printed ŷʰ (4 decimals), the means are
#   0.1421 / 0.4486 / 0.2000 / 0.6804 against the course's 0.1421 / 0.4487 / 0.2000 / 0.6805;
#   per-instance values agree to the printed digit except on rounding edges.
# - 001-ex1-order: (d) quadratic < 0-1 < cross-entropy < hinge.
# - 001-ex1-logreg: the printed ŷ cannot come from an unpenalised fit; scikit-learn's
#   L2 penalty (C = 1) recovers x and w = 1.149, and stepgrad's L-BFGS on that objective
#   reproduces the printed ŷ and scikit-learn's fit. On the stand-in x: w = 0.965 with L2
#   (scikit-learn 0.965), 1.523 without.
# - 003-softmax: (0.671, 0.247, 0.082), normalisation factor 11.012, as the slides.
# - 003-ypred-tables 0.667 / 1.413, 003-doctors Paulo 0.805 / Georgia 0.078,
#   003-logloss-10x4 1.340 — stepgrad and scikit-learn agree on all of them (the slides
#   print the tables, not these values).
