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
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import gevent
import psutil
from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from isvcperf.loadgen import collector, health, last_words, llm_recorder, orphan, prometheus, web_login
from isvcperf.loadgen.config import PROCESS_ENV, LoadgenConfig, load_from_env
from isvcperf.loadgen.control import Controller, Share
from isvcperf.loadgen.recorder import Recorder, Timeline, merge
from isvcperf.loadgen.stages import Schedule

log = logging.getLogger("isvcperf")

MSG_ASSIGN = "isvcperf_assign"
MSG_DONE = "isvcperf_done"
MSG_HELLO = "isvcperf_hello"
STATS_ROUTE = "/isvcperf/stats"
REPORT_KEY = "isvcperf"
WATCH_INTERVAL = 1.0
WORKER_FIELDS = ("requests", "successes", "errors", "warmupRequests", "dropped", "measureStart", "measureEnd",
                 "health")


@dataclass
class WorkerTrack:
    """What the master knows of one worker."""

    index: int
    snapshot: dict[str, Any] = field(default_factory=dict)
    done: bool = False
    lost_at: float | None = None
    max_cpu: float = 0.0
    process: str = ""
    """Which process or pod this is (name and pid), so a lost worker can be found in the logs."""


@dataclass
class State:
    """Per-process plugin state (one Locust process is either master or worker)."""

    config: LoadgenConfig
    recorder: Recorder
    controller: Controller | None = None
    workers: dict[str, WorkerTrack] = field(default_factory=dict)
    timeline: Timeline = field(default_factory=Timeline)
    merged: dict[str, Any] | None = None
    """The workers' snapshots merged, until the next report changes one."""
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
    config = load_from_env()
    rates = config.schedule("rate")
    open_loop = config.rate > 0 or rates is not None
    stage_ends = Schedule(tuple(s["duration"] for s in config.stages), (0.0,) * len(config.stages)).ends
    per_endpoint = len(config.endpoints) if any(e.id for e in config.endpoints) else 0
    _state = State(config=config, recorder=Recorder(open_loop, stage_ends, config.interval, per_endpoint))
    orphan.watch(runner)
    if isinstance(runner, WorkerRunner):
        _init_worker(environment, runner, _state)
    elif isinstance(runner, MasterRunner):
        _init_master(environment, runner, web_ui, _state)
    else:
        raise RuntimeError("isvcperf runs Locust as a master and workers (--master / --worker)")


# -- worker ------------------------------------------------------------------------------


def _init_worker(environment: Environment, runner: WorkerRunner, st: State) -> None:
    def done() -> None:
        runner.send_message(MSG_DONE, st.recorder.snapshot(final=True))

    st.controller = Controller(st.recorder, done, st.config.schedule("rate"), st.config.arrivals == "poisson",
                               st.config.workers, queue=st.config.overload == "queue")

    def on_assign(msg: Any, **_: Any) -> None:
        st.controller.assign(Share(**msg.data))  # type: ignore[union-attr]

    runner.register_message(MSG_ASSIGN, on_assign)

    def snapshot(final: bool) -> dict[str, Any] | None:
        """What this worker ships, however it is shipped; with ISVCPERF_HEALTH, its descriptors and greenlets too."""
        if st.controller is None or st.controller.share is None:
            return None
        data = st.recorder.snapshot(final)
        if health.enabled():
            data["health"] = health.sample()
        return data

    def identity() -> dict[str, Any]:
        return {"id": runner.client_id, "index": st.controller.share.index, "process": _process_name()}  # type: ignore[union-attr]

    last_words.install_worker(environment, runner, snapshot, identity, lambda: st.controller.stop())  # type: ignore[union-attr]

    @environment.events.test_start.add_listener
    def _start(**_: Any) -> None:
        runner.send_message(MSG_HELLO, _process_name())
        st.controller.start()  # type: ignore[union-attr]
        gevent.spawn(_sample_intervals, runner, st)
        gevent.spawn(last_words.report_often, runner, snapshot, st.config.interval, st.controller.finished.is_set)  # type: ignore[union-attr]

    @environment.events.report_to_master.add_listener
    def _report(data: dict[str, Any], **_: Any) -> None:
        shipped = snapshot(False)
        if shipped is not None:
            data[REPORT_KEY] = shipped


def _process_name() -> str:
    """This process as the runner named it (or the pod's hostname), with its pid."""
    return f"{os.environ.get(PROCESS_ENV) or socket.gethostname()} (pid {os.getpid()})"


def _sample_intervals(runner: WorkerRunner, st: State) -> None:
    """At each interval boundary of the measured window, note this process's CPU and users."""
    controller, recorder = st.controller, st.recorder
    assert controller is not None
    controller.measuring.wait()
    process = psutil.Process()
    process.cpu_percent()
    index = 0
    while not controller.finished.is_set():
        boundary = recorder.measure_start + (index + 1) * recorder.interval  # type: ignore[operator]
        gevent.sleep(max(0.0, boundary - time.time()))
        recorder.close_interval(index, process.cpu_percent(), runner.user_count)
        index += 1


# -- master ------------------------------------------------------------------------------


def _init_master(environment: Environment, runner: MasterRunner, web_ui: Any, st: State) -> None:
    config = st.config
    collector.start()

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

    def take(client_id: str, snapshot: dict[str, Any]) -> WorkerTrack | None:
        track = st.workers.get(client_id)
        if track is not None:
            st.timeline.add(client_id, snapshot.pop("intervals", {}))
            track.snapshot = snapshot
            st.merged = None
        return track

    @environment.events.worker_report.add_listener
    def _worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        if REPORT_KEY in data:
            take(client_id, data[REPORT_KEY])

    def on_done(msg: Any, **_: Any) -> None:
        track = take(msg.node_id, msg.data)
        if track is not None:
            track.done = True
            _maybe_finish(runner, st)

    runner.register_message(MSG_DONE, on_done)

    def on_hello(msg: Any, **_: Any) -> None:
        track = st.workers.get(msg.node_id)
        if track is not None:
            track.process = str(msg.data)

    runner.register_message(MSG_HELLO, on_hello)
    last_words.install_master(runner, web_ui, take)

    if web_ui is not None:
        if web_ui.web_login:
            web_login.install(web_ui)
        web_ui.app.add_url_rule(STATS_ROUTE, "isvcperf_stats", lambda: _stats_response(runner, st))
    prometheus.install(environment, web_ui, config, lambda: stats_document(runner, st))
    users = config.schedule("users")
    if users is not None:
        environment.shape_class = StagesShape(users, config.warmup_duration)
        environment.shape_class.runner = runner


def _watch(runner: MasterRunner, st: State) -> None:
    """Mark workers lost when Locust stops hearing from them; track their CPU."""
    while st.phase == "running":
        for client_id, track in st.workers.items():
            node = runner.clients.get(client_id)
            if track.done or track.lost_at is not None:
                continue
            if node is None or node.state == STATE_MISSING:
                track.lost_at = time.time()
                log.warning("isvcperf: worker %s (index %d, %s) lost", client_id, track.index, track.process)
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
    """The stats route: the document, and a finished run's result counts as fetched."""
    if st.phase == "finished":
        st.fetched = True
    return stats_document(runner, st)


def stats_document(runner: MasterRunner, st: State) -> dict[str, Any]:
    """Everything the orchestrator needs, merged across workers.

    The merge is redone only when a worker has reported since the last one: workers report
    every few seconds while the orchestrator polls every second, and each merge builds
    full-size histograms whose churn would slowly grow the master's heap over a soak.
    """
    if st.merged is None:
        st.merged = merge([t.snapshot for t in st.workers.values()])
        llm = llm_recorder.merge([t.snapshot.get("llm") for t in st.workers.values()])
        if llm is not None:  # a generative run's token-level figures (protocol openai)
            st.merged["llm"] = llm
    merged = st.merged
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
                "process": t.process,
                **{k: t.snapshot.get(k) for k in WORKER_FIELDS},
            }
            for cid, t in st.workers.items()
        },
        "total": merged,
        "interval": st.config.interval,
        "timeline": st.timeline.summary(),
        "stages": st.config.stages,
        **({"health": health.sample()} if health.enabled() else {}),
    }


class StagesShape(LoadTestShape):
    """Users over time from `load.stages` (closed loop), after a warm-up at the first stage's users."""

    def __init__(self, schedule: Schedule, warmup: float) -> None:
        super().__init__()
        self.schedule = schedule
        self.warmup = warmup

    def tick(self) -> tuple[int, float]:
        users = max(1, round(self.schedule.value_at(self.get_run_time() - self.warmup)))
        return users, float(max(users, 1))
