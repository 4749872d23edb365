"""Keras's layer wrappers: ``Bidirectional`` (a recurrent layer read both ways) and
``TimeDistributed`` (a layer applied to every step of a sequence).

Both own their inner layers as sub-modules (``forward_layer``/``backward_layer``, ``layer``),
so ``parameters()``, ``state_dict`` and ``get_weights`` (forward then backward layer, each
in Keras's layout, as Keras's Bidirectional lists them) go through them; ``model.summary()``
shows a wrapper as one row with its parameters, as Keras does (``keras_wrapper``).
"""
from __future__ import annotations

import engine

from ..module import Module
from ._common import refuse, sample_shape

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _copy(layer):
    """A fresh layer of the same class and configuration (new weights), as Keras copies the
    layer it wraps (serialize, then deserialize)."""
    return type(layer)(**layer.get_config())


class Bidirectional(Module):
    """Keras's ``Bidirectional(layer, merge_mode='concat')`` over ``SimpleRNN``, ``LSTM``
    or ``GRU``: a forward copy of ``layer`` reads the sequence x_1 … x_T, a backward copy
    (its own weights) reads x_T … x_1, and its outputs are put back in time order, so step
    t of the result joins the forward state after x_1 … x_t and the backward one after
    x_T … x_t. ``merge_mode``: 'concat' (N, ..., 2·units), 'sum', 'mul', 'ave' (N, ...,
    units), or None (the list [forward, backward]). With ``return_state=True`` the layer
    returns ``[output, *forward_states, *backward_states]`` (merge_mode None: ``[forward,
    backward, *states]``); ``initial_state`` is such a list of states (forward ones first).

    ``get_weights()`` lists the forward layer's weights then the backward layer's, each in
    Keras's layout. Not supported: ``backward_layer=`` (the backward layer is always a copy of
    ``layer``), ``weights=`` (use ``set_weights``), stateful layers.

    >>> import engine
    >>> from nn.keras.layers import LSTM
    >>> bi = Bidirectional(LSTM(4, return_sequences=True))
    >>> bi(engine.zeros(2, 5, 3)).shape
    (2, 5, 8)
    """

    keras_wrapper = True  # one row in model.summary()

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 input_shape=None):
        super().__init__()
        from ..layers.recurrent import _KerasRecurrent
        if not isinstance(layer, _KerasRecurrent):
            raise TypeError(f"Bidirectional: wraps a Keras recurrent layer (SimpleRNN, LSTM or "
                            f"GRU from nn.keras.layers), got {type(layer).__name__}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of 'concat', 'sum', "
                             f"'mul', 'ave' or None, got {merge_mode!r}")
        refuse("Bidirectional", "the backward layer is a copy of `layer`, and weights are set "
               "with set_weights()", backward_layer=backward_layer, weights=weights)
        if layer.stateful:
            raise ValueError("Bidirectional: a stateful layer is not supported")
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.forward_layer = _copy(layer)
        self.backward_layer = _copy(layer)
        given = sample_shape("Bidirectional", input_shape, 2)
        self.input_shape = given if given is not None else layer.input_shape

    def forward(self, x, initial_state=None):
        if x.ndim != 3:
            raise ValueError(f"Bidirectional: expected (batch, timesteps, features) input, got "
                             f"shape {tuple(x.shape)}")
        fwd_state = bwd_state = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else None
            if not states or len(states) % 2:
                raise ValueError("Bidirectional: initial_state is a list of the forward "
                                 "layer's states then the backward layer's (an even number)")
            half = len(states) // 2
            fwd_state, bwd_state = states[:half], states[half:]
        y = self.forward_layer(x, initial_state=fwd_state)
        # Keras's go_backwards: the copy reads x reversed; its outputs come in that order
        y_rev = self.backward_layer(x.flip(1), initial_state=bwd_state)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev.flip(1)  # back in time order
        if self.merge_mode is None:
            return [y, y_rev, *states]
        if self.merge_mode == "concat":
            out = engine.cat([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            out = y + y_rev
        elif self.merge_mode == "ave":
            out = (y + y_rev) / 2
        else:
            out = y * y_rev
        return [out, *states] if self.return_state else out

    def get_config(self):
        return {"layer": self.forward_layer, "merge_mode": self.merge_mode,
                "input_shape": self.input_shape}

    def extra_repr(self):
        return f"merge_mode={self.merge_mode!r}"


class TimeDistributed(Module):
    """Keras's ``TimeDistributed(layer)``: ``layer`` applied to each step of a sequence,
    (N, T, ...) → (N, T, ...'): ``y[:, t] = layer(x[:, t])``, one set of weights for every
    step. It runs as one call on the N·T steps reshaped to a batch, except for a layer with
    batch statistics in training (``BatchNormalization``), which is called step by step as
    in Keras (statistics per step, the moving averages updated T times).

    >>> import engine
    >>> from nn.keras.layers import Dense
    >>> TimeDistributed(Dense(8))(engine.zeros(2, 5, 3)).shape
    (2, 5, 8)
    """

    keras_wrapper = True  # one row in model.summary()

    def __init__(self, layer, input_shape=None):
        super().__init__()
        if not isinstance(layer, Module):
            raise TypeError(f"TimeDistributed: wraps a layer, got {type(layer).__name__}")
        self.layer = layer
        self.input_shape = sample_shape("TimeDistributed", input_shape)
        if self.input_shape is not None and len(self.input_shape) < 2:
            raise ValueError(f"TimeDistributed: input_shape is (timesteps, ...) per sample, "
                             f"got {self.input_shape}")

    def _per_step(self):
        from ..layers.norm import _BatchNorm
        return self.training and any(isinstance(m, _BatchNorm) for m in self.layer.modules())

    def forward(self, x):
        if x.ndim < 3:
            raise ValueError(f"TimeDistributed: expected (batch, timesteps, ...) input of at "
                             f"least 3 dims, got shape {tuple(x.shape)}")
        n, t = x.shape[:2]
        if self._per_step():
            return engine.stack([self._call(x[:, i]) for i in range(t)], axis=1)
        y = self._call(x.reshape((n * t,) + tuple(x.shape[2:])))
        return y.reshape((n, t) + tuple(y.shape[1:]))

    def _call(self, x):
        y = self.layer(x)
        if not isinstance(y, engine.Tensor):
            raise TypeError(f"TimeDistributed: the wrapped {type(self.layer).__name__} returned "
                            f"a {type(y).__name__}; it must return one tensor")
        return y

    def get_config(self):
        return {"layer": self.layer, "input_shape": self.input_shape}
