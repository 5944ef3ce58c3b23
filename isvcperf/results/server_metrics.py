"""The model server's own Prometheus metrics, read before, during and after a run.

The client's latency holds the network, the server's queue and the model; the server's
own histogram holds only what happens inside it. Side by side, their difference tells the
network and client overhead from server time, and the server's request count tells
whether every request the generator sent arrived (a mismatch is flagged).

What a runtime exports differs, so each known runtime has a Profile naming its inference
request counter, its latency histogram and the parts it times (queue, inference). The
readings come either from the server's metrics endpoint (parsed with prometheus_client's
text parser) or from an existing Prometheus (`server.prometheus` + a selector, read through
the query API). Either way a Reading is the counters' totals at one moment; the server
view is the difference between the reading taken once the target was ready (after the
readiness probes) and the one taken after the run, so it counts measured and warm-up
requests, never the probes.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from isvcperf.spec.model import Server
from isvcperf.util.env import expand_env

FETCH_TIMEOUT = 10.0
SETTLE_TIMEOUT = 60.0
"""Through Prometheus: how long to wait after the run for a scrape of the server newer than the run's end."""

Labels = dict[str, str]
Sample = tuple[str, Labels, float]


@dataclass(frozen=True)
class Family:
    """Samples named `name` whose labels fully match the regular expressions in `match`."""

    name: str
    match: tuple[tuple[str, str], ...] = ()

    def picks(self, name: str, labels: Labels) -> bool:
        return name == self.name and all(re.fullmatch(rx, labels.get(key, "")) for key, rx in self.match)

    def suffixed(self, suffix: str) -> Family:
        return Family(self.name + suffix, self.match)


@dataclass(frozen=True)
class Profile:
    """Where one runtime keeps its request count, its latency histogram and the parts it times."""

    runtime: str
    requests: tuple[Family, ...]
    """Counters summed: requests the server handled, whatever their status."""
    latency: Family | None
    """A histogram's base name: the request's time inside the server."""
    parts: tuple[tuple[str, Family], ...] = ()
    """Histograms or summaries (base names): their mean time is shown."""


_INFER = (("path", ".*/infer"),)
PROFILES = {
    "mlserver": Profile(
        "mlserver",
        requests=(Family("rest_server_requests_total", _INFER),
                  Family("grpc_server_handled_total", (("grpc_method", "ModelInfer"),))),
        latency=Family("rest_server_request_duration_seconds", _INFER),
        parts=(("inference", Family("model_infer_request_duration")),)),
    "kserve": Profile(
        "kserve", requests=(Family("request_predict_seconds_count"),), latency=Family("request_predict_seconds"),
        parts=(("preprocess", Family("request_preprocess_seconds")),
               ("postprocess", Family("request_postprocess_seconds")))),
    "vllm": Profile(
        "vllm", requests=(Family("vllm:request_success_total"),), latency=Family("vllm:e2e_request_latency_seconds"),
        parts=(("queue", Family("vllm:request_queue_time_seconds")),
               ("inference", Family("vllm:request_inference_time_seconds")),
               ("first token", Family("vllm:time_to_first_token_seconds")))),
}


@dataclass
class Reading:
    """A profile's totals at one moment."""

    at: float
    requests: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    """Upper bound in seconds (math.inf for +Inf) → cumulative count, summed over the matching series."""
    latency_sum: float = 0.0
    parts: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Part → (sum in seconds, count)."""


def read(profile: Profile, samples: list[Sample], at: float) -> Reading:
    reading = Reading(at=at)
    for name, labels, value in samples:
        if any(f.picks(name, labels) for f in profile.requests):
            reading.requests += value
        latency = profile.latency
        if latency is not None:
            if latency.suffixed("_bucket").picks(name, labels):
                le = float(labels.get("le", "inf"))
                reading.buckets[le] = reading.buckets.get(le, 0.0) + value
            elif latency.suffixed("_sum").picks(name, labels):
                reading.latency_sum += value
        for part, family in profile.parts:
            for i, suffix in enumerate(("_sum", "_count")):
                if family.suffixed(suffix).picks(name, labels):
                    totals = list(reading.parts.get(part, (0.0, 0.0)))
                    totals[i] += value
                    reading.parts[part] = (totals[0], totals[1])
    return reading


def recognise(samples: list[Sample]) -> Profile | None:
    """The runtime whose request counter is among `samples`."""
    names = {name for name, _labels, _value in samples}
    for profile in PROFILES.values():
        if any(f.name in names for f in profile.requests):
            return profile
    return None


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' histogram_quantile over cumulative buckets (linear within a bucket), in seconds."""
    bounds = sorted(buckets)
    total = buckets.get(math.inf, buckets[bounds[-1]] if bounds else 0.0)
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # in the open top bucket: its lower bound, as Prometheus does
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = bound, count
    return lower


# -- where readings come from -----------------------------------------------------------


def _get(url: str, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "isvcperf", **headers})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
        return bytes(response.read())


class Scrape:
    """The server's metrics endpoint, parsed."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers
        self.source = url

    def samples(self, profile: Profile | None, at: float) -> list[Sample]:
        text = _get(self.url, self.headers).decode("utf-8", "replace")
        return [(s.name, dict(s.labels), float(s.value))
                for family in text_string_to_metric_families(text) for s in family.samples]


class PrometheusQuery:
    """An existing Prometheus holding the server's series, read with instant queries."""

    def __init__(self, base: str, selector: str, headers: dict[str, str]) -> None:
        self.base, self.headers = base.rstrip("/"), headers
        self.matchers = selector.strip()[1:-1].strip()
        self.source = f"{base} {selector.strip()}"

    def query(self, promql: str, at: float) -> list[dict[str, object]]:
        url = f"{self.base}/api/v1/query?" + urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
        data = json.loads(_get(url, self.headers))
        if data.get("status") != "success":
            raise OSError(f"Prometheus answered {data.get('error') or data.get('status')}")
        return list(data["data"]["result"])

    def _names(self, profile: Profile | None) -> list[str]:
        profiles = [profile] if profile is not None else list(PROFILES.values())
        names = []
        for p in profiles:
            names += [f.name for f in p.requests]
            if p.latency is not None:
                names += [p.latency.name + s for s in ("_bucket", "_sum")]
            names += [f.name + s for _part, f in p.parts for s in ("_sum", "_count")]
        return names

    def selector(self, names: list[str]) -> str:
        joined = "|".join(re.escape(n) for n in names)
        return "{" + f'__name__=~"{joined}"' + (f", {self.matchers}" if self.matchers else "") + "}"

    def samples(self, profile: Profile | None, at: float) -> list[Sample]:
        out: list[Sample] = []
        for row in self.query(self.selector(self._names(profile)), at):
            labels = {str(k): str(v) for k, v in dict(row["metric"]).items()}  # type: ignore[call-overload]
            name = labels.pop("__name__")
            out.append((name, labels, float(row["value"][1])))  # type: ignore[index]
        return out

    def settle(self, profile: Profile, end: float) -> bool:
        """Wait until Prometheus holds a scrape of the server newer than `end`; False when it never came."""
        promql = f"max(timestamp({self.selector([f.name for f in profile.requests])}))"
        deadline = time.time() + SETTLE_TIMEOUT
        while time.time() < deadline:
            rows = self.query(promql, time.time())
            if rows and float(rows[0]["value"][1]) >= end:  # type: ignore[index]
                return True
            time.sleep(1.0)
        return False


def source_for(server: Server) -> Scrape | PrometheusQuery:
    """Where the readings come from: the resolved metricsUrl, or a Prometheus queried with the selector."""
    headers = {k: expand_env(v, f"server.headers.{k}") for k, v in server.headers.items()}
    if server.prometheus:
        return PrometheusQuery(server.prometheus, server.selector, headers)
    assert server.metrics_url is not None, "validated: metricsUrl, a runtime or prometheus; resolved: metricsUrl"
    return Scrape(server.metrics_url, headers)
