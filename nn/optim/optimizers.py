"""Optimizers: SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, NAdam, RAdam, Adadelta, with
PyTorch's update equations.

Each optimizer holds ``param_groups`` (a list of dicts: ``'params'`` plus the
hyper-parameters, ``'lr'`` included, that schedulers and ``nn.fit`` read and write) and a
per-parameter ``state`` (moment estimates, step counts). ``step()`` updates every parameter
that has a gradient; a frozen parameter (``requires_grad=False``) or one whose ``.grad`` is
None is skipped: no update, no state.

Updates go through the Tensors' in-place methods (``add_``, ``mul_``) under ``no_grad``, so
the version counter moves and a stale graph that saved a parameter raises on backward
instead of giving wrong gradients. All state lives in the parameter's dtype: a float32
model never gets float64 arrays mixed in.

``state_dict()`` has PyTorch's layout, plain dicts of numpy arrays and Python numbers that
``nn.save`` stores::

    {'state': {param_index: {'step': int, 'exp_avg': ndarray, ...}},
     'param_groups': [{'lr': ..., <hyper-parameters>, 'params': [param_index, ...]}]}
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np

import engine
from engine import Tensor
from engine.fast.kernels import KERNEL_DTYPES
from engine.fast.kernels.optim import adam

# A parameter this big loads the kernel (~0.25 s from Numba's cache, once per process). Smaller
# ones take the numpy expressions until then, so a model made only of them (the course's
# 2-4-1 MLP) never waits for it; once it is loaded they take it too (one call instead of ten
# numpy passes: the course MLP's four biases and last weight cost 60 instead of 10 µs a step).
FUSED_MIN_SIZE = 4096


def _kernel_ready() -> bool:
    """Whether Adam's kernel is compiled (or loaded from the cache) in this process (its
    ``overloads``: ``signatures`` hashes every type, ~8 µs a call)."""
    return bool(adam.overloads)


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam",
           "RAdam", "Adadelta"]

# The entries schedulers write into a param group, PyTorch's names: 'initial_lr' (every
# scheduler) and OneCycleLR's bounds, which a resumed OneCycleLR reads. load_state_dict keeps
# them (a checkpoint of an optimizer a scheduler drove loads) and refuses any other unknown key.
SCHEDULER_KEYS = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")



def zero_grads(params, set_to_none: bool = True) -> None:
    """PyTorch's zero_grad, for an optimizer's or a module's parameters: each ``.grad``
    None, or zeros with ``set_to_none=False`` (a gradient that is None stays None)."""
    for p in params:
        p.grad = None if set_to_none or p.grad is None else engine.zeros_like(p)


class Optimizer:
    """Base class: parameter groups, state, ``zero_grad``, ``step`` and state dicts.

    Subclasses give ``defaults`` (hyper-parameter name → default) and ``_update(p, g, state,
    group)``, the rule for one parameter ``p`` with gradient ``g`` (an ndarray in p's dtype).
    Shared by the rules: ``_decay`` (weight decay, L2 or decoupled), ``_validate`` (the
    hyper-parameters every rule checks alike, betas included), ``_refuse_torch_options``
    (PyTorch's implementation switches); ``_state_keys`` names the rule's per-parameter state
    so that ``load_state_dict`` refuses another rule's.
    """

    def __init__(self, params, defaults: dict):
        engine.keep_freed_memory()  # training from here on: reuse freed buffers (see there)
        self.defaults = dict(defaults)
        self.state: dict = {}  # Parameter -> {name: ndarray or int}; keyed by identity
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors "
                            "(e.g. model.parameters()), got a single Tensor: wrap it in a list")
        if hasattr(params, "parameters") and callable(params.parameters):
            raise TypeError(f"{type(self).__name__}: got a model; pass model.parameters()")
        params = list(params)  # a generator would be exhausted after one pass
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    # -- groups ------------------------------------------------------------------------------
    def add_param_group(self, group: dict) -> None:
        """Add ``{'params': [...], <hyper-parameter overrides>}``; missing ones take defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a parameter group must be a dict with a "
                            f"'params' entry, got {type(group).__name__}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        name = type(self).__name__
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: parameter {i} has dtype {p.dtype}; only floating "
                                "point tensors can be optimized")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} is not a leaf tensor (it was computed "
                                 f"by '{p.op}'); optimize the tensors it was computed from")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids) or seen.intersection(ids):
            raise ValueError(f"{name}: a parameter appears more than once (it would be "
                             "updated twice per step)")
        unknown = set(group) - set(self.defaults) - {"params", *SCHEDULER_KEYS}
        if unknown:
            raise ValueError(f"{name}: unknown hyper-parameter(s) {sorted(unknown)}; "
                             f"known: {sorted(self.defaults)}")
        full = {k: group.get(k, v) for k, v in self.defaults.items()}
        if "initial_lr" in group:
            full["initial_lr"] = group["initial_lr"]
        self._validate(full)
        full["params"] = params
        self.param_groups.append(full)

    @property
    def learning_rate(self) -> float:
        """Keras's name for the learning rate (``param_groups[i]['lr']``): the callbacks of
        Keras's guides read ``self.model.optimizer.learning_rate`` and set it with
        ``self.model.optimizer.learning_rate = new_lr``, which writes every group's ``'lr'``.
        (The assignment used to make a new attribute that no step read: the rate silently
        stayed the same.)

        >>> import engine
        >>> opt = SGD([engine.zeros(2, requires_grad=True)], lr=0.1)
        >>> opt.learning_rate = 0.05; opt.param_groups[0]["lr"]
        0.05
        """
        rates = sorted({group["lr"] for group in self.param_groups})
        if len(rates) != 1:
            raise ValueError(f"{type(self).__name__}.learning_rate: the parameter groups have "
                             f"different learning rates {rates}; read "
                             "optimizer.param_groups[i]['lr'] instead")
        return rates[0]

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        lr = float(value)  # a Python or numpy number, or a 0-d array or Tensor
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"{type(self).__name__}.learning_rate: invalid learning rate "
                             f"{value!r} (must be a finite number >= 0)")
        for group in self.param_groups:
            group["lr"] = lr

    def _validate(self, group: dict) -> None:
        lr = group["lr"]
        if not isinstance(lr, Real) or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr!r} "
                             "(must be a finite number >= 0)")
        for key in ("weight_decay", "eps", "momentum", "lr_decay", "initial_accumulator_value",
                    "momentum_decay"):
            if key in group and not group[key] >= 0:
                raise ValueError(f"{type(self).__name__}: invalid {key} {group[key]!r} "
                                 "(must be >= 0)")
        if "betas" in group:  # the Adam family's (β₁, β₂)
            betas = tuple(group["betas"])
            if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
                raise ValueError(f"{type(self).__name__}: betas must be two numbers in [0, 1), "
                                 f"got {group['betas']!r}")
            group["betas"] = betas

    # -- the update --------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (set them to None; or to zeros with ``set_to_none=False``)."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """Update each parameter that requires grad and has a ``.grad``.

        ``closure`` (optional, as in PyTorch) re-evaluates the model and returns the loss;
        it runs with gradients enabled before the update, and its loss is returned.
        """
        self._opt_called = True  # a scheduler stepped before this warns, as PyTorch's
        loss = None
        if closure is not None:
            with engine.enable_grad():
                loss = closure()
        with engine.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None or not p.requires_grad:
                        continue
                    g = p.grad.data
                    if group.get("maximize"):  # PyTorch's maximize=True: ascend (every rule)
                        g = -g
                    if g.shape != p.shape:
                        raise ValueError(f"{type(self).__name__}: gradient of shape {g.shape} "
                                         f"for a parameter of shape {p.shape}")
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = {}
                    self._update(p, g, state, group)
        return loss

    def _update(self, p, g, state, group):  # pragma: no cover - abstract
        raise NotImplementedError

    # AdamW's (and Keras's) weight decay shrinks θ directly instead of adding λ·θ to g; NAdam
    # and RAdam choose per group ('decoupled_weight_decay', PyTorch's option).
    _decoupled = False

    def _decay(self, p, g, group):
        """Weight decay λ = ``group['weight_decay']`` at learning rate γ = ``group['lr']``,
        before the rule's update; returns the gradient to use::

            decoupled:  θ ← θ − γ·λ·θ,  g unchanged         (AdamW's, Keras's)
            otherwise:  g ← g + λ·θ                         (PyTorch's L2 term)
        """
        wd = group["weight_decay"]
        if not wd:
            return g
        if group.get("decoupled_weight_decay", self._decoupled):
            p.mul_(1 - group["lr"] * wd)
            return g
        return g + wd * p.data

    # -- state -------------------------------------------------------------------------------
    def _indexed_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """PyTorch's layout with parameters replaced by their index (arrays are copies)."""
        index = {id(p): i for i, p in enumerate(self._indexed_params())}
        groups, start = [], 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(packed)
        state = {}
        for p, s in sorted(self.state.items(), key=lambda kv: index[id(kv[0])]):
            if s:
                state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                       for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore state and hyper-parameters saved by ``state_dict()`` (maybe via nn.load),
        or by the PyTorch optimizer of the same name (``torch_opt.state_dict()``: its tensors
        are converted; its flags must be at what stepgrad does, e.g. ``amsgrad=False``).

        The optimizer must have been built on the same parameters in the same order. Arrays
        are copied into the parameter's dtype; everything is checked before anything changes.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and "
                             f"'param_groups' (from optimizer.state_dict())")
        if self._state_keys is not None:
            for key, entries in state_dict["state"].items():
                unknown = set(entries) - self._state_keys if isinstance(entries, dict) else ()
                if unknown:
                    raise ValueError(
                        f"{name}.load_state_dict: state {sorted(unknown)} of parameter {key} "
                        f"is not a {name}'s ({sorted(self._state_keys)}): saved from an "
                        "optimizer with another update rule (nn.optim's are PyTorch's, "
                        "nn.keras's Keras's)?")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"parameter group(s), this optimizer has {len(self.param_groups)}")
        new_groups = []
        for i, (own, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameters in the state dict, "
                                 f"{len(own['params'])} here")
            # Options added after a checkpoint was written take their defaults (they did
            # nothing then): PyTorch's maximize/amsgrad.
            missing = set(self.defaults) - set(saved) - set(self._ADDED_LATER)
            if missing:
                raise ValueError(f"{name}.load_state_dict: group {i} lacks {sorted(missing)}: "
                                 "was it saved from a different optimizer?")
            extra = set(saved) - set(self.defaults) - {"params", *SCHEDULER_KEYS}
            for k in sorted(extra):
                self._check_torch_flag(i, k, saved[k])
            group = {k: v for k, v in saved.items() if k != "params" and k not in extra}
            for k in self._ADDED_LATER:
                if k in self.defaults and k not in group:
                    group[k] = self.defaults[k]
            self._validate(group)
            group["params"] = own["params"]
            new_groups.append(group)
        # Saved indices refer to the saved groups' 'params' lists, in order.
        by_index = {}
        for own, saved in zip(self.param_groups, saved_groups, strict=True):
            by_index.update(zip((int(j) for j in saved["params"]), own["params"],
                                strict=True))
        new_state = {}
        for key, s in state_dict["state"].items():
            if int(key) not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter index {key}, "
                                 f"which no group lists")
            p = by_index[int(key)]
            entry = {}
            for k, v in s.items():
                if v is None:  # PyTorch's SGD keeps momentum_buffer=None without momentum
                    continue
                if all(hasattr(v, a) for a in ("detach", "cpu", "numpy")):  # a torch tensor
                    v = v.detach().cpu().numpy()
                    v = v.item() if v.ndim == 0 else v
                if k == "step" and isinstance(v, float) and v.is_integer():
                    v = int(v)  # PyTorch keeps the step count as a float tensor
                elif k != "step" and isinstance(v, (float, np.floating)):
                    v = float(v)  # a scalar state (NAdam's mu_product)
                if not isinstance(v, (np.ndarray, np.integer, int, float)) or isinstance(v, bool):
                    raise TypeError(f"{name}.load_state_dict: state '{k}' of parameter {key} "
                                    f"is a {type(v).__name__}; expected an array or a count")
                if isinstance(v, np.ndarray):
                    if v.shape != p.shape:
                        raise ValueError(f"{name}.load_state_dict: state '{k}' of parameter "
                                         f"{key} has shape {v.shape}, the parameter has "
                                         f"shape {p.shape}")
                    v = np.array(v, dtype=p.dtype)  # a copy, in the parameter's dtype
                elif isinstance(v, (np.integer, int)) and not isinstance(v, bool):
                    v = int(v)
                entry[k] = v
            new_state[p] = entry
        for group, new in zip(self.param_groups, new_groups, strict=True):
            group.clear()
            group.update(new)
        self.state = new_state

    # The per-parameter state names this rule writes: load_state_dict refuses any other (state
    # another rule wrote, e.g. PyTorch's SGD 'momentum_buffer' is not Keras's 'momentum').
    # None: not checked.
    _state_keys: frozenset | None = None

    # Flags PyTorch's optimizers save in every group: at these values they do what stepgrad
    # does; anything else would be silently ignored, so it is refused. 'foreach' and 'fused'
    # choose PyTorch's implementation only (same numbers).
    _TORCH_FLAGS = {"capturable": False, "differentiable": False}
    _ADDED_LATER = ("maximize", "amsgrad")
    _TORCH_SWITCHES = ("foreach", "fused")

    _TORCH_OPTION_WHY = {"foreach": "it picks one of PyTorch's kernels; stepgrad has one",
                         "fused": "it picks one of PyTorch's kernels; stepgrad has one",
                         "capturable": "it is for CUDA graphs; stepgrad runs on the CPU",
                         "differentiable": "stepgrad's steps run under no_grad"}

    def _refuse_torch_options(self, **options):
        """PyTorch's implementation options (``_TORCH_SWITCHES``, ``_TORCH_FLAGS``), as the
        constructors take them: only their neutral value (None or False) is accepted, since
        nothing here would honour another."""
        for key, value in options.items():
            if value:
                raise ValueError(f"{type(self).__name__}: {key}={value!r} is not supported "
                                 f"({self._TORCH_OPTION_WHY[key]}); leave it out")

    def _check_torch_flag(self, i, key, value):
        name = type(self).__name__
        if key in self._TORCH_SWITCHES:
            return
        if key == "decoupled_weight_decay":
            want = self._decoupled  # Adam's and AdamW's class flag
        elif key in self._TORCH_FLAGS:
            want = self._TORCH_FLAGS[key]
        else:
            raise ValueError(f"{name}.load_state_dict: group {i} has an unknown "
                             f"hyper-parameter {key!r}; known: {sorted(self.defaults)}")
        if bool(value) != want:
            if key == "decoupled_weight_decay":
                raise ValueError(
                    f"{name}.load_state_dict: group {i} has {key}={value!r}; this {name} runs "
                    f"with {key}={want} (AdamW and Adam(decoupled_weight_decay=True) decouple "
                    "the decay, Adam does not): load it into the other one")
            raise ValueError(f"{name}.load_state_dict: group {i} has {key}={value!r}; "
                             f"stepgrad's {name} runs with {key}={want} only")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum (PyTorch's rule).

    With learning rate γ, momentum μ, dampening τ, weight decay λ and gradient g_t::

        g_t ← g_t + λ·θ_{t−1}                        (if λ ≠ 0)
        b_t ← g_t                                    (first step)
        b_t ← μ·b_{t−1} + (1 − τ)·g_t                (later steps)      (if μ ≠ 0)
        g_t ← g_t + μ·b_t  if nesterov  else  b_t                         (if μ ≠ 0)
        θ_t ← θ_{t−1} − γ·g_t

    State per parameter: ``momentum_buffer`` (only when μ ≠ 0).

    The positional order is API.md's ``SGD(params, lr, momentum, nesterov, weight_decay,
    dampening)``, not PyTorch's ``(params, lr, momentum, dampening, weight_decay, nesterov)``:
    a number for ``nesterov`` (or a bool for ``dampening``), what a PyTorch-ordered call
    gives, raises TypeError; pass them by keyword.

    >>> import engine
    >>> w = engine.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward()      # grad = 2w
    >>> opt.step(); w.data
    array([ 0.8, -1.6], dtype=float32)
    """

    _state_keys = frozenset({"momentum_buffer"})

    def __init__(self, params, lr=1e-3, momentum=0.0, nesterov=False, weight_decay=0.0,
                 dampening=0.0, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        # API.md's positional order (nesterov 4th) is not PyTorch's (params, lr, momentum,
        # dampening, weight_decay, nesterov): a PyTorch call with 4+ positional arguments puts
        # a number in nesterov (or a bool in dampening), which is refused, never run.
        if not isinstance(nesterov, (bool, np.bool_)) or isinstance(dampening, (bool, np.bool_)):
            raise TypeError(
                f"SGD: nesterov={nesterov!r}, dampening={dampening!r}: nesterov must be True "
                "or False and dampening a number. stepgrad's positional order is SGD(params, "
                "lr, momentum, nesterov, weight_decay, dampening), PyTorch's SGD(params, lr, "
                "momentum, dampening, weight_decay, nesterov): pass dampening=, weight_decay= "
                "and nesterov= by keyword")
        self._refuse_torch_options(foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      maximize=bool(maximize),
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _validate(self, group):
        super()._validate(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")

    def _update(self, p, g, state, group):
        lr, mu = group["lr"], group["momentum"]
        g = self._decay(p, g, group)  # L2 penalty folded into the gradient (not decoupled)
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()  # the first step takes g as is
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        p.add_(g, alpha=-lr)


class Adam(Optimizer):
    r"""Adam (PyTorch's rule, Keras's default eps 1e-7).

    With learning rate γ, betas (β₁, β₂), weight decay λ (an L2 term added to the
    gradient) and step t = 1, 2, ...::

        g_t ← g_t + λ·θ_{t−1}                        (if λ ≠ 0)
        m_t ← β₁·m_{t−1} + (1 − β₁)·g_t              first moment
        v_t ← β₂·v_{t−1} + (1 − β₂)·g_t²             second moment
        m̂_t ← m_t / (1 − β₁ᵗ),   v̂_t ← v_t / (1 − β₂ᵗ)   bias corrections
        θ_t ← θ_{t−1} − γ·m̂_t / (√v̂_t + ε)

    (Keras adds ε to √v_t before the bias correction, so the same ε means slightly
    different things early in training; the equations here are PyTorch's.)
    ``amsgrad=True`` divides by the largest v̂ so far instead (PyTorch's AMSGrad; state
    ``max_exp_avg_sq``). ``maximize=True`` (every optimizer here) ascends: g_t ← −g_t first.
    ``decoupled_weight_decay=True`` (PyTorch's) decays as AdamW does (with Adam's defaults).
    Positional order as PyTorch's: ``Adam(params, lr, betas, eps, weight_decay, amsgrad)``;
    the default eps is Keras's 1e-7 (API.md), PyTorch's is 1e-8: pass ``eps=1e-8`` for
    PyTorch's numbers.
    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).

    >>> import engine
    >>> w = engine.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step(); np.round(w.data, 4)   # the first Adam step moves each weight by ≈ lr
    array([ 0.9, -1.9], dtype=float32)
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"})

    # Keras's rule (nn.keras.optimizers.KerasAdam) adds ε to √v BEFORE the bias correction:
    # m̂ / (√v̂ + ε/√(1 − β₂ᵗ)), so the same step with that ε (and the same fused kernel).
    _eps_before_bias_correction = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        self._refuse_torch_options(foreach=foreach, capturable=capturable,
                                   differentiable=differentiable, fused=fused)
        if decoupled_weight_decay:  # PyTorch's Adam(decoupled_weight_decay=True) is AdamW
            self._decoupled = True
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=bool(amsgrad),
                                      maximize=bool(maximize)))

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        g = self._decay(p, g, group)  # AdamW: shrinks θ directly, outside the moments
        bias1, bias2 = 1 - b1 ** t, 1 - b2 ** t
        if self._eps_before_bias_correction:
            eps = eps / math.sqrt(bias2)
        amsgrad = group.get("amsgrad", False)
        fused = p.data.dtype in KERNEL_DTYPES and not amsgrad and (
            p.data.size >= FUSED_MIN_SIZE or _kernel_ready())
        if fused and g.dtype == p.data.dtype:
            g = np.ascontiguousarray(g)  # a gradient in another layout (a custom op's): copy
        data = p.data
        if fused and g.dtype == m.dtype == v.dtype == data.dtype and data.flags.c_contiguous \
                and g.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous:
            # The same float operations as below in one pass (engine/fast/kernels/optim.py:
            # 0.94 -> 0.24 ms per step on a 242k-parameter MLP); each scalar in p's dtype, as
            # numpy casts Python floats in the array expressions below.
            ty = data.dtype.type
            adam(data.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), ty(b1),
                 ty(1 - b1), ty(b2), ty(1 - b2), ty(math.sqrt(bias2)), ty(eps), ty(-lr / bias1))
            engine.increment_version(p)
            return
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        if amsgrad:  # the largest v so far (PyTorch's AMSGrad): steps never grow back
            v = state.setdefault("max_exp_avg_sq", np.zeros_like(v))
            np.maximum(v, state["exp_avg_sq"], out=v)
        denom = np.sqrt(v) / math.sqrt(bias2) + eps  # √v̂_t + ε, in p's dtype
        p.add_(m / denom, alpha=-lr / bias1)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter; PyTorch's rule)::

        θ_{t−1} ← θ_{t−1} − γ·λ·θ_{t−1}             decay first, outside the moments
        m_t, v_t, m̂_t, v̂_t as in Adam (on the plain gradient g_t)
        θ_t ← θ_{t−1} − γ·m̂_t / (√v̂_t + ε)

    Defaults as PyTorch's: λ = 0.01, eps 1e-8 (``nn.keras.optimizers.AdamW`` has Keras's).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.zeros(1)              # no gradient at all: only the decay acts
    >>> AdamW([w], lr=0.1, weight_decay=0.5).step(); w.data
    array([0.95], dtype=float32)
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused)


class RMSprop(Optimizer):
    r"""RMSprop (PyTorch's rule, defaults and positional order ``(params, lr, alpha, eps,
    weight_decay, momentum, centered)``, eps 1e-8). With smoothing α, momentum μ::

        g_t ← g_t + λ·θ_{t−1}                        (if λ ≠ 0)
        v_t ← α·v_{t−1} + (1 − α)·g_t²
        ṽ_t ← v_t − (ḡ_t)²,  ḡ_t ← α·ḡ_{t−1} + (1 − α)·g_t   (if centered; else ṽ_t = v_t)
        b_t ← μ·b_{t−1} + g_t / (√ṽ_t + ε);  θ_t ← θ_{t−1} − γ·b_t        (if μ > 0)
        θ_t ← θ_{t−1} − γ·g_t / (√ṽ_t + ε)                                (if μ = 0)

    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (if μ > 0),
    ``grad_avg`` (ḡ, if centered).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.tensor([2.0])
    >>> RMSprop([w], lr=0.01).step(); np.round(w.data, 4)   # 1 − 0.01·2/√(0.01·4) = 0.9
    array([0.9], dtype=float32)
    """

    _state_keys = frozenset({"step", "square_avg", "momentum_buffer", "grad_avg"})

    # PyTorch's positional order: weight_decay before momentum.
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        self._refuse_torch_options(foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum,
                                      weight_decay=weight_decay, centered=centered,
                                      maximize=bool(maximize)))

    def _validate(self, group):
        super()._validate(group)
        if not 0 <= group["alpha"] <= 1:
            raise ValueError(f"RMSprop: alpha must be in [0, 1], got {group['alpha']!r}")

    def _update(self, p, g, state, group):
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        mu = group["momentum"]
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p.data))
            if mu > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        g = self._decay(p, g, group)
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            ga = state["grad_avg"]
            ga *= alpha
            ga += (1 - alpha) * g
            avg = np.sqrt(v - ga * ga) + eps
        else:
            avg = np.sqrt(v) + eps
        if mu > 0:
            buf = state["momentum_buffer"]
            buf *= mu
            buf += g / avg
            p.add_(buf, alpha=-lr)
        else:
            p.add_(g / avg, alpha=-lr)


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al.; PyTorch's rule and defaults). Each weight's step is divided by
    the root of the sum of all its squared gradients so far; with learning rate γ, lr decay
    η, weight decay λ, step t = 1, 2, ...::

        g_t ← g_t + λ·θ_{t−1}                        (if λ ≠ 0)
        γ_t ← γ / (1 + (t − 1)·η)
        s_t ← s_{t−1} + g_t²                         (s_0 = initial_accumulator_value)
        θ_t ← θ_{t−1} − γ_t·g_t / (√s_t + ε)

    State per parameter: ``step``, ``sum`` (s, the parameter's shape).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.tensor([2.0])
    >>> Adagrad([w]).step(); np.round(w.data, 4)   # 1 − 0.01·2/√4
    array([0.99], dtype=float32)
    """

    _state_keys = frozenset({"step", "sum"})

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        self._refuse_torch_options(foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=bool(maximize)))

    def _update(self, p, g, state, group):
        if not state:
            state.update(step=0, sum=np.full_like(p.data, group["initial_accumulator_value"]))
        state["step"] += 1
        g = self._decay(p, g, group)
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        p.add_(g / (np.sqrt(s) + group["eps"]), alpha=-clr)


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba's Adam with the infinity norm; PyTorch's rule and defaults). With
    learning rate γ, betas (β₁, β₂), weight decay λ, step t = 1, 2, ...::

        g_t ← g_t + λ·θ_{t−1}                        (if λ ≠ 0)
        m_t ← β₁·m_{t−1} + (1 − β₁)·g_t              first moment
        u_t ← max(β₂·u_{t−1}, |g_t| + ε)             decaying infinity norm
        θ_t ← θ_{t−1} − γ/(1 − β₁ᵗ) · m_t / u_t

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_inf`` (u).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.tensor([2.0])
    >>> Adamax([w], lr=0.1).step(); np.round(w.data, 4)   # 1 − 0.1/0.1 · 0.2/2: moves by lr
    array([0.9], dtype=float32)
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_inf"})
    # Keras's Adamax (nn.keras.optimizers) adds ε to u in the step, not inside the max.
    _eps_in_step = False

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        self._refuse_torch_options(foreach=foreach, differentiable=differentiable,
                                   capturable=capturable)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, maximize=bool(maximize)))

    def _update(self, p, g, state, group):
        (b1, b2), eps = group["betas"], group["eps"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_inf=np.zeros_like(p.data))
        state["step"] += 1
        g = self._decay(p, g, group)
        m, u = state["exp_avg"], state["exp_inf"]
        m *= b1
        m += (1 - b1) * g
        u *= b2
        if self._eps_in_step:
            np.maximum(u, np.abs(g), out=u)
            p.add_(m / (u + eps), alpha=-group["lr"] / (1 - b1 ** state["step"]))
        else:
            np.maximum(u, np.abs(g) + eps, out=u)
            p.add_(m / u, alpha=-group["lr"] / (1 - b1 ** state["step"]))


class NAdam(Optimizer):
    r"""NAdam (Dozat's Adam with Nesterov momentum; PyTorch's rule and defaults). With learning
    rate γ, betas (β₁, β₂), momentum decay ψ, weight decay λ, step t = 1, 2, ...::

        θ_{t−1} ← θ_{t−1} − γ·λ·θ_{t−1}              (if decoupled_weight_decay, λ ≠ 0)
        g_t ← g_t + λ·θ_{t−1}                        (otherwise, if λ ≠ 0)
        μ_t ← β₁·(1 − ½·0.96^(t·ψ)),   μ_{t+1} ← β₁·(1 − ½·0.96^((t+1)·ψ))
        Π_t ← μ₁·μ₂·…·μ_t                             (mu_product)
        m_t ← β₁·m_{t−1} + (1 − β₁)·g_t,   v_t ← β₂·v_{t−1} + (1 − β₂)·g_t²
        d_t ← √(v_t / (1 − β₂ᵗ)) + ε
        θ_t ← θ_{t−1} − γ·(1 − μ_t)/(1 − Π_t) · g_t/d_t − γ·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m_t/d_t

    State per parameter: ``step``, ``mu_product`` (Π, a number), ``exp_avg`` (m),
    ``exp_avg_sq`` (v).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.tensor([2.0])
    >>> NAdam([w], lr=0.1).step(); np.round(w.data, 4)   # 1 − 0.1·(1 + μ₂/(1 − μ₁μ₂)·0.1)
    array([0.8944], dtype=float32)
    """

    _state_keys = frozenset({"step", "mu_product", "exp_avg", "exp_avg_sq"})

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        self._refuse_torch_options(foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=bool(decoupled_weight_decay),
                                      maximize=bool(maximize)))

    def _update(self, p, g, state, group):
        lr, (b1, b2), psi = group["lr"], group["betas"], group["momentum_decay"]
        if not state:
            state.update(step=0, mu_product=1.0, exp_avg=np.zeros_like(p.data),
                         exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        t = state["step"]
        g = self._decay(p, g, group)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        prod = state["mu_product"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        denom = np.sqrt(v / (1 - b2 ** t)) + group["eps"]
        p.add_(g / denom, alpha=-lr * (1.0 - mu) / (1.0 - prod))
        p.add_(m / denom, alpha=-lr * mu_next / (1.0 - prod * mu_next))


class RAdam(Optimizer):
    r"""RAdam (Liu et al.'s rectified Adam; PyTorch's rule and defaults). Adam whose adaptive
    step is switched on only once the variance of v̂ is tractable (ρ_t > 5), and then scaled
    by the rectification r_t. With learning rate γ, betas (β₁, β₂), weight decay λ, step t::

        θ_{t−1} ← θ_{t−1} − γ·λ·θ_{t−1}              (if decoupled_weight_decay, λ ≠ 0)
        g_t ← g_t + λ·θ_{t−1}                        (otherwise, if λ ≠ 0)
        m_t ← β₁·m_{t−1} + (1 − β₁)·g_t,   v_t ← β₂·v_{t−1} + (1 − β₂)·g_t²
        m̂_t ← m_t / (1 − β₁ᵗ)
        ρ_∞ ← 2/(1 − β₂) − 1,   ρ_t ← ρ_∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)
        r_t ← √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))
        θ_t ← θ_{t−1} − γ·m̂_t·√(1 − β₂ᵗ)/(√v_t + ε)·r_t    (if ρ_t > 5)
        θ_t ← θ_{t−1} − γ·m̂_t                              (otherwise: momentum SGD)

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.tensor([2.0])
    >>> RAdam([w], lr=0.1).step(); np.round(w.data, 4)   # ρ₁ = 1: 1 − 0.1·2
    array([0.8], dtype=float32)
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_avg_sq"})

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        self._refuse_torch_options(foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay,
                                      decoupled_weight_decay=bool(decoupled_weight_decay),
                                      maximize=bool(maximize)))

    def _update(self, p, g, state, group):
        lr, (b1, b2) = group["lr"], group["betas"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        t = state["step"]
        g = self._decay(p, g, group)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        bias2 = 1 - b2 ** t
        m_hat = m / (1 - b1 ** t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2 ** t / bias2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p.add_(m_hat * lr * (math.sqrt(bias2) / (np.sqrt(v) + group["eps"])) * rect,
                   alpha=-1.0)
        else:
            p.add_(m_hat, alpha=-lr)


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler; PyTorch's rule and defaults): each step is scaled by the ratio of
    the RMS of past steps to the RMS of past gradients, so lr = 1 is the usual choice. With
    decay ρ, weight decay λ::

        g_t ← g_t + λ·θ_{t−1}                        (if λ ≠ 0)
        v_t ← ρ·v_{t−1} + (1 − ρ)·g_t²
        Δ_t ← √(u_{t−1} + ε) / √(v_t + ε) · g_t
        u_t ← ρ·u_{t−1} + (1 − ρ)·Δ_t²
        θ_t ← θ_{t−1} − γ·Δ_t

    State per parameter: ``step``, ``square_avg`` (v), ``acc_delta`` (u).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.tensor([2.0])
    >>> Adadelta([w]).step(); np.round(w.data, 4)   # 1 − √1e-6/√(0.4 + 1e-6)·2: a slow start
    array([0.9968], dtype=float32)
    """

    _state_keys = frozenset({"step", "square_avg", "acc_delta"})

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        self._refuse_torch_options(foreach=foreach, capturable=capturable,
                                   differentiable=differentiable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=bool(maximize)))

    def _validate(self, group):
        super()._validate(group)
        if not isinstance(group["rho"], Real) or not 0 <= group["rho"] <= 1:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {group['rho']!r}")

    def _update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p.data),
                         acc_delta=np.zeros_like(p.data))
        state["step"] += 1
        g = self._decay(p, g, group)
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        p.add_(delta, alpha=-group["lr"])
