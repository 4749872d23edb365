"""The op registry: one entry per public differentiable op, for tests and ``stepgrad gradcheck``.

Each :class:`OpSpec` says how to call the op, a plain numpy reference for its forward, how to
draw inputs *inside its safe domain* (away from kinks such as relu at 0 and from ties in max,
by construction rather than by rejection), the parameters to sweep, and bad inputs with the
error message they must produce. ``tests/engine/test_ops.py`` drives every entry through
hypothesis; the meta-test there fails when an ``Op`` subclass has no entry.

Nothing here imports hypothesis: shapes and values come from a ``numpy.random.Generator``, so
the same specs serve the command-line gradient check.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import functional as F


# ------------------------------------------------------------------ value makers (safe domains)
def normal(rng, shape):
    return rng.standard_normal(shape)


def away_from_zero(rng, shape, lo=0.2, hi=2.0):
    """|x| in [lo, hi] with a random sign: no kink at 0 (relu, abs, leaky_relu, division)."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(lo, hi, size=shape)


def positive(rng, shape):
    return rng.uniform(0.5, 3.0, size=shape)


def distinct(rng, shape):
    """All values distinct, at least ~0.1 apart (max/min have no ties to split)."""
    n = int(np.prod(shape))
    spread = (rng.permutation(n) + rng.uniform(0.05, 0.2, n)) * (4.0 / max(n, 1))
    return (spread - 2.0).reshape(shape)


def half_grid(offset):
    """Integers + offset + a small jitter: two such draws with offsets 0.25 and 0.75 never tie."""
    def make(rng, shape):
        return rng.integers(-3, 3, size=shape) + offset + rng.uniform(0, 0.15, size=shape)
    return make


def clip_safe(rng, shape):
    """Values away from the clip bounds ±1: inside (0.1..0.9) or outside (1.1..2), random sign."""
    mag = np.where(rng.random(shape) < 0.5, rng.uniform(0.1, 0.9, shape),
                   rng.uniform(1.1, 2, shape))
    return rng.choice([-1.0, 1.0], size=shape) * mag


# ------------------------------------------------------------------------------- the spec
@dataclass
class ErrorCase:
    """``call()`` must raise ``exc`` with a message matching ``match`` (a regex)."""
    call: Callable
    exc: type
    match: str


@dataclass
class OpSpec:
    name: str
    fn: Callable                     # fn(*tensors, **params) -> Tensor
    ref: Callable                    # ref(*arrays, **params) -> ndarray (plain numpy)
    arity: int = 1
    broadcast: bool = False          # arity > 1: inputs get mutually broadcastable shapes
    values: tuple = (normal,)        # one value maker per input (the last one repeats)
    shapes: Callable | None = None   # shapes(rng) -> tuple of input shapes (overrides generic)
    params: Callable = lambda rng, shapes: {}
    ops: tuple = ()                  # names of the Op classes this entry covers
    errors: tuple = ()
    min_dims: int = 0
    check: dict = field(default_factory=dict)  # extra gradcheck kwargs (eps, atol, rtol)

    def value_maker(self, i):
        return self.values[min(i, len(self.values) - 1)]

    def sample(self, rng, shapes=None, dtype=np.float64):
        """Input arrays (in the safe domain) and params for one example."""
        if shapes is None:
            shapes = self.shapes(rng) if self.shapes else default_shapes(rng, self)
        arrays = [self.value_maker(i)(rng, s).astype(dtype) for i, s in enumerate(shapes)]
        return arrays, self.params(rng, shapes)


def default_shapes(rng, spec):
    """Shapes up to 3 dims, sides up to 4; broadcastable ones drop or shrink dims at random."""
    ndim = int(rng.integers(spec.min_dims, 4))
    base = tuple(int(n) for n in rng.integers(1, 5, size=ndim))
    if spec.arity == 1 or not spec.broadcast:
        return (base,) * spec.arity
    out = []
    for _ in range(spec.arity):
        keep = int(rng.integers(0, ndim + 1))
        s = tuple(1 if rng.random() < 0.3 else n for n in base[ndim - keep:])
        out.append(s)
    return tuple(out)


def reduce_params(rng, shapes):
    ndim = len(shapes[0])
    choice = rng.integers(0, 3) if ndim else 0
    if choice == 0:
        axis = None
    elif choice == 1:
        axis = int(rng.integers(-ndim, ndim))
    else:
        k = int(rng.integers(1, ndim + 1))
        axis = tuple(int(a) for a in rng.choice(ndim, size=k, replace=False))
    return {"axis": axis, "keepdims": bool(rng.integers(0, 2))}


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=_np_axis(axis), keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=_np_axis(axis), keepdims=True))
    return out if keepdims else np.squeeze(out, axis=_np_axis(axis) if axis is not None else None)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _tensor(shape, dtype=np.float32):
    from .tensor import Tensor
    return Tensor(np.ones(shape), dtype=dtype)


def _matmul_shapes(rng):
    kind = int(rng.integers(0, 4))
    n, k, m = (int(v) for v in rng.integers(1, 5, size=3))
    if kind == 0:
        return (n, k), (k, m)
    if kind == 1:  # batched with broadcasting batch dims
        b = int(rng.integers(1, 4))
        return (b, n, k), (1, k, m) if rng.random() < 0.5 else (k, m)
    if kind == 2:
        return (k,), (k, m)
    return (n, k), (k,)


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


def _cat_shapes(rng):
    base = [int(n) for n in rng.integers(1, 4, size=int(rng.integers(1, 4)))]
    shapes = []
    for _ in range(int(rng.integers(2, 4))):
        s = list(base)
        s[0] = int(rng.integers(1, 4))
        shapes.append(tuple(s))
    return tuple(shapes)


def _perm_params(rng, shapes):
    return {"axes": tuple(int(a) for a in rng.permutation(len(shapes[0])))}


def _bt_params(rng, shapes):
    s = shapes[0]
    return {"shape": (int(rng.integers(1, 4)),) + tuple(int(rng.integers(2, 4)) if n == 1 else n
                                                       for n in s)}


def _reshape_params(rng, shapes):
    s = shapes[0]
    return {"shape": (-1,) if rng.random() < 0.5 else tuple(reversed(s)) + (1,)}


def _pad_params(rng, shapes):
    return {"pad_width": tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3)))
                               for _ in shapes[0])}


def _where_shapes(rng):
    shape = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(1, 3))))
    return shape, shape[-1:], shape


def _softmax_params(rng, shapes):
    return {"axis": int(rng.integers(-len(shapes[0]), len(shapes[0])))}


def _ones(*shapes):
    return [_tensor(s) for s in shapes]


SPECS = [
    # elementwise, unary
    OpSpec("neg", lambda x: -x, np.negative, ops=("neg",)),
    OpSpec("exp", lambda x: x.exp(), np.exp, ops=("exp",)),
    OpSpec("log", lambda x: x.log(), np.log, values=(positive,), ops=("log",)),
    OpSpec("sqrt", lambda x: x.sqrt(), np.sqrt, values=(positive,), ops=("sqrt",)),
    OpSpec("abs", lambda x: x.abs(), np.abs, values=(away_from_zero,), ops=("abs",)),
    OpSpec("tanh", lambda x: x.tanh(), np.tanh, ops=("tanh",)),
    OpSpec("sigmoid", lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), ops=("sigmoid",)),
    OpSpec("relu", lambda x: x.relu(), lambda x: np.maximum(x, 0), values=(away_from_zero,),
           ops=("relu",)),
    OpSpec("leaky_relu", lambda x: x.leaky_relu(0.1), lambda x: np.where(x > 0, x, 0.1 * x),
           values=(away_from_zero,), ops=("leaky_relu",)),
    OpSpec("clip", lambda x: x.clip(-1.0, 1.0), lambda x: np.clip(x, -1, 1),
           values=(clip_safe,), ops=("clip",)),
    OpSpec("astype", lambda x: x.astype(np.float32).tanh().astype(np.float64),
           lambda x: np.tanh(x.astype(np.float32)).astype(np.float64), ops=("astype",),
           check={"eps": 1e-3, "atol": 1e-4, "rtol": 1e-2}),
    # elementwise, binary (broadcasting)
    OpSpec("add", lambda a, b: a + b, np.add, arity=2, broadcast=True, ops=("add",),
           errors=(ErrorCase(lambda: _tensor((2, 3)) + _tensor((4,)), ValueError,
                             r"add: .*\(2, ?3\).*\(4,\)"),)),
    OpSpec("sub", lambda a, b: a - b, np.subtract, arity=2, broadcast=True, ops=("sub",)),
    OpSpec("mul", lambda a, b: a * b, np.multiply, arity=2, broadcast=True, ops=("mul",),
           errors=(ErrorCase(lambda: _tensor((3,)) * _tensor((3,), np.float64), TypeError,
                             r"mul: dtype mismatch float32 vs float64"),)),
    OpSpec("div", lambda a, b: a / b, np.divide, arity=2, broadcast=True,
           values=(normal, away_from_zero), ops=("div",)),
    OpSpec("pow", lambda a, b: a ** b, np.power, arity=2, broadcast=True,
           values=(positive, normal), ops=("pow",)),
    OpSpec("maximum", F.maximum, np.maximum, arity=2, broadcast=True,
           values=(half_grid(0.25), half_grid(0.75)), ops=("maximum",)),
    OpSpec("minimum", F.minimum, np.minimum, arity=2, broadcast=True,
           values=(half_grid(0.25), half_grid(0.75)), ops=("minimum",)),
    OpSpec("where", lambda c, a, b: F.where(c.data > 0, a, b),
           lambda c, a, b: np.where(c > 0, a, b), arity=3, shapes=_where_shapes,
           values=(away_from_zero, normal), ops=("where",)),
    OpSpec("matmul", lambda a, b: a @ b, np.matmul, arity=2, shapes=_matmul_shapes,
           ops=("matmul",),
           errors=(ErrorCase(lambda: _tensor((2, 3)) @ _tensor((4, 5)), ValueError,
                             r"matmul: shapes \(2, 3\) and \(4, 5\)"),)),
    # reductions
    OpSpec("sum", lambda x, **p: x.sum(**p),
           lambda x, axis, keepdims: np.sum(x, axis=_np_axis(axis), keepdims=keepdims),
           params=reduce_params, ops=("sum",),
           errors=(ErrorCase(lambda: _tensor((2, 3)).sum(axis=2), ValueError,
                             r"sum: axis 2 is out of range"),)),
    OpSpec("mean", lambda x, **p: x.mean(**p),
           lambda x, axis, keepdims: np.mean(x, axis=_np_axis(axis), keepdims=keepdims),
           params=reduce_params, ops=("mean",)),
    OpSpec("var", lambda x, **p: x.var(**p, correction=0),
           lambda x, axis, keepdims: np.var(x, axis=_np_axis(axis), keepdims=keepdims),
           params=reduce_params, ops=("var",)),
    OpSpec("max", lambda x, **p: x.max(**p),
           lambda x, axis, keepdims: np.max(x, axis=_np_axis(axis), keepdims=keepdims),
           values=(distinct,), params=reduce_params, ops=("max",)),
    OpSpec("min", lambda x, **p: x.min(**p),
           lambda x, axis, keepdims: np.min(x, axis=_np_axis(axis), keepdims=keepdims),
           values=(distinct,), params=reduce_params, ops=("min",)),
    OpSpec("logsumexp", lambda x, **p: x.logsumexp(**p), _logsumexp, params=reduce_params,
           ops=("logsumexp",)),
    # shape
    OpSpec("reshape", lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape),
           params=_reshape_params, ops=("reshape",),
           errors=(ErrorCase(lambda: _tensor((2, 3)).reshape(4, 2), ValueError,
                             r"reshape: cannot reshape a tensor of shape \(2, 3\)"),)),
    OpSpec("permute", lambda x, axes: x.permute(axes), lambda x, axes: x.transpose(axes),
           params=_perm_params, ops=("permute",),
           errors=(ErrorCase(lambda: _tensor((2, 3)).permute(0, 0), ValueError,
                             r"permute: \(0, 0\) is not a permutation"),)),
    OpSpec("broadcast_to", lambda x, shape: x.broadcast_to(shape),
           lambda x, shape: np.broadcast_to(x, shape), params=_bt_params, ops=("broadcast_to",),
           errors=(ErrorCase(lambda: _tensor((2, 3)).broadcast_to((4, 3, 2)), ValueError,
                             r"broadcast_to: cannot broadcast shape \(2, 3\)"),)),
    OpSpec("pad", lambda x, pad_width: x.pad(pad_width),
           lambda x, pad_width: np.pad(x, pad_width), params=_pad_params, ops=("pad",),
           min_dims=1),
    OpSpec("getitem", lambda x, index: x[index], lambda x, index: x[index],
           params=_getitem_params, ops=("getitem",), min_dims=1,
           errors=(ErrorCase(lambda: _tensor((2, 3))[5], IndexError,
                             r"getitem: .*shape \(2, 3\)"),)),
    OpSpec("concatenate", lambda *xs: F.concatenate(xs, axis=0),
           lambda *xs: np.concatenate(xs, axis=0), arity=3, shapes=_cat_shapes,
           ops=("concatenate",),
           errors=(ErrorCase(lambda: F.concatenate(_ones((2, 3), (2, 4)), axis=0), ValueError,
                             r"concatenate: .*\(2, 3\), \(2, 4\)"),)),
    OpSpec("stack", lambda *xs: F.stack(xs, axis=-1), lambda *xs: np.stack(xs, axis=-1),
           arity=2, ops=("stack",),
           errors=(ErrorCase(lambda: F.stack(_ones((2,), (3,))), ValueError,
                             r"stack: .*\(2,\), \(3,\)"),)),
    # neural
    OpSpec("softmax", lambda x, axis: x.softmax(axis), _softmax, params=_softmax_params,
           min_dims=1, ops=("softmax",)),
    OpSpec("log_softmax", lambda x, axis: x.log_softmax(axis),
           lambda x, axis: np.log(_softmax(x, axis)), params=_softmax_params, min_dims=1,
           ops=("log_softmax",)),
]

REGISTRY = {spec.name: spec for spec in SPECS}


def register(spec: OpSpec) -> OpSpec:
    """Add an entry (the kernel ops register theirs next to their code)."""
    SPECS.append(spec)
    REGISTRY[spec.name] = spec
    return spec
