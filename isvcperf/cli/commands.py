"""Every command's name, one-line help and the module that builds and runs it.

`isvcperf --help` lists the commands from this table alone, and `isvcperf CMD` imports only
CMD's module: the Kubernetes client, gRPC and the report templates load when a command
needs them, not on every start (benchmarks/README.md "CLI start-up").
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    module: str
    help: str


COMMANDS = {
    "run": Command("isvcperf.cli.run", "run a test from a spec file, or from --url and --payload"),
    "launch": Command("isvcperf.cli.run", "run a test from Iter8-style --set flags"),
    "sweep": Command("isvcperf.cli.run", "find the highest load that meets every SLO"),
    "validate": Command("isvcperf.cli.run", "check a spec without running it"),
    "report": Command("isvcperf.cli.results", "render a stored result again"),
    "assert": Command("isvcperf.cli.results", "check conditions on a stored result (like iter8 k assert)"),
    "compare": Command("isvcperf.cli.compare", "compare two runs and judge regressions (exit 1 on regression)"),
    "render": Command("isvcperf.cli.kube", "print the Kubernetes manifests of a run (like helm template)"),
    "list": Command("isvcperf.cli.kube", "list isvcperf runs and launches in a namespace"),
    "delete": Command("isvcperf.cli.kube", "delete a run's objects (isvcperf list names them)"),
    "k": Command("isvcperf.cli.kube", "in-cluster tests, like iter8 k: launch, report, assert, log, delete"),
}
"""In the order `isvcperf --help` lists them; a module registers all of its commands at once."""


def help_of(name: str) -> str:
    return COMMANDS[name].help
