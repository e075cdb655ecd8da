from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from server import clock
from server.auth import Principal, decode_token, encode_token
from server.domain.errors import Unauthorized

SECRET = "s" * 48
STAFF = Principal(kind="staff", id=7, roles=frozenset({"finance"}))


def _access(ttl: int = 60, secret: str = SECRET) -> str:
    return encode_token(STAFF, secret=secret, token_type="access", ttl_seconds=ttl).token


def test_a_valid_token_gives_back_its_principal() -> None:
    principal, _ = decode_token(_access(), secret=SECRET, token_type="access")
    assert principal == STAFF


def test_an_expired_token_is_refused_as_expired() -> None:
    token = _access(ttl=60)
    clock.advance(timedelta(seconds=61))
    try:
        with pytest.raises(Unauthorized) as err:
            decode_token(token, secret=SECRET, token_type="access")
        assert err.value.code == "token_expired"
    finally:
        clock.reset()


def test_a_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(Unauthorized) as err:
        decode_token(_access(secret="o" * 48), secret=SECRET, token_type="access")
    assert err.value.code == "token_invalid"


def test_a_refresh_token_cannot_be_used_as_an_access_token() -> None:
    refresh = encode_token(STAFF, secret=SECRET, token_type="refresh", ttl_seconds=60).token
    with pytest.raises(Unauthorized) as err:
        decode_token(refresh, secret=SECRET, token_type="access")
    assert err.value.code == "token_wrong_type"


def test_an_unsigned_token_is_refused() -> None:
    forged = jwt.encode(
        {"sub": "staff:1", "roles": ["admin"], "typ": "access", "iss": "fenxiao"},
        key=None,
        algorithm="none",
    )
    with pytest.raises(Unauthorized):
        decode_token(forged, secret=SECRET, token_type="access")


def test_a_token_claiming_an_unknown_role_is_refused() -> None:
    claims = {
        "iss": "fenxiao",
        "sub": "staff:1",
        "roles": ["root"],
        "typ": "access",
        "iat": clock.now(),
        "exp": clock.now() + timedelta(minutes=1),
        "jti": "x",
    }
    with pytest.raises(Unauthorized):
        decode_token(
            jwt.encode(claims, SECRET, algorithm="HS256"), secret=SECRET, token_type="access"
        )
