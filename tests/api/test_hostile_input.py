"""Hostile input is a coded 4xx, never a 500, and cannot grow the metrics without bound."""

from __future__ import annotations

import random
import string

import httpx
import pytest

from server.metrics import KNOWN_METHODS
from tests.api.conftest import Api
from tests.service.promoters.test_hierarchy import new_program, new_promoter


def _series(exposition: str, name: str) -> list[str]:
    return [line for line in exposition.splitlines() if line.startswith(name + "{")]


async def test_deeply_nested_json_is_a_coded_400_on_any_route(api: Api) -> None:
    token = await api.staff_token("admin")
    nested = "[" * 1000 + "]" * 1000
    for method, path in (
        ("POST", "/admin/v1/programs"),
        ("POST", "/admin/v1/auth/login"),
        ("POST", "/mp/v1/auth/login"),
    ):
        response = await api.request(method, path, token=token, content=nested)
        assert response.status == 400, (path, response.text)
        assert response.json["error"]["code"] == "malformed_json"


async def test_an_amount_too_large_for_any_decimal_context_is_a_coded_422(api: Api) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    token = await api.staff_token("finance")
    for amount in ("1e999999999", "-1e999999999", "1e-999999999", "NaN", "Infinity"):
        response = await api.post(
            f"/admin/v1/programs/{program.id}/adjustments",
            token=token,
            json={
                "promoter_id": promoter.id,
                "amount": amount,
                "currency": "CNY",
                "reason_code": "bonus",
                "idempotency_key": f"huge-{amount}",
            },
        )
        assert response.status == 422, (amount, response.text)
        assert "amount" in response.json["error"]["fields"]


@pytest.mark.sqlite_only  # no database involved: once is enough
async def test_made_up_http_methods_add_no_metric_series(api: Api) -> None:
    await api.get("/metrics")  # the scrape's own series exists before counting
    before = _series((await api.get("/metrics")).text, "fenxiao_http_requests_total")
    rng = random.Random(17)
    transport = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(10_000):
            method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
            if method in KNOWN_METHODS:
                continue
            await client.request(method, "/healthz")
    after = _series((await api.get("/metrics")).text, "fenxiao_http_requests_total")

    new_series = {line.rsplit(" ", 1)[0] for line in after} - {
        line.rsplit(" ", 1)[0] for line in before
    }
    # Every made-up verb lands in one OTHER series (unmatched route, 405).
    assert len(new_series) <= 1, new_series
    assert all('method="OTHER"' in series for series in new_series), new_series
