"""What an order.paid reads — the buyer and the commission engine's inputs — in as few
statements as possible (same rules as the preview service's `build_commission_inputs`).
"""

from __future__ import annotations

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
    """A row known by its id only, like a `.only("id")` read."""
    instance = model(id=row_id)
    instance._saved_in_db = True
    instance._partial = True
    return instance


async def find_buyer_and_profile(
    paid: OrderPaid, *, appid: str, program_id: int, conn: BaseDBAsyncClient
) -> tuple[User | None, str | None, Promoter | None]:
    """The buyer's user, what matched, and their approved profile in the program."""
    approved = PromoterStatus.APPROVED.value
    rows: list[dict[str, Any]] = []
    matched_by = None
    if paid.buyer.openid:
        rows = await sql_rows(
            conn, _BUYER_BY_OPENID, [program_id, approved, appid, paid.buyer.openid]
        )
        matched_by = "openid"
    if not rows and paid.buyer.unionid:
        rows = await sql_rows(conn, _BUYER_BY_UNIONID, [program_id, approved, paid.buyer.unionid])
        matched_by = "unionid"
    if not rows:
        return None, None, None
    promoter_id = rows[0]["promoter_id"]
    return (
        _loaded(User, int(rows[0]["user_id"])),
        matched_by,
        _loaded(Promoter, int(promoter_id)) if promoter_id is not None else None,
    )


# The promoter at depth 0, then their uplines in the program up to the given depth.
_CHAIN = (
    "SELECT p.id AS id, p.status AS status, p.tier AS tier, 0 AS depth FROM promoters AS p"
    " WHERE p.id = ? AND p.program_id = ?"
    " UNION ALL"
    " SELECT p.id, p.status, p.tier, c.depth FROM promoter_closure AS c"
    " JOIN promoters AS p ON p.id = c.ancestor_id"
    " WHERE c.descendant_id = ? AND c.depth BETWEEN 1 AND ? AND p.program_id = ?"
)


async def _chain_from(
    promoter_id: int, *, depth: int, program_id: int, conn: BaseDBAsyncClient
) -> tuple[ChainMember, list[ChainMember]] | None:
    """The promoter and their uplines nearest first, or None when not in the program."""
    rows = await sql_rows(
        conn, _CHAIN, [promoter_id, program_id, promoter_id, max(depth, 0), program_id]
    )
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


async def _chain(
    *,
    config: ProgramConfig,
    buyer_promoter_id: int | None,
    attributed_promoter_id: int | None,
    bound_at: datetime | None,
    conn: BaseDBAsyncClient,
) -> BeneficiaryChain:
    terms = config.terms
    if buyer_promoter_id is not None:
        found = await _chain_from(
            buyer_promoter_id, depth=terms.max_levels, program_id=terms.program_id, conn=conn
        )
        if found is not None and buyer_starts_chain(found[0]):
            return BeneficiaryChain.self_purchase(*found)
    elif attributed_promoter_id is None:
        return BeneficiaryChain.nobody()
    else:
        found = await _chain_from(
            attributed_promoter_id,
            depth=terms.max_levels - 1,
            program_id=terms.program_id,
            conn=conn,
        )
        if found is not None:
            return BeneficiaryChain.referred(*found, bound_at=bound_at)
    return await resolve_chain(
        terms=terms,
        buyer_promoter_id=buyer_promoter_id,
        attributed_promoter_id=attributed_promoter_id,
        bound_at=bound_at,
        conn=conn,
    )


async def paid_order_inputs(
    *,
    config: ProgramConfig,
    order: OrderSnapshot,
    buyer_promoter_id: int | None,
    attributed_promoter_id: int | None,
    bound_at: datetime | None,
    conn: BaseDBAsyncClient,
) -> CommissionInputs:
    """(terms, rules, chain, period_caps, period_earned) for `order`, read with `conn`."""
    terms = config.terms
    chain = await _chain(
        config=config,
        buyer_promoter_id=buyer_promoter_id,
        attributed_promoter_id=attributed_promoter_id,
        bound_at=bound_at,
        conn=conn,
    )
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
