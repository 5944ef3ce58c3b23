"""A capacity sweep (isvcperf.engine.sweep) for a person: one line per step as it ends,
and the latency-versus-throughput table with the capacity verdict at the end, as text and
as a self-contained HTML page (`sweep.html`) whose chart puts each step's latency against
the throughput it achieved.

A generative sweep (steps with llm/ metrics) is read against output tokens/s: its table
has tokens/s, goodput, the good share, TTFT p50/p90/p99 and TPOT p90, and its chart TTFT
and TPOT against tokens/s, the curve vLLM's and genai-perf's sweeps draw.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from isvcperf import __version__
from isvcperf.engine.sweep import Step, SweepResult
from isvcperf.report.charts import Chart, chart
from isvcperf.report.render import environment, html_assets, text_table

_COLUMNS = [("throughput req/s", "throughput", ">"), ("p50 ms", "p50", ">"), ("p90 ms", "p90", ">"),
            ("p99 ms", "p99", ">"), ("errors", "errors", ">"), ("met SLOs", "met")]
_LLM_COLUMNS = [("req/s", "throughput", ">"), ("tokens/s", "tokens", ">"), ("goodput", "goodput", ">"),
                ("good", "good", ">"), ("TTFT p50", "ttft_p50", ">"), ("p90", "ttft_p90", ">"), ("p99", "ttft_p99", ">"),
                ("TPOT p90", "tpot_p90", ">"), ("errors", "errors", ">"), ("met", "met")]


def step_line(step: Step) -> str:
    """`  passed: 40.0 req/s, p90 1.234 ms, 0 errors`, printed when the step ends
    (a generative step: tokens/s, TTFT and TPOT p90 and the good share too)."""
    line = f"  {step.verdict}: {_fmt(step.throughput)} req/s, p90 {_fmt(step.p90)} ms, {step.errors} errors"
    if not step.llm:
        return line
    return (f"{line}; {_fmt(step.llm.get('output-tokens-per-second'))} tokens/s, TTFT p90 "
            f"{_fmt(step.llm.get('ttft-p90'))} ms, TPOT p90 {_fmt(step.llm.get('tpot-p90'))} ms, {_good(step)} good")


def render_text(sweep: SweepResult) -> str:
    """The latency-versus-throughput table and the capacity verdict."""
    generative = any(s.llm for s in sweep.steps)
    columns = _LLM_COLUMNS if generative else _COLUMNS
    table = text_table(_rows(sweep), [(sweep.parameter, "load", ">"), *columns])
    units = ["", "TTFT and TPOT in ms; goodput in good requests/s; good = share of requests within the goodput limits"]
    return "\n".join([f"isvcperf sweep: {sweep.name}", "", table, *(units if generative else []), "",
                      verdict(sweep), f"Stopped: {sweep.stopped_because}"])


def verdict(sweep: SweepResult) -> str:
    if sweep.capacity is None:
        return "Capacity: none; the first step already failed"
    kept = f" and kept goodput at {100 * sweep.goodput_ratio:g}% of requests or more" if sweep.goodput_ratio else ""
    return f"Capacity: {sweep.parameter} {sweep.capacity:g} is the highest load that met every SLO{kept}"


def render_html(sweep: SweepResult) -> str:
    """`sweep.html`: the verdict, the latency-versus-throughput chart and the table of every step."""
    generative = any(s.llm for s in sweep.steps)
    columns = _LLM_COLUMNS if generative else _COLUMNS
    found = [c for c in [latency_throughput_chart(sweep)] if c is not None]
    return environment().get_template("sweep.html.j2").render(
        sweep=sweep, version=__version__, verdict=verdict(sweep), rows=_rows(sweep),
        columns=[(sweep.parameter, "load"), *((title, key) for title, key, *_ in columns)],
        **html_assets(found))


def latency_throughput_chart(sweep: SweepResult) -> Chart | None:
    """Each step's latency percentiles against the throughput it achieved: TTFT (and TPOT on a
    second axis) against output tokens/s for a generative sweep, else latency against req/s."""
    steps = [s for s in sweep.steps if (s.llm.get("output-tokens-per-second") if s.llm else s.throughput)]
    if len(steps) < 2:
        return None
    percentiles = (50, 90, 99)
    extra: dict[str, Any] = {}
    if any(s.llm for s in steps):
        series = [{"label": f"TTFT p{p}", "kind": "points-line"} for p in percentiles]
        series.append({"label": "TPOT p90", "kind": "points-line", "scale": "y2"})
        columns = [[s.llm.get(f"ttft-p{p}") for s in steps] for p in percentiles]
        columns.append([s.llm.get("tpot-p90") for s in steps])
        xs = [s.llm["output-tokens-per-second"] for s in steps]
        x, y = {"label": "output tokens/s"}, {"label": "TTFT (ms)", "format": "ms"}
        extra["y2"] = {"label": "TPOT (ms)", "format": "ms"}
    else:
        series = [{"label": f"p{p}", "kind": "points-line"} for p in percentiles]
        columns = [[getattr(s, f"p{p}") for s in steps] for p in percentiles]
        xs = [s.throughput for s in steps]
        x, y = {"label": "throughput (req/s)"}, {"label": "latency (ms)", "format": "ms"}
    return chart("sweep-latency-throughput", "Latency against throughput",
                 f"one point per step ({sweep.parameter} {', '.join(f'{s.load:g}' for s in steps)})",
                 x=x, y=y, series=series, data=[xs, *columns], **extra)


def _rows(sweep: SweepResult) -> list[Any]:
    return [
        SimpleNamespace(load=f"{s.load:g}", throughput=_fmt(s.throughput), p50=_fmt(s.p50), p90=_fmt(s.p90),
                        p99=_fmt(s.p99), errors=str(s.errors),
                        tokens=_fmt(s.llm.get("output-tokens-per-second")), goodput=_fmt(s.llm.get("goodput")),
                        good=_good(s), **{f"{m.replace('-', '_')}": _fmt(s.llm.get(m))
                                          for m in ("ttft-p50", "ttft-p90", "ttft-p99", "tpot-p90")},
                        met="yes" if s.verdict == "passed" else "no: " + (", ".join(s.failed_slos) or s.verdict))
        for s in sweep.steps
    ]


def _good(step: Step) -> str:
    ratio = step.llm.get("goodput-ratio")
    return "-" if ratio is None else f"{100 * ratio:.1f}%"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"
