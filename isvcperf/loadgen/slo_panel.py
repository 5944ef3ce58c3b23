"""An "SLOs" tab in Locust's web UI (`isvcperf run --ui`), through Locust's documented
extension points (docs "Extending the web UI", examples/extend_web_ui.py): extra template
arguments (`extended_tabs`, `extended_tables`) give the tab, and the `extended_stats` added to
Locust's own `/stats/requests` answer fill it on every refresh.

The values are not computed here: the orchestrator evaluates the SLOs every second with the
same code as the final verdict and POSTs the rows to `/isvcperf/slos` (GET shows the last).
So the panel can never disagree with the report. A generative run's rows go on with its TTFT
and TPOT percentiles, tokens/s and goodput (state `measured`, no limit: engine.monitor).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, request
from locust import events
from locust.env import Environment

from isvcperf.loadgen.protocol import LOCUST_STATS_ROUTE, SLO_ROUTE

TAB = "isvcperf-slos"
COLUMNS = (("metric", "SLO"), ("value", "Current value"), ("limit", "Limit"), ("margin", "Margin"),
           ("mark", ""), ("state", "State"), ("abort", "Stops the run"))
_FIELDS = tuple(key for key, _ in COLUMNS)
_rows: list[dict[str, str]] = []


@events.init.add_listener
def _add_panel(environment: Environment, web_ui: Any = None, **_: Any) -> None:
    if web_ui is None:  # workers and headless runs have no web UI
        return
    web_ui.template_args["extended_tabs"] = [{"title": "SLOs", "key": TAB}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB, "structure": [{"key": key, "title": title} for key, title in COLUMNS]}]
    web_ui.app.add_url_rule(SLO_ROUTE, "isvcperf_slos", _slos, methods=["GET", "POST"])
    web_ui.app.after_request(_extend_stats)


def _slos() -> Any:
    if request.method == "POST":
        data = request.get_json(silent=True)
        if not isinstance(data, list):
            return jsonify({"error": "expected a JSON list of SLO rows"}), 400
        show(data)
    return jsonify(_rows)


def show(rows: list[Any]) -> None:
    """Make `rows` the tab's content (POSTed by the orchestrator, or set by a master that runs a spec itself)."""
    _rows[:] = [{key: str(row.get(key, "")) for key in _FIELDS} for row in rows if isinstance(row, dict)]


def _extend_stats(response: Response) -> Response:
    """Add the SLO rows to the stats the UI polls, as the extend_web_ui example does."""
    if request.path != LOCUST_STATS_ROUTE or not response.is_json:
        return response
    data = response.get_json()
    data["extended_stats"] = [{"key": TAB, "data": _rows}]
    response.set_data(json.dumps(data))
    return response
