"""What only pods need: the final stats as one line in the master's log, and no late workers.

In a cluster the CLI pulls the final figures through the API server's service proxy while
the master lingers. If that pull fails (the proxy is forbidden, the CLI's connection
dropped, the linger ran out), the pod's log still holds them: when the test stops with the
run finished, the master prints one line (`log_result.RESULT_PREFIX`) with the same JSON document the
stats route serves.

A worker pod that starts after the run began (a Job controller replacing a lost worker, on
clusters that ignore `backoffLimitPerIndex`) would make Locust rebalance users onto it while
the load was already split between the first workers: such a worker asks the master's
web UI for its state before it connects, and leaves (exit 0) when the test is under way.
The loss stays a loss. The pods load this module next to the run's locustfile; the local
runner never does.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner

from isvcperf.loadgen import plugin
from isvcperf.loadgen.log_result import format_line
from isvcperf.loadgen.protocol import LOCUST_STATS_ROUTE, WEB_PORT

STARTED_STATES = {"spawning", "running", "cleanup", "stopping", "stopped"}
"""Locust runner states after the test started (the master is `ready` until then)."""


def _run_under_way(argv: list[str]) -> bool:
    """True in a worker whose master already runs the test (checked before Locust connects)."""
    if "--worker" not in argv or "--master-host" not in argv:
        return False
    host = argv[argv.index("--master-host") + 1]
    try:
        with urllib.request.urlopen(f"http://{host}:{WEB_PORT}{LOCUST_STATS_ROUTE}", timeout=3) as response:
            state = json.load(response).get("state")
    except (OSError, ValueError):
        return False  # no master yet: the normal start
    return state in STARTED_STATES


if _run_under_way(sys.argv):
    print("isvcperf: the run is already under way and its load split; this late worker leaves", flush=True)
    sys.exit(0)


@events.init.add_listener
def _on_init(environment: Environment, runner: Any = None, **_: Any) -> None:
    if not isinstance(runner, MasterRunner):
        return

    @environment.events.test_stop.add_listener
    def _print_result(**_: Any) -> None:
        st = plugin.state()
        if st.phase != "finished":
            return
        # Reading the document for the log is not the orchestrator's fetch: the master keeps
        # lingering for the real one.
        document = plugin.stats_document(runner, st)
        sys.stdout.write(format_line(document) + "\n")
        sys.stdout.flush()

