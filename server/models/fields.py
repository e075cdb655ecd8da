"""Column types of our own: UTC instants, and search keys compared character by character."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.fields import CharField, DatetimeField

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


class SearchKeyField(CharField):
    """A VARCHAR compared by code point on MariaDB too (utf8mb4_bin), as SQLite compares text:
    a search key's prefix range then means the same on both (server/domain/promoters/search.py).
    """

    class _db_mysql:
        def __init__(self, field: CharField) -> None:
            self.field = field

        @property
        def SQL_TYPE(self) -> str:
            return f"VARCHAR({self.field.max_length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
