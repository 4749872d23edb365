"""PyTorch's ``torch.nn.utils`` names: gradient clipping, parameters as one vector,
``weight_norm`` / ``spectral_norm`` (``nn/utils/norms.py``), and ``rnn`` (padded and packed
batches of sequences, ``nn.utils.rnn``).

>>> import engine
>>> w = engine.tensor([3.0, 4.0], requires_grad=True)
>>> parameters_to_vector([w]).data
array([3., 4.], dtype=float32)
"""
from __future__ import annotations

import engine

from ..optim.clip import clip_grad_norm_, clip_grad_value_
from . import rnn
from .norms import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "rnn", "parameters_to_vector",
           "vector_to_parameters", "weight_norm", "remove_weight_norm", "spectral_norm",
           "remove_spectral_norm"]


def parameters_to_vector(parameters):
    """Every parameter flattened and joined, in order: one 1-D Tensor (with their graph)."""
    params = list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: no parameters given")
    return engine.cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters (in place, no graph);
    its length must be their total size."""
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: vec of shape {vec.shape} for parameters of "
                         f"{total} elements in all")
    start = 0
    with engine.no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[start:start + n].reshape(p.shape))
            start += n
