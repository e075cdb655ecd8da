"""Fixtures of the webhook tests: settings that allow the loopback receiver, a receiver, and a
program with an endpoint subscribed to every event type."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from server.config import Settings
from server.domain.webhooks.events import EVENT_TYPES
from server.models import Program, Promoter, WebhookEndpoint
from server.services.promoters.status_changes import change_promoter_status
from server.services.webhooks.endpoints import create_endpoint
from tests.order_builders import ADMIN, promoter, shop
from tests.webhook_receiver import Receiver, running_receiver


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, webhooks_allow_private=True, webhook_timeout_seconds=1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@dataclass
class Hooked:
    program: Program
    endpoint: WebhookEndpoint
    secret: str


async def hooked_program(
    url: str, settings: Settings, event_types: tuple[str, ...] = EVENT_TYPES
) -> Hooked:
    program = await shop()
    issued = await create_endpoint(
        program_id=program.id,
        url=url,
        event_types=list(event_types),
        description="crm",
        actor=ADMIN,
        settings=settings,
    )
    return Hooked(program=program, endpoint=issued.endpoint, secret=issued.secret)


async def approve_someone(program: Program) -> Promoter:
    """A real life-cycle change that is an event: a pending applicant approved by staff."""
    applicant = await promoter(program, status="applied")
    return await change_promoter_status(
        promoter_id=applicant.id, action="approve", reason=None, actor=ADMIN
    )
