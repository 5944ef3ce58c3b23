"""TLS for https targets: verified by default, against the system's CAs or target.caBundle.

One place for the client context, so readiness probes and the load users trust exactly
the same certificates; `target.insecure` is the only way to turn verification off, and
it is said in every report (`insecure_warning`).
"""

from __future__ import annotations

import ssl


def client_context(insecure: bool = False, ca_bundle: str | None = None) -> ssl.SSLContext:
    """A client context: no verification when `insecure`, else the system's CAs or `ca_bundle`'s."""
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_bundle)


def insecure_warning(url: str, insecure: bool) -> list[str]:
    """The warning every report carries when an https target's certificate was not checked."""
    if insecure and url.lower().startswith("https:"):
        return ["TLS verification was off (target.insecure: true): the server's certificate was not checked"]
    return []
