"""Plain Locust: `locust -f locustfiles/kserve.py --isvcperf-spec spec.yaml` (README: plain Locust).

`isvcperf run` hands its Locust processes a LoadgenConfig file; a person running `locust`
by hand has a spec instead. The `--isvcperf-spec` option (added through Locust's
`init_command_line_parser` event) makes this process load and check that spec itself with
the same public steps as `isvcperf run` (isvcperf.spec, the payload, the Plan's
loadgen_config), so the request path, the counting and the SLO tab are the ones the tool
uses. Give the option to the master and to every worker (or to the one process of a run
without `--master`). Without an orchestrator to evaluate the SLOs, the master evaluates
them and the validity so far itself every interval, with the same code (engine.monitor's
snapshot and panel_rows), for the web UI's SLO tab.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

from locust import events

from isvcperf.loadgen.config import CONFIG_ENV, LoadgenConfig
from isvcperf.util.errors import IsvcperfError

OPTION = "--isvcperf-spec"
_spec: Any = None
"""The RunSpec this process loaded from OPTION, or None under `isvcperf run`."""


@events.init_command_line_parser.add_listener
def _add_option(parser: Any, **_: Any) -> None:
    parser.add_argument(OPTION, metavar="SPEC.yaml", default="", env_var="ISVCPERF_SPEC",
                        include_in_web_ui=False,
                        help="run the isvcperf spec's load, payload and SLOs (give it to the master and every worker)")


def config(options: Any, workers: int) -> LoadgenConfig | None:
    """The LoadgenConfig of the spec named by OPTION, or None when it was not given; a bad spec
    ends the process with its one-line error and exit code 2 (Locust would log and go on)."""
    global _spec
    path = getattr(options, "isvcperf_spec", "") if options is not None else ""
    if not path:
        return None
    from isvcperf.payload.bodies import load_payload
    from isvcperf.plan.topology import loadgen_config
    from isvcperf.spec import load_file

    try:
        _spec = load_file(path, [])
        loaded = loadgen_config(_spec, load_payload(_spec), workers)
    except IsvcperfError as exc:
        fail(f"{OPTION} {path}: {exc}", exc.exit_code)
    except OSError as exc:
        fail(f"{OPTION} {path}: {exc.strerror or exc}; give the path of a spec file", 2)
    if options.num_users is None:  # the web UI's start form offers the spec's users
        options.num_users = loaded.users
    return loaded


def missing() -> NoReturn:
    """Neither an orchestrator's config nor OPTION: say what to give, and stop."""
    fail(f"isvcperf: give {OPTION} SPEC.yaml (or run the locustfile with `isvcperf run`, which sets {CONFIG_ENV})", 2)


def fail(message: str, code: int) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(code)


def active() -> bool:
    """Whether this process runs a spec of its own (so no orchestrator follows the run)."""
    return _spec is not None


def follow(document: Callable[[], dict[str, Any]], every: float) -> None:
    """Keep the web UI's SLO tab (validity first, then the SLOs) current from `document()` (the
    master's stats) every `every` seconds."""
    from functools import partial

    import gevent

    from isvcperf.engine.monitor import panel_rows, snapshot
    from isvcperf.engine.run import validity_so_far
    from isvcperf.loadgen import slo_panel

    def loop() -> None:
        while True:
            stats = document()
            now = snapshot(_spec, stats, partial(validity_so_far, _spec))
            slo_panel.show(panel_rows(_spec, now.verdicts, now.values, stats, now.validity))
            gevent.sleep(every)

    gevent.spawn(loop)
