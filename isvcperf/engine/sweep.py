"""Capacity search: raise the load step by step until an SLO fails or errors appear.

perf_analyzer sweeps concurrency and prints latency against throughput; this does the
same for rate (open loop) or users (closed loop) and adds the verdict people need: the
highest load that met every SLO. For a generative target (protocol openai) each step also
keeps its TTFT, TPOT, output tokens/s and goodput, and `load.sweep.goodputRatio` makes the
capacity the highest load whose share of good requests (llm/goodput-ratio, per the spec's
`goodput:` limits) stays at the target: vLLM's and genai-perf's goodput, as a verdict. Each step is a complete run of the spec (readiness,
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
STEP_LLM_METRICS = ("output-tokens-per-second", "goodput", "goodput-ratio", "ttft-p50", "ttft-p90", "ttft-p99",
                    "tpot-p50", "tpot-p90", "tpot-p99")
"""What a generative step keeps of its llm/ metrics, for the latency-versus-tokens/s table and chart."""


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
    llm: dict[str, float] = field(default_factory=dict)
    """protocol openai: STEP_LLM_METRICS by their names without `llm/` (those measured)."""
    invalid: list[str] = field(default_factory=list)
    """The validity checks this step failed: the generator's limit, not the target's."""


@dataclass
class SweepResult:
    """Every step, and the highest load that met every SLO (None when even the first failed)."""

    name: str
    parameter: str
    steps: list[Step]
    capacity: float | None
    stopped_because: str
    goodput_ratio: float | None = None
    """The goodput target every passing step kept (load.sweep.goodputRatio), when one was set."""

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
    if plan.goodput_ratio is not None:
        _check_goodput_target(spec, plan.goodput_ratio)
    return plan.parameter, sorted(loads)


def _check_goodput_target(spec: RunSpec, ratio: float) -> None:
    if spec.target.protocol != "openai":
        raise SpecError("load.sweep.goodputRatio", f"needs target.protocol openai (this target is "
                        f"{spec.target.protocol}); for other protocols sweep on SLOs")
    if not 0 < ratio <= 1:
        raise SpecError("load.sweep.goodputRatio", f"{ratio:g} must be a share of requests, more than 0 and at most 1 "
                        "(e.g. 0.9)")
    if spec.goodput is None:
        raise SpecError("load.sweep.goodputRatio", "needs the per-request limits that make a request good, "
                        "e.g. goodput: {ttft: 200ms, tpot: 50ms}")


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
        step = summarise(value, result, step_dir, spec.load.sweep.goodput_ratio if spec.load.sweep else None)
        steps.append(step)
        on_step(step)
        if step.verdict == "invalid":
            stopped = (f"{parameter} {value:g}: the measurement was invalid ({', '.join(step.invalid)}): "
                       "the generator's limit, not the target's; the capacity is the last valid step")
            break
        if step.verdict != "passed":
            why = ", ".join(step.failed_slos) or step.verdict
            stopped = f"{parameter} {value:g}: {why}"
            break
        capacity = value
    sweep = SweepResult(spec.name, parameter, steps, capacity, stopped,
                        spec.load.sweep.goodput_ratio if spec.load.sweep else None)
    (out_dir / "sweep.json").write_text(json.dumps(sweep.to_data(), indent=2) + "\n", encoding="utf-8")
    return sweep


def summarise(value: float, result: Result, step_dir: Path, goodput_ratio: float | None = None) -> Step:
    """One step's row: achieved throughput, latency and why it failed (an SLO, errors, or a
    share of good requests under the goodput target)."""
    metrics = result.metrics
    failed = [v.metric for v in result.slos if not v.satisfied]
    errors = int(metrics.get("http/error-count", 0))
    verdict = "invalid" if not result.valid and result.status == "completed" else result.verdict
    if verdict == "passed" and errors and goodput_ratio is None:  # with a goodput target, errors count against it
        verdict, failed = "failed", [*failed, "errors appeared"]
    good = metrics.get("llm/goodput-ratio")
    if goodput_ratio is not None and verdict != "invalid" and (good is None or good < goodput_ratio):
        shown = "not measured" if good is None else f"{good:.3f}"
        verdict, failed = "failed", [*failed, f"llm/goodput-ratio {shown} < {goodput_ratio:g}"]
    return Step(
        load=value, verdict=verdict, throughput=metrics.get("http/throughput"),
        p50=metrics.get("http/latency-p50"), p90=metrics.get("http/latency-p90"), p99=metrics.get("http/latency-p99"),
        errors=errors, failed_slos=failed, out_dir=str(step_dir),
        llm={name: metrics[f"llm/{name}"] for name in STEP_LLM_METRICS if f"llm/{name}" in metrics},
        invalid=[check.name for check in result.validity.failed] if result.validity else [],
    )
