"""Settings the law or the payment rail rule out, refused when a program is saved: an entry
fee (《禁止传销条例》第七条) and WeChat transfers outside CNY (docs/program-settings.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.domain.errors import ValidationFailed
from server.domain.money import read_decimal
from server.domain.programs.levels import settings_within_cap
from server.domain.programs.settings import WECHAT_CURRENCY, ProgramSettings, WithdrawalMethod

ENTRY_FEE_ERROR = "entry_fee_forbidden"
WECHAT_CURRENCY_ERROR = "wechat_requires_cny"
# What older documents called the fee an applicant paid to join.
ENTRY_FEE_KEYS = ("deposit", "entry_fee")


def without_entry_fee(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with a zero entry fee dropped; any other entry fee is a coded 422."""
    requirements = document.get("requirements")
    if not isinstance(requirements, Mapping):
        return dict(document)
    fees = {key: requirements[key] for key in ENTRY_FEE_KEYS if key in requirements}
    charged = {
        f"requirements.{key}": "an entry fee or deposit is forbidden: 0 or absent"
        for key, value in fees.items()
        if value is not None and read_decimal(value) != 0
    }
    if charged:
        raise ValidationFailed(
            "a program may not charge applicants an entry fee or deposit (《禁止传销条例》第七条)",
            code=ENTRY_FEE_ERROR,
            fields=charged,
        )
    kept = {key: value for key, value in requirements.items() if key not in ENTRY_FEE_KEYS}
    return {**document, "requirements": kept}


def wechat_currency_problem(currency: str, methods: tuple[str, ...] | list[str]) -> str | None:
    """Why `methods` cannot pay in `currency`, or None when they can."""
    if WithdrawalMethod.WECHAT.value in methods and currency != WECHAT_CURRENCY:
        return f"wechat transfers are made in {WECHAT_CURRENCY} only; use bank or offline"
    return None


def lawful_settings(document: Mapping[str, Any], *, cap: int) -> ProgramSettings:
    """Settings from a document about to be saved: no entry fee, levels within `cap`, and
    WeChat transfers only in CNY; each refused with its own code."""
    settings = settings_within_cap(without_entry_fee(document), cap=cap)
    problem = wechat_currency_problem(settings.currency, settings.withdrawal_rules.methods)
    if problem:
        raise ValidationFailed(
            problem,
            code=WECHAT_CURRENCY_ERROR,
            fields={"withdrawal_rules.methods": problem},
        )
    return settings
