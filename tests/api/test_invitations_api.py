"""Invite-only programs can start: staff create invitations (a code of limited uses, or a
link; expiry; revocable; audited) that applicants redeem, and an admin can create a promoter
directly (audited). The creating POSTs honour Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server import clock
from server.config import Settings
from server.models import AuditLog, InvitationRedemption, Program, Promoter
from tests.api.conftest import Api
from tests.api.test_admin_programs import _promoter_token

SHOP: dict[str, Any] = {
    "name": "Members only",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
    "recruitment_mode": "invite_only",
}


async def _closed_program(api: Api, admin: str) -> int:
    created = await api.post("/admin/v1/programs", token=admin, json=SHOP)
    assert created.status == 201, created.text
    return created.json["id"]


async def _apply(api: Api, token: str, program_id: int, **body: Any) -> Any:
    return await api.post(f"/mp/v1/programs/{program_id}/applications", token=token, json=body)


async def test_a_new_invite_only_program_admits_its_first_promoters_by_invitation(
    api: Api, settings: Settings
) -> None:
    admin = await api.staff_token("admin")
    staff = await api.staff_token("staff")
    program_id = await _closed_program(api, admin)
    path = f"/admin/v1/programs/{program_id}/invitations"
    key = {"Idempotency-Key": "invite-two"}
    created = await api.post(path, token=staff, json={"max_uses": 2}, headers=key)
    replayed = await api.post(path, token=staff, json={"max_uses": 2}, headers=key)
    code = created.json["code"]

    tokens = [(await _promoter_token(settings, openid=f"o-inv-{n}"))[1] for n in range(4)]
    uninvited = await _apply(api, tokens[0], program_id)
    first = await _apply(api, tokens[1], program_id, invitation=code.lower())
    second = await _apply(api, tokens[2], program_id, invitation=code)
    third = await _apply(api, tokens[3], program_id, invitation=code)
    listed = await api.get(path, token=staff)

    assert created.status == 201, created.text
    assert (created.json["kind"], created.json["max_uses"], created.json["state"]) == (
        "code", 2, "active",
    )  # fmt: skip
    assert (replayed.status, replayed.json["id"]) == (200, created.json["id"])
    assert (uninvited.status, uninvited.json["error"]["code"]) == (422, "invite_required")
    assert first.json["promoter"]["status"] == second.json["promoter"]["status"] == "approved"
    assert first.json["promoter"]["invite_code"]  # they can now invite others themselves
    assert (third.status, third.json["error"]["code"]) == (409, "invitation_used_up")
    [shown] = listed.json["items"]
    assert (shown["uses"], shown["state"]) == (2, "used_up")
    assert await InvitationRedemption.filter(invitation_id=created.json["id"]).count() == 2
    assert await AuditLog.filter(action="invitation.create").count() == 1


async def test_an_invitation_link_expires_and_a_revoked_one_admits_nobody(
    api: Api, settings: Settings
) -> None:
    admin = await api.staff_token("admin")
    program_id = await _closed_program(api, admin)
    path = f"/admin/v1/programs/{program_id}/invitations"
    later = (clock.now() + timedelta(minutes=1)).isoformat()
    link = await api.post(path, token=admin, json={"kind": "link", "expires_at": later})
    code = await api.post(path, token=admin, json={"max_uses": 5, "note": "launch party"})
    past = await api.post(path, token=admin, json={"expires_at": "2020-01-01T00:00:00+08:00"})
    revoked = await api.post(f"/admin/v1/invitations/{code.json['id']}/revoke", token=admin)
    again = await api.post(f"/admin/v1/invitations/{code.json['id']}/revoke", token=admin)
    _, late = await _promoter_token(settings, openid="o-late")
    _, barred = await _promoter_token(settings, openid="o-barred")
    clock.advance(timedelta(minutes=2))

    expired = await _apply(api, late, program_id, invitation=link.json["code"])
    refused = await _apply(api, barred, program_id, invitation=code.json["code"])

    assert link.json["mp_path"].endswith(f"program_id={program_id}&invitation={link.json['code']}")
    assert (past.status, set(past.json["error"]["fields"])) == (422, {"expires_at"})
    assert (revoked.json["state"], again.status) == ("revoked", 409)
    assert (expired.status, expired.json["error"]["code"]) == (409, "invitation_expired")
    assert (refused.status, refused.json["error"]["code"]) == (409, "invitation_revoked")
    assert await AuditLog.filter(action="invitation.revoke").count() == 1
    assert not await Promoter.filter(program_id=program_id).exists()


async def test_an_admin_creates_a_promoter_directly_and_it_is_audited(
    api: Api, settings: Settings
) -> None:
    admin = await api.staff_token("admin")
    staff = await api.staff_token("staff")
    program_id = await _closed_program(api, admin)
    user, _ = await _promoter_token(settings, openid="o-founder")
    path = f"/admin/v1/programs/{program_id}/promoters"
    body = {"user_id": user.id, "real_name": "创始人", "reason": "first member of the program"}
    key = {"Idempotency-Key": "founder-1"}

    not_admin = await api.post(path, token=staff, json=body)
    created = await api.post(path, token=admin, json=body, headers=key)
    replayed = await api.post(path, token=admin, json=body, headers=key)
    twice = await api.post(path, token=admin, json=body)

    assert (not_admin.status, not_admin.json["error"]["code"]) == (403, "role_forbidden")
    assert created.status == 201, created.text
    assert (created.json["status"], created.json["user_id"]) == ("approved", user.id)
    assert (replayed.status, replayed.json["id"]) == (200, created.json["id"])
    assert (twice.status, twice.json["error"]["code"]) == (409, "already_applied")
    entry = await AuditLog.get(action="promoter.create")
    assert entry.details["reason"] == "first member of the program"
    assert (await Program.get(id=program_id)).recruitment_mode == "invite_only"
