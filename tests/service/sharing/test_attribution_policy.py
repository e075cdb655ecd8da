"""The program's link-versus-coupon policy through a real order.paid, and the program time zone
that cuts per-period caps at local midnight."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from server.models import Promoter, User
from server.services.programs.period_caps import create_cap
from server.services.programs.settings import update_program
from server.services.sharing.codes import create_code
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
from tests.service.sharing.test_share_support import approve_pending_codes

pytestmark = pytest.mark.usefixtures("db")
D = Decimal


async def _voucher(program_promoter: Promoter, code: str) -> None:
    owner = await User.get(id=program_promoter.user_id)  # type: ignore[attr-defined]
    await create_code(
        user_id=owner.id,
        program_id=program_promoter.program_id,
        kind="voucher",
        code=code,  # type: ignore[attr-defined]
    )
    await approve_pending_codes(program_promoter.program_id)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("policy", "winner_index", "reason"),
    [("coupon_wins", 1, "coupon_wins"), ("binding_wins", 0, "binding_wins")],
)
async def test_the_program_policy_decides_between_a_link_binding_and_a_coupon(
    policy: str, winner_index: int, reason: str
) -> None:
    program = await shop(level_rates=["10", "0"], attribution_conflict_policy=policy)
    alice, bob = await promoter(program), await promoter(program)
    await _voucher(bob, "BOB10")
    buyer = await customer()
    await bind(program, alice, user=buyer)

    await send_ok(program, paid("O-1", line("A", "100.00"), buyer=buyer, coupon_code="BOB10"))

    winner = [alice, bob][winner_index]
    order = await order_of(program, "O-1")
    assert order.attributed_promoter_id == winner.id
    assert order.attribution["reason"] == reason
    assert order.attribution["attribution"]["policy"] == policy
    assert order.attribution["attribution"]["binding"]["promoter_id"] == alice.id
    assert order.attribution["attribution"]["coupon"]["promoter_id"] == bob.id
    assert await amounts_of(program, "O-1") == {("A", 1): D("10.00")}
    commissions_of_winner = await order.commissions.filter(promoter_id=winner.id).count()  # type: ignore[attr-defined]
    assert commissions_of_winner == 1


async def test_changing_the_policy_applies_to_the_next_order_only() -> None:
    program = await shop(level_rates=["10", "0"])
    alice, bob = await promoter(program), await promoter(program)
    await _voucher(bob, "BOB20")
    buyer = await customer()
    await bind(program, alice, user=buyer)
    await send_ok(program, paid("O-1", line("A", "100.00"), buyer=buyer, coupon_code="BOB20"))

    await update_program(
        program_id=program.id, changes={"attribution_conflict_policy": "binding_wins"}, actor=ADMIN
    )
    await send_ok(program, paid("O-2", line("A", "100.00"), buyer=buyer, coupon_code="BOB20"))

    first, second = await order_of(program, "O-1"), await order_of(program, "O-2")
    assert (first.attributed_promoter_id, second.attributed_promoter_id) == (bob.id, alice.id)
    assert first.attribution["attribution"]["policy"] == "coupon_wins"
    assert second.attribution["attribution"]["policy"] == "binding_wins"


async def _earned_with_daily_cap(time_zone: str, first: datetime, second: datetime) -> D:
    program = await shop(level_rates=["10", "0"], time_zone=time_zone)
    alice = await promoter(program)
    await create_cap(
        program_id=program.id, document={"period": "day", "amount": "15.00"}, actor=ADMIN
    )
    buyer = await customer()
    await bind(program, alice, user=buyer, at=datetime(2026, 3, 1, tzinfo=UTC))
    await send_ok(program, paid("O-1", line("A", "100.00"), buyer=buyer, placed_at=first))
    await send_ok(program, paid("O-2", line("A", "100.00"), buyer=buyer, placed_at=second))
    return (await amounts_of(program, "O-2"))[("A", 1)]


async def test_a_daily_cap_resets_at_midnight_in_the_program_time_zone() -> None:
    # 15:30 and 16:30 UTC on March 5 are March 5 23:30 and March 6 00:30 in Shanghai.
    first = datetime(2026, 3, 5, 15, 30, tzinfo=UTC)
    second = datetime(2026, 3, 5, 16, 30, tzinfo=UTC)

    assert await _earned_with_daily_cap("Asia/Shanghai", first, second) == D("10.00")
    # In UTC both orders fall on March 5: the second only gets what the cap has left.
    assert await _earned_with_daily_cap("UTC", first, second) == D("5.00")
