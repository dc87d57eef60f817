"""``/api/v1/tokens``: who the caller is."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint

from warehouse.web.auth import current_principal

blp = Blueprint(
    "tokens", __name__, url_prefix="/api/v1/tokens", description="The caller's API token."
)


class CurrentTokenSchema(ma.Schema):
    """The authenticated token, without its secret."""

    token_id = ma.fields.UUID(required=True)
    organisation_id = ma.fields.UUID(required=True)
    roles = ma.fields.List(ma.fields.String(), required=True)
    jurisdiction = ma.fields.String(allow_none=True)
    expires_at = ma.fields.AwareDateTime(allow_none=True)


@blp.route("/current")
class CurrentToken(MethodView):
    @blp.response(200, CurrentTokenSchema)
    def get(self) -> dict[str, Any]:
        """Describe the token this request was made with."""
        principal = current_principal()
        return {
            "token_id": principal.token_id,
            "organisation_id": principal.organisation_id,
            "roles": sorted(role.value for role in principal.roles),
            "jurisdiction": principal.jurisdiction,
            "expires_at": principal.expires_at,
        }
