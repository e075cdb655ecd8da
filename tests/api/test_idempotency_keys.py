"""Every POST that moves money or creates a record takes an Idempotency-Key: a retry with the
same key answers the first record and creates nothing, another request under the key is 409,
concurrent requests with one key create one record, and keys are the caller's own."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from server.config import Settings
from server.models import (
    Adjustment,
    Announcement,
    ApiKey,
    Channel,
    CommissionBoostRecord,
    CommissionRuleRecord,
    Dispute,
    DisputeMessage,
    Material,
    MilestoneBonusRecord,
    PayoutBatch,
    PeriodCapRecord,
    PosterTemplate,
    Program,
    Promoter,
    PromoterTierRecord,
    RuleSetVersion,
    ShareCode,
    Site,
    SpendRecord,
    StaffUser,
    WebhookEndpoint,
    Withdrawal,
)
from server.models.program import Program as ProgramModel
from server.services.promoters.sub_accounts import create_sub_account
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.order_builders import ADMIN, shop
from tests.service.promoters.test_hierarchy import new_promoter
from tests.service.promotion.builders import LAYOUT, picture
from tests.withdrawal_builders import funded_promoter, rules_program

Count = Callable[[], Awaitable[int]]


@dataclass
class Case:
    """One creating route: a request, another request, a second caller, what it creates."""

    path: str
    body: dict[str, Any]
    changed: dict[str, Any]
    token: str
    other_token: str
    count: Count
    other_path: str | None = None
    other_body: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _counter(model: Any, **filters: Any) -> Count:
    async def count() -> int:
        return await model.filter(**filters).count()

    return count


async def _promoter_tokens(settings: Settings, program: ProgramModel) -> tuple[str, str]:
    me, other = await new_promoter(program), await new_promoter(program)
    return (
        promoter_token(settings, me.user_id),  # type: ignore[attr-defined]
        promoter_token(settings, other.user_id),  # type: ignore[attr-defined]
    )


async def _open(api: Api, token: str, program: ProgramModel) -> int:
    opened = await api.post(
        f"/mp/v1/programs/{program.id}/disputes",
        token=token,
        json={"external_order_id": "X-1", "text": "no commission"},
    )
    assert opened.status == 201, opened.text
    return int(opened.json["id"])


async def _code(api: Api, token: str, program: ProgramModel) -> int:
    created = await api.post(f"/mp/v1/programs/{program.id}/codes", token=token, json={})
    assert created.status == 201, created.text
    return int(created.json["id"])


async def payout_batch(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    await funded_promoter(program, "100.00")
    body = {"program_id": program.id}
    return Case(
        path="/admin/v1/payouts/batches",
        body=body,
        changed={**body, "promoter_ids": [1]},
        token=await api.staff_token("finance"),
        other_token=await api.staff_token("admin"),
        count=_counter(PayoutBatch, program_id=program.id),
        extra={"withdrawals": _counter(Withdrawal, program_id=program.id)},
    )


async def dispute(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    mine, other = await _promoter_tokens(settings, program)
    body = {"external_order_id": "X-9", "text": "no commission"}
    return Case(
        path=f"/mp/v1/programs/{program.id}/disputes",
        body=body,
        changed={**body, "text": "still none"},
        token=mine,
        other_token=other,
        count=_counter(Dispute, program_id=program.id),
    )


async def promoter_message(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    mine, other = await _promoter_tokens(settings, program)
    base = f"/mp/v1/programs/{program.id}/disputes"
    return Case(
        path=f"{base}/{await _open(api, mine, program)}/messages",
        body={"text": "any news?"},
        changed={"text": "hello?"},
        token=mine,
        other_token=other,
        other_path=f"{base}/{await _open(api, other, program)}/messages",
        count=_counter(DisputeMessage),
    )


async def staff_message(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    mine, _ = await _promoter_tokens(settings, program)
    dispute_id = await _open(api, mine, program)
    return Case(
        path=f"/admin/v1/disputes/{dispute_id}/messages",
        body={"text": "looking"},
        changed={"text": "checking"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("finance"),
        count=_counter(DisputeMessage, dispute_id=dispute_id),
    )


async def staff_account(api: Api, settings: Settings) -> Case:
    body = {"username": "new_clerk", "password": "a long password", "roles": ["staff"]}
    return Case(
        path="/admin/v1/staff",
        body=body,
        changed={**body, "roles": ["finance"]},
        token=await api.staff_token("admin", username="admin_one"),
        other_token=await api.staff_token("admin", username="admin_two"),
        other_body={**body, "username": "other_clerk"},
        count=_counter(StaffUser),
    )


async def code(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    mine, other = await _promoter_tokens(settings, program)
    return Case(
        path=f"/mp/v1/programs/{program.id}/codes",
        body={"kind": "referral"},
        changed={"kind": "voucher"},
        token=mine,
        other_token=other,
        count=_counter(ShareCode, program_id=program.id),
    )


async def alias(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    mine, other = await _promoter_tokens(settings, program)
    base = f"/mp/v1/programs/{program.id}/codes"
    return Case(
        path=f"{base}/{await _code(api, mine, program)}/aliases",
        body={"alias": "spring-one"},
        changed={"alias": "spring-two"},
        token=mine,
        other_token=other,
        other_path=f"{base}/{await _code(api, other, program)}/aliases",
        other_body={"alias": "autumn-one"},
        count=_counter(ShareCode, program_id=program.id),
    )


async def channel(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    mine, other = await _promoter_tokens(settings, program)
    return Case(
        path=f"/mp/v1/programs/{program.id}/channels",
        body={"name": "Douyin"},
        changed={"name": "Bilibili"},
        token=mine,
        other_token=other,
        count=_counter(Channel, promoter__program_id=program.id),
    )


async def site(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    return Case(
        path=f"/admin/v1/programs/{program.id}/sites",
        body={"domain": "shop.example.com"},
        changed={"domain": "outlet.example.com"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        other_body={"domain": "eu.example.com"},
        count=_counter(Site, program_id=program.id),
    )


async def commission_rule(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    return Case(
        path=f"/admin/v1/programs/{program.id}/commission-rules",
        body={"kind": "percent", "value": "5"},
        changed={"kind": "percent", "value": "6"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(CommissionRuleRecord, program_id=program.id),
    )


async def period_cap(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    return Case(
        path=f"/admin/v1/programs/{program.id}/period-caps",
        body={"period": "month", "amount": "500"},
        changed={"period": "month", "amount": "600"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(PeriodCapRecord, program_id=program.id),
    )


async def api_key(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    return Case(
        path=f"/admin/v1/programs/{program.id}/api-keys",
        body={"name": "store"},
        changed={"name": "crm"},
        token=await api.staff_token("admin", username="admin_one"),
        other_token=await api.staff_token("admin", username="admin_two"),
        count=_counter(ApiKey, program_id=program.id),
    )


async def webhook_endpoint(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    body = {"url": "https://93.184.216.34/hooks", "event_types": ["commission.created"]}
    return Case(
        path=f"/admin/v1/programs/{program.id}/webhook-endpoints",
        body=body,
        changed={**body, "url": "https://93.184.216.35/hooks"},
        token=await api.staff_token("admin", username="admin_one"),
        other_token=await api.staff_token("admin", username="admin_two"),
        count=_counter(WebhookEndpoint, program_id=program.id),
    )


async def program(api: Api, settings: Settings) -> Case:
    body = {"name": "Autumn", "currency": "CNY", "max_levels": 2, "level_rates": ["10", "5"]}
    return Case(
        path="/admin/v1/programs",
        body=body,
        changed={**body, "name": "Winter"},
        token=await api.staff_token("admin", username="admin_one"),
        other_token=await api.staff_token("admin", username="admin_two"),
        count=_counter(Program),
    )


async def withdrawal(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    me, other = await funded_promoter(program, "100.00"), await funded_promoter(program, "100.00")
    return Case(
        path=f"/mp/v1/programs/{program.id}/withdrawals",
        body={"amount": "50.00", "method": "wechat"},
        changed={"amount": "49.00", "method": "wechat"},
        token=promoter_token(settings, me.user_id),  # type: ignore[attr-defined]
        other_token=promoter_token(settings, other.user_id),  # type: ignore[attr-defined]
        count=_counter(Withdrawal, program_id=program.id),
    )


async def adjustment(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    promoter = await new_promoter(program)
    body = {
        "promoter_id": promoter.id,
        "amount": "12.00",
        "currency": "CNY",
        "reason_code": "bonus",
    }
    return Case(
        path=f"/admin/v1/programs/{program.id}/adjustments",
        body=body,
        changed={**body, "amount": "13.00"},
        token=await api.staff_token("finance"),
        other_token=await api.staff_token("admin"),
        count=_counter(Adjustment, program_id=program.id),
    )


async def tier(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    return Case(
        path=f"/admin/v1/programs/{program.id}/tiers",
        body={"code": "silver", "min_net_sales": "1000.00"},
        changed={"code": "gold", "min_net_sales": "5000.00"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        other_body={"code": "bronze", "min_net_sales": "100.00"},
        count=_counter(PromoterTierRecord, program_id=program.id),
    )


WINDOW = {"starts_at": "2026-11-11T00:00:00+08:00", "ends_at": "2026-11-12T00:00:00+08:00"}


async def boost(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    return Case(
        path=f"/admin/v1/programs/{program.id}/boosts",
        body={"multiplier": "1.5", **WINDOW},
        changed={"multiplier": "2", **WINDOW},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(CommissionBoostRecord, program_id=program.id),
    )


async def milestone_bonus(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    body = {"target_net_sales": "1000.00", "amount": "50.00", **WINDOW}
    return Case(
        path=f"/admin/v1/programs/{program.id}/milestone-bonuses",
        body=body,
        changed={**body, "amount": "60.00"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(MilestoneBonusRecord, program_id=program.id),
    )


async def sub_account(api: Api, settings: Settings) -> Case:
    program = await shop(kind="internal")
    return Case(
        path=f"/admin/v1/programs/{program.id}/sub-accounts",
        body={"name": "Spring team"},
        changed={"name": "Autumn team"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(Promoter, program_id=program.id),
    )


async def sub_account_code(api: Api, settings: Settings) -> Case:
    program = await shop(kind="internal")
    sub = await create_sub_account(program_id=program.id, name="Store", actor=ADMIN)
    return Case(
        path=f"/admin/v1/programs/{program.id}/sub-accounts/{sub.id}/codes",
        body={"kind": "referral"},
        changed={"kind": "voucher"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(ShareCode, program_id=program.id),
    )


async def spend(api: Api, settings: Settings) -> Case:
    program = await shop()
    body = {"day": "2026-03-02", "amount": "3.00"}
    return Case(
        path=f"/admin/v1/programs/{program.id}/spend",
        body=body,
        changed={**body, "amount": "4.00"},
        token=await api.staff_token("finance"),
        other_token=await api.staff_token("staff"),
        count=_counter(SpendRecord, program_id=program.id),
    )


async def spend_import(api: Api, settings: Settings) -> Case:
    program = await shop()
    return Case(
        path=f"/admin/v1/programs/{program.id}/spend/import",
        body={"csv": "day,amount\n2026-03-02,1.00\n"},
        changed={"csv": "day,amount\n2026-03-02,9.00\n"},
        token=await api.staff_token("finance"),
        other_token=await api.staff_token("staff"),
        count=_counter(SpendRecord, program_id=program.id),
    )


async def rule_set_draft(api: Api, settings: Settings) -> Case:
    program = await rules_program()
    return Case(
        path=f"/admin/v1/programs/{program.id}/rule-set/drafts",
        body={"note": "summer"},
        changed={"note": "winter"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(RuleSetVersion, program_id=program.id, status="draft"),
    )


async def poster_template(api: Api, settings: Settings) -> Case:
    program = await shop()
    upload = {
        "name": "spring",
        "image_base64": base64.b64encode(picture()).decode(),
        "layout": LAYOUT,
    }
    return Case(
        path=f"/admin/v1/programs/{program.id}/poster-templates",
        body=upload,
        changed={**upload, "name": "autumn"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(PosterTemplate, program_id=program.id),
    )


async def material(api: Api, settings: Settings) -> Case:
    program = await shop()
    return Case(
        path=f"/admin/v1/programs/{program.id}/materials",
        body={"kind": "copy", "title": "sale", "copy_text": "buy {link}"},
        changed={"kind": "copy", "title": "other", "copy_text": "buy {link}"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(Material, program_id=program.id),
    )


async def announcement(api: Api, settings: Settings) -> Case:
    program = await shop()
    return Case(
        path=f"/admin/v1/programs/{program.id}/announcements",
        body={"title": "news", "body": "hello"},
        changed={"title": "news", "body": "bye"},
        token=await api.staff_token("staff"),
        other_token=await api.staff_token("admin"),
        count=_counter(Announcement, program_id=program.id),
    )


ROUTES = {
    builder.__name__: builder
    for builder in (
        payout_batch,
        dispute,
        promoter_message,
        staff_message,
        staff_account,
        code,
        alias,
        channel,
        site,
        commission_rule,
        period_cap,
        api_key,
        webhook_endpoint,
        program,
        withdrawal,
        adjustment,
        tier,
        boost,
        milestone_bonus,
        sub_account,
        sub_account_code,
        spend,
        spend_import,
        rule_set_draft,
        poster_template,
        material,
        announcement,
    )
}

KEY = {"Idempotency-Key": "0b6d2c1e-7f0a-4c55-9d1e-2f1a9a6c0b11"}


@pytest.fixture(params=sorted(ROUTES))
async def case(request: pytest.FixtureRequest, api: Api, settings: Settings) -> Case:
    return await ROUTES[request.param](api, settings)


async def _counts(case: Case) -> list[int]:
    return [await case.count()] + [await extra() for extra in case.extra.values()]


async def test_a_retry_with_the_same_key_answers_the_first_record_and_creates_nothing(
    api: Api, case: Case
) -> None:
    first = await api.post(case.path, token=case.token, json=case.body, headers=KEY)
    assert first.status == 201, first.text
    after_first = await _counts(case)

    again = await api.post(case.path, token=case.token, json=case.body, headers=KEY)

    assert (again.status, again.json["id"]) == (200, first.json["id"]), again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert await _counts(case) == after_first


async def test_the_same_key_with_another_request_is_a_409(api: Api, case: Case) -> None:
    first = await api.post(case.path, token=case.token, json=case.body, headers=KEY)
    assert first.status == 201, first.text
    before = await _counts(case)

    other = await api.post(case.path, token=case.token, json=case.changed, headers=KEY)

    assert (other.status, other.json["error"]["code"]) == (409, "idempotency_key_reused")
    assert await _counts(case) == before


async def test_another_callers_same_key_is_their_own(api: Api, case: Case) -> None:
    before = await case.count()
    mine = await api.post(case.path, token=case.token, json=case.body, headers=KEY)
    theirs = await api.post(
        case.other_path or case.path,
        token=case.other_token,
        json=case.other_body or case.body,
        headers=KEY,
    )

    assert (mine.status, theirs.status) == (201, 201), theirs.text
    assert await case.count() == before + 2


async def test_concurrent_requests_with_one_key_create_one_record(api: Api, case: Case) -> None:
    before = await case.count()

    answers = await asyncio.gather(
        *(api.post(case.path, token=case.token, json=case.body, headers=KEY) for _ in range(4))
    )

    assert sorted(a.status for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json["id"] for a in answers}) == 1
    assert await case.count() == before + 1


async def test_a_money_route_takes_its_key_from_the_header_or_the_body_but_not_two_keys(
    api: Api, settings: Settings
) -> None:
    case = await withdrawal(api, settings)
    body_key = {**case.body, "idempotency_key": "body-key-0001"}

    missing = await api.post(case.path, token=case.token, json=case.body)
    mismatch = await api.post(case.path, token=case.token, json=body_key, headers=KEY)
    by_body = await api.post(case.path, token=case.token, json=body_key)
    quoted = {"Idempotency-Key": '"body-key-0001"'}
    by_header = await api.post(case.path, token=case.token, json=case.body, headers=quoted)
    bad = await api.post(
        case.path, token=case.token, json=case.body, headers={"Idempotency-Key": "a b"}
    )

    assert (missing.status, missing.json["error"]["code"]) == (422, "idempotency_key_required")
    assert (mismatch.status, mismatch.json["error"]["code"]) == (422, "idempotency_key_mismatch")
    assert (bad.status, bad.json["error"]["code"]) == (422, "invalid_idempotency_key")
    assert (by_body.status, by_header.status) == (201, 200)
    assert by_header.json["id"] == by_body.json["id"]
    assert await case.count() == 1


async def test_a_replayed_api_key_shows_the_secret_its_first_answer_carried(
    api: Api, settings: Settings
) -> None:
    case = await api_key(api, settings)

    first = await api.post(case.path, token=case.token, json=case.body, headers=KEY)
    again = await api.post(case.path, token=case.token, json=case.body, headers=KEY)

    assert (first.status, again.status) == (201, 200)
    assert again.json["secret"] == first.json["secret"]
