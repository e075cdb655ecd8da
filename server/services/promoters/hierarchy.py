"""The promoter tree: placing approved promoters, moving subtrees, and reads that stay fast
(a closure table plus per-depth team counts; docs/design/promoters.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.db import connection, is_mysql
from server.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from server.domain.promoters.hierarchy import (
    CountDelta,
    chain_under,
    closure_rewrite,
    ensure_no_cycle,
    subtree_levels,
    team_count_deltas,
    team_total,
)
from server.domain.promoters.status import ACTIVE_STATUSES, PromoterStatus
from server.models import HierarchyMove, Promoter
from server.services.access.audit import record_action

# Promoters who hold a place in the tree: they can be moved and can read their own team.
IN_TREE_STATUSES = frozenset({PromoterStatus.APPROVED, PromoterStatus.SUSPENDED})
# Bound on rows per multi-row INSERT (SQLite caps bound parameters per statement).
_BATCH = 500


def _sql(conn: BaseDBAsyncClient, text: str) -> str:
    """Statements are written with `?` markers; MySQL wants `%s`."""
    return text.replace("?", "%s") if is_mysql(conn) else text


def _share_lock(conn: BaseDBAsyncClient) -> str:
    return " LOCK IN SHARE MODE" if is_mysql(conn) else ""


async def _rows(conn: BaseDBAsyncClient, text: str, values: Sequence[Any]) -> list[dict[str, Any]]:
    return await conn.execute_query_dict(_sql(conn, text), list(values))


async def _write(conn: BaseDBAsyncClient, text: str, values: Sequence[Any]) -> None:
    await conn.execute_query(_sql(conn, text), list(values))


def _marks(count: int) -> str:
    return ", ".join(["?"] * count)


async def _lock_program(conn: BaseDBAsyncClient, program_id: int) -> None:
    # Raw SQL on purpose: tortoise drops FOR UPDATE from values()/values_list() queries.
    lock = " FOR UPDATE" if is_mysql(conn) else ""
    if not await _rows(conn, f"SELECT id FROM programs WHERE id = ?{lock}", [program_id]):
        raise NotFound("no such program", code="program_not_found")


async def _chain(
    conn: BaseDBAsyncClient,
    promoter_id: int,
    *,
    locking: bool = False,
    max_depth: int | None = None,
) -> list[tuple[int, int]]:
    text = "SELECT ancestor_id, depth FROM promoter_closure WHERE descendant_id = ?"
    values: list[Any] = [promoter_id]
    if max_depth is not None:
        text += " AND depth <= ?"
        values.append(max_depth)
    text += " ORDER BY depth" + (_share_lock(conn) if locking else "")
    return [(int(r["ancestor_id"]), int(r["depth"])) for r in await _rows(conn, text, values)]


async def _counts(
    conn: BaseDBAsyncClient, promoter_id: int, *, locking: bool = False
) -> dict[int, int]:
    text = (
        "SELECT depth, member_count FROM team_counts WHERE ancestor_id = ? AND member_count > 0"
        " ORDER BY depth" + (_share_lock(conn) if locking else "")
    )
    return {int(r["depth"]): int(r["member_count"]) for r in await _rows(conn, text, [promoter_id])}


async def _require_active_upline(
    conn: BaseDBAsyncClient, *, parent_id: int, program_id: int
) -> None:
    # A shared lock, not FOR UPDATE: it keeps the upline's status from changing under us
    # while staying compatible with the shared locks foreign-key checks take on that row.
    rows = await _rows(
        conn,
        "SELECT status FROM promoters WHERE id = ? AND program_id = ?" + _share_lock(conn),
        [parent_id, program_id],
    )
    if not rows:
        raise ValidationFailed(
            "the upline is not a promoter of this program",
            code="upline_not_found",
            fields={"parent_id": parent_id},
        )
    if rows[0]["status"] not in ACTIVE_STATUSES:
        raise Conflict(
            "the upline is not an approved promoter",
            code="upline_not_active",
            fields={"parent_id": parent_id, "status": rows[0]["status"]},
        )


async def _insert_rows(
    conn: BaseDBAsyncClient, head: str, rows: Sequence[Sequence[int]], tail: str = ""
) -> None:
    """Multi-row INSERT of 3-column rows, batched."""
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        values = [v for row in batch for v in row]
        await _write(conn, f"{head} VALUES {', '.join(['(?, ?, ?)'] * len(batch))} {tail}", values)


def _uplines(links: Sequence[tuple[int, int]]) -> str:
    """A derived table of (ancestor_id, distance) pairs, one `?` pair per link."""
    return " UNION ALL ".join(["SELECT ? AS ancestor_id, ? AS distance"] * len(links))


async def _unlink_subtree(
    conn: BaseDBAsyncClient, root_id: int, uplines: Sequence[tuple[int, int]]
) -> None:
    """Delete every link between the subtree of `root_id` and the uplines it is leaving."""
    if is_mysql(conn):
        # MySQL refuses a DELETE whose subquery reads the target table; a self-join is
        # allowed. Each old link is found by its full unique key: a member `k` below the
        # root is `k + distance` below an upline `distance` above the root. STRAIGHT_JOIN
        # keeps that order: left to itself the optimizer may start from an upline's whole
        # team instead of the (smaller) subtree.
        text = (
            "DELETE link FROM promoter_closure AS member"
            f" STRAIGHT_JOIN ({_uplines(uplines)}) AS old"
            " STRAIGHT_JOIN promoter_closure AS link"
            " ON link.descendant_id = member.descendant_id"
            " AND link.depth = member.depth + old.distance AND link.ancestor_id = old.ancestor_id"
            " WHERE member.ancestor_id = ?"
        )
        values = [*(v for link in uplines for v in link), root_id]
    else:
        text = (
            f"DELETE FROM promoter_closure WHERE ancestor_id IN ({_marks(len(uplines))}) AND"
            " descendant_id IN (SELECT descendant_id FROM promoter_closure WHERE ancestor_id = ?)"
        )
        values = [*(ancestor for ancestor, _ in uplines), root_id]
    await _write(conn, text, values)
    await _write(
        conn,
        f"DELETE FROM promoter_closure WHERE descendant_id = ? AND ancestor_id IN"
        f" ({_marks(len(uplines))})",
        [root_id, *(ancestor for ancestor, _ in uplines)],
    )


async def _shift_subtree(
    conn: BaseDBAsyncClient, root_id: int, uplines: Sequence[tuple[int, int]], shift: int
) -> None:
    """Change by `shift` the depth of every link between the subtree and uplines it keeps."""
    # In place: rewriting a link's depth touches its two index entries, where deleting and
    # inserting it would also rewrite the row (a move spends most of its time there).
    if is_mysql(conn):
        text = (
            "UPDATE promoter_closure AS member"
            f" STRAIGHT_JOIN ({_uplines(uplines)}) AS kept"
            " STRAIGHT_JOIN promoter_closure AS link"
            " ON link.descendant_id = member.descendant_id"
            " AND link.depth = member.depth + kept.distance AND link.ancestor_id = kept.ancestor_id"
            " SET link.depth = link.depth + ? WHERE member.ancestor_id = ?"
        )
        values = [*(v for link in uplines for v in link), shift, root_id]
    else:
        text = (
            "UPDATE promoter_closure SET depth = depth + ?"
            f" WHERE ancestor_id IN ({_marks(len(uplines))}) AND descendant_id IN"
            " (SELECT descendant_id FROM promoter_closure WHERE ancestor_id = ?)"
        )
        values = [shift, *(ancestor for ancestor, _ in uplines), root_id]
    await _write(conn, text, values)
    await _write(
        conn,
        "UPDATE promoter_closure SET depth = depth + ?"
        f" WHERE descendant_id = ? AND ancestor_id IN ({_marks(len(uplines))})",
        [shift, root_id, *(ancestor for ancestor, _ in uplines)],
    )


async def _link_subtree(
    conn: BaseDBAsyncClient, root_id: int, uplines: Sequence[tuple[int, int]]
) -> None:
    """Link every member of the subtree (and its root) to each of the new uplines."""
    await _write(
        conn,
        "INSERT INTO promoter_closure (ancestor_id, descendant_id, depth)"
        " SELECT up.ancestor_id, down.descendant_id, up.distance + down.depth FROM"
        f" ({_uplines(uplines)}) AS up"
        " CROSS JOIN"
        " (SELECT descendant_id, depth FROM promoter_closure WHERE ancestor_id = ?"
        "  UNION ALL SELECT ?, 0) AS down",
        [*(v for link in uplines for v in link), root_id, root_id],
    )


async def _apply_count_deltas(conn: BaseDBAsyncClient, deltas: Sequence[CountDelta]) -> None:
    if is_mysql(conn):
        upsert = "ON DUPLICATE KEY UPDATE member_count = member_count + VALUES(member_count)"
    else:
        upsert = (
            "ON CONFLICT(ancestor_id, depth) DO UPDATE"
            " SET member_count = member_count + excluded.member_count"
        )
    head = "INSERT INTO team_counts (ancestor_id, depth, member_count)"
    await _insert_rows(conn, head, deltas, upsert)
    emptied = sorted({ancestor for ancestor, _, change in deltas if change < 0})
    if emptied:  # at most the old chain's length: one statement
        await _write(
            conn,
            f"DELETE FROM team_counts WHERE ancestor_id IN ({_marks(len(emptied))})"
            " AND member_count <= 0",
            emptied,
        )


async def _is_in_tree(conn: BaseDBAsyncClient, promoter_id: int) -> bool:
    lock = _share_lock(conn)
    for column in ("descendant_id", "ancestor_id"):
        text = f"SELECT 1 AS linked FROM promoter_closure WHERE {column} = ? LIMIT 1{lock}"
        if await _rows(conn, text, [promoter_id]):
            return True
    return False


async def attach_promoter(
    *, promoter_id: int, parent_id: int | None, program_id: int, conn: BaseDBAsyncClient
) -> None:
    """Place a newly approved promoter under `parent_id` (None = a root) in the caller's tx."""
    await _lock_program(conn, program_id)
    if not await Promoter.filter(id=promoter_id, program_id=program_id).using_db(conn).exists():
        raise NotFound("no such promoter in this program", code="promoter_not_found")
    if await _is_in_tree(conn, promoter_id):
        raise Conflict("the promoter already has a place in the tree", code="already_in_tree")
    parent_chain: list[tuple[int, int]] = []
    if parent_id is not None:
        ensure_no_cycle(promoter_id=promoter_id, new_parent_id=parent_id, new_parent_ancestors=())
        await _require_active_upline(conn, parent_id=parent_id, program_id=program_id)
        parent_chain = await _chain(conn, parent_id, locking=True)
    chain = chain_under(parent_id, parent_chain)
    await _insert_rows(
        conn,
        "INSERT INTO promoter_closure (ancestor_id, descendant_id, depth)",
        [(ancestor, promoter_id, depth) for ancestor, depth in chain],
    )
    await _apply_count_deltas(
        conn,
        team_count_deltas(old_chain=(), new_chain=chain, subtree_level_counts=subtree_levels({})),
    )
    await Promoter.filter(id=promoter_id).using_db(conn).update(parent_id=parent_id)


async def move_subtree(
    *,
    promoter_id: int,
    new_parent_id: int | None,
    actor: Principal | None,
    reason: str,
    request_id: str | None = None,
) -> HierarchyMove:
    """Move a promoter and its whole team under another upline (None = a root); audited."""
    if not reason.strip():
        raise ValidationFailed(
            "a reason is required", code="reason_required", fields={"reason": "required"}
        )
    owner = await Promoter.get_or_none(id=promoter_id)
    if owner is None:
        raise NotFound("no such promoter", code="promoter_not_found")
    async with in_transaction() as conn:
        await _lock_program(conn, owner.program_id)
        promoter = await Promoter.filter(id=promoter_id).using_db(conn).select_for_update().first()
        if promoter is None or promoter.status not in IN_TREE_STATUSES:
            raise IllegalTransition(
                "only approved or suspended promoters have a place in the tree to move",
                code="promoter_not_in_tree",
                fields={"status": promoter.status if promoter else None},
            )
        old_chain = await _chain(conn, promoter_id, locking=True)
        old_parent_id = old_chain[0][0] if old_chain else None
        if new_parent_id == old_parent_id:
            raise Conflict("the promoter is already under this upline", code="hierarchy_unchanged")
        new_parent_chain: list[tuple[int, int]] = []
        if new_parent_id is not None:
            new_parent_chain = await _chain(conn, new_parent_id, locking=True)
            ensure_no_cycle(
                promoter_id=promoter_id,
                new_parent_id=new_parent_id,
                new_parent_ancestors=[ancestor for ancestor, _ in new_parent_chain],
            )
            await _require_active_upline(conn, parent_id=new_parent_id, program_id=owner.program_id)
        levels = subtree_levels(await _counts(conn, promoter_id, locking=True))
        deltas = team_count_deltas(
            old_chain=old_chain,
            new_chain=chain_under(new_parent_id, new_parent_chain),
            subtree_level_counts=levels,
        )
        new_chain = chain_under(new_parent_id, new_parent_chain)
        rewrite = closure_rewrite(old_chain=old_chain, new_chain=new_chain)
        if rewrite.removed:
            await _unlink_subtree(conn, promoter_id, rewrite.removed)
        if rewrite.shifted:
            await _shift_subtree(conn, promoter_id, rewrite.shifted, rewrite.shift)
        if rewrite.added:
            await _link_subtree(conn, promoter_id, rewrite.added)
        await _apply_count_deltas(conn, deltas)
        await Promoter.filter(id=promoter_id).using_db(conn).update(parent_id=new_parent_id)
        subtree_size = team_total(levels)
        move = await HierarchyMove.create(
            program_id=owner.program_id,
            promoter_id=promoter_id,
            from_parent_id=old_parent_id,
            to_parent_id=new_parent_id,
            subtree_size=subtree_size,
            actor_id=actor.id if actor else None,
            reason=reason.strip(),
            using_db=conn,
        )
        await record_action(
            actor=actor,
            action="hierarchy.move",
            target_kind="promoter",
            target_id=promoter_id,
            program_id=owner.program_id,
            details={
                "from_parent_id": old_parent_id,
                "to_parent_id": new_parent_id,
                "subtree_size": subtree_size,
                "reason": reason.strip(),
                "move_id": move.id,
            },
            request_id=request_id,
            using_db=conn,
        )
    return move


async def upline_chain(
    *, promoter_id: int, max_depth: int | None = None, conn: BaseDBAsyncClient | None = None
) -> list[tuple[int, int]]:
    """The promoter's uplines as (ancestor_id, depth), nearest first (depth 1 = parent)."""
    return await _chain(conn or connection(), promoter_id, max_depth=max_depth)


async def team_counts(*, promoter_id: int, conn: BaseDBAsyncClient | None = None) -> dict[int, int]:
    """Members below the promoter per depth (1 = direct), from the maintained counts."""
    return await _counts(conn or connection(), promoter_id)


async def team_size(*, promoter_id: int, conn: BaseDBAsyncClient | None = None) -> int:
    """Everyone below the promoter, all depths together."""
    conn = conn or connection()
    rows = await _rows(
        conn,
        "SELECT COALESCE(SUM(member_count), 0) AS total FROM team_counts WHERE ancestor_id = ?",
        [promoter_id],
    )
    return int(rows[0]["total"]) if rows else 0
