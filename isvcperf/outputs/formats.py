"""The report formats and their file names: what a command's flags offer and where a run's reports
go, without loading the templates and charts that render them (isvcperf.report.render)."""

from __future__ import annotations

FORMATS = ("text", "html", "json", "markdown", "junit")
DEFAULT_FORMATS = ("text", "html", "json")
FILES = {"json": "result.json", "text": "report.txt", "html": "report.html", "markdown": "report.md",
         "junit": "junit.xml"}
COMPARE_FORMATS = ("text", "html", "markdown")
