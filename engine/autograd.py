"""The graph walk shared by Value and Tensor: backward, grad, backward_steps, grad mode, anomaly.

A graph node (a ``Value`` or a ``Tensor``) is a :class:`Node`: ordered ``parents``, the
``grad_fn`` (the Op that made it, None for a leaf) and a way to receive its gradient. The Op
turns the gradient a node received into one gradient per parent. Everything else -- ordering,
un-broadcasting, accumulation, stepping, anomaly checks -- lives here, once, so ``backward()``,
``engine.grad()`` and ``backward_steps()`` can never disagree.

Gradient bookkeeping, as in PyTorch:
- leaves (nodes without parents) *accumulate* ``.grad`` across backward calls until zeroed;
- intermediate nodes get ``.grad`` *assigned* on every walk (stepgrad keeps them for pictures
  and stepping), so calling ``backward()`` twice never compounds them (micrograd issue #53).

Grad mode, anomaly mode and the module scope are per thread (``threading.local``), as
PyTorch's grad mode is: inference under ``no_grad`` in one thread never stops training in
another.
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
import traceback
import weakref

import numpy as np

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))


class _ThreadState(threading.local):
    """Per-thread switches (each thread starts with gradients on, anomaly mode off)."""

    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.scopes = ()  # modules running now, outermost first (see ``module_scope``)


state = _ThreadState()


def is_grad_enabled() -> bool:
    return state.grad_enabled


def _decorate(make, func):
    """``func`` run inside a fresh context ``make()`` per call (PyTorch's context_decorator).

    A generator function is wrapped so that each resumption runs inside the context and the
    caller's mode is back in force at every ``yield`` (a plain wrapper would set the mode only
    while the generator object is created, not while its body runs)."""
    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def generator_context(*args, **kwargs):
            gen = func(*args, **kwargs)
            try:
                with make():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with make():
                            gen.close()
                        raise
                    except BaseException:
                        with make():
                            response = gen.throw(*sys.exc_info())
                    else:
                        with make():
                            response = gen.send(request)
            except StopIteration as e:
                return e.value
        return generator_context

    @functools.wraps(func)
    def decorate_context(*args, **kwargs):
        with make():
            return func(*args, **kwargs)
    return decorate_context


class _Switch:
    """A context manager / decorator that sets one per-thread switch and restores it.

    Re-entrant: each entry remembers its own previous value (a stack), and a decorated
    function gets a fresh instance per call, so recursion and threads never mix them up.
    """

    attr, value = "", None

    def __init__(self):
        self._saved = []

    def clone(self):
        return type(self)()

    def __enter__(self):
        self._saved.append(getattr(state, self.attr))
        setattr(state, self.attr, self.value)
        return self

    def __exit__(self, *exc):
        setattr(state, self.attr, self._saved.pop())
        return False

    def __call__(self, func):
        """As a decorator: every call of ``func`` (every resumption of a generator) runs
        with the switch set."""
        if not callable(func):
            raise TypeError(f"{type(self).__name__}(): a decorator needs a function, got "
                            f"{type(func).__name__}")
        return _decorate(self.clone, func)


class _BareDecorator(_Switch):
    """A switch that also decorates without parentheses (``@engine.no_grad``), as PyTorch's
    ``no_grad`` and ``enable_grad`` do since 2.0."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_BareDecorator):
    """Context manager and decorator: ops inside record no graph (inference, optimizer steps).

    ``@no_grad()`` and ``@no_grad`` both decorate; on a generator function each resumption
    runs without grad.

    >>> from engine import tensor, no_grad
    >>> x = tensor([1.0, 2.0], requires_grad=True)
    >>> with no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    attr, value = "grad_enabled", False


class enable_grad(_BareDecorator):
    """The opposite of ``no_grad`` (re-enables recording inside a no_grad block)."""

    attr, value = "grad_enabled", True


def _check_mode(what, mode):
    if not isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"{what}(): argument 'mode' must be bool, not {type(mode).__name__}"
                        + (" (to decorate, write @engine.set_grad_enabled(False))"
                           if callable(mode) else ""))
    return bool(mode)


class set_grad_enabled(_Switch):
    """Turn recording on (``mode=True``) or off, as PyTorch's ``torch.set_grad_enabled``.

    As a function it switches at once and stays switched (``engine.set_grad_enabled(False)``);
    as a context manager the previous mode comes back on exit; as a decorator
    (``@set_grad_enabled(False)``) each call runs in ``mode``. ``mode`` must be a bool.

    >>> import engine
    >>> x = engine.tensor([1.0], requires_grad=True)
    >>> with engine.set_grad_enabled(False):
    ...     y = x * 2
    >>> y.requires_grad, engine.is_grad_enabled()
    (False, True)
    """

    attr = "grad_enabled"

    def __init__(self, mode):
        super().__init__()
        self.value = _check_mode("set_grad_enabled", mode)
        self.prev = state.grad_enabled
        state.grad_enabled = self.value  # the function form: in force from here on

    def clone(self):
        return type(self)(self.value)

    def __call__(self, func):
        state.grad_enabled = self.prev  # decorating switches nothing outside the calls
        return super().__call__(func)

    def __enter__(self):
        state.grad_enabled = self.value
        return self

    def __exit__(self, *exc):
        state.grad_enabled = self.prev  # the mode before set_grad_enabled(...) ran
        return False

    def __repr__(self):
        return f"set_grad_enabled(mode={self.value})"


class inference_mode(_Switch):
    """PyTorch's ``torch.inference_mode(mode=True)``: for stepgrad the same as ``no_grad``
    (``mode=False``: as ``enable_grad``). Context manager and decorator, with or without
    parentheses.

    Unlike PyTorch, tensors made inside are ordinary tensors: PyTorch's "inference tensors"
    refuse later use in recorded ops and in-place updates outside the mode, and skip version
    counting for speed; stepgrad neither enforces nor speeds up anything here.
    """

    attr = "grad_enabled"

    def __new__(cls, mode=True):
        if isinstance(mode, (bool, np.bool_)):
            return super().__new__(cls)
        if callable(mode):  # @inference_mode without parentheses
            return cls()(mode)
        _check_mode("inference_mode", mode)

    def __init__(self, mode=True):
        super().__init__()
        self.value = not _check_mode("inference_mode", mode)
        self.mode = bool(mode)

    def clone(self):
        return type(self)(self.mode)


class detect_anomaly(_Switch):
    """Context in which the first op producing NaN/Inf (forward or backward) raises.

    The error names the op and the line of user code that created the node, so a loss
    that turns ``nan`` can be traced to its source::

        with engine.detect_anomaly():
            loss = model(x).log().mean()   # AnomalyError: forward of 'log' produced -inf ...
            loss.backward()
    """

    attr, value = "anomaly", True


class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly()`` by the first op whose output or gradient is NaN/Inf."""


class module_scope:
    """Record ``module`` as running while the block runs (nn.Module.__call__ uses it): every
    op made inside gets ``.scope`` = the modules around it, outermost first, so pictures can
    group ops by layer. The engine only stores the objects; it knows nothing of modules."""

    __slots__ = ("module", "saved")

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.saved = state.scopes
        state.scopes = self.saved + (self.module,)
        return self

    def __exit__(self, *exc):
        state.scopes = self.saved
        return False


class BackwardOf:
    """Scope marker of the ops a ``create_graph=True`` backward records for ``node``'s op."""

    def __init__(self, node):
        self.node = node

    def __repr__(self):
        return f"backward of {self.node.op}"


def user_site() -> str:
    """``file:line`` of the innermost stack frame outside the engine package (anomaly reports)."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_ENGINE_DIR):
            return f"{frame.filename}:{frame.lineno} ({frame.line})"
    return "<unknown>"


def nonfinite(x) -> bool:
    if isinstance(x, float):
        return x != x or x in (float("inf"), float("-inf"))
    x = np.asarray(getattr(x, "data", x))
    return x.dtype.kind in "fc" and not np.isfinite(x).all()


def check_forward(op_name: str, out, site: str) -> None:
    """Anomaly mode: raise if a forward result is not finite."""
    if nonfinite(out):
        raise AnomalyError(f"detect_anomaly: forward of '{op_name}' produced NaN/Inf; "
                           f"the op was created at {site}")


# ---------------------------------------------------------------------------------------------
# The node protocol and the order of the walk.
# ---------------------------------------------------------------------------------------------

class RemovableHandle:
    """What ``register_hook`` (tensors) and ``register_forward_hook`` (modules) return:
    ``.remove()`` unregisters the hook (twice is harmless); ``with handle:`` removes it on
    exit (PyTorch's ``torch.utils.hooks.RemovableHandle``)."""

    next_id = 0

    def __init__(self, hooks: dict):
        self.hooks_dict_ref = weakref.ref(hooks)  # the tensor/module owns its hooks
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1

    def remove(self) -> None:
        hooks = self.hooks_dict_ref()
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


#: Set once any tensor hook is registered: until then the walk does not look for hooks.
HOOKED = [False]


def run_hooks(node, g):
    """A node's gradient ``g`` (an array, or a Tensor under create_graph) after its tensor
    hooks (``register_hook``), in registration order: each gets the gradient as a Tensor and
    may return a replacement of the same shape (PyTorch's rule), or None to keep it."""
    from .tensor import Tensor
    gt = g if isinstance(g, Tensor) else Tensor._make(g)
    for hook in list(node._hooks.values()):
        out = hook(gt)
        if out is None:
            continue
        if not isinstance(out, Tensor) or out.shape != gt.shape:
            raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} returned "
                               f"{type(out).__name__} {getattr(out, 'shape', '')}: a hook must "
                               f"return None or a Tensor of the gradient's shape {gt.shape}")
        gt = out if out.dtype == gt.dtype else out.astype(gt.dtype)
    return gt if isinstance(g, Tensor) else gt.data


class Node:
    """What the walk needs from a graph node; ``Value`` and ``Tensor`` are Nodes.

    - ``parents``: the input nodes, an ordered tuple (``a * a`` has ``(a, a)``);
    - ``grad_fn``: the Op that made the node (None for a leaf); its ``parent_grads(node, g,
      retain_graph, create_graph)`` gives one gradient per parent;
    - ``requires_grad``: whether a gradient flows to the node (read by the walk as ``_rg``,
      the plain attribute behind Tensor's checked property);
    - ``shape`` and ``data``; ``receive_grad(g, owned)`` stores the gradient the walk computed
      (leaves accumulate, intermediates are assigned; ``owned``: no one else holds g);
      ``seed_grad(grad)`` checks a root's seed;
    - ``short_label()``: a few characters naming the node in step texts.
    """

    __slots__ = ()


def topo_order(roots, to=None) -> list:
    """Nodes reachable from ``roots`` (a node or a list) in reverse topological order.

    Iterative depth-first search with an explicit stack: a 10⁶-node chain never touches
    Python's recursion limit. Each node is visited once even when re-used (``b = a + a``).
    Nodes hash by identity, so they key the ``seen`` set directly.

    ``to`` (a list of nodes): only the nodes on a path to one of them -- those, and every node
    with a parent kept (its parents are done before it). These are the only nodes whose
    backward ``grad()`` and ``backward(inputs=)`` run, as PyTorch runs only those: a branch
    that leads to no input is neither computed nor freed (``grad(y, x)`` then ``grad(y, w)``
    works without retain_graph when the two share no op that saved arrays).
    """
    order, seen = [], set()
    leads = None if to is None else set(to)
    stack = [(r, False) for r in reversed(roots if isinstance(roots, (list, tuple)) else [roots])]
    push, pop, append, mark = stack.append, stack.pop, order.append, seen.add
    while stack:
        node, expanded = pop()
        if expanded:  # all its parents are already done (in `order`, or left out)
            if leads is None:
                append(node)
            elif node in leads or not leads.isdisjoint(node.parents):
                leads.add(node)
                append(node)
        elif node not in seen:
            mark(node)
            push((node, True))
            for parent in reversed(node.parents):  # first parent explored first
                if parent not in seen:
                    push((parent, False))
    order.reverse()
    return order


# ---------------------------------------------------------------------------------------------
# Gradients on their way: slices kept sparse, broadcasting undone, sums accumulated.
# ---------------------------------------------------------------------------------------------

class SliceGrad:
    """The gradient of a basic slice ``x[index]``: zero everywhere but ``index``, kept sparse.

    ``GetItem.backward`` returns one instead of a zero-filled array of ``x``'s shape, so a
    recurrent layer taking ``xw[:, t]`` at each of T steps costs T slice additions in the walk,
    not T full-size arrays (T² work). ``np.asarray`` gives the dense array.
    """

    __slots__ = ("shape", "index", "g")

    def __init__(self, shape, index, g):
        self.shape, self.index, self.g = shape, index, g

    dtype = property(lambda self: self.g.dtype)

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, self.g.dtype)
        out[self.index] = self.g
        return out

    def __array__(self, dtype=None, copy=None):
        d = self.dense()
        return d if dtype is None else d.astype(dtype, copy=False)


def unbroadcast(g, node, op_name):
    """Sum gradient ``g`` back to ``node``'s shape: the one place broadcasting is undone.

    ``g`` is an ndarray, a SliceGrad, a Tensor (create_graph) or a float (Value graphs). A
    float for a tensor must fit its shape too: a number never stands for a whole array.
    """
    if type(g) is float:
        g = np.asarray(g, getattr(node, "dtype", None))
    if type(g) is np.ndarray:  # the common case first: an array that already fits
        data = node.data
        if type(data) is np.ndarray and g.shape == data.shape and g.dtype == data.dtype:
            return g
    shape = getattr(node, "shape", ())
    gshape = getattr(g, "shape", ())
    if gshape != shape:
        lead = len(gshape) - len(shape)
        if lead < 0 or any(n not in (1, gn) for n, gn in zip(shape, gshape[lead:], strict=True)):
            raise RuntimeError(f"backward of '{op_name}': gradient of shape {gshape} does not "
                               f"fit its input of shape {shape}")
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)
        g = np.asarray(g) if type(g) is SliceGrad else g
        g = g.sum(axis=axes).reshape(shape)
    dtype = getattr(node, "dtype", None)
    if dtype is not None and getattr(g, "dtype", dtype) != dtype:
        if type(g) is SliceGrad:
            g.g = g.g.astype(dtype)
        else:
            g = g.astype(dtype)
    return g


def _accumulate(prev, pg, owned: bool):
    """prev + pg, in place when ``prev`` is an array this walk allocated (``owned``): the
    arrays ops return may be shared with other nodes or read-only views, so those are never
    written into. Tensors (create_graph) and floats are added out of place."""
    if type(prev) is SliceGrad:
        prev, owned = prev.dense(), True
    if type(pg) is SliceGrad:
        if not owned:
            prev = prev.copy()
        prev[pg.index] += pg.g
        return prev
    if owned:
        prev += pg
        return prev
    return prev + pg


def walk(roots, seeds, retain_graph=False, create_graph=False, store=True, report=True,
         to=None):
    """Generator over backprop: for each node (reverse topological order) it stores the node's
    gradient (when ``store``), computes one gradient per parent (fitted to the parent's shape),
    sends them on and yields ``(node, grad, parent_grads)``. Exhausting it *is* ``backward()``.
    ``report=False`` (backward, grad) yields None for ``parent_grads``: nobody reads them.
    ``to`` (``grad()``'s inputs): visit only the nodes on a path to them
    (``topo_order(roots, to=to)``), and run no backward of an input whose parents lead to
    no other input: its gradient is the answer, and its saved arrays stay (PyTorch stops
    there too, so ``grad(y, h)`` then ``grad(h.sum(), x)`` works).

    With ``create_graph`` the gradients are Tensors (or Values) recorded in a graph of their
    own, so they can be differentiated again.
    """
    roots = roots if isinstance(roots, (list, tuple)) else [roots]
    seeds = seeds if isinstance(seeds, (list, tuple)) else [seeds]
    pending, owned = {}, set()  # owned: nodes whose pending gradient this walk allocated
    for r, s in zip(roots, seeds, strict=True):
        pending[r] = s if r not in pending else pending[r] + s
    anomaly, hooked = state.anomaly, HOOKED[0]
    take, peek = pending.pop, pending.get  # bound once: this loop runs once per node
    order = topo_order(roots, to=to)
    ends = ()  # inputs whose backward would feed no visited node
    if to is not None:
        kept = set(order)
        ends = {n for n in to if kept.isdisjoint(n.parents)}
    for node in order:
        g = take(node, None)
        if g is None:  # not on a path from a root (or no gradient needed)
            continue
        if type(g) is SliceGrad:
            g = g.dense()
        if hooked and getattr(node, "_hooks", None):
            g = run_hooks(node, g)  # the summed gradient, before .grad and the parents
            owned.discard(node)     # (a hook may have kept or returned the array)
        if store:
            # A gradient this walk owns (it summed it, or a fresh_grads op made it) is kept
            # by a leaf as it is; any other is copied (it may be another node's array).
            node.receive_grad(g, owned=not report and node in owned)
        fn = node.grad_fn
        if fn is None or node in ends:
            yield node, g, ()
            continue
        if create_graph:
            # The backward formulas are recorded; set here, not around the generator, so
            # code running between two backward_steps sees the user's own grad mode. Their
            # ops carry a BackwardOf scope, so pictures can tell the backward graph apart.
            mode, state.grad_enabled = state.grad_enabled, True
            scopes, state.scopes = state.scopes, state.scopes + (BackwardOf(node),)
        try:
            parents = node.parents
            scalar = type(node.data) is float  # a Value graph: float gradients, no shapes
            grads = fn.parent_grads(node, g, retain_graph, create_graph, parents)
            fresh = fn.fresh_grads and not create_graph
            fitted = [] if report else None
            for parent, pg in zip(parents, grads, strict=True):
                if pg is None or not parent._rg:  # (requires_grad, without a property)
                    if report:
                        fitted.append(None)
                    continue
                if not scalar:  # (a number for a tensor is checked there too)
                    pg = unbroadcast(pg, parent, fn.name)
                if report:
                    fitted.append(pg)
                if anomaly and nonfinite(pg.g if type(pg) is SliceGrad else pg):
                    raise AnomalyError(
                        f"detect_anomaly: backward of '{fn.name}' produced NaN/Inf in the "
                        f"gradient of its input {parent.short_label()}; the op was created at "
                        f"{getattr(fn, 'site', None) or '<enable detect_anomaly() to record>'}")
                prev = peek(parent)
                if prev is None:
                    pending[parent] = pg
                    if fresh and type(pg) is np.ndarray:
                        owned.add(parent)  # only this walk holds it: may add in place
                elif create_graph or type(pg) is float:
                    pending[parent] = prev + pg
                else:
                    pending[parent] = _accumulate(prev, pg, parent in owned)
                    owned.add(parent)
        finally:
            if create_graph:
                state.grad_enabled, state.scopes = mode, scopes
        yield node, g, tuple(fitted) if report else None


def check_inputs(what: str, inputs) -> list:
    """``inputs`` of ``grad()`` or ``backward(inputs=)`` as a list (one node or a sequence),
    checked once for both, with PyTorch's errors: not empty, each requiring grad."""
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if not inputs:
        raise RuntimeError(f"{what}: inputs= cannot be empty (as in PyTorch)"
                           + ("; leave it out to fill every .grad" if what == "backward" else ""))
    for i, t in enumerate(inputs):
        if not getattr(t, "requires_grad", False):
            short = t.short_label() if isinstance(t, Node) else type(t).__name__
            raise RuntimeError(f"{what}: inputs[{i}] does not require grad ({short}; the "
                               f"inputs are the tensors whose gradient to compute)")
    return inputs


def backward(root, grad=None, retain_graph=None, create_graph=False, inputs=None) -> None:
    """Fill ``.grad`` of every node ``root`` depends on (``root.backward()`` calls this).
    ``inputs`` (a node or a sequence of them, as PyTorch's): fill only theirs; every other
    ``.grad`` stays as it was."""
    retain = create_graph if retain_graph is None else retain_graph
    seed = root.seed_grad(grad, create_graph)
    if inputs is None:
        for _ in walk(root, seed, retain, create_graph, report=False):
            pass
        return
    inputs = check_inputs("backward", inputs)
    # Those, and the retain_grad() non-leaves on a path to them (PyTorch computes those
    # nodes' gradients, so their retained .grad accumulates), receive their gradient.
    wanted = set(inputs)
    for node, g, _ in walk(root, seed, retain, create_graph, store=False, report=False,
                           to=inputs):
        if node in wanted or getattr(node, "_retains", False):
            node.receive_grad(g)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned, not stored (PyTorch's
    ``torch.autograd.grad``): no ``.grad`` is touched.

    ``outputs`` and ``inputs`` are nodes or sequences of them; ``grad_outputs`` the upstream
    gradients (required for non-scalar outputs). With ``create_graph=True`` the results have
    a graph of their own and can be differentiated again (Hessians, gradient penalties).
    An input that ``outputs`` do not depend on raises unless ``allow_unused=True`` (then its
    gradient is None) or ``materialize_grads=True`` (then zeros). The arguments are
    PyTorch's, in its order; ``only_inputs`` is ignored (deprecated there too) and
    ``is_grads_batched=True`` is not supported.

    >>> import engine
    >>> x = engine.tensor(3.0, requires_grad=True, dtype="float64")
    >>> (dy,) = engine.grad(x ** 3, x, create_graph=True)     # 3x² = 27
    >>> (d2y,) = engine.grad(dy, x)                            # 6x = 18
    >>> float(dy), float(d2y)
    (27.0, 18.0)
    """
    if not only_inputs:
        import warnings
        warnings.warn("grad: only_inputs argument is deprecated and is ignored now (defaults to "
                      "True), as in PyTorch. To accumulate gradient for other parts of the "
                      "graph, please use backward()", stacklevel=2)
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported (PyTorch "
                                  "runs it with vmap); loop over the batch of grad_outputs")
    if materialize_grads:
        if allow_unused is False:
            raise ValueError("grad: expected allow_unused to be True or not passed when "
                             "materialize_grads=True (as in PyTorch)")
        allow_unused = True
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = check_inputs("grad", inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    seeds = [o.seed_grad(g, create_graph) for o, g in zip(outputs, grad_outputs, strict=True)]
    wanted = {}  # id(node) -> its positions in inputs (an input may be listed twice)
    for i, t in enumerate(inputs):
        wanted.setdefault(id(t), []).append(i)
    found = [None] * len(inputs)
    retain = create_graph if retain_graph is None else retain_graph
    for node, g, _ in walk(outputs, seeds, retain, create_graph, store=False, report=False,
                           to=inputs):
        for i in wanted.get(id(node), ()):
            found[i] = g
    for i, (t, g) in enumerate(zip(inputs, found, strict=True)):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} ({t.short_label()}) is not used to compute the "
                               f"outputs; pass allow_unused=True to get None for it")
        if g is not None:
            found[i] = t.wrap_grad(g)
        elif materialize_grads:
            found[i] = t.wrap_grad(np.zeros(getattr(t, "shape", ()), getattr(t, "dtype", None)))
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# Stepping through backprop in a REPL.
# ---------------------------------------------------------------------------------------------

def fmt(x) -> str:
    """A number or a short summary of an array (shape, a few entries, norm)."""
    x = getattr(x, "data", x)
    if isinstance(x, (float, int, np.floating)):
        return f"{float(x):.4g}"
    x = np.asarray(x)
    if x.size == 1:
        return f"{float(x.reshape(())):.4g}"
    head = ", ".join(f"{v + 0.0:.3g}" for v in x.ravel()[:3])  # + 0.0: print −0 as 0
    more = ", …" if x.size > 3 else ""
    return f"{x.shape} [{head}{more}] ‖·‖={float(np.linalg.norm(x)):.4g}"


class Step:
    """One step of backprop: a node, the gradient it received, what it passes to each parent.

    Attributes: ``index`` (0-based), ``node``, ``op`` (name, "" for a leaf), ``grad`` (upstream
    gradient received), ``parent_grads`` (tuple, aligned with ``node.parents``), ``formula``
    (the op's local-derivative formula, in the names of this node's operands), ``local`` (the
    local derivatives as numbers for scalar nodes, else None), ``done`` (nodes whose gradient
    is final so far, this one included).
    """

    def __init__(self, index, node, grad, parent_grads, done):
        self.index, self.node, self.grad = index, node, grad
        # Slice gradients are shown dense: a student inspecting a step sees plain arrays.
        self.parent_grads = tuple(pg.dense() if type(pg) is SliceGrad else pg
                                  for pg in parent_grads)
        self.done = done
        self.op = node.op
        fn = node.grad_fn
        self.formula = fn.formula if fn is not None else ""
        self.local = fn.local_numbers(node) if fn is not None else None
        self.detail = fn.describe() if fn is not None else ""

    def __repr__(self) -> str:
        name = self.node.short_label()
        if not self.node.parents:
            return f"step {self.index}: {name} is a leaf; its grad is now {fmt(self.node.grad)}"
        args = ", ".join(p.short_label() for p in self.node.parents)
        lines = [f"step {self.index}: {name} = {self.op}({args}) received grad {fmt(self.grad)}"]
        if self.formula:
            lines.append(f"  rule: {self.formula}" + (f"  [{self.detail}]" if self.detail else ""))
        for i, (p, pg) in enumerate(zip(self.node.parents, self.parent_grads, strict=True)):
            local = ""
            if self.local is not None and self.local[i] is not None:
                local = f" = {fmt(self.grad)} × {fmt(self.local[i])}"
            sent = "nothing (a constant, or no gradient needed)" if pg is None else fmt(pg) + local
            lines.append(f"  → {p.short_label()}: {sent}")
        return "\n".join(lines)

    __str__ = __repr__


def backward_steps(root, grad=None, retain_graph=False):
    """Iterate over backprop one node at a time (reverse topological order).

    Each yielded :class:`Step` prints the node, its op, the upstream gradient it received,
    the local-derivative formula with its numbers, and what it passes to each parent.
    Exhausting the iterator leaves exactly the gradients ``root.backward()`` gives.

    >>> from engine import Value, backward_steps
    >>> x = Value(0.5, label="x"); y = (x * 2).tanh(); y.label = "y"
    >>> steps = list(backward_steps(y))
    >>> print(steps[0])
    step 0: y = tanh(<mul 1>) received grad 1
      rule: d(tanh u)/du = 1 − tanh²u
      → <mul 1>: 0.42 = 1 × 0.42
    >>> print(steps[1])
    step 1: <mul 1> = mul(x, 2) received grad 0.42
      rule: d(a·b)/da = b, d(a·b)/db = a
      → x: 0.8399 = 0.42 × 2
      → 2: nothing (a constant, or no gradient needed)
    >>> round(x.grad, 4)
    0.8399
    """
    seed = root.seed_grad(grad, False)
    done = []
    for i, (node, g, pgrads) in enumerate(walk(root, seed, retain_graph)):
        done.append(node)
        yield Step(i, node, g, pgrads, tuple(done))
