"""Files of the promotion tools under the media directory: uploads stored by content hash,
rendered posters by their cache path; every path is checked to stay inside the directory."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path

from server.config import Settings
from server.domain.errors import NotFound
from server.domain.promotion.posters import JPEG

EXTENSIONS = {JPEG: "jpg"}


def _resolved(settings: Settings, relative: str) -> Path:
    root = Path(settings.media_dir).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise NotFound("no such file", code="media_not_found")
    return path


def upload_path(*, folder: str, content: bytes, content_type: str) -> str:
    """Where an upload is kept: its content hash names it, so a re-upload is the same file."""
    digest = hashlib.sha256(content).hexdigest()
    return f"{folder}/{digest[:2]}/{digest}.{EXTENSIONS.get(content_type, 'png')}"


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write aside and rename: a reader never sees half a file, two writers never mix.
    scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    scratch.write_bytes(content)
    os.replace(scratch, path)


async def store_file(*, settings: Settings, relative: str, content: bytes) -> None:
    """Write `content` at `relative` under the media directory (atomically)."""
    await asyncio.to_thread(_write, _resolved(settings, relative), content)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


async def read_file(*, settings: Settings, relative: str) -> bytes | None:
    """The file at `relative`, or None when it is not there (yet)."""
    return await asyncio.to_thread(_read, _resolved(settings, relative))


async def required_file(*, settings: Settings, relative: str) -> bytes:
    """The file at `relative`; 404 media_not_found when it is gone."""
    content = await read_file(settings=settings, relative=relative)
    if content is None:
        raise NotFound("the file is missing from the media directory", code="media_not_found")
    return content
