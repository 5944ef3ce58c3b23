"""Generative specs: the URL layout, bad input as one-line errors naming the field, and the bodies written."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from isvcperf import spec
from isvcperf.kserve import openai
from isvcperf.payload.bodies import load_payload
from isvcperf.payload.openai import draw
from isvcperf.spec.generative import MIN_TOKENS, Lengths, resolve_lengths
from isvcperf.spec.resolve import resolve
from isvcperf.util.errors import SpecError

BASE: dict[str, Any] = {"name": "llm", "target": {"baseUrl": "http://127.0.0.1:8000", "protocol": "openai",
                                                  "model": "m"}}


def load(data: dict[str, Any], tmp_path: Path | None = None) -> spec.RunSpec:
    merged = {**BASE, **data, "target": {**BASE["target"], **data.get("target", {})}}
    return spec.from_data(merged, base_dir=str(tmp_path or "."))


def test_urls_follow_kserve_and_the_plain_servers() -> None:
    assert load({}).target.url == "http://127.0.0.1:8000/openai/v1/chat/completions"  # KServe's prefix by default
    assert load({"target": {"openaiPrefix": "/v1", "api": "completions"}}).target.url == \
        "http://127.0.0.1:8000/v1/completions"
    assert openai.api_url("http://gw", openai.llm_isvc_prefix("ns", "llama"), "chat") == \
        "http://gw/ns/llama/v1/chat/completions"
    assert openai.models_url("http://gw/ns/llama/v1/chat/completions") == "http://gw/ns/llama/v1/models"
    given = load({"target": {"url": "http://h:1/v1/embeddings", "baseUrl": None}})
    assert given.target.api == "embeddings"


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"target": {"model": None}}, "target.model", "every request names the model"),
    ({"target": {"openaiPrefix": "v1"}}, "target.openaiPrefix", "starting with '/'"),
    ({"target": {"url": "http://h/v1/generate", "baseUrl": None}}, "target.url", "OpenAI path"),
    ({"generate": {"output": {"distribution": "uniform", "min": 8}}}, "generate.output", "needs min and max"),
    ({"generate": {"input": {"distribution": "normal", "mean": 8}}}, "generate.input.stddev", "is required"),
    ({"generate": {"source": "sharegpt"}}, "payload", "is required for generate.source sharegpt"),
    ({"goodput": {"ttft": "0s"}}, "goodput.ttft", "more than 0s"),
    ({"slos": {"llm/ttft-p99": {"upper": 100}, "llm/itl-median": {"upper": 1}}}, "slos.llm/itl-median", "llm/ metrics"),
])
def test_bad_generative_input_names_the_field(data: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        load(data)
    assert caught.value.field == field and words in str(caught.value) and "\n" not in str(caught.value)


def test_llm_metrics_belong_to_protocol_openai() -> None:
    with pytest.raises(SpecError, match="name it http/"):
        spec.from_data({"target": {"url": "http://h/v2/models/m/infer"}, "payload": {"inline": {}},
                        "slos": {"llm/ttft-p99": {"upper": 1}}})
    with pytest.raises(SpecError, match="applies to protocol openai"):
        spec.from_data({"target": {"url": "http://h/v2/models/m/infer"}, "payload": {"inline": {}},
                        "goodput": {"ttft": "1s"}})


def test_synthetic_bodies_are_varied_repeatable_and_ask_for_usage() -> None:
    run = load({"generate": {"prompts": 20, "exactOutput": True, "output": {"distribution": "fixed", "mean": 32},
                             "sharedPrefix": {"groups": 2, "tokens": 16}}})
    bodies = [json.loads(b) for b in load_payload(run).endpoints[0]]
    again = [json.loads(b) for b in load_payload(run).endpoints[0]]
    assert bodies == again and len(bodies) == 20
    users = [b["messages"][-1]["content"] for b in bodies]
    assert len({u.split()[1] + u.split()[2] for u in users}) > 15  # no common prefix beyond the serial
    assert len({b["messages"][0]["content"] for b in bodies}) == 2  # two shared system prompts
    assert all(b["max_tokens"] == b["min_tokens"] == 32 and b["ignore_eos"] for b in bodies)
    assert all(b["stream"] and b["stream_options"] == {"include_usage": True} and b["model"] == "m" for b in bodies)


def test_length_distributions_stay_in_their_bounds() -> None:
    rng = random.Random(1)
    for given in (Lengths("uniform", min=5, max=9), Lengths("normal", mean=50, stddev=30, min=10, max=80),
                  Lengths("lognormal", mean=100, stddev=80, max=400)):
        lengths = resolve_lengths(given)
        values = [draw(lengths, rng) for _ in range(2000)]
        assert min(values) >= (given.min or MIN_TOKENS) and max(values) <= (given.max or 10**9)
    lognormal = [draw(resolve_lengths(Lengths("lognormal", mean=100, stddev=50)), rng) for _ in range(20000)]
    assert 95 <= sum(lognormal) / len(lognormal) <= 105


def test_lengths_take_their_min_from_the_resolved_spec_not_from_the_drawing() -> None:
    """payload.openai once fell back to literals (mean 1.0, min 1) of its own; spec.resolve fills in the min once."""
    run = load({"generate": {"output": {"distribution": "normal", "mean": 2, "stddev": 5}}})
    assert run.generate is not None and run.generate.output.min == MIN_TOKENS == run.generate.input.min
    assert resolve(run, run.base_dir) == run
    bodies = [json.loads(body) for body in load_payload(run).endpoints[0]]
    assert min(b["max_tokens"] for b in bodies) == MIN_TOKENS  # a normal around 2 tokens reaches below 1: clipped
    with pytest.raises(AssertionError, match=r"spec\.resolve"):
        draw(Lengths("fixed", mean=8), random.Random(0))  # an unresolved distribution is a bug, not a default


def test_payload_and_sharegpt_sources(tmp_path: Path) -> None:
    (tmp_path / "prompts.jsonl").write_text('"hello"\n{"messages": [{"role": "user", "content": "hi"}], '
                                            '"max_tokens": 3}\n')
    run = load({"generate": {"source": "payload"}, "payload": {"jsonl": "prompts.jsonl"}}, tmp_path)
    first, second = (json.loads(b) for b in load_payload(run).endpoints[0])
    assert first["messages"] == [{"role": "user", "content": "hello"}] and first["max_tokens"] == 64
    assert second["max_tokens"] == 3
    (tmp_path / "share.json").write_text(json.dumps([
        {"conversations": [{"from": "human", "value": "Q1"}, {"from": "gpt", "value": "A1"}]},
        {"conversations": [{"from": "gpt", "value": "no human turn"}]},
        {"conversations": [{"from": "human", "value": "Q2"}]},
    ]))
    run = load({"target": {"api": "completions"}, "generate": {"source": "sharegpt"},
                "payload": {"file": "share.json"}}, tmp_path)
    assert [json.loads(b)["prompt"] for b in load_payload(run).endpoints[0]] == ["Q1", "Q2"]
    (tmp_path / "bad.jsonl").write_text('{"input": "x"}\n')
    with pytest.raises(SpecError, match="has no 'messages'"):
        load_payload(load({"generate": {"source": "payload"}, "payload": {"jsonl": "bad.jsonl"}}, tmp_path))
