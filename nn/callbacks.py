"""Callbacks that write files -- ``CSVLogger`` and ``TensorBoard`` (Keras's) -- and the
progress bar ``fit`` draws.

The training callbacks (``EarlyStopping``, ``ModelCheckpoint``, ``LearningRateScheduler``,
``TerminateOnNaN``) live in ``nn.training``; this module re-exports them so that
``nn.callbacks`` reads like ``keras.callbacks``.
"""
from __future__ import annotations

import csv
import io
import os
import sys

from .files import atomic_write
from .training import (
    Callback,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
)

__all__ = ["Callback", "CSVLogger", "EarlyStopping", "History", "LearningRateScheduler",
           "ModelCheckpoint", "TensorBoard", "TerminateOnNaN", "progress_bar"]


class CSVLogger(Callback):
    """Write one row per epoch to a CSV file, as Keras's ``CSVLogger``: a header
    ``epoch,<log keys sorted>`` then ``epoch`` (0-based) and each value (``'NA'`` for a key
    missing that epoch).

    ``append=True`` continues an existing file (its header kept; one is written when the
    file is empty or missing), as when resuming with ``initial_epoch``. Unlike Keras, which
    appends each row to an open file, the whole file is rewritten atomically after every
    epoch (temporary file + rename): a crash leaves the rows of the finished epochs, never
    half a row.

    >>> import os, tempfile, numpy as np, nn
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> model = nn.Linear(1, 1)
    >>> _ = nn.fit(model, np.zeros((4, 1)), np.zeros((4, 1)), loss="mse", epochs=2,
    ...            optimizer="sgd", verbose=0, callbacks=[CSVLogger(path)])
    >>> print(open(path).read().strip())
    epoch,loss
    0,0.0
    1,0.0
    """

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self.keys = None
        self._text = ""

    def on_train_begin(self, logs=None):
        self.keys = None
        self._text = ""
        self._header_needed = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self._text = f.read()
            if self._text and not self._text.endswith("\n"):
                raise ValueError(f"CSVLogger: {self.filename} ends in the middle of a line; "
                                 "it is not a log this callback wrote")
            self._header_needed = not self._text

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=self.sep, lineterminator="\n")
        if self._header_needed:
            writer.writerow(["epoch"] + self.keys)
            self._header_needed = False
        writer.writerow([epoch] + [logs.get(k, "NA") for k in self.keys])
        self._text += buffer.getvalue()
        _write_text_atomically(self.filename, self._text)


def _write_text_atomically(path, text):
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            f.write(text)

    atomic_write(path, write, who="CSVLogger")


# ------------------------------------------------------------------------------ TensorBoard
class TensorBoard(Callback):
    """Scalars per epoch for TensorBoard (``tensorboard --logdir logs``), laid out as
    Keras's callback does: training values in ``log_dir/train``, validation values in
    ``log_dir/validation``, each under ``epoch_<name>`` (``epoch_loss``,
    ``epoch_accuracy``; the learning rate as ``epoch_learning_rate``), so TensorBoard
    draws train and validation curves on one chart. Step = the epoch (from 0).

    Writes with ``tensorboardX`` (no TensorFlow or PyTorch needed):
    ``pip install tensorboardX`` (or ``pip install 'stepgrad[tensorboard]'``).
    """

    def __init__(self, log_dir="logs"):
        self.log_dir = os.fspath(log_dir)
        self._writers = {}
        _summary_writer()  # fail now, in one line, rather than after the first epoch

    def _writer(self, which):
        if which not in self._writers:
            self._writers[which] = _summary_writer()(os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            value = float(_plain(value))
            which, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            if name == "lr" and "learning_rate" in logs:
                continue  # fit logs the rate under both names: one curve
            name = "learning_rate" if name == "lr" else name
            self._writer(which).add_scalar(f"epoch_{name}", value, global_step=epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _plain(v):
    """A numpy scalar as a Python number."""
    if hasattr(v, "item") and getattr(v, "size", 1) == 1:
        v = v.item()
    return v


def _summary_writer():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("nn.callbacks.TensorBoard writes with the 'tensorboardX' package, "
                          "which is not installed: pip install tensorboardX (or pip install "
                          "'stepgrad[tensorboard]')") from None
    return SummaryWriter


# ------------------------------------------------------------------------------ progress bar
def progress_bar(total: int, desc: str, verbose=1, unit: str = "batch"):
    """The bar ``fit`` draws for one epoch (a ``tqdm`` bar; ``verbose != 1`` disables it).

    In Jupyter it is tqdm's widget (``tqdm.auto``: one bar that updates in place; without
    ipywidgets, tqdm's text bar), everywhere it writes to **stdout**, as Keras does: not
    to stderr, which notebooks show as pink lines, one per update. When stdout is not a
    terminal (a log file, CI), it redraws at most every 30 s instead of 10 times a second.
    """
    import warnings

    with warnings.catch_warnings():
        # tqdm.auto warns when it runs in Jupyter without ipywidgets; its text bar is fine.
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    interactive = _in_notebook() or _isatty(sys.stdout)
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stdout, leave=True,
                disable=verbose != 1, mininterval=0.1 if interactive else 30.0,
                dynamic_ncols=interactive)


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules and "IPython" in sys.modules


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
