"""Module, Parameter, Sequential: PyTorch's containers, built on engine's public API.

A Module registers, by attribute assignment, its Parameters (trainable Tensors), its
sub-Modules and its buffers (arrays that are state but not trained, e.g. BatchNorm's running
statistics). ``state_dict()`` names them with dotted paths (``features.0.weight``) exactly as
PyTorch does, so a PyTorch state dict of the same architecture loads.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

import engine
from engine import Tensor

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

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration by attribute --------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attributes")
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)
        if isinstance(value, (Parameter, Module)):
            _NAMING[0] += 1
            self.name_parameters()

    def __delattr__(self, name):
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value) -> None:
        """State that is saved and loaded but not trained (a Tensor without grad)."""
        t = value if isinstance(value, Tensor) else Tensor(value)
        object.__setattr__(self, name, t)
        self._buffers[name] = t

    def add_module(self, name: str, module: "Module") -> None:
        setattr(self, name, module)

    # -- calling ---------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if args and _symbolic(args[0]):  # Keras's Functional API: record the call, run nothing
            from .keras.functional import record_call
            return record_call(self, args, kwargs)
        with engine.module_scope(self):  # lets ops record which module made them
            out = self.forward(*args, **kwargs)
        if self.__dict__.get("_named_at") != _NAMING[0]:
            self.name_parameters()  # a layer built its weights lazily, or joined a new model
        return out

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
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter), each shared Parameter once."""
        seen = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        for mod_name, module in self.named_modules():
            for name, b in module._buffers.items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    # -- modes -----------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every sub-module, then on this one (PyTorch's order)."""
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    def to(self, dtype) -> "Module":
        """Cast every parameter and floating-point buffer to ``dtype``, in place (the same
        Parameter objects, so an optimizer built before still holds them)."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: a floating point dtype, got {dtype}")
        for m in self.modules():  # remembered, so layers built later (Dense) follow it
            object.__setattr__(m, "dtype_", dtype)
        for _, t in list(self.named_parameters()) + list(self.named_buffers()):
            if t.dtype.kind == "f" and t.dtype != dtype:
                t.data = t.data.astype(dtype)
                t._vc.n += 1  # a graph that saved the old array must not use it
                if t.grad is not None:
                    t.grad = engine.from_numpy(t.grad.data.astype(dtype))
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

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
        """Dotted name → a copy of the array, parameters then buffers per module (PyTorch order)."""
        out = OrderedDict()
        for mod_name, module in self.named_modules():
            for name, t in list(module._parameters.items()) + list(module._buffers.items()):
                out[f"{mod_name}.{name}" if mod_name else name] = t.data.copy()
        return out

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers in place.

        Refuses, naming the key and both shapes, an entry whose shape differs; with
        ``strict`` also missing and unexpected keys (KeyError); a complex or non-numeric
        entry (``nn.serialization.check_state_dict``). Everything is checked before the
        first copy. Accepts numpy arrays or anything with ``__array__`` (PyTorch tensors
        included, via ``.detach().numpy()``).
        """
        own = OrderedDict()
        for mod_name, module in self.named_modules():
            for name, t in list(module._parameters.items()) + list(module._buffers.items()):
                own[f"{mod_name}.{name}" if mod_name else name] = t
        arrays = check_state_dict(own, state, strict)  # every entry, before any copy
        with engine.no_grad():  # all checked first: nothing is half-loaded
            for key, value in arrays.items():
                own[key].copy_(value)

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


class Sequential(Module):
    """Layers applied in order; indexable; sub-module names are '0', '1', ..., or the keys of
    an ordered dict (PyTorch's ``Sequential(OrderedDict([('conv1', ...), ...]))``). A slice
    keeps the layers' names (``model[2:]`` has '2', '3', ...: the same state-dict keys as
    in the whole model, as PyTorch's).

    >>> from nn import Linear, ReLU
    >>> model = Sequential(Linear(2, 4), ReLU(), Linear(4, 1))
    >>> model(engine.zeros(5, 2)).shape
    (5, 1)
    >>> list(model[1:].state_dict())
    ['2.weight', '2.bias']
    """

    def __init__(self, *layers):
        super().__init__()
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

    def _renumber(self, items):
        for key in list(self._modules):
            del self._modules[key]
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def __getitem__(self, i):
        items = self._items()
        return ModuleList(items[i]) if isinstance(i, slice) else items[i]

    def __setitem__(self, i, module):
        items = self._items()
        items[i] = self._check(module, f"item {i}")
        self._renumber(items)

    def __delitem__(self, i):
        items = self._items()
        del items[i]
        self._renumber(items)

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
        self._renumber(items)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: call its layers in your own "
                                  "module's forward (for layer in self.layers: x = layer(x))")


class ModuleDict(Module):
    """Modules by name, registered so their parameters are the container's (PyTorch's
    ``nn.ModuleDict``); a dict's methods, no forward.

    >>> from nn import Linear
    >>> heads = ModuleDict({"a": Linear(2, 1), "b": Linear(2, 3)})
    >>> list(heads), heads["b"].out_features
    (['a', 'b'], 3)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {key!r} is a {type(module).__name__}, not a Module")
        self.add_module(str(key), module)

    def __delitem__(self, key):
        del self._modules[key]

    def __contains__(self, key):
        return key in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        for key, module in (modules.items() if hasattr(modules, "items") else modules):
            self[key] = module

    def pop(self, key):
        return self._modules.pop(key)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: pick its layers by name in "
                                  "your own module's forward")
