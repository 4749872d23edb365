# %% [markdown]
# # 1 · Backprop by hand, then by the engine, step by step
#
# **Course 003** ("Redes Neurais Artificiais", section *MLP dedução & implementação*): derive
# forward and backward propagation by hand for a 2→4→3→1 network with sigmoid activations
# and **no biases**, on three observations X = [[5, 2], [1, 0], [3, 1]], y = [0, 1, 1], with
# the binary cross-entropy **summed** over the observations; then take one step of gradient
# descent. The slides write every matrix with its shape but print no weight values, so ours
# are drawn at random (seed 0, N(0, 0.5²)) and every figure below is for those weights — except
# the cost example 003-cost, whose ŷ the slides do print.
#
# | id | what | where below |
# |---|---|---|
# | 003-forward | z⁽¹⁾ = XW⁽¹⁾ entry by entry, a⁽¹⁾, z⁽²⁾, a⁽²⁾, z⁽³⁾, ŷ with their shapes | forward pass |
# | 003-cost | J = Σ lᵢ for ŷ = (0.2, 0.9, 0.6), y = (0, 1, 1): 0.839 (not printed) | cost |
# | 003-backprop | δ⁽³⁾, δ⁽²⁾, δ⁽¹⁾ and ∂J/∂W⁽ˡ⁾ matrix by matrix, with shapes, while stepping | backprop |
# | 003-gd-update | W⁽ˡ⁾ ← W⁽ˡ⁾ − ρ ∂J/∂W⁽ˡ⁾, l = 3, 2, 1, one step | gradient descent |

# %% tags=["parameters"]
import os

FAST = os.environ.get("STEPGRAD_FAST") == "1"  # nothing heavy here: same run either way

# %%
import numpy as np

import engine
import nn
import viz
from engine import Value, backward_steps, tensor

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
X = tensor([[5.0, 2.0], [1.0, 0.0], [3.0, 1.0]], dtype=np.float64, name="X")
y = tensor([[0.0], [1.0], [1.0]], dtype=np.float64, name="y")


def param(shape, name):
    return tensor(rng.normal(0, 0.5, shape), requires_grad=True, dtype=np.float64, name=name)


# The slides' layout: z = a·W, weights (inputs, outputs), no biases.
W1 = param((2, 4), "W1")
W2 = param((4, 3), "W2")
W3 = param((3, 1), "W3")


def forward(W1, W2=W2, W3=W3):
    """z⁽¹⁾ = XW⁽¹⁾, a⁽¹⁾ = σ(z⁽¹⁾), z⁽²⁾ = a⁽¹⁾W⁽²⁾, a⁽²⁾ = σ(z⁽²⁾), z⁽³⁾ = a⁽²⁾W⁽³⁾,
    ŷ = σ(z⁽³⁾) and J = −Σᵢ [yᵢ ln ŷᵢ + (1 − yᵢ) ln(1 − ŷᵢ)] (summed, as the slides).
    Returns every intermediate, named, so that the steps and pictures show them."""
    z1 = X @ W1
    a1 = z1.sigmoid()
    z2 = a1 @ W2
    a2 = z2.sigmoid()
    z3 = a2 @ W3
    y_hat = z3.sigmoid()
    J = -(y * y_hat.log() + (1 - y) * (1 - y_hat).log()).sum()
    for t, name in ((z1, "z1"), (a1, "a1"), (z2, "z2"), (a2, "a2"), (z3, "z3"),
                    (y_hat, "ŷ"), (J, "J")):
        t.name = name
    return dict(z1=z1, a1=a1, z2=z2, a2=a2, z3=z3, y_hat=y_hat, J=J)

# %% [markdown]
# ## `003-forward` — the forward pass, matrix by matrix
# The slides write z⁽¹⁾ = XW⁽¹⁾ entry by entry (e.g. 5w₁₁ + 2w₂₁ in row 1, column 1), then
# a⁽¹⁾ = σ(z⁽¹⁾) (3 obs × 4 units), z⁽²⁾ = a⁽¹⁾W⁽²⁾ and a⁽²⁾ (3 obs × 3 signals),
# z⁽³⁾ = a⁽²⁾W⁽³⁾ and ŷ = a⁽³⁾ (3 obs × 1 signal). The same, with our weights' numbers:

# %%
Xd = X.data.astype(int)
print("z(1) = X·W(1), entry by entry (the slides' symbols):")
for i in range(3):
    print("  [" + " | ".join(f"{Xd[i, 0]}w1{j + 1} + {Xd[i, 1]}w2{j + 1}" for j in range(4)) + "]")
print("\nW(1) =\n", W1.data)
fw = forward(W1)
for key in ("z1", "a1", "z2", "a2", "z3", "y_hat"):
    t = fw[key]
    print(f"\n{t.name} {t.shape} =\n{t.data}")
w = W1.data
print("\ncheck one entry by hand: z(1)[0, 0] = 5·w11 + 2·w21 =",
      f"5·{w[0, 0]:.4f} + 2·{w[1, 0]:.4f} = {5 * w[0, 0] + 2 * w[1, 0]:.4f}",
      f"(engine: {fw['z1'].data[0, 0]:.4f})")
print(f"\nJ = {fw['J'].item():.4f} for these random weights")

# %% [markdown]
# ## `003-cost` — the cost J = Σᵢ lᵢ
# The slides' example: ŷ = (0.2, 0.9, 0.6) for y = (0, 1, 1). Each observation's loss
# lᵢ = −(yᵢ ln ŷᵢ + (1 − yᵢ) ln(1 − ŷᵢ)), and J is their **sum** (not the mean: the mean would
# be J/3). The slides print no value; by hand, −ln 0.8 − ln 0.9 − ln 0.6 = 0.2231 + 0.1054 +
# 0.5108 = 0.8393.

# %%
y_hat_slide = tensor([0.2, 0.9, 0.6], dtype=np.float64)
y_slide = np.array([0.0, 1.0, 1.0])
l_i = nn.F.binary_cross_entropy(y_hat_slide, y_slide, reduction="none")
J_slide = nn.F.binary_cross_entropy(y_hat_slide, y_slide, reduction="sum").item()
by_hand = -(np.log(0.8) + np.log(0.9) + np.log(0.6))
print("l_i =", l_i.data.round(4))
print(f"{'':18}{'stepgrad':>10}{'by hand':>10}{'slides':>16}")
print(f"{'J = Σ l_i':18}{J_slide:>10.4f}{by_hand:>10.4f}{'0.839 (not printed)':>20}")
print(f"{'mean (J / 3)':18}{J_slide / 3:>10.4f}{by_hand / 3:>10.4f}")

# %% [markdown]
# ## `003-backprop` — stepping through backprop, matrix by matrix
# The slides' backward pass:
#
# | matrix | formula | shape |
# |---|---|---|
# | δ⁽³⁾ | −(y − ŷ) = ŷ − y | 3 obs × 1 |
# | ∂J/∂W⁽³⁾ | a⁽²⁾ᵀ δ⁽³⁾ | (3 signals × 3 obs)(3 obs × 1) = 3 × 1 |
# | δ⁽²⁾ | δ⁽³⁾ W⁽³⁾ᵀ ⊙ a⁽²⁾ ⊙ (1 − a⁽²⁾) | 3 obs × 3 |
# | ∂J/∂W⁽²⁾ | a⁽¹⁾ᵀ δ⁽²⁾ | (4 × 3)(3 × 3) = 4 × 3 |
# | δ⁽¹⁾ | δ⁽²⁾ W⁽²⁾ᵀ ⊙ a⁽¹⁾ ⊙ (1 − a⁽¹⁾) | 3 obs × 4 |
# | ∂J/∂W⁽¹⁾ | Xᵀ δ⁽¹⁾ | (2 × 3)(3 × 4) = 2 × 4 |
#
# δ⁽ˡ⁾ is ∂J/∂z⁽ˡ⁾: the gradient that arrives at the pre-activation z⁽ˡ⁾. So when
# `engine.backward_steps` reaches the node z3, z2, z1, the gradient it *received* is δ⁽³⁾,
# δ⁽²⁾, δ⁽¹⁾; and the matmul node passes Aᵀ·G to its weight, which is the slides'
# ∂J/∂W⁽ˡ⁾ = a⁽ˡ⁻¹⁾ᵀ δ⁽ˡ⁾. Every step is printed (17 in all); after the steps at z3, z2 and z1
# the full δ matrix is shown beside the slides' formula computed with numpy.

# %%
fw = forward(W1)
a1, a2, y_hat = fw["a1"].data, fw["a2"].data, fw["y_hat"].data
# The slides' formulas, in numpy, from the forward values:
d3 = y_hat - y.data
d2 = d3 @ W3.data.T * a2 * (1 - a2)
d1 = d2 @ W2.data.T * a1 * (1 - a1)
by_hand_delta = {"z3": ("δ(3) = ŷ − y", d3),
                 "z2": ("δ(2) = δ(3)W(3)ᵀ ⊙ a(2) ⊙ (1 − a(2))", d2),
                 "z1": ("δ(1) = δ(2)W(2)ᵀ ⊙ a(1) ⊙ (1 − a(1))", d1)}
steps = []
for step in backward_steps(fw["J"], retain_graph=True):
    steps.append(step)
    print(step)
    if step.node.name in by_hand_delta:
        label, hand = by_hand_delta[step.node.name]
        got = np.asarray(step.grad)
        print(f"  ┗ received = {label}, shape {got.shape}:\n{got}\n"
              f"    slides' formula: max |difference| = {np.abs(got - hand).max():.1e}")
    print()

# %% [markdown]
# The weight gradients, matrix by matrix, against the slides' products:

# %%
dW = {"W3": fw["a2"].data.T @ d3, "W2": fw["a1"].data.T @ d2, "W1": X.data.T @ d1}
formula = {"W3": "a(2)ᵀ δ(3): (3, 3) @ (3, 1)", "W2": "a(1)ᵀ δ(2): (4, 3) @ (3, 3)",
           "W1": "Xᵀ δ(1):   (2, 3) @ (3, 4)"}
for name, p in (("W3", W3), ("W2", W2), ("W1", W1)):
    g = np.asarray(p.grad)
    print(f"∂J/∂{name} = {formula[name]} → {g.shape}\n{g}\n"
          f"  engine vs slides' formula: max |difference| = {np.abs(g - dW[name]).max():.1e}\n")
assert engine.gradcheck(lambda w: forward(w)["J"], W1.detach().requires_grad_())
print("finite differences agree (engine.gradcheck on W1)")

# %% [markdown]
# ### The graph
# Plain (data and gradient on every node), then coloured by log10 |grad| (norm per node)
# so that the small gradients of the early layers stand out, then the state at the step
# where δ⁽²⁾ has just arrived at z2 (the current node highlighted, gradients known so far
# shown, the rest greyed). Where the backprop player is available (`viz.player`), it steps
# through the same 17 steps in the browser.

# %%
viz.draw_graph(fw["J"])

# %%
viz.draw_graph(fw["J"], color_by="grad", show_data=False)

# %%
at_z2 = next(s for s in steps if s.node.name == "z2")
viz.draw_step(at_z2)

# %%
if hasattr(viz, "player"):   # the backprop player (being built): steps in the browser
    from IPython.display import display
    display(viz.player(forward(W1)["J"]))
else:
    print("viz.player is not in this version of stepgrad: the steps are printed above")

# %% [markdown]
# ## `003-gd-update` — one step of gradient descent
# "Gradiente descendente — máximo declive": W⁽ˡ⁾ ← W⁽ˡ⁾ − ρ ∂J/∂W⁽ˡ⁾ for l = 3, 2, 1. The slides
# name no learning rate; we take ρ = 0.5. All three gradients are taken at the *old* weights
# (one backward pass), then each matrix is updated. Below: each W before, its gradient, and
# after; then J before and after the step, and the same step by `nn.optim.SGD` (which must
# give the very same matrices).

# %%
rho = 0.5
old = {name: p.data.copy() for name, p in (("W1", W1), ("W2", W2), ("W3", W3))}
J_old = forward(W1)["J"]
J_before = J_old.item()
# One backward pass at the old weights (engine.grad returns the gradients, leaving .grad alone).
grads = dict(zip(("W1", "W2", "W3"), engine.grad(J_old, [W1, W2, W3])))
with engine.no_grad():  # in-place updates of leaves: allowed, and not recorded, under no_grad
    for name, p in (("W3", W3), ("W2", W2), ("W1", W1)):
        g = np.asarray(grads[name])
        p -= rho * grads[name]
        print(f"W({name[1]}) ← W({name[1]}) − {rho}·∂J/∂W({name[1]})   {p.shape}")
        width = 8 * p.shape[1] + 2   # room for one row of the matrix
        for row_old, row_g, row_new in zip(old[name], g, p.data):
            print(f"  {np.array2string(row_old, precision=4):<{width}} − {rho}·"
                  f"{np.array2string(row_g, precision=4):<{width}} = "
                  f"{np.array2string(row_new, precision=4)}")
J_after = forward(W1)["J"].item()
print(f"\nJ before {J_before:.4f} → after one step {J_after:.4f}")

# The same step with the library's optimizer, from the same old weights and gradients:
copies = [tensor(old[n], requires_grad=True, dtype=np.float64) for n in ("W1", "W2", "W3")]
forward(*copies)["J"].backward()
nn.optim.SGD(copies, lr=rho).step()
diff = max(np.abs(c.data - p.data).max() for c, p in zip(copies, (W1, W2, W3)))
print(f"nn.optim.SGD(lr={rho}) gives the same weights: max |difference| = {diff:.1e}")

# %% [markdown]
# A few more steps, to see that the step was a descent and not luck (J at every step):

# %%
opt = nn.optim.SGD(copies, lr=rho)
Js = []
for _ in range(30):
    J_t = forward(*copies)["J"]
    Js.append(J_t.item())
    opt.zero_grad()
    J_t.backward()
    opt.step()
print("J per step:", np.round(Js, 3))
print("ŷ after 30 steps:", forward(*copies)["y_hat"].data.ravel().round(3), " y = [0 1 1]")

# %% [markdown]
# ## The same on a scalar neuron (micrograd's example)
# o = tanh(x1·w1 + x2·w2 + b): every number is visible on the graph.

# %%
x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
b = Value(6.8813735870195432, label="b")
n = x1 * w1 + x2 * w2 + b
n.label = "n"
o = n.tanh()
o.label = "o"
for step in backward_steps(o):
    print(step)
print(f"\nw1.grad = {w1.grad:.4f} (by hand: x1·(1 − o²) = 2·0.5 = 1.0), "
      f"x1.grad = {x1.grad:.4f} (w1·(1 − o²) = −1.5)")
viz.draw_graph(o)

# %% [markdown]
# ## Beyond the course: gradients of gradients
# Every op's backward is itself written with ops, so with `create_graph=True` the backward
# pass is recorded as a graph and can be differentiated again: second derivatives, Newton's
# method, Hessians — and a picture of backprop's own graph.
#
# **d²/dx² tanh x** by the engine against the formula −2·tanh x·(1 − tanh²x):

# %%
xs = tensor(np.linspace(-3, 3, 7), requires_grad=True, dtype=np.float64, name="x")
(d1,) = engine.grad(xs.tanh().sum(), xs, create_graph=True)   # 1 − tanh²x, with a graph
(d2,) = engine.grad(d1.sum(), xs)
t = np.tanh(xs.data)
print("x          ", xs.data)
print("engine     ", d2.data)
print("formula    ", -2 * t * (1 - t * t))
print(f"max |difference| = {np.abs(d2.data + 2 * t * (1 - t * t)).max():.1e}")

# %% [markdown]
# **Newton's method** on f(x) = x⁴ − 3x² + x (1-D): x ← x − f′(x)/f″(x), both derivatives
# from the engine. From x = 2 it reaches the local minimum near 1.13 in a few steps, where
# gradient descent with step 0.01 needs about 200.

# %%
def f(x):
    return x ** 4 - 3 * x ** 2 + x


x = 2.0
for it in range(6):
    xt = tensor(x, requires_grad=True, dtype=np.float64)
    (g,) = engine.grad(f(xt), xt, create_graph=True)
    (h,) = engine.grad(g, xt)
    print(f"step {it}: x = {x:.10f}  f'(x) = {g.item():+.2e}  f''(x) = {h.item():.4f}")
    x = x - g.item() / h.item()
x_gd, n_gd = 2.0, 0
while abs(4 * x_gd ** 3 - 6 * x_gd + 1) > 1e-8 and n_gd < 10000:
    x_gd -= 0.01 * (4 * x_gd ** 3 - 6 * x_gd + 1)
    n_gd += 1
print(f"gradient descent (step 0.01) needs {n_gd} steps to reach x = {x_gd:.10f}")

# %% [markdown]
# **The Hessian of the course network's loss** J with respect to all 23 weights (no biases, as
# the slides; at the weights after the gradient-descent step above), by
# reverse-over-reverse (`engine.hessian`), against central finite differences of the
# gradient. Its eigenvalues say how curved the loss is at this point (all positive would be a
# bowl; a negative one is a saddle direction).

# %%
shapes = [p.shape for p in (W1, W2, W3)]
sizes = [int(np.prod(s)) for s in shapes]
theta0 = np.concatenate([p.data.ravel() for p in (W1, W2, W3)])


def loss_of(theta):
    """J as a function of one flat parameter vector (23 numbers)."""
    parts, i = [], 0
    for shape, n in zip(shapes, sizes):
        parts.append(theta[i:i + n].reshape(shape))
        i += n
    w1, w2, w3 = parts
    h1 = (X @ w1).sigmoid()
    h2 = (h1 @ w2).sigmoid()
    out = (h2 @ w3).sigmoid()
    return -(y * out.log() + (1 - y) * (1 - out).log()).sum()


H = engine.hessian(loss_of, tensor(theta0, dtype=np.float64)).data
eps, num = 1e-5, np.zeros_like(H)
for j in range(theta0.size):
    grads = []
    for sign in (1, -1):
        th = tensor(theta0, requires_grad=True, dtype=np.float64)
        th_shift = th + tensor(np.eye(theta0.size)[j] * sign * eps, dtype=np.float64)
        (gj,) = engine.grad(loss_of(th_shift), th)
        grads.append(gj.data)
    num[:, j] = (grads[0] - grads[1]) / (2 * eps)
print(f"Hessian {H.shape}: max |engine − finite differences| = {np.abs(H - num).max():.1e}, "
      f"symmetric to {np.abs(H - H.T).max():.1e}")
eig = np.linalg.eigvalsh(H)
print(f"eigenvalues: smallest {eig[0]:.4f}, largest {eig[-1]:.4f}, "
      f"{(eig < -1e-10).sum()} negative of {eig.size}")

# %% [markdown]
# **Backprop's own graph.** The gradient of a small expression made with `create_graph=True`
# is a tensor with a graph: the ops the backward pass ran (drawn in their own clusters,
# "backward of …") on top of the forward ones it reads.

# %%
u = tensor([0.5, -1.0], requires_grad=True, dtype=np.float64, name="u")
(du,) = engine.grad((u.tanh() * u).sum(), u, create_graph=True)
du.name = "dL/du"
viz.draw_graph(du.sum())

# %% [markdown]
# ## What we observed
# - 003-cost: J = 0.8393 for the slides' ŷ = (0.2, 0.9, 0.6) — stepgrad, numpy and the
#   hand sum agree (the slides print no value; the mean would be 0.2798).
# - 003-backprop: stepping, the gradient received by z3, z2, z1 is exactly the slides'
#   δ⁽³⁾ (3 × 1), δ⁽²⁾ (3 × 3), δ⁽¹⁾ (3 × 4), and the matmul rule Aᵀ·G gives a⁽ˡ⁻¹⁾ᵀδ⁽ˡ⁾ = the
#   slides' ∂J/∂W⁽ˡ⁾ (3 × 1, 4 × 3, 2 × 4), to rounding (float64); finite differences agree.
# - Coloured by gradient magnitude, W1's gradients are the smallest: sigmoid's derivative
#   (at most 0.25) shrinks them at every layer — the vanishing-gradient effect, visible.
# - 003-gd-update: one step with ρ = 0.5 lowers J (numbers above) and is the very step
#   `nn.optim.SGD` takes; 30 steps push ŷ towards y = (0, 1, 1).
# - The scalar neuron reproduces micrograd's numbers: o = 0.7071, ∂o/∂w1 = 1.0, ∂o/∂x1 = −1.5.
# - Second derivatives come from the same op classes: d²tanh/dx² equals the formula to
#   rounding, Newton's method converges in a handful of steps, and the 23 × 23 Hessian of the
#   course network's loss matches finite differences of its gradient.
