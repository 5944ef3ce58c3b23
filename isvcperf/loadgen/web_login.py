"""A password login for Locust's web UI when it is exposed beyond loopback (`--ui-host`).

The web UI can start, stop and reshape the load, so it binds 127.0.0.1 unless the user
opts in; then the master runs with Locust's `--web-login`, which only shows a login page:
who may log in is the locustfile's to say (Locust's "Authentication" extension point).
Here it is one account, `isvcperf`, with the password in ISVCPERF_UI_PASSWORD (given to
the master process only, never written to a file), compared in constant time. isvcperf's
own routes (`/isvcperf/...`, what the orchestrator on this machine reads and posts) need
the login too unless the caller is on loopback.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from typing import Any

USERNAME = "isvcperf"
PASSWORD_ENV = "ISVCPERF_UI_PASSWORD"
SUBMIT_ROUTE = "/isvcperf/login"
OWN_ROUTES = "/isvcperf/"


def install(web_ui: Any) -> None:
    """Make `web_ui` (started with --web-login) accept USERNAME and the password from the environment."""
    # Flask is imported here, inside the master, so the CLI can read the names above without it.
    from flask import Blueprint, Response, redirect, request, session, url_for
    from flask_login import UserMixin, current_user, login_user

    class Operator(UserMixin):
        def __init__(self, name: str) -> None:
            self.id = name

    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise RuntimeError(f"--web-login needs {PASSWORD_ENV} in the master's environment")
    app = web_ui.app
    app.config["SECRET_KEY"] = secrets.token_bytes(32)
    web_ui.login_manager.user_loader(lambda name: Operator(name) if name == USERNAME else None)
    web_ui.auth_args = {"username_password_callback": SUBMIT_ROUTE}
    blueprint = Blueprint("isvcperf_login", __name__)

    @blueprint.route(SUBMIT_ROUTE, methods=["POST"])
    def submit() -> Any:
        name_ok = hmac.compare_digest(request.form.get("username", "").encode(), USERNAME.encode())
        password_ok = hmac.compare_digest(request.form.get("password", "").encode(), password.encode())
        if name_ok and password_ok:
            login_user(Operator(USERNAME))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Invalid username or password"
        return redirect(url_for("locust.login"))

    @app.before_request
    def guard_own_routes() -> Any:
        if not request.path.startswith(OWN_ROUTES) or request.path == SUBMIT_ROUTE:
            return None
        if _is_loopback(request.remote_addr) or current_user.is_authenticated:
            return None
        return Response("login required\n", status=401, mimetype="text/plain")

    app.register_blueprint(blueprint)


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
