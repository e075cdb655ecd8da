"""Commission rules and period caps as stored configuration: checks, audit, loading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from server.auth import Principal
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.models import AuditLog, CommissionRuleRecord, PeriodCapRecord, Site
from server.services.programs import commission_rules as rules_service
from server.services.programs import period_caps as caps_service
from server.services.programs.settings import archive_program
from tests.service.commissions.test_commission_preview import member, shop

STAFF = Principal(kind="staff", id=8, roles=frozenset({"staff"}))
ADMIN = Principal(kind="staff", id=7, roles=frozenset({"admin"}))
JUNE = datetime(2024, 6, 1, tzinfo=UTC)


async def create(program_id: int, **document: Any) -> CommissionRuleRecord:
    record, _currency = await rules_service.create_rule(
        program_id=program_id, document={"kind": "percent", **document}, actor=STAFF
    )
    return record


async def test_a_rule_is_stored_with_its_scope_and_the_creation_is_audited(db: str) -> None:
    program = await shop()
    site = await Site.create(program=program, domain="shop.example.com")
    seller = await member(program)
    record = await create(
        program.id,
        name="Summer boots",
        value="12.5",
        level=1,
        product_id="BOOT",
        site_id=site.id,
        promoter_id=seller.id,
        valid_from=JUNE,
        valid_to=JUNE + timedelta(30),
        priority=3,
    )
    [loaded] = await rules_service.load_rules(program_id=program.id)
    assert (loaded.id, loaded.value, loaded.scope()) == (
        record.id,
        Decimal("12.5"),
        {"promoter_id": seller.id, "product_id": "BOOT", "site_id": site.id},
    )
    entry = await AuditLog.get(action="commission_rule.create", target_id=record.id)
    assert (entry.actor_id, entry.program_id) == (STAFF.id, program.id)
    assert entry.details["after"]["value"] == "12.5"
    assert entry.details["after"]["valid_from"] == JUNE.isoformat()


async def test_every_broken_field_is_reported_at_once_and_nothing_is_written(db: str) -> None:
    program, other = await shop(), await shop(name="Other")
    stranger = await member(other)
    other_site = await Site.create(program=other, domain="other.example.com")
    with pytest.raises(ValidationFailed) as caught:
        await create(
            program.id,
            value="101",
            level=11,
            category=" ",
            campaign="c" * 65,
            site_id=other_site.id,
            promoter_id=stranger.id,
            valid_from=JUNE,
            valid_to=JUNE,
            cap_per_line="0.001",
        )
    assert caught.value.code == "invalid_commission_rule"
    assert set(caught.value.fields) == {
        "value",
        "level",
        "category",
        "campaign",
        "site_id",
        "promoter_id",
        "valid_to",
        "cap_per_line",
    }
    assert await CommissionRuleRecord.all().count() == 0
    assert await AuditLog.filter(action="commission_rule.create").count() == 0


async def test_a_fixed_amount_follows_the_program_currency_precision(db: str) -> None:
    yen = await shop(currency="JPY")
    with pytest.raises(ValidationFailed) as caught:
        await create(yen.id, kind="fixed", value="5.50")
    assert caught.value.fields == {"value": "at most 0 decimals for JPY"}
    record = await create(yen.id, kind="fixed", value="500")
    stored, currency = await rules_service.get_rule(rule_id=record.id)
    assert rules_service.serialize_rule(stored, currency=currency)["value"] == "500"
    with pytest.raises(ValidationFailed):
        await create(yen.id, kind="bonus", value="1")
    with pytest.raises(ValidationFailed) as missing:
        await create(yen.id, kind="fixed")
    assert missing.value.fields == {"value": "required"}


async def test_a_rule_set_that_could_pay_more_than_a_line_is_refused(db: str) -> None:
    program = await shop()  # L1 10%, L2 5%
    await create(program.id, value="60", level=1, category="shoes")
    with pytest.raises(ValidationFailed) as caught:
        await create(program.id, value="45", level=2)
    assert caught.value.code == "rule_set_overpays"
    assert caught.value.fields["example"]["total_percent"] == "105"
    assert await CommissionRuleRecord.all().count() == 1
    await create(program.id, value="40", level=2)  # 100% exactly is allowed


async def test_an_update_is_checked_as_a_whole_and_audited_with_before_and_after(
    db: str,
) -> None:
    program = await shop()
    record = await create(program.id, value="20", level=1, product_id="BOOT")
    updated, _ = await rules_service.update_rule(
        rule_id=record.id, changes={"value": "25", "product_id": None}, actor=STAFF
    )
    assert (updated.value, updated.product_id) == (Decimal("25"), None)
    entry = await AuditLog.get(action="commission_rule.update", target_id=record.id)
    assert (entry.details["before"]["value"], entry.details["after"]["value"]) == ("20", "25")
    assert entry.details["before"]["product_id"] == "BOOT"
    with pytest.raises(ValidationFailed):
        await rules_service.update_rule(rule_id=record.id, changes={"value": "96"}, actor=STAFF)
    assert (await CommissionRuleRecord.get(id=record.id)).value == Decimal("25")
    # Sending what is already stored changes nothing and audits nothing.
    await rules_service.update_rule(rule_id=record.id, changes={"value": "25"}, actor=STAFF)
    assert await AuditLog.filter(action="commission_rule.update").count() == 1


async def test_a_disabled_rule_is_no_longer_loaded_and_enabling_it_is_checked(db: str) -> None:
    program = await shop()
    generous = await create(program.id, value="80", level=1)
    await rules_service.set_rule_enabled(rule_id=generous.id, enabled=False, actor=STAFF)
    assert await rules_service.load_rules(program_id=program.id) == []
    await create(program.id, value="50", level=2)
    with pytest.raises(ValidationFailed) as caught:
        await rules_service.set_rule_enabled(rule_id=generous.id, enabled=True, actor=STAFF)
    assert caught.value.code == "rule_set_overpays"
    actions = await AuditLog.filter(
        target_kind="commission_rule", target_id=generous.id
    ).values_list("action", flat=True)
    assert sorted(actions) == ["commission_rule.create", "commission_rule.disable"]


async def test_only_rules_in_force_when_the_order_was_placed_are_loaded(db: str) -> None:
    program = await shop()
    june = await create(program.id, value="12", valid_from=JUNE, valid_to=JUNE + timedelta(30))
    await create(program.id, value="15", valid_to=JUNE)
    loaded = await rules_service.load_rules(program_id=program.id, at=JUNE + timedelta(days=1))
    assert [rule.id for rule in loaded] == [june.id]


async def test_an_archived_program_and_unknown_rules_refuse_changes(db: str) -> None:
    program = await shop()
    record = await create(program.id, value="10")
    await archive_program(program_id=program.id, actor=ADMIN)
    with pytest.raises(Conflict) as archived:
        await create(program.id, value="10")
    assert archived.value.code == "program_archived"
    with pytest.raises(Conflict):
        await rules_service.update_rule(rule_id=record.id, changes={"value": "9"}, actor=STAFF)
    with pytest.raises(NotFound) as unknown:
        await rules_service.set_rule_enabled(rule_id=record.id + 99, enabled=False, actor=STAFF)
    assert unknown.value.code == "commission_rule_not_found"


async def test_period_caps_are_checked_stored_audited_and_loaded(db: str) -> None:
    program = await shop()
    seller = await member(program)
    with pytest.raises(ValidationFailed) as caught:
        await caps_service.create_cap(
            program_id=program.id, document={"period": "week", "amount": "0"}, actor=STAFF
        )
    assert caught.value.code == "invalid_period_cap"
    assert set(caught.value.fields) == {"period", "amount"}
    cap, _ = await caps_service.create_cap(
        program_id=program.id,
        document={"period": "day", "amount": "100", "promoter_id": seller.id},
        actor=STAFF,
    )
    [loaded] = await caps_service.load_period_caps(program_id=program.id)
    assert (loaded.period, loaded.amount, loaded.promoter_id) == ("day", Decimal("100"), seller.id)
    await caps_service.update_cap(cap_id=cap.id, changes={"amount": "80.50"}, actor=STAFF)
    await caps_service.set_cap_enabled(cap_id=cap.id, enabled=False, actor=STAFF)
    assert await caps_service.load_period_caps(program_id=program.id) == []
    actions = (
        await AuditLog.filter(target_kind="period_cap")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["period_cap.create", "period_cap.update", "period_cap.disable"]
    assert (await PeriodCapRecord.get(id=cap.id)).amount == Decimal("80.50")
