"""Writing an op of your own (issue 10): the README's guide runs as written, including the
command line; mistakes in a custom backward get errors naming the op and the mistake; every
op class is reachable from the registry, the scalar list and the picture labels without
being listed anywhere else; nn and viz use only engine's public names."""
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import engine
from engine.ops import xp

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _readme_op_source():
    """The Softplus class of the README's guide, as plain Python."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("## Add your own op"):]
    lines = block[block.index(">>> import numpy"):block.index(">>> x = engine.tensor")]
    code = [ln[4:] for ln in lines.splitlines() if ln.startswith((">>> ", "... "))]
    return "\n".join(code) + "\n"


def test_readme_guide_op_runs_from_the_command_line(tmp_path):
    path = tmp_path / "my_ops.py"
    path.write_text(_readme_op_source())
    run = subprocess.run([sys.executable, "-m", "viz.cli", "gradcheck", "softplus_demo",
                          "--module", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert re.search(r"softplus_demo .* ok", run.stdout) and "1 passed, 0 failed" in run.stdout


def test_gradcheck_command_unknown_name_is_one_line_and_exit_2():
    run = subprocess.run([sys.executable, "-m", "viz.cli", "gradcheck", "tahn"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2
    # close names, best first (tan, tanh, atan since the long-tail ops exist)
    assert run.stderr.strip().count("\n") == 0 and re.search(r"did you mean [a-z, ]*\btanh\b",
                                                             run.stderr)


def _op(backward, forward=None, name="custom_mistake"):
    cls = type("Mistake", (engine.Op,), {
        "name": name, "formula": "wrong on purpose",
        "forward": forward or (lambda self, a, b: a * b), "backward": backward})
    return cls


@pytest.mark.parametrize("backward,match", [
    (lambda self, g, a, b, out: (g * b,), r"'custom_mistake' returned 1 gradients for 2 inputs"),
    (lambda self, g, a, b, out: g * b, r"'custom_mistake' returned one ndarray for 2 inputs"),
    (lambda self, g, a, b, out: (g, "oops"), r"returned a str as the gradient of input 1"),
])
def test_custom_backward_mistakes_are_named(backward, match):
    op = _op(backward)
    a, b = engine.tensor([1.0], requires_grad=True), engine.tensor([2.0], requires_grad=True)
    with pytest.raises(TypeError, match=match):
        op.apply(a, b).sum().backward()


def test_reading_saved_arrays_never_saved_is_named():
    def backward(self, g, x, out):
        (mask,) = self.saved
        return g * mask
    op = _op(backward, forward=lambda self, x: x * 2, name="custom_unsaved")
    with pytest.raises(RuntimeError, match=r"'custom_unsaved' reads self.saved, but its "
                                           r"forward never called self.save"):
        op.apply(engine.tensor([1.0], requires_grad=True)).sum().backward()


def test_a_custom_op_works_on_values_and_in_pictures():
    class Cube(engine.Op):
        name, formula = "cube_demo", "d(u³)/du = 3u²"

        def forward(self, x):
            return x ** 3

        def backward(self, g, x, out):
            return g * 3 * x * x

    v = engine.Value(2.0)
    y = v.cube_demo()                      # a method of Value, derived from the class
    y.backward()
    assert y.data == 8.0 and v.grad == 12.0
    import viz
    assert "cube_demo" in viz.draw_graph(Cube.apply(engine.tensor([1.0], requires_grad=True))
                                         ).source


def test_every_op_reaches_registry_scalar_list_and_labels_by_being_defined():
    from engine.ops.base import scalar_ops
    from engine.testing import REGISTRY
    from viz.text import op_label
    covered = {op for s in REGISTRY.values() for op in s.ops}
    for name, cls in engine.OPS.items():
        if cls.__module__.startswith("engine.") and cls.differentiable:
            assert name in covered, name
        if cls.scalar is not None:
            assert name in scalar_ops()
    x = engine.tensor(np.ones((2, 3)), requires_grad=True)
    for y, label in [(x.sum(), "sum"), (x.amax(), "max"), (x.var(), "var"),
                     (x.logsumexp(), "logsumexp"), (x.mean(), "mean")]:
        assert op_label(y) == label          # all axes: no axis text, for every reduction
    assert op_label(x.sum(axis=1)) == "sum\naxis=1" and op_label(x.amax(0)) == "max\naxis=0"


def test_nn_and_viz_import_no_private_engine_names():
    # Private = one leading underscore (dunders like __repr__ are Python's, not ours).
    pattern = re.compile(r"from engine[\w.]* import [^\n]*\b_[a-zA-Z]\w*|"
                         r"engine(\.\w+)*\._[a-zA-Z]\w*|\b(Tensor|Value)\._[a-zA-Z]\w*")
    offenders = []
    for pkg in ("nn", "viz"):
        for path in (ROOT / pkg).rglob("*.py"):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line) and "engine.testing" not in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_xp_helpers_dispatch_arrays_floats_and_nodes():
    assert xp.log(1.0) == 0.0 and xp.log(0.0) == -np.inf
    assert isinstance(xp.exp(np.zeros(2)), np.ndarray)
    t = engine.tensor([0.0], requires_grad=True)
    assert isinstance(xp.exp(t), engine.Tensor) and xp.exp(t).requires_grad
