"""Every committed notebook runs top to bottom with FAST on (small data, few epochs).

Runs a copy: the committed notebooks keep the outputs of their full run.
"""
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks/*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_with_fast_parameters(path, monkeypatch, tmp_path):
    monkeypatch.setenv("STEPGRAD_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(path.parent.parent), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert params and "STEPGRAD_FAST" in params[0].source, "first code cell must read FAST"
    # Run where the notebook lives (it may read files beside it), writing outputs elsewhere.
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
