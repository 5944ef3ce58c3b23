"""Reports rendered from a Result: a terminal-friendly text report, a self-contained HTML page
with charts, JSON, Markdown (a GitHub job summary) and JUnit XML (one test case per SLO).

They read only the Result, so `isvcperf report` on a stored result.json prints exactly
what the run printed.
"""

from isvcperf.report.render import DEFAULT_FORMATS, FORMATS, render, write_reports

__all__ = ["DEFAULT_FORMATS", "FORMATS", "render", "write_reports"]
