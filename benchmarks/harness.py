"""Running the three load generators the same way and reading their numbers.

Each runner starts its generator as a child process on the same target, for the same
time, at the same concurrency, and reports requests per second, p50/p99 in milliseconds
and the generator's CPU seconds (its whole process tree, read from the kernel's child
rusage once it exited). Everything goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

HERE = Path(__file__).resolve().parent
WRK_POST = 'wrk.method = "POST"\nwrk.body = \'{"inputs": []}\'\nwrk.headers["Content-Type"] = "application/json"\n'


@dataclass
class Measurement:
    """One generator's run."""

    generator: str
    requests: int
    seconds: float
    p50_ms: float | None
    p99_ms: float | None
    cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / self.seconds if self.seconds else 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str], timeout: float, **kwargs: Any) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a generator; return it and the CPU seconds its process tree used."""
    before = _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    return done, _children_cpu() - before


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def wrk(url: str, connections: int, seconds: int) -> Measurement:
    """wrk -t1: the physical-limit reference (C, epoll, one thread)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_POST)
    done, cpu = _run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
                     timeout=seconds + 60)
    out = done.stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    elapsed = re.search(r"requests in ([\d.]+)(s|m)", out)
    secs = float(elapsed.group(1)) * (60 if elapsed.group(2) == "m" else 1)  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    return Measurement("wrk -t1", requests, secs, _ms(p50.group(1)) if p50 else None,
                       _ms(p99.group(1)) if p99 else None, cpu)


def fasthttp(url: str, users: int, seconds: int, locustfile: str = "fasthttp_locustfile.py",
             env: dict[str, str] | None = None) -> Measurement:
    """Plain Locust: a minimal FastHttpUser locustfile (in benchmarks/), one master and one worker process."""
    parts = urlsplit(url)
    with tempfile.TemporaryDirectory() as tmp:
        json_file = Path(tmp) / "stats"
        _, cpu = _run(
            [sys.executable, "-m", "locust", "-f", str(HERE / locustfile), "--headless",
             "--processes", "1", "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
             "--host", f"{parts.scheme}://{parts.netloc}", "--json-file", str(json_file), "--only-summary"],
            timeout=seconds + 60, env={**_env(), "BENCH_PATH": parts.path, **(env or {})},
        )
        entry = json.loads(json_file.with_suffix(".json").read_text())[0]
    secs = entry["last_request_timestamp"] - entry["start_time"]
    times = sorted((int(k), v) for k, v in entry["response_times"].items())
    return Measurement("Locust FastHttpUser", entry["num_requests"], secs, _percentile(times, 50),
                       _percentile(times, 99), cpu)


def _percentile(buckets: list[tuple[int, int]], pct: float) -> float | None:
    """Locust's own (rounded-bucket) percentile, the way its reports compute it."""
    total = sum(count for _, count in buckets)
    if not total:
        return None
    seen, wanted = 0, total * pct / 100
    for value, count in buckets:
        seen += count
        if seen >= wanted:
            return float(value)
    return float(buckets[-1][0])


def isvcperf(url: str, users: int, seconds: float, out: Path, rate: float = 0.0, workers: int = 1,
             extra_load: dict[str, Any] | None = None,
             extra_target: dict[str, Any] | None = None) -> tuple[Measurement, dict[str, Any]]:
    """isvcperf run: one master and `workers` worker processes; returns the measurement and result.json."""
    spec = {
        "name": "bench",
        "target": {"url": url, "protocol": "raw", "timeout": "60s", **(extra_target or {})},
        "ready": {"enabled": False},
        "payload": {"inline": {"inputs": []}},
        "load": {"users": users, "duration": f"{seconds}s", "workers": workers, "rate": rate, **(extra_load or {})},
    }
    result, cpu = run_spec(spec, out, seconds + 300)
    metrics = result["metrics"]
    return Measurement("isvcperf", int(metrics["http/request-count"]), result["measuredSeconds"],
                       metrics.get("http/latency-p50"), metrics.get("http/latency-p99"), cpu), result


def run_spec(spec: dict[str, Any], out: Path, timeout: float,
             env: dict[str, str] | None = None) -> tuple[dict[str, Any], float]:
    """`isvcperf run` of `spec` (written to out/spec.yaml); its result.json and CPU seconds.
    Exit codes 0 and 1 (SLOs met or not) are results; anything else stops the benchmark."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.yaml").write_text(yaml.safe_dump(spec))
    done, cpu = _run([sys.executable, "-m", "isvcperf", "run", str(out / "spec.yaml"), "--out", str(out / "run")],
                     timeout=timeout, env={**_env(), **(env or {})})
    if done.returncode not in (0, 1):
        raise SystemExit(f"isvcperf failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return json.loads((out / "run" / "result.json").read_text()), cpu


def save(found: dict[str, Any], name: str) -> None:
    """Write the raw figures to benchmarks/results/NAME-DATE.json and say where, with the machine."""
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    path = results / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(found, indent=1, default=str) + "\n")
    print(f"\nmachine: {found['machine']}\nraw figures: {path}")


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    import os
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"date": time.strftime("%Y-%m-%d"), "cpu": cpu, "cores": str(os.cpu_count()),
            "python": platform.python_version(), "kernel": platform.release(),
            "load average": " ".join(f"{v:.2f}" for v in os.getloadavg())}


class PeriodicSampler:
    """Samples something about the run whose output goes to `marker`, every `every` seconds,
    in a thread, until stopped; subclasses say what one sample is (None to skip one)."""

    def __init__(self, marker: Path, every: float = 1.0) -> None:
        self.marker, self.every = str(marker), every
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> dict[str, float] | None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            found = self.sample()
            if found is not None:
                self.samples.append({"t": time.monotonic() - self._started, **found})
