"""`isvcperf compare BASE CANDIDATE`: the canary question, as a command with an exit code."""

from __future__ import annotations

import argparse

from isvcperf.cli.commands import help_of
from isvcperf.cli.help import BAD_INPUT, FORMATTER, add_output_option, exit_codes
from isvcperf.report.comparison import COMPARE_FORMATS, render_comparison
from isvcperf.results.compare import DEFAULT_TOLERANCES, LATENCY_FLOOR_MS, compare, load_changes, parse_tolerances
from isvcperf.results.result import load_result
from isvcperf.util.errors import EXIT_OK, EXIT_SLO_FAILED, SpecError

DESCRIPTION = f"""\
Set two stored runs side by side (result.json files or run directories): every metric with
its absolute and relative change, and each SLO's state in both. Exit 1 when the candidate
regressed: a metric got worse by more than its tolerance once both runs' sampling noise is
allowed for (95% intervals from each run's own histogram) and, for a latency, by more than
{LATENCY_FLOOR_MS:g} ms; or an SLO that held for the base fails for the candidate. p99.9 and max are
shown but judged only when --max-regression names them. Runs made at different loads
(users, rate, arrivals, stages) are refused unless --force. Exit 1 too, with no regression
verdict, when either run's measurement is invalid (its validity checks failed), unless
--allow-invalid."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add `compare`."""
    defaults = "".join(f"  {t.pattern:<18} {t}\n" for t in DEFAULT_TOLERANCES)
    command = sub.add_parser(
        "compare", help=help_of("compare"), formatter_class=FORMATTER,
        description=DESCRIPTION,
        epilog="default tolerances (latency and error rate may rise, throughput fall, by at most):\n" + defaults
        + "\nexamples:\n  isvcperf compare results/v1 results/v2\n"
        "  isvcperf compare base.json cand.json --max-regression http/latency-p99=5% -o markdown\n\n"
        + exit_codes((0, "no regression"),
                     (1, "the candidate regressed, or a run is invalid: no verdict (unless --allow-invalid)"),
                     BAD_INPUT),
    )
    command.add_argument("base", metavar="BASE", help="the reference run: result.json or its directory")
    command.add_argument("candidate", metavar="CANDIDATE", help="the run to judge: result.json or its directory")
    command.add_argument("--max-regression", dest="tolerances", action="append", default=[], metavar="METRIC=AMOUNT",
                         help="how much worse METRIC (or a glob, http/latency-*) may get: 10%% of the base, or an "
                         "absolute amount in the metric's unit (repeatable; overrides the defaults)")
    add_output_option(command, COMPARE_FORMATS)
    command.add_argument("--force", action="store_true",
                         help="compare runs made at different loads anyway (with a warning in the output)")
    command.add_argument("--allow-invalid", action="store_true",
                         help="judge regressions even when a run's measurement is invalid (without it: exit 1, "
                         "no regression verdict)")
    command.set_defaults(handler=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    tolerances = parse_tolerances(args.tolerances)
    base, candidate = load_result(args.base), load_result(args.candidate)
    changes = load_changes(base, candidate)
    if changes and not args.force:
        raise SpecError("CANDIDATE", f"the runs were made at different loads ({'; '.join(changes)}), so their "
                        "latencies are not comparable; rerun at the base's load, or pass --force")
    comparison = compare(base, candidate, tolerances)
    comparison.allow_invalid = args.allow_invalid
    if changes:
        comparison.warnings.append(f"the runs were made at different loads ({'; '.join(changes)}): latency "
                                   "changes may be the load's, not the candidate's")
    print(render_comparison(comparison, args.output))
    return EXIT_OK if comparison.verdict == "no regression" else EXIT_SLO_FAILED
