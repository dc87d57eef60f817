"""``GET /trace?udi=…``: a server-rendered trace page (timeline + SVG lot graph), no JavaScript.

Authentication (docs/trace.md, "The trace page"): API tokens never travel in URLs. A browser
posts its token once to ``POST /trace/login``; the page answers with a signed, HttpOnly,
``SameSite=Strict`` cookie scoped to ``/trace`` that names the token (by id, never the secret)
and expires after :data:`SESSION_SECONDS`. Each page request re-checks that the token is still
active, so revoking it ends the session at once. Clients that can send headers may instead call
the page with ``Authorization: Bearer …`` like the API. ``POST /trace/logout`` clears the
cookie.

Token ids are not secret, so the cookie also carries a keyed hash of the token's stored
SHA-256 (:func:`_binding`): forging a cookie needs ``SECRET_KEY`` *and* that hash, which only
the database and the token's holder have. A server still on wsgi.py's public development key
(:data:`DEVELOPMENT_SECRET_KEY`) issues and accepts no cookie unless it is testing or
debugging. Both POSTs are refused unless the browser says they come from this site's own page
(``Origin``, else ``Referer``): a cross-site form must not sign a victim in as the attacker.

The page shows exactly what ``GET /api/v1/trace/unit`` and ``/lot`` return to the same caller
(the same service calls, the same redaction).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from warehouse import tables
from warehouse.api.trace import identify
from warehouse.db import db
from warehouse.domain.roles import Principal, Role
from warehouse.services import trace as service
from warehouse.services.errors import NotFound
from warehouse.tokens import InvalidToken, authenticate, hash_token
from warehouse.web.problems import Problem

COOKIE = "udi_trace_session"
SESSION_SECONDS = 15 * 60
_SALT = "udi-trace-page"

DEVELOPMENT_SECRET_KEY = "dev-only-change-me"
"""wsgi.py's fallback ``SECRET_KEY``: public, so it may sign cookies only in testing or debug."""

COOKIES_DISABLED = (
    "Signing in here is disabled: this server runs with the development SECRET_KEY. Set "
    "SECRET_KEY, or call the page with an 'Authorization: Bearer' header."
)
CROSS_SITE = "Expected a form posted from a page of this site, got one from elsewhere."

bp = Blueprint("trace_page", __name__, template_folder="../templates")


@bp.after_request
def _page_headers(response: Response) -> Response:
    # Traces name patients' hospitals and custody: never cache them, never leak the URL, and
    # allow no script at all (the page has none).
    response.headers["Cache-Control"] = "no-store"
    # same-origin, not no-referrer: under no-referrer browsers post our own forms with
    # "Origin: null", and the login's same-origin check needs the real origin.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _cookies_allowed() -> bool:
    """False on a server whose SECRET_KEY is missing or public, unless testing or debugging."""
    key = current_app.config.get("SECRET_KEY")
    weak = not key or key in (DEVELOPMENT_SECRET_KEY, DEVELOPMENT_SECRET_KEY.encode())
    return not weak or current_app.testing or current_app.debug


def _binding(token_sha256: str) -> str:
    """A keyed hash of the token's stored SHA-256: what a forger without the database lacks."""
    key = current_app.config["SECRET_KEY"]
    key = key if isinstance(key, bytes) else str(key).encode("utf-8")
    message = f"{_SALT}|{token_sha256}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _principal() -> Principal | None:
    """The caller: from an Authorization header (checked by auth.py) or the session cookie."""
    principal: Principal | None = g.get("principal")
    if principal is not None:
        return principal
    value = request.cookies.get(COOKIE)
    if not value or not _cookies_allowed():
        return None
    try:
        payload = _serializer().loads(value, max_age=SESSION_SECONDS)
        token_id = uuid.UUID(payload["token_id"])
        binding = payload["binding"]
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None
    if not isinstance(binding, str):
        return None
    principal = _active_token(token_id, binding)
    if principal is not None:
        g.principal = principal  # current_principal() for the services below
    return principal


def _active_token(token_id: uuid.UUID, binding: str) -> Principal | None:
    """The token's caller if the cookie is bound to it and it is neither revoked nor expired
    (checked on every request)."""
    tokens = tables.api_tokens
    row = db.session.execute(select(tokens).where(tokens.c.id == token_id)).mappings().first()
    db.session.rollback()
    if row is None or row["revoked_at"] is not None:
        return None
    expected = _binding(row["token_sha256"]).encode("ascii")
    if not hmac.compare_digest(binding.encode("utf-8"), expected):  # bytes: any text compares
        return None
    expires = row["expires_at"]
    if expires is not None:
        expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        if expires <= datetime.now(UTC):
            return None
    return Principal(
        token_id=row["id"],
        organisation_id=row["organisation_id"],
        roles=frozenset(Role(value) for value in row["roles"]),
        jurisdiction=row["jurisdiction"],
        expires_at=expires,
    )


@bp.get("/trace")
def page() -> Any:
    """The trace of the unit (or lot) a scan names, or the form to ask for one."""
    scan = request.args.get("udi", "").strip()
    principal = _principal()
    if principal is None:
        error = None if _cookies_allowed() else COOKIES_DISABLED
        return render_template("trace.html", view="login", udi=scan, error=error), 401
    if not scan:
        return render_template("trace.html", view="search", udi="", error=None)
    try:
        unit, di, lot_value = _unit_or_lot(principal, scan)
        lot = _lot_or_none(principal, di, lot_value)
    except Problem as problem:
        return _error(scan, problem.detail, problem.status)
    except NotFound:
        return _error(scan, "Nothing to show: no such unit or lot, or none you may see.", 404)
    return render_template(
        "trace.html",
        view="trace",
        udi=scan,
        error=None,
        unit=unit,
        lot=lot,
        wide=lot_layout(lot, unit, phone=False) if lot else None,
        narrow=lot_layout(lot, unit, phone=True) if lot else None,
        session_seconds=SESSION_SECONDS,
    )


def _unit_or_lot(principal: Principal, scan: str) -> tuple[dict | None, str, str | None]:
    """The unit trace when the scan carries a serial; the DI and lot to draw either way."""
    try:
        named = identify({"udi": scan}, "serial")
    except Problem as problem:
        if problem.code != "trace.identifier_required":
            raise
        by_lot = identify({"udi": scan}, "lot")
        return None, by_lot.di, by_lot.lot
    assert named.serial is not None
    unit = service.unit_trace(db.session, principal, named.di, named.serial)
    return unit, named.di, unit["lot"]


def _lot_or_none(principal: Principal, di: str, lot: str | None) -> dict[str, Any] | None:
    if not lot:  # a label without a lot: the unit's timeline is the whole story
        return None
    # Whoever may see a unit may see its lot: the unit's parties are among the lot's.
    return service.lot_trace(db.session, principal, di, lot)


def _error(scan: str, message: str, status: int) -> Any:
    return render_template("trace.html", view="search", udi=scan, error=message), status


def _origin(url: str, *, tls_proxy: bool = False) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) URL, or None for anything else ("null")."""
    try:
        parts = urlsplit(url)
        scheme = "https" if tls_proxy else parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        return scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80)
    except ValueError:  # a port out of range or not a number
        return None


def _same_origin() -> bool:
    """Whether the browser says this POST comes from our own page (``Origin``, else ``Referer``).

    Browsers send ``Origin`` with every form POST (our pages' ``Referrer-Policy: same-origin``
    keeps it real, not "null"); a request with neither header is refused. Behind a TLS proxy
    (``TRACE_COOKIE_SECURE``) the request arrives as http but the page's origin is https.
    """
    claimed = request.headers.get("Origin") or request.headers.get("Referer")
    if not claimed:
        return False
    tls_proxy = bool(current_app.config.get("TRACE_COOKIE_SECURE", False))
    ours = _origin(f"{request.scheme}://{request.host}/", tls_proxy=tls_proxy)
    return ours is not None and _origin(claimed) == ours


@bp.post("/trace/login")
def login() -> Any:
    """Exchange a token posted in a form for the session cookie; back to the page."""
    if not _same_origin():  # checked before the body is read
        return render_template("trace.html", view="login", udi="", error=CROSS_SITE), 403
    scan = request.form.get("udi", "").strip()
    if not _cookies_allowed():
        return render_template("trace.html", view="login", udi=scan, error=COOKIES_DISABLED), 503
    secret = request.form.get("token", "").strip()
    try:
        principal = authenticate(db.session, secret)
    except InvalidToken:
        message = "That token is not valid (unknown, revoked or expired)."
        return render_template("trace.html", view="login", udi=scan, error=message), 401
    target = "/trace" + (f"?udi={quote(scan, safe='')}" if scan else "")
    response = redirect(target, code=303)
    cookie = {"token_id": str(principal.token_id), "binding": _binding(hash_token(secret))}
    response.set_cookie(
        COOKIE,
        _serializer().dumps(cookie),
        max_age=SESSION_SECONDS,
        path="/trace",
        secure=request.is_secure or current_app.config.get("TRACE_COOKIE_SECURE", False),
        httponly=True,
        samesite="Strict",
    )
    return response


@bp.post("/trace/logout")
def logout() -> Any:
    """Forget the session cookie."""
    if not _same_origin():  # a cross-site form must not end a session either
        return render_template("trace.html", view="login", udi="", error=CROSS_SITE), 403
    response = redirect("/trace", code=303)
    response.delete_cookie(COOKIE, path="/trace", httponly=True, samesite="Strict")
    return response


# --- The lot graph, laid out for SVG ----------------------------------------------------------

NODE_W, NODE_H, GAP, PAD = 168, 64, 22, 16
MAX_PER_LEVEL = 8
"""Holders drawn per level; the rest of a level is one "+N others" box (the table has all)."""


def lot_layout(lot: dict[str, Any], unit: dict[str, Any] | None, *, phone: bool) -> dict:
    """Boxes by depth (origins first), edges as paths with their quantities.

    Wide screens get levels as columns, left to right; phones get levels as rows, top to
    bottom, two boxes abreast, so text stays readable without zooming. The holders the unit
    passed through are marked, so its path stands out in the lot's flow.
    """
    on_path = set()
    if unit is not None:
        for hop in unit["timeline"]:
            on_path |= {hop[k]["id"] for k in ("acting_party", "possessor") if hop[k]}
    levels, merged = _levels(lot["graph"]["nodes"])
    placed: dict[str, dict[str, Any]] = {}
    for depth, nodes in sorted(levels.items()):
        for index, node in enumerate(nodes):
            if phone:
                row, column = divmod(index, 2)
                x = PAD + column * (NODE_W + GAP)
                y = PAD + _rows_before(levels, depth) * (NODE_H + 2 * GAP) + row * (NODE_H + GAP)
            else:
                x = PAD + depth * (NODE_W + 4 * GAP)
                y = PAD + index * (NODE_H + GAP)
            name = node["name"]
            placed[node["id"]] = {
                "x": x,
                "y": y,
                "name": name if len(name) <= 11 else name[:10] + "…",
                "title": name,
                "node": node,
                "on_path": node["id"] in on_path,
            }
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for edge in lot["graph"]["edges"]:
        pair = (merged.get(edge["from"], edge["from"]), merged.get(edge["to"], edge["to"]))
        total = edges.setdefault(pair, {"quantity": 0, "shipments": 0, "in_transit": 0})
        for name in total:
            total[name] += edge[name]
    drawn = []
    for (source, target), values in edges.items():
        a, b = placed.get(source), placed.get(target)
        if a is None or b is None or a is b:
            continue
        drawn.append({**values, **_path(a, b, phone), "on_path": a["on_path"] and b["on_path"]})
    width = max((p["x"] for p in placed.values()), default=0) + NODE_W + PAD
    height = max((p["y"] for p in placed.values()), default=0) + NODE_H + PAD + GAP
    return {
        "width": width,
        "height": height,
        "node_w": NODE_W,
        "node_h": NODE_H,
        "nodes": list(placed.values()),
        "edges": drawn,
    }


def _levels(nodes: list[dict[str, Any]]) -> tuple[dict[int, list[dict]], dict[str, str]]:
    """Holders per depth, the smallest beyond :data:`MAX_PER_LEVEL` merged into one box."""
    levels: dict[int, list[dict[str, Any]]] = {}
    for node in nodes:
        name = (node["party"] or {}).get("name") or node["id"][:8]
        levels.setdefault(node["depth"], []).append({**node, "name": name})
    merged: dict[str, str] = {}
    for depth, level in levels.items():
        if len(level) <= MAX_PER_LEVEL:
            continue
        level.sort(key=lambda n: (-n["received"], n["name"]))
        kept, rest = level[: MAX_PER_LEVEL - 1], level[MAX_PER_LEVEL - 1 :]
        others = {
            "id": f"others-{depth}",
            "name": f"+{len(rest)} others",
            "balanced": all(n["balanced"] for n in rest),
        }
        for field in ("received", "shipped", "on_hand", "used", "destroyed"):
            others[field] = sum(n[field] for n in rest)
        merged.update({n["id"]: others["id"] for n in rest})
        levels[depth] = [*kept, others]
    return levels, merged


def _rows_before(levels: dict[int, list[dict[str, Any]]], depth: int) -> int:
    return sum((len(nodes) + 1) // 2 for d, nodes in levels.items() if d < depth)


def _path(a: dict[str, Any], b: dict[str, Any], phone: bool) -> dict[str, Any]:
    """A curve from box ``a`` to box ``b`` and where its label goes."""
    if phone:
        x1, y1 = a["x"] + NODE_W / 2, a["y"] + NODE_H
        x2, y2 = b["x"] + NODE_W / 2, b["y"]
        if y2 <= y1:  # back up to an earlier level (a return): out of the side
            x1, x2 = a["x"] + NODE_W, b["x"] + NODE_W
            y1, y2 = a["y"] + NODE_H / 2, b["y"] + NODE_H / 2
            bend = max(x1, x2) + GAP
            d = f"M{x1:.0f},{y1:.0f} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            return {"path": d, "label_x": round(bend), "label_y": round((y1 + y2) / 2)}
        middle = (y1 + y2) / 2
        d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{middle:.0f} {x2:.0f},{middle:.0f} {x2:.0f},{y2:.0f}"
        return {"path": d, "label_x": round((x1 + x2) / 2 + 16), "label_y": round(middle + 4)}
    x1, y1 = a["x"] + NODE_W, a["y"] + NODE_H / 2
    x2, y2 = b["x"], b["y"] + NODE_H / 2
    if x2 <= x1:  # back to an earlier column (a return): loop under the boxes
        low = max(a["y"], b["y"]) + NODE_H + GAP / 2
        x1, x2 = a["x"] + NODE_W / 2, b["x"] + NODE_W / 2
        y1, y2 = a["y"] + NODE_H, b["y"] + NODE_H
        d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{low:.0f} {x2:.0f},{low:.0f} {x2:.0f},{y2:.0f}"
        return {"path": d, "label_x": round((x1 + x2) / 2), "label_y": round(low)}
    middle = (x1 + x2) / 2
    d = f"M{x1:.0f},{y1:.0f} C{middle:.0f},{y1:.0f} {middle:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
    return {"path": d, "label_x": round(middle), "label_y": round((y1 + y2) / 2 - 6)}
