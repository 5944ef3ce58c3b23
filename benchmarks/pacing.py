"""Open-loop pacing precision: `python benchmarks/pacing.py [--seconds 5]`.

For each rate (200, 800, 2,000, 4,000 req/s, one worker process) and each pacer
(isvcperf.loadgen.pacing: `sleep`, the pacing before; `spin`; `timerfd`, the default),
timerfd once more with the kernel's default scheduler slice (ISVCPERF_SLICE_US=0: the
worker before loadgen.pauses asked for a short one) and, where this process may (root or
CAP_SYS_NICE), once with the worker at real-time priority (a diagnostic: what is left when
no other process can take the worker's CPU), in the same invocation against nginx
answering at once on 127.0.0.1:

- the pacer alone, in this process, without sending: how late it wakes (p50/p90/p99) and
  the CPU it costs (process CPU time over wall time) — the price of the spin, isolated;
- a whole `isvcperf run` (master + one worker, 32 users, uniform arrivals): the run's own
  `http/send-lateness-*`, the coefficient of variation of the gaps between real sends (the
  worker's send times, from pacing_locustfile.py), how much of the gaps' variance the long
  ones make (over 0.5 ms beyond the ideal gap: pauses, not jitter), how long the worker
  waited for a CPU (its run-queue delay), `latency-p50 − service-time-p50` (the timer delay
  that used to sit in the headline p50), drops and the worker's CPU.

Every run is bounded (at most 10 s, the default 5 s); `--repeat N` (at most 5) runs every
rate and variant N times, interleaved, and the table gives their medians: on a shared
machine one run's tail is mostly the neighbours'. The figures depend on what else the
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

from isvcperf.loadgen import pacing, pauses

RESULTS = Path(__file__).resolve().parent / "results"
RATES = (200, 800, 2000, 4000)
VARIANTS = (("sleep", pauses.SHORT_SLICE_US, False), ("spin", pauses.SHORT_SLICE_US, False),
            ("timerfd", 0, False), ("timerfd", pauses.SHORT_SLICE_US, False), ("timerfd", pauses.SHORT_SLICE_US, True))
"""(pacer, scheduler slice µs, worker at real-time priority): timerfd with the kernel's slice (0) is the
default before loadgen.pauses; the real-time row runs only where the benchmark may set it."""
LONG_GAP = 0.0005
"""A gap this much longer than the ideal one is a pause (the worker not running), not jitter."""
USERS = 32
ALONE_SECONDS = 2.0
MAX_SECONDS = 10
MAX_REPEAT = 5


def quantiles(values: list[float]) -> dict[str, float]:
    """p50/p90/p99 of `values` (milliseconds in, milliseconds out), nearest-rank."""
    ordered = sorted(values)
    return {f"p{q}": ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] for q in (50, 90, 99)}


def pacer_alone(name: str, slice_us: int, rate: float) -> dict[str, Any]:
    """The pacer waking `rate` times a second for ALONE_SECONDS with nothing else to do."""
    pauses.request_slice(slice_us)
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


def gaps(folder: Path, rate: float) -> dict[str, float | None]:
    """The gaps between the worker's real sends: their coefficient of variation, the share of their
    variance the long ones (pauses) make, the longest, and the worker's run-queue wait per second."""
    sends = sorted(float(line) for path in folder.glob("sends-*.txt") for line in path.read_text().split())
    between = [b - a for a, b in itertools.pairwise(sends)]
    if len(between) < 2:
        return {"gap_cv": None, "long_gap_share": None, "longest_gap_ms": None, "run_queue_ms_per_s": None}
    mean = statistics.mean(between)
    squares = [(gap - mean) ** 2 for gap in between]
    waited = sum(int(path.read_text()) for path in folder.glob("waited-*.txt")) / 1e6
    return {
        "gap_cv": statistics.pstdev(between) / mean,
        "long_gap_share": sum(sq for gap, sq in zip(between, squares, strict=True) if gap > 1 / rate + LONG_GAP)
        / sum(squares),
        "longest_gap_ms": max(between) * 1e3,
        "run_queue_ms_per_s": waited / (sends[-1] - sends[0]),
    }


def may_run_realtime() -> bool:
    """Whether a process started from here may take real-time priority (tried on this one, then undone)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (AttributeError, PermissionError):
        return False
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    return True


def whole_run(url: str, variant: tuple[str, int, bool], rate: float, seconds: int, tmp: Path) -> dict[str, Any]:
    """One `isvcperf run` with the pacer, slice and priority of `variant`: its send lateness, gaps,
    timer delay, drops, CPU."""
    name, slice_us, realtime = variant
    folder = tmp / f"{name}-{slice_us}-{realtime}-{rate:g}"
    sends = folder / "sends"
    sends.mkdir(parents=True)
    env = {pacing.PACER_ENV: name, pauses.SLICE_ENV: str(slice_us), "BENCH_SENDS": str(sends)}
    os.environ.update({**env, **({"BENCH_REALTIME": "1"} if realtime else {})})
    try:
        _, result = isvcperf(url, USERS, seconds, folder, rate=rate,
                             extra_load={"locustfile": str(Path(__file__).with_name("pacing_locustfile.py"))})
    finally:
        for key in (*env, "BENCH_REALTIME"):
            os.environ.pop(key, None)
    m = result["metrics"]
    cpu = [p["cpu"] for p in result["timeline"][:-1]] or [0.0]
    return {
        "lateness_ms": {f"p{q}": m.get(f"http/send-lateness-p{q}") for q in (50, 90, 99)},
        **gaps(sends, rate),
        "timer_delay_ms": m["http/latency-p50"] - m["http/service-time-p50"],
        "requests": m["http/request-count"],
        "dropped": sum(w["dropped"] for w in result["workers"]),
        "worker_cpu_percent": statistics.median(cpu),
    }


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per rate and variant, each figure the median of its rounds (None where a round had none)."""

    def median(values: list[Any]) -> Any:
        if isinstance(values[0], dict):
            return {key: median([value[key] for value in values]) for key in values[0]}
        present = [value for value in values if value is not None]
        return statistics.median(present) if present else None

    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["rate"], row["pacer"], row["slice_us"], row["realtime"]), []).append(row)
    return [{**group[0], "alone": median([r["alone"] for r in group]), "run": median([r["run"] for r in group])}
            for group in groups.values()]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _fixed(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| req/s | pacer, slice | send lateness p50 / p90 / p99 ms | gap CV | long gaps' share, longest ms | "
           "run-queue wait ms/s | latency−service p50 ms | dropped | worker CPU | pacer alone: late p50 / p99 ms, CPU |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        run, alone = row["run"], row["alone"]
        late = " / ".join(_ms(run["lateness_ms"][f"p{q}"]) for q in (50, 90, 99))
        variant = f"{row['pacer']}, {row['slice_us'] or 'kernel'}{' µs' if row['slice_us'] else ''}" + \
            (", real-time worker" if row["realtime"] else "")
        out.append(f"| {row['rate']:,} | {variant} | {late} | {_fixed(run['gap_cv'], '.2f')} | "
                   f"{_fixed(run['long_gap_share'], '.0%')}, {_fixed(run['longest_gap_ms'], '.1f')} | "
                   f"{_fixed(run['run_queue_ms_per_s'], '.1f')} | {_ms(run['timer_delay_ms'])} | "
                   f"{run['dropped']} | {run['worker_cpu_percent']:.0f}% | {_ms(alone['lateness_ms']['p50'])} / "
                   f"{_ms(alone['lateness_ms']['p99'])}, {alone['cpu_percent']:.0f}% |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5, help=f"length of each run, at most {MAX_SECONDS}")
    parser.add_argument("--rates", type=int, nargs="+", default=list(RATES), help="req/s to measure")
    parser.add_argument("--repeat", type=int, default=1,
                        help=f"rounds of every rate and variant, at most {MAX_REPEAT}; the table shows their medians")
    args = parser.parse_args()
    if not 1 <= args.repeat <= MAX_REPEAT:
        raise SystemExit(f"--repeat: {args.repeat} is out of range; give 1 to {MAX_REPEAT}")
    if not 1 <= args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--seconds: {args.seconds} is out of range; give 1 to {MAX_SECONDS}")
    if any(rate <= 0 or rate > 20_000 for rate in args.rates):
        raise SystemExit(f"--rates: {args.rates} has a rate out of range; give req/s from 1 to 20000")
    load_before = os.getloadavg()
    rows = []
    with Nginx() as nginx, tempfile.TemporaryDirectory() as tmp:
        variants = [v for v in VARIANTS if not v[2] or may_run_realtime()]
        for round_, rate, variant in itertools.product(range(args.repeat), args.rates, variants):
            # interleaved, so drift on a shared machine hits every variant alike
            name, slice_us, realtime = variant
            alone = pacer_alone(name, slice_us, rate)
            run = whole_run(nginx.url(), variant, rate, args.seconds, Path(tmp) / str(round_))
            rows.append({"rate": rate, "pacer": name, "slice_us": slice_us, "realtime": realtime, "alone": alone,
                         "run": run})
            print(table(rows)[-1], flush=True)
            gevent.sleep(0)
    load_after = os.getloadavg()
    found = {"machine": machine(), "seconds": args.seconds, "users": USERS, "repeat": args.repeat, "rows": rows,
             "loadavg_before": load_before, "loadavg_after": load_after}
    print(f"\nmedians of {args.repeat} round(s):\n" + "\n".join(table(medians(rows))))
    print(f"\nload average (1, 5, 15 min) before {load_before}, after {load_after}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"pacing-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(found, indent=1) + "\n")
    print(f"machine: {found['machine']}\nraw figures: {path}")


if __name__ == "__main__":
    main()
