"""The one place the withdrawal services get their payment provider from (one per settings
object, reused); tests swap in a scripted provider with `use_provider`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from server.config import Settings
from server.domain.errors import Conflict
from server.integrations.payments.base import PaymentProvider
from server.integrations.payments.factory import build_payment_provider

_override: PaymentProvider | None = None
_built: dict[int, tuple[Settings, PaymentProvider | None]] = {}


def current_provider(settings: Settings) -> PaymentProvider:
    """The provider transfers go through; 409 payment_provider_unavailable if none is set up."""
    if _override is not None:
        return _override
    cached = _built.get(id(settings))
    if cached is None or cached[0] is not settings:
        cached = (settings, build_payment_provider(settings))
        _built[id(settings)] = cached
    provider = cached[1]
    if provider is None:
        raise Conflict(
            "no payment provider is configured: pay offline and mark the withdrawal paid",
            code="payment_provider_unavailable",
        )
    return provider


@contextmanager
def use_provider(provider: PaymentProvider) -> Iterator[PaymentProvider]:
    """Route every transfer and query through `provider` while the block runs (tests)."""
    global _override
    saved, _override = _override, provider
    try:
        yield provider
    finally:
        _override = saved
