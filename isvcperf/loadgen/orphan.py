"""Locust processes that outlive the isvcperf process that started them stop by themselves.

The local runner starts the master and workers in their own sessions (so Ctrl-C on a
terminal reaches isvcperf, which stops them in order). If isvcperf itself is killed
outright (SIGKILL, the OOM killer, a CI runner cancelling hard), nothing is left to stop
them; so each process started with PARENT_ENV checks every second that its parent is
still that process and, once it is not, quits the way a stopped Locust does. Pods are not
started with it: there Kubernetes owns their lifetime.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import gevent

from isvcperf.loadgen.config import PARENT_ENV

CHECK_EVERY = 1.0

log = logging.getLogger("isvcperf")


def watch(runner: Any) -> None:
    """Quit `runner` (a Locust master or worker) when the process named by PARENT_ENV is gone."""
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit():
        gevent.spawn(_watch, runner, int(parent))


def _watch(runner: Any, parent: int) -> None:
    while os.getppid() == parent:
        gevent.sleep(CHECK_EVERY)
    log.warning("isvcperf: the isvcperf process %d that started this one is gone; quitting", parent)
    runner.environment.process_exit_code = 3
    runner.quit()
    if runner.environment.web_ui is not None:
        runner.environment.web_ui.stop()
