"""The Idempotency-Key header's form, one key per request, and what a digest compares."""

from __future__ import annotations

import pytest

from server.domain.errors import ValidationFailed
from server.domain.idempotency import RequestKey, parse_header_key, request_digest, resolve_key


def test_a_structured_field_string_key_is_read_without_its_quotes() -> None:
    assert parse_header_key('"8e03978e-40d5-43e8-bc93-6894a57f9324"') == (
        "8e03978e-40d5-43e8-bc93-6894a57f9324"
    )
    assert parse_header_key(" plain:key-1 ") == "plain:key-1"


@pytest.mark.parametrize("raw", ["", '""', "a b", "é", "k" * 65, "semi;colon"])
def test_an_empty_spaced_accented_or_overlong_key_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_header_key(raw)
    assert refused.value.code == "invalid_idempotency_key"


def test_a_header_and_a_different_body_key_are_refused_and_equal_ones_are_one_key() -> None:
    assert resolve_key("k-1", "k-1") == "k-1"
    assert resolve_key(None, "body") == "body"
    assert resolve_key(None, None) is None
    with pytest.raises(ValidationFailed) as refused:
        resolve_key("k-1", "k-2")
    assert refused.value.code == "idempotency_key_mismatch"


def test_a_digest_ignores_key_order_but_not_values() -> None:
    assert request_digest({"a": 1, "b": "x"}) == request_digest({"b": "x", "a": 1})
    assert request_digest({"a": 1}) != request_digest({"a": 2})


def test_a_keys_reference_is_the_callers_own() -> None:
    mine = RequestKey(subject="user:1", route="POST /r", key="k", digest="d")
    theirs = RequestKey(subject="user:2", route="POST /r", key="k", digest="d")
    assert mine.reference != theirs.reference and len(mine.reference) == 64
