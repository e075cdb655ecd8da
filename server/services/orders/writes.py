"""Raw multi-row INSERTs for the order-event hot path, without building model instances;
values go through the models' own fields, exactly as the ORM would send them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import DatetimeField, Field
from tortoise.models import Model

from server.db import is_mysql

_MYSQL_ID_SETTINGS = "SELECT @@innodb_autoinc_lock_mode AS mode, @@auto_increment_increment AS step"
# (mode, step) per connection name: server settings, read once per process.
_id_settings: dict[str, tuple[int, int]] = {}


@functools.cache
def _insert_fields(model: type[Model]) -> tuple[tuple[str, str, Field], ...]:
    """(field name, column, field) of every column an INSERT names (not a generated key)."""
    meta = model._meta
    return tuple(
        (name, column, meta.fields_map[name])
        for name, column in meta.fields_db_projection.items()
        if name not in meta.generated_db_fields
    )


def _missing_value(field: Field, now: Any) -> Any:
    if isinstance(field, DatetimeField) and (field.auto_now or field.auto_now_add):
        return now
    if field.default is not None:
        return field.default() if callable(field.default) else field.default
    return None


async def insert_rows(
    conn: BaseDBAsyncClient, model: type[Model], rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert `rows` in one statement; the insert id the driver reports."""
    fields = _insert_fields(model)
    now = timezone.now()
    table = [
        [
            row[name] if name in row else _missing_value(field, now)
            for name, _column, field in fields
        ]
        for row in rows
    ]
    # A nullable column that is NULL in every row is left to its column default (NULL):
    # fewer values to convert and escape.
    kept = [
        index
        for index, (_name, _column, field) in enumerate(fields)
        if not field.null or any(values[index] is not None for values in table)
    ]
    flat: list[Any] = []
    for values in table:
        for index in kept:
            value, field = values[index], fields[index][2]
            # to_db_value refuses a None for a column that does not take NULL, as the ORM does.
            flat.append(None if value is None and field.null else field.to_db_value(value, None))
    marker = "%s" if is_mysql(conn) else "?"
    one_row = "(" + ", ".join([marker] * len(kept)) + ")"
    columns = ", ".join(f"`{fields[index][1]}`" for index in kept)
    query = f"INSERT INTO `{model._meta.db_table}` ({columns}) VALUES " + ", ".join(
        [one_row] * len(rows)
    )
    return int(await conn.execute_insert(query, flat))


async def _mysql_id_settings(conn: BaseDBAsyncClient) -> tuple[int, int]:
    name = conn.connection_name
    if name not in _id_settings:
        rows = await conn.execute_query_dict(_MYSQL_ID_SETTINGS)
        _id_settings[name] = (int(rows[0]["mode"]), int(rows[0]["step"]))
    return _id_settings[name]


async def inserted_ids(conn: BaseDBAsyncClient, insert_id: int, count: int) -> list[int] | None:
    """The ids of the rows one `insert_rows` call wrote, or None when they must be read back."""
    # Consecutive only where guaranteed: SQLite (one writer, rowids in order) and InnoDB
    # autoinc lock mode 0 or 1, where a multi-row INSERT … VALUES reserves one block spaced by
    # auto_increment_increment. Under mode 2 concurrent inserts interleave within the block.
    if not is_mysql(conn):
        return list(range(insert_id - count + 1, insert_id + 1))
    mode, step = await _mysql_id_settings(conn)
    if mode > 1:
        return None
    return [insert_id + index * step for index in range(count)]
