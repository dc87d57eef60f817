"""``/api/v1/devices``: the device catalogue (UDI-DI records as published in UDID)."""

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
from warehouse.api.warehouses import storage_conditions
from warehouse.db import db
from warehouse.domain.catalogue import (
    ProductionIdentifier,
    ProductionIdentifiers,
    SpecialRegime,
)
from warehouse.domain.licences import DeviceClass
from warehouse.domain.roles import Role
from warehouse.repository.devices import StoredDevice
from warehouse.services import catalogue as service
from warehouse.services import versions as versioning
from warehouse.services.versions import Versioned
from warehouse.web.auth import current_principal, require_roles

blp = Blueprint(
    "devices",
    __name__,
    url_prefix="/api/v1/devices",
    description="The device catalogue by UDI-DI; public register data.",
)

CLASSES = [c.value for c in DeviceClass]
REGIMES = [r.value for r in SpecialRegime]


class CertificateInSchema(ma.Schema):
    number = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=100),
        metadata={"example": "国械注准20203130001"},
    )
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(allow_none=True, load_default=None)


class CertificateVersionInSchema(CertificateInSchema):
    effective_from = ma.fields.Date(
        allow_none=True, load_default=None, metadata={"description": "Default: valid_from"}
    )


class CertificateSchema(CertificateInSchema):
    id = ma.fields.String(required=True)
    effective_from = ma.fields.Date(required=True)
    supersedes = ma.fields.String(allow_none=True, required=True)


class PackageSchema(ma.Schema):
    package_di = ma.fields.String(required=True)
    content_di = ma.fields.String(required=True)
    quantity = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    level = ma.fields.String(allow_none=True, load_default=None, metadata={"example": "中包装"})


class LabelPiSchema(ma.Schema):
    lot = ma.fields.Boolean(load_default=False)
    serial = ma.fields.Boolean(load_default=False)
    production_date = ma.fields.Boolean(load_default=False)
    expiry_date = ma.fields.Boolean(load_default=False)


class DeviceInSchema(ma.Schema):
    di = ma.fields.String(required=True, metadata={"example": "06901234567892"})
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=300))
    model_spec = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=300))
    device_class = ma.fields.String(required=True, validate=ma.validate.OneOf(CLASSES))
    category = ma.fields.String(allow_none=True, load_default=None)
    registrant_id = ma.fields.UUID(required=True)
    implantable = ma.fields.Boolean(load_default=False)
    label_pi = ma.fields.Nested(LabelPiSchema, load_default=dict)
    storage = ma.fields.Nested(StorageSchema, allow_none=True, load_default=None)
    insurance_code = ma.fields.String(allow_none=True, load_default=None)
    regimes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(REGIMES)), load_default=list
    )
    certificates = ma.fields.List(ma.fields.Nested(CertificateInSchema), load_default=list)
    packages = ma.fields.List(ma.fields.Nested(PackageSchema), load_default=list)
    effective_from = ma.fields.Date(
        allow_none=True,
        load_default=None,
        metadata={"description": "First day of the first version; default today (China)"},
    )


class DeviceSupersedeSchema(SupersedeFieldsSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=300))
    model_spec = ma.fields.String(validate=ma.validate.Length(min=1, max=300))
    device_class = ma.fields.String(validate=ma.validate.OneOf(CLASSES))
    category = ma.fields.String(allow_none=True)
    implantable = ma.fields.Boolean()
    label_pi = ma.fields.Nested(LabelPiSchema)
    storage = ma.fields.Nested(StorageSchema, allow_none=True)
    insurance_code = ma.fields.String(allow_none=True)
    regimes = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(REGIMES)))


class DeviceSchema(VersionFieldsSchema):
    id = ma.fields.String(required=True)
    di = ma.fields.String(required=True)
    issuer = ma.fields.String(required=True, metadata={"example": "gs1"})
    name = ma.fields.String(required=True)
    model_spec = ma.fields.String(required=True)
    device_class = ma.fields.String(required=True)
    device_class_label_zh = ma.fields.String(required=True)
    category = ma.fields.String(allow_none=True, required=True)
    registrant_id = ma.fields.String(required=True)
    implantable = ma.fields.Boolean(required=True)
    label_pi = ma.fields.Nested(LabelPiSchema, required=True)
    storage = ma.fields.Nested(StorageSchema, allow_none=True, required=True)
    insurance_code = ma.fields.String(allow_none=True, required=True)
    regimes = ma.fields.List(ma.fields.String(), required=True)
    certificates = ma.fields.List(ma.fields.Nested(CertificateSchema), required=True)
    packages = ma.fields.List(ma.fields.Nested(PackageSchema), required=True)


class DeviceArgsSchema(PageArgsSchema):
    di = ma.fields.String(metadata={"description": "A device DI or one of its package DIs"})
    registrant_id = ma.fields.UUID()
    device_class = ma.fields.String(validate=ma.validate.OneOf(CLASSES))
    implantable = ma.fields.Boolean()


def device_json(device: StoredDevice, version: Any = None) -> dict[str, Any]:
    """A catalogue record as the API shows it, with the version shown."""
    record = device.record
    return {
        **version_json(version),
        "id": device.id,
        "di": record.di,
        "issuer": device.issuer,
        "name": record.name,
        "model_spec": record.model_spec,
        "device_class": record.device_class.value,
        "device_class_label_zh": record.device_class.label_zh,
        "category": record.category,
        "registrant_id": record.registrant_id,
        "implantable": record.implantable,
        "label_pi": {pi.value: pi in record.label_pi.present for pi in ProductionIdentifier},
        "storage": storage_json(record.storage),
        "insurance_code": record.insurance_code,
        "regimes": sorted(r.value for r in record.regimes),
        "certificates": [
            {
                "id": c.id,
                "number": c.number,
                "valid_from": c.valid_from,
                "valid_to": c.valid_to,
                "effective_from": c.effective_since,
                "supersedes": c.supersedes,
            }
            for c in record.certificates
        ],
        "packages": [
            {
                "package_di": p.entry.package_di,
                "content_di": p.entry.content_di,
                "quantity": p.entry.quantity,
                "level": p.level,
            }
            for p in device.packages
        ],
    }


def versioned_json(found: Versioned[StoredDevice]) -> dict[str, Any]:
    """One version of a catalogue record."""
    return device_json(found.value, found.version)


def new_device(body: dict[str, Any]) -> service.NewDevice:
    """The service input for a request body."""
    return service.NewDevice(
        **{
            **body,
            "device_class": DeviceClass(body["device_class"]),
            "label_pi": ProductionIdentifiers(**body["label_pi"]),
            "storage": storage_conditions(body["storage"]),
            "regimes": frozenset(SpecialRegime(r) for r in body["regimes"]),
            "certificates": tuple(service.NewCertificate(**c) for c in body["certificates"]),
            "packages": tuple(service.NewPackage(**p) for p in body["packages"]),
        }
    )


@blp.route("")
class Devices(MethodView):
    @query_args(blp, DeviceArgsSchema)
    @blp.response(200, list_schema(DeviceSchema, "DevicePage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List catalogue records, filtered by DI, registrant, class or implantable."""
        page = service.list_page(
            db.session,
            page_request(args),
            di=args.get("di"),
            registrant_id=args.get("registrant_id"),
            device_class=DeviceClass(args["device_class"]) if "device_class" in args else None,
            implantable=args.get("implantable"),
        )
        latest = versioning.latest_of(db.session, service.ENTITY, [d.id for d in page.items])
        return page_json(page, lambda d: device_json(d, latest.get(d.id)))

    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(DeviceInSchema)
    @blp.response(201, DeviceSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Add a device your organisation registers (admins: any)."""
        device = service.create(db.session, current_principal(), new_device(body))
        found = service.get_versioned(db.session, uuid.UUID(device.id))
        return created(versioned_json(found), url_for(".DeviceResource", device_id=device.id))


def device_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """A supersede body's changes with domain values."""
    if "device_class" in changes:
        changes["device_class"] = DeviceClass(changes["device_class"])
    if "label_pi" in changes:
        changes["label_pi"] = ProductionIdentifiers(**changes["label_pi"])
    if "storage" in changes:
        changes["storage"] = storage_conditions(changes["storage"])
    if "regimes" in changes:
        changes["regimes"] = frozenset(SpecialRegime(r) for r in changes["regimes"])
    return changes


register_version_endpoints(
    blp,
    "/<uuid:device_id>",
    name="Device",
    label="a catalogue record",
    schema=DeviceSchema,
    present=versioned_json,
    latest=lambda device_id: service.get_versioned(db.session, device_id),
    as_of=lambda on, device_id: service.as_of(db.session, device_id, on),
    history=lambda device_id: service.history(db.session, device_id),
    version=lambda version_id, device_id: service.version(db.session, device_id, version_id),
    supersede=lambda effective_from, changes, supersedes, device_id: service.supersede(
        db.session, current_principal(), device_id, effective_from, changes, supersedes
    ),
    supersede_schema=DeviceSupersedeSchema,
    supersede_summary="Add a version (name, model, class, label PIs, storage, codes, regimes)"
    " from\n``effective_from``; the DI and registrant never change.",
    convert=device_changes,
)


@blp.route("/<uuid:device_id>/certificates")
class Certificates(MethodView):
    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(CertificateVersionInSchema)
    @blp.response(201, DeviceSchema)
    def post(self, body: dict[str, Any], device_id: uuid.UUID) -> Any:
        """Add a certificate version (renewal, change) superseding the latest one."""
        effective_from = body.pop("effective_from")
        device = service.add_certificate(
            db.session,
            current_principal(),
            device_id,
            service.NewCertificate(**body),
            effective_from,
        )
        found = service.get_versioned(db.session, uuid.UUID(device.id))
        return created(versioned_json(found), url_for(".DeviceResource", device_id=device.id))
