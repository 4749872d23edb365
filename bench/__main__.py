"""Run the benchmarks: ``python -m bench`` (the default sections) or ``python -m bench conv_pool``.

``threads`` (the thread-policy measurements behind engine/fast/threads.py, ~10 minutes) runs only
when named: ``python -m bench threads``. ``BENCH_ROUNDS=n`` sets how many alternating rounds
the PyTorch comparisons run (default 5; see bench/common.py for the method).

Each section runs in its own process (``python -m bench.<section>``) so thread pools, JIT
caches and allocator state never leak from one into the next. A section prints its table and
writes ``bench/results/<section>.json``. Nothing is installed here: sections that compare with
PyTorch do so only when ``torch`` is importable (``pip install torch==2.13.0``).

To add a section, write ``bench/<name>.py`` with a ``main()`` and list it in SECTIONS.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

SECTIONS = ["scalar", "conv_pool", "nn_train"]
OPTIONAL = ["threads"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    names = list(argv if argv is not None else sys.argv[1:]) or SECTIONS
    unknown = [n for n in names if n not in SECTIONS + OPTIONAL]
    if unknown or any(n in ("-h", "--help") for n in names):
        print(f"usage: python -m bench [{' | '.join(SECTIONS + OPTIONAL)}] ...", file=sys.stderr)
        return 0 if not unknown else 2
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=ROOT)
        print(f"=== bench.{name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in "
              f"{time.perf_counter() - t0:.1f} s ===", flush=True)
        if rc:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
