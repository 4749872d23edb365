"""Convolutions, pooling and resizing layers, over engine's Numba im2col / pooling kernels."""
from __future__ import annotations

import numpy as np

import engine
from engine.fast.conv import ntuple, padding_amounts, unbatched
from engine.fast.pool import check_divisor_override
from engine.ops.compose import pixel_shuffle, pixel_unshuffle
from engine.ops.indexing import pad

from .. import functional as F
from ..module import Module, Parameter
from .init import glorot_uniform, refill


def _nonzero(v):
    """Whether an int-or-tuple argument has a nonzero entry (what a repr shows)."""
    return bool(np.any(np.asarray(v) != 0))


def _reset_conv(m, fan_in_channels, fan_out_channels):
    """A conv layer's ``weight`` Glorot-uniform, in place, with fan_in = fan_in_channels ×
    the kernel's size and fan_out likewise (Keras's fans); its ``bias`` zero."""
    window = int(np.prod(m.weight.shape[2:]))
    refill(m.weight, glorot_uniform(m.weight.shape, fan_in_channels * window,
                                    fan_out_channels * window))
    if m.bias is not None:
        refill(m.bias, 0.0)


class Conv2d(Module):
    """2-D convolution (cross-correlation, as every framework): x (N, C, H, W) →
    (N, F, H', W'), or PyTorch's unbatched (C, H, W) → (F, H', W'); ``weight``
    (F, C/groups, kh, kw), ``bias`` (F,).

    ``padding`` is an int, a pair, 'valid' or 'same' (Keras's rule). Glorot-uniform init with
    Keras's fans: fan_in = C/groups·kh·kw, fan_out = F·kh·kw/groups.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        _build_conv(self, "Conv2d", 2, in_channels, out_channels, kernel_size, stride, padding,
                    dilation, groups, bias, padding_mode, dtype)

    def reset_parameters(self):
        """Draw the parameters anew, in place (PyTorch's name): Glorot-uniform ``weight``
        with Keras's fans (fan_in = C/groups·kernel, fan_out = F/groups·kernel), zero
        ``bias``."""
        _reset_conv(self, self.weight.shape[1], self.weight.shape[0] // self.groups)

    def forward(self, x):
        return _convolve(self, engine.conv2d, x)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}"
                + (f", groups={self.groups}" if self.groups != 1 else "")
                + (f", padding_mode={self.padding_mode!r}" if self.padding_mode != "zeros"
                   else ""))


# Conv2d's padding_mode → F.pad's mode ('zeros' is the convolution's own padding).
_PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                  "circular": "circular"}


def _build_conv(layer, who, n, in_channels, out_channels, kernel_size, stride, padding,
                dilation, groups, bias, padding_mode, dtype, output_padding=None):
    """What the constructors of Conv1d/2d/3d and ConvTranspose1d/2d/3d (n spatial dims)
    share: the checks (groups divides both channel counts; padding_mode; kernel_size an
    int ≥ 1 or n of them), the attributes, and ``weight`` (C_out, C_in/groups, *kernel)
    and ``bias`` (C_out,) drawn by ``reset_parameters`` and cast to ``dtype``.

    A transposed convolution (``output_padding`` given) takes only padding_mode 'zeros', as
    PyTorch's, and has PyTorch's weight layout, input channels first:
    (C_in, C_out/groups, *kernel)."""
    transposed = output_padding is not None
    if transposed and padding_mode != "zeros":
        raise ValueError(f"{who}: only padding_mode='zeros' is supported (as in "
                         f"PyTorch), got {padding_mode!r}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{who}: groups={groups} must divide in_channels={in_channels} "
                         f"and out_channels={out_channels}")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"{who}: padding_mode must be one of "
                         f"{', '.join(map(repr, _PADDING_MODES))}, got {padding_mode!r}")
    kernel = ntuple(kernel_size, n, "kernel_size", who, 1)
    if transposed:
        layer.output_padding = output_padding
    else:
        layer.padding_mode = padding_mode
    layer.in_channels, layer.out_channels = in_channels, out_channels
    layer.kernel_size, layer.stride, layer.padding = kernel, stride, padding
    layer.dilation, layer.groups = dilation, groups
    channels = ((in_channels, out_channels // groups) if transposed
                else (out_channels, in_channels // groups))
    layer.weight = Parameter(np.empty(channels + kernel, np.float32))
    layer.bias = Parameter(np.empty(out_channels, np.float32)) if bias else None
    layer.reset_parameters()
    if dtype is not None:
        layer.to(dtype)


def _convolve(layer, conv, x):
    """``layer``'s convolution (Conv1d's or Conv2d's: ``conv`` is engine.conv1d or conv2d)
    of x: a padding_mode other than 'zeros' pads x by that mode first (``_pad_amounts``),
    then convolves without padding; 'zeros' leaves the padding to the convolution."""
    padding = layer.padding
    if layer.padding_mode != "zeros":
        amounts = _pad_amounts(type(layer).__name__, padding, layer.kernel_size, layer.stride,
                               layer.dilation, x.shape[-len(layer.kernel_size):])
        x = pad(x, amounts, mode=_PADDING_MODES[layer.padding_mode])
        padding = 0
    return conv(x, layer.weight, layer.bias, stride=layer.stride, padding=padding,
                dilation=layer.dilation, groups=layer.groups)


def _pad_amounts(op, padding, kernel_size, stride, dilation, sizes):
    """F.pad's amounts, last spatial dim first, that a convolution's ``padding`` adds to
    input of spatial ``sizes`` (L) or (H, W): (left, right) or (left, right, top, bottom);
    ``padding`` read as engine's convolutions read it (``padding_amounts``), except that a
    negative amount crops, as PyTorch's padding modes do."""
    n = len(kernel_size)
    pairs = padding_amounts(op, padding, sizes, kernel_size,
                            ntuple(stride, n, "stride", op, 1),
                            ntuple(dilation, n, "dilation", op, 1), minimum=None)
    return tuple(amount for before_after in reversed(pairs) for amount in before_after)


class Conv1d(Module):
    """1-D convolution over sequences: x (N, C, L) → (N, F, L'), or unbatched (C, L) →
    (F, L'); ``weight`` (F, C/groups, k), ``bias`` (F,);
    ``L' = (L + 2·padding − dilation·(k − 1) − 1) // stride + 1``.

    ``padding``: an int, 'valid' or 'same'; ``padding_mode`` as Conv2d's ('zeros',
    'reflect', 'replicate', 'circular'). Glorot-uniform init with Keras's fans (fan_in =
    C/groups·k, fan_out = F·k/groups), as Conv2d.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        _build_conv(self, "Conv1d", 1, in_channels, out_channels, kernel_size, stride, padding,
                    dilation, groups, bias, padding_mode, dtype)

    reset_parameters = Conv2d.reset_parameters

    def forward(self, x):
        return _convolve(self, engine.conv1d, x)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}"
                + (f", dilation={self.dilation}" if self.dilation != 1 else "")
                + (f", groups={self.groups}" if self.groups != 1 else ""))


class Conv3d(Module):
    """3-D convolution over volumes or video clips: x (N, C, D, H, W) → (N, F, D', H', W'),
    or unbatched (C, D, H, W) → (F, D', H', W') (``engine.conv3d``); ``weight``
    (F, C/groups, kd, kh, kw), ``bias`` (F,). ``D' = (D + 2·padding − dilation·(kd − 1) − 1)
    // stride + 1`` (H', W' alike).

    ``padding``: an int, a triple, 'valid' or 'same'; ``padding_mode`` as Conv2d's ('zeros',
    'reflect', 'replicate', 'circular'). Glorot-uniform init with Keras's fans (fan_in =
    C/groups·kd·kh·kw, fan_out = F·kd·kh·kw/groups), as Conv2d (PyTorch draws Kaiming-uniform:
    copy weights over to reproduce its numbers).

    >>> import engine
    >>> Conv3d(2, 4, 3, padding=1)(engine.zeros(1, 2, 8, 16, 16)).shape
    (1, 4, 8, 16, 16)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__()
        _build_conv(self, "Conv3d", 3, in_channels, out_channels, kernel_size, stride, padding,
                    dilation, groups, bias, padding_mode, dtype)

    reset_parameters = Conv2d.reset_parameters

    def forward(self, x):
        return _convolve(self, engine.conv3d, x)

    extra_repr = Conv2d.extra_repr


class ConvTranspose2d(Module):
    """Transposed 2-D convolution (the decoder's upsampling layer): x (N, C_in, H, W) →
    (N, C_out, Ho, Wo), or unbatched (C_in, H, W) → (C_out, Ho, Wo), ``Ho = (H − 1)·stride −
    2·padding + dilation·(kh − 1) + output_padding + 1``; ``weight`` (C_in, C_out/groups, kh,
    kw) (PyTorch's layout: input channels first), ``bias`` (C_out,).

    ``forward(x, output_size=...)`` picks the output_padding that gives that size (an
    (H, W), or a full shape: (N, C, H, W) for batched x, (C, H, W) for unbatched), e.g. the
    shape of the encoder's input that a strided Conv2d halved. Glorot-uniform init (fan_in =
    C_in/groups·kh·kw, fan_out = C_out/groups·kh·kw).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 dtype=None):
        super().__init__()
        _build_conv(self, type(self).__name__, len(self._dims), in_channels, out_channels,
                    kernel_size, stride, padding, dilation, groups, bias, padding_mode, dtype,
                    output_padding)

    _dims, _layout = ("H", "W"), "(N, C_in, H, W)"
    _convolve = staticmethod(engine.conv_transpose2d)

    def reset_parameters(self):
        """Draw the parameters anew, in place: Glorot-uniform ``weight`` (C_in, C_out/groups,
        kh, kw) with fan_in = C_in/groups·kh·kw, fan_out = C_out/groups·kh·kw; zero bias."""
        _reset_conv(self, self.weight.shape[0] // self.groups, self.weight.shape[1])

    def forward(self, x, output_size=None):
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(x, output_size)
        return self._convolve(x, self.weight, self.bias, stride=self.stride,
                              padding=self.padding, output_padding=output_padding,
                              groups=self.groups, dilation=self.dilation)

    def _output_padding(self, x, output_size):
        """The output_padding that makes the output ``output_size`` (PyTorch's rule: it must
        lie between the size without output padding and stride − 1 more). ``output_size``:
        the spatial size ((H, W); (L,) or L for 1-D) or the whole shape, (N, C, …) for batched
        x, (C, …) for unbatched."""
        who, n = type(self).__name__, len(self._dims)
        full = n + 1 if unbatched(who, x, self._layout) else n + 2
        if isinstance(output_size, int) and n == 1:
            output_size = (output_size,)
        if len(tuple(output_size)) not in (n, full):
            spatial = ", ".join(self._dims)
            shape = f"(C, {spatial})" if full == n + 1 else f"(N, C, {spatial})"
            raise ValueError(f"{who}: output_size must be ({spatial}) or {shape} for "
                             f"{full}-D input, got {output_size!r}")
        size, x_shape = tuple(output_size)[-n:], tuple(x.shape)
        pads = []
        for d, (m, k, s, p, dil) in enumerate(zip(
                x_shape[-n:], self.kernel_size, ntuple(self.stride, n, "stride", who, 1),
                ntuple(self.padding, n, "padding", who, 0),
                ntuple(self.dilation, n, "dilation", who, 1), strict=True)):
            lo = (m - 1) * s - 2 * p + dil * (k - 1) + 1
            hi = lo + s - 1
            if not lo <= size[d] <= hi:
                raise ValueError(f"{who}: requested an output size of {size}, but "
                                 f"valid sizes for input {x_shape} range from "
                                 f"{lo} to {hi} in dim {d}")
            pads.append(size[d] - lo)
        return tuple(pads)

    def extra_repr(self):
        op = self.output_padding
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}"
                + (f", output_padding={op}" if _nonzero(op) else "")
                + (f", dilation={self.dilation}" if _nonzero(np.subtract(self.dilation, 1))
                   else "")
                + (f", groups={self.groups}" if self.groups != 1 else ""))


class MaxPool2d(Module):
    """Max over ``kernel_size`` windows of (N, C, H, W) or unbatched (C, H, W) input (stride
    defaults to the kernel). ``ceil_mode=True``
    is Keras's 'same' pooling for stride = kernel (7 → 4 with pool 2). ``dilation`` spaces
    the window's taps; ``return_indices=True`` returns (out, indices) for MaxUnpool2d."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.dilation, self.return_indices = dilation, return_indices

    def forward(self, x):
        return engine.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                 self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}"
                + (f", dilation={self.dilation}" if _nonzero(np.subtract(self.dilation, 1))
                   else "")
                + f", ceil_mode={self.ceil_mode}"
                + (", return_indices=True" if self.return_indices else ""))


class AvgPool2d(Module):
    """Mean over windows of (N, C, H, W) or unbatched (C, H, W) input, as
    ``F.avg_pool2d``: padded zeros count in the mean unless ``count_include_pad=False``;
    ``divisor_override`` d (a nonzero int) divides every window's sum by d instead.
    ``export_onnx`` refuses ``divisor_override`` (ONNX's AveragePool has none)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        # Checked here, not at the first forward as PyTorch: the error points at this line.
        divisor_override = check_divisor_override(type(self).__name__,  # a plain int
                                                  divisor_override)
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        return engine.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                 self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode}"
                + ("" if self.count_include_pad else ", count_include_pad=False")
                + ("" if self.divisor_override is None
                   else f", divisor_override={self.divisor_override}"))


class MaxPool1d(Module):
    """Max over windows of ``kernel_size`` steps: (N, C, L) → (N, C, L'), (C, L) → (C, L')."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x):
        return engine.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                 self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """Mean over windows of ``kernel_size`` steps: (N, C, L) → (N, C, L'), (C, L) → (C, L')."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return engine.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                 self.count_include_pad)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}")


class MaxUnpool2d(Module):
    """max_pool2d's partial inverse: ``unpool(y, indices)`` puts each value back where its
    maximum was (zeros elsewhere); ``output_size=`` picks among the sizes a floor-mode pool
    could have come from. y and indices (N, C, H, W), or unbatched (C, H, W)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x, indices, output_size=None):
        return engine.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding,
                                   output_size)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, "
                f"padding={self.padding}")


class MaxUnpool1d(MaxUnpool2d):
    """max_pool1d's partial inverse (``F.max_unpool1d``): y and indices (N, C, L), or
    unbatched (C, L); ``output_size=`` as MaxUnpool2d's."""

    def forward(self, x, indices, output_size=None):
        return F.max_unpool1d(x, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class LPPool2d(Module):
    """Power-average pooling, (Σ_window xᵖ)^(1/p) (``F.lp_pool2d``)."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, x):
        return F.lp_pool2d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(LPPool2d):
    """Power-average pooling over the last dim (``F.lp_pool1d``)."""

    def forward(self, x):
        return F.lp_pool1d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class ChannelShuffle(Module):
    """ShuffleNet's channel shuffle (``F.channel_shuffle``)."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        return F.channel_shuffle(x, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"


class AdaptiveAvgPool2d(Module):
    """Average pooling of (N, C, H, W) or unbatched (C, H, W) input to a fixed ``output_size``
    whatever the input size (an int, a pair, None in a pair for "as the input");
    ``AdaptiveAvgPool2d(1)`` is global average pooling keeping (N, C, 1, 1)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return engine.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class ConvTranspose1d(ConvTranspose2d):
    """Transposed 1-D convolution: x (N, C_in, L) → (N, C_out, Lo), or unbatched (C_in, L)
    → (C_out, Lo), ``Lo = (L − 1)·stride − 2·padding + dilation·(k − 1) + output_padding +
    1`` (``F.conv_transpose1d``); ``weight`` (C_in, C_out/groups, k), ``bias`` (C_out,);
    ``forward(x, output_size=...)`` as ConvTranspose2d's. Glorot-uniform init (fan_in =
    C_in/groups·k, fan_out = C_out/groups·k)."""

    _dims, _layout = ("L",), "(N, C_in, L)"
    _convolve = staticmethod(engine.conv_transpose1d)


class ConvTranspose3d(ConvTranspose2d):
    """Transposed 3-D convolution (a 3-D U-Net's upsampling): x (N, C_in, D, H, W) →
    (N, C_out, Do, Ho, Wo), or unbatched (C_in, D, H, W), ``Do = (D − 1)·stride − 2·padding
    + dilation·(kd − 1) + output_padding + 1`` (``engine.conv_transpose3d``); ``weight``
    (C_in, C_out/groups, kd, kh, kw), ``bias`` (C_out,); ``forward(x, output_size=...)`` as
    ConvTranspose2d's, with (D, H, W) sizes.

    >>> import engine
    >>> ConvTranspose3d(4, 2, 2, stride=2)(engine.zeros(1, 4, 3, 5, 5)).shape
    (1, 2, 6, 10, 10)
    """

    _dims, _layout = ("D", "H", "W"), "(N, C_in, D, H, W)"
    _convolve = staticmethod(engine.conv_transpose3d)


class AdaptiveMaxPool2d(Module):
    """Max pooling of (N, C, H, W) or unbatched (C, H, W) input to a fixed ``output_size``
    (windows as AdaptiveAvgPool2d);
    ``return_indices=True`` returns (out, indices)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return engine.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class _Adaptive1d(Module):
    """Adaptive pooling of (N, C, L), or PyTorch's unbatched (C, L), to a fixed length
    (``F.adaptive_avg_pool1d`` / ``F.adaptive_max_pool1d``)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = F.output_length(type(self).__name__, output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_Adaptive1d):
    """Average pooling of (N, C, L) or (C, L) to a fixed length (AdaptiveAvgPool2d on
    (N, C, 1, L))."""

    def forward(self, x):
        return F.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveMaxPool1d(_Adaptive1d):
    """Max pooling of (N, C, L) or (C, L) to a fixed length (AdaptiveMaxPool2d on
    (N, C, 1, L)); ``return_indices=True`` returns (out, indices)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x):
        return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)


class Unfold(Module):
    """Sliding windows as columns, PyTorch's ``nn.Unfold(kernel_size, dilation, padding,
    stride)``: (N, C, H, W) → (N, C·kh·kw, L) (``F.unfold``)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x):
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Unfold):
    """Columns summed back into images, PyTorch's ``nn.Fold(output_size, kernel_size,
    dilation, padding, stride)``: (N, C·kh·kw, L) → (N, C, H, W) (``F.fold``; overlapping
    windows add up)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, x):
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return f"output_size={self.output_size}, " + super().extra_repr()


class Upsample(Module):
    """Resize (N, C, L) or (N, C, H, W) inputs to ``size`` or by ``scale_factor`` (PyTorch's
    ``nn.Upsample``; see ``engine.interpolate`` for the modes and ``align_corners``)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        return engine.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                                  self.recompute_scale_factor)

    def extra_repr(self):
        what = (f"size={self.size}" if self.size is not None
                else f"scale_factor={self.scale_factor}")
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` (PyTorch's name)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` (PyTorch's)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class GlobalAvgPool2d(Module):
    """Mean over H and W: (N, C, H, W) → (N, C) (Keras's GlobalAveragePooling2D)."""

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"GlobalAvgPool2d: expected (N, C, H, W) input, got shape {x.shape}")
        return x.mean(axis=(2, 3))


class PixelShuffle(Module):
    """(N, C·r², H, W) → (N, C, H·r, W·r) (``F.pixel_shuffle``): sub-pixel upsampling."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(N, C, H·r, W·r) → (N, C·r², H, W), PixelShuffle's inverse."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x):
        return pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class _Pad(Module):
    """``F.pad`` as a layer: ``padding`` an int (every side) or PyTorch's tuple (left,
    right[, top, bottom]) for the last ``_sides`` dims."""
    _sides, _mode = 1, "constant"

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        n = 2 * self._sides
        self.padding = (padding,) * n if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {n} ints "
                             f"(left, right{', top, bottom' if n == 4 else ''}), got {padding!r}")
        self.value = value

    def forward(self, x):
        value = self.value if self._mode == "constant" else None
        return pad(x, self.padding, mode=self._mode, value=value)

    def extra_repr(self):
        return f"{self.padding}" + (f", value={self.value}" if self.value else "")


class ConstantPad1d(_Pad):
    """Pad the last dim with ``value``."""


class ConstantPad2d(_Pad):
    """Pad the last two dims with ``value``."""
    _sides = 2


class ZeroPad1d(_Pad):
    """Pad the last dim with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims with zeros (Keras's ``ZeroPadding2D``)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad1d(_Pad):
    """Mirror the last dim at its edges (without repeating the edge)."""
    _mode = "reflect"


class ReflectionPad2d(_Pad):
    """Mirror the last two dims at their edges (CycleGAN's padding)."""
    _sides, _mode = 2, "reflect"


class ReplicationPad1d(_Pad):
    """Repeat the edge values of the last dim."""
    _mode = "replicate"


class ReplicationPad2d(_Pad):
    """Repeat the edge values of the last two dims."""
    _sides, _mode = 2, "replicate"


class CircularPad1d(_Pad):
    """Wrap the last dim around (its end continues from its start)."""
    _mode = "circular"


class CircularPad2d(_Pad):
    """Wrap the last two dims around (a torus)."""
    _sides, _mode = 2, "circular"


class MaxPool3d(MaxPool2d):
    """Max over ``kernel_size`` windows of (N, C, D, H, W) or unbatched (C, D, H, W) input
    (``engine.max_pool3d``; stride defaults to the kernel); ``dilation``, ``ceil_mode``,
    ``return_indices`` (for MaxUnpool3d) as MaxPool2d's."""

    def forward(self, x):
        return engine.max_pool3d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                 self.ceil_mode, self.return_indices)


class AvgPool3d(AvgPool2d):
    """Mean over windows of (N, C, D, H, W) or unbatched (C, D, H, W) input
    (``engine.avg_pool3d``): ``count_include_pad``, ``divisor_override``, ``ceil_mode`` as
    AvgPool2d's."""

    def forward(self, x):
        return engine.avg_pool3d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                 self.count_include_pad, self.divisor_override)


class MaxUnpool3d(MaxUnpool2d):
    """max_pool3d's partial inverse (``engine.max_unpool3d``): y and indices (N, C, D, H, W),
    or unbatched (C, D, H, W); ``output_size=`` as MaxUnpool2d's."""

    def forward(self, x, indices, output_size=None):
        return engine.max_unpool3d(x, indices, self.kernel_size, self.stride, self.padding,
                                   output_size)


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """Average pooling of (N, C, D, H, W) or unbatched (C, D, H, W) input to a fixed
    ``output_size`` (an int, a triple, None in it for "as the input");
    ``AdaptiveAvgPool3d(1)`` is global average pooling keeping (N, C, 1, 1, 1)."""

    def forward(self, x):
        return engine.adaptive_avg_pool3d(x, self.output_size)


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    """Max pooling of (N, C, D, H, W) or unbatched (C, D, H, W) input to a fixed
    ``output_size`` (windows as AdaptiveAvgPool3d); ``return_indices=True`` returns
    (out, indices)."""

    def forward(self, x):
        return engine.adaptive_max_pool3d(x, self.output_size, self.return_indices)
