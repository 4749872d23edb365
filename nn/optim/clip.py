"""Gradient clipping, in place, between ``backward()`` and ``optimizer.step()``."""
from __future__ import annotations

import math

import numpy as np

from engine import Tensor, get_default_dtype

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(params):
    params = [params] if isinstance(params, Tensor) else list(params)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(params, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Rescale the gradients together so that their total norm is at most ``max_norm``.

    The total norm treats all the gradients as one vector: for p-norms
    ``‖g‖ = (Σ_params ‖g_i‖_p^p)^(1/p)``, and ``max |g|`` for ``norm_type=inf``. When it
    exceeds ``max_norm`` every gradient is multiplied by ``max_norm / (‖g‖ + 1e-6)``
    (PyTorch's factor, also applied when it is within 1e-6 of 1, and NaN when the norm is
    NaN, as PyTorch's; the direction is kept). Parameters without a gradient are ignored.
    ``foreach`` is PyTorch's choice of GPU kernels: taken so its calls run, same numbers.

    Returns the total norm BEFORE clipping (watch it to spot exploding gradients) as
    PyTorch does: a 0-d Tensor without grad, in the gradients' dtype (float32 for float32
    gradients; ``engine.get_default_dtype()`` when no parameter has a gradient, norm 0).
    It is computed in float64 and rounded once to that dtype, so it is the exact norm to
    the dtype's precision (PyTorch accumulates in the gradients' dtype: the two can differ
    in the last float32 digit). ``norm.item()`` or ``float(norm)`` gives a Python float
    for logging.

    >>> import engine, numpy as np
    >>> w = engine.zeros(2, requires_grad=True); w.grad = engine.tensor([3.0, 4.0])
    >>> norm = clip_grad_norm_([w], max_norm=1.0); norm
    tensor(5., shape=(), dtype=float32)
    >>> norm.item()
    5.0
    >>> np.round(w.grad.numpy(), 4)
    array([0.6, 0.8], dtype=float32)
    """
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm!r}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 (or inf), got {norm_type}")
    params = _grads(params)
    if not params:
        return Tensor(np.zeros(()), dtype=get_default_dtype())  # PyTorch's torch.tensor(0.0)
    dtype = np.result_type(*(p.grad.dtype for p in params))
    # Per-parameter norms in float64: the returned number is exact enough to print.
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(p.grad.data))) if p.grad.numel() else 0.0
                    for p in params)
    else:
        norms = [np.linalg.norm(p.grad.data.astype(np.float64).ravel(), ord=norm_type)
                 for p in params]
        total = float(np.linalg.norm(np.array(norms), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of the gradients is {total}; "
                           "some gradient is NaN or infinite (try engine.detect_anomaly())")
    # PyTorch's rule: scale by min(1, max_norm / (‖g‖ + 1e-6)) — so a norm just below
    # max_norm is still scaled by a hair, and a NaN norm makes every gradient NaN (a NaN
    # factor fails "< 1" but is applied: the step is visibly broken, not half-clipped).
    factor = max_norm / (total + 1e-6)
    if factor < 1 or math.isnan(factor):
        with np.errstate(invalid="ignore"):  # inf·0 and NaN factors: meant, as in PyTorch
            for p in params:
                p.grad.mul_(p.grad.dtype.type(factor))  # in place, in the grad's own dtype
    with np.errstate(over="ignore"):  # a float64 norm beyond float32's range is inf there too
        return Tensor(np.asarray(total, dtype=dtype), dtype=dtype)


def clip_grad_value_(params, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place; returns
    None (as PyTorch's). ``foreach`` (PyTorch's GPU kernel choice) changes nothing.

    >>> import engine, numpy as np
    >>> w = engine.zeros(3, requires_grad=True); w.grad = engine.tensor([-5.0, 0.5, 2.0])
    >>> clip_grad_value_([w], 1.0); w.grad
    tensor([-1. ,  0.5,  1. ], shape=(3,), dtype=float32)
    """
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value!r}")
    for p in _grads(params):
        p.grad.clamp_(-clip_value, clip_value)
