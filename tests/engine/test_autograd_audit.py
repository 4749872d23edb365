"""Autograd semantics against torch.autograd: requires_grad flags, detach_, engine.grad's
keywords, gradient shapes, gradcheck's PyTorch form, jacobian of tuples (audit 8)."""
import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")
AF = pytest.importorskip("torch.autograd.functional")

X0 = [1.0, -2.0, 0.5]


def pair(values=X0, dtype="float64", requires_grad=True):
    return (engine.tensor(values, dtype=dtype, requires_grad=requires_grad),
            torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=requires_grad))


def same(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours.data), theirs.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("flag", [False, True])
def test_setting_requires_grad_on_a_computed_tensor_raises_as_torch(flag):
    """``y.requires_grad = False`` on a non-leaf used to be stored: ops then skipped y and
    the gradient through it vanished (x.grad 1 instead of 1 + 2·3·3x below)."""
    x, tx = pair()
    with pytest.raises(RuntimeError, match="leaf"):
        (tx * 3).requires_grad = flag
    y = x * 3
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        y.requires_grad = flag
    assert y.requires_grad
    ((y * y).sum() + x.sum()).backward()
    ty = tx * 3
    ((ty * ty).sum() + tx.sum()).backward()
    same(x.grad, tx.grad)


def test_requires_grad_on_an_integer_tensor_raises_as_torch():
    with pytest.raises(RuntimeError, match="floating point"):
        torch.tensor([1, 2]).requires_grad = True
    for set_it in (lambda t: setattr(t, "requires_grad", True), lambda t: t.requires_grad_()):
        t = engine.tensor([1, 2])
        with pytest.raises(RuntimeError, match="floating point"):
            set_it(t)
        assert not t.requires_grad
    t = engine.tensor([1, 2])
    t.requires_grad = False  # allowed, as in torch
    assert engine.tensor([1.0]).requires_grad_().requires_grad
    y = engine.tensor([1.0], requires_grad=True) * 2
    assert y.requires_grad_(True) is y  # a no-op on a computed tensor, as torch's


def test_detach_in_place_as_torch():
    x, tx = pair()
    y, ty = x + 1, tx + 1
    assert y.detach_() is y and ty.detach_() is ty
    assert (y.requires_grad, y.is_leaf, y.grad_fn) == (ty.requires_grad, ty.is_leaf, None)
    assert not (y * 2).requires_grad
    x.detach_()
    assert not x.requires_grad
    d = engine.tensor([1.0], requires_grad=True).detach()
    d.detach_()  # detach() is no view (torch: _is_view() False)
    with pytest.raises(RuntimeError, match="can't detach views in-place"):
        (engine.tensor([1.0, 2.0], requires_grad=True) * 1)[:1].detach_()


def test_detach_in_place_after_a_use_never_drops_the_gradient_silently():
    """torch still reaches y's old history from z; stepgrad's graph goes through the tensor
    object, so it refuses instead of sending nothing to x."""
    for consume in (lambda y: y + 1, lambda y: y * y):
        x = engine.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        z = consume(y)
        y.detach_()
        with pytest.raises(RuntimeError, match="detach_"):
            z.sum().backward()
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    (y * y).sum().backward()
    y.detach_()  # after backward: the usual place
    (y * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 18 * np.array([1.0, 2.0]) + 3 * np.array([1.0, 2.0]))


def test_grad_accepts_torchs_keywords_in_torchs_order():
    x, tx = pair()
    z, tz = pair([1.0])
    out, tout = (x * x).sum(), (tx * tx).sum()
    ours = engine.grad(out, [x, z], materialize_grads=True, retain_graph=True)
    theirs = torch.autograd.grad(tout, [tx, tz], materialize_grads=True, retain_graph=True)
    for a, b in zip(ours, theirs, strict=True):
        same(a, b)
    same(engine.grad(out, x, None, True, False, True)[0], 2 * tx)  # only_inputs positional
    with pytest.raises(ValueError, match="allow_unused"):
        engine.grad(out, [x, z], allow_unused=False, materialize_grads=True)
    with pytest.warns(UserWarning, match="only_inputs"):
        engine.grad(out, x, only_inputs=False, retain_graph=True)
    with pytest.raises(NotImplementedError, match="is_grads_batched"):
        engine.grad(out, x, is_grads_batched=True)
    assert engine.grad(out, [x, z], allow_unused=True)[1] is None


@pytest.mark.parametrize("gshape", [(3,), (1,), ()])
def test_a_gradient_of_the_wrong_shape_is_a_runtime_error_as_torch(gshape):
    x, tx = pair([[1.0, 2.0]])
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (tx * 2).backward(torch.ones(gshape, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(engine.ones(*gshape, dtype="float64"))
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        engine.grad(x * 2, x, grad_outputs=engine.ones(*gshape, dtype="float64"))


def test_assigning_a_grad_of_the_wrong_shape_is_a_runtime_error_as_torch():
    x, tx = pair()
    with pytest.raises(RuntimeError):
        tx.grad = torch.zeros(2, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="shape"):
        x.grad = engine.zeros(2, dtype="float64")


def cube(t):
    return (t ** 3).sum()


def test_gradcheck_takes_torchs_tuple_and_raise_exception():
    """``gradcheck(fn, (x,))`` said "no input requires grad"; raise_exception was refused."""
    x, tx = pair()
    assert torch.autograd.gradcheck(cube, (tx,)) is True
    assert engine.gradcheck(cube, (x,)) is True
    assert engine.gradcheck(lambda a, b: (a * b).sum(), [x, pair()[0]]) is True
    assert engine.gradgradcheck(cube, (x,)) is True

    class WrongCube(engine.Op):
        name = "wrong_cube_audit8"
        formula = "d(u³)/du = 2u (wrong on purpose)"

        def forward(self, a):
            return a ** 3

        def backward(self, g, a, out):
            return g * 2 * a  # should be 3a²

    assert engine.gradcheck(lambda a: WrongCube.apply(a).sum(), (x,),
                            raise_exception=False) is False
    with pytest.raises(engine.GradcheckError):
        engine.gradcheck(lambda a: WrongCube.apply(a).sum(), (x,))
    del engine.OPS[WrongCube.name]  # (the registry is global: other tests walk it)


def test_gradcheck_leaves_the_inputs_grad_alone():
    x, tx = pair()
    for _ in range(2):  # accumulated: 2·3x², which no single check's backward leaves
        cube(x).backward()
        cube(tx).backward()
    engine.gradcheck(cube, x)
    torch.autograd.gradcheck(cube, (tx,))
    same(x.grad, tx.grad)


def test_jacobian_of_tuple_inputs_and_outputs_equals_torch():
    x, tx = pair()
    y, ty = pair([0.5, 1.5, -1.0])
    ours = engine.jacobian(lambda a, b: a * b.exp(), (x, y))
    theirs = AF.jacobian(lambda a, b: a * b.exp(), (tx.detach(), ty.detach()))
    assert len(ours) == 2
    for a, b in zip(ours, theirs, strict=True):
        same(a, b)
    ours = engine.jacobian(lambda a: (a * a, a.sum()), x)
    theirs = AF.jacobian(lambda a: (a * a, a.sum()), tx.detach())
    assert len(ours) == 2
    for a, b in zip(ours, theirs, strict=True):
        same(a, b)
    ours = engine.jacobian(lambda a, b: (a * b, b.sum()), (x, y))
    theirs = AF.jacobian(lambda a, b: (a * b, b.sum()), (tx.detach(), ty.detach()))
    for row, trow in zip(ours, theirs, strict=True):
        for a, b in zip(row, trow, strict=True):
            same(a, b)
    with pytest.raises(NotImplementedError, match="forward-mode"):  # (create_graph: works,
        engine.jacobian(cube, x, strategy="forward-mode")            # test_functional.py)
