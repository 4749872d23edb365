"""The `stepgrad` command, run as a user runs it (a subprocess)."""
import subprocess
import sys


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
