"""Prometheus remote write: the master's series pushed to a receiver, for runs too short to scrape.

A remote-write request is a protobuf WriteRequest (prometheus_remote.proto, the upstream
field numbers), compressed with snappy's block format, POSTed with the headers the
protocol requires. Samples come from prometheus_client's own collection (the Metric
families the /metrics route serves), so a pushed series is the scraped series, sample for
sample, with one timestamp per push.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable

import cramjam
from prometheus_client.metrics_core import Metric

from isvcperf.outputs.prometheus_remote_pb2 import WriteRequest

TIMEOUT_S = 10.0
HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "isvcperf",
}


def encode(families: Iterable[Metric], timestamp_s: float) -> bytes:
    """A snappy-compressed WriteRequest holding every sample of `families` at `timestamp_s`."""
    request = WriteRequest()
    millis = round(timestamp_s * 1000)
    for family in families:
        for sample in family.samples:
            series = request.timeseries.add()
            # Remote write wants the labels sorted by name, __name__ first.
            for name, value in sorted({"__name__": sample.name, **sample.labels}.items()):
                series.labels.add(name=name, value=value)
            series.samples.add(value=float(sample.value), timestamp=millis)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def decode(body: bytes) -> WriteRequest:
    """The WriteRequest inside a pushed body (for tests and debugging)."""
    request = WriteRequest()
    request.ParseFromString(bytes(cramjam.snappy.decompress_raw(body)))
    return request


class RemoteWriter:
    """Pushes to one remote-write URL with the given extra headers (auth)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = {**headers, **HEADERS}

    def push(self, families: Iterable[Metric], timestamp_s: float) -> str:
        """Send one WriteRequest; '' when the receiver took it, else what went wrong (one line)."""
        request = urllib.request.Request(self.url, data=encode(families, timestamp_s), headers=self.headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read(300).decode("utf-8", "replace").strip()
            return f"HTTP {exc.code}{': ' + body if body else ''}"
        except (urllib.error.URLError, OSError) as exc:
            return str(getattr(exc, "reason", exc))
        return ""
