"""Locust's web UI buttons made safe for a run whose load comes from a spec (README: the web UI).

- **STOP** (`/stop`) ends the run like Ctrl-C: when Locust starts stopping inside that
  request (`stop_button_pressed`), the master notes that the web UI stopped the run, every
  worker sends what it measured as Locust stops its users (plugin), and the stats document
  says the run was interrupted, so the orchestrator writes the partial result with that
  reason and exits 130 instead of waiting for a deadline.
- **EDIT** and **New test** (`/swarm`) are refused once the run has started: the spec is the
  load, and a result that says "4 users" must not describe a run of 40. Before the start
  (plain `locust` with `--isvcperf-spec`, where the start form starts the run) only the
  spec's user count is accepted. The refusal is Locust's own `/swarm` failure answer (for
  scripts) and a warning in the master's log, which the UI's Logs tab shows in orange with a
  dot on the tab (Locust's edit form closes on submit, so it cannot show the answer).
- **Workers tab**: Locust names a worker `HOST_UUID`; the tab shows the process name the
  worker reported instead (`worker-0 (pid 123)`, or the pod's name).

Everything goes through Flask's request hooks on Locust's app, the way Locust's
extend_web_ui example adds to its answers; nothing of Locust is patched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from flask import Response, has_request_context, jsonify, request

log = logging.getLogger("isvcperf")
STOPPED_FROM_UI = "stopped from the web UI"


def stop_button_pressed() -> bool:
    """Whether Locust is stopping because of the web UI's STOP (its `/stop` route, past its login)."""
    return has_request_context() and request.path == "/stop"


def install(web_ui: Any, users: int, fixed_users: bool, phase: Callable[[], str],
            names: Callable[[], dict[str, str]]) -> None:
    """Guard `/swarm` and rename workers; `fixed_users` is False when load.stages set the users."""

    def before() -> Any:
        if request.method != "POST" or request.path != "/swarm":
            return None
        if web_ui.web_login and not _logged_in():
            return None  # Locust's own login check answers
        refusal = swarm_refusal(phase(), request.form.get("user_count"), users, fixed_users)
        if refusal is None:
            return None
        log.warning(refusal)  # Locust's edit form closes on submit: its Logs tab shows warnings, with a dot
        return jsonify({"success": False, "message": refusal, "host": web_ui.environment.host})

    def after(response: Response) -> Response:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        data = response.get_json()
        known = names()
        for worker in data.get("workers") or []:
            worker["id"] = known.get(worker.get("id"), worker.get("id"))
        response.set_data(json.dumps(data))
        return response

    web_ui.app.before_request(before)
    web_ui.app.after_request(after)


def _logged_in() -> bool:
    from flask_login import current_user

    return bool(current_user.is_authenticated)


def swarm_refusal(phase: str, user_count: str | None, users: int, fixed_users: bool) -> str | None:
    """Why `/swarm` must not change this run's load, or None when it only starts the spec's load."""
    if phase == "running":
        return (f"isvcperf: this run's load comes from its spec ({users} users); changing it here would make the "
                "result describe a load that did not run. STOP ends the run (its result is kept); change "
                "load.users in the spec (or --set load.users=N) and run again")
    if phase != "waiting":
        return "isvcperf: this run is over (its result is written); start a new one with isvcperf run or locust"
    if fixed_users and user_count not in (None, "", str(users)):
        return (f"isvcperf: the spec says load.users {users}; start with {users} users, or change load.users "
                "in the spec")
    return None
