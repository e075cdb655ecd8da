"""Share posters with Pillow: a template's background, a QR code pasted on it, and the
promoter's name in a CJK-capable font."""

from __future__ import annotations

import io
import logging
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from server.domain.errors import ValidationFailed
from server.domain.promotion.posters import PosterLayout

log = logging.getLogger("fenxiao.posters")

# Fonts carrying Chinese glyphs, first found wins: Debian's fonts-noto-cjk (what .ci/run and
# the runbook install), then other common CJK packages. POSTER_FONT_PATH overrides them.
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
# Index of the Simplified Chinese face inside the Noto CJK collections (JP, KR, SC, TC, HK).
NOTO_SC_INDEX = 2
# Decompression-bomb guard: more pixels than the largest template allowed (4000 × 4000).
MAX_PIXELS = 4000 * 4000


def image_size(content: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG that decodes whole; a coded 422 for anything else."""
    try:
        with Image.open(io.BytesIO(content)) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise ValidationFailed(
                    "the image has too many pixels",
                    code="poster_image_size",
                    fields={"image": f"{width}x{height}"},
                )
            probe.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValidationFailed(
            "the image cannot be read", code="poster_image_corrupt", fields={"image": str(exc)[:80]}
        ) from None
    return width, height


def find_cjk_font(configured: str | None = None) -> str | None:
    """The font file used for names: the configured one, else the first CJK font found."""
    if configured:
        return configured if Path(configured).is_file() else None
    return next((path for path in CJK_FONT_CANDIDATES if Path(path).is_file()), None)


@cache
def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        # Pillow's built-in font: Latin only, so Chinese names show as boxes. Logged once per
        # size so an operator sees why (docs/promotion-tools.md, "Fonts").
        log.warning("no CJK font found: poster names use Pillow's default font")
        return ImageFont.load_default(size=size)
    index = NOTO_SC_INDEX if "NotoSansCJK" in path or "NotoSerifCJK" in path else 0
    return ImageFont.truetype(path, size=size, index=index)


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def render_poster(
    *, background: bytes, qr_png: bytes, layout: PosterLayout, name: str, font_path: str | None
) -> bytes:
    """The poster as a PNG: the QR code scaled into its box, the name at its place."""
    with Image.open(io.BytesIO(background)) as opened:
        canvas = opened.convert("RGB")
    with Image.open(io.BytesIO(qr_png)) as qr:
        # Nearest neighbour keeps the modules' edges sharp for scanners.
        square = qr.convert("RGB").resize(
            (layout.qr_size, layout.qr_size), Image.Resampling.NEAREST
        )
    canvas.paste(square, (layout.qr_x, layout.qr_y))
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (layout.name_x, layout.name_y),
        name,
        font=_font(font_path, layout.font_size),
        fill=_rgb(layout.font_colour),
    )
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
