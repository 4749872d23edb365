"""``nn.summary``: a Keras-style table of a model's layers, output shapes and parameter counts."""
from __future__ import annotations

import numpy as np

import engine
from engine import Tensor


class Summary:
    """The table (``rows``: name, type, output shape, params) and the totals. Print it.

    Non-trainable parameters are frozen parameters plus buffers (as Keras counts
    BatchNorm's moving mean and variance).
    """

    def __init__(self, title, rows, trainable, non_trainable, connected=None):
        self.title, self.rows = title, rows
        self.trainable_params, self.non_trainable_params = trainable, non_trainable
        self.total_params = trainable + non_trainable
        # Keras's fourth column of a branching Functional model: per row, "dense[0][0], ..."
        self.connected = connected

    def __str__(self):
        head = ("Layer (type)", "Output Shape", "Param #")
        body = [(f"{name} ({kind})", shape, f"{n:,}") for name, kind, shape, n in self.rows]
        w0 = max(len(head[0]), *(len(r[0]) for r in body)) + 2 if body else len(head[0]) + 2
        w1 = max(len(head[1]), *(len(r[1]) for r in body)) + 2 if body else len(head[1]) + 2
        w2 = max(len(head[2]), *(len(r[2]) for r in body)) if body else len(head[2])
        if self.connected is not None:  # Param # then two spaces, then "Connected to"
            w3 = 2 + max(len("Connected to"), *(len(c) for c in self.connected))
            line = "=" * (w0 + w1 + w2 + w3)
            out = [f'Model: "{self.title}"', line,
                   f"{head[0]:<{w0}}{head[1]:<{w1}}{head[2]:>{w2}}  Connected to", line]
            out += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}  {d}".rstrip()
                    for (a, b, c), d in zip(body, self.connected, strict=True)]
        else:
            line = "=" * (w0 + w1 + w2)
            out = [f'Model: "{self.title}"', line,
                   f"{head[0]:<{w0}}{head[1]:<{w1}}{head[2]:>{w2}}", line]
            out += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in body]
        out += [line, f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}"]
        return "\n".join(out)

    __repr__ = __str__


def weight_count(module, recurse=True) -> int:
    """Keras's count of a module's weights: its parameters and its buffers (BatchNorm's
    moving statistics, Normalization's mean, variance and int count, which Keras counts as
    non-trainable weights), not PyTorch's counter ``num_batches_tracked`` (no Keras weight,
    and PyTorch's summaries leave it out). ``recurse=False``: the module's own, without its
    sub-modules'."""
    params = module.parameters() if recurse else \
        (p for p in module._parameters.values() if p is not None)
    buffers = module.named_buffers() if recurse else \
        ((n, b) for n, b in module._buffers.items() if b is not None)
    return (sum(p.numel() for p in params)
            + sum(b.numel() for n, b in buffers if n.rsplit(".", 1)[-1] != "num_batches_tracked"))


def _totals(model):
    """(trainable, non-trainable) counts of ``model``: frozen parameters and floating
    buffers are non-trainable (``weight_count``)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, weight_count(model) - trainable


def _shape_text(out):
    if isinstance(out, (tuple, list)):
        out = out[0]
    return str((None,) + tuple(out.shape[1:])) if isinstance(out, Tensor) else "?"


def _sample_shape(input_shape):
    """One sample's shape from ``input_shape``, dropping a leading None (Keras's batch)."""
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(f"summary: input_shape must be a tuple of sizes, e.g. (784,) or "
                        f"(None, 784), got {input_shape!r}") from None
    start = 1 if shape and shape[0] is None else 0
    shape = shape[start:]
    for i, d in enumerate(shape):
        if d is None or isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"summary: input_shape {tuple(input_shape)!r} has {d!r} at "
                             f"position {i + start}; every size but a leading batch None "
                             "must be an int >= 1")
    return tuple(int(d) for d in shape)


def summary(model, input_shape, dtype=np.float32) -> Summary:
    """Run ``model`` once on a zero batch of ``(2,) + input_shape`` (no gradients, eval mode)
    and tabulate every layer that has no sub-layers or owns parameters, in call order.

    ``input_shape`` is one sample's shape, e.g. ``(13,)`` or ``(1, 28, 28)``; Keras's form
    with the batch dimension as None, ``(None, 784)``, is accepted too. Lazy layers
    (``nn.Dense`` without an input size, ``nn.LazyLinear``, ``nn.LazyConv2d``...) are built by
    this run, as by a first forward.

    >>> import nn
    >>> s = nn.summary(nn.Sequential(nn.Linear(13, 16), nn.ReLU(), nn.Linear(16, 8),
    ...                              nn.ReLU(), nn.Linear(8, 1)), (13,))
    >>> s.total_params
    369
    """
    input_shape = _sample_shape(input_shape)
    named = list(model.named_modules())
    rows, originals = [], []
    for name, module in named:
        if module is model and len(named) > 1 and not module._parameters:
            continue
        if module._modules and not module._parameters:
            continue

        def traced(*args, _m=module, _name=name, _fwd=module.forward, **kwargs):
            out = _fwd(*args, **kwargs)
            own = weight_count(_m, recurse=False)  # moving statistics too, as Keras
            rows.append((_name or type(_m).__name__.lower(), type(_m).__name__,
                         _shape_text(out), own))
            return out

        originals.append(module)
        object.__setattr__(module, "forward", traced)
    was_training = model.training
    model.eval()
    try:
        with engine.no_grad():
            model(Tensor(np.zeros((2,) + tuple(input_shape)), dtype=dtype))
    finally:
        for module in originals:
            object.__delattr__(module, "forward")
        model.train(was_training)
    return Summary(getattr(model, "model_name", type(model).__name__), rows, *_totals(model))


# ------------------------------------------------------------------ Functional models (Keras 3)
OPEN_SIZES = (8, 9)  # an Input's None sizes, in two runs: what differs is None


def _graph_nodes(model):
    """Keras's ``_build_map`` of a Functional model (``Model._build_map``): its calls and
    Inputs as they finish (inputs first), and each layer's (or Input's) number."""
    return model._build_map()


def _call_outputs(model, fill):
    """id(call) → its output, from one run of ``model`` on a zero batch of two samples (eval
    mode, no gradients; unknown sizes (None) of an Input set to ``fill``). Each layer's
    ``forward`` is wrapped for the run to catch what it returns, call after call."""
    caught, layers = {}, {}
    for call in model._calls:
        layers.setdefault(id(call.layer), call.layer)
    for key, layer in layers.items():
        def traced(*args, _key=key, _fwd=layer.forward, **kwargs):
            out = _fwd(*args, **kwargs)
            caught.setdefault(_key, []).append(out)
            return out
        object.__setattr__(layer, "forward", traced)
    modes = [(m, m.training) for m in model.modules()]
    states = [(m, m.state) for m in model.modules() if getattr(m, "stateful", False)]
    xs = [Tensor(np.zeros((2,) + tuple(fill if d is None else d for d in t.shape)),
                 dtype=np.float32) for t in model._input_list]
    try:
        model.eval()
        with engine.no_grad():
            model(*xs)
    finally:
        for layer in layers.values():
            object.__delattr__(layer, "forward")
        for m, training in modes:
            m.training = training
        for m, state in states:
            m.state = state
    outputs, seen = {}, {}
    for call in model._calls:  # forward runs them in this order
        k = seen.get(id(call.layer), 0)
        seen[id(call.layer)] = k + 1
        outputs[id(call)] = caught[id(call.layer)][k]
    return outputs


def _keras_shape(a, b=None) -> str:
    """Keras's text of an output shape: ``(None, 6, 6, 4)``; sizes that differ between two
    runs (``b``: the run with other sizes for the Input's None) are None; several outputs
    are a list of them."""
    if isinstance(a, (tuple, list)):
        bs = b if isinstance(b, (tuple, list)) else [None] * len(a)
        return "[" + ", ".join(_keras_shape(x, y) for x, y in zip(a, bs, strict=True)) + "]"
    if not isinstance(a, Tensor):
        return "?"
    dims = [d if b is None or d == e else None
            for d, e in zip(a.shape[1:], (b.shape[1:] if b is not None else a.shape[1:]),
                            strict=True)]
    return str((None, *dims))


def functional_summary(model) -> Summary:
    """Keras 3's summary of a Functional model (``nn.keras.Model``): a row per Input
    (``image (InputLayer)``, Keras's ``input_layer``, ``input_layer_1`` when unnamed) and
    per layer, in Keras's order (by depth in the graph, deepest first), with the output
    shape (batch None; a size an Input leaves open is None), the parameter count (weights
    and buffers, as Keras counts BatchNormalization's moving statistics) and — when the
    model branches, merges or shares a layer, as Keras decides — what each layer is
    ``Connected to`` (``dense[0][0]``: layer, call number, tensor). The layers are built and
    the shapes found by running the model on zeros (eval mode, no gradients)."""
    from .keras.functional import KerasTensor, keras_class_name
    from .keras.model import keras_input_names
    inputs = model._input_list
    names = {id(m): n for n, m in model.named_children()}
    names.update({id(t): n for t, n in zip(inputs, keras_input_names(model), strict=True)})
    nodes, index = _graph_nodes(model)
    ops, node_depth = model._operations(nodes, index)
    outputs = _call_outputs(model, OPEN_SIZES[0])
    if any(None in t.shape for t in inputs):  # which sizes follow the Input's open sizes
        other = _call_outputs(model, OPEN_SIZES[1])
    else:
        other = outputs
    calls_of = {}  # a layer's calls in the order they were written: Keras's node index
    for call in sorted(model._calls, key=lambda c: c.seq):
        calls_of.setdefault(id(call.layer), []).append(call)
    number = {id(c): i for cs in calls_of.values() for i, c in enumerate(cs)}
    # Keras's test of a "sequential-like" model: one node per depth, each node fed by one
    # tensor, no layer called twice; otherwise the table says what feeds each layer.
    per_depth = {}
    for t in nodes:
        per_depth[node_depth[id(t)]] = per_depth.get(node_depth[id(t)], 0) + 1
    branching = any(n > 1 for n in per_depth.values()) or any(
        len(t.parents()) > 1 for t in nodes if isinstance(t, KerasTensor)) or any(
        len(cs) > 1 for cs in calls_of.values())

    def source(p):
        if isinstance(p, KerasTensor):
            return f"{names[id(p.layer)]}[{number[id(p)]}][0]"
        return f"{names[id(p)]}[0][0]"

    rows, connected = [], []
    for op in ops:
        if id(op) not in calls_of:  # an Input
            rows.append((names[id(op)], "InputLayer", str((None, *op.shape)), 0))
            connected.append("-")
            continue
        last = calls_of[id(op)][-1]  # Keras shows the shape of the layer's last call
        count = weight_count(op)
        rows.append((names[id(op)], keras_class_name(op),
                     _keras_shape(outputs[id(last)], other[id(last)]), count))
        connected.append(", ".join(source(p) for c in calls_of[id(op)] for p in c.parents()))
    return Summary(getattr(model, "model_name", type(model).__name__), rows, *_totals(model),
                   connected if branching else None)
