"""Attention: ``scaled_dot_product_attention``, ``MultiheadAttention``, the Transformer's
encoder and decoder layers and stacks, and ``Transformer`` (PyTorch's semantics, names and
parameter layouts), composed of existing engine ops (matmul, softmax, masked_fill, where,
reshape/permute, ``F.linear``, ``F.dropout``, ``F.layer_norm``): no op of their own, so the
gradients are the ops' gradients and a picture of the graph shows every step.

Attention (Vaswani et al. 2017): each query row attends to every key row,

    A = softmax(Q Kᵀ · scale + M)      (row by row, over the keys)
    out = A V

with Q (…, L, E), K (…, S, E), V (…, S, Ev) → out (…, L, Ev), ``scale = 1/√E`` by default
and M an additive mask (−inf: the key takes no part). A query row whose mask excludes every
key has no softmax: what it gets is PyTorch's (see each function).

Masks, as PyTorch reads them (the two conventions are opposite):

* ``scaled_dot_product_attention(attn_mask=...)``: bool **True = takes part**; float: added.
* ``MultiheadAttention`` ``key_padding_mask`` / ``attn_mask``: bool **True = ignored**
  (padding, the future); float: added.

Layout: ``MultiheadAttention`` and ``TransformerEncoderLayer`` read (L, N, E) —
(sequence, batch, embedding), PyTorch's default — unless ``batch_first=True``; unbatched
(L, E) input works either way. Left out, ``batch_first`` is PyTorch's False with a warning
(once per line that builds the layer): the two layouts have the same shapes, so a batch-first
tensor read as sequence-first attends across the batch and gives wrong numbers without an
error. ``nn.RNN/LSTM/GRU`` warn for the same reason, but keep their old batch-first default;
these layers are new, so they take PyTorch's and code pasted from PyTorch runs unchanged.
"""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np

import engine
from engine.device import cpu_only

from .. import functional as F  # attributes read at call time only (no import cycle)
from ..init import constant_, xavier_normal_, xavier_uniform_
from ..module import Module, ModuleList, Parameter
from .dropout import Dropout
from .linear import Linear
from .norm import LayerNorm

__all__ = ["scaled_dot_product_attention", "MultiheadAttention", "TransformerEncoderLayer",
           "TransformerEncoder", "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
           "generate_square_subsequent_mask"]


# ------------------------------------------------------------------------------------ helpers
def _check_tensor(who, name, t):
    if not isinstance(t, engine.Tensor):
        raise TypeError(f"{who}: {name} must be a Tensor, got {type(t).__name__}")


def _as_mask(who, name, mask):
    """A mask as ``(is_bool, value)``: a numpy bool array, or a float engine Tensor / numpy
    array (kept a Tensor if given one, so a learned additive bias keeps its gradient). Any
    other dtype is refused, as PyTorch refuses it."""
    if isinstance(mask, engine.Tensor):
        dtype, value = np.dtype(mask.dtype), mask
    else:
        value = np.asarray(getattr(mask, "data", mask))
        dtype = value.dtype
    if dtype == np.bool_:
        return True, np.asarray(value.data if isinstance(value, engine.Tensor) else value)
    if dtype.kind != "f":
        raise TypeError(f"{who}: {name} must be a bool or a float mask, got dtype {dtype} "
                        f"(compare first, e.g. lengths[:, None] <= positions, for a bool mask)")
    return False, value


def _float_tensor(value, dtype):
    """A float mask (numpy array or Tensor) as a Tensor of ``dtype``: stepgrad never upcasts
    silently, and PyTorch takes a float mask of another float dtype than the query's."""
    if isinstance(value, engine.Tensor):
        return value if value.dtype == dtype else value.to(dtype)
    return engine.from_numpy(np.ascontiguousarray(value, dtype=dtype))


def _additive(who, name, mask, dtype):
    """PyTorch's ``_canonical_mask``: a bool mask (True = ignore) as 0 / −inf of ``dtype``, a
    float mask as it is (cast to ``dtype``); None stays None."""
    if mask is None:
        return None
    is_bool, value = _as_mask(who, name, mask)
    if is_bool:
        return engine.from_numpy(np.where(value, -np.inf, 0.0).astype(dtype))
    return _float_tensor(value, dtype)


def _check_mask_types(who, mask, name, other, other_name):
    """PyTorch's warning when ``mask`` and ``other`` are one bool and one float."""
    if mask is None or other is None:
        return
    kinds = [_as_mask(who, n, m)[0] for n, m in ((name, mask), (other_name, other))]
    if kinds[0] != kinds[1]:
        warnings.warn(f"{who}: Support for mismatched {name} and {other_name} is deprecated. "
                      f"Use same type for both instead. (PyTorch's warning: give both as bool "
                      f"or both as float)", UserWarning, stacklevel=2)


def _causal(L, S):
    """The causal additive mask (L, S), float64: 0 on and below the diagonal, −inf above."""
    return np.triu(np.full((L, S), -np.inf), 1)


def _is_causal_mask(additive, L, S):
    """True if the additive mask (…, L, S) is exactly the causal one: 0 on and below the
    diagonal, −inf above (what ``generate_square_subsequent_mask`` gives)."""
    data = np.asarray(additive.data)
    if data.shape[-2:] != (L, S):
        return False
    return bool(np.array_equal(np.broadcast_to(_causal(L, S), data.shape), data))


def _pad_last(mask):
    """Append one 0 column to an additive mask (a key every query may attend to)."""
    return mask.pad(((0, 0),) * (mask.ndim - 1) + ((0, 1),))


def generate_square_subsequent_mask(sz, dtype=None):
    """The causal mask of a length-``sz`` sequence, as PyTorch's
    ``nn.Transformer.generate_square_subsequent_mask``: (sz, sz), 0 on and below the
    diagonal, −inf above (query i sees keys 0..i). A float mask: ``MultiheadAttention`` and
    ``TransformerEncoder`` add it to the scores.

    >>> generate_square_subsequent_mask(3)
    tensor([[  0., -inf, -inf],
            [  0.,   0., -inf],
            [  0.,   0.,   0.]], shape=(3, 3), dtype=float32)
    """
    dtype = engine.get_default_dtype() if dtype is None else np.dtype(dtype)
    return engine.from_numpy(_causal(sz, sz).astype(dtype))


def _warn_layout(who, stacklevel=3):
    warnings.warn(
        f"{who}: batch_first not given: input is read as (sequence, batch, embedding) "
        f"(batch_first=False, PyTorch's default). stepgrad's recurrent layers and Keras read "
        f"(batch, sequence, features), and both layouts have the same shapes: pass "
        f"batch_first=False to say so (this warning then goes), or batch_first=True for "
        f"(batch, sequence, embedding)", UserWarning, stacklevel=stacklevel)


def _positive_int(who, name, n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{who}: {name} must be an int, got {n!r}")
    if n <= 0:
        raise ValueError(f"{who}: {name} must be greater than 0, got {name}={n}")
    return int(n)


def _heads(who, dim_name, dim, heads_name, heads):
    """(dim, heads) as ints, dim a multiple of heads: each head takes dim / heads features."""
    dim, heads = _positive_int(who, dim_name, dim), _positive_int(who, heads_name, heads)
    if dim % heads:
        raise ValueError(f"{who}: {dim_name} must be divisible by {heads_name}, got "
                         f"{dim_name}={dim} and {heads_name}={heads} (each head takes "
                         f"{dim_name} / {heads_name} features)")
    return dim, heads


def _probability(who, name, p):
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p < 1:
        raise ValueError(f"{who}: {name} must be in [0, 1) (the probability of zeroing an "
                         f"element), got {p!r}")
    return float(p)


# ------------------------------------------------------------------------ the attention op
def _safe_softmax(scores):
    """softmax over the last dim, with 0 (not NaN) for a row whose every score is −inf:
    PyTorch's ``scaled_dot_product_attention`` (its ``_safe_softmax``). Such a row's scores
    are set to 0 before the softmax, so its backward is 0 too (not NaN)."""
    dead = scores.isneginf().all(-1, keepdim=True)  # a bool constant: no gradient
    if not bool(dead.any()):
        return scores.softmax(-1)
    return scores.masked_fill(dead, 0.0).softmax(-1).masked_fill(dead, 0.0)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """PyTorch's ``F.scaled_dot_product_attention``: ``softmax(Q Kᵀ · scale + M) V``.

    query (…, L, E), key (…, S, E), value (…, S, Ev) → (…, L, Ev); the leading dims
    broadcast (e.g. (N, heads, L, E)). ``scale`` defaults to 1/√E.

    * ``attn_mask``: bool, **True = the key takes part** (False → −inf), or float, added to
      the scores; it must broadcast to (…, L, S).
    * ``is_causal=True``: query i sees keys 0..i only (the (L, S) lower triangle, top-left
      aligned when L ≠ S); refused together with ``attn_mask``, as PyTorch refuses it.
    * ``dropout_p``: dropout on the attention weights A, **always** (a function has no
      training mode; ``MultiheadAttention`` passes 0 in eval mode). Write
      ``dropout_p=p if self.training else 0.0`` in a module.
    * ``enable_gqa=True``: grouped-query attention: key and value with fewer heads (dim −3)
      than the query, each repeated for ``heads_q / heads_kv`` query heads.

    A query row whose mask excludes every key gets 0 (PyTorch 2.13's result, not the NaN of
    a plain softmax), and no gradient.

    >>> q = k = engine.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> v = engine.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> scaled_dot_product_attention(q, k, v).data.round(4)
    array([[1.6605, 2.6605],
           [2.3395, 3.3395]], dtype=float32)
    >>> scaled_dot_product_attention(q, k, v, is_causal=True).data.round(4)  # row 0: key 0
    array([[1.    , 2.    ],
           [2.3395, 3.3395]], dtype=float32)
    """
    who = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor(who, name, t)
        if t.ndim < 2:
            raise ValueError(f"{who}: query, key and value must have at least 2 dims (…, L, E), "
                             f"(…, S, E), (…, S, Ev); got shapes {query.shape}, {key.shape}, "
                             f"{value.shape}")
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(f"{who}: query, key and value must have the same dtype, got "
                        f"{query.dtype}, {key.dtype} and {value.dtype}")
    if query.dtype.kind != "f":
        raise TypeError(f"{who}: expected float tensors, got {query.dtype}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"{who}: query (…, L, E) {query.shape}, key (…, S, E) {key.shape} "
                         f"and value (…, S, Ev) {value.shape}: query and key must share E, "
                         f"key and value must share S")
    _probability(who, "dropout_p", dropout_p)
    if is_causal and attn_mask is not None:
        raise ValueError(f"{who}: attn_mask must not be given with is_causal=True (PyTorch "
                         f"refuses it too): pass one of them (a causal bool mask is "
                         f"engine.ones(L, S).tril().bool())")
    if enable_gqa:
        if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
            raise ValueError(f"{who}: enable_gqa=True needs a heads dim (…, heads, L, E); got "
                             f"shapes {query.shape}, {key.shape}, {value.shape}")
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk != hv or hq % hk:
            raise ValueError(f"{who}: enable_gqa=True: key and value must have the same number "
                             f"of heads (dim -3), dividing the query's; got query {hq}, key "
                             f"{hk}, value {hv}")
        if hk != hq:  # each kv head serves hq/hk consecutive query heads (PyTorch's order)
            key = key.repeat_interleave(hq // hk, -3)
            value = value.repeat_interleave(hq // hk, -3)
    try:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(f"{who}: the leading (batch, heads) dims of query {query.shape}, "
                         f"key {key.shape} and value {value.shape} do not broadcast"
                         + ("" if enable_gqa else " (fewer key/value heads than query heads: "
                            "pass enable_gqa=True)")) from None
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)

    scores = (query @ key.transpose(-2, -1)) * scale  # (…, L, S)
    masked = False
    if is_causal:
        scores = scores.masked_fill(~np.tril(np.ones((L, S), bool)), -np.inf)
        masked = True
    if attn_mask is not None:
        is_bool, mask = _as_mask(who, "attn_mask", attn_mask)
        want = tuple(batch) + (L, S)
        try:  # added in place in PyTorch: the mask may not grow the scores
            fits = np.broadcast_shapes(tuple(mask.shape), want) == want
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{who}: attn_mask of shape {tuple(mask.shape)} does not broadcast "
                             f"to the scores' shape (…, L, S) = {want}")
        # True = takes part, so the others get −inf
        scores = scores.masked_fill(~mask, -np.inf) if is_bool else \
            scores + _float_tensor(mask, scores.dtype)
        masked = True
    weights = _safe_softmax(scores) if masked else scores.softmax(-1)
    if dropout_p > 0:
        weights = F.dropout(weights, dropout_p, True)
    return weights @ value


# --------------------------------------------------------------------- MultiheadAttention
class MultiheadAttention(Module):
    """PyTorch's ``nn.MultiheadAttention``: ``num_heads`` attentions side by side, each on
    its own slice of E/num_heads features, concatenated and projected:

        Q = query W_qᵀ + b_q,  K = key W_kᵀ + b_k,  V = value W_vᵀ + b_v      (E features)
        head_h = softmax(Q_h K_hᵀ / √d + M) V_h          (d = E / num_heads, slice h of E)
        out = concat(head_1, …, head_H) W_oᵀ + b_o

    Shapes (L target length, S source length, N batch, E ``embed_dim``):
    query (L, N, E), key (S, N, kdim), value (S, N, vdim) → out (L, N, E) — or (N, L, E)…
    with ``batch_first=True``, or unbatched (L, E), (S, kdim), (S, vdim) → (L, E).
    ``forward`` returns ``(out, weights)``: the attention weights averaged over the heads,
    (N, L, S), or per head, (N, num_heads, L, S), with ``average_attn_weights=False``
    (unbatched: (L, S) / (num_heads, L, S)); None with ``need_weights=False``.

    Masks (PyTorch's convention: a bool **True = ignored**; a float mask is added to the
    scores): ``key_padding_mask`` (N, S) (unbatched (S,)) marks padding keys of each sample;
    ``attn_mask`` (L, S), shared by the batch, or (N·num_heads, L, S) (sample n, head h at
    n·num_heads + h). ``is_causal=True`` is PyTorch's hint that ``attn_mask`` is the causal
    mask; ``attn_mask`` must be given with it. Where PyTorch then drops the mask and applies
    the causal one (``need_weights=False``, no ``key_padding_mask``), a mask that is not the
    causal one is refused here instead of silently ignored.

    A query whose masks exclude every key gets PyTorch's values: NaN with
    ``need_weights=True`` (a plain softmax of −inf's), 0 before ``out_proj`` with
    ``need_weights=False`` (``scaled_dot_product_attention``'s). PyTorch's inference fast
    path (eval mode under ``no_grad``) gives NaN in both cases; stepgrad has no fast path.

    Parameters (PyTorch's names and shapes, so a PyTorch state dict loads):
    ``in_proj_weight`` (3E, E) — W_q, W_k, W_v stacked — or, when ``kdim`` or ``vdim`` ≠ E,
    ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim);
    ``in_proj_bias`` (3E,); ``out_proj`` a Linear(E, E); with ``add_bias_kv``, ``bias_k`` and
    ``bias_v`` (1, 1, E), a learned key/value row appended to every sequence;
    ``add_zero_attn`` appends a zero key/value row (after the projections). Initialised as
    PyTorch: ``xavier_uniform_`` on the projection weights, zero biases, ``xavier_normal_``
    on ``bias_k``/``bias_v``; ``out_proj.weight`` has stepgrad's Linear default (Glorot
    uniform; PyTorch's Linear draws U(±1/√E)).

    ``batch_first``: see the module docstring (left out: False, PyTorch's, with a warning).
    ``dropout``: dropout on the attention weights, in training mode only.

    >>> mha = MultiheadAttention(8, 2, batch_first=True)
    >>> x = engine.randn(3, 5, 8)                      # (N, L, E)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((3, 5, 8), (3, 5, 5))
    >>> mha.in_proj_weight.shape, mha.out_proj.weight.shape
    ((24, 8), (8, 8))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=None, device=None,
                 dtype=None):
        super().__init__()
        who = "MultiheadAttention"
        embed_dim, num_heads = _heads(who, "embed_dim", embed_dim, "num_heads", num_heads)
        cpu_only(who, device)
        if batch_first is None:
            _warn_layout(who)
            batch_first = False
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = embed_dim if kdim is None else _positive_int(who, "kdim", kdim)
        self.vdim = embed_dim if vdim is None else _positive_int(who, "vdim", vdim)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout = _probability(who, "dropout", dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = embed_dim // num_heads
        E = embed_dim
        # Registered in PyTorch's order, so parameters() and state_dict() line up with its.
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.zeros((3 * E, E)))
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.q_proj_weight = Parameter(np.zeros((E, E)))
            self.k_proj_weight = Parameter(np.zeros((E, self.kdim)))
            self.v_proj_weight = Parameter(np.zeros((E, self.vdim)))
            self.in_proj_weight = None
        self.in_proj_bias = Parameter(np.zeros(3 * E)) if bias else None
        self.out_proj = Linear(E, E, bias=bias)
        if add_bias_kv:
            self.bias_k = Parameter(np.zeros((1, 1, E)))
            self.bias_v = Parameter(np.zeros((1, 1, E)))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)
        self._reset_parameters()
        if dtype is not None:
            self.to(dtype)

    def _reset_parameters(self):
        """PyTorch's initialisation (see the class docstring)."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight,
                  self.v_proj_weight):
            if w is not None:
                xavier_uniform_(w)
        if self.in_proj_bias is not None:
            constant_(self.in_proj_bias, 0.0)
            constant_(self.out_proj.bias, 0.0)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                xavier_normal_(b)

    # -- checks ---------------------------------------------------------------------------
    def _check_inputs(self, query, key, value, key_padding_mask, attn_mask):
        """PyTorch's shape rules, with the layer's name and the shapes at fault. Returns
        whether the input is batched."""
        who = "MultiheadAttention"
        for name, t in (("query", query), ("key", key), ("value", value)):
            _check_tensor(who, name, t)
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{who}: query, key and value must all be batched 3-D {layout} "
                             f"(batch_first={self.batch_first}) or all unbatched 2-D (L, E); "
                             f"got shapes {query.shape}, {key.shape}, {value.shape}")
        batched = query.ndim == 3
        E, kdim, vdim = self.embed_dim, self.kdim, self.vdim
        if query.shape[-1] != E or key.shape[-1] != kdim or value.shape[-1] != vdim:
            raise ValueError(f"{who}: the last dims of query, key and value must be embed_dim="
                             f"{E}, kdim={kdim}, vdim={vdim}; got shapes {query.shape}, "
                             f"{key.shape}, {value.shape}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"{who}: key {key.shape} and value {value.shape} must have the "
                             f"same sequence (and batch) dims")
        if batched:
            b = 0 if self.batch_first else 1
            if key.shape[b] != query.shape[b]:
                raise ValueError(f"{who}: query {query.shape} and key {key.shape} have "
                                 f"different batch sizes (dim {b}, batch_first="
                                 f"{self.batch_first})")
            N, L, S = query.shape[b], query.shape[1 - b], key.shape[1 - b]
        else:
            N, L, S = 1, query.shape[0], key.shape[0]
        if key_padding_mask is not None:
            want = (N, S) if batched else (S,)
            shape = tuple(np.shape(getattr(key_padding_mask, "data", key_padding_mask)))
            if shape != want:
                raise ValueError(f"{who}: key_padding_mask must be (N, S) = {want} (one row per "
                                 f"sample, True = ignore that key); got {shape} for query "
                                 f"{query.shape} and key {key.shape}")
        if attn_mask is not None:
            shape = tuple(np.shape(getattr(attn_mask, "data", attn_mask)))
            H = self.num_heads
            ok = [(L, S), (N * H, L, S)] if batched else [(L, S), (H, L, S)]
            if shape not in ok:
                raise ValueError(f"{who}: attn_mask must be (L, S) = {ok[0]} or "
                                 f"({'N·num_heads' if batched else 'num_heads'}, L, S) = "
                                 f"{ok[1]}; got {shape} for query {query.shape} and key "
                                 f"{key.shape}")
        return batched

    # -- forward --------------------------------------------------------------------------
    def _in_projection(self, query, key, value):
        """Q, K, V (…, E) from the inputs. Self-attention (one tensor passed three times) is
        one product with the stacked (3E, E) weight, as PyTorch computes it."""
        E, b = self.embed_dim, self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:
                qkv = F.linear(query, w, b)
                return qkv[..., :E], qkv[..., E:2 * E], qkv[..., 2 * E:]
            w_q, w_k, w_v = w[:E], w[E:2 * E], w[2 * E:]
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """``(out, weights)``: see the class docstring for shapes and masks."""
        who = "MultiheadAttention"
        batched = self._check_inputs(query, key, value, key_padding_mask, attn_mask)
        dtype = query.dtype
        _check_mask_types(who, key_padding_mask, "key_padding_mask", attn_mask, "attn_mask")
        kpm = _additive(who, "key_padding_mask", key_padding_mask, dtype)
        mask = _additive(who, "attn_mask", attn_mask, dtype)
        q, k, v = self._in_projection(query, key, value)
        # Work in (N, S, E) and (N, heads, L, d): the layout the products want.
        if not batched:
            q, k, v = (t.unsqueeze(0) for t in (q, k, v))
            kpm = None if kpm is None else kpm.unsqueeze(0)
        elif not self.batch_first:
            q, k, v = (t.transpose(0, 1) for t in (q, k, v))
        N, L, E = q.shape
        H, d = self.num_heads, self.head_dim
        if is_causal:
            if mask is None:
                raise ValueError(f"{who}: is_causal=True is a hint that attn_mask is the causal "
                                 f"mask; pass attn_mask too (PyTorch refuses it alone): "
                                 f"attn_mask=generate_square_subsequent_mask({L}) (from "
                                 f"nn.layers.attention)")
            if kpm is None and not need_weights and not _is_causal_mask(mask, L, k.shape[1]):
                raise ValueError(f"{who}: is_causal=True says attn_mask is the causal mask, but "
                                 f"it is not (0 on and below the diagonal, -inf above); with "
                                 f"need_weights=False and no key_padding_mask PyTorch would "
                                 f"ignore attn_mask and apply the causal mask. Pass "
                                 f"is_causal=False to use this mask")
        if self.bias_k is not None:  # one learned key/value row more, never masked
            k = engine.cat([k, self.bias_k.expand(N, 1, E)], 1)
            v = engine.cat([v, self.bias_v.expand(N, 1, E)], 1)
            mask = None if mask is None else _pad_last(mask)
            kpm = None if kpm is None else _pad_last(kpm)
        S = k.shape[1]
        q = q.reshape(N, L, H, d).permute(0, 2, 1, 3)
        k = k.reshape(N, S, H, d).permute(0, 2, 1, 3)
        v = v.reshape(N, S, H, d).permute(0, 2, 1, 3)
        if self.add_zero_attn:  # one zero key/value row more (after the projections)
            zeros = engine.zeros(N, H, 1, d, dtype=dtype)
            k, v = engine.cat([k, zeros], 2), engine.cat([v, zeros], 2)
            mask = None if mask is None else _pad_last(mask)
            kpm = None if kpm is None else _pad_last(kpm)
            S += 1
        if mask is not None and mask.ndim == 3:  # (N·H, L, S): sample n, head h at n·H + h
            mask = mask.reshape(N, H, L, S)
        if kpm is not None:  # (N, S) → (N, 1, 1, S): every head, every query
            kpm = kpm.reshape(N, 1, 1, S)
            mask = kpm if mask is None else mask + kpm
        p = self.dropout if self.training else 0.0
        if need_weights:
            # PyTorch's path when the weights are wanted: a plain softmax (NaN for a row
            # with every key masked), dropout on the weights it returns.
            scores = (q * math.sqrt(1.0 / d)) @ k.transpose(-2, -1)
            if mask is not None:
                scores = scores + mask
            weights = scores.softmax(-1)
            if p > 0:
                weights = F.dropout(weights, p, True)
            heads = weights @ v
        else:
            weights = None
            heads = scaled_dot_product_attention(q, k, v, mask, p)
        out = heads.permute(0, 2, 1, 3).reshape(N, L, E)  # concat the heads
        out = F.linear(out, self.out_proj.weight, self.out_proj.bias)
        if weights is not None and average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            return out[0], None if weights is None else weights[0]
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def extra_repr(self):
        extra = "" if self._qkv_same_embed_dim else f", kdim={self.kdim}, vdim={self.vdim}"
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}{extra}, batch_first={self.batch_first}")


# ------------------------------------------------------------------------- Transformer
_ACTIVATIONS = ("relu", "gelu")


def _layer_args(who, d_model, nhead, dim_feedforward, dropout, activation, device):
    """A Transformer layer's arguments checked: (d_model, nhead, dim_feedforward, dropout)."""
    d_model, nhead = _heads(who, "d_model", d_model, "nhead", nhead)
    dim_feedforward = _positive_int(who, "dim_feedforward", dim_feedforward)
    dropout = _probability(who, "dropout", dropout)
    cpu_only(who, device)
    _check_activation(who, activation)
    return d_model, nhead, dim_feedforward, dropout


def _build_layer(layer, who, blocks, d_model, nhead, dim_feedforward, dropout, activation,
                 layer_norm_eps, batch_first, norm_first, bias, device, dtype):
    """A Transformer layer's sub-modules, registered in PyTorch's order (parameters() and
    state_dict() list them so): self_attn, (multihead_attn for a decoder's 3 blocks),
    linear1, dropout, linear2, norm1…, dropout1…, activation."""
    d_model, nhead, dim_feedforward, dropout = _layer_args(
        who, d_model, nhead, dim_feedforward, dropout, activation, device)
    if batch_first is None:
        _warn_layout(who, stacklevel=4)
        batch_first = False
    layer.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                         batch_first=batch_first)
    if blocks == 3:
        layer.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                  batch_first=batch_first)
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias)
    layer.norm_first = bool(norm_first)
    for k in range(1, blocks + 1):
        setattr(layer, f"norm{k}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
    for k in range(1, blocks + 1):
        setattr(layer, f"dropout{k}", Dropout(dropout))
    layer.activation = activation  # a Module registers as a child, as in PyTorch
    if dtype is not None:
        layer.to(dtype)


def _check_activation(who, activation):
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"{who}: activation should be 'relu' or 'gelu' (or a "
                             f"function / Module), not {activation!r}")
    elif not callable(activation):
        raise TypeError(f"{who}: activation must be 'relu', 'gelu' or a callable, got "
                        f"{activation!r}")


def _detect_causal(mask, is_causal, seq):
    """PyTorch's ``_detect_is_causal_mask``: an explicit ``is_causal`` stands; None means
    'is ``mask`` exactly the (seq, seq) causal one'."""
    if is_causal is not None:
        return bool(is_causal)
    return mask is not None and tuple(mask.shape) == (seq, seq) and \
        _is_causal_mask(mask, seq, seq)


def _seq_len(x, batch_first):
    """The sequence length of (L, N, E) / (N, L, E) input, or of unbatched (L, E)."""
    return x.shape[0] if x.ndim == 2 else x.shape[1 if batch_first else 0]


class TransformerEncoderLayer(Module):
    """PyTorch's ``nn.TransformerEncoderLayer``: self-attention then a feed-forward net,
    each with a residual connection and a LayerNorm.

    Post-norm (``norm_first=False``, the paper's and PyTorch's default)::

        x = norm1(x + dropout1(self_attn(x, x, x)))
        x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))

    Pre-norm (``norm_first=True``)::

        x = x + dropout1(self_attn(norm1(x), …))
        x = x + dropout2(linear2(dropout(activation(linear1(norm2(x))))))

    src (S, N, d_model) — (N, S, d_model) with ``batch_first=True`` — or unbatched
    (S, d_model) → the same shape. ``src_mask`` (S, S) or (N·nhead, S, S) and
    ``src_key_padding_mask`` (N, S) are ``MultiheadAttention``'s ``attn_mask`` and
    ``key_padding_mask`` (bool True = ignored; float: added); ``is_causal=True`` is the hint
    that ``src_mask`` is the causal mask. ``activation``: 'relu', 'gelu' or a callable (a
    function or a Module, such as ``nn.GELU(approximate='tanh')``).

    Submodules have PyTorch's names (``self_attn``, ``linear1``, ``dropout``, ``linear2``,
    ``norm1``, ``norm2``, ``dropout1``, ``dropout2``), so a PyTorch state dict loads. The
    Linears have stepgrad's default initialisation (Glorot uniform, zero bias); PyTorch's
    draw U(±1/√fan_in): load a state dict for PyTorch's numbers. ``batch_first`` left out:
    False (PyTorch's) with a warning, as ``MultiheadAttention``.

    >>> layer = TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    >>> layer(engine.randn(3, 5, 8)).shape
    (3, 5, 8)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=None, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        _build_layer(self, "TransformerEncoderLayer", 2, d_model, nhead, dim_feedforward,
                     dropout, activation, layer_norm_eps, batch_first, norm_first, bias, device,
                     dtype)

    @property
    def batch_first(self):
        return self.self_attn.batch_first

    def _activate(self, x):
        a = self.activation
        if a == "relu":
            return F.relu(x)
        if a == "gelu":
            return F.gelu(x)
        return a(x)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self._activate(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        who = "TransformerEncoderLayer"
        _check_tensor(who, "src", src)
        _check_mask_types(who, src_key_padding_mask, "src_key_padding_mask", src_mask,
                          "src_mask")
        kpm = _additive(who, "src_key_padding_mask", src_key_padding_mask, src.dtype)
        mask = _additive(who, "src_mask", src_mask, src.dtype)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), mask, kpm, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, mask, kpm, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def extra_repr(self):
        act = self.activation if isinstance(self.activation, str) else \
            getattr(self.activation, "__name__", type(self.activation).__name__)
        return f"activation={act!r}, norm_first={self.norm_first}"


def _stack(module, who, name, layer, num_layers, norm):
    """``module.layers``: ``num_layers`` deep copies of ``layer`` (each trained on its own;
    they start equal, as PyTorch's), ``module.norm`` and ``module.num_layers``."""
    if not isinstance(layer, Module):
        raise TypeError(f"{who}: {name} must be a Module, got {type(layer).__name__}")
    num_layers = _positive_int(who, "num_layers", num_layers)
    if norm is not None and not isinstance(norm, Module):
        raise TypeError(f"{who}: norm must be a Module (e.g. nn.LayerNorm(d_model)) or None, "
                        f"got {type(norm).__name__}")
    module.layers = ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
    module.num_layers, module.norm = num_layers, norm


class TransformerEncoder(Module):
    """PyTorch's ``nn.TransformerEncoder``: ``num_layers`` copies of ``encoder_layer`` run in
    turn, then ``norm`` if given: ``x = norm(layer_K(…layer_1(src)))``.

    ``layers`` is a ModuleList of deep copies (each trained on its own; they start equal, as
    PyTorch's), so state dict keys are PyTorch's (``layers.0.self_attn.in_proj_weight``, …,
    ``norm.weight``). ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``:
    masks and shapes as ``TransformerEncoderLayer``; ``is_causal=None`` detects a causal
    ``mask`` as PyTorch does. ``enable_nested_tensor`` and ``mask_check`` are accepted and do
    nothing: they steer PyTorch's inference fast path, which stepgrad does not have. That path
    (eval mode under ``no_grad`` with a ``src_key_padding_mask``, ``batch_first=True``,
    post-norm, among other conditions) returns 0 at padded positions where this (and
    PyTorch's autograd path) returns the layer's values; the other positions agree.

    >>> enc = TransformerEncoder(TransformerEncoderLayer(8, 2, 16, batch_first=True), 2)
    >>> [name for name, _ in enc.named_children()], len(enc.layers)
    (['layers'], 2)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        _stack(self, "TransformerEncoder", "encoder_layer", encoder_layer, num_layers, norm)
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        who = "TransformerEncoder"
        _check_tensor(who, "src", src)
        _check_mask_types(who, src_key_padding_mask, "src_key_padding_mask", mask, "mask")
        kpm = _additive(who, "src_key_padding_mask", src_key_padding_mask, src.dtype)
        mask = _additive(who, "mask", mask, src.dtype)
        is_causal = _detect_causal(mask, is_causal, _seq_len(
            src, getattr(self.layers[0], "batch_first", False)))
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=kpm, is_causal=is_causal)
        return x if self.norm is None else self.norm(x)

    def extra_repr(self):
        return f"num_layers={self.num_layers}"


class TransformerDecoderLayer(TransformerEncoderLayer):
    """PyTorch's ``nn.TransformerDecoderLayer``: self-attention over the target, attention
    from the target to the encoder's output (``memory``), then the feed-forward net, each
    with a residual connection and a LayerNorm.

    Post-norm (``norm_first=False``, the default)::

        x = norm1(x + dropout1(self_attn(x, x, x, tgt_mask, tgt_key_padding_mask)))
        x = norm2(x + dropout2(multihead_attn(x, memory, memory, memory_mask,
                                              memory_key_padding_mask)))
        x = norm3(x + dropout3(linear2(dropout(activation(linear1(x))))))

    Pre-norm (``norm_first=True``): ``x = x + block(norm_i(x))`` for the three blocks.

    tgt (T, N, d_model) and memory (S, N, d_model) — batch first with ``batch_first=True`` —
    or unbatched (T, d_model), (S, d_model) → tgt's shape. Masks as
    ``TransformerEncoderLayer``'s (``tgt_mask`` (T, T), ``memory_mask`` (T, S), the padding
    masks (N, T) and (N, S)); ``tgt_is_causal`` / ``memory_is_causal`` are hints. Submodules
    have PyTorch's names (``self_attn``, ``multihead_attn``, ``linear1``, ``dropout``,
    ``linear2``, ``norm1``–``norm3``, ``dropout1``–``dropout3``), so a PyTorch state dict
    loads.

    >>> layer = TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    >>> layer(engine.randn(3, 4, 8), engine.randn(3, 6, 8)).shape
    (3, 4, 8)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=None, norm_first=False, bias=True,
                 device=None, dtype=None):
        Module.__init__(self)
        _build_layer(self, "TransformerDecoderLayer", 3, d_model, nhead, dim_feedforward,
                     dropout, activation, layer_norm_eps, batch_first, norm_first, bias, device,
                     dtype)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self._activate(self.linear1(x)))))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        who = "TransformerDecoderLayer"
        _check_tensor(who, "tgt", tgt)
        _check_tensor(who, "memory", memory)
        _check_mask_types(who, tgt_key_padding_mask, "tgt_key_padding_mask", tgt_mask,
                          "tgt_mask")
        _check_mask_types(who, memory_key_padding_mask, "memory_key_padding_mask", memory_mask,
                          "memory_mask")
        tgt_kpm = _additive(who, "tgt_key_padding_mask", tgt_key_padding_mask, tgt.dtype)
        tgt_mask = _additive(who, "tgt_mask", tgt_mask, tgt.dtype)
        mem_kpm = _additive(who, "memory_key_padding_mask", memory_key_padding_mask, tgt.dtype)
        mem_mask = _additive(who, "memory_mask", memory_mask, tgt.dtype)
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_kpm, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, mem_mask, mem_kpm, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_kpm, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, mem_mask, mem_kpm, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


class TransformerDecoder(Module):
    """PyTorch's ``nn.TransformerDecoder``: ``num_layers`` deep copies of ``decoder_layer``
    run in turn on the target, each attending to the same ``memory``, then ``norm`` if given.
    ``forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
    memory_key_padding_mask, tgt_is_causal=None, memory_is_causal=False)``: masks and shapes
    as ``TransformerDecoderLayer``; ``tgt_is_causal=None`` detects a causal ``tgt_mask`` as
    PyTorch does. State dict keys are PyTorch's (``layers.0.multihead_attn.in_proj_weight``,
    …, ``norm.weight``)."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        _stack(self, "TransformerDecoder", "decoder_layer", decoder_layer, num_layers, norm)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        _check_tensor("TransformerDecoder", "tgt", tgt)
        tgt_is_causal = _detect_causal(tgt_mask, tgt_is_causal, _seq_len(
            tgt, getattr(self.layers[0], "batch_first", False)))
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)

    def extra_repr(self):
        return f"num_layers={self.num_layers}"


class Transformer(Module):
    """PyTorch's ``nn.Transformer`` (Vaswani et al. 2017): an encoder stack over ``src``
    and a decoder stack over ``tgt`` attending to the encoder's output, each ending in a
    LayerNorm; every weight matrix starts Xavier-uniform, as PyTorch's ``_reset_parameters``.

    ``forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask,
    tgt_key_padding_mask, memory_key_padding_mask, src_is_causal, tgt_is_causal,
    memory_is_causal)``: src (S, N, d_model), tgt (T, N, d_model) — batch first with
    ``batch_first=True`` — or unbatched → (T, N, d_model). ``custom_encoder`` /
    ``custom_decoder`` replace the stacks. ``Transformer.generate_square_subsequent_mask(T)``
    is the causal ``tgt_mask``.

    >>> model = Transformer(8, 2, 1, 1, dim_feedforward=16, batch_first=True)
    >>> model(engine.randn(2, 5, 8), engine.randn(2, 3, 8)).shape
    (2, 3, 8)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=None, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        if batch_first is None:
            _warn_layout("Transformer")
            batch_first = False
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, device)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, LayerNorm(
                d_model, eps=layer_norm_eps, bias=bias))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                            layer_norm_eps, batch_first, norm_first, bias, device)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, LayerNorm(
                d_model, eps=layer_norm_eps, bias=bias))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self._reset_parameters()
        if dtype is not None:
            self.to(dtype)

    def _reset_parameters(self):
        """Xavier-uniform on every parameter with more than one dim (PyTorch's)."""
        for p in self.parameters():
            if p.ndim > 1:
                xavier_uniform_(p)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        who = "Transformer"
        _check_tensor(who, "src", src)
        _check_tensor(who, "tgt", tgt)
        if src.ndim != tgt.ndim or src.ndim not in (2, 3):
            raise ValueError(f"{who}: src and tgt must both be batched (3-D) or unbatched "
                             f"(2-D), got shapes {src.shape} and {tgt.shape}")
        b = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[b] != tgt.shape[b]:
            raise RuntimeError(f"{who}: the batch number of src and tgt must be equal, got "
                               f"{src.shape[b]} and {tgt.shape[b]} (batch_first="
                               f"{self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"{who}: the feature number of src and tgt must be equal to "
                               f"d_model {self.d_model}, got {src.shape[-1]} and "
                               f"{tgt.shape[-1]}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    def extra_repr(self):
        return f"d_model={self.d_model}, nhead={self.nhead}, batch_first={self.batch_first}"
