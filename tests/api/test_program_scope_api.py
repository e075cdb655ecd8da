"""Staff accounts limited to programs: admins set the limits, they apply on the next request,
admins themselves always see every program."""

from __future__ import annotations

from typing import Any

from server.models import AuditLog
from tests.api.conftest import Api
from tests.order_builders import shop
from tests.scope_world import STAFF_PASSWORD, build_world, limited_account, login
from tests.withdrawal_builders import funded_promoter


async def _promoters_of(api: Api, token: str, program_id: int) -> int:
    response = await api.get("/admin/v1/promoters", token=token, params={"program_id": program_id})
    return response.status


async def test_a_change_of_an_accounts_programs_applies_to_its_next_request(api: Api) -> None:
    first, second = await shop(), await shop()
    admin = await api.staff_token("admin")
    created = await api.post(
        "/admin/v1/staff",
        token=admin,
        json={
            "username": "anna",
            "password": STAFF_PASSWORD,
            "roles": ["staff"],
            "programs": [first.id],
        },
    )
    assert created.status == 201, created.text
    assert created.json["programs"] == [first.id]
    token = await login(api, "anna")
    me = await api.get("/admin/v1/auth/me", token=token)
    assert me.json["programs"] == [first.id]
    assert await _promoters_of(api, token, first.id) == 200
    assert await _promoters_of(api, token, second.id) == 404

    staff_id = created.json["id"]
    moved = await api.patch(
        f"/admin/v1/staff/{staff_id}", token=admin, json={"programs": [second.id]}
    )
    assert moved.status == 200, moved.text
    assert moved.json["programs"] == [second.id]
    # The same access token: the limits are read per request, not from the token.
    assert await _promoters_of(api, token, first.id) == 404
    assert await _promoters_of(api, token, second.id) == 200

    lifted = await api.patch(f"/admin/v1/staff/{staff_id}", token=admin, json={"programs": None})
    assert lifted.json["programs"] is None
    assert await _promoters_of(api, token, first.id) == 200
    assert (await api.get("/admin/v1/auth/me", token=token)).json["programs"] is None

    entry = await AuditLog.filter(action="staff.update", target_id=staff_id).order_by("id")
    assert [e.details["programs"] for e in entry] == [[second.id], None]


async def test_a_patch_without_programs_keeps_the_accounts_programs(api: Api) -> None:
    program = await shop()
    staff_id = await limited_account("bea", program, roles=("staff",))
    admin = await api.staff_token("admin")
    response = await api.patch(
        f"/admin/v1/staff/{staff_id}", token=admin, json={"roles": ["staff", "finance"]}
    )
    assert response.status == 200, response.text
    assert response.json["programs"] == [program.id]
    listed = await api.get("/admin/v1/staff", token=admin)
    assert {s["username"]: s["programs"] for s in listed.json["items"]}["bea"] == [program.id]


async def test_an_admin_account_cannot_be_limited_to_programs(api: Api) -> None:
    program = await shop()
    admin = await api.staff_token("admin")
    refused = await api.post(
        "/admin/v1/staff",
        token=admin,
        json={
            "username": "carl",
            "password": STAFF_PASSWORD,
            "roles": ["admin"],
            "programs": [program.id],
        },
    )
    assert (refused.status, refused.json["error"]["code"]) == (422, "admin_not_scopable")
    staff_id = await limited_account("dora", program, roles=("staff",))
    promoted = await api.patch(
        f"/admin/v1/staff/{staff_id}", token=admin, json={"roles": ["staff", "admin"]}
    )
    assert (promoted.status, promoted.json["error"]["code"]) == (422, "admin_not_scopable")
    # Made an admin and unlimited at once is fine.
    both = await api.patch(
        f"/admin/v1/staff/{staff_id}",
        token=admin,
        json={"roles": ["staff", "admin"], "programs": None},
    )
    assert both.status == 200, both.text
    assert both.json["programs"] is None


async def test_an_accounts_programs_must_exist_and_not_be_empty(api: Api) -> None:
    program = await shop()
    admin = await api.staff_token("admin")
    staff_id = await limited_account("emil", program, roles=("finance",))
    for programs, fields in (([program.id, 999999], [999999]), ([], "empty")):
        response = await api.patch(
            f"/admin/v1/staff/{staff_id}", token=admin, json={"programs": programs}
        )
        assert response.status == 422, response.text
        assert response.json["error"]["code"] == "invalid_programs"
        assert response.json["error"]["fields"] == {"programs": fields}
    listed = await api.get("/admin/v1/staff", token=admin)
    assert {s["username"]: s["programs"] for s in listed.json["items"]}["emil"] == [program.id]


async def test_another_programs_record_answers_exactly_as_a_missing_one(api: Api) -> None:
    mine, theirs = await build_world(), await build_world()
    await limited_account("fay", mine.program, roles=("staff", "finance"))
    token = await login(api, "fay")
    other = await api.get(f"/admin/v1/promoters/{theirs.ids['promoter_id']}", token=token)
    missing = await api.get("/admin/v1/promoters/999999999", token=token)
    assert other.status == missing.status == 404
    assert other.json == missing.json
    assert other.json["error"]["code"] == "promoter_not_found"
    review = await api.post(
        "/admin/v1/commissions/review",
        token=token,
        json={"ids": [mine.ids["commission_id"], theirs.ids["commission_id"]], "action": "approve"},
    )
    assert review.status == 404
    assert review.json["error"]["fields"] == {
        str(theirs.ids["commission_id"]): "commission_not_found"
    }


async def test_a_limited_finance_account_reconciles_only_its_programs(api: Api) -> None:
    mine, theirs = await shop(), await shop()
    for program, count in ((mine, 2), (theirs, 3)):
        for _ in range(count):
            await funded_promoter(program, "10.00")
    await limited_account("gus", mine, roles=("finance",))
    token = await login(api, "gus")
    report: dict[str, Any] = (await api.get("/admin/v1/ledger/reconcile", token=token)).json
    everyone = await api.get("/admin/v1/ledger/reconcile", token=await api.staff_token("finance"))
    # One settled account per promoter: the limited account checks its program's two only.
    assert report["accounts_checked"] * 5 == everyone.json["accounts_checked"] * 2
    assert report["balanced"] is True
