"""The spec stage: a test described as data (model; kubernetes for the pods), loaded from YAML and `--set` (load),
checked once (validate), and what requests derive from it (request); Iter8's `launch`
vocabulary (iter8) translates into the same data.

The names below are the stage's public API for users and tests; isvcperf's own modules
import from the defining submodule.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from isvcperf.kserve.urls import protocol_of
    from isvcperf.spec.kubernetes import Kubernetes
    from isvcperf.spec.load import from_data, load_file, parse_yaml
    from isvcperf.spec.model import (
        SLO,
        Check,
        Endpoint,
        Load,
        Metrics,
        Notify,
        Payload,
        Ready,
        RunSpec,
        Stage,
        Target,
    )
    from isvcperf.spec.request import ca_bundle_path, request_headers

_HOMES = {
    "protocol_of": "isvcperf.kserve.urls",
    **dict.fromkeys(("from_data", "load_file", "parse_yaml"), "isvcperf.spec.load"),
    **dict.fromkeys(("SLO", "Check", "Endpoint", "Load", "Metrics", "Notify", "Payload", "Ready",
                     "RunSpec", "Stage", "Target"), "isvcperf.spec.model"),
    "Kubernetes": "isvcperf.spec.kubernetes",
    **dict.fromkeys(("ca_bundle_path", "request_headers"), "isvcperf.spec.request"),
}
"""Each public name's defining module, imported on first use: a master pod that reads one spec module
(metric_names for its /metrics) does not load the YAML loader and the validation with it."""


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SLO", "Check", "Endpoint", "Kubernetes", "Load", "Metrics", "Notify", "Payload", "Ready", "RunSpec",
    "Stage", "Target", "ca_bundle_path", "from_data", "load_file", "parse_yaml", "protocol_of", "request_headers",
]
