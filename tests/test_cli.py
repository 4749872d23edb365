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
        expected |= {"neuron.svg", "neuron_grad.svg", "neuron_step00.svg", "rnn_unrolled.svg",
                     "rnn_rolled.svg", "softmax_classifier_grad.svg"}
    assert expected <= names
    for name in expected:
        assert str(tmp_path / name) in r.stdout and (tmp_path / name).stat().st_size > 1000
