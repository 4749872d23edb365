"""engine/fast/threads.py, the thread policy: each case in a fresh interpreter (a Numba threading
layer is fixed for the life of a process)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REPORT = r"""
import json, os, sys
{before}
import numpy as np
from threadpoolctl import threadpool_info
def numpy_blas():  # numpy's own BLAS (Numba's first load also brings scipy's)
    return [(lib["internal_api"], lib["num_threads"]) for lib in threadpool_info()
            if lib["user_api"] == "blas" and os.sep + "numpy" in lib["filepath"]]
blas = numpy_blas()
import engine
from engine.fast import threads
import numba
x = engine.tensor(np.arange(2 * 3 * 5 * 4, dtype=np.float64).reshape(2, 3, 5, 4) / 50,
                  requires_grad=True)
w = engine.tensor(np.linspace(-0.5, 1, 4 * 3 * 9).reshape(4, 3, 3, 3), requires_grad=True)
{during}
out = engine.conv2d(x, w, padding=1)
out.sum().backward()
print(json.dumps({{
    "policy": threads.policy, "layer": numba.threading_layer(),
    "locked": type(threads.kernel_lock).__name__,
    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    "blas_before": blas,
    "blas_after": numpy_blas(),
    "out_sum": float(out.data.sum()), "grad_sum": float(np.asarray(x.grad).sum())}}))
"""


def run(before="", during="", **env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("NUMBA_THREADING_LAYER", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", REPORT.format(before=before, during=during)],
                         cwd=ROOT, env=full, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def expected_sums():
    """conv2d of the REPORT's x and w with padding 1, summed, and Σ dx, by numpy alone."""
    import numpy as np
    x = np.arange(2 * 3 * 5 * 4, dtype=np.float64).reshape(2, 3, 5, 4) / 50
    w = np.linspace(-0.5, 1, 4 * 3 * 9).reshape(4, 3, 3, 3)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    out = np.einsum("nchwij,fcij->nfhw", win, w)
    # Σ_out = Σ over windows of x·w: each x pixel counts w's taps that see it.
    ones = np.ones(out.shape)
    dxp = np.zeros_like(xp)
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + 5, j:j + 4] += np.einsum("nfhw,fc->nchw", ones, w[:, :, i, j])
    return out.sum(), dxp[:, :, 1:-1, 1:-1].sum()


def test_default_policy_is_passive_openmp_and_leaves_the_environment_alone():
    r = run()
    assert r["policy"] == "omp (passive)" and r["layer"] == "omp"
    assert r["locked"] == "nullcontext"
    assert r["omp_wait_policy"] is None            # only set while libgomp loaded
    assert r["blas_before"] and r["blas_after"] == r["blas_before"]  # numpy's BLAS untouched
    np_out, np_dx = expected_sums()
    assert abs(r["out_sum"] - np_out) < 1e-5 * abs(np_out)  # float32
    assert abs(r["grad_sum"] - np_dx) < 1e-5 * abs(np_dx)


def test_libgomp_already_loaded_falls_back_to_a_locked_workqueue():
    """Another library loaded the shared libgomp first: its wait policy is not ours to set,
    so the kernels run on Numba's workqueue layer, one call at a time; two Python threads
    running convolutions at once must not abort the process (workqueue's failure mode)."""
    before = "import ctypes, ctypes.util; ctypes.CDLL(ctypes.util.find_library('gomp'))"
    during = r"""
import threading
def work():
    xx = engine.tensor(np.ones((16, 3, 20, 20)), requires_grad=True)
    ww = engine.tensor(np.ones((8, 3, 3, 3)), requires_grad=True)
    for _ in range(20):
        engine.max_pool2d(engine.conv2d(xx, ww, padding=1), 2).sum().backward()
ts = [threading.Thread(target=work) for _ in range(3)]
[t.start() for t in ts]
[t.join() for t in ts]
"""
    import ctypes.util
    if ctypes.util.find_library("gomp") is None:
        pytest.skip("no shared libgomp on this system")
    r = run(before=before, during=during)
    assert r["policy"] == "workqueue" and r["layer"] == "workqueue"
    assert r["locked"] == "lock"
    np_out, np_dx = expected_sums()
    assert abs(r["out_sum"] - np_out) < 1e-5 * abs(np_out)  # float32
    assert abs(r["grad_sum"] - np_dx) < 1e-5 * abs(np_dx)


@pytest.mark.parametrize("env, policy, layer", [
    ({"NUMBA_THREADING_LAYER": "workqueue"}, "user", "workqueue"),
    ({"OMP_WAIT_POLICY": "ACTIVE"}, "omp (user's settings)", "omp"),
])
def test_the_users_choice_wins(env, policy, layer):
    r = run(**env)
    assert r["policy"] == policy and r["layer"] == layer
    assert r["omp_wait_policy"] == env.get("OMP_WAIT_POLICY")


def test_one_thread_sets_the_count_for_its_block_and_thread_only():
    """``one_thread`` calls the threading layer's own get/set (not Numba's public functions,
    which take a process-wide lock each time): inside the block this thread's parallel loops
    see one thread, another Python thread keeps its count, and the count comes back after
    the block, also when the block raises."""
    import threading

    import numba
    from numba import njit

    from engine.fast import threads

    @njit
    def seen():
        return numba.get_num_threads()

    before = numba.get_num_threads()
    other = []
    with threads.one_thread():
        assert numba.get_num_threads() == 1 and seen() == 1
        t = threading.Thread(target=lambda: other.append(numba.get_num_threads()))
        t.start()
        t.join()
    assert other == [before]
    assert numba.get_num_threads() == before and seen() == before
    with pytest.raises(KeyError), threads.one_thread():
        raise KeyError("inside")
    assert numba.get_num_threads() == before
