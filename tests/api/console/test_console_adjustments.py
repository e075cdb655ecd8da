"""Adjustments in the console: one credit, and a CSV upload refused with every row's error."""

from __future__ import annotations

from decimal import Decimal

from sanic import Sanic

from server import clock
from server.domain.periods import zone
from server.models import Adjustment
from tests.api.console.client import signed_in
from tests.withdrawal_builders import balances, funded_promoter, rules_program


async def test_finance_credit_a_promoter_once_even_if_the_form_is_sent_twice(app: Sanic) -> None:
    program = await rules_program()
    promoter = await funded_promoter(program, "1.00")
    console = await signed_in(app, "finance", username="adjuster")
    await console.get(f"/console/adjustments?program_id={program.id}")
    form = {"promoter_id": str(promoter.id), "amount": "12.50", "reason_code": "bonus"}
    page = await console.get(f"/console/adjustments?program_id={program.id}")
    key = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
    for _ in range(2):
        sent = await console.post(
            f"/console/adjustments?program_id={program.id}", {**form, "idempotency_key": key}
        )
        assert sent.status_code == 303
    assert (await balances(promoter))[0] == Decimal("13.50")
    await console.close()


async def test_a_bad_csv_is_refused_whole_with_each_rows_problem(app: Sanic) -> None:
    program = await rules_program()
    promoter = await funded_promoter(program, "1.00")
    console = await signed_in(app, "finance", username="uploader")
    await console.get(f"/console/adjustments?program_id={program.id}")
    csv = (
        "promoter_id,amount,currency,reason_code,memo\n"
        f"{promoter.id},5.00,CNY,bonus,ok\n"
        f"{promoter.id},abc,CNY,bonus,bad amount\n"
        f"{promoter.id},1.00,USD,nonsense,two problems\n"
    )
    response = await console.http.post(
        f"/console/adjustments/upload?program_id={program.id}",
        data={"csrf_token": console.csrf},
        files={"file": ("bonus.csv", csv.encode(), "text/csv")},
    )
    assert response.status_code == 422
    assert 'id="row-errors"' in response.text
    assert "<td>3</td>" in response.text and "<td>4</td>" in response.text
    assert not await Adjustment.exists(program_id=program.id)
    fixed = csv.splitlines()[:2]
    applied = await console.http.post(
        f"/console/adjustments/upload?program_id={program.id}",
        data={"csrf_token": console.csrf},
        files={"file": ("bonus.csv", "\n".join(fixed).encode(), "text/csv")},
    )
    assert applied.status_code == 200 and 'id="applied"' in applied.text
    await console.close()


async def test_staff_cannot_adjust(app: Sanic) -> None:
    program = await rules_program()
    promoter = await funded_promoter(program, "1.00")
    console = await signed_in(app, "staff", username="not_adjuster")
    page = await console.get(f"/console/adjustments?program_id={program.id}")
    assert page.status_code == 200 and 'id="new-adjustment"' not in page.text
    refused = await console.post(
        f"/console/adjustments?program_id={program.id}",
        {"promoter_id": str(promoter.id), "amount": "9.00", "reason_code": "bonus"},
    )
    assert refused.status_code == 403
    await console.close()


async def test_finance_read_a_monthly_statement_and_download_it(app: Sanic) -> None:
    program = await rules_program()
    promoter = await funded_promoter(program, "7.00")
    console = await signed_in(app, "finance", username="statement_reader")
    month = clock.now().astimezone(zone(program.time_zone)).strftime("%Y-%m")
    page = await console.get(
        f"/console/statements?program_id={program.id}&promoter_id={promoter.id}&period={month}"
    )
    assert page.status_code == 200 and 'id="statement"' in page.text and "¥7.00" in page.text
    csv = await console.get(f"/console/statements/{promoter.id}/csv?period={month}")
    assert csv.status_code == 200 and "7.00" in csv.text
    whole = await console.get(f"/console/statements.csv?program_id={program.id}&period={month}")
    assert whole.status_code == 200 and str(promoter.id) in whole.text
    saved = await console.post(
        f"/console/statements/{promoter.id}/tax-profile?period={month}",
        {"legal_name": "张三", "tax_id": "110101199001011234"},
    )
    assert saved.status_code == 303
    again = await console.get(saved.headers["location"] + f"&program_id={program.id}")
    assert "张三" in again.text and "110101199001011234" in again.text
    await console.close()


async def test_a_refused_adjustment_says_why_and_moves_no_money(app: Sanic) -> None:
    program = await rules_program()
    promoter = await funded_promoter(program, "1.00")
    console = await signed_in(app, "finance", username="typo_adjuster")
    await console.get(f"/console/adjustments?program_id={program.id}")
    refused = await console.post(
        f"/console/adjustments?program_id={program.id}",
        {"promoter_id": str(promoter.id), "amount": "1.234", "reason_code": "bonus"},
    )
    assert refused.status_code == 422 and 'id="adjustment-error"' in refused.text
    assert (await balances(promoter))[0] == Decimal("1.00")
    await console.close()
