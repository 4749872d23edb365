"""Every committed notebook runs top to bottom with FAST on (small data, few epochs).

Runs a copy: the committed notebooks keep the outputs of their full run.
"""
import os
import re
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


# -- the index of course items (issue 15) ---------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "notebooks" / "README.md"
CATALOGUE = ROOT.parent / "shared" / "seeds" / "EXERCISES.md"
ROW = re.compile(r"^\| `(\d{3}-[\w-]+)` \| `(\w+)` \|", re.M)


def _index():
    return {m.group(1): m.group(2) for m in ROW.finditer(INDEX.read_text(encoding="utf-8"))}


def test_every_indexed_item_has_an_answering_cell_in_its_notebook():
    index = _index()
    assert index, "notebooks/README.md lists no course item"
    missing = []
    for item, name in sorted(index.items()):
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        headed = [c for c in nb.cells if c.cell_type == "markdown" and f"`{item}`" in c.source]
        if not headed:
            missing.append(f"{item} (index says {name})")
    assert not missing, "no markdown cell names these items:\n" + "\n".join(missing)


def test_each_item_is_answered_in_one_place():
    seen = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for c in nb.cells:
            if c.cell_type == "markdown":
                for item in set(re.findall(r"^#+ .*?`(\d{3}-[\w-]+)`", c.source, re.M)):
                    seen.setdefault(item, []).append(path.stem)
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    assert not twice, f"items headed in several notebooks: {twice}"


@pytest.mark.skipif(not CATALOGUE.exists(), reason="the course catalogue (../shared/seeds) is "
                    "not beside this checkout")
def test_the_index_covers_the_whole_catalogue():
    catalogue = set(re.findall(r"^- `(\d{3}-[\w-]+)`", CATALOGUE.read_text(encoding="utf-8"),
                               re.M))
    assert len(catalogue) >= 100
    missing = sorted(catalogue - set(_index()))
    assert not missing, f"catalogue items without an index row: {missing}"
