"""The isvcperf plugin inside Locust: shares, reports and the stats route.

It extends Locust only through its events, custom messages and web routes:
- master, on `test_start`: splits the run into shares and sends each connected worker its
  own before the spawn message (same ordered channel), so counts are exact across workers;
- worker: ships its Recorder's cumulative snapshot with every `report_to_master` and in an
  `isvcperf_done` message when its share is used up;
- master: keeps the latest snapshot per worker (`worker_report`), notices lost workers
  (Locust's heartbeat marks them missing), stops the test when every worker is done or
  lost, and serves everything as JSON at `/isvcperf/stats` for the orchestrator to pull.
  A finished master quits by itself after `linger` seconds if nobody fetched the result.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from isvcperf.loadgen.config import LoadgenConfig, load_from_env
from isvcperf.loadgen.control import Controller, Share
from isvcperf.loadgen.recorder import Recorder, merge

log = logging.getLogger("isvcperf")

MSG_ASSIGN = "isvcperf_assign"
MSG_DONE = "isvcperf_done"
STATS_ROUTE = "/isvcperf/stats"
REPORT_KEY = "isvcperf"
WATCH_INTERVAL = 1.0


@dataclass
class WorkerTrack:
    """What the master knows of one worker."""

    index: int
    snapshot: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    lost_at: float | None = None
    max_cpu: float = 0.0


@dataclass
class State:
    """Per-process plugin state (one Locust process is either master or worker)."""

    config: LoadgenConfig
    recorder: Recorder = field(default_factory=Recorder)
    controller: Controller | None = None
    workers: dict[str, WorkerTrack] = field(default_factory=dict)
    phase: str = "waiting"
    """waiting → running → finished (master's view)."""
    finish_reason: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    fetched: bool = False


_state: State | None = None


def state() -> State:
    """The plugin state of this process (set up on Locust's init event)."""
    if _state is None:
        raise RuntimeError("isvcperf plugin not initialised: import isvcperf.loadgen in the locustfile")
    return _state


@events.init.add_listener
def on_init(environment: Environment, runner: Any = None, web_ui: Any = None, **_: Any) -> None:
    global _state
    _state = State(config=load_from_env())
    if isinstance(runner, WorkerRunner):
        _init_worker(environment, runner, _state)
    elif isinstance(runner, MasterRunner):
        _init_master(environment, runner, web_ui, _state)
    else:
        raise RuntimeError("isvcperf runs Locust as a master and workers (--master / --worker)")


# -- worker ------------------------------------------------------------------------------


def _init_worker(environment: Environment, runner: WorkerRunner, st: State) -> None:
    def done() -> None:
        runner.send_message(MSG_DONE, st.recorder.snapshot())

    st.controller = Controller(st.recorder, done)

    def on_assign(msg: Any, **_: Any) -> None:
        st.controller.assign(Share(**msg.data))  # type: ignore[union-attr]

    runner.register_message(MSG_ASSIGN, on_assign)

    @environment.events.test_start.add_listener
    def _start(**_: Any) -> None:
        st.controller.start()  # type: ignore[union-attr]

    @environment.events.report_to_master.add_listener
    def _report(data: dict[str, Any], **_: Any) -> None:
        data[REPORT_KEY] = st.recorder.snapshot()


# -- master ------------------------------------------------------------------------------


def _init_master(environment: Environment, runner: MasterRunner, web_ui: Any, st: State) -> None:
    config = st.config

    @environment.events.test_start.add_listener
    def _assign(**_: Any) -> None:
        ids = sorted(c.id for c in runner.clients.ready)
        shares = Share.split(len(ids), config.requests, config.warmup_requests, config.rate, config.duration,
                             config.warmup_duration)
        for client_id, share in zip(ids, shares, strict=True):
            st.workers[client_id] = WorkerTrack(index=share.index)
            runner.send_message(MSG_ASSIGN, asdict(share), client_id=client_id)
        st.phase = "running"
        st.started_at = time.time()
        gevent.spawn(_watch, runner, st)

    @environment.events.worker_report.add_listener
    def _worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        track = st.workers.get(client_id)
        if track is not None and REPORT_KEY in data:
            track.snapshot = data[REPORT_KEY]

    def on_done(msg: Any, **_: Any) -> None:
        track = st.workers.get(msg.node_id)
        if track is not None:
            track.snapshot = msg.data
            track.done = True
            _maybe_finish(runner, st)

    runner.register_message(MSG_DONE, on_done)

    if web_ui is not None:
        web_ui.app.add_url_rule(STATS_ROUTE, "isvcperf_stats", lambda: _stats_response(runner, st))


def _watch(runner: MasterRunner, st: State) -> None:
    """Mark workers lost when Locust stops hearing from them; track their CPU."""
    while st.phase == "running":
        for client_id, track in st.workers.items():
            node = runner.clients.get(client_id)
            if track.done or track.lost_at is not None:
                continue
            if node is None or node.state == STATE_MISSING:
                track.lost_at = time.time()
                log.warning("isvcperf: worker %s (index %d) lost", client_id, track.index)
            else:
                track.max_cpu = max(track.max_cpu, float(node.cpu_usage))
        _maybe_finish(runner, st)
        gevent.sleep(WATCH_INTERVAL)


def _maybe_finish(runner: MasterRunner, st: State) -> None:
    if st.phase != "running" or not st.workers:
        return
    if not all(t.done or t.lost_at is not None for t in st.workers.values()):
        return
    lost = [t for t in st.workers.values() if t.lost_at is not None]
    st.phase = "finished"
    st.finished_at = time.time()
    st.finish_reason = f"{len(lost)} of {len(st.workers)} workers lost" if lost else "completed"
    gevent.spawn(runner.stop)
    gevent.spawn(_linger, runner, st)


def _linger(runner: MasterRunner, st: State) -> None:
    """Quit when the result has been fetched, or after `linger` seconds if nobody comes for it."""
    deadline = time.time() + st.config.linger
    while not st.fetched and time.time() < deadline:
        gevent.sleep(0.5)
    if not st.fetched:
        log.warning("isvcperf: nobody fetched the result within %.0fs; quitting", st.config.linger)
        runner.environment.process_exit_code = 3
        runner.quit()
        if runner.environment.web_ui is not None:
            runner.environment.web_ui.stop()


def _stats_response(runner: MasterRunner, st: State) -> dict[str, Any]:
    """Everything the orchestrator needs, merged across workers."""
    if st.phase == "finished":
        st.fetched = True
    merged = merge([t.snapshot for t in st.workers.values()])
    return {
        "phase": st.phase,
        "finishReason": st.finish_reason,
        "startedAt": st.started_at,
        "finishedAt": st.finished_at,
        "users": runner.user_count,
        "connectedWorkers": len(runner.clients.ready) + len(runner.clients.spawning) + len(runner.clients.running),
        "expectedWorkers": st.config.workers,
        "workers": {
            cid: {
                "index": t.index,
                "done": t.done,
                "lostAt": t.lost_at,
                "maxCpu": t.max_cpu,
                **{k: v for k, v in t.snapshot.items() if k != "histogram"},
            }
            for cid, t in st.workers.items()
        },
        "total": merged,
    }
