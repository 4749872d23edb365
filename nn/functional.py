"""The stateless math of nn: activations, losses, penalties and metrics (also ``nn.F``).

Losses take a prediction Tensor and a target (Tensor or numpy array) and a ``reduction``:
'mean' (default), 'sum' or 'none'. Shapes must match exactly where the math is elementwise:
a (N, 1) prediction against an (N,) target would silently broadcast to (N, N) in numpy, so
it is an error here.
"""
from __future__ import annotations

import functools
import inspect
import math
import warnings

import numpy as np

import engine
from engine import (  # noqa: F401 (PyTorch's F)
    Tensor,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    interpolate,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool2d,
    max_unpool3d,
    no_grad,
)
from engine.fast.conv import ntuple, unbatched
from engine.fast.unfold import fold, unfold  # noqa: F401 (PyTorch's F.fold, F.unfold)
from engine.ops.compose import pairwise_distance, pixel_shuffle, pixel_unshuffle  # noqa: F401
from engine.ops.indexing import one_hot, pad  # noqa: F401 (re-exported: PyTorch's F.pad)
from engine.ops.linalg import Linear
from engine.ops.losses import BinaryCrossEntropy
from engine.ops.neural import CrossEntropy


# ------------------------------------------------------------------------------ activations
def relu(x, inplace=False):
    """max(x, 0); ``inplace=True`` writes it into x (PyTorch's rules for in-place ops)."""
    return x.relu_() if inplace else x.relu()


def _in_place(name, x, inplace, fn):
    """``fn(x)``, or with PyTorch's ``inplace=True`` the same values written into x, which is
    returned (``engine.in_place``: PyTorch's in-place rules)."""
    return engine.in_place(x, fn, f"{name}_") if inplace else fn(x)


def sigmoid(x): return x.sigmoid()
def tanh(x): return x.tanh()


def leaky_relu(x, negative_slope=0.01, inplace=False):
    return _in_place("leaky_relu", x, inplace, lambda t: t.leaky_relu(negative_slope))


def softmax(x, dim=None, *, axis=None, dtype=None):
    """``e^(x_i) / Σ_j e^(x_j)`` along ``dim`` (PyTorch; ``axis=`` numpy's name). Without a
    dim, PyTorch's deprecated implicit choice (see ``implicit_dim``). ``dtype``: x is cast to
    it first (differentiably), as PyTorch: ``softmax(x, dim=-1, dtype=engine.float32)``."""
    return _cast("softmax", x, dtype).softmax(_dim("softmax", dim, axis, x.ndim))


def log_softmax(x, dim=None, *, axis=None, dtype=None):
    """``x_i − log Σ_j e^(x_j)`` along ``dim`` (stable); no dim, ``dtype``: as ``softmax``."""
    return _cast("log_softmax", x, dtype).log_softmax(_dim("log_softmax", dim, axis, x.ndim))


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """PyTorch's ``F.gumbel_softmax``: ``softmax((logits + g) / tau)`` along ``dim`` with
    g ~ Gumbel(0, 1) drawn from engine's generator (``engine.manual_seed``). ``hard=True``
    returns the one-hot of each argmax in the forward pass with the soft sample's gradient
    (straight-through: ``y_hard − y_soft.detach() + y_soft``, PyTorch's expression). ``eps``
    is unused, as in PyTorch."""
    if not tau > 0:
        raise ValueError(f"gumbel_softmax: tau must be positive, got {tau}")
    g = engine.get_rng().gumbel(size=logits.shape).astype(logits.dtype)
    y_soft = ((logits + engine.from_numpy(g)) / tau).softmax(dim)
    if not hard:
        return y_soft
    axis = dim % logits.ndim
    y_hard = np.zeros(logits.shape, logits.dtype)
    np.put_along_axis(y_hard, np.expand_dims(y_soft.data.argmax(axis), axis), 1, axis)
    return engine.from_numpy(y_hard) - y_soft.detach() + y_soft


def softmin(x, dim=None, *, axis=None, dtype=None):
    """``softmax(−x)`` along ``dim``; no dim, ``dtype``: as ``softmax``."""
    return _cast("softmin", x, dtype).softmin(_dim("softmin", dim, axis, x.ndim))


def _cast(op, x, dtype):
    """x cast to the floating ``dtype`` a softmax was asked to compute in (None: x)."""
    if dtype is None:
        return x
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"{op}: dtype must be a floating type (engine.float32 or "
                        f"engine.float64), got {np.dtype(dtype)}")
    return x.astype(dtype)


def _dim(op, dim, axis, ndim):
    if dim is not None and axis is not None:
        raise TypeError(f"{op}: got both dim= and axis= (same meaning)")
    if dim is None and axis is None:
        return implicit_dim(op, ndim, stacklevel=4)  # the warning points at F.softmax's caller
    return dim if dim is not None else axis


def implicit_dim(op, ndim, stacklevel):
    """The dim a softmax takes when none is given: PyTorch's deprecated implicit choice
    (``torch.nn.functional._get_softmax_dim``): dim 0 for 0-, 1- and 3-D input, dim 1
    otherwise. Up to 2-D that is the last dim; from 3-D on it is not (Keras and
    ``Tensor.softmax`` take the last), so there a warning names the dim used.

    >>> implicit_dim("softmax", 2, stacklevel=2)
    1
    """
    dim = 0 if ndim in (0, 1, 3) else 1
    if ndim >= 3:
        warnings.warn(f"{op}: no dim given: using dim {dim}, PyTorch's implicit (deprecated) "
                      f"choice for {ndim}-D input, not the last dim (Keras's choice). Pass dim= "
                      f"to say which", UserWarning, stacklevel=stacklevel)
    return dim


# PyTorch's activation functions (formulas and kinks: engine/ops/activations.py).
def gelu(x, approximate="none"): return x.gelu(approximate)
def softplus(x, beta=1.0, threshold=20.0): return x.softplus(beta, threshold)
# PyTorch's inplace=True on the activations that have it (see _in_place above).
def elu(x, alpha=1.0, inplace=False):
    return _in_place("elu", x, inplace, lambda t: t.elu(alpha))
def selu(x, inplace=False): return _in_place("selu", x, inplace, lambda t: t.selu())
def celu(x, alpha=1.0, inplace=False):
    return _in_place("celu", x, inplace, lambda t: t.celu(alpha))
def silu(x, inplace=False): return _in_place("silu", x, inplace, lambda t: t.silu())
def mish(x, inplace=False): return _in_place("mish", x, inplace, lambda t: t.mish())
def relu6(x, inplace=False): return _in_place("relu6", x, inplace, lambda t: t.relu6())
def hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False):
    return _in_place("hardtanh", x, inplace, lambda t: t.hardtanh(min_val, max_val))
def hardsigmoid(x, inplace=False):
    return _in_place("hardsigmoid", x, inplace, lambda t: t.hardsigmoid())
def hardswish(x, inplace=False):
    return _in_place("hardswish", x, inplace, lambda t: t.hardswish())
# PyTorch's F.relu_ & co.: the in-place forms, named with the trailing underscore.
def relu_(x): return relu(x, inplace=True)
def elu_(x, alpha=1.0): return elu(x, alpha, inplace=True)
def selu_(x): return selu(x, inplace=True)
def celu_(x, alpha=1.0): return celu(x, alpha, inplace=True)
def leaky_relu_(x, negative_slope=0.01): return leaky_relu(x, negative_slope, inplace=True)
def hardtanh_(x, min_val=-1.0, max_val=1.0): return hardtanh(x, min_val, max_val, inplace=True)


def rrelu(x, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky relu (PyTorch's ``F.rrelu``): x where x ≥ 0, else a·x. Training:
    a ~ U(lower, upper) drawn per element from engine's generator (``engine.manual_seed``),
    the gradient there a; otherwise a = (lower + upper) / 2, a leaky relu."""
    if not lower <= upper:
        raise ValueError(f"rrelu: the lower bound {lower} must not exceed the upper bound "
                         f"{upper}")
    if not training:
        return leaky_relu(x, (lower + upper) / 2, inplace)

    def draw(t):
        a = engine.get_rng().uniform(lower, upper, t.shape)
        return engine.where(t.data >= 0, t, t * engine.tensor(a, dtype=t.dtype))
    return _in_place("rrelu", x, inplace, draw)


def rrelu_(x, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(x, lower, upper, training, inplace=True)
def logsigmoid(x): return x.logsigmoid()
def softsign(x): return x.softsign()
def prelu(x, weight): return x.prelu(weight)
def tanhshrink(x): return x - x.tanh()


def glu(x, dim=-1):
    """Gated linear unit (PyTorch's ``F.glu``): x split in halves a, b along ``dim`` (of even
    size n) → ``a · σ(b)``, with n/2 along ``dim``."""
    if x.ndim == 0:
        raise ValueError("glu: does not take a 0-d tensor: it halves a dim")
    n = x.shape[dim] if -x.ndim <= dim < x.ndim else None
    if n is None or n % 2:
        raise ValueError(f"glu: dim {dim} of the input {x.shape} must exist and have an even "
                         f"size, to be halved")
    a, b = x.chunk(2, dim)
    return a * b.sigmoid()


def softshrink(x, lambd=0.5):
    """``x − λ`` where x > λ, ``x + λ`` where x < −λ, else 0 (PyTorch's ``F.softshrink``)."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be non-negative, got {lambd}")
    return engine.where(x.data > lambd, x - lambd, engine.where(x.data < -lambd, x + lambd,
                                                                x * 0.0))


def hardshrink(x, lambd=0.5):
    """x where |x| > λ, else 0 (PyTorch's ``F.hardshrink``)."""
    return engine.where(np.abs(x.data) > lambd, x, x * 0.0)


def bilinear(input1, input2, weight, bias=None):
    """PyTorch's ``F.bilinear``: y[..., o] = Σ_ij x1[..., i]·weight[o, i, j]·x2[..., j]
    (+ bias[o]); x1 (..., in1), x2 (..., in2) with the same leading dims, weight (out, in1,
    in2), bias (out,). ``nn.Bilinear`` computes with it."""
    if weight.ndim != 3 or input1.shape[-1:] != weight.shape[1:2] or \
            input2.shape[-1:] != weight.shape[2:] or input1.shape[:-1] != input2.shape[:-1]:
        raise ValueError(f"bilinear: inputs of shapes {input1.shape} and {input2.shape} with "
                         f"weight {weight.shape}: expected (..., in1) and (..., in2) with the "
                         f"same leading dims, and weight (out, in1, in2)")
    if bias is not None and bias.shape != weight.shape[:1]:
        raise ValueError(f"bilinear: bias must have shape ({weight.shape[0]},), got "
                         f"{bias.shape}")
    y = engine.einsum("...i,oij,...j->...o", input1, weight, input2)
    return y if bias is None else y + bias


def pdist(input, p=2.0):
    """PyTorch's ``F.pdist``: the p-norm distances between the rows of x (N, M), each pair
    i < j once, in row-major order of the upper triangle → (N·(N − 1)/2,)."""
    if input.ndim != 2:
        raise ValueError(f"pdist: expected a 2-D input (N, M), got shape {input.shape}")
    n = input.shape[0]
    i, j = np.triu_indices(n, k=1)
    return (input[i] - input[j]).norm(p=p, dim=-1) if n > 1 else input.sum(-1)[:0]


def normalize(x, p=2.0, dim=1, eps=1e-12):
    """``x / max(‖x‖_p, eps)`` along ``dim``: rows (dim 1) scaled to unit length."""
    return x.normalize(p, dim, eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps))`` along ``dim`` (x1 and x2 broadcast).

    As PyTorch, the clamp to ``eps`` changes the norms' values but not their gradient (it
    is applied without recording): below eps the gradient is the unclamped formula's."""
    x1, x2 = _tensors(x1, x2)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    n1, n2 = (x.norm(2, dim=dim, keepdim=True) for x in (x1, x2))
    n1 = n1 + (n1.clamp(min=eps) - n1).detach()
    n2 = n2 + (n2.clamp(min=eps) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)


def _tensors(*xs):
    like = next((x for x in xs if isinstance(x, Tensor)), None)
    return tuple(x if isinstance(x, Tensor) else engine.from_numpy(
        np.asarray(x, like.dtype if like is not None else engine.get_default_dtype()))
        for x in xs)


# The convolution family (conv1d, conv2d, conv_transpose2d, the pools, adaptive pools,
# max_unpool2d, interpolate) is engine's, imported above; PyTorch's older names for resizing:
def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """PyTorch's deprecated name of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(input, size, scale_factor, mode='nearest')``."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)``."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def linear(x, weight, bias=None):
    """``y = x Wᵀ + b`` with x (..., in), W (out, in), b (out,) → y (..., out): one op,
    ``linear`` (engine/ops/linalg.py)."""
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, D) picked by the integer ``input`` (any shape S)
    → (*S, D), PyTorch's ``F.embedding``. Gradients of repeated indices add up; the row
    ``padding_idx`` gets none (its value is still returned). Indices must lie in
    [0, num_embeddings): a negative one is refused, not read from the end.

    ``max_norm``: before the lookup, every row looked up whose ``norm_type``-norm exceeds
    it is scaled IN PLACE to norm ``max_norm`` (``row *= max_norm / (norm + 1e-7)``, no
    graph; ``weight``'s version goes up, so a graph that saved the old ``weight`` refuses
    backward instead of using the new values, as PyTorch's does). ``scale_grad_by_freq``:
    each row's gradient is divided by how often its index occurs in ``input``.

    >>> import engine
    >>> w = engine.tensor([[3.0, 4.0], [0.3, 0.4]], dtype="float64")
    >>> embedding(engine.tensor([0, 1]), w, max_norm=1.0).data.round(4).tolist()
    [[0.6, 0.8], [0.3, 0.4]]
    >>> w.data.round(4).tolist()  # row 0 renormalised in place; row 1 was within the norm
    [[0.6, 0.8], [0.3, 0.4]]
    """
    if sparse:
        raise ValueError("embedding: sparse=True is not supported in stepgrad (gradients are "
                         "dense; drop sparse=True: the numbers are the same)")
    idx = _int_array("embedding", "indices", input)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {int(bad)} is out of range for a table of {n} "
                         f"rows (indices run from 0 to {n - 1})")
    padding_idx = _padding_row("embedding", padding_idx, n)
    if max_norm is not None:
        embedding_renorm_(weight, idx, max_norm, norm_type)
    rows = weight.index_select(0, engine.tensor(idx.reshape(-1)))
    if scale_grad_by_freq:
        _scale_grad_by_freq(rows, idx.reshape(-1), n)
    if padding_idx is not None:
        keep = engine.tensor((idx.reshape(-1) != padding_idx)[:, None])
        rows = engine.where(keep, rows, rows.detach())  # same values, no gradient there
    return rows.reshape(idx.shape + (weight.shape[1],))


def embedding_renorm_(weight, input, max_norm, norm_type=2.0):
    """PyTorch's ``torch.embedding_renorm_``: each distinct row of ``weight`` indexed by
    ``input`` whose ``norm_type``-norm exceeds ``max_norm`` is multiplied in place by
    ``max_norm / (norm + 1e-7)``, outside any graph. Returns ``weight``.

    Its version is counted up on every call (PyTorch's in-place op does so even when no row
    changed): a graph that saved ``weight`` (tied weights: ``x @ emb.weight.T``) raises at
    backward instead of differentiating with values that are no longer there."""
    idx = _int_array("embedding_renorm_", "indices", input)
    if not isinstance(max_norm, (int, float, np.integer, np.floating)) or \
            isinstance(max_norm, bool) or not max_norm >= 0:
        raise ValueError(f"embedding: max_norm must be a number >= 0, got {max_norm!r}")
    table = weight.data
    rows = np.unique(idx)
    if rows.size:
        with np.errstate(all="ignore"):  # a NaN or inf row: its norm says so, no warning
            norms = np.linalg.norm(table[rows], ord=norm_type, axis=1).astype(np.float64)
        over = norms > max_norm
        scale = max_norm / (norms[over] + 1e-7)  # in double, as PyTorch's (a scalar there)
        table[rows[over]] *= scale[:, None].astype(table.dtype)
    engine.increment_version(weight)
    return weight


def _scale_grad_by_freq(rows, flat, n):
    """Divide the gradient of each looked-up row by its index's count in the batch."""
    if rows.requires_grad:
        inv = (1.0 / np.bincount(flat, minlength=n)[flat])[:, None]
        rows.register_hook(lambda g: g * engine.tensor(inv, dtype=g.dtype))


def _padding_row(op, padding_idx, n):
    """``padding_idx`` as a row of a table of n rows (a negative one counted from the end),
    or None. Out of range it would match no index, and the argument be silently ignored:
    refused, as PyTorch asserts."""
    if padding_idx is None:
        return None
    if not -n <= padding_idx < n:
        raise ValueError(f"{op}: padding_idx {padding_idx} must be within the {n} rows of the "
                         f"table (from {-n} to {n - 1}), as PyTorch asserts")
    return padding_idx + n if padding_idx < 0 else padding_idx


def _int_array(op, what, a):
    a = a.data if isinstance(a, engine.Tensor) else np.asarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must be integers (int64 or int32), got dtype {a.dtype}: "
                        f"convert them with .long()")
    return a


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2.0,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of ``weight``'s rows without the (bags, length, D)
    tensor in between, PyTorch's ``F.embedding_bag`` (its text-classification tutorial's
    ``nn.EmbeddingBag(vocab, dim)(text, offsets)``) → (B, D).

    ``input`` (B, L): each row one bag of L indices (``offsets`` None). ``input`` (M,) with
    ``offsets`` (B,): bag b is ``input[offsets[b] : offsets[b + 1]]`` (the last runs to the
    end); with ``include_last_offset`` ``offsets`` has B + 1 entries, the last = M (CSR).
    ``mode`` 'sum' (Σ rows, each times its ``per_sample_weights`` entry if given, same shape
    as ``input``), 'mean' (Σ rows / count) or 'max' (per column; the gradient goes to the
    winning row). Entries equal to ``padding_idx`` are left out of their bag (and of its
    count); an empty bag gives zeros. ``max_norm``, ``norm_type``, ``scale_grad_by_freq``:
    as ``embedding``'s (the renormalisation covers every looked-up row, padding's included,
    as PyTorch's; the gradient divided by the true count of each index, as documented and
    as PyTorch's CUDA kernel: its 2.13 CPU kernel miscounts, pytorch/pytorch#190063)."""
    op = "embedding_bag"
    if sparse:
        raise ValueError(f"{op}: sparse=True is not supported in stepgrad (gradients are "
                         f"dense; drop sparse=True: the numbers are the same)")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode has to be one of sum, mean or max, got {mode!r}")
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{op}: mode='max' does not support scale_grad_by_freq=True (as in "
                         f"PyTorch): use mode 'sum' or 'mean', or drop scale_grad_by_freq")
    if per_sample_weights is not None and mode != "sum":
        raise ValueError(f"{op}: per_sample_weights is only supported for mode='sum' (got "
                         f"mode={mode!r}), as in PyTorch")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be (num_embeddings, embedding_dim), got shape "
                         f"{weight.shape}")
    idx = _int_array(op, "indices", input)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: if input is 2-D {idx.shape}, each row is one bag and "
                             f"offsets has to be None")
        B, L = idx.shape
        starts = np.arange(B) * L
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError(f"{op}: a 1-D input needs offsets (1-D, where each bag starts)")
        starts = _int_array(op, "offsets", offsets).astype(np.int64)
        if starts.ndim != 1:
            raise ValueError(f"{op}: offsets has to be 1-D, got shape {starts.shape}")
        if include_last_offset:
            if starts.size == 0 or starts[-1] != idx.size:
                raise ValueError(f"{op}: with include_last_offset=True the last offset must "
                                 f"be the input's length {idx.size} (CSR), got offsets "
                                 f"{starts.tolist()[-5:]}")
            starts = starts[:-1]
        B = starts.size
        if B and starts[0] != 0:
            raise ValueError(f"{op}: offsets[0] has to be 0 (the first bag starts at the "
                             f"input's start), got {int(starts[0])}")
        if B and (np.any(np.diff(starts) < 0) or starts[-1] > idx.size):
            raise ValueError(f"{op}: offsets must not decrease nor pass the input's length "
                             f"{idx.size}, got {starts.tolist()[:10]}")
    else:
        raise ValueError(f"{op}: input must be 1-D (with offsets) or 2-D (B, L), got shape "
                         f"{idx.shape}")
    flat = idx.reshape(-1)
    n = weight.shape[0]
    if flat.size and (flat.min() < 0 or flat.max() >= n):
        at = int(np.flatnonzero((flat < 0) | (flat >= n))[0])
        raise IndexError(f"{op}: index {at} of input takes value {int(flat[at])}, which is not "
                         f"in the table's range [0, {n})")
    counts = np.diff(np.append(starts, flat.size))
    bag = np.repeat(np.arange(B), counts)  # the bag of each entry
    psw = per_sample_weights
    if psw is not None:
        psw = psw if isinstance(psw, engine.Tensor) else engine.tensor(psw)
        if psw.shape != idx.shape:
            raise ValueError(f"{op}: per_sample_weights {psw.shape} must have the input's "
                             f"shape {idx.shape}")
        psw = psw.reshape(-1)
    padding_idx = _padding_row(op, padding_idx, n)
    if max_norm is not None:
        embedding_renorm_(weight, flat, max_norm, norm_type)
    if padding_idx is not None:
        keep = flat != padding_idx
        flat, bag = flat[keep], bag[keep]
        counts = np.bincount(bag, minlength=B)
        if psw is not None:
            psw = psw[engine.tensor(np.flatnonzero(keep))]
    rows = weight.index_select(0, engine.tensor(flat))  # (entries, D), checked above
    if scale_grad_by_freq:
        _scale_grad_by_freq(rows, flat, n)
    D = weight.shape[1]
    if mode == "max":
        # Bags padded to the longest with a row of -inf (never the winner), then max.
        width = int(counts.max()) if B else 0
        first = np.concatenate(([0], np.cumsum(counts)[:-1])) if B else counts
        slot = np.full((B, max(width, 1)), flat.size, np.int64)  # flat.size: the -inf row
        slot[bag, np.arange(flat.size) - first[bag]] = np.arange(flat.size)
        table = engine.cat([rows, engine.full((1, D), -np.inf, dtype=weight.dtype)])
        best = table[engine.tensor(slot)].max(dim=1).values
        return engine.where(engine.tensor(counts[:, None] > 0), best, 0.0)
    if psw is not None:
        rows = rows * psw.reshape(-1, 1)
    out = engine.zeros(B, D, dtype=weight.dtype).index_add(0, engine.tensor(bag), rows)
    if mode == "mean":
        out = out / engine.tensor(np.maximum(counts, 1)[:, None], dtype=weight.dtype)
    return out


# ------------------------------------------------------------------------------ pools
def output_length(op, output_size):
    """A 1-D pool's ``output_size`` (an int, or a 1-tuple) as an int >= 1."""
    size = output_size[0] if isinstance(output_size, (tuple, list)) and len(output_size) == 1 \
        else output_size
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ValueError(f"{op}: output_size must be an int >= 1, got {output_size!r}")
    return int(size)


def _adaptive_1d(op, pool, x, output_size, *more):
    """The 2-D adaptive pool on (N, C, 1, L) (or PyTorch's unbatched (C, 1, L))."""
    unbatched(op, x, "(N, C, L)")  # refuses all but (N, C, L) and (C, L)
    out = pool(x.unsqueeze(-2), (1, output_length(op, output_size)), *more)
    if isinstance(out, tuple):  # (out, indices): a flat h·W + w index is w when H = 1
        return tuple(t.squeeze(-2) for t in out)
    return out.squeeze(-2)


def adaptive_avg_pool1d(x, output_size):
    """Average pooling of (N, C, L) or (C, L) to ``output_size`` (PyTorch's windows:
    ``floor(i·L/out)`` to ``ceil((i + 1)·L/out)``)."""
    return _adaptive_1d("adaptive_avg_pool1d", adaptive_avg_pool2d, x, output_size)


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """Max pooling of (N, C, L) or (C, L) to ``output_size`` (windows as
    ``adaptive_avg_pool1d``); ``return_indices=True`` also returns each winner's position."""
    return _adaptive_1d("adaptive_max_pool1d", adaptive_max_pool2d, x, output_size,
                        return_indices)


# PyTorch's *_with_indices spellings: the pools with return_indices=True.
def max_pool1d_with_indices(x, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(x, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(x, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool3d(x, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(x, output_size, return_indices=True):
    return adaptive_max_pool1d(x, output_size, True)


def adaptive_max_pool2d_with_indices(x, output_size, return_indices=True):
    return adaptive_max_pool2d(x, output_size, True)


def adaptive_max_pool3d_with_indices(x, output_size, return_indices=True):
    return adaptive_max_pool3d(x, output_size, True)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling (PyTorch's ``F.lp_pool2d``): (Σ_window xᵖ)^(1/p) per window
    of (N, C, H, W) input, p = ``norm_type`` (p = 1: sum pooling; p → ∞: max pooling), with
    PyTorch's formula ``(sign(a)·relu(|a|)·kh·kw)^(1/p)``, a = avg_pool2d(xᵖ)."""
    kh, kw = ntuple(kernel_size, 2, "kernel_size", "lp_pool2d", 1)
    return _power_mean(avg_pool2d(x ** norm_type, (kh, kw), stride, 0, ceil_mode), kh * kw,
                       norm_type)


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``lp_pool2d`` over the last dim of (N, C, L) or (C, L) input (PyTorch's
    ``F.lp_pool1d``)."""
    (k,) = ntuple(kernel_size, 1, "kernel_size", "lp_pool1d", 1)
    return _power_mean(avg_pool1d(x ** norm_type, k, stride, 0, ceil_mode), k, norm_type)


def _power_mean(a, window, p):
    """The LP pools' (Σ xᵖ)^(1/p) from a = the window mean of xᵖ, PyTorch's exact formula."""
    return (a.sign() * relu(a.abs()) * window) ** (1.0 / p)


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``max_pool1d``'s partial inverse (PyTorch's ``F.max_unpool1d``): each value of x (N, C,
    L) — or unbatched (C, L) — put back at its ``indices`` in zeros of length ``(L − 1)·stride −
    2·padding + kernel_size`` (or ``output_size``): max_unpool2d on one row."""
    op = "max_unpool1d"
    (k,) = ntuple(kernel_size, 1, "kernel_size", op, 1)
    (s,) = (k,) if stride is None else ntuple(stride, 1, "stride", op, 1)
    (p,) = ntuple(padding, 1, "padding", op, 0)
    if output_size is not None:
        output_size = (1,) + tuple(output_size)[-1:] if not isinstance(output_size, int) \
            else (1, output_size)
    idx = indices.unsqueeze(-2) if isinstance(indices, Tensor) else \
        np.expand_dims(np.asarray(indices), -2)
    unbatched(op, x, "(N, C, L)")
    return max_unpool2d(x.unsqueeze(-2), idx, (1, k), (1, s), (0, p), output_size).squeeze(-2)


def channel_shuffle(x, groups):
    """ShuffleNet's channel shuffle (PyTorch's ``F.channel_shuffle``): the C channels of x
    (N, C, …) read as (groups, C/groups) and transposed, so each group's outputs spread over
    every group of the next layer."""
    if x.ndim < 3 or groups < 1 or x.shape[1] % groups:
        raise ValueError(f"channel_shuffle: number of channels must be divisible by groups, "
                         f"got {x.shape[1] if x.ndim > 1 else None} channels and {groups} "
                         f"groups (input {tuple(x.shape)}, at least 3-D)")
    n, c = x.shape[0], x.shape[1]
    rest = tuple(x.shape[2:])
    return x.reshape((n, groups, c // groups) + rest).transpose(1, 2).reshape((n, c) + rest)


# ------------------------------------------------------------------ spatial transformer
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the old "
                  "behavior is desired. See the documentation of grid_sample for details. "
                  "(PyTorch's warning: pass align_corners=False to silence it)")


def _align(align_corners):
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


def _grid_line(n, align_corners):
    """The n normalised coordinates of a side of n pixels: their centres (−1 + 1/n … 1 −
    1/n), or with ``align_corners`` the corner pixels' centres at ±1 (one pixel: 0)."""
    if n <= 1:
        return np.zeros(max(n, 0))
    line = np.linspace(-1.0, 1.0, n)
    return line if align_corners else line * (n - 1) / n


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of 2-D affine maps (PyTorch's ``F.affine_grid``, the spatial
    transformer's): theta (N, 2, 3), size (N, C, H, W) → grid (N, H, W, 2) where
    grid[n, h, w] = theta[n] · (x_w, y_h, 1) and (x_w, y_h) are the output pixel's
    normalised coordinates in [−1, 1] (``align_corners`` as ``grid_sample``). Differentiable
    in theta."""
    op = "affine_grid"
    align_corners = _align(align_corners)
    size = tuple(int(v) for v in size)
    if len(size) != 4:
        raise ValueError(f"{op}: size must be (N, C, H, W) for 2-D grids, got {size} (3-D, "
                         f"5-D sizes, are not supported in stepgrad)")
    if not isinstance(theta, engine.Tensor) or theta.dtype.kind != "f":
        raise TypeError(f"{op}: theta must be a float Tensor (N, 2, 3)")
    N, _, H, W = size
    if tuple(theta.shape) != (N, 2, 3):
        raise ValueError(f"{op}: expected theta of shape ({N}, 2, 3) for size {size}, got "
                         f"{tuple(theta.shape)}")
    if align_corners and min(H, W) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details. "
                      "(PyTorch's warning: a side of one pixel is at coordinate 0)",
                      UserWarning, stacklevel=2)
    xs, ys = _grid_line(W, align_corners), _grid_line(H, align_corners)
    base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((1, 1))), -1)
    base = engine.tensor(base.reshape(1, H * W, 3), dtype=theta.dtype)
    return (base @ theta.transpose(1, 2)).reshape(N, H, W, 2)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """input (N, C, H, W) read at the points of ``grid`` (N, Ho, Wo, 2) → (N, C, Ho, Wo),
    PyTorch's ``F.grid_sample``. grid[n, i, j] = (x, y) in normalised coordinates: −1 and 1
    are the centres of the edge pixels with ``align_corners=True``, the outer edges of the
    edge pixels otherwise (PyTorch's default, warned about when left out, as there).

    ``mode``: 'bilinear' (the four neighbours weighted by their distances; differentiable in
    input and grid) or 'nearest' (rounded half to even; no gradient for the grid).
    ``padding_mode``: 'zeros' (points outside read 0) or 'border' (clamped to the edge;
    no gradient for the grid where clamped). Built from indexing and arithmetic ops."""
    op = "grid_sample"
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"{op}: mode must be 'bilinear' or 'nearest', got {mode!r}")
    if mode == "bicubic" or padding_mode == "reflection":
        raise NotImplementedError(f"{op}: mode='bicubic' and padding_mode='reflection' are not "
                                  f"supported in stepgrad (got {mode!r}, {padding_mode!r})")
    if padding_mode not in ("zeros", "border"):
        raise ValueError(f"{op}: padding_mode must be 'zeros', 'border' or 'reflection', got "
                         f"{padding_mode!r}")
    align_corners = _align(align_corners)
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or \
            grid.shape[0] != input.shape[0]:
        raise ValueError(f"{op}: expected input (N, C, H, W) and grid (N, Ho, Wo, 2) with the "
                         f"same N, got {tuple(input.shape)} and {tuple(grid.shape)} (5-D "
                         f"input is not supported in stepgrad)")
    if input.dtype != grid.dtype:
        raise TypeError(f"{op}: input ({input.dtype}) and grid ({grid.dtype}) must have the "
                        f"same dtype")
    N, C, H, W = input.shape

    def unnormalize(coord, size):
        if align_corners:
            return (coord + 1) * ((size - 1) / 2)
        return ((coord + 1) * size - 1) / 2

    ix, iy = unnormalize(grid[..., 0], W), unnormalize(grid[..., 1], H)  # (N, Ho, Wo)
    if padding_mode == "border":
        ix, iy = ix.clamp(0, W - 1), iy.clamp(0, H - 1)
    pixels = input.permute(0, 2, 3, 1)  # (N, H, W, C): a gather gives (N, Ho, Wo, C)
    batch = np.arange(N)[:, None, None]

    def at(xi, yi):
        """input at integer points (N, Ho, Wo) as (N, Ho, Wo, C); 0 outside the image."""
        inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
        picked = pixels[batch, np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)]
        return picked * engine.tensor(inside[..., None], dtype=input.dtype)

    def whole(t):  # integer coordinates; NaN and ±inf land outside the image
        v = np.nan_to_num(t, nan=-2.0, posinf=W + H + 2.0, neginf=-2.0)
        return np.clip(v, -2, W + H + 2).astype(np.int64)

    if mode == "nearest":
        out = at(whole(np.rint(ix.data)), whole(np.rint(iy.data)))
    else:
        x0, y0 = np.floor(ix.data), np.floor(iy.data)
        ex, ey = ix - x0.astype(ix.dtype), iy - y0.astype(iy.dtype)  # in [0, 1): to the far
        fx, fy = 1 - ex, 1 - ey                                      # neighbour's weight
        x0, y0 = whole(x0), whole(y0)
        out = (at(x0, y0) * (fx * fy)[..., None] + at(x0 + 1, y0) * (ex * fy)[..., None]
               + at(x0, y0 + 1) * (fx * ey)[..., None] + at(x0 + 1, y0 + 1) * (ex * ey)[..., None])
    return out.permute(0, 3, 1, 2)


def dropout(x, p=0.5, training=True, inplace=False):
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1 − p),
    so the expected activation is unchanged and evaluation needs no rescaling
    (``inplace=True``: written into x while training, as PyTorch's)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    return _in_place("dropout", x, inplace, lambda t: _drop(t, p, t.shape))


def _drop(x, p, mask_shape):
    """x times a kept-with-probability-(1 − p) mask of ``mask_shape`` (broadcast over x),
    scaled by 1/(1 − p): dropout's and dropout2d's one masking step. p = 1 drops everything:
    x·0 (PyTorch's), zeros with a zero gradient."""
    if p == 1:
        return x * 0.0
    keep = engine.get_rng().random(mask_shape) >= p
    return x * engine.from_numpy((keep / (1 - p)).astype(x.dtype))


def dropout1d(x, p=0.5, training=True, inplace=False):
    """Channel dropout of (N, C, L) or (C, L) input: zero each whole channel (a row of L
    values) with probability p, scale the rest by 1/(1 − p) (PyTorch's ``dropout1d``)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout1d: p must be in [0, 1], got {p}")
    if x.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected (N, C, L) or (C, L) input, got shape {x.shape}")
    if not training or p == 0:
        return x
    return _in_place("dropout1d", x, inplace, lambda t: _drop(t, p, t.shape[:-1] + (1,)))


_DROPOUT2D_3D = ("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                 "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                 "where C is the channel dim. This behavior will change in a future release to "
                 "interpret the input as one without a batch dimension, i.e. shape (C, H, W). "
                 "To maintain the 1D channel-wise dropout behavior, please switch to using "
                 "dropout1d instead.")  # PyTorch 2.13's words


def dropout2d(x, p=0.5, training=True, inplace=False):
    """Channel dropout of (N, C, H, W): zero each whole (n, c) plane with probability p,
    scale the rest by 1/(1 − p) (PyTorch's ``dropout2d``).

    3-D input is read as PyTorch reads it: (N, C, L), dropping whole (n, c) rows, with
    PyTorch's warning (not as an unbatched (C, H, W)); for that use ``dropout1d``, or add
    the batch dim: ``dropout2d(x.unsqueeze(0)).squeeze(0)``."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    if x.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected (N, C, H, W) input (or (N, C, L), PyTorch's "
                         f"reading of 3-D input), got shape {x.shape}")
    if x.ndim == 3:
        warnings.warn(_DROPOUT2D_3D, UserWarning, stacklevel=2)
    if not training or p == 0:
        return x
    return _in_place("dropout2d", x, inplace,
                    lambda t: _drop(t, p, t.shape[:2] + (1,) * (t.ndim - 2)))


def dropout3d(x, p=0.5, training=True, inplace=False):
    """Channel dropout of (N, C, D, H, W) or unbatched (C, D, H, W): zero each whole channel
    with probability p, scale the rest by 1/(1 − p) (PyTorch's ``dropout3d``)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout3d: p must be in [0, 1], got {p}")
    if x.ndim not in (4, 5):
        raise ValueError(f"dropout3d: expected (N, C, D, H, W) or (C, D, H, W) input, got "
                         f"shape {x.shape}")
    if not training or p == 0:
        return x
    return _in_place("dropout3d", x, inplace, lambda t: _drop(t, p, t.shape[:-3] + (1, 1, 1)))


#: SELU's negative saturation, −λ·α (PyTorch's alpha_dropout constant).
_SELU_SATURATION = 1.7580993408473766


def alpha_dropout(x, p=0.5, training=False, inplace=False):
    """PyTorch's ``alpha_dropout`` (self-normalising networks): while training each element
    is kept with probability 1 − p, a dropped one becomes −α' (α' = λ·α of SELU, 1.7581),
    then ``a·(·) + b`` restores zero mean and unit variance for standard-normal input:
    a = ((1 − p)(1 + p·α'²))^(−1/2), b = a·α'·p. Evaluation: x unchanged."""
    if not 0 <= p <= 1:
        raise ValueError(f"alpha_dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return _in_place("alpha_dropout", x, inplace, lambda t: t * 0.0)
    alpha = _SELU_SATURATION
    a = 1.0 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    keep = (engine.get_rng().random(x.shape) >= p).astype(x.dtype)
    # PyTorch's arithmetic: x·(keep·a) + ((keep − 1)·α·a + α·a·p)
    scale = engine.from_numpy((keep * a).astype(x.dtype))
    shift = engine.from_numpy(((keep - 1) * (alpha * a) + alpha * a * p).astype(x.dtype))
    return _in_place("alpha_dropout", x, inplace, lambda t: t * scale + shift)


def normalized_shape_tuple(who, normalized_shape) -> tuple:
    """LayerNorm's ``normalized_shape`` as a tuple of ints: an int (numpy's too, as PyTorch
    takes any integral number) is a 1-tuple; a list, tuple or Size is read as it is."""
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape,
                                                                          bool):
        return (int(normalized_shape),)
    try:
        shape = tuple(int(d) if isinstance(d, (int, np.integer)) else d
                      for d in normalized_shape)
    except TypeError:
        shape = None
    if shape is None or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise TypeError(f"{who}: normalized_shape must be an int or a sequence of ints (the "
                        f"input's last dims), got {normalized_shape!r}")
    return shape


def check_norm_args(who, x, running_mean, running_var, weight, bias, min_ndim=2):
    """The per-channel arguments of ``batch_norm`` and ``instance_norm``: x has channels in
    dim 1 (at least ``min_ndim`` dims), each given tensor (or numpy array) has shape (C,),
    and the running statistics are buffers: one requiring grad is refused, as it is most
    likely a weight passed in PyTorch's positional order (input, running_mean, running_var,
    weight, bias), which the in-place update would overwrite."""
    if x.ndim < min_ndim:
        raise ValueError(f"{who}: expected input of at least {min_ndim} dims (N, C, …), channels "
                         f"in dim 1, got shape {x.shape}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        shape = None if t is None else tuple(np.shape(t.data if isinstance(t, Tensor) else t))
        if shape is not None and shape != (c,):
            raise ValueError(f"{who}: {name} must have one entry per channel, shape ({c},), "
                             f"got {shape} for input of shape {x.shape}")
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if getattr(t, "requires_grad", False):
            raise ValueError(f"{who}: {name} requires grad: running statistics are buffers "
                             f"(updated in place), not parameters. The signature is PyTorch's "
                             f"(input, running_mean, running_var, weight, bias, ...): pass "
                             f"weight= and bias= by name")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """PyTorch's ``F.batch_norm``: x (N, C, …) normalised per channel C, then
    ``· weight[c] + bias[c]``. ``training=True`` uses the batch's statistics over N and the
    spatial dims (biased variance) and, when the running tensors (C,) are given, moves them
    in place: ``r ← (1 − momentum)·r + momentum·batch`` (the variance unbiased, ×n/(n − 1));
    ``training=False`` uses the running statistics. Differentiable in x, weight and bias."""
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: training=False normalises with running_mean and "
                         "running_var, which are None: pass them, or training=True for the "
                         "batch's statistics")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating)):
        raise TypeError(f"batch_norm: momentum must be a number (the new batch's weight), got "
                        f"{momentum!r}")
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"batch_norm: {name} must be a Tensor (updated in place), got "
                            f"{type(t).__name__}: engine.tensor(...)")
    check_norm_args("batch_norm", input, running_mean, running_var, weight, bias)
    update = momentum if training and running_mean is not None else None
    return normalize_batch("batch_norm", input, running_mean, running_var, weight, bias,
                           training, update, eps)


def normalize_batch(who, x, running_mean, running_var, weight, bias, use_batch, update, eps,
                    unbiased_running=True):
    """Batch norm's one computation (``F.batch_norm`` and the BatchNorm layers call it):
    with ``use_batch`` the batch's mean and biased variance per channel (dim 1), and, when
    ``update`` (a factor m, or a function giving it, called once the batch is found good:
    the layers count their batches in it) is given, the running tensors moved toward them
    in place
    (``r ← (1 − m)·r + m·batch``, the variance ×n/(n − 1) when ``unbiased_running``, PyTorch's;
    Keras takes it as it is); else the running statistics. Then (x − mean)/√(var + eps),
    times weight and plus bias per channel when given."""
    c = x.shape[1]  # (the callers checked the shapes: check_norm_args, the layers' _check)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, c) + (1,) * (x.ndim - 2)
    if use_batch:
        n = x.numel() // c
        if n <= 1:  # the variance of one value is 0: y = β
            raise ValueError(f"{who}: expected more than 1 value per channel when training, "
                             f"got input of shape {x.shape} (use a batch > 1, or model.eval() "
                             f"for single samples)")
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, correction=0)
        if update is not None:
            with engine.no_grad():
                m = update() if callable(update) else update
                if running_mean is not None:
                    batch_var = var.data.reshape(-1) * (n / (n - 1) if unbiased_running else 1)
                    running_mean.copy_((1 - m) * running_mean.data + m * mean.data.reshape(-1))
                    running_var.copy_((1 - m) * running_var.data + m * batch_var)
    else:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    y = (x - mean) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """AlexNet's local response normalisation, PyTorch's ``F.local_response_norm``: x (N, C,
    …) divided by ``(k + α/size · Σ x²)^β``, the sum over the ``size`` channels around each
    channel (``size // 2`` before it, ``(size − 1) // 2`` after, zeros past the edges)."""
    x = input
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected 3-D or higher input (N, C, …), got "
                         f"shape {x.shape}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    c = x.shape[1]
    sq = x * x
    before, after = size // 2, (size - 1) // 2
    pads = [z for z in (engine.zeros(x.shape[0], before, *x.shape[2:], dtype=x.dtype),
                        sq,
                        engine.zeros(x.shape[0], after, *x.shape[2:], dtype=x.dtype))
            if z.shape[1]]
    padded = engine.cat(pads, dim=1)
    window = padded[:, 0:c]
    for j in range(1, size):  # the sliding sum over channels, one shifted slice per tap
        window = window + padded[:, j:j + c]
    return x / (window * (alpha / size) + k) ** beta


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """``(x − mean) / √(var + eps)`` over the last ``len(normalized_shape)`` dims (biased
    variance), then ``· weight + bias`` (PyTorch's ``layer_norm``); differentiable."""
    shape = normalized_shape_tuple("layer_norm", normalized_shape)
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the last dims of the "
                         f"input, got shape {x.shape}")
    dims = tuple(range(x.ndim - k, x.ndim))
    centred = x - x.mean(dims, keepdim=True)
    y = centred / ((centred * centred).mean(dims, keepdim=True) + eps).sqrt()
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """``x / √(mean(x²) + eps)`` over the last ``len(normalized_shape)`` dims, then
    ``· weight`` (PyTorch's ``F.rms_norm``, Zhang & Sennrich 2019); ``eps=None`` is the
    input dtype's machine epsilon, as PyTorch's. Differentiable."""
    shape = normalized_shape_tuple("rms_norm", normalized_shape)
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"rms_norm: normalized_shape {shape} must be the last dims of the "
                         f"input, got shape {x.shape}")
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    dims = tuple(range(x.ndim - k, x.ndim))
    y = x / ((x * x).mean(dims, keepdim=True) + eps).sqrt()
    return y if weight is None else y * weight


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample's channels in ``num_groups`` groups (PyTorch's ``group_norm``):
    x (N, C, …) read as (N, G, C/G·…), ``(x − mean) / √(var + eps)`` per (sample, group)
    with the biased variance, then ``· weight[c] + bias[c]`` per channel; differentiable."""
    if x.ndim < 2 or num_groups < 1 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} must divide the channels (dim 1) "
                         f"of the input, got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    y = layer_norm(x.reshape(n, num_groups, -1), (int(np.prod(x.shape[1:])) // num_groups,),
                   eps=eps)
    y = y.reshape(*x.shape)
    per_channel = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    return y if bias is None else y + bias.reshape(per_channel)


def threshold(x, threshold, value, inplace=False):
    """``value`` where x ≤ ``threshold``, else x (PyTorch's ``F.threshold``; gradient 0 where
    replaced, 1 where kept). A NaN is kept, as in PyTorch (NaN ≤ t is false).

    >>> threshold(engine.tensor([-1.0, 0.5, 2.0]), 0.5, 9.0).tolist()
    [9.0, 9.0, 2.0]"""
    return _in_place("threshold", x, inplace, lambda t: engine.where(
        ~(t.data <= threshold), t, np.asarray(value, t.dtype)))


_threshold = threshold  # (threshold_'s argument of the same name hides the function)


def threshold_(x, threshold, value): return _threshold(x, threshold, value, inplace=True)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalisation of x (N, C, …), PyTorch's ``F.instance_norm`` (same signature:
    the running statistics come before weight and bias).

    ``use_input_stats=True`` (the default): each (sample, channel) plane by its own mean μ
    and biased variance σ² over the spatial dims, ``y = (x − μ) / √(σ² + eps)``. If the
    running statistics (C,) are given they are also updated in place, as PyTorch does:
    ``r_mean ← (1 − momentum)·r_mean + momentum·mean_n μ``, the same for ``r_var`` with the
    unbiased σ² (× L/(L − 1), L the spatial size).
    ``use_input_stats=False``: the running statistics instead,
    ``y = (x − r_mean[c]) / √(r_var[c] + eps)``.
    Then ``y·weight[c] + bias[c]`` (weight, bias (C,)). Differentiable in x, weight, bias."""
    x = input
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected (N, C, L), (N, C, H, W) or (N, C, D, H, W) "
                         f"input, got shape {x.shape}")
    if (running_mean is None) != (running_var is None):
        raise ValueError("instance_norm: running_mean and running_var must either both be None "
                         "or neither be None")
    check_norm_args("instance_norm", x, running_mean, running_var, weight, bias, min_ndim=3)
    c = x.shape[1]
    per_channel = (1, c) + (1,) * (x.ndim - 2)
    if not use_input_stats:
        if running_mean is None:
            raise ValueError("instance_norm: use_input_stats=False normalises with the running "
                             "statistics: give running_mean and running_var")
        rm, rv = _tensors(x, running_mean, running_var)[1:]
        y = (x - rm.reshape(per_channel).astype(x.dtype)) / (
            rv.reshape(per_channel).astype(x.dtype) + eps).sqrt()
    else:
        spatial = int(np.prod(x.shape[2:]))
        if spatial <= 1:
            raise ValueError(f"instance_norm: expected more than 1 spatial element when "
                             f"training, got input size {x.shape}")
        y = group_norm(x, c, eps=eps)
        if running_mean is not None:
            _update_running(x.data, running_mean, running_var, momentum)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    return y if bias is None else y + bias.reshape(per_channel)


def _update_running(x, running_mean, running_var, momentum):
    """instance_norm's in-place update of the running statistics (Tensors or arrays) from
    the per-(sample, channel) means and unbiased variances of x (N, C, …), averaged over N."""
    planes = x.reshape(x.shape[0], x.shape[1], -1)
    mean = planes.mean(axis=(0, 2))
    var = planes.var(axis=2, ddof=1).mean(axis=0)
    for buf, batch in ((running_mean, mean), (running_var, var)):
        old = buf.data if isinstance(buf, Tensor) else buf
        if not isinstance(old, np.ndarray):
            raise TypeError(f"instance_norm: the running statistics are updated in place: give "
                            f"Tensors (or numpy arrays), got {type(buf).__name__}")
        new = ((1 - momentum) * old + momentum * batch).astype(old.dtype)
        if isinstance(buf, Tensor):
            with no_grad():
                buf.copy_(new)
        else:
            old[...] = new


# ------------------------------------------------------------------------------------ losses
def _target(target, like, name, same_shape=True):
    """The target as a Tensor of ``like``'s float dtype. A float target of another dtype is
    converted when it is a constant; one that requires grad is refused (the conversion
    would cut its gradient)."""
    t = target if isinstance(target, Tensor) else engine.from_numpy(np.asarray(target, like.dtype))
    if t.dtype != like.dtype and t.dtype.kind == "f":
        if t.requires_grad:
            raise TypeError(f"{name}: the target ({t.dtype}, shape {t.shape}) requires grad but "
                            f"the input is {like.dtype}: converting it would leave the target "
                            f"without a gradient. Cast one side (.float() or .double()) so "
                            f"both have the same dtype")
        t = engine.from_numpy(t.data.astype(like.dtype))
    if same_shape and t.shape != like.shape:
        raise ValueError(f"{name}: prediction shape {like.shape} and target shape {t.shape} "
                         f"differ (reshape one: silent broadcasting would give a wrong loss)")
    return t


def _reduce(loss, reduction, name):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
                     + legacy_hint(reduction))


def legacy_hint(reduction):
    """What to say of a bool or None given as ``reduction``: PyTorch's old positional
    ``size_average`` / ``reduce``, most likely."""
    if reduction is None or isinstance(reduction, bool):
        return (" (PyTorch's old size_average/reduce arguments? pass them by name, "
                "size_average=False, or say reduction='sum', 'mean' or 'none')")
    return ""


def legacy_reduction(who, size_average=None, reduce=None):
    """PyTorch's deprecated ``size_average`` / ``reduce`` as the ``reduction`` they mean (its
    ``_Reduction.legacy_get_string``; None counts as True): reduce=False → 'none', else
    size_average=False → 'sum', else 'mean'. Warned as PyTorch warns."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"{who}: size_average and reduce args will be deprecated, please use "
                  f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    return reduction


def takes_legacy_reduction(fn):
    """``fn`` (a loss, or a loss module's ``__init__``) also takes PyTorch's deprecated
    keywords ``size_average=`` and ``reduce=`` (old tutorials: ``F.binary_cross_entropy(x̂,
    x, size_average=False)``, ``nn.MSELoss(size_average=False)``). Given, they replace
    ``reduction``, as in PyTorch."""
    at = list(inspect.signature(fn).parameters).index("reduction")

    @functools.wraps(fn)
    def call(*args, size_average=None, reduce=None, **kwargs):
        if size_average is None and reduce is None:
            return fn(*args, **kwargs)
        who = type(args[0]).__name__ if fn.__name__ == "__init__" else fn.__name__
        reduction = legacy_reduction(who, size_average, reduce)
        if len(args) > at:
            args = args[:at] + (reduction,) + args[at + 1:]
        else:
            kwargs["reduction"] = reduction
        return fn(*args, **kwargs)
    return call


@takes_legacy_reduction
def mse_loss(pred, target, reduction="mean", weight=None):
    """Mean squared error ``mean((ŷ − y)²)``; ``weight`` as ``_elementwise_weight``."""
    d = pred - _target(target, pred, "mse_loss")
    return _elementwise_weight(d * d, weight, pred, reduction, "mse_loss")


def mae_loss(pred, target, reduction="mean", weight=None):
    """Mean absolute error ``mean(|ŷ − y|)``; ``weight`` as ``_elementwise_weight``."""
    return _elementwise_weight((pred - _target(target, pred, "mae_loss")).abs(), weight, pred,
                               reduction, "mae_loss")


@takes_legacy_reduction
def l1_loss(pred, target, reduction="mean", weight=None):
    """PyTorch's name for the mean absolute error ``mean(|ŷ − y|)``."""
    return mae_loss(pred, target, reduction, weight)


def _elementwise_weight(loss, weight, like, reduction, name, mean_over_weights=True):
    """PyTorch's ``weight=`` of mse_loss, l1_loss and huber_loss: one weight per element, of
    the input's exact shape, ``w·loss``. Their 'mean' differs in PyTorch 2.13 and so here:
    ``Σ w·loss / Σ w`` for mse and l1, the plain mean of ``w·loss`` for huber
    (``mean_over_weights=False``)."""
    if weight is None:
        return _reduce(loss, reduction, name)
    w = weight if isinstance(weight, Tensor) else engine.from_numpy(np.asarray(weight,
                                                                               like.dtype))
    if w.shape != like.shape:
        raise ValueError(f"{name}: weight of shape {w.shape} must have the input's shape "
                         f"{like.shape} (PyTorch's rule: no broadcasting)")
    loss = loss * w
    if reduction == "mean" and mean_over_weights:
        return loss.sum() / w.sum()
    return _reduce(loss, reduction, name)


def _like_input(t, like, name, what):
    """``t`` (a Tensor or array; None passes) as a Tensor that broadcasts to ``like``'s shape
    without changing it, PyTorch's rule for a loss's weight, pos_weight and broadcast target:
    a (N,) weight against (N, 1) input would make an (N, N) loss, so it is refused."""
    if t is None:
        return None
    t = t if isinstance(t, Tensor) else engine.from_numpy(np.asarray(t, like.dtype))
    try:
        shape = np.broadcast_shapes(t.shape, like.shape)
    except ValueError:
        shape = None
    if shape != like.shape:
        to = f" (it would make the loss {shape})" if shape is not None else ""
        raise ValueError(f"{name}: {what} of shape {t.shape} does not broadcast to the input's "
                         f"shape {like.shape}{to}: reshape it")
    return t


def _weighted(loss, weight, like, name):
    """``loss · weight``, the weight broadcast to the input's (``like``'s) shape."""
    w = _like_input(weight, like, name, "weight")
    return loss if w is None else loss * w


@takes_legacy_reduction
def binary_cross_entropy(prob, target, weight=None, reduction="mean"):
    """``−w·[y·max(ln p, −100) + (1 − y)·max(ln(1 − p), −100)]`` on probabilities p,
    PyTorch's clamped form (one op, engine/ops/losses.py): p = 0 or 1 gives a loss of at
    most 100 and the gradient ``(p − y)/max(p(1 − p), 1e-12)``, as PyTorch.

    p and y have the same shape, values in [0, 1] (NaN refused: logits belong to
    ``binary_cross_entropy_with_logits``); ``weight`` broadcasts to p's shape without
    changing it. (Keras's clip of p to [1e-7, 1 − 1e-7] is not this function's.)"""
    y = _target(target, prob, "binary_cross_entropy")
    loss = BinaryCrossEntropy.apply(prob, y)
    return _reduce(_weighted(loss, weight, prob, "binary_cross_entropy"), reduction,
                   "binary_cross_entropy")


@takes_legacy_reduction
def binary_cross_entropy_with_logits(logits, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """BCE on logits x, exact and stable (PyTorch's formula):
    ``(1 − y)·x + (1 + (pos_weight − 1)·y) · softplus(−x)``, times ``weight``.

    ``pos_weight`` scales the positive term (> 1 raises recall, < 1 precision): one per
    class, (C,), broadcast along the last dim. ``weight`` and ``pos_weight`` must broadcast
    to x's shape without changing it (PyTorch's rule: a (N,) against (N, 1) input is
    refused)."""
    name = "binary_cross_entropy_with_logits"
    y = _target(target, logits, name)
    pw = _like_input(pos_weight, logits, name, "pos_weight")
    soft = (-logits).softplus(threshold=float("inf"))  # ln(1 + e^(−x)), exact, no overflow
    if pw is None:
        loss = (1 - y) * logits + soft
    else:
        loss = (1 - y) * logits + (1 + (pw - 1) * y) * soft
    return _reduce(_weighted(loss, weight, logits, name), reduction, name)


def _labels(target, shape, classes, name, ignore_index=None):
    """Integer class labels of ``shape`` (integer-valued floats accepted), each in
    [0, classes) or equal to ``ignore_index``."""
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            raise ValueError(f"{name}: integer class labels expected, got non-integer floats")
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}: class labels must be integers, got {labels.dtype}")
    if labels.shape != tuple(shape):
        raise ValueError(f"{name}: labels of shape {labels.shape} do not match the input: "
                         f"expected shape {tuple(shape)} (the input's shape without the class "
                         f"dim)")
    bad = ((labels < 0) | (labels >= classes)) & (labels != ignore_index)
    if bad.any():
        raise ValueError(f"{name}: label {labels[bad][0]} out of range for {classes} classes"
                         + (f" (and not ignore_index={ignore_index})"
                            if ignore_index is not None else ""))
    return labels


def _ignore_index(value, name, nth="4th"):
    """``ignore_index`` checked to be an int, as PyTorch's signature checks it: ``False`` (what
    ``F.nll_loss(x, y, None, False)`` puts there, meaning PyTorch's legacy 4th argument
    size_average; the 2nd of ``nn.NLLLoss``) would otherwise silently ignore every label 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: ignore_index must be an int, got {value!r}. (PyTorch's {nth} "
                        f"positional argument is the deprecated size_average: pass options by "
                        f"name, e.g. reduction='sum')")
    return int(value)


def _legacy_slot(value, name, what, nth, legacy="size_average"):
    """A float option checked not to be a bool or None: PyTorch's ``nth`` positional argument
    is the deprecated ``legacy`` (size_average=False there means a sum), which in stepgrad's
    signature lands in ``what`` and would be read silently as the number 0 or 1."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise TypeError(f"{name}: {what} must be a number, got {value!r}. (PyTorch's {nth} "
                        f"positional argument is the deprecated {legacy}: pass options by "
                        f"name, e.g. reduction='sum')")
    return value


def _class_layout(x, name):
    """(class dim, number of classes, shape of one label per position): input (C,), (N, C)
    or (N, C, d1, …) as PyTorch."""
    if x.ndim == 0:
        raise ValueError(f"{name}: the input needs a class dim: (C,), (N, C) or "
                         f"(N, C, d1, ...), got a 0-d tensor")
    cdim = 0 if x.ndim == 1 else 1
    return cdim, x.shape[cdim], x.shape[:cdim] + x.shape[cdim + 1:]


def _class_weight(weight, c, like, name):
    if weight is None:
        return None
    w = weight if isinstance(weight, Tensor) else engine.from_numpy(np.asarray(weight,
                                                                                  like.dtype))
    if w.shape != (c,):
        raise ValueError(f"{name}: weight must have one entry per class, shape ({c},), got "
                         f"{w.shape}")
    return w


@takes_legacy_reduction
def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood ``−w[y]·log p[y]`` of log-probabilities, as PyTorch: input
    (C,), (N, C) or (N, C, d1, …), integer labels of the input's shape without C.

    Labels equal to ``ignore_index`` add nothing; 'mean' divides by the summed weights of
    the labels that count (their number without ``weight``)."""
    ignore_index = _ignore_index(ignore_index, "nll_loss")
    cdim, c, lshape = _class_layout(log_probs, "nll_loss")
    labels = _labels(target, lshape, c, "nll_loss", ignore_index)
    w = _class_weight(weight, c, log_probs, "nll_loss")
    return _nll(log_probs, labels, w, ignore_index, reduction, cdim)


def _nll(log_probs, labels, w, ignore_index, reduction, cdim):
    """nll_loss on validated labels and weights."""
    keep = np.asarray(labels != ignore_index)
    if w is None and reduction in ("mean", "sum") and keep.all() and keep.size:
        # Every label counts, no weights (a training step's usual loss): the same sums in
        # three ops instead of eight, with the same bits (the count is exact; −Σp = Σ(−p)).
        total = log_probs.gather(cdim, np.expand_dims(labels, cdim)).sum()
        return total / -keep.size if reduction == "mean" else -total
    safe = np.where(keep, labels, 0)
    picked = log_probs.gather(cdim, np.expand_dims(safe, cdim)).squeeze(cdim)
    if w is None:
        wy = engine.from_numpy(np.asarray(keep, log_probs.dtype))
    else:
        wy = w[safe] * engine.from_numpy(np.asarray(keep, log_probs.dtype))
    loss = -picked * wy
    if reduction == "mean":
        return _weighted_mean(loss, wy, keep)
    return _reduce(loss, reduction, "nll_loss")


def _weighted_mean(loss, wy, keep):
    """``Σ loss / Σ wy``: 'mean' of nll_loss and cross_entropy, ``wy`` each position's class
    weight (0 where the label is ignored, ``keep`` False). When the weights sum to 0 (every
    label ignored, or only classes of weight 0) it is PyTorch's 0/0: the loss is NaN, and its
    gradient is NaN where a label counts but 0 where it is ignored, so a batch whose labels
    are all ``ignore_index`` leaves the parameters alone (÷ 0 would make every gradient NaN)."""
    total = wy.sum()
    if total.data != 0:
        return loss.sum() / total
    nan_where_kept = engine.from_numpy(np.where(keep, np.nan, 0.0).astype(loss.dtype))
    return (loss * nan_where_kept).sum() + float("nan")


@takes_legacy_reduction
def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy of logits (log-sum-exp, stable), as PyTorch: input (C,),
    (N, C) or (N, C, d1, …).

    ``target`` is integer labels (the input's shape without C) or class probabilities /
    one-hot rows (the input's shape): ``−Σ_c w_c·y_c·log_softmax(x)_c``. ``weight`` weighs
    the classes, ``ignore_index`` skips labels, ``label_smoothing`` ε mixes the target with
    the uniform distribution: (1 − ε)·y + ε/C."""
    # ignore_index first: where PyTorch's positional size_average landed, it says so.
    ignore_index = _ignore_index(ignore_index, "cross_entropy")
    if not 0.0 <= _legacy_slot(label_smoothing, "cross_entropy", "label_smoothing", "6th",
                               "reduce") <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    cdim, c, lshape = _class_layout(logits, "cross_entropy")
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    w = _class_weight(weight, c, logits, "cross_entropy")
    if t.shape != logits.shape:
        labels = _labels(t, lshape, c, "cross_entropy", ignore_index)
        if (w is None and not label_smoothing and reduction in ("mean", "sum") and labels.size
                and (labels != ignore_index).all()):
            # A training step's usual loss: one op (engine/ops/neural.py) for the four below.
            return CrossEntropy.apply(logits, labels=labels, reduction=reduction)
    logp = logits.log_softmax(axis=cdim)
    wshape = (c,) + (1,) * (logits.ndim - cdim - 1)
    if t.shape == logits.shape:  # probabilities
        if t.dtype.kind not in "f":
            raise TypeError(
                f"cross_entropy: a target of the input's shape {logits.shape} holds class "
                f"probabilities and must be floating point, got {t.dtype} (PyTorch refuses it "
                f"too). Integer class labels have the input's shape without the class dim: "
                f"logits (N, C) with labels (N,); one logit per sample is "
                f"binary_cross_entropy_with_logits; one-hot rows: pass target.float()")
        y = _target(target, logits, "cross_entropy")
        if label_smoothing:
            y = y * (1 - label_smoothing) + label_smoothing / c
        terms = logp * y if w is None else logp * y * w.reshape(wshape)
        loss = -terms.sum(axis=cdim)
        if reduction == "mean":  # over the positions (N·d1·…), never the weights
            return loss.sum() / int(np.prod(lshape))
        return _reduce(loss, reduction, "cross_entropy")
    nll = _nll(logp, labels, w, ignore_index, reduction, cdim)
    if not label_smoothing:
        return nll
    kept = labels != ignore_index
    keep = engine.from_numpy(np.asarray(kept, logits.dtype))
    smooth = -(logp if w is None else logp * w.reshape(wshape)).sum(axis=cdim) * keep
    if reduction == "mean":
        wy = keep if w is None else w[np.where(kept, labels, 0)] * keep
        smooth = _weighted_mean(smooth, wy, kept)
    else:
        smooth = _reduce(smooth, reduction, "cross_entropy")
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / c)


@takes_legacy_reduction
def smooth_l1_loss(pred, target, reduction="mean", beta=1.0):
    """``½d²/β`` where d = |ŷ − y| < β, else ``d − ½β`` (β = 0: the L1 loss)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = (pred - _target(target, pred, "smooth_l1_loss")).abs()
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    small = d.data < beta
    return _reduce(engine.where(small, d * d * (0.5 / beta), d - 0.5 * beta), reduction,
                   "smooth_l1_loss")


def huber_loss(pred, target, reduction="mean", delta=1.0, weight=None):
    """``½d²`` where d = |ŷ − y| < δ, else ``δ(d − ½δ)`` (= δ · smooth_l1 with β = δ);
    ``weight`` as ``_elementwise_weight`` ('mean': the mean of ``w·loss``, as PyTorch)."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = (pred - _target(target, pred, "huber_loss")).abs()
    small = d.data < delta
    return _elementwise_weight(engine.where(small, d * d * 0.5, (d - 0.5 * delta) * delta),
                               weight, pred, reduction, "huber_loss", mean_over_weights=False)


_KL_DIV_MEAN = ("kl_div: reduction: 'mean' divides the total loss by both the batch size and "
                "the support size.'batchmean' divides only by the batch size, and aligns with "
                "the KL div math definition.'mean' will be changed to behave the same as "
                "'batchmean' in the next major release.")  # PyTorch 2.13's words


@takes_legacy_reduction
def kl_div(input, target, reduction="mean", log_target=False):
    """KL divergence with ``input`` = log-probabilities: pointwise ``y·(ln y − x)`` (0 where
    y = 0), or ``e^y·(y − x)`` with ``log_target=True``. ``reduction='batchmean'`` divides
    the sum by the batch size (the true KL per sample); 'mean' by the element count, as
    PyTorch, with PyTorch's warning (that mean is C times smaller than the KL per sample)."""
    if reduction == "mean":
        # 3: past takes_legacy_reduction's frame, at kl_div's caller
        warnings.warn(_KL_DIV_MEAN, UserWarning, stacklevel=3)
    y = _target(target, input, "kl_div")
    if log_target:
        loss = y.exp() * (y - input)
    else:
        pos = y.data > 0  # y·ln y → 0 as y → 0; log of 1 there keeps its gradient finite
        loss = engine.where(pos, y * engine.where(pos, y, 1.0).log(), 0.0) - y * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"kl_div: reduction must be 'batchmean', 'mean', 'sum' or 'none', "
                         f"got {reduction!r}" + legacy_hint(reduction))
    return _reduce(loss, reduction, "kl_div")


@takes_legacy_reduction
def cosine_embedding_loss(x1, x2, target, margin=0.0, reduction="mean"):
    """``1 − cos(x1, x2)`` for y = 1, ``max(0, cos − margin)`` for y = −1 (rows of (N, D)
    inputs, or two vectors), cos with PyTorch's ε = 1e-12 inside the norms."""
    x1, x2 = _tensors(x1, x2)
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if not np.isin(y, (-1, 1)).all():
        raise ValueError("cosine_embedding_loss: targets must be 1 or −1")
    dim = 1 if x1.ndim == 2 else 0
    if x1.shape != x2.shape or x1.ndim not in (1, 2) or y.shape != x1.shape[:dim]:
        raise ValueError(f"cosine_embedding_loss: inputs of shapes {x1.shape}, {x2.shape} and "
                         f"target {y.shape}: expected (N, D), (N, D), (N) or (D), (D), ()")
    cos = (x1 * x2).sum(axis=dim) / (((x1 * x1).sum(axis=dim) + 1e-12)
                                     * ((x2 * x2).sum(axis=dim) + 1e-12)).sqrt()
    loss = (engine.where(y == 1, 1 - cos, 0.0)
            + engine.where(y == -1, (cos - margin).clamp(min=0), 0.0))
    return _reduce(loss, reduction, "cosine_embedding_loss")


def _pm_one(target, like, name, broadcast=True):
    """Labels y ∈ {−1, +1} as a tensor of ``like``'s dtype (refused otherwise); with
    ``broadcast``, y must broadcast to ``like``'s shape without changing it."""
    y = _target(target, like, name, same_shape=False)
    if not np.isin(y.data, (-1, 1)).all():
        raise ValueError(f"{name}: targets must be 1 or −1")
    return _like_input(y, like, name, "target") if broadcast else y


@takes_legacy_reduction
def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """``max(0, −y·(x1 − x2) + margin)``: y = 1 wants x1 ranked above x2, y = −1 below.

    As PyTorch, x1, x2 and y must have the same number of dims (then they broadcast): an
    (N, 1) input against (N,) targets is refused, not broadcast to an (N, N) loss."""
    name = "margin_ranking_loss"
    x1, x2 = _tensors(input1, input2)
    y = _pm_one(target, x1, name, broadcast=False)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(f"{name}: input1 {x1.shape}, input2 {x2.shape} and target {y.shape} "
                         f"must have the same number of dims (as PyTorch): reshape them")
    loss = (-y * (x1 - x2) + margin).clamp(min=0)
    return _reduce(loss, reduction, name)


@takes_legacy_reduction
def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """``x`` where y = 1, ``max(0, margin − x)`` where y = −1 (x a distance). The target
    broadcasts to x's shape without changing it (PyTorch would broadcast an (N,) target
    against (N, 1) input to an (N, N) loss: refused here)."""
    y = _pm_one(target, input, "hinge_embedding_loss")
    loss = (engine.where(y.data == 1, input, 0.0)
            + engine.where(y.data == -1, (margin - input).clamp(min=0), 0.0))
    return _reduce(loss, reduction, "hinge_embedding_loss")


@takes_legacy_reduction
def soft_margin_loss(input, target, reduction="mean"):
    """``log(1 + e^(−y·x))`` (softplus, stable) for y ∈ {−1, +1}; y broadcasts to x's shape
    without changing it (PyTorch's rule: an (N,) target against (N, 1) input is refused)."""
    y = _pm_one(target, input, "soft_margin_loss")
    return _reduce((-y * input).softplus(threshold=float("inf")), reduction,
                   "soft_margin_loss")


@takes_legacy_reduction
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """The multi-class hinge (SVM) loss, PyTorch's ``F.multi_margin_loss``: per sample
    ``(1/C)·Σ_{i≠y} w_y·max(0, margin − x_y + x_i)^p`` with p = 1 or 2; input (N, C) or (C,),
    integer labels (N,) or (), ``weight`` (C,) per class (that of the sample's label)."""
    name = "multi_margin_loss"
    if p not in (1, 2):
        raise ValueError(f"{name}: p must be 1 or 2, got {p!r}")
    if input.ndim not in (1, 2):
        raise ValueError(f"{name}: expected (N, C) or (C,) input, got shape {input.shape}")
    c = input.shape[-1]
    labels = _labels(target, input.shape[:-1], c, name)
    at = np.expand_dims(labels, -1)
    z = (margin - input.gather(-1, at) + input).clamp(min=0)
    others = engine.from_numpy((np.arange(c) != at).astype(input.dtype))  # i ≠ y only
    loss = ((z if p == 1 else z * z) * others).sum(dim=-1) / c
    w = _class_weight(weight, c, input, name)
    return _reduce(loss if w is None else loss * w[labels], reduction, name)


@takes_legacy_reduction
def multilabel_margin_loss(input, target, reduction="mean"):
    """PyTorch's ``F.multilabel_margin_loss``: per sample
    ``(1/C)·Σ_{j ∈ Y} Σ_{i ∉ Y} max(0, 1 − (x_j − x_i))``, the set Y given as class indices in
    the target row (N, C) or (C,), up to the first −1 (the rest is ignored)."""
    name = "multilabel_margin_loss"
    if input.ndim not in (1, 2):
        raise ValueError(f"{name}: expected (N, C) or (C,) input, got shape {input.shape}")
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.shape != input.shape or t.dtype.kind not in "iu":
        raise ValueError(f"{name}: the target must be integer class indices of the input's "
                         f"shape {input.shape} (padded with −1), got {t.dtype} {t.shape}")
    c = input.shape[-1]
    rows = t.reshape(-1, c)
    listed = np.zeros(rows.shape)  # how often each class is listed before the first −1
    for n, row in enumerate(rows):
        end = np.flatnonzero(row == -1)
        for j in row[:end[0] if end.size else c]:
            if not 0 <= j < c:
                raise ValueError(f"{name}: class index {j} out of range for {c} classes")
            listed[n, j] += 1
    pairs = listed[:, :, None] * (listed == 0)[:, None, :]  # (j listed, i not in Y)
    x = input.reshape(-1, c)
    hinge = (1 - x.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)  # [n, j, i]
    loss = (hinge * engine.from_numpy(pairs.astype(input.dtype))).sum(dim=(1, 2)) / c
    return _reduce(loss.reshape(*input.shape[:-1]), reduction, name)


@takes_legacy_reduction
def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """``−mean_c w_c·[y·log σ(x) + (1 − y)·log σ(−x)]`` per sample (x (N, C), y in {0, 1});
    ``weight`` (C,) broadcasts to x's shape without changing it."""
    name = "multilabel_soft_margin_loss"
    y = _target(target, input, name)
    loss = _weighted(-(y * input.logsigmoid() + (1 - y) * (-input).logsigmoid()), weight,
                     input, name)
    return _reduce(loss.mean(dim=-1), reduction, "multilabel_soft_margin_loss")


@takes_legacy_reduction
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        reduction="mean"):
    """``max(d(a, p) − d(a, n) + margin, 0)`` with d the pairwise p-distance (ε added to
    the difference, as ``pairwise_distance``); ``swap``: d(a, n) becomes min(d(a, n),
    d(p, n)) (Balntas et al.)."""
    return _triplet(lambda u, v: pairwise_distance(u, v, p, eps), anchor, positive, negative,
                    margin, swap, reduction, "triplet_margin_loss")


def _triplet(d, anchor, positive, negative, margin, swap, reduction, name):
    """``max(d(a, p) − d(a, n) + margin, 0)``, d(a, n) → min(d(a, n), d(p, n)) with swap."""
    d_ap, d_an = d(anchor, positive), d(anchor, negative)
    if swap:
        d_an = engine.minimum(d_an, d(positive, negative))
    return _reduce((d_ap - d_an + margin).clamp(min=0), reduction, name)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """``max(d(a, p) − d(a, n) + margin, 0)`` with your ``distance_function`` (default
    ``pairwise_distance``; any function of two tensors giving one distance per sample, e.g.
    ``lambda x, y: 1 − F.cosine_similarity(x, y)``); ``swap`` as ``triplet_margin_loss``."""
    if not margin > 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, "
                         f"got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"triplet_margin_with_distance_loss: the anchor, positive and "
                           f"negative tensors must have the same number of dims, got "
                           f"{anchor.ndim}, {positive.ndim} and {negative.ndim}")
    d = pairwise_distance if distance_function is None else distance_function
    return _triplet(d, anchor, positive, negative, margin, swap, reduction,
                    "triplet_margin_with_distance_loss")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """``½(log max(var, ε) + (x − y)² / max(var, ε))`` (+ ½ log 2π with ``full``): the
    negative log-likelihood of y under N(x, var). The clamp of var to ε does not stop its
    gradient (PyTorch clamps a copy without recording it).

    ``var``, PyTorch's rule: a number; the input's shape; the input's shape without the last
    dim (one variance per sample: (N,) for (N, D) input); or the input's shape with one dim
    of size 1 ((N, 1) for (N, D)). Any other shape is refused."""
    y = _target(target, input, "gaussian_nll_loss")
    if not isinstance(var, Tensor) and np.ndim(var) == 0:  # a number: the same everywhere
        var = np.full(input.shape, var)
    v = var if isinstance(var, Tensor) else engine.from_numpy(np.asarray(var, input.dtype))
    if v.shape != input.shape:
        if v.shape == input.shape[:-1]:
            v = v.unsqueeze(-1)
        elif v.ndim != input.ndim or sum(  # PyTorch's test: var differs in one dim, of size 1
                a for a, b in zip(v.shape, input.shape, strict=True) if a != b) != 1:
            raise ValueError(f"gaussian_nll_loss: var of shape {v.shape} does not fit the input "
                             f"of shape {input.shape}: give var the input's shape, its shape "
                             f"without the last dim {input.shape[:-1]}, or its shape with one "
                             f"dim of size 1 (PyTorch's rule)")
        v = v.expand(*input.shape)
    if (v.data < 0).any():
        raise ValueError("gaussian_nll_loss: var has negative entries")
    v = v + engine.from_numpy(np.maximum(v.data, eps) - v.data)  # clamped value, var's grad
    loss = 0.5 * (v.log() + (input - y) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


@takes_legacy_reduction
def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Poisson negative log-likelihood: ``e^x − y·x`` (``log_input``, x = log rate) or
    ``x − y·log(x + ε)``; ``full`` adds Stirling's ``y·log y − y + ½ log(2πy)`` where y > 1.

    x and y (any shape, the same) → a scalar, or x's shape with ``reduction='none'``.

    >>> poisson_nll_loss(engine.tensor([0.0]), engine.tensor([2.0])).item()  # e⁰ − 2·0
    1.0
    """
    # PyTorch's order is (input, target, log_input, full, size_average, eps, ...): refused
    # rather than F.poisson_nll_loss(x, y, True, False, False) taking eps = 0 and the mean.
    eps = _legacy_slot(eps, "poisson_nll_loss", "eps", "5th")
    y = _target(target, input, "poisson_nll_loss")
    loss = input.exp() - y * input if log_input else input - y * (input + eps).log()
    if full:
        # Tensor ops on y, so a target that requires grad gets d/dy = log y + 1/(2y) where
        # y > 1, as PyTorch; y ≤ 1 never reaches the logs (PyTorch's gradient is NaN at y = 0).
        big = y.data > 1
        safe = engine.where(big, y, 2.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * np.pi * safe).log()
        loss = loss + engine.where(big, stirling, 0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


def hinge_loss(pred, target, reduction="mean"):
    """``max(0, 1 − y·ŷ)`` with labels y ∈ {−1, +1}."""
    y = _target(target, pred, "hinge_loss")
    if not np.isin(y.data, (-1, 1)).all():
        raise ValueError("hinge_loss: targets must be −1 or +1")
    return _reduce((1 - y * pred).relu(), reduction, "hinge_loss")


# -------------------------------------------------------------------------------- penalties
def l1_penalty(params):
    """``Σ |θ|`` over all the given parameters (add ``λ·l1_penalty(...)`` to the loss)."""
    terms = [p.abs().sum() for p in params]
    return sum(terms[1:], terms[0]) if terms else Tensor(0.0)


def l2_penalty(params):
    """``Σ θ²`` over all the given parameters (weight decay is ``λ/2 ·`` this)."""
    terms = [(p * p).sum() for p in params]
    return sum(terms[1:], terms[0]) if terms else Tensor(0.0)


# ---------------------------------------------------------------------------------- metrics
def _values(pred, target):
    """Predictions and targets as numpy arrays (Tensors or array-likes): metrics count on
    values, outside any graph."""
    return (np.asarray(pred.data if isinstance(pred, Tensor) else pred),
            np.asarray(target.data if isinstance(target, Tensor) else target))


def _fraction_equal(who, p, t, guess, truth) -> float:
    """``mean(guess == truth)``: the count behind ``accuracy``; ``guess`` and ``truth`` are
    flat, made from the predictions ``p`` and the targets ``t`` (named by their shapes when
    the two disagree in length). (Keras's binary accuracy counts per sample:
    ``nn.training._binary_matches``.)"""
    if guess.shape != truth.shape:
        raise ValueError(f"{who}: {p.shape} predictions but {t.shape} targets")
    return float(np.mean(guess == truth))


@no_grad()
def accuracy(pred, target) -> float:
    """Fraction correct. (N, C) predictions: argmax against labels (N,) or (N, 1), or
    one-hot (N, C); (N,) or (N, 1) probabilities: thresholded at 0.5 against 0/1 targets."""
    p, t = _values(pred, target)
    if p.ndim == 2 and p.shape[1] > 1:
        guess = p.argmax(axis=1)
        # labels (N,) or (N, 1) (Keras's sparse labels), or one-hot rows (N, C)
        if t.ndim == 2 and t.shape[1] > 1 and t.shape[1] != p.shape[1]:
            raise ValueError(f"accuracy: one-hot targets {t.shape} for {p.shape} predictions: "
                             f"the rows must have the same {p.shape[1]} classes")
        truth = t.argmax(axis=1) if t.ndim == 2 and t.shape[1] > 1 else t.reshape(-1)
    else:
        guess = (p.reshape(-1) > 0.5).astype(np.int64)
        truth = t.reshape(-1)
    return _fraction_equal("accuracy", p, t, guess, truth)


def zero_one_loss(pred, target) -> float:
    """``1 − accuracy``: the fraction misclassified."""
    return 1.0 - accuracy(pred, target)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """PyTorch's ``F.scaled_dot_product_attention``: softmax(Q Kᵀ · scale + mask) V, with
    q (…, L, E), k (…, S, E), v (…, S, Ev) → (…, L, Ev); see ``nn.layers.attention``."""
    from .layers.attention import scaled_dot_product_attention as sdpa  # (imports this module)
    return sdpa(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p,
                is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)
