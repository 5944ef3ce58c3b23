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
    interrupted: bool = False
    """A person stopped the run before its end (the web UI's STOP): kept, and exit 130 like Ctrl-C."""
