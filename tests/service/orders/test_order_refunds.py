"""order.refunded, order.completed and order.cancelled through the real use case."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from server.models import (
    Commission,
    CommissionRuleRecord,
    LedgerEntry,
    Order,
    OrderEvent,
    OrderLine,
    Program,
    Promoter,
)
from server.services.ledger.postings import post_movement
from tests.ledger_checks import assert_ledger_reconciles
from tests.order_builders import (
    T0,
    amounts_of,
    available,
    bind,
    cancelled,
    chain,
    commissions_of,
    completed,
    customer,
    history_of,
    ledger_kinds,
    line,
    order_of,
    paid,
    refunded,
    send,
    send_ok,
    settle_order,
    shop,
)

pytestmark = pytest.mark.usefixtures("db")
D = Decimal


async def _referred_order(
    external_id: str, *lines: dict[str, Any], **program_settings: Any
) -> tuple[Program, Promoter, Promoter]:
    program = await shop(**program_settings)
    top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await send_ok(program, paid(external_id, *(lines or (line("A", "100.00"),)), buyer=buyer))
    return program, top, nearest


async def test_a_partial_line_refund_lowers_every_level_pro_rata_with_history() -> None:
    program, _top, _nearest = await _referred_order("O-1", line("A", "100.00"), line("B", "50.00"))
    body = refunded("O-1", lines={"A": "30.00"})

    outcome = await send_ok(program, body)

    assert outcome["refunded"] == {"A": "30.00"}
    assert outcome["commissions"] == {"recomputed": 2, "reversed": "4.50", "clawed_back": "0"}
    assert await amounts_of(program, "O-1") == {
        ("A", 1): D("7.00"),
        ("A", 2): D("3.50"),
        ("B", 1): D("5.00"),
        ("B", 2): D("2.50"),
    }
    level_two = (await commissions_of(program, "O-1"))[("A", 2)]
    assert await history_of(level_two) == [
        ("created", D("0"), D("5.00")),
        ("refund", D("5.00"), D("3.50")),
    ]
    event = await OrderEvent.get(event_id=body["event_id"])
    refund_change = await level_two.changes.filter(action="refund").first()  # type: ignore[attr-defined]
    assert refund_change.order_event_id == event.id
    assert level_two.explanation["recomputed"][-1] == {
        "net_before": "100.00",
        "amount_before": "5.00",
        "net": "70.00",
        "amount": "3.50",
    }
    order = await order_of(program, "O-1")
    assert (order.status, order.refunded_amount) == ("paid", D("30.00"))


async def test_several_partial_refunds_on_level_two_end_where_one_refund_would() -> None:
    split, _, _ = await _referred_order("O-2", line("A", "33.33"))
    whole, _, _ = await _referred_order("O-3", line("A", "33.33"))

    for part in ("0.01", "9.99", "0.07"):
        await send_ok(split, refunded("O-2", lines={"A": part}))
    await send_ok(whole, refunded("O-3", lines={"A": "10.07"}))

    # 5% of 23.26 = 1.163 → 1.16, whatever the steps were.
    assert await amounts_of(split, "O-2") == await amounts_of(whole, "O-3")
    assert (await amounts_of(split, "O-2"))[("A", 2)] == D("1.16")


async def test_a_whole_order_amount_is_split_pro_rata_with_the_cents_left_to_the_largest_line() -> (
    None
):
    program, _, _ = await _referred_order(
        "O-4", line("A", "10.00"), line("B", "20.00"), line("C", "20.00")
    )

    outcome = await send_ok(program, refunded("O-4", amount="10.01"))

    # Shares 2.002 / 4.004 / 4.004 round down to 2.00 / 4.00 / 4.00; the cent left over goes
    # to the largest line, the later one on a tie.
    assert outcome["refunded"] == {"A": "2.00", "B": "4.00", "C": "4.01"}
    refunded_by_line = {
        line.line_ref: line.refunded_amount for line in await OrderLine.filter(line_ref__in="ABC")
    }
    assert refunded_by_line == {"A": D("2.00"), "B": D("4.00"), "C": D("4.01")}


async def test_a_full_refund_reverses_every_commission_and_marks_the_order_refunded() -> None:
    program, _, _ = await _referred_order("O-5", line("A", "60.00"), line("B", "40.00"))
    await send_ok(program, refunded("O-5", lines={"A": "10.00"}))

    outcome = await send_ok(program, refunded("O-5", full=True))

    assert outcome["order"]["status"] == "refunded"
    assert outcome["refunded"] == {"A": "50.00", "B": "40.00"}
    for commission in (await commissions_of(program, "O-5")).values():
        assert (commission.status, commission.amount) == ("reversed", D("0.00"))
    again = await send(program, refunded("O-5", lines={"A": "1.00"}))
    assert again.outcome.body["error"]["code"] == "order_already_refunded"


async def test_a_refund_above_what_is_left_of_the_line_is_refused_and_changes_nothing() -> None:
    program, _, _ = await _referred_order("O-6", line("A", "100.00"))
    await send_ok(program, refunded("O-6", lines={"A": "80.00"}))
    body = refunded("O-6", lines={"A": "20.01"})

    recorded = await send(program, body)

    assert recorded.outcome.status_code == 422
    assert recorded.outcome.body["error"] == {
        "code": "refund_exceeds_line",
        "message": "the refund is more than what is left of the line",
        "fields": {"order.lines.0.amount": "at most 20.00"},
    }
    assert await amounts_of(program, "O-6") == {("A", 1): D("2.00"), ("A", 2): D("1.00")}
    assert (await OrderLine.get(line_ref="A")).refunded_amount == D("80.00")
    replay = await send(program, body)
    assert (replay.replayed, replay.outcome) == (True, recorded.outcome)


async def test_the_same_refund_id_under_another_event_id_is_refused() -> None:
    program, _, _ = await _referred_order("O-7")
    await send_ok(program, refunded("O-7", refund_id="RF-1", lines={"A": "10.00"}))

    again = await send(program, refunded("O-7", refund_id="RF-1", lines={"A": "10.00"}))

    assert again.outcome.body["error"]["code"] == "refund_exists"
    assert (await OrderLine.get(line_ref="A")).refunded_amount == D("10.00")


async def test_a_fixed_rule_is_refunded_pro_rata_to_the_line_net_from_its_snapshot() -> None:
    program = await shop()
    (nearest,) = await chain(program, 1)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    rule = await CommissionRuleRecord.create(
        program=program, kind="fixed", value=D("3"), level=1, product_id="SKU-F"
    )
    await send_ok(
        program,
        paid("O-8", line("A", "90.00", quantity=3, unit_price="30.00", product_id="SKU-F"),
             buyer=buyer),
    )  # fmt: skip
    assert await amounts_of(program, "O-8") == {("A", 1): D("9.00")}
    # Today's rules do not matter to a refund: the commission keeps its own snapshot.
    await CommissionRuleRecord.filter(id=rule.id).update(value=D("50"))

    await send_ok(program, refunded("O-8", lines={"A": "30.00"}))

    assert await amounts_of(program, "O-8") == {("A", 1): D("6.00")}


async def test_fixed_rules_worth_more_than_a_line_pay_at_most_its_net_refunds_included() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    for level in (1, 2):
        await CommissionRuleRecord.create(
            program=program, kind="fixed", value=D("6"), level=level, product_id="SKU-F"
        )
    await send_ok(program, paid("O-9", line("A", "10.00", product_id="SKU-F"), buyer=buyer))
    # The nearer level first; the farther one gets what is left of the 10.00.
    assert await amounts_of(program, "O-9") == {("A", 1): D("6.00"), ("A", 2): D("4.00")}
    assert await _lines_left(program, "O-9") == ["10.00", "4.00"]

    await send_ok(program, refunded("O-9", lines={"A": "5.00"}))

    assert await amounts_of(program, "O-9") == {("A", 1): D("3.00"), ("A", 2): D("2.00")}
    farther = (await commissions_of(program, "O-9"))[("A", 2)]
    assert farther.explanation["capped_by"] == "line_left"
    # The explanations show what the amounts now come from: 5.00 net, 2.00 left by level 1.
    assert await _lines_left(program, "O-9") == ["5.00", "2.00"]


async def _lines_left(program: Program, external_id: str) -> list[str]:
    """What each level's explanation says the nearer levels left of line A, nearest first."""
    commissions = await commissions_of(program, external_id)
    return [commissions[("A", level)].explanation["caps"]["line_left"] for level in (1, 2)]


async def test_a_level_worth_less_than_a_cent_leaves_the_whole_line_to_the_farther_ones() -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await CommissionRuleRecord.create(
        program=program, kind="fixed", value=D("50"), level=2, product_id="SKU-F"
    )
    # Level 1 earns 10% of 0.09: less than a cent, so no commission is kept for it, and
    # nothing of the line is set aside for it, then or after a refund.
    await send_ok(program, paid("O-10", line("A", "0.09", product_id="SKU-F"), buyer=buyer))
    assert await amounts_of(program, "O-10") == {("A", 2): D("0.09")}

    await send_ok(program, refunded("O-10", lines={"A": "0.04"}))

    assert await amounts_of(program, "O-10") == {("A", 2): D("0.05")}


async def test_a_capped_commission_keeps_its_cap_while_the_refunded_net_still_reaches_it() -> None:
    program = await shop()
    (nearest,) = await chain(program, 1)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await CommissionRuleRecord.create(
        program=program, kind="percent", value=D("10"), level=1, cap_per_line=D("5.00")
    )
    await send_ok(program, paid("O-9", line("A", "100.00"), buyer=buyer))

    await send_ok(program, refunded("O-9", lines={"A": "40.00"}))
    assert await amounts_of(program, "O-9") == {("A", 1): D("5.00")}
    await send_ok(program, refunded("O-9", lines={"A": "20.00"}))
    assert await amounts_of(program, "O-9") == {("A", 1): D("4.00")}


async def test_completion_starts_the_freeze_period_of_the_orders_commissions() -> None:
    program, _, _ = await _referred_order("O-10", freeze_days=10)
    completed_at = T0 + timedelta(days=3)

    outcome = await send_ok(program, completed("O-10", at=completed_at))

    assert outcome["commissions"]["count"] == 2
    for commission in (await commissions_of(program, "O-10")).values():
        assert commission.unlock_at == completed_at + timedelta(days=10)
    order = await order_of(program, "O-10")
    assert (order.status, order.completed_at) == ("completed", completed_at)
    twice = await send(program, completed("O-10", at=completed_at))
    assert twice.outcome.body["error"]["code"] == "order_illegal_transition"


async def test_cancelling_a_paid_order_rejects_its_commissions() -> None:
    program, _, _ = await _referred_order("O-11")

    outcome = await send_ok(program, cancelled("O-11"))

    assert outcome["commissions"] == {"rejected": 2, "reversed": 0, "clawed_back": "0"}
    for commission in (await commissions_of(program, "O-11")).values():
        assert (commission.status, commission.reject_reason) == ("rejected", "order cancelled")
        assert [action for action, *_ in await history_of(commission)] == ["created", "cancel"]
    assert (await order_of(program, "O-11")).status == "cancelled"
    refund = await send(program, refunded("O-11", lines={"A": "1.00"}))
    assert refund.outcome.body["error"]["code"] == "order_cancelled"


async def test_a_completed_order_cannot_be_cancelled_a_return_is_a_refund() -> None:
    program, _, _ = await _referred_order("O-12")
    await send_ok(program, completed("O-12"))

    recorded = await send(program, cancelled("O-12"))

    assert recorded.outcome.status_code == 409
    assert recorded.outcome.body["error"]["code"] == "order_completed"
    assert {c.status for c in (await commissions_of(program, "O-12")).values()} == {"pending"}


async def test_a_refund_after_settlement_claws_back_from_the_available_balance() -> None:
    program, top, nearest = await _referred_order("O-13", line("A", "200.00"))
    await settle_order(program, "O-13", completed_at=T0 + timedelta(days=1))
    assert await available(nearest.id) == D("20.00")

    outcome = await send_ok(program, refunded("O-13", lines={"A": "50.00"}))

    assert outcome["commissions"]["clawed_back"] == "7.50"
    settled = await commissions_of(program, "O-13")
    assert {key: (c.status, c.amount, c.settled_amount) for key, c in settled.items()} == {
        ("A", 1): ("settled", D("15.00"), D("15.00")),
        ("A", 2): ("settled", D("7.50"), D("7.50")),
    }
    assert await ledger_kinds(nearest.id) == [("settle", D("20.00")), ("clawback", D("-5.00"))]
    assert await available(top.id) == D("7.50")
    await assert_ledger_reconciles()


async def test_a_refund_after_payout_leaves_a_negative_balance_that_later_earnings_offset() -> None:
    program, _top, nearest = await _referred_order("O-14", line("A", "100.00"))
    await settle_order(program, "O-14", completed_at=T0 + timedelta(days=1))
    async with in_transaction() as conn:
        for kind, postings in (
            ("hold", [("available", D("-10.00")), ("on_hold", D("10.00"))]),
            ("pay", [("on_hold", D("-10.00")), ("paid", D("10.00"))]),
        ):
            await post_movement(
                conn=conn, promoter_id=nearest.id, program_id=program.id, currency="CNY",
                kind=kind, postings=postings, reference=f"payout:1:{kind}",
            )  # fmt: skip
        await Commission.filter(program_id=program.id).update(status="paid")

    await send_ok(program, refunded("O-14", full=True))

    level_one = (await commissions_of(program, "O-14"))[("A", 1)]
    assert (level_one.status, level_one.amount, level_one.settled_amount) == (
        "reversed",
        D("0.00"),
        D("0.00"),
    )
    assert await available(nearest.id) == D("-10.00")

    buyer = await customer("Later")
    await bind(program, nearest, user=buyer)
    await send_ok(program, paid("O-15", line("A", "150.00"), buyer=buyer))
    await settle_order(program, "O-15", completed_at=T0 + timedelta(days=2))
    assert await available(nearest.id) == D("5.00")
    kinds = [kind for kind, _ in await ledger_kinds(nearest.id)]
    assert kinds == ["settle", "hold", "clawback", "settle"]
    assert await LedgerEntry.filter(kind="pay", account="paid", promoter_id=nearest.id).count() == 1
    await assert_ledger_reconciles()


async def test_cancelling_a_paid_order_whose_commissions_were_settled_claws_them_back() -> None:
    program, _top, nearest = await _referred_order("O-16", line("A", "100.00"))
    await settle_order(program, "O-16", completed_at=T0 + timedelta(days=1))
    # Settled before completion can only come from a manual correction; staged here directly.
    await Order.filter(program_id=program.id, external_id="O-16").update(status="paid")

    outcome = await send_ok(program, cancelled("O-16"))

    assert outcome["commissions"] == {"rejected": 0, "reversed": 2, "clawed_back": "15.00"}
    assert await available(nearest.id) == D("0.00")
    await assert_ledger_reconciles()
