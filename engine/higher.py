"""Derivatives of derivatives: jacobian, hessian, hvp, gradgradcheck (reverse over reverse).

All are built on ``engine.grad(..., create_graph=True)``: the first backward pass is itself
recorded as a graph (every op's backward is written with ops), so it can be differentiated
again. They take Tensors or Values, as PyTorch's ``torch.autograd.functional`` takes tensors.

    >>> import engine
    >>> x = engine.tensor([1.0, 2.0], dtype="float64")
    >>> engine.hessian(lambda t: (t ** 3).sum(), x)        # diag(6x)
    tensor([[ 6.,  0.],
            [ 0., 12.]], shape=(2, 2), dtype=float64)
"""
from __future__ import annotations

import numpy as np

from .autograd import grad
from .gradcheck import GradcheckError, gradcheck, torch_inputs
from .tensor import Tensor
from .value import Value


def _fresh(x):
    """A leaf copy of ``x`` that requires grad (the functions below never touch ``x``)."""
    if isinstance(x, Value):
        return Value(x.data, label=x.label)
    if not isinstance(x, Tensor) or x.dtype.kind != "f":
        raise TypeError(f"expected a float Tensor or a Value, got {type(x).__name__}"
                        + (f" of {x.dtype}" if isinstance(x, Tensor) else ""))
    return Tensor(x.data, requires_grad=True, dtype=x.dtype, name=x.name)


def _rows(out, x, create_graph=False):
    """d out[i] / d x for every element i of ``out``: an array of shape out.shape + x.shape."""
    is_value = isinstance(out, Value)
    n = 1 if is_value else out.numel()
    xshape = () if isinstance(x, Value) else x.shape
    rows = np.zeros((n,) + xshape)
    if not out.requires_grad:
        return rows.reshape((() if is_value else out.shape) + xshape)
    for i in range(n):
        if is_value:
            (g,) = grad(out, x, retain_graph=True, allow_unused=True)
        else:
            onehot = np.zeros(n, out.dtype)
            onehot[i] = 1
            (g,) = grad(out, x, grad_outputs=onehot.reshape(out.shape), retain_graph=True,
                        allow_unused=True, create_graph=create_graph)
        if g is not None:
            rows[i] = g if isinstance(g, float) else np.asarray(getattr(g, "data", g))
    return rows.reshape((() if is_value else out.shape) + xshape)


def _like(j, x):
    """The array ``j`` as ``x`` is: a float for a Value, else a Tensor of x's dtype."""
    return float(j) if isinstance(x, Value) else Tensor(j, dtype=x.dtype)


def jacobian(fn, x, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """∂fn(x)/∂x: a float for Values, else a Tensor of shape fn(x).shape + x.shape.

    As PyTorch's ``torch.autograd.functional.jacobian``: ``x`` may be a tuple of inputs
    (``fn(*x)``; one Jacobian per input) and ``fn`` may return a tuple (one entry per output),
    both giving tuples (of tuples). ``vectorize`` changes nothing here; ``create_graph=True``,
    ``strict=True`` and ``strategy='forward-mode'`` are not supported (an error says so)."""
    if create_graph or strict or strategy != "reverse-mode":
        raise NotImplementedError("jacobian: only create_graph=False, strict=False and "
                                  "strategy='reverse-mode' are supported; for a "
                                  "differentiable Jacobian use engine.grad(..., "
                                  "create_graph=True) row by row")
    multi_in = isinstance(x, (tuple, list))
    originals = tuple(x) if multi_in else (x,)
    xs = [_fresh(t) for t in originals]
    out = fn(*xs)
    multi_out = isinstance(out, (tuple, list))
    outs = tuple(out) if multi_out else (out,)
    for o in outs:
        if not isinstance(o, (Tensor, Value)):
            raise TypeError(f"jacobian: fn must return a Tensor (or a tuple of them), got "
                            f"{type(o).__name__}")
    table = [tuple(_like(_rows(o, xi), t) for xi, t in zip(xs, originals, strict=True))
             for o in outs]
    rows = [r if multi_in else r[0] for r in table]
    return tuple(rows) if multi_out else rows[0]


def hessian(fn, x):
    """∂²fn(x)/∂x² of a scalar function: shape x.shape + x.shape (a float for a Value)."""
    xs = _fresh(x)
    out = fn(xs)
    if not isinstance(out, Value) and out.numel() != 1:
        raise ValueError(f"hessian: fn must return a scalar, got shape {out.shape}")
    (g,) = grad(out, xs, create_graph=True)
    return _like(_rows(g, xs), x)


def hvp(fn, x, v):
    """``(fn(x), H·v)``: the Hessian of scalar ``fn`` at ``x`` times ``v``, without forming H
    (two backward passes: ∇(vᵀ∇fn) = H v, H being symmetric). As PyTorch's ``hvp``."""
    xs = _fresh(x)
    out = fn(xs)
    (g,) = grad(out, xs, create_graph=True)
    if isinstance(x, Value):
        (hv,) = grad(g * float(v), xs, allow_unused=True)
        return out.data, 0.0 if hv is None else float(hv)
    v = np.asarray(getattr(v, "data", v), x.dtype)
    if v.shape != x.shape:
        raise ValueError(f"hvp: v has shape {v.shape}, x has shape {x.shape}")
    if not g.requires_grad:  # fn is linear in x: its Hessian is 0
        return out.detach(), Tensor(np.zeros(x.shape), dtype=x.dtype)
    (hv,) = grad(g, xs, grad_outputs=v, allow_unused=True)
    return out.detach(), hv if hv is not None else Tensor(np.zeros(x.shape), dtype=x.dtype)


def gradgradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Check second derivatives: the gradient of ``fn`` (for a random upstream gradient),
    differentiated by ``create_graph``, against finite differences of that gradient.

    ``inputs`` as for :func:`engine.gradcheck` (float64 Tensors that require grad, or Values;
    listed, or PyTorch's one tuple). Returns True or raises GradcheckError naming the input
    and element (``raise_exception=False``: returns False).
    """
    inputs = torch_inputs(inputs)
    targets = [t for t in inputs if isinstance(t, Value) or
               (isinstance(t, Tensor) and t.requires_grad)]
    if not targets:
        raise ValueError("gradgradcheck: no input requires grad")
    out0 = fn(*inputs)
    rng = np.random.default_rng(seed)
    v = None if isinstance(out0, Value) else rng.standard_normal(out0.shape)
    w = rng.standard_normal(len(targets))  # Value graphs: one random mix of the gradients

    def first_grads(*ins):
        out = fn(*ins)
        tg = [t for t in ins if isinstance(t, Value) or (isinstance(t, Tensor) and t.requires_grad)]
        gs = grad(out, tg, grad_outputs=None if v is None else v.astype(out.dtype),
                  create_graph=True, allow_unused=True)
        if isinstance(out, Value):
            return sum((wi * g for wi, g in zip(w, gs, strict=True) if g is not None), Value(0.0))
        flat = [(g if g is not None else Tensor(np.zeros(t.shape), dtype=t.dtype)).reshape(-1)
                for g, t in zip(gs, tg, strict=True)]
        from .functional import cat
        return cat(flat)

    try:
        return gradcheck(first_grads, *inputs, eps=eps, atol=atol, rtol=rtol, seed=seed,
                         constant_ok=True)
    except GradcheckError as e:
        if not raise_exception:
            return False
        raise GradcheckError("gradgradcheck (second derivatives): " + str(e)) from None
