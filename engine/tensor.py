"""Tensor: a numpy array that records the ops applied to it, for reverse-mode autodiff.

A Tensor is data (``np.ndarray``), an optional ``grad`` (a Tensor of the same shape), and --
when an op made it while gradients were recorded -- its ``grad_fn`` (the Op, holding what
its backward needs) and ordered ``parents``. The ops live in ``engine/ops/`` (one family per
file); this file is the user-facing surface that calls them, plus dtype rules, in-place
updates and version counters.

dtypes, as PyTorch: integers become int64 and bools stay bool; floats become the default
float (float32; ``engine.set_default_dtype``) -- float64 numpy data included (the one
difference from PyTorch, Keras's habit). Mixing float32 and float64 tensors in one op is an
error, never a silent upcast; numbers and numpy arrays combined with a Tensor take its dtype.
"""
from __future__ import annotations

import difflib
from collections import OrderedDict, namedtuple

import numpy as np

from . import autograd
from .autograd import Node, state
from .ops import activations as A
from .ops import compose as CO
from .ops import elementwise as E
from .ops import indexing as I
from .ops import linalg, neural
from .ops import maths as M
from .ops import reduce as R
from .ops import scans as SC
from .ops import shape as S
from .ops.base import index_array, norm_axes, norm_axis
from .random import generator_or_default

_default = {"float": np.dtype(np.float32)}


def set_default_dtype(dtype) -> None:
    """The float dtype new tensors get (float32 unless changed; float64 for gradcheck work)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: only floating point dtypes, got {dtype}")
    _default["float"] = dtype


def get_default_dtype():
    return _default["float"]


def to_array(data, dtype=None) -> np.ndarray:
    """A new array of ``data`` with stepgrad's (PyTorch's) dtype inference: a Tensor keeps
    its dtype (``torch.tensor(t)``, ``nn.Parameter(t)``: a float64 tensor stays float64);
    float numbers and arrays become the default float dtype (float32)."""
    if data is None:
        raise TypeError("tensor(None): no data; use engine.empty(shape) or engine.zeros(shape)")
    if isinstance(data, Node):
        data = data.data
        if dtype is None and isinstance(data, np.ndarray):
            return np.array(data)
    if dtype is not None:
        return np.array(data, dtype=np.dtype(dtype))
    arr = np.array(data)
    if arr.dtype.kind == "f":
        return arr.astype(_default["float"], copy=False)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"tensor: cannot make a tensor of {arr.dtype} data "
                        f"({type(data).__name__}); numbers, booleans and arrays of them only")
    return arr


class Version:
    """A version counter, one per storage: a tensor and every view of it share one, so an
    in-place change through any of them is seen by the graph that saved another."""

    __slots__ = ("n",)

    def __init__(self, n=0):
        self.n = n


_STALE_VIEW = ("this tensor is a view (a slice, reshape or transpose) taken before an "
               "in-place op gave its source a gradient history, so the gradient would not "
               "reach that history (PyTorch re-bases such views); take the view after the "
               "in-place op (v = a[:2] after a.copy_(x)), or compute out of place")


def _stale_view(t: "Tensor") -> bool:
    """Whether view ``t`` (of ``t._stale_src``, a source without history when the view was
    taken) now reads a source an in-place op has given a history, while recording."""
    return state.grad_enabled and not t.requires_grad and t._stale_src.grad_fn is not None


def increment_version(t: "Tensor") -> None:
    """Record that ``t``'s memory was changed in place by code outside stepgrad's ops (a Numba
    kernel, numpy writing into ``t.data``), as ``torch.autograd.graph.increment_version``
    does: a graph that saved ``t`` or a view of it then refuses to run backward on the
    changed values instead of silently using them. stepgrad's own in-place methods
    (``add_``, ``mul_``, …) already count their writes."""
    t._vc.n += 1


DEVICES = ("cpu", "cuda", "mps", "meta", "xpu", "xla", "hip", "ipu", "vulkan")


# PyTorch's legacy tensor type names (x.type()), by dtype
_TYPE_NAMES = {np.dtype(np.float32): "Float", np.dtype(np.float64): "Double",
               np.dtype(np.float16): "Half", np.dtype(np.int64): "Long",
               np.dtype(np.int32): "Int", np.dtype(np.int16): "Short",
               np.dtype(np.int8): "Char", np.dtype(np.uint8): "Byte", np.dtype(np.bool_): "Bool"}


def to_args(who, args, dtype=None, device=None):
    """The dtype asked for by ``.to(...)``'s arguments, read as PyTorch reads them (a device
    name or torch.device, a dtype, or a Tensor whose dtype to take; None: keep the dtype).
    A device other than the CPU is refused: stepgrad runs on numpy. (Tensor.to, Module.to.)"""
    for a in args:
        if str(a).split(":")[0] in DEVICES:  # 'cpu', 'cuda:0', torch.device('cuda')
            device = a
        elif isinstance(a, Tensor):
            dtype = a.dtype
        else:
            dtype = a
    if device is not None and str(device).split(":")[0] != "cpu":
        raise RuntimeError(f"{who}: stepgrad runs on the CPU only (numpy); device "
                           f"{str(device)!r} is not available -- drop the "
                           f".to({str(device)!r}) call")
    return dtype


def _clone_grad(g: "Tensor") -> "Tensor":
    """A leaf's own copy of gradient ``g`` (a create_graph walk's Tensor): recorded as a
    clone when ``g`` has a graph (the backward may run under the caller's no_grad)."""
    if not g.requires_grad:
        return Tensor._make(np.array(g.data))
    with autograd.enable_grad():
        return S.Clone.apply(g)


def as_tensor(x, like=None) -> "Tensor":
    """``x`` if it is a Tensor, else a constant Tensor. Numbers are "weak", as in PyTorch:
    they take ``like``'s dtype when it fits (``float_tensor * 2`` stays float32)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Node) or x is None:
        raise TypeError(f"cannot combine a {type(x).__name__} with a Tensor (Values belong to "
                        f"scalar graphs; use engine.tensor for arrays)")
    if isinstance(x, (bool, int, float, np.generic)):
        kind = "b" if isinstance(x, (bool, np.bool_)) else "f" if isinstance(
            x, (float, np.floating)) else "i"
        lk = like.dtype.kind if like is not None else None
        if lk == "f" or (lk in ("i", "u") and kind != "f") or (lk == "b" and kind == "b"):
            return Tensor._make(np.asarray(x, like.dtype))
        return Tensor._make(np.asarray(x, {"b": bool, "i": np.int64}.get(kind, _default["float"])))
    arr = np.asarray(x)
    if arr.dtype.kind == "f":  # numpy floats join the tensor's float dtype
        return Tensor._make(arr.astype(like.dtype if like is not None and like.dtype.kind == "f"
                                       else _default["float"], copy=False))
    if arr.dtype.kind not in "iub":
        raise TypeError(f"cannot use {arr.dtype} data with a Tensor")
    return Tensor._make(arr)


def _numpy_refused(what: str, hint: str = "") -> RuntimeError:
    """PyTorch's refusal to hand numpy a tensor that requires grad (``t.numpy()``,
    ``np.asarray(t)``, ``np.exp(t)``, …): the array has no graph, so a loss computed from it
    would silently leave the tensor's ``.grad`` None. As PyTorch's, the check is the tensor's
    flag while gradients are recorded: under ``no_grad()`` numpy gets the numbers. The one
    text for every such place (``what`` names it; ``hint``: what else to do)."""
    return RuntimeError(f"{what}: Can't call numpy() on Tensor that requires grad. Use "
                        f"tensor.detach().numpy() instead{hint} (as in PyTorch: the array "
                        f"has no graph, so backward() would never reach this tensor)")


MaxMin = namedtuple("MaxMin", ["values", "indices"])
"""What ``max(dim)`` / ``min(dim)`` return, as PyTorch: ``values, indices = x.max(1)``."""


def _pick(op, value, alias, alias_name, default):
    """``value`` or its PyTorch spelling (``dim=`` for ``axis=``); both at once is an error."""
    if alias is not None:
        if value is not default:
            raise TypeError(f"{op}: got both the numpy keyword and {alias_name}= (same meaning)")
        return alias
    return value


# Keywords people bring from numpy, Keras or older PyTorch, and what to write instead.
_KEYWORD_HINTS = {"axis": "dim", "axes": "dim", "dims": "dim", "keepdims": "keepdim",
                  "keep_dims": "keepdim", "ddof": "correction", "unbiased": "correction",
                  "ord": "p"}


def _no_extra(op, extra, accepted):
    """An unknown keyword is a TypeError naming the keyword to use instead (PyTorch's, with
    numpy's spelling where both work) and every keyword the method accepts."""
    if not extra:
        return
    name = next(iter(extra))
    hint = _KEYWORD_HINTS.get(name)
    if hint not in accepted:
        close = difflib.get_close_matches(name, accepted, 1)
        hint = close[0] if close else None
    use = f": use {hint}=" if hint else ""
    raise TypeError(f"{op}() got an unexpected keyword argument {name!r}{use} (it accepts "
                    f"{', '.join(k + '=' for k in accepted)})")


_REDUCE_KW = ("dim", "keepdim", "axis", "keepdims")


_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}

# The ufuncs numpy runs for an operator with an array or numpy scalar on the left and a Tensor
# on the right (``ndarray + t`` is np.add(ndarray, t)), and the Tensor method Python's own
# reflection would call (``2 + t`` is t.__radd__(2)); None: an operator Tensor lacks.
_REFLECTED = {np.add: "__radd__", np.subtract: "__rsub__", np.multiply: "__rmul__",
              np.true_divide: "__rtruediv__", np.power: "__rpow__", np.matmul: "__rmatmul__",
              np.remainder: "__rmod__", np.floor_divide: "__rfloordiv__", np.less: "__gt__",
              np.less_equal: "__ge__", np.greater: "__lt__", np.greater_equal: "__le__",
              np.equal: "__eq__", np.not_equal: "__ne__", np.bitwise_and: "__rand__",
              np.bitwise_or: "__ror__", np.bitwise_xor: "__rxor__", np.left_shift: None,
              np.right_shift: None, np.divmod: None}


def _sizes(op, args, kw, name):
    """A shape or dims argument as PyTorch's methods take it: varargs (``x.permute(1, 0)``),
    one tuple or list (``x.permute((1, 0))``) or the keyword (``x.permute(dims=(1, 0))``)."""
    if kw:
        if args or set(kw) != {name}:
            raise TypeError(f"{op}() takes its {name} as arguments, one tuple or {name}=...; "
                            f"got {args!r} and keywords {sorted(kw)}")
        args = (kw[name],)
    return args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


class _DataSlot:
    """``t.data``, the numpy array. Reading it is plain attribute access: this descriptor has
    no ``__get__``, so the instance's own entry answers (at full speed; every op reads it).
    Assigning goes through ``__set__``, which stores a Tensor's array instead of the Tensor:
    PyTorch's ``w.data = w.data - lr * w.grad`` (or ``layer.weight.data = torch.tensor(W)``)
    has a Tensor on the right, and stored as it was it left w holding a Tensor for data
    (its repr, dtype and later updates broken). Like PyTorch's, the assignment shares the
    array and does not move the version counter."""

    def __set__(self, t, value):
        t.__dict__["data"] = value.data if isinstance(value, Tensor) else value


class Tensor(Node):
    """An n-d array with autodiff. Shapes follow numpy; operators broadcast like numpy.

    >>> from engine import tensor
    >>> x = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]], shape=(2, 2), dtype=float32)
    """

    data = _DataSlot()
    scope = ()  # the modules (outermost first) whose forward made this tensor, if any
    grad_fn = None
    _hooks = None     # register_hook's {id: fn}, if any
    _retains = False  # retain_grad(): a non-leaf that accumulates .grad, as a leaf
    _detached = False  # detach_() cut a history off this tensor
    _base = None  # the tensor this one is a view of, if any
    # A view's first non-view source, when that source did not require grad as the view was
    # taken: should an in-place op give it a history, the view has no part in it (PyTorch
    # re-bases such views; stepgrad refuses their use while recording).
    _stale_src = None
    __hash__ = object.__hash__  # == is elementwise, identity stays the hash

    def __init__(self, data, requires_grad=False, dtype=None, name=""):
        if type(data) is int:
            # torch.Tensor(3) / torch.Tensor(3, 4) are uninitialized tensors of that shape
            # in PyTorch; read as data, Tensor(3) would silently be the number 3.
            sizes = ", ".join(str(n) for n in (data, requires_grad) if type(n) is int)
            raise TypeError(f"Tensor({sizes}): PyTorch reads int arguments to torch.Tensor as "
                            f"a shape (an uninitialized tensor); write engine.zeros({sizes}) "
                            f"(or engine.empty) for a tensor of that shape, or "
                            f"engine.tensor({data!r}) for the data")
        self.data = to_array(data, dtype)
        self._vc = Version()
        self._grad = None
        self.name = name
        self._rg = False
        self.requires_grad_(requires_grad)

    @classmethod
    def _make(cls, array, requires_grad=False) -> "Tensor":
        """A Tensor around ``array`` without copying (ops' outputs)."""
        t = cls.__new__(cls)
        t.__dict__["data"] = array  # (past _DataSlot's check: ops make arrays)
        t._vc, t._grad, t.name, t._rg = Version(), None, "", requires_grad
        return t

    # -- numpy-like attributes ------------------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="Shape tuple, as numpy.")
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    is_leaf = property(lambda self: self.grad_fn is None)
    op = property(lambda self: self.grad_fn.name if self.grad_fn is not None else "",
                  doc="Name of the op that made this tensor ('' for a leaf).")
    _version = property(lambda self: self._vc.n, doc="How often the storage changed in place.")
    parents = property(lambda self: self.grad_fn.inputs if self.grad_fn is not None else (),
                       doc="The input tensors of the op that made this one, in order.")

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor. Set it on leaves only (a computed tensor's
        flag follows its inputs: use ``.detach()`` to cut it), and True on floats only, as in
        PyTorch. (The flag itself is ``_rg``: ops read it without the property's cost.)"""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag):
        self._check_requires_grad(flag, "requires_grad =", leaf_only=True)
        self._rg = bool(flag)

    def _check_requires_grad(self, flag, what, leaf_only):
        if self.grad_fn is not None and (leaf_only or not flag):
            raise RuntimeError(
                f"{what} {bool(flag)}: you can only change requires_grad flags of leaf "
                f"variables (this tensor was computed by '{self.op}'; as in PyTorch)"
                + ("" if flag else ". If you want to use a computed variable in a subgraph "
                   "that doesn't require differentiation use var_no_grad = var.detach()"))
        if flag and self.dtype.kind != "f":
            raise RuntimeError(f"{what} True: only Tensors of floating point dtype can require "
                               f"gradients, got dtype {self.dtype} (make it with dtype=float, "
                               f"or .float(), as in PyTorch)")

    def size(self, dim=None):
        """The shape (PyTorch's ``size()``), or the length of one dim."""
        return self.shape if dim is None else self.shape[norm_axis("size", dim, self.shape)]

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient has been computed, in each
        backward (PyTorch's): ``grad`` is the summed gradient as a Tensor; returning a Tensor
        of its shape replaces it (for what ``.grad`` gets, for a leaf, and for what flows on
        to the inputs), None keeps it. Returns a handle: ``handle.remove()``.

        >>> import engine
        >>> x = engine.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * x).sum().backward(); x.grad
        tensor([20., 40.], shape=(2,), dtype=float32)
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient (as in PyTorch)")
        if not callable(hook):
            raise TypeError(f"register_hook: expected a function grad -> Tensor or None, got "
                            f"{type(hook).__name__}")
        if self._hooks is None:
            self._hooks = OrderedDict()  # (a plain dict cannot be weakly referenced)
        handle = autograd.RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        autograd.HOOKED[0] = True
        return handle

    def retain_grad(self) -> None:
        """Keep accumulating this non-leaf's ``.grad`` over backward passes, as a leaf's
        (PyTorch's ``retain_grad``). stepgrad fills a non-leaf's ``.grad`` anyway (the
        latest pass's, to step through in a REPL); this makes it add up. A leaf: no-op."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a Tensor that has "
                               "requires_grad=False (as in PyTorch)")
        if self.grad_fn is not None:
            self._retains = True

    retains_grad = property(lambda self: self.grad_fn is not None and self._retains,
                            doc="Whether retain_grad() was called on this non-leaf.")

    def numel(self) -> int:
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    def numpy(self) -> np.ndarray:
        """The data array (shared, not copied). Refused for a tensor that requires grad
        while gradients are recorded, as in PyTorch (``t.detach().numpy()``)."""
        if self._rg and state.grad_enabled:
            raise _numpy_refused("Tensor.numpy")
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"number, this one has shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.data.tolist()

    def __dlpack__(self, **kwargs):
        """DLPack export (numpy's): ``torch.from_dlpack(t)`` shares this tensor's memory."""
        if self.requires_grad:
            raise RuntimeError("__dlpack__: can't export a tensor that requires grad (its "
                               "graph would be lost); use t.detach()")
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    def __array__(self, dtype=None, copy=None):
        """numpy's conversion (``np.asarray(t)``, ``np.array(t)``, ``np.concatenate([t, u])``,
        ``plt.plot(t)``, …): the data, shared unless ``copy`` (``np.array`` copies, as for
        arrays). A tensor that requires grad is refused while gradients are recorded, as in
        PyTorch: the array would have no graph, so backward would silently miss it."""
        if self._rg and state.grad_enabled:
            raise _numpy_refused("numpy's array conversion (np.asarray, np.array, "
                                "np.concatenate, plt.plot, ...)")
        a = self.data
        if dtype is not None and np.dtype(dtype) != a.dtype:
            if copy is False:
                raise ValueError(f"np.asarray(tensor, dtype={np.dtype(dtype)}, copy=False): "
                                 f"the tensor's data is {a.dtype}, so a copy is needed")
            return a.astype(dtype)
        return a.copy() if copy else a

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        """numpy meeting a Tensor (numpy calls this; it never runs for Tensor-only code).

        - ``ndarray + t``, ``np.float32(2) * t``, ``ndarray < t``, …: the Tensor's reflected
          operator, as for ``2 + t``: a Tensor, with its gradient.
        - ``ndarray -= t`` (numpy's ``out=``): written into the array, so the manual SGD step
          ``w.data -= lr * w.grad`` updates w's numbers in place (``w.data`` stays an
          ndarray).
        - Any other ufunc (``np.exp(t)``, ``np.isfinite(t)``, ``np.add(t, t)``): numpy's
          result on the data, an ndarray.
        The last two are refused, as in PyTorch, when an input tensor requires grad while
        gradients are recorded: the array would have no graph (use ``t.exp()`` for that, or
        ``t.detach()`` for the numbers).
        """
        if out is None and method == "__call__" and len(inputs) == 2 and not kwargs \
                and isinstance(inputs[1], Tensor) and not isinstance(inputs[0], Tensor) \
                and ufunc in _REFLECTED:
            name = _REFLECTED[ufunc]
            if name is None:
                raise TypeError(f"{ufunc.__name__}: not defined between a numpy array and a "
                                f"Tensor (stepgrad has no such tensor op); compute it on the "
                                f"arrays: np.{ufunc.__name__}(a, t.numpy())")
            return getattr(inputs[1], name)(inputs[0])
        if method == "at" and isinstance(inputs[0], Tensor):
            raise TypeError(f"np.{ufunc.__name__}.at(tensor, ...): numpy cannot write into a "
                            f"Tensor; use t.index_add_ / t.scatter_add_, or np."
                            f"{ufunc.__name__}.at(t.data, ...) under engine.no_grad()")
        if out is not None:
            if any(isinstance(o, Tensor) for o in out):
                raise TypeError(f"np.{ufunc.__name__}(..., out=tensor): numpy cannot write into "
                                f"a Tensor; use out=t.data under engine.no_grad(), or an "
                                f"in-place method (t.add_(x), t.mul_(x), t.copy_(x))")
            kwargs["out"] = out
        if state.grad_enabled and any(isinstance(x, Tensor) and x._rg for x in inputs):
            name = ufunc.__name__
            if out is not None:
                hint = "; or make the update (array -= tensor) under engine.no_grad(), as " \
                       "optimizers do"
            else:
                hint = f"; or the Tensor method t.{name}()" \
                    if method == "__call__" and hasattr(Tensor, name) else ""
            raise _numpy_refused(f"np.{name}" + (f".{method}" if method != "__call__" else ""),
                                 hint)
        if isinstance(kwargs.get("where"), Tensor):
            kwargs["where"] = kwargs["where"].data
        args = [x.data if isinstance(x, Tensor) else x for x in inputs]
        return getattr(ufunc, method)(*args, **kwargs)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is "
                               f"ambiguous (shape {self.shape}): use .any() or .all()")
        return bool(self.data)

    def __format__(self, spec: str) -> str:
        """PyTorch's: a 0-d tensor formats as its number (``f"{loss:.3f}"``); any other
        tensor only with an empty spec (its repr), else a TypeError."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(f"only one-element integer tensors can be used as an index, "
                            f"got {self.dtype} of shape {self.shape}")
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20,
                               prefix="tensor(")
        extras = [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self.name:
            extras.insert(0, f"name={self.name!r}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    def short_label(self) -> str:
        return self.name or f"<{self.op or 'tensor'} {self.shape}>"

    # -- gradients --------------------------------------------------------------------------
    @property
    def grad(self):
        """The gradient (a Tensor of this shape, no graph unless ``create_graph``), or None."""
        g = self._grad
        if g is None or type(g) is Tensor:
            return g
        self._grad = g = Tensor._make(np.asarray(g))  # the walk stores arrays: wrapped when read
        return g

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad "
                                f"of type {type(value).__name__} (wrap it: engine.tensor(...))")
            if value.shape != self.shape or value.dtype != self.dtype:
                raise RuntimeError(f"assigned grad has shape {value.shape} and dtype "
                                   f"{value.dtype}; the tensor has {self.shape} and "
                                   f"{self.dtype} (they must match, as in PyTorch)")
        self._grad = value

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None, *,
                 grad=None):
        """Fill ``.grad`` of every tensor this one depends on that requires grad.

        A non-scalar root needs ``gradient`` (the upstream gradient, same shape; ``grad=`` is
        accepted too). Saved arrays are freed afterwards unless ``retain_graph=True``; leaves'
        grads accumulate until zeroed. ``create_graph=True`` records the backward pass, so
        the gradients can be differentiated again. ``inputs`` (a tensor or a sequence):
        only their ``.grad`` is filled, as PyTorch's ``backward(inputs=[w])``.
        """
        gradient = _pick("backward", gradient, grad, "grad", None)
        with np.errstate(all="ignore"):  # 0·∞ and friends: NaN/Inf are the answer (anomaly)
            autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def seed_grad(self, grad, create_graph=False):
        if not self.requires_grad:
            if self._stale_src is not None and _stale_view(self):
                raise RuntimeError(f"backward: {_STALE_VIEW}")
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(was it made under no_grad, or from inputs without "
                               "requires_grad=True?)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar "
                                   f"outputs; this tensor has shape {self.shape}: pass gradient=")
            g = np.ones(self.shape, self.dtype)
        elif isinstance(grad, Tensor) and create_graph:
            g = grad
        else:
            g = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
        if g.shape != self.shape:
            raise RuntimeError(f"backward: Mismatch in shape: grad has shape {g.shape} but "
                               f"the tensor has shape {self.shape} (the gradient of an output "
                               f"has the output's shape, as in PyTorch)")
        return Tensor._make(g) if create_graph and not isinstance(g, Tensor) else g

    def wrap_grad(self, g):
        return g if isinstance(g, Tensor) else Tensor._make(np.asarray(g))

    def receive_grad(self, g, owned=False):
        # Arrays are stored as they come (wrapped into a Tensor when .grad is read): most
        # intermediate gradients are never looked at.
        if self.grad_fn is not None and not self._retains:
            self._grad = g  # intermediate: assigned per walk, never compounded
        elif self._grad is None:      # a copy, unless the walk says no one else holds g
            if owned and type(g) is np.ndarray and g.dtype == self.dtype \
                    and g.shape == self.shape:
                self._grad = g
            elif isinstance(g, Tensor):
                # create_graph: g may be another leaf's gradient too ((x + z) sends one g to
                # both) or a read-only view: cloned, as PyTorch's AccumulateGrad does, with
                # its graph when it has one, so no two leaves ever share a .grad
                self._grad = _clone_grad(g)
            else:
                self._grad = np.array(g, self.dtype)
        elif isinstance(g, Tensor) or (type(self._grad) is Tensor and self._grad.requires_grad):
            self._grad = self.grad + g  # leaves accumulate, as in PyTorch (here with graph)
        elif type(self._grad) is Tensor:
            self._grad.data += g        # in place, as PyTorch accumulates
            self._grad._vc.n += 1
        else:
            self._grad += g             # an array this tensor owns

    def detach(self) -> "Tensor":
        """A new leaf sharing this data (and its version counter), cut from the graph."""
        t = Tensor._make(self.data)
        t._vc, t._base = self._vc, self
        return t

    def detach_(self) -> "Tensor":
        """Cut this tensor from its graph in place: it becomes a leaf that does not require
        grad (PyTorch's ``detach_``; a view refuses, as there). Ops recorded on it before
        refuse to backward through it afterwards (PyTorch would still reach its old history;
        stepgrad's graph goes through the tensor itself), so call it after backward."""
        if self._base is not None and self.data is not self._base.data:  # (detach(): not a view)
            raise RuntimeError("detach_: can't detach views in-place (this tensor is a slice, "
                               "reshape or transpose of another); use detach() instead")
        if self.grad_fn is not None:
            self.grad_fn, self._detached = None, True
            self._vc.n += 1  # graphs that consumed this node see that its history changed
        self._rg = False
        return self

    def requires_grad_(self, flag=True) -> "Tensor":
        """Set ``requires_grad`` in place and return this tensor (a no-op ``True`` on a
        computed tensor, as PyTorch's)."""
        self._check_requires_grad(flag, "requires_grad_", leaf_only=False)
        self._rg = bool(flag)
        return self

    def zero_grad(self) -> None:
        self._grad = None

    # -- running ops (Op.apply calls this for Tensor inputs) ---------------------------------
    @staticmethod
    def run_op(cls, inputs, params):
        """Make ``cls``'s output from ``inputs``: dtypes joined, graph recorded when needed."""
        # (Plain loops and lists, no generators: this runs once per op.)
        ts = list(inputs)
        like = None
        for x in ts:
            if isinstance(x, Tensor):
                like = x
                break
        for i, x in enumerate(ts):
            if not isinstance(x, Tensor):
                ts[i] = as_tensor(x, like)
        f, other = None, False  # the one float dtype; whether some input is not float
        for t in ts:
            if t._stale_src is not None and _stale_view(t):
                raise RuntimeError(f"{cls.name}: {_STALE_VIEW}")
            dt = t.data.dtype
            if dt.kind != "f":
                other = True
            elif f is None:
                f = dt
            elif dt != f:
                floats = sorted({str(t.data.dtype) for t in ts if t.data.dtype.kind == "f"})
                raise TypeError(f"{cls.name}: dtype mismatch {' vs '.join(floats)} (shapes "
                                f"{[t.shape for t in ts]}); convert one with .float() or "
                                f".double() -- stepgrad never upcasts silently")
        if other and (f is not None or cls.float_only):  # ints and bools join the float dtype
            f = f or _default["float"]
            ts = [t if t.data.dtype == f else Tensor._make(t.data.astype(f)) for t in ts]
        elif other and len(ts) > 1:
            ts = _zero_dim_ints(ts)
        op = cls()
        if state.grad_enabled and cls.differentiable:
            op.needs_grad = needs = tuple([t._rg for t in ts])
        else:
            op.needs_grad = needs = (False,) * len(ts)
        try:
            data = np.asarray(op.forward(*[t.data for t in ts], **params))
        except ValueError as e:
            if str(e).startswith(cls.name + ":"):
                raise
            raise ValueError(f"{cls.name}: {e} (input shapes "
                             f"{', '.join(str(t.shape) for t in ts)})") from None
        out = Tensor._make(data)
        if cls.view and np.may_share_memory(data, ts[0].data):
            src = ts[0]
            out._vc, out._base = src._vc, src
            root = src if src._stale_src is None else src._stale_src
            if not root.requires_grad:
                out._stale_src = root
        if any(needs) and data.dtype.kind == "f":
            out._rg, out.grad_fn, op.inputs = True, op, tuple(ts)
            scopes = state.scopes
            if scopes:
                out.scope = scopes
            op.versions = tuple([t._vc.n for t in ts]) + (out._vc.n,)
            if state.anomaly:
                op.site = autograd.user_site()
        if state.anomaly:
            autograd.check_forward(cls.name, data, op.site or autograd.user_site())
        return out

    # -- in place (each bumps the version counter) --------------------------------------------
    def _inplace(self, what, op, *others, **params) -> "Tensor":
        """``self = op(self, *others)`` written into this tensor's memory, as PyTorch does.
        ``op`` is an Op class or a function of Tensors built from ops (``masked_fill``).

        Under no_grad (or when nothing needs a gradient) only the data changes. While
        recording, a leaf that requires grad is refused (PyTorch's error); any other tensor
        becomes the op's output, and a copy of its old value takes over its old place in the
        graph, so the gradient still flows through what it was.
        """
        recording = state.grad_enabled and (self._rg or any(
            isinstance(o, Tensor) and o._rg for o in (*others, *params.values())))
        if recording and self.is_leaf and self._rg:
            raise RuntimeError(f"{what}: a leaf Variable that requires grad is being used in "
                               f"an in-place operation. Wrap the update in engine.no_grad() "
                               f"(as optimizers do), or compute out of place: x = x + y")
        if recording and self._base is not None:
            raise RuntimeError(f"{what}: in-place change of a view (a slice, reshape or "
                               f"transpose) while recording gradients is not supported: "
                               f"compute out of place (engine.where, engine.cat, x = x + y)")
        apply = getattr(op, "apply", op)
        if not recording:
            ufunc = _UFUNCS.get(getattr(op, "name", None))
            other = others[0] if others else None
            if ufunc is not None and not params and (
                    not isinstance(other, Tensor) or other.data.dtype == self.data.dtype):
                # Straight into the memory, no temporary (what optimizer steps run on).
                other = other.data if isinstance(other, Tensor) else other
                try:
                    ufunc(self.data, other, out=self.data, casting="same_kind")
                except (ValueError, TypeError):  # shape or dtype: say it our way
                    try:
                        shape = np.broadcast_shapes(self.shape, np.shape(other))
                    except ValueError:
                        shape = np.shape(other)
                    self._write(what, np.empty(shape, np.result_type(self.data, other)))
                    raise
                self._vc.n += 1
                return self
            with autograd.no_grad():
                new = apply(self, *others, **params).data
            self._write(what, new)
            return self
        old = Tensor._make(self.data.copy(), self._rg)
        old.grad_fn, old.scope = self.grad_fn, self.scope
        old._vc = Version(self._vc.n)  # the version its own op recorded
        new = apply(old, *others, **params)
        self._write(what, new.data)
        self.grad_fn, self._rg = new.grad_fn, True
        self.grad_fn.versions = self.grad_fn.versions[:-1] + (self._vc.n,)  # its output: self
        return self

    def _write(self, what, new):
        """Every in-place change that does not go straight through a ufunc ends here (that
        path, failing, comes here too): the checks before memory is written."""
        if not self.data.flags.writeable:
            raise RuntimeError(f"{what}: unsupported operation: more than one element of the "
                               f"written-to tensor may refer to a single memory location (an "
                               f"expand()ed or broadcast tensor, or a read-only numpy array "
                               f"under from_numpy). Please clone() the tensor before "
                               f"performing the operation")
        new = np.asarray(new)
        if new.shape != self.shape:
            raise RuntimeError(f"{what}: output with shape {self.shape} doesn't match the "
                               f"broadcast shape {new.shape}")
        if not np.can_cast(new.dtype, self.dtype, "same_kind"):
            raise RuntimeError(f"{what}: result type {new.dtype} can't be cast to the desired "
                               f"output type {self.dtype}")
        self.data[...] = new
        self._vc.n += 1

    def add_(self, other, alpha=1):
        return self._inplace("add_", E.Add, other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        return self._inplace("sub_", E.Sub, other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return self._inplace("mul_", E.Mul, other)

    def div_(self, other):
        return self._inplace("div_", E.Div, other)

    def clamp_(self, min=None, max=None):
        bounds, params = E.Clip.args(min, max, "clamp_")
        return self._inplace("clamp_", E.Clip, *bounds, **params)

    def clamp_min_(self, min):  # noqa: A002 (PyTorch's name)
        return self.clamp_(min=min)

    def clamp_max_(self, max):  # noqa: A002
        return self.clamp_(max=max)

    # The elementwise functions in place: each is its op written back (exp_ is exp(x) → x).
    # More (sin_, pow_, lerp_, …) are the methods written back: _inplace_method, at the end.
    def relu_(self): return self._inplace("relu_", E.ReLU)
    def exp_(self): return self._inplace("exp_", E.Exp)
    def log_(self): return self._inplace("log_", E.Log)
    def sqrt_(self): return self._inplace("sqrt_", E.Sqrt)
    def abs_(self): return self._inplace("abs_", E.Abs)
    def neg_(self): return self._inplace("neg_", E.Neg)
    def sigmoid_(self): return self._inplace("sigmoid_", E.Sigmoid)
    def tanh_(self): return self._inplace("tanh_", E.Tanh)
    def square_(self): return self._inplace("square_", M.square)

    # PyTorch's new_* : a new tensor with this one's dtype (unless dtype= says otherwise).
    def new_zeros(self, *size, dtype=None, requires_grad=False):
        return self._new(np.zeros, size, dtype, requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        return self._new(np.ones, size, dtype, requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad=False):
        return self._new(np.zeros, size, dtype, requires_grad)  # zeros, as engine.empty

    def new_full(self, size, fill_value, *, dtype=None, requires_grad=False):
        return self._new(lambda shape, dt: np.full(shape, fill_value, dt), (size,), dtype,
                         requires_grad)

    def new_tensor(self, data, *, dtype=None, requires_grad=False):
        """A copy of ``data`` in this tensor's dtype (PyTorch's: not data's own)."""
        data = data.data if isinstance(data, Tensor) else data
        return Tensor(np.array(data), dtype=self.dtype if dtype is None else dtype,
                      requires_grad=requires_grad)

    def _new(self, make, size, dtype, requires_grad):
        size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        dt = self.dtype if dtype is None else np.dtype(dtype)
        return Tensor(make(size, dt), dtype=dt, requires_grad=requires_grad)

    def is_floating_point(self) -> bool: return self.dtype.kind == "f"
    def nelement(self) -> int: return self.numel()
    def element_size(self) -> int: return self.dtype.itemsize

    negative_ = neg_
    absolute_ = abs_

    def masked_fill_(self, mask, value):
        """``value`` written where ``mask`` (bool, broadcasting to this shape) is true."""
        return self._inplace("masked_fill_", I.masked_fill, mask, value)

    def fill_diagonal_(self, fill_value, wrap=False):
        """``fill_value`` written on the main diagonal, PyTorch's (and numpy's
        ``fill_diagonal``) rule: a 2-D (n, m) tensor gets (i, i) for i < min(n, m) — a tall
        one (n > m) with ``wrap=True`` starts again every m + 1 rows; more dims must all have
        one length. As ``masked_fill_`` with that diagonal: no gradient on the filled places."""
        if self.ndim < 2:
            raise RuntimeError(f"fill_diagonal_: the tensor must have at least 2 dimensions "
                               f"(got shape {self.shape})")
        if self.ndim > 2 and len(set(self.shape)) > 1:
            raise RuntimeError(f"fill_diagonal_: all dimensions of input must be of equal "
                               f"length when it has more than 2 (got shape {self.shape})")
        mask = np.zeros(self.shape, bool)
        np.fill_diagonal(mask, True, wrap=bool(wrap))
        return self._inplace("fill_diagonal_", I.masked_fill, Tensor._make(mask), fill_value)

    def index_fill_(self, dim, index, value):
        """``value`` written at positions ``index`` (1-D) along ``dim``."""
        return self._inplace("index_fill_", I.index_fill, dim, index, value)

    def index_add_(self, dim, index, source, *, alpha=1):
        """``alpha·source`` added at positions ``index`` along ``dim`` (repeats add up)."""
        return self._inplace("index_add_", CO.index_add, dim, index, source, alpha=alpha)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        """``src`` (or the number ``value``) written at ``index`` along ``dim`` (see
        ``scatter``). PyTorch's deprecated ``reduce=`` is refused: use scatter_add_."""
        if reduce is not None:
            raise TypeError(f"scatter_: reduce={reduce!r} is not supported (PyTorch deprecates "
                            f"it): use scatter_add_ for 'add'")
        return self._inplace("scatter_", Tensor.scatter, dim, index, src, value=value)

    def scatter_add_(self, dim, index, src):
        """``src`` added at ``index`` along ``dim`` (repeats add up)."""
        return self._inplace("scatter_add_", Tensor.scatter_add, dim, index, src)

    def copy_(self, src):
        """Write ``src`` (broadcast to this shape) into this tensor, cast to this tensor's
        dtype as PyTorch's copy_ does (float64 into float32, float into int truncating):
        an explicit copy is the one place a dtype changes without ``.float()``. The
        gradient flows back to ``src`` in ``src``'s dtype."""
        src = as_tensor(src, self)
        if src.shape != self.shape and np.broadcast_shapes(src.shape, self.shape) != self.shape:
            raise RuntimeError(f"copy_: source of shape {src.shape} does not broadcast to "
                               f"{self.shape}")
        return self._inplace("copy_", S.Copy, src.astype(self.dtype))

    def fill_(self, value):
        """``value`` (a number or a 0-d tensor, cast to this dtype as in PyTorch) everywhere."""
        value = as_tensor(value, self)
        if value.ndim:
            raise RuntimeError(f"fill_: only supports a 0-dimension value tensor, but got a "
                               f"tensor of shape {value.shape} (use copy_ for tensors)")
        return self._inplace("fill_", S.Copy, value.astype(self.dtype))

    def zero_(self):
        return self.fill_(0)

    # Random fills in place (PyTorch's ``w.data.normal_(0, 0.02)`` idiom is ``w.normal_``
    # here, under no_grad: ``.data`` is the numpy array), from engine's generator
    # (``engine.manual_seed``) or ``generator``, a numpy Generator.
    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Draws from N(mean, std²) written into this float tensor."""
        if not std >= 0:
            raise RuntimeError(f"normal_: expects std >= 0.0, but found std {std}")
        return self._fill_random("normal_", generator, lambda r: r.normal(mean, std, self.shape))

    def uniform_(self, a=0.0, b=1.0, *, generator=None, **kwargs):
        """Draws from U[a, b) written into this float tensor (PyTorch also names the bounds
        ``from`` and ``to``: ``uniform_(**{'from': -1, 'to': 1})``)."""
        a, b = kwargs.pop("from", a), kwargs.pop("to", b)
        if kwargs:
            raise TypeError(f"uniform_: unexpected keyword {next(iter(kwargs))!r}")
        if not a <= b:
            raise RuntimeError(f"uniform_: expects to return a [from, to) range, but found "
                               f"from={a} > to={b}")
        return self._fill_random("uniform_", generator, lambda r: r.uniform(a, b, self.shape))

    def bernoulli_(self, p=0.5, *, generator=None):
        """1 with probability p, else 0, written in (p a number or a tensor broadcasting to
        this shape: a probability per element)."""
        prob = np.asarray(p.data if isinstance(p, Tensor) else p, np.float64)
        if prob.size and not ((prob >= 0) & (prob <= 1)).all():
            raise RuntimeError(f"bernoulli_: expects 0 <= p <= 1, got p = {p}")
        return self._fill_random("bernoulli_", generator, lambda r: r.random(self.shape) < prob,
                                 floats_only=False)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """``engine.multinomial(self, …)``: category indices drawn by these weights."""
        from .creation import multinomial
        return multinomial(self, num_samples, replacement, generator=generator)

    def bernoulli(self, p=None, *, generator=None):
        """``engine.bernoulli(self, p)``: 1.0 with probability self (or p), else 0.0."""
        from .creation import bernoulli
        return bernoulli(self, p, generator=generator)

    def _fill_random(self, what, generator, draw, floats_only=True):
        if floats_only and self.dtype.kind != "f":
            raise RuntimeError(f"{what}: expects a floating point tensor, got {self.dtype} "
                               f"(make it with dtype=engine.float32, or .float() first)")
        generator = generator_or_default(what, generator)
        return self._inplace(what, S.Copy, np.asarray(draw(generator)).astype(self.dtype))

    __iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_

    def __setitem__(self, index, value):
        index = _index(index, "setitem")
        value = as_tensor(value, self)
        moved = _torch_order(index, self.shape)
        if moved is not None and value.ndim:
            # PyTorch's result order (see __getitem__): bring the value into numpy's.
            start, k = moved
            shape = _indexed_shape(self.shape, index)
            torch_shape = shape[k:k + start] + shape[:k] + shape[k + start:]
            value = value.broadcast_to(torch_shape).movedim(tuple(range(start, start + k)),
                                                            tuple(range(k)))
        self._inplace("setitem", S.SetItem, value, index=index)

    # -- dtype ------------------------------------------------------------------------------
    def astype(self, dtype) -> "Tensor":
        """A differentiable cast (gradients are cast back)."""
        return self if np.dtype(dtype) == self.dtype else S.Cast.apply(self, dtype=np.dtype(dtype))

    def to(self, *args, dtype=None, device=None, copy=False):
        """``to(dtype)`` casts (``astype``); ``to('cpu')`` / ``to(device='cpu')`` is this
        tensor (stepgrad runs on the CPU); a GPU device is an error saying so."""
        dtype = to_args("to", args, dtype, device)
        out = self if dtype is None else self.astype(dtype)
        return out.clone() if copy and out is self else out

    def type_as(self, other):
        return self.astype(other.dtype)

    @property
    def device(self):
        """Where the data is: always the CPU (``device(type='cpu')``), as numpy's."""
        from .device import CPU
        return CPU

    is_cuda = False

    def cpu(self) -> "Tensor":
        """This tensor (it is on the CPU already; PyTorch's ``x.cpu()`` returns ``x`` too)."""
        return self

    def cuda(self, *args, **kwargs):
        raise RuntimeError("cuda: stepgrad runs on the CPU only (numpy); drop the .cuda() "
                           "call (or use .to(device) with device = 'cpu')")

    def type(self, dtype=None):
        """No argument: the type's name, as PyTorch's (``'torch.FloatTensor'`` for float32);
        a dtype or such a name: this tensor cast to it (``x.type(torch.float64)``)."""
        if dtype is None:
            return "torch." + _TYPE_NAMES.get(self.dtype, str(self.dtype)) + "Tensor"
        if isinstance(dtype, str):
            name = dtype.split(".")[-1].removesuffix("Tensor")
            found = [d for d, n in _TYPE_NAMES.items() if n == name]
            if not found:
                raise ValueError(f"type: unknown tensor type {dtype!r} (e.g. "
                                 f"'torch.FloatTensor', or a dtype: torch.float32)")
            dtype = found[0]
        return self.astype(dtype)

    def float(self): return self.astype(np.float32)
    def double(self): return self.astype(np.float64)
    def half(self): return self.astype(np.float16)
    def long(self): return self.astype(np.int64)
    def int(self): return self.astype(np.int32)
    def bool(self): return self.astype(bool)
    def short(self): return self.astype(np.int16)
    def char(self): return self.astype(np.int8)
    def byte(self): return self.astype(np.uint8)

    def clone(self): return S.Clone.apply(self)

    def contiguous(self):
        return self if self.data.flags.c_contiguous else self.clone()

    # -- operators --------------------------------------------------------------------------
    def __add__(self, o): return E.Add.apply(self, o)
    def __radd__(self, o): return E.Add.apply(o, self)
    def __sub__(self, o): return E.Sub.apply(self, o)
    def __rsub__(self, o): return E.Sub.apply(o, self)
    def __mul__(self, o): return E.Mul.apply(self, o)
    def __rmul__(self, o): return E.Mul.apply(o, self)
    def __truediv__(self, o): return E.Div.apply(self, o)
    def __rtruediv__(self, o): return E.Div.apply(o, self)
    def __pow__(self, o): return E.Pow.apply(self, o)
    def __rpow__(self, o): return E.Pow.apply(o, self)
    def __matmul__(self, o): return linalg.MatMul.apply(self, o)
    def __rmatmul__(self, o): return linalg.MatMul.apply(o, self)
    def __neg__(self): return E.Neg.apply(self)

    def __mod__(self, o): return M.Remainder.apply(self, o)
    def __rmod__(self, o): return M.Remainder.apply(o, self)
    def __floordiv__(self, o): return M.FloorDivide.apply(self, o)
    def __rfloordiv__(self, o): return M.FloorDivide.apply(o, self)
    def __abs__(self): return self.abs()
    def __pos__(self): return self

    mul, pow, matmul, neg = __mul__, __pow__, __matmul__, __neg__
    multiply, negative, true_divide = __mul__, __neg__, __truediv__

    def add(self, other, *, alpha=1):
        """``self + alpha · other`` (PyTorch's ``add``)."""
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        """``self − alpha · other``."""
        return self - (other if alpha == 1 else other * alpha)

    subtract = sub

    def div(self, other, *, rounding_mode=None):
        """True division; ``rounding_mode='floor'`` (``//``) or ``'trunc'`` (toward zero)
        round the quotient (zero gradient, as PyTorch)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode == "floor":
            return M.FloorDivide.apply(self, other)
        if rounding_mode == "trunc":
            if self.dtype.kind == "f" or as_tensor(other, self).dtype.kind == "f":
                return (self / other).trunc()
            return _trunc_div(self, other)
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")

    divide = div

    # PyTorch's named products: matmul with the operand ranks checked.
    def mm(self, other): return self._product("mm", other, 2, 2)
    def bmm(self, other): return self._product("bmm", other, 3, 3)
    def mv(self, other): return self._product("mv", other, 2, 1)
    def dot(self, other): return self._product("dot", other, 1, 1)

    def _product(self, what, other, nd_self, nd_other):
        other = as_tensor(other, self)
        if self.ndim != nd_self or other.ndim != nd_other:
            raise ValueError(f"{what}: expects {nd_self}-D @ {nd_other}-D tensors, got shapes "
                             f"{self.shape} and {other.shape} (matmul / @ broadcasts any ranks)")
        if what == "bmm" and self.shape[0] != other.shape[0]:
            raise ValueError(f"bmm: batch sizes differ, shapes {self.shape} and {other.shape}")
        return self @ other

    def outer(self, other):
        """``out[i, j] = self[i]·other[j]`` for 1-D tensors."""
        other = as_tensor(other, self)
        if self.ndim != 1 or other.ndim != 1:
            raise ValueError(f"outer: expects two 1-D tensors, got shapes {self.shape} and "
                             f"{other.shape}")
        return self.reshape(-1, 1) * other.reshape(1, -1)

    ger = outer

    def remainder(self, other): return M.Remainder.apply(self, other)
    def fmod(self, other): return M.Fmod.apply(self, other)
    def floor_divide(self, other): return M.FloorDivide.apply(self, other)

    # Comparisons and logic: boolean tensors, no gradient.
    def _cmp(self, o, fn):
        o = o.data if isinstance(o, Tensor) else o
        if isinstance(o, Node):
            raise TypeError(f"cannot compare a Tensor with a {type(o).__name__}")
        return Tensor._make(np.asarray(fn(self.data, o)))

    def __lt__(self, o): return self._cmp(o, np.less)
    def __le__(self, o): return self._cmp(o, np.less_equal)
    def __gt__(self, o): return self._cmp(o, np.greater)
    def __ge__(self, o): return self._cmp(o, np.greater_equal)
    def __eq__(self, o):
        """Elementwise ==; ``t == None`` is False (a Python bool), as in PyTorch."""
        return False if o is None else self._cmp(o, np.equal)

    def __ne__(self, o):
        return True if o is None else self._cmp(o, np.not_equal)

    def _logic(self, o, fn, what):
        if self.dtype.kind not in "iub" or (isinstance(o, Tensor) and o.dtype.kind not in "iub"):
            raise TypeError(f"{what} is only defined for bool and integer tensors, got "
                            f"{self.dtype}" + (f" and {o.dtype}" if isinstance(o, Tensor) else ""))
        return self._cmp(o, fn)

    def __and__(self, o): return self._logic(o, np.bitwise_and, "&")
    def __or__(self, o): return self._logic(o, np.bitwise_or, "|")
    def __xor__(self, o): return self._logic(o, np.bitwise_xor, "^")
    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    # x &= m writes into x, as PyTorch does (without these Python would rebind x to a new
    # tensor, and a view or another name for x would silently keep the old values).
    def __iand__(self, o): return self._inplace("&=", Tensor.__and__, o)
    def __ior__(self, o): return self._inplace("|=", Tensor.__or__, o)
    def __ixor__(self, o): return self._inplace("^=", Tensor.__xor__, o)

    def __invert__(self):
        return self._logic(None, lambda a, _: np.invert(a), "~")

    # Tests of values and logical (truth-value) ops: bool tensors, no gradient.
    def isnan(self): return Tensor._make(np.isnan(self.data))
    def isinf(self): return Tensor._make(np.isinf(self.data))
    def isfinite(self): return Tensor._make(np.isfinite(self.data))
    def signbit(self): return Tensor._make(np.signbit(self.data))  # -0.0 too, as PyTorch's
    def isposinf(self): return Tensor._make(np.isposinf(self.data))
    def isneginf(self): return Tensor._make(np.isneginf(self.data))
    def logical_not(self): return Tensor._make(np.logical_not(self.data))
    def logical_and(self, other): return self._cmp(other, np.logical_and)
    def logical_or(self, other): return self._cmp(other, np.logical_or)
    def logical_xor(self, other): return self._cmp(other, np.logical_xor)

    def eq(self, other): return self == other
    def ne(self, other): return self != other
    def lt(self, other): return self < other
    def le(self, other): return self <= other
    def gt(self, other): return self > other
    def ge(self, other): return self >= other

    def equal(self, other) -> bool:
        """True if both have the same shape and elements (PyTorch's ``torch.equal``)."""
        other = as_tensor(other, self)
        return self.shape == other.shape and bool(np.array_equal(self.data, other.data))

    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
        return bool(np.allclose(self.data, as_tensor(other, self).data, rtol, atol, equal_nan))

    def __getitem__(self, index):
        """numpy's indexing, with PyTorch's result order where the two differ: an int
        between advanced (array) indices -- ``x[0, :, [0, 1]]`` -- is a plain select in
        PyTorch, so the array dims stay in place ((3, 2) for x of shape (2, 3, 4)); numpy
        moves them to the front ((2, 3))."""
        index = _index(index)
        out = S.GetItem.apply(self, index=index)
        moved = _torch_order(index, self.shape)
        if moved is None:
            return out
        start, k = moved
        return out.movedim(tuple(range(k)), tuple(range(start, start + k)))

    # -- elementwise ------------------------------------------------------------------------
    def exp(self): return E.Exp.apply(self)
    def log(self): return E.Log.apply(self)
    def sqrt(self): return E.Sqrt.apply(self)
    def abs(self): return E.Abs.apply(self)
    absolute = abs

    def frac(self):
        """x − trunc(x), the sign of x kept (PyTorch's frac); gradient 1."""
        return self - self.trunc()

    def tanh(self): return E.Tanh.apply(self)
    def sigmoid(self): return E.Sigmoid.apply(self)
    def relu(self): return E.ReLU.apply(self)

    def floor(self): return E.Floor.apply(self)
    def ceil(self): return E.Ceil.apply(self)
    def trunc(self): return E.Trunc.apply(self)
    def sign(self): return E.Sign.apply(self)
    def round(self, decimals=0): return E.Round.apply(self, decimals=decimals)

    def sin(self): return M.Sin.apply(self)
    def cos(self): return M.Cos.apply(self)
    def tan(self): return M.Tan.apply(self)
    def asin(self): return M.Asin.apply(self)
    def acos(self): return M.Acos.apply(self)
    def atan(self): return M.Atan.apply(self)
    def sinh(self): return M.Sinh.apply(self)
    def cosh(self): return M.Cosh.apply(self)
    def asinh(self): return M.Asinh.apply(self)
    def acosh(self): return M.Acosh.apply(self)
    def atanh(self): return M.Atanh.apply(self)
    def atan2(self, other): return M.Atan2.apply(self, other)
    arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = \
        asin, acos, atan, asinh, acosh, atanh, atan2

    def log1p(self): return M.Log1p.apply(self)
    def expm1(self): return M.Expm1.apply(self)
    def erf(self): return M.Erf.apply(self)
    def log2(self): return M.log2(self)
    def log10(self): return M.log10(self)
    def exp2(self): return M.exp2(self)
    def rsqrt(self): return M.rsqrt(self)
    def square(self): return M.square(self)
    def reciprocal(self): return 1 / self
    def logaddexp(self, other): return M.LogAddExp.apply(self, other)
    def copysign(self, other): return M.CopySign.apply(self, other)
    def lerp(self, end, weight): return M.lerp(self, end, weight)
    fix = trunc

    def any(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        _no_extra("any", kw, _REDUCE_KW)
        axis = _pick("any", axis, dim, "dim", None)
        return Tensor._make(np.asarray(np.any(self.data, axis=None if axis is None else norm_axes(
            "any", axis, self.shape), keepdims=_pick("any", keepdims, keepdim, "keepdim", False))))

    def all(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        _no_extra("all", kw, _REDUCE_KW)
        axis = _pick("all", axis, dim, "dim", None)
        return Tensor._make(np.asarray(np.all(self.data, axis=None if axis is None else norm_axes(
            "all", axis, self.shape), keepdims=_pick("all", keepdims, keepdim, "keepdim", False))))

    def leaky_relu(self, negative_slope=0.01):
        return E.LeakyReLU.apply(self, slope=negative_slope)

    # Activations beyond relu/sigmoid/tanh (formulas in engine/ops/activations.py).
    def softplus(self, beta=1.0, threshold=20.0):
        return A.Softplus.apply(self, beta=beta, threshold=threshold)

    def hardtanh(self, min_val=-1.0, max_val=1.0):
        return A.Hardtanh.apply(self, min_val=min_val, max_val=max_val)

    def gelu(self, approximate="none"): return A.gelu(self, approximate)
    def elu(self, alpha=1.0): return A.elu(self, alpha)
    def selu(self): return A.selu(self)
    def celu(self, alpha=1.0): return A.celu(self, alpha)
    def silu(self): return A.silu(self)
    def mish(self): return A.mish(self)
    def relu6(self): return A.relu6(self)
    def hardsigmoid(self): return A.hardsigmoid(self)
    def hardswish(self): return A.hardswish(self)
    def logsigmoid(self): return A.logsigmoid(self)
    def softsign(self): return A.softsign(self)
    def prelu(self, weight): return A.prelu(self, weight)

    def softmin(self, dim=None, *, axis=None):
        return A.softmin(self, _pick("softmin", dim, axis, "axis", None) if dim is not None
                         or axis is not None else -1)

    def normalize(self, p=2.0, dim=1, eps=1e-12):
        return A.normalize(self, p, dim, eps)

    def clamp_min(self, min): return self.clip(min=min)  # noqa: A002 (PyTorch's names)
    def clamp_max(self, max): return self.clip(max=max)  # noqa: A002

    def clip(self, lo=None, hi=None, *, min=None, max=None):
        """``min(max(self, lo), hi)``; bounds are numbers or tensors (which get gradients where
        they are the result), as PyTorch's clamp, dtypes promoted as any op's."""
        lo, hi = _pick("clip", lo, min, "min", None), _pick("clip", hi, max, "max", None)
        bounds, params = E.Clip.args(lo, hi)
        return E.Clip.apply(self, *bounds, **params)

    clamp = clip

    def maximum(self, other): return E.Maximum.apply(self, other)
    def minimum(self, other): return E.Minimum.apply(self, other)

    # -- reductions (axis=/keepdims= or PyTorch's dim=/keepdim=) --------------------------------
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None, **kw):
        _no_extra("sum", kw, _REDUCE_KW + ("dtype",))
        return R.Sum.apply(self, axis=_pick("sum", axis, dim, "dim", None),
                           keepdims=_pick("sum", keepdims, keepdim, "keepdim", False), dtype=dtype)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None, **kw):
        """Mean over ``dim`` (all when None); ``dtype=`` casts first, as PyTorch's (an
        integer tensor's mean needs a float one)."""
        _no_extra("mean", kw, _REDUCE_KW + ("dtype",))
        x = self if dtype is None else self.to(dtype)
        return R.Mean.apply(x, axis=_pick("mean", axis, dim, "dim", None),
                            keepdims=_pick("mean", keepdims, keepdim, "keepdim", False))

    def var(self, axis=None, unbiased=None, keepdims=False, *, correction=None, dim=None,
            keepdim=None, **kw):
        """Variance; ``correction=1`` (PyTorch's default) divides by n − 1, 0 by n. The
        positional order is PyTorch's ``var(dim, unbiased, keepdim)``: ``x.var(0, True)`` is
        unbiased, not keepdim."""
        _no_extra("var", kw, _REDUCE_KW + ("correction", "unbiased"))
        return R.Var.apply(self, axis=_pick("var", axis, dim, "dim", None),
                           keepdims=_pick("var", keepdims, keepdim, "keepdim", False),
                           correction=_correction("var", unbiased, correction))

    def std(self, axis=None, unbiased=None, keepdims=False, *, correction=None, dim=None,
            keepdim=None, **kw):
        """Standard deviation, √var (same arguments); its gradient is 0 where it is 0 (a
        constant input), as PyTorch's."""
        _no_extra("std", kw, _REDUCE_KW + ("correction", "unbiased"))
        return R.Std.apply(self, axis=_pick("std", axis, dim, "dim", None),
                           keepdims=_pick("std", keepdims, keepdim, "keepdim", False),
                           correction=_correction("std", unbiased, correction))

    def amax(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        _no_extra("amax", kw, _REDUCE_KW)
        return R.Max.apply(self, axis=_pick("amax", axis, dim, "dim", None),
                           keepdims=_pick("amax", keepdims, keepdim, "keepdim", False))

    def amin(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        _no_extra("amin", kw, _REDUCE_KW)
        return R.Min.apply(self, axis=_pick("amin", axis, dim, "dim", None),
                           keepdims=_pick("amin", keepdims, keepdim, "keepdim", False))

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        """``max()``: the largest value. ``max(dim)``: the pair ``(values, indices)`` along
        ``dim``, as PyTorch. ``max(other_tensor)``: elementwise maximum."""
        _no_extra("max", kw, _REDUCE_KW)
        return self._extreme("max", axis, keepdims, dim, keepdim)

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        _no_extra("min", kw, _REDUCE_KW)
        return self._extreme("min", axis, keepdims, dim, keepdim)

    def _extreme(self, which, axis, keepdims, dim, keepdim):
        axis = _pick(which, axis, dim, "dim", None)
        keepdims = _pick(which, keepdims, keepdim, "keepdim", False)
        if isinstance(axis, Tensor):
            return self.maximum(axis) if which == "max" else self.minimum(axis)
        if axis is None:
            return self.amax() if which == "max" else self.amin()
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{which}(dim) takes one int dim and returns (values, indices); "
                            f"for several dims use a{which}(dim=(...))")
        if self.ndim == 0 and axis in (0, -1):  # PyTorch: a 0-d tensor as one dim of size 1
            return self.reshape(1)._extreme(which, 0, False, None, None)
        idx = (self.argmax if which == "max" else self.argmin)(axis, keepdims=True)
        values = self.gather(axis, idx)
        if not keepdims:
            values, idx = values.squeeze(axis), idx.squeeze(axis)
        return MaxMin(values, idx)

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        _no_extra("logsumexp", kw, _REDUCE_KW)
        return R.LogSumExp.apply(self, axis=_pick("logsumexp", axis, dim, "dim", None),
                                 keepdims=_pick("logsumexp", keepdims, keepdim, "keepdim", False))

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        _no_extra("argmax", kw, _REDUCE_KW)
        return self._arg(np.argmax, "argmax", axis, keepdims, dim, keepdim)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw):
        _no_extra("argmin", kw, _REDUCE_KW)
        return self._arg(np.argmin, "argmin", axis, keepdims, dim, keepdim)

    def _arg(self, fn, what, axis, keepdims, dim, keepdim):
        axis = _pick(what, axis, dim, "dim", None)
        keepdims = _pick(what, keepdims, keepdim, "keepdim", False)
        if self.data.size == 0:
            raise IndexError(f"{what}: cannot take the {what} of an empty tensor {self.shape}")
        if axis is not None:
            axis = norm_axis(what, axis, self.shape)
        return Tensor._make(np.asarray(fn(self.data, axis=axis, keepdims=keepdims), np.int64))

    def prod(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None, **kw):
        """The product of the elements (over ``dim``); its gradient never divides, so zeros
        are fine."""
        _no_extra("prod", kw, _REDUCE_KW + ("dtype",))
        return SC.Prod.apply(self, axis=_pick("prod", axis, dim, "dim", None),
                             keepdims=_pick("prod", keepdims, keepdim, "keepdim", False),
                             dtype=dtype)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None, **kw):
        """The vector p-norm over ``dim`` (all elements by default), as ``torch.norm``:
        ``p`` = 2 or 'fro' (Euclidean), 1, inf (max |u|), -inf, 0 (count of non-zeros), or
        any other number: (Σ|u|ᵖ)^(1/p). The gradient at a zero vector is 0 (as PyTorch)."""
        _no_extra("norm", kw, ("p", "dim", "keepdim", "dtype"))
        if isinstance(p, str):
            if p != "fro":
                raise ValueError(f"norm: p={p!r} is not supported here (matrix norms such as "
                                 f"'nuc': engine.linalg.matrix_norm); use {SC._NORM_ORDS}")
            p = 2.0
        elif isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"norm: p must be {SC._NORM_ORDS}, got {p!r}")
        x = self if dtype is None else self.astype(dtype)
        return SC.Norm.apply(x, ord=float(p), axis=dim, keepdims=keepdim)

    def cumsum(self, dim=None, *, axis=None, dtype=None, **kw):
        """Running sum along ``dim`` (required, as PyTorch)."""
        _no_extra("cumsum", kw, ("dim", "axis", "dtype"))
        return SC.Cumsum.apply(self, axis=_scan_dim("cumsum", dim, axis), dtype=dtype)

    def cumprod(self, dim=None, *, axis=None, dtype=None, **kw):
        """Running product along ``dim``."""
        _no_extra("cumprod", kw, ("dim", "axis", "dtype"))
        return SC.Cumprod.apply(self, axis=_scan_dim("cumprod", dim, axis), dtype=dtype)

    def logcumsumexp(self, dim=None, *, axis=None, **kw):
        """Running log-sum-exp along ``dim`` (stable)."""
        _no_extra("logcumsumexp", kw, ("dim", "axis"))
        return SC.LogCumSumExp.apply(self, axis=_scan_dim("logcumsumexp", dim, axis))

    def cummax(self, dim=None, *, axis=None):
        """Running maximum and where it was attained: ``(values, indices)``."""
        return SC.cummax(self, _scan_dim("cummax", dim, axis))

    def cummin(self, dim=None, *, axis=None):
        return SC.cummin(self, _scan_dim("cummin", dim, axis))

    def sort(self, dim=-1, descending=False, stable=False, *, axis=None):
        """``(values, indices)`` sorted along ``dim``; NaN counts as the largest."""
        return SC.sort(self, _pick("sort", dim, axis, "axis", -1), descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False, *, axis=None):
        return SC.argsort(self, _pick("argsort", dim, axis, "axis", -1), descending, stable)

    def msort(self):
        return self.sort(0).values

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The ``k`` largest (``largest=False``: smallest) along ``dim``: (values, indices)."""
        return SC.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        """The ``k``-th smallest along ``dim`` (k from 1): (values, indices)."""
        return SC.kthvalue(self, k, dim, keepdim)

    def median(self, dim=None, keepdim=False):
        """``median()``: the lower median of all elements; ``median(dim)``: (values, indices)."""
        return SC.median(self, dim, keepdim)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values (sorted); optionally the inverse indices and the counts."""
        return SC.unique(self, sorted, return_inverse, return_counts, dim)

    def nanmedian(self, dim=None, keepdim=False):
        """``median`` with the NaNs left out (NaN only where every value is NaN)."""
        return SC.nanmedian(self, dim, keepdim)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        """One value per run of equal consecutive values; optionally the run of each element
        and the runs' lengths."""
        return SC.unique_consecutive(self, return_inverse, return_counts, dim)

    # -- compositions with PyTorch's names (engine/ops/compose.py) ---------------------------
    def nansum(self, dim=None, keepdim=False):
        """Σ of the non-NaN entries over ``dim`` (NaN entries get gradient 0)."""
        return CO.nansum(self, dim, keepdim)

    def nanmean(self, dim=None, keepdim=False):
        """The mean of the non-NaN entries over ``dim``."""
        return CO.nanmean(self, dim, keepdim)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """NaN, +inf, −inf replaced (default 0 and the dtype's extremes); gradient 0 there."""
        return CO.nan_to_num(self, nan, posinf, neginf)

    def aminmax(self, *, dim=None, keepdim=False):
        """``(min, max)`` over ``dim``."""
        return CO.aminmax(self, dim=dim, keepdim=keepdim)

    def count_nonzero(self, dim=None):
        return CO.count_nonzero(self, dim)

    def take(self, index):
        """Entries at flat positions ``index`` (the tensor read as 1-D)."""
        return CO.take(self, index)

    def index_add(self, dim, index, source, *, alpha=1):
        """A copy with ``alpha·source`` added at ``index`` along ``dim``."""
        return CO.index_add(self, dim, index, source, alpha=alpha)

    # torch's long tail as methods (compositions, engine/ops/compose.py)
    def cross(self, other, dim=None): return CO.cross(self, other, dim)
    def rot90(self, k=1, dims=(0, 1)): return CO.rot90(self, k, dims)
    def renorm(self, p, dim, maxnorm): return CO.renorm(self, p, dim, maxnorm)
    def logit(self, eps=None): return CO.logit(self, eps)
    def xlogy(self, other): return CO.xlogy(self, other)
    def fmax(self, other): return CO.fmax(self, other)
    def fmin(self, other): return CO.fmin(self, other)
    def diag_embed(self, offset=0, dim1=-2, dim2=-1): return CO.diag_embed(self, offset, dim1,
                                                                           dim2)
    def deg2rad(self): return CO.deg2rad(self)
    def rad2deg(self): return CO.rad2deg(self)
    def kron(self, other): return CO.kron(self, other)
    def dist(self, other, p=2): return CO.dist(self, other, p)
    def addmm(self, mat1, mat2, *, beta=1, alpha=1): return CO.addmm(self, mat1, mat2,
                                                                      beta=beta, alpha=alpha)
    def addmv(self, mat, vec, *, beta=1, alpha=1): return CO.addmv(self, mat, vec, beta=beta,
                                                                    alpha=alpha)
    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1): return CO.baddbmm(
        self, batch1, batch2, beta=beta, alpha=alpha)
    def cov(self, *, correction=1, fweights=None, aweights=None): return CO.cov(
        self, correction=correction, fweights=fweights, aweights=aweights)
    def corrcoef(self): return CO.corrcoef(self)

    def inverse(self):
        """A⁻¹ (``engine.linalg.inv``)."""
        from .linalg import inv
        return inv(self)

    def det(self):
        """det(A) (``engine.linalg.det``)."""
        from .linalg import det
        return det(self)

    def slogdet(self):
        """``(sign, logabsdet)`` (``engine.linalg.slogdet``)."""
        from .linalg import slogdet
        return slogdet(self)

    def logdet(self):
        """log det(A): −inf if singular, NaN if negative (``engine.logdet``)."""
        from .linalg import logdet
        return logdet(self)

    def pinverse(self, rcond=1e-15):
        """A⁺ (``engine.pinverse``)."""
        from .linalg import pinverse
        return pinverse(self, rcond)

    def matrix_power(self, n):
        """Aⁿ (``engine.linalg.matrix_power``)."""
        from .linalg import matrix_power
        return matrix_power(self, n)

    def matrix_exp(self):
        """e^A (``engine.linalg.matrix_exp``)."""
        from .linalg import matrix_exp
        return matrix_exp(self)

    def addcmul(self, tensor1, tensor2, *, value=1):
        return CO.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        return CO.addcdiv(self, tensor1, tensor2, value=value)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return CO.isclose(self, other, rtol, atol, equal_nan)

    def bincount(self, weights=None, minlength=0):
        return CO.bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):  # noqa: A002 (PyTorch's keyword names)
        """Counts in ``bins`` equal bins over [min, max] (the data's range when both 0)."""
        return CO.histc(self, bins, min, max)

    def mode(self, dim=-1, keepdim=False):
        """``(values, indices)`` of the most frequent value along ``dim`` (PyTorch's)."""
        return CO.mode(self, dim, keepdim)

    def t(self):
        """The transpose of a matrix (0-D and 1-D tensors are returned as they are), as
        PyTorch's ``t()``; more dims are refused (use ``transpose(d0, d1)`` or ``mT``)."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dims, got shape {self.shape}: "
                             f"use transpose(dim0, dim1) or .mT for the last two")
        return self if self.ndim < 2 else self.transpose(0, 1)

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        """The ``q``-quantiles (a number or 1-D) along ``dim`` (PyTorch's quantile)."""
        return SC.quantile(self, q, dim, keepdim, interpolation)

    # -- shape ------------------------------------------------------------------------------
    def reshape(self, *shape, **kw):
        shape = _sizes("reshape", shape, kw, "shape")
        return S.Reshape.apply(self, shape=tuple(int(n) for n in shape))

    def view(self, *shape, **kw):
        """PyTorch's ``view``: this tensor's memory under another shape. When the layout cannot
        give that shape without a copy (a transposed or strided slice), PyTorch refuses, and so
        does this: a silent copy would let writes through the "view" miss the original.
        ``reshape`` copies when it must."""
        out = self.reshape(_sizes("view", shape, kw, "size"))
        if out.data.size and not np.may_share_memory(out.data, self.data):
            raise RuntimeError(f"view size is not compatible with input tensor's size and "
                               f"stride (shape {self.shape} → {out.shape}: at least one "
                               f"dimension spans across two contiguous subspaces). Use "
                               f".reshape(...) instead, or .contiguous().view(...)")
        return out

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dims ``start_dim..end_dim`` into one (PyTorch semantics)."""
        if self.ndim == 0:
            return self.reshape(1)
        s, e = norm_axis("flatten", start_dim, self.shape), norm_axis("flatten", end_dim,
                                                                       self.shape)
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                             f"for shape {self.shape}")
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *axes, **kw):
        axes = _sizes("permute", axes, kw, "dims")
        if len(axes) != self.ndim:
            raise ValueError(f"permute: {tuple(axes)} is not a permutation of the {self.ndim} "
                             f"dims of a tensor of shape {self.shape}")
        return S.Permute.apply(self, axes=tuple(axes))

    def transpose(self, dim0=None, dim1=None):
        """``transpose()`` reverses all dims (numpy); ``transpose(i, j)`` swaps two (PyTorch)."""
        if dim0 is None and dim1 is None:
            return self.permute(tuple(reversed(range(self.ndim))))
        axes = list(range(self.ndim))
        i, j = norm_axis("transpose", dim0, self.shape), norm_axis("transpose", dim1, self.shape)
        axes[i], axes[j] = axes[j], axes[i]
        return self.permute(axes)

    swapaxes = transpose
    T = property(lambda self: self.transpose())

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices transposed), as PyTorch's ``mT``;
        ``mH`` and, for a matrix, ``H`` are the same (stepgrad's tensors are real)."""
        if self.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of "
                               f"matrices. Got {self.ndim}-D tensor (use .T or reshape)")
        return self.transpose(-2, -1)

    mH = mT

    @property
    def H(self):
        if self.ndim != 2:
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                               f"{self.ndim}-D tensor" + (": for batches use .mH" if
                                                          self.ndim > 2 else ""))
        return self.transpose(0, 1)

    def stride(self, dim=None):
        """The step in elements between neighbours along each dim (PyTorch's ``stride()``,
        numpy's byte strides over the item size); ``stride(dim)`` for one dim."""
        st = tuple(n // self.data.itemsize for n in self.data.strides)
        return st if dim is None else st[norm_axis("stride", dim, self.shape)]

    def is_contiguous(self):
        """Whether the elements lie in memory in row-major order without gaps (views such as
        ``.T`` or ``x[:, ::2]`` are not); ``contiguous()`` makes a copy that is."""
        return bool(self.data.flags.c_contiguous)

    def squeeze(self, axis=None, *, dim=None):
        axis = _pick("squeeze", axis, dim, "dim", None)
        if axis is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = [a for a in norm_axes("squeeze", axis, self.shape) if self.shape[a] == 1]
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes))

    def unsqueeze(self, axis=None, *, dim=None):
        axis = _pick("unsqueeze", axis, dim, "dim", None)
        if not isinstance(axis, (int, np.integer)) or not -self.ndim - 1 <= axis <= self.ndim:
            raise IndexError(f"unsqueeze: dim {axis} is out of range for a tensor of shape "
                             f"{self.shape} (expected a dim in [{-self.ndim - 1}, {self.ndim}])")
        axis = int(axis) % (self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def squeeze_(self, axis=None, *, dim=None):
        """``squeeze`` in place: this tensor takes the new shape (same memory)."""
        return self._reshape_("squeeze_", self.squeeze(axis, dim=dim).shape)

    def unsqueeze_(self, axis=None, *, dim=None):
        """``unsqueeze`` in place: this tensor takes the new shape (same memory), as
        ``target.unsqueeze_(-1)`` in PyTorch's name-generation tutorial."""
        return self._reshape_("unsqueeze_", self.unsqueeze(axis, dim=dim).shape)

    def _reshape_(self, what, shape):
        # A new shape for the same memory. The graph records shapes (an op's output, a
        # parameter's .grad), so a tensor in one is refused rather than changed under it.
        if self._rg or self.grad_fn is not None:
            raise RuntimeError(f"{what}: changes the shape of a tensor that requires grad or "
                               f"has a history (shape {self.shape}); write x = x.{what[:-1]}"
                               f"(...) instead")
        self.__dict__["data"] = self.data.reshape(shape)  # a view: memory shared, as before
        return self

    def broadcast_to(self, size=None, *, shape=None):
        """This tensor broadcast to ``size`` (PyTorch's name; numpy's ``shape=`` too)."""
        if (size is None) == (shape is None):
            raise TypeError("broadcast_to() takes the target shape once: size (PyTorch's name) "
                            "or shape= (numpy's)")
        return S.BroadcastTo.apply(self, shape=tuple(shape if size is None else size))

    def expand(self, *sizes, **kw):
        """PyTorch's expand: -1 keeps a dim; new dims may be added on the left."""
        sizes = _sizes("expand", sizes, kw, "size")
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {tuple(sizes)} has fewer dims than shape {self.shape}")
        return self.broadcast_to(tuple(self.shape[i - lead] if n == -1 and i >= lead else n
                                       for i, n in enumerate(sizes)))

    def pad(self, pad_width, value=0.0):
        """numpy-style constant padding: ``pad_width`` is ((before, after),) per dim or an int."""
        return S.Pad.apply(self, pad_width=pad_width, value=value)

    def gather(self, dim, index):
        """PyTorch's gather: ``out[i][j] = self[index[i][j]][j]`` along ``dim`` (dim 0 here)."""
        index = index_array(index)
        if index.dtype.kind not in "iu":
            raise TypeError(f"gather: index must be an integer tensor, got {index.dtype}")
        if index.ndim == 0 and self.ndim == 1:  # PyTorch: a 0-d index is one element
            return S.Gather.apply(self, axis=dim, index=index.reshape(1)).reshape(())
        return S.Gather.apply(self, axis=dim, index=index)

    def scatter(self, dim, index, src=None, *, value=None):
        """A copy with ``src`` (or the number ``value``) written at ``index`` along ``dim``:
        ``out[index[i][j]][j] = src[i][j]`` for dim 0 (PyTorch's scatter)."""
        idx = I._as_index(index, "scatter")
        if (src is None) == (value is None):
            raise TypeError("scatter: give either src (a tensor) or value (a number)")
        if src is None or not isinstance(src, Tensor):
            src = Tensor._make(np.full(idx.shape, src if value is None else value, self.dtype))
        idx, src = _one_element(self, idx, src)
        return I.Scatter.apply(self, src, axis=dim, index=idx)

    def scatter_add(self, dim, index, src):
        """A copy with ``src`` added at ``index`` along ``dim`` (repeats add up)."""
        idx, src = _one_element(self, I._as_index(index, "scatter_add"), as_tensor(src, self))
        return I.ScatterAdd.apply(self, src, axis=dim, index=idx)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        """A copy with ``src`` reduced in at ``index`` along ``dim`` ('sum', 'prod', 'mean',
        'amax', 'amin'; see ``engine.scatter_reduce``)."""
        return I.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def flip(self, *dims, **kw):
        """Reverse the order along ``dims`` (a copy, as PyTorch)."""
        dims = _sizes("flip", dims, kw, "dims")
        return I.Flip.apply(self, axes=tuple(dims))

    def fliplr(self): return self.flip(1)
    def flipud(self): return self.flip(0)

    def roll(self, shifts, dims=None):
        """Shift elements along ``dims`` cyclically (all elements, flattened, when None)."""
        return I.Roll.apply(self, shifts=shifts, axes=dims)

    def repeat(self, *sizes): return I.repeat(self, *sizes)
    def tile(self, dims): return I.tile(self, dims)
    def repeat_interleave(self, repeats, dim=None): return I.repeat_interleave(self, repeats, dim)
    def chunk(self, chunks, dim=0): return I.chunk(self, chunks, dim)
    def unbind(self, dim=0): return I.unbind(self, dim)
    def unflatten(self, dim, sizes): return I.unflatten(self, dim, sizes)
    def movedim(self, source, destination): return I.movedim(self, source, destination)
    moveaxis = movedim
    swapdims = swapaxes

    def split(self, split_size, dim=0):
        """Pieces of ``split_size`` along ``dim`` (the last may be shorter), or of the sizes in
        a list (PyTorch's method; the function ``engine.split`` names it
        ``split_size_or_sections``)."""
        from .functional import split
        return split(self, split_size, dim)

    def narrow(self, dim, start, length): return I.narrow(self, dim, start, length)
    def diff(self, n=1, dim=-1, prepend=None, append=None):
        return I.diff(self, n, dim, prepend, append)
    def select(self, dim, index): return I.select(self, dim, index)
    def diag(self, diagonal=0): return I.diag(self, diagonal)
    def diagonal(self, offset=0, dim1=0, dim2=1): return I.diagonal(self, offset, dim1, dim2)
    def trace(self): return I.trace(self)
    def tril(self, diagonal=0): return I.tril(self, diagonal)
    def triu(self, diagonal=0): return I.triu(self, diagonal)
    def index_select(self, dim, index): return I.index_select(self, dim, index)
    def masked_fill(self, mask, value): return I.masked_fill(self, mask, value)
    def index_fill(self, dim, index, value): return I.index_fill(self, dim, index, value)
    def masked_select(self, mask): return I.masked_select(self, mask)
    def nonzero(self, *, as_tuple=False): return I.nonzero(self, as_tuple)
    def index_put(self, indices, values, accumulate=False):
        return I.index_put(self, indices, values, accumulate)
    def index_copy(self, dim, index, source): return I.index_copy(self, dim, index, source)
    def masked_scatter(self, mask, source): return I.masked_scatter(self, mask, source)
    def take_along_dim(self, indices, dim=None): return I.take_along_dim(self, indices, dim)
    def put(self, index, source, accumulate=False): return I.put(self, index, source, accumulate)
    def argwhere(self): return I.nonzero(self)

    def expand_as(self, other): return self.expand(other.shape)
    def reshape_as(self, other): return self.reshape(other.shape)
    view_as = reshape_as

    # -- neural -----------------------------------------------------------------------------
    def softmax(self, axis=-1, *, dim=None):
        return neural.Softmax.apply(self, axis=_pick("softmax", axis, dim, "dim", -1))

    def log_softmax(self, axis=-1, *, dim=None):
        return neural.LogSoftmax.apply(self, axis=_pick("log_softmax", axis, dim, "dim", -1))


def _index(index, what="getitem"):
    """An index as numpy reads it: Tensors inside it become arrays (integer or boolean).
    Where PyTorch differs from numpy it is followed, or refused loudly: a negative slice step
    is a ValueError (PyTorch has no negative steps: ``x.flip(dims)`` reverses); a uint8 tensor
    is a boolean mask in ``x[mask]``, with PyTorch's deprecation warning, and an error in
    setitem (PyTorch refuses it there). (A numpy uint8 array keeps numpy's meaning.)
    A list holding a sequence, tensor, slice, None or ``...`` is a tuple, as PyTorch reads
    it (``x[[[0, 1], [2, 3]]]`` is ``x[[0, 1], [2, 3]]``; numpy ≥ 1.23 would make it one
    (2, 2) array index), with PyTorch's deprecation warning."""
    if isinstance(index, list) and len(index) < 32 and any(
            i is None or i is Ellipsis or isinstance(i, (slice, list, tuple, Tensor, np.ndarray))
            for i in index):
        import warnings
        warnings.warn(f"{what}: a list index holding sequences, tensors or slices is read as a "
                      f"tuple, as PyTorch reads it (x[seq] is x[tuple(seq)]); PyTorch "
                      f"deprecates this: write x[tuple(seq)], or x[torch.tensor(seq)] for one "
                      f"array index", UserWarning, stacklevel=3)
        index = tuple(index)
    if isinstance(index, tuple):
        items = []
        for i in index:  # (a loop, not a generator: the warning's stacklevel stays right)
            items.append(_index_item(i, what))
        return tuple(items)
    return _index_item(index, what)


def _index_item(item, what):
    if isinstance(item, slice):
        if item.step is not None and item.step == 0:
            raise ValueError(f"{what}: slice step cannot be zero (as in PyTorch and numpy)")
        if item.step is not None and item.step < 0:
            raise ValueError(f"{what}: step must be greater than zero, got the slice "
                             f"{item.start}:{item.stop}:{item.step} (PyTorch has no negative "
                             f"steps): to reverse, use x.flip(dims), e.g. x.flip(0) for "
                             f"x[::-1]")
        return item
    if not isinstance(item, Tensor):
        return item  # (a numpy uint8 array stays integer indices: nn's lookups pass them)
    if item.dtype == np.uint8:
        if what == "setitem":
            raise RuntimeError("setitem: a uint8 index is refused, as in PyTorch (it only "
                               "supports boolean masks there): use a bool mask (mask.bool()) "
                               "or int64 indices (idx.long())")
        import warnings
        warnings.warn("getitem: a uint8 index is read as a boolean mask, as in PyTorch, which "
                      "deprecates it: use a bool mask (mask.bool()), or int64 indices "
                      "(idx.long()) to pick positions", UserWarning, stacklevel=4)
        return item.data.astype(bool)
    return index_array(item)  # a copy: the op keeps it, the caller may change the Tensor


def _zero_dim_ints(ts):
    """PyTorch's promotion of integer and bool tensors: a 0-d tensor takes the dtype of the
    tensors with dims unless it is of a higher kind (int over bool), so int32 tensor +
    tensor(1) stays int32 (numpy would give int64)."""
    dims = [t.data.dtype for t in ts if t.data.ndim]
    if not dims or len(dims) == len(ts):
        return ts
    to = np.result_type(*dims)
    return [Tensor._make(t.data.astype(to)) if not t.data.ndim and t.data.dtype != to
            and (t.data.dtype.kind != "b") <= (to.kind != "b") else t for t in ts]


def _correction(op, unbiased, correction):
    """var/std's divisor offset from PyTorch's ``unbiased`` (a bool) or ``correction``."""
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: give unbiased= or correction=, not both (correction=1 is "
                        f"unbiased=True, correction=0 is unbiased=False)")
    if unbiased is not None:
        if not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(f"{op}: unbiased must be a bool, got {unbiased!r} (PyTorch's "
                            f"positional order is {op}(dim, unbiased, keepdim); pass "
                            f"correction= or keepdim= by keyword)")
        return int(unbiased)
    return 1 if correction is None else correction


def _scan_dim(op, dim, axis):
    dim = _pick(op, dim, axis, "axis", None)
    if dim is None:
        raise TypeError(f"{op}() missing the dim to run along (PyTorch requires it): "
                        f"x.{op}(dim=0); for a running total over all elements use "
                        f"x.reshape(-1).{op}(0)")
    return dim


def _trunc_div(a, b):
    """Integer division rounding toward zero (PyTorch's rounding_mode='trunc' on ints)."""
    q = a // b
    return q + ((q < 0) & (a % b != 0))


def _kind(item):
    """How PyTorch treats one entry of an index: 'int' (a select), 'adv' (an array),
    'none', 'ellipsis' or 'slice'."""
    if item is None:
        return "none"
    if item is Ellipsis:
        return "ellipsis"
    if isinstance(item, slice):
        return "slice"
    if isinstance(item, (bool, np.bool_)):
        return "adv"
    if isinstance(item, (int, np.integer)):
        return "int"
    a = np.asarray(item)
    return "int" if a.ndim == 0 and a.dtype.kind in "iu" else "adv"


def _torch_order(index, shape):
    """Where PyTorch's advanced-indexing result order differs from numpy's: ``(start, k)``
    when numpy puts the k broadcast array dims first but PyTorch keeps them at ``start``;
    None when the two agree.

    numpy treats an int as an array index whenever an array index is present, so arrays
    separated only by ints count as "separated" and their dims go first; PyTorch applies
    ints as selects first, and the remaining adjacent arrays keep their place."""
    items = index if isinstance(index, tuple) else (index,)
    kinds = [_kind(i) for i in items]
    if "adv" not in kinds:
        return None
    np_adv = [i for i, k in enumerate(kinds) if k in ("adv", "int")]
    if np_adv == list(range(np_adv[0], np_adv[-1] + 1)):
        return None  # adjacent for numpy: both keep the array dims in place
    kept = [k for k in kinds if k != "int"]
    adv = [i for i, k in enumerate(kept) if k == "adv"]
    if adv != list(range(adv[0], adv[-1] + 1)):
        return None  # separated for PyTorch too: both put them first
    consumed = sum(np.asarray(i).ndim if k == "adv" and np.asarray(i).dtype == bool else
                   0 if k in ("none", "ellipsis") else 1 for i, k in zip(items, kinds,
                                                                         strict=True))
    start = 0
    for k in kinds:
        if k == "adv":
            break
        start += {"slice": 1, "none": 1, "ellipsis": len(shape) - consumed}.get(k, 0)
    if start == 0:
        return None
    arrays = [np.asarray(i) for i, k in zip(items, kinds, strict=True) if k == "adv"]
    k = len(np.broadcast_shapes(*[(int(a.sum()),) if a.dtype == bool else a.shape
                                  for a in arrays]))
    return start, k


def _indexed_shape(shape, index):
    """The shape numpy gives ``x[index]`` for x of ``shape`` (without touching data)."""
    return np.broadcast_to(np.zeros((), np.int8), shape)[index].shape


def from_dlpack(obj) -> Tensor:
    """A Tensor sharing the memory of any DLPack producer on the CPU (a torch or JAX tensor,
    a numpy array), keeping its dtype."""
    if hasattr(obj, "requires_grad") and getattr(obj, "requires_grad", False) \
            and hasattr(obj, "detach"):
        obj = obj.detach()  # torch refuses to export a tensor that requires grad
    return Tensor._make(np.from_dlpack(obj))


def from_numpy(array) -> Tensor:
    """A Tensor sharing ``array``'s memory and keeping its dtype (PyTorch's from_numpy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    return Tensor._make(array)


def _one_element(x, index, src):
    """PyTorch reads a 0-d index (and a 0-d src) on a 1-D tensor as one element:
    ``torch.zeros(10).scatter_(0, torch.tensor(y), value=1)`` (the one-hot target transform of
    PyTorch's "Transforms" tutorial)."""
    if index.ndim == 0 and x.ndim == 1:
        index = index.reshape(1)
        src = src.reshape(1) if src.ndim == 0 else src
    return index, src


def _inplace_method(name):
    """``x.<name>_(*args)``: the method's result written back into x (PyTorch's in-place
    rules: a leaf that requires grad is refused, the version counter moves). The arguments
    go through ``_inplace`` so that a tensor among them that requires grad is seen: x then
    records the op (``x.lerp_(y, 0.5)`` passes a gradient to y), as in PyTorch."""
    def method(self, *args, **kwargs):
        return self._inplace(f"{name}_", lambda t, *a, **k: getattr(t, name)(*a, **k), *args,
                             **kwargs)
    method.__name__ = f"{name}_"
    method.__doc__ = f"``{name}`` in place (x.{name}_() is x = x.{name}(), into x's memory)."
    return method


# More of PyTorch's in-place spellings (x.sin_(), x.pow_(2), x.lerp_(y, 0.5), …).
for _name in ("sin cos tan asin acos atan sinh cosh asinh acosh atanh sign floor ceil round "
              "trunc reciprocal log2 log10 log1p exp2 expm1 rsqrt erf pow fmod remainder atan2 "
              "lerp nan_to_num logit xlogy deg2rad rad2deg scatter_reduce index_put index_copy "
              "masked_scatter put renorm floor_divide").split():
    setattr(Tensor, f"{_name}_", _inplace_method(_name))
# x **= 2, x //= 2, x %= 2 write into x as PyTorch does (see __iand__): without them x was
# rebound, and a view, an optimizer's reference or a leaf that requires grad kept the old x.
Tensor.__ipow__, Tensor.__ifloordiv__, Tensor.__imod__ = (Tensor.pow_, Tensor.floor_divide_,
                                                          Tensor.remainder_)
