"""The plain-Locust streaming baseline: FastHttpUser reading an OpenAI SSE stream with Locust's own
`client.iter_lines` (its documented way to stream), each `data:` line parsed as JSON, content
frames counted. Locust records one request per stream (its time is to the response headers);
each process writes the frames and whole streams (`[DONE]` read) it counted to
`$BENCH_FRAMES_DIR/<pid>` when it quits (Locust's own request count can miss the last report).
"""

import json
import os
from pathlib import Path

from locust import FastHttpUser, constant, events, task

PATH = os.environ.get("BENCH_PATH", "/fast/v1/completions")
BODY = {"model": "sse-cadence", "prompt": "benchmark", "max_tokens": 64, "stream": True}
frames = streams = 0


class StreamingUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def stream(self) -> None:
        global frames, streams
        for line in self.client.iter_lines(PATH, method="POST", json=BODY):
            chunk = line.strip().removeprefix("data: ")
            if chunk == "[DONE]":
                streams += 1
            elif chunk:
                data = json.loads(chunk)
                if data["choices"] and data["choices"][0].get("text"):
                    frames += 1


@events.quitting.add_listener
def _write_frames(**_kwargs: object) -> None:
    folder = os.environ.get("BENCH_FRAMES_DIR")
    if folder and frames:
        (Path(folder) / str(os.getpid())).write_text(f"{frames} {streams}")
