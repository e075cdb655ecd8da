"""Fraud thresholds: documented defaults, bounds, and their place in program settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.domain.errors import IllegalTransition, ValidationFailed
from server.domain.fraud.anomaly_status import anomaly_transition
from server.domain.fraud.thresholds import (
    THRESHOLD_KEYS,
    FraudThresholds,
    stored_thresholds,
    validate_thresholds,
)
from server.domain.programs.document import (
    apply_settings_patch,
    default_document,
    settings_from_document,
    settings_to_document,
)

FRAUD_DESIGN = Path(__file__).parents[3] / "docs" / "design" / "fraud.md"
REQUIRED = {"name": "Shop", "currency": "CNY", "max_levels": 2, "level_rates": ["10", "5"]}


def test_every_threshold_is_documented_with_its_default() -> None:
    doc = FRAUD_DESIGN.read_text(encoding="utf-8")
    defaults = FraudThresholds()
    for key in THRESHOLD_KEYS:
        assert f"| {key} | {getattr(defaults, key)} |" in doc


def test_the_defaults_are_valid() -> None:
    validate_thresholds(FraudThresholds())


def test_a_threshold_out_of_bounds_is_refused_by_name() -> None:
    with pytest.raises(ValidationFailed) as refused:
        validate_thresholds(FraudThresholds(refund_rate_percent=0, visits_per_ip=-1))
    assert set(refused.value.fields) == {"refund_rate_percent", "visits_per_ip"}


def test_a_program_document_carries_its_thresholds_and_a_patch_changes_one_alone() -> None:
    base = settings_to_document(
        settings_from_document(apply_settings_patch(default_document(), REQUIRED))
    )
    assert base["fraud_thresholds"]["visits_per_ip"] == 200
    patched = apply_settings_patch(base, {"fraud_thresholds": {"visits_per_ip": 500}})
    settings = settings_from_document(patched)
    assert settings.fraud_thresholds.visits_per_ip == 500
    assert settings.fraud_thresholds.refund_rate_percent == 40


def test_a_program_document_with_a_bad_threshold_is_refused() -> None:
    document = apply_settings_patch(default_document(), REQUIRED)
    document = apply_settings_patch(document, {"fraud_thresholds": {"bot_share_percent": 101}})
    with pytest.raises(ValidationFailed) as refused:
        settings_from_document(document)
    assert "fraud_thresholds.bot_share_percent" in refused.value.fields


def test_an_unknown_threshold_is_refused() -> None:
    document = apply_settings_patch(default_document(), REQUIRED)
    document = apply_settings_patch(document, {"fraud_thresholds": {"sixth_sense": 1}})
    with pytest.raises(ValidationFailed) as refused:
        settings_from_document(document)
    assert "fraud_thresholds.sixth_sense" in refused.value.fields


def test_stored_thresholds_fall_back_to_defaults_for_unusable_values() -> None:
    read = stored_thresholds({"visits_per_ip": 10, "min_bot_visits": "x", "history_days": 0})
    assert read.visits_per_ip == 10
    assert read.min_bot_visits == FraudThresholds().min_bot_visits
    assert read.history_days == FraudThresholds().history_days
    assert stored_thresholds(None) == FraudThresholds()


def test_an_anomaly_is_decided_once() -> None:
    assert anomaly_transition("open", "confirm").value == "confirmed"
    assert anomaly_transition("open", "dismiss").value == "dismissed"
    with pytest.raises(IllegalTransition) as refused:
        anomaly_transition("dismissed", "confirm")
    assert refused.value.code == "anomaly_illegal_transition"
