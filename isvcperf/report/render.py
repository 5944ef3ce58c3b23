"""Render a Result as text, HTML or JSON.

Both human formats are laid out by Jinja2 templates from one view model built here, so
the text and HTML reports always show the same numbers formatted the same way; the
templates decide only layout. Everything from the result that a server could have
written (error examples, reasons) is escaped in HTML and stripped of control
characters in text, so a hostile response can neither run script in a browser nor drive
a terminal.
"""

from __future__ import annotations

import functools
import json
import math
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jinja2

from isvcperf import __version__
from isvcperf.outputs.formats import DEFAULT_FORMATS, FILES, FORMATS
from isvcperf.report import charts
from isvcperf.report.generative import generative_view
from isvcperf.report.junit import render_junit
from isvcperf.report.llm_charts import llm_charts
from isvcperf.report.safe_text import markdown_cell, oneline
from isvcperf.results.metric_text import format_metric, slo_row
from isvcperf.results.result import Result, StageResult, WorkerSummary
from isvcperf.spec import metric_names
from isvcperf.util.durations import format_duration
from isvcperf.util.errors import SpecError

TEXT_WIDTH = 100
"""The text report fits a 100-column terminal (long URLs and tokens excepted)."""
EXAMPLE_CHARS = 200

_TEMPLATES = {"text": "report.txt.j2", "html": "report.html.j2", "markdown": "report.md.j2"}
_LOAD_KEYS = ("users", "workers", "rate", "requests", "duration", "warmupRequests", "warmupDuration", "stages",
              "arrivals", "until")


class StageRow(NamedTuple):
    index: int
    window: str
    target: str
    throughput: str
    p50: str
    p90: str
    p99: str
    errors: str


class MetricRow(NamedTuple):
    metric: str
    value: str
    unit: str


def render(result: Result, fmt: str) -> str:
    """The report for `result` in `fmt` (one of FORMATS)."""
    if fmt == "json":
        return json.dumps(result.to_data(), indent=2)
    if fmt == "junit":
        return render_junit(view(result))
    if fmt not in _TEMPLATES:
        raise SpecError("-o", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    extras = _html_assets(result) if fmt == "html" else {}
    return environment().get_template(_TEMPLATES[fmt]).render(view(result) | extras)


def write_reports(result: Result, out_dir: Path, formats: Iterable[str] = DEFAULT_FORMATS) -> dict[str, Path]:
    """Write result.json (always: every other command reads it) and the reports in `formats`
    into `out_dir` under their FILES names; return the paths by format."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / FILES["json"]}
    result.save(paths["json"])
    for fmt in dict.fromkeys(formats):
        if fmt != "json":
            paths[fmt] = out_dir / FILES[fmt]
            paths[fmt].write_text(render(result, fmt), encoding="utf-8")
    return paths


def view(result: Result) -> dict[str, Any]:
    """Everything the templates show, already formatted."""
    slos = [slo_row(verdict) for verdict in result.slos]
    errors = sorted(result.errors, key=lambda e: -e.count)
    return {
        "result": result,
        "version": __version__,
        "verdict": result.verdict,
        "verdict_detail": _verdict_detail(result),
        "validity": _validity_word(result),
        "validity_checks": result.validity.checks if result.validity else [],
        # a "What to do" column only when a check has advice (failed or warned): else it is empty
        "validity_advised": any(check.status in ("fail", "warn") for check in result.validity.checks)
        if result.validity else False,
        "summary": _summary(result),
        "slos": slos,
        "slos_satisfied": sum(row.satisfied for row in slos),
        "generative": generative_view(result),
        "metrics": [
            MetricRow(name, format_metric(name, result.metrics[name]), metric_names.unit(name))
            for name in sorted(result.metrics, key=metric_names.order)
        ],
        "errors": errors,
        "error_total": sum(e.count for e in errors),
        "example_chars": EXAMPLE_CHARS,
        "warnings": result.warnings,
        "workers": result.workers,
        "worker_total": _worker_total(result),
        "stages": [_stage_row(stage) for stage in result.stages],
        "spec_json": json.dumps(result.spec, indent=2),
    }


def _html_assets(result: Result) -> dict[str, Any]:
    """The charts and the inlined chart library: only the HTML page has them."""
    return html_assets(charts.charts(result) + llm_charts(result))


def html_assets(found: list[charts.Chart]) -> dict[str, Any]:
    return {"charts": found, "uplot_version": charts.UPLOT_VERSION, **_vendor_files()}


@functools.cache
def _vendor_files() -> dict[str, str]:
    here = Path(__file__).parent
    return {
        "uplot_js": (here / "vendor" / "uPlot.iife.min.js").read_text(encoding="utf-8"),
        "uplot_css": (here / "vendor" / "uPlot.min.css").read_text(encoding="utf-8"),
        "charts_js": (here / "templates" / "charts.js").read_text(encoding="utf-8"),
    }


def _stage_row(stage: StageResult) -> StageRow:
    def metric(name: str) -> str:
        value = stage.metrics.get(f"http/{name}")
        return "" if value is None else format_metric(f"http/{name}", value)

    target = ", ".join(f"{key} {value:g}" for key, value in stage.target.items())
    window = "–".join(format_duration(round(t, 3)) if t else "0s" for t in (stage.start, stage.end))
    return StageRow(stage.index, window, target, metric("throughput"), metric("latency-p50"), metric("latency-p90"),
                    metric("latency-p99"), metric("error-count"))


def _validity_word(result: Result) -> str:
    """`VALID`, `INVALID: drops, achieved-rate` or why it was not judged: the first thing a report says."""
    if result.validity is None:
        return "not judged (a result written before validity checks)"
    failed = [check.name for check in result.validity.failed]
    return f"INVALID: {', '.join(failed)}" if failed else "VALID"


def _verdict_detail(result: Result) -> str:
    """One line on why the verdict is what it is; the reason, when set, follows it."""
    total = len(result.slos)
    failed = sum(not v.satisfied for v in result.slos)
    if result.verdict == "failed" and not failed:
        return f"load shortfall: {result.workers_lost} of {len(result.workers)} workers lost; the load was less than asked for"
    if result.verdict == "failed":
        note = "" if result.status == "completed" else f" (run {result.status})"
        return f"{failed} of {total} SLO{'s' if total != 1 else ''} not satisfied{note}"
    if result.verdict == "invalid":
        held = f"all {total} SLO{'s' if total != 1 else ''} held" if total else "no SLOs were given"
        return f"{held}, but the measurement is invalid: its figures cannot be stood behind"
    if result.verdict == "passed":
        return f"all {total} SLO{'s' if total != 1 else ''} satisfied" if total else "run completed; no SLOs given"
    if result.verdict == "interrupted" and not result.measured_seconds:
        return "interrupted before any load was measured"
    if result.verdict == "interrupted":
        return "the run stopped early; metrics cover only what was measured before it stopped"
    return "no load was measured"


def _summary(result: Result) -> list[tuple[str, str]]:
    """Label/value rows on the target, load and window; rows with nothing to say are left out."""
    rows = []
    target = dict(result.target)
    if "url" in target:
        rows.append(("Target", str(target.pop("url"))))
    protocol, model = target.pop("protocol", None), target.pop("model", None)
    if protocol or model:
        rows.append(("Protocol", " ".join(filter(None, [str(protocol or ""), f"(model {model})" if model else ""]))))
    rows.extend((key.capitalize(), str(value)) for key, value in target.items() if value is not None)
    if result.load:
        rows.append(("Load", load_text(result.load)))
    if result.measured_seconds > 0:
        rows.append(("Measured", format_duration(round(result.measured_seconds, 3))))
    if result.started_at:
        rows.append(("Started", result.started_at))
    if result.ended_at:
        rows.append(("Ended", result.ended_at))
    requests = _request_count(result)
    if requests is not None:
        rows.append(("Requests", str(requests)))
    return rows


def load_text(load: dict[str, Any]) -> str:
    """The applied load as one phrase: `8 users, 2 workers, open loop at 100 req/s, for 5m`."""
    parts = []
    if load.get("users") is not None:
        parts.append(_plural(load["users"], "user"))
    if load.get("workers") is not None:
        parts.append(_plural(load["workers"], "worker"))
    stages = load.get("stages") or []
    if stages:
        kind = "rate" if "rate" in stages[0] else "users"
        steps = ", ".join(f"{format_duration(s['duration'])} to {s[kind]:g}{' req/s' if kind == 'rate' else ' users'}"
                          for s in stages)
        parts.append(f"{'open' if kind == 'rate' else 'closed'} loop in stages ({steps})")
    elif load.get("rate") is not None:
        parts.append(f"open loop at {load['rate']:g} req/s" if load["rate"] else "closed loop")
    if load.get("arrivals") == "poisson":
        parts.append("Poisson arrivals")
    if load.get("requests") is not None:
        parts.append(_plural(load["requests"], "request"))
    if load.get("duration") is not None:
        span = format_duration(load["duration"])
        parts.append(f"until stable, at most {span}" if load.get("until") == "stable" else f"for {span}")
    if load.get("warmupRequests"):
        parts.append(f"warm-up {_plural(load['warmupRequests'], 'request')}")
    if load.get("warmupDuration"):
        parts.append(f"warm-up {format_duration(load['warmupDuration'])}")
    parts.extend(f"{key} {value}" for key, value in load.items() if key not in _LOAD_KEYS and value is not None)
    return ", ".join(parts)


def _plural(count: Any, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _request_count(result: Result) -> int | None:
    """Measured requests: the first `*/request-count` in report order (`http/` is the total),
    else the workers' sum, else unknown."""
    counts = [name for name in sorted(result.metrics, key=metric_names.order) if name.endswith("/request-count")]
    if counts and math.isfinite(result.metrics[counts[0]]):
        return round(result.metrics[counts[0]])
    if result.workers:
        return sum(w.requests for w in result.workers)
    return None


def _worker_total(result: Result) -> WorkerSummary | None:
    """A total row, worth showing only when there is more than one worker to add up."""
    if len(result.workers) < 2:
        return None
    return WorkerSummary(
        "total",
        sum(w.requests for w in result.workers),
        sum(w.errors for w in result.workers),
        sum(w.warmup_requests for w in result.workers),
        sum(w.dropped for w in result.workers),
    )


def text_table(rows: Iterable[Any], columns: Sequence[tuple[str, ...]], width: int | None = None) -> str:
    """An aligned plain-text table, one line per row, or `width` columns wide at most.

    `columns` holds (header, attribute) or (header, attribute, ">") for right-aligned
    numbers; rows are objects read by attribute. Booleans print as true/false like
    Iter8's report. Given a `width` (the validity table's sentences), a wider table wraps
    its widest text columns onto more lines (numbers never wrap; nor does one word, such
    as a URL, longer than its column); without, rows stay whole lines, for grep.
    """
    header = [column[0] for column in columns]
    body = [[_cell(getattr(row, column[1])) for column in columns] for row in rows]
    right = [column[2:] == (">",) for column in columns]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(columns))]
    if width is not None:
        widths = _fit(widths, right, width)
    lines = []
    for line in [header, ["-" * w for w in widths], *body]:
        cells = [[cell] if len(cell) <= w else textwrap.wrap(cell, w, break_long_words=False, break_on_hyphens=False)
                 for cell, w in zip(line, widths, strict=True)]
        for k in range(max(len(cell) for cell in cells)):
            parts = [cell[k] if k < len(cell) else "" for cell in cells]
            lines.append("  ".join(
                part.rjust(w) if r else part.ljust(w) for part, w, r in zip(parts, widths, right, strict=True)
            ).rstrip())
    return "\n".join(lines)


MIN_WRAPPED = 16
"""The narrowest a wrapped text column gets: narrower, a table is harder to read than too wide."""


def _fit(widths: list[int], right: list[bool], width: int) -> list[int]:
    """Narrow the widest text (left-aligned) column, one character at a time, until the row fits."""
    fitted = list(widths)
    while sum(fitted) + 2 * (len(fitted) - 1) > width:
        text = [i for i, r in enumerate(right) if not r and fitted[i] > MIN_WRAPPED]
        if not text:
            break
        fitted[max(text, key=lambda i: fitted[i])] -= 1
    return fitted


def text_fields(rows: Sequence[tuple[str, str]]) -> str:
    """`Label   value` lines, values wrapped to TEXT_WIDTH under their own column."""
    width = max(len(label) for label, _ in rows) + 2
    lines = []
    for label, value in rows:
        text = oneline(value)
        wrapped = textwrap.wrap(text, TEXT_WIDTH - width, break_long_words=False, break_on_hyphens=False) or [text]
        lines.append(label.ljust(width) + wrapped[0])
        lines.extend(" " * width + more for more in wrapped[1:])
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return oneline(value)


@functools.cache
def environment() -> jinja2.Environment:
    """One Jinja2 environment, built on first use: HTML autoescaped, text not, strict about typos."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), disabled_extensions=("txt.j2", "md.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(table=text_table, fields=text_fields, text_width=TEXT_WIDTH)
    env.filters["oneline"] = oneline
    env.filters["md"] = markdown_cell
    return env
