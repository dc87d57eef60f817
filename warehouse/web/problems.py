"""One error format for every response: RFC 9457 ``application/problem+json``.

Every error — a bad token, an unknown path, a schema violation, a refused movement, an
unhandled exception — leaves the service as::

    {"type": "/problems/<code>", "title": ..., "status": ..., "detail": ...,
     "instance": "<path>", "code": "<code>", "request_id": ..., "errors": [...]}

``type`` is a relative URI the app serves as a short page explaining the problem and its fix;
``code`` is the same stable dotted code without the prefix, for clients that switch on it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from markupsafe import escape
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("udi.errors")

# Codes for the statuses the framework raises, and what each means for a client.
HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("request.malformed", "The request body or parameters could not be read."),
    401: ("auth.unauthenticated", "Send a valid API token as 'Authorization: Bearer <token>'."),
    403: ("auth.forbidden", "The token is valid but its roles do not allow this operation."),
    404: ("request.not_found", "No such resource, or it belongs to another organisation."),
    405: ("request.method_not_allowed", "The resource does not support this HTTP method."),
    409: ("request.conflict", "The request conflicts with the current state of the resource."),
    413: ("request.too_large", "The request body is larger than the service accepts."),
    415: ("request.unsupported_media_type", "Send the body with a supported Content-Type."),
    422: ("request.invalid", "The request is well-formed but its content is not valid."),
    429: ("request.rate_limited", "Too many requests; retry after the time given."),
    500: ("server.internal", "The service failed unexpectedly; the request id identifies it."),
    503: ("server.unavailable", "A dependency is down; retry after the time given."),
}


@dataclass(frozen=True)
class ProblemDetail:
    """One cause of an error: a field, or a position in a scan."""

    code: str
    message: str
    field: str | None = None
    position: int | None = None
    length: int | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.position is not None:
            body["position"] = self.position
            body["length"] = self.length or 0
        body.update(self.extra)
        return body


class Problem(Exception):
    """Raise to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        errors: Iterable[ProblemDetail | Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or _default_title(status)
        self.errors = [e.to_json() if isinstance(e, ProblemDetail) else dict(e) for e in errors]
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def to_json(self) -> dict[str, Any]:
        """The problem document for the current request."""
        body: dict[str, Any] = {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": request.path if request else None,
            "code": self.code,
            "request_id": g.get("request_id"),
        }
        body.update(self.extra)
        if self.errors:
            body["errors"] = self.errors
        return body


def _default_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(problem: Problem) -> Response:
    """Render ``problem`` as an ``application/problem+json`` response."""
    response = Response(
        json.dumps(problem.to_json(), ensure_ascii=False),
        status=problem.status,
        mimetype=PROBLEM_MEDIA_TYPE,
    )
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def from_http_exception(error: HTTPException) -> Problem:
    """Translate a werkzeug/webargs HTTP exception into a problem."""
    status = error.code or 500
    code, hint = HTTP_CODES.get(status, (f"http.{status}", error.description or ""))
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    messages = data.get("messages") or data.get("errors")
    if status == 422 and messages:
        details = list(_schema_errors(messages))
        return Problem(
            422,
            "request.validation",
            f"Expected a request matching the schema, got {len(details)} invalid field(s).",
            errors=details,
            headers=headers,
        )
    detail = data.get("message") or _detail_for(status, error, hint)
    return Problem(status, code, detail, headers=headers)


def _detail_for(status: int, error: HTTPException, hint: str) -> str:
    if status == 404:
        return f"Expected an existing resource, got none at {request.path!r}."
    if status == 405:
        return f"Expected one of the allowed methods, got {request.method}."
    if status == 413:
        return "Expected a smaller request body, got one over the size limit."
    return hint or (error.description or error.name)


def _schema_errors(messages: Mapping[str, Any], prefix: str = "") -> Iterable[ProblemDetail]:
    """Flatten webargs/marshmallow messages ``{"json": {"field": ["..."]}}`` into details."""
    for key, value in messages.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from _schema_errors(value, path)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            for message in value:
                yield ProblemDetail(_field_code(message), message, field=_strip_location(path))
        else:
            yield ProblemDetail("field.invalid", str(value), field=_strip_location(path))


_LOCATIONS = ("json.", "query.", "querystring.", "form.", "files.", "headers.", "view_args.")


def schema_errors(messages: Mapping[str, Any]) -> list[ProblemDetail]:
    """Flatten marshmallow messages into problem details (for bodies validated by hand)."""
    return list(_schema_errors(messages))


def _strip_location(path: str) -> str:
    for location in _LOCATIONS:
        if path.startswith(location):
            return path[len(location) :]
    return path


def _field_code(message: str) -> str:
    if message == "Missing data for required field.":
        return "field.required"
    if message == "Unknown field.":
        return "field.unknown"
    if message.startswith("Not a valid"):
        return "field.type"
    return "field.invalid"


def handle_http_exception(error: HTTPException) -> Response:
    """Flask error handler for every ``HTTPException``."""
    return problem_response(from_http_exception(error))


def handle_problem(problem: Problem) -> Response:
    """Flask error handler for :class:`Problem`."""
    return problem_response(problem)


def handle_unexpected(error: Exception) -> Response:
    """Log an unhandled exception with the request id; answer 500 without internals."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if isinstance(error, OperationalError):
        # The database is down, restarting or (SQLite) locked past the busy timeout: the
        # request did not happen and may be retried as it is.
        log.warning(
            "database unavailable",
            extra={"request_id": g.get("request_id"), "error": str(error.orig)[:200]},
        )
        return problem_response(
            Problem(
                503,
                "server.database_unavailable",
                "Expected the database to answer, got no connection; retry after the delay.",
                headers={"Retry-After": "2"},
            )
        )
    log.exception(
        "unhandled exception",
        extra={"request_id": g.get("request_id"), "path": request.path},
    )
    return problem_response(
        Problem(
            500,
            "server.internal",
            "Expected the request to complete, got an internal error; quote the request id"
            " when reporting it.",
        )
    )


def register(app: Flask) -> None:
    """Install the problem handlers on ``app``."""
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)


# --- /problems/<code>: a short page per problem type -------------------------------------

pages = Blueprint("problems", __name__)

_FAMILY_HELP: dict[str, str] = {
    "gs1": "The scan was read as GS1 element strings and broke a GS1 General Specifications rule.",
    "gs1_dl": "The scan was read as a GS1 Digital Link URI and broke that standard.",
    "hibc": "The scan was read as an HIBC LIC barcode and broke the ANSI/HIBC supplier standard.",
    "isbt128": "The scan was read as ISBT 128 and broke an ICCBBA data-structure rule.",
    "ma": "The scan was read as a China MA (IDcode) UDI and does not have the MA structure.",
    "ahm": "The scan was read as an Alibaba Health (AHM) code and does not have its structure.",
    "iso15434": "The scan was read as an ISO/IEC 15434 envelope and broke its syntax.",
    "scan": "The scan could not be read as any supported UDI format.",
    "field": "A field of the request body or query did not match the documented schema.",
}


@pages.get("/problems/<path:code>")
def problem_page(code: str) -> Response:
    """Explain a problem type to the human following its ``type`` URI."""
    explanation = _explain(code)
    if explanation is None:
        raise Problem(404, "request.not_found", f"Expected a known problem type, got {code!r}.")
    html = (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        f"<title>{escape(code)}</title><h1>{escape(code)}</h1><p>{escape(explanation)}</p>"
        "<p>The response's <code>detail</code> says what was expected and what was received;"
        " <code>errors</code> lists each cause, with the position in the scan where relevant.</p>"
        "</html>"
    )
    return Response(html, mimetype="text/html")


def _explain(code: str) -> str | None:
    for status, (known, hint) in HTTP_CODES.items():
        if code == known:
            return f"HTTP {status}. {hint}"
    if code in PROBLEM_TYPES:
        return PROBLEM_TYPES[code]
    family = code.split(".", 1)[0]
    return _FAMILY_HELP.get(family)


PROBLEM_TYPES: dict[str, str] = {
    "auth.missing_token": "Send 'Authorization: Bearer <token>'. Tokens come from an admin.",
    "auth.malformed_header": "The Authorization header must be 'Bearer' followed by the token.",
    "auth.invalid_token": "The token is unknown, revoked or expired; ask for a new one.",
    "auth.role_required": "The token's roles do not include one this operation needs.",
    "request.validation": "The request does not match its schema; see errors[].field.",
    "server.database_unavailable": "The database did not answer; retry after Retry-After.",
    "server.migrations_pending": "The database schema is behind the code: run flask db upgrade.",
}
"""Explanations of problem codes raised outside the HTTP status table; modules add theirs."""
