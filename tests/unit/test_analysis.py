"""Warnings say why figures may mislead: lost workers (a saturated generator and a missed rate are
validity checks now: tests/unit/test_validity.py)."""

from __future__ import annotations

import pytest

from isvcperf import spec
from isvcperf.results import analysis

URL = "http://127.0.0.1:9/v2/models/m/infer"


def run_spec(**load: object) -> spec.RunSpec:
    return spec.from_data({"target": {"url": URL}, "payload": {"inline": "x"}, "load": load})


def stats(cpu: float = 50.0, dropped: int = 0, requests: int = 2000, lost: bool = False) -> dict:
    return {
        "workers": {"w0": {"index": 0, "lostAt": 12.0 if lost else None}},
        "total": {"requests": requests, "dropped": dropped},
        "timeline": [{"index": 0, "requests": 1, "successes": 1, "errors": 0, "p50": 1.0, "p90": 1.0, "p99": 1.0,
                      "cpu": cpu, "users": 4}],
    }


def test_quiet_when_all_is_well() -> None:
    assert analysis.warnings(run_spec(rate=200, duration="10s"), stats(), 10.0) == []


def test_lost_workers() -> None:
    (warning,) = analysis.warnings(run_spec(duration="10s"), stats(lost=True), 10.0)
    assert "workers lost" in warning and "w0" in warning


def rows(per_interval: list[int]) -> dict:
    return {"interval": 1.0, "timeline": [
        {"index": i, "requests": n, "successes": n, "errors": 0, "p50": 2.0, "p90": 3.0, "p99": 4.0, "cpu": 10.0,
         "users": 4} for i, n in enumerate(per_interval)]}


def test_the_last_sliver_of_the_window_is_no_spike() -> None:
    # finding 6: 200 req/s for 10 s; the last response lands 1 ms into the eleventh second
    points = analysis.timeline(rows([200] * 10 + [1]), [], window=10.001)
    assert len(points) == 10
    assert max(p.throughput for p in points) < 210  # not 1 request / 1 ms = 1,000 req/s
    assert points[-1].t == 10.001
    assert points[-1].throughput == pytest.approx(201 / 1.001)
    assert sum(p.requests for p in points) == 2001  # folded into the interval before, not lost
    assert points[-1].p50 == 2.0


def test_a_long_last_part_is_weighted_by_its_length_not_plotted_as_a_second() -> None:
    points = analysis.timeline(rows([200] * 10 + [120]), [], window=10.6)
    assert len(points) == 11
    assert points[-1].t == 10.6
    assert points[-1].throughput == pytest.approx(200)  # 120 in 0.6 s, not a dip to 120
    assert [p.throughput for p in points[:-1]] == [200.0] * 10
