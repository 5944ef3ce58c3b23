"""The error type a failed request is counted under.

Types group errors in the result (`errors[].type`), so they name the cause a person acts
on: `Timeout` for target.timeout running out, `TLS ...` for a certificate the client does
not trust or a handshake that failed, else the exception's class (ConnectionRefusedError,
ConnectionClosed, ...). HTTP statuses are named by the user (`HTTP 500`).
"""

from __future__ import annotations

import ssl


def error_type(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "Timeout"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "TLS certificate verification failed"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({type(exc).__name__})"
    return type(exc).__name__
