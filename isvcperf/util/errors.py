"""The errors isvcperf turns into exit codes.

Every failure a user can cause or meet is one of these, raised with a message that names
the field or thing at fault and what to do; the CLI prints the message (never a
traceback) and exits with the class's code, so scripts can tell bad input from a target
that was not there.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SLO_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_COULD_NOT_RUN = 3
EXIT_INTERRUPTED = 130


class IsvcperfError(Exception):
    """Base class: an error with a user-facing message and an exit code."""

    exit_code = EXIT_COULD_NOT_RUN


class SpecError(IsvcperfError):
    """Bad input: the spec, a flag, a payload or a stored result (exit 2)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        """The dotted path of the field at fault (`load.users`, `endpoints[0].url`), or "" for the input as a whole."""
        self.message = message
        """What is wrong and what to do, without the field."""
        super().__init__(one_line(f"{field}: {message}" if field else message))

    def within(self, prefix: str) -> SpecError:
        """The same error one level down: `url` checked inside `endpoints[0]` is `endpoints[0].url`.

        A check of a part of the spec names fields relative to that part; its caller, who knows
        where the part sits, places the error there.
        """
        field = f"{prefix}.{self.field}" if self.field and not self.field.startswith("[") else prefix + self.field
        return SpecError(field, self.message)


def one_line(text: str) -> str:
    """`text` with control characters escaped (a newline becomes \\n), so a message naming
    whatever the user typed stays one line and cannot drive the terminal."""
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


class CouldNotRun(IsvcperfError):
    """The test could not run: target not ready, workers missing, port taken (exit 3)."""

    exit_code = EXIT_COULD_NOT_RUN
