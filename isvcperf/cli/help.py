"""What every command's help shares: the exit codes, worded for what each command does, and
the formatter that keeps the epilogs' and examples' line breaks.

The codes are the same for every command (README "Commands"); a command's help lists only
the ones it can return, in its own words, so `validate --help` does not promise a verdict
on SLOs it never evaluates. `--allow-invalid`, which changes code 1's meaning, is defined
here once for every command that runs a test (run, launch, k launch and its in-cluster job).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from isvcperf.outputs.formats import ALIAS_NOTE, choices, format_name

FORMATTER = argparse.RawDescriptionHelpFormatter

BAD_INPUT = (2, "bad input: spec, flags, payload")
NO_CLUSTER = (3, "could not run: the cluster's API unreachable or refused")


def exit_codes(*rows: tuple[int, str]) -> str:
    """An `exit codes:` epilog with one line per code."""
    return "exit codes:\n" + "".join(f"  {code:<4} {meaning}\n" for code, meaning in rows)


EPILOG = exit_codes(
    (0, "ran, and every SLO holds"),
    (1, "ran, and an SLO (or an assert condition) failed, or the measurement is invalid (unless --allow-invalid)"),
    BAD_INPUT,
    (3, "could not run: target not ready in time, workers did not connect, port taken"),
    (130, "interrupted (what was measured is still written)"),
)
"""The codes of the commands that run a test and judge it."""


def add_allow_invalid(p: argparse.ArgumentParser) -> None:
    """--allow-invalid: the exit code follows the SLOs even when the measurement is invalid."""
    p.add_argument("--allow-invalid", action="store_true",
                   help="exit with the SLO verdict's code even when the measurement is invalid (the reports "
                   "still say invalid); without it an invalid measurement exits 1")


def add_output_option(p: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    """-o/--output: one of `formats` or an alias of one (md), the alias resolved before the command sees it."""
    p.add_argument("-o", "--output", choices=choices(formats), type=format_name, default="text",
                   help=f"format ({ALIAS_NOTE}; default text)")
