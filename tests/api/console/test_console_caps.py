"""Period caps in the console: staff cap what a promoter earns per day or month (everyone, one
promoter or one tier), a refused amount is shown beside its field, and they disable a cap."""

from __future__ import annotations

from sanic import Sanic

from server.models import PeriodCapRecord
from tests.api.console.client import signed_in
from tests.order_builders import promoter, shop


async def test_staff_cap_one_promoter_per_month_and_disable_it(app: Sanic) -> None:
    program = await shop()
    member = await promoter(program)
    console = await signed_in(app, "staff", username="cap_staff")
    await console.get(f"/console/caps?program_id={program.id}")
    created = await console.post(
        f"/console/caps?program_id={program.id}",
        {"period": "month", "amount": "500", "promoter_id": str(member.id)},
    )
    assert created.status_code == 303, created.text
    cap = await PeriodCapRecord.get(program_id=program.id)
    assert (cap.period, cap.promoter_id) == ("month", member.id)
    listed = await console.get(f"/console/caps?program_id={program.id}")
    assert "每月" in listed.text and "¥500.00" in listed.text
    assert f'href="/console/promoters/{member.id}"' in listed.text
    assert (await console.post(f"/console/caps/{cap.id}/switch", {})).status_code == 303
    assert not (await PeriodCapRecord.get(id=cap.id)).enabled
    await console.close()


async def test_a_refused_amount_is_shown_beside_its_field(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="cap_refused")
    await console.get(f"/console/caps?program_id={program.id}")
    refused = await console.post(
        f"/console/caps?program_id={program.id}", {"period": "day", "amount": "-5"}
    )
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.text
    assert not await PeriodCapRecord.filter(program_id=program.id).exists()
    await console.close()


async def test_finance_reads_caps_but_cannot_add_or_switch_them(app: Sanic) -> None:
    program = await shop()
    cap = await PeriodCapRecord.create(program=program, period="day", amount="10")
    console = await signed_in(app, "finance", username="cap_finance")
    listed = await console.get(f"/console/caps?program_id={program.id}")
    assert listed.status_code == 200 and 'id="new-cap"' not in listed.text
    assert (await console.post(f"/console/caps/{cap.id}/switch", {})).status_code == 403
    await console.close()
