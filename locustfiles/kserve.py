"""The locustfile to run with plain Locust: `locust -f locustfiles/kserve.py --isvcperf-spec spec.yaml`.

It offers the three isvcperf users and keeps the one the spec's `target.protocol` needs (HTTP
for v2/v1/raw, gRPC for grpc-v2, the streaming OpenAI user for openai), so one file serves
every protocol with the same request path, counting and web UI SLO tab as `isvcperf run`
(which starts the per-protocol files beside this one). Installed as isvcperf.locustfiles.kserve:
`locust -f "$(python -c 'import isvcperf.locustfiles.kserve as k; print(k.__file__)')" ...`
"""

from typing import Any

from locust import events

import isvcperf.loadgen.slo_panel  # noqa: F401  (registers the web UI's SLO tab)
from isvcperf.loadgen import plugin
from isvcperf.loadgen.grpc_user import GrpcInferenceUser
from isvcperf.loadgen.openai_user import OpenAIUser
from isvcperf.loadgen.user import InferenceUser

USERS = {"grpc-v2": GrpcInferenceUser, "openai": OpenAIUser}
"""Every other protocol (v2, v1, raw) is HTTP: InferenceUser."""

__all__ = ["GrpcInferenceUser", "InferenceUser", "OpenAIUser"]


@events.init.add_listener
def _choose_user(environment: Any, **_: Any) -> None:
    """Run only the user the spec's protocol needs (the plugin loaded the spec on this same event)."""
    environment.user_classes = [USERS.get(plugin.state().config.protocol, InferenceUser)]
