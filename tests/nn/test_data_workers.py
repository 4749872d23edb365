"""DataLoader workers' random numbers, as PyTorch's: ``iter(loader)`` draws a base seed from
engine's generator (or the loader's ``generator``), worker w draws from its own generator
seeded ``base_seed + w``, batch k is made by worker k % num_workers. Expected values are
derived by hand from that rule (``np.random.default_rng(base_seed + w)``); the torch tests
check the rule itself on PyTorch 2.13."""
import gc
import os
import pathlib
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import engine
from nn import data as D
from nn.data import DataLoader

BIG = 2**63  # the base seed is rng.integers(2**63): one draw from the generator


class Augment(D.Dataset):
    """Each sample draws its 'augmentation' from engine's random functions."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return engine.randint(0, 10**6, (2,)), i


def draws(loader, epochs=1):
    return [[(xb.tolist(), yb.tolist()) for xb, yb in loader] for _ in range(epochs)]


def expected(base_seed, n, batch_size, workers, epochs=1, rngs=None):
    """By hand: batch k on worker k % workers, which draws 2 integers per sample (an
    Augment's) from default_rng(base_seed + worker), in the order of its batches."""
    rngs = rngs or [np.random.default_rng(base_seed + w) for w in range(workers)]
    out = []
    for _ in range(epochs):
        starts = range(0, n, batch_size)
        out.append([([rngs[k % workers].integers(0, 10**6, size=2).tolist()
                      for _ in range(s, min(s + batch_size, n))],
                     list(range(s, min(s + batch_size, n))))
                    for k, s in enumerate(starts)])
    return out


def worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith("DataLoader-worker")]


def test_workers_augment_reproducibly_under_manual_seed():
    runs = {}
    for seed in (0, 0, 1):
        engine.manual_seed(seed)
        loader = DataLoader(Augment(10), batch_size=2, num_workers=2)
        runs.setdefault(seed, []).append(draws(loader, epochs=2))
    assert runs[0][0] == runs[0][1] != runs[1][0]
    # each epoch's iter() drew its base seed from engine's generator
    main = np.random.default_rng(0)
    assert runs[0][0] == [expected(int(main.integers(BIG)), 10, 2, 2)[0] for _ in range(2)]


def test_workers_draw_different_streams_and_report_their_seed():
    seen = {}

    class Who(D.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            info = D.get_worker_info()
            seen[i] = (info.id, info.seed)  # (a seed can pass int64: not collated)
            return engine.rand(1).item()

    engine.manual_seed(3)
    batches = [b.numpy() for b in DataLoader(Who(), batch_size=3, num_workers=2)]
    base = int(np.random.default_rng(3).integers(BIG))
    for w, values in enumerate(batches):
        assert [seen[i] for i in range(3 * w, 3 * w + 3)] == [(w, base + w)] * 3
        want = np.random.default_rng(base + w).random(3).astype(np.float32)
        np.testing.assert_array_equal(values, want)
    assert batches[0].tolist() != batches[1].tolist()


def test_the_base_seed_is_one_draw_per_iterator_and_the_main_stream_is_untouched():
    def after(loader, epochs):
        engine.manual_seed(0)
        for _ in range(epochs):
            list(loader)
        return engine.rand(4).numpy()

    def main_after(k):  # engine's generator after k base seeds (and nothing else)
        rng = np.random.default_rng(0)
        for _ in range(k):
            rng.integers(BIG)
        return rng.random(4).astype(np.float32)

    workers = DataLoader(Augment(8), batch_size=2, num_workers=2)
    np.testing.assert_array_equal(after(workers, 3), main_after(3))  # not the 16 samples'
    persistent = DataLoader(Augment(8), batch_size=2, num_workers=2, persistent_workers=True)
    np.testing.assert_array_equal(after(persistent, 3), main_after(1))  # drawn once
    serial = DataLoader(Augment(8), batch_size=2)  # num_workers=0: the main generator, as
    engine.manual_seed(0)                          # before: 2 integers per sample, no seed
    got = [xb.tolist() for xb, _ in serial]
    want = np.random.default_rng(0).integers(0, 10**6, size=(4, 2, 2)).tolist()
    assert got == want
    # iter() draws it at once (as PyTorch's), before the sampler draws its order
    engine.manual_seed(0)
    it = iter(DataLoader(np.arange(5), num_workers=1, shuffle=True))
    np.testing.assert_array_equal(engine.rand(4).numpy(), main_after(1))
    del it
    # a loader's generator gives the base seed (and the order); engine's is not touched
    g = np.random.default_rng(9)
    engine.manual_seed(0)
    got = draws(DataLoader(Augment(6), batch_size=3, num_workers=2, generator=g))
    np.testing.assert_array_equal(engine.rand(4).numpy(), main_after(0))
    assert got == expected(int(np.random.default_rng(9).integers(BIG)), 6, 3, 2)


def test_torch_draws_one_base_seed_per_iterator_and_seeds_workers_with_it():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader as TorchLoader
    from torch.utils.data import get_worker_info

    def first_int64():
        return torch.empty((), dtype=torch.int64).random_().item()

    class Augment(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):  # plain Python values: no tensor shared between processes
            info = get_worker_info()
            return info.id, info.seed, torch.randint(0, 10**6, (2,)).tolist()

    torch.manual_seed(0)
    base = first_int64()
    torch.manual_seed(0)
    got = list(TorchLoader(Augment(), batch_size=2, num_workers=2, collate_fn=list))
    gens = [torch.Generator().manual_seed(base + w) for w in (0, 1)]
    for k, batch in enumerate(got):  # batch k on worker k % 2, seeded base + w
        w = k % 2
        assert batch == [(w, base + w, torch.randint(0, 10**6, (2,), generator=gens[w]).tolist())
                         for _ in range(2)]
    for persistent, draws_made in ((False, 3), (True, 1)):
        torch.manual_seed(0)
        loader = TorchLoader(list(range(4)), batch_size=2, num_workers=1,
                             persistent_workers=persistent, collate_fn=list)
        for _ in range(3):
            list(loader)
        got = torch.rand(1)
        torch.manual_seed(0)
        for _ in range(draws_made):
            first_int64()
        assert torch.equal(got, torch.rand(1))
        del loader


def test_worker_init_fn_sees_the_seeded_generator_and_manual_seed_stays_in_the_worker():
    seen = {}
    lock = threading.Lock()

    def init(wid):
        with lock:
            seen[wid] = (D.get_worker_info().seed, engine.rand(2).numpy())

    engine.manual_seed(5)
    list(DataLoader(Augment(4), batch_size=2, num_workers=2, worker_init_fn=init))
    base = int(np.random.default_rng(5).integers(BIG))
    for w in (0, 1):
        assert seen[w][0] == base + w
        np.testing.assert_array_equal(
            seen[w][1], np.random.default_rng(base + w).random(2).astype(np.float32))

    def reseed(wid):  # the PyTorch idiom: reseed inside the worker; the main generator stays
        engine.manual_seed(100 + wid)

    engine.manual_seed(5)
    got = draws(DataLoader(Augment(4), batch_size=2, num_workers=2, worker_init_fn=reseed))
    assert got == [[(np.random.default_rng(100 + k).integers(0, 10**6, size=(2, 2)).tolist(),
                     [2 * k, 2 * k + 1]) for k in (0, 1)]]
    main = np.random.default_rng(5)
    main.integers(BIG)
    np.testing.assert_array_equal(engine.rand(3).numpy(), main.random(3).astype(np.float32))


def test_persistent_workers_continue_their_streams_even_after_an_early_break():
    # PyTorch: the base seed is drawn once and each worker's generator goes on; the batches
    # already handed to a worker are made even when the loop breaks off, so what the next
    # epoch draws does not depend on timing.
    class Slow(Augment):
        def __getitem__(self, i):
            import time
            time.sleep(0.01)  # the queued batches are still waiting when the loop breaks
            return super().__getitem__(i)

    engine.manual_seed(2)
    loader = DataLoader(Slow(16), batch_size=2, num_workers=2, persistent_workers=True,
                        prefetch_factor=3)
    first = next(iter(loader))  # batches 0..5 were queued, 3 on each worker
    epochs = draws(loader, epochs=2)
    base = int(np.random.default_rng(2).integers(BIG))
    rngs = [np.random.default_rng(base + w) for w in (0, 1)]
    want = expected(base, 12, 2, 2, rngs=rngs)[0]  # the 6 queued batches, all made
    assert (first[0].tolist(), first[1].tolist()) == want[0]
    assert epochs == expected(base, 16, 2, 2, epochs=2, rngs=rngs)


def test_iterable_dataset_workers_draw_from_their_own_generators():
    class Noise(D.IterableDataset):
        def __iter__(self):
            return iter(engine.randn(3).tolist())

    engine.manual_seed(4)
    got = [b.tolist() for b in DataLoader(Noise(), batch_size=3, num_workers=2)]
    base = int(np.random.default_rng(4).integers(BIG))
    assert got == [np.random.default_rng(base + w).standard_normal(3).astype(np.float32)
                   .tolist() for w in (0, 1)]


def test_persistent_workers_end_when_the_loader_is_collected():
    # Threads told apart by identity, not counted: an earlier test's workers may still be
    # ending on their own meanwhile (the full suite once saw 2 such threads go mid-test).
    before = set(worker_threads())
    loader = DataLoader(np.arange(8), batch_size=2, num_workers=2, persistent_workers=True)
    list(loader)
    ours = set(worker_threads()) - before
    assert len(ours) == 2
    del loader  # joined here, as PyTorch shuts its workers down in the iterator's __del__
    assert not any(t.is_alive() for t in ours)
    before = set(worker_threads())
    loader = DataLoader(np.arange(8), batch_size=2, num_workers=2, persistent_workers=True)
    loader.me = loader  # a reference cycle: ended when the garbage collector frees it
    list(loader)
    ours = set(worker_threads()) - before
    assert len(ours) == 2
    del loader
    gc.collect()  # not joined inside a collection (see the next test): they end on their own
    for t in ours:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in ours)


def test_a_collection_inside_threadings_own_lock_does_not_hang(tmp_path):
    # The landing CI hung here: starting a thread runs threading's bookkeeping under
    # _shutdown_locks_lock, a garbage collection there finalized a loader, and joining its
    # workers needs that same lock. Reproduced by holding the lock around gc.collect(), in
    # a child process, since a deadlock would take this one down with it.
    script = tmp_path / "collect.py"
    script.write_text(textwrap.dedent("""
        import gc, threading
        import numpy as np
        from nn.data import DataLoader
        loader = DataLoader(np.arange(8), batch_size=2, num_workers=2, persistent_workers=True)
        loader.me = loader
        list(loader)
        del loader
        with threading._shutdown_locks_lock:
            gc.collect()
        print("collected")
    """))
    root = str(pathlib.Path(__file__).parents[2])
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": root})
    assert out.returncode == 0 and out.stdout.strip() == "collected", out.stderr


def test_a_loader_collected_in_another_loaders_worker_joins_its_own_workers():
    # Only a loader's own threads must not join themselves; another loader's worker thread
    # can join them (the old rule, "not in any worker", left them running).
    before = set(worker_threads())
    holder = [DataLoader(np.arange(4), batch_size=2, num_workers=2, persistent_workers=True)]
    list(holder[0])
    inner = set(worker_threads()) - before
    alive = []

    def drop(wid):  # in the outer loader's worker: the inner loader's last reference goes
        holder.clear()
        alive.extend(t for t in inner if t.is_alive())

    list(DataLoader(np.arange(4), batch_size=2, num_workers=1, worker_init_fn=drop))
    assert len(inner) == 2 and not holder and alive == []


def test_a_timed_out_persistent_worker_is_not_waited_for_and_the_next_epoch_starts_anew():
    release = threading.Event()

    class Stuck(D.Dataset):
        def __len__(self):
            return 8  # batch 2 waits on worker 0 behind the stuck batch 0

        def __getitem__(self, i):
            if i == 0 and not release.is_set():
                release.wait(60)
            return i

    loader = DataLoader(Stuck(), batch_size=2, num_workers=2, persistent_workers=True,
                        timeout=0.2)
    errors = []

    def epoch():
        try:
            list(loader)
        except RuntimeError as e:
            errors.append(str(e))

    runner = threading.Thread(target=epoch)
    runner.start()
    runner.join(timeout=10)  # the old loader waited here for the stuck batch
    stuck = runner.is_alive()
    release.set()
    runner.join()
    assert not stuck and errors and "timed out after 0.2 seconds" in errors[0]
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5], [6, 7]]  # a whole epoch


def test_a_shutdown_from_inside_a_worker_thread_does_not_join_that_thread():
    # The finalizer runs where the last reference goes, a worker thread included (the
    # thread that just made the loader's last batch drops it): no thread joins itself.
    before = set(worker_threads())
    loader = DataLoader(np.arange(4), batch_size=2, num_workers=2, persistent_workers=True)
    list(loader)
    ours = set(worker_threads()) - before
    loader._pools[0].submit(D._shutdown, loader._pools).result()  # raised: cannot join
    for t in ours:
        t.join(timeout=5)
        assert not t.is_alive()

