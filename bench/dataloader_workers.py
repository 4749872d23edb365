"""Why ``nn.data.DataLoader`` uses worker threads: serial vs 4 threads vs 4 forked processes.

    python -m bench.dataloader_workers

Three datasets of the kinds ``__getitem__`` code comes in: file reads / image decoding in C
(a 2 ms sleep stands in: it releases the GIL as ``read()`` and decoders do), numpy work
(128×128 matmuls, GIL released inside BLAS), and pure-Python loops (GIL held). Batches of
10; best of 5; ranges over four runs on the 2-core machine shared with other jobs (load
≈ 3.5, so the CPU-bound rows are noisy):

=========  ===========  ===========  ============
dataset    serial       threads (4)  fork (4)
=========  ===========  ===========  ============
I/O        0.42 s       0.11 s       0.13 s
numpy      0.86–1.73 s  0.47–1.25 s  0.52–0.99 s
Python     0.35–0.45 s  0.36–0.46 s  0.24–0.58 s
=========  ===========  ===========  ============

Threads win on I/O, tie with processes on numpy (both limited by the 2 shared cores), and
only processes could help pure-Python code — at the price of fork (unsafe next to BLAS and
Numba threads, absent on macOS/Windows where a notebook-defined Dataset cannot be pickled
for spawn) and of pickling every batch back. Threads need none of that.
"""
from __future__ import annotations

import multiprocessing as mp
import time

import numpy as np

from nn.data import DataLoader, default_collate


class IODataset:
    def __len__(self):
        return 200

    def __getitem__(self, i):
        time.sleep(0.002)
        return np.zeros(16, np.float32), i % 10


class NumpyDataset:
    def __init__(self, n=400):
        self.images = np.random.default_rng(0).random((n, 128, 128)).astype(np.float32)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        a = self.images[i]
        for _ in range(40):
            a = np.sqrt(np.abs(a @ a.T * 1e-3))
        return a, i % 10


class PythonDataset:
    def __len__(self):
        return 400

    def __getitem__(self, i):
        s = 0
        for k in range(20000):
            s += k * k % 7
        return np.full(16, s % 5, np.float32), i % 10


def threads(ds, workers):
    t = time.perf_counter()
    for _ in DataLoader(ds, batch_size=10, num_workers=workers):
        pass
    return time.perf_counter() - t


_DATASET = None


def _fetch(idx):
    return default_collate([_DATASET[i] for i in idx])


def fork(ds, workers):
    global _DATASET
    _DATASET = ds
    t = time.perf_counter()
    batches = [list(range(s, min(s + 10, len(ds)))) for s in range(0, len(ds), 10)]
    with mp.get_context("fork").Pool(workers) as pool:
        for _ in pool.imap(_fetch, batches):  # imap keeps the order, as DataLoader must
            pass
    return time.perf_counter() - t


def main():
    print(f"{'dataset':<10}{'serial':>9}{'threads(4)':>12}{'fork(4)':>10}")
    for name, ds in (("I/O", IODataset()), ("numpy", NumpyDataset()),
                     ("Python", PythonDataset())):
        times = [min(run(ds, w) for _ in range(5)) for run, w in ((threads, 0), (threads, 4),
                                                                  (fork, 4))]
        print(f"{name:<10}" + "".join(f"{t:>{w}.3f}s" for t, w in zip(times, (8, 11, 9),
                                                                       strict=True)))


if __name__ == "__main__":
    main()
