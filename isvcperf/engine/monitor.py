"""Watching a run while it goes: SLOs evaluated every interval, the live view, the web UI's
SLO panel, and stopping early when an `abortOnFail` SLO fails (k6's abortOnFail).

The Monitor is the runner's progress callback. Every second it computes the metrics from
the master's merged stats exactly as the final Result does (isvcperf.results.metrics.compute on
the measured window) and evaluates them with the same isvcperf.results.slo.evaluate. To stop the
run it raises StopEarly out of the callback: both runners let it propagate, and the
orchestrator then stops the processes and keeps what was measured, like an interrupt but
with the SLO as the reason.

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
from typing import Any, Protocol

from isvcperf.results import llm_metrics, metrics, slo
from isvcperf.results.metric_text import format_metric, slo_row, with_unit
from isvcperf.results.result import SLOVerdict, Validity
from isvcperf.spec import metric_names
from isvcperf.spec.model import RunSpec
from isvcperf.util.durations import format_duration

SLO_ROUTE = "isvcperf/slos"
PUSH_TIMEOUT_S = 1.0
LIVE_LLM_METRICS = (*(f"llm/{kind}-p{p}" for kind in ("ttft", "tpot") for p in (50, 90, 99)),
                    "llm/output-tokens-per-second", "llm/goodput", "llm/goodput-ratio")
"""What the web UI's SLO tab shows of a generative run beside its SLOs (README: watching a run)."""


class Display(Protocol):
    """What shows a run while it goes (report.live.LiveView is one): entered around the run,
    told the SLOs' current state and whether the run is stopping, then called with each stats dict."""

    slos: list[SLOVerdict]
    stopping: bool
    validity: Validity | None

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...

    def __call__(self, stats: dict[str, Any]) -> None: ...


DisplayFactory = Callable[[RunSpec, Callable[[str], None]], Display]
"""Makes the Display of one run from its spec and the line printer (LiveView fits)."""


class StopEarly(Exception):
    """An abortOnFail SLO failed during the run; `reason` says which, when and by how much."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def current_metrics(spec: RunSpec, stats: dict[str, Any]) -> tuple[dict[str, float], float]:
    """The run's metrics so far and the measured seconds, computed as for the final Result."""
    total = stats.get("total") or {}
    start, end = total.get("measureStart"), total.get("measureEnd")
    window = (end - start) if start is not None and end is not None and end > start else 0.0
    if not total or start is None:
        return {}, 0.0
    percentiles = metrics.wanted_percentiles(spec.metrics.percentiles, list(spec.slos))
    prefix = metric_names.protocol_prefix(spec.target.protocol)
    ids = [endpoint.id for endpoint in spec.endpoints]
    values = metrics.with_endpoints(total, ids, percentiles, window, prefix)
    values.update(llm_metrics.of_total(total, spec.metrics.percentiles, list(spec.slos), window))
    return values, window


class Monitor:
    """The progress callback of a run: evaluate, show, publish to the UI, maybe stop."""

    def __init__(self, spec: RunSpec, live: Display, ui_url: str | None = None,
                 judge: Callable[[dict[str, Any]], Validity | None] | None = None) -> None:
        self.spec = spec
        self.live = live
        self.ui_url = ui_url.rstrip("/") + "/" + SLO_ROUTE if ui_url else None
        self.verdicts: list[SLOVerdict] = []
        self.judge = judge
        """The validity checks on the stats so far (engine.run), shown first in the live view and the UI tab."""
        self.validity: Validity | None = None

    def __enter__(self) -> Monitor:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)

    def __call__(self, stats: dict[str, Any]) -> None:
        values, window = current_metrics(self.spec, stats)
        self.verdicts = slo.evaluate(self.spec.slos, values) if values else []
        self.validity = self.live.validity = self.judge(stats) if self.judge and values else None
        if self.ui_url is not None:
            self._push(self.verdicts, values)
        reason = self.abort_reason(stats, window)
        self.live.slos = self.verdicts
        self.live.stopping = reason is not None
        self.live(stats)
        if reason is not None:
            raise StopEarly(reason)

    def abort_reason(self, stats: dict[str, Any], window: float) -> str | None:
        """Why the run must stop now, or None: the first abortOnFail SLO that fails past its grace period.

        A metric not measured yet (no successful response so far) does not abort: it may come.
        """
        if stats.get("phase") != "running":
            return None
        start = (stats.get("total") or {}).get("measureStart")
        measured = time.time() - start if start else 0.0
        for verdict in self.verdicts:
            rule = self.spec.slos[verdict.metric]
            if not rule.abort_on_fail or verdict.satisfied or verdict.value is None:
                continue
            if measured < (rule.grace_period or 0.0):
                continue
            row = slo_row(verdict)
            grace = f", grace period {format_duration(rule.grace_period)}" if rule.grace_period else ""
            return (f"stopped early after {measured:.1f}s of measuring: SLO {verdict.metric} was {row.value}, "
                    f"limit {row.limit} (abortOnFail{grace})")
        return None

    def _push(self, verdicts: list[SLOVerdict], values: dict[str, float]) -> None:
        """Best effort: the web UI's SLO panel shows what was pushed last: the SLOs, then a
        generative run's TTFT, TPOT, tokens/s and goodput that no SLO already shows."""
        rows = [slo_row(verdict) for verdict in verdicts]
        failed = [check.name for check in self.validity.failed] if self.validity else []
        body = [{"metric": "validity (so far)", "limit": "every check holds", "margin": "", "abort": "",
                 "value": ", ".join(failed) or "all checks hold", "state": "INVALID" if failed else "valid"}
                ] if self.validity else []
        body += [
            {"metric": row.metric, "limit": row.limit, "value": row.value, "margin": row.margin,
             "state": "ok" if row.satisfied else "FAILING",
             "abort": "yes" if self.spec.slos[row.metric].abort_on_fail else ""}
            for row in rows
        ]
        body += [{"metric": name, "limit": "", "value": with_unit(format_metric(name, values[name]), metric_names.unit(name)),
                  "margin": "", "state": "measured", "abort": ""}
                 for name in LIVE_LLM_METRICS if name in values and name not in self.spec.slos]
        request = urllib.request.Request(self.ui_url or "", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=PUSH_TIMEOUT_S) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError):
            pass
