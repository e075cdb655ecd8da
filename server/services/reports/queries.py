"""The admin reports: overview with series and previous period, breakdowns by dimension,
top promoters and the funnel, all read from rollups (docs/reports.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, tzinfo
from decimal import Decimal
from typing import Any

from server import clock
from server.domain.errors import ValidationFailed
from server.domain.money import exponent
from server.domain.periods import zone
from server.domain.reports.metrics import (
    RATE_PLACES,
    Figures,
    Sums,
    as_json,
    commissions,
    ratio,
    settled_commissions,
)
from server.domain.reports.ranges import ReportRange, preset_range, previous_range, series_buckets
from server.domain.reports.rollup import Dimension
from server.models import Program, Promoter, PromoterStatusChange
from server.services.catalog.reads import catalog_names
from server.services.programs.settings import get_program
from server.services.reports import cached, reads, spend
from server.services.reports.reads import Segment

TOP_SORTS = ("net_sales", "commissions", "conversion")
MAX_ITEMS = 500


@dataclass(frozen=True)
class Window:
    """A program, its zone and the range asked for, with the previous period."""

    program: Program
    current: ReportRange
    previous: ReportRange
    preset: str

    @property
    def exponent(self) -> int:
        return exponent(self.program.currency)

    @property
    def tz(self) -> tzinfo:
        return zone(self.program.time_zone)

    @property
    def periods(self) -> list[ReportRange]:
        """The range and the previous period, in that order."""
        return [self.current, self.previous]

    def describe(self) -> dict[str, Any]:
        def one(r: ReportRange) -> dict[str, Any]:
            return {
                "from": r.first.isoformat(),
                "to": r.last.isoformat(),
                "start": r.start.isoformat(),
                "end": r.end.isoformat(),
                "days": r.days,
            }

        return {
            "program_id": self.program.id,
            "currency": self.program.currency,
            "time_zone": self.program.time_zone,
            "preset": self.preset,
            "granularity": self.current.granularity.value,
            "range": one(self.current),
            "previous": one(self.previous),
        }


async def report_window(
    *, program_id: int, preset: str, first: date | None, last: date | None
) -> Window:
    """The range a request names in the program's zone, and the period before it."""
    program = await get_program(program_id=program_id)
    tz = zone(program.time_zone)
    if first is not None or last is not None:
        preset = "custom"
    current = preset_range(preset, now=clock.now(), tz=tz, first=first, last=last)
    return Window(program, current, previous_range(current, tz), preset)


def parse_segment(*, text: str | None) -> Segment:
    """`dimension:value` (e.g. site:3, utm_source:wechat) narrowing a report; none = totals."""
    if not text:
        return Segment()
    name, _, value = text.partition(":")
    try:
        dimension = Dimension(name)
    except ValueError:
        dimension = None
    if dimension in (None, Dimension.ALL, Dimension.TIER) or not value:
        raise ValidationFailed(
            "segment must be dimension:value",
            code="invalid_segment",
            fields={"segment": "e.g. site:3, channel:7, utm_source:wechat, promoter:12"},
        )
    return Segment(dimension, value)


async def figures(
    *, program_id: int, segment: Segment, ranges: Sequence[ReportRange], tz: tzinfo
) -> list[Figures]:
    """The sums, unique visitors and spend of one segment over each range, each range's
    read from its kept figures (one row)."""
    kept = await cached.segment_figures(
        program_id=program_id, segment=segment, ranges=ranges, tz=tz
    )
    found = []
    for r, (sums, visitors) in zip(ranges, kept, strict=True):
        spent = await spend.spend_total(program_id=program_id, segment=segment, r=r)
        found.append(Figures(sums=sums, unique_visitors=visitors, spend=spent))
    return found


async def _new_promoters(program_id: int, ranges: Sequence[ReportRange]) -> list[int]:
    """Promoters first approved in each range (read from the status history at once)."""
    approved = await PromoterStatusChange.filter(
        promoter__program_id=program_id,
        to_status="approved",
        from_status="applied",
        at__gte=min(r.start for r in ranges),
        at__lt=max(r.end for r in ranges),
    ).values_list("promoter_id", "at")
    return [len({promoter for promoter, at in approved if r.start <= at < r.end}) for r in ranges]


async def series(*, window: Window, segment: Segment) -> list[dict[str, Any]]:
    """One figure set per local hour (a one-day range) or day of the range."""
    pid = window.program.id
    buckets = series_buckets(window.current, zone(window.program.time_zone))
    hourly = await reads.summed(
        program_id=pid,
        dimension=segment.dimension,
        value=segment.value,
        start=window.current.start,
        end=window.current.end,
        group="bucket",
        daily=window.current.days > 1,
    )
    if window.current.days == 1:  # hours: exact
        uniques = await reads.unique_visitors_per_bucket(
            program_id=pid, segment=segment, spans=[(b.start, b.end) for b in buckets]
        )
    else:  # days: each day's sketch
        per_day = await reads.sketched_visitors(
            program_id=pid,
            dimension=segment.dimension,
            value=segment.value,
            start=window.current.start,
            end=window.current.end,
            group="day",
        )
        uniques = [per_day.get(b.start, 0) for b in buckets]
    points = []
    for bucket, visitors in zip(buckets, uniques, strict=True):
        sums = Sums()
        for moment, found in hourly.items():
            if bucket.start <= moment < bucket.end:
                sums.merge(found)
        point = as_json(Figures(sums, visitors), exponent=window.exponent)
        points.append({"label": bucket.label, "start": bucket.start.isoformat(), **point})
    return points


async def overview(*, window: Window, segment: Segment) -> dict[str, Any]:
    """Totals beside the previous period, promoters, and the hourly or daily series."""
    pid, places = window.program.id, window.exponent
    current, before = await figures(
        program_id=pid, segment=segment, ranges=window.periods, tz=window.tz
    )
    active, active_previous = await cached.active_promoters(
        program_id=pid, ranges=window.periods, tz=window.tz
    )
    new, new_previous = await _new_promoters(pid, window.periods)
    return {
        **window.describe(),
        "segment": _segment_json(segment),
        "totals": as_json(current, exponent=places),
        "previous_totals": as_json(before, exponent=places),
        "promoters": {
            "active": active,
            "active_previous": active_previous,
            "new": new,
            "new_previous": new_previous,
        },
        "series": await series(window=window, segment=segment),
    }


def _segment_json(segment: Segment) -> dict[str, str] | None:
    if segment.dimension == Dimension.ALL:
        return None
    return {"dimension": segment.dimension.value, "value": segment.value}


async def _by_value(
    window: Window, dimension: Dimension, ranges: Sequence[ReportRange]
) -> list[dict[str, Figures]]:
    """Figures per value of one dimension over each range."""
    pid = window.program.id
    if dimension != Dimension.TIER:
        found = []
        for r in ranges:
            of_range = await cached.by_value(program_id=pid, dimension=dimension, r=r, tz=window.tz)
            spent = await spend.spend_by(program_id=pid, dimension=dimension, r=r)
            found.append(_with_spend(of_range, spent, sorted(set(of_range) | set(spent))))
        return found
    # Tier: promoter rows grouped by each promoter's tier now (by the database).
    tiers = await cached.by_tier(program_id=pid, ranges=ranges, tz=window.tz)
    return [{tier: Figures(*of_tier) for tier, of_tier in of_range.items()} for of_range in tiers]


def _with_spend(
    kept: dict[str, cached.Found], spent: dict[str, Decimal], values: Iterable[str]
) -> dict[str, Figures]:
    """Figures of these values: their kept sums and unique visitors, and their spend."""
    return {v: Figures(*(kept.get(v) or (Sums(), 0)), spent.get(v)) for v in values}


def _by_rank(item: tuple[str, Figures]) -> tuple[Any, ...]:
    """A breakdown's order: by net sales, then visits, then value."""
    return (-item[1].sums["net_sales"], -item[1].sums["visits"], item[0])


async def _top_values(
    window: Window, dimension: Dimension, limit: int
) -> tuple[list[tuple[str, Figures]], dict[str, Figures]]:
    """The first `limit` values of a breakdown with their figures, and theirs in the
    previous period: only those rows read (and values with spend, which count apart)."""
    pid = window.program.id
    spent = await spend.spend_by(program_id=pid, dimension=dimension, r=window.current)
    found, before = await cached.top(
        program_id=pid,
        dimension=dimension,
        current=window.current,
        previous=window.previous,
        tz=window.tz,
        limit=limit,
        also=sorted(spent),
    )
    current = _with_spend(found, spent, set(found) | set(spent))
    ordered = sorted(current.items(), key=_by_rank)[:limit]
    values = [value for value, _ in ordered]
    spent_before = await spend.spend_by(program_id=pid, dimension=dimension, r=window.previous)
    return ordered, _with_spend(before, spent_before, values)


async def breakdown(*, window: Window, dimension: str, limit: int) -> dict[str, Any]:
    """Figures per value of one dimension, beside the previous period, by net sales."""
    chosen = _dimension(dimension)
    places = window.exponent
    if chosen == Dimension.TIER:
        current, before = await _by_value(window, chosen, window.periods)
        ordered = sorted(current.items(), key=_by_rank)[:limit]
    else:
        ordered, before = await _top_values(window, chosen, limit)
    empty = Figures(Sums(), 0)
    items = [
        {
            "value": value,
            **as_json(found, exponent=places),
            "previous": as_json(before.get(value, empty), exponent=places),
        }
        for value, found in ordered
    ]
    if chosen in (Dimension.PRODUCT, Dimension.CATEGORY):
        # The catalog's name beside each id (None for an id the store never pushed).
        names = await catalog_names(
            program_id=window.program.id, kind=chosen.value, ids=[v for v, _ in ordered]
        )
        for item in items:
            item["name"] = names.get(item["value"])
    return {**window.describe(), "dimension": chosen.value, "items": items}


def _dimension(name: str) -> Dimension:
    try:
        chosen = Dimension(name)
    except ValueError:
        chosen = None
    if chosen is None or chosen == Dimension.ALL:
        raise ValidationFailed(
            "unknown dimension",
            code="invalid_dimension",
            fields={"dimension": ", ".join(d.value for d in Dimension if d != Dimension.ALL)},
        )
    return chosen


def _rank_key(by: str, found: Figures) -> Any:
    if by == "commissions":
        return commissions(found.sums)
    if by == "net_sales":
        return found.sums["net_sales"]
    return ratio(found.sums["orders"], found.unique_visitors, RATE_PLACES) or 0


async def top_promoters(*, window: Window, by: str, limit: int) -> dict[str, Any]:
    """Promoters ranked by net sales, commissions or conversion rate, with their figures."""
    if by not in TOP_SORTS:
        raise ValidationFailed(
            "unknown ranking", code="invalid_sort", fields={"by": ", ".join(TOP_SORTS)}
        )
    places = window.exponent
    (found,) = await _by_value(window, Dimension.PROMOTER, [window.current])
    ranked = sorted(found.items(), key=lambda item: (-_rank_key(by, item[1]), int(item[0])))
    ranked = ranked[:limit]
    people = {
        p["id"]: p
        for p in await Promoter.filter(id__in=[int(v) for v, _ in ranked]).values(
            "id", "real_name", "tier", "status"
        )
    }
    items = []
    for rank, (value, figures_of) in enumerate(ranked, start=1):
        person = people.get(int(value), {})
        items.append(
            {
                "rank": rank,
                "promoter_id": int(value),
                "name": person.get("real_name"),
                "tier": person.get("tier"),
                "status": person.get("status"),
                **as_json(figures_of, exponent=places),
            }
        )
    return {**window.describe(), "by": by, "items": items}


def _funnel_steps(found: Figures) -> list[dict[str, Any]]:
    settled_count, _ = settled_commissions(found.sums)
    counts = [
        ("visits", found.sums["visits"]),
        ("unique_visitors", found.unique_visitors),
        ("bindings", found.sums["bindings"]),
        ("orders", found.sums["orders"]),
        ("settled_commissions", settled_count),
    ]
    steps = []
    for index, (name, count) in enumerate(counts):
        before = counts[index - 1][1] if index else None
        rate = ratio(count, before, RATE_PLACES) if before is not None else None
        steps.append(
            {
                "step": name,
                "count": count,
                "rate_from_previous_step": None if rate is None else str(rate),
            }
        )
    return steps


async def funnel(*, window: Window, segment: Segment) -> dict[str, Any]:
    """Visits → unique visitors → bindings → orders → settled commissions, and the previous."""
    current, before = await figures(
        program_id=window.program.id, segment=segment, ranges=window.periods, tz=window.tz
    )
    return {
        **window.describe(),
        "segment": _segment_json(segment),
        "steps": _funnel_steps(current),
        "previous_steps": _funnel_steps(before),
    }


async def previous_series(*, window: Window, segment: Segment) -> list[dict[str, Any]]:
    """The previous period's series, point for point beside the range's (same length)."""
    return await series(window=replace(window, current=window.previous), segment=segment)
