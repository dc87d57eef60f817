"""``/api/v1/scanners``: register handheld scanners, list them, revoke them."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from scanning import devices as service
from scanning.api.scans import recent_devices
from warehouse.api.common import (
    NO_NUL,
    PageArgsSchema,
    created,
    list_schema,
    page_json,
    page_request,
    query_args,
)
from warehouse.db import db
from warehouse.domain.roles import Role
from warehouse.web.auth import current_principal, forget_token, require_roles
from warehouse.web.problems import PROBLEM_TYPES

PROBLEM_TYPES.update(
    {
        "scanner.duplicate_name": "The organisation already has a scanner of that name.",
        "scanner.quirks": "A scanner quirks setting is invalid; errors[].field names it.",
    }
)

blp = Blueprint(
    "scanners",
    __name__,
    url_prefix="/api/v1/scanners",
    description="Scanner devices: each has its own scanner token and input quirks.",
)

MANAGERS = (Role.ADMIN, Role.ORG_MANAGER)


class QuirksSchema(ma.Schema):
    """Documentation of the quirks object; it is validated by ScannerQuirks itself."""

    gs_substitutes = ma.fields.List(ma.fields.String(), metadata={"example": ["|"]})
    prefix = ma.fields.String(metadata={"description": "stripped when present, e.g. STX"})
    suffix = ma.fields.String(metadata={"description": "stripped when present"})
    sends_symbology_id = ma.fields.Boolean(allow_none=True)
    strip_line_endings = ma.fields.Boolean()
    fullwidth_to_ascii = ma.fields.Boolean()
    caps_lock_inverted = ma.fields.Boolean()


class ScannerInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=200), NO_NUL])
    warehouse_id = ma.fields.UUID(required=True)
    organisation_id = ma.fields.UUID(metadata={"description": "admin only; default: yours"})
    quirks = ma.fields.Dict(
        load_default=dict,
        metadata={"description": "ScannerQuirks settings; unknown keys are refused"},
    )


class ScannerSchema(ma.Schema):
    id = ma.fields.String(required=True)
    organisation_id = ma.fields.String(required=True)
    warehouse_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    quirks = ma.fields.Nested(QuirksSchema, required=True)
    token_id = ma.fields.String(required=True)
    token_prefix = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True)
    revoked_at = ma.fields.String(allow_none=True, required=True)


class RegisteredSchema(ScannerSchema):
    token = ma.fields.String(
        required=True, metadata={"description": "the device's bearer token; shown only once"}
    )


class ScannerArgsSchema(PageArgsSchema):
    warehouse_id = ma.fields.UUID()
    revoked = ma.fields.Boolean()


def scanner_json(scanner: service.Scanner) -> dict[str, Any]:
    """A device as the API shows it (never its token)."""
    return {
        "id": str(scanner.id),
        "organisation_id": str(scanner.organisation_id),
        "warehouse_id": str(scanner.warehouse_id),
        "name": scanner.name,
        "quirks": scanner.quirks.to_mapping(),
        "token_id": str(scanner.token_id),
        "token_prefix": scanner.token_prefix,
        "created_at": scanner.created_at.isoformat(),
        "revoked_at": scanner.revoked_at.isoformat() if scanner.revoked_at else None,
    }


@blp.route("")
class Scanners(MethodView):
    @query_args(blp, ScannerArgsSchema)
    @blp.response(200, list_schema(ScannerSchema, "ScannerPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List your organisation's scanners (admins: all)."""
        page = service.list_page(
            db.session,
            current_principal(),
            page_request(args),
            warehouse_id=args.get("warehouse_id"),
            revoked=args.get("revoked"),
        )
        return page_json(page, scanner_json)

    @require_roles(*MANAGERS)
    @blp.arguments(ScannerInSchema)
    @blp.response(201, RegisteredSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Register a scanner; the answer carries its token, which is never shown again."""
        new = service.NewScanner(
            warehouse_id=body["warehouse_id"],
            name=body["name"],
            quirks=body["quirks"],
            organisation_id=body.get("organisation_id"),
        )
        registered = service.register(db.session, current_principal(), new)
        device = registered.scanner
        location = url_for("scanners.ScannerResource", device_id=device.id)
        return created({**scanner_json(device), "token": registered.token}, location)


@blp.route("/<uuid:device_id>")
class ScannerResource(MethodView):
    @blp.response(200, ScannerSchema)
    def get(self, device_id: uuid.UUID) -> dict[str, Any]:
        """Read one scanner."""
        return scanner_json(service.get(db.session, current_principal(), device_id))


@blp.route("/<uuid:device_id>/revoke")
class ScannerRevoke(MethodView):
    @require_roles(*MANAGERS)
    @blp.response(200, ScannerSchema)
    def post(self, device_id: uuid.UUID) -> dict[str, Any]:
        """Revoke a scanner and its token at once (a lost or retired handheld)."""
        scanner = service.revoke(db.session, current_principal(), device_id)
        forget_token(scanner.token_id)
        recent_devices().forget(lambda device: device.id == scanner.id)
        return scanner_json(scanner)
