"""``/api/v1/ownership-links``: time-bounded holdings between organisations, versioned."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
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
from warehouse.domain.ownership import Chain, OwnershipLink
from warehouse.domain.roles import Role
from warehouse.repository.ownership import StoredLink
from warehouse.services import ownership as service
from warehouse.web.auth import current_principal, require_roles

blp = Blueprint(
    "ownership",
    __name__,
    url_prefix="/api/v1/ownership-links",
    description="Who holds whom, from when to when; seen by parent, child, regulators, admins.",
)


def _share_percent(value: Decimal) -> None:
    # A custom validator rather than Range: apispec would print Range's Decimal bounds as
    # strings, which OpenAPI rejects.
    if not Decimal(0) < value <= Decimal(100):
        raise ma.ValidationError(f"Expected a share in (0, 100], got {value}.")


_SHARE: dict[str, Any] = {
    "validate": _share_percent,
    "metadata": {"description": "Percent of the child's equity, 0 < share <= 100"},
}


class LinkInSchema(ma.Schema):
    parent_id = ma.fields.UUID(required=True)
    child_id = ma.fields.UUID(required=True)
    share = ma.fields.Decimal(required=True, **_SHARE)
    declared_control = ma.fields.Boolean(load_default=False)
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(
        allow_none=True, load_default=None, metadata={"description": "Last day, inclusive"}
    )


class LinkChangeSchema(ma.Schema):
    share = ma.fields.Decimal(**_SHARE)
    declared_control = ma.fields.Boolean()
    valid_from = ma.fields.Date()
    valid_to = ma.fields.Date(
        allow_none=True, metadata={"description": "Set to end the holding (last day)"}
    )


class LinkSchema(ma.Schema):
    link_id = ma.fields.String(required=True)
    version_id = ma.fields.String(required=True)
    supersedes = ma.fields.String(allow_none=True, required=True)
    parent_id = ma.fields.String(required=True)
    child_id = ma.fields.String(required=True)
    share = ma.fields.String(required=True, metadata={"example": "60"})
    declared_control = ma.fields.Boolean(required=True)
    control = ma.fields.String(required=True, metadata={"example": "wholly_owned"})
    control_label_zh = ma.fields.String(required=True, metadata={"example": "全资"})
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(allow_none=True, required=True)


class ChainLinkSchema(ma.Schema):
    parent_id = ma.fields.String(required=True)
    parent_name = ma.fields.String(allow_none=True)
    child_id = ma.fields.String(required=True)
    child_name = ma.fields.String(allow_none=True)
    share = ma.fields.String(required=True)
    declared_control = ma.fields.Boolean(required=True)
    valid_from = ma.fields.Date(required=True)
    valid_to = ma.fields.Date(allow_none=True, required=True)


class LinkHistorySchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LinkSchema), required=True)


class LinkArgsSchema(PageArgsSchema):
    parent_id = ma.fields.UUID()
    child_id = ma.fields.UUID()


def share_text(link: OwnershipLink) -> str:
    """A share as a plain decimal string: ``"100"``, ``"60"``, ``"33.33"``."""
    return f"{link.share.normalize():f}"


def link_json(stored: StoredLink) -> dict[str, Any]:
    """A link version as the API shows it."""
    link = stored.link
    return {
        "link_id": stored.link_id,
        "version_id": stored.id,
        "supersedes": stored.supersedes,
        "parent_id": link.parent_id,
        "child_id": link.child_id,
        "share": share_text(link),
        "declared_control": link.declared_control,
        "control": link.control.value,
        "control_label_zh": link.control.label_zh,
        "valid_from": link.valid_from,
        "valid_to": link.valid_to,
    }


def chain_json(chain: Chain, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """A proving chain, ancestor first, with organisation names."""
    return [
        {
            "parent_id": link.parent_id,
            "parent_name": names.get(link.parent_id),
            "child_id": link.child_id,
            "child_name": names.get(link.child_id),
            "share": share_text(link),
            "declared_control": link.declared_control,
            "valid_from": link.valid_from,
            "valid_to": link.valid_to,
        }
        for link in chain
    ]


def _location(stored: StoredLink) -> str:
    return url_for("ownership.LinkResource", link_id=stored.link_id)


@blp.route("")
class Links(MethodView):
    @query_args(blp, LinkArgsSchema)
    @blp.response(200, list_schema(LinkSchema, "OwnershipLinkPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the links the caller may see, each as its latest version."""
        page = service.list_page(
            db.session,
            current_principal(),
            page_request(args),
            parent_id=args.get("parent_id"),
            child_id=args.get("child_id"),
        )
        return page_json(page, link_json)

    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(LinkInSchema)
    @blp.response(201, LinkSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Record a holding; a cycle or a share total above 100% is a 409."""
        stored = service.create(db.session, current_principal(), service.NewLink(**body))
        return created(link_json(stored), _location(stored))


@blp.route("/<uuid:link_id>")
class LinkResource(MethodView):
    @blp.response(200, LinkSchema)
    def get(self, link_id: uuid.UUID) -> dict[str, Any]:
        """Read a link's latest version."""
        return link_json(service.history(db.session, current_principal(), link_id)[-1])


@blp.route("/<uuid:link_id>/history")
class LinkHistory(MethodView):
    @blp.response(200, LinkHistorySchema)
    def get(self, link_id: uuid.UUID) -> dict[str, Any]:
        """Every version of a link, oldest first."""
        versions = service.history(db.session, current_principal(), link_id)
        return {"items": [link_json(v) for v in versions]}


@blp.route("/<uuid:link_id>/supersede")
class LinkSupersede(MethodView):
    @require_roles(Role.ADMIN, Role.ORG_MANAGER)
    @blp.arguments(LinkChangeSchema)
    @blp.response(201, LinkSchema)
    def post(self, body: dict[str, Any], link_id: uuid.UUID) -> Any:
        """Add a version: end the holding (valid_to) or correct it; history is kept."""
        stored = service.supersede(db.session, current_principal(), link_id, body)
        return created(link_json(stored), _location(stored))
