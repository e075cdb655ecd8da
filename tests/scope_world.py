"""A program with one record of every kind an admin route names, for the program scope tests,
and staff accounts limited to programs. This module holds no tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from server import clock
from server.config import Settings
from server.models import (
    AdjustmentBatch,
    Announcement,
    Anomaly,
    BonusAward,
    CommissionBoostRecord,
    Dispute,
    Invitation,
    Material,
    MilestoneBonusRecord,
    OrderEvent,
    PayoutBatch,
    Program,
    PromoterTierRecord,
    RuleSetVersion,
    ShareCode,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from server.services.access.staff import create_staff_user
from server.services.programs.commission_rules import create_rule
from server.services.programs.period_caps import create_cap
from server.services.programs.sites import create_site
from server.services.promotion.posters import create_poster_template
from tests.ledger_checks import make_commission
from tests.order_builders import ADMIN, shop, unique
from tests.service.promotion.builders import LAYOUT, picture
from tests.withdrawal_builders import funded_promoter, withdraw

STAFF_PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class World:
    """A program and the id of one of its records per route parameter name."""

    program: Program
    ids: dict[str, int]

    def id_for(self, path: str, name: str) -> int | None:
        """The record a route parameter names (`batch_id` under /adjustments/ is an upload)."""
        if name == "batch_id" and "/adjustments/" in path:
            return self.ids["adjustment_batch_id"]
        return self.ids.get(name)


async def build_world(settings: Settings | None = None) -> World:
    """A program with a promoter, commission, order, withdrawal, dispute, anomaly, rule, cap,
    code, site, payout batch, adjustment upload, store event, tier, boost, bonus,
    invitation, poster template, material and announcement (and their audit entries).

    `settings` name the media directory the poster template's background is stored in.
    """
    program = await shop()
    site = await create_site(program_id=program.id, domain=f"{unique('s')}.example", actor=ADMIN)
    promoter = await funded_promoter(program, "50.00")
    commission = await make_commission(program, promoter, amount="5.00", status="pending")
    withdrawal = await withdraw(promoter, "10.00")
    dispute = await Dispute.create(
        program=program,
        promoter=promoter,
        subject_kind="commission",
        commission_id=commission.id,
        status="open",
    )
    anomaly = await Anomaly.create(
        program=program,
        kind="self_referral",
        subject_kind="promoter",
        subject_id=str(promoter.id),
        promoter_id=promoter.id,
        score=50,
        source="scan",
        fingerprint=unique("fp"),
    )
    rule, _ = await create_rule(
        program_id=program.id, document={"kind": "percent", "value": "3"}, actor=ADMIN
    )
    cap, _ = await create_cap(
        program_id=program.id, document={"period": "day", "amount": "100"}, actor=ADMIN
    )
    text = unique("CODE").replace("-", "")
    code = await ShareCode.create(
        program=program, promoter=promoter, kind="referral", code=text, normalized=text.upper()
    )
    payout_batch = await PayoutBatch.create(
        program_id=program.id,
        currency=program.currency,
        trigger="manual",
        period_key=unique("manual"),
        created_at=clock.now(),
    )
    upload = await AdjustmentBatch.create(
        program=program,
        filename="adjustments.csv",
        content_sha256=hashlib.sha256(unique("csv").encode()).hexdigest(),
        row_count=0,
        currency=program.currency,
        total_amount=0,
        created_by=ADMIN.id,
    )
    await OrderEvent.create(
        program=program,
        event_id=unique("ev"),
        event_type="order.paid",
        order_external_id=unique("ext"),
        body_sha256="0" * 64,
        status="rejected",
    )
    now = clock.now()
    window = {"starts_at": now, "ends_at": now + timedelta(days=30)}
    tier = await PromoterTierRecord.create(program=program, code="silver", name="silver", rank=2)
    boost = await CommissionBoostRecord.create(program=program, multiplier="1.5", **window)
    bonus = await MilestoneBonusRecord.create(
        program=program, target_net_sales="100.00", amount="5.00", **window
    )
    # An award row only (no ledger posting): the award list and its CSV reach the program.
    await BonusAward.create(
        bonus=bonus,
        promoter=promoter,
        program_id=program.id,
        currency=program.currency,
        amount="5.00",
        ledger_reference=f"bonus:{bonus.id}:{promoter.id}",
        awarded_at=now,
    )
    invitation = await Invitation.create(
        program=program,
        kind="code",
        code=unique("INV"),
        max_uses=1,
        created_by=ADMIN.id,
        created_at=now,
    )
    version = await RuleSetVersion.create(program=program, number=99, status="draft", based_on=1)
    endpoint = await WebhookEndpoint.create(
        program=program, url="https://crm.example/hooks", event_types=[], secret_encrypted="-"
    )
    message = await WebhookMessage.create(
        message_id=unique("msg"), program_id=program.id, event_type="x", payload={}, created_at=now
    )
    delivery = await WebhookDelivery.create(
        message=message,
        endpoint=endpoint,
        program_id=program.id,
        event_type="x",
        next_attempt_at=now,
        created_at=now,
    )
    template = await create_poster_template(
        program_id=program.id,
        name="spring",
        image=picture(),
        layout=LAYOUT,
        actor=ADMIN,
        settings=settings or Settings(environment="test"),
    )
    material = await Material.create(program=program, kind="copy", title="t", copy_text="x")
    announcement = await Announcement.create(program=program, title="t", body="b")
    ids = {
        "program_id": program.id,
        "endpoint_id": endpoint.id,
        "delivery_id": delivery.id,
        "version_id": version.id,
        "template_id": template.id,
        "material_id": material.id,
        "announcement_id": announcement.id,
        "tier_id": tier.id,
        "boost_id": boost.id,
        "bonus_id": bonus.id,
        "invitation_id": invitation.id,
        "promoter_id": promoter.id,
        "sub_account_id": promoter.id,
        "site_id": site.id,
        "commission_id": commission.id,
        "order_id": commission.order_id,  # type: ignore[attr-defined]
        "withdrawal_id": withdrawal["id"],
        "dispute_id": dispute.id,
        "anomaly_id": anomaly.id,
        "rule_id": rule.id,
        "cap_id": cap.id,
        "code_id": code.id,
        "batch_id": payout_batch.id,
        "adjustment_batch_id": upload.id,
    }
    return World(program=program, ids=ids)


async def limited_account(username: str, *programs: Program, roles: tuple[str, ...]) -> int:
    """A staff account with `roles`, limited to `programs` (none: every program)."""
    account = await create_staff_user(
        username=username,
        password=STAFF_PASSWORD,
        roles=list(roles),
        programs=[p.id for p in programs] or None,
        actor=ADMIN,
    )
    return account.id


async def login(api: Any, username: str) -> str:
    """An access token of the account `username` (password STAFF_PASSWORD)."""
    response = await api.post(
        "/admin/v1/auth/login", json={"username": username, "password": STAFF_PASSWORD}
    )
    assert response.status == 200, response.text
    return response.json["access_token"]
