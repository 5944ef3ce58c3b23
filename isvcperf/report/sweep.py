"""A capacity sweep (isvcperf.engine.sweep) for a person: one line per step as it ends,
and the latency-versus-throughput table with the capacity verdict at the end."""

from __future__ import annotations

from types import SimpleNamespace

from isvcperf.engine.sweep import Step, SweepResult
from isvcperf.report.render import text_table

_COLUMNS = [("throughput req/s", "throughput", ">"), ("p50 ms", "p50", ">"), ("p90 ms", "p90", ">"),
            ("p99 ms", "p99", ">"), ("errors", "errors", ">"), ("met SLOs", "met")]


def step_line(step: Step) -> str:
    """`  passed: 40.0 req/s, p90 1.234 ms, 0 errors`, printed when the step ends."""
    return f"  {step.verdict}: {_fmt(step.throughput)} req/s, p90 {_fmt(step.p90)} ms, {step.errors} errors"


def render_text(sweep: SweepResult) -> str:
    """The latency-versus-throughput table and the capacity verdict."""
    rows = [
        SimpleNamespace(load=f"{s.load:g}", throughput=_fmt(s.throughput), p50=_fmt(s.p50), p90=_fmt(s.p90),
                        p99=_fmt(s.p99), errors=str(s.errors),
                        met="yes" if s.verdict == "passed" else "no: " + (", ".join(s.failed_slos) or s.verdict))
        for s in sweep.steps
    ]
    verdict = (f"Capacity: {sweep.parameter} {sweep.capacity:g} is the highest load that met every SLO"
               if sweep.capacity is not None else "Capacity: none; the first step already failed")
    return "\n".join([f"isvcperf sweep: {sweep.name}", "", text_table(rows, [(sweep.parameter, "load", ">"), *_COLUMNS]),
                      "", verdict, f"Stopped: {sweep.stopped_because}"])


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"
