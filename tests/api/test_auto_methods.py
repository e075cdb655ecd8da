"""HEAD and OPTIONS are answered for every route, as sanic-ext answers them, although its
handlers are added in one pass at start-up (server/auto_methods.py)."""

from __future__ import annotations

from sanic import Sanic

from tests.api.conftest import Api


async def test_head_answers_a_get_route_with_its_headers_and_no_body(api: Api) -> None:
    got = await api.get("/healthz")
    head = await api.request("HEAD", "/healthz")
    assert head.status == got.status == 200
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.body == b""


async def test_options_lists_the_methods_of_a_route(api: Api) -> None:
    response = await api.request("OPTIONS", "/admin/v1/programs")
    assert response.status == 204
    assert set(response.headers["allow"].split(",")) >= {"GET", "POST", "HEAD", "OPTIONS"}


async def test_every_route_answers_options_and_every_get_route_head(app: Sanic, api: Api) -> None:
    await api.get("/healthz")  # the app has started
    groups = list(app.router.groups.values())
    assert len(groups) > 100
    assert all("OPTIONS" in group.methods for group in groups)
    assert all("HEAD" in group.methods for group in groups if "GET" in group.methods)
