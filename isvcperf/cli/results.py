"""`isvcperf report` and `isvcperf assert`: commands that read a stored result, and the rule
that turns a result into the exit code (shared with `run` and the in-cluster `k` family)."""

from __future__ import annotations

import argparse

from isvcperf.cli.commands import help_of
from isvcperf.cli.help import BAD_INPUT, FORMATTER, add_output_option, exit_codes
from isvcperf.report.render import FORMATS, render
from isvcperf.results.assertions import CONDITIONS, check
from isvcperf.results.result import Result, load_result
from isvcperf.util.errors import EXIT_OK, EXIT_SLO_FAILED


def register(sub: argparse._SubParsersAction) -> None:
    """Add `report` and `assert`."""
    report = sub.add_parser("report", help=help_of("report"), formatter_class=FORMATTER,
                            description="Print a stored run (its result.json, or the run's output directory) "
                            "in one of the report formats, e.g. to turn yesterday's run into HTML or JUnit.",
                            epilog=exit_codes((0, "rendered"), (2, "no such result, or not a result.json")))
    report.add_argument("result", metavar="RESULT_OR_DIR", help="a result.json or a run's output directory")
    add_output_option(report, FORMATS)
    report.set_defaults(handler=cmd_report)

    conditions = "".join(f"  {name:<10} {condition.meaning}\n" for name, condition in CONDITIONS.items())
    check_cmd = sub.add_parser("assert", help=help_of("assert"),
                               formatter_class=FORMATTER,
                               description="Check conditions on a stored run and print each one's state; the "
                               "exit code says whether all hold, so a pipeline step can gate on a run made earlier.",
                               epilog="conditions:\n" + conditions + "\n" + exit_codes(
                                   (0, "every condition holds"), (1, "a condition does not hold"), BAD_INPUT))
    check_cmd.add_argument("result", metavar="RESULT_OR_DIR")
    add_condition_option(check_cmd, help="a condition (repeatable)")
    check_cmd.set_defaults(handler=cmd_assert)


def add_condition_option(parser: argparse.ArgumentParser, **kwargs: str) -> None:
    """`-c/--condition`, repeatable, one of the assert conditions."""
    parser.add_argument("-c", "--condition", dest="conditions", action="append", required=True,
                        choices=sorted(CONDITIONS), **kwargs)


def cmd_report(args: argparse.Namespace) -> int:
    """The report exactly as its file would hold it: ending in one newline, not two."""
    text = render(load_result(args.result), args.output)
    print(text, end="" if text.endswith("\n") else "\n")
    return EXIT_OK


def cmd_assert(args: argparse.Namespace) -> int:
    return assert_result(load_result(args.result), args.conditions)


def assert_result(result: Result, conditions: list[str]) -> int:
    """Print each condition's verdict; exit 1 when any does not hold."""
    verdicts = check(result, conditions)
    for condition, holds in verdicts:
        print(f"{condition}: {'satisfied' if holds else 'NOT satisfied'}")
    return EXIT_OK if all(holds for _, holds in verdicts) else EXIT_SLO_FAILED


def exit_code(result: Result, allow_invalid: bool = False) -> int:
    """The verdict as an exit code (could-not-run and interrupted are raised, not returned).

    An invalid measurement exits 1 like a failed SLO, since a figure nobody can stand behind
    must not pass a gate; `allow_invalid` (--allow-invalid) returns the SLO verdict's code
    instead, for those who knowingly accept it (the reports still say invalid)."""
    verdict = result.slo_verdict if allow_invalid else result.verdict
    return EXIT_OK if verdict == "passed" else EXIT_SLO_FAILED
