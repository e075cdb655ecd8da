"""An order records the channel of the touch it is credited through, so finance can filter
commissions by channel: the binding's, or the code's when the code typed at checkout wins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from server.models import Channel, Promoter, User
from server.services.sharing.bindings import bind_from_touch
from server.services.sharing.codes import create_code
from tests.order_builders import T0, customer, line, order_of, paid, promoter, send_ok, shop
from tests.service.sharing.test_share_support import approve_pending_codes

pytestmark = pytest.mark.usefixtures("db")


async def _bind_through(channel: Channel, owner: Promoter, buyer: User) -> None:
    async with in_transaction() as conn:
        await bind_from_touch(
            program_id=owner.program_id,  # type: ignore[attr-defined]
            customer_user_id=buyer.id,
            customer_external_id=None,
            promoter_id=owner.id,
            channel_id=channel.id,
            code_id=None,
            visit_id=None,
            source="visit",
            at=T0 - timedelta(days=1),
            conn=conn,
        )


async def test_an_order_credited_through_a_binding_records_the_bindings_channel() -> None:
    program = await shop(level_rates=["10", "0"])
    alice = await promoter(program)
    video = await Channel.create(promoter=alice, name="video")
    buyer = await customer()
    await _bind_through(video, alice, buyer)

    await send_ok(program, paid("O-1", line("A", "100.00"), buyer=buyer))

    assert (await order_of(program, "O-1")).channel_id == video.id


async def test_an_order_the_code_wins_records_the_codes_channel() -> None:
    program = await shop(level_rates=["10", "0"], attribution_conflict_policy="coupon_wins")
    alice, bob = await promoter(program), await promoter(program)
    buyer = await customer()
    await _bind_through(await Channel.create(promoter=alice, name="video"), alice, buyer)
    podcast = await Channel.create(promoter=bob, name="podcast")
    await create_code(
        user_id=bob.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
        kind="voucher",
        code="BOBPOD",
        channel_id=podcast.id,
    )
    await approve_pending_codes(program.id)  # a chosen code counts once staff approve it

    await send_ok(program, paid("O-1", line("A", "100.00"), buyer=buyer, coupon_code="BOBPOD"))

    order = await order_of(program, "O-1")
    assert (order.attributed_promoter_id, order.channel_id) == (bob.id, podcast.id)


async def test_a_self_purchase_and_an_unreferred_order_record_no_channel() -> None:
    program = await shop(level_rates=["10", "0"])
    alice = await promoter(program)
    owner = await User.get(id=alice.user_id)  # type: ignore[attr-defined]
    await send_ok(program, paid("O-1", line("A", "100.00"), buyer=owner))
    await send_ok(program, paid("O-2", line("A", "100.00"), buyer=await customer()))
    assert (await order_of(program, "O-1")).channel_id is None
    assert (await order_of(program, "O-2")).channel_id is None
