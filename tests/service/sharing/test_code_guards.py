"""Codes cannot squat the store's coupons: chosen text counts only once staff approve it (or is
not allowed at all), the store's reserved codes are nobody's, and neither ever attributes an
order — in the order path and in the dry run."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from server.auth import Principal
from server.domain.errors import Conflict, IllegalTransition, ValidationFailed
from server.models import AuditLog, Promoter, ReservedCode, ShareCode, User
from server.services.commissions.preview import preview_order
from server.services.programs.settings import update_program
from server.services.sharing import code_review, reserved_codes
from server.services.sharing import codes as share_codes
from tests.order_builders import (
    ADMIN,
    amounts_of,
    bind,
    customer,
    line,
    order_of,
    paid,
    promoter,
    send_ok,
    shop,
)

pytestmark = pytest.mark.usefixtures("db")

STAFF = Principal(kind="staff", id=7, roles=frozenset({"staff"}))
KEY = "fxk_store"


async def _code(owner: Promoter, text: str | None = None) -> ShareCode:
    return await share_codes.create_code(
        user_id=owner.user_id,  # type: ignore[attr-defined]
        program_id=owner.program_id,  # type: ignore[attr-defined]
        kind="voucher",
        code=text,
    )


async def test_a_program_with_generated_codes_refuses_chosen_text_for_codes_and_aliases() -> None:
    program = await shop(sharing_rules={"custom_codes": "generated"})
    alice = await promoter(program)
    with pytest.raises(ValidationFailed) as refused:
        await _code(alice, "SUMMER20")
    assert refused.value.code == "custom_codes_disabled"
    drawn = await _code(alice)
    assert drawn.review_status == "approved"
    with pytest.raises(ValidationFailed) as alias:
        await share_codes.add_alias(
            user_id=alice.user_id,  # type: ignore[attr-defined]
            program_id=program.id,
            code_id=drawn.id,
            alias="alice-fav",
        )
    assert alias.value.code == "custom_codes_disabled" and "alias" in alias.value.fields
    assert await share_codes.resolve_code(program_id=program.id, code=drawn.code) is not None


async def test_a_chosen_code_credits_nobody_until_staff_approve_it() -> None:
    program = await shop(level_rates=["10", "0"])
    bob = await promoter(program)
    code = await _code(bob, "BOB10")
    assert code.review_status == "pending"
    assert await share_codes.resolve_code(program_id=program.id, code="bob10") is None

    await send_ok(program, paid("O-1", line("A", "100.00"), coupon_code="BOB10"))
    order = await order_of(program, "O-1")
    assert order.attributed_promoter_id is None
    assert order.attribution["attribution"]["coupon"]["ignored_because"] == "code_not_approved"

    approved = await code_review.approve_code(code_id=code.id, actor=STAFF, request_id="r-1")
    assert approved.review_status == "approved" and approved.reviewed_at is not None
    await send_ok(program, paid("O-2", line("A", "100.00"), coupon_code="BOB10"))
    assert (await order_of(program, "O-2")).attributed_promoter_id == bob.id
    assert await amounts_of(program, "O-2") == {("A", 1): Decimal("10.00")}
    entry = await AuditLog.get(action="share_code.approve")
    assert (entry.actor_id, entry.target_id, entry.details["before"]) == (7, code.id, "pending")


async def test_a_rejected_code_is_deactivated_for_good_and_keeps_its_text() -> None:
    program = await shop()
    bob, carol = await promoter(program), await promoter(program)
    code = await _code(bob, "NIKE-SALE")
    alias = await share_codes.add_alias(
        user_id=bob.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
        code_id=code.id,
        alias="nike",
    )
    rejected = await code_review.reject_code(code_id=code.id, actor=STAFF, reason="a brand name")
    assert (rejected.review_status, rejected.is_active) == ("rejected", False)
    assert (await ShareCode.get(id=alias.id)).is_active is False
    with pytest.raises(IllegalTransition):
        await code_review.approve_code(code_id=code.id, actor=STAFF)
    with pytest.raises(Conflict) as taken:
        await _code(carol, "nike-sale")
    assert taken.value.code == "code_taken"
    entry = await AuditLog.get(action="share_code.reject")
    assert entry.details["reason"] == "a brand name" and entry.details["aliases_deactivated"] == 1
    pending = await code_review.list_codes_for_review(program_id=program.id)
    assert pending == []


async def test_a_promoter_cannot_take_a_code_the_store_reserved() -> None:
    program = await shop()
    alice = await promoter(program)
    mine = await _code(alice)
    await reserved_codes.reserve_codes(
        program_id=program.id, codes=[{"code": "Summer20", "note": "summer sale"}], key_id=KEY
    )
    with pytest.raises(Conflict) as refused:
        await _code(alice, "SUMMER20")
    assert refused.value.code == "code_reserved"
    with pytest.raises(Conflict) as alias:
        await share_codes.add_alias(
            user_id=alice.user_id,  # type: ignore[attr-defined]
            program_id=program.id,
            code_id=mine.id,
            alias="summer20",
        )
    assert alias.value.code == "code_reserved"
    assert await ShareCode.filter(program_id=program.id).count() == 1


async def test_the_stores_coupon_never_credits_a_promoter_who_registered_it_first() -> None:
    program = await shop(level_rates=["10", "0"], attribution_conflict_policy="coupon_wins")
    alice, squatter = await promoter(program), await promoter(program)
    squat = await _code(squatter, "SALE50")
    await code_review.approve_code(code_id=squat.id, actor=STAFF)
    buyer = await customer()
    await bind(program, alice, user=buyer)

    results = await reserved_codes.reserve_codes(
        program_id=program.id, codes=[{"code": "sale50"}], key_id=KEY
    )
    assert results == [
        {
            "code": "sale50",
            "normalized": "SALE50",
            "status": "reserved",
            "promoter_code_id": squat.id,
        }
    ]
    await send_ok(program, paid("O-1", line("A", "100.00"), buyer=buyer, coupon_code="SALE50"))
    order = await order_of(program, "O-1")
    assert order.attributed_promoter_id == alice.id
    assert order.attribution["attribution"]["coupon"]["ignored_because"] == "reserved_by_store"
    assert await amounts_of(program, "O-1") == {("A", 1): Decimal("10.00")}

    # The dry run weighs the coupon the same way.
    preview = await preview_order(
        program_id=program.id,
        document={
            "lines": [{"product_id": "A", "quantity": 1, "unit_price": "100", "amount": "100"}],
            "coupon_code": "SALE50",
        },
    )
    assert preview["chain"]["members"] == []
    assert preview["chain"]["found_by"]["attribution"]["coupon"]["ignored_because"] == (
        "reserved_by_store"
    )
    # A pending code the store reserved meanwhile can no longer be approved.
    waiting = await _code(squatter, "SPRING")
    await reserved_codes.reserve_codes(
        program_id=program.id, codes=[{"code": "spring"}], key_id=KEY
    )
    with pytest.raises(Conflict) as refused:
        await code_review.approve_code(code_id=waiting.id, actor=STAFF)
    assert refused.value.code == "code_reserved"


async def test_the_dry_run_credits_an_approved_coupon_and_not_a_pending_one() -> None:
    program = await shop(level_rates=["10", "0"])
    bob = await promoter(program)
    code = await _code(bob, "BOB-DRY")
    document = {
        "lines": [{"product_id": "A", "quantity": 1, "unit_price": "50", "amount": "50"}],
        "coupon_code": "bob-dry",
    }
    pending = await preview_order(program_id=program.id, document=document)
    assert pending["chain"]["members"] == []
    await code_review.approve_code(code_id=code.id, actor=STAFF)
    approved = await preview_order(program_id=program.id, document=document)
    assert [m["promoter_id"] for m in approved["chain"]["members"]] == [bob.id]


async def test_reserving_is_idempotent_and_a_release_lets_the_code_credit_again() -> None:
    program = await shop()
    codes = [{"code": "VIP"}, {"code": "vip"}, {"code": "NEWYEAR", "note": "ny"}]
    first = await reserved_codes.reserve_codes(program_id=program.id, codes=codes, key_id=KEY)
    assert [(r["normalized"], r["status"]) for r in first] == [
        ("VIP", "reserved"),
        ("NEWYEAR", "reserved"),
    ]
    again = await reserved_codes.reserve_codes(program_id=program.id, codes=codes, key_id=KEY)
    assert {r["status"] for r in again} == {"already_reserved"}
    assert await ReservedCode.filter(program_id=program.id).count() == 2
    other = await shop()
    await reserved_codes.reserve_codes(program_id=other.id, codes=[{"code": "VIP"}], key_id=KEY)
    assert await ReservedCode.all().count() == 3

    released = await reserved_codes.release_codes(
        program_id=program.id, codes=["vip", "NOPE"], key_id=KEY
    )
    assert released == [
        {"normalized": "VIP", "status": "released"},
        {"normalized": "NOPE", "status": "not_reserved"},
    ]
    alice = await promoter(program)
    vip = await _code(alice, "VIP")
    await code_review.approve_code(code_id=vip.id, actor=STAFF)
    assert await share_codes.resolve_code(program_id=program.id, code="vip") is not None


async def test_sharing_rules_are_program_settings_checked_as_a_whole() -> None:
    program = await shop()
    updated = await update_program(
        program_id=program.id,
        changes={"sharing_rules": {"custom_codes": "generated", "max_links_per_promoter": 5}},
        actor=ADMIN,
    )
    assert updated.sharing_rules["custom_codes"] == "generated"
    assert updated.sharing_rules["max_codes_per_promoter"] == 50  # merged with the defaults
    with pytest.raises(ValidationFailed) as refused:
        await update_program(
            program_id=program.id,
            changes={"sharing_rules": {"custom_codes": "free", "max_channels_per_promoter": 0}},
            actor=ADMIN,
        )
    assert refused.value.fields == {
        "sharing_rules.custom_codes": "must be one of generated, reviewed",
        "sharing_rules.max_channels_per_promoter": "must be between 1 and 10000",
    }
    # A user of the program is no part of these rules.
    assert await User.all().count() == 0


async def test_concurrent_reservations_of_overlapping_codes_store_each_text_once() -> None:
    program = await shop()
    texts = ["A1", "B2", "C3", "D4"]
    batches = [[{"code": t} for t in texts[i:] + texts[:i]] for i in range(4)]
    results = await asyncio.gather(
        *(
            reserved_codes.reserve_codes(program_id=program.id, codes=batch, key_id=KEY)
            for batch in batches
        )
    )
    assert await ReservedCode.filter(program_id=program.id).count() == 4
    firsts = [r["normalized"] for batch in results for r in batch if r["status"] == "reserved"]
    assert sorted(firsts) == texts
