"""Identity signals of a person (buyer or promoter) and which of them two people share."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Strongest first: the same account or payout account is certainly one person; a shared
# device can be a shared family phone, so it weighs least.
SIGNAL_SCORES: dict[str, int] = {
    "user": 100,
    "payout_account": 100,
    "unionid": 95,
    "phone": 85,
    "device": 70,
}


def hash_identifier(value: str | None, *, salt: str) -> str | None:
    """Salted SHA-256 (hex) of an identifying value; None stays None."""
    # Visits and orders hash with the same salt, so a device id an order reports matches the
    # visitor hash of that device's visits.
    if not value:
        return None
    return hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()


def device_key(device_id: str) -> str:
    """What a device is hashed as, spelled alike on visits and on orders."""
    return f"v:{device_id}"


@dataclass(frozen=True, kw_only=True)
class Identity:
    """What identifies a person: users, unionids, phones, hashed devices and payout accounts
    ("wechat:<openid>" or "bank:<account number>").
    """

    user_id: int | None = None
    unionid: str | None = None
    phone: str | None = None
    payout_accounts: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()


def shared_signals(a: Identity, b: Identity) -> tuple[str, ...]:
    """The signals two identities share, strongest first (empty values never match)."""
    shared = []
    if a.user_id is not None and a.user_id == b.user_id:
        shared.append("user")
    if a.payout_accounts & b.payout_accounts:
        shared.append("payout_account")
    if a.unionid and a.unionid == b.unionid:
        shared.append("unionid")
    if a.phone and a.phone.strip() and a.phone.strip() == (b.phone or "").strip():
        shared.append("phone")
    if a.devices & b.devices:
        shared.append("device")
    return tuple(shared)


def signals_score(signals: tuple[str, ...]) -> int:
    """The score of the strongest shared signal (0 when none)."""
    return max((SIGNAL_SCORES[s] for s in signals), default=0)


def wechat_account(openid: str | None) -> frozenset[str]:
    """The payout account a WeChat transfer to `openid` pays (empty when there is none)."""
    return frozenset({f"wechat:{openid}"}) if openid else frozenset()


def bank_account(account_number: str | None) -> frozenset[str]:
    """A bank payout account, compared without spaces (empty when there is none)."""
    number = "".join((account_number or "").split())
    return frozenset({f"bank:{number}"}) if number else frozenset()
