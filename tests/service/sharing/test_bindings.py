from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from server import clock
from server.domain.errors import NotFound, ValidationFailed
from server.domain.sharing.attribution import BindAction, BindingDecision
from server.models import Binding, Program, Promoter
from server.services.sharing import binding_queries, bindings
from server.services.sharing import codes as share_codes
from server.services.sharing import links as share_links
from tests.service.sharing.test_share_support import (
    approve_pending_codes,
    make_program,
    make_promoter,
    make_user,
)

pytestmark = pytest.mark.usefixtures("db")

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _program(bind_mode: str = "first_touch", window_days: int = 30) -> Program:
    program = await make_program()
    program.bind_mode = bind_mode
    program.attribution_window_days = window_days
    await program.save()
    return program


async def _touch(
    program: Program,
    promoter: Promoter,
    *,
    at: datetime,
    user_id: int | None = None,
    external_id: str | None = None,
    source: bindings.TouchKind = "visit",
) -> BindingDecision:
    async with in_transaction() as conn:
        return await bindings.bind_from_touch(
            program_id=program.id,
            customer_user_id=user_id,
            customer_external_id=external_id,
            promoter_id=promoter.id,
            channel_id=None,
            code_id=None,
            visit_id=None,
            source=source,
            at=at,
            conn=conn,
        )


async def _bound_promoter(program: Program, user_id: int, at: datetime) -> int | None:
    binding = await bindings.current_binding(
        program_id=program.id, customer_user_id=user_id, customer_external_id=None, at=at
    )
    return binding.promoter_id if binding else None


async def test_first_touch_keeps_the_first_promoter_while_the_binding_lasts() -> None:
    program = await _program("first_touch")
    alice, bob = await make_promoter(program), await make_promoter(program)
    customer = await make_user("Carol")

    first = await _touch(program, alice, at=T0, user_id=customer.id)
    second = await _touch(program, bob, at=T0 + timedelta(days=3), user_id=customer.id)

    assert first.action == BindAction.BIND and first.expires_at == T0 + timedelta(days=30)
    assert second.action == BindAction.KEEP and second.reason == "first_touch_keeps_existing"
    assert await _bound_promoter(program, customer.id, T0 + timedelta(days=4)) == alice.id
    assert await Binding.all().count() == 1


async def test_last_touch_rebinds_and_keeps_the_superseded_binding_as_history() -> None:
    program = await _program("last_touch")
    alice, bob = await make_promoter(program), await make_promoter(program)
    customer = await make_user("Carol")
    later = T0 + timedelta(days=3)

    await _touch(program, alice, at=T0, user_id=customer.id)
    decision = await _touch(program, bob, at=later, user_id=customer.id)

    assert decision.action == BindAction.REBIND and decision.replaced_promoter_id == alice.id
    old, new = await Binding.all().order_by("id")
    assert (old.promoter_id, old.ended_at, old.end_reason) == (alice.id, later, "superseded")
    assert old.replaced_by_id == new.id and old.active_key is None
    assert new.promoter_id == bob.id and new.ended_at is None
    # The history answers "who held the customer then", not only "who holds them now".
    assert await _bound_promoter(program, customer.id, T0 + timedelta(days=1)) == alice.id
    assert await _bound_promoter(program, customer.id, later) == bob.id


async def test_last_touch_by_the_same_promoter_renews_the_window() -> None:
    program = await _program("last_touch", window_days=10)
    alice = await make_promoter(program)
    customer = await make_user("Carol")

    await _touch(program, alice, at=T0, user_id=customer.id)
    renewal = await _touch(program, alice, at=T0 + timedelta(days=8), user_id=customer.id)

    assert renewal.action == BindAction.RENEW
    assert renewal.expires_at == T0 + timedelta(days=18)
    old, new = await Binding.all().order_by("id")
    assert old.end_reason == "renewed" and new.bound_at == T0 + timedelta(days=8)
    assert await _bound_promoter(program, customer.id, T0 + timedelta(days=15)) == alice.id


async def test_an_expired_binding_lets_the_next_touch_bind_in_first_touch_mode() -> None:
    program = await _program("first_touch", window_days=30)
    alice, bob = await make_promoter(program), await make_promoter(program)
    customer = await make_user("Carol")

    await _touch(program, alice, at=T0, user_id=customer.id)
    assert await _bound_promoter(program, customer.id, T0 + timedelta(days=30)) is None
    decision = await _touch(program, bob, at=T0 + timedelta(days=31), user_id=customer.id)

    assert decision.action == BindAction.BIND and decision.reason == "previous_binding_expired"
    old, new = await Binding.all().order_by("id")
    assert old.end_reason == "expired" and old.ended_at == T0 + timedelta(days=30)
    assert new.promoter_id == bob.id


async def test_a_window_of_zero_days_binds_for_ever() -> None:
    program = await _program("first_touch", window_days=0)
    alice = await make_promoter(program)
    customer = await make_user("Carol")

    decision = await _touch(program, alice, at=T0, user_id=customer.id)

    assert decision.expires_at is None
    assert await _bound_promoter(program, customer.id, T0 + timedelta(days=3650)) == alice.id


async def test_on_register_binds_only_at_registration_and_never_rebinds() -> None:
    program = await _program("on_register")
    alice, bob = await make_promoter(program), await make_promoter(program)
    customer = await make_user("Carol")
    link, _ = await share_links.create_link(user_id=alice.user_id, program_id=program.id)
    await share_codes.create_code(
        user_id=bob.user_id, program_id=program.id, kind="referral", code="BOB-1"
    )
    await approve_pending_codes(program.id)

    visit = await _touch(program, alice, at=T0, user_id=customer.id)
    assert visit.action == BindAction.IGNORE and visit.reason == "not_at_registration"
    assert await Binding.all().count() == 0

    registered = await bindings.register_customer(
        user_id=customer.id, program_id=program.id, short_code=link.short_code, code=None
    )
    again = await bindings.register_customer(
        user_id=customer.id, program_id=program.id, short_code=None, code="bob-1"
    )

    assert registered.action == BindAction.BIND and registered.promoter_id == alice.id
    assert again.action == BindAction.KEEP
    binding = await Binding.get()
    assert (binding.promoter_id, binding.source) == (alice.id, "register")


async def test_registration_needs_exactly_one_known_link_or_code_of_the_program() -> None:
    program = await _program("on_register")
    other = await _program("on_register")
    alice = await make_promoter(other)
    customer = await make_user("Carol")
    link, _ = await share_links.create_link(user_id=alice.user_id, program_id=other.id)

    with pytest.raises(ValidationFailed) as neither:
        await bindings.register_customer(
            user_id=customer.id, program_id=program.id, short_code=None, code=None
        )
    assert neither.value.code == "referral_required"
    with pytest.raises(NotFound) as foreign:
        await bindings.register_customer(
            user_id=customer.id, program_id=program.id, short_code=link.short_code, code=None
        )
    assert foreign.value.code == "link_not_found"
    with pytest.raises(NotFound) as unknown:
        await bindings.register_customer(
            user_id=customer.id, program_id=program.id, short_code=None, code="NOPE-1"
        )
    assert unknown.value.code == "code_not_found"
    assert await Binding.all().count() == 0


async def test_a_promoter_never_binds_themself_as_their_own_customer() -> None:
    program = await _program("last_touch")
    alice = await make_promoter(program)

    decision = await _touch(program, alice, at=T0, user_id=alice.user_id)

    assert decision.action == BindAction.IGNORE and decision.reason == "self_binding"
    assert await Binding.all().count() == 0


async def test_a_suspended_or_disabled_promoter_binds_no_one() -> None:
    program = await _program("last_touch")
    suspended = await make_promoter(program, status="suspended")
    disabled = await make_promoter(program, status="disabled")
    customer = await make_user("Carol")

    for promoter in (suspended, disabled):
        decision = await _touch(program, promoter, at=T0, user_id=customer.id)
        assert decision.action == BindAction.IGNORE and decision.reason == "promoter_not_active"
    assert await Binding.all().count() == 0


async def test_a_customer_of_a_suspended_promoter_may_be_bound_by_another() -> None:
    program = await _program("first_touch")
    alice, bob = await make_promoter(program), await make_promoter(program)
    customer = await make_user("Carol")
    await _touch(program, alice, at=T0, user_id=customer.id)
    alice.status = "suspended"
    await alice.save()

    decision = await _touch(program, bob, at=T0 + timedelta(days=1), user_id=customer.id)

    assert decision.action == BindAction.BIND and decision.reason == "previous_promoter_inactive"
    old = await Binding.get(promoter_id=alice.id)
    assert old.end_reason == "promoter_inactive"


async def test_a_late_touch_never_undoes_a_newer_binding() -> None:
    program = await _program("last_touch")
    alice, bob = await make_promoter(program), await make_promoter(program)
    customer = await make_user("Carol")
    await _touch(program, alice, at=T0 + timedelta(hours=2), user_id=customer.id)

    late = await _touch(program, bob, at=T0, user_id=customer.id)

    assert late.action == BindAction.KEEP and late.reason == "touch_predates_binding"
    assert await _bound_promoter(program, customer.id, T0 + timedelta(hours=3)) == alice.id


async def test_store_customers_are_bound_by_their_external_id_exactly() -> None:
    program = await _program("first_touch")
    alice, bob = await make_promoter(program), await make_promoter(program)

    await _touch(program, alice, at=T0, external_id="C-100")
    await _touch(program, bob, at=T0, external_id="c-100")

    at = T0 + timedelta(hours=1)
    upper = await bindings.current_binding(
        program_id=program.id, customer_user_id=None, customer_external_id="C-100", at=at
    )
    lower = await bindings.current_binding(
        program_id=program.id, customer_user_id=None, customer_external_id="c-100", at=at
    )
    assert upper is not None and upper.promoter_id == alice.id
    assert lower is not None and lower.promoter_id == bob.id
    # With both identities known, the user's own binding wins; the store id is the fallback.
    customer = await make_user("Carol")
    fallback = await bindings.current_binding(
        program_id=program.id, customer_user_id=customer.id, customer_external_id="C-100", at=at
    )
    assert fallback is not None and fallback.promoter_id == alice.id
    with pytest.raises(ValidationFailed) as nobody:
        await _touch(program, alice, at=T0)
    assert nobody.value.code == "customer_required"


async def test_staff_read_the_binding_history_newest_first() -> None:
    program = await _program("last_touch")
    alice, bob = await make_promoter(program), await make_promoter(program)
    carol, dave = await make_user("Carol"), await make_user("Dave")
    now = clock.now()
    await _touch(program, alice, at=now - timedelta(days=2), user_id=carol.id)
    await _touch(program, bob, at=now - timedelta(days=1), user_id=carol.id)
    await _touch(program, alice, at=now, user_id=dave.id)

    page = await binding_queries.list_bindings(program_id=program.id, customer_user_id=carol.id)
    assert [(b["promoter_id"], b["state"]) for b in page["items"]] == [
        (bob.id, "active"),
        (alice.id, "ended"),
    ]
    assert page["items"][1]["end_reason"] == "superseded"
    by_alice = await binding_queries.list_bindings(
        program_id=program.id, promoter_id=alice.id, limit=1
    )
    assert len(by_alice["items"]) == 1 and by_alice["next_cursor"] is not None
    rest = await binding_queries.list_bindings(
        program_id=program.id, promoter_id=alice.id, cursor=by_alice["next_cursor"]
    )
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None


@pytest.mark.mysql
@pytest.mark.parametrize("bind_mode", ["first_touch", "last_touch"])
async def test_concurrent_touches_leave_one_open_binding(bind_mode: str) -> None:
    program = await _program(bind_mode)
    promoters = [await make_promoter(program) for _ in range(6)]
    customer = await make_user("Carol")

    decisions = await asyncio.gather(
        *(
            _touch(program, promoter, at=T0 + timedelta(seconds=index), user_id=customer.id)
            for index, promoter in enumerate(promoters)
        )
    )

    open_bindings = await Binding.filter(program_id=program.id, ended_at=None)
    assert len(open_bindings) == 1
    assert await Binding.filter(active_key__isnull=False).count() == 1
    if bind_mode == "first_touch":
        assert sum(d.action == BindAction.BIND for d in decisions) == 1
        assert await Binding.all().count() == 1
