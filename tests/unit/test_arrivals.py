"""Open-loop arrival times: uniform and Poisson spacing, and ramps followed from zero."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from isvcperf.loadgen.control import Controller, Share
from isvcperf.loadgen.recorder import Recorder
from isvcperf.loadgen.stages import Schedule


def controller(rate: float, schedule: Schedule | None = None, workers: int = 1) -> Controller:
    ctl = Controller(Recorder(open_loop=True), lambda: None, schedule, workers=workers)
    ctl.assign(Share(0, None, 0, rate, duration=None, warmup_duration=0.0))
    ctl._measure_from = 0.0  # the measured window starts at t = 0
    return ctl


def arrivals(ctl: Controller, until: float, work: float = 1.0) -> list[float]:
    times, t = [], 0.0
    while True:
        t = ctl._next_arrival(t, work)
        if t > until:
            return times
        times.append(t)


def test_schedule_ramps_linearly_then_holds() -> None:
    schedule = Schedule((10.0, 10.0), (100.0, 100.0), start=0.0)
    assert schedule.value_at(0) == 0
    assert schedule.value_at(5) == pytest.approx(50)
    assert schedule.value_at(15) == 100
    assert schedule.value_at(99) == 100
    assert schedule.ends == [10.0, 20.0]


def test_uniform_spacing_is_exact() -> None:
    times = arrivals(controller(200.0), until=10.0 + 1e-6)
    assert len(times) == 2000
    assert times[1] - times[0] == pytest.approx(1 / 200)


def test_a_ramp_from_zero_is_followed() -> None:
    # 0 → 100 req/s over 3 s, then 3 s at 100: 150 + 300 arrivals, split over two workers
    schedule = Schedule((3.0, 3.0), (100.0, 100.0), start=0.0)
    per_worker = arrivals(controller(0.0, schedule, workers=2), until=6.0)
    assert len(per_worker) == pytest.approx(225, abs=2)
    assert sum(1 for t in per_worker if t < 3.0) == pytest.approx(75, abs=2)


def test_poisson_has_the_same_mean_rate() -> None:
    ctl = controller(500.0)
    rng = random.Random(3)
    times, t = [], 0.0
    while t < 20.0:
        t = ctl._next_arrival(t, rng.expovariate(1.0))
        times.append(t)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == pytest.approx(10_000, rel=0.03)
    assert statistics.mean(gaps) == pytest.approx(1 / 500, rel=0.03)
    assert statistics.stdev(gaps) == pytest.approx(1 / 500, rel=0.05)  # exponential: stdev = mean
