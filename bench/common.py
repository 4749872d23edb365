"""Shared benchmark helpers: timing (warmup + median), page-fault counts, tables, JSON results.

Each section is a module ``bench/<name>.py`` with a ``main()`` that prints a table and calls
``write_json(name, data)``; ``python -m bench`` runs every section in its own process.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo
RESULTS = os.path.join(ROOT_DIR, "bench", "results")


def minflt() -> int:
    """Minor page faults of this process so far (each fresh 4 KiB page touched costs one)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(fn, warmup=5, repeat=30, min_seconds=0.3):
    """Run ``fn()`` ``warmup`` times, then time it at least ``repeat`` times (and for at least
    ``min_seconds``). Returns ``{"median_ms", "min_ms", "faults_per_call", "runs"}``.

    The median resists the odd slow run (another process, a GC pause); the page faults are
    counted over the timed runs only, so warm-up allocations do not count.
    """
    for _ in range(warmup):
        fn()
    times = []
    f0 = minflt()
    start = time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 20 * repeat:
            break
    faults = (minflt() - f0) / len(times)
    return {"median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
            "faults_per_call": faults, "runs": len(times)}


def machine() -> dict:
    """What the numbers depend on: CPU count, load, versions, thread settings."""
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "loadavg_1min": round(os.getloadavg()[0], 2),
            "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        if os.environ.get(var):
            info[var] = os.environ[var]
    for mod in ("numpy", "numba", "torch"):
        if mod in sys.modules:
            info[mod] = sys.modules[mod].__version__
    return info


def busy_warning() -> str:
    """A warning line when other processes keep the CPUs busy (timings are then unreliable)."""
    load = os.getloadavg()[0]
    if load > 0.5:
        return (f"WARNING: 1-min load average is {load:.2f} on {os.cpu_count()} CPUs before "
                f"this run: other processes compete for the cores and the timings will be noisy "
                f"(multi-threaded PyTorch suffers most).")
    return ""


def write_json(name: str, data: dict, directory: str = RESULTS) -> str:
    """Write ``bench/results/<name>.json`` atomically (temp file + os.replace), with machine
    info added; returns the path. A reader never sees a half-written file."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}.json")
    payload = {"section": name, "machine": machine(), **data}
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2, default=float)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def run_torch_section(name: str):
    """Run ``bench.<name>`` (PyTorch's side of a section) in its own process and return its
    JSON, or None when torch is not installed or the run failed (the table then has no
    comparison): the two libraries' thread pools interfere when mixed in one process."""
    import importlib.util
    import subprocess
    if importlib.util.find_spec("torch") is None:
        return None
    rc = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=ROOT_DIR)
    if rc:
        print(f"bench.{name} failed (exit {rc}); no PyTorch comparison")
        return None
    return read_json(name)


def read_json(name: str, directory: str = RESULTS) -> dict:
    with open(os.path.join(directory, f"{name}.json")) as f:
        return json.load(f)


def print_table(headers, rows, title=None, notes=()) -> None:
    """A plain-text table: columns sized to their widest cell, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w)
                         for c, w in zip(r, widths, strict=True))

    if title:
        print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print(line(r))
    for note in notes:
        print(note)
    sys.stdout.flush()


def _numeric(s: str) -> bool:
    return s[:1].isdigit() or (s[:1] in "-+." and s[1:2].isdigit())
