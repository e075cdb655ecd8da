"""Properties of the money law over random orders and event sequences, through the real use
cases on the database: refunds in any split end where one refund would, the ledger always
reconciles, and no commission ever exceeds what its line has left (each commission on its
own: a fixed-amount rule may make the levels of a small line add up to more than it)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.models import Commission, CommissionRuleRecord, LedgerEntry, OrderLine, Program, User
from server.services.commissions.settlement import approve_due_commissions, settle_due_commissions
from tests.ledger_checks import assert_ledger_reconciles
from tests.order_builders import (
    T0,
    amounts_of,
    bind,
    cancelled,
    chain,
    completed,
    customer,
    line,
    paid,
    promoter,
    refunded,
    send,
    shop,
)

D = Decimal
PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _money(cents: int) -> str:
    return str(D(cents).scaleb(-2))


@st.composite
def order_lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1-3 lines: amount in cents, quantity, and a unit price that covers the amount."""
    lines = []
    for index in range(draw(st.integers(min_value=1, max_value=3))):
        cents = draw(st.integers(min_value=1, max_value=500_000))
        quantity = draw(st.integers(min_value=1, max_value=5))
        unit_cents = -(-cents // quantity)
        product = draw(st.sampled_from(["SKU-1", "SKU-FIX", "SKU-CAP"]))
        lines.append(
            line(
                f"L{index}",
                _money(cents),
                quantity=quantity,
                unit_price=_money(unit_cents),
                product_id=product,
            )
        )
    return lines


async def _program_with_buyer(self_purchase: bool) -> tuple[Program, User]:
    """Three paying levels plus a rebate (MAX_COMMISSION_LEVELS=3: a self purchase pays the
    rebate and two levels); a fixed and a capped product rule; a buyer who is either an
    approved promoter (self purchase) or a customer bound to one."""
    program = await shop(
        max_levels=3,
        level_rates=["10", "5", "2.5"],
        self_rebate_enabled=True,
        self_rebate_rate="3",
    )
    await CommissionRuleRecord.create(
        program=program, kind="fixed", value=D("1.75"), level=1, product_id="SKU-FIX"
    )
    await CommissionRuleRecord.create(
        program=program, kind="percent", value=D("20"), level=2, product_id="SKU-CAP",
        cap_per_line=D("3.00"),
    )  # fmt: skip
    _top, _middle, nearest = await chain(program, 3)
    if self_purchase:
        buyer_profile = await promoter(program, nearest)
        return program, await User.get(id=buyer_profile.user_id)  # type: ignore[attr-defined]
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    return program, buyer


@st.composite
def refund_splits(draw: st.DrawFn, lines: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Partial refunds (line ref, cents), each line's parts adding up to at most its amount."""
    parts: list[tuple[str, int]] = []
    for body in lines:
        left = int(D(body["amount"]) * 100)
        for _ in range(draw(st.integers(min_value=0, max_value=4))):
            if left == 0:
                break
            part = draw(st.integers(min_value=1, max_value=left))
            parts.append((body["line_ref"], part))
            left -= part
    return draw(st.permutations(parts))


@PROPERTY_SETTINGS
@given(data=st.data(), self_purchase=st.booleans())
async def test_partial_refunds_in_any_split_end_where_one_refund_of_the_total_would(
    db: str, three_paid_levels: None, data: st.DataObject, self_purchase: bool
) -> None:
    lines = data.draw(order_lines())
    parts = data.draw(refund_splits(lines))
    program, buyer = await _program_with_buyer(self_purchase)
    await send(program, paid("SPLIT", *lines, buyer=buyer))
    await send(program, paid("WHOLE", *lines, buyer=buyer))
    assert await amounts_of(program, "SPLIT") == await amounts_of(program, "WHOLE")

    totals: dict[str, int] = {}
    for ref, cents in parts:
        recorded = await send(program, refunded("SPLIT", lines={ref: _money(cents)}))
        assert recorded.outcome.status_code == 200, recorded.outcome.body
        totals[ref] = totals.get(ref, 0) + cents
    if totals:
        one = {ref: _money(cents) for ref, cents in totals.items()}
        assert (await send(program, refunded("WHOLE", lines=one))).outcome.status_code == 200

    assert await amounts_of(program, "SPLIT") == await amounts_of(program, "WHOLE")


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("refund_line"), st.integers(0, 2), st.integers(1, 600_000)),
        st.tuples(st.just("refund_amount"), st.integers(1, 1_500_000)),
        st.tuples(st.just("refund_full")),
        st.tuples(st.just("complete")),
        st.tuples(st.just("cancel")),
        st.tuples(st.just("settle")),
        st.tuples(st.just("replay"), st.integers(0, 50)),
    ),
    min_size=1,
    max_size=8,
)


def _event_for(action: tuple[Any, ...], lines: list[dict[str, Any]]) -> dict[str, Any] | None:
    kind = action[0]
    if kind == "refund_line":
        ref = lines[action[1] % len(lines)]["line_ref"]
        return refunded("SEQ", lines={ref: _money(action[2])})
    if kind == "refund_amount":
        return refunded("SEQ", amount=_money(action[1]))
    if kind == "refund_full":
        return refunded("SEQ", full=True)
    if kind == "complete":
        return completed("SEQ", at=T0 + timedelta(days=1))
    if kind == "cancel":
        return cancelled("SEQ")
    return None


async def _assert_invariants(program: Program) -> None:
    await assert_ledger_reconciles()
    nets = {
        line.id: line.amount - line.refunded_amount
        for line in await OrderLine.filter(order__program_id=program.id)
    }
    for commission in await Commission.filter(program_id=program.id):
        net = nets[commission.order_line_id]  # type: ignore[attr-defined]
        assert D(0) <= commission.amount <= net
        if commission.status in {"settled", "paid"}:
            assert commission.settled_amount == commission.amount
    # What the ledger credited is exactly what the commissions still hold as settled.
    credited = sum(
        (e.amount for e in await LedgerEntry.filter(program_id=program.id, account="available")),
        D(0),
    )
    settled = sum((c.settled_amount for c in await Commission.filter(program_id=program.id)), D(0))
    assert credited == settled


@PROPERTY_SETTINGS
@given(data=st.data(), self_purchase=st.booleans(), actions=ACTIONS)
async def test_any_event_sequence_keeps_the_ledger_reconciled_and_commissions_within_lines(
    db: str,
    three_paid_levels: None,
    data: st.DataObject,
    self_purchase: bool,
    actions: list[tuple[Any, ...]],
) -> None:
    lines = data.draw(order_lines())
    program, buyer = await _program_with_buyer(self_purchase)
    sent: list[dict[str, Any]] = [paid("SEQ", *lines, buyer=buyer)]
    assert (await send(program, sent[0])).outcome.status_code == 200

    for action in actions:
        if action[0] == "settle":
            after_freeze = T0 + timedelta(days=1 + program.freeze_days, seconds=1)
            await Program.filter(id=program.id).update(auto_approve_rules={"enabled": True})
            await approve_due_commissions(now=after_freeze)
            await settle_due_commissions(now=after_freeze)
            continue
        if action[0] == "replay":
            body = sent[action[1] % len(sent)]
            first_outcome = (await send(program, body)).outcome
            assert (await send(program, body)).outcome == first_outcome
            continue
        body = _event_for(action, lines)
        assert body is not None
        outcome = (await send(program, body)).outcome
        assert outcome.status_code in {200, 409, 422}, outcome.body
        sent.append(body)
        await _assert_invariants(program)
    await _assert_invariants(program)
