"""The Generative block of a report: TTFT, TPOT, ITL and E2E percentiles, tokens/s, goodput and
where the token counts came from, as one view the text and HTML templates both lay out.

Shown only for a result with an `llm` block (protocol openai). The values are the Result's
own `llm/` metrics formatted like every other figure (results.metric_text), so the block can
never disagree with the metrics table below it; a percentile the spec did not ask for is `-`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from isvcperf.results.metric_text import format_measure, format_metric
from isvcperf.results.result import Result
from isvcperf.util.durations import format_duration

PERCENTILES = ("p50", "p90", "p99")
MEASURES = (
    ("ttft", "TTFT", "time to first token"),
    ("itl", "ITL", "inter-token latency, every gap"),
    ("tpot", "TPOT", "time per output token, per request"),
    ("e2e", "E2E", "to the last token"),
)
"""In metric_names.LLM_ORDER, as the metrics table below the block and the ITL/TPOT charts."""


class LatencyRow(NamedTuple):
    measure: str
    meaning: str
    p50: str
    p90: str
    p99: str
    mean: str


def generative_view(result: Result) -> dict[str, Any] | None:
    """`latency` rows (ms) and `fields` (label, value) of the Generative block, or None without llm data."""
    if not result.llm:
        return None
    metrics = result.metrics

    def value(name: str) -> str:
        found = metrics.get(f"llm/{name}")
        return "-" if found is None else format_metric(f"llm/{name}", found)

    rows = [LatencyRow(short, meaning, *(value(f"{key}-{p}") for p in PERCENTILES), value(f"{key}-mean"))
            for key, short, meaning in MEASURES]
    requests = round(metrics.get("llm/request-count", 0))
    fields = [
        ("Output tokens/s", f"{value('output-tokens-per-second')} (input and output: "
                            f"{value('total-tokens-per-second')})"),
        ("Requests/s", f"{value('request-throughput')} successful, of {requests} requests"),
        ("Goodput", _goodput(metrics, result.spec.get("goodput") or {}, value)),
        ("Token counts", _token_source(metrics)),
        ("Lengths", f"input {_length(metrics, 'input')}; output {_length(metrics, 'output')} tokens per request"),
    ]
    return {"latency": rows, "fields": fields}


def _goodput(metrics: dict[str, float], limits: dict[str, Any], value: Any) -> str:
    ratio = metrics.get("llm/goodput-ratio")
    share = "-" if ratio is None else f"{100 * ratio:.1f}%"
    checked = ", ".join(f"{key.upper()} ≤ {format_duration(limits[key])}" for key in ("ttft", "tpot", "e2e")
                        if limits.get(key) is not None)
    within = f"within {checked}" if checked else "no goodput limits set: every request without an error counts"
    return f"{value('goodput')} req/s; {share} of requests good ({within})"


def _token_source(metrics: dict[str, float]) -> str:
    """Which requests' output was counted from the server's usage and which from content frames."""
    usage, frames = round(metrics.get("llm/tokens-from-usage", 0)), round(metrics.get("llm/tokens-from-frames", 0))
    if not usage and not frames:
        return "no output tokens were counted"
    parts = []
    if usage:
        parts.append(f"{usage} from the server's usage")
    if frames:
        parts.append(f"{frames} counted from content frames (the server sent no usage)")
    return "requests' output tokens: " + ", ".join(parts)


def _length(metrics: dict[str, float], kind: str) -> str:
    low, high, mean = (metrics.get(f"llm/{kind}-length-{s}") for s in ("min", "max", "mean"))
    if low is None or high is None or mean is None:
        return "-"
    span = f"{low:g}" if low == high else f"{low:g}–{high:g}"
    return f"{span} (mean {format_measure(mean)})"
