"""Over HTTP: the store reserves its coupon codes through signed S2S, staff review the codes
promoters choose, promoters meet their quotas, and QR pictures come in fixed sizes with new
mini-program codes rate-limited (429 with Retry-After)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sanic import Sanic

from server.integrations.wechat_standin import WeChatStandIn
from server.models import AuditLog, Program, User
from tests.api.conftest import Api
from tests.order_builders import line, paid
from tests.s2s_client import s2s_get, s2s_post
from tests.service.sharing.test_share_support import make_promoter
from tests.wechat_fixtures import promoter_login

RESERVE = "/admin/v1/s2s/reserved-codes"
EVENTS = "/admin/v1/s2s/events"


async def _promoter(api: Api, identity: str, program: Program) -> str:
    login = await promoter_login(api, identity, nickname=identity.title())
    await make_promoter(program, user=await User.get(id=login["user"]["id"]))
    return login["access_token"]


async def _signed(api: Api, store: dict[str, Any], path: str, body: Any) -> Any:
    return await s2s_post(api, path, key_id=store["key_id"], secret=store["secret"], json_body=body)


async def test_the_store_reserves_its_coupons_and_no_promoter_code_can_take_them(
    mp_api: Api, store: dict[str, Any]
) -> None:
    program = store["program"]
    body = {"codes": [{"code": "Summer20", "note": "summer sale"}, {"code": "VIP"}]}
    first = await _signed(mp_api, store, RESERVE, body)
    assert first.status == 200, first.text
    assert [(i["code"], i["status"]) for i in first.json["items"]] == [
        ("Summer20", "reserved"),
        ("VIP", "reserved"),
    ]
    again = await _signed(mp_api, store, RESERVE, body)
    assert [i["status"] for i in again.json["items"]] == ["already_reserved"] * 2
    listed = await s2s_get(mp_api, RESERVE, key_id=store["key_id"], secret=store["secret"])
    assert [c["normalized"] for c in listed.json["items"]] == ["SUMMER20", "VIP"]
    unsigned = await mp_api.post(RESERVE, json=body)
    assert unsigned.status == 401

    token = await _promoter(mp_api, "alice", program)
    taken = await mp_api.post(
        f"/mp/v1/programs/{program.id}/codes", token=token, json={"code": "summer20"}
    )
    assert taken.status == 409 and taken.json["error"]["code"] == "code_reserved"

    staff = await mp_api.staff_token("staff", username="ops")
    seen = await mp_api.get(f"/admin/v1/programs/{program.id}/reserved-codes", token=staff)
    assert seen.status == 200 and len(seen.json["items"]) == 2

    # The dry run ignores a reserved coupon too.
    preview = await mp_api.post(
        f"/admin/v1/programs/{program.id}/commissions/preview",
        token=staff,
        json={
            "lines": [{"product_id": "A", "quantity": 1, "unit_price": "10", "amount": "10"}],
            "customer_user_id": store["buyer"].id,
            "coupon_code": "SUMMER20",
        },
    )
    assert preview.status == 200, preview.text
    found = preview.json["chain"]["found_by"]["attribution"]
    assert found["coupon"]["ignored_because"] == "reserved_by_store"
    assert preview.json["chain"]["members"] == []

    released = await _signed(mp_api, store, f"{RESERVE}/release", {"codes": ["vip"]})
    assert released.json["items"] == [{"normalized": "VIP", "status": "released"}]


async def test_staff_review_chosen_codes_and_only_an_approved_one_credits_an_order(
    mp_api: Api, store: dict[str, Any]
) -> None:
    program = store["program"]
    token = await _promoter(mp_api, "bob", program)
    base = f"/mp/v1/programs/{program.id}"
    chosen = await mp_api.post(f"{base}/codes", token=token, json={"code": "BOB-SPRING"})
    other = await mp_api.post(f"{base}/codes", token=token, json={"code": "BOB-BRAND"})
    assert chosen.status == 201 and chosen.json["review_status"] == "pending"

    event = paid("O-PENDING", line("A", "100.00"), coupon_code="bob-spring")
    posted = await _signed(mp_api, store, EVENTS, event)
    assert posted.status in {200, 201, 202}, posted.text

    staff = await mp_api.staff_token("staff", username="reviewer")
    finance = await mp_api.staff_token("finance", username="money")
    queue = await mp_api.get(f"/admin/v1/programs/{program.id}/code-review", token=finance)
    assert queue.status == 200
    assert [c["code"] for c in queue.json["items"]] == ["BOB-SPRING", "BOB-BRAND"]
    bogus = await mp_api.get(
        f"/admin/v1/programs/{program.id}/code-review", token=staff, params={"status": "maybe"}
    )
    assert bogus.status == 422
    approve = f"/admin/v1/codes/{chosen.json['id']}/approve"
    assert (await mp_api.post(approve, token=finance)).status == 403
    assert (await mp_api.post(approve, token=token)).status in {401, 403}
    approved = await mp_api.post(approve, token=staff)
    assert approved.status == 200 and approved.json["review_status"] == "approved"
    reject = f"/admin/v1/codes/{other.json['id']}/reject"
    no_reason = await mp_api.post(reject, token=staff, json={})
    assert no_reason.status == 422
    rejected = await mp_api.post(reject, token=staff, json={"reason": "a brand name"})
    assert rejected.status == 200 and rejected.json["is_active"] is False
    twice = await mp_api.post(reject, token=staff, json={"reason": "again"})
    assert twice.status == 409
    actions = set(await AuditLog.filter(target_kind="share_code").values_list("action", flat=True))
    assert actions == {"share_code.approve", "share_code.reject"}

    await _signed(
        mp_api, store, EVENTS, paid("O-OK", line("A", "100.00"), coupon_code="BOB-SPRING")
    )
    bob = (await program.promoters.all().order_by("-id").first()).id  # type: ignore[union-attr]
    orders = await mp_api.get("/admin/v1/orders", token=staff, params={"program_id": program.id})
    credited = {o["external_id"]: o["attributed_promoter_id"] for o in orders.json["items"]}
    assert credited["O-PENDING"] is None and credited["O-OK"] == bob


async def test_generated_only_programs_and_quotas_answer_422_with_the_limit(
    mp_api: Api, store: dict[str, Any]
) -> None:
    program = store["program"]
    admin = await mp_api.staff_token("admin", username="boss")
    rules = {"custom_codes": "generated", "max_channels_per_promoter": 1}
    patched = await mp_api.patch(
        f"/admin/v1/programs/{program.id}", token=admin, json={"sharing_rules": rules}
    )
    assert patched.status == 200, patched.text
    assert patched.json["sharing_rules"]["custom_codes"] == "generated"
    assert patched.json["sharing_rules"]["max_links_per_promoter"] == 200
    bad = await mp_api.patch(
        f"/admin/v1/programs/{program.id}",
        token=admin,
        json={"sharing_rules": {"max_links_per_promoter": 0}},
    )
    assert (
        bad.status == 422 and "sharing_rules.max_links_per_promoter" in bad.json["error"]["fields"]
    )

    token = await _promoter(mp_api, "carol", program)
    base = f"/mp/v1/programs/{program.id}"
    chosen = await mp_api.post(f"{base}/codes", token=token, json={"code": "CAROL1"})
    assert chosen.status == 422 and chosen.json["error"]["code"] == "custom_codes_disabled"
    drawn = await mp_api.post(
        f"{base}/codes", token=token, json={}, headers={"Idempotency-Key": "code-1"}
    )
    assert drawn.status == 201 and drawn.json["review_status"] == "approved"
    replay = await mp_api.post(
        f"{base}/codes", token=token, json={}, headers={"Idempotency-Key": "code-1"}
    )
    assert replay.status == 200 and replay.json["id"] == drawn.json["id"]

    assert (await mp_api.post(f"{base}/channels", token=token, json={"name": "tv"})).status == 201
    over = await mp_api.post(f"{base}/channels", token=token, json={"name": "radio"})
    assert over.status == 422
    assert over.json["error"] == {
        "code": "quota_exceeded",
        "message": "at most 1 channels per promoter in this program",
        "fields": {"quota": "channels", "limit": 1},
    }


async def test_qr_sizes_are_fixed_and_new_wxacodes_are_rate_limited_with_retry_after(
    mp_api: Api, app: Sanic, standin: WeChatStandIn
) -> None:
    program = await Program.create(name="QR", currency="CNY")
    app.ctx.settings = dataclasses.replace(app.ctx.settings, wxacode_calls_per_window=2)
    token = await _promoter(mp_api, "dave", program)
    base = f"/mp/v1/programs/{program.id}"
    link = await mp_api.post(f"{base}/links", token=token, json={})
    pictures = f"{base}/links/{link.json['id']}"

    odd = await mp_api.get(f"{pictures}/qr.png", token=token, params={"width": 500})
    assert odd.status == 422 and odd.json["error"]["fields"]["width"] == [280, 430, 860, 1280]
    for width in (280, 430):
        assert (
            await mp_api.get(f"{pictures}/wxacode", token=token, params={"width": width})
        ).status == 200
    limited = await mp_api.get(f"{pictures}/wxacode", token=token, params={"width": 860})
    assert limited.status == 429
    assert limited.json["error"]["code"] == "wechat_calls_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    stored = await mp_api.get(f"{pictures}/wxacode", token=token, params={"width": 280})
    assert stored.status == 200
    assert standin.calls.count("/wxa/getwxacodeunlimit") == 2
