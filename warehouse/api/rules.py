"""``/api/v1/rules/custody-check``: may this organisation hold these goods here, and why."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.api.common import query_args
from warehouse.api.ownership import ChainLinkSchema, chain_json
from warehouse.db import db
from warehouse.domain.custody import RULE_TITLES, Reason, RuleAttempt
from warehouse.domain.entrustment import LogisticsService
from warehouse.domain.ownership import Chain
from warehouse.services import custody as service
from warehouse.services.custody import CustodyAnswer
from warehouse.web.auth import current_principal

blp = Blueprint(
    "rules",
    __name__,
    url_prefix="/api/v1/rules",
    description="The multi-warehouse custody rules (多仓协同), explained decision by decision.",
)


class CustodyArgsSchema(ma.Schema):
    actor = ma.fields.UUID(required=True, metadata={"description": "The acting organisation"})
    warehouse = ma.fields.UUID(required=True)
    di = ma.fields.String(required=True, metadata={"description": "UDI-DI or package DI"})
    owner = ma.fields.UUID(required=True, metadata={"description": "The goods' owner (货主)"})
    on = ma.fields.Date(metadata={"description": "YYYY-MM-DD; default today (China)"})
    service = ma.fields.String(
        load_default=LogisticsService.STORAGE.value,
        validate=ma.validate.OneOf([s.value for s in LogisticsService]),
    )


class ReasonSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "custody.not_wholly_owned"})
    message = ma.fields.String(required=True)


class AttemptSchema(ma.Schema):
    rule = ma.fields.String(required=True, metadata={"example": "R2"})
    title = ma.fields.String(required=True)
    allowed = ma.fields.Boolean(required=True)
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema), required=True)
    chain = ma.fields.List(ma.fields.Nested(ChainLinkSchema), allow_none=True, required=True)


class CustodyRequestSchema(ma.Schema):
    actor_id = ma.fields.String(required=True)
    actor_name = ma.fields.String(required=True)
    warehouse_id = ma.fields.String(required=True)
    warehouse_name = ma.fields.String(required=True)
    di = ma.fields.String(required=True)
    owner_id = ma.fields.String(required=True)
    owner_name = ma.fields.String(required=True)
    on = ma.fields.Date(required=True)
    service = ma.fields.String(required=True)
    service_label_zh = ma.fields.String(required=True)


class CustodyDecisionSchema(ma.Schema):
    request = ma.fields.Nested(CustodyRequestSchema, required=True)
    allowed = ma.fields.Boolean(required=True)
    rule = ma.fields.String(allow_none=True, required=True)
    rule_title = ma.fields.String(allow_none=True, required=True)
    general = ma.fields.List(
        ma.fields.Nested(ReasonSchema),
        required=True,
        metadata={"description": "Failed general conditions; any one refuses"},
    )
    attempts = ma.fields.List(ma.fields.Nested(AttemptSchema), required=True)
    chain = ma.fields.List(ma.fields.Nested(ChainLinkSchema), allow_none=True, required=True)


def decision_json(answer: CustodyAnswer) -> dict[str, Any]:
    """A custody decision with every rule tried and why."""
    request, decision, facts = answer.request, answer.decision, answer.facts
    names = {org_id: org.name for org_id, org in facts.organisations.items()}
    return {
        "request": {
            "actor_id": request.actor_id,
            "actor_name": facts.name(request.actor_id),
            "warehouse_id": request.warehouse_id,
            "warehouse_name": facts.warehouse_name(request.warehouse_id),
            "di": request.di,
            "owner_id": request.owner_id,
            "owner_name": facts.name(request.owner_id),
            "on": request.on,
            "service": request.service.value,
            "service_label_zh": request.service.label_zh,
        },
        "allowed": decision.allowed,
        "rule": decision.rule,
        "rule_title": RULE_TITLES[decision.rule] if decision.rule else None,
        "general": [_reason(r) for r in decision.general],
        "attempts": [_attempt(a, names) for a in decision.attempts],
        "chain": _chain(decision.chain, names),
    }


def _attempt(attempt: RuleAttempt, names: dict[str, str]) -> dict[str, Any]:
    return {
        "rule": attempt.rule,
        "title": RULE_TITLES[attempt.rule],
        "allowed": attempt.allowed,
        "reasons": [_reason(r) for r in attempt.reasons],
        "chain": _chain(attempt.chain, names),
    }


def _reason(reason: Reason) -> dict[str, str]:
    return {"code": reason.code, "message": reason.message}


def _chain(chain: Chain | None, names: dict[str, str]) -> list[dict[str, Any]] | None:
    return chain_json(chain, names) if chain else None


@blp.route("/custody-check")
class CustodyCheck(MethodView):
    @query_args(blp, CustodyArgsSchema)
    @blp.response(200, CustodyDecisionSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Decide R1-R4 for actor, warehouse, DI, owner, date and service; explain every step."""
        question = service.CustodyQuestion(
            actor_id=args["actor"],
            warehouse_id=args["warehouse"],
            di=args["di"],
            owner_id=args["owner"],
            on=args.get("on"),
            service=LogisticsService(args["service"]),
        )
        return decision_json(service.check(db.session, current_principal(), question))
