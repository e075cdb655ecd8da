"""Plain QR code PNGs (the `qrcode` library) for H5 share links."""

from __future__ import annotations

import asyncio
import io

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The quiet zone the QR specification asks for, in modules.
QUIET_ZONE_MODULES = 4


def build_qr(data: str) -> qrcode.QRCode:
    """The QR symbol for `data` (smallest version that fits, medium error correction)."""
    symbol = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE_MODULES)
    symbol.add_data(data)
    symbol.make(fit=True)
    return symbol


def render_qr_png(data: str, *, width: int) -> bytes:
    """A black-on-white PNG of `data`, `width` pixels square."""
    # Whole pixels per module keep edges crisp for scanners; the leftover widens the margin.
    symbol = build_qr(data)
    total_modules = symbol.modules_count + 2 * QUIET_ZONE_MODULES
    symbol.box_size = max(1, width // total_modules)
    drawn = symbol.make_image().get_image()
    side = max(width, drawn.size[0])
    canvas = Image.new("1", (side, side), 1)
    offset = (side - drawn.size[0]) // 2
    canvas.paste(drawn, (offset, offset))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


async def render_qr_png_async(data: str, *, width: int) -> bytes:
    """`render_qr_png` in a worker thread: rendering is CPU work that would stall the loop."""
    return await asyncio.to_thread(render_qr_png, data, width=width)


def is_png(content: bytes) -> bool:
    return content.startswith(PNG_SIGNATURE)
