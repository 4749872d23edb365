"""PyTorch's ``torch.nn.utils.rnn``: batches of sequences of different lengths.

A batch of B sequences of lengths L₀ … L_{B−1} (each (Lᵢ, *)) is held two ways:

- **padded**: one (B, T, *) array (``batch_first=True``; else (T, B, *)), T = max Lᵢ, the
  steps past each sequence's end filled with ``padding_value``
  (:func:`pad_sequence`, :func:`pad_packed_sequence`);
- **packed** (:class:`PackedSequence`): only the real steps, time-major: ``data`` (ΣLᵢ, *)
  holds step 0 of every sequence, then step 1 of those that have one, ... with the
  sequences in order of decreasing length; ``batch_sizes[t]`` says how many have a step t.
  ``sorted_indices`` is that order (None when the batch came sorted,
  ``enforce_sorted=True``), ``unsorted_indices`` its inverse.

``nn.RNN``/``LSTM``/``GRU`` take a PackedSequence and return one (same ``batch_sizes`` and
indices), each sequence run for its own length only: its final state is the state after its
last real step (the reverse direction starts at that step), and h_n is in the batch's own
order, as PyTorch's. Every function here is differentiable (index gathers and a
concatenation).

>>> import engine
>>> a, b = engine.tensor([1., 2., 3.]), engine.tensor([4., 5.])
>>> pad_sequence([a, b], batch_first=True).data
array([[1., 2., 3.],
       [4., 5., 0.]], dtype=float32)
>>> p = pack_sequence([a, b])
>>> p.data.data, p.batch_sizes.data
(array([1., 4., 2., 5., 3.], dtype=float32), array([2, 2, 1]))
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

import engine
from engine.tensor import Tensor

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence"]


class PackedSequence(NamedTuple):
    """A packed batch (see the module docstring): data (ΣLᵢ, *), batch_sizes (T,) int64,
    sorted_indices and unsorted_indices (B,) int64 or None."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


def _order(packed):
    """The packing order of a PackedSequence's sequences, as a numpy array (B,)."""
    if packed.sorted_indices is None:
        return np.arange(int(packed.batch_sizes.data[0]))
    return np.asarray(packed.sorted_indices.data)


def _counts_above(counts):
    """For each i < max(counts), how many counts exceed i: lengths → batch_sizes (how many
    sequences have a step t), and back, batch_sizes → the lengths in packing order (at how
    many steps the j-th sequence is in the batch)."""
    return (counts[None, :] > np.arange(counts.max())[:, None]).sum(axis=1)


def _lengths_of(batch_sizes, order):
    """Each sequence's length (B,), in the batch's own order, from batch_sizes (T,)."""
    sorted_lengths = _counts_above(batch_sizes)
    lengths = np.empty_like(sorted_lengths)
    lengths[order] = sorted_lengths
    return lengths


def _packed_rows(batch_sizes, order, T):
    """Rows of a batch-first (B·T, *) padded array, in packed order: step t of the j-th
    sequence in packing order is row order[j]·T + t."""
    return np.concatenate([order[:n] * T + t for t, n in enumerate(batch_sizes)])


def _packed_data(padded, batch_sizes, order):
    """A batch-first padded (B, T, *) → the packed data (ΣLᵢ, *)."""
    B, T = padded.shape[0], padded.shape[1]
    rows = _packed_rows(batch_sizes, order, T)
    return padded.reshape((B * T,) + tuple(padded.shape[2:]))[rows]


def _gather_rows(x, rows, fill=None):
    """x (R, *) → x[rows]; a row index R reads ``fill`` (a constant row) instead."""
    if fill is not None:
        pad = engine.full((1,) + tuple(x.shape[1:]), fill, dtype=x.dtype)
        x = engine.cat([x, pad])
    return x[rows]


def _check_sequences(op, sequences):
    if isinstance(sequences, Tensor) or not isinstance(sequences, (list, tuple)):
        raise TypeError(f"{op}: expected a list of Tensors (one per sequence, each (L, *)), "
                        f"got {type(sequences).__name__}")
    if not sequences:
        raise ValueError(f"{op}: received an empty list of sequences")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"{op}: sequence {i} is a {type(s).__name__}, not a Tensor")
        if s.ndim == 0 or s.shape[1:] != sequences[0].shape[1:] \
                or s.dtype != sequences[0].dtype:
            raise ValueError(f"{op}: every sequence must be (L, *) with the same trailing "
                             f"shape and dtype; sequence 0 is {sequences[0].shape} "
                             f"{sequences[0].dtype}, sequence {i} {s.shape} {s.dtype}")


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """A list of B Tensors (Lᵢ, *) → (T, B, *) (``batch_first=True``: (B, T, *)), T = max Lᵢ,
    each sequence followed by ``padding_value`` (``padding_side='left'``: preceded)."""
    _check_sequences("pad_sequence", sequences)
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    lengths = np.array([s.shape[0] for s in sequences])
    T, B, rest = int(lengths.max()), len(sequences), tuple(sequences[0].shape[1:])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    t = np.arange(T)[None, :]
    if padding_side == "right":
        step, real = t, t < lengths[:, None]
    else:
        step, real = t - (T - lengths[:, None]), t >= T - lengths[:, None]
    rows = np.where(real, starts[:, None] + step, lengths.sum())  # (B, T); the sum: padding
    flat = engine.cat([s.reshape(s.shape[0], -1) for s in sequences])
    out = _gather_rows(flat, rows, padding_value).reshape((B, T) + rest)
    return out if batch_first else out.transpose(0, 1)


def _lengths_array(lengths, B, T):
    data = lengths.data if isinstance(lengths, Tensor) else lengths
    arr = np.asarray(data)
    if arr.ndim != 1 or arr.shape[0] != B or not (arr.dtype.kind in "iu" or (
            arr.dtype.kind == "f" and np.all(arr == np.round(arr)))):
        raise ValueError(f"pack_padded_sequence: lengths must be B = {B} integers (a list or "
                         f"a 1-D int Tensor), got {data!r}")
    arr = arr.astype(np.int64)
    if arr.min() <= 0:
        raise ValueError(f"pack_padded_sequence: every length must be at least 1, got "
                         f"{arr.tolist()}")
    if arr.max() > T:
        raise ValueError(f"pack_padded_sequence: a length of {arr.max()} is longer than the "
                         f"padded input's {T} steps")
    return arr


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Padded input (T, B, *) (``batch_first=True``: (B, T, *)) and the B lengths → a
    :class:`PackedSequence`. ``enforce_sorted=True`` (PyTorch's default) requires the
    lengths in decreasing order; ``False`` sorts them (stably) and keeps the order."""
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must be (T, B, *) or (B, T, *), got "
                         f"shape {input.shape}")
    x = input if batch_first else input.transpose(0, 1)
    B, T = x.shape[0], x.shape[1]
    lens = _lengths_array(lengths, B, T)
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise ValueError(f"pack_padded_sequence: lengths {lens.tolist()} must be sorted "
                             f"in decreasing order when enforce_sorted is True; pass "
                             f"enforce_sorted=False to pack a batch in any order")
        order, sorted_idx, unsorted_idx = np.arange(B), None, None
    else:
        order = np.argsort(-lens, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(B)
        sorted_idx, unsorted_idx = Tensor(order), Tensor(inverse)
    batch_sizes = _counts_above(lens)
    return PackedSequence(_packed_data(x, batch_sizes, order),
                          Tensor(batch_sizes.astype(np.int64)), sorted_idx, unsorted_idx)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """A :class:`PackedSequence` → (padded (T, B, *) (``batch_first``: (B, T, *)) in the
    batch's own order, lengths (B,) int64). ``total_length`` pads to that many steps."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got "
                        f"{type(sequence).__name__}")
    batch_sizes = np.asarray(sequence.batch_sizes.data)
    order = _order(sequence)
    B, T = len(order), len(batch_sizes)
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter "
                             f"than the longest sequence ({T} steps)")
        T = int(total_length)
    lengths = _lengths_of(batch_sizes, order)
    data = sequence.data
    S = data.shape[0]
    rows = np.full(B * T, S)  # the padding row unless written below
    rows[_packed_rows(batch_sizes, order, T)] = np.arange(S)
    out = _gather_rows(data, rows.reshape(B, T), padding_value)
    return (out if batch_first else out.transpose(0, 1)), Tensor(lengths.astype(np.int64))


def pack_sequence(sequences, enforce_sorted=True):
    """A list of Tensors (Lᵢ, *) → a :class:`PackedSequence` (pad, then pack)."""
    _check_sequences("pack_sequence", sequences)
    return pack_padded_sequence(pad_sequence(sequences), [s.shape[0] for s in sequences],
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Padded (T, B, *) (``batch_first``: (B, T, *)) and the B lengths → the list of B
    sequences (Lᵢ, *)."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lens = _lengths_array(lengths, x.shape[0], x.shape[1])
    return [x[i, :int(n)] for i, n in enumerate(lens)]


def unpack_sequence(packed_sequences):
    """A :class:`PackedSequence` → the list of its sequences (Lᵢ, *), in the batch's order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def repack(padded, like):
    """A batch-first padded (B, T, *) in the batch's own order → a PackedSequence laid out as
    ``like`` (same batch_sizes and indices): what a recurrent layer returns for packed input."""
    data = _packed_data(padded, np.asarray(like.batch_sizes.data), _order(like))
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)
