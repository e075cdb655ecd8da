"""Tax withholding is a setting that works: staff set it, each withdrawal withholds it (rounded
down once, explained), statements show it and the ledger stays balanced."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from server import clock
from server.config import Settings
from server.models import Program
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.ledger_checks import assert_ledger_reconciles
from tests.withdrawal_builders import funded_promoter

SHOP = {"name": "Taxed shop", "currency": "CNY", "max_levels": 2, "level_rates": ["10", "5"]}


async def _program(api: Api, admin: str) -> int:
    created = await api.post("/admin/v1/programs", token=admin, json=SHOP)
    assert created.status == 201, created.text
    return created.json["id"]


async def test_a_withdrawal_withholds_the_programs_tax_and_the_statement_shows_it(
    api: Api, settings: Settings
) -> None:
    admin = await api.staff_token("admin")
    program_id = await _program(api, admin)
    changed = await api.patch(
        f"/admin/v1/programs/{program_id}",
        token=admin,
        json={
            "withdrawal_rules": {
                "tax_withholding_percent": "20",
                "fee_percent": "1.5",
                "methods": ["offline"],
            }
        },
    )
    assert changed.status == 200, changed.text
    assert changed.json["withdrawal_rules"]["tax_withholding_percent"] == "20"

    me = await funded_promoter(await Program.get(id=program_id), "100.00")
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    asked = await api.post(
        f"/mp/v1/programs/{program_id}/withdrawals",
        token=token,
        json={"amount": "33.33", "method": "offline", "idempotency_key": "tax-0001"},
    )
    assert asked.status == 201, asked.text
    # 20% of 33.33 is 6.666, withheld as 6.66; 1.5% fee is 0.49995, charged as 0.49.
    assert (asked.json["fee"], asked.json["tax"], asked.json["net"]) == ("0.49", "6.66", "26.18")
    explained = asked.json["deductions"]
    assert explained["tax"] == {"withholding_percent": "20", "exact": "6.666", "amount": "6.66"}
    assert explained["rounding"] == "each rounded down once to 2 decimals"

    finance = await api.staff_token("finance")
    withdrawal = f"/admin/v1/withdrawals/{asked.json['id']}"
    await api.post(f"{withdrawal}/approve", token=finance)
    paid = await api.post(f"{withdrawal}/mark-paid", token=finance, json={"reference": "T-1"})
    assert paid.json["status"] == "paid", paid.text

    month = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    statement = await api.get(
        f"/mp/v1/programs/{program_id}/statement", token=token, params={"period": month}
    )
    body = statement.json
    assert (body["gross"], body["fees"], body["tax_withheld"], body["paid_out"]) == (
        "100.00", "0.49", "6.66", "26.18",
    )  # fmt: skip
    assert (body["closing"]["owed"], body["reconciles"]) == ("66.67", True)
    await assert_ledger_reconciles()


async def test_a_tax_rate_outside_0_to_100_or_not_a_number_is_refused(api: Api) -> None:
    admin = await api.staff_token("admin")
    program_id = await _program(api, admin)
    path = f"/admin/v1/programs/{program_id}"

    answers = [
        await api.patch(path, token=admin, json={"withdrawal_rules": {key: value}})
        for key, value in (("tax_withholding_percent", v) for v in ("100", "-1", "abc", "2.12345"))
    ]

    assert [a.status for a in answers] == [422, 422, 422, 422]
    assert all(
        "withdrawal_rules.tax_withholding_percent" in a.json["error"]["fields"] for a in answers
    )
    kept = await api.get(path, token=admin)
    assert kept.json["withdrawal_rules"]["tax_withholding_percent"] == "0"
