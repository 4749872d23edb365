"""Shape and indexing ops with PyTorch's names: flip, roll, scatter, scatter_add,
scatter_reduce and einsum (op classes), and the compositions of slicing, gathering and
reshaping students type -- repeat, tile, repeat_interleave, chunk, unbind, unflatten,
movedim, narrow, select, diag, diagonal, trace, tril, triu, index_select, masked_fill,
index_fill, masked_select, the writes index_put, index_copy, masked_scatter and put (all
``setitem``), take_along_dim, nonzero, meshgrid, one_hot and PyTorch's ``F.pad``
(constant, reflect, replicate, circular; negative pads crop).

A composition needs no backward of its own: indexing with an integer array is ``getitem``
(whose gradient adds up repeats), so e.g. a reflect pad's gradient folds the mirrored
border back onto the elements it copied.
"""
from __future__ import annotations

import string

import numpy as np

from ..testing import Bad, OpSpec, T, axis_param, half_grid, normal, register, spec
from . import xp
from .base import Op, index_array, norm_axes, norm_axis
from .shape import Concatenate, IndexAdd, SetItem, _along, check_along


def _tensor(array):
    from ..tensor import Tensor
    return Tensor._make(np.asarray(array))


def _same_dtype(op, x, values, what="source"):
    """``values`` as a Tensor of x's dtype: numbers take it (as everywhere), a tensor of
    another dtype is refused, as PyTorch refuses it for every write (no silent cast)."""
    from ..tensor import as_tensor
    values = as_tensor(values, x)
    if values.dtype != x.dtype:
        raise TypeError(f"{op}: expected self and {what} to have the same dtype, got "
                        f"{x.dtype} and {values.dtype} (convert with .to({x.dtype}))")
    return values


def _as_index(index, op):
    """An integer index array (from a Tensor, array or list); anything else is an error."""
    a = index_array(index)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: the index must be an integer tensor, got {a.dtype}")
    return a.astype(np.int64, copy=False)


# ----------------------------------------------------------------------------- flip, roll
def _axes_params(rng, shapes):
    n = len(shapes[0])
    k = int(rng.integers(1, n + 1))
    return {"axes": tuple(int(a) for a in rng.choice(n, size=k, replace=False))}


@spec(call=lambda x, axes: x.flip(axes), ref=lambda x, axes: np.flip(x, axes),
      params=_axes_params, min_dims=1,
      errors=(Bad(lambda: T(2, 3).flip(2), IndexError, r"flip: dim 2 is out of range"),))
class Flip(Op):
    name, linear = "flip", True
    formula = "gradient flipped back along the same dims"

    def forward(self, x, *, axes):
        self.axes = norm_axes("flip", axes, x.shape)
        return np.flip(x, self.axes).copy()  # a copy, as PyTorch (not a view)

    def backward(self, g, x, out):
        return xp.flip(g, self.axes)

    def label(self):
        return f"flip {self.axes}"


def _roll_params(rng, shapes):
    if rng.random() < 0.3:
        return {"shifts": int(rng.integers(-5, 6)), "axes": None}
    p = _axes_params(rng, shapes)
    return {"shifts": tuple(int(s) for s in rng.integers(-5, 6, size=len(p["axes"]))), **p}


@spec(call=lambda x, shifts, axes: x.roll(shifts, axes),
      ref=lambda x, shifts, axes: np.roll(x, shifts, axes), params=_roll_params, min_dims=1)
class Roll(Op):
    name, linear = "roll", True
    formula = "gradient rolled back by the opposite shifts"

    def forward(self, x, *, shifts, axes=None):
        if axes is None:
            self.shifts, self.axes = shifts, None
            if not isinstance(shifts, (int, np.integer)):
                raise ValueError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        else:
            axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
            shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
            if len(axes) != len(shifts):
                raise ValueError(f"roll: {len(shifts)} shifts for {len(axes)} dims "
                                 f"(give one shift per dim)")
            self.axes = tuple(norm_axis("roll", a, x.shape) for a in axes)
            self.shifts = shifts
        return np.roll(x, self.shifts, self.axes)

    def backward(self, g, x, out):
        back = -self.shifts if self.axes is None else tuple(-s for s in self.shifts)
        return xp.roll(g, back, self.axes)


# ----------------------------------------------------------------------- scatter family
def _scatter_shapes(rng):
    x = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(1, 4))))
    return x, tuple(n + 1 for n in x)


def _scatter_params(rng, shapes):
    shape = shapes[0]
    axis = int(rng.integers(0, len(shape)))
    size = [int(rng.integers(1, n + 1)) for n in shape]
    size[axis] = min(int(rng.integers(1, 4)), shape[axis])
    # Distinct positions along axis within each line (PyTorch leaves repeats unspecified).
    lines = int(np.prod(size)) // size[axis]
    picks = np.stack([rng.permutation(shape[axis])[:size[axis]] for _ in range(lines)], -1)
    index = np.moveaxis(picks.reshape([size[axis]] + [n for d, n in enumerate(size)
                                                      if d != axis]), 0, axis)
    return {"axis": axis, "index": np.ascontiguousarray(index)}


def _scatter_ref(x, src, axis, index, add=False):
    out = x.copy()
    src = src[tuple(slice(0, n) for n in index.shape)]
    if add:
        np.add.at(out, _along(index, axis), src)
    else:
        out[_along(index, axis)] = src
    return out


def _scatter_add_params(rng, shapes):
    shape = shapes[0]
    axis = int(rng.integers(0, len(shape)))
    size = [int(rng.integers(1, n + 1)) for n in shape]
    size[axis] = int(rng.integers(1, shape[axis] + 2))  # src is one longer than x
    return {"axis": axis, "index": rng.integers(0, shape[axis], size=size)}


@spec(call=lambda x, src, axis, index: x.scatter(axis, index, src), ref=_scatter_ref, arity=2,
      shapes=_scatter_shapes, params=_scatter_params,
      errors=(Bad(lambda: T(2, 3).scatter(1, np.array([[3]]), T(1, 1)), IndexError,
                  r"scatter: index 3 is out of bounds for dim 1 with size 3"),))
class Scatter(Op):
    name, linear = "scatter", True
    formula = "d out/d self = 1 except at the written places; d out/d src = g gathered there"

    def forward(self, x, src, *, axis, index):
        self.axis = norm_axis("scatter", axis, x.shape)
        check_along("scatter", x.shape, self.axis, index, src.shape)
        self.index, self.where = index, _along(index, self.axis)
        src = src[tuple(slice(0, n) for n in index.shape)]  # PyTorch uses this corner only
        out = x.copy()
        out[self.where] = src
        self.mask = np.zeros(x.shape, bool)
        self.mask[self.where] = True
        self.src_shape = src.shape
        return out

    def backward(self, g, x, src, out):
        dsrc = None
        if self.needs_grad[1]:
            dsrc = xp.pad(xp.gather(g, self.axis, self.index),
                          [(0, s - n) for s, n in zip(src.shape, self.index.shape, strict=True)])
        return xp.where(self.mask, 0.0, g), dsrc


@spec(call=lambda x, src, axis, index: x.scatter_add(axis, index, src),
      ref=lambda x, src, axis, index: _scatter_ref(x, src, axis, index, add=True), arity=2,
      shapes=_scatter_shapes, params=_scatter_add_params)
class ScatterAdd(Op):
    name, linear = "scatter_add", True
    formula = "d out/d self = 1; d out/d src = g gathered at the index"

    def forward(self, x, src, *, axis, index):
        self.axis = norm_axis("scatter_add", axis, x.shape)
        check_along("scatter_add", x.shape, self.axis, index, src.shape)
        self.index = index
        out = x.copy()
        np.add.at(out, _along(index, self.axis), src[tuple(slice(0, n) for n in index.shape)])
        return out

    def backward(self, g, x, src, out):
        dsrc = None
        if self.needs_grad[1]:
            dsrc = xp.pad(xp.gather(g, self.axis, self.index),
                          [(0, s - n) for s, n in zip(src.shape, self.index.shape, strict=True)])
        return g, dsrc


# -------------------------------------------------------------------------- scatter_reduce
REDUCES = ("sum", "prod", "mean", "amax", "amin")
_AT = {"sum": np.add, "mean": np.add, "prod": np.multiply, "amax": np.maximum,
       "amin": np.minimum}
_NOT_REDUCES = {"max": "amax", "min": "amin", "add": "sum", "mul": "prod", "multiply": "prod"}


def _start(reduce, dtype):
    """What a written-to place starts from when its own value is left out (include_self=False):
    the reduction's identity in ``dtype``."""
    if reduce in ("sum", "mean", "prod"):
        return int(reduce == "prod")
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    return np.iinfo(dtype).min if reduce == "amax" else np.iinfo(dtype).max


def _data(a):
    """The numpy array of an array or a graph node (backward runs on both)."""
    return a.data if xp._node(a) else a


def _scatter_reduce_ref(x, src, axis, index, reduce, include_self):
    """A slow, obvious reference: each place's values listed, then reduced (for the tests)."""
    groups = {p: [x[p]] if include_self else [] for p in np.ndindex(x.shape)}
    for i in np.ndindex(index.shape):
        p = list(i)
        p[axis] = index[i]
        groups[tuple(p)].append(src[i])
    fn = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}
    out = x.copy()
    for p, values in groups.items():
        if values:  # a place nothing reaches keeps x, even without include_self
            out[p] = fn[reduce](values)
    return out


class _ScatterReduceSpec(OpSpec):
    """The reduction is drawn first: amax/amin get values that never tie (x and src on two
    interleaved grids, see ``half_grid``), the others normal ones (prod: no zeros, whose
    second derivatives are refused when two meet; tests/engine/test_scatter_tail.py has
    zeros)."""

    def sample(self, rng, shapes=None, dtype=np.float64):
        shapes = shapes or _scatter_shapes(rng)
        reduce = str(rng.choice(REDUCES))
        makers = (half_grid(0.25), half_grid(0.75)) if reduce in ("amax", "amin") else \
            (normal, normal)
        arrays = [m(rng, s).astype(dtype) for m, s in zip(makers, shapes, strict=True)]
        return arrays, {**_scatter_add_params(rng, shapes), "reduce": reduce,
                        "include_self": bool(rng.integers(0, 2))}


class ScatterReduce(Op):
    name = "scatter_reduce"
    formula = ("sum: d out/d self = 1, d out/d src = g at the index; mean: the same over the "
               "count; amax/amin: g shared by the elements equal to the result; prod: g times "
               "the product of the others")

    @staticmethod
    def compute(x, axis, index, src, reduce, include_self):
        """The forward on numpy arrays (prod's backward runs it too)."""
        where = _along(index, axis)
        out = x.copy()
        if not include_self:
            out[where] = _start(reduce, x.dtype)
        src = src[tuple(slice(0, n) for n in index.shape)]  # PyTorch uses this corner only
        with np.errstate(invalid="ignore"):  # NaN wins amax/amin, as in PyTorch
            _AT[reduce].at(out, where, src)
        if reduce == "mean":
            count = _counts(x.shape, where, include_self).astype(x.dtype)
            # integers: floor division, as PyTorch ((-1 + -2) / 2 is -2)
            out = out // count if x.dtype.kind in "iu" else out / count
        return out

    def forward(self, x, src, *, axis, index, reduce, include_self=True):
        if reduce not in REDUCES:
            hint = f" (PyTorch's name for it is {_NOT_REDUCES[reduce]!r})" \
                if reduce in _NOT_REDUCES else ""
            names = ", ".join(map(repr, REDUCES))
            raise ValueError(f"scatter_reduce: reduce must be one of {names}, got {reduce!r}"
                             f"{hint}")
        if reduce == "mean" and x.dtype == bool:
            raise TypeError("scatter_reduce: reduce='mean' is not defined for bool tensors (as "
                            "in PyTorch); convert with .float() or .long() first")
        self.axis = norm_axis("scatter_reduce", axis, x.shape)
        check_along("scatter_reduce", x.shape, self.axis, index, src.shape)
        self.index, self.reduce, self.include_self = index, reduce, bool(include_self)
        self.linear = reduce in ("sum", "mean")  # backward reads neither inputs nor output
        self.where = _along(index, self.axis)
        self.mask = np.zeros(x.shape, bool)  # the places written to
        self.mask[self.where] = True
        return self.compute(x, self.axis, index, src, reduce, self.include_self)

    def backward(self, g, x, src, out):
        r, axis, index = self.reduce, self.axis, self.index
        if r == "sum":
            gx, gs = g, xp.gather(g, axis, index)
        elif r == "mean":
            share = g / _counts(g.shape, self.where, self.include_self).astype(_data(g).dtype)
            gx, gs = share, xp.gather(share, axis, index)
        elif r == "prod":
            gx, gs = self._prod_grads(g, x, src, out)
        else:
            gx, gs = self._extreme_grads(g, x, src, out)
        if not self.include_self:
            gx = xp.where(self.mask, 0.0, gx)  # x's value was dropped where src went
        if not self.needs_grad[1]:
            return gx, None
        if gs.shape != src.shape:  # src beyond the index's corner was not read: zeros
            gs = xp.pad(gs, [(0, s - n) for s, n in zip(src.shape, index.shape, strict=True)])
        return (gx if self.needs_grad[0] else None), gs

    def _extreme_grads(self, g, x, src, out):
        """g shared evenly by the values equal to the result (PyTorch's rule for ties). A
        NaN result gives NaN gradients to its place's values, as PyTorch's."""
        xd, od = _data(x), _data(out)
        sd = _data(src)[tuple(slice(0, n) for n in self.index.shape)]
        hit_x = (xd == od) & (~self.mask if not self.include_self else True)
        hit_s = sd == od[self.where]
        n = hit_x.astype(xd.dtype)
        np.add.at(n, self.where, hit_s)  # how many share each place's gradient
        # (PyTorch also counts x's value with include_self=False when it equals the result,
        # although x was left out, so the src values there get less than their share: 1/3
        # each for two ties, and g is not passed on whole.)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = g / n
            return share * hit_x, xp.gather(share, self.axis, self.index) * hit_s

    def _prod_grads(self, g, x, src, out):
        """g times the product of the others, PyTorch's formula: out/value where the value is
        not 0; a zero alone among its place's src gets the product with it set to 1."""
        axis, index = self.axis, self.index
        corner = tuple(slice(0, n) for n in index.shape)
        xd, sd = _data(x), _data(src)[corner]
        keep = self.include_self
        masked_x = xp.where(xd == 0, 1.0, x)
        gx = g * xp.scatter_reduce(masked_x, axis, index, src, "prod", keep) / masked_x
        zero = sd == 0
        zeros_there = np.zeros(xd.shape)
        np.add.at(zeros_there, self.where, zero)
        zeros_there = zeros_there[self.where]
        if xp._node(g) and self.needs_grad[1] and (zeros_there > 1).any():
            raise RuntimeError("scatter_reduce: second derivatives (create_graph=True) of "
                               "reduce='prod' are not supported when two or more zeros of src "
                               "go to the same place (PyTorch refuses them too)")
        alone = zero & (zeros_there == 1)
        s = src[corner]
        others = xp.scatter_reduce(x, axis, index, xp.where(alone, 1.0, s), "prod", keep)
        with np.errstate(divide="ignore", invalid="ignore"):
            gs = xp.where(alone, xp.gather(g * others, axis, index),
                          xp.gather(g * out, axis, index) / xp.where(zero, 1.0, s))
        return gx, gs

    def label(self):
        return f"scatter_reduce {self.reduce}"


def _counts(shape, where, include_self):
    """How many values each place of a mean reduces (at least 1: a place nothing reaches
    keeps its value)."""
    count = np.full(shape, int(include_self), np.int64)
    np.add.at(count, where, 1)
    return np.maximum(count, 1)


def scatter_reduce(x, dim, index, src, reduce, *, include_self=True):
    """``src``'s values reduced into a copy of ``x`` at ``index`` along ``dim``, PyTorch's
    ``scatter_reduce``: for dim 0, each ``src[i][j]`` joins ``out[index[i][j]][j]``, reduced
    by ``reduce`` = 'sum', 'prod', 'mean', 'amax' or 'amin'; ``include_self=False`` leaves
    x's own value out of the places written to (the others keep x). index and src have x's
    number of dims, index no larger than src (only its corner is read) nor than x except
    along dim; indices in [0, size) (negative ones are refused, as PyTorch). x and src share
    one dtype; an integer mean rounds down. Gradients to x and src for every reduce: ties of
    amax/amin share g evenly; prod's needs no division where zeros are.

    >>> import engine
    >>> x = engine.tensor([1.0, 2.0, 3.0, 4.0])
    >>> x.scatter_reduce(0, engine.tensor([0, 1, 0, 1]), engine.tensor([5.0, 6.0, 7.0, 8.0]),
    ...                  "amax", include_self=False).data
    array([7., 8., 3., 4.], dtype=float32)
    """
    idx = _as_index(index, "scatter_reduce")
    src = _same_dtype("scatter_reduce", x, src, "src")
    if x.ndim == idx.ndim == src.ndim == 0:  # PyTorch's 0-d case: one place, one value
        return scatter_reduce(x.reshape(1), 0, idx.reshape(1), src.reshape(1), reduce,
                              include_self=include_self).reshape(())
    return ScatterReduce.apply(x, src, axis=dim, index=idx, reduce=reduce,
                               include_self=include_self)


register(_ScatterReduceSpec(
    "scatter_reduce", lambda x, src, **p: ScatterReduce.apply(x, src, **p), _scatter_reduce_ref,
    arity=2, shapes=_scatter_shapes, ops=("scatter_reduce",),
    errors=(Bad(lambda: T(2, 3).scatter_reduce(1, np.array([[0]]), T(1, 1), "max"), ValueError,
                r"scatter_reduce: reduce must be one of .*got 'max' .*'amax'"),
            Bad(lambda: T(2, 3).scatter_reduce(1, np.array([[3]]), T(1, 1), "sum"), IndexError,
                r"scatter_reduce: index 3 is out of bounds for dim 1 with size 3"),
            Bad(lambda: T(2, 3).scatter_reduce(1, np.array([[0.0]]), T(1, 1), "sum"), TypeError,
                r"scatter_reduce: the index must be an integer tensor, got float64"),
            Bad(lambda: T(2, 3).scatter_reduce(1, np.array([[0]]), T(1, 1, dtype=np.float64),
                                               "sum"), TypeError,
                r"scatter_reduce: expected self and src to have the same dtype, got float32 "
                r"and float64"),
            Bad(lambda: T(2, 3).scatter_reduce(0, np.array([0]), T(1), "sum"), ValueError,
                r"scatter_reduce: index has 1 dims but the input has 2"))))


# ---------------------------------------------------------------------------------- einsum
_LETTERS = string.ascii_letters


def parse_einsum(equation, shapes):
    """``equation`` with every ``...`` spelled out as letters and the output made explicit
    (numpy's and PyTorch's implicit rule: ellipsis dims, then the letters used once, sorted).
    An output without ``...`` sums the ellipsis dims (PyTorch; numpy would refuse)."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} operand(s) but "
                         f"{len(shapes)} were given")
    bad = set(eq) - set(_LETTERS) - set(".,->")
    if bad:
        raise ValueError(f"einsum: invalid subscript(s) {sorted(bad)} in {equation!r} "
                         f"(letters a-z, A-Z and '...' only)")
    used = set(eq) & set(_LETTERS)
    spare = [c for c in _LETTERS if c not in used]
    n_ell = 0
    for t, s in zip(terms, shapes, strict=True):
        n_letters = len(t.replace("...", ""))
        if "..." in t:
            n_ell = max(n_ell, len(s) - n_letters)
        elif n_letters != len(s):
            raise ValueError(f"einsum: operand {t!r} has {n_letters} subscripts but the tensor "
                             f"has {len(s)} dims (shape {tuple(s)})")
    ell = "".join(spare[:n_ell])
    full = []
    for t, s in zip(terms, shapes, strict=True):
        if "..." in t:
            k = len(s) - len(t.replace("...", ""))
            if k < 0:
                raise ValueError(f"einsum: operand {t!r} has more subscripts than the tensor "
                                 f"has dims (shape {tuple(s)})")
            t = t.replace("...", ell[n_ell - k:])
        full.append(t)
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {c: "".join(full).count(c) for c in set("".join(full))}
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    for c in out:
        if out.count(c) > 1 or c not in "".join(full):
            raise ValueError(f"einsum: output subscript {c!r} in {equation!r} appears more "
                             f"than once or in no operand")
    return full, out


def _einsum_grad_equation(terms, out, i, shape):
    """The einsum giving the gradient of operand ``i``: the upstream gradient (subscripts
    ``out``) times the other operands, to operand i's subscripts. Returns (equation, extra
    constant operands): an identity matrix per repeated letter of operand i (a diagonal
    such as ``ii``), a vector of ones per letter that appears nowhere else (summed in the
    forward, so the gradient is constant along it)."""
    mine = terms[i]
    others = [out] + [t for j, t in enumerate(terms) if j != i]
    used = set("".join(terms) + out)
    spare = iter(c for c in _LETTERS if c not in used)
    target, extra_subs, extra = [], [], []
    seen = {}
    for c, n in zip(mine, shape, strict=True):
        if c in seen:  # a repeated letter: a fresh one, tied to the first by an identity
            fresh = next(spare)
            target.append(fresh)
            extra_subs.append(c + fresh)
            extra.append(np.eye(n))
        else:
            seen[c] = n
            target.append(c)
    present = set("".join(others))
    for c, n in seen.items():
        if c not in present:
            extra_subs.append(c)
            extra.append(np.ones(n))
    eq = ",".join(others + extra_subs) + "->" + "".join(target)
    return eq, extra


_EINSUM_CASES = [  # (equation, shapes)
    ("ij,jk->ik", ((2, 3), (3, 4))),
    ("bij,bjk->bik", ((2, 2, 3), (2, 3, 2))),
    ("i,i->", ((4,), (4,))),
    ("i,j->ij", ((3,), (2,))),
    ("ii->i", ((3, 3),)),
    ("ii", ((3, 3),)),
    ("ij->", ((2, 3),)),
    ("ij,jk", ((2, 3), (3, 2))),
    ("...ij,...jk->...ik", ((2, 1, 2, 3), (3, 3, 2))),
    ("bhqd,bhkd->bhqk", ((1, 2, 3, 2), (1, 2, 4, 2))),
    ("ijk,ikl->jl", ((2, 3, 2), (2, 2, 3))),
    ("ij,ij->i", ((3, 2), (1, 2))),
    ("...i,i->i", ((2, 3), (3,))),
    ("iij,j->i", ((2, 2, 3), (3,))),
]


def _einsum_ref(*arrays, equation):
    full, out = parse_einsum(equation, [a.shape for a in arrays])
    return np.einsum(",".join(full) + "->" + out, *arrays)


class _EinsumSpec(OpSpec):
    """einsum's examples come in (equation, shapes) pairs; the arity varies with the case."""

    def sample(self, rng, shapes=None, dtype=np.float64):
        eq, shapes = _EINSUM_CASES[int(rng.integers(0, len(_EINSUM_CASES)))]
        return [rng.standard_normal(s).astype(dtype) for s in shapes], {"equation": eq}


class Einsum(Op):
    name = "einsum"
    formula = "d einsum/d operand = einsum of the gradient with the other operands"

    def forward(self, *arrays, equation):
        self.terms, self.out = parse_einsum(equation, [a.shape for a in arrays])
        self.equation = ",".join(self.terms) + "->" + self.out
        try:
            # optimize: contractions go through BLAS (tensordot), 5-10x faster beyond toy
            # sizes; ~20 µs of planning on tiny ones
            return np.einsum(self.equation, *arrays, optimize=True)
        except ValueError as e:
            raise ValueError(f"einsum: {e} (equation {equation!r}, shapes "
                             f"{[a.shape for a in arrays]})") from None

    def backward(self, g, *inputs, out):
        grads = []
        for i, x in enumerate(inputs):
            if not self.needs_grad[i]:
                grads.append(None)
                continue
            eq, extra = _einsum_grad_equation(self.terms, self.out, i, x.shape)
            others = [x2 for j, x2 in enumerate(inputs) if j != i]
            grads.append(xp.einsum(eq, g, *others, *(e.astype(g.dtype) for e in extra)))
        return tuple(grads)

    def label(self):
        return f"einsum {self.equation}"


register(_EinsumSpec("einsum", lambda *ts, equation: Einsum.apply(*ts, equation=equation),
                     _einsum_ref, ops=("einsum",),
                     errors=(Bad(lambda: Einsum.apply(T(2, 3), T(4, 5), equation="ij,jk->ik"),
                                 ValueError, r"einsum: .*ij,jk->ik"),
                             Bad(lambda: Einsum.apply(T(2, 3), equation="ijk->i"), ValueError,
                                 r"einsum: operand 'ijk' has 3 subscripts but the tensor has 2"))))


# ------------------------------------------------------------------------ compositions
def repeat(x, *sizes):
    """PyTorch's ``repeat``: tile the whole tensor ``sizes[d]`` times along each dim (new
    leading dims when there are more sizes than dims). numpy calls this ``tile``."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor of {x.ndim} dims "
                         f"(shape {x.shape}): give at least one per dim (numpy's tile pads "
                         f"with 1s; use x.tile(...) for that)")
    if any(int(r) < 0 for r in sizes):
        raise ValueError(f"repeat: repeat counts must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    spread = x.reshape(tuple(v for n in shape for v in (1, n)))
    big = spread.broadcast_to(tuple(v for r, n in zip(sizes, shape, strict=True)
                                    for v in (int(r), n)))
    out = big.reshape(tuple(int(r) * n for r, n in zip(sizes, shape, strict=True)))
    return out.clone() if np.may_share_memory(out.data, x.data) else out


def tile(x, dims):
    """PyTorch's (and numpy's) ``tile``: like repeat, with fewer counts than dims padded by 1s."""
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    return repeat(x, *((1,) * (x.ndim - len(dims)) + dims))


def repeat_interleave(x, repeats, dim=None):
    """Each element repeated ``repeats`` times (an int, or one count per element) along
    ``dim`` (the flattened tensor when None): [a, b] → [a, a, b, b]."""
    if dim is None:
        x, axis = x.reshape(-1), 0
    else:
        axis = norm_axis("repeat_interleave", dim, x.shape)
    n = x.shape[axis] if x.ndim else 1
    reps = np.asarray(getattr(repeats, "data", repeats))
    if reps.dtype.kind not in "iu" or (reps < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be non-negative integers, got "
                         f"{repeats!r}")
    if reps.ndim > 1 or (reps.ndim == 1 and reps.size not in (1, n)):
        raise ValueError(f"repeat_interleave: repeats has shape {reps.shape}; it must be an "
                         f"int or have one entry per element along dim ({n})")
    return x.index_select(axis, np.repeat(np.arange(n), reps.reshape(-1) if reps.ndim else reps))


def chunk(x, chunks, dim=0):
    """Split into ``chunks`` pieces of ceil(n/chunks) along ``dim`` (the last may be smaller,
    and there may be fewer pieces, as PyTorch); an empty dim gives ``chunks`` empty pieces,
    as PyTorch's."""
    from ..functional import split
    if not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    axis = norm_axis("chunk", dim, x.shape)
    n = x.shape[axis]
    return split(x, -(-n // chunks) if n else [0] * chunks, axis)


def unbind(x, dim=0):
    """The slices along ``dim``, as a tuple (each without that dim)."""
    axis = norm_axis("unbind", dim, x.shape)
    lead = (slice(None),) * axis
    return tuple(x[lead + (i,)] for i in range(x.shape[axis]))


def unflatten(x, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one may be −1)."""
    axis = norm_axis("unflatten", dim, x.shape)
    sizes = tuple(int(s) for s in sizes)
    known = int(np.prod([s for s in sizes if s != -1]))
    if sizes.count(-1) > 1 or (-1 not in sizes and known != x.shape[axis]) or (
            -1 in sizes and (known == 0 or x.shape[axis] % known)):
        raise ValueError(f"unflatten: sizes {sizes} do not multiply to dim {dim}'s size "
                         f"{x.shape[axis]} (shape {x.shape})")
    return x.reshape(x.shape[:axis] + sizes + x.shape[axis + 1:])


def movedim(x, source, destination):
    """Move dim(s) ``source`` to position(s) ``destination``; the others keep their order."""
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: {len(src)} source dims but {len(dst)} destinations")
    src = [norm_axis("movedim", s, x.shape) for s in src]
    dst = [norm_axis("movedim", d, x.shape) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dim in {source} or {destination}")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return x.permute(order)


def narrow(x, dim, start, length):
    """``length`` elements from ``start`` along ``dim`` (a view; start may be negative)."""
    axis = norm_axis("narrow", dim, x.shape)
    n = x.shape[axis]
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {n}")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise IndexError(f"narrow: start {start} + length {length} exceeds dim {dim} of "
                         f"size {n} (shape {x.shape})")
    return x[(slice(None),) * axis + (slice(start, start + length),)]


def diff(x, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference along ``dim``: out[i] = x[i + 1] − x[i], n times
    (PyTorch's ``diff``), after joining ``prepend`` / ``append`` along that dim. A bool tensor
    gives x[i + 1] ≠ x[i] (XOR), as PyTorch. Differentiable: built from slices and a
    subtraction."""
    from ..tensor import Tensor, as_tensor
    if x.ndim == 0:
        raise ValueError("diff: needs at least 1 dim, got a 0-d tensor")
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"diff: n must be an int >= 0, got {n!r}")
    axis = norm_axis("diff", dim, x.shape)
    parts = [p if isinstance(p, Tensor) else as_tensor(p, x)
             for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = Concatenate.apply(*parts, axis=axis)
    for _ in range(n):
        m = x.shape[axis]
        if m == 0:
            break
        hi, lo = narrow(x, axis, 1, m - 1), narrow(x, axis, 0, m - 1)
        x = hi != lo if x.dtype == np.bool_ else hi - lo
    return x


def select(x, dim, index):
    """The slice at ``index`` along ``dim`` (that dim removed; a view)."""
    axis = norm_axis("select", dim, x.shape)
    n = x.shape[axis]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} is out of range for dim {dim} of size {n}")
    return x[(slice(None),) * axis + (int(index),)]


def _diagonal_view(x, offset, dim1, dim2):
    """numpy's diagonal view of array ``x``, writeable when ``x`` is (numpy's is read-only)."""
    out = np.diagonal(x, offset, dim1, dim2)
    if x.flags.writeable:
        out.flags.writeable = True
    return out


@spec(call=lambda x: x.diagonal(1, 0, 2), ref=lambda x: np.diagonal(x, 1, 0, 2),
      shapes=lambda rng: ((3, 2, 4),))
class Diagonal(Op):
    name, linear, view = "diagonal", True, True
    formula = "gradient placed back on the same diagonal, 0 elsewhere"

    def forward(self, x, *, offset, dim1, dim2):
        self.shape, self.where = x.shape, (offset, dim1, dim2)
        return _diagonal_view(x, offset, dim1, dim2)  # a view, as PyTorch's

    def backward(self, g, x, out):
        return xp.diagonal_grad(g, self.shape, self.where)


def _diagonal_grad_ref(g, shape, where):
    out = np.zeros(shape)
    for k in range(g.shape[-1]):  # where = (1, 0, 2): element k sits at [k, :, k + 1]
        out[k, :, k + 1] = g[:, k]
    return out


@spec(call=lambda g, shape, where: DiagonalGrad.apply(g, shape=shape, where=where),
      ref=_diagonal_grad_ref, shapes=lambda rng: ((2, 3),),
      params=lambda rng, shapes: {"shape": (3, 2, 4), "where": (1, 0, 2)})
class DiagonalGrad(Op):
    name, linear = "diagonal_grad", True
    formula = "the gradient of diagonal: zeros with g on the diagonal; its gradient is g's diagonal"

    @staticmethod
    def embed(g, shape, where):
        out = np.zeros(shape, g.dtype)
        _diagonal_view(out, *where)[...] = g
        return out

    def forward(self, g, *, shape, where):
        self.where = where
        return self.embed(g, shape, where)

    def backward(self, gg, g, out):
        return xp.diagonal(gg, *self.where)


def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes, as a new last dim: a view, as PyTorch's
    (``x.diagonal().fill_(0)`` writes into ``x``)."""
    a, b = norm_axis("diagonal", dim1, x.shape), norm_axis("diagonal", dim2, x.shape)
    if a == b:
        raise ValueError(f"diagonal: dim1 and dim2 are the same dim ({dim1}, {dim2})")
    return Diagonal.apply(x, offset=int(offset), dim1=a, dim2=b)


_diagonal = diagonal  # diag's keyword is called diagonal, as PyTorch's


def diag(x, diagonal=0):
    """1-D → the square matrix with ``x`` on diagonal ``diagonal``; 2-D → that diagonal."""
    if x.ndim == 2:
        return _diagonal(x, diagonal)
    if x.ndim != 1:
        raise ValueError(f"diag: expects a 1-D or 2-D tensor, got shape {x.shape} (use "
                         f"diagonal(offset, dim1, dim2) or diag_embed for batches)")
    n = x.shape[0] + abs(diagonal)
    rows, cols = np.arange(x.shape[0]) + max(-diagonal, 0), np.arange(x.shape[0]) + max(diagonal, 0)
    return SetItem.apply(_tensor(np.zeros((n, n), x.dtype)), x, index=(rows, cols))


def trace(x):
    """The sum of the main diagonal of a matrix."""
    if x.ndim != 2:
        raise ValueError(f"trace: expects a matrix (2-D), got shape {x.shape}")
    return diagonal(x).sum()


def _triangle(x, diagonal, upper, op):
    if x.ndim < 2:
        raise ValueError(f"{op}: expects at least 2 dims (a matrix or a batch of them), got "
                         f"shape {x.shape}")
    n, m = x.shape[-2:]
    mask = np.tri(n, m, diagonal - 1 if upper else diagonal, dtype=bool)
    # the zeros in x's dtype: an int tensor stays int, a bool one bool (PyTorch's)
    return xp.where(~mask if upper else mask, x, x.dtype.type(0))


def tril(x, diagonal=0):
    """The lower triangle (on and below diagonal ``diagonal``) of the last two dims; 0 above."""
    return _triangle(x, diagonal, False, "tril")


def triu(x, diagonal=0):
    """The upper triangle (on and above diagonal ``diagonal``); 0 below."""
    return _triangle(x, diagonal, True, "triu")


def index_select(x, dim, index):
    """The entries at ``index`` (1-D integer) along ``dim``; repeats allowed."""
    axis = norm_axis("index_select", dim, x.shape)
    idx = _as_index(index, "index_select")
    if idx.ndim > 1:
        raise ValueError(f"index_select: the index must be 1-D, got shape {idx.shape}")
    n = x.shape[axis] if x.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"index_select: index {idx[(idx < 0) | (idx >= n)][0]} is out of "
                         f"range for dim {dim} of size {n} (shape {x.shape})")
    return x[(slice(None),) * axis + (idx.reshape(-1),)]


def _bool_mask(mask, op):
    m = index_array(mask)
    if m.dtype != bool:
        raise TypeError(f"{op}: the mask must be a bool tensor, got {m.dtype} (compare "
                        f"first: x > 0)")
    return m


def masked_fill(x, mask, value):
    """``value`` where ``mask`` is true, ``x`` elsewhere (mask broadcasts to x's shape). The
    result keeps x's dtype, as PyTorch: on an integer or bool tensor the value is cast
    (2.7 → 2), never the tensor promoted to float."""
    m = _bool_mask(mask, "masked_fill")
    try:
        ok = np.broadcast_shapes(m.shape, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"masked_fill: a mask of shape {m.shape} does not broadcast to the "
                         f"tensor's shape {x.shape}")
    if getattr(value, "ndim", 0) != 0:
        raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                         f"{value.shape} (use engine.where for a tensor of values)")
    if x.dtype.kind != "f":  # no gradient to lose: cast the value to x's dtype
        value = np.asarray(getattr(value, "data", value)).astype(x.dtype)
    from .elementwise import Where
    return Where.apply(value, x, cond=np.broadcast_to(m, x.shape))


def index_fill(x, dim, index, value):
    """``value`` (a number or 0-d tensor) at positions ``index`` (1-D, integer) along ``dim``,
    ``x`` elsewhere: ``out[..., index[i], ...] = value``. It is ``masked_fill`` with the mask
    of those positions, so gradients are masked_fill's (0 to x where filled; the filled
    places' sum to value)."""
    axis = norm_axis("index_fill", dim, x.shape)
    idx = _as_index(index, "index_fill")
    if idx.ndim > 1:
        raise ValueError(f"index_fill: the index must be 1-D, got shape {idx.shape}")
    n = x.shape[axis] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index_fill: index {idx[(idx < -n) | (idx >= n)][0]} is out of "
                         f"range for dim {dim} of size {n} (shape {x.shape})")
    mask = np.zeros(n, bool)
    mask[idx] = True
    return masked_fill(x, mask.reshape((-1,) + (1,) * (x.ndim - axis - 1)), value)


def masked_select(x, mask):
    """The elements where ``mask`` is true, as a 1-D tensor (x and mask broadcast)."""
    m = _bool_mask(mask, "masked_select")
    try:
        shape = np.broadcast_shapes(m.shape, x.shape)
    except ValueError:
        raise ValueError(f"masked_select: mask of shape {m.shape} and tensor of shape "
                         f"{x.shape} do not broadcast") from None
    xb = x if x.shape == shape else x.broadcast_to(shape)
    return xb[np.broadcast_to(m, shape)]


def _put_index(indices, shape, op):
    """index_put's indices checked, as a numpy index tuple, and the shape they pick: integer
    tensors (negative ones count from the end) and bool masks, one per leading dim (a mask
    covers as many dims as it has), nothing else; positions out of range are an IndexError
    naming the dim."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"{op}: indices must be a tuple of tensors (one per indexed dim), got a "
                        f"{type(indices).__name__}: write x.{op}((idx,), values)")
    out, d = [], 0
    for k, item in enumerate(indices):
        if item is None:
            raise TypeError(f"{op}: indices[{k}] is None; PyTorch's {op} takes tensors only "
                            f"(for a whole dim, give torch.arange(size) or use x[:, idx] = v)")
        a = index_array(item)
        if a.dtype == np.uint8 or a.dtype.kind not in "iub":
            raise TypeError(f"{op}: indices must be int64 or bool tensors, got {a.dtype} at "
                            f"indices[{k}] (positions: .long(), a mask: .bool())")
        width = a.ndim if a.dtype == bool else 1
        if d + width > len(shape):
            raise IndexError(f"{op}: too many indices for a tensor of shape {tuple(shape)} "
                             f"(indices[{k}] reaches dim {d + width - 1})")
        if a.dtype == bool:
            if a.shape != tuple(shape[d:d + width]):
                raise IndexError(f"{op}: the mask indices[{k}] has shape {a.shape} but the "
                                 f"dims it indexes have shape {tuple(shape[d:d + width])}")
        elif a.size and (a.min() < -shape[d] or a.max() >= shape[d]):
            bad = a[(a < -shape[d]) | (a >= shape[d])].flat[0]
            raise IndexError(f"{op}: index {bad} is out of bounds for dim {d} with size "
                             f"{shape[d]} (tensor shape {tuple(shape)})")
        out.append(a)
        d += width
    index = tuple(out)
    try:  # (a mask counts as its true places' positions, as in numpy and PyTorch)
        picked = np.broadcast_to(np.zeros((), np.int8), shape)[index].shape
    except IndexError:
        raise IndexError(f"{op}: the index tensors' shapes {[a.shape for a in out]} do not "
                         f"broadcast together") from None
    return index, picked


def index_put(x, indices, values, accumulate=False):
    """A copy of ``x`` with ``values`` written at ``x[indices]``, PyTorch's ``index_put``:
    ``indices`` is a tuple of integer tensors (broadcast together; negative ones count from
    the end) or bool masks, one per leading dim; ``values`` (x's dtype) broadcasts to the
    indexed shape. ``accumulate=True`` adds instead, repeats adding up. Without it a place
    indexed twice keeps the last value written (numpy's rule; PyTorch calls the result
    undefined) and only that value gets a gradient.

    >>> import engine
    >>> x = engine.zeros(2, 3)
    >>> x.index_put((engine.tensor([0, 1, 0]), engine.tensor([2, 0, 2])),
    ...             engine.tensor([1.0, 2.0, 3.0]), accumulate=True).data
    array([[0., 0., 4.],
           [2., 0., 0.]], dtype=float32)
    """
    index, shape = _put_index(indices, x.shape, "index_put")
    values = _same_dtype("index_put", x, values, "values")
    try:
        if np.broadcast_shapes(values.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"index_put: values of shape {values.shape} cannot be broadcast to the "
                         f"indexed shape {shape} (tensor shape {x.shape})") from None
    if accumulate:  # x + (zeros with the values added at the index): getitem's gradient op
        spread = values if values.shape == shape else values.broadcast_to(shape)
        return x + IndexAdd.apply(spread, shape=x.shape, index=index)
    return SetItem.apply(x, values, index=index)


def index_copy(x, dim, index, source):
    """A copy of ``x`` with ``source``'s slices along ``dim`` written at positions ``index``
    (1-D or 0-d, in [0, size): PyTorch refuses negative ones here), PyTorch's
    ``index_copy``: ``out[..., index[i], ...] = source[..., i, ...]``; source has x's shape
    but len(index) along dim, and x's dtype. A repeated position keeps the last slice
    (numpy's rule; PyTorch: undefined), which alone gets a gradient.

    >>> import engine
    >>> engine.zeros(2, 3).index_copy(1, engine.tensor([2, 0]), engine.ones(2, 2)).data
    array([[1., 0., 1.],
           [1., 0., 1.]], dtype=float32)
    """
    source = _same_dtype("index_copy", x, source)
    idx = _as_index(index, "index_copy")
    if idx.ndim > 1:
        raise IndexError(f"index_copy: the index must be 1-D or 0-d, got shape {idx.shape}")
    if x.ndim == 0:  # PyTorch's scalar case: one place
        norm_axis("index_copy", dim, x.shape)
        return index_copy(x.reshape(1), 0, idx.reshape(-1), source.reshape(-1)).reshape(())
    axis = norm_axis("index_copy", dim, x.shape)
    want = x.shape[:axis] + (idx.size,) + x.shape[axis + 1:]
    if source.shape != want:
        raise ValueError(f"index_copy: source of shape {source.shape} does not fit: with "
                         f"{idx.size} indices along dim {axis} of a tensor of shape {x.shape} "
                         f"it must have shape {want}")
    n = x.shape[axis]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"index_copy: index {idx[(idx < 0) | (idx >= n)].flat[0]} is out of "
                         f"bounds for dim {axis} with size {n} (shape {x.shape})")
    return SetItem.apply(x, source, index=(slice(None),) * axis + (idx.reshape(-1),))


def masked_scatter(x, mask, source):
    """A copy of ``x`` whose places where ``mask`` is true are filled, in row-major order,
    by the first elements of ``source`` (read as 1-D; it needs at least one element per
    true place, and x's dtype). x and mask broadcast together. Gradients: g at those places
    goes to source's first elements (0 to the rest of source), g elsewhere to x.

    >>> import engine
    >>> m = engine.tensor([[True, False, True], [False, True, False]])
    >>> engine.zeros(2, 3).masked_scatter(m, engine.tensor([1.0, 2.0, 3.0, 4.0])).data
    array([[1., 0., 2.],
           [0., 3., 0.]], dtype=float32)
    """
    m = _bool_mask(mask, "masked_scatter")
    source = _same_dtype("masked_scatter", x, source)
    try:
        shape = np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise ValueError(f"masked_scatter: mask of shape {m.shape} and tensor of shape "
                         f"{x.shape} do not broadcast") from None
    m = np.ascontiguousarray(np.broadcast_to(m, shape))
    k = int(m.sum())
    if source.numel() < k:
        raise ValueError(f"masked_scatter: the mask (shape {shape}) has {k} true places but "
                         f"source has only {source.numel()} elements (shape {source.shape}); "
                         f"it needs one per true place, taken in row-major order")
    xb = x if x.shape == shape else x.broadcast_to(shape)
    return SetItem.apply(xb, source.reshape(-1)[:k], index=m)


def take_along_dim(x, indices, dim=None):
    """The entries of ``x`` at ``indices`` along ``dim``, PyTorch's ``take_along_dim``
    (numpy's ``take_along_axis``): ``gather`` with x and indices broadcast against each
    other outside ``dim``; ``dim=None`` reads both as 1-D. Negative indices count from the
    end along a dim (PyTorch's; it refuses them with dim=None, and so does this); beyond the
    size is an IndexError (PyTorch wraps those around silently). Repeated picks add up their
    gradients.

    >>> import engine
    >>> x = engine.tensor([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
    >>> x.take_along_dim(x.argmax(1, keepdim=True), dim=1).data
    array([[30.],
           [60.]], dtype=float32)
    """
    idx = _as_index(indices, "take_along_dim")
    if dim is None:
        flat, n = idx.reshape(-1), x.numel()
        if flat.size and (flat.min() < 0 or flat.max() >= n):
            raise IndexError(f"take_along_dim: index {flat[(flat < 0) | (flat >= n)][0]} is "
                             f"out of range for a tensor of {n} elements (shape {x.shape}; "
                             f"dim=None reads it as 1-D)")
        return x.reshape(-1)[flat]
    if x.ndim == 0:
        raise IndexError(f"take_along_dim: dim {dim} given but the tensor is 0-d (it has no "
                         f"dims); use dim=None")
    axis = norm_axis("take_along_dim", dim, x.shape)
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_dim: input and indices should have the same number of "
                         f"dims, got shapes {x.shape} and {idx.shape}")
    n = x.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take_along_dim: index {idx[(idx < -n) | (idx >= n)][0]} is out of "
                         f"bounds for dim {axis} with size {n} (shape {x.shape})")
    idx = np.where(idx < 0, idx + n, idx)
    try:
        outer = np.broadcast_shapes(*[tuple(1 if d == axis else k for d, k in enumerate(s))
                                      for s in (x.shape, idx.shape)])
    except ValueError:
        raise ValueError(f"take_along_dim: input of shape {x.shape} and indices of shape "
                         f"{idx.shape} do not broadcast outside dim {axis}") from None

    def along(k):
        return outer[:axis] + (k,) + outer[axis + 1:]
    xb = x if x.shape == along(n) else x.broadcast_to(along(n))
    return xb.gather(axis, np.ascontiguousarray(np.broadcast_to(idx, along(idx.shape[axis]))))


def put(x, index, source, accumulate=False):
    """A copy of ``x`` with ``source``'s values written at the flat positions ``index`` (x
    read as 1-D in row-major order; index and source of any shapes with as many elements;
    negative positions count from the end), PyTorch's ``put``. ``accumulate=True`` adds,
    repeats adding up; without it a repeated position keeps the last value (numpy's rule;
    PyTorch: undefined). It is ``index_put`` on x flattened.

    >>> import engine
    >>> engine.zeros(2, 2).put(engine.tensor([0, -1]), engine.tensor([5.0, 6.0])).data
    array([[5., 0.],
           [0., 6.]], dtype=float32)
    """
    idx = _as_index(index, "put")
    source = _same_dtype("put", x, source)
    if idx.size != source.numel():
        raise IndexError(f"put: expected source and index to have the same number of "
                         f"elements, got {source.numel()} (shape {source.shape}) and "
                         f"{idx.size} (shape {idx.shape})")
    flat, n = idx.reshape(-1), x.numel()
    if flat.size and (flat.min() < -n or flat.max() >= n):
        raise IndexError(f"put: index {flat[(flat < -n) | (flat >= n)][0]} is out of range "
                         f"for a tensor of {n} elements (shape {x.shape})")
    return index_put(x.reshape(-1), (flat,), source.reshape(-1), accumulate).reshape(x.shape)


def nonzero(x, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor (one row per element), or
    with ``as_tuple=True`` one 1-D tensor per dim (numpy's ``nonzero``)."""
    a = np.asarray(x.data)
    if as_tuple:
        return tuple(_tensor(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(a)))
    return _tensor(np.argwhere(a).astype(np.int64))


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors: ``indexing='ij'`` (PyTorch's default) gives shape
    (len(t0), len(t1), …); ``'xy'`` swaps the first two (numpy's default)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expects 0-d or 1-D tensors, got shape {t.shape}")
    ts = [t.reshape(-1) for t in tensors]
    shape = tuple(t.shape[0] for t in ts)
    grids = [t.reshape(tuple(-1 if i == k else 1 for i in range(len(ts)))).broadcast_to(shape)
             for k, t in enumerate(ts)]
    if indexing == "xy" and len(grids) >= 2:  # the 'ij' grids with their first two dims swapped
        grids = [g.transpose(0, 1) for g in grids]
    return tuple(grids)


def one_hot(labels, num_classes=-1):
    """(…) integer labels → (…, num_classes) int64 one-hot rows (no gradient);
    ``num_classes=-1`` means max label + 1."""
    a = np.asarray(getattr(labels, "data", labels))
    if a.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects integer class labels, got {a.dtype} (convert "
                        f"with .long())")
    if a.size and a.min() < 0:
        raise ValueError(f"one_hot: class labels must be non-negative, got {a.min()}")
    if num_classes == -1:
        if a.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass "
                             "num_classes=")
        num_classes = int(a.max()) + 1
    if a.size and a.max() >= num_classes:
        raise ValueError(f"one_hot: class value {a.max()} is not smaller than num_classes "
                         f"= {num_classes}")
    return _tensor((a[..., None] == np.arange(num_classes)).astype(np.int64))


_PAD_MODES = {"constant": None, "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x, pad, mode="constant", value=None):
    """PyTorch's ``F.pad``: ``pad`` = (left, right) for the last dim, then (left, right) for
    the one before, …; negative amounts crop. Modes: 'constant' (``value``, default 0),
    'reflect' (mirror without the edge), 'replicate' (repeat the edge), 'circular' (wrap).
    The non-constant modes pad the last 1–3 dims of a (batched) signal, as PyTorch."""
    pad = tuple(int(p) for p in pad)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(map(repr, _PAD_MODES))}, got "
                         f"{mode!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: the padding {pad} must have an even length of at most "
                         f"2 × {x.ndim} (two amounts per padded dim, last dim first)")
    k = len(pad) // 2
    if mode != "constant":
        if value is not None and value != 0:
            raise ValueError(f"pad: mode {mode!r} takes no value= (only 'constant' does)")
        if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
            raise ValueError(f"pad: {mode} padding of {k} dim(s) needs a {k + 1}-D or "
                             f"{k + 2}-D input (unbatched or batched), got shape {x.shape}; "
                             f"supported: 2-D/3-D input for 1 dim, 3-D/4-D for 2, 4-D/5-D "
                             f"for 3")
    amounts = {x.ndim - 1 - i: (pad[2 * i], pad[2 * i + 1]) for i in range(k)}
    # Crop first (negative amounts), then pad what is left: PyTorch's order.
    crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) if d in amounts else slice(None)
                 for d, (lo, hi) in ((d, amounts.get(d, (0, 0))) for d in range(x.ndim)))
    for d, (lo, hi) in amounts.items():
        if max(-lo, 0) + max(-hi, 0) > x.shape[d]:
            raise ValueError(f"pad: cropping {-min(lo, 0)} + {-min(hi, 0)} from dim {d} of "
                             f"size {x.shape[d]} leaves nothing (shape {x.shape})")
    if any(lo < 0 or hi < 0 for lo, hi in amounts.values()):
        x = x[crop]
    grow = {d: (max(lo, 0), max(hi, 0)) for d, (lo, hi) in amounts.items()}
    if mode == "constant":
        return x.pad(tuple(grow.get(d, (0, 0)) for d in range(x.ndim)),
                     value=0.0 if value is None else value)
    for d, (lo, hi) in grow.items():
        n = x.shape[d]
        # reflect mirrors without the edge (pads < n), circular wraps once (pads ≤ n)
        limit = {"reflect": n - 1, "circular": n}.get(mode, np.inf)
        if lo > limit or hi > limit or (n == 0 and (lo or hi)):
            raise ValueError(f"pad: {mode} padding ({lo}, {hi}) of dim {d} needs "
                             f"{'fewer' if mode == 'reflect' else 'no more'} elements than "
                             f"the dim has ({n}; shape {x.shape})")
        if lo or hi:
            x = index_select(x, d, np.pad(np.arange(n), (lo, hi), mode=_PAD_MODES[mode]))
    return x


# --------------------------------------------------------------------- registry entries
def _add(name, call, ref, **kw):
    register(OpSpec(name, call, ref, **kw))


def _repeat_params(rng, shapes):
    n = len(shapes[0])
    return {"sizes": tuple(int(r) for r in rng.integers(1, 4, size=n + int(rng.integers(0, 2))))}


_add("repeat", lambda x, sizes: x.repeat(*sizes), lambda x, sizes: np.tile(x, sizes),
     params=_repeat_params,
     errors=(Bad(lambda: T(2, 3).repeat(2), ValueError, r"repeat: 1 repeat counts .*\(2, 3\)"),))
_add("diff", lambda x, n, axis: x.diff(n, axis), lambda x, n, axis: np.diff(x, n, axis),
     params=lambda rng, shapes: {"n": int(rng.integers(0, 3)),
                                 "axis": int(rng.integers(-len(shapes[0]), len(shapes[0])))},
     min_dims=1,
     errors=(Bad(lambda: T(3).diff(-1), ValueError, r"diff: n must be an int >= 0, got -1"),))
_add("tile", lambda x, sizes: x.tile(sizes), lambda x, sizes: np.tile(x, sizes),
     params=lambda rng, shapes: {"sizes": tuple(int(r) for r in rng.integers(1, 3, size=1))})


def _ri_params(rng, shapes):
    if rng.random() < 0.5:
        return {"repeats": int(rng.integers(0, 3)), "dim": None}
    p = axis_param(rng, shapes)
    return {"repeats": rng.integers(0, 3, size=shapes[0][p["axis"]]), "dim": p["axis"]}


_add("repeat_interleave", lambda x, repeats, dim: x.repeat_interleave(repeats, dim),
     lambda x, repeats, dim: np.repeat(x, repeats, axis=dim), params=_ri_params, min_dims=1)


def _cat_flat(parts):
    from ..functional import concatenate
    return concatenate([p.reshape(-1) for p in parts])


_add("chunk", lambda x, axis: _cat_flat(x.chunk(2, axis)[::-1]),
     lambda x, axis: np.concatenate([p.ravel() for p in np.array_split(
         x, range(-(-x.shape[axis] // 2), x.shape[axis], -(-x.shape[axis] // 2)), axis)][::-1]),
     params=axis_param, min_dims=1)
_add("unbind", lambda x, axis: _cat_flat(x.unbind(axis)[::-1]),
     lambda x, axis: np.concatenate([np.take(x, i, axis).ravel()
                                     for i in range(x.shape[axis])][::-1]),
     params=axis_param, min_dims=1)
_add("unflatten", lambda x: x.unflatten(0, (2, -1)), lambda x: x.reshape((2, -1) + x.shape[1:]),
     shapes=lambda rng: ((4, int(rng.integers(1, 4))),))
_add("movedim", lambda x: x.movedim((0, 1), (2, 0)), lambda x: np.moveaxis(x, (0, 1), (2, 0)),
     shapes=lambda rng: ((2, 3, 4),))
_add("narrow", lambda x: x.narrow(-1, 1, 2), lambda x: x[..., 1:3],
     shapes=lambda rng: ((int(rng.integers(1, 3)), 4),))
_add("select", lambda x: x.select(1, -1), lambda x: x[:, -1], shapes=lambda rng: ((2, 3),))
_add("diag", lambda x, k: x.diag(k), lambda x, k: np.diag(x, k),
     shapes=lambda rng: ((int(rng.integers(1, 4)),) if rng.random() < 0.5 else (3, 4),),
     params=lambda rng, shapes: {"k": int(rng.integers(-1, 2))})
_add("trace", lambda x: x.trace(), np.trace, shapes=lambda rng: ((3, int(rng.integers(2, 5))),))
_add("tril", lambda x, k: x.tril(k), lambda x, k: np.tril(x, k), min_dims=2,
     params=lambda rng, shapes: {"k": int(rng.integers(-1, 2))})
_add("triu", lambda x, k: x.triu(k), lambda x, k: np.triu(x, k), min_dims=2,
     params=lambda rng, shapes: {"k": int(rng.integers(-1, 2))})
_add("index_select", lambda x, axis, index: x.index_select(axis, index),
     lambda x, axis, index: np.take(x, index, axis),
     params=lambda rng, shapes: (lambda p: {**p, "index": rng.integers(
         0, shapes[0][p["axis"]], size=int(rng.integers(0, 5)))})(axis_param(rng, shapes)),
     min_dims=1)
_add("masked_fill", lambda x, mask: x.masked_fill(mask, -2.5),
     lambda x, mask: np.where(mask, -2.5, x),
     params=lambda rng, shapes: {"mask": rng.random(shapes[0][1:]) < 0.5})


def _index_fill_ref(x, axis, index):
    out = x.copy()
    out[(slice(None),) * (axis % x.ndim) + (index,)] = -2.5
    return out


_add("index_fill", lambda x, axis, index: x.index_fill(axis, index, -2.5), _index_fill_ref,
     params=lambda rng, shapes: (lambda p: {**p, "index": rng.integers(
         0, shapes[0][p["axis"]], size=int(rng.integers(0, 4)))})(axis_param(rng, shapes)),
     min_dims=1)
_add("masked_select", lambda x, mask: x.masked_select(mask), lambda x, mask: x[mask],
     params=lambda rng, shapes: {"mask": rng.random(shapes[0]) < 0.5})


def _index_put_shapes(rng):
    k = int(rng.integers(1, 6))
    return (int(rng.integers(1, 4)), int(rng.integers(1, 4))), ((k,) if rng.random() < 0.7
                                                              else (1,))


def _index_put_params(rng, shapes):
    (a, b), k = shapes[0], int(rng.integers(1, 6)) if shapes[1] == (1,) else shapes[1][0]
    # negative positions too; repeats happen (the last value is kept, or they add up)
    return {"indices": (rng.integers(-a, a, size=k), rng.integers(0, b, size=k)),
            "accumulate": bool(rng.integers(0, 2))}


def _index_put_ref(x, v, indices, accumulate):
    out = x.copy()
    rows, cols = indices
    v = np.broadcast_to(v, rows.shape)
    for i in range(len(rows)):  # in order: the last write stays, or they add up
        out[rows[i], cols[i]] = out[rows[i], cols[i]] + v[i] if accumulate else v[i]
    return out


_add("index_put", lambda x, v, indices, accumulate: x.index_put(indices, v, accumulate),
     _index_put_ref, arity=2, shapes=_index_put_shapes, params=_index_put_params)


def _one_dim_differs(rng):
    """x's shape and a source's: the same but along one dim (any length there)."""
    x = [int(n) for n in rng.integers(1, 4, size=int(rng.integers(1, 4)))]
    src = list(x)
    src[int(rng.integers(0, len(x)))] = int(rng.integers(0, 5))
    return tuple(x), tuple(src)


def _index_copy_params(rng, shapes):
    x, src = shapes
    differ = [d for d in range(len(x)) if x[d] != src[d]]
    dim = differ[0] if differ else int(rng.integers(0, len(x)))
    return {"dim": dim, "index": rng.integers(0, x[dim], size=src[dim])}  # repeats too


def _index_copy_ref(x, src, dim, index):
    out = x.copy()
    for i, at in enumerate(index):  # slice by slice: the last write stays
        out[(slice(None),) * dim + (at,)] = src[(slice(None),) * dim + (i,)]
    return out


_add("index_copy", lambda x, src, dim, index: x.index_copy(dim, index, src), _index_copy_ref,
     arity=2, shapes=_one_dim_differs, params=_index_copy_params)


def _masked_scatter_shapes(rng):
    x = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(1, 4))))
    return x, (int(np.prod(x)) + int(rng.integers(0, 3)),)  # source may be longer


def _masked_scatter_ref(x, src, mask):
    out = np.array(np.broadcast_to(x, np.broadcast_shapes(x.shape, mask.shape)))
    m = np.broadcast_to(mask, out.shape)
    k = 0
    for i in np.ndindex(out.shape):  # row-major order, one source element per true place
        if m[i]:
            out[i], k = src[k], k + 1
    return out


_add("masked_scatter", lambda x, src, mask: x.masked_scatter(mask, src), _masked_scatter_ref,
     arity=2, shapes=_masked_scatter_shapes,
     params=lambda rng, shapes: {"mask": rng.random(shapes[0][int(rng.integers(0, 2)):]) < 0.5})


def _take_along_params(rng, shapes):
    shape = shapes[0]
    if rng.random() < 0.3:
        size = int(np.prod(shape))
        return {"dim": None, "indices": rng.integers(0, size, size=int(rng.integers(0, 5)))}
    dim = int(rng.integers(-len(shape), len(shape)))
    n = shape[dim]
    # one dim of the indices may be 1 where x's is not (they broadcast), negatives count back
    ishape = [1 if rng.random() < 0.3 else k for k in shape]
    ishape[dim] = int(rng.integers(1, 4))
    return {"dim": dim, "indices": rng.integers(-n, n, size=ishape)}


def _take_along_ref(x, dim, indices):
    if dim is None:
        return np.take_along_axis(x.reshape(-1), indices.reshape(-1), 0)
    return np.take_along_axis(x, indices, dim)


_add("take_along_dim", lambda x, dim, indices: x.take_along_dim(indices, dim), _take_along_ref,
     params=_take_along_params, min_dims=1)


def _put_params(rng, shapes):
    n = int(np.prod(shapes[0]))
    k = shapes[1][0]
    return {"index": rng.integers(-n, n, size=k), "accumulate": bool(rng.integers(0, 2))}


def _put_ref(x, src, index, accumulate):
    out = x.copy().reshape(-1)
    if accumulate:
        np.add.at(out, index, src)
    else:
        np.put(out, index, src)  # in order: the last write stays
    return out.reshape(x.shape)


_add("put", lambda x, src, index, accumulate: x.put(index, src, accumulate), _put_ref, arity=2,
     shapes=lambda rng: ((int(rng.integers(1, 4)), int(rng.integers(1, 4))),
                         (int(rng.integers(0, 6)),)),
     params=_put_params)


def _pad_shapes(rng):
    return ((int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(3, 5)),
             int(rng.integers(3, 5))),)


def _pad_params(rng, shapes):
    """Amounts for the last two dims: crops of at most 1 per side, then pads the mode allows
    on what is left (reflect: < size, circular: ≤ size)."""
    mode = str(rng.choice(list(_PAD_MODES)))
    amounts = []
    for n in (shapes[0][-1], shapes[0][-2]):
        lo, hi = (int(v) for v in rng.integers(-1, 3, size=2))
        left = n - max(-lo, 0) - max(-hi, 0)
        limit = {"reflect": left - 1, "circular": left}.get(mode, 3)
        amounts += [min(lo, limit), min(hi, limit)]
    return {"pad": tuple(amounts), "mode": mode}


def pad_reference(x, pad, mode):
    """numpy's ``pad`` after cropping: an independent spelling of F.pad (for the tests)."""
    k = len(pad) // 2
    for i in range(k):
        d = x.ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        x = np.take(x, np.arange(max(-lo, 0), x.shape[d] - max(-hi, 0)), axis=d)
        width = [(0, 0)] * x.ndim
        width[d] = (max(lo, 0), max(hi, 0))
        x = np.pad(x, width, mode=_PAD_MODES[mode] or "constant")
    return x


_add("pad_nd", lambda x, pad, mode: globals()["pad"](x, pad, mode), pad_reference,
     shapes=_pad_shapes, params=_pad_params,
     errors=(Bad(lambda: pad(T(3, 4), (1, 1, 1, 1), "reflect"), ValueError,
                 r"pad: reflect padding of 2 dim\(s\) needs a 3-D or 4-D input"),
             Bad(lambda: pad(T(1, 3), (3, 0), "reflect"), ValueError,
                 r"pad: reflect padding \(3, 0\) of dim 1 needs fewer elements"),
             Bad(lambda: pad(T(1, 3), (1, 0), "mirror"), ValueError,
                 r"pad: mode must be one of 'constant', 'reflect', 'replicate', 'circular'")))


def _meshgrid_call(a, b):
    from ..functional import stack
    return stack(meshgrid(a, b, indexing="xy"))


_add("meshgrid", _meshgrid_call, lambda a, b: np.stack(np.meshgrid(a, b, indexing="xy")),
     arity=2, shapes=lambda rng: ((int(rng.integers(1, 4)),), (int(rng.integers(1, 4)),)))
_add("gather_small_index", lambda x: x.gather(1, np.array([[2, 0]])),
     lambda x: np.take_along_axis(x[:1], np.array([[2, 0]]), 1), values=(normal,),
     shapes=lambda rng: ((3, 3),))
