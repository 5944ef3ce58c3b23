"""Built-in locustfile for protocol grpc-v2: replay the payload as ModelInfer calls."""

from isvcperf.loadgen.grpc_user import GrpcInferenceUser

__all__ = ["GrpcInferenceUser"]
