"""Logins are rate limited: guessing a staff password or spending the WeChat quota on refused
codes gets a 429 with a stable code, for a while, from every worker alike (DB-backed)."""

from __future__ import annotations

from datetime import timedelta

from server import clock
from tests.api.conftest import STAFF_PASSWORD, Api

LOGIN = "/admin/v1/auth/login"
MAX_FAILURES = 5  # the default LOGIN_MAX_FAILURES


async def _wrong(api: Api, username: str) -> int:
    response = await api.post(LOGIN, json={"username": username, "password": "wrong-guess-1"})
    return response.status


async def test_an_account_is_locked_after_too_many_wrong_passwords_even_for_the_right_one(
    api: Api,
) -> None:
    await api.staff_token("staff", username="carol")
    assert [await _wrong(api, "carol") for _ in range(MAX_FAILURES)] == [401] * MAX_FAILURES

    right = await api.post(LOGIN, json={"username": "carol", "password": STAFF_PASSWORD})

    assert right.status == 429
    assert right.json["error"]["code"] == "too_many_login_attempts"
    assert 0 < right.json["error"]["fields"]["retry_after_seconds"] <= 900


async def test_the_lock_lifts_after_the_lockout(api: Api) -> None:
    await api.staff_token("staff", username="dave")
    for _ in range(MAX_FAILURES):
        await _wrong(api, "dave")
    clock.advance(timedelta(seconds=901))

    right = await api.post(LOGIN, json={"username": "dave", "password": STAFF_PASSWORD})

    assert right.status == 200


async def test_a_successful_login_clears_the_accounts_failures(api: Api) -> None:
    await api.staff_token("staff", username="erin")
    for _ in range(MAX_FAILURES - 1):
        await _wrong(api, "erin")
    assert (
        await api.post(LOGIN, json={"username": "erin", "password": STAFF_PASSWORD})
    ).status == 200

    assert [await _wrong(api, "erin") for _ in range(MAX_FAILURES - 1)] == [401] * (
        MAX_FAILURES - 1
    )


async def test_one_address_guessing_across_many_accounts_is_locked_out(api: Api) -> None:
    await api.staff_token("staff", username="frank")
    # Four times the per-account allowance, one failure per made-up account.
    for i in range(4 * MAX_FAILURES):
        assert await _wrong(api, f"nobody{i}") == 401

    right = await api.post(LOGIN, json={"username": "frank", "password": STAFF_PASSWORD})

    assert right.status == 429


async def test_refused_wechat_codes_from_one_address_are_rate_limited(api: Api) -> None:
    statuses = [
        (await api.post("/mp/v1/auth/login", json={"code": f"invalid-code-{i}"})).status
        for i in range(4 * MAX_FAILURES + 1)
    ]

    assert all(400 <= s < 500 and s != 429 for s in statuses[:-1])
    assert statuses[-1] == 429
