"""`isvcperf compare`: deltas, tolerances, the regression verdict, its formats and exit code."""

from __future__ import annotations

import dataclasses
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from synthetic_results import histogram_of, latencies, staged

from isvcperf.report.comparison import regression_lines, render_comparison
from isvcperf.results import metrics
from isvcperf.results.compare import compare, direction, parse_tolerances, tolerance_for
from isvcperf.results.result import Result, SLOVerdict, TimelinePoint
from isvcperf.util.errors import SpecError


def run(metrics: dict[str, float], slos: list[SLOVerdict] | None = None, name: str = "r") -> Result:
    return Result(name=name, status="completed", metrics=metrics, slos=slos or [])


BASE = {"http/request-count": 1000.0, "http/latency-p90": 10.0, "http/latency-p99": 20.0, "http/throughput": 100.0,
        "http/error-rate": 0.0, "http/latency-max": 50.0}


def deltas(base: dict[str, float], candidate: dict[str, float], *tolerances: str) -> dict[str, tuple]:
    found = compare(run(base), run(candidate), parse_tolerances(list(tolerances)))
    return {d.metric: (d.change, d.relative, d.regressed) for d in found.metrics}


def test_deltas_and_default_tolerances() -> None:
    candidate = {**BASE, "http/latency-p90": 10.9, "http/latency-p99": 22.5, "http/throughput": 89.0,
                 "http/latency-max": 500.0, "http/request-count": 700.0}
    found = deltas(BASE, candidate)
    change, relative, regressed = found["http/latency-p90"]
    assert change == pytest.approx(0.9) and relative == pytest.approx(0.09) and not regressed
    assert found["http/latency-p99"][2] is True  # +12.5% > 10%
    assert found["http/throughput"][2] is True  # -11% > 10%
    assert found["http/latency-max"][2] is False  # max is too noisy to judge by default
    assert found["http/request-count"][2] is False  # neutral
    assert found["http/error-rate"] == (0.0, None, False)


def test_error_rate_tolerance_is_absolute_and_improvements_never_regress() -> None:
    assert deltas(BASE, {**BASE, "http/error-rate": 0.0009})["http/error-rate"][2] is False
    assert deltas(BASE, {**BASE, "http/error-rate": 0.002})["http/error-rate"][2] is True
    better = {**BASE, "http/latency-p99": 2.0, "http/throughput": 1000.0}
    assert not compare(run(BASE), run(better)).regressed


def test_given_tolerances_override_defaults_by_glob_last_wins() -> None:
    candidate = {**BASE, "http/latency-p90": 11.5, "http/latency-p99": 23.0}
    found = deltas(BASE, candidate, "http/latency-*=20%", "http/latency-p99=5%")
    assert found["http/latency-p90"][2] is False
    assert found["http/latency-p99"][2] is True
    assert deltas(BASE, {**BASE, "http/latency-max": 60.0}, "http/latency-max=5")["http/latency-max"][2] is True
    assert str(tolerance_for("http/latency-p99.9", parse_tolerances(["http/latency-p99.9=1%"]))) == "1%"


def test_a_metric_missing_from_the_candidate_regresses_only_when_asked_for() -> None:
    candidate = {k: v for k, v in BASE.items() if k != "http/latency-p99"}
    assert not compare(run(BASE), run(candidate)).regressed
    found = compare(run(BASE), run(candidate), parse_tolerances(["http/latency-p99=10%"]))
    assert regression_lines(found) == ["http/latency-p99 was not measured for the candidate"]


def test_an_slo_that_stops_holding_is_a_regression() -> None:
    base = run(BASE, [SLOVerdict("http/latency-p90", True, 10.0, upper=10.5)])
    candidate = run({**BASE, "http/latency-p90": 10.6}, [SLOVerdict("http/latency-p90", False, 10.6, upper=10.5)])
    found = compare(base, candidate)
    assert regression_lines(found) == ["SLO http/latency-p90 held for the base and fails for the candidate"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [("http/latency-p99", "is not METRIC=AMOUNT"), ("http/latency-p99=ten%", "is not METRIC=AMOUNT"),
     ("http/latncy-p99=10%", "unknown metric")],
)
def test_bad_tolerances_name_the_flag(text: str, problem: str) -> None:
    with pytest.raises(SpecError, match=rf"^--max-regression: .*{problem}"):
        parse_tolerances([text])


def test_directions() -> None:
    assert [direction(m) for m in ("http/throughput", "grpc/latency-p99", "http/error-count", "http/request-count",
                                   "http/service-time-p90", "http/send-lateness-p99")] == [
        "higher", "lower", "lower", "neutral", "lower", "lower"]
    assert tolerance_for("http/send-lateness-p99", []) is None  # shown as "not judged", like service time


def test_formats_show_both_runs_side_by_side() -> None:
    base, candidate = staged("v1", 4.0, 1), staged("v2", 4.6, 2)
    found = compare(base, candidate)
    assert found.regressed
    text = render_comparison(found, "text")
    row = next(line for line in text.splitlines() if line.startswith("http/latency-p90 "))
    assert row.split() == ["http/latency-p90", "7.439", "ms", "8.655", "ms", "+1.216", "ms", "+16.3%", "REGRESSED",
                           "(tolerance", "10%)"]
    assert "http/latency-p90 up 16.3% (7.439 → 8.655 ms), more than the 10% allowed" in text
    md = render_comparison(found, "markdown")
    assert md.startswith("## ❌ Regression: v2 vs v1")
    assert "| `http/latency-p90` | 7.439 ms | 8.655 ms | +1.216 ms | +16.3% | ❌ REGRESSED (tolerance 10%) |" in md
    html = render_comparison(found, "html")
    assert 'class="banner failed"' in html
    assert re.search(r'<tr class="regressed"><td>http/latency-p90</td>', html)
    assert 'data-chart="spectrum-comparison"' in html
    same = render_comparison(compare(base, dataclasses.replace(base, name="v1-again")), "html")
    assert 'class="banner passed"' in same and "no regression" in same


def test_cli_exit_codes(tmp_path: Path) -> None:
    base, candidate = tmp_path / "base", tmp_path / "cand"
    base.mkdir()
    candidate.mkdir()
    staged("v1", 4.0, 1).save(base / "result.json")
    staged("v2", 4.6, 2).save(candidate / "result.json")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "isvcperf", "compare", *args], capture_output=True, text=True,
                              timeout=60)

    regressed = cli(str(base), str(candidate / "result.json"))
    assert regressed.returncode == 1 and "Verdict: REGRESSED" in regressed.stdout
    tolerant = cli(str(base), str(candidate), "--max-regression", "*/latency-p*=25%", "--max-regression",
                   "http/latency-mean=25%", "-o", "markdown")
    assert tolerant.returncode == 0, tolerant.stdout
    assert tolerant.stdout.startswith("## ✅ No regression")
    bad = cli(str(base), str(candidate), "--max-regression", "p99")
    assert bad.returncode == 2 and bad.stderr.startswith("isvcperf: error: --max-regression: 'p99' is not METRIC=AMOUNT")
    missing = cli(str(base), str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no result at" in missing.stderr


def test_llm_directions() -> None:
    higher = ["llm/request-throughput", "llm/output-tokens-per-second", "llm/total-tokens-per-second", "llm/goodput",
              "llm/goodput-ratio"]
    lower = ["llm/ttft-p99", "llm/itl-p50", "llm/tpot-mean", "llm/e2e-p99.9", "llm/error-rate", "llm/error-count"]
    neutral = ["llm/output-length-p90", "llm/input-length-mean", "llm/output-tokens", "llm/request-count",
               "llm/tokens-from-usage", "llm/good-count"]
    assert {direction(m) for m in higher} == {"higher"}
    assert {direction(m) for m in lower} == {"lower"}
    assert {direction(m) for m in neutral} == {"neutral"}


def test_generative_runs_regress_the_right_way() -> None:
    base = {"llm/ttft-p90": 100.0, "llm/tpot-p90": 20.0, "llm/output-tokens-per-second": 1000.0,
            "llm/goodput-ratio": 0.95, "llm/goodput": 9.5, "llm/output-length-p90": 64.0}
    faster = {"llm/ttft-p90": 50.0, "llm/tpot-p90": 10.0, "llm/output-tokens-per-second": 2000.0,
              "llm/goodput-ratio": 1.0, "llm/goodput": 20.0, "llm/output-length-p90": 128.0}
    assert not any(regressed for *_, regressed in deltas(base, faster).values())
    slower = {"llm/ttft-p90": 115.0, "llm/tpot-p90": 21.0, "llm/output-tokens-per-second": 850.0,
              "llm/goodput-ratio": 0.89, "llm/goodput": 9.0, "llm/output-length-p90": 16.0}
    found = deltas(base, slower)
    assert {m for m, (*_, regressed) in found.items() if regressed} == {
        "llm/ttft-p90", "llm/output-tokens-per-second", "llm/goodput-ratio"}
    lines = regression_lines(compare(run(base), run(slower)))
    assert "llm/ttft-p90 up 15.0% (100.0 → 115.0 ms), more than the 10% allowed" in lines
    assert "llm/output-tokens-per-second down 15.0% (1000 → 850.0 tok/s), more than the 10% allowed" in lines
    assert any(line.startswith("llm/goodput-ratio down") and "more than the 0.05 allowed" in line for line in lines)
    assert found == deltas(base, slower, "llm/tpot-p90=10%")  # 5% is within a given 10% too
    assert deltas(base, slower, "llm/tpot-*=2%")["llm/tpot-p90"][2] is True


def sampled(seed: int, median_ms: float = 4.0, count: int = 1500, **load: object) -> Result:
    """A run of `count` lognormal latencies around `median_ms`, with its histogram, as a real run stores it."""
    encoded = histogram_of(latencies(count, median_ms, seed))
    values = metrics.compute({"requests": count, "errors": 0, "histogram": encoded}, [50, 90, 99, 99.9], 10.0)
    return Result(name=f"run{seed}", status="completed", metrics=values, histogram=encoded,
                  load={"users": 4, "rate": 0, **load})


def test_two_samples_of_one_distribution_are_not_a_regression() -> None:
    """Seed 10's p99 is >10% above seed 1's by chance alone: the bare rule called it REGRESSED."""
    base, candidate = sampled(1), sampled(10)
    p99 = candidate.metrics["http/latency-p99"] / base.metrics["http/latency-p99"]
    assert p99 > 1.10
    found = compare(base, candidate)
    assert not found.regressed, regression_lines(found)
    delta = next(d for d in found.metrics if d.metric == "http/latency-p99")
    assert delta.noise > 0 and "noise ±" in render_comparison(found, "text")


def test_a_real_shift_is_still_a_regression() -> None:
    found = compare(sampled(1), sampled(2, median_ms=5.0))  # +25% everywhere
    assert found.regressed
    assert any(line.startswith("http/latency-p50 up") for line in regression_lines(found))


def drifting(result: Result, medians: list[float]) -> Result:
    """`result` with a timeline whose per-second median moves as on a shared machine."""
    points = [TimelinePoint(t=i + 1.0, requests=100, throughput=100.0, p50=m, p90=2 * m, p99=3 * m)
              for i, m in enumerate(medians)]
    return dataclasses.replace(result, timeline=points)


def test_a_shift_within_each_runs_own_drift_is_not_a_regression() -> None:
    """A whole run moving 25% is a regression when each run's windows agree with each other, and noise
    when the windows themselves wander that much (the back-to-back runs on a busy machine did)."""
    base, candidate = sampled(1), sampled(2, median_ms=5.0)
    steady = compare(drifting(base, [4.0, 4.05, 3.95, 4.0]), drifting(candidate, [5.0, 5.05, 4.95, 5.0]))
    assert steady.regressed
    wandering = compare(drifting(base, [3.0, 5.5, 3.5, 5.0]), drifting(candidate, [4.0, 6.5, 4.5, 6.0]))
    assert not any(line.startswith("http/latency-p50") for line in regression_lines(wandering))


def test_p99_9_and_max_are_shown_not_judged_unless_asked() -> None:
    base = run({"http/latency-p99.9": 20.0, "http/latency-max": 30.0})
    candidate = run({"http/latency-p99.9": 40.0, "http/latency-max": 90.0})
    found = compare(base, candidate)
    assert not found.regressed
    assert "not judged" in render_comparison(found, "text")
    assert compare(base, candidate, parse_tolerances(["http/latency-p99.9=10%"])).regressed


def test_latency_changes_under_the_floor_never_regress() -> None:
    assert not compare(run({"http/latency-p50": 0.2}), run({"http/latency-p50": 0.6})).regressed  # +200%, 0.4 ms


def test_runs_at_different_loads_are_refused_without_force(tmp_path: Path) -> None:
    sampled(1).save(tmp_path / "base.json")
    sampled(1, users=8).save(tmp_path / "cand.json")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "isvcperf", "compare", str(tmp_path / "base.json"),
                               str(tmp_path / "cand.json"), *args], capture_output=True, text=True, timeout=60)

    refused = cli()
    assert refused.returncode == 2 and "different loads (users 4 → 8)" in refused.stderr and "--force" in refused.stderr
    forced = cli("--force")
    assert forced.returncode == 0, forced.stderr
    assert "Warning: the runs were made at different loads (users 4 → 8)" in forced.stdout
    runs = forced.stdout.split("Metrics\n", 1)[0]
    assert "Load" in runs and "4 users" in runs and "8 users" in runs


def test_an_invalid_run_at_another_load_needs_both_force_and_allow_invalid(tmp_path: Path) -> None:
    """cli12's load refusal and issue 14's invalid-run refusal hold together."""
    from isvcperf.results.result import Validity, ValidityCheck

    sampled(1).save(tmp_path / "base.json")
    candidate = sampled(1, users=8)
    candidate.validity = Validity("invalid", [ValidityCheck("drops", "fail", "5% dropped", "0.1%")])
    candidate.save(tmp_path / "cand.json")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "isvcperf", "compare", str(tmp_path / "base.json"),
                               str(tmp_path / "cand.json"), *args], capture_output=True, text=True, timeout=60)

    assert cli().returncode == 2  # different loads first
    forced = cli("--force")
    assert forced.returncode == 1 and "Verdict: INVALID: no regression verdict" in forced.stdout
    assert "the candidate run is invalid (drops)" in forced.stdout and "different loads (users 4 → 8)" in forced.stdout
    allowed = cli("--force", "--allow-invalid")
    assert allowed.returncode == 0, allowed.stdout
    assert "Load" in allowed.stdout.split("Metrics\n", 1)[0]


def two_modes(seed: int, slow_shares: list[float], per_interval: int = 400) -> Result:
    """A run of 1 ms requests and a slow mode at 12 ms (requests queued behind a busy CPU), one interval
    per share of slow requests, with the timeline those intervals' own percentiles make: MLServer on a
    shared 2-core machine looks like this, and its slow share wanders from second to second."""
    rng = random.Random(seed)
    intervals = [[rng.gauss(12.0, 0.5) if rng.random() < share else rng.gauss(1.0, 0.05) for _ in range(per_interval)]
                 for share in slow_shares]
    every = [ms for interval in intervals for ms in interval]
    encoded = histogram_of(every)
    values = metrics.compute({"requests": len(every), "errors": 0, "histogram": encoded}, [50, 75, 90, 99], 10.0)

    def at(interval: list[float], q: float) -> float:
        return sorted(interval)[int(q * len(interval))]

    timeline = [TimelinePoint(t=i + 1.0, requests=len(v), throughput=float(len(v)), p50=at(v, 0.5), p90=at(v, 0.9),
                              p99=at(v, 0.99)) for i, v in enumerate(intervals)]
    return Result(name=f"run{seed}", status="completed", metrics=values, histogram=encoded, timeline=timeline,
                  load={"users": 4, "rate": 0})


def test_a_slow_tail_that_comes_and_goes_is_noise_for_p75_and_the_mean_too() -> None:
    """Two identical 4 s runs on a busy machine: p75 jumped 2x and the mean +44% because a few more
    requests landed in the slow mode, while only p50/p90/p99 had a drift allowance (the mean's came from
    the median's). Each figure's drift now comes from the intervals' own quantile functions."""
    base, candidate = two_modes(1, [0.0, 0.30, 0.05, 0.25]), two_modes(2, [0.20, 0.50, 0.25, 0.45])
    p75 = candidate.metrics["http/latency-p75"] / base.metrics["http/latency-p75"]
    mean = candidate.metrics["http/latency-mean"] / base.metrics["http/latency-mean"]
    assert p75 > 3 and mean > 1.5  # the slow share 15% → 35% moves p75 from the fast mode to the slow one
    wandering = compare(base, candidate)
    assert not wandering.regressed, regression_lines(wandering)
    # the same shift between two runs whose intervals agree is a regression, in p75 and the mean
    steady = compare(two_modes(1, [0.15] * 4), two_modes(2, [0.35] * 4))
    assert {"http/latency-p75", "http/latency-mean"} <= {d.metric for d in steady.metrics if d.regressed}
