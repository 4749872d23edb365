"""Mini-batches: ``DataLoader``, samplers, ``TensorDataset`` and ``train_test_split``.

Everything here works on numpy arrays and yields numpy arrays; the training loop
wraps batches into engine Tensors, so this module needs no engine import (only
the shared random generator, looked up lazily in ``_rng``). Engine Tensors are
accepted wherever an array is: their ``.data`` is used.
"""
from __future__ import annotations

import math
from numbers import Integral

import numpy as np

__all__ = ["DataLoader", "TensorDataset", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "train_test_split"]

_fallback_rng = None


def _rng() -> np.random.Generator:
    """engine's shared generator (seeded by ``engine.manual_seed``), else a private one.

    Looked up on every draw: ``manual_seed`` replaces the generator object.
    """
    try:
        from engine.random import get_rng
    except ImportError:  # nn.data used without engine
        global _fallback_rng
        if _fallback_rng is None:
            _fallback_rng = np.random.default_rng()
        return _fallback_rng
    return get_rng()


def _as_array(a, who: str, name: str) -> np.ndarray:
    """ndarray view of ``a`` (a Tensor's ``.data``, or ``np.asarray``), at least 1-D."""
    data = getattr(a, "data", None)
    arr = data if isinstance(data, np.ndarray) and not isinstance(a, np.ndarray) \
        else np.asarray(a)
    if arr.ndim == 0:
        raise ValueError(f"{who}: {name} must have a first (sample) axis, got a 0-d array")
    return arr


def _is_dataset(x) -> bool:
    """A dataset is indexable and sized but not array-like (lists and Tensors are arrays)."""
    return (not isinstance(x, (np.ndarray, list, tuple)) and not hasattr(x, "__array__")
            and hasattr(x, "__len__") and hasattr(x, "__getitem__"))


def _check_lengths(who: str, names, arrays) -> int:
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        listed = ", ".join(f"len({n})={k}" for n, k in zip(names, lengths, strict=True))
        raise ValueError(f"{who}: arrays disagree in length: {listed}")
    return lengths[0]


def _count(who: str, n) -> int:
    if not isinstance(n, Integral) or isinstance(n, bool) or n < 0:
        raise ValueError(f"{who}: expected a length >= 0, got {n!r}")
    return int(n)


class TensorDataset:
    """Samples are the rows of several arrays: ``ds[i] == (a[i], b[i], ...)`` (always a tuple).

    ``ds[index_array]`` gives a tuple of batches, which ``DataLoader`` uses to
    batch without a Python loop.

    >>> ds = TensorDataset(np.arange(6).reshape(3, 2), np.array([0, 1, 0]))
    >>> x1, y1 = ds[1]
    >>> len(ds), x1.tolist(), int(y1)
    (3, [2, 3], 1)
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        self.arrays = tuple(_as_array(a, "TensorDataset", f"arrays[{i}]")
                            for i, a in enumerate(arrays))
        _check_lengths("TensorDataset", [f"arrays[{i}]" for i in range(len(arrays))],
                       self.arrays)

    tensors = property(lambda self: self.arrays)  # PyTorch's name

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __repr__(self):
        return f"TensorDataset({', '.join(str(a.shape) for a in self.arrays)})"


class SequentialSampler:
    """Indices ``0, 1, ..., n-1`` in order; ``data`` is a length or anything with ``len``.

    >>> list(SequentialSampler(3))
    [0, 1, 2]
    """

    def __init__(self, data):
        self.n = _count("SequentialSampler", data if isinstance(data, Integral) else len(data))

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class RandomSampler:
    """A fresh random order of ``0..n-1`` on every pass (PyTorch semantics).

    ``replacement=True`` draws ``num_samples`` indices (default n) with replacement.
    Draws come from engine's shared generator, so ``engine.manual_seed`` fixes
    them, unless a ``generator`` (a ``np.random.Generator``) is given.

    >>> s = RandomSampler(5, generator=np.random.default_rng(0))
    >>> sorted(s), len(s)
    ([0, 1, 2, 3, 4], 5)
    """

    def __init__(self, data, replacement=False, num_samples=None, generator=None):
        self.n = _count("RandomSampler", data if isinstance(data, Integral) else len(data))
        self.replacement = replacement
        self.num_samples = self.n if num_samples is None else _count("RandomSampler",
                                                                     num_samples)
        if not replacement and self.num_samples != self.n:
            raise ValueError(f"RandomSampler: num_samples={num_samples} needs "
                             f"replacement=True (there are {self.n} samples)")
        if replacement and self.n == 0 and self.num_samples > 0:
            raise ValueError("RandomSampler: cannot draw with replacement from 0 samples")
        self.generator = generator

    def __iter__(self):
        rng = self.generator if self.generator is not None else _rng()
        if self.replacement:
            idx = rng.integers(0, self.n, size=self.num_samples)
        else:
            idx = rng.permutation(self.n)
        return iter(idx.tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler:
    """The given indices, in a fresh random order on every pass (PyTorch semantics).

    The usual split: ``idx = rng.permutation(n)``, then one loader with
    ``SubsetRandomSampler(idx[:k])`` and one with ``SubsetRandomSampler(idx[k:])``.

    >>> s = SubsetRandomSampler([7, 3, 5], generator=np.random.default_rng(0))
    >>> sorted(s), len(s)
    ([3, 5, 7], 3)
    """

    def __init__(self, indices, generator=None):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.generator = generator

    def __iter__(self):
        rng = self.generator if self.generator is not None else _rng()
        return iter(self.indices[rng.permutation(len(self.indices))].tolist())

    def __len__(self):
        return len(self.indices)


class DataLoader:
    """Iterate over mini-batches of arrays ``x`` (and ``y``), or of a dataset.

    - ``DataLoader(x, y)``: each batch is ``(x[idx], y[idx])``, numpy arrays of
      shapes ``(b, *x.shape[1:])`` and ``(b, *y.shape[1:])``, ``b <= batch_size``.
    - ``DataLoader(x)``: each batch is just ``x[idx]`` (no 1-tuples).
    - ``DataLoader(dataset)``: ``dataset`` has ``__len__`` and ``__getitem__``
      returning a tuple of fields (or one array); each field is stacked along a
      new first axis, and a single field is yielded on its own.

    Order: ``0..n-1`` (default), a fresh permutation every epoch (``shuffle=True``,
    drawn from engine's generator, so ``engine.manual_seed`` fixes it), or a
    ``sampler`` (any iterable of indices, e.g. ``SubsetRandomSampler``).
    ``drop_last=True`` drops a final short batch. ``len(loader)`` is the number of
    batches: ``ceil(m / batch_size)`` (``floor`` with ``drop_last``), m samples
    per epoch. Batches are copies: changing one never changes the data.

    >>> x = np.arange(10).reshape(5, 2); y = np.arange(5)
    >>> loader = DataLoader(x, y, batch_size=2)
    >>> len(loader), [yb.tolist() for _, yb in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=False, sampler=None,
                 drop_last=False):
        if not isinstance(batch_size, Integral) or isinstance(batch_size, bool) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be an integer >= 1, "
                             f"got {batch_size!r}")
        if shuffle and sampler is not None:
            raise ValueError("DataLoader: give shuffle=True or a sampler, not both "
                             "(the sampler decides the order)")
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), \
            bool(drop_last)
        if _is_dataset(x):
            if y is not None:
                raise ValueError("DataLoader: y must be None when x is a dataset "
                                 f"({type(x).__name__}); its items carry the targets")
            self.dataset, self.x, self.y = x, None, None
        else:
            self.x = _as_array(x, "DataLoader", "x")
            self.y = None if y is None else _as_array(y, "DataLoader", "y")
            if self.y is not None:
                _check_lengths("DataLoader", ["x", "y"], [self.x, self.y])
            self.dataset = None
        n = len(self.dataset) if self.dataset is not None else len(self.x)
        if sampler is None:
            sampler = RandomSampler(n) if shuffle else SequentialSampler(n)
        self.sampler = sampler

    def __len__(self):
        m = len(self.sampler)
        return m // self.batch_size if self.drop_last else math.ceil(m / self.batch_size)

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield self._fetch(batch)
                batch = []
        if batch and not self.drop_last:
            yield self._fetch(batch)

    def _fetch(self, batch):
        idx = np.asarray(batch, dtype=np.int64)
        if self.dataset is None:
            return self.x[idx] if self.y is None else (self.x[idx], self.y[idx])
        if isinstance(self.dataset, TensorDataset):
            fields = self.dataset[idx]  # fancy indexing: one copy per array
        else:
            items = [self.dataset[int(i)] for i in idx]
            if not isinstance(items[0], tuple):
                return np.stack([np.asarray(it) for it in items])
            fields = tuple(np.stack([np.asarray(it[k]) for it in items])
                           for k in range(len(items[0])))
        return fields[0] if len(fields) == 1 else fields

    def __repr__(self):
        data = (repr(self.dataset) if self.dataset is not None else
                f"x{self.x.shape}" + ("" if self.y is None else f", y{self.y.shape}"))
        return (f"DataLoader({data}, batch_size={self.batch_size}, "
                f"sampler={type(self.sampler).__name__}, drop_last={self.drop_last})")


def train_test_split(*arrays, test_size=0.25, shuffle=True, seed=None):
    """Split arrays into train and test rows: ``[a_train, a_test, b_train, b_test, ...]``.

    scikit-learn's order and arithmetic: a float ``test_size`` in (0, 1) gives
    ``n_test = ceil(test_size * n)``, an int gives n_test itself; the rest is train.
    With ``shuffle``, ``perm = np.random.RandomState(seed).permutation(n)``, test rows
    are ``perm[:n_test]`` and train rows ``perm[n_test:]`` -- the same split as
    ``sklearn.model_selection.train_test_split(..., random_state=seed)``. With
    ``seed=None`` the permutation comes from engine's generator (``engine.manual_seed``).
    Without shuffle, the last n_test rows are the test set.

    >>> x = np.arange(10).reshape(5, 2); y = np.arange(5)
    >>> x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.4, seed=0)
    >>> x_tr.shape, x_te.shape, y_te.tolist()
    ((3, 2), (2, 2), [2, 0])
    """
    who = "train_test_split"
    if not arrays:
        raise ValueError(f"{who}: needs at least one array")
    arrays = [_as_array(a, who, f"arrays[{i}]") for i, a in enumerate(arrays)]
    n = _check_lengths(who, [f"arrays[{i}]" for i in range(len(arrays))], arrays)
    if isinstance(test_size, Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
    elif isinstance(test_size, float) and 0.0 < test_size < 1.0:
        n_test = math.ceil(test_size * n)
    else:
        raise ValueError(f"{who}: test_size must be a float in (0, 1) or an int, "
                         f"got {test_size!r}")
    if not 0 < n_test < n:
        raise ValueError(f"{who}: test_size={test_size!r} with {n} samples gives "
                         f"{n_test} test and {n - n_test} train samples; both must be >= 1")
    if shuffle:
        perm = (_rng() if seed is None else np.random.RandomState(seed)).permutation(n)
        test, train = perm[:n_test], perm[n_test:]
    else:
        train, test = np.arange(n - n_test), np.arange(n - n_test, n)
    return [part for a in arrays for part in (a[train], a[test])]
