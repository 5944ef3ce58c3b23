"""Where a finished run's Result goes: the report files, the terminal and, when the spec
asks, a webhook.

One place for it, so a completed, interrupted and could-not-run result are all published
the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from isvcperf.outputs.formats import DEFAULT_FORMATS
from isvcperf.outputs.notify import Webhook
from isvcperf.results.result import Result
from isvcperf.spec.model import Notify

_NAMES = {"html": "HTML", "text": "text", "json": "result", "markdown": "Markdown", "junit": "JUnit"}


class Publisher:
    """Writes the reports in `formats` into `out_dir`, notifies, and prints the text report.

    Made before the run starts, so a notify section whose environment variables are
    missing stops the run as bad input instead of being found out at the end.
    """

    def __init__(self, out_dir: Path, formats: Sequence[str] = DEFAULT_FORMATS,
                 echo: Callable[[str], None] = print, notify: Notify | None = None) -> None:
        self.out_dir = out_dir
        self.formats = tuple(formats)
        self.echo = echo
        self.webhook = Webhook.resolve(notify) if notify else None

    def __call__(self, result: Result) -> dict[str, Path]:
        from isvcperf.report.render import render, write_reports  # the templates load when a run ends, not before

        paths = write_reports(result, self.out_dir, self.formats)
        if self.webhook is not None and self.webhook.wanted(result):
            problem = self.webhook.send(result, str(paths.get("html", paths["json"]).resolve()))
            if problem:
                result.warnings.append(problem)
                paths = write_reports(result, self.out_dir, self.formats)
        self.echo("")
        self.echo(render(result, "text"))
        self.echo("Reports: " + ", ".join(f"{path} ({_NAMES[fmt]})" for fmt, path in paths.items()))
        return paths
