"""Weight reparametrizations, as PyTorch's ``torch.nn.utils``: ``weight_norm`` (Salimans &
Kingma 2016) and ``spectral_norm`` (Miyato et al. 2018, the SN-GAN discriminator's).

Both replace the parameter ``name`` (``weight``) of a module by new parameters and recompute
``module.weight`` from them in a forward pre-hook, before every call:

- ``weight_norm``: parameters ``weight_g`` (one magnitude per slice along ``dim``) and
  ``weight_v`` (the direction); ``weight = g · v / ‖v‖``, the norm taken over every dim but
  ``dim`` (all of them for ``dim=None``).
- ``spectral_norm``: parameter ``weight_orig`` and buffers ``weight_u``, ``weight_v`` (the
  power iteration's vectors); ``weight = weight_orig / σ`` with σ = uᵀ·W·v ≈ the largest
  singular value of W (weight_orig as a matrix, rows along ``dim``). In training mode each
  call first runs ``n_power_iterations`` steps v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖ (no gradient);
  in eval mode u and v stay as they are.

``remove_weight_norm`` / ``remove_spectral_norm`` put a plain parameter back.
"""
from __future__ import annotations

import numpy as np

import engine

from ..module import Module, Parameter

__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


def _norm_except_dim(v, dim):
    """‖v‖ over every dim but ``dim`` (kept as a size-1 dim elsewhere); over all of them when
    dim is None (PyTorch's dim = −1 here, a scalar)."""
    if dim is None:
        return (v * v).sum() ** 0.5
    others = tuple(d for d in range(v.ndim) if d != dim)
    return (v * v).sum(dim=others, keepdim=True) ** 0.5


class _WeightNorm:
    what, suffixes = "weight_norm", ("_g", "_v")  # what it adds to the module: name + suffix

    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def final(self, module):
        """The weight to keep when the reparametrization is removed."""
        return self.compute(module)

    def compute(self, module):
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module))


def _parameter(module, name, who):
    if not isinstance(module, Module):
        raise TypeError(f"{who}: expected a Module, got {type(module).__name__}")
    for hook, _ in module.__dict__.get("_forward_pre_hooks", {}).values():
        if isinstance(hook, (_WeightNorm, _SpectralNorm)) and hook.name == name:
            raise RuntimeError(f"{who}: cannot register two weight_norm/spectral_norm hooks on "
                               f"the same parameter {name}")
    w = module._parameters.get(name)
    if w is None:
        raise ValueError(f"{who}: {type(module).__name__} has no parameter {name!r}")
    return w


def weight_norm(module, name="weight", dim=0):
    """Reparametrize ``module.<name>`` as g · v/‖v‖ (see the module docstring); returns the
    module. ``dim`` is the dim kept by the norm (0: one magnitude per output unit); None: one
    magnitude for the whole tensor (PyTorch's ``dim=None``, and its ``-1``)."""
    w = _parameter(module, name, "weight_norm")
    if dim == -1:
        dim = None  # PyTorch's: −1 means the whole tensor here, not the last dim
    if dim is not None:
        dim = dim + w.ndim if dim < 0 else dim
    hook = _WeightNorm(name, dim)
    with engine.no_grad():
        g = _norm_except_dim(w, dim)
    delattr(module, name)
    module.register_parameter(name + "_g", Parameter(g.data.copy(), dtype=w.dtype))
    module.register_parameter(name + "_v", Parameter(w.data.copy(), dtype=w.dtype))
    setattr(module, name, hook.compute(module))
    hook.handle = module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``module.<name>`` a plain parameter again, with the current
    value of g · v/‖v‖."""
    return _remove(module, name, _WeightNorm, "remove_weight_norm")


def _remove(module, name, kind, who):
    """Take ``kind``'s hook on ``name`` off ``module``: its parameters and buffers go, and
    ``name`` is a plain parameter again, holding the hook's final weight."""
    hooks = module.__dict__.get("_forward_pre_hooks", {})
    for hook, _ in list(hooks.values()):
        if isinstance(hook, kind) and hook.name == name:
            with engine.no_grad():
                value = hook.final(module)
            hook.handle.remove()
            for suffix in kind.suffixes:
                delattr(module, name + suffix)
            delattr(module, name)
            module.register_parameter(name, Parameter(value.data.copy(), dtype=value.dtype))
            return module
    raise ValueError(f"{who}: {kind.what} of {name!r} not found in {type(module).__name__}")


def _normalize(a, eps):
    return a / max(float(np.sqrt((a * a).sum())), eps)


class _SpectralNorm:
    what, suffixes = "spectral_norm", ("_orig", "_u", "_v")

    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n, self.dim, self.eps = name, n_power_iterations, dim, eps

    def final(self, module):
        return self.compute(module, do_power_iteration=False)

    def matrix(self, w):
        if self.dim != 0:
            w = w.permute(self.dim, *[d for d in range(w.ndim) if d != self.dim])
        return w.reshape(w.shape[0], -1)

    def compute(self, module, do_power_iteration):
        w = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = self.matrix(w)
        if do_power_iteration:
            m = mat.data
            un, vn = u.data.astype(np.float64), v.data.astype(np.float64)
            for _ in range(self.n):
                vn = _normalize(m.T @ un, self.eps)
                un = _normalize(m @ vn, self.eps)
            with engine.no_grad():  # the buffers change in place, as PyTorch's (out=)
                u.copy_(engine.tensor(un, dtype=u.dtype))
                v.copy_(engine.tensor(vn, dtype=v.dtype))
        sigma = (mat @ v.detach()).dot(u.detach())  # the gradient flows through W only
        return w / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm, estimated by power iteration (see the
    module docstring); returns the module. ``dim`` (the rows of W as a matrix): 0, or 1 for
    the transposed convolutions (PyTorch's default)."""
    w = _parameter(module, name, "spectral_norm")
    if n_power_iterations <= 0:
        raise ValueError(f"spectral_norm: expected n_power_iterations to be positive, but got "
                         f"n_power_iterations={n_power_iterations}")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    hook = _SpectralNorm(name, n_power_iterations, dim, eps)
    h, wd = hook.matrix(w).shape
    rng = engine.get_rng()
    u = _normalize(rng.standard_normal(h), eps)
    v = _normalize(rng.standard_normal(wd), eps)
    delattr(module, name)
    module.register_parameter(name + "_orig", w)
    setattr(module, name, w.detach())  # PyTorch's: the raw weight until the first call
    module.register_buffer(name + "_u", engine.tensor(u, dtype=w.dtype))
    module.register_buffer(name + "_v", engine.tensor(v, dtype=w.dtype))
    hook.handle = module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``module.<name>`` a plain parameter holding weight_orig / σ."""
    return _remove(module, name, _SpectralNorm, "remove_spectral_norm")
