from __future__ import annotations

from decimal import Decimal

import pytest

from server.auth import Principal
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.models import Adjustment, AdjustmentBatch, AuditLog, LedgerEntry, PromoterBalance
from server.services.ledger.adjustments import (
    create_adjustment,
    list_adjustments,
    upload_adjustments,
)
from tests.ledger_checks import assert_ledger_reconciles
from tests.service.promoters.test_hierarchy import new_program, new_promoter

D = Decimal
FINANCE = Principal(kind="staff", id=7, roles=frozenset({"finance"}))


async def _adjust(program_id: int, promoter_id: int, amount: str, key: str, **kw: str):
    return await create_adjustment(
        program_id=program_id,
        promoter_id=promoter_id,
        amount=amount,
        currency=kw.get("currency", "CNY"),
        reason_code=kw.get("reason_code", "correction"),
        memo=kw.get("memo"),
        idempotency_key=key,
        actor=FINANCE,
    )


async def _available(promoter_id: int) -> Decimal:
    row = await PromoterBalance.get_or_none(promoter_id=promoter_id)
    return row.available if row else D("0")


async def test_an_adjustment_moves_the_available_balance_through_the_ledger_and_is_audited(
    db: str,
) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    made = await _adjust(program.id, promoter.id, "25.00", "k1", reason_code="bonus")
    await _adjust(program.id, promoter.id, "-40.00", "k2", reason_code="penalty")

    assert await _available(promoter.id) == D("-15.00")
    entries = await LedgerEntry.filter(promoter_id=promoter.id).order_by("id")
    assert [(e.kind, e.amount) for e in entries] == [
        ("adjustment", D("25.00")),
        ("adjustment", D("-40.00")),
    ]
    assert entries[0].reference == made["ledger_reference"] == f"adjustment:{made['id']}"
    audit = await AuditLog.filter(action="adjustment.create").order_by("id")
    assert (audit[0].actor_id, audit[0].target_id) == (FINANCE.id, made["id"])
    await assert_ledger_reconciles()


async def test_a_retried_adjustment_with_the_same_key_is_applied_once(db: str) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    first = await _adjust(program.id, promoter.id, "10", "same")
    again = await _adjust(program.id, promoter.id, "10", "same")
    assert again["id"] == first["id"] and again["replayed"] is True
    assert await _available(promoter.id) == D("10.00")
    with pytest.raises(Conflict) as reused:
        await _adjust(program.id, promoter.id, "11", "same")
    assert reused.value.code == "idempotency_key_reused"


async def test_an_adjustment_in_another_currency_is_refused_and_writes_nothing(db: str) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    with pytest.raises(ValidationFailed) as refused:
        await _adjust(program.id, promoter.id, "10", "k", currency="USD")
    assert refused.value.code == "currency_mismatch"
    assert await Adjustment.all().count() == 0
    assert await LedgerEntry.all().count() == 0


async def test_an_adjustment_for_a_promoter_of_another_program_is_refused(db: str) -> None:
    program, other = await new_program("A"), await new_program("B")
    stranger = await new_promoter(other)
    with pytest.raises(NotFound):
        await _adjust(program.id, stranger.id, "10", "k")
    assert await Adjustment.all().count() == 0


async def test_a_valid_upload_applies_every_row_in_one_batch(db: str) -> None:
    program = await new_program()
    first, second = await new_promoter(program), await new_promoter(program)
    csv = (
        "promoter_id,amount,currency,reason_code,memo\n"
        f"{first.id},10.00,CNY,bonus,\n"
        f"{second.id},-4.50,CNY,chargeback,order 88\n"
        f"{first.id},1.00,CNY,other,prize\n"
    ).encode()
    batch = await upload_adjustments(
        program_id=program.id, filename="may.csv", content=csv, actor=FINANCE
    )
    assert (batch["row_count"], batch["total_amount"]) == (3, D("6.50"))
    assert await _available(first.id) == D("11.00")
    assert await _available(second.id) == D("-4.50")
    page = await list_adjustments(program_id=program.id, batch_id=batch["id"])
    assert len(page["items"]) == 3
    assert await AuditLog.filter(action="adjustment_batch.apply").count() == 1
    await assert_ledger_reconciles()


async def test_an_upload_with_one_bad_row_writes_nothing_and_reports_every_problem(
    db: str,
) -> None:
    program, other = await new_program("A"), await new_program("B")
    mine, stranger = await new_promoter(program), await new_promoter(other)
    csv = (
        "promoter_id,amount,currency,reason_code\n"
        f"{mine.id},10.00,CNY,bonus\n"
        f"{stranger.id},5.00,CNY,bonus\n"
        f"{mine.id},5.00,USD,bonus\n"
    ).encode()
    with pytest.raises(ValidationFailed) as refused:
        await upload_adjustments(
            program_id=program.id, filename="x.csv", content=csv, actor=FINANCE
        )
    assert refused.value.code == "adjustment_upload_invalid"
    assert [(e["row"], e["field"], e["code"]) for e in refused.value.fields["errors"]] == [
        (3, "promoter_id", "promoter_not_in_program"),
        (4, "currency", "currency_mismatch"),
    ]
    assert await AdjustmentBatch.all().count() == 0
    assert await Adjustment.all().count() == 0
    assert await LedgerEntry.all().count() == 0


async def test_the_same_file_cannot_be_applied_twice(db: str) -> None:
    program = await new_program()
    promoter = await new_promoter(program)
    csv = f"promoter_id,amount,currency,reason_code\n{promoter.id},3,CNY,bonus\n".encode()
    await upload_adjustments(program_id=program.id, filename="a.csv", content=csv, actor=FINANCE)
    with pytest.raises(Conflict) as repeated:
        await upload_adjustments(
            program_id=program.id, filename="b.csv", content=csv, actor=FINANCE
        )
    assert repeated.value.code == "adjustment_upload_repeated"
    assert await _available(promoter.id) == D("3.00")


async def test_a_file_that_is_not_utf8_is_refused(db: str) -> None:
    program = await new_program()
    with pytest.raises(ValidationFailed) as refused:
        await upload_adjustments(
            program_id=program.id,
            filename="gbk.csv",
            content="promoter_id,金额\n".encode("gbk"),
            actor=FINANCE,
        )
    assert refused.value.code == "upload_not_utf8"
