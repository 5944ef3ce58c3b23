"""The HTML report's Generative charts, from a protocol-openai Result's `llm` block.

The same drawing rules as report.charts (Python computes every number, the page only
draws): the TTFT distribution and percentile spectrum, ITL beside TPOT (the two numbers
other tools call by each other's names, so they are drawn together and labelled), output
tokens/s and goodput over the measured window, and the input/output length
distributions. A result without an `llm` block has none of them; a histogram that is
empty (TPOT of one-token answers) leaves its series or chart out.
"""

from __future__ import annotations

from typing import Any

from isvcperf.loadgen.recorder import decode_histogram
from isvcperf.report.charts import Chart, chart, chunks, log_bins, ms, spectrum
from isvcperf.results.result import Result

GROUP = "generative"
_X_TIME = {"label": "seconds into the measured window", "format": "seconds"}
_X_PERCENTILE = {"label": "percentile", "log": True, "format": "percentile"}


def llm_charts(result: Result) -> list[Chart]:
    """Every Generative chart the result has data for, in the order the section shows them."""
    if not result.llm:
        return []
    encoded = result.llm.get("histograms", {})
    histograms = {name: decode_histogram(encoded.get(name, "")) for name in
                  ("ttft", "itl", "tpot", "input-length", "output-length")}
    found = [
        _distribution(histograms, "llm-ttft-distribution", "Time to first token (TTFT)", [("ttft", "TTFT")],
                      share=False, time=True),
        _spectrum(histograms, "llm-ttft-spectrum", "TTFT by percentile", [("ttft", "TTFT")]),
        _distribution(histograms, "llm-itl-tpot-distribution", "Inter-token latency (ITL) and time per output token (TPOT)",
                      [("itl", "ITL (every gap)"), ("tpot", "TPOT (per request)")], share=True, time=True),
        _spectrum(histograms, "llm-itl-tpot-spectrum", "ITL and TPOT by percentile",
                  [("itl", "ITL (every gap)"), ("tpot", "TPOT (per request)")]),
        *_over_time(result.llm.get("timeline", [])),
        _distribution(histograms, "llm-lengths", "Input and output lengths",
                      [("input-length", "input"), ("output-length", "output")], share=False, time=False),
    ]
    return [found_chart for found_chart in found if found_chart is not None]


def _distribution(histograms: dict[str, Any], chart_id: str, title: str, names: list[tuple[str, str]], *,
                  share: bool, time: bool) -> Chart | None:
    """Counts per log-spaced bin of one or more histograms on shared bins; with `share`, each
    series as a percentage of its own total (ITL counts gaps, TPOT requests: raw counts would
    not compare). `time`: microseconds shown as milliseconds, else token counts."""
    present = [(name, label) for name, label in names if histograms[name].get_total_count()]
    if not present:
        return None
    edges, counts = log_bins([histograms[name] for name, _ in present])
    if share:
        counts = [[round(100 * c / sum(column), 4) for c in column] for column in counts]
    totals = ", ".join(f"{histograms[name].get_total_count()} {label.split(' (')[0]}"
                       f"{' gaps' if name == 'itl' else ' requests'}" for name, label in present)
    axis = {"label": "milliseconds", "log": True, "format": "ms"} if time else {"label": "tokens", "log": True}
    return chart(chart_id, title, f"{totals} in {len(edges) - 1} bins, logarithmic axis", x=axis,
                 y={"label": "% of each" if share else "requests"}, series=[{"label": label, "kind": "step", "fill": len(present) == 1}
                                            for _, label in present],
                 data=[[ms(e) if time else round(e, 3) for e in edges], *([*c, c[-1]] for c in counts)], group=GROUP)


def _spectrum(histograms: dict[str, Any], chart_id: str, title: str, names: list[tuple[str, str]]) -> Chart | None:
    present = [(name, label) for name, label in names if histograms[name].get_total_count()]
    if not present:
        return None
    xs, columns = spectrum([histograms[name] for name, _ in present])
    return chart(chart_id, title, "p0 to p99.99; each step right is one more nine", x=_X_PERCENTILE,
                 y={"label": "milliseconds", "format": "ms"},
                 series=[{"label": label, "kind": "line"} for _, label in present],
                 data=[xs, *([ms(v) for v in column] for column in columns)], group=GROUP)


def _over_time(timeline: list[dict[str, Any]]) -> list[Chart | None]:
    """Output tokens/s, and goodput beside the share of requests that were good, per interval."""
    if len(timeline) < 2:
        return []
    rows, width = merge_rows(timeline)
    t = [row["t"] for row in rows]
    suffix = f"; every {width} intervals merged" if width > 1 else ""
    tokens = chart("llm-tokens-over-time", "Output tokens per second", "output tokens per second per interval" + suffix,
                   x=_X_TIME, y={"label": "tokens/s"}, series=[{"label": "output tokens/s", "kind": "line"}],
                   data=[t, [row["outputTokensPerSecond"] for row in rows]], group=GROUP)
    good = [round(100 * row["good"] / row["requests"], 3) if row["requests"] else None for row in rows]
    goodput = chart("llm-goodput-over-time", "Goodput over time",
                    "good requests per second (within every goodput limit) and the good share of requests" + suffix,
                    x=_X_TIME, y={"label": "req/s"}, y2={"label": "% good"},
                    series=[{"label": "goodput (req/s)", "kind": "line"},
                            {"label": "good (%)", "kind": "line", "scale": "y2"}],
                    data=[t, [row["goodput"] for row in rows], good], colors=("#1a7f37", "#8250df"), group=GROUP)
    return [tokens, goodput]


def merge_rows(timeline: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """At most MAX_TIMELINE_POINTS rows: consecutive intervals merged, counts summed, rates averaged."""
    groups, width = chunks(timeline)
    if width == 1:
        return timeline, 1
    merged = []
    for group in groups:
        merged.append({
            "t": group[-1]["t"],
            **{key: sum(row[key] for row in group) for key in ("requests", "good", "outputTokens")},
            **{key: sum(row[key] for row in group) / len(group) for key in ("outputTokensPerSecond", "goodput")},
        })
    return merged, width
