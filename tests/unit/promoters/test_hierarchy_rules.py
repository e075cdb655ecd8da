from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.errors import IllegalTransition
from server.domain.pagination import next_cursor
from server.domain.promoters.hierarchy import (
    chain_under,
    closure_rewrite,
    ensure_no_cycle,
    subtree_levels,
    team_count_deltas,
    team_total,
)


def test_a_child_inherits_its_parents_chain_one_level_further_away() -> None:
    assert chain_under(7, [(3, 1), (1, 2)]) == [(7, 1), (3, 2), (1, 3)]


def test_a_root_has_an_empty_chain() -> None:
    assert chain_under(None, [(3, 1)]) == []


def test_placing_a_promoter_under_itself_is_a_cycle() -> None:
    with pytest.raises(IllegalTransition) as caught:
        ensure_no_cycle(promoter_id=5, new_parent_id=5, new_parent_ancestors=[])
    assert caught.value.code == "hierarchy_cycle"


def test_placing_a_promoter_under_a_member_of_its_own_team_is_a_cycle() -> None:
    # 9's uplines are 8 and 5: 9 is in 5's team.
    with pytest.raises(IllegalTransition) as caught:
        ensure_no_cycle(promoter_id=5, new_parent_id=9, new_parent_ancestors=[8, 5, 1])
    assert caught.value.code == "hierarchy_cycle"
    assert caught.value.fields == {"promoter_id": 5, "new_parent_id": 9}


def test_placing_a_promoter_under_an_unrelated_branch_is_allowed() -> None:
    ensure_no_cycle(promoter_id=5, new_parent_id=9, new_parent_ancestors=[8, 1])
    ensure_no_cycle(promoter_id=5, new_parent_id=None, new_parent_ancestors=[])


def test_a_subtree_counts_its_root_at_depth_zero() -> None:
    assert subtree_levels({1: 2, 2: 0, 3: 4}) == {0: 1, 1: 2, 3: 4}


def test_a_single_new_member_adds_one_at_each_uplines_distance() -> None:
    deltas = team_count_deltas(
        old_chain=[], new_chain=[(7, 1), (3, 2)], subtree_level_counts={0: 1}
    )
    assert deltas == [(3, 2, 1), (7, 1, 1)]


def test_a_move_takes_the_subtree_from_old_uplines_and_gives_it_to_new_ones() -> None:
    # Subtree: root + 2 children + 3 grandchildren, moving from under 10 (whose parent is 1)
    # to directly under 20.
    deltas = team_count_deltas(
        old_chain=[(10, 1), (1, 2)],
        new_chain=[(20, 1)],
        subtree_level_counts={0: 1, 1: 2, 2: 3},
    )
    assert deltas == [
        (1, 2, -1), (1, 3, -2), (1, 4, -3),
        (10, 1, -1), (10, 2, -2), (10, 3, -3),
        (20, 1, 1), (20, 2, 2), (20, 3, 3),
    ]  # fmt: skip


def test_an_upline_above_the_fork_only_sees_depths_shift() -> None:
    # Root 1 keeps the subtree but at one level deeper: 10 → 11 where 11 is under 10.
    deltas = team_count_deltas(
        old_chain=[(10, 1), (1, 2)],
        new_chain=[(11, 1), (10, 2), (1, 3)],
        subtree_level_counts={0: 1, 1: 1},
    )
    assert deltas == [
        (1, 2, -1), (1, 4, 1),
        (10, 1, -1), (10, 3, 1),
        (11, 1, 1), (11, 2, 1),
    ]  # fmt: skip


def test_moving_within_the_same_depth_under_the_same_grandparent_leaves_it_untouched() -> None:
    deltas = team_count_deltas(
        old_chain=[(10, 1), (1, 2)],
        new_chain=[(11, 1), (1, 2)],
        subtree_level_counts={0: 1, 1: 4},
    )
    assert all(ancestor != 1 for ancestor, _, _ in deltas)


@st.composite
def _move(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int]], dict[int, int]]:
    old_ids = draw(st.lists(st.integers(1, 40), unique=True, max_size=6))
    new_ids = draw(st.lists(st.integers(1, 40), unique=True, max_size=6))
    levels = draw(st.dictionaries(st.integers(1, 5), st.integers(1, 50), max_size=5))
    return (
        [(a, d) for d, a in enumerate(old_ids, start=1)],
        [(a, d) for d, a in enumerate(new_ids, start=1)],
        subtree_levels(levels),
    )


@given(_move())
def test_deltas_equal_the_difference_of_recounts_before_and_after(
    move: tuple[list[tuple[int, int]], list[tuple[int, int]], dict[int, int]],
) -> None:
    old_chain, new_chain, levels = move

    def contribution(chain: list[tuple[int, int]]) -> Counter[tuple[int, int]]:
        counted: Counter[tuple[int, int]] = Counter()
        for ancestor, distance in chain:
            for level, members in levels.items():
                counted[(ancestor, distance + level)] += members
        return counted

    expected = contribution(new_chain)
    expected.subtract(contribution(old_chain))
    deltas = team_count_deltas(
        old_chain=old_chain, new_chain=new_chain, subtree_level_counts=levels
    )
    assert {(a, d): delta for a, d, delta in deltas} == {k: v for k, v in expected.items() if v}
    moved = team_total(levels)
    assert sum(delta for _, _, delta in deltas) == moved * (len(new_chain) - len(old_chain))


def test_a_full_page_points_at_its_last_id_and_a_short_page_ends_the_list() -> None:
    assert next_cursor([9, 7, 4], 3) == 4
    assert next_cursor([9, 7], 3) is None
    assert next_cursor([], 3) is None


def test_a_move_deeper_under_the_same_upline_only_shifts_its_links_and_adds_the_new_parent() -> (
    None
):
    # X under U (a root) moves under V, another child of U: U keeps its links, one deeper.
    plan = closure_rewrite(old_chain=[(10, 1)], new_chain=[(20, 1), (10, 2)])
    assert (plan.removed, plan.added, plan.shifted, plan.shift) == ([], [(20, 1)], [(10, 1)], 1)


def test_a_move_to_another_tree_removes_every_old_link_and_adds_every_new_one() -> None:
    plan = closure_rewrite(old_chain=[(2, 1), (1, 2)], new_chain=[(7, 1)])
    assert (plan.removed, plan.added, plan.shifted) == ([(2, 1), (1, 2)], [(7, 1)], [])


def test_a_move_at_the_same_depth_below_the_fork_leaves_the_common_links_untouched() -> None:
    plan = closure_rewrite(old_chain=[(2, 1), (1, 2)], new_chain=[(3, 1), (1, 2)])
    assert (plan.removed, plan.added, plan.shifted, plan.shift) == ([(2, 1)], [(3, 1)], [], 0)
