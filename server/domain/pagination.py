"""Keyset pagination shared by every list: the page-size rule and the next cursor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from server.domain.errors import ValidationFailed

MAX_PAGE_SIZE = 100


def check_page_limit(limit: int) -> None:
    """Refuse a page size outside 1..MAX_PAGE_SIZE with a coded 422."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            "limit out of range", code="invalid_limit", fields={"limit": f"1..{MAX_PAGE_SIZE}"}
        )


def next_cursor(ids: Sequence[int], limit: int) -> int | None:
    """Keyset cursor (the last id) for the next page, None on the last page."""
    return ids[-1] if ids and len(ids) >= limit else None


def page_body(items: Sequence[Mapping[str, Any]], limit: int) -> dict[str, Any]:
    """A list answer: the serialized items (each with its `id`) and the next page's cursor."""
    return {"items": list(items), "next_cursor": next_cursor([item["id"] for item in items], limit)}
