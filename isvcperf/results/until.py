"""`load.until: stable`: the stability check applied to a run while it goes, and how the measurement ended.

perf_analyzer measures in windows until its last three agree or it runs out of trials;
here the rule is the validity check's own (results.validity.windows_agree), applied every
poll to the intervals every worker has reported, so the live decision and the final
verdict judge the same figures: when it passes, the orchestrator asks the master to end
the measurement (the runners' `end`) and the result keeps where the judged windows ended
(`Result.stable_at`), which the final check reads again.
"""

from __future__ import annotations

from dataclasses import dataclass

from isvcperf.loadgen.protocol import StatsDocument
from isvcperf.results import analysis, validity
from isvcperf.results.result import Result, ValidityCheck
from isvcperf.spec.model import RunSpec
from isvcperf.spec.validity import stability_window
from isvcperf.util.durations import format_duration


@dataclass(frozen=True)
class Progress:
    """The rule on the run so far: whether it holds, where the judged intervals end, what it waits for."""

    stable: bool
    at: float
    """Seconds into the measured window where the complete intervals judged end."""
    waiting: str
    """For the live view: `until stable: 2 of 3 windows of 5 s measured` or `… throughput ±34% > ±20%`."""


def judge_live(spec: RunSpec, stats: StatsDocument) -> Progress:
    """The stability rule on the intervals of `stats` that every worker still measuring has reported.

    A row that one worker has sent and another not yet would read as a dip in throughput, and
    could change after the decision: complete rows never change again (the master counts each
    worker's report of an interval once), so the final check sees exactly what was judged here.
    """
    interval = float(stats.get("interval", spec.metrics.interval))
    reporting = sum(1 for worker in stats.get("workers", {}).values() if worker["lostAt"] is None) or 1
    complete = []
    for row in stats.get("timeline", []):
        if row["index"] != len(complete) or row.get("workers", reporting) < reporting:
            break  # a master older than the `workers` count: its rows count as complete
        complete.append(row)
    at = len(complete) * interval
    points = analysis.timeline({**stats, "timeline": complete}, [], at)  # type: ignore[typeddict-item]
    check = validity.windows_agree(spec, points)
    return Progress(check.status == "pass", at, _waiting(spec, check, at))


def _waiting(spec: RunSpec, check: ValidityCheck, at: float) -> str:
    limits = spec.validity
    _, window = stability_window(limits, spec.metrics.interval)
    if check.status == "skip":
        return (f"until stable: {int(at // window)} of {limits.stability_windows} windows of "
                f"{format_duration(window)} measured")
    return f"until stable: {check.value}; limit ±{100 * limits.stability_tolerance:.3g}%"


def ending(spec: RunSpec, result: Result) -> str:
    """How the measurement ended, for a run with load.until (README: load.until); "" for a fixed window
    or a run that did not complete."""
    if spec.load.until != "stable" or result.status != "completed":
        return ""
    limits = spec.validity
    _, window = stability_window(limits, spec.metrics.interval)
    if result.stable_at is None:
        return f"not stable within the {format_duration(spec.load.duration or 0.0)} maximum"
    return (f"stable after {format_duration(round(result.stable_at, 3))} ({limits.stability_windows} windows of "
            f"{format_duration(window)} within ±{100 * limits.stability_tolerance:.3g}%)")
