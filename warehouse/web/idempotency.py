"""``Idempotency-Key`` on every ``POST`` under ``/api/``: a retried request gets the first answer.

Semantics follow draft-ietf-httpapi-idempotency-key-header-07 (reliability-patterns.md §1):

- The header is optional. Its value is an RFC 8941 sf-string (``"8e03978e-…"``) or, for
  clients that do not quote, the bare key; either way 1–255 visible ASCII characters, else
  400 ``idempotency.invalid_key``.
- A key is looked up per **organisation** (the caller's, from the bearer token) and key. The
  draft asks for key plus client identity so that weak keys cannot read another client's
  results; the organisation is this API's tenant boundary (every read is scoped to it), and
  scoping by organisation rather than token lets a retry survive a token rotation or come
  from another scanner of the same organisation draining a shared outbox. The token that
  made the first request is kept in ``token_id`` for the audit trail.
- The request's fingerprint is SHA-256 over method, path, query string and body bytes.
  Same key and fingerprint: the stored response is replayed with ``Idempotent-Replayed: true``
  and the view does not run. Same key, other fingerprint: 422 ``idempotency.key_reused``.
  Same key while the first request is still running: 409 ``idempotency.in_flight`` with
  ``Retry-After``. A key past ``expires_at`` (``IDEMPOTENCY_TTL_SECONDS``, 24 h by default)
  is treated as new. So is an in-flight claim older than
  ``IDEMPOTENCY_IN_FLIGHT_LEASE_SECONDS`` (5 min) when the same request comes again: its
  request died before recording an answer, and without the lease the key would answer 409
  until it expired. If that request had committed before dying, the retry runs it again.
- A replay does not run the view, but it checks the roles the view's ``require_roles``
  demands: it answers whoever in the organisation presents the same key and the same request
  bytes and holds those roles (checks a view makes inside its service, such as "a registered
  scanner device", are not repeated).

The key is claimed in ``before_request`` (after authentication and the media-type check, so
401 and 415 are never stored) in its own short committed transaction: an ``INSERT … ON
CONFLICT DO NOTHING`` against the unique ``(organisation_id, key)``, so of two concurrent
requests exactly one claims it. The response is recorded in ``after_request``, again in a
transaction of its own, once the view's session has committed or rolled back.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apispec import BasePlugin
from flask import Flask, Response, current_app, g, request
from flask_smorest import Api
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.db import begin_write, db
from warehouse.web.auth import check_roles, roles_required_by_endpoint
from warehouse.web.problems import PROBLEM_TYPES, Problem

log = logging.getLogger("udi.idempotency")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
DEFAULT_TTL_SECONDS = 24 * 60 * 60
IN_FLIGHT_RETRY_AFTER_SECONDS = 1
DEFAULT_IN_FLIGHT_LEASE_SECONDS = 5 * 60
MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = ("Content-Type", "Location")
"""Response headers stored and replayed; the rest (request id, dates) belong to each answer."""

IN_FLIGHT = "in_flight"
COMPLETED = "completed"

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')

PROBLEM_TYPES.update(
    {
        "idempotency.invalid_key": (
            "Idempotency-Key must be 1-255 visible ASCII characters, bare or as a quoted"
            ' RFC 8941 string ("…"); send one header at most.'
        ),
        "idempotency.key_reused": (
            "This Idempotency-Key was used for a different request (method, path, query or"
            " body). Use a new key for a new request."
        ),
        "idempotency.in_flight": (
            "A request with this Idempotency-Key is still being processed; retry the same"
            " request after Retry-After to receive its response."
        ),
    }
)


class InvalidKey(ValueError):
    """The header value is not a usable idempotency key."""


def parse_key(value: str) -> str:
    """The key an ``Idempotency-Key`` header value carries.

    Accepts an RFC 8941 sf-string (``"abc"``, with ``\\"`` and ``\\\\`` escapes) or a bare
    key; the key itself must be 1-255 visible ASCII characters.
    """
    value = value.strip(" \t")
    if value.startswith('"'):
        match = _SF_STRING.fullmatch(value)
        if match is None:
            raise InvalidKey(
                "Expected a quoted string ending in '\"' with only \\\" or \\\\ escapes"
            )
        key = re.sub(r"\\(.)", r"\1", match.group(1))
    else:
        key = value
    if not key:
        raise InvalidKey("Expected a key of 1 to 255 characters, got an empty one")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"Expected a key of at most {MAX_KEY_LENGTH} characters, got {len(key)}")
    if not _VISIBLE_ASCII.fullmatch(key):
        raise InvalidKey("Expected only visible ASCII characters (no spaces or control characters)")
    return key


def fingerprint(method: str, path: str, query_string: bytes, body: bytes) -> str:
    """SHA-256 (hex) over method, path, query string and body, each length-prefixed."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query_string, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Claim:
    """The key this request holds while its view runs."""

    record_id: uuid.UUID


def register(app: Flask, api: Api) -> None:
    """Claim keys before the view and record responses after it; document the header.

    Call after ``auth.register`` and ``media.register`` (before-request hooks run in order)
    and before any blueprint is registered with ``api`` (the spec plugin sees each path as it
    is added).
    """
    app.config.setdefault("IDEMPOTENCY_TTL_SECONDS", DEFAULT_TTL_SECONDS)
    app.config.setdefault("IDEMPOTENCY_IN_FLIGHT_LEASE_SECONDS", DEFAULT_IN_FLIGHT_LEASE_SECONDS)
    app.before_request(_claim)
    app.after_request(_record)
    plugin = IdempotencyKeyPlugin()
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)


# --- before_request: claim, replay or refuse ----------------------------------------------


def _claim() -> Response | None:
    if request.method != "POST" or not request.path.startswith("/api/"):
        return None
    values = request.headers.getlist(HEADER)
    if not values:
        return None
    principal = g.get("principal")
    if principal is None:  # public paths take no POST; nothing to scope a key by
        return None
    if len(values) > 1:
        raise Problem(
            400,
            "idempotency.invalid_key",
            f"Expected at most one {HEADER} header, got {len(values)}.",
        )
    try:
        key = parse_key(values[0])
    except InvalidKey as error:
        raise Problem(400, "idempotency.invalid_key", f"{error}.") from None
    request_print = fingerprint(
        request.method, request.path, request.query_string, request.get_data(cache=True)
    )
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=int(current_app.config["IDEMPOTENCY_TTL_SECONDS"]))
    new_row = {
        "organisation_id": principal.organisation_id,
        "key": key,
        "token_id": principal.token_id,
        "fingerprint": request_print,
        "state": IN_FLIGHT,
        "response_status": None,
        "response_headers": None,
        "response_body": None,
        "created_at": now,
        "expires_at": expires_at,
    }
    table = tables.idempotency_keys
    with _fresh_session() as session:
        begin_write(session)
        record_id = uuid.uuid4()
        inserted = session.execute(
            _insert(session)
            .values(id=record_id, **new_row)
            .on_conflict_do_nothing(index_elements=[table.c.organisation_id, table.c.key])
            .returning(table.c.id)
        ).first()
        if inserted is not None:
            session.commit()
            g.idempotency_claim = Claim(record_id)
            return None
        row = (
            session.execute(
                select(table).where(
                    table.c.organisation_id == principal.organisation_id, table.c.key == key
                )
            )
            .mappings()
            .first()
        )
        if row is None:  # released by a 5xx between our insert and this read: try again
            session.rollback()
            raise _in_flight(key)
        lease = timedelta(seconds=int(current_app.config["IDEMPOTENCY_IN_FLIGHT_LEASE_SECONDS"]))
        expired = _aware(row["expires_at"]) <= now
        abandoned = (
            row["state"] == IN_FLIGHT
            and row["fingerprint"] == request_print
            and _aware(row["created_at"]) <= now - lease
        )
        if expired or abandoned:
            # An expired key is new again, and so is a claim whose request died before
            # after_request ran (worker killed, connection lost): take the row over, unless
            # another request just did.
            taken = session.execute(
                update(table)
                .where(
                    table.c.id == row["id"],
                    or_(
                        table.c.expires_at <= now,
                        and_(table.c.state == IN_FLIGHT, table.c.created_at <= now - lease),
                    ),
                )
                .values(**new_row)
            )
            session.commit()
            if taken.rowcount == 1:
                g.idempotency_claim = Claim(row["id"])
                return None
            raise _in_flight(key)
        session.rollback()
    if row["fingerprint"] != request_print:
        raise Problem(
            422,
            "idempotency.key_reused",
            f"Expected {HEADER} {key!r} to come with the request it was first used for,"
            " got a different method, path, query or body.",
        )
    if row["state"] == IN_FLIGHT:
        raise _in_flight(key)
    # The view does not run for a replay, so its role check must: a colleague of the first
    # caller with the key and the exact body still needs the roles the operation needs.
    required = roles_required_by_endpoint()
    if required is not None:
        check_roles(principal, required)
    return _replay(row)


def _in_flight(key: str) -> Problem:
    return Problem(
        409,
        "idempotency.in_flight",
        f"Expected the first request with {HEADER} {key!r} to have finished, got it still"
        " in flight; retry after the delay.",
        headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER_SECONDS)},
    )


def _replay(row: Any) -> Response:
    response = Response(bytes(row["response_body"] or b""), status=row["response_status"])
    stored = row["response_headers"] or {}
    if "Content-Type" not in stored:
        del response.headers["Content-Type"]
    for name, value in stored.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


# --- after_request: store the response, or release the key ---------------------------------


def _record(response: Response) -> Response:
    claim: Claim | None = g.pop("idempotency_claim", None)
    if claim is None:
        return response
    # The view's session has committed, or holds work that teardown would roll back anyway;
    # end it now so that on SQLite its write lock cannot block the transaction below.
    view_session: Session | None = g.get("udi_session")
    if view_session is not None:
        view_session.rollback()
    table = tables.idempotency_keys
    try:
        with _fresh_session() as session:
            begin_write(session)
            if response.status_code >= 500 or response.is_streamed:
                # Unlike Stripe, which stores every response, a 5xx is not kept: here it means
                # the database was unavailable or the code failed before committing, so the
                # request did not happen and a retry with the same key should run it again.
                # This bookkeeping row (not business data) is deleted to release the key.
                # Streamed bodies cannot be stored, so they release the key as well.
                session.execute(delete(table).where(table.c.id == claim.record_id))
            else:
                # 2xx and 4xx are final for this request: a retry gets the same answer.
                headers = {
                    name: response.headers[name]
                    for name in REPLAYED_HEADERS
                    if name in response.headers
                }
                session.execute(
                    update(table)
                    .where(table.c.id == claim.record_id, table.c.state == IN_FLIGHT)
                    .values(
                        state=COMPLETED,
                        response_status=response.status_code,
                        response_headers=headers,
                        response_body=response.get_data(),
                    )
                )
            session.commit()
    except Exception:
        # The answer itself stands; the key stays in flight until it expires.
        log.exception(
            "idempotency record failed",
            extra={"request_id": g.get("request_id"), "record_id": str(claim.record_id)},
        )
    return response


def _fresh_session() -> Session:
    """A session of its own from the app's factory (tests swap in savepoints there)."""
    return db.state.session_factory()


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(tables.idempotency_keys)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- OpenAPI: the header on every POST ------------------------------------------------------


class IdempotencyKeyPlugin(BasePlugin):
    """Adds the ``Idempotency-Key`` header parameter to every POST operation."""

    PARAMETER = "IdempotencyKey"

    def init_spec(self, spec: Any) -> None:
        super().init_spec(spec)
        spec.components.parameter(
            self.PARAMETER,
            "header",
            {
                "name": HEADER,
                "required": False,
                "description": (
                    "Makes the POST safe to retry: the first response (2xx or 4xx) to this"
                    " key is stored for 24 hours and replayed, with 'Idempotent-Replayed:"
                    " true', to a repeat of the same request by the same organisation. The"
                    " same key with a different request is 422 idempotency.key_reused; while"
                    " the first request runs, 409 idempotency.in_flight with Retry-After."
                    ' 1-255 visible ASCII characters, bare or quoted ("…").'
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": 257},
                "example": '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
            },
        )

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **kwargs: Any
    ) -> None:
        if not path or not path.startswith("/api/") or not operations:
            return
        post = operations.get("post")
        if post is not None:
            post.setdefault("parameters", []).append(self.PARAMETER)
