"""`isvcperf run`, `launch`, `sweep` and `validate`: the commands that take a spec and run
it (or check it would run).

Here the presentation of a run is chosen: the live view in the terminal (report.live)
and the report formats written at the end; the engine runs what it is handed.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
from pathlib import Path
from types import FrameType

from isvcperf import spec
from isvcperf.cli import cluster_flags, quick
from isvcperf.cli.commands import help_of
from isvcperf.cli.help import BAD_INPUT, EPILOG, FORMATTER, add_allow_invalid, exit_codes
from isvcperf.engine.run import check_inputs, default_out_dir, run_test
from isvcperf.outputs.formats import ALIAS_NOTE, DEFAULT_FORMATS, FORMATS, choices, format_name
from isvcperf.plan.topology import worker_count
from isvcperf.report.live import LiveView
from isvcperf.spec.validity import master_capacity_note
from isvcperf.util.durations import parse_duration
from isvcperf.util.errors import EXIT_OK, EXIT_SLO_FAILED, SpecError

RUN_EXAMPLES = """\
examples:
  isvcperf run examples/sklearn-irisv2.yaml
  isvcperf run --url http://127.0.0.1:8080/v2/models/sklearn-irisv2/infer \\
    --payload examples/payloads/sklearn-irisv2-input.json -c 8 -d 30s --slo 'http/latency-p99<=50'
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
  isvcperf sweep examples/tiny-llm-sweep.yaml --set load.sweep.goodputRatio=0.95   # protocol openai
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add `run`, `launch`, `sweep` and `validate`."""
    run = sub.add_parser("run", help=help_of("run"), formatter_class=FORMATTER,
                         description="Check the target is ready, drive load with Locust master and worker "
                         "processes, evaluate the spec's SLOs and write the reports.",
                         epilog=RUN_EXAMPLES + "\n" + EPILOG)
    run.add_argument("spec", metavar="SPEC.yaml", nargs="?", help="the test spec (see examples/); or the flags below")
    _add_run_options(run, "override a spec field by its dotted path, e.g. load.users=8 (repeatable)")
    quick.add_flags(run)
    run.set_defaults(handler=cmd_run)

    launch = sub.add_parser("launch", help=help_of("launch"), formatter_class=FORMATTER,
                            description="Run a test described with Iter8 0.13's launch vocabulary.",
                            epilog=LAUNCH_EXAMPLES + "\n" + EPILOG)
    _add_run_options(launch, "an Iter8 key (http.url=..., assess.SLOs.upper.http/latency-p90=...) (repeatable)")
    launch.set_defaults(handler=cmd_launch)

    sweep = sub.add_parser("sweep", help=help_of("sweep"), formatter_class=FORMATTER,
                           description="Run the spec at rising load (load.sweep) until an SLO fails or errors "
                           "appear (protocol openai with load.sweep.goodputRatio: or goodput falls below it); "
                           "print the latency-versus-throughput table and the capacity, and write sweep.json, "
                           "sweep.txt and sweep.html. Exit 0 when at least one step met every SLO, 1 when none did.",
                           epilog=SWEEP_EXAMPLES + "\n" + EPILOG)
    sweep.add_argument("spec", metavar="SPEC.yaml", help="a spec with load.sweep and load.duration (the step length)")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a spec field, e.g. load.sweep.max=800 (repeatable)")
    sweep.add_argument("--out", metavar="DIR", type=Path, help="output directory (one subdirectory per step)")
    sweep.set_defaults(handler=cmd_sweep)

    validate = sub.add_parser("validate", help=help_of("validate"), formatter_class=FORMATTER,
                              description="Check a spec as `run` would before sending load: every field, the "
                              "--set overrides, the payload files, header variables and the CA bundle. "
                              "Sends nothing to the target.",
                              epilog=exit_codes((0, "the spec is valid"), BAD_INPUT))
    validate.add_argument("spec", metavar="SPEC.yaml")
    validate.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    validate.set_defaults(handler=cmd_validate)


def _bind_address(text: str) -> str:
    """--ui-host: an IP address this machine can bind (a name would hide which interfaces it opens)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address to bind, e.g. 0.0.0.0 or 127.0.0.1") from None


def _port(text: str) -> int:
    """--ui-port: a TCP port number."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535), e.g. 8089")
    return int(text)


def _duration(text: str) -> float:
    """--ui-linger: a duration such as 90s or 10m."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_run_options(p: argparse.ArgumentParser, set_help: str) -> None:
    """The options of one run shared by `run` and `launch`: overrides, where it writes, the web UI, the
    reports and the cluster flags."""
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="output directory (default ./isvcperf-results/NAME-UTCSTAMP/): result.json, "
                   "report.txt, report.html, Locust CSV files and logs")
    p.add_argument("--ui", action="store_true",
                   help="keep Locust's web UI on 127.0.0.1 during the run and print its address")
    p.add_argument("--ui-host", metavar="ADDRESS", type=_bind_address,
                   help="bind the web UI to ADDRESS instead (e.g. 0.0.0.0; implies --ui); off loopback it "
                   "asks for a login: user isvcperf, password $ISVCPERF_UI_PASSWORD (generated and "
                   "printed when unset)")
    p.add_argument("--ui-port", metavar="PORT", type=_port,
                   help="serve the web UI on PORT (Locust's usual is 8089; implies --ui; default: a free port)")
    p.add_argument("--ui-linger", metavar="DURATION", type=_duration, default=0.0,
                   help="after the run, keep the web UI open this long (e.g. 10m) to look at the final charts; "
                   "the result is written first, Ctrl-C ends it early (implies --ui)")
    p.add_argument("--report", dest="reports", action="append", choices=choices(FORMATS), type=format_name,
                   metavar="FORMAT", help=f"a report to write into the output directory, one of "
                   f"{', '.join(choices(FORMATS))} ({ALIAS_NOTE}) "
                   f"(repeatable; default {' '.join(DEFAULT_FORMATS)}; result.json is always written)")
    add_allow_invalid(p)
    cluster_flags.add_run_flags(p)


def cmd_run(args: argparse.Namespace) -> int:
    overrides = args.overrides + cluster_flags.k8s_overrides(args)
    if args.spec is None:
        return _run(quick.quick_spec(args, overrides), args)
    flags = quick.given(args)
    if flags:
        raise SpecError(flags[0], f"{', '.join(flags)} {'describe' if len(flags) > 1 else 'describes'} a run "
                        f"without a spec file; with {args.spec} set its fields with --set (e.g. --set load.users=8)")
    return _run(spec.load_file(args.spec, overrides), args)


def cmd_launch(args: argparse.Namespace) -> int:
    notes: list[str] = []
    from isvcperf.spec import iter8

    data = iter8.launch_data(args.overrides + cluster_flags.k8s_overrides(args), notes)
    for note in notes:
        print(f"isvcperf: note: {note}")
    return _run(spec.from_data(data, base_dir=os.getcwd()), args)


def _run(run_spec: spec.RunSpec, args: argparse.Namespace) -> int:
    from isvcperf.cli.results import exit_code  # with the report renderer: needed once the run is over

    out_dir = args.out or default_out_dir(run_spec)
    with _sigterm_as_interrupt():
        result = run_test(run_spec, out_dir, LiveView, args.reports or DEFAULT_FORMATS,
                          ui=args.ui or args.ui_port is not None or args.ui_linger > 0, ui_host=args.ui_host,
                          ui_port=args.ui_port, ui_linger=args.ui_linger)
    return exit_code(result, args.allow_invalid)


def cmd_sweep(args: argparse.Namespace) -> int:
    from isvcperf.engine.sweep import run_sweep, sweep_loads
    from isvcperf.report.sweep import render_html, render_text, step_line

    run_spec = spec.load_file(args.spec, args.overrides)
    sweep_loads(run_spec)  # bad sweep settings fail before any step runs
    out_dir = args.out or default_out_dir(run_spec)
    with _sigterm_as_interrupt():
        found = run_sweep(run_spec, out_dir, LiveView, DEFAULT_FORMATS, lambda step: print(step_line(step)))
    text = render_text(found)
    (out_dir / "sweep.txt").write_text(text + "\n", encoding="utf-8")
    (out_dir / "sweep.html").write_text(render_html(found), encoding="utf-8")
    print(text)
    return EXIT_OK if found.capacity is not None else EXIT_SLO_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    run_spec = spec.load_file(args.spec, args.overrides)
    run_spec, _ = check_inputs(run_spec)  # the spec as the run would read it (a gRPC payload's model)
    target = run_spec.infer_url or f"InferenceService {run_spec.target.isvc}"
    count = len(run_spec.slos)
    print(f"{args.spec}: valid ({run_spec.target.protocol} {target}, {count} SLO{'' if count == 1 else 's'})")
    crowded = master_capacity_note(worker_count(run_spec)[0], run_spec.validity)
    if crowded:
        print(f"{args.spec}: warning: {crowded}")
    return EXIT_OK


class _sigterm_as_interrupt:
    """Treat SIGTERM like Ctrl-C during a run, so `kill` and CI cancellation clean up too."""

    def __enter__(self) -> None:
        self._previous = signal.signal(signal.SIGTERM, self._handle)

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)

    @staticmethod
    def _handle(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt
