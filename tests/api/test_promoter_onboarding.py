"""Promoter onboarding over HTTP: promoters apply in the mini-program, staff decide."""

from __future__ import annotations

from typing import Any

from server.models import Program
from tests.api.conftest import Api
from tests.wechat_fixtures import promoter_login


async def new_program(mode: str = "review", **requirements: Any) -> Program:
    return await Program.create(
        name="Spring", currency="CNY", recruitment_mode=mode, requirements=requirements
    )


async def login(api: Api, identity: str) -> tuple[str, int]:
    body = await promoter_login(api, identity)
    return body["access_token"], body["user"]["id"]


def applications(program: Program) -> str:
    return f"/mp/v1/programs/{program.id}/applications"


async def apply(api: Api, program: Program, token: str, **fields: Any) -> Any:
    return await api.post(applications(program), token=token, json=fields)


async def test_a_promoter_applies_and_sees_the_pending_profile(mp_api: Api) -> None:
    program = await new_program("review", phone=True)
    token, _ = await login(mp_api, "alice")

    response = await apply(mp_api, program, token, phone="13812345678", real_name="Alice")
    assert response.status == 201, response.text
    assert response.json["promoter"]["status"] == "applied"
    assert response.json["promoter"]["program"]["id"] == program.id
    assert "deposit" not in response.json["requirements"]

    mine = await mp_api.get(f"/mp/v1/programs/{program.id}/me", token=token)
    assert mine.status == 200
    assert mine.json["status"] == "applied" and mine.json["invite_code"] is None
    listing = await mp_api.get("/mp/v1/me/promoters", token=token)
    assert [p["id"] for p in listing.json["items"]] == [response.json["promoter"]["id"]]


async def test_a_bad_phone_is_a_422_naming_the_field(mp_api: Api) -> None:
    program = await new_program("review", phone=True)
    token, _ = await login(mp_api, "bob")
    response = await apply(mp_api, program, token, phone="555-0101")
    assert response.status == 422
    assert response.json["error"]["code"] == "validation_failed"
    assert set(response.json["error"]["fields"]) == {"phone"}


async def test_an_unknown_application_field_is_refused(mp_api: Api) -> None:
    program = await new_program("open")
    token, _ = await login(mp_api, "bob2")
    response = await apply(mp_api, program, token, parent_id=1)
    assert response.status == 422
    assert response.json["error"]["fields"] == {"parent_id": "unknown field"}


async def test_invite_only_refuses_the_uninvited_and_a_second_application_conflicts(
    mp_api: Api,
) -> None:
    closed = await new_program("invite_only")
    token, _ = await login(mp_api, "carol")
    refused = await apply(mp_api, closed, token)
    assert (refused.status, refused.json["error"]["code"]) == (422, "invite_required")

    program = await new_program("review")
    assert (await apply(mp_api, program, token)).status == 201
    again = await apply(mp_api, program, token)
    assert (again.status, again.json["error"]["code"]) == (409, "already_applied")


async def test_staff_approve_and_the_promoter_gets_an_invite_code_others_can_join_with(
    mp_api: Api,
) -> None:
    program = await new_program("review")
    token, _ = await login(mp_api, "dave")
    promoter_id = (await apply(mp_api, program, token)).json["promoter"]["id"]
    staff = await mp_api.staff_token("staff")

    approved = await mp_api.post(f"/admin/v1/promoters/{promoter_id}/approve", token=staff)
    assert approved.status == 200, approved.text
    assert approved.json["status"] == "approved"
    assert approved.json["allowed_actions"] == ["suspend", "disable"]
    code = approved.json["invite_code"]
    mine = await mp_api.get(f"/mp/v1/programs/{program.id}/me", token=token)
    assert mine.json["invite_code"] == code

    friend, _ = await login(mp_api, "erin")
    joined = await apply(mp_api, program, friend, invite_code=code.lower())
    assert joined.status == 201
    assert joined.json["promoter"]["applied_invite_code"] == code
    detail = await mp_api.get(f"/admin/v1/promoters/{joined.json['promoter']['id']}", token=staff)
    assert detail.json["upline"]["id"] == promoter_id


async def test_a_rejection_needs_a_reason_which_the_applicant_then_sees(mp_api: Api) -> None:
    program = await new_program("review")
    token, _ = await login(mp_api, "fay")
    promoter_id = (await apply(mp_api, program, token)).json["promoter"]["id"]
    staff = await mp_api.staff_token("staff")

    missing = await mp_api.post(f"/admin/v1/promoters/{promoter_id}/reject", token=staff, json={})
    assert missing.status == 422
    assert missing.json["error"]["fields"] == {"reason": "required"}
    rejected = await mp_api.post(
        f"/admin/v1/promoters/{promoter_id}/reject", token=staff, json={"reason": "no photo"}
    )
    assert rejected.status == 200
    mine = await mp_api.get(f"/mp/v1/programs/{program.id}/me", token=token)
    assert (mine.json["status"], mine.json["reject_reason"]) == ("rejected", "no photo")

    # The old profile stays as history next to the new application.
    assert (await apply(mp_api, program, token)).status == 201
    listing = await mp_api.get("/mp/v1/me/promoters", token=token)
    assert [p["status"] for p in listing.json["items"]] == ["applied", "rejected"]


async def test_an_illegal_move_is_a_409_with_the_lifecycle_code(mp_api: Api) -> None:
    program = await new_program("open")
    token, _ = await login(mp_api, "gus")
    promoter_id = (await apply(mp_api, program, token)).json["promoter"]["id"]
    staff = await mp_api.staff_token("staff")
    response = await mp_api.post(f"/admin/v1/promoters/{promoter_id}/reinstate", token=staff)
    assert response.status == 409
    assert response.json["error"]["code"] == "promoter_illegal_transition"


async def test_suspend_and_reinstate_show_up_in_the_history(mp_api: Api) -> None:
    program = await new_program("open")
    token, _ = await login(mp_api, "hal")
    promoter_id = (await apply(mp_api, program, token)).json["promoter"]["id"]
    staff = await mp_api.staff_token("staff")
    base = f"/admin/v1/promoters/{promoter_id}"
    suspended = await mp_api.post(f"{base}/suspend", token=staff, json={"reason": "audit"})
    assert suspended.status == 200
    assert (await mp_api.post(f"{base}/reinstate", token=staff, json={})).status == 200

    history = await mp_api.get(f"{base}/history", token=staff)
    assert [(h["action"], h["to_status"]) for h in history.json["items"]] == [
        ("apply", "applied"),
        ("approve", "approved"),
        ("suspend", "suspended"),
        ("reinstate", "approved"),
    ]
    assert history.json["items"][2]["reason"] == "audit"


async def test_a_suspended_upline_blocks_approval_until_staff_approve_without_it(
    mp_api: Api,
) -> None:
    program = await new_program("review")
    staff = await mp_api.staff_token("staff")
    upline_token, _ = await login(mp_api, "ivy")
    upline_id = (await apply(mp_api, program, upline_token)).json["promoter"]["id"]
    code = (await mp_api.post(f"/admin/v1/promoters/{upline_id}/approve", token=staff)).json[
        "invite_code"
    ]
    token, _ = await login(mp_api, "jay")
    promoter_id = (await apply(mp_api, program, token, invite_code=code)).json["promoter"]["id"]
    await mp_api.post(
        f"/admin/v1/promoters/{upline_id}/suspend", token=staff, json={"reason": "check"}
    )

    blocked = await mp_api.post(f"/admin/v1/promoters/{promoter_id}/approve", token=staff)
    assert (blocked.status, blocked.json["error"]["code"]) == (409, "upline_not_active")
    approved = await mp_api.post(
        f"/admin/v1/promoters/{promoter_id}/approve",
        token=staff,
        json={"without_upline": True},
    )
    assert approved.status == 200
    assert approved.json["parent_id"] is None


async def test_bulk_approval_is_all_or_nothing(mp_api: Api) -> None:
    program = await new_program("review")
    staff = await mp_api.staff_token("staff")
    ids = []
    for name in ("k1", "k2"):
        token, _ = await login(mp_api, name)
        ids.append((await apply(mp_api, program, token)).json["promoter"]["id"])

    failed = await mp_api.post(
        "/admin/v1/promoters/bulk",
        token=staff,
        json={"action": "approve", "ids": [*ids, 424242]},
    )
    assert failed.status == 409
    assert failed.json["error"]["code"] == "bulk_action_failed"
    assert failed.json["error"]["fields"] == {
        "424242": {"code": "promoter_not_found", "message": "no such promoter"}
    }
    listing = await mp_api.get(
        "/admin/v1/promoters", token=staff, params={"program_id": program.id, "status": "applied"}
    )
    assert sorted(p["id"] for p in listing.json["items"]) == sorted(ids)

    done = await mp_api.post(
        "/admin/v1/promoters/bulk", token=staff, json={"action": "approve", "ids": ids}
    )
    assert done.status == 200
    assert {p["status"] for p in done.json["items"]} == {"approved"}


async def test_staff_list_filters_searches_and_pages(mp_api: Api) -> None:
    program = await new_program("review")
    staff = await mp_api.staff_token("staff")
    for index, name in enumerate(["Wang Wei", "Li Na", "Wang Fang"]):
        token, _ = await login(mp_api, f"list{index}")
        await apply(mp_api, program, token, real_name=name, phone=f"1381234567{index}")

    search = await mp_api.get(
        "/admin/v1/promoters", token=staff, params={"program_id": program.id, "q": "wang"}
    )
    assert [p["real_name"] for p in search.json["items"]] == ["Wang Fang", "Wang Wei"]
    by_phone = await mp_api.get(
        "/admin/v1/promoters", token=staff, params={"program_id": program.id, "q": "45671"}
    )
    assert [p["real_name"] for p in by_phone.json["items"]] == ["Li Na"]

    first = await mp_api.get(
        "/admin/v1/promoters", token=staff, params={"program_id": program.id, "limit": 2}
    )
    assert len(first.json["items"]) == 2 and first.json["next_cursor"]
    rest = await mp_api.get(
        "/admin/v1/promoters",
        token=staff,
        params={"program_id": program.id, "limit": 2, "cursor": first.json["next_cursor"]},
    )
    assert [p["real_name"] for p in rest.json["items"]] == ["Wang Wei"]
    assert rest.json["next_cursor"] is None

    no_program = await mp_api.get("/admin/v1/promoters", token=staff)
    assert no_program.status == 422
    assert "program_id" in no_program.json["error"]["fields"]


async def test_staff_see_the_applicants_phone_and_finance_sees_it_masked(mp_api: Api) -> None:
    program = await new_program("review")
    token, _ = await login(mp_api, "lea")
    promoter_id = (await apply(mp_api, program, token, phone="13812345678")).json["promoter"]["id"]

    staff = await mp_api.staff_token("staff")
    finance = await mp_api.staff_token("finance")
    as_staff = await mp_api.get(f"/admin/v1/promoters/{promoter_id}", token=staff)
    as_finance = await mp_api.get(f"/admin/v1/promoters/{promoter_id}", token=finance)
    assert as_staff.json["phone"] == "13812345678"
    assert as_finance.json["phone"] == "138****5678"


async def test_roles_guard_every_promoter_route(mp_api: Api) -> None:
    program = await new_program("review")
    token, _ = await login(mp_api, "max")
    promoter_id = (await apply(mp_api, program, token)).json["promoter"]["id"]
    finance = await mp_api.staff_token("finance")
    staff = await mp_api.staff_token("staff")

    as_promoter = await mp_api.post(f"/admin/v1/promoters/{promoter_id}/approve", token=token)
    assert (as_promoter.status, as_promoter.json["error"]["code"]) == (403, "role_forbidden")
    as_finance = await mp_api.post(f"/admin/v1/promoters/{promoter_id}/approve", token=finance)
    assert as_finance.status == 403
    staff_applying = await apply(mp_api, program, staff)
    assert staff_applying.status == 403
    anonymous = await mp_api.get("/mp/v1/me/promoters")
    assert anonymous.status == 401


async def test_a_promoter_sees_only_their_own_profiles(mp_api: Api) -> None:
    program = await new_program("open")
    alice, _ = await login(mp_api, "ann")
    bob, _ = await login(mp_api, "ben")
    assert (await apply(mp_api, program, alice, real_name="Ann")).status == 201

    bobs_view = await mp_api.get(f"/mp/v1/programs/{program.id}/me", token=bob)
    assert (bobs_view.status, bobs_view.json["error"]["code"]) == (404, "promoter_not_found")
    bobs_list = await mp_api.get("/mp/v1/me/promoters", token=bob)
    assert bobs_list.json["items"] == []
    staff_list = await mp_api.get(
        "/admin/v1/promoters", token=bob, params={"program_id": program.id}
    )
    assert staff_list.status == 403


async def test_onboarding_routes_are_in_each_surfaces_openapi_document(mp_api: Api) -> None:
    admin = (await mp_api.get("/admin/v1/openapi.json")).json["paths"]
    mini = (await mp_api.get("/mp/v1/openapi.json")).json["paths"]
    assert {"/admin/v1/promoters", "/admin/v1/promoters/bulk", "/admin/v1/audit"} <= set(admin)
    assert any(path.endswith("/approve") for path in admin)
    assert "/mp/v1/me/promoters" in mini
    assert any(path.endswith("/applications") for path in mini)
