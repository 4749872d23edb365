"""Linear, Keras's Dense (its input size inferred at the first call), Flatten and Embedding."""
from __future__ import annotations

import numpy as np

import engine

from .. import functional as F
from ..module import Module, Parameter
from .init import glorot_uniform, keras_no_reset, refill


class Linear(Module):
    """``y = x Wᵀ + b``: x (..., in_features) → y (..., out_features).

    ``weight`` is (out_features, in_features) as in PyTorch; Glorot-uniform init, zero bias.

    >>> Linear(13, 16).weight.shape
    (16, 13)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), np.float32))
        self.bias = Parameter(np.empty(out_features, np.float32)) if bias else None
        self.reset_parameters()
        if dtype is not None:
            self.to(dtype)

    def reset_parameters(self):
        """Draw the parameters anew, in place (PyTorch's name: k-fold loops call it so that
        each fold starts from fresh weights): Glorot-uniform ``weight``, zero ``bias``."""
        refill(self.weight, glorot_uniform(self.weight.shape, self.in_features,
                                           self.out_features))
        if self.bias is not None:
            refill(self.bias, 0.0)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """``y_k = x1ᵀ·A_k·x2 + b_k`` (PyTorch's ``nn.Bilinear``): x1 (N, in1), x2 (N, in2) →
    (N, out), ``weight`` (out, in1, in2), ``bias`` (out,); initialised uniform in ±1/√in1
    (PyTorch's)."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        self.weight = Parameter(np.zeros((out_features, in1_features, in2_features)))
        self.bias = Parameter(np.zeros(out_features)) if bias else None
        self.reset_parameters()
        if dtype is not None:
            self.to(dtype)

    def reset_parameters(self):
        """Draw ``weight`` and ``bias`` anew, in place: uniform in ±1/√in1 (PyTorch's)."""
        bound = 1 / np.sqrt(self.in1_features)
        rng = engine.get_rng()
        refill(self.weight, rng.uniform(-bound, bound, self.weight.shape))
        if self.bias is not None:
            refill(self.bias, rng.uniform(-bound, bound, self.out_features))

    def forward(self, x1, x2):
        if x1.shape[-1] != self.in1_features or x2.shape[-1] != self.in2_features or \
                x1.shape[:-1] != x2.shape[:-1]:
            raise ValueError(f"Bilinear: inputs of shapes {x1.shape} and {x2.shape}: expected "
                             f"(..., {self.in1_features}) and (..., {self.in2_features}) with "
                             f"the same leading dims")
        return F.bilinear(x1, x2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` (default: all but the batch dim):
    (N, C, H, W) → (N, C·H·W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (PyTorch's ``nn.Unflatten``): the inverse
    of Flatten, e.g. (N, 784) → (N, 1, 28, 28) with ``Unflatten(1, (1, 28, 28))``."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        return x.unflatten(self.dim, self.unflattened_size)


def _softmax_last(x):
    return x.softmax(-1)


# Keras's activation names; None and 'linear' mean none.
ACTIVATIONS = {
    "linear": None,
    "relu": lambda x: x.relu(),
    "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: x.tanh(),
    "softmax": _softmax_last,
}


def activation_fn(who, activation):
    """The function for a Keras activation: a name in ``ACTIVATIONS``, None, or a callable
    (a function of a Tensor, or a Module such as ``nn.ReLU()``)."""
    if activation is None:
        return None
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"{who}: unknown activation {activation!r}; known: "
                             f"{', '.join(sorted(ACTIVATIONS))} (or pass a function)")
        return ACTIVATIONS[activation]
    if callable(activation):
        return activation
    raise TypeError(f"{who}: activation must be a name, None or a callable, got "
                    f"{type(activation).__name__}")


class Dense(Linear):
    """Keras's ``Dense(units, activation=None, use_bias=True,
    kernel_initializer='glorot_uniform', bias_initializer='zeros', input_shape=None)``:
    ``y = act(x Wᵀ + b)``, x (..., in) → y (..., units).

    The input size comes from ``input_shape=(in,)`` (or ``input_dim=in``), else from the
    first call, as PyTorch's ``LazyLinear`` (``built`` says which): until then the layer has
    no parameters, so build it (call the model once, ``model.summary()``, ``model.fit``)
    before giving ``model.parameters()`` to an optimizer of your own. ``activation`` is a
    name ('relu', 'sigmoid', 'tanh', 'softmax', 'linear') or a function. Parameters keep
    Linear's names and layout (``weight`` (units, in), the transpose of Keras's kernel;
    ``model.get_weights()`` gives Keras's layout). With the default initializer the weights
    are exactly those ``Linear(in, units)`` draws.

    >>> import engine
    >>> layer = Dense(16, activation="relu")
    >>> layer.built, layer(engine.zeros(5, 13)).shape, layer.weight.shape
    (False, (5, 16), (16, 13))
    """

    reset_parameters = keras_no_reset  # Linear's rule is not its initializers'

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 input_shape=None, input_dim=None):
        Module.__init__(self)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"Dense: units must be an int >= 1, got {units!r}")
        from ..keras import initializers
        self.units = self.out_features = units
        self.activation = activation
        self._act = activation_fn("Dense", activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._inits = initializers.get(kernel_initializer), initializers.get(bias_initializer)
        self.weight, self.bias = None, None
        self.in_features, self.built = None, False
        if input_shape is not None and input_dim is not None:
            raise ValueError("Dense: give input_shape or input_dim, not both")
        if input_shape is not None:
            input_shape = tuple(input_shape)
            if not input_shape or not isinstance(input_shape[-1], int):
                raise ValueError(f"Dense: input_shape is the shape of one sample, e.g. (13,); "
                                 f"got {input_shape!r}")
            self.input_shape = input_shape
        elif input_dim is not None:
            self.input_shape = (int(input_dim),)
        else:
            self.input_shape = None
        if self.input_shape is not None:
            self.build(self.input_shape[-1])

    def build(self, in_features, dtype=np.float32):
        """Create ``weight`` (units, in_features) and ``bias`` (units,)."""
        if isinstance(in_features, bool) or not isinstance(in_features, (int, np.integer)) \
                or in_features < 1:
            raise ValueError(f"Dense: the input size must be an int >= 1, got {in_features!r}")
        kernel, bias = self._inits
        self.in_features = int(in_features)
        self.weight = Parameter(kernel.draw((self.units, self.in_features), self.in_features,
                                            self.units), dtype=dtype)
        self.bias = Parameter(bias.draw((self.units,), self.units, self.units),
                              dtype=dtype) if self.use_bias else None
        self.built = True

    def forward(self, x):
        if not self.built:
            self.build(x.shape[-1], x.dtype if x.dtype.kind == "f" else np.float32)
        elif x.shape[-1] != self.in_features:
            raise ValueError(f"Dense: input of shape {x.shape} has {x.shape[-1]} features, the "
                             f"layer was built for {self.in_features}")
        y = F.linear(x, self.weight, self.bias)
        return y if self._act is None else self._act(y)

    def get_config(self):
        """Constructor arguments, with the input size once built (for ``model.save``)."""
        from ..keras.saving import initialized_config
        config = initialized_config(self)
        if self.built and self.input_shape is None:
            config["input_dim"] = self.in_features
        return config

    def extra_repr(self):
        size = self.in_features if self.built else "not built"
        act = self.activation if isinstance(self.activation, (str, type(None))) \
            else getattr(self.activation, "__name__", type(self.activation).__name__)
        return f"units={self.units}, activation={act!r}, in_features={size}"


class Embedding(Module):
    """A lookup table: integer indices of any shape S → rows of ``weight`` (*S, dim), as
    PyTorch's ``nn.Embedding(num_embeddings, embedding_dim, padding_idx=None)``.

    ``weight`` (num_embeddings, embedding_dim) starts standard normal (PyTorch's init); the
    row ``padding_idx`` starts at zero and receives no gradient. ``max_norm``: each forward
    first scales the looked-up rows whose ``norm_type``-norm exceeds it back to that norm,
    in place in ``weight`` (``F.embedding``); ``scale_grad_by_freq``: each row's gradient
    divided by its index's count in the batch.

    >>> import engine
    >>> emb = Embedding(10, 3, padding_idx=0)
    >>> emb(engine.tensor([[1, 0, 4]])).shape
    (1, 3, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None,
                 max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False,
                 _weight=None, dtype=None):
        super().__init__()
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"Embedding: padding_idx {padding_idx} must be within the "
                             f"{num_embeddings} rows")
        if sparse:
            raise ValueError("Embedding: sparse=True is not supported in stepgrad (gradients "
                             "are dense; drop sparse=True: the numbers are the same)")
        if max_norm is not None and not max_norm >= 0:
            raise ValueError(f"Embedding: max_norm must be a number >= 0, got {max_norm!r}")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        # kept so that model.save can write the constructor call
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), False
        if _weight is None:
            table = np.zeros((num_embeddings, embedding_dim))  # drawn by reset_parameters
        else:
            table = _weight.data if isinstance(_weight, engine.Tensor) else np.asarray(_weight)
            if table.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight of shape {table.shape}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
        # A given table keeps its float dtype (PyTorch's from_pretrained does); a drawn one
        # takes the default dtype.
        keep = _weight is not None and np.asarray(table).dtype.kind == "f"
        self.weight = Parameter(table, dtype=np.asarray(table).dtype if keep else None)
        if _weight is None:
            self.reset_parameters()
        if dtype is not None:
            self.to(dtype)

    def reset_parameters(self):
        """Draw ``weight`` anew, in place: standard normal, the ``padding_idx`` row zero
        (PyTorch's; a pretrained table is drawn over too, as there)."""
        table = engine.get_rng().standard_normal(self.weight.shape)
        if self.padding_idx is not None:
            table[self.padding_idx] = 0.0
        refill(self.weight, table)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, **options):
        """A table holding ``embeddings`` (2-D), frozen unless ``freeze=False``; ``options``:
        the class's other constructor arguments (EmbeddingBag's mode, …)."""
        table = embeddings.data if isinstance(embeddings, engine.Tensor) else \
            np.asarray(embeddings)
        if table.ndim != 2:
            raise ValueError(f"{cls.__name__}.from_pretrained: embeddings must be 2-D, got "
                             f"shape {table.shape}")
        emb = cls(*table.shape, padding_idx=padding_idx, _weight=table, **options)
        emb.weight.requires_grad = not freeze
        return emb

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm,
                           self.norm_type, self.scale_grad_by_freq)

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            pad += f", max_norm={self.max_norm}"
            pad += "" if self.norm_type == 2.0 else f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            pad += ", scale_grad_by_freq=True"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class EmbeddingBag(Embedding):
    """Sums, means (the default) or maxima of bags of a lookup table's rows, as PyTorch's
    ``nn.EmbeddingBag(num_embeddings, embedding_dim, mode='mean')``: ``forward(input,
    offsets=None, per_sample_weights=None)`` → (B, embedding_dim), ``F.embedding_bag``'s
    rules (a 2-D input's rows are the bags; a 1-D input is cut at ``offsets``). ``weight``
    as ``Embedding``'s (standard normal, the ``padding_idx`` row zero and left out of bags).

    >>> import engine
    >>> bag = EmbeddingBag(10, 3, mode="sum")
    >>> bag(engine.tensor([1, 2, 4, 5, 4]), engine.tensor([0, 2])).shape
    (2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, dtype=None):
        if sparse:
            raise ValueError("EmbeddingBag: sparse=True is not supported in stepgrad "
                             "(gradients are dense; drop sparse=True: the numbers are the same)")
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode has to be one of sum, mean or max, got "
                             f"{mode!r}")
        super().__init__(num_embeddings, embedding_dim, padding_idx=padding_idx,
                         max_norm=max_norm, norm_type=norm_type,
                         scale_grad_by_freq=scale_grad_by_freq, _weight=_weight, dtype=dtype)
        self.mode, self.include_last_offset = mode, include_last_offset

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """``Embedding.from_pretrained`` in PyTorch's argument order for EmbeddingBag (its
        third is max_norm, not padding_idx)."""
        return super().from_pretrained(
            embeddings, freeze, padding_idx, max_norm=max_norm, norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq, mode=mode, sparse=sparse,
            include_last_offset=include_last_offset)

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, mode=self.mode,
                               per_sample_weights=per_sample_weights,
                               include_last_offset=self.include_last_offset,
                               padding_idx=self.padding_idx)

    def extra_repr(self):
        return super().extra_repr() + f", mode={self.mode!r}"
