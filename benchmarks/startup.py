"""How fast the CLI starts: `isvcperf --help`, and the first request of a local one-request run.

`python benchmarks/startup.py [--rounds 5] [--before DIR]` measures, against nginx on
127.0.0.1 (targets.py), for the code in this tree and, with `--before`, for another copy of
the package (e.g. `git archive <commit> isvcperf | tar -x -C DIR`, run with PYTHONPATH=DIR
and this venv), interleaved round by round so a busy machine slows both alike:

- `--help`: from the command's start to its exit;
- `imports`: `python -c "import isvcperf.cli.run"`, what `isvcperf run` loads before it does anything;
- a run of one request (`isvcperf run --url URL --requests 1`, a spec without a file): from
  the start to the line saying the target is ready, to the first request nginx answered
  (its access log), and to the command's exit.

Nothing is asserted; the medians are printed as the Markdown table in README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import Nginx

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
RUN_TIMEOUT_S = 60.0
POLL_S = 0.005


def _env(tree: Path | None) -> dict[str, str]:
    """The environment that runs `tree`'s package (the commands run outside this checkout, whose
    directory would otherwise come first on sys.path)."""
    return {**os.environ, **({"PYTHONPATH": str(tree)} if tree else {})}


def _timed(command: list[str], tree: Path | None) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=_env(tree), cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=RUN_TIMEOUT_S)
    return time.perf_counter() - start


def one_request(nginx: Nginx, tree: Path | None, out: Path) -> dict[str, float]:
    """Seconds from the start of a one-request run to: target ready, first request answered, exit."""
    before = nginx.requests
    spec = out.with_suffix(".yaml")  # a spec file, so the old CLI (no --url) runs the same test
    spec.write_text(json.dumps({"name": "startup", "target": {"url": nginx.url()}, "payload": {"file": str(PAYLOAD)},
                                "load": {"users": 1, "requests": 1, "workers": 1}}))
    marks: dict[str, float] = {}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "isvcperf", "run", str(spec), "--out", str(out)],
                               env=_env(tree), cwd=out.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if "target ready" in line and "ready" not in marks:
                marks["ready"] = time.perf_counter() - start

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while process.poll() is None and time.perf_counter() - start < RUN_TIMEOUT_S:
        if "first" not in marks and nginx.requests > before:
            marks["first"] = time.perf_counter() - start
        time.sleep(POLL_S)
    process.wait(timeout=RUN_TIMEOUT_S)
    marks["exit"] = time.perf_counter() - start
    reader.join(timeout=5)
    if process.returncode != 0 or "first" not in marks:
        raise SystemExit(f"the one-request run failed (exit {process.returncode}); see {out}")
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", type=Path, help="a copy of an older isvcperf package to measure beside this one")
    args = parser.parse_args()
    trees: dict[str, Path | None] = {"after": None, **({"before": args.before.resolve()} if args.before else {})}
    figures: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    with Nginx(count=True) as nginx, tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, tree in trees.items():
                rows = figures[name]
                rows.setdefault("--help", []).append(_timed([sys.executable, "-m", "isvcperf", "--help"], tree))
                rows.setdefault("imports", []).append(_timed([sys.executable, "-c", "import isvcperf.cli.run"], tree))
                for mark, seconds in one_request(nginx, tree, Path(tmp) / f"{name}{r}").items():
                    rows.setdefault(f"run: {mark}", []).append(seconds)
    names = list(trees)
    print(f"| seconds (median of {args.rounds}) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for row in figures["after"]:
        print(f"| {row} | " + " | ".join(f"{statistics.median(figures[n][row]):.2f}" for n in names) + " |")


if __name__ == "__main__":
    main()
