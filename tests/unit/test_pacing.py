"""Open-loop pacing: pacers never send early and let other greenlets run; the arrival schedule
is exact (the first arrival at the start, R·D of them in D seconds), a stall is caught up
with the original intended times rather than skipped, and the window's end is no drop.

How precisely the pacers wake is a figure, not a behaviour: benchmarks/pacing.py measures it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import gevent.monkey
import pytest

from isvcperf.loadgen import pacing, pauses
from isvcperf.loadgen.control import Controller, Share, Ticket
from isvcperf.loadgen.recorder import Recorder
from isvcperf.util.errors import SpecError


@pytest.fixture(params=sorted(pacing.PACERS))
def pacer(request: pytest.FixtureRequest) -> Iterator[pacing.Pacer]:
    chosen = pacing.PACERS[request.param]()
    yield chosen
    chosen.close()


def test_a_pacer_never_returns_before_its_deadline(pacer: pacing.Pacer) -> None:
    deadline = time.perf_counter()
    for _ in range(50):
        deadline += 0.0004
        pacer.wait_until(deadline)
        assert time.perf_counter() >= deadline


def test_a_pacer_lets_other_greenlets_run_while_it_waits(pacer: pacing.Pacer) -> None:
    ran: list[int] = []
    worker = gevent.spawn(lambda: ran.append(1))
    pacer.wait_until(time.perf_counter() + 0.01)
    assert ran == [1]
    worker.join()


def test_a_deadline_already_past_returns_without_yielding(pacer: pacing.Pacer) -> None:
    ran: list[int] = []
    worker = gevent.spawn(lambda: ran.append(1))
    pacer.wait_until(time.perf_counter() - 1.0)
    assert ran == []  # nothing else ran: the late arrival goes out at once
    worker.join()


def test_the_pacer_is_chosen_by_name_and_a_wrong_name_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pacing.PACER_ENV, "spin")
    assert isinstance(pacing.choose(), pacing.SpinPacer)
    monkeypatch.setenv(pacing.PACER_ENV, "fast")
    with pytest.raises(SpecError) as failure:
        pacing.configured()
    message = str(failure.value)
    assert "ISVCPERF_PACER" in message and "'fast'" in message and "timerfd, spin, sleep" in message
    assert "\n" not in message
    monkeypatch.delenv(pacing.PACER_ENV)
    default = pacing.choose()
    assert isinstance(default, pacing.TimerfdPacer if sys.platform == "linux" else pacing.SpinPacer)
    default.close()


@pytest.mark.parametrize("value", ["fast", "50", "100001", "-1", "1e3"])
def test_a_wrong_scheduler_slice_is_one_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(pauses.SLICE_ENV, value)
    with pytest.raises(SpecError) as failure:
        pauses.configured_slice()
    message = str(failure.value)
    assert "ISVCPERF_SLICE_US" in message and repr(value) in message and "100 to 100000" in message
    assert "\n" not in message


def test_the_slice_is_short_unless_asked_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pauses.SLICE_ENV, raising=False)
    assert pauses.configured_slice() == pauses.SHORT_SLICE_US
    monkeypatch.setenv(pauses.SLICE_ENV, "0")
    assert pauses.configured_slice() == 0
    monkeypatch.setenv(pauses.SLICE_ENV, "2000")
    assert pauses.configured_slice() == 2000


def test_before_load_freezes_the_heap_and_asks_for_a_short_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a worker does when its test starts; the kernel reports the slice back (Linux 6.12+)."""
    monkeypatch.delenv(pauses.SLICE_ENV, raising=False)
    kernel_default = pauses.current_slice_ns()
    try:
        pauses.before_load(open_loop=True)
        assert gc.get_freeze_count() > 0
        if not kernel_default:
            pytest.skip("this kernel reports no per-thread scheduler slice")
        assert pauses.current_slice_ns() == pauses.SHORT_SLICE_US * 1000
        assert pauses.request_slice(0)  # 0 gives the thread the kernel's own slice back
        assert pauses.current_slice_ns() == kernel_default
    finally:
        gc.unfreeze()
        pauses.request_slice(0)


def test_asking_for_a_slice_keeps_a_real_time_thread_real_time() -> None:
    """A worker someone started under `chrt` stays at its priority: only the slice is asked for."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except PermissionError:
        pytest.skip("real-time priority needs root or CAP_SYS_NICE")
    try:
        pauses.request_slice(pauses.SHORT_SLICE_US)
        assert os.sched_getscheduler(0) == os.SCHED_FIFO
        assert os.sched_getparam(0).sched_priority == 1
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def _timerfds() -> int:
    """How many timerfd descriptors this process holds, by what /proc says each descriptor is."""
    count = 0
    for entry in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            count += os.readlink(entry) == "anon_inode:[timerfd]"
    return count


def test_closing_a_timerfd_pacer_releases_its_descriptor() -> None:
    """Fifty pacers made and closed leave no timerfd behind. Once Locust has monkey-patched `os`,
    gevent closes a descriptor that had a watcher on the loop's next turn, hence the sleep."""
    before = _timerfds()
    for _ in range(50):
        pacing.TimerfdPacer().close()
    gevent.sleep(0.01)
    assert _timerfds() <= before


class Run:
    """A Controller driven by greenlet users that answer at once, started the way Locust does:
    the test starts on the worker, then its users spawn."""

    def __init__(self, rate: float, duration: float, users: int, stall_at: float | None = None,
                 stall: float = 0.0) -> None:
        self.recorder = Recorder(open_loop=True)
        self.controller = Controller(self.recorder, lambda: None)
        self.controller.assign(Share(0, None, 0, rate, duration=duration, warmup_duration=0.0))
        self.tickets: list[tuple[Ticket, float]] = []
        self.controller.start()
        if stall_at is not None:
            # a blocking pause of the whole process (a GC pause, a preempted CPU), not a greenlet's sleep
            # (the original time.sleep: once another test has imported Locust, time.sleep is gevent's)
            gevent.spawn_later(stall_at, gevent.monkey.get_original("time", "sleep"), stall)
        gevent.joinall([gevent.spawn(self._user) for _ in range(users)], timeout=duration + 5)
        assert self.controller.finished.is_set()

    def _user(self) -> None:
        while (ticket := self.controller.acquire()) is not None:
            sent = time.perf_counter()
            self.tickets.append((ticket, sent))
            self.controller.complete(ticket, sent, sent, None)

    @property
    def intended(self) -> list[float]:
        return sorted(ticket.intended for ticket, _ in self.tickets)


def test_uniform_arrivals_start_at_the_window_and_fill_it_exactly() -> None:
    run = Run(rate=200.0, duration=0.25, users=4)
    # the first arrival at the window's start, then every 5 ms: 50 in 0.25 s, and the arrival
    # due at the window's end is not counted as a drop (it was, with a "raise load.users" warning)
    assert run.recorder.dropped == 0
    assert run.recorder.total.requests == 50
    assert run.intended[0] == run.recorder._base
    assert run.intended == pytest.approx([run.recorder._base + i / 200 for i in range(50)], abs=1e-9)


def test_no_drop_while_users_spawn_at_a_low_rate() -> None:
    # finding 4: 20 req/s with 4 users dropped one arrival in most runs
    run = Run(rate=20.0, duration=0.5, users=4)
    assert (run.recorder.total.requests, run.recorder.dropped) == (10, 0)


def test_a_stall_is_caught_up_at_once_with_the_original_intended_times() -> None:
    run = Run(rate=500.0, duration=0.3, users=4, stall_at=0.1, stall=0.05)
    # nothing skipped and nothing dropped: every arrival of the schedule was sent, on its grid
    assert (run.recorder.total.requests, run.recorder.dropped) == (150, 0)
    assert run.intended == pytest.approx([run.recorder._base + i / 500 for i in range(150)], abs=1e-9)
    # the arrivals due during the stall went out late, and that lateness is recorded, not hidden
    lateness = sorted(sent - ticket.intended for ticket, sent in run.tickets)
    assert lateness[0] >= 0
    assert lateness[-1] >= 0.04
    assert run.recorder.lateness is not None
    assert run.recorder.lateness.get_max_value() >= 40_000  # µs
    assert run.recorder.lateness.get_total_count() == 150
