"""The generative metrics (`llm/...`) of a protocol-openai run, from the master's merged `llm` data.

Names and definitions (the README's "Generative models" table sets them beside vLLM's,
inference-perf's, guidellm's and genai-perf's):

- `llm/ttft-*`, `llm/itl-*`, `llm/tpot-*`, `llm/e2e-*`: milliseconds, `-mean|-stddev|-min|-max|-pNN`;
- `llm/input-length-*`, `llm/output-length-*`: tokens per request, the same statistics;
- `llm/request-count`, `llm/error-count`, `llm/error-rate`, `llm/good-count`;
- `llm/request-throughput` (successful requests/s), `llm/output-tokens-per-second`,
  `llm/total-tokens-per-second` (input + output), `llm/goodput` (good requests/s), all over
  the measured window; `llm/goodput-ratio` = good / requests;
- `llm/input-tokens`, `llm/output-tokens` (totals), `llm/tokens-from-usage` and
  `llm/tokens-from-frames` (requests whose output was counted from the server's usage, or,
  without usage, from content frames).

The Result's `llm` block keeps the merged histograms (encoded, as `histogram` is) and the
per-interval rows, for charts: `timeline: [{t, requests, good, outputTokens,
outputTokensPerSecond, goodput}]`.
"""

from __future__ import annotations

from typing import Any

from isvcperf.loadgen.protocol import LlmSlice, LlmStats, Totals
from isvcperf.results.metrics import latency_values
from isvcperf.spec import metric_names

TIMES = {"ttft": "ttft", "itl": "itl", "tpot": "tpot", "e2e": "e2e"}
LENGTHS = {"inputLength": "input-length", "outputLength": "output-length"}


def percentiles(configured: list[float], slo_metrics: list[str]) -> list[float]:
    """The configured percentiles plus any an llm/ SLO names."""
    extra = [metric_names.llm_percentile_of(m.partition("/")[2]) for m in slo_metrics if m.startswith("llm/")]
    return sorted(set(configured) | {p for p in extra if p is not None})


def of_total(total: Totals | None, configured: list[float], slo_metrics: list[str],
             window_s: float) -> dict[str, float]:
    """The `llm/...` metrics of a merged stats total (nothing when the run is not generative, or nothing
    was measured), with the configured percentiles and those the SLOs name: the final Result's and the
    live monitor's alike."""
    llm = total.get("llm") if total else None
    return compute(llm, percentiles(configured, slo_metrics), window_s) if llm else {}


def compute(llm: LlmSlice, pcts: list[float], window_s: float) -> dict[str, float]:
    """`llm/...` metrics from the merged data (loadgen.llm_recorder.merge)."""
    requests, errors, good = llm.get("requests", 0), llm.get("errors", 0), llm.get("good", 0)
    inputs, outputs = llm.get("inputTokens", 0), llm.get("outputTokens", 0)
    per_second = 1.0 / window_s if window_s > 0 else 0.0
    values: dict[str, float] = {
        "request-count": requests,
        "error-count": errors,
        "error-rate": errors / requests if requests else 0.0,
        "good-count": good,
        "request-throughput": (requests - errors) * per_second,
        "output-tokens-per-second": outputs * per_second,
        "total-tokens-per-second": (inputs + outputs) * per_second,
        "goodput": good * per_second,
        "goodput-ratio": good / requests if requests else 0.0,
        "input-tokens": inputs,
        "output-tokens": outputs,
        "tokens-from-usage": llm.get("fromUsage", 0),
        "tokens-from-frames": llm.get("fromFrames", 0),
    }
    for key, name in TIMES.items():
        values.update(latency_values(name, llm.get(key, ""), pcts))
    for key, name in LENGTHS.items():
        values.update(latency_values(name, llm.get(key, ""), pcts, ms=1.0))
    return {f"{metric_names.LLM}/{name}": float(value) for name, value in values.items()}


def block(llm: LlmStats, interval: float, window_s: float) -> dict[str, Any]:
    """The Result's `llm` block: histograms and the per-interval tokens/s and goodput."""
    timeline = []
    for index, (requests, good, tokens) in sorted((int(i), row) for i, row in llm.get("intervals", {}).items()):
        begin = index * interval
        if window_s and begin >= window_s:
            continue
        end = min(begin + interval, window_s) if window_s else begin + interval
        span = max(end - begin, 1e-3)
        timeline.append({"t": end, "requests": requests, "good": good, "outputTokens": tokens,
                         "outputTokensPerSecond": tokens / span, "goodput": good / span})
    return {"histograms": {name: llm.get(key, "") for key, name in {**TIMES, **LENGTHS}.items()},
            "timeline": timeline}
