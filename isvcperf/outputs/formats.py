"""The report formats and their file names: what a command's flags offer and where a run's reports
go, without loading the templates and charts that render them (isvcperf.report.render)."""

from __future__ import annotations

from collections.abc import Sequence

FORMATS = ("text", "html", "json", "markdown", "junit")
DEFAULT_FORMATS = ("text", "html", "json")
FILES = {"json": "result.json", "text": "report.txt", "html": "report.html", "markdown": "report.md",
         "junit": "junit.xml"}
COMPARE_FORMATS = ("text", "html", "markdown")
ALIASES = {"md": "markdown"}
"""Names people guess for a format (the file is report.md), accepted wherever a format is named."""
ALIAS_NOTE = ", ".join(f"{alias}: {fmt}" for alias, fmt in ALIASES.items())
"""The aliases as --help says them: `md: markdown`."""


def format_name(value: str) -> str:
    """A format as given on the command line, an alias resolved: argparse's `type=`, so the choices
    are checked, and the rest of the program sees, the format's own name."""
    return ALIASES.get(value, value)


def choices(formats: Sequence[str]) -> tuple[str, ...]:
    """`formats` with each one's aliases after it, as a flag's choices (and so in its --help and errors)."""
    return tuple(name for fmt in formats for name in (fmt, *(a for a, of in ALIASES.items() if of == fmt)))
