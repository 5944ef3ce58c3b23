"""Default locustfile: replay the spec's payload at the inference URL over HTTP."""

import isvcperf.loadgen.slo_panel  # noqa: F401  (registers the web UI's SLO tab)
from isvcperf.loadgen.user import InferenceUser

__all__ = ["InferenceUser"]
