"""Validation of a generative spec (`target.protocol: openai`): its target, generate and goodput.

The request URL is resolved here once, from `target.url` (whose path names the api) or
`target.baseUrl` + `target.openaiPrefix` + the api's path (isvcperf.kserve.openai), so
readiness, the Plan and the users read one URL. The model must be known: every request
body names it.
"""

from __future__ import annotations

import re

from isvcperf.kserve import openai
from isvcperf.spec import schema
from isvcperf.spec.generative import KSERVE_OPENAI_PREFIX, Generate, check_generate, check_goodput, check_prefix
from isvcperf.spec.model import RunSpec, Target
from isvcperf.util.errors import SpecError


def check_target(target: Target) -> None:
    """Resolve an openai target's api, prefix and URL (left None for target.isvc: its status gives it)."""
    if target.method != "POST":
        raise SpecError("target.method", f"{target.method} is not used by protocol openai (its requests are POSTs)")
    if target.openai_prefix is not None:
        check_prefix(target.openai_prefix)
    if target.url is not None:
        if not re.match(r"^https?://[^/\s]+", target.url):
            raise SpecError("target.url", f"{schema.describe(target.url)} is not an http:// or https:// URL")
        split = openai.split_url(target.url)
        if split is None:
            raise SpecError("target.url", f"{schema.describe(target.url)} does not end in an OpenAI path "
                            f"({', '.join(openai.API_PATHS.values())}); or give target.baseUrl and target.openaiPrefix")
        if target.api is not None and target.api != split[1]:
            raise SpecError("target.api", f"{target.api} does not match target.url, which is the {split[1]} endpoint")
        target.api = split[1]
    else:
        target.api = target.api or "chat"
        target.openai_prefix = target.openai_prefix or KSERVE_OPENAI_PREFIX
        if target.base_url is not None:
            if not re.match(r"^https?://[^/\s]+", target.base_url):
                raise SpecError("target.baseUrl", f"{schema.describe(target.base_url)} is not an http:// or https:// URL")
            target.url = openai.api_url(target.base_url, target.openai_prefix, target.api)
        elif target.isvc is None:
            raise SpecError("target.baseUrl", "is required for protocol openai (e.g. http://127.0.0.1:8080 with "
                            "openaiPrefix /v1), or target.url (…/v1/chat/completions), or target.isvc")
    target.model = target.model or target.isvc
    if not target.model:
        raise SpecError("target.model", "is required for protocol openai: every request names the model "
                        "(GET …/v1/models lists what the server serves)")


def check_spec(spec: RunSpec) -> None:
    """The generative blocks: only with protocol openai; defaults filled in for it."""
    if spec.target.protocol != "openai":
        for key, value in (("generate", spec.generate), ("goodput", spec.goodput)):
            if value is not None:
                raise SpecError(key, f"applies to protocol openai, not {spec.target.protocol} "
                                "(set target.protocol: openai for an LLM)")
        return
    if spec.endpoints:
        raise SpecError("endpoints", "are not supported with protocol openai yet; run one target per test")
    spec.generate = spec.generate or Generate()
    check_generate(spec.generate, spec.target.api or "chat")
    given = any(v for v in (spec.payload.file, spec.payload.url, spec.payload.inline, spec.payload.files,
                            spec.payload.jsonl))
    if spec.generate.source == "synthetic" and given:
        raise SpecError("generate.source", "is synthetic (the default) but a payload is given; set "
                        "generate.source: payload (or sharegpt) to send it, or remove payload")
    if spec.generate.source != "synthetic" and not given:
        raise SpecError("payload", f"is required for generate.source {spec.generate.source} (file:, files:, jsonl:, inline:)")
    if spec.generate.source == "sharegpt" and spec.payload.file is None:
        raise SpecError("payload.file", "is required for generate.source sharegpt: the ShareGPT JSON file")
    if spec.goodput is not None:
        check_goodput(spec.goodput)
