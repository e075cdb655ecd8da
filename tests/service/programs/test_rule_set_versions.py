"""Rule-set versions: a draft is made from the live version, edited and checked like a
direct edit, then published (or discarded); a direct edit is a version of its own, and every
new commission names the version it was computed under."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.domain.errors import Conflict, IllegalTransition, ValidationFailed
from server.models import AuditLog, CommissionRuleRecord, Program
from server.services.programs.commission_rules import create_rule, update_rule
from server.services.programs.rule_sets import (
    create_draft,
    discard_draft,
    edit_draft,
    get_version,
    list_versions,
    publish_draft,
    version_changes,
)
from tests.order_builders import (
    ADMIN,
    bind,
    chain,
    commissions_of,
    customer,
    line,
    paid,
    send_ok,
    shop,
)


async def test_a_program_starts_at_version_one_holding_its_records(db: str) -> None:
    program = await shop()
    await CommissionRuleRecord.create(program=program, kind="percent", value=Decimal("12"))

    listed = await list_versions(program_id=program.id)

    assert listed["live"] == 1
    assert [(v["number"], v["status"], v["live"]) for v in listed["items"]] == [
        (1, "published", True)
    ]
    version, _live = await get_version(version_id=listed["items"][0]["id"])
    assert [row["value"] for row in version.document["commission_rule"]] == ["12"]


async def test_a_direct_edit_publishes_a_new_version_in_one_step(db: str) -> None:
    program = await shop()
    rule, _ = await create_rule(
        program_id=program.id, document={"kind": "percent", "value": "8"}, actor=ADMIN
    )
    await update_rule(rule_id=rule.id, changes={"value": "9"}, actor=ADMIN)

    listed = await list_versions(program_id=program.id)

    assert listed["live"] == 3
    assert [v["number"] for v in listed["items"]] == [3, 2, 1]
    three, _ = await get_version(version_id=listed["items"][0]["id"])
    assert three.document["commission_rule"][0]["value"] == "9"
    one, _ = await get_version(version_id=listed["items"][2]["id"])
    assert one.document["commission_rule"] == []


async def test_a_draft_changes_nothing_until_it_is_published(db: str) -> None:
    program = await shop()
    rule, _ = await create_rule(
        program_id=program.id, document={"kind": "percent", "value": "8"}, actor=ADMIN
    )
    draft, live = await create_draft(program_id=program.id, actor=ADMIN)
    assert (draft.number, draft.based_on, live) == (3, 2, 2)

    await edit_draft(
        version_id=draft.id,
        kind="commission_rule",
        key=rule.id,
        changes={"value": "15"},
        actor=ADMIN,
    )
    await edit_draft(
        version_id=draft.id,
        kind="period_cap",
        key=None,
        changes={"period": "day", "amount": "50"},
        actor=ADMIN,
    )
    await CommissionRuleRecord.get(id=rule.id).only("value")
    assert (await CommissionRuleRecord.get(id=rule.id)).value == Decimal("8")
    changes = await version_changes(version_id=draft.id)
    assert changes["changes"]["commission_rule"][0]["fields"]["value"] == {
        "before": "8",
        "after": "15",
    }
    assert changes["changes"]["period_cap"][0]["change"] == "added"

    published, live = await publish_draft(version_id=draft.id, actor=ADMIN)

    assert (published.status, live) == ("published", 3)
    assert (await CommissionRuleRecord.get(id=rule.id)).value == Decimal("15")
    assert published.document["period_cap"][0]["id"] is not None
    assert (await Program.get(id=program.id)).rule_set_version == 3
    audit = await AuditLog.filter(action="rule_set_version.publish").order_by("-id").first()
    assert audit is not None
    assert audit.details["changes"]["commission_rule"][0]["fields"]["value"]["after"] == "15"


async def test_a_draft_refuses_an_invalid_rule_naming_each_field(db: str) -> None:
    program = await shop()
    draft, _ = await create_draft(program_id=program.id, actor=ADMIN)

    with pytest.raises(ValidationFailed) as refused:
        await edit_draft(
            version_id=draft.id,
            kind="commission_rule",
            key=None,
            changes={"kind": "percent", "value": "-3"},
            actor=ADMIN,
        )

    assert "value" in (refused.value.fields or {})
    version, _ = await get_version(version_id=draft.id)
    assert version.document["commission_rule"] == []


async def test_a_draft_made_before_another_version_went_live_cannot_be_published(db: str) -> None:
    program = await shop()
    first, _ = await create_draft(program_id=program.id, actor=ADMIN)
    second, _ = await create_draft(program_id=program.id, actor=ADMIN)
    await publish_draft(version_id=first.id, actor=ADMIN)

    with pytest.raises(Conflict) as refused:
        await publish_draft(version_id=second.id, actor=ADMIN)

    assert refused.value.code == "rule_set_draft_stale"


async def test_a_discarded_draft_stays_readable_and_cannot_be_published(db: str) -> None:
    program = await shop()
    draft, _ = await create_draft(program_id=program.id, actor=ADMIN)
    await discard_draft(version_id=draft.id, actor=ADMIN)

    with pytest.raises(IllegalTransition):
        await publish_draft(version_id=draft.id, actor=ADMIN)
    version, live = await get_version(version_id=draft.id)
    assert (version.status, live) == ("discarded", 1)


async def test_every_new_commission_names_the_version_it_was_computed_under(db: str) -> None:
    program = await shop()
    _top, nearest = await chain(program, 2)
    buyer = await customer()
    await bind(program, nearest, user=buyer)
    await send_ok(program, paid("V-1", line("L1", "100.00"), buyer=buyer))
    draft, _ = await create_draft(program_id=program.id, actor=ADMIN)
    await edit_draft(
        version_id=draft.id,
        kind="commission_rule",
        key=None,
        changes={"kind": "percent", "value": "20", "level": 1},
        actor=ADMIN,
    )
    await publish_draft(version_id=draft.id, actor=ADMIN)
    await send_ok(program, paid("V-2", line("L1", "100.00"), buyer=buyer))

    before = await commissions_of(program, "V-1")
    after = await commissions_of(program, "V-2")

    assert {c.rule_set_version for c in before.values()} == {1}
    assert {c.rule_set_version for c in after.values()} == {2}
    assert after[("L1", 1)].amount == Decimal("20.00")
    assert after[("L1", 1)].explanation["rule_set_version"] == 2
