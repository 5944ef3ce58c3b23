"""Response checks inside the load generator: the spec's `checks`, compiled once per user.

A check that fails turns a response into an error of its own type, named after the check
(`check failed: outputs[0].shape equals [2, 1]`), with what was found and the start of
the response as the example, so the errors table says what was wrong. The body is parsed
as JSON only when a jsonPath check exists, once per response whatever the number of checks.
"""

from __future__ import annotations

import json
from typing import Any

from isvcperf.util.json_path import MISSING, Step, lookup, parse

EXCERPT = 200


def _excerpt(body: bytes) -> str:
    return body[:EXCERPT].decode("utf-8", "replace")


class ResponseChecks:
    """Call with (status, body): None when every check holds, else (error type, example)."""

    def __init__(self, checks: list[dict[str, Any]]) -> None:
        self._statuses: list[tuple[int, str]] = []
        self._paths: list[tuple[tuple[Step, ...], bool | None, Any, str]] = []
        for check in checks:
            if check.get("status") is not None:
                self._statuses.append((int(check["status"]), f"check failed: status {check['status']}"))
                continue
            path = check["jsonPath"]
            exists = check.get("exists")
            if exists is None:
                label = f"check failed: {path} equals {json.dumps(check.get('equals'))}"
            else:
                label = f"check failed: {path} {'exists' if exists else 'is absent'}"
            self._paths.append((parse(path), exists, check.get("equals"), label))

    def __call__(self, status: int, body: bytes) -> tuple[str, str] | None:
        for expected, label in self._statuses:
            if status != expected:
                return label, f"got HTTP {status}: {_excerpt(body)}"
        if not self._paths:
            return None
        try:
            document = json.loads(body)
        except ValueError:
            return "check failed: response is not JSON", _excerpt(body)
        for steps, exists, equals, label in self._paths:
            value = lookup(document, steps)
            if exists is not None:
                if (value is not MISSING) == exists:
                    continue
            elif value is not MISSING and value == equals:
                continue
            found = "nothing there" if value is MISSING else f"found {json.dumps(value)[:EXCERPT]}"
            return label, f"{found}; response: {_excerpt(body)}"
        return None


def compile_checks(checks: list[dict[str, Any]]) -> ResponseChecks | None:
    """The checks as one callable, or None when there are none (the hot path then skips them)."""
    return ResponseChecks(checks) if checks else None
