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

    def __init__(self, title, rows, trainable, non_trainable):
        self.title, self.rows = title, rows
        self.trainable_params, self.non_trainable_params = trainable, non_trainable
        self.total_params = trainable + non_trainable

    def __str__(self):
        head = ("Layer (type)", "Output Shape", "Param #")
        body = [(f"{name} ({kind})", shape, f"{n:,}") for name, kind, shape, n in self.rows]
        w0 = max(len(head[0]), *(len(r[0]) for r in body)) + 2 if body else len(head[0]) + 2
        w1 = max(len(head[1]), *(len(r[1]) for r in body)) + 2 if body else len(head[1]) + 2
        w2 = max(len(head[2]), *(len(r[2]) for r in body)) if body else len(head[2])
        line = "=" * (w0 + w1 + w2)
        out = [f'Model: "{self.title}"', line,
               f"{head[0]:<{w0}}{head[1]:<{w1}}{head[2]:>{w2}}", line]
        out += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in body]
        out += [line, f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}"]
        return "\n".join(out)

    __repr__ = __str__


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
    (``nn.Dense`` without an input size) are built by this run.

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
            # Buffers count too, as Keras counts BatchNorm's moving statistics.
            own = sum(p.numel() for p in _m._parameters.values() if p is not None) + \
                sum(b.numel() for b in _m._buffers.values())
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
    params = list(model.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    frozen = sum(p.numel() for p in params if not p.requires_grad)
    buffers = sum(b.numel() for _, b in model.named_buffers())
    return Summary(type(model).__name__, rows, trainable, frozen + buffers)
