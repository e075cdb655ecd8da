"""/docs works with no internet: Swagger UI and its assets come from the app itself."""

from __future__ import annotations

import re

from tests.api.conftest import Api


async def test_the_docs_page_loads_every_asset_from_the_app(api: Api) -> None:
    page = await api.get("/docs")
    assert page.status == 200
    assert "http://" not in page.text and "https://" not in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(assets)
    for asset in assets:
        served = await api.get(asset)
        assert served.status == 200, asset
        assert len(served.text) > 1000, asset


async def test_the_docs_page_offers_both_surface_documents(api: Api) -> None:
    page = await api.get("/docs")
    for document in ("/admin/v1/openapi.json", "/mp/v1/openapi.json"):
        assert document in page.text
        assert (await api.get(document)).status == 200
