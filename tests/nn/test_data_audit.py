"""Audit of nn.data against torch.utils.data: each test is a case where stepgrad's data code
did something other than PyTorch's without saying so. Expected values come from torch when
it is importable, else they are derived by hand in the comments."""
import numpy as np
import pytest

import engine
from nn import data as D
from nn.data import DataLoader, IterableDataset, TensorDataset


def plain(b):
    """A batch as nested Python lists (Tensors of either library via numpy)."""
    if isinstance(b, dict):
        return {k: plain(v) for k, v in b.items()}
    if isinstance(b, (list, tuple)):
        return [plain(v) for v in b]
    if hasattr(b, "numpy"):
        b = b.numpy()
    return np.asarray(b).tolist() if hasattr(b, "shape") else b


# ------------------------------------------------------------------- collate_fn on arrays
def test_collate_fn_is_called_on_array_inputs():
    # It was ignored: DataLoader(array, collate_fn=f) yielded x[idx], f never ran.
    x = np.arange(10).reshape(5, 2)
    assert list(DataLoader(x, batch_size=2, collate_fn=len)) == [2, 2, 1]
    seen = list(DataLoader(x, np.arange(5) * 10, batch_size=3, collate_fn=lambda s: s))
    assert [[(a.tolist(), int(b)) for a, b in batch] for batch in seen] == \
        [[([0, 1], 0), ([2, 3], 10), ([4, 5], 20)], [([6, 7], 30), ([8, 9], 40)]]
    # batching off: collate_fn gets each sample (as PyTorch)
    assert list(DataLoader(x, batch_size=None, collate_fn=lambda r: int(r.sum()))) == \
        [1, 5, 9, 13, 17]


def test_collate_fn_on_arrays_as_torch():
    torch = pytest.importorskip("torch")
    x = np.arange(12.0).reshape(6, 2)

    def f(samples):
        return [float(np.asarray(s).sum()) for s in samples]

    assert list(DataLoader(x, batch_size=4, collate_fn=f)) == \
        list(torch.utils.data.DataLoader(x, batch_size=4, collate_fn=f))


def test_variable_length_samples_reach_collate_fn():
    # np.asarray refused the ragged list before the collate_fn could pad it
    seqs = [np.arange(k) for k in (2, 3, 1)]

    def pad(samples):
        out = np.zeros((len(samples), max(len(s) for s in samples)), np.int64)
        for i, s in enumerate(samples):
            out[i, :len(s)] = s
        return out

    assert [b.tolist() for b in DataLoader(seqs, batch_size=3, collate_fn=pad)] == \
        [[[0, 1, 0], [0, 1, 2], [0, 0, 0]]]
    with pytest.raises(ValueError, match="different shapes"):  # no collate_fn: clear error
        list(DataLoader(seqs, batch_size=3))


def test_a_list_of_strings_batches_as_strings():
    # It became a numpy '<U' array wrapped in a Tensor; PyTorch gives lists of str.
    torch = pytest.importorskip("torch")
    words = ["a", "bb", "c", "dd", "e"]
    ours = list(DataLoader(words, batch_size=2))
    assert ours == list(torch.utils.data.DataLoader(words, batch_size=2))
    assert ours == [["a", "bb"], ["c", "dd"], ["e"]] and all(type(b) is list for b in ours)
    single = list(DataLoader(words, batch_size=None))
    assert single == words and all(type(w) is str for w in single)


# ------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("kwargs, needle", [
    (dict(batch_size=None, drop_last=True), "drop_last"),
    (dict(persistent_workers=True), "persistent_workers"),
    (dict(timeout=5), "timeout"),
    (dict(multiprocessing_context="spawn"), "multiprocessing_context"),
    (dict(batch_size=2, drop_last="no"), "drop_last"),
])
def test_refused_as_in_torch(kwargs, needle):
    # each was accepted and ignored (drop_last="no" even meant True)
    with pytest.raises(ValueError, match=needle):
        DataLoader(TensorDataset(np.arange(4)), **kwargs)


def test_torch_refuses_the_same_arguments():
    torch = pytest.importorskip("torch")
    ds = torch.utils.data.TensorDataset(torch.arange(4))
    for kwargs in (dict(batch_size=None, drop_last=True), dict(persistent_workers=True),
                   dict(multiprocessing_context="spawn"), dict(batch_size=2, drop_last="no")):
        with pytest.raises(ValueError):
            torch.utils.data.DataLoader(ds, **kwargs)
    with pytest.raises(AssertionError):  # timeout without workers: refused when iterated
        list(torch.utils.data.DataLoader(ds, timeout=5))
    with pytest.raises(ValueError):
        torch.utils.data.BatchSampler(range(4), 2, drop_last="no")
    with pytest.raises(ValueError, match="drop_last"):
        D.BatchSampler(range(4), 2, drop_last="no")


def test_in_order_false_is_accepted():
    assert [b.tolist() for b in DataLoader(np.arange(3), batch_size=2, in_order=False)] == \
        [[0, 1], [2]]


def test_batch_sampler_resets_batch_size_and_drop_last():
    loader = DataLoader(TensorDataset(np.arange(4)), batch_sampler=[[0, 1], [2, 3]])
    assert loader.batch_size is None and loader.drop_last is False  # as PyTorch's loader
    torch = pytest.importorskip("torch")
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(4)),
                                         batch_sampler=[[0, 1], [2, 3]])
    assert theirs.batch_size is None and theirs.drop_last is False


def test_len_of_loader_dataset():
    # PyTorch's quickstart writes len(dataloader.dataset); for lists and arrays it was a
    # bare object() with no len
    assert len(DataLoader([1.0, 2.0, 3.0], batch_size=2).dataset) == 3
    assert len(DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size=2).dataset) == 5


# ------------------------------------------------------------------- batch_size=None
def test_unbatched_tuples_become_lists_as_torch():
    torch = pytest.importorskip("torch")

    class Pairs(D.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return (float(i), i, (i, "s"))

    ours = list(DataLoader(Pairs(), batch_size=None))
    theirs = list(torch.utils.data.DataLoader(Pairs(), batch_size=None))
    assert ours == theirs == [[0.0, 0, [0, "s"]], [1.0, 1, [1, "s"]], [2.0, 2, [2, "s"]]]
    assert all(type(item) is list for item in ours)


# ------------------------------------------------------------------- samplers
def test_random_sampler_num_samples_without_replacement():
    # It raised; PyTorch takes whole permutations one after another, then part of one more.
    s = D.RandomSampler(3, num_samples=7, generator=np.random.default_rng(0))
    draws = list(s)
    assert len(s) == len(draws) == 7
    assert sorted(draws[:3]) == sorted(draws[3:6]) == [0, 1, 2] and draws[6] in (0, 1, 2)
    short = list(D.RandomSampler(5, num_samples=2, generator=np.random.default_rng(0)))
    assert len(set(short)) == 2 and set(short) <= set(range(5))
    torch = pytest.importorskip("torch")
    t = list(torch.utils.data.RandomSampler(range(3), num_samples=7))
    assert len(t) == 7 and sorted(t[:3]) == sorted(t[3:6]) == [0, 1, 2]


def test_weighted_sampler_refuses_2d_weights():
    # (3, 2) weights were flattened into 6 "samples": indices 3..5 do not exist
    with pytest.raises(ValueError, match="1-D"):
        D.WeightedRandomSampler(np.ones((3, 2)), 4)
    with pytest.raises(ValueError, match="reshape"):
        D.WeightedRandomSampler(np.ones((3, 1)), 4)
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="1d"):
        torch.utils.data.WeightedRandomSampler(np.ones((3, 2)), 4)


# ------------------------------------------------------------------- datasets
def test_subset_list_and_slice_index_go_to_the_dataset_as_torch():
    torch = pytest.importorskip("torch")
    ours = D.Subset(TensorDataset(np.arange(10), np.arange(10) * 2), [5, 3, 1])
    theirs = torch.utils.data.Subset(
        torch.utils.data.TensorDataset(torch.arange(10), torch.arange(10) * 2), [5, 3, 1])
    for index in ([0, 2], slice(0, 2)):
        assert plain(ours[index]) == plain(theirs[index])
    assert plain(ours[[0, 2]]) == [[5, 1], [10, 2]]


def test_collated_float64_tensors_stay_float64():
    # A TensorDataset of a float64 Tensor kept float64 only on the fast path; through a
    # ConcatDataset (or any Dataset returning Tensors) batches were rounded to float32.
    x = engine.tensor(np.arange(6.0).reshape(3, 2) + 1 / 3, dtype="float64")
    for ds in (TensorDataset(x), D.ConcatDataset([TensorDataset(x)]),
               D.Subset(D.Subset(TensorDataset(x), [0, 1, 2]), [2, 0])):
        (xb,) = next(iter(DataLoader(ds, batch_size=2)))
        assert xb.dtype == np.float64
    (xb,) = next(iter(DataLoader(D.ConcatDataset([TensorDataset(x)]), batch_size=3)))
    np.testing.assert_array_equal(xb.data, x.data)  # exact: not rounded through float32
    batch = D.default_collate([x[0], x[1]])
    assert isinstance(batch, engine.Tensor) and batch.dtype == np.float64


def test_random_split_sizes_as_torch_and_docs_say_the_order_differs():
    torch = pytest.importorskip("torch")
    for n in (0, 7, 10, 11):
        for lengths in ([0.7, 0.3], [0.33, 0.33, 0.34], [0.25] * 4, [0.1] * 10):
            with pytest.warns(UserWarning) if n < len(lengths) else _nothing():
                ours = D.random_split(TensorDataset(np.arange(n)), lengths,
                                      generator=np.random.default_rng(42))
            with pytest.warns(UserWarning) if n < len(lengths) else _nothing():
                theirs = torch.utils.data.random_split(
                    range(n), lengths, generator=torch.Generator().manual_seed(42))
            assert [len(s) for s in ours] == [len(s) for s in theirs]
            picked = np.concatenate([s.indices for s in ours]) if ours else []
            assert sorted(np.asarray(picked).tolist()) == list(range(n))  # disjoint, covering
    doc = " ".join(D.random_split.__doc__.split())
    assert "torch.Generator().manual_seed(42)" in doc and "differ" in doc


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------- IterableDataset
class Stream(IterableDataset):
    """range(n); in a worker w of k: w, w+k, ... (worker 0 gets 7 more samples, so the
    workers' streams end at different times)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = D.get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n + 7 * (info.id == 0), info.num_workers))


class SizedStream(Stream):
    def __len__(self):
        return self.n


@pytest.mark.parametrize("kwargs", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                    dict(batch_size=None), dict(batch_size=4)])
def test_iterable_dataset_batches_as_torch(kwargs):
    torch = pytest.importorskip("torch")

    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(10))

    ours = [plain(b) for b in DataLoader(Stream(10), **kwargs)]
    assert ours == [plain(b) for b in torch.utils.data.DataLoader(TorchStream(), **kwargs)]


def test_iterable_dataset_batches_by_hand():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == \
        [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == \
        [[0, 1, 2], [3, 4, 5]]
    assert [b.tolist() for b in DataLoader(Stream(3) + Stream(2), batch_size=2)] == \
        [[0, 1], [2, 0], [1]]  # ChainDataset, as torch's ``+``


def test_iterable_dataset_len_and_refusals():
    assert len(DataLoader(SizedStream(10), batch_size=3)) == 4  # ceil(10 / 3)
    assert len(DataLoader(SizedStream(10), batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(SizedStream(10), batch_size=None)) == 10
    with pytest.raises(TypeError, match="__len__"):
        len(DataLoader(Stream(10), batch_size=3))
    for kwargs in (dict(shuffle=True), dict(sampler=[0, 1]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError, match="IterableDataset"):
            DataLoader(Stream(4), **kwargs)
    with pytest.raises(TypeError, match="ChainDataset"):
        D.ConcatDataset([Stream(2)])


def test_a_plain_iterable_is_refused_with_a_pointer_to_iterable_dataset():
    # It failed with "x must have a first (sample) axis, got a 0-d array"
    with pytest.raises(TypeError, match="IterableDataset"):
        DataLoader((i for i in range(3)), batch_size=2)

    class NoLen(D.Dataset):
        def __getitem__(self, i):
            return i

    with pytest.raises(TypeError, match="__len__"):
        DataLoader(NoLen())


def test_iterable_dataset_in_workers_round_robin_as_torch():
    # PyTorch: each worker batches its own pass; batches come worker 0, 1, 0, 1, ...,
    # skipping a worker whose pass has ended. Stream(10) in 2 workers: worker 0 reads
    # 0, 2, ..., 16 (9 samples), worker 1 reads 1, 3, 5, 7, 9.
    w0 = [[0, 2], [4, 6], [8, 10], [12, 14], [16]]
    w1 = [[1, 3], [5, 7], [9]]
    expected = [w0[0], w1[0], w0[1], w1[1], w0[2], w1[2], w0[3], w0[4]]
    for prefetch in (1, 2, 5):
        loader = DataLoader(Stream(10), batch_size=2, num_workers=2, prefetch_factor=prefetch)
        assert [b.tolist() for b in loader] == expected
        assert [b.tolist() for b in loader] == expected  # a second epoch: a fresh pass
    drop = DataLoader(Stream(10), batch_size=2, num_workers=2, drop_last=True)
    assert [b.tolist() for b in drop] == [w0[0], w1[0], w0[1], w1[1], w0[2], w0[3]]


def test_iterable_dataset_in_workers_matches_torch():
    torch = pytest.importorskip("torch")

    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter(range(info.id, 10 + 7 * (info.id == 0), info.num_workers))

    theirs = [b.tolist() for b in torch.utils.data.DataLoader(TorchStream(), batch_size=2,
                                                              num_workers=2)]
    assert [b.tolist() for b in DataLoader(Stream(10), batch_size=2, num_workers=2)] == theirs


# ------------------------------------------------------------------- workers
def test_batch_k_goes_to_worker_k_mod_n():
    class WhoAmI(D.Dataset):
        def __len__(self):
            return 12

        def __getitem__(self, i):
            return D.get_worker_info().id

    batches = [b.tolist() for b in DataLoader(WhoAmI(), batch_size=2, num_workers=3)]
    assert batches == [[0, 0], [1, 1], [2, 2]] * 2


def test_worker_init_fn_runs_once_per_worker_per_epoch_or_once_if_persistent():
    calls = []
    loader = DataLoader(np.arange(8), batch_size=4, num_workers=3, worker_init_fn=calls.append)
    for _ in range(2):
        list(loader)
    assert calls == [0, 1, 2, 0, 1, 2]  # every worker starts, even one with no batch
    calls.clear()
    loader = DataLoader(np.arange(8), batch_size=2, num_workers=2, persistent_workers=True,
                        worker_init_fn=calls.append)
    epochs = [[b.tolist() for b in loader] for _ in range(3)]
    assert calls == [0, 1] and epochs == [[[0, 1], [2, 3], [4, 5], [6, 7]]] * 3
    for _ in loader:
        break  # an early break keeps the persistent workers usable
    assert [b.tolist() for b in loader] == epochs[0]

    def broken(wid):
        raise RuntimeError(f"worker {wid} cannot start")

    with pytest.raises(RuntimeError, match="cannot start"):
        list(DataLoader(np.arange(4), batch_size=2, num_workers=2, worker_init_fn=broken))


def test_workers_reshuffle_each_epoch_as_without_workers():
    def epochs(workers):
        g = np.random.default_rng(5)
        loader = DataLoader(TensorDataset(np.arange(20)), batch_size=3, shuffle=True,
                            num_workers=workers, generator=g)
        out = []
        for _ in range(3):
            if not workers:  # iter() with workers draws the base seed first (PyTorch's order)
                g.integers(2**63)
            out.append([int(v) for (b,) in loader for v in b.tolist()])
        return out

    serial, threaded = epochs(0), epochs(3)
    assert serial == threaded
    assert all(sorted(e) == list(range(20)) for e in serial) and serial[0] != serial[1]
