"""The security tests reuse the fault tests' loopback servers and CLI runner (tests/faults)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

from servers import serve  # importable once tests/faults is on sys.path

__all__ = ["serve"]
