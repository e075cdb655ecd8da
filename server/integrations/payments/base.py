"""The contract every payment provider keeps, so the withdrawal services never see a protocol.

An uncertain outcome is UNKNOWN and must be resolved with `query()` before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol


class TransferState(StrEnum):
    SUCCEEDED = "succeeded"  # the money reached the promoter
    FAILED = "failed"  # definitely not paid: safe to release the funds or try again
    PROCESSING = "processing"  # accepted by the provider, outcome later: query again
    UNKNOWN = "unknown"  # we do not know whether it was accepted: query before any retry
    # A query only: the provider has no record of the number (yet). WeChat Pay may record a
    # request late, so this is a failure only once a grace period after the send has passed.
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class TransferRequest:
    out_bill_no: str
    amount: Decimal
    currency: str
    openid: str
    description: str
    real_name: str | None = None


@dataclass(frozen=True)
class TransferResult:
    state: TransferState
    provider_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    # What the provider answered, with nothing secret in it (kept for the audit trail).
    details: dict[str, Any] = field(default_factory=dict)
    # What the promoter's mini-program needs to accept a transfer that waits for them
    # (WeChat Pay v3 WAIT_USER_CONFIRM: wx.requestMerchantTransfer's mchId, appId, package).
    user_confirmation: dict[str, str] | None = None


class PaymentProvider(Protocol):
    """One way of paying a promoter automatically."""

    name: str

    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Ask the provider to pay; never raises for provider-side trouble (returns UNKNOWN)."""
        ...

    async def query(self, *, out_bill_no: str) -> TransferResult:
        """The provider's current view of the transfer (NOT_FOUND if it has no record of it)."""
        ...
