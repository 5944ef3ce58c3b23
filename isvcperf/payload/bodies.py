"""The request bodies, read once from files, a URL or the spec itself.

Loading happens before any process starts (and in `isvcperf validate`), so a missing
file, an unreachable URL or JSON that does not parse is bad input (exit 2) with the
field named (and the line, in a JSONL file), never a failure halfway through a run.
A payload set (`files:` or `jsonl:`) gives several bodies; with several endpoints each
has its own payload or set. gRPC bodies are serialised ModelInferRequests.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from isvcperf.payload import grpc as grpc_payload
from isvcperf.payload import openai as openai_payload
from isvcperf.spec.model import Endpoint, Payload, RunSpec
from isvcperf.util.errors import SpecError

FETCH_TIMEOUT = 30.0


@dataclass(frozen=True)
class Bodies:
    """Every body a run sends: per endpoint (in spec.all_endpoints() order), its payload set."""

    endpoints: tuple[tuple[bytes, ...], ...]

    @property
    def single(self) -> bytes | None:
        """The one body of a run with one endpoint and one payload; None for endpoints or payload sets."""
        if len(self.endpoints) == 1 and len(self.endpoints[0]) == 1:
            return self.endpoints[0][0]
        return None


class Raw(NamedTuple):
    """One body as read, with the spec field it came from and the file or URL it was read from
    ('' for inline), so an error names both: with `payload.files` the field alone says too little."""

    field: str
    body: bytes
    source: str = ""


def load_payload(spec: RunSpec) -> Bodies:
    """The exact bytes to send, for every endpoint."""
    return Bodies(tuple(
        tuple(_bodies(spec, endpoint, "payload" if endpoint.payload is spec.payload else f"endpoints[{i}].payload"))
        for i, endpoint in enumerate(spec.all_endpoints())
    ))


def with_models(spec: RunSpec, bodies: Bodies) -> RunSpec:
    """`spec` with the model its gRPC payloads name filled into each target that names none
    (the readiness check asks for that model, the result names it)."""
    if spec.target.protocol != "grpc-v2":
        return spec
    targets = [e.target if e.target.model else replace(e.target, model=grpc_payload.model_name(sent[0]))
               for e, sent in zip(spec.all_endpoints(), bodies.endpoints, strict=True)]
    if not spec.endpoints:
        return replace(spec, target=targets[0])
    return replace(spec, endpoints=[replace(e, target=t) for e, t in zip(spec.endpoints, targets, strict=True)])


def _bodies(spec: RunSpec, endpoint: Endpoint, where: str) -> list[bytes]:
    payload = endpoint.payload or Payload()
    raw = _read(spec, payload, where)
    pairs = [(field, body) for field, body, _ in raw]
    if endpoint.target.protocol == "openai":
        return openai_payload.bodies(spec, pairs)
    if not raw:
        return [b""]  # protocol raw without a payload: bodiless requests
    if endpoint.target.protocol == "grpc-v2":
        target, encoded = endpoint.target, []
        for field, body in pairs:  # the first body to name a model names it for the rest of the set
            encoded.append(grpc_payload.encode(target, body, field))
            target = replace(target, model=grpc_payload.model_name(encoded[-1]))
        return encoded
    if "json" in payload.content_type.lower():
        for field, body, source in raw:
            try:
                json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SpecError(
                    field,
                    f"is not valid JSON{f' in {source!r}' if source else ''} ({exc}); fix the payload or set "
                    f"{where}.contentType to what it is",
                ) from None
    return [body for _, body in pairs]


def _read(spec: RunSpec, payload: Payload, where: str) -> list[Raw]:
    """Each body the payload gives, unchecked; none when it gives none."""
    if payload.file is not None:
        return [Raw(f"{where}.file", _read_file(Path(spec.base_dir, payload.file), payload.file, f"{where}.file"),
                    payload.file)]
    if payload.url is not None:
        return [Raw(f"{where}.url", _fetch(payload.url, f"{where}.url"), payload.url)]
    if payload.inline is not None:
        inline = payload.inline
        body = inline.encode("utf-8") if isinstance(inline, str) else json.dumps(inline).encode("utf-8")
        return [Raw(f"{where}.inline", body)]
    if payload.files:
        return [Raw(f"{where}.files[{i}]", _read_file(Path(spec.base_dir, name), name, f"{where}.files[{i}]"), name)
                for i, name in enumerate(payload.files)]
    if payload.jsonl is not None:
        return _jsonl(_read_file(Path(spec.base_dir, payload.jsonl), payload.jsonl, f"{where}.jsonl"),
                      f"{where}.jsonl", payload.jsonl)
    return []


def _jsonl(text: bytes, field: str, source: str) -> list[Raw]:
    """One JSON body per non-blank line; a line that is not JSON is named by its number."""
    bodies = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpecError(field, f"line {number} is not valid JSON in {source!r} ({exc}); write one JSON payload "
                            "per line") from None
        bodies.append(Raw(f"{field} line {number}", line, source))
    if not bodies:
        raise SpecError(field, "holds no payloads; write one JSON payload per line")
    return bodies


def _read_file(path: Path, as_written: str, field: str) -> bytes:
    if not path.is_file():
        raise SpecError(field, f"{as_written!r} not found (looked at {path})")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SpecError(field, f"cannot read {as_written!r}: {exc.strerror}") from None


def _fetch(url: str, field: str) -> bytes:
    if url.startswith("file://"):
        return _read_file(Path(urllib.request.url2pathname(url[len("file://"):])), url, field)
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise SpecError(field, f"{url} answered HTTP {exc.code}; check the URL") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SpecError(field, f"{url} is unreachable ({reason}); check the URL or use payload.file") from None
