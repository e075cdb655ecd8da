"""Simulate a rule-set version over a past date range: the real orders of the range re-run
through the commission engine under the version, next to what they paid
(docs/rule-sets.md#simulation)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.db import connection
from server.domain.commissions.calc import evaluate_order, period_windows_needed
from server.domain.commissions.inputs import (
    BeneficiaryChain,
    ChainKind,
    ChainMember,
    OrderLine,
    OrderSnapshot,
    ProgramTerms,
)
from server.domain.commissions.lines import CommissionLine
from server.domain.commissions.period_room import PeriodEarned
from server.domain.commissions.rules import CommissionRule, PeriodCap, PeriodWindow
from server.domain.commissions.simulation import (
    ComparedLine,
    PaidCommission,
    compare_order,
    summarize,
)
from server.domain.errors import ValidationFailed
from server.domain.orders.events import OrderStatus
from server.domain.periods import zone
from server.models import Commission, Order, Program, RuleSetVersion
from server.models import OrderLine as OrderLineRecord
from server.services.commissions.preview import (
    NOT_EARNING_STATUSES,
    earned_in_period,
    program_terms,
)
from server.services.programs.commission_rules import to_domain_rule
from server.services.programs.period_caps import to_domain_cap
from server.services.programs.rule_set_rows import row_record
from server.services.programs.rule_sets import get_version
from server.services.tiers.bonus_simulation import simulate_bonuses
from server.services.tiers.config import to_domain_boost, to_domain_tier

# Bounds of one simulation, run while the caller waits: a quarter of days, and orders read
# in three queries and re-run in memory (docs/rule-sets.md#simulation).
MAX_SIMULATED_DAYS = 92
MAX_SIMULATED_ORDERS = 5000
MAX_TOP_ORDERS = 100
# Days no order can have been placed on (and whose local midnight has no UTC instant).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2999


def _rows(version: RuleSetVersion, kind: str) -> list[Any]:
    """The version's enabled records of `kind`, as unsaved records, oldest first (new last)."""
    rows = sorted(
        version.document.get(kind, []),
        key=lambda row: (row.get("id") is None, row.get("id") or -int(row.get("key") or 0)),
    )
    records = []
    for row in rows:
        record = row_record(kind, row, program_id=version.program_id)  # type: ignore[attr-defined]
        record.id = row.get("id") if row.get("id") is not None else int(row.get("key") or 0)
        if record.enabled:
            records.append(record)
    return records


def version_inputs(
    program: Program, version: RuleSetVersion
) -> tuple[ProgramTerms, list[CommissionRule], list[PeriodCap]]:
    """The engine's terms, rules and caps under `version` (the program's own settings)."""
    tiers = [to_domain_tier(record) for record in _rows(version, "tier")]
    boosts = tuple(to_domain_boost(record) for record in _rows(version, "boost"))
    terms = replace(
        program_terms(program),
        tier_benefits={tier.code: tier.benefits for tier in tiers},
        boosts=boosts,
        rule_set_version=version.number,
    )
    rules = [to_domain_rule(record) for record in _rows(version, "commission_rule")]
    caps = [to_domain_cap(record) for record in _rows(version, "period_cap")]
    return terms, rules, caps


def _range(program: Program, start: date, end: date) -> tuple[datetime, datetime]:
    if end < start:
        raise ValidationFailed(
            "the range ends before it starts",
            code="invalid_simulation_range",
            fields={"end": "on or after start"},
        )
    if start.year < EARLIEST_YEAR or end.year > LATEST_YEAR:
        raise ValidationFailed(
            "no orders so far from now",
            code="invalid_simulation_range",
            fields={"start": f"between {EARLIEST_YEAR} and {LATEST_YEAR}"},
        )
    if (end - start).days + 1 > MAX_SIMULATED_DAYS:
        raise ValidationFailed(
            f"a simulation covers at most {MAX_SIMULATED_DAYS} days",
            code="simulation_too_large",
            fields={"end": f"at most {MAX_SIMULATED_DAYS} days after start"},
        )
    tz = zone(program.time_zone)
    first = datetime.combine(start, time(), tzinfo=tz).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return first, after


def _chain(explanation: dict[str, Any]) -> BeneficiaryChain:
    """The chain an order was computed with, as its commissions recorded it."""
    facts = explanation.get("attribution", {})
    bound_at = facts.get("bound_at")
    members = sorted(explanation.get("chain", []), key=lambda member: int(member["level"]))
    return BeneficiaryChain(
        kind=ChainKind(facts.get("chain", ChainKind.REFERRED.value)),
        members=tuple(
            ChainMember(
                promoter_id=int(m["promoter_id"]),
                status=str(m.get("status", "")),
                tier=m.get("tier"),
            )
            for m in members
        ),
        bound_at=datetime.fromisoformat(bound_at) if bound_at else None,
    )


class _Earned:
    """What each promoter earned in each capped window: before the range as paid, within it
    as simulated so far (orders are re-run in the order they were applied, as the live
    path met them)."""

    def __init__(self, *, program_id: int, start: datetime, conn: BaseDBAsyncClient) -> None:
        self.program_id, self.start, self.conn = program_id, start, conn
        self.totals: dict[tuple[int, str], Decimal] = {}

    async def for_order(self, needed: list[tuple[int, PeriodWindow]]) -> PeriodEarned:
        """The totals the engine needs for these (promoter, window) pairs."""
        for promoter_id, window in needed:
            key = (promoter_id, window.key)
            if key not in self.totals:
                before = Decimal(0)
                if window.start < self.start:
                    before = await earned_in_period(
                        program_id=self.program_id,
                        promoter_id=promoter_id,
                        start=window.start,
                        end=min(window.end, self.start),
                        conn=self.conn,
                    )
                self.totals[key] = before
        return dict(self.totals)

    def add(self, needed: list[tuple[int, PeriodWindow]], line: CommissionLine) -> None:
        """Count a simulated commission in its promoter's windows."""
        for promoter_id, window in needed:
            if promoter_id == line.promoter_id:
                self.totals[(promoter_id, window.key)] += line.amount


def _snapshot(program: Program, order: Order, lines: list[OrderLineRecord]) -> OrderSnapshot:
    return OrderSnapshot(
        program_id=program.id,
        currency=order.currency,
        placed_at=order.placed_at,
        lines=tuple(
            OrderLine(
                line_id=line.line_ref,
                product_id=line.product_id,
                category=line.category,
                quantity=line.quantity,
                unit_price=Decimal(line.unit_price),
                amount=Decimal(line.amount),
                refunded_amount=Decimal(line.refunded_amount),
            )
            for line in lines
        ),
        site_id=order.site_id,  # type: ignore[attr-defined]
        campaign=order.campaign,
    )


async def simulate_version(
    *, version_id: int, start: date, end: date, top: int = 20
) -> dict[str, Any]:
    """What the version would have paid on the orders placed from `start` to `end` (local
    dates of the program, both included), commissions and milestone bonuses, against what
    was paid; 422 simulation_too_large past MAX_SIMULATED_DAYS or MAX_SIMULATED_ORDERS."""
    version, live = await get_version(version_id=version_id)
    program: Program = version.program
    first, after = _range(program, start, end)
    top = max(1, min(top, MAX_TOP_ORDERS))
    orders = (
        await Order.filter(program_id=program.id, placed_at__gte=first, placed_at__lt=after)
        .exclude(status=OrderStatus.CANCELLED.value)
        .order_by("id")
        .limit(MAX_SIMULATED_ORDERS + 1)
    )
    if len(orders) > MAX_SIMULATED_ORDERS:
        raise ValidationFailed(
            f"a simulation re-runs at most {MAX_SIMULATED_ORDERS} orders: choose a shorter range",
            code="simulation_too_large",
            fields={"end": f"the range holds more than {MAX_SIMULATED_ORDERS} orders"},
        )
    ids = [order.id for order in orders]
    lines: dict[int, list[OrderLineRecord]] = {order_id: [] for order_id in ids}
    for line in await OrderLineRecord.filter(order_id__in=ids).order_by("id"):
        lines[line.order_id].append(line)  # type: ignore[attr-defined]
    commissions: dict[int, list[Commission]] = {order_id: [] for order_id in ids}
    for commission in await Commission.filter(order_id__in=ids).order_by("id"):
        commissions[commission.order_id].append(commission)  # type: ignore[attr-defined]

    terms, rules, caps = version_inputs(program, version)
    earned = _Earned(program_id=program.id, start=first, conn=connection())
    compared: list[ComparedLine] = []
    unchained = 0
    for order in orders:
        made = commissions[order.id]
        if not made:
            unchained += 1  # nobody earned: its chain was never recorded (docs)
            continue
        refs = {line.id: line.line_ref for line in lines[order.id]}
        kept = [c for c in made if c.status not in NOT_EARNING_STATUSES]
        rejected = {(refs[c.order_line_id], c.level) for c in made if c not in kept}  # type: ignore[attr-defined]
        snapshot = _snapshot(program, order, lines[order.id])
        chain = _chain(made[0].explanation)
        needed = period_windows_needed(order=snapshot, terms=terms, chain=chain, period_caps=caps)
        evaluation = evaluate_order(
            order=snapshot,
            terms=terms,
            rules=[rule for rule in rules if rule.is_valid_at(order.placed_at)],
            chain=chain,
            period_caps=caps,
            period_earned=await earned.for_order(needed),
        )
        simulated = [
            line for line in evaluation.payable if (line.line_id, line.level) not in rejected
        ]
        for line in simulated:
            earned.add(needed, line)
        compared += compare_order(
            order_id=order.id,
            external_id=order.external_id,
            products={line.line_ref: line.product_id for line in lines[order.id]},
            paid=[
                PaidCommission(
                    line_id=refs[c.order_line_id],  # type: ignore[attr-defined]
                    level=c.level,
                    promoter_id=c.promoter_id,  # type: ignore[attr-defined]
                    tier=c.explanation.get("beneficiary", {}).get("tier"),
                    amount=Decimal(c.amount),
                )
                for c in kept
            ],
            simulated=simulated,
        )
    return {
        "version": {"id": version.id, "number": version.number, "live": live},
        "program_id": program.id,
        "range": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "time_zone": program.time_zone,
        },
        "orders": len(orders),
        "orders_without_commissions": unchained,
        **summarize(compared, currency=program.currency, top=top),
        "bonuses": await simulate_bonuses(
            program=program,
            bonus_records=_rows(version, "milestone_bonus"),
            orders=orders,
            commissions=commissions,
            first=first,
            after=after,
        ),
    }
