"""API errors as the real API server reports them: a ``kind: Status`` body with reason and code.

The official client turns these into ``ApiException`` with ``.status`` = the HTTP code and the
body = this JSON, so code under test sees exactly what a real cluster would send.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A failed API call; ``status()`` is the body the real server would answer with."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers  # sent with the Status body, e.g. Retry-After

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(qualified: str, name: str | None, group: str) -> dict[str, Any]:
    """The ``details`` block: kind is the plural resource name, as apimachinery fills it."""
    plural = qualified.split(".", 1)[0]
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = plural
    return details


def not_found(qualified: str, name: str, group: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', _details(qualified, name, group))


def already_exists(qualified: str, name: str, group: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists', _details(qualified, name, group))


def conflict(qualified: str, name: str, group: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return ApiError(409, "Conflict", message, _details(qualified, name, group))


def forbidden(qualified: str, name: str, group: str, why: str) -> ApiError:
    subject = f'{qualified} "{name}"' if name else qualified
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {why}", _details(qualified, name, group))


def invalid(kind: str, name: str, group: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid; ``causes`` are (field, message) pairs, joined like the real validation error."""
    text = ", ".join(f"{field}: {message}" for field, message in causes)
    if len(causes) > 1:
        text = f"[{text}]"
    details = {
        "name": name,
        "group": group,
        "kind": kind,
        "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes],
    }
    return ApiError(422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unsupported_media_type(accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
    )


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def service_unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")
