"""Per-token rate limits (Flask-Limiter), answered 429 problem+json with ``Retry-After``.

Every authenticated request counts against its token's budget, shared by all endpoints
(``RATE_LIMIT_PER_TOKEN``, e.g. ``UDI_RATE_LIMIT_PER_TOKEN='"100 per second; 6000 per
minute"'``; default 6,000 per minute: 100 requests a second sustained, far above what a
handheld scanner or a sync client sends, so tests and benchmarks do not trip it). It is read
on each request, so it can be changed on a running app.
Counters live in memory per process by default (``udimemory://``, below); set
``RATELIMIT_STORAGE_URI`` (environment or config, e.g. ``redis://127.0.0.1:6379/0``) to share
them between gunicorn workers and hosts.
If that store goes away, the limiter falls back to in-memory counters instead of failing
requests. ``RATELIMIT_ENABLED=false`` (``UDI_RATELIMIT_ENABLED=false``) turns limits off, as
benchmarks do; every other Flask-Limiter ``RATELIMIT_*`` setting works as documented there.

Health probes, the API description and problem pages are never limited. Requests refused
before authentication (401) are not counted: tokens are 256-bit random, so guessing is not a
threat a counter would stop, and counting by address would punish a hospital behind one NAT.
"""

from __future__ import annotations

import math
import os
import time

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from limits.storage import MemoryStorage

from warehouse.web.auth import PUBLIC_PREFIXES
from warehouse.web.problems import PROBLEM_TYPES, Problem, problem_response

DEFAULT_LIMIT = "6000 per minute"
PURGE_EVERY_SECONDS = 10.0


class LeanMemoryStorage(MemoryStorage):
    """``limits``' in-memory storage without a timer thread per request.

    The stock ``memory://`` storage starts a ``threading.Timer`` to purge expired counters
    whenever the previous one has finished, so under steady traffic almost every request
    spawns a thread (about 0.3 ms here, a quarter of a small request). Expired counters are
    already dropped when read; this purges the rest inline, at most every 10 seconds.
    """

    STORAGE_SCHEME = ["udimemory"]  # noqa: RUF012  # the limits registry reads a list

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:  # overrides the parent's private one
        now = time.monotonic()
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


PROBLEM_TYPES["request.rate_limited"] = (
    "The token sent more requests than its rate limit allows; wait Retry-After seconds."
)


def rate_limit_key() -> str:
    """The bucket of the current request: its token (its address before authentication)."""
    principal = g.get("principal")
    if principal is not None:
        return f"token:{principal.token_id}"
    return f"address:{request.remote_addr}"


def _per_token() -> str:
    return str(current_app.config["RATE_LIMIT_PER_TOKEN"])


def _exempt() -> bool:
    return request.method == "OPTIONS" or request.path.startswith(PUBLIC_PREFIXES)


def register(app: Flask) -> Limiter:
    """Install the limiter on ``app``; call after ``auth.register`` so tokens are known."""
    config = app.config
    config.setdefault("RATELIMIT_ENABLED", True)
    config.setdefault(
        "RATELIMIT_STORAGE_URI", os.environ.get("RATELIMIT_STORAGE_URI") or "udimemory://"
    )
    config.setdefault("RATE_LIMIT_PER_TOKEN", DEFAULT_LIMIT)
    config.setdefault("RATELIMIT_STRATEGY", "fixed-window")
    config.setdefault("RATELIMIT_HEADERS_ENABLED", False)  # one store read less per request
    # A dead Redis must not take the API down: count in memory until it is back.
    config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter = Limiter(rate_limit_key, application_limits=[_per_token], app=app)
    limiter.request_filter(_exempt)
    app.extensions["udi_limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many_requests)
    return limiter


def _too_many_requests(error: RateLimitExceeded) -> object:
    limiter: Limiter = current_app.extensions["udi_limiter"]
    current = limiter.current_limit
    # window[0] is when the breached window resets (epoch seconds).
    wait = math.ceil(current.window[0] - time.time()) if current is not None else 1
    wait = max(wait, 1)
    return problem_response(
        Problem(
            429,
            "request.rate_limited",
            f"Expected at most {error.limit.limit} for this token, got more; retry after {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    )
