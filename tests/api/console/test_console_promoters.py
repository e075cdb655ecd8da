"""The promoters page: the API's filters and pages, escaped names, both languages."""

from __future__ import annotations

from sanic import Sanic

from server.models import Promoter
from tests.api.console.client import signed_in
from tests.order_builders import promoter, shop

SCRIPT_NAME = "<script>alert(1)</script>"


async def test_a_promoter_named_like_a_script_is_shown_as_text(app: Sanic) -> None:
    program = await shop()
    hostile = await promoter(program)
    await Promoter.filter(id=hostile.id).update(real_name=SCRIPT_NAME)
    console = await signed_in(app, "staff", username="escape_staff")
    response = await console.get(f"/console/promoters?program_id={program.id}")
    assert response.status_code == 200
    assert SCRIPT_NAME not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    await console.close()


async def test_the_list_filters_by_status_like_the_api(app: Sanic) -> None:
    program = await shop()
    applied = await promoter(program, status="applied")
    approved = await promoter(program)
    console = await signed_in(app, "staff", username="filter_staff")
    response = await console.get(f"/console/promoters?program_id={program.id}&status=applied")
    assert f'href="/console/promoters/{applied.id}"' in response.text
    assert f'href="/console/promoters/{approved.id}"' not in response.text
    assert "待审核" in response.text
    await console.close()


async def test_a_bad_filter_is_a_readable_422_not_a_500(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="bad_filter_staff")
    response = await console.get(f"/console/promoters?program_id={program.id}&status=nope")
    assert response.status_code == 422
    assert "部分填写内容无效" in response.text
    await console.close()


async def test_the_next_page_continues_after_the_last_row(app: Sanic) -> None:
    program = await shop()
    members = [await promoter(program) for _ in range(3)]
    console = await signed_in(app, "staff", username="page_staff")
    first = await console.get(f"/console/promoters?program_id={program.id}&limit=2")
    assert f"cursor={members[1].id}" in first.text
    more = await console.get(
        f"/console/promoters?program_id={program.id}&limit=2&cursor={members[1].id}",
        headers={"HX-Request": "true"},
    )
    assert "<html" not in more.text  # only rows, swapped in place of the "load more" row
    assert f'href="/console/promoters/{members[0].id}"' in more.text
    await console.close()


async def test_the_english_switch_is_remembered(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "staff", username="lang_staff")
    path = f"/console/promoters?program_id={program.id}"
    assert "推广员" in (await console.get(path)).text
    switched = await console.get("/console/lang/en", params={"next": path})
    assert switched.status_code == 303 and switched.headers["location"] == path
    page = await console.get(path)
    assert "Promoters" in page.text and "推广员" not in page.text
    await console.close()
