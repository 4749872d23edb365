"""numpy's own BLAS GEMM, called from inside Numba loops.

A recurrent layer's step is a small GEMM (N = 64, H = 32: hₜ₋₁ (64 × 32) · W_hhᵀ (32 × 128),
4.8 µs of arithmetic) and a few µs of elementwise work. Run from Python, every step also pays
``np.matmul``'s call (≈ 1 µs), a Numba dispatch (≈ 2 µs: it checks the type of each array
argument) and the interpreter's loop, and the sequence cannot be split between the cores.
Calling the GEMM from inside one Numba kernel that loops over time removes those per-step
costs, and lets two threads each run half of the batch's rows through the whole sequence
(the rows of a recurrence are independent).

The GEMM is numpy's: the ``cblas_sgemm``/``cblas_dgemm`` of the OpenBLAS library numpy's
wheels ship (``numpy.libs/libscipy_openblas64_*.so``, symbols ``scipy_cblas_?gemm64_``: 64-bit
sizes) or a system OpenBLAS numpy links (``cblas_?gemm64_``: 64-bit; ``cblas_?gemm``: 32-bit),
found among the libraries loaded into the process. Its address is passed to the kernels as an
integer and called through ``gemm`` below (an ``@intrinsic``: a C call through a function
pointer), so the kernels stay cacheable (a ctypes function object would be baked into the
compiled code and disable Numba's cache). With any other BLAS (MKL, Accelerate) ``GEMM`` is
None and the callers keep their per-step Python loops. ``STEPGRAD_NUMBA_BLAS=0`` turns the
bridge off (for comparisons).

The same library computes, so the bits equal ``np.matmul``'s on the same rows.
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS's enum values

# (symbol prefix and suffix, 64-bit sizes) in the order they are tried; only OpenBLAS
# libraries are searched, whose symbol names say their integer width.
_NAMES = (("scipy_cblas_{}gemm64_", True), ("cblas_{}gemm64_", True), ("cblas_{}gemm", False))


def _loaded_openblas():
    """Paths of the OpenBLAS libraries mapped into this process (numpy loaded its own when
    it was imported), numpy's wheel's first."""
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rsplit(None, 1)[-1]
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:  # not Linux: the wheel's folders
        pass
    here = os.path.dirname(np.__file__)
    wheel = sorted(glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*"))
                   + glob.glob(os.path.join(here, ".dylibs", "*openblas*")))
    return [p for p in paths if "numpy" in p] + [p for p in paths if "numpy" not in p] \
        + [p for p in wheel if os.path.realpath(p) not in map(os.path.realpath, paths)]


def _find():
    """(sgemm address, dgemm address, 64-bit sizes) of numpy's OpenBLAS, or None."""
    if os.environ.get("STEPGRAD_NUMBA_BLAS", "1") == "0":
        return None
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name, wide in _NAMES:
            try:
                s, d = getattr(lib, name.format("s")), getattr(lib, name.format("d"))
            except AttributeError:
                continue
            return (ctypes.cast(s, ctypes.c_void_p).value, ctypes.cast(d, ctypes.c_void_p).value,
                    wide)
    return None


@intrinsic
def gemm(typingctx, ptr, wide, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """C = alpha·A·op(B) + beta·C, row-major, through the ``cblas_?gemm`` at address ``ptr``
    (an int): A (m × k) at address ``a`` with row stride ``lda``, op(B) (k × n) = B, or Bᵀ
    when ``trans_b``, C (m × n); addresses are ints (``arr.ctypes.data`` plus an offset in
    bytes), strides in elements; ``alpha``/``beta`` have the arrays' float type (float32:
    sgemm, float64: dgemm). ``wide``: the library takes 64-bit sizes (else 32-bit)."""
    if not isinstance(wide, types.Boolean) or not isinstance(alpha, types.Float):
        return None
    sig = types.void(ptr, wide, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        (ptr_, wide_, trans_, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_) = args
        i32, i64, vp = ir.IntType(32), ir.IntType(64), ir.IntType(8).as_pointer()
        fl = context.get_value_type(signature.args[6])
        beta_ = context.cast(builder, beta_, signature.args[11], signature.args[6])
        tb = builder.select(context.cast(builder, trans_, signature.args[2], types.boolean),
                            ir.Constant(i32, TRANS), ir.Constant(i32, NO_TRANS))
        enums = [ir.Constant(i32, ROW_MAJOR), ir.Constant(i32, NO_TRANS), tb]

        def call(size):
            def s(v, ty):
                return context.cast(builder, v, ty, types.int64 if size.width == 64 else
                                    types.int32)
            sizes = [s(m_, signature.args[3]), s(n_, signature.args[4]), s(k_, signature.args[5])]
            ptrs = [builder.inttoptr(context.cast(builder, p, ty, types.uintp), vp)
                    for p, ty in ((a_, signature.args[7]), (b_, signature.args[9]),
                                  (c_, signature.args[12]))]
            fnty = ir.FunctionType(ir.VoidType(), [i32] * 3 + [size] * 3 +
                                   [fl, vp, size, vp, size, fl, vp, size])
            fn = builder.inttoptr(context.cast(builder, ptr_, signature.args[0], types.uintp),
                                  fnty.as_pointer())
            builder.call(fn, enums + sizes + [alpha_, ptrs[0], s(lda_, signature.args[8]),
                                              ptrs[1], s(ldb_, signature.args[10]), beta_,
                                              ptrs[2], s(ldc_, signature.args[13])])

        with builder.if_else(context.cast(builder, wide_, signature.args[1], types.boolean)) \
                as (wide64, narrow32):
            with wide64:
                call(i64)
            with narrow32:
                call(i32)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _product(ptr, wide, a, b, c):
    """c = a·b through the GEMM at ``ptr`` (the bridge's self-check)."""
    m, k = a.shape
    gemm(ptr, wide, False, m, c.shape[1], k, a.dtype.type(1), a.ctypes.data, k, b.ctypes.data,
         c.shape[1], 0.0, c.ctypes.data, c.shape[1])


_FOUND = []


def found():
    """(sgemm address, dgemm address, 64-bit sizes) of numpy's OpenBLAS, or None: looked up
    once, on first use, and kept only if a small product through it equals numpy's (a wrong
    guess of the integer width would show there, not in a user's model)."""
    if not _FOUND:
        blas = _find()
        if blas is not None:
            a = np.arange(6.0).reshape(2, 3)
            b = np.arange(6.0).reshape(3, 2) - 2
            for ptr, dt in ((blas[0], np.float32), (blas[1], np.float64)):
                c = np.full((2, 2), np.nan, dt)
                _product(ptr, blas[2], a.astype(dt), b.astype(dt), c)
                if not np.array_equal(c, a.astype(dt) @ b.astype(dt)):
                    blas = None
                    break
        _FOUND.append(blas)
    return _FOUND[0]


def address(dtype):
    """The GEMM's address for float ``dtype`` (float32: sgemm, float64: dgemm); ``found()``
    must not be None."""
    return found()[0] if np.dtype(dtype) == np.float32 else found()[1]
