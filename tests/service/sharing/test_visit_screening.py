"""Visits are screened inline as the worker's buffer writes them: a flood from one IP or
device, or an inhuman rate, is flagged as bot traffic and opened as an anomaly before any
scan runs; the hourly scan then finds the same anomaly, not a second one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from server.config import Settings
from server.models import Anomaly, AnomalyLink, Program, Promoter, ShareLink, Visit
from server.services.fraud.inline import VisitScreen
from server.services.fraud.scans import scan_for_fraud
from server.services.sharing import links as share_links
from server.services.sharing import visits
from server.services.sharing.visit_buffer import PendingVisit, VisitBuffer
from server.services.sharing.visit_targets import TargetCache
from tests.service.sharing.test_share_support import make_program, make_promoter

pytestmark = pytest.mark.usefixtures("db")

UA = "Mozilla/5.0 (iPhone) MicroMessenger/8.0.44"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def _shop(**thresholds: int) -> tuple[Program, Promoter, ShareLink]:
    program = await make_program()
    if thresholds:
        program.fraud_thresholds = thresholds
        await program.save()
    owner = await make_promoter(program)
    link, _ = await share_links.create_link(user_id=owner.user_id, program_id=program.id)
    return program, owner, link


async def _visits(
    buffer: VisitBuffer,
    settings: Settings,
    link: ShareLink,
    count: int,
    *,
    every: timedelta,
    ip: str = "198.51.100.9",
    visitor: str | None = None,
) -> None:
    targets = TargetCache()
    for n in range(count):
        await visits.record_visit(
            buffer=buffer,
            targets=targets,
            settings=settings,
            short_code=link.short_code,
            program_id=None,
            code=None,
            source="h5",
            ip=ip,
            user_agent=UA,
            visitor_id=visitor or f"reader-{n}",
            at=T0 + every * n,
        )


async def _flags() -> list[bool]:
    return list(await Visit.all().order_by("at").values_list("is_bot", flat=True))


async def test_a_flood_from_one_ip_is_flagged_inline_before_any_scan(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, owner, link = await _shop(visits_per_ip=20)

    await _visits(buffer, settings, link, 25, every=timedelta(minutes=5))
    await buffer.flush()

    assert await _flags() == [False] * 19 + [True] * 6
    [anomaly] = await Anomaly.all()
    assert (anomaly.kind, anomaly.source) == ("click_flood", "inline")
    assert anomaly.promoter_id == owner.id
    assert anomaly.evidence["visits"] == 20
    assert await AnomalyLink.filter(anomaly_id=anomaly.id, target_kind="visit").count() == 25


async def test_the_hourly_scan_grows_the_inline_anomaly_instead_of_opening_another(
    buffer: VisitBuffer, settings: Settings
) -> None:
    program, _, link = await _shop(visits_per_ip=20)
    await _visits(buffer, settings, link, 25, every=timedelta(minutes=5))
    await buffer.flush()

    summary = await scan_for_fraud(until=T0 + timedelta(hours=3), program_ids=[program.id])

    assert summary["by_kind"] == {"click_flood": 1}
    [anomaly] = await Anomaly.all()
    assert (anomaly.kind, anomaly.source) == ("click_flood", "inline")
    assert anomaly.evidence["visits"] == 25


async def test_a_script_at_an_inhuman_rate_is_flagged_inline(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, _, link = await _shop()

    await _visits(buffer, settings, link, 35, every=timedelta(seconds=1), visitor="script")
    await buffer.flush()

    flags = await _flags()
    assert flags.index(True) == 29 and all(flags[29:])
    assert sorted(await Anomaly.all().values_list("kind", flat=True)) == ["inhuman_visit_rate"] * 2


async def test_a_family_sharing_one_wifi_ip_below_the_threshold_is_not_flagged(
    buffer: VisitBuffer, settings: Settings
) -> None:
    _, _, link = await _shop()

    for phone in ("mum", "dad", "kid"):
        await _visits(buffer, settings, link, 8, every=timedelta(minutes=20), visitor=phone)
    await buffer.flush()

    assert not any(await _flags())
    assert await Anomaly.all().count() == 0


async def test_a_batch_written_again_after_a_failure_is_not_counted_twice(
    settings: Settings,
) -> None:
    _, _, link = await _shop(visits_per_ip=20)
    attempts: list[int] = []

    async def flaky(rows: Sequence[PendingVisit]) -> None:
        attempts.append(len(rows))
        if len(attempts) == 1:
            raise RuntimeError("database away")
        await visits.write_visits(rows)

    buffer = VisitBuffer(writer=flaky, screen=VisitScreen())
    await _visits(buffer, settings, link, 19, every=timedelta(minutes=5))
    with pytest.raises(RuntimeError):
        await buffer.flush()
    await buffer.flush()

    assert attempts == [19, 19]
    assert not any(await _flags())
    assert await Anomaly.all().count() == 0


async def test_a_failing_screen_never_keeps_visits_from_being_written(settings: Settings) -> None:
    _, _, link = await _shop()

    class Broken(VisitScreen):
        async def screen(self, rows: Sequence[PendingVisit]) -> list[PendingVisit]:
            raise RuntimeError("bug")

    buffer = VisitBuffer(writer=visits.write_visits, screen=Broken())
    await _visits(buffer, settings, link, 3, every=timedelta(minutes=1))

    assert await buffer.flush() == 3
    assert await Visit.all().count() == 3
