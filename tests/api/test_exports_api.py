from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest

from server import clock
from server.models import Commission, Order, OrderLine, Program, Promoter, Withdrawal
from server.services.csv_export import CHUNK_SIZE
from server.services.payouts import exports
from tests.api.conftest import Api, ApiResponse
from tests.ledger_checks import make_commission
from tests.service.promoters.test_hierarchy import new_program, new_promoter

BOM = "\ufeff"


def _table(response: ApiResponse) -> list[list[str]]:
    text = response.body.decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text.removeprefix(BOM))))


async def _bulk_commissions(program: Program, promoter: Promoter, count: int) -> None:
    """`count` settled commissions on one order, one line each, inserted in bulk."""
    order = await Order.create(
        program=program,
        external_id="bulk-1",
        status="completed",
        currency=program.currency,
        total_amount=Decimal(count),
        placed_at=clock.now(),
    )
    await OrderLine.bulk_create(
        [
            OrderLine(
                order=order,
                line_ref=str(i),
                product_id="sku",
                quantity=1,
                unit_price=Decimal("1.00"),
                amount=Decimal("1.00"),
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    line_ids = await OrderLine.filter(order=order).values_list("id", flat=True)
    await Commission.bulk_create(
        [
            Commission(
                program=program,
                order=order,
                order_line_id=line_id,
                promoter=promoter,
                level=1,
                currency=program.currency,
                status="settled",
                kind="percent",
                rate=Decimal("10"),
                quantity=1,
                line_amount=Decimal("1.00"),
                base_amount=Decimal("1.00"),
                rule_source="program_level",
                amount=Decimal("0.10"),
                original_amount=Decimal("0.10"),
            )
            for line_id in line_ids
        ],
        batch_size=2000,
    )


async def test_a_large_commission_export_is_read_in_keyset_chunks_and_streams_every_row(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    total = 20_000
    await _bulk_commissions(program, promoter, total)
    chunk_sizes: list[int] = []
    original = exports.keyset_chunks

    async def counted(query: Any, **kwargs: Any) -> Any:
        async for chunk in original(query, **kwargs):
            chunk_sizes.append(len(chunk))
            yield chunk

    monkeypatch.setattr(exports, "keyset_chunks", counted)
    token = await api.staff_token("finance")

    response = await api.get(
        "/admin/v1/exports/commissions.csv", token=token, params={"program_id": program.id}
    )

    assert response.status == 200, response.text[:500]
    assert response.content_type == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    table = _table(response)
    assert table[0][:3] == ["id", "program_id", "promoter_id"]
    assert len(table) == total + 1
    ids = [int(row[0]) for row in table[1:]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == total
    assert max(chunk_sizes) == CHUNK_SIZE
    assert sum(chunk_sizes) == total and len(chunk_sizes) >= total // CHUNK_SIZE


async def test_the_commission_export_takes_the_lists_filters(api: Api) -> None:
    program = await new_program()
    first, second = await new_promoter(program), await new_promoter(program)
    await make_commission(program, first, amount="1.00", status="approved")
    await make_commission(program, second, amount="2.50", status="approved")
    await make_commission(program, second, amount="3.00", status="pending")
    token = await api.staff_token("finance")
    filters = {"program_id": program.id, "promoter_id": second.id, "status": "approved"}

    exported = await api.get("/admin/v1/exports/commissions.csv", token=token, params=filters)
    listed = await api.get("/admin/v1/commissions", token=token, params=filters)

    table = _table(exported)
    amount = table[0].index("amount")
    assert [row[amount] for row in table[1:]] == ["2.50"]
    assert [int(row[0]) for row in table[1:]] == [item["id"] for item in listed.json["items"]]


async def test_an_export_with_a_bad_filter_is_a_coded_json_error(api: Api) -> None:
    token = await api.staff_token("finance")
    response = await api.get(
        "/admin/v1/exports/commissions.csv", token=token, params={"status": "nonsense"}
    )
    assert response.status == 422
    assert response.json["error"]["code"] == "invalid_query"


async def test_withdrawal_and_payout_batch_exports_stream_a_header_when_empty(api: Api) -> None:
    token = await api.staff_token("admin")
    withdrawals = await api.get("/admin/v1/exports/withdrawals.csv", token=token)
    batches = await api.get("/admin/v1/exports/payout-batches.csv", token=token)
    assert _table(withdrawals) == [list(exports.WITHDRAWAL_HEADER)]
    assert _table(batches) == [list(exports.PAYOUT_BATCH_HEADER)]


async def _withdrawal(program: Program, promoter: Promoter, status: str, key: str) -> None:
    await Withdrawal.create(
        program_id=program.id,
        promoter_id=promoter.id,
        user_id=promoter.user_id,  # type: ignore[attr-defined]
        currency="CNY",
        amount=Decimal("100.00"),
        fee=Decimal("1.00"),
        tax=Decimal("0.00"),
        net=Decimal("99.00"),
        method="bank",
        real_name="=cmd|' /C calc'!A0",
        account_number="6222021234567890",
        status=status,
        idempotency_key=key,
        request_fingerprint=key,
        origin="request",
        created_at=clock.now(),
        updated_at=clock.now(),
    )


async def test_the_withdrawal_export_filters_masks_account_numbers_and_defuses_formulas(
    api: Api,
) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    await _withdrawal(program, promoter, "paid", "w1")
    await _withdrawal(program, promoter, "requested", "w2")
    token = await api.staff_token("finance")

    response = await api.get(
        "/admin/v1/exports/withdrawals.csv", token=token, params={"status": "paid"}
    )

    table = _table(response)
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert [(r["status"], r["net"], r["account_number"]) for r in rows] == [
        ("paid", "99.00", "************7890")
    ]
    assert rows[0]["real_name"] == "'=cmd|' /C calc'!A0"
