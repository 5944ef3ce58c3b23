"""The security tests use the fault tests' loopback servers (tests/faults/servers.py, on sys.path
from tests/conftest.py)."""

from runs import stop_leftover_runs
from servers import serve

__all__ = ["serve", "stop_leftover_runs"]
