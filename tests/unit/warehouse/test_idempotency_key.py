"""Idempotency-Key parsing (RFC 8941 sf-string or bare) and the request fingerprint."""

from __future__ import annotations

import hashlib

import pytest

from warehouse.web.idempotency import InvalidKey, fingerprint, parse_key


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ('"8e03978e-40d5-43e8-bc93-6894a57f9324"', "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ("8e03978e-40d5-43e8-bc93-6894a57f9324", "8e03978e-40d5-43e8-bc93-6894a57f9324"),
        ('  "abc"\t', "abc"),
        ('"a\\"b"', 'a"b'),
        ('"a\\\\b"', "a\\b"),
        ("x" * 255, "x" * 255),
        ('"' + "y" * 255 + '"', "y" * 255),
        ("!~", "!~"),
    ],
)
def test_a_key_is_read_quoted_or_bare(header: str, key: str) -> None:
    assert parse_key(header) == key


@pytest.mark.parametrize(
    "header",
    [
        "",
        "   ",
        '""',
        "x" * 256,
        '"' + "x" * 256 + '"',
        '"with space"',
        "with space",
        "tab\tinside",
        "ключ",
        '"ключ"',
        '"open',
        '"a"b',
        '"bad \\x escape"',
        '"a";param=1',
    ],
)
def test_an_unusable_key_is_refused(header: str) -> None:
    with pytest.raises(InvalidKey):
        parse_key(header)


def test_the_fingerprint_is_sha256_over_length_prefixed_parts() -> None:
    parts = (b"POST", b"/api/v1/events", b"a=1", b'{"x": 1}')
    expected = hashlib.sha256(b"".join(len(p).to_bytes(8, "big") + p for p in parts))
    assert fingerprint("post", "/api/v1/events", b"a=1", b'{"x": 1}') == expected.hexdigest()


def test_every_part_changes_the_fingerprint() -> None:
    base = fingerprint("POST", "/api/v1/events", b"", b"{}")
    assert (
        len(
            {
                base,
                fingerprint("PUT", "/api/v1/events", b"", b"{}"),
                fingerprint("POST", "/api/v1/event", b"", b"{}"),
                fingerprint("POST", "/api/v1/events", b"a=1", b"{}"),
                fingerprint("POST", "/api/v1/events", b"", b"{ }"),
            }
        )
        == 5
    )


def test_the_parts_cannot_run_into_each_other() -> None:
    assert fingerprint("POST", "/a", b"b", b"") != fingerprint("POST", "/a", b"", b"b")
