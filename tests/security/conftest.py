"""The security tests use the fault tests' loopback servers (tests/faults/servers.py, on sys.path
from tests/conftest.py)."""

from servers import serve

__all__ = ["serve"]
