"""Programs, promoters, links and template images for the promotion tool tests."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from PIL import Image

from server.config import Settings
from server.models import Program, Promoter, ShareLink
from server.services.promotion.posters import create_poster_template
from server.services.sharing.links import create_link
from tests.order_builders import ADMIN
from tests.service.sharing.test_share_support import make_promoter, make_user

LAYOUT = {
    "qr_x": 50,
    "qr_y": 50,
    "qr_size": 300,
    "name_x": 50,
    "name_y": 500,
    "font_size": 48,
    "font_colour": "#000000",
}


def media_settings(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, media_dir=str(tmp_path / "media"))


def picture(
    width: int = 600, height: int = 900, *, kind: str = "PNG", colour: str = "white"
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=kind)
    return buffer.getvalue()


async def template_of(program: Program, settings: Settings, **layout: int | str):
    return await create_poster_template(
        program_id=program.id,
        name="Spring",
        image=picture(),
        layout={**LAYOUT, **layout},
        actor=ADMIN,
        settings=settings,
    )


async def sharer(program: Program, nickname: str = "王小明") -> tuple[Promoter, ShareLink]:
    """An approved promoter of `program` with one share link."""
    user = await make_user(nickname)
    promoter = await make_promoter(program, user=user)
    link, _ = await create_link(user_id=user.id, program_id=program.id)
    return promoter, link
