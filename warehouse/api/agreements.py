"""``/api/v1/entrustment-agreements``: quality agreements for storage and transport."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.api.common import (
    PageArgsSchema,
    SupersedeFieldsSchema,
    VersionFieldsSchema,
    created,
    list_schema,
    page_json,
    page_request,
    query_args,
    register_version_endpoints,
    version_json,
)
from warehouse.db import db
from warehouse.domain.entrustment import EntrustmentAgreement, LogisticsService
from warehouse.domain.licences import DeviceClass
from warehouse.domain.roles import Role
from warehouse.services import agreements as service
from warehouse.services import versions as versioning
from warehouse.services.versions import Versioned
from warehouse.web.auth import current_principal, require_roles

blp = Blueprint(
    "agreements",
    __name__,
    url_prefix="/api/v1/entrustment-agreements",
    description="委托运输贮存质量协议; seen by the two parties, their regulators and admins.",
)

CLASSES = [c.value for c in DeviceClass]
SERVICES = [s.value for s in LogisticsService]


class AgreementInSchema(ma.Schema):
    client_id = ma.fields.UUID(required=True, metadata={"description": "委托方, the owner"})
    provider_id = ma.fields.UUID(required=True, metadata={"description": "受托方, the 3PL"})
    number = ma.fields.String(allow_none=True, load_default=None)
    classes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CLASSES)), load_default=list
    )
    services = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(SERVICES)), load_default=list
    )
    warehouse_ids = ma.fields.List(ma.fields.UUID(), load_default=list)
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(allow_none=True, load_default=None)
    effective_from = ma.fields.Date(
        allow_none=True,
        load_default=None,
        metadata={"description": "First day of the first version; default valid_from"},
    )


class AgreementSupersedeSchema(SupersedeFieldsSchema):
    number = ma.fields.String(allow_none=True)
    classes = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(CLASSES)))
    services = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(SERVICES)))
    warehouse_ids = ma.fields.List(ma.fields.UUID())
    valid_from = ma.fields.Date()
    valid_to = ma.fields.Date(
        allow_none=True, metadata={"description": "An earlier date ends the agreement early"}
    )


class AgreementSchema(VersionFieldsSchema):
    id = ma.fields.String(required=True)
    number = ma.fields.String(allow_none=True, required=True)
    client_id = ma.fields.String(required=True)
    provider_id = ma.fields.String(required=True)
    classes = ma.fields.List(ma.fields.String(), required=True)
    class_labels_zh = ma.fields.List(ma.fields.String(), required=True)
    services = ma.fields.List(ma.fields.String(), required=True)
    service_labels_zh = ma.fields.List(ma.fields.String(), required=True)
    warehouse_ids = ma.fields.List(ma.fields.String(), required=True)
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(allow_none=True, required=True)


class AgreementArgsSchema(PageArgsSchema):
    client_id = ma.fields.UUID()
    provider_id = ma.fields.UUID()


def agreement_json(agreement: EntrustmentAgreement, version: Any = None) -> dict[str, Any]:
    """An agreement as the API shows it, with the version shown."""
    classes = sorted(agreement.classes)
    services = sorted(agreement.services)
    return {
        **version_json(version),
        "id": agreement.id,
        "number": agreement.number,
        "client_id": agreement.client_id,
        "provider_id": agreement.provider_id,
        "classes": [c.value for c in classes],
        "class_labels_zh": [c.label_zh for c in classes],
        "services": [s.value for s in services],
        "service_labels_zh": [s.label_zh for s in services],
        "warehouse_ids": sorted(agreement.warehouse_ids),
        "valid_from": agreement.valid_from,
        "valid_to": agreement.valid_to,
    }


def versioned_json(found: Versioned[EntrustmentAgreement]) -> dict[str, Any]:
    """One version of an agreement."""
    return agreement_json(found.value, found.version)


@blp.route("")
class Agreements(MethodView):
    @query_args(blp, AgreementArgsSchema)
    @blp.response(200, list_schema(AgreementSchema, "AgreementPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the agreements the caller may see."""
        page = service.list_page(
            db.session,
            current_principal(),
            page_request(args),
            client_id=args.get("client_id"),
            provider_id=args.get("provider_id"),
        )
        latest = versioning.latest_of(db.session, service.ENTITY, [a.id for a in page.items])
        return page_json(page, lambda a: agreement_json(a, latest.get(a.id)))

    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(AgreementInSchema)
    @blp.response(201, AgreementSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Record an agreement your organisation signed (admins: any)."""
        new = service.NewAgreement(
            **{
                **body,
                "classes": tuple(DeviceClass(c) for c in body["classes"]),
                "services": tuple(LogisticsService(s) for s in body["services"]),
                "warehouse_ids": tuple(body["warehouse_ids"]),
            }
        )
        principal = current_principal()
        agreement = service.create(db.session, principal, new)
        found = service.get_versioned(db.session, principal, uuid.UUID(agreement.id))
        url = url_for(".AgreementResource", agreement_id=agreement.id)
        return created(versioned_json(found), url)


def agreement_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """A supersede body's changes with domain values."""
    if "classes" in changes:
        changes["classes"] = [DeviceClass(c) for c in changes["classes"]]
    if "services" in changes:
        changes["services"] = [LogisticsService(s) for s in changes["services"]]
    return changes


register_version_endpoints(
    blp,
    "/<uuid:agreement_id>",
    name="Agreement",
    label="an agreement",
    schema=AgreementSchema,
    present=versioned_json,
    latest=lambda agreement_id: service.get_versioned(
        db.session, current_principal(), agreement_id
    ),
    as_of=lambda on, agreement_id: service.as_of(db.session, current_principal(), agreement_id, on),
    history=lambda agreement_id: service.history(db.session, current_principal(), agreement_id),
    version=lambda version_id, agreement_id: service.version(
        db.session, current_principal(), agreement_id, version_id
    ),
    supersede=lambda effective_from, changes, supersedes, agreement_id: service.supersede(
        db.session, current_principal(), agreement_id, effective_from, changes, supersedes
    ),
    supersede_schema=AgreementSupersedeSchema,
    supersede_summary="Add a version from ``effective_from``: renewal, scope change, or early\n"
    "termination (an earlier ``valid_to``); admins or either party's org_manager.",
    convert=agreement_changes,
)
