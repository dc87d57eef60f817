"""Pieces every master-data resource shares: pagination, query arguments, 201 responses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import marshmallow as ma
from flask_smorest import Blueprint

from warehouse.repository.pages import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class PageArgsSchema(ma.Schema):
    """``?limit=`` and ``?cursor=``; subclasses add the resource's filters."""

    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=ma.validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Items per page, 1 to {MAX_LIMIT}."},
    )
    cursor = ma.fields.String(metadata={"description": "next_cursor of the previous page; opaque."})


def query_args(blp: Blueprint, schema: type[ma.Schema]) -> Callable[[F], F]:
    """Parse query parameters with ``schema``; an unknown parameter is a 422, not ignored."""
    return blp.arguments(schema, location="query", unknown=ma.RAISE)  # type: ignore[no-any-return]


def page_request(args: Mapping[str, Any]) -> PageRequest:
    """The page a list request asks for."""
    return PageRequest(limit=args["limit"], cursor=args.get("cursor"))


def page_json(page: Page[T], present: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """``{"items": [...], "next_cursor": ...}``."""
    return {"items": [present(item) for item in page.items], "next_cursor": page.next_cursor}


def list_schema(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A page schema whose items are ``item``."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item), required=True),
            "next_cursor": ma.fields.String(
                allow_none=True,
                required=True,
                metadata={"description": "Pass as ?cursor= for the next page; null at the end."},
            ),
        },
        name=name,
    )


def created(body: dict[str, Any], location: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A 201 response with the new resource's ``Location``."""
    return body, 201, {"Location": location}


class StorageSchema(ma.Schema):
    """A temperature range in °C and a relative-humidity ceiling in percent."""

    min_celsius = ma.fields.Decimal(allow_none=True, as_string=True)
    max_celsius = ma.fields.Decimal(allow_none=True, as_string=True)
    max_relative_humidity = ma.fields.Integer(
        allow_none=True, validate=ma.validate.Range(min=0, max=100)
    )


def storage_json(storage: Any) -> dict[str, Any] | None:
    """Storage conditions as JSON, or None when uncontrolled."""
    if storage is None:
        return None
    return {
        "min_celsius": storage.min_celsius,
        "max_celsius": storage.max_celsius,
        "max_relative_humidity": storage.max_relative_humidity,
    }
