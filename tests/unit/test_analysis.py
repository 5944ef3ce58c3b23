"""Warnings say why figures may mislead: lost workers, a saturated generator, a missed rate."""

from __future__ import annotations

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


def test_saturated_generator() -> None:
    (warning,) = analysis.warnings(run_spec(duration="10s"), stats(cpu=97.0), 10.0)
    assert "load generator saturated" in warning and "97%" in warning and "load.workers" in warning


def test_missed_rate_names_the_cause() -> None:
    users_busy = analysis.warnings(run_spec(rate=200, duration="10s"), stats(dropped=500, requests=1500), 10.0)
    assert any("users exhausted" in w for w in users_busy)
    assert any("achieved 150.0 req/s of the 200 req/s" in w and "target could not keep up" in w for w in users_busy)
    cpu_bound = analysis.warnings(run_spec(rate=200, duration="10s"), stats(cpu=99.0, requests=1500), 10.0)
    assert any("generator's CPU was saturated" in w for w in cpu_bound)


def test_lost_workers() -> None:
    (warning,) = analysis.warnings(run_spec(duration="10s"), stats(lost=True), 10.0)
    assert "workers lost" in warning and "w0" in warning
