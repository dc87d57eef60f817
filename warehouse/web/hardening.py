"""Input hardening before any view runs: NUL in the query (400), size (413), JSON depth (400).

Python's JSON decoder recurses once per nested array or object, so ``[[[[…]]]]`` a few
thousand levels deep raises ``RecursionError`` inside webargs or ``request.get_json`` and
would surface as a 500. No request of this API nests deeper than a handful of levels
(``{"events": [{"items": [{…}]}]}`` is 4), so bodies nested deeper than ``MAX_JSON_DEPTH``
(default 32) are refused as ``request.json_too_deep`` before anything decodes them.

The body size limit is Flask's ``MAX_CONTENT_LENGTH`` (16 MiB by default), answered 413
``request.too_large``; image uploads have their own byte and pixel limits
(``SCAN_IMAGE_MAX_BYTES``, ``SCAN_IMAGE_MAX_PIXELS``, scanning/api/images.py).
"""

from __future__ import annotations

import re

from flask import Flask, current_app, request

from warehouse.web.problems import PROBLEM_TYPES, Problem

DEFAULT_MAX_JSON_DEPTH = 32

PROBLEM_TYPES["request.json_too_deep"] = "The JSON body nests arrays/objects too deeply."

# A JSON string, escapes included: its brackets are data, not structure.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Return whether ``body`` nests arrays/objects more than ``limit`` deep.

    Works on the raw bytes at C speed: strings are blanked, everything but brackets dropped,
    then each pass removes the innermost empty pairs, one level per pass. What is left after
    ``limit`` passes is nested deeper than ``limit`` (or unbalanced, which is not JSON).

    >>> json_depth_exceeds(b'{"a": [1, {"b": "[[[["}]}', 3)  # brackets in strings are data
    False
    >>> json_depth_exceeds(b'[[[]]]', 2)
    True
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # fewer openers than the limit cannot nest deeper than it
    skeleton = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        skeleton, removed = _INNERMOST.subn(b"", skeleton)
        if not skeleton or not removed:
            break
    return bool(skeleton)


def _check_json_depth() -> None:
    has_body = bool(request.content_length) or "Transfer-Encoding" in request.headers
    if not (request.is_json and has_body):
        return
    limit = int(current_app.config.get("MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH))
    # get_data enforces MAX_CONTENT_LENGTH (413) and caches the body for the view's parser.
    if json_depth_exceeds(request.get_data(cache=True), limit):
        raise Problem(
            400,
            "request.json_too_deep",
            f"Expected a JSON body nested at most {limit} levels deep, got a deeper one.",
        )


PROBLEM_TYPES["request.nul_character"] = "The path or query string carries a NUL character."


def _check_no_nul() -> None:
    """Refuse NUL in the path and query: no identifier or filter holds one, and PostgreSQL
    text cannot (a filter carrying one would fail in the database, as a 500)."""
    if "\x00" in request.path:
        raise Problem(
            400,
            "request.nul_character",
            "Expected a path without NUL characters, got one with %00.",
        )
    # The parsed arguments hold every NUL of the query, literal or percent-encoded.
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            raise Problem(
                400,
                "request.nul_character",
                f"Expected query parameter {key!r} without NUL characters, got one.",
            )


def register(app: Flask) -> None:
    """Check every JSON body's nesting and every query string before its view; register after
    authentication, so an anonymous caller never makes the service read a body."""
    app.config.setdefault("MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH)
    app.before_request(_check_no_nul)
    app.before_request(_check_json_depth)
