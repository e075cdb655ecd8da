"""A promoter suspended or disabled by staff is stopped on the very next request."""

from __future__ import annotations

from server.models import Program
from tests.api.conftest import Api
from tests.api.test_promoter_onboarding import apply, login, new_program


async def _sharing_promoter(mp_api: Api, identity: str) -> tuple[Program, str, int]:
    program = await new_program("open")
    token, _ = await login(mp_api, identity)
    promoter_id = (await apply(mp_api, program, token)).json["promoter"]["id"]
    links = f"/mp/v1/programs/{program.id}/links"
    assert (await mp_api.post(links, token=token, json={})).status == 201
    return program, token, promoter_id


async def test_a_suspended_promoter_creates_no_share_link_on_the_next_request(
    mp_api: Api,
) -> None:
    program, token, promoter_id = await _sharing_promoter(mp_api, "sam")
    staff = await mp_api.staff_token("staff")
    suspend = f"/admin/v1/promoters/{promoter_id}/suspend"
    assert (await mp_api.post(suspend, token=staff, json={"reason": "audit"})).status == 200

    refused = await mp_api.post(
        f"/mp/v1/programs/{program.id}/links", token=token, json={"utm_source": "after"}
    )
    assert refused.status == 403
    assert refused.json["error"]["code"] == "promoter_not_active"


async def test_a_disabled_promoter_neither_shares_nor_withdraws_on_the_next_request(
    mp_api: Api,
) -> None:
    program, token, promoter_id = await _sharing_promoter(mp_api, "dan")
    staff = await mp_api.staff_token("staff")
    disable = f"/admin/v1/promoters/{promoter_id}/disable"
    assert (await mp_api.post(disable, token=staff, json={"reason": "fraud"})).status == 200

    refused = await mp_api.post(
        f"/mp/v1/programs/{program.id}/links", token=token, json={"utm_source": "after"}
    )
    assert refused.status == 403
    assert refused.json["error"]["code"] == "promoter_not_active"
    refused = await mp_api.post(
        f"/mp/v1/programs/{program.id}/withdrawals",
        token=token,
        json={"amount": "1.00", "method": "wechat"},
        headers={"Idempotency-Key": "withdraw-after-disable"},
    )
    assert refused.status == 404
    assert refused.json["error"]["code"] == "promoter_not_found"
