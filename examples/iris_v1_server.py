"""A real KServe V1 model server on loopback: KServe's own Python model server, iris model.

MLServer speaks only the V2 protocol, so V1 (``POST /v1/models/NAME:predict`` with
``{"instances": [...]}``) is served by the ``kserve`` package's ``ModelServer`` — the same
server KServe's sklearn runtime image runs — with a small ``kserve.Model`` that loads the
iris model ``iris_server.train_model`` writes. ``IrisV1Server`` is the context manager the
tests use; it runs this file as a child process (``python iris_v1_server.py serve MODEL_DIR
PORT``), because kserve parses ``sys.argv`` when it is imported and runs its own event loop.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from iris_server import IrisServer, train_model

MODEL_NAME = "sklearn-iris"
SERVE = "serve"


class IrisV1Server(IrisServer):
    """KServe's ModelServer serving ``sklearn-iris`` over V1 REST on 127.0.0.1.

    Start, readiness polling and process-group shutdown are IrisServer's; only the command
    and the URLs differ.
    """

    def __init__(self, workdir: Path, http_port: int | None = None, grpc_port: int | None = None) -> None:
        super().__init__(workdir, http_port=http_port, grpc_port=grpc_port)
        self.infer_url = f"{self.base_url}/v1/models/{MODEL_NAME}:predict"
        self.ready_url = f"{self.base_url}/v1/models/{MODEL_NAME}"
        self.log_path = self.workdir / "kserve.log"

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        model_dir = train_model(self.workdir / "models" / MODEL_NAME)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, __file__, SERVE, str(model_dir), str(self.http_port)],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def serve(model_dir: str, http_port: int) -> None:
    """Run KServe's ModelServer in this process until it is signalled (the child's side)."""
    import joblib
    import kserve

    class IrisModel(kserve.Model):  # type: ignore[misc]  # kserve ships no type information
        """Predicts iris classes for V1 ``instances`` (rows of four features)."""

        def load(self) -> bool:
            self._model = joblib.load(Path(model_dir) / "model.joblib")
            self.ready = True
            return self.ready

        def predict(self, payload: dict[str, Any], headers: dict[str, str] | None = None,
                    response_headers: dict[str, str] | None = None) -> dict[str, Any]:
            return {"predictions": self._model.predict(payload["instances"]).tolist()}

    model = IrisModel(MODEL_NAME)
    model.load()
    # One uvicorn worker, no gRPC server: the V1 REST endpoint is what this server is for.
    kserve.ModelServer(http_port=http_port, workers=1, enable_grpc=False).start([model])


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != SERVE:
        sys.exit(f"usage: {sys.argv[0]} {SERVE} MODEL_DIR HTTP_PORT (normally started by IrisV1Server)")
    serve(sys.argv[2], int(sys.argv[3]))
