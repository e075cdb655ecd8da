"""Boosts and milestone bonuses in the console: staff add them with times in the program's
zone, a refusal is shown beside its field, and they disable or enable them."""

from __future__ import annotations

from datetime import UTC, datetime

from sanic import Sanic

from server.models import CommissionBoostRecord, MilestoneBonusRecord
from tests.api.console.client import signed_in
from tests.order_builders import shop


async def test_staff_add_a_boost_whose_times_are_the_programs_wall_time(app: Sanic) -> None:
    program = await shop()  # Asia/Shanghai, +08:00
    console = await signed_in(app, "staff", username="boost_staff")
    await console.get(f"/console/incentives?program_id={program.id}")
    created = await console.post(
        f"/console/boosts?program_id={program.id}",
        {
            "name": "双十一",
            "multiplier": "1.5",
            "starts_at": "2026-11-11T00:00",
            "ends_at": "2026-11-12T00:00",
        },
    )
    assert created.status_code == 303, created.text
    boost = await CommissionBoostRecord.get(program_id=program.id)
    assert boost.starts_at == datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
    listed = await console.get(f"/console/incentives?program_id={program.id}")
    assert "双十一" in listed.text and "2026-11-11 00:00 +08:00" in listed.text
    switched = await console.post(f"/console/boosts/{boost.id}/switch", {})
    assert switched.status_code == 303
    assert not (await CommissionBoostRecord.get(id=boost.id)).enabled
    await console.close()


async def test_a_bonus_missing_its_amount_is_refused_beside_the_field(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="bonus_staff")
    await console.get(f"/console/incentives?program_id={program.id}")
    refused = await console.post(
        f"/console/milestone-bonuses?program_id={program.id}",
        {
            "name": "冲刺",
            "target_net_sales": "5000",
            "starts_at": "2026-11-01T00:00",
            "ends_at": "2026-12-01T00:00",
        },
    )
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.text and 'value="冲刺"' in refused.text
    assert not await MilestoneBonusRecord.filter(program_id=program.id).exists()
    created = await console.post(
        f"/console/milestone-bonuses?program_id={program.id}",
        {
            "name": "冲刺",
            "target_net_sales": "5000",
            "amount": "200",
            "max_awards": "10",
            "starts_at": "2026-11-01T00:00",
            "ends_at": "2026-12-01T00:00",
        },
    )
    assert created.status_code == 303, created.text
    listed = await console.get(f"/console/incentives?program_id={program.id}")
    assert "¥5,000.00" in listed.text and "0 / 10" in listed.text
    await console.close()


async def test_finance_reads_incentives_without_forms_and_cannot_switch_them(
    app: Sanic,
) -> None:
    program = await shop()
    boost = await CommissionBoostRecord.create(
        program=program,
        name="b",
        multiplier="1.2",
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        ends_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    console = await signed_in(app, "finance", username="boost_finance")
    listed = await console.get(f"/console/incentives?program_id={program.id}")
    assert listed.status_code == 200 and 'id="new-boost"' not in listed.text
    assert (await console.post(f"/console/boosts/{boost.id}/switch", {})).status_code == 403
    await console.close()
