"""nn.data: DataLoader, samplers, TensorDataset, train_test_split."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from nn import data as D
from nn.data import DataLoader, TensorDataset, train_test_split

RandomSampler, SequentialSampler = D.RandomSampler, D.SequentialSampler
SubsetRandomSampler = D.SubsetRandomSampler


class FakeTensor:
    """Duck-typed engine Tensor."""

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self.data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return FakeTensor(self.data[i])


class ListDataset:
    """A plain Python dataset: items are (image, label) tuples."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.full((2, 2), i, np.float32), i % 3


# ---------------------------------------------------------------- DataLoader on arrays
@given(n=st.integers(0, 40), bs=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans(), with_y=st.booleans())
def test_batches_cover_the_data_once(n, bs, drop_last, shuffle, with_y):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n) * 10
    loader = DataLoader(x, y if with_y else None, batch_size=bs, shuffle=shuffle,
                        drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // bs if drop_last else math.ceil(n / bs))
    xs = [b[0] if with_y else b for b in batches]
    assert all(isinstance(b, engine.Tensor) for b in xs)  # batches are Tensors, as torch's
    assert all(len(b) == bs for b in xs[:-1] if drop_last or b is not xs[-1])
    rows = np.concatenate(xs) if xs else np.zeros((0, 3), np.float32)
    assert rows.dtype == np.float32 and rows.shape[1:] == (3,)
    seen = rows[:, 0].astype(int) // 3
    if with_y:  # x and y stay paired
        assert (np.concatenate([b[1] for b in batches] or [np.zeros(0)]) == seen * 10).all()
    if not drop_last:
        assert sorted(seen.tolist()) == list(range(n))
    if not shuffle:
        assert seen.tolist() == list(range(len(seen)))


def test_y_none_yields_plain_tensors_and_tuples_otherwise():
    x = np.zeros((5, 2))
    assert all(isinstance(b, engine.Tensor) for b in DataLoader(x, batch_size=2))
    assert all(isinstance(b, tuple) and len(b) == 2 for b in DataLoader(x, x, batch_size=2))


def test_batches_are_copies():
    x = np.zeros((4, 2))
    for b in DataLoader(x, batch_size=2):
        b += 1
    assert (x == 0).all()


def test_accepts_lists_and_tensors():
    xb, yb = next(iter(DataLoader(FakeTensor([[1.0], [2.0]]), [0, 1], batch_size=2)))
    assert isinstance(xb, engine.Tensor) and xb.tolist() == [[1.0], [2.0]]
    assert yb.tolist() == [0, 1]


def test_shuffle_differs_between_epochs_and_follows_manual_seed():
    engine = pytest.importorskip("engine")
    x = np.arange(100)
    loader = DataLoader(x, batch_size=100, shuffle=True)
    engine.manual_seed(3)
    a, b = next(iter(loader)), next(iter(loader))
    engine.manual_seed(3)
    a2 = next(iter(loader))
    assert (a != b).any() and (a == a2).all()
    assert sorted(a.tolist()) == list(range(100))


# ---------------------------------------------------------------- samplers
def test_subset_random_sampler_with_loader():
    # The course's PyTorch recipe: permute, split, one loader per part.
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    idx = np.random.default_rng(0).permutation(10)
    train = DataLoader(x, y, batch_size=3, sampler=SubsetRandomSampler(idx[:7]))
    test = DataLoader(x, y, batch_size=3, sampler=SubsetRandomSampler(idx[7:]))
    assert len(train) == 3 and len(test) == 1
    got = np.concatenate([yb for _, yb in train])
    assert sorted(got.tolist()) == sorted(idx[:7].tolist())
    assert sorted(np.concatenate([yb for _, yb in test]).tolist()) == sorted(idx[7:].tolist())


def test_samplers():
    assert list(SequentialSampler([5, 6, 7])) == [0, 1, 2] and len(SequentialSampler(4)) == 4
    g = np.random.default_rng(1)
    s = RandomSampler(6, generator=g)
    assert sorted(s) == list(range(6)) and len(s) == 6
    r = RandomSampler(3, replacement=True, num_samples=50, generator=g)
    draws = list(r)
    assert len(draws) == len(r) == 50 and set(draws) <= {0, 1, 2}
    assert all(type(i) is int for i in SubsetRandomSampler([4, 2], generator=g))
    # as PyTorch, num_samples without replacement: distinct indices (whole permutations)
    assert len(set(RandomSampler(5, num_samples=3, generator=g))) == 3


def test_any_iterable_of_indices_is_a_sampler():
    x = np.arange(5)
    assert [b.tolist() for b in DataLoader(x, batch_size=2, sampler=[4, 0, 3])] == [[4, 0], [3]]


# ---------------------------------------------------------------- datasets
def test_tensor_dataset():
    ds = TensorDataset(np.arange(6).reshape(3, 2), FakeTensor([0, 1, 0]))
    assert len(ds) == 3 and ds.tensors is ds.arrays
    x1, y1 = ds[1]
    assert x1.tolist() == [2, 3] and y1 == 1
    xb, yb = next(iter(DataLoader(ds, batch_size=2)))
    assert xb.shape == (2, 2) and yb.tolist() == [0, 1]
    # PyTorch's default_collate: a 1-field sample gives a 1-list batch ([xb], not xb).
    (single,) = next(iter(DataLoader(TensorDataset(np.arange(3)), batch_size=3)))
    assert isinstance(single, engine.Tensor) and single.tolist() == [0, 1, 2]


def test_generic_dataset_is_collated():
    loader = DataLoader(ListDataset(5), batch_size=2, shuffle=True)
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    xb, yb = batches[0]
    assert xb.shape == (2, 2, 2) and xb.dtype == np.float32 and yb.shape == (2,)
    assert sorted(np.concatenate([b[1] for b in batches]).tolist()) == [0, 0, 1, 1, 2]


def test_dataset_of_single_arrays():
    class Plain:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.array([i, i])

    assert next(iter(DataLoader(Plain(), batch_size=3))).tolist() == [[0, 0], [1, 1], [2, 2]]


# ---------------------------------------------------------------- DataLoader errors
@pytest.mark.parametrize("kwargs, needle", [
    (dict(dataset=np.zeros(3), y=np.zeros(4)), r"DataLoader: arrays disagree in length: "
                                               r"len\(x\)=3, len\(y\)=4"),
    (dict(dataset=np.zeros(3), batch_size=0), "DataLoader: batch_size must be an integer >= 1"),
    (dict(dataset=np.zeros(3), batch_size=2.5), "batch_size"),
    (dict(dataset=np.zeros(3), batch_size=True), "batch_size"),
    (dict(dataset=np.zeros(3), shuffle=True, sampler=[0]), "not both"),
    (dict(dataset=np.float64(1.0)), "0-d"),
    (dict(dataset=ListDataset(3), y=np.zeros(3)), "y must be None"),
    (dict(dataset=ListDataset(3), y=10), "batch_size=10"),
    (dict(dataset=ListDataset(3), num_workers=-1), "num_workers"),
    (dict(dataset=ListDataset(3), prefetch_factor=2), "prefetch_factor needs num_workers"),
    (dict(dataset=ListDataset(3), batch_sampler=[[0]], batch_size=2), "batch_sampler"),
])
def test_loader_errors(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        DataLoader(**kwargs)


def test_tensor_dataset_length_mismatch():
    with pytest.raises(ValueError, match=r"TensorDataset: .*len\(arrays\[1\]\)=2"):
        TensorDataset(np.zeros(3), np.zeros(2))


# ---------------------------------------------------------------- train_test_split
@given(n=st.integers(2, 60), frac=st.floats(0.01, 0.99), seed=st.integers(0, 2**32 - 1))
def test_split_partitions_rows(n, frac, seed):
    x, y = np.arange(n * 2).reshape(n, 2), np.arange(n)
    n_test = math.ceil(frac * n)
    if not 0 < n_test < n:
        with pytest.raises(ValueError, match="train_test_split"):
            train_test_split(x, y, test_size=frac, seed=seed)
        return
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=frac, seed=seed)
    assert len(y_te) == n_test and len(y_tr) == n - n_test
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(n))
    assert (x_tr[:, 0] == 2 * y_tr).all() and (x_te[:, 0] == 2 * y_te).all()
    again = train_test_split(x, y, test_size=frac, seed=seed)
    assert all((a == b).all() for a, b in zip(again, [x_tr, x_te, y_tr, y_te], strict=True))


@pytest.mark.parametrize("test_size, seed, train, test", [
    # Reference: sklearn 1.9.1, train_test_split(np.arange(10), test_size=.., random_state=..)
    (0.3, 42, [0, 7, 2, 9, 4, 3, 6], [8, 1, 5]),
    (0.25, 0, [9, 1, 6, 7, 3, 0, 5], [2, 8, 4]),
    (3, 1, [4, 0, 3, 1, 7, 8, 5], [2, 9, 6]),
])
def test_split_matches_sklearn(test_size, seed, train, test):
    tr, te = train_test_split(np.arange(10), test_size=test_size, seed=seed)
    assert tr.tolist() == train and te.tolist() == test


def test_split_without_shuffle_takes_the_tail():
    x_tr, x_te = train_test_split(np.arange(8), test_size=0.25, shuffle=False)
    assert x_tr.tolist() == list(range(6)) and x_te.tolist() == [6, 7]


def test_split_seed_none_follows_manual_seed():
    engine = pytest.importorskip("engine")
    engine.manual_seed(0)
    a = train_test_split(np.arange(50))
    engine.manual_seed(0)
    b = train_test_split(np.arange(50))
    assert all((p == q).all() for p, q in zip(a, b, strict=True))


@pytest.mark.parametrize("args, kwargs, needle", [
    ((np.zeros(5), np.zeros(4)), {}, r"train_test_split: arrays disagree in length: "
                                     r"len\(arrays\[0\]\)=5, len\(arrays\[1\]\)=4"),
    ((), {}, "at least one array"),
    ((np.zeros(5),), dict(test_size=1.5), "test_size must be"),
    ((np.zeros(5),), dict(test_size=5), "0 train"),
    ((np.zeros(1),), {}, "both must be >= 1"),
])
def test_split_errors(args, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        train_test_split(*args, **kwargs)


# ---------------------------------------------------------------- PyTorch semantics
def test_default_batch_size_is_one_and_dataset_batches_are_lists():
    loader = DataLoader(ListDataset(3))
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    xb, yb = batches[1]
    assert isinstance(batches[1], list) and xb.shape == (1, 2, 2) and yb.tolist() == [1]


def test_default_collate_kinds():
    Point = __import__("collections").namedtuple("Point", "x y")
    assert D.default_collate([1.5, 2.5]).dtype == np.float64  # PyTorch: float → float64
    assert D.default_collate([1, 2]).dtype == np.int64
    assert D.default_collate(["a", "b"]) == ["a", "b"]
    d = D.default_collate([{"a": np.zeros(2), "b": 1}, {"a": np.ones(2), "b": 2}])
    assert d["a"].shape == (2, 2) and d["b"].tolist() == [1, 2]
    p = D.default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3] and p.y.tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        D.default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        D.default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="cannot batch samples of type object"):
        D.default_collate([object()])


def test_collate_fn_batch_sampler_and_no_batching():
    ds = ListDataset(5)
    # ListDataset's item i is (an image full of i, i % 3)
    loader = DataLoader(ds, batch_size=2, collate_fn=lambda items: [int(x[0, 0]) for x, _ in items])
    assert list(loader) == [[0, 1], [2, 3], [4]]
    bs = DataLoader(ds, batch_sampler=[[4, 0], [2]])
    assert [xb[:, 0, 0].tolist() for xb, _ in bs] == [[4, 0], [2]] and len(bs) == 2
    assert list(D.BatchSampler(D.SequentialSampler(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    single = list(DataLoader(ds, batch_size=None))
    assert len(single) == 5 and single[3][1] == 0 and single[3][0].shape == (2, 2)


def test_dataset_subset_concat():
    class Squares(D.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return i * i

    both = Squares() + Squares()
    assert isinstance(both, D.ConcatDataset) and len(both) == 8
    assert [both[i] for i in range(8)] == [0, 1, 4, 9, 0, 1, 4, 9] and both[-1] == 9
    with pytest.raises(IndexError, match="8 samples"):
        both[8]
    sub = D.Subset(Squares(), [3, 1])
    assert len(sub) == 2 and sub[0] == 9
    # as PyTorch, a list index goes to the dataset as one list: dataset[[1, 3]]
    assert D.Subset(TensorDataset(np.arange(4) ** 2), [3, 1])[[1, 0]][0].tolist() == [1, 9]
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        D.Subset(Squares(), [4])
    # A Subset of a TensorDataset batches by fancy indexing, with the same values.
    t = D.Subset(TensorDataset(np.arange(10) * 10), [9, 2, 5])
    assert next(iter(DataLoader(t, batch_size=3)))[0].tolist() == [90, 20, 50]
    with pytest.raises(NotImplementedError):
        D.Dataset()[0]


@pytest.mark.parametrize("n, fractions, sizes", [
    # By hand: floor(n·f) each, then the remainder one by one to the first splits.
    (10, [0.33, 0.33, 0.34], [4, 3, 3]),
    (7, [0.5, 0.5], [4, 3]),
    (100, [0.8, 0.1, 0.1], [80, 10, 10]),
])
def test_random_split_fractions(n, fractions, sizes):
    engine = pytest.importorskip("engine")
    engine.manual_seed(0)
    parts = D.random_split(TensorDataset(np.arange(n)), fractions)
    assert [len(p) for p in parts] == sizes
    seen = sorted(int(p[i][0]) for p in parts for i in range(len(p)))
    assert seen == list(range(n))  # a partition
    torch = _torch()
    if torch is not None:
        got = torch.utils.data.random_split(range(n), fractions)
        assert [len(p) for p in got] == sizes


def test_random_split_lengths_seed_and_errors():
    engine = pytest.importorskip("engine")
    ds = TensorDataset(np.arange(10))
    engine.manual_seed(5)
    a = [p.indices.tolist() for p in D.random_split(ds, [6, 4])]
    engine.manual_seed(5)
    b = [p.indices.tolist() for p in D.random_split(ds, [6, 4])]
    assert a == b and sorted(a[0] + a[1]) == list(range(10)) and a[0] != list(range(6))
    g = [p.indices.tolist() for p in D.random_split(ds, [6, 4],
                                                     generator=np.random.default_rng(5))]
    assert g == [p.indices.tolist() for p in D.random_split(
        ds, [6, 4], generator=np.random.default_rng(5))]
    with pytest.raises(ValueError, match="sum to 9, the dataset has 10"):
        D.random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="lengths must be ints"):
        D.random_split(ds, [5, -1, 6])
    with pytest.warns(UserWarning, match="split at index 1 is 0"):
        D.random_split(TensorDataset(np.arange(2)), [0.99, 0.01])
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        D.random_split(ds, [6, 4], generator=3)


def test_weighted_random_sampler():
    g = np.random.default_rng(0)
    s = D.WeightedRandomSampler([1.0, 3.0, 0.0], 20000, generator=g)
    draws = np.array(list(s))
    assert len(s) == 20000 and 2 not in draws
    # P(1) = 3/4 by the weights; 20,000 draws put the frequency within 0.01 of it.
    assert abs((draws == 1).mean() - 0.75) < 0.01
    no_repl = list(D.WeightedRandomSampler([1, 1, 1, 5], 3, replacement=False, generator=g))
    assert len(set(no_repl)) == 3
    for weights, k, kw, needle in [([], 1, {}, "weights"), ([1, -1], 1, {}, "weights"),
                                   ([0, 0], 1, {}, "weights"), ([1, np.nan], 1, {}, "weights"),
                                   ([1, 0], 2, dict(replacement=False), "without replacement")]:
        with pytest.raises(ValueError, match=needle):
            D.WeightedRandomSampler(weights, k, **kw)


def test_weighted_random_sampler_follows_manual_seed():
    engine = pytest.importorskip("engine")
    engine.manual_seed(2)
    a = list(D.WeightedRandomSampler([1, 2, 3], 50))
    engine.manual_seed(2)
    assert list(D.WeightedRandomSampler([1, 2, 3], 50)) == a


# ---------------------------------------------------------------- workers
class SlowDataset(D.Dataset):
    """Each item sleeps (as a file read or an image decode does, releasing the GIL) and
    records how many items were being fetched at once."""

    def __init__(self, n, delay=0.002):
        import threading
        self.n, self.delay = n, delay
        self.lock, self.active, self.max_active = threading.Lock(), 0, 0
        self.threads = set()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        import threading
        import time
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        with self.lock:
            self.active -= 1
        return np.full(3, i, np.float32), i % 2


@pytest.mark.parametrize("make_sampler", [
    lambda n: dict(shuffle=True),
    lambda n: dict(sampler=SubsetRandomSampler(np.arange(n)[::2])),
    lambda n: dict(sampler=D.WeightedRandomSampler(np.ones(n), 30)),
    lambda n: dict(),
])
def test_workers_yield_the_same_batches_in_the_same_order(make_sampler):
    runs = []
    for workers in (0, 4, 1):
        engine.manual_seed(11)
        loader = DataLoader(SlowDataset(37, delay=0.0), batch_size=5, num_workers=workers,
                            **make_sampler(37))
        run = []
        for _ in range(2):  # two epochs
            if workers == 0:  # what iter() of a loader with workers draws first: base_seed
                engine.get_rng().integers(2**63)
            run += [(xb.tolist(), yb.tolist()) for xb, yb in loader]
        runs.append(run)
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) > 4


def test_workers_really_load_in_parallel():
    # Parallelism is observed, not timed (timings belong in bench/dataloader_workers.py):
    # items being loaded at the same moment, by several threads.
    ds = SlowDataset(80, delay=0.004)
    serial = [yb.tolist() for _, yb in DataLoader(ds, batch_size=5)]
    assert ds.max_active == 1
    ds = SlowDataset(80, delay=0.004)
    parallel = [yb.tolist() for _, yb in DataLoader(ds, batch_size=5, num_workers=4)]
    assert parallel == serial
    assert ds.max_active >= 2 and len(ds.threads) >= 2  # several batches at once


def test_worker_errors_early_break_init_fn_and_worker_info():
    class Broken(D.Dataset):
        def __len__(self):
            return 20

        def __getitem__(self, i):
            if i == 13:
                raise KeyError(f"sample {i} is missing")
            return D.get_worker_info().id

    with pytest.raises(KeyError, match="sample 13 is missing"):
        list(DataLoader(Broken(), batch_size=2, num_workers=3))
    ids = set()
    for batch in DataLoader(Broken(), batch_size=2, num_workers=3):
        ids.update(batch.tolist())
        break  # breaking out early must not hang or leak threads
    assert ids <= {0, 1, 2}
    started = []
    loader = DataLoader(ListDataset(8), batch_size=2, num_workers=2,
                        worker_init_fn=started.append)
    assert len(list(loader)) == 4 and sorted(started) == [0, 1]
    assert D.get_worker_info() is None  # in the main thread
    with pytest.raises(RuntimeError, match="timed out after 0.01 seconds"):
        list(DataLoader(SlowDataset(4, delay=0.2), batch_size=2, num_workers=2, timeout=0.01))
    # in_order=False only allows out-of-order batches (PyTorch); ours still come in order
    assert len(list(DataLoader(ListDataset(2), in_order=False))) == 2


def test_course_002_dataloader_listing_as_written():
    """Course 002 ("Thumbnail Classification - Redes Neurais com PyTorch"), lines 25-34,
    with its imports and data (a notebook-defined image Dataset) supplied; ``torch.`` reads
    ``engine.`` (``torch.randperm`` is ``engine.randperm``)."""
    engine = pytest.importorskip("engine")
    import nn
    from nn.data import DataLoader, SubsetRandomSampler  # the listing's imports

    class Thumbnails(D.Dataset):  # defined here, as in a notebook cell
        def __init__(self, n=50):
            rng = np.random.default_rng(0)
            self.labels = rng.integers(0, 2, n)
            self.images = (rng.random((n, 3, 8, 8))
                           + self.labels[:, None, None, None]).astype(np.float32)

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return self.images[i], int(self.labels[i])

    engine.manual_seed(0)
    data = Thumbnails()
    # ---- the listing
    train_size = int(0.75*len(data))
    idx = engine.randperm(len(data))                     # the listing: torch.randperm
    train_sampler = SubsetRandomSampler(idx[0:train_size])
    test_sampler = SubsetRandomSampler(idx[train_size:])

    train_loader = DataLoader(data, sampler=train_sampler,
                              batch_size=10, num_workers=4)

    test_loader = DataLoader(data, sampler=test_sampler,
                             batch_size=10, num_workers=4)
    # ---- what it gives
    assert train_size == 37 and len(train_loader) == 4 and len(test_loader) == 2
    batches = list(train_loader)
    assert [len(yb) for _, yb in batches] == [10, 10, 10, 7]
    assert batches[0][0].shape == (10, 3, 8, 8) and batches[0][0].dtype == np.float32
    train_seen = np.concatenate([xb[:, 0, 0, 0] for xb, _ in batches])
    test_seen = np.concatenate([xb[:, 0, 0, 0] for xb, _ in test_loader])
    expect = data.images[:, 0, 0, 0]
    assert sorted(train_seen.tolist()) == sorted(expect[idx[:37]].tolist())
    assert sorted(test_seen.tolist()) == sorted(expect[idx[37:]].tolist())
    # ... and the loaders train a model directly.
    model = nn.Sequential(nn.Flatten(), nn.Dense(2))
    h = nn.fit(model, train_loader, loss="cross_entropy", optimizer="adam", epochs=3,
               metrics=["accuracy"], validation_data=test_loader, verbose=0)
    assert len(h.history["val_accuracy"]) == 3


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def test_a_list_of_samples_is_a_dataset_as_in_pytorch():
    """``DataLoader(list(zip(X, Y)))`` collates like PyTorch: ``[xb, yb]`` per batch. Read as
    one (N, 2) array, ``xb, yb = batch`` would unpack two *samples* with no error."""
    X = np.arange(10, dtype=np.float32).reshape(5, 2)
    Y = np.arange(5) % 2
    batches = list(DataLoader(list(zip(X, Y, strict=True)), batch_size=2))
    assert len(batches) == 3
    xb, yb = batches[0]
    np.testing.assert_array_equal(xb, X[:2])
    np.testing.assert_array_equal(yb, Y[:2])
    d = next(iter(DataLoader([{"x": X[i], "y": int(Y[i])} for i in range(5)], batch_size=4)))
    np.testing.assert_array_equal(d["x"], X[:4])
    assert d["y"].tolist() == Y[:4].tolist()
    rows = next(iter(DataLoader([[1, 2], [3, 4], [5, 6]], batch_size=3)))  # fields, as torch
    assert [r.tolist() for r in rows] == [[1, 3, 5], [2, 4, 6]]
    # with y, lists stay arrays (stepgrad's DataLoader(x, y) form): rows of x
    xb, yb = next(iter(DataLoader([[1, 2], [3, 4]], [0, 1], batch_size=2)))
    assert xb.tolist() == [[1, 2], [3, 4]] and yb.tolist() == [0, 1]


def test_sample_lists_batch_as_torchs_dataloader():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader as TorchLoader
    data = {"tuples": [(np.array([i, i + 0.5]), i % 3) for i in range(5)],
            "dicts": [{"x": np.ones(2) * i, "y": i} for i in range(5)],
            "lists": [[i, 2 * i] for i in range(5)],
            "numbers": [float(i) for i in range(5)]}

    def plain(b):
        if isinstance(b, dict):
            return {k: plain(v) for k, v in b.items()}
        if isinstance(b, (list, tuple)):
            return [plain(v) for v in b]
        return np.asarray(b.numpy() if isinstance(b, torch.Tensor) else b).tolist()

    for name, samples in data.items():
        ours = [plain(b) for b in DataLoader(samples, batch_size=2)]
        theirs = [plain(b) for b in TorchLoader(samples, batch_size=2)]
        assert ours == theirs, name


def test_batches_are_tensors_that_take_pytorchs_idioms():
    """A PyTorch training loop's lines on a batch act as in PyTorch: the batches are engine
    Tensors (dtype kept, no copy of a collated batch), not numpy arrays, whose std() is the
    population one and whose view/to/float/size(0) do not exist or mean something else."""
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    y = np.array([0, 1, 0, 1])
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))
    assert isinstance(xb, engine.Tensor) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert xb.view(-1, 3).shape == (8, 3) and yb.size(0) == 4
    assert xb.float().dtype == np.float32 and yb.long().dtype == np.int64
    np.testing.assert_allclose(xb.std().item(), x.std(ddof=1), rtol=1e-6)  # PyTorch's std
    d = next(iter(DataLoader([{"img": x[i], "label": int(y[i])} for i in range(4)],
                             batch_size=2)))
    assert isinstance(d["img"], engine.Tensor) and d["label"].tolist() == [0, 1]
    names = next(iter(DataLoader([("a", 1), ("b", 2)], batch_size=2)))
    assert names[0] == ["a", "b"] and isinstance(names[1], engine.Tensor)
    # float64 numpy data comes as the default float dtype (float32), as engine.tensor makes
    # it, so it meets a float32 model; integer labels keep int64
    xb, yb = next(iter(DataLoader(x.astype(np.float64), y, batch_size=2)))
    assert xb.dtype == np.float32 and yb.dtype == np.int64
    assert nn.Linear(6, 2)(xb).shape == (2, 2)
    raw = next(iter(DataLoader([(x[0], "a"), (x[1], "b")], batch_size=2,
                               collate_fn=lambda s: s)))
    assert isinstance(raw[0][0], np.ndarray)  # the user's collate_fn: as it returns
    x0, y0 = TensorDataset(x, y)[0]  # TensorDataset's items are Tensors too, as torch's
    assert isinstance(x0, engine.Tensor) and x0.tolist() == x[0].tolist() and y0.item() == 0


def test_float64_tensors_stay_float64():
    # An engine Tensor made float64 on purpose keeps float64 through TensorDataset, Subset and
    # DataLoader (as torch's); it was rounded to float32. (numpy float64 data: the default.)
    x = np.linspace(0, 1, 12).reshape(6, 2) + 1 / 3  # not exact in float32
    xt = engine.tensor(x, dtype=np.float64)
    y = engine.tensor(np.arange(6))
    ds = TensorDataset(xt, y)
    assert ds[1][0].dtype == np.float64 and ds[1][0].tolist() == x[1].tolist()
    loaders = [DataLoader(ds, batch_size=4), DataLoader(xt, y, batch_size=4),
               DataLoader(D.Subset(ds, [0, 1, 2, 3]), batch_size=4),
               DataLoader(ds, batch_size=4, num_workers=2), DataLoader(xt, batch_size=4)]
    for loader in loaders:
        batch = next(iter(loader))
        xb = batch[0] if isinstance(batch, (list, tuple)) else batch
        assert xb.dtype == np.float64 and np.array_equal(xb.numpy(), x[:4])
    assert next(iter(DataLoader(xt, batch_size=None))).dtype == np.float64
    xb, _ = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))  # numpy: the default
    assert xb.dtype == np.float32
