"""The `isvcperf` command: run, launch, validate, report, assert.

Every command shares one exit-code contract (see EPILOG) and turns every error it knows
into one line naming the field, the value and the fix, never a traceback.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from isvcperf import __version__, spec
from isvcperf.cli import compare as cli_compare
from isvcperf.cli import kube as cli_k8s
from isvcperf.engine.run import Interrupted, check_inputs, default_out_dir, run_test
from isvcperf.engine.sweep import run_sweep, sweep_loads
from isvcperf.report.render import DEFAULT_FORMATS, FORMATS, render
from isvcperf.results.result import Result, load_result
from isvcperf.spec import iter8
from isvcperf.util.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SLO_FAILED,
    IsvcperfError,
    one_line,
)

EPILOG = """\
exit codes (every command):
  0    ran, and every SLO holds
  1    ran, and an SLO (or an assert condition) failed
  2    bad input: spec, flags, payload
  3    could not run: target not ready in time, workers did not connect, port taken
  130  interrupted (what was measured is still written)
"""

RUN_EXAMPLES = """\
examples:
  isvcperf run examples/sklearn-irisv2.yaml
  isvcperf run spec.yaml --set load.users=16 --set load.duration=2m --ui
  isvcperf run spec.yaml --set 'slos.http/latency-p99.upper=250' --out results/today
"""

LAUNCH_EXAMPLES = """\
Iter8 0.13 keys (replace `iter8 k launch` by `isvcperf launch`):
  tasks={ready,http,assess}      ready.url  ready.timeout
  http.url  http.payloadURL  http.payloadStr  http.payloadFile  http.contentType
  http.headers.NAME  http.numRequests  http.duration  http.qps  http.connections
  http.warmupNumRequests  http.warmupDuration  http.percentiles  http.errorRanges
  tasks={ready,grpc,assess}      (gRPC: the Open Inference Protocol's ModelInfer)
  grpc.host=HOST:PORT  grpc.call  grpc.data.*  grpc.dataURL  grpc.protoURL (not read)
  grpc.metadata.NAME  grpc.total  grpc.duration  grpc.rps  grpc.concurrency  grpc.timeout
  grpc.warmupNumRequests  grpc.warmupDuration
  assess.SLOs.upper.METRIC=LIMIT  assess.SLOs.lower.METRIC=LIMIT  runner=local
Iter8's defaults apply (http: 100 requests, qps 8, 4 connections; grpc: 200 requests,
concurrency 50, unpaced); any spec field can be set by its dotted path too (e.g. load.workers=2).

example:
  isvcperf launch --set "tasks={ready,http,assess}" \\
    --set http.url=http://127.0.0.1:8080/v2/models/sklearn-irisv2/infer \\
    --set http.payloadFile=examples/payloads/sklearn-irisv2-input.json \\
    --set assess.SLOs.upper.http/latency-p90=1000 --set assess.SLOs.upper.http/error-count=0
"""

SWEEP_EXAMPLES = """\
example:
  isvcperf sweep examples/sklearn-irisv2-sweep.yaml
  isvcperf sweep spec.yaml --set load.sweep.parameter=users --set 'load.sweep.values={1,2,4,8,16}'
"""

ASSERT_CONDITIONS = {
    "completed": "the run completed (not interrupted, not could-not-run)",
    "nofailure": "the run completed and no request failed (http/error-count is 0)",
    "slos": "every SLO is satisfied",
}


def _bind_address(text: str) -> str:
    """--ui-host: an IP address this machine can bind (a name would hide which interfaces it opens)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address to bind, e.g. 0.0.0.0 or 127.0.0.1") from None


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (its default), plus a hint to --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = Parser(
        prog="isvcperf",
        description="Performance-test a model inference service (KServe V2/V1 or any HTTP URL) against "
        "service-level objectives, with Locust doing the load. The exit code is the verdict.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"isvcperf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)

    def add_run_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", metavar="DIR", type=Path,
                       help="output directory (default ./isvcperf-results/NAME-UTCSTAMP/): result.json, "
                       "report.txt, report.html, Locust CSV files and logs")
        p.add_argument("--ui", action="store_true",
                       help="keep Locust's web UI on 127.0.0.1 during the run and print its address")
        p.add_argument("--ui-host", metavar="ADDRESS", type=_bind_address,
                       help="bind the web UI to ADDRESS instead (e.g. 0.0.0.0; implies --ui); off loopback it "
                       "asks for a login: user isvcperf, password $ISVCPERF_UI_PASSWORD (generated and "
                       "printed when unset)")
        p.add_argument("--report", dest="reports", action="append", choices=FORMATS, metavar="FORMAT",
                       help=f"a report to write into the output directory, one of {', '.join(FORMATS)} "
                       f"(repeatable; default {' '.join(DEFAULT_FORMATS)}; result.json is always written)")

    run = sub.add_parser("run", help="run a test from a spec file", formatter_class=formatter,
                         description="Check the target is ready, drive load with Locust master and worker "
                         "processes, evaluate the spec's SLOs and write the reports.",
                         epilog=RUN_EXAMPLES + "\n" + EPILOG)
    run.add_argument("spec", metavar="SPEC.yaml", help="the test spec (see examples/)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a spec field by its dotted path, e.g. load.users=8 (repeatable)")
    add_run_options(run)
    cli_k8s.add_run_flags(run)

    launch = sub.add_parser("launch", help="run a test from Iter8-style --set flags", formatter_class=formatter,
                            description="Run a test described with Iter8 0.13's launch vocabulary.",
                            epilog=LAUNCH_EXAMPLES + "\n" + EPILOG)
    launch.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="an Iter8 key (http.url=..., assess.SLOs.upper.http/latency-p90=...) (repeatable)")
    add_run_options(launch)
    cli_k8s.add_run_flags(launch)

    sweep = sub.add_parser("sweep", help="find the highest load that meets every SLO", formatter_class=formatter,
                           description="Run the spec at rising load (load.sweep) until an SLO fails or errors "
                           "appear; print the latency-versus-throughput table and the capacity. Exit 0 when "
                           "at least one step met every SLO, 1 when none did.",
                           epilog=SWEEP_EXAMPLES + "\n" + EPILOG)
    sweep.add_argument("spec", metavar="SPEC.yaml", help="a spec with load.sweep and load.duration (the step length)")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a spec field, e.g. load.sweep.max=800 (repeatable)")
    sweep.add_argument("--out", metavar="DIR", type=Path, help="output directory (one subdirectory per step)")

    validate = sub.add_parser("validate", help="check a spec without running it", formatter_class=formatter,
                              epilog=EPILOG)
    validate.add_argument("spec", metavar="SPEC.yaml")
    validate.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    report = sub.add_parser("report", help="render a stored result again", formatter_class=formatter,
                            epilog=EPILOG)
    report.add_argument("result", metavar="RESULT_OR_DIR", help="a result.json or a run's output directory")
    report.add_argument("-o", "--output", choices=FORMATS, default="text", help="format (default text)")

    check = sub.add_parser(
        "assert", help="check conditions on a stored result (like iter8 k assert)", formatter_class=formatter,
        epilog="conditions:\n" + "".join(f"  {k:<10} {v}\n" for k, v in ASSERT_CONDITIONS.items()) + "\n" + EPILOG,
    )
    check.add_argument("result", metavar="RESULT_OR_DIR")
    check.add_argument("-c", "--condition", dest="conditions", action="append", required=True,
                       choices=sorted(ASSERT_CONDITIONS), help="a condition (repeatable)")
    cli_compare.add_command(sub, formatter, EPILOG)
    parser.set_defaults(k8s_handlers=cli_k8s.add_commands(sub, formatter, EPILOG))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": cmd_run,
        "launch": cmd_launch,
        "sweep": cmd_sweep,
        "validate": cmd_validate,
        "report": cmd_report,
        "assert": cmd_assert,
        "compare": cli_compare.cmd_compare,
        **args.k8s_handlers,
    }
    try:
        return handlers[args.command](args)
    except IsvcperfError as exc:
        print(f"isvcperf: error: {one_line(str(exc))}", file=sys.stderr)  # it may quote a server's answer
        return exc.exit_code
    except Interrupted:
        print("isvcperf: interrupted; partial result written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("isvcperf: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def cmd_run(args: argparse.Namespace) -> int:
    return _run(spec.load_file(args.spec, args.overrides + cli_k8s.k8s_overrides(args)), args)


def cmd_launch(args: argparse.Namespace) -> int:
    notes: list[str] = []
    data = iter8.launch_data(args.overrides + cli_k8s.k8s_overrides(args), notes)
    for note in notes:
        print(f"isvcperf: note: {note}")
    return _run(spec.from_data(data, base_dir=os.getcwd()), args)


def _run(run_spec: spec.RunSpec, args: argparse.Namespace) -> int:
    out_dir = args.out or default_out_dir(run_spec)
    with _sigterm_as_interrupt():
        result = run_test(run_spec, out_dir, ui=args.ui, reports=args.reports or DEFAULT_FORMATS, ui_host=args.ui_host)
    return exit_code(result)


def cmd_sweep(args: argparse.Namespace) -> int:
    run_spec = spec.load_file(args.spec, args.overrides)
    sweep_loads(run_spec)  # bad sweep settings fail before any step runs
    with _sigterm_as_interrupt():
        found = run_sweep(run_spec, args.out or default_out_dir(run_spec))
    return EXIT_OK if found.capacity is not None else EXIT_SLO_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    run_spec = spec.load_file(args.spec, args.overrides)
    check_inputs(run_spec)
    print(f"{args.spec}: valid ({run_spec.target.protocol} {run_spec.infer_url}, {len(run_spec.slos)} SLOs)")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    print(render(load_result(args.result), args.output))
    return EXIT_OK


def cmd_assert(args: argparse.Namespace) -> int:
    return assert_result(load_result(args.result), args.conditions)


def assert_result(result: Result, conditions: list[str]) -> int:
    """Print each condition's verdict; exit 1 when any does not hold."""
    checks = {
        "completed": result.status == "completed",
        "nofailure": result.status == "completed" and not any(e.count for e in result.errors),
        "slos": result.slos_satisfied,
    }
    failed = [c for c in conditions if not checks[c]]
    for condition in conditions:
        print(f"{condition}: {'satisfied' if checks[condition] else 'NOT satisfied'}")
    return EXIT_SLO_FAILED if failed else EXIT_OK


def exit_code(result: Result) -> int:
    """The verdict as an exit code (could-not-run and interrupted are raised, not returned)."""
    return EXIT_OK if result.verdict == "passed" else EXIT_SLO_FAILED


class _sigterm_as_interrupt:
    """Treat SIGTERM like Ctrl-C during a run, so `kill` and CI cancellation clean up too."""

    def __enter__(self) -> None:
        self._previous = signal.signal(signal.SIGTERM, self._handle)

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)

    @staticmethod
    def _handle(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt
