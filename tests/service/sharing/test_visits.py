from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from server import clock
from server.config import Settings
from server.domain.errors import NotFound, ServiceUnavailable
from server.models import Binding, Program, Promoter, ShareLink, Visit
from server.services.sharing import codes as share_codes
from server.services.sharing import links as share_links
from server.services.sharing import visits
from server.services.sharing.visit_buffer import PendingVisit, VisitBuffer
from server.services.sharing.visit_targets import TargetCache
from tests.service.sharing.test_share_support import (
    approve_pending_codes,
    make_program,
    make_promoter,
    make_user,
)

pytestmark = pytest.mark.usefixtures("db")

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44 NetType/WIFI Language/zh_CN"
)
IP = "203.0.113.77"


@pytest.fixture
def targets() -> TargetCache:
    return TargetCache()


async def _link(program: Program, promoter: Promoter, **utm: str) -> ShareLink:
    link, _ = await share_links.create_link(user_id=promoter.user_id, program_id=program.id, **utm)
    return link


async def _visit(
    buffer: VisitBuffer,
    targets: TargetCache,
    settings: Settings,
    *,
    short_code: str | None = None,
    program_id: int | None = None,
    code: str | None = None,
    **extra: Any,
) -> None:
    await visits.record_visit(
        buffer=buffer,
        targets=targets,
        settings=settings,
        short_code=short_code,
        program_id=program_id,
        code=code,
        source=extra.pop("source", "h5"),
        ip=extra.pop("ip", IP),
        user_agent=extra.pop("user_agent", WECHAT_UA),
        **extra,
    )


def _salted(value: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()


async def test_a_visit_through_a_link_is_recorded_with_hashes_never_raw_values(
    buffer: VisitBuffer, targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    alice = await make_promoter(program)
    link = await _link(program, alice, utm_source="poster", utm_campaign="spring")

    await _visit(
        buffer,
        targets,
        settings,
        short_code=link.short_code,
        visitor_id="v-123",
        utm_medium="print",
    )
    assert await Visit.all().count() == 0  # buffered, written by the flush
    await buffer.flush()

    visit = await Visit.get()
    assert (visit.program_id, visit.promoter_id, visit.share_link_id) == (
        program.id,
        alice.id,
        link.id,
    )
    assert (visit.utm_source, visit.utm_medium, visit.utm_campaign) == (
        "poster",
        "print",
        "spring",
    )
    assert visit.ip_hash == _salted(IP, settings.visitor_hash_salt)
    assert visit.ua_hash == _salted(WECHAT_UA, settings.visitor_hash_salt)
    assert visit.visitor_hash == _salted("v:v-123", settings.visitor_hash_salt)
    assert (visit.source, visit.is_bot, visit.customer_user_id) == ("h5", False, None)
    stored = " ".join(str(value) for value in (await Visit.all().values())[0].values())
    assert IP not in stored and "v-123" not in stored and "MicroMessenger" not in stored


async def test_a_typed_code_or_alias_records_a_visit_for_its_promoter_and_channel(
    buffer: VisitBuffer, targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    alice = await make_promoter(program)
    code = await share_codes.create_code(
        user_id=alice.user_id, program_id=program.id, kind="referral", code="ALICE-TV"
    )
    await share_codes.add_alias(
        user_id=alice.user_id, program_id=program.id, code_id=code.id, alias="alicetv"
    )
    await approve_pending_codes(program.id)

    await _visit(buffer, targets, settings, program_id=program.id, code="AliceTV", source="mp")
    await buffer.flush()

    visit = await Visit.get()
    assert (visit.promoter_id, visit.code_id, visit.share_link_id, visit.source) == (
        alice.id,
        code.id,
        None,
        "mp",
    )


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "python-requests/2.31.0",
        "curl/8.4.0",
        "",
    ],
)
async def test_known_bots_are_recorded_but_flagged(
    user_agent: str, buffer: VisitBuffer, targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    link = await _link(program, await make_promoter(program))

    await _visit(buffer, targets, settings, short_code=link.short_code, user_agent=user_agent)
    await buffer.flush()

    assert (await Visit.get()).is_bot is True


async def test_unknown_or_inactive_links_and_codes_answer_404_and_record_nothing(
    buffer: VisitBuffer, targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    alice = await make_promoter(program)
    link = await _link(program, alice)

    refusals = []
    for kwargs in (
        {"short_code": "nope"},
        {"short_code": link.short_code.swapcase()},
        {"program_id": program.id, "code": "UNKNOWN-1"},
    ):
        with pytest.raises(NotFound) as refused:
            await _visit(buffer, targets, settings, **kwargs)
        refusals.append(refused.value.code)
    alice.status = "suspended"
    await alice.save()
    with pytest.raises(NotFound) as inactive:
        await _visit(buffer, TargetCache(), settings, short_code=link.short_code)

    assert refusals == ["link_not_found", "link_not_found", "code_not_found"]
    assert inactive.value.code == "link_inactive"
    assert buffer.pending == 0
    assert await Visit.all().count() == 0


async def test_a_link_is_resolved_once_per_ttl_and_a_deactivation_shows_after_it(
    buffer: VisitBuffer, targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    alice = await make_promoter(program)
    link = await _link(program, alice)
    await _visit(buffer, targets, settings, short_code=link.short_code)
    alice.status = "disabled"
    await alice.save()

    # Within the cache's TTL the cached answer stands (documented lag)…
    await _visit(buffer, targets, settings, short_code=link.short_code)
    # …and once it is gone the link is refused.
    targets.clear()
    with pytest.raises(NotFound):
        await _visit(buffer, targets, settings, short_code=link.short_code)
    await buffer.flush()
    assert await Visit.all().count() == 2


async def test_stopping_the_buffer_writes_every_accepted_visit(
    targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    link = await _link(program, await make_promoter(program))
    buffer = VisitBuffer(writer=visits.write_visits, flush_rows=100, flush_interval_seconds=60)
    buffer.start()
    accepted = 1234
    for _ in range(accepted):
        await _visit(buffer, targets, settings, short_code=link.short_code)

    unwritten = await buffer.stop()

    assert unwritten == 0 and buffer.pending == 0
    assert await Visit.all().count() == accepted


async def test_a_failed_flush_keeps_its_rows_and_a_later_one_writes_them(
    targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    link = await _link(program, await make_promoter(program))
    failures = 2

    async def flaky_writer(rows: Sequence[PendingVisit]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("database went away")
        await visits.write_visits(rows)

    buffer = VisitBuffer(writer=flaky_writer, flush_interval_seconds=0.01)
    for _ in range(7):
        await _visit(buffer, targets, settings, short_code=link.short_code)
    with pytest.raises(ConnectionError):
        await buffer.flush()
    assert buffer.pending == 7

    assert await buffer.stop() == 0
    assert buffer.failed_flushes == 1
    assert await Visit.all().count() == 7


async def test_a_full_buffer_refuses_with_503_instead_of_growing(
    targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    link = await _link(program, await make_promoter(program))
    buffer = VisitBuffer(writer=visits.write_visits, max_pending_rows=3)
    for _ in range(3):
        await _visit(buffer, targets, settings, short_code=link.short_code)

    with pytest.raises(ServiceUnavailable) as full:
        await _visit(buffer, targets, settings, short_code=link.short_code)
    assert full.value.code == "visits_backpressure" and full.value.status_code == 503

    await buffer.stop()
    with pytest.raises(ServiceUnavailable) as stopped:
        await _visit(buffer, targets, settings, short_code=link.short_code)
    assert stopped.value.code == "visits_unavailable"
    assert await Visit.all().count() == 3


async def test_a_known_customers_visits_bind_them_in_time_order_when_written(
    buffer: VisitBuffer, targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    program.bind_mode = "last_touch"
    await program.save()
    alice, bob = await make_promoter(program), await make_promoter(program)
    customer = await make_user("Carol")
    alice_link, bob_link = await _link(program, alice), await _link(program, bob)

    await _visit(
        buffer, targets, settings, short_code=alice_link.short_code, customer_user_id=customer.id
    )
    await _visit(buffer, targets, settings, short_code=bob_link.short_code)
    await _visit(
        buffer, targets, settings, short_code=bob_link.short_code, customer_user_id=customer.id
    )
    await _visit(
        buffer,
        targets,
        settings,
        short_code=alice_link.short_code,
        customer_user_id=customer.id,
        user_agent="Googlebot/2.1",
    )
    await buffer.flush()

    assert await Visit.all().count() == 4
    history = await Binding.all().order_by("id")
    assert [(b.promoter_id, b.end_reason) for b in history] == [
        (alice.id, "superseded"),
        (bob.id, None),
    ]
    bobs_visit = await Visit.get(promoter_id=bob.id, customer_user_id=customer.id)
    assert history[1].visit_id == bobs_visit.id and history[1].source == "visit"
    assert history[1].bound_at == bobs_visit.at


async def test_a_visit_is_timed_when_it_arrives_not_when_it_is_written(
    buffer: VisitBuffer, targets: TargetCache, settings: Settings
) -> None:
    program = await make_program()
    link = await _link(program, await make_promoter(program))
    before = clock.now()

    await _visit(buffer, targets, settings, short_code=link.short_code)
    clock.advance(timedelta(hours=1))
    await buffer.flush()

    assert before <= (await Visit.get()).at < before + timedelta(hours=1)
