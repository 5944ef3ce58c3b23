"""`isvcperf launch --set llm.*`: the Iter8-style task for generative targets → a protocol-openai spec."""

from __future__ import annotations

import pytest

from isvcperf import spec
from isvcperf.spec.iter8 import launch_data
from isvcperf.util.errors import SpecError

CHAT = "http://127.0.0.1:8080/v1/chat/completions"
MINIMAL = [f"llm.url={CHAT}", "llm.model=tiny-llm"]


def launch(*flags: str) -> spec.RunSpec:
    return spec.from_data(launch_data(list(flags)), base_dir="/tmp")


def refused(*flags: str) -> SpecError:
    with pytest.raises(SpecError) as exc:
        spec.from_data(launch_data(list(flags)), base_dir="/tmp")
    return exc.value


def test_a_generative_launch_in_iter8_style() -> None:
    run = launch("tasks={ready,llm,assess}", *MINIMAL, "ready.timeout=120s", "llm.inputTokensMin=32",
                 "llm.inputTokensMax=96", "llm.outputTokens=64", "llm.exactOutput=true", "llm.prompts=64",
                 "llm.goodput.ttft=200ms", "llm.goodput.tpot=50ms", "llm.connections=8", "llm.numRequests=64",
                 "llm.warmupNumRequests=4", "assess.SLOs.upper.llm/ttft-p99=1000",
                 "assess.SLOs.lower.llm/goodput-ratio=0.9")
    assert (run.target.protocol, run.target.api, run.target.url, run.target.model) == ("openai", "chat", CHAT,
                                                                                        "tiny-llm")
    assert (run.ready.enabled, run.ready.timeout) == (True, 120.0)
    generate = run.generate
    assert generate is not None and generate.source == "synthetic" and generate.prompts == 64
    assert (generate.input.distribution, generate.input.min, generate.input.max) == ("uniform", 32, 96)
    assert (generate.output.distribution, generate.output.mean) == ("fixed", 64)
    assert generate.exact_output
    assert run.goodput is not None and (run.goodput.ttft, run.goodput.tpot, run.goodput.e2e) == (0.2, 0.05, None)
    assert (run.load.users, run.load.requests, run.load.rate, run.load.warmup.requests) == (8, 64, 0.0, 4)
    assert {name: (slo.upper, slo.lower) for name, slo in run.slos.items()} == {
        "llm/ttft-p99": (1000.0, None), "llm/goodput-ratio": (None, 0.9)}


def test_defaults_are_a_closed_loop_of_4_connections_and_100_requests() -> None:
    run = launch(*MINIMAL)
    assert (run.load.users, run.load.requests, run.load.rate) == (4, 100, 0.0)
    assert not run.ready.enabled  # as for http: readiness only when the ready task runs
    assert launch(*MINIMAL, "llm.duration=30s").load.requests is None
    assert launch(*MINIMAL, "llm.qps=2").load.rate == 2.0


def test_base_url_api_and_prefix() -> None:
    run = launch("llm.baseURL=http://127.0.0.1:8080", "llm.api=completions", "llm.openaiPrefix=/v1",
                 "llm.model=7", "llm.headers.Authorization=Bearer t", "llm.timeout=5s")
    assert run.target.url == "http://127.0.0.1:8080/v1/completions" and run.target.api == "completions"
    assert run.target.model == "7"  # a text input, as Iter8 reads its http task's
    assert run.target.headers == {"Authorization": "Bearer t"} and run.target.timeout == 5.0
    kserve = launch("llm.baseURL=http://127.0.0.1:8080", "llm.model=m")
    assert kserve.target.url == "http://127.0.0.1:8080/openai/v1/chat/completions"


@pytest.mark.parametrize(("flags", "distribution"), [
    (["llm.inputTokens=128"], "fixed"),
    (["llm.inputTokens=128", "llm.inputTokensStddev=16"], "normal"),
    (["llm.inputTokensMin=8", "llm.inputTokensMax=16"], "uniform"),
    (["llm.inputTokens=128", "llm.inputTokensStddev=16", "llm.inputDistribution=lognormal"], "lognormal"),
])
def test_the_length_distribution_follows_the_keys_given(flags: list[str], distribution: str) -> None:
    generate = launch(*MINIMAL, *flags).generate
    assert generate is not None and generate.input.distribution == distribution


def test_a_payload_file_is_sent_unless_a_source_says_otherwise(tmp_path: object) -> None:
    data = launch_data([*MINIMAL, "llm.payloadFile=prompts.jsonl"])
    assert data["generate"]["source"] == "payload" and data["payload"] == {"file": "prompts.jsonl"}
    data = launch_data([*MINIMAL, "llm.payloadFile=sg.json", "llm.source=sharegpt"])
    assert data["generate"]["source"] == "sharegpt"


def test_shared_prefix_seed_and_temperature() -> None:
    generate = launch(*MINIMAL, "llm.sharedPrefixGroups=4", "llm.sharedPrefixTokens=256", "llm.seed=3",
                      "llm.temperature=0.5", "llm.stream=false").generate
    assert generate is not None and generate.shared_prefix is not None
    assert (generate.shared_prefix.groups, generate.shared_prefix.tokens) == (4, 256)
    assert (generate.seed, generate.temperature, generate.stream) == (3, 0.5, False)


@pytest.mark.parametrize(("flags", "key", "words"), [
    (["llm.maxTokens=64"], "llm.maxTokens", "llm.outputTokens"),
    (["llm.modle=x"], "llm.modle", "did you mean 'model'"),
    (["llm.goodput.ttfx=1s"], "llm.goodput.ttfx", "did you mean 'ttft'"),
    (["llm.goodput=1s"], "llm.goodput", "llm.goodput.ttft=200ms"),
    (["llm.endpoints.a.url=x"], "llm.endpoints", "one target per test"),
    (["http.url=http://127.0.0.1:8080/v2/models/m/infer"], "http.url", "the tasks run llm"),
    (["tasks={llm,http}"], "tasks", "has http and llm"),
    (["llm.goodput.ttft=0s"], "goodput.ttft", "more than 0s"),
    (["llm.outputTokensStddev=4"], "generate.output.mean", "is required for distribution normal"),
])
def test_bad_llm_keys_name_the_key_and_the_fix(flags: list[str], key: str, words: str) -> None:
    error = refused(*MINIMAL, *flags)
    assert error.field == key and words in str(error)


def test_target_and_model_are_required() -> None:
    assert refused("llm.model=m").field == "llm.url"
    assert refused(f"llm.url={CHAT}").field == "llm.model"
    run = launch("tasks={ready,llm}", "ready.isvc=tiny", "ready.namespace=ml")
    assert (run.target.isvc, run.target.model, run.target.protocol) == ("tiny", "tiny", "openai")
