"""Outcome: what a runner hands back, whichever runner it is."""

from __future__ import annotations

from dataclasses import dataclass

from isvcperf.loadgen.protocol import StatsDocument


@dataclass
class Outcome:
    """The master's final stats (or the last seen) and whether the run finished."""

    stats: StatsDocument | None
    finished: bool
    reason: str
