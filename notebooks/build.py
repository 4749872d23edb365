"""Build the course notebooks from their sources and run them.

Sources are jupytext "percent" scripts in notebooks/src/ (easy to read and diff); each becomes
notebooks/<name>.ipynb, executed top to bottom so the committed notebook carries its outputs.

    python notebooks/build.py                 # every notebook, full run (FAST off)
    python notebooks/build.py 03_fully_connected --fast

The first code cell of every notebook is tagged ``parameters`` and reads
``FAST = os.environ.get("STEPGRAD_FAST") == "1"``: CI runs the notebooks with FAST on (small
subsets, few epochs), a full run is the real exercise.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"


def build(name: str, fast: bool, timeout: int = 3600) -> Path:
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(SRC / f"{name}.py")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    os.environ["STEPGRAD_FAST"] = "1" if fast else "0"
    # The kernel must import the repo's packages whether or not they are installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent),
                                                             os.environ.get("PYTHONPATH")]))
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    out = HERE / f"{name}.ipynb"
    fd, tmp = tempfile.mkstemp(dir=HERE, suffix=".ipynb.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)  # atomic: a failed run never leaves a half-written notebook
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook names (default: all in src/)")
    parser.add_argument("--fast", action="store_true", help="small parameters (as CI runs)")
    args = parser.parse_args(argv)
    names = args.names or sorted(p.stem for p in SRC.glob("*.py"))
    for name in names:
        print(f"building {name} ({'fast' if args.fast else 'full'}) ...", flush=True)
        print(f"  wrote {build(name, args.fast)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
