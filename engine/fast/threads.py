"""stepgrad's thread policy: how its Numba kernels share the cores with numpy's BLAS.

stepgrad's kernels (engine/fast/kernels) run on Numba's thread pool; numpy's matrix products run
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

4. A kernel call on small arrays (fewer than ``kernels.SERIAL_BELOW`` = 65,536 elements in
   all) runs on the calling thread alone (``one_thread``): waking the sleeping second thread
   costs ~45 µs on a 2-core VM whose other vCPU is idle (1 µs on one thread), more than the
   work. The direct 3×3 convolution runs each pass as one parallel region for the same reason.

numpy's BLAS is never touched: no thread limits, no environment variables, so importing
stepgrad does not change how the user's own numpy code performs. The direct convolution
kernels need no BLAS, so a CNN's convolutions no longer hand over between the two pools.
The LSTM's sequence kernel calls numpy's BLAS from inside its parallel region, one call per
step and thread, only on GEMMs small enough for OpenBLAS to run on the calling thread (else
the kernel runs on one thread and lets BLAS split the GEMM: engine/fast/lstm.py).

Why (``python -m bench threads``: 2-core AMD EPYC VM shared with other jobs, load 3–8, so
read the orders of magnitude; medians over rounds):

==========================  =============  ==================  ============  ==============
Numba layer / waiting       empty prange   prange + 40 µs GEMM  CNN step      step, 1 hog
==========================  =============  ==================  ============  ==============
omp, libgomp's default       1.5 µs         40–78 ms             126–611 ms    310–860 ms
omp, GOMP_SPINCOUNT=10000    496 µs         1.6–96 ms            67–242 ms     95–240 ms
omp, PASSIVE (chosen)        8.6 µs         108–217 µs           26–52 ms      27–48 ms
workqueue                    49–72 µs       170–230 µs           33–61 ms      35–65 ms
tbb (pip's tbb)              1.5 µs         98–161 µs            53–174 ms     67–158 ms
workqueue, 1 thread          30–100 µs      150–280 µs           29–95 ms      27–54 ms
==========================  =============  ==================  ============  ==============

libgomp's default waiting spins after every kernel and starves the OpenBLAS threads of the
GEMM that follows (and a competing process starves it further); passive waiting costs ~9 µs
per parallel call (a training step makes ~30) and never spins. ``workqueue`` never spins
but wakes its threads in ~50 µs per call and aborts the process when two Python threads
enter it at once. ``tbb`` launches fastest but needs the tbb package and its library on the
loader path (pip's puts it in ``<venv>/lib``), and its steps were no faster here. One thread
is the most robust under load but gives up the second core on a quiet machine.

A short spin instead (measured again on a quieter machine, load ~1, ``bench nn_train``):
``GOMP_SPINCOUNT=3000`` keeps the threads awake between a step's back-to-back kernels (an
empty ``prange`` 1.5 µs instead of 30–60 µs; the seed-CNN step 14.9 instead of 16.0 ms; the
7×7 max-pool forward + backward 0.13 instead of 0.25 ms), but with one competing process the
step took 30.5 ms, 2.05× its idle time (passive: 25.9 ms, 1.58×), and a kernel followed by a
GEMM 0.21 instead of 0.08 ms. ``GOMP_SPINCOUNT=1000``: step 15.8 ms, 1.76× under a competing
process. Passive stays: robustness on a shared laptop over 7 % on a quiet one.
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


class _OneThread:
    """``one_thread()``'s block (a class, not a generator: it runs around every small kernel
    call)."""

    __slots__ = ("n",)

    def __enter__(self):
        get, put = _COUNT or _thread_count()
        self.n = get()
        put(1)

    def __exit__(self, *exc):
        (_COUNT or _thread_count())[1](self.n)


def one_thread():
    """Inside the block, Numba's parallel loops started by this thread run on it alone (the
    setting is per thread): for kernels whose work is smaller than a wake of the pool."""
    return _OneThread()


_COUNT = None


def _thread_count():
    """(get, set) of the calling thread's Numba thread count. Numba's public
    ``get_num_threads`` / ``set_num_threads`` take a process-wide lock to make sure the pool is
    started, then call the threading layer's own functions: 16 µs for a ``one_thread`` block
    on a 2-core VM, against a 2 µs kernel on a small array. Once the pool runs (``configure``
    started it) those functions are called directly, if this Numba has them (kept then)."""
    global _COUNT
    import numba
    from numba.np.ufunc import parallel
    get = getattr(parallel, "_get_num_threads", None)
    put = getattr(parallel, "_set_num_threads", None)
    if getattr(parallel, "_is_initialized", False) and callable(get) and callable(put):
        _COUNT = get, put
        return _COUNT
    return numba.get_num_threads, numba.set_num_threads


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
