"""The stats route's incremental answers, and the follower's assembly of them into the whole document.

A follower polls the master every second for the whole run, and the timeline grows by a row
per metrics interval: pulled whole, a 5-minute run costs the master a growing document each
second (benchmarks/README.md: master at scale). So the document says which rows are settled
(`timelineSettled`: every worker that may still report has shipped them) and a follower asks
only for the rows from there on (`?since=N`). Rows at or after N may still change as late
workers report, so each answer carries them all again, and the rows before N never change:
the assembled document equals a full pull. The same holds for a generative run's interval
rows (`total.llm.intervals`), the other part of the document that grows with the run.
"""

from __future__ import annotations

from isvcperf.loadgen.protocol import SINCE_PARAM, StatsDocument


def parse_since(value: str | None) -> int:
    """`?since=` as a row index (0 when absent); ValueError with a message a person can act on."""
    if value is None or value == "":
        return 0
    try:
        since = int(value)
    except ValueError:
        since = -1
    if since < 0:
        raise ValueError(f"{SINCE_PARAM}={value!r} is not a timeline row index: give a whole number from 0 "
                         "(the timelineSettled of the previous answer), or leave it out for the whole document")
    return since


def tail(document: StatsDocument, since: int) -> StatsDocument:
    """`document` with only the timeline (and generative interval) rows from index `since` on."""
    if since <= 0:
        return document
    answer = StatsDocument(**document)  # type: ignore[typeddict-item]
    answer["timeline"] = [row for row in document["timeline"] if row["index"] >= since]
    answer["timelineSince"] = since
    llm = document["total"].get("llm")
    if llm is not None:
        intervals = {key: row for key, row in llm["intervals"].items() if int(key) >= since}
        answer["total"] = {**document["total"], "llm": {**llm, "intervals": intervals}}  # type: ignore[typeddict-item]
    return answer


def path(route: str, since: int) -> str:
    """The stats route asking for the rows from `since` on (the plain route for the whole document)."""
    return f"{route}?{SINCE_PARAM}={since}" if since > 0 else route


class Assembly:
    """The whole document, kept up to date from a follower's incremental answers."""

    def __init__(self) -> None:
        self.document: StatsDocument | None = None

    @property
    def since(self) -> int:
        """What to ask next: the rows the last answer did not call settled."""
        return self.document.get("timelineSettled", 0) if self.document is not None else 0

    def add(self, answer: StatsDocument) -> StatsDocument:
        """The whole document after `answer` (an incremental one, or a whole one that replaces it)."""
        since = answer.get("timelineSince")
        if since is None or self.document is None:
            self.document = answer
            return answer
        whole = StatsDocument(**answer)  # type: ignore[typeddict-item]
        del whole["timelineSince"]
        whole["timeline"] = [row for row in self.document["timeline"] if row["index"] < since] + answer["timeline"]
        llm, before = answer["total"].get("llm"), self.document["total"].get("llm")
        if llm is not None:
            kept = {key: row for key, row in (before or {}).get("intervals", {}).items() if int(key) < since}
            whole["total"] = {**answer["total"], "llm": {**llm, "intervals": {**kept, **llm["intervals"]}}}  # type: ignore[typeddict-item]
        self.document = whole
        return whole
