"""Reports rendered from a Result: a terminal-friendly text report, a self-contained HTML page and JSON.

They read only the Result, so `isvcperf report` on a stored result.json prints exactly
what the run printed.
"""

from isvcperf.report.render import FORMATS, render, write_reports

__all__ = ["FORMATS", "render", "write_reports"]
