"""Test machinery: how each op is checked (the ``@spec`` beside every op class), safe input
domains, and the registry that ``tests/engine/test_ops.py`` and ``stepgrad gradcheck`` read.

An op class carries its test description in a decorator right above it::

    @spec(ref=np.log, domain=(positive,))
    class Log(Op): ...

``ref`` is a plain numpy forward; ``domain`` draws inputs *inside the op's safe region*
(away from kinks such as relu at 0 and from ties in max, by construction rather than by
rejection); ``params`` draws keyword arguments; ``errors`` are bad calls with the message
they must raise. Nothing here imports hypothesis: shapes and values come from a
``numpy.random.Generator``, so the same specs serve the command-line gradient check.
Not part of the teaching core: a student can skip this file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

REGISTRY: dict = {}
"""Every checked op (or composite function) by name."""


# ------------------------------------------------------------------ value makers (safe domains)
def normal(rng, shape):
    return rng.standard_normal(shape)


def away_from_zero(rng, shape, lo=0.2, hi=2.0):
    """|x| in [lo, hi] with a random sign: no kink at 0 (relu, abs, leaky_relu, division)."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(lo, hi, size=shape)


def positive(rng, shape):
    return rng.uniform(0.5, 3.0, size=shape)


def unit(rng, shape):
    """Inside (−0.9, 0.9): asin, atanh and friends."""
    return rng.uniform(-0.9, 0.9, size=shape)


def distinct(rng, shape):
    """All values distinct, at least ~0.1 apart (max/min/sort have no ties to split)."""
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
class Bad:
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
    twice: bool = True               # second derivatives checked too (gradgradcheck)

    def value_maker(self, i):
        return self.values[min(i, len(self.values) - 1)]

    def sample(self, rng, shapes=None, dtype=np.float64):
        """Input arrays (in the safe domain) and params for one example."""
        if shapes is None:
            shapes = self.shapes(rng) if self.shapes else default_shapes(rng, self)
        arrays = [self.value_maker(i)(rng, s).astype(dtype) for i, s in enumerate(shapes)]
        return arrays, self.params(rng, shapes)


def register(s: OpSpec) -> OpSpec:
    """Add an entry (composite functions, which have no Op class of their own)."""
    REGISTRY[s.name] = s
    return s


def spec(ref, call=None, arity=1, broadcast=False, domain=(normal,), shapes=None, params=None,
         errors=(), min_dims=0, tol=None, name=None):
    """Class decorator: the op's test description, registered under the op's name."""
    def attach(cls):
        fn = call or (lambda *ts, **p: cls.apply(*ts, **p))
        s = OpSpec(name or cls.name, fn, ref, arity, broadcast, tuple(domain), shapes,
                   params or (lambda rng, shapes: {}), (cls.name,), tuple(errors), min_dims,
                   dict(tol or {}), twice=cls.twice)
        cls.spec = register(s)
        return cls
    return attach


def default_shapes(rng, s):
    """Shapes up to 3 dims, sides up to 4; broadcastable ones drop or shrink dims at random."""
    ndim = int(rng.integers(s.min_dims, 4))
    base = tuple(int(n) for n in rng.integers(1, 5, size=ndim))
    if s.arity == 1 or not s.broadcast:
        return (base,) * s.arity
    out = []
    for _ in range(s.arity):
        keep = int(rng.integers(0, ndim + 1))
        out.append(tuple(1 if rng.random() < 0.3 else n for n in base[ndim - keep:]))
    return tuple(out)


def reduce_params(rng, shapes):
    """axis None, one axis or several (as a tuple), and keepdims."""
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


def axis_param(rng, shapes):
    """One axis (negative allowed) of a tensor with at least one dim."""
    n = len(shapes[0])
    return {"axis": int(rng.integers(-n, n))}


def np_axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def T(*shape, dtype=np.float32):
    """A tensor of ones (for error cases)."""
    from .tensor import Tensor  # at call time: tests run long after the engine is imported
    return Tensor(np.ones(shape), dtype=dtype)


def spec_for(cls) -> OpSpec:
    """The op's test description, or a default for an op written without one (a custom op):
    its forward's arity, normal inputs of random shapes, gradients only (no reference)."""
    if isinstance(getattr(cls, "spec", None), OpSpec) and cls.spec.ops == (cls.name,):
        return cls.spec
    import inspect
    arity = sum(p.kind == p.POSITIONAL_OR_KEYWORD for p in
                inspect.signature(cls.forward).parameters.values()) - 1
    return OpSpec(cls.name, lambda *ts, **p: cls.apply(*ts, **p), None, max(arity, 1),
                  broadcast=arity > 1, ops=(cls.name,), twice=cls.twice)


def load_ops(path):
    """Import a Python file of the user's (their own ops register themselves by being defined)."""
    import importlib.util
    import os
    import sys
    name = "stepgrad_user_ops_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python file: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
