"""Callbacks that write files: ``CSVLogger`` (Keras's).

The training callbacks (``EarlyStopping``, ``ModelCheckpoint``, ``LearningRateScheduler``,
``TerminateOnNaN``) live in ``nn.training``; this module re-exports them so that
``nn.callbacks`` reads like ``keras.callbacks``.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile

from .serialization import _fsync_dir, publish_mode
from .training import (
    Callback,
    EarlyStopping,
    History,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
)

__all__ = ["Callback", "CSVLogger", "EarlyStopping", "History", "LearningRateScheduler",
           "ModelCheckpoint", "TerminateOnNaN"]


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
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            publish_mode(tmp)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)
