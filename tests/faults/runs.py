"""Running the isvcperf CLI the way a user (or CI) does, and looking at what it leaves.

A run is a real `python -m isvcperf run` in its own process group with its output in
files, so a test can signal it mid-way, kill its Locust processes, and afterwards check
the exit code, result.json, the reports and that no process of the run is still alive.
Each run's overrun — how long after the intended end of its measurement the CLI exited —
goes into FIGURES, which conftest.py prints at the end of the session.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
RUN_TIMEOUT = 120.0

FIGURES: list[dict[str, Any]] = []
"""One row per fault run: fault, overrun (s), what was lost."""
STARTED: list[CliRun] = []
"""Every CLI run started, so a test that fails half-way leaves no run behind (stop_leftover_runs)."""


def write_spec(directory: Path, url: str, **sections: Any) -> Path:
    """A spec for `url` with small defaults; `sections` replace (dicts: update) the defaults."""
    data: dict[str, Any] = {
        "name": "fault",
        "target": {"url": url, "timeout": "5s"},
        "ready": {"timeout": "20s", "interval": "0.1s"},
        "payload": {"file": str(PAYLOAD)},
        "load": {"users": 2, "workers": 1, "duration": "4s", "rate": 40},
        "slos": {"http/error-count": {"upper": 0}},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path = directory / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class Run:
    """A finished CLI run."""

    returncode: int
    stdout: str
    stderr: str
    out: Path
    exited_at: float
    """time.time() when the CLI had exited."""

    @property
    def result(self) -> dict[str, Any]:
        return json.loads((self.out / "result.json").read_text())

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    @property
    def measure_start(self) -> float:
        """Epoch seconds when the measured window began."""
        return dt.datetime.fromisoformat(self.result["startedAt"].replace("Z", "+00:00")).timestamp()

    def overrun(self, duration: float) -> float:
        """Seconds from the intended end of the measured window to the CLI's exit."""
        return self.exited_at - (self.measure_start + duration)


@dataclass
class CliRun:
    """`python -m isvcperf ARGS` started in the background, output to files in `directory`."""

    directory: Path
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    preexec: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self._stdout = self.directory / "cli.stdout"
        self._stderr = self.directory / "cli.stderr"
        with open(self._stdout, "wb") as out, open(self._stderr, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "isvcperf", *self.args], cwd=self.directory, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                start_new_session=True, preexec_fn=self.preexec,
            )
        STARTED.append(self)

    @property
    def stdout(self) -> str:
        return self._stdout.read_text(errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        """Signal the CLI process only (as `kill PID` does), not its group."""
        self.proc.send_signal(sig)

    def wait(self, out: Path, timeout: float = RUN_TIMEOUT) -> Run:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"isvcperf did not exit within {timeout:.0f}s:\n{self.stdout[-3000:]}") from None
        exited = time.time()
        return Run(self.proc.returncode, self.stdout, self._stderr.read_text(errors="replace"), out, exited)


@pytest.fixture(autouse=True)
def stop_leftover_runs() -> Iterator[None]:
    """After each test: kill what is left of any CLI run it started (its whole process group)."""
    yield
    while STARTED:
        run = STARTED.pop()
        if run.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, signal.SIGKILL)
            run.proc.wait()
        if "--out" in run.args:  # its Locust processes have their own sessions
            out = Path(run.args[run.args.index("--out") + 1])
            with contextlib.suppress(AssertionError):
                wait_for(lambda: not run_processes(out), 10, "the run's processes to quit")  # noqa: B023
            for pid in run_processes(out):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def run_cli(directory: Path, *args: str, env: dict[str, str] | None = None, timeout: float = RUN_TIMEOUT,
            preexec: Callable[[], None] | None = None) -> Run:
    """Run the CLI to its end; `--out` must be among `args`."""
    out = Path(args[args.index("--out") + 1])
    return CliRun(directory, list(args), env or {}, preexec).wait(out, timeout)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def run_processes(out: Path) -> dict[int, str]:
    """pid → command line of every live process started for the run writing to `out`."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(out) in cmdline and "locust" in cmdline and state != "Z":
            found[int(pid)] = cmdline
    return found


def locust_pid(out: Path, role: str) -> int:
    """The pid of the run's `master` or `worker-N` process."""
    for pid, cmdline in run_processes(out).items():
        if (role == "master" and "--master " in cmdline) or f"/locust-{role}.log" in cmdline:
            return pid
    raise AssertionError(f"no live {role} process for {out}")


def master_stats(out: Path) -> dict[str, Any]:
    """The run's stats document as the CLI reads it: the master's stats route (its --web-port)."""
    for cmdline in run_processes(out).values():
        if "--master " in cmdline:
            args = cmdline.split()
            host, port = args[args.index("--web-host") + 1], args[args.index("--web-port") + 1]
            with urllib.request.urlopen(f"http://{host}:{port}/isvcperf/stats", timeout=5) as response:
                return dict(json.loads(response.read()))
    raise AssertionError(f"no live master process for {out}")


def wait_for_stats(out: Path, condition: Callable[[dict[str, Any]], bool], what: str,
                   timeout: float = 60.0) -> dict[str, Any]:
    """Poll the master's stats route until `condition(stats)` holds: a phase of the run as the
    run itself reports it, rather than a guess at how long it takes to get there."""
    seen: list[Any] = [None]

    def holds() -> bool:
        try:
            seen[0] = master_stats(out)
        except (OSError, ValueError, AssertionError) as exc:  # the master is starting, or its route is not up yet
            seen[0] = exc
            return False
        return condition(seen[0])

    try:
        wait_for(holds, timeout, what, every=0.1)
    except AssertionError as exc:
        last = seen[0] if isinstance(seen[0], Exception) else {k: seen[0][k] for k in ("phase", "total", "workers")}
        raise AssertionError(f"{exc}; last seen: {str(last)[:1500]}") from None
    return dict(seen[0])


def measured(requests: int = 1) -> Callable[[dict[str, Any]], bool]:
    """A stats condition: the measured window has begun and at least `requests` were recorded in it."""
    return lambda stats: bool(stats["total"].get("measureStart")) and stats["total"].get("requests", 0) >= requests


def assert_nothing_left(out: Path) -> None:
    """No Locust process of the run survives it (checked for a second, as exits are asynchronous)."""
    with contextlib.suppress(AssertionError):
        wait_for(lambda: not run_processes(out), 1.0, "the run's processes to go")
    assert not run_processes(out), run_processes(out)


def record(fault: str, overrun: float | None, lost: str) -> None:
    """Note a fault run's figures for the table printed at the end (and in README's Faults section)."""
    FIGURES.append({"fault": fault, "overrun": overrun, "lost": lost})
    shown = "n/a" if overrun is None else f"{overrun:+.1f}s"
    print(f"\n[fault figures] {fault}: overrun {shown}; lost: {lost}")
