"""Poster templates: what an upload must be (PNG or JPEG, sizes), where the QR code and the
promoter's name go, and where a rendered poster is cached."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from server.domain.errors import ValidationFailed

PNG = "image/png"
JPEG = "image/jpeg"
# The first bytes of each accepted format: the declared content type is never trusted.
SIGNATURES = {PNG: b"\x89PNG\r\n\x1a\n", JPEG: b"\xff\xd8\xff"}
MAX_TEMPLATE_BYTES = 5 * 1024 * 1024
MIN_SIDE = 200
MAX_SIDE = 4000
MIN_QR_SIZE = 100
MIN_FONT_SIZE = 10
MAX_FONT_SIZE = 200
MAX_NAME_CHARACTERS = 16
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True, kw_only=True)
class PosterLayout:
    """Where the QR code goes (its top-left corner and side) and where the name starts."""

    qr_x: int
    qr_y: int
    qr_size: int
    name_x: int
    name_y: int
    font_size: int = 36
    font_colour: str = "#000000"

    def as_dict(self) -> dict[str, Any]:
        return {
            "qr_x": self.qr_x,
            "qr_y": self.qr_y,
            "qr_size": self.qr_size,
            "name_x": self.name_x,
            "name_y": self.name_y,
            "font_size": self.font_size,
            "font_colour": self.font_colour,
        }


def sniff_image_type(content: bytes) -> str:
    """The image type the bytes really are (PNG or JPEG), else a coded 422."""
    if not content:
        raise ValidationFailed(
            "the image is empty", code="poster_image_empty", fields={"image": "empty"}
        )
    if len(content) > MAX_TEMPLATE_BYTES:
        raise ValidationFailed(
            "the image is too large",
            code="poster_image_too_large",
            fields={"image": f"at most {MAX_TEMPLATE_BYTES} bytes"},
        )
    for kind, signature in SIGNATURES.items():
        if content.startswith(signature):
            return kind
    raise ValidationFailed(
        "the image must be a PNG or a JPEG",
        code="poster_image_unsupported",
        fields={"image": "PNG or JPEG"},
    )


def check_image_size(width: int, height: int) -> None:
    """422 unless both sides are within MIN_SIDE..MAX_SIDE pixels."""
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ValidationFailed(
            "the image's sides must be 200 to 4000 pixels",
            code="poster_image_size",
            fields={"image": f"{width}x{height}, sides {MIN_SIDE}..{MAX_SIDE}"},
        )


def checked_layout(raw: dict[str, Any], *, width: int, height: int) -> PosterLayout:
    """The layout, each box inside the image, or a 422 naming every wrong field."""
    layout = PosterLayout(**raw)
    errors: dict[str, str] = {}
    if layout.qr_size < MIN_QR_SIZE:
        errors["qr_size"] = f"at least {MIN_QR_SIZE} pixels (scanners need it)"
    if layout.qr_x < 0 or layout.qr_x + layout.qr_size > width:
        errors["qr_x"] = f"the QR code must fit in the image's width ({width})"
    if layout.qr_y < 0 or layout.qr_y + layout.qr_size > height:
        errors["qr_y"] = f"the QR code must fit in the image's height ({height})"
    if not 0 <= layout.name_x < width:
        errors["name_x"] = f"0..{width - 1}"
    if not 0 <= layout.name_y <= height - layout.font_size:
        errors["name_y"] = f"0..{height - layout.font_size} (the name must fit)"
    if not MIN_FONT_SIZE <= layout.font_size <= MAX_FONT_SIZE:
        errors["font_size"] = f"{MIN_FONT_SIZE}..{MAX_FONT_SIZE}"
    if not COLOUR.match(layout.font_colour):
        errors["font_colour"] = "#RRGGBB"
    if errors:
        raise ValidationFailed(
            "the layout does not fit the image", code="poster_layout", fields=errors
        )
    return layout


def display_name(name: str | None, *, fallback: str) -> str:
    """The name printed on a poster: trimmed to MAX_NAME_CHARACTERS, never empty."""
    text = " ".join((name or "").split()) or fallback
    if len(text) > MAX_NAME_CHARACTERS:
        text = text[: MAX_NAME_CHARACTERS - 1] + "…"
    return text


def poster_path(
    *, template_id: int, version: int, promoter_id: int, link_id: int, kind: str, name: str
) -> str:
    """Where one promoter's poster of one template version, link and QR kind is cached."""
    # A new template version is a new folder: a changed template is never served stale; the
    # name's digest does the same for a promoter who renamed themselves.
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"posters/{template_id}/v{version}/{promoter_id}-{link_id}-{kind}-{digest}.png"


def preview_path(*, template_id: int, version: int) -> str:
    """Where staff's preview of a template version is cached."""
    return f"posters/{template_id}/v{version}/preview.png"


def qr_source_width(qr_size: int, sizes: tuple[int, ...]) -> int:
    """The smallest stored QR size at least as large as the poster's box (else the largest):
    scaling down keeps every module sharp."""
    return next((size for size in sorted(sizes) if size >= qr_size), max(sizes))


def decode_image_base64(text: str, *, field: str = "image_base64") -> bytes:
    """The bytes of a base64 upload (a data: URL prefix is allowed), else a coded 422."""
    payload = text.split(",", 1)[1] if text.startswith("data:") else text
    if len(payload) > (MAX_TEMPLATE_BYTES * 4) // 3 + 4:
        raise ValidationFailed(
            "the image is too large",
            code="poster_image_too_large",
            fields={field: f"at most {MAX_TEMPLATE_BYTES} bytes"},
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(
            "the image is not base64", code="image_not_base64", fields={field: "base64"}
        ) from None
