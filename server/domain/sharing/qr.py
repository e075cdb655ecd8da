"""QR pictures of share links: the fixed sizes they come in, and the per-promoter window that
limits how often WeChat is asked to draw a mini-program code."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.domain.errors import TooManyRequests, ValidationFailed

# Small (a chat bubble), the default, print, poster. getwxacodeunlimit draws 280–1280 px;
# a fixed set means at most four stored pictures per link and kind.
QR_SIZES = (280, 430, 860, 1280)
DEFAULT_QR_SIZE = 430


def checked_qr_size(width: int) -> int:
    """`width` when it is one of QR_SIZES, else 422 invalid_width naming the sizes."""
    if width not in QR_SIZES:
        raise ValidationFailed(
            "width must be one of " + ", ".join(str(size) for size in QR_SIZES),
            code="invalid_width",
            fields={"width": list(QR_SIZES)},
        )
    return width


@dataclass(frozen=True)
class CallWindow:
    """Calls counted in the window that started at `started_at` (None: no calls yet)."""

    started_at: datetime | None = None
    calls: int = 0


def admit_call(window: CallWindow, *, limit: int, period: timedelta, now: datetime) -> CallWindow:
    """The window counting one more call at `now`, or 429 wechat_calls_limited."""
    if window.started_at is None or now - window.started_at >= period:
        window = CallWindow(started_at=now, calls=0)
    if window.calls >= limit:
        assert window.started_at is not None
        retry_after = max(1, math.ceil((window.started_at + period - now).total_seconds()))
        raise TooManyRequests(
            f"at most {limit} new mini-program codes per {int(period.total_seconds())} s;"
            " images already made are served at once",
            code="wechat_calls_limited",
            fields={"retry_after_seconds": retry_after, "limit": limit},
        )
    return CallWindow(started_at=window.started_at, calls=window.calls + 1)
