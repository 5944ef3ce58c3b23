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
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

from isvcperf.loadgen import increment, web_login
from isvcperf.loadgen.config import PARENT_ENV, PROCESS_ENV
from isvcperf.loadgen.last_words import FINAL_ENV, STOP_WAIT, stats_from_files
from isvcperf.loadgen.protocol import EXITED_ROUTE, STOP_ROUTE, StatsDocument, parse_document, process_label
from isvcperf.payload.bodies import Bodies
from isvcperf.plan.topology import LOCALHOST, WORKER_CONNECT_TIMEOUT, Plan, Ports, ProcessSpec, make_plan
from isvcperf.runners.base import follow, unfinished
from isvcperf.runners.outcome import Outcome
from isvcperf.spec.model import RunSpec
from isvcperf.util.errors import CouldNotRun
from isvcperf.util.polling import deadline_after, poll_until

STOP_GRACE = 10.0
FETCH_TIMEOUT = 5.0
FINAL_POLL = 0.1
"""After a stop: how often the master is asked whether every worker's final report is in."""
PORT_ATTEMPTS = 3


def _check_free(host: str, port: int) -> None:
    """--ui-port: fail before any load when something already listens there."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server binds: only a listener blocks it
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CouldNotRun(f"--ui-port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                              "choose another port, or stop what listens there") from None


def free_port(host: str = LOCALHOST) -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalRunner:
    """Runs one test as local processes and returns what the master measured."""

    def __init__(self, spec: RunSpec, payload: Bodies, out_dir: Path, ui: bool = False,
                 ui_host: str | None = None, ui_port: int | None = None) -> None:
        self.spec = spec
        self.payload = payload
        self.out_dir = out_dir.resolve()  # Locust runs with cwd=out_dir: a relative --csv would nest it twice
        self.ui = ui or ui_host is not None or ui_port is not None
        self.ui_host = ui_host
        self.ui_port = ui_port
        if ui_port is not None:
            _check_free(ui_host or LOCALHOST, ui_port)
        self._private = Path(tempfile.mkdtemp(prefix="isvcperf-"))
        self._config_path = self._private / "loadgen.json"
        self.plan: Plan = self._make_plan()
        self._config_path.write_text(self.plan.config.to_json(), encoding="utf-8")
        self._config_path.chmod(0o600)
        self._ui_password = ""
        self._ui_password_generated = False
        if "--web-login" in self.plan.master.args:
            self._ui_password = os.environ.get(web_login.PASSWORD_ENV) or secrets.token_urlsafe(18)
            self._ui_password_generated = web_login.PASSWORD_ENV not in os.environ
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        self._master_died = False
        self._hurry = False
        self._exits_told: set[str] = set()
        """Workers whose exit the master has been told of."""
        self._stats = increment.Assembly()
        self.last_stats: StatsDocument | None = None
        self.start_timeout = WORKER_CONNECT_TIMEOUT + 15.0
        self._port_attempts = 1

    def _make_plan(self) -> Plan:
        """The Plan on ports free right now (chosen again when another process took one first)."""
        return make_plan(
            self.spec,
            self.payload,
            Ports(master=free_port(), web=self.ui_port or free_port()),
            config_path=str(self._config_path),
            csv_prefix=str(self.out_dir / "locust"),
            log_dir=str(self.out_dir),
            ui_host=self.ui_host,
        )

    def run(self, progress: Callable[[StatsDocument], None], deadline: float | None) -> Outcome:
        """Start the processes, wait for the master to finish, return the final stats.

        `deadline` (time.monotonic) bounds the whole run; KeyboardInterrupt propagates after
        the last figures were fetched into `last_stats`, and `close()` must always follow.
        """
        self._port_attempts = 1
        return follow(self, progress, deadline)

    # -- the steps follow() calls ----------------------------------------------------------

    def start(self) -> None:
        self._start_all()

    def check(self, stats: StatsDocument | None) -> Outcome | None:
        """A master that died is fatal, except a port taken between choosing and binding it: start again.
        A worker that exited mid-run is reported to the master, which declares it lost."""
        try:
            self._check_master_alive()
        except PortTaken:
            if self._port_attempts >= PORT_ATTEMPTS:
                raise
            self._port_attempts += 1
            self._stop_all()
            self.plan = self._make_plan()
            self._start_all()
        if stats is not None and stats["phase"] == "running":
            self._tell_exits()
        return None

    def _tell_exits(self) -> None:
        """Tell the master of each worker process that has exited, so it is lost now rather than when
        Locust's heartbeat gives up on it seconds later (loadgen.lost_workers); say how it ended."""
        for name, proc in self._procs.items():
            code = proc.poll()
            if name == "master" or code is None or name in self._exits_told:
                continue
            label = process_label(name, proc.pid)
            if self._post(EXITED_ROUTE, {"process": label}):
                self._exits_told.add(name)
                self.plan.warnings.append(f"{label} {_ended(code)} during the run (see {self.out_dir}/locust-{name}.out)")

    def not_started(self, stats: StatsDocument | None) -> str:
        if stats is None:
            return "the Locust master never answered; see " + str(self.out_dir / "locust-master.out")
        return self._workers_missing_message(stats)

    def timed_out(self) -> Outcome:
        return unfinished(self.last_stats)

    def close(self) -> None:
        """Stop every process (master first, so it writes its CSV files) and remove private files.

        A second Ctrl-C — while the workers' last figures were awaited, or during the graceful
        stop (then the KeyboardInterrupt propagates) — kills every process group at once:
        nothing is left running either way.
        """
        try:
            if self._hurry:
                self._kill_all()
            else:
                self._stop_all()
            if self._master_died:
                self._take_final_files()
        except KeyboardInterrupt:
            self._kill_all()
            raise
        finally:
            for log in self._logs:
                log.close()
            shutil.rmtree(self._private, ignore_errors=True)

    # -- internals -----------------------------------------------------------------------

    def _take_final_files(self) -> None:
        """The master died: the stopped workers' own final counts, when they hold more than the last fetch."""
        stats = stats_from_files(sorted(self._private.glob("final-*.json")), self.spec.metrics.interval)
        if stats is None:
            return
        before = self.last_stats["total"]["requests"] if self.last_stats else 0
        if stats["total"]["requests"] >= before:
            self.last_stats = stats
            self.plan.warnings.append("the Locust master died: the figures are the workers' own final counts, "
                                      "without a timeline")

    def _start_all(self) -> None:
        self._start(self.plan.master, {web_login.PASSWORD_ENV: self._ui_password} if self._ui_password else {})
        for worker in self.plan.workers:
            self._start(worker)
        if self.ui:
            print(f"Locust web UI: {self.plan.web_url}" + (
                f" (bound to {self.ui_host})" if self.ui_host else ""), flush=True)
            if self._ui_password:
                shown = self._ui_password if self._ui_password_generated else f"${web_login.PASSWORD_ENV}"
                print(f"  login: {web_login.USERNAME} / {shown}", flush=True)

    def _kill_all(self) -> None:
        for proc in self._procs.values():
            _signal_group(proc, signal.SIGKILL)
        for proc in self._procs.values():
            proc.wait()

    def _stop_all(self) -> None:
        master = self._procs.get("master")
        if master is not None:
            _stop(master)
        for name, proc in self._procs.items():
            if name != "master":
                _stop(proc)
        for log in self._logs:
            log.close()
        self._logs.clear()
        self._procs.clear()

    def _start(self, process: ProcessSpec, secret_env: dict[str, str] | None = None) -> None:
        out = open(self.out_dir / f"locust-{process.name}.out", "wb")  # noqa: SIM115 (closed in close())
        self._logs.append(out)
        env = {**os.environ, **process.env, **(secret_env or {}), PROCESS_ENV: process.name, "PYTHONUNBUFFERED": "1",
               FINAL_ENV: str(self._private / f"final-{process.name}.json"), PARENT_ENV: str(os.getpid())}
        self._procs[process.name] = subprocess.Popen(
            [sys.executable, *process.args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.out_dir,
            start_new_session=True,
        )

    def fetch(self) -> StatsDocument | None:
        try:
            with urllib.request.urlopen(increment.path(self.plan.stats_url, self._stats.since),
                                        timeout=FETCH_TIMEOUT) as response:
                return self._stats.add(parse_document(response.read()))
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def end(self) -> None:
        """POST the master's stop route (best effort: a master that is gone has nothing left to stop)."""
        self._post(STOP_ROUTE)

    def _post(self, route: str, body: dict[str, str] | None = None) -> bool:
        """POST `body` (JSON) to one of the master's routes; whether it answered."""
        url = f"http://{self.plan.ports.host}:{self.plan.ports.web}{route}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=FETCH_TIMEOUT).close()
        except (urllib.error.URLError, OSError):
            return False
        return True

    def refresh_quietly(self) -> None:
        """Best effort, before stopping after an interrupt: stop the load and take the workers' last figures.

        The master tells the workers to send what they have and hand out no more tickets;
        their final reports arrive once the requests in flight are answered (STOP_WAIT at most).
        """
        try:
            self.end()
            poll_until(self._final_reports_in, deadline_after(STOP_WAIT), FINAL_POLL, lambda: False)
        except KeyboardInterrupt:
            self._hurry = True  # a second Ctrl-C: keep what was fetched, stop everything at once

    def _final_reports_in(self) -> bool | None:
        """Fetch the stats; True once every worker has sent its final report or was lost, or nothing can be read."""
        self.last_stats = self.fetch() or self.last_stats
        if self.last_stats is None or all(w["done"] or w["lostAt"] for w in self.last_stats["workers"].values()):
            return True
        return None

    def _check_master_alive(self) -> None:
        master = self._procs["master"]
        code = master.poll()
        if code is None:
            return
        self._master_died = True
        where = self.out_dir / "locust-master.out"
        # a long tail: a bind error can be followed by other greenlets' tracebacks as the master dies
        # (Locust's CSV writer on a closed file), which would push it out of a short one
        tail = _tail(where)
        if not tail.strip():  # Locust logs its own refusals ("No User class found!") to --logfile, not stdout
            where = self.out_dir / "locust-master.log"
            tail = _tail(where)
        if "Gave up waiting for workers" in tail:
            raise CouldNotRun(
                f"Locust workers did not connect within {WORKER_CONNECT_TIMEOUT}s; "
                f"see {self.out_dir}/locust-worker-0.out"
            )
        if "Address already in use" in tail:
            raise PortTaken(f"the ports chosen for the Locust master were taken by another process "
                            f"{PORT_ATTEMPTS} times in a row; run again ({tail.splitlines()[-1]})")
        last = f": {_log_message(tail.strip().splitlines()[-1])}" if tail.strip() and code > 0 else ""
        total = self.last_stats.get("total") if self.last_stats else None
        kept = "the result holds what was measured until then" if total and total.get("requests") else \
            "nothing was measured"
        raise CouldNotRun(f"the Locust master {_ended(code)} during the run; the workers were stopped and {kept} "
                          f"(see {where}){last}")

    def _workers_missing_message(self, stats: StatsDocument) -> str:
        dead = [name for name, p in self._procs.items() if name != "master" and p.poll() is not None]
        detail = f"; exited: {', '.join(dead)} (see {self.out_dir}/locust-{dead[0]}.out)" if dead else ""
        return (
            f"Locust workers did not connect: {stats['connectedWorkers']} of "
            f"{stats['expectedWorkers']} within {WORKER_CONNECT_TIMEOUT}s{detail}"
        )


class PortTaken(CouldNotRun):
    """A port chosen for the master was bound by another process before the master could."""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not gone within STOP_GRACE."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_GRACE)
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def _ended(code: int) -> str:
    """How a process ended, from its return code: `was killed by SIGKILL`, `exited with code 1`."""
    return f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _log_message(line: str) -> str:
    """A log line without Locust's `[time] host/LEVEL/logger: ` prefix: the reason quotes what was said."""
    return re.sub(r"^\[[^\]]*\] \S+: ", "", line)


DIAGNOSIS_LINES = 200
"""How much of a dead master's output is searched for a known cause (a master dies early: its output is short)."""


def _tail(path: Path, lines: int = DIAGNOSIS_LINES) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
