"""Keras-style optimizers: built without parameters, bound to the model by ``compile``/``fit``.

``nn.keras.optimizers.SGD(learning_rate=0.5)`` (or Keras 2's ``lr=0.5``) is a recipe;
``model.compile(optimizer=...)`` (or ``nn.fit``) turns it into the ``nn.optim`` optimizer
over the model's parameters (``model.optimizer`` afterwards). The names 'sgd', 'adam',
'rmsprop', 'adamw' give these recipes with Keras's default hyper-parameters:

============  =====================================================================
'sgd'         SGD(learning_rate=0.01, momentum=0.0, nesterov=False)
'adam'        Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
'rmsprop'     RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7)
'adamw'       AdamW(learning_rate=0.001, weight_decay=0.004, betas and epsilon as Adam)
============  =====================================================================

The update rules are ``nn.optim``'s, which are PyTorch's. Where Keras computes differently
with the same hyper-parameters, the difference is small and stated: Keras's Adam adds
epsilon to √v before the bias correction (an effective ε·√(1−β₂ᵗ)); its RMSprop divides by
√(v + ε) instead of √v + ε; its SGD momentum keeps ``v ← μv − lr·g`` instead of
``b ← μb + g`` (the same steps while the learning rate is constant).
"""
from __future__ import annotations

import math
from numbers import Real

__all__ = ["KerasOptimizer", "SGD", "Adam", "RMSprop", "AdamW", "get"]


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
        """The ``nn.optim`` optimizer over ``params``."""
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
    """Keras's ``SGD(learning_rate=0.01, momentum=0.0, nesterov=False)`` → ``nn.optim.SGD``."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, momentum=float(momentum), nesterov=bool(nesterov),
                         **kwargs)

    def build(self, params):
        from ..optim import SGD as _SGD
        return _SGD(params, lr=self.learning_rate, momentum=self.hyper["momentum"],
                    nesterov=self.hyper["nesterov"])


class Adam(KerasOptimizer):
    """Keras's ``Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`` →
    ``nn.optim.Adam``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        if amsgrad:
            raise ValueError(f"{type(self).__name__}: amsgrad=True is not supported")
        super().__init__(learning_rate, beta_1=float(beta_1), beta_2=float(beta_2),
                         epsilon=float(epsilon), **kwargs)

    def build(self, params):
        from ..optim import Adam as _Adam
        h = self.hyper
        return _Adam(params, lr=self.learning_rate, betas=(h["beta_1"], h["beta_2"]),
                     eps=h["epsilon"])


class AdamW(Adam):
    """Keras's ``AdamW(learning_rate=0.001, weight_decay=0.004, ...)`` → ``nn.optim.AdamW``
    (decoupled decay, as Keras)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=float(weight_decay), **kwargs)

    def build(self, params):
        from ..optim import AdamW as _AdamW
        h = self.hyper
        return _AdamW(params, lr=self.learning_rate, betas=(h["beta_1"], h["beta_2"]),
                      eps=h["epsilon"], weight_decay=h["weight_decay"])


class RMSprop(KerasOptimizer):
    """Keras's ``RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
    centered=False)`` → ``nn.optim.RMSprop(alpha=rho, ...)``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate, rho=float(rho), momentum=float(momentum),
                         epsilon=float(epsilon), centered=bool(centered), **kwargs)

    def build(self, params):
        from ..optim import RMSprop as _RMSprop
        h = self.hyper
        return _RMSprop(params, lr=self.learning_rate, alpha=h["rho"], eps=h["epsilon"],
                        momentum=h["momentum"], centered=h["centered"])


_NAMES = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adamw": AdamW}


def get(identifier):
    """A recipe from a name ('sgd', 'adam', 'rmsprop', 'adamw'; any case) or a recipe."""
    if isinstance(identifier, KerasOptimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"unknown optimizer {identifier!r}; known names: "
                     f"{', '.join(sorted(_NAMES))}, or pass an nn.optim optimizer")
