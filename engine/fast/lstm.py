"""The LSTM as fused ops: a whole sequence in one op (``lstm``, what ``nn.LSTM`` runs), or
one step in two (``lstm_c``, ``lstm_h``: what ``nn.LSTMCell`` runs, and ``nn.LSTM`` when each
timestep is to be seen), instead of fifteen ops a step.

``gates`` (N, 4H) holds the pre-activations of the gates i, f, g, o (PyTorch's order), ``c``
(N, H) the cell state::

    lstm_c(gates, c_prev) = σ(i) ⊙ tanh(g) + σ(f) ⊙ c_prev        → the new cell state c
    lstm_h(gates, c)      = σ(o) ⊙ tanh(c)                          → the new hidden state h

The same math as the gate-by-gate graph (slices, sigmoids, tanh, products; ``nn.LSTM(...,
fused=False)`` builds that one, to see every gate), with one node per state instead of
fifteen: the per-op Python cost is what bounds a recurrent layer's speed at small sizes.
Each op's gradient for ``gates`` is non-zero only on its own gates, so it is returned as a
slice gradient (the walk adds it in place, no (N, 4H) of zeros per step).

The sequence op runs the same step T times inside one forward and one backward, as
PyTorch's ``nn.LSTM`` does in C++: one Numba kernel call each way
(engine/fast/kernels/lstm.py, whose float32 exp and tanh vectorize) that loops over time and
calls numpy's own BLAS for each step's GEMM from inside (engine/fast/kernels/blas.py), the
batch's rows split between two threads, each of which also sums its rows' share of the
recurrent weight's gradient Σₜ dgatesₜᵀ·hₜ₋₁ and of the bias's Σₜ dgatesₜ (on one thread:
one GEMM over all timesteps at the end, and a GEMV). Measured at N = 64, T = 50, H = 32: see
bench/nn_train. Without that BLAS (MKL, Accelerate), the same loops run from Python, a GEMM
and one kernel call per step. The step ops compute with the same loops and the same GEMM, so
a sequence run step by step (for pictures) has the sequence op's bits when the op runs
in one part; with two, each step's GEMM on half the batch may round differently from the
whole batch's in the last bit (OpenBLAS's Haswell float64 kernel does), and the two weight
gradients' sums are added in another order: float rounding either way.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

import numba
import numpy as np

from ..autograd import SliceGrad
from ..ops.base import Op
from ..ops.linalg import column_sums
from ..ops.xp import sigmoid as _array_sigmoid
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, register
from . import threads
from .kernels import KERNEL_DTYPES, blas
from .kernels import lstm as kernels
from .rnn import check_sequence_input, recurrent_weight_grad

_GATE_BY_GATE = ("; for second derivatives build the LSTM gate by gate: nn.LSTM(..., "
                 "fused=False) or nn.LSTMCell(..., fused=False)")


def _kernel_ok(*arrays):
    """The loops of engine/fast/kernels/lstm.py take float32/float64 arrays of one
    dtype; numpy's expressions beside them serve the other float dtypes (float16)."""
    return all(type(a) is np.ndarray and a.dtype == arrays[0].dtype for a in arrays) \
        and arrays[0].dtype in KERNEL_DTYPES


def _check(op, gates, c):
    if gates.ndim != 2 or c.ndim != 2 or gates.shape != (c.shape[0], 4 * c.shape[1]):
        raise ValueError(f"{op}: gates must be (N, 4H) for a state (N, H); got gates "
                         f"{gates.shape} and state {c.shape}")
    return c.shape[1]


class LSTMCellState(Op):
    name, twice = "lstm_c", False
    twice_hint = _GATE_BY_GATE
    formula = ("c = σ(i)⊙tanh(g) + σ(f)⊙c₋₁;  dc₋₁ = dc⊙σ(f), di = dc⊙tanh(g)⊙σ'(i), "
               "df = dc⊙c₋₁⊙σ'(f), dg = dc⊙σ(i)⊙(1 − tanh²g)")

    def forward(self, gates, c_prev):
        H = _check("lstm_c", gates, c_prev)
        self.shape, self.H = gates.shape, H
        if _kernel_ok(gates, c_prev):  # one loop, the sequence op's formulas (same bits)
            gates, c_prev = np.ascontiguousarray(gates), np.ascontiguousarray(c_prev)
            i, f, g, c = (np.empty_like(c_prev) for _ in range(4))
            kernels.lstm_c_forward(gates, c_prev, i, f, g, c)
            self.save(i, f, g, c_prev)
            return c
        i_f = _array_sigmoid(gates[:, :2 * H])  # σ of both gates in one call
        i, f = i_f[:, :H], i_f[:, H:]
        g = np.tanh(gates[:, 2 * H:3 * H])
        self.save(i, f, g, c_prev)
        return i * g + f * c_prev

    def backward(self, dc, *inputs, out):
        i, f, g, c_prev = self.saved
        d = np.empty((dc.shape[0], 3 * self.H), dc.dtype)
        if _kernel_ok(dc, i, f, g, c_prev):  # one loop (engine/fast/kernels/lstm.py)
            dc_prev = np.empty_like(dc)
            kernels.lstm_c_backward(dc, i, f, g, c_prev, d, dc_prev)
        else:
            d[:, :self.H] = dc * g * i * (1 - i)
            d[:, self.H:2 * self.H] = dc * c_prev * f * (1 - f)
            d[:, 2 * self.H:] = dc * i * (1 - g * g)
            dc_prev = dc * f
        return SliceGrad(self.shape, (slice(None), slice(0, 3 * self.H)), d), dc_prev


class LSTMCellHidden(Op):
    name, twice = "lstm_h", False
    twice_hint = _GATE_BY_GATE
    formula = "h = σ(o)⊙tanh(c);  do = dh⊙tanh(c)⊙σ'(o), dc = dh⊙σ(o)⊙(1 − tanh²c)"

    def forward(self, gates, c):
        H = _check("lstm_h", gates, c)
        self.shape, self.H = gates.shape, H
        if _kernel_ok(gates, c):
            gates, c = np.ascontiguousarray(gates), np.ascontiguousarray(c)
            o, tc, h = (np.empty_like(c) for _ in range(3))
            kernels.lstm_h_forward(gates, c, o, tc, h)
            self.save(o, tc)
            return h
        o, tc = _array_sigmoid(gates[:, 3 * H:]), np.tanh(c)
        self.save(o, tc)
        return o * tc

    def backward(self, dh, *inputs, out):
        o, tc = self.saved
        if _kernel_ok(dh, o, tc):
            do, dc = np.empty_like(dh), np.empty_like(dh)
            kernels.lstm_h_backward(dh, o, tc, do, dc)
        else:
            do, dc = dh * tc * o * (1 - o), dh * o * (1 - tc * tc)
        return SliceGrad(self.shape, (slice(None), slice(3 * self.H, None)), do), dc


class LSTMSequence(Op):
    name, twice = "lstm", False
    twice_hint = _GATE_BY_GATE
    formula = ("gatesₜ = xwₜ + b + hₜ₋₁·W_hhᵀ; cₜ = σ(i)⊙tanh(g) + σ(f)⊙cₜ₋₁; hₜ = σ(o)⊙tanh(cₜ);"
               "  through time: dW_hh = Σₜ dgatesₜᵀ·hₜ₋₁, db = Σₜ dgatesₜ")

    def forward(self, xw, h0, c0, w_hh, bias):
        N, T, H = _check_sequence(xw, h0, c0, w_hh, bias)
        dt = xw.dtype
        y = np.empty((N, T, 2 * H), dt)           # [hₜ | cₜ] for every t
        acts = np.empty((T, N, 4 * H), dt)        # σ(i), σ(f), tanh(g), σ(o) of each step
        tc = np.empty((T, N, H), dt)              # tanh(cₜ)
        gates = np.empty((N, 4 * H), dt)
        xw, bias, c0, h0 = (np.ascontiguousarray(a) for a in (xw, bias, c0, h0))
        # W_hhᵀ copied once (16 KiB at H = 32): a contiguous right operand makes each step's
        # GEMM 5.8 instead of 8.8 µs (N = 64, H = 32).
        whh_t, h = np.ascontiguousarray(w_hh.T), h0
        self.plan = plan = _one_call_plan(xw, w_hh)  # the backward runs the same way
        if plan is not None:  # the whole loop in one kernel call, BLAS called from inside
            with _threads(plan):
                kernels.lstm_sequence_forward(*plan, xw, h0, c0, whh_t, bias, acts, tc, y,
                                              gates)
            self.save(acts, tc)
            return y
        for t in range(T):  # two calls a step: the GEMM, then everything else in one loop
            np.matmul(h, whh_t, out=gates)
            kernels.lstm_step_forward(gates, xw, t, bias, acts, tc, y, c0)
            h = y[:, t, :H]
        self.save(acts, tc)
        return y

    def backward(self, g, xw, h0, c0, w_hh, bias, out):
        acts, tc = self.saved
        N, T, G = xw.shape
        H = G // 4
        dt = xw.dtype
        dgates = np.empty((N, T, G), dt)          # = the gradient of xw
        dh, dc, dc_prev = (np.zeros((N, H), dt) for _ in range(3))
        g = np.ascontiguousarray(g)  # the kernel reads its rows as contiguous
        c0 = np.ascontiguousarray(c0)
        plan, weights = self.plan, False
        if plan is not None:
            # Two parts: each also sums its rows' weight gradients, on its own thread (one
            # GEMM over all rows below would start BLAS's threads, which then spin against
            # the next kernel's).
            weights = plan[2] == 2 and (self.needs_grad[3] or self.needs_grad[4])
            dw_parts = np.empty((plan[2], G, H), dt)
            db_parts = np.empty((plan[2], G), dt)
            with _threads(plan):
                kernels.lstm_sequence_backward(*plan, g, np.ascontiguousarray(h0), acts, tc,
                                               out, c0, np.ascontiguousarray(w_hh), dgates, dh,
                                               dc, dc_prev, dw_parts, db_parts, weights)
            if T % 2:  # the two cell-gradient buffers swap every step
                dc = dc_prev
        else:
            for t in range(T - 1, -1, -1):
                kernels.lstm_step_backward(g, t, dh, dc, acts, tc, out, c0, dgates, dc_prev)
                np.matmul(dgates[:, t], w_hh, out=dh)  # dhₜ₋₁ = dgatesₜ·W_hh
                dc, dc_prev = dc_prev, dc
        if weights:
            dw = dw_parts.sum(axis=0) if self.needs_grad[3] else None
            db = db_parts.sum(axis=0) if self.needs_grad[4] else None
            return dgates, dh, dc, dw, db
        dw = recurrent_weight_grad(dgates, h0, out[:, :, :H]) if self.needs_grad[3] else None
        db = column_sums(dgates.reshape(N * T, G)) if self.needs_grad[4] else None
        return dgates, dh, dc, dw, db


def _one_call_plan(xw, w_hh):
    """How to run the sequence as one kernel call (engine/fast/kernels/blas.py): (GEMM
    address, 64-bit sizes, parts), or None for the per-step Python loop: float16,
    another BLAS than OpenBLAS, NUMBA_DISABLE_JIT (the bridge has no Python meaning), and a
    batch of one row or H = 1, where np.matmul calls GEMV instead of GEMM (the loop keeps the
    step ops' bits there). Two parts, each half of the batch on its own thread, while a
    step's GEMM on half the rows stays below the size OpenBLAS splits between its own threads
    (``blas.SERIAL_GEMM``), else one part on the calling thread (``threads.one_thread``: a second
    thread could only wait on BLAS's)."""
    N, _, G = xw.shape
    if xw.dtype not in KERNEL_DTYPES or w_hh.dtype != xw.dtype or min(N, G // 4) < 2 \
            or numba.config.DISABLE_JIT or blas.found() is None:
        return None
    two = (N // 2) * G * w_hh.shape[1] <= blas.SERIAL_GEMM and numba.get_num_threads() >= 2
    return blas.address(xw.dtype), blas.found()[2], 2 if two else 1


@contextmanager
def _threads(plan):
    """Around a one-call kernel: ``threads.kernel_lock``, and one thread for a one-part plan
    (``threads.one_thread``), as kernels/__init__.py's wrappers do by size."""
    with threads.kernel_lock, threads.one_thread() if plan[2] == 1 else nullcontext():
        yield


def _check_sequence(xw, h0, c0, w_hh, bias):
    N, T, H = check_sequence_input("lstm", "LSTM", xw, 4)
    G = 4 * H
    if h0.shape != (N, H) or c0.shape != (N, H) or w_hh.shape != (G, H) or bias.shape != (G,):
        raise ValueError(f"lstm: for xw {xw.shape} the states must be {(N, H)}, w_hh {(G, H)} "
                         f"and bias {(G,)}; got h0 {h0.shape}, c0 {c0.shape}, w_hh "
                         f"{w_hh.shape}, bias {bias.shape}")
    return N, T, H


def lstm(xw, h0, c0, w_hh, bias):
    """A whole LSTM sequence in one op: xw (N, T, 4H) = x·W_ihᵀ for every step (gates i, f, g,
    o), the initial states h0, c0 (N, H), the recurrent weight w_hh (4H, H) and the bias
    (4H,) (b_ih + b_hh) → (N, T, 2H) holding [hₜ | cₜ] for each t. ``nn.LSTM`` calls it and
    slices out the outputs hₜ and the final state (h_T, c_T).

    >>> import engine
    >>> z = engine.zeros(1, 2)
    >>> lstm(engine.zeros(1, 1, 8), z, z, engine.zeros(8, 2), engine.zeros(8)).data
    array([[[0., 0., 0., 0.]]], dtype=float32)
    """
    return LSTMSequence.apply(xw, h0, c0, w_hh, bias)


def lstm_c(gates, c_prev):
    """The LSTM's new cell state ``σ(i)⊙tanh(g) + σ(f)⊙c_prev``: gates (N, 4H) ordered
    i, f, g, o; c_prev (N, H) → (N, H).

    >>> import engine
    >>> lstm_c(engine.zeros(1, 8), engine.ones(1, 2)).data   # σ(0)·tanh(0) + σ(0)·1
    array([[0.5, 0.5]], dtype=float32)
    """
    return LSTMCellState.apply(gates, c_prev)


def lstm_h(gates, c):
    """The LSTM's new hidden state ``σ(o)⊙tanh(c)``: gates (N, 4H), c (N, H) → (N, H)."""
    return LSTMCellHidden.apply(gates, c)


# ----------------------------------------------------------------------------- registry
def _sig(x):
    return 1 / (1 + np.exp(-x))


def _lstm_c_ref(gates, c_prev):
    i, f, g, _ = np.split(gates, 4, axis=1)
    return _sig(i) * np.tanh(g) + _sig(f) * c_prev


def _lstm_h_ref(gates, c):
    return _sig(np.split(gates, 4, axis=1)[3]) * np.tanh(c)


def _lstm_ref(xw, h0, c0, w_hh, bias):
    h, c, ys = h0, c0, []
    for t in range(xw.shape[1]):
        gates = xw[:, t] + bias + h @ w_hh.T
        c = _lstm_c_ref(gates, c)
        h = _lstm_h_ref(gates, c)
        ys.append(np.concatenate([h, c], axis=1))
    return np.stack(ys, axis=1)


def _sequence_shapes(rng):
    n, t, h = (int(v) for v in rng.integers(1, 4, size=3))
    return (n, t, 4 * h), (n, h), (n, h), (4 * h, h), (4 * h,)


def _shapes(rng):
    n, h = (int(v) for v in rng.integers(1, 5, size=2))
    return (n, 4 * h), (n, h)


register(OpSpec("lstm", lstm, _lstm_ref, arity=5, shapes=_sequence_shapes,
                ops=("lstm",), twice=False,
                errors=(ErrorCase(lambda: lstm(T(2, 3, 6), T(2, 1), T(2, 1), T(4, 1), T(4)),
                                  ValueError, r"lstm: xw must be \(N, T, 4H\) .*\(2, 3, 6\)"),
                        ErrorCase(lambda: lstm(T(2, 3, 8), T(2, 2), T(3, 2), T(8, 2), T(8)),
                                  ValueError, r"lstm: .* states must be \(2, 2\), .*c0 \(3, 2\)"),
                        ErrorCase(lambda: lstm(T(2, 3, 8), T(2, 2), T(2, 2), T(8, 2), T(4)),
                                  ValueError, r"lstm: .*bias \(8,\); .*bias \(4,\)"))))
register(OpSpec("lstm_c", lstm_c, _lstm_c_ref, arity=2, shapes=_shapes,
                ops=("lstm_c",), twice=False,
                errors=(ErrorCase(lambda: lstm_c(T(2, 6), T(2, 2)), ValueError,
                                  r"lstm_c: gates must be \(N, 4H\) .*\(2, 6\) .*\(2, 2\)"),)))
register(OpSpec("lstm_h", lstm_h, _lstm_h_ref, arity=2, shapes=_shapes,
                ops=("lstm_h",), twice=False,
                errors=(ErrorCase(lambda: lstm_h(T(3, 8), T(2, 2)), ValueError,
                                  r"lstm_h: gates must be \(N, 4H\) .*\(3, 8\) .*\(2, 2\)"),)))
