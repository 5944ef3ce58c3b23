"""Notifications: posted to a real local HTTP receiver after the reports are written; a failed
one is a recorded warning, never a different verdict."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from synthetic_results import staged

from isvcperf import spec
from isvcperf.outputs.publish import Publisher
from isvcperf.results.result import load_result
from isvcperf.util.errors import SpecError

SPEC = {"target": {"url": "http://127.0.0.1:9/v2/models/iris/infer"}, "payload": {"inline": {}}}


class Receiver:
    """What the webhook receiver got: one (path, headers, JSON body) per POST."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        self.status = 200


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.posts.append((self.path, dict(self.headers), json.loads(body)))
            self.send_response(got.status)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"nope ok")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def notify(**section: Any) -> spec.Notify:
    run_spec = spec.from_data({**SPEC, "notify": section})
    assert run_spec.notify is not None
    return run_spec.notify


def test_slack_message_after_the_reports(receiver: tuple[str, Receiver], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url, got = receiver
    monkeypatch.setenv("HOOK", url + "/services/T0/B0/x")
    printed: list[str] = []
    result = staged()
    Publisher(tmp_path, ["html", "markdown"], printed.append, notify(url="${HOOK}"))(result)
    assert len(got.posts) == 1
    path, headers, body = got.posts[0]
    assert path == "/services/T0/B0/x"
    assert headers["Content-Type"] == "application/json" and "Authorization" not in headers
    assert body["text"].startswith("isvcperf iris-soak: FAILED, 1 of 3 SLOs not satisfied")
    block = body["blocks"][0]["text"]["text"]
    assert "✗ `http/error-rate` 0.004975 (limit ≤ 0.001)" in block
    assert f"report: {(tmp_path / 'report.html').resolve()}" in block
    assert result.warnings == staged().warnings  # nothing added
    assert any(line.startswith("Reports: ") for line in printed)


def test_github_dispatch_with_token(receiver: tuple[str, Receiver], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    url, got = receiver
    monkeypatch.setenv("DISPATCH_URL", url + "/repos/o/r/dispatches")
    monkeypatch.setenv("GH_TOKEN", "s3cret")
    section = {"url": "${DISPATCH_URL}", "format": "github", "token": "${GH_TOKEN}", "on": "failure"}
    Publisher(tmp_path, echo=lambda _: None, notify=notify(**section))(staged())
    _, headers, body = got.posts[0]
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["Accept"] == "application/vnd.github+json"
    assert body["event_type"] == "isvcperf-failed"
    payload = body["client_payload"]
    assert payload["verdict"] == "failed" and len(payload) <= 10  # GitHub allows 10 top-level keys
    assert payload["slos"][1] == {"metric": "http/error-rate", "value": pytest.approx(0.004975, abs=1e-6),
                                  "satisfied": False, "upper": 0.001, "lower": None}
    assert "s3cret" not in (tmp_path / "result.json").read_text()


@pytest.mark.parametrize(("on", "sent_for_failed", "sent_for_passed"),
                         [("always", True, True), ("failure", True, False), ("success", False, True)])
def test_on(on: str, sent_for_failed: bool, sent_for_passed: bool, receiver: tuple[str, Receiver], tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> None:
    url, got = receiver
    monkeypatch.setenv("HOOK", url)
    publish = Publisher(tmp_path, ["json"], lambda _: None, notify(url="${HOOK}", on=on))
    failed = staged()
    passed = dataclasses.replace(failed, slos=[s for s in failed.slos if s.satisfied])
    publish(failed)
    publish(passed)
    verdicts = [body["text"].split(": ")[1].split(",")[0] for _, _, body in got.posts]
    assert verdicts == ["FAILED"] * sent_for_failed + ["PASSED"] * sent_for_passed


def test_a_failed_notification_is_a_recorded_warning(receiver: tuple[str, Receiver], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url, got = receiver
    got.status = 500
    monkeypatch.setenv("HOOK", url)
    printed: list[str] = []
    result = staged()
    Publisher(tmp_path, ["text", "html"], printed.append, notify(url="${HOOK}"))(result)
    warning = "slack notification to ${HOOK} failed: HTTP 500 nope ok"
    assert result.warnings[-1] == warning
    assert result.verdict == "failed"
    stored = load_result(tmp_path)
    assert stored.warnings[-1] == warning and stored.verdict == "failed"
    assert warning in (tmp_path / "report.html").read_text()
    assert warning in "\n".join(printed)
    assert url not in "\n".join(printed)  # the secret URL itself is never printed


def test_unreachable_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK", "http://127.0.0.1:9/hook")  # discard port: nothing listens
    result = staged()
    Publisher(tmp_path, ["json"], lambda _: None, notify(url="${HOOK}"))(result)
    assert result.warnings[-1].startswith("slack notification to ${HOOK} failed: ")
    assert result.verdict == "failed"


def test_missing_environment_is_bad_input_before_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(SpecError, match=r"^notify.url: environment variable NOPE is not set"):
        Publisher(tmp_path, notify=notify(url="${NOPE}"))


@pytest.mark.parametrize(
    ("section", "message"),
    [({"url": "https://hooks.slack.com/services/x"}, r"^notify.url: .* must come from the environment"),
     ({"url": "${H}", "format": "github"}, r"^notify.token: is required for format github"),
     ({"url": "${H}", "token": "abc"}, r"^notify.token: must be an environment variable reference"),
     ({"url": "${H}", "on": "sometimes"}, r"^notify.on: \"sometimes\" is not one of always, failure, success")],
)
def test_bad_notify_sections(section: dict[str, str], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        spec.from_data({**SPEC, "notify": section})


def test_yaml_on_key(tmp_path: Path) -> None:
    """`on:` unquoted is YAML 1.1's boolean true; the spec still reads it as the field."""
    path = tmp_path / "spec.yaml"
    path.write_text("target: {url: 'http://127.0.0.1:9/v2/models/iris/infer'}\npayload: {inline: {}}\n"
                    "notify:\n  url: ${HOOK}\n  on: failure\n")
    loaded = spec.load_file(path)
    assert loaded.notify is not None and loaded.notify.on == "failure"
