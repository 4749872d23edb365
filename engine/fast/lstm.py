"""An LSTM step in two ops (what ``nn.LSTM`` runs per timestep), instead of fifteen.

``gates`` (N, 4H) holds the pre-activations of the gates i, f, g, o (PyTorch's order), ``c``
(N, H) the cell state::

    lstm_c(gates, c_prev) = σ(i) ⊙ tanh(g) + σ(f) ⊙ c_prev        → the new cell state c
    lstm_h(gates, c)      = σ(o) ⊙ tanh(c)                          → the new hidden state h

The same math as the gate-by-gate graph (slices, sigmoids, tanh, products; ``nn.LSTM(...,
fused=False)`` builds that one, to see every gate), with one node per state instead of
fifteen: the per-op Python cost is what bounds a recurrent layer's speed at small sizes.
Each op's gradient for ``gates`` is non-zero only on its own gates, so it is returned as a
slice gradient (the walk adds it in place, no (N, 4H) of zeros per step).
"""
from __future__ import annotations

import numpy as np

from ..autograd import SliceGrad
from ..ops.base import Op
from ..ops.xp import sigmoid as _array_sigmoid
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, register
from .kernels import KERNEL_DTYPES
from .kernels import lstm as kernels


def _kernel_ok(*arrays):
    """The backward loops of engine/fast/kernels/lstm.py take float32/float64 arrays of one
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
    formula = ("c = σ(i)⊙tanh(g) + σ(f)⊙c₋₁;  dc₋₁ = dc⊙σ(f), di = dc⊙tanh(g)⊙σ'(i), "
               "df = dc⊙c₋₁⊙σ'(f), dg = dc⊙σ(i)⊙(1 − tanh²g)")

    def forward(self, gates, c_prev):
        H = _check("lstm_c", gates, c_prev)
        self.shape, self.H = gates.shape, H
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
    formula = "h = σ(o)⊙tanh(c);  do = dh⊙tanh(c)⊙σ'(o), dc = dh⊙σ(o)⊙(1 − tanh²c)"

    def forward(self, gates, c):
        H = _check("lstm_h", gates, c)
        self.shape, self.H = gates.shape, H
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


def _shapes(rng):
    n, h = (int(v) for v in rng.integers(1, 5, size=2))
    return (n, 4 * h), (n, h)


register(OpSpec("lstm_c", lstm_c, _lstm_c_ref, arity=2, shapes=_shapes,
                ops=("lstm_c",), twice=False,
                errors=(ErrorCase(lambda: lstm_c(T(2, 6), T(2, 2)), ValueError,
                                  r"lstm_c: gates must be \(N, 4H\) .*\(2, 6\) .*\(2, 2\)"),)))
register(OpSpec("lstm_h", lstm_h, _lstm_h_ref, arity=2, shapes=_shapes,
                ops=("lstm_h",), twice=False,
                errors=(ErrorCase(lambda: lstm_h(T(3, 8), T(2, 2)), ValueError,
                                  r"lstm_h: gates must be \(N, 4H\) .*\(3, 8\) .*\(2, 2\)"),)))
