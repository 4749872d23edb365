"""The `stepgrad` command, run as a user runs it (a subprocess)."""
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "viz.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_gradcheck_command_prints_a_passing_table():
    r = run("gradcheck", "--examples", "1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["op", "inputs"]
    assert any(line.startswith("matmul ") and line.rstrip().endswith("ok") for line in lines)
    assert lines[-1].endswith("passed, 0 failed")


def test_gradcheck_command_selects_ops():
    r = run("gradcheck", "tanh", "exp")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 4


def test_tour_writes_its_files(tmp_path):
    import shutil
    r = run("tour", "--fast", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "d(tanh u)/du = 1 − tanh²u" in r.stdout
    assert "gradcheck (float64, finite differences) of dloss/dW: passed" in r.stdout
    assert "accuracy" in r.stdout
    names = {p.name for p in tmp_path.iterdir()}
    expected = {"cnn_loss.png", "cnn_predictions.png"}
    if shutil.which("dot"):
        expected |= {"neuron.svg", "neuron_grad.svg", "neuron_step03.svg",
                     "neuron_backprop.html", "neuron_backprop.gif", "mlp.svg", "mlp_layers.svg",
                     "mlp_backprop.html",
                     "softmax_classifier_grad.svg", "cnn_graph.svg", "rnn_unrolled.svg",
                     "rnn_rolled.svg", "lstm_unrolled.svg"}
    assert expected <= names
    for name in expected:
        assert str(tmp_path / name) in r.stdout and (tmp_path / name).stat().st_size > 1000
    # Every picture fits a 1,600 × 1,000 px slide at 96 dpi (issue 13), unscaled.
    from viz.render import svg_size
    for path in tmp_path.glob("*.svg"):
        w, h = svg_size(path.read_text(encoding="utf-8"))
        assert w <= 1600 and h <= 1000, (path.name, w, h)
    assert "parameters named by the model: 0.weight, 0.bias" in r.stdout


def test_draw_command_writes_the_graph_and_prints_gradients(tmp_path):
    out = tmp_path / "g.dot"  # .dot needs no Graphviz
    r = run("draw", "(a*b + b).tanh()", "a=2", "b=-3", "-o", str(out))
    assert r.returncode == 0, r.stderr
    # d/da tanh(ab + b) = b(1 − t²), d/db = (a + 1)(1 − t²), t = tanh(−9)
    import math
    t = math.tanh(-9.0)
    assert f"d/da = {-3 * (1 - t * t):.6g}" in r.stdout
    assert f"d/db = {3 * (1 - t * t):.6g}" in r.stdout
    assert "digraph" in out.read_text() and "tanh" in out.read_text()


def test_draw_command_refuses_code():
    for expr in ("__import__('os').system('true')", "a.__class__", "[a]", "open('x')"):
        r = run("draw", expr, "a=1")
        assert r.returncode == 2 and "stepgrad draw:" in r.stderr and "Traceback" not in r.stderr
    r = run("draw", "a + c", "a=1")
    assert r.returncode == 2 and "unknown name 'c'" in r.stderr


# ---------------------------------------------------------------- draw: one line, exit 2
def one_line_failure(r, needle):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert needle in r.stderr, r.stderr


def test_draw_math_failures_are_one_line(tmp_path):
    out = str(tmp_path / "g.dot")
    for expr, values, needle in [
        ("9**9**9", [], "too large for a float"),
        ("10**400", [], "too large for a float"),
        ("1" + "0" * 400 + " * a", ["a=1"], "too large for a float"),
        ("a/0", ["a=1"], "division by zero"),
        ("+".join(["a"] * 20000), ["a=1"], "too long"),
        ("+".join(["a"] * 400), ["a=1"], "readable up to 500"),
    ]:
        one_line_failure(run("draw", expr, *values, "-o", out), needle)
    assert not (tmp_path / "g.dot").exists()


def test_draw_unknown_format_is_one_line(tmp_path):
    one_line_failure(run("draw", "a*2", "a=1", "-o", str(tmp_path / "out.xyz")),
                     "cannot tell the picture format of")
    assert list(tmp_path.iterdir()) == []


def test_inf_is_drawn_where_that_is_the_math(tmp_path):
    # float multiplication overflows to inf without an exception: inf is the honest value
    r = run("draw", "a*1e308*10", "a=1", "-o", str(tmp_path / "g.dot"))
    assert r.returncode == 0 and "a*1e308*10 = inf" in r.stdout
    # log 0 = −inf and d(log a)/da = 1/a = +inf at a = 0⁺: drawn, not refused
    r = run("draw", "log(a)", "a=0", "-o", str(tmp_path / "g.dot"))
    assert r.returncode == 0 and "log(a) = -inf; d/da = inf" in r.stdout, r.stderr


def test_draw_expression_may_start_with_minus(tmp_path):
    out = str(tmp_path / "g.dot")
    r = run("draw", "-a*b", "a=2", "b=-3", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "-a*b = 6; d/da = 3, d/db = -2" in r.stdout  # d(−ab)/da = −b, d/db = −a
    r = run("draw", "-o", out, "--grad", "-(a + 1)", "a=2")
    assert r.returncode == 0 and "-(a + 1) = -3; d/da = -1" in r.stdout, r.stderr


def test_draw_without_graphviz_is_one_line(tmp_path):
    import os
    import shutil
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()  # a PATH with python but without Graphviz's dot
    os.symlink(sys.executable, bin_dir / "python")
    env = {**os.environ, "PATH": str(bin_dir)}
    if shutil.which("dot", path=str(bin_dir)):
        pytest.skip("dot still on PATH")
    r = subprocess.run([sys.executable, "-m", "viz.cli", "draw", "a*2", "a=1", "-o",
                        str(tmp_path / "g.svg")], capture_output=True, text=True, env=env,
                       timeout=300)
    one_line_failure(r, "Graphviz")


def test_tour_data_that_is_not_there_is_one_line(tmp_path):
    import os
    env = {**os.environ, "STEPGRAD_DATA": str(tmp_path / "empty")}
    r = subprocess.run([sys.executable, "-m", "viz.cli", "tour", "--fast", "--data", "mnist",
                        "-o", str(tmp_path / "out")], capture_output=True, text=True, env=env,
                       timeout=300)
    one_line_failure(r, "MNIST is not in the cache")
    assert "nn.datasets.mnist() downloads it" in r.stderr
