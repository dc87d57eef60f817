"""``/api/v1/licences``: licences and filings, versioned, readable "as of" any date."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.api.common import (
    PageArgsSchema,
    created,
    list_schema,
    page_json,
    page_request,
    query_args,
)
from warehouse.db import db
from warehouse.domain.licences import DeviceClass, LicenceKind, ScopeEntry
from warehouse.domain.roles import Role
from warehouse.repository.licences import StoredLicence
from warehouse.services import licences as service
from warehouse.web.auth import current_principal, require_roles

blp = Blueprint(
    "licences",
    __name__,
    url_prefix="/api/v1/licences",
    description="Licences and filings (许可证/备案凭证); public register data.",
)

KINDS = [kind.value for kind in LicenceKind]
CLASSES = [c.value for c in DeviceClass]


class ScopeEntrySchema(ma.Schema):
    device_class = ma.fields.String(required=True, validate=ma.validate.OneOf(CLASSES))
    category = ma.fields.String(
        allow_none=True,
        load_default=None,
        metadata={"description": "Classification catalogue code, e.g. 13; none = whole class"},
    )


class ScopeEntryOutSchema(ScopeEntrySchema):
    device_class_label_zh = ma.fields.String(required=True, metadata={"example": "第三类"})


class LicenceInSchema(ma.Schema):
    holder_id = ma.fields.UUID(required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    number = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=100),
        metadata={"example": "闽厦食药监械经营许20200012号"},
    )
    scope = ma.fields.List(ma.fields.Nested(ScopeEntrySchema), load_default=list)
    warehouse_ids = ma.fields.List(ma.fields.UUID(), load_default=list)
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(allow_none=True, load_default=None)
    effective_from = ma.fields.Date(
        allow_none=True, load_default=None, metadata={"description": "Default: valid_from"}
    )


class SupersedeSchema(ma.Schema):
    effective_from = ma.fields.Date(
        required=True, metadata={"description": "First day the new version applies"}
    )
    number = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    scope = ma.fields.List(ma.fields.Nested(ScopeEntrySchema))
    warehouse_ids = ma.fields.List(ma.fields.UUID())
    valid_from = ma.fields.Date()
    valid_to = ma.fields.Date(allow_none=True)


class LicenceSchema(ma.Schema):
    licence_id = ma.fields.String(required=True)
    version_id = ma.fields.String(required=True)
    supersedes = ma.fields.String(allow_none=True, required=True)
    holder_id = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    kind_label_zh = ma.fields.String(
        required=True, metadata={"example": "第三类医疗器械经营许可证"}
    )
    number = ma.fields.String(required=True)
    scope = ma.fields.List(ma.fields.Nested(ScopeEntryOutSchema), required=True)
    warehouse_ids = ma.fields.List(ma.fields.String(), required=True)
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(allow_none=True, required=True)
    effective_from = ma.fields.Date(required=True)


class LicenceHistorySchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LicenceSchema), required=True)


class LicenceArgsSchema(PageArgsSchema):
    holder_id = ma.fields.UUID()
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))


class AsOfSchema(ma.Schema):
    as_of = ma.fields.Date(metadata={"description": "YYYY-MM-DD; default today (China)"})


def licence_json(stored: StoredLicence) -> dict[str, Any]:
    """A licence version as the API shows it."""
    version = stored.version
    return {
        "licence_id": stored.licence_id,
        "version_id": version.id,
        "supersedes": version.supersedes,
        "holder_id": version.holder_id,
        "kind": version.kind.value,
        "kind_label_zh": version.kind.label_zh,
        "number": version.number,
        "scope": [
            {
                "device_class": entry.device_class.value,
                "device_class_label_zh": entry.device_class.label_zh,
                "category": entry.category,
            }
            for entry in sorted(version.scope, key=str)
        ],
        "warehouse_ids": sorted(version.warehouse_ids),
        "valid_from": version.valid_from,
        "valid_to": version.valid_to,
        "effective_from": version.effective_since,
    }


def _scope(entries: list[dict[str, Any]]) -> tuple[ScopeEntry, ...]:
    return tuple(ScopeEntry(DeviceClass(e["device_class"]), e.get("category")) for e in entries)


def _location(stored: StoredLicence) -> str:
    return url_for(
        "licences.LicenceVersion", licence_id=stored.licence_id, version_id=stored.version.id
    )


@blp.route("")
class Licences(MethodView):
    @query_args(blp, LicenceArgsSchema)
    @blp.response(200, list_schema(LicenceSchema, "LicencePage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List licences (latest versions), filtered by holder or kind."""
        kind = LicenceKind(args["kind"]) if "kind" in args else None
        page = service.list_page(
            db.session, page_request(args), holder_id=args.get("holder_id"), kind=kind
        )
        return page_json(page, licence_json)

    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(LicenceInSchema)
    @blp.response(201, LicenceSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Record a licence or filing (its first version)."""
        new = service.NewLicence(
            **{**body, "kind": LicenceKind(body["kind"]), "scope": _scope(body["scope"])}
        )
        stored = service.create(db.session, current_principal(), new)
        return created(licence_json(stored), _location(stored))


@blp.route("/<uuid:licence_id>")
class LicenceResource(MethodView):
    @query_args(blp, AsOfSchema)
    @blp.response(200, LicenceSchema)
    def get(self, args: dict[str, Any], licence_id: uuid.UUID) -> dict[str, Any]:
        """Read the version in effect on ``as_of`` (default today)."""
        return licence_json(service.as_of(db.session, licence_id, args.get("as_of")))


@blp.route("/<uuid:licence_id>/history")
class LicenceHistory(MethodView):
    @blp.response(200, LicenceHistorySchema)
    def get(self, licence_id: uuid.UUID) -> dict[str, Any]:
        """Every version of a licence, oldest first."""
        return {"items": [licence_json(v) for v in service.history(db.session, licence_id)]}


@blp.route("/<uuid:licence_id>/versions/<uuid:version_id>")
class LicenceVersion(MethodView):
    @blp.response(200, LicenceSchema)
    def get(self, licence_id: uuid.UUID, version_id: uuid.UUID) -> dict[str, Any]:
        """Read one version of a licence."""
        return licence_json(service.version(db.session, licence_id, version_id))


@blp.route("/<uuid:licence_id>/supersede")
class LicenceSupersede(MethodView):
    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(SupersedeSchema)
    @blp.response(201, LicenceSchema)
    def post(self, body: dict[str, Any], licence_id: uuid.UUID) -> Any:
        """Add a version in effect from ``effective_from``; earlier versions stay readable."""
        changes = dict(body)
        effective_from = changes.pop("effective_from")
        if "scope" in changes:
            changes["scope"] = _scope(changes["scope"])
        stored = service.supersede(
            db.session, current_principal(), licence_id, effective_from, changes
        )
        return created(licence_json(stored), _location(stored))
