"""A generative (protocol openai) Result built in code: the master's merged `llm` data made from
seeded per-request streams, turned into metrics and the `llm` block by the same functions a run
uses (results.llm_metrics), so the Generative charts and text block are tested deterministically
without a model server."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from synthetic_results import staged

from isvcperf.loadgen.recorder import encode, new_histogram
from isvcperf.results import llm_metrics
from isvcperf.results.result import Result, SLOVerdict

SECONDS = 30
REQUESTS = 600
OUTPUT_TOKENS = 64


def merged_llm(seed: int = 3, slow_from: int = 20) -> dict[str, Any]:
    """What loadgen.llm_recorder.merge gives the master: 600 streamed answers of 64 tokens over 30 s;
    after `slow_from` seconds TTFT triples, so goodput (TTFT ≤ 100 ms) falls."""
    rng = random.Random(seed)
    names = ("ttft", "itl", "tpot", "e2e", "inputLength", "outputLength")
    histograms = {name: new_histogram() for name in names}
    intervals: dict[str, list[int]] = {}
    good = input_tokens = 0
    for i in range(REQUESTS):
        second = i * SECONDS // REQUESTS
        ttft = rng.lognormvariate(0, 0.3) * (40 if second < slow_from else 120)
        gaps = [rng.lognormvariate(0, 0.2) * 8 for _ in range(OUTPUT_TOKENS - 1)]
        prompt = rng.randint(32, 96)
        histograms["ttft"].record_value(round(ttft * 1000))
        for gap in gaps:
            histograms["itl"].record_value(round(gap * 1000))
        histograms["tpot"].record_value(round(sum(gaps) / len(gaps) * 1000))
        histograms["e2e"].record_value(round((ttft + sum(gaps)) * 1000))
        histograms["inputLength"].record_value(prompt)
        histograms["outputLength"].record_value(OUTPUT_TOKENS)
        is_good = ttft <= 100
        good += is_good
        input_tokens += prompt
        row = intervals.setdefault(str(second), [0, 0, 0])
        row[0] += 1
        row[1] += is_good
        row[2] += OUTPUT_TOKENS
    return {**{name: encode(h) for name, h in histograms.items()}, "requests": REQUESTS, "errors": 0, "good": good,
            "inputTokens": input_tokens, "outputTokens": REQUESTS * OUTPUT_TOKENS, "fromUsage": REQUESTS,
            "fromFrames": 0, "intervals": intervals}


def generative(name: str = "tiny-llm-chat", seed: int = 3) -> Result:
    """A completed protocol-openai run with llm/ metrics, the `llm` block and two llm/ SLOs."""
    llm = merged_llm(seed)
    values = llm_metrics.compute(llm, [50, 90, 99], float(SECONDS))
    base = staged(name)
    slos = [
        SLOVerdict("llm/ttft-p90", values["llm/ttft-p90"] <= 500, values["llm/ttft-p90"], upper=500),
        SLOVerdict("llm/goodput-ratio", values["llm/goodput-ratio"] >= 0.9, values["llm/goodput-ratio"], lower=0.9),
    ]
    return dataclasses.replace(
        base, target={"url": "http://127.0.0.1:8080/v1/chat/completions", "protocol": "openai", "model": "tiny-llm"},
        metrics={**base.metrics, **values}, slos=slos, errors=[], stages=[],
        llm=llm_metrics.block(llm, 1.0, float(SECONDS)),
        spec={"name": name, "target": {"protocol": "openai"}, "goodput": {"ttft": 0.1, "tpot": None, "e2e": None}},
    )
