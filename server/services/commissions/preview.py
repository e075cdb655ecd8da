"""The commission engine's inputs read from storage, and the dry run built on them.

Both the order-paid use case and the dry run (which writes nothing) use `build_commission_inputs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server import clock
from server.config import commission_level_cap
from server.db import connection, is_mysql
from server.domain.commissions.calc import evaluate_order, period_windows_needed
from server.domain.commissions.inputs import (
    BeneficiaryChain,
    ChainMember,
    OrderLine,
    OrderSnapshot,
    ProgramTerms,
    buyer_starts_chain,
)
from server.domain.commissions.period_room import PeriodEarned
from server.domain.commissions.rules import CommissionRule, PeriodCap
from server.domain.commissions.status import CommissionStatus
from server.domain.errors import NotFound, ValidationFailed
from server.domain.money import read_decimal
from server.models import Order, Program, Promoter
from server.services.ledger.postings import money_units, sql_rows, units_value
from server.services.programs.commission_rules import load_rules
from server.services.programs.period_caps import load_period_caps
from server.services.programs.settings import settings_of
from server.services.promoters.hierarchy import upline_chain
from server.services.sharing.attribution import preview_attribution
from server.services.sharing.bindings import current_binding
from server.services.tiers.config import incentive_terms

# Commissions that no longer count towards what a promoter earned in a period.
NOT_EARNING_STATUSES = (CommissionStatus.REJECTED.value, CommissionStatus.REVERSED.value)

CommissionInputs = tuple[
    ProgramTerms, list[CommissionRule], BeneficiaryChain, list[PeriodCap], PeriodEarned
]


def program_terms(program: Program) -> ProgramTerms:
    """The engine's view of a program's settings (periods in the program's time zone)."""
    terms = ProgramTerms.from_settings(
        program.id, settings_of(program), level_cap=commission_level_cap()
    )
    return replace(terms, rule_set_version=program.rule_set_version)


async def _members(
    promoter_ids: list[int], *, program_id: int, conn: BaseDBAsyncClient
) -> dict[int, ChainMember]:
    rows = (
        await Promoter.filter(id__in=promoter_ids, program_id=program_id)
        .using_db(conn)
        .values("id", "status", "tier")
    )
    return {
        int(row["id"]): ChainMember(
            promoter_id=int(row["id"]), status=row["status"], tier=row["tier"]
        )
        for row in rows
    }


async def _member(
    promoter_id: int, *, program_id: int, field: str, conn: BaseDBAsyncClient
) -> ChainMember:
    found = await _members([promoter_id], program_id=program_id, conn=conn)
    if promoter_id not in found:
        raise ValidationFailed(
            "not a promoter of this program",
            code="promoter_not_in_program",
            fields={field: "not a promoter of this program"},
        )
    return found[promoter_id]


async def _uplines(
    promoter_id: int, *, depth: int, program_id: int, conn: BaseDBAsyncClient
) -> list[ChainMember]:
    if depth < 1:
        return []
    chain = await upline_chain(promoter_id=promoter_id, max_depth=depth, conn=conn)
    ids = [ancestor for ancestor, _depth in chain]
    members = await _members(ids, program_id=program_id, conn=conn)
    return [members[ancestor] for ancestor in ids if ancestor in members]


async def resolve_chain(
    *,
    terms: ProgramTerms,
    buyer_promoter_id: int | None,
    attributed_promoter_id: int | None,
    bound_at: datetime | None,
    conn: BaseDBAsyncClient,
) -> BeneficiaryChain:
    """Who may earn on an order (the money law); 422 for an unknown promoter."""
    program_id = terms.program_id
    if buyer_promoter_id is not None:
        buyer = await _member(
            buyer_promoter_id, program_id=program_id, field="buyer_promoter_id", conn=conn
        )
        if buyer_starts_chain(buyer):
            uplines = await _uplines(
                buyer.promoter_id, depth=terms.max_levels, program_id=program_id, conn=conn
            )
            return BeneficiaryChain.self_purchase(buyer, uplines)
    if attributed_promoter_id is None:
        return BeneficiaryChain.nobody()
    promoter = await _member(
        attributed_promoter_id, program_id=program_id, field="attributed_promoter_id", conn=conn
    )
    uplines = await _uplines(
        promoter.promoter_id, depth=terms.max_levels - 1, program_id=program_id, conn=conn
    )
    return BeneficiaryChain.referred(promoter, uplines, bound_at=bound_at)


async def earned_in_period(
    *,
    program_id: int,
    promoter_id: int,
    start: datetime,
    end: datetime,
    conn: BaseDBAsyncClient,
    latest: bool = False,
) -> Decimal:
    """The promoter's counted commission amounts on orders placed in [start, end)."""
    # By the order's placing time, not when the commission was written: the window itself is
    # chosen by placing time, so an order posted late counts in the period it was placed in.
    placed_at = Order._meta.fields_map["placed_at"]
    statuses = ", ".join("?" for _ in NOT_EARNING_STATUSES)
    locking = " LOCK IN SHARE MODE" if latest and is_mysql(conn) else ""
    rows = await sql_rows(
        conn,
        # A join, not a subquery: a locking read does not reach into a subquery's tables.
        f"SELECT SUM({money_units(conn, 'c.amount')}) AS total FROM commissions AS c"
        " JOIN orders AS o ON o.id = c.order_id"
        f" WHERE c.promoter_id = ? AND c.status NOT IN ({statuses})"
        " AND o.program_id = ? AND o.placed_at >= ? AND o.placed_at < ?" + locking,
        [
            promoter_id,
            *NOT_EARNING_STATUSES,
            program_id,
            placed_at.to_db_value(start.astimezone(UTC), None),
            placed_at.to_db_value(end.astimezone(UTC), None),
        ],
    )
    return units_value(conn, rows[0]["total"] if rows else None)


async def lock_promoters(promoter_ids: Iterable[int], *, conn: BaseDBAsyncClient) -> None:
    """Hold these promoters' rows until the transaction ends (MySQL only)."""
    ids = sorted(set(promoter_ids))
    if ids and is_mysql(conn):
        marks = ", ".join("?" for _ in ids)
        await sql_rows(
            conn, f"SELECT id FROM promoters WHERE id IN ({marks}) ORDER BY id FOR UPDATE", ids
        )


async def build_commission_inputs(
    *,
    program: Program,
    order: OrderSnapshot,
    buyer_promoter_id: int | None,
    attributed_promoter_id: int | None,
    bound_at: datetime | None,
    conn: BaseDBAsyncClient | None = None,
) -> CommissionInputs:
    """(terms, rules, chain, period_caps, period_earned) for `order`, read with `conn`."""
    conn = conn or connection()
    benefits, boosts = await incentive_terms(program_id=program.id, conn=conn)
    terms = replace(program_terms(program), tier_benefits=benefits, boosts=boosts)
    rules = await load_rules(program_id=program.id, at=order.placed_at, conn=conn)
    chain = await resolve_chain(
        terms=terms,
        buyer_promoter_id=buyer_promoter_id,
        attributed_promoter_id=attributed_promoter_id,
        bound_at=bound_at,
        conn=conn,
    )
    caps = await load_period_caps(program_id=program.id, conn=conn)
    earned: dict[tuple[int, str], Decimal] = {}
    for promoter_id, window in period_windows_needed(
        order=order, terms=terms, chain=chain, period_caps=caps
    ):
        if (promoter_id, window.key) not in earned:
            earned[(promoter_id, window.key)] = await earned_in_period(
                program_id=program.id,
                promoter_id=promoter_id,
                start=window.start,
                end=window.end,
                conn=conn,
            )
    return terms, rules, chain, caps, earned


# ---------------------------------------------------------------- the dry run


def _decimal(raw: Any, name: str, problems: dict[str, str]) -> Decimal:
    value = read_decimal(raw)
    if value is None:
        problems[name] = "not a decimal"
        return Decimal(0)
    return value


def order_snapshot(
    *, program: Program, document: dict[str, Any], placed_at: datetime
) -> OrderSnapshot:
    """The order a dry-run body describes; line ids default to their position."""
    problems: dict[str, str] = {}
    lines = []
    for index, line in enumerate(document["lines"]):
        prefix = f"lines.{index}."
        lines.append(
            OrderLine(
                line_id=line.get("line_id") or str(index + 1),
                product_id=line["product_id"],
                category=line.get("category"),
                quantity=line["quantity"],
                unit_price=_decimal(line["unit_price"], prefix + "unit_price", problems),
                amount=_decimal(line["amount"], prefix + "amount", problems),
                refunded_amount=_decimal(
                    line.get("refunded_amount") or 0, prefix + "refunded_amount", problems
                ),
            )
        )
    if problems:
        raise ValidationFailed("invalid order line", code="invalid_order_line", fields=problems)
    return OrderSnapshot(
        program_id=program.id,
        currency=document.get("currency") or program.currency,
        placed_at=placed_at,
        lines=tuple(lines),
        site_id=document.get("site_id"),
        campaign=document.get("campaign"),
    )


async def _buyer_of(
    *, program: Program, document: dict[str, Any], placed_at: datetime
) -> tuple[int | None, int | None, datetime | None, dict[str, Any]]:
    """(buyer promoter, attributed promoter, bound_at, how they were found)."""
    program_id = program.id
    buyer_promoter_id = document.get("buyer_promoter_id")
    attributed = document.get("attributed_promoter_id")
    bound_at = document.get("bound_at")
    user_id, external_id = document.get("customer_user_id"), document.get("customer_external_id")
    found: dict[str, Any] = {"buyer_promoter_id": "given" if buyer_promoter_id else None}
    if buyer_promoter_id is None and user_id is not None:
        own = (
            await Promoter.filter(user_id=user_id, program_id=program_id)
            .order_by("-id")
            .values_list("id", flat=True)
        )
        if own:
            buyer_promoter_id, found["buyer_promoter_id"] = int(own[0]), "customer_user_id"
    if attributed is not None:
        found["attribution"] = "given"
    elif document.get("coupon_code") and buyer_promoter_id is None:
        # The same weighing as an order.paid: a reserved or unapproved code credits nobody.
        attribution = await preview_attribution(
            program=program,
            customer_user_id=user_id,
            customer_external_id=external_id,
            coupon_code=document["coupon_code"],
            placed_at=placed_at,
        )
        attributed, bound_at = attribution.promoter_id, attribution.attributed_at
        found["attribution"] = attribution.evidence
    elif user_id is not None or external_id is not None:
        binding = await current_binding(
            program_id=program_id,
            customer_user_id=user_id,
            customer_external_id=external_id,
            at=placed_at,
        )
        if binding is not None:
            attributed, bound_at = binding.promoter_id, binding.bound_at  # type: ignore[attr-defined]
            found["attribution"] = {"binding_id": binding.id, "bound_at": binding.bound_at}
        else:
            found["attribution"] = "no_binding"
    return buyer_promoter_id, attributed, bound_at, found


async def preview_order(*, program_id: int, document: dict[str, Any]) -> dict[str, Any]:
    """What an order would earn now, line by line with explanations; writes nothing."""
    program = await Program.get_or_none(id=program_id)
    if program is None:
        raise NotFound("no such program", code="program_not_found")
    placed_at = document.get("placed_at") or clock.now()
    if placed_at.utcoffset() is None:
        raise ValidationFailed(
            "invalid order", code="invalid_order", fields={"placed_at": "must carry a time zone"}
        )
    order = order_snapshot(program=program, document=document, placed_at=placed_at)
    buyer_promoter_id, attributed, bound_at, found = await _buyer_of(
        program=program, document=document, placed_at=placed_at
    )
    terms, rules, chain, caps, earned = await build_commission_inputs(
        program=program,
        order=order,
        buyer_promoter_id=buyer_promoter_id,
        attributed_promoter_id=attributed,
        bound_at=bound_at,
    )
    evaluation = evaluate_order(
        order=order, terms=terms, rules=rules, chain=chain, period_caps=caps, period_earned=earned
    )
    return {
        "program_id": program.id,
        "currency": terms.currency,
        "placed_at": placed_at,
        "chain": {
            "kind": chain.kind.value,
            "bound_at": chain.bound_at,
            "members": chain.snapshot(),
            "found_by": found,
        },
        "rules_in_force": [rule.id for rule in rules],
        **evaluation.to_dict(),
    }
