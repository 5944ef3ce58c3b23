"""The live view of a run in the terminal.

It takes the same stats the runner hands its progress callback every second (the master's
`/isvcperf/stats`): on a terminal a `rich` panel redrawn in place — phase, elapsed and
remaining, throughput, p50/p90/p99, errors, users and workers, and the SLOs' current state
— and otherwise (CI logs, pipes) one plain line every few seconds. A generative run
(protocol openai: the stats' total carries `llm`) shows TTFT and TPOT p50/p90/p99, output
tokens/s and the good share too, computed by the same results.llm_metrics as the report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from isvcperf.loadgen.protocol import StatsDocument
from isvcperf.results import llm_metrics, metrics
from isvcperf.results.result import SLOVerdict, Validity
from isvcperf.spec import metric_names
from isvcperf.spec.model import RunSpec
from isvcperf.util.durations import format_duration

PLAIN_EVERY_S = 5.0
PERCENTILES = (50.0, 90.0, 99.0)


@dataclass
class Snapshot:
    """What the view shows, computed from one stats dict (pure, so it is tested without a terminal)."""

    phase: str
    elapsed: float
    remaining: float | None
    requests: int
    errors: int
    throughput: float
    percentiles: dict[float, float | None]
    users: int
    workers: int
    expected_workers: int | None
    llm: dict[str, float] = field(default_factory=dict)
    """A generative run's `llm/` metrics so far (empty otherwise)."""

    def llm_ms(self, kind: str, pct: float) -> float | None:
        return self.llm.get(f"llm/{kind}-p{pct:g}")


def snapshot(spec: RunSpec, stats: StatsDocument, now: float | None = None, stopping: bool = False) -> Snapshot:
    total = stats.get("total", {})
    start = total.get("measureStart")
    elapsed = max(0.0, (now or time.time()) - start) if start else 0.0
    prefix = metric_names.protocol_prefix(spec.target.protocol)
    values = metrics.compute(total, list(PERCENTILES), elapsed, prefix) if total else {}
    throughput = values.get(f"{prefix}/throughput", 0.0)
    phase = {"waiting": "waiting for workers", "finished": "stopping"}.get(stats.get("phase", ""), "measuring")
    if phase == "measuring" and not start:
        phase = "warming up"
    if stopping:
        phase = "stopping"
    requests = int(total.get("requests", 0))
    remaining = None
    if start and spec.load.duration is not None:
        remaining = max(0.0, spec.load.duration - elapsed)
    elif start and spec.load.requests is not None and throughput > 0:
        remaining = max(0, spec.load.requests - requests) / (requests / elapsed if elapsed else throughput)
    return Snapshot(
        phase=phase,
        elapsed=elapsed,
        remaining=remaining,
        requests=requests,
        errors=int(total.get("errors", 0)),
        throughput=throughput,
        percentiles={p: values.get(metric_names.full_name(prefix, metric_names.percentile_name(p))) for p in PERCENTILES},
        users=int(stats.get("users", 0)),
        workers=int(stats.get("connectedWorkers", 0)),
        expected_workers=stats.get("expectedWorkers"),
        llm=llm_metrics.compute(total["llm"], list(PERCENTILES), elapsed) if total.get("llm") else {},
    )


def plain_line(snap: Snapshot) -> str:
    """One line for logs: `[measuring] 12s (8s left)  1204 requests  98.1 req/s  p50 ... errors  users on workers`;
    a generative run's has TTFT and TPOT p50/p90/p99, tokens/s and the good share where the
    request latencies were (those are the whole answer's, close to E2E)."""
    left = f" ({format_duration(round(snap.remaining))} left)" if snap.remaining is not None and snap.remaining >= 1 else ""
    if snap.llm:
        latency = "  ".join(f"{kind.upper()} p50/p90/p99 " + "/".join(
            "-" if v is None else f"{v:.2f}" for v in (snap.llm_ms(kind, p) for p in PERCENTILES)) + " ms"
            for kind in ("ttft", "tpot"))
        latency += f"  {_tokens(snap)} tokens/s" + (f"  {_good(snap)} good" if _good(snap) != "-" else "")
    else:
        latency = "  ".join(f"p{p:g} {_ms(v)}" for p, v in snap.percentiles.items())
    return (f"  [{snap.phase}] {snap.elapsed:.0f}s{left}  {snap.requests} requests  {snap.throughput:.1f} req/s  "
            f"{latency}  {snap.errors} errors  {snap.users} users on {snap.workers} workers")


def validity_text(validity: Validity) -> Text:
    """`validity so far: valid`, or which checks fail: shown before the figures they qualify."""
    failed = [check.name for check in validity.failed]
    if not failed:
        return Text.assemble("validity so far: ", ("valid", "green"))
    return Text.assemble("validity so far: ", (f"INVALID ({', '.join(failed)})", "bold red"))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def _tokens(snap: Snapshot) -> str:
    return f"{snap.llm.get('llm/output-tokens-per-second', 0.0):.1f}"


def _good(snap: Snapshot) -> str:
    """The share of requests so far within every goodput limit, `-` before the first answer."""
    good = snap.llm.get("llm/goodput-ratio")
    return "-" if good is None or not snap.llm.get("llm/request-count") else f"{100 * good:.1f}%"


class LiveView:
    """The progress callback: a rich live panel on a terminal, plain lines elsewhere.

    Use as a context manager around the runner, so the panel is torn down (and the
    terminal left clean for the report) however the run ends.
    """

    def __init__(self, spec: RunSpec, echo: Callable[[str], None] = print, stream: TextIO | None = None,
                 terminal: bool | None = None) -> None:
        self.spec = spec
        self.echo = echo
        stream = stream or sys.stdout
        self.terminal = stream.isatty() if terminal is None else terminal
        self.console = Console(file=stream, force_terminal=self.terminal, highlight=False)
        self._live: Live | None = None
        self._last_plain = 0.0
        self.slos: list[SLOVerdict] = []
        self.stopping = False
        self.validity: Validity | None = None
        self.waiting = ""
        """What the run waits for before it ends (load.until: stable): shown after the progress."""

    def __enter__(self) -> LiveView:
        if self.terminal:
            self._live = Live(Text("starting Locust…"), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def __call__(self, stats: StatsDocument) -> None:
        snap = snapshot(self.spec, stats, stopping=self.stopping)
        if self._live is not None:
            self._live.update(self.panel(snap))
            return
        now = time.monotonic()
        if now - self._last_plain >= PLAIN_EVERY_S or stats.get("phase") == "finished" or self.stopping:
            self._last_plain = now
            self.echo(plain_line(snap) + (f"  {validity_text(self.validity)}" if self.validity else "")
                      + (f"  {self.waiting}" if self.waiting else ""))

    def panel(self, snap: Snapshot) -> Group:
        """The terminal panel: a header line, a figures table and the SLOs' current state."""
        left = f", {format_duration(round(snap.remaining))} left" if snap.remaining is not None else ""
        workers = f"{snap.workers}" + (f"/{snap.expected_workers}" if snap.expected_workers else "")
        header = Text.assemble((f"isvcperf {self.spec.name}", "bold"), "  ", (snap.phase, "bold cyan"),
                               f"  {format_duration(round(snap.elapsed)) if snap.elapsed >= 1 else '0s'} measured{left}")
        figures = Table.grid(padding=(0, 3))
        for _ in range(4):
            figures.add_column(justify="right")
        figures.add_row("throughput", f"{snap.throughput:.1f} req/s", "requests", str(snap.requests))
        figures.add_row("p50", _ms(snap.percentiles[50.0]), "errors",
                        Text(str(snap.errors), style="bold red" if snap.errors else ""))
        figures.add_row("p90", _ms(snap.percentiles[90.0]), "users", str(snap.users))
        figures.add_row("p99", _ms(snap.percentiles[99.0]), "workers", workers)
        if snap.llm:
            for pct in PERCENTILES:
                figures.add_row(f"TTFT p{pct:g}", _ms(snap.llm_ms("ttft", pct)), f"TPOT p{pct:g}",
                                _ms(snap.llm_ms("tpot", pct)))
            figures.add_row("tokens/s", _tokens(snap), "good", _good(snap))
        parts: list[Any] = [header, validity_text(self.validity), figures] if self.validity else [header, figures]
        if self.waiting:
            parts.insert(1, Text(self.waiting, style="cyan"))
        if self.slos:
            slo_table = Table("SLO", "value", "limit", "", box=None, padding=(0, 2))
            for verdict in self.slos:
                limit = " and ".join(filter(None, [f"≥ {verdict.lower:g}" if verdict.lower is not None else "",
                                                   f"≤ {verdict.upper:g}" if verdict.upper is not None else ""]))
                value = "-" if verdict.value is None else f"{verdict.value:.4g}"
                state = Text("ok", style="green") if verdict.satisfied else Text("failing", style="bold red")
                slo_table.add_row(verdict.metric, value, limit, state)
            parts.append(slo_table)
        return Group(*parts)
