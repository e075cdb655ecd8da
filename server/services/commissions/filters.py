"""The staff commission list's filters, shared by the page and its CSV export."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from tortoise.queryset import QuerySet

from server.domain.commissions.status import CommissionStatus
from server.domain.errors import ValidationFailed
from server.domain.instants import utc_assumed
from server.domain.pagination import MAX_PAGE_SIZE
from server.domain.programs.settings import MAX_LEVELS
from server.models import Commission
from server.services.access.scope import within

COMMISSION_STATUSES = tuple(status.value for status in CommissionStatus)


def check_page(limit: int, status: str | None, level: int | None) -> None:
    """A coded 422 naming every bad one of a page size, a status and a level."""
    errors: dict[str, str] = {}
    if not 1 <= limit <= MAX_PAGE_SIZE:
        errors["limit"] = f"1..{MAX_PAGE_SIZE}"
    if status is not None and status not in COMMISSION_STATUSES:
        errors["status"] = "one of " + ", ".join(COMMISSION_STATUSES)
    if level is not None and not 0 <= level <= MAX_LEVELS:
        errors["level"] = f"0..{MAX_LEVELS}"
    if errors:
        raise ValidationFailed("invalid filters", code="invalid_query", fields=errors)


@dataclass(frozen=True, kw_only=True)
class CommissionFilters:
    """What staff narrow the commission list by; None = any. Ranges are [from, to)."""

    program_id: int | None = None
    status: str | None = None
    promoter_id: int | None = None
    order_id: int | None = None
    order_external_id: str | None = None
    product_id: str | None = None
    level: int | None = None
    site_id: int | None = None
    channel_id: int | None = None
    campaign: str | None = None
    category: str | None = None
    tier: str | None = None
    on_hold: bool | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None
    settled_from: datetime | None = None
    settled_to: datetime | None = None
    paid_from: datetime | None = None
    paid_to: datetime | None = None

    @classmethod
    def of(cls, values: dict[str, Any]) -> CommissionFilters:
        """The filters among `values` (a parsed query), ignoring its other keys."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


# Equality filters: the dataclass field and the commission's column or path it matches.
_EQUAL = (
    ("program_id", "program_id"),
    ("status", "status"),
    ("promoter_id", "promoter_id"),
    ("order_id", "order_id"),
    ("order_external_id", "order__external_id"),
    ("product_id", "order_line__product_id"),
    ("level", "level"),
    ("site_id", "order__site_id"),
    ("channel_id", "order__channel_id"),
    ("campaign", "order__campaign"),
    ("category", "order_line__category"),
    ("tier", "promoter__tier"),
)
# Time ranges: the lower and upper bound's fields, and the instant column they bound.
_RANGES = (
    ("at_from", "at_to", "created_at"),
    ("settled_from", "settled_to", "settled_at"),
    ("paid_from", "paid_to", "paid_at"),
)


def staff_commission_query(
    filters: CommissionFilters,
    *,
    programs: Collection[int] | None = None,
    cursor: int | None = None,
) -> QuerySet[Commission]:
    """The commissions `filters` select, within `programs` (None = all), below `cursor`."""
    check_page(1, filters.status, filters.level)
    query = within(Commission.all(), programs)
    for name, path in _EQUAL:
        value = getattr(filters, name)
        if value is not None:
            query = query.filter(**{path: value})
    if filters.on_hold is not None:
        query = query.filter(hold_reason__isnull=not filters.on_hold)
    for low, high, column in _RANGES:
        if (start := getattr(filters, low)) is not None:
            query = query.filter(**{f"{column}__gte": utc_assumed(start)})
        if (end := getattr(filters, high)) is not None:
            query = query.filter(**{f"{column}__lt": utc_assumed(end)})
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    return query
