"""Fixtures of the fault tests: misbehaving loopback servers, and the table of overruns
(how long each run took beyond its duration, and what was lost) printed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from runs import FIGURES
from servers import FaultServer


@pytest.fixture
def serve() -> Iterator[Callable[..., FaultServer]]:
    """`serve(behaviour, **options)`: a started FaultServer in this process, stopped at teardown."""
    started: list[FaultServer] = []

    def start(behaviour: str, **options: Any) -> FaultServer:
        server = FaultServer(behaviour, **options).__enter__()
        started.append(server)
        return server

    start.servers = started  # type: ignore[attr-defined]
    yield start
    for server in started:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault runs: overrun of the intended end, and what was lost")
    for row in FIGURES:
        overrun = "n/a" if row["overrun"] is None else f"{row['overrun']:+.1f}s"
        terminalreporter.write_line(f"{row['fault']:<44} overrun {overrun:>7}   lost: {row['lost']}")
