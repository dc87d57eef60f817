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
    SupersedeFieldsSchema,
    VersionFieldsSchema,
    created,
    list_schema,
    page_json,
    page_request,
    query_args,
    register_version_endpoints,
    storage_json,
    version_json,
)
from warehouse.api.licences import LicenceSchema, licence_json
from warehouse.db import db
from warehouse.domain.roles import Role
from warehouse.domain.warehouses import Location, LocationPurpose, StorageConditions, Warehouse
from warehouse.domain.warehouses import WarehouseKind as Kind
from warehouse.services import today
from warehouse.services import versions as versioning
from warehouse.services import warehouses as service
from warehouse.services.validation import build
from warehouse.services.versions import Versioned
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
    effective_from = ma.fields.Date(
        allow_none=True,
        load_default=None,
        metadata={"description": "First day of the first version; default today (China)"},
    )


class WarehouseSupersedeSchema(SupersedeFieldsSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    address = ma.fields.String(validate=ma.validate.Length(min=1, max=500))
    jurisdiction = ma.fields.String(metadata={"example": "350206"})
    kind = ma.fields.String(validate=ma.validate.OneOf(KINDS))
    storage = ma.fields.Nested(StorageSchema, allow_none=True)


class WarehouseSchema(VersionFieldsSchema):
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
    effective_from = ma.fields.Date(
        allow_none=True,
        load_default=None,
        metadata={"description": "First day of the first version; default today (China)"},
    )


class LocationSupersedeSchema(SupersedeFieldsSchema):
    zone = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    aisle = ma.fields.String(allow_none=True)
    bin = ma.fields.String(allow_none=True)
    purpose = ma.fields.String(validate=ma.validate.OneOf(PURPOSES))
    department = ma.fields.String(allow_none=True)


class LocationSchema(VersionFieldsSchema):
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


def warehouse_json(warehouse: Warehouse, version: Any = None) -> dict[str, Any]:
    """A warehouse as the API shows it, with the version shown."""
    return {
        **version_json(version),
        "id": warehouse.id,
        "operator_id": warehouse.operator_id,
        "name": warehouse.name,
        "address": warehouse.address,
        "jurisdiction": warehouse.jurisdiction.value,
        "kind": warehouse.kind.value,
        "kind_label_zh": warehouse.kind.label_zh,
        "storage": storage_json(warehouse.storage),
    }


def location_json(location: Location, version: Any = None) -> dict[str, Any]:
    """A location as the API shows it, with the version shown."""
    return {
        **version_json(version),
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


def versioned_warehouse(found: Versioned[Warehouse]) -> dict[str, Any]:
    """One version of a warehouse."""
    return warehouse_json(found.value, found.version)


def versioned_location(found: Versioned[Location]) -> dict[str, Any]:
    """One version of a location."""
    return location_json(found.value, found.version)


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
        latest = versioning.latest_of(db.session, "warehouse", [w.id for w in page.items])
        return page_json(page, lambda w: warehouse_json(w, latest.get(w.id)))

    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(WarehouseInSchema)
    @blp.response(201, WarehouseSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Register a warehouse operated by your organisation (admins: any)."""
        new = service.NewWarehouse(
            **{**body, "kind": Kind(body["kind"]), "storage": storage_conditions(body["storage"])}
        )
        principal = current_principal()
        warehouse = service.create(db.session, principal, new)
        found = service.get_versioned(db.session, principal, uuid.UUID(warehouse.id))
        location = url_for(".WarehouseResource", warehouse_id=warehouse.id)
        return created(versioned_warehouse(found), location)


def warehouse_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """A warehouse supersede body's changes with domain values."""
    if "kind" in changes:
        changes["kind"] = Kind(changes["kind"])
    if "storage" in changes:
        changes["storage"] = storage_conditions(changes["storage"])
    return changes


register_version_endpoints(
    blp,
    "/<uuid:warehouse_id>",
    name="Warehouse",
    label="a warehouse",
    schema=WarehouseSchema,
    present=versioned_warehouse,
    latest=lambda warehouse_id: service.get_versioned(
        db.session, current_principal(), warehouse_id
    ),
    as_of=lambda on, warehouse_id: service.as_of(db.session, current_principal(), warehouse_id, on),
    history=lambda warehouse_id: service.history(db.session, current_principal(), warehouse_id),
    version=lambda version_id, warehouse_id: service.version(
        db.session, current_principal(), warehouse_id, version_id
    ),
    supersede=lambda effective_from, changes, supersedes, warehouse_id: service.supersede(
        db.session, current_principal(), warehouse_id, effective_from, changes, supersedes
    ),
    supersede_schema=WarehouseSupersedeSchema,
    supersede_summary="Add a version (name, address, jurisdiction, kind, storage) from"
    " ``effective_from``;\nthe operator never changes.",
    convert=warehouse_changes,
)


class RegistrationArgsSchema(ma.Schema):
    on = ma.fields.Date(metadata={"description": "YYYY-MM-DD; default today (China)"})


class RegistrationsSchema(ma.Schema):
    warehouse_id = ma.fields.UUID(required=True)
    on = ma.fields.Date(required=True)
    items = ma.fields.List(ma.fields.Nested(LicenceSchema), required=True)


@blp.route("/<uuid:warehouse_id>/registrations")
class Registrations(MethodView):
    @query_args(blp, RegistrationArgsSchema)
    @blp.response(200, RegistrationsSchema)
    def get(self, args: dict[str, Any], warehouse_id: uuid.UUID) -> dict[str, Any]:
        """Licence versions registering this warehouse's address (库房地址) on a date."""
        on = args.get("on") or today()
        found = service.registrations(db.session, current_principal(), warehouse_id, on)
        return {
            "warehouse_id": warehouse_id,
            "on": on,
            "items": [licence_json(item) for item in found],
        }


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
        latest = versioning.latest_of(db.session, "location", [loc.id for loc in page.items])
        return page_json(page, lambda loc: location_json(loc, latest.get(loc.id)))

    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(LocationInSchema)
    @blp.response(201, LocationSchema)
    def post(self, body: dict[str, Any], warehouse_id: uuid.UUID) -> Any:
        """Add a location (zone, aisle, bin, purpose) to a warehouse you operate."""
        new = service.NewLocation(**{**body, "purpose": LocationPurpose(body["purpose"])})
        principal = current_principal()
        location = service.add_location(db.session, principal, warehouse_id, new)
        found = service.get_location_versioned(
            db.session, principal, warehouse_id, uuid.UUID(location.id)
        )
        url = url_for(".LocationResource", warehouse_id=warehouse_id, location_id=location.id)
        return created(versioned_location(found), url)


def location_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """A location supersede body's changes with domain values."""
    if "purpose" in changes:
        changes["purpose"] = LocationPurpose(changes["purpose"])
    return changes


register_version_endpoints(
    blp,
    "/<uuid:warehouse_id>/locations/<uuid:location_id>",
    name="Location",
    label="a location",
    schema=LocationSchema,
    present=versioned_location,
    latest=lambda warehouse_id, location_id: service.get_location_versioned(
        db.session, current_principal(), warehouse_id, location_id
    ),
    as_of=lambda on, warehouse_id, location_id: service.location_as_of(
        db.session, current_principal(), warehouse_id, location_id, on
    ),
    history=lambda warehouse_id, location_id: service.location_history(
        db.session, current_principal(), warehouse_id, location_id
    ),
    version=lambda version_id, warehouse_id, location_id: service.location_version(
        db.session, current_principal(), warehouse_id, location_id, version_id
    ),
    supersede=lambda effective_from, changes, supersedes, warehouse_id, location_id: (
        service.supersede_location(
            db.session,
            current_principal(),
            warehouse_id,
            location_id,
            effective_from,
            changes,
            supersedes,
        )
    ),
    supersede_schema=LocationSupersedeSchema,
    supersede_summary="Add a version (zone, aisle, bin, purpose, department) from"
    " ``effective_from``,\ne.g. a normal area turned quarantine.",
    convert=location_changes,
)
