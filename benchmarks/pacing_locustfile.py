"""The built-in HTTP user, also noting when each request really went out, for
benchmarks/pacing.py's gap figures: when the test stops on the worker, the send times go
to BENCH_SENDS/sends-PID.txt, and how long the worker waited for a CPU over the test (the
kernel's run-queue delay, /proc/self/schedstat) to BENCH_SENDS/waited-PID.txt. With
BENCH_REALTIME set, the worker's main thread runs at real-time priority (SCHED_FIFO 1): a
diagnostic that takes the other processes' share of the CPU out of the figures, never a
setting of isvcperf's."""

import os
import time
from pathlib import Path
from typing import Any

from locust import events
from locust.runners import WorkerRunner

from isvcperf.loadgen import user  # the module, not the class: Locust runs every User class in this namespace
from isvcperf.loadgen.ticket_user import Sent

SENDS: list[float] = []
WAITED_AT_START: list[int] = []


def _run_queue_ns() -> int:
    """Nanoseconds this process's main thread has spent runnable but not running."""
    return int(Path("/proc/self/schedstat").read_text().split()[1])


class TimedInferenceUser(user.InferenceUser):
    def send(self, target: user.UserEndpoint, request: bytes) -> Sent:
        SENDS.append(time.perf_counter())
        return super().send(target, request)


@events.init.add_listener
def _realtime(runner: Any = None, **_: Any) -> None:
    if os.environ.get("BENCH_REALTIME") and isinstance(runner, WorkerRunner):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))


@events.test_start.add_listener
def _note_start(**_: Any) -> None:
    WAITED_AT_START.append(_run_queue_ns())


@events.test_stop.add_listener
def _write_sends(**_: Any) -> None:
    folder = os.environ.get("BENCH_SENDS")
    if folder and SENDS:
        Path(folder, f"sends-{os.getpid()}.txt").write_text("\n".join(map(repr, SENDS)) + "\n")
        Path(folder, f"waited-{os.getpid()}.txt").write_text(f"{_run_queue_ns() - WAITED_AT_START[0]}\n")
