"""Default locustfile: replay the spec's payload at the inference URL over HTTP."""

from isvcperf.loadgen.user import InferenceUser

__all__ = ["InferenceUser"]
