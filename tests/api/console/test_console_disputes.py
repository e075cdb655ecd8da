"""Disputes in the console: the thread, a staff reply, and finance accepting with money."""

from __future__ import annotations

from decimal import Decimal

from sanic import Sanic

from server.models import Dispute
from server.services.payouts.disputes import open_dispute
from tests.api.console.client import signed_in
from tests.withdrawal_builders import balances, funded_promoter, rules_program


async def _dispute(text: str) -> tuple[dict, object]:
    program = await rules_program()
    promoter = await funded_promoter(program, "1.00")
    dispute = await open_dispute(
        user_id=promoter.user_id,  # type: ignore[attr-defined]
        program_id=program.id,
        commission_id=None,
        external_order_id="MISSING-1",
        text=text,
    )
    return dispute, promoter


async def test_staff_reply_in_the_thread_and_finance_accept_with_an_adjustment(
    app: Sanic,
) -> None:
    dispute, promoter = await _dispute("我的订单 <b>没有</b> 佣金")
    staff = await signed_in(app, "staff", username="dispute_staff")
    page = await staff.get(f"/console/disputes/{dispute['id']}")
    assert "&lt;b&gt;没有&lt;/b&gt;" in page.text
    assert f"/console/disputes/{dispute['id']}/accept" not in page.text  # finance only
    sent = await staff.post(f"/console/disputes/{dispute['id']}/messages", {"text": "正在核实"})
    assert sent.status_code == 303
    assert "正在核实" in (await staff.get(f"/console/disputes/{dispute['id']}")).text
    finance = await signed_in(app, "finance", username="dispute_finance")
    await finance.get(f"/console/disputes/{dispute['id']}")
    accepted = await finance.post(
        f"/console/disputes/{dispute['id']}/accept", {"amount": "8.00", "reason": "补发"}
    )
    assert accepted.status_code == 303
    assert (await Dispute.get(id=dispute["id"])).status == "resolved_accepted"
    assert (await balances(promoter))[0] == Decimal("9.00")
    await staff.close()
    await finance.close()
