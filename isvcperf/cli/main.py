"""The `isvcperf` command: the parser, built from one module per command group, and the
exit-code contract every command shares (see cli/help.EPILOG).

Each group module (run, results, compare, kube) adds its commands with `register(sub)`
and names each command's handler; this module turns every error a handler raises that
it knows into one line naming the field, the value and the fix, never a traceback.

Only the module of the command given is imported (cli/commands.py lists which is whose):
the others are listed by name and help, so `isvcperf --help` and a run start without
loading the Kubernetes client, gRPC or report templates they do not use.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from isvcperf import __version__
from isvcperf.cli.commands import COMMANDS
from isvcperf.cli.help import EPILOG, FORMATTER
from isvcperf.cli.stdout import reader_may_leave
from isvcperf.util.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, IsvcperfError, one_line


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (its default), plus a hint to --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given `argv`, only the module of the command in it is loaded, the other
    commands are names with their help."""
    parser = Parser(
        prog="isvcperf",
        description="Performance-test a model inference service (KServe V2/V1 or any HTTP URL) against "
        "service-level objectives, with Locust doing the load. The exit code is the verdict.",
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"isvcperf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    wanted = next((arg for arg in argv if not arg.startswith("-")), None) if argv is not None else None
    modules = [COMMANDS[wanted].module] if wanted in COMMANDS else [] if argv is not None else list(
        dict.fromkeys(command.module for command in COMMANDS.values()))
    for module in modules:
        importlib.import_module(module).register(sub)
    for name, command in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=command.help)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with reader_may_leave():
        args = build_parser(argv).parse_args(argv)
        try:
            return args.handler(args)
        except IsvcperfError as exc:
            print(f"isvcperf: error: {one_line(str(exc))}", file=sys.stderr)  # it may quote a server's answer
            return exc.exit_code
        except KeyboardInterrupt:
            print("isvcperf: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as exc:
            from isvcperf.engine.run import Interrupted  # loaded already wherever it can be raised

            if not isinstance(exc, Interrupted):
                raise
            print(f"isvcperf: {exc.result.reason or 'interrupted'}; partial result written", file=sys.stderr)
            return EXIT_INTERRUPTED
