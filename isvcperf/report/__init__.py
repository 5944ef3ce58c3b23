"""Reports rendered from a Result: a terminal-friendly text report, a self-contained HTML page
with charts, JSON, Markdown (a GitHub job summary) and JUnit XML (one test case per SLO).

They read only the Result, so `isvcperf report` on a stored result.json prints exactly
what the run printed. The renderer (Jinja2, the charts) is imported on first use of
`render` or `write_reports`, so a command that only names the formats starts fast.
"""

from __future__ import annotations

from typing import Any

from isvcperf.report.formats import DEFAULT_FORMATS, FORMATS

__all__ = ["DEFAULT_FORMATS", "FORMATS", "render", "write_reports"]


def __getattr__(name: str) -> Any:
    if name in ("render", "write_reports"):
        from isvcperf.report import render as module

        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
