"""Per-stage llm/ metrics: each answer is filed in the stage of its intended start, on every
worker, and the stages merge exactly on the master into each StageResult's metrics."""

from __future__ import annotations

from isvcperf import spec
from isvcperf.loadgen.llm_recorder import Answer, LlmRecorder, merge
from isvcperf.loadgen.recorder import Recorder
from isvcperf.results import analysis

BASE = 100.0


def answer(intended: float, ttft: float, gap: float, tokens: int = 4, error: bool = False) -> Answer:
    start = BASE + intended
    times = [start + ttft + i * gap for i in range(tokens)]
    return Answer(start, times, tokens, True, 10, error, True)


def worker(answers: list[Answer]) -> dict:
    recorder = Recorder(stage_ends=[2.0, 4.0])
    recorder.begin(BASE)
    llm = LlmRecorder(recorder, {"ttft": 0.1})
    recorder.llm = llm
    for item in answers:
        llm.record(item)
    return recorder.snapshot(final=True)


def staged_spec() -> spec.RunSpec:
    return spec.from_data({
        "target": {"baseUrl": "http://127.0.0.1:9", "protocol": "openai", "model": "m"},
        "load": {"stages": [{"duration": "2s", "users": 1}, {"duration": "2s", "users": 4}]},
        "goodput": {"ttft": "100ms"},
    })


def test_each_stage_gets_the_llm_metrics_of_its_own_requests() -> None:
    # stage 0 (0-2 s): fast first tokens; stage 1 (2-4 s): slow ones, one error, on two workers
    one = worker([answer(0.5, 0.010, 0.002), answer(1.5, 0.020, 0.002), answer(2.5, 0.300, 0.004)])
    two = worker([answer(1.0, 0.030, 0.002), answer(3.0, 0.500, 0.004, error=True), answer(3.9, 0.400, 0.004)])
    llm = merge([one["llm"], two["llm"]])
    assert llm is not None and llm["requests"] == 6
    first, second = analysis.stages(staged_spec(), {"stages": [{}, {}], "llm": llm}, [50.0, 90.0])
    assert first.metrics["llm/request-count"] == 3 and second.metrics["llm/request-count"] == 3
    assert first.metrics["llm/error-count"] == 0 and second.metrics["llm/error-count"] == 1
    assert 29.5 <= first.metrics["llm/ttft-max"] <= 30.5 and second.metrics["llm/ttft-min"] >= 299
    assert first.metrics["llm/goodput-ratio"] == 1.0 and second.metrics["llm/goodput-ratio"] == 0.0
    assert first.metrics["llm/goodput"] == 3 / 2.0  # good requests over the stage's 2 s
    assert first.metrics["llm/output-tokens-per-second"] == 12 / 2.0
    assert 1.9 <= first.metrics["llm/tpot-p50"] <= 2.1 and 3.9 <= second.metrics["llm/tpot-p50"] <= 4.1
    # the totals are the sum of the stages
    assert llm["good"] == 3 and sum(s["requests"] for s in llm["stages"]) == llm["requests"]


def test_a_run_without_stages_ships_none() -> None:
    snapshot = worker([answer(0.5, 0.010, 0.002)])
    recorder = Recorder()
    recorder.begin(BASE)
    llm = LlmRecorder(recorder, {})
    llm.record(answer(0.5, 0.010, 0.002))
    assert llm.snapshot()["stages"] == [] and len(snapshot["llm"]["stages"]) == 2
    merged = merge([llm.snapshot()])
    assert merged is not None and merged["stages"] == [] and merged["requests"] == 1
