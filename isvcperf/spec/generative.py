"""The generative part of a spec: what prompts to send an OpenAI-compatible target, and goodput.

`target.protocol: openai` sends chat or completion requests (`target.api`) and measures
tokens as they stream back (isvcperf.loadgen.openai_user). The `generate:` block says where
the prompts come from and how long the answers should be; `goodput:` sets the per-request
limits a request must meet to count as good (llm/goodput, llm/goodput-ratio). Kept apart
from spec.model because a predictive spec never needs any of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from isvcperf.spec.schema import duration_field
from isvcperf.util.errors import SpecError

Api = Literal["chat", "completions", "embeddings"]
MIN_TOKENS = 1
"""No prompt or answer is shorter than one token: a length distribution's min when it gives none."""
KSERVE_OPENAI_PREFIX = "/openai/v1"
"""KServe's huggingfaceserver serves the OpenAI routes here (its KSERVE_OPENAI_ROUTE_PREFIX)."""


@dataclass(frozen=True)
class Lengths:
    """A length distribution in tokens: fixed (mean), uniform (min..max), normal or lognormal
    (mean and stddev of the lengths themselves, clipped to min..max)."""

    distribution: Literal["fixed", "uniform", "normal", "lognormal"] = "fixed"
    mean: float | None = None
    stddev: float | None = None
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class SharedPrefix:
    """Prefix-cache studies: prompt i starts with group i % groups' common system prompt of `tokens` tokens."""

    groups: int = 1
    tokens: int = 0


@dataclass(frozen=True)
class Generate:
    """Where prompts come from and how long answers are asked to be.

    source `synthetic` writes `prompts` varied prompts of `input` tokens (approximately: no
    tokenizer is downloaded; the server's usage reports the truth); `payload` takes the
    spec's payload (file, files, jsonl, inline): each body an OpenAI request, or just
    {prompt} / {messages}, or a JSON string, completed with model, stream and max_tokens;
    `sharegpt` reads `payload.file` as a ShareGPT JSON list and sends each conversation's
    first human turn.
    """

    source: Literal["synthetic", "payload", "sharegpt"] = "synthetic"
    prompts: int = 100
    """How many different prompts to write (synthetic); the run cycles through them."""
    input: Lengths = field(default_factory=lambda: Lengths(mean=128))
    output: Lengths = field(default_factory=lambda: Lengths(mean=64))
    """max_tokens of each request is drawn from this (unless the payload sets max_tokens itself)."""
    exact_output: bool = False
    """Ask for exactly max_tokens (sends ignore_eos and min_tokens, as vLLM takes them) and count a
    shorter answer as an error: `truncated stream: N of M tokens`."""
    stream: bool = True
    shared_prefix: SharedPrefix | None = None
    seed: int = 0
    """The synthetic prompts and lengths are the same for the same seed."""
    temperature: float | None = None
    """Sent as is when given; else the server's default."""


@dataclass(frozen=True)
class Goodput:
    """Per-request limits: a request is good when it succeeded and its own TTFT, TPOT and E2E
    latency are within these (an unset limit is not checked; TPOT is not checked for 1-token answers)."""

    ttft: float | None = duration_field(None)
    tpot: float | None = duration_field(None)
    e2e: float | None = duration_field(None)


def check_lengths(lengths: Lengths, where: str) -> None:
    """The fields each distribution needs, in range."""
    kind = lengths.distribution
    if kind == "uniform":
        if lengths.min is None or lengths.max is None:
            raise SpecError(where, "distribution uniform needs min and max (e.g. {distribution: uniform, min: 32, max: 96})")
    elif lengths.mean is None:
        raise SpecError(f"{where}.mean", f"is required for distribution {kind} (tokens, e.g. mean: 64)")
    if kind in ("normal", "lognormal") and (lengths.stddev is None or lengths.stddev <= 0):
        raise SpecError(f"{where}.stddev", f"is required for distribution {kind} and must be more than 0")
    if lengths.mean is not None and lengths.mean < MIN_TOKENS:
        raise SpecError(f"{where}.mean", f"{lengths.mean:g} must be at least {MIN_TOKENS} token")
    for key in ("min", "max"):
        value = getattr(lengths, key)
        if value is not None and value < MIN_TOKENS:
            raise SpecError(f"{where}.{key}", f"{value} must be at least {MIN_TOKENS} token")
    if lengths.min is not None and lengths.max is not None and lengths.min > lengths.max:
        raise SpecError(f"{where}.min", f"{lengths.min} is more than max {lengths.max}")


def resolve_lengths(lengths: Lengths) -> Lengths:
    """A checked distribution with its min filled in (MIN_TOKENS), so drawing from it needs no default of its own."""
    return replace(lengths, min=MIN_TOKENS if lengths.min is None else lengths.min)


def check_generate(generate: Generate, api: str) -> None:
    """Cross-field rules of the generate block for the target's api."""
    if generate.prompts < 1:
        raise SpecError("generate.prompts", f"{generate.prompts} must be at least 1")
    check_lengths(generate.input, "generate.input")
    check_lengths(generate.output, "generate.output")
    prefix = generate.shared_prefix
    if prefix is not None:
        if prefix.groups < 1:
            raise SpecError("generate.sharedPrefix.groups", f"{prefix.groups} must be at least 1")
        if prefix.tokens < 1:
            raise SpecError("generate.sharedPrefix.tokens", f"{prefix.tokens} must be at least 1 (the common prompt's length)")
        if generate.source != "synthetic":
            raise SpecError("generate.sharedPrefix", "applies to source synthetic")
    if api == "embeddings" and generate.exact_output:
        raise SpecError("generate.exactOutput", "applies to chat and completions; embeddings produce no tokens")


def check_goodput(goodput: Goodput) -> None:
    for key in ("ttft", "tpot", "e2e"):
        value = getattr(goodput, key)
        if value is not None and value <= 0:
            raise SpecError(f"goodput.{key}", "must be more than 0s (e.g. 200ms)")
    if goodput.ttft is None and goodput.tpot is None and goodput.e2e is None:
        raise SpecError("goodput", "needs at least one of ttft, tpot, e2e (e.g. {ttft: 200ms, tpot: 50ms})")


def check_prefix(prefix: str) -> None:
    """A route prefix: a path (the error names `openaiPrefix`; its caller places it with SpecError.within)."""
    if not prefix.startswith("/") or " " in prefix:
        raise SpecError("openaiPrefix", f"{prefix!r} must be a path starting with '/' "
                        f"(KServe: {KSERVE_OPENAI_PREFIX}; vLLM, llama.cpp: /v1; LLMInferenceService: /NAMESPACE/NAME/v1)")
