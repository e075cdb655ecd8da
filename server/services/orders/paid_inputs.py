"""What an order.paid reads — the buyer and the commission engine's inputs — in as few
statements as possible (same rules as the preview service's `build_commission_inputs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from server.domain.commissions.calc import period_windows_needed
from server.domain.commissions.inputs import (
    BeneficiaryChain,
    ChainMember,
    OrderSnapshot,
    buyer_starts_chain,
)
from server.domain.orders.events import OrderPaid
from server.domain.promoters.status import PromoterStatus
from server.models import Promoter, User
from server.services.commissions.preview import (
    CommissionInputs,
    earned_in_period,
    lock_promoters,
    resolve_chain,
)
from server.services.ledger.postings import sql_rows
from server.services.programs.cache import ProgramConfig

ModelT = TypeVar("ModelT", bound=Model)

_PROFILE = (
    "(SELECT p.id FROM promoters AS p WHERE p.program_id = ? AND p.user_id = u.id"
    " AND p.status = ? ORDER BY p.id DESC LIMIT 1)"
)
_BUYER_BY_OPENID = (
    f"SELECT u.id AS user_id, {_PROFILE} AS promoter_id FROM users AS u"
    " WHERE u.appid = ? AND u.openid = ? LIMIT 1"
)
_BUYER_BY_UNIONID = (
    f"SELECT u.id AS user_id, {_PROFILE} AS promoter_id FROM users AS u"
    " WHERE u.unionid = ? ORDER BY u.id LIMIT 1"
)


def _loaded(model: type[ModelT], row_id: int) -> ModelT:
    """A row known by its id only, as a `.only("id")` read builds it (partial, saved)."""
    # Not `model(id=…)`: that sets every other field to its default first, 20-50 µs a model
    # against 3 µs (two per order on the order-event path).
    return model._init_from_db(id=row_id)


Buyer = tuple[User | None, str | None, Promoter | None]


@dataclass(frozen=True)
class ChainStart:
    """Where an order's chain starts: the buyer's own profile, or the promoter credited."""

    buyer_promoter_id: int | None
    attributed_promoter_id: int | None
    bound_at: datetime | None


def _buyer(row: dict[str, Any], matched_by: str) -> Buyer:
    promoter_id = row["promoter_id"]
    return (
        _loaded(User, int(row["user_id"])),
        matched_by,
        _loaded(Promoter, int(promoter_id)) if promoter_id is not None else None,
    )


async def find_buyer_and_profile(
    paid: OrderPaid, *, appid: str, program_id: int, conn: BaseDBAsyncClient
) -> Buyer:
    """The buyer's user, what matched, and their approved profile in the program."""
    approved = PromoterStatus.APPROVED.value
    if paid.buyer.openid:
        rows = await sql_rows(
            conn, _BUYER_BY_OPENID, [program_id, approved, appid, paid.buyer.openid]
        )
        if rows:
            return _buyer(rows[0], "openid")
    if paid.buyer.unionid:
        rows = await sql_rows(conn, _BUYER_BY_UNIONID, [program_id, approved, paid.buyer.unionid])
        if rows:
            return _buyer(rows[0], "unionid")
    return None, None, None


async def find_buyers(
    orders: list[tuple[OrderPaid, int]], *, appid: str, conn: BaseDBAsyncClient
) -> list[Buyer]:
    """`find_buyer_and_profile` of each (order, program id): one read for the openids of a
    program (users are unique by appid and openid), the rest one by one."""
    found: dict[tuple[int, str], Buyer] = {}
    by_program: dict[int, set[str]] = {}
    for paid, program_id in orders:
        if paid.buyer.openid:
            by_program.setdefault(program_id, set()).add(paid.buyer.openid)
    for program_id, openids in by_program.items():
        if len(orders) == 1:
            break  # one order: the plain read below
        marks = ", ".join("?" for _ in openids)
        rows = await sql_rows(
            conn,
            f"SELECT u.id AS user_id, u.openid AS openid, {_PROFILE} AS promoter_id"
            f" FROM users AS u WHERE u.appid = ? AND u.openid IN ({marks})",
            [program_id, PromoterStatus.APPROVED.value, appid, *sorted(openids)],
        )
        for row in rows:
            found[(program_id, row["openid"])] = _buyer(row, "openid")
    return [
        found.get((program_id, paid.buyer.openid or ""))
        or await find_buyer_and_profile(paid, appid=appid, program_id=program_id, conn=conn)
        for paid, program_id in orders
    ]


# Each promoter at depth 0, then their uplines in the program up to the given depth.
_CHAINS = (
    "SELECT p.id AS id, p.status AS status, p.tier AS tier, 0 AS depth, p.id AS start"
    " FROM promoters AS p WHERE p.id IN ({marks}) AND p.program_id = ?"
    " UNION ALL"
    " SELECT p.id, p.status, p.tier, c.depth, c.descendant_id FROM promoter_closure AS c"
    " JOIN promoters AS p ON p.id = c.ancestor_id"
    " WHERE c.descendant_id IN ({marks}) AND c.depth BETWEEN 1 AND ? AND p.program_id = ?"
)


def _members(rows: list[dict[str, Any]]) -> tuple[ChainMember, list[ChainMember]] | None:
    """The promoter and their uplines nearest first, or None when not in the program."""
    members = sorted(
        (
            (
                int(row["depth"]),
                ChainMember(promoter_id=int(row["id"]), status=row["status"], tier=row["tier"]),
            )
            for row in rows
        ),
        key=lambda depth_and_member: depth_and_member[0],
    )
    if not members or members[0][0] != 0:
        return None
    return members[0][1], [member for _depth, member in members[1:]]


async def _chains_from(
    promoter_ids: set[int], *, depth: int, program_id: int, conn: BaseDBAsyncClient
) -> dict[int, list[dict[str, Any]]]:
    """The chain rows (the promoter at depth 0, then uplines) of each promoter, in one read."""
    if not promoter_ids:
        return {}
    ids = sorted(promoter_ids)
    marks = ", ".join("?" for _ in ids)
    rows = await sql_rows(
        conn,
        _CHAINS.format(marks=marks),
        [*ids, program_id, *ids, max(depth, 0), program_id],
    )
    by_start: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_start.setdefault(int(row["start"]), []).append(row)
    return by_start


async def _chain(
    config: ProgramConfig,
    start: ChainStart,
    rows: dict[int, list[dict[str, Any]]],
    conn: BaseDBAsyncClient,
) -> BeneficiaryChain:
    terms = config.terms
    if start.buyer_promoter_id is not None:
        found = _members(rows.get(start.buyer_promoter_id, []))
        if found is not None and buyer_starts_chain(found[0]):
            return BeneficiaryChain.self_purchase(*found)
    elif start.attributed_promoter_id is None:
        return BeneficiaryChain.nobody()
    else:
        # Read as deep as a self purchase's: the referred chain stops one level higher.
        upto = terms.max_levels - 1
        found = _members(
            [row for row in rows.get(start.attributed_promoter_id, []) if int(row["depth"]) <= upto]
        )
        if found is not None:
            return BeneficiaryChain.referred(*found, bound_at=start.bound_at)
    return await resolve_chain(
        terms=terms,
        buyer_promoter_id=start.buyer_promoter_id,
        attributed_promoter_id=start.attributed_promoter_id,
        bound_at=start.bound_at,
        conn=conn,
    )


async def paid_chains(
    orders: list[tuple[ProgramConfig, ChainStart]], *, conn: BaseDBAsyncClient
) -> list[BeneficiaryChain]:
    """The beneficiary chain of each order: one read for the starting promoters of a program."""
    wanted: dict[int, tuple[ProgramConfig, set[int]]] = {}
    for config, start in orders:
        first = start.buyer_promoter_id or start.attributed_promoter_id
        if first is not None:
            wanted.setdefault(config.terms.program_id, (config, set()))[1].add(first)
    rows: dict[int, dict[int, list[dict[str, Any]]]] = {}
    for program_id, (config, ids) in wanted.items():
        rows[program_id] = await _chains_from(
            ids, depth=config.terms.max_levels, program_id=program_id, conn=conn
        )
    return [
        await _chain(config, start, rows.get(config.terms.program_id, {}), conn)
        for config, start in orders
    ]


async def paid_order_inputs(
    *,
    config: ProgramConfig,
    order: OrderSnapshot,
    chain: BeneficiaryChain,
    conn: BaseDBAsyncClient,
) -> CommissionInputs:
    """(terms, rules, chain, period_caps, period_earned) for `order`, read with `conn`."""
    terms = config.terms
    caps = list(config.caps)
    needed = period_windows_needed(order=order, terms=terms, chain=chain, period_caps=caps)
    # Two orders of one capped promoter applied at once would each see the whole room left:
    # the second waits for the first and counts what it wrote.
    await lock_promoters((promoter_id for promoter_id, _window in needed), conn=conn)
    earned: dict[tuple[int, str], Decimal] = {}
    for promoter_id, window in needed:
        if (promoter_id, window.key) not in earned:
            earned[(promoter_id, window.key)] = await earned_in_period(
                program_id=terms.program_id,
                promoter_id=promoter_id,
                start=window.start,
                end=window.end,
                conn=conn,
                latest=True,
            )
    return terms, config.rules_at(order.placed_at), chain, caps, earned
