"""Rule-set versions in the console: staff make a draft, see a bad rate beside its field,
change a rate, simulate it against what was paid and publish it; finance reads and
simulates, but has no draft forms."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sanic import Sanic

from server.models import Program, RuleSetVersion
from tests.api.console.client import signed_in
from tests.order_builders import bind, chain, customer, line, paid, send_ok, shop

PLACED = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


async def test_staff_draft_a_rate_simulate_it_and_publish_it(app: Sanic) -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer, at=datetime(2026, 2, 20, tzinfo=UTC))
    await send_ok(program, paid("C-1", line("L1", "100.00"), buyer=buyer, placed_at=PLACED))
    console = await signed_in(app, "staff", username="draft_staff")

    listed = await console.get(f"/console/programs/{program.id}/rule-sets")
    assert listed.status_code == 200 and 'id="new-draft"' in listed.text
    made = await console.post(f"/console/programs/{program.id}/rule-sets", {"note": "夏季"})
    assert made.status_code == 303
    draft = await RuleSetVersion.get(program_id=program.id, status="draft")
    refused = await console.post(
        f"/console/rule-sets/{draft.id}/rules", {"kind": "percent", "value": "-5", "level": "1"}
    )
    assert refused.status_code == 422
    assert 'class="field-error"' in refused.text and 'aria-invalid="true"' in refused.text
    added = await console.post(
        f"/console/rule-sets/{draft.id}/rules", {"kind": "percent", "value": "20", "level": "1"}
    )
    assert added.status_code == 303
    shown = await console.get(f"/console/rule-sets/{draft.id}")
    assert 'id="rule--1"' in shown.text and 'id="publish"' in shown.text

    simulated = await console.post(
        f"/console/rule-sets/{draft.id}/simulate", {"start": "2026-03-02", "end": "2026-03-02"}
    )
    assert simulated.status_code == 200
    assert 'id="simulation-result"' in simulated.text and "¥10.00" in simulated.text
    published = await console.post(f"/console/rule-sets/{draft.id}/publish", {})
    assert published.status_code == 303
    assert (await Program.get(id=program.id)).rule_set_version == draft.number
    await console.close()


async def test_finance_reads_and_simulates_but_cannot_draft(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "finance", username="draft_finance")

    listed = await console.get(f"/console/programs/{program.id}/rule-sets")
    assert listed.status_code == 200 and 'id="new-draft"' not in listed.text
    refused = await console.post(f"/console/programs/{program.id}/rule-sets", {})
    assert refused.status_code == 403
    live = await RuleSetVersion.get(program_id=program.id)
    page = await console.get(f"/console/rule-sets/{live.id}")
    assert page.status_code == 200 and 'id="publish"' not in page.text
    simulated = await console.post(
        f"/console/rule-sets/{live.id}/simulate", {"start": "2026-03-02", "end": "2026-01-02"}
    )
    assert simulated.status_code == 422 and 'aria-invalid="true"' in simulated.text
    await console.close()


async def test_staff_draft_tiers_boosts_and_bonuses_and_see_the_bonus_simulation(
    app: Sanic,
) -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer, at=datetime(2026, 2, 20, tzinfo=UTC))
    await send_ok(program, paid("B-1", line("L1", "300.00"), buyer=buyer, placed_at=PLACED))
    console = await signed_in(app, "staff", username="incentive_draft_staff")
    await console.post(f"/console/programs/{program.id}/rule-sets", {})
    draft = await RuleSetVersion.get(program_id=program.id, status="draft")
    path = f"/console/rule-sets/{draft.id}"

    bad_tier = await console.post(
        f"{path}/tiers",
        {"code": "gold", "name": "金牌", "rank": "-1", "period_days": "30", "min_net_sales": "1"},
    )
    tier = await console.post(
        f"{path}/tiers",
        {"code": "gold", "name": "金牌", "rank": "2", "period_days": "30", "min_net_sales": "1000"},
    )
    bad_boost = await console.post(
        f"{path}/boosts",
        {"multiplier": "5", "starts_at": "2026-03-01T00:00", "ends_at": "2026-04-01T00:00"},
    )
    boost = await console.post(
        f"{path}/boosts",
        {"multiplier": "1.5", "starts_at": "2026-03-01T00:00", "ends_at": "2026-04-01T00:00"},
    )
    bonus = await console.post(
        f"{path}/bonuses",
        {
            "name": "三月冲刺",
            "target_net_sales": "200.00",
            "amount": "25.00",
            "starts_at": "2026-03-01T00:00",
            "ends_at": "2026-04-01T00:00",
        },
    )

    assert bad_tier.status_code == 422 and 'aria-invalid="true"' in bad_tier.text
    assert bad_boost.status_code == 422 and 'aria-invalid="true"' in bad_boost.text
    assert (tier.status_code, boost.status_code, bonus.status_code) == (303, 303, 303)
    await draft.refresh_from_db()
    (gold,) = draft.document["tier"]
    (added_boost,) = draft.document["boost"]
    (added_bonus,) = draft.document["milestone_bonus"]
    # Times typed in the form are the program's (Shanghai): 1 March 00:00 is 16:00 UTC.
    assert added_bonus["starts_at"].startswith("2026-02-28T16:00")

    changed = await console.post(
        f"{path}/bonuses",
        {
            "key": added_bonus["key"],
            "target_net_sales": "250.00",
            "amount": "30.00",
            "enabled": "1",
        },
    )
    refused = await console.post(
        f"{path}/bonuses", {"key": added_bonus["key"], "amount": "-1", "enabled": "1"}
    )
    dropped = await console.post(
        f"{path}/boosts", {"key": added_boost["key"], "multiplier": "1.5", "enabled": "0"}
    )
    renamed = await console.post(
        f"{path}/tiers",
        {
            "key": gold["key"],
            "name": "黄金",
            "rank": "2",
            "period_days": "30",
            "min_net_sales": "2000",
            "enabled": "1",
        },
    )

    assert (changed.status_code, dropped.status_code, renamed.status_code) == (303, 303, 303)
    assert refused.status_code == 422
    assert f'id="bonus-{added_bonus["key"]}"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    await draft.refresh_from_db()
    assert Decimal(draft.document["milestone_bonus"][0]["target_net_sales"]) == Decimal(250)
    assert draft.document["boost"][0]["enabled"] is False
    assert draft.document["tier"][0]["name"] == "黄金"
    assert Decimal(draft.document["tier"][0]["min_net_sales"]) == Decimal(2000)

    simulated = await console.post(f"{path}/simulate", {"start": "2026-03-01", "end": "2026-03-31"})
    assert simulated.status_code == 200
    assert 'id="simulation-bonuses"' in simulated.text
    assert "三月冲刺" in simulated.text and "2026-03-02" in simulated.text
    assert "¥30.00" in simulated.text
    await console.close()
