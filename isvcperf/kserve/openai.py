"""The OpenAI-compatible URL layout KServe and the common LLM servers use, in one place.

KServe's huggingfaceserver serves `/openai/v1/completions`, `/openai/v1/chat/completions`,
`/openai/v1/embeddings` and `/openai/v1/models` (the prefix is its
KSERVE_OPENAI_ROUTE_PREFIX); an LLMInferenceService behind the gateway serves
`/<namespace>/<name>/v1/...`; plain vLLM and llama.cpp serve `/v1/...`. A target is a base
URL plus that prefix; these functions build the request and readiness URLs from them and
read them back from a full URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

API_PATHS = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}


def api_url(base: str, prefix: str, api: str) -> str:
    """The request URL of `api` under `base` (whose own path, if any, stays in front of the prefix)."""
    return base.rstrip("/") + prefix.rstrip("/") + API_PATHS[api]


def split_url(url: str) -> tuple[str, str] | None:
    """A full request URL as (the URL up to its API path, api): `http://h/v1/chat/completions` →
    (`http://h/v1`, `chat`); None when its path ends in none of the API paths."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    for api in ("chat", "completions", "embeddings"):  # chat first: its path ends in /completions too
        if path.endswith(API_PATHS[api]):
            return f"{parts.scheme}://{parts.netloc}{path[: -len(API_PATHS[api])]}", api
    return None


def models_url(url: str) -> str:
    """`GET .../models` beside a request URL: the served models (readiness and the model check)."""
    split = split_url(url)
    return (split[0] if split else url.rstrip("/")) + "/models"


def llm_isvc_prefix(namespace: str, name: str) -> str:
    """The gateway prefix of an LLMInferenceService (llm-d): `/<namespace>/<name>/v1`."""
    return f"/{namespace}/{name}/v1"
