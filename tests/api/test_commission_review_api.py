from __future__ import annotations

from server.models import AuditLog, Commission, CommissionChange
from tests.api.conftest import Api
from tests.ledger_checks import make_commission
from tests.service.promoters.test_hierarchy import new_program, new_promoter

QUEUE = "/admin/v1/commissions/review-queue"
REVIEW = "/admin/v1/commissions/review"


async def test_the_queue_lists_a_programs_pending_commissions_newest_first_with_filters(
    api: Api,
) -> None:
    program, other_program = await new_program(), await new_program("other")
    me, you = await new_promoter(program), await new_promoter(program)
    unlocked = await make_commission(program, me, status="pending")
    frozen = await make_commission(program, you, status="pending", unlocked_days_ago=-5, level=2)
    await make_commission(program, me, status="approved")
    await make_commission(other_program, await new_promoter(other_program), status="pending")
    token = await api.staff_token("staff")

    everything = await api.get(QUEUE, token=token, params={"program_id": program.id})
    assert everything.status == 200, everything.text
    assert [c["id"] for c in everything.json["items"]] == [frozen.id, unlocked.id]
    assert [c["unlocked"] for c in everything.json["items"]] == [False, True]
    assert everything.json["items"][1]["amount"] == "10.00"

    async def ids(**params: object) -> list[int]:
        page = await api.get(QUEUE, token=token, params={"program_id": program.id, **params})
        assert page.status == 200, page.text
        return [c["id"] for c in page.json["items"]]

    assert await ids(unlocked="true") == [unlocked.id]
    assert await ids(unlocked="false") == [frozen.id]
    assert await ids(promoter_id=you.id) == [frozen.id]
    assert await ids(level=2) == [frozen.id]
    assert await ids(order_id=unlocked.order_id) == [unlocked.id]  # type: ignore[attr-defined]
    assert await ids(limit=1, cursor=frozen.id) == [unlocked.id]
    assert len(await ids(status="approved")) == 1


async def test_staff_approve_unlocked_commissions_with_history_and_audit(api: Api) -> None:
    program = await new_program()
    me = await new_promoter(program)
    first = await make_commission(program, me, status="pending")
    second = await make_commission(program, me, status="pending")
    token = await api.staff_token("staff")

    response = await api.post(
        REVIEW, token=token, json={"ids": [first.id, second.id], "action": "approve"}
    )

    assert response.status == 200, response.text
    assert [c["status"] for c in response.json["items"]] == ["approved", "approved"]
    assert await Commission.filter(status="approved").count() == 2
    changes = await CommissionChange.filter(commission_id=first.id)
    assert [(c.action, c.from_status, c.to_status, c.actor_kind) for c in changes] == [
        ("approve", "pending", "approved", "staff")
    ]
    audits = await AuditLog.filter(action="commission.approve").order_by("target_id")
    assert [a.target_id for a in audits] == [first.id, second.id]


async def test_one_refused_commission_leaves_the_whole_review_undone_and_names_each_id(
    api: Api,
) -> None:
    program = await new_program()
    me = await new_promoter(program)
    fine = await make_commission(program, me, status="pending")
    frozen = await make_commission(program, me, status="pending", unlocked_days_ago=-2)
    held = await make_commission(program, me, status="pending", hold_reason="anomaly:3")
    settled = await make_commission(program, me, status="settled")
    token = await api.staff_token("staff")

    response = await api.post(
        REVIEW,
        token=token,
        json={"ids": [fine.id, frozen.id, held.id, settled.id], "action": "approve"},
    )

    assert response.status == 409, response.text
    assert response.json["error"]["code"] == "commission_review_refused"
    assert response.json["error"]["fields"] == {
        str(frozen.id): "commission_locked",
        str(held.id): "commission_held",
        str(settled.id): "commission_illegal_transition",
    }
    assert (await Commission.get(id=fine.id)).status == "pending"
    assert await CommissionChange.all().count() == 0
    assert await AuditLog.filter(action="commission.approve").count() == 0


async def test_approving_inside_the_freeze_window_is_refused(api: Api) -> None:
    program = await new_program()
    frozen = await make_commission(
        program, await new_promoter(program), status="pending", unlocked_days_ago=-1
    )
    response = await api.post(
        REVIEW, token=await api.staff_token("staff"), json={"ids": [frozen.id], "action": "approve"}
    )
    assert (response.status, response.json["error"]["code"]) == (409, "commission_locked")


async def test_rejecting_needs_a_reason_and_works_on_pending_and_approved(api: Api) -> None:
    program = await new_program()
    me = await new_promoter(program)
    pending = await make_commission(program, me, status="pending", unlocked_days_ago=-3)
    approved = await make_commission(program, me, status="approved")
    token = await api.staff_token("staff")
    body = {"ids": [pending.id, approved.id], "action": "reject"}

    no_reason = await api.post(REVIEW, token=token, json=body)
    assert (no_reason.status, no_reason.json["error"]["code"]) == (422, "reason_required")

    response = await api.post(REVIEW, token=token, json={**body, "reason": "fake order"})
    assert response.status == 200, response.text
    for commission in (pending, approved):
        stored = await Commission.get(id=commission.id)
        assert (stored.status, stored.reject_reason) == ("rejected", "fake order")
    again = await api.post(REVIEW, token=token, json={**body, "reason": "again"})
    assert (again.status, again.json["error"]["code"]) == (409, "commission_illegal_transition")


async def test_unknown_commissions_are_named_and_nothing_changes(api: Api) -> None:
    program = await new_program()
    real = await make_commission(program, await new_promoter(program), status="pending")
    response = await api.post(
        REVIEW,
        token=await api.staff_token("staff"),
        json={"ids": [real.id, 999999], "action": "approve"},
    )
    assert response.status == 404
    assert response.json["error"]["fields"] == {"999999": "commission_not_found"}
    assert (await Commission.get(id=real.id)).status == "pending"


async def test_finance_cannot_review_commissions(api: Api) -> None:
    token = await api.staff_token("finance")
    assert (await api.get(QUEUE, token=token, params={"program_id": 1})).status == 403
    review = await api.post(REVIEW, token=token, json={"ids": [1], "action": "approve"})
    assert review.status == 403
