"""Shared benchmark helpers: timing (warmup + median), page-fault counts, tables, JSON results,
and the fair method for comparing with PyTorch.

Each section is a module ``bench/<name>.py`` with a ``main()`` that prints a table and calls
``write_json(name, data)``; ``python -m bench`` runs every section in its own process.

The fair method (``fair_env``, ``alternate``) used by the sections that compare with PyTorch:

- every measurement runs in its own fresh process (``python -m bench.<section> --worker
  <library>``): thread pools, JIT caches and heaps never mix;
- both libraries run under the same glibc malloc settings, the ones stepgrad applies to itself
  (engine/fast/memory.py: ``MALLOC_MMAP_THRESHOLD_`` 32 MiB, ``MALLOC_TRIM_THRESHOLD_`` 256 MiB),
  given to both processes through the environment; PyTorch is also run under glibc's defaults
  (its out-of-the-box numbers, page faults included) as a separate column;
- numpy's OpenBLAS runs on its native kernels: ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
  are removed from the benchmark processes' environment (some machines force an older core
  type); tests and CI never see this;
- the processes of the two libraries alternate over several rounds (the order flips every
  round), so a slow spell on a shared machine hits both; a row's ratio is the median of the
  per-round ratios, and its times are the medians over the rounds of each process's median.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
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


MALLOC_SAME = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}
FORCED_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def fair_env(malloc="same") -> dict:
    """The environment of a benchmark process: the caller's, without the variables that force
    OpenBLAS's core type or cache size, and with ``malloc="same"`` stepgrad's malloc settings
    (engine/fast/memory.py) or ``"default"`` glibc's (no MALLOC_* variable: for PyTorch's
    out-of-the-box numbers; stepgrad would still apply its own on import)."""
    env = {k: v for k, v in os.environ.items()
           if k not in FORCED_BLAS_VARS and not k.startswith("MALLOC_")}
    if malloc == "same":
        env.update(MALLOC_SAME)
    elif malloc != "default":
        raise ValueError(f"fair_env: malloc must be 'same' or 'default', got {malloc!r}")
    return env


def run_worker(module, args=(), env=None, timeout=900):
    """Run ``python -m <module> --worker <args>`` and return the JSON it prints last (None if
    it failed; its error output is then printed)."""
    cmd = [sys.executable, "-m", module, "--worker", *args]
    out = subprocess.run(cmd, cwd=ROOT_DIR, env=env, capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode:
        print(f"{' '.join(cmd[2:])} failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


class Hog:
    """One other CPU-bound process (a Python busy loop) for the duration of a ``with``."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.2)  # let it start spinning
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def alternate(runs: dict, rounds=ROUNDS, log=True) -> dict:
    """Run every ``runs[name]()`` once per round, in an order that flips every round; returns
    ``{name: [result of round 1, round 2, ...]}`` (a result may be None: a failed run)."""
    names = list(runs)
    results = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            results[name].append(runs[name]())
            if log:
                print(f"  round {r + 1}/{rounds}: {name} ({time.perf_counter() - t0:.1f} s)",
                      flush=True)
    return results


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio_stats(ours, theirs):
    """Per-round ratios ours[i] / theirs[i] (rounds where both ran): (median, min, max)."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)
              if a is not None and b is not None]
    if not ratios:
        return None, None, None
    return statistics.median(ratios), min(ratios), max(ratios)


def cpu_model() -> str:
    """The CPU's model name, and its family/model numbers (x86 Linux), e.g. 'AMD EPYC
    (family 25, model 17)'."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    name = fields.get("model name", platform.machine())
    if "cpu family" in fields:
        name += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
    return name


def blas_info() -> list:
    """What threadpoolctl reports about the loaded BLAS and OpenMP libraries (numpy's
    OpenBLAS: version, core type it runs on, threads), or [] without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    import numpy  # noqa: F401  (loads its BLAS)
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer",
            "filepath")
    return [{k: lib[k] for k in keep if k in lib} for lib in threadpool_info()]


def describe_machine() -> list:
    """Lines for a table's notes: CPU, load, BLAS (as threadpoolctl sees it in a process
    with the benchmark's environment)."""
    code = ("import json, sys; sys.path.insert(0, %r); from bench.common import blas_info; "
            "print(json.dumps(blas_info()))" % ROOT_DIR)
    out = subprocess.run([sys.executable, "-c", code], env=fair_env(), capture_output=True,
                         text=True)
    libs = json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else []
    lines = [f"CPU: {cpu_model()}, {os.cpu_count()} CPUs; 1-min load average "
             f"{os.getloadavg()[0]:.2f}."]
    for lib in libs:
        lines.append("threadpoolctl: " + ", ".join(
            f"{k}={v}" for k, v in lib.items() if k != "filepath")
            + f" ({os.path.basename(lib.get('filepath', ''))})")
    if not libs:
        lines.append("threadpoolctl: not installed (pip install threadpoolctl) or no BLAS found.")
    forced = [v for v in FORCED_BLAS_VARS if v in os.environ]
    if forced:
        lines.append(f"Removed from the benchmark processes' environment: {', '.join(forced)}.")
    return lines


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
