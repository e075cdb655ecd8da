"""Rules of the promoter tree (one per program), independent of how it is stored.

A chain is `(ancestor_id, depth)` pairs, nearest first: depth 1 is the parent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from server.domain.errors import IllegalTransition

Chain = Sequence[tuple[int, int]]
CountDelta = tuple[int, int, int]  # (ancestor_id, depth, change in member count)


def chain_under(parent_id: int | None, parent_chain: Chain) -> list[tuple[int, int]]:
    """The chain a promoter gets when placed directly under `parent_id` (None = a root)."""
    if parent_id is None:
        return []
    return [(parent_id, 1), *((ancestor, depth + 1) for ancestor, depth in parent_chain)]


def ensure_no_cycle(
    *, promoter_id: int, new_parent_id: int | None, new_parent_ancestors: Iterable[int]
) -> None:
    """Refuse a parent that is the promoter itself or sits inside the promoter's subtree."""
    if new_parent_id is None:
        return
    if new_parent_id == promoter_id or promoter_id in set(new_parent_ancestors):
        raise IllegalTransition(
            "a promoter cannot be placed under itself or a member of its own team",
            code="hierarchy_cycle",
            fields={"promoter_id": promoter_id, "new_parent_id": new_parent_id},
        )


def subtree_levels(team_counts: Mapping[int, int]) -> dict[int, int]:
    """Level counts of a whole subtree: its root (depth 0) plus its team by depth."""
    levels = {depth: count for depth, count in team_counts.items() if count}
    levels[0] = 1
    return levels


def team_count_deltas(
    *, old_chain: Chain, new_chain: Chain, subtree_level_counts: Mapping[int, int]
) -> list[CountDelta]:
    """How each ancestor's per-depth team count changes when a subtree moves."""
    # Sorted by (ancestor, depth) so that statements lock rows in a stable order.
    changes: dict[tuple[int, int], int] = defaultdict(int)
    for sign, chain in ((-1, old_chain), (1, new_chain)):
        for ancestor, distance in chain:
            for level, count in subtree_level_counts.items():
                changes[(ancestor, distance + level)] += sign * count
    return sorted((ancestor, depth, delta) for (ancestor, depth), delta in changes.items() if delta)


@dataclass(frozen=True)
class ClosureRewrite:
    """How a subtree's links to its uplines change when it moves.

    Uplines on both chains (above the fork) keep their links, every depth shifted by `shift`.
    """

    removed: list[tuple[int, int]]  # (ancestor, old distance to the subtree's root)
    added: list[tuple[int, int]]  # (ancestor, new distance)
    shifted: list[tuple[int, int]]  # (ancestor, old distance), depths change by `shift`
    shift: int


def closure_rewrite(*, old_chain: Chain, new_chain: Chain) -> ClosureRewrite:
    """The least rewrite of the closure rows that moves a subtree from one chain to another."""
    old, new = dict(old_chain), dict(new_chain)
    common = sorted(set(old) & set(new))
    shifts = {new[ancestor] - old[ancestor] for ancestor in common}
    if len(shifts) > 1:  # impossible in a tree: the chains share one path to the root
        raise ValueError("uplines above the fork must all move by the same depth")
    shift = shifts.pop() if shifts else 0
    return ClosureRewrite(
        removed=[(a, d) for a, d in old_chain if a not in new],
        added=[(a, d) for a, d in new_chain if a not in old],
        shifted=[(a, old[a]) for a in common] if shift else [],
        shift=shift,
    )


def team_total(team_counts: Mapping[int, int]) -> int:
    """Everyone below a promoter, all depths together."""
    return sum(team_counts.values())
