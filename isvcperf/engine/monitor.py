"""Watching a run while it goes: SLOs evaluated every interval, the live view, the web UI's
SLO panel, stopping early when an `abortOnFail` SLO fails (k6's abortOnFail), and ending the
measurement when `load.until: stable`'s rule holds (results.until).

The Monitor is the runner's progress callback. Every second it computes the metrics from
the master's merged stats exactly as the final Result does (isvcperf.results.metrics.compute on
the measured window) and evaluates them with the same isvcperf.results.slo.evaluate. To stop the
run it raises StopEarly out of the callback: both runners let it propagate, and the
orchestrator then stops the processes and keeps what was measured, like an interrupt but
with the SLO as the reason. To end a `load.until: stable` measurement it returns the reason
instead: the runner asks the master to end it cleanly and follows the run to its finish.

What a person sees while the run goes (the terminal's live view) is the caller's choice:
the Monitor is handed a Display and tells it the stats and the SLOs' state, so the engine
never imports presentation.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from isvcperf.loadgen.protocol import SLO_ROUTE, StatsDocument
from isvcperf.results import llm_metrics, metrics, slo, until, validity
from isvcperf.results.metric_text import format_metric, slo_row, with_unit
from isvcperf.results.result import SLOVerdict, Validity
from isvcperf.spec import metric_names
from isvcperf.spec.model import RunSpec
from isvcperf.util.clip import clip
from isvcperf.util.durations import format_duration
from isvcperf.util.errors import CouldNotRun

WARMUP_ERROR_CHARS = 400
"""How much of the first warm-up error the one-line message quotes (head and tail: util.clip)."""
PUSH_TIMEOUT_S = 1.0
LIVE_LLM_METRICS = (*(f"llm/{kind}-p{p}" for kind in ("ttft", "tpot") for p in (50, 90, 99)),
                    "llm/output-tokens-per-second", "llm/goodput", "llm/goodput-ratio")
"""What the web UI's SLO tab shows of a generative run beside its SLOs (README: watching a run)."""
MARKS = {True: "🟢", False: "🔴"}
"""The SLO tab's colour for a held and a failing SLO (the tab shows text only)."""


class Display(Protocol):
    """What shows a run while it goes (report.live.LiveView is one): entered around the run,
    told the SLOs' current state and whether the run is stopping, then called with each stats dict."""

    slos: list[SLOVerdict]
    stopping: bool
    validity: Validity | None
    waiting: str
    """What the run waits for before it ends (load.until: stable), "" for a fixed window."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...

    def __call__(self, stats: StatsDocument) -> None: ...


DisplayFactory = Callable[[RunSpec, Callable[[str], None]], Display]
"""Makes the Display of one run from its spec and the line printer (LiveView fits)."""


Judge = Callable[[StatsDocument, float | None], Validity | None]
"""The validity checks on a run's stats so far, given where load.until: stable ended the measurement
(engine.run.validity_so_far)."""


class StopEarly(Exception):
    """An abortOnFail SLO failed during the run; `reason` says which, when and by how much."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def warmup_failure(stats: StatsDocument | None) -> CouldNotRun | None:
    """The run cannot tell anything when every warm-up request failed: the target or the payload is wrong.

    Judged once measuring has begun (the warm-up is over), so a measured run of failures is
    stopped at the next poll and never reported as a performance result.
    """
    total = stats.get("total") if stats else None
    if not total or total.get("measureStart") is None:
        return None
    sent, failed = total.get("warmupRequests", 0), total.get("warmupErrors", 0)
    if not sent or failed < sent:
        return None
    first = clip(total.get("warmupError") or "no detail", WARMUP_ERROR_CHARS)
    return CouldNotRun(f"every one of the {sent} warm-up requests failed, so nothing was measured; the first: "
                       f"{first}; fix the target or the payload")


def current_metrics(spec: RunSpec, stats: StatsDocument) -> tuple[dict[str, float], float]:
    """The run's metrics so far and the measured seconds, computed as for the final Result."""
    total = stats.get("total")
    if not total or total.get("measureStart") is None:
        return {}, 0.0
    window = metrics.window(total)
    percentiles = metrics.wanted_percentiles(spec.metrics.percentiles, list(spec.slos))
    prefix = metric_names.protocol_prefix(spec.target.protocol)
    ids = [endpoint.id for endpoint in spec.endpoints]
    values = metrics.with_endpoints(total, ids, percentiles, window, prefix)
    values.update(llm_metrics.of_total(total, spec.metrics.percentiles, list(spec.slos), window))
    return values, window


class Snapshot(NamedTuple):
    """A run so far: its metrics, measured seconds, SLO verdicts and validity (None before any request measured)."""

    values: dict[str, float]
    window: float
    verdicts: list[SLOVerdict]
    validity: Validity | None


def snapshot(spec: RunSpec, stats: StatsDocument, judge: Judge | None = None,
             stable_at: float | None = None) -> Snapshot:
    """Evaluate the stats so far as the final Result will be: for the Monitor of `isvcperf run`
    and for a plain Locust master that fills its own web UI tab (loadgen.standalone)."""
    values, window = current_metrics(spec, stats)
    if not values:
        return Snapshot(values, window, [], None)
    # before the first answer (a slow model's first second) the run is not yet judged, not invalid
    judged = judge is not None and not validity.nothing_measured(spec, values)
    return Snapshot(values, window, slo.evaluate(spec.slos, values), judge(stats, stable_at) if judged else None)


class Monitor:
    """The progress callback of a run: evaluate, show, publish to the UI, maybe stop."""

    def __init__(self, spec: RunSpec, live: Display, ui_url: str | None = None,
                 judge: Judge | None = None) -> None:
        self.spec = spec
        self.live = live
        self.ui_url = ui_url.rstrip("/") + SLO_ROUTE if ui_url else None
        self.verdicts: list[SLOVerdict] = []
        self.judge = judge
        """The validity checks on the stats so far and load.until's `stable_at` (engine.run), shown first in
        the live view and the UI tab."""
        self.validity: Validity | None = None
        self.stable_at: float | None = None
        """load.until: stable: where the windows the rule passed on end (seconds of measuring), once it has."""

    def __enter__(self) -> Monitor:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)

    def __call__(self, stats: StatsDocument) -> str | None:
        """Evaluate and show `stats`; return why the measurement should end now (load.until), else None."""
        failure = warmup_failure(stats)
        if failure is not None:
            raise failure
        ending = self._until(stats)
        now = snapshot(self.spec, stats, self.judge, self.stable_at)
        self.verdicts = now.verdicts
        self.validity = self.live.validity = now.validity
        if self.ui_url is not None:
            self._push(now.verdicts, now.values, stats)
        reason = self.abort_reason(stats, now.window)
        self.live.slos = self.verdicts
        self.live.stopping = reason is not None or self.stable_at is not None
        self.live(stats)
        if reason is not None:
            raise StopEarly(reason)
        return ending

    def _until(self, stats: StatsDocument) -> str | None:
        """load.until: stable: once the rule holds on the complete intervals, the reason to end (once)."""
        if self.spec.load.until != "stable" or self.stable_at is not None or stats.get("phase") != "running":
            return None
        progress = until.judge_live(self.spec, stats)
        self.live.waiting = progress.waiting
        if not progress.stable:
            return None
        self.stable_at = progress.at
        self.live.waiting = f"stable after {format_duration(round(progress.at, 3))}: ending the measurement"
        return self.live.waiting

    def abort_reason(self, stats: StatsDocument, window: float) -> str | None:
        """Why the run must stop now, or None: the first abortOnFail SLO that fails past its grace period.

        A metric not measured yet (no successful response so far) does not abort: it may come.
        """
        if stats.get("phase") != "running":
            return None
        start = stats["total"].get("measureStart")
        measured = time.time() - start if start else 0.0
        for verdict in self.verdicts:
            rule = self.spec.slos[verdict.metric]
            if not rule.abort_on_fail or verdict.satisfied or verdict.value is None:
                continue
            if measured < rule.grace_period:
                continue
            row = slo_row(verdict)
            grace = f", grace period {format_duration(rule.grace_period)}" if rule.grace_period else ""
            return (f"stopped early after {measured:.1f}s of measuring: SLO {verdict.metric} was {row.value}, "
                    f"limit {row.limit} (abortOnFail{grace})")
        return None

    def _push(self, verdicts: list[SLOVerdict], values: dict[str, float], stats: StatsDocument) -> None:
        """Best effort: the web UI's SLO panel shows what was pushed last (panel_rows)."""
        body = panel_rows(self.spec, verdicts, values, stats, self.validity)
        request = urllib.request.Request(self.ui_url or "", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=PUSH_TIMEOUT_S) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError):
            pass


def panel_rows(spec: RunSpec, verdicts: list[SLOVerdict], values: dict[str, float],
               stats: StatsDocument, validity: Validity | None = None) -> list[dict[str, str]]:
    """The web UI's SLO tab: first the validity so far (when judged: the failed checks, or that
    all hold), then the SLOs (with a coloured mark before the state, since the tab shows text
    only), a generative run's TTFT, TPOT, tokens/s and goodput that no SLO already shows, and
    the warm-up requests, which Locust's own statistics leave out (loadgen.ticket_user)."""
    rows = [slo_row(verdict) for verdict in verdicts]
    failed = [check.name for check in validity.failed] if validity else []
    body = [{"metric": "validity (so far)", "limit": "every check holds", "value": ", ".join(failed) or "all checks hold",
             "margin": "", "mark": MARKS[not failed], "state": "INVALID" if failed else "valid", "abort": ""}
            ] if validity else []
    body += [
        {"metric": row.metric, "limit": row.limit, "value": row.value, "margin": row.margin,
         "mark": MARKS[row.satisfied], "state": "ok" if row.satisfied else "FAILING",
         "abort": "yes" if spec.slos[row.metric].abort_on_fail else "no"}
        for row in rows
    ]
    body += [{"metric": name, "limit": "", "value": with_unit(format_metric(name, values[name]), metric_names.unit(name)),
              "margin": "", "state": "measured", "abort": ""}
             for name in LIVE_LLM_METRICS if name in values and name not in spec.slos]
    warmup = (stats.get("total") or {}).get("warmupRequests")
    if warmup:
        body.append({"metric": "warm-up requests", "limit": "", "value": str(warmup), "margin": "",
                     "state": "not measured", "abort": ""})
    return body
