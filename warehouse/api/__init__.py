"""The warehouse package's HTTP resources."""

from __future__ import annotations

from flask_smorest import Api

from warehouse.api import (
    agreements,
    audit,
    devices,
    epcis,
    errors,
    events,
    licences,
    organisations,
    ownership,
    recalls,
    records,
    rules,
    tokens,
    trace,
    warehouses,
)

# Blueprints are module-level objects registered on every app the factory builds, so their
# app-wide error handlers must be attached once, at import, before the first registration.
errors.install(organisations.blp)


def register_blueprints(api: Api) -> None:
    """Register every warehouse blueprint on ``api``."""
    for module in (
        tokens,
        organisations,
        licences,
        ownership,
        warehouses,
        agreements,
        devices,
        rules,
        events,
        epcis,
        audit,
        records,
        trace,
        recalls,
    ):
        api.register_blueprint(module.blp)
