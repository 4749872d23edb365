"""stepgrad's autodiff core: scalar ``Value`` graphs and numpy-backed ``Tensor`` graphs.

>>> from engine import Value
>>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
>>> c = a * b + a ** 2; c.backward()   # dc/da = b + 2a = 1, dc/db = a = 2
>>> a.grad, b.grad
(1.0, 2.0)

The teaching core is ``value.py``, ``tensor.py``, ``autograd.py``, ``gradcheck.py`` and the ops in
``ops/`` (elementwise, reduce, shape, linalg, neural; the long tail of PyTorch's surface in
maths, activations, scans and indexing); ``fast/`` holds the speed machinery
(Numba kernels, conv/pool/LSTM ops) and ``testing.py`` the op test descriptions.
"""
from stepgrad._shadow import check_siblings as _check_siblings  # first: a clear error
_check_siblings(__name__, __file__)  # if a local file hides a package this one needs
import builtins  # noqa: E402 (after the shadow check)

import numpy as _np  # noqa: E402

from .autograd import (AnomalyError, BackwardOf, Node, backward_steps, detect_anomaly,
                       enable_grad, grad, inference_mode, is_grad_enabled, module_scope, no_grad,
                       set_grad_enabled, topo_order)
from .creation import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,
                       HalfTensor, IntTensor, LongTensor, ShortTensor)
from .creation import (arange, bernoulli, empty, empty_like, eye, from_dlpack, from_numpy, full,
                       full_like, linspace, multinomial, normal, ones, ones_like, poisson, rand,
                       rand_like, randint, randn, randn_like, randperm, tensor, zeros,
                       zeros_like)
from .functional import (FUNCTIONS, METHOD_FUNCTIONS, bucketize, cat, cdist, concatenate,
                         einsum, in_place, maximum, meshgrid, minimum, searchsorted, split, stack,
                         std_mean, var_mean, where)
from . import autograd, linalg
from .gradcheck import GradcheckError, gradcheck
from .higher import gradgradcheck, hessian, hvp, jacobian, jvp, vhp, vjp
from .fast.memory import keep_freed_memory
from .ops.base import OPS, Op, scalar_ops
from .ops.function import Function as _Function
from .ops.compose import (addmm, addmv, atleast_1d, atleast_2d, atleast_3d, baddbmm,
                          block_diag, broadcast_tensors, cartesian_prod, column_stack, corrcoef,
                          cov, cross, deg2rad, diag_embed, dist, dstack, fmax, fmin, hstack,
                          kron, logit, logspace, rad2deg, rot90, tensordot, trapezoid,
                          tril_indices, triu_indices, vstack, xlogy)
from .fast.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from .fast.conv3d import conv3d, conv_transpose3d
from .fast.interpolate import interpolate
from .fast import unfold as _unfold  # noqa: F401 (registers F.unfold/F.fold's ops)
from .ops import losses as _losses  # noqa: F401 (registers binary_cross_entropy's op)
from .fast.gru import gru
from .fast.lstm import lstm, lstm_c, lstm_h
from .fast.rnn import rnn
from .fast.pool import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d,
                        max_pool1d, max_pool2d, max_unpool2d)
from .fast.pool3d import (adaptive_avg_pool3d, adaptive_max_pool3d, avg_pool3d, max_pool3d,
                          max_unpool3d)
from .random import Generator, get_rng, manual_seed, set_thread_rng
from .device import accelerator, backends, cuda, device
from .tensor import Tensor, get_default_dtype, increment_version, set_default_dtype
from .value import Constant, Value

trapz, row_stack = trapezoid, vstack  # PyTorch's other names
inverse, det = linalg.inv, linalg.det  # torch.inverse, torch.det
slogdet, logdet, pinverse = linalg.slogdet, linalg.logdet, linalg.pinverse
matrix_power, matrix_exp = linalg.matrix_power, linalg.matrix_exp
finfo, iinfo = _np.finfo, _np.iinfo  # .eps, .max, .min, .tiny as torch.finfo's


def is_tensor(obj) -> builtins.bool:
    """Whether ``obj`` is an engine Tensor (``torch.is_tensor``)."""
    return isinstance(obj, Tensor)


autograd.Function = _Function  # torch.autograd.Function (autograd.py sits below the ops)
globals().update(FUNCTIONS)  # engine.sin(x), engine.sum(x, dim=1), … (torch.sin(x))

# torch.X that stepgrad keeps in nn (engine knows nothing of nn): `import engine as torch`
# then torch.save(...) says where it lives instead of a bare AttributeError.
_IN_NN = {"nn": "the package nn (import nn; torch.nn.functional is nn.functional, nn.F)",
          "optim": "nn.optim (import nn)", "utils": "nn.data for torch.utils.data, nn.utils for "
          "torch.nn.utils (import nn)", "save": "nn.save(obj, path) (import nn)",
          "load": "nn.load(path) (import nn)",
          "Size": "a tuple here: x.shape and x.size() are tuples (x.shape == (2, 3))"}


def __getattr__(name):
    if name in _IN_NN:
        raise AttributeError(f"module 'engine' has no attribute {name!r}: PyTorch's torch.{name} "
                             f"is {_IN_NN[name]}")
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


# PyTorch's dtype names, as numpy's types (dtype=engine.float32, x.to(engine.long)). Not in
# __all__: a star-import must not replace the builtins float, int and bool.
float16 = half = _np.float16
float32 = float = _np.float32  # noqa: A001 (torch.float is float32)
float64 = double = _np.float64
int8, uint8, int16 = _np.int8, _np.uint8, _np.int16
int32 = int = _np.int32  # noqa: A001
int64 = long = _np.int64
bool = _np.bool_  # noqa: A001

# Importing engine changes nothing process-wide: malloc's thresholds (engine/fast/memory.py)
# are set when training starts (nn.fit) or the first conv/pool op runs.

__all__ = [
    "AnomalyError", "BackwardOf", "Constant", "Generator", "FloatTensor", "DoubleTensor",
    "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor", "ByteTensor",
    "BoolTensor",
    "GradcheckError", "Node", "OPS", "Op", "Tensor",
    "Value",
    # star-import: no sum/abs/round (builtins), nor the names a script likely uses for its
    # own variables (t, mode): engine.t and engine.mode stay
    *[n for n in METHOD_FUNCTIONS if not hasattr(builtins, n) and n not in ("t", "mode")],
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "arange", "avg_pool1d", "avg_pool2d",
    "adaptive_avg_pool3d", "adaptive_max_pool3d", "avg_pool3d", "conv3d", "conv_transpose3d",
    "max_pool3d", "max_unpool3d",
    "backward_steps", "bucketize", "cat", "cdist", "concatenate", "conv1d", "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "detect_anomaly", "einsum", "empty", "empty_like", "enable_grad", "eye", "from_dlpack",
    "from_numpy", "full", "full_like", "in_place",
    "get_default_dtype", "get_rng", "grad", "gradcheck", "gradgradcheck", "gru", "hessian", "hvp",
    "increment_version", "inference_mode", "interpolate", "jacobian", "is_grad_enabled", "jvp",
    "keep_freed_memory",
    "linalg", "linspace", "lstm", "lstm_c", "lstm_h", "manual_seed", "max_pool1d", "max_pool2d",
    "max_unpool2d", "maximum", "meshgrid", "minimum",
    "module_scope", "no_grad", "ones", "ones_like", "rand", "rand_like", "randint", "randn",
    "randperm", "multinomial", "bernoulli", "normal", "poisson",
    "randn_like", "rnn", "scalar_ops", "searchsorted", "set_default_dtype", "set_grad_enabled",
    "set_thread_rng",
    "split", "stack", "addmm", "addmv", "atleast_1d", "atleast_2d", "atleast_3d", "baddbmm",
    "block_diag", "broadcast_tensors", "cartesian_prod", "column_stack", "corrcoef", "cov",
    "cross", "deg2rad", "diag_embed", "dist", "dstack", "fmax", "fmin", "hstack", "kron",
    "logit", "logspace", "rad2deg", "rot90", "tensordot", "trapezoid", "trapz", "tril_indices",
    "triu_indices", "vstack", "row_stack", "xlogy", "is_tensor", "finfo", "iinfo", "inverse", "det",
    "slogdet", "logdet", "pinverse", "matrix_power", "matrix_exp",
    "std_mean", "tensor", "topo_order", "var_mean", "vhp", "vjp", "where", "zeros", "zeros_like",
]
