"""QR images of share links: mini-program codes from WeChat and plain QR PNGs of the H5 URL,
in a fixed set of sizes, each made once per (link, kind, size) and then served from the
QrImage cache; new mini-program codes are rate-limited per promoter."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.config import Settings
from server.domain.errors import UpstreamUnavailable
from server.domain.sharing.attribution import TouchSource
from server.domain.sharing.qr import DEFAULT_QR_SIZE, checked_qr_size
from server.integrations.qr import is_png, render_qr_png_async
from server.integrations.wechat import WeChatGateway
from server.models import QrImage
from server.services.sharing.links import h5_url, mp_page, own_link
from server.services.sharing.wxacode_limits import admit_wxacode_call

WXACODE = "wxacode"
PLAIN_PNG = "png"
DEFAULT_WIDTH = DEFAULT_QR_SIZE


@dataclass(frozen=True)
class QrPicture:
    content: bytes
    sha256: str
    kind: str
    width: int


def _picture(image: QrImage) -> QrPicture:
    return QrPicture(
        content=bytes(image.content), sha256=image.sha256, kind=image.kind, width=image.width
    )


async def _cached_or_made(
    *, link_id: int, kind: str, width: int, make: Callable[[], Awaitable[bytes]]
) -> QrPicture:
    """The stored image, or `make()`'s result stored first (nothing if `make` fails)."""
    # Two first requests racing both make it; the loser returns the winner's row.
    cached = await QrImage.get_or_none(share_link_id=link_id, kind=kind, width=width)
    if cached is not None:
        return _picture(cached)
    content = await make()
    try:
        async with in_transaction() as conn:
            stored = await QrImage.create(
                share_link_id=link_id,
                kind=kind,
                width=width,
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                using_db=conn,
            )
    except IntegrityError:
        stored = await QrImage.get(share_link_id=link_id, kind=kind, width=width)
    return _picture(stored)


async def link_wxacode(
    *,
    user_id: int,
    program_id: int,
    link_id: int,
    width: int = DEFAULT_WIDTH,
    wechat: WeChatGateway,
    settings: Settings,
) -> QrPicture:
    """The mini-program code (scene = the link's short code) of one of the caller's links."""
    width = checked_qr_size(width)
    link = await own_link(user_id=user_id, program_id=program_id, link_id=link_id)

    async def ask_wechat() -> bytes:
        # Only a picture not stored yet costs a WeChat call, so only that one is counted.
        await admit_wxacode_call(promoter_id=link.promoter_id, settings=settings)  # type: ignore[attr-defined]
        content = await wechat.wxacode_unlimited(
            scene=link.short_code, page=mp_page(link, settings=settings), width=width
        )
        if not is_png(content):
            raise UpstreamUnavailable(
                "WeChat returned something that is not a PNG", code="wechat_bad_image"
            )
        return content

    return await _cached_or_made(link_id=link.id, kind=WXACODE, width=width, make=ask_wechat)


async def link_qr_png(
    *,
    user_id: int,
    program_id: int,
    link_id: int,
    width: int = DEFAULT_WIDTH,
    settings: Settings,
) -> QrPicture:
    """A plain QR PNG of the H5 URL of one of the caller's links, marked `via=qr` so the
    landing counts its visits as scans."""
    width = checked_qr_size(width)
    link = await own_link(user_id=user_id, program_id=program_id, link_id=link_id)
    url = h5_url(link, settings=settings, via=TouchSource.QR.value)

    async def render() -> bytes:
        return await render_qr_png_async(url, width=width)

    return await _cached_or_made(link_id=link.id, kind=PLAIN_PNG, width=width, make=render)
