"""The code that runs inside Locust: import it from a locustfile.

Importing this package registers the isvcperf plugin on Locust's events and provides
`InferenceUser`; a locustfile of your own can subclass InferenceUser to shape requests.
"""

from isvcperf.loadgen import plugin
from isvcperf.loadgen.user import InferenceUser

__all__ = ["InferenceUser", "plugin"]
