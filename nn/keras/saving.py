"""Whole-model files: the architecture as data, the weights, the training configuration.

``model.save(path)`` / ``nn.load_model(path)`` use ``nn.save``'s format (a zip of a JSON
manifest and ``.npy`` arrays, written atomically, never pickled) holding one dict::

    {'stepgrad_model': 1,
     'architecture': {'module': 'Sequential', 'config': {'layers': [
                         {'module': 'Dense', 'config': {'units': 16, ...}}, ...]}},
     'model': model.state_dict(),
     'frozen': [names of parameters with requires_grad=False],
     'compile': {'loss': 'mse', 'metrics': ['mae'], 'optimizer': 'KerasAdam',
                 'optimizer_config': {'lr': ..., ...}, 'param_names': [[...]]},  # if compiled
     'optimizer': optimizer.state_dict()}                                       # if compiled

The architecture is a tree of layer class NAMES and their constructor arguments (numbers,
strings, tuples, lists, None): loading looks each name up in a registry of stepgrad's
layer classes (plus ``custom_objects``) and calls the class with those arguments. Nothing
in a file is ever executed. A layer's arguments come from its ``get_config()``; the default
reads the attributes named after the ``__init__`` parameters (``Linear(in_features,
out_features, bias)`` keeps ``self.in_features``...), so a custom layer that stores its
arguments that way saves as is; others define ``get_config()``.

``ModelCheckpoint`` files hold the same 'model' / 'architecture' / 'compile' /
'optimizer' entries (plus 'epoch' and 'rng'), so ``nn.load_model`` reads them too. The
optimizer is rebuilt from its class name: one of ``nn.optim``'s (PyTorch's rules) or of
``nn.keras.optimizers``' built ones (``KerasSGD``, ``KerasAdam``...: Keras's rules, what a
recipe or a name given to ``compile`` becomes).
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from engine import Tensor

__all__ = ["save_model", "load_model", "model_config", "from_config", "training_config"]

FORMAT_KEY, FORMAT_VERSION = "stepgrad_model", 1


class UnsavableArchitecture(ValueError):
    """The model's architecture cannot be written as data (the message says why)."""


# ------------------------------------------------------------------------------ registry
def _registry():
    """Layer class name → class, for every layer stepgrad ships."""
    from .. import layers as L
    from ..module import Module, Sequential
    from . import layers as K
    classes = [getattr(L, name) for name in L.__all__ if isinstance(getattr(L, name), type)]
    classes += [Sequential, Module]
    # nn.keras.layers' classes (LSTM is nn.layers' KerasLSTM, Embedding KerasEmbedding, ...)
    classes += [getattr(K, name) for name in K.__all__ if isinstance(getattr(K, name), type)]
    from .. import models
    classes += [c for c in vars(models).values()
                if isinstance(c, type) and c.__module__ == models.__name__]
    return {c.__name__: c for c in classes if issubclass(c, Module)}


# ------------------------------------------------------------------------------ configs
_DERIVED = {
    # constructor arguments kept as something else than an attribute of their own name
    "bias": lambda m: (m.bias is not None) if isinstance(getattr(m, "bias", 0), (Tensor,
                                                                                   type(None)))
    else (m._p("bias_ih") is not None),
    "affine": lambda m: m.weight is not None,
    "dim": lambda m: None,  # Softmax(dim=) is stored as axis
}


def constructor_config(module) -> dict:
    """The constructor arguments of ``module``, read from the attributes named after the
    parameters of ``type(module).__init__`` (see the module docstring)."""
    cls = type(module)
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        params = {}
    config = {}
    for name, p in list(params.items())[1:]:  # skip self
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise UnsavableArchitecture(
                f"{cls.__name__}: its __init__ takes *{name}; define get_config() returning "
                "the constructor arguments")
        if name in module.__dict__ and name not in _DERIVED:
            value = module.__dict__[name]
        elif name in _DERIVED and (name != "bias" or hasattr(module, "bias")
                                   or hasattr(module, "_p")):
            value = _DERIVED[name](module)
            if value is None:
                continue
        elif p.default is None:
            continue
        else:
            raise UnsavableArchitecture(
                f"{cls.__name__}: its constructor argument {name!r} is not kept as "
                f"self.{name}, so it cannot be read back; keep it, or define get_config() "
                "returning the constructor arguments")
        config[name] = value
    return config


def initialized_config(layer) -> dict:
    """``constructor_config(layer)`` with its kernel and bias initializers written as data
    (the layers that draw their weights with Keras's initializers: Dense, Conv2D)."""
    from . import initializers
    config = constructor_config(layer)
    config["kernel_initializer"] = initializers.serialize(layer._inits[0],
                                                          layer.kernel_initializer)
    config["bias_initializer"] = initializers.serialize(layer._inits[1],
                                                        layer.bias_initializer)
    return config


def _encode_value(value, where):
    """A constructor argument as data: numbers, strings, None, tuples/lists/dicts of
    them, and Modules (as nested layer configs)."""
    from ..module import Module
    if isinstance(value, Module):
        return model_config(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        items = [_encode_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encode_value(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise UnsavableArchitecture(f"{where} is a {type(value).__name__} ({value!r:.60}), which "
                                "cannot be saved as data")


def model_config(model) -> dict:
    """``{'module': class name, 'config': {argument: value}}``, nested for containers."""
    from ..module import Sequential
    cls = type(model)
    if cls is Sequential:
        name = {"name": model.model_name} if "model_name" in model.__dict__ else {}
        return {"module": "Sequential",
                "config": {"layers": [model_config(layer) for layer in model], **name}}
    get_config = getattr(model, "get_config", None)
    config = get_config() if callable(get_config) else constructor_config(model)
    if not isinstance(config, dict):
        raise UnsavableArchitecture(f"{cls.__name__}.get_config() returned a "
                                    f"{type(config).__name__}, not a dict")
    return {"module": cls.__name__,
            "config": {k: _encode_value(v, f"{cls.__name__}.{k}") for k, v in config.items()}}


def _decode_value(value, classes):
    if isinstance(value, dict) and set(value) == {"module", "config"}:
        return from_config(value, classes)
    if isinstance(value, (tuple, list)):
        items = [_decode_value(v, classes) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {k: _decode_value(v, classes) for k, v in value.items()}
    return value


def from_config(config, custom_objects=None):
    """Build the model a ``model_config`` describes (fresh weights)."""
    classes = custom_objects if isinstance(custom_objects, _Classes) else \
        _Classes(custom_objects)
    if not isinstance(config, dict) or not isinstance(config.get("module"), str) \
            or not isinstance(config.get("config"), dict):
        raise ValueError(f"not a layer config: {config!r:.80}")
    name, args = config["module"], config["config"]
    cls = classes.get(name)
    if name == "Sequential" and cls is classes.registry.get("Sequential"):
        return cls(*[from_config(c, classes) for c in args.get("layers", [])],
                   name=args.get("name"))
    kwargs = {k: _decode_value(v, classes) for k, v in args.items()}
    build = getattr(cls, "from_config", None)
    return build(kwargs) if callable(build) else cls(**kwargs)


class _Classes:
    """``custom_objects`` first, then stepgrad's registry."""

    def __init__(self, custom_objects):
        self.custom = dict(custom_objects or {})
        self.registry = _registry()

    def get(self, name):
        cls = self.custom.get(name) or self.registry.get(name)
        if cls is None:
            raise ValueError(f"load_model: the file's architecture uses the layer class "
                             f"{name!r}, which is not one of stepgrad's; pass "
                             f"custom_objects={{{name!r}: {name}}}")
        return cls


# ------------------------------------------------------------------------- training config
def _function_name(fn):
    """A loss/metric as data: its name when it is a name, an nn.functional function or a
    ``nn.keras.losses`` function; ``{'class_name', 'config', 'module'}`` for an
    ``nn.keras.losses`` / ``nn.keras.metrics`` object."""
    from .. import functional as F
    from . import losses, metrics
    if isinstance(fn, str):
        return fn
    for module in (losses, metrics):
        if module.CLASSES.get(type(fn).__name__) is type(fn):
            return {"class_name": type(fn).__name__, "config": fn.get_config(),
                    "module": module.__name__.rsplit(".", 1)[1]}
    name = getattr(fn, "__name__", None)
    if name and getattr(F, name, None) is fn:
        return "nn.functional." + name
    if name and getattr(losses, name, None) is fn:
        return "nn.keras.losses." + name
    return None


def _function_from_name(name):
    from .. import functional as F
    from . import losses, metrics
    if isinstance(name, dict):
        module = {"losses": losses, "metrics": metrics}.get(name.get("module"))
        if module is None:
            raise ValueError(f"load_model: unknown loss or metric entry {name!r:.80}")
        return module.get(name)
    if isinstance(name, str) and name.startswith("nn.functional."):
        return getattr(F, name[len("nn.functional."):])
    if isinstance(name, str) and name.startswith("nn.keras.losses."):
        return getattr(losses, name[len("nn.keras.losses."):])
    return name


def training_config(model, optimizer, loss, metrics):
    """The 'compile' entry, or (None, why) when part of it is a function of the user's."""
    loss_name = _function_name(loss)
    metric_names = [_function_name(m) for m in metrics]
    if loss_name is None or None in metric_names:
        bad = loss if loss_name is None else metrics[metric_names.index(None)]
        return None, (f"the loss or metric {bad!r} is a function, which cannot be saved as "
                      "data")
    config = {"loss": loss_name, "metrics": metric_names}
    if optimizer is not None and hasattr(optimizer, "param_groups"):
        from .. import optim
        from ..optim.optimizers import SCHEDULER_KEYS
        from .optimizers import RULES
        cls = type(optimizer)
        if getattr(optim, cls.__name__, None) is not cls and RULES.get(cls.__name__) is not cls:
            return None, (f"the optimizer is a {cls.__name__}, not one of nn.optim's or "
                          "nn.keras.optimizers' (KerasSGD, KerasAdam, ...)")
        names = {id(p): n for n, p in model.named_parameters()}
        groups = optimizer.param_groups
        try:
            param_names = [[names[id(p)] for p in g["params"]] for g in groups]
        except KeyError:
            return None, "the optimizer holds parameters that are not the model's"
        config["optimizer"] = cls.__name__
        # the constructor's hyper-parameters: not the params, nor a scheduler's bookkeeping
        config["optimizer_config"] = {k: v for k, v in groups[0].items()
                                      if k != "params" and k not in SCHEDULER_KEYS}
        config["param_names"] = param_names
    return config, None


def _rebuild_optimizer(model, config, state):
    from .. import optim
    from .optimizers import RULES
    cls = RULES.get(config["optimizer"], getattr(optim, config["optimizer"], None))
    if not (isinstance(cls, type) and issubclass(cls, optim.Optimizer)):
        raise ValueError(f"load_model: unknown optimizer {config['optimizer']!r}")
    params = dict(model.named_parameters())
    groups = [{"params": [params[n] for n in names]} for names in config["param_names"]]
    opt = cls(groups if len(groups) > 1 else groups[0]["params"], **config["optimizer_config"])
    if state is not None:
        opt.load_state_dict(state)
    return opt


def _cast(model, dtype):
    """Parameters and float buffers to ``dtype`` (``Module.to`` when the Module has it)."""
    to = getattr(model, "to", None)
    if callable(to):
        to(dtype)
        return
    from ..module import Parameter
    for module in model.modules():
        for name, p in list(module._parameters.items()):
            if p is not None and p.dtype != dtype:
                setattr(module, name, Parameter(p.data.astype(dtype),
                                                requires_grad=p.requires_grad))
        for name, b in list(module._buffers.items()):
            if b.dtype.kind == "f" and b.dtype != dtype:
                module.register_buffer(name, b.data.astype(dtype))


# ------------------------------------------------------------------------------ save / load
def model_file_entries(model):
    """The entries every whole-model file has: architecture (or why not), frozen, compile."""
    if callable(getattr(model, "_keras_build", None)):
        model._keras_build()  # a never-called Sequential([Input(shape), ...]) has weights to save
    entries = {}
    try:
        entries["architecture"] = model_config(model)
    except UnsavableArchitecture as e:
        entries["architecture_error"] = str(e)
    entries["frozen"] = [n for n, p in model.named_parameters() if not p.requires_grad]
    entries["training"] = bool(model.training)  # eval mode (dropout off, BN running stats)
    state = model.__dict__.get("_keras_compiled")
    if state is not None:
        optimizer = model.__dict__.get("optimizer")
        built = optimizer if hasattr(optimizer, "param_groups") else None
        config, why = training_config(model, built, state["loss"], state["metrics"])
        if config is not None:
            entries["compile"] = config
            if built is not None:
                entries["optimizer"] = built.state_dict()
        else:
            entries["compile_error"] = why
    return entries


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Write the whole model (see the module docstring) to ``filepath``, atomically."""
    import os

    from ..serialization import save
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"model.save: {filepath} exists (overwrite=False)")
    entries = model_file_entries(model)
    if "architecture_error" in entries:
        raise UnsavableArchitecture(
            f"model.save: {entries['architecture_error']}. To keep the weights only: "
            "nn.save(model.state_dict(), path), and rebuild the model in code")
    if "compile_error" in entries:
        warnings.warn(f"model.save: {entries.pop('compile_error')}; the file holds no "
                      "training configuration: compile the loaded model again", stacklevel=3)
    if not include_optimizer:
        entries.pop("optimizer", None)
    save({FORMAT_KEY: FORMAT_VERSION, "model": model.state_dict(), **entries}, filepath)


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild the model saved by ``model.save`` (or a ``ModelCheckpoint`` file): the same
    layers, weights (dtype included), frozen parameters and, with ``compile``, the loss,
    metrics and optimizer with its state, ready to ``fit`` on.

    ``custom_objects={'Net': Net}`` supplies layer classes that are not stepgrad's."""
    from ..serialization import load
    data = load(filepath)
    if not isinstance(data, dict) or "model" not in data:
        raise ValueError(f"load_model: {filepath} is not a model file (no 'model' entry)")
    if "architecture" not in data:
        why = data.get("architecture_error", "it holds weights only")
        raise ValueError(f"load_model: {filepath} has no architecture ({why}); rebuild the "
                         "model in code and load the weights with "
                         "model.load_state_dict(nn.load(path)['model'])")
    model = from_config(data["architecture"], custom_objects)
    state = data["model"]
    own = model.state_dict()
    floats = {v.dtype for k, v in state.items() if k in own and v.dtype.kind == "f"}
    if len(floats) == 1:
        dtype = floats.pop()
        if any(v.dtype != dtype for v in own.values() if v.dtype.kind == "f"):
            _cast(model, dtype)
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError) as e:
        raise ValueError(f"load_model: {filepath}: the rebuilt architecture does not match "
                         f"the saved weights ({e})") from None
    frozen = set(data.get("frozen", []))
    for name, p in model.named_parameters():
        if name in frozen:
            p.requires_grad = False
    training = data.get("training", True)
    if not isinstance(training, bool):
        raise ValueError(f"load_model: {filepath}: entry 'training' must be true or false")
    model.train(training)  # back in the mode it was saved in
    if compile and data.get("compile") is not None:
        config = data["compile"]
        optimizer = None
        if "optimizer" in config:
            optimizer = _rebuild_optimizer(model, config, data.get("optimizer"))
        model.compile(optimizer=optimizer if optimizer is not None else "rmsprop",
                      loss=_function_from_name(config["loss"]),
                      metrics=[_function_from_name(m) for m in config["metrics"]])
    return model
