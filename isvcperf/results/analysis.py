"""What the master's statistics mean beyond the totals: timeline, stages and lost workers.

Kept apart from metrics.py (which names numbers) because these shape the figures: the
timeline's last partial interval, the per-stage split, and how much load lost workers cost.
Whether the figures can be stood behind at all is results.validity's judgement.
"""

from __future__ import annotations

import math
import statistics

from isvcperf.loadgen.protocol import StatsDocument, Totals, WorkerStats
from isvcperf.results import llm_metrics, metrics
from isvcperf.results.result import StageResult, TimelinePoint
from isvcperf.spec import metric_names
from isvcperf.spec.model import RunSpec


def timeline(stats: StatsDocument, stage_ends: list[float], window: float) -> list[TimelinePoint]:
    """The master's per-interval summaries as points, each tagged with its stage.

    The last interval usually ends with the window, part-way through: its point sits at
    the window's end and its throughput is over the part that existed, so a chart shows no
    false drop at the end. A last part shorter than half an interval (often only the
    responses to the final arrivals: one request in the window's last millisecond read as
    1,000 req/s at an asked 200) is folded into the interval before it — counts summed,
    throughput over their joint length, that interval's percentiles kept — so it shows no
    false spike either. An interval that begins after the window (only the CPU sample of a
    worker that stopped late) is left out.
    """
    interval = float(stats.get("interval", 1.0))
    points: list[TimelinePoint] = []
    for row in stats.get("timeline", []):
        begin = row["index"] * interval
        if window and begin >= window:
            continue
        t = min(begin + interval, window) if window else begin + interval
        if points and t - begin < interval / 2 and math.isclose(points[-1].t, begin):
            last = points[-1]
            successes = last.throughput * interval + row["successes"]
            last.t, last.requests, last.errors = t, last.requests + row["requests"], last.errors + row["errors"]
            last.throughput = successes / (t - begin + interval)
            continue
        stage = next((i for i, end in enumerate(stage_ends) if begin < end), None) if stage_ends else None
        points.append(TimelinePoint(
            t=t, requests=row["requests"], errors=row["errors"], throughput=row["successes"] / max(t - begin, 1e-3),
            p50=row["p50"], p90=row["p90"], p99=row["p99"], users=row["users"], stage=stage, cpu=row.get("cpu", 0.0),
        ))
    return points


def stage_ends(spec: RunSpec) -> list[float]:
    ends, t = [], 0.0
    for stage in spec.load.stages:
        t += stage.duration
        ends.append(t)
    return ends


def stages(spec: RunSpec, total: Totals, percentiles: list[float]) -> list[StageResult]:
    """Per-stage metrics from the merged per-stage histograms and counts (and a generative run's
    per-stage llm/ data: TTFT, TPOT, tokens/s, goodput of the requests scheduled in that stage)."""
    out = []
    start = 0.0
    llm_stages = (total.get("llm") or {}).get("stages", [])
    llm_percentiles = llm_metrics.percentiles(spec.metrics.percentiles, list(spec.slos))
    for index, (stage, data) in enumerate(zip(spec.load.stages, total.get("stages", []), strict=False)):
        end = start + stage.duration
        prefix = metric_names.protocol_prefix(spec.target.protocol)
        values = metrics.compute(data, percentiles, end - start, prefix)
        values[f"{prefix}/dropped"] = float(data.get("dropped", 0))
        if index < len(llm_stages):
            values.update(llm_metrics.compute(llm_stages[index], llm_percentiles, end - start))
        target = {k: float(v) for k, v in (("rate", stage.rate), ("users", stage.users)) if v is not None}
        out.append(StageResult(index=index, start=start, end=end, target=target, metrics=values))
        start = end
    return out


def shortfall(spec: RunSpec, total: Totals, workers: dict[str, WorkerStats]) -> str:
    """How much less load than asked for was applied when workers were lost, measured by what
    the lost workers reported against what each remaining worker did (a dead worker's last,
    unreported seconds are not known to anyone, so this is an upper bound)."""
    if spec.load.requests is not None:
        return f"{total.get('requests', 0)} of the {spec.load.requests} requests asked for were sent"
    kept = [w.get("requests") or 0 for w in workers.values() if w.get("lostAt") is None]
    lost = [w.get("requests") or 0 for w in workers.values() if w.get("lostAt") is not None]
    if not kept or not max(kept):
        return "the load applied was less than asked for"
    each = statistics.mean(kept)
    applied = (sum(kept) + sum(lost)) / (each * len(workers))
    return (f"about {100 * applied:.0f}% of the load asked for was applied (the lost workers sent "
            f"{', '.join(str(n) for n in lost)} requests, the others {each:.0f} each)")


def warnings(spec: RunSpec, stats: StatsDocument | None, window: float) -> list[str]:
    """What the master saw that the checks of results.validity cannot: which workers were lost, when,
    and how much load that cost (the generator's CPU, drops and the achieved rate are checks there)."""
    if not stats:
        return []
    out = []
    workers = stats.get("workers", {})
    total = stats.get("total", {})
    lost = [f"{cid} (index {w.get('index')}{', ' + w['process'] if w.get('process') else ''})"
            for cid, w in workers.items() if w.get("lostAt") is not None]
    if lost:
        out.append(f"workers lost during the run: {', '.join(lost)}; {shortfall(spec, total, workers)}")
    return out
