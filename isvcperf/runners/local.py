"""The local runner: the Plan's Locust master and workers as processes on this machine.

Each process runs in its own session (process group) so stopping it stops anything it
started. The runner pulls the master's `/isvcperf/stats` route for progress and for the
final figures, and always cleans up — after a finished run, an error or an interrupt —
stopping the master with SIGTERM first so Locust writes its CSV files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from isvcperf.errors import CouldNotRun
from isvcperf.payload import Bodies
from isvcperf.plan import LOCALHOST, WORKER_CONNECT_TIMEOUT, Plan, Ports, ProcessSpec, make_plan
from isvcperf.runners.outcome import Outcome
from isvcperf.spec import RunSpec

POLL_INTERVAL = 1.0
STOP_GRACE = 10.0
FETCH_TIMEOUT = 5.0


def free_port(host: str = LOCALHOST) -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalRunner:
    """Runs one test as local processes and returns what the master measured."""

    def __init__(self, spec: RunSpec, payload: Bodies, out_dir: Path, ui: bool = False) -> None:
        self.spec = spec
        self.out_dir = out_dir
        self.ui = ui
        self._private = Path(tempfile.mkdtemp(prefix="isvcperf-"))
        config_path = self._private / "loadgen.json"
        self.plan: Plan = make_plan(
            spec,
            payload,
            Ports(master=free_port(), web=free_port()),
            config_path=str(config_path),
            csv_prefix=str(out_dir / "locust"),
            log_dir=str(out_dir),
        )
        config_path.write_text(self.plan.config.to_json(), encoding="utf-8")
        config_path.chmod(0o600)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self.last_stats: dict[str, Any] | None = None

    def run(self, progress: Callable[[dict[str, Any]], None], deadline: float | None) -> Outcome:
        """Start the processes, wait for the master to finish, return the final stats.

        `deadline` (time.monotonic) bounds the whole run; KeyboardInterrupt propagates after
        the last figures were fetched into `last_stats`, and `close()` must always follow.
        """
        self._start(self.plan.master)
        for worker in self.plan.workers:
            self._start(worker)
        if self.ui:
            print(f"Locust web UI: {self.plan.web_url}", flush=True)
        connect_by = time.monotonic() + WORKER_CONNECT_TIMEOUT + 15
        try:
            while True:
                self._check_master_alive()
                stats = self._fetch()
                if stats is not None:
                    self.last_stats = stats
                    progress(stats)
                    if stats["phase"] == "finished":
                        return Outcome(stats=stats, finished=True, reason=stats["finishReason"])
                    if stats["phase"] == "waiting" and time.monotonic() > connect_by:
                        raise CouldNotRun(self._workers_missing_message(stats))
                elif time.monotonic() > connect_by:
                    raise CouldNotRun("the Locust master never answered; see " + str(self.out_dir / "locust-master.out"))
                if deadline is not None and time.monotonic() > deadline:
                    return Outcome(stats=self.last_stats, finished=False, reason="the run did not finish in time")
                time.sleep(POLL_INTERVAL)
        except KeyboardInterrupt:
            self._refresh_quietly()
            raise

    def close(self) -> None:
        """Stop every process (master first, so it writes its CSV files) and remove private files."""
        master = self._procs.get("master")
        if master is not None:
            _stop(master)
        for name, proc in self._procs.items():
            if name != "master":
                _stop(proc)
        for log in self._logs:
            log.close()
        shutil.rmtree(self._private, ignore_errors=True)

    # -- internals -----------------------------------------------------------------------

    def _start(self, process: ProcessSpec) -> None:
        out = open(self.out_dir / f"locust-{process.name}.out", "wb")  # noqa: SIM115 (closed in close())
        self._logs.append(out)
        env = {**os.environ, **process.env, "PYTHONUNBUFFERED": "1"}
        self._procs[process.name] = subprocess.Popen(
            [sys.executable, *process.args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.out_dir,
            start_new_session=True,
        )

    def _fetch(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self.plan.stats_url, timeout=FETCH_TIMEOUT) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def _refresh_quietly(self) -> None:
        """Best effort: the latest figures before stopping after an interrupt."""
        try:
            stats = self._fetch()
        except KeyboardInterrupt:
            return
        if stats is not None:
            self.last_stats = stats

    def _check_master_alive(self) -> None:
        master = self._procs["master"]
        code = master.poll()
        if code is None:
            return
        tail = _tail(self.out_dir / "locust-master.out")
        if "Gave up waiting for workers" in tail:
            raise CouldNotRun(
                f"Locust workers did not connect within {WORKER_CONNECT_TIMEOUT}s; "
                f"see {self.out_dir}/locust-worker-0.out"
            )
        if "Address already in use" in tail:
            raise CouldNotRun(f"a port was taken while starting the Locust master; run again ({tail.splitlines()[-1]})")
        raise CouldNotRun(f"the Locust master exited with code {code}: {tail.strip().splitlines()[-1] if tail else ''}")

    def _workers_missing_message(self, stats: dict[str, Any]) -> str:
        dead = [name for name, p in self._procs.items() if name != "master" and p.poll() is not None]
        detail = f"; exited: {', '.join(dead)} (see {self.out_dir}/locust-{dead[0]}.out)" if dead else ""
        return (
            f"Locust workers did not connect: {stats.get('connectedWorkers', 0)} of "
            f"{stats.get('expectedWorkers')} within {WORKER_CONNECT_TIMEOUT}s{detail}"
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not gone within STOP_GRACE."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_GRACE)
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
