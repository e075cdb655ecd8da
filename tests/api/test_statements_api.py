from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from server import clock
from server.config import Settings
from server.models import AuditLog
from server.services.commissions.settlement import settle_due_commissions
from tests.api.conftest import Api
from tests.api.test_team_api import promoter_token
from tests.ledger_checks import make_commission
from tests.service.promoters.test_hierarchy import new_program, new_promoter

TAX_ID = "110101199001011234"


def _month() -> str:
    return clock.now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


async def _settled_promoter():
    program = await new_program()
    me, other = await new_promoter(program), await new_promoter(program)
    await make_commission(program, me, amount="30.00")
    await make_commission(program, other, amount="8.00")
    await settle_due_commissions(now=clock.now())
    return program, me, other


async def test_a_promoter_sets_a_tax_profile_and_reads_a_statement_with_it_masked(
    api: Api, settings: Settings
) -> None:
    program, me, _ = await _settled_promoter()
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    base = f"/mp/v1/programs/{program.id}"

    saved = await api.put(
        f"{base}/tax-profile", token=token, json={"legal_name": "张三", "tax_id": TAX_ID}
    )
    statement = await api.get(f"{base}/statement", token=token, params={"period": _month()})

    assert saved.status == 200, saved.text
    assert saved.json["tax_id"] == "11**************34"
    assert statement.status == 200, statement.text
    body = statement.json
    assert (body["promoter_id"], body["legal_name"], body["tax_id"]) == (
        me.id,
        "张三",
        "11**************34",
    )
    assert (body["gross"], body["net"], body["closing"]["owed"]) == ("30.00", "30.00", "30.00")
    assert body["reconciles"] is True


async def test_a_promoter_downloads_their_statement_as_csv(api: Api, settings: Settings) -> None:
    program, me, _ = await _settled_promoter()
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]

    response = await api.get(
        f"/mp/v1/programs/{program.id}/statement",
        token=token,
        params={"period": _month(), "format": "csv"},
    )

    assert response.status == 200
    assert response.content_type == "text/csv; charset=utf-8"
    text = response.body.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    summary = {row[0]: row[1] for row in rows if len(row) == 2}
    assert summary["gross"] == "30.00" and summary["promoter_id"] == str(me.id)


async def test_a_promoter_of_another_program_has_no_statement_there(
    api: Api, settings: Settings
) -> None:
    _, me, _ = await _settled_promoter()
    elsewhere = await new_program("Other")
    response = await api.get(
        f"/mp/v1/programs/{elsewhere.id}/statement",
        token=promoter_token(settings, me.user_id),  # type: ignore[attr-defined]
        params={"period": _month()},
    )
    assert response.status == 404


async def test_finance_reads_any_statement_with_the_tax_id_and_exports_the_program(
    api: Api,
) -> None:
    program, me, other = await _settled_promoter()
    finance = await api.staff_token("finance")
    await api.put(
        f"/admin/v1/promoters/{me.id}/tax-profile",
        token=finance,
        json={"legal_name": "Li Si", "tax_id": TAX_ID},
    )

    single = await api.get(
        f"/admin/v1/promoters/{me.id}/statement", token=finance, params={"period": _month()}
    )
    export = await api.get(
        f"/admin/v1/programs/{program.id}/statements.csv",
        token=finance,
        params={"period": _month()},
    )

    assert single.status == 200, single.text
    assert single.json["tax_id"] == TAX_ID
    assert export.status == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.body.decode("utf-8").removeprefix("\ufeff"))))
    by_promoter = {int(row["promoter_id"]): row for row in rows}
    assert by_promoter[me.id]["tax_id"] == TAX_ID
    assert (by_promoter[me.id]["net"], by_promoter[other.id]["net"]) == ("30.00", "8.00")
    reveals = await AuditLog.filter(action="promoter.tax_id_revealed").order_by("id")
    assert [(entry.actor_kind, entry.target_kind, entry.target_id) for entry in reveals] == [
        ("staff", "promoter", me.id),
        ("staff", "program", program.id),
    ]


async def test_staff_without_finance_cannot_read_statements(api: Api) -> None:
    _program, me, _ = await _settled_promoter()
    staff = await api.staff_token("staff")
    single = await api.get(
        f"/admin/v1/promoters/{me.id}/statement", token=staff, params={"period": _month()}
    )
    assert single.status == 403


async def test_a_malformed_period_is_a_coded_422(api: Api) -> None:
    _, me, _ = await _settled_promoter()
    finance = await api.staff_token("finance")
    response = await api.get(
        f"/admin/v1/promoters/{me.id}/statement", token=finance, params={"period": "2026/10"}
    )
    assert response.status == 422
    assert response.json["error"]["code"] == "invalid_period"
