"""PyTorch's ``torch.autograd.functional`` -- vjp, jvp, jacobian, hessian, vhp, hvp -- and
gradgradcheck: derivatives of derivatives, by reverse mode over reverse mode.

All are built on ``engine.grad``, as PyTorch's are on ``torch.autograd.grad``; the second
derivatives and ``jvp`` use ``create_graph=True`` (the first backward pass is recorded as a
graph, every op's backward being written with ops, so it can be differentiated again). Each
takes and returns what PyTorch's does:

- ``inputs``: a Tensor, or a tuple of them (``func(*inputs)``); results follow that form
  (a tuple of inputs gives a tuple of results, even of length one);
- ``vjp``/``jvp``/``vhp``/``hvp`` return a pair ``(func(inputs), product)``;
- ``strict=False``: an input the outputs do not depend on gets zeros; ``strict=True`` raises;
- ``create_graph=True``: results (and func's output) keep their graph back to the user's
  inputs, so they can be differentiated again; otherwise they are detached.

Values work as 0-d tensors and give floats (Values with ``create_graph=True``).

    >>> import engine
    >>> x = engine.tensor([1.0, 2.0], dtype="float64")
    >>> engine.hessian(lambda t: (t ** 3).sum(), x)        # diag(6x)
    tensor([[ 6.,  0.],
            [ 0., 12.]], shape=(2, 2), dtype=float64)
    >>> out, hv = engine.hvp(lambda t: (t ** 3).sum(), x, engine.ones_like(x))
    >>> out, hv                                             # (Σx³, 6x·v)
    (tensor(9., shape=(), dtype=float64), tensor([ 6., 12.], shape=(2,), dtype=float64))
"""
from __future__ import annotations

import numpy as np

from .autograd import enable_grad, grad
from .creation import zeros, zeros_like
from .functional import stack
from .gradcheck import GradcheckError, gradcheck, torch_inputs
from .tensor import Tensor
from .value import Constant, Value

# -- PyTorch's helpers (torch/autograd/functional.py), one each ----------------------------------

def _as_tuple(x, what: str, fn: str):
    """``(is_tuple, tuple of nodes)``: ``x`` is a Tensor (or Value) or a tuple of them (a list
    is taken as a tuple)."""
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(xs):
        if not isinstance(t, (Tensor, Value)):
            where = f"the value at index {i}" if is_tuple else f"the given {what}"
            raise TypeError(f"{fn}: the {what} must be either a Tensor or a tuple of Tensors "
                            f"but {where} has type {type(t).__name__}")
    return is_tuple, xs


def _unpack(res, is_tuple):
    """Undo ``_as_tuple``: ``res[0]`` when the original was not a tuple."""
    return res if is_tuple else res[0]


def _prepare(x, create_graph: bool, fn: str):
    """A new node for input ``x`` that requires grad (PyTorch's ``_grad_preprocess``): with
    ``create_graph`` and ``x`` requiring grad, a differentiable copy (the results then keep
    their graph back to ``x``); otherwise a fresh leaf. A new object either way, so a ``func``
    that also reads ``x`` from its closure is differentiated through the argument only."""
    if isinstance(x, Value):
        if create_graph and x.requires_grad:
            return x + 0.0
        return Value(x.data, label=x.label)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: inputs must be float Tensors (only they have gradients), got "
                        f"{x.dtype}; convert with .double() or .float()")
    if create_graph and x.requires_grad:
        return x.view_as(x)
    return Tensor(x.data, requires_grad=True, dtype=x.dtype, name=x.name)


def _inputs(inputs, create_graph: bool, fn: str):
    """(was a tuple, the inputs prepared by ``_prepare``): PyTorch's ``_as_tuple`` and
    ``_grad_preprocess`` of the inputs."""
    is_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    return is_tuple, tuple(_prepare(x, create_graph, fn) for x in inputs)


def _outputs(out, strict: bool, fn: str):
    """(was a tuple, func's outputs as a tuple), each checked to have a graph when
    ``strict``."""
    is_tuple, outputs = _as_tuple(out, "outputs of the user-provided function", fn)
    _check_requires_grad(outputs, "outputs", strict, fn)
    return is_tuple, outputs


def _vector(v, refs, is_tuple: bool, create_graph: bool, fn: str, against: str):
    """``v`` as a tuple with one entry per ref (shapes checked, PyTorch's ``_validate_v``):
    Tensors (arrays and lists of numbers are converted, in the ref's dtype), numbers for
    Value refs. Detached unless ``create_graph`` (then a v that requires grad keeps its graph,
    and the product is differentiable in v too). ``v=None`` stays None (meaning 1), allowed
    only for one single-element ref."""
    if v is None:
        if len(refs) != 1 or (isinstance(refs[0], Tensor) and refs[0].numel() != 1):
            where = "input to" if against == "input" else "output of"
            raise RuntimeError(f"{fn}: the vector v can only be None if the {where} the "
                               f"user-provided function is a single Tensor with a single "
                               f"element; pass v")
        return None
    vs = tuple(v) if isinstance(v, tuple) or (is_tuple and isinstance(v, list)) else (v,)
    if len(vs) != len(refs):
        raise RuntimeError(f"{fn}: v is a tuple of invalid length: should be {len(refs)} (one "
                           f"per {against}) but got {len(vs)}" if is_tuple else
                           f"{fn}: the given v should contain a single Tensor")
    out = []
    for i, (e, ref) in enumerate(zip(vs, refs, strict=True)):
        entry = f"entry {i} of v" if is_tuple else "v"
        if isinstance(ref, Value):
            if isinstance(e, Value) and create_graph:
                out.append(e)
                continue
            try:
                out.append(float(getattr(e, "data", e)))
            except (TypeError, ValueError):
                raise RuntimeError(f"{fn}: {entry} must be a number for a Value {against}, "
                                   f"got {type(e).__name__}") from None
            continue
        if isinstance(e, Value):
            raise TypeError(f"{fn}: {entry} is a Value but the {against} is a Tensor")
        shape = tuple(e.shape) if isinstance(e, Tensor) else np.shape(e)
        if shape != ref.shape:
            raise RuntimeError(f"{fn}: {entry} has invalid size: should be {ref.shape} (the "
                               f"{against}'s shape) but got {shape}")
        if isinstance(e, Tensor) and create_graph and e.requires_grad:
            out.append(e if e.dtype == ref.dtype else e.to(ref.dtype))
        else:
            out.append(Tensor(np.asarray(getattr(e, "data", e), ref.dtype), dtype=ref.dtype))
    return tuple(out)


def _zeros(ref):
    """Zeros shaped as ``ref`` (its dtype), needing no gradient: torch.zeros_like."""
    return Constant(0.0) if isinstance(ref, Value) else zeros_like(ref, dtype=ref.dtype)


def _seeds(refs):
    """Leaves of zeros that require grad: the ``grad_outputs`` of the double-backward trick
    (the backward pass is linear in them, so their value never matters)."""
    return tuple(Value(0.0) if isinstance(r, Value) else
                 zeros_like(r, dtype=r.dtype, requires_grad=True) for r in refs)


def _returned(nodes, is_tuple: bool, create_graph: bool):
    """Results as the user gets them: detached (unless create_graph), a tuple if the
    original was one."""
    return _unpack(tuple(_detach(x, create_graph) for x in nodes), is_tuple)


def _detach(x, create_graph: bool):
    """A result as returned: kept with its graph when ``create_graph``, else cut from it (a
    Tensor detached, a Value its float)."""
    if create_graph:
        return x
    if isinstance(x, Tensor):
        return x.detach()
    return float(x.data) if isinstance(x, Value) else float(x)


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """``engine.grad`` over the outputs that require grad, None for inputs they do not use
    (PyTorch's ``_autograd_grad``): nothing to differentiate gives all None."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    used = [(o, g) for o, g in zip(outputs, grad_outputs, strict=True)
            if o is not None and o.requires_grad]
    if not used:
        return (None,) * len(inputs)
    return grad([o for o, _ in used], list(inputs), [g for _, g in used],
                retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


_INDEPENDENT = {  # the stage of a None (or graph-less) result, as PyTorch words it
    "back": "{output} of the user-provided function is independent of input {i}",
    "back_trick": "the gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward "
                  "mode gradients",
    "double_back": "the jacobian of the user-provided function is independent of input {i}",
    "double_back_trick": "the hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian (needed by the double backward trick)",
}


_NO_GRAPH = {  # what a node without a graph means, by kind (PyTorch's words)
    "outputs": "output {i} of the user-provided function does not require gradients: the "
               "outputs must be computed in a differentiable manner from the input",
    "grad_inputs": "the gradient with respect to input {i} is independent of the inputs of "
                   "the user-provided function",
    "jacobian": "while computing the hessian, found that the jacobian of the user-provided "
                "function with respect to input {i} is independent of the input (func must "
                "be twice differentiable, and not linear in that input)",
}


def _check_requires_grad(nodes, kind: str, strict: bool, fn: str):
    """strict: every node (func's outputs, or gradients) must exist and have a graph
    (PyTorch's ``_check_requires_grad``)."""
    if not strict:
        return
    for i, node in enumerate(nodes):
        why = (_INDEPENDENT["back"] if node is None else
               _NO_GRAPH[kind] if not node.requires_grad else None)
        if why is not None:
            raise RuntimeError(f"{fn}: {why.format(i=i, output='the output')}. This is not "
                               f"allowed in strict mode (strict=True)")


def _fill_in_zeros(grads, refs, strict, create_graph, stage, fn, output="the output"):
    """Each None gradient as zeros shaped as its ref, or (``strict``) an error; with strict and
    create_graph, a gradient that has no graph is an error too (PyTorch's ``_fill_in_zeros``).
    ``output`` names the output in the error of stage "back"."""
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs, strict=True)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: {_INDEPENDENT[stage].format(i=i, output=output)}. "
                                   f"This is not allowed in strict mode (strict=True)")
            g = _zeros(ref)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"{fn}: the {what} of the user-provided function is "
                               f"independent of input {i}. This is not allowed in strict mode "
                               f"when create_graph=True")
        res.append(g)
    return tuple(res)


def _scalar_output(out, fn: str):
    """``func``'s one output with one element (hessian, vhp, hvp)."""
    if isinstance(out, (tuple, list)):
        raise RuntimeError(f"{fn}: the function given to {fn} should return a single Tensor, "
                           f"got a {type(out).__name__}")
    if isinstance(out, Tensor) and out.numel() != 1:
        raise RuntimeError(f"{fn}: the Tensor returned by the function given to {fn} should "
                           f"contain a single element, got shape {out.shape}")


# -- the public functions -------------------------------------------------------------------

def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ·J)``: the vector-Jacobian product, one backward pass (PyTorch's
    ``torch.autograd.functional.vjp``).

    ``v`` has the outputs' shapes (one per output for a tuple of outputs; optional when func
    returns one single-element Tensor); the product has the inputs' shapes (a tuple for a
    tuple of inputs).

    >>> import engine
    >>> x = engine.tensor([1.0, 2.0], dtype="float64")
    >>> engine.vjp(lambda t: t ** 2, x, engine.tensor([1.0, 10.0], dtype="float64"))[1]
    tensor([ 2., 40.], shape=(2,), dtype=float64)
    """
    with enable_grad():
        is_in_tuple, xs = _inputs(inputs, create_graph, "vjp")
        is_out_tuple, outputs = _outputs(func(*xs), strict, "vjp")
        v = _vector(v, outputs, is_out_tuple, create_graph, "vjp", "output")
        grads = _grad(outputs, xs, v, create_graph=create_graph)
        res = _fill_in_zeros(grads, xs, strict, create_graph, "back", "vjp")
    return (_returned(outputs, is_out_tuple, create_graph),
            _returned(res, is_in_tuple, create_graph))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J·v)``: the Jacobian-vector product (PyTorch's
    ``torch.autograd.functional.jvp``).

    ``v`` has the inputs' shapes (optional for one single-element input); the product has the
    outputs' shapes. Computed as PyTorch does, by the double-backward trick: with ``u`` a
    free upstream gradient, ``g(u) = uᵀJ`` is linear in ``u``, and the gradient of ``g·v``
    with respect to ``u`` is ``J·v``. So it needs ``create_graph`` through func's ops (the
    fused conv/pool/LSTM kernels refuse it by name).

    >>> import engine
    >>> x = engine.tensor([1.0, 2.0], dtype="float64")
    >>> engine.jvp(lambda t: t ** 2, x, engine.tensor([1.0, 10.0], dtype="float64"))[1]
    tensor([ 2., 40.], shape=(2,), dtype=float64)
    """
    with enable_grad():
        is_in_tuple, xs = _inputs(inputs, create_graph, "jvp")
        v = _vector(v, xs, is_in_tuple, create_graph, "jvp", "input")
        is_out_tuple, outputs = _outputs(func(*xs), strict, "jvp")
        us = _seeds(outputs)
        grad_inputs = _grad(outputs, xs, us, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict, "jvp")
        grads = _grad(grad_inputs, us, v, create_graph=create_graph)
        res = _fill_in_zeros(grads, outputs, strict, create_graph, "back_trick", "jvp")
    return (_returned(outputs, is_out_tuple, create_graph),
            _returned(res, is_out_tuple, create_graph))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """∂func(inputs)/∂inputs (PyTorch's ``torch.autograd.functional.jacobian``): one backward
    pass per output element, giving that row for every input at once.

    One input and one output: a Tensor of shape ``out.shape + x.shape`` (a float for Values).
    A tuple of inputs gives a tuple (one Jacobian per input), a tuple of outputs a tuple (one
    per output), both a tuple of tuples ``J[i][j]`` (output i, input j). Each has its input's
    dtype. ``create_graph=True``: differentiable (back to the inputs). ``vectorize`` gives
    the same numbers (row by row: stepgrad has no vmap); ``strategy='forward-mode'`` is
    refused (no forward-mode AD: the default gives the same Jacobian).

    >>> import engine
    >>> engine.jacobian(lambda t: t ** 2, engine.tensor([1.0, 3.0], dtype="float64"))
    tensor([[2., 0.],
            [0., 6.]], shape=(2, 2), dtype=float64)
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError(f"jacobian: expected strategy to be either 'forward-mode' or "
                         f"'reverse-mode', got {strategy!r}")
    if strategy == "forward-mode":
        raise NotImplementedError("jacobian: strategy='forward-mode' needs forward-mode AD, "
                                  "which stepgrad does not have; leave the default "
                                  "strategy='reverse-mode' (the same Jacobian)")
    if vectorize and strict:
        raise RuntimeError("jacobian: strict=True and vectorize=True are not supported "
                           "together (as in PyTorch); set strict=False or vectorize=False")
    with enable_grad():
        is_in_tuple, xs = _inputs(inputs, create_graph, "jacobian")
        is_out_tuple, outputs = _outputs(func(*xs), strict, "jacobian")
        table = []
        for i, out in enumerate(outputs):
            n = out.numel() if isinstance(out, Tensor) else 1
            rows = [[] for _ in xs]  # rows[j][k]: d out.flat[k] / d xs[j]
            for k in range(n):
                onehot = None
                if isinstance(out, Tensor):
                    onehot = np.zeros(n, out.dtype)
                    onehot[k] = 1
                    onehot = onehot.reshape(out.shape)
                row = _grad((out,), xs, (onehot,), create_graph=create_graph, retain_graph=True)
                row = _fill_in_zeros(row, xs, strict, create_graph, "back", "jacobian",
                                     output=f"output {i}")
                for j, g in enumerate(row):
                    rows[j].append(g)
            jacs = [_stack(r, out, x) for r, x in zip(rows, xs, strict=True)]
            table.append(_returned(jacs, is_in_tuple, create_graph))
    return _unpack(tuple(table), is_out_tuple)


def _stack(rows, out, x):
    """The rows d out.flat[k]/dx stacked into one Jacobian of shape out.shape + x.shape
    (differentiable when the rows are); a Value's one row as it is."""
    if not isinstance(out, Tensor) or out.ndim == 0:  # one row, already x's shape
        return rows[0]
    if not rows:  # an empty output
        return zeros(out.shape + x.shape, dtype=x.dtype)
    return stack(rows).reshape(out.shape + x.shape)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """∂²func/∂inputs² of a scalar function (PyTorch's ``torch.autograd.functional.hessian``):
    the Jacobian of the gradient, so shape ``x.shape + x.shape`` for one input (a float for a
    Value), and for a tuple of inputs a tuple of tuples ``H[i][j]`` of shape
    ``inputs[i].shape + inputs[j].shape``. func must return one single-element Tensor (any
    shape: (1, 1) is squeezed). A linear func gives zeros (``strict=True``: an error)."""
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar_func(*xs):
        out = func(*xs)
        _outputs(out, strict, "hessian")
        _scalar_output(out, "hessian")
        return out.squeeze() if isinstance(out, Tensor) else out

    def gradient(*xs):  # the inner Jacobian: the gradient, with its graph
        jac = jacobian(scalar_func, xs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict, "hessian")
        return jac

    res = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return res if is_in_tuple else res[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ·H)``: the vector-Hessian product of a scalar function, without
    forming H (PyTorch's ``torch.autograd.functional.vhp``): the gradient of ``vᵀ∇func``,
    two backward passes. ``v`` and the product have the inputs' shapes (tuples for a tuple
    of inputs); v may be None for one single-element input. Equal to ``hvp`` when H is
    symmetric (func twice continuously differentiable), and cheaper.

    >>> import engine
    >>> x = engine.tensor([1.0, 2.0], dtype="float64")
    >>> engine.vhp(lambda t: (t ** 3).sum(), x, engine.tensor([1.0, 10.0], dtype="float64"))
    (tensor(9., shape=(), dtype=float64), tensor([  6., 120.], shape=(2,), dtype=float64))
    """
    return _second_order(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H·v)``: the Hessian of a scalar function times ``v``, without forming
    H (PyTorch's ``torch.autograd.functional.hvp``). A pair, as PyTorch's: write
    ``_, hv = engine.hvp(f, x, v)``. ``v`` and the product have the inputs' shapes (tuples for
    a tuple of inputs). Computed as PyTorch does, by the double-backward trick on the
    gradient (three backward passes; ``vhp`` takes two and is equal for a symmetric H)."""
    return _second_order(func, inputs, v, create_graph, strict, "hvp")


def _second_order(func, inputs, v, create_graph, strict, fn):
    """vhp and hvp (PyTorch's two functions share all but their last step)."""
    with enable_grad():
        is_in_tuple, xs = _inputs(inputs, create_graph, fn)
        v = _vector(v, xs, is_in_tuple, create_graph, fn, "input")
        out = func(*xs)
        _, outputs = _outputs(out, strict, fn)
        _scalar_output(out, fn)
        jac = _grad(outputs, xs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict, fn)
        if fn == "vhp":  # vᵀH = ∇(vᵀ∇func)
            grads = _grad(jac, xs, v, create_graph=create_graph)
            res = _fill_in_zeros(grads, xs, strict, create_graph, "double_back", fn)
        else:  # H·v: w ↦ wᵀH is linear in w; its gradient in w along v is H·v
            ws = _seeds(xs)
            double_back = _grad(jac, xs, ws, create_graph=True)
            grads = _grad(double_back, ws, v, create_graph=create_graph)
            res = _fill_in_zeros(grads, xs, strict, create_graph, "double_back_trick", fn)
    return (_detach(outputs[0], create_graph),
            _returned(res, is_in_tuple, create_graph))


def gradgradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Check second derivatives: the gradient of ``fn`` (for a random upstream gradient),
    differentiated by ``create_graph``, against finite differences of that gradient.

    ``inputs`` as for :func:`engine.gradcheck` (float64 Tensors that require grad, or Values;
    listed, or PyTorch's one tuple). Returns True or raises GradcheckError naming the input
    and element (``raise_exception=False``: returns False).
    """
    inputs = torch_inputs(inputs)
    targets = [t for t in inputs if isinstance(t, Value) or
               (isinstance(t, Tensor) and t.requires_grad)]
    if not targets:
        raise ValueError("gradgradcheck: no input requires grad")
    out0 = fn(*inputs)
    rng = np.random.default_rng(seed)
    v = None if isinstance(out0, Value) else rng.standard_normal(out0.shape)
    w = rng.standard_normal(len(targets))  # Value graphs: one random mix of the gradients

    def first_grads(*ins):
        out = fn(*ins)
        tg = [t for t in ins if isinstance(t, Value) or (isinstance(t, Tensor) and t.requires_grad)]
        gs = grad(out, tg, grad_outputs=None if v is None else v.astype(out.dtype),
                  create_graph=True, allow_unused=True)
        if isinstance(out, Value):
            return sum((wi * g for wi, g in zip(w, gs, strict=True) if g is not None), Value(0.0))
        flat = [(g if g is not None else Tensor(np.zeros(t.shape), dtype=t.dtype)).reshape(-1)
                for g, t in zip(gs, tg, strict=True)]
        from .functional import cat
        return cat(flat)

    try:
        return gradcheck(first_grads, *inputs, eps=eps, atol=atol, rtol=rtol, seed=seed,
                         constant_ok=True)
    except GradcheckError as e:
        if not raise_exception:
            return False
        raise GradcheckError("gradgradcheck (second derivatives): " + str(e)) from None
