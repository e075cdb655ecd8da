"""A JPY program's amounts show no decimals anywhere: JSON of both APIs, CSV exports and
statements ("1500", never "1500.00"); the yen has no minor unit."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from server import clock
from server.config import Settings
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.order_builders import bind, chain, customer, line, paid, send_ok, settle_order, shop

DECIMAL_TEXT = re.compile(r"^-?\d+\.\d+$")


def _decimals_in(value: Any, path: str = "") -> list[str]:
    """Every string of the response that is a number written with decimals, by its path."""
    if isinstance(value, dict):
        return [hit for key, item in value.items() for hit in _decimals_in(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [hit for n, item in enumerate(value) for hit in _decimals_in(item, f"{path}[{n}]")]
    if isinstance(value, str) and DECIMAL_TEXT.match(value):
        return [f"{path}={value}"]
    return []


def _csv_decimals(text: str) -> list[str]:
    rows = list(csv.reader(io.StringIO(text)))
    return [
        f"row {r} column {n}={cell}"
        for r, row in enumerate(rows)
        for n, cell in enumerate(row)
        if DECIMAL_TEXT.match(cell)
    ]


async def test_a_yen_program_shows_whole_yen_in_every_answer_and_export(
    api: Api, settings: Settings
) -> None:
    program = await shop(
        currency="JPY", withdrawal_rules={"minimum": "100", "methods": ["offline"]}
    )
    top, nearest = await chain(program, 2)
    buyer = await customer()
    placed = clock.now() - timedelta(days=20)
    await bind(program, nearest, user=buyer, at=placed - timedelta(hours=1))
    await send_ok(
        program, paid("JP-1", line("L1", "1500"), buyer=buyer, placed_at=placed, currency="JPY")
    )
    await settle_order(program, "JP-1", completed_at=placed + timedelta(days=1))
    finance = await api.staff_token("finance")
    adjusted = await api.post(
        f"/admin/v1/programs/{program.id}/adjustments",
        token=finance,
        json={
            "promoter_id": nearest.id,
            "amount": "25",
            "currency": "JPY",
            "reason_code": "bonus",
            "idempotency_key": "yen-bonus",
        },
    )
    assert adjusted.status == 201, adjusted.text
    token = promoter_token(settings, nearest.user_id)  # type: ignore[attr-defined]
    mp = f"/mp/v1/programs/{program.id}"
    asked = await api.post(
        f"{mp}/withdrawals",
        token=token,
        json={"amount": "100", "method": "offline", "idempotency_key": "yen-withdrawal-1"},
    )
    assert asked.status == 201, asked.text
    withdrawal = f"/admin/v1/withdrawals/{asked.json['id']}"
    await api.post(f"{withdrawal}/approve", token=finance)
    await api.post(f"{withdrawal}/mark-paid", token=finance, json={"reference": "JP-BANK-1"})
    month = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    [commission_id] = [
        c["id"]
        for c in (await api.get(f"{mp}/commissions", token=token)).json["items"]
        if c["level"] == 1
    ]
    order_id = (
        await api.get("/admin/v1/orders", token=finance, params={"program_id": program.id})
    ).json["items"][0]["id"]

    answers = {
        "mp commissions": await api.get(f"{mp}/commissions", token=token),
        "mp commission": await api.get(f"{mp}/commissions/{commission_id}", token=token),
        "mp wallet": await api.get(f"{mp}/wallet", token=token),
        "mp wallet ledger": await api.get(f"{mp}/wallet/ledger", token=token),
        "mp withdrawals": await api.get(f"{mp}/withdrawals", token=token),
        "mp withdrawal": await api.get(f"{mp}/withdrawals/{asked.json['id']}", token=token),
        "mp statement": await api.get(f"{mp}/statement", token=token, params={"period": month}),
        "mp team": await api.get(f"{mp}/team", token=promoter_token(settings, top.user_id)),  # type: ignore[attr-defined]
        "commissions": await api.get(
            "/admin/v1/commissions", token=finance, params={"program_id": program.id}
        ),
        "commission": await api.get(f"/admin/v1/commissions/{commission_id}", token=finance),
        "orders": await api.get(
            "/admin/v1/orders", token=finance, params={"program_id": program.id}
        ),
        "order": await api.get(f"/admin/v1/orders/{order_id}", token=finance),
        "balances": await api.get(f"/admin/v1/promoters/{nearest.id}/balances", token=finance),
        "ledger": await api.get(f"/admin/v1/promoters/{nearest.id}/ledger", token=finance),
        "statement": await api.get(
            f"/admin/v1/promoters/{nearest.id}/statement", token=finance, params={"period": month}
        ),
        "withdrawals": await api.get(
            "/admin/v1/withdrawals", token=finance, params={"program_id": program.id}
        ),
        "withdrawal": await api.get(withdrawal, token=finance),
        "adjustments": await api.get(f"/admin/v1/programs/{program.id}/adjustments", token=finance),
        "program": await api.get(f"/admin/v1/programs/{program.id}", token=finance),
    }
    exports = {
        "statement csv": await api.get(
            f"{mp}/statement", token=token, params={"period": month, "format": "csv"}
        ),
        "statements csv": await api.get(
            f"/admin/v1/programs/{program.id}/statements.csv",
            token=finance,
            params={"period": month},
        ),
        "commissions csv": await api.get(
            "/admin/v1/exports/commissions.csv", token=finance, params={"program_id": program.id}
        ),
        "withdrawals csv": await api.get(
            "/admin/v1/exports/withdrawals.csv", token=finance, params={"program_id": program.id}
        ),
    }

    assert {name: r.status for name, r in {**answers, **exports}.items() if r.status != 200} == {}
    found = {name: _decimals_in(r.json) for name, r in answers.items()}
    found |= {name: _csv_decimals(r.text) for name, r in exports.items()}
    offending = {name: hits for name, hits in found.items() if hits}
    assert offending == {}, "\n".join(f"{k}: {v}" for k, v in offending.items())
    assert answers["mp wallet"].json["available"] == "75"  # 150 earned + 25 bonus − 100 paid
