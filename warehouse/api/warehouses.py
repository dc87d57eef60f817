"""``/api/v1/warehouses`` and their locations: private to those entitled to see them."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.api.common import (
    PageArgsSchema,
    StorageSchema,
    created,
    list_schema,
    page_json,
    page_request,
    query_args,
    storage_json,
)
from warehouse.db import db
from warehouse.domain.roles import Role
from warehouse.domain.warehouses import Location, LocationPurpose, StorageConditions, Warehouse
from warehouse.domain.warehouses import WarehouseKind as Kind
from warehouse.services import warehouses as service
from warehouse.services.validation import build
from warehouse.web.auth import current_principal, require_roles

blp = Blueprint(
    "warehouses",
    __name__,
    url_prefix="/api/v1/warehouses",
    description="Warehouses (库房) and their locations; seen by the operator, its parent"
    " companies, agreement parties, regulators of the jurisdiction and admins.",
)

KINDS = [kind.value for kind in Kind]
PURPOSES = [purpose.value for purpose in LocationPurpose]


class WarehouseInSchema(ma.Schema):
    operator_id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    address = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))
    jurisdiction = ma.fields.String(required=True, metadata={"example": "350206"})
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(KINDS))
    storage = ma.fields.Nested(StorageSchema, allow_none=True, load_default=None)


class WarehouseSchema(ma.Schema):
    id = ma.fields.String(required=True)
    operator_id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    jurisdiction = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    kind_label_zh = ma.fields.String(required=True, metadata={"example": "异地库"})
    storage = ma.fields.Nested(StorageSchema, allow_none=True, required=True)


class WarehouseArgsSchema(PageArgsSchema):
    operator_id = ma.fields.UUID()
    jurisdiction_prefix = ma.fields.String()
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))


class LocationInSchema(ma.Schema):
    zone = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    aisle = ma.fields.String(allow_none=True, load_default=None)
    bin = ma.fields.String(allow_none=True, load_default=None)
    purpose = ma.fields.String(
        load_default=LocationPurpose.NORMAL.value, validate=ma.validate.OneOf(PURPOSES)
    )
    department = ma.fields.String(
        allow_none=True,
        load_default=None,
        metadata={"description": "Hospital department served; only for purpose=department"},
    )


class LocationSchema(ma.Schema):
    id = ma.fields.String(required=True)
    warehouse_id = ma.fields.String(required=True)
    code = ma.fields.String(required=True, metadata={"example": "A-03-12"})
    zone = ma.fields.String(required=True)
    aisle = ma.fields.String(allow_none=True, required=True)
    bin = ma.fields.String(allow_none=True, required=True)
    purpose = ma.fields.String(required=True)
    purpose_label_zh = ma.fields.String(required=True, metadata={"example": "待验区"})
    pickable = ma.fields.Boolean(required=True)
    department = ma.fields.String(allow_none=True, required=True)


class LocationArgsSchema(PageArgsSchema):
    purpose = ma.fields.String(validate=ma.validate.OneOf(PURPOSES))


def warehouse_json(warehouse: Warehouse) -> dict[str, Any]:
    """A warehouse as the API shows it."""
    return {
        "id": warehouse.id,
        "operator_id": warehouse.operator_id,
        "name": warehouse.name,
        "address": warehouse.address,
        "jurisdiction": warehouse.jurisdiction.value,
        "kind": warehouse.kind.value,
        "kind_label_zh": warehouse.kind.label_zh,
        "storage": storage_json(warehouse.storage),
    }


def location_json(location: Location) -> dict[str, Any]:
    """A location as the API shows it."""
    return {
        "id": location.id,
        "warehouse_id": location.warehouse_id,
        "code": location.code,
        "zone": location.zone,
        "aisle": location.aisle,
        "bin": location.bin,
        "purpose": location.purpose.value,
        "purpose_label_zh": location.purpose.label_zh,
        "pickable": location.purpose.pickable,
        "department": location.department,
    }


def storage_conditions(body: dict[str, Any] | None) -> StorageConditions | None:
    """Storage conditions from a request body part (422 naming the field if inconsistent)."""
    if not body:
        return None
    return build("storage", lambda: StorageConditions(**body), prefix="storage.")


@blp.route("")
class Warehouses(MethodView):
    @query_args(blp, WarehouseArgsSchema)
    @blp.response(200, list_schema(WarehouseSchema, "WarehousePage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the warehouses the caller may see."""
        page = service.list_page(
            db.session,
            current_principal(),
            page_request(args),
            operator_id=args.get("operator_id"),
            jurisdiction_prefix=args.get("jurisdiction_prefix"),
            kind=Kind(args["kind"]) if "kind" in args else None,
        )
        return page_json(page, warehouse_json)

    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(WarehouseInSchema)
    @blp.response(201, WarehouseSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Register a warehouse operated by your organisation (admins: any)."""
        new = service.NewWarehouse(
            **{**body, "kind": Kind(body["kind"]), "storage": storage_conditions(body["storage"])}
        )
        warehouse = service.create(db.session, current_principal(), new)
        location = url_for(".WarehouseResource", warehouse_id=warehouse.id)
        return created(warehouse_json(warehouse), location)


@blp.route("/<uuid:warehouse_id>")
class WarehouseResource(MethodView):
    @blp.response(200, WarehouseSchema)
    def get(self, warehouse_id: uuid.UUID) -> dict[str, Any]:
        """Read a warehouse."""
        return warehouse_json(service.get(db.session, current_principal(), warehouse_id))


@blp.route("/<uuid:warehouse_id>/locations")
class Locations(MethodView):
    @query_args(blp, LocationArgsSchema)
    @blp.response(200, list_schema(LocationSchema, "LocationPage"))
    def get(self, args: dict[str, Any], warehouse_id: uuid.UUID) -> dict[str, Any]:
        """List a warehouse's locations, optionally of one purpose."""
        purpose = LocationPurpose(args["purpose"]) if "purpose" in args else None
        page = service.list_locations(
            db.session, current_principal(), warehouse_id, page_request(args), purpose=purpose
        )
        return page_json(page, location_json)

    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(LocationInSchema)
    @blp.response(201, LocationSchema)
    def post(self, body: dict[str, Any], warehouse_id: uuid.UUID) -> Any:
        """Add a location (zone, aisle, bin, purpose) to a warehouse you operate."""
        new = service.NewLocation(**{**body, "purpose": LocationPurpose(body["purpose"])})
        location = service.add_location(db.session, current_principal(), warehouse_id, new)
        url = url_for(".LocationResource", warehouse_id=warehouse_id, location_id=location.id)
        return created(location_json(location), url)


@blp.route("/<uuid:warehouse_id>/locations/<uuid:location_id>")
class LocationResource(MethodView):
    @blp.response(200, LocationSchema)
    def get(self, warehouse_id: uuid.UUID, location_id: uuid.UUID) -> dict[str, Any]:
        """Read a location."""
        location = service.get_location(db.session, current_principal(), warehouse_id, location_id)
        return location_json(location)
