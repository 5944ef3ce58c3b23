"""`isvcperf run --url URL --payload FILE -c 8 -d 30s`: a run without a spec file, as `hey` and
`wrk` users expect.

The flags are turned into spec data and go through `spec.from_data` like a file does, so a
quick run is validated, run and reported exactly as a spec run (and `--set` still applies
on top). Only the handful of things a one-off test needs are flags; the rest is a spec.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from isvcperf import spec
from isvcperf.kserve import urls
from isvcperf.spec.overrides import apply_overrides
from isvcperf.util.errors import SpecError

_SLO = re.compile(r"^\s*(?P<metric>[^<>=\s]+)\s*(?P<op><=|>=)\s*(?P<limit>-?\d+(?:\.\d+)?)\s*$")
QUICK_FLAGS = ("url", "payload", "concurrency", "duration", "requests", "rate", "slos")


def add_flags(p: argparse.ArgumentParser) -> None:
    """The flags of a run without a spec file, in their own help section."""
    group = p.add_argument_group("without a spec file (like hey or wrk)")
    group.add_argument("--url", help="the inference URL (V2 /v2/models/M/infer, V1 /v1/models/M:predict, or any URL)")
    group.add_argument("--payload", metavar="FILE", help="the request body (JSON for V1/V2)")
    group.add_argument("-c", "--concurrency", type=int, metavar="N", help="concurrent users (default 1)")
    group.add_argument("-d", "--duration", metavar="TIME", help="how long to measure, e.g. 30s (default 10s)")
    group.add_argument("--requests", type=int, metavar="N", help="measure exactly N requests instead of a duration")
    group.add_argument("--rate", type=float, metavar="R", help="open loop at R requests/s (default: closed loop)")
    group.add_argument("--slo", dest="slos", action="append", default=[], metavar="'METRIC<=LIMIT'",
                       help="an SLO, e.g. 'http/latency-p99<=50' or 'http/throughput>=100' (repeatable)")


def given(args: argparse.Namespace) -> list[str]:
    """The quick-run flags given on the command line, as the user spelled them."""
    return [f"--{name.rstrip('s')}" if name == "slos" else f"--{name}" for name in QUICK_FLAGS
            if getattr(args, name) not in (None, [])]


def quick_spec(args: argparse.Namespace, overrides: list[str]) -> spec.RunSpec:
    """The RunSpec of a run described by flags alone."""
    if not args.url:
        raise SpecError("--url", "give a spec file, or --url (and --payload) for a run without one, "
                        "e.g. isvcperf run --url http://127.0.0.1:8080/v2/models/m/infer --payload in.json -c 8 -d 30s")
    protocol = urls.protocol_of(args.url)
    load: dict[str, Any] = {"users": 1 if args.concurrency is None else args.concurrency}
    if args.requests is not None:
        load["requests"] = args.requests
    else:
        load["duration"] = args.duration or "10s"
    if args.rate is not None:
        load["rate"] = args.rate
    data: dict[str, Any] = {
        "name": urls.model_of(args.url, protocol) or "quick",
        "target": {"url": args.url, "protocol": protocol},
        "load": load,
        "slos": dict(map(_slo, args.slos)),
    }
    if args.payload is not None:
        data["payload"] = {"file": str(Path(args.payload).resolve())}
    return spec.from_data(apply_overrides(data, overrides), base_dir=os.getcwd())


def _slo(text: str) -> tuple[str, dict[str, float]]:
    """`http/latency-p99<=50` → ("http/latency-p99", {"upper": 50.0})."""
    match = _SLO.match(text)
    if not match:
        raise SpecError("--slo", f"{text!r} is not METRIC<=LIMIT or METRIC>=LIMIT (e.g. 'http/latency-p99<=50')")
    return match["metric"], {"upper" if match["op"] == "<=" else "lower": float(match["limit"])}
