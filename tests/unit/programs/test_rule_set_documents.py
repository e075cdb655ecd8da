"""Rule-set documents: decimals kept as canonical text, and the difference between two
versions names each added row and each changed field with its before and after."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from server.domain.programs.rule_sets import diff_documents, json_value, next_new_key


def test_a_stored_value_is_kept_as_canonical_text() -> None:
    assert json_value(Decimal("20.0000")) == "20"
    assert json_value(Decimal("0.5000")) == "0.5"
    assert json_value(datetime(2026, 3, 1, tzinfo=UTC)) == "2026-03-01T00:00:00+00:00"
    assert json_value({"1": Decimal("12.00")}) == {"1": "12"}


def test_the_difference_names_added_rows_and_changed_fields() -> None:
    before = {"commission_rule": [{"id": 4, "value": "8", "enabled": True}]}
    after = {
        "commission_rule": [
            {"id": 4, "value": "15", "enabled": True},
            {"id": None, "key": -1, "value": "3", "enabled": True},
        ]
    }

    assert diff_documents(before, after) == {
        "commission_rule": [
            {"key": 4, "change": "changed", "fields": {"value": {"before": "8", "after": "15"}}},
            {"key": -1, "change": "added", "after": {"value": "3", "enabled": True}},
        ]
    }
    assert diff_documents(after, after) == {}


def test_a_new_row_takes_a_key_below_every_other() -> None:
    assert next_new_key([]) == -1
    assert next_new_key([{"id": 7}, {"id": None, "key": -1}]) == -2
