"""Team screens: pages of members with who they are, the calling promoter's own team
(anonymized), and the staff view of anyone's uplines and team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from server.db import connection, is_mysql
from server.domain.errors import NotFound, ValidationFailed
from server.domain.masking import mask_name
from server.domain.pagination import next_cursor
from server.domain.promoters.hierarchy import team_total
from server.models import HierarchyMove, Promoter
from server.services.promoters.hierarchy import IN_TREE_STATUSES, team_counts


@dataclass(frozen=True)
class TeamMember:
    """A member of someone's team as stored; serializers decide what each audience sees."""

    id: int
    depth: int
    nickname: str | None
    joined_at: datetime | None
    team_size: int
    # Staff-only: left None in what a promoter's query reads.
    status: str | None = None
    parent_id: int | None = None
    real_name: str | None = None


async def _rows(text: str, values: list[Any]) -> list[dict[str, Any]]:
    conn = connection()
    marked = text.replace("?", "%s") if is_mysql(conn) else text
    return await conn.execute_query_dict(marked, values)


def _member_query(person: str, *, for_staff: bool) -> str:
    """Members joined with who they are; `person` is the closure column naming them."""
    # A promoter's query never even selects what only staff may see. Dates come back as text:
    # the MySQL driver's own datetime parsing costs more than the query.
    staff_columns = ""
    if for_staff:
        staff_columns = " p.status AS status, p.parent_id AS parent_id, p.real_name AS real_name,"
    return (
        f"SELECT c.{person} AS id, c.depth AS depth,{staff_columns} u.nickname AS nickname,"
        " CAST(COALESCE(p.decided_at, p.applied_at) AS CHAR) AS joined_at,"
        " (SELECT COALESCE(SUM(t.member_count), 0) FROM team_counts AS t"
        f"  WHERE t.ancestor_id = c.{person}) AS team_size"
        " FROM promoter_closure AS c"
        f" JOIN promoters AS p ON p.id = c.{person}"
        " JOIN users AS u ON u.id = p.user_id"
    )


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    # MySQL DATETIME columns hold UTC without a zone; SQLite's text keeps its offset.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _member(row: dict[str, Any]) -> TeamMember:
    parent_id = row.get("parent_id")
    return TeamMember(
        id=int(row["id"]),
        depth=int(row["depth"]),
        status=row.get("status"),
        parent_id=int(parent_id) if parent_id is not None else None,
        nickname=row["nickname"],
        real_name=row.get("real_name"),
        joined_at=_as_datetime(row["joined_at"]),
        team_size=int(row["team_size"]),
    )


async def team_level_page(
    *, promoter_id: int, depth: int, cursor: int | None, limit: int, for_staff: bool = False
) -> list[TeamMember]:
    """One page of the members exactly `depth` below the promoter, newest first."""
    text = _member_query("descendant_id", for_staff=for_staff)
    text += " WHERE c.ancestor_id = ? AND c.depth = ?"
    values: list[Any] = [promoter_id, depth]
    if cursor is not None:
        text += " AND c.descendant_id < ?"
        values.append(cursor)
    text += " ORDER BY c.descendant_id DESC LIMIT ?"
    return [_member(r) for r in await _rows(text, [*values, limit])]


async def subtree_page(
    *, promoter_id: int, cursor: int | None, limit: int, max_depth: int | None = None
) -> list[TeamMember]:
    """A page of the promoter's whole team (down to `max_depth`), newest first, for staff."""
    # Each level is a newest-first range of the (ancestor, depth) index; the page merges the
    # first `limit` of every level, so no level is ever sorted whole.
    counts = await team_counts(promoter_id=promoter_id)
    depths = [d for d in counts if max_depth is None or d <= max_depth]
    if not depths:
        return []
    after = "" if cursor is None else " AND descendant_id < ?"
    level = (
        "SELECT * FROM (SELECT descendant_id, depth FROM promoter_closure"
        f" WHERE ancestor_id = ? AND depth = ?{after} ORDER BY descendant_id DESC LIMIT ?) AS l{{}}"
    )
    newest = " UNION ALL ".join(level.format(n) for n in range(len(depths)))
    values: list[Any] = []
    for depth in depths:
        values += [promoter_id, depth, *([] if cursor is None else [cursor]), limit]
    text = _member_query("descendant_id", for_staff=True).replace(
        "FROM promoter_closure AS c", f"FROM ({newest}) AS c"
    )
    text += " ORDER BY c.descendant_id DESC LIMIT ?"
    return [_member(r) for r in await _rows(text, [*values, limit])]


async def upline_members(*, promoter_id: int) -> list[TeamMember]:
    """The promoter's uplines with who they are, nearest first (depth = distance up), for staff."""
    text = _member_query("ancestor_id", for_staff=True)
    text += " WHERE c.descendant_id = ? ORDER BY c.depth"
    return [_member(r) for r in await _rows(text, [promoter_id])]


def serialize_member_for_promoter(member: TeamMember) -> dict[str, Any]:
    """What a promoter may see of a team member: masked nickname, no phone or real name."""
    return {
        "id": member.id,
        "depth": member.depth,
        "nickname": mask_name(member.nickname),
        "joined_at": member.joined_at,
        "team_size": member.team_size,
    }


def serialize_member_for_staff(member: TeamMember) -> dict[str, Any]:
    return {
        "id": member.id,
        "depth": member.depth,
        "status": member.status,
        "parent_id": member.parent_id,
        "nickname": member.nickname,
        "real_name": member.real_name,
        "joined_at": member.joined_at,
        "team_size": member.team_size,
    }


def serialize_move(move: HierarchyMove) -> dict[str, Any]:
    return {
        "id": move.id,
        "program_id": move.program_id,  # type: ignore[attr-defined]
        "promoter_id": move.promoter_id,
        "from_parent_id": move.from_parent_id,
        "to_parent_id": move.to_parent_id,
        "subtree_size": move.subtree_size,
        "actor_id": move.actor_id,
        "reason": move.reason,
        "at": move.at,
    }


def _levels(counts: dict[int, int]) -> list[dict[str, int]]:
    return [{"depth": depth, "members": members} for depth, members in sorted(counts.items())]


async def own_promoter(*, user_id: int, program_id: int) -> Promoter:
    """The calling user's promoter profile in the program (in the tree), else 404."""
    promoter = (
        await Promoter.filter(
            user_id=user_id, program_id=program_id, status__in=sorted(IN_TREE_STATUSES)
        )
        .order_by("-id")
        .first()
    )
    if promoter is None:
        raise NotFound("you are not a promoter of this program", code="promoter_not_found")
    return promoter


async def _existing_promoter(promoter_id: int) -> Promoter:
    promoter = await Promoter.get_or_none(id=promoter_id)
    if promoter is None:
        raise NotFound("no such promoter", code="promoter_not_found")
    return promoter


async def my_team_summary(*, user_id: int, program_id: int) -> dict[str, Any]:
    """The calling promoter's team: members per level and in total."""
    me = await own_promoter(user_id=user_id, program_id=program_id)
    counts = await team_counts(promoter_id=me.id)
    return {"promoter_id": me.id, "levels": _levels(counts), "total": team_total(counts)}


async def my_team_level(
    *, user_id: int, program_id: int, depth: int, cursor: int | None, limit: int
) -> dict[str, Any]:
    """A page of the calling promoter's members at one level, newest first, anonymized."""
    if depth < 1:
        raise ValidationFailed("levels start at 1", code="invalid_depth", fields={"depth": depth})
    me = await own_promoter(user_id=user_id, program_id=program_id)
    members = await team_level_page(promoter_id=me.id, depth=depth, cursor=cursor, limit=limit)
    return {
        "depth": depth,
        "items": [serialize_member_for_promoter(m) for m in members],
        "next_cursor": next_cursor([m.id for m in members], limit),
    }


async def upline_view(*, promoter_id: int) -> dict[str, Any]:
    """A promoter's uplines with who they are, nearest first (staff screen)."""
    await _existing_promoter(promoter_id)
    members = await upline_members(promoter_id=promoter_id)
    return {"promoter_id": promoter_id, "items": [serialize_member_for_staff(m) for m in members]}


async def team_view(
    *, promoter_id: int, depth: int | None, cursor: int | None, limit: int
) -> dict[str, Any]:
    """A promoter's team for staff: counts per level and a page (one level, or all levels)."""
    await _existing_promoter(promoter_id)
    counts = await team_counts(promoter_id=promoter_id)
    if depth is None:
        members = await subtree_page(promoter_id=promoter_id, cursor=cursor, limit=limit)
    else:
        members = await team_level_page(
            promoter_id=promoter_id, depth=depth, cursor=cursor, limit=limit, for_staff=True
        )
    return {
        "promoter_id": promoter_id,
        "levels": _levels(counts),
        "total": team_total(counts),
        "depth": depth,
        "items": [serialize_member_for_staff(m) for m in members],
        "next_cursor": next_cursor([m.id for m in members], limit),
    }
