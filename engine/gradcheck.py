"""Strict gradient checking by central finite differences (float64, PyTorch's tolerances).

For an input x and output y = f(x), the numerical Jacobian column for element i is
``(f(x + eps·eᵢ) − f(x − eps·eᵢ)) / 2eps``; the analytical one comes from ``backward`` with a
one-hot upstream gradient. Small problems compare every Jacobian entry; large ones compare
random projections ``vᵀ J u`` (u a random input direction, v a random output cotangent).
An element passes when ``|analytic − numeric| ≤ atol + rtol·|numeric|``.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor
from .value import Value

FULL_LIMIT = 4096  # check every Jacobian entry when n_inputs × n_outputs is at most this


class GradcheckError(AssertionError):
    """A gradient disagrees with finite differences; the message names input, element, values."""


def _output_array(out):
    if isinstance(out, Value):
        return np.array([out.data])
    if isinstance(out, Tensor):
        return out.data.astype(np.float64).ravel()
    raise TypeError(f"gradcheck: fn must return a Tensor or a Value, got {type(out).__name__}")


def _analytic_vjp(fn, inputs, targets, v, constant_ok=False):
    """Gradients of v·f(inputs) w.r.t. each target (list of flat float64 arrays)."""
    for t in targets:
        t.grad = 0.0 if isinstance(t, Value) else None
    out = fn(*inputs)
    constant = not out.requires_grad or (isinstance(out, Value) and not out.parents
                                         and not any(out is t for t in targets))
    if constant and not constant_ok:
        raise GradcheckError("gradcheck: the output does not require grad (no input needing "
                             "a gradient reaches it)")
    if constant:
        pass  # the analytic gradient is zero: the grads stay None / 0.0
    elif isinstance(out, Value):
        out.backward(float(v[0]))
    else:
        out.backward(v.reshape(out.shape).astype(out.dtype))
    grads = []
    for t in targets:
        if isinstance(t, Value):
            grads.append(np.array([t.grad]))
        else:
            grads.append(np.zeros(t.numel()) if t.grad is None else
                         t.grad.data.astype(np.float64).ravel())
    return grads


def _numeric_jvp(fn, inputs, target, u, eps):
    """(f(x + eps·u) − f(x − eps·u)) / 2eps for one target input, u flat."""
    if isinstance(target, Value):
        x0 = target.data
        target.data = x0 + eps * u[0]
        plus = _output_array(fn(*inputs))
        target.data = x0 - eps * u[0]
        minus = _output_array(fn(*inputs))
        target.data = x0
    else:
        x0 = target.data.copy()
        u = u.reshape(x0.shape)
        # Assign through [...] so any memory layout (Fortran, strided) is perturbed in place.
        target.data[...] = x0 + eps * u
        plus = _output_array(fn(*inputs))
        target.data[...] = x0 - eps * u
        minus = _output_array(fn(*inputs))
        target.data[...] = x0
    return (plus - minus) / (2 * eps)


def jacobians(fn, inputs, targets, n_out, eps=1e-6, constant_ok=False):
    """(analytic, numeric) Jacobians, each (n_out, target size), for every target input:
    analytic row by row (one backward per output element), numeric column by column (two
    forwards per input element)."""
    analytic = [np.zeros((n_out, 1 if isinstance(t, Value) else t.numel())) for t in targets]
    for k in range(n_out):
        v = np.zeros(n_out)
        v[k] = 1.0
        for a, g in zip(analytic, _analytic_vjp(fn, inputs, targets, v, constant_ok),
                        strict=True):
            a[k] = g
    out = []
    for t, a in zip(targets, analytic, strict=True):
        num = np.zeros_like(a)
        for j in range(a.shape[1]):
            u = np.zeros(a.shape[1])
            u[j] = 1.0
            num[:, j] = _numeric_jvp(fn, inputs, t, u, eps)
        out.append((a, num))
    return out


def _describe(i, t):
    if isinstance(t, Value):
        return f"input {i} (Value {t.label or t.data!r})"
    return f"input {i} ({t.name + ', ' if t.name else ''}shape {t.shape})"


def torch_inputs(inputs) -> tuple:
    """``inputs`` as given (``gradcheck(fn, x, y)``) or in PyTorch's form, one tuple or list
    (``gradcheck(fn, (x, y))``)."""
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        return tuple(inputs[0])
    return inputs


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, n_directions=8, seed=0,
              constant_ok=False, raise_exception=True):
    """Check ``fn``'s analytic gradients against central finite differences.

    ``inputs`` are float64 Tensors (those with ``requires_grad`` are checked) or Values,
    listed (``gradcheck(fn, x, y)``) or as PyTorch's one tuple (``gradcheck(fn, (x, y))``).
    Returns True, or raises :class:`GradcheckError` naming the input, the worst element and
    both values (``raise_exception=False``: returns False instead, as PyTorch's). The
    inputs' ``.grad`` are left as they were. ``constant_ok``: an output that does not depend
    on the inputs through the graph counts as a zero gradient (gradgradcheck of linear
    functions) instead of an error.

    >>> import engine, numpy as np
    >>> x = engine.tensor(np.linspace(-1, 1, 5), requires_grad=True, dtype=np.float64)
    >>> engine.gradcheck(lambda t: (t.tanh() * t).sum(), x)
    True
    """
    inputs = torch_inputs(inputs)
    kept = [(t, t.grad) for t in inputs if isinstance(t, (Tensor, Value))]
    try:
        return _gradcheck(fn, inputs, eps, atol, rtol, n_directions, seed, constant_ok)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    finally:
        for t, g in kept:  # the checks ran backward: the user's gradients come back
            t.grad = g


def _gradcheck(fn, inputs, eps, atol, rtol, n_directions, seed, constant_ok):
    targets = []
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad:
            if t.dtype != np.float64:
                raise TypeError(f"gradcheck: {_describe(i, t)} is {t.dtype}; finite differences "
                                f"need float64 (use dtype=np.float64 or .double())")
            targets.append((i, t))
        elif isinstance(t, Value):
            targets.append((i, t))
    if not targets:
        raise ValueError("gradcheck: no input requires grad")
    n_out = _output_array(fn(*inputs)).size
    n_in = sum(1 if isinstance(t, Value) else t.numel() for _, t in targets)
    rng = np.random.default_rng(seed)
    ts = [t for _, t in targets]

    if n_in * n_out <= FULL_LIMIT:
        for (i, t), (ana, num) in zip(targets, jacobians(fn, inputs, ts, n_out, eps, constant_ok),
                                      strict=True):
            bad = np.abs(ana - num) > atol + rtol * np.abs(num)
            if bad.any():
                k, j = np.unravel_index(np.argmax(np.abs(ana - num) * bad), bad.shape)
                elem = () if isinstance(t, Value) else np.unravel_index(j, t.shape)
                raise GradcheckError(
                    f"gradcheck: {_describe(i, t)}, element {tuple(int(e) for e in elem)}, "
                    f"output element {k}: analytic {float(ana[k, j])!r} vs numeric "
                    f"{float(num[k, j])!r} (|diff| {abs(ana[k, j] - num[k, j]):.3g} > atol "
                    f"{atol} + rtol {rtol}·|numeric|)")
        return True

    # Large: random projections vᵀ J u, one input at a time so a failure names it.
    for d in range(n_directions):
        v = rng.standard_normal(n_out)
        grads = _analytic_vjp(fn, inputs, ts, v, constant_ok)
        for (i, t), g in zip(targets, grads, strict=True):
            u = rng.standard_normal(g.size)
            ana = float(g @ u)
            num = float(v @ _numeric_jvp(fn, inputs, t, u, eps))
            if abs(ana - num) > atol + rtol * abs(num):
                raise GradcheckError(
                    f"gradcheck: {_describe(i, t)}, random direction {d} (vᵀJu): analytic "
                    f"{ana!r} vs numeric {num!r} (|diff| {abs(ana - num):.3g} > atol {atol} + "
                    f"rtol {rtol}·|numeric|)")
    return True
