"""Properties of the commission engine that must hold for every order, rule and refund."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.commissions.calc import evaluate_order
from server.domain.commissions.inputs import BeneficiaryChain, OrderLine
from server.domain.commissions.lines import CommissionLine, apply_refund, commission_amount
from server.domain.commissions.rules import CommissionRule, PeriodCap
from tests.unit.commission_builders import member, order, referred, self_purchase, terms

CENT = Decimal("0.01")


def _cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda cents: Decimal(cents).scaleb(-2))


rates = st.integers(0, 1_000_000).map(lambda basis: Decimal(basis).scaleb(-4))


@st.composite
def order_lines(draw: st.DrawFn, line_id: str = "L1") -> OrderLine:
    quantity = draw(st.integers(1, 20))
    unit_price = draw(_cents(0, 500_000))
    gross = quantity * unit_price
    amount = gross - draw(_cents(0, int(gross * 100)))
    refunded = draw(_cents(0, int(amount * 100)))
    return OrderLine(
        line_id=line_id,
        product_id=draw(st.sampled_from(["P1", "P2"])),
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
        refunded_amount=refunded,
    )


@st.composite
def rules(draw: st.DrawFn) -> list[CommissionRule]:
    drawn = []
    for rule_id in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["percent", "fixed"]))
        drawn.append(
            CommissionRule(
                id=rule_id + 1,
                program_id=1,
                kind=kind,
                value=draw(rates if kind == "percent" else _cents(0, 100_000)),
                level=draw(st.none() | st.integers(0, 3)),
                product_id=draw(st.none() | st.sampled_from(["P1", "P2"])),
                cap_per_line=draw(st.none() | _cents(1, 100_000)),
                priority=draw(st.integers(0, 3)),
            )
        )
    return drawn


@st.composite
def chains(draw: st.DrawFn) -> BeneficiaryChain:
    statuses = st.sampled_from(["approved", "approved", "approved", "suspended"])
    members = [member(pid, draw(statuses)) for pid in range(1, draw(st.integers(1, 4)) + 1)]
    if draw(st.booleans()):
        return self_purchase(member(members[0].promoter_id), *members[1:])
    return referred(*members, bound_at=None)


level_rates = st.lists(st.integers(0, 250_000), min_size=1, max_size=3).map(
    lambda basis: tuple(Decimal(b).scaleb(-4) for b in basis)
)


@settings(max_examples=200)
@given(
    lines=st.lists(order_lines(), min_size=1, max_size=3),
    drawn_rules=rules(),
    chain=chains(),
    program_rates=level_rates,
    rebate=rates.filter(lambda rate: rate <= 25),
)
def test_no_commission_nor_all_of_a_lines_together_exceed_its_net(
    lines: list[OrderLine],
    drawn_rules: list[CommissionRule],
    chain: BeneficiaryChain,
    program_rates: tuple[Decimal, ...],
    rebate: Decimal,
) -> None:
    numbered = tuple(
        OrderLine(**{**line.__dict__, "line_id": f"L{index}"}) for index, line in enumerate(lines)
    )
    program = terms(level_rates=program_rates, self_rebate_enabled=True, self_rebate_rate=rebate)
    evaluation = evaluate_order(
        order=order(*numbered), terms=program, rules=drawn_rules, chain=chain
    )
    nets = {line.line_id: line.net for line in numbered}
    paid_on: dict[str, Decimal] = dict.fromkeys(nets, Decimal(0))
    for commission in evaluation.lines:
        assert 0 <= commission.amount <= nets[commission.line_id]
        if commission.cap_per_line is not None:
            assert commission.amount <= commission.cap_per_line
        paid_on[commission.line_id] += commission.amount
    # Nor do all of a line's commissions together, whatever the rules (fixed ones included).
    assert all(paid_on[line_id] <= net for line_id, net in nets.items())


@given(line=order_lines(), program_rates=level_rates, chain=chains())
def test_program_rates_never_pay_more_than_net_times_their_sum(
    line: OrderLine, program_rates: tuple[Decimal, ...], chain: BeneficiaryChain
) -> None:
    program = terms(level_rates=program_rates)
    evaluation = evaluate_order(order=order(line), terms=program, rules=[], chain=chain)
    paid = sum((c.amount for c in evaluation.lines), Decimal(0))
    assert paid <= line.net * sum(program_rates) / 100


@given(
    kind=st.sampled_from(["percent", "fixed"]),
    value=_cents(0, 10_000),
    line=order_lines(),
    cap=st.none() | _cents(0, 100_000),
    room=st.none() | _cents(0, 100_000),
    currency=st.sampled_from(["CNY", "JPY"]),
)
def test_rounding_never_overpays_and_loses_less_than_one_minor_unit(
    kind: str,
    value: Decimal,
    line: OrderLine,
    cap: Decimal | None,
    room: Decimal | None,
    currency: str,
) -> None:
    figures = commission_amount(
        kind=kind,
        value=value,
        quantity=line.quantity,
        line_amount=line.amount,
        net=line.net,
        currency=currency,
        cap_per_line=cap,
        period_room=room,
    )
    limited = min(limit for limit in (figures.exact, line.net, cap, room) if limit is not None)
    unit = Decimal(1) if currency == "JPY" else CENT
    assert figures.amount <= limited
    assert limited - figures.amount < unit
    assert figures.amount == figures.amount.quantize(unit)


@settings(max_examples=200)
@given(
    line=order_lines(),
    drawn_rules=rules(),
    chain=chains(),
    data=st.data(),
)
def test_several_partial_refunds_end_where_one_refund_of_the_same_total_would(
    line: OrderLine,
    drawn_rules: list[CommissionRule],
    chain: BeneficiaryChain,
    data: st.DataObject,
) -> None:
    program = terms(level_rates=(Decimal(10), Decimal(5), Decimal(2)), self_rebate_enabled=True)
    evaluation = evaluate_order(order=order(line), terms=program, rules=drawn_rules, chain=chain)
    steps = sorted(
        data.draw(st.lists(_cents(0, int(line.net * 100)), min_size=1, max_size=4)),
        reverse=True,
    )
    # The commissions kept (worth a cent), in level order, as the refund service finds them.
    kept = list(evaluation.payable)
    stepwise = kept
    for new_net in steps:
        before = [commission.amount for commission in stepwise]
        stepwise = _refund_line(stepwise, new_net)
        assert all(after.amount <= was for after, was in zip(stepwise, before, strict=True))
    once = _refund_line(kept, steps[-1])
    assert [c.amount for c in stepwise] == [c.amount for c in once]
    assert sum((c.amount for c in once), Decimal(0)) <= steps[-1]
    assert all(c.amount == 0 for c in _refund_line(kept, Decimal(0)))


def _refund_line(commissions: list[CommissionLine], new_net: Decimal) -> list[CommissionLine]:
    """A line's commissions after a refund, as the refund service recomputes them: nearest
    level first, each from what the nearer ones left."""
    left = new_net
    updated = []
    for commission in commissions:
        after = apply_refund(commission, new_net=new_net, line_left=left)
        left -= after.limited_amount or Decimal(0)
        updated.append(after)
    return updated


@given(
    lines=st.lists(order_lines(), min_size=1, max_size=4),
    cap=_cents(1, 50_000),
    earned=_cents(0, 60_000),
)
def test_an_order_never_takes_a_promoter_past_their_period_cap(
    lines: list[OrderLine], cap: Decimal, earned: Decimal
) -> None:
    numbered = tuple(
        OrderLine(**{**line.__dict__, "line_id": f"L{index}"}) for index, line in enumerate(lines)
    )
    evaluation = evaluate_order(
        order=order(*numbered),
        terms=terms(level_rates=(Decimal(30),)),
        rules=[],
        chain=referred(member(1)),
        period_caps=[PeriodCap(id=1, program_id=1, period="month", amount=cap)],
        period_earned={(1, "month:2024-05"): earned},
    )
    paid = sum((c.amount for c in evaluation.lines), Decimal(0))
    assert paid <= max(Decimal(0), cap - earned)
