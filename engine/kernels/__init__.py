"""Numba kernels: plain functions over numpy arrays (no Tensor, no autograd inside).

``im2col`` / ``col2im`` move convolution windows to and from a column matrix (the GEMM itself
runs in numpy's BLAS); ``pool`` holds max and average pooling, forward and backward. Each
kernel is ``@njit(parallel=True, cache=True)`` with ``prange`` on its outermost loop, and
expects C-contiguous arrays and output buffers allocated by its caller (``engine/ops``).

To step into a kernel with pdb, run with ``NUMBA_DISABLE_JIT=1``: the kernels then execute as
ordinary (slow) Python.

Threads: a convolution alternates Numba's parallel loops with numpy's multi-threaded BLAS.
Under Numba's default OpenMP layer, idle OpenMP threads spin after every parallel loop and
starve the BLAS threads of the GEMM that follows: on 2 cores a conv forward went from ~6 ms
to ~100 ms. So unless the user chose otherwise, OpenMP threads here wait passively
(``OMP_WAIT_POLICY=PASSIVE``, read when Numba first starts its thread pool).
"""
from .direct import conv3x3_backward, conv3x3_forward
from .im2col import col2im, col2im_shift, column_masks, im2col, im2col_shift, window_tables
from .pool import avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward

__all__ = ["avg_pool_backward", "avg_pool_forward", "col2im", "col2im_shift", "column_masks",
           "conv3x3_backward", "conv3x3_forward", "im2col", "im2col_shift", "max_pool_backward",
           "max_pool_forward", "window_tables"]
