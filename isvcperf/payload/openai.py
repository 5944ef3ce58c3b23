"""OpenAI request bodies for a generative run, written once before any process starts.

Three sources (spec.generative.Generate.source): synthetic prompts of drawn lengths, the
spec's payload (each body a request, {prompt} / {messages}, or a JSON string), or a
ShareGPT file. Every body is completed the same way: the model, max_tokens drawn from the
output distribution unless the body sets it, `stream` with `stream_options.include_usage`
(so a server that can report usage does), and with `exactOutput` vLLM's `ignore_eos` and
`min_tokens`. The bodies then travel like any payload set (round robin over the run).

Synthetic prompts are words drawn at random after a per-prompt serial number, so no two
prompts share a prefix beyond what `sharedPrefix` asks for: a prefix cache cannot make
TTFT look better than it is. Lengths are in words, about one token each for these common
words (no tokenizer is downloaded); the server's usage reports the realised counts.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from isvcperf.spec.generative import Generate, Lengths
from isvcperf.spec.model import RunSpec
from isvcperf.util.errors import SpecError

WORDS = (
    "time", "year", "people", "way", "day", "man", "thing", "woman", "life", "child", "world", "school",
    "state", "family", "student", "group", "country", "problem", "hand", "part", "place", "case", "week",
    "company", "system", "program", "question", "work", "government", "number", "night", "point", "home",
    "water", "room", "mother", "area", "money", "story", "fact", "month", "lot", "right", "study", "book",
    "eye", "job", "word", "business", "issue", "side", "kind", "head", "house", "service", "friend", "father",
    "power", "hour", "game", "line", "end", "member", "law", "car", "city", "community", "name", "president",
    "team", "minute", "idea", "kid", "body", "information", "back", "parent", "face", "others", "level",
    "office", "door", "health", "person", "art", "war", "history", "party", "result", "change", "morning",
    "reason", "research", "girl", "guy", "moment", "air", "teacher", "force", "education", "river", "stone",
    "light", "green", "quiet", "early", "open", "simple", "bright", "cold", "warm", "small", "large", "quick",
    "slow", "round",
)


def draw(lengths: Lengths, rng: random.Random) -> int:
    """One length from a resolved distribution, clipped to its min and max (no max: no upper bound).

    spec.resolve gives every distribution its min and spec.validate requires each one's own
    fields (uniform: min and max; the others: mean; normal and lognormal: stddev), so nothing
    here falls back to a default of its own.
    """
    assert lengths.min is not None, "spec.resolve gives every length distribution its min"
    if lengths.distribution == "uniform":
        assert lengths.max is not None, "spec.validate requires max for distribution uniform"
        return rng.randint(lengths.min, lengths.max)
    mean, stddev = lengths.mean, lengths.stddev
    assert mean is not None, "spec.validate requires mean for distributions fixed, normal and lognormal"
    value = mean
    if lengths.distribution != "fixed":
        assert stddev is not None, "spec.validate requires stddev for distributions normal and lognormal"
        if lengths.distribution == "normal":
            value = rng.gauss(mean, stddev)
        else:
            # mu and sigma of the underlying normal such that the lengths have this mean and stddev
            sigma2 = math.log(1 + stddev**2 / mean**2)
            value = rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    clipped = max(lengths.min, round(value))
    return clipped if lengths.max is None else min(lengths.max, clipped)


def _generate(spec: RunSpec) -> Generate:
    """The generate block of a resolved openai spec (spec.resolve fills in its defaults)."""
    assert spec.generate is not None, "spec.resolve gives a protocol-openai spec its generate block"
    return spec.generate


def _api(spec: RunSpec) -> str:
    """The api of a resolved openai target (spec.resolve reads it from the URL or defaults it)."""
    assert spec.target.api is not None, "spec.resolve gives an openai target its api"
    return spec.target.api


def _text(rng: random.Random, words: int, serial: int) -> str:
    return f"{serial}. " + " ".join(rng.choice(WORDS) for _ in range(max(1, words - 1)))


def _complete(body: dict[str, Any], spec: RunSpec, rng: random.Random) -> bytes:
    """Fill in the model, max_tokens and streaming options a body does not set itself."""
    generate = _generate(spec)
    body.setdefault("model", spec.target.model)
    if spec.target.api != "embeddings":
        tokens = body.setdefault("max_tokens", draw(generate.output, rng))
        body.setdefault("stream", generate.stream)
        if body["stream"]:
            body.setdefault("stream_options", {"include_usage": True})
        if generate.exact_output:
            body.setdefault("ignore_eos", True)
            body.setdefault("min_tokens", tokens)
        if generate.temperature is not None:
            body.setdefault("temperature", generate.temperature)
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _request(api: str, text: str, system: str | None) -> dict[str, Any]:
    if api == "embeddings":
        return {"input": text}
    if api == "completions":
        return {"prompt": f"{system}\n\n{text}" if system else text}
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": [*messages, {"role": "user", "content": text}]}


def synthetic(spec: RunSpec) -> list[bytes]:
    generate = _generate(spec)
    rng = random.Random(generate.seed)
    api = _api(spec)
    prefix = generate.shared_prefix
    systems = [_text(rng, prefix.tokens, group) for group in range(prefix.groups)] if prefix else []
    bodies = []
    for serial in range(generate.prompts):
        system = systems[serial % len(systems)] if systems else None
        text = _text(rng, draw(generate.input, rng), serial)
        bodies.append(_complete(_request(api, text, system), spec, rng))
    return bodies


def _from_payload(spec: RunSpec, field: str, raw: bytes) -> dict[str, Any]:
    """One payload body as a request for the target's api."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(field, f"is not valid JSON ({exc}); give an OpenAI request, {{\"prompt\": ...}}, "
                        "{\"messages\": [...]} or a JSON string") from None
    if isinstance(data, str):
        data = {"prompt": data}
    if not isinstance(data, dict):
        raise SpecError(field, "must be a JSON object (an OpenAI request) or a JSON string (a prompt)")
    api = _api(spec)
    if api == "chat" and "messages" not in data and isinstance(data.get("prompt"), str):
        data["messages"] = [{"role": "user", "content": data.pop("prompt")}]
    if api == "embeddings" and "input" not in data and "prompt" in data:
        data["input"] = data.pop("prompt")
    needs = {"chat": "messages", "completions": "prompt", "embeddings": "input"}[api]
    if needs not in data:
        raise SpecError(field, f"has no {needs!r}: the {api} api needs it (keys found: {', '.join(data) or 'none'})")
    return data


def sharegpt(spec: RunSpec, field: str, raw: bytes) -> list[bytes]:
    """The first human turn of each conversation (up to generate.prompts of them) as a prompt."""
    generate = _generate(spec)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(field, f"is not valid JSON ({exc}); a ShareGPT file is a JSON list of "
                        "{\"conversations\": [{\"from\": \"human\", \"value\": ...}, ...]}") from None
    if not isinstance(data, list):
        raise SpecError(field, "is not a ShareGPT file: expected a JSON list of {\"conversations\": [...]}")
    rng = random.Random(generate.seed)
    bodies = []
    for entry in data:
        turns = entry.get("conversations") if isinstance(entry, dict) else None
        human = next((t.get("value") for t in turns or [] if isinstance(t, dict) and t.get("from") == "human"), None)
        if isinstance(human, str) and human.strip():
            bodies.append(_complete(_request(_api(spec), human, None), spec, rng))
        if len(bodies) == generate.prompts:
            break
    if not bodies:
        raise SpecError(field, "holds no conversation with a human turn ({\"from\": \"human\", \"value\": ...})")
    return bodies


def bodies(spec: RunSpec, raw: list[tuple[str, bytes]]) -> list[bytes]:
    """The run's request bodies from its generate block and (field, body) pairs of its payload."""
    source = _generate(spec).source
    if source == "synthetic":
        return synthetic(spec)
    if source == "sharegpt":
        return sharegpt(spec, *raw[0])
    rng = random.Random(_generate(spec).seed)
    return [_complete(_from_payload(spec, field, body), spec, rng) for field, body in raw]
