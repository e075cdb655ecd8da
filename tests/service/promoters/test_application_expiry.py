from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from server import clock
from server.domain.errors import ValidationFailed
from server.models import AuditLog, Program, Promoter, PromoterStatusChange, User
from server.services.promoters.application_expiry import expire_stale_applications


async def _program() -> Program:
    return await Program.create(name="Spring", currency="CNY")


async def _promoter(program: Program, *, status: str, applied_days_ago: int) -> Promoter:
    count = await User.all().count()
    user = await User.create(appid="wx-app", openid=f"openid-{count}")
    return await Promoter.create(
        program=program,
        user=user,
        status=status,
        applied_at=clock.now() - timedelta(days=applied_days_ago),
    )


def _thirty_days_ago() -> datetime:
    return clock.now() - timedelta(days=30)


async def test_applications_unreviewed_past_the_window_expire_and_fresh_or_decided_ones_do_not(
    db: str,
) -> None:
    program = await _program()
    stale = await _promoter(program, status="applied", applied_days_ago=31)
    fresh = await _promoter(program, status="applied", applied_days_ago=29)
    approved = await _promoter(program, status="approved", applied_days_ago=90)
    rejected = await _promoter(program, status="rejected", applied_days_ago=90)

    assert await expire_stale_applications(older_than=_thirty_days_ago()) == 1

    statuses = dict(await Promoter.all().values_list("id", "status"))
    assert statuses == {
        stale.id: "expired",
        fresh.id: "applied",
        approved.id: "approved",
        rejected.id: "rejected",
    }
    expired = await Promoter.get(id=stale.id)
    assert expired.decided_at is not None


async def test_each_expired_application_gets_a_system_history_row_and_an_audit_entry(
    db: str,
) -> None:
    program = await _program()
    stale = await _promoter(program, status="applied", applied_days_ago=45)

    await expire_stale_applications(older_than=_thirty_days_ago())

    history = await PromoterStatusChange.filter(promoter_id=stale.id)
    assert [(h.from_status, h.to_status, h.action, h.actor_kind) for h in history] == [
        ("applied", "expired", "expire", "system")
    ]
    audit = await AuditLog.filter(target_kind="promoter", target_id=stale.id)
    assert [(a.action, a.actor_kind, a.program_id) for a in audit] == [
        ("promoter.expire", "system", program.id)
    ]
    assert audit[0].details["from"] == "applied"
    assert audit[0].details["to"] == "expired"


async def test_running_the_expiry_twice_changes_nothing_the_second_time(db: str) -> None:
    program = await _program()
    for _ in range(3):
        await _promoter(program, status="applied", applied_days_ago=40)

    assert await expire_stale_applications(older_than=_thirty_days_ago()) == 3
    history_before = await PromoterStatusChange.all().count()
    audit_before = await AuditLog.all().count()

    assert await expire_stale_applications(older_than=_thirty_days_ago()) == 0
    assert await PromoterStatusChange.all().count() == history_before
    assert await AuditLog.all().count() == audit_before


async def test_expiry_works_through_many_batches_and_records_one_history_row_each(
    db: str,
) -> None:
    program = await _program()
    stale_ids = {
        (await _promoter(program, status="applied", applied_days_ago=60)).id for _ in range(7)
    }
    fresh = await _promoter(program, status="applied", applied_days_ago=1)

    assert await expire_stale_applications(older_than=_thirty_days_ago(), batch_size=3) == 7

    assert set(await Promoter.filter(status="expired").values_list("id", flat=True)) == stale_ids
    assert (await Promoter.get(id=fresh.id)).status == "applied"
    history = await PromoterStatusChange.all().values_list("promoter_id", flat=True)
    assert sorted(history) == sorted(stale_ids)
    assert await AuditLog.filter(action="promoter.expire").count() == 7


async def test_applications_across_programs_expire_with_their_own_program_in_the_audit(
    db: str,
) -> None:
    first, second = await _program(), await _program()
    a = await _promoter(first, status="applied", applied_days_ago=31)
    b = await _promoter(second, status="applied", applied_days_ago=31)

    assert await expire_stale_applications(older_than=_thirty_days_ago()) == 2

    audited = dict(
        await AuditLog.filter(action="promoter.expire").values_list("target_id", "program_id")
    )
    assert audited == {a.id: first.id, b.id: second.id}


async def test_an_out_of_range_batch_size_is_refused_before_anything_changes(db: str) -> None:
    program = await _program()
    stale = await _promoter(program, status="applied", applied_days_ago=31)

    with pytest.raises(ValidationFailed) as raised:
        await expire_stale_applications(older_than=_thirty_days_ago(), batch_size=0)

    assert raised.value.code == "invalid_batch_size"
    assert (await Promoter.get(id=stale.id)).status == "applied"


async def test_a_cutoff_without_a_timezone_is_refused(db: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        await expire_stale_applications(older_than=_thirty_days_ago().replace(tzinfo=None))
    assert raised.value.code == "naive_datetime"
