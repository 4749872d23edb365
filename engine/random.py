"""One random generator for engine and nn (init, dropout, shuffling): ``manual_seed`` resets it.

A thread may have its own generator instead (``set_thread_rng``): a DataLoader worker
thread draws from one seeded for it, as each PyTorch worker process has its own, so random
augmentation in ``__getitem__`` is reproducible and no two threads race on one generator.
"""
from __future__ import annotations

import threading

import numpy as np

_rng = np.random.default_rng()


class _Thread(threading.local):
    rng = None  # this thread's own generator, if it has one (a class default: get_rng reads
    #             it on every draw, and a missing attribute of a threading.local is slow)


_thread = _Thread()


class Generator(np.random.Generator):
    """PyTorch's ``torch.Generator()``, as a numpy Generator (so every ``generator=``
    argument takes it) with torch's ``manual_seed(seed)``, which reseeds it and returns it
    (``torch.Generator().manual_seed(2024)`` chains, as in the name-classification
    tutorial's ``random_split``), and ``initial_seed()``. The numbers are numpy's (PCG64):
    ``Generator().manual_seed(s)`` draws as ``np.random.default_rng(s)``, not as torch's.

    >>> import engine
    >>> g = engine.Generator().manual_seed(7)
    >>> int(g.integers(100)) == int(np.random.default_rng(7).integers(100))
    True
    """

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise ValueError(f"Generator: stepgrad runs on the CPU only, got device={device!r}")
        super().__init__(np.random.PCG64())
        self._initial = None

    def manual_seed(self, seed):
        self.bit_generator.state = np.random.PCG64(seed).state
        self._initial = int(seed)
        return self

    def initial_seed(self):
        return self._initial


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random draw in engine and nn, for reproducible runs. In a thread with its
    own generator (a DataLoader worker) it reseeds that one only, as ``torch.manual_seed``
    in a worker process does.

    >>> import engine
    >>> _ = engine.manual_seed(0); a = engine.randn(3)
    >>> _ = engine.manual_seed(0); b = engine.randn(3)
    >>> bool((a.data == b.data).all())
    True
    """
    global _rng
    if _thread.rng is not None:
        _thread.rng = np.random.default_rng(seed)
        return _thread.rng
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng() -> np.random.Generator:
    """The generator to draw from: this thread's own (``set_thread_rng``), else the shared
    one (draw from it; do not keep it across ``manual_seed`` calls)."""
    rng = _thread.rng
    return _rng if rng is None else rng


def set_thread_rng(generator: np.random.Generator | None) -> np.random.Generator | None:
    """Give the calling thread its own generator: engine's random functions and
    ``get_rng()`` in this thread draw from ``generator``, other threads keep theirs (the
    shared one). ``None`` returns the thread to the shared generator. Returns the previous
    one of the thread (None if it had none). DataLoader worker threads use it.

    >>> import threading, numpy as np, engine
    >>> def worker():
    ...     _ = engine.set_thread_rng(np.random.default_rng(7))
    ...     out.append(engine.get_rng().integers(100))
    >>> out = []; t = threading.Thread(target=worker); t.start(); t.join()
    >>> out == [np.random.default_rng(7).integers(100)]
    True
    """
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"set_thread_rng: expected a numpy.random.Generator "
                        f"(np.random.default_rng(seed)) or None, got {type(generator).__name__}")
    previous, _thread.rng = _thread.rng, generator
    return previous


def generator_or_default(what: str, generator) -> np.random.Generator:
    """A draw's ``generator=`` argument (PyTorch's keyword): a numpy Generator, or None for
    ``get_rng()``; anything else is refused, naming the function ``what``."""
    if generator is None:
        return get_rng()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{what}: generator must be a numpy Generator "
                        f"(np.random.default_rng(seed)) or None, got {type(generator).__name__}")
    return generator
