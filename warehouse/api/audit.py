"""``/api/v1/audit``: verify the hash chain of event batches, prove an event's inclusion.

A broken chain is an answer, not an error: ``GET /audit/verify`` is 200 with ``ok: false``
and the first break (its code, batch and event), so a monitor can store it as it is.
"""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.api.common import query_args
from warehouse.db import db
from warehouse.domain.audit import Break, SealedBatch, plain
from warehouse.domain.roles import Role
from warehouse.services import audit as service
from warehouse.web.auth import current_principal, require_roles
from warehouse.web.problems import PROBLEM_TYPES

PROBLEM_TYPES.update(
    {
        "audit.event_changed": "A stored event or item no longer hashes to its sealed leaf.",
        "audit.event_missing": "A sealed event's row is gone.",
        "audit.event_added": "An event row carries a sealed batch's id but was not sealed in it.",
        "audit.entries_changed": "A batch's stored leaves do not give its Merkle root.",
        "audit.batch_changed": "A batch's stored fields do not give its batch hash.",
        "audit.chain_broken": "A batch does not follow the previous batch's hash.",
        "audit.head_mismatch": "The chain head does not name the last stored batch.",
        "audit.unsealed_event": "An event belongs to no sealed batch.",
    }
)

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/api/v1/audit",
    description="Tamper evidence: a Merkle root per batch of events, batches hash-chained.",
)


class AuditVerifyArgsSchema(ma.Schema):
    from_sequence = ma.fields.Integer(
        load_default=1,
        validate=ma.validate.Range(min=1, max=service.MAX_SEQUENCE),
        metadata={"description": "first batch to check; default 1"},
    )
    max_batches = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=service.MAX_VERIFY_BATCHES),
        metadata={
            "description": (
                f"batches per request: 1 to {service.MAX_VERIFY_BATCHES:,} (default "
                f"{service.DEFAULT_VERIFY_BATCHES:,}); for a regulator 1 to "
                f"{service.REGULATOR_MAX_VERIFY_BATCHES:,} (default the same)"
            )
        },
    )


class AuditHeadSchema(ma.Schema):
    sequence = ma.fields.Integer(required=True)
    batch_hash = ma.fields.String(required=True)


class AuditBreakSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "audit.event_changed"})
    detail = ma.fields.String(required=True)
    sequence = ma.fields.Integer(allow_none=True, required=True)
    batch_id = ma.fields.String(allow_none=True, required=True)
    event_id = ma.fields.String(allow_none=True, required=True, metadata={"description": "id"})


class AuditVerificationSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    from_sequence = ma.fields.Integer(required=True)
    checked_batches = ma.fields.Integer(required=True)
    checked_events = ma.fields.Integer(required=True)
    next_sequence = ma.fields.Integer(
        allow_none=True, required=True, metadata={"description": "continue here; null at head"}
    )
    head = ma.fields.Nested(AuditHeadSchema, required=True)
    broken = ma.fields.Nested(AuditBreakSchema, allow_none=True, required=True)


class AuditProofArgsSchema(ma.Schema):
    event_id = ma.fields.UUID(
        required=True, metadata={"description": "the event's server id or client event_id"}
    )


class AuditBatchSchema(ma.Schema):
    sequence = ma.fields.Integer(required=True)
    batch_id = ma.fields.String(required=True)
    event_count = ma.fields.Integer(required=True)
    merkle_root = ma.fields.String(required=True)
    prev_hash = ma.fields.String(required=True)
    batch_hash = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True, metadata={"description": "as hashed"})


class AuditProofSchema(ma.Schema):
    id = ma.fields.String(required=True, metadata={"description": "server id of the event"})
    event_id = ma.fields.String(required=True, metadata={"description": "client event_id"})
    canonical = ma.fields.String(required=True, metadata={"description": "hashed into the leaf"})
    leaf_hash = ma.fields.String(required=True)
    leaf_index = ma.fields.Integer(required=True)
    tree_size = ma.fields.Integer(required=True)
    path = ma.fields.List(ma.fields.String(), required=True)
    batch = ma.fields.Nested(AuditBatchSchema, required=True)
    head = ma.fields.Nested(AuditHeadSchema, required=True)
    consistent = ma.fields.Boolean(required=True)


class AuditBacklogSchema(ma.Schema):
    sealed_batches = ma.fields.Integer(required=True)


def break_json(found: Break | None) -> dict[str, Any] | None:
    """The first break as the API shows it."""
    if found is None:
        return None
    return {
        "code": found.code,
        "detail": found.detail,
        "sequence": found.sequence,
        "batch_id": _text(found.batch_id),
        "event_id": _text(found.event_id),
    }


def batch_json(batch: SealedBatch) -> dict[str, Any]:
    """A sealed batch's chain link."""
    link = batch.link
    return {
        "sequence": link.sequence,
        "batch_id": str(link.batch_id),
        "event_count": link.event_count,
        "merkle_root": link.merkle_root,
        "prev_hash": link.prev_hash,
        "batch_hash": batch.batch_hash,
        "created_at": plain(link.created_at),
    }


def proof_json(found: service.Proof) -> dict[str, Any]:
    """An inclusion proof as the API shows it (docs/audit-and-records.md, "Checking a proof")."""
    return {
        "id": str(found.event_id),
        "event_id": str(found.client_event_id),
        "canonical": found.canonical,
        "leaf_hash": found.leaf,
        "leaf_index": found.index,
        "tree_size": found.batch.link.event_count,
        "path": list(found.path),
        "batch": batch_json(found.batch),
        "head": _head(found.head),
        "consistent": found.consistent,
    }


def _head(head: tuple[int, str]) -> dict[str, Any]:
    return {"sequence": head[0], "batch_hash": head[1]}


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


@blp.route("/verify")
class Verify(MethodView):
    @require_roles(*service.VERIFY_ROLES)
    @query_args(blp, AuditVerifyArgsSchema)
    @blp.response(200, AuditVerificationSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Recompute every event's leaf from its stored rows, each Merkle root and the chain."""
        most = service.most_batches(current_principal())
        limit = args.get("max_batches", min(service.DEFAULT_VERIFY_BATCHES, most))
        result = service.verify(db.session, args["from_sequence"], limit, most=most)
        return {
            "ok": result.ok,
            "from_sequence": result.first_sequence,
            "checked_batches": result.batches,
            "checked_events": result.events,
            "next_sequence": result.next_sequence,
            "head": _head(result.head),
            "broken": break_json(result.broken),
        }


@blp.route("/proof")
class InclusionProof(MethodView):
    @query_args(blp, AuditProofArgsSchema)
    @blp.response(200, AuditProofSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The Merkle path from an event you may see to its batch root, and the chain link."""
        return proof_json(service.proof(db.session, current_principal(), args["event_id"]))


@blp.route("/head")
class Head(MethodView):
    @blp.response(200, AuditHeadSchema)
    def get(self) -> dict[str, Any]:
        """The chain head: publish or store it elsewhere to anchor the chain."""
        return _head(service.head(db.session))


@blp.route("/seal-backlog")
class SealBacklog(MethodView):
    @require_roles(Role.ADMIN)
    @blp.response(200, AuditBacklogSchema)
    def post(self) -> dict[str, Any]:
        """Seal batches recorded before the chain existed (up to 1,000 per call)."""
        return {"sealed_batches": service.seal_backlog(db.session)}
