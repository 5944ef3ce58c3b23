"""A generative spec (`target.protocol: openai`): its target, generate and goodput checked, then resolved.

The checks (called by spec.validate) only check. The resolution (called by spec.resolve on
a spec they passed) builds the request URL once, from `target.url` (whose path names the
api) or `target.baseUrl` + `target.openaiPrefix` + the api's path (isvcperf.kserve.openai),
so readiness, the Plan and the users read one URL; it fills in the api, the prefix, the
model (default: the InferenceService's name; every request body names it) and the
`generate:` block's defaults, each with dataclasses.replace.
"""

from __future__ import annotations

import re
from dataclasses import replace

from isvcperf.kserve import openai
from isvcperf.spec import schema
from isvcperf.spec.generative import (
    KSERVE_OPENAI_PREFIX,
    Generate,
    check_generate,
    check_goodput,
    check_prefix,
    resolve_lengths,
)
from isvcperf.spec.model import RunSpec, Target
from isvcperf.util.errors import SpecError


def check_target(target: Target, where: str = "target") -> None:
    """The rules of an openai target (`where` names it in errors); its URL may come later from target.isvc."""
    if target.method != "POST":
        raise SpecError(f"{where}.method", f"{target.method} is not used by protocol openai (its requests are POSTs)")
    if target.openai_prefix is not None:
        try:
            check_prefix(target.openai_prefix)
        except SpecError as exc:
            raise exc.within(where) from None
    if target.url is not None:
        if not re.match(r"^https?://[^/\s]+", target.url):
            raise SpecError(f"{where}.url", f"{schema.describe(target.url)} is not an http:// or https:// URL")
        split = openai.split_url(target.url)
        if split is None:
            raise SpecError(f"{where}.url", f"{schema.describe(target.url)} does not end in an OpenAI path "
                            f"({', '.join(openai.API_PATHS.values())}); or give {where}.baseUrl and "
                            f"{where}.openaiPrefix")
        if target.api is not None and target.api != split[1]:
            raise SpecError(f"{where}.api", f"{target.api} does not match {where}.url, which is the {split[1]} endpoint")
    elif target.base_url is not None:
        if not re.match(r"^https?://[^/\s]+", target.base_url):
            raise SpecError(f"{where}.baseUrl", f"{schema.describe(target.base_url)} is not an http:// or https:// URL")
    elif target.isvc is None:
        raise SpecError(f"{where}.baseUrl", "is required for protocol openai (e.g. http://127.0.0.1:8080 with "
                        "openaiPrefix /v1), or target.url (…/v1/chat/completions), or target.isvc")
    if not (target.model or target.isvc):
        raise SpecError(f"{where}.model", "is required for protocol openai: every request names the model "
                        "(GET …/v1/models lists what the server serves)")


def api_of(target: Target) -> str:
    """The api a checked openai target calls: the one its URL ends in, else target.api, else chat."""
    split = openai.split_url(target.url) if target.url is not None else None
    return split[1] if split is not None else target.api or "chat"


def resolve_target(target: Target) -> Target:
    """A checked openai target with its api, prefix, URL (left None for target.isvc: its status gives it) and model."""
    api = api_of(target)
    model = target.model or target.isvc
    if target.url is not None:
        return replace(target, api=api, model=model)
    prefix = target.openai_prefix or KSERVE_OPENAI_PREFIX
    url = openai.api_url(target.base_url, prefix, api) if target.base_url is not None else None
    return replace(target, api=api, openai_prefix=prefix, url=url, model=model)


def check_spec(spec: RunSpec) -> None:
    """The generative blocks: only with protocol openai, and consistent with its payload."""
    if spec.target.protocol != "openai":
        for key, value in (("generate", spec.generate), ("goodput", spec.goodput)):
            if value is not None:
                raise SpecError(key, f"applies to protocol openai, not {spec.target.protocol} "
                                "(set target.protocol: openai for an LLM)")
        return
    if spec.endpoints:
        raise SpecError("endpoints", "are not supported with protocol openai yet; run one target per test")
    generate = spec.generate or Generate()
    check_generate(generate, api_of(spec.target))
    given = any(v for v in (spec.payload.file, spec.payload.url, spec.payload.inline, spec.payload.files,
                            spec.payload.jsonl))
    if generate.source == "synthetic" and given:
        raise SpecError("generate.source", "is synthetic (the default) but a payload is given; set "
                        "generate.source: payload (or sharegpt) to send it, or remove payload")
    if generate.source != "synthetic" and not given:
        raise SpecError("payload", f"is required for generate.source {generate.source} (file:, files:, jsonl:, inline:)")
    if generate.source == "sharegpt" and spec.payload.file is None:
        raise SpecError("payload.file", "is required for generate.source sharegpt: the ShareGPT JSON file")
    if spec.goodput is not None:
        check_goodput(spec.goodput)


def resolve_generate(spec: RunSpec) -> Generate | None:
    """The generate block of a checked spec (the given one, or the defaults for protocol openai), its
    lengths' min filled in."""
    if spec.target.protocol != "openai":
        return spec.generate
    generate = spec.generate or Generate()
    return replace(generate, input=resolve_lengths(generate.input), output=resolve_lengths(generate.output))
