"""Run the test suite one group at a time and report each group's wall time.

`make test` calls this. One pytest process per group (tests/unit, tests/integration, ...),
so the table at the end says where the suite's time goes; the soak group is the 2-minute
`soak`-marked test, which the other groups (and a bare `pytest`) leave out. The last line
printed is a plain `N passed, N failed, ...` total that CI can read, and the exit code is
non-zero when any group failed.

    python tests/groups.py [GROUP ...] [-- PYTEST_ARGS ...]
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parent
GROUPS = ("unit", "integration", "kubernetes", "faults", "security", "generative", "observability", "soak")
COUNTED = ("passed", "failed", "errors", "skipped")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")


@dataclass
class Outcome:
    """One group's run: pytest's exit code, its counts and its wall time."""

    group: str
    code: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == 0


def counts(summary: str) -> dict[str, int]:
    """The counts in pytest's closing line (`== 3 failed, 40 passed in 9.1s ==`); `error` → `errors`."""
    found: dict[str, int] = {}
    for number, word in COUNT.findall(summary):
        key = "errors" if word.startswith("error") else word
        found[key] = found.get(key, 0) + int(number)
    return found


def run_group(group: str, pytest_args: list[str]) -> Outcome:
    """pytest on tests/GROUP, its output passed through as it comes; the soak group selects `soak`."""
    marker = "soak" if group == "soak" else "not soak"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", marker, str(TESTS / group),
               *pytest_args]
    print(f"\n=== tests/{group}: {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    last = ""
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            if line.strip():
                last = line
    return Outcome(group, proc.returncode, time.monotonic() - started, counts(last))


def table(outcomes: list[Outcome]) -> str:
    """The per-group wall times and counts, as an aligned text table."""
    rows = [("group", "result", "wall time", *COUNTED)]
    for o in outcomes:
        rows.append((o.group, "ok" if o.ok else f"FAILED (exit {o.code})", f"{o.seconds:.1f}s",
                     *(str(o.counts.get(key, 0)) for key in COUNTED)))
    total = sum(o.seconds for o in outcomes)
    rows.append(("total", "ok" if all(o.ok for o in outcomes) else "FAILED", f"{total:.1f}s",
                 *(str(sum(o.counts.get(key, 0) for o in outcomes)) for key in COUNTED)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(row, widths, strict=True))) for row in rows)


def main(argv: list[str]) -> int:
    groups, pytest_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        print(f"tests/groups.py: unknown group {unknown[0]!r}; the groups are {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    outcomes = [run_group(group, pytest_args) for group in groups or GROUPS]
    print("\n=== wall time per group\n" + table(outcomes))
    totals = {key: sum(o.counts.get(key, 0) for o in outcomes) for key in COUNTED}
    seconds = sum(o.seconds for o in outcomes)
    print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['errors']} errors, "
          f"{totals['skipped']} skipped in {seconds:.1f}s")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
