"""Internal programs over HTTP: sub-accounts with links and codes, spend recorded one by one
or from CSV, and ROI per sub-account and campaign computed by hand."""

from __future__ import annotations

from typing import Any

import pytest

from server.models import Promoter, SpendRecord, User
from server.services.reports.rollups import refresh_reports
from tests.api.conftest import Api
from tests.order_builders import bind, customer, line, paid, send_ok, shop

DAY = {"from": "2026-03-02", "to": "2026-03-02"}


@pytest.fixture
async def staff(api: Api) -> str:
    return await api.staff_token("staff", username="internal_staff")


async def _sub_account(api: Api, token: str, program_id: int, name: str) -> dict[str, Any]:
    created = await api.post(
        f"/admin/v1/programs/{program_id}/sub-accounts", token=token, json={"name": name}
    )
    assert created.status == 201, created.text
    return created.json


async def test_sub_accounts_exist_only_in_internal_programs(api: Api, staff: str) -> None:
    partners = await shop()
    refused = await api.post(
        f"/admin/v1/programs/{partners.id}/sub-accounts", token=staff, json={"name": "Ads"}
    )
    assert refused.status == 409
    assert refused.json["error"]["code"] == "program_not_internal"

    own = await shop(kind="internal")
    sub = await _sub_account(api, staff, own.id, "Spring campaign team")
    assert (sub["name"], sub["status"]) == ("Spring campaign team", "approved")
    assert sub["invite_code"]
    listed = await api.get(f"/admin/v1/programs/{own.id}/sub-accounts", token=staff)
    assert [item["id"] for item in listed.json["items"]] == [sub["id"]]
    # No WeChat identity: no mini-program login can ever reach this account.
    user = await User.get(id=sub["user_id"])
    assert user.appid == "internal"


async def test_a_sub_account_gets_links_and_codes_like_a_promoter(api: Api, staff: str) -> None:
    own = await shop(kind="internal")
    sub = await _sub_account(api, staff, own.id, "Store staff")
    base = f"/admin/v1/programs/{own.id}/sub-accounts/{sub['id']}"
    link = await api.post(
        f"{base}/links", token=staff, json={"utm_source": "poster", "utm_campaign": "spring"}
    )
    assert link.status == 201, link.text
    assert (link.json["utm_source"], link.json["utm_campaign"]) == ("poster", "spring")
    code = await api.post(f"{base}/codes", token=staff, json={"code": "STORE1"})
    assert code.status == 201, code.text
    missing = await api.post(
        f"/admin/v1/programs/{own.id}/sub-accounts/999999/links", token=staff, json={}
    )
    assert missing.json["error"]["code"] == "sub_account_not_found"


async def test_spend_makes_roi_per_sub_account_and_campaign(api: Api, staff: str) -> None:
    """S1 brings an order of 100.00 paying S1 10.00 (level 1 at 10%). Spend: 20.00 on S1,
    5.00 on the campaign spring, on 2 March."""
    own = await shop(kind="internal", time_zone="Asia/Shanghai")
    s1 = await _sub_account(api, staff, own.id, "S1")
    buyer = await customer()
    await bind(own, await Promoter.get(id=s1["id"]), user=buyer)
    await send_ok(own, paid("O1", line("L1", "100.00"), buyer=buyer))
    for body in (
        {"day": "2026-03-02", "amount": "20.00", "sub_account_id": s1["id"]},
        {"day": "2026-03-02", "amount": "5.00", "utm_campaign": "spring"},
    ):
        recorded = await api.post(f"/admin/v1/programs/{own.id}/spend", token=staff, json=body)
        assert recorded.status == 201, recorded.text
    await refresh_reports()

    reports = f"/admin/v1/programs/{own.id}/reports"
    totals = (await api.get(f"{reports}/overview", token=staff, params=DAY)).json["totals"]
    assert (totals["net_sales"], totals["commissions"], totals["spend"]) == (
        "100.00",
        "10.00",
        "25.00",
    )
    assert totals["roi"] == "1.8571"  # (100 − 10 − 25) ÷ (10 + 25)
    by_sub = (
        await api.get(f"{reports}/breakdown", token=staff, params={"dimension": "promoter", **DAY})
    ).json["items"]
    assert [(i["value"], i["spend"], i["roi"]) for i in by_sub] == [
        (str(s1["id"]), "20.00", "2.3333")  # (100 − 10 − 20) ÷ (10 + 20)
    ]
    by_campaign = (
        await api.get(
            f"{reports}/breakdown", token=staff, params={"dimension": "utm_campaign", **DAY}
        )
    ).json["items"]
    assert [(i["value"], i["spend"], i["roi"]) for i in by_campaign] == [
        ("spring", "5.00", "-1.0000")  # spent, sold nothing yet
    ]


async def test_spend_imports_from_csv_all_rows_or_none(api: Api, staff: str) -> None:
    own = await shop(kind="internal")
    sub = await _sub_account(api, staff, own.id, "S1")
    path = f"/admin/v1/programs/{own.id}/spend/import"
    good = (
        "day,amount,sub_account_id,channel_id,utm_campaign,note\n"
        f"2026-03-01,12.50,{sub['id']},,,flyers\n"
        "2026-03-02,7.00,,,spring,\n"
    )
    imported = await api.post(path, token=staff, json={"csv": good})
    assert imported.status == 201, imported.text
    assert [i["amount"] for i in imported.json["items"]] == ["12.50", "7.00"]

    bad = "day,amount,utm_campaign\n2026-03-03,1.00,spring\n2026-13-01,-4,spring\n"
    refused = await api.post(path, token=staff, json={"csv": bad})
    assert refused.status == 422
    assert refused.json["error"]["code"] == "invalid_spend_csv"
    assert set(refused.json["error"]["fields"]) == {"row 3.day", "row 3.amount"}
    # The good row of the bad file is not kept either.
    assert await SpendRecord.filter(program_id=own.id).count() == 2


async def test_spend_names_one_target_in_the_program_at_most(api: Api, staff: str) -> None:
    own = await shop(kind="internal")
    path = f"/admin/v1/programs/{own.id}/spend"
    both = {"day": "2026-03-02", "amount": "1.00", "sub_account_id": 1, "utm_campaign": "x"}
    assert (await api.post(path, token=staff, json=both)).json["error"]["code"] == "invalid_spend"
    stranger = {"day": "2026-03-02", "amount": "1.00", "sub_account_id": 999999}
    refused = await api.post(path, token=staff, json=stranger)
    assert refused.json["error"]["code"] == "unknown_spend_target"
    cents = {"day": "2026-03-02", "amount": "1.005"}
    assert (await api.post(path, token=staff, json=cents)).status == 422
