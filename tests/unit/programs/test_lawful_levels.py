"""At most MAX_COMMISSION_LEVELS promoters earn on one order line (docs/lawful-levels.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.config import ConfigError, Settings
from server.domain.errors import ValidationFailed
from server.domain.programs.document import apply_settings_patch, default_document
from server.domain.programs.levels import (
    LEVEL_CAP_ERROR,
    capped_levels,
    deepest_paid_level,
    settings_within_cap,
)
from tests.conftest import HANG_GUARD_SECONDS

ROOT = Path(__file__).resolve().parents[3]
ENV = {"JWT_SECRET": "x" * 48}
SHOP: dict[str, Any] = {
    "name": "Shop",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
}


def _document(**changes: Any) -> dict[str, Any]:
    return apply_settings_patch(apply_settings_patch(default_document(), SHOP), changes)


@pytest.mark.parametrize(
    ("self_purchase", "rebate", "cap", "deepest"),
    [
        (True, True, 2, 1),  # the buyer takes the first place, their upline the second
        (True, True, 3, 2),
        (True, True, 1, 0),
        (True, False, 2, 2),  # no rebate: the buyer earns nothing and takes no place
        (False, True, 2, 2),  # a bound customer: the promoter and their upline
        (False, False, 1, 1),
    ],
)
def test_the_cap_counts_places_from_the_first_earner_the_self_rebate_included(
    self_purchase: bool, rebate: bool, cap: int, deepest: int
) -> None:
    found = deepest_paid_level(
        max_levels=3, self_purchase=self_purchase, self_rebate_enabled=rebate, cap=cap
    )
    assert found == deepest


def test_the_program_level_count_still_limits_below_the_cap() -> None:
    assert (
        deepest_paid_level(max_levels=1, self_purchase=False, self_rebate_enabled=False, cap=3) == 1
    )


def test_saving_more_levels_than_the_cap_is_a_coded_422() -> None:
    with pytest.raises(ValidationFailed) as caught:
        settings_within_cap(_document(max_levels=3, level_rates=["10", "5", "2"]), cap=2)
    assert (caught.value.status_code, caught.value.code) == (422, LEVEL_CAP_ERROR)
    assert set(caught.value.fields) == {"max_levels"}


def test_the_cap_code_wins_and_every_other_bad_field_is_listed_too() -> None:
    with pytest.raises(ValidationFailed) as caught:
        settings_within_cap(_document(max_levels=11, currency="XYZ"), cap=2)
    assert caught.value.code == LEVEL_CAP_ERROR
    assert set(caught.value.fields) == {"max_levels", "currency"}
    assert "MAX_COMMISSION_LEVELS" in caught.value.fields["max_levels"]


def test_the_cap_applies_to_the_level_count_and_the_engine_gives_the_rebate_its_place() -> None:
    # Two levels plus the rebate is lawful at cap 2: a self purchase pays the rebate and
    # level 1 only, a bound customer's order levels 1 and 2.
    settings = settings_within_cap(_document(self_rebate_enabled=True, self_rebate_rate="3"), cap=2)
    assert settings.max_levels == 2
    three = settings_within_cap(_document(max_levels=3, level_rates=["10", "5", "2"]), cap=3)
    assert three.max_levels == 3


def test_a_program_above_the_cap_keeps_its_nearest_levels() -> None:
    capped = capped_levels(4, ["10", "5", "2", "1"], 2)
    assert capped is not None
    assert (capped.max_levels, capped.level_rates) == (2, ["10", "5"])
    assert capped_levels(2, ["10", "5"], 2) is None


def test_the_deployment_cap_defaults_to_two() -> None:
    assert Settings.from_env(ENV).max_commission_levels == 2
    assert Settings.from_env({**ENV, "MAX_COMMISSION_LEVELS": "3"}).max_commission_levels == 3


@pytest.mark.parametrize("value", ["0", "4", "10", "two"])
def test_a_cap_outside_one_to_three_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="MAX_COMMISSION_LEVELS"):
        Settings.from_env({**ENV, "MAX_COMMISSION_LEVELS": value})


def test_the_server_refuses_to_start_above_three_levels_with_a_clear_message() -> None:
    env = {**os.environ, "MAX_COMMISSION_LEVELS": "4", "DATABASE_URL": "sqlite://:memory:"}
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )
    assert result.returncode == 2
    assert "refusing to start: MAX_COMMISSION_LEVELS must be between 1 and 3" in result.stderr
