"""Say clearly when ``engine``, ``nn`` or ``viz`` is not stepgrad's package.

stepgrad installs three top-level packages with short, common names. A student's
``engine.py`` or ``nn.py`` (micrograd's layout), or another distribution named ``nn`` or
``viz``, can hide them; Python would then fail deep inside an import with a message such as
``cannot import name 'Tensor' from 'engine'``. Each package's ``__init__`` calls
:func:`check_siblings` first; it checks the packages that one needs, by where they are (the
folder next to the caller) and by what they are (their ``__init__.py`` calls this check),
and raises one :class:`ShadowedPackageError` naming the file at fault and the fix.

Only real dependencies are checked (``nn`` needs ``engine``; ``viz`` needs ``engine`` and
``nn``): your own ``nn.py`` may still ``from engine import Value``.
"""
from __future__ import annotations

import importlib.util
import os
import sys

# What each importer needs; "stepgrad" is the facade (stepgrad.engine, .nn, .viz).
NEEDS = {"engine": (), "nn": ("engine",), "viz": ("engine", "nn"),
         "stepgrad": ("engine", "nn", "viz")}
# Every stepgrad package's __init__.py contains this text (its call to the check).
MARKER = b"stepgrad._shadow"


class ShadowedPackageError(ImportError):
    """``engine``, ``nn`` or ``viz`` resolves to something that is not stepgrad's."""


def check_siblings(importer: str, init_file: str) -> None:
    """Raise :class:`ShadowedPackageError` unless each package ``importer`` needs resolves to
    stepgrad's own, the folder beside ``init_file``'s package."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(init_file)))
    for name in NEEDS[importer]:
        problem = _problem(name, root)
        if problem:
            raise ShadowedPackageError(f"stepgrad ({importer}): {problem}", name=name)


def _same(a: str, b: str) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _problem(name: str, root: str) -> str | None:
    """None when ``import name`` gives stepgrad's package in ``root``; else what is wrong."""
    expected = os.path.join(root, name)
    module = sys.modules.get(name)
    if module is not None:
        origin = getattr(module, "__file__", None)
        locations = list(getattr(module, "__path__", None) or ())
    else:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            return (f"stepgrad's package {name!r} is missing (expected in {expected}); "
                    "reinstall stepgrad: pip install --force-reinstall stepgrad")
        origin = spec.origin if spec.has_location else None
        locations = list(spec.submodule_search_locations or ())
    if origin is None and module is not None and not locations:
        return (f"'{name}' is already imported as {module!r}, which is not stepgrad's "
                f"{name} package ({expected}); do not replace it in sys.modules")
    if origin is None:  # a namespace package: a folder named `name` without __init__.py
        if any(_same(loc, expected) for loc in locations):
            return (f"{os.path.join(expected, '__init__.py')} is missing (did uninstalling "
                    f"another distribution that also installs {name!r} delete it?); "
                    "reinstall stepgrad: pip install --force-reinstall stepgrad")
        return (f"'import {name}' finds the folder {locations[0] if locations else '?'} "
                f"(no __init__.py), not stepgrad's {name} package in {expected}: rename that "
                "folder or run Python from another folder")
    if not _same(os.path.dirname(origin), expected):
        owner = _owners(name, exclude="stepgrad")
        fix = (f"uninstall it (pip uninstall {owner[0]})" if owner and not _is_local(origin)
               else f"rename it (e.g. to my_{name}{_suffix(origin)}) or run Python from "
                    "another folder")
        return (f"'import {name}' finds {origin}, which hides stepgrad's {name} package "
                f"({expected}); {fix}. stepgrad needs the import names engine, nn and viz.")
    if origin.endswith(".py") and not _has_marker(origin):
        owner = _owners(name, exclude="stepgrad")
        by = f"the distribution {owner[0]!r}" if owner else "another distribution"
        return (f"{origin} is not stepgrad's (it was overwritten by {by}, which also "
                f"installs a package named {name!r}); fix: pip uninstall "
                f"{owner[0] if owner else '<that distribution>'}, then "
                "pip install --force-reinstall stepgrad")
    return None


def _suffix(origin: str) -> str:
    return ".py" if origin.endswith(".py") and not origin.endswith("__init__.py") else ""


def _is_local(origin: str) -> bool:
    """True for a file in the current folder or the script's folder (sys.path[0])."""
    here = os.path.dirname(os.path.abspath(origin))
    if os.path.basename(origin) == "__init__.py":
        here = os.path.dirname(here)
    starts = [os.getcwd()] + ([sys.path[0] or os.getcwd()] if sys.path else [])
    return any(_same(here, s) for s in starts)


def _has_marker(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return MARKER in f.read(8192)
    except OSError:
        return True  # unreadable (a zip import, say): nothing to say against it


def _owners(name: str, exclude: str) -> list[str]:
    """Installed distributions, other than ``exclude``, that provide the import ``name``."""
    try:
        from importlib.metadata import packages_distributions
        return sorted(d for d in packages_distributions().get(name, ()) if d != exclude)
    except Exception:  # broken metadata of some other package must not hide the real error
        return []
