"""A generative run's interval rows (`llm.intervals`) follow the HTTP timeline's rule: a worker
ships each once, with its HTTP interval (a whole interval after it ended, its CPU sample in), and
the master sums them, so a snapshot does not grow with the run while the master's figures stay
those of the cumulative snapshots workers sent before (issue 14, master at scale)."""

from __future__ import annotations

import json
import time
from typing import Any

from isvcperf.loadgen.llm_recorder import Answer, IntervalSums, LlmRecorder, with_llm
from isvcperf.loadgen.recorder import Recorder, merge

INTERVALS = 40


def worker() -> tuple[Recorder, LlmRecorder]:
    recorder = Recorder(interval=1.0)
    recorder.begin(time.perf_counter() - INTERVALS - 5.5)  # every interval of the run has long ended
    recorder.llm = llm = LlmRecorder(recorder, {"ttft": 0.5, "tpot": None, "e2e": None})
    return recorder, llm


def answer(base: float, at: float, tokens: int, error: bool = False) -> Answer:
    start = base + at
    return Answer(start, [start + 0.1 + i * 0.01 for i in range(tokens)], tokens, True, 7, error, True)


def run(workers: int = 2, late: bool = True) -> tuple[list[list[dict[str, Any]]], dict[str, Any], dict[str, Any]]:
    """Each worker answers in every interval and snapshots after each CPU sample (plus a late answer
    filed in an interval already shipped); returns every snapshot sent, the master's llm figures
    (kept snapshots + summed rows, as loadgen.plugin does) and the old cumulative ones."""
    sent: list[list[dict[str, Any]]] = [[] for _ in range(workers)]
    kept: dict[int, dict[str, Any]] = {}
    sums = IntervalSums()
    references = []
    for w in range(workers):
        recorder, llm = worker()
        reference = LlmRecorder(recorder, {"ttft": 0.5, "tpot": None, "e2e": None})  # never shipped: cumulative
        for k in range(INTERVALS):
            answers = [answer(recorder._base, k + 0.2, 3 + w), answer(recorder._base, k + 0.5, 5, error=k % 7 == 3)]
            if late and k % 5 == 4:
                answers.append(answer(recorder._base, k - 3.5, 2))  # ends in k-3, already shipped
            for item in answers:
                llm.record(item)
                reference.record(item)
            recorder.close_interval(k, 20.0, 1)
            snapshot = json.loads(json.dumps(recorder.snapshot()))
            sent[w].append(json.loads(json.dumps(snapshot)))
            sums.take(snapshot)
            kept[w] = snapshot
        final = json.loads(json.dumps(recorder.snapshot(final=True)))
        sent[w].append(json.loads(json.dumps(final)))
        sums.take(final)
        kept[w] = final
        references.append({"llm": reference.snapshot()})
    snapshots = list(kept.values())
    master = with_llm(merge(snapshots), snapshots, sums)["llm"]
    old = with_llm(merge(references), references)["llm"]  # type: ignore[arg-type]
    return sent, master, old


def test_a_worker_ships_each_interval_row_once() -> None:
    sent, _, _ = run(workers=1, late=False)
    shipped: set[str] = set()
    for n, snapshot in enumerate(sent[0]):
        rows = set(snapshot["llm"]["intervals"])
        assert not rows & shipped, f"snapshot {n} carries rows already shipped: {sorted(rows & shipped)}"
        shipped |= rows
    assert shipped == {str(i) for i in range(INTERVALS)}
    # the Nth snapshot carries one row (the interval whose CPU sample just came in), not N
    assert [len(s["llm"]["intervals"]) for s in sent[0][2:INTERVALS]] == [1] * (INTERVALS - 2)
    sizes = [len(json.dumps(s["llm"])) for s in sent[0][2:INTERVALS]]
    assert max(sizes) - min(sizes) < 100, sizes  # the same size at the 3rd snapshot and the 40th


def test_the_masters_summed_rows_equal_the_old_cumulative_ones() -> None:
    _, master, old = run(workers=3, late=True)
    assert master["intervals"] == old["intervals"]
    assert master == old  # histograms, counts and stages too
    assert sum(row[0] for row in master["intervals"].values()) == master["requests"] == 3 * INTERVALS * 2 + 3 * 8
