"""Adversarial examples: the fast gradient sign method (Goodfellow et al., 2015)."""
from __future__ import annotations

import numpy as np

from engine import Tensor

from . import functional as F


def fgsm(model, x, label, epsilon, loss=None, clip=None) -> Tensor:
    """``x_adv = x + ε · sign(∇ₓ L(model(x), label))``, optionally clipped to ``clip=(lo, hi)``
    (the valid pixel range). x (N, ...) → x_adv of the same shape (a new leaf Tensor).

    ``loss`` defaults to ``cross_entropy`` (the model outputs logits). The model's parameter
    gradients are left as they were.
    """
    loss = loss or F.cross_entropy
    data = x.data if isinstance(x, Tensor) else np.asarray(x, np.float32)
    xt = Tensor(data, dtype=data.dtype if data.dtype.kind == "f" else None, requires_grad=True)
    params = list(model.parameters())
    saved = [(p, p.grad, p.requires_grad) for p in params]
    try:
        for p in params:  # only dL/dx is needed
            p.requires_grad = False
        loss(model(xt), label).backward()
    finally:
        for p, grad, req in saved:
            p.grad, p.requires_grad = grad, req
    adv = xt.data + xt.dtype.type(epsilon) * np.sign(xt.grad.data)
    if clip is not None:
        adv = np.clip(adv, clip[0], clip[1])
    return Tensor(adv, dtype=adv.dtype)
