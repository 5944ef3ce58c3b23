"""Leak soak: `python benchmarks/leaks.py [--minutes 30] [--target churn|nginx]`.

One long open-loop run; every 15 s it samples the RSS and open file descriptors of the
master and the workers (run.py's RssSampler) and their live greenlets (the master's
`/isvcperf/stats`, with ISVCPERF_HEALTH=1). The default target is the fault tests'
`churn` server (tests/faults/servers.py): mostly answers, but every 16th request the
connection is closed, reset, HTTP/1.0-delimited or left to time out, so a leak per
reconnect or per timeout has thousands of chances to show. Growth is the mean of the
samples in the last 3 minutes against minutes 2-5; it must stay under 5% (greenlets:
no more than a few). Prints a Markdown table and writes benchmarks/results/leaks-DATE.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "tests" / "faults"))

import psutil  # noqa: E402
from harness import PeriodicSampler, isvcperf, machine  # noqa: E402
from run import RESULTS, RssSampler  # noqa: E402
from servers import FaultServer  # noqa: E402  (tests/faults/servers.py)
from targets import Nginx  # noqa: E402

from isvcperf.loadgen.protocol import STATS_ROUTE  # noqa: E402

LIMIT = 0.05
GREENLET_SLACK = 8


class GreenletSampler(PeriodicSampler):
    """Samples the live greenlets of the master and (the largest of) the workers of the run
    whose output goes to `marker`, from its master's /isvcperf/stats (needs ISVCPERF_HEALTH=1)."""

    def __init__(self, marker: Path, every: float = 5.0) -> None:
        super().__init__(marker, every)
        self.url: str | None = None

    def _url(self) -> str | None:
        for proc in psutil.process_iter(["cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if "--master " in cmd and self.marker in cmd and (port := re.search(r"--web-port (\d+)", cmd)):
                return f"http://127.0.0.1:{port.group(1)}{STATS_ROUTE}"
        return None

    def sample(self) -> dict[str, float] | None:
        self.url = self.url or self._url()
        try:
            with urllib.request.urlopen(self.url or "", timeout=5) as response:
                stats = json.loads(response.read())
        except (OSError, ValueError):
            return None
        workers = [w["health"]["greenlets"] for w in stats.get("workers", {}).values() if w.get("health")]
        if "health" in stats and workers:
            return {"master": stats["health"]["greenlets"], "worker": max(workers)}
        return None


def growth(samples: list[dict[str, float]], key: str, seconds: float) -> tuple[float, float] | None:
    """(mean over minutes 2-5, mean over the last 3 minutes) of `key`, or None without samples."""
    early = [s[key] for s in samples if 120 <= s["t"] <= 300 and key in s]
    late = [s[key] for s in samples if s["t"] >= seconds - 180 and key in s]
    if not early or not late:
        return None
    return statistics.mean(early), statistics.mean(late)


def soak(minutes: float, target: str, rate: float) -> dict[str, Any]:
    seconds = minutes * 60
    os.environ["ISVCPERF_HEALTH"] = "1"  # the runs' processes inherit it
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        out = Path(tmp) / "leaks"
        memory, greenlets = RssSampler(out, every=15.0), GreenletSampler(out, every=15.0)
        if target == "nginx":
            url, timeout = stack.enter_context(Nginx()).url(), "60s"
        else:
            url, timeout = stack.enter_context(FaultServer("churn", delay=2.0)).url, "1s"  # the slow ones time out
        memory.start()
        greenlets.start()
        try:
            m, result = isvcperf(url, 32, seconds, out, rate=rate, workers=2, extra_target={"timeout": timeout})
        finally:
            memory.stop()
            greenlets.stop()
    table = ["| process | measure | minutes 2-5 | last 3 minutes | growth |", "|---|---|---:|---:|---:|"]
    found: dict[str, Any] = {"target": target, "rate": rate, "minutes": minutes, "rps": m.rps,
                             "requests": m.requests, "errors": result["metrics"].get("http/error-count"),
                             "memory": memory.samples, "greenlets": greenlets.samples, "failures": []}
    rows = [("master", "RSS (MiB)", memory.samples, "master"), ("worker", "RSS (MiB)", memory.samples, "worker"),
            ("master", "open fds", memory.samples, "master_fds"), ("worker", "open fds", memory.samples, "worker_fds"),
            ("master", "greenlets", greenlets.samples, "master"), ("worker", "greenlets", greenlets.samples, "worker")]
    for role, measure, samples, key in rows:
        pair = growth(samples, key, seconds)
        if pair is None:
            found["failures"].append(f"{role} {measure}: no samples")
            continue
        early, late = pair
        change = (late - early) / early if early else 0.0
        ok = late <= early + GREENLET_SLACK if measure == "greenlets" else change < LIMIT
        if not ok:
            found["failures"].append(f"{role} {measure}: {early:.1f} -> {late:.1f}")
        table.append(f"| {role} | {measure} | {early:.1f} | {late:.1f} | {100 * change:+.2f}% {'' if ok else '**LEAK**'} |")
    found["table"] = table
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--target", choices=["churn", "nginx"], default="churn")
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second (open loop)")
    args = parser.parse_args()
    found = {"machine": machine(), **soak(args.minutes, args.target, args.rate)}
    print(f"\n## leaks ({args.minutes:g} min, {args.target}, {found['rps']:.0f} req/s, "
          f"{found['requests']:,} requests)\n\n" + "\n".join(found["table"]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"leaks-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(found, indent=1, default=str) + "\n")
    print(f"\nraw figures: {path}")
    if found["failures"]:
        raise SystemExit("growth over the limit: " + "; ".join(found["failures"]))


if __name__ == "__main__":
    main()
