"""Any test files can share one pytest process, in any combination.

`make test` runs one pytest per group, which hid two ways a single process failed:

- tests/unit/test_openai_stream.py imported a pure function from the Locust user module, so
  the pytest process imported Locust, whose gevent monkey-patching then came after
  tests/kubernetes' conftest had imported the kubernetes client: urllib3 had kept ssl's
  unpatched SSLContext, and `locust.clients` building its SSL context recursed
  (RecursionError in ssl). Test code imports no module that imports Locust (isvcperf.loadgen
  says which do); Locust runs only in the processes the tests start.
- tests/integration and tests/security each had a test_web_ui.py: one process cannot import
  two test modules of the same name (the test directories are on sys.path, not packages).

Each check runs pytest in a subprocess, as a developer would, and asks that process at the
end whether Locust was ever imported into it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import sys, pytest; code = pytest.main(sys.argv[1:]); print('locust imported:', 'locust' in sys.modules); " \
        "sys.exit(code)"


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    """pytest ARGS in a process of its own, from the project's root, with Locust's presence printed last."""
    return subprocess.run([sys.executable, "-c", PROBE, "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)


def test_every_test_file_is_collected_in_one_process_without_locust() -> None:
    proc = _pytest("--collect-only", "-m", "", "tests")  # every group, soak too
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "RecursionError" not in proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("locust imported: False"), proc.stdout[-1000:]


def test_unit_and_kubernetes_tests_run_in_one_process() -> None:
    """The pair that hit the RecursionError: the kubernetes conftest's client first, then a unit file
    that reached into a Locust module."""
    proc = _pytest("tests/kubernetes/test_manifests.py", "tests/unit/test_openai_stream.py")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "RecursionError" not in proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("locust imported: False"), proc.stdout[-1000:]
