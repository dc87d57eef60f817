"""Request ids and one JSON log line per request.

The line carries the request id, the token id (never the token), method, path, status and
milliseconds. A client may send ``X-Request-ID``; otherwise one is minted. It is echoed back
in the response and in every problem document.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import ClassVar

from flask import Flask, Response, g, request

log = logging.getLogger("udi.requests")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """Format records as one JSON object per line; extra fields are included."""

    _STANDARD: ClassVar[frozenset[str]] = frozenset(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        body = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        body.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def configure_logging(level: str) -> None:
    """Send the service's loggers to stderr as JSON lines at ``level``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("udi")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
    # Our request line replaces werkzeug's access log; keep its warnings and errors.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def register(app: Flask) -> None:
    """Assign request ids and log each request when it completes."""
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if _SAFE_REQUEST_ID.match(offered) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    principal = g.get("principal")
    started = g.get("request_started", time.perf_counter())
    log.info(
        "request",
        extra={
            "request_id": request_id,
            "token_id": str(principal.token_id) if principal else None,
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return response
