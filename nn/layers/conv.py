"""Conv2d and the pooling layers, over engine's Numba im2col / pooling kernels."""
from __future__ import annotations

import engine

from ..module import Module, Parameter
from .init import glorot_uniform, zeros


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2d(Module):
    """2-D convolution (cross-correlation, as every framework): x (N, C, H, W) →
    (N, F, H', W'), ``weight`` (F, C/groups, kh, kw), ``bias`` (F,).

    ``padding`` is an int, a pair, 'valid' or 'same' (Keras's rule). Glorot-uniform init with
    Keras's fans: fan_in = C/groups·kh·kw, fan_out = F·kh·kw/groups.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, dtype=None):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        kh, kw = _pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        self.dilation, self.groups = dilation, groups
        fan_in = in_channels // groups * kh * kw
        fan_out = out_channels // groups * kh * kw
        self.weight = Parameter(glorot_uniform((out_channels, in_channels // groups, kh, kw),
                                               fan_in, fan_out))
        self.bias = Parameter(zeros(out_channels)) if bias else None
        if dtype is not None:
            self.to(dtype)

    def forward(self, x):
        return engine.conv2d(x, self.weight, self.bias, stride=self.stride,
                             padding=self.padding, dilation=self.dilation, groups=self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}"
                + (f", groups={self.groups}" if self.groups != 1 else ""))


class MaxPool2d(Module):
    """Max over ``kernel_size`` windows (stride defaults to the kernel). ``ceil_mode=True``
    is Keras's 'same' pooling for stride = kernel (7 → 4 with pool 2)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.ceil_mode = padding, ceil_mode

    def forward(self, x):
        return engine.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode}")


class AvgPool2d(MaxPool2d):
    """Mean over windows; padded zeros count in the mean (PyTorch's default)."""

    def forward(self, x):
        return engine.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class GlobalAvgPool2d(Module):
    """Mean over H and W: (N, C, H, W) → (N, C) (Keras's GlobalAveragePooling2D)."""

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"GlobalAvgPool2d: expected (N, C, H, W) input, got shape {x.shape}")
        return x.mean(axis=(2, 3))
