"""Recurrent layers: RNNCell/RNN, LSTMCell/LSTM, GRUCell/GRU (PyTorch's equations and names).

Input is (batch, time, features) (``batch_first=True``, Keras's layout; pass False for
(time, batch, features)). A layer returns ``(outputs, state)``: outputs (N, T, H) and the final
state (h (N, H); for LSTM the pair (h, c)). Parameters follow PyTorch's names and layouts
(``weight_ih_l0`` (G·H, in), ``weight_hh_l0`` (G·H, H), ``bias_ih_l0``, ``bias_hh_l0``; LSTM
gates i, f, g, o; GRU gates r, z, n) so a PyTorch state dict of the same layer loads.

``stateful=True`` keeps the final state between calls (Flux's ``Recur``, Keras's
``stateful``) until ``reset_state()`` (Flux's ``reset!``); the kept state is detached, so
gradients stop at the call boundary (truncated backprop through time).

Each timestep runs inside a :class:`TimeStep` scope marker, so ``viz.draw_unrolled`` can put
every op of step t into its own cluster.
"""
from __future__ import annotations

import engine

from ..module import Module, Parameter
from .init import glorot_uniform, zeros

_ACTIVATIONS = {
    "tanh": lambda x: x.tanh(),
    "relu": lambda x: x.relu(),
    "linear": lambda x: x,
    "identity": lambda x: x,
    "sigmoid": lambda x: x.sigmoid(),
}


class TimeStep:
    """Scope marker: the ops made while it is on the scope stack belong to timestep ``t``."""

    __slots__ = ("t", "layer")

    def __init__(self, t, layer):
        self.t, self.layer = t, layer

    def __repr__(self):
        return f"TimeStep({self.t})"


def _activation(name):
    if name not in _ACTIVATIONS:
        raise ValueError(f"nonlinearity must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    return _ACTIVATIONS[name]


class _CellParams:
    """Creates the four parameters of a recurrent cell with ``gates`` gates."""

    def _make_params(self, input_size, hidden_size, gates, bias, suffix=""):
        self.input_size, self.hidden_size, self._gates = input_size, hidden_size, gates
        g = gates * hidden_size
        setattr(self, "weight_ih" + suffix,
                Parameter(glorot_uniform((g, input_size), input_size, g)))
        setattr(self, "weight_hh" + suffix,
                Parameter(glorot_uniform((g, hidden_size), hidden_size, g)))
        setattr(self, "bias_ih" + suffix, Parameter(zeros(g)) if bias else None)
        setattr(self, "bias_hh" + suffix, Parameter(zeros(g)) if bias else None)
        self._suffix = suffix

    def _p(self, name):
        return getattr(self, name + self._suffix)

    def _input_part(self, x):
        """``x W_ihᵀ + b_ih + b_hh`` for every timestep at once (one GEMM instead of T)."""
        out = x @ self._p("weight_ih").T
        if self._p("bias_ih") is not None:
            out = out + (self._p("bias_ih") + self._p("bias_hh"))
        return out

    def _check_input(self, x, name):
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {x.shape} has {x.shape[-1]} features, "
                             f"the layer expects {self.input_size}")


# ------------------------------------------------------------------------------------- steps
# ``whh_t`` is W_hhᵀ, transposed once per sequence by the caller (not once per step).
def _rnn_step(cell, xw_t, h, act, whh_t):
    return act(xw_t + h @ whh_t)


def _lstm_step(cell, xw_t, state, whh_t):
    h, c = state
    gates = xw_t + h @ whh_t
    if cell.fused:  # two ops (engine/ops/lstm.py): the same math, a fraction of the cost
        c = engine.lstm_c(gates, c)
        return engine.lstm_h(gates, c), c
    H = cell.hidden_size
    i = gates[:, :H].sigmoid()
    f = gates[:, H:2 * H].sigmoid()
    g = gates[:, 2 * H:3 * H].tanh()
    o = gates[:, 3 * H:].sigmoid()
    c = f * c + i * g
    return o * c.tanh(), c


def _gru_step(cell, xw_t, h, whh_t):
    # PyTorch's GRU: b_hn stays inside r ⊙ (W_hn h + b_hn), so it is kept apart from b_in.
    H = cell.hidden_size
    hw = h @ whh_t
    if cell._p("bias_hh") is not None:
        hw = hw + cell._p("bias_hh")
    r = (xw_t[:, :H] + hw[:, :H]).sigmoid()
    z = (xw_t[:, H:2 * H] + hw[:, H:2 * H]).sigmoid()
    n = (xw_t[:, 2 * H:] + r * hw[:, 2 * H:]).tanh()
    return (1 - z) * n + z * h


# ------------------------------------------------------------------------------------- cells
class RNNCell(Module, _CellParams):
    """One step of an Elman RNN: ``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``;
    x (N, in), h (N, H) → h' (N, H). ``nonlinearity``: 'tanh', 'relu' or 'linear'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        Module.__init__(self)
        self._make_params(input_size, hidden_size, 1, bias)
        self.nonlinearity = nonlinearity
        self._act = _activation(nonlinearity)

    def forward(self, x, h=None):
        self._check_input(x, "RNNCell")
        h = engine.zeros(x.shape[0], self.hidden_size, dtype=x.dtype) if h is None else h
        return _rnn_step(self, self._input_part(x), h, self._act, self.weight_hh.T)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class LSTMCell(Module, _CellParams):
    """One LSTM step (gates i, f, g, o stacked in that order):
    ``i, f, o = σ(·)``, ``g = tanh(·)``, ``c' = f⊙c + i⊙g``, ``h' = o⊙tanh(c')``;
    x (N, in), (h, c) each (N, H) → (h', c').

    ``fused=True`` runs the step as two ops (``engine.lstm_c``, ``engine.lstm_h``); ``False``
    builds every gate as its own op (slices, σ, tanh, products) — to step through them or see
    them drawn. Same numbers either way."""

    def __init__(self, input_size, hidden_size, bias=True, fused=True):
        Module.__init__(self)
        self._make_params(input_size, hidden_size, 4, bias)
        self.fused = fused

    def forward(self, x, state=None):
        self._check_input(x, "LSTMCell")
        if state is None:
            z = engine.zeros(x.shape[0], self.hidden_size, dtype=x.dtype)
            state = (z, z)
        return _lstm_step(self, self._input_part(x), state, self.weight_hh.T)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class GRUCell(Module, _CellParams):
    """One GRU step (gates r, z, n): ``r, z = σ(·)``, ``n = tanh(W_in x + b_in + r⊙(W_hn h +
    b_hn))``, ``h' = (1 − z)⊙n + z⊙h``."""

    def __init__(self, input_size, hidden_size, bias=True):
        Module.__init__(self)
        self._make_params(input_size, hidden_size, 3, bias)

    def _input_part(self, x):
        out = x @ self._p("weight_ih").T
        return out if self._p("bias_ih") is None else out + self._p("bias_ih")

    def forward(self, x, h=None):
        self._check_input(x, "GRUCell")
        h = engine.zeros(x.shape[0], self.hidden_size, dtype=x.dtype) if h is None else h
        return _gru_step(self, self._input_part(x), h, self.weight_hh.T)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


# ------------------------------------------------------------------------------------ layers
class _Recurrent(Module, _CellParams):
    _name = ""
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, batch_first=True, stateful=False):
        Module.__init__(self)
        self._make_params(input_size, hidden_size, self._gates, bias, suffix="_l0")
        self.batch_first, self.stateful = batch_first, stateful
        self.state = None

    def reset_state(self):
        """Forget the kept state (Flux's ``reset!``)."""
        self.state = None

    def _zero_state(self, n, dtype):
        return engine.zeros(n, self.hidden_size, dtype=dtype)

    def forward(self, x, state=None):
        if x.ndim != 3:
            raise ValueError(f"{self._name}: expected (batch, time, features) input, got shape "
                             f"{x.shape}")
        if not self.batch_first:
            x = x.permute(1, 0, 2)
        self._check_input(x, self._name)
        n, steps = x.shape[0], x.shape[1]
        if state is None and self.stateful and self.state is not None:
            state = self.state
            if _batch(state) != n:
                raise ValueError(f"{self._name}: stateful layer kept a state for batch "
                                 f"{_batch(state)}, got batch {n} (call reset_state())")
        if state is None:
            state = self._initial_state(n, x.dtype)
        xw = self._input_part(x)
        whh_t = self._p("weight_hh").T  # shared by every step: drawn once, outside the steps
        outputs = []
        for t in range(steps):
            with engine.module_scope(TimeStep(t, self)):
                state = self._step(xw[:, t], state, whh_t)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        out = engine.stack(outputs, axis=1)
        if not self.batch_first:
            out = out.permute(1, 0, 2)
        if self.stateful:
            self.state = tuple(s.detach() for s in state) if isinstance(state, tuple) \
                else state.detach()
        return out, state

    def extra_repr(self):
        extra = ", stateful=True" if self.stateful else ""
        return f"{self.input_size}, {self.hidden_size}, batch_first={self.batch_first}{extra}"


def _batch(state):
    return (state[0] if isinstance(state, tuple) else state).shape[0]


class RNN(_Recurrent):
    """Elman RNN over a sequence: x (N, T, in) → (outputs (N, T, H), h_T (N, H)), with
    ``h_t = act(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)`` (Keras's SimpleRNN, Flux's RNN).

    >>> rnn = RNN(1, 4)
    >>> out, h = rnn(engine.zeros(2, 5, 1))
    >>> out.shape, h.shape
    ((2, 5, 4), (2, 4))
    """

    _name, _gates = "RNN", 1

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", bias=True,
                 batch_first=True, stateful=False):
        super().__init__(input_size, hidden_size, bias, batch_first, stateful)
        self.nonlinearity = nonlinearity
        self._act = _activation(nonlinearity)

    def _initial_state(self, n, dtype):
        return self._zero_state(n, dtype)

    def _step(self, xw_t, h, whh_t):
        return _rnn_step(self, xw_t, h, self._act, whh_t)


class LSTM(_Recurrent):
    """LSTM over a sequence: x (N, T, in) → (outputs (N, T, H), (h_T, c_T)).

    ``fused``: as for :class:`LSTMCell` (two ops per step, or ``False`` for one op per gate).
    """

    _name, _gates = "LSTM", 4

    def __init__(self, input_size, hidden_size, bias=True, batch_first=True, stateful=False,
                 fused=True):
        super().__init__(input_size, hidden_size, bias, batch_first, stateful)
        self.fused = fused

    def _initial_state(self, n, dtype):
        return self._zero_state(n, dtype), self._zero_state(n, dtype)

    def _step(self, xw_t, state, whh_t):
        return _lstm_step(self, xw_t, state, whh_t)


class GRU(_Recurrent):
    """GRU over a sequence: x (N, T, in) → (outputs (N, T, H), h_T (N, H))."""

    _name, _gates = "GRU", 3
    _input_part = GRUCell._input_part

    def _initial_state(self, n, dtype):
        return self._zero_state(n, dtype)

    def _step(self, xw_t, h, whh_t):
        return _gru_step(self, xw_t, h, whh_t)
