"""Chart geometry for the console's inline SVG (no chart library, no script): the numbers a
template needs to draw trend lines and bars, scaled to a fixed view box."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 10, 24  # room for the axis labels
TICKS = 4
X_LABELS = 8


@dataclass(frozen=True)
class Tick:
    position: float
    value: Decimal


@dataclass(frozen=True)
class LineChart:
    """Two polylines (the range and the period before it) over one value axis."""

    current: str
    previous: str
    y_ticks: list[Tick]
    x_labels: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.current


def _number(value: object) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _nice_top(peak: Decimal) -> Decimal:
    """The axis' top: the peak rounded up to 1, 2 or 5 times a power of ten."""
    if peak <= 0:
        return Decimal(1)
    power = Decimal(10) ** (len(str(int(peak))) - 1) if peak >= 1 else Decimal("0.0001")
    while power * 10 < peak:
        power *= 10
    for step in (1, 2, 5, 10):
        if power * step >= peak:
            return power * step
    return power * 10


def _short(label: str) -> str:
    """A bucket label as the axis shows it: 12-01 for a day, 13:00 for an hour."""
    if "T" in label:
        return label.split("T", 1)[1][:5]
    return label[5:] if len(label) == 10 else label


def line_chart(
    current: Sequence[object], previous: Sequence[object], labels: Sequence[str]
) -> LineChart:
    """The range's values and the previous period's, point for point, as polylines."""
    values = [_number(v) for v in current]
    before = [_number(v) for v in previous][: len(values)]
    if not values:
        return LineChart("", "", [], [])
    top = _nice_top(max([*values, *before, Decimal(0)]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(values) - 1, 1)

    def y(value: Decimal) -> float:
        return round(TOP + plot_h - float(value / top) * plot_h, 1)

    def points(series: list[Decimal]) -> str:
        return " ".join(f"{round(LEFT + i * step, 1)},{y(v)}" for i, v in enumerate(series))

    every = max(1, -(-len(labels) // X_LABELS))
    return LineChart(
        current=points(values),
        previous=points(before),
        y_ticks=[Tick(y(top * i / TICKS), top * i / TICKS) for i in range(TICKS + 1)],
        x_labels=[
            (round(LEFT + i * step, 1), _short(label))
            for i, label in enumerate(labels)
            if i % every == 0
        ],
    )


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    previous: Decimal | None
    share: float  # of the longest bar, 0..1
    previous_share: float | None


def bars(rows: Sequence[tuple[str, object, object | None]]) -> list[Bar]:
    """Rows of (label, value, previous value) as bars scaled to the longest of all."""
    found = [(label, _number(v), None if p is None else _number(p)) for label, v, p in rows]
    peak = max([v for _, v, _ in found] + [p for _, _, p in found if p is not None] + [Decimal(0)])
    scale = peak if peak > 0 else Decimal(1)
    return [
        Bar(
            label=label,
            value=value,
            previous=before,
            share=float(value / scale),
            previous_share=None if before is None else float(before / scale),
        )
        for label, value, before in found
    ]


def change(current: object, previous: object) -> Decimal | None:
    """The relative change from the previous period (0.25 = +25 %), None from nothing."""
    if current is None or previous is None:
        return None
    now, before = _number(current), _number(previous)
    if before == 0:
        return None
    return (now - before) / before
