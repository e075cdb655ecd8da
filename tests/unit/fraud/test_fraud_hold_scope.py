"""The program setting fraud_hold_scope: what an open anomaly naming a promoter holds."""

from __future__ import annotations

import pytest

from server.domain.errors import ValidationFailed
from server.domain.programs.document import (
    apply_settings_patch,
    default_document,
    settings_from_document,
    settings_to_document,
)

BASE = {"name": "Shop", "currency": "CNY", "max_levels": 1, "level_rates": ["10"]}


def _document(**changes: object) -> dict[str, object]:
    return apply_settings_patch(apply_settings_patch(default_document(), BASE), changes)


def test_a_program_holds_the_whole_promoter_unless_told_otherwise() -> None:
    assert default_document()["fraud_hold_scope"] == "promoter"
    assert settings_from_document(_document()).fraud_hold_scope == "promoter"


def test_a_program_may_hold_only_the_anomalys_commissions() -> None:
    settings = settings_from_document(_document(fraud_hold_scope="anomaly_commissions"))
    assert settings_to_document(settings)["fraud_hold_scope"] == "anomaly_commissions"


@pytest.mark.parametrize("value", ["nobody", "", None, 1])
def test_any_other_hold_scope_is_refused_by_name(value: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        settings_from_document(_document(fraud_hold_scope=value))
    assert refused.value.code == "invalid_program_settings"
    assert set(refused.value.fields) == {"fraud_hold_scope"}
