"""How many CPUs this process may really use: the cgroup quota, not the node's core count.

In a pod, `os.cpu_count()` is the node's cores (64 on a big node) while the container may
be limited to 2 CPUs by its cgroup quota; one Locust worker per "core" would then start 64
processes fighting over 2 CPUs. The in-cluster runner sizes its workers from this instead.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def available_cpus(cgroup: Path = CGROUP) -> int:
    """The CPUs usable here: the smallest of the affinity mask and the cgroup (v2 or v1) quota, at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _cgroup_quota(cgroup)
    return max(1, min(cores, math.ceil(quota))) if quota is not None else max(1, cores)


def _cgroup_quota(cgroup: Path) -> float | None:
    """CPUs allowed by `cpu.max` (v2) or `cpu.cfs_quota_us`/`cpu.cfs_period_us` (v1); None when unlimited."""
    try:
        text = (cgroup / "cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
        if text:
            return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None
