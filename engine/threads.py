"""stepgrad's thread policy: how its Numba kernels share the cores with numpy's BLAS.

stepgrad's kernels (engine/kernels) run on Numba's thread pool; numpy's matrix products run
on OpenBLAS's own pool. On a 2-core machine the two pools must never spin against each other,
and the kernels must not collapse when another program keeps one core busy. The policy, set
once by ``configure()`` when ``engine`` is imported:

1. Numba's ``omp`` threading layer, with its OpenMP threads waiting *passively* (sleeping on
   a futex as soon as a parallel loop ends, instead of spinning for libgomp's default
   300,000 rounds). ``OMP_WAIT_POLICY=PASSIVE`` is put in the environment only while Numba
   loads libgomp (which reads it once, then), and the environment is restored right after:
   OpenMP runtimes loaded later (PyTorch's, scikit-learn's) see the user's settings.
2. If libgomp is already loaded when ``engine`` is imported (by another library; its wait
   policy is then whatever that library's user chose), Numba's ``workqueue`` layer instead:
   pthreads and condition variables, never spinning. It must not be entered by two Python
   threads at once, so stepgrad's kernels then run one call at a time (``kernel_lock``).
3. A choice the user made wins: ``NUMBA_THREADING_LAYER`` (or ``numba.config``), or
   ``OMP_WAIT_POLICY`` / ``GOMP_SPINCOUNT`` in the environment, or a Numba thread pool
   already started by the user's own parallel code. Numba's thread count
   (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``) is the user's too.

numpy's BLAS is never touched: no thread limits, no environment variables, so importing
stepgrad does not change how the user's own numpy code performs. The direct convolution
kernels need no BLAS, so a CNN's convolutions no longer hand over between the two pools.

Why (``python -m bench threads``, 2 cores, seed-CNN training step at batch 128): libgomp's
default waiting spins after every kernel and starves the OpenBLAS threads of the GEMM that
follows (an empty parallel loop + a 40 µs GEMM: 32–48 ms per pair instead of 0.15 ms) and a
training step took 600 ms instead of 30 ms; ``workqueue`` never spins but wakes its threads
in 30–50 µs per parallel call against 9 µs for passive OpenMP (a step makes ~30 such calls).
The measured table is in the module's commit and in bench/results/threads.json after a run.
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import nullcontext

#: What ``configure()`` chose: ``"omp (passive)"``, ``"workqueue"`` or ``"user"``.
policy = None
#: Serializes stepgrad's kernel calls when the workqueue layer is in use (see above).
kernel_lock = nullcontext()
_USER_OMP_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def _libgomp_loaded() -> bool:
    """Whether a shared libgomp (the one Numba's omp layer would link) is already mapped
    into this process. Private copies shipped inside wheels are renamed (``libgomp-<hash>``)
    and do not count: they are separate runtimes."""
    try:
        with open("/proc/self/maps") as f:
            return re.search(r"/libgomp\.so", f.read()) is not None
    except OSError:  # not Linux: Numba's omp layer uses another runtime (or none)
        return False


def configure() -> str:
    """Apply the policy of the module docstring once (before any stepgrad kernel runs) and
    return its name. Calling it again returns the first answer."""
    global policy, kernel_lock
    if policy is not None:
        return policy
    import numba
    from numba.np.ufunc import parallel

    if (os.environ.get("NUMBA_THREADING_LAYER") or str(numba.config.THREADING_LAYER) != "default"
            or getattr(parallel, "_is_initialized", False)):
        policy = "user"
    elif any(v in os.environ for v in _USER_OMP_VARS) or not _libgomp_loaded():
        policy = _start("omp")
    else:
        policy = _start("workqueue")
    numba.get_num_threads()  # starts the pool (the user's layer, if theirs) if not yet
    if numba.threading_layer() == "workqueue":
        kernel_lock = threading.Lock()
    return policy


def _start(layer: str) -> str:
    """Start Numba's thread pool on ``layer`` now (numba.get_num_threads launches it),
    with OpenMP's passive waiting in the environment only while libgomp loads."""
    import numba
    numba.config.THREADING_LAYER = layer
    user_set = {v: os.environ[v] for v in _USER_OMP_VARS if v in os.environ}
    if layer == "omp" and not user_set:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        numba.get_num_threads()
    except ValueError:  # no OpenMP runtime here (e.g. macOS without intel-openmp)
        numba.config.THREADING_LAYER = "workqueue"
        numba.get_num_threads()
        return "workqueue"
    finally:
        if layer == "omp" and not user_set:
            os.environ.pop("OMP_WAIT_POLICY", None)
    if layer != "omp":
        return layer
    return "omp (passive)" if not user_set else "omp (user's settings)"
