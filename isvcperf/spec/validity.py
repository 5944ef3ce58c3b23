"""`validity:` — the limits a measurement must keep to be stood behind (results.validity judges them).

Kept out of spec/model.py because it is its own concern, read only by the judgement
after the run; each default is argued in the README's validity table. Checks named in
`ignore` are still measured and shown, as warnings, but never make a result invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from isvcperf.spec.schema import duration_field
from isvcperf.util.errors import SpecError

CheckName = Literal["generator-cpu", "send-lateness", "drops", "achieved-rate", "workers-lost", "samples",
                    "stability", "warm-up", "survivorship", "master-capacity"]
CHECK_NAMES: tuple[str, ...] = CheckName.__args__  # type: ignore[attr-defined]

MASTER_WORKERS = 500
"""Worker processes one Locust master serves within half a core at the default cadence (a snapshot a
second from each, with Locust's heartbeat and report): benchmarks/README.md, section 7, measured to 64
workers on a 2-vCPU EPYC and projected — ~1,000 with 750-B snapshots, ~720 with 1.5-KB ones; 500
holds for snapshots up to ~2.7 KB."""
MASTER_ADVICE = ("past it the master's CPU, not the target, may set the pace of the workers' reports: give the "
                 "master a core of its own (kubernetes: resources.master), raise metrics.interval (a snapshot per "
                 "interval per worker), or watch the master's CPU")


@dataclass(frozen=True)
class Validity:
    """The limits of a valid measurement (README: Validity)."""

    max_generator_cpu: float = 90.0
    """Busiest worker's CPU in any interval, percent of one core."""
    max_send_lateness_p99: float = duration_field(0.005)
    """Open loop: send lateness p99 above this AND above maxLatenessShare of latency p99 is invalid."""
    max_lateness_share: float = 0.25
    max_drop_rate: float = 0.001
    """Dropped (or, with overload: queue, unsent) arrivals per scheduled arrival."""
    rate_sigmas: float = 3.0
    """Poisson arrivals: the achieved count may fall this many √N short of the asked one."""
    uniform_rate_tolerance: float = 0.01
    """Uniform arrivals: the achieved rate may fall this share short (or one arrival per worker)."""
    min_tail_samples: int = 10
    """A judged percentile q needs n·(1−q) ≥ this many requests beyond it."""
    stability_windows: int = 3
    stability_window: float = duration_field(5.0)
    stability_tolerance: float = 0.20
    """Throughput and judged percentiles of the last windows within ± this share of their mean (README:
    why looser than perf_analyzer's 10%)."""
    warmup_slowdown: float = 2.0
    """The first measured interval's p50 may be at most this many times the rest's median p50 ..."""
    warmup_floor: float = duration_field(0.001)
    """... or at most this much above it: below 1 ms it is a shared machine's jitter (0.8 ms against
    0.4 ms on nginx here), not a server warming up."""
    max_error_rate: float = 0.05
    """Above it, latency percentiles describe only the requests that survived."""
    max_workers_per_master: int = MASTER_WORKERS
    ignore: list[CheckName] = field(default_factory=list)


def stability_window(validity: Validity, interval: float) -> tuple[int, float]:
    """A stability window as the timeline measures it: whole intervals (metrics.interval) and their seconds."""
    per = max(1, round(validity.stability_window / interval))
    return per, per * interval


def check(validity: Validity) -> None:
    """Limits that cannot mean anything: one line naming the field and a sensible value."""
    shares = {"maxLatenessShare": validity.max_lateness_share, "maxDropRate": validity.max_drop_rate,
              "uniformRateTolerance": validity.uniform_rate_tolerance,
              "stabilityTolerance": validity.stability_tolerance, "maxErrorRate": validity.max_error_rate}
    for key, value in shares.items():
        if not 0 <= value < 1:
            raise SpecError(f"validity.{key}", f"{value:g} must be a share from 0 to below 1 (e.g. 0.1)")
    positive = {"maxGeneratorCpu": validity.max_generator_cpu, "rateSigmas": validity.rate_sigmas,
                "minTailSamples": validity.min_tail_samples, "stabilityWindows": validity.stability_windows,
                "warmupSlowdown": validity.warmup_slowdown, "maxWorkersPerMaster": validity.max_workers_per_master,
                "stabilityWindow": validity.stability_window, "maxSendLatenessP99": validity.max_send_lateness_p99}
    for key, value in positive.items():
        if value <= 0:
            raise SpecError(f"validity.{key}", f"{value:g} must be more than 0")


def master_capacity_note(workers: int, validity: Validity) -> str | None:
    """The warning for a run of more worker processes than one master serves (None within the limit)."""
    limit = validity.max_workers_per_master
    if workers <= limit:
        return None
    return (f"{workers} worker processes report to one Locust master, which serves {limit} "
            f"(validity.maxWorkersPerMaster): {MASTER_ADVICE}")
