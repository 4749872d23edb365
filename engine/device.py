"""PyTorch's device idioms, for code that picks where to run. stepgrad runs on the CPU
(numpy), so the first lines of most PyTorch scripts run unchanged and choose the CPU::

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")   # → cpu
    model.to(device); x = x.to(device)

``torch.cuda.is_available()`` is False, ``device_count()`` 0, and ``manual_seed`` /
``manual_seed_all`` do nothing (PyTorch ignores them silently without CUDA too).
``torch.accelerator.is_available()`` is False and ``current_accelerator()`` None;
``torch.backends.mps.is_available()`` is False; ``torch.backends.cudnn``'s flags
(``benchmark``, ``deterministic``) may be set and change nothing. A GPU device can be named
(``torch.device("cuda")``, as in PyTorch without a GPU); moving anything to it raises.

>>> import engine as torch
>>> torch.device("cuda" if torch.cuda.is_available() else "cpu")
device(type='cpu')
>>> torch.zeros(2).to(torch.device("cpu")).device
device(type='cpu')
"""
from __future__ import annotations

from types import SimpleNamespace

__all__ = ["device", "cuda", "accelerator", "backends", "cpu_only"]


class device:
    """A device name, as ``torch.device``: ``device('cpu')``, ``device('cuda:1')``,
    ``device('cuda', 1)``; ``type`` and ``index`` as PyTorch's."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        name = str(type)
        if ":" in name:
            if index is not None:
                raise ValueError(f"device: the index is given twice ({name!r} and {index!r})")
            name, _, idx = name.partition(":")
            if not idx.isdigit():
                raise ValueError(f"device: invalid device string {type!r}")
            index = int(idx)
        from .tensor import DEVICES
        if name not in DEVICES:
            raise ValueError(f"device: expected one of {', '.join(DEVICES)} device type at "
                             f"start of device string: {type!r}")
        self.type, self.index = name, index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type,
                                                                         other.index)

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")


def cpu_only(who, device):
    """A layer's ``device=`` argument: None or the CPU; any other is a ValueError naming the
    layer (stepgrad runs on numpy)."""
    if device not in (None, "cpu") and str(device) != "cpu":
        raise ValueError(f"{who}: stepgrad runs on the CPU only, got device={device!r}")


def _false(*args, **kwargs):
    return False


def _nothing(*args, **kwargs):
    return None


#: ``torch.cuda``: no CUDA here.
cuda = SimpleNamespace(is_available=_false, device_count=lambda: 0, is_initialized=_false,
                       manual_seed=_nothing, manual_seed_all=_nothing)

#: ``torch.accelerator`` (PyTorch ≥ 2.6, the "Learn the Basics" tutorials' first line:
#: ``device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available()
#: else "cpu"``): no accelerator, so ``current_accelerator()`` is None, as PyTorch's on a CPU.
accelerator = SimpleNamespace(is_available=_false, current_accelerator=_nothing,
                              device_count=lambda: 0)

#: ``torch.backends``: ``mps.is_available()`` False; ``cudnn``'s flags settable, unused.
backends = SimpleNamespace(
    mps=SimpleNamespace(is_available=_false, is_built=_false),
    cuda=SimpleNamespace(is_built=_false),
    cudnn=SimpleNamespace(is_available=_false, enabled=True, benchmark=False,
                          deterministic=False))
