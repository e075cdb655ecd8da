"""Finance's lists: the commission list and its CSV filter by site, channel, campaign,
category, tier, hold and settled or paid time; the CSVs carry what reconciling needs; staff
export what they may read. Expectations are worked out by hand from the rows below."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from server import clock
from server.models import (
    Commission,
    Order,
    OrderLine,
    PayoutItem,
    Program,
    Promoter,
    Site,
    Withdrawal,
)
from tests.api.conftest import Api, ApiResponse
from tests.service.promoters.test_hierarchy import new_program, new_promoter


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _commission(
    program: Program,
    promoter: Promoter,
    *,
    site: Site | None = None,
    campaign: str | None = None,
    channel_id: int | None = None,
    category: str | None = None,
    status: str = "approved",
    hold_reason: str | None = None,
    settled_at: str | None = None,
    paid_at: str | None = None,
) -> Commission:
    order = await Order.create(
        program=program,
        external_id=f"o-{await Order.all().count() + 1}",
        status="completed",
        currency="CNY",
        total_amount=Decimal("100.00"),
        placed_at=clock.now(),
        site_id=site.id if site else None,
        campaign=campaign,
        channel_id=channel_id,
    )
    line = await OrderLine.create(
        order=order,
        line_ref="1",
        product_id="sku",
        category=category,
        quantity=1,
        unit_price=Decimal("100.00"),
        amount=Decimal("100.00"),
    )
    return await Commission.create(
        program=program,
        order=order,
        order_line=line,
        promoter=promoter,
        level=1,
        currency="CNY",
        status=status,
        kind="percent",
        rate=Decimal("10"),
        quantity=1,
        line_amount=Decimal("100.00"),
        base_amount=Decimal("100.00"),
        rule_source="program_level",
        amount=Decimal("10.00"),
        original_amount=Decimal("10.00"),
        hold_reason=hold_reason,
        settled_at=_at(settled_at) if settled_at else None,
        paid_at=_at(paid_at) if paid_at else None,
    )


@pytest.fixture
async def books() -> dict[str, Any]:
    """Four commissions of one program (c1..c4) and one of another program."""
    program = await new_program()
    north = await Site.create(program=program, domain="north.example")
    south = await Site.create(program=program, domain="south.example")
    alice = await new_promoter(program)
    await Promoter.filter(id=alice.id).update(real_name="Alice", tier="gold")
    bob = await new_promoter(program, nickname="Bob")
    await Promoter.filter(id=bob.id).update(real_name=None)
    c1 = await _commission(
        program,
        alice,
        site=north,
        campaign="spring",
        channel_id=11,
        category="shoes",
        status="paid",
        settled_at="2026-03-01T10:00:00+00:00",
        paid_at="2026-03-05T10:00:00+00:00",
    )
    c2 = await _commission(
        program, alice, site=south, campaign="summer", category="hats", hold_reason="anomaly:1"
    )
    # Settled at 00:30 on 3 March in Shanghai, still 2 March in UTC.
    c3 = await _commission(
        program,
        bob,
        site=north,
        campaign="spring",
        channel_id=12,
        category="shoes",
        status="settled",
        settled_at="2026-03-02T16:30:00+00:00",
    )
    c4 = await _commission(program, bob, status="pending")
    other = await new_program("Q")
    await _commission(other, await new_promoter(other), category="shoes")
    return {
        "program": program,
        "north": north,
        "ids": {c.id: name for c, name in ((c1, "c1"), (c2, "c2"), (c3, "c3"), (c4, "c4"))},
    }


def _table(response: ApiResponse) -> list[dict[str, str]]:
    assert response.status == 200, response.text[:300]
    return list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))


MARCH_1_SHANGHAI = "2026-03-01T00:00:00+08:00"
MARCH_3_SHANGHAI = "2026-03-03T00:00:00+08:00"
FILTERS: list[tuple[dict[str, Any], set[str]]] = [
    ({}, {"c1", "c2", "c3", "c4"}),
    ({"site": "north"}, {"c1", "c3"}),
    ({"channel_id": 11}, {"c1"}),
    ({"campaign": "spring"}, {"c1", "c3"}),
    ({"category": "shoes"}, {"c1", "c3"}),
    ({"tier": "gold"}, {"c1", "c2"}),
    ({"on_hold": "true"}, {"c2"}),
    ({"on_hold": "false"}, {"c1", "c3", "c4"}),
    # Shanghai's 1 and 2 March: c1 (1 March 18:00 there), not c3 (3 March 00:30 there).
    (
        {"settled_from": "2026-03-01T00:00:00+08:00", "settled_to": "2026-03-03T00:00:00+08:00"},
        {"c1"},
    ),
    ({"settled_from": "2026-03-03T00:00:00+08:00"}, {"c3"}),
    ({"paid_from": "2026-03-05T00:00:00Z", "paid_to": "2026-03-06T00:00:00Z"}, {"c1"}),
    ({"paid_to": "2026-03-05T10:00:00Z"}, set()),
    ({"site": "north", "tier": "default"}, {"c3"}),
]


@pytest.mark.parametrize(("filters", "expected"), FILTERS)
async def test_the_commission_list_and_its_csv_select_the_same_rows(
    api: Api, books: dict[str, Any], filters: dict[str, Any], expected: set[str]
) -> None:
    params = {"program_id": books["program"].id, **filters}
    if params.pop("site", None):
        params["site_id"] = books["north"].id
    token = await api.staff_token("finance")
    listed = await api.get("/admin/v1/commissions", token=token, params=params)
    exported = await api.get("/admin/v1/exports/commissions.csv", token=token, params=params)
    assert listed.status == 200, listed.text
    names = books["ids"]
    assert {names[item["id"]] for item in listed.json["items"]} == expected
    assert {names[int(row["id"])] for row in _table(exported)} == expected


async def test_the_commission_csv_carries_payout_category_site_and_promoter_name(
    api: Api, books: dict[str, Any]
) -> None:
    names = {name: commission_id for commission_id, name in books["ids"].items()}
    await Commission.filter(id=names["c1"]).update(payout_id=4242)
    token = await api.staff_token("finance")
    rows = _table(
        await api.get(
            "/admin/v1/exports/commissions.csv",
            token=token,
            params={"program_id": books["program"].id},
        )
    )
    by_name = {books["ids"][int(r["id"])]: r for r in rows}
    picked = ("payout_id", "category", "site_id", "site", "channel_id", "campaign", "tier")
    assert {k: by_name["c1"][k] for k in (*picked, "promoter_name")} == {
        "payout_id": "4242",
        "category": "shoes",
        "site_id": str(books["north"].id),
        "site": "north.example",
        "channel_id": "11",
        "campaign": "spring",
        "tier": "gold",
        "promoter_name": "Alice",
    }
    # No real name given: the WeChat nickname; an order with no site or category: empty.
    assert {k: by_name["c4"][k] for k in (*picked, "promoter_name")} == {
        "payout_id": "",
        "category": "",
        "site_id": "",
        "site": "",
        "channel_id": "",
        "campaign": "",
        "tier": "default",
        "promoter_name": "Bob",
    }


async def _withdrawal(program: Program, promoter: Promoter, key: str) -> int:
    row = await Withdrawal.create(
        program_id=program.id,
        promoter_id=promoter.id,
        user_id=promoter.user_id,  # type: ignore[attr-defined]
        currency="CNY",
        amount=Decimal("12.00"),
        fee=Decimal("0.00"),
        tax=Decimal("0.00"),
        net=Decimal("12.00"),
        method="offline",
        status="paid",
        idempotency_key=key,
        request_fingerprint=key,
        origin="request",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    return row.id


async def test_the_withdrawal_csv_lists_the_commissions_each_covers(
    api: Api, books: dict[str, Any]
) -> None:
    names = {name: commission_id for commission_id, name in books["ids"].items()}
    program = books["program"]
    promoter = await Promoter.filter(program=program).order_by("id").first()
    assert promoter is not None
    first = await _withdrawal(program, promoter, "w1")
    second = await _withdrawal(program, promoter, "w2")
    # c3, c1 in two parts (listed once), and an adjustment (not a commission).
    covered = ((names["c3"], "4.00"), (names["c1"], "5.00"), (names["c1"], "1.00"))
    for commission_id, amount in covered:
        await PayoutItem.create(
            withdrawal_id=first,
            kind="commission",
            commission_id=commission_id,
            amount=Decimal(amount),
            created_at=clock.now(),
        )
    await PayoutItem.create(
        withdrawal_id=first, kind="adjustment", amount=Decimal("2.00"), created_at=clock.now()
    )
    token = await api.staff_token("finance")
    rows = _table(
        await api.get(
            "/admin/v1/exports/withdrawals.csv", token=token, params={"program_id": program.id}
        )
    )
    expected = ";".join(str(i) for i in sorted((names["c1"], names["c3"])))
    assert {int(r["id"]): r["commission_ids"] for r in rows} == {first: expected, second: ""}


async def test_staff_export_what_they_may_read(api: Api, books: dict[str, Any]) -> None:
    token = await api.staff_token("staff")
    params = {"program_id": books["program"].id}
    listed = await api.get("/admin/v1/commissions", token=token, params=params)
    exported = await api.get("/admin/v1/exports/commissions.csv", token=token, params=params)
    assert {int(r["id"]) for r in _table(exported)} == {i["id"] for i in listed.json["items"]}
    for path in ("withdrawals.csv", "payout-batches.csv"):
        response = await api.get(f"/admin/v1/exports/{path}", token=token, params=params)
        assert response.status == 200
