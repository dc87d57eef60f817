"""The flask-smorest ``Api`` with our error format, and the schema that documents it."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Api as SmorestApi
from werkzeug.exceptions import HTTPException

from warehouse.web.problems import PROBLEM_MEDIA_TYPE, from_http_exception, problem_response


class ProblemDetailSchema(ma.Schema):
    """One cause of an error."""

    code = ma.fields.String(required=True, metadata={"example": "gs1.check_digit"})
    message = ma.fields.String(required=True)
    field = ma.fields.String(metadata={"description": "Request field at fault"})
    position = ma.fields.Integer(metadata={"description": "0-based offset in the scan"})
    length = ma.fields.Integer()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every error response of this API."""

    type = ma.fields.String(required=True, metadata={"example": "/problems/auth.missing_token"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    instance = ma.fields.String()
    code = ma.fields.String(required=True)
    request_id = ma.fields.String(allow_none=True)
    errors = ma.fields.List(ma.fields.Nested(ProblemDetailSchema))


class Api(SmorestApi):
    """flask-smorest's Api answering every HTTP error as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        return problem_response(from_http_exception(error))

    def _register_responses(self) -> None:
        # Document error responses with the media type they are actually sent with.
        original = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_MEDIA_TYPE
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = original
