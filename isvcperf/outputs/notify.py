"""Tell a webhook how the run went: Slack-compatible JSON or a GitHub repository_dispatch.

The URL and token come from the environment (the spec holds only `${VAR}` references, so
result.json never holds a secret). Sending happens after the reports are written, and a
notification that fails is a warning on the result, never a different verdict.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from isvcperf.report.render import view
from isvcperf.results.result import Result
from isvcperf.spec.model import Notify
from isvcperf.util.env import expand_env

TIMEOUT_S = 10.0
ICONS = {"passed": ":white_check_mark:", "failed": ":x:", "invalid": ":warning:", "interrupted": ":warning:", "could-not-run": ":no_entry:"}


@dataclass(frozen=True)
class Webhook:
    """A Notify section with its environment references resolved (at start-up, so a missing
    variable is bad input before any load is sent)."""

    notify: Notify
    url: str
    token: str | None

    @classmethod
    def resolve(cls, notify: Notify) -> Webhook:
        token = expand_env(notify.token, "notify.token") if notify.token else None
        return cls(notify, expand_env(notify.url, "notify.url"), token)

    def wanted(self, result: Result) -> bool:
        """`on`: always, on failure (any verdict but passed) or on success."""
        passed = result.verdict == "passed"
        return self.notify.on == "always" or (self.notify.on == "success") == passed

    def send(self, result: Result, report: str = "") -> str | None:
        """POST the verdict; None when the receiver accepted it, else what went wrong (without the URL)."""
        body = github_body(result, report) if self.notify.format == "github" else slack_body(result, report)
        headers = {"Content-Type": "application/json", "User-Agent": "isvcperf"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.notify.format == "github":
            headers["Accept"] = "application/vnd.github+json"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        where = f"{self.notify.format} notification to {self.notify.url}"
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            text = exc.read(200).decode("utf-8", "replace")
            return f"{where} failed: HTTP {exc.code} {text}".strip()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"{where} failed: {getattr(exc, 'reason', None) or exc}"
        return None


def headline(result: Result) -> str:
    detail = view(result)["verdict_detail"]
    reason = f" ({result.reason})" if result.reason else ""
    return f"isvcperf {result.name}: {result.verdict.upper()}, {detail}{reason}"


def slack_body(result: Result, report: str) -> dict[str, Any]:
    """Slack incoming-webhook JSON: `text` for notifications, one mrkdwn block with the SLOs."""
    lines = [f"{ICONS.get(result.verdict, '')} *{headline(result)}*"]
    for slo in view(result)["slos"]:
        lines.append(f"{'✓' if slo.satisfied else '✗'} `{slo.metric}` {slo.value} (limit {slo.limit})")
    if report:
        lines.append(f"report: {report}")
    return {"text": headline(result), "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}


def github_body(result: Result, report: str) -> dict[str, Any]:
    """A repository_dispatch event: `isvcperf-passed` / `isvcperf-failed` / ..., the figures in client_payload."""
    return {
        "event_type": f"isvcperf-{result.verdict}",
        "client_payload": {
            "name": result.name,
            "verdict": result.verdict,
            "summary": headline(result),
            "slos": [{"metric": v.metric, "value": v.value, "satisfied": v.satisfied, "upper": v.upper,
                      "lower": v.lower} for v in result.slos],
            "metrics": result.metrics,
            "report": report,
        },
    }
