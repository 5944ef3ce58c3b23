"""The validity verdict: can these figures be stood behind? Pure checks over a Result and its spec.

The SLO verdict says whether the target met its objectives; this says whether the
measurement could tell. A saturated generator, sends that went out late, dropped
arrivals, a rate short of the asked one by more than the arrival process's own noise, lost
workers, too few requests beyond a judged percentile, windows that disagree, a warm-up
that ended too early and a high error rate (percentiles of the survivors only) each make
a run INVALID, as MLPerf LoadGen's VALID/INVALID and perf_analyzer's stable windows do.
Like k6's thresholds the checks read metrics, never the engine: each is a function of the
Result, so a stored result is judged the same way wherever it is read. Limits: spec/validity.py.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

from isvcperf.results.result import Result, TimelinePoint, Validity, ValidityCheck
from isvcperf.spec import metric_names
from isvcperf.spec.model import RunSpec
from isvcperf.spec.validity import MASTER_ADVICE, stability_window
from isvcperf.util.durations import format_duration

Check = Callable[[RunSpec, Result], ValidityCheck]
COLUMNS = (99.0, 90.0, 50.0)
"""The percentiles the timeline keeps per interval: a judged percentile is followed at the
nearest of these at or below it (p99.9 at p99, p95 at p90, the mean at p50)."""


def judge(spec: RunSpec, result: Result) -> Validity:
    """Every check, in the order the README's table lists them; invalid when any fails. A run that
    measured no request (it could not start, or stopped before the first answer) is invalid first of
    all: its checks are all skipped, and no skipped check may read as a pass."""
    checks = [check(spec, result) for check in CHECKS]
    for found in checks:
        if found.status == "fail" and found.name in spec.validity.ignore:
            found.status = "warn"
    if nothing_measured(spec, result.metrics):
        for found in checks:  # a consequence of the empty run, not advice to follow (e.g. "run 100 requests")
            if found.status in ("fail", "warn"):
                found.status, found.value = "skip", "not judged: nothing was measured"
        checks.insert(0, ValidityCheck("nothing-measured", "fail", "no request was measured", "at least 1 request",
                                       "there are no figures to judge: see the verdict's reason and the "
                                       "master's and workers' logs, fix what kept the load from running, rerun"))
    return Validity("invalid" if any(c.status == "fail" for c in checks) else "valid", checks)


def nothing_measured(spec: RunSpec, metrics: dict[str, float]) -> bool:
    """No request in the measured window: a precondition of every check, not a check to ignore."""
    return not metrics.get(metric_names.full_name(_prefix(spec), "request-count"))


def line(check: ValidityCheck) -> str:
    """One check as a sentence: `drops: 512 of 2,012 arrivals (25.4%); limit 0.1%: raise load.users`."""
    advice = f": {check.advice}" if check.advice and check.status in ("fail", "warn") else ""
    return f"{check.name}: {check.value}; limit {check.limit}{advice}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms"


def _pct(share: float) -> str:
    return f"{100 * share:.3g}%"


def _prefix(spec: RunSpec) -> str:
    return metric_names.protocol_prefix(spec.target.protocol)


def _metric(spec: RunSpec, result: Result, name: str) -> float | None:
    return result.metrics.get(metric_names.full_name(_prefix(spec), name))


def _open_loop(spec: RunSpec) -> bool:
    return spec.load.rate > 0 or any(stage.rate is not None for stage in spec.load.stages)


def _hottest(result: Result) -> float:
    return max((p.cpu for p in result.timeline), default=0.0)


def _dropped(result: Result) -> int:
    return sum(w.dropped for w in result.workers)


def generator_cpu(spec: RunSpec, result: Result) -> ValidityCheck:
    hot, limit = _hottest(result), spec.validity.max_generator_cpu
    if not result.timeline:
        return ValidityCheck("generator-cpu", "skip", "no interval measured", f"{limit:g}%")
    return ValidityCheck("generator-cpu", "fail" if hot > limit else "pass",
                         f"a worker's CPU reached {hot:.0f}% during the measured window",
                         f"{limit:g}%", "load generator saturated: latency figures include time spent in the "
                         "generator itself; add workers (load.workers) or lower the load")


def send_lateness(spec: RunSpec, result: Result) -> ValidityCheck:
    """The generator's delay inside the latency, at the highest of p99/p90/p50 the run has the samples
    for (a p99 of 80 sends is their maximum: one preempted process, not the generator's habit)."""
    cap, share = spec.validity.max_send_lateness_p99, spec.validity.max_lateness_share
    n = _metric(spec, result, "request-count") or 0.0
    q = next((c for c in COLUMNS if n * (1 - c / 100) >= spec.validity.min_tail_samples), 50.0)
    late, latency = _metric(spec, result, f"send-lateness-p{q:g}"), _metric(spec, result, f"latency-p{q:g}")
    if late is None:
        return ValidityCheck("send-lateness", "skip", "closed loop: requests have no intended time", "-")
    limit = max(cap * 1000, share * (latency or 0.0))
    return ValidityCheck("send-lateness", "fail" if late > limit else "pass",
                         f"p{q:g} {late:.3g} ms ({_pct(late / latency) if latency else '-'} of latency p{q:g})",
                         f"{limit:.3g} ms (the larger of {_ms(cap)} and {_pct(share)} of latency p{q:g})",
                         "the generator sent late, so its own delay is in the latency: add workers "
                         "(load.workers), lower load.rate, or run on a quieter machine")


def drops(spec: RunSpec, result: Result) -> ValidityCheck:
    dropped = _dropped(result)
    arrivals = dropped + int(_metric(spec, result, "request-count") or 0)
    limit = spec.validity.max_drop_rate
    if not _open_loop(spec):
        return ValidityCheck("drops", "skip", "closed loop: nothing is scheduled, nothing dropped", "-")
    share = dropped / arrivals if arrivals else 0.0
    return ValidityCheck("drops", "fail" if share > limit else "pass",
                         f"{dropped} of {arrivals} scheduled arrivals dropped ({_pct(share)})", _pct(limit),
                         f"all {spec.load.users} users were busy (users exhausted): the target could not keep up "
                         "with this rate at this concurrency; raise load.users or lower load.rate "
                         "(load.overload: queue waits instead of dropping)")


def _scheduled(spec: RunSpec) -> float:
    """Arrivals a timed run asks for: rate × duration, or the area under the rate stages."""
    if not spec.load.stages:
        return spec.load.rate * _span(spec)
    total, previous = 0.0, spec.load.rate
    for stage in spec.load.stages:
        target = stage.rate if stage.rate is not None else previous
        total += (previous + target) / 2 * stage.duration
        previous = target
    return total


def _span(spec: RunSpec) -> float:
    """A timed run's window (resolved: with stages, their sum; spec.resolve)."""
    if spec.load.duration is None:
        raise ValueError("a run of load.requests has no scheduled span")
    return spec.load.duration


def achieved_rate(spec: RunSpec, result: Result) -> ValidityCheck:
    """Short of the asked rate by more than the arrival process allows: Poisson counts vary by √N
    (so a 1% rule fires on noise), uniform ones hardly at all (one arrival per worker)."""
    load, limits = spec.load, spec.validity
    if not _open_loop(spec):
        return ValidityCheck("achieved-rate", "skip", "closed loop: no rate was asked for", "-")
    if result.status != "completed" or result.measured_seconds <= 0:
        return ValidityCheck("achieved-rate", "skip", "the run did not complete", "-")
    sent = _metric(spec, result, "request-count") or 0.0
    if load.requests is not None:  # the count is fixed, the time it took is what varies
        expected, achieved, asked = float(load.requests), sent / result.measured_seconds, load.rate
    elif result.stable_at is not None:  # load.until ended it early: the rate over what was measured
        achieved, asked = sent / result.measured_seconds, load.rate
        expected = asked * result.measured_seconds
    else:
        expected = _scheduled(spec)
        span = _span(spec)
        achieved, asked = sent / span, expected / span
    if expected <= 0:
        return ValidityCheck("achieved-rate", "skip", "no arrivals were scheduled", "-")
    if load.arrivals == "poisson":
        tolerance, how = limits.rate_sigmas / math.sqrt(expected), f"{limits.rate_sigmas:g}σ of √N, Poisson"
    else:
        tolerance = max(limits.uniform_rate_tolerance, max(len(result.workers), 1) / expected)
        how = "uniform"
    short = 1 - achieved / asked
    return ValidityCheck("achieved-rate", "fail" if short > tolerance else "pass",
                         f"achieved {achieved:.1f} req/s of the {asked:g} req/s asked for ({-100 * short:+.1f}%)",
                         f"-{_pct(tolerance)} ({how}, N = {expected:.0f})", _rate_cause(spec, result))


def _rate_cause(spec: RunSpec, result: Result) -> str:
    if _hottest(result) > spec.validity.max_generator_cpu:
        return "the generator's CPU was saturated; add workers (load.workers)"
    if _dropped(result):
        return ("all users were busy: the target could not keep up with this rate at this concurrency; "
                "raise load.users or lower load.rate")
    if spec.load.requests is not None:
        return ("the requests took longer to send than requests ÷ rate: the generator fell behind its schedule; "
                "add workers or lower load.rate")
    return "no drops and no busy generator explain it: look at the send lateness, run longer to narrow the noise"


def workers_lost(spec: RunSpec, result: Result) -> ValidityCheck:
    lost = result.workers_lost
    return ValidityCheck("workers-lost", "fail" if lost else "pass", f"{lost} of {len(result.workers)} workers lost",
                         "0", "the load applied was less than asked for (see the warnings for which and when); "
                         "check the workers' logs and rerun")


def _judged(spec: RunSpec) -> list[tuple[str, float]]:
    """The SLOs on a percentile, with that percentile."""
    found = []
    for name in spec.slos:
        family, _, metric = name.partition("/")
        q = metric_names.llm_percentile_of(metric) if family == metric_names.LLM else metric_names.percentile_of(metric)
        if q is not None and q < 100:
            found.append((name, q))
    return found


def samples(spec: RunSpec, result: Result) -> ValidityCheck:
    """n·(1−q) ≥ minTailSamples: p99.9 on 400 requests rests on 0.4 requests, i.e. on the maximum."""
    need = spec.validity.min_tail_samples
    judged = _judged(spec)
    if not judged:
        return ValidityCheck("samples", "skip", "no SLO on a percentile", f"n·(1−q) ≥ {need}")
    worst = None
    for name, q in judged:
        count = result.metrics.get(metric_names.full_name(name.partition("/")[0], "request-count"))
        n = count if count is not None else _metric(spec, result, "request-count") or 0.0
        beyond = n * (1 - q / 100)
        if worst is None or beyond < worst[2]:
            worst = (name, n, beyond, math.ceil(round(need / (1 - q / 100), 6)))
    name, n, beyond, enough = worst  # type: ignore[misc]
    return ValidityCheck("samples", "fail" if beyond < need - 1e-9 else "pass",
                         f"{name} rests on {_requests(beyond)} of {n:.0f} requests beyond it",
                         f"n·(1−q) ≥ {need}, here {enough} requests",
                         f"too few samples for {name}: run at least {enough} requests (load.requests, or a longer "
                         "load.duration) or judge a lower percentile")


def _requests(beyond: float) -> str:
    """How many requests a percentile rests on: to hundredths below 100 (0.16 of them), whole ones
    above (2084, not 2084.2); rounded down, so a count short of the limit never reads as reaching it."""
    if beyond >= 100:
        return str(math.floor(round(beyond, 6)))
    return f"{math.floor(round(beyond * 100, 6)) / 100:.2f}".rstrip("0").rstrip(".")


def _columns(spec: RunSpec) -> list[float]:
    """The timeline columns that follow the judged latencies (a mean is followed at p50)."""
    means = any(metric_names.generic(name.partition("/")[2]) == "latency-mean" for name in spec.slos)
    return sorted({next((c for c in COLUMNS if c <= q), 50.0) for _, q in _judged(spec)} | ({50.0} if means else set()))


def _lengths(points: list[TimelinePoint]) -> list[float]:
    return [p.t - (points[i - 1].t if i else 0.0) for i, p in enumerate(points)]


def stability(spec: RunSpec, result: Result) -> ValidityCheck:
    """perf_analyzer's rule (windows_agree) on the measured timeline; a run that `load.until: stable` ended
    is judged on the windows the live decision judged (up to `stable_at`), so both say the same."""
    points = result.timeline if result.stable_at is None else [p for p in result.timeline
                                                               if p.t <= result.stable_at + 1e-6]
    return windows_agree(spec, points)


def windows_agree(spec: RunSpec, timeline: list[TimelinePoint]) -> ValidityCheck:
    """perf_analyzer's rule: the last N windows agree, in throughput and in each judged percentile,
    within a share of their mean. One function for the final check and load.until's live decision."""
    limits = spec.validity
    windows, interval = limits.stability_windows, spec.metrics.interval
    limit = f"±{_pct(limits.stability_tolerance)} over the last {windows} windows"
    if spec.load.stages:
        return ValidityCheck("stability", "skip", "load stages change the load on purpose", limit)
    points = [p for p in timeline if p.requests]
    per, length = stability_window(limits, interval)
    if len(points) < windows * per:  # shorter windows would judge noise, not the run
        return ValidityCheck("stability", "skip", f"{format_duration(round(len(points) * interval, 3))} measured, "
                             f"less than {windows} windows of {format_duration(length)}", limit)
    tail = points[-windows * per:]
    groups = [tail[i * per:(i + 1) * per] for i in range(windows)]
    spreads = {"throughput": _spread([_throughput(g) for g in groups])}
    for q in _columns(spec):
        if all(sum(p.requests for p in g) * (1 - q / 100) >= limits.min_tail_samples - 1e-9 for g in groups):
            spreads[f"p{q:g}"] = _spread([_weighted(g, q) for g in groups])
    worst = max(spreads, key=lambda k: spreads[k])
    shown = ", ".join(f"{k} ±{_pct(v)}" for k, v in spreads.items())
    advice = (f"the windows disagree on {worst}: the run had not settled within load.duration, the maximum; "
              "raise load.duration, or find what keeps the target from settling" if spec.load.until == "stable"
              else f"the windows disagree on {worst}: the run had not settled; run longer "
              "(load.until: stable measures until it has)")
    return ValidityCheck("stability", "fail" if spreads[worst] > limits.stability_tolerance else "pass",
                         f"{shown} over {windows} windows of {format_duration(round(length, 3))}", limit, advice)


def _throughput(group: list[TimelinePoint]) -> float:
    lengths = _lengths(group)
    return sum(p.throughput * dt for p, dt in zip(group, lengths, strict=True)) / max(sum(lengths), 1e-9)


def _weighted(group: list[TimelinePoint], q: float) -> float:
    """A window's percentile: its intervals' values weighted by their requests (the timeline keeps no
    histogram per interval; an approximation, stated in the README)."""
    key = {99.0: "p99", 90.0: "p90", 50.0: "p50"}[q]
    pairs = [(getattr(p, key), p.requests) for p in group if getattr(p, key) is not None]
    return sum(v * n for v, n in pairs) / max(sum(n for _, n in pairs), 1)


def _spread(values: list[float]) -> float:
    """Half the range over the mean: ±10% means every window within 10% of the middle."""
    mean = statistics.fmean(values) if values else 0.0
    return (max(values) - min(values)) / 2 / mean if mean > 0 else 0.0


def warm_up(spec: RunSpec, result: Result) -> ValidityCheck:
    """The first measured interval much slower than the rest: the server (or its caches, JIT,
    connection pools) was still warming when measurement began."""
    slowdown, floor = spec.validity.warmup_slowdown, spec.validity.warmup_floor * 1000
    limit = f"×{slowdown:g} and +{floor:g} ms"
    if spec.load.stages:
        return ValidityCheck("warm-up", "skip", "load stages change the load on purpose", limit)
    points = [p for p in result.timeline if p.p50 is not None]
    if len(points) < 3:
        return ValidityCheck("warm-up", "skip", f"{len(points)} intervals measured, fewer than 3", limit)
    first, rest = points[0].p50 or 0.0, statistics.median(p.p50 or 0.0 for p in points[1:])
    ratio = first / rest if rest > 0 else 1.0
    slow = ratio > slowdown and first - rest > floor
    return ValidityCheck("warm-up", "fail" if slow else "pass",
                         f"first interval p50 {first:.3g} ms, ×{ratio:.2f} the rest's median {rest:.3g} ms",
                         limit, "warm-up too short: the first measured interval was much slower than the "
                         "rest; lengthen load.warmup (e.g. {duration: 10s})")


def survivorship(spec: RunSpec, result: Result) -> ValidityCheck:
    rate, limit = _metric(spec, result, "error-rate"), spec.validity.max_error_rate
    if not _metric(spec, result, "request-count"):
        return ValidityCheck("survivorship", "skip", "no requests measured", _pct(limit))
    rate = rate or 0.0
    return ValidityCheck("survivorship", "fail" if rate > limit else "pass", f"{_pct(rate)} of requests failed",
                         _pct(limit), f"latency percentiles describe only the {_pct(1 - rate)} of requests that "
                         "succeeded: fix the errors (see Errors) or lower the load before reading the latency")


def master_capacity(spec: RunSpec, result: Result) -> ValidityCheck:
    """Advice only: past the limit the master's CPU, not the target, may set the pace of reports.
    Judged on the workers asked (load.workers; no more are started than users) as well as those that
    attached, so a run that never got them all is still told."""
    attached, limit = len(result.workers), spec.validity.max_workers_per_master
    asked = min(spec.load.workers or 0, spec.load.users)
    workers = max(attached, asked)
    value = f"{workers} worker{'s' if workers != 1 else ''}" + (f" asked, {attached} attached" if asked > attached else "")
    return ValidityCheck("master-capacity", "warn" if workers > limit else "pass", value, f"{limit} per master",
                         f"more workers than one master serves within half a core (benchmarks/README.md, section 7); "
                         f"{MASTER_ADVICE}")


CHECKS: tuple[Check, ...] = (generator_cpu, send_lateness, drops, achieved_rate, workers_lost, samples, stability,
                             warm_up, survivorship, master_capacity)
