"""Map service and domain errors to problem documents, in one place."""

from __future__ import annotations

from flask import Blueprint, Response
from sqlalchemy.exc import IntegrityError

from warehouse.errors import InvalidRecordError, WarehouseError
from warehouse.services.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from warehouse.services.movements import EventRefused
from warehouse.web.problems import PROBLEM_TYPES, Problem, ProblemDetail, problem_response

PROBLEM_TYPES.update(
    {
        "auth.not_own_organisation": "An org_manager token writes only its own organisation's"
        " records (licences it holds, warehouses it operates, agreements it signed, links where"
        " it is the parent, devices it registers).",
        "organisation.duplicate_credit_code": "An organisation with this unified social credit"
        " code is already registered; read it instead of creating it again.",
        "ownership.cycle": "The link would make a company its own owner on some date; the"
        " problem's cycle lists the organisations around it.",
        "ownership.conflict": "The link overlaps another link of the same pair, or the child's"
        " shares would exceed 100% on some date; end the other link first.",
        "location.duplicate_code": "The warehouse already has a location with this"
        " zone-aisle-bin code.",
        "warehouse.duplicate_name": "The operator already has a warehouse with this name.",
        "device.duplicate_di": "The DI or a package DI is already in the catalogue.",
        "version.not_latest": "The supersede names a version that a later one has already"
        " replaced; read the latest version (latest_version_id) and base the change on it.",
        "custody.unknown_fact": "The custody check names an organisation, warehouse or DI that"
        " is not in the master data.",
    }
)


def install(blp: Blueprint) -> None:
    """Register the handlers app-wide through ``blp`` (they apply to every view)."""
    blp.app_errorhandler(WarehouseError)(handle_warehouse_error)
    blp.app_errorhandler(IntegrityError)(handle_integrity_error)


def handle_warehouse_error(error: WarehouseError) -> Response:
    """Answer a service or domain error with its problem document."""
    return problem_response(to_problem(error))


def handle_integrity_error(_error: IntegrityError) -> Response:
    """A constraint caught what a concurrent request slipped past the service's checks."""
    return problem_response(
        Problem(
            409,
            "request.conflict",
            "Expected the write to fit the stored records, got a conflict with one written"
            " at the same time; read it and retry.",
        )
    )


def to_problem(error: WarehouseError) -> Problem:
    """The problem for ``error``."""
    if isinstance(error, ValidationFailed):
        return _validation(error.errors, str(error))
    if isinstance(error, InvalidRecordError):
        field = FieldError(error.field, error.code, error.detail)
        return _validation((field,), str(error))
    if isinstance(error, NotFound):
        return Problem(404, error.code, str(error))
    if isinstance(error, PermissionDenied):
        return Problem(403, error.code, str(error))
    if isinstance(error, EventRefused):
        details = [ProblemDetail(e.code, e.message, field=e.field) for e in error.errors]
        return Problem(error.status, error.code, error.detail, errors=details)
    if isinstance(error, Conflict):
        return Problem(409, error.code, error.detail, extra=error.extra)
    return Problem(422, error.code, str(error))


def _validation(errors: tuple[FieldError, ...], detail: str) -> Problem:
    return Problem(
        422,
        "request.validation",
        detail,
        errors=[ProblemDetail(e.code, e.message, field=e.field) for e in errors],
    )
