"""The scanning package's HTTP resources."""

from __future__ import annotations

from flask_smorest import Api

from scanning.api import counts, images, scanners, scans, udi


def register_blueprints(api: Api) -> None:
    """Register every scanning blueprint on ``api``."""
    api.register_blueprint(udi.blp)
    api.register_blueprint(images.blp)
    api.register_blueprint(scanners.blp)
    api.register_blueprint(scans.blp)
    api.register_blueprint(counts.blp)
