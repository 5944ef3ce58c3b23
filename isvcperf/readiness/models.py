"""Which models a server serves, asked when it answers 404 for the one the spec names.

A wrong model name used to wait out the whole `ready.timeout` (600 s in a CI log) because
"not found" looks like "not loaded yet". A server that answers its model list is up; if
the list lacks the model, waiting will not help, so readiness fails at once and names the
models it does serve. A model still loading is listed (MLServer: state LOADING), so it is
waited for as before; a server whose list cannot be read is waited for too.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

from isvcperf.kserve import urls

LIST_TIMEOUT = 5.0


def served_models(url: str, protocol: str, headers: dict[str, str], context: ssl.SSLContext | None) -> list[str] | None:
    """The names of the models the server behind inference `url` serves, or None when it does not say."""
    where = urls.model_list_url(url, protocol)
    if where is None:
        return None
    method, list_url = where
    body = b"{}" if method == "POST" else None
    request = urllib.request.Request(list_url, data=body, method=method,
                                     headers={**headers, **({"Content-Type": "application/json"} if body else {})})
    try:
        with urllib.request.urlopen(request, timeout=LIST_TIMEOUT, context=context) as response:
            document = json.loads(response.read(1_000_000))
    except (urllib.error.URLError, OSError, ValueError):
        return None
    entries = document.get("models") if isinstance(document, dict) else document  # V1 {"models": [...]}, V2 [...]
    if not isinstance(entries, list):
        return None
    return [str(entry.get("name")) if isinstance(entry, dict) else str(entry) for entry in entries]


def missing_model(url: str, protocol: str, model: str, headers: dict[str, str],
                  context: ssl.SSLContext | None) -> str | None:
    """Why waiting for `model` is pointless (the server is up and does not list it), else None."""
    names = served_models(url, protocol, headers, context)
    if names is None or model in names:
        return None
    serves = ", ".join(sorted(names)) if names else "no models"
    return (f"the server at {urls.infer_url(url, 'raw', '').rstrip('/')} answers but does not serve model {model!r}; "
            f"it serves: {serves} (set target.model, or fix the model name in target.url)")
