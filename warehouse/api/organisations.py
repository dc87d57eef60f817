"""``/api/v1/organisations``: the public register of organisations, and control queries."""

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
from warehouse.api.ownership import ChainLinkSchema, chain_json
from warehouse.db import db
from warehouse.domain.organisations import Organisation, OrgRole
from warehouse.domain.roles import Role
from warehouse.services import organisations as service
from warehouse.services import ownership as ownership_service
from warehouse.services import versions as versioning
from warehouse.services.ownership import ControlAnswer, ControlQuery
from warehouse.services.versions import Versioned
from warehouse.web.auth import current_principal, require_roles

blp = Blueprint(
    "organisations",
    __name__,
    url_prefix="/api/v1/organisations",
    description="Organisations by unified social credit code; readable by every token.",
)

ROLE_VALUES = [role.value for role in OrgRole]


class OrganisationInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    credit_code = ma.fields.String(
        required=True,
        metadata={"description": "统一社会信用代码 (GB 32100)", "example": "91350200MA2Y1J0X4R"},
    )
    jurisdiction = ma.fields.String(
        required=True, metadata={"description": "GB/T 2260 division code", "example": "350203"}
    )
    roles = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(ROLE_VALUES)), load_default=list
    )
    effective_from = ma.fields.Date(
        allow_none=True,
        load_default=None,
        metadata={"description": "First day of the first version; default today (China)"},
    )


class OrganisationSupersedeSchema(SupersedeFieldsSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    jurisdiction = ma.fields.String(metadata={"example": "350206"})
    roles = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(ROLE_VALUES)))


class OrganisationSchema(VersionFieldsSchema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    credit_code = ma.fields.String(required=True)
    jurisdiction = ma.fields.String(required=True)
    province_zh = ma.fields.String(required=True, metadata={"example": "福建省"})
    roles = ma.fields.List(ma.fields.String(), required=True)
    role_labels_zh = ma.fields.List(ma.fields.String(), required=True)


class OrganisationArgsSchema(PageArgsSchema):
    jurisdiction_prefix = ma.fields.String(
        metadata={"description": "2, 4 or 6 digits: province, city or district"}
    )
    role = ma.fields.String(validate=ma.validate.OneOf(ROLE_VALUES))
    credit_code = ma.fields.String()


class ControlArgsSchema(ma.Schema):
    parent = ma.fields.UUID(required=True, metadata={"description": "The would-be holder"})
    on = ma.fields.Date(metadata={"description": "YYYY-MM-DD; default today (China)"})
    kind = ma.fields.String(
        load_default=ControlQuery.WHOLLY_OWNED.value,
        validate=ma.validate.OneOf([k.value for k in ControlQuery]),
    )


class ControlSchema(ma.Schema):
    organisation_id = ma.fields.String(required=True)
    parent_id = ma.fields.String(required=True)
    on = ma.fields.Date(required=True)
    kind = ma.fields.String(required=True)
    kind_label_zh = ma.fields.String(required=True)
    holds = ma.fields.Boolean(required=True)
    answer = ma.fields.String(required=True, metadata={"example": "yes"})
    chain = ma.fields.List(ma.fields.Nested(ChainLinkSchema), allow_none=True, required=True)


def organisation_json(org: Organisation, version: Any = None) -> dict[str, Any]:
    """An organisation as the API shows it, with the version shown."""
    roles = sorted(org.roles)
    return {
        **version_json(version),
        "id": org.id,
        "name": org.name,
        "credit_code": org.credit_code.value,
        "jurisdiction": org.jurisdiction.value,
        "province_zh": _province(org),
        "roles": [role.value for role in roles],
        "role_labels_zh": [role.label_zh for role in roles],
    }


def versioned_json(found: Versioned[Organisation]) -> dict[str, Any]:
    """One version of an organisation."""
    return organisation_json(found.value, found.version)


def _province(org: Organisation) -> str:
    try:
        return org.jurisdiction.province_name
    except KeyError:
        return ""


def control_json(answer: ControlAnswer) -> dict[str, Any]:
    """A control answer as the API shows it."""
    labels = {"wholly_owned": "全资", "controlled": "控制"}
    return {
        "organisation_id": answer.child.id,
        "parent_id": answer.parent.id,
        "on": answer.on,
        "kind": answer.kind.value,
        "kind_label_zh": labels[answer.kind.value],
        "holds": answer.holds,
        "answer": "yes" if answer.holds else "no",
        "chain": chain_json(answer.chain, answer.names) if answer.chain else None,
    }


@blp.route("")
class Organisations(MethodView):
    @query_args(blp, OrganisationArgsSchema)
    @blp.response(200, list_schema(OrganisationSchema, "OrganisationPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List organisations, filtered by jurisdiction prefix, role or credit code."""
        page = service.list_page(
            db.session,
            page_request(args),
            jurisdiction_prefix=args.get("jurisdiction_prefix"),
            role=OrgRole(args["role"]) if "role" in args else None,
            credit_code=args.get("credit_code"),
        )
        latest = versioning.latest_of(db.session, service.ENTITY, [o.id for o in page.items])
        return page_json(page, lambda org: organisation_json(org, latest.get(org.id)))

    @require_roles(Role.ADMIN)
    @blp.arguments(OrganisationInSchema)
    @blp.response(201, OrganisationSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Register an organisation (admin)."""
        new = service.NewOrganisation(
            name=body["name"],
            credit_code=body["credit_code"],
            jurisdiction=body["jurisdiction"],
            roles=tuple(OrgRole(role) for role in body["roles"]),
            effective_from=body["effective_from"],
        )
        org = service.create(db.session, current_principal(), new)
        found = service.get_versioned(db.session, uuid.UUID(org.id))
        return created(versioned_json(found), url_for(".OrganisationResource", org_id=org.id))


def organisation_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """A supersede body's changes with domain values."""
    if "roles" in changes:
        changes["roles"] = [OrgRole(role) for role in changes["roles"]]
    return changes


register_version_endpoints(
    blp,
    "/<uuid:org_id>",
    name="Organisation",
    label="an organisation",
    schema=OrganisationSchema,
    present=versioned_json,
    latest=lambda org_id: service.get_versioned(db.session, org_id),
    as_of=lambda on, org_id: service.as_of(db.session, org_id, on),
    history=lambda org_id: service.history(db.session, org_id),
    version=lambda version_id, org_id: service.version(db.session, org_id, version_id),
    supersede=lambda effective_from, changes, supersedes, org_id: service.supersede(
        db.session, current_principal(), org_id, effective_from, changes, supersedes
    ),
    supersede_schema=OrganisationSupersedeSchema,
    supersede_summary="Add a version (name, roles, jurisdiction) from ``effective_from``;"
    " admins or the\norganisation's own org_manager. The credit code never changes.",
    convert=organisation_changes,
)


@blp.route("/<uuid:org_id>/control")
class Control(MethodView):
    @query_args(blp, ControlArgsSchema)
    @blp.response(200, ControlSchema)
    def get(self, args: dict[str, Any], org_id: uuid.UUID) -> dict[str, Any]:
        """Is this organisation wholly owned or controlled by ``parent`` on a date, and how?"""
        answer = ownership_service.control(
            db.session,
            current_principal(),
            child_id=org_id,
            parent_id=args["parent"],
            on=args.get("on"),
            kind=ControlQuery(args["kind"]),
        )
        return control_json(answer)
