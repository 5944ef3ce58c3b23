"""The gRPC request body: the payload as an Open Inference Protocol ModelInferRequest.

Two JSON forms are accepted, told apart by their inputs:

- the JSON form of `ModelInferRequest` (protobuf's JSON mapping), the one the KServe and
  Iter8 gRPC tutorials use: `{"model_name": ..., "inputs": [{"name", "shape", "datatype",
  "contents": {"fp32_contents": [...]}}]}`;
- the REST V2 request (`{"inputs": [{"name", "shape", "datatype", "data": [...]}]}`), so
  the payload of an HTTP test can be reused as is: each input's `data` is flattened into
  the `contents` field of its datatype.

The message is serialised once, before any process starts; the load generator sends
those bytes unchanged. Problems are bad input (SpecError) naming the payload field.
"""

from __future__ import annotations

import json
import math
from typing import Any

from google.protobuf import json_format

from isvcperf.grpc_v2.grpc_predict_v2_pb2 import InferParameter, ModelInferRequest
from isvcperf.spec.model import Target
from isvcperf.util.errors import SpecError

CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
"""V2 datatype → the InferTensorContents field that carries it (FP16 has none)."""


def encode(target: Target, body: bytes, field: str) -> bytes:
    """The serialised ModelInferRequest for `body` (read from payload `field`) sent to `target`.

    The payload's `model_name` and `target.model` must agree when both are given; either
    alone names the model of the request (model_name tells it back, see bodies.with_models).
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(field, f"is not valid JSON ({exc}); a gRPC payload is a ModelInferRequest as JSON") from None
    request = to_request(data, field)
    model = target.model
    if request.model_name and model and request.model_name != model:
        raise SpecError(field, f"names model {request.model_name!r} but target.model is {model!r}; "
                        "make them agree or drop one")
    if not request.model_name and not model:
        raise SpecError("target.model", "is required: the gRPC payload has no model_name")
    request.model_name = request.model_name or model  # type: ignore[assignment]
    return request.SerializeToString()


def model_name(encoded: bytes) -> str:
    """The model an encoded ModelInferRequest is for."""
    return ModelInferRequest.FromString(encoded).model_name


def to_request(data: Any, field: str) -> ModelInferRequest:
    """A ModelInferRequest from either JSON form (see the module docstring)."""
    if not isinstance(data, dict):
        raise SpecError(field, "must be a JSON object with inputs (a ModelInferRequest or a REST V2 request)")
    inputs = data.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise SpecError(field, "needs a non-empty list of inputs")
    if any(isinstance(item, dict) and "data" in item for item in inputs):
        return _from_rest(data, field)
    try:
        return json_format.ParseDict(data, ModelInferRequest())
    except json_format.ParseError as exc:
        problem = str(exc).splitlines()[0]
        raise SpecError(field, f"is not a ModelInferRequest: {problem}") from None


def _from_rest(data: dict[str, Any], field: str) -> ModelInferRequest:
    """Convert a REST V2 inference request (`data` per input) into a ModelInferRequest."""
    known = {"id", "inputs", "outputs", "parameters", "model_name"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError(f"{field}.{unknown[0]}", f"is not a field of a V2 inference request (known: {', '.join(sorted(known))})")
    request = ModelInferRequest(id=str(data.get("id", "")), model_name=str(data.get("model_name", "")))
    _set_parameters(request.parameters, data.get("parameters"), f"{field}.parameters")
    for i, item in enumerate(data["inputs"]):
        where = f"{field}.inputs[{i}]"
        if not isinstance(item, dict):
            raise SpecError(where, "must be an object with name, shape, datatype and data")
        missing = [key for key in ("name", "shape", "datatype", "data") if key not in item]
        if missing:
            raise SpecError(where, f"lacks {', '.join(missing)}")
        tensor = request.inputs.add(name=str(item["name"]), datatype=str(item["datatype"]).upper())
        shape = item["shape"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise SpecError(f"{where}.shape", f"{shape!r} is not a list of sizes like [1, 4]")
        tensor.shape.extend(shape)
        _set_contents(tensor, _flatten(item["data"]), math.prod(shape), where)
        _set_parameters(tensor.parameters, item.get("parameters"), f"{where}.parameters")
    for i, item in enumerate(data.get("outputs") or []):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise SpecError(f"{field}.outputs[{i}]", "must be an object with a name")
        output = request.outputs.add(name=item["name"])
        _set_parameters(output.parameters, item.get("parameters"), f"{field}.outputs[{i}].parameters")
    return request


def _set_contents(tensor: ModelInferRequest.InferInputTensor, values: list[Any], expected: int, where: str) -> None:
    contents_field = CONTENTS_FIELD.get(tensor.datatype)
    if contents_field is None:
        raise SpecError(f"{where}.datatype", f"{tensor.datatype!r} cannot be sent as typed gRPC contents; "
                        f"use one of {', '.join(CONTENTS_FIELD)} (FP16 needs raw_input_contents)")
    if len(values) != expected:
        raise SpecError(f"{where}.data", f"has {len(values)} elements but shape {list(tensor.shape)} needs {expected}")
    if tensor.datatype == "BYTES":
        values = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
    try:
        getattr(tensor.contents, contents_field).extend(values)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where}.data", f"does not hold {tensor.datatype} values: {exc}") from None


def _set_parameters(target: Any, parameters: Any, where: str) -> None:
    """Copy a REST parameters object into a protobuf map of InferParameter."""
    if parameters is None:
        return
    if not isinstance(parameters, dict):
        raise SpecError(where, "must be an object of name: value")
    for name, value in parameters.items():
        if isinstance(value, bool):
            target[name].CopyFrom(InferParameter(bool_param=value))
        elif isinstance(value, int):
            target[name].CopyFrom(InferParameter(int64_param=value))
        elif isinstance(value, str):
            target[name].CopyFrom(InferParameter(string_param=value))
        else:
            raise SpecError(f"{where}.{name}", f"{value!r} is not a boolean, an integer or a string")


def _flatten(data: Any) -> list[Any]:
    """Row-major elements of a nested list (a scalar is one element)."""
    if not isinstance(data, list):
        return [data]
    out: list[Any] = []
    for item in data:
        out.extend(_flatten(item))
    return out
