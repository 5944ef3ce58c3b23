"""The master's stats document, one typed structure: what each producer makes has its declared
shape, junk is refused, and a master pod imports only the code that runs in Locust."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from stats_shape import problems

from isvcperf.loadgen.last_words import stats_from_files
from isvcperf.loadgen.llm_recorder import Answer, LlmRecorder
from isvcperf.loadgen.log_result import format_line, parse_log
from isvcperf.loadgen.protocol import LlmStats, StatsDocument, Totals, WorkerSnapshot, parse_document
from isvcperf.loadgen.recorder import Recorder, merge


def recorded(errors: int = 1) -> Recorder:
    """A worker's recorder with requests in two stages, two endpoints, errors and a drop (open loop)."""
    recorder = Recorder(open_loop=True, stage_ends=[1.0, 2.0], interval=1.0, endpoints=2)
    recorder.begin(0.0)
    for i in range(20):
        recorder.record(i * 0.1, i * 0.1, i * 0.1 + 0.004, "HTTP 500" if i < errors else None, "boom", endpoint=i % 2)
    recorder.record_drop(1.5)
    recorder.close_interval(0, 12.5, 4)
    return recorder


def test_a_worker_snapshot_and_the_merge_have_their_declared_shape() -> None:
    snapshots = [recorded().snapshot(final=True), recorded(errors=0).snapshot(final=True)]
    for snapshot in snapshots:
        assert problems(snapshot, WorkerSnapshot) == []
        assert snapshot["intervals"]  # the final snapshot ships every interval
    merged = merge(snapshots)
    assert problems(merged, Totals) == []
    assert (merged["requests"], merged["errors"], merged["dropped"]) == (40, 1, 2)
    assert [s["requests"] for s in merged["stages"]] == [20, 20] and len(merged["endpoints"]) == 2


def test_warm_up_errors_travel_in_the_declared_fields(tmp_path: Path) -> None:
    """The warm-up's failures (issue 12: all failed → exit 3) are Totals fields, summed by merge, the first
    error kept, and each worker's count in its WorkerStats."""
    failing, passing = recorded(), recorded()
    for recorder, errors in ((failing, ("HTTP 500", "HTTP 503")), (passing, (None, None))):
        for error in errors:
            recorder.record_warmup(error, "Traceback ... ValueError: bad input")
    snapshots = [passing.snapshot(final=True), failing.snapshot(final=True)]
    assert all(problems(snapshot, WorkerSnapshot) == [] for snapshot in snapshots)
    merged = merge(snapshots)
    assert problems(merged, Totals) == []
    assert (merged["warmupRequests"], merged["warmupErrors"]) == (4, 2)
    assert merged["warmupError"] == "HTTP 500: Traceback ... ValueError: bad input"
    for i, snapshot in enumerate(snapshots):
        final = {"id": f"client-{i}", "index": i, "process": f"worker-{i} (pid 1)", "snapshot": snapshot}
        (tmp_path / f"final-worker-{i}.json").write_text(json.dumps(final))
    document = stats_from_files(sorted(tmp_path.glob("final-*.json")), 1.0)
    assert document is not None and problems(document, StatsDocument) == []
    assert sorted(w["warmupErrors"] for w in document["workers"].values()) == [0, 2]


def generative() -> Recorder:
    """A worker's recorder of a generative run: three streamed answers, one an error, one from usage."""
    recorder = Recorder(open_loop=False, stage_ends=[], interval=1.0)
    recorder.begin(0.0)
    recorder.llm = llm = LlmRecorder(recorder, {"ttft": 0.5, "tpot": None, "e2e": None})
    for i in range(3):
        recorder.record(i * 0.1, i * 0.1, i * 0.1 + 0.3, "truncated stream" if i == 2 else None, "cut")
        llm.record(Answer(intended=i * 0.1, times=[i * 0.1 + 0.1, i * 0.1 + 0.2, i * 0.1 + 0.3], output_tokens=3,
                          from_usage=i == 0, input_tokens=5 if i == 0 else None, error=i == 2, streamed=True))
    return recorder


def test_a_generative_snapshot_carries_llm_in_its_declared_shape(tmp_path: Path) -> None:
    snapshots = [generative().snapshot(final=True), generative().snapshot(final=True)]
    for snapshot in snapshots:
        assert problems(snapshot, WorkerSnapshot) == [] and problems(snapshot["llm"], LlmStats) == []
    for i, snapshot in enumerate(snapshots):
        final = {"id": f"client-{i}", "index": i, "process": f"worker-{i} (pid 1)", "snapshot": snapshot}
        (tmp_path / f"final-worker-{i}.json").write_text(json.dumps(final))
    document = stats_from_files(sorted(tmp_path.glob("final-*.json")), 1.0)  # the master died: llm survives it
    assert document is not None and problems(document, StatsDocument) == []
    llm = document["total"]["llm"]
    assert (llm["requests"], llm["errors"], llm["good"], llm["outputTokens"]) == (6, 2, 4, 18)
    assert (llm["fromUsage"], llm["fromFrames"], llm["inputTokens"]) == (2, 4, 10)
    assert llm["intervals"] == {}  # like the timeline: the rows shipped went with the master, not a tail of them
    assert "llm" not in merge([recorded().snapshot(final=True)])  # a predictive run has none


def test_the_document_rebuilt_from_final_files_has_the_declared_shape(tmp_path: Path) -> None:
    for i in range(2):
        final = {"id": f"client-{i}", "index": i, "process": f"worker-{i} (pid 1)",
                 "snapshot": recorded().snapshot(final=True)}
        (tmp_path / f"final-worker-{i}.json").write_text(json.dumps(final))
    (tmp_path / "final-worker-9.json").write_text("{cut sho")  # unreadable (a full disk): skipped
    document = stats_from_files(sorted(tmp_path.glob("final-*.json")), 1.0)
    assert document is not None and problems(document, StatsDocument) == []
    assert document["phase"] == "interrupted" and document["total"]["requests"] == 40
    assert sorted(w["index"] for w in document["workers"].values()) == [0, 1]
    assert stats_from_files([], 1.0) is None


def test_the_log_line_carries_the_document_whole() -> None:
    document = StatsDocument(
        phase="finished", finishReason="completed", startedAt=1.0, finishedAt=2.0, users=4, connectedWorkers=2,
        expectedWorkers=2, workers={}, total=merge([recorded().snapshot(final=True)]), interval=1.0, timeline=[],
        stages=[])
    log = "Starting Locust\n" + "[2026-01-01] isvcperf: " + format_line(document) + "\nShutting down\n"
    assert parse_log(log) == json.loads(json.dumps(document))
    assert parse_log("no result here\n") is None
    assert parse_log("ISVCPERF_RESULT {cut") is None


@pytest.mark.parametrize("text", ['<html>502 Bad Gateway</html>', "[1, 2]", '{"phase": "exploded", "total": {}}',
                                  '{"phase": "running"}', '{"state": "running", "stats": []}'])
def test_anything_else_is_not_a_stats_document(text: str) -> None:
    with pytest.raises(ValueError):
        parse_document(text)


METRICS_ROUTE_NEEDS = ("isvcperf.results", "isvcperf.results.metrics", "isvcperf.results.slo", "isvcperf.results.result",
                       "isvcperf.results.server_view", "isvcperf.results.server_metrics", "isvcperf.spec",
                       "isvcperf.spec.model", "isvcperf.spec.kubernetes", "isvcperf.spec.validity", "isvcperf.spec.schema",
                       "isvcperf.spec.generative",
                       "isvcperf.spec.metric_names", "isvcperf.kserve", "isvcperf.kserve.urls")
"""The master's /metrics (loadgen.prometheus) computes the metrics and SLO verdicts as the Result does, with the
same functions: those modules and the data classes they name, nothing that loads YAML or builds manifests."""


def test_a_master_pod_imports_only_the_code_that_runs_in_locust() -> None:
    """The pods' fallback once imported the manifests for one port: 20 more isvcperf modules, protobuf, YAML."""
    probe = ("import sys; sys.argv = ['locust', '--master']; import locust; "
             "import isvcperf.locustfiles.infer_http, isvcperf.loadgen.k8s_fallback; "
             "print(' '.join(sorted(m for m in sys.modules if m.startswith(('isvcperf', 'google.protobuf', 'yaml')))))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            timeout=120).stdout.split()
    outside = [m for m in loaded if not m.startswith(("isvcperf.loadgen", "isvcperf.locustfiles", "isvcperf.util"))
               and m not in ("isvcperf", *METRICS_ROUTE_NEEDS)]
    assert outside == []
