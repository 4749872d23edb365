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


def test_tour_steps_through_backprop():
    r = run("tour")
    assert r.returncode == 0, r.stderr
    assert "d(tanh u)/du = 1 − tanh²u" in r.stdout
    assert "gradcheck (float64, finite differences) of dloss/dW: passed" in r.stdout
