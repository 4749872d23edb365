"""Weights and models to and from the rest of the ecosystem: safetensors, PyTorch, ONNX.

- :func:`save_safetensors` / :func:`load_safetensors`: a state dict as a ``.safetensors``
  file (the format PyTorch, JAX and Hugging Face read; no pickle). Needs ``safetensors``.
- :func:`to_torch` / :func:`from_torch`: the same network as a ``torch.nn`` module, with
  the same weights, and back. stepgrad's state-dict names and layouts are PyTorch's, so
  the weights go across unchanged. Needs ``torch``.
- :func:`export_onnx`: an ONNX graph of the model, built by walking the module tree (one
  ONNX node, or a few, per layer); run it with ``onnxruntime``. Needs ``onnx``.

Each is imported on first use; without the package, one ``ImportError`` line says what to
install (``pip install 'stepgrad[interchange]'`` gives safetensors and onnx).

Layers with an equivalent: ``Linear Conv2d MaxPool2d AvgPool2d GlobalAvgPool2d Flatten
BatchNorm1d BatchNorm2d Dropout ReLU LeakyReLU Sigmoid Tanh Softmax Identity`` (and for
PyTorch also ``Conv3d MaxPool3d AvgPool3d BatchNorm3d RNN LSTM GRU RNNCell LSTMCell GRUCell
Embedding EmbeddingBag LayerNorm GroupNorm InstanceNorm1d/2d/3d Dropout2d Dropout3d
AlphaDropout Unflatten GELU ELU SELU SiLU Mish Softplus LogSoftmax PReLU Hardtanh ReLU6
Softmax2d PixelShuffle PixelUnshuffle ZeroPad2d ReflectionPad2d ReplicationPad2d
ConstantPad2d GLU Softshrink Hardshrink Tanhshrink LocalResponseNorm RReLU RMSNorm Unfold
Fold``, and Conv2d's and Conv3d's ``padding_mode``), in ``Sequential`` containers. A
module with its own ``forward`` (a subclass, a custom block) cannot be translated from its
code: the functions refuse it by name rather than guess.
"""
from __future__ import annotations

import importlib
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

import engine
from engine.fast.conv import same_padding  # TensorFlow's rule, as engine.conv2d

from . import layers as L
from .files import atomic_write
from .module import Module, Parameter, Sequential, check_built
from .serialization import state_tensors

__all__ = ["save_safetensors", "load_safetensors", "to_torch", "from_torch", "export_onnx"]

_EXTRA = {"safetensors": "interchange", "onnx": "interchange", "torch": None}


def _require(name: str, who: str):
    """Import an optional package, or one ImportError line saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        extra = _EXTRA.get(name.split(".")[0])
        also = f" (or pip install 'stepgrad[{extra}]')" if extra else ""
        raise ImportError(f"nn.{who} needs the '{name.split('.')[0]}' package, which is not "
                          f"installed: pip install {name.split('.')[0]}{also}") from None


# ---------------------------------------------------------------------------- safetensors
def _state_of(model_or_state_dict, who):
    if isinstance(model_or_state_dict, Module):
        return model_or_state_dict.state_dict()
    if not hasattr(model_or_state_dict, "items"):
        raise TypeError(f"nn.{who}: expected a Module or a state dict (name → array), got "
                        f"{type(model_or_state_dict).__name__}")
    return model_or_state_dict


def save_safetensors(model_or_state_dict, path) -> Path:
    """Write a model's ``state_dict()`` (or a dict name → array) as a ``.safetensors``
    file, atomically. Values must be arrays (or Tensors) of a numeric dtype; names str.

    >>> import os, tempfile, nn
    >>> model = nn.Linear(3, 2)
    >>> path = save_safetensors(model, os.path.join(tempfile.mkdtemp(), "w.safetensors"))
    >>> sorted(load_safetensors(path))
    ['bias', 'weight']
    """
    st = _require("safetensors.numpy", "save_safetensors")
    arrays = {}
    for key, value in _state_of(model_or_state_dict, "save_safetensors").items():
        if not isinstance(key, str):
            raise TypeError(f"nn.save_safetensors: names must be str, got {key!r}")
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"nn.save_safetensors: {key!r} has dtype {arr.dtype}; "
                            "safetensors holds numbers only")
        # (np.ascontiguousarray would make a 0-d entry, BatchNorm's counter, shape (1,))
        arrays[key] = np.require(arr, requirements="C")
    data = st.save(arrays)  # no metadata: Hugging Face refuses a "format" it does not know

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)

    return atomic_write(path, write, who="nn.save_safetensors")


def load_safetensors(path) -> "OrderedDict[str, np.ndarray]":
    """Read a ``.safetensors`` file (from stepgrad, PyTorch, Hugging Face, ...) as an
    ordered dict name → numpy array, ready for ``model.load_state_dict``. A damaged or
    foreign file raises one ``ValueError`` naming it."""
    st = _require("safetensors.numpy", "load_safetensors")
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    try:
        arrays = st.load(data)
    except Exception as e:  # safetensors raises its own SafetensorError (and others)
        raise ValueError(f"{path}: not a readable safetensors file ({type(e).__name__}: "
                         f"{e})") from None
    return OrderedDict((k, np.array(v)) for k, v in arrays.items())  # writable copies


# ---------------------------------------------------------------------------- module walk
def _known(module, table, who):
    """The class in ``table`` that ``module`` is, provided its forward is that class's."""
    for cls in type(module).__mro__:
        if cls in table:
            if type(module).forward is not cls.forward:
                raise TypeError(f"nn.{who}: {type(module).__name__} overrides forward() of "
                                f"{cls.__name__}; its computation cannot be translated")
            return cls
    return None


def _pair(v, n=2):
    """An int-or-sequence argument as an n-tuple of ints (a pair by default)."""
    return (int(v),) * n if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)


# --------------------------------------------------------------------------------- torch
def to_torch(model):
    """The equivalent ``torch.nn`` module, with the same weights (and ``requires_grad``
    flags, and train/eval modes): ``to_torch(m)(x)`` equals ``m(x)`` to float rounding.

    ``Sequential`` becomes ``torch.nn.Sequential`` with the same child names, so state
    dicts agree key for key. Differences that are PyTorch's: recurrent layers return their
    final state with a leading layer axis, ``(1, N, H)``; ``GlobalAvgPool2d`` becomes
    ``Sequential(AdaptiveAvgPool2d(1), Flatten())``. Refused, by name: modules with their
    own ``forward`` (translate those by hand), ``stateful=True`` recurrent layers,
    ``Conv2d(padding='same')`` with stride > 1 (its padding depends on the input size).
    """
    check_built(model, "nn.to_torch")  # a lazy layer has no sizes to give torch yet
    torch = _require("torch", "to_torch")
    out = _torch_module(model, torch, "")
    with torch.no_grad():
        own = state_tensors(model)
        for key, t in own.items():
            prefix, _, leaf = key.rpartition(".")
            owner = out.get_submodule(prefix)
            theirs = getattr(owner, leaf, None)
            if theirs is None or tuple(theirs.shape) != tuple(t.shape):
                raise RuntimeError(f"nn.to_torch: {key} of shape {t.shape} has no counterpart "
                                   f"in the torch module (a bug: please report it)")
            value = torch.from_numpy(np.array(t.data))  # a copy: the models are independent
            if isinstance(theirs, torch.nn.Parameter):
                value = torch.nn.Parameter(value, requires_grad=bool(t.requires_grad))
            setattr(owner, leaf, value)
    extra = set(out.state_dict()) - set(own)  # (BatchNorm's num_batches_tracked: both have it)
    if extra:
        raise RuntimeError(f"nn.to_torch: torch module has entries {sorted(extra)} that "
                           "stepgrad's has not (a bug: please report it)")
    for name, m in model.named_modules():
        out.get_submodule(name).train(m.training)
    return out


def _torch_module(m, torch, where):
    tnn = torch.nn
    name = where or type(m).__name__
    if type(m) is Sequential or (isinstance(m, Sequential)
                                 and type(m).forward is Sequential.forward):
        seq = tnn.Sequential()
        for child_name, child in m.named_children():
            seq.add_module(child_name, _torch_module(child, torch,
                                                    f"{where}.{child_name}" if where
                                                    else child_name))
        return seq
    kind = _known(m, _TO_TORCH, "to_torch")
    if kind is None:
        raise TypeError(f"nn.to_torch: {name} is a {type(m).__name__}, which has no torch.nn "
                        "equivalent here (Sequential of "
                        f"{', '.join(sorted(c.__name__ for c in _TO_TORCH))}); translate "
                        "its forward() by hand, e.g. a torch.nn.Module holding to_torch() "
                        "of its children")
    if getattr(m, "stateful", False):
        raise TypeError(f"nn.to_torch: {name} is stateful=True, which torch.nn has not (it "
                        "keeps no state between calls): pass the state explicitly")
    return _TO_TORCH[kind](m, tnn, name)


def _conv_to_torch(m, tnn, name):
    """torch.nn.Conv2d or Conv3d (the class of the same name)."""
    kind, n = type(m).__name__, len(m.kernel_size)
    padding = m.padding
    if isinstance(padding, str):
        padding = padding.lower()
        if padding == "same" and _pair(m.stride, n) != (1,) * n:
            raise TypeError(f"nn.to_torch: {name}: padding='same' with stride {m.stride} "
                            f"depends on the input size (torch.nn.{kind} allows it only with "
                            "stride 1): give explicit padding")
    else:
        padding = _pair(padding, n)
    return getattr(tnn, kind)(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride,
                      padding=padding, dilation=m.dilation, groups=m.groups,
                      bias=m.bias is not None, padding_mode=m.padding_mode)


def _recurrent_to_torch(m, tnn, name):
    """torch.nn.RNN/LSTM/GRU or its cell (same class names), with m's bias, layout and (for
    the Elman ones) nonlinearity."""
    kind = _known(m, _TO_TORCH, "")
    cls = getattr(tnn, kind.__name__)
    cell = kind in (L.RNNCell, L.LSTMCell, L.GRUCell)
    kw = dict(bias=(m.bias_ih if cell else m.bias_ih_l0) is not None)
    if not cell:
        kw.update(batch_first=m.batch_first, num_layers=m.num_layers, dropout=m.dropout,
                  bidirectional=m.bidirectional)
    if kind in (L.RNN, L.RNNCell):
        if m.nonlinearity not in ("tanh", "relu"):
            raise TypeError(f"nn.to_torch: {name}: torch.nn.{cls.__name__} has no nonlinearity "
                            f"{m.nonlinearity!r} (only 'tanh' and 'relu')")
        kw["nonlinearity"] = m.nonlinearity
    return cls(m.input_size, m.hidden_size, **kw)


def _has_bias(m):
    """A norm layer's ``bias`` keyword (PyTorch 2's): False only for a scale without shift."""
    return m.weight is None or m.bias is not None


def _bn_to_torch(m, tnn, name):
    cls = getattr(tnn, _known(m, _TO_TORCH, "to_torch").__name__)  # BatchNorm1d/2d/3d
    return cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.weight is not None,
               track_running_stats=m.track_running_stats, bias=_has_bias(m))


def _attention_to_torch(m, tnn, name):
    return tnn.MultiheadAttention(m.embed_dim, m.num_heads, dropout=m.dropout,
                                  bias=m.in_proj_bias is not None,
                                  add_bias_kv=m.bias_k is not None,
                                  add_zero_attn=m.add_zero_attn, kdim=m.kdim, vdim=m.vdim,
                                  batch_first=m.batch_first)


def _transformer_layer_to_torch(m, tnn, name):
    """An encoder or decoder layer (the same constructor arguments in PyTorch)."""
    if m.activation not in ("relu", "gelu"):
        raise TypeError(f"nn.to_torch: {name}: activation {m.activation!r} is a function; "
                        f"only 'relu' and 'gelu' translate (set the torch layer's activation "
                        f"by hand)")
    cls = tnn.TransformerDecoderLayer if isinstance(m, L.TransformerDecoderLayer) else \
        tnn.TransformerEncoderLayer
    return cls(m.linear1.in_features, m.self_attn.num_heads, m.linear1.out_features,
               m.dropout.p, m.activation, m.norm1.eps, m.self_attn.batch_first, m.norm_first,
               bias=m.linear1.bias is not None)


def _stack_to_torch(m, tnn, name):
    """A TransformerEncoder or TransformerDecoder of copies of its first layer."""
    norm = None if m.norm is None else _TO_TORCH[L.LayerNorm](m.norm, tnn, f"{name}.norm")
    layer = _transformer_layer_to_torch(m.layers[0], tnn, f"{name}.layers.0")
    if isinstance(m, L.TransformerDecoder):
        return tnn.TransformerDecoder(layer, m.num_layers, norm=norm)
    return tnn.TransformerEncoder(layer, m.num_layers, norm=norm,
                                  enable_nested_tensor=m.enable_nested_tensor,
                                  mask_check=m.mask_check)


def _transformer_to_torch(m, tnn, name):
    import torch
    return tnn.Transformer(m.d_model, m.nhead, batch_first=m.batch_first,
                           custom_encoder=_torch_module(m.encoder, torch, f"{name}.encoder"),
                           custom_decoder=_torch_module(m.decoder, torch, f"{name}.decoder"))


_TO_TORCH = {
    L.Linear: lambda m, tnn, name: tnn.Linear(m.in_features, m.out_features,
                                              bias=m.bias is not None),
    L.Conv2d: _conv_to_torch,
    L.Conv3d: _conv_to_torch,
    L.AvgPool2d: lambda m, tnn, name: tnn.AvgPool2d(m.kernel_size, m.stride, m.padding,
                                                    ceil_mode=m.ceil_mode,
                                                    count_include_pad=m.count_include_pad,
                                                    divisor_override=m.divisor_override),
    L.AvgPool3d: lambda m, tnn, name: tnn.AvgPool3d(m.kernel_size, m.stride, m.padding,
                                                    ceil_mode=m.ceil_mode,
                                                    count_include_pad=m.count_include_pad,
                                                    divisor_override=m.divisor_override),
    L.MaxPool2d: lambda m, tnn, name: tnn.MaxPool2d(m.kernel_size, m.stride, m.padding,
                                                    dilation=m.dilation,
                                                    return_indices=m.return_indices,
                                                    ceil_mode=m.ceil_mode),
    L.MaxPool3d: lambda m, tnn, name: tnn.MaxPool3d(m.kernel_size, m.stride, m.padding,
                                                    dilation=m.dilation,
                                                    return_indices=m.return_indices,
                                                    ceil_mode=m.ceil_mode),
    L.GlobalAvgPool2d: lambda m, tnn, name: tnn.Sequential(tnn.AdaptiveAvgPool2d(1),
                                                           tnn.Flatten()),
    L.Flatten: lambda m, tnn, name: tnn.Flatten(m.start_dim, m.end_dim),
    L.BatchNorm1d: _bn_to_torch,
    L.BatchNorm2d: _bn_to_torch,
    L.BatchNorm3d: _bn_to_torch,
    L.Dropout: lambda m, tnn, name: tnn.Dropout(m.p),
    L.ReLU: lambda m, tnn, name: tnn.ReLU(),
    L.LeakyReLU: lambda m, tnn, name: tnn.LeakyReLU(m.negative_slope),
    L.Sigmoid: lambda m, tnn, name: tnn.Sigmoid(),
    L.Tanh: lambda m, tnn, name: tnn.Tanh(),
    L.Softmax: lambda m, tnn, name: tnn.Softmax(dim=m.axis),
    L.Identity: lambda m, tnn, name: tnn.Identity(),
    L.RNN: _recurrent_to_torch, L.LSTM: _recurrent_to_torch, L.GRU: _recurrent_to_torch,
    L.RNNCell: _recurrent_to_torch, L.LSTMCell: _recurrent_to_torch,
    L.GRUCell: _recurrent_to_torch,
    L.Embedding: lambda m, tnn, name: tnn.Embedding(m.num_embeddings, m.embedding_dim,
                                                    padding_idx=m.padding_idx,
                                                    **_embedding_options(m)),
    L.EmbeddingBag: lambda m, tnn, name: tnn.EmbeddingBag(
        m.num_embeddings, m.embedding_dim, mode=m.mode,
        include_last_offset=m.include_last_offset, padding_idx=m.padding_idx,
        **_embedding_options(m)),
    L.LayerNorm: lambda m, tnn, name: tnn.LayerNorm(m.normalized_shape, eps=m.eps,
                                                    elementwise_affine=m.elementwise_affine,
                                                    bias=m.bias is not None
                                                    or not m.elementwise_affine),
    L.GroupNorm: lambda m, tnn, name: tnn.GroupNorm(m.num_groups, m.num_channels, eps=m.eps,
                                                    affine=m.affine, bias=_has_bias(m)),
    L.InstanceNorm1d: lambda m, tnn, name: tnn.InstanceNorm1d(m.num_features, eps=m.eps,
                                                              affine=m.affine,
                                                              bias=_has_bias(m)),
    L.InstanceNorm2d: lambda m, tnn, name: tnn.InstanceNorm2d(m.num_features, eps=m.eps,
                                                              affine=m.affine,
                                                              bias=_has_bias(m)),
    L.InstanceNorm3d: lambda m, tnn, name: tnn.InstanceNorm3d(m.num_features, eps=m.eps,
                                                              affine=m.affine,
                                                              bias=_has_bias(m)),
    L.Dropout2d: lambda m, tnn, name: tnn.Dropout2d(m.p),
    L.Dropout3d: lambda m, tnn, name: tnn.Dropout3d(m.p),
    L.AlphaDropout: lambda m, tnn, name: tnn.AlphaDropout(m.p),
    L.Unflatten: lambda m, tnn, name: tnn.Unflatten(m.dim, m.unflattened_size),
    L.GELU: lambda m, tnn, name: tnn.GELU(approximate=m.approximate),
    L.ELU: lambda m, tnn, name: tnn.ELU(m.alpha),
    L.SELU: lambda m, tnn, name: tnn.SELU(),
    L.SiLU: lambda m, tnn, name: tnn.SiLU(),
    L.Mish: lambda m, tnn, name: tnn.Mish(),
    L.Softplus: lambda m, tnn, name: tnn.Softplus(m.beta, m.threshold),
    L.LogSoftmax: lambda m, tnn, name: tnn.LogSoftmax(dim=m.axis),
    L.PReLU: lambda m, tnn, name: tnn.PReLU(m.num_parameters),
    L.Hardtanh: lambda m, tnn, name: tnn.Hardtanh(m.min_val, m.max_val),
    L.ReLU6: lambda m, tnn, name: tnn.ReLU6(),
    L.Softmax2d: lambda m, tnn, name: tnn.Softmax2d(),
    L.GLU: lambda m, tnn, name: tnn.GLU(m.dim),
    L.Softshrink: lambda m, tnn, name: tnn.Softshrink(m.lambd),
    L.Hardshrink: lambda m, tnn, name: tnn.Hardshrink(m.lambd),
    L.Tanhshrink: lambda m, tnn, name: tnn.Tanhshrink(),
    L.LocalResponseNorm: lambda m, tnn, name: tnn.LocalResponseNorm(m.size, m.alpha, m.beta,
                                                                     m.k),
    L.RReLU: lambda m, tnn, name: tnn.RReLU(m.lower, m.upper),
    L.RMSNorm: lambda m, tnn, name: tnn.RMSNorm(m.normalized_shape, eps=m.eps,
                                                elementwise_affine=m.elementwise_affine),
    L.Unfold: lambda m, tnn, name: tnn.Unfold(m.kernel_size, m.dilation, m.padding, m.stride),
    L.Fold: lambda m, tnn, name: tnn.Fold(m.output_size, m.kernel_size, m.dilation, m.padding,
                                          m.stride),
    L.PixelShuffle: lambda m, tnn, name: tnn.PixelShuffle(m.upscale_factor),
    L.PixelUnshuffle: lambda m, tnn, name: tnn.PixelUnshuffle(m.downscale_factor),
    L.ZeroPad2d: lambda m, tnn, name: tnn.ZeroPad2d(m.padding),
    L.ReflectionPad2d: lambda m, tnn, name: tnn.ReflectionPad2d(m.padding),
    L.ReplicationPad2d: lambda m, tnn, name: tnn.ReplicationPad2d(m.padding),
    L.ConstantPad2d: lambda m, tnn, name: tnn.ConstantPad2d(m.padding, m.value),
    L.MultiheadAttention: _attention_to_torch,
    L.TransformerEncoderLayer: _transformer_layer_to_torch,
    L.TransformerEncoder: _stack_to_torch,
    L.TransformerDecoderLayer: _transformer_layer_to_torch,
    L.TransformerDecoder: _stack_to_torch,
    L.Transformer: _transformer_to_torch,
}


def from_torch(module) -> Module:
    """The stepgrad equivalent of a ``torch.nn`` module, with the same weights (dtypes
    kept), ``requires_grad`` flags and train/eval modes; the reverse of :func:`to_torch`.

    Translates ``torch.nn.Sequential`` (child names kept) of the layers of the module
    docstring: Linear, Conv2d/3d (any padding_mode),
    MaxPool2d/3d (dilation and return_indices too), AvgPool2d/3d (``count_include_pad`` and
    ``divisor_override`` too),
    BatchNorm1d/2d/3d (with running statistics and ``num_batches_tracked``; ``momentum=None``
    too), Dropout, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, Identity, Flatten,
    RNN/LSTM/GRU (stacked and bidirectional too) and their cells,
    MultiheadAttention, TransformerEncoderLayer / TransformerDecoderLayer (relu or gelu),
    TransformerEncoder / TransformerDecoder, Transformer, and
    ``Sequential(AdaptiveAvgPool2d(1), Flatten())`` (→ ``GlobalAvgPool2d``). Anything else is
    refused by name.
    """
    torch = _require("torch", "from_torch")
    ours = _stepgrad_module(module, torch, "")
    named = dict(ours.named_modules())
    with torch.no_grad():
        theirs = module.state_dict(keep_vars=True)  # num_batches_tracked included
        own = state_tensors(ours)
        if set(theirs) != set(own):
            raise RuntimeError(f"nn.from_torch: entries differ: torch {sorted(theirs)}, "
                               f"stepgrad {sorted(own)} (a bug: please report it)")
        for key, value in theirs.items():
            prefix, _, leaf = key.rpartition(".")
            owner = named[prefix]
            arr = value.detach().cpu().numpy().copy()
            if tuple(arr.shape) != tuple(own[key].shape):
                raise RuntimeError(f"nn.from_torch: {key} has shape {arr.shape} in torch, "
                                   f"{own[key].shape} here (a bug: please report it)")
            if isinstance(value, torch.nn.Parameter):
                setattr(owner, leaf, Parameter(arr, dtype=arr.dtype,
                                               requires_grad=bool(value.requires_grad)))
            else:
                owner.register_buffer(leaf, engine.Tensor(arr, dtype=arr.dtype))
    for name, m in module.named_modules():
        if name in named:  # (a torch Sequential that became GlobalAvgPool2d has children)
            named[name].train(m.training)
    return ours


def _stepgrad_module(m, torch, where):
    tnn = torch.nn
    name = where or type(m).__name__
    if type(m) is tnn.Sequential:
        kids = list(m.named_children())
        if ([type(c) for _, c in kids] == [tnn.AdaptiveAvgPool2d, tnn.Flatten]
                and _pair(kids[0][1].output_size) == (1, 1)
                and (kids[1][1].start_dim, kids[1][1].end_dim) == (1, -1)):
            return L.GlobalAvgPool2d()
        seq = Sequential()
        for child_name, child in kids:
            seq.add_module(child_name, _stepgrad_module(
                child, torch, f"{where}.{child_name}" if where else child_name))
        return seq
    convert = _from_torch_table(tnn).get(type(m))
    if convert is None and isinstance(m, torch.nn.modules.lazy.LazyModuleMixin):
        raise TypeError(f"nn.from_torch: {name} is a torch.nn.{type(m).__name__} not "
                        f"initialized yet (no weights): run a forward pass in torch first, "
                        f"after which it is a torch.nn.{m.cls_to_become.__name__}")
    if convert is None:
        raise TypeError(f"nn.from_torch: {name} is a {type(m).__module__}."
                        f"{type(m).__name__}, which has no stepgrad equivalent here")
    return convert(m, name)


def _refuse(name, why):
    raise TypeError(f"nn.from_torch: {name}: {why}")


def _conv_from_torch(m, name):
    """A torch Conv2d or Conv3d as ours of the same name."""
    n = len(m.kernel_size)
    padding = m.padding if isinstance(m.padding, str) else _pair(m.padding, n)
    return getattr(L, type(m).__name__)(
        m.in_channels, m.out_channels, _pair(m.kernel_size, n), stride=_pair(m.stride, n),
        padding=padding, dilation=_pair(m.dilation, n), groups=m.groups,
        bias=m.bias is not None, padding_mode=m.padding_mode)


def _pool_from_torch(m, name):
    """A torch MaxPool2d/3d or AvgPool2d/3d as ours of the same name."""
    kind = type(m).__name__
    n = int(kind[-2])
    stride = None if m.stride is None else _pair(m.stride, n)
    if kind.startswith("MaxPool"):
        return getattr(L, kind)(_pair(m.kernel_size, n), stride, _pair(m.padding, n),
                                dilation=_pair(m.dilation, n), return_indices=m.return_indices,
                                ceil_mode=m.ceil_mode)
    return getattr(L, kind)(_pair(m.kernel_size, n), stride, _pair(m.padding, n),
                            ceil_mode=m.ceil_mode, count_include_pad=m.count_include_pad,
                            divisor_override=m.divisor_override)


def _bn_from_torch(m, name):
    cls = getattr(L, type(m).__name__)  # BatchNorm1d/2d/3d
    return cls(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
               track_running_stats=m.track_running_stats, bias=_has_bias(m))


def _instance_norm_from_torch(m, name):
    if m.track_running_stats:
        _refuse(name, "InstanceNorm with track_running_stats=True")
    cls = getattr(L, type(m).__name__)  # InstanceNorm1d/2d/3d
    return cls(m.num_features, eps=m.eps, affine=m.affine, bias=_has_bias(m))


def _pad_from_torch(cls):
    def convert(m, name):
        value = getattr(m, "value", 0.0)
        return cls(tuple(m.padding), value) if cls in (L.ConstantPad1d, L.ConstantPad2d) \
            else cls(tuple(m.padding))
    return convert


def _rnn_from_torch(m, name):
    if getattr(m, "proj_size", 0):
        _refuse(name, "recurrent layers with proj_size (stepgrad has no projection)")
    kind = type(m).__name__
    kw = dict(num_layers=m.num_layers, bias=m.bias, batch_first=m.batch_first,
              dropout=m.dropout, bidirectional=m.bidirectional)
    if kind == "RNN":
        return L.RNN(m.input_size, m.hidden_size, nonlinearity=m.nonlinearity, **kw)
    return (L.LSTM if kind == "LSTM" else L.GRU)(m.input_size, m.hidden_size, **kw)


def _cell_from_torch(m, name):
    kind = type(m).__name__
    if kind == "RNNCell":
        return L.RNNCell(m.input_size, m.hidden_size, bias=m.bias,
                         nonlinearity=m.nonlinearity)
    return (L.LSTMCell if kind == "LSTMCell" else L.GRUCell)(m.input_size, m.hidden_size,
                                                            bias=m.bias)


def _embedding_options(m):
    """max_norm, norm_type, scale_grad_by_freq: the same names on both sides."""
    return dict(max_norm=m.max_norm, norm_type=getattr(m, "norm_type", 2.0),
                scale_grad_by_freq=bool(m.scale_grad_by_freq))


def _embedding_from_torch(m, name):
    if m.sparse:
        _refuse(name, "Embedding with sparse=True (stepgrad's gradients are dense)")
    return L.Embedding(m.num_embeddings, m.embedding_dim, padding_idx=m.padding_idx,
                       **_embedding_options(m))


def _embedding_bag_from_torch(m, name):
    if m.sparse:
        _refuse(name, "EmbeddingBag with sparse=True (stepgrad's gradients are dense)")
    return L.EmbeddingBag(m.num_embeddings, m.embedding_dim, mode=m.mode,
                          include_last_offset=m.include_last_offset, padding_idx=m.padding_idx,
                          **_embedding_options(m))


def _softmax_from_torch(m, name):
    return L.Softmax(dim=m.dim)  # dim None: PyTorch's implicit choice, which stepgrad's makes


def _attention_from_torch(m, name):
    return L.MultiheadAttention(m.embed_dim, m.num_heads, dropout=m.dropout,
                                bias=m.in_proj_bias is not None,
                                add_bias_kv=m.bias_k is not None,
                                add_zero_attn=m.add_zero_attn, kdim=m.kdim, vdim=m.vdim,
                                batch_first=m.batch_first)


def _transformer_layer_from_torch(m, name):
    """A torch encoder or decoder layer (relu or gelu: the encoder keeps a code for it, the
    decoder the function)."""
    import torch.nn as tnn
    import torch.nn.functional as tf
    decoder = isinstance(m, tnn.TransformerDecoderLayer)
    kind = "TransformerDecoderLayer" if decoder else "TransformerEncoderLayer"
    if decoder:
        activation = m.activation if isinstance(m.activation, str) else \
            {tf.relu: "relu", tf.gelu: "gelu"}.get(m.activation)
    else:
        activation = {1: "relu", 2: "gelu"}.get(getattr(m, "activation_relu_or_gelu", 0))
    if activation not in ("relu", "gelu"):
        _refuse(name, f"a {kind} whose activation is not relu or gelu (build "
                      f"nn.{kind}(..., activation=your_function) by hand)")
    return getattr(L, kind)(
        m.linear1.in_features, m.self_attn.num_heads, m.linear1.out_features, m.dropout.p,
        activation, m.norm1.eps, m.self_attn.batch_first, m.norm_first,
        bias=m.linear1.bias is not None)


def _stack_from_torch(m, name):
    """A torch TransformerEncoder or TransformerDecoder."""
    import torch.nn as tnn
    norm = None if m.norm is None else L.LayerNorm(m.norm.normalized_shape, eps=m.norm.eps,
                                                   elementwise_affine=m.norm.elementwise_affine,
                                                   bias=m.norm.bias is not None)
    layer = _transformer_layer_from_torch(m.layers[0], f"{name}.layers.0")
    if isinstance(m, tnn.TransformerDecoder):
        return L.TransformerDecoder(layer, len(m.layers), norm=norm)
    return L.TransformerEncoder(layer, len(m.layers), norm=norm,
                                enable_nested_tensor=m.enable_nested_tensor,
                                mask_check=m.mask_check)


def _transformer_from_torch(m, name):
    import torch.nn as tnn
    if type(m.encoder) is not tnn.TransformerEncoder or \
            type(m.decoder) is not tnn.TransformerDecoder:
        _refuse(name, "a Transformer with a custom encoder or decoder (translate those and "
                      "pass them as custom_encoder / custom_decoder)")
    return L.Transformer(m.d_model, m.nhead, batch_first=m.batch_first,
                         custom_encoder=_stack_from_torch(m.encoder, f"{name}.encoder"),
                         custom_decoder=_stack_from_torch(m.decoder, f"{name}.decoder"))


def _from_torch_table(tnn):
    return {
        tnn.Linear: lambda m, name: L.Linear(m.in_features, m.out_features,
                                             bias=m.bias is not None),
        tnn.Conv2d: _conv_from_torch, tnn.Conv3d: _conv_from_torch,
        tnn.MaxPool2d: _pool_from_torch, tnn.AvgPool2d: _pool_from_torch,
        tnn.MaxPool3d: _pool_from_torch, tnn.AvgPool3d: _pool_from_torch,
        tnn.BatchNorm1d: _bn_from_torch, tnn.BatchNorm2d: _bn_from_torch,
        tnn.BatchNorm3d: _bn_from_torch,
        tnn.Dropout: lambda m, name: L.Dropout(m.p),
        tnn.ReLU: lambda m, name: L.ReLU(),
        tnn.LeakyReLU: lambda m, name: L.LeakyReLU(m.negative_slope),
        tnn.Sigmoid: lambda m, name: L.Sigmoid(),
        tnn.Tanh: lambda m, name: L.Tanh(),
        tnn.Softmax: _softmax_from_torch,
        tnn.Identity: lambda m, name: L.Identity(),
        tnn.Flatten: lambda m, name: L.Flatten(m.start_dim, m.end_dim),
        tnn.RNN: _rnn_from_torch, tnn.LSTM: _rnn_from_torch, tnn.GRU: _rnn_from_torch,
        tnn.RNNCell: _cell_from_torch, tnn.LSTMCell: _cell_from_torch,
        tnn.GRUCell: _cell_from_torch, tnn.Embedding: _embedding_from_torch,
        tnn.EmbeddingBag: _embedding_bag_from_torch,
        tnn.LayerNorm: lambda m, name: L.LayerNorm(m.normalized_shape, eps=m.eps,
                                                   elementwise_affine=m.elementwise_affine,
                                                   bias=m.bias is not None),
        tnn.GroupNorm: lambda m, name: L.GroupNorm(m.num_groups, m.num_channels, eps=m.eps,
                                                   affine=m.affine, bias=_has_bias(m)),
        tnn.InstanceNorm1d: _instance_norm_from_torch,
        tnn.InstanceNorm2d: _instance_norm_from_torch,
        tnn.InstanceNorm3d: _instance_norm_from_torch,
        tnn.Dropout2d: lambda m, name: L.Dropout2d(m.p),
        tnn.Dropout3d: lambda m, name: L.Dropout3d(m.p),
        tnn.AlphaDropout: lambda m, name: L.AlphaDropout(m.p),
        tnn.Unflatten: lambda m, name: L.Unflatten(m.dim, m.unflattened_size),
        tnn.GELU: lambda m, name: L.GELU(approximate=m.approximate),
        tnn.ELU: lambda m, name: L.ELU(m.alpha),
        tnn.SELU: lambda m, name: L.SELU(),
        tnn.SiLU: lambda m, name: L.SiLU(),
        tnn.Mish: lambda m, name: L.Mish(),
        tnn.Softplus: lambda m, name: L.Softplus(m.beta, m.threshold),
        tnn.LogSoftmax: lambda m, name: L.LogSoftmax(dim=m.dim),
        tnn.PReLU: lambda m, name: L.PReLU(m.num_parameters),
        tnn.Hardtanh: lambda m, name: L.Hardtanh(m.min_val, m.max_val),
        tnn.ReLU6: lambda m, name: L.ReLU6(),
        tnn.Softmax2d: lambda m, name: L.Softmax2d(),
        tnn.GLU: lambda m, name: L.GLU(m.dim),
        tnn.Softshrink: lambda m, name: L.Softshrink(m.lambd),
        tnn.Hardshrink: lambda m, name: L.Hardshrink(m.lambd),
        tnn.Tanhshrink: lambda m, name: L.Tanhshrink(),
        tnn.LocalResponseNorm: lambda m, name: L.LocalResponseNorm(m.size, m.alpha, m.beta, m.k),
        tnn.RReLU: lambda m, name: L.RReLU(m.lower, m.upper),
        tnn.RMSNorm: lambda m, name: L.RMSNorm(m.normalized_shape, eps=m.eps,
                                               elementwise_affine=m.elementwise_affine),
        tnn.Unfold: lambda m, name: L.Unfold(m.kernel_size, m.dilation, m.padding, m.stride),
        tnn.Fold: lambda m, name: L.Fold(m.output_size, m.kernel_size, m.dilation, m.padding,
                                         m.stride),
        tnn.PixelShuffle: lambda m, name: L.PixelShuffle(m.upscale_factor),
        tnn.PixelUnshuffle: lambda m, name: L.PixelUnshuffle(m.downscale_factor),
        tnn.ZeroPad2d: _pad_from_torch(L.ZeroPad2d),
        tnn.ReflectionPad2d: _pad_from_torch(L.ReflectionPad2d),
        tnn.ReplicationPad2d: _pad_from_torch(L.ReplicationPad2d),
        tnn.ConstantPad2d: _pad_from_torch(L.ConstantPad2d),
        tnn.MultiheadAttention: _attention_from_torch,
        tnn.TransformerEncoderLayer: _transformer_layer_from_torch,
        tnn.TransformerDecoderLayer: _transformer_layer_from_torch,
        tnn.TransformerDecoder: _stack_from_torch,
        tnn.Transformer: _transformer_from_torch,
        tnn.TransformerEncoder: _stack_from_torch,
    }


# ---------------------------------------------------------------------------------- ONNX
def export_onnx(model, example_input, path, *, opset: int = 17, input_name: str = "input",
                output_name: str = "output") -> Path:
    """Write ``model`` as an ONNX graph, for inference (eval mode), and return the path.

    The graph is built by walking the module tree -- ``Sequential`` containers of Linear,
    Conv2d (zero padding), the pools, BatchNorm, LayerNorm, InstanceNorm, Flatten, Unflatten,
    Dropout(2d), Identity and the activations ReLU, LeakyReLU, Sigmoid, Tanh, Softmax,
    LogSoftmax, GELU (exact), ELU, SELU, SiLU, Softplus (β = 1), PReLU, Hardtanh, ReLU6;
    anything else (recurrent layers too) is refused by name -- running each layer on
    ``example_input`` (N, ...) to learn its output shape. Initializers carry the
    state-dict names (``0.weight``). The batch axis is dynamic (``'N'``); the other axes
    are those of ``example_input`` (Conv2d ``'same'`` padding is fixed for them). The model
    is checked with ``onnx.checker`` before the file is written (atomically).

    >>> import os, tempfile, nn, numpy as np
    >>> mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> path = export_onnx(mlp, np.zeros((1, 4), np.float32),
    ...                    os.path.join(tempfile.mkdtemp(), "mlp.onnx"))
    >>> import onnx; [n.op_type for n in onnx.load(str(path)).graph.node]
    ['Gemm', 'Relu', 'Gemm']
    """
    check_built(model, "nn.export_onnx")
    onnx = _require("onnx", "export_onnx")
    from onnx import helper

    x = example_input if isinstance(example_input, engine.Tensor) else \
        engine.Tensor(np.asarray(example_input), dtype=np.asarray(example_input).dtype)
    if x.ndim < 1:
        raise ValueError(f"nn.export_onnx: example_input needs a batch axis, got shape "
                         f"{x.shape}")
    builder = _OnnxGraph(onnx)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with engine.no_grad():
            out_name, y = builder.add(model, input_name, x, "")
    finally:
        for m, mode in modes:
            m.train(mode)
    if builder.nodes and builder.nodes[-1].output[0] == out_name:
        builder.nodes[-1].output[0] = output_name  # the last layer's node gives the output
    else:  # (a model that is the identity)
        builder.nodes.append(helper.make_node("Identity", [out_name], [output_name]))
    elem = helper.np_dtype_to_tensor_dtype
    graph = helper.make_graph(
        builder.nodes, type(model).__name__,
        [helper.make_tensor_value_info(input_name, elem(x.dtype), ["N", *x.shape[1:]])],
        [helper.make_tensor_value_info(output_name, elem(y.dtype), ["N", *y.shape[1:]])],
        builder.initializers)
    from stepgrad import __version__
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="stepgrad", producer_version=__version__)
    proto.ir_version = min(proto.ir_version, 9)  # readable by onnxruntime ≥ 1.16
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()

    def write(tmp):
        with open(tmp, "wb") as f:
            f.write(data)

    return atomic_write(path, write, who="nn.export_onnx")


class _OnnxGraph:
    """Nodes and initializers, added one module at a time."""

    def __init__(self, onnx):
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes, self.initializers, self._names = [], [], set()

    def const(self, name, array):
        from onnx import numpy_helper
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, out, **attrs):
        self.nodes.append(self.helper.make_node(op, inputs, [out], **attrs))
        return out

    def add(self, m, x_name, x, where):
        """Nodes computing ``m(x)`` from the value ``x_name``: (output name, output)."""
        name = where or type(m).__name__
        if type(m) is Sequential or (isinstance(m, Sequential)
                                     and type(m).forward is Sequential.forward):
            h, name_h = x, x_name
            for child_name, child in m.named_children():
                name_h, h = self.add(child, name_h, h,
                                     f"{where}.{child_name}" if where else child_name)
            return name_h, h
        kind = _known(m, _ONNX, "export_onnx")
        if kind is None:
            raise TypeError(f"nn.export_onnx: {name} is a {type(m).__name__}, which cannot "
                            "be exported (Sequential of "
                            f"{', '.join(sorted(c.__name__ for c in _ONNX))})")
        y = m(x)  # the layer's own result: the shape the next layer sees
        out = f"{where or 'out'}:{type(m).__name__}"
        return _ONNX[kind](self, m, x_name, x, where, out), y

    def param(self, where, leaf, tensor):
        return self.const(_dotted(where, leaf), np.asarray(tensor.data))


def _dotted(where, leaf):
    """The state-dict name: ``0.weight``, or ``weight`` for a lone layer."""
    return f"{where}.{leaf}" if where else leaf


def _onnx_linear(g, m, x_name, x, where, out):
    w = g.param(where, "weight", m.weight)
    if x.ndim == 2:
        inputs = [x_name, w] + ([g.param(where, "bias", m.bias)] if m.bias is not None else [])
        return g.node("Gemm", inputs, out, transB=1)
    wt = g.const(_dotted(where, "weight.T"), np.asarray(m.weight.data).T)
    y = g.node("MatMul", [x_name, wt], out if m.bias is None else out + ".matmul")
    if m.bias is None:
        return y
    return g.node("Add", [y, g.param(where, "bias", m.bias)], out)


def _onnx_conv(g, m, x_name, x, where, out):
    if m.padding_mode != "zeros":  # ONNX's Conv pads with zeros only
        raise TypeError(f"export_onnx: {where or 'Conv2d'}: padding_mode={m.padding_mode!r} "
                        f"is not exported (ONNX's Conv pads with zeros)")
    (kh, kw), (sh, sw), (dh, dw) = m.kernel_size, _pair(m.stride), _pair(m.dilation)
    padding = m.padding
    if isinstance(padding, str) and padding.lower() == "same":
        (top, bottom), (left, right) = (same_padding(x.shape[2], kh, sh, dh),
                                        same_padding(x.shape[3], kw, sw, dw))
    elif isinstance(padding, str):
        top = bottom = left = right = 0
    else:
        (top, left) = _pair(padding)
        bottom, right = top, left
    inputs = [x_name, g.param(where, "weight", m.weight)]
    if m.bias is not None:
        inputs.append(g.param(where, "bias", m.bias))
    return g.node("Conv", inputs, out, kernel_shape=[kh, kw], strides=[sh, sw],
                  dilations=[dh, dw], pads=[top, left, bottom, right], group=m.groups)


def _onnx_pool(g, m, x_name, x, where, out):
    k = _pair(m.kernel_size)
    s = k if m.stride is None else _pair(m.stride)
    p = _pair(m.padding)
    attrs = dict(kernel_shape=list(k), strides=list(s), pads=[p[0], p[1], p[0], p[1]],
                 ceil_mode=int(bool(m.ceil_mode)))
    if isinstance(m, L.AvgPool2d):
        if m.divisor_override is not None:  # (torch.onnx drops it silently)
            raise TypeError(f"export_onnx: {where or 'AvgPool2d'}: divisor_override="
                            f"{m.divisor_override} is not exported (ONNX's AveragePool "
                            f"divides by a cell count)")
        return g.node("AveragePool", [x_name], out,
                      count_include_pad=int(bool(m.count_include_pad)), **attrs)
    if getattr(m, "return_indices", False):
        raise ValueError(f"export_onnx: {where or 'the model'} (MaxPool2d with "
                         f"return_indices=True) returns a pair; export the pool without it")
    return g.node("MaxPool", [x_name], out, dilations=list(_pair(getattr(m, "dilation", 1))),
                  **attrs)


def _onnx_bn(g, m, x_name, x, where, out):
    n = m.num_features
    scale = g.param(where, "weight", m.weight) if m.weight is not None else \
        g.const(_dotted(where, "weight"), np.ones(n, np.asarray(m.running_mean.data).dtype))
    bias = g.param(where, "bias", m.bias) if m.bias is not None else \
        g.const(_dotted(where, "bias"), np.zeros(n, np.asarray(m.running_mean.data).dtype))
    inputs = [x_name, scale, bias, g.param(where, "running_mean", m.running_mean),
              g.param(where, "running_var", m.running_var)]
    return g.node("BatchNormalization", inputs, out, epsilon=float(m.eps))


def _onnx_flatten(g, m, x_name, x, where, out):
    start = m.start_dim % x.ndim
    end = m.end_dim % x.ndim
    if start == 1 and end == x.ndim - 1:
        return g.node("Flatten", [x_name], out, axis=1)
    shape = [0] * start + [-1] + list(x.shape[end + 1:])
    return g.node("Reshape", [x_name, g.const(_dotted(where, "shape"), np.array(shape, np.int64))],
                  out)


def _onnx_global_avg(g, m, x_name, x, where, out):
    pooled = g.node("GlobalAveragePool", [x_name], out + ".pool")
    return g.node("Flatten", [pooled], out, axis=1)


def _onnx_layer_norm(g, m, x_name, x, where, out):
    k = len(m.normalized_shape)
    dt = np.asarray(x.data).dtype
    scale = g.param(where, "weight", m.weight) if m.weight is not None else \
        g.const(_dotted(where, "weight"), np.ones(m.normalized_shape, dt))
    inputs = [x_name, scale]
    if m.bias is not None:
        inputs.append(g.param(where, "bias", m.bias))
    return g.node("LayerNormalization", inputs, out, axis=-k, epsilon=float(m.eps))


def _onnx_instance_norm(g, m, x_name, x, where, out):
    n, dt = m.num_features, np.asarray(x.data).dtype
    scale = g.param(where, "weight", m.weight) if m.weight is not None else \
        g.const(_dotted(where, "weight"), np.ones(n, dt))
    bias = g.param(where, "bias", m.bias) if m.bias is not None else \
        g.const(_dotted(where, "bias"), np.zeros(n, dt))
    return g.node("InstanceNormalization", [x_name, scale, bias], out, epsilon=float(m.eps))


def _onnx_clip(low, high):
    """Clip between two constants (Hardtanh, ReLU6)."""
    def emit(g, m, x_name, x, where, out):
        dt = np.asarray(x.data).dtype
        lo, hi = (low(m), high(m))
        return g.node("Clip", [x_name, g.const(_dotted(where, "min"), np.array(lo, dt)),
                               g.const(_dotted(where, "max"), np.array(hi, dt))], out)
    return emit


def _onnx_gelu(g, m, x_name, x, where, out):
    """½·x·(1 + erf(x/√2)) (opset 17 has no Gelu op); 'tanh' approximation refused."""
    if m.approximate != "none":
        raise TypeError(f"export_onnx: {where or 'GELU'}: GELU(approximate='tanh') is not "
                        f"exported (only the exact erf form)")
    dt = np.asarray(x.data).dtype
    scaled = g.node("Div", [x_name, g.const(_dotted(where, "sqrt2"), np.array(np.sqrt(2), dt))],
                    out + ".div")
    erf = g.node("Erf", [scaled], out + ".erf")
    one = g.node("Add", [erf, g.const(_dotted(where, "one"), np.array(1, dt))], out + ".add")
    half_x = g.node("Mul", [x_name, g.const(_dotted(where, "half"), np.array(0.5, dt))],
                    out + ".half")
    return g.node("Mul", [half_x, one], out)


def _onnx_softplus(g, m, x_name, x, where, out):
    if m.beta != 1:
        raise TypeError(f"export_onnx: {where or 'Softplus'}: Softplus(beta={m.beta}) is not "
                        f"exported (ONNX's Softplus has beta 1)")
    return g.node("Softplus", [x_name], out)


def _onnx_prelu(g, m, x_name, x, where, out):
    w = np.asarray(m.weight.data)
    shape = (w.size,) + (1,) * max(x.ndim - 2, 0) if w.size > 1 else (1,)
    slope = g.const(_dotted(where, "weight"), w.reshape(shape))
    return g.node("PRelu", [x_name, slope], out)


def _onnx_unflatten(g, m, x_name, x, where, out):
    dim = m.dim % x.ndim
    shape = [0] * dim + list(m.unflattened_size) + [0] * (x.ndim - dim - 1)
    return g.node("Reshape", [x_name, g.const(_dotted(where, "shape"),
                                              np.array(shape, np.int64))], out)


_ONNX = {
    L.Linear: _onnx_linear,
    L.Conv2d: _onnx_conv,
    L.AvgPool2d: _onnx_pool,
    L.MaxPool2d: _onnx_pool,
    L.GlobalAvgPool2d: _onnx_global_avg,
    L.Flatten: _onnx_flatten,
    L.BatchNorm1d: _onnx_bn,
    L.BatchNorm2d: _onnx_bn,
    L.Dropout: lambda g, m, x_name, x, where, out: g.node("Identity", [x_name], out),
    L.Identity: lambda g, m, x_name, x, where, out: g.node("Identity", [x_name], out),
    L.ReLU: lambda g, m, x_name, x, where, out: g.node("Relu", [x_name], out),
    L.Sigmoid: lambda g, m, x_name, x, where, out: g.node("Sigmoid", [x_name], out),
    L.Tanh: lambda g, m, x_name, x, where, out: g.node("Tanh", [x_name], out),
    L.LeakyReLU: lambda g, m, x_name, x, where, out: g.node(
        "LeakyRelu", [x_name], out, alpha=float(m.negative_slope)),
    # m._axis(x): the dim given, or the implicit one this input gets (F.implicit_dim)
    L.Softmax: lambda g, m, x_name, x, where, out: g.node("Softmax", [x_name], out,
                                                          axis=int(m._axis(x))),
    L.LogSoftmax: lambda g, m, x_name, x, where, out: g.node("LogSoftmax", [x_name], out,
                                                             axis=int(m._axis(x))),
    L.LayerNorm: _onnx_layer_norm,
    L.InstanceNorm1d: _onnx_instance_norm,
    L.InstanceNorm2d: _onnx_instance_norm,
    L.Dropout2d: lambda g, m, x_name, x, where, out: g.node("Identity", [x_name], out),
    L.Unflatten: _onnx_unflatten,
    L.GELU: _onnx_gelu,
    L.ELU: lambda g, m, x_name, x, where, out: g.node("Elu", [x_name], out,
                                                      alpha=float(m.alpha)),
    L.SELU: lambda g, m, x_name, x, where, out: g.node(
        "Selu", [x_name], out, alpha=1.6732632423543772, gamma=1.0507009873554805),
    L.SiLU: lambda g, m, x_name, x, where, out: g.node(
        "Mul", [x_name, g.node("Sigmoid", [x_name], out + ".sigmoid")], out),
    L.Softplus: _onnx_softplus,
    L.PReLU: _onnx_prelu,
    L.Hardtanh: _onnx_clip(lambda m: m.min_val, lambda m: m.max_val),
    L.ReLU6: _onnx_clip(lambda m: 0.0, lambda m: 6.0),
}
