"""Incremental pulls of the stats document: the rows a follower already has never change, so
what it assembles from `?since=` answers equals a whole pull at every step, through late
and lost workers (the master's side with a real Timeline, the follower's with its Assembly)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from isvcperf.loadgen import increment
from isvcperf.loadgen.protocol import IntervalCounts, StatsDocument
from isvcperf.loadgen.recorder import Recorder, Timeline


def interval(requests: int) -> IntervalCounts:
    return IntervalCounts(histogram="", requests=requests, successes=requests, errors=0, cpu=10.0, users=1)


def document(timeline: Timeline, pending: list[str], llm: dict[str, list[int]]) -> StatsDocument:
    """What the master serves whole (as JSON, so later changes to its rows do not reach earlier answers)."""
    total: dict[str, Any] = {"histogram": "", "requests": 0, "successes": 0, "errors": 0, "llm": {"intervals": llm}}
    whole = {"phase": "running", "finishReason": "", "startedAt": None, "finishedAt": None, "users": 2,
             "connectedWorkers": 2, "expectedWorkers": 2, "workers": {}, "total": total, "interval": 1.0,
             "timeline": timeline.summary(), "timelineSettled": timeline.settled(pending), "stages": []}
    return json.loads(json.dumps(whole))


def test_a_worker_ships_its_intervals_in_order_and_only_once_closed() -> None:
    recorder = Recorder(open_loop=False, stage_ends=[], interval=1.0)
    recorder.begin(time.perf_counter() - 5.5)  # five intervals have ended
    for index in range(5):
        base = recorder._base + index + 0.5
        recorder.record(base, base, base + 0.001, None)
    recorder.close_interval(0, 5.0, 1)
    recorder.close_interval(1, 5.0, 1)
    assert sorted(recorder.snapshot()["intervals"]) == ["0", "1"]  # 2 and 3 wait for their CPU sample
    recorder.close_interval(2, 5.0, 1)
    assert sorted(recorder.snapshot()["intervals"]) == ["2"]
    assert sorted(recorder.snapshot(final=True)["intervals"]) == ["3", "4"]


def test_settled_rows_are_those_every_pending_worker_has_shipped() -> None:
    timeline = Timeline()
    timeline.add("a", {"0": interval(1), "1": interval(1), "2": interval(1)})
    timeline.add("b", {"0": interval(1)})
    assert timeline.settled(["a", "b"]) == 1
    assert timeline.settled(["a", "b", "not yet reported"]) == 0
    assert timeline.settled(["a"]) == 3
    assert timeline.settled([]) == 3  # nobody may report any more: every row


def test_assembled_answers_equal_a_whole_pull_through_late_and_lost_workers() -> None:
    timeline, llm = Timeline(), {}
    assembly = increment.Assembly()
    partial_rows = []

    def poll(pending: list[str]) -> None:
        whole = document(timeline, pending, dict(llm))
        answer = increment.tail(json.loads(json.dumps(whole)), assembly.since)
        partial_rows.append(len(answer["timeline"]))
        assert assembly.add(answer) == whole

    timeline.add("a", {"0": interval(5), "1": interval(5)})
    llm.update({"0": [5, 5, 50], "1": [5, 5, 50]})
    poll(["a", "b"])
    timeline.add("b", {"0": interval(3)})  # row 0 changes after the follower got it: it was not settled
    llm["0"] = [8, 8, 80]
    poll(["a", "b"])
    timeline.add("a", {str(i): interval(5) for i in range(2, 6)})
    llm.update({str(i): [5, 5, 50] for i in range(2, 6)})
    poll(["a", "b"])  # b is lost after interval 0: it stays pending, rows from 1 on are pulled again
    timeline.add("b", {"1": interval(2), "2": interval(2)})  # ... and was only late
    llm["2"] = [7, 7, 70]
    poll(["a", "b"])
    timeline.add("a", {"6": interval(1)})  # a's last, partial interval, then it is done
    timeline.add("b", {str(i): interval(2) for i in range(3, 7)})
    poll([])
    poll([])
    assert partial_rows == [2, 2, 5, 5, 4, 0]  # whole: 2, 2, 6, 6, 7, 7 rows
    assert [row["requests"] for row in assembly.document["timeline"]] == [8, 7, 7, 7, 7, 7, 3]


def test_a_whole_answer_replaces_what_was_assembled() -> None:
    timeline = Timeline()
    timeline.add("a", {"0": interval(1), "1": interval(1)})
    assembly = increment.Assembly()
    assembly.add(document(timeline, [], {}))
    from_log = document(timeline, [], {})  # e.g. the master's log line after the stats route went away
    from_log["timeline"] = []
    assert assembly.add(from_log) == from_log


@pytest.mark.parametrize("value", ["abc", "-1", "1.5"])
def test_a_since_that_is_no_row_index_is_refused_with_what_to_give(value: str) -> None:
    with pytest.raises(ValueError, match=rf"since='{value}' is not a timeline row index: give a whole number from 0"):
        increment.parse_since(value)


def test_since_absent_or_zero_is_the_whole_document() -> None:
    assert increment.parse_since(None) == increment.parse_since("") == increment.parse_since("0") == 0
    assert increment.path("/isvcperf/stats", 0) == "/isvcperf/stats"
    assert increment.path("/isvcperf/stats", 12) == "/isvcperf/stats?since=12"
