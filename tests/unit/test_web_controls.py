"""The rules behind the web UI's buttons and SLO tab (the browser tests drive them for real:
tests/integration/test_web_ui.py)."""

from __future__ import annotations

from test_live_and_monitor import run_spec, stats

from isvcperf.engine.monitor import current_metrics, panel_rows
from isvcperf.loadgen.web_controls import swarm_refusal
from isvcperf.results import slo


def test_swarm_is_refused_once_the_run_started_and_off_the_spec_before() -> None:
    assert "comes from its spec (4 users)" in (swarm_refusal("running", "40", 4, True) or "")
    assert "comes from its spec" in (swarm_refusal("running", "4", 4, True) or "")  # no edit at all mid-run
    assert "this run is over" in (swarm_refusal("finished", "4", 4, True) or "")
    assert "start with 4 users" in (swarm_refusal("waiting", "40", 4, True) or "")
    assert swarm_refusal("waiting", "4", 4, True) is None  # plain Locust's start form with the spec's users
    assert swarm_refusal("waiting", "1", 4, False) is None  # load.stages set the users: the form's number is unused


def test_slo_rows_are_marked_say_no_and_show_the_warm_up() -> None:
    spec = run_spec(slos={"http/latency-p50": {"upper": 0.001}, "http/error-count": {"upper": 0, "abortOnFail": True}})
    document = stats(10.0)
    document["total"]["warmupRequests"] = 25
    values, _ = current_metrics(spec, document)
    rows = {row["metric"]: row for row in panel_rows(spec, slo.evaluate(spec.slos, values), values, document)}
    assert (rows["http/latency-p50"]["mark"], rows["http/latency-p50"]["state"], rows["http/latency-p50"]["abort"]) == (
        "🔴", "FAILING", "no")
    assert (rows["http/error-count"]["mark"], rows["http/error-count"]["state"], rows["http/error-count"]["abort"]) == (
        "🟢", "ok", "yes")
    assert rows["warm-up requests"]["value"] == "25" and rows["warm-up requests"]["state"] == "not measured"
    document["total"]["warmupRequests"] = 0
    assert "warm-up requests" not in {row["metric"] for row in panel_rows(spec, [], values, document)}


def test_the_validity_so_far_is_the_tabs_first_row_with_the_same_columns() -> None:
    from isvcperf.engine.run import build_result

    spec = run_spec(load={"duration": "60s"}, slos={"http/latency-p99.9": {"upper": 1000}})
    document = stats(10.0)
    document.update(workers={}, interval=1.0, intervals=[])
    document["total"].update(errorGroups={})
    values, _ = current_metrics(spec, document)
    validity = build_result(spec, document, "interrupted", "", []).validity  # type: ignore[arg-type]
    rows = panel_rows(spec, slo.evaluate(spec.slos, values), values, document, validity)  # type: ignore[arg-type]
    assert (rows[0]["metric"], rows[0]["value"], rows[0]["state"], rows[0]["mark"]) == (
        "validity (so far)", "samples", "INVALID", "🔴")
    assert rows[1]["metric"] == "http/latency-p99.9" and set(rows[0]) == set(rows[1])
    assert panel_rows(spec, [], values, document)[:1] != rows[:1]  # not judged: no validity row
