"""Settings the law or the payment rail rule out are refused when a program is saved, each
with its own code: an entry fee (《禁止传销条例》第七条) and WeChat transfers outside CNY."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.errors import ValidationFailed
from server.domain.programs.document import apply_settings_patch, default_document
from server.domain.programs.lawful import lawful_settings

BASE: dict[str, Any] = {
    "name": "Shop",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
}


def _save(**changes: Any) -> Any:
    currency = changes.get("currency", "CNY")
    document = apply_settings_patch(default_document(currency), {**BASE, **changes})
    return lawful_settings(document, cap=2)


@pytest.mark.parametrize("fee", ["99.00", "0.01", "-1", "abc", 5])
def test_a_program_charging_an_entry_fee_is_refused(fee: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _save(requirements={"real_name": True, "deposit": fee})
    assert caught.value.code == "entry_fee_forbidden"
    assert set(caught.value.fields) == {"requirements.deposit"}


def test_a_zero_deposit_from_an_old_client_is_dropped_not_stored() -> None:
    settings = _save(requirements={"deposit": "0.00", "phone": True})
    assert settings.requirements.phone is True
    assert not hasattr(settings.requirements, "deposit")


@pytest.mark.parametrize("currency", ["JPY", "USD", "HKD"])
def test_wechat_withdrawals_are_refused_outside_cny(currency: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _save(currency=currency, withdrawal_rules={"methods": ["wechat", "bank"]})
    assert caught.value.code == "wechat_requires_cny"
    assert set(caught.value.fields) == {"withdrawal_rules.methods"}


def test_a_program_outside_cny_pays_offline_unless_told_otherwise() -> None:
    assert _save(currency="JPY").withdrawal_rules.methods == ("offline",)
    assert _save(currency="CNY").withdrawal_rules.methods == ("wechat",)
