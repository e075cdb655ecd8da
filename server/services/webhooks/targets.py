"""The SSRF guard's I/O half: resolve an endpoint's host and check every address it gives."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from server.config import Settings
from server.domain.webhooks.addresses import check_addresses, check_url
from server.integrations.webhook_sender import resolve


@dataclass(frozen=True)
class Target:
    """Where one attempt may connect: the URL's port and its checked addresses."""

    url: str
    port: int
    addresses: list[str]


async def checked_target(url: str, *, settings: Settings) -> Target:
    """The URL's addresses after DNS, each one allowed, or a coded 422 naming the refusal."""
    allow = settings.webhooks_allow_private
    _, host, port = check_url(url, allow_private=allow)
    try:
        # A slow resolver must not hold a staff request or a delivery run for long either.
        addresses = await asyncio.wait_for(resolve(host, port), settings.webhook_timeout_seconds)
    except TimeoutError:
        addresses = []
    return Target(
        url=url, port=port, addresses=check_addresses(host, addresses, allow_private=allow)
    )
