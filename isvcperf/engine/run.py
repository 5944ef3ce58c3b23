"""One test from spec to Result: payload, readiness, runner, metrics, SLOs, reports.

The flow goes one way. Whatever happens — the target never gets ready, the user presses
Ctrl-C, the master dies — the result and reports are written with what was measured, the
processes are stopped, and the exit code says which of those it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isvcperf.engine.monitor import DisplayFactory, Monitor, StopEarly, warmup_failure
from isvcperf.loadgen.protocol import StatsDocument
from isvcperf.outputs.publish import Publisher
from isvcperf.payload.bodies import Bodies, load_payload, with_models
from isvcperf.readiness.http import wait_ready
from isvcperf.results import analysis, llm_metrics, metrics, server_view, slo, until, validity
from isvcperf.results.result import ErrorGroup, Result, Validity, WorkerSummary
from isvcperf.runners.base import Runner
from isvcperf.runners.local import LocalRunner
from isvcperf.runners.outcome import Outcome
from isvcperf.spec import metric_names, observability, schema
from isvcperf.spec.budget import budget
from isvcperf.spec.model import RunSpec
from isvcperf.spec.request import ca_bundle_path, request_headers
from isvcperf.spec.validity import master_capacity_note
from isvcperf.util.durations import format_duration
from isvcperf.util.errors import CouldNotRun, SpecError

if TYPE_CHECKING:
    from isvcperf.kube.cluster import Cluster


class Interrupted(Exception):
    """The user interrupted the run; the partial result has been written."""

    def __init__(self, result: Result) -> None:
        super().__init__("interrupted")
        self.result = result


def default_out_dir(spec: RunSpec) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path("isvcperf-results") / f"{spec.name}-{stamp}"


def prepare_out_dir(out_dir: Path) -> Path:
    """Create the output directory and prove it is writable, before any load is sent."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".isvcperf-write-test"
        probe.write_bytes(b"x" * 4096)
        probe.unlink()
    except OSError as exc:
        raise SpecError("--out", f"cannot write to {str(out_dir)!r}: {exc.strerror or exc}; choose another directory") from None
    return out_dir


def check_inputs(spec: RunSpec) -> tuple[RunSpec, Bodies]:
    """Everything that can be checked without the target: payloads, header variables, CA bundle,
    and the pacer and scheduler slice the workers will take from ISVCPERF_PACER and ISVCPERF_SLICE_US.

    Returns the bodies, and the spec with what they tell (the model a gRPC payload names).
    """
    # gevent: loaded for this check, not by every command that imports the engine
    from isvcperf.loadgen import pacing, pauses

    pacing.configured()
    pauses.configured_slice()
    for endpoint in spec.all_endpoints():
        request_headers(spec, endpoint=endpoint)
    observability.check_environment(spec)
    ca_bundle_path(spec)
    bodies = load_payload(spec)
    return with_models(spec, bodies), bodies


def run_test(spec: RunSpec, out_dir: Path, live: DisplayFactory, reports: Sequence[str], ui: bool = False,
             echo: Callable[[str], None] = print, ui_host: str | None = None, ui_port: int | None = None,
             ui_linger: float = 0.0) -> Result:
    """Run the test and write result.json and the reports in `reports` into `out_dir`.

    The caller chooses the presentation: `live` makes what shows the run while it goes,
    `reports` names the report formats written at the end. With the web UI, `ui_port` fixes
    its port and `ui_linger` keeps it open that many seconds after the result is written.

    Raises CouldNotRun (result written with status could-not-run) or Interrupted (partial
    result written); otherwise returns the Result, whose verdict decides the exit code.
    """
    spec, payload = check_inputs(spec)
    prepare_out_dir(out_dir)
    publish = Publisher(out_dir, reports, echo, spec.notify)
    echo(f"isvcperf: {spec.name}: {spec.target.protocol} {spec.infer_url or f'InferenceService {spec.target.isvc}'}")
    runner: Runner | None = None
    watch: server_view.ServerWatch | None = None
    prefix = metric_names.protocol_prefix(spec.target.protocol)

    def partial(status: str, reason: str) -> Result:
        """Stop what runs, then keep whatever was measured."""
        if runner is not None:
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C only cuts the graceful stop short
                runner.close()
        stats, warnings = (runner.last_stats, runner.plan.warnings) if runner else (None, [])
        result = build_result(spec, stats, status, reason, warnings)
        server_view.finish(watch, result, prefix)
        publish(result)
        return result

    try:
        cluster = _cluster(spec)
        if cluster is not None and spec.target.isvc:
            from isvcperf.readiness.isvc import wait_isvc

            in_cluster = spec.runner == "kubernetes" or "KUBERNETES_SERVICE_HOST" in os.environ
            spec = wait_isvc(spec, cluster, in_cluster, progress=echo)
        if spec.runner == "local":  # the pods' network is not this machine's: there the API's Ready decides
            wait_ready(spec, progress=echo)
        echo(f"isvcperf: target ready ({spec.infer_url}); starting {load_text(spec)}")
        watch = server_view.start(spec)
        if cluster is not None and spec.runner == "kubernetes":
            from isvcperf.runners.kubernetes import KubernetesRunner

            runner = KubernetesRunner(spec, payload, cluster, echo)
        else:
            runner = LocalRunner(spec, payload, out_dir, ui=ui, ui_host=ui_host, ui_port=ui_port)
        crowded = master_capacity_note(len(runner.plan.workers), spec.validity)
        if crowded:
            echo(f"isvcperf: warning: {crowded}")
        ui_url = runner.plan.web_url if ui and spec.runner == "local" else None
        with Monitor(spec, live(spec, echo), ui_url, judge=functools.partial(validity_so_far, spec)) as monitor:
            outcome = runner.run(monitor, _deadline(spec))
        failure = warmup_failure(outcome.stats)  # a run too short for the monitor to see it
        if failure is not None:
            raise failure
        linger = ui_linger if ui and spec.runner == "local" else 0.0
        if not linger:
            runner.close()
    except StopEarly as exc:
        return partial("interrupted", exc.reason)
    except KeyboardInterrupt:
        raise Interrupted(partial("interrupted", "interrupted by the user")) from None
    except CouldNotRun as exc:
        partial("could-not-run", str(exc))
        raise
    result = from_outcome(spec, outcome, runner.plan.warnings, monitor.stable_at)
    server_view.finish(watch, result, prefix)
    publish(result)
    if linger:
        _keep_ui_open(runner, linger, echo)
    if outcome.interrupted:  # the web UI's STOP: kept like Ctrl-C, and the same exit code
        raise Interrupted(result)
    return result


def validity_so_far(spec: RunSpec, stats: StatsDocument, stable_at: float | None = None) -> Validity | None:
    """The validity checks on a run still going (judged as unfinished: no achieved-rate verdict yet),
    for the live view and the web UI's tab, under `isvcperf run` and plain Locust alike."""
    return build_result(spec, stats, "interrupted", "", [], stable_at).validity


def _cluster(spec: RunSpec) -> Cluster | None:
    """The cluster's API when the run needs it; the Kubernetes client loads only then (a local run starts faster)."""
    if spec.runner != "kubernetes" and not spec.target.isvc:
        return None
    from isvcperf.kube.cluster import Cluster

    return Cluster(spec.kubernetes.context, spec.kubernetes.namespace)


def _keep_ui_open(runner: Runner, seconds: float, echo: Callable[[str], None]) -> None:
    """--ui-linger: the result is written; leave the web UI up so a person can look at the final
    charts, until `seconds` pass or Ctrl-C, then stop the processes."""
    echo(f"isvcperf: the web UI stays open at {runner.plan.web_url} for {format_duration(seconds)}; "
         "Ctrl-C closes it (the result is written)")
    with contextlib.suppress(KeyboardInterrupt):
        time.sleep(seconds)
    runner.close()


def _deadline(spec: RunSpec) -> float | None:
    """A bound on a timed run, so a stuck master can never hang a CI job."""
    load = budget(spec).load
    return time.monotonic() + load if load is not None else None


def load_text(spec: RunSpec) -> str:
    load = spec.load
    amount = format_duration(load.duration) if load.duration is not None else f"{load.requests} requests"
    if load.until == "stable":
        amount = f"until stable, at most {amount}"
    rates = [stage.rate for stage in load.stages if stage.rate is not None]
    if rates:
        model = f"open loop in {len(load.stages)} stages up to {max(rates):g} req/s"
    elif load.stages:
        model = f"closed loop in {len(load.stages)} stages"
    else:
        model = f"open loop at {load.rate:g} req/s" if load.rate else "closed loop"
    return f"{amount}, {load.users} users, {model}"


def from_outcome(spec: RunSpec, outcome: Outcome, warnings: list[str], stable_at: float | None = None) -> Result:
    """The Result of a run that ended on its own (`stable_at`: where load.until's judged windows end)."""
    status = "completed" if outcome.finished else "interrupted"
    reason = "" if outcome.finished and outcome.reason == "completed" else outcome.reason
    workers = outcome.stats["workers"] if outcome.stats else {}
    lost = sum(1 for w in workers.values() if w["lostAt"] is not None)
    if lost:  # never a silent pass on less load than asked for (README: worker loss)
        reason = f"load shortfall: {lost} of {len(workers)} workers lost"
    return build_result(spec, outcome.stats, status, reason, warnings, stable_at)


def build_result(spec: RunSpec, stats: StatsDocument | None, status: str, reason: str,
                 plan_warnings: list[str], stable_at: float | None = None) -> Result:
    """Turn the master's stats (possibly partial or absent) into a Result with SLO verdicts."""
    total = stats["total"] if stats else None
    start, end = (total["measureStart"], total["measureEnd"]) if total else (None, None)
    window = metrics.window(total)
    percentiles = metrics.wanted_percentiles(spec.metrics.percentiles, list(spec.slos))
    prefix = metric_names.protocol_prefix(spec.target.protocol)
    ids = [endpoint.id for endpoint in spec.endpoints]
    values = metrics.with_endpoints(total, ids, percentiles, window, prefix) if total else {}
    # protocol openai: the token-level metrics beside the http/ ones
    values.update(llm_metrics.of_total(total, spec.metrics.percentiles, list(spec.slos), window))
    llm = total.get("llm") if total else None
    workers_data = stats["workers"] if stats else {}
    result = Result(
        name=spec.name,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        started_at=_iso(start),
        ended_at=_iso(end),
        measured_seconds=window,
        target=_target(spec),
        load=_load_applied(spec, len(workers_data) or None),
        metrics=values,
        histogram=total["histogram"] if total else "",
        errors=[ErrorGroup(type=k, count=c, example=e) for k, (c, e) in sorted(
            (total["errorGroups"] if total else {}).items(), key=lambda item: -item[1][0])],
        warnings=[*plan_warnings, *analysis.warnings(spec, stats, window)],
        workers=[
            WorkerSummary(id=cid, requests=w["requests"] or 0, errors=w["errors"] or 0,
                          warmup_requests=w["warmupRequests"] or 0, dropped=w["dropped"] or 0,
                          lost_at=_iso(w["lostAt"]), process=w["process"])
            for cid, w in sorted(workers_data.items(), key=lambda item: item[1]["index"])
        ],
        timeline=analysis.timeline(stats, analysis.stage_ends(spec), window) if stats else [],
        stages=analysis.stages(spec, total, percentiles) if total else [],
        spec=spec.to_data(),
        stable_at=stable_at,
    )
    if llm:
        result.llm = llm_metrics.block(llm, stats["interval"] if stats else spec.metrics.interval, window)
    result.slos = slo.evaluate(spec.slos, values)
    result.validity = validity.judge(spec, result)
    result.until = until.ending(spec, result)
    return result


def _target(spec: RunSpec) -> dict[str, Any]:
    """What was tested, for the result: the URL, or each endpoint with its weight."""
    if not spec.endpoints:
        return {"url": spec.infer_url, "protocol": spec.target.protocol, "model": spec.target.model}
    total = sum(endpoint.weight for endpoint in spec.endpoints)
    return {"protocol": spec.target.protocol, "endpoints": ", ".join(
        f"{e.id} {e.target.url} ({100 * e.weight / total:.4g}% of requests)" for e in spec.endpoints)}


def _load_applied(spec: RunSpec, workers: int | None) -> dict[str, Any]:
    load = spec.load
    applied: dict[str, Any] = {"users": load.users, "workers": workers, "rate": load.rate}
    if load.requests is not None:
        applied["requests"] = load.requests
    if load.duration is not None:
        applied["duration"] = load.duration
    if load.until is not None:
        applied["until"] = load.until
    if load.warmup.requests:
        applied["warmupRequests"] = load.warmup.requests
    if load.warmup.duration:
        applied["warmupDuration"] = load.warmup.duration
    if load.rate or any(stage.rate is not None for stage in load.stages):
        applied["arrivals"] = load.arrivals
    if load.stages:
        applied["stages"] = [schema.dump(stage) for stage in load.stages]
    return {k: v for k, v in applied.items() if v is not None}


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

