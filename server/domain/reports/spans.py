"""Aligned spans of local days (docs/reports.md#spans): 2, 4 … 64 days starting on a day
whose ordinal is a multiple of their length, so any range of days is a few spans and days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

# Spans of 2**1 .. 2**MAX_LEVEL days are kept; a range reads at most about 2 per level.
MAX_LEVEL = 6
LONGEST = 1 << MAX_LEVEL

Span = tuple[date, int]  # (first local day, number of days)


def span_of(day: date, days: int) -> Span:
    """The aligned span of `days` days holding `day`."""
    ordinal = day.toordinal()
    return date.fromordinal(ordinal - ordinal % days), days


def spans_holding(days: Iterable[date]) -> list[Span]:
    """Every kept span holding one of these days, shortest first (children before parents)."""
    found = {span_of(day, 1 << level) for day in days for level in range(1, MAX_LEVEL + 1)}
    return sorted(found, key=lambda span: (span[1], span[0]))


def halves(span: Span) -> tuple[Span, Span]:
    """The two spans (or days) a span is made of."""
    first, days = span
    half = days // 2
    return (first, half), (first + timedelta(days=half), half)


def cover(first: date, last: date) -> list[Span]:
    """The fewest aligned spans and days making exactly [first, last]: each a day (1) or a
    kept span; at most about two per level."""
    pieces: list[Span] = []
    ordinal, stop = first.toordinal(), last.toordinal() + 1
    while ordinal < stop:
        days = LONGEST
        while days > 1 and (ordinal % days or ordinal + days > stop):
            days //= 2
        pieces.append((date.fromordinal(ordinal), days))
        ordinal += days
    return pieces
