"""Keras's callbacks, as ``from nn.keras.callbacks import LearningRateScheduler``.

All but ``ReduceLROnPlateau`` are ``nn.training``'s (and ``nn.callbacks``'s) classes. This
``ReduceLROnPlateau`` is Keras's rule (``nn.optim.ReduceLROnPlateau`` is PyTorch's):
improvement means ``current < best − min_delta`` ('min' mode; 'auto' maximises names with
'acc'), the lr is cut after ``patience`` epochs without one (PyTorch: ``patience + 1``),
``lr ← max(lr·factor, min_lr)`` when ``lr > min_lr``, then ``cooldown`` epochs during which
the wait count stays 0.
"""
from __future__ import annotations

import math
import warnings

from ..callbacks import CSVLogger
from ..training import (
    Callback,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
    _monitor_op,
)

__all__ = ["Callback", "CSVLogger", "EarlyStopping", "History", "LearningRateScheduler",
           "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN"]


class ReduceLROnPlateau(Callback):
    """Keras's ``ReduceLROnPlateau(monitor='val_loss', factor=0.1, patience=10, verbose=0,
    mode='auto', min_delta=1e-4, cooldown=0, min_lr=0.0)`` (see the module docstring).
    Changes every param group's lr; ``fit`` records the lr of each epoch in ``'lr'``."""

    changes_lr = True

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, got "
                             f"{factor}")
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.verbose, self.min_delta = verbose, float(min_delta)
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)
        self.mode = _monitor_op(mode, monitor, "ReduceLROnPlateau")
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait, self.cooldown_counter = 0, 0

    def _improved(self, current):
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"ReduceLROnPlateau: monitor {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs or {})})", stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.optimizer.param_groups[0]["lr"])
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    for group in self.optimizer.param_groups:
                        group["lr"] = new
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0
