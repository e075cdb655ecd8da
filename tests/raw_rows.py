"""A column as the database stores it, read past the ORM (for what is sealed at rest)."""

from __future__ import annotations

from typing import Any

from tortoise import connections


async def stored_value(table: str, column: str, row_id: int) -> Any:
    """`column` of row `row_id` in `table`, exactly as stored."""
    conn = connections.get("default")
    mark = "%s" if conn.capabilities.dialect == "mysql" else "?"
    rows = await conn.execute_query_dict(
        f"SELECT {column} AS value FROM {table} WHERE id = {mark}", [row_id]
    )
    return rows[0]["value"]
