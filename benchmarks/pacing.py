"""Open-loop pacing precision: `python benchmarks/pacing.py [--seconds 5]`.

For each rate (200, 800, 2,000, 4,000 req/s, one worker process) and each pacer
(isvcperf.loadgen.pacing: `sleep`, the pacing before; `spin`; `timerfd`, the default),
in the same invocation against nginx answering at once on 127.0.0.1:

- the pacer alone, in this process, without sending: how late it wakes (p50/p90/p99) and
  the CPU it costs (process CPU time over wall time) — the price of the spin, isolated;
- a whole `isvcperf run` (master + one worker, 32 users, uniform arrivals): the run's own
  `http/send-lateness-*`, the coefficient of variation of the gaps between real sends (the
  worker's send times, from pacing_locustfile.py), `latency-p50 − service-time-p50` (the
  timer delay that used to sit in the headline p50), drops and the worker's CPU.

Every run is bounded (at most 10 s, the default 5 s). The figures depend on what else the
machine runs: the load average is printed beside them. Raw numbers go to
benchmarks/results/pacing-DATE.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import isvcperf, machine
from targets import Nginx

from isvcperf.loadgen import pacing

RESULTS = Path(__file__).resolve().parent / "results"
RATES = (200, 800, 2000, 4000)
PACERS = ("sleep", "spin", "timerfd")
USERS = 32
ALONE_SECONDS = 2.0
MAX_SECONDS = 10


def quantiles(values: list[float]) -> dict[str, float]:
    """p50/p90/p99 of `values` (milliseconds in, milliseconds out), nearest-rank."""
    ordered = sorted(values)
    return {f"p{q}": ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] for q in (50, 90, 99)}


def pacer_alone(name: str, rate: float) -> dict[str, Any]:
    """The pacer waking `rate` times a second for ALONE_SECONDS with nothing else to do."""
    chosen = pacing.PACERS[name]()
    late: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0
    try:
        for _ in range(int(rate * ALONE_SECONDS)):
            deadline += 1 / rate
            chosen.wait_until(deadline)
            late.append((time.perf_counter() - deadline) * 1e3)
    finally:
        chosen.close()
    cpu = 100 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return {"lateness_ms": quantiles(late), "cpu_percent": cpu}


def gap_cv(folder: Path) -> float | None:
    """Coefficient of variation of the gaps between the worker's real sends."""
    sends = sorted(float(line) for path in folder.glob("sends-*.txt") for line in path.read_text().split())
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    return statistics.pstdev(gaps) / statistics.mean(gaps) if len(gaps) > 1 else None


def whole_run(url: str, name: str, rate: float, seconds: int, tmp: Path) -> dict[str, Any]:
    """One `isvcperf run` with the pacer `name`: its send lateness, gap CV, timer delay, drops, CPU."""
    folder = tmp / f"{name}-{rate:g}"
    sends = folder / "sends"
    sends.mkdir(parents=True)
    os.environ.update({pacing.PACER_ENV: name, "BENCH_SENDS": str(sends)})
    try:
        _, result = isvcperf(url, USERS, seconds, folder, rate=rate,
                             extra_load={"locustfile": str(Path(__file__).with_name("pacing_locustfile.py"))})
    finally:
        for key in (pacing.PACER_ENV, "BENCH_SENDS"):
            os.environ.pop(key, None)
    m = result["metrics"]
    cpu = [p["cpu"] for p in result["timeline"][:-1]] or [0.0]
    return {
        "lateness_ms": {f"p{q}": m.get(f"http/send-lateness-p{q}") for q in (50, 90, 99)},
        "gap_cv": gap_cv(sends),
        "timer_delay_ms": m["http/latency-p50"] - m["http/service-time-p50"],
        "requests": m["http/request-count"],
        "dropped": sum(w["dropped"] for w in result["workers"]),
        "worker_cpu_percent": statistics.median(cpu),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| req/s | pacer | send lateness p50 / p90 / p99 ms | gap CV | latency−service p50 ms | dropped | "
           "worker CPU | pacer alone: late p50 / p99 ms, CPU |",
           "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        run, alone = row["run"], row["alone"]
        late = " / ".join(_ms(run["lateness_ms"][f"p{q}"]) for q in (50, 90, 99))
        cv = "-" if run["gap_cv"] is None else f"{run['gap_cv']:.2f}"
        out.append(f"| {row['rate']:,} | {row['pacer']} | {late} | {cv} | {_ms(run['timer_delay_ms'])} | "
                   f"{run['dropped']} | {run['worker_cpu_percent']:.0f}% | {_ms(alone['lateness_ms']['p50'])} / "
                   f"{_ms(alone['lateness_ms']['p99'])}, {alone['cpu_percent']:.0f}% |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help=f"length of each run, at most {MAX_SECONDS}")
    parser.add_argument("--rates", type=int, nargs="+", default=list(RATES), help="req/s to measure")
    args = parser.parse_args()
    if not 1 <= args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--seconds: {args.seconds} is out of range; give 1 to {MAX_SECONDS}")
    if any(rate <= 0 or rate > 20_000 for rate in args.rates):
        raise SystemExit(f"--rates: {args.rates} has a rate out of range; give req/s from 1 to 20000")
    load_before = os.getloadavg()
    rows = []
    with Nginx() as nginx, tempfile.TemporaryDirectory() as tmp:
        for rate in args.rates:
            for name in PACERS:  # interleaved, so drift on a shared machine hits every pacer alike
                alone = pacer_alone(name, rate)
                run = whole_run(nginx.url(), name, rate, args.seconds, Path(tmp))
                rows.append({"rate": rate, "pacer": name, "alone": alone, "run": run})
                print(table(rows)[-1], flush=True)
                gevent.sleep(0)
    load_after = os.getloadavg()
    found = {"machine": machine(), "seconds": args.seconds, "users": USERS, "rows": rows,
             "loadavg_before": load_before, "loadavg_after": load_after}
    print("\n" + "\n".join(table(rows)))
    print(f"\nload average (1, 5, 15 min) before {load_before}, after {load_after}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"pacing-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(found, indent=1) + "\n")
    print(f"machine: {found['machine']}\nraw figures: {path}")


if __name__ == "__main__":
    main()
