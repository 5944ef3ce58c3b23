"""The CLI's help and one-line messages, read as a newcomer reads them (issue 12, items 13 and 14)."""

from __future__ import annotations

import pytest

from isvcperf import spec
from isvcperf.cli.main import build_parser, main
from isvcperf.engine.run import load_text

VERDICT_FOOTER = "0    ran, and every SLO holds"


def help_of(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*command, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["validate", "report", "assert", "list", "delete"])
def test_every_command_has_a_description(capsys: pytest.CaptureFixture[str], command: str) -> None:
    text = help_of(capsys, command)
    description = text.split("\n\n")[1]
    assert not description.startswith(("positional arguments", "options")), text
    assert len(description) > 60


@pytest.mark.parametrize("command", ["validate", "report", "list", "delete", "render", "compare"])
def test_the_slo_verdict_footer_only_where_a_verdict_is_given(capsys: pytest.CaptureFixture[str], command: str) -> None:
    text = help_of(capsys, command)
    assert VERDICT_FOOTER not in text and "exit codes:" in text


@pytest.mark.parametrize("command", ["run", "launch", "sweep"])
def test_commands_that_judge_slos_keep_the_footer(capsys: pytest.CaptureFixture[str], command: str) -> None:
    assert VERDICT_FOOTER in help_of(capsys, command)


def test_k_help_hides_the_runner_entry_point(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys, "k")
    assert "SUPPRESS" not in text and "job-run" not in text and "launch" in text


def test_run_help_says_the_cluster_flags_are_for_kubernetes(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys, "run")
    section = text.split("with runner: kubernetes (or target.isvc):\n", 1)[1].split("\n\n", 1)[0]
    assert "--context" in section and "--namespace" in section and "--keep" in section


def test_validate_of_an_inferenceservice_target(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "isvc.yaml"
    path.write_text("target: {isvc: iris}\npayload: {inline: {}}\nslos: {http/error-count: {upper: 0}}\n")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: valid (v2 InferenceService iris, 1 SLO)\n"


def test_validate_warns_before_a_run_asks_more_workers_than_a_master_serves(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "crowded.yaml"
    path.write_text("target: {isvc: iris}\npayload: {inline: {}}\nload: {users: 400, workers: 300}\n"
                    "validity: {maxWorkersPerMaster: 250}\n")
    assert main(["validate", str(path)]) == 0  # advice, not an error
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith(f"{path}: warning: 300 worker processes report to one Locust master, which serves "
                               "250 (validity.maxWorkersPerMaster): past it the master's CPU")


URL = "http://127.0.0.1:9/v2/models/m/infer"


@pytest.mark.parametrize(
    ("load", "text"),
    [
        ({"users": 8, "stages": [{"duration": "5s", "rate": 10}, {"duration": "5s", "rate": 40}]},
         "10s, 8 users, open loop in 2 stages up to 40 req/s"),
        ({"users": 8, "stages": [{"duration": "5s", "users": 2}, {"duration": "5s", "users": 8}]},
         "10s, 8 users, closed loop in 2 stages"),
        ({"users": 2, "requests": 50, "rate": 5}, "50 requests, 2 users, open loop at 5 req/s"),
        ({"users": 2, "duration": "30s"}, "30s, 2 users, closed loop"),
    ],
)
def test_start_banner_names_the_load_model(load: dict, text: str) -> None:
    assert load_text(spec.from_data({"target": {"url": URL}, "payload": {"inline": {}}, "load": load})) == text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run"], "isvcperf: error: --url: give a spec file, or --url"),
        (["run", "--url", URL, "--slo", "p99<50"], "isvcperf: error: --slo: 'p99<50' is not METRIC<=LIMIT"),
        (["run", "spec.yaml", "-c", "3"], "isvcperf: error: --concurrency: --concurrency describes a run without a spec"),
    ],
)
def test_quick_run_mistakes_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1



@pytest.mark.parametrize("command,given,flag", [(["run"], ["spec.yaml"], "--report"), (["report"], ["out"], "-o"),
                                                (["k", "report"], [], "-o"), (["compare"], ["a", "b"], "-o")])
def test_md_is_markdown_wherever_a_format_is_named(capsys: pytest.CaptureFixture[str], command: list[str],
                                                   given: list[str], flag: str) -> None:
    """People guess `md` for Markdown (the file is report.md): accepted, resolved, and listed in --help."""
    args = build_parser().parse_args([*command, *given, flag, "md"])
    assert (args.reports if flag == "--report" else args.output) in (["markdown"], "markdown")
    assert "md: markdown" in help_of(capsys, *command)
