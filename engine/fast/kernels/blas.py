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

#: OpenBLAS runs a GEMM of at most this many multiply-adds (M·N·K) on the calling thread (its
#: GEMM_MULTITHREAD_THRESHOLD, 4 × 65,536): kernels that call the GEMM from their own
#: threads keep every call below it, so BLAS's thread pool never starts inside them.
SERIAL_GEMM = 1 << 18

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
def gemm(typingctx, ptr, wide, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """C = alpha·op(A)·op(B) + beta·C, row-major, through the ``cblas_?gemm`` at address ``ptr``
    (an int): op(A) (m × k) is A, or Aᵀ when ``trans_a`` (A then stored k × m); op(B) (k × n)
    likewise; C (m × n). A, B and C are addresses (``arr.ctypes.data`` plus an offset in
    bytes), ``lda``/``ldb``/``ldc`` their row strides in elements; ``alpha``/``beta`` have
    the arrays' float type (float32: sgemm, float64: dgemm). ``wide``: the library takes
    64-bit sizes (else 32-bit)."""
    if not isinstance(wide, types.Boolean) or not isinstance(alpha, types.Float):
        return None
    sig = types.void(ptr, wide, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)

    def codegen(context, builder, signature, args):
        names = ("ptr", "wide", "ta", "tb", "m", "n", "k", "alpha", "a", "lda", "b", "ldb",
                 "beta", "c", "ldc")
        given = dict(zip(names, zip(args, signature.args, strict=True), strict=True))
        i32, vp = ir.IntType(32), ir.IntType(8).as_pointer()
        real = signature.args[7]  # alpha's float type: the arrays'

        def arg(name, to):
            value, ty = given[name]
            return context.cast(builder, value, ty, to)

        def trans(name):
            return builder.select(arg(name, types.boolean), ir.Constant(i32, TRANS),
                                  ir.Constant(i32, NO_TRANS))

        def address(name):
            return builder.inttoptr(arg(name, types.uintp), vp)

        def call(size):  # size: the library's integer type
            n, fl = context.get_value_type(size), context.get_value_type(real)
            fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, n, n, n, fl, vp, n, vp, n,
                                                   fl, vp, n])
            builder.call(builder.inttoptr(arg("ptr", types.uintp), fnty.as_pointer()), [
                ir.Constant(i32, ROW_MAJOR), trans("ta"), trans("tb"), arg("m", size),
                arg("n", size), arg("k", size), arg("alpha", real), address("a"),
                arg("lda", size), address("b"), arg("ldb", size), arg("beta", real),
                address("c"), arg("ldc", size)])

        with builder.if_else(arg("wide", types.boolean)) as (wide64, narrow32):
            with wide64:
                call(types.int64)
            with narrow32:
                call(types.int32)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _product(ptr, wide, a, b, c):
    """c = a·b through the GEMM at ``ptr`` (the bridge's self-check)."""
    m, k = a.shape
    gemm(ptr, wide, False, False, m, c.shape[1], k, a.dtype.type(1), a.ctypes.data, k,
         b.ctypes.data, c.shape[1], 0.0, c.ctypes.data, c.shape[1])


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
