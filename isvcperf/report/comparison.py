"""Render a Comparison (isvcperf.results.compare) as text, HTML or Markdown.

Same Jinja2 environment, number formatting and page style as the single-run reports, so
a value reads the same in `isvcperf report` and `isvcperf compare`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from isvcperf.outputs.formats import COMPARE_FORMATS
from isvcperf.report import charts
from isvcperf.report.render import environment, html_assets, load_text
from isvcperf.results.compare import Comparison, MetricDelta
from isvcperf.results.metric_text import format_metric, with_unit
from isvcperf.results.result import Result
from isvcperf.spec import metric_names
from isvcperf.util.errors import SpecError

_TEMPLATES = {"text": "compare.txt.j2", "html": "compare.html.j2", "markdown": "compare.md.j2"}
SAME = 0.005
"""Relative changes under half a percent are shown as `same`."""


class DeltaRow(NamedTuple):
    metric: str
    base: str
    candidate: str
    change: str
    relative: str
    judgement: str
    regressed: bool


class RunRow(NamedTuple):
    role: str
    name: str
    verdict: str
    started: str
    load: str
    requests: str
    target: str


class SLORow(NamedTuple):
    metric: str
    base: str
    candidate: str
    regressed: bool


def render_comparison(comparison: Comparison, fmt: str) -> str:
    if fmt not in _TEMPLATES:
        raise SpecError("-o", f"{fmt!r} is not one of {', '.join(COMPARE_FORMATS)}")
    extras = html_assets(_spectrum_overlay(comparison)) if fmt == "html" else {}
    return environment().get_template(_TEMPLATES[fmt]).render(view(comparison) | extras)


def view(comparison: Comparison) -> dict[str, Any]:
    return {
        "runs": [_run("base", comparison.base), _run("candidate", comparison.candidate)],
        "regressed": comparison.regressed,
        "verdict": comparison.verdict,
        "regressions": [*comparison.invalid, *regression_lines(comparison)],
        "warnings": comparison.warnings,
        "metrics": [_delta_row(d) for d in comparison.metrics],
        "slos": [SLORow(s.metric, _held(s.base), _held(s.candidate), s.regressed) for s in comparison.slos],
    }


def regression_lines(comparison: Comparison) -> list[str]:
    """One line per regression, for the verdict: SLOs that stopped holding, then metrics."""
    lines = [f"SLO {s.metric} held for the base and fails for the candidate" for s in comparison.slos if s.regressed]
    for delta in comparison.metrics:
        if not delta.regressed:
            continue
        if delta.candidate is None:
            lines.append(f"{delta.metric} was not measured for the candidate")
            continue
        way = "up" if delta.direction == "lower" else "down"
        size = f"{abs(delta.relative):.1%}" if delta.relative is not None else f"{abs(delta.change or 0.0):g}"
        values = f"{format_metric(delta.metric, delta.base)} → {format_metric(delta.metric, delta.candidate)}"
        lines.append(f"{delta.metric} {way} {size} ({with_unit(values, metric_names.unit(delta.metric))}), "
                     f"more than the {delta.tolerance} allowed")
    return lines


def _run(role: str, result: Result) -> RunRow:
    counts = [v for k, v in result.metrics.items() if k.endswith("/request-count")]
    return RunRow(role, result.name, result.verdict, result.started_at or "-", load_text(result.load) or "-",
                  str(round(max(counts))) if counts else "-",
                  str(result.target.get("url", "")))


def _held(satisfied: bool | None) -> str:
    return "-" if satisfied is None else "satisfied" if satisfied else "NOT satisfied"


def _delta_row(delta: MetricDelta) -> DeltaRow:
    unit = metric_names.unit(delta.metric)

    def shown(value: float | None) -> str:
        text = format_metric(delta.metric, value)
        return text if value is None else with_unit(text, unit)

    change = delta.change
    change_text = "" if change is None else ("+" if change >= 0 else "") + shown(change)
    relative = delta.relative
    relative_text = "" if relative is None else f"{relative:+.1%}"
    return DeltaRow(delta.metric, shown(delta.base), shown(delta.candidate), change_text, relative_text,
                    _judgement(delta), delta.regressed)


def _judgement(delta: MetricDelta) -> str:
    if delta.regressed:
        return f"REGRESSED (tolerance {delta.tolerance})"
    if delta.change is not None and delta.tolerance is None and delta.direction != "neutral":
        return "not judged"  # p99.9, max: too few requests to judge a run by, unless asked for
    if delta.direction == "neutral" or delta.change is None:
        return ""
    relative = delta.relative
    if delta.change == 0 or (relative is not None and abs(relative) < SAME):
        return "same"
    better = delta.change < 0 if delta.direction == "lower" else delta.change > 0
    if better:
        return "better"
    noise = f" and noise ±{with_unit(format_metric(delta.metric, delta.noise), metric_names.unit(delta.metric))}" \
        if delta.noise else ""
    return f"worse, within {delta.tolerance}{noise}" if delta.tolerance else "worse"


def _spectrum_overlay(comparison: Comparison) -> list[charts.Chart]:
    """Both runs' percentile spectra on one chart, when both have a histogram."""
    spectra = [charts.percentile_spectrum(r) for r in (comparison.base, comparison.candidate)]
    if not all(spectra):
        return []
    base, candidate = spectra
    assert base is not None and candidate is not None
    base["id"], base["title"] = "spectrum-comparison", "Latency by percentile, base and candidate"
    base["series"] = [{"label": "base", "kind": "line", "color": "#6e7781"},
                      {"label": "candidate", "kind": "line", "color": "#0969da"}]
    base["data"].append(candidate["data"][1])
    return [base]
