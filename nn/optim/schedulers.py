"""Learning-rate schedulers, usable the PyTorch way and the Keras way.

- PyTorch way: build the scheduler (it sets the lr of epoch 0), train an epoch, call
  ``step()`` to move to the next epoch; ``get_last_lr()`` says what is in use.
- Keras way: ``on_epoch_begin(epoch)`` sets the lr for that epoch (epochs counted from 0).
  ``nn.fit(..., scheduler=s)`` calls it before each epoch and records the lr in
  ``history.history['lr']``.

Every scheduler writes ``group['lr']`` of each of the optimizer's ``param_groups``, and
remembers where it started in ``group['initial_lr']`` (PyTorch's convention), so a scheduler
built on an optimizer restored with ``load_state_dict`` picks up the original base lr.

Moving to the next epoch (``step()``, or ``on_epoch_begin(last_epoch + 1)``) changes the lr
*in use* as PyTorch's chainable schedulers do (StepLR: × gamma every step_size epochs), so a
learning rate the user set by hand between epochs, or a second scheduler on the same
optimizer, carries on as in PyTorch instead of being overwritten by the formula's value.
Jumping to another epoch (``on_epoch_begin(10)``) uses the closed form from the base lr, as
PyTorch's ``step(epoch)``; calling it for the epoch already set changes nothing.
"""
from __future__ import annotations

import inspect
import math
from numbers import Integral, Real

__all__ = ["LRScheduler", "ExponentialLR", "StepLR", "MultiStepLR", "LinearLR", "LambdaLR",
           "CosineAnnealingLR", "ReduceLROnPlateau"]


class LRScheduler:
    """Base class. Subclasses give ``_lr_at(epoch, base_lr, current_lr)``, the lr of
    ``epoch`` from the base lr (the closed form), and may give ``_lr_next(epoch, base_lr,
    current_lr)``, the lr of ``epoch`` from the one in use at ``epoch − 1`` (PyTorch's
    chainable form, used for the next epoch; by default the closed form).

    ``last_epoch=-1`` (default) means a fresh start: the current lr of each group becomes
    its base lr and the lr of epoch 0 is set at once. To resume, pass the last finished
    epoch (the optimizer's groups must then hold ``'initial_lr'``), or restore the
    scheduler's ``state_dict()``.
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(self).__name__}: expected an optimizer (with "
                            f"param_groups), got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if not isinstance(last_epoch, Integral) or last_epoch < -1:
            raise ValueError(f"{type(self).__name__}: last_epoch must be an int >= -1, "
                             f"got {last_epoch!r}")
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no "
                               f"'initial_lr'; resuming (last_epoch={last_epoch}) needs an "
                               "optimizer that a scheduler has run on (or its state_dict)")
        self.base_lrs = [float(g["initial_lr"]) for g in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]
        if last_epoch == -1:
            self.on_epoch_begin(0)

    def _lr_at(self, epoch: int, base_lr: float, current_lr: float) -> float:
        raise NotImplementedError  # pragma: no cover

    def _lr_next(self, epoch: int, base_lr: float, current_lr: float) -> float:
        return self._lr_at(epoch, base_lr, current_lr)

    def _lr_for(self, group, epoch, base_lr, current_lr, chained):
        """The lr of param group number ``group`` for ``epoch``."""
        return (self._lr_next if chained else self._lr_at)(epoch, base_lr, current_lr)

    def on_epoch_begin(self, epoch: int) -> list[float]:
        """Set (and return) the learning rates of epoch ``epoch`` (0-based): the next epoch
        from the rates in use (chained), any other from the base rates; the epoch already
        set is left as it is (``nn.fit`` calls this for epoch 0 after the constructor did)."""
        if isinstance(epoch, bool) or not isinstance(epoch, Integral) or epoch < 0:
            raise ValueError(f"{type(self).__name__}: epoch must be an int >= 0, got {epoch!r}")
        if epoch == self.last_epoch:
            return self.get_last_lr()
        chained = epoch == self.last_epoch + 1
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(f"{type(self).__name__}: the optimizer has {len(groups)} param "
                             f"groups, the scheduler was built for {len(self.base_lrs)} "
                             "(add_param_group after the scheduler): build the scheduler "
                             "after adding the group")
        lrs = []
        for i, (base, group) in enumerate(zip(self.base_lrs, groups, strict=True)):
            lr = self._lr_for(i, int(epoch), base, float(group["lr"]), chained)
            if isinstance(lr, bool) or not isinstance(lr, Real) or not math.isfinite(lr) \
                    or lr < 0:
                raise ValueError(f"{type(self).__name__}: the learning rate for epoch {epoch} "
                                 f"is {lr!r}; it must be a finite number >= 0")
            lrs.append(float(lr))
        for group, lr in zip(groups, lrs, strict=True):
            group["lr"] = lr
        self.last_epoch = int(epoch)
        self._last_lr = lrs
        return list(lrs)

    def step(self, epoch=None) -> None:
        """Advance one epoch (call after each epoch of training, as in PyTorch); PyTorch's
        deprecated ``step(epoch)`` sets that epoch's lr from the base lr (closed form)."""
        self.on_epoch_begin(self.last_epoch + 1 if epoch is None else epoch)

    def get_last_lr(self) -> list[float]:
        """The learning rate of each param group, as last set by this scheduler."""
        return list(self._last_lr)

    _not_saved = ("optimizer",)

    def state_dict(self) -> dict:
        """Everything but the optimizer (and functions, which cannot be saved)."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()
                if k not in self._not_saved and not callable(v)}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, list(v) if isinstance(v, (list, tuple)) else v)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


class ExponentialLR(LRScheduler):
    """``lr = base_lr · gammaᵉᵖᵒᶜʰ``: each step multiplies the lr in use by ``gamma``.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = ExponentialLR(opt, gamma=0.5)
    >>> s.step(); s.step(); s.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        if not isinstance(gamma, Real) or not gamma > 0:
            raise ValueError(f"ExponentialLR: gamma must be > 0, got {gamma!r}")
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, epoch, base_lr, current_lr):
        return base_lr * self.gamma ** epoch

    def _lr_next(self, epoch, base_lr, current_lr):
        return current_lr * self.gamma if epoch > 0 else current_lr


class StepLR(LRScheduler):
    """``lr = base_lr · gamma^⌊epoch / step_size⌋``: multiply the lr in use by ``gamma``
    every ``step_size`` epochs.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = StepLR(opt, step_size=2, gamma=0.1)
    >>> [s.on_epoch_begin(e)[0] for e in range(5)]
    [1.0, 1.0, 0.1, 0.1, 0.010000000000000002]
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if not isinstance(step_size, Integral) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be an int >= 1, got {step_size!r}")
        if not isinstance(gamma, Real) or not gamma > 0:
            raise ValueError(f"StepLR: gamma must be > 0, got {gamma!r}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, epoch, base_lr, current_lr):
        return base_lr * self.gamma ** (epoch // self.step_size)

    def _lr_next(self, epoch, base_lr, current_lr):
        return current_lr * self.gamma if epoch > 0 and epoch % self.step_size == 0 \
            else current_lr


class MultiStepLR(LRScheduler):
    """Multiply the lr in use by ``gamma`` at each epoch in ``milestones`` (by gamma² if an
    epoch is listed twice, as PyTorch's): ``lr = base_lr · gamma^(milestones passed)``.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = MultiStepLR(opt, milestones=[2, 4], gamma=0.5)
    >>> [s.on_epoch_begin(e)[0] for e in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        if any(isinstance(m, bool) or not isinstance(m, Integral) or m < 0 for m in milestones):
            raise ValueError(f"MultiStepLR: milestones must be ints >= 0, got {milestones!r}")
        if not isinstance(gamma, Real) or not gamma > 0:
            raise ValueError(f"MultiStepLR: gamma must be > 0, got {gamma!r}")
        self.milestones, self.gamma = sorted(int(m) for m in milestones), float(gamma)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, epoch, base_lr, current_lr):
        return base_lr * self.gamma ** sum(m <= epoch for m in self.milestones)

    def _lr_next(self, epoch, base_lr, current_lr):
        return current_lr * self.gamma ** self.milestones.count(epoch)


class LinearLR(LRScheduler):
    """Warm-up (or cool-down) by a linearly changing factor, PyTorch's rule: the lr is
    ``base_lr · f(epoch)`` with f going from ``start_factor`` at epoch 0 to ``end_factor`` at
    ``total_iters`` and staying there; each step scales the lr in use by f(e) / f(e − 1).

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> [round(s.on_epoch_begin(e)[0], 6) for e in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not isinstance(start_factor, Real) or not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not isinstance(end_factor, Real) or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        if isinstance(total_iters, bool) or not isinstance(total_iters, Integral) \
                or total_iters < 1:
            raise ValueError(f"LinearLR: total_iters must be an int >= 1, got {total_iters!r}")
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, epoch, base_lr, current_lr):
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor)
                          * min(self.total_iters, epoch) / self.total_iters)

    def _lr_next(self, epoch, base_lr, current_lr):  # PyTorch's get_lr, term for term
        if epoch == 0:
            return current_lr * self.start_factor
        if epoch > self.total_iters:
            return current_lr
        d = self.end_factor - self.start_factor
        return current_lr * (1.0 + d / (self.total_iters * self.start_factor + (epoch - 1) * d))


class LambdaLR(LRScheduler):
    """A learning rate from a function of the epoch (epochs counted from 0), in either
    library's form, told apart by how many arguments the function requires:

    - ``fn(epoch, lr) -> lr`` (two): Keras's ``LearningRateScheduler`` rule, ``lr ←
      fn(epoch, lr)`` with ``lr`` the rate currently in use; ``fn`` returns the new rate.
    - ``fn(epoch) -> factor`` (one; later parameters with defaults are not passed):
      PyTorch's LambdaLR, ``lr = base_lr · fn(epoch)``.

    ``lr_lambda=`` (PyTorch's keyword) is accepted, and a list of functions, one per param
    group (PyTorch). Each epoch's rate is applied once: building the scheduler applies epoch
    0, and ``on_epoch_begin`` for the epoch already applied does nothing, so ``nn.fit`` (which
    calls ``on_epoch_begin(0)``) and the PyTorch loop (build, then ``step()`` after each
    epoch) give the same rates. The functions are not part of ``state_dict()``.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=0.1)
    >>> s = LambdaLR(opt, lambda epoch, lr: lr if epoch < 2 else lr / 2)   # Keras's form
    >>> [s.on_epoch_begin(e)[0] for e in range(4)]
    [0.1, 0.1, 0.05, 0.025]
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=0.1)
    >>> s = LambdaLR(opt, lr_lambda=lambda epoch: 1 / (epoch + 1))        # PyTorch's form
    >>> [round(s.on_epoch_begin(e)[0], 4) for e in range(4)]
    [0.1, 0.05, 0.0333, 0.025]
    """

    _not_saved = ("optimizer", "fns", "forms")  # the functions and what they are

    def __init__(self, optimizer, fn=None, last_epoch: int = -1, *, lr_lambda=None):
        if (fn is None) == (lr_lambda is None):
            raise TypeError("LambdaLR: give the function once, as fn (Keras: fn(epoch, lr) "
                            "-> lr) or lr_lambda= (PyTorch: lr_lambda(epoch) -> factor)"
                            + (" (got both)" if fn is not None else ""))
        fns = fn if fn is not None else lr_lambda
        groups = getattr(optimizer, "param_groups", [])
        if isinstance(fns, (list, tuple)):
            if len(fns) != len(groups):
                raise ValueError(f"LambdaLR: expected {len(groups)} functions (one per param "
                                 f"group), got {len(fns)}")
        else:
            fns = [fns] * len(groups)
        self.fns = list(fns)  # not saved (_not_saved): functions cannot be
        self.forms = [_lambda_form(f) for f in self.fns]
        super().__init__(optimizer, last_epoch)

    def _lr_for(self, group, epoch, base_lr, current_lr, chained):  # next epoch or not
        fn = self.fns[group]
        if self.forms[group] == "keras":
            return _number(fn(epoch, current_lr))
        return base_lr * _number(fn(epoch))


def _number(v):
    """A numpy scalar (np.round's result) or 0-d Tensor as a Python number."""
    if hasattr(v, "item") and getattr(v, "size", 1) == 1:
        return v.item()
    return v


def _lambda_form(fn):
    """'keras' for fn(epoch, lr), 'torch' for fn(epoch): the count of positional parameters
    without defaults. A function whose signature cannot be read is taken as Keras's (the
    documented form)."""
    if not callable(fn):
        raise TypeError(f"LambdaLR: fn must be callable, fn(epoch, lr) -> lr (Keras) or "
                        f"fn(epoch) -> factor (PyTorch), got {type(fn).__name__}")
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return "keras"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = sum(p.kind in positional and p.default is p.empty for p in params)
    if required == 1:
        return "torch"
    if required == 2:
        return "keras"
    raise TypeError(f"LambdaLR: {getattr(fn, '__name__', fn)!r} requires {required} "
                    "arguments; give fn(epoch, lr) -> lr (Keras's LearningRateScheduler) "
                    "or fn(epoch) -> factor of the base lr (PyTorch's LambdaLR)")


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing (Loshchilov & Hutter's SGDR without restarts), PyTorch's schedule::

        lr(epoch) = eta_min + (base_lr − eta_min) · (1 + cos(π · epoch / T_max)) / 2

    from ``base_lr`` at epoch 0 down to ``eta_min`` at epoch ``T_max``; past ``T_max`` the
    cosine goes on (back up to base_lr at 2·T_max), as PyTorch's does. Each step scales the lr
    in use, PyTorch's recursive form (equal to the closed form, to rounding, when nothing
    else changes the lr).

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = CosineAnnealingLR(opt, T_max=4)
    >>> [round(s.on_epoch_begin(e)[0], 4) for e in range(5)]
    [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if isinstance(T_max, bool) or not isinstance(T_max, Real) or not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a number > 0, got {T_max!r}")
        if not isinstance(eta_min, Real) or not math.isfinite(eta_min) or eta_min < 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be a number >= 0, "
                             f"got {eta_min!r}")
        self.T_max, self.eta_min = T_max, float(eta_min)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, epoch, base_lr, current_lr):
        return self.eta_min + (base_lr - self.eta_min) * (
            1 + math.cos(math.pi * epoch / self.T_max)) / 2

    def _lr_next(self, epoch, base_lr, current_lr):  # PyTorch's get_lr, term for term
        T, eta = self.T_max, self.eta_min
        if epoch == 0:
            return current_lr
        if (epoch - 1 - T) % (2 * T) == 0:  # leaving the trough: the ratio below is 0/0
            return current_lr + (base_lr - eta) * (1 - math.cos(math.pi / T)) / 2
        return ((1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T))
                * (current_lr - eta) + eta)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a metric has stopped improving (PyTorch's rule).

    PyTorch way: ``scheduler.step(val_loss)`` after each epoch. ``nn.fit(...,
    scheduler=s)`` does it for you with ``logs[monitor]`` (default 'val_loss'; the name is
    our addition, PyTorch has none). Each ``step(metric)``:

    - improvement: ``metric < best·(1 − threshold)`` (mode 'min', threshold_mode 'rel'),
      ``< best − threshold`` ('abs'); for mode 'max' ``> best·(1 + threshold)`` /
      ``> best + threshold``. It resets the count of bad epochs and becomes ``best``;
    - otherwise one more bad epoch (not counted during ``cooldown`` epochs after a cut);
    - more than ``patience`` bad epochs: ``lr ← max(lr·factor, min_lr)`` for each group
      (skipped when the change is below ``eps``), then cooldown, count reset.

    (Keras's callback of the same name cuts after ``patience`` bad epochs, not
    ``patience + 1``, and measures improvement with an absolute ``min_delta``: it is
    ``nn.keras.callbacks.ReduceLROnPlateau``.)

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
    ...     s.step(loss)
    >>> s.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8, monitor="val_loss"):
        name = "ReduceLROnPlateau"
        if not isinstance(factor, Real) or not 0 <= factor < 1:
            raise ValueError(f"{name}: factor must be in [0, 1), got {factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        for key, v in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(v, bool) or not isinstance(v, Integral) or v < 0:
                raise ValueError(f"{name}: {key} must be an int >= 0, got {v!r}")
        groups = getattr(optimizer, "param_groups", [])
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(groups):
                raise ValueError(f"{name}: expected {len(groups)} min_lrs (one per param "
                                 f"group), got {len(min_lr)}")
            self.min_lrs = [float(v) for v in min_lr]
        else:
            self.min_lrs = [float(min_lr)] * len(groups)
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.eps, self.monitor = int(cooldown), float(eps), monitor
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        super().__init__(optimizer, last_epoch=-1)
        self.last_epoch = 0  # PyTorch counts the step() calls from 0

    def on_epoch_begin(self, epoch):
        """Nothing to do before an epoch: the lr changes after one (``on_epoch_end``)."""
        return self.get_last_lr()

    def _is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics) -> None:
        """Record this epoch's ``metrics`` (e.g. the validation loss); maybe cut the lr."""
        current = float(metrics.item() if hasattr(metrics, "item") else metrics)
        if not math.isfinite(current):
            raise ValueError(f"ReduceLROnPlateau: the monitored value is {current}")
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                old = float(group["lr"])
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def on_epoch_end(self, epoch, logs):
        """``nn.fit``'s hook: ``step(logs[monitor])``."""
        if self.monitor not in logs:
            raise KeyError(f"ReduceLROnPlateau: monitor {self.monitor!r} is not in the logs "
                           f"(available: {sorted(logs)}); give validation data or "
                           "monitor='loss'")
        self.step(logs[self.monitor])
