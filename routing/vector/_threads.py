"""How many threads the encoders get: sized from the cores the process may use, not the
machine's. A pod with a CPU limit of 1 on a 16-core node sees 16 CPUs in os.cpu_count(),
and 16 BLAS or onnxruntime threads there only queue for the one core it is given.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _quota_cores(cgroup: Path) -> float | None:
    """The CPU limit of the process's cgroup in cores (None: no limit, or none found).
    cgroup v2 writes "<quota> <period>" (or "max <period>") to cpu.max; cgroup v1 has
    cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us under cpu/ or cpu,cpuacct/."""
    v2 = _read(cgroup / "cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        if quota == "max":
            return None
        try:
            return int(quota) / int(period or "100000")
        except ValueError:
            return None
    for directory in (cgroup / "cpu", cgroup / "cpu,cpuacct", cgroup):
        quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
        if quota is None or period is None:
            continue
        try:
            quota_us, period_us = int(quota), int(period)
        except ValueError:
            return None
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    return None


def available_cores(cgroup: Path = CGROUP, affinity: int | None = None) -> int:
    """The cores this process may use: the CPUs it may run on (sched_getaffinity), capped
    by its cgroup's CPU limit rounded down (a 1.5-core limit throttles a second busy
    thread), at least 1."""
    if affinity is None:
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    cores = affinity
    quota = _quota_cores(cgroup)
    if quota is not None:
        cores = min(cores, math.floor(quota))
    return max(1, cores)


def encoder_threads(cores: int | None = None) -> int:
    """Threads per encoder (onnxruntime intra-op, BLAS): ROUTER_ENCODER_THREADS, or with 0
    (the default) the cores left once the event loop has one, shared by the ensemble's two
    encoders, which run side by side: max(1, (cores - 1) // 2)."""
    from django.conf import settings

    configured = settings.ROUTER_ENCODER_THREADS
    if configured:
        return configured
    if cores is None:
        cores = available_cores()
    return max(1, (cores - 1) // 2)
