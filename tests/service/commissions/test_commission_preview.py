"""The engine's inputs read from storage (rules, chain, caps, earned totals) and the dry run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.domain.commissions.calc import evaluate_order
from server.domain.commissions.inputs import ChainKind, OrderLine, OrderSnapshot
from server.domain.errors import ValidationFailed
from server.models import (
    Binding,
    Commission,
    CommissionRuleRecord,
    Order,
    PeriodCapRecord,
    Program,
    Promoter,
    User,
)
from server.models import OrderLine as OrderLineRecord
from server.services.commissions.preview import build_commission_inputs, preview_order
from server.services.programs.settings import create_program
from server.services.promoters.hierarchy import attach_promoter

ADMIN = Principal(kind="staff", id=7, roles=frozenset({"admin"}))
PLACED_AT = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
D = Decimal
_numbers = itertools.count(1)


# ---------------------------------------------------------------- builders (shared)


async def shop(**changes: Any) -> Program:
    """A CNY program paying L1 10% / L2 5% unless told otherwise."""
    document = {"name": "Shop", "currency": "CNY", "max_levels": 2, "level_rates": ["10", "5"]}
    return await create_program(document={**document, **changes}, actor=ADMIN)


async def member(
    program: Program,
    parent: Promoter | None = None,
    *,
    status: str = "approved",
    tier: str = "default",
    nickname: str = "Nick",
) -> Promoter:
    """A promoter placed in the tree (approved first, then moved to `status`); give uplines
    their final status with `set_status` once their team is placed."""
    user = await User.create(appid="wx", openid=f"o{next(_numbers)}", nickname=nickname)
    promoter = await Promoter.create(
        program=program,
        user=user,
        status="approved",
        tier=tier,
        real_name="Real Name",
        phone="13812345678",
    )
    async with in_transaction() as conn:
        await attach_promoter(
            promoter_id=promoter.id,
            parent_id=parent.id if parent else None,
            program_id=program.id,
            conn=conn,
        )
    if status != "approved":
        await set_status(promoter, status)
    return promoter


async def set_status(promoter: Promoter, status: str) -> None:
    await Promoter.filter(id=promoter.id).update(status=status)
    promoter.status = status


def snapshot(
    program: Program, *lines: OrderLine, placed_at: datetime = PLACED_AT, **order: Any
) -> OrderSnapshot:
    return OrderSnapshot(
        program_id=program.id,
        currency=program.currency,
        placed_at=placed_at,
        lines=lines or (line(),),
        **order,
    )


def line(
    line_id: str = "1", product_id: str = "P1", amount: str = "100.00", **more: Any
) -> OrderLine:
    return OrderLine(
        line_id=line_id,
        product_id=product_id,
        quantity=1,
        unit_price=D(amount),
        amount=D(amount),
        **more,
    )


async def stored_order(
    program: Program,
    *,
    placed_at: datetime = PLACED_AT,
    buyer: User | None = None,
    buyer_promoter_id: int | None = None,
    product_id: str = "P1",
    amount: str = "100.00",
) -> tuple[Order, OrderLineRecord]:
    order = await Order.create(
        program=program,
        external_id=f"EXT-{next(_numbers)}",
        status="paid",
        currency=program.currency,
        total_amount=D(amount),
        buyer_user=buyer,
        buyer_openid=buyer.openid if buyer else None,
        buyer_promoter_id=buyer_promoter_id,
        placed_at=placed_at,
        paid_at=placed_at,
    )
    order_line = await OrderLineRecord.create(
        order=order,
        line_ref="1",
        product_id=product_id,
        quantity=1,
        unit_price=D(amount),
        amount=D(amount),
    )
    return order, order_line


async def stored_commission(
    order: Order,
    order_line: OrderLineRecord,
    promoter: Promoter,
    *,
    level: int = 1,
    amount: str = "10.00",
    status: str = "pending",
    rate: str = "10",
    explanation: dict[str, Any] | None = None,
) -> Commission:
    explanation = {
        "base": str(order_line.amount),
        "formula": f"{rate}% × {order_line.amount}",
        "amount": amount,
        "rule": {"source": "program_level", "id": None},
        **(explanation or {}),
    }
    return await Commission.create(
        program_id=order.program_id,  # type: ignore[attr-defined]
        order=order,
        order_line=order_line,
        promoter=promoter,
        level=level,
        currency="CNY",
        status=status,
        kind="percent",
        rate=D(rate),
        quantity=order_line.quantity,
        line_amount=order_line.amount,
        base_amount=order_line.amount,
        rule_source="program_level",
        amount=D(amount),
        original_amount=D(amount),
        explanation=explanation,
    )


async def rule(program: Program, value: str, **scope: Any) -> CommissionRuleRecord:
    return await CommissionRuleRecord.create(
        program=program, kind=scope.pop("kind", "percent"), value=D(value), **scope
    )


# ---------------------------------------------------------------- inputs


async def test_the_most_specific_stored_rule_wins_for_each_line(db: str) -> None:
    program = await shop()
    seller = await member(program)
    everywhere = await rule(program, "12", level=1)
    shoes = await rule(program, "15", level=1, category="shoes")
    boots = await rule(program, "20", level=1, product_id="BOOT", priority=-5)
    await rule(program, "90", level=1, product_id="BOOT", enabled=False)
    await rule(program, "80", level=1, valid_to=PLACED_AT)  # ended exactly when the order came
    order = snapshot(
        program,
        line("1", "BOOT", category="shoes"),
        line("2", "SANDAL", category="shoes"),
        line("3", "HAT"),
    )
    terms, rules, chain, caps, earned = await build_commission_inputs(
        program=program,
        order=order,
        buyer_promoter_id=None,
        attributed_promoter_id=seller.id,
        bound_at=PLACED_AT - timedelta(days=1),
    )
    assert sorted(r.id for r in rules) == sorted([everywhere.id, shoes.id, boots.id])
    evaluation = evaluate_order(
        order=order, terms=terms, rules=rules, chain=chain, period_caps=caps, period_earned=earned
    )
    assert [(c.line_id, c.rule_id, c.amount) for c in evaluation.lines] == [
        ("1", boots.id, D("20.00")),
        ("2", shoes.id, D("15.00")),
        ("3", everywhere.id, D("12.00")),
    ]


async def test_a_suspended_upline_forfeits_its_level_and_the_level_above_still_earns(
    db: str, three_paid_levels: None
) -> None:
    program = await shop(max_levels=3, level_rates=["10", "5", "2"])
    top = await member(program, tier="gold")
    middle = await member(program, top)
    seller = await member(program, middle)
    await set_status(middle, "suspended")
    order = snapshot(program)
    terms, rules, chain, _caps, _earned = await build_commission_inputs(
        program=program,
        order=order,
        buyer_promoter_id=None,
        attributed_promoter_id=seller.id,
        bound_at=None,
    )
    assert chain.kind == ChainKind.REFERRED
    assert [(m.promoter_id, m.status, m.tier) for m in chain.members] == [
        (seller.id, "approved", "default"),
        (middle.id, "suspended", "default"),
        (top.id, "approved", "gold"),
    ]
    evaluation = evaluate_order(order=order, terms=terms, rules=rules, chain=chain)
    assert [(c.level, c.promoter_id, c.amount) for c in evaluation.lines] == [
        (1, seller.id, D("10.00")),
        (3, top.id, D("2.00")),
    ]
    assert [(s.level, s.reason) for s in evaluation.skipped] == [(2, "beneficiary_not_approved")]


async def test_an_approved_buyer_starts_their_own_chain_with_the_rebate(db: str) -> None:
    program = await shop(self_rebate_enabled=True, self_rebate_rate="3")
    parent = await member(program)
    buyer = await member(program, parent)
    elsewhere = await member(program)
    order = snapshot(program)
    terms, rules, chain, _caps, _earned = await build_commission_inputs(
        program=program,
        order=order,
        buyer_promoter_id=buyer.id,
        attributed_promoter_id=elsewhere.id,
        bound_at=None,
    )
    assert chain.kind == ChainKind.SELF_PURCHASE
    evaluation = evaluate_order(order=order, terms=terms, rules=rules, chain=chain)
    assert [(c.level, c.promoter_id, c.amount) for c in evaluation.lines] == [
        (0, buyer.id, D("3.00")),
        (1, parent.id, D("10.00")),
    ]


async def test_a_buyer_who_is_not_approved_buys_as_a_customer_of_their_referrer(
    db: str,
) -> None:
    program = await shop()
    referrer = await member(program)
    buyer = await member(program, status="suspended")
    _terms, _rules, chain, _caps, _earned = await build_commission_inputs(
        program=program,
        order=snapshot(program),
        buyer_promoter_id=buyer.id,
        attributed_promoter_id=referrer.id,
        bound_at=PLACED_AT,
    )
    assert (chain.kind, chain.bound_at) == (ChainKind.REFERRED, PLACED_AT)
    assert [m.promoter_id for m in chain.members] == [referrer.id]


async def test_a_promoter_of_another_program_is_refused(db: str) -> None:
    program, other = await shop(), await shop(name="Other")
    stranger = await member(other)
    with pytest.raises(ValidationFailed) as caught:
        await build_commission_inputs(
            program=program,
            order=snapshot(program),
            buyer_promoter_id=None,
            attributed_promoter_id=stranger.id,
            bound_at=None,
        )
    assert caught.value.code == "promoter_not_in_program"
    assert set(caught.value.fields) == {"attributed_promoter_id"}


async def test_period_caps_see_what_was_earned_on_orders_placed_in_the_period(db: str) -> None:
    program = await shop()
    seller = await member(program)
    await PeriodCapRecord.create(program=program, period="day", amount=D("100"))
    await PeriodCapRecord.create(program=program, period="month", amount=D("500"), enabled=False)
    same_day = PLACED_AT.replace(hour=1)
    for status, amount in (
        ("pending", "60.00"),
        ("settled", "25.00"),
        ("rejected", "50.00"),
        ("reversed", "0.00"),
    ):
        order, order_line = await stored_order(program, placed_at=same_day)
        await stored_commission(order, order_line, seller, amount=amount, status=status)
    yesterday, yesterday_line = await stored_order(program, placed_at=PLACED_AT - timedelta(days=1))
    await stored_commission(yesterday, yesterday_line, seller, amount="70.00")
    order = snapshot(program, line(amount="300.00"))
    terms, rules, chain, caps, earned = await build_commission_inputs(
        program=program,
        order=order,
        buyer_promoter_id=None,
        attributed_promoter_id=seller.id,
        bound_at=None,
    )
    assert [(c.period, c.amount) for c in caps] == [("day", D("100.00"))]
    assert earned == {(seller.id, "day:2024-05-10"): D("85.00")}
    [commission] = evaluate_order(
        order=order, terms=terms, rules=rules, chain=chain, period_caps=caps, period_earned=earned
    ).lines
    assert (commission.amount, commission.capped_by) == (D("15.00"), "period_cap")


# ---------------------------------------------------------------- the dry run


async def _row_counts() -> dict[str, int]:
    return {
        model._meta.db_table: await model.all().count()
        for model in Tortoise.apps["models"].values()
    }


async def test_the_dry_run_explains_every_line_and_writes_nothing(
    db: str, three_paid_levels: None
) -> None:
    program = await shop(max_levels=3, level_rates=["10", "5", "2"])
    top = await member(program)
    middle = await member(program, top)
    seller = await member(program, middle)
    await set_status(middle, "suspended")
    promo = await rule(program, "20", product_id="BOOT", level=1)
    customer = await User.create(appid="wx", openid="buyer-openid", nickname="Carol")
    bound_at = PLACED_AT - timedelta(days=2)
    await Binding.create(
        program=program,
        promoter=seller,
        customer_user=customer,
        customer_key="k" * 64,
        source="visit",
        bind_mode="first_touch",
        bound_at=bound_at,
    )
    # The binding is found by the customer's key, so store it the way bindings do.
    from server.services.sharing.bindings import customer_keys

    [key] = customer_keys(customer_user_id=customer.id, customer_external_id=None)
    await Binding.filter(program_id=program.id).update(customer_key=key)
    before = await _row_counts()
    report = await preview_order(
        program_id=program.id,
        document={
            "lines": [
                {
                    "product_id": "BOOT",
                    "quantity": 2,
                    "unit_price": D("50.00"),
                    "amount": D("100.00"),
                },
                {
                    "product_id": "HAT",
                    "quantity": 1,
                    "unit_price": D("40.00"),
                    "amount": D("40.00"),
                    "category": "hats",
                },
            ],
            "placed_at": PLACED_AT,
            "customer_user_id": customer.id,
        },
    )
    assert await _row_counts() == before
    assert report["refusal"] is None
    assert report["chain"]["kind"] == "referred"
    assert report["chain"]["found_by"]["attribution"]["bound_at"] == bound_at
    assert [
        (x["order_line"]["line_id"], x["beneficiary"]["level"], x["amount"])
        for x in report["lines"]
    ] == [
        ("1", 1, "20.00"),
        ("1", 3, "2.00"),
        ("2", 1, "4.00"),
        ("2", 3, "0.80"),
    ]
    boots = report["lines"][0]
    assert boots["rule"]["id"] == promo.id and boots["formula"] == "20% × 100.00"
    assert report["skipped"] == [
        {"level": 2, "promoter_id": middle.id, "reason": "beneficiary_not_approved"}
    ]
    assert report["total"] == "26.80"


async def test_the_dry_run_reports_why_an_order_earns_nothing(db: str) -> None:
    program = await shop(commission_window_days=7)
    seller = await member(program)
    report = await preview_order(
        program_id=program.id,
        document={
            "lines": [
                {"product_id": "P", "quantity": 1, "unit_price": D("9.99"), "amount": D("9.99")}
            ],
            "placed_at": PLACED_AT,
            "attributed_promoter_id": seller.id,
            "bound_at": PLACED_AT - timedelta(days=8),
        },
    )
    assert (report["refusal"], report["lines"], report["total"]) == (
        "outside_commission_window",
        [],
        "0",
    )
    nobody = await preview_order(
        program_id=program.id,
        document={
            "lines": [
                {"product_id": "P", "quantity": 1, "unit_price": D("1"), "amount": D("1.00")}
            ],
            "placed_at": PLACED_AT,
        },
    )
    assert nobody["refusal"] == "no_beneficiary"
