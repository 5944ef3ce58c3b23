"""The final stats as one line in the master's log: the Kubernetes runner's fallback.

In a cluster the CLI pulls the final figures through the API server's service proxy while
the master lingers. If that pull fails (the proxy is forbidden, the CLI's connection
dropped, the linger ran out), the pod's log still holds them: when the test stops with the
run finished, the master prints one line (`log_result.RESULT_PREFIX`) with the same JSON document the
stats route serves. The pods load this module next to the run's locustfile; the local
runner never does.
"""

from __future__ import annotations

import sys
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner

from isvcperf.loadgen import plugin
from isvcperf.loadgen.log_result import format_line


@events.init.add_listener
def _on_init(environment: Environment, runner: Any = None, **_: Any) -> None:
    if not isinstance(runner, MasterRunner):
        return

    @environment.events.test_stop.add_listener
    def _print_result(**_: Any) -> None:
        st = plugin.state()
        if st.phase != "finished":
            return
        # Reading the document for the log is not the orchestrator's fetch: the master must
        # keep lingering for the real one, so the fetched flag is left as it was.
        fetched = st.fetched
        document = plugin._stats_response(runner, st)
        st.fetched = fetched
        sys.stdout.write(format_line(document) + "\n")
        sys.stdout.flush()

