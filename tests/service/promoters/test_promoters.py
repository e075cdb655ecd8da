"""Promoter onboarding against a real database: applying, the life cycle, history, audit."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from server.auth import Principal
from server.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from server.models import (
    AuditLog,
    Program,
    Promoter,
    PromoterStatusChange,
    ReservedCode,
    ShareCode,
    User,
)
from server.services.promoters import status_changes
from server.services.promoters.hierarchy import upline_chain
from server.services.promoters.onboarding import (
    apply_to_program,
    get_active_promoter,
    get_promoter_by_invite_code,
)
from server.services.promoters.status_changes import bulk_change_status, change_promoter_status

STAFF = Principal(kind="staff", id=7, roles=frozenset({"staff"}))
_openids = itertools.count()


async def new_program(
    mode: str = "review", *, status: str = "active", **requirements: Any
) -> Program:
    return await Program.create(
        name=f"P-{mode}",
        currency="CNY",
        recruitment_mode=mode,
        requirements=requirements,
        status=status,
    )


async def new_user() -> User:
    return await User.create(appid="wx", openid=f"o{next(_openids)}")


async def apply(program: Program, user: User | None = None, **fields: Any) -> dict[str, Any]:
    user = user or await new_user()
    values = {"real_name": None, "phone": None, "agreement_version": None, "invite_code": None}
    values.update(fields)
    return await apply_to_program(user_id=user.id, program_id=program.id, **values)


async def approved_promoter(program: Program, **fields: Any) -> Promoter:
    """A promoter applied and approved by staff, whatever the program's mode."""
    result = await apply(program, **fields)
    promoter_id = result["promoter"]["id"]
    if result["promoter"]["status"] == "applied":
        await change_promoter_status(
            promoter_id=promoter_id, action="approve", reason=None, actor=STAFF
        )
    return await Promoter.get(id=promoter_id)


async def history_of(promoter_id: int) -> list[tuple[str | None, str, str]]:
    changes = await PromoterStatusChange.filter(promoter_id=promoter_id).order_by("id")
    return [(c.from_status, c.to_status, c.action) for c in changes]


async def audit_actions(promoter_id: int) -> list[str]:
    entries = await AuditLog.filter(target_kind="promoter", target_id=promoter_id).order_by("id")
    return [e.action for e in entries]


async def test_an_open_program_approves_at_once_with_an_invite_code_and_a_place_in_the_tree(
    db: str,
) -> None:
    program = await new_program("open")
    result = await apply(program)

    profile = result["promoter"]
    assert profile["status"] == "approved"
    assert profile["invite_code"] and len(profile["invite_code"]) == 8
    assert await history_of(profile["id"]) == [
        (None, "applied", "apply"),
        ("applied", "approved", "approve"),
    ]
    auto = await PromoterStatusChange.get(promoter_id=profile["id"], action="approve")
    assert auto.actor_kind == "system"
    assert await audit_actions(profile["id"]) == ["promoter.apply", "promoter.approve"]
    assert await upline_chain(promoter_id=profile["id"]) == []


async def test_an_invite_code_places_the_new_promoter_under_its_owner_case_insensitively(
    db: str,
) -> None:
    program = await new_program("open")
    top = await approved_promoter(program)
    middle = await approved_promoter(program, invite_code=top.invite_code.lower())
    bottom = await approved_promoter(program, invite_code=middle.invite_code)

    assert middle.parent_id == top.id
    assert middle.applied_invite_code == top.invite_code
    assert await upline_chain(promoter_id=bottom.id) == [(middle.id, 1), (top.id, 2)]


async def test_a_review_program_queues_the_application_until_staff_approve(db: str) -> None:
    program = await new_program("review")
    upline = await approved_promoter(program)
    result = await apply(program, invite_code=upline.invite_code)
    promoter_id = result["promoter"]["id"]

    assert result["promoter"]["status"] == "applied"
    assert result["promoter"]["invite_code"] is None
    assert await upline_chain(promoter_id=promoter_id) == []

    promoter = await change_promoter_status(
        promoter_id=promoter_id, action="approve", reason=None, actor=STAFF
    )
    assert promoter.status == "approved" and promoter.invite_code
    assert promoter.decided_at is not None
    assert await upline_chain(promoter_id=promoter_id) == [(upline.id, 1)]
    approval = await AuditLog.get(target_id=promoter_id, action="promoter.approve")
    assert (approval.actor_kind, approval.actor_id) == ("staff", STAFF.id)
    assert approval.details["invite_code"] == promoter.invite_code


async def test_an_invite_only_program_refuses_uninvited_applicants_and_writes_nothing(
    db: str,
) -> None:
    program = await new_program("invite_only")
    with pytest.raises(ValidationFailed) as err:
        await apply(program)
    assert err.value.code == "invite_required"
    assert await Promoter.filter(program_id=program.id).count() == 0
    assert await AuditLog.all().count() == 0


async def test_an_invite_only_program_approves_invited_applicants_under_their_inviter(
    db: str,
) -> None:
    program = await new_program("invite_only")
    founder = await Promoter.create(
        program=program, user=await new_user(), status="approved", invite_code="FOUNDER1"
    )
    result = await apply(program, invite_code="founder1")
    assert result["promoter"]["status"] == "approved"
    assert await upline_chain(promoter_id=result["promoter"]["id"]) == [(founder.id, 1)]


async def test_an_invite_code_must_name_an_approved_promoter_of_the_same_program(
    db: str,
) -> None:
    program = await new_program("open")
    other_program = await new_program("open")
    stranger = await approved_promoter(other_program)
    suspended = await approved_promoter(program)
    await change_promoter_status(
        promoter_id=suspended.id, action="suspend", reason="fraud check", actor=STAFF
    )
    for code in ("NOSUCHCODE", stranger.invite_code, suspended.invite_code):
        with pytest.raises(ValidationFailed) as err:
            await apply(program, invite_code=code)
        assert err.value.code == "invalid_invite_code"
        assert "invite_code" in err.value.fields


async def test_a_user_cannot_be_their_own_upline(db: str) -> None:
    program = await new_program("open")
    user = await new_user()
    own = await approved_promoter(program, user=user)
    with pytest.raises(ValidationFailed) as err:
        await apply(program, user=user, invite_code=own.invite_code)
    assert err.value.code == "self_invite"


async def test_required_fields_are_enforced_and_named(db: str) -> None:
    program = await new_program("review", real_name=True, phone=True)
    with pytest.raises(ValidationFailed) as err:
        await apply(program, phone="12345")
    assert err.value.fields == {"real_name": "required", "phone": err.value.fields["phone"]}
    assert "mainland" in err.value.fields["phone"]
    result = await apply(program, real_name="张三", phone="+8613812345678")
    assert result["promoter"]["real_name"] == "张三"
    assert result["requirements"]["phone"] is True


async def test_an_outdated_agreement_is_refused_with_its_own_code(db: str) -> None:
    program = await new_program("review", agreement_version="2024-06")
    with pytest.raises(ValidationFailed) as err:
        await apply(program, agreement_version="2023-01")
    assert err.value.code == "agreement_outdated"
    result = await apply(program, agreement_version="2024-06")
    assert result["promoter"]["agreement_version"] == "2024-06"


async def test_a_deposit_left_in_a_program_is_never_asked_for(db: str) -> None:
    program = await new_program("open", deposit="50.00")  # stored before the rule
    result = await apply(program)
    assert "deposit" not in result["requirements"]
    assert result["promoter"]["status"] == "approved"


async def test_archived_and_missing_programs_take_no_applications(db: str) -> None:
    archived = await new_program("open", status="archived")
    with pytest.raises(Conflict) as err:
        await apply(archived)
    assert err.value.code == "program_archived"
    with pytest.raises(NotFound) as missing:
        await apply_to_program(
            user_id=(await new_user()).id,
            program_id=999_999,
            real_name=None,
            phone=None,
            agreement_version=None,
            invite_code=None,
        )
    assert missing.value.code == "program_not_found"


@pytest.mark.parametrize("action", [None, "approve", "suspend"])
async def test_a_user_has_one_live_profile_per_program(db: str, action: str | None) -> None:
    program = await new_program("review")
    user = await new_user()
    first = (await apply(program, user=user))["promoter"]["id"]
    if action is not None:
        await change_promoter_status(promoter_id=first, action="approve", reason=None, actor=STAFF)
    if action == "suspend":
        await change_promoter_status(promoter_id=first, action="suspend", reason="r", actor=STAFF)
    with pytest.raises(Conflict) as err:
        await apply(program, user=user)
    assert err.value.code == "already_applied"
    assert err.value.fields["promoter_id"] == first
    assert await Promoter.filter(user_id=user.id).count() == 1


async def test_the_same_user_may_hold_profiles_in_different_programs(db: str) -> None:
    user = await new_user()
    await apply(await new_program("review"), user=user)
    await apply(await new_program("open"), user=user)
    assert await Promoter.filter(user_id=user.id).count() == 2


async def test_reapplying_after_a_rejection_creates_a_new_profile_and_keeps_the_old_one(
    db: str,
) -> None:
    program = await new_program("review")
    user = await new_user()
    first = (await apply(program, user=user))["promoter"]["id"]
    await change_promoter_status(
        promoter_id=first, action="reject", reason="incomplete profile", actor=STAFF
    )
    second = (await apply(program, user=user, real_name="Li"))["promoter"]["id"]

    assert second != first
    old = await Promoter.get(id=first)
    assert (old.status, old.reject_reason) == ("rejected", "incomplete profile")
    assert await history_of(first) == [
        (None, "applied", "apply"),
        ("applied", "rejected", "reject"),
    ]
    assert await history_of(second) == [(None, "applied", "apply")]


async def test_suspend_reinstate_and_disable_are_recorded_with_reason_and_actor(db: str) -> None:
    program = await new_program("open")
    promoter = await approved_promoter(program)
    await change_promoter_status(
        promoter_id=promoter.id, action="suspend", reason="odd refunds", actor=STAFF
    )
    await change_promoter_status(
        promoter_id=promoter.id, action="reinstate", reason=None, actor=STAFF
    )
    await change_promoter_status(
        promoter_id=promoter.id, action="disable", reason="left the company", actor=STAFF
    )

    assert await history_of(promoter.id) == [
        (None, "applied", "apply"),
        ("applied", "approved", "approve"),
        ("approved", "suspended", "suspend"),
        ("suspended", "approved", "reinstate"),
        ("approved", "disabled", "disable"),
    ]
    suspension = await PromoterStatusChange.get(promoter_id=promoter.id, action="suspend")
    assert (suspension.reason, suspension.actor_kind, suspension.actor_id) == (
        "odd refunds",
        "staff",
        STAFF.id,
    )
    assert (await audit_actions(promoter.id))[-3:] == [
        "promoter.suspend",
        "promoter.reinstate",
        "promoter.disable",
    ]
    # A disabled promoter keeps the invite code on record, but it no longer finds them.
    with pytest.raises(NotFound):
        await get_promoter_by_invite_code(program_id=program.id, code=promoter.invite_code)


async def test_an_illegal_transition_is_refused_and_writes_nothing(db: str) -> None:
    program = await new_program("open")
    promoter = await approved_promoter(program)
    history_before = await history_of(promoter.id)
    audit_before = await AuditLog.all().count()

    for action, reason in (("approve", None), ("reject", "late"), ("reinstate", None)):
        with pytest.raises(IllegalTransition) as err:
            await change_promoter_status(
                promoter_id=promoter.id, action=action, reason=reason, actor=STAFF
            )
        assert err.value.code == "promoter_illegal_transition"

    assert await history_of(promoter.id) == history_before
    assert await AuditLog.all().count() == audit_before
    assert (await Promoter.get(id=promoter.id)).status == "approved"


@pytest.mark.parametrize("action", ["reject", "suspend", "disable"])
async def test_punitive_decisions_need_a_reason(db: str, action: str) -> None:
    program = await new_program("review")
    promoter_id = (await apply(program))["promoter"]["id"]
    with pytest.raises(ValidationFailed) as err:
        await change_promoter_status(
            promoter_id=promoter_id, action=action, reason=None, actor=STAFF
        )
    assert err.value.code == "reason_required"


async def test_an_upline_that_lost_its_approval_blocks_approval_unless_staff_drop_it(
    db: str,
) -> None:
    program = await new_program("review")
    upline = await approved_promoter(program)
    applicant = (await apply(program, invite_code=upline.invite_code))["promoter"]["id"]
    await change_promoter_status(
        promoter_id=upline.id, action="suspend", reason="investigation", actor=STAFF
    )

    with pytest.raises(Conflict) as err:
        await change_promoter_status(
            promoter_id=applicant, action="approve", reason=None, actor=STAFF
        )
    assert err.value.code == "upline_not_active"
    assert (await Promoter.get(id=applicant)).status == "applied"

    approved = await change_promoter_status(
        promoter_id=applicant, action="approve", reason=None, actor=STAFF, without_upline=True
    )
    assert approved.status == "approved" and approved.parent_id is None
    assert approved.applied_invite_code == upline.invite_code
    assert await upline_chain(promoter_id=applicant) == []
    entry = await AuditLog.get(target_id=applicant, action="promoter.approve")
    assert entry.details["dropped_parent_id"] == upline.id


async def test_a_bulk_action_applies_to_all_or_to_none_and_names_each_failure(db: str) -> None:
    program = await new_program("review")
    pending = [(await apply(program))["promoter"]["id"] for _ in range(3)]
    already = await approved_promoter(program)

    with pytest.raises(Conflict) as err:
        await bulk_change_status(
            action="approve", promoter_ids=[*pending, already.id, 999_999], reason=None, actor=STAFF
        )
    assert err.value.code == "bulk_action_failed"
    assert err.value.fields[str(already.id)]["code"] == "promoter_illegal_transition"
    assert err.value.fields["999999"]["code"] == "promoter_not_found"
    assert set(err.value.fields) == {str(already.id), "999999"}
    assert await Promoter.filter(id__in=pending, status="applied").count() == 3
    assert await PromoterStatusChange.filter(promoter_id__in=pending).count() == 3

    done = await bulk_change_status(
        action="reject", promoter_ids=pending, reason="batch cleanup", actor=STAFF
    )
    assert sorted(p.id for p in done) == sorted(pending)
    assert await Promoter.filter(id__in=pending, status="rejected").count() == 3
    assert await AuditLog.filter(action="promoter.reject").count() == 3


async def test_bulk_offers_only_approve_and_reject(db: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        await bulk_change_status(action="disable", promoter_ids=[1], reason="x", actor=STAFF)
    assert err.value.code == "unknown_action"


@pytest.fixture
def colliding_codes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    queue: list[str] = []
    monkeypatch.setattr(status_changes, "generate_code", lambda: queue.pop(0))
    yield queue


async def test_an_invite_code_collision_is_retried_with_a_fresh_code(
    db: str, colliding_codes: list[str]
) -> None:
    program = await new_program("open")
    colliding_codes.extend(["TAKEN234", "VOUCHER9", "TAKEN234", "FRESH567"])
    first = await approved_promoter(program)
    assert first.invite_code == "TAKEN234"
    await ShareCode.create(
        program=program, promoter=first, kind="voucher", code="voucher9", normalized="VOUCHER9"
    )
    second = await approved_promoter(program)
    assert second.invite_code == "FRESH567"


async def test_an_invite_code_is_never_one_of_the_stores_reserved_codes(
    db: str, colliding_codes: list[str]
) -> None:
    program = await new_program("open")
    await ReservedCode.create(program=program, code="storecp2", normalized="STORECP2")
    colliding_codes.extend(["STORECP2", "FRESH789"])
    promoter = await approved_promoter(program)
    assert promoter.invite_code == "FRESH789"


async def test_concurrent_approvals_of_one_promoter_let_exactly_one_win(db: str) -> None:
    program = await new_program("review")
    promoter_id = (await apply(program))["promoter"]["id"]
    results = await asyncio.gather(
        *(
            change_promoter_status(
                promoter_id=promoter_id, action="approve", reason=None, actor=STAFF
            )
            for _ in range(3)
        ),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, Promoter)]
    losses = [r for r in results if isinstance(r, IllegalTransition)]
    assert (len(wins), len(losses)) == (1, 2)
    assert await PromoterStatusChange.filter(promoter_id=promoter_id, action="approve").count() == 1
    assert await upline_chain(promoter_id=promoter_id) == []


async def test_concurrent_applications_of_one_user_create_one_profile(db: str) -> None:
    program = await new_program("review")
    user = await new_user()
    results = await asyncio.gather(
        *(apply(program, user=user) for _ in range(3)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(refused) == 2 and all(r.code == "already_applied" for r in refused)
    assert await Promoter.filter(user_id=user.id).count() == 1


@pytest.mark.parametrize(("mode", "status"), [("review", "applied"), ("open", "approved")])
async def test_concurrent_applications_of_different_users_under_one_upline_all_succeed(
    db: str, mode: str, status: str
) -> None:
    program = await new_program(mode)
    upline = await approved_promoter(program)
    users = [await new_user() for _ in range(6)]
    results = await asyncio.gather(
        *(apply(program, user=user, invite_code=upline.invite_code) for user in users),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert {r["promoter"]["status"] for r in results} == {status}
    assert await Promoter.filter(program_id=program.id, parent_id=upline.id).count() == len(users)


async def test_the_active_profile_look_up_finds_approved_and_suspended_ones_only(
    db: str,
) -> None:
    program = await new_program("review")
    user = await new_user()
    promoter_id = (await apply(program, user=user))["promoter"]["id"]
    with pytest.raises(NotFound) as err:
        await get_active_promoter(user_id=user.id, program_id=program.id)
    assert err.value.code == "promoter_not_found"

    await change_promoter_status(
        promoter_id=promoter_id, action="approve", reason=None, actor=STAFF
    )
    assert (await get_active_promoter(user_id=user.id, program_id=program.id)).id == promoter_id
    await change_promoter_status(promoter_id=promoter_id, action="suspend", reason="r", actor=STAFF)
    assert (await get_active_promoter(user_id=user.id, program_id=program.id)).id == promoter_id

    promoter = await Promoter.get(id=promoter_id)
    with pytest.raises(NotFound):
        await get_promoter_by_invite_code(program_id=program.id, code=promoter.invite_code)
    found = await get_promoter_by_invite_code(
        program_id=program.id, code=promoter.invite_code.lower(), active_only=False
    )
    assert found.id == promoter_id
