"""The request body, read once from a file, a URL or the spec itself.

Loading happens before any process starts (and in `isvcperf validate`), so a missing
file, an unreachable URL or JSON that does not parse is bad input (exit 2) with the
field named, never a failure halfway through a run.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from isvcperf import grpc_payload
from isvcperf.errors import SpecError
from isvcperf.spec import RunSpec

FETCH_TIMEOUT = 30.0


def load_payload(spec: RunSpec) -> bytes:
    """The exact bytes to send with every request."""
    payload = spec.payload
    if payload.file is not None:
        field, body = "payload.file", _read_file(Path(spec.base_dir, payload.file), payload.file)
    elif payload.url is not None:
        field, body = "payload.url", _fetch(payload.url)
    elif payload.inline is not None:
        inline = payload.inline
        field = "payload.inline"
        body = inline.encode("utf-8") if isinstance(inline, str) else json.dumps(inline).encode("utf-8")
    else:
        return b""
    if spec.target.protocol == "grpc-v2":
        return grpc_payload.encode(spec, body, field)
    if "json" in payload.content_type.lower():
        try:
            json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpecError(
                field,
                f"is not valid JSON ({exc}); fix the payload or set payload.contentType to what it is",
            ) from None
    return body


def _read_file(path: Path, as_written: str) -> bytes:
    if not path.is_file():
        raise SpecError("payload.file", f"{as_written!r} not found (looked at {path})")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SpecError("payload.file", f"cannot read {as_written!r}: {exc.strerror}") from None


def _fetch(url: str) -> bytes:
    if url.startswith("file://"):
        return _read_file(Path(urllib.request.url2pathname(url[len("file://"):])), url)
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise SpecError("payload.url", f"{url} answered HTTP {exc.code}; check the URL") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SpecError("payload.url", f"{url} is unreachable ({reason}); check the URL or use payload.file") from None
