from __future__ import annotations

import pytest

from server.domain.errors import ValidationFailed
from server.domain.sharing.destinations import (
    MAX_DESTINATION_LENGTH,
    Destination,
    opening_query,
    parse_destination,
)


def test_a_destination_is_a_page_with_an_optional_query_and_loses_its_leading_slash() -> None:
    assert parse_destination("/pages/product/detail?id=42&sku=a-1") == Destination(
        page="pages/product/detail", query="id=42&sku=a-1"
    )
    assert parse_destination(" pages/index/index ") == Destination(page="pages/index/index")
    assert str(parse_destination("pages/p?id=1")) == "pages/p?id=1"


@pytest.mark.parametrize(
    "raw",
    [
        "https://evil.example/pages/x",
        "//evil.example/pages/x",
        "javascript:alert(1)",
        "weixin://dl/business",
        "pages/../admin",
        "pages/x y",
        "pages/x?id=<script>",
        "pages/x?id=1#top",
        "pages\\x",
        "",
        "pages/x?scene=abc",
        "p" * (MAX_DESTINATION_LENGTH + 1),
    ],
)
def test_a_destination_names_no_scheme_no_host_and_fits_wechat(raw: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_destination(raw)
    assert refused.value.code == "invalid_destination"
    assert "destination" in (refused.value.fields or {})


def test_the_mini_program_opens_with_the_destination_query_then_the_scene() -> None:
    product = Destination(page="pages/product/detail", query="id=42")
    assert opening_query(product, short_code="aB3") == "id=42&scene=aB3"
    assert opening_query(None, short_code="aB3") == "scene=aB3"
    assert opening_query(Destination(page="pages/a"), short_code="aB3") == "scene=aB3"
