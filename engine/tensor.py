"""Tensor: a numpy array that records the ops applied to it, for reverse-mode autodiff.

A Tensor is data (``np.ndarray``), an optional ``grad`` of the same shape, and -- when it was
made by an op while gradients were being recorded -- its ``op`` name, ordered ``parents`` and
the op object holding the arrays its backward needs. The ops themselves live in
``engine/ops/`` (one family per file); this file is the user-facing surface that calls them.

dtypes: float32 by default, float64 on request (``dtype=np.float64``, ``.double()``). Mixing
float32 and float64 tensors in one op is an error, never a silent upcast; numbers and numpy
arrays combined with a Tensor take the Tensor's dtype.
"""
from __future__ import annotations

import numpy as np

from . import autograd
from .ops import elementwise as E
from .ops import linalg, neural
from .ops import reduce as R
from .ops import shape as S

_FLOAT = np.float32


def _as_array(data, dtype) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is None:
        return np.array(data, dtype=_FLOAT)
    return np.array(data, dtype=np.dtype(dtype))


def as_tensor(x, like=None) -> "Tensor":
    """``x`` if it is a Tensor, else a constant Tensor in ``like``'s dtype (float32 if none)."""
    if isinstance(x, Tensor):
        return x
    dtype = like.dtype if like is not None and like.dtype.kind == "f" else _FLOAT
    if isinstance(x, np.ndarray) and x.dtype.kind == "b":
        dtype = bool  # masks stay masks (where)
    return Tensor._wrap(np.asarray(x, dtype=dtype))


class Tensor:
    """An n-d array with autodiff. Shapes follow numpy; operators broadcast like numpy.

    >>> from engine import tensor
    >>> x = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    array([[2., 4.],
           [6., 8.]], dtype=float32)
    """

    scope = ()  # the modules (outermost first) whose forward made this tensor, if any
    __array_priority__ = 1000  # numpy array (op) Tensor → Tensor's reflected operator
    __hash__ = object.__hash__  # == is elementwise, identity stays the hash

    def __init__(self, data, requires_grad=False, dtype=None, name=""):
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating point tensors can require grad, "
                            f"got dtype {self.data.dtype}")
        self._init(requires_grad, name)

    def _init(self, requires_grad, name=""):
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.op = ""
        self.parents = ()
        self._ctx = None
        self._version = 0

    @classmethod
    def _wrap(cls, array, requires_grad=False) -> "Tensor":
        """A Tensor around ``array`` without copying (ops' outputs)."""
        t = cls.__new__(cls)
        t.data = np.asarray(array)
        t._init(requires_grad)
        return t

    # -- numpy-like attributes ------------------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="Shape tuple, as numpy.")
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._ctx is None)

    def numpy(self) -> np.ndarray:
        """The data array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"number, this one has shape {self.shape}")
        return self.data.reshape(()).item()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20,
                               prefix="tensor(")
        extras = [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self.name:
            extras.insert(0, f"name={self.name!r}")
        if self._ctx is not None:
            extras.append(f"op={self.op!r}, grad_fn=<{type(self._ctx).__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    def _short(self) -> str:
        return self.name or f"<{self.op or 'tensor'} {self.shape}>"

    # -- autograd ---------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False) -> None:
        """Fill ``.grad`` of every tensor this one depends on that requires grad.

        A non-scalar root needs ``grad`` (the upstream gradient, same shape). Saved arrays are
        freed afterwards unless ``retain_graph=True``; leaves' grads accumulate until zeroed.
        """
        autograd.run_backward(self, self._seed_grad(grad), retain_graph)

    def _seed_grad(self, grad):
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(was it made under no_grad, or from inputs without "
                               "requires_grad=True?)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar "
                                   f"outputs; this tensor has shape {self.shape}: pass grad=")
            return np.ones(self.shape, self.dtype)
        g = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
        if g.shape != self.shape:
            raise ValueError(f"backward: grad has shape {g.shape} but the tensor has shape "
                             f"{self.shape}")
        return g

    def _store_grad(self, g):
        if self._ctx is not None:
            self.grad = g  # intermediate: assigned per walk, never compounded
        elif self.grad is None:
            self.grad = np.array(g, dtype=self.dtype)  # a copy: g may be shared with others
        else:
            self.grad = self.grad + g  # leaves accumulate, as in PyTorch

    def _grads_for_parents(self, g, retain_graph):
        op = self._ctx
        if op.saved is None:
            raise RuntimeError(f"backward of '{op.name}': " + autograd._FREED_MSG)
        if op.saved:
            for i, (p, v) in enumerate(zip(self.parents, op.versions, strict=True)):
                if p._version != v:
                    raise RuntimeError(
                        f"backward of '{op.name}': one of the tensors needed for gradient "
                        f"computation has been modified by an in-place operation: input {i} "
                        f"(shape {p.shape}, {p.dtype}) is at version {p._version}; expected "
                        f"version {v} instead")
        grads = op.backward(g)
        if not retain_graph and op.saved:
            op.saved = None
        return tuple(None if pg is None else p._fit_grad(pg, self)
                     for p, pg in zip(self.parents, grads, strict=True))

    def _fit_grad(self, g, child):
        """Sum a gradient back to this tensor's shape (the one place broadcasting is undone)."""
        if type(g) is autograd.SliceGrad:  # a slice's gradient: already this tensor's shape
            if g.shape != self.shape:
                raise RuntimeError(f"backward of '{child.op}': slice gradient of shape "
                                   f"{g.shape} does not fit its input of shape {self.shape}")
            if g.g.dtype != self.dtype:
                g.g = g.g.astype(self.dtype)
            return g
        g = np.asarray(g)
        if g.shape != self.shape:
            lead = g.ndim - self.ndim
            if lead < 0 or any(n not in (1, gn)
                               for n, gn in zip(self.shape, g.shape[lead:], strict=True)):
                raise RuntimeError(f"backward of '{child.op}': gradient of shape {g.shape} does "
                                   f"not fit its input of shape {self.shape}")
            axes = tuple(range(lead)) + tuple(
                lead + i for i, n in enumerate(self.shape) if n == 1 and g.shape[lead + i] != 1)
            g = g.sum(axis=axes).reshape(self.shape)
        return g if g.dtype == self.dtype else g.astype(self.dtype)

    def _formula(self):
        return self._ctx.formula if self._ctx is not None else ""

    def _local_numbers(self):
        return None

    def _site(self):
        return getattr(self._ctx, "site", "<enable detect_anomaly() to record where>")

    def detach(self) -> "Tensor":
        """A new leaf sharing this data, cut from the graph (no gradient flows back)."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, flag=True) -> "Tensor":
        if flag and self.dtype.kind != "f":
            raise TypeError(f"requires_grad_: dtype {self.dtype} cannot require grad")
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self) -> None:
        self.grad = None

    # -- in-place updates (they bump the version counter) -----------------------------------
    def _check_inplace(self, what):
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(f"{what}: a tensor that requires grad cannot be modified in place "
                               f"while gradients are recorded (wrap the update in "
                               f"engine.no_grad(), or build a new tensor with engine.where)")
        self._version += 1

    def __setitem__(self, index, value):
        self._check_inplace("setitem")
        self.data[_index(index)] = value.data if isinstance(value, Tensor) else value

    def add_(self, other, alpha=1.0) -> "Tensor":
        """In place ``self += alpha * other`` (optimizers use it under no_grad)."""
        self._check_inplace("add_")
        other = other.data if isinstance(other, Tensor) else other
        self.data += self.dtype.type(alpha) * np.asarray(other, self.dtype)
        return self

    def mul_(self, factor) -> "Tensor":
        self._check_inplace("mul_")
        self.data *= np.asarray(factor.data if isinstance(factor, Tensor) else factor,
                                self.dtype)
        return self

    def copy_(self, src) -> "Tensor":
        self._check_inplace("copy_")
        src = np.asarray(src.data if isinstance(src, Tensor) else src, self.dtype)
        if src.shape != self.shape:
            raise ValueError(f"copy_: source shape {src.shape} != tensor shape {self.shape}")
        self.data[...] = src
        return self

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        self.data.fill(value)
        return self

    def zero_(self) -> "Tensor":
        return self.fill_(0)

    # -- dtype ------------------------------------------------------------------------------
    def astype(self, dtype) -> "Tensor":
        """A differentiable cast (gradients are cast back)."""
        return self if np.dtype(dtype) == self.dtype else S.Cast.apply(self, dtype=np.dtype(dtype))

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

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

    # Comparisons: boolean tensors, no gradient.
    def _cmp(self, o, fn):
        return Tensor._wrap(fn(self.data, o.data if isinstance(o, Tensor) else o))

    def __lt__(self, o): return self._cmp(o, np.less)
    def __le__(self, o): return self._cmp(o, np.less_equal)
    def __gt__(self, o): return self._cmp(o, np.greater)
    def __ge__(self, o): return self._cmp(o, np.greater_equal)
    def __eq__(self, o): return self._cmp(o, np.equal)
    def __ne__(self, o): return self._cmp(o, np.not_equal)

    def __getitem__(self, index):
        return S.GetItem.apply(self, index=_index(index))

    # -- elementwise ------------------------------------------------------------------------
    def exp(self): return E.Exp.apply(self)
    def log(self): return E.Log.apply(self)
    def sqrt(self): return E.Sqrt.apply(self)
    def abs(self): return E.Abs.apply(self)
    def tanh(self): return E.Tanh.apply(self)
    def sigmoid(self): return E.Sigmoid.apply(self)
    def relu(self): return E.ReLU.apply(self)

    def leaky_relu(self, negative_slope=0.01):
        return E.LeakyReLU.apply(self, slope=negative_slope)

    def clip(self, lo=None, hi=None):
        return E.Clip.apply(self, lo=lo, hi=hi)

    def maximum(self, other): return E.Maximum.apply(self, other)
    def minimum(self, other): return E.Minimum.apply(self, other)

    # -- reductions -------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False): return R.Sum.apply(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False):
        return R.Mean.apply(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return R.Max.apply(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return R.Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, correction=1):
        """Variance; ``correction=1`` (PyTorch's default) divides by n − 1, 0 by n."""
        return R.Var.apply(self, axis=axis, keepdims=keepdims, correction=correction)

    def logsumexp(self, axis=None, keepdims=False):
        return R.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return Tensor._wrap(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis=None, keepdims=False):
        return Tensor._wrap(np.argmin(self.data, axis=axis, keepdims=keepdims))

    # -- shape ------------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return S.Reshape.apply(self, shape=tuple(shape))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dims ``start_dim..end_dim`` into one (PyTorch semantics)."""
        if self.ndim == 0:
            return self.reshape(1)
        s, e = start_dim % self.ndim, end_dim % self.ndim
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return S.Permute.apply(self, axes=tuple(axes))

    def transpose(self, dim0=None, dim1=None):
        """``transpose()`` reverses all dims (numpy); ``transpose(i, j)`` swaps two (PyTorch)."""
        if dim0 is None:
            return self.permute(tuple(reversed(range(self.ndim))))
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(axes)

    T = property(lambda self: self.transpose())

    def squeeze(self, axis=None):
        if axis is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = R.norm_axis(axis, self.ndim, "squeeze")
        bad = [a for a in axes if self.shape[a] != 1]
        if bad:
            raise ValueError(f"squeeze: axis {bad[0]} of shape {self.shape} is not of size 1")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes))

    def unsqueeze(self, axis):
        if not -self.ndim - 1 <= axis <= self.ndim:
            raise ValueError(f"unsqueeze: axis {axis} out of range for shape {self.shape}")
        axis = axis % (self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def broadcast_to(self, shape):
        return S.BroadcastTo.apply(self, shape=tuple(shape))

    def pad(self, pad_width, value=0.0):
        """numpy-style constant padding: ``pad_width`` is ((before, after),) per dim or an int."""
        return S.Pad.apply(self, pad_width=pad_width, value=value)

    # -- neural -----------------------------------------------------------------------------
    def softmax(self, axis=-1): return neural.Softmax.apply(self, axis=axis)
    def log_softmax(self, axis=-1): return neural.LogSoftmax.apply(self, axis=axis)


def _index(index):
    """Tensors inside an index become arrays (integer or boolean)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index

