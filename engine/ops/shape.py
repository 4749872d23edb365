"""Shape ops: reshape, permute, broadcast_to, pad, indexing, gather, concatenate, stack, cast.

None of these change values, so each backward just moves the gradient back into place (they
are all ``linear``). Reshape, permute, broadcast_to and basic slicing return views that share
memory, and so the version counter, with their input.
"""
from __future__ import annotations

import numpy as np

from ..testing import Bad, T, distinct, normal, spec
from . import xp
from .base import Op, norm_axis


def _reshape_params(rng, shapes):
    return {"shape": (-1,) if rng.random() < 0.5 else tuple(reversed(shapes[0])) + (1,)}


@spec(call=lambda x, shape: x.reshape(shape), ref=lambda x, shape: x.reshape(shape),
      params=_reshape_params,
      errors=(Bad(lambda: T(2, 3).reshape(4, 2), ValueError,
                  r"reshape: cannot reshape a tensor of shape \(2, 3\)"),))
class Reshape(Op):
    name, formula, linear, view = "reshape", "gradient reshaped back to the input's shape", \
        True, True

    def forward(self, x, *, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into shape {tuple(shape)}") from None

    def backward(self, g, x, out):
        return g.reshape(self.in_shape)

    def describe(self):
        return f"{self.in_shape} → reshape"


@spec(call=lambda x, axes: x.permute(axes), ref=lambda x, axes: x.transpose(axes),
      params=lambda rng, shapes: {"axes": tuple(int(a) for a in rng.permutation(len(shapes[0])))},
      errors=(Bad(lambda: T(2, 3).permute(0, 0), ValueError, r"permute: \(0, 0\) is not a "),
              Bad(lambda: T(2, 3).permute(1, 2), IndexError, r"permute: dim 2 is out of range")))
class Permute(Op):
    name, formula, linear, view = "permute", "gradient permuted back by the inverse " \
        "permutation", True, True

    def forward(self, x, *, axes):
        self.axes = tuple(norm_axis("permute", a, x.shape) for a in axes)
        if sorted(self.axes) != list(range(x.ndim)):
            raise ValueError(f"permute: {tuple(axes)} is not a permutation of the "
                             f"{x.ndim} dims of a tensor of shape {x.shape}")
        return x.transpose(self.axes)

    def backward(self, g, x, out):
        return xp.permute(g, tuple(int(a) for a in np.argsort(self.axes)))

    def label(self):
        return "permute .T" if self.axes == (1, 0) else f"permute {self.axes}"

    def describe(self):
        return f"axes={self.axes}"


def _bt_params(rng, shapes):
    s = shapes[0]
    return {"shape": (int(rng.integers(1, 4)),) + tuple(int(rng.integers(2, 4)) if n == 1 else n
                                                       for n in s)}


@spec(call=lambda x, shape: x.broadcast_to(shape), ref=lambda x, shape: np.broadcast_to(x, shape),
      params=_bt_params,
      errors=(Bad(lambda: T(2, 3).broadcast_to((4, 3, 2)), ValueError,
                  r"broadcast_to: cannot broadcast shape \(2, 3\)"),))
class BroadcastTo(Op):
    name, formula, linear, view = "broadcast_to", "gradient summed over the broadcast dims", \
        True, True

    def forward(self, x, *, shape):
        try:
            return np.broadcast_to(x, tuple(shape))
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} "
                             f"to {tuple(shape)}") from None

    def backward(self, g, x, out):
        return g  # the graph walk sums it back to the input's shape


@spec(call=lambda x, pad_width: x.pad(pad_width), ref=lambda x, pad_width: np.pad(x, pad_width),
      params=lambda rng, shapes: {"pad_width": tuple(
          (int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in shapes[0])}, min_dims=1)
class Pad(Op):
    name, formula, linear = "pad", "gradient = the un-padded centre of the upstream gradient", \
        True

    def forward(self, x, *, pad_width, value=0.0):
        pw = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
        if (pw < 0).any():
            raise ValueError(f"pad: negative pad width {pad_width} for shape {x.shape}")
        self.index = tuple(slice(lo, lo + n) for (lo, _), n in zip(pw, x.shape, strict=True))
        return np.pad(x, pw, constant_values=value)

    def backward(self, g, x, out):
        return g[self.index]


def _getitem_params(rng, shapes):
    (shape,) = shapes
    kind = int(rng.integers(0, 3))
    if kind == 0:  # basic slicing
        idx = tuple(slice(int(rng.integers(0, n)), None, int(rng.integers(1, 3))) for n in shape)
    elif kind == 1:  # integer array with repeats on the first axis
        idx = rng.integers(0, shape[0], size=int(rng.integers(1, 6)))
    else:  # boolean mask over the first axis
        idx = rng.random(shape[0]) < 0.6
    return {"index": idx}


@spec(call=lambda x, index: x[index], ref=lambda x, index: x[index], params=_getitem_params,
      min_dims=1, errors=(Bad(lambda: T(2, 3)[5], IndexError, r"getitem: .*shape \(2, 3\)"),))
class GetItem(Op):
    name, linear, view = "getitem", True, True
    formula = "gradient scattered back into the indexed places (repeats add up)"

    def forward(self, x, *, index):
        self.shape, self.index = x.shape, index
        try:
            return np.asarray(x[index])
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {x.shape}, index {index!r})") \
                from None

    def backward(self, g, x, out):
        return xp.scatter(g, self.shape, self.index)

    def describe(self):
        return f"index={self.index!r}"


@spec(call=lambda g, shape, index: IndexAdd.apply(g, shape=shape, index=index),
      ref=lambda g, shape, index: _index_add_ref(g, shape, index),
      shapes=lambda rng: ((3, 2),),
      params=lambda rng, shapes: {"shape": (4, 2), "index": rng.integers(0, 4, size=3)})
class IndexAdd(Op):
    name, linear = "getitem_grad", True
    formula = "the gradient of getitem: zeros with g added at the index; its gradient is g[index]"

    def forward(self, g, *, shape, index):
        self.index = index
        out = np.zeros(shape, g.dtype)
        np.add.at(out, index, g)
        return out

    def backward(self, gg, g, out):
        return gg[self.index]


def _index_add_ref(g, shape, index):
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


def _along(index, axis):
    """A full index tuple picking ``index`` (a numpy array) along ``axis``."""
    idx = list(np.indices(index.shape, sparse=True))
    idx[axis] = index
    return tuple(idx)


def check_along(op, x_shape, axis, index, other=None):
    """PyTorch's rules for gather/scatter indices: same number of dims as the input, no
    bigger than it except along ``axis``, values in [0, size along axis)."""
    if index.ndim != len(x_shape):
        raise ValueError(f"{op}: index has {index.ndim} dims but the input has {len(x_shape)} "
                         f"(shapes {index.shape} and {tuple(x_shape)})")
    for d, (i, n) in enumerate(zip(index.shape, x_shape, strict=True)):
        if d != axis and i > n:
            raise ValueError(f"{op}: index of shape {index.shape} is larger than the input "
                             f"{tuple(x_shape)} in dim {d} (only dim {axis} may differ)")
    if other is not None and any(i > n for i, n in zip(index.shape, other, strict=True)):
        raise ValueError(f"{op}: index of shape {index.shape} is larger than src of shape "
                         f"{tuple(other)}")
    n = x_shape[axis]
    if index.size and (index.min() < 0 or index.max() >= n):
        bad = index[(index < 0) | (index >= n)][0]
        raise IndexError(f"{op}: index {bad} is out of bounds for dim {axis} with size {n} "
                         f"(input shape {tuple(x_shape)})")


def _gather_params(rng, shapes):
    shape = shapes[0]
    axis = int(rng.integers(0, len(shape)))
    size = list(shape)
    size[axis] = int(rng.integers(1, 4))
    return {"axis": axis, "index": rng.integers(0, shape[axis], size=size)}


@spec(call=lambda x, axis, index: x.gather(axis, index),
      ref=lambda x, axis, index: np.take_along_axis(x, index, axis), params=_gather_params,
      min_dims=1, domain=(distinct,))
class Gather(Op):
    name, linear = "gather", True
    formula = "gradient added back at the gathered places (repeats add up)"

    def forward(self, x, *, axis, index):
        self.axis, self.index, self.shape = norm_axis("gather", axis, x.shape), index, x.shape
        check_along("gather", x.shape, self.axis, index)
        # The index may be smaller than the input in the other dims too (PyTorch's rule).
        return x[_along(index, self.axis)]

    def backward(self, g, x, out):
        return xp.scatter(g, self.shape, _along(self.index, self.axis))


def _cat_shapes(rng):
    base = [int(n) for n in rng.integers(1, 4, size=int(rng.integers(1, 4)))]
    shapes = []
    for _ in range(int(rng.integers(2, 4))):
        s = list(base)
        s[0] = int(rng.integers(1, 4))
        shapes.append(tuple(s))
    return tuple(shapes)


def _cat(*xs):
    from ..functional import concatenate
    return concatenate(xs, axis=0)


def _stack(*xs):
    from ..functional import stack
    return stack(xs, axis=-1)


@spec(call=_cat, ref=lambda *xs: np.concatenate(xs, axis=0), arity=3, shapes=_cat_shapes,
      errors=(Bad(lambda: _cat(T(2, 3), T(2, 4)), ValueError,
                  r"concatenate: .*\(2, 3\), \(2, 4\)"),))
class Concatenate(Op):
    name, formula, linear = "concatenate", "gradient split back along the joined axis", True

    def forward(self, *xs, axis=0):
        self.axis = norm_axis("concatenate", axis, xs[0].shape)
        try:
            out = np.concatenate(xs, axis=self.axis)
        except ValueError as e:
            raise ValueError(f"concatenate: {e} (shapes {[x.shape for x in xs]}, "
                             f"axis={axis})") from None
        self.bounds = [int(b) for b in np.cumsum([x.shape[self.axis] for x in xs])[:-1]]
        return out

    def backward(self, g, *xs, out):
        return xp.split(g, self.bounds, self.axis)


@spec(call=_stack, ref=lambda *xs: np.stack(xs, axis=-1), arity=2,
      errors=(Bad(lambda: _stack(T(2), T(3)), ValueError, r"stack: .*\(2,\), \(3,\)"),))
class Stack(Op):
    name, formula, linear = "stack", "gradient un-stacked along the new axis", True

    def forward(self, *xs, axis=0):
        self.axis = norm_axis("stack", axis, xs[0].shape + (1,))
        try:
            return np.stack(xs, axis=self.axis)
        except ValueError as e:
            raise ValueError(f"stack: {e} (shapes {[x.shape for x in xs]}, axis={axis})") \
                from None

    def backward(self, g, *xs, out):
        return xp.unbind(g, self.axis)


@spec(call=lambda x: x.astype(np.float32).tanh().astype(np.float64),
      ref=lambda x: np.tanh(x.astype(np.float32)).astype(np.float64),
      tol={"eps": 1e-3, "atol": 1e-4, "rtol": 1e-2}, domain=(normal,))
class Cast(Op):
    name, formula, linear = "astype", "gradient cast back to the input's dtype", True

    def forward(self, x, *, dtype):
        self.in_dtype, self.to = x.dtype, np.dtype(dtype).name
        return x.astype(dtype)

    def backward(self, g, x, out):
        return g.astype(self.in_dtype)

    def label(self):
        return f"astype {self.to}"


@spec(call=lambda x: x.clone(), ref=np.copy)
class Clone(Op):
    name, formula, linear = "clone", "d clone(u)/du = 1", True

    def forward(self, x):
        return x.copy()

    def backward(self, g, x, out):
        return g


@spec(call=lambda x, v: Copy.apply(x, v), ref=lambda x, v: np.broadcast_to(v, x.shape).copy(),
      arity=2, shapes=lambda rng: ((2, 3), (3,) if rng.random() < 0.5 else (2, 3)))
class Copy(Op):
    name, linear = "copy_", True
    formula = "the old value is overwritten (no gradient); d out/d src = 1 (summed if broadcast)"

    def forward(self, x, src):
        return np.broadcast_to(src, x.shape).astype(x.dtype, copy=True)

    def backward(self, g, x, src, out):
        return None, g


def _setitem_params(rng, shapes):
    return {"index": (slice(0, 2), rng.integers(0, shapes[0][1], size=shapes[1][-1]))
            if rng.random() < 0.5 else (slice(0, 2),)}


def _setitem_ref(x, v, index):
    out = x.copy()
    out[index] = v
    return out


@spec(call=lambda x, v, index: SetItem.apply(x, v, index=index), ref=_setitem_ref, arity=2,
      shapes=lambda rng: ((3, 4), (2, 1)), params=_setitem_params)
class SetItem(Op):
    name, linear = "setitem", True
    formula = "d out/dx = 1 outside the index, 0 inside; d out/dv = the gradient at the index"

    def forward(self, x, v, *, index):
        self.index = index
        out = x.copy()
        try:
            out[index] = v
        except (IndexError, ValueError) as e:
            raise type(e)(f"setitem: {e} (tensor of shape {x.shape}, value of shape "
                          f"{v.shape}, index {index!r})") from None
        self.mask = np.zeros(x.shape, bool)
        self.mask[index] = True
        self.won = _last_writes(x.shape, index) if self.needs_grad[1] else None
        return out

    def backward(self, g, x, v, out):
        dv = g[self.index]
        if self.won is not None:  # a place written twice: only the value kept has a say
            dv = xp.where(self.won, dv, 0.0)
        return xp.where(self.mask, 0.0, g), dv


def _last_writes(shape, index):
    """For ``out[index] = v`` with repeated integer indices (``x[[0, 0]] = [a, b]``): which
    entries of the broadcast value are the ones left in ``out`` (numpy keeps the last write;
    PyTorch calls the result undefined and gives every repeat the gradient, although only
    one value is kept). Found by the same assignment, of positions; None without repeats."""
    items = index if isinstance(index, tuple) else (index,)
    if not any(isinstance(i, (list, np.ndarray)) and np.asarray(i).dtype.kind in "iu"
               for i in items):
        return None  # slices, ints and masks never write a place twice
    pos = np.full(shape, -1, np.int64)
    taken = pos[index]  # (a copy: advanced indexing)
    order = np.arange(taken.size).reshape(taken.shape)
    pos[index] = order
    won = pos[index] == order
    return None if won.all() else won
