"""Capacity search: raise the load step by step until an SLO fails or errors appear.

perf_analyzer sweeps concurrency and prints latency against throughput; this does the
same for rate (open loop) or users (closed loop) and adds the verdict people need: the
highest load that met every SLO. Each step is a complete run of the spec (readiness,
warm-up, measurement) with its own result directory, so any step can be re-rendered or
compared on its own later. The sweep returns data (SweepResult, also written as
sweep.json); report/sweep.py words it for a person.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isvcperf.engine.monitor import DisplayFactory
from isvcperf.engine.run import run_test
from isvcperf.results.result import Result
from isvcperf.spec import schema
from isvcperf.spec.model import RunSpec
from isvcperf.util.errors import SpecError

MAX_STEPS = 50


@dataclass
class Step:
    """One step of a sweep and what it measured."""

    load: float
    verdict: str
    throughput: float | None
    p50: float | None
    p90: float | None
    p99: float | None
    errors: int
    failed_slos: list[str] = field(default_factory=list)
    out_dir: str = ""


@dataclass
class SweepResult:
    """Every step, and the highest load that met every SLO (None when even the first failed)."""

    name: str
    parameter: str
    steps: list[Step]
    capacity: float | None
    stopped_because: str

    def to_data(self) -> dict[str, Any]:
        return {**schema.dump(self), "capacity": self.capacity}  # null, not absent, when nothing passed


def sweep_loads(spec: RunSpec) -> tuple[str, list[float]]:
    """The parameter (`rate` or `users`) and the loads to try, from `load.sweep`."""
    plan = spec.load.sweep
    if plan is None:
        raise SpecError("load.sweep", "is required for a sweep, e.g. {parameter: rate, start: 50, step: 50, max: 500}")
    if plan.values:
        loads = list(plan.values)
    else:
        if plan.start is None or plan.step is None or plan.max is None:
            raise SpecError("load.sweep", "give values: [...] or all of start, step and max")
        if plan.step <= 0:
            raise SpecError("load.sweep.step", f"{plan.step:g} must be more than 0")
        loads, value = [], plan.start
        while value <= plan.max + 1e-9:
            loads.append(value)
            value += plan.step
    if not loads or any(v <= 0 for v in loads):
        raise SpecError("load.sweep", "every load must be more than 0")
    if len(loads) > MAX_STEPS:
        raise SpecError("load.sweep", f"{len(loads)} steps is more than {MAX_STEPS}; raise step or lower max")
    if spec.load.duration is None:
        raise SpecError("load.duration", "is required for a sweep: each step runs this long (e.g. 30s)")
    if spec.load.stages:
        raise SpecError("load.stages", "a sweep sets the load itself; remove load.stages")
    return plan.parameter, sorted(loads)


def step_spec(spec: RunSpec, parameter: str, value: float) -> RunSpec:
    """The spec for one step: the swept parameter set, users raised to keep up with a rate."""
    if parameter == "rate":
        load = dataclasses.replace(spec.load, rate=value)
    else:
        load = dataclasses.replace(spec.load, users=int(value), rate=0.0)
    return dataclasses.replace(spec, name=f"{spec.name}-{parameter}-{value:g}", load=load)


def run_sweep(spec: RunSpec, out_dir: Path, live: DisplayFactory, reports: Sequence[str],
              on_step: Callable[[Step], None], echo: Callable[[str], None] = print) -> SweepResult:
    """Run every step in order until one fails; write sweep.json into out_dir.

    `live` and `reports` are each step's presentation (as for run_test); `on_step` hears
    each step's row as soon as it is measured.
    """
    parameter, loads = sweep_loads(spec)
    steps: list[Step] = []
    capacity: float | None = None
    stopped = f"every step up to {loads[-1]:g} met the SLOs"
    for i, value in enumerate(loads):
        echo(f"isvcperf sweep: step {i + 1}/{len(loads)}: {parameter} {value:g}")
        step_dir = out_dir / f"step-{i + 1:02d}-{parameter}-{value:g}"
        result = run_test(step_spec(spec, parameter, value), step_dir, live, reports, echo=lambda _line: None)
        step = summarise(value, result, step_dir)
        steps.append(step)
        on_step(step)
        if step.verdict != "passed":
            why = ", ".join(step.failed_slos) or step.verdict
            stopped = f"{parameter} {value:g}: {why}"
            break
        capacity = value
    sweep = SweepResult(spec.name, parameter, steps, capacity, stopped)
    (out_dir / "sweep.json").write_text(json.dumps(sweep.to_data(), indent=2) + "\n", encoding="utf-8")
    return sweep


def summarise(value: float, result: Result, step_dir: Path) -> Step:
    """One step's row: achieved throughput, latency and why it failed."""
    metrics = result.metrics
    failed = [v.metric for v in result.slos if not v.satisfied]
    errors = int(metrics.get("http/error-count", 0))
    verdict = result.verdict
    if verdict == "passed" and errors:
        verdict, failed = "failed", [*failed, "errors appeared"]
    return Step(
        load=value, verdict=verdict, throughput=metrics.get("http/throughput"),
        p50=metrics.get("http/latency-p50"), p90=metrics.get("http/latency-p90"), p99=metrics.get("http/latency-p99"),
        errors=errors, failed_slos=failed, out_dir=str(step_dir),
    )
