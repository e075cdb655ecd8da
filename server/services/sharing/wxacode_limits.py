"""How often one promoter may make WeChat draw a new mini-program code, counted in the
database so every worker sees the same window (429 wechat_calls_limited with Retry-After)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.config import Settings
from server.domain.sharing.qr import CallWindow, admit_call
from server.models import WxacodeCallWindow


async def _ensure_window(promoter_id: int) -> None:
    """The promoter's window row, created empty when missing."""
    # Created before the locked read: on MariaDB, two SELECT ... FOR UPDATE of a missing row
    # both take gap locks and their INSERTs would deadlock; locking a row that exists does not.
    if await WxacodeCallWindow.exists(promoter_id=promoter_id):
        return
    with contextlib.suppress(IntegrityError):  # another request created it first
        await WxacodeCallWindow.create(promoter_id=promoter_id, started_at=clock.now(), calls=0)


async def admit_wxacode_call(*, promoter_id: int, settings: Settings) -> None:
    """Count one getwxacodeunlimit call for the promoter, or refuse it (429)."""
    await _ensure_window(promoter_id)
    async with in_transaction() as conn:
        row = (
            await WxacodeCallWindow.filter(promoter_id=promoter_id)
            .using_db(conn)
            .select_for_update()
            .get()
        )
        after = admit_call(
            CallWindow(row.started_at, row.calls),
            limit=settings.wxacode_calls_per_window,
            period=timedelta(seconds=settings.wxacode_window_seconds),
            now=clock.now(),
        )
        row.started_at = after.started_at  # type: ignore[assignment]
        row.calls = after.calls
        await row.save(using_db=conn, update_fields=["started_at", "calls"])
