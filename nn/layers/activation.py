"""Activation layers: thin Modules over the elementwise ops, so they show up in summaries.

PyTorch's ``inplace=True`` is taken where PyTorch has it, with PyTorch's meaning: the layer
writes its result into its input and returns it (through the functional form's ``inplace=True``,
with PyTorch's in-place rules: a leaf that requires grad is refused)."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..module import Module, Parameter
from .init import refill


class ReLU(Module):
    """``max(x, 0)``."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return F.relu(x, inplace=self.inplace)


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope · x``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope, inplace=self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """``1 / (1 + e^(−x))``."""

    def forward(self, x):
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class Softmax(Module):
    """``e^(x_i) / Σ_j e^(x_j)`` along ``dim`` (``axis=`` numpy's name). Without one,
    PyTorch's deprecated implicit choice, per call (``F.implicit_dim``: dim 0 for 0-, 1-
    and 3-D input, else dim 1; a warning from 3-D on, where it is not the last dim)."""

    def __init__(self, axis: int | None = None, dim: int | None = None):
        super().__init__()
        if axis is not None and dim is not None and axis != dim:
            raise TypeError(f"{type(self).__name__}: got axis={axis} and dim={dim} (same "
                            f"meaning): give one")
        self.axis = axis if dim is None else dim  # None: PyTorch's implicit choice per call

    def _axis(self, x):
        if self.axis is None:
            return F.implicit_dim(type(self).__name__, x.ndim, stacklevel=5)
        return self.axis

    def forward(self, x):
        return x.softmax(self._axis(x))

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """``log softmax(x)`` along ``dim`` (stable)."""

    def forward(self, x):
        return x.log_softmax(self._axis(x))


class Softmin(Softmax):
    """``softmax(−x)`` along ``dim``."""

    def forward(self, x):
        return x.softmin(self._axis(x))


class GELU(Module):
    """``x·Φ(x)`` (exact, with erf) or its tanh approximation (``approximate='tanh'``)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return x.gelu(self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """``ln(1 + e^(βx))/β``, and x itself where βx > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return x.softplus(self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """``x`` where x > 0, else α(eˣ − 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, x):
        return F.elu(x, self.alpha, inplace=self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class CELU(ELU):
    """``x`` where x > 0, else α(e^(x/α) − 1)."""

    def forward(self, x):
        return F.celu(x, self.alpha, inplace=self.inplace)


class Hardtanh(Module):
    """``clip(x, min_val, max_val)`` (gradient 0 at the bounds)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} must not exceed max_val {max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val, inplace=self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class _Pointwise(Module):
    """An activation without parameters: ``forward`` is the function ``F.<method>``, in place
    with ``inplace=True``."""

    method = ""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return getattr(F, self.method)(x, inplace=self.inplace)


class SELU(_Pointwise):
    """``scale·elu(x, α)`` with the self-normalising constants."""
    method = "selu"


class SiLU(_Pointwise):
    """``x·σ(x)`` (swish)."""
    method = "silu"


class Mish(_Pointwise):
    """``x·tanh(softplus(x))``."""
    method = "mish"


class ReLU6(_Pointwise):
    """``min(max(x, 0), 6)``."""
    method = "relu6"


class Hardsigmoid(_Pointwise):
    """``relu6(x + 3)/6``."""
    method = "hardsigmoid"


class Hardswish(_Pointwise):
    """``x·relu6(x + 3)/6``."""
    method = "hardswish"


class LogSigmoid(Module):
    """``ln σ(x)`` (stable)."""

    def forward(self, x):
        return x.logsigmoid()


class Softsign(Module):
    """``x/(1 + |x|)``."""

    def forward(self, x):
        return x.softsign()


class PReLU(Module):
    """``x`` where x > 0, else a·x with a learned slope ``a``: one for all channels
    (``num_parameters=1``) or one per channel (dim 1), initialised to ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=None):
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(np.full(num_parameters, init), dtype=dtype)

    def reset_parameters(self):
        """Every slope back to ``init``, in place (PyTorch's)."""
        refill(self.weight, self.init)

    def forward(self, x):
        return x.prelu(self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Identity(Module):
    """Returns its input (a placeholder, e.g. a removed head in transfer learning)."""

    def forward(self, x):
        return x


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W) input (dim −3), at each pixel."""

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected (N, C, H, W) or (C, H, W) input, got shape "
                             f"{x.shape}")
        return x.softmax(-3)


class Threshold(Module):
    """x where x > ``threshold``, else ``value`` (``F.threshold``)."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, x):
        return F.threshold(x, self.threshold, self.value, inplace=self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}"


class RReLU(Module):
    """Randomized leaky relu (``F.rrelu``): while training, x < 0 is scaled by a fresh
    a ~ U(lower, upper) per element; in eval mode by (lower + upper) / 2."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        if not lower <= upper:
            raise ValueError(f"RReLU: the lower bound {lower} must not exceed the upper bound "
                             f"{upper}")
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, x):
        return F.rrelu(x, self.lower, self.upper, self.training, inplace=self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}"


class GLU(Module):
    """Gated linear unit: x halved along ``dim`` into a, b → ``a · σ(b)`` (``F.glu``)."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.glu(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softshrink(Module):
    """``x − λ`` above λ, ``x + λ`` below −λ, else 0 (``F.softshrink``)."""

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        if lambd < 0:
            raise ValueError(f"Softshrink: lambd must be non-negative, got {lambd}")
        self.lambd = lambd

    def forward(self, x):
        return F.softshrink(x, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x where |x| > λ, else 0 (``F.hardshrink``)."""

    def forward(self, x):
        return F.hardshrink(x, self.lambd)


class Tanhshrink(Module):
    """``x − tanh(x)`` (``F.tanhshrink``)."""

    def forward(self, x):
        return F.tanhshrink(x)
