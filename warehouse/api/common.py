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


class AsOfSchema(ma.Schema):
    """``?as_of=``: read the version in effect on a date instead of the latest one."""

    as_of = ma.fields.Date(
        metadata={"description": "YYYY-MM-DD: the version in effect on that day; default: latest"}
    )


class VersionFieldsSchema(ma.Schema):
    """Which version of a record a response shows (null for a row with no version yet)."""

    version_id = ma.fields.String(allow_none=True, required=True)
    version = ma.fields.Integer(allow_none=True, required=True, metadata={"example": 2})
    supersedes = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "version_id it replaced"}
    )
    effective_from = ma.fields.Date(
        allow_none=True, required=True, metadata={"description": "First day it applies"}
    )
    recorded_at = ma.fields.DateTime(allow_none=True, required=True)


class SupersedeFieldsSchema(ma.Schema):
    """What every supersede body carries besides the changed fields."""

    effective_from = ma.fields.Date(
        required=True, metadata={"description": "First day the new version applies"}
    )
    supersedes = ma.fields.UUID(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "version_id the change is based on; 409 version.not_latest if a"
            " later version exists. Omit to supersede whatever is latest."
        },
    )


def version_json(version: Any) -> dict[str, Any]:
    """The version fields of a response (a :class:`~warehouse.repository.versions.Version`)."""
    if version is None:
        return dict.fromkeys(
            ("version_id", "version", "supersedes", "effective_from", "recorded_at")
        )
    return {
        "version_id": version.id,
        "version": version.number,
        "supersedes": version.supersedes,
        "effective_from": version.effective_from,
        "recorded_at": version.recorded_at,
    }


def history_schema(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    """``{"items": [...]}``: every version, oldest first."""
    return ma.Schema.from_dict(
        {"items": ma.fields.List(ma.fields.Nested(item), required=True)}, name=name
    )


def split_supersede(body: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """``(effective_from, supersedes, changes)`` of a supersede request body."""
    changes = dict(body)
    return changes.pop("effective_from"), changes.pop("supersedes"), changes
