from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from server.auth import Principal
from server.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from server.models import AuditLog, Program, Promoter, PromoterSite, Site, User
from server.services.programs import settings as program_service
from server.services.programs import sites as site_service

ADMIN = Principal(kind="staff", id=7, roles=frozenset({"admin"}))
STAFF = Principal(kind="staff", id=8, roles=frozenset({"staff"}))
SHOP: dict[str, Any] = {
    "name": "Spring shop",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
}


async def _program(**changes: Any) -> Program:
    return await program_service.create_program(document={**SHOP, **changes}, actor=ADMIN)


async def _promoter(program: Program, *, status: str = "approved", openid: str = "o1") -> Promoter:
    user = await User.create(appid="wx-test", openid=openid)
    return await Promoter.create(program_id=program.id, user_id=user.id, status=status)


async def test_creating_a_program_stores_every_setting_and_audits_it(db: str) -> None:
    program = await _program(withdrawal_rules={"minimum": "5", "methods": ["bank"]})
    stored = await Program.get(id=program.id)
    assert stored.status == "active"
    assert stored.level_rates == ["10", "5"]
    assert stored.withdrawal_rules["minimum"] == "5.00"
    assert stored.withdrawal_rules["methods"] == ["bank"]
    entry = await AuditLog.get(action="program.create", target_id=program.id)
    assert (entry.actor_kind, entry.actor_id, entry.program_id) == ("staff", 7, program.id)
    assert entry.details["after"]["level_rates"] == ["10", "5"]


async def test_an_invalid_program_is_refused_and_nothing_is_written(db: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await _program(level_rates=["90", "20"], freeze_days=-3)
    assert set(caught.value.fields) == {"level_rates", "freeze_days"}
    assert await Program.all().count() == 0
    assert await AuditLog.all().count() == 0


async def test_an_update_changes_only_the_given_settings_and_audits_before_and_after(
    db: str,
) -> None:
    program = await _program(withdrawal_rules={"minimum": "5", "methods": ["bank"]})
    updated = await program_service.update_program(
        program_id=program.id,
        changes={"freeze_days": 14, "withdrawal_rules": {"minimum": "8"}},
        actor=ADMIN,
        request_id="req-1",
    )
    assert updated.freeze_days == 14
    stored = await Program.get(id=program.id)
    assert stored.withdrawal_rules["minimum"] == "8.00"
    assert stored.withdrawal_rules["methods"] == ["bank"]
    entry = await AuditLog.get(action="program.update")
    assert entry.request_id == "req-1"
    assert set(entry.details["changes"]) == {"freeze_days", "withdrawal_rules"}
    assert entry.details["changes"]["freeze_days"] == {"before": 7, "after": 14}


async def test_an_invalid_update_writes_nothing(db: str) -> None:
    program = await _program()
    with pytest.raises(ValidationFailed) as caught:
        await program_service.update_program(
            program_id=program.id,
            changes={"name": "Renamed", "max_levels": 1},
            actor=ADMIN,
        )
    assert caught.value.code == "invalid_program_settings"
    assert "level_rates" in caught.value.fields
    stored = await Program.get(id=program.id)
    assert (stored.name, stored.max_levels) == ("Spring shop", 2)
    assert await AuditLog.filter(action="program.update").count() == 0


async def test_an_update_that_changes_nothing_leaves_no_audit_entry(db: str) -> None:
    program = await _program()
    await program_service.update_program(
        program_id=program.id, changes={"freeze_days": 7, "level_rates": ["10.0", "5"]}, actor=ADMIN
    )
    assert await AuditLog.filter(action="program.update").count() == 0


async def test_the_currency_can_change_before_anyone_joined_and_amounts_follow_it(db: str) -> None:
    program = await _program(withdrawal_rules={"minimum": "100"})
    await program_service.update_program(
        program_id=program.id,
        changes={"currency": "JPY", "withdrawal_rules": {"methods": ["bank"]}},
        actor=ADMIN,
    )
    stored = await Program.get(id=program.id)
    assert stored.currency == "JPY"
    assert stored.withdrawal_rules["minimum"] == "100"


async def test_the_currency_is_locked_once_the_program_has_promoters(db: str) -> None:
    program = await _program()
    await _promoter(program, status="applied")
    with pytest.raises(Conflict) as caught:
        await program_service.update_program(
            program_id=program.id, changes={"currency": "USD", "freeze_days": 3}, actor=ADMIN
        )
    assert caught.value.code == "currency_locked"
    stored = await Program.get(id=program.id)
    assert (stored.currency, stored.freeze_days) == ("CNY", 7)
    assert await AuditLog.filter(action="program.update").count() == 0


async def test_other_settings_still_change_when_the_program_has_promoters(db: str) -> None:
    program = await _program()
    await _promoter(program)
    await program_service.update_program(
        program_id=program.id, changes={"currency": "CNY", "freeze_days": 3}, actor=ADMIN
    )
    assert (await Program.get(id=program.id)).freeze_days == 3


async def test_an_archived_program_refuses_applications_changes_and_a_second_archive(
    db: str,
) -> None:
    program = await _program()
    archived = await program_service.archive_program(program_id=program.id, actor=ADMIN)
    assert archived.status == "archived"
    entry = await AuditLog.get(action="program.archive")
    assert entry.details["changes"]["status"] == {"before": "active", "after": "archived"}
    with pytest.raises(Conflict) as caught:
        program_service.ensure_program_accepts_applications(archived)
    assert caught.value.code == "program_archived"
    with pytest.raises(Conflict):
        await program_service.get_program_for_application(program_id=program.id)
    with pytest.raises(Conflict) as caught:
        await program_service.update_program(
            program_id=program.id, changes={"freeze_days": 1}, actor=ADMIN
        )
    assert caught.value.code == "program_archived"
    with pytest.raises(IllegalTransition):
        await program_service.archive_program(program_id=program.id, actor=ADMIN)
    with pytest.raises(NotFound) as missing:
        await program_service.get_public_program(program_id=program.id)
    assert missing.value.code == "program_not_found"
    assert (await program_service.get_program(program_id=program.id)).status == "archived"


async def test_programs_are_listed_by_status_a_page_at_a_time(db: str) -> None:
    first = await _program(name="One")
    second = await _program(name="Two")
    third = await _program(name="Three")
    await program_service.archive_program(program_id=second.id, actor=ADMIN)
    active = await program_service.list_programs(status="active")
    assert [p.id for p in active] == [first.id, third.id]
    page = await program_service.list_programs(limit=2)
    assert program_service.serialize_program_page(page, limit=2)["next_cursor"] == second.id
    rest = await program_service.list_programs(cursor=second.id, limit=2)
    assert [p.id for p in rest] == [third.id]


async def test_the_settings_read_back_as_decimals(db: str) -> None:
    program = await _program(self_rebate_enabled=True, self_rebate_rate="2.5")
    settings = program_service.settings_of(await Program.get(id=program.id))
    assert settings.self_rebate_rate == Decimal("2.5")
    assert settings.level_rates == (Decimal(10), Decimal(5))
    assert program_service.serialize_program(program)["self_rebate_rate"] == "2.5"


async def test_the_demo_program_is_created_once_with_its_site(db: str) -> None:
    first = await program_service.ensure_demo_program()
    again = await program_service.ensure_demo_program()
    assert first.id == again.id
    data = program_service.serialize_program(again)
    assert (data["name"], data["currency"], data["recruitment_mode"]) == (
        "Demo store",
        "CNY",
        "open",
    )
    assert data["level_rates"] == ["10", "5"]
    assert (data["self_rebate_enabled"], data["self_rebate_rate"]) == (True, "3")
    assert (data["attribution_window_days"], data["freeze_days"]) == (30, 7)
    assert [s.domain for s in await Site.filter(program_id=first.id)] == ["demo.example.com"]
    assert await Program.all().count() == 1


async def test_site_domains_are_normalized_and_unique_per_program(db: str) -> None:
    program = await _program()
    other = await _program(name="Other")
    site = await site_service.create_site(
        program_id=program.id, domain="Shop.Example.com", name="Shop", market="CN", actor=STAFF
    )
    assert site.domain == "shop.example.com"
    with pytest.raises(Conflict) as caught:
        await site_service.create_site(
            program_id=program.id, domain="SHOP.example.com.", actor=STAFF
        )
    assert caught.value.code == "site_exists"
    await site_service.create_site(program_id=other.id, domain="shop.example.com", actor=STAFF)
    assert await AuditLog.filter(action="site.create").count() == 2


async def test_a_deactivated_site_keeps_its_grants_and_takes_no_new_ones(db: str) -> None:
    program = await _program()
    site = await site_service.create_site(
        program_id=program.id, domain="a.example.com", actor=STAFF
    )
    early = await _promoter(program, openid="early")
    late = await _promoter(program, openid="late")
    await site_service.grant_site(promoter_id=early.id, site_id=site.id, actor=STAFF)
    await site_service.update_site(
        program_id=program.id, site_id=site.id, is_active=False, actor=STAFF
    )
    entry = await AuditLog.get(action="site.update")
    assert entry.details["changes"] == {"is_active": {"before": True, "after": False}}
    with pytest.raises(Conflict) as caught:
        await site_service.grant_site(promoter_id=late.id, site_id=site.id, actor=STAFF)
    assert caught.value.code == "site_inactive"
    assert await PromoterSite.filter(site_id=site.id).count() == 1
    inactive = await site_service.list_sites(program_id=program.id, is_active=False)
    assert [s.id for s in inactive] == [site.id]


async def test_a_grant_to_a_site_of_another_program_is_refused(db: str) -> None:
    program = await _program()
    other = await _program(name="Other")
    foreign = await site_service.create_site(
        program_id=other.id, domain="b.example.com", actor=STAFF
    )
    promoter = await _promoter(program)
    with pytest.raises(ValidationFailed) as caught:
        await site_service.grant_site(promoter_id=promoter.id, site_id=foreign.id, actor=STAFF)
    assert caught.value.code == "site_in_other_program"
    assert await PromoterSite.all().count() == 0
    assert await AuditLog.filter(action="site.grant").count() == 0


async def test_grants_are_audited_unique_and_revocable(db: str) -> None:
    program = await _program()
    site = await site_service.create_site(
        program_id=program.id, domain="c.example.com", actor=STAFF
    )
    promoter = await _promoter(program)
    grant = await site_service.grant_site(promoter_id=promoter.id, site_id=site.id, actor=STAFF)
    assert site_service.serialize_site_grant(grant)["site_id"] == site.id
    with pytest.raises(Conflict) as caught:
        await site_service.grant_site(promoter_id=promoter.id, site_id=site.id, actor=STAFF)
    assert caught.value.code == "site_already_granted"
    await site_service.revoke_site(promoter_id=promoter.id, site_id=site.id, actor=STAFF)
    assert await PromoterSite.all().count() == 0
    actions = [e.action for e in await AuditLog.filter(target_kind="promoter").order_by("id")]
    assert actions == ["site.grant", "site.revoke"]
    with pytest.raises(NotFound) as missing:
        await site_service.revoke_site(promoter_id=promoter.id, site_id=site.id, actor=STAFF)
    assert missing.value.code == "site_grant_not_found"


async def test_a_promoter_whose_profile_is_over_gets_no_site(db: str) -> None:
    program = await _program()
    site = await site_service.create_site(
        program_id=program.id, domain="d.example.com", actor=STAFF
    )
    disabled = await _promoter(program, status="disabled")
    with pytest.raises(Conflict) as caught:
        await site_service.grant_site(promoter_id=disabled.id, site_id=site.id, actor=STAFF)
    assert caught.value.code == "promoter_not_live"


async def test_an_archived_program_gets_no_new_sites(db: str) -> None:
    program = await _program()
    await program_service.archive_program(program_id=program.id, actor=ADMIN)
    with pytest.raises(Conflict) as caught:
        await site_service.create_site(program_id=program.id, domain="e.example.com", actor=STAFF)
    assert caught.value.code == "program_archived"
    assert await Site.all().count() == 0
