"""Webhook endpoints: the SSRF guard refuses private, loopback and link-local addresses at
save (after DNS, every address) unless the setting allows them; secrets are shown once."""

from __future__ import annotations

import pytest

from server.config import Settings
from server.domain.errors import ValidationFailed
from server.models import AuditLog, WebhookEndpoint
from server.services.webhooks.endpoints import (
    create_endpoint,
    delete_endpoint,
    list_endpoints,
    serialize_endpoint,
    set_endpoint_status,
    update_endpoint,
)
from tests.order_builders import ADMIN, shop

REFUSED = [
    ("https://127.0.0.1/hooks", "loopback"),
    ("https://10.1.2.3/hooks", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://[::1]/hooks", "loopback"),
    ("https://localhost/hooks", "loopback"),  # a hostname resolving to loopback
    ("https://[::ffff:192.168.1.1]/hooks", "private"),
    ("https://224.0.0.1/hooks", "multicast"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_an_endpoint_on_a_private_address_is_refused(
    db: str, settings: Settings, url: str, reason: str
) -> None:
    program = await shop()
    with pytest.raises(ValidationFailed) as refused:
        await create_endpoint(
            program_id=program.id,
            url=url,
            event_types=["commission.created"],
            description=None,
            actor=ADMIN,
            settings=settings,
        )
    assert refused.value.code == "webhook_url_refused"
    assert reason in refused.value.fields["url"]
    assert await WebhookEndpoint.all().count() == 0


async def test_plain_http_is_refused_unless_private_addresses_are_allowed(
    db: str, settings: Settings, hook_settings: Settings
) -> None:
    program = await shop()
    with pytest.raises(ValidationFailed) as refused:
        await create_endpoint(
            program_id=program.id,
            url="http://203.0.113.9/hooks",
            event_types=["commission.created"],
            description=None,
            actor=ADMIN,
            settings=settings,
        )
    assert refused.value.fields["url"] == "https only"

    allowed = await create_endpoint(
        program_id=program.id,
        url="http://127.0.0.1:9/hooks",
        event_types=["commission.created", "promoter.applied"],
        description="local receiver",
        actor=ADMIN,
        settings=hook_settings,
    )
    assert allowed.secret.startswith("whsec_")
    assert allowed.endpoint.event_types == ["promoter.applied", "commission.created"]


async def test_a_changed_url_passes_the_guard_again(
    db: str, settings: Settings, hook_settings: Settings
) -> None:
    program = await shop()
    issued = await create_endpoint(
        program_id=program.id,
        url="http://127.0.0.1:9/hooks",
        event_types=["dispute.opened"],
        description=None,
        actor=ADMIN,
        settings=hook_settings,
    )
    with pytest.raises(ValidationFailed):
        await update_endpoint(
            program_id=program.id,
            endpoint_id=issued.endpoint.id,
            url="https://192.168.0.10/hooks",
            event_types=None,
            description=None,
            actor=ADMIN,
            settings=settings,
        )


async def test_unknown_event_types_are_refused(db: str, hook_settings: Settings) -> None:
    program = await shop()
    with pytest.raises(ValidationFailed) as refused:
        await create_endpoint(
            program_id=program.id,
            url="http://127.0.0.1:9/hooks",
            event_types=["order.paid"],
            description=None,
            actor=ADMIN,
            settings=hook_settings,
        )
    assert refused.value.code == "invalid_event_types"


async def test_secrets_never_appear_in_lists_and_every_change_is_audited(
    db: str, hook_settings: Settings
) -> None:
    program = await shop()
    issued = await create_endpoint(
        program_id=program.id,
        url="http://127.0.0.1:9/hooks",
        event_types=["dispute.opened"],
        description=None,
        actor=ADMIN,
        settings=hook_settings,
    )
    endpoint_id = issued.endpoint.id
    await set_endpoint_status(
        program_id=program.id, endpoint_id=endpoint_id, enabled=False, reason="maint", actor=ADMIN
    )
    await set_endpoint_status(
        program_id=program.id, endpoint_id=endpoint_id, enabled=True, reason=None, actor=ADMIN
    )
    listed = [serialize_endpoint(e) for e in await list_endpoints(program_id=program.id)]
    assert "secret" not in listed[0] and issued.secret not in repr(listed)
    assert issued.endpoint.secret_encrypted != issued.secret

    await delete_endpoint(program_id=program.id, endpoint_id=endpoint_id, actor=ADMIN)

    assert await list_endpoints(program_id=program.id) == []
    actions = await AuditLog.filter(target_kind="webhook_endpoint").order_by("id")
    assert [a.action for a in actions] == [
        "webhook_endpoint.create",
        "webhook_endpoint.disable",
        "webhook_endpoint.enable",
        "webhook_endpoint.delete",
    ]
