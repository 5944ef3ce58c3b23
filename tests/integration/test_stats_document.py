"""What a real Locust master serves on its stats route has the declared shape, all run long.

nginx on loopback is the target (two endpoints, rate stages, open loop, health samples on),
so every optional part of the document is there to check.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from stats_shape import problems

from isvcperf import spec
from isvcperf.loadgen.health import HEALTH_ENV
from isvcperf.loadgen.protocol import StatsDocument
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
