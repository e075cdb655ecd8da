"""What the catalog gives staff: names beside the ids rules and reports use, and the product
ids of accepted orders that the catalog does not know."""

from __future__ import annotations

from typing import Any

import pytest

from server.services.catalog.sync import push_catalog
from tests.api.conftest import Api
from tests.order_builders import line, paid, send_ok, shop
from tests.report_builders import day_in_shanghai

DAY = {"from": "2026-03-02", "to": "2026-03-02"}
AT = "2026-03-01T12:00:00+08:00"


def _product(external_id: str, name: str, category_id: str = "tea") -> dict[str, Any]:
    return {
        "id": external_id,
        "name": name,
        "category_id": category_id,
        "price": "10.00",
        "currency": "CNY",
        "status": "active",
        "updated_at": AT,
    }


async def _push(program_id: int, *, categories: Any = (), products: Any = ()) -> None:
    await push_catalog(
        program_id=program_id,
        categories=list(categories),
        products=list(products),
        key_id="fxk_test",
    )


@pytest.fixture
async def staff(api: Api) -> str:
    return await api.staff_token("staff", username="catalog_staff")


async def test_rule_documents_show_the_catalogs_names_of_their_product_and_category(
    api: Api, staff: str
) -> None:
    program = await shop()
    await _push(
        program.id,
        categories=[{"id": "shoes", "name": "Shoes", "updated_at": AT}],
        products=[_product("BOOT", "Winter boot", "shoes")],
    )
    base = f"/admin/v1/programs/{program.id}/commission-rules"
    body = {"name": "Boots", "kind": "percent", "value": "20", "level": 1, "product_id": "BOOT"}
    created = await api.post(base, token=staff, json=body)
    assert created.status == 201, created.text
    assert (created.json["product_name"], created.json["category_name"]) == ("Winter boot", None)
    by_category = {
        "name": "Shoes",
        "kind": "percent",
        "value": "5",
        "level": 1,
        "category": "shoes",
    }
    await api.post(base, token=staff, json=by_category)
    unknown = {"name": "Hats", "kind": "percent", "value": "5", "level": 1, "product_id": "HAT"}
    await api.post(base, token=staff, json=unknown)
    listed = (await api.get(base, token=staff)).json["items"]
    assert [(r["product_id"], r["product_name"], r["category_name"]) for r in listed] == [
        ("BOOT", "Winter boot", None),
        (None, None, "Shoes"),
        ("HAT", None, None),
    ]
    one = await api.get(f"/admin/v1/commission-rules/{created.json['id']}", token=staff)
    assert one.json["product_name"] == "Winter boot"


async def test_report_breakdowns_by_product_and_category_show_the_catalogs_names(
    api: Api, staff: str
) -> None:
    program, _top, _nearest = await day_in_shanghai()
    await _push(
        program.id,
        categories=[{"id": "tea", "name": "Tea leaves", "updated_at": AT}],
        products=[_product("SKU-1", "Longjing 250 g")],
    )
    path = f"/admin/v1/programs/{program.id}/reports/breakdown"
    category = (await api.get(path, token=staff, params={"dimension": "category", **DAY})).json
    assert [(i["value"], i["name"]) for i in category["items"]] == [("tea", "Tea leaves")]
    product = (await api.get(path, token=staff, params={"dimension": "product", **DAY})).json
    assert [(i["value"], i["name"]) for i in product["items"]] == [("SKU-1", "Longjing 250 g")]


async def test_orders_naming_unknown_products_are_accepted_and_listed_for_staff(
    api: Api, staff: str
) -> None:
    program = await shop()
    await _push(program.id, products=[_product("KNOWN", "Known tea")])
    await send_ok(
        program, paid("O1", line("L1", product_id="NEW-1"), line("L2", product_id="KNOWN"))
    )
    await send_ok(
        program, paid("O2", line("L1", product_id="NEW-1"), line("L2", product_id="NEW-2"))
    )
    path = f"/admin/v1/programs/{program.id}/catalog/unknown-products"
    listed = await api.get(path, token=staff)
    assert listed.status == 200, listed.text
    assert [(i["product_id"], i["orders"]) for i in listed.json["items"]] == [
        ("NEW-1", 2),
        ("NEW-2", 1),
    ]
    first = listed.json["items"][0]
    assert first["first_seen"] <= first["last_seen"]
    page = await api.get(path, token=staff, params={"limit": 1})
    assert page.json["next_cursor"] == "NEW-1"
    rest = await api.get(path, token=staff, params={"limit": 1, "cursor": "NEW-1"})
    assert [i["product_id"] for i in rest.json["items"]] == ["NEW-2"]
    await _push(program.id, products=[_product("NEW-1", "New tea")])
    after = await api.get(path, token=staff)
    assert [i["product_id"] for i in after.json["items"]] == ["NEW-2"]
    products = await api.get(f"/admin/v1/programs/{program.id}/catalog/products", token=staff)
    assert [(p["product_id"], p["name"]) for p in products.json["items"]] == [
        ("KNOWN", "Known tea"),
        ("NEW-1", "New tea"),
    ]
