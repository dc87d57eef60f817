"""Request media types: API bodies are JSON unless a view declares otherwise (415 if not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request

from warehouse.web.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])

JSON_TYPES = frozenset({"application/json"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def accepts(*media_types: str) -> Callable[[F], F]:
    """Declare the request media types a view method takes (default: JSON)."""

    def decorator(view: F) -> F:
        view.accepted_media_types = frozenset(media_types)  # type: ignore[attr-defined]
        return view

    return decorator


def register(app: Flask) -> None:
    """Refuse API request bodies of an unsupported media type with 415."""
    app.before_request(_check_media_type)


def _check_media_type() -> None:
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/"):
        return
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return
    accepted = _accepted_for_current_view()
    if request.mimetype not in accepted:
        raise Problem(
            415,
            "request.unsupported_media_type",
            f"Expected Content-Type {' or '.join(sorted(accepted))}, "
            f"got {request.mimetype or 'none'!r}.",
        )


def _accepted_for_current_view() -> frozenset[str]:
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    method = getattr(view_class, request.method.lower(), None) if view_class else view
    return getattr(method, "accepted_media_types", JSON_TYPES)
