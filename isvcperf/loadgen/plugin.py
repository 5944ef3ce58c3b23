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
- both, in one process under Locust's LocalRunner (plain `locust` without --master): the
  same messages, which Locust delivers locally;
- the web UI's STOP ends the run (`interrupted` in the stats document) once every worker
  has handed in what its stopped users measured (web_controls).
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
from flask import request
from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import STATE_MISSING, LocalRunner, MasterRunner, WorkerRunner

from isvcperf.loadgen import (
    collector,
    health,
    increment,
    last_words,
    llm_recorder,
    lost_workers,
    orphan,
    pauses,
    prometheus,
    standalone,
    web_controls,
    web_login,
)
from isvcperf.loadgen.config import CONFIG_ENV, PROCESS_ENV, LoadgenConfig, load_from_env
from isvcperf.loadgen.control import Controller, Share
from isvcperf.loadgen.protocol import (
    MSG_ASSIGN,
    MSG_DONE,
    MSG_HELLO,
    REPORT_KEY,
    SINCE_PARAM,
    STATS_ROUTE,
    Phase,
    StatsDocument,
    Totals,
    WorkerSnapshot,
    process_label,
    worker_stats,
)
from isvcperf.loadgen.recorder import Recorder, Timeline, merge
from isvcperf.loadgen.stages import Schedule

log = logging.getLogger("isvcperf")

WATCH_INTERVAL = 1.0
LOCAL_ID = "local"
"""The one worker of a LocalRunner (the node id Locust gives its locally delivered messages)."""


@dataclass
class WorkerTrack:
    """What the master knows of one worker."""

    index: int
    snapshot: WorkerSnapshot | dict[str, Any] = field(default_factory=dict)
    """The worker's latest snapshot (empty until its first)."""
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
    llm_intervals: llm_recorder.IntervalSums = field(default_factory=llm_recorder.IntervalSums)
    """A generative run's interval rows, summed as the workers ship them (each once, like the timeline's)."""
    merged: Totals | None = None
    """The workers' snapshots merged, until the next report changes one."""
    phase: Phase = "waiting"
    """waiting → running → finished (master's view)."""
    finish_reason: str = ""
    stop_reason: str = ""
    """Why the run was stopped before its end (the web UI's STOP), else empty."""
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
    workers = getattr(environment.parsed_options, "expect_workers", 1) if isinstance(runner, MasterRunner) else 1
    config = standalone.config(environment.parsed_options, workers)
    if config is None and not os.environ.get(CONFIG_ENV):
        standalone.missing()
    config = config or load_from_env()
    rates = config.schedule("rate")
    open_loop = config.rate > 0 or rates is not None
    stage_ends = Schedule(tuple(s["duration"] for s in config.stages), (0.0,) * len(config.stages)).ends
    per_endpoint = len(config.endpoints) if any(e.id for e in config.endpoints) else 0
    _state = State(config=config, recorder=Recorder(open_loop, stage_ends, config.interval, per_endpoint))
    orphan.watch(runner)
    if isinstance(runner, WorkerRunner):
        _init_worker(environment, runner, _state)
    elif isinstance(runner, MasterRunner | LocalRunner):
        _init_master(environment, runner, web_ui, _state)
        if isinstance(runner, LocalRunner):
            _init_worker(environment, runner, _state)


# -- worker ------------------------------------------------------------------------------


def _init_worker(environment: Environment, runner: WorkerRunner | LocalRunner, st: State) -> None:
    def snapshot(final: bool) -> WorkerSnapshot | None:
        """What this worker ships, however it is shipped; with ISVCPERF_HEALTH, its descriptors and greenlets too."""
        if st.controller is None or st.controller.share is None:
            return None
        data = st.recorder.snapshot(final)
        if health.enabled():
            data["health"] = health.sample()
        return data

    def done() -> None:
        # The same snapshot as every other: the done one is often the master's last word on this worker.
        runner.send_message(MSG_DONE, snapshot(True))

    st.controller = Controller(st.recorder, done, st.config.schedule("rate"), st.config.arrivals == "poisson",
                               st.config.workers, queue=st.config.overload == "queue")

    def on_assign(msg: Any, **_: Any) -> None:
        st.controller.assign(Share(**msg.data))  # type: ignore[union-attr]

    runner.register_message(MSG_ASSIGN, on_assign)

    def identity() -> dict[str, Any]:
        return {"id": runner.client_id, "index": st.controller.share.index, "process": _process_name()}  # type: ignore[union-attr]

    last_words.install_worker(environment, runner, snapshot, identity, lambda: st.controller.stop())  # type: ignore[union-attr]

    @environment.events.test_start.add_listener
    def _start(**_: Any) -> None:
        runner.send_message(MSG_HELLO, _process_name())
        pauses.before_load(st.recorder.lateness is not None)
        st.controller.start()  # type: ignore[union-attr]
        gevent.spawn(_sample_intervals, runner, st)
        gevent.spawn(last_words.report_often, runner, snapshot, st.config.interval, st.controller.finished.is_set)  # type: ignore[union-attr]

    @environment.events.test_stop.add_listener
    def _stopped(**_: Any) -> None:
        """Locust stopped the users before the share was used up (the web UI's STOP): hand in what
        was measured; requests that Locust cut off mid-flight are not counted."""
        controller = st.controller
        if controller is None or controller.share is None or controller.finished.is_set():
            return
        controller.stop()
        if not controller.finished.is_set():
            controller.finished.set()
            done()

    @environment.events.report_to_master.add_listener
    def _report(data: dict[str, Any], **_: Any) -> None:
        shipped = snapshot(False)
        if shipped is not None:
            data[REPORT_KEY] = shipped


def _process_name() -> str:
    """This process as the runner named it (or the pod's hostname), with its pid."""
    return process_label(os.environ.get(PROCESS_ENV) or socket.gethostname(), os.getpid())


def _sample_intervals(runner: WorkerRunner | LocalRunner, st: State) -> None:
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


def _init_master(environment: Environment, runner: MasterRunner | LocalRunner, web_ui: Any, st: State) -> None:
    config = st.config
    collector.start()
    environment.host = environment.host or ", ".join(endpoint.url for endpoint in config.endpoints)

    @environment.events.test_start.add_listener
    def _assign(**_: Any) -> None:
        ids = sorted(c.id for c in runner.clients.ready) if isinstance(runner, MasterRunner) else [LOCAL_ID]
        shares = Share.split(len(ids), config.requests, config.warmup_requests, config.rate, config.duration,
                             config.warmup_duration)
        for client_id, share in zip(ids, shares, strict=True):
            st.workers[client_id] = WorkerTrack(index=share.index)
            runner.send_message(MSG_ASSIGN, asdict(share), client_id=client_id)
        st.phase = "running"
        st.started_at = time.time()
        if isinstance(runner, MasterRunner):
            gevent.spawn(_watch, runner, st)

    @environment.events.test_stopping.add_listener
    def _stopping(**_: Any) -> None:
        if st.phase == "running" and web_controls.stop_button_pressed():
            st.stop_reason = web_controls.STOPPED_FROM_UI
            log.info("isvcperf: %s; waiting for the workers' figures", st.stop_reason)

    def take(client_id: str, snapshot: WorkerSnapshot) -> WorkerTrack | None:
        track = st.workers.get(client_id)
        if track is not None:
            st.timeline.add(client_id, snapshot.pop("intervals", {}))  # type: ignore[misc]
            st.llm_intervals.take(snapshot)  # type: ignore[arg-type]
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
        lost_workers.install(web_ui, lambda: st.workers if st.phase == "running" else {}, lambda: _maybe_finish(runner, st))
        web_controls.install(web_ui, config.users, config.schedule("users") is None, lambda: st.phase,
                             lambda: {cid: track.process for cid, track in st.workers.items() if track.process})
    if standalone.active():
        standalone.follow(lambda: stats_document(runner, st), config.interval)
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
                lost_workers.lose(client_id, track, "Locust's heartbeat")
            else:
                track.max_cpu = max(track.max_cpu, float(node.cpu_usage))
        _maybe_finish(runner, st)
        gevent.sleep(WATCH_INTERVAL)


def _maybe_finish(runner: MasterRunner | LocalRunner, st: State) -> None:
    if st.phase != "running" or not st.workers:
        return
    if not all(t.done or t.lost_at is not None for t in st.workers.values()):
        return
    lost = [t for t in st.workers.values() if t.lost_at is not None]
    st.phase = "finished"
    st.finished_at = time.time()
    st.finish_reason = st.stop_reason or (f"{len(lost)} of {len(st.workers)} workers lost" if lost else "completed")
    gevent.spawn(runner.stop)
    if not standalone.active():  # under plain Locust the person at the UI decides when it ends
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


def _stats_response(runner: MasterRunner | LocalRunner, st: State) -> StatsDocument | tuple[dict[str, str], int]:
    """The stats route: the document (from timeline row `?since=` on), and a finished run's result counts as fetched."""
    try:
        since = increment.parse_since(request.args.get(SINCE_PARAM))
    except ValueError as exc:
        return {"error": str(exc)}, 400
    if st.phase == "finished":
        st.fetched = True
    return increment.tail(stats_document(runner, st), since)


def stats_document(runner: MasterRunner | LocalRunner, st: State) -> StatsDocument:
    """Everything the orchestrator needs, merged across workers.

    The merge is redone only when a worker has reported since the last one: workers report
    every few seconds while the orchestrator polls every second, and each merge builds
    full-size histograms whose churn would slowly grow the master's heap over a soak.
    """
    if st.merged is None:
        snapshots = [t.snapshot for t in st.workers.values()]
        st.merged = llm_recorder.with_llm(merge(snapshots), snapshots, st.llm_intervals)
    document = StatsDocument(
        phase=st.phase,
        finishReason=st.finish_reason,
        interrupted=bool(st.stop_reason),
        startedAt=st.started_at,
        finishedAt=st.finished_at,
        users=runner.user_count,
        connectedWorkers=len(runner.clients.ready) + len(runner.clients.spawning) + len(runner.clients.running)
        if isinstance(runner, MasterRunner) else 1,
        expectedWorkers=st.config.workers,
        workers={cid: worker_stats(t.index, t.snapshot, done=t.done, lost_at=t.lost_at, max_cpu=t.max_cpu,
                                   process=t.process)
                 for cid, t in st.workers.items()},
        total=st.merged,
        interval=st.config.interval,
        timeline=st.timeline.summary(),
        timelineSettled=st.timeline.settled(
            [cid for cid, t in st.workers.items() if not t.done] if st.phase == "running" else []),
        stages=st.config.stages,
    )
    if health.enabled():
        document["health"] = health.sample()
    return document


class StagesShape(LoadTestShape):
    """Users over time from `load.stages` (closed loop), after a warm-up at the first stage's users."""

    def __init__(self, schedule: Schedule, warmup: float) -> None:
        super().__init__()
        self.schedule = schedule
        self.warmup = warmup

    def tick(self) -> tuple[int, float]:
        users = max(1, round(self.schedule.value_at(self.get_run_time() - self.warmup)))
        return users, float(max(users, 1))
