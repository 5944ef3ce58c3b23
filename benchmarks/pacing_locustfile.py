"""The built-in HTTP user, also noting when each request really went out, for
benchmarks/pacing.py's gap figures: the send times go to BENCH_SENDS/sends-PID.txt when
the test stops on the worker."""

import os
import time
from pathlib import Path
from typing import Any

from locust import events

from isvcperf.loadgen import user  # the module, not the class: Locust runs every User class in this namespace
from isvcperf.loadgen.ticket_user import Sent

SENDS: list[float] = []


class TimedInferenceUser(user.InferenceUser):
    def send(self, target: user.UserEndpoint, request: bytes) -> Sent:
        SENDS.append(time.perf_counter())
        return super().send(target, request)


@events.test_stop.add_listener
def _write_sends(**_: Any) -> None:
    folder = os.environ.get("BENCH_SENDS")
    if folder and SENDS:
        Path(folder, f"sends-{os.getpid()}.txt").write_text("\n".join(map(repr, SENDS)) + "\n")
