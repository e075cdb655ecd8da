"""Rule-set versions in the console: staff make a draft, see a bad rate beside its field,
change a rate, simulate it against what was paid and publish it; finance reads and
simulates, but has no draft forms."""

from __future__ import annotations

from datetime import UTC, datetime

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
