"""The pure webhook rules: the retry schedule spans about three days with jitter, signatures
verify with standardwebhooks (one per live secret), and only public addresses are callable."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from standardwebhooks.webhooks import Webhook

from server.domain.errors import ValidationFailed
from server.domain.webhooks.addresses import address_problem, check_addresses, check_url
from server.domain.webhooks.delivery import (
    FIRST_RETRY,
    MAX_ATTEMPTS,
    gives_up,
    new_secret,
    nominal_schedule,
    retry_delay,
    rotation_grace,
    signed_headers,
)
from server.domain.webhooks.events import commission_data, envelope, utc_text


def test_the_retry_schedule_grows_exponentially_and_spans_about_three_days() -> None:
    waits = nominal_schedule()
    assert waits[0] == FIRST_RETRY
    assert all(later >= earlier for earlier, later in itertools.pairwise(waits))
    assert timedelta(days=2.5) <= sum(waits, timedelta(0)) <= timedelta(days=3.5)
    assert len(waits) == MAX_ATTEMPTS - 1
    assert gives_up(MAX_ATTEMPTS) and not gives_up(MAX_ATTEMPTS - 1)


def test_jitter_spreads_a_wait_by_a_quarter_either_way() -> None:
    assert retry_delay(3, jitter=0.0) == timedelta(minutes=9) * 0.75
    assert retry_delay(3, jitter=0.999999) < timedelta(minutes=9) * 1.25
    assert retry_delay(3, jitter=0.5) == timedelta(minutes=9)


def test_a_message_signed_with_two_secrets_verifies_with_either() -> None:
    old, new = new_secret(b"o" * 32), new_secret(b"n" * 32)
    body = json.dumps({"type": "promoter.applied", "data": {"promoter_id": 1}})
    headers = signed_headers([new, old], message_id="msg_1", at=datetime.now(UTC), body=body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["data"] == {"promoter_id": 1}


def test_a_rotation_grace_is_bounded() -> None:
    assert rotation_grace(None) == timedelta(hours=24)
    with pytest.raises(ValidationFailed):
        rotation_grace(8 * 24 * 3600)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.8", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "not global"),
        ("240.0.0.1", "private"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_only_public_unicast_addresses_are_callable(address: str, problem: str | None) -> None:
    assert address_problem(address) == problem


def test_a_host_is_refused_when_any_of_its_addresses_is_private() -> None:
    with pytest.raises(ValidationFailed):
        check_addresses("shop.example", ["93.184.216.34", "10.0.0.1"], allow_private=False)
    assert check_addresses("shop.example", ["10.0.0.1"], allow_private=True) == ["10.0.0.1"]
    with pytest.raises(ValidationFailed):
        check_addresses("nowhere.example", [], allow_private=True)


@pytest.mark.parametrize(
    "url",
    ["ftp://shop.example/", "https://user:pw@shop.example/", "https:///x", "http://shop.example/"],
)
def test_urls_other_than_plain_https_are_refused(url: str) -> None:
    with pytest.raises(ValidationFailed):
        check_url(url, allow_private=False)


def test_a_payload_carries_money_as_strings_with_currency_and_utc_instants() -> None:
    commission = SimpleNamespace(
        id=5, program_id=1, promoter_id=2, order_id=3, level=1, status="pending",
        amount=Decimal("6.00"), currency="CNY",
    )  # fmt: skip
    data = commission_data(commission, amount=Decimal("-4.00"), reason="refund")
    assert (data["amount"], data["commission_amount"], data["currency"]) == ("-4.00", "6.00", "CNY")
    at = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert envelope("commission.created", data=data, at=at)["timestamp"] == "2026-03-01T16:30:00Z"
    assert utc_text(None) is None
