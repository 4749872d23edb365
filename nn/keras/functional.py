"""Keras's Functional API: layers called on symbolic tensors, then ``Model(inputs, outputs)``.

    inputs = Input(shape=(28, 28, 1))                 # a symbolic tensor (an InputLayer)
    a = Conv2D(32, (1, 1), padding="same")(inputs)    # records the call, runs nothing
    b = MaxPooling2D((3, 3), strides=(1, 1), padding="same")(inputs)
    x = concatenate([a, b], axis=-1)
    model = Model(inputs=inputs, outputs=Dense(10)(GlobalAveragePooling2D()(x)))

Calling a layer on a ``KerasTensor`` (or a list of them) returns a new ``KerasTensor`` that
remembers the layer and its arguments (``nn.Module.__call__`` sends such calls here). A
``Model`` collects the layers between its inputs and outputs and registers each once, in
Keras's order (by depth in the graph, as ``keras.Model.layers``: it orders ``get_weights``,
``set_weights`` and ``summary``), under Keras's names (``conv2d``, ``conv2d_1``, … in the
order the calls were written; Keras numbers layers as they are created); its
``forward`` replays the calls on real tensors, each after the calls it depends on. Shapes
are found when the model first runs (``summary()``, ``fit``, or a symbolic tensor's
``.shape``), as every layer here builds itself on its first input.

Not here: saving a Functional model's architecture (``model.save``; its weights save with
``model.save_weights``), masks, layers with several outputs.
"""
from __future__ import annotations

import functools
import itertools
import operator
import re

import numpy as np

import engine

from ..module import Module, Symbolic


class KerasTensor(Symbolic):
    """The symbolic result of ``layer(*args, **kwargs)`` in a Functional model."""

    def __init__(self, layer, args, kwargs):
        self.layer, self.args, self.kwargs = layer, args, kwargs
        self._shape = None  # found once, on first use (see shape)

    def parents(self):
        """The symbolic tensors this call consumed, in argument order."""
        out = []
        for a in self.args:
            items = a if type(a) in (list, tuple) else (a,)
            out += [t for t in items if isinstance(t, Symbolic)]
        return out

    @property
    def shape(self) -> tuple:
        """(None, *sample shape), as Keras prints it: found by running the recorded calls
        once on a batch of two zero samples (no gradients, layers in eval mode), which also
        builds the layers' weights, as calling a Keras layer on a symbolic tensor does."""
        if self._shape is not None:
            return self._shape
        model = Model(_inputs_of(self), self)
        xs = [engine.zeros(*((2,) + tuple(1 if d is None else d for d in t.shape)))
              for t in model._input_list]
        modes = [(m, m.training) for _, m in model.named_modules()]
        try:
            model.eval()
            with engine.no_grad():
                out = model(*xs)
        finally:
            for m, training in modes:
                m.training = training
        self._shape = (None,) + tuple(out.shape[1:])
        return self._shape

    def __repr__(self):
        return f"<KerasTensor from {type(self.layer).__name__}>"


def _inputs_of(t) -> list:
    """The Input(...) tensors a symbolic tensor depends on, first found first."""
    found, stack, seen = [], [t], set()
    while stack:
        u = stack.pop()
        if id(u) in seen:
            continue
        seen.add(id(u))
        if isinstance(u, KerasTensor):
            stack += reversed(u.parents())
        else:
            found.append(u)
    return found


_CALLS = itertools.count()  # the order calls were written in: Keras names layers in it


def record_call(layer, args, kwargs):
    """What calling ``layer`` on a symbolic tensor returns (``nn.Module.__call__``)."""
    if not isinstance(layer, Module):
        raise TypeError(f"{type(layer).__name__} is not a layer")
    t = KerasTensor(layer, args, kwargs)
    t.seq = next(_CALLS)
    return t


def keras_class_name(layer) -> str:
    """The Keras class a layer is: its class name, less the ``Keras`` prefix of the classes
    stepgrad names ``KerasLSTM``, ``KerasEmbedding``, … (Keras's ``LSTM``, ``Embedding``)."""
    name = type(layer).__name__
    return name[5:] if name.startswith("Keras") and name[5:6].isupper() else name


def _keras_name(layer) -> str:
    """Keras's layer name stem (its ``to_snake_case`` of the class name): ``Conv2D`` →
    ``conv2d``, ``MaxPooling2D`` → ``max_pooling2d``, ``LeakyReLU`` → ``leaky_re_lu``,
    ``KerasLSTM`` → ``lstm``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", keras_class_name(layer))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Model(Module):
    """Keras's ``Model(inputs=..., outputs=...)`` over the symbolic tensors of the Functional
    API; ``inputs`` and ``outputs`` are one symbolic tensor or a list. The model takes one
    tensor per input (a list when there are several) and returns one per output."""

    def __init__(self, inputs, outputs, name=None):
        Module.__init__(self)
        from .layers import InputLayer
        self._input_list = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        self._single = not isinstance(outputs, (list, tuple))
        self._output_list = [outputs] if self._single else list(outputs)
        for t in self._input_list:
            if not isinstance(t, InputLayer):
                raise TypeError(f"Model: inputs must come from Input(shape=...), got "
                                f"{type(t).__name__}")
        for t in self._output_list:
            if not isinstance(t, Symbolic):
                raise TypeError(f"Model: outputs must be layers' results on Input(...) tensors "
                                f"(the Functional API), got {type(t).__name__}")
        self._calls, layers = self._walk()
        names = {}  # a layer's name=, as Keras; each name once
        for layer in layers:
            given = layer.__dict__.get("keras_name")
            if given is not None:
                if given in names.values():
                    raise ValueError(f"Model: the layer name {given!r} is used more than once; "
                                     "all layer names should be unique (as Keras)")
                names[id(layer)] = given
        taken, counts = set(names.values()), {}
        for call in sorted(self._calls, key=lambda c: c.seq):  # each other layer once, named
            # in the order the calls were written; they run in self._calls' order
            if id(call.layer) in names:
                continue
            stem = _keras_name(call.layer)
            while True:  # dense, dense_1, ...: skipping the names given
                n = counts.get(stem, 0)
                counts[stem] = n + 1
                auto = stem if n == 0 else f"{stem}_{n}"
                if auto not in taken:
                    break
            names[id(call.layer)] = auto
            taken.add(auto)
        for layer in layers:  # registered (model.layers, get_weights, summary) in Keras's order
            self.add_module(names[id(layer)], layer)
        self.model_name = name or "functional"
        # model.input_shape / output_shape: Keras's (None, ...) (nn.keras.model)

    def _walk(self) -> tuple:
        """``(calls, layers)``: the recorded calls between the inputs and the outputs, each
        after its arguments (the order ``forward`` runs them in), and the layers in Keras's
        order (``_keras_layer_order``), from ``_build_map``."""
        nodes, index = self._build_map()
        calls = [t for t in nodes if isinstance(t, KerasTensor)]
        return calls, self._keras_layer_order(nodes, index)

    def _build_map(self) -> tuple:
        """Keras's ``_build_map``: ``(nodes, index)`` from one depth-first walk from the
        outputs (in order; each call's arguments in order): ``nodes`` the calls and Inputs as
        they finish, inputs first; ``index`` each layer's (or Input's) number, in the order
        the walk first reached it (id → number). Also what ``summary()`` lists."""
        index, finished, nodes = {}, set(), []
        stack = [(t, False) for t in reversed(self._output_list)]
        while stack:
            t, done = stack.pop()
            if done:
                finished.add(id(t))
                nodes.append(t)
                continue
            if id(t) in finished:
                continue
            if not isinstance(t, KerasTensor) and not any(t is i for i in self._input_list):
                raise ValueError("Model: an output depends on an Input(...) that is not among "
                                 "the model's inputs")
            op = t.layer if isinstance(t, KerasTensor) else t
            index.setdefault(id(op), len(index))
            stack.append((t, True))
            if isinstance(t, KerasTensor):
                stack += [(p, False) for p in reversed(t.parents())]
        return nodes, index

    @staticmethod
    def _keras_layer_order(nodes, index) -> list:
        """The layers in Keras's order (``keras/src/ops/function.py``'s ``map_graph``, which
        orders ``Functional.layers`` and so its weights): ``_operations`` without the
        Inputs."""
        return [op for op in Model._operations(nodes, index)[0]
                if not isinstance(op, Symbolic)]

    @staticmethod
    def _operations(nodes, index) -> tuple:
        """``(operations, node_depth)``: Keras's ``model._operations`` (the Inputs and the
        layers, the order of its summary) and each node's depth (id → depth), from
        ``_build_map``'s ``nodes`` (the calls and Inputs, inputs first) and ``index`` (id of a
        layer → its number, in the order first reached): walking the nodes backwards, a
        call's depth is the largest depth of the calls consuming it + 1 (outputs: 0), a
        layer's the largest over its calls as they are met; the operations then go deepest
        first, ties by their number.
        ``a = Dense(3)(i); b = Dense(3)(Dense(3)(i)); add([a, b])`` gives the inner Dense of
        ``b`` (depth 2), then ``a``'s Dense and ``b``'s outer one (depth 1), then Add."""
        node_depth, op_depth, ops = {}, {}, {}
        for t in reversed(nodes):
            op = t.layer if isinstance(t, KerasTensor) else t
            depth = max(node_depth.setdefault(id(t), 0), op_depth.get(id(op), 0))
            op_depth[id(op)], node_depth[id(t)] = depth, depth
            ops[id(op)] = op
            if isinstance(t, KerasTensor):
                for p in t.parents():
                    node_depth[id(p)] = max(depth + 1, node_depth.get(id(p), 0))
        order = sorted(op_depth, key=lambda i: (-op_depth[i], index[i]))
        return [ops[i] for i in order], node_depth

    def forward(self, *xs):
        if len(xs) == 1 and type(xs[0]) in (list, tuple) and len(self._input_list) > 1:
            xs = tuple(xs[0])
        if len(xs) != len(self._input_list):
            raise ValueError(f"Model: expected {len(self._input_list)} input(s), got {len(xs)}")
        values = {id(t): t(x) for t, x in zip(self._input_list, xs, strict=True)}

        def real(a):
            if isinstance(a, Symbolic):
                return values[id(a)]
            return [real(t) for t in a] if type(a) in (list, tuple) else a

        for call in self._calls:
            values[id(call)] = call.layer(*(real(a) for a in call.args),
                                          **{k: real(v) for k, v in call.kwargs.items()})
        outs = [values[id(t)] for t in self._output_list]
        return outs[0] if self._single else outs

    def get_config(self):
        from .saving import UnsavableArchitecture
        raise UnsavableArchitecture("Model: a Functional model's architecture cannot be saved "
                                    "as data yet; save its weights (model.save_weights(path)) "
                                    "and rebuild it with the same code")

    def extra_repr(self):
        return f"name={self.model_name!r}"


class Concatenate(Module):
    """Keras's ``Concatenate(axis=-1)``: a list of tensors joined along ``axis``."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, inputs):
        return engine.cat(list(inputs), dim=self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class _Merge(Module):
    """Keras's merging layers: a list of tensors of one batch size combined elementwise.
    Shapes follow Keras's rule: an input with fewer dims gets new dims of size 1 after the
    batch dim (axis 1), then sizes of 1 broadcast; other differing sizes are refused."""

    _fixed = None  # the number of inputs the layer takes (Subtract: 2), None: 1 or more
    _pairwise = None  # the op of two tensors that folds the inputs, left to right

    def forward(self, inputs):
        who = type(self).__name__
        if type(inputs) not in (list, tuple) or not inputs:
            raise ValueError(f"{who}: call it on a list of tensors, got {type(inputs).__name__}")
        inputs = list(inputs)
        if self._fixed is not None and len(inputs) != self._fixed:
            raise ValueError(f"{who}: takes exactly {self._fixed} inputs, got {len(inputs)}")
        shapes = [tuple(t.shape) for t in inputs]
        if len({s[0] if s else None for s in shapes}) != 1:
            raise ValueError(f"{who}: the inputs have different batch sizes: {shapes}")
        rank = max(len(s) for s in shapes)
        inputs = [t if t.ndim == rank else  # Keras's expand_dims(x, axis=1), as needed
                  t.reshape((t.shape[0],) + (1,) * (rank - t.ndim) + tuple(t.shape[1:]))
                  for t in inputs]
        try:
            np.broadcast_shapes(*(tuple(t.shape) for t in inputs))
        except ValueError:
            raise ValueError(f"{who}: the inputs have incompatible shapes {shapes}") from None
        return self._merge(inputs)

    def _merge(self, inputs):
        return functools.reduce(self._pairwise, inputs)


class Add(_Merge):
    """Keras's ``Add()``: the elementwise sum of a list of tensors."""

    _pairwise = staticmethod(operator.add)


class Subtract(_Merge):
    """Keras's ``Subtract()``: ``inputs[0] − inputs[1]`` (exactly two inputs)."""

    _fixed = 2
    _pairwise = staticmethod(operator.sub)


class Multiply(_Merge):
    """Keras's ``Multiply()``: the elementwise product of a list of tensors."""

    _pairwise = staticmethod(operator.mul)


class Average(_Merge):
    """Keras's ``Average()``: the elementwise mean of a list of tensors, (Σ xᵢ) / n."""

    _pairwise = staticmethod(operator.add)

    def _merge(self, inputs):
        return super()._merge(inputs) / len(inputs)


class Maximum(_Merge):
    """Keras's ``Maximum()``: the elementwise maximum of a list of tensors."""

    _pairwise = staticmethod(engine.maximum)


class Minimum(_Merge):
    """Keras's ``Minimum()``: the elementwise minimum of a list of tensors."""

    _pairwise = staticmethod(engine.minimum)


def concatenate(inputs, axis=-1):
    """Keras's ``concatenate([a, b, ...], axis=-1)`` (a ``Concatenate`` layer applied)."""
    return Concatenate(axis)(inputs)


def add(inputs):
    """Keras's ``add([a, b, ...])`` (an ``Add`` layer applied)."""
    return Add()(inputs)


def subtract(inputs):
    """Keras's ``subtract([a, b])`` (a ``Subtract`` layer applied)."""
    return Subtract()(inputs)


def multiply(inputs):
    """Keras's ``multiply([a, b, ...])`` (a ``Multiply`` layer applied)."""
    return Multiply()(inputs)


def average(inputs):
    """Keras's ``average([a, b, ...])`` (an ``Average`` layer applied)."""
    return Average()(inputs)


def maximum(inputs):
    """Keras's ``maximum([a, b, ...])`` (a ``Maximum`` layer applied)."""
    return Maximum()(inputs)


def minimum(inputs):
    """Keras's ``minimum([a, b, ...])`` (a ``Minimum`` layer applied)."""
    return Minimum()(inputs)
