"""The spec stage: a test described as data (model), loaded from YAML and `--set` (load),
checked once (validate), and what requests derive from it (request); Iter8's `launch`
vocabulary (iter8) translates into the same data.

The names below are the stage's public API for users and tests; isvcperf's own modules
import from the defining submodule.
"""

from isvcperf.kserve.urls import protocol_of
from isvcperf.spec.load import from_data, load_file, parse_yaml
from isvcperf.spec.model import (
    SLO,
    Check,
    Endpoint,
    Kubernetes,
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

__all__ = [
    "SLO", "Check", "Endpoint", "Kubernetes", "Load", "Metrics", "Notify", "Payload", "Ready", "RunSpec",
    "Stage", "Target", "ca_bundle_path", "from_data", "load_file", "parse_yaml", "protocol_of", "request_headers",
]
