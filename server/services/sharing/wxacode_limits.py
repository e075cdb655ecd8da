"""How often one promoter may make WeChat draw a new mini-program code, counted in the
database so every worker sees the same window (429 wechat_calls_limited with Retry-After)."""

from __future__ import annotations

from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.config import Settings
from server.domain.sharing.qr import CallWindow, admit_call
from server.models import WxacodeCallWindow

# One retry covers two first calls racing to create the promoter's row.
ADMIT_ATTEMPTS = 2


async def _admit_once(*, promoter_id: int, limit: int, period: timedelta) -> None:
    async with in_transaction() as conn:
        row = (
            await WxacodeCallWindow.filter(promoter_id=promoter_id)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        before = CallWindow(row.started_at, row.calls) if row is not None else CallWindow()
        after = admit_call(before, limit=limit, period=period, now=clock.now())
        if row is None:
            await WxacodeCallWindow.create(
                promoter_id=promoter_id,
                started_at=after.started_at,
                calls=after.calls,
                using_db=conn,
            )
        else:
            row.started_at = after.started_at  # type: ignore[assignment]
            row.calls = after.calls
            await row.save(using_db=conn, update_fields=["started_at", "calls"])


async def admit_wxacode_call(*, promoter_id: int, settings: Settings) -> None:
    """Count one getwxacodeunlimit call for the promoter, or refuse it (429)."""
    period = timedelta(seconds=settings.wxacode_window_seconds)
    for attempt in range(ADMIT_ATTEMPTS):
        try:
            await _admit_once(
                promoter_id=promoter_id, limit=settings.wxacode_calls_per_window, period=period
            )
            return
        except IntegrityError:
            if attempt == ADMIT_ATTEMPTS - 1:
                raise
