"""Readiness of an OpenAI-compatible target: `GET .../models` must list the model.

Every OpenAI-compatible server (vLLM, llama.cpp, KServe's huggingfaceserver, an
LLMInferenceService's gateway) answers `GET <prefix>/models` with `{"data": [{"id": ...}]}`.
Until it answers, or while it lists nothing, the target is not ready and is polled again;
once it lists models but not ours, waiting cannot help: the run stops at once (exit 3)
naming the models it does serve, because a typo in target.model is the usual cause.
Behind KServe's prefix `GET /openai/v1/models/NAME` must answer 200 too: KServe answers it
only once the model is ready.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable

from isvcperf.kserve import openai
from isvcperf.spec.generative import KSERVE_OPENAI_PREFIX
from isvcperf.spec.model import Target
from isvcperf.util.errors import CouldNotRun

PROBE_TIMEOUT = 5.0


def get_json(url: str, headers: dict[str, str], context: ssl.SSLContext | None) -> tuple[object, str | None]:
    """(the JSON `url` answers 2xx with, None), or (None, a short description of what it did)."""
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT, context=context) as response:
            return json.loads(response.read()), None
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", "replace").strip()
        return None, f"{url} answered HTTP {exc.code}{': ' + detail if detail else ''}"
    except urllib.error.URLError as exc:
        return None, f"{url}: {getattr(exc.reason, 'strerror', None) or exc.reason}"
    except OSError as exc:
        return None, f"{url}: {exc}"
    except ValueError:
        return None, f"{url} did not answer JSON"


def served_models(url: str, headers: dict[str, str], context: ssl.SSLContext | None) -> list[str] | str:
    """The ids `url` (a …/models URL) lists, or a short description of why it did not answer with them."""
    document, problem = get_json(url, headers, context)
    if problem is not None:
        return problem
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list):
        return f"{url} answered without a model list (no \"data\": [...])"
    return [str(item.get("id")) for item in data if isinstance(item, dict) and item.get("id") is not None]


def check(target: Target, headers: dict[str, str], context: ssl.SSLContext | None) -> Callable[[], list[str]]:
    """A readiness check for wait_ready: the problems seen now (none when ready); raises when the
    server answers with a model list that lacks target.model."""
    url = openai.models_url(target.url or "")
    model = target.model or ""
    kserve = url.endswith(KSERVE_OPENAI_PREFIX + "/models")

    def problems() -> list[str]:
        served = served_models(url, headers, context)
        if isinstance(served, str):
            return [served]
        if model not in served:
            if not served:
                return [f"{url} lists no models yet"]
            raise CouldNotRun(f"model {model!r} is not served at {url}; it serves: {', '.join(served)} "
                              "(set target.model to one of them)")
        if kserve:  # KServe answers 200 here only once the model is ready
            return [problem] if (problem := get_json(f"{url}/{model}", headers, context)[1]) else []
        return []

    return problems
