"""TicketUser: the request loop every isvcperf Locust user shares, whatever the wire.

A user asks the worker's Controller for a ticket, lets the ticket's run-wide number pick
the endpoint (by weight, loadgen.routing) and the body of that endpoint's payload set,
sends it, and reports the outcome twice: to the Recorder through the controller (the
numbers isvcperf judges by) and, unless it is warm-up, to Locust's `request` event (its web
UI and CSV files, which therefore count the same measured requests as the report).
Subclasses say only how one request goes over their wire (`send`) and which endpoints
they hold; HTTP and gRPC users therefore count, warm up, pace and name errors identically.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from locust import User, task
from locust.exception import StopUser

from isvcperf.loadgen import plugin
from isvcperf.loadgen.config import LoadgenConfig
from isvcperf.loadgen.control import Ticket
from isvcperf.loadgen.failures import error_type
from isvcperf.loadgen.routing import Route

Sent = tuple[float, bool, "str | None", str, int, "Exception | None"]
"""(ended, a response came, error type or None, example, response length, exception for Locust)."""


class UserTarget(Protocol):
    """What a user keeps per endpoint: its encoded requests and how errors and stats name it."""

    requests: list[bytes]
    count: int
    pick: Any
    """None for the payload set in turn, else a randrange for random order."""
    name: str
    prefix: str
    request_type: str

    def close(self) -> None:
        """Close the endpoint's connection or channel when the user stops."""


class TicketUser(User):
    """The ticket loop; subclasses implement `open_endpoints` and `send`."""

    abstract = True
    _endpoints: Sequence[UserTarget]
    _route: Route
    ticket: Ticket | None = None
    """The ticket being sent: a user that times more than the response (loadgen.openai_user)
    reads its intended start and whether it is warm-up."""

    def on_start(self) -> None:
        config = plugin.state().config
        self._endpoints = self.open_endpoints(config)
        self._route = Route([endpoint.weight for endpoint in config.endpoints])

    def on_stop(self) -> None:
        for endpoint in self._endpoints:
            endpoint.close()

    def open_endpoints(self, config: LoadgenConfig) -> Sequence[UserTarget]:
        """This wire's state for each of `config.endpoints`, in order, made once when the user starts;
        a subclass also keeps here what else of `config` its `send` needs."""
        raise NotImplementedError

    def request_bytes(self, endpoint: int, number: int) -> bytes:
        """The bytes for endpoint index `endpoint`'s request `number` (counted run-wide).

        By default the endpoint's payload set in turn (or at random), encoded once at start;
        a locustfile of your own can override this to vary what is sent (keep it cheap).
        """
        target = self._endpoints[endpoint]
        if target.pick is not None:
            return target.requests[target.pick(target.count)]
        return target.requests[number % target.count]

    def send(self, target: Any, request: bytes) -> Sent:
        """Send one request; transport exceptions may propagate (they become measured errors)."""
        raise NotImplementedError

    @task
    def infer(self) -> None:
        """Loop for the whole test: one request per ticket, until the share is used up."""
        controller = plugin.state().controller
        assert controller is not None
        fire = self.environment.events.request.fire
        endpoints, route, send = self._endpoints, self._route, self.send
        perf_counter = time.perf_counter
        while True:
            ticket = controller.acquire()
            if ticket is None:
                raise StopUser()
            index, number = route(ticket.slot)
            self.ticket = ticket
            target = endpoints[index]
            request = self.request_bytes(index, number)
            started = perf_counter()
            try:
                ended, responded, error, example, length, exception = send(target, request)
            except Exception as exc:  # any transport failure is a measured error, never a crash
                ended, responded, length, exception = perf_counter(), False, 0, exc
                error = target.prefix + error_type(exc)
                example = str(exc) or error
            controller.complete(ticket, started, ended if responded else None, error, example, index)
            if ticket.warmup:  # sent, measured nowhere: Locust's statistics, UI and CSV hold what the report holds
                continue
            fire(
                request_type=target.request_type,
                name=target.name,
                response_time=(ended - started) * 1000.0,
                response_length=length,
                exception=exception,
                context={},
            )
