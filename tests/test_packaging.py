"""Packaging, tried as a student would outside this repository: a local engine.py or nn.py
next to their script, another distribution overwriting ours, the `stepgrad` import name,
and a plain `pip install` (no extras) in a fresh virtual environment running the tour
offline."""
import configparser
import importlib.metadata
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

import stepgrad

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "nn", "viz", "stepgrad")


def run_script(folder, code, env=None):
    """Run ``code`` as script.py in ``folder`` (so the folder is sys.path[0], as for a
    student's script), return the CompletedProcess."""
    script = folder / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], cwd=folder, capture_output=True,
                          text=True, timeout=300, env=env)


def the_error(r):
    """The one error line Python printed last, and a check that it is ours."""
    assert r.returncode != 0, r.stdout
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("stepgrad._shadow.ShadowedPackageError: "), r.stderr
    assert "During handling of the above exception" not in r.stderr  # one error, no chain
    return last


# ---------------------------------------------------------------- local files that shadow
def test_engine_py_and_nn_py_next_to_a_script(tmp_path):
    """micrograd's layout: engine.py and nn.py beside the student's script."""
    (tmp_path / "engine.py").write_text("class Value:\n    pass\n")
    (tmp_path / "nn.py").write_text("from engine import Value\n")
    r = run_script(tmp_path, "import viz\n")
    msg = the_error(r)
    assert f"'import engine' finds {tmp_path / 'engine.py'}" in msg
    assert "hides stepgrad's engine package" in msg
    assert "rename it (e.g. to my_engine.py) or run Python from another folder" in msg
    assert "cannot import name" not in r.stderr  # not the confusing error of before

    r = run_script(tmp_path, "import stepgrad\nstepgrad.nn\n")
    assert f"finds {tmp_path / 'engine.py'}" in the_error(r)

    (tmp_path / "engine.py").unlink()
    r = run_script(tmp_path, "import viz\n")
    msg = the_error(r)
    assert f"'import nn' finds {tmp_path / 'nn.py'}" in msg and "my_nn.py" in msg


def test_own_nn_py_may_still_use_stepgrads_engine(tmp_path):
    (tmp_path / "nn.py").write_text("from engine import Value\nneuron = Value(2.0) * 3\n")
    r = run_script(tmp_path, "import nn\nprint(nn.neuron.data)\n")
    assert r.returncode == 0 and r.stdout.strip() == "6.0", r.stderr


def test_a_local_package_folder_shadows_too(tmp_path):
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "__init__.py").write_text("")
    r = run_script(tmp_path, "import nn\n")
    assert f"finds {tmp_path / 'engine' / '__init__.py'}" in the_error(r)


def test_packages_find_each_other_from_any_folder(tmp_path):
    r = run_script(tmp_path, """
        import engine, nn, viz, stepgrad
        from pathlib import Path
        roots = {Path(m.__file__).resolve().parent.parent for m in (engine, nn, viz, stepgrad)}
        print(len(roots))
    """)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


# ---------------------------------------------------------------- another distribution
def copy_of_stepgrad(site):
    """stepgrad's four packages in a fresh site folder (as pip would lay them out)."""
    for name in PACKAGES:
        shutil.copytree(REPO / name, site / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.stepgrad"))


def fake_distribution(site, name, files):
    info = site / f"{name}-0.1.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.1\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    (info / "top_level.txt").write_text(name + "\n")


def test_another_distribution_overwriting_nn_is_named(tmp_path):
    site = tmp_path / "site"
    copy_of_stepgrad(site)
    # `pip install nn` (an unrelated PyPI project) writes its own nn/__init__.py over ours
    (site / "nn" / "__init__.py").write_text("'''A neural network library on TensorFlow.'''\n")
    fake_distribution(site, "nn", ["nn/__init__.py"])
    env = {**os.environ, "PYTHONPATH": str(site)}
    r = run_script(tmp_path, "import viz\n", env=env)
    msg = the_error(r)
    assert f"{site / 'nn' / '__init__.py'} is not stepgrad's" in msg
    assert "overwritten by the distribution 'nn'" in msg
    assert "pip uninstall nn, then pip install --force-reinstall stepgrad" in msg

    # ...and `pip uninstall nn` then deletes nn/__init__.py, leaving our folder headless
    (site / "nn" / "__init__.py").unlink()
    shutil.rmtree(site / "nn-0.1.1.dist-info")
    r = run_script(tmp_path, "import viz\n", env=env)
    msg = the_error(r)
    assert f"{site / 'nn' / '__init__.py'} is missing" in msg
    assert "pip install --force-reinstall stepgrad" in msg


# ---------------------------------------------------------------- the stepgrad name
def test_stepgrad_gives_the_same_modules():
    import engine
    import nn
    import viz
    assert stepgrad.engine is engine and stepgrad.nn is nn and stepgrad.viz is viz
    import stepgrad.nn.layers as layers  # an alias of nn.layers, not a second copy
    from stepgrad.nn import Linear
    assert layers is nn.layers and Linear is nn.Linear
    assert isinstance(stepgrad.nn.Linear(2, 3), nn.Module)
    assert nn.layers.__spec__.name == "nn.layers"  # the alias did not rename the module
    assert {"engine", "nn", "viz", "__version__"} <= set(dir(stepgrad))
    with pytest.raises(AttributeError):
        stepgrad.torch  # noqa: B018


def test_version_is_single_sourced():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert cfg["metadata"]["version"] == "attr: stepgrad.__version__"
    assert stepgrad.__version__ == importlib.metadata.version("stepgrad")
    assert (REPO / "stepgrad" / "__init__.py").read_text().count(stepgrad.__version__) == 1


def test_license_is_mit():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert cfg["metadata"]["license"] == "MIT"


# ---------------------------------------------------------------- plain install, offline
NO_NETWORK = """
import os, socket
_log = os.environ["STEPGRAD_TEST_NETWORK_LOG"]
def _refuse(self, address, *args, **kwargs):
    with open(_log, "a") as f:
        f.write(repr(address) + "\\n")
    raise OSError("network disabled by the test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
"""


def build_wheel(tmp_path):
    """The wheel, built from a copy of the sources (the repo gets no build/ folder)."""
    src = tmp_path / "src"
    for name in PACKAGES:
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    dist = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                        "--no-build-isolation", "--quiet", "-w", str(dist), str(src)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    (wheel,) = dist.glob("stepgrad-*.whl")
    return wheel


def runtime_requirements(wheel):
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(meta).decode().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines
            if line.startswith("Requires-Dist:") and "extra ==" not in line]


def wheelhouse(requirements):
    """Wheels of the runtime dependencies, kept between runs: the first run fills it from
    the package index; later runs (and the install itself) need no network."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    house = cache / "stepgrad" / "test-wheelhouse"
    house.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
            "--dest", str(house)]
    offline = subprocess.run(base + ["--no-index", "--find-links", str(house), *requirements],
                             capture_output=True, text=True, timeout=600)
    if offline.returncode != 0:
        online = subprocess.run(base + requirements, capture_output=True, text=True,
                                timeout=600)
        if online.returncode != 0:
            pytest.skip(f"cannot get the dependencies' wheels (no package index?): "
                        f"{online.stderr.strip().splitlines()[-1:]}")
    return house


@pytest.mark.slow
def test_plain_install_in_a_fresh_venv_runs_the_tour_offline(tmp_path):
    """`pip install stepgrad` with no extras, then `stepgrad tour --fast` with the network
    cut off: it must succeed (no mlxtend, scikit-learn, pandas, torch, safetensors, onnx)."""
    t0 = time.perf_counter()
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:  # every package and subpackage, no tests
        in_wheel = {n for n in zf.namelist() if n.endswith("/__init__.py")}
        assert "LICENSE" in {Path(n).name for n in zf.namelist()}
    in_repo = {p.relative_to(REPO).as_posix() for name in PACKAGES
               for p in (REPO / name).rglob("__init__.py") if "__pycache__" not in p.parts}
    assert in_wheel == in_repo, (in_repo - in_wheel, in_wheel - in_repo)
    requirements = runtime_requirements(wheel)
    assert not any(r.split(">")[0].split("=")[0].strip().lower() in
                   ("mlxtend", "scikit-learn", "pandas", "torch") for r in requirements)
    house = wheelhouse(requirements)
    t1 = time.perf_counter()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    python = venv / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                        "--quiet", "--no-index", "--find-links", str(house), str(wheel)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    t2 = time.perf_counter()

    sitedir = tmp_path / "no_network"
    sitedir.mkdir()
    (sitedir / "sitecustomize.py").write_text(NO_NETWORK)
    log = tmp_path / "network.log"
    home = tmp_path / "home"
    home.mkdir()
    # PATH: the venv only -- so no Graphviz either, an optional piece the tour must
    # report in one line (and write .dot files instead of .svg)
    env = {"PATH": str(venv / "bin"),
           "HOME": str(home), "PYTHONPATH": str(sitedir), "STEPGRAD_TEST_NETWORK_LOG": str(log),
           "STEPGRAD_DATA": str(tmp_path / "empty-cache"), "MPLCONFIGDIR": str(home / "mpl"),
           "LANG": "C.UTF-8"}
    check = subprocess.run([str(python), "-c", (
        "import importlib.util as u; print([m for m in ('mlxtend', 'sklearn', 'pandas', "
        "'torch', 'safetensors', 'onnx', 'tensorboardX', 'pytest') if u.find_spec(m)])")],
        capture_output=True, text=True, env=env, cwd=home, timeout=300)
    assert check.stdout.strip() == "[]", check.stdout + check.stderr  # really no extras

    out = tmp_path / "tour"
    r = subprocess.run([str(venv / "bin" / "stepgrad"), "tour", "--fast", "-o", str(out)],
                       capture_output=True, text=True, env=env, cwd=home, timeout=900)
    t3 = time.perf_counter()
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert "== Files written" in r.stdout and (out / "cnn_predictions.png").stat().st_size
    notes = r.stderr.strip().splitlines()
    assert len(notes) == 1 and "Install Graphviz" in notes[0], r.stderr  # one line
    assert (out / "neuron.dot").read_text().startswith("digraph")
    assert not log.exists(), log.read_text()  # nothing tried the network
    print(f"\nfresh venv: build + wheels {t1 - t0:.1f} s, install {t2 - t1:.1f} s, "
          f"tour --fast {t3 - t2:.1f} s")


def test_a_module_put_in_sys_modules_is_named(tmp_path):
    r = run_script(tmp_path, """
        import sys, types
        sys.modules["engine"] = types.ModuleType("engine")
        import nn
    """)
    assert "'engine' is already imported as <module 'engine'>" in the_error(r)
