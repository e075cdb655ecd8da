"""Pure rules of the promotion tools: copy placeholders, layouts, cache paths, action items."""

from __future__ import annotations

import pytest

from server.domain.errors import ValidationFailed
from server.domain.promotion.action_items import PromoterFacts, action_items
from server.domain.promotion.materials import fill_copy
from server.domain.promotion.posters import (
    checked_layout,
    decode_image_base64,
    display_name,
    poster_path,
    qr_source_width,
)

LAYOUT = {"qr_x": 10, "qr_y": 10, "qr_size": 200, "name_x": 10, "name_y": 300, "font_size": 30}


def test_copy_fills_known_placeholders_and_leaves_other_braces_alone() -> None:
    text = fill_copy(
        "{name}: {link} {code} {json} {mp_path}", {"name": "王", "link": "L", "code": "C"}
    )

    assert text == "王: L C {json} "


def test_a_layout_must_keep_the_qr_code_and_the_name_inside_the_image() -> None:
    assert checked_layout(LAYOUT, width=300, height=400).qr_size == 200
    with pytest.raises(ValidationFailed) as refused:
        checked_layout({**LAYOUT, "qr_size": 50, "name_y": 390}, width=300, height=400)

    assert set(refused.value.fields) == {"qr_size", "name_y"}


def test_a_long_name_is_cut_and_an_empty_one_replaced() -> None:
    assert (
        display_name("一二三四五六七八九十一二三四五六七八", fallback="x")
        == "一二三四五六七八九十一二三四五…"
    )
    assert display_name("  ", fallback="推广员") == "推广员"


def test_a_new_template_version_or_name_is_a_new_cache_path() -> None:
    base = {"template_id": 1, "promoter_id": 2, "link_id": 3, "kind": "png", "name": "王"}

    paths = {
        poster_path(version=1, **base),
        poster_path(version=2, **base),
        poster_path(version=1, **{**base, "name": "李"}),
    }

    assert len(paths) == 3


def test_the_qr_code_is_scaled_down_from_the_nearest_larger_stored_size() -> None:
    sizes = (280, 430, 860, 1280)

    assert [qr_source_width(s, sizes) for s in (100, 300, 430, 2000)] == [280, 430, 430, 1280]


def test_base64_that_does_not_decode_is_a_coded_422() -> None:
    assert decode_image_base64("data:image/png;base64,aGk=") == b"hi"
    with pytest.raises(ValidationFailed) as refused:
        decode_image_base64("not base64!")

    assert refused.value.code == "image_not_base64"


def test_action_items_come_most_blocking_first() -> None:
    facts = PromoterFacts(
        required_agreement="v2",
        accepted_agreement="v1",
        missing_tax_profile=("tax_id",),
        transfers_to_confirm={7: {"package": "p"}},
        unread_announcements=2,
        share_links=0,
    )

    assert [item.code for item in action_items(facts)] == [
        "confirm_transfer",
        "accept_agreement",
        "add_tax_profile",
        "create_share_link",
        "read_announcements",
    ]


def test_a_promoter_with_nothing_to_do_has_no_items() -> None:
    facts = PromoterFacts(
        required_agreement=None,
        accepted_agreement=None,
        share_links=1,
    )

    assert action_items(facts) == []
