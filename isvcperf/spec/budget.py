"""Every time limit of a run, derived from its spec in one place.

Readiness polls, the orchestrator's bound on a run, how long pods may take to start, how
long a finished master waits to be fetched and the deadlines Kubernetes enforces on the
run's Jobs all follow from a few spec fields. They are computed here, from the resolved
spec (whose durations all have their defaults), so two places can never disagree on a
default or on how the bounds add up.
"""

from __future__ import annotations

from dataclasses import dataclass

from isvcperf.spec.model import RunSpec

GRACE = 120.0
"""Slack on top of the load's own length: readiness races, the workers' final reports, the fetch."""
REQUESTS_RUN_BOUND = 3600.0
"""A run of `load.requests` has no natural end; in a cluster its pods are bounded at one hour."""


@dataclass(frozen=True)
class Budget:
    """The time limits of one run, in seconds."""

    request: float
    """One request (target.timeout): connect, and each wait for data."""
    ready: float
    """Waiting for the target to be ready (ready.timeout)."""
    ready_interval: float
    """Between readiness probes (ready.interval)."""
    start: float
    """For the master and every worker pod to be scheduled, pulled, started and connected (kubernetes.startTimeout)."""
    linger: float
    """A finished master waiting for its result to be fetched before it quits (kubernetes.linger)."""
    load: float | None
    """The most the load itself may take: warm-up, the measured window, the last request and GRACE;
    None for a run of `load.requests`, which ends when they are sent."""

    @property
    def load_bound(self) -> float:
        """`load`, or REQUESTS_RUN_BOUND for a run with no natural end."""
        return self.load if self.load is not None else REQUESTS_RUN_BOUND

    @property
    def master_job(self) -> int:
        """The master Job's activeDeadlineSeconds: start, load, then the linger."""
        return int(self.start + self.load_bound + self.linger)

    @property
    def launch_job(self) -> int:
        """An in-cluster launch's runner Job's activeDeadlineSeconds: readiness, then the load."""
        return int(self.ready + self.load_bound)


def budget(spec: RunSpec) -> Budget:
    """The time limits of `spec` (a resolved spec: a staged run's duration is the stages' sum)."""
    load = spec.load
    timed = load.duration + load.warmup.duration + spec.target.timeout + GRACE if load.duration is not None else None
    return Budget(request=spec.target.timeout, ready=spec.ready.timeout, ready_interval=spec.ready.interval,
                  start=spec.kubernetes.start_timeout, linger=spec.kubernetes.linger, load=timed)
