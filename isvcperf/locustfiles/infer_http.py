"""Default locustfile: replay the spec's payload at the inference URL over HTTP."""

from isvcperf.loadgen import InferenceUser

__all__ = ["InferenceUser"]
