"""Data pipelines as PyTorch's: ``Dataset``, ``IterableDataset``, ``TensorDataset``,
``Subset``, ``ConcatDataset``, ``ChainDataset``, ``random_split``, samplers, ``DataLoader``
(with parallel workers) and ``train_test_split``.

Everything here works on numpy arrays; ``DataLoader`` yields its batches as engine
Tensors (``default_collate`` itself gives numpy arrays). Engine Tensors are accepted
wherever an array is (their ``.data`` is used). Random draws (shuffling, ``random_split``,
the random samplers) come from engine's shared generator, so ``engine.manual_seed`` fixes
them, unless a ``generator`` (a ``np.random.Generator``) is given; worker threads draw
from generators of their own, seeded from it (see :class:`DataLoader`).

The PyTorch way, line for line::

    data = TensorDataset(images, labels)          # or your own Dataset subclass
    idx = np.random.permutation(len(data))        # torch.randperm(len(data))
    train_loader = DataLoader(data, sampler=SubsetRandomSampler(idx[:k]), batch_size=10,
                              num_workers=4)
    for xb, yb in train_loader: ...

Differences from PyTorch, all deliberate: batches are engine Tensors, float ones in the
default float dtype (float32: numpy float64 data and Python floats, float64 in PyTorch's
batches, come as float32; an engine Tensor made float64 stays float64); ``DataLoader(x, y)``
also takes plain arrays (yielding ``x[idx]`` or ``(x[idx], y[idx])``); workers are threads,
not processes (see :class:`DataLoader`); the random draws come from numpy, so a seed gives
other orders and splits than the same seed in PyTorch (same sizes, same rules).
"""
from __future__ import annotations

import collections.abc
import gc
import itertools
import math
import threading
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from numbers import Integral, Real

import numpy as np

import engine

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "random_split",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DataLoader", "default_collate",
           "get_worker_info", "train_test_split"]


def _rng(generator=None) -> np.random.Generator:
    """``generator`` if given, else engine's shared generator (seeded by
    ``engine.manual_seed``), looked up on every draw since ``manual_seed`` replaces it."""
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator "
                            f"(np.random.default_rng(seed)), got {type(generator).__name__}")
        return generator
    from engine import get_rng
    return get_rng()


def _checked_generator(generator):
    """A sampler's ``generator`` argument, type-checked when the sampler is made (not at its
    first draw): None or a numpy Generator."""
    return generator if generator is None else _rng(generator)


def _as_array(a, who: str, name: str) -> np.ndarray:
    """ndarray view of ``a`` (a Tensor's ``.data``, or ``np.asarray``), at least 1-D."""
    data = getattr(a, "data", None)
    arr = data if isinstance(data, np.ndarray) and not isinstance(a, np.ndarray) \
        else np.asarray(a)
    if arr.ndim == 0:
        raise ValueError(f"{who}: {name} must have a first (sample) axis, got a 0-d array")
    return arr


def _rows_of(arr, index, exact: bool):
    """``arr[index]`` for a batch: an engine Tensor in the array's own dtype when it came
    from an engine Tensor (``exact``: the user chose that dtype, e.g. float64), else the
    numpy rows (``_tensors`` gives them the default float dtype, as ``engine.tensor``)."""
    rows = np.asarray(arr[index])  # (one sample: a 0-d array, not a numpy scalar)
    return engine.from_numpy(rows) if exact else rows


def _is_dataset(x) -> bool:
    """A dataset is indexable and sized but not array-like (lists and Tensors are arrays)."""
    return (not isinstance(x, (np.ndarray, list, tuple)) and not hasattr(x, "__array__")
            and hasattr(x, "__len__") and hasattr(x, "__getitem__"))


def _is_sample_list(x) -> bool:
    """A list (or tuple) of samples that are not plain numbers — ``(x, y)`` tuples, lists,
    dicts, strings, arrays (of any shapes) — which PyTorch's DataLoader indexes and collates
    as a dataset (``list(zip(X, Y))``): batches are ``[xb, yb]``, not rows of one array
    (``xb, yb = batch`` would then unpack two samples), strings stay strings, and
    variable-length arrays reach a ``collate_fn`` (``np.asarray`` would refuse them)."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and \
        not isinstance(x[0], (Real, np.generic))


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


def _flag(who: str, name: str, value) -> bool:
    """``value`` as a bool; PyTorch refuses anything else (``drop_last="no"`` is True)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{who}: {name} must be True or False, got {value!r}")
    return bool(value)


def _indices(who, indices) -> np.ndarray:
    """A 1-D int64 array of indices (from a list, an array or an engine Tensor)."""
    arr = np.asarray(indices)
    if arr.dtype.kind not in "iu" and arr.size:
        raise TypeError(f"{who}: indices must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False).reshape(-1)


# -------------------------------------------------------------------------------- datasets
class Dataset:
    """The map-style dataset protocol: ``len(ds)`` samples, ``ds[i]`` the i-th (usually a
    tuple ``(x, y)``). Subclass it and write ``__len__`` and ``__getitem__``; any object with
    those two methods works too. ``ds1 + ds2`` concatenates (``ConcatDataset``)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """The iterable-style dataset protocol: subclass it and write ``__iter__`` (a stream of
    samples: lines of a file, a generator); there is no ``ds[i]``. ``DataLoader`` batches
    the stream in its order (no ``shuffle``, ``sampler`` or ``batch_sampler``), and
    ``len(loader)`` needs a ``__len__`` of yours. With ``num_workers > 0`` each worker
    iterates the WHOLE dataset, as in PyTorch: split the work in ``__iter__`` with
    ``get_worker_info()``, or every sample comes ``num_workers`` times.
    ``ds1 + ds2`` chains them (``ChainDataset``).

    >>> class Count(IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(5))
    >>> [b.tolist() for b in DataLoader(Count(), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} has no __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable datasets one after the other (PyTorch's ``ChainDataset``)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError("ChainDataset only chains IterableDatasets, got "
                                f"{type(d).__name__}; use ConcatDataset for map-style ones")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class TensorDataset(Dataset):
    """Samples are the rows of several arrays: ``ds[i] == (a[i], b[i], ...)`` (always a tuple,
    of engine Tensors, as PyTorch's TensorDataset gives tensors: an engine Tensor's rows keep
    its dtype; numpy floats come in the default dtype, as ``engine.tensor`` makes them).

    ``ds[index_array]`` gives a tuple of batches, which ``DataLoader`` uses to batch
    without a Python loop.

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
        self._exact = tuple(isinstance(a, engine.Tensor) for a in arrays)
        _check_lengths("TensorDataset", [f"arrays[{i}]" for i in range(len(arrays))],
                       self.arrays)

    tensors = property(lambda self: self.arrays)  # PyTorch's name

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        # engine Tensors, as PyTorch's TensorDataset gives tensors (as DataLoader's batches)
        return _tensors(self._rows(index))

    def _rows(self, index):
        """The arrays' rows at ``index`` (DataLoader's batching): numpy, or a Tensor for an
        array given as an engine Tensor (its dtype kept)."""
        return tuple(_rows_of(a, index, exact)
                     for a, exact in zip(self.arrays, self._exact, strict=True))

    def __repr__(self):
        return f"TensorDataset({', '.join(str(a.shape) for a in self.arrays)})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``: ``Subset(ds, idx)[i] == ds[idx[i]]``.

    >>> s = Subset(TensorDataset(np.arange(10)), [7, 2])
    >>> len(s), int(s[1][0])
    (2, 2)
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = _indices("Subset", indices)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must be in [0, {n}) for a dataset of {n} "
                             f"samples, got min {self.indices.min()}, max {self.indices.max()}")

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray, slice)):  # PyTorch: dataset[[indices...]]
            return self.dataset[self.indices[index].tolist()]
        return self.dataset[int(self.indices[index])]

    def _take(self, idx):
        """Batch fetch for DataLoader's fast path (a Subset of a TensorDataset)."""
        return self.dataset._rows(self.indices[idx])


class ConcatDataset(Dataset):
    """Several datasets one after the other: ``len`` is the sum of their lengths."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError(f"ConcatDataset: {type(d).__name__} is an IterableDataset "
                                "(no ds[i]); chain iterable datasets with ChainDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"ConcatDataset: index out of range for {len(self)} samples")
        k = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    As PyTorch: ``lengths`` are sizes summing to ``len(dataset)``, or fractions summing to
    1 (each gets ``floor(n · fraction)``, then the remainder goes one sample at a time to
    the first splits, round robin). The splits are consecutive runs of one random
    permutation of ``0..n-1``, drawn from ``generator`` (``np.random.default_rng(42)``, or
    ``engine.Generator().manual_seed(42)``, the same) or engine's generator: the sizes are
    PyTorch's, but the samples in each split differ from the ones PyTorch picks for the same
    seed (``torch.Generator().manual_seed(42)``: another random number generator).

    >>> import engine; _ = engine.manual_seed(0)
    >>> a, b = random_split(TensorDataset(np.arange(10)), [0.7, 0.3])
    >>> len(a), len(b), sorted(int(a[i][0]) for i in range(7)) != list(range(7))
    (7, 3, True)
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(f, Real) and not isinstance(f, Integral) for f in lengths) \
            and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0 + 1e-9:
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must be in [0, 1], got {lengths}")
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this "
                              "results in an empty dataset", stacklevel=2)
        lengths = sizes
    if any(isinstance(k, bool) or not isinstance(k, Integral) or k < 0 for k in lengths):
        raise ValueError(f"random_split: lengths must be ints >= 0 summing to {n}, or "
                         f"fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths sum to {sum(lengths)}, the dataset has "
                         f"{n} samples")
    perm = _rng(generator).permutation(n)
    ends = list(itertools.accumulate(lengths))
    return [Subset(dataset, perm[end - k:end]) for end, k in zip(ends, lengths, strict=True)]


# -------------------------------------------------------------------------------- samplers
class Sampler:
    """Base class: an iterable of dataset indices, with ``__len__`` when known."""

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., n-1`` in order; ``data_source`` is a dataset or a length.

    >>> list(SequentialSampler(3))
    [0, 1, 2]
    """

    def __init__(self, data_source):
        self.n = _count("SequentialSampler", data_source if isinstance(data_source, Integral)
                        else len(data_source))

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class RandomSampler(Sampler):
    """A fresh random order of ``0..n-1`` on every pass (PyTorch semantics).

    ``replacement=True`` draws ``num_samples`` indices (default n) with replacement;
    without replacement, ``num_samples`` (default n) takes whole permutations of ``0..n-1``
    one after another and the first ``num_samples % n`` indices of one more, as PyTorch.

    >>> s = RandomSampler(5, generator=np.random.default_rng(0))
    >>> sorted(s), len(s)
    ([0, 1, 2, 3, 4], 5)
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.n = _count("RandomSampler", data_source if isinstance(data_source, Integral)
                        else len(data_source))
        self.replacement = bool(replacement)
        self.num_samples = self.n if num_samples is None else _count("RandomSampler",
                                                                     num_samples)
        if self.n == 0 and self.num_samples > 0:
            raise ValueError(f"RandomSampler: cannot draw {self.num_samples} samples from 0")
        self.generator = _checked_generator(generator)

    def __iter__(self):
        rng = _rng(self.generator)
        if self.replacement:
            return iter(rng.integers(0, self.n, size=self.num_samples).tolist())
        if self.num_samples == self.n:
            return iter(rng.permutation(self.n).tolist())
        full, rest = divmod(self.num_samples, self.n)  # n > 0: __init__ refuses n = 0 here
        parts = [rng.permutation(self.n) for _ in range(full)]
        parts.append(rng.permutation(self.n)[:rest])
        return iter(np.concatenate(parts).tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a fresh random order on every pass (PyTorch semantics).

    The usual split: ``idx = permutation(n)``, then one loader with
    ``SubsetRandomSampler(idx[:k])`` and one with ``SubsetRandomSampler(idx[k:])``.

    >>> s = SubsetRandomSampler([7, 3, 5], generator=np.random.default_rng(0))
    >>> sorted(s), len(s)
    ([3, 5, 7], 3)
    """

    def __init__(self, indices, generator=None):
        self.indices = _indices("SubsetRandomSampler", indices)
        self.generator = _checked_generator(generator)

    def __iter__(self):
        order = _rng(self.generator).permutation(len(self.indices))
        return iter(self.indices[order].tolist())

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``
    (with replacement by default), as PyTorch's: e.g. weights = 1 / class frequency of each
    sample's label, to see the classes equally often.

    >>> s = WeightedRandomSampler([0.0, 1.0, 0.0], 4, generator=np.random.default_rng(0))
    >>> list(s)
    [1, 1, 1, 1]
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError("WeightedRandomSampler: weights must be 1-D, one per sample, got "
                             f"shape {w.shape}" + ("; flatten them: weights.reshape(-1)"
                                                   if w.size == len(w) else ""))
        if w.size == 0 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, >= 0, and not "
                             f"all zero; got {np.asarray(weights)!r:.80}")
        self.num_samples = _count("WeightedRandomSampler", num_samples)
        if not replacement and self.num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {self.num_samples} samples "
                             f"without replacement from {np.count_nonzero(w)} with weight > 0")
        self.weights, self.replacement = w, bool(replacement)
        self.generator = _checked_generator(generator)

    def __iter__(self):
        p = self.weights / self.weights.sum()
        idx = _rng(self.generator).choice(len(p), size=self.num_samples,
                                          replace=self.replacement, p=p)
        return iter(idx.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter
    unless ``drop_last``).

    >>> list(BatchSampler(SequentialSampler(5), 2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) \
                or batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size must be an integer >= 1, "
                             f"got {batch_size!r}")
        self.sampler, self.batch_size = sampler, int(batch_size)
        self.drop_last = _flag("BatchSampler", "drop_last", drop_last)

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        m = len(self.sampler)
        return m // self.batch_size if self.drop_last else math.ceil(m / self.batch_size)


# -------------------------------------------------------------------------------- collate
def default_collate(batch):
    """Stack a list of samples into a batch, as PyTorch's ``default_collate`` (numpy out):

    arrays / numpy scalars → ``np.stack`` (new first axis); engine Tensors → their stack as
    an engine Tensor of their dtype (as ``torch.stack``); Python numbers → a 1-D array
    (floats float64, ints int64, bools bool, as PyTorch); strings → the list itself; a
    dict → a dict of collated values; a tuple or list of fields → a LIST of collated fields
    (``(x, y)`` samples give ``[xb, yb]``).

    >>> xb, yb = default_collate([(np.zeros(2), 0), (np.ones(2), 1)])
    >>> xb.shape, yb.tolist()
    ((2, 2), [0, 1])
    """
    elem = batch[0]
    if isinstance(elem, np.ndarray) or isinstance(elem, np.generic) \
            or (hasattr(elem, "__array__") and hasattr(elem, "shape")):
        try:
            stacked = np.stack([np.asarray(b) for b in batch])
        except ValueError as e:
            shapes = sorted({np.shape(b) for b in batch})
            raise ValueError(f"default_collate: samples of different shapes {shapes} cannot "
                             f"be stacked into a batch ({e}); pad them or give collate_fn"
                             ) from None
        if all(isinstance(b, engine.Tensor) for b in batch):  # a float64 Tensor stays float64
            return engine.from_numpy(stacked)
        return stacked
    if isinstance(elem, (bool, int, float, complex)):
        return np.asarray(batch)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("default_collate: each element in the batch should be of "
                               f"equal size, got lengths {sorted({len(b) for b in batch})}")
        return [default_collate(list(s)) for s in zip(*batch, strict=True)]
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__}; "
                    "return arrays, numbers, dicts or tuples from __getitem__, or give "
                    "collate_fn")


# -------------------------------------------------------------------------------- workers
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``,
    ``seed`` (its generator's: ``base_seed + id``, see :class:`DataLoader`), ``dataset``."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_local = threading.local()


def get_worker_info():
    """Inside a DataLoader worker: its ``WorkerInfo``; in the main thread: None (PyTorch)."""
    return getattr(_worker_local, "info", None)


_END = object()  # a worker's stream of an IterableDataset has ended


# Set while the cyclic garbage collector runs (gc.callbacks): a finalizer it calls can be
# inside threading's own bookkeeping, which holds the lock that Thread.join takes -- a join
# there never returns (the landing CI hung so: a thread's start collected a loader).
_collecting = [False]


def _track_collection(phase, info):
    _collecting[0] = phase == "start"


gc.callbacks.append(_track_collection)


def _shutdown(pools, timeout=None):
    """Stop a loader's worker threads: the batches still queued are dropped, each thread
    ends after the one it is making. The threads are joined (each for at most ``timeout``
    seconds: the loader's, after a worker timed out) where that cannot deadlock: not from
    one of these threads (it would join itself) and not inside a garbage collection (see
    ``_collecting``); there they end on their own."""
    me = threading.current_thread()
    threads = [t for pool in pools for t in list(pool._threads)]
    for pool in pools:  # all told first, so the threads end side by side
        pool.shutdown(wait=False, cancel_futures=True)
    if not _collecting[0] and me not in threads:
        for t in threads:
            t.join(timeout)


def _tensors(batch):
    """Every numeric numpy array in a batch (nested in lists, tuples, dicts) as an engine
    Tensor: float arrays in the default float dtype (float32 unless
    ``engine.set_default_dtype``), as ``engine.tensor`` makes them — so float64 numpy data
    meets a float32 model as it did when the batches were arrays —, other dtypes kept and
    the memory shared; everything else (strings, numbers, engine Tensors) as is."""
    if isinstance(batch, np.ndarray):
        if batch.dtype.kind not in "biufc":  # strings, objects: no Tensor holds them
            return batch
        default = engine.get_default_dtype()
        if batch.dtype.kind == "f" and batch.dtype != default:
            batch = batch.astype(default)
        return engine.from_numpy(batch)
    if isinstance(batch, collections.abc.Mapping):
        return {k: _tensors(v) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_tensors(v) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_tensors(v) for v in batch)
    return batch


def _as_lists(sample):
    """PyTorch's ``default_convert`` for one sample (``batch_size=None``): tuples become
    lists (namedtuples stay), inside lists and dicts too; arrays are left to ``_tensors``."""
    if isinstance(sample, tuple) and not hasattr(sample, "_fields"):
        return [_as_lists(v) for v in sample]
    if isinstance(sample, list):
        return [_as_lists(v) for v in sample]
    if isinstance(sample, dict):
        return {k: _as_lists(v) for k, v in sample.items()}
    return sample


def _as_is(batch):
    return batch


class DataLoader:
    """Mini-batches of a dataset (PyTorch's DataLoader), or of plain arrays ``x`` (and ``y``).

    - ``DataLoader(dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
      num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, ...)``: each batch
      is ``collate_fn([dataset[i] for i in batch_indices])`` (``default_collate``: samples
      ``(x, y)`` give ``[xb, yb]``, arrays with a new first axis, yielded as engine Tensors
      as PyTorch yields tensors — float arrays in the default float dtype, float32, where
      PyTorch keeps float64: numpy float64 data and Python floats come as float32, an
      engine Tensor made float64 stays float64 —; a ``collate_fn`` of yours: its result
      as it is).
    - An ``IterableDataset``: batches of ``batch_size`` consecutive samples of its stream
      (the last one shorter unless ``drop_last``); no shuffle, sampler or batch_sampler;
      ``len(loader)`` only when the dataset has ``__len__``.
    - ``DataLoader(x, y, batch_size=...)`` on arrays: each batch is ``(x[idx], y[idx])``,
      or ``x[idx]`` without y; with a ``collate_fn``, ``collate_fn`` of the samples
      ``(x[i], y[i])`` (or ``x[i]``).
    - A list of samples that are not plain numbers (``list(zip(X, Y))``, dicts, lists,
      strings, arrays of any shapes) is a dataset, as in PyTorch: its items are collated
      (``[xb, yb]``; a dict of batches; an inner list's fields batched one by one; a list
      of strings), as PyTorch's ``default_collate``.

    Order: ``0..n-1`` (default), a fresh permutation every pass (``shuffle=True``, drawn
    from engine's generator or ``generator``), a ``sampler`` (any iterable of indices, e.g.
    ``SubsetRandomSampler``), or a ``batch_sampler`` (an iterable of index lists; it then
    replaces batch_size, shuffle, sampler and drop_last). ``batch_size=None`` turns batching
    off (one sample at a time, tuples as lists, as PyTorch's ``default_convert``; a
    ``collate_fn`` then gets each sample). ``len(loader)`` is the number of batches.

    Workers: with ``num_workers > 0`` batches are fetched by that many worker THREADS, up to
    ``prefetch_factor`` (default 2) batches ahead each, while the training step runs; batch
    k goes to worker ``k % num_workers`` and they come out in the sampler's order, as with
    ``num_workers=0``. Threads, not processes (PyTorch forks processes): a thread sees the
    dataset as it is — defined in a notebook, holding open files or lambdas — with nothing
    pickled or copied, and numpy, file reads and image decoders release the GIL, so
    indexing, reading and decoding overlap with training. Pure-Python ``__getitem__`` code
    holds the GIL and gains nothing from threads (``python -m bench.dataloader_workers``:
    on I/O-like items 4 threads take 0.11 s where one takes 0.42 s and 4 forked processes
    0.13 s; numpy-heavy items tie).

    Random numbers in workers, as PyTorch: each worker thread draws from a generator of its
    own -- engine's random functions (``engine.rand``, ``randn``, ``randint``,
    ``randperm``, ``nn.init``) and ``engine.get_rng()`` in ``__getitem__``, ``collate_fn``,
    ``worker_init_fn`` or an IterableDataset's ``__iter__`` -- and leaves the main thread's
    alone. ``iter(loader)`` draws a ``base_seed`` from engine's generator (or
    ``generator``) before the sampler draws its order; worker ``w``'s generator is
    ``np.random.default_rng(base_seed + w)`` (``get_worker_info().seed``). As batch k is
    always made by worker ``k % num_workers``, random augmentation comes out the same on
    every run after ``engine.manual_seed`` (other numbers than PyTorch's). With
    ``num_workers=0`` samples draw from the main generator and no base seed is drawn
    (PyTorch draws one anyway), so a seeded shuffle differs with and without workers.
    ``persistent_workers=True`` draws the base seed once and the workers' generators go on
    from epoch to epoch, as PyTorch's. Not covered: numpy's global ``np.random`` and
    Python's ``random``, one state per process that all threads share (PyTorch reseeds both
    in each worker process; threads cannot): their draws in ``__getitem__`` vary from run
    to run with ``num_workers > 0``; draw from ``engine.get_rng()`` instead.

    ``worker_init_fn(worker_id)`` runs once in each worker (each epoch, or once with
    ``persistent_workers=True``), after its generator is seeded; ``get_worker_info()``
    tells a worker who it is. Persistent workers end when the loader is garbage-collected,
    as PyTorch's. With an IterableDataset each worker iterates the whole dataset and its
    batches come round robin, as in PyTorch. A worker's error is raised in the loop that
    reads the batch. ``timeout`` (seconds, > 0) bounds the wait for a worker's batch
    (RuntimeError, as PyTorch). After an error or a timeout, persistent workers are let go
    and the next epoch starts new ones. ``pin_memory``, ``pin_memory_device`` and
    ``multiprocessing_context`` are accepted and have no effect (no GPU, thread workers);
    ``in_order=False`` is accepted and batches still come in order.

    >>> x = np.arange(10).reshape(5, 2); y = np.arange(5)
    >>> loader = DataLoader(x, y, batch_size=2)
    >>> len(loader), [yb.tolist() for _, yb in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, dataset, y=None, batch_size=1, shuffle=None, sampler=None,
                 batch_sampler=None, num_workers=0, collate_fn=None, pin_memory=False,
                 drop_last=False, timeout=0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        who = "DataLoader"
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, Integral)
                                       or batch_size < 1):
            raise ValueError(f"{who}: batch_size must be an integer >= 1 (or None), "
                             f"got {batch_size!r}")
        drop_last = _flag(who, "drop_last", drop_last)
        if batch_size is None and drop_last:
            raise ValueError(f"{who}: batch_size=None turns batching off; drop_last=True "
                             "needs a batch_size (as PyTorch)")
        if isinstance(num_workers, bool) or not isinstance(num_workers, Integral) \
                or num_workers < 0:
            raise ValueError(f"{who}: num_workers must be an integer >= 0, got {num_workers!r}")
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError(f"{who}: prefetch_factor needs num_workers > 0 (as PyTorch)")
        if prefetch_factor is not None and (isinstance(prefetch_factor, bool) or not
                                            isinstance(prefetch_factor, Integral)
                                            or prefetch_factor < 1):
            raise ValueError(f"{who}: prefetch_factor must be an integer >= 1, "
                             f"got {prefetch_factor!r}")
        if not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"{who}: timeout must be a number >= 0, got {timeout!r}")
        for name, value in (("persistent_workers=True", persistent_workers),
                            (f"timeout={timeout!r}", timeout),
                            (f"multiprocessing_context={multiprocessing_context!r}",
                             multiprocessing_context is not None)):
            if value and num_workers == 0:
                raise ValueError(f"{who}: {name} needs num_workers > 0 (as PyTorch)")
        if shuffle and sampler is not None:
            raise ValueError(f"{who}: give shuffle=True or a sampler, not both (the sampler "
                             "decides the order)")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None
                                          or drop_last):
            raise ValueError(f"{who}: batch_sampler replaces batch_size, shuffle, sampler "
                             "and drop_last; give none of them with it")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"{who}: collate_fn must be callable, got "
                            f"{type(collate_fn).__name__}")
        self.x = self.y = None
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable or _is_dataset(dataset) or (y is None and _is_sample_list(dataset)):
            if y is not None:
                if isinstance(y, Integral) and not isinstance(y, bool):
                    raise ValueError(f"{who}: the second positional argument is y (targets "
                                     f"for array inputs); for the batch size write "
                                     f"batch_size={y}")
                raise ValueError(f"{who}: y must be None when the first argument is a "
                                 f"dataset ({type(dataset).__name__}); its items carry the "
                                 "targets")
            n = None if self._iterable else len(dataset)
        elif not isinstance(dataset, (np.ndarray, list, tuple)) and \
                not hasattr(dataset, "__array__") and \
                (hasattr(dataset, "__iter__") or hasattr(dataset, "__getitem__")):
            raise TypeError(f"{who}: {type(dataset).__name__} is not a dataset: a map-style "
                            "dataset has __len__ and __getitem__; a stream of samples (a "
                            "generator, a file read line by line) is a subclass of "
                            "nn.data.IterableDataset with __iter__")
        else:
            if isinstance(y, Integral) and not isinstance(y, bool):
                raise ValueError(f"{who}: the second positional argument is y (targets); for "
                                 f"the batch size write batch_size={y}")
            self.x = _as_array(dataset, who, "x")
            self.y = None if y is None else _as_array(y, who, "y")
            self._exact = (isinstance(dataset, engine.Tensor), isinstance(y, engine.Tensor))
            if self.y is not None:
                _check_lengths(who, ["x", "y"], [self.x, self.y])
            n = len(self.x)
        self.dataset = dataset  # len(loader.dataset), as PyTorch code reads it
        if self._iterable:
            for name, value in (("shuffle=True", shuffle), ("a sampler", sampler),
                                ("a batch_sampler", batch_sampler)):
                if value:
                    raise ValueError(f"{who}: {name} needs a map-style dataset (ds[i]); an "
                                     f"IterableDataset ({type(dataset).__name__}) gives its "
                                     "samples in its own order: shuffle inside __iter__")
        elif sampler is None and batch_sampler is None:
            sampler = RandomSampler(n, generator=generator) if shuffle else \
                SequentialSampler(n)
        self.sampler = sampler
        self.batch_size, self.drop_last = batch_size, drop_last
        if batch_sampler is None and batch_size is not None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_sampler is not None:
            self.batch_size = None  # as PyTorch: the batch_sampler sizes the batches
        self.batch_sampler = batch_sampler
        self.shuffle = bool(shuffle)
        self.num_workers = int(num_workers)
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers else prefetch_factor
        self.collate_fn, self.worker_init_fn = collate_fn, worker_init_fn
        self.pin_memory, self.timeout = pin_memory, timeout
        self.persistent_workers = bool(persistent_workers)
        self.generator = generator
        self._pools = None  # the worker threads kept between epochs (persistent_workers)
        self._base_seed = None  # the persistent workers' (drawn once, as PyTorch)

    # -- sizes and order ---------------------------------------------------------------
    def __len__(self):
        if self._iterable:
            if not hasattr(self.dataset, "__len__"):
                raise TypeError(f"DataLoader: len() of a loader over an IterableDataset needs "
                                f"the dataset's own __len__; {type(self.dataset).__name__} "
                                "has none")
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return len(BatchSampler(range(n), self.batch_size, self.drop_last))
        if self.batch_sampler is None:
            return len(self.sampler)
        return len(self.batch_sampler)

    def _index_batches(self):
        if self.batch_sampler is None:
            return ([int(i)] for i in self.sampler)
        return (list(b) for b in self.batch_sampler)

    # -- fetching ------------------------------------------------------------------------
    def _fetch(self, batch):
        """One batch from a list of indices (runs in a worker when num_workers > 0)."""
        if self.batch_sampler is None:  # batching off: one sample
            return self._one(self._sample(batch[0]))
        idx = np.asarray(batch, dtype=np.int64)
        if self.x is not None:
            if self.collate_fn is None:
                return self._arrays_at(idx)
            samples = [self._arrays_at(int(i)) for i in idx]
        elif self.collate_fn is None and isinstance(self.dataset, TensorDataset):
            return list(self.dataset._rows(idx))  # fancy indexing: one copy per array
        elif self.collate_fn is None and isinstance(self.dataset, Subset) \
                and isinstance(self.dataset.dataset, TensorDataset):
            return list(self.dataset._take(idx))
        else:
            samples = [self.dataset[int(i)] for i in idx]
        return (self.collate_fn or default_collate)(samples)

    def _arrays_at(self, index):
        x = _rows_of(self.x, index, self._exact[0])
        return x if self.y is None else (x, _rows_of(self.y, index, self._exact[1]))

    def _sample(self, i):
        return self._arrays_at(i) if self.x is not None else self.dataset[i]

    def _one(self, item):
        """A sample when batching is off: ``collate_fn(item)``, or PyTorch's conversion."""
        if self.collate_fn is not None:
            return self.collate_fn(item)
        return item if self.x is not None else _as_lists(item)

    def _stream(self):
        """The batches of an IterableDataset, from one ``iter(dataset)`` (in a worker, that
        worker's own pass over the dataset)."""
        samples = iter(self.dataset)
        if self.batch_size is None:
            for item in samples:
                yield self._one(item)
            return
        while True:
            batch = list(itertools.islice(samples, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield (self.collate_fn or default_collate)(batch)

    def __iter__(self):
        # As PyTorch's iter(loader): the base seed of the workers' generators is drawn now,
        # before the sampler draws its order; persistent workers keep the first one. Without
        # workers nothing is drawn (PyTorch draws one anyway): num_workers=0 takes from the
        # generator exactly what it took before workers had generators of their own.
        if self.num_workers and not (self.persistent_workers and self._base_seed is not None):
            self._base_seed = int(_rng(self.generator).integers(2**63))
        return self._batches(self._base_seed)

    def _batches(self, base_seed):
        # Batches are engine Tensors, as PyTorch's DataLoader yields torch tensors (so
        # xb.view(-1, 784), xb.float(), yb.size(0), xb.std() act as in PyTorch code); a
        # collate_fn of the user's returns what it returns.
        convert = _tensors if self.collate_fn is None else _as_is
        if self.num_workers:
            batches = self._parallel_stream(base_seed) if self._iterable else \
                self._parallel(self._index_batches(), base_seed)
        else:
            batches = self._stream() if self._iterable else \
                (self._fetch(b) for b in self._index_batches())
        for batch in batches:
            yield convert(batch)

    # -- workers -------------------------------------------------------------------------
    def _workers(self, base_seed):
        """One single-thread executor per worker (so a worker's tasks run in its order, on
        its thread), each started with its own generator (seed ``base_seed + id``), its
        WorkerInfo and ``worker_init_fn``. Persistent ones are shut down when the loader is
        garbage-collected, as PyTorch's."""
        if self._pools is not None:
            return self._pools
        dataset = None if self.x is not None else self.dataset

        def init(wid):
            seed = base_seed + wid  # PyTorch's torch.manual_seed(base_seed + worker_id)
            engine.set_thread_rng(np.random.default_rng(seed))  # for the thread's lifetime
            _worker_local.info = WorkerInfo(wid, self.num_workers, seed, dataset)
            if self.worker_init_fn is not None:
                self.worker_init_fn(wid)

        pools = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"DataLoader-worker-{w}")
                 for w in range(self.num_workers)]
        try:
            for f in [pool.submit(init, w) for w, pool in enumerate(pools)]:
                self._result(f)  # a worker_init_fn's error is raised here
        except BaseException:
            self._stop(pools, [], keep=False)
            raise
        if self.persistent_workers:
            self._pools = pools
            weakref.finalize(self, _shutdown, pools)
        return pools

    def _stop(self, pools, pending, keep):
        """End an epoch: stop the threads, dropping the batches still queued; or, to keep
        them (persistent workers after a finished or broken-off loop), let the queued
        batches be made (and thrown away) first, as PyTorch's persistent workers do: each
        worker's generator then has drawn the same numbers whenever the loop broke off, and
        the next epoch's batches are reproducible. After a worker's error or a timeout the
        workers are not kept: the next epoch starts new ones (and draws a new base seed)."""
        if keep:
            done, late = wait(pending, timeout=self.timeout if self.timeout > 0 else None)
            if not late:
                return
        _shutdown(pools, timeout=self.timeout if self.timeout > 0 else None)
        if pools is self._pools:
            self._pools = self._base_seed = None

    def _parallel(self, batches, base_seed):
        """Fetch in worker threads, batch k on worker k % num_workers, at most
        ``num_workers · prefetch_factor`` batches ahead; yield in submission order, so the
        order never depends on which worker is faster."""
        pools, pending, failed = self._workers(base_seed), collections.deque(), True
        try:
            window = self.num_workers * self.prefetch_factor
            for k, batch in enumerate(batches):
                pending.append(pools[k % self.num_workers].submit(self._fetch, batch))
                if len(pending) >= window:
                    yield self._result(pending.popleft())
            while pending:
                yield self._result(pending.popleft())
            failed = False
        except GeneratorExit:  # the loop broke off early: not a failure
            failed = False
            raise
        finally:
            self._stop(pools, pending, keep=self.persistent_workers and not failed)

    def _parallel_stream(self, base_seed):
        """An IterableDataset in workers, as PyTorch: each worker batches its own pass over
        the dataset; batches come round robin (worker 0, 1, ..., 0, ...), skipping the
        workers whose pass has ended."""
        n, pools, pending = self.num_workers, self._workers(base_seed), collections.deque()
        streams, alive, turn = [None] * n, [True] * n, itertools.cycle(range(n))

        def start(w):  # in worker w's thread: its iter(dataset) sees get_worker_info()
            streams[w] = self._stream()

        def step(w):
            return next(streams[w], _END)

        def dispatch():
            for _ in range(n):
                w = next(turn)
                if alive[w]:
                    pending.append((w, pools[w].submit(step, w)))
                    return

        futures, failed = [pools[w].submit(start, w) for w in range(n)], True
        try:
            for _ in range(n * self.prefetch_factor):
                dispatch()
            while pending:
                w, future = pending.popleft()
                if not alive[w]:
                    continue
                batch = self._result(future)
                if batch is _END:
                    alive[w] = False
                dispatch()
                if batch is not _END:
                    yield batch
            failed = False
        except GeneratorExit:  # the loop broke off early: not a failure
            failed = False
            raise
        finally:
            self._stop(pools, futures + [f for _, f in pending],
                       keep=self.persistent_workers and not failed)

    def _result(self, future):
        try:
            return future.result(timeout=self.timeout if self.timeout > 0 else None)
        except FutureTimeout:
            raise RuntimeError(f"DataLoader timed out after {self.timeout} seconds waiting "
                               "for a batch from its workers") from None

    def __repr__(self):
        data = (f"x{self.x.shape}" + ("" if self.y is None else f", y{self.y.shape}")
                if self.x is not None else repr(self.dataset))
        return (f"DataLoader({data}, batch_size={self.batch_size}, "
                f"sampler={type(self.sampler).__name__}, drop_last={self.drop_last}, "
                f"num_workers={self.num_workers})")


# -------------------------------------------------------------------------------- splitting
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
