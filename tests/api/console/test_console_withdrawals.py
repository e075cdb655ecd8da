"""Withdrawals in the console: finance approves and pays, sees a failed transfer's error;
staff see no money buttons and are refused if they post anyway."""

from __future__ import annotations

from typing import Any

from sanic import Sanic

from server.models import Withdrawal
from tests.api.console.client import signed_in
from tests.api.test_withdrawals_api import provider  # noqa: F401 (the fixture)
from tests.payment_fakes import FakeProvider
from tests.withdrawal_builders import funded_promoter, rules_program, withdraw


async def _requested_withdrawal() -> dict[str, Any]:
    """¥20.00 of a promoter's ¥30.00, asked for by WeChat transfer."""
    program = await rules_program()
    return await withdraw(await funded_promoter(program, "30.00"), "20.00")


async def test_finance_approve_and_pay_a_withdrawal_then_see_it_paid(
    app: Sanic,
    provider: FakeProvider,  # noqa: F811
) -> None:
    withdrawal = await _requested_withdrawal()
    console = await signed_in(app, "finance", username="payer")
    page = await console.get(f"/console/withdrawals/{withdrawal['id']}")
    assert "¥20.00" in page.text
    path = f"/console/withdrawals/{withdrawal['id']}"
    assert (await console.post(f"{path}/approve")).status_code == 303
    assert (await console.post(f"{path}/pay")).status_code == 303
    assert (await Withdrawal.get(id=withdrawal["id"])).status == "paid"
    await console.close()


async def test_finance_sees_why_a_transfer_failed(
    app: Sanic,
    provider: FakeProvider,  # noqa: F811
) -> None:
    provider.will("fail")
    withdrawal = await _requested_withdrawal()
    console = await signed_in(app, "finance", username="failed_payer")
    path = f"/console/withdrawals/{withdrawal['id']}"
    await console.get(path)
    await console.post(f"{path}/approve")
    await console.post(f"{path}/pay")
    page = await console.get(path)
    assert "打款失败" in page.text and "NAME_MISMATCH" in page.text
    assert f"{path}/retry" in page.text and f"{path}/release" in page.text
    await console.close()


async def test_staff_without_finance_see_no_pay_button_and_get_403(
    app: Sanic,
    provider: FakeProvider,  # noqa: F811
) -> None:
    withdrawal = await _requested_withdrawal()
    console = await signed_in(app, "staff", username="not_finance")
    path = f"/console/withdrawals/{withdrawal['id']}"
    page = await console.get(path)
    assert page.status_code == 200
    assert f"{path}/approve" not in page.text and f"{path}/pay" not in page.text
    response = await console.post(f"{path}/approve")
    assert response.status_code == 403
    assert (await Withdrawal.get(id=withdrawal["id"])).status == "requested"
    await console.close()


async def test_finance_download_the_lists_filtered_csv_and_staff_cannot(
    app: Sanic,
    provider: FakeProvider,  # noqa: F811
) -> None:
    withdrawal = await _requested_withdrawal()
    program_id = withdrawal["program_id"]
    finance = await signed_in(app, "finance", username="exporter")
    listing = await finance.get(f"/console/withdrawals?program_id={program_id}&status=requested")
    link = f"/console/exports/withdrawals.csv?program_id={program_id}&amp;status=requested"
    assert link in listing.text
    csv = await finance.get(link.replace("&amp;", "&"))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert str(withdrawal["id"]) in csv.text and "20.00" in csv.text
    assert csv.headers["x-frame-options"] == "DENY"
    staff = await signed_in(app, "staff", username="no_exports")
    assert (await staff.get(link.replace("&amp;", "&"))).status_code == 403
    await finance.close()
    await staff.close()


async def test_finance_pay_out_a_program_as_a_batch_and_see_its_lineage(
    app: Sanic,
    provider: FakeProvider,  # noqa: F811
) -> None:
    program = await rules_program()
    promoter = await funded_promoter(program, "30.00")
    finance = await signed_in(app, "finance", username="batcher")
    listing = await finance.get(f"/console/payouts?program_id={program.id}")
    assert 'id="new-batch"' in listing.text
    created = await finance.post("/console/payouts", {"program_id": program.id})
    assert created.status_code == 303
    batch_page = await finance.get(created.headers["location"])
    assert f"/console/promoters/{promoter.id}" in batch_page.text and "¥30.00" in batch_page.text
    path = created.headers["location"].split("?")[0]
    assert (await finance.post(f"{path}/pay")).status_code == 303
    assert {w.status for w in await Withdrawal.filter(promoter_id=promoter.id)} == {"paid"}
    csv = await finance.get(f"/console/exports/payout-batches.csv?program_id={program.id}")
    assert csv.status_code == 200 and "30.00" in csv.text
    await finance.close()
