"""stepgrad: one import name for its three packages, ``engine``, ``nn`` and ``viz``.

``stepgrad.engine``, ``stepgrad.nn`` and ``stepgrad.viz`` ARE the top-level packages (the
same module objects, imported on first use), so ``import stepgrad.nn``, ``from stepgrad.nn
import Linear`` and ``import nn`` all give the same classes: a model built one way is an
instance of the other's ``nn.Module``. Nothing is installed twice.

>>> import stepgrad, nn
>>> stepgrad.nn is nn and stepgrad.nn.Linear is nn.Linear
True
>>> from stepgrad.nn.layers import Linear
>>> Linear is nn.Linear
True
>>> stepgrad.__version__ == __import__("importlib.metadata").metadata.version("stepgrad")
True
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# The one place the version is written: setup.cfg reads it (version = attr: ...).
__version__ = "0.2.0"

PACKAGES = ("engine", "nn", "viz")
__all__ = ["__version__", *PACKAGES]


def __getattr__(name):
    """``stepgrad.engine`` / ``.nn`` / ``.viz``: imported on first use (``import stepgrad``
    alone stays cheap), after checking that no local file hides them."""
    if name in PACKAGES:
        from ._shadow import check_siblings
        check_siblings("stepgrad", __file__)
        module = importlib.import_module(name)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'stepgrad' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(PACKAGES))


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import stepgrad.nn.layers`` give the module ``nn.layers`` itself.

    The import system would stamp the alias's spec on the real module; ``exec_module`` puts
    the real spec back, so ``nn.layers.__spec__.name`` stays ``'nn.layers'``.
    """

    def __init__(self):
        self._real_specs = {}

    def find_spec(self, fullname, path=None, target=None):
        head, _, rest = fullname.partition(".")
        if head != __name__ or rest.partition(".")[0] not in PACKAGES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        real_name = spec.name.partition(".")[2]
        if "." not in real_name:
            __getattr__(real_name)  # the shadow check, for the top-level packages
        module = importlib.import_module(real_name)
        self._real_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module):
        alias = module.__spec__.name
        module.__spec__ = self._real_specs.pop(alias)


if not any(type(f).__qualname__ == "_AliasFinder" and type(f).__module__ == __name__
           for f in sys.meta_path):  # once, even if this module is reloaded
    # First: the path finder would otherwise load nn/layers/ a second time as
    # 'stepgrad.nn.layers' (it searches the parent's __path__, which is nn's).
    sys.meta_path.insert(0, _AliasFinder())
