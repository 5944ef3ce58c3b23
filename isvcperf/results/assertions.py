"""The conditions `isvcperf assert` and `isvcperf k assert` check on a stored result
(Iter8's `assert -c completed -c nofailure -c slos`), each defined once: what it means in
words for the help, and when it holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from isvcperf.results.result import Result


class Condition(NamedTuple):
    meaning: str
    holds: Callable[[Result], bool]


def _completed(result: Result) -> bool:
    return result.status == "completed"


CONDITIONS = {
    "completed": Condition("the run completed (not interrupted, not could-not-run)", _completed),
    "nofailure": Condition("the run completed and no request failed (http/error-count is 0)",
                           lambda result: _completed(result) and not any(e.count for e in result.errors)),
    "slos": Condition("every SLO is satisfied", lambda result: result.slos_satisfied),
    "valid": Condition("the measurement is valid (every validity check holds)", lambda result: result.valid),
}


def check(result: Result, names: list[str]) -> list[tuple[str, bool]]:
    """Each named condition, in the order given, with whether it holds for `result`."""
    return [(name, CONDITIONS[name].holds(result)) for name in names]
