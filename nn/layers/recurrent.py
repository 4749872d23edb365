"""Recurrent layers: RNNCell/RNN, LSTMCell/LSTM, GRUCell/GRU (PyTorch's equations and names).

Input is (batch, time, features) (``batch_first=True``, Keras's layout; pass False for
(time, batch, features), PyTorch's default: ``nn.RNN/LSTM/GRU`` warn when it is not given,
as the two layouts have the same shapes and a wrong guess gives wrong numbers silently). A
layer returns ``(outputs, state)``: outputs (N, T, H) and the final state h_n, for LSTM the
pair (h_n, c_n), each (1, N, H) as PyTorch's (num_layers, batch, hidden): ``h_n[-1]`` is the
(N, H) state a head reads, in PyTorch's code and here alike. Initial states are taken as
(1, N, H) or (N, H). The Keras-style layers return Keras's (N, units) states. Parameters
follow PyTorch's names and layouts (``weight_ih_l0`` (G·H, in), ``weight_hh_l0`` (G·H, H),
``bias_ih_l0``, ``bias_hh_l0``; LSTM gates i, f, g, o; GRU gates r, z, n) so a PyTorch state
dict of the same layer loads.

``single_bias=True`` keeps one bias vector per layer (``bias_ih``; ``bias_hh`` is None), as
Keras's SimpleRNN and LSTM have: the same function (the two PyTorch biases only ever appear
summed), and Keras's parameter counts (LSTM(32) on 2 features: 4·(2·32 + 32·32 + 32) = 4,480
instead of 4,608). ``SimpleRNN``, ``KerasLSTM`` and ``KerasGRU`` are the Keras-style layers:
``units`` first, the input size inferred at the first call, the last output only unless
``return_sequences=True``, Keras's initialisers (orthogonal recurrent weights).

``stateful=True`` keeps the final state between calls (Flux's ``Recur``, Keras's
``stateful``) until ``reset_state()`` (Flux's ``reset!``); the kept state is detached, so
gradients stop at the call boundary (truncated backprop through time).

Each timestep runs inside a :class:`TimeStep` scope marker, so ``viz.draw_unrolled`` can put
every op of step t into its own cluster.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np

import engine
from engine.device import cpu_only
from engine.fast.kernels import KERNEL_DTYPES

from .. import functional as F
from ..module import Module, Parameter
from ..utils.rnn import PackedSequence, pad_packed_sequence, repack
from .init import glorot_uniform, keras_no_reset, refill

_ACTIVATIONS = {
    "tanh": lambda x: x.tanh(),
    "relu": lambda x: x.relu(),
    "linear": lambda x: x,
    "identity": lambda x: x,
    "sigmoid": lambda x: x.sigmoid(),
}


class TimeStep:
    """Scope marker: the ops made while it is on the scope stack belong to timestep ``t`` of
    ``layer``; ``part`` is which layer and direction of a stacked or bidirectional one
    (PyTorch's state index l·D + d: 0 for a one-layer, one-way layer)."""

    __slots__ = ("t", "layer", "part")

    def __init__(self, t, layer, part=0):
        self.t, self.layer, self.part = t, layer, part

    def __repr__(self):
        return f"TimeStep({self.t})" if not self.part else f"TimeStep({self.t}, part={self.part})"


_STEP_BY_STEP = "True (one op for the sequence) or False (ops step by step; 'step' is the same)"


def _activation(name):
    if name not in _ACTIVATIONS:
        raise ValueError(f"nonlinearity must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    return _ACTIVATIONS[name]


class _Nonlinearity:
    """``nonlinearity`` of the Elman RNN layers, fixed at construction: the step graph and the
    fused kernel both read it, and PyTorch ignores a later change (its mode is set in the
    constructor), so changing it afterwards is refused instead of running either rule."""

    @property
    def nonlinearity(self):
        return self._nonlinearity

    @nonlinearity.setter
    def nonlinearity(self, name):
        if "_nonlinearity" in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.nonlinearity is fixed when the layer is built (PyTorch "
                f"ignores a later change and keeps {self._nonlinearity!r}): build it with "
                f"nonlinearity={name!r}, then load the weights (load_state_dict)")
        self._act = _activation(name)
        self._nonlinearity = name


class _CellParams:
    """Creates the four parameters of a recurrent cell with ``gates`` gates. A stacked or
    bidirectional layer holds one such set per layer and direction, told apart by the suffix
    of their names (PyTorch's: ``_l0``, ``_l0_reverse``, ``_l1``, ...); ``suffix`` picks one
    (default: the first, ``self._suffix``)."""

    def _make_params(self, input_size, hidden_size, gates, bias, suffix="", single_bias=False):
        for name, size in (("input_size", input_size), ("hidden_size", hidden_size)):
            # checked here, as PyTorch does: a float or 0 failed deep in the weights' draw
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
                error = ValueError if isinstance(size, (int, np.integer)) else TypeError
                raise error(f"{type(self).__name__}: {name} must be an int >= 1, got {size!r} "
                            f"(PyTorch's order: input_size, hidden_size, ...)")
        input_size, hidden_size = int(input_size), int(hidden_size)
        self.input_size, self.hidden_size, self._gates = input_size, hidden_size, gates
        self.single_bias = bool(single_bias)
        self._suffix = suffix
        self._add_params(input_size, bias, suffix)

    def _add_params(self, input_size, bias, suffix):
        """weight_ih (G·H, in), weight_hh (G·H, H), bias_ih and bias_hh (G·H,) + ``suffix``,
        registered in that order (PyTorch's, so parameters() lines up with torch's)."""
        g, hidden_size = self._gates * self.hidden_size, self.hidden_size
        setattr(self, "weight_ih" + suffix, Parameter(np.empty((g, input_size), np.float32)))
        setattr(self, "weight_hh" + suffix, Parameter(np.empty((g, hidden_size), np.float32)))
        setattr(self, "bias_ih" + suffix, Parameter(np.empty(g, np.float32)) if bias else None)
        setattr(self, "bias_hh" + suffix, Parameter(np.empty(g, np.float32))
                if bias and not self.single_bias else None)
        self._draw(suffix)

    def _draw(self, suffix):
        """The weights of one layer and direction Glorot-uniform (fans: the matrix's columns
        and rows), its biases zero, in place."""
        for name in ("weight_ih", "weight_hh"):
            w = getattr(self, name + suffix)
            refill(w, glorot_uniform(w.shape, w.shape[1], w.shape[0]))
        for name in ("bias_ih", "bias_hh"):
            if getattr(self, name + suffix) is not None:
                refill(getattr(self, name + suffix), 0.0)

    def reset_parameters(self):
        """Draw every layer's and direction's parameters anew, in place (PyTorch's name:
        k-fold loops call it so that each fold starts from fresh weights)."""
        for suffix in getattr(self, "_suffixes", (self._suffix,)):
            self._draw(suffix)

    def _p(self, name, suffix=None):
        return getattr(self, name + (self._suffix if suffix is None else suffix))

    def _input_part(self, x, suffix=None):
        """``x W_ihᵀ + b_ih + b_hh`` for every timestep at once (one GEMM instead of T)."""
        return F.linear(x, self._p("weight_ih", suffix), self._bias_sum(suffix))

    def _bias_sum(self, suffix=None):
        """``b_ih + b_hh`` (the one there is with ``single_bias``), or None without bias."""
        b_ih, b_hh = self._p("bias_ih", suffix), self._p("bias_hh", suffix)
        return b_ih if b_ih is None or b_hh is None else b_ih + b_hh

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
    if cell.fused:  # True or 'step': two ops (engine/fast/lstm.py), the same math
        c = engine.lstm_c(gates, c)
        return engine.lstm_h(gates, c), c
    H = cell.hidden_size
    i = gates[:, :H].sigmoid()
    f = gates[:, H:2 * H].sigmoid()
    g = gates[:, 2 * H:3 * H].tanh()
    o = gates[:, 3 * H:].sigmoid()
    c = f * c + i * g
    return o * c.tanh(), c


def _gru_step(cell, xw_t, h, whh_t, suffix=None):
    # PyTorch's GRU: b_hn stays inside r ⊙ (W_hn h + b_hn), so it is kept apart from b_in.
    H = cell.hidden_size
    hw = h @ whh_t
    b_hh = cell._p("bias_hh", suffix)
    if b_hh is not None:
        hw = hw + b_hh
    r = (xw_t[:, :H] + hw[:, :H]).sigmoid()
    z = (xw_t[:, H:2 * H] + hw[:, H:2 * H]).sigmoid()
    n = (xw_t[:, 2 * H:] + r * hw[:, 2 * H:]).tanh()
    return (1 - z) * n + z * h


# ------------------------------------------------------------------------------------- cells
def _cell_inputs(name, cell, x, states):
    """A cell's input and states as (N, ·) batches: x (N, in) with states (N, H) each, or
    PyTorch's unbatched x (in,) with states (H,) (missing states: zeros). Returns (x, states,
    unbatched). Shapes are checked here, as PyTorch does: a (1, H) state beside N > 1 rows
    would otherwise broadcast into a batch it is not."""
    if x.ndim not in (1, 2):
        raise ValueError(f"{name}: input must be (N, {cell.input_size}) or unbatched "
                         f"({cell.input_size},), got shape {x.shape}")
    cell._check_input(x, name)
    unbatched = x.ndim == 1
    if unbatched:
        x = x.reshape(1, -1)
    H, N = cell.hidden_size, x.shape[0]
    out = []
    for k, s in enumerate(states):
        if s is None:
            out.append(engine.zeros(N, H, dtype=x.dtype))
            continue
        want = (H,) if unbatched else (N, H)
        if tuple(s.shape) != want:
            raise ValueError(f"{name}: state {k} (hidden{k}) must be {want} for input "
                             f"{(cell.input_size,) if unbatched else tuple(x.shape)}, got "
                             f"{tuple(s.shape)}")
        out.append(s.reshape(1, H) if unbatched else s)
    return x, out, unbatched


class RNNCell(_Nonlinearity, Module, _CellParams):
    """One step of an Elman RNN: ``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``;
    x (N, in), h (N, H) → h' (N, H); or unbatched x (in,), h (H,) → (H,) (PyTorch).
    ``nonlinearity``: 'tanh', 'relu' or 'linear'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", single_bias=False):
        Module.__init__(self)
        self._make_params(input_size, hidden_size, 1, bias, single_bias=single_bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, hx=None):  # hx: PyTorch's name for the state
        x, (h,), unbatched = _cell_inputs("RNNCell", self, x, [hx])
        h = _rnn_step(self, self._input_part(x), h, self._act, self.weight_hh.T)
        return h.reshape(-1) if unbatched else h

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class LSTMCell(Module, _CellParams):
    """One LSTM step (gates i, f, g, o stacked in that order):
    ``i, f, o = σ(·)``, ``g = tanh(·)``, ``c' = f⊙c + i⊙g``, ``h' = o⊙tanh(c')``;
    x (N, in), (h, c) each (N, H) → (h', c'); or unbatched x (in,), (h, c) each (H,).

    ``fused=True`` runs the step as two ops (``engine.lstm_c``, ``engine.lstm_h``); ``False``
    builds every gate as its own op (slices, σ, tanh, products) — to step through them or see
    them drawn. Same numbers either way."""

    def __init__(self, input_size, hidden_size, bias=True, fused=True, single_bias=False):
        Module.__init__(self)
        self._make_params(input_size, hidden_size, 4, bias, single_bias=single_bias)
        self.fused = fused

    def forward(self, x, hx=None):
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"LSTMCell: the state hx must be a pair (h, c), got "
                            f"{type(hx).__name__}")
        x, state, unbatched = _cell_inputs("LSTMCell", self, x,
                                           [None, None] if hx is None else list(hx))
        h, c = _lstm_step(self, self._input_part(x), state, self.weight_hh.T)
        return (h.reshape(-1), c.reshape(-1)) if unbatched else (h, c)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class GRUCell(Module, _CellParams):
    """One GRU step (gates r, z, n): ``r, z = σ(·)``, ``n = tanh(W_in x + b_in + r⊙(W_hn h +
    b_hn))``, ``h' = (1 − z)⊙n + z⊙h``."""

    def __init__(self, input_size, hidden_size, bias=True):
        Module.__init__(self)
        self._make_params(input_size, hidden_size, 3, bias)

    def _input_part(self, x, suffix=None):
        return F.linear(x, self._p("weight_ih", suffix), self._p("bias_ih", suffix))

    def forward(self, x, hx=None):
        x, (h,), unbatched = _cell_inputs("GRUCell", self, x, [hx])
        h = _gru_step(self, self._input_part(x), h, self.weight_hh.T)
        return h.reshape(-1) if unbatched else h

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


# ------------------------------------------------------------------------------------ layers
def _check_options(name, num_layers, dropout, bidirectional, proj_size, device):
    """PyTorch's constructor arguments, checked as PyTorch checks them; ``proj_size`` and
    devices other than the CPU are refused with what to write instead."""
    if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)):
        raise TypeError(f"{name}: num_layers must be an int, got {num_layers!r} (PyTorch's "
                        f"order: input_size, hidden_size, num_layers, bias, batch_first, ...)")
    if num_layers < 1:
        raise ValueError(f"{name}: num_layers must be at least 1, got {num_layers}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
            or not 0 <= dropout < 1:
        raise ValueError(f"{name}: dropout is the probability of zeroing each output of a "
                         f"layer but the last, in [0, 1); got {dropout!r}")
    if not isinstance(bidirectional, (bool, np.bool_)):
        raise TypeError(f"{name}: bidirectional must be True or False, got {bidirectional!r}")
    if proj_size:
        raise NotImplementedError(f"{name}: proj_size={proj_size!r} is not supported")
    if dropout and num_layers == 1:
        # PyTorch's behaviour: dropout acts between stacked layers, so with one it does nothing.
        warnings.warn(f"{name}: dropout={dropout!r} does nothing with one layer (PyTorch's "
                      f"dropout acts between stacked layers; it warns the same)", UserWarning,
                      stacklevel=4)
    cpu_only(name, device)


class _Recurrent(Module, _CellParams):
    """What RNN, LSTM and GRU share: PyTorch's constructor, states and stacking.

    ``num_layers`` stacks layers (layer l > 0 reads layer l − 1's outputs, with ``dropout``
    applied to them in training); ``bidirectional=True`` runs a second set of weights
    (suffix ``_reverse``) over the sequence from its end, and each layer's output is the
    two directions' outputs side by side, (N, T, 2H). States are indexed as PyTorch's:
    ``l·D + d`` for layer l, direction d (D = 2 if bidirectional else 1)."""

    _name = ""
    _gates = 1
    # A one-layer, one-way layer (what the Keras-style subclasses always are)
    num_layers, dropout, bidirectional, _suffixes = 1, 0.0, False, ("_l0",)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=None,
                 dropout=0.0, bidirectional=False, *, stateful=False, single_bias=False,
                 device=None, dtype=None, proj_size=0):
        """PyTorch's positional order (input_size, hidden_size, num_layers, bias, batch_first,
        dropout, bidirectional); stepgrad's own options are keyword-only."""
        Module.__init__(self)
        _check_options(self._name, num_layers, dropout, bidirectional, proj_size, device)
        self.num_layers, self.dropout = int(num_layers), float(dropout)
        self.bidirectional = bool(bidirectional)
        # Left out, the layout is a guess (see _check_layout).
        self._layout_guessed = batch_first is None and not stateful
        if batch_first is None:
            # The one default where stepgrad (the API contract, Keras's layout) and PyTorch
            # differ, and a wrong guess gives wrong numbers with no error: (T, N, F) input
            # read as (N, T, F) has the same shapes. So it is said, once per call site.
            warnings.warn(
                f"{self._name}: input is read as (batch, time, features) (batch_first=True: "
                f"stepgrad's default, Keras's layout); PyTorch's default is (time, batch, "
                f"features). Pass batch_first=True to say so (this warning then goes), or "
                f"batch_first=False for PyTorch's layout",
                UserWarning, stacklevel=3)  # the line that made nn.RNN/LSTM/GRU
            batch_first = True
        if single_bias and self._gates == 3:
            raise ValueError("GRU: single_bias is not supported: a GRU's recurrent bias sits "
                             "inside r ⊙ (W_hn h + b_hn), so it cannot merge with the input "
                             "bias (Keras's GRU, reset_after=True by default, has two biases "
                             "too)")
        self._make_params(input_size, hidden_size, self._gates, bias, suffix="_l0",
                          single_bias=single_bias)
        D = 2 if self.bidirectional else 1
        self._suffixes = tuple(f"_l{layer}" + ("_reverse" if d else "")
                               for layer in range(self.num_layers) for d in range(D))
        for k, suffix in enumerate(self._suffixes[1:], 1):  # layer l > 0 reads D·H features
            self._add_params(input_size if k < D else D * hidden_size, bias, suffix)
        self.batch_first, self.stateful = batch_first, stateful
        if dtype is not None:
            self.to(dtype)
        self.state = None

    def reset_state(self):
        """Forget the kept state (Flux's ``reset!``)."""
        self.state = None

    def flatten_parameters(self):
        """PyTorch's cuDNN memory layout call: nothing to do on the CPU (PyTorch's CPU layers
        do nothing either); kept so PyTorch code runs unchanged."""

    fused = False  # layers with a sequence op set it (_set_fused)

    def _set_fused(self, fused, choices):
        """``fused``: True (the sequence op, float32/float64), 'step' or False (step by step,
        as ``choices`` says for this layer)."""
        if fused not in (True, False, "step"):
            raise ValueError(f"{self._name}: fused must be {choices}, got {fused!r}")
        self.fused = fused

    def _sequence(self, x, state, suffix, last=None):
        """(outputs, final state) of the whole sequence run as one op with the weights named
        ``suffix``; called by ``_direction`` when ``fused is True`` and x is float32/float64
        (the ops' loops). The final state is taken at step ``last[n]`` of row n if given
        (``_at_step``)."""
        raise NotImplementedError

    def _check_state(self, state, n):
        """The initial states as the layer uses them: one h (for an LSTM the pair (h, c)) of
        (batch, hidden) per layer and direction. Taken: PyTorch's (num_layers·directions,
        batch, hidden) form (what the layer returns); for a one-layer, one-way layer also
        (N, H) (a cell's state, Keras's ``initial_state``) and Keras's list forms ([h],
        [h, c]); anything else is refused by name."""
        lstm = self._gates == 4
        if isinstance(state, (tuple, list)) and len(state) == (2 if lstm else 1):
            parts = tuple(state)
        elif lstm:
            raise TypeError(f"{self._name}: the state is the pair (h_0, c_0), got "
                            f"{type(state).__name__}"
                            + (f" of {len(state)}" if isinstance(state, (tuple, list)) else ""))
        else:
            parts = (state,)
        k, want = len(self._suffixes), (n, self.hidden_size)
        checked = []
        for name, s in zip(("h_0", "c_0")[:len(parts)], parts, strict=True):
            shape = getattr(s, "shape", None)
            if shape == (k,) + want:
                checked.append([s[i] for i in range(k)])  # PyTorch's layout
            elif k == 1 and shape == want:
                checked.append([s])
            else:
                raise ValueError(f"{self._name}: the initial state {name} must be "
                                 f"{self._state_layout(n)}, got {shape}")
        return list(zip(*checked, strict=True)) if lstm else checked[0]

    def _state_layout(self, n):
        """What an initial state must be, in words, for a batch of n."""
        k, want = len(self._suffixes), (n, self.hidden_size)
        if k == 1:
            return (f"(num_layers, batch, hidden) = {(1,) + want} (PyTorch's layout) or "
                    f"(batch, hidden) = {want} (this layer has num_layers=1 and one direction)")
        dirs = "·2 directions" if self.bidirectional else ""
        return (f"(num_layers{dirs}, batch, hidden) = {(k,) + want} (PyTorch's layout; "
                f"num_layers={self.num_layers}, bidirectional={self.bidirectional})")

    def _zero_state(self, n, dtype, name="h_0"):
        """A zero initial state (N, H), named as PyTorch's docs name it (h_0, c_0)."""
        return engine.zeros(n, self.hidden_size, dtype=dtype, name=name)

    def _run_sequence(self, x, state):
        """(outputs (N, T, D·H) in the input's layout, final states: a list of one h (LSTM:
        (h, c)) of (N, H) per layer and direction, PyTorch's order l0, l0_reverse, l1, ...)."""
        packed, lengths = (x, None) if isinstance(x, PackedSequence) else (None, None)
        if packed is not None:
            if packed.data.ndim != 2:
                raise ValueError(f"{self._name}: a PackedSequence's data must be (steps, "
                                 f"features), got shape {packed.data.shape}")
            x, lengths = pad_packed_sequence(packed, batch_first=True)  # the batch's order
            lengths = None if (lengths.data == x.shape[1]).all() else lengths.data
        elif x.ndim != 3:
            raise ValueError(f"{self._name}: expected (batch, time, features) input (or "
                             f"PyTorch's unbatched (time, features)), got shape {x.shape}")
        elif not self.batch_first:
            x = x.permute(1, 0, 2)
        else:
            self._check_layout(x)
        self._check_input(x, self._name)
        n = x.shape[0]
        if state is None and self.stateful and self.state is not None:
            states = self.state if isinstance(self.state, list) else [self.state]
            if _batch(states[0]) != n:
                raise ValueError(f"{self._name}: stateful layer kept a state for batch "
                                 f"{_batch(states[0])}, got batch {n} (call reset_state())")
        elif state is None:
            states = [self._initial_state(n, x.dtype) for _ in self._suffixes]
        else:
            states = self._check_state(state, n)
        D, finals = 2 if self.bidirectional else 1, []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                out, final = self._direction(x, states[k], self._suffixes[k], d == 1, lengths,
                                             part=k)
                outs.append(out)
                finals.append(final)
            x = outs[0] if D == 1 else engine.cat(outs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout)  # between layers only, as PyTorch
        if packed is not None:
            x = repack(x, packed)  # only each sequence's own steps: what follows is unused
        elif not self.batch_first:
            x = x.permute(1, 0, 2)
        if self.stateful:  # kept as the layer uses it: h (LSTM: (h, c)), a list if stacked
            kept = [tuple(s.detach() for s in f) if isinstance(f, tuple) else f.detach()
                    for f in finals]
            self.state = kept[0] if len(kept) == 1 else kept
        return x, finals

    def _check_layout(self, x):
        """Refuse the one input whose layout the default (batch_first=True, left out) would
        surely misread: (N, 1, F) with N > 1, which PyTorch's tutorials build as one sequence
        of N steps (``embeds.view(len(sentence), 1, -1)``) and stepgrad would read as N
        sequences of one step: same shapes out, no recurrence, wrong numbers."""
        if getattr(self, "_layout_guessed", False) and x.shape[1] == 1 and x.shape[0] > 1:
            n = x.shape[0]
            raise ValueError(
                f"{self._name}: input of shape {x.shape} is {n} sequences of 1 step in "
                f"stepgrad's default layout (batch, time, features), but 1 sequence of {n} "
                f"steps in PyTorch's default (time, batch, features). Say which: "
                f"batch_first=False for PyTorch's layout, batch_first=True for {n} one-step "
                f"sequences")

    def _direction(self, x, state, suffix, reverse=False, lengths=None, part=0):
        """One layer, one direction over x (N, T, in): (outputs (N, T, H), final state). The
        reverse direction reads x from its last step to its first; its outputs are put back
        in time order (output t is the state after reading x_T … x_t). With ``lengths``
        (N,) (packed input), sequence n has only its first lengths[n] steps: its final state
        is the one after step lengths[n] − 1, the reverse direction starts at that step, and
        the outputs past it are left over (the caller repacks without them). ``part`` (the
        state index l·D + d) goes into each step's TimeStep, for pictures."""
        last = reorder = None
        if lengths is not None:
            t = np.arange(x.shape[1])
            # each row reversed within its own length (an involution: it also puts back)
            reorder = (np.arange(x.shape[0])[:, None],
                       np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t))
            last = lengths - 1
        if reverse:
            x = x.flip(1) if reorder is None else x[reorder]
        if self.fused is True and x.dtype in KERNEL_DTYPES:
            out, state = self._sequence(x, state, suffix, last)
        else:
            xw = self._input_part(x, suffix)
            whh_t = self._p("weight_hh", suffix).T  # shared by every step: drawn once
            steps, outputs, cells = x.shape[1], [], []
            for t in range(steps):
                with engine.module_scope(TimeStep(steps - 1 - t if reverse else t, self, part)):
                    state = self._step(xw[:, t], state, whh_t, suffix)
                outputs.append(state[0] if isinstance(state, tuple) else state)
                if last is not None and isinstance(state, tuple):
                    cells.append(state[1])
            out = engine.stack(outputs, axis=1)
            if last is not None:  # each sequence's state after its own last step
                state = (_at_step(out, last), _at_step(engine.stack(cells, axis=1), last)) \
                    if cells else _at_step(out, last)
        if reverse:
            out = out.flip(1) if reorder is None else out[reorder]
        return out, state

    def forward(self, x, hx=None):
        """x (N, T, in) (``batch_first=False``: (T, N, in)) and an optional initial state
        h_0 (LSTM: the pair (h_0, c_0)), each (num_layers·D, N, H) as PyTorch's (a one-layer,
        one-way layer also takes (N, H)) → ``(outputs, h_n)`` (LSTM: ``(outputs, (h_n,
        c_n))``): outputs (N, T, D·H) (or (T, N, D·H)), the last layer's; h_n and c_n
        (num_layers·D, N, H), PyTorch's layout, so ``h_n[-1]`` is the last layer's (last
        direction's) final state (N, H), as in PyTorch code. D = 2 if bidirectional else 1.

        ``x`` may be a ``PackedSequence`` (``nn.utils.rnn.pack_padded_sequence``): each
        sequence then runs for its own length, and the outputs are a PackedSequence laid out
        as ``x``; h_n is in the batch's own order, as PyTorch's. PyTorch's unbatched input
        x (T, in) gives outputs (T, D·H) and states (num_layers·D, H), and takes initial
        states of that shape. ``hx`` is PyTorch's name, so ``lstm(x, hx=(h0, c0))`` runs."""
        state = hx
        unbatched = not isinstance(x, PackedSequence) and getattr(x, "ndim", None) == 2
        if unbatched:  # a batch of one, in the layout the layer reads
            x = x.unsqueeze(0 if self.batch_first else 1)
            state = None if state is None else self._unbatched_state(state)
        out, finals = self._run_sequence(x, state)
        if self._gates == 4:
            states = (_stacked([f[0] for f in finals]), _stacked([f[1] for f in finals]))
        else:
            states = _stacked(finals)
        if not unbatched:
            return out, states
        out = out[0] if self.batch_first else out[:, 0]
        return out, (tuple(s[:, 0] for s in states) if self._gates == 4 else states[:, 0])

    def _unbatched_state(self, state):
        """An initial state for unbatched input: each of h_0 (and c_0) (num_layers·D, H), as
        PyTorch takes it → (num_layers·D, 1, H)."""
        lstm, k = self._gates == 4, len(self._suffixes)
        parts = tuple(state) if isinstance(state, (tuple, list)) else (state,)
        if len(parts) != (2 if lstm else 1):
            return state  # _check_state says what is wrong with it
        for name, s in zip(("h_0", "c_0"), parts, strict=False):
            if getattr(s, "shape", None) != (k, self.hidden_size):
                raise ValueError(f"{self._name}: for unbatched input (time, features) the "
                                 f"initial state {name} must be (num_layers·directions, "
                                 f"hidden) = {(k, self.hidden_size)}, got "
                                 f"{getattr(s, 'shape', type(s).__name__)}")
        parts = tuple(s.unsqueeze(1) for s in parts)
        return parts if lstm else parts[0]

    def extra_repr(self):
        extra = f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        extra += f", batch_first={self.batch_first}"
        extra += f", dropout={self.dropout}" if self.dropout else ""
        extra += ", bidirectional=True" if self.bidirectional else ""
        extra += ", stateful=True" if self.stateful else ""
        extra += ", single_bias=True" if getattr(self, "single_bias", False) else ""
        return f"{self.input_size}, {self.hidden_size}{extra}"


def _at_step(seq, last, cols=None):
    """seq (N, T, ·) at its last step, ``seq[:, -1, cols]`` (``last`` None), or at each row's
    own last step ``last[n]`` (packed input)."""
    if last is None:
        return seq[:, -1] if cols is None else seq[:, -1, cols]
    rows = np.arange(seq.shape[0])
    return seq[rows, last] if cols is None else seq[rows, last, cols]


def _stacked(states):
    """Final states (N, H), one per layer and direction → PyTorch's (num_layers·D, N, H)."""
    return states[0].unsqueeze(0) if len(states) == 1 else engine.stack(states, axis=0)


def _batch(state):
    return (state[0] if isinstance(state, tuple) else state).shape[0]


class RNN(_Nonlinearity, _Recurrent):
    """Elman RNN over a sequence: x (N, T, in) → (outputs (N, T, H), h_n (1, N, H)), with
    ``h_t = act(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)`` (Keras's SimpleRNN, Flux's RNN).
    ``fused=True`` runs the recurrence as one op (``engine.rnn``, as PyTorch's C++ loop), with
    the step graph's outputs; ``fused=False`` records each step's ops (twice differentiable,
    and what pictures of the unrolled net draw, see :func:`stepwise`).

    >>> rnn = RNN(1, 4, batch_first=True)
    >>> out, h = rnn(engine.zeros(2, 5, 1))
    >>> out.shape, h.shape, h[-1].shape     # h: PyTorch's (num_layers, batch, hidden)
    ((2, 5, 4), (1, 2, 4), (2, 4))
    """

    _name, _gates = "RNN", 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=None, dropout=0.0, bidirectional=False, *, stateful=False,
                 single_bias=False, fused=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, stateful=stateful, single_bias=single_bias,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity
        self._set_fused(fused, _STEP_BY_STEP)

    def _initial_state(self, n, dtype):
        return self._zero_state(n, dtype)

    def _step(self, xw_t, h, whh_t, suffix):
        return _rnn_step(self, xw_t, h, self._act, whh_t)

    def _sequence(self, x, state, suffix, last=None):
        """The whole sequence as one op (engine/fast/rnn.py), the step graph's numbers."""
        y = engine.rnn(self._input_part(x, suffix), state, self._p("weight_hh", suffix),
                       nonlinearity=self.nonlinearity)
        return y, _at_step(y, last)


class LSTM(_Recurrent):
    """LSTM over a sequence: x (N, T, in) → (outputs (N, T, H), (h_n, c_n)), h_n and c_n
    (1, N, H).

    ``fused=True`` runs the whole sequence as one op (``engine.lstm``, as PyTorch's
    ``nn.LSTM`` runs one C++ loop): the fastest, one node in a graph. ``fused='step'`` runs
    two ops per timestep as :class:`LSTMCell` does (each step's ops recorded in its own
    ``TimeStep`` scope; ``viz.draw_unrolled`` runs a fused layer this way, see
    :func:`stepwise`), ``fused=False`` one op per gate. Same numbers every way. float16
    runs step by step (the sequence op's loops take float32 and float64).
    """

    _name, _gates = "LSTM", 4

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=None,
                 dropout=0.0, bidirectional=False, proj_size=0, *, stateful=False, fused=True,
                 single_bias=False, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, stateful=stateful, single_bias=single_bias,
                         device=device, dtype=dtype, proj_size=proj_size)
        self.proj_size = 0
        self._set_fused(fused, "True (one op for the sequence), 'step' (two ops a step) or "
                               "False (one op per gate)")

    def _initial_state(self, n, dtype):
        return self._zero_state(n, dtype), self._zero_state(n, dtype, "c_0")

    def _step(self, xw_t, state, whh_t, suffix):
        return _lstm_step(self, xw_t, state, whh_t)

    def _sequence(self, x, state, suffix, last=None):
        H = self.hidden_size
        # the biases are added inside the op, step by step
        xw = F.linear(x, self._p("weight_ih", suffix))
        bias = self._bias_sum(suffix)
        if bias is None:  # the op takes a bias: zeros (no gradient) for a layer without
            bias = engine.zeros(self._gates * H, dtype=xw.dtype)
        y = engine.lstm(xw, state[0], state[1], self._p("weight_hh", suffix), bias)  # [hₜ | cₜ]
        return y[:, :, :H], (_at_step(y, last, slice(None, H)),
                             _at_step(y, last, slice(H, None)))


@contextmanager
def stepwise(layer):
    """Inside the block, ``layer`` (an LSTM, RNN or GRU with ``fused=True``) runs one timestep
    at a time (``fused='step'``), so each step's ops are recorded in its own ``TimeStep`` scope:
    for pictures of the unrolled net. Other layers already run step by step.

    >>> lstm = LSTM(1, 2, batch_first=True)
    >>> with stepwise(lstm):
    ...     lstm.fused
    'step'
    >>> lstm.fused
    True
    """
    fused = getattr(layer, "fused", None)
    if fused is True:
        layer.fused = "step"
    try:
        yield layer
    finally:
        if fused is True:
            layer.fused = fused


class GRU(_Recurrent):
    """GRU over a sequence: x (N, T, in) → (outputs (N, T, H), h_n (1, N, H)). ``fused=True``
    runs it as one op (``engine.gru``), with the step graph's outputs; ``fused=False`` records
    each step's ops (twice differentiable; what pictures draw, see :func:`stepwise`)."""

    _name, _gates = "GRU", 3
    _input_part = GRUCell._input_part

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=None,
                 dropout=0.0, bidirectional=False, *, stateful=False, single_bias=False,
                 fused=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, stateful=stateful, single_bias=single_bias,
                         device=device, dtype=dtype)
        self._set_fused(fused, _STEP_BY_STEP)

    def _initial_state(self, n, dtype):
        return self._zero_state(n, dtype)

    def _step(self, xw_t, h, whh_t, suffix):
        return _gru_step(self, xw_t, h, whh_t, suffix)

    def _sequence(self, x, state, suffix, last=None):
        """The whole sequence as one op (engine/fast/gru.py), the step graph's numbers."""
        b_hh = self._p("bias_hh", suffix)
        if b_hh is None:  # the op takes a bias: zeros (no gradient) for a layer without
            b_hh = engine.zeros(self._gates * self.hidden_size, dtype=x.dtype)
        y = engine.gru(self._input_part(x, suffix), state, self._p("weight_hh", suffix), b_hh)
        return y, _at_step(y, last)


# ------------------------------------------------------------------- Keras-style layers
def _keras_input_size(who, input_shape, input_dim):
    if input_dim is not None:
        return int(input_dim)
    if input_shape is None:
        return None
    shape = tuple(input_shape)
    if len(shape) != 2:
        raise ValueError(f"{who}: input_shape is (timesteps, features) without the batch, "
                         f"e.g. (50, 2); got {input_shape!r}")
    return int(shape[-1])


class _KerasRecurrent:
    """Keras's recurrent-layer interface over the PyTorch-style layers above: ``units``
    first; the input size read from ``input_shape=(timesteps, features)`` or inferred at
    the first call; one bias per layer (two for GRU, as Keras's ``reset_after=True``);
    Keras's initialisers (Glorot-uniform kernel, orthogonal recurrent kernel, zero bias);
    returns the last output (N, units), the whole sequence (N, T, units) with
    ``return_sequences=True``, and ``[output, *final_state]`` with ``return_state=True``.
    ``go_backwards=True`` reads the sequence from its last step to its first, and (as
    Keras 3) returns the outputs in that reading order: ``outputs[:, 0]`` is the state
    after x_T alone, the last output the state after x_T … x_1.
    Parameters keep PyTorch's names and layouts (``weight_ih_l0`` is (G·units, in))."""

    _name = ""

    reset_parameters = keras_no_reset  # its own initializers, not the parent's rule

    def _keras_setup(self, units, use_bias, kernel_initializer, recurrent_initializer,
                     bias_initializer, return_sequences, return_state, stateful, input_shape,
                     input_dim, **attributes):
        Module.__init__(self)
        for name, value in attributes.items():  # what _build needs (e.g. unit_forget_bias)
            setattr(self, name, value)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"{self._name}: units must be an int >= 1, got {units!r}")
        from ..keras import initializers
        self.units = self.hidden_size = units
        self.use_bias = bool(use_bias)
        self._inits = [initializers.get(kernel_initializer),
                       initializers.get(recurrent_initializer),
                       initializers.get(bias_initializer)]
        self.kernel_initializer, self.recurrent_initializer = (kernel_initializer,
                                                               recurrent_initializer)
        self.bias_initializer = bias_initializer
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.batch_first, self.stateful, self.state = True, bool(stateful), None
        self.single_bias = self._gates != 3
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.input_size, self.built = None, False
        size = _keras_input_size(self._name, input_shape, input_dim)
        if size is not None:
            self._build(size)

    def _build(self, input_size, dtype=np.float32):
        g, units = self._gates * self.units, self.units
        kernel, recurrent, bias = self._inits
        self.input_size, self._suffix = int(input_size), "_l0"
        self.weight_ih_l0 = Parameter(kernel.draw((g, input_size), input_size, g), dtype=dtype)
        self.weight_hh_l0 = Parameter(recurrent.draw((g, units), units, g), dtype=dtype)
        self.bias_ih_l0 = Parameter(self._bias(bias, g), dtype=dtype) if self.use_bias else None
        self.bias_hh_l0 = (Parameter(bias.draw((g,), g, g), dtype=dtype)
                           if self.use_bias and not self.single_bias else None)
        self.built = True

    def _bias(self, init, g):
        return init.draw((g,), g, g)

    def forward(self, x, initial_state=None):
        if x.ndim != 3:
            raise ValueError(f"{self._name}: expected (batch, timesteps, features) input, got "
                             f"shape {x.shape}")
        if not self.built:
            self._build(x.shape[-1], x.dtype if x.dtype.kind == "f" else np.float32)
        if getattr(self, "go_backwards", False):
            x = x.flip(1)  # Keras: read x_T … x_1; the outputs stay in that reading order
        outputs, (state,) = self._run_sequence(x, initial_state)  # (N, units), as Keras
        out = outputs if self.return_sequences else outputs[:, -1]
        if self.return_state:
            return [out, *state] if isinstance(state, tuple) else [out, state]
        return out

    def get_config(self):
        """Constructor arguments, with the input size once built (for ``model.save``)."""
        from ..keras import initializers
        from ..keras.saving import constructor_config
        config = constructor_config(self)
        for key, init in zip(("kernel_initializer", "recurrent_initializer",
                              "bias_initializer"), self._inits, strict=True):
            config[key] = initializers.serialize(init, config[key])
        if self.built and self.input_shape is None:
            config["input_dim"] = self.input_size
        return config

    def extra_repr(self):
        size = self.input_size if self.built else "not built"
        extra = ", return_sequences=True" if self.return_sequences else ""
        extra += ", return_state=True" if self.return_state else ""
        extra += ", go_backwards=True" if getattr(self, "go_backwards", False) else ""
        extra += ", stateful=True" if self.stateful else ""
        return f"units={self.units}, input_size={size}{extra}"


class SimpleRNN(_KerasRecurrent, RNN):
    """Keras's ``SimpleRNN(units, activation='tanh', ...)``: ``h_t = act(x_t W + h_{t−1} U
    + b)`` with one bias; x (N, T, in) → the last h (N, units) (or every h_t with
    ``return_sequences=True``). Parameters: in·units + units² + units (the course's stock
    example, SimpleRNN(4) on windows of 10×1 values: 4 + 16 + 4 = 24).

    >>> rnn = SimpleRNN(4, input_shape=(10, 1))
    >>> rnn(engine.zeros(2, 10, 1)).shape, sum(p.numel() for p in rnn.parameters())
    ((2, 4), 24)
    """

    _name, _gates = "SimpleRNN", 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, input_shape=None, input_dim=None):
        nonlinearity = "linear" if activation is None else activation
        self._keras_setup(units, use_bias, kernel_initializer, recurrent_initializer,
                          bias_initializer, return_sequences, return_state, stateful,
                          input_shape, input_dim, activation=activation,
                          go_backwards=bool(go_backwards), nonlinearity=nonlinearity,
                          fused=True)


class KerasLSTM(_KerasRecurrent, LSTM):
    """Keras's ``LSTM(units, ...)`` (``nn.keras.layers.LSTM``): PyTorch's LSTM equations
    (gates i, f, g, o: Keras's i, f, c, o) with one bias, the forget gate's bias starting at 1
    (``unit_forget_bias=True``, Keras's default). LSTM(32) on (50, 2): 4·(2·32 + 32·32 + 32)
    = 4,480 parameters, as the course's summary.

    >>> KerasLSTM(32, input_shape=(50, 2)).weight_hh_l0.shape
    (128, 32)
    """

    _name, _gates = "LSTM", 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, input_shape=None,
                 input_dim=None):
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError("LSTM: only activation='tanh' and recurrent_activation='sigmoid' "
                             f"are supported, got {activation!r}, {recurrent_activation!r}")
        self._keras_setup(units, use_bias, kernel_initializer, recurrent_initializer,
                          bias_initializer, return_sequences, return_state, stateful,
                          input_shape, input_dim, activation=activation,
                          recurrent_activation=recurrent_activation,
                          go_backwards=bool(go_backwards),
                          unit_forget_bias=bool(unit_forget_bias), fused=True)

    def _bias(self, init, g):
        b = init.draw((g,), g, g)
        if self.unit_forget_bias:
            b[self.units:2 * self.units] = 1.0  # the forget gate (Keras's default)
        return b


class KerasGRU(_KerasRecurrent, GRU):
    """Keras's ``GRU(units, ...)`` (``nn.keras.layers.GRU``) with ``reset_after=True`` (its
    default): PyTorch's GRU equations and two biases, so 3·(in·units + units² + 2·units)
    parameters in both. Gates are stored in PyTorch's order r, z, n (Keras: z, r, h)."""

    _name, _gates = "GRU", 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", reset_after=True, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, input_shape=None,
                 input_dim=None):
        if activation != "tanh" or recurrent_activation != "sigmoid" or not reset_after:
            raise ValueError("GRU: only activation='tanh', recurrent_activation='sigmoid' and "
                             "reset_after=True are supported")
        self._keras_setup(units, use_bias, kernel_initializer, recurrent_initializer,
                          bias_initializer, return_sequences, return_state, stateful,
                          input_shape, input_dim, activation=activation,
                          recurrent_activation=recurrent_activation, reset_after=True,
                          go_backwards=bool(go_backwards),
                          fused=True)
