"""exp and tanh inside Numba loops, for float32 at numpy's SIMD speed.

Numba calls libm one value at a time (2.3 ns a value against numpy's SIMD 0.5 ns), so the
loops of ``lstm.py`` call ``fexp``/``ftanh``: for float32 the formulas below, arithmetic
only, which LLVM vectorizes (8,192 values in 2-3 µs); for float64 libm's functions. (Where a
loop cannot vectorize, as softmax.py's sums over a short row, libm's expf is the faster:
7.0 against 9.4 µs for a (128, 10) cross-entropy.)

``exp32`` is Cephes' expf (range reduction by ln 2 in two parts, a degree-6 polynomial, 2ⁿ
built from its bits); ``tanh32`` Cephes' tanhf (an odd polynomial below |x| = 0.625,
1 − 2/(e²ˣ + 1) above). Measured against float64 (tests/engine/test_kernels.py):
within 2 ulp, like numpy's own float32 functions (≤ 2.5 ulp for exp, 1.4 for tanh); NaN stays
NaN, ±inf gives 0/inf and ±1.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE bits are the int32 ``bits`` (LLVM's bitcast)."""
    if bits != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))
    return types.float32(types.int32), codegen


_F = np.float32
_LOG2E, _LN2_HI, _LN2_LO = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
_EXP_LO, _EXP_HI = _F(-87.0), _F(88.0)  # 2ⁿ stays a normal float32 (n in [−126, 127])
_EXP_OVER, _ZERO, _INF = _F(88.72283935546875), _F(0.0), _F(np.inf)  # e^x > FLT_MAX above
_E1, _E2, _E3 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_E4, _E5, _E6 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_T1, _T2, _T3 = _F(-5.70498872745e-3), _F(2.06390887954e-2), _F(-5.37397155531e-2)
_T4, _T5 = _F(1.33314422036e-1), _F(-3.33332819422e-1)
_HALF, _ONE, _TWO, _SMALL = _F(0.5), _F(1.0), _F(2.0), _F(0.625)


@njit(cache=True, inline="always")
def exp32(x):
    """e^x for float32 x (Cephes expf) on [−87, 88]; 0 below (flushing what would be
    1.6e-38 or less, so e^−inf is 0), e^88 up to 88.72, inf above, NaN for NaN."""
    xc = min(max(x, _EXP_LO), _EXP_HI)
    n = np.floor(xc * _LOG2E + _HALF)
    r = xc - n * _LN2_HI - n * _LN2_LO
    p = ((((((_E1 * r + _E2) * r + _E3) * r + _E4) * r + _E5) * r + _E6) * (r * r) + r) + _ONE
    v = p * _float32_from_bits(np.int32((np.int32(n) + 127) << 23))
    v = v if x >= _EXP_LO else _ZERO
    v = v if x <= _EXP_OVER else _INF
    return x if x != x else v  # NaN stays NaN (the clamp would have made it a number)


@njit(cache=True, inline="always")
def tanh32(x):
    """tanh(x) for float32 x (Cephes tanhf): x + x³·P(x²) for |x| < 0.625, else
    sign(x)·(1 − 2/(e^{2|x|} + 1)); both are computed and one is selected (no branch)."""
    a = abs(x)
    z = x * x
    small = x + x * z * ((((_T1 * z + _T2) * z + _T3) * z + _T4) * z + _T5)
    big = _ONE - _TWO / (exp32(a + a) + _ONE)
    big = big if x >= 0 else -big
    return small if a < _SMALL else (x if x != x else big)


def fexp(x):
    """e^x: exp32 for float32, numpy's (libm's) for float64. Python's meaning (with
    NUMBA_DISABLE_JIT, for stepping through a kernel) is numpy's."""
    return np.exp(x)


def ftanh(x):
    """tanh(x): tanh32 for float32, numpy's (libm's) for float64."""
    return np.tanh(x)


@overload(fexp)
def _fexp(x):
    if x == types.float32:
        return lambda x: exp32(x)
    return lambda x: np.exp(x)


@overload(ftanh)
def _ftanh(x):
    if x == types.float32:
        return lambda x: tanh32(x)
    return lambda x: np.tanh(x)


@njit(cache=True, error_model="numpy")
def exp_array(x, out):
    """out = fexp(x), 1-D (tests and benchmarks of the formulas above)."""
    for i in range(x.shape[0]):
        out[i] = fexp(x[i])


@njit(cache=True, error_model="numpy")
def tanh_array(x, out):
    """out = ftanh(x), 1-D."""
    for i in range(x.shape[0]):
        out[i] = ftanh(x[i])
