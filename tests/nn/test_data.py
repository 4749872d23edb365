"""nn.data: DataLoader, samplers, TensorDataset, train_test_split."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    assert all(isinstance(b, np.ndarray) for b in xs)
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


def test_y_none_yields_plain_arrays_and_tuples_otherwise():
    x = np.zeros((5, 2))
    assert all(isinstance(b, np.ndarray) for b in DataLoader(x, batch_size=2))
    assert all(isinstance(b, tuple) and len(b) == 2 for b in DataLoader(x, x, batch_size=2))


def test_batches_are_copies():
    x = np.zeros((4, 2))
    for b in DataLoader(x, batch_size=2):
        b += 1
    assert (x == 0).all()


def test_accepts_lists_and_tensors():
    xb, yb = next(iter(DataLoader(FakeTensor([[1.0], [2.0]]), [0, 1], batch_size=2)))
    assert isinstance(xb, np.ndarray) and xb.tolist() == [[1.0], [2.0]]
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


def test_rng_falls_back_without_engine(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_engine(name, *args, **kwargs):
        if name.startswith("engine"):
            raise ImportError("no engine here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_engine)
    rng = D._rng()
    assert isinstance(rng, np.random.Generator) and D._rng() is rng
    assert sorted(next(iter(DataLoader(np.arange(9), batch_size=9, shuffle=True))).tolist()) \
        == list(range(9))


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
    with pytest.raises(ValueError, match="replacement=True"):
        RandomSampler(5, num_samples=3)


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
    single = next(iter(DataLoader(TensorDataset(np.arange(3)), batch_size=3)))
    assert isinstance(single, np.ndarray) and single.tolist() == [0, 1, 2]  # no 1-tuples


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
    (dict(x=np.zeros(3), y=np.zeros(4)), r"DataLoader: arrays disagree in length: "
                                         r"len\(x\)=3, len\(y\)=4"),
    (dict(x=np.zeros(3), batch_size=0), "DataLoader: batch_size must be an integer >= 1, got 0"),
    (dict(x=np.zeros(3), batch_size=2.5), "batch_size"),
    (dict(x=np.zeros(3), batch_size=True), "batch_size"),
    (dict(x=np.zeros(3), shuffle=True, sampler=[0]), "not both"),
    (dict(x=np.float64(1.0)), "0-d"),
    (dict(x=ListDataset(3), y=np.zeros(3)), "y must be None"),
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
