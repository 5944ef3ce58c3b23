"""Locust's web UI can start and stop load, so it listens on 127.0.0.1 unless the user opts
in with --ui-host; then it asks for a login (Locust's --web-login, isvcperf's account)."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
from runs import CliRun, locust_pid, wait_for, write_spec
from targets import Nginx

from isvcperf.plan.topology import is_loopback


def _ui_port(cli: CliRun) -> int:
    wait_for(lambda: "Locust web UI: " in cli.stdout, 60, "the web UI address")
    match = re.search(r"Locust web UI: http://127\.0\.0\.1:(\d+)/", cli.stdout)
    assert match, cli.stdout
    return int(match.group(1))


def _listening_on(pid: int, port: int) -> str:
    """The address process `pid` listens on at `port`."""
    process = psutil.Process(pid)
    connections = getattr(process, "net_connections", None) or process.connections  # psutil 6 renamed it

    def bound() -> list[str]:
        return [c.laddr.ip for c in connections("tcp") if c.laddr.port == port and c.status == psutil.CONN_LISTEN]

    wait_for(lambda: bool(bound()), 30, "the web UI to listen")
    return bound()[0]


def test_web_ui_binds_loopback_by_default(tmp_path: Path, healthy: Nginx) -> None:
    spec = write_spec(tmp_path, healthy.url(), load={"duration": "6s", "rate": 10})
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out), "--ui"])
    port = _ui_port(cli)
    assert _listening_on(locust_pid(out, "master"), port) == "127.0.0.1"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:  # no login on loopback
        assert page.status == 200 and page.url.endswith(f":{port}/")
    assert cli.wait(out).returncode == 0


def test_exposed_web_ui_requires_a_login(tmp_path: Path, healthy: Nginx) -> None:
    spec = write_spec(tmp_path, healthy.url(), load={"duration": "8s", "rate": 10})
    out = tmp_path / "out"
    cli = CliRun(tmp_path, ["run", str(spec), "--out", str(out), "--ui-host", "0.0.0.0"])
    port = _ui_port(cli)
    wait_for(lambda: "login: isvcperf / " in cli.stdout, 10, "the generated password")
    password = re.search(r"login: isvcperf / (\S+)", cli.stdout).group(1)  # type: ignore[union-attr]
    assert _listening_on(locust_pid(out, "master"), port) == "0.0.0.0"
    base = f"http://127.0.0.1:{port}"
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(f"{base}/", timeout=5) as page:
        assert urllib.parse.urlsplit(page.url).path == "/login"  # the UI itself is behind the login
    for wrong in ({"username": "isvcperf", "password": "guess"}, {"username": "admin", "password": password}):
        with browser.open(f"{base}/isvcperf/login", urllib.parse.urlencode(wrong).encode(), timeout=5) as page:
            assert urllib.parse.urlsplit(page.url).path == "/login"
    with browser.open(f"{base}/stats/requests", timeout=5) as page:
        assert urllib.parse.urlsplit(page.url).path == "/login"  # still not logged in
    login = urllib.parse.urlencode({"username": "isvcperf", "password": password}).encode()
    with browser.open(f"{base}/isvcperf/login", login, timeout=5) as page:
        assert page.status == 200 and urllib.parse.urlsplit(page.url).path == "/"
    with browser.open(f"{base}/stats/requests", timeout=5) as page:
        assert page.status == 200 and b"stats" in page.read()
    run = cli.wait(out)
    assert run.returncode == 0, run.text  # the orchestrator, on loopback, read its stats throughout
    assert not [p for p in out.rglob("*") if p.is_file() and password.encode() in p.read_bytes()]


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
