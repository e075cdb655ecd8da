"""The datetime column every model uses: it stores instants in UTC and refuses the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.fields import DatetimeField

from server.domain.instants import require_utc


class UtcDatetimeField(DatetimeField):
    """A DatetimeField that refuses a naive or non-UTC datetime, in a write or a filter.

    MariaDB's DATETIME keeps a value's wall time and drops its offset, and SQLite stores it as
    text compared as text, so only UTC values mean the same instant on both; callers convert
    where a time enters the service (server/domain/instants.py)."""

    def to_db_value(self, value: Any, instance: Any) -> Any:
        if isinstance(value, datetime):
            require_utc(value, what=f"{self.model_field_name or 'datetime'}")
        return super().to_db_value(value, instance)
