"""Batch normalisation (Ioffe & Szegedy 2015, Algorithm 1), PyTorch's conventions.

Training: ``x̂ = (x − μ_B) / √(σ²_B + eps)``, ``y = γ x̂ + β`` with the batch mean and the
biased batch variance over every axis but the channel one; the running statistics (buffers
``running_mean``, ``running_var`` of shape (C,)) move as
``r ← (1 − momentum)·r + momentum·batch`` (running variance unbiased, as PyTorch), and the
buffer ``num_batches_tracked`` (int64, shape ()) counts the training batches, as PyTorch's.
``momentum=None`` is PyTorch's cumulative moving average: the factor of batch k (counted
from 1) is 1/k, so the running statistics are the plain means of every batch's statistics.
Eval: the running statistics replace the batch ones (``track_running_stats=False``: there
are none, and eval normalises with the batch statistics too, as PyTorch). As PyTorch's, the
rule reads the buffers: eval uses them whenever they exist (``track_running_stats = False``
set on a built layer only stops their updates), the batch statistics when they are None.

``affine=True`` learns ``weight`` γ (ones) and ``bias`` β (zeros) per channel; the keyword
``bias=False`` (PyTorch 2's, in every norm layer here) keeps γ and drops β: ``y = γ x̂``.

``GroupNorm`` and ``InstanceNorm1d/2d/3d`` normalise each sample on its own (groups of
channels, or each channel), as ``LayerNorm`` does over its last dims: no running statistics.
"""
from __future__ import annotations

import warnings

import numpy as np

import engine

from .. import functional as F
from ..module import Module, Parameter
from .init import refill, refill_affine


def _affine(num_features, affine, bias):
    """The per-channel (weight, bias) of a norm layer: ones and zeros, or None (no ``affine``;
    no ``bias``: PyTorch 2's keyword, a scale without a shift)."""
    weight = Parameter(np.ones(num_features)) if affine else None
    return weight, Parameter(np.zeros(num_features)) if affine and bias else None


def _no_bias(m):
    return ", bias=False" if m.weight is not None and m.bias is None else ""


class _BatchNorm(Module):
    _dims: tuple = ()
    track_running_stats = True  # subclasses that build lazily (Keras's) always track
    # The running variance takes the batch variance × n/(n − 1) (unbiased: PyTorch's);
    # Keras's BatchNormalization sets this to take it as it is (÷ n).
    biased_running_var = False

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None (a "
                             f"cumulative average, PyTorch's), got {momentum}")
        if momentum is not None and momentum > 0.5:
            # Keras's momentum is the weight of the OLD statistics (default 0.99); ours is
            # PyTorch's, the weight of the NEW batch (default 0.1). A Keras value silently
            # gives running statistics that follow the last batch only.
            warnings.warn(f"{type(self).__name__}: momentum={momentum} weights the new batch "
                          f"statistics by {momentum} (PyTorch's convention); Keras's "
                          f"momentum={momentum} is momentum={1 - momentum:.4g} here",
                          stacklevel=2)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight, self.bias = _affine(num_features, affine, bias)
        self.track_running_stats = track_running_stats
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features))
            self.register_buffer("running_var", np.ones(num_features))
            # PyTorch's counter (in its state_dict too): batches seen in training mode.
            self.register_buffer("num_batches_tracked", engine.Tensor(np.array(0, np.int64),
                                                                      dtype=np.int64))
        else:  # batch statistics in eval mode too, as PyTorch's (no buffers)
            self.running_mean = self.running_var = self.num_batches_tracked = None
        if dtype is not None:
            self.to(dtype)

    def _check(self, x):
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected input of {self._dims} dims with "
                             f"{self.num_features} channels in dim 1, got shape {x.shape}")

    def forward(self, x):
        self._check(x)
        # PyTorch's rule: eval reads the running statistics whenever there are any (so
        # ``bn.track_running_stats = False`` set later keeps them for eval; setting the
        # buffers to None gives batch statistics), and training updates them only while
        # track_running_stats is on.
        use_batch = self.training or self.running_mean is None
        update = self._update_factor if self.training and self.track_running_stats else None
        return F.normalize_batch(type(self).__name__, x, self.running_mean, self.running_var,
                                 self.weight, self.bias, use_batch, update, self.eps,
                                 unbiased_running=not self.biased_running_var)

    def reset_running_stats(self):
        """Running mean 0, running variance 1 and the batch counter 0, in place (PyTorch's)."""
        if self.running_mean is not None:
            refill(self.running_mean, 0.0)
            refill(self.running_var, 1.0)
        if getattr(self, "num_batches_tracked", None) is not None:
            refill(self.num_batches_tracked, 0)

    def reset_parameters(self):
        """The running statistics reset, ``weight`` ones and ``bias`` zeros (PyTorch's)."""
        self.reset_running_stats()
        refill_affine(self)

    def _update_factor(self) -> float:
        """Count this training batch and return the weight of its statistics: ``momentum``,
        or ``1 / num_batches_tracked`` (after counting) for ``momentum=None``, as PyTorch.
        Keras's BatchNormalization (a subclass) has no counter: its momentum only."""
        counter = self._buffers.get("num_batches_tracked")
        if counter is not None:
            counter.add_(1)  # in place: the registered buffer (and its state_dict entry)
        if self.momentum is None:
            return 0.0 if counter is None else 1.0 / float(counter.item())  # PyTorch's 0
        return self.momentum

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}" + (
            "" if self.track_running_stats else ", track_running_stats=False") + _no_bias(self)


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input, statistics per channel C."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input, statistics per channel C."""
    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) input (volumes, video clips), statistics per channel
    C over the batch and the three spatial dims."""
    _dims = (5,)


class LayerNorm(Module):
    """Normalise over the last dims ``normalized_shape`` of each sample (``F.layer_norm``),
    with a learned ``weight`` (ones) and ``bias`` (zeros) of that shape unless
    ``elementwise_affine=False`` (``bias=False``: no bias). No running statistics: train and
    eval compute the same.

    >>> LayerNorm(4)(engine.tensor([[1.0, 2.0, 3.0, 4.0]])).data.round(3)
    array([[-1.342, -0.447,  0.447,  1.342]], dtype=float32)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype=None):
        super().__init__()
        shape = F.normalized_shape_tuple("LayerNorm", normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(np.ones(shape)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape)) if elementwise_affine and bias else None
        if dtype is not None:
            self.to(dtype)

    reset_parameters = refill_affine  # weight ones, bias zeros, in place (PyTorch's)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, " \
               f"elementwise_affine={self.elementwise_affine}"


class RMSNorm(Module):
    """Root-mean-square normalisation over the last dims (``F.rms_norm``), PyTorch's
    ``nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True)``: ``x / √(mean(x²) +
    eps) · weight``, ``weight`` ones; ``eps=None`` is the input dtype's machine epsilon."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine: bool = True,
                 dtype=None):
        super().__init__()
        self.normalized_shape = F.normalized_shape_tuple("RMSNorm", normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape)) if elementwise_affine else None
        if dtype is not None:
            self.to(dtype)

    def reset_parameters(self):
        """``weight`` back to ones, in place (PyTorch's)."""
        if self.weight is not None:
            refill(self.weight, 1.0)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, " \
               f"elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalise each sample's channels in ``num_groups`` groups (``F.group_norm``), then a
    learned per-channel ``weight`` (ones) and ``bias`` (zeros) unless ``affine=False``.
    ``GroupNorm(1, C)`` normalises over (C, H, W) like a LayerNorm with per-channel affine.

    >>> GroupNorm(2, 4)(engine.arange(8.0).reshape(1, 4, 2)).data.round(3)
    array([[[-1.342, -0.447],
            [ 0.447,  1.342],
    <BLANKLINE>
            [-1.342, -0.447],
            [ 0.447,  1.342]]], dtype=float32)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype=None, *, bias: bool = True):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups={num_groups} must divide "
                             f"num_channels={num_channels}")
        self.num_groups, self.num_channels, self.eps, self.affine = (num_groups, num_channels,
                                                                     eps, affine)
        self.weight, self.bias = _affine(num_channels, affine, bias)
        if dtype is not None:
            self.to(dtype)

    reset_parameters = refill_affine  # weight ones, bias zeros, in place (PyTorch's)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected {self.num_channels} channels in dim 1, got "
                             f"shape {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}{_no_bias(self)}")


class _InstanceNorm(Module):
    _dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        if track_running_stats:
            raise ValueError(f"{type(self).__name__}: track_running_stats=True is not "
                             f"supported (each sample is normalised by its own statistics, "
                             f"PyTorch's default)")
        self.num_features, self.eps, self.momentum, self.affine = (num_features, eps, momentum,
                                                                   affine)
        self.weight, self.bias = _affine(num_features, affine, bias)
        if dtype is not None:
            self.to(dtype)

    _check = _BatchNorm._check  # the same shape rule: ``_dims`` dims, the channels in dim 1

    reset_parameters = refill_affine  # weight ones, bias zeros, in place (PyTorch's)

    def forward(self, x):
        """x (N, C, *spatial), or PyTorch's unbatched (C, *spatial) (a batch of one)."""
        unbatched = x.ndim == self._dims[0] - 1
        if unbatched:
            x = x.unsqueeze(0)
        self._check(x)
        y = F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        return y[0] if unbatched else y

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}{_no_bias(self)}"


class InstanceNorm1d(_InstanceNorm):
    """Normalise each (sample, channel) of (N, C, L) (or (C, L)) input over L (style
    transfer's norm)."""
    _dims = (3,)


class InstanceNorm2d(_InstanceNorm):
    """Normalise each (sample, channel) plane of (N, C, H, W) (or (C, H, W)) input over
    H·W."""
    _dims = (4,)


class InstanceNorm3d(_InstanceNorm):
    """Normalise each (sample, channel) volume of (N, C, D, H, W) (or (C, D, H, W)) input
    over D·H·W."""
    _dims = (5,)


class LocalResponseNorm(Module):
    """AlexNet's normalisation across channels (``F.local_response_norm``): x (N, C, …) over
    ``(k + α/size · Σ x²)^β``, the sum over ``size`` neighbouring channels. No parameters."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
