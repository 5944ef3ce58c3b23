"""Built-in locustfile for protocol openai: stream the generated requests and time every token."""

import isvcperf.loadgen.slo_panel  # noqa: F401  (registers the web UI's SLO tab)
from isvcperf.loadgen.openai_user import OpenAIUser

__all__ = ["OpenAIUser"]
