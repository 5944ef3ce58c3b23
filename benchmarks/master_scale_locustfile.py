"""For benchmarks/master_scale.py: what the Locust master receives, counted on both ends.

- master: every message it receives is counted by type (a dict increment: counting must
  not cost the master what it measures), and `GET /bench/received` serves the counts with
  the master's own CPU seconds (psutil) and Locust's state, so the benchmark reads both at
  the same moment;
- worker: the msgpack size of every message it sends (what goes on the wire to the master)
  by type, and of the isvcperf snapshot inside each (a whole `isvcperf_snapshot` or
  `isvcperf_done`, the `isvcperf` key of Locust's `stats` report), written to
  BENCH_SIZES/sizes-PID.json when the worker quits. Serialising twice costs the worker, not
  the master.

With BENCH_PLAIN=1 the user is a plain Locust FastHttpUser at the same rate, without
isvcperf: the baseline of what Locust's own messages cost the master.
"""

import json
import os
from pathlib import Path
from typing import Any

import msgpack
import psutil
from locust import FastHttpUser, constant_throughput, events, task
from locust.rpc.protocol import encode
from locust.runners import MasterRunner, WorkerRunner

PLAIN = os.environ.get("BENCH_PLAIN") == "1"
OURS = ("isvcperf_snapshot", "isvcperf_done")
"""Messages that are an isvcperf snapshot whole (Locust's `stats` report may carry one under `isvcperf`)."""
REPORT_KEY = "isvcperf"
RECEIVED: dict[str, int] = {}
SENT: dict[str, list[int]] = {}
"""Message type → [count, bytes, snapshots inside, snapshot bytes]."""

if PLAIN:
    class PlainPost(FastHttpUser):
        wait_time = constant_throughput(float(os.environ.get("BENCH_USER_RATE", "3")))

        @task
        def infer(self) -> None:
            self.client.post("", data=b'{"inputs": []}', headers={"Content-Type": "application/json"})
else:
    from isvcperf.loadgen.user import InferenceUser  # noqa: F401  Locust runs the User classes of this namespace


@events.init.add_listener
def _count(environment: Any, runner: Any = None, web_ui: Any = None, **_: Any) -> None:
    if isinstance(runner, MasterRunner):
        _count_received(runner, web_ui)
    elif isinstance(runner, WorkerRunner):
        _measure_sent(environment, runner)


def _count_received(runner: MasterRunner, web_ui: Any) -> None:
    server, receive = runner.server, runner.server.recv_from_client
    process = psutil.Process()

    def counted() -> Any:
        address, message = receive()
        key = "stats+isvcperf" if message.type == "stats" and REPORT_KEY in message.data else message.type
        RECEIVED[key] = RECEIVED.get(key, 0) + 1
        return address, message

    server.recv_from_client = counted

    def received() -> dict[str, Any]:
        cpu = process.cpu_times()
        return {"received": RECEIVED, "cpu": cpu.user + cpu.system, "state": runner.state,
                "workers": len(runner.clients)}

    web_ui.app.add_url_rule("/bench/received", "bench_received", received)


def _measure_sent(environment: Any, runner: WorkerRunner) -> None:
    client, send = runner.client, runner.client.send

    def measured(message: Any) -> None:
        row = SENT.setdefault(message.type, [0, 0, 0, 0])
        row[0] += 1
        row[1] += len(message.serialize())
        ours = message.data if message.type in OURS else (
            message.data.get(REPORT_KEY) if message.type == "stats" and isinstance(message.data, dict) else None)
        if ours is not None:
            row[2] += 1
            row[3] += len(msgpack.dumps(ours, default=encode))
        send(message)

    client.send = measured

    @environment.events.quitting.add_listener
    def _write(**_: Any) -> None:
        folder = os.environ.get("BENCH_SIZES")
        if folder:
            Path(folder, f"sizes-{os.getpid()}.json").write_text(json.dumps(SENT))
