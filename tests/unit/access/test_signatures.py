"""The S2S signing format (what merchants implement), the replay window and the settings."""

from __future__ import annotations

import pytest

from server.config import ConfigError, Settings
from server.domain.access.signatures import (
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    canonical_message,
    check_replay_window,
    compute_signature,
    read_signed_headers,
    signature_matches,
    within_replay_window,
)
from server.domain.errors import Unauthorized

# Reproducible by a merchant with:
#   printf '1767225600\n0123456789abcdef\nPOST\n/admin/v1/s2s/ping\n{"a":1}' \
#     | openssl dgst -sha256 -hmac 'fxs_example-secret'
EXAMPLE_SIGNATURE = "b38ad657a2de5e3d7106d6e6003093c30091f5c162cf09a4c3b9769f5612aaff"
EXAMPLE_MESSAGE = dict(
    timestamp="1767225600",
    nonce="0123456789abcdef",
    method="post",
    path="/admin/v1/s2s/ping",
    body=b'{"a":1}',
)
WINDOW = 300
NOW = 1_767_225_600


def _headers(**overrides: str | None) -> dict[str, str | None]:
    headers: dict[str, str | None] = {
        HEADER_KEY: "fxk_0123456789abcdef01234567",
        HEADER_TIMESTAMP: "1767225600",
        HEADER_NONCE: "0123456789abcdef",
        HEADER_SIGNATURE: EXAMPLE_SIGNATURE,
    }
    headers.update(overrides)
    return headers


def test_the_canonical_message_is_timestamp_nonce_method_path_then_the_raw_body() -> None:
    assert canonical_message(**EXAMPLE_MESSAGE) == (
        b'1767225600\n0123456789abcdef\nPOST\n/admin/v1/s2s/ping\n{"a":1}'
    )


def test_an_empty_body_still_ends_the_message_with_a_newline_after_the_path() -> None:
    message = canonical_message(
        timestamp="1", nonce="n" * 16, method="GET", path="/x?a=1&b=2", body=b""
    )
    assert message == b"1\nnnnnnnnnnnnnnnnn\nGET\n/x?a=1&b=2\n"


def test_the_signature_is_hex_hmac_sha256_of_the_message_keyed_with_the_secret() -> None:
    message = canonical_message(**EXAMPLE_MESSAGE)
    assert compute_signature(secret="fxs_example-secret", message=message) == EXAMPLE_SIGNATURE


def test_the_body_bytes_are_signed_as_sent_including_non_ascii_text() -> None:
    plain = canonical_message(**{**EXAMPLE_MESSAGE, "body": '{"name":"小明"}'.encode()})
    escaped = canonical_message(**{**EXAMPLE_MESSAGE, "body": b'{"name":"\\u5c0f\\u660e"}'})
    assert compute_signature(secret="s", message=plain) != compute_signature(
        secret="s", message=escaped
    )


def test_a_signature_matches_in_either_case_and_nothing_else_does() -> None:
    assert signature_matches(expected=EXAMPLE_SIGNATURE, provided=EXAMPLE_SIGNATURE.upper())
    assert not signature_matches(expected=EXAMPLE_SIGNATURE, provided=EXAMPLE_SIGNATURE[:-1] + "0")
    assert not signature_matches(expected=EXAMPLE_SIGNATURE, provided=EXAMPLE_SIGNATURE[:-2])
    assert not signature_matches(expected=EXAMPLE_SIGNATURE, provided="é" * 64)
    assert not signature_matches(expected=EXAMPLE_SIGNATURE, provided="")


@pytest.mark.parametrize("offset", [-WINDOW, -1, 0, 1, WINDOW])
def test_a_timestamp_up_to_the_window_away_is_accepted(offset: int) -> None:
    assert within_replay_window(timestamp=NOW + offset, now=NOW, window_seconds=WINDOW)
    check_replay_window(timestamp=NOW + offset, now=NOW, window_seconds=WINDOW)


@pytest.mark.parametrize("offset", [-WINDOW - 1, WINDOW + 1, -NOW])
def test_a_timestamp_one_second_beyond_the_window_is_refused(offset: int) -> None:
    assert not within_replay_window(timestamp=NOW + offset, now=NOW, window_seconds=WINDOW)
    with pytest.raises(Unauthorized) as refused:
        check_replay_window(timestamp=NOW + offset, now=NOW, window_seconds=WINDOW)
    assert refused.value.code == "s2s_timestamp_out_of_window"
    assert refused.value.fields == {"server_time": NOW, "window_seconds": WINDOW}


def test_well_formed_headers_are_read_with_the_signature_lowercased() -> None:
    signed = read_signed_headers(_headers(**{HEADER_SIGNATURE: EXAMPLE_SIGNATURE.upper()}))
    assert signed.key_id == "fxk_0123456789abcdef01234567"
    assert signed.timestamp == NOW
    assert signed.timestamp_text == "1767225600"
    assert signed.signature == EXAMPLE_SIGNATURE


def test_every_missing_header_is_named_in_the_error() -> None:
    with pytest.raises(Unauthorized) as refused:
        read_signed_headers(_headers(**{HEADER_NONCE: None, HEADER_SIGNATURE: "  "}))
    assert refused.value.code == "s2s_auth_required"
    assert refused.value.fields == {HEADER_NONCE: "required", HEADER_SIGNATURE: "required"}


@pytest.mark.parametrize("timestamp", ["-1", "1.5", "1e9", "now", "1767225600000000"])
def test_a_timestamp_that_is_not_whole_unix_seconds_is_refused(timestamp: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        read_signed_headers(_headers(**{HEADER_TIMESTAMP: timestamp}))
    assert refused.value.code == "s2s_header_invalid"
    assert set(refused.value.fields) == {HEADER_TIMESTAMP}


@pytest.mark.parametrize("nonce", ["a" * 16, "Z" * 64, "uuid-4f1c.8e_~9a0b-12"])
def test_a_nonce_of_16_to_64_unreserved_characters_is_accepted(nonce: str) -> None:
    assert read_signed_headers(_headers(**{HEADER_NONCE: nonce})).nonce == nonce


@pytest.mark.parametrize("nonce", ["a" * 15, "a" * 65, "0123456789 abcdef", "0123456789abcdé"])
def test_a_nonce_too_short_too_long_or_with_other_characters_is_refused(nonce: str) -> None:
    with pytest.raises(Unauthorized) as refused:
        read_signed_headers(_headers(**{HEADER_NONCE: nonce}))
    assert refused.value.code == "s2s_header_invalid"
    assert set(refused.value.fields) == {HEADER_NONCE}


def test_a_key_id_no_key_could_have_is_an_invalid_key() -> None:
    with pytest.raises(Unauthorized) as refused:
        read_signed_headers(_headers(**{HEADER_KEY: "fxk_' OR 1=1"}))
    assert refused.value.code == "s2s_key_invalid"


# Settings: S2S_KEY_ENCRYPTION_KEY and S2S_REPLAY_WINDOW_SECONDS.

PRODUCTION = {
    "FENXIAO_ENV": "production",
    "JWT_SECRET": "j" * 40,
    "VISITOR_HASH_SALT": "salt",
}
FERNET_KEY = "q0LkPHGt0kwcBe3Ff_cAz0RrnXbtgTcs5whjJkqo8VQ="


def test_production_refuses_to_start_without_an_s2s_key_encryption_key() -> None:
    with pytest.raises(ConfigError, match="S2S_KEY_ENCRYPTION_KEY"):
        Settings.from_env(PRODUCTION)


def test_production_takes_comma_separated_fernet_keys_and_refuses_anything_else() -> None:
    both = f"{FERNET_KEY},{FERNET_KEY}"
    settings = Settings.from_env({**PRODUCTION, "S2S_KEY_ENCRYPTION_KEY": both})
    assert settings.s2s_key_encryption_key == both
    assert settings.s2s_replay_window_seconds == 300
    with pytest.raises(ConfigError, match="Fernet"):
        Settings.from_env({**PRODUCTION, "S2S_KEY_ENCRYPTION_KEY": "not-a-key"})


def test_development_derives_one_encryption_key_per_jwt_secret_so_workers_agree() -> None:
    first = Settings.from_env({"JWT_SECRET": "a" * 40})
    second = Settings.from_env({"JWT_SECRET": "a" * 40})
    other = Settings.from_env({"JWT_SECRET": "b" * 40})
    assert first.s2s_key_encryption_key == second.s2s_key_encryption_key
    assert first.s2s_key_encryption_key != other.s2s_key_encryption_key


@pytest.mark.parametrize("raw", ["0", "-5", "soon"])
def test_the_replay_window_must_be_a_positive_number_of_seconds(raw: str) -> None:
    with pytest.raises(ConfigError, match="S2S_REPLAY_WINDOW_SECONDS"):
        Settings.from_env({"S2S_REPLAY_WINDOW_SECONDS": raw})


def test_the_replay_window_is_configurable() -> None:
    assert Settings.from_env({"S2S_REPLAY_WINDOW_SECONDS": "60"}).s2s_replay_window_seconds == 60
