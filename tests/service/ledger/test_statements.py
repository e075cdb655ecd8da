from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.errors import ValidationFailed
from server.models import AuditLog, Commission, PromoterBalance
from server.services.commissions.settlement import settle_due_commissions
from server.services.ledger.adjustments import create_adjustment
from server.services.ledger.postings import clawback_commission
from server.services.ledger.statements import (
    LINE_HEADER,
    program_statements_export,
    promoter_statement,
    set_promoter_tax_profile,
    statement_csv,
)
from tests.ledger_checks import assert_ledger_reconciles, make_commission
from tests.raw_rows import stored_value
from tests.service.promoters.test_hierarchy import new_program, new_promoter

D = Decimal
FINANCE = Principal(kind="staff", id=3, roles=frozenset({"finance"}))


def _this_month() -> str:
    return clock.now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


async def _adjust(program_id: int, promoter_id: int, amount: str, key: str) -> None:
    await create_adjustment(
        program_id=program_id,
        promoter_id=promoter_id,
        amount=amount,
        currency="CNY",
        reason_code="correction",
        memo=None,
        idempotency_key=key,
        actor=FINANCE,
    )


async def _earn_refund_and_adjust():
    program = await new_program()
    promoter = await new_promoter(program)
    await make_commission(program, promoter, amount="30.00")
    refunded = await make_commission(program, promoter, amount="20.00")
    await settle_due_commissions(now=clock.now())
    async with in_transaction() as conn:
        commission = await Commission.get(id=refunded.id).using_db(conn)
        await clawback_commission(
            conn=conn,
            commission=commission,
            new_amount=D("5.00"),
            reason="refund",
            reference=f"commission:{refunded.id}:refund:1",
        )
    await _adjust(program.id, promoter.id, "-3.00", "a1")
    return program, promoter


async def test_a_statement_after_settle_clawback_and_adjustment_reconciles_with_the_ledger(
    db: str,
) -> None:
    _, promoter = await _earn_refund_and_adjust()
    statement = await promoter_statement(
        promoter_id=promoter.id, period=_this_month(), reader=FINANCE
    )
    assert (statement["gross"], statement["reversals"], statement["adjustments"]) == (
        D("50.00"),
        D("15.00"),
        D("-3.00"),
    )
    assert statement["net"] == D("32.00")
    assert statement["opening"]["owed"] == D("0.00")
    cached = await PromoterBalance.get(promoter_id=promoter.id)
    assert statement["closing"]["available"] == cached.available == D("32.00")
    assert statement["reconciles"] is True
    await assert_ledger_reconciles()


async def test_next_months_statement_opens_where_the_last_one_closed(db: str) -> None:
    program, promoter = await _earn_refund_and_adjust()
    clock.advance(timedelta(days=40))
    await _adjust(program.id, promoter.id, "10.00", "a2")
    statement = await promoter_statement(
        promoter_id=promoter.id, period=_this_month(), reader=FINANCE
    )
    assert statement["opening"]["owed"] == D("32.00")
    assert (statement["gross"], statement["adjustments"], statement["net"]) == (
        D("0.00"),
        D("10.00"),
        D("10.00"),
    )
    assert statement["closing"]["owed"] == D("42.00")


async def test_a_statement_csv_lists_the_figures_and_every_entry_of_the_month(db: str) -> None:
    _, promoter = await _earn_refund_and_adjust()
    statement = await promoter_statement(promoter_id=promoter.id, period=_this_month())
    export = statement_csv(statement)
    rows = [list(row) async for row in export.rows]
    summary = {row[0]: row[1] for row in rows if len(row) == 2}
    assert summary["net"] == D("32.00")
    assert summary["currency"] == "CNY"
    lines = rows[rows.index(list(LINE_HEADER)) + 1 :]
    assert [(line[2], line[4]) for line in lines] == [
        ("settle", "30.00"),
        ("settle", "20.00"),
        ("clawback", "-15.00"),
        ("adjustment", "-3.00"),
    ]


async def test_the_program_export_has_one_row_per_promoter_with_the_tax_id_masked_or_not(
    db: str,
) -> None:
    program, promoter = await _earn_refund_and_adjust()
    other = await new_promoter(program)
    await _adjust(program.id, other.id, "7.00", "b1")
    await set_promoter_tax_profile(
        promoter_id=promoter.id, legal_name="张三", tax_id="110101199001011234", actor=FINANCE
    )
    masked = await program_statements_export(program_id=program.id, period=_this_month())
    rows = [list(row) async for row in masked.rows]
    header = list(masked.header)
    by_promoter = {
        row[header.index("promoter_id")]: dict(zip(header, row, strict=True)) for row in rows
    }
    assert by_promoter[promoter.id]["legal_name"] == "张三"
    assert by_promoter[promoter.id]["tax_id"] == "11**************34"
    assert by_promoter[promoter.id]["net"] == D("32.00")
    assert by_promoter[other.id]["net"] == D("7.00")
    revealed = await program_statements_export(
        program_id=program.id, period=_this_month(), reader=FINANCE
    )
    tax_ids = {row[3]: row[5] async for row in revealed.rows}
    assert tax_ids[promoter.id] == "110101199001011234"
    assert await AuditLog.filter(action="promoter.tax_profile").count() == 1
    revealed_by = await AuditLog.filter(action="promoter.tax_id_revealed").values_list(
        "actor_id", "target_kind", "target_id"
    )
    assert revealed_by == [(FINANCE.id, "program", program.id)]


async def test_a_tax_id_is_stored_encrypted_and_every_plain_read_is_audited(db: str) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    await set_promoter_tax_profile(
        promoter_id=promoter.id, legal_name="Li", tax_id="110101199001011234", actor=FINANCE
    )
    stored = await stored_value("promoters", "tax_id", promoter.id)
    assert "1101011990" not in stored and "1234" not in stored
    masked = await promoter_statement(promoter_id=promoter.id, period=_this_month())
    assert masked["tax_id"] == "11**************34"
    assert not await AuditLog.filter(action="promoter.tax_id_revealed").exists()
    plain = await promoter_statement(promoter_id=promoter.id, period=_this_month(), reader=FINANCE)
    assert plain["tax_id"] == "110101199001011234"
    entry = await AuditLog.get(action="promoter.tax_id_revealed")
    assert (entry.actor_id, entry.target_kind, entry.target_id) == (
        FINANCE.id,
        "promoter",
        promoter.id,
    )


async def test_a_malformed_tax_id_is_refused(db: str) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    with pytest.raises(ValidationFailed) as refused:
        await set_promoter_tax_profile(
            promoter_id=promoter.id, legal_name="X", tax_id="12 34 !", actor=FINANCE
        )
    assert refused.value.code == "invalid_tax_profile"
