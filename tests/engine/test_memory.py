"""engine.fast.memory: freed memory stays in the process, so a repeated large allocation stops
page-faulting (glibc on Linux only)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import resource, sys
import numpy as np
import engine
print(engine.fast.memory.applied)   # importing changes nothing
engine.conv2d(engine.ones(1, 1, 3, 3), engine.ones(1, 1, 3, 3))  # the speed machinery does
print(engine.fast.memory.applied)
def step():  # like a training step: many MiB-sized temporaries alive at once, then freed
    arrays = [np.ones(3 << 20, np.uint8) for _ in range(10)]
    del arrays
step()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) // 20)
"""


def faults_per_allocation(env_extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "False"
    return out[1] == "True", int(out[2])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    applied, faults = faults_per_allocation({})
    assert applied
    assert faults < 100  # the 30 MiB are reused: not 7,680 fresh pages per step
    applied_off, faults_off = faults_per_allocation({"STEPGRAD_KEEP_MEMORY": "0"})
    assert not applied_off
    assert faults_off > 5000  # glibc's defaults hand the memory back and fault it in again
