"""Only UTC instants reach the database: a naive or non-UTC datetime fails loudly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.domain.instants import NotAnInstant, require_utc, stored_instant, utc
from server.models import Order

BEIJING = timezone(timedelta(hours=8))


def test_a_time_with_an_offset_becomes_the_same_instant_in_utc() -> None:
    assert utc(datetime(2026, 3, 1, 0, 30, tzinfo=BEIJING)) == datetime(
        2026, 2, 28, 16, 30, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        utc(datetime(2026, 3, 1))


@pytest.mark.parametrize("moment", [datetime(2026, 3, 1, 12), datetime(2026, 3, 1, tzinfo=BEIJING)])
def test_the_orm_refuses_a_naive_or_non_utc_datetime(moment: datetime) -> None:
    field = Order._meta.fields_map["placed_at"]
    with pytest.raises(NotAnInstant):
        field.to_db_value(moment, None)
    with pytest.raises(NotAnInstant):
        require_utc(moment)


def test_the_orm_takes_a_utc_instant() -> None:
    field = Order._meta.fields_map["placed_at"]
    moment = datetime(2026, 3, 1, 4, 43, tzinfo=UTC)
    assert field.to_db_value(moment, None) == moment


def test_raw_datetime_values_read_back_as_utc_instants() -> None:
    expected = datetime(2026, 3, 1, 4, 43, tzinfo=UTC)
    assert stored_instant("2026-03-01 04:43:00+00:00") == expected
    assert stored_instant("2026-03-01 12:43:00+08:00") == expected
    assert stored_instant(datetime(2026, 3, 1, 4, 43)) == expected
    assert stored_instant(None) is None


def test_every_model_datetime_column_refuses_what_is_not_a_utc_instant() -> None:
    from tortoise.fields import DatetimeField

    import server.models as models
    from server.models.fields import UtcDatetimeField

    plain = [
        f"{model.__name__}.{name}"
        for model in vars(models).values()
        if isinstance(model, type) and hasattr(model, "_meta")
        for name, field in model._meta.fields_map.items()
        if isinstance(field, DatetimeField) and not isinstance(field, UtcDatetimeField)
    ]
    assert plain == []
