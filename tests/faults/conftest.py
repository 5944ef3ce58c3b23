"""Fixtures of the fault tests: misbehaving loopback servers (`serve`, from servers.py), and
the table of overruns (how long each run took beyond its duration, and what was lost)
printed at the end."""

from __future__ import annotations

from typing import Any

from runs import FIGURES, stop_leftover_runs
from servers import serve

__all__ = ["serve", "stop_leftover_runs"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault runs: overrun of the intended end, and what was lost")
    for row in FIGURES:
        overrun = "n/a" if row["overrun"] is None else f"{row['overrun']:+.1f}s"
        terminalreporter.write_line(f"{row['fault']:<44} overrun {overrun:>7}   lost: {row['lost']}")
