"""Module, Parameter, Sequential: PyTorch's containers, built on engine's public API.

A Module registers, by attribute assignment, its Parameters (trainable Tensors), its
sub-Modules and its buffers (arrays that are state but not trained, e.g. BatchNorm's running
statistics). ``state_dict()`` names them with dotted paths (``features.0.weight``) exactly as
PyTorch does, so a PyTorch state dict of the same architecture loads.
"""
from __future__ import annotations

import functools
import operator
import warnings
from collections import OrderedDict, namedtuple
from itertools import chain

import numpy as np

import engine
from engine import Tensor
from engine.autograd import RemovableHandle
from engine.tensor import to_args

from .keras.model import KerasModelMixin  # Keras's Model methods (compile, fit, ...)
from .serialization import check_state_dict

_NAMING = [0]  # bumped by every registration: parameter names are refreshed when it moved


class Symbolic:
    """Marker of the Functional API's symbolic tensors (``nn.keras.functional``): a layer
    called on one records the call instead of running."""

    __slots__ = ()


def _symbolic(a) -> bool:
    return isinstance(a, Symbolic) or (type(a) in (list, tuple) and len(a) > 0
                                       and isinstance(a[0], Symbolic))


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns, as PyTorch: ``missing, unexpected = model.load_state_dict(
    sd, strict=False)``; prints as ``<All keys matched successfully>`` when both are empty."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class Parameter(Tensor):
    """A Tensor that is a trainable parameter of a Module (``requires_grad=True``).

    A Module names its parameters by their dotted path (``fc.weight``) unless ``name`` is
    given.

    >>> p = Parameter([[1.0, 2.0]])
    >>> p.requires_grad, p.dtype
    (True, dtype('float32'))
    """

    def __init__(self, data, requires_grad=True, dtype=None, name=""):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _Uninitialized(Tensor):
    """A tensor whose shape is not known yet: a lazy layer's (``nn.LazyLinear``...) until its
    first forward, which ``materialize``-s it in place (the same object, so an optimizer
    given ``model.parameters()`` before that trains the values it gets). Only its dtype and
    ``requires_grad`` exist: reading its data, shape or values raises, saying to run a
    forward pass first (PyTorch's ``UninitializedTensorMixin``)."""

    cls_to_become: type = Tensor
    _owner = ("a lazy layer", "")  # the lazy layer's class and attribute names, for errors

    def _refuse(self):
        layer, attr = self._owner
        raise RuntimeError(
            f"{layer}: {'parameter' if isinstance(self, Parameter) else 'buffer'} "
            f"{self.name or attr!r} is not initialized yet: a lazy layer takes "
            f"its shape from the first input it sees. Run a forward pass first: call the "
            f"model on a sample batch (a dry run, e.g. model(x[:1])), then use its parameters")

    # data reads refuse (and with them shape, values, arithmetic); a write stores the empty
    # array that carries the dtype (Tensor.__init__, Module.to)
    data = property(_refuse, lambda self, a: self.__dict__.__setitem__("data", a))
    dtype = property(lambda self: self.__dict__["data"].dtype)

    def materialize(self, shape, dtype=None) -> None:
        """Become a plain Parameter (or Tensor) of ``shape``, zeros, in place (PyTorch's,
        which leaves the memory uninitialized)."""
        data = np.zeros(shape, self.dtype if dtype is None else dtype)
        self.__dict__.pop("_owner", None)
        self.__class__ = self.cls_to_become
        self.data = data

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(_Uninitialized, Parameter):
    """A lazy layer's parameter before its first forward (PyTorch's): see ``_Uninitialized``.

    >>> p = UninitializedParameter()
    >>> p, p.dtype, p.requires_grad
    (<UninitializedParameter>, dtype('float32'), True)
    >>> p.materialize((2, 3)); type(p).__name__, p.shape
    ('Parameter', (2, 3))
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad=True, dtype=None):
        super().__init__(np.empty(0, np.float32), requires_grad=requires_grad, dtype=dtype)


class UninitializedBuffer(_Uninitialized):
    """A lazy layer's buffer (BatchNorm's running statistics) before its first forward."""

    def __init__(self, requires_grad=False, dtype=None):
        super().__init__(np.empty(0, np.float32), requires_grad=requires_grad, dtype=dtype)


def is_lazy(t) -> bool:
    """Whether ``t`` is an uninitialized parameter or buffer (PyTorch's ``is_lazy``)."""
    return isinstance(t, _Uninitialized)


def check_built(model, who: str) -> None:
    """Refuse, naming the first, a model holding a layer whose weights do not exist yet (a
    lazy layer before its first forward, ``built`` False: ``nn.LazyLinear``, ``nn.Dense``
    without an input size)."""
    for name, m in model.named_modules():
        if getattr(m, "built", True) is False:
            raise RuntimeError(
                f"{who}: layer {name or type(m).__name__!r} ({type(m).__name__}) has no "
                f"weights yet: it takes its input size from its first input. Run a forward "
                f"pass first: call the model on a sample batch (a dry run, e.g. model(x[:1]))")


class _HookedCall:
    """One call of a module with forward (pre-)hooks, in PyTorch's ``_call_impl`` order:
    ``pre`` runs the pre-hooks before ``forward``, ``post`` the forward hooks after it,
    ``failed`` (after an error anywhere in the call) the ``always_call`` forward hooks that
    have not run. It holds the call's inputs and output, as each hook may replace them."""

    def __init__(self, module, pre_hooks, post_hooks, args, kwargs, backward=None):
        self.module, self.pre_hooks, self.post_hooks = module, pre_hooks, post_hooks
        self.args, self.kwargs = args, kwargs
        self.out, self.posting, self.called = None, False, set()
        # (pre-hooks, hooks) of the backward pass, when the call records a graph
        self.backward = backward if backward and engine.is_grad_enabled() else None

    def pre(self):
        """The inputs after every pre-hook (``with_kwargs``: ``(new_args, new_kwargs)``)."""
        for hook, flags in list(self.pre_hooks.values()):
            if flags["with_kwargs"]:
                res = hook(self.module, self.args, self.kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple "
                                           f"of (new_args, new_kwargs), but got {res}.")
                    self.args, self.kwargs = res
            else:
                res = hook(self.module, self.args)
                if res is not None:
                    self.args = res if isinstance(res, tuple) else (res,)
        if self.backward:
            self.backward = _BackwardHooks(self.module, *self.backward)
            self.args = self.backward.wrap_inputs(self.args)
        return self.args, self.kwargs

    def _run(self, hook, flags):
        res = hook(self.module, self.args, self.kwargs, self.out) if flags["with_kwargs"] \
            else hook(self.module, self.args, self.out)
        if res is not None:
            self.out = res

    def post(self, out):
        """``forward``'s output after every forward hook."""
        self.out, self.posting = out, True
        for hook_id, (hook, flags) in list(self.post_hooks.items()):
            if flags["always_call"]:
                self.called.add(hook_id)
            self._run(hook, flags)
        if self.backward:
            self.out = self.backward.wrap_output(self.out)
        return self.out

    def failed(self, out):
        """After an error: the ``always_call`` hooks not run yet, on the output so far
        (``out``: forward's, or None, until the forward hooks began replacing it); an error
        of theirs is a warning, as the call's error wins."""
        if not self.posting:
            self.out = out
        for hook_id, (hook, flags) in list(self.post_hooks.items()):
            if flags["always_call"] and hook_id not in self.called:
                try:
                    self._run(hook, flags)
                except Exception as e:  # noqa: BLE001 - the forward's error wins
                    warnings.warn("module forward hook with ``always_call=True`` raised an "
                                  "exception that was silenced as another error was raised "
                                  f"in forward: {e}", stacklevel=2)


class _BackwardHooks:
    """One call's full backward hooks, PyTorch's ``register_full_backward_pre_hook`` and
    ``register_full_backward_hook``, built on tensor hooks: the positional inputs that
    require grad and the output pass through an identity (``view_as``) of this call's own,
    whose gradients are the module's grad_input and grad_output.

    In each backward pass the output's gradient comes first: the pre-hooks see
    ``(grad_output,)`` and may replace it; then, once every input that the output depends on
    has its gradient, the hooks see ``(grad_input, grad_output)`` (grad_input: one entry per
    positional argument: zeros for a tensor that gets no gradient, None for the others and
    for all when no input requires grad, as PyTorch) and may replace grad_input. A module
    returning several tensors is refused (hook the tensors themselves), and so is replacing
    grad_input of a module with several inputs needing gradients (the others have flowed on
    by then)."""

    def __init__(self, module, pre_hooks, hooks):
        self.module, self.pre_hooks, self.hooks = module, pre_hooks, hooks
        self.positions, self.reached = {}, set()

    def wrap_inputs(self, args):
        self.n = len(args)
        # PyTorch's grad_input: zeros for a tensor argument that gets no gradient (None for
        # every argument when none of them requires grad), None for the others
        self.tensor_args = {i: (a.shape, a.dtype) for i, a in enumerate(args)
                            if isinstance(a, Tensor)}
        out = list(args)
        for i, a in enumerate(args):
            if isinstance(a, Tensor) and a.requires_grad:
                a = a.view_as(a)
                a.register_hook(functools.partial(self._input_grad, i))
                self.positions[id(a)] = i
                out[i] = a
        return tuple(out)

    def wrap_output(self, out):
        if isinstance(out, (tuple, list)):
            if any(isinstance(t, Tensor) and t.requires_grad for t in out):
                raise NotImplementedError(
                    f"{type(self.module).__name__}: backward hooks on a module that returns "
                    f"several tensors are not supported; register a hook on each output "
                    f"instead: out.register_hook(lambda grad: ...)")
            return out
        if not isinstance(out, Tensor) or not out.requires_grad:
            return out  # no gradient comes back through it: PyTorch calls no hook either
        self.reached = _inputs_reached(out, self.positions)
        out = out.view_as(out)
        out.register_hook(self._output_grad)
        return out

    def _output_grad(self, g):
        grad_output = (g,)
        for hook, _ in list(self.pre_hooks.values()):
            res = hook(self.module, grad_output)
            if res is not None:
                grad_output = _grad_tuple("backward pre-hook", hook, res, 1)
        self.grad_output, self.waiting = grad_output, set(self.reached)
        self.grad_input = [None] * self.n
        if not self.waiting:  # no input gradient will come: now, grad_input all None
            self._call_hooks(None)
        return grad_output[0] if grad_output[0] is not g else None

    def _input_grad(self, i, g):
        self.grad_input[i] = g
        self.waiting.discard(i)
        return None if self.waiting else self._call_hooks(i)

    def _call_hooks(self, last):
        """The full backward hooks; the replacement of input ``last``'s gradient, if any."""
        grad_input, replaced = tuple(
            g if g is not None or i not in self.tensor_args or not self.positions
            else engine.zeros(*self.tensor_args[i][0], dtype=self.tensor_args[i][1])
            for i, g in enumerate(self.grad_input)), False
        for hook, _ in list(self.hooks.values()):
            res = hook(self.module, grad_input, self.grad_output)
            if res is not None:
                grad_input, replaced = _grad_tuple("backward hook", hook, res, self.n), True
        if not replaced or last is None:
            return None
        if len(self.reached) > 1:
            raise RuntimeError(
                f"{type(self.module).__name__}: a backward hook replaced grad_input, but the "
                f"module has {len(self.reached)} inputs that need gradients and the others "
                f"have flowed on already; register a hook on each input tensor instead")
        return grad_input[last]


def _grad_tuple(what, hook, res, n):
    res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
    if len(res) != n:
        raise RuntimeError(f"{what} {getattr(hook, '__name__', hook)!r} returned {len(res)} "
                           f"gradients, expected {n}")
    return res


def _inputs_reached(out, positions):
    """The positions of the wrapped inputs (``positions``: id → argument index) that ``out``'s
    graph depends on: only their gradients will arrive."""
    found, seen, stack = set(), set(), [out]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if id(node) in positions:
            found.add(positions[id(node)])
            continue
        stack.extend(node.parents)
    return found


class Module(KerasModelMixin):
    """Base class of every layer and model: subclass it, assign layers and Parameters as
    attributes in ``__init__``, and write ``forward``.

    >>> from nn import Linear
    >>> class Net(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = Linear(3, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> [name for name, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    _hooked = False  # True once a forward (pre-)hook was registered: __call__ checks only this

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration by attribute --------------------------------------------------------
    def __setattr__(self, name, value):
        """Register Parameters, Modules and buffers by assignment, with PyTorch's rules: a
        name already registered keeps its place in the order (``m.weight = Parameter(...)``
        must not move the weight after the bias: ``parameters()``, optimizers and
        ``state_dict`` follow that order); a Tensor (or None) assigned to a buffer's name
        updates the buffer; anything else assigned to a parameter's or a sub-module's name
        is a TypeError (it would silently stop being trained or saved). None unregisters.

        The value is also kept in ``__dict__``, so reading an attribute costs nothing."""
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attributes")
        params, modules, buffers = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value  # dict assignment: an existing name keeps its position
            if d.get("_keras_trainable") is False:  # a lazy layer built after trainable=False
                value.requires_grad = False
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params or name in modules:
            registry, what, want = (
                (params, "parameter", "nn.Parameter or None expected; wrap it: "
                                      "nn.Parameter(value)") if name in params else
                (modules, "child module", "nn.Module or None expected"))
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign "
                                f"'{type(value).__name__}' as {what} '{name}' ({want})")
            del registry[name]
        elif name in buffers:
            if value is None:
                del buffers[name]
            elif isinstance(value, Tensor):
                buffers[name] = value
            else:
                raise TypeError(f"{type(self).__name__}: cannot assign "
                                f"'{type(value).__name__}' as buffer '{name}' (Tensor or None "
                                f"expected: engine.tensor(value))")
        object.__setattr__(self, name, value)
        if isinstance(value, (Parameter, Module)):
            _NAMING[0] += 1
            self.name_parameters()

    def __delattr__(self, name):
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        self.__dict__.get("_non_persistent", set()).discard(name)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value, persistent: bool = True) -> None:
        """State that is not trained (a Tensor without grad), as PyTorch's: saved and loaded
        by ``state_dict`` unless ``persistent=False`` (then only cast by ``to`` and listed by
        ``named_buffers``). A name that is already a parameter or sub-module is refused
        (KeyError), as PyTorch's."""
        if name in self._parameters or name in self._modules:
            raise KeyError(f"{type(self).__name__}: attribute '{name}' already exists (a "
                           f"{'parameter' if name in self._parameters else 'sub-module'})")
        if value is None:
            raise TypeError(f"{type(self).__name__}.register_buffer('{name}', None): a None "
                            f"buffer (PyTorch's placeholder) is not supported; register it "
                            f"once its Tensor exists: self.register_buffer('{name}', tensor)")
        t = value if isinstance(value, Tensor) else Tensor(value)
        object.__setattr__(self, name, t)
        self._buffers[name] = t
        non_persistent = self.__dict__.setdefault("_non_persistent", set())
        if persistent:
            non_persistent.discard(name)
        else:
            non_persistent.add(name)

    def add_module(self, name: str, module: "Module") -> None:
        setattr(self, name, module)

    def register_parameter(self, name: str, param) -> None:
        """``self.<name> = param`` for a Parameter (or None: no such parameter, as a
        ``bias=False`` layer's), PyTorch's spelling; a name holding a buffer or a sub-module,
        or any other value, is refused."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{type(self).__name__}.register_parameter: the name must be a "
                           f"non-empty string without '.', got {name!r}")
        if name in self._buffers or name in self._modules:
            raise KeyError(f"{type(self).__name__}: attribute '{name}' already exists (a "
                           f"{'buffer' if name in self._buffers else 'sub-module'})")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter('{name}', ...): cannot "
                            f"assign a {type(param).__name__} as a parameter (wrap it: "
                            f"nn.Parameter(tensor), or register_buffer for state without "
                            f"gradient)")
        setattr(self, name, param)

    # -- calling ---------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if args and _symbolic(args[0]):  # Keras's Functional API: record the call, run nothing
            from .keras.functional import record_call
            return record_call(self, args, kwargs)
        # Hooks or not, one body and no extra frame: a warning raised in forward with a
        # stacklevel through __call__ points at the caller's line either way.
        hooks = self._hooked and self._hooks_of_call(args, kwargs)  # falsy: no hooks
        out = None
        try:
            if hooks:
                args, kwargs = hooks.pre()
            with engine.module_scope(self):  # lets ops record which module made them
                out = self.forward(*args, **kwargs)
            if self.__dict__.get("_named_at") != _NAMING[0]:
                self.name_parameters()  # a layer built its weights lazily, or joined a new model
            return hooks.post(out) if hooks else out
        except Exception:
            if hooks:
                hooks.failed(out)
            raise

    # -- hooks -------------------------------------------------------------------------------
    def _hooks(self, kind: str) -> "OrderedDict":
        hooks = self.__dict__.get(kind)
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(self, kind, hooks)
        object.__setattr__(self, "_hooked", True)
        return hooks

    def _add_hook(self, kind, hook, prepend, **flags) -> RemovableHandle:
        hooks = self._hooks(kind)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = (hook, flags)
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every ``forward``; a value it returns replaces
        the positional inputs (a non-tuple becomes a 1-tuple). With ``with_kwargs``:
        ``hook(module, args, kwargs)`` returning None or ``(new_args, new_kwargs)``. Hooks
        run in registration order (``prepend``: first). As PyTorch; returns a handle whose
        ``.remove()`` unregisters it.

        >>> from nn import Linear
        >>> layer = Linear(2, 1)
        >>> handle = layer.register_forward_pre_hook(lambda m, args: args[0] * 0)
        >>> layer(engine.ones(1, 2)).data == layer.bias.data
        array([[ True]])
        >>> handle.remove()
        """
        return self._add_hook("_forward_pre_hooks", hook, prepend, with_kwargs=with_kwargs)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every ``forward``; a value it returns
        replaces the output (the next hook sees it). ``args`` are the positional inputs after
        the pre-hooks. With ``with_kwargs``: ``hook(module, args, kwargs, output)``;
        ``always_call``: also run (output None) when ``forward`` raises, the error then
        re-raised. As PyTorch; returns a handle whose ``.remove()`` unregisters it.

        >>> from nn import ReLU
        >>> layer, shapes = ReLU(), []
        >>> handle = layer.register_forward_hook(lambda m, args, out: shapes.append(out.shape))
        >>> _ = layer(engine.ones(2, 3))
        >>> shapes
        [(2, 3)]
        >>> handle.remove()
        """
        return self._add_hook("_forward_hooks", hook, prepend, with_kwargs=with_kwargs,
                              always_call=always_call)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` in each backward pass, when the gradient of the
        module's output has been computed (``grad_output``: a 1-tuple); a tuple it returns
        replaces the gradient that flows into the module. As PyTorch (one output tensor)."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` in each backward pass, once the
        gradients of the module's positional inputs are computed (``grad_input``: one entry
        per positional argument, PyTorch's: zeros for a tensor without a gradient, None for
        other arguments and for all when no input requires grad; ``grad_output``: a 1-tuple);
        a tuple it returns replaces grad_input. As PyTorch, for modules returning one tensor.

        >>> from nn import Linear
        >>> layer, seen = Linear(2, 1), []
        >>> _ = layer.register_full_backward_hook(
        ...     lambda m, gin, gout: seen.append((gin[0].shape, gout[0].shape)))
        >>> layer(engine.ones(3, 2, requires_grad=True)).sum().backward()
        >>> seen
        [((3, 2), (3, 1))]
        """
        return self._add_hook("_backward_hooks", hook, prepend)

    def register_backward_hook(self, hook):
        """PyTorch's deprecated non-full hook (it saw the last op's gradients, not the
        module's): refused, pointing at the full one."""
        raise NotImplementedError(
            f"{type(self).__name__}.register_backward_hook (deprecated in PyTorch, with "
            f"gradients of the module's last op) is not supported: use "
            f"register_full_backward_hook(hook), which PyTorch recommends")

    def _hooks_of_call(self, args, kwargs):
        """A ``_HookedCall`` for this call, or None once every hook was removed (the module
        then goes back to the plain call)."""
        d = self.__dict__
        pre, post = d.get("_forward_pre_hooks") or {}, d.get("_forward_hooks") or {}
        bw_pre, bw = d.get("_backward_pre_hooks") or {}, d.get("_backward_hooks") or {}
        if not pre and not post and not bw_pre and not bw:
            object.__setattr__(self, "_hooked", False)
            return None
        return _HookedCall(self, pre, post, args, kwargs,
                           (bw_pre, bw) if bw_pre or bw else None)

    # -- parameter names -------------------------------------------------------------------
    def name_parameters(self) -> None:
        """Name each Parameter by its dotted path from this module (``0.weight``,
        ``fc1.bias``) unless the user gave it a name, so that ``backward_steps`` and the
        pictures show where every parameter lives. Runs on every registration and at the end
        of a call when anything was registered since; the outermost model names last, so a
        name is always the full path from the model that contains the parameter."""
        for name, p in self.named_parameters():
            if not p.name or p.name == p.__dict__.get("_auto_name"):
                p.name = p._auto_name = name
        for _, m in self.named_modules():
            object.__setattr__(m, "_named_at", _NAMING[0])

    # -- traversal ---------------------------------------------------------------------------
    def named_modules(self, prefix=""):
        """(dotted name, module) for this module and every descendant, depth first."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = list(module._modules.items())
            for child_name, child in reversed(children):
                stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        """(name, child) for each direct sub-module, a module registered twice once."""
        seen = set()
        for name, m in self._modules.items():
            if id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        return (m for _, m in self.named_children())

    def _state_items(self):
        """(dotted name, Tensor) of every ``state_dict`` entry: parameters then buffers per
        module, depth first, and a module reachable by two paths under both (``s.p = l;
        s.q = l`` gives ``p.weight`` and ``q.weight``), as PyTorch's ``state_dict``. A module
        that contains itself is refused (its state dict would be infinite)."""
        stack = [("", self, ())]
        while stack:
            prefix, module, above = stack.pop()
            skip = module.__dict__.get("_non_persistent", ())  # register_buffer(persistent=)
            for name, t in chain(module._parameters.items(), module._buffers.items()):
                if name not in skip:
                    yield prefix + name, t
            above = above + (id(module),)
            for name, child in reversed(module._modules.items()):
                if id(child) in above:
                    raise ValueError(f"{type(self).__name__}: module '{prefix}{name}' "
                                     f"({type(child).__name__}) contains itself")
                stack.append((f"{prefix}{name}.", child, above))

    def _named_members(self, registry, prefix, recurse):
        """(dotted name, tensor) of one registry ('_parameters' or '_buffers') of this module
        and (``recurse``) its descendants, each shared tensor once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, t in module.__dict__[registry].items():
                if id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{mod_name}.{name}" if mod_name else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """(dotted name, Parameter), each shared Parameter once; ``recurse=False``: this
        module's own only (PyTorch's arguments)."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        """(dotted name, buffer), each shared buffer once (as ``named_parameters``), the
        non-persistent ones too (as PyTorch)."""
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    # -- modes -----------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def apply(self, fn) -> "Module":
        """PyTorch's order: each child's ``apply(fn)`` in registration order (its own children
        first), then ``fn(self)`` (post-order; a child registered twice in one module is
        visited once there, one shared by two modules once under each). Walks with a stack,
        so a deep model cannot overflow Python's recursion."""
        stack, above = [(self, False)], set()
        while stack:
            m, expanded = stack.pop()
            if expanded:
                above.discard(id(m))
                fn(m)
                continue
            above.add(id(m))
            stack.append((m, True))
            for child in reversed(list(m.children())):
                if id(child) in above:
                    raise ValueError(f"{type(self).__name__}.apply: module "
                                     f"{type(child).__name__} contains itself")
                stack.append((child, False))
        return self

    def to(self, *args, dtype=None, device=None, non_blocking=False) -> "Module":
        """``to(dtype)``: cast every parameter and floating-point buffer to ``dtype``, in
        place (the same Parameter objects, so an optimizer built before still holds them).
        ``to('cpu')`` / ``to(device='cpu')`` changes nothing (stepgrad runs on the CPU); any
        other device is refused. ``to(tensor)`` takes the tensor's dtype, as PyTorch."""
        dtype = to_args(f"{type(self).__name__}.to", args, dtype, device)
        if dtype is None:
            return self
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{type(self).__name__}.to: expected a dtype (engine.float32, "
                            f"np.float64, ...), a device ('cpu') or a Tensor, got "
                            f"{dtype!r}") from None
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: a floating point dtype, got {dtype}")
        for m in self.modules():  # remembered, so layers built later (Dense) follow it
            object.__setattr__(m, "dtype_", dtype)
        for _, t in list(self.named_parameters()) + list(self.named_buffers()):
            if t.dtype.kind == "f" and t.dtype != dtype:
                # (a lazy layer's uninitialized tensor: only the dtype it will be made in)
                t.data = np.empty(0, dtype) if is_lazy(t) else t.data.astype(dtype)
                t._vc.n += 1  # a graph that saved the old array must not use it
                if t.grad is not None:
                    t.grad = engine.from_numpy(t.grad.data.astype(dtype))
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    def half(self) -> "Module":
        return self.to(np.float16)

    def cpu(self) -> "Module":
        """This module: stepgrad runs on the CPU (PyTorch's ``model.cpu()``)."""
        return self

    def cuda(self, device=None):
        raise RuntimeError(f"{type(self).__name__}.cuda: stepgrad runs on the CPU only (numpy); "
                           f"drop the .cuda() call (or use .to(device) with device = 'cpu')")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: None (PyTorch's default), or zeros with
        ``set_to_none=False`` (a gradient that is None stays None, as PyTorch)."""
        from .optim.optimizers import zero_grads
        zero_grads(self.parameters(), set_to_none)

    def freeze(self) -> "Module":
        """Stop training these parameters: no gradient is computed for them, no optimizer
        updates them (the optimizers skip parameters without a gradient)."""
        for p in self.parameters():
            p.requires_grad = False
            p.grad = None
        return self

    def unfreeze(self) -> "Module":
        for p in self.parameters():
            p.requires_grad = True
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """PyTorch's way to freeze (False) or unfreeze (True) every parameter: ``freeze()`` /
        ``unfreeze()``."""
        return self.unfreeze() if requires_grad else self.freeze()

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Dotted name → a copy of the array, parameters then buffers per module (PyTorch
        order). As PyTorch's, a module or tensor reachable by two names is under both."""
        return OrderedDict((key, t.data.copy()) for key, t in self._state_items())

    def load_state_dict(self, state_dict, strict: bool = True) -> _IncompatibleKeys:
        """Copy arrays into the parameters and buffers in place; return PyTorch's named tuple
        ``(missing_keys, unexpected_keys)`` (both empty when ``strict``).

        Refuses, naming the key and both shapes, an entry whose shape differs; with
        ``strict`` also missing and unexpected keys (``nn.serialization.StateDictError``: a
        RuntimeError, as PyTorch's, and a KeyError or ValueError); a complex or non-numeric
        entry (``nn.serialization.check_state_dict``); two entries for one tensor (a shared
        module or tied weight, named twice) that differ, where PyTorch silently keeps the
        last. Everything is checked before the first copy. Accepts numpy arrays or anything
        with ``__array__`` (PyTorch tensors included, via ``.detach().numpy()``). A lazy
        layer not initialized yet (``nn.LazyLinear``...) takes its sizes from the state dict
        and becomes its eager layer, as PyTorch's.
        """
        own = OrderedDict(self._state_items())
        # A lazy layer not initialized yet (nn.LazyLinear...) takes its sizes from the state
        # dict, as PyTorch's: the eager layer it would become stands in for it in the checks,
        # and it becomes that layer (its own tensors materialized) only once all passed.
        twins, stand_in = [], {}
        for name, m in self.named_modules():
            make = getattr(m, "_twin_from_state", None)
            twin = make(state_dict, f"{name}." if name else "") if make is not None else None
            if twin is not None:
                twins.append((m, twin))
                theirs = dict(twin._state_items())
                stand_in.update((id(t), theirs[k]) for k, t in m._state_items())
        checked = OrderedDict((k, stand_in.get(id(t), t)) for k, t in own.items())
        # every entry checked before any copy
        arrays, missing, unexpected = check_state_dict(
            checked, state_dict, strict, who=f"load_state_dict for {type(self).__name__}")
        first = {}
        for key, value in arrays.items():
            other = first.setdefault(id(own[key]), key)
            if other != key and not np.array_equal(arrays[other], value,
                                                   equal_nan=value.dtype.kind in "fc"):
                raise ValueError(f"load_state_dict: {other!r} and {key!r} name the same tensor "
                                 f"(a module or parameter registered twice) but their values "
                                 f"differ")
        for m, twin in twins:
            m._become(twin)
        with engine.no_grad():  # all checked first: nothing is half-loaded
            for key, value in arrays.items():
                own[key].copy_(value)
        return _IncompatibleKeys(missing, unexpected)

    # -- display -------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self._modules.items())
        if not children:
            return lines[0] + ")"
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


def _renumber(container, modules) -> None:
    """Make ``modules`` the container's only sub-modules, named '0', '1', ...: a Sequential
    or a ModuleList after a deletion, a ModuleList after an insertion or a replacement."""
    for key in list(container._modules):
        delattr(container, key)  # (from __dict__ too: no stale attribute '3' after a delete)
    for i, m in enumerate(modules):
        container.add_module(str(i), m)


class Sequential(Module):
    """Layers applied in order; indexable; sub-module names are '0', '1', ..., or the keys of
    an ordered dict (PyTorch's ``Sequential(OrderedDict([('conv1', ...), ...]))``). A slice
    keeps the layers' names (``model[2:]`` has '2', '3', ...: the same state-dict keys as
    in the whole model, as PyTorch's). Keras's ``name=`` titles ``summary()``.

    >>> from nn import Linear, ReLU
    >>> model = Sequential(Linear(2, 4), ReLU(), Linear(4, 1))
    >>> model(engine.zeros(5, 2)).shape
    (5, 1)
    >>> list(model[1:].state_dict())
    ['2.weight', '2.bias']
    """

    def __init__(self, *layers, name=None):
        super().__init__()
        if name is not None:  # Keras's Sequential([...], name="...") titles its summary
            if not isinstance(name, str) or not name:
                raise ValueError(f"Sequential: name must be a non-empty string, got {name!r}")
            self.model_name = name
        if len(layers) == 1 and isinstance(layers[0], dict):
            named = list(layers[0].items())
        else:
            if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
                layers = tuple(layers[0])
            named = [(str(i), layer) for i, layer in enumerate(layers)]
        for i, (name, layer) in enumerate(named):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} ({name!r}) is a "
                                f"{type(layer).__name__}, not a Module")
            if not isinstance(name, str) or not name or "." in name:
                raise ValueError(f"Sequential: layer name {name!r} must be a non-empty string "
                                 "without '.'")
            self.add_module(name, layer)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(dict(list(self._modules.items())[i]))
        return list(self._modules.values())[i]

    def _key(self, i) -> str:
        """The name of layer ``i`` (an int, negative from the end), IndexError outside."""
        i, n = operator.index(i), len(self._modules)
        if not -n <= i < n:
            raise IndexError(f"Sequential: index {i} is out of range for {n} layers")
        return list(self._modules)[i % n]

    def __setitem__(self, i, layer) -> None:
        """Replace layer ``i``, keeping its name and place (PyTorch's ``model[0] = ...``)."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential: item {i} must be a Module, got {type(layer).__name__}")
        setattr(self, self._key(i), layer)

    def __delitem__(self, i) -> None:
        """Delete layer ``i`` or a slice of layers; the rest are renamed '0', '1', ... (even
        the layers of a Sequential built from an ordered dict), as PyTorch's."""
        keys = list(self._modules)[i] if isinstance(i, slice) else [self._key(i)]
        _renumber(self, [m for key, m in self._modules.items() if key not in keys])

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, layer: Module) -> "Sequential":
        self.add_module(str(len(self)), layer)
        return self


class ModuleList(Module):
    """A list of Modules, registered (named '0', '1', ...) so their parameters are the
    container's; indexable and iterable. It has no forward: the module holding it calls the
    layers (PyTorch's ``nn.ModuleList``).

    >>> from nn import Linear
    >>> layers = ModuleList([Linear(2, 2) for _ in range(3)])
    >>> len(layers), len(list(layers.parameters()))
    (3, 6)
    """

    def __init__(self, modules=None):
        super().__init__()
        self.extend(modules or [])

    def _check(self, module, where):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: {where} is a {type(module).__name__}, not a Module")
        return module

    def _items(self):
        return list(self._modules.values())

    def __getitem__(self, i):
        items = self._items()
        return ModuleList(items[i]) if isinstance(i, slice) else items[i]

    def __setitem__(self, i, module):
        items = self._items()
        items[i] = self._check(module, f"item {i}")
        _renumber(self, items)

    def __delitem__(self, i):
        items = self._items()
        del items[i]
        _renumber(self, items)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._items())

    def append(self, module) -> "ModuleList":
        self.add_module(str(len(self)), self._check(module, "the appended item"))
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module) -> None:
        items = self._items()
        items.insert(index, self._check(module, "the inserted item"))
        _renumber(self, items)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: call its layers in your own "
                                  "module's forward (for layer in self.layers: x = layer(x))")


class _NamedItems:
    """A dict's methods over one of a Module's registries (``_registry``: '_modules' or
    '_parameters'), for ModuleDict and ParameterDict; ``__setitem__`` is each one's own."""

    _registry = ""

    def _items(self):
        return self.__dict__[self._registry]

    def __getitem__(self, key):
        return self._items()[key]

    def __delitem__(self, key):
        if key not in self._items():
            raise KeyError(key)
        delattr(self, key)

    def __contains__(self, key):
        return key in self._items()

    def __len__(self):
        return len(self._items())

    def __iter__(self):
        return iter(self._items())

    def keys(self):
        return self._items().keys()

    def values(self):
        return self._items().values()

    def items(self):
        return self._items().items()

    def update(self, entries) -> None:
        for key, value in (entries.items() if hasattr(entries, "items") else entries):
            self[key] = value

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward: pick its entries by "
                                  f"name in your own module's forward")


class ModuleDict(_NamedItems, Module):
    """Modules by name, registered so their parameters are the container's (PyTorch's
    ``nn.ModuleDict``); a dict's methods, no forward.

    >>> from nn import Linear
    >>> heads = ModuleDict({"a": Linear(2, 1), "b": Linear(2, 3)})
    >>> list(heads), heads["b"].out_features
    (['a', 'b'], 3)
    """

    _registry = "_modules"

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {key!r} is a {type(module).__name__}, not a Module")
        self.add_module(str(key), module)


def _as_parameter(who, value):
    """What a ParameterList/ParameterDict stores: a Parameter as is, a Tensor or array made a
    Parameter (PyTorch wraps plain tensors the same way)."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value.data, requires_grad=True, dtype=value.dtype)
    if isinstance(value, np.ndarray):
        return Parameter(value, dtype=value.dtype if value.dtype.kind == "f" else None)
    raise TypeError(f"{who}: expected a Parameter or a Tensor, got {type(value).__name__}")


class ParameterList(Module):
    """A list of Parameters, registered (named '0', '1', ...) so they are the module's
    (PyTorch's ``nn.ParameterList``); a plain Tensor becomes a Parameter. No forward.

    >>> import engine
    >>> ps = ParameterList([Parameter(engine.zeros(2)), engine.ones(3)])
    >>> [tuple(p.shape) for p in ps], [name for name, _ in ps.named_parameters()]
    ([(2,), (3,)], ['0', '1'])
    """

    def __init__(self, values=None):
        super().__init__()
        self.extend(values or [])

    def __getitem__(self, i):
        items = list(self._parameters.values())
        return ParameterList(items[i]) if isinstance(i, slice) else items[i]

    def __setitem__(self, i, value):
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"ParameterList: index {i} out of range for {n} parameters")
        setattr(self, str(i % n), _as_parameter("ParameterList", value))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def append(self, value) -> "ParameterList":
        setattr(self, str(len(self)), _as_parameter("ParameterList", value))
        return self

    def extend(self, values) -> "ParameterList":
        for v in values:
            self.append(v)
        return self

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList has no forward: use its parameters in your "
                                  "own module's forward")


class ParameterDict(_NamedItems, Module):
    """Parameters by name, registered so they are the module's (PyTorch's
    ``nn.ParameterDict``); a plain Tensor becomes a Parameter; a dict's methods, no forward."""

    _registry = "_parameters"

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key, value):
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ParameterDict: keys are names without dots, got {key!r}")
        setattr(self, key, _as_parameter("ParameterDict", value))
