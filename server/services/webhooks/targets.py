"""The SSRF guard's I/O half: resolve an endpoint's host and check every address it gives."""

from __future__ import annotations

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
    addresses = await resolve(host, port)
    return Target(
        url=url, port=port, addresses=check_addresses(host, addresses, allow_private=allow)
    )
