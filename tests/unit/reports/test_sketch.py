"""Unique visitor sketches: exact up to EXACT_LIMIT visitors, within a few percent beyond,
merged as a union, stored as text and read back unchanged."""

from __future__ import annotations

from server.domain.reports.sketch import EXACT_LIMIT, Sketch, sketches_by_value, word_of


def _sketch(visitors: range) -> Sketch:
    sketch = Sketch()
    for visitor in visitors:
        sketch.add(word_of(str(visitor)))
    return sketch


def test_counts_up_to_the_exact_limit_are_exact() -> None:
    for n in (0, 1, 3, 80, EXACT_LIMIT):
        assert _sketch(range(n)).estimate() == n


def test_a_large_count_is_within_three_percent() -> None:
    assert abs(_sketch(range(100_000)).estimate() - 100_000) <= 3_000


def test_merging_two_days_counts_a_returning_visitor_once() -> None:
    monday, tuesday = _sketch(range(0, 80)), _sketch(range(40, 120))
    week = Sketch()
    week.merge(monday)
    week.merge(tuesday)
    assert (monday.estimate(), tuesday.estimate(), week.estimate()) == (80, 80, 120)


def test_a_union_past_the_exact_limit_is_estimated_closely() -> None:
    week = Sketch()
    for day in range(7):
        week.merge(_sketch(range(day * 100, day * 100 + 200)))  # 800 distinct in all
    assert week.words is None
    assert abs(week.estimate() - 800) <= 24


def test_every_form_of_sketch_reads_back_unchanged() -> None:
    for sketch in (Sketch(), _sketch(range(5)), _sketch(range(300)), _sketch(range(20_000))):
        again = Sketch.decode(sketch.encode())
        assert (again.words, again.registers) == (sketch.words, sketch.registers)
    assert [_sketch(range(n)).encode()[:2] for n in (5, 300, 20_000)] == ["x:", "s:", "d:"]


def test_each_dimension_value_gets_its_own_sketch() -> None:
    sketches = sketches_by_value(
        [
            ("a", [("all", "*"), ("promoter", "1"), ("site", None)]),
            ("b", [("all", "*"), ("promoter", "2"), ("site", "")]),
        ]
    )
    assert {key: s.estimate() for key, s in sketches.items()} == {
        ("all", "*"): 2,
        ("promoter", "1"): 1,
        ("promoter", "2"): 1,
    }
