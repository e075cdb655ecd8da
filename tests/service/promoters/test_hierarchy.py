from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import Mapping

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from server.auth import Principal
from server.db import connection
from server.domain.errors import Conflict, FenxiaoError, IllegalTransition, ValidationFailed
from server.models import AuditLog, HierarchyMove, Program, Promoter, PromoterClosure, User
from server.services.promoters.hierarchy import (
    attach_promoter,
    move_subtree,
    team_counts,
    team_size,
    upline_chain,
)
from server.services.promoters.team import subtree_page, team_level_page

STAFF = Principal(kind="staff", id=42, roles=frozenset({"staff"}))
_openids = itertools.count()


async def new_program(name: str = "P") -> Program:
    return await Program.create(name=name, currency="CNY")


async def new_promoter(
    program: Program,
    parent: Promoter | None = None,
    *,
    status: str = "approved",
    user: User | None = None,
    nickname: str = "Nick",
) -> Promoter:
    """A promoter row as onboarding would leave it, then placed in the tree when approved."""
    if user is None:
        user = await User.create(appid="wx", openid=f"o{next(_openids)}", nickname=nickname)
    promoter = await Promoter.create(
        program=program,
        user=user,
        status=status,
        parent_id=parent.id if parent else None,
        real_name="Real Name",
        phone="13812345678",
    )
    if status == "approved":
        async with in_transaction() as conn:
            await attach_promoter(
                promoter_id=promoter.id,
                parent_id=parent.id if parent else None,
                program_id=program.id,
                conn=conn,
            )
    return promoter


def expected_tree(parents: Mapping[int, int | None]) -> tuple[set[tuple[int, int, int]], Counter]:
    """Closure rows and per-depth counts recomputed naively from a child → parent map."""
    links: set[tuple[int, int, int]] = set()
    counts: Counter[tuple[int, int]] = Counter()
    for member in parents:
        ancestor, depth = parents[member], 1
        while ancestor is not None:
            links.add((ancestor, member, depth))
            counts[(ancestor, depth)] += 1
            ancestor, depth = parents[ancestor], depth + 1
    return links, counts


async def assert_tree_matches(parents: Mapping[int, int | None]) -> None:
    links, counts = expected_tree(parents)
    ids = list(parents)
    stored_links = {
        (row.ancestor_id, row.descendant_id, row.depth)
        for row in await PromoterClosure.filter(descendant_id__in=ids)
    }
    assert stored_links == links
    for member in ids:
        expected = {d: n for (a, d), n in counts.items() if a == member}
        assert await team_counts(promoter_id=member) == expected
        assert await team_size(promoter_id=member) == sum(expected.values())
    stored_parents = dict(await Promoter.filter(id__in=ids).values_list("id", "parent_id"))
    assert stored_parents == dict(parents)


async def test_attaching_links_a_promoter_to_every_upline_at_its_distance(db: str) -> None:
    program = await new_program()
    root = await new_promoter(program)
    child = await new_promoter(program, root)
    grandchild = await new_promoter(program, child)
    assert await upline_chain(promoter_id=grandchild.id) == [(child.id, 1), (root.id, 2)]
    assert await upline_chain(promoter_id=grandchild.id, max_depth=1) == [(child.id, 1)]
    assert await upline_chain(promoter_id=root.id) == []
    assert await team_counts(promoter_id=root.id) == {1: 1, 2: 1}
    assert await team_size(promoter_id=root.id) == 2
    await assert_tree_matches({root.id: None, child.id: root.id, grandchild.id: child.id})


async def test_an_upline_of_another_program_is_refused_and_nothing_is_written(db: str) -> None:
    stranger = await new_promoter(await new_program("other"))
    program = await new_program()
    applicant = await new_promoter(program, status="applied")
    with pytest.raises(ValidationFailed) as caught:
        async with in_transaction() as conn:
            await attach_promoter(
                promoter_id=applicant.id, parent_id=stranger.id, program_id=program.id, conn=conn
            )
    assert caught.value.code == "upline_not_found"
    assert await PromoterClosure.filter(descendant_id=applicant.id).count() == 0
    assert await team_counts(promoter_id=stranger.id) == {}


@pytest.mark.parametrize("upline_status", ["applied", "suspended", "disabled"])
async def test_an_upline_that_is_not_approved_is_refused(db: str, upline_status: str) -> None:
    program = await new_program()
    upline = await new_promoter(program, status=upline_status)
    applicant = await new_promoter(program, status="applied")
    with pytest.raises(Conflict) as caught:
        async with in_transaction() as conn:
            await attach_promoter(
                promoter_id=applicant.id, parent_id=upline.id, program_id=program.id, conn=conn
            )
    assert caught.value.code == "upline_not_active"


async def test_a_promoter_already_in_the_tree_cannot_be_attached_again(db: str) -> None:
    program = await new_program()
    root = await new_promoter(program)
    child = await new_promoter(program, root)
    with pytest.raises(Conflict) as caught:
        async with in_transaction() as conn:
            await attach_promoter(
                promoter_id=child.id, parent_id=None, program_id=program.id, conn=conn
            )
    assert caught.value.code == "already_in_tree"
    assert await team_counts(promoter_id=root.id) == {1: 1}


async def test_moving_a_subtree_relinks_every_member_and_recounts_both_sides(db: str) -> None:
    program = await new_program()
    a = await new_promoter(program)
    b = await new_promoter(program, a)
    c = await new_promoter(program, b)
    d = await new_promoter(program, c)
    e = await new_promoter(program, c)
    x = await new_promoter(program)
    y = await new_promoter(program, x)
    move = await move_subtree(promoter_id=c.id, new_parent_id=y.id, actor=STAFF, reason="merge")
    assert (move.from_parent_id, move.to_parent_id, move.subtree_size) == (b.id, y.id, 3)
    assert await upline_chain(promoter_id=d.id) == [(c.id, 1), (y.id, 2), (x.id, 3)]
    assert await team_counts(promoter_id=a.id) == {1: 1}
    assert await team_counts(promoter_id=x.id) == {1: 1, 2: 1, 3: 2}
    await assert_tree_matches(
        {a.id: None, b.id: a.id, c.id: y.id, d.id: c.id, e.id: c.id, x.id: None, y.id: x.id}
    )


async def test_a_subtree_can_be_made_a_tree_of_its_own(db: str) -> None:
    program = await new_program()
    a = await new_promoter(program)
    b = await new_promoter(program, a)
    c = await new_promoter(program, b)
    await move_subtree(promoter_id=b.id, new_parent_id=None, actor=STAFF, reason="split")
    assert await upline_chain(promoter_id=c.id) == [(b.id, 1)]
    assert await team_counts(promoter_id=a.id) == {}
    await assert_tree_matches({a.id: None, b.id: None, c.id: b.id})


async def test_moving_a_subtree_under_its_own_member_is_refused_as_a_cycle(db: str) -> None:
    program = await new_program()
    a = await new_promoter(program)
    b = await new_promoter(program, a)
    c = await new_promoter(program, b)
    for target in (c, b):
        with pytest.raises(IllegalTransition) as caught:
            await move_subtree(promoter_id=b.id, new_parent_id=target.id, actor=STAFF, reason="x")
        assert caught.value.code == "hierarchy_cycle"
    await assert_tree_matches({a.id: None, b.id: a.id, c.id: b.id})
    assert await HierarchyMove.all().count() == 0
    assert await AuditLog.filter(action="hierarchy.move").count() == 0


async def test_a_move_is_recorded_in_the_audit_log_and_the_move_history(db: str) -> None:
    program = await new_program()
    a = await new_promoter(program)
    b = await new_promoter(program)
    c = await new_promoter(program, a)
    move = await move_subtree(
        promoter_id=c.id, new_parent_id=b.id, actor=STAFF, reason="team merge", request_id="r-1"
    )
    stored = await HierarchyMove.get(id=move.id)
    assert (stored.program_id, stored.actor_id, stored.reason) == (program.id, 42, "team merge")  # type: ignore[attr-defined]
    entry = await AuditLog.get(action="hierarchy.move", target_id=c.id)
    assert (entry.actor_kind, entry.actor_id, entry.program_id) == ("staff", 42, program.id)
    assert entry.request_id == "r-1"
    assert entry.details["from_parent_id"] == a.id
    assert entry.details["to_parent_id"] == b.id


async def test_a_move_needs_a_reason_an_active_new_upline_and_an_actual_change(db: str) -> None:
    program = await new_program()
    a = await new_promoter(program)
    b = await new_promoter(program, a)
    sleeping = await new_promoter(program, status="applied")
    with pytest.raises(ValidationFailed) as no_reason:
        await move_subtree(promoter_id=b.id, new_parent_id=None, actor=STAFF, reason="  ")
    assert no_reason.value.code == "reason_required"
    with pytest.raises(Conflict) as inactive:
        await move_subtree(promoter_id=b.id, new_parent_id=sleeping.id, actor=STAFF, reason="r")
    assert inactive.value.code == "upline_not_active"
    with pytest.raises(Conflict) as same:
        await move_subtree(promoter_id=b.id, new_parent_id=a.id, actor=STAFF, reason="r")
    assert same.value.code == "hierarchy_unchanged"
    stranger = await new_promoter(await new_program("other"))
    with pytest.raises(ValidationFailed) as elsewhere:
        await move_subtree(promoter_id=b.id, new_parent_id=stranger.id, actor=STAFF, reason="r")
    assert elsewhere.value.code == "upline_not_found"
    with pytest.raises(IllegalTransition) as not_in_tree:
        await move_subtree(promoter_id=sleeping.id, new_parent_id=a.id, actor=STAFF, reason="r")
    assert not_in_tree.value.code == "promoter_not_in_tree"
    await assert_tree_matches({a.id: None, b.id: a.id})


async def test_a_level_is_listed_newest_first_page_by_page(db: str) -> None:
    program = await new_program()
    root = await new_promoter(program)
    children = [await new_promoter(program, root) for _ in range(5)]
    await new_promoter(program, children[0])
    first = await team_level_page(promoter_id=root.id, depth=1, cursor=None, limit=3)
    assert [m.id for m in first] == [c.id for c in reversed(children)][:3]
    rest = await team_level_page(promoter_id=root.id, depth=1, cursor=first[-1].id, limit=3)
    assert [m.id for m in rest] == [children[1].id, children[0].id]
    assert rest[-1].team_size == 1
    assert rest[-1].joined_at is not None
    whole = await subtree_page(promoter_id=root.id, cursor=None, limit=10)
    assert [m.depth for m in whole] == [2, 1, 1, 1, 1, 1]
    first_two = await subtree_page(promoter_id=root.id, cursor=None, limit=2)
    next_two = await subtree_page(promoter_id=root.id, cursor=first_two[-1].id, limit=2)
    assert [m.id for m in first_two + next_two] == [m.id for m in whole[:4]]
    assert await subtree_page(promoter_id=root.id, cursor=None, limit=10, max_depth=1) == whole[1:]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6), st.integers(0, 10**6)),
                min_size=1, max_size=25))  # fmt: skip
async def test_counts_always_equal_a_recount_after_any_signups_and_moves(
    db: str, operations: list[tuple[bool, int, int]]
) -> None:
    program = await new_program()
    parents: dict[int, int | None] = {}
    by_id: dict[int, Promoter] = {}
    for is_move, pick, target in operations:
        ids = sorted(parents)
        if is_move and ids:
            moved = ids[pick % len(ids)]
            choices = [None, *ids]
            new_parent = choices[target % len(choices)]
            try:
                await move_subtree(
                    promoter_id=moved, new_parent_id=new_parent, actor=STAFF, reason="p"
                )
            except FenxiaoError as refused:
                assert refused.code in {"hierarchy_cycle", "hierarchy_unchanged"}
            else:
                parents[moved] = new_parent
        else:
            parent = by_id[ids[pick % len(ids)]] if ids and target % 4 else None
            joined = await new_promoter(program, parent)
            by_id[joined.id] = joined
            parents[joined.id] = parent.id if parent else None
    await assert_tree_matches(parents)


@pytest.mark.mysql
async def test_concurrent_moves_and_signups_never_create_a_cycle_or_an_orphan(db: str) -> None:
    program = await new_program()
    nodes = [await new_promoter(program)]
    rng = random.Random(7)
    for _ in range(24):
        nodes.append(await new_promoter(program, rng.choice(nodes)))

    async def sign_up(parent: Promoter) -> None:
        await new_promoter(program, parent)

    async def move(mover: Promoter, target: Promoter) -> None:
        await move_subtree(promoter_id=mover.id, new_parent_id=target.id, actor=STAFF, reason="r")

    for _ in range(3):
        jobs = []
        for _ in range(12):
            a, b = rng.sample(nodes, 2)
            jobs += [move(a, b), move(b, a), sign_up(a)]
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        assert all(isinstance(f, FenxiaoError) for f in failures), failures
        assert {f.code for f in failures} <= {"hierarchy_cycle", "hierarchy_unchanged"}
    rows = await Promoter.filter(program_id=program.id).values_list("id", "parent_id")
    parents = dict(rows)
    for member in parents:  # every chain ends at a root: no cycles, no dangling parents
        seen, walker = set(), member
        while walker is not None:
            assert walker not in seen and walker in parents
            seen.add(walker)
            walker = parents[walker]
    await assert_tree_matches(parents)
    assert connection().capabilities.dialect == "mysql"
