"""PyTorch's ``torch.autograd.Function`` (``engine.autograd.Function``): a custom op written
the PyTorch way, on Tensors, with a ``ctx``. It runs as one engine op (``PyFunction``), so
backward, ``backward_steps``, pictures and ``gradcheck`` see it like any other; the picture
shows the class's name. stepgrad's own way is ``engine.Op`` (numpy forward, a backward that
also differentiates twice): see the README's "Add your own op".

    class LegendrePolynomial3(engine.autograd.Function):     # "Learning PyTorch with examples"
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)
        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    y = LegendrePolynomial3.apply(x)

``forward(ctx, *args)`` gets Tensors that record nothing (as PyTorch's) and returns one
Tensor; ``backward(ctx, grad_output)`` returns one gradient (a Tensor or None) per forward
argument. Second derivatives through it are refused (``create_graph=True``): the backward
ran without a graph. Several outputs, ``mark_dirty``, ``mark_non_differentiable`` and
``once_differentiable`` are not supported and say so.
"""
from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..testing import spec
from .base import Op

_TENSOR = object()  # marks where a Tensor argument goes back in forward's argument list


class FunctionCtx:
    """``ctx``: ``save_for_backward(*tensors)`` / ``saved_tensors``, ``needs_input_grad``
    (one bool per forward argument), and any attribute you set in forward."""

    saved_tensors = ()
    needs_input_grad = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors

    def mark_dirty(self, *tensors):
        raise NotImplementedError("autograd.Function: ctx.mark_dirty (in-place forward) is "
                                  "not supported: return a new tensor from forward")

    def mark_non_differentiable(self, *tensors):
        raise NotImplementedError("autograd.Function: ctx.mark_non_differentiable is not "
                                  "supported: return the non-differentiable result from "
                                  "another call (or .detach() it outside)")


@spec(call=lambda x: _Cube.apply(x), ref=lambda x: x ** 3)
class PyFunction(Op):
    """The engine op that runs one ``autograd.Function`` subclass (its label is the class's
    name)."""

    name = "autograd.Function"
    formula = "the backward(ctx, grad_output) written in the Function subclass"
    twice = False
    twice_hint = (": an autograd.Function's backward runs without a graph; write an "
                  "engine.Op for second derivatives")

    def forward(self, *arrays, fn, args):
        from ..tensor import Tensor  # (engine.tensor imports the ops)
        it = iter(arrays)
        call = [Tensor._make(next(it)) if a is _TENSOR else a for a in args]
        self.fn, self.args, self.ctx = fn, args, FunctionCtx()
        flags = iter(self.needs_grad)
        self.ctx.needs_input_grad = tuple(next(flags) if a is _TENSOR else False for a in args)
        with no_grad():
            out = fn.forward(self.ctx, *call)
        if not isinstance(out, Tensor):
            raise TypeError(f"{fn.__name__}.forward returned a {type(out).__name__}: return one "
                            f"Tensor (several outputs are not supported)")
        return out.data

    def backward(self, g, *inputs, out):
        from ..tensor import Tensor
        fn = self.fn
        with no_grad():
            grads = fn.backward(self.ctx, Tensor._make(np.asarray(g)))
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(self.args):
            raise TypeError(f"{fn.__name__}.backward returned {len(grads)} gradient(s) for "
                            f"{len(self.args)} forward argument(s): return one per argument "
                            f"(None for those that need none)")
        return tuple(gr.data if isinstance(gr, Tensor) else gr
                     for gr, a in zip(grads, self.args, strict=True) if a is _TENSOR)

    def label(self):
        return getattr(self, "fn", type(self)).__name__


PyFunction.trusted = False  # a user's backward: its return is checked (count, type)


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, grad_output)`` and
    call ``YourFunction.apply(*args)`` (PyTorch's ``torch.autograd.Function``).

    >>> import engine
    >>> class Cube(engine.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad_output):
    ...         x, = ctx.saved_tensors
    ...         return grad_output * 3 * x ** 2
    >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward(); x.grad                 # 3x²
    tensor([ 3., 12.], shape=(2,), dtype=float32)
    """

    def __init__(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__}: call {type(self).__name__}.apply(...), not "
                        f"an instance (PyTorch's static autograd.Function)")

    @staticmethod
    def forward(ctx, *args):  # pragma: no cover - abstract
        raise NotImplementedError("autograd.Function: define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):  # pragma: no cover - abstract
        raise NotImplementedError("autograd.Function: define a static backward(ctx, grad)")

    @classmethod
    def apply(cls, *args):
        from ..tensor import Tensor
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not tensors:
            raise TypeError(f"{cls.__name__}.apply: needs at least one Tensor argument")
        spec = tuple(_TENSOR if isinstance(a, Tensor) else a for a in args)
        return PyFunction.apply(*tensors, fn=cls, args=spec)


class _Cube(Function):
    """x³: the test description's example (engine/testing.py runs it like any op)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad_output):
        x, = ctx.saved_tensors
        return grad_output * 3 * x * x
