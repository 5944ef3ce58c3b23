"""The `isvcperf` command: the parser, built from one module per command group, and the
exit-code contract every command shares (see cli/help.EPILOG).

Each group module (run, results, compare, kube) adds its commands with `register(sub)`
and names each command's handler; this module turns every error a handler raises that
it knows into one line naming the field, the value and the fix, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from isvcperf import __version__
from isvcperf.cli import compare, kube, results, run
from isvcperf.cli.help import EPILOG, FORMATTER
from isvcperf.cli.stdout import reader_may_leave
from isvcperf.engine.run import Interrupted
from isvcperf.util.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, IsvcperfError, one_line

GROUPS = (run, results, compare, kube)
"""In the order `isvcperf --help` lists their commands."""


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (its default), plus a hint to --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="isvcperf",
        description="Performance-test a model inference service (KServe V2/V1 or any HTTP URL) against "
        "service-level objectives, with Locust doing the load. The exit code is the verdict.",
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"isvcperf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    with reader_may_leave():
        args = build_parser().parse_args(argv)
        try:
            return args.handler(args)
        except IsvcperfError as exc:
            print(f"isvcperf: error: {one_line(str(exc))}", file=sys.stderr)  # it may quote a server's answer
            return exc.exit_code
        except Interrupted:
            print("isvcperf: interrupted; partial result written", file=sys.stderr)
            return EXIT_INTERRUPTED
        except KeyboardInterrupt:
            print("isvcperf: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
