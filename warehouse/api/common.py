"""Pieces every master-data resource shares: pagination, query arguments, 201 responses."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.domain.roles import Role
from warehouse.repository.pages import DEFAULT_LIMIT, MAX_LIMIT, Page, PageRequest
from warehouse.services.versions import Versioned
from warehouse.web.auth import require_roles

NO_NUL = ma.validate.Regexp(r"\A[^\x00]*\Z", error="Expected text without NUL characters.")
"""For every text field that is stored: PostgreSQL text cannot hold NUL (it would be a 500)."""

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


def _unchanged(changes: dict[str, Any]) -> dict[str, Any]:
    return changes


def register_version_endpoints(
    blp: Blueprint,
    path: str,
    *,
    name: str,
    label: str,
    schema: type[ma.Schema],
    present: Callable[[Versioned[Any]], dict[str, Any]],
    latest: Callable[..., Versioned[Any]],
    as_of: Callable[..., Versioned[Any]],
    history: Callable[..., list[Versioned[Any]]],
    version: Callable[..., Versioned[Any]],
    supersede: Callable[..., Versioned[Any]],
    supersede_schema: type[ma.Schema],
    supersede_summary: str,
    convert: Callable[[dict[str, Any]], dict[str, Any]] = _unchanged,
) -> None:
    """Register the four version endpoints of a versioned resource at ``path``.

    ``GET path`` (latest, or ``?as_of=``), ``GET path/history``, ``GET
    path/versions/<version_id>`` and ``POST path/supersede``, as the endpoints
    ``{name}Resource``, ``{name}History``, ``{name}Version`` and ``{name}Supersede``.
    The service calls get the URL's ids as keyword arguments: ``latest(**ids)``,
    ``as_of(on, **ids)``, ``history(**ids)``, ``version(version_id, **ids)`` and
    ``supersede(effective_from, changes, supersedes, **ids)``, where ``changes`` went
    through ``convert`` (request values to domain values) first.

    Args:
        label: The resource with its article, for summaries: ``"an agreement"``.
        present: One version as the API shows it.
    """

    @blp.route(path, endpoint=f"{name}Resource")
    class Resource(MethodView):
        @query_args(blp, AsOfSchema)
        @blp.response(200, schema)
        @blp.doc(summary=f"Read {label}: its latest version, or the one in effect on ``as_of``.")
        def get(self, args: dict[str, Any], **ids: Any) -> dict[str, Any]:
            if "as_of" in args:
                return present(as_of(args["as_of"], **ids))
            return present(latest(**ids))

    @blp.route(f"{path}/history", endpoint=f"{name}History")
    class History(MethodView):
        @blp.response(200, history_schema(schema, f"{name}History"))
        @blp.doc(summary=f"Every version of {label}, oldest first.")
        def get(self, **ids: Any) -> dict[str, Any]:
            return {"items": [present(v) for v in history(**ids)]}

    @blp.route(f"{path}/versions/<uuid:version_id>", endpoint=f"{name}Version")
    class Version(MethodView):
        @blp.response(200, schema)
        @blp.doc(summary=f"Read one version of {label}.")
        def get(self, version_id: uuid.UUID, **ids: Any) -> dict[str, Any]:
            return present(version(version_id, **ids))

    @blp.route(f"{path}/supersede", endpoint=f"{name}Supersede")
    class Supersede(MethodView):
        @require_roles(Role.ADMIN, Role.ORG_MANAGER)
        @blp.arguments(supersede_schema)
        @blp.response(201, schema)
        @blp.doc(summary=supersede_summary)
        def post(self, body: dict[str, Any], **ids: Any) -> Any:
            effective_from, supersedes, changes = split_supersede(body)
            found = supersede(effective_from, convert(changes), supersedes, **ids)
            assert found.version is not None
            url = url_for(f".{name}Version", **ids, version_id=found.version.id)
            return created(present(found), url)
