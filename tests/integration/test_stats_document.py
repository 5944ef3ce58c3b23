"""What a real Locust master serves on its stats route has the declared shape, all run long.

nginx on loopback is the target (two endpoints, rate stages, open loop, health samples on),
so every optional part of the document is there to check.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from stats_shape import problems

from isvcperf import spec
from isvcperf.loadgen.health import HEALTH_ENV
from isvcperf.loadgen.protocol import StatsDocument, parse_document
from isvcperf.payload.bodies import load_payload
from isvcperf.runners.local import LocalRunner

RUN_BOUND_S = 60.0


def test_every_document_a_master_serves_has_the_declared_shape(nginx: Any, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HEALTH_ENV, "1")
    run = spec.from_data({
        "name": "shape", "target": {"protocol": "raw"}, "payload": {"inline": {"inputs": []}},
        "endpoints": [{"id": "a", "url": nginx.url()}, {"id": "b", "url": nginx.url(), "weight": 3}],
        "load": {"users": 4, "workers": 2, "stages": [{"duration": "1s", "rate": 40}, {"duration": "1s", "rate": 40}]},
    })
    seen: list[StatsDocument] = []
    runner = LocalRunner(run, load_payload(run), tmp_path)
    try:
        outcome = runner.run(seen.append, time.monotonic() + RUN_BOUND_S)
    finally:
        runner.close()
    assert outcome.finished and outcome.stats is not None
    assert {d["phase"] for d in seen} >= {"running", "finished"}
    for document in seen:
        assert problems(document, StatsDocument) == [], document["phase"]
    final = outcome.stats
    assert len(final["total"]["stages"]) == 2 and len(final["total"]["endpoints"]) == 2
    assert final["timeline"] and "health" in final
    assert all(w["health"] for w in final["workers"].values())


def test_incremental_pulls_assemble_what_a_whole_pull_serves(nginx: Any, tmp_path: Path) -> None:
    """The runner pulls `?since=` the settled rows; with a worker killed mid-run and a last interval
    cut short (6.3 s in 0.5 s rows), the document it ends with is the one a whole pull serves."""
    run = spec.from_data({
        "name": "increments", "target": {"url": nginx.url(), "protocol": "raw"}, "payload": {"inline": {"inputs": []}},
        "load": {"users": 4, "workers": 2, "duration": "6.3s", "rate": 40}, "metrics": {"interval": "0.5s"},
    })
    runner = LocalRunner(run, load_payload(run), tmp_path)
    answers: list[StatsDocument] = []
    finished: list[tuple[StatsDocument, StatsDocument]] = []
    refused: list[tuple[int, str]] = []
    add, fetch = runner._stats.add, runner.fetch

    def recording_add(answer: StatsDocument) -> StatsDocument:
        answers.append(answer)
        return add(answer)

    def fetch_and_compare() -> StatsDocument | None:
        assembled = fetch()
        if assembled is not None and assembled["phase"] == "finished" and not finished:
            finished.append((assembled, whole()))
        return assembled

    def whole(query: str = "") -> StatsDocument:
        with urllib.request.urlopen(runner.plan.stats_url + query, timeout=5) as response:
            return parse_document(response.read())

    def kill_one_worker(stats: StatsDocument) -> None:
        if stats["total"]["requests"] >= 60 and not refused:
            os.kill(runner._procs["worker-1"].pid, signal.SIGKILL)
            try:
                whole("?since=soon")
            except urllib.error.HTTPError as exc:
                refused.append((exc.code, exc.read().decode()))

    runner._stats.add = recording_add  # type: ignore[method-assign]
    runner.fetch = fetch_and_compare  # type: ignore[method-assign]
    try:
        outcome = runner.run(kill_one_worker, time.monotonic() + RUN_BOUND_S)
    finally:
        runner.close()
    assert outcome.finished and outcome.stats is not None
    assert outcome.stats["finishReason"] == "1 of 2 workers lost"
    assembled, full = finished[0]
    assert assembled == full
    assert outcome.stats == full
    rows = [row["index"] for row in full["timeline"]]
    assert rows == list(range(len(rows))) and len(rows) >= 13  # the last, partial interval included
    partial = [a for a in answers if a.get("timelineSince")]
    assert partial and min(len(a["timeline"]) for a in partial) < len(rows)  # the pulls were incremental
    for answer in answers:
        assert problems(answer, StatsDocument) == []
    assert refused and refused[0][0] == 400
    assert "since='soon' is not a timeline row index: give a whole number from 0" in refused[0][1]
