"""Streamed CSV exports: rows fetched in keyset chunks, encoded safely, sent as they come
(docs/design/platform.md).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import quote

from sanic import Request
from tortoise.models import Model
from tortoise.queryset import QuerySet

log = logging.getLogger(__name__)

CHUNK_SIZE = 1000
# Rows encoded per network write: a few KB per send, not one send per row.
ROWS_PER_WRITE = 200
UTF8_BOM = "\ufeff"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

M = TypeVar("M", bound=Model)


def csv_cell(value: Any) -> str:
    """One value as CSV text: exact decimals, ISO dates, formula-looking text defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        value = value.value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def encode_rows(rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (RFC 4180 quoting, CRLF line ends) of already-ordered rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue()


async def keyset_chunks(
    query: QuerySet[M],
    *,
    chunk_size: int = CHUNK_SIZE,
    related: Sequence[str] = (),
    oldest_first: bool = False,
    fields: Sequence[str] = (),
) -> AsyncIterator[list[Any]]:
    """The query's rows newest (or oldest) first by id, `chunk_size` per query."""
    if fields and "id" not in fields:
        raise ValueError("fields must include id: it is the keyset")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    last_id: int | None = None
    while True:
        if last_id is None:
            page = query
        else:
            page = query.filter(id__gt=last_id) if oldest_first else query.filter(id__lt=last_id)
        if related:
            page = page.select_related(*related)
        page = page.order_by("id" if oldest_first else "-id").limit(chunk_size)
        chunk: list[Any] = await (page.values(*fields) if fields else page)
        if not chunk:
            return
        yield chunk
        if len(chunk) < chunk_size:
            return
        last_id = chunk[-1]["id"] if fields else chunk[-1].id


@dataclass
class CsvExport:
    """What a route streams: a download name, the header and the rows (an async iterator)."""

    filename: str
    header: Sequence[str]
    rows: AsyncIterator[Sequence[Any]]


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


async def stream_csv(request: Request, export: CsvExport) -> None:
    """Send `export` as a streamed CSV download; the route must then return None."""
    # Sanic logs an error for a response object returned after the request was responded to.
    rows = export.rows
    first_batch: list[Sequence[Any]] = []
    async for row in rows:
        first_batch.append(row)
        if len(first_batch) >= ROWS_PER_WRITE:
            break
    response = await request.respond(
        content_type=CSV_CONTENT_TYPE,
        headers={
            "content-disposition": _disposition(export.filename),
            "x-accel-buffering": "no",
        },
    )
    await response.send(UTF8_BOM + encode_rows([export.header, *first_batch]))
    if len(first_batch) >= ROWS_PER_WRITE:
        batch: list[Sequence[Any]] = []
        try:
            async for row in rows:
                batch.append(row)
                if len(batch) >= ROWS_PER_WRITE:
                    await response.send(encode_rows(batch))
                    batch = []
        except Exception:
            # The status line is already sent: the client sees a truncated file.
            log.exception("csv export %s failed mid-stream", export.filename)
            raise
        if batch:
            await response.send(encode_rows(batch))
    await response.eof()
