"""What the workers know when a run is cut short, so none of it is lost.

Workers report to the master every few seconds (Locust's report interval); `report_often`
sends the worker's snapshot every metrics interval (1 s) as well, so a worker that is killed
outright takes at most that much with it. Two more things close the gap entirely when
there is a chance to:

- **stop**: when a run is interrupted, the orchestrator POSTs `STOP_ROUTE` before it stops
  any process; the master tells every worker to send its snapshot now and to hand out no
  more tickets, so requests in flight finish and arrive in the worker's final (done)
  report. The orchestrator waits for those (`STOP_WAIT` at most), so the last fetch holds
  everything measured up to the interrupt and nothing is sent after it;
- **final file**: a worker that is stopped (SIGTERM) writes its cumulative snapshot to the
  file named by FINAL_ENV. When the master itself has died, the runner merges these files
  (`stats_from_files`), so the workers' figures survive their master.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from isvcperf.loadgen.llm_recorder import IntervalSums, with_llm
from isvcperf.loadgen.protocol import MSG_SNAPSHOT, MSG_STOP, STOP_ROUTE, StatsDocument, WorkerSnapshot, worker_stats
from isvcperf.loadgen.recorder import merge

log = logging.getLogger(__name__)

FINAL_ENV = "ISVCPERF_FINAL_SNAPSHOT"
STOP_WAIT = 3.0
"""How long the orchestrator waits for the workers' final reports after a stop."""


def install_worker(environment: Any, runner: Any, snapshot: Callable[[bool], WorkerSnapshot | None],
                   identity: Callable[[], dict[str, Any]], stop: Callable[[], None]) -> None:
    """On a stop, send `snapshot(False)` and `stop()` the load; when the worker process ends,
    write `snapshot(True)` (final) to the file FINAL_ENV names."""

    def on_stop(**_: Any) -> None:
        data = snapshot(False)
        if data is not None:
            runner.send_message(MSG_SNAPSHOT, data)
            stop()

    runner.register_message(MSG_STOP, on_stop)
    path = os.environ.get(FINAL_ENV)
    if not path:
        return

    @environment.events.quitting.add_listener
    def _write_final(**_: Any) -> None:
        data = snapshot(True)
        if data is None:
            return
        partial = Path(f"{path}.part")
        partial.write_text(json.dumps({**identity(), "snapshot": data}), encoding="utf-8")
        partial.replace(path)  # whole or absent, never half a file


def report_often(runner: Any, snapshot: Callable[[bool], WorkerSnapshot | None], every: float,
                 finished: Callable[[], bool]) -> None:
    """Send `snapshot(False)` every `every` seconds until `finished()` (run in its own greenlet)."""
    import gevent  # inside Locust only; the CLI imports this module for stats_from_files

    while not finished():
        gevent.sleep(every)
        data = snapshot(False)
        if data is not None:
            runner.send_message(MSG_SNAPSHOT, data)


def install_master(runner: Any, web_ui: Any, take: Callable[[str, WorkerSnapshot], Any]) -> None:
    """Merge the snapshots sent on a stop with `take(client_id, snapshot)`; serve the stop route."""
    runner.register_message(MSG_SNAPSHOT, lambda msg, **_: take(msg.node_id, msg.data))
    if web_ui is not None:
        def stop() -> dict[str, Any]:
            # Logged so the master's log shows why the load stopped (and tests can wait on it).
            log.info("isvcperf: the orchestrator asked to stop; telling %d workers", len(runner.clients))
            runner.send_message(MSG_STOP)
            return {"asked": len(runner.clients)}

        web_ui.app.add_url_rule(STOP_ROUTE, "isvcperf_stop", stop, methods=["POST"])


def stats_from_files(paths: Iterable[Path], interval: float) -> StatsDocument | None:
    """The master's stats document rebuilt from the workers' final files (no timeline), or None."""
    finals = []
    for path in paths:
        try:
            finals.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    if not finals:
        return None
    snapshots = [final["snapshot"] for final in finals]
    return StatsDocument(
        phase="interrupted", finishReason="", startedAt=None, finishedAt=None, users=0, connectedWorkers=0,
        expectedWorkers=len(finals),
        workers={final["id"]: worker_stats(final["index"], final["snapshot"], process=final["process"])
                 for final in finals},
        # no timeline: the rows shipped went with the master; the files hold only the unshipped tail
        total=with_llm(merge(snapshots), snapshots, IntervalSums()),
        interval=interval,
        timeline=[],
        stages=[],
    )
