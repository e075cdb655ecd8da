"""Programs in the console: settings with inline errors, rules, the dry run, API keys."""

from __future__ import annotations

from sanic import Sanic

from server.models import CommissionRuleRecord, Program, PromoterSite, Site
from tests.api.console.client import signed_in
from tests.order_builders import chain, promoter, shop


async def test_an_admin_creates_a_program_and_sees_a_bad_rate_beside_its_field(
    app: Sanic,
) -> None:
    console = await signed_in(app, "admin", username="program_admin")
    await console.get("/console/programs")
    form = {"name": "控制台新店", "currency": "CNY", "recruitment_mode": "review"}
    refused = await console.post(
        "/console/programs", {**form, "max_levels": "2", "level_rates": "10, abc"}
    )
    assert refused.status_code == 422
    assert 'class="field-error"' in refused.text and 'aria-invalid="true"' in refused.text
    assert not await Program.exists(name="控制台新店")
    created = await console.post(
        "/console/programs", {**form, "max_levels": "2", "level_rates": "10, 5"}
    )
    assert created.status_code == 303
    program = await Program.get(name="控制台新店")
    assert program.level_rates == ["10", "5"]
    await console.close()


async def test_staff_add_a_rule_and_the_dry_run_explains_it(app: Sanic) -> None:
    program = await shop()
    _, near = await chain(program, 2)
    console = await signed_in(app, "staff", username="rule_staff")
    page = await console.get(f"/console/programs/{program.id}")
    assert 'action="/console/programs/' in page.text and "/api-keys" not in page.text
    added = await console.post(
        f"/console/programs/{program.id}/rules",
        {"kind": "percent", "value": "20", "level": "1", "product_id": "SKU-9"},
    )
    assert added.status_code == 303
    assert await CommissionRuleRecord.exists(program_id=program.id, product_id="SKU-9")
    report = await console.post(
        f"/console/programs/{program.id}/preview",
        {"product_id": "SKU-9", "amount": "50.00", "quantity": "1", "buyer_promoter_id": near.id},
    )
    assert report.status_code == 200
    assert "20% × 50.00" in report.text and "¥10.00" in report.text
    await console.close()


async def test_staff_cannot_change_settings(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="settings_staff")
    await console.get(f"/console/programs/{program.id}")
    response = await console.post(f"/console/programs/{program.id}", {"name": "hijacked"})
    assert response.status_code == 403
    assert (await Program.get(id=program.id)).name != "hijacked"
    await console.close()


async def test_an_admin_sees_a_new_keys_secret_once(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "admin", username="key_admin")
    await console.get(f"/console/programs/{program.id}")
    issued = await console.post(f"/console/programs/{program.id}/api-keys", {"name": "store"})
    assert issued.status_code == 200 and 'id="issued-key"' in issued.text
    again = await console.get(f"/console/programs/{program.id}")
    assert 'id="issued-key"' not in again.text and "store" in again.text
    await console.close()


async def test_staff_add_a_site_and_a_bad_domain_is_shown_beside_its_field(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="site_staff")
    await console.get(f"/console/programs/{program.id}")
    added = await console.post(
        f"/console/programs/{program.id}/sites", {"domain": "shop.example.cn", "market": "CN"}
    )
    assert added.status_code == 303
    assert "shop.example.cn" in (await console.get(f"/console/programs/{program.id}")).text
    refused = await console.post(f"/console/programs/{program.id}/sites", {"domain": "x" * 300})
    assert refused.status_code == 422 and 'class="field-error"' in refused.text
    await console.close()


async def test_a_refused_rule_is_shown_beside_its_field(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="bad_rule_staff")
    await console.get(f"/console/programs/{program.id}")
    refused = await console.post(
        f"/console/programs/{program.id}/rules", {"kind": "percent", "value": "abc"}
    )
    assert refused.status_code == 422 and 'class="field-error"' in refused.text
    assert not await CommissionRuleRecord.exists(program_id=program.id)
    await console.close()


async def test_an_admin_sees_a_refused_setting_beside_its_field_and_nothing_changes(
    app: Sanic,
) -> None:
    program = await shop()
    console = await signed_in(app, "admin", username="settings_admin")
    await console.get(f"/console/programs/{program.id}")
    refused = await console.post(
        f"/console/programs/{program.id}",
        {"name": "改名", "max_levels": "2", "level_rates": "10, 5", "freeze_days": "-3"},
    )
    assert refused.status_code == 422 and 'class="field-error"' in refused.text
    assert (await Program.get(id=program.id)).name != "改名"
    saved = await console.post(
        f"/console/programs/{program.id}",
        {"name": "改名", "max_levels": "2", "level_rates": "10, 5", "freeze_days": "3"},
    )
    assert saved.status_code == 303
    assert (await Program.get(id=program.id)).freeze_days == 3
    await console.close()


async def test_staff_authorize_a_promoter_for_a_site_and_withdraw_it(app: Sanic) -> None:
    program = await shop()
    member = await promoter(program)
    console = await signed_in(app, "staff", username="grant_staff")
    await console.get(f"/console/programs/{program.id}")
    await console.post(f"/console/programs/{program.id}/sites", {"domain": "m.example.cn"})
    site = await Site.get(program_id=program.id, domain="m.example.cn")
    path = f"/console/promoters/{member.id}/sites/{site.id}"
    assert (await console.post(path)).status_code == 303
    assert await PromoterSite.exists(promoter_id=member.id, site_id=site.id)
    assert "已授权" in (await console.get(f"/console/promoters/{member.id}")).text
    assert (await console.post(path, {"revoke": "1"})).status_code == 303
    assert not await PromoterSite.exists(promoter_id=member.id, site_id=site.id)
    await console.close()


async def test_an_admin_requires_the_tax_profile_and_a_bad_rate_shows_beside_its_field(
    app: Sanic,
) -> None:
    program = await shop()
    console = await signed_in(app, "admin", username="withdrawal_admin")
    page = await console.get(f"/console/programs/{program.id}")
    assert 'id="withdrawal-settings"' in page.text
    path = f"/console/programs/{program.id}/withdrawal-rules"

    refused = await console.post(
        path, {"tax_withholding_percent": "100", "require_tax_profile": "1"}
    )
    saved = await console.post(path, {"tax_withholding_percent": "20", "require_tax_profile": "1"})

    assert refused.status_code == 422
    assert 'class="field-error"' in refused.text and 'aria-invalid="true"' in refused.text
    assert saved.status_code == 303
    rules = (await Program.get(id=program.id)).withdrawal_rules
    assert (rules["tax_withholding_percent"], rules["require_tax_profile"]) == ("20", True)
    shown = await console.get(f"/console/programs/{program.id}")
    assert '<option value="1" selected>' in shown.text
    await console.close()


async def test_staff_cannot_change_the_withdrawal_settings(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="withdrawal_staff")
    await console.get(f"/console/programs/{program.id}")

    response = await console.post(
        f"/console/programs/{program.id}/withdrawal-rules", {"require_tax_profile": "1"}
    )

    assert response.status_code == 403
    assert not (await Program.get(id=program.id)).withdrawal_rules.get("require_tax_profile")
