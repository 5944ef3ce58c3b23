"""The Locust master at scale: `python benchmarks/master_scale.py [--workers 2 8 32 64] [--seconds 25] [--wide]`.

Two measurements, against nginx answering at once on 127.0.0.1, every run bounded:

1. **Workers.** For each count of worker processes, an `isvcperf run` with one user per
   worker at RATE_PER_WORKER req/s each (open loop), then the same workers as plain Locust
   (`--processes N`, a FastHttpUser at the same rate, no isvcperf): the baseline of what
   Locust's own heartbeats and reports cost the master. master_scale_locustfile.py counts
   every message the master receives (`GET /bench/received`, with the master's CPU seconds
   from psutil) and, on each worker, the msgpack size of every message it sends and of the
   isvcperf snapshot inside it. The window is the master's `running` state less its first
   WARM seconds (spawning). Reported: the master's CPU share of one core, its CPU seconds
   per isvcperf snapshot received and per message of any kind, and the bytes per snapshot.
   `--wide` makes the snapshots larger, as a real spec's can be: WIDE_ENDPOINTS endpoints (each
   has its own histograms; half answer 20 ms later, which widens the total's) in WIDE_STAGES
   rate stages (a histogram each).
2. **The stats document as a run grows.** One run with metrics.interval 0.1 s stands in
   for a long one at the default 1 s: what grows the document is its count of timeline rows,
   so at 10, 60 and 300 rows (10 s, 1 min and 5 min at 1 s rows) the whole document and an
   incremental answer (`?since=` the settled rows, what the runners pull) are fetched
   REPEAT times each: bytes, the time to serve (HTTP round trip) and to parse.

Every Locust process shares the machine's cores with the master: at 64 worker processes
on 2 cores the workers contend with it (the load average is printed beside the figures), so
the CPU seconds per snapshot, not the share, is the figure to project from. Raw numbers go
to benchmarks/results/master-scale-DATE.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import machine, save
from targets import Nginx, free_port

from isvcperf.loadgen.increment import path
from isvcperf.loadgen.protocol import STATS_ROUTE, StatsDocument, parse_document

LOCUSTFILE = Path(__file__).with_name("master_scale_locustfile.py")
WORKERS = (2, 8, 32, 64)
RATE_PER_WORKER = 3.0
WARM = 4.0
"""Seconds of the master's `running` state left out at its start (workers spawning)."""
ROWS = (10, 60, 300)
ROW_INTERVAL = 0.1
REPEAT = 5
MAX_SECONDS = 60
START_ALLOWANCE = 240.0
"""Seconds the processes may take to start and connect (64 Python processes on 2 cores)."""
OURS = ("isvcperf_snapshot", "isvcperf_done", "stats+isvcperf")
WIDE_ENDPOINTS = 4
WIDE_STAGES = 3


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def _master_url(root: psutil.Process) -> str:
    """http://host:port of the web UI of the Locust master among `root`'s descendants ("" until it is up)."""
    for process in [root, *root.children(recursive=True)]:
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if "locust" in command and ("--master" in command or "--processes" in command) and "--web-port" in command:
            return f"http://127.0.0.1:{command[command.index('--web-port') + 1]}"
    return ""


def follow_master(proc: subprocess.Popen[bytes], deadline: float) -> list[dict[str, Any]]:
    """Sample the master's bench route every second until `proc` exits (or `deadline`)."""
    root, samples, url = psutil.Process(proc.pid), [], ""
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(1.0)
        try:
            url = url or _master_url(root)
            if url:
                samples.append({"t": time.monotonic(), **json.loads(_get(url + "/bench/received"))})
        except (OSError, ValueError, psutil.Error):
            continue
    if proc.poll() is None:
        proc.kill()
        raise SystemExit(f"a run did not end within its bound; {len(samples)} samples taken")
    return samples


def window(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """What the master received and spent between WARM s into its `running` state and its end."""
    running = [s for s in samples if s["state"] == "running"]
    if not running:
        raise SystemExit("the master was never seen running")
    first = next((s for s in running if s["t"] >= running[0]["t"] + WARM), running[0])
    last = running[-1]
    seconds = last["t"] - first["t"]
    received = {key: last["received"].get(key, 0) - first["received"].get(key, 0) for key in last["received"]}
    cpu = last["cpu"] - first["cpu"]
    snapshots = sum(received.get(key, 0) for key in OURS)
    messages = sum(received.values())
    return {"seconds": seconds, "cpu_seconds": cpu, "cpu_share": cpu / seconds if seconds else 0.0,
            "received": received, "snapshots": snapshots, "messages": messages,
            "cpu_ms_per_snapshot": 1000 * cpu / snapshots if snapshots else None,
            "cpu_ms_per_message": 1000 * cpu / messages if messages else None,
            "connected": last["workers"]}


def sizes(folder: Path) -> dict[str, Any]:
    """Mean bytes per message type as the workers sent them, and per isvcperf snapshot inside them."""
    total: dict[str, list[int]] = {}
    for file in folder.glob("sizes-*.json"):
        for kind, row in json.loads(file.read_text()).items():
            total.setdefault(kind, [0, 0, 0, 0])
            total[kind] = [a + b for a, b in zip(total[kind], row, strict=True)]
    out = {kind: {"count": c, "bytes": b / c if c else 0} for kind, (c, b, _, _) in total.items()}
    inside = [row for row in total.values() if row[2]]
    ours = sum(row[2] for row in inside)
    out["isvcperf snapshot"] = {"count": ours, "bytes": sum(row[3] for row in inside) / ours if ours else 0}
    stats = total.get("stats")
    if stats:  # Locust's own report: the stats message less the isvcperf snapshot it carries
        out["locust report"] = {"count": stats[0], "bytes": (stats[1] - stats[3]) / stats[0]}
    return out


def _process(command: list[str], out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (out / "run.log").open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, start_new_session=True)


def isvcperf_run(nginx: Nginx, workers: int, seconds: int, out: Path, wide: bool) -> dict[str, Any]:
    """`isvcperf run` with `workers` worker processes at RATE_PER_WORKER req/s each; `wide`: larger
    snapshots (WIDE_ENDPOINTS endpoints, half of them 20 ms slower, in WIDE_STAGES rate stages)."""
    (out / "sizes").mkdir(parents=True)
    rate = RATE_PER_WORKER * workers
    load: dict[str, Any] = {"users": workers, "workers": workers, "locustfile": str(LOCUSTFILE)}
    spec: dict[str, Any] = {"name": f"master-{workers}", "target": {"url": nginx.url(), "protocol": "raw"},
                            "ready": {"enabled": False}, "payload": {"inline": {"inputs": []}}, "load": load}
    if wide:
        del spec["target"]["url"]
        spec["endpoints"] = [{"id": f"e{i}", "url": nginx.url("delay20" if i % 2 else "")}
                             for i in range(WIDE_ENDPOINTS)]
        load["stages"] = [{"duration": f"{seconds / WIDE_STAGES:g}s", "rate": rate}] * WIDE_STAGES
    else:
        load.update(rate=rate, duration=f"{seconds}s")
    (out / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = _process([sys.executable, "-m", "isvcperf", "run", str(out / "spec.yaml"), "--out", str(out / "run"),
                     "--allow-invalid"], out, {"BENCH_SIZES": str(out / "sizes")})
    samples = follow_master(proc, time.monotonic() + seconds + START_ALLOWANCE)
    if not (out / "run" / "result.json").is_file():
        raise SystemExit(f"isvcperf run exited {proc.returncode} without a result:\n"
                         f"{(out / 'run.log').read_text()[-2000:]}")
    result = json.loads((out / "run" / "result.json").read_text())
    return {"window": window(samples), "sizes": sizes(out / "sizes"), "verdict": result["validity"]["verdict"],
            "failed": [c["name"] for c in result["validity"]["checks"] if c["status"] == "fail"],
            "requests": result["metrics"].get("http/request-count"), "exit": proc.returncode}


def plain_run(url: str, workers: int, seconds: int, out: Path) -> dict[str, Any]:
    """The same workers as plain Locust (`--processes`), a FastHttpUser at the same rate: the baseline."""
    (out / "sizes").mkdir(parents=True)
    port = str(free_port())  # never Locust's default 5557: another master or worker on this machine may use it
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--processes", str(workers), "--autostart",
               "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-host", "127.0.0.1",
               "--master-port", port,
               "--autoquit", "0", "-u", str(workers), "-r", str(workers), "-t", f"{seconds}s", "-H", url,
               "--web-host", "127.0.0.1", "--web-port", str(free_port()), "--loglevel", "WARNING"]
    proc = _process(command, out, {"BENCH_SIZES": str(out / "sizes"), "BENCH_PLAIN": "1",
                                   "BENCH_USER_RATE": str(RATE_PER_WORKER)})
    samples = follow_master(proc, time.monotonic() + seconds + START_ALLOWANCE)
    return {"window": window(samples), "sizes": sizes(out / "sizes"), "exit": proc.returncode}


def timeline_growth(url: str, out: Path) -> list[dict[str, Any]]:
    """Whole and incremental stats documents at ROWS timeline rows, from one run with ROW_INTERVAL rows."""
    seconds = ROWS[-1] * ROW_INTERVAL + 3
    spec = {"name": "timeline", "target": {"url": url, "protocol": "raw"}, "ready": {"enabled": False},
            "payload": {"inline": {"inputs": []}}, "metrics": {"interval": f"{ROW_INTERVAL}s"},
            "load": {"users": 4, "workers": 2, "rate": 40, "duration": f"{seconds:g}s"}}
    out.mkdir(parents=True)
    (out / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = _process([sys.executable, "-m", "isvcperf", "run", str(out / "spec.yaml"), "--out", str(out / "run"),
                     "--allow-invalid"], out, {})
    root, base, rows = psutil.Process(proc.pid), "", []
    deadline = time.monotonic() + seconds + START_ALLOWANCE
    try:
        while len(rows) < len(ROWS) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                base = base or _master_url(root)
                if not base:
                    continue
                have = len(parse_document(_get(base + STATS_ROUTE))["timeline"])
            except (OSError, ValueError, psutil.Error):
                continue
            if have >= ROWS[len(rows)]:
                rows.append({"rows": have, **_pulls(base)})
                print(f"  {have} rows: whole {rows[-1]['whole']['bytes']:,} B, "
                      f"incremental {rows[-1]['incremental']['bytes']:,} B", flush=True)
    finally:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    return rows


def _pulls(base: str) -> dict[str, Any]:
    """REPEAT whole pulls, each followed by an incremental one from the rows it called settled."""
    found: dict[str, list[tuple[int, float, float]]] = {"whole": [], "incremental": []}

    def pull(kind: str, since: int) -> StatsDocument:
        started = time.perf_counter()
        body = _get(base + path(STATS_ROUTE, since))
        served = time.perf_counter()
        document = parse_document(body)
        found[kind].append((len(body), served - started, time.perf_counter() - served))
        return document

    for _ in range(REPEAT):
        pull("incremental", pull("whole", 0).get("timelineSettled", 0))
    return {kind: {"bytes": int(statistics.median(b for b, _, _ in pulls)),
                   "serve_ms": 1000 * statistics.median(s for _, s, _ in pulls),
                   "parse_ms": 1000 * statistics.median(p for _, _, p in pulls)}
            for kind, pulls in found.items()}


def worker_table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| worker processes | master CPU (isvcperf / plain Locust) | snapshots/s received | "
           "master CPU ms per snapshot | per message (isvcperf / plain) | bytes per snapshot | "
           "Locust report bytes | heartbeat bytes | load avg |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        ours, plain = row["isvcperf"]["window"], row["plain"]["window"]
        size = row["isvcperf"]["sizes"]
        out.append(
            f"| {row['workers']} | {100 * ours['cpu_share']:.1f}% / {100 * plain['cpu_share']:.1f}% | "
            f"{ours['snapshots'] / ours['seconds']:.1f} | {ours['cpu_ms_per_snapshot']:.2f} | "
            f"{ours['cpu_ms_per_message']:.2f} / {plain['cpu_ms_per_message']:.2f} | "
            f"{size['isvcperf snapshot']['bytes']:,.0f} | {size.get('locust report', {}).get('bytes', 0):,.0f} | "
            f"{size.get('heartbeat', {}).get('bytes', 0):,.0f} | {row['loadavg'][0]:.1f} |")
    return out


def growth_table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| timeline rows (s at 1 s rows) | whole: bytes, serve ms, parse ms | incremental: bytes, serve ms, parse ms |",
           "|---:|---:|---:|"]
    for row in rows:
        cells = [f"{row[k]['bytes']:,} B, {row[k]['serve_ms']:.1f}, {row[k]['parse_ms']:.2f}"
                 for k in ("whole", "incremental")]
        out.append(f"| {row['rows']} | {cells[0]} | {cells[1]} |")
    return out


def projection(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Workers one master serves within half a core: a least-squares line through its CPU share against
    the worker processes (each at the default cadence: an isvcperf snapshot every metrics interval of
    1 s and one in Locust's 3-s report, Locust's heartbeat every second), solved for 50%. The slope is
    the marginal cost of a worker, so the master's fixed costs (the stats route polled every second, its
    collector) are not charged to each snapshot as CPU per snapshot at a small count would."""
    if len(rows) < 2:
        return None
    windows = [r["isvcperf"]["window"] for r in rows]
    fit = statistics.linear_regression([r["workers"] for r in rows], [w["cpu_share"] for w in windows])
    rate = sum(w["snapshots"] for w in windows) / sum(w["seconds"] * r["workers"] for w, r in zip(windows, rows,
                                                                                                 strict=True))
    return {"fixed_share": fit.intercept, "share_per_worker": fit.slope, "snapshots_per_worker_second": rate,
            "marginal_cpu_ms_per_snapshot": 1000 * fit.slope / rate,
            "workers_at_half_core": int((0.5 - fit.intercept) / fit.slope)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKERS), help="worker process counts")
    parser.add_argument("--seconds", type=int, default=25, help=f"measured seconds per run, at most {MAX_SECONDS}")
    parser.add_argument("--skip-timeline", action="store_true", help="only the worker counts")
    parser.add_argument("--wide", action="store_true",
                        help=f"larger snapshots: {WIDE_ENDPOINTS} endpoints (half 20 ms slower), {WIDE_STAGES} stages")
    args = parser.parse_args()
    if not 5 <= args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--seconds: {args.seconds} is out of range; give 5 to {MAX_SECONDS}")
    if any(not 1 <= n <= 128 for n in args.workers):
        raise SystemExit(f"--workers: {args.workers} has a count out of range; give 1 to 128 processes")
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    growth: list[dict[str, Any]] = []
    with Nginx() as nginx, tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            print(f"{workers} worker processes ...", flush=True)
            ours = isvcperf_run(nginx, workers, args.seconds, Path(tmp) / f"isvcperf-{workers}", args.wide)
            plain = plain_run(nginx.url(), workers, args.seconds, Path(tmp) / f"plain-{workers}")
            rows.append({"workers": workers, "isvcperf": ours, "plain": plain, "loadavg": os.getloadavg()})
            print(worker_table(rows)[-1], flush=True)
        if not args.skip_timeline:
            print("the stats document as the timeline grows ...", flush=True)
            growth = timeline_growth(nginx.url(), Path(tmp) / "timeline")
    found = {"machine": machine(), "seconds": args.seconds, "rate_per_worker": RATE_PER_WORKER, "wide": args.wide,
             "workers": rows,
             "timeline": growth, "row_interval": ROW_INTERVAL, "projection": projection(rows),
             "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    print("\n" + "\n".join(worker_table(rows)))
    if growth:
        print("\n" + "\n".join(growth_table(growth)))
    print(f"\nprojection: {found['projection']}")
    print(f"load average (1, 5, 15 min) before {load_before}, after {found['loadavg_after']}")
    save(found, "master-scale")


if __name__ == "__main__":
    main()
