"""The baseline: a minimal POST with Locust's own FastHttpUser, as its docs suggest."""

import os

from locust import FastHttpUser, constant, task

PATH = os.environ.get("BENCH_PATH", "/v2/models/bench/infer")


class MinimalPost(FastHttpUser):
    wait_time = constant(0)

    @task
    def infer(self) -> None:
        self.client.post(PATH, data=b'{"inputs": []}', headers={"Content-Type": "application/json"})
