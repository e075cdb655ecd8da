"""The catalog in the console: unknown products of accepted orders, the catalog's products,
names beside rule ids, and API keys created with chosen scopes."""

from __future__ import annotations

from sanic import Sanic

from server.models import ApiKey
from server.services.catalog.sync import push_catalog
from tests.api.console.client import signed_in
from tests.order_builders import line, paid, send_ok, shop

AT = "2026-03-01T12:00:00+08:00"


async def test_staff_see_unknown_products_and_the_catalogs_names(app: Sanic) -> None:
    program = await shop()
    await push_catalog(
        program_id=program.id,
        categories=[{"id": "tea", "name": "Tea leaves", "updated_at": AT}],
        products=[
            {
                "id": "SKU-9",
                "name": "Longjing 250 g",
                "category_id": "tea",
                "price": "99.00",
                "currency": "CNY",
                "status": "active",
                "updated_at": AT,
            }
        ],
        key_id="fxk_test",
    )
    await send_ok(program, paid("O1", line("L1", product_id="MYSTERY-1")))
    console = await signed_in(app, "staff", username="catalog_console")
    unknown = await console.get(f"/console/catalog/unknown-products?program_id={program.id}")
    assert unknown.status_code == 200
    assert "MYSTERY-1" in unknown.text and "SKU-9" not in unknown.text
    products = await console.get(f"/console/catalog/products?program_id={program.id}")
    assert "Longjing 250 g" in products.text and "Tea leaves" in products.text
    assert "¥99.00" in products.text
    await console.post(
        f"/console/programs/{program.id}/rules",
        {"kind": "percent", "value": "20", "level": "1", "product_id": "SKU-9"},
    )
    detail = await console.get(f"/console/programs/{program.id}")
    assert "Longjing 250 g" in detail.text
    await console.close()


async def test_an_admin_creates_a_key_with_the_scopes_ticked(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "admin", username="scope_admin")
    await console.get(f"/console/programs/{program.id}")
    page = await console.get(f"/console/programs/{program.id}")
    assert 'value="reports:read"' in page.text
    issued = await console.http.post(
        f"/console/programs/{program.id}/api-keys",
        data={
            "csrf_token": console.csrf,
            "name": "reporting",
            "scopes": ["reports:read", "commissions:read"],
        },
    )
    assert issued.status_code == 200, issued.text
    key = await ApiKey.get(program_id=program.id, name="reporting")
    assert key.scopes.split() == ["commissions:read", "reports:read"]
    refused = await console.http.post(
        f"/console/programs/{program.id}/api-keys",
        data={"csrf_token": console.csrf, "name": "bad", "scopes": ["orders:delete"]},
    )
    assert refused.status_code == 422 and 'class="field-error"' in refused.text
    await console.close()
