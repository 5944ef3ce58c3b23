"""A real KServe V2 model server on loopback: MLServer serving a scikit-learn iris model.

The demo and the integration tests measure a real inference server, not a mock, so the
numbers and failure modes they see are the ones a KServe ``kserve-mlserver`` runtime
produces. This module trains the model (on scikit-learn's bundled iris data, so nothing is
downloaded), writes MLServer's settings, runs ``mlserver start`` as a child process and
guarantees the whole process group is gone afterwards.

Importable (``IrisServer`` is a context manager) and runnable::

    python examples/iris_server.py --workdir DIR -- COMMAND ARGS...

which starts the server, runs COMMAND with ``{url}`` (the infer URL) and ``{base_url}``
substituted in ARGS, stops the server and exits with COMMAND's exit code; or::

    python examples/iris_server.py --workdir DIR --serve      # `make serve`

which keeps the server up on 127.0.0.1:8080 (the port examples/sklearn-irisv2.yaml names)
until Ctrl-C, for one's own `isvcperf` commands in another terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

MODEL_NAME = "sklearn-irisv2"
HOST = "127.0.0.1"
# MLServer 1.7 imports its runtime and loads the model before answering; ~6 s here, so 60 s
# leaves room for a cold, busy CI machine without hanging a test session forever.
READY_TIMEOUT_S = 60.0
# How long MLServer gets to shut down cleanly before its process group is killed.
STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 40
# How long the CLI's COMMAND gets to wind down after Ctrl-C before it is killed.
COMMAND_GRACE_S = 30.0
SERVE_PORT = 8080
"""--serve's default HTTP port: the one the example specs name, so they run unchanged."""


def train_model(model_dir: Path) -> Path:
    """Write ``model.joblib`` and ``model-settings.json`` for ``sklearn-irisv2`` into model_dir.

    An existing ``model.joblib`` is reused, so repeated demo runs and test sessions skip the
    (small) training step and keep serving the identical model. Returns model_dir.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    model_file = model_dir / "model.joblib"
    if not model_file.exists():
        # Imported here so that importing this module (e.g. for free_port) stays cheap.
        import joblib
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        features, labels = load_iris(return_X_y=True)
        model = LogisticRegression(max_iter=500).fit(features, labels)
        # Write then rename, so a concurrent reader never loads a half-written file.
        partial = model_file.with_name(f"{model_file.name}.{os.getpid()}.tmp")
        joblib.dump(model, partial)
        partial.replace(model_file)
    model_settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2) + "\n")
    return model_dir


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (the OS picks it).

    Letting the OS choose keeps parallel servers (test sessions, a running demo) apart.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _log_tail(log_path: Path) -> str:
    """The last lines of MLServer's log: the only place its start-up errors are visible."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(lines[-LOG_TAIL_LINES:])


class IrisServer:
    """MLServer serving ``sklearn-irisv2`` on 127.0.0.1, as a context manager.

    Entering writes ``settings.json`` and the model into workdir, starts ``mlserver start``
    in its own process group (output to ``workdir/mlserver.log``) and returns once the
    model-ready endpoint answers 200. Leaving stops the whole process group, so no server
    outlives the test session or demo that started it.
    """

    def __init__(self, workdir: Path, http_port: int | None = None, grpc_port: int | None = None,
                 metrics: bool = False) -> None:
        self.workdir = Path(workdir).resolve()  # mlserver runs with cwd=workdir: a relative path would not resolve
        self.http_port = http_port if http_port is not None else free_port()
        self.grpc_port = grpc_port if grpc_port is not None else free_port()
        self.metrics_port = free_port() if metrics else None
        """MLServer's own Prometheus metrics port, when asked for (off by default: one port fewer to collide on)."""
        self.metrics_url = f"http://{HOST}:{self.metrics_port}/metrics" if metrics else None
        self.base_url = f"http://{HOST}:{self.http_port}"
        self.infer_url = f"{self.base_url}/v2/models/{MODEL_NAME}/infer"
        self.ready_url = f"{self.base_url}/v2/models/{MODEL_NAME}/ready"
        self.log_path = self.workdir / "mlserver.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> IrisServer:
        self._start()
        try:
            self._wait_ready()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()

    def _write_settings(self) -> None:
        settings = {
            # MLServer's worker pool breaks on recent uvloop; serve from the main process.
            "parallel_workers": 0,
            "host": HOST,
            "http_port": self.http_port,
            "grpc_port": self.grpc_port,
        }
        if self.metrics_port is None:
            # No metrics server: one port fewer that parallel servers could collide on.
            settings["metrics_endpoint"] = None
        else:
            settings["metrics_port"] = self.metrics_port
        (self.workdir / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")

    def _start(self) -> None:
        # The mlserver next to this interpreter, so the server runs the venv's packages even
        # when that venv is not activated (as under make and CI).
        mlserver = Path(sys.executable).parent / "mlserver"
        if not mlserver.exists():
            raise FileNotFoundError(f"{mlserver} not found: install the test extras with pip install -e '.[test]'")
        self.workdir.mkdir(parents=True, exist_ok=True)
        train_model(self.workdir / "models" / MODEL_NAME)
        self._write_settings()
        with self.log_path.open("wb") as log:
            # The child keeps its own copy of the log descriptor; ours can close now.
            self._process = subprocess.Popen(
                [str(mlserver), "start", str(self.workdir)],
                cwd=self.workdir,  # MLServer puts .envs/.metrics in its working directory
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stopped as one, spared our Ctrl-C
            )

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            returncode = self._process.poll()
            if returncode is not None:
                raise RuntimeError(
                    f"mlserver exited with code {returncode} before {MODEL_NAME} was ready; "
                    f"{self.log_path} ends with:\n{_log_tail(self.log_path)}"
                )
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet, or the model is still loading
            time.sleep(0.2)
        raise TimeoutError(
            f"{MODEL_NAME} not ready at {self.ready_url} after {READY_TIMEOUT_S:.0f} s; "
            f"{self.log_path} ends with:\n{_log_tail(self.log_path)}"
        )

    def running(self) -> bool:
        """Whether MLServer is still up (--serve watches it, so a crash does not go unnoticed)."""
        return self._process is not None and self._process.poll() is None

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_S)
        # SIGKILL the group even after a clean exit of the leader: any child it left
        # behind would otherwise keep the ports.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _substitute(args: Sequence[str], server: IrisServer) -> list[str]:
    """Fill in the server's URLs; str.replace, not format, so other braces pass through."""
    urls = {"{url}": server.infer_url, "{base_url}": server.base_url, "{metrics_url}": server.metrics_url or ""}
    out = []
    for arg in args:
        for key, value in urls.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return out


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM (CI cancelling a job) into an exception, so the server is still stopped."""
    raise SystemExit(128 + signum)


def _run_command(command: list[str]) -> int:
    """Run command to completion; on Ctrl-C or SIGTERM give it time to shut down cleanly."""
    process = subprocess.Popen(command)
    try:
        return process.wait()
    except BaseException as interruption:
        if not isinstance(interruption, KeyboardInterrupt):
            process.terminate()  # SIGTERM was sent to us alone; pass it on
        # Ctrl-C reaches the command too (same process group). Let it finish its own shutdown
        # (isvcperf still reports what it measured) before forcing it.
        try:
            process.wait(timeout=COMMAND_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise


def _serve(server: IrisServer) -> int:
    """Keep serving until Ctrl-C or SIGTERM (which end the process via the caller); exit 1 if MLServer dies."""
    print(f"serving until Ctrl-C; in another terminal:\n  isvcperf run examples/sklearn-irisv2.yaml "
          f"--set target.url={server.infer_url}", flush=True)
    while server.running():
        time.sleep(1.0)
    print(f"iris_server.py: mlserver exited; {server.log_path} ends with:\n{_log_tail(server.log_path)}",
          file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command against a freshly started server; return the command's exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        split = argv.index("--")
        own_args, command = argv[:split], argv[split + 1 :]
    else:
        own_args, command = argv, []
    parser = argparse.ArgumentParser(
        prog="iris_server.py",
        usage="%(prog)s --workdir DIR [--http-port N] [--grpc-port N] [--metrics] (--serve | -- COMMAND ARGS...)",
        description="Start MLServer with an iris model on 127.0.0.1, run COMMAND with {url} "
        "(the infer URL), {base_url} and {metrics_url} replaced in ARGS, stop the server, exit with COMMAND's code; "
        "or, with --serve, keep serving until Ctrl-C.",
    )
    parser.add_argument("--workdir", type=Path, required=True, help="where the model, settings and mlserver.log go")
    parser.add_argument("--http-port", type=int, help="HTTP port (default: a free one)")
    parser.add_argument("--grpc-port", type=int, help="gRPC port (default: a free one)")
    parser.add_argument("--metrics", action="store_true", help="serve MLServer's Prometheus metrics on a free port")
    parser.add_argument("--serve", action="store_true",
                        help=f"no COMMAND: serve until Ctrl-C (HTTP port {SERVE_PORT} unless --http-port)")
    args = parser.parse_args(own_args)
    if args.serve == bool(command):
        parser.error("give either --serve or a COMMAND after --")
    if args.serve and args.http_port is None:
        args.http_port = SERVE_PORT

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with IrisServer(args.workdir, http_port=args.http_port, grpc_port=args.grpc_port,
                        metrics=args.metrics) as server:
            print(f"MLServer ready at {server.base_url} (infer: {server.infer_url})", flush=True)
            if args.serve:
                return _serve(server)
            try:
                return _run_command(_substitute(command, server))
            except FileNotFoundError:
                print(f"iris_server.py: command not found: {command[0]}", file=sys.stderr)
                return 127
    except KeyboardInterrupt:
        print("iris_server.py: interrupted; MLServer stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
