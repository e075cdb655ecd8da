"""Aligned spans of local days: any range is exactly a few spans and days, each span is its
two halves, and a union of encoded sketches counts what merging them one by one counts."""

from datetime import date, timedelta

from server.domain.reports.sketch import Sketch, union, word_of
from server.domain.reports.spans import MAX_LEVEL, cover, halves, span_of, spans_holding


def _days(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def test_a_range_is_exactly_its_days_in_few_aligned_pieces() -> None:
    for offset in range(0, 70, 3):
        first = date(2026, 1, 1) + timedelta(days=offset)
        for length in (1, 2, 7, 30, 31, 90, 365, 400):
            pieces = cover(first, first + timedelta(days=length - 1))
            covered = [day for start, days in pieces for day in _days(start, days)]
            assert covered == _days(first, length)
            assert all(start.toordinal() % days == 0 for start, days in pieces)
            assert len(pieces) <= 2 * MAX_LEVEL + length // (1 << MAX_LEVEL) + 1


def test_thirty_days_read_at_most_ten_pieces() -> None:
    worst = max(
        len(cover(date(2026, 1, 1) + timedelta(days=i), date(2026, 1, 30) + timedelta(days=i)))
        for i in range(64)
    )
    assert worst <= 10


def test_a_span_is_its_two_halves_and_is_recomputed_with_each_of_its_days() -> None:
    day = date(2026, 3, 17)
    spans = spans_holding([day])
    assert [days for _, days in spans] == [2, 4, 8, 16, 32, 64]
    for first, days in spans:
        assert first <= day < first + timedelta(days=days)
        low, high = halves((first, days))
        assert low == (first, days // 2) and high == (first + timedelta(days=days // 2), days // 2)
        assert span_of(high[0], days) == (first, days)


def _sketch(visitors: range) -> Sketch:
    sketch = Sketch()
    for visitor in visitors:
        sketch.add(word_of(str(visitor)))
    return sketch


def test_a_union_of_encoded_sketches_equals_merging_them_one_by_one() -> None:
    parts = [_sketch(range(0, 100)), _sketch(range(50, 200)), _sketch(range(150, 5000))]
    parts += [_sketch(range(4000, 30_000)), _sketch(range(7, 9))]
    for chosen in ([0], [0, 1], [0, 1, 4], [2, 0], [3, 1], [3, 2, 0, 4]):
        merged = Sketch()
        for index in chosen:
            merged.merge(parts[index])
        joined = union(parts[index].encode() for index in chosen)
        assert (joined.words, joined.registers) == (merged.words, merged.registers)
        assert joined.estimate() == merged.estimate()


def test_digests_written_in_the_older_short_form_still_read() -> None:
    sketch = _sketch(range(40))
    old = "x:" + ",".join(f"{w:x}" for w in sorted(sketch.words or ()))
    assert Sketch.decode(old).words == sketch.words
    assert union([old, sketch.encode()]).estimate() == 40
