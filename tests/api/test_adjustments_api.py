from __future__ import annotations

import httpx

from server.models import Adjustment, LedgerEntry
from tests.api.conftest import Api, ApiResponse
from tests.service.promoters.test_hierarchy import new_program, new_promoter


def _body(promoter_id: int, amount: str = "12.00", **overrides: object) -> dict[str, object]:
    return {
        "promoter_id": promoter_id,
        "amount": amount,
        "currency": "CNY",
        "reason_code": "bonus",
        "idempotency_key": "key-1",
        **overrides,
    }


async def test_finance_credits_a_promoter_and_a_retry_returns_the_same_adjustment(api: Api) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    token = await api.staff_token("finance")
    url = f"/admin/v1/programs/{program.id}/adjustments"

    created = await api.post(url, token=token, json=_body(promoter.id))
    again = await api.post(url, token=token, json=_body(promoter.id))

    assert created.status == 201, created.text
    assert created.json["amount"] == "12.00"
    assert (again.status, again.json["id"]) == (200, created.json["id"])
    assert await LedgerEntry.filter(kind="adjustment").count() == 1


async def test_an_adjustment_in_the_wrong_currency_is_a_coded_422(api: Api) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    token = await api.staff_token("finance")

    response = await api.post(
        f"/admin/v1/programs/{program.id}/adjustments",
        token=token,
        json=_body(promoter.id, currency="USD"),
    )

    assert response.status == 422
    assert response.json["error"]["code"] == "currency_mismatch"
    assert await Adjustment.all().count() == 0


async def test_staff_may_read_adjustments_but_not_create_them(api: Api) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    staff = await api.staff_token("staff")
    url = f"/admin/v1/programs/{program.id}/adjustments"

    refused = await api.post(url, token=staff, json=_body(promoter.id))
    listed = await api.get(url, token=staff)

    assert refused.status == 403
    assert (listed.status, listed.json["items"]) == (200, [])


async def test_an_uploaded_csv_is_applied_whole_or_refused_with_a_row_report(api: Api) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    token = await api.staff_token("finance")
    url = f"/admin/v1/programs/{program.id}/adjustments/batches"
    bad = (
        f"promoter_id,amount,currency,reason_code\n{promoter.id},5,CNY,bonus\n999999,5,CNY,bonus\n"
    )
    good = f"promoter_id,amount,currency,reason_code\n{promoter.id},5,CNY,bonus\n"

    refused = await api.post(url, token=token, content=bad, headers={"content-type": "text/csv"})
    applied = await _multipart(api, url, token, good)

    assert refused.status == 422
    assert refused.json["error"]["code"] == "adjustment_upload_invalid"
    assert refused.json["error"]["fields"]["errors"] == [
        {
            "row": 3,
            "field": "promoter_id",
            "code": "promoter_not_in_program",
            "message": "no such promoter here",
        }
    ]
    assert applied.status == 201, applied.text
    assert (applied.json["filename"], applied.json["row_count"]) == ("june.csv", 1)
    listed = await api.get(
        f"/admin/v1/programs/{program.id}/adjustments",
        token=token,
        params={"batch_id": applied.json["id"]},
    )
    assert [item["amount"] for item in listed.json["items"]] == ["5.00"]


async def _multipart(api: Api, url: str, token: str, text: str) -> ApiResponse:
    transport = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post(
            url,
            headers={"authorization": f"Bearer {token}"},
            files={"file": ("june.csv", text.encode(), "text/csv")},
        )
    return ApiResponse(response)
