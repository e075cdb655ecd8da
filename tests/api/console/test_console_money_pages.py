"""Applications, orders and commissions in the console: the same rules as the admin API."""

from __future__ import annotations

from datetime import timedelta

from sanic import Sanic

from server.models import Commission, Order, Program, Promoter
from tests.api.console.client import signed_in
from tests.order_builders import T0, bind, chain, customer, order_of, paid, promoter, send_ok, shop


async def test_staff_approve_ticked_applications_all_at_once(app: Sanic) -> None:
    program = await shop()
    first = await promoter(program, status="applied")
    second = await promoter(program, status="applied")
    console = await signed_in(app, "staff", username="queue_staff")
    queue = await console.get(f"/console/applications?program_id={program.id}")
    assert f'name="ids" value="{first.id}"' in queue.text
    response = await console.post(
        "/console/applications",
        {"action": "approve", "ids": [str(first.id), str(second.id)], "program_id": program.id},
    )
    assert response.status_code == 303
    assert "notice=done" in response.headers["location"]
    after = await console.get(response.headers["location"])
    assert after.status_code == 200 and "已保存" in after.text
    statuses = {p.status for p in await Promoter.filter(id__in=[first.id, second.id])}
    assert statuses == {"approved"}
    await console.close()


async def test_rejecting_without_a_reason_is_refused_and_changes_nothing(app: Sanic) -> None:
    program = await shop()
    applicant = await promoter(program, status="applied")
    console = await signed_in(app, "staff", username="noreason_staff")
    await console.get(f"/console/promoters/{applicant.id}")
    response = await console.post(
        f"/console/promoters/{applicant.id}/status/reject", {"reason": ""}
    )
    assert response.status_code == 422
    assert (await Promoter.get(id=applicant.id)).status == "applied"
    await console.close()


async def test_finance_sees_no_status_actions_and_is_refused_if_it_posts(app: Sanic) -> None:
    program = await shop()
    applicant = await promoter(program, status="applied")
    console = await signed_in(app, "finance", username="finance_viewer")
    detail = await console.get(f"/console/promoters/{applicant.id}")
    assert detail.status_code == 200
    assert f"/console/promoters/{applicant.id}/status/approve" not in detail.text
    assert 'href="/console/orders' in detail.text  # the menu finance has
    assert "/console/applications" not in detail.text  # and what it has not
    response = await console.post(f"/console/promoters/{applicant.id}/status/approve")
    assert response.status_code == 403
    assert (await Promoter.get(id=applicant.id)).status == "applied"
    await console.close()


async def _referred_order(program: Program, external_id: str) -> tuple[Order, Promoter]:
    """A ¥100 order by a customer bound to the nearer of two promoters: its top promoter."""
    top, near = await chain(program, 2)
    buyer = await customer()
    await bind(program, near, user=buyer)
    await send_ok(program, paid(external_id, buyer=buyer))
    return await order_of(program, external_id), top


async def test_an_order_page_explains_each_commission_in_yuan(app: Sanic) -> None:
    program = await shop()
    order, top = await _referred_order(program, "CONSOLE-1")
    console = await signed_in(app, "staff", username="order_staff")
    listing = await console.get(f"/console/orders?program_id={program.id}")
    assert "CONSOLE-1" in listing.text and "¥100.00" in listing.text
    page = await console.get(f"/console/orders/{order.id}")
    assert page.status_code == 200
    assert "10% × 100.00" in page.text and "¥10.00" in page.text  # level 1
    assert "5% × 100.00" in page.text and "¥5.00" in page.text  # level 2
    assert f"/console/promoters/{top.id}" in page.text
    completed = await console.post(f"/console/orders/{order.id}/complete", {"reason": "已签收"})
    assert completed.status_code == 303
    assert (await order_of(program, "CONSOLE-1")).status == "completed"
    await console.close()


async def test_staff_bulk_approve_pending_commissions_from_the_queue(app: Sanic) -> None:
    program = await shop()
    order, _ = await _referred_order(program, "CONSOLE-2")
    ids = [c.id for c in await Commission.filter(order_id=order.id)]
    console = await signed_in(app, "staff", username="review_staff")
    queue = await console.get(f"/console/commissions/review?program_id={program.id}")
    assert all(f'name="ids" value="{i}"' in queue.text for i in ids)
    # Still frozen (the order is not completed): refused all or none, each id named.
    response = await console.post(
        "/console/commissions/review",
        {"action": "approve", "ids": [str(i) for i in ids], "program_id": program.id},
    )
    assert response.status_code == 409
    assert all(str(i) in response.text for i in ids)
    assert {c.status for c in await Commission.filter(order_id=order.id)} == {"pending"}
    # Past its freeze (set here rather than by completing the order and waiting 7 days).
    await Commission.filter(id__in=ids).update(unlock_at=T0 - timedelta(days=1))
    response = await console.post(
        "/console/commissions/review",
        {"action": "approve", "ids": [str(i) for i in ids], "program_id": program.id},
    )
    assert response.status_code == 303
    assert {c.status for c in await Commission.filter(order_id=order.id)} == {"approved"}
    await console.close()


async def test_a_promoter_page_counts_the_team_by_level_and_staff_move_a_subtree(
    app: Sanic,
) -> None:
    program = await shop()
    top, middle, bottom = await chain(program, 3)
    other = await promoter(program)
    console = await signed_in(app, "staff", username="tree_staff")
    page = await console.get(f"/console/promoters/{top.id}")
    assert "层级 1: 1 · 层级 2: 1" in page.text
    moved = await console.post(
        f"/console/promoters/{middle.id}/move",
        {"new_parent_id": str(other.id), "reason": "换团队"},
    )
    assert moved.status_code == 303
    assert (await Promoter.get(id=middle.id)).parent_id == other.id
    assert (await Promoter.get(id=bottom.id)).parent_id == middle.id
    held = await console.post(f"/console/promoters/{other.id}/hold", {"reason": "核查"})
    assert held.status_code == 303
    assert "冻结中" in (await console.get(f"/console/promoters/{other.id}")).text
    await console.close()
