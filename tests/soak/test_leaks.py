"""Two minutes of load on a target that keeps closing, resetting and timing out
connections: the master's and the workers' open file descriptors and live greenlets must
not grow. A leak per reconnect or per timeout would show as a steady climb within
minutes; the 30-minute benchmark (benchmarks/leaks.py) checks RSS as well."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from leaks import GreenletSampler  # benchmarks/leaks.py, the 30-minute version of this test
from run import RssSampler  # benchmarks/run.py: the lead's RSS (and descriptor) sampler
from runs import CliRun, wait_for, write_spec
from servers import FaultServer

DURATION = 120.0
SAMPLE_EVERY = 5.0
SETTLED = 30.0
"""Seconds after which users, connections and timers are all in their steady state."""
FD_SLACK = 4
"""Descriptors that may legitimately be open at one sample and not another (reconnects under way)."""
GREENLET_SLACK = 8


def _growth(samples: list[dict[str, Any]], key: str) -> tuple[float, float]:
    """(largest value in the settled first half, largest in the last quarter)."""
    early = [s[key] for s in samples if SETTLED <= s["t"] <= DURATION / 2 and key in s]
    late = [s[key] for s in samples if s["t"] >= DURATION * 0.75 and key in s]
    assert early and late, (key, samples)
    return max(early), max(late)


@pytest.mark.soak
def test_no_descriptor_or_greenlet_leak(tmp_path: Path, serve: Callable[..., FaultServer]) -> None:
    server = serve("churn", delay=1.0)
    spec = write_spec(tmp_path, server.url, target={"timeout": "0.5s"}, slos={"http/error-count": {"upper": 10**6}},
                      load={"duration": f"{DURATION:g}s", "rate": 120, "users": 16, "workers": 2})
    out = tmp_path / "out"
    # --allow-invalid: the churn makes the measurement invalid by design (survivorship: ~12% of requests
    # fail; send-lateness: timed-out requests hold the users), and this test is about leaks, not figures
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out), "--allow-invalid"], {"ISVCPERF_HEALTH": "1"})
    wait_for(lambda: server.requests > 0, 60, "the load to start")
    started = time.monotonic()
    memory, greenlets = RssSampler(out, every=SAMPLE_EVERY), GreenletSampler(out, every=SAMPLE_EVERY)
    memory.start()
    greenlets.start()
    time.sleep(max(0.0, DURATION - SAMPLE_EVERY - (time.monotonic() - started)))
    memory.stop()
    greenlets.stop()
    run = cli.wait(out)
    assert run.returncode == 0, run.text
    result = run.result
    errors = {e["type"] for e in result["errors"]}
    assert {"Timeout", "ConnectionClosed"} <= errors, errors  # the churn really happened
    assert server.connections > 100  # ... and connections were opened again and again

    report = []
    for key, samples, slack in (("master_fds", memory.samples, FD_SLACK), ("worker_fds", memory.samples, FD_SLACK),
                                ("master", greenlets.samples, GREENLET_SLACK),
                                ("worker", greenlets.samples, GREENLET_SLACK)):
        early, late = _growth(samples, key)
        name = key if key.endswith("fds") else f"{key}_greenlets"
        report.append(f"{name}: {early} -> {late}")
        assert late <= early + slack, f"{name} grew from {early} to {late} over {DURATION:.0f}s: a leak"
    print(f"\n[soak {DURATION:.0f}s, {server.connections} connections, {server.requests} requests] " + "; ".join(report))
