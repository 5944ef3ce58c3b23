"""Generated Python modules for the Open Inference Protocol's gRPC service.

`grpc_predict_v2.proto` (next to this file) holds the subset of the protocol isvcperf
calls; `grpc_predict_v2_pb2*.py` are generated from it and committed, so installing
isvcperf needs no compiler. Regenerate them after changing the .proto with `make protos`
(grpcio-tools, pinned in the `test` extra because the generated code's protobuf version
follows it):

    python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. --grpc_python_out=. \
        isvcperf/grpc_v2/grpc_predict_v2.proto

The messages live in protobuf's default pool under the protocol's own names
(`inference.ModelInferRequest`, ...), as in every other client of the protocol; a
process that also imports another copy (tritonclient, mlserver, kserve) cannot load both.
"""
