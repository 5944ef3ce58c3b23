"""How the master declares a worker lost: by Locust's heartbeat, or at once when the local runner saw its process exit.

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

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from isvcperf.loadgen.protocol import EXITED_ROUTE

log = logging.getLogger("isvcperf")


class Track(Protocol):
    """What the master tracks of a worker (plugin.WorkerTrack), as far as losing it goes."""

    index: int
    process: str
    done: bool
    lost_at: float | None


def lose(client_id: str, track: Track, how: str) -> None:
    """Mark the worker lost now, and say so in the master's log with how it was found out."""
    track.lost_at = time.time()
    log.warning("isvcperf: worker %s (index %d, %s) lost (%s)", client_id, track.index, track.process, how)


def install(web_ui: Any, running: Callable[[], Mapping[str, Track]], finish: Callable[[], None]) -> None:
    """Serve EXITED_ROUTE on the master's web UI: the running worker (`running()`: client id → track, empty
    once the run is over) whose process is named is lost, then `finish()` ends the run if nothing else goes."""
    from flask import request  # inside the master only

    def exited() -> dict[str, bool]:
        body = request.get_json(silent=True)
        process = body.get("process") if isinstance(body, dict) else None
        for client_id, track in running().items():
            if process and track.process == process and not track.done and track.lost_at is None:
                lose(client_id, track, "its process exited")
                finish()
                return {"lost": True}
        return {"lost": False}

    web_ui.app.add_url_rule(EXITED_ROUTE, "isvcperf_exited", exited, methods=["POST"])
