"""The store pushes its catalog over signed S2S: idempotent, later updates win, bad rows are
named and nothing is half-written."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from server.models import CatalogCategory, CatalogProduct, CatalogPush
from tests.api.conftest import Api
from tests.api.test_s2s_auth import _key, _program
from tests.s2s_client import s2s_post

PUSH = "/admin/v1/s2s/catalog"


def product(external_id: str, **changes: Any) -> dict[str, Any]:
    row = {
        "id": external_id,
        "name": f"Tea {external_id}",
        "category_id": "tea",
        "price": "39.90",
        "currency": "CNY",
        "status": "active",
        "updated_at": "2026-03-01T12:00:00+08:00",
    }
    return {**row, **changes}


TEA = {"id": "tea", "name": "Tea", "updated_at": "2026-03-01T12:00:00+08:00"}


@pytest.fixture
async def key(api: Api) -> dict[str, Any]:
    admin = await api.staff_token("admin", username="catalog_admin")
    return await _key(api, admin, await _program(api, admin))


async def push(api: Api, key: dict[str, Any], body: dict[str, Any], **kw: Any) -> Any:
    return await s2s_post(
        api, PUSH, key_id=key["key_id"], secret=key["secret"], json_body=body, **kw
    )


async def test_a_push_creates_categories_and_products_and_the_same_push_again_changes_nothing(
    api: Api, key: dict[str, Any]
) -> None:
    body = {"categories": [TEA], "products": [product("SKU-1"), product("SKU-2")]}
    first = await push(api, key, body)
    assert first.status == 201, first.text
    assert first.json["products"]["created"] == 2
    assert first.json["categories"]["created"] == 1
    again = await push(api, key, body)
    assert again.status == 201
    assert again.json["products"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "stale": 0,
        "stale_ids": [],
    }
    stored = await CatalogProduct.filter(program_id=key["program_id"]).order_by("external_id")
    assert [(p.external_id, p.name, str(p.price)) for p in stored] == [
        ("SKU-1", "Tea SKU-1", "39.90"),
        ("SKU-2", "Tea SKU-2", "39.90"),
    ]


async def test_a_later_update_wins_and_an_older_one_is_ignored(
    api: Api, key: dict[str, Any]
) -> None:
    await push(api, key, {"products": [product("SKU-1")]})
    newer = product("SKU-1", name="Green tea", updated_at="2026-03-02T00:00:00Z")
    assert (await push(api, key, {"products": [newer]})).json["products"]["updated"] == 1
    older = product("SKU-1", name="Old name", updated_at="2026-03-01T23:59:59Z")
    answer = await push(api, key, {"products": [older]})
    assert answer.json["products"]["stale"] == 1
    assert answer.json["products"]["stale_ids"] == ["SKU-1"]
    stored = await CatalogProduct.get(program_id=key["program_id"], external_id="SKU-1")
    assert stored.name == "Green tea"


async def test_bad_rows_are_named_and_nothing_is_written(api: Api, key: dict[str, Any]) -> None:
    body = {
        "categories": [TEA],
        "products": [
            product("SKU-1"),
            product("SKU-2", price="1.999"),
            product("SKU-3", currency="USD"),
            product("SKU-4", updated_at="2026-03-01T12:00:00"),
            product("SKU-1", status="gone"),
        ],
    }
    response = await push(api, key, body)
    assert response.status == 422, response.text
    assert response.json["error"]["code"] == "catalog_rows_invalid"
    assert set(response.json["error"]["fields"]) == {
        "products[1].price",
        "products[2].currency",
        "products[3].updated_at",
        "products[4].id",
        "products[4].status",
    }
    assert await CatalogProduct.filter(program_id=key["program_id"]).count() == 0
    assert await CatalogCategory.filter(program_id=key["program_id"]).count() == 0


async def test_an_idempotency_key_replays_the_first_answer(api: Api, key: dict[str, Any]) -> None:
    body = {"products": [product("SKU-1")]}
    first = await push(api, key, body, extra_headers={"Idempotency-Key": "push-1"})
    later = product("SKU-1", name="Changed", updated_at="2026-04-01T00:00:00Z")
    await push(api, key, {"products": [later]})
    replay = await push(api, key, body, extra_headers={"Idempotency-Key": "push-1"})
    assert replay.status == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json == first.json
    other = await push(api, key, {"products": [later]}, extra_headers={"Idempotency-Key": "push-1"})
    assert (other.status, other.json["error"]["code"]) == (409, "idempotency_key_reused")


async def test_five_thousand_products_fit_in_one_push(api: Api, key: dict[str, Any]) -> None:
    products = [product(f"SKU-{n}") for n in range(5000)]
    started = time.perf_counter()
    response = await push(api, key, {"products": products})
    elapsed = time.perf_counter() - started
    assert response.status == 201, response.text[:500]
    assert response.json["products"]["created"] == 5000
    newer = [
        product(f"SKU-{n}", price="35.00", updated_at="2026-03-02T00:00:00Z") for n in range(5000)
    ]
    started = time.perf_counter()
    response = await push(api, key, {"products": newer})
    print(f"5000 products: create {elapsed:.2f}s, update {time.perf_counter() - started:.2f}s")
    assert response.json["products"]["updated"] == 5000
    too_many = await push(api, key, {"products": [*products, product("SKU-X")]})
    assert too_many.status == 422


async def test_two_pushes_of_the_same_new_products_at_once_store_each_product_once(
    api: Api, key: dict[str, Any]
) -> None:
    first = {"products": [product(f"SKU-{n}") for n in range(50)]}
    second = {
        "products": [
            product(f"SKU-{n}", name="Later", updated_at="2026-03-02T00:00:00Z")
            for n in range(25, 75)
        ]
    }
    answers = await asyncio.gather(push(api, key, first), push(api, key, second))
    assert [answer.status for answer in answers] == [201, 201], [a.text for a in answers]
    stored = await CatalogProduct.filter(program_id=key["program_id"])
    assert len(stored) == 75
    # Whichever push came first, the later update of 25..49 wins.
    assert {p.name for p in stored if 25 <= int(p.external_id[4:]) < 50} == {"Later"}


async def test_one_idempotency_key_sent_four_times_at_once_applies_one_push(
    api: Api, key: dict[str, Any]
) -> None:
    body = {"products": [product("SKU-1")]}
    answers = await asyncio.gather(
        *(push(api, key, body, extra_headers={"Idempotency-Key": "push-9"}) for _ in range(4))
    )
    assert sorted(a.status for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json["id"] for a in answers}) == 1
    assert await CatalogPush.filter(program_id=key["program_id"]).count() == 1


async def test_another_programs_store_may_use_the_same_idempotency_key(
    api: Api, key: dict[str, Any]
) -> None:
    admin = await api.staff_token("admin", username="catalog_admin_2")
    other = await _key(api, admin, await _program(api, admin, name="Other shop"))
    body = {"products": [product("SKU-1")]}
    mine = await push(api, key, body, extra_headers={"Idempotency-Key": "shared-1"})
    theirs = await push(api, other, body, extra_headers={"Idempotency-Key": "shared-1"})
    assert (mine.status, theirs.status) == (201, 201)
    assert await CatalogProduct.filter(external_id="SKU-1").count() == 2
