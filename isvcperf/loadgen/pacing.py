"""Pacers: wait inside gevent until an intended time.perf_counter() instant, precisely.

The open-loop arrival greenlet (loadgen.control) waits for each arrival's intended time
with a pacer. gevent's own timers wake late: libev hands epoll_wait its timeout in whole
milliseconds, rounded up, so `gevent.sleep(d)` returns 0.6 ms late at p50 and over 1 ms at
p90 on the machines we measured — lateness that went straight into every open-loop
latency and bunched "uniform" arrivals. Three pacers, chosen with ISVCPERF_PACER:

- `timerfd` (the default on Linux): a kernel timerfd armed with the remaining time,
  waited for through the gevent loop like a socket. The kernel timer has nanosecond
  resolution and epoll returns as soon as it fires, so the greenlet wakes within tens of
  microseconds at no CPU cost beyond two system calls per arrival;
- `spin` (the default where there is no timerfd): `gevent.sleep` until SPIN_LEAD before
  the deadline, then yield-spin (`gevent.sleep(0)`, so users and sockets keep running) on
  the clock. As precise at p50, but it keeps a core busy for SPIN_LEAD per arrival — all
  the time above ~1/SPIN_LEAD arrivals per second — and a busy process is the first one
  the OS preempts on a shared machine, which shows in the tail;
- `sleep`: plain `gevent.sleep`, the pacing before this module; kept so the benchmark
  (benchmarks/pacing.py) measures before and after in the same run.

A pacer never returns before its deadline; a deadline already past returns at once (the
controller then sends the late arrival immediately: see loadgen.control).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from typing import Protocol

import gevent
from gevent.hub import get_hub

from isvcperf.util.errors import SpecError

PACER_ENV = "ISVCPERF_PACER"
SPIN_LEAD = 0.0015
"""How long before a deadline the spin pacer stops sleeping: libev rounds its epoll timeout
up to the next millisecond, so a sleep can end up to ~1 ms late, plus scheduling noise."""


class Pacer(Protocol):
    """Waits for perf_counter() deadlines; one per arrival greenlet."""

    name: str

    def wait_until(self, deadline: float) -> None:
        """Return once time.perf_counter() >= deadline (at once if it already is)."""

    def close(self) -> None:
        """Release what the pacer holds (a file descriptor); it is not used again."""


class SleepPacer:
    """gevent.sleep for the remaining time: late by libev's millisecond rounding (the old pacing)."""

    name = "sleep"

    def wait_until(self, deadline: float) -> None:
        delay = deadline - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        while time.perf_counter() < deadline:  # a timer may fire a hair early: never send before the time
            gevent.sleep(0)

    def close(self) -> None:
        """Nothing to release."""


class SpinPacer:
    """Sleep to SPIN_LEAD before the deadline, then yield to other greenlets until it passes."""

    name = "spin"

    def wait_until(self, deadline: float) -> None:
        clock = time.perf_counter
        delay = deadline - SPIN_LEAD - clock()
        if delay > 0:
            gevent.sleep(delay)
        while clock() < deadline:
            gevent.sleep(0)

    def close(self) -> None:
        """Nothing to release."""


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = 0o2000000
_READ = 1
"""libev's EV_READ."""


class TimerfdPacer:
    """A Linux timerfd armed with the time left, waited for on the gevent loop."""

    name = "timerfd"

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._settime = libc.timerfd_settime  # AttributeError where there is no timerfd (not Linux)
        self._fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._hub = get_hub()
        self._watcher = self._hub.loop.io(self._fd, _READ)
        self._spec = _Itimerspec()

    def wait_until(self, deadline: float) -> None:
        clock = time.perf_counter
        delay = deadline - clock()
        if delay <= 0:
            return
        seconds = int(delay)
        # relative, so it does not matter which clock perf_counter reads; a zero value would
        # disarm the timer, hence at least 1 ns
        self._spec.it_value.tv_sec = seconds
        self._spec.it_value.tv_nsec = max(1, int((delay - seconds) * 1e9))
        if self._settime(self._fd, 0, ctypes.byref(self._spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self._hub.wait(self._watcher)
        with contextlib.suppress(BlockingIOError):  # the expiration count: read so the descriptor is quiet again
            os.read(self._fd, 8)
        while clock() < deadline:  # the two clocks may differ by a hair: never send before the time
            gevent.sleep(0)

    def close(self) -> None:
        self._watcher.close()
        os.close(self._fd)


PACERS = {"timerfd": TimerfdPacer, "spin": SpinPacer, "sleep": SleepPacer}


def configured() -> str:
    """The pacer ISVCPERF_PACER names, or "" for the default.

    The CLI calls this before it starts anything, so a misspelt name is one line and exit 2
    instead of a worker failing mid-start.
    """
    wanted = os.environ.get(PACER_ENV, "")
    if wanted and wanted not in PACERS:
        raise SpecError(PACER_ENV, f"{wanted!r} is not a pacer; use one of {', '.join(PACERS)} "
                                   "(or leave it unset for timerfd where the system has it)")
    return wanted


def choose() -> Pacer:
    """The configured pacer; by default timerfd, or spin where the system has no timerfd."""
    wanted = configured()
    if wanted:
        return PACERS[wanted]()
    try:
        return TimerfdPacer()
    except (AttributeError, OSError):
        return SpinPacer()
