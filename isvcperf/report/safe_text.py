"""Making text from a result safe for where it is shown.

Error examples and reasons can hold whatever a server answered. In a terminal, control
characters could move the cursor or recolour it; in XML most of them are not even legal;
in a Markdown table a `|` would split a cell and raw HTML would render on GitHub.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def oneline(text: object, limit: int | None = None) -> str:
    """Text safe for a terminal: control characters (newlines, escape sequences) become
    spaces, and it is cut to `limit` characters with an ellipsis."""
    flat = _CONTROL.sub(" ", str(text)).strip()
    if limit is not None and len(flat) > limit:
        return flat[: limit - 1].rstrip() + "…"
    return flat


def markdown_cell(text: object, limit: int | None = None) -> str:
    """Text that stays inside one Markdown table cell and renders literally:
    one line, HTML escaped, the Markdown punctuation that formats or splits cells backslash-escaped."""
    flat = oneline(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)
