"""The scanning package's HTTP resources."""

from __future__ import annotations

from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    """Register every scanning blueprint on ``api``."""
