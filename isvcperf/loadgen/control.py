"""Controller: one worker's share of the load, handed out to its users as tickets.

Locust decides how many users run where; this decides what each request is. The master
assigns every worker a share (requests, warm-up requests, rate); users ask for a ticket
before each request, so counts are exact (no request is sent beyond the quota) and
warm-up is exact too. In closed loop a ticket is available at once; in open loop an
arrival greenlet issues tickets at scheduled times that do not depend on responses, and
an arrival finding no idle user is counted as dropped rather than delayed (k6's
dropped_iterations). Latency in open loop is measured from the ticket's intended time,
which corrects coordinated omission the way wrk2 does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import Event
from gevent.queue import Queue

from isvcperf.loadgen.recorder import Recorder


@dataclass
class Share:
    """One worker's part of the run, computed by the master."""

    index: int
    requests: int | None
    warmup_requests: int
    rate: float
    duration: float | None
    warmup_duration: float

    @classmethod
    def split(cls, count: int, requests: int | None, warmup: int, rate: float, duration: float | None,
              warmup_duration: float) -> list[Share]:
        """Split the run across `count` workers; remainders go to the first workers, so totals are exact."""

        def part(total: int, i: int) -> int:
            return total // count + (1 if i < total % count else 0)

        return [
            cls(i, None if requests is None else part(requests, i), part(warmup, i), rate / count, duration,
                warmup_duration)
            for i in range(count)
        ]


@dataclass(frozen=True)
class Ticket:
    """Permission to send one request: when it was meant to start and whether it is warm-up."""

    intended: float
    """time.perf_counter() value the request was scheduled for."""
    warmup: bool


class Controller:
    """Hands out tickets for one worker and tells the master when the share is done."""

    def __init__(self, recorder: Recorder, on_done: Callable[[], Any]) -> None:
        self.recorder = recorder
        self.share: Share | None = None
        self._on_done = on_done
        self._warmup_left = 0
        self._measure_left: int | None = None
        self._warmup_until = 0.0
        self._measure_until: float | None = None
        self._measuring = False
        self._exhausted = False
        self._in_flight = 0
        self._idle = 0
        self._done = False
        self._arrivals: Queue | None = None
        self.finished = Event()

    def assign(self, share: Share) -> None:
        """Take this worker's share (sent by the master before any user spawns)."""
        self.share = share
        self._warmup_left = share.warmup_requests
        self._measure_left = share.requests

    def start(self) -> None:
        """Called when the test starts on this worker: start the clocks and, in open loop, the arrivals."""
        if self.share is None:
            raise RuntimeError("isvcperf: the test started before the master assigned this worker its share")
        now = time.perf_counter()
        self._warmup_until = now + self.share.warmup_duration
        if self._warmup_left == 0 and self.share.warmup_duration <= 0:
            self._begin_measuring(now)
        if self.share.rate > 0:
            self._arrivals = Queue()
            gevent.spawn(self._arrive, self.share.rate)

    # -- tickets -------------------------------------------------------------------------

    def acquire(self) -> Ticket | None:
        """The next ticket for a user, or None when this worker's share is used up."""
        if self._done:
            return None
        if self._arrivals is None:
            return self._take(time.perf_counter())
        self._idle += 1
        try:
            return self._arrivals.get()
        finally:
            self._idle -= 1

    def complete(self, ticket: Ticket, latency_s: float | None, error: str | None, example: str = "") -> None:
        """A ticket's request finished; record it (unless warm-up) and check whether the share is done."""
        self._in_flight -= 1
        if ticket.warmup:
            self.recorder.warmup_requests += 1
        else:
            self.recorder.record(latency_s, error, example)
        self._check_done()

    def _take(self, now: float) -> Ticket | None:
        if self._exhausted:
            return None
        if self._warmup_left > 0 or now < self._warmup_until:
            if self._warmup_left > 0:
                self._warmup_left -= 1
            self._in_flight += 1
            return Ticket(now, True)
        if not self._measuring:
            self._begin_measuring(now)
        if self._measure_until is not None and now >= self._measure_until:
            self._exhaust()
            return None
        if self._measure_left is not None:
            if self._measure_left <= 0:
                self._exhaust()
                return None
            self._measure_left -= 1
        self._in_flight += 1
        return Ticket(now, False)

    def _begin_measuring(self, now: float) -> None:
        assert self.share is not None
        self._measuring = True
        self.recorder.measure_start = time.time()
        if self.share.duration is not None:
            self._measure_until = now + self.share.duration
            gevent.spawn_later(self.share.duration, self._window_over)

    def _window_over(self) -> None:
        self._exhaust()

    def _exhaust(self) -> None:
        self._exhausted = True
        self._check_done()

    def _check_done(self) -> None:
        if self._measure_left == 0 and not self._exhausted:
            self._exhausted = True
        if self._exhausted and self._in_flight == 0 and not self._done:
            self._done = True
            if self._arrivals is not None:
                for _ in range(self._idle + 1):
                    self._arrivals.put(None)
            self.finished.set()
            self._on_done()

    # -- open loop -----------------------------------------------------------------------

    def _arrive(self, rate: float) -> None:
        """Issue tickets at uniform intervals; an arrival with no idle user is dropped."""
        assert self._arrivals is not None
        interval = 1.0 / rate
        start = time.perf_counter()
        n = 0
        while not self._exhausted:
            intended = start + n * interval
            n += 1
            delay = intended - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            if self._idle <= self._arrivals.qsize():
                if self._measuring:
                    self.recorder.dropped += 1
                continue
            ticket = self._take(intended)
            if ticket is None:
                break
            self._arrivals.put(ticket)
