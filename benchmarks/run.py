"""isvcperf's own benchmarks: `python benchmarks/run.py throughput|fidelity|scale|soak|all`.

Every benchmark runs its baselines side by side in the same invocation, against nginx on
127.0.0.1, and prints a Markdown table (the figures in benchmarks/README.md come from
it); raw numbers go to benchmarks/results/NAME-DATE.json. See README.md for what each one
measures and why.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Measurement, PeriodicSampler, fasthttp, isvcperf, machine, save, wrk
from targets import Nginx

RESULTS = Path(__file__).resolve().parent / "results"


def throughput(seconds: int, users: int, rounds: int) -> dict[str, Any]:
    """wrk, plain FastHttpUser and isvcperf, one worker process each, closed loop, same concurrency."""
    rows: dict[str, list[Measurement]] = {"wrk -t1": [], "Locust FastHttpUser": [], "isvcperf": []}
    with Nginx() as nginx, tempfile.TemporaryDirectory() as tmp:
        url = nginx.url()
        for r in range(rounds):  # interleaved, so drift on a shared machine hits all three alike
            rows["wrk -t1"].append(wrk(url, users, seconds))
            rows["Locust FastHttpUser"].append(fasthttp(url, users, seconds))
            rows["isvcperf"].append(isvcperf(url, users, seconds, Path(tmp) / f"r{r}")[0])
    best = {name: max(runs, key=lambda m: m.rps) for name, runs in rows.items()}
    base, ref = best["Locust FastHttpUser"].rps, best["wrk -t1"].rps
    table = ["| generator | req/s | p50 ms | p99 ms | generator CPU | vs FastHttpUser | of wrk |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, m in best.items():
        table.append(f"| {name} | {m.rps:,.0f} | {_f(m.p50_ms)} | {_f(m.p99_ms)} | {m.cpu_percent:.0f}% | "
                     f"{m.rps / base:.2f}× | {100 * m.rps / ref:.1f}% |")
    return {"users": users, "seconds": seconds, "rounds": rounds, "table": table,
            "runs": {k: [vars(m) | {"rps": m.rps} for m in v] for k, v in rows.items()},
            "ratio_vs_fasthttp": best["isvcperf"].rps / base, "fraction_of_wrk": best["isvcperf"].rps / ref}


def fidelity(seconds: int) -> dict[str, Any]:
    """Latency next to wrk on a fixed 20 ms target, and the open-loop achieved rate."""
    out: dict[str, Any] = {}
    with Nginx() as nginx, tempfile.TemporaryDirectory() as tmp:
        url = nginx.url("delay20")
        ref = wrk(url, 8, seconds)
        ours, _ = isvcperf(url, 8, seconds, Path(tmp) / "closed")
        out["latency"] = {"wrk": vars(ref), "isvcperf": vars(ours),
                          "p50_diff_ms": abs((ours.p50_ms or 0) - (ref.p50_ms or 0))}
        table = ["| 20 ms target, 8 connections | req/s | p50 ms | p99 ms |", "|---|---:|---:|---:|",
                 f"| wrk -t1 | {ref.rps:,.1f} | {_f(ref.p50_ms)} | {_f(ref.p99_ms)} |",
                 f"| isvcperf (closed loop) | {ours.rps:,.1f} | {_f(ours.p50_ms)} | {_f(ours.p99_ms)} |",
                 "", "| open loop, target rate | achieved req/s | off by | p50 ms (from intended) | service p50 ms | dropped |",
                 "|---:|---:|---:|---:|---:|---:|"]
        out["open_loop"] = []
        for rate in (50, 200, 1000):
            m, result = isvcperf(url, 64, seconds, Path(tmp) / f"rate{rate}", rate=rate)
            achieved = m.requests / seconds  # sent during exactly `seconds`; the window also holds the last answers
            service = result["metrics"].get("http/service-time-p50")
            dropped = sum(w["dropped"] for w in result["workers"])
            out["open_loop"].append({"rate": rate, "achieved": achieved, "p50": m.p50_ms, "service_p50": service,
                                     "dropped": dropped, "requests": m.requests, "seconds": m.seconds})
            table.append(f"| {rate} | {achieved:,.1f} | {100 * (achieved - rate) / rate:+.2f}% | {_f(m.p50_ms)} | "
                         f"{_f(service)} | {dropped} |")
    out["table"] = table
    return out


def scale(seconds: int) -> dict[str, Any]:
    """RSS of one worker process holding 1,000 / 5,000 / 10,000 users against a 1 s target."""
    _raise_fd_limit()
    rows = []
    with Nginx() as nginx, tempfile.TemporaryDirectory() as tmp:
        for users in (1000, 5000, 10000):
            sampler = RssSampler(Path(tmp) / f"u{users}")
            sampler.start()
            m, result = isvcperf(nginx.url("delay1s"), users, seconds, Path(tmp) / f"u{users}",
                                 extra_load={"spawnRate": 5000})
            sampler.stop()
            rows.append({"users": users, "worker_rss_mib": sampler.peak("worker"), "master_rss_mib": sampler.peak("master"),
                         "rps": m.rps, "errors": result["metrics"]["http/error-count"]})
    table = ["| users on one worker | peak worker RSS | peak master RSS | req/s (1 s target) | errors |",
             "|---:|---:|---:|---:|---:|"]
    table += [f"| {r['users']:,} | {r['worker_rss_mib']:.0f} MiB | {r['master_rss_mib']:.0f} MiB | {r['rps']:,.0f} | "
              f"{r['errors']:.0f} |" for r in rows]
    return {"rows": rows, "table": table}


def soak(seconds: int) -> dict[str, Any]:
    """RSS of master and worker, sampled through a long open-loop run against a fast target."""
    with Nginx() as nginx, tempfile.TemporaryDirectory() as tmp:
        sampler = RssSampler(Path(tmp) / "soak", every=10.0)
        sampler.start()
        m, _ = isvcperf(nginx.url(), 64, seconds, Path(tmp) / "soak", rate=2000)
        sampler.stop()
    out: dict[str, Any] = {"rps": m.rps, "requests": m.requests, "samples": sampler.samples}
    table = ["| process | RSS after 1 min | RSS at end | growth |", "|---|---:|---:|---:|"]
    for role in ("master", "worker"):
        series = [s[role] for s in sampler.samples if s["t"] >= 60 and s.get(role)]
        if len(series) >= 2:
            first, last = statistics.mean(series[:3]), statistics.mean(series[-3:])
            out[f"{role}_growth"] = (last - first) / first
            table.append(f"| {role} | {first:.1f} MiB | {last:.1f} MiB | {100 * (last - first) / first:+.2f}% |")
    out["table"] = table
    return out


class RssSampler(PeriodicSampler):
    """RSS (MiB, `master`/`worker`) and open file descriptors (`master_fds`/`worker_fds`) of the
    run's master and worker processes (per role: the largest)."""

    def peak(self, role: str) -> float:
        return max((s.get(role, 0.0) for s in self.samples), default=0.0)

    def sample(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for proc in psutil.process_iter(["cmdline", "memory_info", "num_fds"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if "locust" in cmd and self.marker in cmd and proc.info["memory_info"]:
                role = "worker" if "--worker" in cmd else "master"
                found[role] = max(found.get(role, 0.0), proc.info["memory_info"].rss / 2**20)
                found[f"{role}_fds"] = max(found.get(f"{role}_fds", 0), proc.info["num_fds"] or 0)
        return found


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}" if value < 10 else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["throughput", "fidelity", "scale", "soak", "all"])
    parser.add_argument("--seconds", type=int, default=15, help="length of each measured run (soak: 600)")
    parser.add_argument("--users", type=int, default=16, help="throughput: concurrency of every generator")
    parser.add_argument("--rounds", type=int, default=2, help="throughput: interleaved rounds (best of)")
    args = parser.parse_args()
    if subprocess.run(["which", "wrk"], capture_output=True).returncode:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    found: dict[str, Any] = {"machine": machine()}
    names = ["throughput", "fidelity", "scale", "soak"] if args.which == "all" else [args.which]
    for name in names:
        if name == "throughput":
            found[name] = throughput(args.seconds, args.users, args.rounds)
        elif name == "fidelity":
            found[name] = fidelity(max(args.seconds, 10))
        elif name == "scale":
            found[name] = scale(max(args.seconds, 20))
        else:
            found[name] = soak(args.seconds if args.which == "soak" and args.seconds != 15 else 600)
        print(f"\n## {name}\n\n" + "\n".join(found[name]["table"]), flush=True)
    save(found, args.which)


if __name__ == "__main__":
    main()
