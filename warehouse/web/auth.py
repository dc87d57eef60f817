"""Bearer-token authentication for every request except health, docs and problem pages."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from warehouse.db import db
from warehouse.domain.roles import Principal, Role
from warehouse.recent import Recent
from warehouse.tokens import InvalidToken, authenticate
from warehouse.web.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])

# Paths anyone may read: liveness/readiness probes, the API description and problem pages.
PUBLIC_PREFIXES = ("/healthz", "/readyz", "/api/docs", "/api/v1/openapi.json", "/problems/")

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="udi"'}

# Server-rendered pages (not the API) that, without an Authorization header, authenticate
# a short-lived HttpOnly cookie themselves: warehouse/web/trace_page.py.
COOKIE_PAGES = ("/trace",)


AUTH_CACHE_CONFIG = "AUTH_CACHE_SECONDS"
"""Config key (environment ``UDI_AUTH_CACHE_SECONDS``): how long a process may reuse a token's
principal (and a scanner its device) without reading them again; 0 reads on every request."""

DEFAULT_AUTH_CACHE_SECONDS = 2.0


def register(app: Flask) -> None:
    """Authenticate each request before its view runs."""
    seconds = float(app.config.get(AUTH_CACHE_CONFIG, DEFAULT_AUTH_CACHE_SECONDS))
    app.extensions["udi_recent_principals"] = Recent[str, Principal](seconds)
    app.before_request(_authenticate_request)


def recent_principals() -> Recent[str, Principal]:
    """This app's memory of recently authenticated tokens (see warehouse/recent.py)."""
    recent: Recent[str, Principal] = current_app.extensions["udi_recent_principals"]
    return recent


def forget_token(token_id: object) -> None:
    """Stop reusing a token's principal in this process (it was revoked or changed)."""
    recent_principals().forget(lambda principal: principal.token_id == token_id)


def _authenticate_request() -> None:
    if request.method == "OPTIONS" or request.path.startswith(PUBLIC_PREFIXES):
        return
    header = request.headers.get("Authorization", "")
    if not header and _is_cookie_page(request.path):
        return
    scheme, _, secret = header.partition(" ")
    if not header:
        raise Problem(
            401,
            "auth.missing_token",
            "Expected an 'Authorization: Bearer <token>' header, got none.",
            headers=_CHALLENGE,
        )
    if scheme.lower() != "bearer" or not secret.strip():
        raise Problem(
            401,
            "auth.malformed_header",
            f"Expected 'Authorization: Bearer <token>', got scheme {scheme!r}.",
            headers=_CHALLENGE,
        )
    try:
        g.principal = authenticate(db.session, secret.strip(), recent=recent_principals())
    except InvalidToken as error:
        raise Problem(401, "auth.invalid_token", str(error), headers=_CHALLENGE) from None


def _is_cookie_page(path: str) -> bool:
    return any(path == page or path.startswith(page + "/") for page in COOKIE_PAGES)


def current_principal() -> Principal:
    """The authenticated caller of this request."""
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise Problem(401, "auth.missing_token", "Expected an authenticated request, got none.")
    return principal


REQUIRED_ROLES = "required_roles"
"""Attribute :func:`require_roles` leaves on a view (carried outward by ``functools.wraps``),
so code that answers without running the view — an Idempotency-Key replay — checks it too."""


def require_roles(*roles: Role) -> Callable[[F], F]:
    """Allow the decorated view only to tokens holding at least one of ``roles``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check_roles(current_principal(), roles)
            return view(*args, **kwargs)

        setattr(wrapper, REQUIRED_ROLES, frozenset(roles))
        return wrapper  # type: ignore[return-value]

    return decorator


def check_roles(principal: Principal, roles: Iterable[Role]) -> None:
    """Refuse (403 ``auth.role_required``) a caller holding none of ``roles``."""
    wanted_roles = tuple(roles)
    if not principal.has_any(*wanted_roles):
        wanted = ", ".join(sorted(role.value for role in wanted_roles))
        held = ", ".join(sorted(role.value for role in principal.roles))
        raise Problem(
            403,
            "auth.role_required",
            f"Expected a token with one of the roles {wanted}; got {held}.",
        )


def roles_required_by_endpoint() -> frozenset[Role] | None:
    """The roles :func:`require_roles` demands of this request's view and method, if any."""
    view = current_app.view_functions.get(request.endpoint or "")
    handler = getattr(getattr(view, "view_class", None), request.method.lower(), view)
    required: frozenset[Role] | None = getattr(handler, REQUIRED_ROLES, None)
    return required
