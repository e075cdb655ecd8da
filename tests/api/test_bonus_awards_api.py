"""A program's milestone bonus awards over HTTP: who got which bonus, when, how much and the
ledger entry, newest first with keyset pages and filters, and as a CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from server.services.tiers.bonuses import pay_milestone_bonuses
from tests.api.conftest import Api
from tests.order_builders import T0, promoter, shop
from tests.service.tiers.builders import incentive, sale

WINDOW = {"starts_at": T0 - timedelta(days=1), "ends_at": T0 + timedelta(days=1)}


async def _two_awards() -> tuple[object, object, object, object]:
    program = await shop()
    bonus = await incentive(
        program, "milestone_bonus", name="冲刺", target_net_sales="100.00", amount="8.00",
        **WINDOW,
    )  # fmt: skip
    first, second = await promoter(program), await promoter(program)
    await sale(program, first, "150.00")
    await sale(program, second, "120.00")
    assert (await pay_milestone_bonuses(now=T0 + timedelta(hours=1)))["awarded"] == 2
    return program, bonus, first, second


async def test_the_program_award_list_names_promoter_bonus_amount_and_ledger_entry(
    api: Api,
) -> None:
    program, bonus, first, second = await _two_awards()
    other = await shop()
    finance = await api.staff_token("finance")
    path = f"/admin/v1/programs/{program.id}/bonus-awards"

    page = await api.get(path, token=finance, params={"limit": 1})
    assert page.status == 200, page.text
    (newest,) = page.json["items"]
    assert newest["promoter_id"] == second.id  # paid second: best sales first
    assert (newest["bonus_id"], newest["bonus_name"], newest["amount"]) == (
        bonus.id,
        "冲刺",
        "8.00",
    )
    assert newest["ledger_reference"] == f"bonus:{bonus.id}:{second.id}"
    rest = await api.get(
        path, token=finance, params={"cursor": page.json["next_cursor"], "limit": 1}
    )
    assert [i["promoter_id"] for i in rest.json["items"]] == [first.id]

    one = await api.get(path, token=finance, params={"promoter_id": first.id})
    assert [i["promoter_id"] for i in one.json["items"]] == [first.id]
    empty = await api.get(f"/admin/v1/programs/{other.id}/bonus-awards", token=finance)
    assert empty.json == {"items": [], "next_cursor": None}

    exported = await api.get(
        "/admin/v1/exports/bonus-awards.csv", token=finance, params={"program_id": program.id}
    )
    assert exported.status == 200
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert {(int(r["promoter_id"]), r["amount"], r["bonus_name"]) for r in rows} == {
        (first.id, "8.00", "冲刺"),
        (second.id, "8.00", "冲刺"),
    }


async def test_a_promoter_token_cannot_read_the_award_list(api: Api) -> None:
    program = await shop()
    refused = await api.get(f"/admin/v1/programs/{program.id}/bonus-awards")
    assert refused.status == 401
