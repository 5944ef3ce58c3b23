"""The one-line form of the final stats in a master's log (written in pods, read by the CLI).

Kept apart from `k8s_fallback` because that module imports Locust (and with it gevent's
monkey-patching), which the CLI reading the log must never do.
"""

from __future__ import annotations

import json

from isvcperf.loadgen.protocol import StatsDocument, parse_document

RESULT_PREFIX = "ISVCPERF_RESULT "


def format_line(document: StatsDocument) -> str:
    return RESULT_PREFIX + json.dumps(document, separators=(",", ":"))


def parse_log(text: str) -> StatsDocument | None:
    """The last result line in a master log, or None."""
    for line in reversed(text.splitlines()):
        start = line.find(RESULT_PREFIX)
        if start >= 0:
            try:
                return parse_document(line[start + len(RESULT_PREFIX):])
            except ValueError:
                return None
    return None
