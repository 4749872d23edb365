"""``get_weights`` / ``set_weights`` in Keras's layouts (see ``KerasModelMixin.get_weights``).

Each layer class converts between its parameters (PyTorch's layouts) and Keras's list:

- ``Linear``/``Dense``: ``[kernel (in, units), bias]`` with ``kernel = weight.T``;
- ``Conv2d``: ``[kernel (kh, kw, in/groups, out), bias]``, ``weight.transpose(2, 3, 1, 0)``;
- ``Conv1d`` (and Keras's ``Conv1D``): ``[kernel (k, in/groups, out), bias]``,
  ``weight.transpose(2, 1, 0)``;
- BatchNorm: ``[gamma, beta, moving_mean, moving_variance]`` (no gamma/beta if not affine);
- one-bias RNN / LSTM (SimpleRNN, Keras's LSTM, ``single_bias=True``): ``[kernel,
  recurrent_kernel, bias]``, kernels transposed (gate order i, f, c, o is the same);
- GRU: Keras's ``reset_after`` layout, gates reordered r, z, n → z, r, h and the two
  biases stacked into one (2, 3·units) array;
- a two-bias RNN / LSTM (PyTorch's; Keras has none): ``[kernel, recurrent_kernel,
  bias_ih, bias_hh]``;
- any other layer: its parameters, then its buffers, as stored.
"""
from __future__ import annotations

import numpy as np

__all__ = ["get_weights", "set_weights"]


def _gru_order(a, units):
    """Swap the first two gate blocks along axis 0: ours r, z, n ↔ Keras's z, r, h."""
    r, z, n = (a[:units], a[units:2 * units], a[2 * units:])
    return np.concatenate([z, r, n])  # the swap is its own inverse


def _is_recurrent(m):
    return callable(getattr(m, "_p", None)) and hasattr(m, "_gates") \
        and getattr(m, "weight_ih" + getattr(m, "_suffix", ""), None) is not None


def _layer_entries(m):
    """(names of m's own tensors, to_keras, from_keras): to_keras maps the list of those
    arrays to Keras's list, from_keras is its inverse. No names for an unbuilt layer."""
    from ..layers import Conv1d, Conv2d, Linear
    from ..layers.norm import _BatchNorm
    if getattr(m, "built", True) is False:
        return [], list, list
    if isinstance(m, Linear):
        names = ["weight"] + (["bias"] if m.bias is not None else [])
        return names, (lambda a: [a[0].T.copy()] + a[1:]), (lambda k: [k[0].T] + k[1:])
    if isinstance(m, Conv2d):
        names = ["weight"] + (["bias"] if m.bias is not None else [])
        return (names, lambda a: [a[0].transpose(2, 3, 1, 0).copy()] + a[1:],
                lambda k: [k[0].transpose(3, 2, 0, 1)] + k[1:])
    if isinstance(m, Conv1d):
        names = ["weight"] + (["bias"] if m.bias is not None else [])
        return (names, lambda a: [a[0].transpose(2, 1, 0).copy()] + a[1:],
                lambda k: [k[0].transpose(2, 1, 0)] + k[1:])
    if isinstance(m, _BatchNorm):
        names = [n for n in ("weight", "bias") if getattr(m, n) is not None] + [
            "running_mean", "running_var"]
        return names, list, list
    if _is_recurrent(m):
        groups = [_recurrent_entries(m, sfx) for sfx in getattr(m, "_suffixes", (m._suffix,))]
        if len(groups) == 1:
            return groups[0][:3]
        # Stacked / bidirectional (PyTorch's layers): each layer and direction's list in turn,
        # as Keras's Bidirectional lists its forward then its backward layer's weights.
        names = [n for g in groups for n in g[0]]

        def split(arrays, sizes):
            out, at = [], 0
            for size in sizes:
                out.append(arrays[at:at + size])
                at += size
            return out

        def to_keras(a):
            return [k for g, part in zip(groups, split(a, [len(g[0]) for g in groups]),
                                         strict=True) for k in g[1](part)]

        def from_keras(k):
            return [a for g, part in zip(groups, split(k, [g[3] for g in groups]), strict=True)
                    for a in g[2](part)]

        return names, to_keras, from_keras
    names = [n for n, p in m._parameters.items() if p is not None] + list(m._buffers)
    return names, list, list


def _recurrent_entries(m, sfx):
    """(names, to_keras, from_keras, length of the Keras list) of one layer and direction
    of a recurrent layer: its weights named with suffix ``sfx``."""
    names = ["weight_ih" + sfx, "weight_hh" + sfx]
    b_ih, b_hh = m._p("bias_ih", sfx), m._p("bias_hh", sfx)
    names += (["bias_ih" + sfx] if b_ih is not None else []) \
        + (["bias_hh" + sfx] if b_hh is not None else [])
    if m._gates == 3:  # GRU: Keras's reset_after layout
        u = m.hidden_size

        def to_keras(a):
            out = [_gru_order(a[0], u).T.copy(), _gru_order(a[1], u).T.copy()]
            if len(a) == 4:
                out.append(np.stack([_gru_order(a[2], u), _gru_order(a[3], u)]))
            return out

        def from_keras(k):
            out = [_gru_order(k[0].T, u), _gru_order(k[1].T, u)]
            if len(k) == 3:
                out += [_gru_order(k[2][0], u), _gru_order(k[2][1], u)]
            return out

        return names, to_keras, from_keras, 2 + (len(names) == 4)
    return (names, lambda a: [a[0].T.copy(), a[1].T.copy()] + a[2:],
            lambda k: [k[0].T, k[1].T] + k[2:], len(names))


def _layers(model):
    """(dotted prefix, module, tensor names, converters) for modules owning tensors."""
    out = []
    for prefix, m in model.named_modules():
        names, to_k, from_k = _layer_entries(m)
        if names:
            out.append((prefix, m, names, to_k, from_k))
    return out


def _tensor(m, name):
    return getattr(m, name)


def get_weights(model):
    weights = []
    for _, m, names, to_keras, _ in _layers(model):
        weights += [np.array(w) for w in to_keras([_tensor(m, n).data.copy() for n in names])]
    return weights


def set_weights(model, weights):
    weights = list(weights)
    layers = _layers(model)
    expected = [np.shape(w) for w in get_weights(model)]
    if len(weights) != len(expected):
        unbuilt = [type(m).__name__ for m in model.modules() if getattr(m, "built", True)
                   is False]
        hint = (f" ({', '.join(unbuilt)} not built yet: call the model once, or give "
                "input_shape=)") if unbuilt else ""
        raise ValueError(f"set_weights: the model has {len(expected)} weight arrays, got "
                         f"{len(weights)}{hint}")
    state, i = {}, 0
    for prefix, m, names, to_keras, from_keras in layers:
        k = len(to_keras([_tensor(m, n).data for n in names]))
        given = [np.asarray(w) for w in weights[i:i + k]]
        for j, w in enumerate(given):
            if w.shape != expected[i + j]:
                raise ValueError(f"set_weights: weight {i + j} (layer {prefix or 'model'} "
                                 f"({type(m).__name__})) has shape {w.shape}, expected "
                                 f"{expected[i + j]} (Keras's layout)")
        for n, w in zip(names, from_keras(given), strict=True):
            state[f"{prefix}.{n}" if prefix else n] = w
        i += k
    own = model.state_dict()
    own.update(state)
    model.load_state_dict(own)
