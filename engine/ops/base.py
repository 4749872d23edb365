"""The Op base class: one op = one class holding its name, formula, forward and backward.

A new op, from scratch (the README's guide does this with a softplus)::

    class Cube(Op):
        name = "cube"
        formula = "d(u³)/du = 3u²"
        def forward(self, x):              # numpy arrays in, a numpy array out
            return x ** 3
        def backward(self, g, x, out):     # upstream gradient, the inputs, the output
            return g * 3 * x * x

    Cube.apply(t)          # on a Tensor (or a Value)

``backward`` is written once, with operators and the helpers of ``engine.ops.xp``, and runs
on numpy arrays (a plain ``backward()``), on numbers (``Value`` graphs) and on Tensors (with
``create_graph=True``, so the gradient has a graph of its own and can be differentiated
again). It returns one gradient per input (a tuple; a single input may return it bare), None
where ``self.needs_grad[i]`` is False. Un-broadcasting is not an op's concern: the graph walk
sums each gradient back to its input's shape.

Optional, per class: ``scalar(self, *floats)`` (a float forward for ``Value``; without it a
Value runs ``forward`` on 0-d arrays), ``describe()`` (extra words for a backward step),
``label()`` (the node's text in a picture), ``self.save(...)`` in forward (arrays backward
needs beyond the inputs and output; freed after backward unless ``retain_graph=True``), and
the flags below. Every class with a ``name`` is registered in ``OPS`` by defining it.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Node

OPS: dict = {}
"""Every op class by name, filled by defining the class: the registry, the scalar op list,
the CLI's method list and the picture labels are all read from here."""

FREED_MSG = ("Trying to backward through the graph a second time (or directly access saved "
             "arrays after they have already been freed). Saved intermediate values of the "
             "graph are freed when you call .backward(). Specify retain_graph=True if you need "
             "to backward through the graph a second time.")


class _Unsaved:
    """``self.saved`` of an op whose forward never called ``self.save``: reading it says so."""

    def __init__(self, name):
        self.name = name

    def __iter__(self):
        raise RuntimeError(f"backward of '{self.name}' reads self.saved, but its forward never "
                           f"called self.save(...): save what backward needs in forward "
                           f"(the inputs and the output are passed to backward already)")

    __getitem__ = __len__ = lambda self, *a: iter(self)


class Op:
    """A differentiable operation (see the module docstring for how to write one)."""

    name = "op"
    formula = ""           # one line: the local derivative, shown in steps and tooltips
    differentiable = True  # False: the output never requires grad (argmax, comparisons)
    linear = False         # backward reads neither inputs nor output (add, sum, reshape, …):
    #                        its graph is never freed and in-place changes of leaves are fine
    float_only = False     # integer inputs become the default float first (exp, division, …)
    view = False           # the output may share memory with input 0 (reshape, slicing)
    twice = True           # backward is built from differentiable ops (create_graph works)
    twice_hint = ""        # if not twice: what to use instead, said in create_graph's error
    fresh_grads = False    # backward returns arrays it just made and keeps no reference to
    #                        (Linear's GEMMs): a leaf may keep them as .grad without a copy
    scalar = None          # optional float form of forward, for Value
    saved = None
    needs_grad = ()
    inputs = ()            # the input nodes (Tensor graphs; a node's ``parents``)
    versions = None        # the inputs' and output's version counters when recorded
    site = None            # where the op ran (anomaly mode)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The engine's own ops are tested (tests/engine/test_ops.py): their backward's return
        # is not re-checked on every call; an op you write is, with errors naming the mistake.
        cls.trusted = cls.__module__.startswith("engine.")
        if isinstance(cls.__dict__.get("name"), str):
            other = OPS.get(cls.name)
            if other is not None and other.__qualname__ != cls.__qualname__:
                raise ValueError(f"Op name {cls.name!r} is already used by {other.__module__}."
                                 f"{other.__qualname__}; give {cls.__qualname__} another name")
            OPS[cls.name] = cls  # a re-run notebook cell replaces its own class

    def save(self, *arrays):
        """Keep arrays for backward (beyond the inputs and output, which it receives)."""
        self.saved = arrays

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, g, *inputs, out):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def describe(self) -> str:
        """Extra words for a backward step (shapes, params); empty by default."""
        return ""

    def label(self) -> str:
        """The op's text in a picture (its name; ops with parameters add what matters)."""
        return self.name

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"

    @property
    def next_functions(self):
        """PyTorch's view of the graph: for each input, the Op that made it (or an
        ``AccumulateGrad`` for a leaf that requires grad, None for a constant)."""
        return tuple((p.grad_fn if p.grad_fn is not None else
                      AccumulateGrad(p) if p.requires_grad else None, 0) for p in self.inputs)

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors or Values (numbers and arrays join them) and record it.

        The node type of the inputs does the work (``Tensor.run_op``, ``Value.run_op``): a
        Tensor op handles dtypes and arrays, a Value op floats.
        """
        run = None
        for x in inputs:
            if isinstance(x, Node):
                r = type(x).run_op
                if run is None:
                    run = r
                elif r is not run:
                    run = False
        if not run:
            what = ", ".join(type(x).__name__ for x in inputs)
            raise TypeError(f"{cls.name}: expects Tensors (or Values), not a mix or none: got "
                            f"({what}); use Value for scalar graphs and Tensor for arrays")
        return run(cls, inputs, params)

    # -- what the graph walk calls --------------------------------------------------------
    def parent_grads(self, node, g, retain_graph=False, create_graph=False, parents=None):
        """One gradient per parent of ``node`` (made by this op) for upstream gradient ``g``."""
        if parents is None:
            parents = node.parents
        if self.versions is None and not create_graph:  # a Value graph: plain floats, fast
            try:
                if len(parents) == 2:  # (no list: this line runs once per scalar node)
                    grads = self.backward(g, parents[0].data, parents[1].data, out=node.data)
                else:
                    grads = self.backward(g, *[p.data for p in parents], out=node.data)
            except (ZeroDivisionError, OverflowError):
                # Python floats raise where numpy's IEEE rules give the answer (0.0 ** -1 is
                # inf): the same formula again on numpy floats, as for tensors.
                f = np.float64
                grads = self.backward(f(g), *(f(p.data) for p in parents), out=f(node.data))
            if not self.trusted:
                return self._check_grads(grads, len(parents), False)
            return grads if type(grads) is tuple else (grads,)
        tensor_op = self.versions is not None  # Value graphs keep nothing to free or check
        if tensor_op:
            if self.saved is FREED:
                raise RuntimeError(f"backward of '{self.name}': {FREED_MSG}")
            self._check_versions(node, parents)
            if self.saved is None:
                self.saved = _Unsaved(self.name)
        if create_graph:
            if not self.twice:
                raise RuntimeError(f"{self.name} is not twice differentiable in stepgrad "
                                   f"(its backward is a fused kernel): second derivatives "
                                   f"(create_graph=True, which engine.hessian, hvp, vhp, jvp "
                                   f"and gradgradcheck use) cannot go through it"
                                   f"{self.twice_hint}")
            grads = self.backward(g, *parents, out=node)
        else:
            grads = self.backward(g, *[p.data for p in parents], out=node.data)
        if not self.trusted:
            grads = self._check_grads(grads, len(parents), create_graph)
        elif type(grads) is not tuple:
            grads = (grads,)
        if tensor_op and not retain_graph and not self.linear:
            self.saved = FREED
        return grads

    def local_numbers(self, node):
        """For a scalar node, d node / d parent as numbers (shown by backward_steps)."""
        if not isinstance(node.data, float):
            return None
        with np.errstate(all="ignore"):  # (−2)² has no real d/d(exponent): NaN, quietly
            grads = self._check_grads(self.parent_grads(node, 1.0, True), len(node.parents),
                                      False)
        return tuple(None if d is None else float(d) for d in grads)

    def _check_versions(self, node, parents):
        """A saved tensor changed in place since the op ran: its gradient would be wrong."""
        if tuple([t._vc.n for t in parents]) + (node._vc.n,) == self.versions:
            return  # nothing changed (the common case: one comparison, no loop below)
        for i, (t, v) in enumerate(zip(parents + (node,), self.versions, strict=True)):
            is_out = i == len(parents)
            # Linear ops read nothing, but a non-leaf input changed in place is no longer the
            # node this op consumed (its history was rewritten), so it is checked too.
            if self.linear and (is_out or (t.grad_fn is None and not t._detached)):
                continue
            if t._version != v:
                what = "its output" if is_out else f"input {i}"
                if t._detached and not is_out:
                    raise RuntimeError(
                        f"backward of '{self.name}': its input {i} (shape {t.shape}) was cut "
                        f"from its graph by detach_() after this op used it, so the gradient "
                        f"cannot reach that input's history. Call detach_() after backward, "
                        f"or use x.detach() (a new tensor) for the later uses")
                raise RuntimeError(
                    f"backward of '{self.name}': one of the tensors needed for gradient "
                    f"computation has been modified by an inplace operation: {what} (shape "
                    f"{t.shape}, {t.dtype}) is at version {t._version}; expected version {v} "
                    f"instead. Hint: compute it out of place (x = x + y, not x += y), or call "
                    f"backward before changing it")

    def _check_grads(self, grads, n, create_graph):
        """One gradient per input, of a gradient type: else an error naming the mistake."""
        if not isinstance(grads, tuple):
            if isinstance(grads, list):
                grads = tuple(grads)
            elif n == 1:
                grads = (grads,)
            else:
                raise TypeError(f"backward of '{self.name}' returned one "
                                f"{type(grads).__name__} for {n} inputs: return a tuple with "
                                f"one gradient (or None) per input")
        if len(grads) != n:
            raise TypeError(f"backward of '{self.name}' returned {len(grads)} gradients for "
                            f"{n} inputs: return one gradient (or None) per input, in order")
        for i, gr in enumerate(grads):
            ok = gr is None or isinstance(gr, (np.ndarray, np.generic, float, int)) or (
                isinstance(gr, Node) if create_graph else type(gr).__name__ == "SliceGrad")
            if not ok:
                raise TypeError(f"backward of '{self.name}' returned a {type(gr).__name__} as "
                                f"the gradient of input {i}: return numpy arrays (Tensors "
                                f"only when called with Tensors, i.e. create_graph=True)")
        return grads


FREED = ("<freed>",)


def index_array(x) -> np.ndarray:
    """The array of an index or mask argument (a Tensor, array, list or number) that an op
    keeps for its backward (``x[i]``, ``where(m, a, b)``, gather, scatter, …).

    A Tensor's data is copied: the caller can still change it in place (``i.fill_(1)``), and
    the backward would then silently use the new positions. (PyTorch raises at backward
    instead; a copy of an index is cheap and gives the gradient of what the forward read.)
    numpy arrays are used as given. Masks the engine builds for itself (relu's, tril's,
    those of backward formulas) go straight to their ops and are never copied."""
    if isinstance(x, Node):
        return np.array(x.data)
    return np.asarray(x)


class AccumulateGrad:
    """Where a leaf's gradient ends up (what PyTorch's next_functions shows for a leaf)."""

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return "<AccumulateGrad>"  # marks an op whose saved arrays backward already released


def scalar_ops() -> dict:
    """The ops with a float form (``Value`` graphs run them without numpy), by name."""
    return {name: cls for name, cls in OPS.items() if cls.scalar is not None}


def norm_axis(op, axis, shape) -> int:
    """One axis as a non-negative int; negative counts from the end; out of range is an
    IndexError naming the op, the axis and the shape (never wrapped around silently)."""
    ndim = len(shape)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: an axis must be an int, got {axis!r}")
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1  # a 0-d tensor accepts axis 0 and -1, as PyTorch
    if not lo <= axis <= hi:
        raise IndexError(f"{op}: dim {axis} is out of range for a tensor of shape "
                         f"{tuple(shape)} (expected a dim in [{lo}, {hi}])")
    return int(axis) % max(ndim, 1)


def norm_axes(op, axis, shape) -> tuple:
    """``axis`` (None for all, an int or a sequence) as a sorted tuple of distinct axes."""
    if axis is None:
        return tuple(range(len(shape)))
    axes = [norm_axis(op, a, shape) for a in
            ((axis,) if isinstance(axis, (int, np.integer)) else tuple(axis))]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: repeated axis in {axis} (shape {tuple(shape)})")
    return tuple(sorted(a for a in axes if a < len(shape)))


def reduce_axes(op, axis, shape) -> tuple:
    """The axes a reduction runs over, as ``norm_axes``, except that an empty sequence
    (``dim=()`` / ``dim=[]``) means every axis, as in PyTorch: ``ones(2, 3).sum(dim=())`` is 6.
    (Elsewhere -- flip, squeeze, any, all -- an empty sequence means no axis.)"""
    if isinstance(axis, (tuple, list)) and len(axis) == 0:
        axis = None
    return norm_axes(op, axis, shape)
