"""The asyncio/aiohttp OpenAI streaming client the way vLLM's `bench serve` writes it, as a baseline.

vLLM's request function (benchmarks/backend_request_func.py, `async_request_openai_completions`)
posts with one shared `aiohttp.ClientSession`, iterates `response.content` line by line, strips
`data: `, parses each chunk with `json.loads` and takes `time.perf_counter()` per chunk with
text. This does the same, `concurrency` streams at a time, closed loop, for `seconds`, in one
process on the default asyncio loop, and prints one JSON line: streams, content frames, errors,
seconds and TTFT p50 (ms). Run: `python aiohttp_openai_client.py URL CONCURRENCY SECONDS`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp

BODY = {"model": "sse-cadence", "prompt": "benchmark", "max_tokens": 64, "stream": True}


async def _stream(session: aiohttp.ClientSession, url: str, counts: dict[str, Any]) -> None:
    start = time.perf_counter()
    first: float | None = None
    async with session.post(url, json=BODY) as response:
        if response.status != 200:
            counts["errors"] += 1
            return
        async for line in response.content:
            chunk = line.strip()
            if not chunk:
                continue
            chunk = chunk.removeprefix(b"data: ")
            if chunk == b"[DONE]":
                break
            data = json.loads(chunk)
            if data["choices"] and data["choices"][0].get("text"):
                if first is None:
                    first = time.perf_counter() - start
                counts["frames"] += 1
    counts["streams"] += 1
    if first is not None:
        counts["ttft"].append(first)


async def main(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    counts: dict[str, Any] = {"streams": 0, "frames": 0, "errors": 0, "ttft": []}
    deadline = time.perf_counter() + seconds
    # limit=0: no cap on connections (aiohttp's default is 100), as vLLM sets it
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def loop() -> None:
            while time.perf_counter() < deadline:
                await _stream(session, url, counts)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ttft = counts.pop("ttft")
    return {**counts, "seconds": elapsed, "ttft_p50_ms": 1e3 * statistics.median(ttft) if ttft else None}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("url", help="the completions endpoint, e.g. http://127.0.0.1:8080/fast/v1/completions")
    parser.add_argument("concurrency", type=int)
    parser.add_argument("seconds", type=float)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.url, args.concurrency, args.seconds))))
