"""The warehouse package's HTTP resources."""

from __future__ import annotations

from flask_smorest import Api

from warehouse.api import tokens


def register_blueprints(api: Api) -> None:
    """Register every warehouse blueprint on ``api``."""
    api.register_blueprint(tokens.blp)
