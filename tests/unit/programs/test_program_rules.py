from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.domain.errors import IllegalTransition, ValidationFailed
from server.domain.programs.document import (
    amount_text,
    apply_settings_patch,
    changed_settings,
    default_document,
    settings_from_document,
    settings_to_document,
)
from server.domain.programs.settings import (
    PROGRAM_LIFECYCLE,
    ProgramSettings,
    ProgramStatus,
)
from server.domain.programs.settings_checks import validate_program_settings
from server.domain.programs.sites import normalize_hostname

BASE: dict[str, Any] = {
    "name": "Spring shop",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
}


def _document(**changes: Any) -> dict[str, Any]:
    return apply_settings_patch(apply_settings_patch(default_document(), BASE), changes)


def _errors(**changes: Any) -> dict[str, Any]:
    with pytest.raises(ValidationFailed) as caught:
        settings_from_document(_document(**changes))
    assert caught.value.code == "invalid_program_settings"
    return caught.value.fields


def _settings(**changes: Any) -> ProgramSettings:
    return settings_from_document(_document(**changes))


def test_a_program_with_only_the_required_settings_takes_safe_defaults() -> None:
    settings = _settings()
    assert settings.recruitment_mode == "review"
    assert settings.self_rebate_enabled is False
    assert settings.bind_mode == "first_touch"
    assert settings.payout_schedule.mode == "manual"
    assert settings.auto_approve_rules.enabled is False
    assert settings.withdrawal_rules.daily_cap is None
    assert settings.auto_complete_days is None  # orders complete by the store's event only
    assert settings.level_rates == (Decimal(10), Decimal(5))


def test_every_bad_field_is_reported_at_once_not_just_the_first() -> None:
    fields = _errors(
        name=" ",
        currency="XXX",
        kind="franchise",
        freeze_days=-1,
        withdrawal_rules={"methods": []},
        payout_schedule={"mode": "monthly", "day": 31},
    )
    assert set(fields) == {
        "name",
        "currency",
        "kind",
        "freeze_days",
        "withdrawal_rules.methods",
        "payout_schedule.day",
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"description": "x" * 4001}, "description"),
        ({"kind": "partner"}, "kind"),
        ({"currency": "cny"}, "currency"),
        ({"currency": "BTC"}, "currency"),
        ({"recruitment_mode": "anyone"}, "recruitment_mode"),
        ({"bind_mode": "random"}, "bind_mode"),
        ({"requirements": {"agreement_version": "  "}}, "requirements.agreement_version"),
        ({"requirements": {"agreement_version": "v" * 33}}, "requirements.agreement_version"),
        ({"max_levels": 0, "level_rates": []}, "max_levels"),
        ({"max_levels": 11, "level_rates": ["1"] * 11}, "max_levels"),
        ({"max_levels": 3}, "level_rates"),
        ({"level_rates": ["101", "0"]}, "level_rates.0"),
        ({"level_rates": ["10", "-1"]}, "level_rates.1"),
        ({"level_rates": ["10.00001", "5"]}, "level_rates.0"),
        ({"level_rates": ["60", "41"]}, "level_rates"),
        ({"self_rebate_rate": "100.5"}, "self_rebate_rate"),
        ({"attribution_window_days": -1}, "attribution_window_days"),
        ({"attribution_window_days": 3651}, "attribution_window_days"),
        ({"commission_window_days": 3651}, "commission_window_days"),
        ({"freeze_days": 366}, "freeze_days"),
        ({"auto_complete_days": 0}, "auto_complete_days"),
        ({"auto_complete_days": 366}, "auto_complete_days"),
        ({"auto_complete_days": "14"}, "auto_complete_days"),
        ({"auto_complete_days": True}, "auto_complete_days"),
        ({"withdrawal_rules": {"minimum": "-0.01"}}, "withdrawal_rules.minimum"),
        ({"withdrawal_rules": {"fee_percent": "100"}}, "withdrawal_rules.fee_percent"),
        ({"withdrawal_rules": {"fee_percent": "-1"}}, "withdrawal_rules.fee_percent"),
        ({"withdrawal_rules": {"fee_fixed": "0.001"}}, "withdrawal_rules.fee_fixed"),
        ({"withdrawal_rules": {"minimum": "2", "fee_fixed": "2"}}, "withdrawal_rules.minimum"),
        ({"withdrawal_rules": {"daily_cap": "0"}}, "withdrawal_rules.daily_cap"),
        ({"withdrawal_rules": {"minimum": "50", "daily_cap": "20"}}, "withdrawal_rules.daily_cap"),
        ({"withdrawal_rules": {"methods": []}}, "withdrawal_rules.methods"),
        ({"withdrawal_rules": {"methods": ["alipay"]}}, "withdrawal_rules.methods"),
        ({"withdrawal_rules": {"methods": ["bank", "bank"]}}, "withdrawal_rules.methods"),
        ({"payout_schedule": {"mode": "weekly"}}, "payout_schedule.mode"),
        ({"payout_schedule": {"mode": "monthly"}}, "payout_schedule.day"),
        ({"payout_schedule": {"mode": "monthly", "day": 0}}, "payout_schedule.day"),
        ({"payout_schedule": {"mode": "monthly", "day": 29}}, "payout_schedule.day"),
        ({"payout_schedule": {"mode": "manual", "day": 5}}, "payout_schedule.day"),
        ({"payout_schedule": {"mode": "threshold"}}, "payout_schedule.threshold"),
        ({"payout_schedule": {"mode": "threshold", "threshold": "0"}}, "payout_schedule.threshold"),
        (
            {"payout_schedule": {"mode": "monthly", "day": 5, "threshold": "10"}},
            "payout_schedule.threshold",
        ),
        ({"auto_approve_rules": {"max_line_amount": "0"}}, "auto_approve_rules.max_line_amount"),
        (
            {"auto_approve_rules": {"require_no_open_anomaly": False}},
            "auto_approve_rules.require_no_open_anomaly",
        ),
    ],
)
def test_each_broken_rule_is_refused_naming_its_field(changes: dict[str, Any], field: str) -> None:
    assert field in _errors(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"max_levels": 1, "level_rates": ["100"]},
        {"max_levels": 10, "level_rates": ["10"] * 10},
        {"level_rates": ["33.3333", "0"]},
        {"attribution_window_days": 0, "commission_window_days": 0, "freeze_days": 0},
        {"attribution_window_days": 3650, "freeze_days": 365},
        {"auto_complete_days": 1},
        {"auto_complete_days": 365},
        {"auto_complete_days": None},
        {"withdrawal_rules": {"fee_percent": "99.99", "minimum": "0", "fee_fixed": "0"}},
        {"withdrawal_rules": {"minimum": "10", "daily_cap": "10", "methods": ["bank"]}},
        {"payout_schedule": {"mode": "monthly", "day": 28}},
        {"payout_schedule": {"mode": "threshold", "threshold": "0.01"}},
        {"auto_approve_rules": {"enabled": True, "max_line_amount": "500"}},
        {"requirements": {"real_name": True, "phone": True, "agreement_version": "2024-01"}},
    ],
)
def test_settings_at_the_edges_of_each_bound_are_accepted(changes: dict[str, Any]) -> None:
    _settings(**changes)


def test_a_setting_that_is_not_a_program_setting_is_refused() -> None:
    fields = _errors(colour="red", withdrawal_rules={"speed": "fast"})
    assert fields["colour"] == "unknown setting"
    assert fields["withdrawal_rules.speed"] == "unknown setting"


def test_money_and_rates_given_as_floats_are_refused() -> None:
    fields = _errors(level_rates=[10.0, "5"], withdrawal_rules={"minimum": 1.5})
    assert "level_rates.0" in fields
    assert "withdrawal_rules.minimum" in fields


def test_wrong_json_types_are_reported_with_the_rule_errors_of_other_fields() -> None:
    fields = _errors(max_levels="2", self_rebate_enabled="yes", level_rates=["abc", "5"], kind="?")
    assert fields["max_levels"] == "must be an integer"
    assert fields["self_rebate_enabled"] == "must be true or false"
    assert fields["level_rates.0"] == "not a number"
    assert "kind" in fields


def test_a_yen_program_refuses_amounts_with_decimals() -> None:
    fields = _errors(currency="JPY", withdrawal_rules={"minimum": "100.5"})
    assert "withdrawal_rules.minimum" in fields
    assert "withdrawal_rules.minimum" not in _errors(
        currency="JPY", withdrawal_rules={"minimum": "100"}, kind="?"
    )


def test_the_self_rebate_and_every_level_together_never_exceed_the_order_line() -> None:
    fields = _errors(self_rebate_enabled=True, self_rebate_rate="86", level_rates=["10", "5"])
    assert "self_rebate_rate" in fields
    accepted = _settings(self_rebate_enabled=True, self_rebate_rate="85", level_rates=["10", "5"])
    assert accepted.self_rebate_rate == Decimal(85)


def test_a_disabled_self_rebate_does_not_count_against_the_level_rates() -> None:
    settings = _settings(self_rebate_enabled=False, self_rebate_rate="90", level_rates=["10", "5"])
    assert settings.self_rebate_rate == Decimal(90)


def _with_rates(rates: list[Decimal]) -> ProgramSettings:
    return replace(_settings(), max_levels=len(rates), level_rates=tuple(rates))


RATE = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@given(st.lists(RATE, min_size=1, max_size=10).filter(lambda rates: sum(rates) <= 100))
def test_any_level_rates_within_bounds_adding_up_to_at_most_100_are_accepted(
    rates: list[Decimal],
) -> None:
    validate_program_settings(_with_rates(rates))


@given(st.lists(RATE, min_size=1, max_size=10).filter(lambda rates: sum(rates) > 100))
def test_any_level_rates_adding_up_to_more_than_100_are_refused(rates: list[Decimal]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_program_settings(_with_rates(rates))
    assert "level_rates" in caught.value.fields


def test_the_document_is_canonical_and_reads_back_to_the_same_settings() -> None:
    settings = _settings(
        level_rates=["10.50", "5"],
        withdrawal_rules={"minimum": "5", "daily_cap": "1000.5"},
        payout_schedule={"mode": "threshold", "threshold": "100"},
    )
    document = settings_to_document(settings)
    assert document["level_rates"] == ["10.5", "5"]
    assert document["withdrawal_rules"]["minimum"] == "5.00"
    assert document["withdrawal_rules"]["daily_cap"] == "1000.50"
    assert document["payout_schedule"] == {"mode": "threshold", "threshold": "100.00"}
    assert settings_from_document(document) == settings


def test_amounts_carry_exactly_the_currency_minor_unit_digits() -> None:
    assert amount_text(Decimal("1"), "CNY") == "1.00"
    assert amount_text(Decimal("1500"), "JPY") == "1500"


def test_a_patch_merges_withdrawal_rules_but_replaces_the_payout_schedule() -> None:
    current = _document(
        withdrawal_rules={"minimum": "5", "methods": ["bank"]},
        payout_schedule={"mode": "monthly", "day": 5},
    )
    patched = apply_settings_patch(
        current,
        {"withdrawal_rules": {"minimum": "8"}, "payout_schedule": {"mode": "manual"}},
    )
    assert patched["withdrawal_rules"]["methods"] == ["bank"]
    assert patched["withdrawal_rules"]["minimum"] == "8"
    assert patched["payout_schedule"] == {"mode": "manual"}
    settings_from_document(patched)


def test_changed_settings_lists_before_and_after_of_the_changed_keys_only() -> None:
    before = settings_to_document(_settings())
    after = settings_to_document(_settings(freeze_days=14, name="Spring shop"))
    assert changed_settings(before, after) == {"freeze_days": {"before": 7, "after": 14}}


def test_a_program_can_be_archived_once() -> None:
    assert PROGRAM_LIFECYCLE.target(ProgramStatus.ACTIVE, "archive") is ProgramStatus.ARCHIVED
    with pytest.raises(IllegalTransition):
        PROGRAM_LIFECYCLE.target(ProgramStatus.ARCHIVED, "archive")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Shop.Example.COM", "shop.example.com"),
        (" shop.example.com. ", "shop.example.com"),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("a-b.example.co.uk", "a-b.example.co.uk"),
    ],
)
def test_site_domains_are_stored_as_lower_case_ascii_hostnames(raw: str, stored: str) -> None:
    assert normalize_hostname(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "localhost",
        "shop_1.example.com",
        "-shop.example.com",
        "shop-.example.com",
        "10.0.0.1",
        "https://shop.example.com",
        "shop..example.com",
        "a" * 64 + ".com",
        "",
    ],
)
def test_a_site_domain_that_is_not_a_hostname_is_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize_hostname(raw)
    assert caught.value.code == "invalid_domain"
