"""The Elman RNN over a whole sequence as one op (``rnn``, what ``nn.RNN`` and Keras's
``SimpleRNN`` run), instead of three graph ops per timestep.

``xw`` (N, T, H) holds each step's input part x·W_ihᵀ + b_ih + b_hh (one GEMM over all steps,
made by the layer), ``h0`` (N, H) the initial state, ``w_hh`` (H, H) the recurrent weight::

    hₜ = act(xwₜ + hₜ₋₁·W_hhᵀ)         act: tanh, relu, sigmoid or the identity
    through time: dzₜ = (gₜ + dhₜ)⊙act'(hₜ),  dhₜ₋₁ = dzₜ·W_hh,
                  dW_hh = Σₜ dzₜᵀ·hₜ₋₁ (one GEMM over all steps),  dxwₜ = dzₜ

The forward is the step graph's own numpy calls (the GEMM, the sum, the activation), so the
outputs have the bits of ``nn.RNN(..., fused=False)``; the backward runs one Numba loop a
step (engine/fast/kernels/rnn.py) beside the GEMM. At the course's sizes a step's three graph
ops cost their Python overhead, not their arithmetic: see bench/nn_train's rnn row.
"""
from __future__ import annotations

import numpy as np

from ..ops import xp
from ..ops.base import Op
from ..testing import Bad as ErrorCase
from ..testing import OpSpec, T, register
from .kernels import KERNEL_DTYPES
from .kernels import rnn as kernels

#: The activations, by the names ``nn.RNN`` takes, and their codes in the backward loop.
ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2, "linear": 3, "identity": 3}
#: Their forward on arrays: the activation ops' own functions (the step graph's bits).
_FORWARD = {"tanh": np.tanh, "relu": xp.relu, "sigmoid": xp.sigmoid, "linear": lambda z: z,
            "identity": lambda z: z}


def step_by_step_hint(layer):
    """The sequence ops' answer to create_graph (their backward is a fused loop)."""
    return (f"; for second derivatives build the {layer} step by step: nn.{layer}(..., "
            f"fused=False)")


def check_sequence_input(op, layer, xw, gates):
    """(N, T, H) of a recurrent sequence op's input part xw (N, T, gates·H), T ≥ 1, float32 or
    float64 (the loops' dtypes; ``nn.<layer>`` runs other dtypes step by step)."""
    shape = "(N, T, H)" if gates == 1 else f"(N, T, {gates}H)"
    if xw.ndim != 3 or xw.shape[2] % gates or xw.shape[1] == 0:
        raise ValueError(f"{op}: xw must be {shape} with T >= 1, got {xw.shape}")
    if xw.dtype not in KERNEL_DTYPES:
        raise TypeError(f"{op}: float32 or float64 only, got {xw.dtype} (nn.{layer} runs "
                        f"{xw.dtype} one step at a time)")
    return xw.shape[0], xw.shape[1], xw.shape[2] // gates


def recurrent_weight_grad(dgates, h0, hs):
    """Σₜ dgatesₜᵀ·hₜ₋₁, the recurrent weight's gradient of a sequence op, as one GEMM over
    all (N·T) rows: dgates (N, T, G), h0 (N, H), hs (N, T, H) the states h₁ … h_T (a view is
    fine) → (G, H)."""
    N, T, G = dgates.shape
    h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    return dgates.reshape(N * T, G).T @ h_prev.reshape(N * T, h0.shape[1])


class RNNSequence(Op):
    name, twice = "rnn", False
    twice_hint = step_by_step_hint("RNN")
    formula = ("hₜ = act(xwₜ + hₜ₋₁·W_hhᵀ);  dzₜ = (gₜ + dhₜ)⊙act'(hₜ), dhₜ₋₁ = dzₜ·W_hh, "
               "dW_hh = Σₜ dzₜᵀ·hₜ₋₁")

    def forward(self, xw, h0, w_hh, *, nonlinearity="tanh"):
        N, T, H = _check_sequence(xw, h0, w_hh, nonlinearity)
        self.act = nonlinearity
        act = _FORWARD[nonlinearity]
        y = np.empty((N, T, H), xw.dtype)
        whh_t, h = w_hh.T, h0  # BLAS reads W_hh transposed in place, as the step graph's
        for t in range(T):
            y[:, t] = act(xw[:, t] + np.matmul(h, whh_t))  # the step graph's order
            h = y[:, t]
        return y

    def backward(self, g, xw, h0, w_hh, out):
        N, T, H = xw.shape
        dz = np.empty((N, T, H), xw.dtype)      # = the gradient of xw
        dh = np.zeros((N, H), xw.dtype)
        g = np.ascontiguousarray(g, xw.dtype)   # the loop reads its rows as contiguous
        code = ACTIVATIONS[self.act]
        for t in range(T - 1, -1, -1):
            kernels.rnn_step_backward(g, out, t, dh, code, dz)
            np.matmul(dz[:, t], w_hh, out=dh)  # dhₜ₋₁ = dzₜ·W_hh
        dw = recurrent_weight_grad(dz, h0, out) if self.needs_grad[2] else None
        return dz, dh, dw

    def describe(self):
        return f"{self.act}"


def _check_sequence(xw, h0, w_hh, nonlinearity):
    if nonlinearity not in ACTIVATIONS:
        raise ValueError(f"rnn: nonlinearity must be one of {sorted(ACTIVATIONS)}, got "
                         f"{nonlinearity!r}")
    N, T, H = check_sequence_input("rnn", "RNN", xw, 1)
    if h0.shape != (N, H) or w_hh.shape != (H, H):
        raise ValueError(f"rnn: for xw {xw.shape} the state must be {(N, H)} and w_hh "
                         f"{(H, H)}; got h0 {h0.shape}, w_hh {w_hh.shape}")
    return N, T, H


def rnn(xw, h0, w_hh, nonlinearity="tanh"):
    """A whole Elman RNN sequence in one op: xw (N, T, H) = x·W_ihᵀ + b_ih + b_hh for every
    step, the initial state h0 (N, H), the recurrent weight w_hh (H, H) → (N, T, H), every
    hₜ = act(xwₜ + hₜ₋₁·W_hhᵀ). ``nn.RNN`` calls it.

    >>> import engine
    >>> rnn(engine.ones(1, 2, 1), engine.zeros(1, 1), engine.ones(1, 1)).data.round(4)
    array([[[0.7616],
            [0.9427]]], dtype=float32)
    """
    return RNNSequence.apply(xw, h0, w_hh, nonlinearity=nonlinearity)


# ----------------------------------------------------------------------------- registry
def _sig(x):
    return 1 / (1 + np.exp(-x))


_REF_ACTS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "sigmoid": _sig,
             "linear": lambda z: z, "identity": lambda z: z}


def _rnn_ref(xw, h0, w_hh, nonlinearity):
    h, ys = h0, []
    for t in range(xw.shape[1]):
        h = _REF_ACTS[nonlinearity](xw[:, t] + h @ w_hh.T)
        ys.append(h)
    return np.stack(ys, axis=1)


def _shapes(rng):
    n, t, h = (int(v) for v in rng.integers(1, 4, size=3))
    return (n, t, h), (n, h), (h, h)


def _params(rng, shapes):
    # relu only where no pre-activation sits near its kink: the checker's inputs are normal,
    # so relu is checked by the layer tests against torch instead.
    return {"nonlinearity": ("tanh", "sigmoid", "linear")[int(rng.integers(0, 3))]}


register(OpSpec("rnn", rnn, _rnn_ref, arity=3, shapes=_shapes, params=_params, ops=("rnn",),
                twice=False,
                errors=(ErrorCase(lambda: rnn(T(2, 3), T(2, 1), T(1, 1)), ValueError,
                                  r"rnn: xw must be \(N, T, H\) .*\(2, 3\)"),
                        ErrorCase(lambda: rnn(T(2, 3, 2), T(3, 2), T(2, 2)), ValueError,
                                  r"rnn: .* state must be \(2, 2\) .*h0 \(3, 2\)"),
                        ErrorCase(lambda: rnn(T(2, 3, 2), T(2, 2), T(2, 2), "gelu"),
                                  ValueError, r"rnn: nonlinearity must be one of"))))
