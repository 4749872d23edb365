"""Numba kernels: plain functions over numpy arrays (no Tensor, no autograd inside).

``im2col`` / ``col2im`` move convolution windows to and from a column matrix (the GEMM itself
runs in numpy's BLAS), the general path; ``direct`` computes 3×3 stride-1 convolutions with
no column matrix and no BLAS (the common CNN layer); ``pool`` holds max and average
pooling (fixed windows, dilated for max; adaptive windows), forward and backward;
``elementwise`` relu over big arrays (and the K = 1 outer product); ``optim`` Adam's fused
update and ``softmax`` the softmax cross-entropy's rows (serial, called directly by
``nn.optim`` and ``engine/ops/neural.py``; ``elementwise``'s serial loops likewise); ``lstm``
the LSTM's loops, step by step (serial) or a whole sequence per call, whose per-step GEMM
calls numpy's own BLAS from inside the kernel through ``blas`` (called directly by
``engine/fast/lstm.py``, which takes the lock and thread count itself). Every
other kernel is ``@njit(parallel=True, cache=True)`` with ``prange`` on its outermost loop, and
expects C-contiguous arrays and output buffers allocated by its caller (``engine/fast``).

To step into a kernel with pdb, run with ``NUMBA_DISABLE_JIT=1``: the kernels then execute as
ordinary (slow) Python.

Threads: the kernels run on Numba's thread pool, configured once by ``engine/fast/threads.py``
(the thread policy: Numba's OpenMP layer with passive waiting, or its workqueue layer) when
this package is imported. The functions exported here take ``threads.kernel_lock`` around
each call, which serializes them only under the workqueue layer (not thread-safe).
"""
import contextlib
import functools

import numpy as np

from .. import threads
from . import direct, elementwise, im2col as _im2col, pool, softmax
from .im2col import column_masks, window_tables

threads.configure()

#: The float dtypes the kernels here are compiled for (callers fall back to numpy, or refuse).
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


#: A call whose arrays hold fewer elements than this in all runs on the calling thread alone.
#: Waking the pool's sleeping thread costs more than such a call's work: a max-pool forward on
#: (1, 1, 2, 2) takes 74 µs on two threads and 17 µs on one (2-core VM; the wake is ~57 µs),
#: while on (128, 32, 7, 7) (280k elements with its outputs) two threads are still faster.
SERIAL_BELOW = 1 << 16


def _serialized(kernel):
    """``kernel`` called under ``threads.kernel_lock`` (a no-op lock unless the policy fell
    back to Numba's workqueue layer, which aborts the process on concurrent calls), on one
    thread when its arrays are small (``SERIAL_BELOW``)."""
    @functools.wraps(kernel)
    def call(*args, **kwargs):
        size = sum(a.size for a in args if type(a) is np.ndarray)
        with threads.kernel_lock, threads.one_thread() if size < SERIAL_BELOW else _NOTHING:
            return kernel(*args, **kwargs)
    return call


_NOTHING = contextlib.nullcontext()


conv3x3_forward = _serialized(direct.conv3x3_forward)
conv3x3_backward = _serialized(direct.conv3x3_backward)
im2col = _serialized(_im2col.im2col)
col2im = _serialized(_im2col.col2im)
col2im_scatter = _serialized(_im2col.col2im_scatter)
im2col_shift = _serialized(_im2col.im2col_shift)
col2im_shift = _serialized(_im2col.col2im_shift)
max_pool_forward = _serialized(pool.max_pool_forward)
relu_forward = _serialized(elementwise.relu_forward)
relu_backward = _serialized(elementwise.relu_backward)
relu_forward_serial = elementwise.relu_forward_serial  # no thread pool: no lock, no switch
relu_backward_serial = elementwise.relu_backward_serial
outer_product = elementwise.outer_product
max_pool_backward = _serialized(pool.max_pool_backward)
max_pool_2x2_forward = _serialized(pool.max_pool_2x2_forward)
max_pool_2x2_backward = _serialized(pool.max_pool_2x2_backward)
avg_pool_forward = _serialized(pool.avg_pool_forward)
avg_pool_backward = _serialized(pool.avg_pool_backward)
adaptive_max_forward = _serialized(pool.adaptive_max_forward)
adaptive_avg_forward = _serialized(pool.adaptive_avg_forward)
adaptive_avg_backward = _serialized(pool.adaptive_avg_backward)

__all__ = ["KERNEL_DTYPES", "adaptive_avg_backward", "adaptive_avg_forward",
           "adaptive_max_forward", "avg_pool_backward", "avg_pool_forward", "col2im",
           "col2im_scatter", "col2im_shift", "column_masks", "conv3x3_backward", "conv3x3_forward",
           "im2col", "im2col_shift", "max_pool_2x2_backward", "max_pool_2x2_forward",
           "max_pool_backward", "max_pool_forward", "outer_product", "relu_backward",
           "relu_backward_serial", "relu_forward", "relu_forward_serial", "window_tables"]
