"""Controller: one worker's share of the load, handed out to its users as tickets.

Locust decides how many users run where; this decides what each request is. The master
assigns every worker a share (requests, warm-up requests, rate); users ask for a ticket
before each request, so counts are exact (no request is sent beyond the quota) and
warm-up is exact too. In closed loop a ticket is available at once; in open loop an
arrival greenlet issues tickets at scheduled times that do not depend on responses —
uniformly spaced, or Poisson — and an arrival finding no idle user is counted as dropped
rather than delayed (k6's dropped_iterations), or with load.overload: queue waits for the
next free user, its latency from the intended time holding the wait (wrk2). Latency in open loop is measured from the
ticket's intended time, which corrects coordinated omission the way wrk2 does; the arrival
greenlet waits for each intended time with a precise pacer (loadgen.pacing), so that
correction no longer carries the generator's own timer delay, and how late each request
really went out is recorded as its send lateness. When the arrival greenlet falls behind
(a busy generator), it issues the late arrivals at once with their original intended
times, so the lateness shows in the latency instead of vanishing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import Event
from gevent.queue import Queue

from isvcperf.loadgen import pacing
from isvcperf.loadgen.recorder import Recorder
from isvcperf.loadgen.stages import Schedule

RATE_STEP = 0.01
"""Integration step (seconds) for arrival times under a changing rate."""
END_TOLERANCE = 1e-6
"""An arrival this close to the window's end (seconds) is at the end: arrival times are sums
of floating-point gaps, so the one due exactly at the end may come out a few ulps early."""


@dataclass
class Share:
    """One worker's part of the run, computed by the master."""

    index: int
    requests: int | None
    warmup_requests: int
    rate: float
    duration: float | None
    warmup_duration: float
    workers: int = 1
    """How many shares the run was split into: this worker numbers its tickets index, index + workers, ..."""

    @classmethod
    def split(cls, count: int, requests: int | None, warmup: int, rate: float, duration: float | None,
              warmup_duration: float) -> list[Share]:
        """Split the run across `count` workers; remainders go to the first workers, so totals are exact."""

        def part(total: int, i: int) -> int:
            return total // count + (1 if i < total % count else 0)

        return [
            cls(i, None if requests is None else part(requests, i), part(warmup, i), rate / count, duration,
                warmup_duration, count)
            for i in range(count)
        ]


@dataclass(frozen=True)
class Ticket:
    """Permission to send one request: when it was meant to start, whether it is warm-up, its number."""

    intended: float
    """time.perf_counter() value the request was scheduled for."""
    warmup: bool
    slot: int = 0
    """The request's number in the whole run (warm-up and measured counted apart), unique across
    workers: worker i of n hands out i, i + n, i + 2n, ..., so with exact shares the measured
    slots are exactly 0 .. requests-1 and a weighted split over slots (loadgen.routing) is exact."""


class Controller:
    """Hands out tickets for one worker and tells the master when the share is done."""

    def __init__(self, recorder: Recorder, on_done: Callable[[], Any], rate_schedule: Schedule | None = None,
                 poisson: bool = False, workers: int = 1, queue: bool = False) -> None:
        self.recorder = recorder
        self._queue = queue
        """load.overload: queue — an arrival finding every user busy waits for one instead of being dropped."""
        self.share: Share | None = None
        self._on_done = on_done
        self._schedule = rate_schedule
        self._poisson = poisson
        self._workers = workers
        self._warmup_left = 0
        self._measure_left: int | None = None
        self._warmup_until = 0.0
        self._measure_from: float | None = None
        self._measure_until: float | None = None
        self._exhausted = False
        self._in_flight = 0
        self._idle = 0
        self._done = False
        self._arrivals: Queue | None = None
        self._clocks_started = False
        self._slot = 0
        self._warmup_slot = 0
        self._stride = 1
        self.finished = Event()
        self.measuring = Event()

    def assign(self, share: Share) -> None:
        """Take this worker's share (sent by the master before any user spawns)."""
        self.share = share
        self._warmup_left = share.warmup_requests
        self._measure_left = share.requests
        self._slot = self._warmup_slot = share.index
        self._stride = share.workers

    def start(self) -> None:
        """Called when the test starts on this worker, before its users spawn.

        Closed loop: the clocks start now. Open loop: when the first user waits for a
        ticket (_start_clocks from acquire) — the users Locust spawns together are all
        waiting by the time the arrival greenlet runs, so the first arrival, due at once,
        does not find an empty worker and count as a drop.
        """
        if self.share is None:
            raise RuntimeError("isvcperf: the test started before the master assigned this worker its share")
        if self.share.rate > 0 or self._schedule is not None:
            self._arrivals = Queue()
        else:
            self._start_clocks()

    def _start_clocks(self) -> None:
        """Start warm-up and measurement and, in open loop, the arrivals."""
        assert self.share is not None
        self._clocks_started = True
        now = time.perf_counter()
        self._warmup_until = now + self.share.warmup_duration
        if self._warmup_left == 0 and self.share.warmup_duration <= 0:
            self._begin_measuring(now)
        if self._arrivals is not None:
            gevent.spawn(self._arrive, now)

    # -- tickets -------------------------------------------------------------------------

    def acquire(self) -> Ticket | None:
        """The next ticket for a user, or None when this worker's share is used up."""
        if self._done:
            return None
        if self._arrivals is None:
            return self._take(time.perf_counter())
        if not self._clocks_started:
            self._start_clocks()
        self._idle += 1
        try:
            return self._arrivals.get()
        finally:
            self._idle -= 1

    def complete(self, ticket: Ticket, sent: float, finished: float | None, error: str | None,
                 example: str = "", endpoint: int = 0) -> None:
        """A ticket's request to `endpoint` (an index) ended (finished is None without a response);
        record it unless warm-up."""
        self._in_flight -= 1
        if ticket.warmup:
            self.recorder.record_warmup(error, example)
        else:
            self.recorder.record(ticket.intended, sent, finished, error, example, endpoint)
        if self._exhausted or self._measure_left == 0:
            self._check_done()

    def _take(self, now: float) -> Ticket | None:
        if self._exhausted:
            return None
        if self._warmup_left > 0 or now < self._warmup_until:
            if self._warmup_left > 0:
                self._warmup_left -= 1
            self._in_flight += 1
            self._warmup_slot += self._stride
            return Ticket(now, True, self._warmup_slot - self._stride)
        if self._measure_from is None:
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
        self._slot += self._stride
        return Ticket(now, False, self._slot - self._stride)

    def _begin_measuring(self, now: float) -> None:
        assert self.share is not None
        self._measure_from = now
        self.recorder.begin(now)
        self.measuring.set()
        if self.share.duration is not None:
            self._measure_until = now + self.share.duration
            if self._arrivals is None:  # open loop: the arrival greenlet ends the window (_arrive)
                gevent.spawn_later(self.share.duration, self._exhaust)

    def stop(self) -> None:
        """Hand out no more tickets (the run was interrupted): requests in flight finish and are recorded."""
        self._abandon_queued()
        self._exhaust()

    def _abandon_queued(self) -> None:
        """load.overload: queue, at the window's end: arrivals still waiting for a user were never sent.
        They count as dropped (unsent), so an overloaded run is invalid in this mode too, and the run
        ends with its window instead of draining a backlog for as long again."""
        while self._queue and self._arrivals is not None and not self._arrivals.empty():
            ticket = self._arrivals.get_nowait()
            if ticket is None:
                continue
            self._in_flight -= 1
            if not ticket.warmup:
                self.recorder.record_drop(ticket.intended)

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

    def rate_at(self, now: float) -> float:
        """This worker's arrival rate at perf_counter time `now`."""
        assert self.share is not None
        if self._schedule is None:
            return self.share.rate
        since = now - self._measure_from if self._measure_from is not None else -1.0
        return self._schedule.value_at(since) / self._workers

    def _arrive(self, start: float) -> None:
        """Issue tickets at their intended times (loadgen.pacing) from `start`, the perf_counter time
        the clocks started; an arrival with no idle user is dropped.

        Catch-up, stated as Fortio states its own: the schedule never moves. An arrival
        whose time has already passed when the greenlet gets to it (the generator stalled:
        a GC pause, a busy CPU) is issued at once, with its original intended time, so its
        latency and its send lateness both count the stall; late arrivals are never
        dropped for being late, only when they find no idle user, like any other (between
        two late ones the greenlet yields once, so users free to take the first have).

        The window ends here, by intended time, not by a wall-clock timer: the first
        arrival due at or after its end ends it at once, uncounted (it once showed as a
        spurious drop with a "raise load.users" warning), and arrivals due inside it are
        all issued or dropped even when a stall near the end makes them late (a timer
        firing first used to lose them silently).
        """
        assert self._arrivals is not None
        pacer = pacing.choose()
        intended = start
        try:
            for work in self._work():
                intended = self._next_arrival(intended, work)
                if self._measure_until is not None and intended >= self._measure_until - END_TOLERANCE:
                    self._abandon_queued()
                    self._exhaust()
                    break
                late = intended < time.perf_counter()
                pacer.wait_until(intended)
                if self._exhausted:
                    break
                if late:  # catching up: let users take the tickets already issued before judging this one
                    gevent.sleep(0)
                if self._idle <= self._arrivals.qsize() and not self._queue:
                    if self._measure_from is not None:
                        self.recorder.record_drop(intended)
                    continue
                ticket = self._take(intended)
                if ticket is None:
                    break
                self._arrivals.put(ticket)
        finally:
            pacer.close()

    def _work(self) -> Iterator[float]:
        """Expected arrivals from one send to the next, endlessly.

        Uniform: the first arrival at the start, then one each, so a window of D seconds
        at R req/s holds exactly R·D arrivals (the first used to come 1/R late, and the
        window's count fell one short). Poisson: Exp(1) each, the first included.
        """
        if self._poisson:
            rng = random.Random()
            while True:
                yield rng.expovariate(1.0)
        yield 0.0
        while True:
            yield 1.0

    def _next_arrival(self, t: float, work: float) -> float:
        """The time when `work` expected arrivals will have accumulated after `t`.

        One exact step at a constant rate; under a changing rate, steps of at most
        RATE_STEP, so a ramp from 0 is followed instead of jumping a whole 1/rate ahead.
        (A unit of work per arrival gives uniform spacing; Exp(1) work gives a Poisson
        process of the same rate, by time rescaling.)
        """
        while True:
            rate = self.rate_at(t)
            if rate > 0 and (self._schedule is None or work / rate <= RATE_STEP):
                return t + work / rate
            t += RATE_STEP
            work -= rate * RATE_STEP
            if work <= 0:
                return t
