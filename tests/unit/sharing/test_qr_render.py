"""The plain QR renderer: a real PNG of the asked size whose modules spell the data.

No barcode scanner is installed (pyzbar is not available), so the image is read back by
sampling each module's centre and compared with the symbol `qrcode` itself computes.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from server.integrations.qr import (
    PNG_SIGNATURE,
    QUIET_ZONE_MODULES,
    build_qr,
    is_png,
    render_qr_png,
    render_qr_png_async,
)

URL = "http://127.0.0.1:8000/s/aB3dE5fG7h?code=SUMMER-24&ch=7&utm_source=douyin"


def _modules_read_back(png: bytes, data: str) -> list[list[bool]]:
    image = Image.open(io.BytesIO(png)).convert("L")
    symbol = build_qr(data)
    total = symbol.modules_count + 2 * QUIET_ZONE_MODULES
    box = image.size[0] // total
    offset = (image.size[0] - total * box) // 2
    return [
        [
            image.getpixel((offset + col * box + box // 2, offset + row * box + box // 2)) < 128
            for col in range(total)
        ]
        for row in range(total)
    ]


@pytest.mark.parametrize("width", [128, 430, 1000, 2048])
def test_a_qr_png_is_a_png_of_exactly_the_requested_width(width: int) -> None:
    png = render_qr_png(URL, width=width)
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (width, width)


def test_the_drawn_modules_are_the_qr_symbol_of_the_url() -> None:
    png = render_qr_png(URL, width=430)
    expected = build_qr(URL).get_matrix()
    assert _modules_read_back(png, URL) == expected


def test_a_different_url_draws_a_different_symbol() -> None:
    png = render_qr_png(URL, width=430)
    other = URL.replace("douyin", "weibo")
    assert _modules_read_back(png, URL) != build_qr(other).get_matrix()


def test_the_quiet_zone_around_the_symbol_is_white() -> None:
    image = Image.open(io.BytesIO(render_qr_png(URL, width=430))).convert("L")
    assert image.getpixel((0, 0)) == 255
    assert image.getpixel((429, 429)) == 255


async def test_rendering_off_the_event_loop_gives_the_same_picture() -> None:
    assert await render_qr_png_async(URL, width=300) == render_qr_png(URL, width=300)


def test_only_png_bytes_count_as_png() -> None:
    assert is_png(render_qr_png("x", width=128))
    assert not is_png(b'{"errcode": 40001}')
