"""A program that requires the tax profile refuses a withdrawal without a legal name and tax
id, naming each missing field; a program that does not never asks."""

from __future__ import annotations

import pytest

from server.domain.errors import ValidationFailed
from server.domain.payouts.tax_profile import check_tax_profile, missing_tax_profile
from server.domain.programs.settings import WithdrawalRules

REQUIRED = WithdrawalRules(require_tax_profile=True)


def test_a_program_that_does_not_require_it_never_asks() -> None:
    assert missing_tax_profile(WithdrawalRules(), legal_name=None, tax_id=None) == []
    check_tax_profile(WithdrawalRules(), legal_name=None, tax_id=None)


def test_each_missing_field_is_named_and_blank_names_count_as_missing() -> None:
    assert missing_tax_profile(REQUIRED, legal_name="  ", tax_id=None) == ["legal_name", "tax_id"]
    assert missing_tax_profile(REQUIRED, legal_name="王小明", tax_id="") == ["tax_id"]
    assert missing_tax_profile(REQUIRED, legal_name="王小明", tax_id="110…") == []

    with pytest.raises(ValidationFailed) as refused:
        check_tax_profile(REQUIRED, legal_name="王小明", tax_id=None)
    assert refused.value.code == "tax_profile_required"
    assert refused.value.fields == {"tax_id": "required before a withdrawal"}
