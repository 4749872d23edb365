"""Callbacks for ``nn.fit``, Keras's way: ``Callback`` (the base class), ``CSVLogger``,
``TensorBoard``, and the progress bar ``fit`` shows.

``EarlyStopping``, ``ModelCheckpoint``, ``LearningRateScheduler``, ``TerminateOnNaN`` and
``History`` live in ``nn.training`` and can be imported from here too
(``from nn.callbacks import EarlyStopping``), as from ``keras.callbacks``.
"""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

__all__ = ["Callback", "CSVLogger", "TensorBoard", "progress_bar"]

# Defined in nn.training (which imports this module): reachable here on first use.
_FROM_TRAINING = ("EarlyStopping", "History", "LearningRateScheduler", "ModelCheckpoint",
                  "TerminateOnNaN")


def __getattr__(name):
    if name in _FROM_TRAINING:
        from . import training
        return getattr(training, name)
    raise AttributeError(f"module 'nn.callbacks' has no attribute {name!r}")


class Callback:
    """Base class of fit's callbacks: override the hooks you need.

    ``fit`` sets ``model``, ``optimizer``, ``scheduler`` (or None) and ``params`` (epochs,
    steps, batch_size, ...) before ``on_train_begin``. ``logs`` at epoch end hold 'loss',
    the metrics, 'val_*' entries and 'lr' (when a schedule runs). Set
    ``self.model.stop_training = True`` to stop after the current epoch (as in Keras).
    """

    model = None
    optimizer = None
    scheduler = None
    params: dict = {}

    def set_model(self, model): self.model = model
    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass


# ------------------------------------------------------------------------------- CSVLogger
class CSVLogger(Callback):
    """Keras's ``CSVLogger``: one row per epoch -- ``epoch`` (from 0) and every log value
    (loss, metrics, val_*, lr) in sorted column order -- written and flushed as each epoch
    ends, so the file is readable while training runs.

    ``append=True`` continues an existing file (a resumed run) without repeating its
    header. A value missing in a later epoch is written ``NA``, as Keras does.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> log = CSVLogger(path)
    >>> log.on_train_begin(); log.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    >>> log.on_train_end(); print(open(path).read(), end="")
    epoch,loss,val_loss
    0,0.5,0.75
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys, self._file, self._writer = None, None, None

    def on_train_begin(self, logs=None):
        path = Path(self.filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        has_header = self.append and path.exists() and path.stat().st_size > 0
        self.keys = None
        if has_header:
            with open(path, newline="") as f:
                header = next(csv.reader(f, delimiter=self.sep), None)
            self.keys = header[1:] if header and header[0] == "epoch" else None
        self._file = open(path, "a" if self.append else "w", newline="")
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self._file is None:  # used outside fit: open as fit would
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self.keys],
                                          delimiter=self.sep, restval="NA",
                                          extrasaction="ignore")
            if self._file.tell() == 0:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: _plain(v) for k, v in logs.items()}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file, self._writer = None, None


def _plain(v):
    """A number as Python writes it (repr: no precision lost)."""
    if hasattr(v, "item") and getattr(v, "size", 1) == 1:
        v = v.item()
    return v


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
            name = "learning_rate" if name == "lr" else name
            self._writer(which).add_scalar(f"epoch_{name}", value, global_step=epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _summary_writer():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError("nn.callbacks.TensorBoard writes with the 'tensorboardX' package, "
                          "which is not installed: pip install tensorboardX (or pip install "
                          "'stepgrad[tensorboard]')") from None
    return SummaryWriter


# ------------------------------------------------------------------------------ progress bar
def progress_bar(total: int, desc: str, verbose: int = 1):
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
    return tqdm(total=total, desc=desc, unit="batch", file=sys.stdout, leave=True,
                disable=verbose != 1, mininterval=0.1 if interactive else 30.0,
                dynamic_ncols=interactive)


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules and "IPython" in sys.modules


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
