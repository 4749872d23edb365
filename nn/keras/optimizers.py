"""Keras-style optimizers: built without parameters, bound to the model by ``compile``/``fit``.

``nn.keras.optimizers.SGD(learning_rate=0.5)`` (or Keras 2's ``lr=0.5``) is a recipe;
``model.compile(optimizer=...)`` (or ``nn.fit``) turns it into an optimizer over the model's
parameters (``model.optimizer`` afterwards) that follows KERAS 3's update rules: a
``KerasSGD``, ``KerasAdam``, ``KerasAdamW`` or ``KerasRMSprop``, subclasses of the
``nn.optim`` optimizers (same ``param_groups``, hyper-parameter names ``lr``, ``betas``,
``eps``, ``alpha``..., schedulers, callbacks, ``state_dict``) that replace only the
per-parameter update. ``nn.optim``'s own optimizers keep PyTorch's rules. The names 'sgd',
'adam', 'rmsprop', 'adamw' give these recipes with Keras's default hyper-parameters:

============  =====================================================================
'sgd'         SGD(learning_rate=0.01, momentum=0.0, nesterov=False)
'adam'        Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
'rmsprop'     RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7)
'adamw'       AdamW(learning_rate=0.001, weight_decay=0.004, betas and epsilon as Adam)
'adagrad'     Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)
'adamax'      Adamax(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
'nadam'       Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
'adadelta'    Adadelta(learning_rate=0.001, rho=0.95, epsilon=1e-7)
============  =====================================================================

Keras's rules (``keras/src/optimizers/*.py`` and the torch backend's), with learning rate γ
(the current one: ``LearningRateScheduler`` and ``ReduceLROnPlateau`` change it), gradient
g and step t = 1, 2, ...; where they differ from PyTorch's (``nn.optim``):

- SGD with momentum μ: ``v ← μ·v − γ·g`` (v₀ = 0), ``θ ← θ + v``; nesterov:
  ``θ ← θ + μ·v − γ·g``. PyTorch keeps ``b ← μ·b + g`` and steps ``−γ·b``: the same steps
  while γ is constant, not after γ changes (Keras's velocity holds the old γ).
- Adam: ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
  ``θ ← θ − γ·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)``: ε is added to √v BEFORE the bias
  correction (PyTorch: ``m̂ / (√v̂ + ε)``, i.e. Keras's ε is PyTorch's ε/√(1−β₂ᵗ)).
- AdamW: Keras's decay ``θ ← θ − γ·λ·θ`` before the Adam step (as PyTorch's AdamW).
- RMSprop with ρ: ``v ← ρv + (1−ρ)g²``; ``Δ = γ·g / √(v + ε)`` (centered: ``ḡ ← ρḡ + (1−ρ)g``,
  ``Δ = γ·g / √(v − ḡ² + ε)``); with momentum μ: ``m ← μ·m + Δ``, ``θ ← θ − m``; else
  ``θ ← θ − Δ``. PyTorch divides by √v + ε and keeps its momentum buffer without γ.
- Adam(amsgrad=True): v̂ ← max(v̂, v) divides instead of v (ε placed as Adam's).
- Adagrad: s₀ = 0.1, ``θ ← θ − γ·g/√(s + ε)`` (PyTorch: s₀ = 0, √s + ε).
- Adamax: ``u ← max(β₂u, |g|)``, ``θ ← θ − γ·m/((1 − β₁ᵗ)(u + ε))`` (PyTorch: ε in the max).
- Nadam: PyTorch's NAdam with momentum_decay ψ = 1 (μ_t = β₁(1 − ½·0.96ᵗ)).
- Adadelta: PyTorch's rule, Keras's defaults (lr 0.001, ρ 0.95, ε 1e-7).
"""
from __future__ import annotations

import math
from numbers import Real

import numpy as np

from .. import optim as _optim
from ..optim.optimizers import Optimizer as _Optimizer

__all__ = ["KerasOptimizer", "SGD", "Adam", "RMSprop", "AdamW", "Adagrad", "Adamax", "Nadam",
           "Adadelta", "get", "KerasSGD", "KerasAdam", "KerasAdamW", "KerasRMSprop",
           "KerasAdagrad", "KerasAdamax", "KerasNadam", "KerasAdadelta"]


# -- the built optimizers: nn.optim's, with Keras 3's per-parameter update --------------------
class _KerasRule:
    """Mixed into the ``nn.optim`` subclasses below: Keras's weight decay is decoupled (every
    optimizer's, ``θ ← θ − γ·λ·θ`` before the update: ``Optimizer._decay``). Each class lists
    its per-parameter state in ``_state_keys``, so ``load_state_dict`` refuses state another
    rule wrote (PyTorch's ``momentum_buffer`` is not Keras's ``momentum``)."""

    _decoupled = True


class KerasSGD(_KerasRule, _optim.SGD):
    r"""SGD with Keras 3's rule (what ``nn.keras.optimizers.SGD`` builds). With learning
    rate γ (the current one), momentum μ, Keras's decoupled weight decay λ::

        θ ← θ − γ·λ·θ                                  (if λ ≠ 0)
        v ← μ·v − γ·g;  θ ← θ + v                      (v₀ = 0; nesterov: θ ← θ + μ·v − γ·g)
        θ ← θ − γ·g                                    (if μ = 0)

    State per parameter: ``momentum`` (v, only when μ ≠ 0). No dampening (Keras has none).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> opt = KerasSGD([w], lr=0.1, momentum=0.5)
    >>> w.grad = engine.tensor([1.0]); opt.step()                # v = −0.1
    >>> opt.param_groups[0]["lr"] = 0.01
    >>> w.grad = engine.tensor([1.0]); opt.step(); np.round(w.data, 4)  # v = −0.05 − 0.01
    array([0.84], dtype=float32)
    """

    _state_keys = frozenset({"momentum"})

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 dampening=0.0, *, maximize=False):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay, dampening=dampening, maximize=maximize)

    def _validate(self, group):
        _Optimizer._validate(self, group)  # Keras allows nesterov with momentum 0 (plain SGD)
        if group["dampening"]:
            raise ValueError(f"KerasSGD: dampening={group['dampening']!r}; Keras's SGD has no "
                             "dampening (nn.optim.SGD has PyTorch's)")

    def _update(self, p, g, state, group):
        lr, mu = group["lr"], group["momentum"]
        g = self._decay(p, g, group)
        if not mu:
            p.add_(g, alpha=-lr)
            return
        v = state.get("momentum")
        if v is None:
            v = state["momentum"] = np.zeros_like(p.data)
        v *= mu
        v -= g * lr
        if group["nesterov"]:
            p.add_(g, alpha=-lr)
            p.add_(v, alpha=mu)
        else:
            p.add_(v)


class KerasAdam(_KerasRule, _optim.Adam):
    r"""Adam with Keras 3's rule (what ``nn.keras.optimizers.Adam`` builds)::

        θ ← θ − γ·λ·θ                                  (Keras's weight decay, if λ ≠ 0)
        m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²
        θ ← θ − γ·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (√v + ε)

    ε is added to √v before the bias correction: this is ``nn.optim.Adam``'s step with
    ε/√(1 − β₂ᵗ) in place of ε (its ``_eps_before_bias_correction``, to share its fused
    kernel). State as ``nn.optim.Adam``'s (``step``, ``exp_avg`` = m, ``exp_avg_sq`` = v: the
    same moments, the same ``_state_keys``).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.tensor([1e-6])   # tiny gradients: ε matters
    >>> KerasAdam([w], lr=0.1).step(); np.round(1 - w.data, 5)   # nn.optim.Adam: 0.09091
    array([0.02403], dtype=float32)
    """

    _eps_before_bias_correction = True


class KerasAdamW(KerasAdam, _optim.AdamW):
    r"""AdamW with Keras 3's rule and defaults (``weight_decay=0.004``, ``eps=1e-7``): Keras's
    decay ``θ ← θ − γ·λ·θ`` (as PyTorch's AdamW), then ``KerasAdam``'s step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.004, *,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)


class KerasRMSprop(_KerasRule, _optim.RMSprop):
    r"""RMSprop with Keras 3's rule (what ``nn.keras.optimizers.RMSprop`` builds). With ρ
    (``alpha``, PyTorch's name for it), momentum μ::

        θ ← θ − γ·λ·θ                                  (Keras's weight decay, if λ ≠ 0)
        v ← ρ·v + (1 − ρ)·g²
        Δ ← γ·g / √(v + ε)                              (centered: ḡ ← ρ·ḡ + (1 − ρ)·g,
                                                         Δ ← γ·g / √(v − ḡ² + ε))
        m ← μ·m + Δ;  θ ← θ − m   (if μ > 0)   else   θ ← θ − Δ

    State per parameter: ``step``, ``square_avg`` (v), ``grad_avg`` (ḡ, if centered),
    ``momentum`` (m, if μ > 0; it includes γ, unlike PyTorch's ``momentum_buffer``).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.tensor([2.0])
    >>> KerasRMSprop([w], lr=0.01).step(); np.round(w.data, 4)   # 1 − 0.01·2/√(0.1·4 + ε)
    array([0.9684], dtype=float32)
    """

    _state_keys = frozenset({"step", "square_avg", "grad_avg", "momentum"})

    def __init__(self, params, lr=1e-3, alpha=0.9, eps=1e-7, momentum=0.0, weight_decay=0.0,
                 centered=False, *, maximize=False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, momentum=momentum,
                         weight_decay=weight_decay, centered=centered, maximize=maximize)

    def _update(self, p, g, state, group):
        lr, rho, eps, mu = group["lr"], group["alpha"], group["eps"], group["momentum"]
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p.data))
        state["step"] += 1
        g = self._decay(p, g, group)
        v = state["square_avg"]
        v *= rho
        v += (1 - rho) * (g * g)
        denom = v + eps
        if group["centered"]:
            ga = state.get("grad_avg")
            if ga is None:
                ga = state["grad_avg"] = np.zeros_like(p.data)
            ga *= rho
            ga += (1 - rho) * g
            denom -= ga * ga
        increment = (g * lr) / np.sqrt(denom)
        if mu > 0:
            m = state.get("momentum")
            if m is None:
                m = state["momentum"] = np.zeros_like(p.data)
            m *= mu
            m += increment
            p.add_(m, alpha=-1.0)
        else:
            p.add_(increment, alpha=-1.0)


class KerasAdagrad(_KerasRule, _optim.Adagrad):
    r"""Adagrad with Keras 3's rule and defaults (what ``nn.keras.optimizers.Adagrad``
    builds): the accumulator starts at ``initial_accumulator_value`` (Keras: 0.1) and ε is
    inside the root (PyTorch: outside, accumulator from 0)::

        s ← s + g²;   θ ← θ − γ·g / √(s + ε)

    State as ``nn.optim.Adagrad``'s (``step``, ``sum`` = s); no lr decay (Keras has none).

    >>> import engine
    >>> w = engine.tensor([1.0], requires_grad=True)
    >>> w.grad = engine.tensor([2.0])
    >>> KerasAdagrad([w], lr=0.1).step(); np.round(w.data, 4)   # 1 − 0.1·2/√(0.1 + 4)
    array([0.9012], dtype=float32)
    """

    def __init__(self, params, lr=1e-3, initial_accumulator_value=0.1, eps=1e-7,
                 weight_decay=0.0, lr_decay=0.0, *, maximize=False):
        if lr_decay:
            raise ValueError(f"KerasAdagrad: lr_decay={lr_decay!r}; Keras's Adagrad has no lr "
                             "decay (use a LearningRateScheduler)")
        super().__init__(params, lr=lr, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps,
                         maximize=maximize)

    def _update(self, p, g, state, group):
        if not state:
            state.update(step=0, sum=np.full_like(p.data, group["initial_accumulator_value"]))
        state["step"] += 1
        g = self._decay(p, g, group)
        s = state["sum"]
        s += g * g
        p.add_(g / np.sqrt(s + group["eps"]), alpha=-group["lr"])


class KerasAdamax(_KerasRule, _optim.Adamax):
    r"""Adamax with Keras 3's rule (what ``nn.keras.optimizers.Adamax`` builds): ε is added
    to the infinity norm in the step, not inside the max (PyTorch's)::

        m ← β₁·m + (1 − β₁)·g;   u ← max(β₂·u, |g|)
        θ ← θ − γ·m / ((1 − β₁ᵗ)·(u + ε))

    State as ``nn.optim.Adamax``'s (``step``, ``exp_avg`` = m, ``exp_inf`` = u)."""

    _eps_in_step = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0, *,
                 maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         maximize=maximize)


class KerasNadam(_KerasRule, _optim.NAdam):
    r"""Nadam with Keras 3's rule (what ``nn.keras.optimizers.Nadam`` builds):
    ``nn.optim.NAdam``'s step (the same equations) with Keras's momentum schedule
    μ_t = β₁·(1 − ½·0.96ᵗ), i.e. PyTorch's ``momentum_decay`` ψ = 1 (PyTorch's default is
    0.004), and Keras's ε = 1e-7."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0,
                 momentum_decay=1.0, decoupled_weight_decay=True, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         momentum_decay=momentum_decay,
                         decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)


class KerasAdadelta(_KerasRule, _optim.Adadelta):
    r"""Adadelta with Keras 3's defaults (``lr=0.001, rho=0.95, eps=1e-7``; what
    ``nn.keras.optimizers.Adadelta`` builds): Keras's update is ``nn.optim.Adadelta``'s
    (Δ = √(u + ε)/√(v + ε)·g, θ ← θ − γ·Δ)."""

    def __init__(self, params, lr=1e-3, rho=0.95, eps=1e-7, weight_decay=0.0, *,
                 maximize=False):
        super().__init__(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                         maximize=maximize)


# The built classes by name (nn.keras.saving rebuilds a compiled model's optimizer from it).
RULES = {cls.__name__: cls for cls in (KerasSGD, KerasAdam, KerasAdamW, KerasRMSprop,
                                       KerasAdagrad, KerasAdamax, KerasNadam, KerasAdadelta)}


# -- the recipes --------------------------------------------------------------------------------


class KerasOptimizer:
    """Base class: hyper-parameters now, parameters later (``build``)."""

    _defaults: dict = {}

    def __init__(self, learning_rate, lr=None, global_clipnorm=None, clipnorm=None,
                 clipvalue=None, weight_decay=None, **hyper):
        name = type(self).__name__
        if lr is not None:  # Keras 2's name, as the course's SGD(lr=0.5)
            learning_rate = lr
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, Real) \
                or not math.isfinite(learning_rate) or learning_rate < 0:
            raise ValueError(f"{name}: learning_rate must be a number >= 0, got "
                             f"{learning_rate!r} (schedules: use a LearningRateScheduler "
                             "callback)")
        if clipnorm is not None or clipvalue is not None:
            raise ValueError(f"{name}: clipnorm/clipvalue (per-variable clipping) are not "
                             "supported; use global_clipnorm= (one norm over all gradients)")
        if global_clipnorm is not None and not (isinstance(global_clipnorm, Real)
                                                and global_clipnorm > 0):
            raise ValueError(f"{name}: global_clipnorm must be a positive number, got "
                             f"{global_clipnorm!r}")
        if weight_decay is not None and not isinstance(self, AdamW):
            raise ValueError(f"{name}: weight_decay= is Keras's decoupled decay; use AdamW, or "
                             f"nn.optim.{name}(params, weight_decay=...) for an L2 term in "
                             "the gradient (PyTorch's)")
        self.learning_rate = float(learning_rate)
        self.global_clipnorm = global_clipnorm
        self.hyper = dict(hyper)
        if weight_decay is not None:
            self.hyper["weight_decay"] = weight_decay

    def build(self, params):
        """The optimizer over ``params`` (Keras's rule: ``KerasSGD``, ``KerasAdam``...)."""
        raise NotImplementedError  # pragma: no cover

    def get_config(self):
        config = {"learning_rate": self.learning_rate, **self.hyper}
        if self.global_clipnorm is not None:
            config["global_clipnorm"] = self.global_clipnorm
        return config

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(KerasOptimizer):
    """Keras's ``SGD(learning_rate=0.01, momentum=0.0, nesterov=False)`` → ``KerasSGD``."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, momentum=float(momentum), nesterov=bool(nesterov),
                         **kwargs)

    def build(self, params):
        return KerasSGD(params, lr=self.learning_rate, momentum=self.hyper["momentum"],
                        nesterov=self.hyper["nesterov"])


class Adam(KerasOptimizer):
    """Keras's ``Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`` →
    ``KerasAdam``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1=float(beta_1), beta_2=float(beta_2),
                         epsilon=float(epsilon), amsgrad=bool(amsgrad), **kwargs)

    def build(self, params):
        h = self.hyper
        return KerasAdam(params, lr=self.learning_rate, betas=(h["beta_1"], h["beta_2"]),
                         eps=h["epsilon"], amsgrad=h["amsgrad"])


class AdamW(Adam):
    """Keras's ``AdamW(learning_rate=0.001, weight_decay=0.004, ...)`` → ``KerasAdamW``
    (Keras's decay θ ← θ − γ·λ·θ before each step)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=float(weight_decay), **kwargs)

    def build(self, params):
        h = self.hyper
        return KerasAdamW(params, lr=self.learning_rate, betas=(h["beta_1"], h["beta_2"]),
                          eps=h["epsilon"], weight_decay=h["weight_decay"],
                          amsgrad=h["amsgrad"])


class RMSprop(KerasOptimizer):
    """Keras's ``RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
    centered=False)`` → ``KerasRMSprop(alpha=rho, ...)``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate, rho=float(rho), momentum=float(momentum),
                         epsilon=float(epsilon), centered=bool(centered), **kwargs)

    def build(self, params):
        h = self.hyper
        return KerasRMSprop(params, lr=self.learning_rate, alpha=h["rho"], eps=h["epsilon"],
                            momentum=h["momentum"], centered=h["centered"])


class Adagrad(KerasOptimizer):
    """Keras's ``Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)``
    → ``KerasAdagrad``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate,
                         initial_accumulator_value=float(initial_accumulator_value),
                         epsilon=float(epsilon), **kwargs)

    def build(self, params):
        h = self.hyper
        return KerasAdagrad(params, lr=self.learning_rate,
                            initial_accumulator_value=h["initial_accumulator_value"],
                            eps=h["epsilon"])


class Adamax(KerasOptimizer):
    """Keras's ``Adamax(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`` →
    ``KerasAdamax``."""

    _rule = KerasAdamax

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, beta_1=float(beta_1), beta_2=float(beta_2),
                         epsilon=float(epsilon), **kwargs)

    def build(self, params):
        h = self.hyper
        return self._rule(params, lr=self.learning_rate, betas=(h["beta_1"], h["beta_2"]),
                          eps=h["epsilon"])


class Nadam(Adamax):
    """Keras's ``Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`` →
    ``KerasNadam``."""

    _rule = KerasNadam


class Adadelta(KerasOptimizer):
    """Keras's ``Adadelta(learning_rate=0.001, rho=0.95, epsilon=1e-7)`` →
    ``KerasAdadelta``."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, rho=float(rho), epsilon=float(epsilon), **kwargs)

    def build(self, params):
        h = self.hyper
        return KerasAdadelta(params, lr=self.learning_rate, rho=h["rho"], eps=h["epsilon"])


_NAMES = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adamw": AdamW, "adagrad": Adagrad,
          "adamax": Adamax, "nadam": Nadam, "adadelta": Adadelta}


def get(identifier):
    """A recipe from a name ('sgd', 'adam', 'rmsprop', 'adamw'; any case) or a recipe."""
    if isinstance(identifier, KerasOptimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"unknown optimizer {identifier!r}; known names: "
                     f"{', '.join(sorted(_NAMES))}, or pass an nn.optim optimizer")
