"""Learning-rate schedulers, usable the PyTorch way and the Keras way: ExponentialLR, StepLR,
MultiStepLR, LinearLR, LambdaLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, OneCycleLR,
ReduceLROnPlateau.

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

OneCycleLR counts batches, not epochs (PyTorch steps it after every batch): ``nn.fit``
refuses it as ``scheduler=``; its docstring shows the callback that steps it per batch.
"""
from __future__ import annotations

import inspect
import math
from numbers import Integral, Real

__all__ = ["LRScheduler", "ExponentialLR", "StepLR", "MultiStepLR", "LinearLR", "LambdaLR",
           "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "ReduceLROnPlateau"]


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
        epoch = self._check_epoch(epoch)
        if epoch == self.last_epoch:
            return self.get_last_lr()
        chained = epoch == self.last_epoch + 1
        groups = self._groups()
        return self._apply(epoch, [
            self._lr_for(i, epoch, base, float(group["lr"]), chained)
            for i, (base, group) in enumerate(zip(self.base_lrs, groups, strict=True))])

    def _check_epoch(self, epoch) -> int:
        if isinstance(epoch, bool) or not isinstance(epoch, Integral) or epoch < 0:
            raise ValueError(f"{type(self).__name__}: epoch must be an int >= 0, got {epoch!r}")
        return int(epoch)

    def _groups(self) -> list[dict]:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(f"{type(self).__name__}: the optimizer has {len(groups)} param "
                             f"groups, the scheduler was built for {len(self.base_lrs)} "
                             "(add_param_group after the scheduler): build the scheduler "
                             "after adding the group")
        return groups

    def _apply(self, epoch: int, lrs, nonnegative: bool = True) -> list[float]:
        """Check the rates of ``epoch`` (all of them first), then write them."""
        for lr in lrs:
            if isinstance(lr, bool) or not isinstance(lr, Real) or not math.isfinite(lr) \
                    or (nonnegative and lr < 0):
                raise ValueError(f"{type(self).__name__}: the learning rate for epoch {epoch} "
                                 f"is {lr!r}; it must be a finite number >= 0")
        lrs = [float(lr) for lr in lrs]
        for group, lr in zip(self._groups(), lrs, strict=True):
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


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR), PyTorch's schedule::

        lr = eta_min + (base_lr − eta_min) · (1 + cos(π · T_cur / T_i)) / 2

    ``T_cur`` counts the epochs since the last restart and ``T_i`` is the length of the
    current cycle: ``T_0`` epochs first, then ``T_mult`` times longer after each restart.
    ``step()`` moves on one epoch; ``step(epoch)`` accepts a fraction, as PyTorch's, so it can
    be called after every batch with ``step(epoch + batch / batches_per_epoch)`` (from an
    ``nn.Callback``'s ``on_batch_end`` under ``nn.fit``); it follows PyTorch's formula for
    ``T_cur`` and ``T_i``, term for term. ``nn.fit(..., scheduler=s)`` steps it per epoch.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    >>> [round(s.on_epoch_begin(e)[0], 4) for e in range(7)]
    [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    >>> s.step(2.5); round(s.get_last_lr()[0], 4), s.last_epoch   # PyTorch: T_cur = 0.5
    (0.9619, 2)
    """

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1):
        name = "CosineAnnealingWarmRestarts"
        if isinstance(T_0, bool) or not isinstance(T_0, Integral) or T_0 < 1:
            raise ValueError(f"{name}: T_0 must be an int >= 1, got {T_0!r}")
        if isinstance(T_mult, bool) or not isinstance(T_mult, Integral) or T_mult < 1:
            raise ValueError(f"{name}: T_mult must be an int >= 1, got {T_mult!r}")
        if isinstance(eta_min, bool) or not isinstance(eta_min, Real) \
                or not math.isfinite(eta_min) or eta_min < 0:
            raise ValueError(f"{name}: eta_min must be a number >= 0, got {eta_min!r}")
        self.T_0 = self.T_i = int(T_0)
        self.T_mult, self.eta_min = int(T_mult), float(eta_min)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)
        if last_epoch >= 0:  # resuming: where last_epoch step() calls from epoch 0 lead
            self.T_cur = 0
            for _ in range(last_epoch):
                self.T_cur, self.T_i = self._next(self.T_cur, self.T_i)

    def _next(self, T_cur, T_i):
        """PyTorch's step(): one epoch on, a restart when the cycle is over."""
        T_cur = T_cur + 1
        if T_cur >= T_i:
            T_cur, T_i = T_cur % T_i, T_i * self.T_mult
        return T_cur, T_i

    def _at(self, epoch):
        """PyTorch's step(epoch): (T_cur, T_i) of a (maybe fractional) epoch."""
        T_0, T_mult = self.T_0, self.T_mult
        if epoch < T_0:
            return epoch, T_0
        if T_mult == 1:
            return epoch % T_0, self.T_i
        n = int(math.log((epoch / T_0 * (T_mult - 1) + 1), T_mult))
        return epoch - T_0 * (T_mult ** n - 1) / (T_mult - 1), T_0 * T_mult ** n

    def step(self, epoch=None) -> None:
        """Move on one epoch, or to ``epoch`` (a number >= 0, maybe fractional)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            T_cur, T_i = self._next(self.T_cur, self.T_i)
        else:
            if isinstance(epoch, bool) or not isinstance(epoch, Real) \
                    or not math.isfinite(epoch) or epoch < 0:
                raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be a number >= 0, "
                                 f"got {epoch!r}")
            T_cur, T_i = self._at(epoch)
        eta = self.eta_min
        self._apply(math.floor(epoch), [eta + (base - eta) * (1 + math.cos(math.pi * T_cur / T_i))
                                        / 2 for base in self.base_lrs])
        self.T_cur, self.T_i = T_cur, T_i

    def on_epoch_begin(self, epoch: int) -> list[float]:
        """Keras's hook: the next epoch is PyTorch's ``step()``, any other ``step(epoch)``."""
        epoch = self._check_epoch(epoch)
        if epoch != self.last_epoch:
            self.step(None if epoch == self.last_epoch + 1 else epoch)
        return self.get_last_lr()


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith & Topin), PyTorch's schedule, stepped after every *batch*.

    The lr rises from ``initial_lr = max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps`` (or ``epochs · steps_per_epoch``) steps, then anneals
    (``anneal_strategy`` 'cos' or 'linear') down to ``min_lr = initial_lr /
    final_div_factor`` at step ``total_steps − 1``. With ``three_phase`` it comes back to
    initial_lr first (symmetrically) and anneals to min_lr in a third phase. Phase k runs
    from the end of phase k − 1 to its ``end_step`` (pct_start·total − 1, 2·pct_start·total
    − 2, total − 1) and the lr is ``anneal(start, end, (step − start_step) / (end_step −
    start_step))``: PyTorch's arithmetic, term for term.

    With ``cycle_momentum`` the momentum moves the other way, from ``max_momentum`` down to
    ``base_momentum`` at the peak and back: SGD's (and RMSprop's) ``'momentum'``, Adam's and
    AdamW's β₁ (``group['betas'][0]``); an optimizer with neither raises (ValueError, as
    PyTorch). ``max_lr``, ``base_momentum`` and ``max_momentum`` may be lists, one per group.

    As PyTorch's, it writes ``'initial_lr'``, ``'max_lr'``, ``'min_lr'``, ``'max_momentum'``
    and ``'base_momentum'`` into each param group (they travel with the optimizer's
    ``state_dict()``; a scheduler resumed with ``last_epoch`` reads them), and it is not
    chainable: each step's lr comes from those values alone. ``step()`` may be called
    ``total_steps`` times after construction (the last one leads to step total_steps, one
    past the schedule's end, as in PyTorch: with 'linear' its lr is below 0, PyTorch's value,
    and is meant never to be used); one more raises ValueError. ``last_epoch`` and
    ``on_epoch_begin(n)`` count *steps* (batches), as PyTorch's ``last_epoch`` does here.

    ``nn.fit(..., scheduler=...)`` steps once per epoch, so it refuses a OneCycleLR; step it
    after each batch from a callback instead::

        sched = OneCycleLR(opt, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))

        class OneCycle(nn.Callback):
            changes_lr = True  # history['lr']: the lr of each epoch's first batch
            def on_batch_end(self, batch, logs=None):
                if sched.last_epoch < sched.total_steps - 1:  # the last lr is step total − 1
                    sched.step()

        nn.fit(model, loader, loss=..., optimizer=opt, epochs=10, callbacks=[OneCycle()])

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> s = OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="linear")
    >>> lrs, moms = [], []
    >>> for _ in range(10):
    ...     lrs.append(s.get_last_lr()[0]); moms.append(opt.param_groups[0]["momentum"])
    ...     if s.last_epoch < 9: s.step()
    >>> [round(v, 3) for v in lrs]
    [0.04, 0.52, 1.0, 0.857, 0.714, 0.571, 0.429, 0.286, 0.143, 0.0]
    >>> [round(v, 3) for v in moms]
    [0.95, 0.9, 0.85, 0.864, 0.879, 0.893, 0.907, 0.921, 0.936, 0.95]
    """

    per_batch = True  # nn.fit steps its scheduler per epoch: it refuses this one

    def __init__(self, optimizer, max_lr, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        name = "OneCycleLR"
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{name}: expected an optimizer (with param_groups), got "
                            f"{type(optimizer).__name__}")
        groups = optimizer.param_groups
        if total_steps is not None:
            self.total_steps = _count(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_count(name, "epochs", epochs)
                                * _count(name, "steps_per_epoch", steps_per_epoch))
        else:
            raise ValueError(f"{name}: give total_steps, or epochs and steps_per_epoch")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:  # PyTorch: a float
            raise ValueError(f"{name}: pct_start must be a float in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        for key, v in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            if isinstance(v, bool) or not isinstance(v, Real) or not 0 < v < math.inf:
                raise ValueError(f"{name}: {key} must be a number > 0, got {v!r}")
        self.pct_start, self.anneal_strategy = pct_start, anneal_strategy
        self.three_phase, self.cycle_momentum = bool(three_phase), bool(cycle_momentum)
        total = self.total_steps
        # PyTorch's phases: (end_step, start lr, end lr, start momentum, end momentum), the
        # names of the group entries they come from.
        first = (float(pct_start * total) - 1, "initial_lr", "max_lr", "max_momentum",
                 "base_momentum")
        self._phases = [first,
                        (float(2 * pct_start * total) - 2, "max_lr", "initial_lr",
                         "base_momentum", "max_momentum"),
                        (total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")] \
            if self.three_phase else \
            [first, (total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        max_lrs = _per_group(name, "max_lr", max_lr, groups, 0.0, math.inf)
        defaults = getattr(optimizer, "defaults", {})
        if self.cycle_momentum:
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError(f"{name}: {type(optimizer).__name__} has no momentum or "
                                 "betas to cycle (cycle_momentum=True); pass "
                                 "cycle_momentum=False")
            self.use_beta1 = "betas" in defaults
            top = 1.0 if self.use_beta1 else math.inf  # β₁ < 1
            max_ms = _per_group(name, "max_momentum", max_momentum, groups, 0.0, top)
            base_ms = _per_group(name, "base_momentum", base_momentum, groups, 0.0, top)
        if last_epoch == -1:
            self._where(0)  # an empty phase at step 0 raises before any group changes
            for i, group in enumerate(groups):
                group["initial_lr"] = max_lrs[i] / div_factor
                group["max_lr"] = max_lrs[i]
                group["min_lr"] = group["initial_lr"] / final_div_factor
                if self.cycle_momentum:
                    self._set_momentum(group, max_ms[i])
                    group["max_momentum"], group["base_momentum"] = max_ms[i], base_ms[i]
        else:
            keys = ["max_lr", "min_lr"] + (["max_momentum", "base_momentum"]
                                           if self.cycle_momentum else [])
            for i, group in enumerate(groups):
                missing = [k for k in keys if k not in group]
                if missing:
                    raise KeyError(f"{name}: param_groups[{i}] has no {missing}; resuming "
                                   f"(last_epoch={last_epoch}) needs an optimizer a "
                                   "OneCycleLR has run on (or its state_dict)")
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, m):
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def _where(self, step):
        """PyTorch's walk through the phases: the phase of ``step`` and how far into it."""
        start = 0.0
        for i, phase in enumerate(self._phases):
            end = phase[0]
            if step <= end or i == len(self._phases) - 1:
                if end == start:  # PyTorch: ZeroDivisionError
                    raise ValueError(
                        f"OneCycleLR: step {step} falls in an empty phase (from step {start} "
                        f"to {end}; pct_start={self.pct_start}, total_steps="
                        f"{self.total_steps}, three_phase={self.three_phase}); PyTorch "
                        "divides by zero here: change pct_start")
                return phase, (step - start) / (end - start)
            start = end
        raise AssertionError("unreachable")  # pragma: no cover

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def on_epoch_begin(self, epoch: int) -> list[float]:
        """Set the lr (and momentum) of step ``epoch`` (a batch count, from 0)."""
        epoch = self._check_epoch(epoch)
        if epoch == self.last_epoch:
            return self.get_last_lr()
        if epoch > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {epoch} times; total_steps is "
                             f"{self.total_steps} (build it with enough steps for the whole "
                             "training)")
        (_, lr0, lr1, m0, m1), pct = self._where(epoch)
        groups = self._groups()
        lrs = [self._anneal(g[lr0], g[lr1], pct) for g in groups]
        # Step total_steps (one past the end) may go below 0 with 'linear', as PyTorch's.
        lrs = self._apply(epoch, lrs, nonnegative=epoch < self.total_steps)
        if self.cycle_momentum:
            for g in groups:
                self._set_momentum(g, self._anneal(g[m0], g[m1], pct))
        return lrs


def _count(name, key, v):
    if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
        raise ValueError(f"{name}: {key} must be an int >= 1, got {v!r}")
    return int(v)


def _per_group(name, key, value, groups, low, high):
    """One number per param group (PyTorch's _format_param), each in [low, high)."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"{name}: {key} has {len(value)} values, the optimizer has "
                             f"{len(groups)} param groups (one value each, or one number)")
        values = list(value)
    else:
        values = [value] * len(groups)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, Real) or not low <= v < high:
            raise ValueError(f"{name}: {key} must be a number in [{low}, {high}), got {v!r}")
    return [float(v) for v in values]


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
