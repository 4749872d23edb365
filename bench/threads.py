"""Thread policies for stepgrad's Numba kernels, measured: ``python -m bench threads``.

stepgrad's kernels run on Numba's thread pool; numpy's GEMMs (Linear layers, the general
conv path) run on OpenBLAS's. Each policy below runs in fresh processes (a threading layer
is fixed for the life of a process), over several alternating rounds:

- ``step``: the seed CNN's training step at batch 128 (bench/nn_train.py), median ms;
- ``step, 1 hog``: the same while one other CPU-bound process (a Python busy loop) runs —
  a laptop always has one; on 2 cores, ideal is < 2× the idle step;
- ``pair``: one empty ``prange`` kernel call followed by one 128×256×256 float32 GEMM
  (≈ 40 µs alone), the hand-over between the two pools, median µs per pair;
- ``prange``: one empty parallel kernel call alone, median µs.

The policies: stepgrad's own (engine/fast/threads.py, no variable set), Numba's ``omp`` layer
with libgomp's default waiting (``omp``), with
``OMP_WAIT_POLICY=PASSIVE`` (threads sleep at once) and with a short spin before sleeping
(``GOMP_SPINCOUNT=10000``, about 10 µs; libgomp's default spins for up to 300,000), the
``workqueue`` layer (pthreads and condition variables), ``tbb`` when the tbb package is
installed, and ``workqueue`` with one Numba thread. The table prints each policy's median
over the rounds.

Run alone on a quiet machine; the load average is printed with the table.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.common import ROOT_DIR, busy_warning, print_table, write_json

ROUNDS = 3
POLICIES = {  # name: environment ("" removes the variable)
    "stepgrad's policy": {"NUMBA_THREADING_LAYER": "", "OMP_WAIT_POLICY": "",
                          "GOMP_SPINCOUNT": ""},
    "workqueue": {"NUMBA_THREADING_LAYER": "workqueue"},
    "omp": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": ""},
    "omp PASSIVE": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "PASSIVE"},
    "omp GOMP_SPINCOUNT=10000": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "",
                                 "GOMP_SPINCOUNT": "10000"},
    "tbb": {"NUMBA_THREADING_LAYER": "tbb"},
    "workqueue, 1 thread": {"NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "1"},
}

CHILD = r"""
import json, statistics, sys, time
import numpy as np
sys.path.insert(0, {root!r})
import engine  # first, as a user would: its thread policy applies before any parallel call
from numba import njit, prange
import numba
from bench.nn_train import our_step


@njit(parallel=True)
def empty(a):
    for i in prange(a.shape[0]):
        a[i] = i


def median_us(fn, n):
    for _ in range(10):
        fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e6


a = np.zeros(2 * numba.get_num_threads())
A = np.ones((128, 256), np.float32)
B = np.ones((256, 256), np.float32)
C = np.empty((128, 256), np.float32)
res = {{"prange_us": median_us(lambda: empty(a), 500),
        "pair_us": median_us(lambda: (empty(a), np.matmul(A, B, out=C)), 200),
        "gemm_us": median_us(lambda: np.matmul(A, B, out=C), 200)}}
step = our_step("cnn")
res["step_ms"] = median_us(step, {steps}) / 1e3
res["layer"] = numba.threading_layer()
res["threads"] = numba.get_num_threads()
print(json.dumps(res))
"""


def hog():
    """Start one CPU-bound process (a Python busy loop); the caller kills it."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run_policy(env_extra, steps=20, with_hog=False):
    env = dict(os.environ)
    for key, value in env_extra.items():
        if value == "":
            env.pop(key, None)
        else:
            env[key] = value
    if env_extra.get("NUMBA_THREADING_LAYER") == "tbb":  # pip's tbb puts libtbb in <venv>/lib
        env["LD_LIBRARY_PATH"] = os.path.join(sys.prefix, "lib") + ":" + env.get(
            "LD_LIBRARY_PATH", "")
    busy = hog() if with_hog else None
    try:
        if busy:
            time.sleep(0.2)
        out = subprocess.run([sys.executable, "-c", CHILD.format(root=ROOT_DIR, steps=steps)],
                             cwd=ROOT_DIR, env=env, capture_output=True, text=True, timeout=600)
    finally:
        if busy:
            busy.kill()
            busy.wait()
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def tbb_available():
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(sys.prefix, "lib"))
    return subprocess.run([sys.executable, "-c", "import numba.np.ufunc.tbbpool"], env=env,
                          capture_output=True).returncode == 0


def main(rounds=ROUNDS):
    import statistics
    warn = busy_warning()
    if warn:
        print(warn)
    policies = {k: v for k, v in POLICIES.items() if k != "tbb" or tbb_available()}
    runs = {name: [] for name in policies}
    names = list(policies)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]  # alternate the order between rounds
        for name in order:
            idle = run_policy(policies[name])
            busy = run_policy(policies[name], with_hog=True)
            runs[name].append({"idle": idle, "hog": busy})
            print(f"round {r + 1} {name}: {idle} | with a hog: {busy.get('step_ms')}", flush=True)

    def med(name, kind, key):
        vals = [run[kind][key] for run in runs[name] if key in run[kind]]
        return statistics.median(vals) if vals else None

    rows, summary = [], {}
    for name in names:
        s = {"step_ms": med(name, "idle", "step_ms"), "hog_step_ms": med(name, "hog", "step_ms"),
             "pair_us": med(name, "idle", "pair_us"), "prange_us": med(name, "idle", "prange_us"),
             "gemm_us": med(name, "idle", "gemm_us")}
        summary[name] = s

        def f(v, spec):
            return "-" if v is None else format(v, spec)

        slow = s["hog_step_ms"] / s["step_ms"] if s["step_ms"] and s["hog_step_ms"] else None
        rows.append([name, f(s["step_ms"], ".1f"), f(s["hog_step_ms"], ".1f"),
                     f(slow, ".2f") + "x", f(s["prange_us"], ".1f"), f(s["pair_us"], ".0f"),
                     f(s["gemm_us"], ".0f")])
    print_table(["policy", "step ms", "step, 1 hog", "hog/idle", "prange µs", "pair µs",
                 "gemm µs"], rows, title=f"Thread policies ({rounds} rounds, medians)",
                notes=[f"1-min load average at the end: {os.getloadavg()[0]:.2f} on "
                       f"{os.cpu_count()} CPUs."] + ([warn] if warn else []))
    write_json("threads", {"rounds": rounds, "summary": summary, "runs": runs})


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS)
