"""``save`` / ``load``: nested state dicts of arrays and plain values, without pickle.

File format (a zip archive, readable by ``np.load`` as an ``.npz``):

- ``__stepgrad__.json``: the manifest, ``{"format": "stepgrad", "version": 1, "root": node}``,
  where a node is one of ``{"t": "dict", "items": [[key, value], ...]}`` (keys are nodes
  too, so int keys stay int), ``{"t": "list" | "tuple", "items": [...]}``,
  ``{"t": "ndarray" | "npscalar", "m": member}``, ``{"t": "float", "v": float.hex(x)}``
  (exact, NaN and inf included), or ``{"t": "int" | "bool" | "str" | "none", "v": x}``.
- ``a0.npy``, ``a1.npy``, ...: one ``.npy`` member per array, read back with
  ``allow_pickle=False`` -- nothing in the file is ever executed.

The file is written to a temporary file in the target's directory, fsynced, then
moved into place with ``os.replace``: a crash leaves the old file or the new one,
never half of one.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

__all__ = ["save", "load"]

MANIFEST = "__stepgrad__.json"
FORMAT, VERSION = "stepgrad", 1
_SCALARS = {"int": int, "bool": bool, "str": str}


def save(obj, path, *, compress: bool = False) -> None:
    """Write ``obj`` to ``path`` atomically, in a format that cannot run code when loaded.

    ``obj`` is a nest of dicts (keys: str, int, float, bool or None), lists and tuples
    whose leaves are numpy arrays, numpy scalars, int, float, bool, str or None.
    Anything with an ndarray ``.data`` and ``__array__`` (an engine Tensor) is stored
    as ``np.asarray(x)`` and loads back as an ndarray. Arrays keep dtype, shape and
    every bit; object arrays are refused (they would need pickle). A value reached
    twice is stored twice; a cycle raises ``ValueError``.

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save({"model": {"0.weight": np.eye(2)}, "optim": {"state": {0: {"step": 3}}}}, path)
    >>> load(path)["optim"]["state"][0]["step"]
    3
    """
    path = os.fspath(path)
    arrays: list[np.ndarray] = []
    manifest = {"format": FORMAT, "version": VERSION,
                "root": _encode(obj, arrays, "obj", set())}
    # ensure_ascii keeps any str (even lone surrogates) exact through JSON.
    blob = json.dumps(manifest, ensure_ascii=True, allow_nan=False).encode("ascii")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            with zipfile.ZipFile(f, "w", compression=mode, allowZip64=True) as zf:
                zf.writestr(MANIFEST, blob)
                for i, arr in enumerate(arrays):
                    with zf.open(f"a{i}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, arr, allow_pickle=False)
            f.flush()
            # mkstemp makes the file 0600; give it the mode a plain open() would.
            publish_mode(tmp)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def load(path):
    """Read what ``save`` wrote: the same nest, arrays bit for bit, tuples as tuples.

    Raises ``ValueError`` naming the path and the problem for a truncated or
    corrupted file, or a foreign one (a pickle, a plain ``.npz``, anything else).

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save({"w": np.arange(3, dtype=np.float32), "shape": (1, 3)}, path)
    >>> load(path)
    {'w': array([0., 1., 2.], dtype=float32), 'shape': (1, 3)}
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise ValueError(f"{path}: empty file, not a stepgrad save file")
    if head[:1] == b"\x80":
        raise ValueError(f"{path}: looks like a pickle (torch.save / pickle.dump?); "
                         "stepgrad never loads pickles, re-save the data with nn.save")
    if head != b"PK\x03\x04":
        raise ValueError(f"{path}: not a stepgrad save file (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            if MANIFEST not in zf.namelist():
                raise ValueError(f"{path}: zip archive without the stepgrad manifest "
                                 f"{MANIFEST!r}: not written by nn.save (a plain .npz, a "
                                 "torch.save file or another zip?)")
            try:
                manifest = json.loads(zf.read(MANIFEST))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ValueError(f"{path}: unreadable manifest ({e})") from None
            if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
                    or "root" not in manifest):
                raise ValueError(f"{path}: manifest is not a stepgrad manifest")
            if manifest.get("version") != VERSION:
                raise ValueError(f"{path}: format version {manifest.get('version')!r} is not "
                                 f"supported (this stepgrad reads version {VERSION})")
            return _decode(manifest["root"], zf, set(zf.namelist()), path)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path}: truncated or corrupted file ({e})") from None
    except (EOFError, OSError, zlib.error) as e:  # a member cut short, or unreadable
        raise ValueError(f"{path}: truncated or corrupted file ({e})") from None


def _encode(x, arrays, where, active):
    """Manifest node for ``x``; arrays go to ``arrays``. ``where`` names x in errors."""
    if isinstance(x, (dict, list, tuple)):
        if id(x) in active:
            raise ValueError(f"nn.save: {where} contains itself (cyclic structure)")
        active.add(id(x))
        try:
            if isinstance(x, dict):
                items = []
                for k, v in x.items():
                    if k is not None and not isinstance(k, (str, int, float, np.generic)):
                        raise TypeError(f"nn.save: {where} has a key of type "
                                        f"{type(k).__name__} ({k!r}); keys must be str, "
                                        "int, float, bool or None")
                    items.append([_encode(k, arrays, where, active),
                                  _encode(v, arrays, f"{where}[{k!r}]", active)])
                return {"t": "dict", "items": items}
            return {"t": "tuple" if isinstance(x, tuple) else "list",
                    "items": [_encode(v, arrays, f"{where}[{i}]", active)
                              for i, v in enumerate(x)]}
        finally:
            active.discard(id(x))
    if isinstance(x, np.generic):  # before str/float: np.str_ and np.float64 subclass them
        return {"t": "npscalar", "m": _add_array(np.asarray(x), arrays, where)}
    if isinstance(x, bool):  # before int: bool subclasses int
        return {"t": "bool", "v": x}
    if isinstance(x, int):
        return {"t": "int", "v": int(x)}
    if isinstance(x, float):
        return {"t": "float", "v": float(x).hex()}
    if isinstance(x, str):
        return {"t": "str", "v": str(x)}
    if x is None:
        return {"t": "none"}
    if isinstance(x, np.ndarray) or (isinstance(getattr(x, "data", None), np.ndarray)
                                     and hasattr(x, "__array__")):
        return {"t": "ndarray", "m": _add_array(np.asarray(x), arrays, where)}
    raise TypeError(f"nn.save: {where} is a {type(x).__name__}, which cannot be saved; "
                    "use dicts, lists, tuples, numpy arrays, int, float, bool, str, None")


def _add_array(arr, arrays, where):
    if arr.dtype.hasobject:
        raise TypeError(f"nn.save: {where} is an array of dtype {arr.dtype}, which would "
                        "need pickle; convert it to a numeric or string dtype")
    arrays.append(arr)
    return f"a{len(arrays) - 1}.npy"


def _decode(node, zf, names, path):
    def bad(why):
        return ValueError(f"{path}: corrupted manifest ({why})")

    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise bad(f"node {node!r:.60}")
    t = node["t"]
    if t in ("list", "tuple", "dict"):
        items = node.get("items")
        if not isinstance(items, list):
            raise bad(f"{t} without items")
        if t == "dict":
            if not all(isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], dict)
                       and kv[0].get("t") not in ("list", "tuple", "dict", "ndarray")
                       for kv in items):
                raise bad("dict items are not (scalar key, value) pairs")
            return {_decode(k, zf, names, path): _decode(v, zf, names, path)
                    for k, v in items}
        seq = [_decode(v, zf, names, path) for v in items]
        return seq if t == "list" else tuple(seq)
    if t in ("ndarray", "npscalar"):
        member = node.get("m")
        if not isinstance(member, str) or member not in names:
            raise ValueError(f"{path}: array member {member!r} is missing (truncated?)")
        with zf.open(member) as f:
            try:
                arr = np.lib.format.read_array(f, allow_pickle=False)
            except ValueError as e:
                raise ValueError(f"{path}: bad array member {member!r} ({e})") from None
        return arr[()] if t == "npscalar" else arr
    if t == "none":
        return None
    if t == "float":
        try:
            return float.fromhex(node["v"])
        except (KeyError, TypeError, ValueError):
            raise bad(f"float {node.get('v')!r}") from None
    if t in _SCALARS:
        v = node.get("v")
        if type(v) is not _SCALARS[t]:
            raise bad(f"{t} holding {v!r:.60}")
        return v
    raise bad(f"unknown node type {t!r}")


def _umask():
    mask = os.umask(0o022)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def publish_mode(path) -> None:
    """Give a temporary file from ``mkstemp`` (mode 0600) the mode a plain ``open()`` would,
    before it is renamed into place: other users can read what we write, as usual."""
    os.chmod(path, 0o666 & ~_umask())


def _fsync_dir(directory):
    """Make the rename itself durable (POSIX); not possible on every platform."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
