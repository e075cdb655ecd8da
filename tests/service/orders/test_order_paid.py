"""order.paid through the real use case: orders, attribution evidence and commissions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from server.models import (
    Binding,
    CommissionChange,
    CommissionRuleRecord,
    Order,
    OrderEvent,
    OrderLine,
    Promoter,
    User,
)
from server.services.sharing.codes import create_code
from tests.order_builders import (
    T0,
    amounts_of,
    bind,
    chain,
    commissions_of,
    customer,
    line,
    order_of,
    paid,
    promoter,
    send,
    send_ok,
    shop,
)
from tests.service.sharing.test_share_support import approve_pending_codes

pytestmark = pytest.mark.usefixtures("db")
D = Decimal


async def test_each_line_earns_on_its_amount_which_is_quantity_times_unit_price() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)

    body = await send_ok(
        program, paid("O-1", line("A", "99.99", quantity=3, unit_price="33.33"), buyer=buyer)
    )

    assert body["commissions"] == {"count": 2, "total": "14.98"}
    # 10% of 99.99 = 9.999 and 5% = 4.9995, each rounded down to the cent.
    assert await amounts_of(program, "O-1") == {("A", 1): D("9.99"), ("A", 2): D("4.99")}
    level_one = (await commissions_of(program, "O-1"))[("A", 1)]
    assert level_one.promoter_id == nearest.id  # type: ignore[attr-defined]
    assert level_one.explanation["order_line"]["quantity"] == 3
    assert level_one.explanation["formula"] == "10% × 99.99"
    stored = await OrderLine.get(line_ref="A")
    assert (stored.quantity, stored.unit_price, stored.amount) == (3, D("33.33"), D("99.99"))


async def test_a_line_above_quantity_times_unit_price_is_refused_before_anything_is_kept() -> None:
    program = await shop()
    with pytest.raises(Exception) as refused:
        await send(program, paid("O-1", line("A", "100.00", quantity=2, unit_price="40.00")))
    assert getattr(refused.value, "code", None) == "line_amount_mismatch"
    assert await Order.all().count() == 0 and await OrderEvent.all().count() == 0


async def test_every_line_of_a_multi_line_order_earns_at_every_level() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)

    await send_ok(
        program,
        paid("O-2", line("A", "100.00"), line("B", "30.50", product_id="SKU-2"), buyer=buyer),
    )

    assert await amounts_of(program, "O-2") == {
        ("A", 1): D("10.00"),
        ("A", 2): D("5.00"),
        ("B", 1): D("3.05"),
        ("B", 2): D("1.52"),
    }
    order = await order_of(program, "O-2")
    assert (order.status, order.total_amount, order.attributed_promoter_id) == (
        "paid",
        D("130.50"),
        nearest.id,
    )


async def test_a_product_rule_overrides_the_level_rate_on_its_lines_only() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    rule = await CommissionRuleRecord.create(
        program=program, kind="percent", value=D("20"), level=1, product_id="SKU-HOT"
    )

    await send_ok(
        program,
        paid("O-3", line("A", "50.00", product_id="SKU-HOT"), line("B", "50.00"), buyer=buyer),
    )

    commissions = await commissions_of(program, "O-3")
    assert {key: c.amount for key, c in commissions.items()} == {
        ("A", 1): D("10.00"),
        ("A", 2): D("2.50"),
        ("B", 1): D("5.00"),
        ("B", 2): D("2.50"),
    }
    assert (commissions[("A", 1)].rule_id, commissions[("A", 1)].rule_source) == (rule.id, "rule")


async def test_a_promoter_buying_for_themself_starts_the_chain_with_a_self_rebate(
    three_paid_levels: None,
) -> None:
    program = await shop(
        max_levels=3, level_rates=["10", "5", "2"], self_rebate_enabled=True, self_rebate_rate="3"
    )
    top, middle, upline = await chain(program, 3)
    me = await promoter(program, upline)
    someone_else = await promoter(program)
    me_user = await User.get(id=me.user_id)  # type: ignore[attr-defined]
    await bind(program, someone_else, user=me_user)

    await send_ok(program, paid("O-4", line("A", "200.00"), buyer=me_user))

    # Three places: the buyer's rebate, their upline, the upline's upline; top would be fourth.
    commissions = await commissions_of(program, "O-4")
    assert {level: c.promoter_id for (_, level), c in commissions.items()} == {  # type: ignore[attr-defined]
        0: me.id,
        1: upline.id,
        2: middle.id,
    }
    assert {level: c.amount for (_, level), c in commissions.items()} == {
        0: D("6.00"),
        1: D("20.00"),
        2: D("10.00"),
    }
    order = await order_of(program, "O-4")
    assert order.buyer_promoter_id == me.id and order.attributed_promoter_id == me.id
    assert order.attribution["chain"] == "self_purchase"
    assert order.attribution["skipped_levels"] == [
        {"level": 3, "promoter_id": top.id, "reason": "over_level_cap"}
    ]


async def test_at_the_default_cap_a_self_rebate_buyer_and_their_upline_alone_earn() -> None:
    program = await shop(self_rebate_enabled=True, self_rebate_rate="3")
    top, upline = await chain(program, 2)
    me = await promoter(program, upline)
    me_user = await User.get(id=me.user_id)  # type: ignore[attr-defined]

    await send_ok(program, paid("O-4b", line("A", "200.00"), buyer=me_user))

    assert await amounts_of(program, "O-4b") == {("A", 0): D("6.00"), ("A", 1): D("20.00")}
    assert (await order_of(program, "O-4b")).attribution["skipped_levels"] == [
        {"level": 2, "promoter_id": top.id, "reason": "over_level_cap"}
    ]


async def test_at_the_default_cap_a_bound_customer_pays_levels_one_and_two_alone() -> None:
    program = await shop(self_rebate_enabled=True, self_rebate_rate="3")
    top, middle, nearest = await chain(program, 3)
    buyer = await customer()
    await bind(program, nearest, user=buyer)

    await send_ok(program, paid("O-4c", line("A", "200.00"), buyer=buyer))

    commissions = await commissions_of(program, "O-4c")
    assert {level: (c.promoter_id, c.amount) for (_, level), c in commissions.items()} == {  # type: ignore[attr-defined]
        1: (nearest.id, D("20.00")),
        2: (middle.id, D("10.00")),
    }
    assert top.id not in {c.promoter_id for c in commissions.values()}  # type: ignore[attr-defined]


async def test_with_the_self_rebate_off_the_buyer_earns_nothing_but_the_upline_still_does() -> None:
    program = await shop(self_rebate_enabled=False)
    (upline,) = await chain(program, 1)
    me = await promoter(program, upline)
    me_user = await User.get(id=me.user_id)  # type: ignore[attr-defined]

    await send_ok(program, paid("O-5", line("A", "100.00"), buyer=me_user))

    assert await amounts_of(program, "O-5") == {("A", 1): D("10.00")}
    order = await order_of(program, "O-5")
    assert order.attribution["skipped_levels"] == [
        {"level": 0, "promoter_id": me.id, "reason": "self_rebate_disabled"}
    ]


async def test_a_suspended_buyer_profile_buys_as_a_customer_of_their_binding() -> None:
    program = await shop(self_rebate_enabled=True, self_rebate_rate="3")
    (referrer,) = await chain(program, 1)
    me = await promoter(program, status="suspended")
    me_user = await User.get(id=me.user_id)  # type: ignore[attr-defined]
    await bind(program, referrer, user=me_user)

    await send_ok(program, paid("O-6", line("A", "100.00"), buyer=me_user))

    assert await amounts_of(program, "O-6") == {("A", 1): D("10.00")}
    assert (await order_of(program, "O-6")).buyer_promoter_id is None


async def test_a_level_whose_promoter_is_not_approved_is_forfeited_and_the_one_above_earns(
    three_paid_levels: None,
) -> None:
    program = await shop(max_levels=3, level_rates=["10", "5", "2"])
    top, middle, nearest = await chain(program, 3)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await Promoter.filter(id=middle.id).update(status="suspended")

    await send_ok(program, paid("O-7", line("A", "100.00"), buyer=buyer))

    commissions = await commissions_of(program, "O-7")
    assert {level: (c.promoter_id, c.amount) for (_, level), c in commissions.items()} == {  # type: ignore[attr-defined]
        1: (nearest.id, D("10.00")),
        3: (top.id, D("2.00")),
    }
    assert (await order_of(program, "O-7")).attribution["skipped_levels"] == [
        {"level": 2, "promoter_id": middle.id, "reason": "beneficiary_not_approved"}
    ]


async def test_a_suspended_bound_promoter_forfeits_level_one_and_their_upline_earns_level_two(
    three_paid_levels: None,
) -> None:
    program = await shop(max_levels=3, level_rates=["10", "5", "2"])
    top, middle, nearest = await chain(program, 3)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await Promoter.filter(id=nearest.id).update(status="suspended")

    await send_ok(program, paid("O-7b", line("A", "100.00"), buyer=buyer))

    order = await order_of(program, "O-7b")
    assert order.attributed_promoter_id == nearest.id
    assert order.attribution["reason"] == "bound_promoter_forfeits"
    assert order.attribution["attribution"]["binding"]["forfeits_because"] == "promoter_not_active"
    assert order.attribution["skipped_levels"] == [
        {"level": 1, "promoter_id": nearest.id, "reason": "beneficiary_not_approved"}
    ]
    # Forfeited, not passed up: the upline keeps its own level and rate.
    assert await amounts_of(program, "O-7b") == {("A", 2): D("5.00"), ("A", 3): D("2.00")}
    commissions = await commissions_of(program, "O-7b")
    assert {level: c.promoter_id for (_, level), c in commissions.items()} == {  # type: ignore[attr-defined]
        2: middle.id,
        3: top.id,
    }


async def test_at_the_default_cap_a_suspended_bound_promoter_leaves_level_two_alone() -> None:
    program = await shop()
    top, middle, nearest = await chain(program, 3)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await Promoter.filter(id=nearest.id).update(status="suspended")

    await send_ok(program, paid("O-7c", line("A", "100.00"), buyer=buyer))

    assert await amounts_of(program, "O-7c") == {("A", 2): D("5.00")}
    level_two = (await commissions_of(program, "O-7c"))[("A", 2)]
    assert level_two.promoter_id == middle.id  # type: ignore[attr-defined]
    assert top.id != level_two.promoter_id  # type: ignore[attr-defined]


async def test_a_customer_of_a_suspended_promoter_who_touches_another_is_theirs() -> None:
    program = await shop(bind_mode="first_touch")
    (upline,) = await chain(program, 1)
    suspended = await promoter(program, upline)
    other = await promoter(program)
    buyer = await customer()
    await bind(program, suspended, user=buyer, at=T0 - timedelta(days=3))
    await Promoter.filter(id=suspended.id).update(status="suspended")
    # The suspended promoter's binding no longer holds the customer against a new touch.
    await bind(program, other, user=buyer, at=T0 - timedelta(days=1))

    await send_ok(program, paid("O-7d", line("A", "100.00"), buyer=buyer))

    order = await order_of(program, "O-7d")
    assert (order.attributed_promoter_id, order.attribution["reason"]) == (
        other.id,
        "binding_only",
    )
    assert await amounts_of(program, "O-7d") == {("A", 1): D("10.00")}


async def test_a_suspended_promoter_touching_a_customer_binds_nobody_and_earns_nothing() -> None:
    program = await shop(bind_mode="last_touch")
    alice = await promoter(program)
    bob = await promoter(program, status="suspended")
    buyer = await customer()
    await bind(program, alice, user=buyer, at=T0 - timedelta(days=3))
    await bind(program, bob, user=buyer, at=T0 - timedelta(days=1))

    await send_ok(program, paid("O-7e", line("A", "100.00"), buyer=buyer))

    assert (await order_of(program, "O-7e")).attributed_promoter_id == alice.id
    assert await amounts_of(program, "O-7e") == {("A", 1): D("10.00")}


@pytest.mark.parametrize(("bind_mode", "winner"), [("first_touch", 0), ("last_touch", 1)])
async def test_first_or_last_touch_decides_who_the_order_is_attributed_to(
    bind_mode: str, winner: int
) -> None:
    program = await shop(bind_mode=bind_mode)
    alice, bob = await promoter(program), await promoter(program)
    buyer = await customer()
    await bind(program, alice, user=buyer, at=T0 - timedelta(days=5))
    await bind(program, bob, user=buyer, at=T0 - timedelta(days=2))

    await send_ok(program, paid("O-8", line("A", "100.00"), buyer=buyer))

    expected = [alice, bob][winner]
    order = await order_of(program, "O-8")
    assert order.attributed_promoter_id == expected.id
    evidence = order.attribution["attribution"]
    assert evidence["binding"]["bind_mode"] == bind_mode
    assert evidence["binding"]["source"] == "visit"
    assert evidence["reason"] == "binding_only"
    assert (await commissions_of(program, "O-8"))[("A", 1)].promoter_id == expected.id  # type: ignore[attr-defined]


async def test_a_coupon_code_wins_over_the_binding_and_binds_a_new_customer() -> None:
    program = await shop()
    alice, bob = await promoter(program), await promoter(program)
    bob_user = await User.get(id=bob.user_id)  # type: ignore[attr-defined]
    code = await create_code(
        user_id=bob_user.id, program_id=program.id, kind="voucher", code="BOB10"
    )
    await approve_pending_codes(program.id)
    buyer = await customer()
    await bind(program, alice, user=buyer)

    await send_ok(program, paid("O-9", line("A", "100.00"), buyer=buyer, coupon_code="bob10"))

    order = await order_of(program, "O-9")
    assert order.attributed_promoter_id == bob.id
    assert order.attribution["reason"] == "coupon_wins"
    assert order.attribution["attribution"]["coupon"]["code"] == "BOB10"
    # first_touch keeps Alice's live binding; the code is recorded as a touch that kept it.
    assert order.attribution["coupon_binding"] == {
        "action": "keep",
        "reason": "first_touch_keeps_existing",
    }

    newcomer = await customer("Nina")
    await send_ok(program, paid("O-10", line("A", "100.00"), buyer=newcomer, coupon_code="BOB10"))
    binding = await Binding.get(customer_user_id=newcomer.id)
    assert (binding.promoter_id, binding.source, binding.code_id) == (bob.id, "code", code.id)  # type: ignore[attr-defined]


async def test_an_order_nobody_earns_on_is_kept_with_its_evidence() -> None:
    program = await shop()
    await send_ok(program, paid("O-11", line("A", "80.00"), coupon_code="NOSUCH"))

    order = await order_of(program, "O-11")
    assert order.attributed_promoter_id is None
    assert order.attribution["chain"] == "nobody"
    assert order.attribution["refusal"] == "no_beneficiary"
    assert order.attribution["attribution"]["coupon"]["ignored_because"] == (
        "unknown_or_inactive_code"
    )
    assert await amounts_of(program, "O-11") == {}


@pytest.mark.parametrize(("placed_after_binding", "earns"), [
    (timedelta(days=7) - timedelta(seconds=1), True),
    (timedelta(days=7), False),
])  # fmt: skip
async def test_an_order_earns_only_strictly_inside_the_commission_window(
    placed_after_binding: timedelta, earns: bool
) -> None:
    program = await shop(commission_window_days=7, attribution_window_days=30)
    (nearest,) = await chain(program, 1)
    buyer = await customer()
    bound_at = T0 - timedelta(days=10)
    await bind(program, nearest, user=buyer, at=bound_at)

    await send_ok(
        program,
        paid("O-12", line("A", "100.00"), buyer=buyer, placed_at=bound_at + placed_after_binding),
    )

    order = await order_of(program, "O-12")
    assert order.attributed_promoter_id == nearest.id
    assert bool(await amounts_of(program, "O-12")) is earns
    assert order.attribution["refusal"] == (None if earns else "outside_commission_window")


async def test_buyers_are_found_by_unionid_or_by_the_stores_own_customer_id() -> None:
    program = await shop()
    alice, bob = await promoter(program), await promoter(program)
    member = await User.create(appid="wx-other-app", openid="o-x", unionid="u-1")
    await bind(program, alice, user=member)
    await bind(program, bob, external_id="crm-42")

    body = paid("O-13", line("A", "100.00"))
    body["order"]["buyer"] = {"unionid": "u-1"}
    await send_ok(program, body)
    await send_ok(program, paid("O-14", line("A", "100.00"), buyer_external_id="crm-42"))

    first, second = await order_of(program, "O-13"), await order_of(program, "O-14")
    assert (first.buyer_user_id, first.attributed_promoter_id) == (member.id, alice.id)  # type: ignore[attr-defined]
    assert first.attribution["buyer"]["matched_by"] == "unionid"
    assert (second.buyer_user_id, second.attributed_promoter_id) == (None, bob.id)  # type: ignore[attr-defined]


async def test_new_commissions_are_pending_locked_and_carry_snapshot_and_history() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    body = paid("O-15", line("A", "100.00"), buyer=buyer)

    await send_ok(program, body)

    event = await OrderEvent.get(event_id=body["event_id"])
    assert (event.status, event.error_code, event.applied_at is not None) == (
        "applied",
        None,
        True,
    )
    for commission in (await commissions_of(program, "O-15")).values():
        assert (commission.status, commission.unlock_at) == ("pending", None)
        assert commission.snapshot["amount"] == str(commission.amount)
        assert commission.original_amount == commission.amount
        changes = await CommissionChange.filter(commission_id=commission.id)
        assert [(c.action, c.to_status, c.order_event_id) for c in changes] == [
            ("created", "pending", event.id)
        ]
    level_one = (await commissions_of(program, "O-15"))[("A", 1)]
    assert [m["level"] for m in level_one.upline_snapshot] == [2]


async def test_an_order_in_another_currency_is_refused_and_recorded_as_rejected() -> None:
    program = await shop()
    body = paid("O-16", line("A", "100.00"), currency="USD")

    recorded = await send(program, body)

    assert recorded.outcome.status_code == 422
    assert recorded.outcome.body["error"]["code"] == "currency_mismatch"
    assert await Order.all().count() == 0
    event = await OrderEvent.get(event_id=body["event_id"])
    assert (event.status, event.error_code) == ("rejected", "currency_mismatch")


async def test_a_second_paid_event_for_an_existing_order_is_refused_as_order_exists() -> None:
    program = await shop()
    await send_ok(program, paid("O-17", line("A", "100.00")))

    again = await send(program, paid("O-17", line("A", "999.00")))

    assert again.outcome.status_code == 409
    assert again.outcome.body["error"]["code"] == "order_exists"
    assert (await order_of(program, "O-17")).total_amount == D("100.00")


async def test_an_order_naming_a_site_of_another_program_is_refused() -> None:
    program = await shop()
    recorded = await send(program, paid("O-18", line("A", "10.00"), site_id=999999))
    assert recorded.outcome.body["error"]["code"] == "unknown_site"
