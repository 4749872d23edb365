"""Shape ops: reshape, transpose/permute, broadcast_to, pad, indexing, concatenate, stack, cast.

None of these change values, so each backward just moves the gradient back into place.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Op, SliceGrad


class Reshape(Op):
    name, formula = "reshape", "gradient reshaped back to the input's shape"

    def forward(self, x, *, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into shape {tuple(shape)}") from None

    def backward(self, g):
        return (g.reshape(self.in_shape),)

    def describe(self):
        return f"{self.in_shape} → reshape"


class Permute(Op):
    name, formula = "permute", "gradient permuted back by the inverse permutation"

    def forward(self, x, *, axes):
        if sorted(int(a) % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ValueError(f"permute: {tuple(axes)} is not a permutation of the "
                             f"{x.ndim} dims of a tensor of shape {x.shape}")
        self.axes = tuple(int(a) % x.ndim for a in axes)
        return x.transpose(self.axes)

    def backward(self, g):
        return (g.transpose(np.argsort(self.axes)),)

    def describe(self):
        return f"axes={self.axes}"


class BroadcastTo(Op):
    name, formula = "broadcast_to", "gradient summed over the broadcast dims"

    def forward(self, x, *, shape):
        try:
            return np.broadcast_to(x, tuple(shape))
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} "
                             f"to {tuple(shape)}") from None

    def backward(self, g):
        return (g,)  # the graph walk sums it back to the input's shape


class Pad(Op):
    name, formula = "pad", "gradient = the un-padded centre of the upstream gradient"

    def forward(self, x, *, pad_width, value=0.0):
        pw = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
        if (pw < 0).any():
            raise ValueError(f"pad: negative pad width {pad_width} for shape {x.shape}")
        self.index = tuple(slice(lo, lo + n) for (lo, _), n in zip(pw, x.shape, strict=True))
        return np.pad(x, pw, constant_values=value)

    def backward(self, g):
        return (g[self.index],)


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, np.ndarray)) for i in items)


class GetItem(Op):
    name, formula = "getitem", "gradient scattered back into the indexed places (repeats add up)"

    def forward(self, x, *, index):
        self.shape, self.index = x.shape, index
        try:
            return np.asarray(x[index])
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {x.shape}, index {index!r})") \
                from None

    def backward(self, g):
        if not _is_advanced(self.index):
            # Basic slicing never repeats an element: the walk adds g into the slice.
            return (SliceGrad(self.shape, self.index, g),)
        dx = np.zeros(self.shape, g.dtype)
        np.add.at(dx, self.index, g)  # repeated indices accumulate
        return (dx,)

    def describe(self):
        return f"index={self.index!r}"


class Concatenate(Op):
    name, formula = "concatenate", "gradient split back along the joined axis"

    def forward(self, *xs, axis=0):
        try:
            out = np.concatenate(xs, axis=axis)
        except (ValueError, np.exceptions.AxisError) as e:
            raise ValueError(f"concatenate: {e} (shapes {[x.shape for x in xs]}, "
                             f"axis={axis})") from None
        self.axis = axis % out.ndim
        self.bounds = np.cumsum([x.shape[self.axis] for x in xs])[:-1]
        return out

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.axis))


class Stack(Op):
    name, formula = "stack", "gradient un-stacked along the new axis"

    def forward(self, *xs, axis=0):
        try:
            out = np.stack(xs, axis=axis)
        except (ValueError, np.exceptions.AxisError) as e:
            raise ValueError(f"stack: {e} (shapes {[x.shape for x in xs]}, axis={axis})") \
                from None
        self.axis = axis % out.ndim
        return out

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))


class Cast(Op):
    name, formula = "astype", "gradient cast back to the input's dtype"

    def forward(self, x, *, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return (g.astype(self.in_dtype),)
