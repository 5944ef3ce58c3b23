"""The validity checks (results.validity) on results built by hand: each check's value, limit and
advice, and the rules they state (Poisson tolerance, samples beyond a percentile, windows)."""

from __future__ import annotations

import pytest

from isvcperf import spec
from isvcperf.cli.results import exit_code
from isvcperf.results import validity
from isvcperf.results.result import Result, SLOVerdict, TimelinePoint, ValidityCheck, WorkerSummary

URL = "http://127.0.0.1:9/v2/models/m/infer"


def run_spec(slos: dict | None = None, valid: dict | None = None, **load: object) -> spec.RunSpec:
    return spec.from_data({"target": {"url": URL}, "payload": {"inline": "x"}, "load": load, "slos": slos or {},
                           "validity": valid or {}})


def points(n: int = 10, cpu: float = 50.0, throughput: float = 200.0, p50: float = 2.0, first_p50: float = 2.0,
           requests: int = 200) -> list[TimelinePoint]:
    return [TimelinePoint(t=i + 1.0, requests=requests, throughput=throughput, p50=first_p50 if i == 0 else p50,
                          p90=3.0, p99=4.0, cpu=cpu) for i in range(n)]


def result(requests: int = 2000, dropped: int = 0, errors: int = 0, seconds: float = 10.0, lost: bool = False,
           timeline: list[TimelinePoint] | None = None, **metrics: float) -> Result:
    values = {"http/request-count": float(requests), "http/error-rate": errors / requests if requests else 0.0,
              **{f"http/{k.replace('_', '-')}": v for k, v in metrics.items()}}
    return Result(name="r", status="completed", measured_seconds=seconds, metrics=values,
                  timeline=points() if timeline is None else timeline,
                  workers=[WorkerSummary(id="w0", requests=requests, dropped=dropped, lost_at="now" if lost else "")])


def checks(run: spec.RunSpec, found: Result) -> dict[str, ValidityCheck]:
    return {c.name: c for c in validity.judge(run, found).checks}


def test_a_quiet_open_loop_run_is_valid() -> None:
    run = run_spec(rate=200, duration="10s", slos={"http/latency-p90": {"upper": 10}})
    verdict = validity.judge(run, result(send_lateness_p99=0.2, latency_p99=4.0))
    assert verdict.verdict == "valid", [validity.line(c) for c in verdict.failed]
    assert {c.name for c in verdict.checks} == set(spec_names())


def spec_names() -> tuple[str, ...]:
    from isvcperf.spec.validity import CHECK_NAMES
    return CHECK_NAMES


def test_saturated_generator() -> None:
    found = checks(run_spec(duration="10s"), result(timeline=points(cpu=97.0)))["generator-cpu"]
    assert found.status == "fail"
    message = validity.line(found)
    assert "load generator saturated" in message and "97%" in message and "load.workers" in message


def test_missed_rate_names_the_cause() -> None:
    busy = checks(run_spec(rate=200, duration="10s"), result(requests=1500, dropped=500))
    assert busy["drops"].status == "fail" and "users exhausted" in validity.line(busy["drops"])
    rate = validity.line(busy["achieved-rate"])
    assert busy["achieved-rate"].status == "fail"
    assert "achieved 150.0 req/s of the 200 req/s" in rate and "target could not keep up" in rate
    hot = checks(run_spec(rate=200, duration="10s"), result(requests=1500, timeline=points(cpu=99.0)))
    assert "generator's CPU was saturated" in validity.line(hot["achieved-rate"])


def test_poisson_noise_is_not_a_missed_rate() -> None:
    # finding 5: -2.4% over ~4,000 Poisson arrivals is -1.5σ, not a saturated target
    run = run_spec(rate=400, duration="10s", arrivals="poisson")
    found = checks(run, result(requests=3904, seconds=10.0))["achieved-rate"]
    assert found.status == "pass" and "3σ" in found.limit
    assert "target was saturated" not in validity.line(found)
    assert checks(run, result(requests=3700))["achieved-rate"].status == "fail"  # -7.5% is -4.7σ
    # uniform arrivals are exact: the same -2.4% is beyond their 1%
    assert checks(run_spec(rate=400, duration="10s"), result(requests=3904))["achieved-rate"].status == "fail"


def test_requests_mode_has_an_achieved_rate_too() -> None:
    # finding 5: 10,000 requests asked at 400/s ran at 269/s
    run = run_spec(rate=400, requests=10000)
    found = checks(run, result(requests=10000, seconds=10000 / 269))["achieved-rate"]
    assert found.status == "fail" and "achieved 269.0 req/s of the 400 req/s" in found.value
    assert checks(run, result(requests=10000, seconds=25.01))["achieved-rate"].status == "pass"


def test_too_few_samples_for_a_judged_percentile_says_how_many_would_do() -> None:
    run = run_spec(requests=400, slos={"http/latency-p99.9": {"upper": 100}})
    found = checks(run, result(requests=400))["samples"]
    assert found.status == "fail"
    assert "0.4 of 400 requests" in found.value and "10000 requests" in found.limit
    assert "run at least 10000 requests" in found.advice
    assert checks(run, result(requests=10000))["samples"].status == "pass"
    p90 = run_spec(requests=400, slos={"http/latency-p90": {"upper": 100}})
    assert "rests on 2084 of 20842 requests" in checks(p90, result(requests=20842))["samples"].value  # not 2084.2
    short = checks(p90, result(requests=99))["samples"]  # 9.9 beyond: short of 10, and says so
    assert short.status == "fail" and "rests on 9.9 of 99 requests" in short.value


def test_send_lateness_is_judged_against_the_latency_it_sits_in() -> None:
    run = run_spec(rate=200, duration="10s")
    assert checks(run, result(send_lateness_p99=8.0, latency_p99=10.0))["send-lateness"].status == "fail"
    assert checks(run, result(send_lateness_p99=8.0, latency_p99=500.0))["send-lateness"].status == "pass"
    assert checks(run, result(send_lateness_p99=3.0, latency_p99=4.0))["send-lateness"].status == "pass"  # < 5 ms
    assert checks(run_spec(duration="10s"), result())["send-lateness"].status == "skip"
    # 80 sends carry no p99 (their maximum): judged at p50 instead
    few = checks(run, result(requests=80, send_lateness_p99=8.0, latency_p99=10.0, send_lateness_p50=0.1,
                             latency_p50=2.0))["send-lateness"]
    assert few.status == "pass" and few.value.startswith("p50 0.1 ms")


def test_instability_over_the_last_windows() -> None:
    run = run_spec(duration="15s")
    steady = points(15)
    drifting = [*points(10), *points(5, throughput=100.0)]
    assert checks(run, result(timeline=steady))["stability"].status == "pass"
    found = checks(run, result(timeline=drifting))["stability"]
    assert found.status == "fail" and "throughput" in found.advice and "load.until: stable" in found.advice
    assert checks(run, result(timeline=points(2)))["stability"].status == "skip"


def test_warm_up_too_short_and_survivorship() -> None:
    run = run_spec(duration="10s")
    assert checks(run, result(timeline=points(first_p50=9.0)))["warm-up"].status == "fail"
    assert checks(run, result(timeline=points(first_p50=3.0)))["warm-up"].status == "pass"
    failing = checks(run, result(requests=1000, errors=200))["survivorship"]
    assert failing.status == "fail" and "only the 80% of requests that succeeded" in failing.advice


def test_ignored_checks_warn_and_the_exit_code_follows_validity() -> None:
    run = run_spec(duration="10s", valid={"ignore": ["generator-cpu"]})
    hot = result(timeline=points(cpu=99.0))
    hot.validity = validity.judge(run, hot)
    assert hot.valid and {c.name: c.status for c in hot.validity.checks}["generator-cpu"] == "warn"
    strict = result(timeline=points(cpu=99.0))
    strict.slos = [SLOVerdict(metric="http/latency-p90", satisfied=True, value=1.0, upper=5.0)]
    strict.validity = validity.judge(run_spec(duration="10s"), strict)
    assert strict.verdict == "invalid" and strict.slo_verdict == "passed"
    assert exit_code(strict) == 1 and exit_code(strict, allow_invalid=True) == 0


@pytest.mark.parametrize("field,value", [("validity.maxDropRate", "2"), ("validity.stabilityWindows", "0"),
                                         ("validity.ignore", "[speed]")])
def test_bad_limits_are_one_line(field: str, value: str) -> None:
    import yaml

    from isvcperf.util.errors import SpecError
    key = field.split(".")[1]
    with pytest.raises(SpecError) as info:
        run_spec(duration="1s", valid={key: yaml.safe_load(value)})
    assert field in str(info.value) and "\n" not in str(info.value)


def test_master_capacity_warns_on_the_workers_asked_as_well_as_those_attached() -> None:
    from isvcperf.spec.validity import MASTER_WORKERS, master_capacity_note

    many = MASTER_WORKERS + 1
    within = checks(run_spec(duration="10s", users=8, workers=1), result())["master-capacity"]
    assert within.status == "pass" and within.value == "1 worker"
    asked = checks(run_spec(duration="10s", users=many, workers=many), result())["master-capacity"]
    assert asked.status == "warn" and asked.value == f"{many} workers asked, 1 attached"
    assert asked.limit == f"{MASTER_WORKERS} per master" and "raise metrics.interval" in asked.advice
    capped = checks(run_spec(duration="10s", users=8, workers=many), result())["master-capacity"]
    assert capped.status == "pass"  # no more workers are started than users
    assert validity.judge(run_spec(duration="10s", users=many, workers=many), result()).verdict == "valid"  # advice only
    note = master_capacity_note(many, run_spec(duration="10s").validity)
    assert note is not None and note.startswith(f"{many} worker processes report to one Locust master, which serves "
                                                f"{MASTER_WORKERS} (validity.maxWorkersPerMaster)")
    assert master_capacity_note(MASTER_WORKERS, run_spec(duration="10s").validity) is None
    assert master_capacity_note(3, run_spec(duration="10s", valid={"maxWorkersPerMaster": 2}).validity) is not None


def test_a_run_that_measured_nothing_is_never_valid() -> None:
    # a locustfile with no User class: the master exits, no request is measured; every check is skipped,
    # which must not read as VALID, and no validity.ignore makes it so
    from isvcperf.engine.run import build_result

    run = run_spec(duration="10s", valid={"ignore": list(spec_names())})
    down = build_result(run, None, "could-not-run", "the Locust master exited with code 1 during the run", [])
    assert down.validity is not None and down.validity.verdict == "invalid" and not down.valid
    first = down.validity.checks[0]
    assert (first.name, first.status, first.value) == ("nothing-measured", "fail", "no request was measured")
    assert down.verdict == "could-not-run"  # still "could not run" (exit 3, raised by the engine), as documented
    stopped = build_result(run, None, "interrupted", "interrupted by the user", [])
    assert stopped.verdict == "interrupted" and not stopped.valid
    measured = result()  # one measured request is enough to be judged by the checks alone
    assert "nothing-measured" not in checks(run_spec(duration="10s"), measured)
    # what an empty run makes other checks say ("too few samples: run 100 requests") is not advice
    judged = build_result(run_spec(duration="10s", slos={"http/latency-p90": {"upper": 100}}), None,
                         "could-not-run", "", [])
    assert judged.validity is not None
    assert [c.name for c in judged.validity.checks if c.status in ("fail", "warn")] == ["nothing-measured"]
    samples = next(c for c in judged.validity.checks if c.name == "samples")
    assert (samples.status, samples.value) == ("skip", "not judged: nothing was measured")
