"""`${VAR}` references in spec values (header values, notify tokens), expanded in one place.

Secrets stay out of files: the spec holds the reference, and each process (the CLI, and
every Locust process, which gets the reference in its config) expands it from its own
environment when it needs the value.
"""

from __future__ import annotations

import os
import re

from isvcperf.util.errors import SpecError

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: str, field_path: str) -> str:
    """Expand ${VAR} from the environment; a missing variable is an error naming it."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise SpecError(field_path, f"environment variable {name} is not set (export it or remove ${{{name}}})")
        return os.environ[name]

    return ENV_REF.sub(repl, value)


