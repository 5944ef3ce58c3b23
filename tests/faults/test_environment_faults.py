"""The machine gets in the way: the output directory cannot be written or is full, the
ports the runner chose are taken. Each is a clear error before any load is sent, or is
worked around."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from runs import record, run_cli, write_spec
from servers import FaultServer

from isvcperf import spec as spec_module
from isvcperf.payload.bodies import load_payload
from isvcperf.runners import local
from isvcperf.runners.local import PORT_ATTEMPTS, LocalRunner
from isvcperf.util.errors import CouldNotRun


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[bool]:
    """Mount a tmpfs at `path` when this user may (root in CI containers); yields whether it did."""
    path.mkdir()
    mounted = os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(directory: Path) -> None:
    """Write until the file system says it is full (ENOSPC)."""
    with contextlib.suppress(OSError), open(directory / "filler", "wb") as handle:
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()


def _file_size_limit() -> None:
    """In the CLI's process: files may not grow past 1 KiB, and exceeding it is an error, not SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


@pytest.mark.parametrize("fault", ["unwritable", "full"])
def test_output_directory_problem_is_a_clear_error_before_any_load(
        fault: str, tmp_path: Path, serve: Callable[..., FaultServer]) -> None:
    target = serve("ok")
    spec = write_spec(tmp_path, target.url)
    mount = tmp_path / "mnt"
    preexec = None
    with tmpfs(mount, "ro,size=1m" if fault == "unwritable" else "size=64k") as mounted:
        if fault == "unwritable" and not mounted:
            mount.chmod(0o500)  # not root: permissions do it (root ignores them, hence the read-only mount)
            how = "read-only by permissions (chmod 500)"
        elif fault == "unwritable":
            how = "a read-only tmpfs"
        elif mounted:
            _fill(mount)
            how = "a full 64 KiB tmpfs"
        else:
            preexec = _file_size_limit
            how = "a 1 KiB file-size limit (RLIMIT_FSIZE), no tmpfs mount allowed here"
        out = mount / "results"
        run = run_cli(tmp_path, "run", str(spec), "--out", str(out), preexec=preexec)
    assert run.returncode == 2, run.text
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith(f"isvcperf: error: --out: cannot write to '{out}'"), line
    assert line.endswith("choose another directory")
    assert "Traceback" not in run.text
    assert target.requests == 0  # before any load (readiness probes are not counted, and none ran either)
    print(f"\n[output directory {fault}] simulated with {how}: {line}")
    record(f"output directory {fault} ({how})", None, "nothing: refused before any request")


@pytest.fixture
def spec_for(tmp_path: Path, serve: Callable[..., FaultServer]) -> spec_module.RunSpec:
    target = serve("ok")
    return spec_module.load_file(write_spec(tmp_path, target.url, load={"duration": None, "requests": 30, "rate": 0}))


def _hand_out_taken(monkeypatch: pytest.MonkeyPatch, taken: int, calls: Callable[[int], bool]) -> list[int]:
    """free_port() answers `taken` on the calls (0, 1, ...) where `calls(n)` holds, else a truly free port."""
    handed: list[int] = []
    real = local.free_port

    def fake(host: str = "127.0.0.1") -> int:
        handed.append(taken if calls(len(handed)) else real(host))
        return handed[-1]

    monkeypatch.setattr(local, "free_port", fake)
    return handed


@pytest.mark.parametrize("port", ["master", "web"])
def test_taken_port_is_replaced_by_a_free_one(port: str, tmp_path: Path, spec_for: spec_module.RunSpec,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process binds a port between the runner choosing it and Locust binding it."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        first_call = 0 if port == "master" else 1  # the runner asks for the master's port, then the web UI's
        taken = squatter.getsockname()[1]
        handed = _hand_out_taken(monkeypatch, taken, lambda n: n == first_call)
        out = tmp_path / "out"
        out.mkdir()
        runner = LocalRunner(spec_for, load_payload(spec_for), out)
        try:
            outcome = runner.run(lambda stats: None, None)
        finally:
            runner.close()
    assert outcome.finished and outcome.stats is not None
    assert outcome.stats["total"]["requests"] == 30
    assert len(handed) == 4 and taken not in (runner.plan.ports.master, runner.plan.ports.web)
    record(f"{port} port taken by another process", None, "nothing: new ports chosen, run completed")


def test_ports_taken_every_time_is_a_clear_error(tmp_path: Path, spec_for: spec_module.RunSpec,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        _hand_out_taken(monkeypatch, squatter.getsockname()[1], lambda n: True)
        out = tmp_path / "out"
        out.mkdir()
        runner = LocalRunner(spec_for, load_payload(spec_for), out)
        try:
            with pytest.raises(CouldNotRun, match=f"taken by another process {PORT_ATTEMPTS} times in a row"):
                runner.run(lambda stats: None, None)
        finally:
            runner.close()
