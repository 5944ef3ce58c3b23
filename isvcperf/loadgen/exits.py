"""A worker process that exited, as the local runner saw it: lost at once, not after Locust's heartbeat.

Locust's master calls a worker missing once it has missed HEARTBEAT_LIVENESS heartbeats, 4-5 s
after its last one. For a worker in another pod that is the only sign there is, and the right
one for a worker that is alive but slow (a busy CPU, a long pause). A local runner knows more:
it started the process and sees it end (a crash, the OOM killer, a SIGKILL), so it POSTs
EXITED_ROUTE and the master declares that worker lost then. Until then a run whose other
workers had finished waited those seconds for the heartbeat (a worker killed 2 s before the end
of a 10 s run: overrun about 6 s instead of 2-3), and `lostAt` was seconds late. Only a process
that has exited is reported, so nothing alive is ever declared lost this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from isvcperf.loadgen.protocol import EXITED_ROUTE


def install(web_ui: Any, lose: Callable[[str], bool]) -> None:
    """Serve EXITED_ROUTE on the master's web UI: `lose(process)` says whether a running worker was lost."""
    from flask import request  # inside the master only

    def exited() -> dict[str, bool]:
        body = request.get_json(silent=True)
        process = body.get("process") if isinstance(body, dict) else None
        return {"lost": isinstance(process, str) and lose(process)}

    web_ui.app.add_url_rule(EXITED_ROUTE, "isvcperf_exited", exited, methods=["POST"])
