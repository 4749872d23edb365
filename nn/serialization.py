"""``save`` / ``load``: nested state dicts of arrays and plain values, without pickle; and
checkpoints that load all-or-nothing.

File format (a zip archive, readable by ``np.load`` as an ``.npz``):

- ``__stepgrad__.json``: the manifest, ``{"format": "stepgrad", "version": 1, "root": node}``,
  where a node is one of ``{"t": "dict", "items": [[key, value], ...]}`` (keys are nodes
  too, so int keys stay int), ``{"t": "list" | "tuple", "items": [...]}``,
  ``{"t": "ndarray" | "npscalar", "m": member}``, ``{"t": "float", "v": float.hex(x)}``
  (exact, NaN and inf included), or ``{"t": "int" | "bool" | "str" | "none", "v": x}``.
- ``a0.npy``, ``a1.npy``, ...: one ``.npy`` member per array, read back without pickle --
  nothing in the file is ever executed.

Writing goes through :func:`nn.files.atomic_write`: a crash leaves the old file or the new
one, never half of one, and no temporary file.

Reading checks everything before it returns: the zip structure and every member's CRC, the
manifest (nesting at most ``MAX_DEPTH`` levels, no duplicate keys), and each array's
``.npy`` header against the size of its zip member *before* allocating it. Any problem is
one ``ValueError`` that names the file and the entry (``['model']['0.weight']``).

``load_checkpoint`` (also ``nn.load_checkpoint``) validates the whole checkpoint against the
model, optimizer and scheduler -- names, shapes, dtypes, the optimizer's and scheduler's
kinds, the random generator's state -- before it changes anything.
"""
from __future__ import annotations

import copy
import json
import math
import os
import warnings
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from .files import atomic_write, publish_mode  # noqa: F401  (publish_mode: old import path)

__all__ = ["save", "load", "LoadError", "StateDictError", "load_checkpoint",
           "make_checkpoint", "check_state_dict", "state_tensors"]

MANIFEST = "__stepgrad__.json"
FORMAT, VERSION = "stepgrad", 1
MAX_DEPTH = 64  # dicts/lists nested deeper than this are refused (save and load)
_SCALARS = {"int": int, "bool": bool, "str": str}
_ARRAY_KINDS = "biufcUSMm"  # numbers, strings, dates: whatever needs no pickle
_MAX_MANIFEST = 256 << 20
_CHUNK = 16 << 20


# ------------------------------------------------------------------------------------ save
def save(obj, path, *, compress: bool = False) -> None:
    """Write ``obj`` to ``path`` atomically, in a format that cannot run code when loaded.

    ``obj`` is a nest (at most ``MAX_DEPTH`` deep) of dicts (keys: str, int, float, bool or
    None), lists and tuples whose leaves are numpy arrays, numpy scalars, int, float, bool,
    str or None. Anything with an ndarray ``.data`` and ``__array__`` (an engine Tensor) is
    stored as ``np.asarray(x)`` and loads back as an ndarray. Arrays keep dtype, shape and
    every bit; object and structured arrays are refused (they would need pickle). A value
    reached twice is stored twice; a cycle raises ``ValueError``. An ``OSError`` names
    ``path``; on any error the old file at ``path`` is untouched.

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save({"model": {"0.weight": np.eye(2)}, "optim": {"state": {0: {"step": 3}}}}, path)
    >>> load(path)["optim"]["state"][0]["step"]
    3
    """
    path = _file_path(path, "nn.save")
    arrays: list[np.ndarray] = []
    manifest = {"format": FORMAT, "version": VERSION,
                "root": _encode(obj, arrays, "obj", set(), 0)}
    # ensure_ascii keeps any str (even lone surrogates) exact through JSON.
    blob = json.dumps(manifest, ensure_ascii=True, allow_nan=False).encode("ascii")

    def write(tmp):
        with open(tmp, "wb") as f:
            mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            with zipfile.ZipFile(f, "w", compression=mode, allowZip64=True) as zf:
                zf.writestr(MANIFEST, blob)
                for i, arr in enumerate(arrays):
                    with zf.open(f"a{i}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, arr, allow_pickle=False)

    atomic_write(path, write, who="nn.save")


def _file_path(path, who) -> str:
    """``path`` as a str; file objects (which torch.save/torch.load take) refused by name."""
    if hasattr(path, "read") or hasattr(path, "write"):
        raise TypeError(f"{who}: takes a file path (str or pathlib.Path), not a "
                        f"{type(path).__name__}: writes are atomic renames, reads check the "
                        "whole file")
    return os.fspath(path)


def _encode(x, arrays, where, active, depth):
    """Manifest node for ``x``; arrays go to ``arrays``. ``where`` names x in errors."""
    if isinstance(x, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise ValueError(f"nn.save: {where} is nested more than {MAX_DEPTH} levels deep")
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
                    items.append([_encode(k, arrays, where, active, depth + 1),
                                  _encode(v, arrays, f"{where}[{k!r}]", active, depth + 1)])
                return {"t": "dict", "items": items}
            return {"t": "tuple" if isinstance(x, tuple) else "list",
                    "items": [_encode(v, arrays, f"{where}[{i}]", active, depth + 1)
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
    if isinstance(x, np.ndarray):
        return {"t": "ndarray", "m": _add_array(np.asarray(x), arrays, where)}
    if isinstance(getattr(x, "data", None), np.ndarray) and hasattr(x, "__array__"):
        # a Tensor: its numbers (.data; np.asarray refuses one that requires grad)
        return {"t": "ndarray", "m": _add_array(x.data, arrays, where)}
    if callable(getattr(x, "state_dict", None)):  # torch.save(model) pickles the object
        raise TypeError(f"nn.save: {where} is a {type(x).__name__}; save its state_dict() "
                        f"(and load it with load_state_dict(nn.load(path))); a model's "
                        f"architecture too: model.save(path) and nn.load_model(path)")
    raise TypeError(f"nn.save: {where} is a {type(x).__name__}, which cannot be saved; "
                    "use dicts, lists, tuples, numpy arrays, int, float, bool, str, None")


def _add_array(arr, arrays, where):
    if arr.dtype.hasobject or arr.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(f"nn.save: {where} is an array of dtype {arr.dtype}, which would "
                        "need pickle; convert it to a numeric or string dtype")
    arrays.append(arr)
    return f"a{len(arrays) - 1}.npy"


# ------------------------------------------------------------------------------------ load
class _Corrupt(Exception):
    """A problem found while decoding: the entry where it is, and what."""

    def __init__(self, where, why):
        super().__init__(why)
        self.where, self.why = where, why


def load(path, map_location=None, *, weights_only=True):
    """Read what ``save`` wrote: the same nest, arrays bit for bit, tuples as tuples.

    ``torch.load``'s keywords are accepted where they mean nothing here: ``map_location``
    ``None`` or ``"cpu"`` (stepgrad runs on the CPU; other devices are refused) and
    ``weights_only`` (``nn.load`` never unpickles, so it only ever reads data).

    Raises ``FileNotFoundError`` for a missing file, and one ``ValueError`` naming the path
    (and the entry, when the fault is inside one) for anything else: a truncated or
    corrupted file (zip CRCs are checked), a foreign one (a pickle, a plain ``.npz``), a
    manifest nested deeper than ``MAX_DEPTH`` or with duplicate keys, an array whose header
    claims more data than its zip member holds, an object (pickled) array.

    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> save({"w": np.arange(3, dtype=np.float32), "shape": (1, 3)}, path)
    >>> load(path)
    {'w': array([0., 1., 2.], dtype=float32), 'shape': (1, 3)}
    """
    if map_location is not None and str(map_location) != "cpu":
        raise ValueError(f"nn.load: map_location={map_location!r} is not supported: stepgrad "
                         "runs on the CPU (use None or 'cpu')")
    path = _file_path(path, "nn.load")
    with open(path, "rb") as f:  # FileNotFoundError / PermissionError as usual
        head = f.read(4)
        size = os.fstat(f.fileno()).st_size
    if not head:
        raise LoadError(f"{path}: empty file, not a stepgrad save file")
    if head[:1] == b"\x80":
        raise LoadError(f"{path}: looks like a pickle (torch.save / pickle.dump?); "
                        f"stepgrad never loads pickles. {_FROM_TORCH}")
    if head != b"PK\x03\x04":
        raise LoadError(f"{path}: not a stepgrad save file (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            return _load_archive(zf, size, path)
    except LoadError:
        raise
    except _Corrupt as e:
        entry = f"entry {e.where}" if e.where else "the file"
        raise LoadError(f"{path}: {entry}: {e.why}") from None
    except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError,
            NotImplementedError, RuntimeError, UnicodeDecodeError, OverflowError, KeyError,
            TypeError, IndexError) as e:
        # Whatever a damaged zip makes the zipfile module raise (a flipped bit can give a
        # negative seek, an "unsupported compression method", a bad filename encoding...).
        raise LoadError(f"{path}: truncated or corrupted file ({type(e).__name__}: {e})") \
            from None


_FROM_TORCH = ("From PyTorch: read it with torch.load(path, weights_only=True) and pass the "
               "state dict to model.load_state_dict (it takes torch tensors), or write it "
               "with nn.save / safetensors (nn.load_safetensors)")


class LoadError(ValueError):
    """``load`` found the file unusable; the message names the file (and the entry)."""


def _load_archive(zf, size, path):
    names = set(zf.namelist())
    if MANIFEST not in names and any(n.endswith("/data.pkl") for n in names):
        raise LoadError(f"{path}: a torch.save file (pickled tensors in a zip); stepgrad "
                        f"never unpickles. {_FROM_TORCH}")
    if MANIFEST not in names:
        raise LoadError(f"{path}: zip archive without the stepgrad manifest {MANIFEST!r}: "
                        "not written by nn.save (a plain .npz, a torch.save file or another "
                        "zip?)")
    info = zf.getinfo(MANIFEST)
    _check_member(info, size, _MAX_MANIFEST)
    try:
        manifest = json.loads(zf.read(info))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LoadError(f"{path}: unreadable manifest ({e})") from None
    except RecursionError:
        raise LoadError(f"{path}: corrupted manifest (nested more than {MAX_DEPTH} levels "
                        "deep)") from None
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
            or "root" not in manifest):
        raise LoadError(f"{path}: manifest is not a stepgrad manifest")
    if manifest.get("version") != VERSION:
        raise LoadError(f"{path}: format version {manifest.get('version')!r} is not "
                        f"supported (this stepgrad reads version {VERSION})")
    return _decode(manifest["root"], zf, names, size, "", 0)


def _check_member(info, archive_size, limit=None):
    """Refuse a member whose sizes cannot be true, before reading (allocating) it."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise _Corrupt("", f"member {name!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Corrupt("", f"member {name!r} uses compression method {info.compress_type}, "
                           "which nn.save never writes")
    if info.compress_size > archive_size:
        raise _Corrupt("", f"member {name!r} claims {info.compress_size} bytes in a file of "
                           f"{archive_size} bytes")
    # Deflate expands at most 1032:1 (zlib's FAQ; nn.save's zeros reach 1028:1): allow
    # 1100:1. A stored member is exactly as long as its data.
    most = (info.compress_size if info.compress_type == zipfile.ZIP_STORED
            else 1100 * info.compress_size + 1024)
    if info.file_size > most or (limit is not None and info.file_size > limit):
        raise _Corrupt("", f"member {name!r} claims {info.file_size} bytes from "
                           f"{info.compress_size} stored bytes")


def _entry(where, key):
    return f"{where}[{key!r}]"


def _decode(node, zf, names, size, where, depth):
    if depth > MAX_DEPTH:
        raise _Corrupt(where, f"nested more than {MAX_DEPTH} levels deep")
    if not isinstance(node, dict) or not isinstance(node.get("t"), str):
        raise _Corrupt(where, f"corrupted manifest (node {node!r:.60})")
    t = node["t"]
    if t in ("list", "tuple", "dict"):
        items = node.get("items")
        if not isinstance(items, list):
            raise _Corrupt(where, f"corrupted manifest ({t} without items)")
        if t == "dict":
            if not all(isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], dict)
                       and kv[0].get("t") not in ("list", "tuple", "dict", "ndarray")
                       for kv in items):
                raise _Corrupt(where, "corrupted manifest (dict items are not (scalar key, "
                                      "value) pairs)")
            out = {}
            for k, v in items:
                key = _decode(k, zf, names, size, where, depth + 1)
                try:
                    duplicate = key in out
                except TypeError:  # an unhashable key: only a forged manifest has one
                    raise _Corrupt(where, "corrupted manifest (unhashable key)") from None
                if duplicate:
                    raise _Corrupt(where, f"corrupted manifest (key {key!r} appears twice)")
                out[key] = _decode(v, zf, names, size, _entry(where, key), depth + 1)
            return out
        seq = [_decode(v, zf, names, size, f"{where}[{i}]", depth + 1)
               for i, v in enumerate(items)]
        return seq if t == "list" else tuple(seq)
    if t in ("ndarray", "npscalar"):
        member = node.get("m")
        if not isinstance(member, str) or member not in names:
            raise _Corrupt(where, f"array member {member!r} is missing (truncated?)")
        arr = _read_array(zf, zf.getinfo(member), size, where)
        if t == "npscalar":
            if arr.ndim != 0:
                raise _Corrupt(where, f"corrupted manifest (scalar member {member!r} holds "
                                      f"shape {arr.shape})")
            return arr[()]
        return arr
    if t == "none":
        return None
    if t == "float":
        try:
            return float.fromhex(node["v"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise _Corrupt(where, f"corrupted manifest (float {node.get('v')!r})") from None
    if t in _SCALARS:
        v = node.get("v")
        if type(v) is not _SCALARS[t]:
            raise _Corrupt(where, f"corrupted manifest ({t} holding {v!r:.60})")
        return v
    raise _Corrupt(where, f"corrupted manifest (unknown node type {t!r})")


def _read_array(zf, info, archive_size, where):
    """One ``.npy`` member, its header checked against the member's size first."""
    member = info.filename
    try:
        _check_member(info, archive_size)
    except _Corrupt as e:
        raise _Corrupt(where, e.why) from None

    def bad(why):
        return _Corrupt(where, f"bad array member {member!r} ({why})")

    fmt = np.lib.format
    with zf.open(info) as f:
        try:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(f)
            else:
                raise ValueError(f"npy format version {version} is not one nn.save writes")
        except ValueError as e:
            raise bad(e) from None
        if dtype.hasobject:
            raise bad(f"dtype {dtype} would need pickle (allow_pickle), which stepgrad "
                      "never loads")
        if dtype.kind not in _ARRAY_KINDS:
            raise bad(f"dtype {dtype} is not a numeric or string dtype")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if info.file_size - f.tell() != nbytes:
            raise bad(f"the header says shape {shape} of {dtype} ({nbytes} bytes) but the "
                      f"member holds {info.file_size - f.tell()} bytes of data")
        arr = np.empty(count, dtype=dtype)
        raw = arr.view(np.uint8) if nbytes else None
        done = 0
        while done < nbytes:
            chunk = f.read(min(_CHUNK, nbytes - done))
            if not chunk:
                raise bad("cut short")
            raw[done:done + len(chunk)] = np.frombuffer(chunk, np.uint8)
            done += len(chunk)
        if f.read(1):  # also where zipfile checks the member's CRC
            raise bad("longer than its header says")
    if fortran:
        return arr.reshape(shape[::-1]).T
    return arr.reshape(shape)


# ------------------------------------------------------------------------------ state dicts
class StateDictError(KeyError, ValueError, RuntimeError):
    """``load_state_dict`` refused the names (missing or unexpected keys, when ``strict``) or
    a shape. PyTorch raises ``RuntimeError`` there, so ``except RuntimeError`` copied from
    PyTorch code catches it; it is also the ``KeyError`` (names) and ``ValueError`` (shapes)
    stepgrad raised before."""

    __str__ = Exception.__str__  # the message as written (KeyError's str() would quote it)


def state_tensors(module) -> "OrderedDict[str, object]":
    """Dotted name → the Tensor behind each ``module.state_dict()`` entry, in its order
    (``Module._state_items``: a module under two names is listed under both)."""
    return OrderedDict(module._state_items())


def _as_array(value, key, who):
    """An entry of a state dict as an ndarray (torch tensors too), or a ValueError."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        try:
            value = value.detach().cpu().numpy()
        except TypeError as e:  # e.g. bfloat16, which numpy cannot hold
            raise ValueError(f"{who}: entry {key!r} is a tensor numpy cannot hold ({e}); "
                             "convert it first, e.g. with .float()") from None
    try:
        return np.asarray(value)
    except Exception as e:  # noqa: BLE001 - anything that is not array-like
        raise ValueError(f"{who}: entry {key!r} is a {type(value).__name__}, not an "
                         f"array ({e})") from None


def _checked_array(value, key, shape, dtype, who):
    """``value`` as an array of ``dtype`` and ``shape``, or a ValueError saying why not."""
    arr = _as_array(value, key, who)
    if arr.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        raise ValueError(f"{who}: entry {key!r} is complex ({arr.dtype}) but the model's "
                         f"entry is {np.dtype(dtype)}; casting would drop the imaginary "
                         "part (take .real yourself if that is what you mean)")
    allowed = {"f": "fiu", "i": "iu", "u": "iu", "b": "b", "c": "fiuc"}.get(
        np.dtype(dtype).kind, "")
    if np.dtype(dtype).kind in "iu" and arr.dtype.kind == "f":
        # Whole numbers in a float array go into an integer entry (a state dict made float32
        # entry by entry, BatchNorm's counter included, which PyTorch loads): exact, so
        # taken; a fraction, NaN or inf is refused.
        if not (np.all(np.isfinite(arr)) and np.array_equal(arr, np.round(arr))):
            raise ValueError(f"{who}: entry {key!r} holds non-integer values ({arr.dtype}), "
                             f"which cannot be loaded into the model's {np.dtype(dtype)} entry")
    elif arr.dtype.kind not in allowed:
        raise ValueError(f"{who}: entry {key!r} has dtype {arr.dtype}, which cannot be "
                         f"loaded into the model's {np.dtype(dtype)} entry")
    if arr.shape != tuple(shape):
        raise StateDictError(f"{who}: size mismatch for {key}: the state dict has shape "
                             f"{arr.shape}, the model has shape {tuple(shape)}")
    if np.dtype(dtype).kind in "iu" and arr.dtype != dtype:
        if not np.can_cast(arr.dtype, dtype) and arr.size and (
                arr.min() < np.iinfo(dtype).min or arr.max() > np.iinfo(dtype).max):
            raise ValueError(f"{who}: entry {key!r} holds values outside {np.dtype(dtype)}")
    return np.array(arr, dtype=dtype, copy=True)


def _is_bn_counter(key, value) -> bool:
    """Whether ``key: value`` is a BatchNorm's ``num_batches_tracked``: the name's last
    part, a scalar (an int64 one; a state dict made float wholesale holds a float one) --
    a module's Tensor, an array, a number or a torch tensor."""
    if not (isinstance(key, str) and key.rpartition(".")[2] == "num_batches_tracked"):
        return False
    try:
        return _as_array(value, key, "").ndim == 0
    except ValueError:  # not array-like: not a counter
        return False


def check_state_dict(own, state, strict: bool = True, *, who: str = "load_state_dict"):
    """Check every entry of ``state`` against ``own`` (name → Tensor) before anything is
    copied, and return ``(arrays, missing, unexpected)``: name → array in each target's
    dtype, ready for ``copy_``, and the names of ``own`` absent from ``state`` and those of
    ``state`` absent from ``own`` (lists, in their dicts' order: ``load_state_dict``'s
    ``missing_keys`` and ``unexpected_keys``).

    Refuses (``StateDictError``: a KeyError, a ValueError and PyTorch's RuntimeError)
    missing and unexpected names when ``strict`` and a shape that differs; (``ValueError``,
    naming the entry) a complex entry for a real tensor, a non-numeric entry (strings,
    objects, bools into floats), integers out of range.
    ``num_batches_tracked`` (the BatchNorm counter, PyTorch's) is never unexpected (a
    PyTorch state loads into a layer without one: Keras's BatchNormalization) and, as
    PyTorch does for a state dict without version metadata, never missing: a state saved
    before the counter existed loads, and the module keeps its own count.
    """
    if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
        raise TypeError(f"{who}: expected a dict of name → array (a state_dict()), got "
                        f"{type(state).__name__}")
    missing = [k for k in own if k not in state and not _is_bn_counter(k, own[k])]
    unexpected = [k for k in state if k not in own and not _is_bn_counter(k, state[k])]
    if strict and (missing or unexpected):
        raise StateDictError(f"{who}: missing keys {missing}, unexpected keys {unexpected} "
                             "(strict=False loads the entries that match and returns both "
                             "lists)")
    arrays, cast, sources, targets = {}, [], set(), set()
    for key, target in own.items():
        if key in state:
            given = _as_array(state[key], key, who)  # (a torch tensor converted once)
            arrays[key] = _checked_array(given, key, target.shape, target.dtype, who)
            if given.dtype != target.dtype:
                cast.append(f"{key} ({given.dtype})")
                sources.add(str(given.dtype))
                targets.add(str(target.dtype))
    if cast:  # the module keeps its dtype (as PyTorch's copy_); say so
        warnings.warn(f"{who}: {len(cast)} entries cast from {', '.join(sorted(sources))} to "
                      f"{', '.join(sorted(targets))} (the module's "
                      f"dtype{'s' if len(targets) > 1 else ''}): "
                      f"{', '.join(cast[:4])}{' …' if len(cast) > 4 else ''}", stacklevel=3)
    return arrays, missing, unexpected


# ------------------------------------------------------------------------------ checkpoints
def make_checkpoint(model, epoch: int, optimizer=None, scheduler=None, rng: bool = True):
    """What ``ModelCheckpoint`` saves: ``{'model': model.state_dict(), 'epoch': epoch}``
    plus, when given, ``'optimizer'``/``'scheduler'`` state dicts and ``'rng'`` (the
    shuffling generator's state), and ``'kinds'``: the optimizer's and scheduler's class
    names, so that an Adam state is never loaded into an SGD (their layouts can agree)."""
    import engine
    ckpt = {"model": model.state_dict(), "epoch": int(epoch)}
    kinds = {}
    if optimizer is not None:
        ckpt["optimizer"] = optimizer.state_dict()
        kinds["optimizer"] = type(optimizer).__name__
    if scheduler is not None:
        ckpt["scheduler"] = scheduler.state_dict()
        kinds["scheduler"] = type(scheduler).__name__
    if rng:
        ckpt["rng"] = engine.get_rng().bit_generator.state
    if kinds:
        ckpt["kinds"] = kinds
    return ckpt


def load_checkpoint(path, model, optimizer=None, scheduler=None, restore_rng=True) -> int:
    """Restore what ``ModelCheckpoint`` wrote, all or nothing; returns the number of epochs
    done, to pass as ``fit(..., initial_epoch=...)``.

    Loads the model's weights, and when given (and present in the file) the optimizer's
    and scheduler's state; ``restore_rng`` puts the shuffling generator back where it was
    (``engine.get_rng().bit_generator.state``), so the resumed run sees the same batches.

    Everything is checked before the first tensor is copied: every model entry (names,
    shapes, dtypes: no complex or non-numeric entry), the optimizer's and scheduler's kinds
    and states (by a trial load into copies), the generator's state and the epoch. Any
    problem is one ``ValueError`` naming the file and the entry; the model, optimizer,
    scheduler and generator are then exactly as before (should applying still fail, they
    are rolled back).
    """
    import engine
    path = os.fspath(path)
    ckpt = load(path)

    def bad(entry, why):
        return LoadError(f"{path}: entry {entry}: {why}")

    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise LoadError(f"{path}: not a checkpoint (no 'model' entry); was it written by "
                         "ModelCheckpoint?")
    kinds = ckpt.get("kinds", {})
    if not isinstance(kinds, dict):
        raise bad("['kinds']", f"expected a dict, got {type(kinds).__name__}")
    epoch = ckpt.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise bad("['epoch']", f"expected an int >= 0, got {epoch!r}")

    # 1. Check everything.
    try:
        arrays, _, _ = check_state_dict(state_tensors(model), ckpt["model"], strict=True,
                                        who="model")
    except (KeyError, ValueError, TypeError) as e:
        raise bad("['model']", e.args[0] if e.args else e) from None
    use_optimizer = optimizer is not None and "optimizer" in ckpt
    if use_optimizer:
        _check_kind(kinds, "optimizer", optimizer, bad)
        _trial_load_optimizer(optimizer, ckpt["optimizer"], kinds, bad)
    use_scheduler = scheduler is not None and "scheduler" in ckpt
    if use_scheduler:
        _check_kind(kinds, "scheduler", scheduler, bad)
        _check_scheduler_state(scheduler, ckpt["scheduler"], bad)
    use_rng = restore_rng and "rng" in ckpt
    rng = engine.get_rng()
    if use_rng:
        try:
            type(rng.bit_generator)().state = ckpt["rng"]  # a trial on a fresh generator
        except (TypeError, ValueError, KeyError) as e:
            raise bad("['rng']", f"not a {type(rng.bit_generator).__name__} state ({e})") \
                from None

    # 2. Apply, keeping the old state to roll back to if anything still fails.
    before = (model.state_dict(),
              optimizer.state_dict() if use_optimizer else None,
              scheduler.state_dict() if use_scheduler else None,
              rng.bit_generator.state)
    try:
        model.load_state_dict(arrays)
        if use_optimizer:
            optimizer.load_state_dict(ckpt["optimizer"])
        if use_scheduler:
            scheduler.load_state_dict(ckpt["scheduler"])
        if use_rng:
            rng.bit_generator.state = ckpt["rng"]
    except BaseException:
        model.load_state_dict(before[0])
        if use_optimizer:
            optimizer.load_state_dict(before[1])
        if use_scheduler:
            scheduler.load_state_dict(before[2])
        rng.bit_generator.state = before[3]
        raise
    return int(epoch)


def _check_kind(kinds, what, obj, bad):
    saved, ours = kinds.get(what), type(obj).__name__
    if saved is not None and saved != ours:
        raise bad(f"['{what}']", f"holds the state of a {saved} {what}, but the {what} "
                                 f"given is a {ours}")


def _trial_load_optimizer(optimizer, state, kinds, bad):
    """Run the optimizer's own ``load_state_dict`` on a copy (its groups and state copied,
    its parameters shared but not written), plus what that method does not check."""
    entry = "['optimizer']"
    name = type(optimizer).__name__
    if not isinstance(state, dict) or not isinstance(state.get("param_groups"), list) \
            or not isinstance(state.get("state"), dict):
        raise bad(entry, "not an optimizer state_dict() (with 'state' and 'param_groups')")
    if "optimizer" not in kinds:  # older files: the hyper-parameter names must agree
        from .optim.optimizers import SCHEDULER_KEYS
        for i, group in enumerate(state["param_groups"]):
            keys = set(group) - {"params", *SCHEDULER_KEYS} if isinstance(group, dict) else set()
            if keys != set(getattr(optimizer, "defaults", keys)):
                raise bad(f"{entry}['param_groups'][{i}]",
                          f"hyper-parameters {sorted(keys)} are not a {name}'s "
                          f"({sorted(optimizer.defaults)}): saved from another optimizer?")
    for index, entries in state["state"].items():
        if not isinstance(entries, dict):
            raise bad(f"{entry}['state'][{index!r}]", "expected a dict")
        for k, v in entries.items():
            kind = np.asarray(v).dtype.kind if isinstance(v, (np.ndarray, np.generic)) \
                else None
            if kind is not None and kind not in "fiu":
                raise bad(f"{entry}['state'][{index!r}][{k!r}]",
                          f"dtype {np.asarray(v).dtype} is not a real number type")
            if kind is None and (isinstance(v, (bool, str)) or not isinstance(v, (int, float))):
                raise bad(f"{entry}['state'][{index!r}][{k!r}]",
                          f"expected a number or an array, got {v!r:.60}")
    trial = copy.copy(optimizer)  # a shallow copy: same parameters, its own containers
    trial.param_groups = [dict(g) for g in optimizer.param_groups]
    trial.state = dict(optimizer.state)
    try:
        trial.load_state_dict(state)
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise bad(entry, f"{e.args[0] if e.args else e}") from None


def _check_scheduler_state(scheduler, state, bad):
    """The checkpoint's scheduler state has the structure of this scheduler's own, entry by
    entry (nested lists and dicts too: OneCycleLR's phases, SequentialLR's schedulers), with
    a number where it has a number (no float for an int) and the same kinds elsewhere."""
    name = type(scheduler).__name__

    def check(where, mine, value):
        if isinstance(mine, dict):
            if not isinstance(value, dict) or set(value) != set(mine):
                keys = sorted(value, key=str) if isinstance(value, dict) else \
                    type(value).__name__
                raise bad(where, f"has {keys}, a {name} has {sorted(mine, key=str)}")
            for key in mine:
                check(f"{where}[{key!r}]", mine[key], value[key])
            return
        sequence = isinstance(mine, (list, tuple))
        if sequence:
            ok = isinstance(value, (list, tuple)) and len(value) == len(mine)
        elif _is_real(mine):
            ok = _is_real(value) and (isinstance(mine, float) or not isinstance(value, float))
        else:
            ok = type(value) is type(mine)
        if not ok:
            raise bad(where, f"{value!r:.60} does not fit this {name} ({mine!r:.60})")
        if sequence:
            for i, (m, v) in enumerate(zip(mine, value, strict=True)):
                check(f"{where}[{i}]", m, v)

    check("['scheduler']", scheduler.state_dict(), state)


def _is_real(v) -> bool:
    return (not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))
            and math.isfinite(v))
