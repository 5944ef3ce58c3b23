"""Compare two runs: is the candidate (a new model version, a new node type) as fast as the base?

Every metric of both results is set side by side with its absolute and relative change.
A change counts as a regression when it goes the bad way for that metric (latency and
errors up, throughput down) by more than its tolerance *after the sampling noise of both
runs is allowed for* (results.noise), and, for latencies, by more than an absolute floor;
SLOs that held for the base and fail for the candidate are regressions too. Tolerances
have defaults and are set per metric, or per glob of metrics, with `--max-regression
METRIC=10%` (relative) or `METRIC=5` (absolute, in the metric's unit). Percentiles above
p99 and max rest on a handful of requests: reported, judged only when asked for.

Two runs at different loads are not comparable (latency rises with load); load_changes
names what differs, for the command to refuse or warn.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from typing import Literal

from isvcperf.results.noise import spread
from isvcperf.results.result import Result
from isvcperf.spec import metric_names
from isvcperf.util.errors import SpecError

Direction = Literal["lower", "higher", "neutral"]
"""Which way is better for a metric."""


@dataclass(frozen=True)
class Tolerance:
    """How much worse a metric may get: `relative` (a fraction of the base) or absolute."""

    pattern: str
    amount: float
    relative: bool

    def allows(self, base: float, change: float) -> bool:
        """`change` is how much worse (≥ 0 means worse) the candidate is than `base`."""
        if self.relative:
            if base == 0:
                return change <= 0
            return change <= self.amount * abs(base)
        return change <= self.amount

    def __str__(self) -> str:
        return f"{self.amount * 100:g}%" if self.relative else f"{self.amount:g}"


DEFAULT_TOLERANCES = (
    Tolerance("*/latency-mean", 0.10, True),
    Tolerance("*/latency-p*", 0.10, True),
    Tolerance("*/throughput", 0.10, True),
    Tolerance("*/error-rate", 0.001, False),
    Tolerance("llm/*-mean", 0.10, True),
    Tolerance("llm/*-p*", 0.10, True),
    Tolerance("llm/*-per-second", 0.10, True),
    Tolerance("llm/request-throughput", 0.10, True),
    Tolerance("llm/goodput", 0.10, True),
    Tolerance("llm/goodput-ratio", 0.05, False),
)
"""Latency (mean and percentiles; TTFT, ITL, TPOT, E2E too) 10% up, throughput (requests, tokens,
goodput) 10% down, error rate 0.1 points and the good share 5 points down. min, max and
stddev are too noisy to judge a run by; counts, and the token lengths a workload sets, are
not better either way (direction neutral, so the `llm/*-p*` glob never judges them)."""
_LLM_HIGHER = ("request-throughput", "output-tokens-per-second", "total-tokens-per-second", "goodput", "goodput-ratio")
_LLM_TIMES = ("ttft-", "itl-", "tpot-", "e2e-")

LATENCY_FLOOR_MS = 0.5
"""A latency that got worse by less than this is never a regression: timer and scheduler jitter."""
JUDGED_UP_TO = 99.0
"""By default percentiles above this (p99.9) are reported, not judged: too few requests reach them."""
LOAD_KEYS = ("users", "rate", "arrivals", "stages")
"""What sets the load level; duration, request count and worker count only change how long or how."""

_TOLERANCE = re.compile(r"^(?P<pattern>[^=\s]+)=(?P<amount>\d+(?:\.\d+)?)(?P<pct>%?)$")


@dataclass
class MetricDelta:
    metric: str
    base: float | None
    candidate: float | None
    direction: Direction
    tolerance: Tolerance | None
    regressed: bool
    noise: float = 0.0
    """How much of a worsening the two runs' sampling noise explains (95%), in the metric's unit."""

    @property
    def change(self) -> float | None:
        if self.base is None or self.candidate is None:
            return None
        return self.candidate - self.base

    @property
    def relative(self) -> float | None:
        change = self.change
        if change is None or self.base in (None, 0):
            return None
        return change / abs(self.base)  # type: ignore[arg-type]


@dataclass
class SLODelta:
    metric: str
    base: bool | None
    """None when the base run had no such SLO."""
    candidate: bool | None
    regressed: bool


@dataclass
class Comparison:
    base: Result
    candidate: Result
    metrics: list[MetricDelta] = field(default_factory=list)
    slos: list[SLODelta] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    allow_invalid: bool = False
    """Judge regressions even between invalid measurements (--allow-invalid)."""

    @property
    def regressed(self) -> bool:
        """Whether any metric got worse beyond its tolerance or any SLO stopped holding."""
        return any(s.regressed for s in self.slos) or any(d.regressed for d in self.metrics)

    @property
    def invalid(self) -> list[str]:
        """Each run whose measurement is invalid, with the checks it failed: no regression (nor its
        absence) can be called on figures nobody can stand behind."""
        return [f"the {role} run is invalid ({', '.join(c.name for c in run.validity.failed)})"
                for role, run in (("base", self.base), ("candidate", self.candidate))
                if run.validity is not None and not run.valid]

    @property
    def verdict(self) -> str:
        """`invalid` (no verdict), `regressed` or `no regression`."""
        if self.invalid and not self.allow_invalid:
            return "invalid"
        return "regressed" if self.regressed else "no regression"


def parse_tolerances(texts: list[str]) -> list[Tolerance]:
    """`--max-regression` values: `http/latency-p99=10%`, `http/error-rate=0.001`, `http/latency-*=15%`."""
    tolerances = []
    for text in texts:
        match = _TOLERANCE.match(text.strip())
        if not match:
            raise SpecError("--max-regression", f"{text!r} is not METRIC=AMOUNT (e.g. http/latency-p99=10% or "
                            "http/error-rate=0.001)")
        pattern = metric_names.canonical(match["pattern"])
        if "*" not in pattern and "?" not in pattern and metric_names.check(pattern):
            raise SpecError("--max-regression", f"{text!r}: {metric_names.check(pattern)}")
        amount = float(match["amount"])
        tolerances.append(Tolerance(pattern, amount / 100 if match["pct"] else amount, bool(match["pct"])))
    return tolerances


def direction(metric: str) -> Direction:
    """Higher is better for throughput (llm/: requests, tokens/s, goodput), lower for latencies
    (service time and send lateness too; llm/: TTFT, ITL, TPOT, E2E) and errors; counts and token
    lengths are neither."""
    prefix, _, name = metric.partition("/")
    if name == "throughput" or (prefix == metric_names.LLM and name in _LLM_HIGHER):
        return "higher"
    if name in ("error-rate", "error-count") or name.startswith(("latency-", "service-time-", "send-lateness-")):
        return "lower"
    if prefix == metric_names.LLM and name.startswith(_LLM_TIMES):
        return "lower"
    return "neutral"


def tolerance_for(metric: str, given: list[Tolerance]) -> Tolerance | None:
    """The last matching tolerance given on the command line, else the first matching default."""
    for tolerance in reversed(given):
        if fnmatch.fnmatchcase(metric, tolerance.pattern):
            return tolerance
    prefix, _, name = metric.partition("/")
    pct = metric_names.percentile_of(name) if prefix != metric_names.LLM else metric_names.llm_percentile_of(name)
    if pct is not None and pct > JUDGED_UP_TO:
        return None
    return next((t for t in DEFAULT_TOLERANCES if fnmatch.fnmatchcase(metric, t.pattern)), None)


def compare(base: Result, candidate: Result, tolerances: list[Tolerance] | None = None) -> Comparison:
    """Every metric and SLO of either run, side by side, with regressions judged."""
    given = tolerances or []
    comparison = Comparison(base, candidate)
    for name in sorted(set(base.metrics) | set(candidate.metrics), key=metric_names.order):
        old, new = base.metrics.get(name), candidate.metrics.get(name)
        way = direction(name)
        tolerance = tolerance_for(name, given) if way != "neutral" else None
        explicit = any(fnmatch.fnmatchcase(name, t.pattern) for t in given)
        noise = _noise(base, candidate, name, way)
        comparison.metrics.append(MetricDelta(name, old, new, way, tolerance,
                                              _regressed(name, old, new, way, tolerance, explicit, noise), noise))
    base_slos = {v.metric: v.satisfied for v in base.slos}
    candidate_slos = {v.metric: v.satisfied for v in candidate.slos}
    for name in dict.fromkeys([*base_slos, *candidate_slos]):
        old_ok, new_ok = base_slos.get(name), candidate_slos.get(name)
        comparison.slos.append(SLODelta(name, old_ok, new_ok, regressed=old_ok is True and new_ok is False))
    return comparison


def load_changes(base: Result, candidate: Result) -> list[str]:
    """What differs between the loads the two runs applied (`users 4 → 8`); empty when they match."""
    return [f"{key} {_shown(base.load.get(key))} → {_shown(candidate.load.get(key))}" for key in LOAD_KEYS
            if base.load.get(key) != candidate.load.get(key)]


def _shown(value: object) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _noise(base: Result, candidate: Result, metric: str, way: Direction) -> float:
    """The combined 95% half-widths in the direction of a worsening: for a latency the base's upward
    (it may really be higher) and the candidate's downward (it may really be lower)."""
    (base_low, base_high), (candidate_low, candidate_high) = spread(base, metric), spread(candidate, metric)
    return math.hypot(base_high, candidate_low) if way == "lower" else math.hypot(base_low, candidate_high)


def _regressed(metric: str, old: float | None, new: float | None, way: Direction, tolerance: Tolerance | None,
               explicit: bool, noise: float) -> bool:
    if tolerance is None:
        return False
    if old is None or new is None or not (math.isfinite(old) and math.isfinite(new)):
        # Only a tolerance the user asked for makes a metric that vanished a regression.
        return explicit and old is not None
    worse = new - old if way == "lower" else old - new
    if metric_names.unit(metric) == "ms" and worse < LATENCY_FLOOR_MS:
        return False
    return not tolerance.allows(old, worse - noise)
