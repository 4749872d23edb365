"""Learning-rate schedulers, usable the PyTorch way and the Keras way: ExponentialLR, StepLR,
MultiStepLR, ConstantLR, LinearLR, PolynomialLR, LambdaLR, CosineAnnealingLR,
CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, ReduceLROnPlateau; and PyTorch's
combinators SequentialLR (one scheduler after another, at milestones) and ChainedScheduler
(several at once, each scaling the lr the previous one left).

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

OneCycleLR and CyclicLR count batches, not epochs (PyTorch steps them after every batch):
``nn.fit`` refuses them as ``scheduler=``; OneCycleLR's docstring shows the callback that
steps one per batch.
"""
from __future__ import annotations

import bisect
import inspect
import math
import warnings
from numbers import Integral, Real

__all__ = ["LRScheduler", "ExponentialLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "PolynomialLR", "LambdaLR", "MultiplicativeLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts",
           "CyclicLR", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"]


# PyTorch's warning, word for word: the first step() of a scheduler before any optimizer.step()
# skips the schedule's first value (in both libraries; PyTorch says so).
_STEP_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. In PyTorch 1.1.0 and "
    "later, you should call them in the opposite order: `optimizer.step()` before "
    "`lr_scheduler.step()`.  Failure to do this will result in PyTorch skipping the first "
    "value of the learning rate schedule. See more details at "
    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate")


def _check_step_order(scheduler) -> None:
    """PyTorch's check at a scheduler's first ``step()``: warn (UserWarning) if its optimizer
    has not stepped yet. ``_step_count`` counts the constructor's step as 1, as PyTorch's."""
    if getattr(scheduler, "_step_count", None) is None:
        return  # the combinators: their schedulers check
    if scheduler._step_count == 1 and not getattr(scheduler.optimizer, "_opt_called", False):
        warnings.warn(_STEP_ORDER_WARNING, UserWarning, stacklevel=3)
    scheduler._step_count += 1


def _count(name, key, v, low=1):
    """``v`` as an int >= ``low`` (a count: bools refused), or ValueError naming ``key``."""
    if isinstance(v, bool) or not isinstance(v, Integral) or v < low:
        raise ValueError(f"{name}: {key} must be an int >= {low}, got {v!r}")
    return int(v)


class LRScheduler:
    """Base class. Subclasses give ``_lr_at(epoch, base_lr, current_lr)``, the lr of
    ``epoch`` from the base lr (the closed form), and may give ``_lr_next(epoch, base_lr,
    current_lr)``, the lr of ``epoch`` from the one in use at ``epoch − 1`` (PyTorch's
    chainable form, used for the next epoch; by default the closed form). A scheduler whose
    lr comes from something else (OneCycleLR's phases, CyclicLR's bounds, the combinators'
    schedulers) overrides ``_set(epoch, chained)`` instead.

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
        last_epoch = _count(type(self).__name__, "last_epoch", last_epoch, low=-1)
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no "
                               f"'initial_lr'; resuming (last_epoch={last_epoch}) needs an "
                               "optimizer that a scheduler has run on (or its state_dict)")
        self.base_lrs = [float(g["initial_lr"]) for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 1  # PyTorch's: the constructor's step is the first
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
        epoch = _count(type(self).__name__, "epoch", epoch, low=0)
        if epoch != self.last_epoch:
            self._set(epoch, chained=epoch == self.last_epoch + 1)
        return self.get_last_lr()

    def _set(self, epoch: int, chained: bool) -> None:
        """Write the rates of ``epoch``: from the rates in use (``chained``: the next epoch,
        PyTorch's ``step()``) or from the base rates (PyTorch's ``step(epoch)``, and
        SequentialLR's restart of a scheduler at its milestone)."""
        groups = self._groups()
        self._apply(epoch, [
            self._lr_for(i, epoch, base, float(group["lr"]), chained)
            for i, (base, group) in enumerate(zip(self.base_lrs, groups, strict=True))], groups)

    def _rewind(self) -> None:
        """One epoch back without touching the rates (PyTorch's SequentialLR undoes the
        initial step of each of its schedulers: its first one then redoes epoch 0)."""
        self.last_epoch -= 1

    def _groups(self) -> list[dict]:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(f"{type(self).__name__}: the optimizer has {len(groups)} param "
                             f"groups, the scheduler was built for {len(self.base_lrs)} "
                             "(add_param_group after the scheduler): build the scheduler "
                             "after adding the group")
        return groups

    def _apply(self, epoch: int, lrs, groups, nonnegative: bool = True) -> None:
        """Check the rates of ``epoch`` (all of them first), then write them into ``groups``
        (``_groups()``, which the caller has checked once)."""
        for lr in lrs:
            if isinstance(lr, bool) or not isinstance(lr, Real) or not math.isfinite(lr) \
                    or (nonnegative and lr < 0):
                raise ValueError(f"{type(self).__name__}: the learning rate for epoch {epoch} "
                                 f"is {lr!r}; it must be a finite number >= 0")
        lrs = [float(lr) for lr in lrs]
        for group, lr in zip(groups, lrs, strict=True):
            group["lr"] = lr
        self.last_epoch = int(epoch)
        self._last_lr = lrs

    def step(self, epoch=None) -> None:
        """Advance one epoch (call after each epoch of training, as in PyTorch); PyTorch's
        deprecated ``step(epoch)`` sets that epoch's lr from the base lr (closed form).
        The first ``step()`` before any ``optimizer.step()`` warns, as PyTorch's."""
        _check_step_order(self)
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
        step_size = _count("StepLR", "step_size", step_size)
        if not isinstance(gamma, Real) or not gamma > 0:
            raise ValueError(f"StepLR: gamma must be > 0, got {gamma!r}")
        self.step_size, self.gamma = step_size, float(gamma)
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

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``, or a torch MultiStepLR's (its milestones are a
        ``Counter`` {epoch: times}: made the sorted list with repeats used here)."""
        state = dict(state)
        m = state.get("milestones")
        if isinstance(m, dict):
            state["milestones"] = sorted(int(e) for e, n in m.items() for _ in range(int(n)))
        super().load_state_dict(state)


class ConstantLR(LRScheduler):
    """Scale the lr by a constant ``factor`` for the first ``total_iters`` epochs (PyTorch's
    rule): ``lr = base_lr · factor`` before epoch ``total_iters``, ``base_lr`` from it on.
    Chained: epoch 0 multiplies the lr in use by ``factor``, epoch ``total_iters`` by
    ``1 / factor``; the epochs between leave it as it is.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = ConstantLR(opt, factor=0.5, total_iters=2)
    >>> [s.on_epoch_begin(e)[0] for e in range(4)]
    [0.5, 0.5, 1.0, 1.0]
    """

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        if isinstance(factor, bool) or not isinstance(factor, Real) or not 0 < factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in (0, 1], got {factor!r} (PyTorch "
                             "takes 0, then divides by it at total_iters)")
        self.factor = float(factor)
        self.total_iters = _count("ConstantLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, epoch, base_lr, current_lr):
        return base_lr * (self.factor + (epoch >= self.total_iters) * (1 - self.factor))

    def _lr_next(self, epoch, base_lr, current_lr):  # PyTorch's get_lr, term for term
        if epoch == 0:
            return current_lr * self.factor
        if epoch != self.total_iters:
            return current_lr
        return current_lr * (1.0 / self.factor)


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
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = _count("LinearLR", "total_iters", total_iters)
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


class PolynomialLR(LRScheduler):
    """Polynomial decay to 0 over ``total_iters`` epochs (PyTorch's rule)::

        lr(epoch) = base_lr · (1 − min(epoch, total_iters) / total_iters) ^ power

    Chained: each step scales the lr in use by ``((1 − e/T) / (1 − (e − 1)/T)) ^ power``
    (T = total_iters), and past T leaves it as it is.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = PolynomialLR(opt, total_iters=4, power=2.0)
    >>> [s.on_epoch_begin(e)[0] for e in range(6)]
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1):
        self.total_iters = _count("PolynomialLR", "total_iters", total_iters)
        if isinstance(power, bool) or not isinstance(power, Real) \
                or not 0 < power < math.inf:
            raise ValueError(f"PolynomialLR: power must be a number > 0, got {power!r}")
        self.power = float(power)
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, epoch, base_lr, current_lr):
        return base_lr * (1.0 - min(self.total_iters, epoch) / self.total_iters) ** self.power

    def _lr_next(self, epoch, base_lr, current_lr):  # PyTorch's get_lr, term for term
        T = self.total_iters
        if epoch == 0 or epoch > T:
            return current_lr
        return current_lr * ((1.0 - epoch / T) / (1.0 - (epoch - 1) / T)) ** self.power


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
        # not saved (_not_saved): functions cannot be
        self.fns = _functions("LambdaLR", fn if fn is not None else lr_lambda, optimizer)
        self.forms = [_lambda_form(f) for f in self.fns]
        super().__init__(optimizer, last_epoch)

    def _lr_for(self, group, epoch, base_lr, current_lr, chained):  # next epoch or not
        fn = self.fns[group]
        if self.forms[group] == "keras":
            return _number(fn(epoch, current_lr))
        return base_lr * _number(fn(epoch))


class MultiplicativeLR(LRScheduler):
    """Multiply the lr in use by ``lr_lambda(epoch)`` at each step (PyTorch's
    MultiplicativeLR): ``lr_e = lr_{e−1} · lr_lambda(e)`` for e ≥ 1, epoch 0 keeps the lr.
    ``lr_lambda`` is one function or a list, one per param group. As PyTorch's, it has no
    closed form: ``step(epoch)`` multiplies the lr in use by ``lr_lambda(epoch)``. The
    functions are not part of ``state_dict()``.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.5)
    >>> [s.on_epoch_begin(e)[0] for e in range(4)]
    [1.0, 0.5, 0.25, 0.125]
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambdas = _functions("MultiplicativeLR", lr_lambda, optimizer, "lr_lambdas")
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"MultiplicativeLR: lr_lambda must be a function of the epoch "
                                f"returning a factor, got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def _lr_for(self, group, epoch, base_lr, current_lr, chained):
        if chained and epoch == 0:  # the constructor's step: the lr as it is
            return current_lr
        return current_lr * _number(self.lr_lambdas[group](epoch))


def _functions(who, fns, optimizer, what="functions") -> list:
    """One function per param group: ``fns`` is one function (for every group) or a list,
    one per group (PyTorch's lr_lambda)."""
    groups = getattr(optimizer, "param_groups", [])
    if not isinstance(fns, (list, tuple)):
        return [fns] * len(groups)
    if len(fns) != len(groups):
        raise ValueError(f"{who}: expected {len(groups)} {what} (one per param group), "
                         f"got {len(fns)}")
    return list(fns)


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
        T_0, T_mult = _count(name, "T_0", T_0), _count(name, "T_mult", T_mult)
        if isinstance(eta_min, bool) or not isinstance(eta_min, Real) \
                or not math.isfinite(eta_min) or eta_min < 0:
            raise ValueError(f"{name}: eta_min must be a number >= 0, got {eta_min!r}")
        self.T_0 = self.T_i = T_0
        self.T_mult, self.eta_min = T_mult, float(eta_min)
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
        """Move on one epoch, or to ``epoch`` (a number >= 0, maybe fractional). (PyTorch's
        does not warn when it is stepped before the optimizer; nor does this one.)"""
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
                                        / 2 for base in self.base_lrs], self._groups())
        self.T_cur, self.T_i = T_cur, T_i

    def _set(self, epoch, chained):
        """Keras's hook: the next epoch is PyTorch's ``step()``, any other ``step(epoch)``."""
        self.step(None if chained else epoch)


class _CyclesMomentum:
    """``cycle_momentum`` (OneCycleLR's, CyclicLR's): the momentum moves against the lr, SGD's
    (and RMSprop's) ``'momentum'``, the Adam family's β₁ (``group['betas'][0]``)."""

    def _momentum_bounds(self, name, optimizer, max_momentum, base_momentum):
        """(max_momentums, base_momentums), one per group; an optimizer with neither
        momentum nor betas raises (ValueError, as PyTorch)."""
        defaults = getattr(optimizer, "defaults", {})
        if "momentum" not in defaults and "betas" not in defaults:
            raise ValueError(f"{name}: {type(optimizer).__name__} has no momentum or "
                             "betas to cycle (cycle_momentum=True); pass "
                             "cycle_momentum=False")
        self.use_beta1 = "betas" in defaults
        top = 1.0 if self.use_beta1 else math.inf  # β₁ < 1
        groups = optimizer.param_groups
        return (_per_group(name, "max_momentum", max_momentum, groups, 0.0, top),
                _per_group(name, "base_momentum", base_momentum, groups, 0.0, top))

    def _set_momentum(self, group, m):
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m


class OneCycleLR(_CyclesMomentum, LRScheduler):
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
        if self.cycle_momentum:
            max_ms, base_ms = self._momentum_bounds(name, optimizer, max_momentum,
                                                    base_momentum)
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

    def _set(self, epoch, chained):
        """Set the lr (and momentum) of step ``epoch`` (a batch count, from 0)."""
        if epoch > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {epoch} times; total_steps is "
                             f"{self.total_steps} (build it with enough steps for the whole "
                             "training)")
        (_, lr0, lr1, m0, m1), pct = self._where(epoch)
        groups = self._groups()
        lrs = [self._anneal(g[lr0], g[lr1], pct) for g in groups]
        # Step total_steps (one past the end) may go below 0 with 'linear', as PyTorch's.
        self._apply(epoch, lrs, groups, nonnegative=epoch < self.total_steps)
        if self.cycle_momentum:
            for g in groups:
                self._set_momentum(g, self._anneal(g[m0], g[m1], pct))


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


class CyclicLR(_CyclesMomentum, LRScheduler):
    r"""Cyclical learning rates (Smith), PyTorch's schedule, stepped after every *batch*: the
    lr goes from ``base_lr`` up to ``max_lr`` in ``step_size_up`` steps and back down in
    ``step_size_down`` (default: the same), the height of each cycle scaled by the mode::

        cycle = ⌊1 + step / S⌋,   x = 1 + step / S − cycle       (S = up + down; x ∈ [0, 1))
        h = x / r  if x ≤ r  else  (x − 1) / (r − 1)              (r = up / S; h ∈ [0, 1])
        lr = base_lr + (max_lr − base_lr) · h · scale

    ``scale`` is 1 ('triangular'), ``1 / 2^(cycle − 1)`` ('triangular2': each cycle half as
    high) or ``gamma^step`` ('exp_range'); or ``scale_fn(cycle)`` / ``scale_fn(step)`` for
    your own ``scale_fn`` with ``scale_mode`` 'cycle' / 'iterations' (then ``mode`` is
    ignored; the function is not part of ``state_dict()``).

    With ``cycle_momentum`` (the default, as PyTorch) the momentum moves the other way,
    ``max_momentum − (max_momentum − base_momentum) · h · scale``: SGD's (and RMSprop's)
    ``'momentum'``, the Adam family's β₁; an optimizer with neither raises (ValueError, as
    PyTorch: pass ``cycle_momentum=False``). ``base_lr``, ``max_lr``, ``base_momentum`` and
    ``max_momentum`` may be lists, one per group. As PyTorch's, building it sets each group's
    lr to ``base_lr`` and writes ``'max_momentum'`` and ``'base_momentum'`` into the groups;
    it is not chainable (each step's lr comes from the bounds alone).

    ``nn.fit(..., scheduler=...)`` steps once per epoch, so it refuses a CyclicLR: step it
    from a callback's ``on_batch_end``, as in OneCycleLR's docstring.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> s = CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2, mode="triangular2")
    >>> lrs, moms = [], []
    >>> for _ in range(9):
    ...     lrs.append(round(s.get_last_lr()[0], 4))
    ...     moms.append(round(opt.param_groups[0]["momentum"], 4))
    ...     s.step()
    >>> lrs
    [0.1, 0.3, 0.5, 0.3, 0.1, 0.2, 0.3, 0.2, 0.1]
    >>> moms   # max_momentum 0.9 at base_lr, base_momentum 0.8 at the first peak
    [0.9, 0.85, 0.8, 0.85, 0.9, 0.875, 0.85, 0.875, 0.9]
    """

    per_batch = True  # nn.fit steps its scheduler per epoch: it refuses this one
    _not_saved = ("optimizer", "scale_fn")  # a function cannot be saved

    def __init__(self, optimizer, base_lr, max_lr, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9,
                 last_epoch: int = -1):
        name = "CyclicLR"
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{name}: expected an optimizer (with param_groups), got "
                            f"{type(optimizer).__name__}")
        groups = optimizer.param_groups
        base_lrs = _per_group(name, "base_lr", base_lr, groups, 0.0, math.inf)
        self.max_lrs = _per_group(name, "max_lr", max_lr, groups, 0.0, math.inf)
        up = _count(name, "step_size_up", step_size_up)
        down = up if step_size_down is None else _count(name, "step_size_down", step_size_down)
        self.total_size = float(up + down)
        self.step_ratio = up / self.total_size
        if scale_fn is None:
            if mode not in ("triangular", "triangular2", "exp_range"):
                raise ValueError(f"{name}: mode must be 'triangular', 'triangular2' or "
                                 f"'exp_range' (or give scale_fn), got {mode!r}")
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        elif not callable(scale_fn):
            raise TypeError(f"{name}: scale_fn must be callable, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"{name}: scale_mode must be 'cycle' or 'iterations', got "
                             f"{scale_mode!r}")
        if isinstance(gamma, bool) or not isinstance(gamma, Real) or not 0 < gamma < math.inf:
            raise ValueError(f"{name}: gamma must be a number > 0, got {gamma!r}")
        self.mode, self.gamma, self.scale_fn, self.scale_mode = mode, float(gamma), scale_fn, \
            scale_mode
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            self.max_momentums, self.base_momentums = self._momentum_bounds(
                name, optimizer, max_momentum, base_momentum)
        if last_epoch == -1:
            for i, group in enumerate(groups):
                group["lr"] = base_lrs[i]
                if self.cycle_momentum:
                    self._set_momentum(group, self.max_momentums[i])
                    group["max_momentum"] = self.max_momentums[i]
                    group["base_momentum"] = self.base_momentums[i]
        super().__init__(optimizer, last_epoch)
        # PyTorch's order: epoch 0 above came from 'initial_lr' (base_lr, unless a scheduler
        # set it before), every later step from base_lr.
        self.base_lrs = base_lrs

    def _scale(self, x):
        if self.scale_fn is not None:
            return self.scale_fn(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def _set(self, epoch, chained):
        """The lr (and momentum) of step ``epoch`` from the bounds (PyTorch's get_lr)."""
        groups = self._groups()
        cycle = math.floor(1 + epoch / self.total_size)
        x = 1.0 + epoch / self.total_size - cycle
        h = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self._scale(cycle if self.scale_mode == "cycle" else epoch)
        self._apply(epoch, [base + (top - base) * h * scale
                            for base, top in zip(self.base_lrs, self.max_lrs, strict=True)],
                    groups)
        if self.cycle_momentum:
            for g, low, top in zip(groups, self.base_momentums, self.max_momentums,
                                   strict=True):
                self._set_momentum(g, top - (top - low) * h * scale)


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
        patience = _count(name, "patience", patience, low=0)
        cooldown = _count(name, "cooldown", cooldown, low=0)
        groups = getattr(optimizer, "param_groups", [])
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(groups):
                raise ValueError(f"{name}: expected {len(groups)} min_lrs (one per param "
                                 f"group), got {len(min_lr)}")
            self.min_lrs = [float(v) for v in min_lr]
            self.default_min_lr = None
        else:
            self.min_lrs = [float(min_lr)] * len(groups)
            self.default_min_lr = float(min_lr)  # PyTorch's: for a group added later
        self.mode, self.factor, self.patience = mode, float(factor), patience
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.eps, self.monitor = cooldown, float(eps), monitor
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
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):  # add_param_group since (PyTorch's rule)
            if getattr(self, "default_min_lr", None) is None:
                raise ValueError(f"ReduceLROnPlateau: the optimizer has {len(groups)} param "
                                 f"groups, min_lr has {len(self.min_lrs)} values: build the "
                                 "scheduler after add_param_group, or give one min_lr number")
            self.min_lrs = [self.default_min_lr] * len(groups)
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


class _Combinator(LRScheduler):
    """SequentialLR's and ChainedScheduler's shared parts: the schedulers they drive (checked,
    and saved in ``state_dict()['_schedulers']``, PyTorch's layout)."""

    _not_saved = ("optimizer", "_schedulers")

    def _take(self, schedulers, optimizer):
        """At least one scheduler, each an nn.optim scheduler on ``optimizer`` (the same
        object), none a ReduceLROnPlateau (PyTorch's rules)."""
        name = type(self).__name__
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError(f"{name}: expects at least one scheduler, got none")
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler):
                raise TypeError(f"{name}: schedulers[{i}] is a {type(s).__name__}, not an "
                                "nn.optim scheduler")
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"{name}: schedulers[{i}] is a ReduceLROnPlateau, which steps "
                                 "on a metric (step(val_loss)): run it on its own")
            if s.optimizer is not optimizer:
                raise ValueError(f"{name}: schedulers[{i}] ({type(s).__name__}) drives another "
                                 f"optimizer than the {type(optimizer).__name__} given; all "
                                 "must drive the same one")
        self._schedulers = schedulers
        self.optimizer = optimizer

    @property
    def per_batch(self) -> bool:
        """Whether one of the schedulers counts batches (OneCycleLR, CyclicLR): ``nn.fit``
        refuses it then, as it refuses them."""
        return any(getattr(s, "per_batch", False) for s in self._schedulers)

    def _rewind(self):
        super()._rewind()
        for s in self._schedulers:
            s._rewind()

    def state_dict(self) -> dict:
        """Its own entries, and ``'_schedulers'``: each scheduler's ``state_dict()``."""
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``; each scheduler's state is checked (its entries) before
        anything changes."""
        name = type(self).__name__
        state = dict(state)
        saved = list(state.pop("_schedulers", ()))
        if len(saved) != len(self._schedulers):
            raise ValueError(f"{name}.load_state_dict: {len(saved)} schedulers' states for "
                             f"{len(self._schedulers)} schedulers")
        for i, (s, sd) in enumerate(zip(self._schedulers, saved, strict=True)):
            own = s.state_dict()  # (a state saved before '_step_count' was kept loads)
            if not isinstance(sd, dict) or (set(sd) ^ set(own)) - {"_step_count"}:
                keys = sorted(sd) if isinstance(sd, dict) else type(sd).__name__
                raise ValueError(f"{name}.load_state_dict: the state of schedulers[{i}] has "
                                 f"{keys}, a {type(s).__name__}'s has {sorted(own)}")
        super().load_state_dict(state)
        for s, sd in zip(self._schedulers, saved, strict=True):
            s.load_state_dict(sd)


class SequentialLR(_Combinator):
    """One scheduler after another (PyTorch's SequentialLR): ``schedulers[0]`` until epoch
    ``milestones[0]``, ``schedulers[1]`` from there until ``milestones[1]``, and so on.

    Each scheduler, built on the optimizer beforehand, has applied its epoch 0; as PyTorch's,
    SequentialLR undoes that: the lr goes back to the base lr (``'initial_lr'``) and only the
    first scheduler applies its epoch 0. Each ``step()`` moves the active scheduler on one
    epoch (chained: from the lr in use); at a milestone the next one restarts at its epoch 0
    from the base lr (PyTorch's closed form, so a lr set by hand before it is overwritten).
    ``on_epoch_begin(n)`` for an epoch that is not the next sets the scheduler active at n to
    its epoch n − (its milestone), from the base lr.

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> warmup = LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> decay = ExponentialLR(opt, gamma=0.5)
    >>> s = SequentialLR(opt, [warmup, decay], milestones=[3])
    >>> [s.on_epoch_begin(e)[0] for e in range(6)]
    [0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        name = "SequentialLR"
        self._take(schedulers, optimizer)
        milestones = list(milestones)
        if len(milestones) != len(self._schedulers) - 1:
            raise ValueError(f"{name}: {len(self._schedulers)} schedulers take "
                             f"{len(self._schedulers) - 1} milestones (the epochs where the "
                             f"next one starts), got {len(milestones)}: {milestones!r}")
        milestones = [_count(name, f"milestones[{i}]", m, low=0)
                      for i, m in enumerate(milestones)]
        if milestones != sorted(milestones):
            raise ValueError(f"{name}: milestones must be in increasing order, got {milestones}")
        if last_epoch != -1:
            raise ValueError(f"{name}: last_epoch={last_epoch!r}; only -1 (a fresh start) is "
                             "supported: to resume, restore its state_dict()")
        self._milestones = milestones
        for group in optimizer.param_groups:  # PyTorch's start, as the docstring says
            group["lr"] = group["initial_lr"]
        self.last_epoch = 0
        for s in self._schedulers:
            s._rewind()
        first = self._schedulers[bisect.bisect_right(milestones, 0)]
        first._step_count = 0  # PyTorch's _initial_step: this step() is its constructor's
        first.step()
        self._last_lr = first.get_last_lr()

    def _set(self, epoch, chained):
        i = bisect.bisect_right(self._milestones, epoch)
        s, start = self._schedulers[i], (self._milestones[i - 1] if i else 0)
        if chained and not (i and start == epoch):
            s.step()  # the active scheduler moves on (PyTorch's step())
        else:  # a restart at its milestone (PyTorch's _update_lr(0)), or a jump
            s._set(epoch - start, chained=False)
        self.last_epoch = epoch
        self._last_lr = s.get_last_lr()


class ChainedScheduler(_Combinator):
    """Several schedulers at once (PyTorch's ChainedScheduler): each ``step()`` steps every
    one of them in order, each scaling the lr the previous one left (they chain, see the
    module docstring), e.g. a warm-up factor times a decay.

    It moves one epoch at a time only: a jump (``on_epoch_begin`` to an epoch that is not the
    next, or a restart as SequentialLR's later scheduler) raises ValueError, as the closed
    forms of its schedulers do not compose (PyTorch's has no ``step(epoch)``).

    >>> import engine
    >>> from nn.optim import SGD
    >>> opt = SGD([engine.zeros(1, requires_grad=True)], lr=1.0)
    >>> s = ChainedScheduler([ConstantLR(opt, factor=0.5, total_iters=2),
    ...                       ExponentialLR(opt, gamma=0.5)])
    >>> [s.on_epoch_begin(e)[0] for e in range(4)]
    [0.5, 0.25, 0.25, 0.125]
    """

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if optimizer is None and schedulers:
            optimizer = getattr(schedulers[0], "optimizer", None)
        self._take(schedulers, optimizer)
        self.last_epoch = 0
        self._last_lr = [float(g["lr"]) for g in optimizer.param_groups]

    def _set(self, epoch, chained):
        if not chained:
            raise ValueError(f"ChainedScheduler: cannot go from epoch {self.last_epoch} to "
                             f"{epoch}: its schedulers compose one step at a time; step it "
                             "once per epoch (restore its state_dict() to resume)")
        for s in self._schedulers:
            s.step()
        self.last_epoch = epoch
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]
