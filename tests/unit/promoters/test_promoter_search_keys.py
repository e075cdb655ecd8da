"""What staff type finds a promoter: a name's start whatever its width, case or spacing, a
phone number's start, or its last four digits or more."""

from __future__ import annotations

import pytest

from server.domain.promoters.search import (
    name_key,
    phone_digits,
    phone_reversed,
    prefix_bounds,
    search_terms,
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("张伟", "张伟"),
        ("张 伟", "张伟"),
        ("阿卜杜·热合曼", "阿卜杜热合曼"),
        ("Ｌｉ Ｌｅｉ", "lilei"),
        ("O'Brien", "obrien"),
    ],
)
def test_a_name_is_searched_without_width_case_spaces_or_marks(typed: str, stored: str) -> None:
    assert name_key(typed) == stored


def test_an_empty_name_has_no_key() -> None:
    assert name_key(None) is None
    assert name_key("  ") is None


@pytest.mark.parametrize(
    ("phone", "digits"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("８６１３８００１３８０００", "13800138000"),
        ("021-6234 5678", "02162345678"),
    ],
)
def test_a_phone_keeps_its_digits_forwards_and_backwards(phone: str, digits: str) -> None:
    assert phone_digits(phone) == digits
    assert phone_reversed(phone) == digits[::-1]


def test_four_digits_are_read_as_a_phone_end_and_as_a_name_start() -> None:
    terms = search_terms("8000")
    assert (terms.name_prefix, terms.phone_prefix, terms.phone_reversed_prefix) == (
        "8000",
        None,
        "0008",
    )


def test_a_longer_number_is_read_as_a_phone_start_and_end() -> None:
    terms = search_terms("138 0013")
    assert (terms.phone_prefix, terms.phone_reversed_prefix) == ("1380013", "3100831")


def test_fewer_than_four_digits_or_a_name_are_never_read_as_a_phone() -> None:
    for text in ("张", "123"):
        terms = search_terms(text)
        assert (terms.phone_prefix, terms.phone_reversed_prefix) == (None, None)


def test_a_prefix_range_holds_every_key_starting_with_it_and_no_other() -> None:
    low, high = prefix_bounds("张")
    assert high is not None
    for key in ("张", "张伟", "张" + chr(0x10FFFF)):
        assert low <= key < high
    for key in ("弟", "彡", "章"):
        assert not (low <= key < high)
    assert prefix_bounds(chr(0xD7FF)) == (chr(0xD7FF), chr(0xE000))
    assert prefix_bounds(chr(0x10FFFF)) == (chr(0x10FFFF), None)
