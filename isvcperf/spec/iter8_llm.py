"""The `llm` task of `isvcperf launch --set`: Iter8-style flags for a generative InferenceService.

Iter8 0.13 had no task for LLMs, so these names are isvcperf's, chosen to read like its `http`
task's (same load keys: numRequests, duration, qps, connections, warmup*) plus what an
OpenAI-compatible target and its token lengths need. The task sets `target.protocol: openai`;
its SLOs are `assess.SLOs.upper.llm/ttft-p99=...` like any other. Kept beside iter8.py (which
reads the flags and calls this for the `llm` group) because a predictive launch never needs it.

    llm.url=URL                      full endpoint (…/v1/chat/completions or …/v1/completions)
    llm.baseURL=URL, llm.api, llm.openaiPrefix   or the server and the path (default /openai/v1)
    llm.model=NAME                   the served model (GET …/models lists it)
    llm.inputTokens=N, llm.inputTokensMin/Max/Stddev, llm.inputDistribution
    llm.outputTokens=N, llm.outputTokensMin/Max/Stddev, llm.outputDistribution   (max_tokens)
    llm.exactOutput, llm.stream, llm.prompts, llm.seed, llm.temperature
    llm.sharedPrefixGroups, llm.sharedPrefixTokens
    llm.source=synthetic|payload|sharegpt, llm.payloadFile, llm.payloadURL
    llm.goodput.ttft|tpot|e2e=DURATION
    llm.headers.NAME, llm.timeout, and the http task's load keys
"""

from __future__ import annotations

from typing import Any

from isvcperf.spec import schema
from isvcperf.spec.generative import Goodput
from isvcperf.spec.overrides import join_key, set_path
from isvcperf.util.errors import SpecError

DEFAULT_USERS = 4
DEFAULT_REQUESTS = 100

_LENGTHS = {"Tokens": "mean", "TokensMin": "min", "TokensMax": "max", "TokensStddev": "stddev",
            "Distribution": "distribution"}
KEYS: dict[str, tuple[str, ...]] = {
    "url": ("target", "url"),
    "baseURL": ("target", "baseUrl"),
    "api": ("target", "api"),
    "openaiPrefix": ("target", "openaiPrefix"),
    "model": ("target", "model"),
    "headers": ("target", "headers"),
    "timeout": ("target", "timeout"),
    **{f"{side}{suffix}": ("generate", side, field) for side in ("input", "output") for suffix, field in _LENGTHS.items()},
    "exactOutput": ("generate", "exactOutput"),
    "stream": ("generate", "stream"),
    "prompts": ("generate", "prompts"),
    "seed": ("generate", "seed"),
    "temperature": ("generate", "temperature"),
    "sharedPrefixGroups": ("generate", "sharedPrefix", "groups"),
    "sharedPrefixTokens": ("generate", "sharedPrefix", "tokens"),
    "source": ("generate", "source"),
    "payloadFile": ("payload", "file"),
    "payloadURL": ("payload", "url"),
}
"""`llm.<key>` → spec path, besides the http task's load keys (iter8.py passes them to translate);
`goodput.<limit>` is a group of its own."""

TEXT = frozenset({"url", "baseURL", "api", "openaiPrefix", "model", "headers", "source", "payloadFile", "payloadURL"})
"""Inputs read as text, as Iter8 reads its http task's (a model named 7 stays "7")."""

UNSUPPORTED = {
    "maxTokens": "is llm.outputTokens here (sent as each request's max_tokens; llm.exactOutput=true to demand "
                 "that many)",
    "endpoints": "are not supported: protocol openai runs one target per test",
}
"""Names a user may reach for, with the key to use instead."""

GOODPUT_LIMITS = tuple(schema.file_keys(Goodput))


def translate(llm: dict[str, Any], data: dict[str, Any], load_keys: dict[str, tuple[str, ...]]) -> None:
    """The `llm` group's keys (KEYS and `load_keys`) into spec data; SpecError naming a key that is
    not one of them."""
    keys = {**KEYS, **load_keys}
    for name, value in llm.items():
        key = join_key(["llm", name])
        if name == "goodput":
            if not isinstance(value, dict):
                raise SpecError(key, "is a group of limits; set them one by one (e.g. llm.goodput.ttft=200ms)")
            for limit, item in value.items():
                if limit not in GOODPUT_LIMITS:
                    raise SpecError(f"{key}.{limit}", f"unknown key; {schema.suggest(str(limit), GOODPUT_LIMITS)}")
                set_path(data, ["goodput", limit], item, f"{key}.{limit}")
        elif name in keys:
            set_path(data, list(keys[name]), value, key)
        else:
            raise SpecError(key, UNSUPPORTED.get(str(name)) or f"unknown key; {schema.suggest(str(name), [*keys, 'goodput'])}")


def complete(data: dict[str, Any]) -> None:
    """What the `llm` task implies: protocol openai, length distributions named by the keys given,
    a given payload sent as it is, the default load; the target and model are required."""
    target = data.setdefault("target", {})
    if not isinstance(target, dict):
        return
    target["protocol"] = "openai"
    if not {"url", "baseUrl", "isvc"} & set(target):
        raise SpecError("llm.url", "is required: the OpenAI endpoint, e.g. http://127.0.0.1:8080/v1/chat/completions "
                        "(or llm.baseURL with llm.api and llm.openaiPrefix, or ready.isvc=NAME)")
    if not target.get("model") and not target.get("isvc"):
        raise SpecError("llm.model", "is required: the model every request names (GET …/v1/models lists them)")
    generate = data.get("generate")
    for side in ("input", "output"):
        lengths = generate.get(side) if isinstance(generate, dict) else None
        if isinstance(lengths, dict) and "distribution" not in lengths:
            # min and max alone mean uniform; a stddev, normal; else the mean is fixed
            kind = ("normal" if "stddev" in lengths else "uniform" if {"min", "max"} <= set(lengths)
                    and "mean" not in lengths else "fixed")
            lengths["distribution"] = kind
    payload = data.get("payload")
    if isinstance(payload, dict) and payload and not (isinstance(generate, dict) and "source" in generate):
        data.setdefault("generate", {})["source"] = "payload"
    # a closed loop (LLM benchmarks are sized by concurrency): 4 connections, 100 requests
    load = data.setdefault("load", {})
    if isinstance(load, dict):
        load.setdefault("users", DEFAULT_USERS)
        if "duration" not in load:
            load.setdefault("requests", DEFAULT_REQUESTS)
