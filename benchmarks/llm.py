"""Generative benchmarks (issue 13): `python benchmarks/llm.py fidelity|capacity|agreement|all`.

- fidelity: TTFT and ITL p50/p99 that isvcperf measures on the fixed-cadence nginx stream (50 ms,
  then 64 frames 10 ms apart), at 1 and 64 streams at once, against the nominal cadence and the
  cadence a raw-socket reference client (sse_reference.py) measures in the same run;
- capacity: streams/s and frames/s that one worker process holds against the `fast` stream
  (64 frames, no sleeps), next to plain Locust (FastHttpUser + iter_lines) and a vLLM-style
  asyncio/aiohttp client, same target, same run, 64 and 512 streams at once;
- agreement: on llama-server, each request's client TTFT against the server's own
  `timings.prompt_ms` (isvcperf, through llm_timings_locustfile.py, and the reference client).

Every run is bounded in requests or seconds and talks to 127.0.0.1 only. Tables go to stdout
(benchmarks/README.md copies them), raw figures to benchmarks/results/llm-NAME-DATE.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import sse_reference
from harness import HERE, _run, fasthttp, machine, run_spec, save
from targets import MODEL, STREAMS, Nginx

PROMPT = "benchmark"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile of raw values (no histogram in the way)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def openai_spec(base_url: str, model: str, users: int, load: dict[str, Any], output_tokens: int = 64,
                **extra: Any) -> dict[str, Any]:
    """An isvcperf spec streaming completions from `base_url` (/v1 prefix) with one worker."""
    return {
        "name": "bench-llm",
        "target": {"baseUrl": base_url, "protocol": "openai", "api": "completions", "model": model,
                   "openaiPrefix": "/v1", "timeout": "60s"},
        "generate": {"source": "synthetic", "prompts": 256, "input": {"distribution": "uniform", "min": 16, "max": 48},
                     "output": {"distribution": "fixed", "mean": output_tokens}},
        "load": {"users": users, "workers": 1, "warmup": {"requests": users}, **load},
        **extra,
    }


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def fidelity(tmp: Path) -> dict[str, Any]:
    """TTFT and ITL on the 50 ms / 10 ms / 64-frame stream: nominal, reference client, isvcperf."""
    truth = STREAMS[""]
    out: dict[str, Any] = {"levels": []}
    table = [_row("streams at once", "measure", "nominal", "reference p50", "isvcperf p50", "Δ p50 vs ref",
                  "reference p99", "isvcperf p99", "Δ p99 vs ref"), "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    with Nginx() as nginx:
        base = nginx.openai_url()
        for concurrency, count in ((1, 30), (64, 256)):
            body = {"model": MODEL, "prompt": PROMPT, "max_tokens": truth.frames}
            streams = sse_reference.run(base + "/v1/completions", [body] * (count + concurrency), concurrency)
            streams = streams[concurrency:]  # the first wave warms up, as isvcperf's warm-up does
            reference = {"ttft": [1e3 * s.ttft for s in streams], "itl": [1e3 * g for s in streams for g in s.gaps]}
            result, cpu = run_spec(openai_spec(base, MODEL, concurrency, {"requests": count}),
                                   tmp / f"fidelity-{concurrency}", 600)
            metrics = result["metrics"]
            level: dict[str, Any] = {"concurrency": concurrency, "streams": count, "isvcperf_cpu_s": cpu,
                                     "errors": metrics["llm/error-count"]}
            for name, nominal in (("ttft", 1e3 * truth.ttft_s), ("itl", 1e3 * truth.gap_s)):
                ref50, ref99 = pct(reference[name], 50), pct(reference[name], 99)
                ours50, ours99 = metrics[f"llm/{name}-p50"], metrics[f"llm/{name}-p99"]
                level[name] = {"nominal": nominal, "reference_p50": ref50, "reference_p99": ref99,
                               "reference_mean": statistics.mean(reference[name]), "isvcperf_p50": ours50,
                               "isvcperf_p99": ours99, "isvcperf_mean": metrics[f"llm/{name}-mean"]}
                table.append(_row(concurrency, name.upper(), f"{nominal:.2f}", f"{ref50:.2f}", f"{ours50:.2f}",
                                  f"{ours50 - ref50:+.2f}", f"{ref99:.2f}", f"{ours99:.2f}", f"{ours99 - ref99:+.2f}"))
            out["levels"].append(level)
    out["table"] = table
    return out


def capacity(tmp: Path, seconds: int, levels: tuple[int, ...] = (64, 512)) -> dict[str, Any]:
    """Streams/s and frames/s of one generator process against the `fast` stream, three clients."""
    frames_per_stream = STREAMS["fast"].frames
    rows: list[dict[str, Any]] = []
    with Nginx() as nginx:
        base = nginx.openai_url("fast")
        url = base + "/v1/completions"
        for users in levels:
            result, cpu = run_spec(openai_spec(base, MODEL, users, {"duration": f"{seconds}s"}),
                                   tmp / f"capacity-{users}", seconds + 300)
            m = result["metrics"]
            rows.append({"users": users, "client": "isvcperf (one worker)", "streams_s": m["llm/request-throughput"],
                         "frames_s": m["llm/output-tokens-per-second"], "ttft_p50": m["llm/ttft-p50"],
                         "errors": m["llm/error-count"], "cpu_s": cpu, "seconds": result["measuredSeconds"]})
            frames_dir = tmp / f"frames-{users}"
            frames_dir.mkdir()
            locust = fasthttp(url, users, seconds, "fasthttp_sse_locustfile.py", {"BENCH_FRAMES_DIR": str(frames_dir)})
            frames, streams = (sum(c) for c in zip(*(map(int, p.read_text().split()) for p in frames_dir.iterdir()), strict=True))
            # over Locust's whole -t run time (its spawn second included): its stats can miss the last report
            rows.append({"users": users, "client": "Locust FastHttpUser iter_lines", "streams_s": streams / seconds,
                         "frames_s": frames / seconds, "ttft_p50": None, "errors": None, "cpu_s": locust.cpu_seconds,
                         "seconds": seconds, "locust_requests": locust.requests})
            done, cpu = _run([sys.executable, str(HERE / "aiohttp_openai_client.py"), url, str(users), str(seconds)],
                             timeout=seconds + 120)
            found = json.loads(done.stdout)
            rows.append({"users": users, "client": "asyncio + aiohttp (vLLM bench style)",
                         "streams_s": found["streams"] / found["seconds"], "frames_s": found["frames"] / found["seconds"],
                         "ttft_p50": found["ttft_p50_ms"], "errors": found["errors"], "cpu_s": cpu,
                         "seconds": found["seconds"]})
    table = [_row("streams at once", "client", "streams/s", "frames/s", "TTFT p50 ms", "errors", "client CPU"),
             "|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ttft = "-" if r["ttft_p50"] is None else f"{r['ttft_p50']:.2f}"
        errors = "-" if r["errors"] is None else f"{r['errors']:.0f}"
        table.append(_row(r["users"], r["client"], f"{r['streams_s']:,.0f}", f"{r['frames_s']:,.0f}", ttft, errors,
                          f"{100 * r['cpu_s'] / r['seconds']:.0f}%"))
    return {"frames_per_stream": frames_per_stream, "seconds": seconds, "rows": rows, "table": table}


def agreement(tmp: Path, requests: int = 64) -> dict[str, Any]:
    """Client TTFT minus llama-server's own prompt time, per request, at 1 and 4 streams at once."""
    from llm_server import BUILD_SCRIPT, LlamaServer, llama_server_binary
    from tiny_gguf import write_tiny_gguf

    binary = llama_server_binary()
    if binary is None:
        raise SystemExit(f"llama-server is not built: run {BUILD_SCRIPT} (~7 min once per machine)")
    out: dict[str, Any] = {"levels": []}
    table = [_row("streams at once", "client", "requests", "client TTFT p50 / p99", "server prompt_ms p50 / p99",
                  "TTFT − prompt p50", "p99", "min", "TTFT < prompt"), "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    with LlamaServer(binary, write_tiny_gguf(tmp / "tiny.gguf"), tmp / "llama-server.log") as server:
        for users in (1, 4):
            bodies = [{"model": server.model, "prompt": f"{i} {PROMPT} " + "the quick brown fox " * 8, "max_tokens": 32}
                      for i in range(requests + users)]
            streams = sse_reference.run(server.base_url + "/v1/completions", bodies, users)[users:]
            pairs = {"reference client": [(1e3 * s.ttft, float(s.timings["prompt_ms"])) for s in streams if s.timings]}
            timings_file = tmp / f"timings-{users}.jsonl"
            spec = openai_spec(server.base_url, server.model, users, {"requests": requests}, output_tokens=32)
            spec["load"]["locustfile"] = str(HERE / "llm_timings_locustfile.py")
            run_spec(spec, tmp / f"agreement-{users}", 600, {"BENCH_TIMINGS_FILE": str(timings_file)})
            rows = [json.loads(line) for line in timings_file.read_text().splitlines()]
            pairs["isvcperf"] = [(r["ttft_ms"], float(r["prompt_ms"])) for r in rows]
            for client, found in pairs.items():
                ttft, prompt = [t for t, _ in found], [p for _, p in found]
                diff = [t - p for t, p in found]
                below = sum(d < 0 for d in diff)
                out["levels"].append({"concurrency": users, "client": client, "requests": len(found),
                                      "ttft_ms": ttft, "prompt_ms": prompt, "below": below})
                table.append(_row(users, client, len(found), f"{pct(ttft, 50):.2f} / {pct(ttft, 99):.2f}",
                                  f"{pct(prompt, 50):.2f} / {pct(prompt, 99):.2f}", f"{pct(diff, 50):+.2f}",
                                  f"{pct(diff, 99):+.2f}", f"{min(diff):+.2f}", below))
    out["table"] = table
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["fidelity", "capacity", "agreement", "all"])
    parser.add_argument("--seconds", type=int, default=10, help="capacity: length of each client's run")
    args = parser.parse_args()
    found: dict[str, Any] = {"machine": machine()}
    names = ["fidelity", "capacity", "agreement"] if args.which == "all" else [args.which]
    with tempfile.TemporaryDirectory(prefix="isvcperf-bench-llm-") as tmp:
        for name in names:
            before = os.getloadavg()[0]
            started = time.monotonic()
            if name == "fidelity":
                found[name] = fidelity(Path(tmp))
            elif name == "capacity":
                found[name] = capacity(Path(tmp), max(args.seconds, 5))
            else:
                found[name] = agreement(Path(tmp))
            found[name]["load_average"] = [before, os.getloadavg()[0]]
            found[name]["wall_seconds"] = time.monotonic() - started
            print(f"\n## {name} (load average {before:.1f} before, {os.getloadavg()[0]:.1f} after)\n\n"
                  + "\n".join(found[name]["table"]), flush=True)
    save(found, f"llm-{args.which}")


if __name__ == "__main__":
    main()
