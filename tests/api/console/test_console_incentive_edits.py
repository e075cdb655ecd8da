"""Boosts, milestone bonuses and period caps changed after they were added (each change a
new rule-set version), and the bonus awards list with its CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sanic import Sanic

from server.models import (
    CommissionBoostRecord,
    MilestoneBonusRecord,
    PeriodCapRecord,
    RuleSetVersion,
)
from server.services.programs.period_caps import create_cap
from server.services.tiers.bonuses import pay_milestone_bonuses
from tests.api.console.client import signed_in
from tests.order_builders import ADMIN, T0, promoter, shop
from tests.service.tiers.builders import incentive, sale


async def test_staff_change_a_boost_in_local_time_and_clear_its_tier(app: Sanic) -> None:
    program = await shop()  # Asia/Shanghai
    boost = await incentive(
        program, "boost", name="b", multiplier="1.2", tier="gold",
        starts_at=datetime(2026, 11, 10, 16, tzinfo=UTC),
        ends_at=datetime(2026, 11, 11, 16, tzinfo=UTC),
    )  # fmt: skip
    console = await signed_in(app, "staff", username="edit_boost")
    versions = await RuleSetVersion.filter(program_id=program.id).count()
    shown = await console.get(f"/console/boosts/{boost.id}")
    assert 'value="2026-11-11T00:00"' in shown.text and 'value="gold"' in shown.text
    changed = await console.post(
        f"/console/boosts/{boost.id}",
        {"name": "双十一", "multiplier": "1.5", "tier": "", "starts_at": "2026-11-11T08:00",
         "ends_at": "2026-11-12T00:00"},
    )  # fmt: skip
    assert changed.status_code == 303, changed.text
    stored = await CommissionBoostRecord.get(id=boost.id)
    assert (stored.name, str(stored.multiplier), stored.tier) == ("双十一", "1.5000", None)
    assert stored.starts_at == datetime(2026, 11, 11, 0, tzinfo=UTC)
    # A direct edit is a draft published in one step: one more version, live.
    assert await RuleSetVersion.filter(program_id=program.id).count() == versions + 1
    refused = await console.post(f"/console/boosts/{boost.id}", {"multiplier": "9"})
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    assert 'value="9"' in refused.text
    await console.close()


async def test_staff_change_a_bonus_and_a_cap_finance_may_not(app: Sanic) -> None:
    program = await shop()
    bonus = await incentive(
        program, "milestone_bonus", name="冲刺", target_net_sales="500", amount="50",
        max_awards=5, starts_at=T0, ends_at=T0 + timedelta(days=30),
    )  # fmt: skip
    cap, _ = await create_cap(
        program_id=program.id,
        document={"period": "month", "amount": "300", "tier": "gold"},
        actor=ADMIN,
        request_id=None,
    )
    console = await signed_in(app, "staff", username="edit_bonus")
    await console.get(f"/console/milestone-bonuses/{bonus.id}")
    changed = await console.post(
        f"/console/milestone-bonuses/{bonus.id}",
        {"amount": "80", "max_awards": "", "target_net_sales": "600"},
    )
    assert changed.status_code == 303, changed.text
    stored = await MilestoneBonusRecord.get(id=bonus.id)
    assert (str(stored.amount), stored.max_awards) == ("80.00", None)
    await console.get(f"/console/caps/{cap.id}")
    capped = await console.post(f"/console/caps/{cap.id}", {"period": "day", "amount": "20"})
    assert capped.status_code == 303, capped.text
    stored_cap = await PeriodCapRecord.get(id=cap.id)
    assert (stored_cap.period, str(stored_cap.amount), stored_cap.tier) == ("day", "20.00", None)
    await console.close()

    finance = await signed_in(app, "finance", username="edit_bonus_fin")
    read = await finance.get(f"/console/milestone-bonuses/{bonus.id}")
    assert read.status_code == 200 and 'id="edit-incentive"' not in read.text
    assert (await finance.post(f"/console/caps/{cap.id}", {"amount": "1"})).status_code == 403
    await finance.close()


async def test_the_award_list_shows_who_got_which_bonus_and_exports_it(app: Sanic) -> None:
    program = await shop()
    bonus = await incentive(
        program, "milestone_bonus", name="冲刺", target_net_sales="100", amount="8",
        starts_at=T0 - timedelta(days=1), ends_at=T0 + timedelta(days=1),
    )  # fmt: skip
    seller = await promoter(program)
    seller.real_name = "王五"
    await seller.save()
    await sale(program, seller, "150.00")
    await pay_milestone_bonuses(now=T0 + timedelta(hours=1))
    console = await signed_in(app, "finance", username="awards_fin")
    listed = await console.get(f"/console/bonus-awards?program_id={program.id}")
    assert listed.status_code == 200
    assert "王五" in listed.text and "冲刺" in listed.text and "¥8.00" in listed.text
    assert f"bonus:{bonus.id}:{seller.id}" in listed.text
    none = await console.get(f"/console/bonus-awards?program_id={program.id}&promoter_id=999")
    assert "王五" not in none.text
    exported = await console.get(f"/console/bonus-awards.csv?program_id={program.id}")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [(r["promoter_name"], r["amount"]) for r in rows] == [("王五", "8.00")]
    await console.close()
