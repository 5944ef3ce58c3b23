"""The Runner contract and the one loop that follows a run, whichever runner it is.

A runner starts the Plan's master and workers somewhere (processes here, pods in a
cluster) and can answer three questions: what does the master report now, is anything
wrong that waiting will not fix, and why has the run not started. Following the run —
progress, the finished phase, the start timeout, the run's deadline, ending the
measurement when the progress callback says so (load.until), the last figures after
Ctrl-C — is the same for both, so it is written once here (`follow`), on top of the
shared poll-until-deadline helper.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from isvcperf.loadgen.protocol import StatsDocument
from isvcperf.plan.topology import Plan
from isvcperf.runners.outcome import Outcome
from isvcperf.util.errors import CouldNotRun
from isvcperf.util.polling import poll_until

POLL_INTERVAL = 1.0
Progress = Callable[[StatsDocument], "str | None"]
"""Told every stats document; returns why the measurement should end now (load.until's rule held), else None."""


class Runner(Protocol):
    """What the engine needs from a runner: run it, then always close it."""

    plan: Plan
    last_stats: StatsDocument | None

    def run(self, progress: Progress, deadline: float | None) -> Outcome:
        """Start, follow until the master finished (or `deadline`, time.monotonic), return the final stats."""

    def close(self) -> None:
        """Stop and remove whatever the run started; safe after any failure."""


class Followed(Protocol):
    """The runner-specific steps `follow` calls."""

    last_stats: StatsDocument | None
    start_timeout: float
    """Seconds the master and every worker may take to connect."""

    def start(self) -> None:
        """Start the master and the workers."""

    def fetch(self) -> StatsDocument | None:
        """The master's stats document now, or None when it cannot be read yet."""

    def check(self, stats: StatsDocument | None) -> Outcome | None:
        """Raise CouldNotRun for what waiting cannot fix; an Outcome when the run ended another way."""

    def not_started(self, stats: StatsDocument | None) -> str | None:
        """Why the run has not started, when the start timeout ran out (None: keep following)."""

    def end(self) -> None:
        """Ask the master to end the measurement now: workers hand out no more tickets and send their
        final snapshots, and the run finishes as completed (loadgen.last_words: the stop route)."""

    def refresh_quietly(self) -> None:
        """After Ctrl-C: best effort to put the latest figures into `last_stats`."""

    def timed_out(self) -> Outcome:
        """The deadline passed before the master finished (`unfinished` unless the runner knows more)."""


def unfinished(last_stats: StatsDocument | None) -> Outcome:
    """The Outcome of a run stopped at its deadline: the last figures seen, not finished."""
    return Outcome(stats=last_stats, finished=False, reason="the run did not finish in time")


def follow(runner: Followed, progress: Progress, deadline: float | None) -> Outcome:
    """Start `runner` and follow it to its Outcome; KeyboardInterrupt propagates after a last refresh."""
    runner.start()
    connect_by = time.monotonic() + runner.start_timeout
    ending: list[str] = []

    def step() -> Outcome | None:
        stats = runner.fetch()
        if stats is not None:
            runner.last_stats = stats
            reason = progress(stats)
            if reason and not ending and stats["phase"] == "running":
                ending.append(reason)
                runner.end()  # then follow on: the master finishes once the workers' last figures are in
            if stats["phase"] == "finished":
                stopped = bool(stats.get("interrupted"))
                return Outcome(stats=stats, finished=not stopped, reason=stats["finishReason"] or "completed",
                               interrupted=stopped)
        ended = runner.check(stats)
        if ended is not None:
            return ended
        if (stats is None or stats["phase"] == "waiting") and time.monotonic() > connect_by:
            message = runner.not_started(stats)
            if message is not None:
                raise CouldNotRun(message)
        return None

    try:
        return poll_until(step, deadline, POLL_INTERVAL, runner.timed_out)
    except KeyboardInterrupt:
        runner.refresh_quietly()
        raise
